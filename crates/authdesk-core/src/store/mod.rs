//! The store: SQLite or PostgreSQL behind one [`Store`] (`write`, `conn`, `change_marker`).
//! SQLite is the default: one database per data directory, shared by every process that
//! opens the directory (the desktop app, `authdesk serve`, the CLI). PostgreSQL is a team
//! server's, shared by its `authdesk serve` replicas.
//!
//! SQLite: WAL, `synchronous=FULL`, a busy timeout, foreign keys on, and every write in an
//! IMMEDIATE transaction so concurrent writers queue instead of failing mid-way.
//! PostgreSQL: every write transaction READ COMMITTED and queued on one advisory lock, the
//! same guarantee. Migrations are append-only and numbered, one list per backend: SQLite's
//! each run in one transaction and bump `PRAGMA user_version`; PostgreSQL's run under an
//! advisory lock and set `schema_version`.
//!
//! Must not: hold the queries of the product's rows (the modules that own them do, through
//! [`Db`]), name a module above it, or show a database password (`redacted_url`).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior};

use crate::error::{Error, Result};

mod group;
mod listen;
mod postgres;
pub mod sql;
pub mod value;

pub(crate) use group::GroupQueue;
pub(crate) use listen::PoolMarker;

pub use sql::{args, lost_connection, Db, Row};

pub const DATABASE_FILE: &str = "authdesk.db";
const BUSY_TIMEOUT: Duration = Duration::from_secs(15);

/// PostgreSQL writers queue on one advisory lock (held until the transaction ends), which
/// gives every replica the guarantee SQLite's IMMEDIATE transactions give processes:
/// a read-then-write inside [`Store::write`] never works on stale data.
const PG_WRITE_BEGIN: &str =
    "BEGIN ISOLATION LEVEL READ COMMITTED; SELECT pg_advisory_xact_lock(4707199053720552267)";
/// Each commit bumps the change counter (what [`Store::change_marker`] reads) and notifies
/// the replicas' listeners (`store/listen.rs`), both only if it commits. A pool's
/// connections name their pool in the notice ([`PgManager::notify_as`]): its own listener
/// skips it, its commits being counted as they return.
const PG_WRITE_END: &str =
    "UPDATE changes SET counter = counter + 1; NOTIFY authdesk_changes; COMMIT";

fn pg_write_end_as(pool: &str) -> String {
    format!(
        "UPDATE changes SET counter = counter + 1; NOTIFY {}, '{pool}'; COMMIT",
        listen::CHANNEL
    )
}

/// Append-only: the Nth entry brings the schema to version N.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/0001_initial.sql"),
    include_str!("../../migrations/0002_oauth_engine.sql"),
    include_str!("../../migrations/0003_local_api.sql"),
    include_str!("../../migrations/0004_trust.sql"),
    include_str!("../../migrations/0005_cyclr_compat.sql"),
    include_str!("../../migrations/0006_scale.sql"),
    include_str!("../../migrations/0007_window.sql"),
    include_str!("../../migrations/0008_sign_in_issuer.sql"),
    include_str!("../../migrations/0009_sign_in_binding.sql"),
    include_str!("../../migrations/0010_attention.sql"),
    include_str!("../../migrations/0011_client_keys.sql"),
    include_str!("../../migrations/0012_account_connector_keys.sql"),
    include_str!("../../migrations/0013_diagnostics.sql"),
    include_str!("../../migrations/0014_provider_keys.sql"),
    include_str!("../../migrations/0015_setup_links.sql"),
    include_str!("../../migrations/0016_webhooks.sql"),
    include_str!("../../migrations/0017_mcp.sql"),
    include_str!("../../migrations/0018_search.sql"),
    include_str!("../../migrations/0019_pending_expiry.sql"),
    include_str!("../../migrations/0020_counts.sql"),
];

pub fn schema_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// PostgreSQL's own append-only list (its version 1 is SQLite's schema 7, 2 is 8, 3 is 9,
/// 4 is 10, 5 is 11, 6 is 12, 7 is 13, 8 is 14, 9 is 15, 10 is 16, 11 is 17, 12 is 18, 13 is 19,
/// 14 is 20).
const PG_MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/postgres/0001_schema.sql"),
    include_str!("../../migrations/postgres/0002_sign_in_issuer.sql"),
    include_str!("../../migrations/postgres/0003_sign_in_binding.sql"),
    include_str!("../../migrations/postgres/0004_attention.sql"),
    include_str!("../../migrations/postgres/0005_client_keys.sql"),
    include_str!("../../migrations/postgres/0006_account_connector_keys.sql"),
    include_str!("../../migrations/postgres/0007_diagnostics.sql"),
    include_str!("../../migrations/postgres/0008_provider_keys.sql"),
    include_str!("../../migrations/postgres/0009_setup_links.sql"),
    include_str!("../../migrations/postgres/0010_webhooks.sql"),
    include_str!("../../migrations/postgres/0011_mcp.sql"),
    include_str!("../../migrations/postgres/0012_search.sql"),
    include_str!("../../migrations/postgres/0013_pending_expiry.sql"),
    include_str!("../../migrations/postgres/0014_counts.sql"),
];

/// A serialised migration: replicas starting together migrate one after the other.
const PG_MIGRATE_LOCK: &str = "SELECT pg_advisory_xact_lock(4707199053720552268)";

/// A PostgreSQL URL (or key=value connection string, or a mistyped one) as it may be shown:
/// without its password, wherever it stands (`user:password@`, `?password=`,
/// `password=` of a connection string, `sslpassword`).
pub fn redacted_url(url: &str) -> String {
    use std::sync::LazyLock;
    static PARAM: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(r"(?i)\b((?:ssl)?password)\s*=\s*('[^']*'|[^&\s]*)")
            .expect("a valid pattern")
    });
    // `user:secret@` anywhere: in a URL, or in text that did not parse as one.
    static USERINFO: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(r"([^\s:/@?&=]*):([^\s@/?#]*)@").expect("a valid pattern")
    });
    let masked = PARAM.replace_all(url.trim(), "$1=***");
    USERINFO.replace_all(&masked, "$1:***@").into_owned()
}

pub struct Store {
    backend: Backend,
    /// Commits made through this connection (see [`Store::change_marker`]).
    writes: u64,
    /// PostgreSQL: the commits made through every connection of this process's pool (see
    /// `store/listen.rs`).
    pool_commits: Option<Arc<AtomicU64>>,
    /// PostgreSQL: what ends a write, naming the pool (see [`PG_WRITE_END`]).
    write_end: Option<String>,
}

enum Backend {
    Sqlite { conn: Connection, path: PathBuf },
    Postgres { client: sql::PgConn, shown: String },
}

/// Identifies the state of the database as this connection last saw it: equal markers
/// mean no commit happened in between, by this process or any other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChangeMarker {
    data_version: i64,
    writes: u64,
}

/// A second SQLite connection that only ever reads `PRAGMA data_version`: every commit by
/// any other connection — this process's own store connection included — changes it, so
/// it alone says "has anything been committed since?". It holds no transaction and never
/// waits behind a writer (WAL), so it may be asked from an async worker: the hot paths
/// (the API key check, the prepared-request cache) read it without a blocking hop.
pub struct MarkerConn(std::sync::Mutex<Connection>);

impl MarkerConn {
    pub fn open(path: &Path) -> Result<MarkerConn> {
        let conn = Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(Duration::from_millis(200))?;
        Ok(MarkerConn(std::sync::Mutex::new(conn)))
    }

    pub fn marker(&self) -> Result<ChangeMarker> {
        let conn = self.0.lock().unwrap_or_else(|p| p.into_inner());
        // Prepared once: it is read on every API call.
        let data_version: i64 = conn
            .prepare_cached("PRAGMA data_version")?
            .query_row([], |r| r.get(0))?;
        // Tagged apart from a store connection's markers, so the two never compare equal.
        Ok(ChangeMarker {
            data_version,
            writes: u64::MAX,
        })
    }
}

impl Store {
    /// Opens (creating if needed) the database in `data_dir` and brings it up to date.
    pub fn open(data_dir: &Path) -> Result<Store> {
        create_private_dir(data_dir)?;
        let path = data_dir.join(DATABASE_FILE);
        let conn = Connection::open(&path)?;
        restrict_file_mode(&path);
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // journal_mode is persistent; setting it again is cheap.
        let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(Error::InvalidInput(format!(
                "{} cannot use write-ahead logging (journal_mode is {mode}); \
                 put the data directory on a local file system",
                path.display()
            )));
        }
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let mut store = Store {
            backend: Backend::Sqlite { conn, path },
            writes: 0,
            pool_commits: None,
            write_end: None,
        };
        store.migrate()?;
        Ok(store)
    }

    /// Connects to PostgreSQL (`postgres://user:pass@host:port/db`) and brings its schema
    /// up to date.
    pub fn open_postgres(url: &str) -> Result<Store> {
        let url = url.trim();
        let shown = redacted_url(url);
        let mut store = Store::connect_postgres(url)?;
        let known = PG_MIGRATIONS.len() as i64;
        store.write(|tx| {
            tx.execute_batch(PG_MIGRATE_LOCK)?;
            tx.execute_batch(
                "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL);
                 INSERT INTO schema_version(version)
                 SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM schema_version)",
            )?;
            let current: i64 =
                tx.query_row("SELECT version FROM schema_version", args![], |r| r.get(0))?;
            if current > known {
                return Err(Error::SchemaTooNew {
                    path: PathBuf::from(&shown),
                    found: current,
                    known,
                });
            }
            for (i, sql) in PG_MIGRATIONS.iter().enumerate().skip(current as usize) {
                tx.execute_batch(sql)?;
                tracing::info!(version = i + 1, "applied PostgreSQL migration");
            }
            tx.execute("UPDATE schema_version SET version = ?1", args![known])?;
            Ok(())
        })?;
        Ok(store)
    }

    /// Connects to PostgreSQL, leaving the schema as it is (a pool's further connections).
    pub fn connect_postgres(url: &str) -> Result<Store> {
        let url = url.trim();
        if let Some((scheme, _)) = url.split_once("://") {
            if !matches!(scheme, "postgres" | "postgresql") {
                return Err(Error::InvalidInput(format!(
                    "{} is not a PostgreSQL URL; give postgres://user:password@host:port/database \
                     (--database or AUTHDESK_DATABASE_URL)",
                    redacted_url(url)
                )));
            }
        }
        let client = sql::PgConn::connect(sql::PgTarget::parse(url)?).map_err(|e| {
            let cause = sql::DbError::Postgres(e).to_string();
            let hint = if cause.contains("client certificate") {
                "the server asks for a client certificate: add \
                 &sslcert=/path/client.pem&sslkey=/path/client.key to the URL"
            } else if cause.contains("certificate") {
                "the server's certificate was not accepted: for a private CA add \
                 &sslrootcert=/path/ca.pem to the URL (and use sslmode=verify-ca if the \
                 certificate names another host)"
            } else {
                "check the URL (--database or AUTHDESK_DATABASE_URL) and that the server \
                 accepts the connection"
            };
            Error::InvalidInput(format!(
                "cannot connect to PostgreSQL at {}: {}; {hint}",
                redacted_url(url),
                redacted_url(&cause)
            ))
        })?;
        Ok(Store {
            backend: Backend::Postgres {
                client,
                shown: redacted_url(url),
            },
            writes: 0,
            pool_commits: None,
            write_end: None,
        })
    }

    /// Which database this is, as it may be shown (a PostgreSQL URL without its password).
    pub fn describe(&self) -> String {
        match &self.backend {
            Backend::Sqlite { path, .. } => format!("SQLite {}", path.display()),
            Backend::Postgres { shown, .. } => format!("PostgreSQL {shown}"),
        }
    }

    /// The SQLite database file (`None` on PostgreSQL).
    pub fn path(&self) -> Option<&Path> {
        match &self.backend {
            Backend::Sqlite { path, .. } => Some(path),
            Backend::Postgres { .. } => None,
        }
    }

    /// The connection, for reads (each statement sees the latest commit).
    pub fn conn(&self) -> Db<'_> {
        match &self.backend {
            Backend::Sqlite { conn, .. } => Db::Sqlite(conn),
            Backend::Postgres { client, .. } => Db::Postgres(client),
        }
    }

    /// The SQLite connection itself, for what only SQLite has (query plans in tests).
    pub fn sqlite(&self) -> Option<&Connection> {
        match &self.backend {
            Backend::Sqlite { conn, .. } => Some(conn),
            Backend::Postgres { .. } => None,
        }
    }

    /// Runs `f` in a write transaction. Writers never interleave: SQLite takes its write
    /// lock up front (IMMEDIATE), so two processes never both read-then-write on stale data.
    pub fn write<T>(&mut self, f: impl FnOnce(&Db<'_>) -> Result<T>) -> Result<T> {
        let out = match &mut self.backend {
            Backend::Sqlite { conn, .. } => {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let out = f(&Db::Sqlite(&tx))?;
                tx.commit()?;
                out
            }
            Backend::Postgres { client, .. } => {
                let end = self.write_end.as_deref().unwrap_or(PG_WRITE_END);
                let out = pg_transaction(client, PG_WRITE_BEGIN, end, f)?;
                if let Some(commits) = &self.pool_commits {
                    commits.fetch_add(1, Ordering::AcqRel);
                }
                out
            }
        };
        self.writes += 1;
        Ok(out)
    }

    /// A write whose every statement is safe on its own rows under READ COMMITTED (inserts
    /// of new rows, an UPDATE or DELETE that re-checks its condition on the row it locks)
    /// and that no cache reads (sign-in tokens, pending sign-ins): on PostgreSQL it takes
    /// neither the writers' advisory lock nor the change counter's row, so such writes
    /// commit side by side and PostgreSQL flushes their commits together. On SQLite it is
    /// [`Store::write`].
    pub fn write_rows<T>(&mut self, f: impl FnOnce(&Db<'_>) -> Result<T>) -> Result<T> {
        match &mut self.backend {
            Backend::Sqlite { .. } => self.write(f),
            Backend::Postgres { client, .. } => {
                pg_transaction(client, "BEGIN ISOLATION LEVEL READ COMMITTED", "COMMIT", f)
            }
        }
    }

    /// A cheap check for "has anything been committed since?": SQLite's `data_version`
    /// changes when *other* connections commit (no disk read needed), and `writes` counts
    /// our own commits.
    pub fn change_marker(&self) -> Result<ChangeMarker> {
        let data_version = match &self.backend {
            Backend::Sqlite { conn, .. } => {
                conn.query_row("PRAGMA data_version", [], |r| r.get(0))?
            }
            Backend::Postgres { .. } => {
                // Every commit, ours included, bumps the counter; connections of a pool
                // must agree, so their own write counts are left out.
                let counter =
                    self.conn()
                        .query_row("SELECT counter FROM changes", args![], |r| r.get(0))?;
                return Ok(ChangeMarker {
                    data_version: counter,
                    writes: 0,
                });
            }
        };
        Ok(ChangeMarker {
            data_version,
            writes: self.writes,
        })
    }

    fn user_version(db: &Db<'_>) -> Result<i64> {
        db.query_row("PRAGMA user_version", args![], |r| r.get(0))
    }

    fn migrate(&mut self) -> Result<()> {
        let known = schema_version();
        let current = Self::user_version(&self.conn())?;
        if current == known {
            return Ok(());
        }
        let path = self.path().map(Path::to_path_buf).unwrap_or_default();
        self.write(|tx| {
            // Re-read under the write lock: another process may have migrated meanwhile.
            let current = Self::user_version(tx)?;
            if current > known {
                return Err(Error::SchemaTooNew {
                    path,
                    found: current,
                    known,
                });
            }
            Ok(())
        })?;
        loop {
            let applied = self.write(|tx| {
                let current = Self::user_version(tx)?;
                let Some(sql) = MIGRATIONS.get(current as usize) else {
                    return Ok(false);
                };
                tx.execute_batch(sql)?;
                tx.execute_batch(&format!("PRAGMA user_version = {}", current + 1))?;
                tracing::info!(version = current + 1, "applied database migration");
                Ok(true)
            })?;
            if !applied {
                return Ok(());
            }
        }
    }

    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        meta_in(&self.conn(), key)
    }
}

/// A pool's connections to PostgreSQL (`r2d2`): each is a [`Store`] of its own.
pub struct PgManager {
    pub url: String,
    /// Counts the commits of every connection it makes.
    pub commits: Arc<AtomicU64>,
    /// What its connections' notices carry (the pool's listener skips them).
    pub notify_as: String,
}

impl r2d2::ManageConnection for PgManager {
    type Connection = Store;
    type Error = Error;

    fn connect(&self) -> Result<Store> {
        let mut store = Store::connect_postgres(&self.url)?;
        store.pool_commits = Some(self.commits.clone());
        store.write_end = Some(pg_write_end_as(&self.notify_as));
        Ok(store)
    }

    fn is_valid(&self, store: &mut Store) -> Result<()> {
        store
            .conn()
            .query_row("SELECT 1", args![], |r| r.get::<i64>(0))?;
        Ok(())
    }

    fn has_broken(&self, _: &mut Store) -> bool {
        // Its connection thread reconnects by itself between transactions.
        false
    }
}

/// Runs `f` between `begin` and `end` (the batches that open and commit a transaction),
/// rolled back if anything fails on the way. Opened before BEGIN: a failure inside the
/// opening batch (the write lock not granted within lock_timeout) leaves an aborted
/// transaction on the session, which its ROLLBACK ends.
fn pg_transaction<T>(
    client: &sql::PgConn,
    begin: &str,
    end: &str,
    f: impl FnOnce(&Db<'_>) -> Result<T>,
) -> Result<T> {
    let mut open = OpenTransaction {
        client,
        done: false,
    };
    open.client.batch(begin)?;
    let out = f(&Db::Postgres(open.client))?;
    open.client.batch(end)?;
    open.done = true;
    Ok(out)
}

/// Rolls a PostgreSQL transaction back unless it was committed (an error or a panic in
/// the middle of a write leaves nothing behind).
struct OpenTransaction<'a> {
    client: &'a sql::PgConn,
    done: bool,
}

impl Drop for OpenTransaction<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        if let Err(e) = self.client.batch("ROLLBACK") {
            tracing::warn!(error = %e, "could not roll back a transaction");
        }
    }
}

pub(crate) fn meta_in(tx: &Db<'_>, key: &str) -> Result<Option<String>> {
    tx.query_opt("SELECT value FROM meta WHERE key = ?1", args![key], |r| {
        r.get(0)
    })
}

pub(crate) fn set_meta_in(tx: &Db<'_>, key: &str, value: &str) -> Result<()> {
    tx.execute(
        "INSERT INTO meta(key, value) VALUES (?1, ?2)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        args![key, value],
    )?;
    Ok(())
}

fn create_private_dir(dir: &Path) -> Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .map_err(|e| Error::io(format!("cannot create data directory {}", dir.display()), e))
}

fn restrict_file_mode(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // Metadata is not secret, but there is no reason for others to read it.
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
    }
    #[cfg(not(unix))]
    let _ = path;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_url_never_shows_its_password() {
        for (given, shown) in [
            (
                "postgres://authdesk:S3CRETPW@db:5432/authdesk",
                "postgres://authdesk:***@db:5432/authdesk",
            ),
            (
                "postgres://authdesk@db/authdesk?password=S3CRETPW&sslmode=require",
                "postgres://authdesk@db/authdesk?password=***&sslmode=require",
            ),
            (
                "host=db user=authdesk password=S3CRETPW dbname=a",
                "host=db user=authdesk password=*** dbname=a",
            ),
            ("host=db password='S3 CRET PW'", "host=db password=***"),
            (
                "postgres:/authdesk:S3CRETPW@127.0.0.1:5432/postgres",
                "postgres:/authdesk:***@127.0.0.1:5432/postgres",
            ),
            ("authdesk:S3CRETPW@127.0.0.1", "authdesk:***@127.0.0.1"),
            (
                " postgres://u:S3CRETPW@[::1]:5432/d ",
                "postgres://u:***@[::1]:5432/d",
            ),
            (
                "postgres://authdesk@db:5432/authdesk",
                "postgres://authdesk@db:5432/authdesk",
            ),
        ] {
            assert_eq!(redacted_url(given), shown, "{given}");
        }
    }

    #[test]
    fn migrations_apply_once_and_set_pragmas() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let v: i64 = store
            .conn()
            .query_row("PRAGMA user_version", args![], |r| r.get(0))
            .unwrap();
        assert_eq!(v, schema_version());
        let mode: String = store
            .conn()
            .query_row("PRAGMA journal_mode", args![], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let sync: i64 = store
            .conn()
            .query_row("PRAGMA synchronous", args![], |r| r.get(0))
            .unwrap();
        assert_eq!(sync, 2, "synchronous=FULL");
        drop(store);
        // Re-opening is a no-op.
        let store = Store::open(dir.path()).unwrap();
        let tables: i64 = store
            .conn()
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='accounts'",
                args![],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(tables, 1);
    }

    #[test]
    fn a_database_from_a_newer_build_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        drop(Store::open(dir.path()).unwrap());
        let conn = Connection::open(dir.path().join(DATABASE_FILE)).unwrap();
        conn.pragma_update(None, "user_version", schema_version() + 1)
            .unwrap();
        drop(conn);
        let e = Store::open(dir.path()).err().unwrap().to_string();
        assert!(e.contains("newer Authdesk"), "{e}");
    }

    #[test]
    fn a_failed_migration_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DATABASE_FILE);
        let mut store = Store::open(dir.path()).unwrap();
        let r = store.write(|tx| {
            tx.execute_batch("CREATE TABLE half_done(x); SELECT * FROM no_such_table;")?;
            Ok(())
        });
        assert!(r.is_err());
        let conn = Connection::open(path).unwrap();
        let n: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name='half_done'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 0);
    }
}
