//! Persistence for the OAuth engine: the token state of an account connector, committing
//! new tokens atomically, refresh leases shared by processes, pending authorization
//! requests, and the credential history.
//!
//! Invariants:
//! - New tokens, their metadata, the bumped `credential_version`, the lease release and the
//!   history event commit in one transaction. A rotated refresh token is therefore stored
//!   before the new access token can be used by anyone.
//! - Writes by the engine (a refresh's tokens, needs-re-authentication, a transient
//!   failure) are conditional: they happen only if the credential is still at the
//!   [`Expected`] version and the writer still holds the refresh lease. Writes by the user
//!   (sign-in, an AuthValue, disconnect, delete) are unconditional and bump the version, so
//!   a refresh in flight can never bring back or spoil what the user just did.
//! - A refresh response without a refresh token keeps the old one.
//! - `state` values are stored only as hashes and are taken at most once.
//!
//! Must not: decide when to refresh or talk to a provider (the engine does), name the
//! service or the engine (it stands on `crate::desk`), or write an engine's result without
//! checking [`Expected`].

use std::collections::BTreeMap;

mod history;
mod leases;
pub mod outbox;
mod pending;

pub use history::CredentialEvent;
pub(crate) use history::{record_event, record_event_with};
pub use leases::new_lease_holder;
use leases::release_lease_in;
pub(crate) use pending::state_hash;
pub use pending::PendingAuthorization;

use crate::store::{args, Db};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::desk::{fields, parse_ts, ts, Authdesk, T_SECRETS};
use crate::domain::AuthStatus;
use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::vault::{SealedAt, Vault};

/// What is stored for an account connector's OAuth credential.
#[derive(Debug, Clone)]
pub struct StoredTokens {
    pub version: i64,
    pub status: AuthStatus,
    pub access_token: Option<Secret>,
    pub refresh_token: Option<Secret>,
    pub expires_at: Option<DateTime<Utc>>,
    pub refresh_expires_at: Option<DateTime<Utc>>,
    pub retry_after: Option<DateTime<Utc>>,
    pub refresh_failures: i64,
    /// When the access token was obtained (with `expires_at`, its lifetime).
    pub obtained_at: Option<DateTime<Utc>>,
}

impl StoredTokens {
    /// The access token's lifetime, when both ends are known.
    pub fn lifetime(&self) -> Option<Duration> {
        Some(self.expires_at? - self.obtained_at?)
    }

    /// An access token that is not expired at `at`.
    pub fn access_valid_at(&self, at: DateTime<Utc>) -> Option<&Secret> {
        self.access_token
            .as_ref()
            .filter(|_| self.expires_at.is_none_or(|e| e > at))
    }

    pub fn refresh_usable_at(&self, now: DateTime<Utc>) -> Option<&Secret> {
        self.refresh_token
            .as_ref()
            .filter(|_| self.refresh_expires_at.is_none_or(|e| e > now))
    }
}

/// Tokens just obtained from a token endpoint.
#[derive(Debug, Clone)]
pub struct NewTokens {
    pub access_token: Secret,
    pub refresh_token: Option<Secret>,
    pub id_token: Option<Secret>,
    /// OAuth 1.0a: the token credentials' secret.
    pub token_secret: Option<Secret>,
    pub token_type: Option<String>,
    pub scope: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub refresh_expires_at: Option<DateTime<Utc>>,
    /// Other string fields of the token response (kept as secrets: unknown content).
    pub response_fields: BTreeMap<String, Secret>,
    /// Account connector properties to set with the tokens (the definition's `capture`).
    pub captured: Vec<CapturedProperty>,
}

#[derive(Debug, Clone)]
pub struct CapturedProperty {
    pub name: String,
    pub value: Secret,
    /// Sealed like any secret property.
    pub secret: bool,
}

/// How new tokens relate to what is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenCommit {
    /// A new grant (sign-in, client credentials): everything is replaced.
    NewGrant,
    /// A refresh: an absent refresh token, ID token or scope keeps the stored one.
    Refresh,
}

/// The state an engine write was computed from: it only lands if the credential is still at
/// `version` and `lease_holder` still holds the refresh lease.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    pub version: i64,
    pub lease_holder: &'a str,
    /// What asked for the work, recorded in the history with what it wrote.
    pub trigger: Trigger,
}

/// What made the engine refresh a credential: shown in the history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// A method call needed a valid token.
    Call,
    /// The keep-alive (the token was about to expire, or the refresh token sat idle).
    KeepAlive,
    /// Someone asked for it (Refresh now, `authdesk refresh`).
    User,
}

impl Trigger {
    pub fn as_db(self) -> &'static str {
        match self {
            Trigger::Call => "call",
            Trigger::KeepAlive => "keep_alive",
            Trigger::User => "user",
        }
    }
}

/// Tokens taken out of the store by a disconnect or a delete, to revoke at the provider.
#[derive(Debug, Default)]
pub struct TakenTokens {
    pub access_token: Option<Secret>,
    pub refresh_token: Option<Secret>,
}

/// Whether the credential is still the one `expected` was read from, and the writer still
/// holds its lease.
fn still_current(tx: &Db<'_>, id: i64, expected: &Expected<'_>) -> Result<bool> {
    let version: Option<i64> = tx.query_opt(
        "SELECT credential_version FROM account_connectors WHERE id = ?1",
        args![id],
        |r| r.get(0),
    )?;
    if version != Some(expected.version) {
        return Ok(false);
    }
    let holder: Option<String> = tx.query_opt(
        "SELECT holder FROM refresh_leases WHERE account_connector_id = ?1",
        args![id],
        |r| r.get(0),
    )?;
    Ok(holder.as_deref() == Some(expected.lease_holder))
}

/// `(account connector id, access token expiry, last refresh or sign-in)`.
pub type WatchedCredential = (i64, Option<DateTime<Utc>>, Option<DateTime<Utc>>);

pub enum LeaseOutcome {
    Acquired,
    HeldByOther,
    /// The credential changed since it was read: read it again.
    Changed,
}

fn seal_secret(tx: &Db<'_>, vault: &Vault, id: i64, field: &str, value: &Secret) -> Result<()> {
    let row = id.to_string();
    let sealed = vault.seal(
        SealedAt {
            table: T_SECRETS,
            row: &row,
            field,
        },
        value,
    );
    tx.execute(
        "INSERT INTO account_connector_secrets(account_connector_id, field, sealed) VALUES (?1, ?2, ?3)
         ON CONFLICT(account_connector_id, field) DO UPDATE SET sealed = excluded.sealed",
        args![id, field, sealed])?;
    Ok(())
}

impl Authdesk {
    pub fn load_tokens(&self, id: i64) -> Result<StoredTokens> {
        type Row = (
            i64,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            i64,
            Option<String>,
        );
        let row: Row = self
            .store()?
            .conn()
            .query_opt(
                "SELECT credential_version, status, expires_at, refresh_expires_at, retry_after, refresh_failures,
                        access_obtained_at
                 FROM account_connectors WHERE id = ?1",
                args![id],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                    ))
                },
            )?
            .ok_or_else(|| Error::not_found("account connector", id))?;
        Ok(StoredTokens {
            version: row.0,
            status: AuthStatus::from_db(&row.1),
            access_token: self.credential_secret(id, fields::ACCESS_TOKEN)?,
            refresh_token: self.credential_secret(id, fields::REFRESH_TOKEN)?,
            expires_at: row.2.map(parse_ts),
            refresh_expires_at: row.3.map(parse_ts),
            retry_after: row.4.map(parse_ts),
            refresh_failures: row.5,
            obtained_at: row.6.map(parse_ts),
        })
    }

    /// The stored access token's lifetime (expiry minus when it was obtained), if known.
    /// Reads no secret.
    pub fn load_token_times(&self, id: i64) -> Result<Option<Duration>> {
        let row: Option<(Option<String>, Option<String>)> = self.store()?.conn().query_opt(
            "SELECT expires_at, access_obtained_at FROM account_connectors WHERE id = ?1",
            args![id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let (expires, obtained) = row.ok_or_else(|| Error::not_found("account connector", id))?;
        Ok(expires
            .zip(obtained)
            .map(|(e, o)| parse_ts(e) - parse_ts(o)))
    }

    /// Stores tokens from a token endpoint, marks the credential authenticated, releases
    /// the lease and records `event`, all in one transaction. Returns the new credential
    /// version, or `None` when `expected` no longer holds (nothing is written: the caller
    /// discards the tokens). A sign-in passes no `expected`: the user's new grant wins.
    pub fn commit_tokens(
        &self,
        id: i64,
        tokens: &NewTokens,
        commit: TokenCommit,
        event: &str,
        expected: Option<Expected<'_>>,
    ) -> Result<Option<i64>> {
        let vault = self.vault()?;
        let now = self.now();
        self.store()?.write(|tx| {
            if let Some(e) = &expected {
                if !still_current(tx, id, e)? {
                    return Ok(None);
                }
            }
            if commit == TokenCommit::NewGrant {
                tx.execute(
                    "DELETE FROM account_connector_secrets WHERE account_connector_id = ?1",
                    args![id],
                )?;
            }
            seal_secret(tx, &vault, id, fields::ACCESS_TOKEN, &tokens.access_token)?;
            if let Some(r) = &tokens.refresh_token {
                seal_secret(tx, &vault, id, fields::REFRESH_TOKEN, r)?;
            }
            if let Some(t) = &tokens.id_token {
                seal_secret(tx, &vault, id, fields::ID_TOKEN, t)?;
            }
            if let Some(t) = &tokens.token_secret {
                seal_secret(tx, &vault, id, fields::TOKEN_SECRET, t)?;
            }
            let keep = commit == TokenCommit::Refresh;
            let n = tx.execute(
                "UPDATE account_connectors SET status = 'authenticated', last_error = NULL,
                     token_type = COALESCE(?2, CASE WHEN ?7 <> 0 THEN token_type END),
                     scopes = COALESCE(?3, CASE WHEN ?7 <> 0 THEN scopes END),
                     expires_at = ?4,
                     refresh_expires_at = COALESCE(?5, CASE WHEN ?7 <> 0 THEN refresh_expires_at END),
                     authenticated_at = CASE WHEN ?7 <> 0 THEN authenticated_at ELSE ?6 END,
                     last_refreshed_at = ?6, updated_at = ?6, access_obtained_at = ?6,
                     credential_version = credential_version + 1,
                     refresh_failures = 0, retry_after = NULL
                 WHERE id = ?1",
                args![
                    id,
                    tokens.token_type,
                    tokens.scope,
                    tokens.expires_at.map(ts),
                    tokens.refresh_expires_at.map(ts),
                    ts(now),
                    keep
                ],
            )?;
            if n == 0 {
                return Err(Error::not_found("account connector", id));
            }
            for p in &tokens.captured {
                crate::desk::write_property(tx, Some(&vault), id, &p.name, &p.value, p.secret)?;
            }
            if let Some(e) = &expected {
                release_lease_in(tx, id, e.lease_holder)?;
            }
            let rotated = tokens.refresh_token.is_some() && keep;
            let detail = match (commit, rotated) {
                (TokenCommit::Refresh, true) => Some("refresh token rotated"),
                _ => None,
            };
            record_event(tx, id, now, event, detail, expected.map(|e| e.trigger))?;
            Ok(Some(tx.query_row(
                "SELECT credential_version FROM account_connectors WHERE id = ?1",
                args![id],
                |r| r.get(0),
            )?))
        })
    }

    /// The provider refused the grant (`invalid_grant`, or refresh expiry passed): the user
    /// must sign in again. Tokens are kept for inspection; nothing will retry. `false` (and
    /// nothing written) when `expected` no longer holds.
    pub fn mark_needs_reauth(
        &self,
        id: i64,
        message: &str,
        expected: Expected<'_>,
        exchange: Option<&crate::diagnostics::Exchange>,
    ) -> Result<bool> {
        let now = self.now();
        self.store()?.write(|tx| {
            if !still_current(tx, id, &expected)? {
                return Ok(false);
            }
            tx.execute(
                "UPDATE account_connectors SET status = 'needs_reauth', last_error = ?2, updated_at = ?3,
                     credential_version = credential_version + 1, retry_after = NULL
                 WHERE id = ?1",
                args![id, message, ts(now)])?;
            release_lease_in(tx, id, expected.lease_holder)?;
            let trigger = Some(expected.trigger);
            record_event_with(tx, id, now, "needs_reauth", Some(message), trigger, exchange)?;
            Ok(true)
        })
    }

    /// A refresh failed in a way that may pass (5xx, timeout, rate limiting, garbage): keep
    /// every token, back off (at least as long as the provider's `Retry-After`, if it sent
    /// one), and say so in the status. `None` (and nothing written) when `expected` no
    /// longer holds.
    pub fn record_transient_failure(
        &self,
        id: i64,
        message: &str,
        provider_retry_after: Option<Duration>,
        expected: Expected<'_>,
        exchange: Option<&crate::diagnostics::Exchange>,
    ) -> Result<Option<DateTime<Utc>>> {
        let now = self.now();
        self.store()?.write(|tx| {
            if !still_current(tx, id, &expected)? {
                return Ok(None);
            }
            let failures: i64 = tx.query_row(
                "SELECT refresh_failures FROM account_connectors WHERE id = ?1",
                args![id],
                |r| r.get(0),
            )?;
            // 15 s, 30 s, 1 min, ... capped at 30 min; longer if the provider asks (capped
            // at a day, so a lying header cannot park a credential for ever).
            let backoff = Duration::seconds((15i64 << failures.min(7)).min(1800));
            let asked = provider_retry_after
                .unwrap_or_default()
                .min(Duration::days(1));
            let retry_after = now + backoff.max(asked);
            let shown = format!("{message} (will retry after {})", ts(retry_after));
            tx.execute(
                "UPDATE account_connectors SET status = 'error', last_error = ?2, updated_at = ?3,
                     refresh_failures = refresh_failures + 1, retry_after = ?4
                 WHERE id = ?1",
                args![id, shown, ts(now), ts(retry_after)],
            )?;
            release_lease_in(tx, id, expected.lease_holder)?;
            record_event_with(
                tx,
                id,
                now,
                "refresh_failed",
                Some(message),
                Some(expected.trigger),
                exchange,
            )?;
            Ok(Some(retry_after))
        })
    }

    /// A failure that is not about the tokens (bad configuration, provider said no to a
    /// sign-in): record it without touching the stored credential.
    pub fn record_failure(
        &self,
        id: i64,
        kind: &str,
        message: &str,
        exchange: Option<&crate::diagnostics::Exchange>,
    ) -> Result<()> {
        let now = self.now();
        self.store()?.write(|tx| {
            tx.execute(
                "UPDATE account_connectors SET last_error = ?2, updated_at = ?3,
                     status = CASE WHEN status = 'authenticated' THEN status ELSE 'error' END
                 WHERE id = ?1",
                args![id, message, ts(now)],
            )?;
            record_event_with(tx, id, now, kind, Some(message), None, exchange)
        })
    }

    /// Removes the stored credential (a disconnect): back to "not authenticated", the
    /// version bumped so a refresh in flight discards what it gets. Returns the OAuth
    /// tokens that were stored, read in the same transaction, for revocation (or why they
    /// could not be opened: what is removed stays removed). `None`, with nothing written
    /// and no history: there was nothing to remove.
    pub fn take_credentials(&self, id: i64, event: &str) -> Result<Option<Result<TakenTokens>>> {
        let now = self.now();
        let sealed = self.store()?.write(|tx| {
            let held: Option<(String, i64)> = tx.query_opt(
                "SELECT status, (SELECT count(*) FROM account_connector_secrets
                                 WHERE account_connector_id = ?1)
                 FROM account_connectors WHERE id = ?1",
                args![id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let (status, secrets) = held.ok_or_else(|| Error::not_found("account connector", id))?;
            if secrets == 0 && status == AuthStatus::NotAuthenticated.as_db() {
                return Ok(None);
            }
            let sealed = sealed_tokens_in(tx, id)?;
            tx.execute("DELETE FROM account_connector_secrets WHERE account_connector_id = ?1", args![id])?;
            tx.execute(
                "UPDATE account_connectors SET status = 'not_authenticated', last_error = NULL,
                     token_type = NULL, scopes = NULL, expires_at = NULL, refresh_expires_at = NULL,
                     authenticated_at = NULL, updated_at = ?2, retry_after = NULL, refresh_failures = 0,
                     access_obtained_at = NULL, credential_version = credential_version + 1
                 WHERE id = ?1",
                args![id, ts(now)])?;
            record_event(tx, id, now, event, None, None)?;
            Ok(Some(sealed))
        })?;
        Ok(sealed.map(|s| self.open_taken(id, s)))
    }

    /// Deletes account connectors, returning the OAuth tokens each had, for revocation.
    /// `ids` (which account connectors go) and `delete` (which deletes their rows: one
    /// account connector, or a whole account) run in the same transaction as the reading,
    /// so nothing installed or refreshed meanwhile escapes revocation.
    pub(crate) fn take_and_delete(
        &self,
        ids: impl FnOnce(&Db<'_>) -> Result<Vec<i64>>,
        delete: impl FnOnce(&Db<'_>) -> Result<()>,
    ) -> Result<Vec<(i64, Result<TakenTokens>)>> {
        let now = self.now();
        let sealed = self.store()?.write(|tx| {
            let mut all = Vec::new();
            for id in ids(tx)? {
                all.push((id, sealed_tokens_in(tx, id)?));
                outbox::enqueue_deleted(tx, id, now)?;
            }
            delete(tx)?;
            Ok(all)
        })?;
        Ok(sealed
            .into_iter()
            .map(|(id, s)| (id, self.open_taken(id, s)))
            .collect())
    }

    /// Records an explicit credential check (`[check]`): always, with its verdict in the
    /// history.
    pub fn record_credential_check(&self, id: i64, http_status: u16, valid: bool) -> Result<()> {
        let now = self.now();
        self.store()?.write(|tx| {
            write_check(tx, id, now, http_status)?;
            let (kind, detail) = if valid {
                ("check_valid", format!("the check request answered HTTP {http_status}"))
            } else {
                ("check_invalid", format!("the check request answered HTTP {http_status}: the credential does not work"))
            };
            record_event(tx, id, now, kind, Some(&detail), Some(Trigger::User))
        })
    }

    /// A method call's verdict on the stored credential: 2xx verified it, 401/403 refused
    /// it. Recorded (with a history entry) only when it differs from what is known for the
    /// current credential version.
    pub fn record_check(&self, id: i64, http_status: u16) -> Result<()> {
        let ok = (200..300).contains(&http_status);
        let now = self.now();
        self.store()?.write(|tx| {
            let known: Option<(Option<i64>, bool)> = tx.query_opt(
                "SELECT checked_status, COALESCE(checked_version = credential_version, 0 = 1)
                     FROM account_connectors WHERE id = ?1",
                args![id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let Some((status, current)) = known else {
                return Ok(());
            };
            if current && status.map(|s| (200..300).contains(&s)) == Some(ok) {
                return Ok(());
            }
            write_check(tx, id, now, http_status)?;
            let (kind, detail) = if ok {
                ("verified", format!("a call answered HTTP {http_status}"))
            } else {
                ("refused", format!("a call answered HTTP {http_status}"))
            };
            record_event(tx, id, now, kind, Some(&detail), Some(Trigger::Call))
        })
    }

    pub(crate) fn open_taken(&self, id: i64, sealed: SealedTokens) -> Result<TakenTokens> {
        let row = id.to_string();
        let open = |field: &str, value: Option<Vec<u8>>| {
            self.open_sealed(
                value,
                SealedAt {
                    table: T_SECRETS,
                    row: &row,
                    field,
                },
            )
        };
        Ok(TakenTokens {
            access_token: open(fields::ACCESS_TOKEN, sealed.access)?,
            refresh_token: open(fields::REFRESH_TOKEN, sealed.refresh)?,
        })
    }

    /// OAuth2 account connectors with a refresh token that are due for the keep-alive:
    /// expiring by `soon`, or not refreshed since `idle_before`. Reads only those rows (the
    /// partial indexes of schema 6), so a pass with nothing due costs the same for ten
    /// account connectors as for a hundred thousand.
    pub fn oauth_credentials_to_watch(
        &self,
        soon: DateTime<Utc>,
        idle_before: DateTime<Utc>,
    ) -> Result<Vec<WatchedCredential>> {
        let store = self.store()?;
        store.conn().query_map(
            "SELECT id, expires_at, last_use FROM (
                 SELECT id, expires_at, COALESCE(last_refreshed_at, authenticated_at) AS last_use
                 FROM account_connectors
                 WHERE status IN ('authenticated', 'error') AND expires_at <= ?1
                 UNION
                 SELECT id, expires_at, COALESCE(last_refreshed_at, authenticated_at)
                 FROM account_connectors
                 WHERE status IN ('authenticated', 'error')
                   AND COALESCE(last_refreshed_at, authenticated_at) <= ?2
                 UNION
                 SELECT id, expires_at, COALESCE(last_refreshed_at, authenticated_at)
                 FROM account_connectors
                 WHERE status IN ('authenticated', 'error')
                   AND COALESCE(last_refreshed_at, authenticated_at) IS NULL
             ) due
             WHERE EXISTS (SELECT 1 FROM account_connector_secrets s
                           WHERE s.account_connector_id = due.id AND s.field = 'RefreshToken')
             ORDER BY id",
            args![ts(soon), ts(idle_before)],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get::<Option<String>>(1)?.map(parse_ts),
                    r.get::<Option<String>>(2)?.map(parse_ts),
                ))
            },
        )
    }
}

pub(crate) struct SealedTokens {
    access: Option<Vec<u8>>,
    refresh: Option<Vec<u8>>,
}

pub(crate) fn sealed_tokens_in(tx: &Db<'_>, id: i64) -> Result<SealedTokens> {
    let get = |field: &str| -> Result<Option<Vec<u8>>> {
        tx
            .query_opt(
                "SELECT sealed FROM account_connector_secrets WHERE account_connector_id = ?1 AND field = ?2",
                args![id, field],
                |r| r.get(0),
            )
    };
    Ok(SealedTokens {
        access: get(fields::ACCESS_TOKEN)?,
        refresh: get(fields::REFRESH_TOKEN)?,
    })
}

/// The verdict on the current credential version: when, and the HTTP status.
fn write_check(tx: &Db<'_>, id: i64, now: DateTime<Utc>, http_status: u16) -> Result<()> {
    tx.execute(
        "UPDATE account_connectors SET checked_at = ?2, checked_status = ?3,
             checked_version = credential_version
         WHERE id = ?1",
        args![id, ts(now), http_status],
    )?;
    Ok(())
}
