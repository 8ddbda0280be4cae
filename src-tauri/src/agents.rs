//! Agents in the window: the approver the in-process local API's `/mcp` asks before a tool
//! that changes data runs. It brings the main window forward and emits `agent-approval`
//! ({Id, Agent, Account, Connector, Tool, Request}); the window answers with
//! `answer_agent_request` ("once", "session" or "deny"). No answer within two minutes, or
//! a window that cannot be reached, is a denial.
//!
//! Must not: allow anything without the user's answer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use authdesk_core::agents::{ApprovalRequest, Approver, Verdict};
use tauri::{AppHandle, Emitter, Manager};

/// How long a request waits for the user.
const WAIT: Duration = Duration::from_secs(120);

/// Requests waiting for an answer, by id.
#[derive(Default, Clone)]
pub struct Pending(Arc<Mutex<HashMap<String, tokio::sync::oneshot::Sender<Verdict>>>>);

impl Pending {
    /// Hands `verdict` to the request `id`; false when it is no longer waiting.
    pub fn answer(&self, id: &str, verdict: Verdict) -> bool {
        let sender = self.0.lock().unwrap_or_else(|p| p.into_inner()).remove(id);
        sender.is_some_and(|s| s.send(verdict).is_ok())
    }
}

/// The approver for the local API's agents.
pub fn approver(app: AppHandle, pending: Pending) -> Approver {
    Arc::new(move |request: ApprovalRequest| {
        let (app, pending) = (app.clone(), pending.clone());
        Box::pin(async move {
            let id: String = authdesk_core::settings::random_bytes::<12>()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            let (tx, rx) = tokio::sync::oneshot::channel();
            pending
                .0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(id.clone(), tx);
            let mut payload = serde_json::to_value(&request).unwrap_or_default();
            payload["Id"] = id.clone().into();
            if let Some(w) = app.get_webview_window("main") {
                let _ = w.unminimize();
                let _ = w.show();
                let _ = w.set_focus();
            }
            if app.emit_to("main", "agent-approval", payload).is_err() {
                pending.answer(&id, Verdict::Deny);
            }
            let verdict = match tokio::time::timeout(WAIT, rx).await {
                Ok(Ok(v)) => v,
                _ => Verdict::Deny,
            };
            // Gone from the window either way.
            pending
                .0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&id);
            let _ = app.emit_to("main", "agent-approval-done", id);
            verdict
        })
    })
}
