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
/// Method calls in a refresh storm (on 100 expired credentials).
const STORM: usize = 1000;

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
    let mut locks: Vec<(usize, f64)> = vec![];
    let cluster_url = std::env::var("AUTHDESK_TEST_PG_CLUSTER").unwrap();
    for (name, database) in [
        ("SQLite", None),
        ("PostgreSQL", Some(team::fresh_database())),
    ] {
        let postgres = database.is_some();
        let team = Team::on(database, &server, 100).await;
        let target_id = install_target(&team, &target);
        for replicas in [1, 3] {
            let running: Vec<Replica> = (0..replicas).map(|n| team.replica(n)).collect();
            let bases: Vec<String> = running.iter().map(|r| r.base.clone()).collect();
            let call = |http, base, _| {
                let (key, account) = (team.api_key.clone(), team.account.clone());
                call_ok(http, base, key, account, target_id, "ping")
            };
            // Warm: each replica's caches filled, PostgreSQL's listener listening.
            rate(300, &bases, call).await;
            let stats = postgres.then(|| LockStats::start(&cluster_url));
            let (n_calls, n_tokens) = if table::smoke() {
                (500, 200)
            } else {
                (10_000, 4000)
            };
            let calls = rate(n_calls, &bases, call).await;
            let tokens = rate(n_tokens, &bases, |http, base, _| {
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
            rate(STORM, &bases, |http, base, i| {
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
            if let Some(stats) = stats {
                let requests = n_calls + n_tokens + STORM;
                let (advisory_ms, row_lock_ms, waiting) = stats.finish();
                println!(
                    "{:<11} {replicas:>8}   lock wait per request: {:.1} µs for the writers' lock, {:.1} µs for row locks (pg_stat_statements); {:.2} sessions waiting on a lock, on average (pg_locks, sampled every 5 ms)",
                    "",
                    advisory_ms * 1e3 / requests as f64,
                    row_lock_ms * 1e3 / requests as f64,
                    waiting,
                );
                locks.push((
                    replicas,
                    (advisory_ms + row_lock_ms) * 1e3 / requests as f64,
                ));
            }
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
    if let [(1, one), (3, three)] = locks[..] {
        table::row(
            "lock wait per request (PostgreSQL's statistics): 3 replicas vs 1",
            &format!("{three:.1} µs"),
            &format!("{one:.1} µs"),
            (one > 0.0).then(|| three / one),
            table::Goal::None,
            three,
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

/// PostgreSQL's own account of lock waits while a phase runs: the time its statements spent
/// (pg_stat_statements: the writers' advisory lock is a statement of its own, so its time
/// is the wait for it; `FOR UPDATE` and the single-row UPDATEs of sign-in tokens wait for
/// row locks), and `pg_locks` sampled every 5 ms for sessions waiting.
struct LockStats {
    url: String,
    stop: Arc<std::sync::atomic::AtomicBool>,
    sampler: std::thread::JoinHandle<f64>,
}

impl LockStats {
    /// (Its connections live on threads of their own: the sync client must not run on the
    /// bench's runtime.)
    fn start(url: &str) -> LockStats {
        let reset = url.to_string();
        std::thread::spawn(move || {
            let mut c = postgres::Client::connect(&reset, postgres::NoTls).unwrap();
            c.batch_execute(
                "CREATE EXTENSION IF NOT EXISTS pg_stat_statements; SELECT pg_stat_statements_reset()",
            )
            .expect("pg_stat_statements (scripts/pg-cluster.sh preloads it)");
        })
        .join()
        .unwrap();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (flag, sampled) = (stop.clone(), url.to_string());
        let sampler = std::thread::spawn(move || {
            let mut c = postgres::Client::connect(&sampled, postgres::NoTls).unwrap();
            let (mut sum, mut n) = (0i64, 0u32);
            while !flag.load(std::sync::atomic::Ordering::Acquire) {
                let row = c
                    .query_one("SELECT count(*) FROM pg_locks WHERE NOT granted", &[])
                    .unwrap();
                sum += row.get::<_, i64>(0);
                n += 1;
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            sum as f64 / n.max(1) as f64
        });
        LockStats {
            url: url.to_string(),
            stop,
            sampler,
        }
    }

    /// (ms waiting for the writers' lock, ms in statements that take row locks, mean sessions
    /// waiting on a lock).
    fn finish(self) -> (f64, f64, f64) {
        self.stop.store(true, std::sync::atomic::Ordering::Release);
        let waiting = self.sampler.join().unwrap();
        let url = self.url.clone();
        let (advisory, rows) = std::thread::spawn(move || {
            let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
            let mut ms = |pattern: &str| -> f64 {
                c.query_one(
                    "SELECT coalesce(sum(total_exec_time), 0)::float8 FROM pg_stat_statements WHERE query LIKE $1",
                    &[&pattern],
                )
                .unwrap()
                .get(0)
            };
            let advisory = ms("%pg_advisory_xact_lock%");
            (advisory, ms("%FOR UPDATE%") + ms("UPDATE sign_in_tokens%"))
        })
        .join()
        .unwrap();
        (advisory, rows, waiting)
    }
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
