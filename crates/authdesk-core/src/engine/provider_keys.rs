//! At sign-in, the provider's signing keys: its JWKS, from the definition's `jwks_url` or
//! the `jwks_uri` of the issuer's metadata (OpenID Connect discovery, then RFC 8414), read
//! through the strict client (no redirect followed, capped), checked to be a JWK set
//! holding no private key, and kept for the account connector (`service/provider_keys.rs`)
//! so the inspector can verify its tokens offline (`jwt_verify`).
//!
//! Must not: fail a sign-in (keys that cannot be fetched are noted in the history, and the
//! inspector then says the signature was not checked), or keep a private key.

use super::http::{read_capped, Follow, HttpFailure};
use super::*;

/// Largest JWKS read.
const MAX_JWKS: usize = 256 * 1024;

impl Engine {
    /// Fetches and keeps the provider's keys for an OAuth 2 account connector that has
    /// somewhere to find them; notes in the history why they could not be.
    pub(super) async fn keep_provider_keys(&self, id: i64) {
        let Ok(ctx) = self.context(id).await else {
            return;
        };
        if ctx.oauth2().is_err() {
            return;
        }
        let issuer = ctx.issuer().ok().flatten();
        let url = match ctx.jwks_url() {
            Ok(Some(url)) => Some(url),
            Ok(None) => match &issuer {
                Some(issuer) => self.jwks_uri_of(issuer).await,
                None => None,
            },
            Err(_) => None,
        };
        let Some(url) = url else {
            return; // Nowhere to look: the inspector says the signature is not checked.
        };
        match self.fetch_jwks(&ctx, &url).await {
            Ok(text) => {
                let _ = self
                    .db(move |desk| desk.keep_provider_keys(id, &url, issuer.as_deref(), &text))
                    .await;
            }
            Err(why) => {
                tracing::warn!(account_connector = id, "the provider's keys: {why}");
                let _ = self
                    .db(move |desk| {
                        desk.note_event(id, "keys_not_fetched", Some(&why), None);
                        Ok(())
                    })
                    .await;
            }
        }
    }

    /// `jwks_uri` from the issuer's metadata, if it says one.
    async fn jwks_uri_of(&self, issuer: &str) -> Option<String> {
        let trimmed = issuer.trim_end_matches('/');
        for url in [
            format!("{trimmed}/.well-known/openid-configuration"),
            format!("{trimmed}/.well-known/oauth-authorization-server"),
        ] {
            if let Ok(m) = self.fetch_metadata_value(&url).await {
                if let Some(uri) = m.get("jwks_uri").and_then(|v| v.as_str()) {
                    return Some(uri.to_string());
                }
            }
        }
        None
    }

    async fn fetch_jwks(&self, ctx: &Context, url: &str) -> std::result::Result<String, String> {
        let client = ctx.client(self, url, Follow::Never);
        let response = client
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| {
                format!(
                    "{url} could not be read ({})",
                    HttpFailure::from_reqwest(&e)
                )
            })?;
        if !response.status().is_success() {
            return Err(format!(
                "{url} answered HTTP {}",
                response.status().as_u16()
            ));
        }
        let bytes = read_capped(response, MAX_JWKS)
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        let text = String::from_utf8(bytes).map_err(|_| format!("{url} is not UTF-8 text"))?;
        let set: serde_json::Value = serde_json::from_str(&text)
            .map_err(|_| format!("{url} is not a JWK set (not JSON)"))?;
        let keys = set
            .get("keys")
            .and_then(|k| k.as_array())
            .ok_or_else(|| format!("{url} is not a JWK set (no \"keys\")"))?;
        // Public keys only: a set that carries a private member is not kept.
        let private = ["d", "p", "q", "dp", "dq", "qi", "k"];
        if keys
            .iter()
            .any(|k| private.iter().any(|m| k.get(m).is_some()))
        {
            return Err(format!("{url} holds private key material; it was not kept"));
        }
        crate::jwt_verify::KeptKeys::parse(&text, self.desk.now())?;
        Ok(text)
    }
}
