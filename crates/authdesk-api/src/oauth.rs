//! `POST /oauth/token`: how partner code gets an API token, as Cyclr documents it (OAuth 2.0
//! client credentials, RFC 6749 §4.4). Client credentials in the form body or as HTTP
//! Basic (§2.3.1); `scope=account:{AccountId}` limits the token to one account. The answer is
//! Cyclr's: `{"token_type":"bearer","access_token":"...","expires_in":1209599,"clientId":"..."}`.
//! Errors are RFC 6749 §5.2 JSON (`{"error": "...", "error_description": "..."}`) and
//! never quote a value that was sent (a parameter given twice is named, not its value).
//!
//! Must not: check a client's secret or mint a token itself (the core's `issue_api_token`
//! does), grant anything but client credentials, or let an answer be cached (`no-store`).

use std::collections::HashMap;
use std::sync::Arc;

use authdesk_core::api_clients::{TokenRefusal, API_TOKEN_TTL};
use authdesk_core::Secret;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine as _;
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;

/// Cyclr's token answer.
#[derive(Serialize, ToSchema)]
pub struct TokenAnswer {
    /// Always `bearer`.
    pub token_type: &'static str,
    pub access_token: String,
    /// Seconds: 1209599 (14 days).
    pub expires_in: i64,
    #[serde(rename = "clientId")]
    pub client_id: String,
}

fn oauth_error(status: StatusCode, error: &str, description: &str, basic: bool) -> Response {
    let mut response = (
        status,
        Json(serde_json::json!({ "error": error, "error_description": description })),
    )
        .into_response();
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if basic {
        h.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"authdesk\""),
        );
    }
    response
}

/// `Authorization: Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 §2.3.1).
fn basic_credentials(headers: &HeaderMap) -> Option<(String, Secret)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    let unescape = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Some((unescape(id), Secret::new(unescape(secret))))
}

#[utoipa::path(post, path = "/oauth/token", tag = "Authentication",
    request_body(content_type = "application/x-www-form-urlencoded", description = "grant_type=client_credentials&client_id=...&client_secret=...[&scope=account:{AccountId}] (or the client as HTTP Basic)"),
    responses((status = 200, body = TokenAnswer), (status = 400, description = "invalid_request, unsupported_grant_type, invalid_scope"), (status = 401, description = "invalid_client")))]
pub async fn token(State(s): State<Arc<AppState>>, headers: HeaderMap, body: String) -> Response {
    let form_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form_type {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "send the request as a form (Content-Type: application/x-www-form-urlencoded)",
            false,
        );
    }
    let mut form: HashMap<String, String> = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(body.as_bytes()) {
        // RFC 6749 §3.2: parameters must not be repeated.
        if form.insert(k.to_string(), v.into_owned()).is_some() {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                &format!("the parameter `{}` is given twice", k),
                false,
            );
        }
    }
    match form.get("grant_type").map(String::as_str) {
        Some("client_credentials") => {}
        Some(_) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only grant_type=client_credentials is supported",
                false,
            )
        }
        None => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "grant_type is required (client_credentials)",
                false,
            )
        }
    }
    let basic = basic_credentials(&headers);
    let in_body = form
        .get("client_id")
        .zip(form.get("client_secret"))
        .map(|(id, secret)| (id.clone(), Secret::new(secret.clone())));
    let (client_id, secret, used_basic) = match (basic, in_body) {
        (Some(_), Some(_)) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "send the client credentials either as HTTP Basic or in the body, not both",
                false,
            )
        }
        (Some((id, secret)), None) => (id, secret, true),
        (None, Some((id, secret))) => (id, secret, false),
        (None, None) => {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "client_id and client_secret are required (create a client with `authdesk api-clients create`)",
                true,
            )
        }
    };
    let scope = form.get("scope").cloned();
    let issued = s
        .db(move |desk| desk.issue_api_token(&client_id, &secret, scope.as_deref()))
        .await;
    match issued {
        Ok(Ok(t)) => {
            let mut response = Json(TokenAnswer {
                token_type: "bearer",
                access_token: t.access_token.expose().to_string(),
                expires_in: API_TOKEN_TTL.num_seconds() - 1,
                client_id: t.client_id,
            })
            .into_response();
            let h = response.headers_mut();
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
            response
        }
        Ok(Err(TokenRefusal::InvalidClient)) => oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "unknown client, wrong secret, or a revoked client",
            used_basic,
        ),
        Ok(Err(TokenRefusal::InvalidScope)) => oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "scope must be account:{AccountId} of an existing account, or left out",
            false,
        ),
        // RFC 6749's shape for the server's own trouble too (the message stays generic:
        // the details go to the server's log).
        Err(e) => {
            let (status, code) = if e.status == StatusCode::SERVICE_UNAVAILABLE {
                (e.status, "temporarily_unavailable")
            } else {
                (e.status, "server_error")
            };
            let mut response = oauth_error(status, code, &e.message, false);
            if let Some(seconds) = e.retry_after {
                if let Ok(v) = HeaderValue::from_str(&seconds.to_string()) {
                    response.headers_mut().insert(header::RETRY_AFTER, v);
                }
            }
            response
        }
    }
}
