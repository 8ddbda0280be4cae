//! The PostgreSQL connection: on a thread of its own (the `postgres` client must not run
//! inside another runtime), TLS as libpq means it, the session settings a team server
//! needs, reconnection between transactions (never inside one), and the rewriting of the
//! shared SQL for PostgreSQL (`?N` to `$N`, `LIKE` to `ILIKE`).
//!
//! Must not: be used but through [`super::sql::Db`].

use std::sync::mpsc;

use postgres::types::{ToSql as PgToSql, Type};

use super::value::{Kind, ToValue, Value};
use crate::error::{DbError, Error, Result};

/// A PostgreSQL connection on a thread of its own. The `postgres` client runs a small
/// runtime of its own and must not be called from inside another one (an async handler,
/// an async test); its thread makes every caller alike.
pub struct PgConn {
    requests: mpsc::Sender<PgRequest>,
}

pub(super) enum PgOp {
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

pub(super) enum PgAnswer {
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

    pub(super) fn connect(&self) -> std::result::Result<postgres::Client, postgres::Error> {
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

    pub(super) fn ask(&self, op: PgOp, sql: &str, params: &[&dyn ToValue]) -> Result<PgAnswer> {
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
