//! The team server's PostgreSQL sessions, as a cut-off replica or a lost connection finds
//! them: write transactions state READ COMMITTED whatever the database's default; each
//! session has a lock timeout, an idle-in-transaction timeout and TCP keepalives; a write
//! that could not get the write lock leaves its session usable (the aborted opening is
//! rolled back); and a refresh whose COMMIT lost its connection after the server committed
//! is neither lost nor reported as a failure.
//!
//! `FakeCommitCuttingProxy` stands between the engine and PostgreSQL to produce the one
//! fault a real server will not: a connection that goes away right after it carried a
//! COMMIT, before the answer.

mod team;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use authdesk_core::store::Store;
use authdesk_core::{Authdesk, Engine, EngineConfig, KeySource, OpenOptions};
use team::oidc::{OidcOptions, OidcServer};

fn database_name(url: &str) -> String {
    url::Url::parse(url)
        .unwrap()
        .path()
        .trim_start_matches('/')
        .to_string()
}

/// Runs `f` on a thread of its own (the store's client must not run inside a runtime).
fn off_runtime<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::spawn(f).join().unwrap()
}

#[test]
fn write_transactions_and_sessions_are_set_as_the_store_needs() {
    let url = team::fresh_database();
    // A database whose default isolation is another: the store states its own.
    team::sql(
        &url,
        &format!(
            "ALTER DATABASE {} SET default_transaction_isolation = 'serializable'",
            database_name(&url)
        ),
    );
    let shown = off_runtime(move || {
        let mut store = Store::open_postgres(&url).unwrap();
        store
            .write(|tx| {
                let show = |name: &str| -> authdesk_core::Result<String> {
                    tx.query_row(
                        &format!("SHOW {name}"),
                        authdesk_core::store::args![],
                        |r| r.get(0),
                    )
                };
                Ok([
                    show("transaction_isolation")?,
                    show("lock_timeout")?,
                    show("idle_in_transaction_session_timeout")?,
                    show("tcp_keepalives_idle")?,
                ])
            })
            .unwrap()
    });
    assert_eq!(shown, ["read committed", "1min", "30s", "20"]);
}

#[test]
fn a_write_that_waited_too_long_for_the_write_lock_leaves_its_session_usable() {
    let url = team::fresh_database();
    off_runtime(move || {
        Store::open_postgres(&url).unwrap();
        // Another writer holds the write lock (an advisory lock every writer queues on).
        let (holding, release) = (
            std::sync::mpsc::channel::<()>(),
            std::sync::mpsc::channel::<()>(),
        );
        let other = url.clone();
        let holder = std::thread::spawn(move || {
            let mut c = postgres::Client::connect(&other, postgres::NoTls).unwrap();
            let mut tx = c.transaction().unwrap();
            tx.execute("SELECT pg_advisory_xact_lock(4707199053720552267)", &[])
                .unwrap();
            holding.0.send(()).unwrap();
            release.1.recv().unwrap();
            tx.rollback().unwrap();
        });
        holding.1.recv().unwrap();
        // One connection, with a short lock timeout given in the URL (it wins over the
        // store's own 60 s).
        let short = format!("{url}?options=-c%20lock_timeout%3D300ms");
        let mut store = Store::connect_postgres(&short).unwrap();
        let e = store.write(|_| Ok(())).unwrap_err().to_string();
        assert!(e.contains("lock timeout"), "{e}");
        release.0.send(()).unwrap();
        holder.join().unwrap();
        // The same session goes on: its aborted opening was rolled back.
        let n: i64 = store
            .write(|tx| {
                tx.query_row("SELECT 1::bigint", authdesk_core::store::args![], |r| {
                    r.get(0)
                })
            })
            .unwrap();
        assert_eq!(n, 1);
    });
}

/// Forwards connections to PostgreSQL; once armed, the connection that carries a commit
/// of new tokens (an `UPDATE account_connectors SET status = 'authenticated'`, then a
/// `COMMIT`) is cut right after the server has had time to commit, before the client
/// reads the answer.
struct FakeCommitCuttingProxy {
    port: u16,
    armed: Arc<AtomicBool>,
    cuts: Arc<AtomicUsize>,
}

impl FakeCommitCuttingProxy {
    fn start(upstream: String) -> FakeCommitCuttingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let armed = Arc::new(AtomicBool::new(false));
        let cuts = Arc::new(AtomicUsize::new(0));
        let (a, c) = (armed.clone(), cuts.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                let link = Link {
                    client,
                    server,
                    armed: a.clone(),
                    cuts: c.clone(),
                    mute: Arc::new(AtomicBool::new(false)),
                };
                link.run();
            }
        });
        FakeCommitCuttingProxy { port, armed, cuts }
    }
}

/// One proxied connection.
struct Link {
    client: TcpStream,
    server: TcpStream,
    armed: Arc<AtomicBool>,
    cuts: Arc<AtomicUsize>,
    /// Set at the cut: nothing more reaches the client.
    mute: Arc<AtomicBool>,
}

impl Link {
    fn run(self) {
        let (mut from, mut to, muted) = (
            self.server.try_clone().unwrap(),
            self.client.try_clone().unwrap(),
            self.mute.clone(),
        );
        // Server to client: as is, until the cut.
        std::thread::spawn(move || {
            let mut buf = [0u8; 64 * 1024];
            while let Ok(n @ 1..) = from.read(&mut buf) {
                if muted.load(Ordering::SeqCst) || to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            let _ = to.shutdown(Shutdown::Both);
        });
        // Client to server: watched.
        std::thread::spawn(move || self.watch());
    }

    fn watch(mut self) {
        let mut buf = [0u8; 64 * 1024];
        let mut tokens_written = false;
        while let Ok(n @ 1..) = self.client.read(&mut buf) {
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            if text.contains("SET status = 'authenticated'") {
                tokens_written = true;
            }
            let commit = text.contains("COMMIT");
            let cut = commit && tokens_written && self.armed.swap(false, Ordering::SeqCst);
            if cut {
                // The server commits; the client never hears it.
                self.mute.store(true, Ordering::SeqCst);
                self.cuts.fetch_add(1, Ordering::SeqCst);
            }
            if self.server.write_all(&buf[..n]).is_err() {
                break;
            }
            if cut {
                std::thread::sleep(Duration::from_millis(300));
                let _ = self.client.shutdown(Shutdown::Both);
                break;
            }
            if commit {
                tokens_written = false;
            }
        }
        let _ = self.server.shutdown(Shutdown::Both);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_whose_commit_lost_its_connection_is_not_lost() {
    let server = OidcServer::start(OidcOptions {
        access_ttl_secs: 3600,
        rotate_refresh: true,
    });
    let direct = team::fresh_database();
    let parsed = url::Url::parse(&direct).unwrap();
    let upstream = format!("127.0.0.1:{}", parsed.port().unwrap());
    let proxy = FakeCommitCuttingProxy::start(upstream);
    let mut through = parsed.clone();
    through.set_port(Some(proxy.port)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let desk = Arc::new(
        Authdesk::open(OpenOptions {
            data_dir: dir.path().join("data"),
            database: Some(through.to_string()),
            key_source: KeySource::File(dir.path().join("key")),
            clock: Arc::new(chrono::Utc::now),
        })
        .unwrap(),
    );
    let engine = Engine::new(desk.clone(), EngineConfig::default()).unwrap();
    let id = team::oidc::signed_in_and_expired(&desk, &engine, &server.issuer).await;
    server.reset_stats().await;
    proxy.armed.store(true, Ordering::SeqCst);
    let r = engine
        .call_method(id, "userinfo", &Default::default())
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(
        proxy.cuts.load(Ordering::SeqCst),
        1,
        "the commit was not cut"
    );
    let stats = server.stats().await;
    assert_eq!(stats["grants"]["refresh_token"], 1, "{stats}");
    assert_eq!(stats["revocations"].as_u64().unwrap_or(0), 0, "{stats}");
    // What the call used is what is stored, and it keeps working without a refresh.
    let events = desk.credential_events(id, 5).unwrap();
    assert_eq!(events[0].kind, "refreshed", "{events:?}");
    let again = engine
        .call_method(id, "userinfo", &Default::default())
        .await
        .unwrap();
    assert_eq!(again.status, 200);
    assert_eq!(server.stats().await["grants"]["refresh_token"], 1);
}
