//! The auth to put on a request, per way to authenticate: an API key (header or query),
//! Basic credentials, an OAuth 2 access token (refreshed first when due), or none.
//!
//! Must not: refresh by itself (it asks `refresh`), build URLs (`context`).

use super::*;

/// The header carrying an OAuth2 access token, as the definition says.
pub(crate) fn bearer(o: &OAuth2Definition, token: &Secret) -> AppliedAuth {
    AppliedAuth::Header {
        name: o.token_header.clone(),
        value: Secret::new(format!("{}{}", o.token_prefix, token.expose())),
    }
}

/// Authentication to put on a request.
#[derive(Debug, Clone)]
pub enum AppliedAuth {
    None,
    Header { name: String, value: Secret },
    Query { name: String, value: Secret },
}

impl Engine {
    /// The auth to apply to a request on account connector `id`, and the credential
    /// version it came from (for a forced refresh after a 401).
    pub async fn access(&self, id: i64) -> Result<(AppliedAuth, Option<i64>)> {
        let ctx = self.context(id).await?;
        let (auth, version, _) = self.access_with(&ctx).await?;
        Ok((auth, version))
    }

    /// The auth, the credential version and until when (margin included) it may be used
    /// without looking again.
    pub(super) async fn access_with(
        &self,
        ctx: &Context,
    ) -> Result<(AppliedAuth, Option<i64>, Option<DateTime<Utc>>)> {
        let id = ctx.ac.id;
        match ctx.auth() {
            AuthDefinition::None {} => Ok((AppliedAuth::None, None, None)),
            AuthDefinition::ApiKey(k) => {
                let key = self
                    .db(move |desk| desk.credential_secret(id, fields::API_KEY))
                    .await?
                    .ok_or_else(|| Error::NeedsSignIn {
                        account_connector_id: id,
                        reason: "no API key is stored; set it as the AuthValue".into(),
                    })?;
                let value = Secret::new(format!("{}{}", k.prefix, key.expose()));
                let auth = match k.placement {
                    ApiKeyPlacement::Header => AppliedAuth::Header {
                        name: k.name.clone(),
                        value,
                    },
                    ApiKeyPlacement::Query => AppliedAuth::Query {
                        name: k.name.clone(),
                        value,
                    },
                };
                Ok((auth, None, None))
            }
            AuthDefinition::Basic {} => {
                let joined = self.db(move |desk| desk.credential_secret(id, fields::BASIC)).await?.ok_or_else(|| Error::NeedsSignIn {
                    account_connector_id: id,
                    reason: "no Basic credentials are stored; set base64(user:password) as the AuthValue".into(),
                })?;
                let encoded = base64::engine::general_purpose::STANDARD.encode(joined.expose());
                let value = Secret::new(format!("Basic {encoded}"));
                Ok((
                    AppliedAuth::Header {
                        name: "Authorization".into(),
                        value,
                    },
                    None,
                    None,
                ))
            }
            AuthDefinition::Oauth2(o) => {
                let token = self.ensure_token(id, None).await?;
                Ok((
                    bearer(o, &token.value),
                    Some(token.version),
                    token.good_until,
                ))
            }
        }
    }
}
