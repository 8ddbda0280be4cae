//! OAuth 1.0a (`[auth] type = "oauth1"`, RFC 5849): the three endpoints (URL templates,
//! the same host rules as OAuth 2), the signature method, extra authorization parameters
//! and where the sign-in page runs. The consumer key and secret are the ClientId and
//! ClientSecret (library entry or account connector), the RSA-SHA1 key `ClientPrivateKey`.
//!
//! Must not: sign or send anything (`crate::oauth1` signs, the engine's `oauth1` sends).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::oauth2::SignInMode;
use super::AuthCheck;
use crate::definition::AuthEndpoints;
use crate::error::Result;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuth1Definition {
    /// Temporary credentials (RFC 5849 §2.1).
    pub request_token_url: String,
    /// Resource owner authorization (§2.2).
    pub authorize_url: String,
    /// Token credentials (§2.3).
    pub access_token_url: String,
    #[serde(default)]
    pub signature_method: SignatureMethod,
    /// Extra query parameters for the authorization page (Trello: `name`, `scope`,
    /// `expiration`).
    #[serde(default)]
    pub authorize_params: BTreeMap<String, String>,
    /// Where the sign-in page runs.
    #[serde(default)]
    pub sign_in: SignInMode,
}

impl OAuth1Definition {
    pub(in crate::definition) fn check(&self, cx: &mut AuthCheck) -> Result<AuthEndpoints> {
        let fields = [
            ("request_token_url", &self.request_token_url),
            ("authorize_url", &self.authorize_url),
            ("access_token_url", &self.access_token_url),
        ];
        if self.signature_method == SignatureMethod::Plaintext {
            // PLAINTEXT sends the secrets themselves: only over TLS (or to this machine).
            for (name, url) in fields {
                if !(url.starts_with("https://") || is_loopback_http(url)) {
                    return Err(cx.invalid(
                        &cx.field(name),
                        "must be https:// with signature_method = \"PLAINTEXT\", which sends \
                         the secrets themselves (use HMAC-SHA1 or HMAC-SHA256 otherwise)"
                            .into(),
                    ));
                }
            }
        }
        for name in self.authorize_params.keys() {
            if name == "oauth_token" || name.trim().is_empty() {
                return Err(cx.invalid(
                    &cx.field(&format!("authorize_params.{name}")),
                    "is set by Authdesk itself or has no name; remove it".into(),
                ));
            }
        }
        Ok(AuthEndpoints {
            request_token: Some(cx.url(&cx.field("request_token_url"), &self.request_token_url)?),
            authorize: Some(cx.url(&cx.field("authorize_url"), &self.authorize_url)?),
            token: Some(cx.url(&cx.field("access_token_url"), &self.access_token_url)?),
            ..AuthEndpoints::default()
        })
    }
}

impl OAuth1Definition {
    /// What a person reads about it (`connectors show`).
    pub fn summary(&self) -> Vec<(&'static str, String)> {
        vec![
            ("request token", self.request_token_url.clone()),
            ("authorize", self.authorize_url.clone()),
            ("access token", self.access_token_url.clone()),
            ("signature", self.signature_method.name().to_string()),
        ]
    }

    /// Whether requests are signed with the consumer secret (not an RSA key).
    pub fn needs_secret(&self) -> bool {
        self.signature_method != SignatureMethod::RsaSha1
    }
}

/// `http://127.0.0.1`, `http://[::1]` or `http://localhost`, any port.
fn is_loopback_http(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    ["127.0.0.1", "[::1]", "localhost"].iter().any(|h| {
        rest.strip_prefix(h)
            .is_some_and(|r| r.is_empty() || r.starts_with(':') || r.starts_with('/'))
    })
}

/// How requests are signed (the definition's `signature_method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum SignatureMethod {
    #[default]
    #[serde(rename = "HMAC-SHA1")]
    HmacSha1,
    #[serde(rename = "HMAC-SHA256")]
    HmacSha256,
    #[serde(rename = "RSA-SHA1")]
    RsaSha1,
    #[serde(rename = "PLAINTEXT")]
    Plaintext,
}

impl SignatureMethod {
    pub fn name(self) -> &'static str {
        match self {
            SignatureMethod::HmacSha1 => "HMAC-SHA1",
            SignatureMethod::HmacSha256 => "HMAC-SHA256",
            SignatureMethod::RsaSha1 => "RSA-SHA1",
            SignatureMethod::Plaintext => "PLAINTEXT",
        }
    }
}
