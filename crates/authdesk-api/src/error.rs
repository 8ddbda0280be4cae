//! API errors: a status and `{"Message": "..."}` that says what was wrong. Core errors
//! already never carry secrets; here they get a status (and `Retry-After` when a provider
//! says when, or the database is unreachable). A 500 or an unreachable database (503) tells
//! the caller nothing of the server's state: that goes to the server's log. axum's own
//! plain-text rejections are rewritten as `{"Message"}` too (`plain_text_as_json`).
//!
//! Must not: tell a caller what failed inside the server (its database, a fault: the log has
//! it), or build a message from a request's body or headers.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use authdesk_core::Error;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub retry_after: Option<i64>,
}

/// The body of every error response.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct ErrorBody {
    /// What was wrong and what to do.
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> ApiError {
        let status = match &e {
            Error::NotFound { .. } => StatusCode::NOT_FOUND,
            Error::InvalidInput(_)
            | Error::InvalidAuthValue { .. }
            | Error::InvalidDefinition { .. }
            | Error::AuthorizationFailed(_)
            | Error::ClientCredentialsMissing { .. } => StatusCode::BAD_REQUEST,
            Error::AlreadyExists(_) | Error::NeedsReauth { .. } | Error::NeedsSignIn { .. } => {
                StatusCode::CONFLICT
            }
            Error::ProviderTransient { .. }
            | Error::KeychainUnavailable { .. }
            | Error::KeychainLocked { .. }
            | Error::DatabaseUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::ProviderRejected(_) | Error::Http { .. } => StatusCode::BAD_GATEWAY,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let retry_after = match &e {
            Error::ProviderTransient {
                retry_after: Some(at),
                ..
            } => Some((*at - chrono::Utc::now()).num_seconds().max(1)),
            Error::DatabaseUnavailable(_) => Some(5),
            _ => None,
        };
        // What the server's own state is (its database, a fault) goes to its log; a caller,
        // who may not even be authenticated yet, learns only what to do.
        let message = match &e {
            Error::DatabaseUnavailable(_) => {
                tracing::warn!("{e}");
                "the server's database is not reachable right now; try again in a few seconds"
                    .to_string()
            }
            _ if status == StatusCode::INTERNAL_SERVER_ERROR => {
                tracing::error!("internal error: {e}");
                "internal error; the server's log has the details".to_string()
            }
            _ => e.to_string(),
        };
        ApiError {
            status,
            message,
            retry_after,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(ErrorBody {
                message: self.message,
            }),
        )
            .into_response();
        if let Some(seconds) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&seconds.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"authdesk\""),
            );
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// axum's own rejections (a query string or a path segment of the wrong type) answer in
/// plain text; the API answers `{"Message"}` everywhere, so they are rewritten. Their text
/// names the parameter and the type, never a secret (those travel in headers and bodies).
pub async fn plain_text_as_json(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let response = next.run(request).await;
    let plain = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    if !(plain && response.status().is_client_error()) {
        return response;
    }
    let status = response.status();
    let text = match axum::body::to_bytes(response.into_body(), 16 * 1024).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(_) => String::new(),
    };
    let message = match text.trim() {
        "" => "the request is not valid here".to_string(),
        t => format!("{t} (see /openapi.json)"),
    };
    ApiError::new(status, message).into_response()
}
