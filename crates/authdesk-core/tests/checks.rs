//! Credential checks (`[check]`) against a real server (oidc-provider's userinfo endpoint,
//! which answers 401 to a token it did not issue): run after a sign-in, and on demand for
//! an API key, whose verdict is recorded; a connector without a check says so.

mod support;

use authdesk_core::engine::EngineConfig;
use authdesk_core::{InstallRequest, Secret};
use support::oidc::{definition, sign_in, OidcOptions, OidcServer};

const REDIRECT: &str = "https://app.example.com/callback";

#[tokio::test]
async fn a_sign_in_is_checked_at_once_and_a_wrong_api_key_is_invalid() {
    let server = OidcServer::start(OidcOptions::default());
    let mut config = EngineConfig::default();
    config.http.total_timeout = std::time::Duration::from_secs(5);
    let s = support::engine_setup(config, "Acme");
    let issuer = &server.issuer;
    let with_check = |text: String| {
        format!("{text}\n[check]\nmethod = \"GET\"\npath = \"/me\"\nok_status = [200]\n")
    };
    s.desk
        .add_connector(
            "t",
            &with_check(definition(issuer, "checked", "authorization_code", "")),
            false,
        )
        .unwrap();
    s.desk
        .set_connector_client(
            "checked",
            "authdesk-web",
            Some(&Secret::new("authdesk-web-secret")),
        )
        .unwrap();
    let install = |connector: &str, auth_value: Option<&str>| {
        s.desk
            .install(
                &s.account,
                connector,
                InstallRequest {
                    name: "c".into(),
                    auth_value: auth_value.map(Secret::new),
                    ..Default::default()
                },
            )
            .unwrap()
            .id
    };
    let id = install("checked", None);
    let start = s.engine.begin_sign_in(id, REDIRECT).await.unwrap();
    let callback = sign_in(&start.authorization_url, "carol").await;
    let ac = s
        .engine
        .complete_sign_in(&callback, &start.binding)
        .await
        .unwrap();
    let check = ac.last_check.expect("checked after the sign-in");
    assert_eq!((check.ok, check.http_status), (true, 200));
    let token = support::oidc::stored(&s.desk, id, "AccessToken");

    // An API key sent as a bearer token to the same endpoint: a wrong one is invalid.
    let key_def = format!(
        "id = \"keyed\"\nname = \"Keyed\"\nversion = \"1\"\napi_base_url = \"{issuer}\"\n\
         [auth]\ntype = \"api_key\"\nplacement = \"header\"\nname = \"Authorization\"\nprefix = \"Bearer \"\n"
    );
    s.desk
        .add_connector("k", &with_check(key_def), false)
        .unwrap();
    let keyed = install("keyed", Some("not-a-token"));
    let r = s.engine.check(keyed).await.unwrap();
    assert_eq!((r.valid, r.status), (false, 401));
    let ac = s.desk.get_account_connector(keyed).unwrap();
    assert_eq!(
        ac.last_check.as_ref().map(|c| c.ok),
        Some(false),
        "refused, not Authenticated-and-fine"
    );
    s.desk.set_auth_value(keyed, &Secret::new(token)).unwrap();
    let r = s.engine.check(keyed).await.unwrap();
    assert_eq!((r.valid, r.status), (true, 200));
    let history = s.desk.credential_events(keyed, 10).unwrap();
    assert!(
        history.iter().any(|e| e.kind == "check_invalid"),
        "{history:?}"
    );
    assert!(
        history.iter().any(|e| e.kind == "check_valid"),
        "{history:?}"
    );

    // A connector that names no check says how to add one.
    s.desk
        .add_connector(
            "n",
            &definition(issuer, "unchecked", "authorization_code", ""),
            false,
        )
        .unwrap();
    let plain = install("unchecked", None);
    let e = s.engine.check(plain).await.unwrap_err();
    assert!(e.to_string().contains("[check]"), "{e}");
}

#[test]
fn a_check_that_could_change_something_or_means_an_error_is_refused() {
    let base = "id = \"x\"\nname = \"X\"\nversion = \"1\"\napi_base_url = \"https://api.example.com\"\n[auth]\ntype = \"none\"\n";
    for (check, field) in [
        (
            "[check]\nmethod = \"DELETE\"\npath = \"/me\"\n",
            "check.method",
        ),
        (
            "[check]\npath = \"/me\"\nok_status = [404]\n",
            "check.ok_status",
        ),
        ("[check]\npath = \" \"\n", "check.path"),
    ] {
        let e = authdesk_core::ConnectorDefinition::from_toml("x.toml", &format!("{base}{check}"))
            .unwrap_err();
        assert!(e.to_string().contains(field), "{e}");
    }
}
