//! The team server benchmark: `authdesk serve` replicas on one PostgreSQL database next to
//! the same replicas sharing one SQLite data directory, measured in the same run.
//!
//!   cargo bench -p authdesk-cli --bench team
//!
//! Prints, for 1 and 3 replicas on each backend: method calls per second (an API-key
//! connector calling a local HTTP endpoint, so the figure is Authdesk's, not a provider's),
//! sign-in tokens per second, and the wall time of a refresh storm (1,000 calls on 100
//! expired OAuth credentials at oidc-provider). Needs PostgreSQL: AUTHDESK_TEST_PG_CLUSTER,
//! or a throwaway cluster started here with scripts/pg-cluster.sh.

#[path = "../../authdesk-core/benches/support/table.rs"]
mod table;
#[path = "../tests/team/mod.rs"]
mod team;

use std::sync::Arc;
use std::time::Instant;

use authdesk_core::{InstallRequest, Secret};
use serde_json::json;
use team::oidc::{OidcOptions, OidcServer};
use team::{Replica, Team};

const CONCURRENCY: usize = 32;

fn main() {
    let cluster = Cluster::get();
    std::env::set_var("AUTHDESK_TEST_PG_CLUSTER", &cluster.url);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run());
    drop(cluster);
}

async fn run() {
    let target = target_server().await;
    let server = OidcServer::start(OidcOptions {
        access_ttl_secs: 3600,
        rotate_refresh: true,
    });
    println!("team server benchmark: {CONCURRENCY} requests in flight, release build");
    println!(
        "{:<11} {:>8} {:>12} {:>16} {:>15}",
        "backend", "replicas", "calls/s", "sign-in tok/s", "storm (s)"
    );
    let mut rows = vec![];
    for (name, database) in [
        ("SQLite", None),
        ("PostgreSQL", Some(team::fresh_database())),
    ] {
        let team = Team::on(database, &server, 100).await;
        let target_id = install_target(&team, &target);
        for replicas in [1, 3] {
            let running: Vec<Replica> = (0..replicas).map(|n| team.replica(n)).collect();
            let bases: Vec<String> = running.iter().map(|r| r.base.clone()).collect();
            let calls = rate(2000, &bases, |http, base, _| {
                let (key, account) = (team.api_key.clone(), team.account.clone());
                call_ok(http, base, key, account, target_id, "ping")
            })
            .await;
            let tokens = rate(1000, &bases, |http, base, _| {
                let (key, account) = (team.api_key.clone(), team.account.clone());
                async move {
                    let r = http
                        .post(format!("{base}/v1.0/accounts/{account}/signintoken"))
                        .bearer_auth(key)
                        .json(&json!({"Username": "bench"}))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status(), 200);
                }
            })
            .await;
            team.expire_all();
            server.reset_stats().await;
            let ids = team.ids.clone();
            let storm_start = Instant::now();
            rate(1000, &bases, |http, base, i| {
                let (key, account) = (team.api_key.clone(), team.account.clone());
                call_ok(http, base, key, account, ids[i % ids.len()], "userinfo")
            })
            .await;
            let storm = storm_start.elapsed();
            let refreshes = server.stats().await["grants"]["refresh_token"]
                .as_u64()
                .unwrap();
            assert_eq!(refreshes, 100, "one refresh per credential");
            println!(
                "{name:<11} {replicas:>8} {calls:>12.0} {tokens:>16.0} {:>15.2}",
                storm.as_secs_f64()
            );
            rows.push((name, replicas, calls, tokens, storm.as_secs_f64()));
        }
    }
    let find = |b: &str, r: usize| *rows.iter().find(|row| row.0 == b && row.1 == r).unwrap();
    for r in [1, 3] {
        let (s, p) = (find("SQLite", r), find("PostgreSQL", r));
        println!(
            "PostgreSQL/SQLite with {r} replica(s): calls {:.2}x, sign-in tokens {:.2}x, storm time {:.2}x",
            p.2 / s.2,
            p.3 / s.3,
            p.4 / s.4
        );
    }
    let (p1, p3) = (find("PostgreSQL", 1), find("PostgreSQL", 3));
    println!(
        "PostgreSQL 3 replicas / 1: calls {:.2}x, sign-in tokens {:.2}x",
        p3.2 / p1.2,
        p3.3 / p1.3
    );
    let s1 = find("SQLite", 1);
    let per_s = |v: f64| format!("{v:.0}/s");
    for (what, p, s) in [("method calls", p1.2, s1.2), ("sign-in tokens", p1.3, s1.3)] {
        table::row(
            &format!("{what}: one PostgreSQL replica vs the SQLite desktop"),
            &per_s(p),
            &per_s(s),
            Some(p / s),
            table::Goal::AtLeast(0.8),
            0.0,
        );
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    table::row(
        &format!("method calls: 3 PostgreSQL replicas vs 1 ({cores} cores here)"),
        &per_s(p3.2),
        &per_s(p1.2),
        Some(p3.2 / p1.2),
        table::Goal::AtLeast(2.0),
        0.0,
    );
}

/// Requests per second for `total` requests, `CONCURRENCY` in flight, spread over the
/// replicas in turn.
async fn rate<F, Fut>(total: usize, bases: &[String], make: F) -> f64
where
    F: Fn(reqwest::Client, String, usize) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let http = reqwest::Client::new();
    let semaphore = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
    let start = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for i in 0..total {
        let permit = semaphore.clone().acquire_owned().await.unwrap();
        let fut = make(http.clone(), bases[i % bases.len()].clone(), i);
        set.spawn(async move {
            fut.await;
            drop(permit);
        });
    }
    while let Some(r) = set.join_next().await {
        r.unwrap();
    }
    total as f64 / start.elapsed().as_secs_f64()
}

/// An API-key connector whose one method is a local endpoint.
fn install_target(team: &Team, target: &str) -> i64 {
    let definition = format!(
        r#"
id = "bench-target"
name = "Bench target"
version = "1"
api_base_url = "{target}"
[auth]
type = "api_key"
placement = "header"
name = "Authorization"
prefix = "Bearer "
[[methods]]
id = "ping"
name = "Ping"
http_method = "GET"
path = "/ping"
"#
    );
    team.desk
        .add_connector("bench-target", &definition, false)
        .unwrap();
    team.desk
        .install(
            &team.account,
            "bench-target",
            InstallRequest {
                name: "target".into(),
                auth_value: Some(Secret::new("bench-key")),
                ..Default::default()
            },
        )
        .unwrap()
        .id
}

/// A local HTTP endpoint answering `GET /ping`.
async fn target_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().route("/ping", axum::routing::get(|| async { "pong" }));
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

/// The PostgreSQL cluster: the one named by AUTHDESK_TEST_PG_CLUSTER, or a throwaway one
/// started (and stopped) here.
struct Cluster {
    url: String,
    dir: Option<tempfile::TempDir>,
}

impl Cluster {
    fn get() -> Cluster {
        if let Ok(url) = std::env::var("AUTHDESK_TEST_PG_CLUSTER") {
            return Cluster { url, dir: None };
        }
        let dir = tempfile::tempdir().unwrap();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/pg-cluster.sh");
        let out = std::process::Command::new(script)
            .arg("start")
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Cluster {
            url: String::from_utf8(out.stdout).unwrap().trim().to_string(),
            dir: Some(dir),
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/pg-cluster.sh");
            let _ = std::process::Command::new(script)
                .arg("stop")
                .arg(dir.path())
                .status();
        }
    }
}

/// A method call through one replica's API that must answer 200.
async fn call_ok(
    http: reqwest::Client,
    base: String,
    key: String,
    account: String,
    id: i64,
    method: &str,
) {
    let r = http
        .post(format!(
            "{base}/v1.0/account/connectors/{id}/methods/{method}"
        ))
        .bearer_auth(key)
        .header("X-Cyclr-Account", account)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
