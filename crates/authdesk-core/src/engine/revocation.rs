//! Revocation at the provider (RFC 7009) when the user disconnects, deletes an account
//! connector or a whole account: the tokens are read and removed in one transaction, then
//! revoked; a failure is reported and recorded, never blocks the removal. What a removal
//! will do is said before it is done ([`Engine::removal_preview`]: nothing stored, tokens
//! that cannot be read so cannot be revoked), and the report says what was done.
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
    /// A disconnect that found nothing stored: nothing was changed.
    pub nothing_stored: bool,
    /// Why stored tokens were not revoked although the connector revokes: they could not
    /// be read (the data key is unavailable). The removal itself was done.
    pub not_revoked: Option<String>,
}

/// What disconnecting or deleting an account connector will do, said before it is done.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RemovalPreview {
    /// Whether a credential (tokens, a key, a password) or a status is stored to remove.
    pub stored: bool,
    /// Whether the connector revokes tokens at the provider (it has an RFC 7009 endpoint).
    pub revokes: bool,
    /// Why the stored tokens cannot be read now, so cannot be revoked at the provider.
    pub unreadable: Option<String>,
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

    /// Revokes what a removal took, or says why it could not be read.
    pub(super) async fn revoke_removed(
        &self,
        revoker: Option<Revoker>,
        taken: Result<TakenTokens>,
    ) -> RevocationReport {
        match (taken, revoker) {
            (Ok(t), r) => self.revoke_taken(r, t).await,
            (Err(e), Some(_)) => RevocationReport {
                not_revoked: Some(format!(
                    "the stored tokens could not be read ({e}), so they were not revoked at \
                     the provider"
                )),
                ..Default::default()
            },
            // Nothing would have been revoked anyway.
            (Err(_), None) => RevocationReport::default(),
        }
    }

    /// What disconnecting or deleting `id` will do: whether anything is stored, whether
    /// the connector revokes, and whether the stored tokens can be read to be revoked.
    pub async fn removal_preview(&self, id: i64) -> Result<RemovalPreview> {
        let revokes = self.revoker(id).await?.is_some();
        self.db(move |desk| {
            let ac = desk.get_account_connector(id)?;
            let stored = !ac.secrets_set.is_empty() || ac.status != AuthStatus::NotAuthenticated;
            let has_tokens = ac
                .secrets_set
                .iter()
                .any(|f| f == fields::ACCESS_TOKEN || f == fields::REFRESH_TOKEN);
            let unreadable = (revokes && has_tokens)
                .then(|| desk.load_tokens(id).err().map(|e| e.to_string()))
                .flatten();
            Ok(RemovalPreview {
                stored,
                revokes,
                unreadable,
            })
        })
        .await
    }

    /// Forgets the credential here (the account connector stays), then revokes what was
    /// stored at the provider. Forgetting first, in one transaction with reading the
    /// tokens, means a refresh in flight finds the credential changed: it discards (and
    /// revokes) what it gets instead of bringing the credential back. With nothing stored,
    /// nothing is written and the report says so.
    pub async fn disconnect(&self, id: i64) -> Result<RevocationReport> {
        let revoker = self.revoker(id).await?;
        let taken = self
            .db(move |desk| desk.take_credentials(id, "disconnected"))
            .await?;
        let Some(taken) = taken else {
            return Ok(RevocationReport {
                nothing_stored: true,
                ..Default::default()
            });
        };
        self.forget_prepared(id);
        let report = self.revoke_removed(revoker, taken).await;
        self.note_revocation(id, &report).await;
        Ok(report)
    }

    /// What revocation did goes into the account connector's history: revoked, failed, or
    /// not done because the tokens could not be read.
    pub(super) async fn note_revocation(&self, id: i64, report: &RevocationReport) {
        let mut notes = vec![];
        if !report.revoked.is_empty() {
            notes.push(("revoked", report.revoked.join(", ")));
        }
        if !report.errors.is_empty() {
            notes.push((
                "revocation_failed",
                format!("revocation failed: {}", report.errors.join("; ")),
            ));
        }
        if let Some(why) = &report.not_revoked {
            notes.push(("not_revoked", why.clone()));
        }
        if notes.is_empty() {
            return;
        }
        let _ = self
            .db(move |desk| {
                for (kind, detail) in &notes {
                    desk.note_event(id, kind, Some(detail), None);
                }
                Ok(())
            })
            .await;
    }

    /// Deletes the account connector, then revokes its tokens at the provider. Once the
    /// deletion is done this never fails: tokens that could not be read are reported as
    /// not revoked.
    pub async fn delete_account_connector(&self, id: i64) -> Result<RevocationReport> {
        let revoker = self.revoker(id).await?;
        let taken = self
            .db(move |desk| desk.delete_account_connector_taking(id))
            .await?;
        self.forget_prepared(id);
        Ok(self.revoke_removed(revoker, taken).await)
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
            let report = match revoker {
                Ok(r) => self.revoke_removed(r, taken).await,
                Err(e) => RevocationReport {
                    attempted: true,
                    errors: vec![e.to_string()],
                    ..Default::default()
                },
            };
            if report.attempted || report.not_revoked.is_some() {
                reports.push((id, report));
            }
        }
        Ok(reports)
    }
}
