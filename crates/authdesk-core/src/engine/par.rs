//! Pushed authorization requests (RFC 9126): the authorization request's parameters are
//! posted to the provider's PAR endpoint with the client authenticated, and the browser
//! gets only `client_id` and the `request_uri` the provider answered. The request's
//! content (scopes, PKCE challenge, state, redirect URI) never passes through the browser,
//! where it could be read or changed.
//!
//! Must not: follow a redirect from the PAR endpoint (it receives client credentials), put
//! a raw response body in an error, or send the browser anything but `client_id` and
//! `request_uri` (plus what the authorize URL itself carries).

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::client_auth::ClientProof;
use super::http::{read_capped, HttpFailure};
use super::tokens::{clip, Endpoints};
use crate::credentials::ClientCredentials;
use crate::definition::OAuth2Definition;

#[derive(Deserialize)]
struct Pushed {
    request_uri: String,
}

#[derive(Deserialize)]
struct PushError {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// Pushes the request that `authorization` (the full authorization URL) carries, and
/// returns the URL to show instead: the authorize endpoint with `client_id` and
/// `request_uri`.
pub async fn push(
    http: &reqwest::Client,
    def: &OAuth2Definition,
    creds: &ClientCredentials,
    endpoints: &Endpoints,
    authorization: &url::Url,
    now: DateTime<Utc>,
) -> Result<url::Url, String> {
    let endpoint = endpoints
        .par
        .as_deref()
        .ok_or("the connector has no pushed_authorization_request_url")?;
    let proof = ClientProof::new(def.client_auth, creds, &endpoints.token, now)?;
    let mut form: Vec<(&'static str, String)> = Vec::new();
    let request = proof.apply(http.post(endpoint), &mut form);
    // The proof brings `client_id` where the client authenticates in the form.
    let own_id = form.iter().any(|(k, _)| *k == "client_id");
    // Made before the request is sent: the serializer must not live across an await.
    let body = {
        let mut body = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in authorization.query_pairs() {
            if !(own_id && k == "client_id") {
                body.append_pair(&k, &v);
            }
        }
        for (k, v) in &form {
            body.append_pair(k, v);
        }
        body.finish()
    };
    let response = request
        .header(reqwest::header::ACCEPT, "application/json")
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(body)
        .send()
        .await
        .map_err(|e| {
            format!(
                "the pushed authorization request failed ({})",
                HttpFailure::from_reqwest(&e)
            )
        })?;
    let status = response.status();
    let bytes = read_capped(response, 64 * 1024).await.unwrap_or_default();
    if !status.is_success() {
        return Err(match serde_json::from_slice::<PushError>(&bytes) {
            Ok(e) => format!(
                "the provider refused the pushed authorization request (HTTP {}, {}{})",
                status.as_u16(),
                clip(&e.error),
                e.error_description
                    .map(|d| format!(": {}", clip(&d)))
                    .unwrap_or_default()
            ),
            Err(_) => format!(
                "the pushed authorization request endpoint answered HTTP {}",
                status.as_u16()
            ),
        });
    }
    let pushed: Pushed = serde_json::from_slice(&bytes).map_err(|_| {
        format!(
            "the pushed authorization request endpoint answered HTTP {} without a request_uri",
            status.as_u16()
        )
    })?;
    let mut url = url::Url::parse(
        endpoints
            .authorize
            .as_deref()
            .ok_or("the connector has no authorize_url")?,
    )
    .map_err(|e| format!("authorize_url is not a URL: {e}"))?;
    url.query_pairs_mut()
        .append_pair("client_id", &creds.client_id)
        .append_pair("request_uri", &pushed.request_uri);
    Ok(url)
}
