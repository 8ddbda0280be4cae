//! Account connectors: installs (prepared, then written), properties (checked against where
//! they stand in the definition's URLs), the way to authenticate, sign-in mode, deletion, and
//! the sealed values they hold. AuthValues and credential forms are in `credentials`; pages,
//! chunks and counts in `listing`.
//!
//! Must not: talk to a provider or revoke (the tokens a switch or a delete forgets go to the
//! engine: `*_taking`), or store a property its definition does not allow (`check_declared`).

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
use crate::definition::{
    AuthMethod, ConnectorDefinition, OAuth2Grant, SignInMode, CLIENT_PRIVATE_KEY,
};
use crate::domain::*;
use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::vault::{SealedAt, Vault};

pub(crate) mod attention;
mod credentials;
mod listing;

pub(crate) use credentials::apply_auth_value;
use credentials::{touch, CredentialInput};
use listing::load_account_connector;

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

    pub fn get_account_connector(&self, id: i64) -> Result<AccountConnector> {
        let store = self.store()?;
        load_account_connector(&store.conn(), id, self.now())
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
    ) -> Result<Result<crate::token_store::TakenTokens>> {
        self.account_connector_account(id)?;
        let mut taken = self.take_and_delete(
            |_| Ok(vec![id]),
            |tx| {
                tx.execute("DELETE FROM account_connectors WHERE id = ?1", args![id])?;
                Ok(())
            },
        )?;
        // Outer: the deletion (done once this returns Ok); inner: opening what it took.
        Ok(taken
            .pop()
            .map(|(_, t)| t)
            .unwrap_or_else(|| Ok(Default::default())))
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
            if name == CLIENT_PRIVATE_KEY {
                // PEM spans lines: it is checked as a key instead.
                crate::signing::SigningKey::from_pem(&p.value).map_err(|e| {
                    Error::InvalidInput(format!("`{name}` {e}; the value was not saved"))
                })?;
            } else if secret {
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
/// when it can authenticate with OAuth, ClientId/ClientSecret (its own OAuth app),
/// RedirectUri (the redirect URI that app registered, which the window's sign-in uses) and,
/// for an app that signs with a private key, ClientPrivateKey.
pub fn declared_property_names(def: &ConnectorDefinition) -> Vec<&str> {
    let mut names: Vec<&str> = def.properties.iter().map(|p| p.name.as_str()).collect();
    let oauth = def.auth_methods().iter().any(|m| {
        matches!(
            m.auth_type(),
            crate::definition::AuthType::Oauth2 | crate::definition::AuthType::Oauth1
        )
    });
    if oauth {
        for n in ["ClientId", "ClientSecret", "RedirectUri"] {
            if !names.contains(&n) {
                names.push(n);
            }
        }
    }
    // An app that signs its requests with a private key may bring its own (PEM, sealed).
    let signs = def
        .auth_methods()
        .iter()
        .filter_map(|m| m.oauth2())
        .any(|o| o.client_auth.needs_private_key() || o.grant == OAuth2Grant::JwtBearer)
        || def
            .auth_methods()
            .iter()
            .filter_map(|m| m.oauth1())
            .any(|o| !o.needs_secret());
    if signs && !names.contains(&CLIENT_PRIVATE_KEY) {
        names.push(CLIENT_PRIVATE_KEY);
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
