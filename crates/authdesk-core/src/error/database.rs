//! Failures of the database layer as errors carry them: a driver's error (SQLite or
//! PostgreSQL) or the layer's own, whose text never contains parameter values. Here, in
//! the error module, so that errors do not depend on the store (the store depends on them).
//!
//! Must not: name the store, or print a value a query carried.

use std::fmt;

use super::Error;

/// A failure inside the database layer. Its text never contains parameter values: not
/// in `Display`, not in `Debug` (a PostgreSQL DETAIL line may quote a row's values).
pub enum DbError {
    Sqlite(rusqlite::Error),
    Postgres(postgres::Error),
    /// A query that must answer one row answered none.
    NoRows,
    /// A column could not be read as the type the code asked for.
    Conversion {
        column: usize,
        message: String,
    },
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbError::Sqlite(e) => write!(f, "{e}"),
            DbError::Postgres(e) => match e.as_db_error() {
                // Only the message: a DETAIL line may quote the values of a row.
                Some(db) => write!(f, "{}: {}", db.code().code(), db.message()),
                None => match std::error::Error::source(e) {
                    Some(cause) => write!(f, "{e}: {cause}"),
                    None => write!(f, "{e}"),
                },
            },
            DbError::NoRows => write!(f, "the query returned no rows"),
            DbError::Conversion { column, message } => {
                write!(f, "column {column}: {message}")
            }
        }
    }
}

impl fmt::Debug for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self {
            DbError::Sqlite(_) => "Sqlite",
            DbError::Postgres(_) => "Postgres",
            DbError::NoRows => "NoRows",
            DbError::Conversion { .. } => "Conversion",
        };
        write!(f, "DbError::{kind}({self})")
    }
}

impl std::error::Error for DbError {}

impl DbError {
    /// PostgreSQL's SQLSTATE, if the server reported one.
    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            DbError::Postgres(e) => e.code().map(|c| c.code()),
            _ => None,
        }
    }
}

impl From<DbError> for Error {
    fn from(e: DbError) -> Error {
        match e {
            DbError::Sqlite(e) => e.into(),
            other => Error::Database(other),
        }
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Error {
        // The one SQLite failure a user can fix at once: say how.
        if e.sqlite_error_code() == Some(rusqlite::ErrorCode::ReadOnly) {
            return Error::InvalidInput(
                "the data directory's database is read-only for this user, and Authdesk must \
                 write to it (its write-ahead log needs that even for reading). Run as the user who owns \
                 the data directory, or give --data-dir a directory you can write"
                    .into(),
            );
        }
        Error::Database(DbError::Sqlite(e))
    }
}

impl From<postgres::Error> for Error {
    fn from(e: postgres::Error) -> Error {
        Error::Database(DbError::Postgres(e))
    }
}
