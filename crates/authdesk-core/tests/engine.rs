//! The OAuth engine against a real authorization server (panva's oidc-provider, started
//! per test from `tests/oidc/server.mjs`; `npm ci` there first — `scripts/test.sh` does).
//! The vault key comes from a key file so these tests need no keychain.

mod support;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use authdesk_core::engine::EngineConfig;
use authdesk_core::{AuthStatus, Authdesk, Engine, Error, InstallRequest, NewAccount, Secret};
use chrono::{Duration, Utc};
use serde_json::json;
use support::oidc::{definition, sign_in, OidcOptions, OidcServer};

const WEB_REDIRECT: &str = "https://app.example.com/callback";

struct Harness {
    _dir: tempfile::TempDir,
    desk: Arc<Authdesk>,
    engine: Engine,
    /// Seconds added to the real clock.
    offset: Arc<AtomicI64>,
    account: String,
    server: OidcServer,
}

impl Harness {
    fn start(opts: OidcOptions) -> Harness {
        let server = OidcServer::start(opts);
        let dir = tempfile::tempdir().unwrap();
        let offset = Arc::new(AtomicI64::new(0));
        let clock_offset = offset.clone();
        let desk = support::desk_with_key_file(
            dir.path(),
            Arc::new(move || Utc::now() + Duration::seconds(clock_offset.load(Ordering::SeqCst))),
        );
        let mut config = EngineConfig::default();
        config.http.total_timeout = std::time::Duration::from_secs(5);
        let engine = Engine::new(desk.clone(), config).unwrap();
        let account = desk
            .create_account(NewAccount {
                name: "Acme".into(),
                ..Default::default()
            })
            .unwrap()
            .id;
        let issuer = server.issuer.clone();
        desk.add_connector(
            "test",
            &definition(&issuer, "oidc-test", "authorization_code", ""),
            false,
        )
        .unwrap();
        desk.set_connector_client(
            "oidc-test",
            "authdesk-web",
            Some(&Secret::new("authdesk-web-secret")),
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
                    name: "test".into(),
                    auth_value: auth_value.map(Secret::new),
                    ..Default::default()
                },
            )
            .unwrap()
            .id
    }

    async fn signed_in(&self) -> i64 {
        self.signed_in_to("oidc-test").await
    }

    async fn signed_in_to(&self, connector: &str) -> i64 {
        let id = self.install(connector, None);
        let start = self.engine.begin_sign_in(id, WEB_REDIRECT).await.unwrap();
        let callback = sign_in(&start.authorization_url, "alice").await;
        self.engine
            .complete_sign_in(&callback, &start.binding)
            .await
            .unwrap();
        id
    }

    /// The provider's HTTP status for a refresh with `refresh_token` (400: no longer honoured).
    async fn refresh_status(&self, refresh_token: &str) -> u16 {
        self.server
            .refresh_status(("authdesk-web", "authdesk-web-secret"), refresh_token)
            .await
    }

    fn advance(&self, seconds: i64) {
        self.offset.fetch_add(seconds, Ordering::SeqCst);
    }

    async fn grants(&self, kind: &str) -> u64 {
        self.server.stats().await["grants"][kind]
            .as_u64()
            .unwrap_or(0)
    }

    fn secret(&self, id: i64, field: &str) -> Option<String> {
        self.desk
            .credential_secret(id, field)
            .unwrap()
            .map(|s| s.expose().to_string())
    }
}

#[tokio::test]
async fn code_flow_end_to_end_then_userinfo() {
    let h = Harness::start(OidcOptions {
        access_ttl_secs: 3600,
        ..Default::default()
    });
    let id = h.install("oidc-test", None);
    let start = h.engine.begin_sign_in(id, WEB_REDIRECT).await.unwrap();
    let url = url::Url::parse(&start.authorization_url).unwrap();
    let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["redirect_uri"], WEB_REDIRECT);
    assert_eq!(q["scope"], "openid offline_access email");
    assert!(q["state"].len() >= 43, "state carries at least 256 bits");

    let callback = sign_in(&start.authorization_url, "alice").await;
    assert!(
        callback.starts_with(WEB_REDIRECT) && callback.contains("iss="),
        "{callback}"
    );
    let ac = h
        .engine
        .complete_sign_in(&callback, &start.binding)
        .await
        .unwrap();
    assert_eq!(ac.status, AuthStatus::Authenticated);
    assert!(ac.expires_at.unwrap() > Utc::now() + Duration::minutes(50));
    assert_eq!(
        ac.secrets_set,
        vec!["AccessToken", "IdToken", "RefreshToken"]
    );
    let claims = h.desk.inspect(id, false).unwrap();
    let id_token = claims
        .secrets
        .iter()
        .find(|s| s.field == "IdToken")
        .unwrap();
    assert_eq!(id_token.jwt.as_ref().unwrap().claims["sub"], "alice");
    // Verified offline against the keys fetched at sign-in (oidc-provider's jwks_uri).
    let v = id_token
        .verification
        .as_ref()
        .expect("the ID token is verified");
    assert_eq!(
        (v.signature, v.issuer, v.audience, v.expiry),
        ("valid", "valid", "valid", "valid"),
        "{v:?}"
    );
    assert!(v.keys_fetched_at.is_some() && v.key_id.is_some(), "{v:?}");

    let r = h
        .engine
        .call_method(id, "userinfo", &Default::default())
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["email"], "alice@example.com");

    // The callback cannot be used twice: no second token request is made.
    let e = h
        .engine
        .complete_sign_in(&callback, &start.binding)
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::AuthorizationFailed(_)) && e.to_string().contains("already completed"),
        "{e}"
    );
    assert_eq!(h.grants("authorization_code").await, 1);
    let events: Vec<String> = h
        .desk
        .credential_events(id, 10)
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(events[0], "signed_in");
}

/// RFC 9700 §4.7: the provider's answer is accepted only with the binding its start gave
/// (the starting browser's cookie, window or listener). Someone else's completion writes
/// nothing, makes no token request, and spends the `state` so the answer cannot be
/// replayed where the binding is.
#[tokio::test]
async fn a_sign_in_completes_only_where_it_started() {
    let h = Harness::start(OidcOptions::default());
    let id = h.install("oidc-test", None);
    let before = h.desk.get_account_connector(id).unwrap();
    let events_before = h.desk.credential_events(id, 10).unwrap().len();
    let start = h.engine.begin_sign_in(id, WEB_REDIRECT).await.unwrap();
    let callback = sign_in(&start.authorization_url, "mallory-victim").await;
    let e = h
        .engine
        .complete_sign_in(&callback, &Secret::new("another browser's cookie"))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("another browser"), "{e}");
    let after = h.desk.get_account_connector(id).unwrap();
    assert_eq!(after.status, before.status);
    assert!(after.secrets_set.is_empty(), "{:?}", after.secrets_set);
    assert_eq!(after.last_error, before.last_error);
    assert_eq!(
        h.desk.credential_events(id, 10).unwrap().len(),
        events_before
    );
    assert_eq!(h.grants("authorization_code").await, 0);
    // The right binding afterwards: the state was spent.
    let e = h
        .engine
        .complete_sign_in(&callback, &start.binding)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("already completed"), "{e}");
    assert_eq!(h.grants("authorization_code").await, 0);
    // The binding never travels with the start's view.
    let shown = serde_json::to_string(&start).unwrap();
    assert!(!shown.contains(start.binding.expose()), "{shown}");
}

/// A caller that finds the refresh lease held by another (a replica) waits with reads
/// only: nothing is committed while it waits (a write per poll would queue on the write
/// lock and bump every replica's change marker), and it goes on once the lease is free.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_for_another_holders_lease_writes_nothing() {
    let h = Harness::start(OidcOptions::default());
    let id = h.signed_in().await;
    support::oidc::expire(&h.desk, id);
    let version = h.desk.load_tokens(id).unwrap().version;
    let replica = "pid:1@another-machine~4026531836:replica-b";
    assert!(matches!(
        h.desk
            .try_acquire_lease(id, replica, Duration::seconds(30), version)
            .unwrap(),
        authdesk_core::token_store::LeaseOutcome::Acquired
    ));
    let waiting = {
        let engine = h.engine.clone();
        tokio::spawn(async move { engine.access(id).await })
    };
    // Its one attempt to take the lease is a write; the waiting after it is not.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let before = h.desk.change_marker().unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    assert!(!waiting.is_finished(), "it did not wait for the lease");
    assert!(
        h.desk.change_marker().unwrap() == before,
        "something was committed while waiting"
    );
    h.desk.release_lease(id, replica).unwrap();
    waiting.await.unwrap().unwrap();
    assert_eq!(h.grants("refresh_token").await, 1);
}

#[tokio::test]
async fn bad_callbacks_make_no_token_request() {
    let h = Harness::start(OidcOptions::default());
    let id = h.install("oidc-test", None);

    let e = h
        .engine
        .complete_sign_in(
            &format!("{WEB_REDIRECT}?code=abc&state=forged"),
            &Secret::new("b"),
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("unknown"), "{e}");
    let e = h
        .engine
        .complete_sign_in(&format!("{WEB_REDIRECT}?code=abc"), &Secret::new("b"))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no `state`"), "{e}");

    // The provider's denial, carried with its description.
    let start = h.engine.begin_sign_in(id, WEB_REDIRECT).await.unwrap();
    let state = state_of(&start.authorization_url);
    let denied = format!(
        "{WEB_REDIRECT}?error=access_denied&error_description=End-User%20aborted%20interaction&state={state}&iss={}",
        urlencode(&h.server.issuer)
    );
    let e = h
        .engine
        .complete_sign_in(&denied, &start.binding)
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("access_denied: End-User aborted interaction"),
        "{e}"
    );
    assert!(h
        .desk
        .get_account_connector(id)
        .unwrap()
        .last_error
        .unwrap()
        .contains("access_denied"));

    // A real code with a forged issuer (mix-up): refused before the exchange.
    let start = h.engine.begin_sign_in(id, WEB_REDIRECT).await.unwrap();
    let callback = sign_in(&start.authorization_url, "alice").await;
    let forged = callback.replace(
        &urlencode(&h.server.issuer),
        &urlencode("https://evil.example"),
    );
    let e = h
        .engine
        .complete_sign_in(&forged, &start.binding)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("mix-up"), "{e}");

    // Expired: sign-ins live 10 minutes.
    let start = h.engine.begin_sign_in(id, WEB_REDIRECT).await.unwrap();
    let callback = sign_in(&start.authorization_url, "alice").await;
    h.advance(11 * 60);
    let e = h
        .engine
        .complete_sign_in(&callback, &start.binding)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("took longer"), "{e}");

    assert_eq!(h.grants("authorization_code").await, 0);
    assert_eq!(
        h.desk.get_account_connector(id).unwrap().status,
        AuthStatus::Error
    );
}

#[tokio::test]
async fn refresh_rotates_and_reusing_a_rotated_token_needs_reauthentication() {
    let h = Harness::start(OidcOptions {
        access_ttl_secs: 3600,
        rotate_refresh: true,
    });
    let id = h.signed_in().await;
    let first_refresh = h.secret(id, "RefreshToken").unwrap();
    let first_access = h.secret(id, "AccessToken").unwrap();

    h.advance(3600);
    let r = h
        .engine
        .call_method(id, "userinfo", &Default::default())
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(h.grants("refresh_token").await, 1);
    let second_refresh = h.secret(id, "RefreshToken").unwrap();
    assert_ne!(
        second_refresh, first_refresh,
        "the provider rotates refresh tokens"
    );
    assert_ne!(h.secret(id, "AccessToken").unwrap(), first_access);
    let ac = h.desk.get_account_connector(id).unwrap();
    assert_eq!(ac.status, AuthStatus::Authenticated);
    assert!(ac.expires_at.unwrap() > h.desk.now() + Duration::minutes(50));

    // A partner hands back the old, rotated refresh token: the provider revokes the grant.
    h.desk
        .set_auth_value(
            id,
            &Secret::new(format!(r#"{{"AccessToken":"stale","RefreshToken":"{first_refresh}","Expires":"2000-01-01T00:00:00Z"}}"#)),
        )
        .unwrap();
    let e = h
        .engine
        .call_method(id, "userinfo", &Default::default())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::NeedsReauth { .. }), "{e}");
    let ac = h.desk.get_account_connector(id).unwrap();
    assert_eq!(ac.status, AuthStatus::NeedsReauth);
    assert!(ac.last_error.unwrap().contains("invalid_grant"));
    // No retry storm: further calls do not reach the provider.
    for _ in 0..3 {
        assert!(matches!(
            h.engine.access(id).await,
            Err(Error::NeedsReauth { .. })
        ));
    }
    assert_eq!(h.server.stats().await["errors"]["invalid_grant"], 1);
    // The history keeps oidc-provider's refusal, redacted: what was asked and what it said,
    // never the refresh token sent.
    let events = h.desk.credential_events(id, 5).unwrap();
    let refused = events.iter().find(|e| e.kind == "needs_reauth").unwrap();
    let x = refused.exchange.as_ref().expect("the exchange is kept");
    assert_eq!(x.endpoint, format!("{}/token", h.server.issuer));
    assert_eq!(x.grant.as_deref(), Some("refresh_token"));
    assert_eq!(x.status, Some(400));
    assert_eq!(x.error.as_deref(), Some("invalid_grant"));
    assert!(x.client_authentication.is_some(), "{x:?}");
    assert!(x.parameters.iter().any(|p| p == "refresh_token"), "{x:?}");
    let kept = serde_json::to_string(&events).unwrap();
    assert!(!kept.contains(&first_refresh) && !kept.contains(&second_refresh));
}

#[tokio::test]
async fn empty_auth_value_authenticates_with_client_credentials() {
    let h = Harness::start(OidcOptions::default());
    let issuer = h.server.issuer.clone();
    let def = definition(&issuer, "oidc-cc", "client_credentials", "").replace(
        r#"scopes = ["openid", "offline_access", "email"]"#,
        r#"scopes = ["api:read"]"#,
    );
    h.desk.add_connector("cc", &def, false).unwrap();
    let id = h.install("oidc-cc", Some("{}"));
    h.desk
        .set_property(id, "ClientId", &Secret::new("authdesk-web"))
        .unwrap();
    h.desk
        .set_property(id, "ClientSecret", &Secret::new("authdesk-web-secret"))
        .unwrap();
    assert_eq!(
        h.desk.get_account_connector(id).unwrap().status,
        AuthStatus::NotAuthenticated
    );

    let (auth, _) = h.engine.access(id).await.unwrap();
    assert_eq!(auth.headers.len(), 1, "the token goes in one header");
    let ac = h.desk.get_account_connector(id).unwrap();
    assert_eq!(ac.status, AuthStatus::Authenticated);
    assert_eq!(ac.scopes.as_deref(), Some("api:read"));
    assert_eq!(h.grants("client_credentials").await, 1);
    // Valid token: no second request.
    h.engine.access(id).await.unwrap();
    assert_eq!(h.grants("client_credentials").await, 1);

    // An authorization-code connector with "{}" cannot help itself.
    let code = h.install("oidc-test", Some("{}"));
    let e = h.engine.access(code).await.unwrap_err();
    assert!(matches!(e, Error::NeedsSignIn { .. }), "{e}");
    // What to do, for each surface to render: sign in to this account connector.
    assert_eq!(
        e.hint(),
        Some(authdesk_core::error::Hint::SignIn {
            account_connector_id: code
        })
    );
    assert!(e
        .hint()
        .unwrap()
        .cli()
        .contains(&format!("authdesk connect {code}")));
}

#[tokio::test]
async fn an_expired_partner_auth_value_needs_reauthentication_without_asking_the_provider() {
    let h = Harness::start(OidcOptions::default());
    let id = h.install(
        "oidc-test",
        Some(r#"{"AccessToken":"a","RefreshToken":"r","Expires":"2021-10-01T00:00:00Z","RefreshExpires":"2022-10-01T00:00:00Z"}"#),
    );
    assert_eq!(
        h.desk.get_account_connector(id).unwrap().status,
        AuthStatus::NeedsReauth
    );
    let e = h
        .engine
        .call_method(id, "userinfo", &Default::default())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::NeedsReauth { .. }), "{e}");
    // Refresh still valid, access expired: refreshed with the partner's refresh token.
    let id2 = h.install("oidc-test", Some(r#"{"AccessToken":"a","RefreshToken":"not-a-real-token","Expires":"2021-10-01T00:00:00Z","RefreshExpires":"2099-10-01T00:00:00Z"}"#));
    let e = h.engine.access(id2).await.unwrap_err();
    assert!(
        matches!(e, Error::NeedsReauth { .. }),
        "the provider does not know that token: {e}"
    );
    let stats = h.server.stats().await;
    assert_eq!(stats["errors"]["invalid_grant"], 1, "{stats}");
}

#[tokio::test]
async fn discovery_builds_a_working_definition() {
    let h = Harness::start(OidcOptions::default());
    let d = h
        .engine
        .discover(&h.server.issuer, Some("discovered"), None)
        .await
        .unwrap();
    let o = d.definition.oauth2().unwrap();
    assert_eq!(o.token_url, format!("{}/token", h.server.issuer));
    assert_eq!(
        o.authorize_url.as_deref(),
        Some(format!("{}/auth", h.server.issuer).as_str())
    );
    assert_eq!(
        o.revoke_url.as_deref(),
        Some(format!("{}/token/revocation", h.server.issuer).as_str())
    );
    assert!(o.pkce && o.issuer_in_response);
    assert!(o.scopes.contains(&"offline_access".to_string()));
    assert_eq!(
        d.definition.methods[0].path,
        format!("{}/me", h.server.issuer)
    );
    // What it wrote is a definition like any other.
    let added = h
        .desk
        .add_connector("discovered.toml", &d.toml, false)
        .unwrap();
    assert_eq!(added.slug, "discovered");

    let e = h
        .engine
        .discover("http://127.0.0.1:9/", None, None)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("discovery"), "{e}");
}

#[tokio::test]
async fn disconnect_revokes_at_the_provider() {
    let h = Harness::start(OidcOptions::default());
    let id = h.signed_in().await;
    let refresh = h.secret(id, "RefreshToken").unwrap();
    let report = h.engine.disconnect(id).await.unwrap();
    assert!(report.attempted && report.errors.is_empty(), "{report:?}");
    assert_eq!(report.revoked, vec!["RefreshToken", "AccessToken"]);
    assert_eq!(h.server.stats().await["revocations"], 2);
    let ac = h.desk.get_account_connector(id).unwrap();
    assert_eq!(ac.status, AuthStatus::NotAuthenticated);
    assert!(ac.secrets_set.is_empty());
    // The provider no longer honours the refresh token.
    assert_eq!(h.refresh_status(&refresh).await, 400);

    // Deleting revokes too; a failed revocation does not block deletion.
    let id = h.signed_in().await;
    drop(h.server);
    let report = h.engine.delete_account_connector(id).await.unwrap();
    assert!(report.attempted && !report.errors.is_empty(), "{report:?}");
    assert!(matches!(
        h.desk.get_account_connector(id),
        Err(Error::NotFound { .. })
    ));
}

#[tokio::test]
async fn switching_the_way_to_authenticate_revokes_the_tokens_it_forgets() {
    let h = Harness::start(OidcOptions::default());
    // The test provider with a second way in: an API key.
    let two_ways = definition(&h.server.issuer, "two-ways", "authorization_code", "")
        + support::oidc::API_TOKEN_WAY;
    h.desk.add_connector("two", &two_ways, false).unwrap();
    h.desk
        .set_connector_client(
            "two-ways",
            "authdesk-web",
            Some(&Secret::new("authdesk-web-secret")),
        )
        .unwrap();
    // Switched alone (the credential is forgotten), or with the new way's AuthValue.
    for auth_value in [None, Some("key-1")] {
        let id = h.signed_in_to("two-ways").await;
        let refresh = h.secret(id, "RefreshToken").unwrap();
        let (ac, report) = h
            .engine
            .change_account_connector(
                id,
                authdesk_core::AccountConnectorChange {
                    authentication_id: Some("api-token".into()),
                    auth_value: auth_value.map(Secret::new),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(ac.authentication.method_id, "api-token");
        assert_eq!(ac.authenticated, auth_value.is_some(), "{ac:?}");
        assert!(report.errors.is_empty(), "{report:?}");
        assert_eq!(report.revoked, vec!["RefreshToken", "AccessToken"]);
        assert_eq!(h.refresh_status(&refresh).await, 400, "{auth_value:?}");
    }
    // A change that does not switch revokes nothing.
    let id = h.signed_in_to("two-ways").await;
    let (_, report) = h
        .engine
        .change_account_connector(
            id,
            authdesk_core::AccountConnectorChange {
                name: Some("renamed".into()),
                authentication_id: Some("default".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(!report.attempted, "{report:?}");
    assert!(h.secret(id, "RefreshToken").is_some());
}

#[tokio::test]
async fn a_hundred_concurrent_calls_on_an_expired_credential_refresh_once() {
    let h = Harness::start(OidcOptions {
        access_ttl_secs: 3600,
        rotate_refresh: true,
    });
    let id = h.signed_in().await;
    h.advance(3600);
    let engine = &h.engine;
    let calls = (0..100).map(|_| async move {
        engine
            .call_method(id, "userinfo", &Default::default())
            .await
    });
    let results = futures::future::join_all(calls).await;
    for r in &results {
        assert_eq!(r.as_ref().unwrap().status, 200);
    }
    assert_eq!(h.grants("refresh_token").await, 1);
}

#[tokio::test]
async fn keep_alive_refreshes_what_expires_soon_and_what_sat_idle() {
    let h = Harness::start(OidcOptions {
        access_ttl_secs: 3600,
        rotate_refresh: true,
    });
    let id = h.signed_in().await;
    assert!(
        h.engine.keep_alive_once().await.unwrap().is_empty(),
        "fresh: nothing to do"
    );
    h.advance(3600 - 120);
    let done = h.engine.keep_alive_once().await.unwrap();
    assert_eq!((done.len(), done[0].reason), (1, "expires soon"));
    assert!(done[0].result.is_ok(), "{done:?}");
    assert_eq!(h.grants("refresh_token").await, 1);
    h.advance(8 * 86400);
    let done = h.engine.keep_alive_once().await.unwrap();
    assert!(
        done.iter()
            .any(|o| o.account_connector_id == id && o.result.is_ok()),
        "{done:?}"
    );
    assert_eq!(h.grants("refresh_token").await, 2);
    // The history says what asked for each refresh.
    h.engine.refresh_now(id).await.unwrap();
    h.advance(3600);
    h.engine
        .call_method(id, "userinfo", &Default::default())
        .await
        .unwrap();
    let triggers: Vec<Option<String>> = h
        .desk
        .credential_events(id, 10)
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "refreshed")
        .map(|e| e.trigger)
        .collect();
    assert_eq!(
        triggers,
        [
            Some("call"),
            Some("user"),
            Some("keep_alive"),
            Some("keep_alive")
        ]
        .map(|t| t.map(String::from))
    );
}

#[tokio::test]
async fn a_401_forces_one_refresh_and_a_retry() {
    let h = Harness::start(OidcOptions {
        access_ttl_secs: 3600,
        rotate_refresh: true,
    });
    let id = h.signed_in().await;
    // An access token the provider does not honour although it has not expired (a
    // partner's stale value, or one revoked at the provider), with a good refresh token.
    let refresh = h.secret(id, "RefreshToken").unwrap();
    let access = "not-honoured-by-the-provider".to_string();
    h.desk
        .set_auth_value(
            id,
            &Secret::new(format!(r#"{{"AccessToken":"{access}","RefreshToken":"{refresh}","Expires":"2099-01-01T00:00:00Z"}}"#)),
        )
        .unwrap();
    let r = h
        .engine
        .call_method(id, "userinfo", &Default::default())
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(h.grants("refresh_token").await, 1);
    assert_ne!(h.secret(id, "AccessToken").unwrap(), access);
}

#[tokio::test]
async fn client_authentication_in_the_body_and_public_clients() {
    let h = Harness::start(OidcOptions::default());
    let issuer = h.server.issuer.clone();
    for (slug, client_auth, client, secret) in [
        (
            "oidc-post",
            "body",
            "authdesk-post",
            Some("authdesk-post-secret"),
        ),
        ("oidc-public", "none", "authdesk-public", None),
    ] {
        let def = definition(
            &issuer,
            slug,
            "authorization_code",
            &format!("client_auth = \"{client_auth}\""),
        );
        h.desk.add_connector(slug, &def, false).unwrap();
        h.desk
            .set_connector_client(slug, client, secret.map(Secret::new).as_ref())
            .unwrap();
        let id = h.install(slug, None);
        let start = h.engine.begin_sign_in(id, WEB_REDIRECT).await.unwrap();
        let callback = sign_in(&start.authorization_url, "erin").await;
        let ac = h
            .engine
            .complete_sign_in(&callback, &start.binding)
            .await
            .unwrap();
        assert_eq!(ac.status, AuthStatus::Authenticated, "{slug}");
        let r = h
            .engine
            .call_method(id, "userinfo", &Default::default())
            .await
            .unwrap();
        assert_eq!(r.body["sub"], "erin", "{slug}");
    }
    assert_eq!(h.grants("authorization_code").await, 2);
}

#[tokio::test]
async fn properties_captured_from_the_authorization_response() {
    let h = Harness::start(OidcOptions::default());
    let issuer = h.server.issuer.clone();
    // oidc-provider adds `iss` to its answer; capture its host, as QuickBooks' realmId would be.
    let def = definition(&issuer, "oidc-capture", "authorization_code", "").replace(
        "[auth.authorize_params]",
        "[auth.capture]\nIssuerHost = \"callback:iss|host\"\n[auth.authorize_params]",
    ) + "[[properties]]\nname = \"IssuerHost\"\n";
    h.desk.add_connector("capture.toml", &def, false).unwrap();
    h.desk
        .set_connector_client(
            "oidc-capture",
            "authdesk-web",
            Some(&Secret::new("authdesk-web-secret")),
        )
        .unwrap();
    let id = h.install("oidc-capture", None);
    let start = h.engine.begin_sign_in(id, WEB_REDIRECT).await.unwrap();
    let callback = sign_in(&start.authorization_url, "gus").await;
    let ac = h
        .engine
        .complete_sign_in(&callback, &start.binding)
        .await
        .unwrap();
    let p = ac
        .properties
        .iter()
        .find(|p| p.name == "IssuerHost")
        .expect("captured");
    assert_eq!(p.value.as_deref(), Some("127.0.0.1"));
}

#[tokio::test]
async fn method_parameters_are_checked_before_anything_is_sent() {
    let h = Harness::start(OidcOptions::default());
    let id = h.signed_in().await;
    let e = h
        .engine
        .call_method(id, "nope", &Default::default())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("has: userinfo"), "{e}");
    let mut params = serde_json::Map::new();
    params.insert("bogus".into(), json!(1));
    let e = h
        .engine
        .call_method(id, "userinfo", &params)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no parameter `bogus`"), "{e}");
}

fn state_of(authorization_url: &str) -> String {
    url::Url::parse(authorization_url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned()
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Stores the same tokens with an access-token expiry in the past.
fn expire(h: &Harness, id: i64) {
    let value = serde_json::json!({
        "AccessToken": h.secret(id, "AccessToken").unwrap(),
        "RefreshToken": h.secret(id, "RefreshToken").unwrap(),
        "Expires": "2000-01-01T00:00:00Z",
    });
    h.desk
        .set_auth_value(id, &Secret::new(value.to_string()))
        .unwrap();
}

#[tokio::test]
async fn a_typo_in_a_method_or_its_parameters_costs_no_refresh() {
    let h = Harness::start(OidcOptions::default());
    let id = h.signed_in().await;
    expire(&h, id);
    let before = h.grants("refresh_token").await;
    let e = h
        .engine
        .call_method(id, "userinfoo", &Default::default())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }), "{e}");
    let mut params = serde_json::Map::new();
    params.insert("nope".into(), json!(1));
    let e = h
        .engine
        .call_method(id, "userinfo", &params)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("has no parameter `nope`"), "{e}");
    assert_eq!(
        h.grants("refresh_token").await,
        before,
        "a typo caused a refresh"
    );
    // The credential is still expired and refreshes on the first real call.
    let r = h
        .engine
        .call_method(id, "userinfo", &Default::default())
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(h.grants("refresh_token").await, before + 1);
}

#[tokio::test]
async fn a_refused_token_without_a_refresh_token_says_the_provider_refused_it() {
    let h = Harness::start(OidcOptions::default());
    // As token JSON with an expiry, and as Cyclr's plain-text access token (no expiry).
    for auth_value in [
        r#"{"AccessToken":"not-a-token-the-provider-knows","Expires":"2099-01-01T00:00:00Z"}"#,
        "not-a-token-the-provider-knows",
    ] {
        let id = h.install("oidc-test", Some(auth_value));
        let e = h
            .engine
            .call_method(id, "userinfo", &Default::default())
            .await
            .unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, Error::NeedsReauth { .. }), "{auth_value}: {e}");
        assert!(
            msg.contains("refused the access token") && !msg.contains("expired"),
            "{msg}"
        );
        let ac = h.desk.get_account_connector(id).unwrap();
        assert_eq!(ac.status, AuthStatus::NeedsReauth, "{auth_value}");
        // Nothing to refresh with, so the provider's token endpoint was never asked.
        assert_eq!(h.grants("refresh_token").await, 0);
    }
}

#[tokio::test]
async fn refresh_now_without_a_refresh_token_changes_nothing_and_says_so() {
    let h = Harness::start(OidcOptions::default());
    let signed = h.signed_in().await;
    let access = h.secret(signed, "AccessToken").unwrap();
    // A partner's AuthValue with an access token the provider honours and no refresh token.
    let id = h.install(
        "oidc-test",
        Some(&format!(
            r#"{{"AccessToken":"{access}","Expires":"2099-01-01T00:00:00Z"}}"#
        )),
    );
    let before = h.desk.get_account_connector(id).unwrap();
    let e = h.engine.refresh_now(id).await.unwrap_err();
    assert!(matches!(e, Error::NoRefreshToken { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("no refresh token")
            && msg.contains("nothing was changed")
            && msg.contains("2099-01-01 00:00:00 UTC"),
        "{msg}"
    );
    assert!(
        matches!(e.hint(), Some(authdesk_core::error::Hint::SignIn { account_connector_id }) if account_connector_id == id)
    );
    let after = h.desk.get_account_connector(id).unwrap();
    assert_eq!(after.status, AuthStatus::Authenticated);
    assert_eq!(after.last_error, before.last_error);
    assert_eq!(h.secret(id, "AccessToken").unwrap(), access);
    assert_eq!(h.grants("refresh_token").await, 0);
    // The token still works for calls.
    let r = h
        .engine
        .call_method(id, "userinfo", &Default::default())
        .await
        .unwrap();
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn deleting_an_account_revokes_its_account_connectors() {
    let h = Harness::start(OidcOptions::default());
    let first = h.signed_in().await;
    let second = h.signed_in().await;
    let refresh = h.secret(first, "RefreshToken").unwrap();
    h.server.reset_stats().await;
    let reports = h.engine.delete_account(&h.account).await.unwrap();
    assert_eq!(reports.len(), 2, "{reports:?}");
    for (id, r) in &reports {
        assert!([first, second].contains(id));
        assert_eq!(r.revoked, vec!["RefreshToken", "AccessToken"], "{r:?}");
        assert!(r.errors.is_empty(), "{r:?}");
    }
    assert_eq!(h.server.stats().await["revocations"], 4);
    assert!(matches!(
        h.desk.get_account(&h.account),
        Err(Error::NotFound { .. })
    ));
    // The provider no longer honours the deleted credential's refresh token.
    let r = reqwest::Client::new()
        .post(format!("{}/token", h.server.issuer))
        .basic_auth("authdesk-web", Some("authdesk-web-secret"))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn the_refresh_margin_scales_with_the_token_and_the_definition() {
    // 3600 s tokens: the default 60 s margin; a definition asking for 300 s gets it.
    let h = Harness::start(OidcOptions {
        access_ttl_secs: 3600,
        ..Default::default()
    });
    let id = h.signed_in().await;
    assert_eq!(
        h.desk.inspect(id, false).unwrap().refresh_margin_seconds,
        Some(60)
    );
    h.desk
        .add_connector(
            "margin",
            &definition(
                &h.server.issuer,
                "oidc-margin",
                "authorization_code",
                "refresh_margin_seconds = 300",
            ),
            false,
        )
        .unwrap();
    h.desk
        .set_connector_client(
            "oidc-margin",
            "authdesk-web",
            Some(&Secret::new("authdesk-web-secret")),
        )
        .unwrap();
    let id = h.install("oidc-margin", None);
    let start = h.engine.begin_sign_in(id, WEB_REDIRECT).await.unwrap();
    let callback = sign_in(&start.authorization_url, "alice").await;
    h.engine
        .complete_sign_in(&callback, &start.binding)
        .await
        .unwrap();
    let i = h.desk.inspect(id, false).unwrap();
    assert_eq!(i.refresh_margin_seconds, Some(300));
    assert_eq!(
        i.refresh_due_at.unwrap(),
        i.expires_at.unwrap() - Duration::seconds(300)
    );
    // 240 s before expiry is inside the margin: the next use refreshes.
    h.advance(3600 - 240);
    let before = h.grants("refresh_token").await;
    h.engine.access(id).await.unwrap();
    assert_eq!(h.grants("refresh_token").await, before + 1);
}

#[tokio::test]
async fn a_ten_second_token_is_used_for_most_of_its_life() {
    let h = Harness::start(OidcOptions {
        access_ttl_secs: 10,
        ..Default::default()
    });
    let id = h.signed_in().await;
    let i = h.desk.inspect(id, false).unwrap();
    assert_eq!(
        i.refresh_margin_seconds,
        Some(2),
        "a quarter of 10 s, not 60 s"
    );
    let before = h.grants("refresh_token").await;
    for _ in 0..20 {
        h.engine.access(id).await.unwrap();
    }
    assert_eq!(
        h.grants("refresh_token").await,
        before,
        "refreshed a fresh token"
    );
    h.advance(8);
    let futures: Vec<_> = (0..20).map(|_| h.engine.access(id)).collect();
    for r in futures::future::join_all(futures).await {
        r.unwrap();
    }
    assert_eq!(h.grants("refresh_token").await, before + 1);
}

#[tokio::test]
async fn a_sign_in_reports_its_own_end_and_nothing_else_does() {
    let h = Harness::start(OidcOptions::default());
    let id = h.signed_in().await;
    let mut events = h.engine.sign_in_events();
    // A refresh is not a sign-in.
    h.engine.refresh_now(id).await.unwrap();
    // A refused sign-in is reported as such, under its own id.
    let start = h.engine.begin_sign_in(id, WEB_REDIRECT).await.unwrap();
    let state = state_of(&start.authorization_url);
    let _ = h
        .engine
        .complete_sign_in(
            &format!("{WEB_REDIRECT}?error=access_denied&state={state}"),
            &start.binding,
        )
        .await;
    let ended = Engine::wait_for_sign_in(
        &mut events,
        &start.sign_in_id,
        std::time::Duration::from_secs(5),
    )
    .await
    .expect("no event for the refused sign-in");
    assert!(!ended.ok);
    assert_eq!(ended.account_connector_id, id);
    assert!(ended.message.contains("access_denied"), "{}", ended.message);
    assert!(events.try_recv().is_err(), "an event for something else");
    // A successful one too.
    let start = h.engine.begin_sign_in(id, WEB_REDIRECT).await.unwrap();
    let callback = sign_in(&start.authorization_url, "alice").await;
    h.engine
        .complete_sign_in(&callback, &start.binding)
        .await
        .unwrap();
    let ended = Engine::wait_for_sign_in(
        &mut events,
        &start.sign_in_id,
        std::time::Duration::from_secs(5),
    )
    .await
    .unwrap();
    assert!(ended.ok, "{}", ended.message);
}

/// The engine's futures must be `Send` so they can run on tokio tasks and in axum handlers.
/// This does not run: it fails to compile if one of them stops being `Send`.
#[allow(dead_code)]
fn engine_futures_are_send(
    engine: &'static Engine,
    params: &'static serde_json::Map<String, serde_json::Value>,
) {
    fn is_send<T: Send>(_: &T) {}
    is_send(&engine.ensure_token(1, None));
    is_send(&engine.access(1));
    is_send(&engine.call_method(1, "m", params));
    let binding = Secret::new("x");
    is_send(&engine.complete_sign_in("x", &binding));
    is_send(&engine.refresh_now(1));
    is_send(&engine.keep_alive_once());
    is_send(&engine.disconnect(1));
    is_send(&engine.discover("x", None, None));
    is_send(&engine.begin_sign_in(1, "x"));
    is_send(&engine.delete_account("x"));
    is_send(&engine.delete_account_connector(1));
}

#[tokio::test]
async fn keep_alive_uses_a_short_lived_token_for_half_its_life() {
    let h = Harness::start(OidcOptions {
        access_ttl_secs: 120,
        rotate_refresh: true,
    });
    h.signed_in().await;
    for _ in 0..3 {
        assert!(
            h.engine.keep_alive_once().await.unwrap().is_empty(),
            "a fresh 2-minute token is not refreshed on every pass"
        );
    }
    h.advance(50);
    assert!(h.engine.keep_alive_once().await.unwrap().is_empty());
    assert_eq!(h.grants("refresh_token").await, 0);
    h.advance(20); // 50 s left: less than half its life
    let done = h.engine.keep_alive_once().await.unwrap();
    assert_eq!(
        (done.len(), done[0].reason),
        (1, "expires soon"),
        "{done:?}"
    );
    assert!(h.engine.keep_alive_once().await.unwrap().is_empty());
    assert_eq!(h.grants("refresh_token").await, 1);
}

#[tokio::test]
async fn a_tampered_id_token_a_key_the_provider_never_had_and_alg_none_are_flagged_offline() {
    let h = Harness::start(OidcOptions {
        access_ttl_secs: 3600,
        ..Default::default()
    });
    let id = h.signed_in().await;
    let signed = h.secret(id, "IdToken").unwrap();
    let verdict = |h: &Harness| {
        let i = h.desk.inspect(id, false).unwrap();
        let s = i.secrets.iter().find(|s| s.field == "IdToken").unwrap();
        s.verification.clone().expect("verified")
    };
    assert_eq!(verdict(&h).signature, "valid");

    // The claims altered after signing (the signature kept).
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let parts: Vec<&str> = signed.split('.').collect();
    let mut claims: serde_json::Value =
        serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();
    claims["sub"] = "mallory".into();
    let altered = format!(
        "{}.{}.{}",
        parts[0],
        b64.encode(claims.to_string()),
        parts[2]
    );
    let set = |token: &str| {
        let value = serde_json::json!({"AccessToken": "opaque-access", "IdToken": token});
        h.desk
            .set_auth_value(id, &authdesk_core::Secret::new(value.to_string()))
            .unwrap();
    };
    set(&altered);
    assert_eq!(verdict(&h).signature, "invalid");

    // Unsigned.
    let header = b64.encode(r#"{"alg":"none"}"#);
    set(&format!("{header}.{}.", parts[1]));
    let v = verdict(&h);
    assert_eq!(v.signature, "invalid");
    assert!(v.notes.iter().any(|n| n.contains("alg is none")), "{v:?}");

    // The provider's keys kept no longer hold the token's key.
    set(&signed);
    let kept = h
        .desk
        .provider_keys(id)
        .unwrap()
        .expect("keys kept at sign-in");
    h.desk
        .keep_provider_keys(id, &kept.jwks_url, kept.issuer.as_deref(), r#"{"keys":[]}"#)
        .unwrap();
    assert_eq!(verdict(&h).signature, "unknown key");
}
