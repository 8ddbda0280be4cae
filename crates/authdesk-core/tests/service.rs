//! The core's service against a real SQLite file. The vault key comes from an explicit key
//! file here so these tests need no keychain; the keychain itself is exercised by the CLI
//! suite (`crates/authdesk-cli/tests/cli.rs`), which the test script runs inside a private
//! D-Bus session with gnome-keyring.

mod support;

use std::sync::Arc;

use authdesk_core::credentials::CredentialSource;
use authdesk_core::{
    AuthStatus, Authdesk, Error, InstallRequest, KeySource, NewAccount, OpenOptions, PropertyInput,
    Secret,
};
use chrono::{DateTime, TimeZone, Utc};

struct Fixture {
    _dir: tempfile::TempDir,
    desk: Authdesk,
    account: String,
    /// The PostgreSQL database, when the suite runs on one.
    database: Option<String>,
}

fn options(dir: &std::path::Path, now: DateTime<Utc>) -> OpenOptions {
    OpenOptions {
        data_dir: dir.join("data"),
        database: support::test_database(),
        key_source: KeySource::File(dir.join("vault.key")),
        clock: Arc::new(move || now),
    }
}

fn fixture() -> Fixture {
    fixture_on(support::test_database())
}

fn fixture_on(database: Option<String>) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let now = Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap();
    let desk = Authdesk::open(OpenOptions {
        database: database.clone(),
        ..options(dir.path(), now)
    })
    .unwrap();
    let account = desk
        .create_account(NewAccount {
            name: "Acme".into(),
            ..Default::default()
        })
        .unwrap()
        .id;
    Fixture {
        _dir: dir,
        desk,
        account,
        database,
    }
}

fn prop(name: &str, value: &str) -> PropertyInput {
    PropertyInput {
        name: name.into(),
        value: Secret::new(value),
    }
}

fn install(f: &Fixture, connector: &str, properties: Vec<PropertyInput>) -> i64 {
    f.desk
        .install(
            &f.account,
            connector,
            InstallRequest {
                name: format!("{connector} for Acme"),
                properties,
                ..Default::default()
            },
        )
        .unwrap()
        .id
}

#[test]
fn accounts_round_trip_and_reject_bad_ids() {
    let f = fixture();
    let given = "8D0F6C8B-3A5E-4C2F-9B1D-2E7F4A6C9D01";
    let a = f
        .desk
        .create_account(NewAccount {
            id: Some(given.into()),
            name: "Beta".into(),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(a.id, given.to_lowercase());
    assert_eq!(f.desk.get_account(given).unwrap().name, "Beta");
    let e = f
        .desk
        .create_account(NewAccount {
            id: Some(given.into()),
            name: "Again".into(),
            ..Default::default()
        })
        .unwrap_err();
    assert!(matches!(e, Error::AlreadyExists(_)), "{e}");
    let e = f
        .desk
        .create_account(NewAccount {
            id: Some("not-a-guid".into()),
            name: "X".into(),
            ..Default::default()
        })
        .unwrap_err();
    assert!(e.to_string().contains("not a GUID"), "{e}");
    let e = f
        .desk
        .create_account(NewAccount {
            name: "  ".into(),
            ..Default::default()
        })
        .unwrap_err();
    assert!(e.to_string().contains("Name must not be empty"), "{e}");
    assert_eq!(f.desk.list_accounts().unwrap().len(), 2);

    f.desk.ensure_account_user(&a.id, "alice").unwrap();
    f.desk.ensure_account_user(&a.id, "alice").unwrap();
    assert_eq!(f.desk.list_account_users(&a.id).unwrap().len(), 1);

    f.desk.delete_account_taking(&a.id).unwrap();
    assert!(matches!(
        f.desk.get_account(&a.id),
        Err(Error::NotFound { .. })
    ));
}

#[test]
fn client_credentials_resolution() {
    let f = fixture();
    let id = install(&f, "github", vec![]);
    // Missing in both places: the error names both.
    let e = f
        .desk
        .resolve_client_credentials(id)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("ClientId")
            && e.contains("connector library entry")
            && e.contains("account connector's own property"),
        "{e}"
    );

    // Library only.
    f.desk
        .set_connector_client("github", "lib-id", Some(&Secret::new("lib-secret")))
        .unwrap();
    let c = f.desk.resolve_client_credentials(id).unwrap();
    assert_eq!(
        (c.client_id.as_str(), c.client_id_from),
        ("lib-id", CredentialSource::ConnectorLibrary)
    );
    assert_eq!(c.client_secret.unwrap().expose(), "lib-secret");

    // Account connector properties win.
    f.desk
        .set_property(id, "ClientId", &Secret::new("ac-id"))
        .unwrap();
    // ...and the library's secret is not paired with another app's id.
    let e = f
        .desk
        .resolve_client_credentials(id)
        .unwrap_err()
        .to_string();
    assert!(e.contains("ClientSecret"), "{e}");
    f.desk
        .set_property(id, "ClientSecret", &Secret::new("ac-secret"))
        .unwrap();
    let c = f.desk.resolve_client_credentials(id).unwrap();
    assert_eq!(
        (c.client_id.as_str(), c.client_id_from),
        ("ac-id", CredentialSource::AccountConnector)
    );
    assert_eq!(c.client_secret.unwrap().expose(), "ac-secret");
    assert_eq!(
        c.client_secret_from,
        Some(CredentialSource::AccountConnector)
    );

    // The secret property is sealed and shown as set, not as a value.
    let ac = f.desk.get_account_connector(id).unwrap();
    let secret = ac
        .properties
        .iter()
        .find(|p| p.name == "ClientSecret")
        .unwrap();
    assert!(secret.is_secret && secret.value.is_none());
    let plain = ac.properties.iter().find(|p| p.name == "ClientId").unwrap();
    assert_eq!(plain.value.as_deref(), Some("ac-id"));

    // Only the secret overridden: library id with the account connector's secret.
    f.desk.remove_property(id, "ClientId").unwrap();
    let c = f.desk.resolve_client_credentials(id).unwrap();
    assert_eq!(c.client_id, "lib-id");
    assert_eq!(c.client_secret.unwrap().expose(), "ac-secret");
}

#[test]
fn auth_values_set_status_and_replace_old_credentials() {
    let f = fixture();
    let id = install(&f, "github", vec![]);
    let set = |v: &str| f.desk.set_auth_value(id, &Secret::new(v));

    let ac = set(r#"{"AccessToken":"a1","RefreshToken":"r1","Expires":"2026-01-01T13:00:00Z","RefreshExpires":"2027-01-01T00:00:00Z"}"#).unwrap();
    assert_eq!(ac.status, AuthStatus::Authenticated);
    assert!(ac.authenticated);
    assert_eq!(ac.secrets_set, vec!["AccessToken", "RefreshToken"]);
    assert_eq!(
        f.desk
            .credential_secret(id, "AccessToken")
            .unwrap()
            .unwrap()
            .expose(),
        "a1"
    );

    // Access token expired but refresh token alive: still usable (refresh on next use).
    let ac = set(r#"{"AccessToken":"a2","RefreshToken":"r2","Expires":"2025-01-01T00:00:00Z"}"#)
        .unwrap();
    assert_eq!(ac.status, AuthStatus::Authenticated);

    // Partner AuthValue whose RefreshExpires has passed: needs re-authentication.
    let ac = set(r#"{"AccessToken":"a3","RefreshToken":"r3","Expires":"2025-01-01T00:00:00Z","RefreshExpires":"2025-06-01T00:00:00Z"}"#).unwrap();
    assert_eq!(ac.status, AuthStatus::NeedsReauth);
    assert!(ac.last_error.unwrap().contains("RefreshExpires"));

    // A malformed value changes nothing.
    let before = f.desk.get_account_connector(id).unwrap();
    let e = set(r#"{"AccessToken":"a4","Expires":"soon"}"#).unwrap_err();
    assert!(e.to_string().contains("`Expires`"));
    assert_eq!(f.desk.get_account_connector(id).unwrap(), before);
    assert_eq!(
        f.desk
            .credential_secret(id, "AccessToken")
            .unwrap()
            .unwrap()
            .expose(),
        "a3"
    );

    // "{}" clears: authenticate on next use.
    let ac = set("{}").unwrap();
    assert_eq!(ac.status, AuthStatus::NotAuthenticated);
    assert!(ac.secrets_set.is_empty() && ac.expires_at.is_none());
}

#[test]
fn api_key_and_basic_connectors() {
    let f = fixture();
    let key = install(
        &f,
        "generic-api-key",
        vec![prop("ApiHost", "api.example.com")],
    );
    let ac = f
        .desk
        .set_auth_value(key, &Secret::new("sk_test_abc"))
        .unwrap();
    assert_eq!(ac.secrets_set, vec!["ApiKey"]);
    assert_eq!(
        f.desk
            .credential_secret(key, "ApiKey")
            .unwrap()
            .unwrap()
            .expose(),
        "sk_test_abc"
    );

    let basic = install(
        &f,
        "generic-basic",
        vec![prop("ApiHost", "api.example.com")],
    );
    let e = f
        .desk
        .set_auth_value(basic, &Secret::new("alice:pw"))
        .unwrap_err();
    assert!(e.to_string().contains("base64"), "{e}");
    let ac = f
        .desk
        .set_auth_value(basic, &Secret::new("YWxpY2U6cHc="))
        .unwrap();
    assert_eq!(ac.secrets_set, vec!["BasicCredentials"]);
    assert_eq!(
        f.desk
            .credential_secret(basic, "BasicCredentials")
            .unwrap()
            .unwrap()
            .expose(),
        "alice:pw"
    );
}

#[test]
fn sealed_values_moved_between_rows_fail_their_integrity_check() {
    // On SQLite: the test moves sealed values inside the database file.
    let f = fixture_on(None);
    let a = install(&f, "github", vec![]);
    let b = install(&f, "github", vec![]);
    f.desk
        .set_auth_value(a, &Secret::new(r#"{"AccessToken":"token-of-a"}"#))
        .unwrap();
    f.desk
        .set_auth_value(b, &Secret::new(r#"{"AccessToken":"token-of-b"}"#))
        .unwrap();
    let db = rusqlite::Connection::open(f.desk.data_dir().join("authdesk.db")).unwrap();
    // Copy a's sealed token over b's.
    db.execute(
        "UPDATE account_connector_secrets SET sealed = (SELECT sealed FROM account_connector_secrets WHERE account_connector_id = ?1)
         WHERE account_connector_id = ?2",
        [a, b],
    )
    .unwrap();
    let e = f.desk.credential_secret(b, "AccessToken").unwrap_err();
    assert!(matches!(e, Error::SecretTampered { .. }), "{e}");
    assert!(!e.to_string().contains("token-of"));
    // Flip one byte of a's.
    let mut sealed: Vec<u8> = db
        .query_row(
            "SELECT sealed FROM account_connector_secrets WHERE account_connector_id = ?1",
            [a],
            |r| r.get(0),
        )
        .unwrap();
    sealed[30] ^= 0x01;
    db.execute(
        "UPDATE account_connector_secrets SET sealed = ?2 WHERE account_connector_id = ?1",
        rusqlite::params![a, sealed],
    )
    .unwrap();
    assert!(matches!(
        f.desk.credential_secret(a, "AccessToken"),
        Err(Error::SecretTampered { .. })
    ));
}

#[test]
fn a_key_from_another_data_directory_is_refused() {
    let f = fixture();
    let id = install(&f, "github", vec![]);
    f.desk
        .set_auth_value(id, &Secret::new(r#"{"AccessToken":"x"}"#))
        .unwrap();
    drop(f.desk);
    let other = tempfile::tempdir().unwrap();
    let opts = OpenOptions {
        data_dir: f._dir.path().join("data"),
        database: f.database.clone(),
        key_source: KeySource::File(other.path().join("vault.key")),
        clock: Arc::new(Utc::now),
    };
    // Create the other key file by opening a different data directory with it.
    let elsewhere = Authdesk::open(OpenOptions {
        data_dir: other.path().join("d"),
        database: None,
        ..options(other.path(), Utc::now())
    })
    .unwrap();
    let _ = elsewhere.vault().unwrap();
    let desk = Authdesk::open(opts).unwrap();
    // Metadata is still readable...
    assert_eq!(
        desk.get_account_connector(id).unwrap().secrets_set,
        vec!["AccessToken"]
    );
    // ...secrets are not, with a clear reason.
    let e = desk.credential_secret(id, "AccessToken").unwrap_err();
    assert!(matches!(e, Error::VaultKeyMismatch { .. }), "{e}");
    let i = desk.inspect(id, false).unwrap();
    assert!(i.secrets_unavailable.unwrap().contains("does not open"));
}

#[test]
fn concurrent_writers_from_separate_connections() {
    let dir = tempfile::tempdir().unwrap();
    let now = Utc::now();
    // First open creates the schema; the threads then race on writes and on vault creation.
    // One database for every connection (on PostgreSQL, `options` would make a new one).
    let database = support::test_database();
    let options = |dir: &std::path::Path, now| OpenOptions {
        database: database.clone(),
        ..options(dir, now)
    };
    drop(Authdesk::open(options(dir.path(), now)).unwrap());
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let opts = options(dir.path(), now);
            std::thread::spawn(move || {
                let desk = Authdesk::open(opts).unwrap();
                for i in 0..10 {
                    let a = desk
                        .create_account(NewAccount {
                            name: format!("t{t}-{i}"),
                            ..Default::default()
                        })
                        .unwrap();
                    let ac = desk
                        .install(
                            &a.id,
                            "github",
                            InstallRequest {
                                name: "gh".into(),
                                auth_value: Some(Secret::new(format!(
                                    r#"{{"AccessToken":"tok-{t}-{i}"}}"#
                                ))),
                                ..Default::default()
                            },
                        )
                        .unwrap();
                    assert_eq!(
                        desk.credential_secret(ac.id, "AccessToken")
                            .unwrap()
                            .unwrap()
                            .expose(),
                        format!("tok-{t}-{i}")
                    );
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let desk = Authdesk::open(options(dir.path(), now)).unwrap();
    assert_eq!(desk.list_accounts().unwrap().len(), 40);
    assert_eq!(desk.list_account_connectors(None).unwrap().len(), 40);
}

#[test]
fn user_connectors_are_added_replaced_and_removed() {
    let f = fixture();
    let text = r#"
id = "acme-crm"
name = "Acme CRM"
version = "1"
api_base_url = "https://api.acme.test"
[auth]
type = "api_key"
placement = "header"
name = "X-Api-Key"
"#;
    let c = f.desk.add_connector("acme.toml", text, false).unwrap();
    assert_eq!(c.auth_type, "ApiKey");
    let e = f.desk.add_connector("acme.toml", text, false).unwrap_err();
    assert!(e.to_string().contains("--replace"), "{e}");
    let c2 = f
        .desk
        .add_connector(
            "acme.toml",
            &text.replace("version = \"1\"", "version = \"2\""),
            true,
        )
        .unwrap();
    assert_eq!((c2.id, c2.version.as_str()), (c.id, "2"));
    let e = f
        .desk
        .add_connector("gh.toml", &text.replace("acme-crm", "github"), false)
        .unwrap_err();
    assert!(e.to_string().contains("built-in"), "{e}");
    let e = f.desk.remove_connector("github").unwrap_err();
    assert!(e.to_string().contains("built in"), "{e}");
    f.desk.remove_connector("acme-crm").unwrap();
    assert!(matches!(
        f.desk.get_connector("acme-crm"),
        Err(Error::NotFound { .. })
    ));
}

/// A fixture with one OAuth account connector holding tokens.
fn fixture_with_tokens() -> (Fixture, i64) {
    let f = fixture();
    let id = install(&f, "github", vec![]);
    f.desk
        .set_auth_value(
            id,
            &Secret::new(r#"{"AccessToken":"a","RefreshToken":"r"}"#),
        )
        .unwrap();
    (f, id)
}

/// Lease expiry is judged by the database's clock, not by a replica's own: this fixture's
/// clock is fixed in January, far behind, and still cannot make a live lease look expired
/// to a replica with the right time, nor keep an expired one alive.
#[test]
fn leases_expire_by_the_database_clock() {
    use authdesk_core::token_store::LeaseOutcome;
    let (f, id) = fixture_with_tokens();
    let version = f.desk.load_tokens(id).unwrap().version;
    let right = Authdesk::open(OpenOptions {
        database: f.database.clone(),
        clock: Arc::new(Utc::now),
        ..options(f._dir.path(), Utc::now())
    })
    .unwrap();
    let (behind, on_time) = ("pid:1@elsewhere~1:behind", "pid:2@elsewhere~1:on-time");
    let minute = chrono::Duration::seconds(60);
    let acquire = |desk: &Authdesk, holder: &str, ttl| {
        matches!(
            desk.try_acquire_lease(id, holder, ttl, version).unwrap(),
            LeaseOutcome::Acquired
        )
    };
    assert!(acquire(&f.desk, behind, minute));
    assert!(
        !acquire(&right, on_time, minute),
        "a live lease was taken over"
    );
    f.desk.release_lease(id, behind).unwrap();
    assert!(acquire(
        &right,
        on_time,
        chrono::Duration::milliseconds(300)
    ));
    std::thread::sleep(std::time::Duration::from_millis(600));
    assert!(acquire(&f.desk, behind, minute), "an expired lease held on");
}

#[test]
fn a_refresh_lease_is_refused_once_the_credential_changed() {
    use authdesk_core::token_store::LeaseOutcome;
    let (f, id) = fixture_with_tokens();
    let seen = f.desk.load_tokens(id).unwrap().version;
    // Another process refreshes between our read and our lease...
    f.desk
        .set_auth_value(
            id,
            &Secret::new(r#"{"AccessToken":"a2","RefreshToken":"r2"}"#),
        )
        .unwrap();
    // ...so we must not refresh with the refresh token we read.
    let ttl = chrono::Duration::seconds(60);
    assert!(matches!(
        f.desk.try_acquire_lease(id, "pid:1:x", ttl, seen).unwrap(),
        LeaseOutcome::Changed
    ));
    let now = f.desk.load_tokens(id).unwrap().version;
    assert!(matches!(
        f.desk.try_acquire_lease(id, "pid:1:x", ttl, now).unwrap(),
        LeaseOutcome::Acquired
    ));
    // A live holder (pid 1 always exists) keeps others out.
    let other = format!("pid:{}:other", std::process::id());
    assert!(matches!(
        f.desk.try_acquire_lease(id, &other, ttl, now).unwrap(),
        LeaseOutcome::HeldByOther
    ));
}

/// The health check reads the key from its source each time: a key file removed while the
/// process runs shows at once (secrets still open here, from the key read before, and the
/// problem says until when); only a keychain item can be put back from memory.
#[test]
fn a_key_removed_while_running_shows_at_once() {
    let f = fixture();
    let id = install(&f, "github", vec![]);
    f.desk
        .set_auth_value(id, &Secret::new(r#"{"AccessToken":"a1"}"#))
        .unwrap();
    let v = f.desk.vault_status().unwrap();
    assert!(v.available && v.problem.is_none(), "{v:?}");
    std::fs::remove_file(f._dir.path().join("vault.key")).unwrap();
    let v = f.desk.vault_status().unwrap();
    let problem = v.problem.clone().unwrap_or_default();
    assert!(
        v.available && !v.restorable && problem.contains("still open until it stops"),
        "{v:?}"
    );
    assert_eq!(
        f.desk
            .credential_secret(id, "AccessToken")
            .unwrap()
            .unwrap()
            .expose(),
        "a1"
    );
    let e = f.desk.restore_keychain_key().unwrap_err();
    assert!(e.to_string().contains("not in the keychain"), "{e}");
}
