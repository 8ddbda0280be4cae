//! Local API benchmarks. Prints figures (no assertions about speed), each with a baseline
//! measured in the same run: the cheapest request the server answers (a 401 for a missing
//! API key) as the floor; for method calls, a bare pass-through proxy doing the same hop (an
//! axum handler forwarding to the same upstream with reqwest and a fixed Authorization
//! header) and a direct call to the upstream. Rows for `scripts/bench.sh`'s table.
//!
//!     cargo bench -p authdesk-api --bench api

#[path = "../../authdesk-core/benches/support/table.rs"]
mod table;

use std::sync::Arc;
use std::time::{Duration, Instant};

use authdesk_api::Server;
use authdesk_core::settings::OriginPurpose;
use authdesk_core::{
    Authdesk, Engine, EngineConfig, InstallRequest, KeySource, NewAccount, OpenOptions, Secret,
};
use axum::routing::get;
use axum::Json;
use serde_json::json;

/// Clients in flight (the issue's "32 clients").
const CONCURRENCY: usize = 32;

/// How long each rate is measured.
fn span() -> Duration {
    if table::smoke() {
        Duration::from_millis(300)
    } else {
        Duration::from_secs(3)
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run());
}

struct Fixture {
    base: String,
    key: String,
    account: String,
    oauth_ac: i64,
    api_ac: i64,
    upstream: String,
    http: reqwest::Client,
}

async fn run() {
    let dir = tempfile::tempdir().unwrap();
    let desk = Arc::new(
        Authdesk::open(OpenOptions {
            data_dir: dir.path().join("data"),
            database: None,
            key_source: KeySource::File(dir.path().join("vault.key")),
            clock: Arc::new(chrono::Utc::now),
        })
        .unwrap(),
    );
    let engine = Arc::new(Engine::new(desk.clone(), EngineConfig::default()).unwrap());
    let server = Server::start(desk.clone(), engine, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let upstream = start_upstream().await;
    let f = fixture(&desk, &server, upstream).await;
    // `AUTHDESK_BENCH_ONLY=method`, `=tokens` or `=issue`: only the method calls, only the
    // rates (sign-in tokens), or only tokens issued, for a profiler.
    let only = std::env::var("AUTHDESK_BENCH_ONLY").unwrap_or_default();
    if only != "method" {
        rates(&desk, &f).await;
    }
    if only != "tokens" && only != "issue" {
        method_calls(&f, only == "method").await;
    }
    server.stop().await;
}

/// The floor, sign-in tokens issued and consumed, reading an account connector.
async fn rates(desk: &Arc<Authdesk>, f: &Fixture) {
    let floor = rate(&f, CONCURRENCY, span(), |f| {
        let r = f.http.get(format!("{}/v1.0/accounts", f.base));
        async move { assert_eq!(r.send().await.unwrap().status(), 401) }
    })
    .await;
    println!(
        "floor: unauthenticated request answered 401: {:.0} req/s, p99 {:.2} ms",
        floor.0, floor.1
    );

    let issue = rate(&f, CONCURRENCY, span(), |f| {
        let r = f
            .http
            .post(format!(
                "{}/v1.0/accounts/{}/signintoken",
                f.base, f.account
            ))
            .bearer_auth(&f.key)
            .json(&json!({"Username": "bench"}));
        async move { assert_eq!(r.send().await.unwrap().status(), 200) }
    })
    .await;
    println!(
        "sign-in tokens issued: {:.0}/s (p99 {:.2} ms), {:.2}x the floor's time per request",
        issue.0,
        issue.1,
        floor.0 / issue.0
    );
    table::row(
        "sign-in tokens issued, SQLite, 32 clients (per s)",
        &format!("{:.0}/s", issue.0),
        &format!("floor {:.0}/s", floor.0),
        Some(issue.0 / floor.0),
        table::Goal::ValueAtLeast(5000.0),
        issue.0,
    );

    if std::env::var("AUTHDESK_BENCH_ONLY").is_ok_and(|v| v == "issue") {
        return;
    }
    // Consuming: each use takes a fresh token and starts a sign-in (303 to the provider).
    let n = if table::smoke() { 200 } else { 6000 };
    let tokens: Vec<String> = (0..n)
        .map(|_| {
            desk.create_sign_in_token(&f.account, "bench")
                .unwrap()
                .token
                .expose()
                .to_string()
        })
        .collect();
    let tokens = std::sync::Mutex::new(tokens);
    let started = Instant::now();
    let workers = (0..CONCURRENCY).map(|_| async {
        while let Some(token) = { let t = tokens.lock().unwrap().pop(); t } {
            let url = format!(
                "{}/connectorauth/updateaccountconnectoroauth?id={}&token={token}&targetOrigin=https%3A%2F%2Fpartner.example%2F",
                f.base, f.oauth_ac
            );
            assert_eq!(f.http.get(url).send().await.unwrap().status(), 303);
        }
    });
    futures::future::join_all(workers).await;
    let consumed = n as f64 / started.elapsed().as_secs_f64();
    println!(
        "sign-in tokens consumed (connectorauth -> redirect to the provider): {consumed:.0}/s"
    );
    table::row(
        "sign-in tokens consumed, SQLite, 32 clients (per s)",
        &format!("{consumed:.0}/s"),
        &format!("floor {:.0}/s", floor.0),
        Some(consumed / floor.0),
        table::Goal::ValueAtLeast(2000.0),
        consumed,
    );

    let get_ac = rate(&f, CONCURRENCY, span(), |f| {
        let r = f
            .http
            .get(format!("{}/v1.0/account/connectors/{}", f.base, f.api_ac))
            .bearer_auth(&f.key)
            .header("X-Cyclr-Account", &f.account);
        async move { assert_eq!(r.send().await.unwrap().status(), 200) }
    })
    .await;
    println!(
        "GET account connector: {:.0} req/s, p99 {:.2} ms (floor {:.0} req/s; ratio {:.2})",
        get_ac.0,
        get_ac.1,
        floor.0,
        floor.0 / get_ac.0
    );
}

/// Method call through the API vs a bare proxy of the same hop vs the upstream called
/// directly, one at a time and interleaved, so all three see the same machine load.
async fn method_calls(f: &Fixture, long: bool) {
    let proxy = start_proxy(&f.upstream).await;
    let rounds = if table::smoke() {
        50
    } else if long {
        30_000
    } else {
        3000
    };
    let warm = rounds / 6;
    let (mut through, mut bare, mut direct) = (vec![], vec![], vec![]);
    // The API's request; the proxy takes the very same one (a POST, same headers and body).
    let api = format!(
        "{}/v1.0/account/connectors/{}/methods/list-items",
        f.base, f.api_ac
    );
    let proxied = format!("{proxy}/items");
    let timed = |url: &str| {
        let r = f
            .http
            .post(url)
            .bearer_auth(&f.key)
            .header("X-Cyclr-Account", &f.account)
            .json(&json!({}));
        async move {
            let t0 = Instant::now();
            let _: serde_json::Value = r.send().await.unwrap().json().await.unwrap();
            t0.elapsed()
        }
    };
    for i in 0..rounds + warm {
        let a = timed(&api).await;
        let p = timed(&proxied).await;
        let t0 = Instant::now();
        let r = f
            .http
            .get(format!("{}/api/items", f.upstream))
            .header("X-Api-Key", "k")
            .send()
            .await
            .unwrap();
        let _: serde_json::Value = r.json().await.unwrap();
        let b = t0.elapsed();
        if i >= warm {
            through.push(a);
            bare.push(p);
            direct.push(b);
        }
    }
    let (a, p, b) = (median(through), median(bare), median(direct));
    let us = |d: Duration| format!("{:.0} µs", d.as_secs_f64() * 1e6);
    println!(
        "method call through the API: median {} vs {} through a bare proxy vs {} calling the upstream directly; ratios {:.2} and {:.2}",
        us(a),
        us(p),
        us(b),
        a.as_secs_f64() / p.as_secs_f64(),
        a.as_secs_f64() / b.as_secs_f64()
    );
    table::row(
        "method call through the API vs a bare pass-through proxy (median)",
        &us(a),
        &us(p),
        Some(a.as_secs_f64() / p.as_secs_f64()),
        table::Goal::AtMost(1.2),
        0.0,
    );
}

async fn fixture(desk: &Arc<Authdesk>, server: &Server, upstream: String) -> Fixture {
    desk.allow_origin(OriginPurpose::Target, "https://partner.example")
        .unwrap();
    let account = desk
        .create_account(NewAccount {
            name: "Bench".into(),
            ..Default::default()
        })
        .unwrap()
        .id;
    desk.add_connector(
        "oauth.toml",
        "id = \"bench-oauth\"\nname = \"Bench OAuth\"\nversion = \"1\"\n[auth]\ntype = \"oauth2\"\ngrant = \"authorization_code\"\n\
         authorize_url = \"https://provider.example/authorize\"\ntoken_url = \"https://provider.example/token\"\n",
        false,
    )
    .unwrap();
    desk.set_connector_client("bench-oauth", "c", Some(&Secret::new("s")))
        .unwrap();
    let oauth_ac = desk
        .install(
            &account,
            "bench-oauth",
            InstallRequest {
                name: "o".into(),
                ..Default::default()
            },
        )
        .unwrap()
        .id;
    desk.add_connector(
        "api.toml",
        &format!(
            "id = \"bench-api\"\nname = \"Bench API\"\nversion = \"1\"\napi_base_url = \"{upstream}/api\"\n[auth]\ntype = \"api_key\"\n\
             placement = \"header\"\nname = \"X-Api-Key\"\n[[methods]]\nid = \"list-items\"\nname = \"List\"\nhttp_method = \"GET\"\npath = \"/items\"\n"
        ),
        false,
    )
    .unwrap();
    let api_ac = desk
        .install(
            &account,
            "bench-api",
            InstallRequest {
                name: "a".into(),
                auth_value: Some(Secret::new("k")),
                ..Default::default()
            },
        )
        .unwrap()
        .id;
    Fixture {
        base: format!("http://{}", server.addr),
        key: desk.api_key().unwrap().expose().to_string(),
        account,
        oauth_ac,
        api_ac,
        upstream,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    }
}

async fn start_upstream() -> String {
    let app = axum::Router::new().route(
        "/api/items",
        get(|| async {
            Json(json!({"items": [{"id": 1, "name": "one"}, {"id": 2, "name": "two"}]}))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

/// The baseline of a method call: an axum handler that takes the same request as the API
/// (a POST with a JSON body, read whole) and forwards to the same upstream with reqwest and
/// a fixed Authorization header, passing the status and body through.
async fn start_proxy(upstream: &str) -> String {
    let client = reqwest::Client::new();
    let target = format!("{upstream}/api/items");
    let app = axum::Router::new().route(
        "/items",
        axum::routing::post(move |_body: axum::body::Bytes| {
            let (client, target) = (client.clone(), target.clone());
            async move {
                let r = client
                    .get(&target)
                    .header("Authorization", "Bearer fixed-token")
                    .send()
                    .await
                    .unwrap();
                let status = r.status().as_u16();
                let body = r.bytes().await.unwrap();
                (
                    axum::http::StatusCode::from_u16(status).unwrap(),
                    [("content-type", "application/json")],
                    body,
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Runs `make` with `workers` concurrent loops for `span`; returns (requests/s, p99 ms).
async fn rate<F, Fut>(f: &Fixture, workers: usize, span: Duration, make: F) -> (f64, f64)
where
    F: Fn(&Fixture) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let end = Instant::now() + span;
    let started = Instant::now();
    let loops = (0..workers).map(|_| async {
        let mut latencies = vec![];
        while Instant::now() < end {
            let t0 = Instant::now();
            make(f).await;
            latencies.push(t0.elapsed());
        }
        latencies
    });
    let mut all: Vec<Duration> = futures::future::join_all(loops)
        .await
        .into_iter()
        .flatten()
        .collect();
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    let p99 = all[(all.len() * 99 / 100).min(all.len() - 1)];
    (all.len() as f64 / elapsed, p99.as_secs_f64() * 1e3)
}
