//! The engine against a second, independent real authorization server: django-oauth-toolkit
//! (`tests/dot`), which differs from oidc-provider where it matters (a refresh token with
//! every code grant, `invalid_grant` for a replayed rotated token, no `iss`, revocation that
//! kills both tokens, Django's own login and consent forms). Sign-in with PKCE, rotation,
//! replay, revocation, client credentials, and short-lived tokens under concurrency.

mod support;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use authdesk_core::{
    AuthStatus, Authdesk, Engine, EngineConfig, Error, InstallRequest, NewAccount, Secret,
};
use chrono::{Duration, Utc};
use support::dot::{sign_in, DotOptions, DotServer};

const REDIRECT: &str = "https://app.example.com/callback";

struct Harness {
    _dir: tempfile::TempDir,
    desk: Arc<Authdesk>,
    engine: Engine,
    offset: Arc<AtomicI64>,
    account: String,
    server: DotServer,
}

impl Harness {
    fn start(opts: DotOptions) -> Harness {
        let server = DotServer::start(opts);
        let dir = tempfile::tempdir().unwrap();
        let offset = Arc::new(AtomicI64::new(0));
        let clock_offset = offset.clone();
        let desk = support::desk_with_key_file(
            dir.path(),
            Arc::new(move || Utc::now() + Duration::seconds(clock_offset.load(Ordering::SeqCst))),
        );
        let engine = Engine::new(desk.clone(), EngineConfig::default()).unwrap();
        let account = desk
            .create_account(NewAccount {
                name: "Dot".into(),
                ..Default::default()
            })
            .unwrap()
            .id;
        desk.add_connector(
            "dot",
            &server.definition("dot", "authorization_code"),
            false,
        )
        .unwrap();
        desk.set_connector_client(
            "dot",
            "authdesk-dot",
            Some(&Secret::new("authdesk-dot-secret")),
        )
        .unwrap();
        Harness {
            _dir: dir,
            desk,
            engine,
            offset,
            account,
            server,
        }
    }

    fn install(&self, connector: &str, auth_value: Option<&str>) -> i64 {
        self.desk
            .install(
                &self.account,
                connector,
                InstallRequest {
                    name: "dot".into(),
                    auth_value: auth_value.map(Secret::new),
                    ..Default::default()
                },
            )
            .unwrap()
            .id
    }

    async fn signed_in(&self) -> i64 {
        let id = self.install("dot", None);
        let start = self.engine.begin_sign_in(id, REDIRECT).await.unwrap();
        let callback = sign_in(&start.authorization_url).await;
        assert!(
            callback.starts_with(REDIRECT) && callback.contains("code="),
            "{callback}"
        );
        self.engine
            .complete_sign_in(&callback, &start.binding)
            .await
            .unwrap();
        id
    }

    fn secret(&self, id: i64, field: &str) -> Option<String> {
        self.desk
            .credential_secret(id, field)
            .unwrap()
            .map(|s| s.expose().to_string())
    }

    async fn grants(&self, kind: &str) -> u64 {
        self.server.stats().await["grants"][kind]
            .as_u64()
            .unwrap_or(0)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_flow_with_pkce_rotation_and_replay() {
    let h = Harness::start(DotOptions::default());
    let id = h.signed_in().await;
    let ac = h.desk.get_account_connector(id).unwrap();
    assert_eq!(ac.status, AuthStatus::Authenticated);
    assert_eq!(ac.scopes.as_deref(), Some("read write"));
    let r = h
        .engine
        .call_method(id, "me", &Default::default())
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["username"], "alice");

    let old_refresh = h.secret(id, "RefreshToken").unwrap();
    h.engine.refresh_now(id).await.unwrap();
    let new_refresh = h.secret(id, "RefreshToken").unwrap();
    assert_ne!(old_refresh, new_refresh, "DOT rotates refresh tokens");
    let r = h
        .engine
        .call_method(id, "me", &Default::default())
        .await
        .unwrap();
    assert_eq!(r.status, 200);

    // A partner hands back the rotated-out refresh token: the provider says invalid_grant,
    // the credential needs the user, and nothing retries.
    h.desk
        .set_auth_value(
            id,
            &Secret::new(format!(
                r#"{{"AccessToken":"x","RefreshToken":"{old_refresh}","Expires":"2000-01-01T00:00:00Z"}}"#
            )),
        )
        .unwrap();
    let e = h.engine.access(id).await.unwrap_err();
    assert!(matches!(e, Error::NeedsReauth { .. }), "{e}");
    assert!(e.to_string().contains("invalid_grant"), "{e}");
    let errors = h.server.stats().await["errors"]["invalid_grant"].as_u64();
    for _ in 0..3 {
        assert!(h.engine.access(id).await.is_err());
    }
    assert_eq!(
        h.server.stats().await["errors"]["invalid_grant"].as_u64(),
        errors
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_second_tokens_refresh_once_for_a_hundred_concurrent_calls() {
    let h = Harness::start(DotOptions {
        access_ttl_secs: 10,
        rotate_refresh: true,
    });
    let id = h.signed_in().await;
    assert_eq!(
        h.desk.inspect(id, false).unwrap().refresh_margin_seconds,
        Some(2)
    );
    h.server.reset_stats().await;
    // Calls within the token's life use it as is.
    for _ in 0..10 {
        h.engine.access(id).await.unwrap();
    }
    assert_eq!(h.grants("refresh_token").await, 0);
    // Past three quarters of its life, a hundred concurrent calls make one refresh.
    h.offset.fetch_add(9, Ordering::SeqCst);
    let none = serde_json::Map::new();
    let calls: Vec<_> = (0..100)
        .map(|_| h.engine.call_method(id, "me", &none))
        .collect();
    for r in futures::future::join_all(calls).await {
        assert_eq!(r.unwrap().status, 200);
    }
    assert_eq!(h.grants("refresh_token").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_and_account_deletion_revoke_at_the_provider() {
    let h = Harness::start(DotOptions::default());
    let id = h.signed_in().await;
    let refresh = h.secret(id, "RefreshToken").unwrap();
    h.server.reset_stats().await;
    let report = h.engine.disconnect(id).await.unwrap();
    assert_eq!(
        report.revoked,
        vec!["RefreshToken", "AccessToken"],
        "{report:?}"
    );
    assert_eq!(h.server.stats().await["revocations"], 2);
    let r = reqwest::Client::new()
        .post(format!("{}/o/token/", h.server.issuer))
        .basic_auth("authdesk-dot", Some("authdesk-dot-secret"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "the revoked refresh token still works");

    let second = h.signed_in().await;
    let reports = h.engine.delete_account(&h.account).await.unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].0, second);
    assert!(reports[0].1.errors.is_empty(), "{:?}", reports[0].1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_auth_value_authenticates_with_client_credentials() {
    let h = Harness::start(DotOptions::default());
    h.desk
        .add_connector(
            "dot-cc",
            &h.server.definition("dot-cc", "client_credentials"),
            false,
        )
        .unwrap();
    h.desk
        .set_connector_client(
            "dot-cc",
            "authdesk-dot-cc",
            Some(&Secret::new("authdesk-dot-cc-secret")),
        )
        .unwrap();
    let id = h.install("dot-cc", Some("{}"));
    let r = h
        .engine
        .call_method(id, "me", &Default::default())
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["client_id"], "authdesk-dot-cc");
    assert_eq!(h.grants("client_credentials").await, 1);
}
