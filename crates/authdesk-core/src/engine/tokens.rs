//! Token endpoint requests through the `oauth2` crate (RFC 6749 §4.1.3, §4.3, §4.4, §6;
//! RFC 7009 revocation), with our HTTP client and a classification of every failure:
//! `invalid_grant` is final (the user must sign in again); 5xx, 429, timeouts, redirects,
//! `temporarily_unavailable`, `slow_down` and bodies that are not a token response are
//! transient (with the provider's `Retry-After`, when it sends one); other OAuth errors are
//! rejections.
//!
//! Raw response bodies are never put in errors: on success they hold tokens.
//!
//! Must not: commit anything (its callers do), choose its client (it is handed one), or put
//! a raw response body in an error or a log.

use chrono::{DateTime, Duration, Utc};
use oauth2::basic::{
    BasicErrorResponse, BasicErrorResponseType, BasicRevocationErrorResponse,
    BasicTokenIntrospectionResponse, BasicTokenType,
};
use oauth2::{
    AuthType as OAuthClientAuth, AuthUrl, AuthorizationCode, ClientId, ClientSecret,
    EndpointNotSet, EndpointSet, ExtraTokenFields, PkceCodeVerifier, RedirectUrl, RefreshToken,
    RequestTokenError, ResourceOwnerPassword, ResourceOwnerUsername, Scope, StandardRevocableToken,
    StandardTokenResponse, TokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};

use super::client_auth::ClientProof;
use super::http::{HttpFailure, OAuthHttp, Observed};
use crate::credentials::ClientCredentials;
use crate::definition::{ClientAuth, OAuth2Definition};
use crate::diagnostics::Exchange;
use crate::secret::Secret;
use crate::token_store::NewTokens;

/// Token response fields beyond RFC 6749's: the OpenID Connect ID token, and the refresh
/// token lifetime some providers send.
#[derive(Clone, Deserialize, Serialize)]
pub struct ExtraFields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_token_expires_in: Option<i64>,
    /// Everything else the provider sent (e.g. Salesforce's `instance_url`).
    #[serde(flatten)]
    rest: std::collections::BTreeMap<String, serde_json::Value>,
}

impl std::fmt::Debug for ExtraFields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ExtraFields([redacted])")
    }
}

impl ExtraTokenFields for ExtraFields {}

type Response = StandardTokenResponse<ExtraFields, BasicTokenType>;
type OAuthClient<HasAuth, HasRevoke, HasToken> = oauth2::Client<
    BasicErrorResponse,
    Response,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    HasAuth,
    EndpointNotSet,
    EndpointNotSet,
    HasRevoke,
    HasToken,
>;

/// A failed token request, classified, with what was seen of the exchange (redacted) when
/// a request was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// `invalid_grant`: the code or refresh token is dead. Final.
    InvalidGrant {
        description: Option<String>,
        exchange: Option<Box<Exchange>>,
    },
    /// Another OAuth error (`invalid_client`, `invalid_scope`, ...): a configuration problem.
    Rejected {
        error: String,
        description: Option<String>,
        exchange: Option<Box<Exchange>>,
    },
    /// May pass by itself: back off (at least `retry_after`, if the provider said) and keep
    /// the refresh token.
    Transient {
        message: String,
        retry_after: Option<Duration>,
        exchange: Option<Box<Exchange>>,
    },
}

impl TokenError {
    pub fn message(&self, what: &str) -> String {
        let described = |d: &Option<String>| {
            d.as_deref()
                .map(|d| format!(": {}", clip(d)))
                .unwrap_or_default()
        };
        match self {
            TokenError::InvalidGrant { description, .. } => format!(
                "the provider refused the {what} (invalid_grant{}); the user must sign in again",
                described(description)
            ),
            TokenError::Rejected {
                error, description, ..
            } => {
                let hint = match error.as_str() {
                    "invalid_client" | "unauthorized_client" => {
                        ": check the ClientId/ClientSecret and the client authentication method"
                    }
                    "invalid_scope" => ": check the connector's scopes",
                    _ => "",
                };
                format!(
                    "the provider rejected the {what} ({}{}){hint}",
                    clip(error),
                    described(description)
                )
            }
            TokenError::Transient { message, .. } => {
                format!("the {what} failed for now: {message}")
            }
        }
    }

    /// How long the provider asked us to wait (`Retry-After`), if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            TokenError::Transient { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The exchange that failed, redacted (none when no request was made).
    pub fn exchange(&self) -> Option<&Exchange> {
        match self {
            TokenError::InvalidGrant { exchange, .. }
            | TokenError::Rejected { exchange, .. }
            | TokenError::Transient { exchange, .. } => exchange.as_deref(),
        }
    }

    /// A configuration problem found before any request was made.
    pub(super) fn configuration(description: String) -> TokenError {
        TokenError::Rejected {
            error: "configuration".into(),
            description: Some(description),
            exchange: None,
        }
    }
}

/// Provider-supplied text, stripped of control characters and of anything that looks like
/// a credential (`diagnostics::redact_text`), and shortened, before it is stored or shown.
pub(crate) fn clip(s: &str) -> String {
    let cleaned: String = s.chars().filter(|c| !c.is_control()).take(600).collect();
    crate::diagnostics::redact_text(&cleaned, &[])
        .chars()
        .take(300)
        .collect()
}

/// The endpoints of one account connector (placeholders already filled).
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub authorize: Option<String>,
    pub token: String,
    pub revoke: Option<String>,
    /// RFC 9126 pushed authorization request endpoint.
    pub par: Option<String>,
    /// RFC 8628 device authorization endpoint.
    pub device: Option<String>,
    /// The definition's `token_params`, placeholders filled: sent with every token request.
    pub token_params: Vec<(String, String)>,
}

fn base_client(
    def: &OAuth2Definition,
    creds: &ClientCredentials,
) -> OAuthClient<EndpointNotSet, EndpointNotSet, EndpointNotSet> {
    let mut client: OAuthClient<EndpointNotSet, EndpointNotSet, EndpointNotSet> =
        oauth2::Client::new(ClientId::new(creds.client_id.clone()));
    // Signed assertions (`private_key_jwt`, `client_secret_jwt`) go as extra form fields
    // beside `client_id`: the secret itself is never sent.
    if matches!(def.client_auth, ClientAuth::Basic | ClientAuth::Body) {
        if let Some(secret) = &creds.client_secret {
            client = client.set_client_secret(ClientSecret::new(secret.expose().to_string()));
        }
    }
    let auth_type = match def.client_auth {
        ClientAuth::Basic => OAuthClientAuth::BasicAuth,
        _ => OAuthClientAuth::RequestBody,
    };
    client.set_auth_type(auth_type)
}

fn token_client(
    def: &OAuth2Definition,
    creds: &ClientCredentials,
    endpoints: &Endpoints,
) -> Result<OAuthClient<EndpointNotSet, EndpointNotSet, EndpointSet>, TokenError> {
    let url = TokenUrl::new(endpoints.token.clone())
        .map_err(|e| TokenError::configuration(format!("token_url is not a URL: {e}")))?;
    Ok(base_client(def, creds).set_token_uri(url))
}

/// The scopes as one `scope` value joined with the provider's separator (oauth2 joins
/// with spaces; a single pre-joined scope keeps e.g. Slack's commas).
pub fn joined_scope(def: &OAuth2Definition) -> Option<Scope> {
    (!def.scopes.is_empty()).then(|| Scope::new(def.scopes.join(&def.scope_separator)))
}

pub struct AuthorizationRequest {
    pub url: url::Url,
}

/// Builds the authorization URL (RFC 6749 §4.1.1 with RFC 7636 S256 PKCE).
pub fn authorization_url(
    def: &OAuth2Definition,
    creds: &ClientCredentials,
    endpoints: &Endpoints,
    redirect_uri: &str,
    state: &Secret,
    pkce_challenge: Option<oauth2::PkceCodeChallenge>,
) -> Result<AuthorizationRequest, String> {
    let authorize = endpoints
        .authorize
        .clone()
        .ok_or("the connector has no authorize_url")?;
    let auth_url =
        AuthUrl::new(authorize).map_err(|e| format!("authorize_url is not a URL: {e}"))?;
    let redirect = RedirectUrl::new(redirect_uri.to_string())
        .map_err(|e| format!("redirect URI is not a URL: {e}"))?;
    let client = base_client(def, creds)
        .set_auth_uri(auth_url)
        .set_redirect_uri(redirect);
    let state_value = state.expose().to_string();
    let mut request = client.authorize_url(move || oauth2::CsrfToken::new(state_value));
    if let Some(scope) = joined_scope(def) {
        request = request.add_scope(scope);
    }
    for (k, v) in &def.authorize_params {
        request = request.add_extra_param(k.as_str(), v.as_str());
    }
    if let Some(challenge) = pkce_challenge {
        request = request.set_pkce_challenge(challenge);
    }
    let (url, _) = request.url();
    Ok(AuthorizationRequest { url })
}

/// What a token request needs besides the client.
pub enum Grant<'a> {
    Code {
        code: &'a str,
        redirect_uri: &'a str,
        pkce_verifier: Option<&'a Secret>,
    },
    Refresh {
        refresh_token: &'a Secret,
    },
    ClientCredentials,
    Password {
        username: &'a str,
        password: &'a Secret,
    },
}

pub async fn request_tokens(
    http: &reqwest::Client,
    def: &OAuth2Definition,
    creds: &ClientCredentials,
    endpoints: &Endpoints,
    grant: Grant<'_>,
    now: DateTime<Utc>,
    dpop: Option<super::dpop::DpopUse<'_>>,
) -> Result<NewTokens, TokenError> {
    let client = token_client(def, creds, endpoints)?;
    let proof = ClientProof::new(def.client_auth, creds, &endpoints.token, now)
        .map_err(TokenError::configuration)?;
    // The client's signed assertion (if it proves itself so), then the definition's own
    // token parameters.
    let assertion: Vec<(String, String)> = proof
        .assertion_fields()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .chain(endpoints.token_params.iter().cloned())
        .collect();
    let http_client = OAuthHttp::with_dpop(http, dpop);
    let result = match grant {
        Grant::Code {
            code,
            redirect_uri,
            pkce_verifier,
        } => {
            let redirect = RedirectUrl::new(redirect_uri.to_string()).map_err(|e| {
                TokenError::configuration(format!("redirect URI is not a URL: {e}"))
            })?;
            let mut req = client
                .exchange_code(AuthorizationCode::new(code.to_string()))
                .set_redirect_uri(std::borrow::Cow::Owned(redirect));
            if let Some(v) = pkce_verifier {
                req = req.set_pkce_verifier(PkceCodeVerifier::new(v.expose().to_string()));
            }
            for (k, v) in assertion {
                req = req.add_extra_param(k, v);
            }
            req.request_async(&http_client).await
        }
        Grant::Refresh { refresh_token } => {
            let token = RefreshToken::new(refresh_token.expose().to_string());
            let mut req = client.exchange_refresh_token(&token);
            for (k, v) in assertion {
                req = req.add_extra_param(k, v);
            }
            req.request_async(&http_client).await
        }
        Grant::ClientCredentials => {
            let mut req = client.exchange_client_credentials();
            if let Some(scope) = joined_scope(def) {
                req = req.add_scope(scope);
            }
            for (k, v) in assertion {
                req = req.add_extra_param(k, v);
            }
            req.request_async(&http_client).await
        }
        Grant::Password { username, password } => {
            let user = ResourceOwnerUsername::new(username.to_string());
            let pass = ResourceOwnerPassword::new(password.expose().to_string());
            let mut req = client.exchange_password(&user, &pass);
            if let Some(scope) = joined_scope(def) {
                req = req.add_scope(scope);
            }
            for (k, v) in assertion {
                req = req.add_extra_param(k, v);
            }
            req.request_async(&http_client).await
        }
    };
    let observed = http_client.observed();
    match result {
        Ok(response) => Ok(new_tokens(response, now)),
        Err(e) => Err(classify(e, &observed)),
    }
}

/// Reads a token endpoint's answer to a request made without the `oauth2` crate (an
/// extension grant), classified like the crate's.
pub(super) fn read_token_response(
    result: Result<oauth2::HttpResponse, HttpFailure>,
    observed: &Observed,
    now: DateTime<Utc>,
) -> Result<NewTokens, TokenError> {
    let response = result.map_err(|f| classify(RequestTokenError::Request(f), observed))?;
    let body = response.body();
    if response.status().is_success() {
        return serde_json::from_slice::<Response>(body)
            .map(|r| new_tokens(r, now))
            .map_err(|_| {
                let what = "a body that is not a token response".to_string();
                classify(RequestTokenError::Other(what), observed)
            });
    }
    Err(match serde_json::from_slice::<BasicErrorResponse>(body) {
        Ok(err) => classify(RequestTokenError::ServerResponse(err), observed),
        Err(_) => classify(
            RequestTokenError::Other("a body that is not an OAuth error".into()),
            observed,
        ),
    })
}

fn new_tokens(r: Response, now: DateTime<Utc>) -> NewTokens {
    let secs = |d: std::time::Duration| Duration::seconds(d.as_secs().min(10 * 365 * 86400) as i64);
    let extra = r.extra_fields();
    NewTokens {
        access_token: Secret::new(r.access_token().secret().clone()),
        refresh_token: r.refresh_token().map(|t| Secret::new(t.secret().clone())),
        id_token: extra.id_token.clone().map(Secret::new),
        token_secret: None,
        token_type: Some(token_type_name(r.token_type())),
        scope: r.scopes().map(|s| {
            s.iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        }),
        expires_at: r.expires_in().map(|d| now + secs(d)),
        response_fields: extra
            .rest
            .iter()
            .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), Secret::new(s))))
            .collect(),
        captured: Vec::new(),
        refresh_expires_at: extra
            .refresh_token_expires_in
            .filter(|s| *s > 0)
            .map(|s| now + Duration::seconds(s.min(10 * 365 * 86400))),
    }
}

fn token_type_name(t: &BasicTokenType) -> String {
    match t {
        BasicTokenType::Bearer => "Bearer".to_string(),
        BasicTokenType::Mac => "MAC".to_string(),
        // RFC 9449 spells it `DPoP`; the type is case-insensitive (RFC 6749 §7.1).
        BasicTokenType::Extension(s) if s.eq_ignore_ascii_case("dpop") => "DPoP".to_string(),
        BasicTokenType::Extension(s) => clip(s),
    }
}

fn classify(
    e: RequestTokenError<HttpFailure, BasicErrorResponse>,
    observed: &Observed,
) -> TokenError {
    let mut error = classified(e, observed);
    let exchange = observed.exchange.clone();
    // The provider's description as the exchange keeps it: redacted also of what this
    // request sent (a provider that echoes the refresh token or the client secret).
    let redacted = exchange.as_ref().map(|x| x.error_description.clone());
    match &mut error {
        TokenError::InvalidGrant {
            exchange: x,
            description,
        }
        | TokenError::Rejected {
            exchange: x,
            description,
            ..
        } => {
            if let Some(d) = redacted {
                *description = d;
            }
            *x = exchange;
        }
        TokenError::Transient { exchange: x, .. } => *x = exchange,
    }
    error
}

fn classified(
    e: RequestTokenError<HttpFailure, BasicErrorResponse>,
    observed: &Observed,
) -> TokenError {
    let transient = |message: String| TokenError::Transient {
        message,
        retry_after: None,
        exchange: None,
    };
    let status = observed.status;
    let redirect = status.is_some_and(|s| (300..400).contains(&s));
    if redirect {
        let to = observed
            .location_host
            .as_deref()
            .unwrap_or("another location");
        return transient(format!(
            "the endpoint answered HTTP {} redirecting to {to}; redirects are not followed on token endpoints",
            status.unwrap_or_default()
        ));
    }
    let waiting = |what: String| TokenError::Transient {
        message: match observed.retry_after {
            Some(d) => format!("{what}; it asked to wait {} s", d.num_seconds()),
            None => what,
        },
        retry_after: observed.retry_after,
        exchange: None,
    };
    // Rate limiting is never a verdict on the grant, whatever the body says.
    if status == Some(429) {
        return waiting("the endpoint is rate limiting (HTTP 429)".into());
    }
    match e {
        RequestTokenError::ServerResponse(err) => {
            let code = match err.error() {
                BasicErrorResponseType::InvalidGrant => {
                    return TokenError::InvalidGrant {
                        description: err.error_description().cloned(),
                        exchange: None,
                    }
                }
                other => other.to_string(),
            };
            // RFC 6749 §4.1.2.1 `temporarily_unavailable`; RFC 8628 `slow_down`.
            if matches!(code.as_str(), "temporarily_unavailable" | "slow_down") {
                return waiting(format!(
                    "the provider is temporarily unavailable (HTTP {}, {})",
                    status.unwrap_or_default(),
                    clip(&code)
                ));
            }
            if status.is_some_and(|s| s >= 500) {
                return waiting(format!(
                    "HTTP {} ({})",
                    status.unwrap_or_default(),
                    clip(&code)
                ));
            }
            TokenError::Rejected {
                error: code,
                description: err.error_description().cloned(),
                exchange: None,
            }
        }
        RequestTokenError::Request(failure) => transient(failure.to_string()),
        RequestTokenError::Parse(parse, body) => {
            let looks_like_markup = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'<');
            let html = looks_like_markup
                || observed
                    .content_type
                    .as_deref()
                    .is_some_and(|c| c.contains("html"));
            let what = if html {
                "an HTML page".to_string()
            } else if matches!(
                parse.inner().classify(),
                serde_json::error::Category::Syntax | serde_json::error::Category::Eof
            ) {
                "a body that is not JSON".to_string()
            } else {
                // serde's "missing field `x`" names a field; other data errors may quote
                // the value, so only the path (field names) is shown for them.
                let inner = parse.inner().to_string();
                match inner.strip_prefix("missing field ") {
                    Some(rest) => format!(
                        "a JSON body without {}",
                        rest.split(' ').next().unwrap_or(rest)
                    ),
                    None => format!("a JSON body with a malformed `{}`", parse.path()),
                }
            };
            waiting(format!(
                "the endpoint answered HTTP {} with {what} instead of a token response",
                status.unwrap_or_default()
            ))
        }
        RequestTokenError::Other(msg) => {
            let html = observed
                .content_type
                .as_deref()
                .is_some_and(|c| c.contains("html"));
            let message = if html {
                format!(
                    "the endpoint answered HTTP {} with an HTML page instead of a token response",
                    status.unwrap_or_default()
                )
            } else {
                format!("HTTP {}: {}", status.unwrap_or_default(), clip(&msg))
            };
            waiting(message)
        }
    }
}

/// RFC 7009 revocation of one token. `Ok(())` also when the endpoint says the token was
/// already invalid (it answers 200 by spec). Written here rather than through `oauth2`,
/// which refuses `http://` revocation URLs even on loopback test servers.
pub async fn revoke(
    http: &reqwest::Client,
    def: &OAuth2Definition,
    creds: &ClientCredentials,
    endpoints: &Endpoints,
    token: &Secret,
    is_refresh: bool,
) -> Result<(), String> {
    let url = endpoints
        .revoke
        .clone()
        .ok_or("the connector has no revoke_url")?;
    let hint = if is_refresh {
        "refresh_token"
    } else {
        "access_token"
    };
    let mut form: Vec<(&'static str, String)> = vec![
        ("token", token.expose().to_string()),
        ("token_type_hint", hint.to_string()),
    ];
    let mut request = http
        .post(&url)
        .header(reqwest::header::ACCEPT, "application/json");
    request = ClientProof::new(def.client_auth, creds, &endpoints.token, chrono::Utc::now())?
        .apply(request, &mut form);
    let response = request.form(&form).send().await.map_err(|e| {
        format!(
            "the revocation request failed ({})",
            HttpFailure::from_reqwest(&e)
        )
    })?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let body = super::http::read_capped(response, 64 * 1024)
        .await
        .unwrap_or_default();
    let error = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(clip));
    Err(match error {
        Some(code) => format!(
            "the provider refused the revocation (HTTP {}, {code})",
            status.as_u16()
        ),
        None => format!("the revocation endpoint answered HTTP {}", status.as_u16()),
    })
}
