//! Calling a connector method ("data on demand"): base URL + path template + parameters,
//! the connector's headers, auth applied, and one retry with a forced refresh after a 401.
//! The contract is documented in `docs/connector-format.md` ("Method call contract").
//!
//! Must not: touch the credential before the method, its parameters and its URL are checked,
//! refresh by itself (it asks `refresh`), or show a query-placed key in an error.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::http::{read_capped, HttpFailure, MAX_METHOD_RESPONSE};
use super::{AppliedAuth, Context, Engine};
use crate::definition::{BodyFormat, HttpMethod, MethodDefinition, ParameterLocation};
use crate::error::{Error, Result};

/// Response headers worth showing; the rest (cookies among them) are dropped.
const KEPT_HEADERS: &[&str] = &[
    "content-type",
    "content-length",
    "location",
    "retry-after",
    "etag",
    "link",
    "www-authenticate",
    "x-request-id",
];

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MethodResponse {
    pub status: u16,
    pub headers: BTreeMap<String, String>,
    /// The body as JSON when it parses, else as a string.
    pub body: Value,
}

impl Engine {
    /// Calls `method` (its unique identifier or name) on account connector `id`.
    pub async fn call_method(
        &self,
        id: i64,
        method: &str,
        parameters: &serde_json::Map<String, Value>,
    ) -> Result<MethodResponse> {
        self.call_method_in(None, id, method, parameters).await
    }

    /// [`Engine::call_method`] for an account-scoped caller (the API's `X-Cyclr-Account`):
    /// an account connector of another account is "not found", checked against the cached
    /// context, so the hot path makes no extra trip to the store.
    pub async fn call_method_in(
        &self,
        account: Option<&str>,
        id: i64,
        method: &str,
        parameters: &serde_json::Map<String, Value>,
    ) -> Result<MethodResponse> {
        // The method, its parameters and its URL are checked before any credential is
        // touched: a typo must not cost a refresh.
        // Ownership first: nothing about another account's connector (its hosts' lookups,
        // its properties' problems) happens or shows before it (see `cached_context_in`).
        let (ctx, marker) = self.cached_context_in(account, id).await?;
        let m = ctx.def.method(method).ok_or_else(|| {
            let known: Vec<&str> = ctx.def.methods.iter().map(|m| m.id.as_str()).collect();
            let known = if known.is_empty() {
                "no methods".to_string()
            } else {
                known.join(", ")
            };
            Error::not_found_hint(
                "method",
                method,
                &format!("connector `{}` has: {known}", ctx.def.id),
            )
        })?;
        // Cyclr keys parameters by their integer Id; Authdesk also by name.
        let parameters = &by_name(&ctx.def, m, parameters)?;
        check_parameters(m, parameters)?;
        let url = build_url(&ctx, m, parameters)?;
        let (auth, version) = self.prepared(id, ctx.clone(), marker).await?;
        let mut response = self.send(&ctx, m, url.clone(), parameters, &auth).await?;
        if self.dpop_nonce_asked(&auth, &url, response.status, &response.headers) {
            // RFC 9449 §9: the resource server wants a nonce in the proof; once more.
            response = self.send(&ctx, m, url.clone(), parameters, &auth).await?;
        }
        if response.status == 401 && ctx.oauth2().is_ok() {
            // The provider refused a token we thought valid: refresh once (single flight:
            // if another task already did, its token is used) and try again.
            self.forget_prepared(id);
            let token = self.ensure_token(id, version).await?;
            let auth = self.token_auth(&ctx, &token.value).await?;
            response = self.send(&ctx, m, url, parameters, &auth).await?;
        }
        self.note_check(&ctx, response.status).await;
        Ok(response)
    }

    /// Records what the answer says about an API key or Basic credential (2xx: it works;
    /// 401/403: it was refused), only when that is news for this credential: a call whose
    /// verdict is already known writes nothing. (An OAuth token's provider already said
    /// so when it issued it; a refused one is refreshed.)
    pub(super) async fn note_check(&self, ctx: &Context, status: u16) {
        if !ctx.auth().verified_by_calls() {
            return;
        }
        let ok = match status {
            200..=299 => true,
            401 | 403 => false,
            _ => return,
        };
        if ctx.ac.last_check.as_ref().is_some_and(|c| c.ok == ok) {
            return;
        }
        let id = ctx.ac.id;
        if let Err(e) = self.db(move |desk| desk.record_check(id, status)).await {
            tracing::warn!(
                account_connector = id,
                "could not record a call's verdict: {e}"
            );
        }
    }

    async fn send(
        &self,
        ctx: &Context,
        m: &MethodDefinition,
        mut url: url::Url,
        params: &serde_json::Map<String, Value>,
        auth: &AppliedAuth,
    ) -> Result<MethodResponse> {
        let query: Vec<(String, String)> = m
            .parameters
            .iter()
            .filter(|p| p.location == ParameterLocation::Query)
            .filter_map(|p| params.get(&p.name).map(|v| (p.name.clone(), scalar(v))))
            .collect();
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        }
        auth.put_query(&mut url);
        let shown = format!("{} {}", m.id, display_url(&url, auth));
        let method = match m.http_method {
            HttpMethod::Get => reqwest::Method::GET,
            HttpMethod::Post => reqwest::Method::POST,
            HttpMethod::Put => reqwest::Method::PUT,
            HttpMethod::Patch => reqwest::Method::PATCH,
            HttpMethod::Delete => reqwest::Method::DELETE,
        };
        let client =
            self.http
                .for_host(url.host_str(), &ctx.hosts, super::http::Follow::SameOrigin);
        let method_name = method.as_str().to_string();
        let method_name = method_name.as_str();
        // The URL as sent, for a DPoP proof or an OAuth 1.0a signature (only then copied).
        let signing_url = (auth.dpop.is_some() || auth.oauth1.is_some()).then(|| url.clone());
        let mut request = client.request(method, url);
        for (name, value) in &ctx.def.headers {
            request = request.header(
                name.as_str(),
                ctx.header_value(&format!("headers.{name}"), value)?,
            );
        }
        for p in m
            .parameters
            .iter()
            .filter(|p| p.location == ParameterLocation::Header)
        {
            if let Some(v) = params.get(&p.name) {
                request = request.header(p.name.as_str(), scalar(v));
            }
        }
        let mut headers = reqwest::header::HeaderMap::new();
        auth.put_headers(&mut headers)?;
        if let Some(u) = &signing_url {
            auth.put_dpop(&self.dpop, method_name, u, &mut headers);
        }
        request = request.headers(headers);
        let body: serde_json::Map<String, Value> = m
            .parameters
            .iter()
            .filter(|p| p.location == ParameterLocation::Body)
            .filter_map(|p| params.get(&p.name).map(|v| (p.name.clone(), v.clone())))
            .collect();
        let has_body_params = m
            .parameters
            .iter()
            .any(|p| p.location == ParameterLocation::Body);
        if !auth.body.is_empty() {
            // AuthFields in the body: a JSON object body carries them (one is made for a
            // POST, PUT or PATCH without body parameters); any other body cannot.
            let carries = match (has_body_params, m.body_format, m.http_method) {
                (true, BodyFormat::Json, _) => true,
                (false, _, HttpMethod::Post | HttpMethod::Put | HttpMethod::Patch) => true,
                _ => false,
            };
            if !carries {
                return Err(Error::InvalidInput(format!(
                    "method `{}` sends {}, and this connector's auth puts fields in a JSON \
                     object body: nothing was sent (make the method's body JSON, or place the \
                     fields in the query or a header)",
                    m.id,
                    if has_body_params {
                        "a form body"
                    } else {
                        "no body"
                    }
                )));
            }
            let merged = auth.put_body(Some(Value::Object(body)))?;
            return response_of(request.json(&merged), &shown).await;
        }
        // OAuth 1.0a signs the form fields with the query (RFC 5849 §3.4.1.3).
        let form: Vec<(String, String)> = if has_body_params && m.body_format == BodyFormat::Form {
            body.iter().map(|(k, v)| (k.clone(), scalar(v))).collect()
        } else {
            Vec::new()
        };
        if let Some(u) = &signing_url {
            let mut signed = reqwest::header::HeaderMap::new();
            auth.put_oauth1(method_name, u, &form, &mut signed)?;
            request = request.headers(signed);
        }
        if has_body_params {
            request = match m.body_format {
                BodyFormat::Json => request.json(&body),
                BodyFormat::Form => request.form(&form),
            };
        }
        response_of(request, &shown).await
    }
}

/// The call's parameters keyed by name: a key that is a parameter's integer Id (as
/// Cyclr's `Parameters` and `Fields` carry them) becomes its name.
fn by_name(
    def: &crate::definition::ConnectorDefinition,
    m: &MethodDefinition,
    given: &serde_json::Map<String, Value>,
) -> Result<serde_json::Map<String, Value>> {
    let mut out = serde_json::Map::new();
    for (key, value) in given {
        let name = if m.parameters.iter().any(|p| &p.name == key) {
            key.clone()
        } else {
            match key.parse::<i64>().ok().and_then(|n| {
                m.parameters
                    .iter()
                    .find(|p| def.parameter_number(m, &p.name) == n)
            }) {
                Some(p) => p.name.clone(),
                None => key.clone(),
            }
        };
        if out.insert(name.clone(), value.clone()).is_some() {
            return Err(Error::InvalidInput(format!(
                "parameter `{name}` is given twice (by name and by Id)"
            )));
        }
    }
    Ok(out)
}

fn check_parameters(m: &MethodDefinition, given: &serde_json::Map<String, Value>) -> Result<()> {
    if let Some(unknown) = given
        .keys()
        .find(|k| !m.parameters.iter().any(|p| &p.name == *k))
    {
        let known: Vec<&str> = m.parameters.iter().map(|p| p.name.as_str()).collect();
        return Err(Error::InvalidInput(format!(
            "method `{}` has no parameter `{unknown}`; it takes: {}",
            m.id,
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        )));
    }
    let missing: Vec<&str> = m
        .parameters
        .iter()
        .filter(|p| p.required && given.get(&p.name).is_none_or(Value::is_null))
        .map(|p| p.name.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(Error::InvalidInput(format!(
            "method `{}` needs the parameter(s) {}; nothing was sent",
            m.id,
            missing.join(", ")
        )));
    }
    for p in &m.parameters {
        if let Some(v) = given.get(&p.name) {
            if p.location != ParameterLocation::Body && (v.is_array() || v.is_object()) {
                return Err(Error::InvalidInput(format!(
                    "parameter `{}` goes in the {:?} and must be a string, number or boolean",
                    p.name, p.location
                )));
            }
            // A header value that HTTP cannot carry (CR, LF, NUL, other controls) is refused
            // here, before any credential is touched, never echoed.
            if p.location == ParameterLocation::Header
                && reqwest::header::HeaderValue::from_str(&scalar(v)).is_err()
            {
                return Err(Error::InvalidInput(format!(
                    "parameter `{}` goes in a header, which cannot carry line breaks or other \
                     control characters; nothing was sent",
                    p.name
                )));
            }
        }
    }
    Ok(())
}

/// The method's URL from its template (API base URL + path, or its absolute path): path
/// parameters and properties percent-encoded as segments, hosts checked.
fn build_url(
    ctx: &Context,
    m: &MethodDefinition,
    params: &serde_json::Map<String, Value>,
) -> Result<url::Url> {
    let template = ctx
        .def
        .method_url(m)
        .ok_or_else(|| Error::InvalidInput(format!("method `{}` has no URL template", m.id)))?;
    ctx.url(
        &format!("the URL of method `{}`", m.id),
        template,
        Some(params),
    )
}

/// Strings as they are; numbers and booleans as their JSON text.
pub(crate) fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Sends `request` and reads the answer (capped at [`MAX_METHOD_RESPONSE`]); `shown` names
/// the request in errors.
pub(super) async fn response_of(
    request: reqwest::RequestBuilder,
    shown: &str,
) -> Result<MethodResponse> {
    let failed = |e: HttpFailure| Error::Http {
        what: shown.to_string(),
        message: e.to_string(),
    };
    let response = request
        .send()
        .await
        .map_err(|e| failed(HttpFailure::from_reqwest(&e)))?;
    let status = response.status().as_u16();
    let headers = kept_headers(response.headers());
    let bytes = read_capped(response, MAX_METHOD_RESPONSE)
        .await
        .map_err(failed)?;
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    Ok(MethodResponse {
        status,
        headers,
        body,
    })
}

/// The response headers worth showing ([`KEPT_HEADERS`] and rate limits).
fn kept_headers(headers: &reqwest::header::HeaderMap) -> BTreeMap<String, String> {
    headers
        .iter()
        .filter(|(n, _)| {
            let n = n.as_str();
            KEPT_HEADERS.contains(&n) || n.starts_with("x-ratelimit")
        })
        .filter_map(|(n, v)| Some((n.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect()
}

/// The URL for messages, without its query, the auth's query parameters named.
pub(super) fn display_url(url: &url::Url, auth: &AppliedAuth) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    if !auth.query.is_empty() {
        let names: Vec<&str> = auth.query.iter().map(|(k, _)| k.as_str()).collect();
        return format!("{shown} (with {} in the query)", names.join(", "));
    }
    shown.to_string()
}
