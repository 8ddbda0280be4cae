//! `authdesk migrate --to URL`: a desktop's data (SQLite) copied into an empty PostgreSQL
//! database for a team server, in one transaction, every secret re-sealed under the
//! server's data key (a new vault: its own id, its own key check).
//!
//! Copied: accounts and their users, the library (with OAuth apps), account connectors
//! with their properties, secrets and history, settings (the API key), allowed origins,
//! API clients and their tokens (hashes). Not copied, because they are short-lived and
//! bound to the machine that made them: sign-in tokens (5 minutes), pending
//! authorizations (a sign-in in progress) and refresh leases.
//!
//! Must not: write into a database that is not empty, copy the short-lived rows, or carry a
//! sealed value across without opening it and sealing it again.

use crate::error::{Error, Result};
use crate::store::sql::{Kind, Value};
use crate::store::{self, args, Db, Store};
use crate::vault::{KeySource, SealedAt, Vault, KEY_CHECK_PLAINTEXT};
use crate::Secret;

use super::{hex, key_check_location, verified_vault, Authdesk, META_KEY_CHECK, META_VAULT_ID};

/// What a migration copied.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MigrationReport {
    pub accounts: u64,
    pub library_connectors: u64,
    pub account_connectors: u64,
    /// Sealed values re-sealed under the target's key (tokens, keys, passwords, client
    /// secrets, secret properties, the API key).
    pub secrets: u64,
    pub history_entries: u64,
    pub api_clients: u64,
    pub allowed_origins: u64,
    /// The target's vault (its data key is `data-key/<id>` in a keychain).
    pub vault_id: String,
}

/// The tables copied, parents first; for each sealed column, where its value is sealed
/// (the row and field its associated data names, from the row's own columns).
const TABLES: &[(&str, &[Sealed])] = &[
    ("meta", &[]),
    ("accounts", &[]),
    ("account_users", &[]),
    (
        "connectors",
        &[
            Sealed {
                column: "sealed_client_secret",
                row: "id",
                field: Field::Fixed("ClientSecret"),
            },
            Sealed {
                column: "sealed_client_private_key",
                row: "id",
                field: Field::Fixed("ClientPrivateKey"),
            },
        ],
    ),
    ("account_connectors", &[]),
    (
        "account_connector_properties",
        &[Sealed {
            column: "sealed_value",
            row: "account_connector_id",
            field: Field::Column("name"),
        }],
    ),
    (
        "account_connector_secrets",
        &[Sealed {
            column: "sealed",
            row: "account_connector_id",
            field: Field::Column("field"),
        }],
    ),
    (
        "account_connector_keys",
        &[Sealed {
            column: "sealed",
            row: "account_connector_id",
            field: Field::Column("purpose"),
        }],
    ),
    ("credential_events", &[]),
    ("provider_keys", &[]),
    ("setup_links", &[]),
    (
        "webhook_endpoints",
        &[Sealed {
            column: "sealed_secret",
            row: "id",
            field: Field::Fixed("sealed_secret"),
        }],
    ),
    ("webhook_outbox", &[]),
    ("webhook_attempts", &[]),
    (
        "mcp_registrations",
        &[Sealed {
            column: "sealed_registration_token",
            row: "connector_id",
            field: Field::Fixed("RegistrationAccessToken"),
        }],
    ),
    ("mcp_account_connectors", &[]),
    (
        "settings",
        &[Sealed {
            column: "sealed_value",
            row: "key",
            field: Field::Fixed("sealed_value"),
        }],
    ),
    ("allowed_origins", &[]),
    ("api_clients", &[]),
    ("api_tokens", &[]),
];

/// Tables with an identity column whose sequence must continue after the copied ids.
const IDENTITIES: &[&str] = &[
    "connectors",
    "account_connectors",
    "credential_events",
    "webhook_outbox",
    "webhook_attempts",
];

#[derive(Clone, Copy)]
struct Sealed {
    column: &'static str,
    row: &'static str,
    field: Field,
}

#[derive(Clone, Copy)]
enum Field {
    Fixed(&'static str),
    Column(&'static str),
}

impl Authdesk {
    /// Copies this desk's data into the empty PostgreSQL database at `url`, re-sealing
    /// every secret under a new data key kept by `target_key`. Nothing is written unless
    /// everything is copied.
    pub fn migrate_to_postgres(
        &self,
        url: &str,
        target_key: &KeySource,
    ) -> Result<MigrationReport> {
        // The source's secrets must open before anything is written.
        let has_vault = store::meta_in(&self.store()?.conn(), META_VAULT_ID)?.is_some();
        let source_vault = if has_vault { Some(self.vault()?) } else { None };
        let source_store = self.store()?;
        let source = source_store.conn();
        if source.is_postgres() {
            return Err(Error::InvalidInput(
                "migrate copies a desktop data directory (SQLite) into PostgreSQL; this desk is \
                 already on PostgreSQL (leave out --database and AUTHDESK_DATABASE_URL)"
                    .into(),
            ));
        }
        let mut target = Store::open_postgres(url)?;
        refuse_unless_empty(&target.conn(), url)?;
        target
            .write(|tx| {
                let vault_id = uuid::Uuid::new_v4().to_string();
                let key = target_key
                    .create(&vault_id)
                    .map_err(|e| match (target_key, e) {
                        (
                            KeySource::Keychain,
                            Error::KeychainUnavailable { detail }
                            | Error::KeychainLocked { detail },
                        ) => Error::InvalidInput(format!(
                            "the team server's new data key would go to this session's keychain, \
                         which cannot take it ({detail}): give --to-key-file PATH, the key file \
                         every replica will read"
                        )),
                        (_, other) => other,
                    })?;
                let vault = Vault::new(vault_id.clone(), &key);
                let check = vault.seal(key_check_location(), &Secret::new(KEY_CHECK_PLAINTEXT));
                let mut report = MigrationReport {
                    vault_id: vault_id.clone(),
                    ..Default::default()
                };
                for &(table, sealed) in TABLES {
                    let n = copy_table(
                        &source,
                        tx,
                        table,
                        sealed,
                        source_vault.as_deref(),
                        &vault,
                        &mut report.secrets,
                    )?;
                    match table {
                        "accounts" => report.accounts = n,
                        "connectors" => report.library_connectors = n,
                        "account_connectors" => report.account_connectors = n,
                        "credential_events" => report.history_entries = n,
                        "api_clients" => report.api_clients = n,
                        "allowed_origins" => report.allowed_origins = n,
                        _ => {}
                    }
                }
                store::set_meta_in(tx, META_VAULT_ID, &vault_id)?;
                store::set_meta_in(tx, META_KEY_CHECK, &hex(&check))?;
                for table in IDENTITIES {
                    tx.execute_batch(&format!(
                        "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
                     COALESCE((SELECT max(id) FROM {table}), 0) + 1, false)"
                    ))?;
                }
                Ok(report)
            })
            .inspect(|r| {
                tracing::info!(
                    accounts = r.accounts,
                    account_connectors = r.account_connectors,
                    secrets = r.secrets,
                    to = %store::redacted_url(url),
                    "migrated the data directory to PostgreSQL"
                )
            })
            .and_then(|r| {
                // The new key opens what was written (a last check, outside the copy).
                verified_vault(
                    target_key,
                    r.vault_id.clone(),
                    Some(hex(&check_of(&target)?)),
                )?;
                Ok(r)
            })
    }
}

fn check_of(target: &Store) -> Result<Vec<u8>> {
    let text = target
        .meta(META_KEY_CHECK)?
        .ok_or_else(|| Error::Internal("the migrated key check is missing".into()))?;
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16))
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| Error::Internal("the migrated key check is not hex".into()))
}

fn refuse_unless_empty(target: &Db<'_>, url: &str) -> Result<()> {
    let mut held = vec![];
    for (table, what) in [
        ("accounts", "accounts"),
        ("account_connectors", "account connectors"),
        ("connectors", "library connectors"),
        ("settings", "settings"),
    ] {
        let n: i64 = target.query_row(&format!("SELECT count(*) FROM {table}"), args![], |r| {
            r.get(0)
        })?;
        if n > 0 {
            held.push(format!("{n} {what}"));
        }
    }
    let vault: Option<String> = store::meta_in(target, META_VAULT_ID)?;
    if !held.is_empty() || vault.is_some() {
        return Err(Error::InvalidInput(format!(
            "{} already holds Authdesk data ({}): migrate into an empty database \
             (createdb a new one), nothing was copied",
            store::redacted_url(url),
            if held.is_empty() {
                "a vault".to_string()
            } else {
                held.join(", ")
            }
        )));
    }
    Ok(())
}

/// The target's column kinds, so a NULL crosses with its type.
fn target_columns(tx: &Db<'_>, table: &str) -> Result<Vec<(String, Kind)>> {
    tx.query_map(
        "SELECT column_name, data_type FROM information_schema.columns
         WHERE table_schema = current_schema() AND table_name = ?1 ORDER BY ordinal_position",
        args![table],
        |r| {
            let name: String = r.get(0)?;
            let ty: String = r.get(1)?;
            let kind = match ty.as_str() {
                "bigint" | "integer" | "smallint" | "boolean" => Kind::Int,
                "double precision" | "real" => Kind::Real,
                "bytea" => Kind::Blob,
                _ => Kind::Text,
            };
            Ok((name, kind))
        },
    )
}

fn copy_table(
    source: &Db<'_>,
    tx: &Db<'_>,
    table: &str,
    sealed: &[Sealed],
    source_vault: Option<&Vault>,
    vault: &Vault,
    secrets: &mut u64,
) -> Result<u64> {
    let columns = target_columns(tx, table)?;
    // The columns both sides have (the target's schema mirrors SQLite's).
    let source_columns: Vec<String> = source.query_map(
        &format!("SELECT name FROM pragma_table_info('{table}')"),
        args![],
        |r| r.get(0),
    )?;
    let columns: Vec<(String, Kind)> = columns
        .into_iter()
        .filter(|(c, _)| source_columns.contains(c))
        .collect();
    let names: Vec<&str> = columns.iter().map(|(c, _)| c.as_str()).collect();
    let position = |name: &str| names.iter().position(|c| *c == name);
    let list = names.join(", ");
    let placeholders = (1..=names.len())
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let insert = format!("INSERT INTO {table} ({list}) VALUES ({placeholders})");
    let skip_vault_meta = table == "meta";
    let mut copied = 0;
    source.for_each(
        &format!("SELECT {list} FROM {table} ORDER BY rowid"),
        args![],
        |r| {
            let mut values: Vec<Value> = Vec::with_capacity(names.len());
            for (i, (_, kind)) in columns.iter().enumerate() {
                let v: Value = r.get(i)?;
                values.push(match v {
                    Value::Null(_) => Value::Null(*kind),
                    other => other,
                });
            }
            if skip_vault_meta {
                if let Some(Value::Text(key)) = position("key").map(|i| &values[i]) {
                    if key == META_VAULT_ID || key == META_KEY_CHECK {
                        return Ok(());
                    }
                }
            }
            for &s in sealed {
                reseal(&mut values, s, &position, table, source_vault, vault)?;
                if matches!(position(s.column).map(|i| &values[i]), Some(Value::Blob(_))) {
                    *secrets += 1;
                }
            }
            let params: Vec<&dyn crate::store::sql::ToValue> = values
                .iter()
                .map(|v| v as &dyn crate::store::sql::ToValue)
                .collect();
            tx.execute(&insert, &params)?;
            copied += 1;
            Ok(())
        },
    )?;
    Ok(copied)
}

fn reseal(
    values: &mut [Value],
    s: Sealed,
    position: &dyn Fn(&str) -> Option<usize>,
    table: &str,
    source_vault: Option<&Vault>,
    vault: &Vault,
) -> Result<()> {
    let Some(at) = position(s.column) else {
        return Ok(());
    };
    let Value::Blob(sealed) = &values[at] else {
        return Ok(());
    };
    let text = |v: &Value| match v {
        Value::Text(t) => t.clone(),
        Value::Int(i) => i.to_string(),
        _ => String::new(),
    };
    let row = position(s.row)
        .map(|i| text(&values[i]))
        .unwrap_or_default();
    let field = match s.field {
        Field::Fixed(f) => f.to_string(),
        Field::Column(c) => position(c).map(|i| text(&values[i])).unwrap_or_default(),
    };
    let place = SealedAt {
        table,
        row: &row,
        field: &field,
    };
    let source_vault = source_vault.ok_or_else(|| {
        Error::Internal(format!(
            "{table} holds a sealed value but the data directory has no vault"
        ))
    })?;
    let plain = source_vault.open(place, sealed)?;
    values[at] = Value::Blob(vault.seal(place, &plain));
    Ok(())
}
