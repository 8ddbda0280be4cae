//! `authdesk account-connectors ...`: connectors installed into accounts (install, list,
//! show), their properties, AuthValues, way to authenticate and sign-in mode, disconnect and
//! delete.
//!
//! Must not: take a secret property's value from argv (it is refused: --value-stdin,
//! --value-file or --properties-file), or switch the way to authenticate, disconnect or
//! delete but through the engine (it revokes the tokens at the provider).

use anyhow::{bail, Context, Result};
use authdesk_core::definition::SignInMode;
use authdesk_core::{InstallRequest, PropertyInput, Secret};

use super::Ctx;
use crate::cli::{AccountConnectorsCmd, SignInChoice};
use crate::secrets;

pub fn run(ctx: &Ctx, cmd: AccountConnectorsCmd) -> Result<()> {
    let (desk, out) = (&ctx.desk, &ctx.out);
    match cmd {
        AccountConnectorsCmd::Install {
            account_id,
            connector,
            name,
            description,
            authentication,
            properties,
            properties_file,
            auth_value_stdin,
            auth_value_file,
        } => {
            let library = desk.get_connector(&connector)?;
            let mut inputs = Vec::new();
            for p in &properties {
                let (n, v) = p.split_once('=').context(
                    "a --property must be NAME=VALUE; this one has no `=` (it is not \
                         repeated here, in case it is a secret)",
                )?;
                if library.definition.is_secret_property(n) {
                    bail!(
                        "`{n}` is a secret: do not put it on the command line (shell history, \
                         process list); use --properties-file, or after installing \
                         `authdesk account-connectors set-property ID {n} --value-stdin`"
                    );
                }
                inputs.push(PropertyInput {
                    name: n.to_string(),
                    value: Secret::new(v),
                });
            }
            if let Some(f) = &properties_file {
                inputs.extend(secrets::read_properties_file(f)?);
            }
            let auth_value = match (auth_value_stdin, auth_value_file) {
                (true, _) => Some(secrets::read_stdin("AuthValue")?),
                (_, Some(f)) => Some(secrets::read_file("AuthValue", &f)?),
                _ => None,
            };
            let req = InstallRequest {
                name,
                description,
                authentication_id: authentication,
                auth_value,
                properties: inputs,
                partner_integration: false,
            };
            out.account_connector(&desk.install(&account_id, &library.id.to_string(), req)?)
        }
        AccountConnectorsCmd::SetAuthentication {
            account_connector_id,
            authentication,
        } => {
            // Through the engine: the tokens the old way held are revoked at its provider.
            let runner = ctx.runner()?;
            let (changed, report) = runner.run(runner.engine.change_account_connector(
                account_connector_id,
                authdesk_core::AccountConnectorChange {
                    authentication_id: Some(authentication),
                    ..Default::default()
                },
            ))?;
            for r in &report.revoked {
                eprintln!("revoked at the provider: {r}");
            }
            for e in &report.errors {
                eprintln!("warning: revocation failed: {e}");
            }
            out.account_connector(&changed)
        }
        AccountConnectorsCmd::List {
            account,
            status,
            needs_attention,
            connector,
            search,
            expiring,
            page,
            per_page,
            all,
        } => {
            let status = status
                .map(|s| {
                    authdesk_core::AuthStatus::parse(&s).with_context(|| {
                        format!(
                            "--status {s:?} is not a status; use authenticated, not-authenticated, \
                             needs-reauthentication, error or expired"
                        )
                    })
                })
                .transpose()?;
            if page == 0 || per_page == 0 {
                bail!("--page and --per-page count from 1");
            }
            let filter = authdesk_core::AccountConnectorFilter {
                account_id: account,
                status,
                connector,
                search,
                expiring_first: expiring,
                needs_attention,
            };
            // Streamed in Id order; an --expiring list is read whole, in its own order.
            if all && !expiring {
                let writing = |source| authdesk_core::Error::Io {
                    context: "writing the list".into(),
                    source,
                };
                if let Some(mut array) = out.json_array_stream()? {
                    desk.for_each_account_connector(&filter, 2000, |items| {
                        items
                            .iter()
                            .try_for_each(|ac| array.push(ac))
                            .map_err(writing)
                    })?;
                    array.finish()?;
                    return Ok(());
                }
                if let Some(mut table) = out.table_stream() {
                    desk.for_each_account_connector(&filter, 2000, |items| {
                        table.push(&items).map_err(writing)
                    })?;
                    table.finish()?;
                    return Ok(());
                }
            }
            let (offset, limit) = if all {
                (0, None)
            } else {
                ((page - 1).saturating_mul(per_page), Some(per_page))
            };
            let found = desk.account_connectors_page(&filter, offset, limit)?;
            out.account_connectors(&found.items)?;
            let shown = found.items.len() as u64;
            if shown == 0 && found.total > 0 {
                let pages = found.total.div_ceil(per_page.max(1));
                eprintln!(
                    "(page {page} is past the end: {} account connectors make {pages} page(s) of {per_page})",
                    found.total
                );
            } else if shown < found.total {
                let more = offset + shown < found.total;
                eprintln!(
                    "(account connectors {}-{} of {}{}, --all for every one)",
                    offset + 1,
                    offset + shown,
                    found.total,
                    if more {
                        format!("; --page {} for more", page + 1)
                    } else {
                        String::new()
                    }
                );
            }
            Ok(())
        }
        AccountConnectorsCmd::Show {
            account_connector_id,
        } => out.account_connector(&desk.get_account_connector(account_connector_id)?),
        AccountConnectorsCmd::SetProperty {
            account_connector_id,
            name,
            value,
            value_stdin,
            value_file,
        } => {
            let (_, def) = desk.account_connector_with_definition(account_connector_id)?;
            let value = match (value, value_stdin, value_file) {
                (Some(v), _, _) => {
                    if def.is_secret_property(&name) {
                        bail!(
                            "`{name}` is a secret: do not put it on the command line (shell \
                             history, process list); pass it with --value-stdin or --value-file"
                        );
                    }
                    Secret::new(v)
                }
                (None, true, _) => secrets::read_stdin(&name)?,
                (None, false, Some(f)) => secrets::read_file(&name, &f)?,
                (None, false, None) => bail!("give a VALUE, --value-stdin or --value-file"),
            };
            out.account_connector(&desk.set_property(account_connector_id, &name, &value)?)
        }
        AccountConnectorsCmd::RemoveProperty {
            account_connector_id,
            name,
        } => out.account_connector(&desk.remove_property(account_connector_id, &name)?),
        AccountConnectorsCmd::SetAuthvalue {
            account_connector_id,
            input,
        } => {
            // A wrong Id is said before anyone types a secret for it.
            desk.get_account_connector(account_connector_id)?;
            let raw = match input.file {
                Some(f) => secrets::read_file("AuthValue", &f)?,
                None => secrets::read_stdin("AuthValue")?,
            };
            let (_, def) = desk.account_connector_with_definition(account_connector_id)?;
            let ac = desk.set_auth_value(account_connector_id, &raw)?;
            if def.check.is_none() {
                return out.account_connector(&ac);
            }
            // The connector names a check: the new credential is checked at once.
            let runner = ctx.runner()?;
            runner.run(async {
                runner.engine.check_if_named(account_connector_id).await;
                Ok::<(), anyhow::Error>(())
            })?;
            out.account_connector(&desk.get_account_connector(account_connector_id)?)
        }
        AccountConnectorsCmd::SetSignIn {
            account_connector_id,
            mode,
        } => {
            let mode = match mode {
                SignInChoice::Webview => Some(SignInMode::Webview),
                SignInChoice::SystemBrowser => Some(SignInMode::SystemBrowser),
                SignInChoice::Default => None,
            };
            out.account_connector(&desk.set_sign_in_mode(account_connector_id, mode)?)
        }
        AccountConnectorsCmd::Disconnect {
            account_connector_id,
        } => {
            let runner = ctx.runner()?;
            let engine = &runner.engine;
            let report = runner.run(engine.disconnect(account_connector_id))?;
            out.revocation(
                &report,
                &format!("disconnected account connector {account_connector_id}"),
            )
        }
        AccountConnectorsCmd::Delete {
            account_connector_id,
        } => {
            let runner = ctx.runner()?;
            let engine = &runner.engine;
            let report = runner.run(engine.delete_account_connector(account_connector_id))?;
            out.revocation(
                &report,
                &format!("deleted account connector {account_connector_id}"),
            )
        }
    }
}
