//! The SQLite store: one database per data directory, shared by every process that opens
//! the directory (the desktop app, `authdesk serve`, the CLI).
//!
//! WAL, `synchronous=FULL`, a busy timeout, foreign keys on, and every write in an
//! IMMEDIATE transaction so concurrent writers queue instead of failing mid-way.
//! Migrations are append-only and numbered; each runs in one transaction and bumps
//! `PRAGMA user_version`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior};

use crate::error::{Error, Result};

pub const DATABASE_FILE: &str = "authdesk.db";
const BUSY_TIMEOUT: Duration = Duration::from_secs(15);

/// Append-only: the Nth entry brings the schema to version N.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_initial.sql"),
    include_str!("../migrations/0002_oauth_engine.sql"),
    include_str!("../migrations/0003_local_api.sql"),
    include_str!("../migrations/0004_trust.sql"),
    include_str!("../migrations/0005_cyclr_compat.sql"),
    include_str!("../migrations/0006_scale.sql"),
    include_str!("../migrations/0007_window.sql"),
];

pub fn schema_version() -> i64 {
    MIGRATIONS.len() as i64
}

pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// Commits made through this connection (see [`Store::change_marker`]).
    writes: u64,
}

/// Identifies the state of the database as this connection last saw it: equal markers
/// mean no commit happened in between, by this process or any other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChangeMarker {
    data_version: i64,
    writes: u64,
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
            conn,
            path,
            writes: 0,
        };
        store.migrate()?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Runs `f` in an IMMEDIATE transaction: the write lock is taken up front, so two
    /// processes never both read-then-write on stale data.
    pub fn write<T>(&mut self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        self.writes += 1;
        Ok(out)
    }

    /// A cheap check for "has anything been committed since?": SQLite's `data_version`
    /// changes when *other* connections commit (no disk read needed), and `writes` counts
    /// our own commits.
    pub fn change_marker(&self) -> Result<ChangeMarker> {
        let data_version = self
            .conn
            .query_row("PRAGMA data_version", [], |r| r.get(0))?;
        Ok(ChangeMarker {
            data_version,
            writes: self.writes,
        })
    }

    fn migrate(&mut self) -> Result<()> {
        let known = schema_version();
        let current: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if current == known {
            return Ok(());
        }
        let path = self.path.clone();
        self.write(|tx| {
            // Re-read under the write lock: another process may have migrated meanwhile.
            let current: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
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
                let current: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
                let Some(sql) = MIGRATIONS.get(current as usize) else {
                    return Ok(false);
                };
                tx.execute_batch(sql)?;
                tx.pragma_update(None, "user_version", current + 1)?;
                tracing::info!(version = current + 1, "applied database migration");
                Ok(true)
            })?;
            if !applied {
                return Ok(());
            }
        }
    }

    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }
}

pub(crate) fn meta_in(tx: &Transaction<'_>, key: &str) -> Result<Option<String>> {
    Ok(tx
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()?)
}

pub(crate) fn set_meta_in(tx: &Transaction<'_>, key: &str, value: &str) -> Result<()> {
    tx.execute(
        "INSERT INTO meta(key, value) VALUES (?1, ?2)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [key, value],
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
    fn migrations_apply_once_and_set_pragmas() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let v: i64 = store
            .conn()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, schema_version());
        let mode: String = store
            .conn()
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let sync: i64 = store
            .conn()
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .unwrap();
        assert_eq!(sync, 2, "synchronous=FULL");
        drop(store);
        // Re-opening is a no-op.
        let store = Store::open(dir.path()).unwrap();
        let tables: i64 = store
            .conn()
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='accounts'",
                [],
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
