//! What every request passes before a handler runs:
//! - the `Host` header must name this server: on loopback (`127.0.0.1`, `localhost`, `[::1]`
//!   with our port), or exactly the `PublicUrl` a team server was started with; one `Host`
//!   header, and an absolute-form target must name the same host. A DNS-rebinding page on
//!   `evil.com` that resolves to 127.0.0.1 still sends `Host: evil.com`;
//! - API calls carrying an `Origin` are refused unless the owner allowed that origin
//!   (then CORS headers are added);
//! - API calls need `Authorization: Bearer` with the API key (the core compares it in
//!   constant time) or a token from `POST /oauth/token`; a token limited to one account
//!   (`scope=account:{Id}`) acts for that account only (403 otherwise).
//!
//! Plus the extractors: a JSON body whose errors never quote the input (`ApiJson`,
//! `OptionalApiJson`), and the account scope from `X-Cyclr-Account`.
//!
//! Must not: let a request reach a handler before its `Host` check, quote a body's values in
//! an error (bodies may hold secrets), or check what the handler's core call checks (whether
//! the account named in `X-Cyclr-Account` exists).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use authdesk_core::api_clients::TokenGrant;
use authdesk_core::settings::OriginPurpose;

use crate::error::{ApiError, ApiResult};
use crate::AppState;

/// Refuses requests whose `Host` is not this loopback server.
pub async fn check_host(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    // One Host header, and an absolute-form target (`GET http://x/...`, whose authority
    // wins over Host per RFC 9112 §3.2.2) must name the same host: both are checked.
    let mut hosts = request.headers().get_all(header::HOST).iter();
    let first = hosts.next();
    if hosts.next().is_some() {
        return ApiError::bad_request("send one Host header").into_response();
    }
    let host = first.and_then(|h| h.to_str().ok());
    if let Some(authority) = request.uri().authority() {
        if host.is_some_and(|h| !h.eq_ignore_ascii_case(authority.as_str())) {
            return ApiError::bad_request(
                "the request target's host and the Host header differ: send one host",
            )
            .into_response();
        }
    }
    let host = host.or(request.uri().authority().map(|a| a.as_str()));
    let port = state.port;
    if let Some(public) = &state.public {
        if !host.is_some_and(|h| public.host_matches(h)) {
            return ApiError::new(
                StatusCode::MISDIRECTED_REQUEST,
                format!(
                    "this server answers only to {} (the Host header named another host)",
                    public.base()
                ),
            )
            .into_response();
        }
        return next.run(request).await;
    }
    if !host_allowed(host, port) {
        return ApiError::new(
            StatusCode::MISDIRECTED_REQUEST,
            format!(
                "this server answers only to 127.0.0.1:{port}, localhost:{port} or [::1]:{port} \
                 (the Host header named another host: DNS rebinding protection)"
            ),
        )
        .into_response();
    }
    next.run(request).await
}

/// Whether a `Host` header names this loopback server: exactly `127.0.0.1:<port>`,
/// `localhost:<port>` or `[::1]:<port>` (letters in any case), nothing more.
pub fn host_allowed(host: Option<&str>, port: u16) -> bool {
    let Some(host) = host else {
        return false;
    };
    let Some((name, p)) = host.rsplit_once(':') else {
        return false;
    };
    let name_ok = name.eq_ignore_ascii_case("localhost") || name == "127.0.0.1" || name == "[::1]";
    // The port as written: digits only, no sign, no leading zeros.
    let port_ok = p == port.to_string();
    name_ok && port_ok
}

/// Origin policy and API-key authentication for `/v1.0/*`.
pub async fn check_api_caller(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let origin = request
        .headers()
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .map(str::to_string);
    let checked = match origin.clone() {
        None => None,
        Some(o) => Some(
            state
                .engine
                .db(move |desk| desk.allowed_target(&o, OriginPurpose::Cors))
                .await,
        ),
    };
    let allowed_origin = match (&origin, checked) {
        (Some(o), Some(Ok(None))) => {
            return ApiError::new(
                StatusCode::FORBIDDEN,
                format!(
                    "cross-origin calls from {o} are refused; the owner can allow an origin with \
                     `authdesk origins add --cors ORIGIN`"
                ),
            )
            .into_response()
        }
        (_, Some(Err(e))) => return ApiError::from(e).into_response(),
        (_, Some(Ok(allowed))) => allowed,
        (_, None) => None,
    };
    if let (Some(allowed), true) = (&allowed_origin, request.method() == Method::OPTIONS) {
        let mut response = StatusCode::NO_CONTENT.into_response();
        add_cors(&mut response, allowed);
        let h = response.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, PUT, DELETE"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("authorization, content-type, x-cyclr-account"),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
        return response;
    }
    // Read what is needed first: `Request` is not `Sync`, so it is not held across an await.
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string);
    let mut target = Target {
        method: request.method().clone(),
        path: request.uri().path().to_string(),
        account_header: request
            .headers()
            .get("x-cyclr-account")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
    };
    let mut request = request;
    let allowed = match authenticate(&state, presented).await {
        Ok(caller) => {
            // A token limited to one account speaks for that account: X-Cyclr-Account may
            // be left out (Authdesk's addition; with the header, it must name the same).
            if let Some(account) = caller.account() {
                request
                    .extensions_mut()
                    .insert(LimitedTo(account.to_string()));
            }
            if let Caller::Client(grant) = &caller {
                request
                    .extensions_mut()
                    .insert(ApiClientCaller(grant.client_id.clone()));
            }
            if let (None, Some(account)) = (&target.account_header, caller.account()) {
                if let Ok(v) = HeaderValue::from_str(account) {
                    request.headers_mut().insert("x-cyclr-account", v);
                    target.account_header = Some(account.to_string());
                }
            }
            caller.may(&target)
        }
        Err(e) => Err(e),
    };
    if let Err(e) = allowed {
        let mut response = e.into_response();
        if let Some(allowed) = &allowed_origin {
            add_cors(&mut response, allowed);
        }
        return response;
    }
    let mut response = next.run(request).await;
    if let Some(allowed) = &allowed_origin {
        add_cors(&mut response, allowed);
    }
    response
}

fn add_cors(response: &mut Response, origin: &str) {
    if let Ok(v) = HeaderValue::from_str(origin) {
        response
            .headers_mut()
            .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
        response
            .headers_mut()
            .insert(header::VARY, HeaderValue::from_static("Origin"));
    }
}

/// Who is calling: the owner (the static API key, Authdesk's own addition for scripts), or
/// an API client with a token from `POST /oauth/token`.
enum Caller {
    Owner,
    Client(TokenGrant),
}

/// What a request touches, for the account limit of a client token.
struct Target {
    method: Method,
    path: String,
    account_header: Option<String>,
}

impl Caller {
    /// The one account a restricted token may act for.
    fn account(&self) -> Option<&str> {
        match self {
            Caller::Client(TokenGrant {
                account_id: Some(account),
                ..
            }) => Some(account),
            _ => None,
        }
    }

    /// A token limited to one account (`scope=account:{Id}`) may only act for that account:
    /// account-scoped calls with its `X-Cyclr-Account`, `/accounts/{its id}/...`, and reading
    /// the connector library. Anything else is 403.
    fn may(&self, target: &Target) -> ApiResult<()> {
        let Caller::Client(TokenGrant {
            account_id: Some(account),
            ..
        }) = self
        else {
            return Ok(());
        };
        let refused = |what: &str| {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!(
                    "this token is limited to account {account} (scope=account:{account}); {what}"
                ),
            ))
        };
        if let Some(header) = &target.account_header {
            let same = authdesk_core::service::parse_guid(header).is_ok_and(|h| &h == account);
            if !same {
                return refused("X-Cyclr-Account names another account");
            }
        }
        // Inside the /v1.0 router the prefix may or may not be stripped; accept both.
        let path = target.path.strip_prefix("/v1.0").unwrap_or(&target.path);
        let mut segments = path.split('/').filter(|s| !s.is_empty());
        match (segments.next(), segments.next()) {
            (Some("accounts"), Some(id)) => {
                let same = authdesk_core::service::parse_guid(id).is_ok_and(|i| &i == account);
                if same {
                    Ok(())
                } else {
                    refused("the call names another account")
                }
            }
            // Account-scoped calls carry the (already checked) account header.
            (Some("account"), _) if target.account_header.is_some() => Ok(()),
            (Some("connectors"), _) if path.ends_with("/install") => {
                if target.account_header.is_some() {
                    Ok(())
                } else {
                    refused("send X-Cyclr-Account with that account")
                }
            }
            // Reading the library is how a partner builds its install form.
            (Some("connectors"), _) if target.method == Method::GET => Ok(()),
            // The MCP endpoint limits its tools to the token's account itself.
            (Some("mcp"), None) => Ok(()),
            _ => refused("this call is not about that account"),
        }
    }
}

async fn authenticate(state: &AppState, authorization: Option<String>) -> ApiResult<Caller> {
    let presented = authorization
        .as_deref()
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        })
        .map(|k| k.trim().to_string())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "missing credentials: send `Authorization: Bearer <token>` with a token from \
                 `POST /oauth/token` (create a client with `authdesk api-clients create`), or \
                 the local API key (`authdesk api-key`)",
            )
        })?;
    // The key held in memory, when it is known current without a trip to the store: no
    // blocking hop on the hot path.
    if state.desk.check_api_key_now(&presented) == Some(true) {
        return Ok(Caller::Owner);
    }
    let caller = state
        .engine
        .db(move |desk| {
            if desk.check_api_key(&presented)? {
                return Ok(Some(Caller::Owner));
            }
            Ok(desk.check_api_token(&presented)?.map(Caller::Client))
        })
        .await?;
    caller.ok_or_else(|| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "the bearer token is not valid (expired, revoked, or not a token of this Authdesk): \
             get a new one from `POST /oauth/token`, or use the key from `authdesk api-key`",
        )
    })
}

/// A JSON body. Malformed JSON, a wrong type or a missing field is a 400 whose message
/// gives the position or the field path, never the values (bodies may hold secrets).
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request<Body>, state: &S) -> Result<Self, Self::Rejection> {
        if content_type(&request) != Some(true) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "send the body as JSON with `Content-Type: application/json`",
            ));
        }
        let bytes = read_body(request, state).await?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// A JSON body that may be left out, for requests Cyclr's pages show without a body or
/// without a `Content-Type` (the sign-in token): no body is `T::default()`, and a body
/// without a `Content-Type` is read as JSON. A body of another declared type is refused.
pub struct OptionalApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for OptionalApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request<Body>, state: &S) -> Result<Self, Self::Rejection> {
        let declared = content_type(&request);
        let bytes = read_body(request, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalApiJson(T::default()));
        }
        if declared == Some(false) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "send the body as JSON with `Content-Type: application/json`, or no body",
            ));
        }
        parse_json(&bytes).map(OptionalApiJson)
    }
}

/// Whether the request says its body is JSON (`None`: it declares no type).
fn content_type(request: &Request<Body>) -> Option<bool> {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().is_ok_and(|v| v.starts_with("application/json")))
}

async fn read_body<S: Send + Sync>(
    request: Request<Body>,
    state: &S,
) -> Result<axum::body::Bytes, ApiError> {
    axum::body::Bytes::from_request(request, state)
        .await
        .map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "the request body is larger than 2 MB, the most this API takes",
                )
            } else {
                ApiError::bad_request("the request body could not be read")
            }
        })
}

fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Straight from the bytes into the shape, so a key given twice is refused (through a
    // `Value` the last one would silently win).
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let malformed = |e: &serde_json::Error| {
        ApiError::bad_request(format!(
            "malformed JSON at line {} column {}",
            e.line(),
            e.column()
        ))
    };
    let parsed = serde_path_to_error::deserialize::<_, T>(&mut de).map_err(|e| {
        if e.inner().is_syntax() || e.inner().is_eof() {
            return malformed(e.inner());
        }
        let what = e.inner().to_string();
        // serde's "missing field `X`", "unknown field `X`" and "duplicate field `X`" name
        // fields only; other messages may quote values, so only the path is given then.
        let detail = ["missing field", "unknown field", "duplicate field"]
            .iter()
            .find(|p| what.starts_with(*p))
            .map(|_| what.split(", expected").next().unwrap_or(&what).to_string())
            .map(|d| d.split(" at line ").next().unwrap_or(&d).to_string())
            .unwrap_or_else(|| "a value has the wrong type".to_string());
        ApiError::bad_request(format!(
            "the JSON body does not match the expected shape at `{}`: {detail} (see /openapi.json)",
            e.path()
        ))
    })?;
    de.end().map_err(|e| malformed(&e))?;
    Ok(parsed)
}

/// The account of an account-scoped call (`X-Cyclr-Account`), in canonical form. Whether
/// it exists is checked by the call itself, in the same trip to the store (an unknown
/// account is a 404 naming it).
pub struct AccountScope(pub String);

/// Set on a request made with an API client's token: its ClientId (what it starts, such as
/// sign-in tokens, ends when it is revoked).
#[derive(Clone)]
pub struct ApiClientCaller(pub String);

/// Set on a request whose token is limited to one account (`scope=account:{Id}`): handlers
/// refuse what would reach beyond it (linking the account to another, say).
#[derive(Clone)]
pub struct LimitedTo(pub String);

impl FromRequestParts<Arc<AppState>> for AccountScope {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let id = parts
            .headers
            .get("x-cyclr-account")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| {
                ApiError::bad_request(
                    "this call is account-scoped: send the `X-Cyclr-Account: <AccountId>` header",
                )
            })?;
        Ok(AccountScope(authdesk_core::service::parse_guid(id)?))
    }
}
