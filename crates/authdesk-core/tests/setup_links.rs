//! Setup links in the core, on SQLite and (with AUTHDESK_TEST_POSTGRES) PostgreSQL: opening
//! spends nothing, a use spends it once whatever the concurrency, and an expired, revoked or
//! used link opens nothing; only the token's hash is stored.

mod support;

use std::sync::{Arc, Mutex};

use authdesk_core::setup_links::parse_ttl;
use authdesk_core::{InstallRequest, Secret};
use chrono::{DateTime, Duration, Utc};

struct Setup {
    _dir: tempfile::TempDir,
    desk: Arc<authdesk_core::Authdesk>,
    now: Arc<Mutex<DateTime<Utc>>>,
    id: i64,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let now = Arc::new(Mutex::new(Utc::now()));
    let clock = now.clone();
    let desk = support::desk_with_key_file(dir.path(), Arc::new(move || *clock.lock().unwrap()));
    let account = support::account(&desk, "Linked");
    let id = desk
        .install(
            &account,
            "generic-api-key",
            InstallRequest {
                name: "Keyed".into(),
                properties: vec![authdesk_core::PropertyInput {
                    name: "ApiHost".into(),
                    value: Secret::new("api.example.com"),
                }],
                ..Default::default()
            },
        )
        .unwrap()
        .id;
    Setup {
        _dir: dir,
        desk,
        now,
        id,
    }
}

#[test]
fn opening_spends_nothing_and_a_use_spends_it_once() {
    let s = setup();
    let link = s
        .desk
        .create_setup_link(s.id, Duration::minutes(5))
        .unwrap();
    assert!(link.token.expose().starts_with("stl_") && link.token.expose().len() > 40);
    for _ in 0..3 {
        assert_eq!(
            s.desk.setup_link_target(link.token.expose()).unwrap(),
            Some(s.id)
        );
    }
    assert_eq!(
        s.desk.use_setup_link(link.token.expose()).unwrap(),
        Some(s.id)
    );
    assert_eq!(s.desk.use_setup_link(link.token.expose()).unwrap(), None);
    assert_eq!(s.desk.setup_link_target(link.token.expose()).unwrap(), None);
    let listed = s.desk.setup_links(Some(s.id)).unwrap();
    assert_eq!(listed[0].status, "used");
    assert!(!serde_json::to_string(&listed)
        .unwrap()
        .contains(link.token.expose()));
}

#[test]
fn of_many_uses_at_once_exactly_one_wins() {
    let s = setup();
    let link = s
        .desk
        .create_setup_link(s.id, Duration::minutes(5))
        .unwrap();
    let token = link.token.expose().to_string();
    let wins: usize = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..12)
            .map(|_| {
                let (desk, token) = (s.desk.clone(), token.clone());
                scope.spawn(move || desk.use_setup_link(&token).unwrap().is_some() as usize)
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(wins, 1);
}

#[test]
fn expired_and_revoked_links_open_nothing_and_lifetimes_are_bounded() {
    let s = setup();
    let short = s
        .desk
        .create_setup_link(s.id, Duration::minutes(5))
        .unwrap();
    let revoked = s
        .desk
        .create_setup_link(s.id, parse_ttl("7d").unwrap())
        .unwrap();
    assert_eq!(
        s.desk.revoke_setup_link(&revoked.id).unwrap().status,
        "revoked"
    );
    assert_eq!(s.desk.use_setup_link(revoked.token.expose()).unwrap(), None);
    *s.now.lock().unwrap() += Duration::minutes(6);
    assert_eq!(
        s.desk.setup_link_target(short.token.expose()).unwrap(),
        None
    );
    assert_eq!(s.desk.use_setup_link(short.token.expose()).unwrap(), None);
    let statuses: Vec<_> = s
        .desk
        .setup_links(Some(s.id))
        .unwrap()
        .iter()
        .map(|l| l.status)
        .collect();
    assert!(
        statuses.contains(&"expired") && statuses.contains(&"revoked"),
        "{statuses:?}"
    );
    for bad in ["4m", "8d", "soon", "5x"] {
        let e = parse_ttl(bad).unwrap_err().to_string();
        assert!(
            e.contains("5 minutes") || e.contains("not a duration"),
            "{bad}: {e}"
        );
    }
    assert_eq!(parse_ttl("90m").unwrap(), Duration::minutes(90));
    assert!(s
        .desk
        .create_setup_link(s.id, Duration::seconds(10))
        .is_err());
    assert!(s
        .desk
        .create_setup_link(9_999_999, Duration::minutes(5))
        .is_err());
}
