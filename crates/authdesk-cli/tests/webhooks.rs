//! Webhooks through the `authdesk` binary: `webhooks add --json` prints the secret once; an
//! event committed by a command that never delivers is delivered by `serve`; `serve` killed
//! with SIGKILL while the receiver is down loses nothing: the next `serve` delivers each
//! event once when the receiver is back. The receiver verifies every signature with the
//! Standard Webhooks library from npm.

mod common;
#[path = "../../authdesk-core/tests/support/webhook_receiver.rs"]
mod webhook_receiver;

use std::process::Child;
use std::time::Duration;

use common::Desk;
use webhook_receiver::Receiver;

/// `authdesk serve` on the desk, retrying webhooks every 300 ms at first.
fn serve(desk: &Desk) -> Child {
    let mut serve = desk.command(&["serve", "--listen", "127.0.0.1:0"]);
    serve.env("AUTHDESK_WEBHOOK_RETRY_MS", "300");
    common::serving(serve).0
}

fn attempts(desk: &Desk, endpoint: &str) -> Vec<serde_json::Value> {
    desk.run(&["--json", "webhooks", "deliveries", "--endpoint", endpoint])
        .json()
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn events_survive_a_sigkill_of_serve_and_arrive_once_when_the_receiver_is_back() {
    let receiver = Receiver::start();
    let desk = Desk::new();
    // Refused with what to do.
    let e = desk.run(&["webhooks", "add", &receiver.url()]).fails();
    assert!(e.contains("--allow-loopback"), "{e}");
    let made = desk
        .run(&[
            "--json",
            "webhooks",
            "add",
            &receiver.url(),
            "--allow-loopback",
            "--events",
            "authenticated,disconnected",
        ])
        .json();
    let secret = made["Secret"].as_str().unwrap();
    let endpoint = made["Id"].as_str().unwrap().to_string();
    assert!(
        secret.starts_with("whsec_") && made["Url"] == receiver.url().as_str(),
        "{made}"
    );
    receiver.set_secret(secret);
    let listed = desk.run(&["webhooks", "list"]).ok();
    assert!(
        listed.contains(&endpoint) && !listed.contains(secret),
        "{listed}"
    );

    // A command commits the event and, before it exits, tries to send it: the receiver is
    // down, so the attempt is recorded and the event waits in the outbox.
    receiver.set_mode("down");
    let account = desk.create_account("Hooked");
    let id = desk
        .install(
            &account,
            "generic-api-key",
            &["--property", "ApiHost=api.example.com"],
        )
        .to_string();
    desk.run_with_stdin(
        &["account-connectors", "set-authvalue", &id, "--stdin"],
        Some("key-0123456789"),
    )
    .ok();
    let tried = attempts(&desk, &endpoint);
    assert_eq!(tried.len(), 1, "{tried:?}");
    assert_eq!(tried[0]["StatusCode"], 503);

    // serve tries while the receiver is down, and is killed (SIGKILL) between attempts.
    let mut first = serve(&desk);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while attempts(&desk, &endpoint).len() < 3 {
        assert!(std::time::Instant::now() < deadline, "serve never tried");
        std::thread::sleep(Duration::from_millis(100));
    }
    first.kill().unwrap();
    first.wait().unwrap();
    let tried = attempts(&desk, &endpoint);
    assert!(
        tried
            .iter()
            .all(|a| a["StatusCode"] == 503 && a["NextRetryAt"].is_string()),
        "{tried:?}"
    );
    // Another event meanwhile (a disconnect), and the receiver back.
    desk.run(&["account-connectors", "disconnect", &id]).ok();
    receiver.set_mode("up");
    let mut second = serve(&desk);
    let got = receiver.wait_for(Duration::from_secs(20), |r| r.len() >= 2);
    std::thread::sleep(Duration::from_millis(1500));
    let (all, refused, _) = receiver.received();
    second.kill().unwrap();
    second.wait().unwrap();
    assert_eq!(all.len(), 2, "each event once: {all:?}");
    assert_eq!(refused, 0);
    let kinds: Vec<&str> = got
        .iter()
        .map(|r| r.event["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "account_connector.authenticated",
            "account_connector.disconnected"
        ]
    );
    assert_eq!(got[0].event["data"]["AccountConnectorId"].to_string(), id);
    // With the receiver up and no server running, a command's own event arrives before the
    // command exits.
    desk.run_with_stdin(
        &["account-connectors", "set-authvalue", &id, "--stdin"],
        Some("key-9876543210"),
    )
    .ok();
    let (now, _, _) = receiver.received();
    assert_eq!(now.len(), 3, "{now:?}");
    assert_eq!(now[2].event["type"], "account_connector.authenticated");
    let removed = desk.run(&["webhooks", "remove", &endpoint]).ok();
    assert!(removed.contains(&endpoint), "{removed}");
}
