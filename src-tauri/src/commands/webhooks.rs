//! Webhooks in Settings: the endpoints, adding one (its secret answered this once), removing
//! one, and the latest delivery attempts.
//!
//! Must not: answer an endpoint's secret but once, when it is added.

use authdesk_core::service::webhooks::{NewWebhookEndpoint, WebhookDelivery, WebhookEndpoint};

use super::{R, S};

#[tauri::command]
pub async fn webhooks(shell: S<'_>) -> R<Vec<WebhookEndpoint>> {
    shell.db(|desk| desk.webhook_endpoints()).await
}

#[tauri::command]
pub async fn add_webhook(
    shell: S<'_>,
    url: String,
    account_id: Option<String>,
    events: Vec<String>,
    allow_loopback: bool,
    allow_private: bool,
) -> R<serde_json::Value> {
    let (endpoint, secret) = shell
        .engine
        .add_webhook(NewWebhookEndpoint {
            url,
            account_id: account_id.filter(|a| !a.trim().is_empty()),
            events,
            allow_loopback,
            allow_private,
        })
        .await?;
    let mut v = serde_json::to_value(&endpoint).unwrap_or_default();
    v["Secret"] = secret.expose().into();
    Ok(v)
}

#[tauri::command]
pub async fn remove_webhook(shell: S<'_>, id: String) -> R<WebhookEndpoint> {
    shell
        .db(move |desk| desk.remove_webhook_endpoint(&id))
        .await
}

#[tauri::command]
pub async fn webhook_deliveries(shell: S<'_>) -> R<Vec<WebhookDelivery>> {
    shell.db(|desk| desk.webhook_deliveries(None, 50)).await
}
