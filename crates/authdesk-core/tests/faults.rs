//! Faults a real authorization server will not produce on request, from a deliberately
//! faulty token endpoint (`FakeFaultyTokenEndpoint`, a fake by name). Each must leave the
//! stored credential consistent (the refresh token kept) and the status right.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use authdesk_core::engine::EngineConfig;
use authdesk_core::{AuthStatus, Error, InstallRequest, Secret};
use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

/// Answers `POST /<fault>/token` with the named fault and counts requests.
struct FakeFaultyTokenEndpoint {
    base: String,
    requests: Arc<AtomicUsize>,
}

impl FakeFaultyTokenEndpoint {
    async fn start() -> FakeFaultyTokenEndpoint {
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = requests.clone();
        let app = axum::Router::new().route(
            "/{fault}/token",
            post(move |Path(fault): Path<String>| {
                counter.fetch_add(1, Ordering::SeqCst);
                async move { fault_response(&fault).await }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeFaultyTokenEndpoint { base, requests }
    }
}

async fn fault_response(fault: &str) -> Response {
    let json = |status: StatusCode, body: &str| {
        (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response()
    };
    match fault {
        "500" => json(
            StatusCode::INTERNAL_SERVER_ERROR,
            r#"{"error":"server_error"}"#,
        ),
        "502" => (
            StatusCode::BAD_GATEWAY,
            "<html><body>Bad gateway</body></html>",
        )
            .into_response(),
        "503" => (StatusCode::SERVICE_UNAVAILABLE, "").into_response(),
        "html200" => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/html")],
            "<!doctype html><title>Sign in</title><form>captive portal</form>",
        )
            .into_response(),
        "malformed" => json(
            StatusCode::OK,
            r#"{"access_token": "LEAKED-IF-ECHOED", "token_type": "Bearer""#,
        ),
        "missing" => json(
            StatusCode::OK,
            r#"{"token_type":"Bearer","expires_in":3600,"note":"LEAKED-IF-ECHOED"}"#,
        ),
        "huge" => {
            let pad = "x".repeat(10 * 1024 * 1024);
            json(
                StatusCode::OK,
                &format!(r#"{{"access_token":"a","token_type":"Bearer","pad":"{pad}"}}"#),
            )
        }
        "hang" => {
            tokio::time::sleep(std::time::Duration::from_secs(60)).await;
            json(StatusCode::OK, "{}")
        }
        "redirect" => (
            StatusCode::FOUND,
            [(header::LOCATION, "https://evil.example/token")],
            "",
        )
            .into_response(),
        "invalid_grant" => json(
            StatusCode::BAD_REQUEST,
            r#"{"error":"invalid_grant","error_description":"refresh token revoked"}"#,
        ),
        "invalid_client" => json(StatusCode::UNAUTHORIZED, r#"{"error":"invalid_client"}"#),
        // Rate limiting and overload, with and without an OAuth error body.
        "429" => (
            StatusCode::TOO_MANY_REQUESTS,
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::RETRY_AFTER, "120"),
            ],
            r#"{"error":"rate_limited"}"#,
        )
            .into_response(),
        "429_bare" => (StatusCode::TOO_MANY_REQUESTS, "slow down").into_response(),
        "temporarily_unavailable" => (
            StatusCode::BAD_REQUEST,
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::RETRY_AFTER, "90"),
            ],
            r#"{"error":"temporarily_unavailable"}"#,
        )
            .into_response(),
        "slow_down" => json(StatusCode::BAD_REQUEST, r#"{"error":"slow_down"}"#),
        // A slow endpoint issuing one-second tokens: they are nearly gone when they arrive.
        "slow_short" => {
            tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
            json(
                StatusCode::OK,
                r#"{"access_token":"short-lived","token_type":"Bearer","expires_in":1,"refresh_token":"next-refresh"}"#,
            )
        }
        // A provider whose refusal echoes the refresh token and the client secret, and
        // carries tokens of its own (canaries): none may be kept, logged or shown.
        "canary" => (
            StatusCode::BAD_REQUEST,
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::RETRY_AFTER, "30"),
                (
                    header::WWW_AUTHENTICATE,
                    "Bearer error=\"invalid_token\", error_description=\"token CANARYa1b2c3d4e5f6g7h8\"",
                ),
            ],
            r#"{"error":"invalid_grant","error_description":"refresh token old-refresh is revoked (trace CANARYa1b2c3d4e5f6g7h8)","access_token":"CANARY-access","debug":{"request":"grant_type=refresh_token&refresh_token=old-refresh&client_secret=client-secret","id_token":"eyJhbGciOiJub25lIn0.eyJzdWIiOiJDQU5BUlkifQ."}}"#,
        )
            .into_response(),
        other => (StatusCode::NOT_FOUND, format!("no fault {other}")).into_response(),
    }
}

type Setup = support::EngineSetup;

fn setup() -> Setup {
    setup_with_timeout(2)
}

fn setup_with_timeout(seconds: u64) -> Setup {
    let mut config = EngineConfig::default();
    config.http.total_timeout = std::time::Duration::from_secs(seconds);
    support::engine_setup(config, "Faults")
}

async fn expired_credential_at(s: &Setup, base: &str, fault: &str) -> i64 {
    let def = format!(
        r#"
id = "fault-{id}"
name = "Faulty"
version = "1"
[auth]
type = "oauth2"
grant = "authorization_code"
authorize_url = "{base}/authorize"
token_url = "{base}/{fault}/token"
"#,
        id = fault.replace('_', "-")
    );
    let connector = s.desk.add_connector("fault.toml", &def, true).unwrap();
    s.desk
        .set_connector_client(
            &connector.slug,
            "client",
            Some(&Secret::new("client-secret")),
        )
        .unwrap();
    s.desk
        .install(
            &s.account,
            &connector.slug,
            InstallRequest {
                name: fault.into(),
                auth_value: Some(Secret::new(
                    r#"{"AccessToken":"old-access","RefreshToken":"old-refresh","Expires":"2000-01-01T00:00:00Z"}"#,
                )),
                ..Default::default()
            },
        )
        .unwrap()
        .id
}

#[tokio::test]
async fn transient_faults_keep_the_refresh_token_and_back_off() {
    let fake = FakeFaultyTokenEndpoint::start().await;
    let s = setup();
    for (fault, says) in [
        ("500", "HTTP 500"),
        ("502", "HTML page"),
        ("503", "HTTP 503"),
        ("html200", "HTML page"),
        ("malformed", "not JSON"),
        ("missing", "`access_token`"),
        ("huge", "larger than"),
        ("hang", "timed out"),
        ("redirect", "redirects are not followed"),
        ("429", "rate limiting"),
        ("429_bare", "rate limiting"),
        ("temporarily_unavailable", "temporarily unavailable"),
        ("slow_down", "temporarily unavailable"),
    ] {
        let id = expired_credential_at(&s, &fake.base, fault).await;
        let before = fake.requests.load(Ordering::SeqCst);
        let e = s.engine.access(id).await.unwrap_err();
        assert!(matches!(e, Error::ProviderTransient { .. }), "{fault}: {e}");
        let message = e.to_string();
        assert!(message.contains(says), "{fault}: {message}");
        assert!(
            !message.contains("LEAKED") && !message.contains("old-refresh"),
            "{fault}: {message}"
        );

        let ac = s.desk.get_account_connector(id).unwrap();
        assert_eq!(ac.status, AuthStatus::Error, "{fault}");
        assert!(
            ac.last_error
                .as_deref()
                .unwrap()
                .contains("will retry after"),
            "{fault}: {:?}",
            ac.last_error
        );
        assert_eq!(
            ac.secrets_set,
            vec!["AccessToken", "RefreshToken"],
            "{fault}"
        );
        assert_eq!(
            s.desk
                .credential_secret(id, "RefreshToken")
                .unwrap()
                .unwrap()
                .expose(),
            "old-refresh",
            "{fault}"
        );
        // Backing off: an immediate second use does not hit the endpoint again.
        assert!(
            matches!(
                s.engine.access(id).await,
                Err(Error::ProviderTransient { .. })
            ),
            "{fault}"
        );
        assert_eq!(
            fake.requests.load(Ordering::SeqCst),
            before + 1,
            "{fault}: exactly one request"
        );
        let events = s.desk.credential_events(id, 1).unwrap();
        assert_eq!(events[0].kind, "refresh_failed", "{fault}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_obtained_while_callers_waited_serves_them_all_whatever_its_lifetime() {
    let fake = FakeFaultyTokenEndpoint::start().await;
    let s = setup_with_timeout(10);
    let id = expired_credential_at(&s, &fake.base, "slow_short").await;
    let calls: Vec<_> = (0..20).map(|_| s.engine.access(id)).collect();
    for r in futures::future::join_all(calls).await {
        r.unwrap();
    }
    assert_eq!(
        fake.requests.load(Ordering::SeqCst),
        1,
        "one refresh for every caller that waited"
    );
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let fake = FakeFaultyTokenEndpoint::start().await;
    let s = setup();
    for (fault, at_least) in [("429", 120), ("temporarily_unavailable", 90)] {
        let id = expired_credential_at(&s, &fake.base, fault).await;
        let started = chrono::Utc::now();
        let e = s.engine.access(id).await.unwrap_err();
        let Error::ProviderTransient {
            retry_after: Some(at),
            ..
        } = &e
        else {
            panic!("{fault}: {e:?}");
        };
        assert!(
            *at >= started + chrono::Duration::seconds(at_least),
            "{fault}: retry at {at}, asked for {at_least} s"
        );
        assert!(e.to_string().contains(&format!("wait {at_least} s")), "{e}");
        assert_eq!(
            s.desk.get_account_connector(id).unwrap().status,
            AuthStatus::Error,
            "{fault}: transient, not a verdict on the grant"
        );
    }
}

#[tokio::test]
async fn invalid_grant_needs_reauthentication_and_other_errors_are_rejections() {
    let fake = FakeFaultyTokenEndpoint::start().await;
    let s = setup();
    let id = expired_credential_at(&s, &fake.base, "invalid_grant").await;
    let e = s.engine.access(id).await.unwrap_err();
    assert!(matches!(e, Error::NeedsReauth { .. }), "{e}");
    assert!(e.to_string().contains("refresh token revoked"), "{e}");
    let ac = s.desk.get_account_connector(id).unwrap();
    assert_eq!(ac.status, AuthStatus::NeedsReauth);
    // No retry storm.
    for _ in 0..5 {
        assert!(matches!(
            s.engine.access(id).await,
            Err(Error::NeedsReauth { .. })
        ));
    }
    assert_eq!(fake.requests.load(Ordering::SeqCst), 1);

    let id = expired_credential_at(&s, &fake.base, "invalid_client").await;
    let e = s.engine.access(id).await.unwrap_err();
    assert!(matches!(e, Error::ProviderRejected(_)), "{e}");
    assert!(
        e.to_string().contains("check the ClientId/ClientSecret"),
        "{e}"
    );
    assert_eq!(refresh_token(&s, id), "old-refresh");
}

/// The stored refresh token, in the clear.
fn refresh_token(s: &Setup, id: i64) -> String {
    s.desk
        .credential_secret(id, "RefreshToken")
        .unwrap()
        .unwrap()
        .expose()
        .to_string()
}

/// Stores tokens whose access token is good for an hour (by the real clock).
fn still_good_for_an_hour(s: &Setup, id: i64) {
    s.desk
        .set_auth_value(
            id,
            &Secret::new(format!(
                r#"{{"AccessToken":"still-good","RefreshToken":"old-refresh","Expires":"{}"}}"#,
                (chrono::Utc::now() + chrono::Duration::hours(1)).format("%Y-%m-%dT%H:%M:%SZ")
            )),
        )
        .unwrap();
}

#[tokio::test]
async fn refresh_now_says_when_the_provider_failed_even_while_the_old_token_works() {
    let fake = FakeFaultyTokenEndpoint::start().await;
    let s = setup();
    let id = expired_credential_at(&s, &fake.base, "503").await;
    // Still valid for an hour: calls go on with it.
    still_good_for_an_hour(&s, id);
    let e = s.engine.refresh_now(id).await.unwrap_err();
    assert!(matches!(e, Error::ProviderTransient { .. }), "{e}");
    assert!(e.to_string().contains("HTTP 503"), "{e}");
    assert!(
        s.engine.access(id).await.is_ok(),
        "the old token still serves calls"
    );
    assert_eq!(refresh_token(&s, id), "old-refresh");
}

#[tokio::test]
async fn a_token_inside_its_margin_still_serves_calls_while_the_provider_fails() {
    let fake = FakeFaultyTokenEndpoint::start().await;
    let offset = Arc::new(std::sync::atomic::AtomicI64::new(0));
    let moved = offset.clone();
    let s = support::engine_setup_with_clock(
        EngineConfig::default(),
        "Faults",
        Arc::new(move || {
            chrono::Utc::now() + chrono::Duration::seconds(moved.load(Ordering::SeqCst))
        }),
    );
    let id = expired_credential_at(&s, &fake.base, "503").await;
    // An hour's token, then 30 s before its end: inside the refresh margin, still good.
    still_good_for_an_hour(&s, id);
    offset.store(3570, Ordering::SeqCst);
    let before = fake.requests.load(Ordering::SeqCst);
    // The refresh fails; the call goes on with the token it has.
    s.engine.access(id).await.unwrap();
    assert_eq!(fake.requests.load(Ordering::SeqCst), before + 1);
    // Backing off: the next call does not ask the provider again...
    s.engine.access(id).await.unwrap();
    assert_eq!(fake.requests.load(Ordering::SeqCst), before + 1);
    // ...but a user who asks for a refresh gets one tried now, and is told it failed.
    let e = s.engine.refresh_now(id).await.unwrap_err();
    assert!(matches!(e, Error::ProviderTransient { .. }), "{e}");
    assert_eq!(fake.requests.load(Ordering::SeqCst), before + 2);
}

/// Everything this test binary logs, at every level, for scanning.
fn captured_logs() -> &'static std::sync::Mutex<Vec<u8>> {
    static LOGS: std::sync::OnceLock<&'static std::sync::Mutex<Vec<u8>>> =
        std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let logs: &'static std::sync::Mutex<Vec<u8>> =
            Box::leak(Box::new(std::sync::Mutex::new(Vec::new())));
        struct Sink(&'static std::sync::Mutex<Vec<u8>>);
        impl std::io::Write for Sink {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || Sink(logs))
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
        logs
    })
}

#[tokio::test]
async fn a_refused_refresh_keeps_the_redacted_exchange_and_no_canary_reaches_history_logs_or_views()
{
    let logs = captured_logs();
    let fake = FakeFaultyTokenEndpoint::start().await;
    let s = setup();
    let id = expired_credential_at(&s, &fake.base, "canary").await;
    let e = s.engine.access(id).await.unwrap_err();
    assert!(matches!(e, Error::NeedsReauth { .. }), "{e}");

    let events = s.desk.credential_events(id, 10).unwrap();
    assert_eq!(events[0].kind, "needs_reauth");
    let x = events[0].exchange.as_ref().expect("the exchange is kept");
    assert_eq!(x.endpoint, format!("{}/canary/token", fake.base));
    assert_eq!(x.method, "POST");
    assert_eq!(x.grant.as_deref(), Some("refresh_token"));
    assert_eq!(
        x.client_authentication.as_deref(),
        Some("client_secret_basic")
    );
    assert!(
        x.parameters.contains(&"grant_type".to_string())
            && x.parameters.contains(&"refresh_token".to_string()),
        "{:?}",
        x.parameters
    );
    assert_eq!(x.status, Some(400));
    assert_eq!(x.error.as_deref(), Some("invalid_grant"));
    assert!(
        x.error_description
            .as_deref()
            .unwrap()
            .contains("is revoked"),
        "{x:?}"
    );
    assert!(
        x.www_authenticate
            .as_deref()
            .unwrap()
            .contains("invalid_token"),
        "{x:?}"
    );
    assert_eq!(x.retry_after.as_deref(), Some("30"));
    assert!(
        x.body.as_deref().unwrap().contains("invalid_grant"),
        "{x:?}"
    );

    let shown = [
        serde_json::to_string(&events).unwrap(),
        serde_json::to_string(&s.desk.get_account_connector(id).unwrap()).unwrap(),
        e.to_string(),
        String::from_utf8_lossy(&logs.lock().unwrap()).into_owned(),
    ];
    for text in &shown {
        for canary in ["CANARY", "old-refresh", "client-secret", "eyJ"] {
            assert!(!text.contains(canary), "{canary} in {text}");
        }
    }
}

#[tokio::test]
async fn a_provider_that_cannot_be_reached_is_kept_as_the_failure_of_the_exchange() {
    let s = setup();
    // A port nothing listens on any more.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let id = expired_credential_at(&s, &format!("http://127.0.0.1:{closed}"), "gone").await;
    assert!(s.engine.access(id).await.is_err());
    let events = s.desk.credential_events(id, 1).unwrap();
    assert_eq!(events[0].kind, "refresh_failed");
    let x = events[0].exchange.as_ref().expect("the exchange is kept");
    assert_eq!(x.status, None);
    assert!(x.failure.as_deref().unwrap().contains("connect"), "{x:?}");
    assert_eq!(x.grant.as_deref(), Some("refresh_token"));
}
