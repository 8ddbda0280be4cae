//! Printing: JSON with `--json` (the core's PascalCase views), a readable table otherwise
//! (the readable forms are in `output/text.rs`). A secret is printed only where the user
//! asked for it: `inspect --reveal`, `api-key`, and a new API client's ClientSecret, once.
//!
//! Must not: read or change anything (it prints what a command hands it), or show a secret
//! the command was not asked for.

use std::fmt::Write as _;

use anyhow::Result;
use authdesk_core::definition::ConnectorDefinition;
use authdesk_core::engine::methods::MethodResponse;
use authdesk_core::engine::{KeepAliveOutcome, RevocationReport};
use authdesk_core::inspect::Inspection;
use authdesk_core::token_store::CredentialEvent;
use authdesk_core::{Account, AccountConnector, AccountUser, LibraryConnector, VaultStatus};
use serde::Serialize;

mod handover;
mod links;
mod mcp;
mod text;
mod webhooks;

use text::*;

pub struct Out {
    pub json: bool,
}

/// A JSON array being written to standard output (see [`Out::json_array_stream`]).
pub struct JsonArray {
    out: std::io::BufWriter<std::io::StdoutLock<'static>>,
    first: bool,
}

impl JsonArray {
    pub fn push<T: Serialize>(&mut self, value: &T) -> std::io::Result<()> {
        use std::io::Write;
        if !std::mem::take(&mut self.first) {
            self.out.write_all(b",")?;
        }
        serde_json::to_writer(&mut self.out, value).map_err(std::io::Error::from)
    }

    pub fn finish(mut self) -> std::io::Result<()> {
        use std::io::Write;
        self.out.write_all(b"]\n")?;
        self.out.flush()
    }
}

/// A table of account connectors written while the list is read ([`Out::table_stream`]).
pub struct TableStream {
    out: std::io::BufWriter<std::io::StdoutLock<'static>>,
    table: text::AccountConnectorTable,
}

impl TableStream {
    pub fn push(&mut self, chunk: &[AccountConnector]) -> std::io::Result<()> {
        use std::io::Write;
        self.out.write_all(self.table.chunk(chunk).as_bytes())
    }

    pub fn finish(mut self) -> std::io::Result<()> {
        use std::io::Write;
        self.out.write_all(self.table.end().as_bytes())?;
        self.out.flush()
    }
}

impl Out {
    /// Without `--json`: a long list of account connectors written as a table while it is
    /// read, so memory stays one chunk. `None` with `--json` (see [`Out::json_array_stream`]).
    pub fn table_stream(&self) -> Option<TableStream> {
        (!self.json).then(|| TableStream {
            out: std::io::BufWriter::new(std::io::stdout().lock()),
            table: Default::default(),
        })
    }

    /// With `--json` into a pipe or a file: a long list written as one compact JSON array
    /// while it is read, so memory stays one chunk. `None`: print lists whole (a table, or
    /// pretty JSON on a terminal).
    pub fn json_array_stream(&self) -> Result<Option<JsonArray>> {
        use std::io::{IsTerminal, Write};
        if !self.json || std::io::stdout().is_terminal() {
            return Ok(None);
        }
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        out.write_all(b"[")?;
        Ok(Some(JsonArray { out, first: true }))
    }

    /// A discovered definition: its TOML (`{"Toml": ...}` with --json).
    pub fn discovered(&self, toml: &str) -> Result<()> {
        self.emit(&serde_json::json!({ "Toml": toml }), || toml.to_string())
    }

    fn emit<T: Serialize + ?Sized>(&self, value: &T, human: impl FnOnce() -> String) -> Result<()> {
        use std::io::{IsTerminal, Write};
        // One buffered write: a list of 100,000 rows is not 100,000 line flushes.
        let terminal = std::io::stdout().is_terminal();
        let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
        if self.json && terminal {
            serde_json::to_writer_pretty(&mut stdout, value)?;
            stdout.write_all(b"\n")?;
        } else if self.json {
            // Into a pipe or a file: compact (a third of the bytes for a long list).
            serde_json::to_writer(&mut stdout, value)?;
            stdout.write_all(b"\n")?;
        } else {
            stdout.write_all(human().as_bytes())?;
        }
        stdout.flush()?;
        Ok(())
    }

    pub fn migration(&self, r: &authdesk_core::MigrationReport, key: &str) -> Result<()> {
        self.emit(r, || {
            format!(
                "Copied {} accounts, {} library connectors, {} account connectors, {} secrets \
                 (re-sealed), {} history entries, {} API clients, {} allowed origins.\n\
                 The server's data key is in {key} (vault {}). Sign-in tokens, sign-ins in \
                 progress and refresh leases are not copied.\n",
                r.accounts,
                r.library_connectors,
                r.account_connectors,
                r.secrets,
                r.history_entries,
                r.api_clients,
                r.allowed_origins,
                r.vault_id
            )
        })
    }

    pub fn text(&self, s: &str) -> Result<()> {
        self.emit(s, || format!("{s}\n"))
    }

    /// A new API client with its secret, shown this once.
    pub fn new_api_client(&self, c: &authdesk_core::api_clients::NewApiClient) -> Result<()> {
        let secret = c.client_secret.expose();
        self.emit(
            &serde_json::json!({
                "ClientId": c.client.client_id,
                "ClientSecret": secret,
                "Name": c.client.name,
            }),
            || {
                format!(
                    "ClientId:     {}\nClientSecret: {secret}\n(shown once: store it now; Authdesk keeps only a hash)\n\
                     Get a token: POST /oauth/token with grant_type=client_credentials&client_id=...&client_secret=...\n",
                    c.client.client_id
                )
            },
        )
    }

    pub fn api_clients(&self, list: &[authdesk_core::api_clients::ApiClient]) -> Result<()> {
        self.emit(list, || {
            let mut s = String::new();
            if list.is_empty() {
                s.push_str(
                    "No API clients. Create one with `authdesk api-clients create --name NAME`.\n",
                );
            }
            for c in list {
                let state = match c.revoked_at {
                    Some(at) => format!("revoked {}", at.to_rfc3339()),
                    None => "active".into(),
                };
                let _ = writeln!(
                    s,
                    "{}  {}  created {}  {state}",
                    c.client_id,
                    c.name,
                    c.created_at.to_rfc3339()
                );
            }
            s
        })
    }

    pub fn done(&self, s: &str) -> Result<()> {
        self.emit(&serde_json::json!({ "Message": s }), || format!("{s}\n"))
    }

    pub fn vault_status(&self, v: &VaultStatus) -> Result<()> {
        self.emit(v, || {
            let mut s = String::new();
            let _ = writeln!(s, "Data directory: {}", v.data_dir);
            let _ = writeln!(s, "Database:       {}", v.database);
            let _ = writeln!(s, "Key source:     {}", v.key_source);
            let _ = writeln!(
                s,
                "Vault id:       {}",
                v.vault_id.as_deref().unwrap_or("-")
            );
            if let Some(item) = &v.keychain_item {
                let _ = writeln!(s, "Keychain item:  {item}");
            }
            let _ = writeln!(
                s,
                "Available:      {}",
                if v.available { "yes" } else { "no" }
            );
            if let Some(p) = &v.problem {
                let _ = writeln!(s, "Problem:        {p}");
            }
            s
        })
    }

    pub fn method_response(&self, r: &MethodResponse) -> Result<()> {
        self.emit(r, || {
            let mut s = format!("HTTP {}\n", r.status);
            for (k, v) in &r.headers {
                let _ = writeln!(s, "{k}: {v}");
            }
            s.push('\n');
            match &r.body {
                serde_json::Value::String(text) => s.push_str(text),
                other => s.push_str(&serde_json::to_string_pretty(other).unwrap_or_default()),
            }
            s.push('\n');
            s
        })
    }

    pub fn keep_alive(&self, outcomes: &[KeepAliveOutcome]) -> Result<()> {
        self.emit(outcomes, || {
            if outcomes.is_empty() {
                return "nothing to refresh\n".to_string();
            }
            outcomes
                .iter()
                .map(|o| match &o.result {
                    Ok(()) => format!("{}: refreshed ({})\n", o.account_connector_id, o.reason),
                    Err(e) => format!("{}: failed ({}): {e}\n", o.account_connector_id, o.reason),
                })
                .collect()
        })
    }

    pub fn history(&self, events: &[CredentialEvent]) -> Result<()> {
        self.emit(events, || {
            let mut out = table(
                &["WHEN", "WHAT", "DETAIL"],
                events.iter().map(|e| {
                    vec![
                        date(&e.at),
                        e.kind.clone(),
                        e.detail.clone().unwrap_or_default(),
                    ]
                }),
            );
            for e in events {
                if let Some(x) = &e.exchange {
                    out.push_str(&format!("\n{} {}:\n", date(&e.at), e.kind));
                    out.push_str(&text::exchange(x));
                }
            }
            out
        })
    }

    /// An account deleted, with what was revoked for each of its account connectors.
    pub fn account_deleted(
        &self,
        account_id: &str,
        reports: &[(i64, RevocationReport)],
    ) -> Result<()> {
        let value: Vec<serde_json::Value> = reports
            .iter()
            .map(|(id, r)| serde_json::json!({ "AccountConnectorId": id, "Revocation": r }))
            .collect();
        self.emit(
            &serde_json::json!({
                "Message": format!("deleted account {account_id}"),
                "Revocations": value,
            }),
            || {
                let mut s = format!("deleted account {account_id}\n");
                for (id, r) in reports {
                    for t in &r.revoked {
                        let _ = writeln!(s, "account connector {id}: revoked at the provider: {t}");
                    }
                    for e in &r.errors {
                        let _ =
                            writeln!(s, "warning: account connector {id}: revocation failed: {e}");
                    }
                    if let Some(why) = &r.not_revoked {
                        let _ = writeln!(s, "warning: account connector {id}: {why}");
                    }
                }
                s
            },
        )
    }

    pub fn revocation(&self, report: &RevocationReport, done: &str) -> Result<()> {
        self.emit(report, || {
            if report.nothing_stored {
                return "nothing to disconnect: no credential is stored (nothing was changed)\n"
                    .to_string();
            }
            let mut s = format!("{done}\n");
            if let Some(why) = &report.not_revoked {
                let _ = writeln!(s, "warning: {why}");
            } else if !report.attempted {
                s.push_str(
                    "(nothing revoked at the provider: no revocation endpoint or no tokens)\n",
                );
            }
            for r in &report.revoked {
                let _ = writeln!(s, "revoked at the provider: {r}");
            }
            for e in &report.errors {
                let _ = writeln!(s, "warning: revocation failed: {e}");
            }
            s
        })
    }

    pub fn origins(&self, list: &[String]) -> Result<()> {
        self.emit(list, || {
            if list.is_empty() {
                "(none)\n".to_string()
            } else {
                list.join("\n") + "\n"
            }
        })
    }

    pub fn account(&self, a: &Account) -> Result<()> {
        self.emit(a, || {
            format!(
                "Id:          {}\nName:        {}\nDescription: {}\nTimezone:    {}\nCreated:     {}\n",
                a.id, a.name, a.description, a.timezone, date(&a.created_at)
            )
        })
    }

    pub fn accounts(&self, list: &[Account]) -> Result<()> {
        self.emit(list, || {
            table(
                &["ID", "NAME", "TIMEZONE"],
                list.iter()
                    .map(|a| vec![a.id.clone(), a.name.clone(), a.timezone.clone()]),
            )
        })
    }

    pub fn account_detail(&self, a: &Account, connectors: &[AccountConnector]) -> Result<()> {
        #[derive(Serialize)]
        #[serde(rename_all = "PascalCase")]
        struct Detail<'a> {
            #[serde(flatten)]
            account: &'a Account,
            connectors: &'a [AccountConnector],
        }
        self.emit(&Detail { account: a, connectors }, || {
            let mut s = String::new();
            let _ = write!(
                s,
                "Id:          {}\nName:        {}\nDescription: {}\nTimezone:    {}\nCreated:     {}\n\n",
                a.id, a.name, a.description, a.timezone, date(&a.created_at)
            );
            s + &account_connector_table(connectors)
        })
    }

    pub fn users(&self, list: &[AccountUser]) -> Result<()> {
        self.emit(list, || {
            table(
                &["USERNAME", "CREATED"],
                list.iter()
                    .map(|u| vec![u.username.clone(), date(&u.created_at)]),
            )
        })
    }

    pub fn connectors(&self, list: &[LibraryConnector]) -> Result<()> {
        self.emit(list, || {
            table(
                &["ID", "SLUG", "NAME", "CATEGORY", "AUTH", "SOURCE", "CLIENT"],
                list.iter().map(|c| {
                    vec![
                        c.id.to_string(),
                        c.slug.clone(),
                        c.name.clone(),
                        c.category.clone().unwrap_or_else(|| "-".into()),
                        auth_label(c.auth_type, c.oauth2_type),
                        format!("{:?}", c.source),
                        client_label(c),
                    ]
                }),
            )
        })
    }

    pub fn connector(&self, c: &LibraryConnector) -> Result<()> {
        #[derive(Serialize)]
        #[serde(rename_all = "PascalCase")]
        struct Detail<'a> {
            #[serde(flatten)]
            connector: &'a LibraryConnector,
            definition: &'a ConnectorDefinition,
        }
        self.emit(
            &Detail {
                connector: c,
                definition: &c.definition,
            },
            || connector_text(c),
        )
    }

    pub fn check(&self, r: &authdesk_core::engine::check::CheckResult) -> Result<()> {
        self.emit(r, || {
            format!(
                "{}: the check answered HTTP {} at {}\n",
                if r.valid { "Valid" } else { "Invalid" },
                r.status,
                date(&r.checked_at)
            )
        })
    }

    pub fn account_connector(&self, ac: &AccountConnector) -> Result<()> {
        self.emit(ac, || {
            let mut s = String::new();
            let _ = writeln!(s, "Id:            {}", ac.id);
            let _ = writeln!(s, "Account:       {}", ac.account_id);
            let _ = writeln!(s, "Name:          {}", ac.name);
            if !ac.description.is_empty() {
                let _ = writeln!(s, "Description:   {}", ac.description);
            }
            let _ = writeln!(
                s,
                "Connector:     {} {} ({}, Id {})",
                ac.connector.name, ac.connector.version, ac.connector.slug, ac.connector.id
            );
            let _ = writeln!(
                s,
                "Auth type:     {}{}",
                auth_label(ac.authentication.auth_type, ac.authentication.oauth2_type),
                if ac.authentication.is_default {
                    String::new()
                } else {
                    format!(
                        " — {} (AuthenticationId {})",
                        ac.authentication.auth_name, ac.authentication_id
                    )
                }
            );
            let _ = writeln!(s, "Status:        {}", status_text(ac, true));
            if let Some(e) = &ac.last_error {
                let _ = writeln!(s, "Last error:    {e}");
            }
            if let Some(e) = &ac.expires_at {
                let _ = writeln!(s, "Expires:       {}", date(e));
            }
            if let Some(e) = &ac.refresh_expires_at {
                let _ = writeln!(s, "Refresh until: {}", date(e));
            }
            let secrets = if ac.secrets_set.is_empty() {
                "none".to_string()
            } else {
                ac.secrets_set.join(", ")
            };
            let _ = writeln!(s, "Secrets set:   {secrets}");
            if !ac.missing_properties.is_empty() {
                let _ = writeln!(
                    s,
                    "Missing:       {} (required properties)",
                    ac.missing_properties.join(", ")
                );
            }
            let _ = writeln!(s, "Properties:");
            if ac.properties.is_empty() {
                let _ = writeln!(s, "  (none)");
            }
            for p in &ac.properties {
                let v = if p.is_secret {
                    "[secret, set]".to_string()
                } else {
                    p.value.clone().unwrap_or_default()
                };
                let _ = writeln!(s, "  {} = {}", p.name, v);
            }
            s
        })
    }

    pub fn account_connectors(&self, list: &[AccountConnector]) -> Result<()> {
        self.emit(list, || account_connector_table(list))
    }

    pub fn inspection(&self, i: &Inspection) -> Result<()> {
        self.emit(i, || {
            let mut s = String::new();
            let _ = writeln!(
                s,
                "Account connector {} \"{}\" (account {})",
                i.account_connector_id, i.name, i.account_id
            );
            let _ = writeln!(s, "Connector:       {}", i.connector);
            let _ = writeln!(
                s,
                "Auth type:       {} — {} (AuthenticationId {})",
                auth_label(i.auth_type, i.oauth2_type.unwrap_or("Unknown")),
                i.auth_name,
                i.authentication_id
            );
            let _ = writeln!(s, "Status:          {}", i.status.describe());
            if let Some(u) = &i.username {
                let _ = writeln!(s, "Username:        {u} (password set)");
            }
            if let Some(e) = &i.last_error {
                let _ = writeln!(s, "Last error:      {e}");
            }
            if let Some(t) = &i.token_type {
                let _ = writeln!(s, "Token type:      {t}");
            }
            if let Some(jkt) = &i.dpop_jkt {
                let _ = writeln!(s, "DPoP-bound to:   key {jkt} (RFC 7638 thumbprint)");
            }
            if !i.scopes.is_empty() {
                let _ = writeln!(s, "Scopes:          {}", i.scopes.join(" "));
            }
            let _ = writeln!(
                s,
                "Expires:         {}",
                expiry(i.expires_at.as_ref(), i.expires_in_seconds)
            );
            let _ = writeln!(
                s,
                "Refresh expires: {}",
                expiry(i.refresh_expires_at.as_ref(), i.refresh_expires_in_seconds)
            );
            if let Some(m) = i.refresh_margin_seconds {
                let due = i
                    .refresh_due_at
                    .map(|d| format!(", next refresh due {}", d.to_rfc3339()))
                    .unwrap_or_default();
                let _ = writeln!(s, "Refresh margin:  {m} s before expiry{due}");
            }
            if let Some(reason) = &i.secrets_unavailable {
                let _ = writeln!(s, "Secrets:         cannot be opened: {reason}");
            } else if i.secrets.is_empty() {
                let _ = writeln!(s, "Secrets:         none stored");
            } else {
                let _ = writeln!(s, "Secrets:");
                for sec in &i.secrets {
                    let _ = writeln!(
                        s,
                        "  {:<16} {}",
                        sec.field,
                        sec.value.as_deref().unwrap_or(&sec.masked)
                    );
                    if let Some(jwt) = &sec.jwt {
                        match &sec.verification {
                            Some(v) => s.push_str(&text::verification(v)),
                            None => {
                                let _ = writeln!(s, "    JWT (decoded, NOT verified)");
                            }
                        }
                        let _ = writeln!(s, "    header: {}", jwt.header);
                        let _ = writeln!(
                            s,
                            "    claims: {}",
                            serde_json::to_string_pretty(&jwt.claims)
                                .unwrap_or_default()
                                .replace('\n', "\n    ")
                        );
                        if let Some(exp) = &jwt.expires_at {
                            let _ = writeln!(s, "    exp:    {}", date(exp));
                        }
                    }
                }
            }
            s
        })
    }
}
