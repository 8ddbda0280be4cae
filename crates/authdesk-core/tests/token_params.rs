//! `[auth.token_params]`: extra parameters of every token request (Auth0's `audience` on
//! client credentials), placeholders filled from the account connector's properties, and
//! refused when they would stand in for what the protocol sends. The token endpoint is a
//! fake by name (`FakeRecordingTokenEndpoint`): it shows what a request carried, which a
//! real server does not tell.

mod support;

use std::sync::{Arc, Mutex};

use authdesk_core::engine::EngineConfig;
use authdesk_core::{InstallRequest, PropertyInput, Secret};
use axum::routing::post;

struct FakeRecordingTokenEndpoint {
    base: String,
    forms: Arc<Mutex<Vec<String>>>,
}

impl FakeRecordingTokenEndpoint {
    async fn start() -> FakeRecordingTokenEndpoint {
        let forms = Arc::new(Mutex::new(Vec::new()));
        let seen = forms.clone();
        let app = axum::Router::new().route(
            "/oauth/token",
            post(move |body: String| {
                seen.lock().unwrap().push(body);
                async {
                    (
                        [(axum::http::header::CONTENT_TYPE, "application/json")],
                        r#"{"access_token":"m2m-token","token_type":"Bearer","expires_in":3600}"#,
                    )
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeRecordingTokenEndpoint { base, forms }
    }
}

fn definition(token_base: &str, params: &str) -> String {
    format!(
        r#"id = "m2m"
name = "Machine to machine"
version = "1"
[auth]
type = "oauth2"
grant = "client_credentials"
token_url = "{token_base}/oauth/token"
client_auth = "body"
[auth.token_params]
{params}
[[properties]]
name = "Tenant"
description = "the tenant"
"#
    )
}

#[tokio::test]
async fn token_params_go_with_the_token_request_with_properties_filled() {
    let fake = FakeRecordingTokenEndpoint::start().await;
    let s = support::engine_setup(EngineConfig::default(), "M2M");
    s.desk
        .add_connector(
            "m2m.toml",
            &definition(
                &fake.base,
                r#"audience = "https://{Tenant}.example/api/v2/""#,
            ),
            false,
        )
        .unwrap();
    s.desk
        .set_connector_client("m2m", "m2m-client", Some(&Secret::new("m2m-secret")))
        .unwrap();
    let id = s
        .desk
        .install(
            &s.account,
            "m2m",
            InstallRequest {
                name: "tenant".into(),
                auth_value: Some(Secret::new("{}")),
                properties: vec![PropertyInput {
                    name: "Tenant".into(),
                    value: Secret::new("acme"),
                }],
                ..Default::default()
            },
        )
        .unwrap()
        .id;
    s.engine.access(id).await.unwrap();
    let forms = fake.forms.lock().unwrap().clone();
    assert_eq!(forms.len(), 1);
    let fields: Vec<(String, String)> = url::form_urlencoded::parse(forms[0].as_bytes())
        .into_owned()
        .collect();
    assert!(
        fields.contains(&("audience".into(), "https://acme.example/api/v2/".into())),
        "{fields:?}"
    );
    assert!(fields.contains(&("grant_type".into(), "client_credentials".into())));
}

#[tokio::test]
async fn token_params_cannot_stand_in_for_the_protocol_or_name_an_undeclared_property() {
    let s = support::engine_setup(EngineConfig::default(), "M2M");
    for (params, says) in [
        (r#"grant_type = "password""#, "reserved"),
        (r#"client_secret = "x""#, "reserved"),
        (
            r#"audience = "https://{Nope}/""#,
            "names no declared property",
        ),
    ] {
        let e = s
            .desk
            .add_connector("m2m.toml", &definition("https://idp.example", params), true)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("token_params") && e.contains(says),
            "{params}: {e}"
        );
    }
}

#[tokio::test]
async fn scope_placeholders_are_filled_from_the_account_connectors_properties() {
    let s = support::engine_setup(EngineConfig::default(), "Scoped");
    let def = r#"id = "scoped"
name = "Scoped"
version = "1"
[auth]
type = "oauth2"
grant = "authorization_code"
authorize_url = "https://login.example/authorize"
token_url = "https://login.example/token"
scopes = ["https://{OrgHost}/user_impersonation", "offline_access"]
[[properties]]
name = "OrgHost"
description = "the environment's host"
required = true
suffix = ".crm.dynamics.com"
example = "acme.crm.dynamics.com"
"#;
    s.desk.add_connector("scoped.toml", def, false).unwrap();
    s.desk
        .set_connector_client("scoped", "client", Some(&Secret::new("secret")))
        .unwrap();
    let id = s
        .desk
        .install(
            &s.account,
            "scoped",
            InstallRequest {
                name: "env".into(),
                properties: vec![PropertyInput {
                    name: "OrgHost".into(),
                    value: Secret::new("acme.crm.dynamics.com"),
                }],
                ..Default::default()
            },
        )
        .unwrap()
        .id;
    let start = s
        .engine
        .begin_sign_in(id, "https://app.example.com/callback")
        .await
        .unwrap();
    let url = url::Url::parse(&start.authorization_url).unwrap();
    let scope = url
        .query_pairs()
        .find(|(k, _)| k == "scope")
        .map(|(_, v)| v.into_owned());
    assert_eq!(
        scope.as_deref(),
        Some("https://acme.crm.dynamics.com/user_impersonation offline_access")
    );
    // A placeholder that names no property is refused when the definition is read.
    let e = s
        .desk
        .add_connector(
            "bad.toml",
            &def.replace("scoped", "bad")
                .replace("{OrgHost}/user", "{Nope}/user"),
            false,
        )
        .unwrap_err()
        .to_string();
    assert!(e.contains("scopes") && e.contains("Nope"), "{e}");
}
