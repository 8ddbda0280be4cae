//! DPoP (RFC 9449): tokens bound to a key of the account connector. Every token request
//! and every method call carries a fresh proof (a JWT with `htm`, `htu` without query or
//! fragment, `iat`, a new `jti`, on calls `ath` = the access token's hash, and the server's
//! latest `nonce` for that origin); an answer that asks for a nonce (`use_dpop_nonce`) is
//! tried once more with it, and the latest nonce per origin is remembered. Tokens of type
//! `DPoP` go as `Authorization: DPoP <token>`.
//!
//! `dpop = "auto"` asks the issuer's metadata once per process whether it takes ES256.
//!
//! Must not: reuse a proof, send a proof's key's private part, or retry more than once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{Context, Engine};
use crate::definition::DpopSetting;
use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::signing::SigningKey;

/// The header a proof goes in, and the one a server's nonce comes in.
pub const DPOP: &str = "DPoP";
pub const DPOP_NONCE: &str = "DPoP-Nonce";

/// An account connector's DPoP key, ready to sign.
pub struct DpopKey {
    key: SigningKey,
    pub jkt: String,
}

impl std::fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DpopKey({})", self.jkt)
    }
}

/// What the engine keeps for DPoP: keys by account connector, nonces by origin, and the
/// answer of each issuer's metadata for `"auto"`.
#[derive(Default)]
pub struct DpopState {
    keys: Mutex<HashMap<i64, Arc<DpopKey>>>,
    nonces: Mutex<HashMap<String, String>>,
    auto: Mutex<HashMap<String, bool>>,
}

/// A key and the engine's nonces, for the requests of one account connector.
#[derive(Clone)]
pub struct DpopUse<'a> {
    pub key: Arc<DpopKey>,
    pub state: &'a DpopState,
}

impl DpopState {
    /// The latest nonce `origin` gave.
    pub fn nonce(&self, origin: &str) -> Option<String> {
        self.nonces
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(origin)
            .cloned()
    }

    /// Remembers a nonce from `origin` (the newest replaces the last).
    pub fn remember(&self, origin: &str, nonce: &str) {
        // A nonce is opaque but short; a long or strange one is not kept.
        if nonce.len() <= 512 && nonce.bytes().all(|b| b.is_ascii_graphic()) {
            self.nonces
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(origin.to_string(), nonce.to_string());
        }
    }
}

/// `scheme://host:port` of a URL: where a nonce belongs.
pub fn origin_of(url: &url::Url) -> String {
    url.origin().ascii_serialization()
}

impl DpopUse<'_> {
    /// A proof for `method` `url` (with `ath` when it goes with an access token), with the
    /// latest nonce of the URL's origin.
    pub fn proof(&self, method: &str, url: &url::Url, token: Option<&Secret>) -> String {
        let nonce = self.state.nonce(&origin_of(url));
        self.key
            .proof(method, url, token, nonce.as_deref(), Utc::now())
    }

    /// Keeps the nonce a response carries. Whether it carried one.
    pub fn take_nonce(&self, url: &url::Url, headers: &http::HeaderMap) -> bool {
        match headers.get(DPOP_NONCE).and_then(|v| v.to_str().ok()) {
            Some(n) => {
                self.state.remember(&origin_of(url), n);
                true
            }
            None => false,
        }
    }
}

impl DpopKey {
    pub fn from_pem(pem: &Secret, jkt: String) -> Result<DpopKey> {
        let key = SigningKey::from_pem(pem)
            .map_err(|e| Error::Internal(format!("the stored DPoP key {e}")))?;
        Ok(DpopKey { key, jkt })
    }

    pub fn proof(
        &self,
        method: &str,
        url: &url::Url,
        token: Option<&Secret>,
        nonce: Option<&str>,
        now: DateTime<Utc>,
    ) -> String {
        let mut htu = url.clone();
        htu.set_query(None);
        htu.set_fragment(None);
        let mut claims = json!({
            "jti": uuid::Uuid::new_v4().to_string(),
            "htm": method,
            "htu": htu.as_str(),
            "iat": now.timestamp(),
        });
        if let Some(t) = token {
            claims["ath"] = B64.encode(Sha256::digest(t.expose().as_bytes())).into();
        }
        if let Some(n) = nonce {
            claims["nonce"] = n.into();
        }
        let header = json!({"typ": "dpop+jwt", "jwk": self.key.public_members()});
        self.key.sign(header, &claims)
    }
}

impl Engine {
    /// Whether a DPoP-bound call was refused for want of a nonce (RFC 9449 §9: 401 with
    /// `use_dpop_nonce` and a `DPoP-Nonce`): the nonce is kept for the call's origin.
    pub(super) fn dpop_nonce_asked(
        &self,
        auth: &super::AppliedAuth,
        url: &url::Url,
        status: u16,
        headers: &std::collections::BTreeMap<String, String>,
    ) -> bool {
        if auth.dpop.is_none() || status != 401 {
            return false;
        }
        let header = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        let asked = header("www-authenticate").is_some_and(|w| w.contains("use_dpop_nonce"));
        match header(DPOP_NONCE) {
            Some(nonce) if asked => {
                self.dpop.remember(&origin_of(url), nonce);
                true
            }
            _ => false,
        }
    }

    /// The DPoP key of the account connector when its connector binds tokens with DPoP.
    pub(super) async fn dpop_for(&self, ctx: &Context) -> Result<Option<DpopUse<'_>>> {
        let o = ctx.oauth2()?;
        let wanted = match o.dpop {
            DpopSetting::Off => false,
            DpopSetting::On => true,
            DpopSetting::Auto => self.issuer_takes_dpop(ctx).await,
        };
        if !wanted {
            return Ok(None);
        }
        let id = ctx.ac.id;
        let cached = self
            .dpop
            .keys
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
            .cloned();
        let key = match cached {
            Some(k) => k,
            None => {
                let (pem, jkt) = self.db(move |desk| desk.dpop_key(id)).await?;
                let key = Arc::new(DpopKey::from_pem(&pem, jkt)?);
                self.dpop
                    .keys
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(id, key.clone());
                key
            }
        };
        Ok(Some(DpopUse {
            key,
            state: &self.dpop,
        }))
    }

    /// `dpop = "auto"`: whether the issuer's metadata lists ES256 DPoP proofs (asked once
    /// per process; a provider that cannot be asked is taken as not offering it).
    async fn issuer_takes_dpop(&self, ctx: &Context) -> bool {
        let Ok(Some(issuer)) = ctx.issuer() else {
            return false;
        };
        if let Some(known) = self
            .dpop
            .auto
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&issuer)
        {
            return *known;
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let takes = match self.fetch_metadata_value(&url).await {
            Ok(m) => m
                .get("dpop_signing_alg_values_supported")
                .and_then(|v| v.as_array())
                .is_some_and(|algs| algs.iter().any(|a| a == "ES256")),
            Err(_) => return false,
        };
        self.dpop
            .auto
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(issuer, takes);
        takes
    }
}

/// Whether a stored token type says the token is DPoP-bound.
pub fn is_dpop_type(token_type: Option<&str>) -> bool {
    token_type.is_some_and(|t| t.eq_ignore_ascii_case("DPoP"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proof_names_the_method_the_url_without_query_and_the_tokens_hash() {
        let (key, pem) = SigningKey::generate_p256();
        let k = DpopKey::from_pem(&pem, key.thumbprint()).unwrap();
        let url = url::Url::parse("https://api.example.com/v1/me?x=1#f").unwrap();
        let token = Secret::new("token-123");
        let a = k.proof("GET", &url, Some(&token), Some("n-1"), Utc::now());
        let b = k.proof("GET", &url, Some(&token), None, Utc::now());
        let part = |jws: &str, i: usize| -> serde_json::Value {
            serde_json::from_slice(&B64.decode(jws.split('.').nth(i).unwrap()).unwrap()).unwrap()
        };
        let (h, c) = (part(&a, 0), part(&a, 1));
        assert_eq!(
            (h["typ"].as_str(), h["alg"].as_str()),
            (Some("dpop+jwt"), Some("ES256"))
        );
        assert!(h["jwk"].get("d").is_none() && h["jwk"]["kty"] == "EC");
        assert_eq!(c["htm"], "GET");
        assert_eq!(c["htu"], "https://api.example.com/v1/me");
        assert_eq!(c["nonce"], "n-1");
        // RFC 9449 §4.2: ath = base64url(SHA-256(the access token)).
        assert_eq!(c["ath"], B64.encode(Sha256::digest(b"token-123")));
        assert_ne!(c["jti"], part(&b, 1)["jti"], "a fresh jti each time");
        assert!(part(&b, 1).get("nonce").is_none());
    }
}
