//! The authorization code flow (RFC 6749 §4.1) with PKCE S256 (RFC 7636), a single-use
//! `state` bound to the account connector, and the RFC 9207 `iss` check.
//!
//! The same two calls serve every way of showing the provider's page: an embedded webview
//! whose navigation to the redirect URI is intercepted (any registered redirect URI works,
//! https included), and the system browser with a loopback redirect (RFC 8252).

use chrono::{DateTime, Utc};
use oauth2::PkceCodeChallenge;
use serde::Serialize;

use super::tokens::{self, clip, Grant};
use super::Engine;
use crate::definition::{OAuth2Grant, SignInMode};
use crate::domain::AccountConnector;
use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::token_store::TokenCommit;

/// The end of a sign-in, with where the browser flow wanted the user to go.
#[derive(Debug)]
pub struct SignInOutcome {
    pub web_return: Option<String>,
    pub result: Result<AccountConnector>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SignInStart {
    pub account_connector_id: i64,
    /// The provider's authorization URL (holds `state` and the PKCE challenge, no secret).
    pub authorization_url: String,
    pub redirect_uri: String,
    pub expires_at: DateTime<Utc>,
    /// Where this account connector's sign-in runs.
    pub sign_in_mode: SignInMode,
}

impl Engine {
    /// Starts a sign-in: records the pending request (state hash, sealed verifier, the
    /// exact redirect URI) and returns the URL to show.
    pub fn begin_sign_in(&self, id: i64, redirect_uri: &str) -> Result<SignInStart> {
        self.begin_sign_in_returning(id, redirect_uri, None)
    }

    /// [`Engine::begin_sign_in`] for the browser flow: `web_return` (opaque to the engine)
    /// comes back from [`Engine::complete_sign_in_returning`].
    pub fn begin_sign_in_returning(
        &self,
        id: i64,
        redirect_uri: &str,
        web_return: Option<&str>,
    ) -> Result<SignInStart> {
        let ctx = self.context(id)?;
        let o = ctx.oauth2()?;
        if o.grant != OAuth2Grant::AuthorizationCode {
            return Err(Error::InvalidInput(format!(
                "connector `{}` uses the {} grant: it authenticates by itself, no sign-in is needed",
                ctx.def.id,
                o.grant.cyclr_name()
            )));
        }
        let parsed = url::Url::parse(redirect_uri).map_err(|e| {
            Error::InvalidInput(format!(
                "the redirect URI {redirect_uri:?} is not an absolute URL ({e})"
            ))
        })?;
        if parsed.fragment().is_some() {
            return Err(Error::InvalidInput(
                "a redirect URI must not have a #fragment (RFC 6749 §3.1.2)".into(),
            ));
        }
        let creds = self.desk.resolve_client_credentials(id)?;
        let endpoints = ctx.endpoints()?;
        let state = Secret::new(oauth2::CsrfToken::new_random_len(32).secret().clone());
        let (challenge, verifier) = if o.pkce {
            let (c, v) = PkceCodeChallenge::new_random_sha256();
            (Some(c), Some(Secret::new(v.secret().clone())))
        } else {
            (None, None)
        };
        let request =
            tokens::authorization_url(o, &creds, &endpoints, redirect_uri, &state, challenge)
                .map_err(Error::InvalidInput)?;
        let expires_at = self.desk.insert_pending_authorization(
            id,
            &state,
            redirect_uri,
            verifier.as_ref(),
            self.config.sign_in_ttl,
            web_return,
        )?;
        Ok(SignInStart {
            account_connector_id: id,
            authorization_url: request.url.to_string(),
            redirect_uri: redirect_uri.to_string(),
            expires_at,
            sign_in_mode: ctx.ac.sign_in_mode.unwrap_or(o.sign_in),
        })
    }

    /// Completes a sign-in from the URL the provider redirected to. A missing, unknown,
    /// reused or expired `state` fails before any token request is made.
    pub async fn complete_sign_in(&self, callback_url: &str) -> Result<AccountConnector> {
        self.complete_sign_in_returning(callback_url).await.result
    }

    /// [`Engine::complete_sign_in`], also giving back the `web_return` of the sign-in it
    /// belonged to (when the state was known), so the browser flow can send the user on.
    pub async fn complete_sign_in_returning(&self, callback_url: &str) -> SignInOutcome {
        let mut web_return = None;
        let result = self.complete(callback_url, &mut web_return).await;
        SignInOutcome { web_return, result }
    }

    async fn complete(
        &self,
        callback_url: &str,
        web_return: &mut Option<String>,
    ) -> Result<AccountConnector> {
        let callback = url::Url::parse(callback_url).map_err(|_| {
            Error::AuthorizationFailed("the callback URL is not a valid URL".into())
        })?;
        let param = |name: &str| {
            callback
                .query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        };
        let state = param("state").ok_or_else(|| {
            Error::AuthorizationFailed(
                "the provider's answer has no `state`; start the sign-in again".into(),
            )
        })?;
        let pending = self
            .desk
            .take_pending_authorization(&state)?
            .ok_or_else(|| {
                Error::AuthorizationFailed(
                    "this sign-in is unknown or was already completed; start it again".into(),
                )
            })?;
        web_return.clone_from(&pending.web_return);
        if pending.expired {
            return Err(Error::AuthorizationFailed(
                "this sign-in took longer than allowed (10 minutes); start it again".into(),
            ));
        }
        let id = pending.account_connector_id;
        let fail = |message: String| -> Error {
            let _ = self.desk.record_failure(id, "sign_in_failed", &message);
            Error::AuthorizationFailed(message)
        };
        if !same_endpoint(&callback, &pending.redirect_uri) {
            return Err(fail(
                "the answer arrived at another address than the redirect URI the sign-in used"
                    .into(),
            ));
        }
        if let Some(error) = param("error") {
            let description = param("error_description")
                .map(|d| format!(": {}", clip(&d)))
                .unwrap_or_default();
            return Err(fail(format!(
                "the provider did not grant access ({}{description})",
                clip(&error)
            )));
        }
        let ctx = self.context(id)?;
        let o = ctx.oauth2()?.clone();
        // RFC 9207: when the provider names itself, it must be the issuer we talked to.
        match (param("iss"), &o.issuer) {
            (Some(iss), Some(expected)) if &iss != expected => {
                return Err(fail(format!(
                    "the answer came from issuer {} but the connector's issuer is {expected} (possible mix-up attack)",
                    clip(&iss)
                )));
            }
            (None, Some(_)) if o.issuer_in_response => {
                return Err(fail(
                    "the provider promises an `iss` parameter (RFC 9207) but the answer has none"
                        .into(),
                ));
            }
            _ => {}
        }
        let code = param("code")
            .ok_or_else(|| fail("the provider's answer has neither `code` nor `error`".into()))?;
        let creds = self.desk.resolve_client_credentials(id)?;
        let endpoints = ctx.endpoints()?;
        let grant = Grant::Code {
            code: &code,
            redirect_uri: &pending.redirect_uri,
            pkce_verifier: pending.pkce_verifier.as_ref(),
        };
        match tokens::request_tokens(
            &self.http.strict,
            &o,
            &creds,
            &endpoints,
            grant,
            self.desk.now(),
        )
        .await
        {
            Ok(mut tokens) => {
                tokens.captured = super::captured(&ctx, &tokens, Some(&callback));
                self.desk
                    .commit_tokens(id, &tokens, TokenCommit::NewGrant, "signed_in", None)?;
                self.desk.get_account_connector(id)
            }
            Err(e) => Err(fail(e.message("code exchange"))),
        }
    }
}

/// Scheme, host, port and path equal (the query carries the answer).
fn same_endpoint(callback: &url::Url, redirect_uri: &str) -> bool {
    url::Url::parse(redirect_uri).is_ok_and(|r| {
        r.scheme() == callback.scheme()
            && r.host_str() == callback.host_str()
            && r.port_or_known_default() == callback.port_or_known_default()
            && r.path() == callback.path()
    })
}
