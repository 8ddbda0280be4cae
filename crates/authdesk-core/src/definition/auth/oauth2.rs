//! OAuth 2.0 (`[auth] type = "oauth2"`): grants, endpoints, scopes, PKCE, client
//! authentication, where the sign-in page runs, how the token is sent, captured properties
//! and the refresh margin.
//!
//! Its checks (endpoints per grant, captures, scopes, the margin) are here; how the engine
//! uses it is in `engine::access::oauth2` and the token modules.
//!
//! Must not: request tokens (that is the engine's `tokens`), or know about accounts or stores.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::AuthCheck;
use crate::definition::{is_header_name, AuthEndpoints};
use crate::error::Result;

/// Longest margin a definition may ask for (a day).
const MAX_REFRESH_MARGIN_SECONDS: u32 = 86_400;

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
    /// RFC 8628 device authorization endpoint (`grant = "device_code"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_authorization_url: Option<String>,
    /// RFC 9126 pushed authorization request endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pushed_authorization_request_url: Option<String>,
    /// The provider's signing keys (a JWKS), fetched at sign-in and kept to verify ID
    /// tokens and JWT access tokens offline. Without it, the `jwks_uri` of the issuer's
    /// metadata (needs `issuer`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_url: Option<String>,
    /// DPoP (RFC 9449): `true` binds every token to a key of the account connector (proofs
    /// on every token request and method call); `"auto"` does where the provider's metadata
    /// lists ES256 in `dpop_signing_alg_values_supported` (needs `issuer`).
    #[serde(default, skip_serializing_if = "DpopSetting::is_off")]
    pub dpop: DpopSetting,
    /// Push the authorization request there (the client authenticated) and give the
    /// browser only `client_id` and `request_uri` (RFC 9126).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub par: bool,
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
    /// `grant = "jwt_bearer"`: the assertion's `iss` (default `{ClientId}`), `sub`
    /// (default: the `iss`) and `aud` (default: the token endpoint), with `{Property}`
    /// placeholders and `{ClientId}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assertion_issuer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assertion_subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assertion_audience: Option<String>,
    /// PKCE S256. On unless the provider cannot take it.
    #[serde(default = "default_true")]
    pub pkce: bool,
    #[serde(default)]
    pub client_auth: ClientAuth,
    /// Extra query parameters for the authorization request (e.g. `access_type = "offline"`).
    #[serde(default)]
    pub authorize_params: BTreeMap<String, String>,
    /// Extra parameters of every token request (`audience` for Auth0's client credentials,
    /// a provider's `expiring` flag, ...): values may hold `{Property}` placeholders. May
    /// not name what the protocol itself sends (`grant_type`, `code`, `refresh_token`, the
    /// client's credentials, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub token_params: BTreeMap<String, String>,
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
    /// RFC 8628: the user approves on another device (or browser tab) by entering a code
    /// at the provider's verification URI while Authdesk polls; needs
    /// `device_authorization_url`.
    DeviceCode,
    /// RFC 7523 §2.1: a JWT signed with the app's private key is the grant (Google service
    /// accounts, Salesforce's JWT bearer flow); `assertion_*` say its claims.
    JwtBearer,
}

/// Token request parameters the protocol sets itself: `token_params` may not name them.
pub const RESERVED_TOKEN_PARAMS: &[&str] = &[
    "grant_type",
    "code",
    "redirect_uri",
    "refresh_token",
    "client_id",
    "client_secret",
    "client_assertion",
    "client_assertion_type",
    "code_verifier",
    "scope",
    "assertion",
    "device_code",
    "username",
    "password",
];

/// Authorization request parameters the flow sets itself (RFC 6749 §4.1.1, RFC 7636):
/// `authorize_params` may not name them.
pub const RESERVED_AUTHORIZE_PARAMS: &[&str] = &[
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
];

impl OAuth2Grant {
    /// Whether the engine gets a new token with this grant by itself (client credentials,
    /// password), rather than needing the user (the authorization code flow).
    pub fn renews_itself(self) -> bool {
        matches!(
            self,
            OAuth2Grant::ClientCredentials | OAuth2Grant::Password | OAuth2Grant::JwtBearer
        )
    }

    /// Cyclr's OAuth2Type spelling.
    pub fn cyclr_name(self) -> &'static str {
        match self {
            OAuth2Grant::AuthorizationCode => "AuthorisationCode",
            OAuth2Grant::ClientCredentials => "ClientCredentials",
            OAuth2Grant::Password => "PasswordCredentials",
            OAuth2Grant::JwtBearer => "JwtBearer",
            OAuth2Grant::DeviceCode => "DeviceCode",
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
    /// A JWT signed with the app's private key (`private_key_jwt`, RFC 7523 §2.2): the key
    /// is the library entry's (`connectors set-client --private-key-file`) or the account
    /// connector's secret property `ClientPrivateKey`.
    PrivateKeyJwt,
    /// A JWT signed with HMAC-SHA256 under the ClientSecret (`client_secret_jwt`).
    ClientSecretJwt,
}

impl ClientAuth {
    /// Whether the app needs a ClientSecret.
    pub fn needs_secret(self) -> bool {
        matches!(
            self,
            ClientAuth::Basic | ClientAuth::Body | ClientAuth::ClientSecretJwt
        )
    }

    /// Whether the app needs a private key (`ClientPrivateKey`).
    pub fn needs_private_key(self) -> bool {
        self == ClientAuth::PrivateKeyJwt
    }

    /// RFC 8414 `token_endpoint_auth_methods_supported` spelling.
    pub fn metadata_name(self) -> &'static str {
        match self {
            ClientAuth::Basic => "client_secret_basic",
            ClientAuth::Body => "client_secret_post",
            ClientAuth::None => "none",
            ClientAuth::PrivateKeyJwt => "private_key_jwt",
            ClientAuth::ClientSecretJwt => "client_secret_jwt",
        }
    }
}

/// Whether tokens are bound to a key with DPoP (RFC 9449): `false`, `true` or `"auto"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DpopSetting {
    #[default]
    Off,
    On,
    /// Where the provider's metadata says it takes ES256 proofs.
    Auto,
}

impl DpopSetting {
    pub fn is_off(&self) -> bool {
        *self == DpopSetting::Off
    }
}

impl Serialize for DpopSetting {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            DpopSetting::Off => s.serialize_bool(false),
            DpopSetting::On => s.serialize_bool(true),
            DpopSetting::Auto => s.serialize_str("auto"),
        }
    }
}

impl<'de> Deserialize<'de> for DpopSetting {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bool(bool),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Bool(false) => Ok(DpopSetting::Off),
            Raw::Bool(true) => Ok(DpopSetting::On),
            Raw::Text(t) if t == "auto" => Ok(DpopSetting::Auto),
            Raw::Text(_) => Err(serde::de::Error::custom(
                "dpop must be true, false or \"auto\"",
            )),
        }
    }
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

impl OAuth2Definition {
    /// Checks the settings beyond their types and parses the endpoint templates.
    pub(in crate::definition) fn check(&self, cx: &mut AuthCheck) -> Result<AuthEndpoints> {
        let mut endpoints = AuthEndpoints::default();
        endpoints.token = Some(cx.url(&cx.field("token_url"), &self.token_url)?);
        endpoints.authorize = match (&self.authorize_url, self.grant) {
            (Some(a), _) => Some(cx.url(&cx.field("authorize_url"), a)?),
            (None, OAuth2Grant::AuthorizationCode) => {
                return Err(cx.invalid(
                    &cx.field("authorize_url"),
                    "is required for grant = \"authorization_code\"".into(),
                ))
            }
            (None, _) => None,
        };
        endpoints.revoke = self
            .revoke_url
            .as_deref()
            .map(|r| cx.url(&cx.field("revoke_url"), r))
            .transpose()?;
        // A device endpoint also lets an authorization code connector sign in with
        // `connect --device` (a machine without a browser).
        endpoints.device = match (&self.device_authorization_url, self.grant) {
            (Some(d), OAuth2Grant::DeviceCode | OAuth2Grant::AuthorizationCode) => {
                Some(cx.url(&cx.field("device_authorization_url"), d)?)
            }
            (Some(_), _) => {
                return Err(cx.invalid(
                    &cx.field("device_authorization_url"),
                    "applies to grants a user signs in to (device_code, authorization_code); \
                     remove it"
                        .into(),
                ))
            }
            (None, OAuth2Grant::DeviceCode) => {
                return Err(cx.invalid(
                    &cx.field("device_authorization_url"),
                    "is required for grant = \"device_code\"".into(),
                ))
            }
            (None, _) => None,
        };
        endpoints.jwks = self
            .jwks_url
            .as_deref()
            .map(|r| cx.url(&cx.field("jwks_url"), r))
            .transpose()?;
        endpoints.par = self
            .pushed_authorization_request_url
            .as_deref()
            .map(|r| cx.url(&cx.field("pushed_authorization_request_url"), r))
            .transpose()?;
        if self.par && endpoints.par.is_none() {
            return Err(cx.invalid(
                &cx.field("pushed_authorization_request_url"),
                "is required when par = true".into(),
            ));
        }
        for (name, value) in [
            ("assertion_issuer", &self.assertion_issuer),
            ("assertion_subject", &self.assertion_subject),
            ("assertion_audience", &self.assertion_audience),
        ] {
            if value.is_some() && self.grant != OAuth2Grant::JwtBearer {
                return Err(cx.invalid(
                    &cx.field(name),
                    "applies to grant = \"jwt_bearer\" only; remove it".into(),
                ));
            }
        }
        if self.dpop == DpopSetting::Auto && self.issuer.is_none() {
            return Err(cx.invalid(
                &cx.field("dpop"),
                "= \"auto\" reads the provider's metadata: it needs `issuer` (or say true)".into(),
            ));
        }
        if self.par && self.grant != OAuth2Grant::AuthorizationCode {
            return Err(cx.invalid(
                &cx.field("par"),
                "applies to grant = \"authorization_code\" only (there is no authorization request to push)".into(),
            ));
        }
        endpoints.issuer = self
            .issuer
            .as_deref()
            .map(|i| cx.url(&cx.field("issuer"), i))
            .transpose()?;
        // Extra authorization parameters (`access_type`, `prompt`, `audience`, `resource`,
        // ...) may not stand in for what the flow itself sends and checks.
        for name in self.authorize_params.keys() {
            if RESERVED_AUTHORIZE_PARAMS.contains(&name.as_str()) {
                return Err(cx.invalid(
                    &cx.field(&format!("authorize_params.{name}")),
                    format!(
                        "is set by Authdesk itself (reserved: {}); remove it",
                        RESERVED_AUTHORIZE_PARAMS.join(", ")
                    ),
                ));
            }
            if name.trim().is_empty() {
                return Err(cx.invalid(
                    &cx.field("authorize_params"),
                    "has a parameter without a name".into(),
                ));
            }
        }
        for scope in &self.scopes {
            cx.placeholders_declared(&cx.field("scopes"), scope)?;
        }
        for (name, value) in &self.token_params {
            let field = cx.field(&format!("token_params.{name}"));
            if RESERVED_TOKEN_PARAMS.contains(&name.as_str()) || name.trim().is_empty() {
                return Err(cx.invalid(
                    &field,
                    format!(
                        "is set by Authdesk itself or empty (reserved: {}); remove it",
                        RESERVED_TOKEN_PARAMS.join(", ")
                    ),
                ));
            }
            cx.placeholders_declared(&field, value)?;
        }
        if self.issuer_in_response && self.issuer.is_none() {
            return Err(cx.invalid(
                &cx.field("issuer"),
                "is required when issuer_in_response = true".into(),
            ));
        }
        if !is_header_name(&self.token_header) {
            return Err(cx.invalid(
                &cx.field("token_header"),
                "is not a valid HTTP header name".into(),
            ));
        }
        for (name, source) in &self.capture {
            let f = cx.field(&format!("capture.{name}"));
            if !cx.property_names.contains(name.as_str()) {
                return Err(cx.invalid(&f, "names no declared property".into()));
            }
            CaptureSource::parse(source).map_err(|e| cx.invalid(&f, e))?;
        }
        if self.scope_separator.is_empty() {
            return Err(cx.invalid(&cx.field("scope_separator"), "must not be empty".into()));
        }
        if let Some(s) = self
            .scopes
            .iter()
            .find(|s| s.is_empty() || s.contains(self.scope_separator.as_str()))
        {
            return Err(cx.invalid(
                &cx.field("scopes"),
                format!("scope `{s}` is empty or contains the scope separator"),
            ));
        }
        if self.grant == OAuth2Grant::Password {
            for needed in ["Username", "Password"] {
                if !cx.property_names.contains(needed) {
                    return Err(cx.invalid(
                        "properties",
                        format!("grant = \"password\" needs a `{needed}` property"),
                    ));
                }
            }
        }
        if self
            .refresh_margin_seconds
            .is_some_and(|m| m == 0 || m > MAX_REFRESH_MARGIN_SECONDS)
        {
            return Err(cx.invalid(
                &cx.field("refresh_margin_seconds"),
                format!("must be 1-{MAX_REFRESH_MARGIN_SECONDS}"),
            ));
        }
        Ok(endpoints)
    }

    /// Cyclr's `AuthScheme`: the token header when it is not the usual `Authorization`.
    pub fn scheme(&self) -> Option<String> {
        (self.token_header != "Authorization").then(|| self.token_header.clone())
    }

    /// What a person reads about it (`connectors show`).
    /// The scopes in a token response's `scope` (the definition's separator, or spaces).
    pub fn split_scopes<'a>(&self, text: &'a str) -> Vec<&'a str> {
        text.split(self.scope_separator.as_str())
            .flat_map(|p| p.split(' '))
            .filter(|p| !p.is_empty())
            .collect()
    }

    pub fn summary(&self) -> Vec<(&'static str, String)> {
        let mut lines = Vec::new();
        if let Some(a) = &self.authorize_url {
            lines.push(("authorize", a.clone()));
        }
        lines.push(("token", self.token_url.clone()));
        if let Some(r) = &self.revoke_url {
            lines.push(("revoke", r.clone()));
        }
        lines.push(("scopes", self.scopes.join(&self.scope_separator)));
        if !self.authorize_params.is_empty() {
            let params: Vec<String> = self
                .authorize_params
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            lines.push(("authorize params", params.join(" ")));
        }
        lines.push(("pkce", if self.pkce { "S256" } else { "off" }.to_string()));
        lines.push(("sign-in", format!("{:?}", self.sign_in)));
        lines
    }
}
