//! A caller that goes away (an HTTP client that disconnects, a task that is cancelled)
//! after the provider has answered a refresh cannot lose the rotated refresh token: the
//! refresh runs in a task of its own and commits anyway.
//!
//! Its own test binary: it sets `AUTHDESK_TEST_PAUSE_AT` for the whole process to hold the
//! refresh right after the provider's answer.

mod support;

use std::sync::Arc;
use std::time::Duration;

use authdesk_core::{Engine, EngineConfig, InstallRequest, NewAccount, Secret};
use support::oidc::{sign_in, OidcOptions, OidcServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_dropped_after_the_provider_answered_loses_nothing() {
    let server = OidcServer::start(OidcOptions {
        access_ttl_secs: 3600,
        rotate_refresh: true,
    });
    let dir = tempfile::tempdir().unwrap();
    let desk = support::desk_with_key_file(dir.path(), Arc::new(chrono::Utc::now));
    let engine = Engine::new(desk.clone(), EngineConfig::default()).unwrap();
    desk.add_connector(
        "test",
        &support::oidc::test_provider_definition(&server.issuer),
        false,
    )
    .unwrap();
    let account = desk
        .create_account(NewAccount {
            name: "Dropped".into(),
            ..Default::default()
        })
        .unwrap()
        .id;
    let id = desk
        .install(
            &account,
            "test-provider",
            InstallRequest {
                name: "t".into(),
                ..Default::default()
            },
        )
        .unwrap()
        .id;
    desk.set_property(id, "ClientId", &Secret::new("authdesk-web"))
        .unwrap();
    desk.set_property(id, "ClientSecret", &Secret::new("authdesk-web-secret"))
        .unwrap();
    let start = engine
        .begin_sign_in(id, "https://app.example.com/callback")
        .await
        .unwrap();
    let callback = sign_in(&start.authorization_url, "frank").await;
    engine
        .complete_sign_in(&callback, &start.binding)
        .await
        .unwrap();
    let secret = |field: &str| {
        desk.credential_secret(id, field)
            .unwrap()
            .unwrap()
            .expose()
            .to_string()
    };
    let (old_access, old_refresh) = (secret("AccessToken"), secret("RefreshToken"));
    desk.set_auth_value(
        id,
        &Secret::new(
            serde_json::json!({
                "AccessToken": old_access,
                "RefreshToken": old_refresh,
                "Expires": "2000-01-01T00:00:00Z",
            })
            .to_string(),
        ),
    )
    .unwrap();
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
