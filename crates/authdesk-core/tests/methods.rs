//! Method calls as the wire sees them: an echo server (a real local HTTP server that
//! answers with the request it received) shows the URL, headers, body and auth that
//! API key, Basic and OAuth2 connectors send. The password grant is exercised against
//! `FakePasswordTokenEndpoint`: oidc-provider does not implement that deprecated grant.

mod support;

use std::sync::atomic::Ordering;

use authdesk_core::engine::request::FreeRequest;
use authdesk_core::{EngineConfig, InstallRequest, PropertyInput, Secret};
use serde_json::{json, Value};

use support::echo::{free, start_echo};

type Setup = support::EngineSetup;

fn setup() -> Setup {
    support::engine_setup(EngineConfig::default(), "Wire")
}

const METHODS: &str = r#"
[[properties]]
name = "Tenant"
required = true
[headers]
Accept = "application/json"
X-Tenant = "{Tenant}"
[[methods]]
id = "get-item"
name = "Get Item"
http_method = "GET"
path = "/items/{item_id}"
[[methods.parameters]]
name = "item_id"
in = "path"
required = true
[[methods.parameters]]
name = "limit"
in = "query"
[[methods.parameters]]
name = "X-Trace"
in = "header"
[[methods]]
id = "create-json"
name = "Create (JSON)"
http_method = "POST"
path = "/things"
[[methods.parameters]]
name = "name"
in = "body"
required = true
[[methods.parameters]]
name = "count"
in = "body"
[[methods]]
id = "status"
name = "Answer with a status"
http_method = "GET"
path = "/status/{code}"
[[methods.parameters]]
name = "code"
in = "path"
required = true
[[methods]]
id = "create-form"
name = "Create (form)"
http_method = "POST"
path = "/things"
body_format = "form"
[[methods.parameters]]
name = "email"
in = "body"
"#;

fn install(s: &Setup, slug: &str, auth: &str, base: &str, auth_value: &str) -> i64 {
    let def = format!("id = \"{slug}\"\nname = \"{slug}\"\nversion = \"1\"\napi_base_url = \"{base}/api\"\n{METHODS}\n[auth]\n{auth}\n");
    s.desk.add_connector("wire.toml", &def, false).unwrap();
    s.desk
        .install(
            &s.account,
            slug,
            InstallRequest {
                name: slug.into(),
                auth_value: Some(Secret::new(auth_value)),
                properties: vec![PropertyInput {
                    name: "Tenant".into(),
                    value: Secret::new("t-42"),
                }],
                ..Default::default()
            },
        )
        .unwrap()
        .id
}

fn params(v: Value) -> serde_json::Map<String, Value> {
    v.as_object().unwrap().clone()
}

#[tokio::test]
async fn api_key_in_a_header_with_path_query_and_header_parameters() {
    let echo = start_echo().await;
    let s = setup();
    let id = install(
        &s,
        "key-header",
        "type = \"api_key\"\nplacement = \"header\"\nname = \"X-Api-Key\"\nprefix = \"Key \"",
        &echo.base,
        "sk_live_abc",
    );
    let r = s
        .engine
        .call_method(
            id,
            "get-item",
            &params(json!({"item_id": "a b/c", "limit": 10, "X-Trace": "t1"})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    let seen = &r.body;
    assert_eq!(seen["method"], "GET");
    assert_eq!(
        seen["path"], "/api/items/a%20b%2Fc",
        "a path parameter is one encoded segment"
    );
    assert_eq!(seen["query"], "limit=10");
    assert_eq!(seen["headers"]["x-api-key"], "Key sk_live_abc");
    assert_eq!(seen["headers"]["accept"], "application/json");
    assert_eq!(seen["headers"]["x-tenant"], "t-42");
    assert_eq!(seen["headers"]["x-trace"], "t1");
    assert_eq!(seen["body"], "", "no body parameters, no body");
    assert!(seen["headers"].get("content-type").is_none());
}

#[tokio::test]
async fn api_key_in_the_query_and_basic_auth() {
    let echo = start_echo().await;
    let s = setup();
    let id = install(
        &s,
        "key-query",
        "type = \"api_key\"\nplacement = \"query\"\nname = \"api_key\"",
        &echo.base,
        "qk-123",
    );
    let r = s
        .engine
        .call_method(id, "get-item", &params(json!({"item_id": "1"})))
        .await
        .unwrap();
    assert_eq!(r.body["query"], "api_key=qk-123");

    let id = install(
        &s,
        "basic",
        "type = \"basic\"",
        &echo.base,
        "ZG9yYTpwYTpzcw==",
    );
    let r = s
        .engine
        .call_method(id, "get-item", &params(json!({"item_id": "1"})))
        .await
        .unwrap();
    assert_eq!(r.body["headers"]["authorization"], "Basic ZG9yYTpwYTpzcw==");
}

#[tokio::test]
async fn json_and_form_bodies() {
    let echo = start_echo().await;
    let s = setup();
    let id = install(
        &s,
        "bodies",
        "type = \"api_key\"\nplacement = \"header\"\nname = \"X-Api-Key\"",
        &echo.base,
        "k",
    );
    let r = s
        .engine
        .call_method(id, "create-json", &params(json!({"name": "x", "count": 2})))
        .await
        .unwrap();
    assert_eq!(r.body["method"], "POST");
    assert_eq!(r.body["headers"]["content-type"], "application/json");
    let sent: Value = serde_json::from_str(r.body["body"].as_str().unwrap()).unwrap();
    assert_eq!(sent, json!({"name": "x", "count": 2}));

    let r = s
        .engine
        .call_method(id, "create-form", &params(json!({"email": "a@b.c"})))
        .await
        .unwrap();
    assert_eq!(
        r.body["headers"]["content-type"],
        "application/x-www-form-urlencoded"
    );
    assert_eq!(r.body["body"], "email=a%40b.c");

    // A missing required parameter sends nothing.
    let before = echo.requests.load(Ordering::SeqCst);
    let e = s
        .engine
        .call_method(id, "create-json", &params(json!({"count": 1})))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("needs the parameter(s) name"), "{e}");
    assert_eq!(echo.requests.load(Ordering::SeqCst), before);
    // So does a header value HTTP cannot carry, with an error naming the parameter.
    let e = s
        .engine
        .call_method(
            id,
            "get-item",
            &params(json!({"item_id": "1", "X-Trace": "a\r\nX-Injected: yes"})),
        )
        .await
        .unwrap_err();
    let message = e.to_string();
    assert!(
        message.contains("`X-Trace`")
            && message.contains("line breaks")
            && !message.contains("Injected"),
        "{message}"
    );
    assert_eq!(echo.requests.load(Ordering::SeqCst), before);
}

#[tokio::test]
async fn password_grant_from_properties_when_the_definition_declares_it() {
    let echo = start_echo().await;
    let s = setup();
    let def = format!(
        r#"id = "pw"
name = "Legacy"
version = "1"
api_base_url = "{base}/api"
[[properties]]
name = "Username"
[[properties]]
name = "Password"
secret = true
[[properties]]
name = "InstanceHost"
[[methods]]
id = "me"
name = "Me"
http_method = "GET"
path = "/me"
[auth]
type = "oauth2"
grant = "password"
token_url = "{base}/password/token"
client_auth = "body"
[auth.capture]
InstanceHost = "token:instance_url|host"
"#,
        base = echo.base
    );
    s.desk.add_connector("pw.toml", &def, false).unwrap();
    let id = s
        .desk
        .install(
            &s.account,
            "pw",
            InstallRequest {
                name: "pw".into(),
                auth_value: Some(Secret::new("{}")),
                properties: vec![
                    PropertyInput {
                        name: "Username".into(),
                        value: Secret::new("dora"),
                    },
                    PropertyInput {
                        name: "Password".into(),
                        value: Secret::new("dora-pw"),
                    },
                    PropertyInput {
                        name: "ClientId".into(),
                        value: Secret::new("pw-client"),
                    },
                    PropertyInput {
                        name: "ClientSecret".into(),
                        value: Secret::new("pw-secret"),
                    },
                ],
                ..Default::default()
            },
        )
        .unwrap()
        .id;
    let r = s
        .engine
        .call_method(id, "me", &Default::default())
        .await
        .unwrap();
    assert_eq!(r.body["headers"]["authorization"], "Bearer pw-access");
    let ac = s.desk.get_account_connector(id).unwrap();
    assert!(ac.authenticated);
    assert!(ac
        .properties
        .iter()
        .any(|p| p.name == "Password" && p.is_secret && p.value.is_none()));
    // The token response's instance_url was captured into a property, host only.
    let host = ac
        .properties
        .iter()
        .find(|p| p.name == "InstanceHost")
        .unwrap();
    assert_eq!(host.value.as_deref(), Some("acme.my.example.com"));
    assert!(!ac.properties.iter().any(|p| p.name == "other"));
}

#[tokio::test]
async fn a_connector_with_several_ways_to_authenticate() {
    let echo = start_echo().await;
    let s = setup();
    let def = format!(
        "id = \"two-ways\"\nname = \"Two ways\"\nversion = \"1\"\napi_base_url = \"{}/api\"\n{METHODS}\n\
         [auth]\ntype = \"basic\"\n\
         [[auth_methods]]\nid = \"token\"\nname = \"API token\"\ndescription = \"A personal token.\"\n\
         [auth_methods.auth]\ntype = \"api_key\"\nplacement = \"header\"\nname = \"X-Token\"\n",
        echo.base
    );
    let library = s.desk.add_connector("two.toml", &def, false).unwrap();
    assert_eq!(library.authentication.len(), 2);
    let (basic, token) = (&library.authentication[0], &library.authentication[1]);
    assert!(basic.is_default && basic.auth_type == "Basic" && basic.method_id == "default");
    assert_eq!(
        (token.auth_type, token.auth_name.as_str()),
        ("ApiKey", "API token")
    );
    assert_eq!(token.auth_scheme.as_deref(), Some("X-Token"));
    // Cyclr's AuthenticationId is a GUID, stable across reads.
    assert!(uuid::Uuid::parse_str(&token.id).is_ok());
    assert_eq!(
        s.desk.get_connector("two-ways").unwrap().authentication[1].id,
        token.id
    );
    let tenant = || {
        vec![PropertyInput {
            name: "Tenant".into(),
            value: Secret::new("t-1"),
        }]
    };
    let install = |authentication: Option<&str>, auth_value: &str| {
        s.desk.install(
            &s.account,
            "two-ways",
            InstallRequest {
                name: "two".into(),
                authentication_id: authentication.map(str::to_string),
                auth_value: Some(Secret::new(auth_value)),
                properties: tenant(),
                ..Default::default()
            },
        )
    };
    // By the GUID or by the method's id; the AuthValue is read as that method's kind.
    let by_guid = install(Some(&token.id), "tok-123").unwrap();
    assert_eq!(by_guid.authentication_id, token.id);
    assert_eq!(by_guid.auth_type(), "ApiKey");
    let r = s
        .engine
        .call_method(by_guid.id, "get-item", &params(json!({"item_id": "1"})))
        .await
        .unwrap();
    assert_eq!(r.body["headers"]["x-token"], "tok-123");
    assert!(r.body["headers"].get("authorization").is_none());
    let by_id = install(Some("token"), "tok-456").unwrap();
    assert_eq!(by_id.authentication.method_id, "token");
    // The default is Basic: base64(user:password).
    let basic_ac = install(None, "dXNlcjpwYXNz").unwrap();
    let r = s
        .engine
        .call_method(basic_ac.id, "get-item", &params(json!({"item_id": "1"})))
        .await
        .unwrap();
    assert_eq!(r.body["headers"]["authorization"], "Basic dXNlcjpwYXNz");
    // An unknown one is refused, listing the choices; nothing is installed.
    let before = s
        .desk
        .list_account_connectors(Some(&s.account))
        .unwrap()
        .len();
    let e = install(Some("oauth"), "x").unwrap_err().to_string();
    assert!(e.contains(&token.id) && e.contains("API token"), "{e}");
    assert_eq!(
        s.desk
            .list_account_connectors(Some(&s.account))
            .unwrap()
            .len(),
        before
    );
    // Switching ways forgets the stored credential (it belongs to the other way).
    let (switched, _) = s
        .engine
        .change_account_connector(
            basic_ac.id,
            authdesk_core::AccountConnectorChange {
                authentication_id: Some("token".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(switched.authentication.method_id, "token");
    assert!(
        switched.secrets_set.is_empty(),
        "{:?}",
        switched.secrets_set
    );
    assert!(!switched.authenticated);
}

#[tokio::test]
async fn a_call_verifies_or_refuses_an_api_key_and_a_new_key_is_unknown_again() {
    let echo = start_echo().await;
    let s = setup();
    let id = install(
        &s,
        "verdict",
        "type = \"api_key\"\nplacement = \"header\"\nname = \"X-Api-Key\"",
        &echo.base,
        "key-1",
    );
    let check = || s.desk.get_account_connector(id).unwrap().last_check;
    let events = |kind: &str| {
        s.desk
            .credential_events(id, 50)
            .unwrap()
            .into_iter()
            .filter(|e| e.kind == kind)
            .collect::<Vec<_>>()
    };
    let call = |code: &'static str| {
        let engine = &s.engine;
        async move {
            engine
                .call_method(id, "status", &params(json!({ "code": code })))
                .await
        }
    };
    assert_eq!(check(), None, "not verified before any call");
    assert_eq!(call("200").await.unwrap().status, 200);
    let c = check().unwrap();
    assert!(c.ok && c.http_status == 200, "{c:?}");
    // What is already known writes nothing: one history entry for two successes.
    assert_eq!(call("204").await.unwrap().status, 204);
    assert_eq!(events("verified").len(), 1);
    assert_eq!(events("verified")[0].trigger.as_deref(), Some("call"));
    // A server error says nothing about the key.
    assert_eq!(call("500").await.unwrap().status, 500);
    assert!(check().unwrap().ok);
    // The provider refuses the key.
    assert_eq!(call("401").await.unwrap().status, 401);
    let c = check().unwrap();
    assert!(!c.ok && c.http_status == 401, "{c:?}");
    assert_eq!(events("refused").len(), 1);
    // A new key is unknown again until a call says otherwise.
    s.desk.set_auth_value(id, &Secret::new("key-2")).unwrap();
    assert_eq!(check(), None);
    assert_eq!(call("200").await.unwrap().status, 200);
    assert!(check().unwrap().ok);
}

#[tokio::test]
async fn a_free_form_request_goes_with_the_auth_applied_only_to_the_connectors_origins() {
    let echo = start_echo().await;
    let s = setup();
    let id = install(
        &s,
        "free-key",
        "type = \"api_key\"\nplacement = \"header\"\nname = \"X-Api-Key\"",
        &echo.base,
        "sk_free_1",
    );
    // A path goes under the API base URL, with the connector's headers, the typed ones
    // (replacing the connector's of the same name) and the key; the body as it is.
    let r = s
        .engine
        .send_request(
            id,
            &free(
                "patch",
                "/things/7?dry=1",
                &[("Content-Type", "text/plain"), ("Accept", "text/csv")],
                Some("a,b\n1,2"),
            ),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.body["method"], "PATCH");
    assert_eq!(r.body["path"], "/api/things/7");
    assert_eq!(r.body["query"], "dry=1");
    assert_eq!(r.body["headers"]["x-api-key"], "sk_free_1");
    assert_eq!(r.body["headers"]["x-tenant"], "t-42");
    assert_eq!(r.body["headers"]["accept"], "text/csv");
    assert_eq!(r.body["headers"]["content-type"], "text/plain");
    assert_eq!(r.body["body"], "a,b\n1,2");
    // A full URL on the same origin is as good as a path.
    let r = s
        .engine
        .send_request(
            id,
            &free("GET", &format!("{}/elsewhere", echo.base), &[], None),
        )
        .await
        .unwrap();
    assert_eq!(r.body["path"], "/elsewhere");
    assert_eq!(r.body["headers"]["x-api-key"], "sk_free_1");

    let before = echo.requests.load(Ordering::SeqCst);
    let refused = |req: FreeRequest| {
        let engine = s.engine.clone();
        async move { engine.send_request(id, &req).await.unwrap_err().to_string() }
    };
    // Another origin (another host, or the same host on another port or scheme) is
    // refused before anything is sent, naming the connector's origins.
    let port: u16 = echo.base.rsplit(':').next().unwrap().parse().unwrap();
    let other_port = format!("http://127.0.0.1:{}/x", port.wrapping_add(1));
    for target in [
        "https://attacker.example/steal".to_string(),
        other_port,
        echo.base.replace("http://", "https://"),
    ] {
        let e = refused(free("GET", &target, &[], None)).await;
        assert!(
            e.contains("is not one of connector `free-key`'s origins"),
            "{target}: {e}"
        );
        assert!(!e.contains("sk_free_1"), "{e}");
    }
    // The auth's own header (any case), Host and framing headers, bad names and values,
    // credentials in the URL and unknown methods are refused, each named.
    for (req, says) in [
        (
            free("GET", "/x", &[("x-api-key", "other")], None),
            "set by the connector's auth",
        ),
        (
            free("GET", "/x", &[("Host", "attacker.example")], None),
            "Host is decided",
        ),
        (
            free("GET", "/x", &[("Content-Length", "3")], None),
            "Content-Length is decided",
        ),
        (
            free("GET", "/x", &[("Bad Name", "v")], None),
            "not a valid header name",
        ),
        (
            free("GET", "/x", &[("X-Ok", "a\r\nX-Evil: 1")], None),
            "value of header X-Ok",
        ),
        (free("TRACE", "/x", &[], None), "not one of GET"),
        (
            free(
                "GET",
                &echo.base.replace("http://", "http://u:p@"),
                &[],
                None,
            ),
            "user name or password",
        ),
        (free("GET", "users", &[], None), "neither a path"),
        (
            free("GET", "//attacker.example/x", &[], None),
            "neither a path",
        ),
    ] {
        let e = refused(req).await;
        assert!(e.contains(says), "expected {says:?} in: {e}");
    }
    assert_eq!(
        echo.requests.load(Ordering::SeqCst),
        before,
        "a refused request was sent"
    );
}

#[tokio::test]
async fn a_free_form_request_cannot_replace_a_query_placed_key_and_records_the_verdict() {
    let echo = start_echo().await;
    let s = setup();
    let id = install(
        &s,
        "free-query",
        "type = \"api_key\"\nplacement = \"query\"\nname = \"api_key\"",
        &echo.base,
        "qk-9",
    );
    let e = s
        .engine
        .send_request(id, &free("GET", "/x?api_key=mine", &[], None))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("query parameter api_key is set by the connector's auth"),
        "{e}"
    );
    let r = s
        .engine
        .send_request(id, &free("GET", "/x?a=1", &[], None))
        .await
        .unwrap();
    assert_eq!(r.body["query"], "a=1&api_key=qk-9");
    // A refusal from the provider marks the key, as a method call would.
    let r = s
        .engine
        .send_request(id, &free("GET", "/status/401", &[], None))
        .await
        .unwrap();
    assert_eq!(r.status, 401);
    let ac = s.desk.get_account_connector(id).unwrap();
    assert!(
        ac.last_check.is_some_and(|c| !c.ok),
        "the refusal was not recorded"
    );
}
