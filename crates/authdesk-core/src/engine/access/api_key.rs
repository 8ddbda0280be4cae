//! An API key on a request: the stored key, after the definition's prefix, in the header
//! or query parameter it names.
//!
//! Must not: check the key (a method call's answer does, in `methods`).

use super::*;

pub(super) async fn apply(
    engine: &Engine,
    id: i64,
    k: &crate::definition::ApiKeyDefinition,
) -> Result<AppliedAuth> {
    let key = engine
        .db(move |desk| desk.credential_secret(id, fields::API_KEY))
        .await?
        .ok_or_else(|| Error::NeedsSignIn {
            account_connector_id: id,
            reason: "no API key is stored; set it as the AuthValue".into(),
        })?;
    let value = Secret::new(format!("{}{}", k.prefix, key.expose()));
    Ok(match k.placement {
        ApiKeyPlacement::Header => AppliedAuth::header(&k.name, value),
        ApiKeyPlacement::Query => AppliedAuth::query(&k.name, value),
    })
}
