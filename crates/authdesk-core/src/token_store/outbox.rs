//! The webhook outbox: what a credential change tells the endpoints that listen, written
//! in the same transaction as the change (a crash after the commit loses nothing; a change
//! rolled back tells nothing). One row per event and endpoint, with the Standard Webhooks
//! payload already made: `{"type","timestamp","data":{"AccountId","AccountConnectorId",
//! "ConnectorId","Status","Reason"}}` (and `NextRetryAt` for a transient failure). Never a
//! secret: the reason is the history's detail, which holds none.
//!
//! Must not: send anything (the engine's delivery does), or hold a secret in a payload.

use super::*;

/// The events, by their `type`.
pub const AUTHENTICATED: &str = "account_connector.authenticated";
pub const REFRESH_FAILED: &str = "account_connector.refresh_failed";
pub const RECOVERED: &str = "account_connector.recovered";
pub const NEEDS_REAUTHENTICATION: &str = "account_connector.needs_reauthentication";
pub const DISCONNECTED: &str = "account_connector.disconnected";
pub const DELETED: &str = "account_connector.deleted";
pub const EVENT_TYPES: &[&str] = &[
    AUTHENTICATED,
    REFRESH_FAILED,
    RECOVERED,
    NEEDS_REAUTHENTICATION,
    DISCONNECTED,
    DELETED,
];

/// The event a history entry of `kind` tells of, if any. `refreshed` is `recovered` only
/// after failures (the caller says); `auth_value_set` by the status it left.
fn event_of(kind: &str, status: &str, after_failures: bool) -> Option<&'static str> {
    Some(match kind {
        "signed_in" | "authenticated" => AUTHENTICATED,
        "auth_value_set" if status == "authenticated" => AUTHENTICATED,
        // An AuthValue that is already spent: the user must sign in.
        "auth_value_set" if status == "needs_reauth" => NEEDS_REAUTHENTICATION,
        "refreshed" if after_failures => RECOVERED,
        "refresh_failed" => REFRESH_FAILED,
        "needs_reauth" => NEEDS_REAUTHENTICATION,
        "disconnected" => DISCONNECTED,
        _ => return None,
    })
}

/// Cyclr's spelling of a stored status.
fn status_name(db: &str) -> &'static str {
    match db {
        "authenticated" => "Authenticated",
        "needs_reauth" => "NeedsReauthentication",
        "error" => "Error",
        _ => "NotAuthenticated",
    }
}

/// Called by the history for each entry, inside its transaction, before the entry is
/// written (so "the last event before this one" is still the last).
pub(crate) fn enqueue_for_history(
    tx: &Db<'_>,
    id: i64,
    at: DateTime<Utc>,
    kind: &str,
    detail: Option<&str>,
) -> Result<()> {
    if !matches!(
        kind,
        "signed_in"
            | "authenticated"
            | "auth_value_set"
            | "refreshed"
            | "refresh_failed"
            | "needs_reauth"
            | "disconnected"
    ) || !any_endpoint(tx)?
    {
        return Ok(());
    }
    let Some(row) = account_connector_row(tx, id)? else {
        return Ok(());
    };
    let after_failures = kind == "refreshed" && {
        let last: Option<String> = tx.query_opt(
            "SELECT kind FROM credential_events WHERE account_connector_id = ?1
               AND kind IN ('refreshed', 'refresh_failed', 'signed_in', 'authenticated',
                            'auth_value_set', 'needs_reauth', 'disconnected')
             ORDER BY id DESC LIMIT 1",
            args![id],
            |r| r.get(0),
        )?;
        last.as_deref() == Some("refresh_failed")
    };
    let Some(event) = event_of(kind, &row.status, after_failures) else {
        return Ok(());
    };
    let next_retry = (event == REFRESH_FAILED)
        .then(|| row.retry_after.clone())
        .flatten();
    enqueue(tx, id, &row, event, detail, next_retry.as_deref(), at)
}

/// `account_connector.deleted` for an account connector about to be deleted (called in the
/// deleting transaction, before its row goes).
pub(crate) fn enqueue_deleted(tx: &Db<'_>, id: i64, at: DateTime<Utc>) -> Result<()> {
    if !any_endpoint(tx)? {
        return Ok(());
    }
    let Some(mut row) = account_connector_row(tx, id)? else {
        return Ok(());
    };
    row.status = "deleted".into();
    enqueue(tx, id, &row, DELETED, Some("deleted"), None, at)
}

fn any_endpoint(tx: &Db<'_>) -> Result<bool> {
    Ok(tx
        .query_opt("SELECT 1 FROM webhook_endpoints LIMIT 1", args![], |_| {
            Ok(())
        })?
        .is_some())
}

struct Row {
    account_id: String,
    connector_id: i64,
    status: String,
    retry_after: Option<String>,
}

fn account_connector_row(tx: &Db<'_>, id: i64) -> Result<Option<Row>> {
    tx.query_opt(
        "SELECT account_id, connector_id, status, retry_after FROM account_connectors WHERE id = ?1",
        args![id],
        |r| {
            Ok(Row {
                account_id: r.get(0)?,
                connector_id: r.get(1)?,
                status: r.get(2)?,
                retry_after: r.get(3)?,
            })
        },
    )
}

fn enqueue(
    tx: &Db<'_>,
    id: i64,
    row: &Row,
    event: &str,
    reason: Option<&str>,
    next_retry: Option<&str>,
    at: DateTime<Utc>,
) -> Result<()> {
    let endpoints: Vec<(String, String)> = tx.query_map(
        "SELECT id, events FROM webhook_endpoints WHERE account_id IS NULL OR account_id = ?1",
        args![&row.account_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let listening: Vec<&String> = endpoints
        .iter()
        .filter(|(_, events)| events == "*" || events.split(',').any(|e| e == event))
        .map(|(id, _)| id)
        .collect();
    if listening.is_empty() {
        return Ok(());
    }
    let status = if row.status == "deleted" {
        "Deleted"
    } else {
        status_name(&row.status)
    };
    let mut data = serde_json::json!({
        "AccountId": row.account_id,
        "AccountConnectorId": id,
        "ConnectorId": row.connector_id,
        "Status": status,
        "Reason": reason,
    });
    if let Some(next) = next_retry {
        data["NextRetryAt"] = next.into();
    }
    let payload = serde_json::json!({
        "type": event,
        "timestamp": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "data": data,
    })
    .to_string();
    let message_id = format!("msg_{}", uuid::Uuid::new_v4().simple());
    for endpoint in listening {
        tx.execute(
            "INSERT INTO webhook_outbox(message_id, endpoint_id, account_connector_id, type, payload,
                 created_at, next_attempt_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
            args![message_id, endpoint, id, event, payload, ts(at)],
        )?;
    }
    Ok(())
}
