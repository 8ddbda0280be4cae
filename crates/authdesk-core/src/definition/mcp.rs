//! `[mcp]`: the connector is a remote MCP server (Model Context Protocol, streamable HTTP):
//! its URL, which is also the resource its tokens are for (RFC 8707: sent as `resource` on
//! the authorization and token requests, and checked against a JWT access token's `aud`
//! before a token is sent).
//!
//! Must not: send anything (the engine's `mcp` does), or take a templated URL (a property
//! must never choose where an MCP server's tokens go).

use serde::{Deserialize, Serialize};

use super::validate::invalid_at;
use crate::error::Result;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct McpDefinition {
    /// The server's endpoint, e.g. `https://mcp.example.com/mcp`: https, or http on a
    /// loopback address; no placeholders, user name, password or fragment.
    pub url: String,
}

impl McpDefinition {
    pub(super) fn validate(&self, origin: &str) -> Result<()> {
        canonical_resource(&self.url).map_err(|m| invalid_at(origin, "mcp.url", m))?;
        Ok(())
    }

    /// The canonical form of [`McpDefinition::url`] (see [`canonical_resource`]).
    pub fn resource(&self) -> String {
        canonical_resource(&self.url).unwrap_or_else(|_| self.url.clone())
    }
}

/// The canonical URI of an MCP server (MCP authorization, "Canonical Server URI"): scheme
/// and host in lower case, the default port dropped, no fragment, no trailing `/` when the
/// path is only `/`. Refuses what cannot be an MCP server's address, saying why.
pub fn canonical_resource(text: &str) -> std::result::Result<String, String> {
    let text = text.trim();
    if text.contains('{') {
        return Err("must be a fixed URL: placeholders are not allowed here".into());
    }
    let url = url::Url::parse(text).map_err(|e| {
        format!("{text:?} is not an absolute URL ({e}); e.g. https://mcp.example.com/mcp")
    })?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry a user name or password".into());
    }
    if url.fragment().is_some() {
        return Err("must not have a #fragment".into());
    }
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(format!(
                "{text} is plain http: an MCP server's tokens travel only over https (or to \
                 this machine's loopback address)"
            ))
        }
        other => return Err(format!("scheme `{other}` is not http(s)")),
    }
    let mut s = url.to_string();
    if url.path() == "/" && url.query().is_none() {
        s.pop();
    }
    Ok(s)
}

/// Whether `url`'s host is this machine (127.0.0.0/8, ::1 or `localhost`).
pub fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(a)) => a.is_loopback(),
        Some(url::Host::Ipv6(a)) => a.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms() {
        assert_eq!(
            canonical_resource("HTTPS://MCP.Example.com:443/").unwrap(),
            "https://mcp.example.com"
        );
        assert_eq!(
            canonical_resource("https://mcp.example.com/mcp").unwrap(),
            "https://mcp.example.com/mcp"
        );
        assert_eq!(
            canonical_resource("http://127.0.0.1:8080/mcp").unwrap(),
            "http://127.0.0.1:8080/mcp"
        );
        assert!(canonical_resource("http://mcp.example.com/mcp")
            .unwrap_err()
            .contains("plain http"));
        assert!(canonical_resource("https://u:p@mcp.example.com/").is_err());
        assert!(canonical_resource("https://mcp.example.com/#x").is_err());
        assert!(canonical_resource("https://{Host}/mcp").is_err());
        assert!(canonical_resource("ftp://mcp.example.com/").is_err());
    }
}
