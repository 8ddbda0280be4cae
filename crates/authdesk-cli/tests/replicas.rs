//! A team server: several `authdesk serve` replicas sharing one PostgreSQL database, behind
//! no load balancer in particular (each request goes to whichever replica the test picks).
//! Real components: Debian's PostgreSQL (a throwaway cluster, `scripts/pg-cluster.sh`,
//! named by `AUTHDESK_TEST_PG_CLUSTER`; scripts/test.sh starts it) and oidc-provider.

mod common;
mod team;
#[path = "../../authdesk-core/tests/support/webhook_receiver.rs"]
mod webhook_receiver;

use std::process::{Command, Stdio};
use std::sync::Arc;

use authdesk_core::{Authdesk, InstallRequest, KeySource, OpenOptions};
use serde_json::{json, Value};
use team::oidc::{sign_in, OidcOptions, OidcServer};
use team::*;

/// A sign-in token for the team's account, asked of the replica at `base` (with `Host` set
/// when the replica answers to a public URL).
async fn sign_in_token(
    http: &reqwest::Client,
    base: &str,
    host: Option<&str>,
    team: &Team,
) -> String {
    let mut request = http.post(format!("{base}/v1.0/accounts/{}/signintoken", team.account));
    if let Some(host) = host {
        request = request.header("Host", host);
    }
    let r = request
        .bearer_auth(&team.api_key)
        .json(&json!({"Username": "someone"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json::<Value>().await.unwrap()["Token"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The browser flow's link (path and query) for account connector `id`, returning to the
/// partner's allowed origin.
fn connectorauth(id: i64, token: &str) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("id", &id.to_string())
        .append_pair("token", token)
        .append_pair("targetOrigin", "https://partner.example/done")
        .finish();
    format!("/connectorauth/updateaccountconnectoroauth?{query}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_calls_over_three_replicas_refresh_each_expired_credential_once() {
    let server = OidcServer::start(OidcOptions {
        access_ttl_secs: 3600,
        rotate_refresh: true,
    });
    let team = Team::new(&server, 100).await;
    let before = tokens_of(&team.desk, &team.ids);
    team.expire_all();
    let replicas: Vec<Replica> = (0..3).map(|n| team.replica(n)).collect();
    server.reset_stats().await;

    let http = reqwest::Client::new();
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..1000 {
        let (http, base, key, account) = (
            http.clone(),
            replicas[i % 3].base.clone(),
            team.api_key.clone(),
            team.account.clone(),
        );
        let id = team.ids[i % team.ids.len()];
        calls.spawn(async move {
            // A replica whose database pool stayed busy past its wait answers 503 with
            // Retry-After (seen once in a thousand on a loaded 2-core machine); a partner's
            // client tries again, and so does this one, at most twice.
            let mut retried = 0;
            loop {
                let outcome = call(&http, &base, &key, &account, id).await;
                match outcome {
                    Ok((503, _)) if retried < 2 => {
                        retried += 1;
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    }
                    outcome => return (id, outcome, retried),
                }
            }
        });
    }
    let mut failures = vec![];
    let mut retries = 0;
    while let Some(done) = calls.join_next().await {
        let (id, outcome, retried) = done.unwrap();
        retries += retried;
        match outcome {
            Ok((200, body)) if body["Status"] == 200 => {}
            other => failures.push(format!("{id}: {other:?}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} calls failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    if retries > 0 {
        eprintln!("{retries} of 1000 calls were answered 503 (Retry-After) once and tried again");
    }
    let stats = server.stats().await;
    assert_eq!(
        stats["grants"]["refresh_token"], 100,
        "exactly one refresh per expired credential across the replicas: {stats}"
    );

    // No token in plaintext in the database or in any replica's log.
    let after = tokens_of(&team.desk, &team.ids);
    let dump = pg_dump(team.url());
    let logs: String = replicas.iter().map(Replica::drain_log).collect();
    for t in before.iter().chain(&after) {
        assert!(!contains(&dump, t), "a token is in plaintext in pg_dump");
        assert!(!logs.contains(t.as_str()), "a token is in a replica's log");
    }
    assert!(
        !contains(&dump, "authdesk-web-secret"),
        "the client secret is in pg_dump"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_token_used_on_every_replica_at_once_works_once() {
    let server = OidcServer::start(OidcOptions::default());
    let team = Team::new(&server, 1).await;
    team.desk
        .allow_origin(
            authdesk_core::settings::OriginPurpose::Target,
            "https://partner.example",
        )
        .unwrap();
    let replicas: Vec<Replica> = (0..3).map(|n| team.replica(n)).collect();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let token = sign_in_token(&http, &replicas[0].base, None, &team).await;
    let mut uses = tokio::task::JoinSet::new();
    for i in 0..30 {
        let url = format!(
            "{}{}",
            replicas[i % 3].base,
            connectorauth(team.ids[0], &token)
        );
        let http = http.clone();
        uses.spawn(async move {
            let r = http.get(url).send().await.unwrap();
            r.headers()
                .get("location")
                .map(|l| l.to_str().unwrap().to_string())
                .unwrap_or_default()
        });
    }
    let mut to_provider = 0;
    let mut refused = 0;
    while let Some(l) = uses.join_next().await {
        let l = l.unwrap();
        if l.starts_with(&server.issuer) {
            to_provider += 1;
        } else if l.starts_with("https://partner.example/done") && l.contains("error=access_denied")
        {
            refused += 1;
        }
    }
    assert_eq!((to_provider, refused), (1, 29), "exactly one use succeeds");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_api_key_is_rotated_on_every_replica_at_once() {
    let server = OidcServer::start(OidcOptions::default());
    let team = Team::new(&server, 0).await;
    let replicas: Vec<Replica> = (0..2).map(|n| team.replica(n)).collect();
    let http = reqwest::Client::new();
    let accounts = |base: &str, key: &str| {
        http.get(format!("{base}/v1.0/accounts"))
            .bearer_auth(key.to_string())
            .send()
    };
    for r in &replicas {
        assert_eq!(
            accounts(&r.base, &team.api_key).await.unwrap().status(),
            200
        );
    }
    let out = Command::new(env!("CARGO_BIN_EXE_authdesk"))
        .args(["api-key", "--rotate"])
        .env("AUTHDESK_DATABASE_URL", team.url())
        .env("AUTHDESK_VAULT_KEY_FILE", &team.key)
        .env("AUTHDESK_DATA_DIR", team.dir.path().join("cli"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let new_key = String::from_utf8(out.stdout).unwrap().trim().to_string();
    for r in &replicas {
        assert_eq!(
            accounts(&r.base, &team.api_key).await.unwrap().status(),
            401,
            "old key on {}",
            r.base
        );
        assert_eq!(
            accounts(&r.base, &new_key).await.unwrap().status(),
            200,
            "new key on {}",
            r.base
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_with_another_data_key_refuses_to_start() {
    let server = OidcServer::start(OidcOptions::default());
    let team = Team::new(&server, 1).await;
    let other_key = team.dir.path().join("other.key");
    // A valid key, not the team's.
    drop(
        Authdesk::open(OpenOptions {
            data_dir: team.dir.path().join("elsewhere"),
            database: None,
            key_source: KeySource::File(other_key.clone()),
            clock: Arc::new(chrono::Utc::now),
        })
        .unwrap()
        .vault()
        .unwrap(),
    );
    let out = Command::new(env!("CARGO_BIN_EXE_authdesk"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("AUTHDESK_DATABASE_URL", team.url())
        .env("AUTHDESK_VAULT_KEY_FILE", &other_key)
        .env("AUTHDESK_DATA_DIR", team.dir.path().join("wrong"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("key"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_killed_in_the_middle_of_a_refresh_storm_loses_nothing() {
    // Refresh tokens stay valid when used (no rotation): a refresh the killed replica got
    // but never stored costs one more refresh elsewhere, never the credential.
    let server = OidcServer::start(OidcOptions {
        access_ttl_secs: 3600,
        rotate_refresh: false,
    });
    let team = Team::new(&server, 100).await;
    team.expire_all();
    let mut replicas: Vec<Replica> = (0..3).map(|n| team.replica(n)).collect();
    let bases: Vec<String> = replicas.iter().map(|r| r.base.clone()).collect();
    server.reset_stats().await;

    let http = reqwest::Client::new();
    let started = std::time::Instant::now();
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..1000 {
        let (http, bases, key, account) = (
            http.clone(),
            bases.clone(),
            team.api_key.clone(),
            team.account.clone(),
        );
        let id = team.ids[i % team.ids.len()];
        calls.spawn(async move {
            // As a load balancer would: a replica that does not answer, or answers 503 (its
            // database connections briefly held up while the killed replica's session is
            // torn down), is replaced by the next.
            let mut last = String::new();
            for attempt in 0..3 {
                match call(&http, &bases[(i + attempt) % 3], &key, &account, id).await {
                    Ok((200, body)) if body["Status"] == 200 => return Ok(attempt > 0),
                    Ok((503, body)) => last = format!("503 {body}"),
                    Ok(other) => return Err(format!("{id}: {other:?}")),
                    Err(e) => last = e,
                }
            }
            Err(format!("{id}: no replica answered: {last}"))
        });
    }
    // Kill replica 0 once the storm is under way (refreshes in flight).
    let mut done = 0;
    let mut failures = vec![];
    let mut moved = 0;
    while let Some(outcome) = calls.join_next().await {
        match outcome.unwrap() {
            Ok(retried) => moved += retried as usize,
            Err(e) => failures.push(e),
        }
        done += 1;
        if done == 50 {
            replicas[0].kill();
        }
    }
    let storm = started.elapsed();
    assert!(
        failures.is_empty(),
        "{} calls failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert!(
        moved > 0,
        "the kill came after the storm: no call had to move to another replica"
    );
    // The killed replica's leases did not hold the others up until they expired (60 s).
    assert!(
        storm < std::time::Duration::from_secs(30),
        "the storm took {storm:?}"
    );
    let refreshes = server.stats().await["grants"]["refresh_token"]
        .as_u64()
        .unwrap();
    eprintln!("storm {storm:?}, {moved} calls moved to another replica, {refreshes} refreshes");
    assert!(
        (100..=134).contains(&refreshes),
        "one refresh per credential, plus at most one per lease the killed replica held: {refreshes}"
    );
    // Nothing half-written: every credential is authenticated, with a token that works.
    for &id in &team.ids {
        let ac = team.desk.get_account_connector(id).unwrap();
        assert_eq!(ac.status, authdesk_core::AuthStatus::Authenticated, "{id}");
        let (status, body) = call(&http, &bases[1], &team.api_key, &team.account, id)
            .await
            .unwrap();
        assert!(status == 200 && body["Status"] == 200, "{id}: {body}");
    }
    assert_eq!(
        server.stats().await["grants"]["refresh_token"]
            .as_u64()
            .unwrap(),
        refreshes,
        "the stored tokens were fresh"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_replica_runs_the_keep_alive_and_each_credential_is_refreshed_once() {
    let server = OidcServer::start(OidcOptions {
        access_ttl_secs: 3600,
        rotate_refresh: true,
    });
    let team = Team::new(&server, 30).await;
    team.expire_all();
    server.reset_stats().await;
    let _replicas: Vec<Replica> = (0..3)
        .map(|n| Replica::start_with(&team, n, &["--keep-alive-every", "1"]))
        .collect();
    let fresh = || {
        team.ids
            .iter()
            .filter(|&&id| {
                team.desk
                    .get_account_connector(id)
                    .unwrap()
                    .expires_at
                    .is_some_and(|e| e > chrono::Utc::now())
            })
            .count()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(40);
    while fresh() < team.ids.len() {
        assert!(
            std::time::Instant::now() < deadline,
            "the keep-alive refreshed {} of 30",
            fresh()
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    // A few more passes on every replica: nothing is due any more.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let stats = server.stats().await;
    assert_eq!(
        stats["grants"]["refresh_token"], 30,
        "one refresh per credential: {stats}"
    );
    assert_eq!(
        stats["errors"]["invalid_grant"].as_u64().unwrap_or(0),
        0,
        "no stale refresh token used: {stats}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_started_on_one_replica_completes_on_another() {
    let server = OidcServer::start(OidcOptions::default());
    let team = Team::new(&server, 1).await;
    // A new account connector, not signed in yet.
    let id = team
        .desk
        .install(
            &team.account,
            "team-provider",
            InstallRequest {
                name: "new customer".into(),
                ..Default::default()
            },
        )
        .unwrap()
        .id;
    team.desk
        .allow_origin(
            authdesk_core::settings::OriginPurpose::Target,
            "https://partner.example",
        )
        .unwrap();
    // Both replicas behind one public address (the redirect URI registered at the provider).
    let public = ["--public-url", "http://127.0.0.1:8788"];
    let (a, b) = (
        Replica::start_with(&team, 0, &public),
        Replica::start_with(&team, 1, &public),
    );
    // One browser: its binding cookie (set by A) goes to B with the callback (cookies are
    // per host, not per port).
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap();
    let to = |replica: &Replica, path_and_query: &str| {
        http.get(format!("{}{path_and_query}", replica.base))
            .header("Host", "127.0.0.1:8788")
    };
    let token = sign_in_token(&http, &a.base, Some("127.0.0.1:8788"), &team).await;
    let r = to(&a, &connectorauth(id, &token)).send().await.unwrap();
    let authorize = r.headers()["location"].to_str().unwrap().to_string();
    assert!(authorize.starts_with(&server.issuer), "{authorize}");
    assert!(
        authorize.contains(
            &url::form_urlencoded::byte_serialize(b"http://127.0.0.1:8788/connector/callback")
                .collect::<String>()
        ),
        "the redirect URI is the public one: {authorize}"
    );
    // The provider sends the browser back to the public address; the load balancer picks B.
    let callback = sign_in(&authorize, "dora").await;
    let callback = url::Url::parse(&callback).unwrap();
    let r = to(
        &b,
        &format!("{}?{}", callback.path(), callback.query().unwrap()),
    )
    .send()
    .await
    .unwrap();
    let done = r.headers()["location"].to_str().unwrap().to_string();
    assert!(
        done.starts_with("https://partner.example/done") && !done.contains("error"),
        "{done}"
    );
    assert_eq!(
        team.desk.get_account_connector(id).unwrap().status,
        authdesk_core::AuthStatus::Authenticated
    );
    // Another Host is refused by a replica with a public URL.
    let r = http
        .get(format!("{}/v1.0/accounts", a.base))
        .bearer_auth(&team.api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 421);
}

#[test]
fn a_desktop_is_handed_over_to_a_team_server_with_its_secrets_resealed() {
    // A consultant's desk (SQLite, the data key in gnome-keyring).
    let mut desk = common::Desk::new();
    let account = desk.create_account("Customer A");
    desk.run_with_stdin(
        &[
            "connectors",
            "set-client",
            "github",
            "--client-id",
            "gh-app",
            "--client-secret-stdin",
        ],
        Some("gh-app-secret-CANARY1"),
    )
    .ok();
    let stripe = desk.install(&account, "stripe", &[]);
    desk.run_with_stdin(
        &[
            "account-connectors",
            "set-authvalue",
            &stripe.to_string(),
            "--stdin",
        ],
        Some("sk_test_CANARY2"),
    )
    .ok();
    let github = desk.install(&account, "github", &[]);
    desk.run_with_stdin(
        &["account-connectors", "set-authvalue", &github.to_string(), "--stdin"],
        Some(r#"{"AccessToken":"gho_CANARY3","RefreshToken":"ghr_CANARY4","Expires":"2099-01-01T00:00:00Z"}"#),
    )
    .ok();
    let api_key = desk.run(&["api-key"]).ok().trim().to_string();
    desk.run(&["origins", "add", "https://partner.example"])
        .ok();
    let history_before = desk.run(&["--json", "history", &github.to_string()]).json();

    let database = fresh_database();
    let key = desk.dir.path().join("server.key");
    // The URL (with its password) from the environment, out of the process list.
    desk.env
        .push(("AUTHDESK_MIGRATE_TO_URL".into(), database.clone()));
    let report = desk
        .run(&["--json", "migrate", "--to-key-file", key.to_str().unwrap()])
        .json();
    assert_eq!(report["Accounts"], 1, "{report}");
    assert_eq!(report["AccountConnectors"], 2, "{report}");
    // Two tokens, an API key, a client secret, the API key setting.
    assert_eq!(report["Secrets"], 5, "{report}");

    // The team server's view: the same data, opened with the server's key only.
    let server = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_authdesk"))
            .args(args)
            .env("AUTHDESK_DATABASE_URL", &database)
            .env("AUTHDESK_VAULT_KEY_FILE", &key)
            .env("AUTHDESK_DATA_DIR", desk.dir.path().join("server"))
            // No keychain: the server has only its key file.
            .env(
                "DBUS_SESSION_BUS_ADDRESS",
                "unix:path=/nonexistent/authdesk-test-bus",
            )
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "authdesk {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let reveal = |id: i64| -> Value {
        serde_json::from_str(&server(&["--json", "inspect", &id.to_string(), "--reveal"])).unwrap()
    };
    let secret = |i: &Value, field: &str| {
        i["Secrets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["Field"] == field)
            .unwrap()["Value"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(secret(&reveal(stripe), "ApiKey"), "sk_test_CANARY2");
    let g = reveal(github);
    assert_eq!(secret(&g, "AccessToken"), "gho_CANARY3");
    assert_eq!(secret(&g, "RefreshToken"), "ghr_CANARY4");
    assert_eq!(server(&["api-key"]).trim(), api_key);
    assert!(server(&["origins", "list"]).contains("https://partner.example"));
    let status = server(&["vault", "status"]);
    assert!(
        status.contains("Database:       PostgreSQL postgres://"),
        "{status}"
    );
    assert!(status.contains("the key file"), "{status}");
    let history_after: Value =
        serde_json::from_str(&server(&["--json", "history", &github.to_string()])).unwrap();
    assert_eq!(history_after, history_before);
    // New rows continue after the copied ids.
    let third: Value = serde_json::from_str(&server(&[
        "--json",
        "account-connectors",
        "install",
        &account,
        "github",
        "--name",
        "third",
    ]))
    .unwrap();
    assert!(third["Id"].as_i64().unwrap() > github, "{third}");

    // No secret in plaintext in the database.
    let dump = pg_dump(&database);
    for canary in ["CANARY1", "CANARY2", "CANARY3", "CANARY4", api_key.as_str()] {
        assert!(
            !contains(&dump, canary),
            "{canary} is in plaintext in pg_dump"
        );
    }
    // A second hand-over into the same database is refused, and changes nothing.
    let again = desk
        .run(&[
            "migrate",
            "--to",
            &database,
            "--to-key-file",
            key.to_str().unwrap(),
        ])
        .fails();
    assert!(again.contains("already holds Authdesk data"), "{again}");
    assert!(!again.contains("CANARY"), "{again}");
}

#[test]
fn a_replica_reconnects_after_postgresql_drops_its_connection() {
    let database = fresh_database();
    let dir = tempfile::tempdir().unwrap();
    let desk = Authdesk::open(OpenOptions {
        data_dir: dir.path().join("d"),
        database: Some(database.clone()),
        key_source: KeySource::File(dir.path().join("k")),
        clock: Arc::new(chrono::Utc::now),
    })
    .unwrap();
    desk.create_account(authdesk_core::NewAccount {
        name: "Before".into(),
        ..Default::default()
    })
    .unwrap();
    // The server ends every other session on the database (a restart, a failover, an
    // idle-connection reaper).
    sql(
        &database,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    );
    std::thread::sleep(std::time::Duration::from_millis(200));
    // Reads and new transactions go to a new connection, no error seen.
    assert_eq!(desk.list_accounts().unwrap().len(), 1);
    sql(
        &database,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    );
    desk.create_account(authdesk_core::NewAccount {
        name: "After".into(),
        ..Default::default()
    })
    .unwrap();
    let names: Vec<String> = desk
        .list_accounts()
        .unwrap()
        .into_iter()
        .map(|a| a.name)
        .collect();
    assert_eq!(names, vec!["After", "Before"]);
}

/// A throwaway cluster with TLS on (scripts/pg-cluster.sh start-tls, or start-mtls for
/// client certificates too), stopped on drop.
struct TlsCluster {
    dir: tempfile::TempDir,
    port: String,
}

impl TlsCluster {
    fn start(how: &str) -> TlsCluster {
        let dir = tempfile::tempdir().unwrap();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/pg-cluster.sh");
        let out = Command::new(script)
            .arg(how)
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let url = url::Url::parse(String::from_utf8(out.stdout).unwrap().trim()).unwrap();
        TlsCluster {
            port: url.port().unwrap().to_string(),
            dir,
        }
    }

    fn url(&self, host: &str, query: &str) -> String {
        format!("postgres://authdesk@{host}:{}/postgres?{query}", self.port)
    }

    fn file(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    fn ca(&self) -> String {
        self.file("ca.pem")
    }
}

impl Drop for TlsCluster {
    fn drop(&mut self) {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/pg-cluster.sh");
        let _ = Command::new(script)
            .arg("stop")
            .arg(self.dir.path())
            .status();
    }
}

#[test]
fn a_team_server_reaches_postgresql_over_verified_tls() {
    let cluster = TlsCluster::start("start-tls");
    let dir = tempfile::tempdir().unwrap();
    let open = |database: String| {
        Authdesk::open(OpenOptions {
            data_dir: dir.path().join("d"),
            database: Some(database),
            key_source: KeySource::File(dir.path().join("k")),
            clock: Arc::new(chrono::Utc::now),
        })
    };
    let ca = cluster.ca();
    // Verified: the certificate chains to the given CA and names the host.
    let desk = open(cluster.url(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    ))
    .unwrap();
    desk.create_account(authdesk_core::NewAccount {
        name: "Over TLS".into(),
        ..Default::default()
    })
    .unwrap();
    // The server sees the desk's sessions encrypted (asked over a plain session of our own).
    let plain = format!("postgres://authdesk@127.0.0.1:{}/postgres", cluster.port);
    let (encrypted, sessions) = std::thread::spawn(move || {
        let mut c = postgres::Client::connect(&plain, postgres::NoTls).unwrap();
        let row = c
            .query_one(
                "SELECT bool_and(s.ssl), count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
                 WHERE a.backend_type = 'client backend' AND a.pid <> pg_backend_pid()",
                &[],
            )
            .unwrap();
        (row.get::<_, Option<bool>>(0), row.get::<_, i64>(1))
    })
    .join()
    .unwrap();
    assert!(
        sessions > 0 && encrypted == Some(true),
        "{sessions} sessions, TLS: {encrypted:?}"
    );
    drop(desk);
    // Not trusted: the system's CAs do not know this one.
    let e = open(cluster.url("localhost", "sslmode=verify-full"))
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("cannot connect to PostgreSQL") && e.contains("certificate"),
        "{e}"
    );
    // The certificate names "localhost", not 127.0.0.1: verify-full refuses, verify-ca
    // (the chain only) accepts.
    let e = open(cluster.url(
        "127.0.0.1",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    ))
    .err()
    .unwrap()
    .to_string();
    assert!(e.contains("cannot connect to PostgreSQL"), "{e}");
    open(cluster.url("127.0.0.1", &format!("sslmode=verify-ca&sslrootcert={ca}"))).unwrap();
    // Mistakes are named.
    let e = open(cluster.url("localhost", "sslmode=sometimes"))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("sslmode=sometimes is not one of"), "{e}");
    let e = open(cluster.url("localhost", &format!("sslrootcert={ca}")))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("sslrootcert needs sslmode"), "{e}");
}

/// libpq's `sslrootcert`: a file trusts its CAs and nothing else. Here the system's store
/// (`SSL_CERT_FILE`, as OpenSSL reads it) trusts the server's CA, and `sslrootcert` names
/// another CA: verify-ca and verify-full both refuse the server. verify-ca without a file
/// (which would trust any public CA for any name) is refused as a mistake.
#[test]
fn sslrootcert_is_the_only_ca_trusted() {
    let cluster = TlsCluster::start("start-tls");
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("other-ca.pem");
    let made = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=Another CA", "-keyout"])
        .arg(dir.path().join("other-ca.key"))
        .arg("-out")
        .arg(&other)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let other = other.display().to_string();
    let list_accounts = |url: String| {
        Command::new(env!("CARGO_BIN_EXE_authdesk"))
            .args(["accounts", "list", "--json"])
            .env("AUTHDESK_DATABASE_URL", url)
            .env("AUTHDESK_VAULT_KEY_FILE", dir.path().join("key"))
            .env("AUTHDESK_DATA_DIR", dir.path().join("cli"))
            // The system's store trusts the server's CA.
            .env("SSL_CERT_FILE", cluster.ca())
            .output()
            .unwrap()
    };
    // The store is really in use: verify-full through the system's store connects.
    let out = list_accounts(cluster.url("localhost", "sslmode=verify-full"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (host, mode) in [("127.0.0.1", "verify-ca"), ("localhost", "verify-full")] {
        let out = list_accounts(cluster.url(host, &format!("sslmode={mode}&sslrootcert={other}")));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success(),
            "{mode} trusted a CA outside sslrootcert"
        );
        assert!(err.contains("certificate"), "{mode}: {err}");
    }
    let out = list_accounts(cluster.url("127.0.0.1", "sslmode=verify-ca"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("give sslrootcert=PATH"),
        "{err}"
    );
    let out = list_accounts(cluster.url("127.0.0.1", "sslmode=verify-ca&sslrootcert=system"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("sslrootcert=system needs"),
        "{err}"
    );
}

#[test]
fn a_team_server_shows_a_client_certificate_when_postgresql_asks() {
    let cluster = TlsCluster::start("start-mtls");
    let dir = tempfile::tempdir().unwrap();
    let open = |query: String| {
        Authdesk::open(OpenOptions {
            data_dir: dir.path().join("d"),
            database: Some(cluster.url("localhost", &query)),
            key_source: KeySource::File(dir.path().join("k")),
            clock: Arc::new(chrono::Utc::now),
        })
    };
    let verified = format!("sslmode=verify-full&sslrootcert={}", cluster.ca());
    let (cert, key) = (cluster.file("client.pem"), cluster.file("client.key"));
    // Without a certificate the server refuses, in its own words.
    let e = open(verified.clone()).err().unwrap().to_string();
    assert!(
        e.contains("cannot connect to PostgreSQL") && e.contains("certificate"),
        "{e}"
    );
    // With one (named by its user, signed by the cluster's CA) the desk works.
    let desk = open(format!("{verified}&sslcert={cert}&sslkey={key}")).unwrap();
    desk.create_account(authdesk_core::NewAccount {
        name: "With a client certificate".into(),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(desk.list_accounts().unwrap().len(), 1);
    drop(desk);
    // Mistakes are named, and the key's text never shows.
    let e = open(format!("{verified}&sslcert={cert}"))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("sslcert needs sslkey"), "{e}");
    let e = open(format!("sslcert={cert}&sslkey={key}"))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("sslcert needs sslmode"), "{e}");
    let loose = dir.path().join("loose.key");
    std::fs::copy(&key, &loose).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o644)).unwrap();
    let e = open(format!(
        "{verified}&sslcert={cert}&sslkey={}",
        loose.display()
    ))
    .err()
    .unwrap()
    .to_string();
    assert!(
        e.contains("may be read by others") && e.contains("chmod 600"),
        "{e}"
    );
    // A PKCS#1 key gets the command that converts it.
    let pkcs1 = dir.path().join("rsa.key");
    let out = Command::new("openssl")
        .args(["pkey", "-traditional", "-in", &key, "-out"])
        .arg(&pkcs1)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::set_permissions(&pkcs1, std::fs::Permissions::from_mode(0o600)).unwrap();
    let key_text = std::fs::read_to_string(&pkcs1).unwrap();
    let e = open(format!(
        "{verified}&sslcert={cert}&sslkey={}",
        pkcs1.display()
    ))
    .err()
    .unwrap()
    .to_string();
    assert!(e.contains("openssl pkcs8 -topk8"), "{e}");
    let body = key_text.lines().nth(1).unwrap();
    assert!(!e.contains(body) && !format!("{e:?}").contains(body));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_deliver_each_webhook_event_exactly_once() {
    let server = OidcServer::start(OidcOptions::default());
    let team = Team::new(&server, 0).await;
    let receiver = webhook_receiver::Receiver::start();
    let engine =
        authdesk_core::Engine::new(team.desk.clone(), authdesk_core::EngineConfig::default())
            .unwrap();
    let (_, secret) = engine
        .add_webhook(authdesk_core::service::webhooks::NewWebhookEndpoint {
            url: receiver.url(),
            allow_loopback: true,
            ..Default::default()
        })
        .await
        .unwrap();
    receiver.set_secret(secret.expose());
    let replicas: Vec<Replica> = (0..3).map(|n| team.replica(n)).collect();
    // Forty events on twenty account connectors, made while the three replicas deliver.
    for i in 0..20 {
        let id = team
            .desk
            .install(
                &team.account,
                "generic-api-key",
                InstallRequest {
                    name: format!("hooked {i}"),
                    auth_value: Some(authdesk_core::Secret::new(format!(
                        "first-key-{i}-0123456789"
                    ))),
                    properties: vec![authdesk_core::PropertyInput {
                        name: "ApiHost".into(),
                        value: authdesk_core::Secret::new("api.example.com"),
                    }],
                    ..Default::default()
                },
            )
            .unwrap()
            .id;
        team.desk
            .set_auth_value(
                id,
                &authdesk_core::Secret::new(format!("second-key-{i}-0123456789")),
            )
            .unwrap();
    }
    receiver.wait_for(std::time::Duration::from_secs(60), |r| r.len() >= 40);
    // Time for a duplicate to show, if any replica were to send one.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let (got, refused, _) = receiver.received();
    assert_eq!(refused, 0);
    assert_eq!(got.len(), 40, "each event exactly once over three replicas");
    let ids: std::collections::HashSet<_> = got.iter().map(|r| r.id.clone()).collect();
    assert_eq!(ids.len(), 40, "a message delivered twice");
    // Both events of each account connector, in the order they happened.
    let mut seen: std::collections::HashMap<i64, Vec<String>> = Default::default();
    for r in &got {
        seen.entry(r.event["data"]["AccountConnectorId"].as_i64().unwrap())
            .or_default()
            .push(r.event["timestamp"].as_str().unwrap().to_string());
    }
    for stamps in seen.values() {
        assert_eq!(stamps.len(), 2);
        assert!(stamps[0] <= stamps[1], "out of order: {stamps:?}");
    }
    drop(replicas);
}
