//! The local API and what it needs: `serve`, `api-key`, `api-clients`, `origins`; where
//! things live: `data-dir`, `vault status`; and `migrate` to a team server's PostgreSQL.
//!
//! Must not: serve before the vault opens, stop `serve` before what is in flight has
//! committed (`Engine::settle`), or print a database URL (it may carry a password).

use std::sync::Arc;

use anyhow::Result;
use authdesk_core::settings::OriginPurpose;

use super::Ctx;
use crate::cli::{ApiClientsCmd, OriginsCmd};

pub fn serve(
    ctx: &Ctx,
    listen: std::net::SocketAddr,
    public_url: Option<&str>,
    keep_alive_every: u64,
    mcp_allow: Vec<String>,
) -> Result<()> {
    let public = public_url.map(authdesk_api::PublicUrl::parse).transpose()?;
    // A server must open the secrets it serves: a wrong or missing data key (checked
    // against the key check stored with the data, shared by every replica) stops it here.
    ctx.desk.vault()?;
    let runner = ctx.runner()?;
    runner.rt.block_on(async {
        let engine = Arc::new(runner.engine.clone());
        let server =
            authdesk_api::Server::start_public(ctx.desk.clone(), engine.clone(), listen, public)
                .await?;
        server.state.agents.set_allow(mcp_allow);
        // Ctrl-C and SIGTERM are handled from before it says it listens.
        let stop = super::stop_requested();
        eprintln!("Authdesk API listening on http://{}", server.addr);
        eprintln!(
            "Redirect URI to register at providers: {}",
            server.state.callback_uri()
        );
        eprintln!("API key: `authdesk api-key`; allowed targetOrigins: `authdesk origins list`");
        eprintln!(
            "MCP for agents: http://{}/mcp (the same bearer credentials as /v1.0)",
            server.addr
        );
        let keep_alive = engine.clone();
        tokio::spawn(async move {
            keep_alive
                .keep_alive_forever(std::time::Duration::from_secs(keep_alive_every))
                .await
        });
        // Webhooks: what the outbox holds goes out (every replica takes part; a row is
        // claimed by one at a time).
        let deliveries = engine.clone();
        tokio::spawn(async move {
            deliveries
                .deliver_webhooks_forever(std::time::Duration::from_secs(1))
                .await
        });
        tokio::select! {
            r = server.wait() => r.map_err(anyhow::Error::from),
            signal = stop => {
                // Let refreshes and code exchanges in flight commit what the provider answered.
                let settled = engine.settle(std::time::Duration::from_secs(30)).await;
                eprintln!(
                    "Authdesk API stopped ({signal}){}",
                    if settled {
                        ""
                    } else {
                        "; a token request was still in flight after 30 s"
                    }
                );
                Ok(())
            }
        }
    })
}

pub fn migrate(ctx: &Ctx, to: Option<&str>, key_file: Option<std::path::PathBuf>) -> Result<()> {
    let Some(to) = to.filter(|u| !u.trim().is_empty()) else {
        return Err(authdesk_core::Error::InvalidInput(
            "migrate needs the PostgreSQL database to fill: set AUTHDESK_MIGRATE_TO_URL to its \
             URL (postgres://user:pass@host:port/db), which keeps the password out of the \
             process list, or give --to URL"
                .into(),
        )
        .into());
    };
    let key = match key_file {
        Some(path) => authdesk_core::KeySource::File(path),
        None => authdesk_core::KeySource::Keychain,
    };
    let report = ctx.desk.migrate_to_postgres(to, &key)?;
    ctx.out.migration(&report, &key.describe())
}

pub fn api_key(ctx: &Ctx, rotate: bool) -> Result<()> {
    let key = if rotate {
        ctx.desk.rotate_api_key()?
    } else {
        ctx.desk.api_key()?
    };
    ctx.out.text(key.expose())
}

pub fn origins(ctx: &Ctx, cmd: OriginsCmd) -> Result<()> {
    let (desk, out) = (&ctx.desk, &ctx.out);
    let purpose = |cors: bool| {
        if cors {
            OriginPurpose::Cors
        } else {
            OriginPurpose::Target
        }
    };
    match cmd {
        OriginsCmd::List { cors } => out.origins(&desk.allowed_origins(purpose(cors))?),
        OriginsCmd::Add { origin, cors } => {
            let added = desk.allow_origin(purpose(cors), &origin)?;
            out.done(&format!("allowed {added}"))
        }
        OriginsCmd::Remove { origin, cors } => {
            desk.disallow_origin(purpose(cors), &origin)?;
            out.done(&format!("removed {origin}"))
        }
    }
}

pub fn api_clients(ctx: &Ctx, cmd: ApiClientsCmd) -> Result<()> {
    let (desk, out) = (&ctx.desk, &ctx.out);
    match cmd {
        ApiClientsCmd::Create { name } => out.new_api_client(&desk.create_api_client(&name)?),
        ApiClientsCmd::List => out.api_clients(&desk.list_api_clients()?),
        ApiClientsCmd::Revoke { client_id } => {
            let c = desk.revoke_api_client(&client_id)?;
            out.done(&format!(
                "revoked API client {} ({}); its tokens no longer work",
                c.client_id, c.name
            ))
        }
    }
}

pub fn data_dir(ctx: &Ctx) -> Result<()> {
    ctx.out.text(&ctx.desk.data_dir().display().to_string())
}

pub fn vault_status(ctx: &Ctx) -> Result<()> {
    ctx.out.vault_status(&ctx.desk.vault_status()?)
}
