//! Connector definitions: connectors are *data*.
//!
//! One TOML file describes one connector (its ways to authenticate, endpoints, methods and the
//! account-connector properties it needs). Only the auth *kind* is code; adding a provider
//! is adding a file. The format is documented in `docs/connector-format.md`.
//!
//! Every definition is checked when it is loaded (`validate.rs`): unknown keys, missing
//! endpoints, bad URL templates, placeholders naming undeclared properties, duplicate
//! method ids. Errors name the file and the field. Every templated URL is parsed then into
//! a [`UrlTemplate`] (`template.rs`), the only way a URL is built from a definition, so a
//! property value can never move a request to a host the definition did not name.
//!
//! Must not: hold an auth type's specifics (`definition::auth::<type>`), build a URL but
//! through [`UrlTemplate`], or read the store or send a request.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use sha2::Digest;

use crate::error::Result;

mod auth;
pub mod catalog;
pub mod check;
pub mod edit;
pub mod form;
pub mod mcp;
pub mod template;
mod validate;

pub use auth::api_key::{ApiKeyDefinition, ApiKeyPlacement};
pub use auth::auth_fields::{AuthField, AuthFieldsDefinition, FieldPlacement};
pub use auth::oauth1::{OAuth1Definition, SignatureMethod};
pub use auth::oauth2::{
    CaptureFrom, CaptureSource, ClientAuth, DpopSetting, OAuth2Definition, OAuth2Grant, SignInMode,
};
pub use auth::{
    AuthDefinition, AuthMethod, AuthMethodDefinition, AuthType, Endpoint, DEFAULT_AUTH_ID,
};
pub use template::{placeholders, SlotKind, SlotValues, TemplateError, UrlTemplate};

/// Largest definition file we accept (a definition is a few KiB; this stops accidents).
pub const MAX_DEFINITION_BYTES: usize = 256 * 1024;

/// A connector definition, as parsed from its TOML file.
/// The categories a connector may have (`category`).
pub const CATEGORIES: &[&str] = &[
    "crm",
    "accounting",
    "support",
    "ecommerce",
    "marketing",
    "hr",
    "payments",
    "storage",
    "communication",
    "developer",
    "productivity",
    "other",
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectorDefinition {
    /// Stable slug, e.g. `github`. Lowercase letters, digits and `-`.
    pub id: String,
    pub name: String,
    pub version: String,
    #[serde(default)]
    pub description: String,
    /// Where the facts in this file come from (provider documentation URLs).
    #[serde(default)]
    pub sources: Vec<String>,
    /// What kind of tool it is (`crm`, `accounting`, ... see [`CATEGORIES`]), for the
    /// library's search and filters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// The day the sources were last read (`YYYY-MM-DD`): providers move, and the catalog
    /// test lists files not re-read for 12 months.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_on: Option<String>,
    /// Base URL for method paths. May contain `{Property}` placeholders.
    #[serde(default)]
    pub api_base_url: Option<String>,
    /// Headers sent with every method call (e.g. `Accept`, `User-Agent`, an API version).
    /// Values may contain `{Property}` placeholders; secrets do not belong here.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The default way to authenticate (its id is [`DEFAULT_AUTH_ID`]).
    pub auth: AuthDefinition,
    /// More ways to authenticate, for providers that offer several (e.g. OAuth 2.0 and an
    /// API key). An install picks one with Cyclr's `AuthenticationId`; the default is
    /// `[auth]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub auth_methods: Vec<AuthMethodDefinition>,
    /// Account connector properties this connector needs.
    #[serde(default)]
    pub properties: Vec<PropertyDefinition>,
    #[serde(default)]
    pub methods: Vec<MethodDefinition>,
    /// The request that tells whether a credential works (`[check]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<check::CheckDefinition>,
    /// The connector is a remote MCP server (`[mcp]`): its tools are called with the auth
    /// applied (`authdesk mcp tools|call`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mcp: Option<mcp::McpDefinition>,
    /// Parsed templates and patterns, derived from the fields above when the definition
    /// loads.
    #[serde(skip)]
    pub(crate) compiled: Compiled,
}

/// What loading derives from a definition: its URL templates, parsed once, and the
/// compiled property patterns.
#[derive(Debug, Clone, Default)]
pub(crate) struct Compiled {
    pub api_base: Option<UrlTemplate>,
    /// The OAuth endpoints of each way to authenticate (`[auth]` first, then
    /// `auth_methods` in order).
    pub endpoints: Vec<AuthEndpoints>,
    /// The full URL template of each method, in the order of `methods`.
    pub methods: Vec<UrlTemplate>,
    /// Where each property stands in the URLs.
    pub slot_kinds: BTreeMap<String, BTreeSet<SlotKind>>,
    pub patterns: BTreeMap<String, regex::Regex>,
}

impl PartialEq for Compiled {
    /// Derived data: two definitions are equal when their fields are.
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// The OAuth endpoint templates of one way to authenticate.
#[derive(Debug, Clone, Default)]
pub(crate) struct AuthEndpoints {
    pub authorize: Option<UrlTemplate>,
    pub token: Option<UrlTemplate>,
    pub revoke: Option<UrlTemplate>,
    pub par: Option<UrlTemplate>,
    pub device: Option<UrlTemplate>,
    pub jwks: Option<UrlTemplate>,
    /// OAuth 1.0a temporary credentials endpoint.
    pub request_token: Option<UrlTemplate>,
    pub issuer: Option<UrlTemplate>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PropertyDefinition {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub required: bool,
    /// Sealed in the vault and never shown unless revealed.
    #[serde(default)]
    pub secret: bool,
    /// A regular expression the whole value must match, e.g. `^[0-9]{1,20}$`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// A suffix the value must end with (compared without regard to case), e.g.
    /// `.myshopify.com`. For a property that stands for a host it must start with `.`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suffix: Option<String>,
    /// A valid value, shown when a value is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub example: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MethodDefinition {
    /// Stable unique identifier (Cyclr's MethodUniqueIdentifier).
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub http_method: HttpMethod,
    /// Appended to `api_base_url`; `{param}` placeholders are path parameters.
    /// An absolute `https://` URL is also accepted.
    pub path: String,
    #[serde(default)]
    pub parameters: Vec<ParameterDefinition>,
    /// How `in = "body"` parameters are encoded.
    #[serde(default)]
    pub body_format: BodyFormat,
    /// The method changes data although it is a GET (or to say so explicitly): an agent
    /// calling it as an MCP tool needs approval. Every method other than GET is taken as
    /// changing data anyway.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub write: bool,
}

impl MethodDefinition {
    /// Whether calling it may change data (an agent needs approval): any method but GET,
    /// or one marked `write = true`.
    pub fn changes_data(&self) -> bool {
        self.write || self.http_method != HttpMethod::Get
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BodyFormat {
    /// One JSON object.
    #[default]
    Json,
    /// `application/x-www-form-urlencoded`.
    Form,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParameterDefinition {
    pub name: String,
    #[serde(rename = "in")]
    pub location: ParameterLocation,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParameterLocation {
    Path,
    Query,
    Header,
    Body,
}

fn is_header_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

impl ConnectorDefinition {
    /// Parses and validates one definition. `origin` names the file in errors.
    pub fn from_toml(origin: &str, text: &str) -> Result<Self> {
        if text.len() > MAX_DEFINITION_BYTES {
            return Err(validate::invalid_at(
                origin,
                "(file)",
                format!(
                    "is {} bytes; a definition may be at most {MAX_DEFINITION_BYTES}",
                    text.len()
                ),
            ));
        }
        let mut def: ConnectorDefinition = toml::from_str(text).map_err(|e| {
            // toml's message names the key and line; keep it but drop the echoed source
            // snippet, which can be long.
            let msg = e.message().to_string();
            let field = match e.span() {
                Some(span) => {
                    let line = text[..span.start.min(text.len())].lines().count().max(1);
                    format!("line {line}")
                }
                None => "(file)".to_string(),
            };
            validate::invalid_at(origin, &field, msg)
        })?;
        def.compiled = validate::check(&def, origin)?;
        validate::check_examples(&def, origin)?;
        if let Some(c) = &def.check {
            c.validate(origin)?;
        }
        if let Some(m) = &def.mcp {
            m.validate(origin)?;
        }
        if let Some(c) = &def.category {
            if !CATEGORIES.contains(&c.as_str()) {
                return Err(validate::invalid_at(
                    origin,
                    "category",
                    format!("must be one of {}", CATEGORIES.join(", ")),
                ));
            }
        }
        if let Some(d) = &def.verified_on {
            if chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_err() {
                return Err(validate::invalid_at(
                    origin,
                    "verified_on",
                    "must be a date written YYYY-MM-DD (the day the sources were last read)",
                ));
            }
        }
        Ok(def)
    }

    pub fn auth_type(&self) -> AuthType {
        self.auth.auth_type()
    }

    /// The default method's OAuth 2.0 settings, if it is OAuth 2.0.
    pub fn oauth2(&self) -> Option<&OAuth2Definition> {
        match &self.auth {
            AuthDefinition::Oauth2(o) => Some(o),
            _ => None,
        }
    }

    /// The way to authenticate at `index` ([`AuthMethod::index`]); the default when out of
    /// range.
    pub fn auth_definition(&self, index: usize) -> &AuthDefinition {
        match index {
            0 => &self.auth,
            i => self.auth_methods.get(i - 1).map_or(&self.auth, |m| &m.auth),
        }
    }

    /// Every way to authenticate: `[auth]` (id `default`) first, then `auth_methods`.
    pub fn auth_methods(&self) -> Vec<AuthMethod<'_>> {
        let mut all = vec![AuthMethod {
            index: 0,
            id: DEFAULT_AUTH_ID,
            name: self.auth.default_name(),
            description: "",
            auth: &self.auth,
        }];
        all.extend(
            self.auth_methods
                .iter()
                .enumerate()
                .map(|(i, m)| AuthMethod {
                    index: i + 1,
                    id: &m.id,
                    name: &m.name,
                    description: &m.description,
                    auth: &m.auth,
                }),
        );
        all
    }

    /// The method an account connector uses: by its id within the file (`None`: the
    /// default). `None` when the id names no method.
    pub fn auth_method(&self, id: Option<&str>) -> Option<AuthMethod<'_>> {
        let id = id.unwrap_or(DEFAULT_AUTH_ID);
        self.auth_methods().into_iter().find(|m| m.id == id)
    }

    /// Cyclr's `Authentication[].Id` of a method: a GUID derived from the connector and the
    /// method ids, so it is stable across installs, restarts and machines.
    pub fn authentication_guid(&self, method_id: &str) -> String {
        let digest = sha2::Sha256::digest(format!("{}\0{method_id}", self.id).as_bytes());
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .hyphenated()
            .to_string()
    }

    /// Finds a method by what an install names: Cyclr's `AuthenticationId` GUID, or the
    /// method's id in the file. A message listing the choices when nothing matches.
    pub fn find_auth_method(&self, reference: &str) -> std::result::Result<AuthMethod<'_>, String> {
        let reference = reference.trim();
        let all = self.auth_methods();
        all.iter()
            .copied()
            .find(|m| m.id == reference || self.authentication_guid(m.id).eq_ignore_ascii_case(reference))
            .ok_or_else(|| {
                let choices: Vec<String> = all
                    .iter()
                    .map(|m| format!("{} ({}, {})", self.authentication_guid(m.id), m.id, m.name))
                    .collect();
                format!(
                    "AuthenticationId does not name a way to authenticate with connector `{}`; it offers: {}",
                    self.id,
                    choices.join("; ")
                )
            })
    }

    /// A method by its id (Cyclr's MethodUniqueIdentifier), Cyclr's integer method Id
    /// ([`ConnectorDefinition::method_number`]) or its name.
    pub fn method(&self, reference: &str) -> Option<&MethodDefinition> {
        let number = reference.parse::<i64>().ok();
        self.methods
            .iter()
            .find(|m| m.id == reference)
            .or_else(|| {
                number.and_then(|n| self.methods.iter().find(|m| self.method_number(m) == n))
            })
            .or_else(|| self.methods.iter().find(|m| m.name == reference))
    }

    /// Cyclr's integer `Id` of a method: stable for this connector and method id.
    pub fn method_number(&self, m: &MethodDefinition) -> i64 {
        stable_id(&self.id, "method", &m.id)
    }

    /// Cyclr's integer `Id` of a method parameter (the keys of a call's `Parameters`).
    pub fn parameter_number(&self, m: &MethodDefinition, name: &str) -> i64 {
        stable_id(&self.id, &format!("parameter:{}", m.id), name)
    }

    pub fn property(&self, name: &str) -> Option<&PropertyDefinition> {
        self.properties.iter().find(|p| p.name == name)
    }

    /// Whether a property value must be sealed: declared secret, or one of the
    /// well-known secret names.
    pub fn is_secret_property(&self, name: &str) -> bool {
        self.property(name).is_some_and(|p| p.secret) || is_well_known_secret_name(name)
    }

    /// Where a property stands in this definition's URLs.
    pub fn slot_kinds(&self, name: &str) -> impl Iterator<Item = SlotKind> + '_ {
        self.compiled
            .slot_kinds
            .get(name)
            .into_iter()
            .flatten()
            .copied()
    }

    /// Checks a property value against every place it stands in a URL and the property's
    /// own `pattern` and `suffix`. Returns the value to store (a host name is trimmed and
    /// lowercased), or a message that says what is wrong and what a valid value looks
    /// like, without quoting the value.
    pub fn check_property_value(
        &self,
        name: &str,
        value: &str,
    ) -> std::result::Result<String, String> {
        let in_host = self.slot_kinds(name).any(SlotKind::is_host);
        let value = if in_host {
            value.trim_matches(' ').to_ascii_lowercase()
        } else {
            value.to_string()
        };
        let problem = self
            .slot_kinds(name)
            .try_for_each(|kind| template::check_kind(kind, &value))
            .and_then(|()| self.check_constraints(name, &value));
        match problem {
            Ok(()) => Ok(value),
            Err(problem) => Err(self.property_problem(name, &problem)),
        }
    }

    /// The property's own constraints (`pattern`, `suffix`).
    pub(crate) fn check_constraints(
        &self,
        name: &str,
        value: &str,
    ) -> std::result::Result<(), String> {
        let Some(p) = self.property(name) else {
            return Ok(());
        };
        if let Some(suffix) = &p.suffix {
            let v = value.to_ascii_lowercase();
            let s = suffix.to_ascii_lowercase();
            if !v.ends_with(&s) || v.len() == s.len() {
                return Err(format!("must end with `{suffix}`"));
            }
        }
        if let (Some(re), Some(pattern)) = (self.compiled.patterns.get(name), &p.pattern) {
            if !re.is_match(value) {
                return Err(format!("does not match the pattern `{pattern}`"));
            }
        }
        Ok(())
    }

    /// "property `X` <problem>; it must be <what>, e.g. <example>".
    pub(crate) fn property_problem(&self, name: &str, problem: &str) -> String {
        let mut wanted: Vec<String> = self
            .slot_kinds(name)
            .map(|k| k.describe().to_string())
            .collect();
        wanted.dedup();
        let p = self.property(name);
        if let Some(s) = p.and_then(|p| p.suffix.as_deref()) {
            wanted.push(format!("ending in `{s}`"));
        }
        if let Some(pattern) = p.and_then(|p| p.pattern.as_deref()) {
            wanted.push(format!("matching `{pattern}`"));
        }
        let mut out = format!("property `{name}` {problem}");
        if !wanted.is_empty() {
            out.push_str(&format!("; it must be {}", wanted.join(", ")));
        }
        if let Some(e) = p.and_then(|p| p.example.as_deref()) {
            out.push_str(&format!(", e.g. {e}"));
        }
        out
    }

    /// A property that alone chooses the host the client secret is sent to (the token,
    /// revocation or PAR endpoint's host is that property, with no `suffix` or `pattern`), if any.
    /// A library entry's ClientSecret, shared by every account connector, is not sent to
    /// such a host: one customer's property could otherwise send it anywhere.
    pub fn property_choosing_secret_host(&self) -> Option<&str> {
        self.compiled
            .endpoints
            .iter()
            .flat_map(|e| {
                [
                    e.token.as_ref(),
                    e.revoke.as_ref(),
                    e.par.as_ref(),
                    e.device.as_ref(),
                    e.request_token.as_ref(),
                ]
            })
            .flatten()
            .flat_map(|t| t.slots())
            .filter(|(_, kind)| *kind == SlotKind::Host)
            .find_map(|(name, _)| {
                let p = self.property(&name)?;
                (p.suffix.is_none() && p.pattern.is_none()).then_some(p.name.as_str())
            })
    }

    /// The URL template of an OAuth endpoint of the default method, if it has it.
    pub fn endpoint(&self, which: Endpoint) -> Option<&UrlTemplate> {
        self.method_endpoint(0, which)
    }

    /// The URL template of an OAuth endpoint of method `index` ([`AuthMethod::index`]).
    pub fn method_endpoint(&self, index: usize, which: Endpoint) -> Option<&UrlTemplate> {
        let e = self.compiled.endpoints.get(index)?;
        match which {
            Endpoint::Authorize => e.authorize.as_ref(),
            Endpoint::Token => e.token.as_ref(),
            Endpoint::Revoke => e.revoke.as_ref(),
            Endpoint::Par => e.par.as_ref(),
            Endpoint::Device => e.device.as_ref(),
            Endpoint::Jwks => e.jwks.as_ref(),
            Endpoint::RequestToken => e.request_token.as_ref(),
            Endpoint::Issuer => e.issuer.as_ref(),
        }
    }

    /// The full URL template of a method (API base URL + path, or its absolute path).
    pub fn method_url(&self, method: &MethodDefinition) -> Option<&UrlTemplate> {
        let i = self.methods.iter().position(|m| m.id == method.id)?;
        self.compiled.methods.get(i)
    }
}

/// Parses a definition once per distinct text for the life of the process: the library
/// re-reads definitions on every lookup, and parsing TOML dominated request latency.
pub fn parse_cached(origin: &str, text: &str) -> Result<std::sync::Arc<ConnectorDefinition>> {
    use std::collections::HashMap;
    use std::hash::{Hash, Hasher};
    use std::sync::{Arc, Mutex, OnceLock};
    type Cache = Mutex<HashMap<u64, (String, Arc<ConnectorDefinition>)>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut hasher);
    let key = hasher.finish();
    let cache = CACHE.get_or_init(Default::default);
    if let Some((cached_text, def)) = cache.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
        if cached_text == text {
            return Ok(def.clone());
        }
    }
    let def = Arc::new(ConnectorDefinition::from_toml(origin, text)?);
    let mut map = cache.lock().unwrap_or_else(|p| p.into_inner());
    if map.len() >= 1024 {
        map.clear();
    }
    map.insert(key, (text.to_string(), def.clone()));
    Ok(def)
}

/// Names whose values are always sealed, whatever the definition says.
/// The account connector property that holds an app's private key (PEM) for
/// `private_key_jwt` and the JWT bearer grant (a well-known secret name: always sealed).
pub const CLIENT_PRIVATE_KEY: &str = "ClientPrivateKey";

pub fn is_well_known_secret_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    [
        "secret",
        "password",
        "token",
        "apikey",
        "api_key",
        "privatekey",
    ]
    .iter()
    .any(|needle| lower.contains(needle))
}

/// A stable positive integer for a connector-scoped name (Cyclr's integer Ids of
/// parameters and methods): the same everywhere, for as long as the name is the same.
pub fn stable_id(connector_slug: &str, kind: &str, name: &str) -> i64 {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("{connector_slug}\0{kind}\0{name}").as_bytes());
    let n = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]) & 0x7fff_ffff;
    i64::from(n.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
id = "demo"
name = "Demo"
version = "1"
api_base_url = "https://{Subdomain}.example.com/api"
[auth]
type = "oauth2"
grant = "authorization_code"
authorize_url = "https://example.com/authorize"
token_url = "https://example.com/token"
scopes = ["read", "write"]
[[properties]]
name = "Subdomain"
required = true
[[methods]]
id = "get-item"
name = "Get Item"
http_method = "GET"
path = "/items/{item_id}"
[[methods.parameters]]
name = "item_id"
in = "path"
required = true
"#;

    #[test]
    fn parses_a_minimal_definition() {
        let d = ConnectorDefinition::from_toml("demo.toml", MINIMAL).unwrap();
        assert_eq!(d.auth_type(), AuthType::Oauth2);
        let o = d.oauth2().unwrap();
        assert!(o.pkce, "PKCE defaults to on");
        assert_eq!(o.client_auth, ClientAuth::Basic);
        assert_eq!(o.sign_in, SignInMode::Webview);
        assert_eq!(d.method("get-item").unwrap().name, "Get Item");
        assert_eq!(d.method("Get Item").unwrap().id, "get-item");
    }

    fn err_of(text: &str) -> String {
        ConnectorDefinition::from_toml("x.toml", text)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn errors_name_file_and_field() {
        let e = err_of(&MINIMAL.replace("token_url", "tokn_url"));
        assert!(e.contains("x.toml"), "{e}");
        assert!(e.contains("tokn_url"), "{e}");

        let e = err_of(&MINIMAL.replace("authorize_url = \"https://example.com/authorize\"\n", ""));
        assert!(e.contains("auth.authorize_url"), "{e}");

        let e = err_of(&MINIMAL.replace("{Subdomain}", "{Tenant}"));
        assert!(e.contains("api_base_url") && e.contains("Tenant"), "{e}");

        let e = err_of(&MINIMAL.replace("/items/{item_id}", "/items/{other}"));
        assert!(e.contains("methods[0].path"), "{e}");

        let e = err_of(&MINIMAL.replace("https://example.com/token", "ftp://example.com/token"));
        assert!(e.contains("auth.token_url") && e.contains("ftp"), "{e}");

        let e = err_of(&MINIMAL.replace("id = \"demo\"", "id = \"Demo Connector\""));
        assert!(e.contains(": id:"), "{e}");

        let e = err_of(&MINIMAL.replace("type = \"oauth2\"", "type = \"saml\""));
        assert!(e.contains("x.toml") && e.contains("saml"), "{e}");
    }

    #[test]
    fn captures_are_checked() {
        let with = |capture: &str| {
            MINIMAL.replace(
                "scopes = [\"read\", \"write\"]",
                &format!("scopes = [\"read\"]\n[auth.capture]\n{capture}"),
            )
        };
        assert!(ConnectorDefinition::from_toml(
            "x.toml",
            &with("Subdomain = \"token:instance_url|host\"")
        )
        .is_ok());
        let e = err_of(&with("Tenant = \"token:tenant\""));
        assert!(
            e.contains("auth.capture.Tenant") && e.contains("no declared property"),
            "{e}"
        );
        let e = err_of(&with("Subdomain = \"header:x\""));
        assert!(e.contains("auth.capture.Subdomain"), "{e}");
        let s = CaptureSource::parse("token:instance_url|host").unwrap();
        assert_eq!(
            s.value_of("https://acme.my.salesforce.com").as_deref(),
            Some("acme.my.salesforce.com")
        );
        assert_eq!(
            CaptureSource::parse("callback:realmId")
                .unwrap()
                .value_of("123")
                .as_deref(),
            Some("123")
        );
    }

    #[test]
    fn basic_auth_rejects_unknown_keys() {
        let text = "id = \"b\"\nname = \"B\"\nversion = \"1\"\n[auth]\ntype = \"basic\"\n";
        assert!(ConnectorDefinition::from_toml("b.toml", text).is_ok());
        let e = err_of(&format!("{text}username = \"x\"\n"));
        assert!(e.contains("username"), "{e}");
    }

    #[test]
    fn headers_are_checked() {
        let e = err_of(&MINIMAL.replace("[auth]", "[headers]\n\"Bad Header\" = \"x\"\n[auth]"));
        assert!(e.contains("headers.Bad Header"), "{e}");
        let e = err_of(&MINIMAL.replace("[auth]", "[headers]\nX-Tenant = \"{Tenant}\"\n[auth]"));
        assert!(
            e.contains("headers.X-Tenant") && e.contains("Tenant"),
            "{e}"
        );
        let ok = MINIMAL.replace("[auth]", "[headers]\nX-Tenant = \"{Subdomain}\"\n[auth]");
        assert!(ConnectorDefinition::from_toml("x.toml", &ok).is_ok());
    }

    #[test]
    fn password_grant_needs_username_and_password_properties() {
        let text = MINIMAL.replace("authorization_code", "password");
        let e = err_of(&text);
        assert!(e.contains("Username"), "{e}");
    }

    #[test]
    fn duplicate_method_ids_are_rejected() {
        let dup = format!(
            "{MINIMAL}\n[[methods]]\nid = \"get-item\"\nname = \"Again\"\nhttp_method = \"GET\"\npath = \"/x\"\n"
        );
        let e = err_of(&dup);
        assert!(e.contains("methods[1].id"), "{e}");
    }

    #[test]
    fn every_builtin_definition_loads() {
        let all = catalog::builtin().unwrap();
        assert!(all.len() >= 13, "catalog has {} entries", all.len());
        let mut ids = BTreeSet::new();
        for d in &all {
            assert!(ids.insert(d.id.clone()), "duplicate built-in id {}", d.id);
            assert!(
                !d.sources.is_empty() || d.id.starts_with("generic-"),
                "{} must say where its facts come from",
                d.id
            );
        }
        for kind in [AuthType::Oauth2, AuthType::ApiKey, AuthType::Basic] {
            assert!(
                all.iter().any(|d| d.auth_type() == kind),
                "no {kind:?} example"
            );
        }
    }

    #[test]
    fn the_documented_example_is_valid() {
        let doc = include_str!("../../../docs/connector-format.md");
        let start = doc.find("```toml\n").expect("docs have a TOML example") + 8;
        let end = start + doc[start..].find("```").unwrap();
        let d = ConnectorDefinition::from_toml("docs/connector-format.md", &doc[start..end])
            .unwrap_or_else(|e| panic!("the documented example does not load: {e}"));
        assert!(!d.methods.is_empty() && !d.properties.is_empty());
    }

    /// Slot values from the properties' examples; path parameters get "42".
    struct Examples<'a> {
        def: &'a ConnectorDefinition,
        overrides: BTreeMap<String, String>,
    }

    impl SlotValues for Examples<'_> {
        fn value(&self, name: &str, _kind: SlotKind) -> Option<String> {
            if let Some(v) = self.overrides.get(name) {
                return Some(v.clone());
            }
            match self.def.property(name) {
                Some(p) => p.example.clone(),
                None => Some("42".into()),
            }
        }

        fn check(&self, name: &str, value: &str) -> std::result::Result<(), String> {
            self.def.check_constraints(name, value)
        }
    }

    /// Every URL of every catalog connector: (field, template).
    fn all_templates(d: &ConnectorDefinition) -> Vec<(String, &UrlTemplate)> {
        let mut out = vec![];
        for e in [
            Endpoint::Authorize,
            Endpoint::Token,
            Endpoint::Revoke,
            Endpoint::Issuer,
        ] {
            if let Some(t) = d.endpoint(e) {
                out.push((e.field().to_string(), t));
            }
        }
        if let Some(t) = &d.compiled.api_base {
            out.push(("api_base_url".into(), t));
        }
        for m in &d.methods {
            out.push((format!("methods.{}", m.id), d.method_url(m).unwrap()));
        }
        out
    }

    const HOSTILE: &[&str] = &[
        "evil.example#",
        "evil.example/steal#",
        "a@evil.example",
        "127.0.0.1:1",
        "127.0.0.1",
        "x/../y",
        "%2F",
        "evil example",
        "evil.example\n",
        "\u{0435}vil.example",
        "evil.example:443",
        "[::1]",
        "",
    ];

    #[test]
    fn every_catalog_url_builds_with_sample_properties_and_refuses_injections() {
        for d in catalog::builtin().unwrap() {
            // Every property that stands in a URL says what a valid value looks like.
            for name in d.compiled.slot_kinds.keys() {
                assert!(
                    d.property(name).and_then(|p| p.example.as_ref()).is_some(),
                    "{}: property {name} is used in a URL but has no example",
                    d.id
                );
            }
            let samples = Examples {
                def: &d,
                overrides: BTreeMap::new(),
            };
            for (field, t) in all_templates(&d) {
                let url = t
                    .build(&samples)
                    .unwrap_or_else(|e| panic!("{} {field}: {e}", d.id));
                assert_eq!(url.scheme(), "https", "{} {field}: {url}", d.id);
                assert!(
                    !url.as_str().contains(['{', '}']),
                    "{} {field}: {url}",
                    d.id
                );
                // Hostile values in any slot: refused when written, and again when built
                // (a value stored before these checks existed).
                for (slot, kind) in t.slots() {
                    if d.property(&slot).is_none() {
                        continue;
                    }
                    for bad in HOSTILE {
                        if !kind.is_host() && !matches!(*bad, "" | "." | "..") {
                            continue; // path and query slots encode what they get
                        }
                        assert!(
                            d.check_property_value(&slot, bad).is_err(),
                            "{} {slot}: {bad:?} accepted when written",
                            d.id
                        );
                        let hostile = Examples {
                            def: &d,
                            overrides: [(slot.clone(), bad.to_string())].into(),
                        };
                        assert!(
                            t.build(&hostile).is_err(),
                            "{} {field}: {slot}={bad:?} built a URL",
                            d.id
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn property_constraints_name_the_property_and_show_an_example() {
        let shopify = catalog::builtin()
            .unwrap()
            .into_iter()
            .find(|d| d.id == "shopify")
            .unwrap();
        let e = shopify
            .check_property_value("ShopDomain", "evil.example")
            .unwrap_err();
        assert!(
            e.contains("ShopDomain") && e.contains("acme.myshopify.com"),
            "{e}"
        );
        assert!(!e.contains("evil.example"), "the value is echoed: {e}");
        assert_eq!(
            shopify
                .check_property_value("ShopDomain", " Acme.MyShopify.com ")
                .unwrap(),
            "acme.myshopify.com"
        );
        let zendesk = catalog::builtin()
            .unwrap()
            .into_iter()
            .find(|d| d.id == "zendesk")
            .unwrap();
        let e = zendesk
            .check_property_value("Subdomain", "evil.example.com/x")
            .unwrap_err();
        assert!(e.contains("one DNS label"), "{e}");
    }

    #[test]
    fn templated_issuers_and_absolute_method_paths_are_filled() {
        let d = catalog::builtin()
            .unwrap()
            .into_iter()
            .find(|d| d.id == "generic-oauth2")
            .unwrap();
        let samples = Examples {
            def: &d,
            overrides: BTreeMap::new(),
        };
        let userinfo = d.method_url(d.method("get-userinfo").unwrap()).unwrap();
        assert_eq!(
            userinfo.render(&samples).unwrap(),
            "https://login.example.com/oauth2/userInfo"
        );
        let text = MINIMAL.replace(
            "scopes = [\"read\", \"write\"]",
            "scopes = [\"read\"]\nissuer = \"https://{Subdomain}.example.com\"",
        );
        let d = ConnectorDefinition::from_toml("x.toml", &text).unwrap();
        let issuer = d.endpoint(Endpoint::Issuer).unwrap();
        let values = Examples {
            def: &d,
            overrides: [("Subdomain".to_string(), "acme".to_string())].into(),
        };
        assert_eq!(issuer.render(&values).unwrap(), "https://acme.example.com");
    }

    #[test]
    fn definitions_cannot_template_what_must_stay_fixed() {
        let e = err_of(&MINIMAL.replace(
            "path = \"/items/{item_id}\"",
            "path = \"https://{item_id}/items\"",
        ));
        assert!(e.contains("only properties may stand for a host"), "{e}");
        let e = err_of(&MINIMAL.replace(
            "https://{Subdomain}.example.com/api",
            "https://example.com:{Subdomain}/api",
        ));
        assert!(e.contains("port"), "{e}");
        let e = err_of(&MINIMAL.replace(
            "name = \"Subdomain\"\nrequired = true",
            "name = \"Subdomain\"\nrequired = true\npattern = \"[a-z\"",
        ));
        assert!(e.contains("properties[0].pattern"), "{e}");
        let e = err_of(&MINIMAL.replace(
            "name = \"Subdomain\"\nrequired = true",
            "name = \"Subdomain\"\nrequired = true\nexample = \"a.b\"",
        ));
        assert!(e.contains("properties[0].example"), "{e}");
    }

    #[test]
    fn pkce_is_on_unless_the_file_says_why_not() {
        for (file, text) in catalog::builtin_sources() {
            let d = ConnectorDefinition::from_toml(file, text).unwrap();
            if let Some(o) = d.oauth2() {
                if o.grant == OAuth2Grant::AuthorizationCode && !o.pkce {
                    assert!(
                        text.contains("PKCE is off (") && text.contains("known to break"),
                        "{file}: PKCE is off without saying why the provider is known to reject it"
                    );
                }
            }
        }
    }

    #[test]
    fn secret_property_names() {
        let d = ConnectorDefinition::from_toml("demo.toml", MINIMAL).unwrap();
        assert!(d.is_secret_property("ClientSecret"));
        assert!(d.is_secret_property("Password"));
        assert!(!d.is_secret_property("ClientId"));
        assert!(!d.is_secret_property("Subdomain"));
    }
}
