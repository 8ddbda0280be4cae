//! `authdesk mcp`: the tools of an MCP server connector and calling them; `serve`, Authdesk
//! as an MCP server over stdio (one JSON-RPC message per line); `config`, the snippet an
//! MCP client reads; `request-tool`, an account connector's free-form request tool.
//! `connectors add-mcp` is `add_mcp` here.
//!
//! Must not: write anything but JSON-RPC messages to stdout while serving (messages for
//! people go to stderr), or take a client secret from argv.

use std::path::Path;

use anyhow::Result;
use authdesk_core::agents::{AgentPolicy, AgentServer, AgentSession};
use authdesk_core::engine::mcp::McpAddOptions;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

use super::{Ctx, Outcome};
use crate::cli::{McpClientKind, McpCmd, OnOff};

/// The redirect URIs registered for the sign-ins Authdesk runs: the desktop's and the
/// API's callback and the loopback listener of `authdesk connect` (any port: RFC 8252).
const REDIRECT_URIS: &[&str] = &[
    "http://127.0.0.1/connector/callback",
    "http://127.0.0.1/callback",
];

pub fn run(ctx: &Ctx, cmd: McpCmd, dir: &Path) -> Result<Outcome> {
    match cmd {
        McpCmd::Tools {
            account_connector_id,
        } => {
            let runner = ctx.runner()?;
            let tools = runner.run(runner.engine.mcp_tools(None, account_connector_id))?;
            ctx.out.mcp_tools(&tools)?;
        }
        McpCmd::Call {
            account_connector_id,
            tool,
            args,
        } => {
            let arguments: Value = serde_json::from_str(&args).map_err(|e| {
                authdesk_core::Error::InvalidInput(format!(
                    "--args is not JSON ({e}); give an object, e.g. --args '{{\"query\": \"x\"}}'"
                ))
            })?;
            let runner = ctx.runner()?;
            let result = runner.run(runner.engine.mcp_call(
                None,
                account_connector_id,
                &tool,
                arguments,
            ))?;
            ctx.out.mcp_result(&result)?;
            if result["isError"] == json!(true) {
                eprintln!(
                    "authdesk: the tool reported an error (exit status {})",
                    super::oauth::EXIT_HTTP_FAILURE
                );
                return Ok(Outcome::ThirdPartyFailed);
            }
        }
        McpCmd::Serve { accounts, allow } => serve(ctx, accounts, allow)?,
        McpCmd::Config {
            client,
            accounts,
            allow,
        } => config(ctx, client, &accounts, &allow, dir)?,
        McpCmd::RequestTool {
            account_connector_id,
            state,
        } => {
            let on = matches!(state, OnOff::On);
            ctx.desk.set_mcp_request_tool(account_connector_id, on)?;
            ctx.out.done(&format!(
                "Agents {} the free-form request tool of account connector {account_connector_id}.",
                if on { "now get" } else { "no longer get" }
            ))?;
        }
    }
    Ok(Outcome::Done)
}

/// `connectors add-mcp`.
pub fn add_mcp(
    ctx: &Ctx,
    url: &str,
    name: Option<String>,
    id: Option<String>,
    client_id: Option<String>,
    client_secret_stdin: bool,
) -> Result<()> {
    // An id already taken is refused before anything is registered anywhere.
    let slug = authdesk_core::engine::mcp::connector_id(url, id.as_deref())?;
    if ctx.desk.get_connector(&slug).is_ok() {
        return Err(authdesk_core::Error::AlreadyExists(format!(
            "connector `{slug}` already exists: give the MCP server another id (--id) or remove              that connector first; nothing was registered"
        ))
        .into());
    }
    let client_secret = if client_secret_stdin {
        Some(crate::secrets::read_stdin("ClientSecret")?)
    } else {
        None
    };
    let opts = McpAddOptions {
        id,
        name,
        client_id,
        client_secret,
        redirect_uris: REDIRECT_URIS.iter().map(|s| s.to_string()).collect(),
    };
    let runner = ctx.runner()?;
    let found = runner.run(runner.engine.discover_mcp(url, &opts))?;
    let origin = format!("the MCP server {}", url.trim());
    let c = ctx
        .desk
        .add_mcp_connector(&origin, &found.toml, found.client.as_ref())?;
    ctx.out.mcp_connector(
        &c,
        found.client.as_ref().map(|c| c.client_id.as_str()),
        found.client.as_ref().is_some_and(|c| c.registered),
        found.resource_metadata.as_deref(),
    )
}

/// MCP over stdio: one message per line in, one answer per line out.
fn serve(ctx: &Ctx, accounts: Vec<String>, allow: Vec<String>) -> Result<()> {
    let runner = ctx.runner()?;
    let accounts = accounts
        .iter()
        .map(|a| authdesk_core::service::parse_guid(a))
        .collect::<authdesk_core::Result<Vec<_>>>()?;
    let policy = AgentPolicy {
        accounts,
        account_scope: None,
        allow,
    };
    let server = AgentServer::new(runner.engine.clone(), policy, None);
    eprintln!("authdesk: serving MCP on stdio (tools that change data need --allow)");
    runner.run(async move {
        let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
        let mut stdout = tokio::io::stdout();
        let mut session = AgentSession::default();
        while let Some(line) = lines.next_line().await? {
            if line.trim().is_empty() {
                continue;
            }
            let answer = match serde_json::from_str::<Value>(&line) {
                Ok(message) => server.handle(&mut session, message).await,
                Err(_) => Some(authdesk_core::mcp::error(
                    &Value::Null,
                    authdesk_core::mcp::PARSE_ERROR,
                    "not JSON",
                )),
            };
            if let Some(answer) = answer {
                let mut text = answer.to_string();
                text.push('\n');
                stdout.write_all(text.as_bytes()).await?;
                stdout.flush().await?;
            }
        }
        Ok::<(), anyhow::Error>(())
    })
}

/// The snippet each client reads (Claude Desktop's and Cursor's `mcpServers`, VS Code's
/// `servers`), running this binary on this data directory.
fn config(
    ctx: &Ctx,
    client: McpClientKind,
    accounts: &[String],
    allow: &[String],
    dir: &Path,
) -> Result<()> {
    let command = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "authdesk".into());
    let mut args = vec!["mcp".to_string(), "serve".to_string()];
    for a in accounts {
        args.extend(["--account".to_string(), a.clone()]);
    }
    for a in allow {
        args.extend(["--allow".to_string(), a.clone()]);
    }
    let env = json!({ "AUTHDESK_DATA_DIR": dir.display().to_string() });
    let (file, snippet) = match client {
        McpClientKind::Claude => (
            "claude_desktop_config.json (Claude Desktop: Settings → Developer → Edit Config)",
            json!({"mcpServers": {"authdesk": {"command": command, "args": args, "env": env}}}),
        ),
        McpClientKind::Cursor => (
            "~/.cursor/mcp.json (or .cursor/mcp.json in a project)",
            json!({"mcpServers": {"authdesk": {"command": command, "args": args, "env": env}}}),
        ),
        McpClientKind::Vscode => (
            ".vscode/mcp.json (or the user's mcp.json: MCP: Open User Configuration)",
            json!({"servers": {"authdesk": {"type": "stdio", "command": command, "args": args, "env": env}}}),
        ),
    };
    ctx.out.mcp_config(file, &snippet)
}
