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

use std::sync::mpsc;

use postgres::types::{ToSql as PgToSql, Type};

use crate::error::{Error, Result};

/// The type of a value (also of a NULL, which PostgreSQL needs to know).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Int,
    Real,
    Text,
    Blob,
}

/// A value as it crosses into or out of the database.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null(Kind),
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

pub use crate::error::DbError;

// ---- values in ------------------------------------------------------------------------

/// A Rust value that can be a statement parameter.
pub trait ToValue {
    fn to_value(&self) -> Value;
}

/// The [`Kind`] of a type, so that `None` can be sent as a typed NULL.
pub trait HasKind {
    const KIND: Kind;
}

macro_rules! int_values {
    ($($t:ty),*) => {$(
        impl ToValue for $t {
            fn to_value(&self) -> Value {
                Value::Int(*self as i64)
            }
        }
        impl HasKind for $t {
            const KIND: Kind = Kind::Int;
        }
    )*};
}
int_values!(i64, i32, u32, u16, u8);

impl ToValue for u64 {
    fn to_value(&self) -> Value {
        Value::Int(i64::try_from(*self).unwrap_or(i64::MAX))
    }
}
impl HasKind for u64 {
    const KIND: Kind = Kind::Int;
}
impl ToValue for usize {
    fn to_value(&self) -> Value {
        Value::Int(i64::try_from(*self).unwrap_or(i64::MAX))
    }
}
impl HasKind for usize {
    const KIND: Kind = Kind::Int;
}
impl ToValue for bool {
    fn to_value(&self) -> Value {
        Value::Int(*self as i64)
    }
}
impl HasKind for bool {
    const KIND: Kind = Kind::Int;
}
impl ToValue for f64 {
    fn to_value(&self) -> Value {
        Value::Real(*self)
    }
}
impl HasKind for f64 {
    const KIND: Kind = Kind::Real;
}
impl ToValue for str {
    fn to_value(&self) -> Value {
        Value::Text(self.to_owned())
    }
}
impl HasKind for str {
    const KIND: Kind = Kind::Text;
}
impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
}
impl HasKind for String {
    const KIND: Kind = Kind::Text;
}
impl ToValue for [u8] {
    fn to_value(&self) -> Value {
        Value::Blob(self.to_vec())
    }
}
impl HasKind for [u8] {
    const KIND: Kind = Kind::Blob;
}
impl ToValue for Vec<u8> {
    fn to_value(&self) -> Value {
        Value::Blob(self.clone())
    }
}
impl HasKind for Vec<u8> {
    const KIND: Kind = Kind::Blob;
}
impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}
impl<T: HasKind + ?Sized> HasKind for &T {
    const KIND: Kind = T::KIND;
}
impl<T: ToValue + HasKind> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        match self {
            Some(v) => v.to_value(),
            None => Value::Null(T::KIND),
        }
    }
}
impl ToValue for Value {
    fn to_value(&self) -> Value {
        self.clone()
    }
}

/// Statement parameters: `args![a, b, c]`.
#[macro_export]
macro_rules! args {
    () => { &[] as &[&dyn $crate::store::sql::ToValue] };
    ($($v:expr),+ $(,)?) => { &[$(&$v as &dyn $crate::store::sql::ToValue),+] as &[&dyn $crate::store::sql::ToValue] };
}
pub use args;

// ---- values out -----------------------------------------------------------------------

/// A Rust value a column can be read as.
pub trait FromValue: Sized {
    fn from_value(v: Value) -> std::result::Result<Self, String>;
}

fn wrong(v: &Value, wanted: &str) -> String {
    let found = match v {
        Value::Null(_) => "NULL",
        Value::Int(_) => "an integer",
        Value::Real(_) => "a real",
        Value::Text(_) => "text",
        Value::Blob(_) => "bytes",
    };
    format!("expected {wanted}, found {found}")
}

impl FromValue for i64 {
    fn from_value(v: Value) -> std::result::Result<Self, String> {
        match v {
            Value::Int(i) => Ok(i),
            other => Err(wrong(&other, "an integer")),
        }
    }
}
macro_rules! narrow_ints {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            fn from_value(v: Value) -> std::result::Result<Self, String> {
                let i = i64::from_value(v)?;
                <$t>::try_from(i).map_err(|_| format!("{i} is out of range"))
            }
        }
    )*};
}
narrow_ints!(i32, u32, u64, usize, u16, u8);

impl FromValue for bool {
    fn from_value(v: Value) -> std::result::Result<Self, String> {
        Ok(i64::from_value(v)? != 0)
    }
}
impl FromValue for f64 {
    fn from_value(v: Value) -> std::result::Result<Self, String> {
        match v {
            Value::Real(r) => Ok(r),
            Value::Int(i) => Ok(i as f64),
            other => Err(wrong(&other, "a real")),
        }
    }
}
impl FromValue for String {
    fn from_value(v: Value) -> std::result::Result<Self, String> {
        match v {
            Value::Text(s) => Ok(s),
            other => Err(wrong(&other, "text")),
        }
    }
}
impl FromValue for Vec<u8> {
    fn from_value(v: Value) -> std::result::Result<Self, String> {
        match v {
            Value::Blob(b) => Ok(b),
            other => Err(wrong(&other, "bytes")),
        }
    }
}
impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: Value) -> std::result::Result<Self, String> {
        match v {
            Value::Null(_) => Ok(None),
            v => T::from_value(v).map(Some),
        }
    }
}
impl FromValue for Value {
    fn from_value(v: Value) -> std::result::Result<Self, String> {
        Ok(v)
    }
}

/// One row of an answer.
pub struct Row<'r>(RowInner<'r>);

enum RowInner<'r> {
    Sqlite(&'r rusqlite::Row<'r>),
    Postgres(&'r postgres::Row),
}

impl Row<'_> {
    /// Column `i` (from 0) as a `T`.
    pub fn get<T: FromValue>(&self, i: usize) -> Result<T> {
        let v = self.value(i)?;
        T::from_value(v)
            .map_err(|message| Error::Database(DbError::Conversion { column: i, message }))
    }

    fn value(&self, i: usize) -> Result<Value> {
        match &self.0 {
            RowInner::Sqlite(r) => {
                use rusqlite::types::ValueRef;
                Ok(match r.get_ref(i)? {
                    ValueRef::Null => Value::Null(Kind::Text),
                    ValueRef::Integer(n) => Value::Int(n),
                    ValueRef::Real(x) => Value::Real(x),
                    ValueRef::Text(t) => Value::Text(
                        std::str::from_utf8(t)
                            .map_err(|e| DbError::Conversion {
                                column: i,
                                message: e.to_string(),
                            })?
                            .to_owned(),
                    ),
                    ValueRef::Blob(b) => Value::Blob(b.to_vec()),
                })
            }
            RowInner::Postgres(r) => pg_value(r, i),
        }
    }
}

fn pg_value(r: &postgres::Row, i: usize) -> Result<Value> {
    let column = r.columns().get(i).ok_or(DbError::Conversion {
        column: i,
        message: "no such column".into(),
    })?;
    let ty = column.type_().clone();
    let v = if ty == Type::INT8 {
        r.try_get::<_, Option<i64>>(i)?
            .map(Value::Int)
            .unwrap_or(Value::Null(Kind::Int))
    } else if ty == Type::INT4 {
        r.try_get::<_, Option<i32>>(i)?
            .map(|n| Value::Int(n.into()))
            .unwrap_or(Value::Null(Kind::Int))
    } else if ty == Type::INT2 {
        r.try_get::<_, Option<i16>>(i)?
            .map(|n| Value::Int(n.into()))
            .unwrap_or(Value::Null(Kind::Int))
    } else if ty == Type::BOOL {
        r.try_get::<_, Option<bool>>(i)?
            .map(|b| Value::Int(b.into()))
            .unwrap_or(Value::Null(Kind::Int))
    } else if ty == Type::FLOAT8 {
        r.try_get::<_, Option<f64>>(i)?
            .map(Value::Real)
            .unwrap_or(Value::Null(Kind::Real))
    } else if ty == Type::FLOAT4 {
        r.try_get::<_, Option<f32>>(i)?
            .map(|x| Value::Real(x.into()))
            .unwrap_or(Value::Null(Kind::Real))
    } else if ty == Type::TEXT || ty == Type::VARCHAR || ty == Type::NAME || ty == Type::BPCHAR {
        r.try_get::<_, Option<String>>(i)?
            .map(Value::Text)
            .unwrap_or(Value::Null(Kind::Text))
    } else if ty == Type::BYTEA {
        r.try_get::<_, Option<Vec<u8>>>(i)?
            .map(Value::Blob)
            .unwrap_or(Value::Null(Kind::Blob))
    } else {
        return Err(Error::Database(DbError::Conversion {
            column: i,
            message: format!(
                "PostgreSQL type {ty} is not one the store uses (cast it to BIGINT or TEXT)"
            ),
        }));
    };
    Ok(v)
}

// ---- the connection -------------------------------------------------------------------

/// A connection (or the transaction open on it) of either backend.
#[derive(Clone, Copy)]
pub enum Db<'a> {
    Sqlite(&'a rusqlite::Connection),
    Postgres(&'a PgConn),
}

/// A PostgreSQL connection on a thread of its own. The `postgres` client runs a small
/// runtime of its own and must not be called from inside another one (an async handler,
/// an async test); its thread makes every caller alike.
pub struct PgConn {
    requests: mpsc::Sender<PgRequest>,
}

enum PgOp {
    Query,
    Execute,
    Batch,
}

struct PgRequest {
    op: PgOp,
    sql: String,
    params: Vec<PgParam>,
    reply: mpsc::Sender<Result<PgAnswer>>,
}

impl PgRequest {
    /// A batch that ends a transaction (`...; COMMIT` or `ROLLBACK`).
    fn op_ends_transaction(&self) -> bool {
        let sql = self.sql.trim_end().trim_end_matches(';').trim_end();
        matches!(self.op, PgOp::Batch) && (sql.ends_with("COMMIT") || sql.ends_with("ROLLBACK"))
    }
}

enum PgAnswer {
    Rows(Vec<postgres::Row>),
    Count(u64),
    Done,
}

/// Where and how to reach PostgreSQL: the URL as the driver reads it, and TLS when the URL
/// asks for it (`sslmode=require`, `verify-ca` or `verify-full`), with libpq's meaning of
/// `sslrootcert`: a file trusts the CAs in it and nothing else (the system's store is off);
/// `sslrootcert=system` trusts the system's store and needs `verify-full`. `verify-ca` needs
/// `sslrootcert` (a file): it checks the chain only, so it must not be a chain to any public
/// CA. `verify-full` and `require` check the chain and the host name (Authdesk's `require`
/// verifies, unlike libpq's), against the file or, without one, the system's store. Without
/// `sslmode` (or with `disable` or `prefer`) the connection is not encrypted. `sslcert=PATH&sslkey=PATH` (PEM, as libpq
/// names them) give a client certificate for servers that ask for one (mutual TLS); the key
/// file must not be readable by others, as libpq insists.
#[derive(Clone)]
pub struct PgTarget {
    url: String,
    tls: Option<postgres_native_tls::MakeTlsConnector>,
    /// What each new session is set to ([`SESSION_SETTINGS`], less what the URL sets).
    session: String,
}

impl PgTarget {
    pub fn parse(url: &str) -> Result<PgTarget> {
        let bad = |m: String| Error::InvalidInput(m);
        // key=value connection strings go to the driver as they are.
        let session = session_settings(url);
        let Ok(mut parsed) = url::Url::parse(url) else {
            return Ok(PgTarget {
                url: url.to_owned(),
                tls: None,
                session,
            });
        };
        let mut mode = None;
        let mut root = None;
        let mut client_cert = None;
        let mut client_key = None;
        let mut rest = vec![];
        for (k, v) in parsed.query_pairs().into_owned() {
            match k.as_str() {
                "sslmode" => mode = Some(v),
                "sslrootcert" => root = Some(v),
                "sslcert" => client_cert = Some(v),
                "sslkey" => client_key = Some(v),
                _ => rest.push((k, v)),
            }
        }
        let verify = match mode.as_deref() {
            None | Some("disable") | Some("prefer") => false,
            Some("require") | Some("verify-ca") | Some("verify-full") => true,
            Some(other) => {
                return Err(bad(format!(
                    "sslmode={other} is not one of disable, prefer, require, verify-ca, verify-full"
                )))
            }
        };
        for (name, given) in [
            ("sslrootcert", root.is_some()),
            ("sslcert", client_cert.is_some()),
            ("sslkey", client_key.is_some()),
        ] {
            if given && !verify {
                return Err(bad(format!(
                    "{name} needs sslmode=verify-full (or require, verify-ca): without it the \
                     connection is not encrypted"
                )));
            }
        }
        let identity = match (&client_cert, &client_key) {
            (None, None) => None,
            (Some(cert), Some(key)) => Some(client_identity(cert, key)?),
            (Some(_), None) => {
                return Err(bad(
                    "sslcert needs sslkey too: the client certificate's private key (PEM)".into(),
                ))
            }
            (None, Some(_)) => {
                return Err(bad(
                    "sslkey needs sslcert too: the client certificate (PEM) it belongs to".into(),
                ))
            }
        };
        let system_roots = matches!(root.as_deref(), None | Some("system"));
        if root.as_deref() == Some("system") && mode.as_deref() != Some("verify-full") {
            return Err(bad(
                "sslrootcert=system needs sslmode=verify-full (as libpq insists): the system's \
                 CAs vouch for names, so the name must be checked"
                    .into(),
            ));
        }
        if mode.as_deref() == Some("verify-ca") && system_roots {
            return Err(bad(
                "sslmode=verify-ca trusts only the CA in sslrootcert and checks no host name: give \
                 sslrootcert=PATH (your server's CA certificate, PEM), or use sslmode=verify-full"
                    .into(),
            ));
        }
        if verify {
            rest.push(("sslmode".into(), "require".into()));
        }
        // A server or a network that goes away must not hold a replica (or a writer queued
        // behind it) for the kernel's two hours: the URL's own values win.
        for (name, value) in CLIENT_DEFAULTS {
            if !rest.iter().any(|(k, _)| k == name) {
                rest.push(((*name).into(), (*value).into()));
            }
        }
        if rest.is_empty() {
            parsed.set_query(None);
        } else {
            // Percent-encoded, spaces as %20: the driver does not read `+` as a space
            // (`options=-c lock_timeout=5s` would reach the server as `-c+lock_timeout`).
            let encode = |t: &str| {
                url::form_urlencoded::byte_serialize(t.as_bytes())
                    .collect::<String>()
                    .replace('+', "%20")
            };
            let query: Vec<String> = rest
                .iter()
                .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
                .collect();
            parsed.set_query(Some(&query.join("&")));
        }
        let tls = if verify {
            let mut builder = native_tls::TlsConnector::builder();
            if let Some(path) = root.as_deref().filter(|_| !system_roots) {
                let pem = std::fs::read(path)
                    .map_err(|e| bad(format!("sslrootcert {path} cannot be read: {e}")))?;
                let certs = native_tls::Certificate::stack_from_pem(&pem)
                    .ok()
                    .filter(|c| !c.is_empty())
                    .ok_or_else(|| bad(format!("sslrootcert {path} holds no PEM certificate")))?;
                // The file's CAs and nothing else.
                builder.disable_built_in_roots(true);
                for cert in certs {
                    builder.add_root_certificate(cert);
                }
            }
            if mode.as_deref() == Some("verify-ca") {
                builder.danger_accept_invalid_hostnames(true);
            }
            if let Some(identity) = identity {
                builder.identity(identity);
            }
            let connector = builder
                .build()
                .map_err(|e| bad(format!("cannot set up TLS for PostgreSQL: {e}")))?;
            Some(postgres_native_tls::MakeTlsConnector::new(connector))
        } else {
            None
        };
        Ok(PgTarget {
            url: parsed.to_string(),
            tls,
            session,
        })
    }

    fn connect(&self) -> std::result::Result<postgres::Client, postgres::Error> {
        let mut client = match &self.tls {
            Some(tls) => postgres::Client::connect(&self.url, tls.clone())?,
            None => postgres::Client::connect(&self.url, postgres::NoTls)?,
        };
        if !self.session.is_empty() {
            client.batch_execute(&self.session)?;
        }
        Ok(client)
    }
}

/// Client-side connection settings, unless the URL gives its own: connect within 10 s,
/// TCP keepalives after 20 s idle (every 5 s, 3 tries), and unacknowledged data for 30 s
/// ends the connection.
const CLIENT_DEFAULTS: &[(&str, &str)] = &[
    ("connect_timeout", "10"),
    ("keepalives_idle", "20"),
    ("keepalives_interval", "5"),
    ("keepalives_retries", "3"),
    ("tcp_user_timeout", "30"),
];

/// Each session's settings, so one cut-off replica cannot stall every writer: a writer
/// waits at most 60 s for a lock (the write lock other writers queue on included) and then
/// fails clearly instead of hanging; a session that sits idle inside a transaction for 30 s
/// (a replica that lost its network while holding the write lock) is ended by the server,
/// which releases its locks; and the server probes idle connections like the client does.
/// A setting the URL gives itself (`options=-c lock_timeout=5s`) is left as it says.
const SESSION_SETTINGS: &[(&str, &str)] = &[
    ("lock_timeout", "'60s'"),
    ("idle_in_transaction_session_timeout", "'30s'"),
    ("tcp_keepalives_idle", "20"),
    ("tcp_keepalives_interval", "5"),
    ("tcp_keepalives_count", "3"),
];

fn session_settings(url: &str) -> String {
    SESSION_SETTINGS
        .iter()
        .filter(|(name, _)| !url.contains(name))
        .map(|(name, value)| format!("SET {name} = {value}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// A client certificate and its key, read from PEM files. The key's text never reaches an
/// error; a key file that others may read is refused (libpq's rule: 0600 or stricter, or
/// 0640 when root owns it).
fn client_identity(cert: &str, key: &str) -> Result<native_tls::Identity> {
    let bad = |m: String| Error::InvalidInput(m);
    let cert_pem =
        std::fs::read(cert).map_err(|e| bad(format!("sslcert {cert} cannot be read: {e}")))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let meta =
            std::fs::metadata(key).map_err(|e| bad(format!("sslkey {key} cannot be read: {e}")))?;
        let mode = meta.mode() & 0o777;
        let allowed = if meta.uid() == 0 { 0o640 } else { 0o600 };
        if mode & !allowed != 0 {
            return Err(bad(format!(
                "sslkey {key} may be read by others (mode {mode:o}): chmod 600 it (0640 if root owns it)"
            )));
        }
    }
    let key_pem =
        std::fs::read(key).map_err(|e| bad(format!("sslkey {key} cannot be read: {e}")))?;
    if !key_pem.starts_with(b"-----BEGIN PRIVATE KEY-----") {
        return Err(bad(format!(
            "sslkey {key} is not an unencrypted PKCS#8 PEM key (-----BEGIN PRIVATE KEY-----): \
             convert it with `openssl pkcs8 -topk8 -nocrypt -in {key} -out client.pk8.key`"
        )));
    }
    native_tls::Identity::from_pkcs8(&cert_pem, &key_pem).map_err(|_| {
        bad(format!(
            "sslcert {cert} and sslkey {key} are not a PEM certificate and its private key"
        ))
    })
}

const LOST_IN_TRANSACTION: &str =
    "the connection to PostgreSQL was lost in the middle of a transaction; none of it was \
     committed";

/// Whether a store call failed because its PostgreSQL connection went away (a COMMIT that
/// failed so may have landed or not).
pub fn lost_connection(e: &Error) -> bool {
    match e {
        Error::Database(DbError::Postgres(pe)) => connection_lost(pe),
        Error::Internal(m) => m == LOST_IN_TRANSACTION,
        _ => false,
    }
}

/// Whether an error means the session is over (closed socket, or the server's own words:
/// an administrator or a crash shut it down).
fn connection_lost(e: &postgres::Error) -> bool {
    use postgres::error::SqlState;
    e.is_closed()
        || matches!(
            e.code(),
            Some(c) if *c == SqlState::ADMIN_SHUTDOWN || *c == SqlState::CRASH_SHUTDOWN
        )
}

impl PgConn {
    /// Connects on a new thread, which ends when the connection is dropped.
    pub fn connect(target: PgTarget) -> std::result::Result<PgConn, postgres::Error> {
        let (requests, incoming) = mpsc::channel::<PgRequest>();
        let (ready, connected) = mpsc::channel();
        std::thread::Builder::new()
            .name("authdesk-postgres".into())
            .spawn(move || {
                let mut client = match target.connect() {
                    Ok(c) => {
                        let _ = ready.send(Ok(()));
                        c
                    }
                    Err(e) => {
                        let _ = ready.send(Err(e));
                        return;
                    }
                };
                // Whether a transaction is open on `client` (BEGIN sent, no COMMIT/ROLLBACK).
                let mut in_transaction = false;
                // The server ended the session (its last error said so) even if the client
                // has not noticed the closed socket yet.
                let mut lost = false;
                for r in incoming {
                    let ends = r.op_ends_transaction();
                    if lost || client.is_closed() {
                        if in_transaction {
                            // The transaction went with its connection: every statement
                            // until its end fails, so nothing runs outside it.
                            if ends {
                                in_transaction = false;
                            }
                            let answer = if r.sql.trim() == "ROLLBACK" {
                                Ok(PgAnswer::Done)
                            } else {
                                Err(Error::Internal(LOST_IN_TRANSACTION.into()))
                            };
                            let _ = r.reply.send(answer);
                            continue;
                        }
                        // Between transactions: connect again (the server restarted, a
                        // proxy closed an idle connection).
                        match target.connect() {
                            Ok(c) => {
                                tracing::warn!("reconnected to PostgreSQL");
                                client = c;
                            }
                            Err(e) => {
                                let _ = r.reply.send(Err(DbError::Postgres(e).into()));
                                continue;
                            }
                        }
                    }
                    let refs = pg_refs(&r.params);
                    let run = |client: &mut postgres::Client| match r.op {
                        PgOp::Query => client.query_typed(&r.sql, &refs).map(PgAnswer::Rows),
                        PgOp::Execute => client.execute_typed(&r.sql, &refs).map(PgAnswer::Count),
                        PgOp::Batch => client.batch_execute(&r.sql).map(|()| PgAnswer::Done),
                    };
                    let mut answer = run(&mut client);
                    // A connection found dead by this very request: a read, or the start of
                    // a transaction, outside any transaction, is safe to send again on a new
                    // connection (nothing of it ran).
                    let retry_safe = !in_transaction
                        && (matches!(r.op, PgOp::Query) || r.sql.trim_start().starts_with("BEGIN"));
                    lost = answer.as_ref().is_err_and(connection_lost) || client.is_closed();
                    if lost && retry_safe {
                        if let Ok(c) = target.connect() {
                            tracing::warn!("reconnected to PostgreSQL");
                            client = c;
                            lost = false;
                            answer = run(&mut client);
                        }
                    }
                    if r.sql.trim_start().starts_with("BEGIN") {
                        in_transaction = answer.is_ok();
                    } else if ends {
                        in_transaction = false;
                    }
                    let _ = r
                        .reply
                        .send(answer.map_err(|e| DbError::Postgres(e).into()));
                }
            })
            .expect("a thread for the PostgreSQL connection");
        connected
            .recv()
            .expect("the PostgreSQL thread answers")
            .map(|()| PgConn { requests })
    }

    fn ask(&self, op: PgOp, sql: &str, params: &[&dyn ToValue]) -> Result<PgAnswer> {
        let (reply, answer) = mpsc::channel();
        let sql = match op {
            PgOp::Batch => sql.to_owned(),
            _ => postgres_placeholders(sql),
        };
        self.requests
            .send(PgRequest {
                op,
                sql,
                params: pg_params(params),
                reply,
            })
            .map_err(|_| Error::Internal("the PostgreSQL connection is gone".into()))?;
        answer
            .recv()
            .map_err(|_| Error::Internal("the PostgreSQL connection is gone".into()))?
    }

    pub fn batch(&self, sql: &str) -> Result<()> {
        self.ask(PgOp::Batch, sql, &[]).map(|_| ())
    }
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

type PgParam = (Box<dyn PgToSql + Send + Sync>, Type);

fn pg_params(params: &[&dyn ToValue]) -> Vec<PgParam> {
    params
        .iter()
        .map(|p| -> PgParam {
            match p.to_value() {
                Value::Null(Kind::Int) => (Box::new(None::<i64>), Type::INT8),
                Value::Null(Kind::Real) => (Box::new(None::<f64>), Type::FLOAT8),
                Value::Null(Kind::Text) => (Box::new(None::<String>), Type::TEXT),
                Value::Null(Kind::Blob) => (Box::new(None::<Vec<u8>>), Type::BYTEA),
                Value::Int(i) => (Box::new(i), Type::INT8),
                Value::Real(r) => (Box::new(r), Type::FLOAT8),
                Value::Text(t) => (Box::new(t), Type::TEXT),
                Value::Blob(b) => (Box::new(b), Type::BYTEA),
            }
        })
        .collect()
}

fn pg_refs(owned: &[PgParam]) -> Vec<(&(dyn PgToSql + Sync), Type)> {
    owned
        .iter()
        .map(|(v, t)| (v.as_ref() as &(dyn PgToSql + Sync), t.clone()))
        .collect()
}

/// SQLite's SQL as PostgreSQL needs it: `?N` (and bare `?`, numbered in order) become
/// `$N`, and `LIKE` becomes `ILIKE` (SQLite's `LIKE` ignores ASCII case, PostgreSQL's does
/// not); text in quotes is left alone.
pub fn postgres_placeholders(sql: &str) -> String {
    let sql = ilike(sql);
    let sql = sql.as_str();
    let mut out = String::with_capacity(sql.len() + 8);
    let mut next = 1;
    let mut chars = sql.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        if c == '\'' {
            quoted = !quoted;
            out.push(c);
            continue;
        }
        if c != '?' || quoted {
            out.push(c);
            continue;
        }
        let mut digits = String::new();
        while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            digits.push(*d);
            chars.next();
        }
        out.push('$');
        if digits.is_empty() {
            out.push_str(&next.to_string());
            next += 1;
        } else {
            out.push_str(&digits);
        }
    }
    out
}

fn ilike(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut quoted = false;
    let bytes = sql.as_bytes();
    let mut i = 0;
    while i < sql.len() {
        let c = bytes[i];
        if c == b'\'' {
            quoted = !quoted;
        }
        let word_start = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        if !quoted
            && word_start
            && sql[i..].len() >= 4
            && sql[i..i + 4].eq_ignore_ascii_case("like")
            && sql[i + 4..]
                .bytes()
                .next()
                .is_none_or(|b| !(b.is_ascii_alphanumeric() || b == b'_'))
        {
            out.push_str("ILIKE");
            i += 4;
            continue;
        }
        // Copy one whole character.
        let ch = sql[i..].chars().next().unwrap();
        out.push(ch);
        i += ch.len_utf8();
    }
    out
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
