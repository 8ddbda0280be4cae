//! The change marker (what the caches of the engine and the API key check are keyed on):
//! a commit by another process or replica changes it (SQLite's `data_version`; on
//! PostgreSQL the LISTEN/NOTIFY listener of `store/listen.rs`, read without a query), a
//! desk's own commit changes it at once, and a failed write changes nothing.

mod support;

use std::time::{Duration, Instant};

use authdesk_core::NewAccount;
use support::account;

#[test]
fn another_replicas_commit_changes_the_marker_read_without_a_query() {
    let dir = tempfile::tempdir().unwrap();
    let database = support::test_database();
    let clock = || std::sync::Arc::new(chrono::Utc::now) as authdesk_core::Clock;
    let a = support::desk_on(dir.path(), clock(), database.clone());
    let b = support::desk_on(dir.path(), clock(), database);
    // The first read may wait for the listener; after it, reads need no query.
    let before = b.change_marker().unwrap();
    let now = b
        .change_marker_now()
        .expect("the marker is read without a trip to the server")
        .unwrap();
    assert_eq!(now, before, "nothing was committed in between");

    account(&a, "Committed elsewhere");
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let seen = b.change_marker_now().expect("still listening").unwrap();
        if seen != before {
            break;
        }
        assert!(
            Instant::now() < until,
            "another desk's commit never changed the marker"
        );
        std::thread::sleep(Duration::from_millis(5));
    }

    // A desk's own commit changes its marker at once (it reads its own writes).
    let before = b.change_marker().unwrap();
    account(&b, "Committed here");
    assert_ne!(b.change_marker().unwrap(), before);

    // A write that fails commits nothing: the marker stays.
    let before = b.change_marker().unwrap();
    let refused = b.create_account(NewAccount {
        id: Some(
            a.accounts_page(None, 0, Some(1)).unwrap().items[0]
                .id
                .clone(),
        ),
        name: "Taken Id".into(),
        ..Default::default()
    });
    assert!(refused.is_err());
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(b.change_marker().unwrap(), before);
}
