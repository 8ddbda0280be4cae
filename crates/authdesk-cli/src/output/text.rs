//! The readable forms: tables, labels, dates, spans and statuses, as the terminal shows
//! them (the JSON forms are the core's views, printed as they are).
//!
//! Must not: print (that is `Out`), or show a secret.

use authdesk_core::definition::AuthType;
use authdesk_core::{AccountConnector, LibraryConnector};
use chrono::{DateTime, Utc};
use std::fmt::Write as _;

const ACCOUNT_CONNECTOR_HEADERS: &[&str] = &[
    "ID",
    "ACCOUNT",
    "NAME",
    "CONNECTOR",
    "AUTH",
    "STATUS",
    "EXPIRES",
];

fn account_connector_row(ac: &AccountConnector) -> Vec<String> {
    vec![
        ac.id.to_string(),
        ac.account_id.clone(),
        ac.name.clone(),
        ac.connector.slug.clone(),
        ac.authentication.auth_type.to_string(),
        status_text(ac, false),
        ac.expires_at
            .as_ref()
            .map(date)
            .unwrap_or_else(|| "-".into()),
    ]
}

pub(super) fn account_connector_table(list: &[AccountConnector]) -> String {
    table(
        ACCOUNT_CONNECTOR_HEADERS,
        list.iter().map(account_connector_row),
    )
}

/// The account connectors' table written chunk by chunk (`list --all` of a million rows in
/// the memory of one chunk): the column widths are the first chunk's; a longer value in a
/// later chunk widens only its own row.
#[derive(Default)]
pub(super) struct AccountConnectorTable {
    widths: Option<Vec<usize>>,
}

impl AccountConnectorTable {
    /// The lines for `chunk` (the header first, with the first chunk).
    pub(super) fn chunk(&mut self, chunk: &[AccountConnector]) -> String {
        let rows: Vec<Vec<String>> = chunk.iter().map(account_connector_row).collect();
        let mut s = String::new();
        if self.widths.is_none() && !rows.is_empty() {
            let widths = widths(ACCOUNT_CONNECTOR_HEADERS, &rows);
            line(
                &mut s,
                &widths,
                &mut ACCOUNT_CONNECTOR_HEADERS.iter().copied(),
            );
            self.widths = Some(widths);
        }
        if let Some(widths) = &self.widths {
            for r in &rows {
                line(&mut s, widths, &mut r.iter().map(String::as_str));
            }
        }
        s
    }

    /// What ends the table: "(none)" when no row came.
    pub(super) fn end(&self) -> &'static str {
        if self.widths.is_none() {
            "(none)\n"
        } else {
            ""
        }
    }
}

pub(super) fn connector_text(c: &LibraryConnector) -> String {
    let d = &c.definition;
    let mut s = String::new();
    let _ = writeln!(s, "Id:          {} ({})", c.id, c.slug);
    let _ = writeln!(s, "Name:        {} {}", c.name, c.version);
    if !d.description.is_empty() {
        let _ = writeln!(s, "Description: {}", d.description);
    }
    let _ = writeln!(s, "Source:      {:?}", c.source);
    let _ = writeln!(s, "Auth:        {}", auth_label(c.auth_type, c.oauth2_type));
    if c.authentication.len() > 1 {
        let _ = writeln!(s, "Ways to authenticate (install --authentication ID):");
        for a in &c.authentication {
            let _ = writeln!(
                s,
                "  {}  {:<10} {}{}",
                a.id,
                a.method_id,
                a.auth_name,
                if a.is_default { " (default)" } else { "" }
            );
        }
    }
    for (label, value) in d.auth.summary() {
        let _ = writeln!(s, "  {:<11}{value}", format!("{label}:"));
    }
    if d.auth.auth_type() == AuthType::Oauth2 {
        let _ = writeln!(s, "  client:    {}", client_label(c));
        if let Some(jwk) = &c.public_jwk {
            // What the provider registers for private_key_jwt: one line, to copy.
            let _ = writeln!(s, "  public key (JWK): {jwk}");
        }
    }
    if let Some(b) = &d.api_base_url {
        let _ = writeln!(s, "API base:    {b}");
    }
    if !d.properties.is_empty() {
        let _ = writeln!(s, "Properties:");
        for p in &d.properties {
            let flags = [(p.required, "required"), (p.secret, "secret")]
                .iter()
                .filter(|f| f.0)
                .map(|f| f.1)
                .collect::<Vec<_>>()
                .join(", ");
            let _ = writeln!(
                s,
                "  {:<20} {} {}",
                p.name,
                if flags.is_empty() {
                    String::new()
                } else {
                    format!("[{flags}]")
                },
                p.description
            );
        }
    }
    if !d.methods.is_empty() {
        let _ = writeln!(s, "Methods:");
        for m in &d.methods {
            let _ = writeln!(
                s,
                "  {:<24} {:?} {}  {}",
                m.id, m.http_method, m.path, m.name
            );
        }
    }
    if !d.sources.is_empty() {
        let _ = writeln!(s, "Sources:     {}", d.sources.join("\n             "));
    }
    s
}

/// "OAuth2 (AuthorisationCode)", or just the type when it is not OAuth 2.0 (Cyclr writes
/// `Unknown` then).
pub(super) fn auth_label(auth: &str, oauth2: &str) -> String {
    match oauth2 {
        "Unknown" => auth.to_string(),
        g => format!("{auth} ({g})"),
    }
}

pub(super) fn client_label(c: &LibraryConnector) -> String {
    match (&c.client_id, c.client_secret_set) {
        (Some(id), _) if c.public_jwk.is_some() => format!("{id} + private key"),
        (Some(id), true) => format!("{id} + secret"),
        (Some(id), false) => format!("{id} (public)"),
        (None, _) if c.oauth2_type != "Unknown" => "not set".into(),
        (None, _) => "-".into(),
    }
}

pub(super) fn date(d: &DateTime<Utc>) -> String {
    d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

pub(super) fn expiry(at: Option<&DateTime<Utc>>, seconds: Option<i64>) -> String {
    match (at, seconds) {
        (Some(at), Some(s)) if s >= 0 => format!("{} (in {})", date(at), span(s)),
        (Some(at), Some(s)) => format!("{} (expired {} ago)", date(at), span(-s)),
        _ => "-".to_string(),
    }
}

pub(super) fn span(s: i64) -> String {
    let (d, h, m, sec) = (s / 86400, s % 86400 / 3600, s % 3600 / 60, s % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{sec}s"),
        (0, 0, _) => format!("{m}m {sec}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

pub(super) fn table(headers: &[&str], rows: impl Iterator<Item = Vec<String>>) -> String {
    let rows: Vec<Vec<String>> = rows.collect();
    if rows.is_empty() {
        return "(none)\n".to_string();
    }
    let widths = widths(headers, &rows);
    let mut s = String::new();
    line(&mut s, &widths, &mut headers.iter().copied());
    for r in &rows {
        line(&mut s, &widths, &mut r.iter().map(String::as_str));
    }
    s
}

/// Each column's width: its widest cell or header.
fn widths(headers: &[&str], rows: &[Vec<String>]) -> Vec<usize> {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for r in rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    widths
}

/// One line of a table, its cells padded to `widths`.
fn line(s: &mut String, widths: &[usize], cells: &mut dyn Iterator<Item = &str>) {
    let parts: Vec<String> = cells.zip(widths).map(|(c, w)| format!("{c:<w$}")).collect();
    let _ = writeln!(s, "{}", parts.join("  ").trim_end());
}

/// The status, and for an API key, AuthFields or Basic credential (whose provider says nothing until it
/// is used) what the last method call said of it: as the window shows it.
pub(super) fn status_text(ac: &AccountConnector, long: bool) -> String {
    let status = ac.status.describe();
    if ac.status != authdesk_core::AuthStatus::Authenticated || !ac.authentication.verified_by_calls
    {
        return status.to_string();
    }
    match &ac.last_check {
        None => format!("{status} · not verified"),
        Some(c) if !long => format!("{status} · {}", if c.ok { "verified" } else { "refused" }),
        Some(c) => format!(
            "{status} · {} (HTTP {} {}){}",
            if c.ok {
                "verified"
            } else {
                "refused by the provider"
            },
            c.http_status,
            date(&c.at),
            if c.ok { "" } else { ": set a new one" }
        ),
    }
}

/// A failed exchange with a token endpoint, as the history keeps it (already redacted).
pub(super) fn exchange(x: &authdesk_core::diagnostics::Exchange) -> String {
    let mut s = String::new();
    let _ = write!(s, "  {} {}", x.method, x.endpoint);
    if let Some(g) = &x.grant {
        let _ = write!(s, "  grant {g}");
    }
    if let Some(c) = &x.client_authentication {
        let _ = write!(s, ", client authentication {c}");
    }
    if x.dpop {
        s.push_str(", with a DPoP proof");
    }
    s.push('\n');
    if !x.parameters.is_empty() {
        let _ = writeln!(s, "  sent:     {}", x.parameters.join(", "));
    }
    match (x.status, &x.failure) {
        (_, Some(f)) => {
            let _ = writeln!(s, "  answer:   none ({f})");
        }
        (Some(status), None) => {
            let _ = write!(s, "  answer:   HTTP {status}");
            if let Some(e) = &x.error {
                let _ = write!(s, " {e}");
            }
            if let Some(d) = &x.error_description {
                let _ = write!(s, ": {d}");
            }
            s.push('\n');
        }
        (None, None) => {}
    }
    for (label, value) in [
        ("WWW-Authenticate", &x.www_authenticate),
        ("Retry-After", &x.retry_after),
        ("body", &x.body),
    ] {
        if let Some(v) = value {
            let _ = writeln!(s, "  {label}: {v}");
        }
    }
    s
}

/// What of a JWT was verified offline, and what was only decoded.
pub(super) fn verification(v: &authdesk_core::jwt_verify::Verification) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "    JWT verified offline: signature {} ({}{}), iss {}, aud {}, exp {}, nbf {}, typ {}",
        v.signature,
        v.algorithm.as_deref().unwrap_or("no alg"),
        v.key_id
            .as_deref()
            .map(|k| format!(", kid {k}"))
            .unwrap_or_default(),
        v.issuer,
        v.audience,
        v.expiry,
        v.not_before,
        v.token_type
    );
    if let Some(at) = &v.keys_fetched_at {
        let _ = writeln!(s, "    provider keys fetched {}", date(at));
    }
    for note in &v.notes {
        let _ = writeln!(s, "    note: {note}");
    }
    s
}
