//! The engine's view of one account connector: its definition, its properties and the way
//! to authenticate it uses ([`Context`]); every URL built from the definition's templates
//! with them; the hosts its properties choose and the check that they are public where
//! they resolve; and the per-process cache of contexts and auth that any commit to the
//! data directory invalidates. Ownership is checked before a context is built for a caller
//! limited to an account.
//!
//! Must not: touch tokens (that is `refresh`), send requests (`methods`), write anything.

use super::*;

/// A cached context and auth for one account connector (see [`Engine::prepared`]).
pub(super) struct Prepared {
    marker: ChangeMarker,
    ctx: Arc<Context>,
    auth: AppliedAuth,
    version: Option<i64>,
    good_until: Option<DateTime<Utc>>,
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

    /// The origins (`scheme://host[:port]`, as [`url::Origin`] serializes them) of its API
    /// base URL and of every method's URL, with this account connector's properties: where
    /// its requests may go. One its properties cannot fill yet is left out.
    pub fn origins(&self) -> std::collections::BTreeSet<String> {
        let c = &self.def.compiled;
        let values = ContextSlots {
            ctx: self,
            params: None,
        };
        c.api_base
            .iter()
            .chain(&c.methods)
            .filter_map(|t| t.origin(&values).ok())
            .filter_map(|o| url::Url::parse(&o).ok())
            .map(|u| u.origin().ascii_serialization())
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

    /// The OAuth 2 way to authenticate with its scopes' `{Property}` placeholders filled
    /// (Dataverse names its environment in its scope): what is asked for.
    pub fn oauth2_filled(&self) -> Result<OAuth2Definition> {
        let mut o = self.oauth2()?.clone();
        for scope in o.scopes.iter_mut() {
            if scope.contains('{') {
                *scope = self.header_value("auth.scopes", scope)?;
            }
        }
        Ok(o)
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
            par: self.endpoint(Endpoint::Par)?,
            device: self.endpoint(Endpoint::Device)?,
            token_params: self
                .oauth2()?
                .token_params
                .iter()
                .map(|(k, v)| {
                    Ok((
                        k.clone(),
                        self.header_value(&format!("auth.token_params.{k}"), v)?,
                    ))
                })
                .collect::<Result<_>>()?,
        })
    }

    /// OAuth 1.0a: its three endpoints, placeholders filled.
    pub fn oauth1_endpoints(&self) -> Result<OAuth1Endpoints> {
        let need = |which: Endpoint| {
            self.endpoint(which)?.ok_or_else(|| {
                Error::InvalidInput(format!("the connector has no {}", which.field()))
            })
        };
        Ok(OAuth1Endpoints {
            request_token: need(Endpoint::RequestToken)?,
            authorize: need(Endpoint::Authorize)?,
            access_token: need(Endpoint::Token)?,
        })
    }

    /// The issuer the provider must name in `iss` (RFC 9207), placeholders filled.
    pub fn issuer(&self) -> Result<Option<String>> {
        self.endpoint(Endpoint::Issuer)
    }

    /// The definition's `jwks_url` (the provider's signing keys), placeholders filled.
    pub fn jwks_url(&self) -> Result<Option<String>> {
        self.endpoint(Endpoint::Jwks)
    }
}

/// Slot values for a template: method parameters (never for a host), then properties.
pub(super) struct ContextSlots<'a> {
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

/// An account connector with its properties opened (blocking: runs under [`Engine::db`]).
pub(super) fn context_of(desk: &Authdesk, id: i64) -> Result<Context> {
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

impl Engine {
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
    pub(super) async fn check_property_hosts(&self, ctx: &Context) -> Result<()> {
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
        let marker = self.marker().await?;
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

    /// The data directory's change marker: read in place where that never waits (SQLite),
    /// else on a blocking thread (PostgreSQL).
    pub(crate) async fn marker(&self) -> Result<ChangeMarker> {
        match self.desk.change_marker_now() {
            Some(marker) => marker,
            None => self.db(|desk| desk.change_marker()).await,
        }
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
}

/// The endpoints of an OAuth 1.0a account connector (placeholders filled).
pub struct OAuth1Endpoints {
    pub request_token: String,
    pub authorize: String,
    pub access_token: String,
}
