//! Changing an account connector through the engine: switching its way to authenticate
//! forgets the credential the old way held, and the OAuth tokens so forgotten are revoked
//! at the old way's provider, as a disconnect revokes them.
//!
//! Must not: write the change itself (`Authdesk::change_account_connector_taking` does, in
//! one transaction), or revoke tokens it did not take in that transaction.

use super::{Engine, RevocationReport};
use crate::domain::{AccountConnector, AccountConnectorChange};
use crate::error::Result;

impl Engine {
    /// [`crate::Authdesk::change_account_connector_taking`], then the revocation of the
    /// OAuth tokens a switch of the way to authenticate forgot (none without a switch).
    /// What revoking needs (the old way's endpoint and client) is read before the switch;
    /// the tokens are read and forgotten in the change's own transaction, so a refresh in
    /// flight finds the credential changed and discards what it gets.
    pub async fn change_account_connector(
        &self,
        id: i64,
        change: AccountConnectorChange,
    ) -> Result<(AccountConnector, RevocationReport)> {
        let may_switch = change
            .authentication_id
            .as_deref()
            .is_some_and(|a| !a.trim().is_empty());
        let revoker = if may_switch {
            self.revoker(id).await?
        } else {
            None
        };
        let (changed, taken) = self
            .db(move |desk| desk.change_account_connector_taking(id, change))
            .await?;
        let Some(taken) = taken else {
            return Ok((changed, RevocationReport::default()));
        };
        self.forget_prepared(id);
        let report = self.revoke_removed(revoker, taken).await;
        self.note_revocation(id, &report).await;
        Ok((changed, report))
    }
}
