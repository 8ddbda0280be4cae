//! [`Authdesk`]: the one entry point the shells (desktop app, local API, CLI) call.
//!
//! Every write is one IMMEDIATE transaction: metadata and the sealed secrets that belong to
//! it commit together or not at all. The vault is opened lazily, so metadata stays
//! readable when the keychain is not.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension, Row, Transaction};
use sha2::{Digest, Sha256};

use crate::authvalue::AuthValue;
use crate::definition::{catalog, ConnectorDefinition, SignInMode};
use crate::domain::*;
use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::store::{self, Store};
use crate::vault::{KeySource, SealedAt, Vault, KEY_CHECK_PLAINTEXT};

/// The time source; injectable so tests can move time.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

pub struct OpenOptions {
    pub data_dir: PathBuf,
    pub key_source: KeySource,
    pub clock: Clock,
}

impl OpenOptions {
    /// The given data directory, the key source from the environment, the system clock.
    pub fn new(data_dir: impl Into<PathBuf>) -> OpenOptions {
        OpenOptions {
            data_dir: data_dir.into(),
            key_source: KeySource::from_env(),
            clock: Arc::new(Utc::now),
        }
    }
}

#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct VaultStatus {
    pub data_dir: String,
    pub key_source: String,
    pub vault_id: Option<String>,
    /// `service/user` of the keychain item holding the data key.
    pub keychain_item: Option<String>,
    pub available: bool,
    pub problem: Option<String>,
}

pub struct Authdesk {
    store: Mutex<Store>,
    data_dir: PathBuf,
    key_source: KeySource,
    vault: Mutex<Option<Arc<Vault>>>,
    /// The local API key as of a database state (checked on every API request).
    pub(crate) api_key_cache: Mutex<Option<(crate::store::ChangeMarker, Secret)>>,
    clock: Clock,
}

const META_VAULT_ID: &str = "vault_id";
const META_KEY_CHECK: &str = "vault_key_check";
const META_CATALOG: &str = "builtin_catalog_sha256";
const MAX_NAME: usize = 200;
const MAX_DESCRIPTION: usize = 4000;
const MAX_PROPERTY_VALUE: usize = 16 * 1024;

pub(crate) const T_CONNECTORS: &str = "connectors";
pub(crate) const T_PROPERTIES: &str = "account_connector_properties";
pub(crate) const T_SECRETS: &str = "account_connector_secrets";

/// Names of credential secrets in `account_connector_secrets`.
pub mod fields {
    pub const ACCESS_TOKEN: &str = "AccessToken";
    pub const REFRESH_TOKEN: &str = "RefreshToken";
    pub const ID_TOKEN: &str = "IdToken";
    pub const API_KEY: &str = "ApiKey";
    pub const BASIC: &str = "BasicCredentials";
}

impl Authdesk {
    pub fn open(options: OpenOptions) -> Result<Authdesk> {
        crate::vault::use_platform_keychain();
        let mut store = Store::open(&options.data_dir)?;
        sync_builtin_catalog(&mut store, &(options.clock)())?;
        Ok(Authdesk {
            store: Mutex::new(store),
            data_dir: options.data_dir,
            key_source: options.key_source,
            vault: Mutex::new(None),
            api_key_cache: Mutex::new(None),
            clock: options.clock,
        })
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn key_source(&self) -> &KeySource {
        &self.key_source
    }

    pub fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }

    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        // A panic while holding the lock cannot leave SQLite half-written (the transaction
        // rolls back on drop), so a poisoned lock is safe to reuse.
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Changes when anything is committed to this data directory, by any process.
    pub fn change_marker(&self) -> Result<crate::store::ChangeMarker> {
        self.store().change_marker()
    }

    /// The vault, opening it (and creating the data key on first use) if needed.
    pub fn vault(&self) -> Result<Arc<Vault>> {
        let mut slot = self.vault.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(v) = slot.as_ref() {
            return Ok(v.clone());
        }
        let vault = Arc::new(self.open_vault()?);
        *slot = Some(vault.clone());
        Ok(vault)
    }

    fn open_vault(&self) -> Result<Vault> {
        let mut store = self.store();
        let existing = store.meta(META_VAULT_ID)?;
        let (vault_id, key_check) = match existing {
            Some(id) => (id, store.meta(META_KEY_CHECK)?),
            None => {
                // First secret in this data directory. Under the write lock, so two
                // processes never both create a key; the loser sees the winner's id.
                let source = &self.key_source;
                return store.write(|tx| {
                    if let Some(id) = store::meta_in(tx, META_VAULT_ID)? {
                        let check = store::meta_in(tx, META_KEY_CHECK)?;
                        return verified_vault(source, id, check);
                    }
                    let id = uuid::Uuid::new_v4().to_string();
                    let key = source.create(&id)?;
                    let vault = Vault::new(id.clone(), &key);
                    let check = vault.seal(key_check_location(), &Secret::new(KEY_CHECK_PLAINTEXT));
                    store::set_meta_in(tx, META_VAULT_ID, &id)?;
                    store::set_meta_in(tx, META_KEY_CHECK, &hex(&check))?;
                    tracing::info!(vault_id = %id, source = %source.describe(), "created the vault's data key");
                    Ok(vault)
                });
            }
        };
        verified_vault(&self.key_source, vault_id, key_check)
    }

    /// Where the data key lives and whether it opens this data directory's secrets.
    /// Never creates a key.
    pub fn vault_status(&self) -> Result<VaultStatus> {
        let vault_id = self.store().meta(META_VAULT_ID)?;
        let (available, problem) = match &vault_id {
            None => (
                false,
                Some(
                    "no secret has been stored yet; the data key is created with the first one"
                        .to_string(),
                ),
            ),
            Some(_) => match self.vault() {
                Ok(_) => (true, None),
                Err(e) => (false, Some(e.to_string())),
            },
        };
        Ok(VaultStatus {
            data_dir: self.data_dir.display().to_string(),
            key_source: self.key_source.describe(),
            keychain_item: match (&self.key_source, &vault_id) {
                (KeySource::Keychain, Some(id)) => Some(crate::vault::keychain_item_name(id)),
                _ => None,
            },
            vault_id,
            available,
            problem,
        })
    }

    // ---- accounts -------------------------------------------------------------------

    pub fn create_account(&self, new: NewAccount) -> Result<Account> {
        let id = match new.id.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(given) => parse_guid(given)?,
            None => uuid::Uuid::new_v4().to_string(),
        };
        let (name, description) = name_and_description(&new.name, new.description.as_deref())?;
        let timezone = checked_text(
            "Timezone",
            new.timezone.as_deref().unwrap_or("UTC"),
            64,
            true,
        )?;
        let now = self.now();
        self.store().write(|tx| {
            let n = tx.execute(
                "INSERT INTO accounts(id, name, description, timezone, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(id) DO NOTHING",
                params![id, name, description, timezone, ts(now)],
            )?;
            if n == 0 {
                return Err(Error::AlreadyExists(format!("account {id}")));
            }
            Ok(())
        })?;
        self.get_account(&id)
    }

    pub fn list_accounts(&self) -> Result<Vec<Account>> {
        let store = self.store();
        let mut stmt = store.conn().prepare(
            "SELECT id, name, description, timezone, created_at FROM accounts ORDER BY name, id",
        )?;
        let rows = stmt.query_map([], account_from_row)?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    pub fn get_account(&self, id: &str) -> Result<Account> {
        let id = parse_guid(id)?;
        self.store()
            .conn()
            .query_row(
                "SELECT id, name, description, timezone, created_at FROM accounts WHERE id = ?1",
                [&id],
                account_from_row,
            )
            .optional()?
            .ok_or_else(|| {
                Error::not_found_hint(
                    "account",
                    &id,
                    "list accounts with `authdesk accounts list`",
                )
            })
    }

    /// Deletes an account with its users and account connectors (and their secrets),
    /// returning each account connector's OAuth tokens, read in the same transaction, for
    /// revocation (`Engine::delete_account` revokes them).
    pub fn delete_account_taking(
        &self,
        id: &str,
    ) -> Result<Vec<(i64, Result<crate::token_store::TakenTokens>)>> {
        let account = self.get_account(id)?;
        let ids = self.list_account_connector_ids(Some(&account.id))?;
        self.take_and_delete(&ids, |tx| {
            tx.execute("DELETE FROM accounts WHERE id = ?1", [&account.id])?;
            Ok(())
        })
    }

    /// Adds a user to an account if it is not there yet.
    pub fn ensure_account_user(&self, account_id: &str, username: &str) -> Result<AccountUser> {
        let account = self.get_account(account_id)?;
        let username = checked_text("Username", username, MAX_NAME, true)?;
        let now = self.now();
        self.store().write(|tx| {
            tx.execute(
                "INSERT INTO account_users(account_id, username, created_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT(account_id, username) DO NOTHING",
                params![account.id, username, ts(now)],
            )?;
            Ok(tx.query_row(
                "SELECT account_id, username, created_at FROM account_users
                 WHERE account_id = ?1 AND username = ?2",
                params![account.id, username],
                |r| {
                    Ok(AccountUser {
                        account_id: r.get(0)?,
                        username: r.get(1)?,
                        created_at: parse_ts(r.get::<_, String>(2)?),
                    })
                },
            )?)
        })
    }

    pub fn list_account_users(&self, account_id: &str) -> Result<Vec<AccountUser>> {
        let account = self.get_account(account_id)?;
        let store = self.store();
        let mut stmt = store.conn().prepare(
            "SELECT account_id, username, created_at FROM account_users
             WHERE account_id = ?1 ORDER BY username",
        )?;
        let rows = stmt.query_map([&account.id], |r| {
            Ok(AccountUser {
                account_id: r.get(0)?,
                username: r.get(1)?,
                created_at: parse_ts(r.get::<_, String>(2)?),
            })
        })?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    // ---- connector library ----------------------------------------------------------

    pub fn list_connectors(&self) -> Result<Vec<LibraryConnector>> {
        let store = self.store();
        let mut stmt = store
            .conn()
            .prepare(&format!("{LIBRARY_SELECT} ORDER BY source, slug"))?;
        let rows = stmt.query_map([], library_row)?;
        rows.map(|r| r.map_err(Error::from).and_then(library_connector))
            .collect()
    }

    /// Finds a library entry by integer Id or by slug.
    pub fn get_connector(&self, reference: &str) -> Result<LibraryConnector> {
        let store = self.store();
        find_connector(store.conn(), reference)
    }

    /// Adds a user connector from TOML text. `replace` allows overwriting a user connector
    /// with the same slug (its Id, settings and installs are kept).
    pub fn add_connector(
        &self,
        origin: &str,
        toml_text: &str,
        replace: bool,
    ) -> Result<LibraryConnector> {
        let def = ConnectorDefinition::from_toml(origin, toml_text)?;
        let now = ts(self.now());
        let slug = def.id.clone();
        self.store().write(|tx| {
            let existing: Option<String> = tx
                .query_row(
                    "SELECT source FROM connectors WHERE slug = ?1",
                    [&slug],
                    |r| r.get(0),
                )
                .optional()?;
            match existing.as_deref() {
                Some("builtin") => {
                    return Err(Error::AlreadyExists(format!(
                        "a built-in connector with id `{slug}`; give yours another id"
                    )))
                }
                Some(_) if !replace => {
                    return Err(Error::AlreadyExists(format!(
                        "connector `{slug}` (use --replace to update it)"
                    )))
                }
                Some(_) => {
                    tx.execute(
                        "UPDATE connectors SET definition = ?2, updated_at = ?3 WHERE slug = ?1",
                        params![slug, toml_text, now],
                    )?;
                }
                None => {
                    tx.execute(
                        "INSERT INTO connectors(slug, source, definition, created_at, updated_at)
                         VALUES (?1, 'user', ?2, ?3, ?3)",
                        params![slug, toml_text, now],
                    )?;
                }
            }
            Ok(())
        })?;
        self.get_connector(&slug)
    }

    pub fn add_connector_file(&self, path: &Path, replace: bool) -> Result<LibraryConnector> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::io(
                format!("cannot read connector definition {}", path.display()),
                e,
            )
        })?;
        self.add_connector(&path.display().to_string(), &text, replace)
    }

    /// Removes a user connector that no account connector uses.
    pub fn remove_connector(&self, reference: &str) -> Result<()> {
        let c = self.get_connector(reference)?;
        if c.source == ConnectorSource::Builtin {
            return Err(Error::InvalidInput(format!(
                "connector `{}` is built in and cannot be removed",
                c.slug
            )));
        }
        self.store().write(|tx| {
            let used: i64 = tx.query_row(
                "SELECT count(*) FROM account_connectors WHERE connector_id = ?1",
                [c.id],
                |r| r.get(0),
            )?;
            if used > 0 {
                return Err(Error::InvalidInput(format!(
                    "connector `{}` is installed in {used} account connector(s); delete those first",
                    c.slug
                )));
            }
            tx.execute("DELETE FROM connectors WHERE id = ?1", [c.id])?;
            Ok(())
        })
    }

    /// Sets the library entry's OAuth app: ClientId, and ClientSecret (sealed; `None` for a
    /// public client).
    pub fn set_connector_client(
        &self,
        reference: &str,
        client_id: &str,
        client_secret: Option<&Secret>,
    ) -> Result<LibraryConnector> {
        let c = self.get_connector(reference)?;
        let client_id = checked_text("ClientId", client_id, 1024, true)?;
        let sealed = match client_secret {
            Some(s) => {
                check_secret_value("ClientSecret", s)?;
                Some(self.vault()?.seal(
                    SealedAt {
                        table: T_CONNECTORS,
                        row: &c.id.to_string(),
                        field: "ClientSecret",
                    },
                    s,
                ))
            }
            None => None,
        };
        let now = ts(self.now());
        self.store().write(|tx| {
            tx.execute(
                "UPDATE connectors SET client_id = ?2, sealed_client_secret = ?3, updated_at = ?4 WHERE id = ?1",
                params![c.id, client_id, sealed, now],
            )?;
            Ok(())
        })?;
        self.get_connector(&c.id.to_string())
    }

    pub fn clear_connector_client(&self, reference: &str) -> Result<LibraryConnector> {
        let c = self.get_connector(reference)?;
        let now = ts(self.now());
        self.store().write(|tx| {
            tx.execute(
                "UPDATE connectors SET client_id = NULL, sealed_client_secret = NULL, updated_at = ?2 WHERE id = ?1",
                params![c.id, now],
            )?;
            Ok(())
        })?;
        self.get_connector(&c.id.to_string())
    }

    // ---- account connectors ---------------------------------------------------------

    pub fn install(
        &self,
        account_id: &str,
        connector: &str,
        req: InstallRequest,
    ) -> Result<AccountConnector> {
        let account = self.get_account(account_id)?;
        let connector = self.get_connector(connector)?;
        let def = &connector.definition;
        let (name, description) = name_and_description(&req.name, req.description.as_deref())?;
        let input = self.check_credential_input(def, &req.properties, req.auth_value.as_ref())?;
        let now = self.now();
        let id = self.store().write(|tx| {
            tx.execute(
                "INSERT INTO account_connectors(account_id, connector_id, name, description, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                params![account.id, connector.id, name, description, ts(now)],
            )?;
            let id = tx.last_insert_rowid();
            input.write(tx, id, now)?;
            Ok(id)
        })?;
        self.get_account_connector(id)
    }

    pub fn list_account_connectors(
        &self,
        account_id: Option<&str>,
    ) -> Result<Vec<AccountConnector>> {
        self.list_account_connector_ids(account_id)?
            .into_iter()
            .map(|id| self.get_account_connector(id))
            .collect()
    }

    /// The Ids of an account's account connectors (all when `None`), in order.
    pub fn list_account_connector_ids(&self, account_id: Option<&str>) -> Result<Vec<i64>> {
        let account = account_id.map(|a| self.get_account(a)).transpose()?;
        let store = self.store();
        let mut stmt = store.conn().prepare(
            "SELECT id FROM account_connectors WHERE ?1 IS NULL OR account_id = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([account.as_ref().map(|a| a.id.as_str())], |r| r.get(0))?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    pub fn get_account_connector(&self, id: i64) -> Result<AccountConnector> {
        let store = self.store();
        load_account_connector(store.conn(), id)
    }

    /// The account an account connector belongs to (one indexed read).
    pub fn account_connector_account(&self, id: i64) -> Result<String> {
        self.store()
            .conn()
            .query_row(
                "SELECT account_id FROM account_connectors WHERE id = ?1",
                [id],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| Error::not_found("account connector", id))
    }

    /// The parsed definition of an account connector's connector (one query, cached parse).
    pub fn account_connector_definition(&self, id: i64) -> Result<Arc<ConnectorDefinition>> {
        let row: Option<(i64, String, String)> = self
            .store()
            .conn()
            .query_row(
                "SELECT c.id, c.slug, c.definition FROM account_connectors ac
                 JOIN connectors c ON c.id = ac.connector_id WHERE ac.id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let (cid, slug, text) = row.ok_or_else(|| Error::not_found("account connector", id))?;
        crate::definition::parse_cached(&format!("library connector {cid} ({slug})"), &text)
    }

    /// The account connector and its parsed definition.
    pub fn account_connector_with_definition(
        &self,
        id: i64,
    ) -> Result<(AccountConnector, std::sync::Arc<ConnectorDefinition>)> {
        let ac = self.get_account_connector(id)?;
        let def = self.get_connector(&ac.connector.id.to_string())?.definition;
        Ok((ac, def))
    }

    pub fn set_property(&self, id: i64, name: &str, value: &Secret) -> Result<AccountConnector> {
        let (_, def) = self.account_connector_with_definition(id)?;
        let input = PropertyInput {
            name: name.to_string(),
            value: value.clone(),
        };
        let checked = checked_properties(&def, std::slice::from_ref(&input))?;
        let p = &checked[0];
        let vault = if p.secret { Some(self.vault()?) } else { None };
        let now = ts(self.now());
        self.store().write(|tx| {
            write_property(tx, vault.as_deref(), id, &p.name, &p.value, p.secret)?;
            touch(tx, id, &now)
        })?;
        self.get_account_connector(id)
    }

    pub fn remove_property(&self, id: i64, name: &str) -> Result<AccountConnector> {
        self.get_account_connector(id)?;
        let now = ts(self.now());
        self.store().write(|tx| {
            let n = tx.execute(
                "DELETE FROM account_connector_properties WHERE account_connector_id = ?1 AND name = ?2",
                params![id, name],
            )?;
            if n == 0 {
                return Err(Error::not_found("property", name));
            }
            touch(tx, id, &now)
        })?;
        self.get_account_connector(id)
    }

    /// Replaces the account connector's credentials with an AuthValue (Cyclr's forms).
    pub fn set_auth_value(&self, id: i64, raw: &Secret) -> Result<AccountConnector> {
        let (_, def) = self.account_connector_with_definition(id)?;
        let value = AuthValue::parse(def.auth_type(), raw)?;
        let vault = if value.is_empty() {
            None
        } else {
            Some(self.vault()?)
        };
        let now = self.now();
        self.store()
            .write(|tx| apply_auth_value(tx, vault.as_deref(), id, &value, now))?;
        self.get_account_connector(id)
    }

    /// Sets properties and/or the AuthValue in one transaction: everything is checked first,
    /// so bad input changes nothing (the API's `PUT /account/connectors/{Id}`).
    pub fn update_account_connector(
        &self,
        id: i64,
        properties: &[PropertyInput],
        auth_value: Option<&Secret>,
    ) -> Result<AccountConnector> {
        let (_, def) = self.account_connector_with_definition(id)?;
        let input = self.check_credential_input(&def, properties, auth_value)?;
        let now = self.now();
        self.store().write(|tx| {
            input.write(tx, id, now)?;
            touch(tx, id, &ts(now))
        })?;
        self.get_account_connector(id)
    }

    pub fn set_sign_in_mode(&self, id: i64, mode: Option<SignInMode>) -> Result<AccountConnector> {
        self.get_account_connector(id)?;
        let mode = mode.map(|m| match m {
            SignInMode::Webview => "webview",
            SignInMode::SystemBrowser => "system_browser",
        });
        let now = ts(self.now());
        self.store().write(|tx| {
            tx.execute(
                "UPDATE account_connectors SET sign_in_mode = ?2, updated_at = ?3 WHERE id = ?1",
                params![id, mode, now],
            )?;
            Ok(())
        })?;
        self.get_account_connector(id)
    }

    /// Deletes an account connector, returning its OAuth tokens, read in the same
    /// transaction, for revocation (`Engine::delete_account_connector` revokes them).
    pub fn delete_account_connector_taking(
        &self,
        id: i64,
    ) -> Result<crate::token_store::TakenTokens> {
        self.account_connector_account(id)?;
        let mut taken = self.take_and_delete(&[id], |tx| {
            tx.execute("DELETE FROM account_connectors WHERE id = ?1", [id])?;
            Ok(())
        })?;
        taken
            .pop()
            .map(|(_, t)| t)
            .unwrap_or_else(|| Ok(Default::default()))
    }

    /// Opens one sealed credential of an account connector, if stored.
    pub fn credential_secret(&self, id: i64, field: &str) -> Result<Option<Secret>> {
        let sealed: Option<Vec<u8>> = self
            .store()
            .conn()
            .query_row(
                "SELECT sealed FROM account_connector_secrets WHERE account_connector_id = ?1 AND field = ?2",
                params![id, field],
                |r| r.get(0),
            )
            .optional()?;
        let row = id.to_string();
        self.open_sealed(
            sealed,
            SealedAt {
                table: T_SECRETS,
                row: &row,
                field,
            },
        )
    }

    /// Opens a property value (sealed or not), if set.
    pub fn property_value(&self, id: i64, name: &str) -> Result<Option<Secret>> {
        let row: Option<(Option<String>, Option<Vec<u8>>)> = self
            .store()
            .conn()
            .query_row(
                "SELECT value, sealed_value FROM account_connector_properties
                 WHERE account_connector_id = ?1 AND name = ?2",
                params![id, name],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        match row {
            None => Ok(None),
            Some((Some(v), _)) => Ok(Some(Secret::new(v))),
            Some((None, sealed)) => {
                let row = id.to_string();
                self.open_sealed(
                    sealed,
                    SealedAt {
                        table: T_PROPERTIES,
                        row: &row,
                        field: name,
                    },
                )
            }
        }
    }

    /// The library entry's ClientSecret, if set.
    pub fn connector_client_secret(&self, connector_id: i64) -> Result<Option<Secret>> {
        let sealed: Option<Vec<u8>> = self
            .store()
            .conn()
            .query_row(
                "SELECT sealed_client_secret FROM connectors WHERE id = ?1",
                [connector_id],
                |r| r.get(0),
            )
            .optional()?
            .flatten();
        let row = connector_id.to_string();
        self.open_sealed(
            sealed,
            SealedAt {
                table: T_CONNECTORS,
                row: &row,
                field: "ClientSecret",
            },
        )
    }
}

/// Properties and an AuthValue checked against a definition, with the vault opened only if
/// something must be sealed: everything that can fail does so before the transaction.
struct CredentialInput {
    properties: Vec<CheckedProperty>,
    auth_value: Option<AuthValue>,
    vault: Option<Arc<Vault>>,
}

impl CredentialInput {
    fn write(&self, tx: &Transaction<'_>, id: i64, now: DateTime<Utc>) -> Result<()> {
        for p in &self.properties {
            write_property(tx, self.vault.as_deref(), id, &p.name, &p.value, p.secret)?;
        }
        if let Some(v) = &self.auth_value {
            apply_auth_value(tx, self.vault.as_deref(), id, v, now)?;
        }
        Ok(())
    }
}

impl Authdesk {
    fn check_credential_input(
        &self,
        def: &ConnectorDefinition,
        properties: &[PropertyInput],
        auth_value: Option<&Secret>,
    ) -> Result<CredentialInput> {
        let properties = checked_properties(def, properties)?;
        let auth_value = auth_value
            .map(|raw| AuthValue::parse(def.auth_type(), raw))
            .transpose()?;
        let needs_vault = properties.iter().any(|p| p.secret)
            || auth_value.as_ref().is_some_and(|v| !v.is_empty());
        let vault = if needs_vault {
            Some(self.vault()?)
        } else {
            None
        };
        Ok(CredentialInput {
            properties,
            auth_value,
            vault,
        })
    }

    /// Opens a sealed column value read from `at`, if there is one.
    pub(crate) fn open_sealed(
        &self,
        sealed: Option<Vec<u8>>,
        at: SealedAt<'_>,
    ) -> Result<Option<Secret>> {
        sealed.map(|s| self.vault()?.open(at, &s)).transpose()
    }
}

fn verified_vault(
    source: &KeySource,
    vault_id: String,
    key_check: Option<String>,
) -> Result<Vault> {
    let key = source.load(&vault_id)?;
    let vault = Vault::new(vault_id.clone(), &key);
    let check = key_check.and_then(|h| unhex(&h));
    let ok = check
        .map(|c| vault.open(key_check_location(), &c).is_ok())
        .unwrap_or(false);
    if !ok {
        return Err(Error::VaultKeyMismatch {
            source_name: source.describe(),
            vault_id,
        });
    }
    Ok(vault)
}

fn key_check_location() -> SealedAt<'static> {
    SealedAt {
        table: "meta",
        row: META_KEY_CHECK,
        field: "value",
    }
}

/// Upserts the built-in catalog when the binary's catalog differs from the one recorded,
/// so the common start-up path is one small read.
fn sync_builtin_catalog(store: &mut Store, now: &DateTime<Utc>) -> Result<()> {
    let sources = catalog::builtin_sources();
    let mut hasher = Sha256::new();
    for (file, text) in sources {
        hasher.update(file.as_bytes());
        hasher.update([0]);
        hasher.update(text.as_bytes());
        hasher.update([0]);
    }
    let digest = hex(&hasher.finalize());
    if store.meta(META_CATALOG)?.as_deref() == Some(digest.as_str()) {
        return Ok(());
    }
    let defs = catalog::builtin()?;
    let now = ts(*now);
    store.write(|tx| {
        if store::meta_in(tx, META_CATALOG)?.as_deref() == Some(digest.as_str()) {
            return Ok(());
        }
        for ((_, text), def) in sources.iter().zip(&defs) {
            tx.execute(
                "INSERT INTO connectors(slug, source, definition, created_at, updated_at)
                 VALUES (?1, 'builtin', ?2, ?3, ?3)
                 ON CONFLICT(slug) DO UPDATE SET definition = excluded.definition,
                     updated_at = excluded.updated_at
                 WHERE connectors.source = 'builtin' AND connectors.definition <> excluded.definition",
                params![def.id, text, now],
            )?;
        }
        store::set_meta_in(tx, META_CATALOG, &digest)
    })
}

const LIBRARY_SELECT: &str =
    "SELECT id, slug, source, definition, client_id, sealed_client_secret IS NOT NULL FROM connectors";

type LibraryRow = (i64, String, String, String, Option<String>, bool);

fn library_row(r: &Row<'_>) -> rusqlite::Result<LibraryRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    ))
}

fn library_connector(row: LibraryRow) -> Result<LibraryConnector> {
    let (id, slug, source, text, client_id, client_secret_set) = row;
    let definition =
        crate::definition::parse_cached(&format!("library connector {id} ({slug})"), &text)?;
    let (auth_type, oauth2_type) = auth_type_name(&definition);
    Ok(LibraryConnector {
        id,
        slug,
        name: definition.name.clone(),
        version: definition.version.clone(),
        description: definition.description.clone(),
        auth_type,
        oauth2_type,
        source: if source == "builtin" {
            ConnectorSource::Builtin
        } else {
            ConnectorSource::User
        },
        client_id,
        client_secret_set,
        definition,
    })
}

fn find_connector(conn: &rusqlite::Connection, reference: &str) -> Result<LibraryConnector> {
    let reference = reference.trim();
    let row = match reference.parse::<i64>() {
        Ok(id) => conn
            .query_row(
                &format!("{LIBRARY_SELECT} WHERE id = ?1"),
                [id],
                library_row,
            )
            .optional()?,
        Err(_) => conn
            .query_row(
                &format!("{LIBRARY_SELECT} WHERE slug = ?1"),
                [reference],
                library_row,
            )
            .optional()?,
    };
    row.map(library_connector).transpose()?.ok_or_else(|| {
        Error::not_found_hint(
            "connector",
            reference,
            "list the library with `authdesk connectors list`",
        )
    })
}

fn load_account_connector(conn: &rusqlite::Connection, id: i64) -> Result<AccountConnector> {
    type AcRow = (
        String,
        i64,
        String,
        String,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        String,
        String,
    );
    let row: Option<AcRow> = conn
        .query_row(
            "SELECT account_id, connector_id, name, description, status, last_error, sign_in_mode,
                    token_type, scopes, expires_at, refresh_expires_at, authenticated_at,
                    created_at, updated_at
             FROM account_connectors WHERE id = ?1",
            [id],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                    r.get(9)?,
                    r.get(10)?,
                    r.get(11)?,
                    r.get(12)?,
                    r.get(13)?,
                ))
            },
        )
        .optional()?;
    let Some((
        account_id,
        connector_id,
        name,
        description,
        status,
        last_error,
        sign_in_mode,
        token_type,
        scopes,
        expires_at,
        refresh_expires_at,
        authenticated_at,
        created_at,
        updated_at,
    )) = row
    else {
        return Err(Error::not_found_hint(
            "account connector",
            id,
            "list them with `authdesk account-connectors list`",
        ));
    };
    let connector = find_connector(conn, &connector_id.to_string())?;
    let mut stmt = conn.prepare(
        "SELECT name, value, sealed_value IS NOT NULL FROM account_connector_properties
         WHERE account_connector_id = ?1 ORDER BY name",
    )?;
    let properties: Vec<PropertyView> = stmt
        .query_map([id], |r| {
            Ok(PropertyView {
                name: r.get(0)?,
                value: r.get(1)?,
                is_secret: r.get(2)?,
            })
        })?
        .collect::<std::result::Result<_, _>>()?;
    let missing_properties = connector
        .definition
        .properties
        .iter()
        .filter(|p| p.required && !properties.iter().any(|v| v.name == p.name))
        .map(|p| p.name.clone())
        .collect();
    let mut stmt = conn.prepare(
        "SELECT field FROM account_connector_secrets WHERE account_connector_id = ?1 ORDER BY field",
    )?;
    let secrets_set = stmt
        .query_map([id], |r| r.get(0))?
        .collect::<std::result::Result<_, _>>()?;
    let status = AuthStatus::from_db(&status);
    Ok(AccountConnector {
        id,
        account_id,
        name,
        description,
        authenticated: status == AuthStatus::Authenticated,
        status,
        last_error,
        connector: ConnectorSummary {
            id: connector.id,
            slug: connector.slug,
            name: connector.name,
            version: connector.version,
            auth_type: connector.auth_type,
            oauth2_type: connector.oauth2_type,
        },
        properties,
        missing_properties,
        secrets_set,
        sign_in_mode: sign_in_mode.map(|m| {
            if m == "system_browser" {
                SignInMode::SystemBrowser
            } else {
                SignInMode::Webview
            }
        }),
        token_type,
        scopes,
        expires_at: expires_at.map(parse_ts),
        refresh_expires_at: refresh_expires_at.map(parse_ts),
        authenticated_at: authenticated_at.map(parse_ts),
        created_at: parse_ts(created_at),
        updated_at: parse_ts(updated_at),
    })
}

/// A property input checked against the definition, ready to write.
struct CheckedProperty {
    name: String,
    /// As it will be stored (a host name is trimmed and lowercased).
    value: Secret,
    secret: bool,
}

/// Validates property inputs against the definition: names, sizes, and for a property that
/// stands in a URL, that the value fits there (a host name where the host is, ...) and
/// matches the definition's `pattern`/`suffix`. Messages never quote a value.
fn checked_properties(
    def: &ConnectorDefinition,
    inputs: &[PropertyInput],
) -> Result<Vec<CheckedProperty>> {
    let mut seen = std::collections::BTreeSet::new();
    inputs
        .iter()
        .map(|p| {
            let name = p.name.trim();
            if name.is_empty() || name.len() > 128 || name.chars().any(char::is_control) || name != p.name {
                return Err(Error::InvalidInput(format!(
                    "property name {:?} is not valid: use 1-128 characters without surrounding spaces",
                    p.name
                )));
            }
            if !seen.insert(name) {
                return Err(Error::InvalidInput(format!("property `{name}` is given twice")));
            }
            let secret = def.is_secret_property(name);
            if secret {
                check_secret_value(name, &p.value)?;
            } else {
                checked_text(name, p.value.expose(), MAX_PROPERTY_VALUE, false)?;
            }
            let value = def
                .check_property_value(name, p.value.expose())
                .map_err(Error::InvalidInput)?;
            Ok(CheckedProperty {
                name: name.to_string(),
                value: Secret::new(value),
                secret,
            })
        })
        .collect()
}

fn check_secret_value(field: &str, value: &Secret) -> Result<()> {
    if value.len() > MAX_PROPERTY_VALUE {
        return Err(Error::InvalidInput(format!(
            "`{field}` is {} bytes; the limit is {MAX_PROPERTY_VALUE}",
            value.len()
        )));
    }
    if value.expose().chars().any(char::is_control) {
        return Err(Error::InvalidInput(format!(
            "`{field}` contains control characters (a stray newline?); the value was not saved"
        )));
    }
    Ok(())
}

pub(crate) fn write_property(
    tx: &Transaction<'_>,
    vault: Option<&Vault>,
    id: i64,
    name: &str,
    value: &Secret,
    secret: bool,
) -> Result<()> {
    let (plain, sealed) = if secret {
        let vault = vault.expect("caller opens the vault for secret properties");
        let row = id.to_string();
        (
            None,
            Some(vault.seal(
                SealedAt {
                    table: T_PROPERTIES,
                    row: &row,
                    field: name,
                },
                value,
            )),
        )
    } else {
        (Some(value.expose().to_string()), None)
    };
    tx.execute(
        "INSERT INTO account_connector_properties(account_connector_id, name, value, sealed_value)
         VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(account_connector_id, name) DO UPDATE SET value = excluded.value,
             sealed_value = excluded.sealed_value",
        params![id, name, plain, sealed],
    )?;
    Ok(())
}

/// Replaces all credentials of an account connector with `value`, and sets its status.
pub(crate) fn apply_auth_value(
    tx: &Transaction<'_>,
    vault: Option<&Vault>,
    id: i64,
    value: &AuthValue,
    now: DateTime<Utc>,
) -> Result<()> {
    tx.execute(
        "DELETE FROM account_connector_secrets WHERE account_connector_id = ?1",
        [id],
    )?;
    let row = id.to_string();
    let put = |field: &str, secret: &Secret| -> Result<()> {
        let vault = vault.expect("caller opens the vault for non-empty AuthValues");
        let sealed = vault.seal(
            SealedAt {
                table: T_SECRETS,
                row: &row,
                field,
            },
            secret,
        );
        tx.execute(
            "INSERT INTO account_connector_secrets(account_connector_id, field, sealed) VALUES (?1, ?2, ?3)",
            params![id, field, sealed],
        )?;
        Ok(())
    };
    let mut meta = CredentialMeta::default();
    let (status, error) = match value {
        AuthValue::Empty => (AuthStatus::NotAuthenticated, None),
        AuthValue::ApiKey(k) => {
            put(fields::API_KEY, k)?;
            (AuthStatus::Authenticated, None)
        }
        AuthValue::Basic(b) => {
            put(fields::BASIC, &b.joined())?;
            (AuthStatus::Authenticated, None)
        }
        AuthValue::OAuth2(t) => {
            for (field, v) in [
                (fields::ACCESS_TOKEN, &t.access_token),
                (fields::REFRESH_TOKEN, &t.refresh_token),
                (fields::ID_TOKEN, &t.id_token),
            ] {
                if let Some(v) = v {
                    put(field, v)?;
                }
            }
            meta = CredentialMeta {
                token_type: t.token_type.clone(),
                scopes: t.scope.clone(),
                expires_at: t.expires,
                refresh_expires_at: t.refresh_expires,
            };
            let access_ok = t.access_token.is_some() && t.expires.is_none_or(|e| e > now);
            let refresh_ok = t.refresh_token.is_some() && t.refresh_expires.is_none_or(|e| e > now);
            if access_ok || refresh_ok {
                (AuthStatus::Authenticated, None)
            } else if t.refresh_token.is_some() {
                (
                    AuthStatus::NeedsReauth,
                    Some("the supplied AuthValue's RefreshExpires has passed: the user must sign in again".to_string()),
                )
            } else if t.access_token.is_some() {
                (
                    AuthStatus::NeedsReauth,
                    Some("the supplied AuthValue's access token has expired and there is no RefreshToken: the user must sign in again".to_string()),
                )
            } else {
                (AuthStatus::NotAuthenticated, None)
            }
        }
    };
    let authenticated_at = (status == AuthStatus::Authenticated).then(|| ts(now));
    crate::token_store::record_event(tx, id, now, "auth_value_set", Some(status.describe()))?;
    tx.execute(
        "UPDATE account_connectors SET status = ?2, last_error = ?3, token_type = ?4, scopes = ?5,
             expires_at = ?6, refresh_expires_at = ?7, authenticated_at = ?8, updated_at = ?9,
             credential_version = credential_version + 1, refresh_failures = 0, retry_after = NULL,
             access_obtained_at = CASE WHEN ?6 IS NULL THEN NULL ELSE ?9 END
         WHERE id = ?1",
        params![
            id,
            status.as_db(),
            error,
            meta.token_type,
            meta.scopes,
            meta.expires_at.map(ts),
            meta.refresh_expires_at.map(ts),
            authenticated_at,
            ts(now)
        ],
    )?;
    Ok(())
}

#[derive(Default)]
struct CredentialMeta {
    token_type: Option<String>,
    scopes: Option<String>,
    expires_at: Option<DateTime<Utc>>,
    refresh_expires_at: Option<DateTime<Utc>>,
}

fn touch(tx: &Transaction<'_>, id: i64, now: &str) -> Result<()> {
    tx.execute(
        "UPDATE account_connectors SET updated_at = ?2 WHERE id = ?1",
        params![id, now],
    )?;
    Ok(())
}

fn account_from_row(r: &Row<'_>) -> rusqlite::Result<Account> {
    Ok(Account {
        id: r.get(0)?,
        name: r.get(1)?,
        description: r.get(2)?,
        timezone: r.get(3)?,
        created_at: parse_ts(r.get::<_, String>(4)?),
    })
}

/// An account Id in its canonical form (lowercase, hyphenated GUID), or an error that
/// says what an Id looks like.
pub fn parse_guid(s: &str) -> Result<String> {
    uuid::Uuid::parse_str(s.trim())
        .map(|u| u.hyphenated().to_string())
        .map_err(|_| {
            Error::InvalidInput(format!(
                "account Id {s:?} is not a GUID (expected e.g. 8d0f6c8b-3a5e-4c2f-9b1d-2e7f4a6c9d01)"
            ))
        })
}

fn name_and_description(name: &str, description: Option<&str>) -> Result<(String, String)> {
    Ok((
        checked_text("Name", name, MAX_NAME, true)?,
        checked_text(
            "Description",
            description.unwrap_or(""),
            MAX_DESCRIPTION,
            false,
        )?,
    ))
}

fn checked_text(field: &str, value: &str, max: usize, required: bool) -> Result<String> {
    let v = value.trim();
    if required && v.is_empty() {
        return Err(Error::InvalidInput(format!("{field} must not be empty")));
    }
    if v.len() > max {
        return Err(Error::InvalidInput(format!(
            "{field} is {} characters; the limit is {max}",
            v.len()
        )));
    }
    if v.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(Error::InvalidInput(format!(
            "{field} contains control characters"
        )));
    }
    Ok(v.to_string())
}

/// Timestamps are stored as RFC 3339 UTC with a fixed width, so they sort as text.
pub(crate) fn ts(d: DateTime<Utc>) -> String {
    d.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

pub(crate) fn parse_ts(s: String) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(&s)
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}
