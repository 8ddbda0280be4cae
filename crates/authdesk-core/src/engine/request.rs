//! A free-form request on an account connector (the window's "Free-form request", `authdesk
//! request`): any HTTP method, a path under the connector's API base URL or a full URL on
//! one of its origins, headers and a body, sent with the connector's headers and its auth
//! applied as for a method, with the same one refresh after a 401.
//!
//! Must not: send anything to an origin the connector's API base URL and methods do not
//! name (the credential would go there), let a header or query parameter replace the one
//! the auth sets (or `Host`, which would choose another site), or touch the credential
//! before the request is checked.

use serde::Deserialize;

use super::methods::{display_url, response_of, MethodResponse};
use super::{AppliedAuth, Context, Engine};
use crate::definition::{AuthDefinition, FieldPlacement};
use crate::error::{Error, Result};
use serde_json::Value;

/// The HTTP methods a free-form request may use.
const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/// Headers the request itself decides (its length, framing and the site it goes to).
const NOT_YOURS: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "te",
    "upgrade",
    "trailer",
    "keep-alive",
    "proxy-authorization",
];

/// The largest body a free-form request sends.
pub const MAX_REQUEST_BODY: usize = 1024 * 1024;

/// What to send.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FreeRequest {
    /// GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS (any case).
    pub method: String,
    /// A path (with its query) under the connector's API base URL, e.g. `/users?page=2`,
    /// or a full URL on one of the connector's origins.
    pub target: String,
    /// `(name, value)` pairs, sent in order after the connector's own headers (a name
    /// given here replaces the connector's header of that name).
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// Sent as it is; say its type with a `Content-Type` header.
    #[serde(default)]
    pub body: Option<String>,
}

impl Engine {
    /// Sends `request` on account connector `id` with its auth applied (see the module).
    pub async fn send_request(&self, id: i64, request: &FreeRequest) -> Result<MethodResponse> {
        let (ctx, marker) = self.cached_context_in(None, id).await?;
        let method = http_method(&request.method)?;
        let url = target_url(&ctx, &request.target)?;
        let headers = checked_headers(&ctx, &url, &request.headers)?;
        if request
            .body
            .as_ref()
            .is_some_and(|b| b.len() > MAX_REQUEST_BODY)
        {
            return Err(Error::InvalidInput(format!(
                "the body is larger than {} KiB; a free-form request sends at most that",
                MAX_REQUEST_BODY / 1024
            )));
        }
        let (auth, version) = self.prepared(id, ctx.clone(), marker).await?;
        let send = |auth: AppliedAuth| {
            self.send_free(&ctx, method.clone(), url.clone(), &headers, request, auth)
        };
        let mut response = send(auth.clone()).await?;
        if self.dpop_nonce_asked(&auth, &url, response.status, &response.headers) {
            response = send(auth).await?;
        }
        if response.status == 401 && ctx.oauth2().is_ok() {
            // As for a method: the provider refused a token we thought valid.
            self.forget_prepared(id);
            let token = self.ensure_token(id, version).await?;
            response = send(self.token_auth(&ctx, &token.value).await?).await?;
        }
        self.note_check(&ctx, response.status).await;
        Ok(response)
    }

    async fn send_free(
        &self,
        ctx: &Context,
        method: reqwest::Method,
        mut url: url::Url,
        headers: &reqwest::header::HeaderMap,
        request: &FreeRequest,
        auth: AppliedAuth,
    ) -> Result<MethodResponse> {
        let shown = format!("{method} {}", display_url(&url, &auth));
        let verb = method.to_string();
        let mut all = reqwest::header::HeaderMap::new();
        for (name, value) in &ctx.def.headers {
            let value = ctx.header_value(&format!("headers.{name}"), value)?;
            let bad = |what: &str| Error::InvalidInput(format!("headers.{name}: {what}"));
            let n = reqwest::header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| bad("not a valid header name"))?;
            let v = reqwest::header::HeaderValue::from_str(&value)
                .map_err(|_| bad("its value, properties filled in, cannot be sent in a header"))?;
            all.insert(n, v);
        }
        for name in headers.keys() {
            all.remove(name);
        }
        for (name, value) in headers {
            all.append(name, value.clone());
        }
        auth.put_headers(&mut all)?;
        auth.put_dpop(&self.dpop, method.as_str(), &url, &mut all);
        auth.put_query(&mut url);
        // A form body's fields are signed too (RFC 5849 §3.4.1.3).
        let form_fields: Vec<(String, String)> =
            match (&request.body, all.get(reqwest::header::CONTENT_TYPE)) {
                (Some(body), Some(t))
                    if t.as_bytes()
                        .starts_with(b"application/x-www-form-urlencoded") =>
                {
                    url::form_urlencoded::parse(body.as_bytes())
                        .into_owned()
                        .collect()
                }
                _ => Vec::new(),
            };
        auth.put_oauth1(method.as_str(), &url, &form_fields, &mut all)?;
        let client =
            self.http
                .for_host(url.host_str(), &ctx.hosts, super::http::Follow::SameOrigin);
        let mut builder = client.request(method, url).headers(all);
        if !auth.body.is_empty() {
            builder = builder.json(&auth_body(&verb, request, &auth)?);
        } else if let Some(body) = &request.body {
            builder = builder.body(body.clone());
        }
        response_of(builder, &shown).await
    }
}

fn http_method(text: &str) -> Result<reqwest::Method> {
    let upper = text.trim().to_ascii_uppercase();
    if !METHODS.contains(&upper.as_str()) {
        return Err(Error::InvalidInput(format!(
            "HTTP method {text:?} is not one of {}",
            METHODS.join(", ")
        )));
    }
    reqwest::Method::from_bytes(upper.as_bytes())
        .map_err(|_| Error::InvalidInput(format!("HTTP method {text:?} is not valid")))
}

/// The URL of `target`: a path (starting with `/`) under the API base URL, or a full URL
/// whose origin is one of the connector's.
fn target_url(ctx: &Context, target: &str) -> Result<url::Url> {
    let target = target.trim();
    let origins = ctx.origins();
    let named = || {
        if origins.is_empty() {
            "none (give it an api_base_url or methods)".to_string()
        } else {
            origins.iter().cloned().collect::<Vec<_>>().join(", ")
        }
    };
    let url = if target.starts_with('/') && !target.starts_with("//") {
        let base = ctx.def.compiled.api_base.as_ref().ok_or_else(|| {
            Error::InvalidInput(format!(
                "connector `{}` has no api_base_url, so a path alone has nowhere to go: give a \
                 full URL on one of its origins ({})",
                ctx.def.id,
                named()
            ))
        })?;
        let base = ctx.url("api_base_url", base, None)?;
        let text = format!("{}{target}", base.as_str().trim_end_matches('/'));
        url::Url::parse(&text)
            .map_err(|e| Error::InvalidInput(format!("the path {target:?} is not valid: {e}")))?
    } else {
        let url = url::Url::parse(target).map_err(|e| {
            Error::InvalidInput(format!(
                "{target:?} is neither a path starting with / nor a full URL ({e})"
            ))
        })?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err(Error::InvalidInput(format!(
                "{target:?} is not an http(s) URL"
            )));
        }
        url
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::InvalidInput(
            "the URL carries a user name or password; put credentials on the account connector, \
             not in the URL"
                .into(),
        ));
    }
    let origin = url.origin().ascii_serialization();
    if !origins.contains(&origin) {
        return Err(Error::InvalidInput(format!(
            "{origin} is not one of connector `{}`'s origins ({}): a free-form request goes \
             only where its methods go, so the credential is never sent anywhere else",
            ctx.def.id,
            named()
        )));
    }
    Ok(url)
}

/// The names the auth sets: as headers and as query parameters (for an API key, one name
/// that is either). Its JSON body keys are in `AppliedAuth::body` (see `auth_body`).
struct AuthNames {
    headers: Vec<String>,
    query: Vec<String>,
}

fn auth_names(ctx: &Context) -> AuthNames {
    let names = |p: FieldPlacement| match ctx.auth() {
        AuthDefinition::AuthFields(f) => f
            .fields
            .iter()
            .filter(|x| x.placement == p)
            .map(|x| x.name.clone())
            .collect(),
        _ => Vec::new(),
    };
    match ctx.auth() {
        AuthDefinition::None {} => AuthNames {
            headers: vec![],
            query: vec![],
        },
        AuthDefinition::AuthFields(_) => AuthNames {
            headers: names(FieldPlacement::Header),
            query: names(FieldPlacement::Query),
        },
        a => {
            let one = a.scheme().unwrap_or_else(|| "Authorization".into());
            AuthNames {
                headers: vec![one.clone()],
                query: vec![one],
            }
        }
    }
}

/// The JSON object body that carries the auth's body fields: the request's own body, which
/// must then be a JSON object without those keys, or (for a method that sends one) a new one.
fn auth_body(method: &str, request: &FreeRequest, auth: &AppliedAuth) -> Result<Value> {
    let names = || {
        auth.body
            .iter()
            .map(|(k, _)| k.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let given = match request.body.as_deref().map(str::trim) {
        None | Some("") if matches!(method, "GET" | "HEAD" | "DELETE" | "OPTIONS") => {
            return Err(Error::InvalidInput(format!(
                "the connector's auth puts {} in a JSON object body, and a {method} request \
                 here has none: send it as POST, PUT or PATCH with a JSON object body",
                names()
            )))
        }
        None | Some("") => None,
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(o)) => {
                if let Some((k, _)) = auth.body.iter().find(|(k, _)| o.contains_key(k)) {
                    return Err(Error::InvalidInput(format!(
                        "the body key {k} is set by the connector's auth; leave it out (the \
                         stored value is applied for you)"
                    )));
                }
                Some(Value::Object(o))
            }
            _ => {
                return Err(Error::InvalidInput(format!(
                    "the connector's auth puts {} in a JSON object body, and this body is not a \
                     JSON object: nothing was sent",
                    names()
                )))
            }
        },
    };
    Ok(auth
        .put_body(given)?
        .expect("fields make a body when there is none"))
}

fn checked_headers(
    ctx: &Context,
    url: &url::Url,
    given: &[(String, String)],
) -> Result<reqwest::header::HeaderMap> {
    let auth = auth_names(ctx);
    if let Some((name, _)) = url
        .query_pairs()
        .find(|(k, _)| auth.query.iter().any(|a| a == k))
    {
        return Err(Error::InvalidInput(format!(
            "the query parameter {name} is set by the connector's auth; leave it out"
        )));
    }
    let mut out = reqwest::header::HeaderMap::new();
    for (name, value) in given {
        let name = name.trim();
        if name.is_empty() && value.trim().is_empty() {
            continue;
        }
        let n = reqwest::header::HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| Error::InvalidInput(format!("{name:?} is not a valid header name")))?;
        if auth.headers.iter().any(|a| a.eq_ignore_ascii_case(name)) {
            return Err(Error::InvalidInput(format!(
                "the header {name} is set by the connector's auth; leave it out (the stored \
                 credential is applied for you)"
            )));
        }
        if NOT_YOURS.contains(&n.as_str()) {
            return Err(Error::InvalidInput(format!(
                "the header {name} is decided by the request itself; leave it out"
            )));
        }
        let v = reqwest::header::HeaderValue::from_str(value.trim()).map_err(|_| {
            Error::InvalidInput(format!(
                "the value of header {name} has a character a header cannot carry (a line \
                 break or a control character)"
            ))
        })?;
        out.append(n, v);
    }
    Ok(out)
}
