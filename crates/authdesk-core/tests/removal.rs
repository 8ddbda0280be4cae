//! Disconnect and delete say first what they will do, do exactly that, and report it: a
//! disconnect with nothing stored changes nothing and records nothing; tokens that cannot
//! be read (the data key is gone) are deleted without revocation, and the report says so
//! instead of failing. On SQLite: the second desk opens the same data directory without
//! its key file.

mod support;

use std::sync::Arc;

use authdesk_core::{
    Authdesk, Engine, EngineConfig, Error, InstallRequest, KeySource, OpenOptions, PropertyInput,
    Secret,
};

const REVOKING: &str = r#"
id = "revoking"
name = "Revoking provider"
version = "1"
api_base_url = "https://api.revoking.test"
[auth]
type = "oauth2"
grant = "authorization_code"
authorize_url = "https://auth.revoking.test/authorize"
token_url = "https://auth.revoking.test/token"
revoke_url = "https://auth.revoking.test/revoke"
"#;

fn desk(dir: &std::path::Path, key: &str) -> Arc<Authdesk> {
    Arc::new(
        Authdesk::open(OpenOptions {
            data_dir: dir.join("data"),
            database: None,
            key_source: KeySource::File(dir.join(key)),
            clock: Arc::new(chrono::Utc::now),
        })
        .unwrap(),
    )
}

#[tokio::test]
async fn a_removal_says_what_it_will_do_and_reports_what_it_did() {
    let dir = tempfile::tempdir().unwrap();
    let desk = desk(dir.path(), "vault.key");
    let engine = Engine::new(desk.clone(), EngineConfig::default()).unwrap();
    let account = support::account(&desk, "Acme");
    desk.add_connector("revoking.toml", REVOKING, false)
        .unwrap();
    let install = |connector: &str, auth_value: Option<&str>, properties: Vec<PropertyInput>| {
        desk.install(
            &account,
            connector,
            InstallRequest {
                name: format!("{connector} for Acme"),
                auth_value: auth_value.map(Secret::new),
                properties,
                ..Default::default()
            },
        )
        .unwrap()
        .id
    };
    let oauth = install(
        "revoking",
        Some(r#"{"AccessToken":"a1","RefreshToken":"r1"}"#),
        vec![],
    );
    let key = install(
        "generic-api-key",
        None,
        vec![PropertyInput {
            name: "ApiHost".into(),
            value: Secret::new("api.example.com"),
        }],
    );

    // Nothing stored: nothing to disconnect, nothing written, no history.
    let p = engine.removal_preview(key).await.unwrap();
    assert!(!p.stored && !p.revokes && p.unreadable.is_none(), "{p:?}");
    let before = desk.get_account_connector(key).unwrap();
    let report = engine.disconnect(key).await.unwrap();
    assert!(report.nothing_stored && !report.attempted, "{report:?}");
    assert_eq!(desk.get_account_connector(key).unwrap(), before);
    assert!(desk.credential_events(key, 100).unwrap().is_empty());

    // Tokens stored and readable: they will be revoked.
    let p = engine.removal_preview(oauth).await.unwrap();
    assert!(p.stored && p.revokes && p.unreadable.is_none(), "{p:?}");

    // The same data directory without its key: the tokens cannot be read.
    let keyless = desk_without_key(dir.path());
    let engine2 = Engine::new(keyless.clone(), EngineConfig::default()).unwrap();
    let p = engine2.removal_preview(oauth).await.unwrap();
    let why = p.unreadable.clone().expect("unreadable");
    assert!(
        p.stored && p.revokes && why.contains("does not exist"),
        "{p:?}"
    );
    // Deleting anyway is done, and says the tokens were not revoked; it is no error.
    let report = engine2.delete_account_connector(oauth).await.unwrap();
    let said = report.not_revoked.expect("not revoked");
    assert!(
        said.contains("could not be read") && said.contains("not revoked at the provider"),
        "{said}"
    );
    assert!(!report.attempted && report.errors.is_empty());
    assert!(matches!(
        desk.get_account_connector(oauth),
        Err(Error::NotFound { .. })
    ));
}

fn desk_without_key(dir: &std::path::Path) -> Arc<Authdesk> {
    desk(dir, "no-such.key")
}
