//! The connector editor through the library: a built-in connector duplicated as the user's,
//! its text saved (the id cannot change; a built-in cannot be changed), a method added and
//! called on the wire, a new API-key connector from the form, and removal only while no
//! account connector uses it. Runs on SQLite and, with `AUTHDESK_TEST_POSTGRES`, PostgreSQL.

mod support;

use authdesk_core::definition::edit::{MethodForm, PlainAuth, PlainConnectorForm};
use authdesk_core::definition::HttpMethod;
use authdesk_core::engine::request::FreeRequest;
use authdesk_core::{ConnectorSource, EngineConfig, InstallRequest, Secret};

#[tokio::test]
async fn a_built_in_connector_is_duplicated_edited_and_removed_as_the_users_own() {
    let s = support::engine_setup(EngineConfig::default(), "Editor");
    let desk = &s.desk;
    // Built-ins cannot be changed: each refusal points at Duplicate.
    let form = MethodForm {
        id: "get-gist".into(),
        name: "Get gist".into(),
        description: "One gist.".into(),
        http_method: HttpMethod::Get,
        path: "/gists/{gist_id}".into(),
        body_format: None,
        parameters: "per_page query".into(),
    };
    let e = desk
        .add_connector_method("github", &form)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("built in") && e.contains("Duplicate as my connector"),
        "{e}"
    );
    let builtin_text = desk.connector_definition_text("github").unwrap();
    let e = desk
        .save_connector_text(Some("github"), &builtin_text)
        .unwrap_err()
        .to_string();
    assert!(e.contains("built in"), "{e}");

    let copy = desk
        .duplicate_connector("github", "my-github", None)
        .unwrap();
    assert_eq!(copy.source, ConnectorSource::User);
    assert_eq!(copy.name, "GitHub (copy)");
    assert_ne!(
        copy.authentication[0].id,
        desk.get_connector("github").unwrap().authentication[0].id,
        "the copy shares the built-in's AuthenticationId"
    );
    // The same id twice, or a built-in's id, is refused.
    let e = desk
        .duplicate_connector("github", "my-github", None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("already exists"), "{e}");

    // A method added keeps the rest of the text (its comments too).
    let c = desk.add_connector_method("my-github", &form).unwrap();
    let text = desk.connector_definition_text(&c.slug).unwrap();
    assert!(text.starts_with("# GitHub (OAuth App)"), "{text}");
    assert!(text.contains("id = \"get-gist\""));

    // The text is saved as typed; changing the id is refused and changes nothing.
    let edited = text.replace(
        "description = \"Repositories, issues",
        "description = \"Mine: repositories, issues",
    );
    let c = desk
        .save_connector_text(Some("my-github"), &edited)
        .unwrap();
    assert!(c.description.starts_with("Mine:"), "{}", c.description);
    let e = desk
        .save_connector_text(
            Some("my-github"),
            &edited.replace("id = \"my-github\"", "id = \"other\""),
        )
        .unwrap_err()
        .to_string();
    assert!(e.contains("id: the definition says `other`"), "{e}");
    let e = desk
        .save_connector_text(
            Some("my-github"),
            &edited.replace("[auth]", "[auth]\nbogus = 1"),
        )
        .unwrap_err()
        .to_string();
    assert!(e.contains("bogus"), "the field is not named: {e}");
    assert_eq!(desk.connector_definition_text("my-github").unwrap(), edited);

    // Removal: refused while an account connector uses it, then done.
    let ac = desk
        .install(
            &s.account,
            "my-github",
            InstallRequest {
                name: "mine".into(),
                ..Default::default()
            },
        )
        .unwrap();
    let e = desk.remove_connector("my-github").unwrap_err().to_string();
    assert!(e.contains("installed in 1 account connector"), "{e}");
    s.engine.delete_account_connector(ac.id).await.unwrap();
    desk.remove_connector("my-github").unwrap();
    assert!(desk.get_connector("my-github").is_err());
}

#[tokio::test]
async fn an_api_key_connector_from_the_form_with_a_method_added_calls_the_api() {
    // A real local HTTP server that answers the key it was sent.
    let app = axum::Router::new().route(
        "/v1/ping/{n}",
        axum::routing::get(
            |headers: axum::http::HeaderMap,
             axum::extract::Path(n): axum::extract::Path<String>| async move {
                let key = headers
                    .get("x-key")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                if key == "Token k-1" {
                    (axum::http::StatusCode::OK, format!("pong {n}"))
                } else {
                    (axum::http::StatusCode::UNAUTHORIZED, "no".to_string())
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let s = support::engine_setup(EngineConfig::default(), "Editor");
    let form = PlainConnectorForm {
        id: "pinger".into(),
        name: "Pinger".into(),
        description: String::new(),
        api_base_url: format!("{base}/v1"),
        auth: PlainAuth::ApiKey,
        placement: None,
        key_name: Some("X-Key".into()),
        prefix: Some("Token ".into()),
    };
    s.desk.add_plain_connector(&form).unwrap();
    s.desk
        .add_connector_method(
            "pinger",
            &MethodForm {
                id: "ping".into(),
                name: "Ping".into(),
                description: String::new(),
                http_method: HttpMethod::Get,
                path: "/ping/{n}".into(),
                body_format: None,
                parameters: String::new(),
            },
        )
        .unwrap();
    let ac = s
        .desk
        .install(
            &s.account,
            "pinger",
            InstallRequest {
                name: "p".into(),
                auth_value: Some(Secret::new("k-1")),
                ..Default::default()
            },
        )
        .unwrap();
    let params = serde_json::json!({"n": "7"});
    let r = s
        .engine
        .call_method(ac.id, "ping", params.as_object().unwrap())
        .await
        .unwrap();
    assert_eq!((r.status, r.body.as_str()), (200, Some("pong 7")));
    let r = s
        .engine
        .send_request(
            ac.id,
            &FreeRequest {
                method: "GET".into(),
                target: "/ping/8".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!((r.status, r.body.as_str()), (200, Some("pong 8")));
}
