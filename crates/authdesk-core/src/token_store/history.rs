//! The credential history: what happened to a credential and what made it happen (never its
//! values), bounded to the latest 200 entries per account connector.
//!
//! Must not: hold a secret, or fail the operation it records (`note_event` only logs).

use super::*;
use crate::diagnostics::Exchange;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CredentialEvent {
    pub at: DateTime<Utc>,
    pub kind: String,
    pub detail: Option<String>,
    /// `call`, `keep_alive` or `user` for what the engine did on its own account.
    pub trigger: Option<String>,
    /// For a failed refresh or sign-in: the exchange with the token endpoint, redacted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exchange: Option<Exchange>,
}

pub(crate) fn record_event(
    tx: &Db<'_>,
    id: i64,
    at: DateTime<Utc>,
    kind: &str,
    detail: Option<&str>,
    trigger: Option<Trigger>,
) -> Result<()> {
    record_event_with(tx, id, at, kind, detail, trigger, None)
}

/// [`record_event`] with the failed exchange that explains it.
pub(crate) fn record_event_with(
    tx: &Db<'_>,
    id: i64,
    at: DateTime<Utc>,
    kind: &str,
    detail: Option<&str>,
    trigger: Option<Trigger>,
    exchange: Option<&Exchange>,
) -> Result<()> {
    // What the webhooks tell of this change, in its transaction.
    super::outbox::enqueue_for_history(tx, id, at, kind, detail)?;
    let exchange = exchange.and_then(|e| serde_json::to_string(e).ok());
    tx.execute(
        "INSERT INTO credential_events(account_connector_id, at, kind, detail, trigger, exchange)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        args![
            id,
            ts(at),
            kind,
            detail,
            trigger.map(Trigger::as_db),
            exchange
        ],
    )?;
    // Keep the history bounded.
    tx.execute(
        "DELETE FROM credential_events WHERE account_connector_id = ?1 AND id <= (
             SELECT id FROM credential_events WHERE account_connector_id = ?1
             ORDER BY id DESC LIMIT 1 OFFSET 200)",
        args![id],
    )?;
    Ok(())
}

impl Authdesk {
    /// A history entry that is not a credential change (e.g. a refresh whose result was
    /// discarded). Best effort: the account connector may be gone.
    pub fn note_event(&self, id: i64, kind: &str, detail: Option<&str>, trigger: Option<Trigger>) {
        let now = self.now();
        let _ = self
            .store()
            .and_then(|mut s| s.write(|tx| record_event(tx, id, now, kind, detail, trigger)));
    }

    /// The latest history entries, newest first.
    pub fn credential_events(&self, id: i64, limit: usize) -> Result<Vec<CredentialEvent>> {
        let store = self.store()?;
        store.conn().query_map(
            "SELECT at, kind, detail, trigger, exchange FROM credential_events WHERE account_connector_id = ?1
             ORDER BY id DESC LIMIT ?2",
            args![id, limit as i64],
            |r| {
            Ok(CredentialEvent {
                at: parse_ts(r.get(0)?),
                kind: r.get(1)?,
                detail: r.get(2)?,
                trigger: r.get(3)?,
                exchange: r
                    .get::<Option<String>>(4)?
                    .and_then(|e| serde_json::from_str(&e).ok()),
            })
        },
        )
    }
}
