//! Agents through the `authdesk` binary, with the official MCP SDK (TypeScript,
//! `tests/mcp/client.mjs`) as the client: `authdesk mcp serve` over stdio and the API's
//! `/mcp` over streamable HTTP (the API key, and an API client's token limited to one
//! account); `connectors add-mcp`, `connect`, `mcp tools` and `mcp call` against the SDK's
//! MCP server protected by oidc-provider (`tests/mcp/server.mjs`); `mcp config`. A canary
//! API key is never in what an agent, a log or an answer shows.

mod common;
#[path = "../../authdesk-core/tests/support/echo.rs"]
mod echo;
#[path = "../../authdesk-core/tests/support/oidc.rs"]
mod oidc;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use common::Desk;
use serde_json::{json, Value};

const CANARY: &str = "canary-cli-key-5b8e02f4";

fn mcp_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/mcp")
}

/// A desk with the echo connector installed in accounts "Customer A" and "Customer B".
fn desk_with_wire(echo: &str) -> (Desk, String, String) {
    let desk = Desk::new();
    let def = desk.dir.path().join("wire.toml");
    std::fs::write(
        &def,
        format!(
            r#"id = "wire"
name = "Wire"
version = "1"
api_base_url = "{echo}/api"
[auth]
type = "api_key"
placement = "header"
name = "X-Api-Key"
[[methods]]
id = "list_items"
name = "List items"
http_method = "GET"
path = "/items"
[[methods]]
id = "create_thing"
name = "Create a thing"
http_method = "POST"
path = "/things"
"#
        ),
    )
    .unwrap();
    desk.run(&["connectors", "add", def.to_str().unwrap()]).ok();
    let a = desk.create_account("Customer A");
    let b = desk.create_account("Customer B");
    for account in [&a, &b] {
        let id = desk.install(account, "wire", &[]);
        desk.run_with_stdin(
            &[
                "account-connectors",
                "set-authvalue",
                &id.to_string(),
                "--stdin",
            ],
            Some(CANARY),
        )
        .ok();
    }
    (desk, a, b)
}

/// Runs the SDK client with `args`; its one JSON document.
fn sdk(args: &[&str], bearer: Option<&str>, desk: &Desk) -> Value {
    let mut c = Command::new("node");
    c.arg("client.mjs").args(args).current_dir(mcp_dir());
    c.env("AUTHDESK_DATA_DIR", desk.data_dir());
    if let Some(b) = bearer {
        c.env("MCP_BEARER", b);
    }
    let out = c
        .output()
        .expect("run node client.mjs (npm ci in tests/mcp)");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "client.mjs failed: {text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !text.contains(CANARY),
        "the API key reached the agent: {text}"
    );
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn tool_names(v: &Value) -> Vec<String> {
    v["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("no tools: {v}"))
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect()
}

fn plan(calls: Value) -> String {
    json!({"list": true, "calls": calls}).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_lists_and_calls_tools_over_stdio_and_changes_need_allow() {
    let echo = echo::start_echo().await;
    let (desk, _, _) = desk_with_wire(&echo.base);
    let bin = env!("CARGO_BIN_EXE_authdesk");
    let calls = json!([
        {"name": "wire_customer_a__list_items", "arguments": {}},
        {"name": "wire_customer_a__create_thing", "arguments": {}}
    ]);
    let out = sdk(
        &["stdio", &plan(calls.clone()), "--", bin, "mcp", "serve"],
        None,
        &desk,
    );
    assert_eq!(out["serverInfo"]["name"], "Authdesk", "{out}");
    let names = tool_names(&out);
    for want in [
        "wire_customer_a__list_items",
        "wire_customer_b__create_thing",
    ] {
        assert!(names.contains(&want.to_string()), "{names:?}");
    }
    let read = &out["calls"][0];
    assert_eq!(read["ok"], true, "{out}");
    assert_eq!(read["result"]["isError"], false, "{out}");
    let write = &out["calls"][1];
    assert_eq!(write["result"]["isError"], true, "{out}");
    assert!(write["result"]["content"][0]["text"]
        .as_str()
        .unwrap()
        .contains("needs approval"));

    // Named by --allow, it runs; --account narrows the tools.
    let out = sdk(
        &[
            "stdio",
            &plan(calls),
            "--",
            bin,
            "mcp",
            "serve",
            "--allow",
            "wire_*__create_thing",
            "--account",
            &desk_account(&desk, "Customer A"),
        ],
        None,
        &desk,
    );
    assert!(
        tool_names(&out)
            .iter()
            .all(|n| n.starts_with("wire_customer_a__")),
        "{out}"
    );
    assert_eq!(out["calls"][1]["result"]["isError"], false, "{out}");

    // The history names the agent and the verdicts.
    let ids = desk.run(&["--json", "account-connectors", "list"]).json();
    let a_id = ids
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["AccountId"] == desk_account(&desk, "Customer A").as_str())
        .unwrap()["Id"]
        .as_i64()
        .unwrap();
    let history = desk.run(&["--json", "history", &a_id.to_string()]).ok();
    assert!(history.contains("sdk-test-agent"), "{history}");
    assert!(
        history.contains("denied") && history.contains("allowed by --allow"),
        "{history}"
    );
    assert!(!history.contains(CANARY));
}

fn desk_account(desk: &Desk, name: &str) -> String {
    let list = desk.run(&["--json", "accounts", "list"]).json();
    list.as_array()
        .unwrap()
        .iter()
        .find(|a| a["Name"] == name)
        .unwrap()["Id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// `authdesk serve` on a free port (logging at debug): the child, its base URL and its log
/// (what it writes to stderr, whole once it has ended).
fn serve(
    desk: &Desk,
    extra: &[&str],
) -> (std::process::Child, String, std::thread::JoinHandle<String>) {
    let mut args = vec!["serve", "--listen", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    let mut child = desk
        .command(&args)
        .env("AUTHDESK_LOG", "debug")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    let base = loop {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "serve ended before listening"
        );
        if let Some(rest) = line.trim().strip_prefix("Authdesk API listening on ") {
            break rest.to_string();
        }
    };
    let logs = std::thread::spawn(move || {
        let mut all = String::new();
        for l in stderr.lines().map_while(Result::ok) {
            all.push_str(&l);
            all.push('\n');
        }
        all
    });
    (child, base, logs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_uses_slash_mcp_with_the_api_key_and_an_account_limited_token() {
    let echo = echo::start_echo().await;
    let (desk, _, b) = desk_with_wire(&echo.base);
    let key = desk.run(&["api-key"]).ok().trim().to_string();
    let (mut server, base, logs) = serve(&desk, &[]);
    let url = format!("{base}/mcp");
    let calls = json!([
        {"name": "wire_customer_a__list_items", "arguments": {}},
        {"name": "wire_customer_b__create_thing", "arguments": {}}
    ]);
    let out = sdk(&["http", &url, &plan(calls.clone())], Some(&key), &desk);
    let names = tool_names(&out);
    assert!(
        names.contains(&"wire_customer_a__list_items".to_string()),
        "{out}"
    );
    assert!(
        names.contains(&"wire_customer_b__list_items".to_string()),
        "{out}"
    );
    assert_eq!(out["calls"][0]["result"]["isError"], false, "{out}");
    assert!(
        out["calls"][1]["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("needs approval"),
        "{out}"
    );

    // Without a credential: 401, no session.
    let out = sdk(&["http", &url, &plan(json!([]))], None, &desk);
    assert_eq!(out["httpStatus"], 401, "{out}");

    // An API client's token limited to account B: B's tools only.
    let created = desk
        .run(&["--json", "api-clients", "create", "--name", "agent"])
        .json();
    let token: Value = reqwest::Client::new()
        .post(format!("{base}/oauth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", created["ClientId"].as_str().unwrap()),
            ("client_secret", created["ClientSecret"].as_str().unwrap()),
            ("scope", &format!("account:{b}")),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let limited = token["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("{token}"));
    let out = sdk(&["http", &url, &plan(calls)], Some(limited), &desk);
    let names = tool_names(&out);
    assert!(
        !names.is_empty() && names.iter().all(|n| n.starts_with("wire_customer_b__")),
        "{out}"
    );
    assert_eq!(
        out["calls"][0]["ok"], false,
        "another account's tool was called: {out}"
    );
    let _ = server.kill();
    let _ = server.wait();
    let log = logs.join().unwrap();
    assert!(
        log.contains("DEBUG") || log.contains("INFO"),
        "nothing was logged: {log}"
    );
    assert!(!log.contains(CANARY), "the API key reached the log");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_mcp_connect_tools_and_call_through_the_cli() {
    let dir = mcp_dir();
    let mut node = Command::new("node")
        .arg("server.mjs")
        .current_dir(&dir)
        .env("PORT", "0")
        .env("EXIT_WITH_STDIN", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(node.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let base = first
        .trim()
        .strip_prefix("listening ")
        .expect("the MCP test server started")
        .to_string();
    let url = format!("{base}/mcp");

    let desk = Desk::new();
    let added = desk
        .run(&[
            "--json",
            "connectors",
            "add-mcp",
            &url,
            "--name",
            "Test MCP",
        ])
        .json();
    assert_eq!(added["Registered"], true, "{added}");
    assert_eq!(added["Auth"], "OAuth2");
    assert_eq!(added["McpUrl"], url.as_str());
    let slug = added["Connector"]["Slug"]
        .as_str()
        .unwrap_or_else(|| panic!("{added}"))
        .to_string();
    // Adding it again refuses and writes nothing.
    let err = desk
        .run(&["connectors", "add-mcp", &url, "--id", &slug])
        .fails();
    assert!(err.contains("already exists"), "{err}");
    let err = desk
        .run(&["connectors", "add-mcp", &format!("{base}/not-mcp")])
        .fails();
    assert!(err.contains("does not answer MCP"), "{err}");

    let account = desk.create_account("Agents Inc");
    let id = desk.install(&account, &slug, &[]);
    let mut child = desk
        .command(&[
            "--json",
            "connect",
            &id.to_string(),
            "--no-browser",
            "--timeout",
            "60",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while !line.starts_with(&base) {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "connect printed no URL"
        );
    }
    assert!(line.contains("resource="), "{line}");
    let callback = oidc::sign_in(line.trim(), "dana").await;
    assert_eq!(reqwest::get(&callback).await.unwrap().status(), 200);
    assert!(child.wait().unwrap().success());

    let tools = desk
        .run(&["--json", "mcp", "tools", &id.to_string()])
        .json();
    let names: Vec<&str> = tools
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"whoami") && names.contains(&"add"),
        "{tools}"
    );
    assert!(tools[0]["inputSchema"].is_object());
    let sum = desk
        .run(&[
            "--json",
            "mcp",
            "call",
            &id.to_string(),
            "add",
            "--args",
            r#"{"a":20,"b":22}"#,
        ])
        .json();
    assert_eq!(sum["content"][0]["text"], "42", "{sum}");
    let text = desk.run(&["mcp", "call", &id.to_string(), "whoami"]).ok();
    assert!(text.contains("hello dana"), "{text}");
    let err = desk
        .run(&["mcp", "call", &id.to_string(), "add", "--args", "[1]"])
        .fails();
    assert!(err.contains("JSON object"), "{err}");
    // A step-up is asked, never done silently.
    let err = desk
        .run(&[
            "mcp",
            "call",
            &id.to_string(),
            "write_note",
            "--args",
            r#"{"text":"x"}"#,
        ])
        .fails();
    assert!(
        err.contains("mcp:write") && err.contains("sign in again"),
        "{err}"
    );

    // The same through the local API.
    let key = desk.run(&["api-key"]).ok().trim().to_string();
    let (mut server, api, _) = serve(&desk, &[]);
    let http = reqwest::Client::new();
    let tools: Value = http
        .get(format!("{api}/v1.0/account/connectors/{id}/mcp/tools"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        tools
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t["name"] == "add")),
        "{tools}"
    );
    let answer = http
        .post(format!("{api}/v1.0/account/connectors/{id}/mcp/call"))
        .bearer_auth(&key)
        .json(&json!({"Tool": "add", "Arguments": {"a": 1, "b": 2}}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let sum: Value = answer.json().await.unwrap();
    assert_eq!(sum["content"][0]["text"], "3", "{sum}");
    let wrong = http
        .post(format!("{api}/v1.0/account/connectors/{id}/mcp/call"))
        .bearer_auth(&key)
        .header("X-Cyclr-Account", desk.create_account("Other"))
        .json(&json!({"Tool": "add", "Arguments": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 404, "another account's connector");
    let unknown_field = http
        .post(format!("{api}/v1.0/account/connectors/{id}/mcp/call"))
        .bearer_auth(&key)
        .json(&json!({"Tool": "add", "Args": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown_field.status(), 400);
    let _ = server.kill();
    let _ = server.wait();
    let _ = node.kill();
    let _ = node.wait();
}

#[test]
fn mcp_config_prints_each_clients_snippet() {
    let desk = Desk::new();
    for (client, key) in [
        ("claude", "mcpServers"),
        ("cursor", "mcpServers"),
        ("vscode", "servers"),
    ] {
        let v = desk
            .run(&[
                "--json", "mcp", "config", "--client", client, "--allow", "x_*",
            ])
            .json();
        let server = &v[key]["authdesk"];
        assert!(
            server["command"].as_str().unwrap().ends_with("authdesk"),
            "{v}"
        );
        assert_eq!(
            server["args"],
            json!(["mcp", "serve", "--allow", "x_*"]),
            "{v}"
        );
        assert_eq!(
            server["env"]["AUTHDESK_DATA_DIR"],
            desk.data_dir().display().to_string()
        );
    }
    let run = desk.run(&["mcp", "config", "--client", "emacs"]);
    assert!(!run.out.status.success());
    assert!(run.stderr().contains("claude"), "{}", run.describe());
}
