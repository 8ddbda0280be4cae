//! `authdesk webhooks`: add (the secret printed once), list, remove, deliveries, deliver.
//!
//! Must not: print an endpoint's secret but once, when it is made.

use anyhow::Result;
use authdesk_core::service::webhooks::NewWebhookEndpoint;

use super::Ctx;
use crate::cli::WebhooksCmd;

pub fn run(ctx: &Ctx, cmd: WebhooksCmd) -> Result<()> {
    match cmd {
        WebhooksCmd::Add {
            url,
            account,
            events,
            allow_loopback,
            allow_private,
        } => {
            let new = NewWebhookEndpoint {
                url,
                account_id: account,
                events: events
                    .iter()
                    .map(|e| e.trim())
                    .filter(|e| !e.is_empty())
                    .map(|e| match e.strip_prefix('.') {
                        Some(short) => format!("account_connector.{short}"),
                        None if e.starts_with("account_connector.") => e.to_string(),
                        None => format!("account_connector.{e}"),
                    })
                    .collect(),
                allow_loopback,
                allow_private,
            };
            let runner = ctx.runner()?;
            let (endpoint, secret) = runner.run(runner.engine.add_webhook(new))?;
            ctx.out.new_webhook(&endpoint, secret.expose())
        }
        WebhooksCmd::List => ctx.out.webhooks(&ctx.desk.webhook_endpoints()?),
        WebhooksCmd::Remove { endpoint_id } => {
            let gone = ctx.desk.remove_webhook_endpoint(&endpoint_id)?;
            ctx.out.done(&format!(
                "Removed the webhook endpoint {} ({}).",
                gone.id, gone.url
            ))
        }
        WebhooksCmd::Deliveries { endpoint, limit } => ctx
            .out
            .webhook_deliveries(&ctx.desk.webhook_deliveries(endpoint.as_deref(), limit)?),
        WebhooksCmd::Deliver => {
            let runner = ctx.runner()?;
            let mut tried = 0;
            loop {
                let n = runner.run(runner.engine.deliver_due_webhooks())?;
                tried += n;
                if n == 0 {
                    break;
                }
            }
            ctx.out.done(&format!("{tried} deliveries tried."))
        }
    }
}
