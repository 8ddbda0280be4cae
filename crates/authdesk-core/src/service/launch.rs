//! Cyclr's LAUNCH: an account, created when it does not exist yet, and the partner's
//! connectors installed into it, all in one write transaction.
//!
//! Must not: check an install itself (each arrives prepared: `prepare_install`), or write
//! outside its one transaction.

use super::account_connectors::PreparedInstall;
use super::accounts::{account_in, prepare_account};
use super::Authdesk;
use crate::domain::{Account, AccountConnector, NewAccount};
use crate::error::Result;

impl Authdesk {
    /// Installs `installs` (prepared: every check made) into the account `account.id`,
    /// creating it from `account` when it does not exist, in one write transaction: a
    /// failure leaves neither the new account nor any of the account connectors, and no
    /// other writer sees half of it. Answers the account and the account connectors.
    pub fn launch(
        &self,
        account: NewAccount,
        installs: Vec<PreparedInstall>,
    ) -> Result<(Account, Vec<AccountConnector>)> {
        let mut done = self.launch_all(vec![(account, installs)])?;
        Ok(done.remove(0))
    }

    /// [`Authdesk::launch`] for several accounts at once, all in one write transaction
    /// (a hand-over bundle's import).
    pub fn launch_all(
        &self,
        batches: Vec<(NewAccount, Vec<PreparedInstall>)>,
    ) -> Result<Vec<(Account, Vec<AccountConnector>)>> {
        self.launch_all_ids(batches)?
            .into_iter()
            .map(|(account, ids)| {
                let installed = ids
                    .into_iter()
                    .map(|id| self.get_account_connector(id))
                    .collect::<Result<_>>()?;
                Ok((self.get_account(&account)?, installed))
            })
            .collect()
    }

    /// [`Authdesk::launch_all`] answering only the Ids written: each account's Id and its
    /// new account connectors' Ids (a bulk import of many thousands, nothing read back).
    pub fn launch_all_ids(
        &self,
        batches: Vec<(NewAccount, Vec<PreparedInstall>)>,
    ) -> Result<Vec<(String, Vec<i64>)>> {
        let batches = batches
            .into_iter()
            .map(|(account, installs)| Ok((prepare_account(account)?, installs)))
            .collect::<Result<Vec<_>>>()?;
        let now = self.now();
        self.store()?.write(|tx| {
            let mut ids = Vec::new();
            for (account, installs) in &batches {
                if account_in(tx, &account.id)?.is_none() {
                    account.insert(tx, now)?;
                }
                ids.push((
                    account.id.clone(),
                    installs
                        .iter()
                        .map(|install| install.insert(tx, &account.id, now))
                        .collect::<Result<Vec<i64>>>()?,
                ));
            }
            Ok(ids)
        })
    }
}
