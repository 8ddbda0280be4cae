//! An OAuth 2 access token on a request: a usable token (refreshed or obtained first when
//! due, by `refresh` and `obtain`) in the header the definition names, after its prefix; a
//! DPoP-bound one (RFC 9449) as `Authorization: DPoP <token>` with a proof on each request.
//!
//! Must not: talk to the token endpoint itself.

use std::sync::Arc;

use super::*;
use crate::engine::dpop::{is_dpop_type, DpopKey, DpopState, DpopUse};

/// A DPoP-bound access token and the key it is bound to.
#[derive(Clone)]
pub struct DpopCall {
    key: Arc<DpopKey>,
    token: Secret,
}

impl std::fmt::Debug for DpopCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DpopCall({:?}, [redacted])", self.key)
    }
}

impl DpopCall {
    /// A proof for one request (with `ath` and the origin's latest nonce).
    pub fn proof(&self, state: &DpopState, method: &str, url: &url::Url) -> String {
        let using = DpopUse {
            key: self.key.clone(),
            state,
        };
        using.proof(method, url, Some(&self.token))
    }
}

/// The header carrying an OAuth2 access token, as the definition says.
fn bearer(o: &OAuth2Definition, token: &Secret) -> AppliedAuth {
    AppliedAuth::header(
        &o.token_header,
        Secret::new(format!("{}{}", o.token_prefix, token.expose())),
    )
}

impl Engine {
    /// The auth for `token` of this account connector: DPoP when the token is DPoP-bound
    /// and the connector has its key, else as the definition says.
    pub(crate) async fn token_auth(&self, ctx: &Context, token: &Secret) -> Result<AppliedAuth> {
        let o = ctx.oauth2()?;
        if is_dpop_type(ctx.ac.token_type.as_deref()) {
            if let Some(d) = self.dpop_for(ctx).await? {
                let mut auth = AppliedAuth::header(
                    "Authorization",
                    Secret::new(format!("DPoP {}", token.expose())),
                );
                auth.dpop = Some(DpopCall {
                    key: d.key,
                    token: token.clone(),
                });
                return Ok(auth);
            }
        }
        Ok(bearer(o, token))
    }
}

/// The header, the credential version it came from and until when it may be used.
pub(super) async fn apply(
    engine: &Engine,
    ctx: &Context,
    _o: &OAuth2Definition,
) -> Result<(AppliedAuth, Option<i64>, Option<DateTime<Utc>>)> {
    let token = engine.ensure_token(ctx.ac.id, None).await?;
    Ok((
        engine.token_auth(ctx, &token.value).await?,
        Some(token.version),
        token.good_until,
    ))
}
