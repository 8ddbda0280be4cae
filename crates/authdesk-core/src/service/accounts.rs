//! Accounts (one per customer) and their users.

use crate::store::{args, Db, Row};

use super::{checked_text, like_pattern, name_and_description, parse_ts, ts, Authdesk, MAX_NAME};
use crate::domain::*;
use crate::error::{Error, Result};

impl Authdesk {
    pub fn create_account(&self, new: NewAccount) -> Result<Account> {
        let id = match new.id.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(given) => parse_guid(given)?,
            None => uuid::Uuid::new_v4().to_string(),
        };
        let (name, description) = name_and_description(&new.name, new.description.as_deref())?;
        let timezone = checked_timezone(new.timezone.as_deref().unwrap_or("UTC"))?;
        let settings = self.checked_settings(new.settings, Some(&id))?;
        let now = self.now();
        self.store()?.write(|tx| {
            let n = tx.execute(
                &format!(
                    "INSERT INTO accounts(id, name, description, timezone, created_at, {SETTINGS_COLUMNS})
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) ON CONFLICT(id) DO NOTHING"
                ),
                args![
                    id,
                    name,
                    description,
                    timezone,
                    ts(now),
                    settings.step_data_success_retention_hours,
                    settings.step_data_errored_retention_hours,
                    settings.transaction_error_webhook_enabled,
                    settings.transaction_error_webhook_url,
                    settings.transaction_error_webhook_include_warnings,
                    settings.parent_account_id,
                ])?;
            if n == 0 {
                return Err(Error::AlreadyExists(format!("account {id} already exists")));
            }
            Ok(())
        })?;
        self.get_account(&id)
    }

    pub fn list_accounts(&self) -> Result<Vec<Account>> {
        let store = self.store()?;
        store.conn().query_map(
            &format!("{ACCOUNT_SELECT} ORDER BY name, id"),
            args![],
            account_from_row,
        )
    }

    /// A page of the accounts (by name), optionally only those whose name or Id contains
    /// `search` (any case), and how many match in all.
    pub fn accounts_page(
        &self,
        search: Option<&str>,
        offset: u64,
        limit: Option<u64>,
    ) -> Result<Page<Account>> {
        let pattern = search
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(like_pattern);
        let store = self.store()?;
        let conn = store.conn();
        let condition = "?1 IS NULL OR name LIKE ?1 ESCAPE '\\' OR id LIKE ?1 ESCAPE '\\'";
        let total: i64 = conn.query_row(
            &format!("SELECT count(*) FROM accounts WHERE {condition}"),
            args![pattern],
            |r| r.get(0),
        )?;
        let limit = limit.map_or(i64::MAX, |l| l.min(i64::MAX as u64) as i64);
        let items = conn.query_map(
            &format!(
                "{ACCOUNT_SELECT} WHERE {condition} ORDER BY name, id LIMIT {limit} OFFSET {}",
                offset.min(i64::MAX as u64)
            ),
            args![pattern],
            account_from_row,
        )?;
        Ok(Page {
            items,
            total: total as u64,
        })
    }

    /// For each of `account_ids`, how many of its account connectors need attention (they
    /// need the user to sign in again, or failed): the same rule as the header's count
    /// ([`Counts::needing_attention`]), from one aggregate over those rows (the status
    /// index), whatever the number of accounts.
    pub fn needing_attention_by_account(
        &self,
        account_ids: &[String],
    ) -> Result<std::collections::HashMap<String, u64>> {
        let store = self.store()?;
        let rows = store.conn().query_map(
            "SELECT account_id, count(*) FROM account_connectors
             WHERE status IN ('needs_reauth', 'error') GROUP BY account_id",
            args![],
            |r| Ok((r.get::<String>(0)?, r.get::<i64>(1)?)),
        )?;
        let wanted: std::collections::HashSet<&str> =
            account_ids.iter().map(String::as_str).collect();
        let mut out = std::collections::HashMap::new();
        for (id, n) in rows {
            if wanted.contains(id.as_str()) {
                out.insert(id, n as u64);
            }
        }
        Ok(out)
    }

    pub fn get_account(&self, id: &str) -> Result<Account> {
        let id = parse_guid(id)?;
        self.store()?
            .conn()
            .query_opt(
                &format!("{ACCOUNT_SELECT} WHERE id = ?1"),
                args![&id],
                account_from_row,
            )?
            .ok_or_else(|| Error::not_found("account", &id))
    }

    /// Deletes an account with its users and account connectors (and their secrets),
    /// returning each account connector's OAuth tokens, read in the same transaction, for
    /// revocation (`Engine::delete_account` revokes them).
    pub fn delete_account_taking(
        &self,
        id: &str,
    ) -> Result<Vec<(i64, Result<crate::token_store::TakenTokens>)>> {
        let account = self.get_account(id)?;
        let ids = |tx: &Db<'_>| -> Result<Vec<i64>> {
            tx.query_map(
                "SELECT id FROM account_connectors WHERE account_id = ?1",
                args![&account.id],
                |r| r.get(0),
            )
        };
        self.take_and_delete(ids, |tx| {
            // Its children lose their parent rather than point at an account that is gone.
            tx.execute(
                "UPDATE accounts SET parent_account_id = NULL WHERE parent_account_id = ?1",
                args![&account.id],
            )?;
            tx.execute("DELETE FROM accounts WHERE id = ?1", args![&account.id])?;
            Ok(())
        })
    }

    /// Adds a user to an account if it is not there yet.
    pub fn ensure_account_user(&self, account_id: &str, username: &str) -> Result<AccountUser> {
        let account = self.get_account(account_id)?;
        let username = checked_text("Username", username, MAX_NAME, true)?;
        let now = self.now();
        self.store()?.write(|tx| {
            tx.execute(
                "INSERT INTO account_users(account_id, username, created_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT(account_id, username) DO NOTHING",
                args![account.id, username, ts(now)],
            )?;
            tx.query_row(
                "SELECT account_id, username, created_at FROM account_users
                 WHERE account_id = ?1 AND username = ?2",
                args![account.id, username],
                |r| {
                    Ok(AccountUser {
                        account_id: r.get(0)?,
                        username: r.get(1)?,
                        created_at: parse_ts(r.get::<String>(2)?),
                    })
                },
            )
        })
    }

    pub fn list_account_users(&self, account_id: &str) -> Result<Vec<AccountUser>> {
        let account = self.get_account(account_id)?;
        let store = self.store()?;
        store.conn().query_map(
            "SELECT account_id, username, created_at FROM account_users
             WHERE account_id = ?1 ORDER BY username",
            args![&account.id],
            |r| {
                Ok(AccountUser {
                    account_id: r.get(0)?,
                    username: r.get(1)?,
                    created_at: parse_ts(r.get::<String>(2)?),
                })
            },
        )
    }

    /// Updates an account's name, description or timezone.
    pub fn update_account(&self, id: &str, update: AccountUpdate) -> Result<Account> {
        let current = self.get_account(id)?;
        // The same checks as at creation: nothing is changed unless every field is valid.
        let (name, description) = name_and_description(
            update.name.as_deref().unwrap_or(&current.name),
            Some(
                update
                    .description
                    .as_deref()
                    .unwrap_or(&current.description),
            ),
        )?;
        // Checked when given (an account stored before names were checked keeps its own).
        let timezone = match update.timezone.as_deref() {
            Some(t) => checked_timezone(t)?,
            None => current.timezone.clone(),
        };
        let given = self.checked_settings(update.settings, Some(&current.id))?;
        let settings = given.or(current.settings);
        self.store()?.write(|tx| {
            tx.execute(
                "UPDATE accounts SET name = ?2, description = ?3, timezone = ?4,
                     step_data_success_retention_hours = ?5, step_data_errored_retention_hours = ?6,
                     transaction_error_webhook_enabled = ?7, transaction_error_webhook_url = ?8,
                     transaction_error_webhook_include_warnings = ?9, parent_account_id = ?10
                 WHERE id = ?1",
                args![
                    current.id,
                    name,
                    description,
                    timezone,
                    settings.step_data_success_retention_hours,
                    settings.step_data_errored_retention_hours,
                    settings.transaction_error_webhook_enabled,
                    settings.transaction_error_webhook_url,
                    settings.transaction_error_webhook_include_warnings,
                    settings.parent_account_id,
                ],
            )?;
            Ok(())
        })?;
        self.get_account(&current.id)
    }

    /// Checks the Cyclr account settings: hours within reason, an absolute http(s) webhook
    /// URL, a parent account that exists and is not the account itself.
    fn checked_settings(
        &self,
        settings: AccountSettings,
        account_id: Option<&str>,
    ) -> Result<AccountSettings> {
        for (field, hours) in [
            (
                "StepDataSuccessRetentionHours",
                settings.step_data_success_retention_hours,
            ),
            (
                "StepDataErroredRetentionHours",
                settings.step_data_errored_retention_hours,
            ),
        ] {
            if hours.is_some_and(|h| !(0..=1_000_000).contains(&h)) {
                return Err(Error::InvalidInput(format!(
                    "{field} must be a number of hours from 0 to 1000000"
                )));
            }
        }
        let url = match settings
            .transaction_error_webhook_url
            .as_deref()
            .map(str::trim)
        {
            None | Some("") => None,
            Some(u) => {
                let ok = u.len() <= 2048
                    && url::Url::parse(u)
                        .is_ok_and(|p| matches!(p.scheme(), "http" | "https") && p.has_host());
                if !ok {
                    return Err(Error::InvalidInput(
                        "TransactionErrorWebhookUrl must be an absolute http(s) URL".into(),
                    ));
                }
                Some(u.to_string())
            }
        };
        let parent = match settings.parent_account_id.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(p) => {
                let parent = self.get_account(p).map_err(|e| match e {
                    Error::NotFound { .. } => Error::InvalidInput(
                        "ParentAccountId names no account; create the parent account first".into(),
                    ),
                    other => other,
                })?;
                if Some(parent.id.as_str()) == account_id {
                    return Err(Error::InvalidInput(
                        "ParentAccountId cannot be the account itself".into(),
                    ));
                }
                // No cycles: the account must not be an ancestor of its new parent.
                if let Some(me) = account_id {
                    let mut next = parent.settings.parent_account_id.clone();
                    for _ in 0..10_000 {
                        let Some(ancestor) = next else { break };
                        if ancestor.as_str() == me {
                            return Err(Error::InvalidInput(format!(
                                "ParentAccountId {} is below this account (its parent, or a \
                                 parent's parent...): accounts cannot form a cycle",
                                parent.id
                            )));
                        }
                        next = match self.get_account(&ancestor) {
                            Ok(a) => a.settings.parent_account_id,
                            Err(Error::NotFound { .. }) => None,
                            Err(e) => return Err(e),
                        };
                    }
                }
                Some(parent.id)
            }
        };
        Ok(AccountSettings {
            transaction_error_webhook_url: url,
            parent_account_id: parent,
            ..settings
        })
    }
}

const ACCOUNT_SELECT: &str = "SELECT id, name, description, timezone, created_at,
    step_data_success_retention_hours, step_data_errored_retention_hours,
    transaction_error_webhook_enabled, transaction_error_webhook_url,
    transaction_error_webhook_include_warnings, parent_account_id FROM accounts";

const SETTINGS_COLUMNS: &str =
    "step_data_success_retention_hours, step_data_errored_retention_hours,
    transaction_error_webhook_enabled, transaction_error_webhook_url,
    transaction_error_webhook_include_warnings, parent_account_id";

fn account_from_row(r: &Row<'_>) -> Result<Account> {
    let created_at = parse_ts(r.get::<String>(4)?);
    Ok(Account {
        id: r.get(0)?,
        name: r.get(1)?,
        description: r.get(2)?,
        timezone: r.get(3)?,
        created_at,
        created_date: crate::authvalue::format_cyclr_datetime(created_at),
        settings: AccountSettings {
            step_data_success_retention_hours: r.get(5)?,
            step_data_errored_retention_hours: r.get(6)?,
            transaction_error_webhook_enabled: r.get(7)?,
            transaction_error_webhook_url: r.get(8)?,
            transaction_error_webhook_include_warnings: r.get(9)?,
            parent_account_id: r.get(10)?,
        },
        audit_info: None,
        task_audit_info: None,
    })
}

/// An account Id in its canonical form (lowercase, hyphenated GUID), or an error that
/// says what an Id looks like.
/// An IANA time zone name (`Europe/London`, `UTC`), in its canonical spelling.
pub fn checked_timezone(text: &str) -> Result<String> {
    let text = checked_text("Timezone", text, 64, true)?;
    chrono_tz::Tz::from_str_insensitive(&text)
        .map(|tz| tz.name().to_string())
        .map_err(|_| {
            Error::InvalidInput(format!(
                "Timezone `{text}` is not an IANA time zone name; use one such as \
                 Europe/London, America/New_York or UTC"
            ))
        })
}

/// Every IANA time zone name, for pickers.
pub fn timezone_names() -> Vec<&'static str> {
    chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name()).collect()
}

pub fn parse_guid(s: &str) -> Result<String> {
    uuid::Uuid::parse_str(s.trim())
        .map(|u| u.hyphenated().to_string())
        .map_err(|_| {
            Error::InvalidInput(format!(
                "account Id {s:?} is not a GUID (expected e.g. 8d0f6c8b-3a5e-4c2f-9b1d-2e7f4a6c9d01)"
            ))
        })
}
