//! What a form-driven window relies on the core to refuse or keep: a library OAuth app
//! saved again keeps its secret unless told otherwise, property names are the declared
//! ones, time zones are IANA names.

use std::sync::Arc;

use authdesk_core::{
    Authdesk, ClientSecretChange, Error, InstallRequest, KeySource, NewAccount, OpenOptions,
    PropertyInput, Secret,
};

fn open() -> (tempfile::TempDir, Authdesk) {
    let dir = tempfile::tempdir().unwrap();
    let desk = Authdesk::open(OpenOptions {
        data_dir: dir.path().join("data"),
        key_source: KeySource::File(dir.path().join("vault.key")),
        clock: Arc::new(chrono::Utc::now),
    })
    .unwrap();
    (dir, desk)
}

fn invalid(e: Error) -> String {
    match e {
        Error::InvalidInput(m) => m,
        other => panic!("not InvalidInput: {other:?}"),
    }
}

#[test]
fn saving_the_library_oauth_app_again_keeps_its_secret() {
    let (_dir, desk) = open();
    // Nothing stored yet: keeping is not a way to become public by accident.
    let e = desk
        .update_connector_client("github", "Iv1.first", ClientSecretChange::Keep)
        .unwrap_err();
    assert!(invalid(e).contains("public client"));
    assert!(desk.get_connector("github").unwrap().client_id.is_none());
    desk.update_connector_client(
        "github",
        "Iv1.first",
        ClientSecretChange::Set(&Secret::new("s3cret")),
    )
    .unwrap();
    // Fixing the ClientId with a blank secret field keeps the secret.
    let c = desk
        .update_connector_client("github", "Iv1.fixed", ClientSecretChange::Keep)
        .unwrap();
    assert_eq!(c.client_id.as_deref(), Some("Iv1.fixed"));
    assert!(c.client_secret_set);
    let id = c.id;
    assert_eq!(
        desk.connector_client_secret(id).unwrap().unwrap().expose(),
        "s3cret"
    );
    // Public only when said.
    let c = desk
        .update_connector_client("github", "Iv1.fixed", ClientSecretChange::Public)
        .unwrap();
    assert!(!c.client_secret_set);
}

#[test]
fn only_declared_property_names_are_taken() {
    let (_dir, desk) = open();
    let account = desk
        .create_account(NewAccount {
            name: "Props".into(),
            ..Default::default()
        })
        .unwrap()
        .id;
    let prop = |name: &str, value: &str| PropertyInput {
        name: name.into(),
        value: Secret::new(value),
    };
    // Zendesk declares Subdomain; a case slip is refused with the right spelling.
    let e = desk
        .install(
            &account,
            "zendesk",
            InstallRequest {
                name: "z".into(),
                properties: vec![prop("subdomain", "acme")],
                ..Default::default()
            },
        )
        .unwrap_err();
    let m = invalid(e);
    assert!(m.contains("did you mean `Subdomain`"), "{m}");
    assert!(desk.list_account_connectors(None).unwrap().is_empty());
    let ac = desk
        .install(
            &account,
            "zendesk",
            InstallRequest {
                name: "z".into(),
                properties: vec![prop("Subdomain", "acme")],
                ..Default::default()
            },
        )
        .unwrap();
    let m = invalid(
        desk.set_property(ac.id, "Region", &Secret::new("eu"))
            .unwrap_err(),
    );
    assert!(
        m.contains("no property `Region`") && m.contains("Subdomain") && m.contains("ClientId"),
        "{m}"
    );
    // An OAuth connector takes its own app as properties.
    desk.set_property(ac.id, "ClientId", &Secret::new("per-customer"))
        .unwrap();
    // An API-key connector without declared properties takes none.
    let key = desk
        .install(
            &account,
            "stripe",
            InstallRequest {
                name: "s".into(),
                ..Default::default()
            },
        )
        .unwrap();
    let m = invalid(
        desk.set_property(key.id, "ClientId", &Secret::new("x"))
            .unwrap_err(),
    );
    assert!(m.contains("takes no properties"), "{m}");
}

#[test]
fn time_zones_are_iana_names() {
    let (_dir, desk) = open();
    let e = desk
        .create_account(NewAccount {
            name: "Mars".into(),
            timezone: Some("Mars/Olympus".into()),
            ..Default::default()
        })
        .unwrap_err();
    assert!(invalid(e).contains("IANA"));
    // Any case; stored in the canonical spelling.
    let a = desk
        .create_account(NewAccount {
            name: "London".into(),
            timezone: Some("europe/london".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(a.timezone, "Europe/London");
    assert!(authdesk_core::timezone_names().contains(&"America/New_York"));
    let e = desk
        .update_account(
            &a.id,
            authdesk_core::AccountUpdate {
                timezone: Some("GMT Standard Time".into()),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert!(invalid(e).contains("IANA"));
    assert_eq!(desk.get_account(&a.id).unwrap().timezone, "Europe/London");
}
