//! Authdesk as an MCP server (`agents`): account connectors' methods as tools with stable
//! names and schemas, reads run, changes refused without approval (an --allow pattern or
//! the window's prompt), an account-limited caller seeing only its account, the free-form
//! request tool only where turned on, every call in the history with the agent's name and
//! the verdict, and no credential in anything an agent gets back (the echo server sends the
//! request's headers, the API key among them, back as its answer).
mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use authdesk_core::agents::{AgentPolicy, AgentServer, AgentSession, Approver, Verdict};
use authdesk_core::{EngineConfig, InstallRequest, Secret};
use serde_json::{json, Value};
use support::echo::start_echo;

const CANARY: &str = "canary-key-7f3a9c21d4";

const DEFINITION: &str = r#"
id = "wire"
name = "Wire"
version = "1"
api_base_url = "BASE/api"

[auth]
type = "api_key"
placement = "header"
name = "X-Api-Key"

[[methods]]
id = "list_items"
name = "List items"
description = "Lists the items."
http_method = "GET"
path = "/items"
[[methods.parameters]]
name = "limit"
in = "query"
description = "How many"

[[methods]]
id = "create_thing"
name = "Create a thing"
http_method = "POST"
path = "/things"
[[methods.parameters]]
name = "name"
in = "body"
required = true

[[methods]]
id = "purge"
name = "Purge"
http_method = "GET"
path = "/purge"
write = true
"#;

struct Setup {
    s: support::EngineSetup,
    a: i64,
    b: i64,
    b_account: String,
    echo: support::echo::EchoServer,
}

async fn setup() -> Setup {
    let echo = start_echo().await;
    let s = support::engine_setup(EngineConfig::default(), "Customer A");
    s.desk
        .add_connector("wire.toml", &DEFINITION.replace("BASE", &echo.base), false)
        .unwrap();
    let b_account = support::account(&s.desk, "Customer B");
    let install = |account: &str| {
        s.desk
            .install(
                account,
                "wire",
                InstallRequest {
                    name: "Wire".into(),
                    auth_value: Some(Secret::new(CANARY)),
                    ..Default::default()
                },
            )
            .unwrap()
            .id
    };
    let a = install(&s.account);
    let b = install(&b_account);
    Setup {
        s,
        a,
        b,
        b_account,
        echo,
    }
}

async fn ask(
    server: &AgentServer,
    session: &mut AgentSession,
    method: &str,
    params: Value,
) -> Value {
    let answer = server
        .handle(
            session,
            json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params}),
        )
        .await
        .expect("a request is answered");
    assert_eq!(answer["id"], 7);
    answer
}

async fn started(server: &AgentServer) -> AgentSession {
    let mut session = AgentSession::default();
    let init = ask(
        server,
        &mut session,
        "initialize",
        json!({"protocolVersion": "2025-06-18", "capabilities": {},
               "clientInfo": {"name": "test-agent", "version": "2.0"}}),
    )
    .await;
    assert_eq!(init["result"]["protocolVersion"], "2025-06-18");
    assert_eq!(init["result"]["serverInfo"]["name"], "Authdesk");
    assert!(server
        .handle(
            &mut session,
            json!({"jsonrpc": "2.0", "method": "notifications/initialized"})
        )
        .await
        .is_none());
    session
}

fn call(name: &str, arguments: Value) -> Value {
    json!({"name": name, "arguments": arguments})
}

fn text(answer: &Value) -> String {
    answer["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn methods_are_tools_reads_run_changes_need_approval_and_no_secret_comes_back() {
    let t = setup().await;
    let server = AgentServer::new(t.s.engine.clone(), AgentPolicy::default(), None);
    let mut session = started(&server).await;

    let listed = ask(&server, &mut session, "tools/list", json!({})).await;
    let tools = listed["result"]["tools"].as_array().unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    for want in [
        "wire_customer_a__list_items",
        "wire_customer_a__create_thing",
        "wire_customer_a__purge",
        "wire_customer_b__list_items",
    ] {
        assert!(names.contains(&want), "{names:?}");
    }
    assert!(
        !names.iter().any(|n| n.ends_with("__request")),
        "request tool not turned on"
    );
    let list = tools
        .iter()
        .find(|t| t["name"] == "wire_customer_a__list_items")
        .unwrap();
    assert!(list["description"]
        .as_str()
        .unwrap()
        .contains("Lists the items."));
    assert_eq!(list["inputSchema"]["properties"]["limit"]["type"], "string");
    assert_eq!(list["annotations"]["readOnlyHint"], true);
    let create = tools
        .iter()
        .find(|t| t["name"] == "wire_customer_a__create_thing")
        .unwrap();
    assert_eq!(create["inputSchema"]["required"], json!(["name"]));
    assert_eq!(create["annotations"]["readOnlyHint"], false);

    // A read runs; the echo sends the key back, the agent never sees it.
    let read = ask(
        &server,
        &mut session,
        "tools/call",
        call("wire_customer_a__list_items", json!({"limit": "5"})),
    )
    .await;
    assert_eq!(read["result"]["isError"], false, "{read}");
    assert!(text(&read).contains("\"Status\": 200"), "{read}");
    assert!(text(&read).contains("/api/items"), "{read}");
    assert!(
        !read.to_string().contains(CANARY),
        "the API key reached the agent: {read}"
    );

    // A change (POST, or a GET marked write) is refused without approval: nothing is sent.
    let sent = t.echo.requests.load(Ordering::SeqCst);
    for tool in ["wire_customer_a__create_thing", "wire_customer_a__purge"] {
        let refused = ask(
            &server,
            &mut session,
            "tools/call",
            call(tool, json!({"name": "x"})),
        )
        .await;
        assert_eq!(refused["result"]["isError"], true, "{refused}");
        assert!(text(&refused).contains("needs approval"), "{refused}");
    }
    assert_eq!(
        t.echo.requests.load(Ordering::SeqCst),
        sent,
        "a refused change was sent"
    );

    // Unknown tools are a JSON-RPC error.
    let unknown = ask(&server, &mut session, "tools/call", call("nope", json!({}))).await;
    assert_eq!(unknown["error"]["code"], -32602);

    // Every call is in the history, with the agent and the verdict.
    let history = t.s.desk.credential_events(t.a, 20).unwrap();
    let calls: Vec<String> = history
        .iter()
        .filter(|e| e.kind == "agent_tool_call")
        .filter_map(|e| e.detail.clone())
        .collect();
    assert_eq!(calls.len(), 3, "{calls:?}");
    assert!(
        calls.iter().all(|d| d.contains("test-agent 2.0")),
        "{calls:?}"
    );
    assert!(calls
        .iter()
        .any(|d| d.contains("list_items") && d.contains("allowed (reads only)")));
    assert!(calls
        .iter()
        .any(|d| d.contains("create_thing") && d.contains("denied")));
    assert!(!calls.iter().any(|d| d.contains(CANARY)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_patterns_the_prompt_an_account_limit_and_the_request_tool() {
    let t = setup().await;

    // --allow names a change: it runs.
    let policy = AgentPolicy {
        allow: vec!["wire_customer_a__create*".into()],
        ..Default::default()
    };
    let server = AgentServer::new(t.s.engine.clone(), policy, None);
    let mut session = started(&server).await;
    let made = ask(
        &server,
        &mut session,
        "tools/call",
        call("wire_customer_a__create_thing", json!({"name": "x"})),
    )
    .await;
    assert_eq!(made["result"]["isError"], false, "{made}");
    assert!(text(&made).contains("\"method\": \"POST\""), "{made}");
    assert!(!made.to_string().contains(CANARY));

    // The prompt: "Allow for this session" asks once; "Deny" refuses.
    let asked = Arc::new(AtomicUsize::new(0));
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (a2, s2) = (asked.clone(), seen.clone());
    let approver: Approver = Arc::new(move |request| {
        a2.fetch_add(1, Ordering::SeqCst);
        let verdict = if request.tool.ends_with("__purge") {
            Verdict::Deny
        } else {
            Verdict::AllowSession
        };
        s2.lock().unwrap().push(request);
        Box::pin(async move { verdict })
    });
    let server = AgentServer::new(t.s.engine.clone(), AgentPolicy::default(), Some(approver));
    let mut session = started(&server).await;
    for _ in 0..2 {
        let r = ask(
            &server,
            &mut session,
            "tools/call",
            call("wire_customer_a__create_thing", json!({"name": "y"})),
        )
        .await;
        assert_eq!(r["result"]["isError"], false, "{r}");
    }
    assert_eq!(
        asked.load(Ordering::SeqCst),
        1,
        "allowed for the session: asked once"
    );
    let denied = ask(
        &server,
        &mut session,
        "tools/call",
        call("wire_customer_b__purge", json!({})),
    )
    .await;
    assert_eq!(denied["result"]["isError"], true);
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen[0].agent, "test-agent 2.0");
        assert_eq!(seen[0].account, "Customer A");
        assert_eq!(seen[0].connector, "Wire");
        assert_eq!(seen[0].request, "POST /things");
        assert_eq!(seen[1].account, "Customer B");
    }
    let history = t.s.desk.credential_events(t.b, 5).unwrap();
    assert!(history.iter().any(|e| e
        .detail
        .as_deref()
        .is_some_and(|d| d.contains("denied by the user"))));

    // A caller limited to account B sees and calls B's tools only.
    let policy = AgentPolicy {
        account_scope: Some(t.b_account.clone()),
        ..Default::default()
    };
    let server = AgentServer::new(t.s.engine.clone(), policy, None);
    let mut session = started(&server).await;
    let listed = ask(&server, &mut session, "tools/list", json!({})).await;
    let names: Vec<String> = listed["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect();
    assert!(
        !names.is_empty() && names.iter().all(|n| n.starts_with("wire_customer_b__")),
        "{names:?}"
    );
    let other = ask(
        &server,
        &mut session,
        "tools/call",
        call("wire_customer_a__list_items", json!({})),
    )
    .await;
    assert_eq!(other["error"]["code"], -32602, "{other}");

    // The free-form request tool, once turned on: GET runs, POST needs approval.
    t.s.desk.set_mcp_request_tool(t.a, true).unwrap();
    let server = AgentServer::new(t.s.engine.clone(), AgentPolicy::default(), None);
    let mut session = started(&server).await;
    let get = ask(
        &server,
        &mut session,
        "tools/call",
        call(
            "wire_customer_a__request",
            json!({"method": "GET", "path": "/api/anything"}),
        ),
    )
    .await;
    assert_eq!(get["result"]["isError"], false, "{get}");
    assert!(!get.to_string().contains(CANARY));
    let post = ask(
        &server,
        &mut session,
        "tools/call",
        call(
            "wire_customer_a__request",
            json!({"method": "POST", "path": "/api/anything"}),
        ),
    )
    .await;
    assert!(text(&post).contains("needs approval"), "{post}");
    let away = ask(
        &server,
        &mut session,
        "tools/call",
        call(
            "wire_customer_a__request",
            json!({"method": "GET", "path": "https://example.com/"}),
        ),
    )
    .await;
    assert_eq!(away["result"]["isError"], true, "{away}");
    t.s.desk.set_mcp_request_tool(t.a, false).unwrap();
    let listed = ask(&server, &mut session, "tools/list", json!({})).await;
    assert!(!listed.to_string().contains("__request"));
}
