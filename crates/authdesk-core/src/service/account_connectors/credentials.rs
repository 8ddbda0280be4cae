//! An account connector's credential as the user or a partner gives it: an AuthValue in any
//! of Cyclr's forms, or the window's credential form (API key, Basic); written with its
//! status in one transaction, replacing what was there.
//!
//! Must not: talk to a provider (the engine does), or keep a value it replaced.

use super::*;

/// Properties and an AuthValue checked against a definition, with the vault opened only if
/// something must be sealed: everything that can fail does so before the transaction.
pub(super) struct CredentialInput {
    properties: Vec<CheckedProperty>,
    auth_value: Option<AuthValue>,
    vault: Option<Arc<Vault>>,
}

impl CredentialInput {
    pub(super) fn write(&self, tx: &Db<'_>, id: i64, now: DateTime<Utc>) -> Result<()> {
        for p in &self.properties {
            write_property(tx, self.vault.as_deref(), id, &p.name, &p.value, p.secret)?;
        }
        if let Some(v) = &self.auth_value {
            apply_auth_value(tx, self.vault.as_deref(), id, v, now)?;
        }
        Ok(())
    }
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
        AuthValue::Fields(values) => {
            for (name, v) in values {
                put(&fields::auth_field(name), v)?;
            }
            (AuthStatus::Authenticated, None)
        }
        AuthValue::OAuth1 {
            access_token,
            token_secret,
        } => {
            put(fields::ACCESS_TOKEN, access_token)?;
            put(fields::TOKEN_SECRET, token_secret)?;
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
    // After the update: the history's webhook event reads the status it set.
    crate::token_store::record_event(tx, id, now, "auth_value_set", Some(status.describe()), None)?;
    Ok(())
}

#[derive(Default)]
pub(super) struct CredentialMeta {
    token_type: Option<String>,
    scopes: Option<String>,
    expires_at: Option<DateTime<Utc>>,
    refresh_expires_at: Option<DateTime<Utc>>,
}

pub(super) fn touch(tx: &Db<'_>, id: i64, now: &str) -> Result<()> {
    tx.execute(
        "UPDATE account_connectors SET updated_at = ?2 WHERE id = ?1",
        args![id, now],
    )?;
    Ok(())
}

impl Authdesk {
    /// Replaces the account connector's credentials with an AuthValue (Cyclr's forms).
    pub fn set_auth_value(&self, id: i64, raw: &Secret) -> Result<AccountConnector> {
        let (ac, def) = self.account_connector_with_definition(id)?;
        let value = AuthValue::parse_for(method_of(&def, &ac).auth, raw)?;
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
            CredentialForm::AuthFields { values } => {
                // A blank form would read as `{}` and forget the stored values.
                let blank: Vec<&str> = values
                    .iter()
                    .filter(|(_, v)| v.expose().trim().is_empty())
                    .map(|(k, _)| k.as_str())
                    .collect();
                if values.is_empty() || !blank.is_empty() {
                    return Err(Error::InvalidInput(format!(
                        "fill in every field{}",
                        if blank.is_empty() {
                            String::new()
                        } else {
                            format!(" ({} is empty)", blank.join(", "))
                        }
                    )));
                }
                let o: serde_json::Map<String, serde_json::Value> = values
                    .into_iter()
                    .map(|(k, v)| (k, serde_json::Value::String(v.expose().trim().to_string())))
                    .collect();
                (
                    AuthType::AuthFields,
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

    pub(super) fn check_credential_input(
        &self,
        def: &ConnectorDefinition,
        method: AuthMethod<'_>,
        properties: &[PropertyInput],
        auth_value: Option<&Secret>,
    ) -> Result<CredentialInput> {
        let properties = checked_properties(def, properties)?;
        let auth_value = auth_value
            .map(|raw| AuthValue::parse_for(method.auth, raw))
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
