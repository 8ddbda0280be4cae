//! Webhook delivery, the Standard Webhooks way: each outbox row (written with the credential
//! change it tells of) is claimed with a lease, POSTed with `webhook-id` (the message's id,
//! the same on every retry), `webhook-timestamp` and `webhook-signature: v1,<base64
//! HMAC-SHA256 of "id.timestamp.body">` under the endpoint's `whsec_` secret, and recorded:
//! a 2xx ends it; anything else (redirects are not followed) is retried with exponential
//! back-off for 24 hours. Every replica and process may deliver: a claimed row is one
//! holder's until its lease runs out, and only the oldest undelivered event of each endpoint
//! and account connector is claimable, so events arrive in order.
//!
//! An endpoint's host is resolved at creation and again at each delivery (a name that comes
//! to point at a private address is refused then); the request goes to the address checked.
//! Loopback addresses need the owner's `allow_loopback`, private and link-local ones
//! `allow_private`.
//!
//! Must not: follow a redirect, send to an address the endpoint's flags do not allow, or
//! deliver a row another holder has claimed.

use std::net::{IpAddr, SocketAddr};

use base64::Engine as _;

use super::public_hosts::{addresses_of, is_public_address};
use super::*;
use crate::service::webhooks::{
    checked_webhook_url, ClaimedWebhook, NewWebhookEndpoint, WebhookAttempt, WebhookEndpoint,
};

/// How long a claim lasts if its holder dies mid-delivery.
const CLAIM: Duration = Duration::seconds(30);
/// How long an endpoint has to answer.
const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// Rows claimed per pass.
const BATCH: usize = 50;

/// The `webhook-signature` value for a message (Standard Webhooks: the secret's base64
/// after `whsec_` is the HMAC key).
pub fn signature(secret: &Secret, message_id: &str, timestamp: i64, body: &str) -> Result<String> {
    let b64 = secret
        .expose()
        .strip_prefix("whsec_")
        .unwrap_or(secret.expose());
    let key = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|_| Error::Internal("a webhook secret is not base64".into()))?;
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key);
    let tag = ring::hmac::sign(&key, format!("{message_id}.{timestamp}.{body}").as_bytes());
    Ok(format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(tag.as_ref())
    ))
}

impl Engine {
    /// Adds an endpoint after checking its URL's form and where its host resolves; the
    /// endpoint and its secret (shown this once).
    pub async fn add_webhook(&self, new: NewWebhookEndpoint) -> Result<(WebhookEndpoint, Secret)> {
        let url = checked_webhook_url(&new.url, new.allow_loopback)?;
        // What needs no lookup first.
        crate::service::webhooks::checked_events(&new.events)?;
        self.webhook_address(&url, new.allow_loopback, new.allow_private)
            .await?;
        self.db(move |desk| desk.add_webhook_endpoint(&new)).await
    }

    /// Where a delivery to `url` connects: its host's address, if every address it resolves
    /// to is one the flags allow.
    async fn webhook_address(
        &self,
        url: &url::Url,
        allow_loopback: bool,
        allow_private: bool,
    ) -> Result<SocketAddr> {
        let host = url.host_str().unwrap_or_default();
        let port = url.port_or_known_default().unwrap_or(443);
        let literal = host.trim_matches(['[', ']']).parse::<IpAddr>().ok();
        let addresses = match literal {
            Some(ip) => vec![ip],
            None => addresses_of(&self.config.http.lookup(), host)
                .await
                .map_err(|e| {
                    Error::InvalidInput(format!("the webhook host {host} cannot be resolved ({e})"))
                })?,
        };
        let first = *addresses.first().ok_or_else(|| {
            Error::InvalidInput(format!("the webhook host {host} resolves to no address"))
        })?;
        for ip in &addresses {
            let (allowed, what, flag) = if is_public_address(*ip) {
                (true, "", "")
            } else if ip.is_loopback() {
                (
                    allow_loopback,
                    "a loopback",
                    "--allow-loopback (AllowLoopback)",
                )
            } else {
                (
                    allow_private,
                    "a private or link-local",
                    "--allow-private (AllowPrivate)",
                )
            };
            if !allowed {
                return Err(Error::InvalidInput(format!(
                    "the webhook host {host} resolves to {ip}, {what} address: nothing is sent \
                     there unless the owner says {flag}"
                )));
            }
        }
        Ok(SocketAddr::new(first, port))
    }

    /// The wait before retry number `attempt` (1 for the first retry).
    pub fn webhook_backoff(&self, attempt: i64) -> Duration {
        let base = self.config.webhook_retry_base;
        let factor = 1i64 << (attempt.clamp(1, 20) - 1);
        (base * factor as i32).min(Duration::hours(1))
    }

    /// One delivery pass: claims what is due and delivers it. How many rows it tried.
    pub async fn deliver_due_webhooks(&self) -> Result<usize> {
        self.deliver_pass(false).await
    }

    /// Events never tried yet, sent now: what a CLI command that made them does before it
    /// exits (bounded by the caller); retries are left to the servers.
    pub async fn deliver_fresh_webhooks(&self) -> Result<usize> {
        self.deliver_pass(true).await
    }

    async fn deliver_pass(&self, fresh_only: bool) -> Result<usize> {
        let holder = self.holder.clone();
        let claimed = self
            .db(move |desk| desk.claim_webhooks(&holder, CLAIM, BATCH, fresh_only))
            .await?;
        let count = claimed.len();
        // One row per endpoint and account connector is claimable at a time: the rows of a
        // batch are independent and go out together.
        let mut sends = tokio::task::JoinSet::new();
        for c in claimed {
            let engine = self.clone();
            sends.spawn(async move { engine.deliver_one(c).await });
        }
        while let Some(result) = sends.join_next().await {
            match result {
                Ok(Err(e)) => tracing::warn!("webhook delivery: {e}"),
                Err(e) => tracing::warn!("webhook delivery task: {e}"),
                Ok(Ok(())) => {}
            }
        }
        Ok(count)
    }

    async fn deliver_one(&self, c: ClaimedWebhook) -> Result<()> {
        let endpoint = c.endpoint_id.clone();
        let secret = self.db(move |desk| desk.webhook_secret(&endpoint)).await?;
        let attempt = self.send_webhook(&c, &secret).await;
        let retry_at = self.desk.now() + self.webhook_backoff(c.attempts + 1);
        if attempt.delivered() {
            tracing::debug!(endpoint = %c.endpoint_id, message = %c.message_id, "webhook delivered");
        } else {
            tracing::info!(
                endpoint = %c.endpoint_id,
                message = %c.message_id,
                "webhook not delivered: {}",
                attempt.error.as_deref().unwrap_or("")
            );
        }
        let holder = self.holder.clone();
        self.db(move |desk| desk.record_webhook_attempt(&c, &holder, &attempt, retry_at))
            .await?;
        Ok(())
    }

    async fn send_webhook(&self, c: &ClaimedWebhook, secret: &Secret) -> WebhookAttempt {
        let failed = |error: String| WebhookAttempt {
            status_code: None,
            error: Some(error),
        };
        let url = match url::Url::parse(&c.url) {
            Ok(u) => u,
            Err(e) => return failed(format!("the URL cannot be read ({e})")),
        };
        let addr = match self
            .webhook_address(&url, c.allow_loopback, c.allow_private)
            .await
        {
            Ok(a) => a,
            Err(e) => return failed(e.to_string()),
        };
        let timestamp = self.desk.now().timestamp();
        let sig = match signature(secret, &c.message_id, timestamp, &c.payload) {
            Ok(s) => s,
            Err(e) => return failed(e.to_string()),
        };
        // A client for this request alone: the host pinned to the address checked, no
        // redirect followed.
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(TIMEOUT)
            .user_agent(concat!("Authdesk-Webhooks/", env!("CARGO_PKG_VERSION")));
        if let Some(host) = url.host_str().filter(|h| h.parse::<IpAddr>().is_err()) {
            builder = builder.resolve(host, addr);
        }
        let client = match builder.build() {
            Ok(c) => c,
            Err(e) => return failed(format!("no HTTP client ({e})")),
        };
        let sent = client
            .post(url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", &c.message_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", sig)
            .body(c.payload.clone())
            .send()
            .await;
        match sent {
            Ok(r) => {
                let status = r.status().as_u16();
                let error = match status {
                    200..=299 => None,
                    300..=399 => Some(format!(
                        "HTTP {status}: redirects are not followed{}",
                        r.headers()
                            .get(reqwest::header::LOCATION)
                            .and_then(|l| l.to_str().ok())
                            .map(|l| format!(" (to {})", crate::engine::tokens::clip(l)))
                            .unwrap_or_default()
                    )),
                    _ => Some(format!("HTTP {status}")),
                };
                WebhookAttempt {
                    status_code: Some(status),
                    error,
                }
            }
            Err(e) => failed(super::http::HttpFailure::from_reqwest(&e).to_string()),
        }
    }

    /// Delivers what is due, every `every`, for as long as the task lives (`serve` and the
    /// desktop run it).
    pub async fn deliver_webhooks_forever(&self, every: std::time::Duration) {
        loop {
            match self.deliver_due_webhooks().await {
                // A full batch: more may be due at once.
                Ok(n) if n >= BATCH => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!("webhook delivery pass: {e}"),
            }
            tokio::time::sleep(every).await;
        }
    }
}
