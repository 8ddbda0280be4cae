//! Under the refresh lease: getting a new token (the refresh, or the connector's own grant
//! for client credentials and password), and committing it only if the credential is still
//! at the version read and the lease still ours; needs-re-authentication and transient
//! failures written under the same condition; a result that lost its race discarded, and
//! revoked only when the user replaced the credential (never when only the lease was lost);
//! a COMMIT whose connection was lost tried once more.
//!
//! Must not: take or wait for the lease (that is `refresh`), or write unconditionally.

use super::*;
use refresh::{margin_for, Obtained};

impl Engine {
    /// Holding the lease: get a new token by refresh, or by the connector's own grant.
    /// Every write is conditional on `stored.version` and the lease. `refused`: the
    /// provider refused the stored access token (a 401), rather than it having expired.
    pub(super) async fn obtain(
        &self,
        id: i64,
        stored: &StoredTokens,
        refused: bool,
        trigger: Trigger,
    ) -> Result<Obtained> {
        let ctx = self.context(id).await?;
        let o = ctx.oauth2_filled()?;
        let now = self.desk.now();
        let (grant_kind, commit, event) = if stored.refresh_usable_at(now).is_some() {
            ("refresh", TokenCommit::Refresh, "refreshed")
        } else if stored.refresh_token.is_some() {
            return self
                .needs_reauth(
                    id,
                    stored,
                    "the refresh token's RefreshExpires has passed",
                    trigger,
                )
                .await;
        } else {
            match o.grant {
                OAuth2Grant::ClientCredentials => (
                    "client credentials grant",
                    TokenCommit::NewGrant,
                    "authenticated",
                ),
                OAuth2Grant::Password => ("password grant", TokenCommit::NewGrant, "authenticated"),
                OAuth2Grant::JwtBearer => {
                    ("JWT bearer grant", TokenCommit::NewGrant, "authenticated")
                }
                OAuth2Grant::AuthorizationCode | OAuth2Grant::DeviceCode
                    if stored.access_token.is_some() =>
                {
                    let msg = if refused {
                        "the provider refused the access token (HTTP 401) and there is no \
                         refresh token to get a new one"
                    } else {
                        "the access token has expired and there is no refresh token"
                    };
                    return self.needs_reauth(id, stored, msg, trigger).await;
                }
                OAuth2Grant::AuthorizationCode | OAuth2Grant::DeviceCode => {
                    return Err(Error::NeedsSignIn {
                        account_connector_id: id,
                        reason: format!(
                            "the connector uses the {} flow, which needs the user",
                            if o.grant == OAuth2Grant::DeviceCode {
                                "device"
                            } else {
                                "authorization code"
                            }
                        ),
                    });
                }
            }
        };
        let endpoints = ctx.endpoints()?;
        let creds = self
            .db(move |desk| desk.resolve_client_credentials(id))
            .await?;
        test_pause("refresh:before_request").await;
        let result = self
            .token_request(&ctx, &o, &creds, &endpoints, stored, now)
            .await;
        test_pause("refresh:after_response").await;
        let expected_version = stored.version;
        match result {
            Ok(mut tokens) => {
                tokens.captured = captured(&ctx, &tokens, None);
                let committed = self
                    .commit_refreshed(id, &tokens, commit, event, expected_version, trigger)
                    .await?;
                let Some(version) = committed else {
                    self.discard(&ctx, &o, &creds, &endpoints, &tokens, trigger)
                        .await;
                    return Ok(Obtained::Stale);
                };
                test_pause("refresh:after_commit").await;
                tracing::info!(
                    account_connector = id,
                    grant = grant_kind,
                    "obtained a new access token"
                );
                let lifetime = tokens.expires_at.map(|e| e - self.desk.now());
                Ok(Obtained::Token(Token {
                    value: tokens.access_token,
                    version,
                    expires_at: tokens.expires_at,
                    good_until: tokens
                        .expires_at
                        .map(|e| e - margin_for(&self.config, Some(&o), lifetime)),
                }))
            }
            Err(e @ TokenError::InvalidGrant { .. }) => {
                let msg = e.message(grant_kind);
                self.needs_reauth_after(id, stored, &msg, trigger, e.exchange().cloned())
                    .await
            }
            Err(e) => {
                let msg = e.message(grant_kind);
                let (holder, text, hint) = (self.holder.clone(), msg.clone(), e.retry_after());
                let exchange = e.exchange().cloned();
                let recorded = self
                    .db(move |desk| {
                        desk.record_transient_failure(
                            id,
                            &text,
                            hint,
                            Expected {
                                version: expected_version,
                                lease_holder: &holder,
                                trigger,
                            },
                            exchange.as_ref(),
                        )
                    })
                    .await?;
                let Some(retry_after) = recorded else {
                    return Ok(Obtained::Stale);
                };
                tracing::warn!(account_connector = id, "{msg}");
                // The old access token may still be good for a little while.
                if let Some(a) = stored.access_valid_at(self.desk.now()) {
                    return Ok(Obtained::Token(Token::of(a, stored, Duration::zero())));
                }
                Err(match e {
                    TokenError::Rejected { .. } => Error::ProviderRejected(msg),
                    _ => Error::ProviderTransient {
                        message: msg,
                        retry_after: Some(retry_after),
                    },
                })
            }
        }
    }

    /// Commits what a refresh obtained, under the version and lease it read. A commit whose
    /// connection was lost may or may not have landed: it is tried once more (the version
    /// check makes that a no-op if the first landed), and tokens now stored that are these
    /// mean the first one did.
    pub(super) async fn commit_refreshed(
        &self,
        id: i64,
        tokens: &NewTokens,
        commit: TokenCommit,
        event: &'static str,
        expected_version: i64,
        trigger: Trigger,
    ) -> Result<Option<i64>> {
        let attempt = || {
            let (holder, tokens) = (self.holder.clone(), tokens.clone());
            self.db(move |desk| {
                desk.commit_tokens(
                    id,
                    &tokens,
                    commit,
                    event,
                    Some(Expected {
                        version: expected_version,
                        lease_holder: &holder,
                        trigger,
                    }),
                )
            })
        };
        match attempt().await {
            Err(e) if crate::store::lost_connection(&e) => {
                tracing::warn!(
                    account_connector = id,
                    "the commit's connection was lost ({e}); trying it again"
                );
                if let Some(version) = attempt().await? {
                    return Ok(Some(version));
                }
                let ours = tokens.access_token.clone();
                self.db(move |desk| {
                    let now = desk.load_tokens(id)?;
                    Ok((now.access_token.as_ref() == Some(&ours)).then_some(now.version))
                })
                .await
            }
            other => other,
        }
    }

    /// Marks the credential as needing the user (if it is still the one we read).
    pub(super) async fn needs_reauth(
        &self,
        id: i64,
        stored: &StoredTokens,
        msg: &str,
        trigger: Trigger,
    ) -> Result<Obtained> {
        self.needs_reauth_after(id, stored, msg, trigger, None)
            .await
    }

    /// [`Engine::needs_reauth`], with the refused exchange kept in the history.
    async fn needs_reauth_after(
        &self,
        id: i64,
        stored: &StoredTokens,
        msg: &str,
        trigger: Trigger,
        exchange: Option<crate::diagnostics::Exchange>,
    ) -> Result<Obtained> {
        let (holder, text, version) = (self.holder.clone(), msg.to_string(), stored.version);
        let marked = self
            .db(move |desk| {
                desk.mark_needs_reauth(
                    id,
                    &text,
                    Expected {
                        version,
                        lease_holder: &holder,
                        trigger,
                    },
                    exchange.as_ref(),
                )
            })
            .await?;
        if !marked {
            return Ok(Obtained::Stale);
        }
        Err(Error::NeedsReauth {
            account_connector_id: id,
            message: msg.into(),
        })
    }

    /// A refresh lost the race (the user signed in, set an AuthValue, disconnected or
    /// deleted while the provider answered): its tokens are revoked where the provider can,
    /// unless they are the ones now stored (a partner may have set the same refresh token).
    pub(super) async fn discard(
        &self,
        ctx: &Context,
        o: &OAuth2Definition,
        creds: &ClientCredentials,
        endpoints: &Endpoints,
        tokens: &NewTokens,
        trigger: Trigger,
    ) {
        let id = ctx.ac.id;
        let me = self.holder.clone();
        let current = self
            .db(move |desk| match desk.load_tokens(id) {
                Ok(t) => {
                    let ours = desk.lease_holder(id)?.as_deref() == Some(me.as_str());
                    Ok((t.access_token, t.refresh_token, ours))
                }
                // Deleted meanwhile: whatever we got must not stay valid.
                Err(Error::NotFound { .. }) => Ok((None, None, true)),
                Err(e) => Err(e),
            })
            .await;
        if let Ok((_, _, false)) = current {
            // Lost only the lease (it expired and another replica took it over): the winner
            // refreshed the same grant, and revoking our tokens (RFC 7009) may end the whole
            // grant, theirs included. Discarded, not revoked.
            let detail = "another process took over the refresh lease while the provider \
                          answered; this refresh's tokens were discarded (not revoked: that \
                          could end the grant the other refresh is using)";
            tracing::warn!(account_connector = id, "{detail}");
            let _ = self
                .db(move |desk| {
                    desk.note_event(id, "refresh_discarded", Some(detail), Some(trigger));
                    Ok(())
                })
                .await;
            return;
        }
        let mut revoked = vec![];
        if let (Ok((access, refresh, _)), true) = (current, endpoints.revoke.is_some()) {
            let candidates = [
                (tokens.refresh_token.as_ref(), true, refresh),
                (Some(&tokens.access_token), false, access),
            ];
            for (token, is_refresh, now_stored) in candidates {
                let Some(token) = token else { continue };
                if now_stored.as_ref() == Some(token) {
                    continue;
                }
                let client = ctx.client(
                    self,
                    endpoints.revoke.as_deref().unwrap_or_default(),
                    Follow::Never,
                );
                let ok = tokens::revoke(client, o, creds, endpoints, token, is_refresh)
                    .await
                    .is_ok();
                revoked.push(match (is_refresh, ok) {
                    (true, true) => "refresh token revoked",
                    (false, true) => "access token revoked",
                    (true, false) => "refresh token revocation failed",
                    (false, false) => "access token revocation failed",
                });
            }
        }
        let detail = if revoked.is_empty() {
            "the credential changed while the provider answered; its tokens were discarded".into()
        } else {
            format!(
                "the credential changed while the provider answered; its tokens were discarded ({})",
                revoked.join(", ")
            )
        };
        tracing::info!(account_connector = id, "{detail}");
        let _ = self
            .db(move |desk| {
                desk.note_event(id, "refresh_discarded", Some(&detail), Some(trigger));
                Ok(())
            })
            .await;
    }

    pub(super) async fn token_request(
        &self,
        ctx: &Context,
        o: &OAuth2Definition,
        creds: &ClientCredentials,
        endpoints: &Endpoints,
        stored: &StoredTokens,
        now: DateTime<Utc>,
    ) -> std::result::Result<crate::token_store::NewTokens, TokenError> {
        // DPoP-bound tokens: a proof with every token request (refresh included).
        let dpop = self
            .dpop_for(ctx)
            .await
            .map_err(|e| TokenError::Transient {
                message: format!("the DPoP key cannot be read: {e}"),
                retry_after: None,
                exchange: None,
            })?;
        let grant = if let Some(refresh_token) = stored.refresh_token.as_ref() {
            Grant::Refresh { refresh_token }
        } else if o.grant == OAuth2Grant::Password {
            let (Some(user), Some(password)) = (
                ctx.properties.get("Username"),
                ctx.properties.get("Password"),
            ) else {
                return Err(TokenError::configuration(
                    "the password grant needs the properties Username and Password".into(),
                ));
            };
            return tokens::request_tokens(
                ctx.client(self, &endpoints.token, Follow::Never),
                o,
                creds,
                endpoints,
                Grant::Password {
                    username: user.expose(),
                    password,
                },
                now,
                dpop,
            )
            .await;
        } else if o.grant == OAuth2Grant::JwtBearer {
            let claims = super::jwt_bearer::claims_for(ctx, o, creds, endpoints)?;
            let client = ctx.client(self, &endpoints.token, Follow::Never);
            return super::jwt_bearer::request_tokens(
                client, o, creds, endpoints, &claims, now, dpop,
            )
            .await;
        } else {
            Grant::ClientCredentials
        };
        let client = ctx.client(self, &endpoints.token, Follow::Never);
        tokens::request_tokens(client, o, creds, endpoints, grant, now, dpop).await
    }
}
