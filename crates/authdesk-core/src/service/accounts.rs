//! Accounts (one per customer) and their users.

use rusqlite::{params, OptionalExtension, Row};

use super::{checked_text, name_and_description, parse_ts, ts, Authdesk, MAX_NAME};
use crate::domain::*;
use crate::error::{Error, Result};

impl Authdesk {
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
        let ids = |tx: &rusqlite::Transaction<'_>| -> Result<Vec<i64>> {
            let mut stmt = tx.prepare("SELECT id FROM account_connectors WHERE account_id = ?1")?;
            let rows = stmt.query_map([&account.id], |r| r.get(0))?;
            Ok(rows.collect::<std::result::Result<_, _>>()?)
        };
        self.take_and_delete(ids, |tx| {
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

    /// Updates an account's name, description or timezone.
    pub fn update_account(
        &self,
        id: &str,
        name: Option<&str>,
        description: Option<&str>,
        timezone: Option<&str>,
    ) -> Result<Account> {
        let current = self.get_account(id)?;
        // The same checks as at creation: nothing is changed unless every field is valid.
        let (name, description) = name_and_description(
            name.unwrap_or(&current.name),
            Some(description.unwrap_or(&current.description)),
        )?;
        let timezone = checked_text("Timezone", timezone.unwrap_or(&current.timezone), 64, true)?;
        self.store().write(|tx| {
            tx.execute(
                "UPDATE accounts SET name = ?2, description = ?3, timezone = ?4 WHERE id = ?1",
                params![current.id, name, description, timezone],
            )?;
            Ok(())
        })?;
        self.get_account(&current.id)
    }
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
