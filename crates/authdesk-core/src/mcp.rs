//! The Model Context Protocol's wire forms, shared by both directions (Authdesk as the
//! client of a remote MCP server, and Authdesk as an MCP server for local agents):
//! JSON-RPC 2.0 messages, the protocol revision, tools, the `WWW-Authenticate: Bearer`
//! challenge of MCP authorization, server-sent events and tool names.
//!
//! Must not: send or receive anything, or know about accounts, credentials or stores.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The protocol revision Authdesk speaks (MCP specification 2025-11-25).
pub const PROTOCOL_VERSION: &str = "2025-11-25";
/// Revisions Authdesk also accepts from a peer.
pub const KNOWN_VERSIONS: &[&str] = &["2025-11-25", "2025-06-18", "2025-03-26"];
/// The session header of streamable HTTP.
pub const SESSION_HEADER: &str = "mcp-session-id";
/// The revision header sent on every request after initialization.
pub const VERSION_HEADER: &str = "mcp-protocol-version";

/// JSON-RPC error codes.
pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub const METHOD_NOT_FOUND: i64 = -32601;
pub const INVALID_PARAMS: i64 = -32602;
pub const INTERNAL_ERROR: i64 = -32603;

/// A tool as `tools/list` describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tool {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default = "empty_schema")]
    pub input_schema: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Value>,
}

fn empty_schema() -> Value {
    json!({"type": "object"})
}

/// A JSON-RPC request (with an id) or notification (without).
pub fn request(id: Option<i64>, method: &str, params: Value) -> Value {
    let mut m = json!({"jsonrpc": "2.0", "method": method, "params": params});
    if let Some(id) = id {
        m["id"] = json!(id);
    }
    m
}

/// A JSON-RPC success answer to `id`.
pub fn result(id: &Value, result: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "result": result})
}

/// A JSON-RPC error answer to `id` (`null` when the request could not be read).
pub fn error(id: &Value, code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

/// A tool result holding one text block; `is_error` marks a failure the agent should see.
pub fn text_result(text: String, is_error: bool) -> Value {
    json!({"content": [{"type": "text", "text": text}], "isError": is_error})
}

/// What a `WWW-Authenticate: Bearer ...` challenge says (RFC 6750 §3, RFC 9728 §5.1).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BearerChallenge {
    pub resource_metadata: Option<String>,
    pub error: Option<String>,
    pub scope: Option<String>,
}

impl BearerChallenge {
    /// The Bearer challenge among `header`'s, if any. Parameters are `name=token` or
    /// `name="quoted string"` with `\` escapes.
    pub fn parse(header: &str) -> Option<BearerChallenge> {
        let lower = header.to_ascii_lowercase();
        let start = find_scheme(&lower, "bearer")?;
        let mut rest = &header[start + "bearer".len()..];
        let mut found = BearerChallenge::default();
        loop {
            rest = rest.trim_start_matches([' ', ',', '\t']);
            let Some(eq) = rest.find('=') else { break };
            let name = rest[..eq].trim().to_ascii_lowercase();
            if name.contains(' ') {
                break; // the next challenge's scheme
            }
            rest = rest[eq + 1..].trim_start();
            let value;
            if let Some(quoted) = rest.strip_prefix('"') {
                let mut out = String::new();
                let mut chars = quoted.char_indices();
                let mut end = quoted.len();
                while let Some((i, c)) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some((_, n)) = chars.next() {
                                out.push(n);
                            }
                        }
                        '"' => {
                            end = i + 1;
                            break;
                        }
                        c => out.push(c),
                    }
                }
                value = out;
                rest = &quoted[end.min(quoted.len())..];
            } else {
                let end = rest.find([',', ' ']).unwrap_or(rest.len());
                value = rest[..end].to_string();
                rest = &rest[end..];
            }
            match name.as_str() {
                "resource_metadata" => found.resource_metadata = Some(value),
                "error" => found.error = Some(value),
                "scope" => found.scope = Some(value),
                _ => {}
            }
        }
        Some(found)
    }
}

fn find_scheme(lower: &str, scheme: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = lower[from..].find(scheme) {
        let at = from + i;
        let before_ok = at == 0 || matches!(lower.as_bytes()[at - 1], b' ' | b',');
        let after = lower.as_bytes().get(at + scheme.len());
        if before_ok && matches!(after, None | Some(b' ')) {
            return Some(at);
        }
        from = at + scheme.len();
    }
    None
}

/// The `data` of each event in a `text/event-stream` body, in order (events without data,
/// comments and other fields are skipped).
pub fn sse_data(body: &str) -> Vec<String> {
    let mut events = Vec::new();
    let mut data: Vec<&str> = Vec::new();
    for line in body.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)) {
        if line.is_empty() {
            if !data.is_empty() {
                events.push(data.join("\n"));
                data.clear();
            }
        } else if let Some(d) = line.strip_prefix("data:") {
            data.push(d.strip_prefix(' ').unwrap_or(d));
        }
    }
    if !data.is_empty() {
        events.push(data.join("\n"));
    }
    events
}

/// Every string in `value` (keys too) passed through `redact`: what an agent or a remote
/// server sends back is scrubbed of secrets before anyone sees it.
pub fn scrub(value: &mut Value, redact: &dyn Fn(&str) -> String) {
    match value {
        Value::String(s) => {
            let r = redact(s);
            if r != *s {
                *s = r;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| scrub(v, redact)),
        Value::Object(map) => {
            let old = std::mem::take(map);
            for (k, mut v) in old {
                scrub(&mut v, redact);
                map.insert(redact(&k), v);
            }
        }
        _ => {}
    }
}

/// A tool-name part: lower case ASCII letters and digits, every other run one `_`.
pub fn name_part(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    let out = out.trim_matches('_').to_string();
    if out.is_empty() {
        "x".into()
    } else {
        out
    }
}

/// Whether `name` matches `pattern`, where `*` stands for any run of characters (an
/// `--allow` pattern such as `hubspot_*__create_contact` or `*`).
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !name.starts_with(first) || name.len() < first.len() + last.len() || !name.ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(i) => rest = &rest[i + middle.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_challenges() {
        let c = BearerChallenge::parse(
            r#"Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp""#,
        )
        .unwrap();
        assert_eq!(
            c.resource_metadata.as_deref(),
            Some("https://mcp.example.com/.well-known/oauth-protected-resource/mcp")
        );
        let c = BearerChallenge::parse(
            r#"Basic realm="x", Bearer error="insufficient_scope", scope="mcp:read mcp:write", resource_metadata="https://a/b""#,
        )
        .unwrap();
        assert_eq!(c.error.as_deref(), Some("insufficient_scope"));
        assert_eq!(c.scope.as_deref(), Some("mcp:read mcp:write"));
        assert_eq!(c.resource_metadata.as_deref(), Some("https://a/b"));
        assert_eq!(
            BearerChallenge::parse("Bearer"),
            Some(BearerChallenge::default())
        );
        assert_eq!(BearerChallenge::parse(r#"Basic realm="bearer""#), None);
        let c = BearerChallenge::parse(r#"Bearer error=invalid_token, scope="a\"b""#).unwrap();
        assert_eq!(c.error.as_deref(), Some("invalid_token"));
        assert_eq!(c.scope.as_deref(), Some("a\"b"));
    }

    #[test]
    fn server_sent_events() {
        let body =
            "event: message\r\nid: 1\r\ndata: {\"a\":1}\r\n\r\n: comment\n\ndata: x\ndata: y\n";
        assert_eq!(
            sse_data(body),
            vec!["{\"a\":1}".to_string(), "x\ny".to_string()]
        );
    }

    #[test]
    fn names_and_patterns() {
        assert_eq!(name_part("Customer A"), "customer_a");
        assert_eq!(name_part("ListContacts"), "listcontacts");
        assert_eq!(name_part("--"), "x");
        assert!(glob_match("*", "a__b"));
        assert!(glob_match("hubspot_*__create", "hubspot_acme__create"));
        assert!(!glob_match("hubspot_*__create", "hubspot_acme__create_x"));
        assert!(glob_match("a*b*c", "abxc"));
        assert!(!glob_match("exact", "exactly"));
    }
}
