//! Scale benchmark: how Authdesk's lists behave with 10,000 accounts of 100 account
//! connectors each (1,000,000; `AUTHDESK_BENCH_SCALE_ACCOUNTS` sets the number of accounts),
//! next to the same figures for an empty data directory and for one account of 100, all
//! built and measured in the same run. Prints figures; asserts only that each answer is
//! complete (the right number of rows).
//!
//!     cargo bench -p authdesk-cli --bench scale
//!     cargo bench -p authdesk-cli --bench scale -- --seed DIR [ACCOUNTS] [PER_ACCOUNT]
//!
//! The second form only builds a data directory (DIR/data, key file DIR/vault.key), for
//! `scripts/bench-desktop.sh --scale`. Data is made through the core as partner code would
//! make it, in bulk (`Authdesk::launch_all_ids`, each install checked and its AuthValue
//! sealed): accounts with account connectors installed with AuthValues (OAuth tokens that
//! expire in 30 days, API keys, some `{}`), and some whose refresh token has expired, marked
//! by a keep-alive pass as needing re-authentication.
//!
//! Figures: seeding rate; local API `GET /v1.0/account/connectors?per_page=100` (one
//! account's page) and `GET /v1.0/accounts?per_page=100`, p50/p99 over sequential
//! requests; the desktop's first query (counts + first page of accounts + the list needing
//! re-authentication); Find by name (the trigram index) and by status; `authdesk
//! account-connectors list --all` (table and `--json`, time and peak memory); a keep-alive
//! pass with nothing due; and `authdesk serve`'s memory once it has served a page.

#[path = "../../authdesk-core/benches/support/table.rs"]
mod table;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use authdesk_api::Server;
use authdesk_core::{
    AccountConnectorFilter, AuthStatus, Authdesk, Engine, EngineConfig, InstallRequest, KeySource,
    NewAccount, OpenOptions, Secret,
};

struct Size {
    label: String,
    accounts: usize,
    per_account: usize,
}

/// Empty, one account of 100, a tenth of the large directory, and the large directory:
/// 10,000 accounts of 100 (1,000,000 account connectors), or `AUTHDESK_BENCH_SCALE_ACCOUNTS`
/// accounts of 100.
fn sizes() -> Vec<Size> {
    let big: usize = std::env::var("AUTHDESK_BENCH_SCALE_ACCOUNTS")
        .ok()
        .map_or(10_000, |v| {
            v.parse().expect("AUTHDESK_BENCH_SCALE_ACCOUNTS: a number")
        });
    vec![
        Size {
            label: "empty".into(),
            accounts: 0,
            per_account: 0,
        },
        Size {
            label: "1 x 100".into(),
            accounts: 1,
            per_account: 100,
        },
        // A tenth of the large one: memory that does not grow with the directory is the
        // same here as there.
        Size {
            label: format!("{} x 100", thousands(big / 10)),
            accounts: big / 10,
            per_account: 100,
        },
        Size {
            label: format!("{} x 100", thousands(big)),
            accounts: big,
            per_account: 100,
        },
    ]
}

/// 1000000 as "1,000,000".
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    if args.first().map(String::as_str) == Some("--seed") {
        let dir = PathBuf::from(args.get(1).expect("--seed DIR [ACCOUNTS] [PER_ACCOUNT]"));
        let accounts = args.get(2).map_or(10_000, |a| a.parse().unwrap());
        let per = args.get(3).map_or(100, |a| a.parse().unwrap());
        std::fs::create_dir_all(&dir).unwrap();
        let (desk, _) = open(&dir);
        let took = rt.block_on(seed(&desk, accounts, per));
        eprintln!(
            "seeded {} account connectors in {:.1} s into {}",
            accounts * per,
            took.as_secs_f64(),
            dir.display()
        );
        return;
    }
    let sizes = sizes();
    let mut rows: Vec<Row> = vec![];
    for size in &sizes {
        let dir = tempfile::tempdir().unwrap();
        let (desk, key) = open(dir.path());
        let took = rt.block_on(seed(&desk, size.accounts, size.per_account));
        let n = size.accounts * size.per_account;
        if n > 0 {
            println!(
                "{:>12}: seeded {n} account connectors in {:.1} s ({:.0}/s, through the core)",
                size.label,
                took.as_secs_f64(),
                n as f64 / took.as_secs_f64()
            );
        }
        let row = rt.block_on(measure(&desk, dir.path(), &key, size));
        println!("{:>12}: {}", size.label, row.describe());
        rows.push(row);
    }
    let (small, tenth, big) = (&rows[1], &rows[2], &rows[3]);
    let tenth_n = thousands(sizes[2].accounts * 100);
    println!();
    let big_n = thousands(sizes[3].accounts * 100);
    println!(
        "{} against 1 x 100 (the same page, {}x the data):",
        sizes[3].label, sizes[3].accounts
    );
    println!(
        "  API page of 100 account connectors: p50 {:.2} ms vs {:.2} ms ({:.2}x), p99 {:.2} ms vs {:.2} ms (goal: p99 <= 5 ms)",
        ms(big.api_page.0),
        ms(small.api_page.0),
        ratio(big.api_page.0, small.api_page.0),
        ms(big.api_page.1),
        ms(small.api_page.1),
    );
    println!(
        "  API page of 100 accounts: p99 {:.2} ms vs {:.2} ms ({:.2}x)",
        ms(big.accounts_page.1),
        ms(small.accounts_page.1),
        ratio(big.accounts_page.1, small.accounts_page.1),
    );
    println!(
        "  desktop first query: {:.2} ms vs {:.2} ms ({:.2}x)",
        ms(big.overview),
        ms(small.overview),
        ratio(big.overview, small.overview)
    );
    println!(
        "  Find across accounts: by name {:.2} ms vs {:.2} ms ({:.2}x), by status {:.2} ms vs {:.2} ms",
        ms(big.find_search),
        ms(small.find_search),
        ratio(big.find_search, small.find_search),
        ms(big.find_status),
        ms(small.find_status),
    );
    println!(
        "  keep-alive pass, nothing due: {:.2} ms vs {:.2} ms ({:.2}x)",
        ms(big.keep_alive),
        ms(small.keep_alive),
        ratio(big.keep_alive, small.keep_alive)
    );
    println!(
        "CLI list --all of {big_n}: {:.2} s (table), {:.2} s (--json); the same command on an empty directory {:.3} s (goal: <= 8 s); peak memory {:.1} MiB; {:.1} MiB at {tenth_n}; {:.1} MiB empty",
        big.cli.0.as_secs_f64(),
        big.cli_json.as_secs_f64(),
        rows[0].cli.0.as_secs_f64(),
        mib(big.cli.1),
        mib(tenth.cli.1),
        mib(rows[0].cli.1),
    );
    println!(
        "`authdesk serve` memory (RSS after a page and a keep-alive pass): {:.1} MiB; {:.1} MiB at {tenth_n}; {:.1} MiB empty",
        mib(big.serve_rss),
        mib(tenth.serve_rss),
        mib(rows[0].serve_rss),
    );
    let at = format!("{big_n} account connectors");
    let row = |measure: &str, value: f64, base: f64, unit: &str, goal: f64| {
        table::row(
            &format!("{measure}, {at}"),
            &format!("{value:.2} {unit}"),
            &format!("{base:.2} {unit} (1 x 100)"),
            Some(value / base),
            table::Goal::ValueAtMost(goal),
            value,
        )
    };
    row(
        "API page of 100 account connectors, p99",
        ms(big.api_page.1),
        ms(small.api_page.1),
        "ms",
        5.0,
    );
    row(
        "find by name across accounts",
        ms(big.find_search),
        ms(small.find_search),
        "ms",
        20.0,
    );
    row(
        "keep-alive pass with nothing due",
        ms(big.keep_alive),
        ms(small.keep_alive),
        "ms",
        1.0,
    );
    row(
        "`account-connectors list --all`",
        big.cli.0.as_secs_f64(),
        small.cli.0.as_secs_f64(),
        "s",
        8.0,
    );
    // Memory that must stay flat: against a tenth of the data (the issue names no figure;
    // 1.1x is ours). Against the empty directory the difference is SQLite's page cache
    // (2 MiB at most) filling.
    let flat = |measure: &str, value: u64, base: u64| {
        table::row(
            &format!("{measure}, {at}"),
            &format!("{:.1} MiB", mib(value)),
            &format!("{:.1} MiB ({tenth_n})", mib(base)),
            Some(value as f64 / base as f64),
            table::Goal::AtMost(1.1),
            value as f64,
        )
    };
    flat(
        "`account-connectors list --all` peak memory",
        big.cli.1,
        tenth.cli.1,
    );
    flat("`authdesk serve` memory", big.serve_rss, tenth.serve_rss);
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64()
}

/// A data directory with a key file (the bench runs without a keychain).
fn open(dir: &Path) -> (Arc<Authdesk>, PathBuf) {
    let key = dir.join("vault.key");
    let desk = Authdesk::open(OpenOptions {
        data_dir: dir.join("data"),
        database: None,
        key_source: KeySource::File(key.clone()),
        clock: Arc::new(chrono::Utc::now),
    })
    .unwrap();
    (Arc::new(desk), key)
}

/// The connectors used, from the built-in catalog: OAuth and API-key ones.
const OAUTH: [&str; 4] = ["hubspot", "slack", "xero", "github"];
const API_KEY: [&str; 2] = ["stripe", "sendgrid"];

/// Creates `accounts` accounts of `per` account connectors through the core's bulk write
/// (`launch_all_ids`: every install checked and sealed as one would be, 20 accounts to a
/// transaction); returns the time it took.
async fn seed(desk: &Arc<Authdesk>, accounts: usize, per: usize) -> Duration {
    let started = Instant::now();
    if accounts == 0 {
        return started.elapsed();
    }
    let in_30_days = (chrono::Utc::now() + chrono::Duration::days(30))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let yesterday = (chrono::Utc::now() - chrono::Duration::days(1))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let mut n = 0usize;
    let mut batch = vec![];
    for a in 0..accounts {
        let mut installs = Vec::with_capacity(per);
        for i in 0..per {
            n += 1;
            // 60% OAuth with tokens, 20% API keys, 10% `{}`, 10% installed without
            // credentials; 1 in 500 with an expired refresh token (among the OAuth ones).
            let (connector, auth_value) = match i % 10 {
                1 if n % 500 == 2 => (
                    OAUTH[i % 4],
                    Some(format!(
                        r#"{{"AccessToken":"at-{n}","RefreshToken":"rt-{n}","Expires":"{yesterday}","RefreshExpires":"{yesterday}"}}"#
                    )),
                ),
                0..=5 => (
                    OAUTH[i % 4],
                    Some(format!(
                        r#"{{"AccessToken":"at-{n}","RefreshToken":"rt-{n}","Expires":"{in_30_days}"}}"#
                    )),
                ),
                6 | 7 => (API_KEY[i % 2], Some(format!("key-{n}"))),
                8 => (OAUTH[i % 4], Some("{}".to_string())),
                _ => (OAUTH[i % 4], None),
            };
            installs.push(
                desk.prepare_install(
                    connector,
                    InstallRequest {
                        name: format!("{connector} {i:03} of customer {a:05}"),
                        auth_value: auth_value.map(Secret::new),
                        ..Default::default()
                    },
                )
                .unwrap(),
            );
        }
        batch.push((
            NewAccount {
                name: format!("Customer {a:05}"),
                ..Default::default()
            },
            installs,
        ));
        if batch.len() == 20 || a + 1 == accounts {
            desk.launch_all_ids(std::mem::take(&mut batch)).unwrap();
        }
    }
    // The expired refresh tokens: a keep-alive pass finds each needs re-authentication
    // (without calling any provider).
    let engine = Engine::new(desk.clone(), EngineConfig::default()).unwrap();
    engine.keep_alive_once().await.unwrap();
    engine.settle(Duration::from_secs(10)).await;
    started.elapsed()
}

struct Row {
    /// p50, p99.
    api_page: (Duration, Duration),
    accounts_page: (Duration, Duration),
    overview: Duration,
    find_search: Duration,
    find_status: Duration,
    keep_alive: Duration,
    /// Median time, and the largest peak memory (KiB) of the runs.
    cli: (Duration, u64),
    cli_json: Duration,
    /// `authdesk serve`'s resident memory (KiB) once it has served and passed.
    serve_rss: u64,
    needing: u64,
}

impl Row {
    fn describe(&self) -> String {
        format!(
            "API AC page p50 {:.2}/p99 {:.2} ms; accounts page p50 {:.2}/p99 {:.2} ms; desktop first query {:.2} ms; Find by name {:.2} ms, by status {:.2} ms; keep-alive {:.2} ms; CLI list --all {:.3} s (--json {:.3} s); {} need re-authentication",
            ms(self.api_page.0),
            ms(self.api_page.1),
            ms(self.accounts_page.0),
            ms(self.accounts_page.1),
            ms(self.overview),
            ms(self.find_search),
            ms(self.find_status),
            ms(self.keep_alive),
            self.cli.0.as_secs_f64(),
            self.cli_json.as_secs_f64(),
            self.needing,
        )
    }
}

async fn measure(desk: &Arc<Authdesk>, dir: &Path, key: &Path, size: &Size) -> Row {
    let engine = Arc::new(Engine::new(desk.clone(), EngineConfig::default()).unwrap());
    let server = Server::start(desk.clone(), engine.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let base = format!("http://{}", server.addr);
    let api_key = desk.api_key().unwrap().expose().to_string();
    let http = reqwest::Client::new();
    // The last account's connectors (the end of every index, not the start).
    let accounts = desk.accounts_page(None, 0, None).unwrap();
    let account = accounts.items.last().map(|a| a.id.clone());
    let api_page = match &account {
        Some(account) => {
            latencies(2000, || {
                let r = http
                    .get(format!("{base}/v1.0/account/connectors?per_page=100"))
                    .bearer_auth(&api_key)
                    .header("X-Cyclr-Account", account)
                    .send();
                let want = size.per_account.min(100);
                async move {
                    let r = r.await.unwrap();
                    assert_eq!(r.status(), 200);
                    let list: Vec<serde_json::Value> = r.json().await.unwrap();
                    assert_eq!(list.len(), want);
                }
            })
            .await
        }
        None => (Duration::ZERO, Duration::ZERO),
    };
    let accounts_page = latencies(2000, || {
        let r = http
            .get(format!("{base}/v1.0/accounts?per_page=100"))
            .bearer_auth(&api_key)
            .send();
        let want = size.accounts.min(100);
        async move {
            let r = r.await.unwrap();
            assert_eq!(r.status(), 200);
            let list: Vec<serde_json::Value> = r.json().await.unwrap();
            assert_eq!(list.len(), want);
        }
    })
    .await;
    server.stop().await;

    // What the desktop's `overview` command reads.
    let overview = median(
        (0..30)
            .map(|_| {
                let t0 = Instant::now();
                let counts = desk.counts().unwrap();
                let page = desk.accounts_page(None, 0, Some(100)).unwrap();
                let ids: Vec<String> = page.items.iter().map(|a| a.id.clone()).collect();
                desk.needing_attention_by_account(&ids).unwrap();
                desk.account_connectors_page(
                    &AccountConnectorFilter {
                        status: Some(AuthStatus::NeedsReauth),
                        ..Default::default()
                    },
                    0,
                    Some(50),
                )
                .unwrap();
                desk.list_connectors().unwrap();
                assert_eq!(
                    counts.account_connectors as usize,
                    size.accounts * size.per_account
                );
                t0.elapsed()
            })
            .collect(),
    );
    let needing = desk.counts().unwrap().needs_reauthentication;
    // The desktop's Find: a search of names across every account, and a status.
    let find = |filter: AccountConnectorFilter| {
        median(
            (0..15)
                .map(|_| {
                    let t0 = Instant::now();
                    desk.account_connectors_page(&filter, 0, Some(100)).unwrap();
                    t0.elapsed()
                })
                .collect(),
        )
    };
    let find_search = find(AccountConnectorFilter {
        search: Some("customer 00500".into()),
        ..Default::default()
    });
    let find_status = find(AccountConnectorFilter {
        status: Some(AuthStatus::NeedsReauth),
        ..Default::default()
    });

    let mut passes = vec![];
    for _ in 0..15 {
        let t0 = Instant::now();
        let outcomes = engine.keep_alive_once().await.unwrap();
        passes.push(t0.elapsed());
        assert!(outcomes.is_empty(), "something was due: {outcomes:?}");
    }
    let keep_alive = median(passes);

    let n = size.accounts * size.per_account;
    let runs: Vec<(Duration, u64)> = (0..3).map(|_| cli_list(dir, key, false, n)).collect();
    let cli = (
        median(runs.iter().map(|r| r.0).collect()),
        runs.iter().map(|r| r.1).max().unwrap(),
    );
    let cli_json = median((0..3).map(|_| cli_list(dir, key, true, n).0).collect());
    let serve_rss = serve_memory(dir, key, &api_key, account.as_deref()).await;
    Row {
        api_page,
        accounts_page,
        overview,
        find_search,
        find_status,
        keep_alive,
        cli,
        cli_json,
        serve_rss,
        needing,
    }
}

/// `authdesk account-connectors list --all`, its output read through a pipe; checks it
/// printed every row. Answers the time and the process's peak resident memory (KiB).
fn cli_list(dir: &Path, key: &Path, json: bool, rows: usize) -> (Duration, u64) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_authdesk"));
    cmd.arg("--data-dir")
        .arg(dir.join("data"))
        .env("AUTHDESK_VAULT_KEY_FILE", key);
    if json {
        cmd.arg("--json");
    }
    cmd.args(["account-connectors", "list", "--all"]);
    let t0 = Instant::now();
    let mut child = cmd.stdout(Stdio::piped()).spawn().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut out = vec![];
        stdout.read_to_end(&mut out).unwrap();
        out
    });
    let (ok, peak) = wait_with_peak(&mut child);
    let out = reader.join().unwrap();
    assert!(ok);
    let took = t0.elapsed();
    let text = String::from_utf8(out).unwrap();
    if json {
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v.as_array().map_or(0, Vec::len), rows, "{text:.300}");
    } else if rows > 0 {
        assert!(
            text.lines().count() > rows,
            "{} lines",
            text.lines().count()
        );
    }
    (took, peak)
}

/// Waits for `child`; answers whether it succeeded and its peak resident memory (KiB): its
/// own `VmHWM`, read while it runs (not `wait4`'s `ru_maxrss`, which counts this large
/// bench process too, the child having started as its vfork).
fn wait_with_peak(child: &mut std::process::Child) -> (bool, u64) {
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    loop {
        if let Ok(text) = std::fs::read_to_string(&status_file) {
            if let Some(kib) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            {
                peak = kib;
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            return (status.success(), peak);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// `authdesk serve` on the directory: once it answers a page of accounts and of the last
/// account's connectors and has run its first keep-alive pass, its resident memory (KiB).
async fn serve_memory(dir: &Path, key: &Path, api_key: &str, account: Option<&str>) -> u64 {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_authdesk"))
        .arg("--data-dir")
        .arg(dir.join("data"))
        .env("AUTHDESK_VAULT_KEY_FILE", key)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = http
            .get(format!("{base}/v1.0/accounts?per_page=100"))
            .bearer_auth(api_key)
            .send()
            .await;
        if r.is_ok_and(|r| r.status() == 200) {
            break;
        }
        assert!(Instant::now() < deadline, "authdesk serve did not answer");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if let Some(account) = account {
        let r = http
            .get(format!("{base}/v1.0/account/connectors?per_page=100"))
            .bearer_auth(api_key)
            .header("X-Cyclr-Account", account)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    // Its first keep-alive pass runs at start; give it time to finish.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/PID/status");
    child.kill().unwrap();
    child.wait().unwrap();
    rss
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Sends `n` requests one after another (after 10% warm-up); returns (p50, p99).
async fn latencies<F, Fut>(n: usize, make: F) -> (Duration, Duration)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut all = Vec::with_capacity(n);
    for i in 0..n + n / 10 {
        let t0 = Instant::now();
        make().await;
        if i >= n / 10 {
            all.push(t0.elapsed());
        }
    }
    all.sort();
    (all[all.len() / 2], all[all.len() * 99 / 100])
}
