//! Helpers shared by the integration tests (each test file includes them with `mod support;`;
//! not every file uses every helper).
#![allow(dead_code)]

pub mod dot;
pub mod echo;
pub mod mcp_server;
pub mod oauth1;
pub mod oidc;
pub mod webhook_receiver;

use std::path::Path;
use std::sync::Arc;

use authdesk_core::{Authdesk, Clock, KeySource, OpenOptions};

/// The store these tests run against: SQLite in the data directory, or, when
/// `AUTHDESK_TEST_POSTGRES` names a PostgreSQL server (scripts/test.sh starts one and runs
/// the suite a second time), a fresh database on it for each desk. The same tests, both
/// backends: the store's conformance suite.
pub fn test_database() -> Option<String> {
    let admin = std::env::var("AUTHDESK_TEST_POSTGRES").ok()?;
    let name = format!("t_{}", uuid::Uuid::new_v4().simple());
    // On a thread of its own: the `postgres` client must not run inside a test's runtime.
    let (a, n) = (admin.clone(), name.clone());
    std::thread::spawn(move || {
        let mut c = postgres::Client::connect(&a, postgres::NoTls)
            .unwrap_or_else(|e| panic!("AUTHDESK_TEST_POSTGRES={a}: {e}"));
        c.batch_execute(&format!("CREATE DATABASE {n}")).unwrap();
    })
    .join()
    .unwrap();
    let mut url = url::Url::parse(&admin).unwrap();
    url.set_path(&name);
    Some(url.to_string())
}

/// A desk in `dir/data` whose vault key is a key file in `dir` (no keychain needed).
pub fn desk_with_key_file(dir: &Path, clock: Clock) -> Arc<Authdesk> {
    desk_on(dir, clock, test_database())
}

/// Like [`desk_with_key_file`], always on SQLite: for the tests that reach into the
/// database file itself (to tamper with it, or to read SQLite's query plans).
pub fn desk_on_sqlite(dir: &Path, clock: Clock) -> Arc<Authdesk> {
    desk_on(dir, clock, None)
}

/// A desk on `database` as given (two desks on one database are two replicas).
pub fn desk_on(dir: &Path, clock: Clock, database: Option<String>) -> Arc<Authdesk> {
    Arc::new(
        Authdesk::open(OpenOptions {
            data_dir: dir.join("data"),
            database,
            key_source: KeySource::File(dir.join("vault.key")),
            clock,
        })
        .unwrap(),
    )
}

/// A key-file desk, an engine with `config`, and one account: the set-up of the engine
/// tests that need no authorization server.
pub struct EngineSetup {
    _dir: tempfile::TempDir,
    pub desk: Arc<Authdesk>,
    pub engine: authdesk_core::Engine,
    pub account: String,
}

pub fn engine_setup(config: authdesk_core::EngineConfig, account_name: &str) -> EngineSetup {
    engine_setup_on(config, account_name, false, Arc::new(chrono::Utc::now))
}

/// [`engine_setup`] with a clock of the test's own (to move time forward).
#[allow(dead_code)] // not every test binary uses it
pub fn engine_setup_with_clock(
    config: authdesk_core::EngineConfig,
    account_name: &str,
    clock: Clock,
) -> EngineSetup {
    engine_setup_on(config, account_name, false, clock)
}

/// [`engine_setup`] on SQLite (see [`desk_on_sqlite`]).
pub fn engine_setup_sqlite(config: authdesk_core::EngineConfig, account_name: &str) -> EngineSetup {
    engine_setup_on(config, account_name, true, Arc::new(chrono::Utc::now))
}

fn engine_setup_on(
    config: authdesk_core::EngineConfig,
    account_name: &str,
    sqlite: bool,
    clock: Clock,
) -> EngineSetup {
    let dir = tempfile::tempdir().unwrap();
    let desk = if sqlite {
        desk_on_sqlite(dir.path(), clock)
    } else {
        desk_with_key_file(dir.path(), clock)
    };
    let engine = authdesk_core::Engine::new(desk.clone(), config).unwrap();
    let account = desk
        .create_account(authdesk_core::NewAccount {
            name: account_name.into(),
            ..Default::default()
        })
        .unwrap()
        .id;
    EngineSetup {
        _dir: dir,
        desk,
        engine,
        account,
    }
}

/// Creates an account named `name`; its Id.
pub fn account(desk: &Authdesk, name: &str) -> String {
    desk.create_account(authdesk_core::NewAccount {
        name: name.into(),
        ..Default::default()
    })
    .unwrap()
    .id
}

/// Waits for a test server child (stdout and stderr piped) to print `listening <base>` as
/// its first line, draining both pipes for its whole life so it never blocks writing.
/// Returns the child and `<base>`; panics with its stderr (and `hint`) if it did not start.
pub fn listening(
    mut child: std::process::Child,
    what: &str,
    timeout: std::time::Duration,
    hint: &str,
) -> (std::process::Child, String) {
    use std::io::{BufRead, Read};
    let mut stderr = child.stderr.take().unwrap();
    let stderr_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    match rx.recv_timeout(timeout) {
        Ok(line) if line.starts_with("listening ") => {
            let base = line["listening ".len()..].trim().to_string();
            (child, base)
        }
        outcome => {
            let _ = child.kill();
            let _ = child.wait();
            let stderr = stderr_reader.join().unwrap_or_default();
            panic!(
                "{what} did not start (first stdout line: {outcome:?}){hint}\n--- stderr ---\n{stderr}"
            );
        }
    }
}
