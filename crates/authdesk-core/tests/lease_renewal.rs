//! Refresh leases that cannot be taken over wrongly: a holder whose refresh is slower than
//! its lease keeps the lease (it renews it while in flight), and a refresh that lost its
//! lease anyway (taken over by another replica) discards its tokens without revoking them
//! at the provider (RFC 7009 revocation can end the whole grant, which the winner uses).
//!
//! Its own test binary: it sets `AUTHDESK_TEST_PAUSE_AT` for the whole process to hold a
//! refresh right after the provider's answer, longer than the lease lasts.

mod support;

use std::time::Duration;

use authdesk_core::{Engine, EngineConfig};
use support::oidc::{OidcOptions, OidcServer};

async fn wait_for(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !done().await {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slow_refresh_keeps_its_lease_and_a_lost_one_revokes_nothing() {
    let server = OidcServer::start(OidcOptions {
        access_ttl_secs: 3600,
        rotate_refresh: true,
    });
    let dir = tempfile::tempdir().unwrap();
    let desk = support::desk_with_key_file(dir.path(), std::sync::Arc::new(chrono::Utc::now));
    // A two-second lease: the paused refresh below outlives it more than twice over.
    let config = EngineConfig {
        lease_ttl: chrono::Duration::seconds(2),
        ..Default::default()
    };
    // Two engines with their own holders: two replicas of a team server.
    let a = Engine::new(desk.clone(), config.clone()).unwrap();
    let b = Engine::new(desk.clone(), config).unwrap();
    let id = support::oidc::signed_in_and_expired(&desk, &a, &server.issuer).await;
    server.reset_stats().await;
    let stats = || server.stats();

    let resume = dir.path().join("resume");
    // SAFETY of the environment: this binary has this one test.
    std::env::set_var("AUTHDESK_TEST_PAUSE_AT", "refresh:after_response");
    std::env::set_var("AUTHDESK_TEST_RESUME_FILE", &resume);
    let call = |engine: &Engine| {
        let engine = engine.clone();
        tokio::spawn(async move {
            engine
                .call_method(id, "userinfo", &Default::default())
                .await
        })
    };

    // 1. A refreshes; the provider answers; A's commit waits two and a half lifetimes.
    let first = call(&a);
    wait_for("A's refresh", async || {
        stats().await["grants"]["refresh_token"] == 1
    })
    .await;
    let second = call(&b);
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        stats().await["grants"]["refresh_token"],
        1,
        "B took over a lease whose holder was still refreshing"
    );
    std::fs::write(&resume, b"").unwrap();
    for call in [first, second] {
        assert_eq!(call.await.unwrap().unwrap().status, 200);
    }
    let s = stats().await;
    assert_eq!(s["grants"]["refresh_token"], 1, "{s}");
    assert_eq!(s["errors"]["invalid_grant"].as_u64().unwrap_or(0), 0, "{s}");

    // 2. A refreshes again, and while the provider answers another replica takes the lease
    // over (forged: a holder on another machine). A's tokens are discarded, not revoked.
    std::fs::remove_file(&resume).unwrap();
    support::oidc::expire(&desk, id);
    let third = call(&a);
    wait_for("A's second refresh", async || {
        stats().await["grants"]["refresh_token"] == 2
    })
    .await;
    let ours = desk.lease_holder(id).unwrap().expect("A holds the lease");
    desk.release_lease(id, &ours).unwrap();
    let version = desk.load_tokens(id).unwrap().version;
    let replica = "pid:1@another-machine~4026531836:replica-b";
    assert!(matches!(
        desk.try_acquire_lease(id, replica, chrono::Duration::seconds(2), version)
            .unwrap(),
        authdesk_core::token_store::LeaseOutcome::Acquired
    ));
    std::fs::write(&resume, b"").unwrap();
    // A gives its tokens up and waits out the other's lease. (The forged replica never
    // commits, so A then finds the refresh token it read already used at the provider:
    // what the call ends with is not the point here.)
    let _ = third.await.unwrap();
    let s = stats().await;
    assert_eq!(s["revocations"].as_u64().unwrap_or(0), 0, "{s}");
    let events = desk.credential_events(id, 10).unwrap();
    let discarded = events
        .iter()
        .find(|e| e.kind == "refresh_discarded")
        .expect("the lost refresh is in the history");
    assert!(
        discarded
            .detail
            .as_deref()
            .unwrap_or("")
            .contains("not revoked"),
        "{:?}",
        discarded.detail
    );
}
