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

pub mod discovery;
pub mod flow;
pub mod http;
pub mod loopback;
pub mod methods;
pub mod tokens;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::credentials::ClientCredentials;
use crate::definition::{
    placeholders, ApiKeyPlacement, AuthDefinition, CaptureFrom, CaptureSource, ConnectorDefinition,
    OAuth2Definition, OAuth2Grant,
};
use crate::domain::{AccountConnector, AuthStatus};
use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::service::{fields, Authdesk};
use crate::store::ChangeMarker;
use crate::token_store::{
    new_lease_holder, CapturedProperty, LeaseOutcome, NewTokens, StoredTokens, TokenCommit,
};
use http::{HttpClients, HttpConfig};
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

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            http: HttpConfig::default(),
            refresh_margin: Duration::seconds(60),
            lease_ttl: Duration::seconds(60),
            sign_in_ttl: Duration::minutes(10),
            idle_refresh_after: Duration::days(7),
        }
    }
}

pub struct Engine {
    desk: Arc<Authdesk>,
    http: HttpClients,
    config: EngineConfig,
    gates: Mutex<HashMap<i64, Arc<tokio::sync::Mutex<()>>>>,
    prepared: Mutex<HashMap<i64, Prepared>>,
    holder: String,
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
}

impl Token {
    fn of(value: &Secret, stored: &StoredTokens) -> Token {
        Token {
            value: value.clone(),
            version: stored.version,
            expires_at: stored.expires_at,
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
}

impl Context {
    pub fn oauth2(&self) -> Result<&OAuth2Definition> {
        self.def.oauth2().ok_or_else(|| {
            Error::InvalidInput(format!(
                "connector `{}` uses {} authentication, not OAuth2",
                self.def.id,
                self.def.auth_type().cyclr_name()
            ))
        })
    }

    /// Fills `{Property}` placeholders.
    pub fn render(&self, field: &str, template: &str) -> Result<String> {
        let mut out = template.to_string();
        for name in placeholders(template).map_err(Error::InvalidInput)? {
            let value = self.properties.get(&name).ok_or_else(|| {
                Error::InvalidInput(format!(
                    "{field} of connector `{}` needs the property `{name}`: set it with \
                     `authdesk account-connectors set-property {} {name} VALUE`",
                    self.def.id, self.ac.id
                ))
            })?;
            out = out.replace(&format!("{{{name}}}"), value.expose());
        }
        Ok(out)
    }

    pub fn endpoints(&self) -> Result<Endpoints> {
        let o = self.oauth2()?;
        Ok(Endpoints {
            authorize: o
                .authorize_url
                .as_deref()
                .map(|u| self.render("authorize_url", u))
                .transpose()?,
            token: self.render("token_url", &o.token_url)?,
            revoke: o
                .revoke_url
                .as_deref()
                .map(|u| self.render("revoke_url", u))
                .transpose()?,
        })
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
        Ok(Engine {
            desk,
            http,
            config,
            gates: Mutex::new(HashMap::new()),
            prepared: Mutex::new(HashMap::new()),
            holder: new_lease_holder(),
        })
    }

    pub fn desk(&self) -> &Arc<Authdesk> {
        &self.desk
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    pub(crate) fn context(&self, id: i64) -> Result<Context> {
        let (ac, def) = self.desk.account_connector_with_definition(id)?;
        let mut properties = BTreeMap::new();
        for p in &ac.properties {
            if let Some(v) = self.desk.property_value(id, &p.name)? {
                properties.insert(p.name.clone(), v);
            }
        }
        Ok(Context {
            ac,
            def,
            properties,
        })
    }

    fn gate(&self, id: i64) -> Arc<tokio::sync::Mutex<()>> {
        let mut gates = self.gates.lock().unwrap_or_else(|p| p.into_inner());
        gates.entry(id).or_default().clone()
    }

    /// The auth to apply to a request on account connector `id`, and the credential
    /// version it came from (for a forced refresh after a 401).
    pub async fn access(&self, id: i64) -> Result<(AppliedAuth, Option<i64>)> {
        let ctx = self.context(id)?;
        let (auth, version, _) = self.access_with(&ctx).await?;
        Ok((auth, version))
    }

    /// Context and auth for a request, from a per-process cache that any commit to the data
    /// directory (by this or another process) invalidates, so a hot path does no queries
    /// and no decryption.
    pub(crate) async fn prepared(
        &self,
        id: i64,
    ) -> Result<(Arc<Context>, AppliedAuth, Option<i64>)> {
        let marker = self.desk.change_marker()?;
        let soon = self.desk.now() + self.config.refresh_margin;
        {
            let cache = self.prepared.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(p) = cache.get(&id) {
                if p.marker == marker && p.good_until.is_none_or(|g| g > soon) {
                    return Ok((p.ctx.clone(), p.auth.clone(), p.version));
                }
            }
        }
        let ctx = Arc::new(self.context(id)?);
        let (auth, version, good_until) = self.access_with(&ctx).await?;
        // Tagged with the marker from *before* reading: anything committed since makes the
        // entry stale (our own refresh included), never the other way round.
        let entry = Prepared {
            marker,
            ctx: ctx.clone(),
            auth: auth.clone(),
            version,
            good_until,
        };
        self.prepared
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, entry);
        Ok((ctx, auth, version))
    }

    pub(crate) fn forget_prepared(&self, id: i64) {
        self.prepared
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
    }

    async fn access_with(
        &self,
        ctx: &Context,
    ) -> Result<(AppliedAuth, Option<i64>, Option<DateTime<Utc>>)> {
        let id = ctx.ac.id;
        match &ctx.def.auth {
            AuthDefinition::None {} => Ok((AppliedAuth::None, None, None)),
            AuthDefinition::ApiKey(k) => {
                let key = self
                    .desk
                    .credential_secret(id, fields::API_KEY)?
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
                let joined = self.desk.credential_secret(id, fields::BASIC)?.ok_or_else(|| Error::NeedsSignIn {
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
                    token.expires_at,
                ))
            }
        }
    }

    /// Refreshes now (or re-authenticates with client credentials / password), even if the
    /// access token is still valid — unless someone else refreshed meanwhile.
    pub async fn refresh_now(&self, id: i64) -> Result<AccountConnector> {
        self.context(id)?.oauth2()?;
        let version = self.desk.load_tokens(id)?.version;
        self.ensure_token(id, Some(version)).await?;
        self.forget_prepared(id);
        self.desk.get_account_connector(id)
    }

    /// A usable access token. With `stale_version`, the token of that version is not good
    /// enough (the provider refused it): a newer one is obtained or awaited.
    pub async fn ensure_token(&self, id: i64, stale_version: Option<i64>) -> Result<Token> {
        let margin = self.config.refresh_margin;
        if stale_version.is_none() {
            let t = self.desk.load_tokens(id)?;
            if t.status == AuthStatus::Authenticated {
                if let Some(a) = t.access_valid_at(self.desk.now() + margin) {
                    return Ok(Token::of(a, &t));
                }
            }
        }
        let gate = self.gate(id);
        let _in_process = gate.lock().await;
        let stored = loop {
            let t = self.desk.load_tokens(id)?;
            let now = self.desk.now();
            if t.status == AuthStatus::NeedsReauth {
                let ac = self.desk.get_account_connector(id)?;
                return Err(Error::NeedsReauth {
                    account_connector_id: id,
                    message: ac.last_error.unwrap_or_else(|| {
                        "the provider no longer accepts the stored grant".into()
                    }),
                });
            }
            let newer = stale_version.is_none_or(|v| t.version != v);
            if newer {
                let wanted = if stale_version.is_some() {
                    now
                } else {
                    now + margin
                };
                if let Some(a) = t.access_valid_at(wanted) {
                    return Ok(Token::of(a, &t));
                }
            }
            if let Some(retry) = t.retry_after.filter(|r| *r > now) {
                if let (true, Some(a)) = (newer, t.access_valid_at(now)) {
                    return Ok(Token::of(a, &t));
                }
                let ac = self.desk.get_account_connector(id)?;
                return Err(Error::ProviderTransient {
                    message: ac
                        .last_error
                        .unwrap_or_else(|| "the provider failed recently".into()),
                    retry_after: Some(retry),
                });
            }
            match self
                .desk
                .try_acquire_lease(id, &self.holder, self.config.lease_ttl, t.version)?
            {
                LeaseOutcome::Acquired => break t,
                // Someone else refreshed between our read and the lease: look again.
                LeaseOutcome::Changed => continue,
                LeaseOutcome::HeldByOther => {
                    tokio::time::sleep(std::time::Duration::from_millis(25)).await
                }
            }
        };
        let result = self.obtain(id, &stored).await;
        if result.is_err() {
            // Every failure path below releases in its own transaction; make sure.
            let _ = self.desk.release_lease(id, &self.holder);
        }
        result
    }

    /// Holding the lease: get a new token by refresh, or by the connector's own grant.
    async fn obtain(&self, id: i64, stored: &StoredTokens) -> Result<Token> {
        let ctx = self.context(id)?;
        let o = ctx.oauth2()?.clone();
        let now = self.desk.now();
        let (grant_kind, commit, event) = if stored.refresh_usable_at(now).is_some() {
            ("refresh", TokenCommit::Refresh, "refreshed")
        } else if stored.refresh_token.is_some() {
            let msg = "the refresh token's RefreshExpires has passed";
            self.desk.mark_needs_reauth(id, msg, Some(&self.holder))?;
            return Err(Error::NeedsReauth {
                account_connector_id: id,
                message: msg.into(),
            });
        } else {
            match o.grant {
                OAuth2Grant::ClientCredentials => (
                    "client credentials grant",
                    TokenCommit::NewGrant,
                    "authenticated",
                ),
                OAuth2Grant::Password => ("password grant", TokenCommit::NewGrant, "authenticated"),
                OAuth2Grant::AuthorizationCode if stored.access_token.is_some() => {
                    let msg = "the access token has expired and there is no refresh token";
                    self.desk.mark_needs_reauth(id, msg, Some(&self.holder))?;
                    return Err(Error::NeedsReauth {
                        account_connector_id: id,
                        message: msg.into(),
                    });
                }
                OAuth2Grant::AuthorizationCode => {
                    self.desk.release_lease(id, &self.holder)?;
                    return Err(Error::NeedsSignIn {
                        account_connector_id: id,
                        reason:
                            "the connector uses the authorization code flow, which needs the user"
                                .into(),
                    });
                }
            }
        };
        let creds = self.desk.resolve_client_credentials(id)?;
        let endpoints = ctx.endpoints()?;
        test_pause("refresh:before_request");
        let result = self
            .token_request(&ctx, &o, &creds, &endpoints, stored, now)
            .await;
        test_pause("refresh:after_response");
        match result {
            Ok(mut tokens) => {
                tokens.captured = captured(&ctx, &tokens, None);
                let version =
                    self.desk
                        .commit_tokens(id, &tokens, commit, event, Some(&self.holder))?;
                test_pause("refresh:after_commit");
                tracing::info!(
                    account_connector = id,
                    grant = grant_kind,
                    "obtained a new access token"
                );
                Ok(Token {
                    value: tokens.access_token,
                    version,
                    expires_at: tokens.expires_at,
                })
            }
            Err(TokenError::InvalidGrant { description }) => {
                let msg = TokenError::InvalidGrant { description }.message(grant_kind);
                self.desk.mark_needs_reauth(id, &msg, Some(&self.holder))?;
                Err(Error::NeedsReauth {
                    account_connector_id: id,
                    message: msg,
                })
            }
            Err(e) => {
                let msg = e.message(grant_kind);
                let retry_after =
                    self.desk
                        .record_transient_failure(id, &msg, Some(&self.holder))?;
                tracing::warn!(account_connector = id, "{msg}");
                // The old access token may still be good for a little while.
                if let Some(a) = stored.access_valid_at(self.desk.now()) {
                    return Ok(Token::of(a, stored));
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
                &self.http.strict,
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
        tokens::request_tokens(&self.http.strict, o, creds, endpoints, grant, now).await
    }

    /// Refreshes credentials that expire soon and exercises idle refresh tokens.
    pub async fn keep_alive_once(&self) -> Result<Vec<KeepAliveOutcome>> {
        let now = self.desk.now();
        let soon = now + self.config.refresh_margin + Duration::minutes(5);
        let mut outcomes = vec![];
        for (id, expires, last) in self.desk.oauth_credentials_to_watch()? {
            let reason = if expires.is_some_and(|e| e <= soon) {
                "expires soon"
            } else if last.is_none_or(|l| l + self.config.idle_refresh_after <= now) {
                "idle refresh token"
            } else {
                continue;
            };
            let result = self
                .refresh_now(id)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string());
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

    /// Revokes the stored tokens at the provider (RFC 7009), when it has an endpoint.
    pub async fn revoke(&self, id: i64) -> Result<RevocationReport> {
        let ctx = self.context(id)?;
        let Some(o) = ctx.def.oauth2() else {
            return Ok(RevocationReport::default());
        };
        if o.revoke_url.is_none() {
            return Ok(RevocationReport::default());
        }
        let mut report = RevocationReport::default();
        let creds = match self.desk.resolve_client_credentials(id) {
            Ok(c) => c,
            Err(e) => {
                report.attempted = true;
                report.errors.push(e.to_string());
                return Ok(report);
            }
        };
        let endpoints = ctx.endpoints()?;
        for (field, is_refresh) in [(fields::REFRESH_TOKEN, true), (fields::ACCESS_TOKEN, false)] {
            let Some(token) = self.desk.credential_secret(id, field)? else {
                continue;
            };
            report.attempted = true;
            match tokens::revoke(&self.http.strict, o, &creds, &endpoints, &token, is_refresh).await
            {
                Ok(()) => report.revoked.push(field.to_string()),
                Err(e) => report.errors.push(format!("{field}: {e}")),
            }
        }
        Ok(report)
    }

    /// Revokes at the provider, then forgets the credential (the account connector stays).
    /// A failed revocation is reported; the local credential is removed all the same.
    pub async fn disconnect(&self, id: i64) -> Result<RevocationReport> {
        let report = self.revoke(id).await?;
        let detail = (!report.errors.is_empty())
            .then(|| format!("revocation failed: {}", report.errors.join("; ")));
        self.desk
            .clear_credentials(id, "disconnected", detail.as_deref())?;
        Ok(report)
    }

    /// Revokes at the provider, then deletes the account connector.
    pub async fn delete_account_connector(&self, id: i64) -> Result<RevocationReport> {
        let report = self.revoke(id).await?;
        self.desk.delete_account_connector(id)?;
        Ok(report)
    }
}

/// The account connector properties the definition captures from the provider's answers
/// (`capture`), to be stored in the same transaction as the tokens.
pub(crate) fn captured(
    ctx: &Context,
    tokens: &NewTokens,
    callback: Option<&url::Url>,
) -> Vec<CapturedProperty> {
    let Some(o) = ctx.def.oauth2() else {
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
            Some(CapturedProperty {
                name: name.clone(),
                value: Secret::new(value),
                secret: ctx.def.is_secret_property(name),
            })
        })
        .collect()
}

/// Test hook: `AUTHDESK_TEST_PAUSE_AT=<point>` makes the process announce the point on
/// stderr and stop there, so a crash test can kill it at a known place. It only waits; it
/// cannot change what is stored.
fn test_pause(point: &str) {
    if std::env::var("AUTHDESK_TEST_PAUSE_AT").is_ok_and(|p| p == point) {
        eprintln!("authdesk: test pause at {point}");
        std::thread::sleep(std::time::Duration::from_secs(120));
    }
}
