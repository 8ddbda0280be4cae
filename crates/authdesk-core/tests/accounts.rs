//! Accounts written concurrently, and LAUNCH's all-or-nothing: what must hold however two
//! writers interleave (two desks on one store: two processes, or two replicas).

mod support;

use std::sync::{Arc, Barrier};

use authdesk_core::{
    AccountSettings, AccountUpdate, Authdesk, InstallRequest, KeySource, NewAccount, OpenOptions,
    Secret,
};

/// A user connector (built-in ones cannot be removed from the library).
const GONE: &str = "id = \"gone\"\nname = \"Gone\"\nversion = \"1\"\napi_base_url = \"https://api.gone.example\"\n\
                    [auth]\ntype = \"api_key\"\nplacement = \"header\"\nname = \"X-Key\"\n";

/// Two desks on one store (the same data directory, or the same PostgreSQL database).
fn two_desks(dir: &std::path::Path) -> (Arc<Authdesk>, Arc<Authdesk>) {
    let database = support::test_database();
    let open = || {
        Arc::new(
            Authdesk::open(OpenOptions {
                data_dir: dir.join("data"),
                database: database.clone(),
                key_source: KeySource::File(dir.join("vault.key")),
                clock: Arc::new(chrono::Utc::now),
            })
            .unwrap(),
        )
    };
    let first = open();
    (first, open())
}

fn account(desk: &Authdesk, name: &str) -> String {
    desk.create_account(NewAccount {
        name: name.into(),
        ..Default::default()
    })
    .unwrap()
    .id
}

fn parent_is(parent: &str) -> AccountUpdate {
    AccountUpdate {
        name: None,
        description: None,
        timezone: None,
        settings: AccountSettings {
            parent_account_id: Some(parent.to_string()),
            ..Default::default()
        },
    }
}

#[test]
fn two_writers_linking_accounts_to_each_other_never_form_a_cycle() {
    let dir = tempfile::tempdir().unwrap();
    let (one, two) = two_desks(dir.path());
    for round in 0..60 {
        let (a, b) = (account(&one, "A"), account(&one, "B"));
        let start = Arc::new(Barrier::new(2));
        let link = |desk: Arc<Authdesk>, child: String, parent: String| {
            let start = start.clone();
            std::thread::spawn(move || {
                start.wait();
                desk.update_account(&child, parent_is(&parent)).is_ok()
            })
        };
        let first = link(one.clone(), a.clone(), b.clone());
        let second = link(two.clone(), b.clone(), a.clone());
        let (first, second) = (first.join().unwrap(), second.join().unwrap());
        let parent = |id: &str| one.get_account(id).unwrap().settings.parent_account_id;
        assert!(
            !(parent(&a).as_deref() == Some(b.as_str()) && parent(&b).as_deref() == Some(a.as_str())),
            "round {round}: A and B are each other's parent (both updates succeeded: {first}, {second})"
        );
        assert!(
            first || second,
            "round {round}: one of the two links is fine"
        );
    }
}

#[test]
fn a_launch_that_fails_while_writing_leaves_nothing_and_shows_nothing_meanwhile() {
    let dir = tempfile::tempdir().unwrap();
    let desk = support::desk_with_key_file(dir.path(), Arc::new(chrono::Utc::now));
    let existing = account(&desk, "Existing");
    desk.add_connector("gone.toml", GONE, false).unwrap();
    let launched = "3f2b7f5e-2d9c-4a5e-8c1b-6a0f9d2e4b55";
    for account_id in [launched, existing.as_str()] {
        let install = |connector: &str, key: &str| {
            desk.prepare_install(
                connector,
                InstallRequest {
                    name: connector.into(),
                    auth_value: Some(Secret::new(key)),
                    partner_integration: true,
                    ..Default::default()
                },
            )
            .unwrap()
        };
        let installs = vec![install("stripe", "sk_test_1"), install("gone", "k2")];
        // Checked, then the library entry goes (another writer): only the write can fail.
        desk.remove_connector("gone").unwrap();
        let before = desk.change_marker().unwrap();
        let launch = desk.launch(
            NewAccount {
                id: Some(account_id.into()),
                name: "Launched".into(),
                ..Default::default()
            },
            installs,
        );
        assert!(launch.is_err(), "{account_id}: {launch:?}");
        // Nothing was committed at any point (an undo after the fact would have been).
        assert_eq!(desk.change_marker().unwrap(), before, "{account_id}");
        assert!(desk.list_account_connectors(None).unwrap().is_empty());
        desk.add_connector("gone.toml", GONE, false).unwrap();
    }
    assert!(matches!(
        desk.get_account(launched),
        Err(authdesk_core::Error::NotFound { .. })
    ));
}
