//! HTTP Basic on a request: the stored `user:password`, base64-encoded in `Authorization`.
//!
//! Must not: check the credentials (a method call's answer does, in `methods`).

use super::*;

pub(super) async fn apply(engine: &Engine, id: i64) -> Result<AppliedAuth> {
    let joined = engine
        .db(move |desk| desk.credential_secret(id, fields::BASIC))
        .await?
        .ok_or_else(|| Error::NeedsSignIn {
            account_connector_id: id,
            reason: "no Basic credentials are stored; set base64(user:password) as the AuthValue"
                .into(),
        })?;
    let encoded = base64::engine::general_purpose::STANDARD.encode(joined.expose());
    Ok(AppliedAuth::header(
        "Authorization",
        Secret::new(format!("Basic {encoded}")),
    ))
}
