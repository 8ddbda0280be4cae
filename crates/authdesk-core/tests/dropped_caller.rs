//! A caller that goes away (an HTTP client that disconnects, a task that is cancelled)
//! after the provider has answered a refresh cannot lose the rotated refresh token: the
//! refresh runs in a task of its own and commits anyway. And a process asked to stop
//! (`Engine::settle`, what the shells run on Ctrl-C and SIGTERM) waits for a code exchange
//! whose tokens are only in memory.
//!
//! Its own test binary: it sets `AUTHDESK_TEST_PAUSE_AT` for the whole process to hold a
//! token request right after the provider's answer (one test at a time: `PAUSE`).

mod support;

use std::sync::Arc;
use std::time::Duration;

use authdesk_core::{Authdesk, Engine, EngineConfig, Secret};
use support::oidc::{sign_in, OidcOptions, OidcServer};

const REDIRECT: &str = "https://app.example.com/callback";

/// The pause variable is the whole process's: the tests that set it take turns.
static PAUSE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The test provider installed (with its client) and not signed in yet.
struct Setup {
    server: OidcServer,
    dir: tempfile::TempDir,
    desk: Arc<Authdesk>,
    engine: Engine,
    id: i64,
}

impl Setup {
    fn start() -> Setup {
        let server = OidcServer::start(OidcOptions {
            access_ttl_secs: 3600,
            rotate_refresh: true,
        });
        let dir = tempfile::tempdir().unwrap();
        let desk = support::desk_with_key_file(dir.path(), Arc::new(chrono::Utc::now));
        let engine = Engine::new(desk.clone(), EngineConfig::default()).unwrap();
        let id = support::oidc::installed(&desk, &server.issuer);
        Setup {
            server,
            dir,
            desk,
            engine,
            id,
        }
    }

    /// The provider's redirect after `login` signed in and consented, and the binding the
    /// sign-in's start gave (what completes it).
    async fn callback(&self, login: &str) -> (String, Secret) {
        let start = self.engine.begin_sign_in(self.id, REDIRECT).await.unwrap();
        let callback = sign_in(&start.authorization_url, login).await;
        (callback, start.binding)
    }

    fn secret(&self, field: &str) -> Option<String> {
        self.desk
            .credential_secret(self.id, field)
            .unwrap()
            .map(|s| s.expose().to_string())
    }

    /// Holds token requests at `point` until [`Setup::resume`].
    fn pause_at(&self, point: &str) {
        std::env::set_var("AUTHDESK_TEST_PAUSE_AT", point);
        std::env::set_var("AUTHDESK_TEST_RESUME_FILE", self.resume_file());
    }

    fn resume(&self) {
        std::fs::write(self.resume_file(), b"").unwrap();
        std::env::remove_var("AUTHDESK_TEST_PAUSE_AT");
    }

    fn resume_file(&self) -> std::path::PathBuf {
        self.dir.path().join("resume")
    }

    /// Waits until the provider has issued `grant` `count` times.
    async fn until_granted(&self, grant: &str, count: u64) {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while self.server.stats().await["grants"][grant] != count {
            assert!(std::time::Instant::now() < deadline, "no {grant} grant");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_dropped_after_the_provider_answered_loses_nothing() {
    let _turn = PAUSE.lock().await;
    let s = Setup::start();
    let id = s.id;
    let (callback, binding) = s.callback("frank").await;
    s.engine
        .complete_sign_in(&callback, &binding)
        .await
        .unwrap();
    let secret = |field: &str| s.secret(field).unwrap();
    let (old_access, old_refresh) = (secret("AccessToken"), secret("RefreshToken"));
    support::oidc::expire(&s.desk, id);
    s.server.reset_stats().await;

    s.pause_at("refresh:after_response");
    let caller = {
        let engine = s.engine.clone();
        tokio::spawn(async move {
            engine
                .call_method(id, "userinfo", &Default::default())
                .await
        })
    };
    // Wait until the provider has answered (and rotated the refresh token)...
    s.until_granted("refresh_token", 1).await;
    // ...then the caller goes away before anything is committed.
    caller.abort();
    assert!(caller.await.unwrap_err().is_cancelled());
    assert_eq!(secret("RefreshToken"), old_refresh, "nothing committed yet");
    s.resume();

    // The refresh still commits the rotated refresh token.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while secret("RefreshToken") == old_refresh {
        assert!(
            std::time::Instant::now() < deadline,
            "the rotated refresh token was lost with the caller"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_ne!(secret("AccessToken"), old_access);
    // The credential works without another refresh, and keeps working after one.
    let r = s
        .engine
        .call_method(id, "userinfo", &Default::default())
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(s.server.stats().await["grants"]["refresh_token"], 1);
    s.engine.refresh_now(id).await.unwrap();
    assert_eq!(s.server.stats().await["grants"]["refresh_token"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_asked_to_stop_waits_for_a_code_exchange_in_flight() {
    let _turn = PAUSE.lock().await;
    let s = Setup::start();
    let (callback, binding) = s.callback("grace").await;
    s.pause_at("exchange:after_response");
    let exchange = {
        let engine = s.engine.clone();
        tokio::spawn(async move { engine.complete_sign_in(&callback, &binding).await })
    };
    // The provider has answered: the tokens are only in memory.
    s.until_granted("authorization_code", 1).await;
    assert!(
        !s.engine.settle(Duration::from_millis(300)).await,
        "settle did not wait for the code exchange in flight"
    );
    assert_eq!(s.secret("RefreshToken"), None, "nothing committed yet");
    s.resume();
    assert!(s.engine.settle(Duration::from_secs(10)).await);
    // Settled means committed.
    assert!(s.secret("RefreshToken").is_some());
    exchange.await.unwrap().unwrap();
}
