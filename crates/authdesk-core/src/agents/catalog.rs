//! Which tools an agent gets: for every account connector its policy reaches (an account
//! limit, the `--account` list), one tool per method, and the free-form request tool where
//! the user turned it on. Names are stable: `<connector>_<account>__<method>`, lower case
//! letters, digits and `_`, the account connector's Id added to the account part when two
//! account connectors of one connector share an account (the older keeps the plain name).
//!
//! Must not: call anything, or list another account's account connectors to a caller
//! limited to one account.

use std::collections::HashSet;

use serde_json::{json, Map, Value};

use super::AgentPolicy;
use crate::definition::{MethodDefinition, ParameterLocation};
use crate::error::Result;
use crate::mcp::name_part;
use crate::service::Authdesk;

/// Longest tool name (MCP asks for at most 128 characters).
const MAX_NAME: usize = 128;

#[derive(Debug, Clone)]
pub enum ToolKind {
    /// A method, by its id.
    Method(String),
    /// The account connector's free-form request.
    Request,
}

/// One tool and what it stands for.
#[derive(Debug, Clone)]
pub struct ToolEntry {
    pub name: String,
    pub description: String,
    pub input_schema: Value,
    pub account_connector_id: i64,
    pub account_name: String,
    pub connector_name: String,
    pub kind: ToolKind,
    /// For a method: `(HTTP method, path)` and whether it changes data.
    method: Option<(String, String, bool)>,
}

impl ToolEntry {
    /// As `tools/list` shows it.
    pub fn listed(&self) -> Value {
        let read_only = self.method.as_ref().is_some_and(|m| !m.2);
        json!({
            "name": self.name,
            "description": self.description,
            "inputSchema": self.input_schema,
            "annotations": {"readOnlyHint": read_only, "openWorldHint": true},
        })
    }

    /// Whether this call may change data.
    pub fn changes_data(&self, arguments: &Map<String, Value>) -> bool {
        match &self.method {
            Some((_, _, changes)) => *changes,
            None => {
                let m = arguments
                    .get("method")
                    .and_then(Value::as_str)
                    .unwrap_or("GET");
                !matches!(m.to_ascii_uppercase().as_str(), "GET" | "HEAD")
            }
        }
    }

    /// The request in a line, for the prompt and the history (no values).
    pub fn request_line(&self, arguments: &Map<String, Value>) -> String {
        match &self.method {
            Some((verb, path, _)) => format!("{verb} {path}"),
            None => format!(
                "{} {}",
                arguments
                    .get("method")
                    .and_then(Value::as_str)
                    .unwrap_or("GET")
                    .to_ascii_uppercase(),
                arguments.get("path").and_then(Value::as_str).unwrap_or("?")
            ),
        }
    }
}

/// Every tool `policy` reaches, in account connector Id order.
pub(super) fn tools(desk: &Authdesk, policy: &AgentPolicy) -> Result<Vec<ToolEntry>> {
    let accounts = match &policy.account_scope {
        Some(a) => vec![desk.get_account(a)?],
        None if !policy.accounts.is_empty() => policy
            .accounts
            .iter()
            .map(|a| desk.get_account(a))
            .collect::<Result<_>>()?,
        None => desk.list_accounts()?,
    };
    let with_request = desk.mcp_request_tool_ids()?;
    let mut out = Vec::new();
    let mut taken = HashSet::new();
    for account in accounts {
        if policy
            .account_scope
            .as_ref()
            .is_some_and(|s| *s != account.id)
            || (!policy.accounts.is_empty() && !policy.accounts.contains(&account.id))
        {
            continue;
        }
        let mut connectors = desk.list_account_connectors(Some(&account.id))?;
        connectors.sort_by_key(|c| c.id);
        for ac in connectors {
            let def = desk.account_connector_definition(ac.id)?;
            let mut prefix = format!("{}_{}", name_part(&def.id), name_part(&account.name));
            if !taken.insert(prefix.clone()) {
                prefix = format!("{prefix}_{}", ac.id);
                taken.insert(prefix.clone());
            }
            let about = format!("{} ({}), account {}", def.name, ac.name, account.name);
            for m in &def.methods {
                let mut description = if m.description.trim().is_empty() {
                    m.name.clone()
                } else {
                    format!("{}: {}", m.name, m.description.trim())
                };
                description.push_str(&format!(" — {about}."));
                if m.changes_data() {
                    description.push_str(" Changes data: needs the user's approval.");
                }
                out.push(ToolEntry {
                    name: tool_name(&prefix, &m.id),
                    description,
                    input_schema: schema(m),
                    account_connector_id: ac.id,
                    account_name: account.name.clone(),
                    connector_name: def.name.clone(),
                    kind: super::ToolKind::Method(m.id.clone()),
                    method: Some((
                        format!("{:?}", m.http_method).to_ascii_uppercase(),
                        m.path.clone(),
                        m.changes_data(),
                    )),
                });
            }
            if with_request.contains(&ac.id) {
                out.push(ToolEntry {
                    name: tool_name(&prefix, "request"),
                    description: format!(
                        "A free-form HTTP request to the API of {about}, limited to its hosts; \
                         anything but GET or HEAD needs the user's approval."
                    ),
                    input_schema: json!({
                        "type": "object",
                        "properties": {
                            "method": {"type": "string", "enum": ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]},
                            "path": {"type": "string", "description": "A path under the API base URL, e.g. /users?page=2, or a full URL on one of the connector's hosts"},
                            "headers": {"type": "object", "additionalProperties": {"type": "string"}},
                            "body": {"type": "string"},
                        },
                        "required": ["path"],
                    }),
                    account_connector_id: ac.id,
                    account_name: account.name.clone(),
                    connector_name: def.name.clone(),
                    kind: super::ToolKind::Request,
                    method: None,
                });
            }
        }
    }
    Ok(out)
}

fn tool_name(prefix: &str, method: &str) -> String {
    let method = name_part(method);
    let room = MAX_NAME.saturating_sub(method.len() + 2);
    let prefix: String = prefix.chars().take(room).collect();
    format!("{prefix}__{method}")
}

/// The method's parameters as a JSON Schema object.
fn schema(m: &MethodDefinition) -> Value {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for p in &m.parameters {
        let mut s = Map::new();
        if p.location != ParameterLocation::Body {
            s.insert("type".into(), json!("string"));
        }
        let where_ = match p.location {
            ParameterLocation::Path => "in the path",
            ParameterLocation::Query => "in the query",
            ParameterLocation::Header => "a header",
            ParameterLocation::Body => "in the body",
        };
        let d = if p.description.trim().is_empty() {
            where_.to_string()
        } else {
            format!("{} ({where_})", p.description.trim())
        };
        s.insert("description".into(), json!(d));
        properties.insert(p.name.clone(), Value::Object(s));
        if p.required {
            required.push(json!(p.name));
        }
    }
    json!({"type": "object", "properties": properties, "required": required})
}
