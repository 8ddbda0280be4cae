//! An OAuth 2 access token on a request: a usable token (refreshed or obtained first when
//! due, by `refresh` and `obtain`) in the header the definition names, after its prefix.
//!
//! Must not: talk to the token endpoint itself.

use super::*;

/// The header carrying an OAuth2 access token, as the definition says.
pub(crate) fn bearer(o: &OAuth2Definition, token: &Secret) -> AppliedAuth {
    AppliedAuth::header(
        &o.token_header,
        Secret::new(format!("{}{}", o.token_prefix, token.expose())),
    )
}

/// The header, the credential version it came from and until when it may be used.
pub(super) async fn apply(
    engine: &Engine,
    id: i64,
    o: &OAuth2Definition,
) -> Result<(AppliedAuth, Option<i64>, Option<DateTime<Utc>>)> {
    let token = engine.ensure_token(id, None).await?;
    Ok((
        bearer(o, &token.value),
        Some(token.version),
        token.good_until,
    ))
}
