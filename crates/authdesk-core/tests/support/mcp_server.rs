//! A remote MCP server protected by a real authorization server, for tests:
//! `tests/mcp/server.mjs` (the official MCP SDK's streamable HTTP server, panva's
//! oidc-provider with dynamic registration and resource indicators under `/oauth`; see its
//! README for the paths and the challenges).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

pub struct McpTestServer {
    /// `http://127.0.0.1:<port>`, no trailing slash.
    pub base: String,
    child: std::process::Child,
}

impl McpTestServer {
    pub fn start(access_ttl_secs: u64) -> McpTestServer {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/mcp");
        let child = Command::new("node")
            .arg("server.mjs")
            .current_dir(&dir)
            .env("PORT", "0")
            .env("ACCESS_TTL", access_ttl_secs.to_string())
            .env("EXIT_WITH_STDIN", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run `node` in {}: {e}", dir.display()));
        let hint = if dir.join("node_modules/@modelcontextprotocol/sdk").exists() {
            String::new()
        } else {
            format!(
                "{}/node_modules is missing: run `npm ci` there.",
                dir.display()
            )
        };
        let (child, base) =
            super::listening(child, "the MCP test server", Duration::from_secs(30), &hint);
        McpTestServer { base, child }
    }

    /// `/__test/stats` (see tests/mcp/README.md).
    pub async fn stats(&self) -> serde_json::Value {
        reqwest::get(format!("{}/__test/stats", self.base))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

impl Drop for McpTestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
