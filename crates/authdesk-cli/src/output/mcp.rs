//! Printing for MCP: a connector made for an MCP server, a server's tools, a tool's
//! result, and the configuration snippets of MCP clients.
//!
//! Must not: print a client secret or a registration access token (they are sealed, never
//! shown).

use anyhow::Result;
use serde_json::{json, Value};

use super::Out;

impl Out {
    /// `connectors add-mcp`: the connector and how its client came to be.
    pub fn mcp_connector(
        &self,
        c: &authdesk_core::domain::LibraryConnector,
        client_id: Option<&str>,
        registered: bool,
        resource_metadata: Option<&str>,
    ) -> Result<()> {
        let auth = c.definition.auth.auth_type().cyclr_name();
        let url = c
            .definition
            .mcp
            .as_ref()
            .map(|m| m.url.clone())
            .unwrap_or_default();
        self.emit(
            &json!({
                "Connector": c,
                "McpUrl": url,
                "Auth": auth,
                "ClientId": client_id,
                "Registered": registered,
                "ResourceMetadata": resource_metadata,
            }),
            || {
                let mut s = format!(
                    "Added connector `{}` ({}) for the MCP server {url}.\n",
                    c.slug, c.name
                );
                match (client_id, registered) {
                    (Some(id), true) => s.push_str(&format!(
                        "Authdesk registered itself at the authorization server: ClientId {id} \
                         (its secret and registration token are sealed in the vault).\n"
                    )),
                    (Some(id), false) => s.push_str(&format!("ClientId {id}.\n")),
                    (None, _) => s.push_str("The server asks for no sign-in.\n"),
                }
                s.push_str(&format!(
                    "Next: `authdesk connectors install {} --account ID`, `authdesk connect ID`, \
                     then `authdesk mcp tools ID`.\n",
                    c.slug
                ));
                s
            },
        )
    }

    /// A server's tools: the MCP tool objects with --json, else name and description.
    pub fn mcp_tools(&self, tools: &[authdesk_core::mcp::Tool]) -> Result<()> {
        self.emit(tools, || {
            let mut s = String::new();
            for t in tools {
                s.push_str(&t.name);
                if let Some(d) = &t.description {
                    s.push_str(&format!("\n    {}", d.replace('\n', "\n    ")));
                }
                let args: Vec<String> = t.input_schema["properties"]
                    .as_object()
                    .map(|p| p.keys().cloned().collect())
                    .unwrap_or_default();
                if !args.is_empty() {
                    s.push_str(&format!("\n    arguments: {}", args.join(", ")));
                }
                s.push('\n');
            }
            if tools.is_empty() {
                s.push_str("The server lists no tools.\n");
            }
            s
        })
    }

    /// A tool's result (`CallToolResult`): as it is with --json, else its text blocks.
    pub fn mcp_result(&self, result: &Value) -> Result<()> {
        self.emit(result, || {
            let mut s = String::new();
            for block in result["content"].as_array().into_iter().flatten() {
                match block["type"].as_str() {
                    Some("text") => s.push_str(block["text"].as_str().unwrap_or_default()),
                    _ => s.push_str(&block.to_string()),
                }
                s.push('\n');
            }
            if let Some(v) = result.get("structuredContent") {
                s.push_str(&format!("{v:#}\n"));
            }
            s
        })
    }

    /// A client's configuration: printed as JSON in both forms (it is what goes in a file).
    pub fn mcp_config(&self, file: &str, snippet: &Value) -> Result<()> {
        if self.json {
            return self.emit(snippet, String::new);
        }
        eprintln!("Put this in {file}:");
        println!("{snippet:#}");
        Ok(())
    }
}
