//! The one rule for "needs attention": every count and list that says what needs the user
//! agrees, for every auth type (needs re-authentication, error, an access token that has
//! expired and cannot be renewed, a refused API key or Basic password). Both backends.

mod support;

use std::sync::{Arc, Mutex};

use authdesk_core::{
    AccountConnectorFilter, AuthStatus, Authdesk, InstallRequest, PropertyInput, Secret,
};
use chrono::{DateTime, Duration, TimeZone, Utc};

struct Fixture {
    _dir: tempfile::TempDir,
    desk: Arc<Authdesk>,
    account: String,
    now: Arc<Mutex<DateTime<Utc>>>,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let now = Arc::new(Mutex::new(
            Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap(),
        ));
        let clock = now.clone();
        let desk =
            support::desk_with_key_file(dir.path(), Arc::new(move || *clock.lock().unwrap()));
        let account = support::account(&desk, "Acme");
        Fixture {
            _dir: dir,
            desk,
            account,
            now,
        }
    }

    fn install(&self, connector: &str, name: &str, auth_value: Option<&str>) -> i64 {
        let properties = if connector.starts_with("generic-") {
            vec![PropertyInput {
                name: "ApiHost".into(),
                value: Secret::new("api.example.com"),
            }]
        } else {
            vec![]
        };
        self.desk
            .install(
                &self.account,
                connector,
                InstallRequest {
                    name: name.into(),
                    properties,
                    auth_value: auth_value.map(Secret::new),
                    ..Default::default()
                },
            )
            .unwrap()
            .id
    }

    fn pass(&self, d: Duration) {
        *self.now.lock().unwrap() += d;
    }

    fn ids(&self, filter: AccountConnectorFilter) -> Vec<i64> {
        let page = self.desk.account_connectors_page(&filter, 0, None).unwrap();
        let ids: Vec<i64> = page.items.iter().map(|a| a.id).collect();
        assert_eq!(page.total, ids.len() as u64);
        ids
    }

    fn attention(&self) -> Vec<i64> {
        self.ids(AccountConnectorFilter {
            needs_attention: true,
            ..Default::default()
        })
    }

    fn with_status(&self, status: AuthStatus) -> Vec<i64> {
        self.ids(AccountConnectorFilter {
            status: Some(status),
            ..Default::default()
        })
    }

    /// The counts, the account's marker and the list agree, and name `expected`.
    fn agree(&self, expected: &[i64]) {
        let counts = self.desk.counts().unwrap();
        assert_eq!(self.attention(), expected);
        assert_eq!(counts.needs_attention, expected.len() as u64, "{counts:?}");
        assert_eq!(counts.needing_attention(), counts.needs_attention);
        let marker = self
            .desk
            .needing_attention_by_account(std::slice::from_ref(&self.account))
            .unwrap();
        assert_eq!(
            marker.get(&self.account).copied().unwrap_or(0),
            expected.len() as u64
        );
        assert_eq!(
            counts.authenticated
                + counts.not_authenticated
                + counts.needs_reauthentication
                + counts.error
                + counts.expired
                + counts.refused,
            counts.account_connectors,
            "{counts:?}"
        );
    }
}

const CLIENT_CREDENTIALS: &str = r#"
id = "acme-machine"
name = "Acme machine API"
version = "1"
api_base_url = "https://api.acme.test"
[auth]
type = "oauth2"
grant = "client_credentials"
token_url = "https://auth.acme.test/token"
"#;

#[test]
fn an_expired_token_that_nothing_can_renew_is_expired_everywhere() {
    let f = Fixture::new();
    // Expires in an hour, no refresh token, the authorization code flow: the user must
    // sign in again once it has run out.
    let alone = f.install(
        "github",
        "token alone",
        Some(r#"{"AccessToken":"a1","Expires":"2026-01-01T13:00:00Z"}"#),
    );
    // With a refresh token: renewed at the next use.
    let renewable = f.install(
        "github",
        "with refresh",
        Some(r#"{"AccessToken":"a2","RefreshToken":"r2","Expires":"2026-01-01T13:00:00Z"}"#),
    );
    // A refresh token that runs out with the access token.
    let both_end = f.install(
        "github",
        "refresh runs out",
        Some(r#"{"AccessToken":"a3","RefreshToken":"r3","Expires":"2026-01-01T13:00:00Z","RefreshExpires":"2026-01-01T13:30:00Z"}"#),
    );
    // Client credentials: the engine gets a new token by itself.
    f.desk
        .add_connector("machine.toml", CLIENT_CREDENTIALS, false)
        .unwrap();
    let machine = f.install(
        "acme-machine",
        "machine",
        Some(r#"{"AccessToken":"a4","Expires":"2026-01-01T13:00:00Z"}"#),
    );
    f.agree(&[]);
    assert_eq!(
        f.with_status(AuthStatus::Authenticated),
        vec![alone, renewable, both_end, machine]
    );

    f.pass(Duration::hours(2));
    for (id, status) in [
        (alone, AuthStatus::Expired),
        (renewable, AuthStatus::Authenticated),
        (both_end, AuthStatus::Expired),
        (machine, AuthStatus::Authenticated),
    ] {
        let ac = f.desk.get_account_connector(id).unwrap();
        assert_eq!(ac.status, status, "{}", ac.name);
        assert_eq!(ac.authenticated, status == AuthStatus::Authenticated);
    }
    f.agree(&[alone, both_end]);
    let counts = f.desk.counts().unwrap();
    assert_eq!((counts.expired, counts.authenticated), (2, 2), "{counts:?}");
    assert_eq!(f.with_status(AuthStatus::Expired), vec![alone, both_end]);
    assert_eq!(
        f.with_status(AuthStatus::Authenticated),
        vec![renewable, machine]
    );
    // The whole list says the same, row by row.
    let all = f.desk.list_account_connectors(None).unwrap();
    assert_eq!(
        all.iter()
            .filter(|a| a.status == AuthStatus::Expired)
            .map(|a| a.id)
            .collect::<Vec<_>>(),
        vec![alone, both_end]
    );

    // A new AuthValue fixes it.
    f.desk
        .set_auth_value(
            alone,
            &Secret::new(r#"{"AccessToken":"a5","Expires":"2026-01-02T13:00:00Z"}"#),
        )
        .unwrap();
    f.agree(&[both_end]);
}

#[test]
fn a_refused_key_or_password_needs_attention_until_a_call_works() {
    let f = Fixture::new();
    let key = f.install("generic-api-key", "key", Some("sk_test_abc"));
    let basic = f.install("generic-basic", "basic", Some("YWxpY2U6cHc="));
    let nothing = f.install("generic-api-key", "no key yet", None);
    f.agree(&[]);

    f.desk.record_check(key, 401).unwrap();
    f.desk.record_check(basic, 403).unwrap();
    f.agree(&[key, basic]);
    let counts = f.desk.counts().unwrap();
    assert_eq!(
        (
            counts.refused,
            counts.authenticated,
            counts.not_authenticated
        ),
        (2, 0, 1),
        "{counts:?}"
    );
    assert!(!f.attention().contains(&nothing));

    // A call that works clears it; a new key clears it too (the verdict was the old one's).
    f.desk.record_check(key, 200).unwrap();
    f.agree(&[basic]);
    f.desk
        .set_auth_value(basic, &Secret::new("YWxpY2U6cHcy"))
        .unwrap();
    f.agree(&[]);
}

#[test]
fn needs_reauthentication_and_errors_count_as_before() {
    let f = Fixture::new();
    let id = f.install(
        "github",
        "gone",
        Some(r#"{"AccessToken":"a","RefreshToken":"r","Expires":"2025-01-01T00:00:00Z","RefreshExpires":"2025-06-01T00:00:00Z"}"#),
    );
    assert_eq!(
        f.desk.get_account_connector(id).unwrap().status,
        AuthStatus::NeedsReauth
    );
    f.agree(&[id]);
    assert_eq!(f.with_status(AuthStatus::NeedsReauth), vec![id]);
}
