//! Account connectors: installs, properties (checked against where they stand in the
//! definition's URLs), AuthValues, sign-in mode, deletion, and the sealed values they hold.

use std::sync::Arc;

use std::collections::HashMap;

use crate::store::{args, Db};
use chrono::{DateTime, Utc};

use super::library::find_connector;
use super::{
    check_secret_value, checked_text, fields, like_pattern, name_and_description, parse_ts, ts,
    write_property, Authdesk, MAX_PROPERTY_VALUE, T_PROPERTIES, T_SECRETS,
};
use crate::authvalue::AuthValue;
use crate::definition::{AuthMethod, ConnectorDefinition, SignInMode};
use crate::domain::*;
use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::vault::{SealedAt, Vault};

impl Authdesk {
    pub fn install(
        &self,
        account_id: &str,
        connector: &str,
        req: InstallRequest,
    ) -> Result<AccountConnector> {
        let account = self.get_account(account_id)?;
        let install = self.prepare_install(connector, req)?;
        let now = self.now();
        let id = self
            .store()?
            .write(|tx| install.insert(tx, &account.id, now))?;
        self.get_account_connector(id)
    }

    /// Every check [`Authdesk::install`] makes of `req`, nothing written: a batch (LAUNCH,
    /// [`Authdesk::launch`]) prepares all its installs before writing them together.
    pub fn prepare_install(&self, connector: &str, req: InstallRequest) -> Result<PreparedInstall> {
        let connector = self.get_connector(connector)?;
        let def = &connector.definition;
        let (name, description) = name_and_description(&req.name, req.description.as_deref())?;
        let method = install_method(def, &req)?;
        let input =
            self.check_credential_input(def, method, &req.properties, req.auth_value.as_ref())?;
        Ok(PreparedInstall {
            connector_id: connector.id,
            name,
            description,
            stored_method: (!method.is_default()).then(|| method.id.to_string()),
            partner_integration: req.partner_integration,
            input,
        })
    }

    pub fn list_account_connectors(
        &self,
        account_id: Option<&str>,
    ) -> Result<Vec<AccountConnector>> {
        let filter = AccountConnectorFilter {
            account_id: account_id.map(str::to_string),
            ..Default::default()
        };
        Ok(self.account_connectors_page(&filter, 0, None)?.items)
    }

    /// A page of the account connectors `filter` selects (in Id order), and how many it
    /// selects in all: one query for the count, three for the page, whatever the size of
    /// the data directory (indexes of schema 6).
    pub fn account_connectors_page(
        &self,
        filter: &AccountConnectorFilter,
        offset: u64,
        limit: Option<u64>,
    ) -> Result<Page<AccountConnector>> {
        let filter = self.resolve(filter)?;
        let condition = filter.condition(None);
        let store = self.store()?;
        let conn = store.conn();
        let total: i64 = conn.query_row(
            &format!(
                "SELECT count(*) FROM account_connectors ac JOIN connectors c ON c.id = ac.connector_id
                 WHERE {}",
                condition.sql()
            ),
            condition.params().as_slice(),
            |r| r.get(0),
        )?;
        let limit = limit.map_or(i64::MAX, |l| l.min(i64::MAX as u64) as i64);
        let order = if filter.expiring_first {
            "ac.expires_at, ac.id"
        } else {
            "ac.id"
        };
        let tail = format!(
            "ORDER BY {order} LIMIT {limit} OFFSET {}",
            offset.min(i64::MAX as u64)
        );
        let items = load_many(
            &conn,
            &condition.sql(),
            &condition.params(),
            &tail,
            &mut ConnectorCache::default(),
        )?;
        Ok(Page {
            items,
            total: total as u64,
        })
    }

    /// Every account connector `filter` selects, in Id order, handed to `each` `chunk` at a
    /// time (each chunk read after the last Id of the one before, so memory stays one chunk
    /// and nothing is skipped or repeated). Returns how many there were.
    pub fn for_each_account_connector(
        &self,
        filter: &AccountConnectorFilter,
        chunk: u64,
        mut each: impl FnMut(Vec<AccountConnector>) -> Result<()>,
    ) -> Result<u64> {
        let filter = self.resolve(&AccountConnectorFilter {
            // Chunks follow Ids.
            expiring_first: false,
            ..filter.clone()
        })?;
        let mut connectors = ConnectorCache::default();
        let (mut after, mut n) = (None, 0u64);
        loop {
            let condition = filter.condition(after);
            let items = load_many(
                &self.store()?.conn(),
                &condition.sql(),
                &condition.params(),
                &format!("ORDER BY ac.id LIMIT {}", chunk.clamp(1, 100_000)),
                &mut connectors,
            )?;
            let Some(last) = items.last() else {
                return Ok(n);
            };
            after = Some(last.id);
            n += items.len() as u64;
            each(items)?;
        }
    }

    /// A filter with its account and connector looked up (an unknown one is an error).
    fn resolve(&self, filter: &AccountConnectorFilter) -> Result<ResolvedFilter> {
        Ok(ResolvedFilter {
            account: filter
                .account_id
                .as_deref()
                .map(|a| self.get_account(a))
                .transpose()?
                .map(|a| a.id),
            status: filter.status.map(|s| s.as_db()),
            connector: filter
                .connector
                .as_deref()
                .map(|c| self.get_connector(c))
                .transpose()?
                .map(|c| c.id),
            pattern: filter
                .search
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(like_pattern),
            expiring_first: filter.expiring_first,
        })
    }

    /// Counts over the whole data directory (aggregate queries, no rows loaded).
    pub fn counts(&self) -> Result<Counts> {
        let store = self.store()?;
        let conn = store.conn();
        let mut counts = Counts {
            accounts: conn.query_row("SELECT count(*) FROM accounts", args![], |r| {
                r.get::<i64>(0)
            })? as u64,
            ..Default::default()
        };
        let by_status = conn.query_map(
            "SELECT status, count(*) FROM account_connectors GROUP BY status",
            args![],
            |r| Ok((r.get::<String>(0)?, r.get::<i64>(1)?)),
        )?;
        for (status, n) in by_status {
            let n = n as u64;
            counts.account_connectors += n;
            match AuthStatus::from_db(&status) {
                AuthStatus::Authenticated => counts.authenticated += n,
                AuthStatus::NotAuthenticated => counts.not_authenticated += n,
                AuthStatus::NeedsReauth => counts.needs_reauthentication += n,
                AuthStatus::Error => counts.error += n,
            }
        }
        Ok(counts)
    }

    /// The Ids of an account's account connectors (all when `None`), in order.
    pub fn list_account_connector_ids(&self, account_id: Option<&str>) -> Result<Vec<i64>> {
        let account = account_id.map(|a| self.get_account(a)).transpose()?;
        let store = self.store()?;
        store.conn().query_map(
            "SELECT id FROM account_connectors WHERE ?1 IS NULL OR account_id = ?1 ORDER BY id",
            args![account.as_ref().map(|a| a.id.as_str())],
            |r| r.get(0),
        )
    }

    pub fn get_account_connector(&self, id: i64) -> Result<AccountConnector> {
        let store = self.store()?;
        load_account_connector(&store.conn(), id)
    }

    /// The account an account connector belongs to (one indexed read).
    pub fn account_connector_account(&self, id: i64) -> Result<String> {
        self.store()?
            .conn()
            .query_opt(
                "SELECT account_id FROM account_connectors WHERE id = ?1",
                args![id],
                |r| r.get(0),
            )?
            .ok_or_else(|| Error::not_found("account connector", id))
    }

    /// The OAuth 2.0 settings of the way to authenticate an account connector uses, if it
    /// is OAuth 2.0 (one query, cached parse).
    pub fn account_connector_oauth2(
        &self,
        id: i64,
    ) -> Result<Option<crate::definition::OAuth2Definition>> {
        let def = self.account_connector_definition(id)?;
        let method: Option<String> = self
            .store()?
            .conn()
            .query_opt(
                "SELECT authentication_method FROM account_connectors WHERE id = ?1",
                args![id],
                |r| r.get(0),
            )?
            .flatten();
        Ok(def
            .auth_method(method.as_deref())
            .and_then(|m| m.oauth2().cloned()))
    }

    /// The parsed definition of an account connector's connector (one query, cached parse).
    pub fn account_connector_definition(&self, id: i64) -> Result<Arc<ConnectorDefinition>> {
        let row: Option<(i64, String, String)> = self.store()?.conn().query_opt(
            "SELECT c.id, c.slug, c.definition FROM account_connectors ac
                 JOIN connectors c ON c.id = ac.connector_id WHERE ac.id = ?1",
            args![id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
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
        self.store()?.write(|tx| {
            write_property(tx, vault.as_deref(), id, &p.name, &p.value, p.secret)?;
            touch(tx, id, &now)
        })?;
        self.get_account_connector(id)
    }

    pub fn remove_property(&self, id: i64, name: &str) -> Result<AccountConnector> {
        self.get_account_connector(id)?;
        let now = ts(self.now());
        self.store()?.write(|tx| {
            let n = tx.execute(
                "DELETE FROM account_connector_properties WHERE account_connector_id = ?1 AND name = ?2",
                args![id, name])?;
            if n == 0 {
                return Err(Error::not_found("property", name));
            }
            touch(tx, id, &now)
        })?;
        self.get_account_connector(id)
    }

    /// Replaces the account connector's credentials with an AuthValue (Cyclr's forms).
    pub fn set_auth_value(&self, id: i64, raw: &Secret) -> Result<AccountConnector> {
        let (ac, def) = self.account_connector_with_definition(id)?;
        let value = AuthValue::parse(method_of(&def, &ac).auth_type(), raw)?;
        let vault = if value.is_empty() {
            None
        } else {
            Some(self.vault()?)
        };
        let now = self.now();
        self.store()?
            .write(|tx| apply_auth_value(tx, vault.as_deref(), id, &value, now))?;
        self.get_account_connector(id)
    }

    /// Sets credentials from a form: each field on its own (the app encodes Basic
    /// credentials, builds the OAuth AuthValue), checked like an AuthValue. The form's kind
    /// must be the account connector's way to authenticate.
    pub fn set_credential(&self, id: i64, form: CredentialForm) -> Result<AccountConnector> {
        use crate::definition::AuthType;
        let (ac, def) = self.account_connector_with_definition(id)?;
        let expected = method_of(&def, &ac).auth_type();
        let (kind, raw) = match form {
            CredentialForm::ApiKey { key } => {
                let key = key.expose().trim();
                if key.is_empty() {
                    return Err(Error::InvalidInput("the API key is empty".into()));
                }
                (AuthType::ApiKey, Secret::new(key))
            }
            CredentialForm::Basic { username, password } => {
                if username.is_empty()
                    || username.contains(':')
                    || username.chars().any(char::is_control)
                {
                    return Err(Error::InvalidInput(
                        "the username must be given and cannot contain `:` or control characters \
                         (HTTP Basic joins it to the password with a colon)"
                            .into(),
                    ));
                }
                let joined = format!("{username}:{}", password.expose());
                (
                    AuthType::Basic,
                    Secret::new(base64::Engine::encode(
                        &base64::engine::general_purpose::STANDARD,
                        joined,
                    )),
                )
            }
            CredentialForm::OAuth2 {
                access_token,
                refresh_token,
                expires,
                refresh_expires,
            } => {
                let mut o = serde_json::Map::new();
                let mut put = |k: &str, v: Option<String>| {
                    if let Some(v) = v.filter(|v| !v.trim().is_empty()) {
                        o.insert(k.into(), serde_json::Value::String(v.trim().to_string()));
                    }
                };
                put("AccessToken", access_token.map(|s| s.expose().to_string()));
                put(
                    "RefreshToken",
                    refresh_token.map(|s| s.expose().to_string()),
                );
                put("Expires", expires);
                put("RefreshExpires", refresh_expires);
                if o.is_empty() {
                    return Err(Error::InvalidInput(
                        "give an access token or a refresh token (or both)".into(),
                    ));
                }
                (
                    AuthType::Oauth2,
                    Secret::new(serde_json::Value::Object(o).to_string()),
                )
            }
        };
        if kind != expected {
            return Err(Error::InvalidInput(format!(
                "account connector {id} authenticates with {}, not {}",
                expected.cyclr_name(),
                kind.cyclr_name()
            )));
        }
        self.set_auth_value(id, &raw)
    }

    /// Sets properties and/or the AuthValue in one transaction: everything is checked first,
    /// so bad input changes nothing (the API's `PUT /account/connectors/{Id}`).
    pub fn update_account_connector(
        &self,
        id: i64,
        properties: &[PropertyInput],
        auth_value: Option<&Secret>,
    ) -> Result<AccountConnector> {
        // No switch of the way to authenticate, so nothing is taken.
        self.change_account_connector_taking(
            id,
            AccountConnectorChange {
                properties: properties.to_vec(),
                auth_value: auth_value.cloned(),
                ..Default::default()
            },
        )
        .map(|(ac, _)| ac)
    }

    /// Changes name, description, the way to authenticate, properties and/or the AuthValue
    /// in one transaction: everything is checked first, so bad input changes nothing (the
    /// API's `PUT /account/connectors/{Id}`). Switching the way to authenticate forgets the
    /// stored credential (an AuthValue for the new way replaces it); the OAuth tokens so
    /// forgotten are read in the same transaction and returned, for revocation
    /// (`Engine::change_account_connector` revokes them).
    pub fn change_account_connector_taking(
        &self,
        id: i64,
        change: AccountConnectorChange,
    ) -> Result<(
        AccountConnector,
        Option<Result<crate::token_store::TakenTokens>>,
    )> {
        let (ac, def) = self.account_connector_with_definition(id)?;
        let current = method_of(&def, &ac);
        let method = match change
            .authentication_id
            .as_deref()
            .filter(|a| !a.trim().is_empty())
        {
            Some(reference) => def
                .find_auth_method(reference)
                .map_err(Error::InvalidInput)?,
            None => current,
        };
        let switched = method.index != current.index;
        let (name, description) = name_and_description(
            change.name.as_deref().unwrap_or(&ac.name),
            Some(change.description.as_deref().unwrap_or(&ac.description)),
        )?;
        let input = self.check_credential_input(
            &def,
            method,
            &change.properties,
            change.auth_value.as_ref(),
        )?;
        let forget = switched && change.auth_value.is_none();
        let stored_method = (!method.is_default()).then(|| method.id.to_string());
        let now = self.now();
        let forgotten = self.store()?.write(|tx| {
            let forgotten = switched.then(|| crate::token_store::sealed_tokens_in(tx, id)).transpose()?;
            tx.execute(
                "UPDATE account_connectors SET name = ?2, description = ?3, authentication_method = ?4
                 WHERE id = ?1",
                args![id, name, description, stored_method])?;
            if forget {
                apply_auth_value(tx, None, id, &AuthValue::Empty, now)?;
            }
            input.write(tx, id, now)?;
            touch(tx, id, &ts(now))?;
            Ok(forgotten)
        })?;
        let taken = forgotten.map(|sealed| self.open_taken(id, sealed));
        Ok((self.get_account_connector(id)?, taken))
    }

    pub fn set_sign_in_mode(&self, id: i64, mode: Option<SignInMode>) -> Result<AccountConnector> {
        self.get_account_connector(id)?;
        let mode = mode.map(|m| match m {
            SignInMode::Webview => "webview",
            SignInMode::SystemBrowser => "system_browser",
        });
        let now = ts(self.now());
        self.store()?.write(|tx| {
            tx.execute(
                "UPDATE account_connectors SET sign_in_mode = ?2, updated_at = ?3 WHERE id = ?1",
                args![id, mode, now],
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
        let mut taken = self.take_and_delete(
            |_| Ok(vec![id]),
            |tx| {
                tx.execute("DELETE FROM account_connectors WHERE id = ?1", args![id])?;
                Ok(())
            },
        )?;
        taken
            .pop()
            .map(|(_, t)| t)
            .unwrap_or_else(|| Ok(Default::default()))
    }

    /// Opens one sealed credential of an account connector, if stored.
    pub fn credential_secret(&self, id: i64, field: &str) -> Result<Option<Secret>> {
        let sealed: Option<Vec<u8>> = self
            .store()?
            .conn()
            .query_opt(
                "SELECT sealed FROM account_connector_secrets WHERE account_connector_id = ?1 AND field = ?2",
                args![id, field],
                |r| r.get(0),
            )?;
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
        let row: Option<(Option<String>, Option<Vec<u8>>)> = self.store()?.conn().query_opt(
            "SELECT value, sealed_value FROM account_connector_properties
                 WHERE account_connector_id = ?1 AND name = ?2",
            args![id, name],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
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

    fn check_credential_input(
        &self,
        def: &ConnectorDefinition,
        method: AuthMethod<'_>,
        properties: &[PropertyInput],
        auth_value: Option<&Secret>,
    ) -> Result<CredentialInput> {
        let properties = checked_properties(def, properties)?;
        let auth_value = auth_value
            .map(|raw| AuthValue::parse(method.auth_type(), raw))
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
}

/// The way to authenticate an account connector uses.
fn method_of<'a>(def: &'a ConnectorDefinition, ac: &AccountConnector) -> AuthMethod<'a> {
    def.auth_method(Some(&ac.authentication.method_id))
        .unwrap_or_else(|| def.auth_methods()[0])
}

/// An install checked against its connector ([`Authdesk::prepare_install`]), ready to be
/// written into an account.
pub struct PreparedInstall {
    connector_id: i64,
    name: String,
    description: String,
    stored_method: Option<String>,
    partner_integration: bool,
    input: CredentialInput,
}

impl PreparedInstall {
    /// Inserts the account connector into `account_id` in `tx`; answers its Id.
    pub(crate) fn insert(&self, tx: &Db<'_>, account_id: &str, now: DateTime<Utc>) -> Result<i64> {
        let id: i64 = tx.query_row(
            "INSERT INTO account_connectors(account_id, connector_id, name, description, created_at, updated_at,
                 authentication_method, partner_integration)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7) RETURNING id",
            args![
                account_id,
                self.connector_id,
                self.name,
                self.description,
                ts(now),
                self.stored_method,
                self.partner_integration
            ],
            |r| r.get(0),
        )?;
        self.input.write(tx, id, now)?;
        Ok(id)
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
    fn write(&self, tx: &Db<'_>, id: i64, now: DateTime<Utc>) -> Result<()> {
        for p in &self.properties {
            write_property(tx, self.vault.as_deref(), id, &p.name, &p.value, p.secret)?;
        }
        if let Some(v) = &self.auth_value {
            apply_auth_value(tx, self.vault.as_deref(), id, v, now)?;
        }
        Ok(())
    }
}

fn load_account_connector(conn: &Db<'_>, id: i64) -> Result<AccountConnector> {
    load_many(
        conn,
        "ac.id = ?1",
        args![id],
        "",
        &mut ConnectorCache::default(),
    )?
    .pop()
    .ok_or_else(|| Error::not_found("account connector", id))
}

struct ResolvedFilter {
    account: Option<String>,
    status: Option<&'static str>,
    connector: Option<i64>,
    pattern: Option<String>,
    expiring_first: bool,
}

impl ResolvedFilter {
    /// The SQL condition over `account_connectors ac JOIN connectors c`, with only the
    /// clauses that apply, so SQLite plans each list with its index (an `?1 IS NULL OR ...`
    /// condition would make it scan). `after`: only Ids above it.
    fn condition(&self, after: Option<i64>) -> Where {
        let mut w = Where::default();
        if let Some(a) = &self.account {
            w.add("ac.account_id = #", a.clone());
        }
        if let Some(st) = self.status {
            w.add("ac.status = #", st);
        }
        if let Some(c) = self.connector {
            w.add("ac.connector_id = #", c);
        }
        if let Some(p) = &self.pattern {
            w.add(
                "(ac.name LIKE # ESCAPE '\\' OR c.slug LIKE # ESCAPE '\\')",
                p.clone(),
            );
        }
        if let Some(id) = after {
            w.add("ac.id > #", id);
        }
        if self.expiring_first {
            w.clauses.push("ac.expires_at IS NOT NULL".into());
        }
        w
    }
}

/// A WHERE clause and its parameters (`#` in a clause is its parameter).
#[derive(Default)]
struct Where {
    clauses: Vec<String>,
    params: Vec<Box<dyn crate::store::sql::ToValue>>,
}

impl Where {
    fn add(&mut self, clause: &str, value: impl crate::store::sql::ToValue + 'static) {
        self.params.push(Box::new(value));
        self.clauses
            .push(clause.replace('#', &format!("?{}", self.params.len())));
    }

    fn sql(&self) -> String {
        if self.clauses.is_empty() {
            "1 = 1".into()
        } else {
            self.clauses.join(" AND ")
        }
    }

    fn params(&self) -> Vec<&dyn crate::store::sql::ToValue> {
        self.params.iter().map(|p| p.as_ref()).collect()
    }
}

/// Library entries by Id, each parsed once per list.
#[derive(Default)]
struct ConnectorCache(HashMap<i64, LibraryConnector>);

impl ConnectorCache {
    fn get(&mut self, conn: &Db<'_>, id: i64) -> Result<&LibraryConnector> {
        Ok(match self.0.entry(id) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(find_connector(conn, &id.to_string())?)
            }
        })
    }
}

const AC_COLUMNS: &str = "ac.id, ac.account_id, ac.connector_id, ac.name, ac.description, ac.status,
    ac.last_error, ac.sign_in_mode, ac.token_type, ac.scopes, ac.expires_at, ac.refresh_expires_at,
    ac.authenticated_at, ac.created_at, ac.updated_at, ac.authentication_method, ac.partner_integration,
    CASE WHEN ac.checked_version = ac.credential_version THEN ac.checked_at END,
    CASE WHEN ac.checked_version = ac.credential_version THEN ac.checked_status END";

/// The account connectors matching `condition` (over `account_connectors ac`, optionally
/// joined with `connectors c`), in `tail` order and limit: three queries whatever their
/// number (the rows, then their properties and their secrets' names), each definition
/// parsed once, no keychain or vault work.
fn load_many(
    conn: &Db<'_>,
    condition: &str,
    params: &[&dyn crate::store::sql::ToValue],
    tail: &str,
    connectors: &mut ConnectorCache,
) -> Result<Vec<AccountConnector>> {
    struct Row {
        id: i64,
        account_id: String,
        connector_id: i64,
        name: String,
        description: String,
        status: String,
        last_error: Option<String>,
        sign_in_mode: Option<String>,
        token_type: Option<String>,
        scopes: Option<String>,
        expires_at: Option<String>,
        refresh_expires_at: Option<String>,
        authenticated_at: Option<String>,
        created_at: String,
        updated_at: String,
        authentication_method: Option<String>,
        partner_integration: bool,
        checked_at: Option<String>,
        checked_status: Option<u16>,
    }
    let rows: Vec<Row> = conn.query_map(
        &format!(
            "SELECT {AC_COLUMNS} FROM account_connectors ac JOIN connectors c ON c.id = ac.connector_id
             WHERE {condition} {tail}"
        ),
        params,
        |r| {
            Ok(Row {
                id: r.get(0)?,
                account_id: r.get(1)?,
                connector_id: r.get(2)?,
                name: r.get(3)?,
                description: r.get(4)?,
                status: r.get(5)?,
                last_error: r.get(6)?,
                sign_in_mode: r.get(7)?,
                token_type: r.get(8)?,
                scopes: r.get(9)?,
                expires_at: r.get(10)?,
                refresh_expires_at: r.get(11)?,
                authenticated_at: r.get(12)?,
                created_at: r.get(13)?,
                updated_at: r.get(14)?,
                authentication_method: r.get(15)?,
                partner_integration: r.get(16)?,
                checked_at: r.get(17)?,
                checked_status: r.get(18)?,
            })
        },
    )?;
    if rows.is_empty() {
        return Ok(vec![]);
    }
    // Integers only, so the list is safe to inline.
    let ids = rows
        .iter()
        .map(|r| r.id.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let mut properties: HashMap<i64, Vec<(String, Option<String>, bool)>> = HashMap::new();
    conn.for_each(
        &format!(
            "SELECT account_connector_id, name, value, sealed_value IS NOT NULL
             FROM account_connector_properties WHERE account_connector_id IN ({ids}) ORDER BY name"
        ),
        args![],
        |r| {
            let (id, name, value, secret): (i64, String, Option<String>, bool) =
                (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
            properties
                .entry(id)
                .or_default()
                .push((name, value, secret));
            Ok(())
        },
    )?;
    let mut secrets: HashMap<i64, Vec<String>> = HashMap::new();
    conn.for_each(
        &format!(
            "SELECT account_connector_id, field FROM account_connector_secrets
             WHERE account_connector_id IN ({ids}) ORDER BY field"
        ),
        args![],
        |r| {
            let (id, field): (i64, String) = (r.get(0)?, r.get(1)?);
            secrets.entry(id).or_default().push(field);
            Ok(())
        },
    )?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let connector = connectors.get(conn, row.connector_id)?;
        let def = &connector.definition;
        let properties: Vec<PropertyView> = properties
            .remove(&row.id)
            .unwrap_or_default()
            .into_iter()
            .map(|(name, value, is_secret)| PropertyView {
                id: def
                    .property(&name)
                    .map_or(0, |p| stable_id(&def.id, "property", &p.name)),
                account_connector_id: row.id,
                name,
                value,
                is_secret,
            })
            .collect();
        let missing_properties = def
            .properties
            .iter()
            .filter(|p| p.required && !properties.iter().any(|v| v.name == p.name))
            .map(|p| p.name.clone())
            .collect();
        let status = AuthStatus::from_db(&row.status);
        // A method that a later version of the definition dropped falls back to the default.
        let method = def
            .auth_method(row.authentication_method.as_deref())
            .unwrap_or_else(|| def.auth_methods()[0]);
        let authentication = authentication_view(def, method);
        out.push(AccountConnector {
            id: row.id,
            account_id: row.account_id,
            name: row.name,
            description: row.description,
            auth_value: None,
            authenticated: status == AuthStatus::Authenticated,
            status,
            last_error: row.last_error,
            connector: connector_summary(connector.id, &connector.slug, def, method),
            authentication_id: authentication.id.clone(),
            authentication,
            is_partner_integration_connector: row.partner_integration,
            properties,
            custom_fields: vec![],
            missing_properties,
            secrets_set: secrets.remove(&row.id).unwrap_or_default(),
            sign_in_mode: row.sign_in_mode.map(|m| {
                if m == "system_browser" {
                    SignInMode::SystemBrowser
                } else {
                    SignInMode::Webview
                }
            }),
            token_type: row.token_type,
            scopes: row.scopes,
            expires_at: row.expires_at.map(parse_ts),
            refresh_expires_at: row.refresh_expires_at.map(parse_ts),
            authenticated_at: row.authenticated_at.map(parse_ts),
            created_at: parse_ts(row.created_at),
            updated_at: parse_ts(row.updated_at),
            last_check: row
                .checked_at
                .zip(row.checked_status)
                .map(|(at, http_status)| CredentialCheck {
                    at: parse_ts(at),
                    http_status,
                    ok: (200..300).contains(&http_status),
                }),
        });
    }
    Ok(out)
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
            check_declared(def, name)?;
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

/// The property names an account connector of `def` takes: the definition's own, and,
/// when it can authenticate with OAuth, ClientId/ClientSecret (its own OAuth app) and
/// RedirectUri (the redirect URI that app registered, which the window's sign-in uses).
pub fn declared_property_names(def: &ConnectorDefinition) -> Vec<&str> {
    let mut names: Vec<&str> = def.properties.iter().map(|p| p.name.as_str()).collect();
    let oauth = def
        .auth_methods()
        .iter()
        .any(|m| m.auth_type() == crate::definition::AuthType::Oauth2);
    if oauth {
        for n in ["ClientId", "ClientSecret", "RedirectUri"] {
            if !names.contains(&n) {
                names.push(n);
            }
        }
    }
    names
}

/// A property name the definition does not declare is refused (a typo such as `Apihost`
/// would otherwise sit next to "ApiHost is required and missing"), naming the valid ones.
fn check_declared(def: &ConnectorDefinition, name: &str) -> Result<()> {
    let names = declared_property_names(def);
    if names.contains(&name) {
        return Ok(());
    }
    let near = names.iter().find(|n| n.eq_ignore_ascii_case(name));
    let valid = if names.is_empty() {
        "it takes no properties".to_string()
    } else {
        format!("its properties are {}", names.join(", "))
    };
    Err(Error::InvalidInput(match near {
        Some(n) => format!(
            "connector `{}` has no property `{name}`: did you mean `{n}`? ({valid})",
            def.id
        ),
        None => format!("connector `{}` has no property `{name}`: {valid}", def.id),
    }))
}

/// Replaces all credentials of an account connector with `value`, and sets its status.
pub(crate) fn apply_auth_value(
    tx: &Db<'_>,
    vault: Option<&Vault>,
    id: i64,
    value: &AuthValue,
    now: DateTime<Utc>,
) -> Result<()> {
    tx.execute(
        "DELETE FROM account_connector_secrets WHERE account_connector_id = ?1",
        args![id],
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
            args![id, field, sealed])?;
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
    crate::token_store::record_event(tx, id, now, "auth_value_set", Some(status.describe()), None)?;
    tx.execute(
        "UPDATE account_connectors SET status = ?2, last_error = ?3, token_type = ?4, scopes = ?5,
             expires_at = ?6, refresh_expires_at = ?7, authenticated_at = ?8, updated_at = ?9,
             credential_version = credential_version + 1, refresh_failures = 0, retry_after = NULL,
             access_obtained_at = CASE WHEN ?6 IS NULL THEN NULL ELSE ?9 END
         WHERE id = ?1",
        args![
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

fn touch(tx: &Db<'_>, id: i64, now: &str) -> Result<()> {
    tx.execute(
        "UPDATE account_connectors SET updated_at = ?2 WHERE id = ?1",
        args![id, now],
    )?;
    Ok(())
}

/// The way to authenticate an install asks for (`AuthenticationId`), or the default.
fn install_method<'d>(
    def: &'d crate::definition::ConnectorDefinition,
    req: &InstallRequest,
) -> Result<crate::definition::AuthMethod<'d>> {
    match req
        .authentication_id
        .as_deref()
        .filter(|a| !a.trim().is_empty())
    {
        Some(reference) => def.find_auth_method(reference).map_err(Error::InvalidInput),
        None => Ok(def.auth_methods()[0]),
    }
}
