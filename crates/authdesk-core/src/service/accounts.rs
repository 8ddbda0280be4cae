//! Accounts (one per customer) and their users.
//!
//! Must not: act on Cyclr's account settings (retention, webhooks: stored only), check a
//! parent link outside the transaction that writes it, or revoke a deleted account's tokens
//! (`delete_account_taking` hands them to the engine).

use crate::store::{args, Db, Row};

use super::{checked_text, like_pattern, name_and_description, parse_ts, ts, Authdesk, MAX_NAME};
use crate::domain::*;
use crate::error::{Error, Result};

impl Authdesk {
    pub fn create_account(&self, new: NewAccount) -> Result<Account> {
        let account = prepare_account(new)?;
        let now = self.now();
        self.store()?.write(|tx| account.insert(tx, now))?;
        self.get_account(&account.id)
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

    /// For each of `account_ids`, how many of its account connectors need attention: the
    /// same rule as the header's count ([`Counts::needs_attention`]), from one aggregate
    /// over the indexed rows that need it, whatever the number of accounts.
    pub fn needing_attention_by_account(
        &self,
        account_ids: &[String],
    ) -> Result<std::collections::HashMap<String, u64>> {
        let rows = self.needing_attention_counts()?;
        let wanted: std::collections::HashSet<&str> =
            account_ids.iter().map(String::as_str).collect();
        Ok(rows
            .into_iter()
            .filter(|(id, _)| wanted.contains(id.as_str()))
            .collect())
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

    /// Updates an account's name, description, timezone or settings. Read, checked and
    /// written in one write transaction, so two updates at once cannot both link their
    /// accounts below each other (a cycle of parents).
    pub fn update_account(&self, id: &str, update: AccountUpdate) -> Result<Account> {
        let id = parse_guid(id)?;
        // Checked when given (an account stored before names were checked keeps its own).
        let timezone = update
            .timezone
            .as_deref()
            .map(checked_timezone)
            .transpose()?;
        let given = checked_settings(update.settings)?;
        self.store()?.write(|tx| {
            let current = account_in(tx, &id)?.ok_or_else(|| Error::not_found("account", &id))?;
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
            let timezone = timezone.unwrap_or(current.timezone);
            let mut settings = given.or(current.settings);
            settings.parent_account_id =
                checked_parent(tx, settings.parent_account_id.take(), &id)?;
            tx.execute(
                "UPDATE accounts SET name = ?2, description = ?3, timezone = ?4,
                     step_data_success_retention_hours = ?5, step_data_errored_retention_hours = ?6,
                     transaction_error_webhook_enabled = ?7, transaction_error_webhook_url = ?8,
                     transaction_error_webhook_include_warnings = ?9, parent_account_id = ?10
                 WHERE id = ?1",
                args![
                    id,
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
        self.get_account(&id)
    }
}

/// A new account checked and ready to write; only its parent is checked in the write
/// transaction (it must exist then, and not be below the account).
pub(crate) struct PreparedAccount {
    pub(crate) id: String,
    name: String,
    description: String,
    timezone: String,
    settings: AccountSettings,
}

pub(crate) fn prepare_account(new: NewAccount) -> Result<PreparedAccount> {
    let id = match new.id.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(given) => parse_guid(given)?,
        None => uuid::Uuid::new_v4().to_string(),
    };
    let (name, description) = name_and_description(&new.name, new.description.as_deref())?;
    Ok(PreparedAccount {
        id,
        name,
        description,
        timezone: checked_timezone(new.timezone.as_deref().unwrap_or("UTC"))?,
        settings: checked_settings(new.settings)?,
    })
}

impl PreparedAccount {
    /// Inserts the account (`AlreadyExists` when its Id is taken).
    pub(crate) fn insert(&self, tx: &Db<'_>, now: chrono::DateTime<chrono::Utc>) -> Result<()> {
        let settings = &self.settings;
        let parent = checked_parent(tx, settings.parent_account_id.clone(), &self.id)?;
        let n = tx.execute(
            &format!(
                "INSERT INTO accounts(id, name, description, timezone, created_at, {SETTINGS_COLUMNS})
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) ON CONFLICT(id) DO NOTHING"
            ),
            args![
                self.id,
                self.name,
                self.description,
                self.timezone,
                ts(now),
                settings.step_data_success_retention_hours,
                settings.step_data_errored_retention_hours,
                settings.transaction_error_webhook_enabled,
                settings.transaction_error_webhook_url,
                settings.transaction_error_webhook_include_warnings,
                parent,
            ],
        )?;
        if n == 0 {
            return Err(Error::AlreadyExists(format!(
                "account {} already exists",
                self.id
            )));
        }
        Ok(())
    }
}

/// The account `id` as `tx` sees it.
pub(crate) fn account_in(tx: &Db<'_>, id: &str) -> Result<Option<Account>> {
    tx.query_opt(
        &format!("{ACCOUNT_SELECT} WHERE id = ?1"),
        args![id],
        account_from_row,
    )
}

/// `parent` for the account `me`, checked in the write transaction that links them: it
/// exists, it is not `me`, and `me` is not above it (no cycles).
fn checked_parent(tx: &Db<'_>, parent: Option<String>, me: &str) -> Result<Option<String>> {
    let Some(parent) = parent else {
        return Ok(None);
    };
    if parent == me {
        return Err(Error::InvalidInput(
            "ParentAccountId cannot be the account itself".into(),
        ));
    }
    let Some(found) = account_in(tx, &parent)? else {
        return Err(Error::InvalidInput(
            "ParentAccountId names no account; create the parent account first".into(),
        ));
    };
    let mut next = found.settings.parent_account_id;
    for _ in 0..10_000 {
        let Some(ancestor) = next else { break };
        if ancestor == me {
            return Err(Error::InvalidInput(format!(
                "ParentAccountId {parent} is below this account (its parent, or a parent's \
                 parent...): accounts cannot form a cycle"
            )));
        }
        next = account_in(tx, &ancestor)?.and_then(|a| a.settings.parent_account_id);
    }
    Ok(Some(parent))
}

/// Checks the Cyclr account settings: hours within reason, an absolute http(s) webhook
/// URL, a parent account Id that is a GUID (that it exists is checked when writing).
fn checked_settings(settings: AccountSettings) -> Result<AccountSettings> {
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
        Some(p) => Some(parse_guid(p)?),
    };
    Ok(AccountSettings {
        transaction_error_webhook_url: url,
        parent_account_id: parent,
        ..settings
    })
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
