//! Connector definitions: connectors are *data*.
//!
//! One TOML file describes one connector (its auth kind, endpoints, methods and the
//! account-connector properties it needs). Only the auth *kind* is code; adding a provider
//! is adding a file. The format is documented in `docs/connector-format.md`.
//!
//! Every definition is checked when it is loaded: unknown keys, missing endpoints, bad
//! URLs, placeholders naming undeclared properties, duplicate method ids. Errors name the
//! file and the field.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Largest definition file we accept (a definition is a few KiB; this stops accidents).
pub const MAX_DEFINITION_BYTES: usize = 256 * 1024;

/// A connector definition, as parsed from its TOML file.
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
    /// Base URL for method paths. May contain `{Property}` placeholders.
    #[serde(default)]
    pub api_base_url: Option<String>,
    /// Headers sent with every method call (e.g. `Accept`, `User-Agent`, an API version).
    /// Values may contain `{Property}` placeholders; secrets do not belong here.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    pub auth: AuthDefinition,
    /// Account connector properties this connector needs.
    #[serde(default)]
    pub properties: Vec<PropertyDefinition>,
    #[serde(default)]
    pub methods: Vec<MethodDefinition>,
}

/// How a connector authenticates. The variant is the `type` key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum AuthDefinition {
    Oauth2(OAuth2Definition),
    ApiKey(ApiKeyDefinition),
    Basic {},
    None {},
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthType {
    Oauth2,
    ApiKey,
    Basic,
    None,
}

impl AuthType {
    /// Cyclr's spelling, as shown to users and in the API.
    pub fn cyclr_name(self) -> &'static str {
        match self {
            AuthType::Oauth2 => "OAuth2",
            AuthType::ApiKey => "ApiKey",
            AuthType::Basic => "Basic",
            AuthType::None => "None",
        }
    }
}

impl AuthDefinition {
    pub fn auth_type(&self) -> AuthType {
        match self {
            AuthDefinition::Oauth2(_) => AuthType::Oauth2,
            AuthDefinition::ApiKey(_) => AuthType::ApiKey,
            AuthDefinition::Basic {} => AuthType::Basic,
            AuthDefinition::None {} => AuthType::None,
        }
    }
}

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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyDefinition {
    pub placement: ApiKeyPlacement,
    /// Header or query parameter name.
    pub name: String,
    /// Put before the key, e.g. `"Bearer "`.
    #[serde(default)]
    pub prefix: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApiKeyPlacement {
    Header,
    Query,
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

fn is_header_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

impl ConnectorDefinition {
    /// Parses and validates one definition. `origin` names the file in errors.
    pub fn from_toml(origin: &str, text: &str) -> Result<Self> {
        if text.len() > MAX_DEFINITION_BYTES {
            return Err(invalid(
                origin,
                "(file)",
                format!(
                    "is {} bytes; a definition may be at most {MAX_DEFINITION_BYTES}",
                    text.len()
                ),
            ));
        }
        let def: ConnectorDefinition = toml::from_str(text).map_err(|e| {
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
            invalid(origin, &field, msg)
        })?;
        def.validate(origin)?;
        Ok(def)
    }

    pub fn auth_type(&self) -> AuthType {
        self.auth.auth_type()
    }

    pub fn oauth2(&self) -> Option<&OAuth2Definition> {
        match &self.auth {
            AuthDefinition::Oauth2(o) => Some(o),
            _ => None,
        }
    }

    pub fn method(&self, id_or_name: &str) -> Option<&MethodDefinition> {
        self.methods
            .iter()
            .find(|m| m.id == id_or_name)
            .or_else(|| self.methods.iter().find(|m| m.name == id_or_name))
    }

    pub fn property(&self, name: &str) -> Option<&PropertyDefinition> {
        self.properties.iter().find(|p| p.name == name)
    }

    /// Whether a property value must be sealed: declared secret, or one of the
    /// well-known secret names.
    pub fn is_secret_property(&self, name: &str) -> bool {
        self.property(name).is_some_and(|p| p.secret) || is_well_known_secret_name(name)
    }

    fn validate(&self, origin: &str) -> Result<()> {
        let slug_ok = !self.id.is_empty()
            && self.id.len() <= 64
            && self
                .id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !slug_ok {
            return Err(invalid(
                origin,
                "id",
                "must be 1-64 characters of lowercase letters, digits and '-'",
            ));
        }
        if self.name.trim().is_empty() {
            return Err(invalid(origin, "name", "must not be empty"));
        }
        if self.version.trim().is_empty() {
            return Err(invalid(origin, "version", "must not be empty"));
        }

        let mut property_names = BTreeSet::new();
        for (i, p) in self.properties.iter().enumerate() {
            if !is_identifier(&p.name) {
                return Err(invalid(
                    origin,
                    &format!("properties[{i}].name"),
                    "must be letters, digits and '_' (it is used as a {placeholder})",
                ));
            }
            if !property_names.insert(p.name.as_str()) {
                return Err(invalid(
                    origin,
                    &format!("properties[{i}].name"),
                    format!("`{}` is declared twice", p.name),
                ));
            }
        }
        let check_url = |field: &str, value: &str| -> Result<()> {
            check_template_url(origin, field, value, &property_names)
        };

        if let Some(base) = &self.api_base_url {
            check_url("api_base_url", base)?;
        }
        for (name, value) in &self.headers {
            let field = format!("headers.{name}");
            if !is_header_name(name) {
                return Err(invalid(origin, &field, "is not a valid HTTP header name"));
            }
            if value.chars().any(char::is_control) {
                return Err(invalid(
                    origin,
                    &field,
                    "must not contain control characters",
                ));
            }
            for ph in placeholders(value).map_err(|e| invalid(origin, &field, e))? {
                if !property_names.contains(ph.as_str()) {
                    return Err(invalid(
                        origin,
                        &field,
                        format!("placeholder {{{ph}}} names no declared property"),
                    ));
                }
            }
        }
        match &self.auth {
            AuthDefinition::Oauth2(o) => {
                check_url("auth.token_url", &o.token_url)?;
                match (&o.authorize_url, o.grant) {
                    (Some(a), _) => check_url("auth.authorize_url", a)?,
                    (None, OAuth2Grant::AuthorizationCode) => {
                        return Err(invalid(
                            origin,
                            "auth.authorize_url",
                            "is required for grant = \"authorization_code\"",
                        ))
                    }
                    (None, _) => {}
                }
                if let Some(r) = &o.revoke_url {
                    check_url("auth.revoke_url", r)?;
                }
                if let Some(iss) = &o.issuer {
                    check_url("auth.issuer", iss)?;
                }
                if o.issuer_in_response && o.issuer.is_none() {
                    return Err(invalid(
                        origin,
                        "auth.issuer",
                        "is required when issuer_in_response = true",
                    ));
                }
                if !is_header_name(&o.token_header) {
                    return Err(invalid(
                        origin,
                        "auth.token_header",
                        "is not a valid HTTP header name",
                    ));
                }
                for (name, source) in &o.capture {
                    let field = format!("auth.capture.{name}");
                    if !property_names.contains(name.as_str()) {
                        return Err(invalid(origin, &field, "names no declared property"));
                    }
                    CaptureSource::parse(source).map_err(|e| invalid(origin, &field, e))?;
                }
                if o.scope_separator.is_empty() {
                    return Err(invalid(origin, "auth.scope_separator", "must not be empty"));
                }
                if let Some(s) = o
                    .scopes
                    .iter()
                    .find(|s| s.is_empty() || s.contains(o.scope_separator.as_str()))
                {
                    return Err(invalid(
                        origin,
                        "auth.scopes",
                        format!("scope `{s}` is empty or contains the scope separator"),
                    ));
                }
                if o.grant == OAuth2Grant::Password {
                    for needed in ["Username", "Password"] {
                        if !property_names.contains(needed) {
                            return Err(invalid(
                                origin,
                                "properties",
                                format!("grant = \"password\" needs a `{needed}` property"),
                            ));
                        }
                    }
                }
            }
            AuthDefinition::ApiKey(k) => {
                let valid = match k.placement {
                    ApiKeyPlacement::Header => is_header_name(&k.name),
                    ApiKeyPlacement::Query => !k.name.trim().is_empty(),
                };
                if !valid {
                    return Err(invalid(
                        origin,
                        "auth.name",
                        "must be a valid header or query parameter name",
                    ));
                }
            }
            AuthDefinition::Basic {} | AuthDefinition::None {} => {}
        }

        if !self.methods.is_empty() && self.api_base_url.is_none() {
            let relative = self.methods.iter().position(|m| !is_absolute(&m.path));
            if let Some(i) = relative {
                return Err(invalid(
                    origin,
                    &format!("methods[{i}].path"),
                    "is relative but the connector has no api_base_url",
                ));
            }
        }
        let mut method_ids = BTreeSet::new();
        for (i, m) in self.methods.iter().enumerate() {
            let at = |f: &str| format!("methods[{i}].{f}");
            if m.id.is_empty()
                || !m
                    .id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
            {
                return Err(invalid(
                    origin,
                    &at("id"),
                    "must be letters, digits, '-', '_' or '.'",
                ));
            }
            if !method_ids.insert(m.id.as_str()) {
                return Err(invalid(
                    origin,
                    &at("id"),
                    format!("`{}` is used by two methods", m.id),
                ));
            }
            if m.name.trim().is_empty() {
                return Err(invalid(origin, &at("name"), "must not be empty"));
            }
            if is_absolute(&m.path) {
                let mut probe = m.path.clone();
                for ph in placeholders(&m.path).map_err(|e| invalid(origin, &at("path"), e))? {
                    probe = probe.replace(&format!("{{{ph}}}"), "x");
                }
                check_template_url(origin, &at("path"), &probe, &property_names)?;
            } else if !m.path.starts_with('/') {
                return Err(invalid(
                    origin,
                    &at("path"),
                    "must start with '/' or be an absolute https:// URL",
                ));
            }
            let mut param_names = BTreeSet::new();
            for (j, p) in m.parameters.iter().enumerate() {
                let field = format!("methods[{i}].parameters[{j}].name");
                if p.name.is_empty() || !param_names.insert(p.name.as_str()) {
                    return Err(invalid(
                        origin,
                        &field,
                        "must be non-empty and unique within the method",
                    ));
                }
                if p.location == ParameterLocation::Header && !is_header_name(&p.name) {
                    return Err(invalid(origin, &field, "is not a valid HTTP header name"));
                }
            }
            let placeholders =
                placeholders(&m.path).map_err(|e| invalid(origin, &at("path"), e))?;
            for ph in &placeholders {
                let declared = m
                    .parameters
                    .iter()
                    .any(|p| p.name == *ph && p.location == ParameterLocation::Path);
                if !declared && !property_names.contains(ph.as_str()) {
                    return Err(invalid(
                        origin,
                        &at("path"),
                        format!("placeholder {{{ph}}} is neither a path parameter nor a property"),
                    ));
                }
            }
            for (j, p) in m.parameters.iter().enumerate() {
                if p.location == ParameterLocation::Path && !placeholders.contains(&p.name) {
                    return Err(invalid(
                        origin,
                        &format!("methods[{i}].parameters[{j}]"),
                        format!("path parameter `{}` does not appear in path", p.name),
                    ));
                }
            }
        }
        Ok(())
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

fn is_absolute(path: &str) -> bool {
    path.starts_with("https://") || path.starts_with("http://")
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// `{name}` placeholders in a template, in order.
pub fn placeholders(template: &str) -> std::result::Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        let end = after
            .find('}')
            .ok_or_else(|| "has a '{' without a closing '}'".to_string())?;
        let name = &after[..end];
        if !is_identifier(name) {
            return Err(format!("placeholder {{{name}}} is not a simple name"));
        }
        out.push(name.to_string());
        rest = &after[end + 1..];
    }
    if rest.contains('}') {
        return Err("has a '}' without an opening '{'".to_string());
    }
    Ok(out)
}

fn check_template_url(
    origin: &str,
    field: &str,
    value: &str,
    properties: &BTreeSet<&str>,
) -> Result<()> {
    let names = placeholders(value).map_err(|e| invalid(origin, field, e))?;
    for n in &names {
        if !properties.contains(n.as_str()) {
            return Err(invalid(
                origin,
                field,
                format!("placeholder {{{n}}} names no declared property"),
            ));
        }
    }
    // Substitute a harmless value so the URL shape can be checked.
    let mut probe = value.to_string();
    for n in &names {
        probe = probe.replace(&format!("{{{n}}}"), "x");
    }
    let url = url::Url::parse(&probe)
        .map_err(|e| invalid(origin, field, format!("is not an absolute URL ({e})")))?;
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        other => Err(invalid(
            origin,
            field,
            format!("uses scheme `{other}`; use https (http only for loopback test servers)"),
        )),
    }
}

fn invalid(origin: &str, field: &str, message: impl Into<String>) -> Error {
    Error::InvalidDefinition {
        origin: origin.to_string(),
        field: field.to_string(),
        message: message.into(),
    }
}

/// The built-in catalog, embedded in the binary.
pub mod catalog {
    use super::*;

    include!(concat!(env!("OUT_DIR"), "/catalog.rs"));

    /// Every built-in definition, parsed and validated. A broken built-in is a build
    /// defect; the test suite loads them all.
    pub fn builtin() -> Result<Vec<ConnectorDefinition>> {
        BUILTIN
            .iter()
            .map(|(file, text)| ConnectorDefinition::from_toml(&format!("builtin:{file}"), text))
            .collect()
    }

    /// The raw text of the built-in catalog, used to detect a changed catalog cheaply.
    pub fn builtin_sources() -> &'static [(&'static str, &'static str)] {
        BUILTIN
    }
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

    #[test]
    fn secret_property_names() {
        let d = ConnectorDefinition::from_toml("demo.toml", MINIMAL).unwrap();
        assert!(d.is_secret_property("ClientSecret"));
        assert!(d.is_secret_property("Password"));
        assert!(!d.is_secret_property("ClientId"));
        assert!(!d.is_secret_property("Subdomain"));
    }
}
