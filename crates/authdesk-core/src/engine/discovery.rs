//! A connector definition from an issuer URL: OpenID Connect Discovery 1.0, falling back to
//! OAuth 2.0 Authorization Server Metadata (RFC 8414). The metadata's `issuer` must equal
//! the URL asked for (both specs require it), so a document cannot claim another issuer.
//!
//! Must not: add the definition to the library (the caller does, `Authdesk::add_connector`),
//! or follow a redirect (it uses the strict client).

use serde::Deserialize;

use super::http::{read_capped, HttpFailure, MAX_TOKEN_RESPONSE};
use super::Engine;
use crate::definition::{
    AuthDefinition, ClientAuth, ConnectorDefinition, HttpMethod, MethodDefinition,
    OAuth2Definition, OAuth2Grant, SignInMode,
};
use crate::error::{Error, Result};

#[derive(Debug, Deserialize)]
struct Metadata {
    issuer: String,
    authorization_endpoint: Option<String>,
    token_endpoint: Option<String>,
    revocation_endpoint: Option<String>,
    userinfo_endpoint: Option<String>,
    #[serde(default)]
    scopes_supported: Option<Vec<String>>,
    #[serde(default)]
    code_challenge_methods_supported: Option<Vec<String>>,
    #[serde(default)]
    token_endpoint_auth_methods_supported: Option<Vec<String>>,
    #[serde(default)]
    authorization_response_iss_parameter_supported: bool,
    /// RFC 8628.
    #[serde(default)]
    device_authorization_endpoint: Option<String>,
    /// RFC 9449.
    #[serde(default)]
    dpop_signing_alg_values_supported: Option<Vec<String>>,
    /// RFC 9126.
    #[serde(default)]
    pushed_authorization_request_endpoint: Option<String>,
    #[serde(default)]
    jwks_uri: Option<String>,
    #[serde(default)]
    require_pushed_authorization_requests: bool,
}

/// A discovered definition and its TOML text (what `connectors add` would store).
#[derive(Debug, Clone)]
pub struct Discovered {
    pub definition: ConnectorDefinition,
    pub toml: String,
}

impl Engine {
    pub async fn discover(
        &self,
        issuer: &str,
        id: Option<&str>,
        name: Option<&str>,
    ) -> Result<Discovered> {
        let issuer = issuer.trim();
        let parsed = url::Url::parse(issuer).map_err(|e| {
            Error::InvalidInput(format!(
                "the issuer {issuer:?} is not an absolute URL ({e})"
            ))
        })?;
        let trimmed = issuer.trim_end_matches('/');
        let path = parsed.path().trim_end_matches('/');
        let mut origin = parsed.clone();
        origin.set_path("");
        let origin = origin.as_str().trim_end_matches('/').to_string();
        let candidates = [
            format!("{trimmed}/.well-known/openid-configuration"),
            format!("{origin}/.well-known/oauth-authorization-server{path}"),
        ];
        let mut last_problem = String::new();
        let mut found = None;
        for url in &candidates {
            match self.fetch_metadata(url).await {
                Ok(m) => {
                    found = Some(m);
                    break;
                }
                Err(problem) => last_problem = format!("{url}: {problem}"),
            }
        }
        let m = found.ok_or_else(|| Error::Http {
            what: format!("discovery for {issuer}"),
            message: last_problem,
        })?;
        if m.issuer.trim_end_matches('/') != trimmed {
            return Err(Error::InvalidInput(format!(
                "the metadata at {issuer} names another issuer ({}); refusing it",
                m.issuer
            )));
        }
        let token_url = m.token_endpoint.ok_or_else(|| {
            Error::InvalidInput(format!("the metadata of {issuer} has no token_endpoint"))
        })?;
        let has_scope = |s: &str| {
            m.scopes_supported
                .as_ref()
                .is_some_and(|l| l.iter().any(|x| x == s))
        };
        let mut scopes = vec![];
        for s in ["openid", "offline_access"] {
            if has_scope(s) {
                scopes.push(s.to_string());
            }
        }
        let methods = m
            .token_endpoint_auth_methods_supported
            .unwrap_or_else(|| vec!["client_secret_basic".into()]);
        // The first the provider takes, plainest first: a secret in a header, in the body,
        // then signed assertions; a public client only when that is all it takes.
        let client_auth = [
            ClientAuth::Basic,
            ClientAuth::Body,
            ClientAuth::PrivateKeyJwt,
            ClientAuth::ClientSecretJwt,
        ]
        .into_iter()
        .find(|a| methods.iter().any(|x| x == a.metadata_name()))
        .unwrap_or(ClientAuth::None);
        let host = parsed.host_str().unwrap_or("issuer").to_string();
        let slug = id.map(str::to_string).unwrap_or_else(|| {
            let s: String = host
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_lowercase()
                    } else {
                        '-'
                    }
                })
                .collect();
            format!("oidc-{}", s.trim_matches('-'))
        });
        let methods = m
            .userinfo_endpoint
            .map(|u| MethodDefinition {
                id: "userinfo".into(),
                name: "UserInfo".into(),
                description: "The signed-in user's claims (OpenID Connect UserInfo).".into(),
                http_method: HttpMethod::Get,
                path: u,
                parameters: vec![],
                body_format: Default::default(),
                write: false,
            })
            .into_iter()
            .collect();
        let definition = ConnectorDefinition {
            id: slug,
            name: name
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(str::to_string)
                .unwrap_or_else(|| provider_name(&parsed)),
            version: "1".into(),
            description: format!("Discovered from {issuer}"),
            sources: vec![candidates[0].clone()],
            category: None,
            verified_on: None,
            api_base_url: None,
            headers: Default::default(),
            auth: AuthDefinition::Oauth2(OAuth2Definition {
                grant: OAuth2Grant::AuthorizationCode,
                authorize_url: m.authorization_endpoint,
                token_url,
                revoke_url: m.revocation_endpoint,
                // Pushed only where the provider requires it; the endpoint is kept so a
                // user can switch `par` on.
                par: m.require_pushed_authorization_requests
                    && m.pushed_authorization_request_endpoint.is_some(),
                pushed_authorization_request_url: m.pushed_authorization_request_endpoint,
                issuer: Some(m.issuer.clone()),
                device_authorization_url: m.device_authorization_endpoint,
                jwks_url: m.jwks_uri,
                // Bound to a key where the provider takes the proofs Authdesk makes.
                dpop: if m
                    .dpop_signing_alg_values_supported
                    .as_ref()
                    .is_some_and(|algs| algs.iter().any(|a| a == "ES256"))
                {
                    crate::definition::DpopSetting::Auto
                } else {
                    crate::definition::DpopSetting::Off
                },
                assertion_issuer: None,
                assertion_subject: None,
                assertion_audience: None,
                issuer_in_response: m.authorization_response_iss_parameter_supported,
                scopes,
                scope_separator: " ".into(),
                // Absent means "not advertised"; many providers take S256 anyway, and a
                // provider that cannot is the exception a user can switch off.
                pkce: m
                    .code_challenge_methods_supported
                    .is_none_or(|l| l.iter().any(|x| x == "S256")),
                client_auth,
                authorize_params: Default::default(),
                token_params: Default::default(),
                sign_in: SignInMode::Webview,
                token_header: "Authorization".into(),
                token_prefix: "Bearer ".into(),
                capture: Default::default(),
                refresh_margin_seconds: None,
            }),
            auth_methods: vec![],
            properties: vec![],
            methods,
            check: None,
            mcp: None,
            compiled: Default::default(),
        };
        let toml = toml::to_string(&definition).map_err(|e| {
            Error::InvalidInput(format!("cannot write the discovered definition: {e}"))
        })?;
        let toml =
            format!("# Discovered from {issuer}. Review scopes and methods before use.\n{toml}");
        // What we wrote must load like any definition.
        let definition =
            ConnectorDefinition::from_toml(&format!("discovered from {issuer}"), &toml)?;
        Ok(Discovered { definition, toml })
    }

    /// A metadata document as JSON (what `dpop = "auto"` reads).
    pub(super) async fn fetch_metadata_value(
        &self,
        url: &str,
    ) -> std::result::Result<serde_json::Value, String> {
        let response = self
            .http
            .strict
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| HttpFailure::from_reqwest(&e).to_string())?;
        if !response.status().is_success() {
            return Err(format!("HTTP {}", response.status().as_u16()));
        }
        let bytes = super::http::read_capped(response, 256 * 1024)
            .await
            .map_err(|e| e.to_string())?;
        serde_json::from_slice(&bytes).map_err(|_| "not JSON".to_string())
    }

    async fn fetch_metadata(&self, url: &str) -> std::result::Result<Metadata, String> {
        let response = self
            .http
            .strict
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| HttpFailure::from_reqwest(&e).to_string())?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("HTTP {}", status.as_u16()));
        }
        let body = read_capped(response, MAX_TOKEN_RESPONSE)
            .await
            .map_err(|e| e.to_string())?;
        serde_json::from_slice(&body).map_err(|e| format!("not a metadata document ({e})"))
    }
}

/// A name for a provider known only by its issuer URL: the organisation's label of the
/// host (`login.example.com` → Example, `auth.example.co.uk` → Example), or "Provider at"
/// an address for an IP or localhost issuer.
pub fn provider_name(issuer: &url::Url) -> String {
    let host = issuer.host_str().unwrap_or("issuer");
    let is_domain = matches!(issuer.host(), Some(url::Host::Domain(_))) && host != "localhost";
    if !is_domain {
        return match issuer.port() {
            Some(p) => format!("Provider at {host}:{p}"),
            None => format!("Provider at {host}"),
        };
    }
    let labels: Vec<&str> = host.split('.').filter(|l| !l.is_empty()).collect();
    let n = labels.len();
    let second_level = ["co", "com", "org", "net", "ac", "gov", "edu"];
    let main = match n {
        0 => host,
        1 => labels[0],
        _ if n >= 3 && labels[n - 1].len() == 2 && second_level.contains(&labels[n - 2]) => {
            labels[n - 3]
        }
        _ => labels[n - 2],
    };
    let mut chars = main.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => host.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::provider_name;

    #[test]
    fn providers_are_named_after_their_organisation() {
        let name = |u: &str| provider_name(&url::Url::parse(u).unwrap());
        assert_eq!(name("https://login.example.com"), "Example");
        assert_eq!(name("https://accounts.google.com"), "Google");
        assert_eq!(name("https://dev-123.okta.com/oauth2/default"), "Okta");
        assert_eq!(name("https://auth.example.co.uk/"), "Example");
        assert_eq!(name("http://127.0.0.1:4000"), "Provider at 127.0.0.1:4000");
        assert_eq!(name("http://localhost:8080"), "Provider at localhost:8080");
        assert_eq!(name("https://[::1]:9000"), "Provider at [::1]:9000");
    }
}
