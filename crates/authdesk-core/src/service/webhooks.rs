//! Webhook endpoints and their deliveries, as stored: an endpoint's URL (checked here for
//! its form: https, or http on a loopback host when the owner allows loopback; its
//! addresses are the engine's to check), the events it listens to, the account it is
//! limited to, and its `whsec_` secret (Standard Webhooks; sealed, shown once); claiming due
//! outbox rows for delivery (a lease per row; the head of each endpoint's chain per account
//! connector only, so events arrive in order; `FOR UPDATE SKIP LOCKED` on PostgreSQL) and
//! recording each attempt.
//!
//! Must not: send anything (the engine does), or show a secret but once, at creation.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::store::args;
use crate::token_store::outbox::EVENT_TYPES;
use crate::vault::SealedAt;

use super::{parse_ts, ts, Authdesk};

const T_ENDPOINTS: &str = "webhook_endpoints";
/// Deliveries are retried for this long after the event, then given up.
pub const RETRY_FOR: Duration = Duration::hours(24);

/// What an endpoint is made from.
#[derive(Debug, Clone, Default)]
pub struct NewWebhookEndpoint {
    pub url: String,
    /// Only this account's events (all accounts' when `None`).
    pub account_id: Option<String>,
    /// The event types (all when empty).
    pub events: Vec<String>,
    /// http on a loopback host, and https to a loopback address.
    pub allow_loopback: bool,
    /// Private and link-local addresses.
    pub allow_private: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct WebhookEndpoint {
    pub id: String,
    pub url: String,
    pub account_id: Option<String>,
    pub events: Vec<String>,
    pub allow_loopback: bool,
    pub allow_private: bool,
    pub created_at: DateTime<Utc>,
}

/// One delivery attempt, as listed.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct WebhookDelivery {
    pub endpoint_id: String,
    pub message_id: String,
    #[serde(rename = "Type")]
    pub event_type: String,
    pub account_connector_id: i64,
    pub at: DateTime<Utc>,
    /// The HTTP status the endpoint answered, if it answered.
    pub status_code: Option<u16>,
    /// Why there was no 2xx answer (a refused connection, a timeout, a redirect...).
    pub error: Option<String>,
    /// When it is tried again; none once delivered or given up.
    pub next_retry_at: Option<DateTime<Utc>>,
}

/// An outbox row claimed for delivery.
#[derive(Debug, Clone)]
pub struct ClaimedWebhook {
    pub outbox_id: i64,
    pub message_id: String,
    pub endpoint_id: String,
    pub url: String,
    pub payload: String,
    pub attempts: i64,
    pub created_at: DateTime<Utc>,
    pub allow_loopback: bool,
    pub allow_private: bool,
}

/// The outcome of one attempt.
#[derive(Debug, Clone)]
pub struct WebhookAttempt {
    pub status_code: Option<u16>,
    pub error: Option<String>,
}

impl WebhookAttempt {
    pub fn delivered(&self) -> bool {
        self.status_code.is_some_and(|s| (200..300).contains(&s))
    }
}

/// Checks an endpoint URL's form: https (or http on a loopback host with `allow_loopback`),
/// a host, no credentials, no fragment.
pub fn checked_webhook_url(text: &str, allow_loopback: bool) -> Result<url::Url> {
    let bad = |why: &str| Error::InvalidInput(format!("the webhook URL {why}"));
    let u =
        url::Url::parse(text.trim()).map_err(|e| bad(&format!("is not an absolute URL ({e})")))?;
    let host = u.host_str().ok_or_else(|| bad("has no host"))?.to_string();
    if !u.username().is_empty() || u.password().is_some() {
        return Err(bad("must not carry credentials (user:password@)"));
    }
    if u.fragment().is_some() {
        return Err(bad("must not have a #fragment"));
    }
    let loopback = host == "localhost"
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match u.scheme() {
        "https" => {}
        "http" if loopback && allow_loopback => {}
        "http" if loopback => {
            return Err(bad(
                "is http on a loopback host: say --allow-loopback (AllowLoopback) to send there",
            ))
        }
        _ => {
            return Err(bad(
                "must be https (http only for a loopback host, with --allow-loopback)",
            ))
        }
    }
    Ok(u)
}

pub fn checked_events(events: &[String]) -> Result<String> {
    if events.is_empty() {
        return Ok("*".into());
    }
    for e in events {
        if !EVENT_TYPES.contains(&e.as_str()) {
            return Err(Error::InvalidInput(format!(
                "there is no webhook event {e:?}; the events are {}",
                EVENT_TYPES.join(", ")
            )));
        }
    }
    Ok(events.join(","))
}

fn endpoint_from_row(r: &crate::store::Row<'_>) -> Result<WebhookEndpoint> {
    let events: String = r.get(3)?;
    Ok(WebhookEndpoint {
        id: r.get(0)?,
        url: r.get(1)?,
        account_id: r.get(2)?,
        events: if events == "*" {
            EVENT_TYPES.iter().map(|e| e.to_string()).collect()
        } else {
            events.split(',').map(str::to_string).collect()
        },
        allow_loopback: r.get::<i64>(4)? != 0,
        allow_private: r.get::<i64>(5)? != 0,
        created_at: parse_ts(r.get(6)?),
    })
}

const ENDPOINT_SELECT: &str =
    "SELECT id, url, account_id, events, allow_loopback, allow_private, created_at FROM webhook_endpoints";

impl Authdesk {
    /// Stores an endpoint whose URL's form and whose addresses were checked (the engine's
    /// `add_webhook` checks the addresses): the endpoint and its secret, shown this once.
    pub fn add_webhook_endpoint(
        &self,
        new: &NewWebhookEndpoint,
    ) -> Result<(WebhookEndpoint, Secret)> {
        let url = checked_webhook_url(&new.url, new.allow_loopback)?;
        let events = checked_events(&new.events)?;
        if let Some(account) = &new.account_id {
            self.get_account(account)?;
        }
        use base64::Engine as _;
        use chacha20poly1305::aead::rand_core::RngCore;
        let mut key = zeroize::Zeroizing::new([0u8; 32]);
        chacha20poly1305::aead::OsRng.fill_bytes(key.as_mut());
        let secret = Secret::new(format!(
            "whsec_{}",
            base64::engine::general_purpose::STANDARD.encode(&key[..])
        ));
        let id = format!("ep_{}", uuid::Uuid::new_v4().simple());
        let sealed = self.vault()?.seal(
            SealedAt {
                table: T_ENDPOINTS,
                row: &id,
                field: "sealed_secret",
            },
            &secret,
        );
        let now = ts(self.now());
        self.store()?.write(|tx| {
            tx.execute(
                "INSERT INTO webhook_endpoints(id, url, account_id, events, sealed_secret,
                     allow_loopback, allow_private, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                args![
                    id,
                    url.as_str(),
                    new.account_id,
                    events,
                    sealed,
                    new.allow_loopback as i64,
                    new.allow_private as i64,
                    now
                ],
            )?;
            Ok(())
        })?;
        Ok((self.webhook_endpoint(&id)?, secret))
    }

    pub fn webhook_endpoint(&self, id: &str) -> Result<WebhookEndpoint> {
        self.store()?
            .conn()
            .query_opt(
                &format!("{ENDPOINT_SELECT} WHERE id = ?1"),
                args![id],
                endpoint_from_row,
            )?
            .ok_or_else(|| Error::not_found("webhook endpoint", id))
    }

    pub fn webhook_endpoints(&self) -> Result<Vec<WebhookEndpoint>> {
        self.store()?.conn().query_map(
            &format!("{ENDPOINT_SELECT} ORDER BY created_at, id"),
            args![],
            endpoint_from_row,
        )
    }

    /// Removes an endpoint, what it had still to deliver and its attempts (the outbox rows
    /// go with the endpoint, the attempts with their rows).
    pub fn remove_webhook_endpoint(&self, id: &str) -> Result<WebhookEndpoint> {
        let endpoint = self.webhook_endpoint(id)?;
        self.store()?.write(|tx| {
            tx.execute("DELETE FROM webhook_endpoints WHERE id = ?1", args![id])?;
            Ok(())
        })?;
        Ok(endpoint)
    }

    /// The endpoint's secret, for signing.
    pub fn webhook_secret(&self, endpoint_id: &str) -> Result<Secret> {
        let sealed: Option<Vec<u8>> = self.store()?.conn().query_opt(
            "SELECT sealed_secret FROM webhook_endpoints WHERE id = ?1",
            args![endpoint_id],
            |r| r.get(0),
        )?;
        self.open_sealed(
            sealed,
            SealedAt {
                table: T_ENDPOINTS,
                row: endpoint_id,
                field: "sealed_secret",
            },
        )?
        .ok_or_else(|| Error::not_found("webhook endpoint", endpoint_id))
    }

    /// Every attempt (of one endpoint, when given), newest first.
    pub fn webhook_deliveries(
        &self,
        endpoint_id: Option<&str>,
        limit: usize,
    ) -> Result<Vec<WebhookDelivery>> {
        let read = |r: &crate::store::Row<'_>| {
            Ok(WebhookDelivery {
                endpoint_id: r.get(0)?,
                message_id: r.get(1)?,
                event_type: r.get(2)?,
                account_connector_id: r.get(3)?,
                at: parse_ts(r.get(4)?),
                status_code: r.get::<Option<i64>>(5)?.map(|s| s as u16),
                error: r.get(6)?,
                next_retry_at: r.get::<Option<String>>(7)?.map(parse_ts),
            })
        };
        let select = "SELECT a.endpoint_id, o.message_id, o.type, o.account_connector_id, a.at,
                a.status, a.error, a.next_retry_at
             FROM webhook_attempts a JOIN webhook_outbox o ON o.id = a.outbox_id";
        let store = self.store()?;
        match endpoint_id {
            Some(e) => store.conn().query_map(
                &format!("{select} WHERE a.endpoint_id = ?1 ORDER BY a.id DESC LIMIT ?2"),
                args![e, limit as i64],
                read,
            ),
            None => store.conn().query_map(
                &format!("{select} ORDER BY a.id DESC LIMIT ?1"),
                args![limit as i64],
                read,
            ),
        }
    }

    /// Whether any row is due (with `fresh_only`, any never tried): a read, no write.
    pub fn webhooks_due(&self, fresh_only: bool) -> Result<bool> {
        let now_s = ts(self.now());
        let fresh = if fresh_only { "AND attempts = 0" } else { "" };
        Ok(self
            .store()?
            .conn()
            .query_opt(
                &format!(
                    "SELECT 1 FROM webhook_outbox
                     WHERE delivered_at IS NULL AND failed_at IS NULL AND next_attempt_at <= ?1
                       AND (claimed_until IS NULL OR claimed_until < ?1) {fresh} LIMIT 1"
                ),
                args![now_s],
                |_| Ok(()),
            )?
            .is_some())
    }

    /// Claims up to `limit` due rows for `holder` for `lease`: only the oldest undelivered
    /// row of each endpoint and account connector (events arrive in order), and none
    /// another holder's lease still covers. With `fresh_only`, only rows never tried (a
    /// command's own events, sent before it exits; retries are the servers').
    pub fn claim_webhooks(
        &self,
        holder: &str,
        lease: Duration,
        limit: usize,
        fresh_only: bool,
    ) -> Result<Vec<ClaimedWebhook>> {
        let now = self.now();
        let (now_s, until) = (ts(now), ts(now + lease));
        // A read first: a pass with nothing due writes nothing (a write would tell every
        // cache and window of the data directory that something changed).
        if !self.webhooks_due(fresh_only)? {
            return Ok(Vec::new());
        }
        let fresh = if fresh_only { "AND o.attempts = 0" } else { "" };
        self.store()?.write(|tx| {
            let lock = if tx.is_postgres() {
                "FOR UPDATE OF o SKIP LOCKED"
            } else {
                ""
            };
            // The claimable rows with what delivering them needs, in one query; then each
            // is marked as this holder's.
            let claimed: Vec<ClaimedWebhook> = tx.query_map(
                &format!(
                    "SELECT o.id, o.message_id, o.endpoint_id, e.url, o.payload, o.attempts,
                            o.created_at, e.allow_loopback, e.allow_private
                     FROM webhook_outbox o JOIN webhook_endpoints e ON e.id = o.endpoint_id
                     WHERE o.delivered_at IS NULL AND o.failed_at IS NULL AND o.next_attempt_at <= ?1
                       AND (o.claimed_until IS NULL OR o.claimed_until < ?1) {fresh}
                       AND NOT EXISTS (SELECT 1 FROM webhook_outbox p
                           WHERE p.endpoint_id = o.endpoint_id
                             AND p.account_connector_id = o.account_connector_id
                             AND p.id < o.id AND p.delivered_at IS NULL AND p.failed_at IS NULL)
                     ORDER BY o.id LIMIT ?2 {lock}"
                ),
                args![now_s, limit as i64],
                |r| {
                    Ok(ClaimedWebhook {
                        outbox_id: r.get(0)?,
                        message_id: r.get(1)?,
                        endpoint_id: r.get(2)?,
                        url: r.get(3)?,
                        payload: r.get(4)?,
                        attempts: r.get(5)?,
                        created_at: parse_ts(r.get(6)?),
                        allow_loopback: r.get::<i64>(7)? != 0,
                        allow_private: r.get::<i64>(8)? != 0,
                    })
                },
            )?;
            for c in &claimed {
                tx.execute(
                    "UPDATE webhook_outbox SET claimed_by = ?2, claimed_until = ?3 WHERE id = ?1",
                    args![c.outbox_id, holder, until],
                )?;
            }
            Ok(claimed)
        })
    }

    /// Records an attempt at a claimed row: delivered on a 2xx; else tried again at
    /// `retry_at`, or given up when that is past the 24 hours. Written only while the
    /// claim is still `holder`'s (a row whose lease ran out and was claimed by another is
    /// that one's to record).
    pub fn record_webhook_attempt(
        &self,
        claimed: &ClaimedWebhook,
        holder: &str,
        attempt: &WebhookAttempt,
        retry_at: DateTime<Utc>,
    ) -> Result<bool> {
        let now = self.now();
        let give_up = retry_at > claimed.created_at + RETRY_FOR;
        let next = (!attempt.delivered() && !give_up).then(|| ts(retry_at));
        self.store()?.write(|tx| {
            let n = tx.execute(
                "UPDATE webhook_outbox SET attempts = attempts + 1, claimed_by = NULL, claimed_until = NULL,
                     delivered_at = ?3, failed_at = ?4, next_attempt_at = COALESCE(?5, next_attempt_at)
                 WHERE id = ?1 AND claimed_by = ?2",
                args![
                    claimed.outbox_id,
                    holder,
                    attempt.delivered().then(|| ts(now)),
                    (!attempt.delivered() && give_up).then(|| ts(now)),
                    next.clone()
                ],
            )?;
            if n == 0 {
                return Ok(false);
            }
            tx.execute(
                "INSERT INTO webhook_attempts(outbox_id, endpoint_id, at, status, error, next_retry_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                args![
                    claimed.outbox_id,
                    &claimed.endpoint_id,
                    ts(now),
                    attempt.status_code.map(i64::from),
                    attempt.error.as_deref(),
                    next
                ],
            )?;
            Ok(true)
        })
    }
}
