//! Printing webhooks: an endpoint just made (its secret, the only time it is shown), the
//! endpoints, and the delivery attempts.
//!
//! Must not: print a secret but the new endpoint's, once.

use anyhow::Result;
use authdesk_core::service::webhooks::{WebhookDelivery, WebhookEndpoint};

use super::Out;

impl Out {
    /// `{"Id","Url","Secret"}` (and the endpoint's settings).
    pub fn new_webhook(&self, e: &WebhookEndpoint, secret: &str) -> Result<()> {
        let value = serde_json::json!({
            "Id": e.id, "Url": e.url, "Secret": secret, "AccountId": e.account_id,
            "Events": e.events, "AllowLoopback": e.allow_loopback, "AllowPrivate": e.allow_private,
        });
        self.emit(&value, || {
            format!(
                "Endpoint {} for {}\nSecret (shown once; verify webhook-signature with it): {secret}\n",
                e.id, e.url
            )
        })
    }

    pub fn webhooks(&self, list: &[WebhookEndpoint]) -> Result<()> {
        self.emit(list, || {
            super::table(
                &["ID", "URL", "ACCOUNT", "EVENTS"],
                list.iter().map(|e| {
                    vec![
                        e.id.clone(),
                        e.url.clone(),
                        e.account_id.clone().unwrap_or_else(|| "all".into()),
                        if e.events.len() == 6 {
                            "all".into()
                        } else {
                            e.events.join(",")
                        },
                    ]
                }),
            )
        })
    }

    pub fn webhook_deliveries(&self, list: &[WebhookDelivery]) -> Result<()> {
        self.emit(list, || {
            super::table(
                &["WHEN", "ENDPOINT", "EVENT", "ANSWER", "NEXT RETRY"],
                list.iter().map(|d| {
                    vec![
                        super::date(&d.at),
                        d.endpoint_id.clone(),
                        format!("{} ({})", d.event_type, d.message_id),
                        match (&d.status_code, &d.error) {
                            (_, Some(e)) => e.clone(),
                            (Some(s), None) => format!("HTTP {s}"),
                            (None, None) => "-".into(),
                        },
                        d.next_retry_at
                            .as_ref()
                            .map(super::date)
                            .unwrap_or_else(|| "-".into()),
                    ]
                }),
            )
        })
    }
}
