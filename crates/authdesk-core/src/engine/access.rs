//! The auth to put on a request: the list of ways, each applied by its own module (an API
//! key in a header or the query, Basic credentials, an OAuth 2 access token refreshed first
//! when due); `None` puts nothing. To add an auth type: its module here and its arm below.
//!
//! Must not: refresh by itself (it asks `refresh`), build URLs (`context`).

mod api_key;
mod basic;
mod oauth2;

use super::*;

pub(crate) use oauth2::bearer;

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
            AuthDefinition::ApiKey(k) => Ok((api_key::apply(self, id, k).await?, None, None)),
            AuthDefinition::Basic {} => Ok((basic::apply(self, id).await?, None, None)),
            AuthDefinition::Oauth2(o) => oauth2::apply(self, id, o).await,
        }
    }
}
