//! Getting a new OAuth token: single flight per credential (an in-process gate and a lease
//! shared by processes and replicas, renewed while in flight), the refresh or the
//! connector's own grant, and the versioned commit (only if the credential is still at the
//! version read and the lease still ours); failures classified into needs-re-authentication
//! or a back-off; a result that lost its race discarded (and revoked only when the user
//! replaced the credential, never when only the lease was lost).
//!
//! Must not: choose when to refresh idle credentials (`keep_alive`), revoke on the user's
//! behalf (`revocation`).

use super::*;

/// The credential as a caller first saw it, before it waited for the gate or the lease.
#[derive(Clone, Copy)]
pub(super) struct Seen {
    version: i64,
    at: DateTime<Utc>,
}

/// How many times a refresh may find the credential changed under it before giving up.
pub(super) const MAX_STALE_ROUNDS: u32 = 3;

/// What a refresh under the lease came to.
pub(super) enum Obtained {
    Token(Token),
    /// The credential changed while the provider answered: nothing was written.
    Stale,
}

/// An access token and the credential version it belongs to.
#[derive(Debug, Clone)]
pub struct Token {
    pub value: Secret,
    pub version: i64,
    pub expires_at: Option<DateTime<Utc>>,
    /// Until when it is used without looking again (expiry minus the refresh margin).
    pub good_until: Option<DateTime<Utc>>,
}

impl Token {
    pub(super) fn of(value: &Secret, stored: &StoredTokens, margin: Duration) -> Token {
        Token {
            value: value.clone(),
            version: stored.version,
            expires_at: stored.expires_at,
            good_until: stored.expires_at.map(|e| e - margin),
        }
    }
}

/// The margin for a token of `lifetime` under a definition (engine config's default).
pub(super) fn margin_for(
    config: &EngineConfig,
    oauth2: Option<&OAuth2Definition>,
    lifetime: Option<Duration>,
) -> Duration {
    refresh_margin(config.refresh_margin, oauth2, lifetime)
}

/// The refresh margin: the definition's `refresh_margin_seconds` (else `default`), but never
/// more than a quarter of the token's lifetime, so a short-lived token is used for three
/// quarters of its life instead of being refreshed on every call.
pub fn refresh_margin(
    default: Duration,
    oauth2: Option<&OAuth2Definition>,
    lifetime: Option<Duration>,
) -> Duration {
    let configured = oauth2
        .and_then(|o| o.refresh_margin_seconds)
        .map(|s| Duration::seconds(s.into()))
        .unwrap_or(default);
    match lifetime {
        Some(l) if l > Duration::zero() => configured.min(l / 4),
        Some(_) => Duration::zero(),
        None => configured,
    }
}

impl Engine {
    pub(super) fn gate(&self, id: i64) -> Arc<tokio::sync::Mutex<()>> {
        let mut gates = self.gates.lock().unwrap_or_else(|p| p.into_inner());
        gates.entry(id).or_default().clone()
    }

    /// The refresh margin for a token: the definition's (or the engine's default), but
    /// never more than a quarter of the token's lifetime.
    pub fn refresh_margin(&self, oauth2: Option<&OAuth2Definition>, t: &StoredTokens) -> Duration {
        margin_for(&self.config, oauth2, t.lifetime())
    }

    /// Refreshes now (or re-authenticates with client credentials / password), even if the
    /// access token is still valid — unless someone else refreshed meanwhile.
    pub async fn refresh_now(&self, id: i64) -> Result<AccountConnector> {
        self.refresh_for(id, Trigger::User).await
    }

    /// [`Engine::refresh_now`], saying in the history what asked for it.
    /// The keep-alive's refresh: only if the credential, read now, is still due (the list
    /// it came from may be stale: every replica of a team server runs the keep-alive), and
    /// with the version of that very read, so a refresh committed by anyone after it is
    /// used rather than repeated.
    pub(super) async fn refresh_if_still_due(
        &self,
        id: i64,
        now: DateTime<Utc>,
        idle_before: DateTime<Utc>,
    ) -> Result<bool> {
        self.context(id).await?.oauth2()?;
        let t = self.db(move |desk| desk.load_tokens(id)).await?;
        let window = keep_alive_window(&self.config, t.lifetime());
        let due = t.expires_at.is_some_and(|e| e <= now + window)
            || t.obtained_at.is_none_or(|o| o <= idle_before);
        if !due || t.refresh_token.is_none() {
            return Ok(false);
        }
        self.ensure_token_for(id, Some(t.version), Trigger::KeepAlive)
            .await?;
        self.forget_prepared(id);
        Ok(true)
    }

    pub(super) async fn refresh_for(&self, id: i64, trigger: Trigger) -> Result<AccountConnector> {
        let grant = self.context(id).await?.oauth2()?.grant;
        let t = self.db(move |desk| desk.load_tokens(id)).await?;
        // An access token that came without a refresh token (an AuthValue, a provider that
        // issues none) is used until it expires: asking for a refresh changes nothing, and
        // says so, rather than giving up a token that still works.
        if !grant.renews_itself() && t.access_token.is_some() && t.refresh_token.is_none() {
            return Err(Error::NoRefreshToken {
                account_connector_id: id,
                expires_at: t.expires_at,
            });
        }
        self.ensure_token_for(id, Some(t.version), trigger).await?;
        self.forget_prepared(id);
        let ac = self.db(move |desk| desk.get_account_connector(id)).await?;
        // A provider that failed leaves the old token in use while it lasts (calls go on),
        // but whoever asked for a refresh is told that there was none.
        if ac.status == AuthStatus::Error {
            let t = self.db(move |desk| desk.load_tokens(id)).await?;
            return Err(Error::ProviderTransient {
                message: ac
                    .last_error
                    .unwrap_or_else(|| "the provider failed; the refresh did not happen".into()),
                retry_after: t.retry_after,
            });
        }
        Ok(ac)
    }

    /// A usable access token. With `stale_version`, the token of that version is not good
    /// enough (the provider refused it): a newer one is obtained or awaited.
    pub async fn ensure_token(&self, id: i64, stale_version: Option<i64>) -> Result<Token> {
        self.ensure_token_for(id, stale_version, Trigger::Call)
            .await
    }

    pub(super) async fn ensure_token_for(
        &self,
        id: i64,
        stale_version: Option<i64>,
        trigger: Trigger,
    ) -> Result<Token> {
        let (t, oauth2) = self
            .db(move |desk| Ok((desk.load_tokens(id)?, desk.account_connector_oauth2(id)?)))
            .await?;
        let margin = self.refresh_margin(oauth2.as_ref(), &t);
        if stale_version.is_none() && t.status == AuthStatus::Authenticated {
            if let Some(a) = t.access_valid_at(self.desk.now() + margin) {
                return Ok(Token::of(a, &t, margin));
            }
        }
        // The slow path runs in a task of its own, holding the in-process gate: a caller
        // that goes away cannot cut a refresh between the provider's answer and the commit.
        let engine = self.clone();
        let seen = Seen {
            version: t.version,
            at: self.desk.now(),
        };
        let counted = InFlight::new(self);
        tokio::spawn(async move {
            let _counted = counted;
            let _in_process = engine.gate(id).lock_owned().await;
            engine
                .ensure_token_locked(id, stale_version, seen, oauth2, trigger)
                .await
        })
        .await
        .map_err(|e| Error::Internal(format!("the refresh task failed: {e}")))?
    }

    pub(super) async fn ensure_token_locked(
        &self,
        id: i64,
        stale_version: Option<i64>,
        seen: Seen,
        oauth2: Option<OAuth2Definition>,
        trigger: Trigger,
    ) -> Result<Token> {
        let mut stale_rounds = 0;
        loop {
            let t = self.db(move |desk| desk.load_tokens(id)).await?;
            let now = self.desk.now();
            let margin = self.refresh_margin(oauth2.as_ref(), &t);
            if t.status == AuthStatus::NeedsReauth {
                let ac = self.db(move |desk| desk.get_account_connector(id)).await?;
                return Err(Error::NeedsReauth {
                    account_connector_id: id,
                    message: ac.last_error.unwrap_or_else(|| {
                        "the provider no longer accepts the stored grant".into()
                    }),
                });
            }
            let newer = stale_version.is_none_or(|v| t.version != v);
            if newer {
                // A token obtained while we waited (by this process or another) is used:
                // that is what makes one refresh serve every waiter, whatever the token's
                // lifetime (even one so short that it is nearly gone by now).
                let changed = t.version != seen.version;
                let obtained_meanwhile = changed
                    && t.status == AuthStatus::Authenticated
                    && t.obtained_at.is_some_and(|o| o >= seen.at);
                if let (true, Some(a)) = (obtained_meanwhile, t.access_token.as_ref()) {
                    return Ok(Token::of(a, &t, margin));
                }
                let wanted = if stale_version.is_some() || changed {
                    now
                } else {
                    now + margin
                };
                if let Some(a) = t.access_valid_at(wanted) {
                    return Ok(Token::of(a, &t, margin));
                }
            }
            // The back-off after a provider failure holds for calls and the keep-alive; a
            // user who asks for a refresh is asking to try now.
            if let Some(retry) = t
                .retry_after
                .filter(|r| *r > now && trigger != Trigger::User)
            {
                if let (true, Some(a)) = (newer, t.access_valid_at(now)) {
                    return Ok(Token::of(a, &t, margin));
                }
                let ac = self.db(move |desk| desk.get_account_connector(id)).await?;
                return Err(Error::ProviderTransient {
                    message: ac
                        .last_error
                        .unwrap_or_else(|| "the provider failed recently".into()),
                    retry_after: Some(retry),
                });
            }
            let (holder, ttl, version) = (self.holder.clone(), self.config.lease_ttl, t.version);
            let lease = self
                .db(move |desk| desk.try_acquire_lease(id, &holder, ttl, version))
                .await?;
            match lease {
                LeaseOutcome::Acquired => {
                    let renewal = self.renew_while_in_flight(id);
                    let result = self.obtain(id, &t, stale_version.is_some(), trigger).await;
                    renewal.abort();
                    // Every path below releases in its own transaction; make sure.
                    let holder = self.holder.clone();
                    let _ = self.db(move |desk| desk.release_lease(id, &holder)).await;
                    // A call whose token is still good (only inside the margin) goes on with
                    // it when the provider fails for now; the next call tries again later.
                    if let Err(e @ (Error::ProviderTransient { .. } | Error::Http { .. })) = &result
                    {
                        if stale_version.is_none() {
                            if let Some(a) = t.access_valid_at(self.desk.now()) {
                                tracing::warn!(
                                    account_connector = id,
                                    "{e}; the current token is still valid and is used"
                                );
                                return Ok(Token::of(a, &t, margin));
                            }
                        }
                    }
                    match result? {
                        Obtained::Token(token) => return Ok(token),
                        Obtained::Stale => {
                            stale_rounds += 1;
                            if stale_rounds >= MAX_STALE_ROUNDS {
                                return Err(Error::ProviderTransient {
                                    message: format!(
                                        "the credential of account connector {id} kept changing \
                                         while it was being refreshed; try again"
                                    ),
                                    retry_after: None,
                                });
                            }
                        }
                    }
                }
                // Someone else refreshed between our read and the lease: look again.
                LeaseOutcome::Changed => {}
                // Wait with reads only: a write per poll would queue on the write lock and
                // bump every replica's change marker.
                LeaseOutcome::HeldByOther => loop {
                    tokio::time::sleep(std::time::Duration::from_millis(25)).await;
                    let version = t.version;
                    if self
                        .db(move |desk| desk.lease_may_be_free(id, version))
                        .await?
                    {
                        break;
                    }
                },
            }
        }
    }

    /// Renews the refresh lease of `id` every third of its lifetime until aborted (or
    /// until it is no longer ours), so a refresh whose provider or commit is slow keeps it.
    pub(super) fn renew_while_in_flight(&self, id: i64) -> tokio::task::JoinHandle<()> {
        let engine = self.clone();
        tokio::spawn(async move {
            let ttl = engine.config.lease_ttl;
            let every = (ttl / 3)
                .to_std()
                .unwrap_or_default()
                .max(std::time::Duration::from_millis(100));
            loop {
                tokio::time::sleep(every).await;
                let holder = engine.holder.clone();
                let renewed = engine
                    .db(move |desk| desk.renew_lease(id, &holder, ttl))
                    .await;
                match renewed {
                    Ok(true) => {}
                    Ok(false) => return,
                    // The database is unreachable for now: the commit will find out.
                    Err(e) => tracing::warn!(
                        account_connector = id,
                        "cannot renew the refresh lease: {e}"
                    ),
                }
            }
        })
    }
}
