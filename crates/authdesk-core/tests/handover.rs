//! Hand-over bundles between two desks (each its own data directory and key): what the
//! sender's file holds is readable only with the receiver's identity, the receiver gets
//! every secret re-sealed under its own key, a second import adds nothing, and a damaged
//! file or another receiver's identity writes nothing.

mod support;

use std::sync::Arc;

use authdesk_core::{Authdesk, InstallRequest, PropertyInput, Secret};

const CANARIES: &[&str] = &[
    "canary-api-key-7f3e9a1c",
    "canary-access-token-51d2",
    "canary-refresh-token-b7c4",
    "canary-basic-password-9e8d",
    "canary-client-secret-4a6b",
    "canary-secret-property-3c2f",
    "Canary Customer Ltd",
];

const USER_CONNECTOR: &str = r#"
id = "canary-crm"
name = "Canary CRM"
version = "1"
api_base_url = "https://api.canary-crm.example"

[auth]
type = "oauth2"
grant = "authorization_code"
authorize_url = "https://canary-crm.example/authorize"
token_url = "https://canary-crm.example/token"

[[properties]]
name = "Region"
description = "where the account lives"

[[properties]]
name = "WebhookSecret"
description = "a secret property"
secret = true
"#;

struct Desk {
    _dir: tempfile::TempDir,
    desk: Arc<Authdesk>,
}

fn desk() -> Desk {
    let dir = tempfile::tempdir().unwrap();
    let desk = support::desk_with_key_file(dir.path(), Arc::new(chrono::Utc::now));
    Desk { _dir: dir, desk }
}

/// A sender with one customer: an API key, a Basic and an OAuth (user connector, library
/// OAuth app, tokens, a plain and a secret property) account connector.
fn sender() -> (Desk, String) {
    let s = desk();
    let d = &s.desk;
    let account = support::account(d, "Canary Customer Ltd");
    let host = |v: &str| PropertyInput {
        name: "ApiHost".into(),
        value: Secret::new(v),
    };
    for (connector, name, value) in [
        ("generic-api-key", "Keyed", CANARIES[0].to_string()),
        (
            "generic-basic",
            "Basic",
            base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                format!("someone:{}", CANARIES[3]),
            ),
        ),
    ] {
        d.install(
            &account,
            connector,
            InstallRequest {
                name: name.into(),
                auth_value: Some(Secret::new(value)),
                properties: vec![host("api.example.com")],
                ..Default::default()
            },
        )
        .unwrap();
    }
    d.add_connector("canary-crm.toml", USER_CONNECTOR, false)
        .unwrap();
    d.set_connector_client("canary-crm", "crm-client", Some(&Secret::new(CANARIES[4])))
        .unwrap();
    d.install(
        &account,
        "canary-crm",
        InstallRequest {
            name: "CRM".into(),
            auth_value: Some(Secret::new(format!(
                r#"{{"AccessToken":"{}","RefreshToken":"{}","Expires":"2030-01-01T00:00:00Z"}}"#,
                CANARIES[1], CANARIES[2]
            ))),
            properties: vec![
                PropertyInput {
                    name: "Region".into(),
                    value: Secret::new("eu"),
                },
                PropertyInput {
                    name: "WebhookSecret".into(),
                    value: Secret::new(CANARIES[5]),
                },
            ],
            ..Default::default()
        },
    )
    .unwrap();
    (s, account)
}

fn count(d: &Authdesk) -> (usize, usize) {
    (
        d.list_accounts().unwrap().len(),
        d.list_account_connectors(None).unwrap().len(),
    )
}

#[test]
fn a_bundle_carries_everything_to_its_receiver_only_and_twice_adds_nothing() {
    let (from, account) = sender();
    let to = desk();
    let recipient = to.desk.handover_recipient().unwrap();
    assert!(recipient.starts_with("age1"), "{recipient}");
    assert_eq!(to.desk.handover_recipient().unwrap(), recipient, "kept");

    let (bundle, report) = from.desk.export_bundle(&recipient, &[]).unwrap();
    assert_eq!((report.accounts, report.account_connectors), (1, 3));
    assert_eq!((report.connectors, report.oauth_apps), (1, 1));
    // A canary scan of the file finds nothing.
    let text = String::from_utf8_lossy(&bundle);
    assert!(
        text.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"),
        "{text}"
    );
    for canary in CANARIES
        .iter()
        .chain(["Keyed", "crm-client", "canary-crm"].iter())
    {
        assert!(!text.contains(canary), "{canary} readable in the bundle");
    }

    let report = to.desk.import_bundle(&bundle).unwrap();
    assert_eq!(report.added(), 1 + 3 + 1 + 1, "{report:?}");
    let d = &to.desk;
    assert_eq!(d.get_account(&account).unwrap().name, "Canary Customer Ltd");
    let acs = d.list_account_connectors(Some(&account)).unwrap();
    let by_name = |n: &str| acs.iter().find(|ac| ac.name == n).unwrap().id;
    let secret = |id: i64, field: &str| {
        d.credential_secret(id, field)
            .unwrap()
            .unwrap()
            .expose()
            .to_string()
    };
    assert_eq!(secret(by_name("Keyed"), "ApiKey"), CANARIES[0]);
    assert_eq!(
        secret(by_name("Basic"), "BasicCredentials"),
        format!("someone:{}", CANARIES[3])
    );
    let crm = by_name("CRM");
    assert_eq!(secret(crm, "AccessToken"), CANARIES[1]);
    assert_eq!(secret(crm, "RefreshToken"), CANARIES[2]);
    let crm_ac = d.get_account_connector(crm).unwrap();
    assert_eq!(
        crm_ac.expires_at.unwrap().to_rfc3339(),
        "2030-01-01T00:00:00+00:00"
    );
    assert_eq!(
        d.property_value(crm, "WebhookSecret")
            .unwrap()
            .unwrap()
            .expose(),
        CANARIES[5]
    );
    assert_eq!(
        d.property_value(crm, "Region").unwrap().unwrap().expose(),
        "eu"
    );
    let library = d.get_connector("canary-crm").unwrap();
    assert_eq!(library.client_id.as_deref(), Some("crm-client"));
    assert_eq!(
        d.connector_client_secret(library.id)
            .unwrap()
            .unwrap()
            .expose(),
        CANARIES[4]
    );

    // The same bundle again: nothing more.
    let before = count(d);
    let again = to.desk.import_bundle(&bundle).unwrap();
    assert_eq!(again.added(), 0, "{again:?}");
    assert_eq!(count(d), before);
}

#[test]
fn a_damaged_bundle_or_another_receivers_identity_writes_nothing() {
    let (from, _) = sender();
    let to = desk();
    let other = desk();
    let recipient = to.desk.handover_recipient().unwrap();
    let (bundle, _) = from.desk.export_bundle(&recipient, &[]).unwrap();

    // One character of the armored body changed.
    let mut text = String::from_utf8(bundle.clone()).unwrap();
    let at = text.len() / 2;
    let flipped = if &text[at..at + 1] == "A" { "B" } else { "A" };
    text.replace_range(at..at + 1, flipped);
    let before = count(&to.desk);
    let e = to.desk.import_bundle(text.as_bytes()).unwrap_err();
    assert!(e.to_string().contains("nothing was imported"), "{e}");
    assert_eq!(count(&to.desk), before);

    let before = count(&other.desk);
    let e = other.desk.import_bundle(&bundle).unwrap_err();
    assert!(e.to_string().contains("not encrypted to this desk"), "{e}");
    assert_eq!(count(&other.desk), before);

    // A recipient that is not one is refused before anything is read.
    let e = from
        .desk
        .export_bundle("age1notarecipient", &[])
        .unwrap_err();
    assert!(e.to_string().contains("not an age X25519 recipient"), "{e}");
}

#[test]
fn only_the_chosen_accounts_go_and_a_receivers_own_app_is_kept() {
    let (from, account) = sender();
    let other_account = support::account(&from.desk, "Not Handed Over");
    let to = desk();
    to.desk
        .add_connector("canary-crm.toml", USER_CONNECTOR, false)
        .unwrap();
    to.desk
        .set_connector_client("canary-crm", "receivers-own-client", None)
        .unwrap();
    let recipient = to.desk.handover_recipient().unwrap();
    let (bundle, report) = from
        .desk
        .export_bundle(&recipient, std::slice::from_ref(&account))
        .unwrap();
    assert_eq!(report.accounts, 1);
    let r = to.desk.import_bundle(&bundle).unwrap();
    assert!(to.desk.get_account(&other_account).is_err());
    assert_eq!(r.connectors[0].outcome, "already present");
    assert_eq!(r.oauth_apps[0].outcome, "kept yours");
    assert_eq!(
        to.desk
            .get_connector("canary-crm")
            .unwrap()
            .client_id
            .as_deref(),
        Some("receivers-own-client")
    );
}
