//! `authdesk`: the command line. A thin layer over `authdesk-core`: `cli.rs` is the grammar
//! (clap), `commands/` one module per group of commands, `secrets.rs` reads secrets from
//! stdin or files (never from argv), `output.rs` prints a table or JSON. Here: opening the
//! data directory or database, dispatch, the one-line error and the exit status.
//!
//! Must not: repeat an unexpected word in a usage error (often a secret typed where --stdin
//! was meant), or do a command's work (its module in `commands/` does).

mod cli;
mod commands;
mod output;
mod secrets;

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Result;
use authdesk_core::{paths, Authdesk, OpenOptions};
use clap::Parser;

use cli::{Cli, Command, IdentityCmd, LinksCmd, VaultCmd};
use commands::{local_api, oauth, Ctx, Outcome};

/// The error and its causes on one line, each cause once (a message that already quotes its
/// cause, like "writing the list: Broken pipe", is not followed by it again).
fn one_line(e: &anyhow::Error) -> String {
    let mut msg = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !msg.contains(&text) {
            if !msg.is_empty() {
                msg.push_str(": ");
            }
            msg.push_str(&text);
        }
    }
    // What to do, as a command (the core says it in words for the API and the window).
    let hint = e
        .chain()
        .find_map(|c| c.downcast_ref::<authdesk_core::Error>())
        .and_then(authdesk_core::Error::hint);
    if let Some(hint) = hint {
        msg.push_str("; ");
        msg.push_str(&hint.cli());
    }
    msg.replace('\n', " ")
}

fn broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// clap's usage error (exit 2), except that an unexpected word is not repeated: it is
/// often a secret typed where `--stdin` was meant.
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        e.exit()
    }
    let mut text = e.render().to_string();
    if e.kind() == ErrorKind::UnknownArgument {
        if let Some(ContextValue::String(word)) = e.get(ContextKind::InvalidArg) {
            if !word.starts_with('-') {
                text = text.replace(word.as_str(), "<an extra word, not repeated here>");
            }
        }
    }
    eprint!("{text}");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    // A server logs warnings; a one-shot command says what went wrong in its one error
    // line, so only errors are logged besides (AUTHDESK_LOG overrides both).
    match cli.command {
        cli::Command::Serve { .. } => authdesk_core::logging::init(),
        _ => authdesk_core::logging::init_with_default("error"),
    }
    let json = cli.json;
    match run(cli) {
        Ok(Outcome::Done) => ExitCode::SUCCESS,
        Ok(Outcome::ThirdPartyFailed) => ExitCode::from(oauth::EXIT_HTTP_FAILURE),
        // The reader went away (`authdesk ... | head`): stop quietly, as other tools do.
        Err(e) if broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the core's messages already say what happened and what to do.
            let msg = one_line(&e);
            eprintln!("authdesk: error: {msg}");
            // A script reading --json gets one document on stdout either way.
            if json {
                println!("{}", serde_json::json!({ "Error": msg }));
            }
            if e.downcast_ref::<commands::Interrupted>().is_some() {
                ExitCode::from(130) // 128 + SIGINT, as shells report it
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

fn run(cli: Cli) -> Result<Outcome> {
    let dir = match &cli.data_dir {
        Some(d) => d.clone(),
        None => paths::default_data_dir()?,
    };
    // Set but empty (a blank line in an EnvironmentFile, say) is a mistake, not "SQLite":
    // a team server that quietly used a file of its own would split the team's data.
    if cli.database.as_deref().is_some_and(|u| u.trim().is_empty()) {
        return Err(authdesk_core::Error::InvalidInput(
            "--database (or AUTHDESK_DATABASE_URL) is empty: give the PostgreSQL URL, or unset \
             it to use the SQLite file in the data directory"
                .into(),
        )
        .into());
    }
    // A mistyped --data-dir (its parent is missing too: a made-up path) would otherwise
    // look like a desk whose data vanished.
    let new_dir = !dir.exists() && dir.parent().is_some_and(|p| !p.exists());
    let desk = Authdesk::open(OpenOptions {
        database: cli.database.clone(),
        ..OpenOptions::new(dir.clone())
    })?;
    if new_dir {
        eprintln!(
            "authdesk: note: {} did not exist; a new, empty data directory was made there",
            dir.display()
        );
    }
    let ctx = Ctx {
        desk: Arc::new(desk),
        out: output::Out { json: cli.json },
    };
    let done = match cli.command {
        Command::Request {
            account_connector_id,
            method,
            target,
            headers,
            data,
            data_stdin,
            no_fail,
        } => {
            let request = oauth::free_request(method, target, &headers, data, data_stdin)?;
            return oauth::request(&ctx, account_connector_id, &request, no_fail);
        }
        Command::Call {
            account_connector_id,
            method,
            params,
            params_json,
            no_fail,
            fail: _,
        } => {
            return oauth::call(
                &ctx,
                account_connector_id,
                &method,
                &params,
                params_json.as_deref(),
                no_fail,
            )
        }
        Command::Connect {
            account_connector_id,
            no_browser,
            port,
            timeout,
            device,
        } => oauth::connect(
            &ctx,
            account_connector_id,
            no_browser,
            port,
            timeout,
            device,
        ),
        Command::Refresh {
            account_connector_id,
        } => oauth::refresh(&ctx, account_connector_id),
        Command::Check {
            account_connector_id,
        } => return oauth::check(&ctx, account_connector_id),
        Command::KeepAlive { watch } => oauth::keep_alive(&ctx, watch),
        Command::History {
            account_connector_id,
            limit,
        } => oauth::history(&ctx, account_connector_id, limit),
        Command::Inspect {
            account_connector_id,
            reveal,
        } => oauth::inspect(&ctx, account_connector_id, reveal),
        Command::Serve {
            listen,
            public_url,
            keep_alive_every,
            mcp_allow,
        } => local_api::serve(
            &ctx,
            listen,
            public_url.as_deref(),
            keep_alive_every,
            mcp_allow,
        ),
        Command::ApiKey { rotate } => local_api::api_key(&ctx, rotate),
        Command::Migrate { to, to_key_file } => {
            local_api::migrate(&ctx, to.as_deref(), to_key_file)
        }
        Command::ApiClients(cmd) => local_api::api_clients(&ctx, cmd),
        Command::Origins(cmd) => local_api::origins(&ctx, cmd),
        Command::DataDir => local_api::data_dir(&ctx),
        Command::Vault(VaultCmd::Status) => local_api::vault_status(&ctx),
        Command::Identity(IdentityCmd::Show) => commands::handover::identity(&ctx),
        Command::Webhooks(cmd) => commands::webhooks::run(&ctx, cmd),
        Command::Mcp(cmd) => return commands::mcp::run(&ctx, cmd, &dir),
        Command::Links(LinksCmd::Create {
            account_connector_id,
            expires,
            base,
        }) => commands::links::create(&ctx, account_connector_id, &expires, base.as_deref()),
        Command::Links(LinksCmd::List {
            account_connector_id,
        }) => commands::links::list(&ctx, account_connector_id),
        Command::Links(LinksCmd::Revoke { link_id }) => commands::links::revoke(&ctx, &link_id),
        Command::Export {
            to,
            accounts,
            output,
        } => commands::handover::export(&ctx, &to, &accounts, &output),
        Command::Import { file } => commands::handover::import(&ctx, &file),
        Command::Accounts(cmd) => commands::accounts::run(&ctx, cmd),
        Command::Connectors(cmd) => commands::connectors::run(&ctx, cmd),
        Command::AccountConnectors(cmd) => commands::account_connectors::run(&ctx, cmd),
    };
    done?;
    flush_webhooks(&ctx);
    Ok(Outcome::Done)
}

/// A command's own webhook events (never tried yet) go out before it exits, for at most
/// five seconds: a script that changes a credential and exits is heard at once. What is
/// left (an endpoint down or slow) is delivered by `serve` or the desktop.
fn flush_webhooks(ctx: &commands::Ctx) {
    if !ctx.desk.webhooks_due(true).unwrap_or(false) {
        return;
    }
    let Ok(runner) = ctx.runner() else { return };
    let engine = runner.engine.clone();
    let _ = runner.rt.block_on(async move {
        tokio::time::timeout(std::time::Duration::from_secs(5), async {
            while engine.deliver_fresh_webhooks().await.unwrap_or(0) > 0 {}
        })
        .await
    });
}
