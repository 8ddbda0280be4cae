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
//! queue on a per-credential async mutex; across processes and replicas, on a lease row in
//! the store (SQLite or PostgreSQL), taken in a write transaction and renewed while the
//! refresh is in flight. Whoever waited re-reads and uses the new token.
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
//! Store and keychain calls made from async code run on tokio's blocking threads
//! ([`Engine::db`]), never on the async workers.
//!
//! Rooms, one idea each (this file holds only the engine itself: its configuration, its
//! shared state, `db`, `settle`):
//! - `context`: an account connector as the engine sees it, URLs from templates, the
//!   property-chosen hosts and their check, the cache of contexts, ownership first;
//! - `access`: the auth to put on a request, per way to authenticate;
//! - `refresh`: single flight (gate, lease, renewal) and when to refresh;
//! - `obtain`: under the lease, the token request and the versioned commit;
//! - `keep_alive`: refreshing what is due and what sat idle;
//! - `revocation`: disconnect and delete, revoking at the provider;
//! - `switch`: changing the way to authenticate (revoking what it forgets);
//! - `flow`: sign-in (authorization code, PKCE, binding); `methods`: method calls;
//!   `tokens`: token endpoint requests and failure classes; `http`: the clients;
//!   `public_hosts`: the public-address rule and its resolver; `discovery`: RFC 8414/OIDC.
//!
//! Must not: hold a room's work (a new idea gets a room of its own), or make a store or
//! keychain call on the async workers (only through [`Engine::db`]).

pub mod check;
pub mod client_auth;
pub mod device;
pub mod discovery;
pub mod dpop;
pub mod flow;
pub mod http;
pub mod mcp;
pub mod methods;
pub mod public_hosts;
pub mod request;
mod switch;
pub mod tokens;

mod access;
mod context;
mod extension_grant;
mod jwt_bearer;
mod keep_alive;
mod oauth1;
mod obtain;
mod par;
mod provider_keys;
mod refresh;
mod revocation;
pub mod webhooks;

pub use access::AppliedAuth;
pub(crate) use context::{captured, Context};
use context::{context_of, Prepared};
use keep_alive::keep_alive_window;
pub use keep_alive::KeepAliveOutcome;
pub use refresh::{refresh_margin, Token};
pub use revocation::{RemovalPreview, RevocationReport};

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
    /// The first webhook retry waits this long; each next one twice as long (at most an
    /// hour), for 24 hours. `AUTHDESK_WEBHOOK_RETRY_MS` sets it for a process.
    pub webhook_retry_base: Duration,
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
            webhook_retry_base: std::env::var("AUTHDESK_WEBHOOK_RETRY_MS")
                .ok()
                .and_then(|v| v.parse::<i64>().ok())
                .filter(|ms| *ms > 0)
                .map(Duration::milliseconds)
                .unwrap_or(Duration::seconds(10)),
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
    /// DPoP keys, nonces and `"auto"` answers.
    dpop: dpop::DpopState,
    /// Sessions with remote MCP servers, by account connector.
    mcp_sessions: Mutex<HashMap<i64, mcp::Session>>,
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
                dpop: Default::default(),
                mcp_sessions: Mutex::new(HashMap::new()),
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
