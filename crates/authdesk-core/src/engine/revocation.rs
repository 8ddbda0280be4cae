//! Revocation at the provider (RFC 7009) when the user disconnects, deletes an account
//! connector or a whole account: the tokens are read and removed in one transaction, then
//! revoked; a failure is reported and recorded, never blocks the removal.
//!
//! Must not: revoke tokens a refresh merely lost a lease race with (that is `refresh`'s
//! rule), or keep anything it removed.

use super::*;

/// The outcome of revoking a credential at the provider before it is removed here.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RevocationReport {
    /// Whether the connector has a revocation endpoint and there was something to revoke.
    pub attempted: bool,
    pub revoked: Vec<String>,
    pub errors: Vec<String>,
}

/// What revoking needs for one account connector.
pub(super) struct Revoker {
    o: OAuth2Definition,
    setup: Result<(ClientCredentials, Endpoints)>,
    /// The account connector's property-chosen hosts ([`Context::hosts`]).
    hosts: std::collections::BTreeSet<String>,
}

impl Engine {
    /// What revoking an account connector's tokens needs, read while it still exists.
    pub(super) async fn revoker(&self, id: i64) -> Result<Option<Revoker>> {
        // Without the host check: disconnecting and deleting must work whatever the
        // properties say; only the revocation is then refused (and reported).
        let ctx = self.db(move |desk| context_of(desk, id)).await?;
        let Ok(o) = ctx.oauth2().cloned() else {
            return Ok(None);
        };
        if o.revoke_url.is_none() {
            return Ok(None);
        }
        let hosts = self.check_property_hosts(&ctx).await;
        let creds = self
            .db(move |desk| desk.resolve_client_credentials(id))
            .await;
        let endpoints = ctx.endpoints();
        Ok(Some(Revoker {
            o,
            setup: hosts.and(creds).and_then(|c| Ok((c, endpoints?))),
            hosts: ctx.hosts.clone(),
        }))
    }

    /// Revokes taken tokens at the provider (RFC 7009).
    pub(super) async fn revoke_taken(
        &self,
        revoker: Option<Revoker>,
        taken: TakenTokens,
    ) -> RevocationReport {
        let mut report = RevocationReport::default();
        let Some(r) = revoker else {
            return report;
        };
        let tokens = [
            (fields::REFRESH_TOKEN, true, taken.refresh_token),
            (fields::ACCESS_TOKEN, false, taken.access_token),
        ];
        for (field, is_refresh, token) in tokens {
            let Some(token) = token else { continue };
            report.attempted = true;
            let (creds, endpoints) = match &r.setup {
                Ok(s) => s,
                Err(e) => {
                    report.errors.push(e.to_string());
                    return report;
                }
            };
            let url = endpoints.revoke.as_deref().unwrap_or_default();
            match tokens::revoke(
                self.http.for_url(url, &r.hosts, Follow::Never),
                &r.o,
                creds,
                endpoints,
                &token,
                is_refresh,
            )
            .await
            {
                Ok(()) => report.revoked.push(field.to_string()),
                Err(e) => report.errors.push(format!("{field}: {e}")),
            }
        }
        report
    }

    /// Forgets the credential here (the account connector stays), then revokes what was
    /// stored at the provider. Forgetting first, in one transaction with reading the
    /// tokens, means a refresh in flight finds the credential changed: it discards (and
    /// revokes) what it gets instead of bringing the credential back.
    pub async fn disconnect(&self, id: i64) -> Result<RevocationReport> {
        let revoker = self.revoker(id).await?;
        let taken = self
            .db(move |desk| desk.take_credentials(id, "disconnected"))
            .await?;
        self.forget_prepared(id);
        let report = self.revoke_taken(revoker, taken).await;
        self.note_revocation_failure(id, &report).await;
        Ok(report)
    }

    /// A failed revocation goes into the account connector's history.
    pub(super) async fn note_revocation_failure(&self, id: i64, report: &RevocationReport) {
        if report.errors.is_empty() {
            return;
        }
        let detail = format!("revocation failed: {}", report.errors.join("; "));
        let _ = self
            .db(move |desk| {
                desk.note_event(id, "revocation_failed", Some(&detail), None);
                Ok(())
            })
            .await;
    }

    /// Deletes the account connector, then revokes its tokens at the provider.
    pub async fn delete_account_connector(&self, id: i64) -> Result<RevocationReport> {
        let revoker = self.revoker(id).await?;
        let taken = self
            .db(move |desk| desk.delete_account_connector_taking(id))
            .await?;
        self.forget_prepared(id);
        Ok(self.revoke_taken(revoker, taken).await)
    }

    /// Deletes an account with its users and account connectors, then revokes every
    /// account connector's tokens at its provider (as deleting one account connector does).
    /// One report per account connector that had something to revoke.
    pub async fn delete_account(&self, account_id: &str) -> Result<Vec<(i64, RevocationReport)>> {
        let account = self
            .db({
                let a = account_id.to_string();
                move |desk| desk.get_account(&a)
            })
            .await?
            .id;
        let ids = self
            .db({
                let a = account.clone();
                move |desk| desk.list_account_connector_ids(Some(&a))
            })
            .await?;
        let mut revokers = HashMap::new();
        for id in ids {
            // A connector whose context cannot be built (e.g. its definition no longer
            // loads) is still deleted; its revocation is reported as failed.
            revokers.insert(id, self.revoker(id).await);
        }
        let taken = self
            .db(move |desk| desk.delete_account_taking(&account))
            .await?;
        let mut reports = Vec::new();
        for (id, taken) in taken {
            self.forget_prepared(id);
            let revoker = revokers.remove(&id).unwrap_or_else(|| {
                Err(Error::InvalidInput(
                    "it was installed while the account was being deleted".into(),
                ))
            });
            let report = match (taken, revoker) {
                (Ok(t), Ok(r)) => self.revoke_taken(r, t).await,
                (Err(e), _) | (_, Err(e)) => RevocationReport {
                    attempted: true,
                    revoked: vec![],
                    errors: vec![e.to_string()],
                },
            };
            if report.attempted {
                reports.push((id, report));
            }
        }
        Ok(reports)
    }
}
