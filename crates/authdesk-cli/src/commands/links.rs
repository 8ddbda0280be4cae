//! Setup links: `links create`, `links list`, `links revoke`.
//!
//! Must not: print a link's token but once, in the URL of the link just made.

use anyhow::{bail, Result};
use authdesk_core::setup_links::parse_ttl;

use super::Ctx;

pub fn create(
    ctx: &Ctx,
    account_connector_id: i64,
    expires: &str,
    base: Option<&str>,
) -> Result<()> {
    let ttl = parse_ttl(expires)?;
    let base = match base {
        // https, or http on a loopback host, without a path: what `serve --public-url` takes.
        Some(b) => authdesk_api::PublicUrl::parse(b)?.base().to_string(),
        None => match ctx.desk.setup_link_base()? {
            Some(b) => b,
            None => bail!(
                "no API has run on this data directory yet, so there is no address for the link: \
                 start `authdesk serve` (or the desktop app) once, or give --base URL"
            ),
        },
    };
    let link = ctx.desk.create_setup_link(account_connector_id, ttl)?;
    let url = format!("{base}/setup/{}", link.token.expose());
    ctx.out.new_setup_link(&link.id, &url, &link.expires_at_utc)
}

pub fn list(ctx: &Ctx, account_connector_id: Option<i64>) -> Result<()> {
    ctx.out
        .setup_links(&ctx.desk.setup_links(account_connector_id)?)
}

pub fn revoke(ctx: &Ctx, link_id: &str) -> Result<()> {
    let link = ctx.desk.revoke_setup_link(link_id)?;
    ctx.out.setup_links(std::slice::from_ref(&link))
}
