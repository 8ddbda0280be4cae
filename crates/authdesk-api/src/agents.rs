//! `/mcp`: Authdesk as an MCP server over streamable HTTP (MCP 2025-11-25) for agents that
//! hold one of Authdesk's API credentials (the API key, or an API client's token — an
//! account-limited token sees and calls only that account's tools). A POST carries one
//! JSON-RPC message and is answered with JSON (`application/json`); `initialize` starts a
//! session (`Mcp-Session-Id`), bound to the caller's account limit; notifications get 202;
//! DELETE ends a session; GET offers no stream (405). Tools that change data run when an
//! `--mcp-allow` pattern names them or the desktop's prompt allows them.
//!
//! Must not: let one caller use a session another caller's limit made, or answer a
//! protocol revision it does not speak.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use authdesk_core::agents::{AgentPolicy, AgentServer, AgentSession, Approver};
use authdesk_core::mcp;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::Value;

use crate::error::ApiError;
use crate::guard::LimitedTo;
use crate::AppState;

/// Sessions kept at most (the oldest is dropped past it).
const MAX_SESSIONS: usize = 1024;

/// The agents' side of the server: sessions, the approver, pre-approved tools.
#[derive(Default)]
pub struct AgentHost {
    sessions: Mutex<HashMap<String, Held>>,
    approver: RwLock<Option<Approver>>,
    allow: RwLock<Vec<String>>,
}

struct Held {
    limit: Option<String>,
    session: Arc<tokio::sync::Mutex<AgentSession>>,
    started: std::time::Instant,
}

impl AgentHost {
    /// Who asks the user about tools that change data (the desktop's prompt).
    pub fn set_approver(&self, approver: Option<Approver>) {
        *self.approver.write().unwrap_or_else(|p| p.into_inner()) = approver;
    }

    /// Tools that change data and run without asking (`serve --mcp-allow`).
    pub fn set_allow(&self, patterns: Vec<String>) {
        *self.allow.write().unwrap_or_else(|p| p.into_inner()) = patterns;
    }
}

fn refuse(status: StatusCode, message: &str) -> Response {
    ApiError::new(status, message.to_string()).into_response()
}

/// `POST /mcp`.
pub async fn post(
    State(s): State<Arc<AppState>>,
    limit: Option<Extension<LimitedTo>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let limit = limit.map(|Extension(LimitedTo(a))| a);
    if let Some(v) = headers
        .get(mcp::VERSION_HEADER)
        .and_then(|v| v.to_str().ok())
    {
        if !mcp::KNOWN_VERSIONS.contains(&v) {
            return refuse(
                StatusCode::BAD_REQUEST,
                &format!(
                    "MCP-Protocol-Version {v:?} is not one Authdesk speaks ({})",
                    mcp::KNOWN_VERSIONS.join(", ")
                ),
            );
        }
    }
    let message: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(_) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(mcp::error(
                    &Value::Null,
                    mcp::PARSE_ERROR,
                    "the body is not JSON",
                )),
            )
                .into_response()
        }
    };
    let host = &s.agents;
    let is_initialize = message.get("method").and_then(Value::as_str) == Some("initialize");
    let presented = headers
        .get(mcp::SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let (session_id, session) = if is_initialize {
        let id = hex(&authdesk_core::settings::random_bytes::<16>());
        let session = Arc::new(tokio::sync::Mutex::new(AgentSession::default()));
        let mut sessions = host.sessions.lock().unwrap_or_else(|p| p.into_inner());
        if sessions.len() >= MAX_SESSIONS {
            if let Some(oldest) = sessions
                .iter()
                .min_by_key(|(_, h)| h.started)
                .map(|(k, _)| k.clone())
            {
                sessions.remove(&oldest);
            }
        }
        sessions.insert(
            id.clone(),
            Held {
                limit: limit.clone(),
                session: session.clone(),
                started: std::time::Instant::now(),
            },
        );
        (Some(id), session)
    } else {
        let Some(id) = presented else {
            return refuse(
                StatusCode::BAD_REQUEST,
                "no Mcp-Session-Id: send initialize first, then its Mcp-Session-Id with every request",
            );
        };
        let sessions = host.sessions.lock().unwrap_or_else(|p| p.into_inner());
        match sessions.get(&id) {
            Some(held) if held.limit == limit => (None, held.session.clone()),
            // Unknown, ended, or made by a caller with another limit: as for no session.
            _ => {
                return refuse(
                    StatusCode::NOT_FOUND,
                    "no such MCP session: initialize again",
                )
            }
        }
    };
    let policy = AgentPolicy {
        accounts: vec![],
        account_scope: limit,
        allow: host.allow.read().unwrap_or_else(|p| p.into_inner()).clone(),
    };
    let approver = host
        .approver
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let server = AgentServer::new((*s.engine).clone(), policy, approver);
    let answer = {
        let mut session = session.lock().await;
        server.handle(&mut session, message).await
    };
    let mut response = match answer {
        Some(a) => Json(a).into_response(),
        None => StatusCode::ACCEPTED.into_response(),
    };
    if let Some(id) = session_id.and_then(|i| HeaderValue::from_str(&i).ok()) {
        response.headers_mut().insert(mcp::SESSION_HEADER, id);
    }
    response
}

/// `DELETE /mcp`: ends the session.
pub async fn delete(
    State(s): State<Arc<AppState>>,
    limit: Option<Extension<LimitedTo>>,
    headers: HeaderMap,
) -> Response {
    let limit = limit.map(|Extension(LimitedTo(a))| a);
    let Some(id) = headers
        .get(mcp::SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
    else {
        return refuse(StatusCode::BAD_REQUEST, "no Mcp-Session-Id to end");
    };
    let mut sessions = s.agents.sessions.lock().unwrap_or_else(|p| p.into_inner());
    match sessions.get(id) {
        Some(held) if held.limit == limit => {
            sessions.remove(id);
            StatusCode::NO_CONTENT.into_response()
        }
        _ => refuse(StatusCode::NOT_FOUND, "no such MCP session"),
    }
}

/// `GET /mcp`: Authdesk sends nothing unasked, so it offers no stream.
pub async fn get() -> Response {
    let mut r = refuse(
        StatusCode::METHOD_NOT_ALLOWED,
        "Authdesk's MCP endpoint offers no server-sent stream: POST JSON-RPC messages",
    );
    r.headers_mut().insert(
        axum::http::header::ALLOW,
        HeaderValue::from_static("POST, DELETE"),
    );
    r
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
