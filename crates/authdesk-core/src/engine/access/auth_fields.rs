//! AuthFields on a request: each declared field's stored value, under its name, in the
//! header, query parameter or JSON body key the definition places it.
//!
//! Must not: check the values (a method call's answer does, in `methods`), or send a
//! request with some fields missing.

use super::*;
use crate::definition::{AuthFieldsDefinition, FieldPlacement};

pub(super) async fn apply(
    engine: &Engine,
    id: i64,
    def: &AuthFieldsDefinition,
) -> Result<AppliedAuth> {
    let names: Vec<String> = def.fields.iter().map(|f| f.name.clone()).collect();
    let values = engine
        .db(move |desk| {
            names
                .iter()
                .map(|n| desk.credential_secret(id, &fields::auth_field(n)))
                .collect::<Result<Vec<_>>>()
        })
        .await?;
    let mut applied = AppliedAuth::none();
    for (field, value) in def.fields.iter().zip(values) {
        let value = value.ok_or_else(|| Error::NeedsSignIn {
            account_connector_id: id,
            reason: format!(
                "no value is stored for the field {}; set the AuthValue (a JSON object with \
                 every field)",
                field.name
            ),
        })?;
        let to = match field.placement {
            FieldPlacement::Header => &mut applied.headers,
            FieldPlacement::Query => &mut applied.query,
            FieldPlacement::Body => &mut applied.body,
        };
        to.push((field.name.clone(), value));
    }
    Ok(applied)
}
