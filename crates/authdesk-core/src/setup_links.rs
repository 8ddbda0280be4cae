//! Setup links: Cyclr's setup token ("OAuth authentication link"), made safe for mail
//! scanners. A link lets whoever holds it authenticate one account connector, once, before
//! it expires (5 minutes by default, at most 7 days). The token carries 256 random bits and
//! is stored only as its SHA-256; it is spent by one conditional UPDATE, so of any number of
//! uses at once, on any number of replicas, exactly one succeeds.
//!
//! Opening a link (`setup_link_target`) spends nothing: only the page's button (a POST, see
//! the API's `setup` module) uses it, so link previews and scanners that fetch it leave it
//! whole.
//!
//! Must not: keep a token in clear, or let a used, revoked or expired link open anything.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::service::{parse_ts, ts, Authdesk};
use crate::settings::{random_bytes, sha256_hex};
use crate::store::args;

/// How long a link lives unless told otherwise (Cyclr's default).
pub const DEFAULT_TTL: Duration = Duration::minutes(5);
pub const MIN_TTL: Duration = Duration::minutes(5);
pub const MAX_TTL: Duration = Duration::days(7);

/// A link as listed (never its token).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SetupLink {
    pub id: String,
    pub account_connector_id: i64,
    pub created_at: DateTime<Utc>,
    pub expires_at_utc: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// `active`, `used`, `revoked` or `expired`.
    pub status: &'static str,
}

/// A link just made: its token, shown once inside its URL.
pub struct NewSetupLink {
    pub id: String,
    pub token: Secret,
    pub expires_at_utc: DateTime<Utc>,
}

/// Parses a lifetime as the CLI takes it: `300`, `300s`, `5m`, `2h`, `7d`.
pub fn parse_ttl(text: &str) -> Result<Duration> {
    let t = text.trim();
    let (number, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: i64 = number.parse().map_err(|_| bad_ttl(t))?;
    let d = match unit {
        "" | "s" => Duration::seconds(n),
        "m" => Duration::minutes(n),
        "h" => Duration::hours(n),
        "d" => Duration::days(n),
        _ => return Err(bad_ttl(t)),
    };
    checked_ttl(d)
}

fn bad_ttl(t: &str) -> Error {
    Error::InvalidInput(format!(
        "--expires {t:?} is not a duration: write 5m, 2h or 7d (from 5 minutes to 7 days)"
    ))
}

/// A lifetime within 5 minutes..7 days, or an error that says so.
pub fn checked_ttl(d: Duration) -> Result<Duration> {
    if d < MIN_TTL || d > MAX_TTL {
        return Err(Error::InvalidInput(format!(
            "a setup link lives from 5 minutes to 7 days ({} to {} seconds); {} seconds is outside that",
            MIN_TTL.num_seconds(),
            MAX_TTL.num_seconds(),
            d.num_seconds()
        )));
    }
    Ok(d)
}

fn status_of(
    used: &Option<DateTime<Utc>>,
    revoked: &Option<DateTime<Utc>>,
    expires: DateTime<Utc>,
    now: DateTime<Utc>,
) -> &'static str {
    match (used, revoked) {
        (Some(_), _) => "used",
        (None, Some(_)) => "revoked",
        (None, None) if expires <= now => "expired",
        _ => "active",
    }
}

/// A listed link from a row of [`SELECT`], its status as of `now`.
fn link_from_row(r: &crate::store::Row<'_>, now: DateTime<Utc>) -> Result<SetupLink> {
    let expires = parse_ts(r.get(3)?);
    let used = r.get::<Option<String>>(4)?.map(parse_ts);
    let revoked = r.get::<Option<String>>(5)?.map(parse_ts);
    Ok(SetupLink {
        id: r.get(0)?,
        account_connector_id: r.get(1)?,
        created_at: parse_ts(r.get(2)?),
        expires_at_utc: expires,
        status: status_of(&used, &revoked, expires, now),
        used_at: used,
        revoked_at: revoked,
    })
}

const SELECT: &str = "SELECT id, account_connector_id, created_at, expires_at, used_at, revoked_at
     FROM setup_links";

impl Authdesk {
    /// A new link for account connector `id`, living `ttl` (5 minutes..7 days).
    pub fn create_setup_link(
        &self,
        account_connector_id: i64,
        ttl: Duration,
    ) -> Result<NewSetupLink> {
        let ttl = checked_ttl(ttl)?;
        // It must exist (and the error names it as every other lookup does).
        self.get_account_connector(account_connector_id)?;
        use base64::Engine as _;
        let token = Secret::new(format!(
            "stl_{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<32>())
        ));
        let id = uuid::Uuid::new_v4().to_string();
        let now = self.now();
        let expires = now + ttl;
        self.store()?.write(|tx| {
            tx.execute(
                "INSERT INTO setup_links(id, token_hash, account_connector_id, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                args![id, sha256_hex(token.expose()), account_connector_id, ts(now), ts(expires)],
            )?;
            Ok(())
        })?;
        Ok(NewSetupLink {
            id,
            token,
            expires_at_utc: expires,
        })
    }

    /// Every link (of one account connector, when given), newest first.
    pub fn setup_links(&self, account_connector_id: Option<i64>) -> Result<Vec<SetupLink>> {
        let now = self.now();
        let read = |r: &crate::store::Row<'_>| link_from_row(r, now);
        let store = self.store()?;
        match account_connector_id {
            Some(id) => store.conn().query_map(
                &format!("{SELECT} WHERE account_connector_id = ?1 ORDER BY created_at DESC, id"),
                args![id],
                read,
            ),
            None => store.conn().query_map(
                &format!("{SELECT} ORDER BY created_at DESC, id"),
                args![],
                read,
            ),
        }
    }

    /// Revokes a link (by its Id, or by the link itself: its URL or token): it opens
    /// nothing from now on. Revoking a used or revoked link changes nothing and says what
    /// it is.
    pub fn revoke_setup_link(&self, link: &str) -> Result<SetupLink> {
        let token = link.trim().rsplit('/').next().unwrap_or_default();
        let by_token: Option<String> = if token.starts_with("stl_") {
            self.store()?.conn().query_opt(
                "SELECT id FROM setup_links WHERE token_hash = ?1",
                args![sha256_hex(token)],
                |r| r.get(0),
            )?
        } else {
            None
        };
        if token.starts_with("stl_") && by_token.is_none() {
            // Never echoed: a link is a secret.
            return Err(Error::InvalidInput(
                "no setup link is that one (give its Id, as `authdesk links list` shows it)".into(),
            ));
        }
        let link_id = by_token.as_deref().unwrap_or(link.trim());
        let now = self.now();
        self.store()?
            .write(|tx| {
                tx.execute(
                    "UPDATE setup_links SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL AND used_at IS NULL",
                    args![link_id, ts(now)],
                )?;
                tx.query_opt(&format!("{SELECT} WHERE id = ?1"), args![link_id], |r| {
                    link_from_row(r, now)
                })
            })?
            .ok_or_else(|| Error::not_found("setup link", link_id))
    }

    /// The account connector a link opens, if it is active (unused, unrevoked, unexpired).
    /// Spends nothing.
    pub fn setup_link_target(&self, token: &str) -> Result<Option<i64>> {
        let now = ts(self.now());
        self.store()?.conn().query_opt(
            "SELECT account_connector_id FROM setup_links
             WHERE token_hash = ?1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?2",
            args![sha256_hex(token), now],
            |r| r.get(0),
        )
    }

    /// Spends an active link: the account connector it opens, or `None` when it is not
    /// (any longer) active. One conditional UPDATE: of concurrent uses one wins.
    pub fn use_setup_link(&self, token: &str) -> Result<Option<i64>> {
        let now = ts(self.now());
        self.store()?.write(|tx| {
            tx.query_opt(
                "UPDATE setup_links SET used_at = ?2
                 WHERE token_hash = ?1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?2
                 RETURNING account_connector_id",
                args![sha256_hex(token), now],
                |r| r.get(0),
            )
        })
    }
}

/// The settings key of the base URL setup links are made on.
const LINK_BASE: &str = "setup_link_base";

impl Authdesk {
    /// Records the base URL a running API answers on (its `--public-url`, or its loopback
    /// address), so links made elsewhere (the CLI) point at it.
    pub fn record_setup_link_base(&self, base: &str) -> Result<()> {
        let now = ts(self.now());
        self.store()?.write(|tx| {
            tx.execute(
                "INSERT INTO settings(key, value, sealed_value, updated_at) VALUES (?1, ?2, NULL, ?3)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                args![LINK_BASE, base.trim_end_matches('/'), now],
            )?;
            Ok(())
        })
    }

    /// The base URL the last API started here answers on, if one has.
    pub fn setup_link_base(&self) -> Result<Option<String>> {
        Ok(self
            .store()?
            .conn()
            .query_opt(
                "SELECT value FROM settings WHERE key = ?1",
                args![LINK_BASE],
                |r| r.get::<Option<String>>(0),
            )?
            .flatten())
    }
}
