//! What answers when no route matches: one more try with the path's fixed words in lower
//! case (Cyclr's routes ignore case, and its pages spell them in several ways), then a
//! `{"Message"}` that says what was wrong, never an empty body.
//!
//! Must not: lower anything but the fixed words in `WORDS` (Ids, connector names and method
//! identifiers keep their case), or try a path more than once.

use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower::ServiceExt;

use crate::error::ApiError;

/// The fixed words of Authdesk's routes; only these are lowered (Ids, connector names and
/// method identifiers keep their case).
const WORDS: &[&str] = &[
    "v1.0",
    "accounts",
    "account",
    "connectors",
    "connector",
    "signintoken",
    "launch",
    "methods",
    "client",
    "install",
    "properties",
    "settings",
    "target-origins",
    "connectorauth",
    "updateaccountconnectoroauth",
    "callback",
    "oauth",
    "token",
    "openapi.json",
];

/// The path with its fixed words in lower case, when that changes it.
pub fn lowered(path: &str) -> Option<String> {
    let fixed: Vec<String> = path
        .split('/')
        .map(|segment| {
            let lower = segment.to_ascii_lowercase();
            if segment != lower && WORDS.contains(&lower.as_str()) {
                lower
            } else {
                segment.to_string()
            }
        })
        .collect();
    let fixed = fixed.join("/");
    (fixed != path).then_some(fixed)
}

pub async fn in_lower_case(routes: Router, mut request: Request) -> Response {
    let Some(path) = lowered(request.uri().path()) else {
        return not_found(request).await;
    };
    let path_and_query = match request.uri().query() {
        Some(q) => format!("{path}?{q}"),
        None => path,
    };
    let mut parts = request.uri().clone().into_parts();
    match path_and_query.parse() {
        Ok(pq) => parts.path_and_query = Some(pq),
        Err(_) => return not_found(request).await,
    }
    match axum::http::Uri::from_parts(parts) {
        Ok(uri) => *request.uri_mut() = uri,
        Err(_) => return not_found(request).await,
    }
    match routes.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

pub async fn not_found(request: Request) -> Response {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!(
            "there is no {} {}: see /openapi.json (or docs/cyclr-compatibility.md) for the endpoints",
            request.method(),
            request.uri().path()
        ),
    )
    .into_response()
}

pub async fn method_not_allowed(method: Method) -> Response {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("{method} is not allowed here: the Allow header lists the methods that are"),
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::lowered;

    #[test]
    fn only_the_fixed_words_are_lowered() {
        assert_eq!(
            lowered("/ConnectorAuth/UpdateAccountConnectorOAuth").as_deref(),
            Some("/connectorauth/updateaccountconnectoroauth")
        );
        assert_eq!(
            lowered("/V1.0/Accounts/AbC-123/SignInToken").as_deref(),
            Some("/v1.0/accounts/AbC-123/signintoken")
        );
        assert_eq!(
            lowered("/v1.0/account/connectors/7/methods/GetToken").as_deref(),
            None
        );
        assert_eq!(lowered("/v1.0/accounts"), None);
    }
}
