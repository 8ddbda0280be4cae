//! Device sign-in (RFC 8628): the provider gives a user code and a verification URI; the
//! user approves there, on any device, while Authdesk polls the token endpoint honouring
//! `interval`, `authorization_pending` and `slow_down` (five seconds more each time), and
//! stops at `access_denied` (a refused sign-in), `expired_token` or the code's expiry.
//!
//! Polling is a future its caller may drop at any moment (Ctrl-C, a closed window):
//! nothing is written until the provider answers with tokens, and those are committed as
//! a new grant in one transaction.
//!
//! Must not: show the device code (only the user code is for people), poll faster than the
//! provider asks, or keep polling past the code's expiry.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::extension_grant::{self, error_code};
use super::tokens::{clip, joined_scope, read_token_response, TokenError};
use super::Engine;
use crate::domain::AccountConnector;
use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::token_store::TokenCommit;

/// RFC 8628 §3.4.
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// What the user needs to approve the sign-in, and what polling needs.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeviceStart {
    #[serde(skip)]
    pub account_connector_id: i64,
    pub verification_uri: String,
    pub user_code: String,
    /// The verification URI with the user code in it (for a link or a QR code).
    pub verification_uri_complete: Option<String>,
    /// Seconds until the codes expire.
    pub expires_in: i64,
    #[serde(skip)]
    pub expires_at: DateTime<Utc>,
    #[serde(skip)]
    interval: u64,
    #[serde(skip)]
    device_code: Secret,
}

impl std::fmt::Debug for DeviceStart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceStart")
            .field("verification_uri", &self.verification_uri)
            .field("user_code", &self.user_code)
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Authorization {
    device_code: String,
    user_code: String,
    /// Google writes `verification_url`.
    #[serde(alias = "verification_url")]
    verification_uri: String,
    #[serde(default)]
    verification_uri_complete: Option<String>,
    expires_in: i64,
    #[serde(default)]
    interval: Option<u64>,
}

/// The default polling interval (RFC 8628 §3.2).
const DEFAULT_INTERVAL_SECS: u64 = 5;

impl Engine {
    /// Whether the account connector signs in with a device code (`grant = "device_code"`).
    pub async fn uses_device_sign_in(&self, id: i64) -> Result<bool> {
        let ctx = self.context(id).await?;
        Ok(ctx.oauth2()?.grant == crate::definition::OAuth2Grant::DeviceCode)
    }

    /// Asks the provider for a user code (the device authorization request).
    pub async fn begin_device_sign_in(&self, id: i64) -> Result<DeviceStart> {
        let ctx = self.context(id).await?;
        let o = ctx.oauth2_filled()?;
        let endpoints = ctx.endpoints()?;
        let Some(url) = endpoints.device.clone() else {
            return Err(Error::InvalidInput(format!(
                "connector `{}` has no device_authorization_url: device sign-in is for \
                 grant = \"device_code\"",
                ctx.def.id
            )));
        };
        let creds = self
            .db(move |desk| desk.resolve_client_credentials(id))
            .await?;
        let mut form = vec![];
        if let Some(scope) = joined_scope(&o) {
            form.push(("scope", scope.to_string()));
        }
        let now = self.desk.now();
        let http = ctx.client(self, &url, super::http::Follow::Never);
        let failed = |message: String| Error::Http {
            what: format!("the device authorization request of {}", ctx.def.id),
            message,
        };
        let answer = extension_grant::post(http, &o, &creds, &endpoints, &url, form, now, None)
            .await
            .map_err(|e| failed(e.message("device authorization request")))?;
        let response = answer.result.map_err(|e| failed(e.to_string()))?;
        if !response.status().is_success() {
            let code = serde_json::from_slice::<serde_json::Value>(response.body())
                .ok()
                .and_then(|v| v.get("error")?.as_str().map(clip));
            return Err(failed(match code {
                Some(code) => format!("HTTP {} ({code})", response.status().as_u16()),
                None => format!("HTTP {}", response.status().as_u16()),
            }));
        }
        let a: Authorization = serde_json::from_slice(response.body()).map_err(|_| {
            failed(
                "the answer has no device_code, user_code, verification_uri or expires_in".into(),
            )
        })?;
        let expires_in = a.expires_in.clamp(1, 3600);
        Ok(DeviceStart {
            account_connector_id: id,
            verification_uri: a.verification_uri,
            user_code: clip(&a.user_code),
            verification_uri_complete: a.verification_uri_complete,
            expires_in,
            expires_at: now + chrono::Duration::seconds(expires_in),
            interval: a.interval.unwrap_or(DEFAULT_INTERVAL_SECS).clamp(1, 60),
            device_code: Secret::new(a.device_code),
        })
    }

    /// Polls until the user approves (the tokens are stored as a new grant), refuses, or
    /// the code expires.
    pub async fn complete_device_sign_in(&self, start: &DeviceStart) -> Result<AccountConnector> {
        let id = start.account_connector_id;
        let ctx = self.context(id).await?;
        let o = ctx.oauth2()?.clone();
        let endpoints = ctx.endpoints()?;
        let creds = self
            .db(move |desk| desk.resolve_client_credentials(id))
            .await?;
        let dpop = self.dpop_for(&ctx).await?;
        let mut interval = start.interval;
        loop {
            tokio::time::sleep(Duration::from_secs(interval)).await;
            let now = self.desk.now();
            if now >= start.expires_at {
                return Err(self
                    .sign_in_failed(
                        id,
                        "the device code expired before the sign-in was approved; start it again"
                            .into(),
                    )
                    .await);
            }
            let form = vec![
                ("grant_type", GRANT_TYPE.to_string()),
                ("device_code", start.device_code.expose().to_string()),
            ];
            let http = ctx.client(self, &endpoints.token, super::http::Follow::Never);
            let answer = extension_grant::post(
                http,
                &o,
                &creds,
                &endpoints,
                &endpoints.token,
                form,
                now,
                dpop.clone(),
            )
            .await
            .map_err(|e| Error::AuthorizationFailed(e.message("device sign-in")))?;
            match error_code(&answer).as_deref() {
                Some("authorization_pending") => continue,
                Some("slow_down") => {
                    interval += 5;
                    continue;
                }
                Some("access_denied") => {
                    return Err(self.sign_in_failed(id, "the sign-in was refused at the provider (access_denied)".into()).await)
                }
                Some("expired_token") => {
                    return Err(self.sign_in_failed(id, "the device code expired before the sign-in was approved (expired_token); start it again".into()).await)
                }
                _ => {}
            }
            let mut tokens = match read_token_response(answer.result, &answer.observed, now) {
                Ok(tokens) => tokens,
                // The provider failing for now is not the user's answer: keep polling.
                Err(TokenError::Transient { .. }) => continue,
                Err(e) => {
                    let exchange = e.exchange().cloned();
                    return Err(self
                        .sign_in_failed_after(id, e.message("device sign-in"), exchange)
                        .await);
                }
            };
            tokens.captured = super::captured(&ctx, &tokens, None);
            self.db(move |desk| {
                desk.commit_tokens(id, &tokens, TokenCommit::NewGrant, "signed_in", None)
            })
            .await?;
            self.keep_provider_keys(id).await;
            return self.db(move |desk| desk.get_account_connector(id)).await;
        }
    }
}
