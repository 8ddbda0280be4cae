//! Commands that use credentials: `connect` (sign-in with a loopback redirect), `call`,
//! `refresh`, `keep-alive`, and the offline `history` and `inspect`.
//!
//! Must not: print a stored token but under `inspect --reveal`, or put anything but JSON on
//! stdout under --json (`connect` sends the URL and its messages to stderr).

use anyhow::{bail, Context, Result};

use super::{Ctx, Outcome};
use authdesk_core::engine::methods::MethodResponse;
use authdesk_core::engine::request::FreeRequest;

/// `authdesk call`'s exit status when the third party answered HTTP 400 or more (curl's
/// `--fail` uses the same number).
pub const EXIT_HTTP_FAILURE: u8 = 22;

pub fn connect(
    ctx: &Ctx,
    account_connector_id: i64,
    no_browser: bool,
    port: u16,
    timeout: u64,
    device: bool,
) -> Result<()> {
    let out = &ctx.out;
    let runner = ctx.runner()?;
    let engine = &runner.engine;
    runner.run(async {
        if device || engine.uses_device_sign_in(account_connector_id).await? {
            return device_sign_in(out, engine, account_connector_id).await;
        }
        let sign_in = authdesk_api::loopback::begin(engine, account_connector_id, port).await?;
        let url = sign_in.start.authorization_url.clone();
        eprintln!(
            "Redirect URI for this sign-in: {}",
            sign_in.start.redirect_uri
        );
        if no_browser {
            eprintln!("Open this URL in your browser to sign in:");
            // With --json, stdout is one JSON document: the URL goes to stderr.
            if out.json {
                eprintln!("{url}");
            } else {
                println!("{url}");
            }
        } else if let Err(e) = open::that_detached(&url) {
            eprintln!("Could not open a browser ({e}); open this URL yourself:\n{url}");
        } else {
            eprintln!("Your browser should now show the provider's sign-in page. Waiting...");
        }
        let ac = sign_in
            .finish(engine, std::time::Duration::from_secs(timeout))
            .await?;
        out.account_connector(&ac)
    })
}

/// RFC 8628: the code and where to enter it, then the wait for the user's answer.
async fn device_sign_in(
    out: &crate::output::Out,
    engine: &authdesk_core::Engine,
    id: i64,
) -> Result<()> {
    use std::io::IsTerminal;
    let start = engine.begin_device_sign_in(id).await?;
    if out.json {
        // One line now (a script shows it), the result as a second line.
        println!("{}", serde_json::to_string(&start)?);
    } else {
        println!(
            "To sign in, open {}\nand enter the code {}  (it expires in {} s)",
            start.verification_uri, start.user_code, start.expires_in
        );
        if let Some(complete) = &start.verification_uri_complete {
            println!("Or open {complete}");
            if std::io::stdout().is_terminal() {
                if let Some(qr) = super::qr::terminal(complete) {
                    println!("{qr}");
                }
            }
        }
        eprintln!("Waiting for the sign-in to be approved (Ctrl-C stops)...");
    }
    let ac = engine.complete_device_sign_in(&start).await?;
    if out.json {
        println!("{}", serde_json::to_string(&ac)?);
        Ok(())
    } else {
        out.account_connector(&ac)
    }
}

pub fn call(
    ctx: &Ctx,
    account_connector_id: i64,
    method: &str,
    params: &[String],
    params_json: Option<&str>,
    no_fail: bool,
) -> Result<Outcome> {
    let mut parameters = match params_json {
        Some(text) => match serde_json::from_str::<serde_json::Value>(text) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => bail!("--params-json must be a JSON object, e.g. '{{\"limit\": 10}}'"),
        },
        None => serde_json::Map::new(),
    };
    for p in params {
        let (n, v) = p.split_once('=').context(
            "a --param must be NAME=VALUE; this one has no `=` (it is not repeated \
                 here, in case it is a secret)",
        )?;
        parameters.insert(n.to_string(), serde_json::Value::String(v.to_string()));
    }
    let runner = ctx.runner()?;
    let engine = &runner.engine;
    let response = runner.run(engine.call_method(account_connector_id, method, &parameters))?;
    answered(ctx, &response, no_fail)
}

/// The `request` command's request from its arguments.
pub fn free_request(
    method: String,
    target: String,
    headers: &[String],
    data: Option<String>,
    data_stdin: bool,
) -> Result<FreeRequest> {
    let headers = headers
        .iter()
        .map(|h| {
            let (n, v) = h.split_once(':').context(
                "a --header must be \"Name: value\"; this one has no `:` (it is not repeated \
                 here, in case it is a secret)",
            )?;
            Ok((n.trim().to_string(), v.trim().to_string()))
        })
        .collect::<Result<Vec<_>>>()?;
    let body = if data_stdin {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
            .context("cannot read the body from stdin")?;
        Some(text)
    } else {
        data
    };
    Ok(FreeRequest {
        method,
        target,
        headers,
        body,
    })
}

pub fn request(
    ctx: &Ctx,
    account_connector_id: i64,
    request: &FreeRequest,
    no_fail: bool,
) -> Result<Outcome> {
    let runner = ctx.runner()?;
    let response = runner.run(runner.engine.send_request(account_connector_id, request))?;
    answered(ctx, &response, no_fail)
}

/// Prints a third party's answer; HTTP 400 or more is [`Outcome::ThirdPartyFailed`] unless
/// `no_fail`.
fn answered(ctx: &Ctx, response: &MethodResponse, no_fail: bool) -> Result<Outcome> {
    ctx.out.method_response(response)?;
    if response.status >= 400 && !no_fail {
        eprintln!(
            "authdesk: the third party answered HTTP {} (exit status {EXIT_HTTP_FAILURE}; \
             --no-fail exits 0)",
            response.status
        );
        return Ok(Outcome::ThirdPartyFailed);
    }
    Ok(Outcome::Done)
}

pub fn refresh(ctx: &Ctx, account_connector_id: i64) -> Result<()> {
    let runner = ctx.runner()?;
    let engine = &runner.engine;
    ctx.out
        .account_connector(&runner.run(engine.refresh_now(account_connector_id))?)
}

/// `authdesk check`: the verdict, printed; exit status 22 (as `call` on a refusal) when the
/// credential does not work.
pub fn check(ctx: &Ctx, account_connector_id: i64) -> Result<Outcome> {
    let runner = ctx.runner()?;
    let result = runner.run(runner.engine.check(account_connector_id))?;
    ctx.out.check(&result)?;
    Ok(if result.valid {
        Outcome::Done
    } else {
        Outcome::ThirdPartyFailed
    })
}

pub fn keep_alive(ctx: &Ctx, watch: Option<u64>) -> Result<()> {
    let runner = ctx.runner()?;
    let engine = &runner.engine;
    runner.run(async {
        loop {
            let outcomes = engine.keep_alive_once().await?;
            ctx.out.keep_alive(&outcomes)?;
            match watch {
                Some(seconds) => {
                    tokio::time::sleep(std::time::Duration::from_secs(seconds.max(1))).await
                }
                None => return anyhow::Ok(()),
            }
        }
    })
}

pub fn history(ctx: &Ctx, account_connector_id: i64, limit: usize) -> Result<()> {
    ctx.desk.get_account_connector(account_connector_id)?;
    ctx.out
        .history(&ctx.desk.credential_events(account_connector_id, limit)?)
}

pub fn inspect(ctx: &Ctx, account_connector_id: i64, reveal: bool) -> Result<()> {
    let inspection = ctx.desk.inspect(account_connector_id, reveal)?;
    // Asked for the values and could not open them: that is a failure, not an empty list.
    if let (true, Some(why)) = (reveal, &inspection.secrets_unavailable) {
        return Err(authdesk_core::Error::InvalidInput(format!(
            "the secrets of account connector {account_connector_id} cannot be revealed: {why}"
        ))
        .into());
    }
    ctx.out.inspection(&inspection)
}
