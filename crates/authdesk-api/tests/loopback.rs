//! The loopback redirect listener of `authdesk connect` and the desktop (RFC 8252 §7.3),
//! against panva's oidc-provider: a native client signs in, and requests that are not the
//! sign-in (a foreign `Host`, no or another `state`, another path) neither end the wait nor
//! change anything.

#[path = "../../authdesk-core/tests/support/oidc.rs"]
mod oidc;

use std::sync::Arc;
use std::time::Duration;

use authdesk_core::{AuthStatus, Authdesk, Engine, EngineConfig, KeySource, OpenOptions};
use oidc::{sign_in, OidcOptions, OidcServer};

struct Setup {
    _dir: tempfile::TempDir,
    desk: Arc<Authdesk>,
    engine: Engine,
    id: i64,
    _server: OidcServer,
}

fn setup() -> Setup {
    let server = OidcServer::start(OidcOptions::default());
    let dir = tempfile::tempdir().unwrap();
    let desk = Arc::new(
        Authdesk::open(OpenOptions {
            data_dir: dir.path().join("data"),
            database: None,
            key_source: KeySource::File(dir.path().join("vault.key")),
            clock: Arc::new(chrono::Utc::now),
        })
        .unwrap(),
    );
    let engine = Engine::new(desk.clone(), EngineConfig::default()).unwrap();
    let id = oidc::installed_as(
        &desk,
        &server.issuer,
        "authdesk-native",
        "authdesk-native-secret",
    );
    Setup {
        _dir: dir,
        desk,
        engine,
        id,
        _server: server,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_native_client_signs_in_and_strays_do_not_end_the_wait() {
    let s = setup();
    let sign_in_flow = authdesk_api::loopback::begin(&s.engine, s.id, 0)
        .await
        .unwrap();
    let url = sign_in_flow.start.authorization_url.clone();
    let redirect = sign_in_flow.start.redirect_uri.clone();
    assert!(redirect.starts_with("http://127.0.0.1:"), "{redirect}");
    let port = url::Url::parse(&redirect).unwrap().port().unwrap();
    let history_before = s.desk.credential_events(s.id, 100).unwrap().len();
    let engine = s.engine.clone();
    let waiting =
        tokio::spawn(async move { sign_in_flow.finish(&engine, Duration::from_secs(60)).await });

    let http = reqwest::Client::new();
    let local = format!("http://127.0.0.1:{port}");
    // A favicon, a request without state, one with another state, one with a foreign Host
    // (DNS rebinding) carrying an error: answered, ignored.
    let r = http
        .get(format!("{local}/favicon.ico"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = http
        .get(format!("{local}/callback?error=access_denied"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = http
        .get(format!("{local}/callback?code=x&state=not-the-state"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let state = url::Url::parse(&url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let r = http
        .get(format!(
            "{local}/callback?error=access_denied&state={state}"
        ))
        .header("Host", format!("evil.example:{port}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 421);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!waiting.is_finished(), "a stray request ended the wait");
    assert_eq!(
        s.desk.credential_events(s.id, 100).unwrap().len(),
        history_before,
        "a stray request wrote history"
    );

    // The browser comes back from the provider with the right state.
    let callback = sign_in(&url, "bob").await;
    let page = http.get(&callback).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page
        .text()
        .await
        .unwrap()
        .contains("You can close this window"));
    let ac = waiting.await.unwrap().unwrap();
    assert_eq!(ac.status, AuthStatus::Authenticated);
    let r = s
        .engine
        .call_method(s.id, "userinfo", &Default::default())
        .await
        .unwrap();
    assert_eq!(r.body["sub"], "bob");
}

#[tokio::test]
async fn the_wait_ends_when_the_time_is_up() {
    let s = setup();
    let sign_in_flow = authdesk_api::loopback::begin(&s.engine, s.id, 0)
        .await
        .unwrap();
    let e = sign_in_flow
        .finish(&s.engine, Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no answer from the browser"), "{e}");
}
