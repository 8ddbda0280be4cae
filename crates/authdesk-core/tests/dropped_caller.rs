//! A caller that goes away (an HTTP client that disconnects, a task that is cancelled)
//! after the provider has answered a refresh cannot lose the rotated refresh token: the
//! refresh runs in a task of its own and commits anyway.
//!
//! Its own test binary: it sets `AUTHDESK_TEST_PAUSE_AT` for the whole process to hold the
//! refresh right after the provider's answer.

mod support;

use std::sync::Arc;
use std::time::Duration;

use authdesk_core::{Engine, EngineConfig};
use support::oidc::{OidcOptions, OidcServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_dropped_after_the_provider_answered_loses_nothing() {
    let server = OidcServer::start(OidcOptions {
        access_ttl_secs: 3600,
        rotate_refresh: true,
    });
    let dir = tempfile::tempdir().unwrap();
    let desk = support::desk_with_key_file(dir.path(), Arc::new(chrono::Utc::now));
    let engine = Engine::new(desk.clone(), EngineConfig::default()).unwrap();
    let id = support::oidc::signed_in_and_expired(&desk, &engine, &server.issuer).await;
    let secret = |field: &str| support::oidc::stored(&desk, id, field);
    let (old_access, old_refresh) = (secret("AccessToken"), secret("RefreshToken"));
    server.reset_stats().await;

    let resume = dir.path().join("resume");
    // SAFETY of the environment: this binary has this one test.
    std::env::set_var("AUTHDESK_TEST_PAUSE_AT", "refresh:after_response");
    std::env::set_var("AUTHDESK_TEST_RESUME_FILE", &resume);
    let caller = {
        let engine = engine.clone();
        tokio::spawn(async move {
            engine
                .call_method(id, "userinfo", &Default::default())
                .await
        })
    };
    // Wait until the provider has answered (and rotated the refresh token)...
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while server.stats().await["grants"]["refresh_token"] != 1 {
        assert!(std::time::Instant::now() < deadline, "no refresh happened");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // ...then the caller goes away before anything is committed.
    caller.abort();
    assert!(caller.await.unwrap_err().is_cancelled());
    assert_eq!(secret("RefreshToken"), old_refresh, "nothing committed yet");
    std::fs::write(&resume, b"").unwrap();
    std::env::remove_var("AUTHDESK_TEST_PAUSE_AT");

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
    let r = engine
        .call_method(id, "userinfo", &Default::default())
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(server.stats().await["grants"]["refresh_token"], 1);
    engine.refresh_now(id).await.unwrap();
    assert_eq!(server.stats().await["grants"]["refresh_token"], 2);
}
