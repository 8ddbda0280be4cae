//! Credential checks (`[check]` in a definition): the "who am I" request sent with the
//! account connector's auth, its verdict recorded (`LastCheck`, the history). Run on
//! demand, and after a sign-in or a credential is set (best effort: a check that cannot run
//! says so in the log and changes nothing else).
//!
//! Must not: change the credential itself (a refused check marks it refused, as a refused
//! call does; an OAuth token is refreshed once after a 401 like any call).

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::request::FreeRequest;
use super::Engine;
use crate::error::{Error, Result};

/// A check's outcome.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct CheckResult {
    pub valid: bool,
    /// The check request's HTTP status.
    pub status: u16,
    pub checked_at: DateTime<Utc>,
}

impl Engine {
    /// Sends the connector's check request for account connector `id` and records the
    /// verdict. An error when the connector names none.
    pub async fn check(&self, id: i64) -> Result<CheckResult> {
        let (ctx, _) = self.cached_context_in(None, id).await?;
        let Some(check) = ctx.def.check.clone() else {
            return Err(Error::InvalidInput(format!(
                "connector `{}` names no check request: add `[check]` (method, path, ok_status) \
                 to its definition, or call one of its methods",
                ctx.def.id
            )));
        };
        let request = FreeRequest {
            method: check.method.clone(),
            target: check.path.clone(),
            headers: Vec::new(),
            body: None,
        };
        let status = match self.send_request(id, &request).await {
            Ok(response) => response.status,
            // An OAuth token the provider refused, with nothing to renew it: the engine has
            // marked it as needing the user; for the check it is simply not valid.
            Err(Error::NeedsReauth { .. }) => 401,
            Err(e) => return Err(e),
        };
        let valid = check.is_valid(status);
        self.db(move |desk| desk.record_credential_check(id, status, valid))
            .await?;
        Ok(CheckResult {
            valid,
            status,
            checked_at: self.desk.now(),
        })
    }

    /// [`Engine::check`] when the connector names a check; nothing otherwise. For after a
    /// sign-in or a credential was set: a failure is logged, not returned.
    pub async fn check_if_named(&self, id: i64) -> Option<CheckResult> {
        let named = self
            .cached_context_in(None, id)
            .await
            .is_ok_and(|(ctx, _)| ctx.def.check.is_some());
        if !named {
            return None;
        }
        match self.check(id).await {
            Ok(r) => Some(r),
            Err(e) => {
                tracing::info!(
                    account_connector = id,
                    "the credential check could not run: {e}"
                );
                None
            }
        }
    }
}
