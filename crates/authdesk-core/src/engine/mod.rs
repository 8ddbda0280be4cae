//! The OAuth engine: getting tokens, keeping them alive, and using them.
//!
//! - [`Engine::begin_sign_in`] / [`Engine::complete_sign_in`]: the authorization code flow
//!   (PKCE S256, single-use `state`, RFC 9207 `iss`), for an intercepted webview redirect
//!   or a loopback redirect alike (`loopback.rs`).
//! - [`Engine::access`]: the auth to apply to a request, refreshing first when the token is
//!   expired or about to be, and authenticating by itself when the AuthValue was `{}` and
//!   the connector can (client credentials, password).
//! - [`Engine::call_method`]: "data on demand", with one forced refresh after a 401.
//!
//! Single flight: at most one refresh per credential at a time. Within a process, tasks
//! queue on a per-credential async mutex; across processes, a lease row in SQLite taken
//! with an IMMEDIATE transaction. Whoever waited re-reads and uses the new token.
//!
//! A refresh runs in a task of its own, holding the mutex and the lease, so a caller that
//! goes away (an HTTP client that disconnects, Ctrl-C in a task) cannot lose a rotated
//! refresh token between the provider's answer and the commit. Its writes are conditional
//! on the credential version it read (`token_store::Expected`): if the user signed in,
//! set an AuthValue, disconnected or deleted meanwhile, the result is discarded and the
//! tokens it got are revoked where the provider can.
//!
//! The refresh margin scales with the token: a token is refreshed when it expires within
//! the definition's `refresh_margin_seconds` (default 60 s), but never earlier than a
//! quarter of its lifetime before expiry, so a provider that issues 10-second tokens gets
//! one refresh every 7.5 seconds at most, not one per call.
//!
//! SQLite and keychain calls made from async code run on tokio's blocking threads
//! ([`Engine::db`]), never on the async workers.

pub mod discovery;
pub mod flow;
pub mod http;
pub mod methods;
pub mod public_hosts;
mod switch;
pub mod tokens;

use std::collections::{BTreeMap, HashMap};
use std::ops::Deref;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::credentials::ClientCredentials;
use crate::definition::{
    template, ApiKeyPlacement, AuthDefinition, CaptureFrom, CaptureSource, ConnectorDefinition,
    Endpoint, OAuth2Definition, OAuth2Grant, SlotKind, SlotValues, TemplateError, UrlTemplate,
};
use crate::domain::{AccountConnector, AuthStatus};
use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::service::{fields, Authdesk};
use crate::store::ChangeMarker;
use crate::token_store::{
    new_lease_holder, CapturedProperty, Expected, LeaseOutcome, NewTokens, StoredTokens,
    TakenTokens, TokenCommit, Trigger,
};
use http::{Follow, HttpClients, HttpConfig};
use tokens::{Endpoints, Grant, TokenError};

#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub http: HttpConfig,
    /// Refresh when the access token expires within this margin.
    pub refresh_margin: Duration,
    /// How long a refresh lease lasts if its holder dies without releasing it (a holder
    /// whose process is gone is detected sooner on Linux).
    pub lease_ttl: Duration,
    /// How long a sign-in may take between the authorization URL and the callback.
    pub sign_in_ttl: Duration,
    /// The keep-alive refreshes a credential not refreshed for this long, so providers
    /// don't retire idle refresh tokens.
    pub idle_refresh_after: Duration,
}

/// The refresh margin when a definition does not set `refresh_margin_seconds`.
pub const DEFAULT_REFRESH_MARGIN_SECONDS: i64 = 60;

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            http: HttpConfig::default(),
            refresh_margin: Duration::seconds(DEFAULT_REFRESH_MARGIN_SECONDS),
            lease_ttl: Duration::seconds(60),
            sign_in_ttl: Duration::minutes(10),
            idle_refresh_after: Duration::days(7),
        }
    }
}

/// The engine. Cheap to clone: clones share one state (a refresh task holds a clone).
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

pub struct Inner {
    desk: Arc<Authdesk>,
    http: HttpClients,
    config: EngineConfig,
    gates: Mutex<HashMap<i64, Arc<tokio::sync::Mutex<()>>>>,
    prepared: Mutex<HashMap<i64, Prepared>>,
    holder: String,
    sign_ins: tokio::sync::broadcast::Sender<flow::SignInFinished>,
    /// Sign-in bindings held for callbacks that arrive at a listener of this process
    /// ([`Engine::hold_binding`]), by sign-in id.
    held_bindings: Mutex<HashMap<String, (Secret, DateTime<Utc>)>>,
    /// Refresh tasks running now (see [`Engine::settle`]).
    in_flight: std::sync::atomic::AtomicUsize,
    idle: tokio::sync::Notify,
}

/// Counts a refresh or code exchange task for [`Engine::settle`] while it lives.
struct InFlight(Engine);

impl InFlight {
    fn new(engine: &Engine) -> InFlight {
        engine
            .in_flight
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        InFlight(engine.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if self
            .0
            .in_flight
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst)
            == 1
        {
            self.0.idle.notify_waiters();
        }
    }
}

impl Deref for Engine {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.inner
    }
}

/// The credential as a caller first saw it, before it waited for the gate or the lease.
#[derive(Clone, Copy)]
struct Seen {
    version: i64,
    at: DateTime<Utc>,
}

/// How many times a refresh may find the credential changed under it before giving up.
const MAX_STALE_ROUNDS: u32 = 3;

/// What a refresh under the lease came to.
enum Obtained {
    Token(Token),
    /// The credential changed while the provider answered: nothing was written.
    Stale,
}

/// A cached context and auth for one account connector (see [`Engine::prepared`]).
struct Prepared {
    marker: ChangeMarker,
    ctx: Arc<Context>,
    auth: AppliedAuth,
    version: Option<i64>,
    good_until: Option<DateTime<Utc>>,
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
    fn of(value: &Secret, stored: &StoredTokens, margin: Duration) -> Token {
        Token {
            value: value.clone(),
            version: stored.version,
            expires_at: stored.expires_at,
            good_until: stored.expires_at.map(|e| e - margin),
        }
    }
}

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

/// An account connector with what the engine needs to act on it.
pub(crate) struct Context {
    pub ac: AccountConnector,
    pub def: Arc<ConnectorDefinition>,
    pub properties: BTreeMap<String, Secret>,
    /// Which of the definition's ways to authenticate it uses ([`AuthMethod::index`]).
    pub method: usize,
    /// The hosts its properties choose ([`Context::property_hosts`]), lower case: requests
    /// to them go through the engine's guarded clients ([`HttpClients::for_url`]).
    pub hosts: std::collections::BTreeSet<String>,
}

impl Context {
    /// The client for a request to `url` ([`HttpClients::for_url`]).
    pub fn client<'e>(&self, engine: &'e Engine, url: &str, follow: Follow) -> &'e reqwest::Client {
        engine.http.for_url(url, &self.hosts, follow)
    }

    /// The hosts this account connector's properties choose: every host of its
    /// definition's URLs (API, methods, its way to authenticate) that a property fills.
    pub fn property_hosts(&self) -> std::collections::BTreeSet<String> {
        let c = &self.def.compiled;
        let mut templates: Vec<&UrlTemplate> = c.api_base.iter().chain(&c.methods).collect();
        if let Some(e) = c.endpoints.get(self.method) {
            templates.extend(
                [&e.authorize, &e.token, &e.revoke, &e.issuer]
                    .into_iter()
                    .flatten(),
            );
        }
        let values = ContextSlots {
            ctx: self,
            params: None,
        };
        templates
            .into_iter()
            .filter_map(|t| t.property_host(&values))
            .filter_map(|h| h.ok())
            .map(|h| h.to_ascii_lowercase())
            .collect()
    }

    /// The way to authenticate this account connector uses.
    pub fn auth(&self) -> &AuthDefinition {
        self.def.auth_definition(self.method)
    }

    pub fn oauth2(&self) -> Result<&OAuth2Definition> {
        match self.auth() {
            AuthDefinition::Oauth2(o) => Ok(o),
            other => Err(Error::InvalidInput(format!(
                "account connector {} of `{}` uses {} authentication, not OAuth2",
                self.ac.id,
                self.def.id,
                other.auth_type().cyclr_name()
            ))),
        }
    }

    /// Builds a URL from one of the definition's templates with this account connector's
    /// properties (and, for a method, its call's parameters), checking every value again.
    pub fn url(
        &self,
        field: &str,
        template: &UrlTemplate,
        params: Option<&serde_json::Map<String, serde_json::Value>>,
    ) -> Result<url::Url> {
        template
            .build(&ContextSlots { ctx: self, params })
            .map_err(|e| self.template_error(field, e))
    }

    fn endpoint(&self, which: Endpoint) -> Result<Option<String>> {
        self.def
            .method_endpoint(self.method, which)
            .map(|t| {
                t.render(&ContextSlots {
                    ctx: self,
                    params: None,
                })
                .map_err(|e| self.template_error(which.field(), e))
            })
            .transpose()
    }

    /// Fills `{Property}` placeholders of a header value.
    pub fn header_value(&self, field: &str, text: &str) -> Result<String> {
        template::fill_text(text, |name| {
            self.properties.get(name).map(|v| v.expose().to_string())
        })
        .map_err(|e| self.template_error(field, e))
    }

    fn template_error(&self, field: &str, e: TemplateError) -> Error {
        let (id, slug) = (self.ac.id, &self.def.id);
        match e {
            TemplateError::Missing { slot } => Error::MissingProperty {
                account_connector_id: id,
                connector: slug.clone(),
                field: field.to_string(),
                property: slot,
            },
            TemplateError::BadValue { slot, problem } => {
                let message = if self.def.property(&slot).is_some() {
                    self.def.property_problem(&slot, &problem)
                } else {
                    format!("`{slot}` {problem}")
                };
                Error::InvalidInput(format!(
                    "cannot build {field} of account connector {id}: {message}; nothing was sent"
                ))
            }
            TemplateError::Template(m) => Error::InvalidInput(format!(
                "connector `{slug}`: {field}: {m}; nothing was sent"
            )),
        }
    }

    pub fn endpoints(&self) -> Result<Endpoints> {
        self.oauth2()?;
        Ok(Endpoints {
            authorize: self.endpoint(Endpoint::Authorize)?,
            token: self
                .endpoint(Endpoint::Token)?
                .ok_or_else(|| Error::InvalidInput("the connector has no token_url".into()))?,
            revoke: self.endpoint(Endpoint::Revoke)?,
        })
    }

    /// The issuer the provider must name in `iss` (RFC 9207), placeholders filled.
    pub fn issuer(&self) -> Result<Option<String>> {
        self.endpoint(Endpoint::Issuer)
    }
}

/// Slot values for a template: method parameters (never for a host), then properties.
struct ContextSlots<'a> {
    ctx: &'a Context,
    params: Option<&'a serde_json::Map<String, serde_json::Value>>,
}

impl SlotValues for ContextSlots<'_> {
    fn value(&self, name: &str, kind: SlotKind) -> Option<String> {
        if !kind.is_host() {
            if let Some(v) = self.params.and_then(|p| p.get(name)) {
                return Some(methods::scalar(v));
            }
        }
        self.ctx
            .properties
            .get(name)
            .map(|v| v.expose().to_string())
    }

    fn check(&self, name: &str, value: &str) -> std::result::Result<(), String> {
        self.ctx.def.check_constraints(name, value)
    }
}

/// What the keep-alive did for one credential.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeepAliveOutcome {
    pub account_connector_id: i64,
    pub reason: &'static str,
    pub result: std::result::Result<(), String>,
}

/// The outcome of revoking a credential at the provider before it is removed here.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RevocationReport {
    /// Whether the connector has a revocation endpoint and there was something to revoke.
    pub attempted: bool,
    pub revoked: Vec<String>,
    pub errors: Vec<String>,
}

impl Engine {
    pub fn new(desk: Arc<Authdesk>, config: EngineConfig) -> Result<Engine> {
        let http = HttpClients::new(&config.http)?;
        let (sign_ins, _) = tokio::sync::broadcast::channel(64);
        Ok(Engine {
            inner: Arc::new(Inner {
                desk,
                http,
                config,
                gates: Mutex::new(HashMap::new()),
                prepared: Mutex::new(HashMap::new()),
                holder: new_lease_holder(),
                sign_ins,
                held_bindings: Mutex::new(HashMap::new()),
                in_flight: Default::default(),
                idle: tokio::sync::Notify::new(),
            }),
        })
    }

    pub fn desk(&self) -> &Arc<Authdesk> {
        &self.desk
    }

    /// Waits (up to `timeout`) until no refresh or code exchange is in flight in this
    /// process, so a shell that is asked to stop (Ctrl-C, SIGTERM) lets it commit what the
    /// provider answered.
    /// `true` when nothing is left in flight.
    pub async fn settle(&self, timeout: std::time::Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.idle.notified();
            if self.in_flight.load(std::sync::atomic::Ordering::SeqCst) == 0 {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.in_flight.load(std::sync::atomic::Ordering::SeqCst) == 0;
            }
        }
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Runs a store or keychain call on tokio's blocking threads, off the async workers.
    pub async fn db<T, F>(&self, f: F) -> Result<T>
    where
        F: FnOnce(&Authdesk) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let desk = self.desk.clone();
        tokio::task::spawn_blocking(move || f(&desk))
            .await
            .map_err(|e| Error::Internal(format!("a database task failed: {e}")))?
    }

    pub(crate) async fn context(&self, id: i64) -> Result<Context> {
        let ctx = self.db(move |desk| context_of(desk, id)).await?;
        self.check_property_hosts(&ctx).await?;
        Ok(ctx)
    }

    /// A host that a property chooses must be public where it resolves too, not only in
    /// its spelling: `api.example.com` pointed at 127.0.0.1 or 169.254.169.254 (cloud
    /// metadata) would otherwise receive the connector's token. Checked whenever the
    /// context is built (any change to the data directory rebuilds it); a name that does
    /// not resolve is left to the request, which will fail.
    async fn check_property_hosts(&self, ctx: &Context) -> Result<()> {
        for host in &ctx.hosts {
            let addresses = public_hosts::addresses_of(&self.config.http.lookup(), host)
                .await
                .unwrap_or_default();
            if let Some(ip) = addresses
                .into_iter()
                .find(|ip| !public_hosts::is_public_address(*ip))
            {
                return Err(Error::InvalidInput(format!(
                    "the host {host}, chosen by a property of account connector {}, resolves to \
                     {ip}: an address on this machine or a private network, where Authdesk does \
                     not send a connector's credentials. Set the property to the provider's \
                     public host name",
                    ctx.ac.id
                )));
            }
        }
        Ok(())
    }

    fn gate(&self, id: i64) -> Arc<tokio::sync::Mutex<()>> {
        let mut gates = self.gates.lock().unwrap_or_else(|p| p.into_inner());
        gates.entry(id).or_default().clone()
    }

    /// The refresh margin for a token: the definition's (or the engine's default), but
    /// never more than a quarter of the token's lifetime.
    pub fn refresh_margin(&self, oauth2: Option<&OAuth2Definition>, t: &StoredTokens) -> Duration {
        margin_for(&self.config, oauth2, t.lifetime())
    }

    /// The auth to apply to a request on account connector `id`, and the credential
    /// version it came from (for a forced refresh after a 401).
    pub async fn access(&self, id: i64) -> Result<(AppliedAuth, Option<i64>)> {
        let ctx = self.context(id).await?;
        let (auth, version, _) = self.access_with(&ctx).await?;
        Ok((auth, version))
    }

    /// The account connector's context, from a per-process cache that any commit to the
    /// data directory (by this or another process) invalidates; for a caller limited to
    /// `account` (`None`: the owner),
    /// an account connector of another account, or none at all, is "not found in this
    /// account", in the same words either way, before its context is built (so no lookup
    /// of its hosts is made and no problem of its properties is told).
    pub(crate) async fn cached_context_in(
        &self,
        account: Option<&str>,
        id: i64,
    ) -> Result<(Arc<Context>, ChangeMarker)> {
        let not_here = || Error::NotFound {
            what: "account connector",
            id: id.to_string(),
            hint: " in this account".into(),
        };
        let mine = |ctx: &Context| account.is_none_or(|a| a == ctx.ac.account_id);
        let marker = self.db(|desk| desk.change_marker()).await?;
        let cached = {
            let cache = self.prepared.lock().unwrap_or_else(|p| p.into_inner());
            cache
                .get(&id)
                .filter(|p| p.marker == marker)
                .map(|p| p.ctx.clone())
        };
        if let Some(ctx) = cached {
            return if mine(&ctx) {
                Ok((ctx, marker))
            } else {
                Err(not_here())
            };
        }
        if let Some(account) = account {
            match self
                .db(move |desk| desk.account_connector_account(id))
                .await
            {
                Ok(owner) if owner == account => {}
                Ok(_) | Err(Error::NotFound { .. }) => return Err(not_here()),
                Err(e) => return Err(e),
            }
        }
        let ctx = self.context(id).await?;
        if !mine(&ctx) {
            return Err(not_here());
        }
        Ok((Arc::new(ctx), marker))
    }

    /// Context and auth for a request, from the same cache, so a hot path does no queries
    /// and no decryption.
    pub(crate) async fn prepared(
        &self,
        id: i64,
        ctx: Arc<Context>,
        marker: ChangeMarker,
    ) -> Result<(AppliedAuth, Option<i64>)> {
        let now = self.desk.now();
        {
            let cache = self.prepared.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(p) = cache.get(&id) {
                if p.marker == marker && p.good_until.is_none_or(|g| g > now) {
                    return Ok((p.auth.clone(), p.version));
                }
            }
        }
        let (auth, version, good_until) = self.access_with(&ctx).await?;
        // Tagged with the marker from *before* reading: anything committed since makes the
        // entry stale (our own refresh included), never the other way round.
        let entry = Prepared {
            marker,
            ctx,
            auth: auth.clone(),
            version,
            good_until,
        };
        self.prepared
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, entry);
        Ok((auth, version))
    }

    pub(crate) fn forget_prepared(&self, id: i64) {
        self.prepared
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
    }

    /// The auth, the credential version and until when (margin included) it may be used
    /// without looking again.
    async fn access_with(
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
    async fn refresh_if_still_due(
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

    async fn refresh_for(&self, id: i64, trigger: Trigger) -> Result<AccountConnector> {
        self.context(id).await?.oauth2()?;
        let version = self.db(move |desk| desk.load_tokens(id)).await?.version;
        self.ensure_token_for(id, Some(version), trigger).await?;
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

    async fn ensure_token_for(
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

    async fn ensure_token_locked(
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
    fn renew_while_in_flight(&self, id: i64) -> tokio::task::JoinHandle<()> {
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

    /// Holding the lease: get a new token by refresh, or by the connector's own grant.
    /// Every write is conditional on `stored.version` and the lease. `refused`: the
    /// provider refused the stored access token (a 401), rather than it having expired.
    async fn obtain(
        &self,
        id: i64,
        stored: &StoredTokens,
        refused: bool,
        trigger: Trigger,
    ) -> Result<Obtained> {
        let ctx = self.context(id).await?;
        let o = ctx.oauth2()?.clone();
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
                OAuth2Grant::AuthorizationCode if stored.access_token.is_some() => {
                    let msg = if refused {
                        "the provider refused the access token (HTTP 401) and there is no \
                         refresh token to get a new one"
                    } else {
                        "the access token has expired and there is no refresh token"
                    };
                    return self.needs_reauth(id, stored, msg, trigger).await;
                }
                OAuth2Grant::AuthorizationCode => {
                    return Err(Error::NeedsSignIn {
                        account_connector_id: id,
                        reason:
                            "the connector uses the authorization code flow, which needs the user"
                                .into(),
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
            Err(TokenError::InvalidGrant { description }) => {
                let msg = TokenError::InvalidGrant { description }.message(grant_kind);
                self.needs_reauth(id, stored, &msg, trigger).await
            }
            Err(e) => {
                let msg = e.message(grant_kind);
                let (holder, text, hint) = (self.holder.clone(), msg.clone(), e.retry_after());
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
    async fn commit_refreshed(
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
    async fn needs_reauth(
        &self,
        id: i64,
        stored: &StoredTokens,
        msg: &str,
        trigger: Trigger,
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
    async fn discard(
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

    async fn token_request(
        &self,
        ctx: &Context,
        o: &OAuth2Definition,
        creds: &ClientCredentials,
        endpoints: &Endpoints,
        stored: &StoredTokens,
        now: DateTime<Utc>,
    ) -> std::result::Result<crate::token_store::NewTokens, TokenError> {
        let grant = if let Some(refresh_token) = stored.refresh_token.as_ref() {
            Grant::Refresh { refresh_token }
        } else if o.grant == OAuth2Grant::Password {
            let (Some(user), Some(password)) = (
                ctx.properties.get("Username"),
                ctx.properties.get("Password"),
            ) else {
                return Err(TokenError::Rejected {
                    error: "configuration".into(),
                    description: Some(
                        "the password grant needs the properties Username and Password".into(),
                    ),
                });
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
            )
            .await;
        } else {
            Grant::ClientCredentials
        };
        let client = ctx.client(self, &endpoints.token, Follow::Never);
        tokens::request_tokens(client, o, creds, endpoints, grant, now).await
    }

    /// Refreshes credentials that expire soon and exercises idle refresh tokens.
    pub async fn keep_alive_once(&self) -> Result<Vec<KeepAliveOutcome>> {
        let now = self.desk.now();
        // The widest window (a long-lived token's); each credential's own is narrower when
        // its token lives shorter (see `keep_alive_window`).
        let soon = now + keep_alive_window(&self.config, None);
        let idle_before = now - self.config.idle_refresh_after;
        let mut outcomes = vec![];
        for (id, expires, last) in self
            .db(move |desk| desk.oauth_credentials_to_watch(soon, idle_before))
            .await?
        {
            let reason = if expires.is_some_and(|e| e <= soon) {
                "expires soon"
            } else if last.is_none_or(|l| l + self.config.idle_refresh_after <= now) {
                "idle refresh token"
            } else {
                continue;
            };
            let result = match self.refresh_if_still_due(id, now, idle_before).await {
                Ok(false) => continue, // another replica or process got there first
                Ok(true) => Ok(()),
                Err(e) => Err(e.to_string()),
            };
            outcomes.push(KeepAliveOutcome {
                account_connector_id: id,
                reason,
                result,
            });
        }
        Ok(outcomes)
    }

    /// Runs [`Engine::keep_alive_once`] every `every`, logging what fails. For servers and
    /// the desktop app (spawn it on the runtime).
    pub async fn keep_alive_forever(&self, every: std::time::Duration) {
        loop {
            tokio::time::sleep(every).await;
            match self.keep_alive_once().await {
                Ok(done) => {
                    for o in &done {
                        match &o.result {
                            Ok(()) => tracing::info!(
                                account_connector = o.account_connector_id,
                                reason = o.reason,
                                "keep-alive refreshed"
                            ),
                            Err(e) => tracing::warn!(
                                account_connector = o.account_connector_id,
                                reason = o.reason,
                                "keep-alive failed: {e}"
                            ),
                        }
                    }
                }
                Err(e) => tracing::warn!("keep-alive could not run: {e}"),
            }
        }
    }

    /// What revoking an account connector's tokens needs, read while it still exists.
    async fn revoker(&self, id: i64) -> Result<Option<Revoker>> {
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
    async fn revoke_taken(&self, revoker: Option<Revoker>, taken: TakenTokens) -> RevocationReport {
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
    async fn note_revocation_failure(&self, id: i64, report: &RevocationReport) {
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

/// What revoking needs for one account connector.
struct Revoker {
    o: OAuth2Definition,
    setup: Result<(ClientCredentials, Endpoints)>,
    /// The account connector's property-chosen hosts ([`Context::hosts`]).
    hosts: std::collections::BTreeSet<String>,
}

/// How long before its expiry the keep-alive refreshes a token: the refresh margin plus
/// five minutes (a pass may be that far away), but at most half the token's lifetime, so a
/// short-lived token is used for half its life rather than refreshed on every pass.
fn keep_alive_window(config: &EngineConfig, lifetime: Option<Duration>) -> Duration {
    let window = config.refresh_margin + Duration::minutes(5);
    match lifetime {
        Some(l) if l > Duration::zero() => window.min(l / 2),
        _ => window,
    }
}

/// The margin for a token of `lifetime` under a definition (engine config's default).
fn margin_for(
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

/// An account connector with its properties opened (blocking: runs under [`Engine::db`]).
fn context_of(desk: &Authdesk, id: i64) -> Result<Context> {
    let (ac, def) = desk.account_connector_with_definition(id)?;
    let mut properties = BTreeMap::new();
    for p in &ac.properties {
        if let Some(v) = desk.property_value(id, &p.name)? {
            properties.insert(p.name.clone(), v);
        }
    }
    let method = def
        .auth_method(Some(&ac.authentication.method_id))
        .map_or(0, |m| m.index);
    let mut ctx = Context {
        ac,
        def,
        properties,
        method,
        hosts: Default::default(),
    };
    ctx.hosts = ctx.property_hosts();
    Ok(ctx)
}

/// The account connector properties the definition captures from the provider's answers
/// (`capture`), to be stored in the same transaction as the tokens.
pub(crate) fn captured(
    ctx: &Context,
    tokens: &NewTokens,
    callback: Option<&url::Url>,
) -> Vec<CapturedProperty> {
    let Ok(o) = ctx.oauth2() else {
        return vec![];
    };
    o.capture
        .iter()
        .filter_map(|(name, source)| {
            let source = CaptureSource::parse(source).ok()?;
            let raw = match source.from {
                CaptureFrom::TokenResponse => tokens
                    .response_fields
                    .get(&source.field)?
                    .expose()
                    .to_string(),
                CaptureFrom::Callback => callback?
                    .query_pairs()
                    .find(|(k, _)| k == source.field.as_str())?
                    .1
                    .into_owned(),
            };
            let value = source
                .value_of(&raw)
                .filter(|v| v.len() <= 4096 && !v.chars().any(char::is_control))?;
            // A provider's answer is input like any other: a captured host must be a host
            // the definition allows, or it could steer later requests elsewhere.
            let value = match ctx.def.check_property_value(name, &value) {
                Ok(v) => v,
                Err(problem) => {
                    tracing::warn!(
                        account_connector = ctx.ac.id,
                        "not capturing from the provider's answer: {problem}"
                    );
                    return None;
                }
            };
            Some(CapturedProperty {
                name: name.clone(),
                value: Secret::new(value),
                secret: ctx.def.is_secret_property(name),
            })
        })
        .collect()
}

/// Test hook: `AUTHDESK_TEST_PAUSE_AT=<point>` makes the process announce the point on
/// stderr and wait there (up to two minutes, or until the file named by
/// `AUTHDESK_TEST_RESUME_FILE` exists), so a test can kill the process there or act while
/// it waits. It only waits; it cannot change what is stored.
async fn test_pause(point: &str) {
    if !std::env::var("AUTHDESK_TEST_PAUSE_AT").is_ok_and(|p| p == point) {
        return;
    }
    eprintln!("authdesk: test pause at {point}");
    let resume = std::env::var_os("AUTHDESK_TEST_RESUME_FILE").map(std::path::PathBuf::from);
    let until = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while std::time::Instant::now() < until {
        if resume.as_ref().is_some_and(|f| f.exists()) {
            eprintln!("authdesk: test resume at {point}");
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
