//! SQL that runs unchanged on both backends, SQLite (the embedded default) and PostgreSQL
//! (the team server).
//!
//! Every query in the core goes through [`Db`]: statements are written once, with `?N`
//! placeholders (rewritten to `$N` for PostgreSQL), in the subset of SQL both databases
//! speak the same way (`INSERT ... ON CONFLICT`, `RETURNING`, `COALESCE`, `CAST(x AS TEXT)`).
//! Values cross as [`Value`]: integers, reals, text and bytes, the types SQLite has; the
//! PostgreSQL schema uses the matching `BIGINT`, `DOUBLE PRECISION`, `TEXT` and `BYTEA`
//! columns, and each parameter is sent with its type (a NULL too), so the server never has
//! to guess one.
//!
//! Must not: open or end a transaction (that is `Store::write`), or hold the product's
//! queries (the modules that own the rows do).

pub use super::postgres::PgConn;
pub use super::postgres::{lost_connection, postgres_placeholders, PgTarget};
use super::postgres::{PgAnswer, PgOp};
use super::value::RowInner;
pub use super::value::*;
pub use crate::error::DbError;
use crate::error::{Error, Result};

/// A connection (or the transaction open on it) of either backend.
#[derive(Clone, Copy)]
pub enum Db<'a> {
    Sqlite(&'a rusqlite::Connection),
    Postgres(&'a PgConn),
}

impl<'a> Db<'a> {
    pub fn is_postgres(&self) -> bool {
        matches!(self, Db::Postgres(_))
    }

    /// Runs a statement; the number of rows it changed.
    pub fn execute(&self, sql: &str, params: &[&dyn ToValue]) -> Result<usize> {
        match self {
            Db::Sqlite(c) => {
                let values = sqlite_params(params);
                Ok(c.prepare_cached(sql)?
                    .execute(rusqlite::params_from_iter(values.iter()))?)
            }
            Db::Postgres(c) => match c.ask(PgOp::Execute, sql, params)? {
                PgAnswer::Count(n) => Ok(n as usize),
                _ => Err(Error::Internal("unexpected PostgreSQL answer".into())),
            },
        }
    }

    /// Statements without parameters, separated by `;` (migrations).
    pub fn execute_batch(&self, sql: &str) -> Result<()> {
        match self {
            Db::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Db::Postgres(c) => c.batch(sql),
        }
    }

    /// Calls `f` for each row of the answer, in order; stops at its first error.
    pub fn for_each(
        &self,
        sql: &str,
        params: &[&dyn ToValue],
        mut f: impl FnMut(&Row<'_>) -> Result<()>,
    ) -> Result<()> {
        match self {
            Db::Sqlite(c) => {
                let values = sqlite_params(params);
                let mut stmt = c.prepare_cached(sql)?;
                let mut rows = stmt.query(rusqlite::params_from_iter(values.iter()))?;
                while let Some(r) = rows.next()? {
                    f(&Row(RowInner::Sqlite(r)))?;
                }
                Ok(())
            }
            Db::Postgres(c) => {
                // The rows are read before `f` runs, so `f` may query again.
                let PgAnswer::Rows(rows) = c.ask(PgOp::Query, sql, params)? else {
                    return Err(Error::Internal("unexpected PostgreSQL answer".into()));
                };
                for r in &rows {
                    f(&Row(RowInner::Postgres(r)))?;
                }
                Ok(())
            }
        }
    }

    /// Every row, each turned into a `T` by `f`.
    pub fn query_map<T>(
        &self,
        sql: &str,
        params: &[&dyn ToValue],
        mut f: impl FnMut(&Row<'_>) -> Result<T>,
    ) -> Result<Vec<T>> {
        let mut out = Vec::new();
        self.for_each(sql, params, |r| {
            out.push(f(r)?);
            Ok(())
        })?;
        Ok(out)
    }

    /// The first row, if there is one.
    pub fn query_opt<T>(
        &self,
        sql: &str,
        params: &[&dyn ToValue],
        f: impl FnOnce(&Row<'_>) -> Result<T>,
    ) -> Result<Option<T>> {
        let mut f = Some(f);
        let mut out = None;
        self.for_each(sql, params, |r| {
            if let Some(f) = f.take() {
                out = Some(f(r)?);
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// The first row; an error if there is none.
    pub fn query_row<T>(
        &self,
        sql: &str,
        params: &[&dyn ToValue],
        f: impl FnOnce(&Row<'_>) -> Result<T>,
    ) -> Result<T> {
        self.query_opt(sql, params, f)?
            .ok_or(Error::Database(DbError::NoRows))
    }
}

fn sqlite_params(params: &[&dyn ToValue]) -> Vec<rusqlite::types::Value> {
    use rusqlite::types::Value as S;
    params
        .iter()
        .map(|p| match p.to_value() {
            Value::Null(_) => S::Null,
            Value::Int(i) => S::Integer(i),
            Value::Real(r) => S::Real(r),
            Value::Text(t) => S::Text(t),
            Value::Blob(b) => S::Blob(b),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_numbered_dollars_outside_quotes() {
        assert_eq!(
            postgres_placeholders(
                "SELECT a FROM t WHERE b = ?1 AND c = ?12 AND d LIKE '?x' ESCAPE '\\'"
            ),
            "SELECT a FROM t WHERE b = $1 AND c = $12 AND d ILIKE '?x' ESCAPE '\\'"
        );
        assert_eq!(postgres_placeholders("VALUES (?, ?)"), "VALUES ($1, $2)");
        assert_eq!(
            postgres_placeholders("name LIKE ?1 OR unlike = 'LIKE' OR x like ?2"),
            "name ILIKE $1 OR unlike = 'LIKE' OR x ILIKE $2"
        );
    }

    #[test]
    fn database_errors_never_show_values_even_in_debug() {
        let c = rusqlite::Connection::open_in_memory().unwrap();
        let db = Db::Sqlite(&c);
        db.execute_batch("CREATE TABLE t(k TEXT PRIMARY KEY)")
            .unwrap();
        db.execute("INSERT INTO t VALUES (?1)", args!["canary-value"])
            .unwrap();
        let e = db
            .execute("INSERT INTO t VALUES (?1)", args!["canary-value"])
            .unwrap_err();
        for text in [e.to_string(), format!("{e:?}")] {
            assert!(text.contains("UNIQUE"), "{text}");
            assert!(!text.contains("canary-value"), "{text}");
        }
    }

    #[test]
    fn values_round_trip_through_sqlite() {
        let c = rusqlite::Connection::open_in_memory().unwrap();
        let db = Db::Sqlite(&c);
        db.execute_batch("CREATE TABLE t(i INTEGER, r REAL, s TEXT, b BLOB)")
            .unwrap();
        let none: Option<i64> = None;
        db.execute(
            "INSERT INTO t VALUES (?1, ?2, ?3, ?4)",
            args![7i64, 1.5f64, "x", vec![1u8, 2]],
        )
        .unwrap();
        db.execute("INSERT INTO t(i) VALUES (?1)", args![none])
            .unwrap();
        let rows = db
            .query_map("SELECT i, r, s, b FROM t ORDER BY rowid", args![], |r| {
                Ok((
                    r.get::<Option<i64>>(0)?,
                    r.get::<Option<f64>>(1)?,
                    r.get::<Option<String>>(2)?,
                    r.get::<Option<Vec<u8>>>(3)?,
                ))
            })
            .unwrap();
        assert_eq!(
            rows[0],
            (Some(7), Some(1.5), Some("x".into()), Some(vec![1, 2]))
        );
        assert_eq!(rows[1], (None, None, None, None));
        let e = db
            .query_row("SELECT s FROM t WHERE i = 7", args![], |r| r.get::<i64>(0))
            .unwrap_err()
            .to_string();
        assert!(e.contains("expected an integer, found text"), "{e}");
        assert!(db
            .query_opt("SELECT 1 WHERE 0", args![], |r| r.get::<i64>(0))
            .unwrap()
            .is_none());
    }
}
