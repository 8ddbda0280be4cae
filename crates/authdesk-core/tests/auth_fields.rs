//! AuthFields (Cyclr's type) as the wire sees them: each field's value, set per account
//! connector, goes on every call in the header, query parameter or JSON body key the
//! definition places it, at the echo server (a real local HTTP server); what cannot carry a
//! body field is refused before anything is sent, and AuthValues that do not match the
//! fields are refused naming the field, never echoing a value.

mod support;

use std::sync::atomic::Ordering;

use authdesk_core::{AuthStatus, EngineConfig, InstallRequest, Secret};
use serde_json::{json, Value};

use support::echo::{free, start_echo};

const DEFINITION: &str = r#"
id = "fields"
name = "Fields"
version = "1"
api_base_url = "BASE/api"

[auth]
type = "auth_fields"
[[auth.fields]]
name = "X-Account"
placement = "header"
secret = false
description = "Your account name"
[[auth.fields]]
name = "token"
placement = "query"
[[auth.fields]]
name = "api_key"
placement = "body"
description = "Settings > API"

[[methods]]
id = "list"
name = "List"
http_method = "GET"
path = "/things"
[[methods]]
id = "create"
name = "Create"
http_method = "POST"
path = "/things"
[[methods.parameters]]
name = "name"
in = "body"
[[methods]]
id = "ping"
name = "Ping"
http_method = "POST"
path = "/ping"
[[methods]]
id = "subscribe"
name = "Subscribe (form)"
http_method = "POST"
path = "/subscribe"
body_format = "form"
[[methods.parameters]]
name = "email"
in = "body"
"#;

const VALUE: &str = r#"{"X-Account": "acme", "token": "tok-1", "api_key": "ak-secret-1"}"#;

fn setup(base: &str) -> (support::EngineSetup, i64) {
    let s = support::engine_setup(EngineConfig::default(), "Fields");
    s.desk
        .add_connector("fields.toml", &DEFINITION.replace("BASE", base), false)
        .unwrap();
    let id = s
        .desk
        .install(
            &s.account,
            "fields",
            InstallRequest {
                name: "Fields".into(),
                auth_value: Some(Secret::new(VALUE)),
                ..Default::default()
            },
        )
        .unwrap()
        .id;
    (s, id)
}

fn params(v: Value) -> serde_json::Map<String, Value> {
    v.as_object().unwrap().clone()
}

#[tokio::test]
async fn each_field_goes_where_the_definition_places_it() {
    let echo = start_echo().await;
    let (s, id) = setup(&echo.base);
    assert_eq!(
        s.desk.get_account_connector(id).unwrap().auth_type(),
        "AuthFields"
    );

    // A GET has no body to carry api_key: refused, nothing sent.
    let before = echo.requests.load(Ordering::SeqCst);
    let e = s
        .engine
        .call_method(id, "list", &params(json!({})))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("method `list` sends no body"), "{e}");
    assert!(e.contains("JSON object body"), "{e}");
    assert!(!e.contains("ak-secret-1"), "{e}");

    // A JSON body gets the body field merged; the header and query fields go on too.
    let r = s
        .engine
        .call_method(id, "create", &params(json!({"name": "n1"})))
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.body["headers"]["x-account"], "acme");
    assert_eq!(r.body["query"], "token=tok-1");
    let body: Value = serde_json::from_str(r.body["body"].as_str().unwrap()).unwrap();
    assert_eq!(body, json!({"name": "n1", "api_key": "ak-secret-1"}));
    assert_eq!(r.body["headers"]["content-type"], "application/json");

    // A POST without body parameters gets a body made of the fields.
    let r = s
        .engine
        .call_method(id, "ping", &params(json!({})))
        .await
        .unwrap();
    let body: Value = serde_json::from_str(r.body["body"].as_str().unwrap()).unwrap();
    assert_eq!(body, json!({"api_key": "ak-secret-1"}));

    // A form body cannot carry a JSON body field: refused, nothing sent.
    let e = s
        .engine
        .call_method(id, "subscribe", &params(json!({"email": "a@b.example"})))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("sends a form body"), "{e}");
    assert_eq!(
        echo.requests.load(Ordering::SeqCst),
        before + 2,
        "a refused call was sent"
    );

    // A call's answer verifies the fields, as for an API key.
    let ac = s.desk.get_account_connector(id).unwrap();
    assert!(ac.last_check.is_some_and(|c| c.ok), "a 200 verifies them");
}

#[tokio::test]
async fn a_free_form_request_carries_the_fields_and_cannot_replace_them() {
    let echo = start_echo().await;
    let (s, id) = setup(&echo.base);
    let before = echo.requests.load(Ordering::SeqCst);
    for (req, says) in [
        (free("GET", "/x", &[], None), "a GET request here has none"),
        (
            free("POST", "/x", &[], Some("plain text")),
            "this body is not a JSON object",
        ),
        (
            free("POST", "/x", &[], Some(r#"{"api_key": "mine"}"#)),
            "the body key api_key is set by the connector's auth",
        ),
        (
            free("POST", "/x?token=mine", &[], None),
            "query parameter token is set by the connector's auth",
        ),
        (
            free("POST", "/x", &[("x-account", "other")], None),
            "header x-account is set by the connector's auth",
        ),
    ] {
        let e = s
            .engine
            .send_request(id, &req)
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains(says), "expected {says:?} in: {e}");
    }
    assert_eq!(
        echo.requests.load(Ordering::SeqCst),
        before,
        "a refused request was sent"
    );

    let r = s
        .engine
        .send_request(id, &free("PUT", "/x?a=1", &[], Some(r#"{"n": 2}"#)))
        .await
        .unwrap();
    assert_eq!(r.body["method"], "PUT");
    assert_eq!(r.body["query"], "a=1&token=tok-1");
    assert_eq!(r.body["headers"]["x-account"], "acme");
    let body: Value = serde_json::from_str(r.body["body"].as_str().unwrap()).unwrap();
    assert_eq!(body, json!({"n": 2, "api_key": "ak-secret-1"}));
}

#[tokio::test]
async fn auth_values_must_name_every_field_and_only_those() {
    let echo = start_echo().await;
    let (s, id) = setup(&echo.base);
    let set = |v: &str| s.desk.set_auth_value(id, &Secret::new(v)).map(|_| ());

    let e = set(r#"{"X-Account": "acme", "token": "t"}"#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("lacks api_key"), "{e}");
    let e = set(r#"{"X-Account": "a", "token": "t", "api_key": "k", "sk_live_canary": "x"}"#)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("not one of this connector's fields (X-Account, token, api_key)"),
        "{e}"
    );
    assert!(!e.contains("canary"), "an unknown key is not echoed: {e}");
    let e = set(r#"{"X-Account": "a", "token": 5, "api_key": "k"}"#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("is a number"), "{e}");
    let e = set("sk_live_canary_plain").unwrap_err().to_string();
    assert!(e.contains("JSON object keyed by field name"), "{e}");
    assert!(!e.contains("canary"), "{e}");
    // Nothing was lost: the stored values still go out.
    let r = s
        .engine
        .call_method(id, "ping", &params(json!({})))
        .await
        .unwrap();
    assert!(r.body["body"].as_str().unwrap().contains("ak-secret-1"));

    // The inspector masks secret fields and shows the others as they are.
    let i = s.desk.inspect(id, false).unwrap();
    let shown = |f: &str| {
        i.secrets
            .iter()
            .find(|x| x.field == f)
            .unwrap()
            .masked
            .clone()
    };
    assert_eq!(shown("AuthField:X-Account"), "acme");
    assert_ne!(shown("AuthField:api_key"), "ak-secret-1");
    assert!(!shown("AuthField:api_key").contains("secret-1"));

    // `{}` forgets them: the next call says what to set.
    set("{}").unwrap();
    assert_eq!(
        s.desk.get_account_connector(id).unwrap().status,
        AuthStatus::NotAuthenticated
    );
    let e = s
        .engine
        .call_method(id, "ping", &params(json!({})))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("no value is stored for the field X-Account"),
        "{e}"
    );
}
