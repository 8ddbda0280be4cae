//! Signed webhooks on credential events, delivered to a receiver that verifies every
//! signature with the Standard Webhooks library (npm `standardwebhooks`): each event once, in
//! order per account connector, through a receiver that is down for a while; redirects
//! not followed; endpoint URLs checked. The token endpoint whose failures make the events
//! is a fake by name (`FakeSwitchableTokenEndpoint`): a real server does not fail on cue.

mod support;

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use authdesk_core::engine::EngineConfig;
use authdesk_core::service::webhooks::NewWebhookEndpoint;
use authdesk_core::{InstallRequest, Secret};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use support::webhook_receiver::{Received, Receiver};

const OK: u8 = 0;
const DOWN: u8 = 1;
const DEAD: u8 = 2;

/// A token endpoint that answers as told: tokens, 503, or `invalid_grant`.
struct FakeSwitchableTokenEndpoint {
    base: String,
    mode: Arc<AtomicU8>,
}

impl FakeSwitchableTokenEndpoint {
    async fn start() -> FakeSwitchableTokenEndpoint {
        let mode = Arc::new(AtomicU8::new(OK));
        let m = mode.clone();
        let app = axum::Router::new().route(
            "/token",
            post(move || {
                let m = m.load(Ordering::SeqCst);
                async move {
                    let json = |s: StatusCode, b: &'static str| {
                        (s, [(header::CONTENT_TYPE, "application/json")], b).into_response()
                    };
                    match m {
                        OK => json(
                            StatusCode::OK,
                            r#"{"access_token":"fresh-access-token-value","token_type":"Bearer","expires_in":3600}"#,
                        ),
                        DOWN => json(StatusCode::SERVICE_UNAVAILABLE, r#"{"error":"temporarily_unavailable"}"#),
                        _ => json(StatusCode::BAD_REQUEST, r#"{"error":"invalid_grant"}"#),
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeSwitchableTokenEndpoint { base, mode }
    }
}

fn setup() -> support::EngineSetup {
    let mut config = EngineConfig::default();
    config.webhook_retry_base = chrono::Duration::milliseconds(200);
    support::engine_setup(config, "Hooked")
}

async fn endpoint(s: &support::EngineSetup, receiver: &Receiver) -> String {
    let (e, secret) = s
        .engine
        .add_webhook(NewWebhookEndpoint {
            url: receiver.url(),
            allow_loopback: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(secret.expose().starts_with("whsec_"));
    receiver.set_secret(secret.expose());
    e.id
}

fn oauth_connector(s: &support::EngineSetup, token_base: &str, name: &str) -> i64 {
    let def = format!(
        "id = \"hooked\"\nname = \"Hooked\"\nversion = \"1\"\n[auth]\ntype = \"oauth2\"\n\
         grant = \"authorization_code\"\nauthorize_url = \"{token_base}/authorize\"\ntoken_url = \"{token_base}/token\"\n"
    );
    s.desk.add_connector("hooked.toml", &def, true).unwrap();
    s.desk
        .set_connector_client("hooked", "client", Some(&Secret::new("client-secret")))
        .unwrap();
    s.desk
        .install(
            &s.account,
            "hooked",
            InstallRequest {
                name: name.into(),
                auth_value: Some(Secret::new(
                    r#"{"AccessToken":"stored-access-token","RefreshToken":"stored-refresh-token","Expires":"2000-01-01T00:00:00Z"}"#,
                )),
                ..Default::default()
            },
        )
        .unwrap()
        .id
}

/// Delivery passes until the receiver has `n` events.
async fn deliver_until(s: &support::EngineSetup, receiver: &Receiver, n: usize) -> Vec<Received> {
    for _ in 0..200 {
        s.engine.deliver_due_webhooks().await.unwrap();
        let (got, _, _) = receiver.received();
        if got.len() >= n {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the receiver has {:?}", receiver.received().0);
}

fn types(got: &[Received]) -> Vec<String> {
    got.iter()
        .map(|r| r.event["type"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_credential_event_is_signed_delivered_in_order_and_carries_no_secret() {
    let receiver = Receiver::start();
    let tokens = FakeSwitchableTokenEndpoint::start().await;
    let s = setup();
    endpoint(&s, &receiver).await;
    let id = oauth_connector(&s, &tokens.base, "Hooked CRM");
    tokens.mode.store(DOWN, Ordering::SeqCst);
    assert!(s.engine.access(id).await.is_err());
    tokens.mode.store(OK, Ordering::SeqCst);
    s.engine.refresh_now(id).await.unwrap();
    // Expired again, and the provider says the grant is dead.
    s.desk
        .set_auth_value(
            id,
            &Secret::new(r#"{"AccessToken":"a2-stored","RefreshToken":"r2-stored","Expires":"2000-01-01T00:00:00Z"}"#),
        )
        .unwrap();
    tokens.mode.store(DEAD, Ordering::SeqCst);
    assert!(s.engine.access(id).await.is_err());
    s.engine.disconnect(id).await.unwrap();
    s.engine.delete_account_connector(id).await.unwrap();

    let got = deliver_until(&s, &receiver, 7).await;
    assert_eq!(
        types(&got),
        [
            "account_connector.authenticated",
            "account_connector.refresh_failed",
            "account_connector.recovered",
            "account_connector.authenticated",
            "account_connector.needs_reauthentication",
            "account_connector.disconnected",
            "account_connector.deleted",
        ]
    );
    let (_, refused, _) = receiver.received();
    assert_eq!(refused, 0, "every signature verified");
    let ids: std::collections::HashSet<_> = got.iter().map(|r| r.id.clone()).collect();
    assert_eq!(ids.len(), got.len(), "each message once");
    let failed = &got[1].event["data"];
    assert_eq!(failed["AccountConnectorId"], id);
    assert_eq!(failed["AccountId"], s.account.as_str());
    assert_eq!(failed["Status"], "Error");
    assert!(failed["NextRetryAt"].is_string(), "{failed}");
    assert!(failed["ConnectorId"].is_i64() && failed["Reason"].is_string());
    assert_eq!(got[4].event["data"]["Status"], "NeedsReauthentication");
    assert_eq!(got[6].event["data"]["Status"], "Deleted");
    let all = serde_json::to_string(&got.iter().map(|r| &r.event).collect::<Vec<_>>()).unwrap();
    for secret in [
        "stored-access-token",
        "stored-refresh-token",
        "fresh-access-token",
        "client-secret",
        "r2-stored",
    ] {
        assert!(!all.contains(secret), "{secret} in {all}");
    }
    // Delivered once: more passes send nothing more.
    for _ in 0..3 {
        s.engine.deliver_due_webhooks().await.unwrap();
    }
    assert_eq!(receiver.received().0.len(), 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_down_for_a_while_gets_every_event_once_and_in_order_when_it_is_back() {
    let receiver = Receiver::start();
    let s = setup();
    let endpoint_id = endpoint(&s, &receiver).await;
    receiver.set_mode("down");
    let key = |n: u32| {
        let id = s
            .desk
            .install(
                &s.account,
                "generic-api-key",
                InstallRequest {
                    name: format!("keyed {n}"),
                    properties: vec![authdesk_core::PropertyInput {
                        name: "ApiHost".into(),
                        value: Secret::new("api.example.com"),
                    }],
                    ..Default::default()
                },
            )
            .unwrap()
            .id;
        id
    };
    let (a, b) = (key(1), key(2));
    for round in 0..3 {
        for id in [a, b] {
            s.desk
                .set_auth_value(id, &Secret::new(format!("key-{id}-{round}-abcdef")))
                .unwrap();
        }
    }
    // Down: attempts fail and are retried later, each with its status and next retry.
    for _ in 0..4 {
        s.engine.deliver_due_webhooks().await.unwrap();
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let attempts = s.desk.webhook_deliveries(Some(&endpoint_id), 100).unwrap();
    assert!(!attempts.is_empty());
    assert!(
        attempts
            .iter()
            .all(|d| d.status_code == Some(503) && d.next_retry_at.is_some()),
        "{attempts:?}"
    );
    assert!(receiver.received().0.is_empty());
    receiver.set_mode("up");
    let got = deliver_until(&s, &receiver, 6).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    s.engine.deliver_due_webhooks().await.unwrap();
    let (got_after, refused, _) = receiver.received();
    assert_eq!(got_after.len(), 6, "each event once: {got_after:?}");
    assert_eq!(refused, 0);
    // In order per account connector: the three events of each arrive as they happened
    // (their message ids are distinct; the order is the outbox's).
    for id in [a, b] {
        let of: Vec<&Received> = got
            .iter()
            .filter(|r| r.event["data"]["AccountConnectorId"] == id)
            .collect();
        assert_eq!(of.len(), 3, "{got:?}");
        let stamps: Vec<&str> = of
            .iter()
            .map(|r| r.event["timestamp"].as_str().unwrap())
            .collect();
        let mut sorted = stamps.clone();
        sorted.sort();
        assert_eq!(stamps, sorted, "out of order for {id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_not_followed_and_endpoint_addresses_are_checked() {
    let receiver = Receiver::start();
    let s = setup();
    let endpoint_id = endpoint(&s, &receiver).await;
    receiver.set_mode("redirect");
    support::account(&s.desk, "Redirected");
    s.desk
        .install(
            &s.account,
            "generic-api-key",
            InstallRequest {
                name: "keyed".into(),
                auth_value: Some(Secret::new("a-key-1234567890")),
                properties: vec![authdesk_core::PropertyInput {
                    name: "ApiHost".into(),
                    value: Secret::new("api.example.com"),
                }],
                ..Default::default()
            },
        )
        .unwrap();
    s.engine.deliver_due_webhooks().await.unwrap();
    let attempts = s.desk.webhook_deliveries(Some(&endpoint_id), 10).unwrap();
    assert_eq!(attempts[0].status_code, Some(307));
    assert!(
        attempts[0]
            .error
            .as_deref()
            .unwrap()
            .contains("redirects are not followed"),
        "{attempts:?}"
    );
    assert_eq!(receiver.received().2, 0, "the redirect was followed");

    let add = |url: &str, loopback: bool, private: bool| {
        let engine = s.engine.clone();
        let url = url.to_string();
        async move {
            engine
                .add_webhook(NewWebhookEndpoint {
                    url,
                    allow_loopback: loopback,
                    allow_private: private,
                    ..Default::default()
                })
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
    };
    let e = add("http://partner.example/hook", true, true)
        .await
        .unwrap_err();
    assert!(e.contains("must be https"), "{e}");
    let e = add(&receiver.url(), false, false).await.unwrap_err();
    assert!(e.contains("--allow-loopback"), "{e}");
    let e = add("https://10.1.2.3/hook", false, false)
        .await
        .unwrap_err();
    assert!(
        e.contains("private") && e.contains("--allow-private"),
        "{e}"
    );
    add("https://10.1.2.3/hook", false, true).await.unwrap();
    let e = add("https://127.0.0.1/hook", false, false)
        .await
        .unwrap_err();
    assert!(e.contains("loopback"), "{e}");
    let e = s
        .engine
        .add_webhook(NewWebhookEndpoint {
            url: "https://hooks.example/x".into(),
            events: vec!["account_connector.exploded".into()],
            ..Default::default()
        })
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("account_connector.exploded") && e.contains("account_connector.authenticated"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_committed_by_a_process_that_never_delivered_are_delivered_by_the_next() {
    let receiver = Receiver::start();
    let dir = tempfile::tempdir().unwrap();
    let secret;
    let id;
    {
        // A process commits the event and goes away without a delivery pass.
        let desk = support::desk_on_sqlite(dir.path(), Arc::new(chrono::Utc::now));
        let engine = authdesk_core::Engine::new(desk.clone(), EngineConfig::default()).unwrap();
        let (_, s) = engine
            .add_webhook(NewWebhookEndpoint {
                url: receiver.url(),
                allow_loopback: true,
                ..Default::default()
            })
            .await
            .unwrap();
        secret = s;
        let account = support::account(&desk, "Crashed");
        id = desk
            .install(
                &account,
                "generic-api-key",
                InstallRequest {
                    name: "keyed".into(),
                    auth_value: Some(Secret::new("a-key-1234567890")),
                    properties: vec![authdesk_core::PropertyInput {
                        name: "ApiHost".into(),
                        value: Secret::new("api.example.com"),
                    }],
                    ..Default::default()
                },
            )
            .unwrap()
            .id;
    }
    receiver.set_secret(secret.expose());
    let desk = support::desk_on_sqlite(dir.path(), Arc::new(chrono::Utc::now));
    let engine = authdesk_core::Engine::new(desk, EngineConfig::default()).unwrap();
    assert_eq!(engine.deliver_due_webhooks().await.unwrap(), 1);
    let got = receiver.wait_for(Duration::from_secs(5), |r| !r.is_empty());
    assert_eq!(got[0].event["data"]["AccountConnectorId"], id);
}
