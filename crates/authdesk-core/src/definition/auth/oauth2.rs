//! OAuth 2.0 (`[auth] type = "oauth2"`): grants, endpoints, scopes, PKCE, client
//! authentication, where the sign-in page runs, how the token is sent, captured properties
//! and the refresh margin.
//!
//! Must not: request tokens (that is the engine's `tokens`), or check values (`validate`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuth2Definition {
    pub grant: OAuth2Grant,
    /// Required for `authorization_code`.
    #[serde(default)]
    pub authorize_url: Option<String>,
    pub token_url: String,
    /// RFC 7009 revocation endpoint.
    #[serde(default)]
    pub revoke_url: Option<String>,
    /// Issuer identifier: checked against RFC 9207 `iss` in authorization responses.
    #[serde(default)]
    pub issuer: Option<String>,
    /// The provider's metadata promises `iss` in authorization responses (RFC 9207).
    #[serde(default)]
    pub issuer_in_response: bool,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default = "default_scope_separator")]
    pub scope_separator: String,
    /// PKCE S256. On unless the provider cannot take it.
    #[serde(default = "default_true")]
    pub pkce: bool,
    #[serde(default)]
    pub client_auth: ClientAuth,
    /// Extra query parameters for the authorization request (e.g. `access_type = "offline"`).
    #[serde(default)]
    pub authorize_params: BTreeMap<String, String>,
    /// Where the sign-in page runs. The user can switch per account connector.
    #[serde(default)]
    pub sign_in: SignInMode,
    /// The header that carries the access token on method calls.
    #[serde(default = "default_token_header")]
    pub token_header: String,
    /// Put before the access token in that header.
    #[serde(default = "default_token_prefix")]
    pub token_prefix: String,
    /// Account connector properties filled from the provider's answers, e.g.
    /// `InstanceHost = "token:instance_url|host"` (Salesforce) or
    /// `RealmId = "callback:realmId"` (QuickBooks): `token:<field>` is a string field of the
    /// token response, `callback:<param>` a parameter of the authorization response, and
    /// `|host` keeps only the host of a URL.
    #[serde(default)]
    pub capture: BTreeMap<String, String>,
    /// Refresh when the access token expires within this many seconds (default: the
    /// engine's, 60). Never more than a quarter of the token's lifetime is used, so a
    /// short-lived token is not refreshed on every call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_margin_seconds: Option<u32>,
}

/// Where a captured property comes from (see [`OAuth2Definition::capture`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureSource {
    pub from: CaptureFrom,
    pub field: String,
    pub host_only: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureFrom {
    TokenResponse,
    Callback,
}

impl CaptureSource {
    pub fn parse(text: &str) -> std::result::Result<CaptureSource, String> {
        let (source, host_only) = match text.strip_suffix("|host") {
            Some(s) => (s, true),
            None => (text, false),
        };
        let (from, field) = if let Some(f) = source.strip_prefix("token:") {
            (CaptureFrom::TokenResponse, f)
        } else if let Some(f) = source.strip_prefix("callback:") {
            (CaptureFrom::Callback, f)
        } else {
            return Err(format!("{text:?} must be \"token:<field>\" or \"callback:<param>\", optionally ending in \"|host\""));
        };
        if field.is_empty()
            || !field
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
        {
            return Err(format!("{text:?} names no field"));
        }
        Ok(CaptureSource {
            from,
            field: field.to_string(),
            host_only,
        })
    }

    /// The value to store, from the raw one (`|host` keeps the host of a URL).
    pub fn value_of(&self, raw: &str) -> Option<String> {
        if !self.host_only {
            return Some(raw.to_string());
        }
        url::Url::parse(raw).ok()?.host_str().map(str::to_string)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OAuth2Grant {
    AuthorizationCode,
    ClientCredentials,
    /// Legacy (RFC 9700 discourages it); needs `Username`/`Password` properties.
    Password,
}

impl OAuth2Grant {
    /// Cyclr's OAuth2Type spelling.
    pub fn cyclr_name(self) -> &'static str {
        match self {
            OAuth2Grant::AuthorizationCode => "AuthorisationCode",
            OAuth2Grant::ClientCredentials => "ClientCredentials",
            OAuth2Grant::Password => "PasswordCredentials",
        }
    }
}

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    /// HTTP Basic header (`client_secret_basic`).
    #[default]
    Basic,
    /// Form body fields (`client_secret_post`).
    Body,
    /// Public client: `client_id` only, no secret.
    None,
}

/// Where the OAuth sign-in page is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignInMode {
    /// A native webview whose redirect is intercepted.
    #[default]
    Webview,
    /// The system browser with a loopback redirect (RFC 8252), for providers that refuse
    /// embedded webviews.
    SystemBrowser,
}

fn default_scope_separator() -> String {
    " ".to_string()
}

fn default_true() -> bool {
    true
}

fn default_token_header() -> String {
    "Authorization".to_string()
}

fn default_token_prefix() -> String {
    "Bearer ".to_string()
}
