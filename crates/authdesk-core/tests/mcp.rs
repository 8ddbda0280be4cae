//! Remote MCP servers as connectors, against real parts: the official MCP SDK's streamable
//! HTTP server, protected by panva's oidc-provider with dynamic registration and resource
//! indicators (`tests/mcp/server.mjs`). Discovery from the 401 (RFC 9728, RFC 8414),
//! registration (RFC 7591), a sign-in with `resource` (RFC 8707), tools, a tool call, a
//! refresh, a step-up, the audience check, and what is refused.
mod support;

use authdesk_core::engine::mcp::McpAddOptions;
use authdesk_core::{EngineConfig, Error, InstallRequest};
use serde_json::{json, Value};
use support::mcp_server::McpTestServer;
use support::oidc::sign_in;

/// The loopback redirect a CLI sign-in uses (any port: registered without one).
const REDIRECT: &str = "http://127.0.0.1:45123/callback";

fn options() -> McpAddOptions {
    McpAddOptions {
        redirect_uris: vec![
            "http://127.0.0.1/connector/callback".into(),
            "http://127.0.0.1/callback".into(),
        ],
        ..Default::default()
    }
}

fn text_of(result: &Value) -> String {
    result["content"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b["text"].as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

async fn sign_in_once(s: &support::EngineSetup, id: i64) -> String {
    let start = s.engine.begin_sign_in(id, REDIRECT).await.unwrap();
    let url = start.authorization_url.clone();
    let callback = sign_in(&url, "alice").await;
    s.engine
        .complete_sign_in(&callback, &start.binding)
        .await
        .unwrap();
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mcp_server_is_found_from_its_401_registered_signed_in_called_refreshed_and_stepped_up()
{
    let server = McpTestServer::start(60);
    let s = support::engine_setup(EngineConfig::default(), "Customer A");
    let url = format!("{}/mcp", server.base);

    // Discovery from the 401, then registration.
    let found = s.engine.discover_mcp(&url, &options()).await.unwrap();
    let client = found.client.as_ref().expect("a registered client");
    assert!(client.registered);
    let secret = client
        .client_secret
        .clone()
        .expect("client_secret_basic was offered");
    let registration_token = client
        .registration_access_token
        .clone()
        .expect("RFC 7592 token");
    assert_eq!(
        found.resource_metadata.as_deref(),
        Some(format!("{}/.well-known/oauth-protected-resource/mcp", server.base).as_str())
    );
    assert!(
        found.toml.contains(&format!("resource = \"{url}\"")),
        "{}",
        found.toml
    );
    let stats = server.stats().await;
    assert_eq!(stats["registrations"], 1);
    let registered = &stats["registeredClients"][0];
    assert_eq!(
        registered["token_endpoint_auth_method"],
        "client_secret_basic"
    );
    assert!(registered["redirect_uris"]
        .as_array()
        .unwrap()
        .contains(&json!("http://127.0.0.1/callback")));

    let connector = s
        .desk
        .add_mcp_connector("test", &found.toml, found.client.as_ref())
        .unwrap();
    assert!(connector.client_secret_set);
    // Sealed, never in the clear on disk.
    if let Ok(bytes) = std::fs::read(s.desk.data_dir().join("authdesk.db")) {
        let file = String::from_utf8_lossy(&bytes);
        for value in [secret.expose(), registration_token.expose()] {
            assert!(
                !file.contains(value),
                "a client secret reached the database file"
            );
        }
    }
    assert!(s.desk.mcp_registration(connector.id).unwrap().is_some());

    // Sign-in: PKCE and the resource on the authorization request and the token request.
    let id = s
        .desk
        .install(
            &s.account,
            &connector.slug,
            InstallRequest {
                name: "MCP".into(),
                ..Default::default()
            },
        )
        .unwrap()
        .id;
    let authorize = sign_in_once(&s, id).await;
    let authorize = url::Url::parse(&authorize).unwrap();
    let q: std::collections::HashMap<_, _> = authorize.query_pairs().into_owned().collect();
    assert_eq!(q.get("resource"), Some(&url));
    assert_eq!(
        q.get("code_challenge_method").map(String::as_str),
        Some("S256")
    );
    assert_eq!(q.get("scope").map(String::as_str), Some("mcp:read"));
    assert_eq!(
        server.stats().await["lastTokenRequestResource"],
        json!([url])
    );

    // Tools and calls, the session kept.
    let tools = s.engine.mcp_tools(None, id).await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
    for want in ["whoami", "add", "write_note"] {
        assert!(names.contains(&want), "{names:?}");
    }
    let add = tools.iter().find(|t| t.name == "add").unwrap();
    assert_eq!(add.input_schema["type"], "object");
    let sum = s
        .engine
        .mcp_call(None, id, "add", json!({"a": 2, "b": 3}))
        .await
        .unwrap();
    assert_eq!(text_of(&sum), "5");
    let me = s
        .engine
        .mcp_call(None, id, "whoami", json!({}))
        .await
        .unwrap();
    assert!(text_of(&me).contains("hello alice"), "{me}");

    // The token is never in what comes back.
    let (auth, _) = s.engine.access(id).await.unwrap();
    let bearer = auth.headers[0].1.expose().to_string();
    let token = bearer.trim_start_matches("Bearer ").to_string();
    for r in [&sum, &me] {
        assert!(!r.to_string().contains(&token));
    }

    // A refresh asks for the same resource, and the calls go on.
    s.engine.refresh_now(id).await.unwrap();
    let stats = server.stats().await;
    assert!(
        stats["tokenGrants"]["refresh_token"].as_i64().unwrap() >= 1,
        "{stats}"
    );
    assert_eq!(stats["lastTokenRequestResource"], json!([url]));
    let again = s
        .engine
        .mcp_call(None, id, "add", json!({"a": 1, "b": 1}))
        .await
        .unwrap();
    assert_eq!(text_of(&again), "2");

    // Step-up: a 403 insufficient_scope is recorded and refused, never signed in silently.
    let grants_before = server.stats().await["tokenGrants"]["authorization_code"].clone();
    let refused = s
        .engine
        .mcp_call(None, id, "write_note", json!({"text": "hi"}))
        .await
        .unwrap_err();
    assert!(matches!(refused, Error::NeedsReauth { .. }), "{refused}");
    assert!(refused.to_string().contains("mcp:write"), "{refused}");
    assert_eq!(
        server.stats().await["tokenGrants"]["authorization_code"],
        grants_before
    );
    let wanted = s.desk.mcp_step_up_scopes(id).unwrap();
    assert!(wanted.contains(&"mcp:read".to_string()) && wanted.contains(&"mcp:write".to_string()));
    let history = s.desk.credential_events(id, 10).unwrap();
    assert!(history.iter().any(|e| e.kind == "step_up_needed"));
    // The next sign-in asks for the union, and the tool then runs.
    let authorize = url::Url::parse(&sign_in_once(&s, id).await).unwrap();
    let scope = authorize
        .query_pairs()
        .find(|(k, _)| k == "scope")
        .map(|(_, v)| v.to_string())
        .unwrap();
    assert!(
        scope.contains("mcp:read") && scope.contains("mcp:write"),
        "{scope}"
    );
    let note = s
        .engine
        .mcp_call(None, id, "write_note", json!({"text": "hi"}))
        .await
        .unwrap();
    assert_eq!(text_of(&note), "saved: hi");

    // A token for one MCP server is never sent to another: point the connector elsewhere.
    let text = s.desk.connector_definition_text(&connector.slug).unwrap();
    let moved = text.replace(
        &format!("url = \"{url}\""),
        &format!("url = \"{}/json/mcp\"", server.base),
    );
    assert_ne!(moved, text);
    s.desk
        .save_connector_text(Some(&connector.slug), &moved)
        .unwrap();
    let before = server.stats().await["bearerRequestsByPath"]["/json/mcp"]
        .as_i64()
        .unwrap_or(0);
    let err = s.engine.mcp_tools(None, id).await.unwrap_err();
    assert!(err.to_string().contains("not this MCP server"), "{err}");
    let after = server.stats().await["bearerRequestsByPath"]["/json/mcp"]
        .as_i64()
        .unwrap_or(0);
    assert_eq!(before, after, "the token went to the other server");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_answers_the_well_known_fallback_a_given_client_and_an_open_server() {
    let server = McpTestServer::start(60);
    let s = support::engine_setup(EngineConfig::default(), "Customer B");

    // A 401 without resource_metadata: the well-known URL.
    let url = format!("{}/no-header/mcp", server.base);
    let found = s.engine.discover_mcp(&url, &options()).await.unwrap();
    assert!(found.toml.contains(&format!("url = \"{url}\"")));

    // JSON answers rather than events; the client registered by hand.
    let url = format!("{}/json/mcp", server.base);
    let reg: Value = reqwest::Client::new()
        .post(format!("{}/oauth/reg", server.base))
        .json(
            &json!({"client_name": "by hand", "redirect_uris": ["http://127.0.0.1/callback"],
            "application_type": "native", "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"]}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let opts = McpAddOptions {
        client_id: Some(reg["client_id"].as_str().unwrap().to_string()),
        id: Some("json-mcp".into()),
        ..options()
    };
    let registrations = server.stats().await["registrations"].clone();
    let found = s.engine.discover_mcp(&url, &opts).await.unwrap();
    assert_eq!(
        server.stats().await["registrations"],
        registrations,
        "registered again"
    );
    assert!(!found.client.as_ref().unwrap().registered);
    let c = s
        .desk
        .add_mcp_connector("test", &found.toml, found.client.as_ref())
        .unwrap();
    assert!(s.desk.mcp_registration(c.id).unwrap().is_none());
    let id = s
        .desk
        .install(
            &s.account,
            "json-mcp",
            InstallRequest {
                name: "JSON".into(),
                ..Default::default()
            },
        )
        .unwrap()
        .id;
    sign_in_once(&s, id).await;
    let sum = s
        .engine
        .mcp_call(None, id, "add", json!({"a": 40, "b": 2}))
        .await
        .unwrap();
    assert_eq!(text_of(&sum), "42");

    // A server that asks for nothing: a connector without auth.
    let url = format!("{}/open/mcp", server.base);
    let found = s.engine.discover_mcp(&url, &options()).await.unwrap();
    assert!(found.client.is_none());
    let c = s.desk.add_mcp_connector("test", &found.toml, None).unwrap();
    let id = s
        .desk
        .install(
            &s.account,
            &c.slug,
            InstallRequest {
                name: "Open".into(),
                ..Default::default()
            },
        )
        .unwrap()
        .id;
    let sum = s
        .engine
        .mcp_call(None, id, "add", json!({"a": 1, "b": 2}))
        .await
        .unwrap();
    assert_eq!(text_of(&sum), "3");
    // Not an MCP server's account connector: said so.
    let err = s
        .engine
        .mcp_call(None, id, "", json!({}))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("name the tool"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_is_not_mcp_or_not_safe_is_refused_and_nothing_is_added() {
    let server = McpTestServer::start(60);
    let s = support::engine_setup(EngineConfig::default(), "Customer C");
    let before = s.desk.list_connectors().unwrap().len();
    let cases = [
        (format!("{}/not-mcp", server.base), "does not answer MCP"),
        (
            format!("{}/bad-as/mcp", server.base),
            "another origin without https",
        ),
        (
            format!("{}/bad-resource/mcp", server.base),
            "/elsewhere/mcp",
        ),
        ("http://mcp.example.com/mcp".to_string(), "plain http"),
        ("not a url".to_string(), "not an absolute URL"),
    ];
    for (url, says) in cases {
        let err = match s.engine.discover_mcp(&url, &options()).await {
            Ok(_) => panic!("{url} was accepted"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains(says), "{url}: {err}");
    }
    // A registration the server refuses (a redirect URI it cannot take).
    let bad = McpAddOptions {
        redirect_uris: vec!["not a redirect uri".into()],
        ..Default::default()
    };
    let err = s
        .engine
        .discover_mcp(&format!("{}/mcp", server.base), &bad)
        .await
        .err()
        .expect("a refused registration fails");
    assert!(err.to_string().contains("refused to register"), "{err}");
    assert_eq!(s.desk.list_connectors().unwrap().len(), before);
    assert_eq!(server.stats().await["registrations"], 0);
}
