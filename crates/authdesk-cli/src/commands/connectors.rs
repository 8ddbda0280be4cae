//! `authdesk connectors ...`: the connector library and its OAuth apps.
//!
//! Must not: take a ClientSecret from argv (--client-secret-stdin or --client-secret-file),
//! or check or write a definition itself (the core's `add_connector*` does).

use anyhow::Result;

use super::Ctx;
use crate::cli::ConnectorsCmd;
use crate::secrets;
use authdesk_core::service::PrivateKeySource;

pub fn run(ctx: &Ctx, cmd: ConnectorsCmd) -> Result<()> {
    let (desk, out) = (&ctx.desk, &ctx.out);
    match cmd {
        ConnectorsCmd::List { category, search } => {
            out.connectors(&desk.search_connectors(category.as_deref(), search.as_deref())?)
        }
        ConnectorsCmd::Show { connector } => out.connector(&desk.get_connector(&connector)?),
        ConnectorsCmd::Discover {
            issuer,
            id,
            name,
            add,
        } => {
            let runner = ctx.runner()?;
            let found = runner.run(runner.engine.discover(
                &issuer,
                id.as_deref(),
                name.as_deref(),
            ))?;
            if add {
                out.connector(&desk.add_connector(
                    &format!("discovered from {}", issuer.trim()),
                    &found.toml,
                    false,
                )?)
            } else {
                out.discovered(&found.toml)
            }
        }
        ConnectorsCmd::AddMcp {
            url,
            name,
            id,
            client_id,
            client_secret_stdin,
        } => super::mcp::add_mcp(ctx, &url, name, id, client_id, client_secret_stdin),
        ConnectorsCmd::Add { file, replace } => {
            out.connector(&desk.add_connector_file(&file, replace)?)
        }
        ConnectorsCmd::Remove { connector } => {
            desk.remove_connector(&connector)?;
            out.done(&format!("removed connector {connector}"))
        }
        ConnectorsCmd::SetClient {
            connector,
            client_id,
            secret,
        } => {
            if let Some(file) = &secret.private_key_file {
                let pem = secrets::read_file("the private key", file)?;
                let source = PrivateKeySource::Pem(&pem);
                return out
                    .connector(&desk.set_connector_client_key(&connector, &client_id, source)?);
            }
            if secret.generate_key {
                let c = desk.set_connector_client_key(
                    &connector,
                    &client_id,
                    PrivateKeySource::Generate,
                )?;
                return out.connector(&c);
            }
            let secret = match (
                secret.client_secret_stdin,
                secret.client_secret_file,
                secret.public,
            ) {
                (true, _, _) => Some(secrets::read_stdin("ClientSecret")?),
                (_, Some(f), _) => Some(secrets::read_file("ClientSecret", &f)?),
                _ => None,
            };
            out.connector(&desk.set_connector_client(&connector, &client_id, secret.as_ref())?)
        }
        ConnectorsCmd::ClearClient { connector } => {
            out.connector(&desk.clear_connector_client(&connector)?)
        }
    }
}
