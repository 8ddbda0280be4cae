//! The authorization code flow (RFC 6749 §4.1) with PKCE S256 (RFC 7636), a single-use
//! `state` bound to the account connector, the RFC 9207 `iss` check, and a binding to the
//! place that started the sign-in (RFC 9700 §4.7): only its hash is stored.
//!
//! The same two calls serve every way of showing the provider's page: an embedded webview
//! whose navigation to the redirect URI is intercepted (any registered redirect URI works,
//! https included), and the system browser with a loopback redirect (RFC 8252).
//!
//! Must not: ask for a token or write for the account connector (spending the `state` aside)
//! before the binding checks out, or show a page or listen on a port (the shells and the
//! loopback listener do).

use base64::Engine as _;
use chrono::{DateTime, Utc};
use oauth2::PkceCodeChallenge;
use serde::Serialize;

use super::tokens::{self, clip, Grant, TokenError};
use super::Engine;
use crate::definition::SignInMode;
use crate::domain::AccountConnector;
use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::token_store::TokenCommit;

/// The end of a sign-in, with where the browser flow wanted the user to go.
#[derive(Debug)]
pub struct SignInOutcome {
    pub web_return: Option<String>,
    pub result: Result<AccountConnector>,
}

/// Announced to [`Engine::sign_in_events`] subscribers when a sign-in ends, wherever its
/// callback arrived (the local API, a loopback listener, a webview): how a shell learns
/// the outcome of a sign-in it started without watching the credential.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SignInFinished {
    /// [`SignInStart::sign_in_id`] of the sign-in that ended.
    pub sign_in_id: String,
    pub account_connector_id: i64,
    pub ok: bool,
    /// "Signed in." or what went wrong.
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SignInStart {
    pub account_connector_id: i64,
    /// Names this sign-in in [`SignInFinished`] (not a secret: a hash of its `state`).
    pub sign_in_id: String,
    /// The provider's authorization URL (holds `state` and the PKCE challenge, no secret).
    pub authorization_url: String,
    pub redirect_uri: String,
    pub expires_at: DateTime<Utc>,
    /// Where this account connector's sign-in runs.
    pub sign_in_mode: SignInMode,
    /// What binds this sign-in to the place that started it (RFC 9700 §4.7): the callback
    /// must present it ([`Engine::complete_sign_in`]). The starter keeps it (the browser
    /// flow in an HttpOnly cookie, the window and the loopback listener in memory); only
    /// its hash is stored. Never serialised: it does not travel to a window or a page.
    #[serde(skip)]
    pub binding: Secret,
}

/// The sign-in id of a `state` ([`SignInStart::sign_in_id`]): a hash, so a listener can name
/// the sign-in a callback belongs to (and find its binding) without storing the `state`.
pub fn sign_in_id_of(state: &str) -> String {
    crate::token_store::state_hash(state)
}

impl Engine {
    /// Every sign-in that ends from now on, in this process. Subscribe before sending the
    /// user to the provider.
    pub fn sign_in_events(&self) -> tokio::sync::broadcast::Receiver<SignInFinished> {
        self.sign_ins.subscribe()
    }

    /// Waits for the end of sign-in `sign_in_id` on `events` (from [`Engine::sign_in_events`]).
    pub async fn wait_for_sign_in(
        events: &mut tokio::sync::broadcast::Receiver<SignInFinished>,
        sign_in_id: &str,
        timeout: std::time::Duration,
    ) -> Option<SignInFinished> {
        let wait = async {
            loop {
                match events.recv().await {
                    Ok(e) if e.sign_in_id == sign_in_id => return Some(e),
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                }
            }
        };
        tokio::time::timeout(timeout, wait).await.ok().flatten()
    }

    /// Starts a sign-in: records the pending request (state hash, sealed verifier, the
    /// exact redirect URI) and returns the URL to show.
    pub async fn begin_sign_in(&self, id: i64, redirect_uri: &str) -> Result<SignInStart> {
        self.begin_sign_in_returning(id, redirect_uri, None).await
    }

    /// Whether the account connector authenticates without its user: an OAuth 2.0 client
    /// credentials or password grant ([`Engine::refresh_now`] gets its tokens).
    pub async fn authenticates_by_itself(&self, id: i64) -> Result<bool> {
        let ctx = self.context(id).await?;
        Ok(ctx.oauth2()?.grant.renews_itself())
    }

    /// [`Engine::begin_sign_in`] for the browser flow: `web_return` (opaque to the engine)
    /// comes back from [`Engine::complete_sign_in_returning`].
    pub async fn begin_sign_in_returning(
        &self,
        id: i64,
        redirect_uri: &str,
        web_return: Option<&str>,
    ) -> Result<SignInStart> {
        let ctx = self.context(id).await?;
        let parsed = url::Url::parse(redirect_uri).map_err(|e| {
            Error::InvalidInput(format!(
                "the redirect URI {redirect_uri:?} is not an absolute URL ({e})"
            ))
        })?;
        if parsed.fragment().is_some() {
            return Err(Error::InvalidInput(
                "a redirect URI must not have a #fragment (RFC 6749 §3.1.2)".into(),
            ));
        }
        let state = Secret::new(oauth2::CsrfToken::new_random_len(32).secret().clone());
        if let crate::definition::AuthDefinition::Oauth1(o1) = ctx.auth() {
            let (url, held) = self.begin_oauth1(&ctx, o1, &parsed, &state).await?;
            return self
                .pending_sign_in(
                    &ctx,
                    state,
                    redirect_uri,
                    Some(held),
                    web_return,
                    url,
                    o1.sign_in,
                )
                .await;
        }
        let mut o = ctx.oauth2_filled()?;
        if ctx.def.mcp.is_some() {
            // What an MCP server asked for in a step-up, asked now that the user signs in.
            let extra = self.db(move |desk| desk.mcp_step_up_scopes(id)).await?;
            for s in extra {
                if !o.scopes.contains(&s) {
                    o.scopes.push(s);
                }
            }
        }
        let o = &o;
        if o.grant.renews_itself() {
            return Err(Error::InvalidInput(format!(
                "connector `{}` uses the {} grant: it authenticates by itself, no sign-in is needed",
                ctx.def.id,
                o.grant.cyclr_name()
            )));
        }
        let endpoints = ctx.endpoints()?;
        let creds = self
            .db(move |desk| desk.resolve_client_credentials(id))
            .await?;
        let (challenge, verifier) = if o.pkce {
            let (c, v) = PkceCodeChallenge::new_random_sha256();
            (Some(c), Some(Secret::new(v.secret().clone())))
        } else {
            (None, None)
        };
        let mut request =
            tokens::authorization_url(o, &creds, &endpoints, redirect_uri, &state, challenge)
                .map_err(Error::InvalidInput)?;
        if o.par {
            let endpoint = endpoints.par.clone().unwrap_or_default();
            let http = ctx.client(self, &endpoint, super::http::Follow::Never);
            request.url =
                super::par::push(http, o, &creds, &endpoints, &request.url, self.desk.now())
                    .await
                    .map_err(|message| Error::Http {
                        what: format!("the pushed authorization request of {}", ctx.def.id),
                        message,
                    })?;
        }
        self.pending_sign_in(
            &ctx,
            state,
            redirect_uri,
            verifier,
            web_return,
            request.url,
            o.sign_in,
        )
        .await
    }

    /// Records a sign-in in progress (its state, what the exchange needs, its binding) and
    /// says where the browser goes.
    #[allow(clippy::too_many_arguments)]
    async fn pending_sign_in(
        &self,
        ctx: &super::Context,
        state: Secret,
        redirect_uri: &str,
        verifier: Option<Secret>,
        web_return: Option<&str>,
        authorization_url: url::Url,
        default_mode: crate::definition::SignInMode,
    ) -> Result<SignInStart> {
        let id = ctx.ac.id;
        let (ttl, redirect, back) = (
            self.config.sign_in_ttl,
            redirect_uri.to_string(),
            web_return.map(str::to_string),
        );
        let sign_in_id = sign_in_id_of(state.expose());
        let binding = Secret::new(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(crate::settings::random_bytes::<32>()),
        );
        let bound = binding.clone();
        let expires_at = self
            .db(move |desk| {
                desk.insert_pending_authorization(
                    id,
                    &state,
                    &redirect,
                    verifier.as_ref(),
                    ttl,
                    back.as_deref(),
                    &bound,
                )
            })
            .await?;
        Ok(SignInStart {
            account_connector_id: id,
            sign_in_id,
            authorization_url: authorization_url.to_string(),
            redirect_uri: redirect_uri.to_string(),
            expires_at,
            sign_in_mode: ctx.ac.sign_in_mode.unwrap_or(default_mode),
            binding,
        })
    }

    /// Keeps `start`'s binding in this process, for a sign-in whose callback arrives at a
    /// listener of this process that the browser never visited first (the desktop's own
    /// local API, for a sign-in in the system browser): such a callback presents no binding
    /// of its own, and this one stands in for it, once.
    pub fn hold_binding(&self, start: &SignInStart) {
        let now = self.desk.now();
        let mut held = self.held_bindings.lock().unwrap_or_else(|p| p.into_inner());
        held.retain(|_, (_, expires)| *expires > now);
        held.insert(
            start.sign_in_id.clone(),
            (start.binding.clone(), start.expires_at),
        );
    }

    /// Completes a sign-in from the URL the provider redirected to, with the binding its
    /// start returned ([`SignInStart::binding`]). A missing, unknown, reused or expired
    /// `state`, or a binding that is not this sign-in's, fails before any token request is
    /// made.
    pub async fn complete_sign_in(
        &self,
        callback_url: &str,
        binding: &Secret,
    ) -> Result<AccountConnector> {
        self.complete_sign_in_returning(callback_url, Some(binding))
            .await
            .result
    }

    /// [`Engine::complete_sign_in`], also giving back the `web_return` of the sign-in it
    /// belonged to (when the state was known and the binding right), so the browser flow
    /// can send the user on. `binding` is what the callback presented (the browser flow's
    /// cookie); `None` uses a binding this process holds ([`Engine::hold_binding`]).
    pub async fn complete_sign_in_returning(
        &self,
        callback_url: &str,
        binding: Option<&Secret>,
    ) -> SignInOutcome {
        // Its own task: a browser that goes away mid-exchange cannot lose the tokens; and
        // counted, so a process asked to stop waits for it (`Engine::settle`).
        let engine = self.clone();
        let callback_url = callback_url.to_string();
        let binding = binding.cloned();
        let counted = super::InFlight::new(self);
        let run = tokio::spawn(async move {
            let _counted = counted;
            let mut web_return = None;
            let mut pending = None;
            let mut result = engine
                .complete(&callback_url, binding, &mut web_return, &mut pending)
                .await;
            // The provider's keys, for verifying its tokens offline; then a connector that
            // names a check request checks the new credential at once.
            if let Ok(ac) = &result {
                let id = ac.id;
                engine.keep_provider_keys(id).await;
                if engine.check_if_named(id).await.is_some() {
                    result = engine.db(move |desk| desk.get_account_connector(id)).await;
                }
            }
            if let Some((sign_in_id, id)) = pending {
                let message = match &result {
                    Ok(ac) => engine.sign_in_message(ac).await,
                    Err(e) => e.to_string(),
                };
                let _ = engine.sign_ins.send(SignInFinished {
                    sign_in_id,
                    account_connector_id: id,
                    ok: result.is_ok(),
                    message,
                });
            }
            SignInOutcome { web_return, result }
        });
        run.await.unwrap_or_else(|e| SignInOutcome {
            web_return: None,
            result: Err(Error::Internal(format!("the sign-in task failed: {e}"))),
        })
    }

    async fn complete(
        &self,
        callback_url: &str,
        binding: Option<Secret>,
        web_return: &mut Option<String>,
        finished: &mut Option<(String, i64)>,
    ) -> Result<AccountConnector> {
        let callback = url::Url::parse(callback_url).map_err(|_| {
            Error::AuthorizationFailed("the callback URL is not a valid URL".into())
        })?;
        let param = |name: &str| {
            callback
                .query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        };
        let state = param("state").ok_or_else(|| {
            Error::AuthorizationFailed(
                "the provider's answer has no `state`; start the sign-in again".into(),
            )
        })?;
        let pending = self
            .db(move |desk| desk.take_pending_authorization(&state))
            .await?
            .ok_or_else(|| {
                Error::AuthorizationFailed(
                    "this sign-in is unknown or was already completed; start it again".into(),
                )
            })?;
        *finished = Some((pending.sign_in_id.clone(), pending.account_connector_id));
        let held = self
            .held_bindings
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&pending.sign_in_id)
            .map(|(binding, _)| binding);
        let presented = binding.or(held);
        let bound = match (&pending.binding_hash, &presented) {
            (Some(expected), Some(b)) => {
                use subtle::ConstantTimeEq;
                bool::from(
                    crate::token_store::state_hash(b.expose())
                        .as_bytes()
                        .ct_eq(expected.as_bytes()),
                )
            }
            _ => false,
        };
        if !bound {
            // Someone else's browser (a provider link handed on), or a sign-in started
            // before bindings existed: nothing is written for the account connector, and
            // the state is spent so the answer cannot be replayed where the binding is.
            return Err(Error::AuthorizationFailed(
                "this sign-in was started in another browser (or window), so its answer is not \
                 accepted here and nothing was changed. Start the sign-in again from the \
                 application, in this browser"
                    .into(),
            ));
        }
        web_return.clone_from(&pending.web_return);
        if pending.expired {
            return Err(Error::AuthorizationFailed(
                "this sign-in took longer than allowed (10 minutes); start it again".into(),
            ));
        }
        let id = pending.account_connector_id;
        let fail = |message: String| self.sign_in_failed(id, message);
        if !same_endpoint(&callback, &pending.redirect_uri) {
            return Err(fail(
                "the answer arrived at another address than the redirect URI the sign-in used"
                    .into(),
            )
            .await);
        }
        if let Some(error) = param("error") {
            let description = param("error_description")
                .map(|d| format!(": {}", clip(&d)))
                .unwrap_or_default();
            return Err(fail(format!(
                "the provider did not grant access ({}{description})",
                clip(&error)
            ))
            .await);
        }
        let ctx = self.context(id).await?;
        if let crate::definition::AuthDefinition::Oauth1(o1) = ctx.auth() {
            let o1 = o1.clone();
            return self.complete_oauth1(&ctx, &o1, &callback, &pending).await;
        }
        let o = ctx.oauth2()?.clone();
        // RFC 9207: when the provider names itself, it must be the issuer we talked to.
        match (param("iss"), ctx.issuer()?) {
            (Some(iss), Some(expected)) if iss != expected => {
                return Err(fail(format!(
                    "the answer came from issuer {} but the connector's issuer is {expected} (possible mix-up attack)",
                    clip(&iss)
                ))
                .await);
            }
            (None, Some(_)) if o.issuer_in_response => {
                return Err(fail(
                    "the provider promises an `iss` parameter (RFC 9207) but the answer has none"
                        .into(),
                )
                .await);
            }
            _ => {}
        }
        let Some(code) = param("code") else {
            return Err(fail("the provider's answer has neither `code` nor `error`".into()).await);
        };
        let creds = self
            .db(move |desk| desk.resolve_client_credentials(id))
            .await?;
        let endpoints = ctx.endpoints()?;
        let grant = Grant::Code {
            code: &code,
            redirect_uri: &pending.redirect_uri,
            pkce_verifier: pending.pkce_verifier.as_ref(),
        };
        let dpop = self.dpop_for(&ctx).await?;
        match tokens::request_tokens(
            ctx.client(self, &endpoints.token, super::http::Follow::Never),
            &o,
            &creds,
            &endpoints,
            grant,
            self.desk.now(),
            dpop,
        )
        .await
        {
            Ok(mut tokens) => {
                super::test_pause("exchange:after_response").await;
                tokens.captured = super::captured(&ctx, &tokens, Some(&callback));
                // The user's new grant wins over whatever is stored (no expected version);
                // the version bump makes any refresh in flight discard its result.
                let ac = self
                    .db(move |desk| {
                        desk.commit_tokens(id, &tokens, TokenCommit::NewGrant, "signed_in", None)?;
                        desk.get_account_connector(id)
                    })
                    .await?;
                // The history says what the grant fell short of, next to the sign-in.
                if let Some(short) = self.grant_shortfall(&ac).await {
                    let _ = self
                        .db(move |desk| {
                            desk.note_event(id, "granted_less", Some(&short), None);
                            Ok(())
                        })
                        .await;
                }
                Ok(ac)
            }
            Err(e) => {
                let transient = matches!(e, TokenError::Transient { .. });
                let failed = self
                    .sign_in_failed_after(id, e.message("code exchange"), e.exchange().cloned())
                    .await;
                // A provider that could not be reached (or failed for now) is not a refusal:
                // the browser flow reports it as `temporarily_unavailable`.
                Err(match failed {
                    Error::AuthorizationFailed(message) if transient => Error::ProviderTransient {
                        message: format!("sign-in failed: {message}"),
                        retry_after: None,
                    },
                    other => other,
                })
            }
        }
    }

    /// What a sign-in got short of what it asked for: scopes the provider did not grant
    /// (when it says which it granted), and no refresh token where only the user can get
    /// a new access token. `None` when it got everything.
    pub async fn grant_shortfall(&self, ac: &AccountConnector) -> Option<String> {
        let ctx = self.context(ac.id).await.ok()?;
        let o = ctx.oauth2_filled().ok()?;
        let mut notes = vec![];
        if let Some(granted) = &ac.scopes {
            let granted = o.split_scopes(granted);
            let missing: Vec<&str> = o
                .scopes
                .iter()
                .map(String::as_str)
                .filter(|s| !granted.contains(s))
                .collect();
            if !missing.is_empty() {
                notes.push(format!(
                    "the provider did not grant the scopes {} (granted: {})",
                    missing.join(", "),
                    if granted.is_empty() {
                        "none".to_string()
                    } else {
                        granted.join(" ")
                    }
                ));
            }
        }
        if !o.grant.renews_itself()
            && !ac
                .secrets_set
                .iter()
                .any(|f| f == crate::service::fields::REFRESH_TOKEN)
        {
            notes.push(
                "it issued no refresh token, so the access token cannot be renewed without \
                 signing in again (ask for offline_access, or the provider's equivalent such \
                 as access_type=offline, in the connector's scopes or authorization parameters)"
                    .to_string(),
            );
        }
        (!notes.is_empty()).then(|| notes.join("; "))
    }

    /// What the window and the browser flow say when a sign-in worked.
    pub async fn sign_in_message(&self, ac: &AccountConnector) -> String {
        match self.grant_shortfall(ac).await {
            Some(short) => format!("Signed in, with less than asked: {short}."),
            None => "Signed in.".into(),
        }
    }

    /// A sign-in whose `state` was presented failed: the failure belongs on the account
    /// connector (status and history), recorded off the async workers.
    pub(super) async fn sign_in_failed(&self, id: i64, message: String) -> Error {
        self.sign_in_failed_after(id, message, None).await
    }

    /// [`Engine::sign_in_failed`], with the failed exchange at the token endpoint kept in
    /// the history.
    pub(super) async fn sign_in_failed_after(
        &self,
        id: i64,
        message: String,
        exchange: Option<crate::diagnostics::Exchange>,
    ) -> Error {
        let recorded = message.clone();
        let _ = self
            .db(move |desk| desk.record_failure(id, "sign_in_failed", &recorded, exchange.as_ref()))
            .await;
        Error::AuthorizationFailed(message)
    }
}

/// Scheme, host, port and path equal (the query carries the answer).
fn same_endpoint(callback: &url::Url, redirect_uri: &str) -> bool {
    url::Url::parse(redirect_uri).is_ok_and(|r| {
        r.scheme() == callback.scheme()
            && r.host_str() == callback.host_str()
            && r.port_or_known_default() == callback.port_or_known_default()
            && r.path() == callback.path()
    })
}
