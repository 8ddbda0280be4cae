//! MCP in the window: an MCP server connector's tools in the method tester (listed by
//! `account_connectors::methods`, called here), the per account connector switch of the
//! free-form request tool agents get, and the user's answer to an agent's request.
//!
//! Must not: allow an agent's request on anything but the user's click.

use authdesk_core::agents::Verdict;

use super::{R, S};

/// Calls `tool` of the MCP server behind account connector `id`: its `CallToolResult`.
#[tauri::command]
pub async fn mcp_call(
    shell: S<'_>,
    id: i64,
    tool: String,
    arguments: serde_json::Value,
) -> R<serde_json::Value> {
    Ok(shell.engine.mcp_call(None, id, &tool, arguments).await?)
}

#[tauri::command]
pub async fn mcp_request_tool(shell: S<'_>, id: i64) -> R<bool> {
    shell.db(move |desk| desk.mcp_request_tool(id)).await
}

#[tauri::command]
pub async fn set_mcp_request_tool(shell: S<'_>, id: i64, on: bool) -> R<bool> {
    shell
        .db(move |desk| {
            desk.set_mcp_request_tool(id, on)?;
            desk.mcp_request_tool(id)
        })
        .await
}

/// The user's answer to an agent's request: "once", "session" or "deny". False when the
/// request is no longer waiting (it timed out).
#[tauri::command]
pub async fn answer_agent_request(shell: S<'_>, id: String, verdict: String) -> R<bool> {
    let verdict = match verdict.as_str() {
        "once" => Verdict::AllowOnce,
        "session" => Verdict::AllowSession,
        _ => Verdict::Deny,
    };
    Ok(shell.agents.answer(&id, verdict))
}
