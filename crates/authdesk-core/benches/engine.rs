//! Engine benchmarks. Prints figures; asserts nothing about speed (these machines are shared
//! and noisy), so each figure comes with a baseline measured in the same run.
//!
//!     cargo bench -p authdesk-core --bench engine
//!
//! - vault: seal/open of a 1 KiB token vs the bare AEAD on the same bytes;
//! - method-call overhead: a method call through the engine vs a direct reqwest call to the
//!   same loopback upstream (ratio of medians; goal <= 1.2);
//! - refresh storm: N concurrent calls over M expired credentials -> refresh requests at
//!   the token endpoint (must equal M) and wall time.

#[path = "support/table.rs"]
mod table;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use authdesk_core::vault::SealedAt;
use authdesk_core::{
    Authdesk, Engine, EngineConfig, InstallRequest, KeySource, NewAccount, OpenOptions, Secret,
};
use axum::routing::{get, post};
use axum::Json;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng};
use chacha20poly1305::XChaCha20Poly1305;
use serde_json::json;

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
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
    vault(&desk);
    rt.block_on(async {
        let upstream = Upstream::start().await;
        method_overhead(&desk, &upstream).await;
        refresh_storm(&desk, &upstream).await;
    });
}

fn vault(desk: &Authdesk) {
    let vault = desk.vault().unwrap();
    let token = Secret::new("t".repeat(1024));
    let at = SealedAt {
        table: "account_connector_secrets",
        row: "42",
        field: "AccessToken",
    };
    let n = if table::smoke() { 1_000 } else { 50_000 };
    let t0 = Instant::now();
    for _ in 0..n {
        let sealed = vault.seal(at, &token);
        std::hint::black_box(vault.open(at, &sealed).unwrap());
    }
    let ours = t0.elapsed();

    let cipher = XChaCha20Poly1305::new(&XChaCha20Poly1305::generate_key(&mut OsRng));
    let t0 = Instant::now();
    for _ in 0..n {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let ct = cipher.encrypt(&nonce, token.expose().as_bytes()).unwrap();
        std::hint::black_box(cipher.decrypt(&nonce, ct.as_slice()).unwrap());
    }
    let bare = t0.elapsed();
    println!(
        "vault: seal+open of 1 KiB: {:.0} pairs/s (bare XChaCha20-Poly1305: {:.0} pairs/s; ratio {:.2})",
        n as f64 / ours.as_secs_f64(),
        n as f64 / bare.as_secs_f64(),
        ours.as_secs_f64() / bare.as_secs_f64()
    );
}

/// A loopback upstream: `GET /api/items` answers a small JSON document; `POST /token`
/// issues tokens (after 20 ms, like a real provider's round trip) and counts refreshes.
struct Upstream {
    base: String,
    refreshes: Arc<AtomicUsize>,
}

impl Upstream {
    async fn start() -> Upstream {
        let refreshes = Arc::new(AtomicUsize::new(0));
        let counter = refreshes.clone();
        let app = axum::Router::new()
            .route("/api/items", get(|| async { Json(json!({"items": [{"id": 1, "name": "one"}, {"id": 2, "name": "two"}]})) }))
            .route(
                "/token",
                post(move || {
                    let n = counter.fetch_add(1, Ordering::SeqCst);
                    async move {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        Json(json!({"access_token": format!("fresh-{n}"), "refresh_token": format!("rt-{n}"), "token_type": "Bearer", "expires_in": 3600}))
                    }
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Upstream { base, refreshes }
    }
}

fn definition(base: &str) -> String {
    format!(
        r#"id = "bench"
name = "Bench"
version = "1"
api_base_url = "{base}/api"
[auth]
type = "oauth2"
grant = "authorization_code"
authorize_url = "{base}/authorize"
token_url = "{base}/token"
[[methods]]
id = "list-items"
name = "List Items"
http_method = "GET"
path = "/items"
"#
    )
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

async fn method_overhead(desk: &Arc<Authdesk>, upstream: &Upstream) {
    desk.add_connector("bench.toml", &definition(&upstream.base), false)
        .unwrap();
    desk.set_connector_client("bench", "bench-client", Some(&Secret::new("bench-secret")))
        .unwrap();
    let account = desk
        .create_account(NewAccount {
            name: "Bench".into(),
            ..Default::default()
        })
        .unwrap()
        .id;
    let id = desk
        .install(
            &account,
            "bench",
            InstallRequest {
                name: "bench".into(),
                auth_value: Some(Secret::new(r#"{"AccessToken":"valid","RefreshToken":"rt","Expires":"2099-01-01T00:00:00Z"}"#)),
                ..Default::default()
            },
        )
        .unwrap()
        .id;
    let engine = Engine::new(desk.clone(), EngineConfig::default()).unwrap();
    let direct = reqwest::Client::new();
    let url = format!("{}/api/items", upstream.base);
    let rounds = if table::smoke() { 100 } else { 3000 };
    let warm = rounds / 10;
    let (mut through, mut plain) = (Vec::with_capacity(rounds), Vec::with_capacity(rounds));
    for i in 0..rounds + warm {
        // Interleaved so both see the same machine load.
        let t0 = Instant::now();
        let r = engine
            .call_method(id, "list-items", &Default::default())
            .await
            .unwrap();
        let a = t0.elapsed();
        assert_eq!(r.status, 200);
        let t0 = Instant::now();
        let r = direct.get(&url).bearer_auth("valid").send().await.unwrap();
        let body: serde_json::Value = r.json().await.unwrap();
        let b = t0.elapsed();
        std::hint::black_box(body);
        if i >= warm {
            through.push(a);
            plain.push(b);
        }
    }
    let (a, b) = (median(through), median(plain));
    println!(
        "method call: median {:.0} µs through the engine, {:.0} µs direct reqwest; ratio {:.2} (goal <= 1.1)",
        a.as_secs_f64() * 1e6,
        b.as_secs_f64() * 1e6,
        a.as_secs_f64() / b.as_secs_f64()
    );
    table::row(
        "method call through the engine vs a direct reqwest call (median)",
        &format!("{:.0} µs", a.as_secs_f64() * 1e6),
        &format!("{:.0} µs", b.as_secs_f64() * 1e6),
        Some(a.as_secs_f64() / b.as_secs_f64()),
        table::Goal::AtMost(1.1),
        0.0,
    );
}

async fn refresh_storm(desk: &Arc<Authdesk>, upstream: &Upstream) {
    let (m, per) = if table::smoke() { (5, 4) } else { (50, 20) };
    let account = desk
        .create_account(NewAccount {
            name: "Storm".into(),
            ..Default::default()
        })
        .unwrap()
        .id;
    let ids: Vec<i64> = (0..m)
        .map(|i| {
            desk.install(
                &account,
                "bench",
                InstallRequest {
                    name: format!("storm-{i}"),
                    auth_value: Some(Secret::new(format!(r#"{{"AccessToken":"old-{i}","RefreshToken":"rt-old-{i}","Expires":"2000-01-01T00:00:00Z"}}"#))),
                    ..Default::default()
                },
            )
            .unwrap()
            .id
        })
        .collect();
    let engine = Arc::new(Engine::new(desk.clone(), EngineConfig::default()).unwrap());
    upstream.refreshes.store(0, Ordering::SeqCst);
    let t0 = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for round in 0..per {
        for &id in &ids {
            let engine = engine.clone();
            tasks.spawn(async move {
                let _ = round;
                engine
                    .call_method(id, "list-items", &Default::default())
                    .await
                    .map(|r| r.status)
            });
        }
    }
    let mut ok = 0;
    while let Some(r) = tasks.join_next().await {
        if r.unwrap().unwrap() == 200 {
            ok += 1;
        }
    }
    let wall = t0.elapsed();
    println!(
        "refresh storm: {} concurrent calls over {m} expired credentials -> {} refresh requests (must be {m}), {ok} answered 200, wall {:.0} ms",
        m * per,
        upstream.refreshes.load(Ordering::SeqCst),
        wall.as_secs_f64() * 1e3
    );
}
