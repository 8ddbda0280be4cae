//! Remote MCP servers as connectors: the client side of the Model Context Protocol over
//! streamable HTTP (JSON-RPC POSTs answered with JSON or server-sent events, the session
//! header kept, re-initialised when the server forgets it), with the account connector's
//! auth applied like any method call: one refresh after a 401, a 403 `insufficient_scope`
//! recorded as a step-up that the next sign-in asks for (never signed in silently), and an
//! access token sent only to the MCP server it was issued for (a JWT's `aud` is checked
//! against the server's canonical URL first). `discover.rs`: `connectors add-mcp`.
//!
//! Must not: send a token to any URL but the definition's `[mcp] url`, follow a redirect,
//! or let a token the server echoes reach the caller.

mod discover;

use std::time::Duration;

use serde_json::{json, Value};

use super::{AppliedAuth, Context, Engine};
use crate::definition::AuthDefinition;
use crate::error::{Error, Result};
use crate::mcp::{self, BearerChallenge, Tool};

pub use discover::{connector_id, McpAddOptions, McpDiscovered};

/// The largest answer read from an MCP server.
const MAX_ANSWER: usize = 8 * 1024 * 1024;
/// How long one request may take, streaming included.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(120);
/// Pages of `tools/list` read at most.
const MAX_PAGES: usize = 50;

/// A session with an MCP server: its id (when it gave one) and the revision agreed.
#[derive(Debug, Clone)]
pub struct Session {
    id: Option<String>,
    version: String,
    resource: String,
}

/// One answer: status, the headers that matter, the JSON-RPC message for our id (if any).
struct Answer {
    status: u16,
    www_authenticate: Option<String>,
    session: Option<String>,
    message: Option<Value>,
}

impl Engine {
    /// The tools of the MCP server behind account connector `id` (every page).
    pub async fn mcp_tools(&self, account: Option<&str>, id: i64) -> Result<Vec<Tool>> {
        let mut tools = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let params = match &cursor {
                Some(c) => json!({ "cursor": c }),
                None => json!({}),
            };
            let result = self.mcp_request(account, id, "tools/list", params).await?;
            let page: Vec<Tool> = serde_json::from_value(result["tools"].clone()).map_err(|e| {
                self.mcp_bad(
                    id,
                    &format!("its tools/list answer is not a list of tools ({e})"),
                )
            })?;
            tools.extend(page);
            cursor = result["nextCursor"].as_str().map(str::to_string);
            if cursor.is_none() {
                break;
            }
        }
        Ok(tools)
    }

    /// Calls `tool` with `arguments` (a JSON object) on the MCP server behind account
    /// connector `id`: the server's `CallToolResult` (a failed tool has `isError: true`).
    pub async fn mcp_call(
        &self,
        account: Option<&str>,
        id: i64,
        tool: &str,
        arguments: Value,
    ) -> Result<Value> {
        if tool.trim().is_empty() {
            return Err(Error::InvalidInput("name the tool to call".into()));
        }
        if !arguments.is_object() {
            return Err(Error::InvalidInput(
                "the tool's arguments must be a JSON object, e.g. {\"query\": \"x\"}".into(),
            ));
        }
        let params = json!({ "name": tool, "arguments": arguments });
        self.mcp_request(account, id, "tools/call", params).await
    }

    /// One JSON-RPC request in the account connector's session (made first if needed; made
    /// again once if the server forgot it): its `result`.
    async fn mcp_request(
        &self,
        account: Option<&str>,
        id: i64,
        method: &str,
        params: Value,
    ) -> Result<Value> {
        let (ctx, marker) = self.cached_context_in(account, id).await?;
        let Some(def) = ctx.def.mcp.clone() else {
            return Err(Error::InvalidInput(format!(
                "account connector {id} (connector `{}`) is not an MCP server; add one with \
                 `authdesk connectors add-mcp URL`",
                ctx.def.id
            )));
        };
        let resource = def.resource();
        for attempt in 0..2 {
            let session = match self.mcp_session(id, &resource) {
                Some(s) => s,
                None => self.mcp_initialize(&ctx, marker, &resource).await?,
            };
            let body = mcp::request(Some(2), method, params.clone());
            let answer = self
                .mcp_authorized(&ctx, marker, &resource, &body, Some(&session))
                .await?;
            if answer.status == 404 && session.id.is_some() && attempt == 0 {
                // The server ended the session: start another, once.
                self.forget_mcp_session(id);
                continue;
            }
            return self.mcp_result(id, method, answer);
        }
        Err(self.mcp_bad(id, "it keeps ending the session"))
    }

    fn mcp_session(&self, id: i64, resource: &str) -> Option<Session> {
        let sessions = self.mcp_sessions.lock().unwrap_or_else(|p| p.into_inner());
        sessions
            .get(&id)
            .filter(|s| s.resource == resource)
            .cloned()
    }

    /// Forgets the session with account connector `id`'s MCP server.
    pub fn forget_mcp_session(&self, id: i64) {
        self.mcp_sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
    }

    async fn mcp_initialize(
        &self,
        ctx: &std::sync::Arc<Context>,
        marker: crate::store::ChangeMarker,
        resource: &str,
    ) -> Result<Session> {
        let id = ctx.ac.id;
        let body = mcp::request(Some(1), "initialize", initialize_params());
        let answer = self
            .mcp_authorized(ctx, marker, resource, &body, None)
            .await?;
        let session_id = answer.session.clone();
        let result = self.mcp_result(id, "initialize", answer)?;
        let version = result["protocolVersion"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if !mcp::KNOWN_VERSIONS.contains(&version.as_str()) {
            return Err(self.mcp_bad(
                id,
                &format!("it speaks MCP revision {version:?}, which Authdesk does not know"),
            ));
        }
        let session = Session {
            id: session_id,
            version,
            resource: resource.to_string(),
        };
        let note = mcp::request(None, "notifications/initialized", json!({}));
        let answer = self
            .mcp_authorized(ctx, marker, resource, &note, Some(&session))
            .await?;
        if !(200..300).contains(&answer.status) {
            return Err(self.mcp_bad(
                id,
                &format!(
                    "it answered HTTP {} to notifications/initialized",
                    answer.status
                ),
            ));
        }
        self.mcp_sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, session.clone());
        Ok(session)
    }

    /// POSTs `body` with the auth applied: after a 401, one refresh and one more try; a 403
    /// `insufficient_scope` is recorded as a step-up and refused (the user signs in again).
    async fn mcp_authorized(
        &self,
        ctx: &std::sync::Arc<Context>,
        marker: crate::store::ChangeMarker,
        resource: &str,
        body: &Value,
        session: Option<&Session>,
    ) -> Result<Answer> {
        let id = ctx.ac.id;
        let (auth, version) = self.prepared(id, ctx.clone(), marker).await?;
        let mut answer = self.mcp_post(ctx, resource, &auth, body, session).await?;
        if answer.status == 401 && ctx.oauth2().is_ok() {
            self.forget_prepared(id);
            let token = self.ensure_token(id, version).await?;
            let auth = self.token_auth(ctx, &token.value).await?;
            answer = self.mcp_post(ctx, resource, &auth, body, session).await?;
        }
        let challenge = answer
            .www_authenticate
            .as_deref()
            .and_then(BearerChallenge::parse);
        match answer.status {
            401 if ctx.oauth2().is_err() => Err(self.mcp_bad(
                id,
                "it now asks for a sign-in, which this connector does not have: add the server \
                 again with `authdesk connectors add-mcp URL`",
            )),
            401 => Err(Error::NeedsReauth {
                account_connector_id: id,
                message: "the MCP server refused its token; sign in again".into(),
            }),
            403 if challenge
                .as_ref()
                .is_some_and(|c| c.error.as_deref() == Some("insufficient_scope")) =>
            {
                let wanted: Vec<String> = challenge
                    .and_then(|c| c.scope)
                    .unwrap_or_default()
                    .split(' ')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect();
                let mut all: Vec<String> = ctx
                    .ac
                    .scopes
                    .as_deref()
                    .unwrap_or_default()
                    .split(' ')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect();
                all.extend(wanted);
                let recorded = self
                    .db(move |desk| desk.add_mcp_step_up_scopes(id, &all))
                    .await?;
                let shown = recorded.join(" ");
                let detail = format!("the MCP server asks for scopes: {shown}");
                self.db(move |desk| {
                    desk.note_event(id, "step_up_needed", Some(&detail), None);
                    Ok(())
                })
                .await?;
                Err(Error::NeedsReauth {
                    account_connector_id: id,
                    message: format!(
                        "the MCP server needs more access than was granted (scopes: {}); sign \
                         in again to grant it — nothing is asked without you",
                        recorded.join(" ")
                    ),
                })
            }
            _ => Ok(answer),
        }
    }

    /// One POST to the MCP server, the token's audience checked first.
    async fn mcp_post(
        &self,
        ctx: &Context,
        resource: &str,
        auth: &AppliedAuth,
        body: &Value,
        session: Option<&Session>,
    ) -> Result<Answer> {
        check_audience(ctx, auth, resource)?;
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            reqwest::header::ACCEPT,
            reqwest::header::HeaderValue::from_static("application/json, text/event-stream"),
        );
        headers.insert(
            reqwest::header::CONTENT_TYPE,
            reqwest::header::HeaderValue::from_static("application/json"),
        );
        if let Some(s) = session {
            if let Some(sid) = s.id.as_deref().and_then(|v| v.parse().ok()) {
                headers.insert(mcp::SESSION_HEADER, sid);
            }
            if let Ok(v) = s.version.parse() {
                headers.insert(mcp::VERSION_HEADER, v);
            }
        }
        auth.put_headers(&mut headers)?;
        let mut url = url::Url::parse(resource)
            .map_err(|e| Error::InvalidInput(format!("the MCP URL is not valid: {e}")))?;
        auth.put_query(&mut url);
        let client = ctx.client(self, url.as_str(), super::http::Follow::Never);
        let sent = client
            .post(url)
            .headers(headers)
            .body(body.to_string())
            .timeout(ANSWER_TIMEOUT)
            .send()
            .await
            .map_err(|e| Error::Http {
                what: format!("the MCP server {resource}"),
                message: super::http::HttpFailure::from_reqwest(&e).to_string(),
            })?;
        let header = |name: &str| {
            sent.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let status = sent.status().as_u16();
        let www_authenticate = header("www-authenticate");
        let session_id = header(mcp::SESSION_HEADER);
        let kind = header("content-type")
            .unwrap_or_default()
            .to_ascii_lowercase();
        let want = body.get("id").cloned();
        let message = if !(200..300).contains(&status) || want.is_none() {
            None
        } else if kind.starts_with("text/event-stream") {
            read_event_stream(sent, want.as_ref()).await
        } else {
            let bytes = super::http::read_capped(sent, MAX_ANSWER)
                .await
                .map_err(|e| Error::Http {
                    what: format!("the MCP server {resource}"),
                    message: e.to_string(),
                })?;
            serde_json::from_slice::<Value>(&bytes)
                .ok()
                .and_then(|v| pick(v, want.as_ref()))
        };
        Ok(Answer {
            status,
            www_authenticate,
            session: session_id,
            message,
        })
    }

    /// The `result` of an answer, or an error that says what the server did.
    fn mcp_result(&self, id: i64, method: &str, answer: Answer) -> Result<Value> {
        if !(200..300).contains(&answer.status) {
            return Err(self.mcp_bad(
                id,
                &format!("it answered HTTP {} to {method}", answer.status),
            ));
        }
        let Some(message) = answer.message else {
            return Err(self.mcp_bad(
                id,
                &format!("its answer to {method} is not an MCP (JSON-RPC) message"),
            ));
        };
        if let Some(e) = message.get("error") {
            let text = e["message"].as_str().unwrap_or("no message");
            let code = e["code"].as_i64().unwrap_or_default();
            return Err(Error::Http {
                what: format!("the MCP server's {method}"),
                message: crate::diagnostics::redact_text(&format!("{text} (code {code})"), &[]),
            });
        }
        let mut result = message
            .get("result")
            .cloned()
            .ok_or_else(|| self.mcp_bad(id, &format!("its answer to {method} has no result")))?;
        // A server that echoes a token does not get it to the caller.
        mcp::scrub(&mut result, &|s| crate::diagnostics::redact_text(s, &[]));
        Ok(result)
    }

    fn mcp_bad(&self, id: i64, what: &str) -> Error {
        Error::Http {
            what: format!("the MCP server of account connector {id}"),
            message: what.to_string(),
        }
    }
}

/// What `initialize` sends.
pub(crate) fn initialize_params() -> Value {
    json!({
        "protocolVersion": mcp::PROTOCOL_VERSION,
        "capabilities": {},
        "clientInfo": {"name": "Authdesk", "version": env!("CARGO_PKG_VERSION")},
    })
}

/// The message answering `want` among one JSON value or a batch.
fn pick(v: Value, want: Option<&Value>) -> Option<Value> {
    let matches = |m: &Value| {
        want.is_none_or(|w| m.get("id") == Some(w))
            && (m.get("result").is_some() || m.get("error").is_some())
    };
    match v {
        Value::Array(items) => items.into_iter().find(matches),
        v if matches(&v) => Some(v),
        _ => None,
    }
}

/// Reads server-sent events until the answer to `want` arrives (the stream may also carry
/// notifications and requests, which are skipped), at most [`MAX_ANSWER`] bytes.
async fn read_event_stream(mut response: reqwest::Response, want: Option<&Value>) -> Option<Value> {
    let mut text = String::new();
    let mut seen = 0;
    while let Ok(Some(chunk)) = response.chunk().await {
        text.push_str(&String::from_utf8_lossy(&chunk));
        if text.len() > MAX_ANSWER {
            return None;
        }
        // Only whole events (ended by a blank line) are read.
        let end = text.rfind("\n\n").map(|i| i + 2).unwrap_or(0);
        let events = mcp::sse_data(&text[seen..end]);
        seen = end;
        for data in events {
            if let Some(m) = serde_json::from_str(&data).ok().and_then(|v| pick(v, want)) {
                return Some(m);
            }
        }
    }
    mcp::sse_data(&text[seen..])
        .into_iter()
        .find_map(|d| serde_json::from_str(&d).ok().and_then(|v| pick(v, want)))
}

/// Refuses to send an OAuth 2 access token that names its audience when that audience is
/// not this MCP server: a token for one server never reaches another.
fn check_audience(ctx: &Context, auth: &AppliedAuth, resource: &str) -> Result<()> {
    let AuthDefinition::Oauth2(o) = ctx.auth() else {
        return Ok(());
    };
    let Some((_, value)) = auth
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(&o.token_header))
    else {
        return Ok(());
    };
    let token = value
        .expose()
        .strip_prefix(o.token_prefix.as_str())
        .unwrap_or(value.expose());
    let Some(jwt) = crate::jwt::decode_unverified(token) else {
        return Ok(()); // an opaque token says nothing of its audience
    };
    let audiences: Vec<String> = match &jwt.claims["aud"] {
        Value::String(a) => vec![a.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => return Ok(()),
    };
    let canonical =
        |a: &str| crate::definition::mcp::canonical_resource(a).unwrap_or_else(|_| a.to_string());
    if audiences.iter().any(|a| canonical(a) == resource) {
        return Ok(());
    }
    Err(Error::NeedsReauth {
        account_connector_id: ctx.ac.id,
        message: format!(
            "its access token is for {}, not this MCP server ({resource}); it was not sent: \
             sign in again",
            audiences.join(", ")
        ),
    })
}
