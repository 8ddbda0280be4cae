//! Token requests the `oauth2` crate does not make for us (RFC 6749 §4.5 extension grants:
//! the JWT bearer grant, the device code grant): a form posted to the token endpoint with
//! the client authenticated as the definition says (a fresh assertion each time), through
//! the same HTTP client, caps and observation as every token request.
//!
//! Must not: follow a redirect (its callers hand it the token endpoint's strict client),
//! or read the answer itself (`tokens::read_token_response` classifies it).

use chrono::{DateTime, Utc};

use super::client_auth::ClientProof;
use super::http::{HttpFailure, OAuthHttp, Observed};
use super::tokens::{Endpoints, TokenError};
use crate::credentials::ClientCredentials;
use crate::definition::OAuth2Definition;

/// What the endpoint answered, and what was seen of it.
pub struct Answer {
    pub result: Result<oauth2::HttpResponse, HttpFailure>,
    pub observed: Observed,
}

fn configuration(description: String) -> TokenError {
    TokenError::configuration(description)
}

/// Posts `form` (with `grant_type`) to `url` with the client's proof added.
pub async fn post(
    http: &reqwest::Client,
    def: &OAuth2Definition,
    creds: &ClientCredentials,
    endpoints: &Endpoints,
    url: &str,
    mut form: Vec<(&'static str, String)>,
    now: DateTime<Utc>,
    dpop: Option<super::dpop::DpopUse<'_>>,
) -> Result<Answer, TokenError> {
    let proof =
        ClientProof::new(def.client_auth, creds, &endpoints.token, now).map_err(configuration)?;
    let builder = proof.apply(http.post(url), &mut form);
    // The definition's own token parameters go with token requests (not, say, the device
    // authorization request).
    let extra = if url == endpoints.token {
        endpoints.token_params.as_slice()
    } else {
        &[]
    };
    let form: Vec<(String, String)> = form
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .chain(extra.iter().cloned())
        .collect();
    let request = builder
        .header(reqwest::header::ACCEPT, "application/json")
        .form(&form)
        .build()
        .map_err(|e| configuration(format!("the request cannot be made: {e}")))?;
    let mut out = http::Request::builder()
        .method(request.method().clone())
        .uri(request.url().as_str());
    for (name, value) in request.headers() {
        out = out.header(name, value);
    }
    let bytes = request
        .body()
        .and_then(|b| b.as_bytes())
        .unwrap_or_default()
        .to_vec();
    let out = out
        .body(bytes)
        .map_err(|e| configuration(format!("the request cannot be made: {e}")))?;
    let client = OAuthHttp::with_dpop(http, dpop);
    let result = oauth2::AsyncHttpClient::call(&client, out).await;
    Ok(Answer {
        result,
        observed: client.observed(),
    })
}

/// The OAuth `error` code of a 4xx answer, if it is one.
pub fn error_code(answer: &Answer) -> Option<String> {
    let response = answer.result.as_ref().ok()?;
    if !response.status().is_client_error() {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(response.body()).ok()?;
    v.get("error")?.as_str().map(str::to_string)
}
