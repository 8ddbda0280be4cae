//! Authdesk as an MCP server for local agents: the account connectors' methods as MCP
//! tools (one per method and account connector, a stable name such as
//! `hubspot_customer_a__list_contacts`, the definition's description, an input schema from
//! the method's parameters) and, where the user turned it on for an account connector, one
//! free-form request tool limited to its hosts. Transport-free: `handle` takes one
//! JSON-RPC message and answers it; `authdesk mcp serve` (stdio) and the API's `/mcp`
//! (streamable HTTP) carry the messages. `agents/catalog.rs`: which tools exist.
//!
//! **Invariants:** an agent never sees a secret (every result and error is scrubbed of the
//! credential values the call used and of token-looking runs); a tool that may change data
//! (any method but GET, or `write = true`, or a free-form request other than GET/HEAD) runs
//! only when approved: an `--allow` pattern names it, the window's prompt allowed it (once
//! or for the session), or never; an account-limited caller sees and calls only that
//! account's tools; every call, allowed or not, lands in the credential history with the
//! agent's name and the verdict.
//!
//! Must not: call anything without the approval rules above, or name a higher layer.

mod catalog;

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::{json, Value};

use crate::engine::request::FreeRequest;
use crate::engine::Engine;
use crate::error::Error;
use crate::mcp;

pub use catalog::{ToolEntry, ToolKind};

/// What an agent may reach.
#[derive(Debug, Clone, Default)]
pub struct AgentPolicy {
    /// Only these accounts' tools (all when empty): `mcp serve --account`.
    pub accounts: Vec<String>,
    /// The caller is limited to this account (an API token's `account:{Id}` scope).
    pub account_scope: Option<String>,
    /// Tools that change data and may run without asking (`--allow`, `*` wildcards).
    pub allow: Vec<String>,
}

/// What the window asks the user about.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ApprovalRequest {
    pub agent: String,
    pub account: String,
    pub connector: String,
    pub tool: String,
    /// The request, e.g. `POST /crm/v3/objects/contacts`.
    pub request: String,
}

/// The user's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    AllowOnce,
    AllowSession,
    Deny,
}

/// Asks the user (the desktop's prompt). Without one, a tool that changes data runs only
/// when an `--allow` pattern names it.
pub type Approver =
    Arc<dyn Fn(ApprovalRequest) -> Pin<Box<dyn Future<Output = Verdict> + Send>> + Send + Sync>;

/// One agent's session: who it is, what it was allowed for the session.
#[derive(Debug, Default)]
pub struct AgentSession {
    pub agent: Option<String>,
    allowed: HashSet<String>,
    tools: Option<Arc<Vec<ToolEntry>>>,
}

/// The MCP server.
#[derive(Clone)]
pub struct AgentServer {
    engine: Engine,
    policy: AgentPolicy,
    approver: Option<Approver>,
}

/// Tools listed per `tools/list` page.
const PAGE: usize = 500;

impl AgentServer {
    pub fn new(engine: Engine, policy: AgentPolicy, approver: Option<Approver>) -> AgentServer {
        AgentServer {
            engine,
            policy,
            approver,
        }
    }

    pub fn policy(&self) -> &AgentPolicy {
        &self.policy
    }

    /// Answers one JSON-RPC message (`None` for a notification or an answer).
    pub async fn handle(&self, session: &mut AgentSession, message: Value) -> Option<Value> {
        let Some(method) = message.get("method").and_then(Value::as_str) else {
            if message.get("result").is_some() || message.get("error").is_some() {
                return None; // an answer to a request we never make
            }
            return Some(mcp::error(
                &Value::Null,
                mcp::INVALID_REQUEST,
                "not a JSON-RPC request",
            ));
        };
        let Some(id) = message.get("id").cloned() else {
            return None; // notifications (initialized, cancelled, ...) need no answer
        };
        let params = message.get("params").cloned().unwrap_or(json!({}));
        let answer = match method {
            "initialize" => Ok(self.initialize(session, &params)),
            "ping" => Ok(json!({})),
            "tools/list" => self.list(session, &params).await,
            "tools/call" => self.call(session, &params).await,
            other => Err((
                mcp::METHOD_NOT_FOUND,
                format!("method {other:?} is not served"),
            )),
        };
        Some(match answer {
            Ok(result) => mcp::result(&id, result),
            Err((code, message)) => mcp::error(&id, code, &message),
        })
    }

    fn initialize(&self, session: &mut AgentSession, params: &Value) -> Value {
        let info = &params["clientInfo"];
        let name = info["name"].as_str().unwrap_or("an unnamed agent");
        session.agent = Some(match info["version"].as_str() {
            Some(v) => format!("{name} {v}"),
            None => name.to_string(),
        });
        let asked = params["protocolVersion"].as_str().unwrap_or_default();
        let version = if mcp::KNOWN_VERSIONS.contains(&asked) {
            asked
        } else {
            mcp::PROTOCOL_VERSION
        };
        json!({
            "protocolVersion": version,
            "capabilities": {"tools": {"listChanged": false}},
            "serverInfo": {"name": "Authdesk", "version": env!("CARGO_PKG_VERSION")},
            "instructions": "Tools call the APIs of the account connectors set up in Authdesk, \
                with their credentials applied; no credential is ever shown. Tools that change \
                data need the user's approval.",
        })
    }

    async fn tools(
        &self,
        session: &mut AgentSession,
        fresh: bool,
    ) -> Result<Arc<Vec<ToolEntry>>, (i64, String)> {
        if !fresh {
            if let Some(t) = &session.tools {
                return Ok(t.clone());
            }
        }
        let policy = self.policy.clone();
        let tools = self
            .engine
            .db(move |desk| catalog::tools(desk, &policy))
            .await
            .map_err(|e| (mcp::INTERNAL_ERROR, scrubbed(&e.to_string(), &[])))?;
        let tools = Arc::new(tools);
        session.tools = Some(tools.clone());
        Ok(tools)
    }

    async fn list(
        &self,
        session: &mut AgentSession,
        params: &Value,
    ) -> Result<Value, (i64, String)> {
        let start: usize = match params["cursor"].as_str() {
            Some(c) => c.parse().map_err(|_| {
                (
                    mcp::INVALID_PARAMS,
                    "the cursor is not one Authdesk gave".into(),
                )
            })?,
            None => 0,
        };
        let tools = self.tools(session, start == 0).await?;
        let page: Vec<Value> = tools
            .iter()
            .skip(start)
            .take(PAGE)
            .map(ToolEntry::listed)
            .collect();
        let mut result = json!({ "tools": page });
        if start + PAGE < tools.len() {
            result["nextCursor"] = json!((start + PAGE).to_string());
        }
        Ok(result)
    }

    async fn call(
        &self,
        session: &mut AgentSession,
        params: &Value,
    ) -> Result<Value, (i64, String)> {
        let name = params["name"].as_str().ok_or((
            mcp::INVALID_PARAMS,
            "tools/call needs the tool's name".to_string(),
        ))?;
        let arguments = match &params["arguments"] {
            Value::Null => serde_json::Map::new(),
            Value::Object(m) => m.clone(),
            _ => {
                return Err((
                    mcp::INVALID_PARAMS,
                    "arguments must be a JSON object".into(),
                ))
            }
        };
        let mut entry = self
            .tools(session, false)
            .await?
            .iter()
            .find(|t| t.name == name)
            .cloned();
        if entry.is_none() {
            entry = self
                .tools(session, true)
                .await?
                .iter()
                .find(|t| t.name == name)
                .cloned();
        }
        let Some(entry) = entry else {
            return Err((
                mcp::INVALID_PARAMS,
                format!("no tool is named {name:?}; list the tools"),
            ));
        };
        let agent = session
            .agent
            .clone()
            .unwrap_or_else(|| "an unnamed agent".into());
        let request = entry.request_line(&arguments);
        let verdict = if !entry.changes_data(&arguments) {
            "allowed (reads only)".to_string()
        } else if session.allowed.contains(name) {
            "allowed for this session".to_string()
        } else if self.policy.allow.iter().any(|p| mcp::glob_match(p, name)) {
            "allowed by --allow".to_string()
        } else if let Some(ask) = &self.approver {
            let answer = ask(ApprovalRequest {
                agent: agent.clone(),
                account: entry.account_name.clone(),
                connector: entry.connector_name.clone(),
                tool: name.to_string(),
                request: request.clone(),
            })
            .await;
            match answer {
                Verdict::AllowOnce => "allowed once by the user".to_string(),
                Verdict::AllowSession => {
                    session.allowed.insert(name.to_string());
                    "allowed for this session by the user".to_string()
                }
                Verdict::Deny => "denied by the user".to_string(),
            }
        } else {
            "denied: it changes data and no --allow pattern names it".to_string()
        };
        let allowed = verdict.starts_with("allowed");
        let detail = format!("agent {agent} called {name} ({request}): {verdict}");
        let ac = entry.account_connector_id;
        let _ = self
            .engine
            .db(move |desk| {
                desk.note_event(ac, "agent_tool_call", Some(&detail), None);
                Ok(())
            })
            .await;
        if !allowed {
            return Ok(mcp::text_result(
                format!(
                    "Not run: {name} changes data and needs approval ({verdict}). Ask the user \
                     to allow it in Authdesk (or to start `authdesk mcp serve` with --allow {name})."
                ),
                true,
            ));
        }
        Ok(self.run(&entry, arguments).await)
    }

    /// Runs an allowed call; the answer (or the error) scrubbed of every credential value.
    async fn run(&self, entry: &ToolEntry, arguments: serde_json::Map<String, Value>) -> Value {
        let id = entry.account_connector_id;
        let scope = self.policy.account_scope.as_deref();
        let outcome = match &entry.kind {
            ToolKind::Method(method) => {
                self.engine
                    .call_method_in(scope, id, method, &arguments)
                    .await
            }
            ToolKind::Request => match free_request(&arguments) {
                Ok(r) => self.engine.send_request(id, &r).await,
                Err(e) => Err(e),
            },
        };
        // The values the call's auth carried, to be taken out of whatever comes back.
        let known: Vec<String> = match self.engine.access(id).await {
            Ok((auth, _)) => auth
                .headers
                .iter()
                .chain(&auth.query)
                .chain(&auth.body)
                .flat_map(|(_, v)| {
                    let v = v.expose().to_string();
                    let bare = v.split_once(' ').map(|(_, t)| t.to_string());
                    std::iter::once(v).chain(bare)
                })
                .filter(|v| v.len() >= 4)
                .collect(),
            Err(_) => vec![],
        };
        let known: Vec<&str> = known.iter().map(String::as_str).collect();
        match outcome {
            Ok(response) => {
                let mut body = json!({"Status": response.status, "Body": response.body});
                mcp::scrub(&mut body, &|s| scrubbed(s, &known));
                let text = serde_json::to_string_pretty(&body).unwrap_or_default();
                mcp::text_result(text, response.status >= 400)
            }
            Err(e) => mcp::text_result(scrubbed(&e.to_string(), &known), true),
        }
    }
}

/// `text` without the known values and token-looking runs.
fn scrubbed(text: &str, known: &[&str]) -> String {
    let mut out = text.to_string();
    for k in known {
        if !k.is_empty() {
            out = out.replace(k, "[redacted]");
        }
    }
    crate::diagnostics::redact_text(&out, known)
}

/// The free-form request tool's arguments as a request.
fn free_request(arguments: &serde_json::Map<String, Value>) -> crate::error::Result<FreeRequest> {
    let text = |k: &str| arguments.get(k).and_then(Value::as_str).map(str::to_string);
    let headers = match arguments.get("headers") {
        None | Some(Value::Null) => vec![],
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string()),
                )
            })
            .collect(),
        Some(_) => {
            return Err(Error::InvalidInput(
                "headers must be an object of names to values".into(),
            ))
        }
    };
    Ok(FreeRequest {
        method: text("method").unwrap_or_else(|| "GET".into()),
        target: text("path").ok_or_else(|| {
            Error::InvalidInput(
                "give the request's path (under the API base URL) or full URL".into(),
            )
        })?,
        headers,
        body: text("body"),
    })
}
