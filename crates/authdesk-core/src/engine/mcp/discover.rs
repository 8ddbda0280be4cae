//! `authdesk connectors add-mcp URL`: an MCP server made a connector, as the MCP
//! authorization specification (2025-11-25) has a client find its way: an unauthenticated
//! `initialize` answered 401 with `WWW-Authenticate: Bearer resource_metadata="..."` (or the
//! well-known URLs when the header names none) leads to the protected resource metadata
//! (RFC 9728), whose `resource` must be the server's canonical URL; its first authorization
//! server's metadata (RFC 8414, or OpenID Connect discovery) must promise PKCE S256; the
//! client is the ClientId the user gives or one registered here (RFC 7591: `client_name`
//! Authdesk, the redirect URIs of the webview and loopback sign-ins, `client_secret_basic`
//! or `none` as the server offers). The definition asks for `resource` (RFC 8707) on the
//! authorization and every token request. A server that answers `initialize` without asking
//! for a token gets a connector without auth.
//!
//! Must not: store anything (the caller does, `Authdesk::add_mcp_connector`, in one
//! transaction), follow a redirect, or accept an authorization server on another origin
//! over plain http.

use serde_json::{json, Value};

use super::super::http::{read_capped, HttpFailure};
use super::super::Engine;
use crate::definition::mcp::canonical_resource;
use crate::definition::ConnectorDefinition;
use crate::error::{Error, Result};
use crate::mcp::{self, BearerChallenge};
use crate::secret::Secret;
use crate::service::mcp::McpClient;

/// What the user gives besides the URL.
#[derive(Default)]
pub struct McpAddOptions {
    pub id: Option<String>,
    pub name: Option<String>,
    /// A client registered by hand; without it Authdesk registers one (RFC 7591).
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
    /// Redirect URIs to register (the webview's and the loopback sign-in's).
    pub redirect_uris: Vec<String>,
}

/// The connector made for an MCP server: its definition (and TOML text) and its client.
pub struct McpDiscovered {
    pub definition: ConnectorDefinition,
    pub toml: String,
    pub client: Option<McpClient>,
    /// Where the protected resource metadata was read (none for a server without auth).
    pub resource_metadata: Option<String>,
}

impl Engine {
    /// Finds how to sign in to the MCP server at `url` and makes its connector (see the
    /// module). Registers a client when none is given; stores nothing.
    pub async fn discover_mcp(&self, url: &str, opts: &McpAddOptions) -> Result<McpDiscovered> {
        let resource = canonical_resource(url)
            .map_err(|m| Error::InvalidInput(format!("the MCP server's URL: {m}")))?;
        let probe = self.probe_mcp(&resource).await?;
        let Some(challenge) = probe else {
            return definition(opts, &resource, None, None, None, None);
        };
        let (prm_url, prm) = self
            .protected_resource_metadata(&resource, &challenge)
            .await?;
        let named = prm["resource"].as_str().unwrap_or_default();
        if canonical_resource(named).ok().as_deref() != Some(resource.as_str()) {
            return Err(Error::InvalidInput(format!(
                "the protected resource metadata at {prm_url} is for {named:?}, not {resource}: \
                 refusing it (RFC 9728 §3.3); nothing was added"
            )));
        }
        let issuer = prm["authorization_servers"]
            .as_array()
            .and_then(|a| a.first())
            .and_then(Value::as_str)
            .ok_or_else(|| {
                Error::InvalidInput(format!(
                    "the protected resource metadata at {prm_url} names no authorization_servers; \
                     nothing was added"
                ))
            })?
            .to_string();
        check_origin(&resource, &issuer, "its authorization server")?;
        let meta = self.authorization_server_metadata(&issuer).await?;
        for field in [
            "authorization_endpoint",
            "token_endpoint",
            "registration_endpoint",
        ] {
            if let Some(u) = meta[field].as_str() {
                check_origin(&issuer, u, field)?;
            }
        }
        let pkce = meta["code_challenge_methods_supported"]
            .as_array()
            .is_some_and(|l| l.iter().any(|m| m == "S256"));
        if !pkce {
            return Err(Error::InvalidInput(format!(
                "the authorization server {issuer} does not promise PKCE S256 \
                 (code_challenge_methods_supported), which MCP requires; nothing was added"
            )));
        }
        let scopes: Vec<String> = match &challenge.scope {
            Some(s) => s
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            None => prm["scopes_supported"]
                .as_array()
                .map(|l| {
                    l.iter()
                        .filter_map(|s| s.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
        };
        let client = match &opts.client_id {
            Some(id) => McpClient {
                client_id: id.trim().to_string(),
                client_secret: opts.client_secret.clone(),
                registration_access_token: None,
                registration_client_uri: None,
                registered: false,
            },
            None => self.register_client(&issuer, &meta, opts).await?,
        };
        let server = Server {
            issuer,
            meta,
            scopes,
            public: client.client_secret.is_none(),
        };
        let mut found = definition(
            opts,
            &resource,
            Some(&server),
            prm["resource_name"].as_str(),
            Some(&prm_url),
            Some(client),
        )?;
        found.resource_metadata = Some(prm_url);
        Ok(found)
    }

    /// An unauthenticated `initialize`: `None` when the server answers it (no auth needed),
    /// the Bearer challenge when it asks for a token; anything else is not MCP.
    async fn probe_mcp(&self, resource: &str) -> Result<Option<BearerChallenge>> {
        let body = mcp::request(Some(1), "initialize", super::initialize_params());
        let response = self
            .http
            .strict
            .post(resource)
            .header(
                reqwest::header::ACCEPT,
                "application/json, text/event-stream",
            )
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| Error::Http {
                what: format!("the MCP server {resource}"),
                message: HttpFailure::from_reqwest(&e).to_string(),
            })?;
        let status = response.status().as_u16();
        let header = response
            .headers()
            .get(reqwest::header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let kind = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        let not_mcp = |why: String| {
            Error::InvalidInput(format!(
                "{resource} does not answer MCP ({why}); give the URL of an MCP server's \
                 streamable HTTP endpoint, e.g. https://mcp.example.com/mcp; nothing was added"
            ))
        };
        if status == 401 {
            return header
                .as_deref()
                .and_then(BearerChallenge::parse)
                .map(Some)
                .ok_or_else(|| not_mcp("HTTP 401 without a Bearer challenge".into()));
        }
        if !(200..300).contains(&status) {
            return Err(not_mcp(format!("HTTP {status} to initialize")));
        }
        let bytes = read_capped(response, 1024 * 1024)
            .await
            .map_err(|e| not_mcp(e.to_string()))?;
        let text = String::from_utf8_lossy(&bytes);
        let messages: Vec<String> = if kind.starts_with("text/event-stream") {
            mcp::sse_data(&text)
        } else {
            vec![text.to_string()]
        };
        let speaks = messages.iter().any(|m| {
            serde_json::from_str::<Value>(m)
                .is_ok_and(|v| v["result"]["protocolVersion"].is_string())
        });
        if speaks {
            Ok(None)
        } else {
            Err(not_mcp(format!(
                "HTTP {status}, but no MCP initialize result"
            )))
        }
    }

    /// RFC 9728: from the challenge's `resource_metadata`, else the well-known URLs (with
    /// the server's path, then at the root).
    async fn protected_resource_metadata(
        &self,
        resource: &str,
        challenge: &BearerChallenge,
    ) -> Result<(String, Value)> {
        let url = url::Url::parse(resource).map_err(|e| Error::InvalidInput(e.to_string()))?;
        let origin = url.origin().ascii_serialization();
        let path = url.path().trim_end_matches('/');
        let candidates: Vec<String> = match &challenge.resource_metadata {
            Some(u) => {
                check_origin(resource, u, "resource_metadata")?;
                vec![u.clone()]
            }
            None if path.is_empty() => {
                vec![format!("{origin}/.well-known/oauth-protected-resource")]
            }
            None => vec![
                format!("{origin}/.well-known/oauth-protected-resource{path}"),
                format!("{origin}/.well-known/oauth-protected-resource"),
            ],
        };
        let mut problems = Vec::new();
        for c in &candidates {
            match self.fetch_metadata_value(c).await {
                Ok(v) if v.is_object() => return Ok((c.clone(), v)),
                Ok(_) => problems.push(format!("{c}: not a JSON object")),
                Err(p) => problems.push(format!("{c}: {p}")),
            }
        }
        Err(Error::InvalidInput(format!(
            "{resource} asks for a token, but its protected resource metadata could not be read \
             ({}); nothing was added",
            problems.join("; ")
        )))
    }

    /// RFC 8414 then OpenID Connect discovery, in the order MCP gives for an issuer with a
    /// path; the document's `issuer` must be the one asked for.
    async fn authorization_server_metadata(&self, issuer: &str) -> Result<Value> {
        let url = url::Url::parse(issuer).map_err(|e| {
            Error::InvalidInput(format!(
                "the authorization server {issuer:?} is not a URL ({e})"
            ))
        })?;
        let origin = url.origin().ascii_serialization();
        let path = url.path().trim_end_matches('/');
        let candidates = if path.is_empty() {
            vec![
                format!("{origin}/.well-known/oauth-authorization-server"),
                format!("{origin}/.well-known/openid-configuration"),
            ]
        } else {
            vec![
                format!("{origin}/.well-known/oauth-authorization-server{path}"),
                format!("{origin}/.well-known/openid-configuration{path}"),
                format!("{origin}{path}/.well-known/openid-configuration"),
            ]
        };
        let mut problems = Vec::new();
        for c in &candidates {
            match self.fetch_metadata_value(c).await {
                Ok(v)
                    if v["issuer"].as_str().map(|i| i.trim_end_matches('/'))
                        == Some(issuer.trim_end_matches('/')) =>
                {
                    return Ok(v)
                }
                Ok(v) => problems.push(format!(
                    "{c}: names another issuer ({})",
                    v["issuer"].as_str().unwrap_or("none")
                )),
                Err(p) => problems.push(format!("{c}: {p}")),
            }
        }
        Err(Error::InvalidInput(format!(
            "the metadata of the authorization server {issuer} could not be read ({}); nothing \
             was added",
            problems.join("; ")
        )))
    }

    /// RFC 7591 dynamic client registration.
    async fn register_client(
        &self,
        issuer: &str,
        meta: &Value,
        opts: &McpAddOptions,
    ) -> Result<McpClient> {
        let endpoint = meta["registration_endpoint"].as_str().ok_or_else(|| {
            Error::InvalidInput(format!(
                "the authorization server {issuer} offers no dynamic client registration: \
                 register Authdesk there yourself and give its ClientId with --client-id; \
                 nothing was added"
            ))
        })?;
        let offered: Vec<&str> = meta["token_endpoint_auth_methods_supported"]
            .as_array()
            .map(|l| l.iter().filter_map(Value::as_str).collect())
            .unwrap_or_else(|| vec!["client_secret_basic"]);
        let method = ["client_secret_basic", "none"]
            .into_iter()
            .find(|m| offered.contains(m))
            .ok_or_else(|| {
                Error::InvalidInput(format!(
                    "the authorization server {issuer} takes neither client_secret_basic nor \
                     none at its token endpoint ({}); nothing was added",
                    offered.join(", ")
                ))
            })?;
        let request = json!({
            "client_name": "Authdesk",
            "redirect_uris": opts.redirect_uris,
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": method,
            "application_type": "native",
        });
        // No `scope`: a client registered for some scopes could not be granted more in a
        // step-up.
        let response = self
            .http
            .strict
            .post(endpoint)
            .json(&request)
            .send()
            .await
            .map_err(|e| Error::Http {
                what: format!("the client registration at {endpoint}"),
                message: HttpFailure::from_reqwest(&e).to_string(),
            })?;
        let status = response.status().as_u16();
        let bytes = read_capped(response, 256 * 1024)
            .await
            .map_err(|e| Error::Http {
                what: format!("the client registration at {endpoint}"),
                message: e.to_string(),
            })?;
        let answer: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if !(200..300).contains(&status) {
            let why = format!(
                "{} {}",
                answer["error"].as_str().unwrap_or("no error code"),
                answer["error_description"].as_str().unwrap_or("")
            );
            return Err(Error::InvalidInput(format!(
                "the authorization server refused to register Authdesk (HTTP {status}: {}); \
                 register it yourself and give --client-id; nothing was added",
                crate::diagnostics::redact_text(why.trim(), &[])
            )));
        }
        let client_id = answer["client_id"]
            .as_str()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                Error::InvalidInput(format!(
                "the registration at {endpoint} answered without a client_id; nothing was added"
            ))
            })?;
        let secret = |name: &str| {
            answer[name]
                .as_str()
                .filter(|s| !s.is_empty())
                .map(|s| Secret::new(s.to_string()))
        };
        Ok(McpClient {
            client_id: client_id.to_string(),
            client_secret: secret("client_secret"),
            registration_access_token: secret("registration_access_token"),
            registration_client_uri: answer["registration_client_uri"]
                .as_str()
                .map(str::to_string),
            registered: true,
        })
    }
}

/// The authorization server as found.
struct Server {
    issuer: String,
    meta: Value,
    scopes: Vec<String>,
    public: bool,
}

/// `url` may be used from `base`: https, or plain http on `base`'s own origin.
fn check_origin(base: &str, url: &str, what: &str) -> Result<()> {
    let parsed = url::Url::parse(url).map_err(|e| {
        Error::InvalidInput(format!(
            "{what} {url:?} is not an absolute URL ({e}); nothing was added"
        ))
    })?;
    let base = url::Url::parse(base).map_err(|e| Error::InvalidInput(e.to_string()))?;
    let same_origin = parsed.origin() == base.origin();
    let ok = match parsed.scheme() {
        "https" => true,
        "http" => same_origin,
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidInput(format!(
            "{what} is {url}, on another origin without https: tokens would travel in the \
             clear; refusing it, nothing was added"
        )))
    }
}

/// The id the connector for the MCP server at `url` gets: `id` when given, else one made
/// from the URL (`mcp-<host>[-<port>]-<path>`).
pub fn connector_id(url: &str, id: Option<&str>) -> Result<String> {
    if let Some(id) = id {
        return Ok(id.trim().to_string());
    }
    let resource = canonical_resource(url)
        .map_err(|m| Error::InvalidInput(format!("the MCP server's URL: {m}")))?;
    let url = url::Url::parse(&resource).map_err(|e| Error::InvalidInput(e.to_string()))?;
    let dashed = |s: &str| mcp::name_part(s).replace('_', "-");
    let mut slug = format!("mcp-{}", dashed(url.host_str().unwrap_or("server")));
    if let Some(p) = url.port() {
        slug.push_str(&format!("-{p}"));
    }
    let path = dashed(url.path());
    if path != "x" {
        slug.push_str(&format!("-{path}"));
    }
    Ok(slug
        .chars()
        .take(64)
        .collect::<String>()
        .trim_end_matches('-')
        .to_string())
}

/// The connector's definition, written as TOML and loaded back like any file.
fn definition(
    opts: &McpAddOptions,
    resource: &str,
    server: Option<&Server>,
    resource_name: Option<&str>,
    prm_url: Option<&str>,
    client: Option<McpClient>,
) -> Result<McpDiscovered> {
    let url = url::Url::parse(resource).map_err(|e| Error::InvalidInput(e.to_string()))?;
    let host = url.host_str().unwrap_or("mcp");
    let id = connector_id(resource, opts.id.as_deref())?;
    let name = opts
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .or(resource_name)
        .map(str::to_string)
        .unwrap_or_else(|| format!("MCP server at {host}"));
    let mut doc = toml_edit::DocumentMut::new();
    doc["id"] = toml_edit::value(id);
    doc["name"] = toml_edit::value(name);
    doc["version"] = toml_edit::value("1");
    doc["description"] = toml_edit::value(format!("The MCP server at {resource}."));
    if let Some(p) = prm_url {
        let mut sources = toml_edit::Array::new();
        sources.push(p);
        doc["sources"] = toml_edit::value(sources);
    }
    doc["api_base_url"] = toml_edit::value(resource);
    let mut auth = toml_edit::Table::new();
    match server {
        None => {
            auth["type"] = toml_edit::value("none");
        }
        Some(s) => {
            let text = |f: &str| s.meta[f].as_str().map(str::to_string);
            auth["type"] = toml_edit::value("oauth2");
            auth["grant"] = toml_edit::value("authorization_code");
            for (key, field) in [
                ("authorize_url", "authorization_endpoint"),
                ("token_url", "token_endpoint"),
                ("revoke_url", "revocation_endpoint"),
                ("jwks_url", "jwks_uri"),
            ] {
                if let Some(v) = text(field) {
                    auth[key] = toml_edit::value(v);
                }
            }
            auth["issuer"] = toml_edit::value(s.issuer.clone());
            if s.meta["authorization_response_iss_parameter_supported"] == json!(true) {
                auth["issuer_in_response"] = toml_edit::value(true);
            }
            let mut scopes = toml_edit::Array::new();
            for sc in &s.scopes {
                scopes.push(sc.as_str());
            }
            auth["scopes"] = toml_edit::value(scopes);
            auth["pkce"] = toml_edit::value(true);
            auth["client_auth"] = toml_edit::value(if s.public { "none" } else { "basic" });
            auth["sign_in"] = toml_edit::value("webview");
            let mut params = toml_edit::InlineTable::new();
            params.insert("resource", resource.into());
            auth["authorize_params"] = toml_edit::value(params.clone());
            auth["token_params"] = toml_edit::value(params);
        }
    }
    doc["auth"] = toml_edit::Item::Table(auth);
    let mut section = toml_edit::Table::new();
    section["url"] = toml_edit::value(resource);
    doc["mcp"] = toml_edit::Item::Table(section);
    let toml =
        format!("# An MCP server, added by `authdesk connectors add-mcp {resource}`.\n{doc}");
    let definition = ConnectorDefinition::from_toml(&format!("the MCP server {resource}"), &toml)?;
    Ok(McpDiscovered {
        definition,
        toml,
        client,
        resource_metadata: None,
    })
}
