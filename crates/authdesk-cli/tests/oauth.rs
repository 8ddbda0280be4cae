//! The OAuth engine through the `authdesk` binary: several processes sharing one data
//! directory, a process killed in the middle of a refresh, and no token in any output or
//! file. Real components: oidc-provider (tests/oidc), gnome-keyring (scripts/test.sh starts
//! it), the loopback sign-in of `authdesk connect`.

mod common;
#[path = "../../authdesk-core/tests/support/oidc.rs"]
mod oidc;

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use common::{contains, files_under, Desk};
use oidc::{sign_in, OidcOptions, OidcServer};
use serde_json::Value;

struct Tokens {
    access: String,
    refresh: String,
}

/// A desk with an account connector signed in through `authdesk connect` (system browser
/// flow with a loopback redirect; the "browser" is the test driving the provider's forms).
async fn connected(server: &OidcServer) -> (Desk, i64) {
    let desk = Desk::new();
    let account = desk.create_account("OAuth Co");
    let def = desk.dir.path().join("test-provider.toml");
    std::fs::write(&def, oidc::test_provider_definition(&server.issuer)).unwrap();
    desk.run(&["connectors", "add", def.to_str().unwrap()]).ok();
    let id = desk.install(
        &account,
        "test-provider",
        &["--property", "ClientId=authdesk-native"],
    );
    desk.run_with_stdin(
        &[
            "account-connectors",
            "set-property",
            &id.to_string(),
            "ClientSecret",
            "--value-stdin",
        ],
        Some("authdesk-native-secret"),
    )
    .ok();
    connect(&desk, id, server, "carol").await;
    (desk, id)
}

/// Runs `authdesk --json connect` and signs in as `login` in the provider's forms.
async fn connect(desk: &Desk, id: i64, server: &OidcServer, login: &str) {
    let mut child = desk
        .command(&[
            "--json",
            "connect",
            &id.to_string(),
            "--no-browser",
            "--timeout",
            "60",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // With --json, stdout carries one JSON document and nothing else: the URL comes on
    // stderr (scripts can parse stdout as JSON).
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut url = String::new();
    while !url.starts_with(&server.issuer) {
        url.clear();
        assert!(
            stderr.read_line(&mut url).unwrap() > 0,
            "connect printed no URL on stderr"
        );
    }
    let callback = sign_in(url.trim(), login).await;
    assert!(callback.starts_with("http://127.0.0.1:"), "{callback}");
    let page = reqwest::get(&callback).await.unwrap();
    assert_eq!(page.status(), 200);
    let status = child.wait().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    assert!(status.success(), "connect failed: {rest}");
    let ac: Value = serde_json::from_str(&rest).unwrap();
    assert_eq!(ac["Status"], "Authenticated");
}

fn tokens(desk: &Desk, id: i64) -> Tokens {
    let i = desk
        .run(&["--json", "inspect", &id.to_string(), "--reveal"])
        .json();
    let get = |field: &str| {
        i["Secrets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["Field"] == field)
            .and_then(|s| s["Value"].as_str())
            .unwrap_or_else(|| panic!("no {field} in {i}"))
            .to_string()
    };
    Tokens {
        access: get("AccessToken"),
        refresh: get("RefreshToken"),
    }
}

/// Stores the same tokens with an access-token expiry in the past.
fn expire(desk: &Desk, id: i64, t: &Tokens) {
    let value = format!(
        r#"{{"AccessToken":"{}","RefreshToken":"{}","Expires":"2000-01-01T00:00:00Z"}}"#,
        t.access, t.refresh
    );
    desk.run_with_stdin(
        &[
            "account-connectors",
            "set-authvalue",
            &id.to_string(),
            "--stdin",
        ],
        Some(&value),
    )
    .ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_sharing_a_data_directory_refresh_once_and_print_no_token() {
    let server = OidcServer::start(OidcOptions {
        access_ttl_secs: 3600,
        rotate_refresh: true,
    });
    let (mut desk, id) = connected(&server).await;
    desk.env.push(("AUTHDESK_LOG".into(), "debug".into()));
    let before = tokens(&desk, id);
    expire(&desk, id, &before);
    server.reset_stats().await;

    let children: Vec<_> = (0..8)
        .map(|_| {
            desk.command(&["--json", "call", &id.to_string(), "userinfo"])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut transcript = String::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        transcript.push_str(&stdout);
        transcript.push_str(&String::from_utf8_lossy(&out.stderr));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let r: Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(r["Status"], 200);
        assert_eq!(r["Body"]["email"], "carol@example.com");
    }
    let stats = server.stats().await;
    assert_eq!(
        stats["grants"]["refresh_token"], 1,
        "exactly one refresh at the provider: {stats}"
    );

    let after = tokens(&desk, id);
    assert_ne!(after.refresh, before.refresh, "rotated");
    let history = desk.run(&["--json", "history", &id.to_string()]).json();
    assert_eq!(history[0]["Kind"], "refreshed");
    assert_eq!(history[0]["Detail"], "refresh token rotated");
    transcript.push_str(&desk.run(&["inspect", &id.to_string()]).ok());
    transcript.push_str(&desk.run(&["history", &id.to_string()]).ok());

    for secret in [
        &before.access,
        &before.refresh,
        &after.access,
        &after.refresh,
    ] {
        assert!(
            !transcript.contains(secret.as_str()),
            "a token was printed or logged:\n{transcript}"
        );
        for f in files_under(&desk.data_dir()) {
            assert!(
                !contains(&std::fs::read(&f).unwrap(), secret),
                "{} holds a token",
                f.display()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_killed_midway_leaves_the_old_or_the_new_credential() {
    // Without rotation the old refresh token stays valid at the provider, so the test can
    // also show that the kept credential still works.
    let server = OidcServer::start(OidcOptions {
        access_ttl_secs: 3600,
        rotate_refresh: false,
    });
    let (desk, id) = connected(&server).await;
    for (point, expect_new) in [
        ("refresh:before_request", false),
        ("refresh:after_response", false),
        ("refresh:after_commit", true),
    ] {
        let old = tokens(&desk, id);
        expire(&desk, id, &old);
        let mut paused = Paused::start(&desk, id, point);
        let child = &mut paused.child;
        child.kill().unwrap(); // SIGKILL: no destructor, no rollback code runs.
        child.wait().unwrap();

        let shown = desk
            .run(&["--json", "account-connectors", "show", &id.to_string()])
            .json();
        assert_eq!(shown["Status"], "Authenticated", "{point}: {shown}");
        let now = tokens(&desk, id);
        if expect_new {
            assert_ne!(
                now.access, old.access,
                "{point}: the committed token is kept"
            );
            assert!(
                shown["ExpiresAt"].as_str().unwrap() > "2001",
                "{point}: {shown}"
            );
        } else {
            assert_eq!(
                (now.access.as_str(), now.refresh.as_str()),
                (old.access.as_str(), old.refresh.as_str()),
                "{point}"
            );
        }
        // The dead process's lease does not block the next caller, and the credential works.
        let r = desk
            .run(&["--json", "call", &id.to_string(), "userinfo"])
            .json();
        assert_eq!(r["Status"], 200, "{point}: {r}");
    }
}

/// A `refresh` process paused at `point` (it waits until `resume` is called).
struct Paused {
    child: std::process::Child,
    stderr: BufReader<std::process::ChildStderr>,
    resume_file: std::path::PathBuf,
}

impl Paused {
    fn start(desk: &Desk, id: i64, point: &str) -> Paused {
        Paused::running(desk, &["--json", "refresh", &id.to_string()], point)
    }

    /// The command `args` paused at `point`.
    fn running(desk: &Desk, args: &[&str], point: &str) -> Paused {
        Paused::spawn(desk, args, Some(point), "test pause at")
    }

    /// The command `args` once it has printed `marker` on stderr (held at `point`, if any).
    fn spawn(desk: &Desk, args: &[&str], point: Option<&str>, marker: &str) -> Paused {
        let resume_file = desk.dir.path().join(format!(
            "resume-{}",
            point.unwrap_or("none").replace(':', "-")
        ));
        let _ = std::fs::remove_file(&resume_file);
        let mut command = desk.command(args);
        if let Some(point) = point {
            command
                .env("AUTHDESK_TEST_PAUSE_AT", point)
                .env("AUTHDESK_TEST_RESUME_FILE", &resume_file);
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        while !line.contains(marker) {
            line.clear();
            assert!(
                stderr.read_line(&mut line).unwrap() > 0,
                "{args:?}: the process ended before printing {marker:?}"
            );
        }
        Paused {
            child,
            stderr,
            resume_file,
        }
    }

    /// Lets it go on; returns (exit success, stdout, stderr).
    fn resume(mut self) -> (bool, String, String) {
        std::fs::write(&self.resume_file, b"").unwrap();
        let mut err = String::new();
        std::io::Read::read_to_string(&mut self.stderr, &mut err).unwrap();
        let out = self.child.wait_with_output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            err,
        )
    }
}

fn history_kinds(desk: &Desk, id: i64) -> Vec<(String, String)> {
    desk.run(&["--json", "history", &id.to_string(), "--limit", "50"])
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["Kind"].as_str().unwrap_or_default().to_string(),
                e["Detail"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disconnect_during_a_refresh_is_not_undone() {
    let server = OidcServer::start(OidcOptions {
        access_ttl_secs: 3600,
        rotate_refresh: true,
    });
    let (desk, id) = connected(&server).await;
    let old = tokens(&desk, id);
    expire(&desk, id, &old);
    server.reset_stats().await;
    // The provider has answered (and rotated) when the user disconnects.
    let paused = Paused::start(&desk, id, "refresh:after_response");
    desk.run(&["account-connectors", "disconnect", &id.to_string()])
        .ok();
    let (ok, _, err) = paused.resume();
    assert!(
        !ok,
        "the refresh cannot succeed on a disconnected credential: {err}"
    );
    let shown = desk
        .run(&["--json", "account-connectors", "show", &id.to_string()])
        .json();
    assert_eq!(shown["Status"], "NotAuthenticated", "{shown}");
    assert_eq!(shown["SecretsSet"], serde_json::json!([]), "{shown}");
    let history = history_kinds(&desk, id);
    let discarded = history
        .iter()
        .find(|(k, _)| k == "refresh_discarded")
        .unwrap_or_else(|| panic!("no refresh_discarded in {history:?}"));
    assert!(
        discarded.1.contains("refresh token revoked"),
        "{discarded:?}"
    );
    // Revoked: the disconnect's two tokens and the refresh's two new ones.
    let stats = server.stats().await;
    assert_eq!(stats["revocations"], 4, "{stats}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_during_a_refresh_wins() {
    let server = OidcServer::start(OidcOptions {
        access_ttl_secs: 3600,
        rotate_refresh: true,
    });
    let (desk, id) = connected(&server).await;
    let old = tokens(&desk, id);
    expire(&desk, id, &old);
    let paused = Paused::start(&desk, id, "refresh:after_response");
    connect(&desk, id, &server, "dave").await;
    let dave = tokens(&desk, id);
    let (ok, out, err) = paused.resume();
    assert!(ok, "the refresh gives back the new sign-in's token: {err}");
    let shown: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(shown["Status"], "Authenticated");
    let now = tokens(&desk, id);
    assert_eq!(
        (now.access.as_str(), now.refresh.as_str()),
        (dave.access.as_str(), dave.refresh.as_str()),
        "the refresh of the old grant overwrote the new sign-in"
    );
    let r = desk
        .run(&["--json", "call", &id.to_string(), "userinfo"])
        .json();
    assert_eq!(r["Body"]["email"], "dave@example.com");
    assert!(history_kinds(&desk, id)
        .iter()
        .any(|(k, _)| k == "refresh_discarded"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_invalid_grant_does_not_spoil_a_new_sign_in() {
    let server = OidcServer::start(OidcOptions {
        access_ttl_secs: 3600,
        rotate_refresh: true,
    });
    let (desk, id) = connected(&server).await;
    let old = tokens(&desk, id);
    expire(&desk, id, &old);
    // The refresh is about to send the old grant's refresh token...
    let paused = Paused::start(&desk, id, "refresh:before_request");
    // ...which dies at the provider, and the user signs in again meanwhile.
    let r = reqwest::Client::new()
        .post(format!("{}/token/revocation", server.issuer))
        .basic_auth("authdesk-native", Some("authdesk-native-secret"))
        .form(&[
            ("token", old.refresh.as_str()),
            ("token_type_hint", "refresh_token"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    connect(&desk, id, &server, "erin").await;
    let (ok, _, err) = paused.resume();
    assert!(ok, "{err}");
    let shown = desk
        .run(&["--json", "account-connectors", "show", &id.to_string()])
        .json();
    assert_eq!(shown["Status"], "Authenticated", "{shown}");
    assert!(
        !history_kinds(&desk, id)
            .iter()
            .any(|(k, _)| k == "needs_reauth"),
        "the old grant's invalid_grant marked the new sign-in"
    );
    let r = desk
        .run(&["--json", "call", &id.to_string(), "userinfo"])
        .json();
    assert_eq!(r["Body"]["email"], "erin@example.com");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_lived_tokens_are_refreshed_once_for_forty_calls_in_eight_processes() {
    // 10-second access tokens: the old fixed 60 s margin refreshed on every call.
    let server = OidcServer::start(OidcOptions {
        access_ttl_secs: 10,
        rotate_refresh: true,
    });
    let (desk, id) = connected(&server).await;
    let old = tokens(&desk, id);
    expire(&desk, id, &old);
    server.reset_stats().await;
    let started = std::time::Instant::now();
    let lanes: Vec<_> = (0..8)
        .map(|_| {
            let cmd = desk.command(&["--json", "call", &id.to_string(), "userinfo"]);
            let program = cmd.get_program().to_owned();
            let args: Vec<_> = cmd.get_args().map(|a| a.to_owned()).collect();
            let envs: Vec<_> = cmd
                .get_envs()
                .map(|(k, v)| (k.to_owned(), v.map(|v| v.to_owned())))
                .collect();
            std::thread::spawn(move || {
                for _ in 0..5 {
                    let mut c = std::process::Command::new(&program);
                    c.args(&args);
                    for (k, v) in &envs {
                        match v {
                            Some(v) => c.env(k, v),
                            None => c.env_remove(k),
                        };
                    }
                    let out = c.stdin(Stdio::null()).output().unwrap();
                    assert!(
                        out.status.success(),
                        "{}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
                    assert_eq!(r["Status"], 200);
                }
            })
        })
        .collect();
    for lane in lanes {
        lane.join().unwrap();
    }
    let elapsed = started.elapsed();
    let stats = server.stats().await;
    assert_eq!(
        stats["grants"]["refresh_token"], 1,
        "exactly one refresh for 40 calls after expiry: {stats}"
    );
    eprintln!("40 calls in 8 processes after expiry: {elapsed:?}, 1 refresh");
    // The margin is visible, and a quarter of the 10 s lifetime at most.
    let i = desk.run(&["--json", "inspect", &id.to_string()]).json();
    let margin = i["RefreshMarginSeconds"].as_i64().unwrap();
    assert!((0..=3).contains(&margin), "{i}");
    assert!(i["RefreshDueAt"].is_string(), "{i}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_after_the_provider_answered_keeps_the_rotated_refresh_token() {
    let server = OidcServer::start(OidcOptions {
        access_ttl_secs: 3600,
        rotate_refresh: true,
    });
    let (desk, id) = connected(&server).await;
    // Ctrl-C while the rotated refresh token is only in memory.
    let (ok, err) = signalled_after_the_provider_answered(
        &desk,
        id,
        &["--json", "refresh", &id.to_string()],
        "INT",
    );
    assert!(!ok, "interrupted: {err}");
    assert!(err.contains("interrupted"), "{err}");
    // And it keeps working: the next refresh uses the stored (rotated) token.
    desk.run(&["refresh", &id.to_string()]).ok();
}

/// `kill -<name>` the process.
fn send_signal(child: &std::process::Child, name: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Runs `args` on the expired credential, sends it `signal` once the provider has answered
/// the refresh (and rotated the refresh token), lets it go on, and checks the rotated token
/// was kept and works. Answers (exit success, stderr).
fn signalled_after_the_provider_answered(
    desk: &Desk,
    id: i64,
    args: &[&str],
    signal: &str,
) -> (bool, String) {
    let old = tokens(desk, id);
    expire(desk, id, &old);
    let paused = Paused::running(desk, args, "refresh:after_response");
    send_signal(&paused.child, signal);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let (ok, _, err) = paused.resume();
    let now = tokens(desk, id);
    assert_ne!(
        now.refresh, old.refresh,
        "the rotated refresh token was lost: {err}"
    );
    let r = desk
        .run(&["--json", "call", &id.to_string(), "userinfo"])
        .json();
    assert_eq!(r["Status"], 200, "{r}");
    (ok, err)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_serve_like_ctrl_c_after_the_refresh_in_flight_commits() {
    // systemd, Docker and Kubernetes stop a service with SIGTERM.
    let server = OidcServer::start(OidcOptions {
        access_ttl_secs: 3600,
        rotate_refresh: true,
    });
    let (desk, id) = connected(&server).await;
    let serve = [
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--keep-alive-every",
        "1",
    ];

    // Nothing in flight: it stops at once, and says so.
    let running = Paused::spawn(&desk, &serve, None, "listening on");
    let asked = std::time::Instant::now();
    send_signal(&running.child, "TERM");
    let (ok, _, err) = running.resume();
    assert!(ok, "serve did not end cleanly on SIGTERM: {err}");
    assert!(err.contains("Authdesk API stopped (SIGTERM)"), "{err}");
    assert!(asked.elapsed() < std::time::Duration::from_secs(5));

    // Its keep-alive refreshing the expired credential, held once the provider answered
    // (and rotated the refresh token): SIGTERM waits for the commit.
    let (ok, err) = signalled_after_the_provider_answered(&desk, id, &serve, "TERM");
    assert!(ok, "serve did not end cleanly on SIGTERM: {err}");
    assert!(err.contains("Authdesk API stopped (SIGTERM)"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connector_is_discovered_from_its_issuer() {
    let server = OidcServer::start(OidcOptions::default());
    let desk = Desk::new();
    // Printed as TOML to edit...
    let toml = desk
        .run(&["connectors", "discover", &server.issuer, "--id", "found"])
        .ok();
    assert!(
        toml.contains("id = \"found\"") && toml.contains("token_url"),
        "{toml}"
    );
    assert!(desk.run(&["connectors", "show", "found"]).out.status.code() == Some(1));
    // ...or added at once.
    desk.run(&[
        "connectors",
        "discover",
        &server.issuer,
        "--id",
        "found",
        "--add",
    ])
    .ok();
    let shown = desk.run(&["--json", "connectors", "show", "found"]).json();
    assert_eq!(shown["Slug"], "found", "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_sends_any_request_on_the_connectors_origin_with_the_token_and_nowhere_else() {
    let server = OidcServer::start(OidcOptions {
        access_ttl_secs: 3600,
        rotate_refresh: false,
    });
    let (desk, id) = connected(&server).await;
    let id = id.to_string();
    // The userinfo endpoint answers only with the bearer token applied.
    let r = desk
        .run(&[
            "--json",
            "request",
            &id,
            "get",
            "/me",
            "-H",
            "Accept: application/json",
        ])
        .json();
    assert_eq!(r["Status"], 200, "{r}");
    assert_eq!(r["Body"]["email"], "carol@example.com");
    // A POST with a form body, as typed, to the token endpoint: the server answers.
    let r = desk.run_with_stdin(
        &[
            "--json",
            "request",
            &id,
            "POST",
            &format!("{}/token", server.issuer),
            "-H",
            "Content-Type: application/x-www-form-urlencoded",
            "--data-stdin",
            "--no-fail",
        ],
        Some("grant_type=client_credentials"),
    );
    let r = r.json();
    assert!(r["Status"].as_u64().unwrap() >= 400, "{r}");
    // Another origin, or the auth's own header: refused, one line, exit non-zero.
    let e = desk
        .run(&["request", &id, "GET", "https://attacker.example/steal"])
        .fails();
    assert!(
        e.contains("is not one of connector `test-provider`'s origins"),
        "{e}"
    );
    let e = desk
        .run(&[
            "request",
            &id,
            "GET",
            "/me",
            "-H",
            "authorization: Bearer mine",
        ])
        .fails();
    assert!(e.contains("set by the connector's auth"), "{e}");
    let e = desk
        .run(&["request", &id, "GET", "/me", "-H", "no colon"])
        .fails();
    assert!(e.contains("\"Name: value\""), "{e}");
    // A refusal exits 22, like `call`.
    let r = desk.run(&["request", &id, "GET", "/me/nothing-here"]);
    assert_eq!(r.out.status.code(), Some(22), "{}", r.describe());
}

/// A device-code connector of the test server (its public `authdesk-device` client),
/// installed: its Id.
fn device_connector(desk: &Desk, server: &OidcServer) -> i64 {
    let issuer = &server.issuer;
    let def = desk.dir.path().join("device.toml");
    let text = oidc::device_definition(issuer, "device");
    std::fs::write(&def, text).unwrap();
    desk.run(&["connectors", "add", def.to_str().unwrap()]).ok();
    let account = desk.create_account("Device Co");
    desk.install(
        &account,
        "device",
        &["--property", "ClientId=authdesk-device"],
    )
}

#[tokio::test]
async fn connect_on_a_device_connector_prints_the_code_line_then_the_result_line() {
    let server = OidcServer::start(OidcOptions::default());
    let desk = Desk::new();
    let id = device_connector(&desk, &server);
    let mut child = desk
        .command(&["--json", "connect", &id.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let code: Value = serde_json::from_str(&first).unwrap_or_else(|e| panic!("{e}: {first}"));
    let keys: Vec<&String> = code.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "ExpiresIn",
            "UserCode",
            "VerificationUri",
            "VerificationUriComplete"
        ]
    );
    oidc::approve_device(
        code["VerificationUriComplete"].as_str().unwrap(),
        "dora",
        true,
    )
    .await;
    let status = child.wait().unwrap();
    let mut second = String::new();
    stdout.read_line(&mut second).unwrap();
    assert!(status.success(), "{second}");
    let ac: Value = serde_json::from_str(&second).unwrap_or_else(|e| panic!("{e}: {second}"));
    assert_eq!(ac["Status"], "Authenticated");
    let rest: String = std::io::Read::bytes(stdout)
        .map(|b| b.unwrap() as char)
        .collect();
    assert!(rest.trim().is_empty(), "two lines only: {rest}");

    // Ctrl-C while it waits: exit 130, nothing stored.
    let account = desk.create_account("Device Two");
    let again = desk.install(
        &account,
        "device",
        &["--property", "ClientId=authdesk-device"],
    );
    let mut child = desk
        .command(&["connect", &again.to_string(), "--device"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert!(line.starts_with("To sign in, open "), "{line}");
    send_signal(&child, "INT");
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let shown = desk
        .run(&["--json", "account-connectors", "show", &again.to_string()])
        .json();
    assert_ne!(shown["Status"], "Authenticated");
}
