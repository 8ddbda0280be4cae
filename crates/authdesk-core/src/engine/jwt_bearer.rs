//! The JWT bearer grant (RFC 7523 §2.1, RFC 7521 §4.1): the app signs a JWT with its
//! private key and that JWT is the grant — Google service accounts, Salesforce's JWT
//! bearer flow. The claims: `iss` (the definition's `assertion_issuer`, default the
//! ClientId), `sub` (`assertion_subject`, default the `iss`), `aud` (`assertion_audience`,
//! default the token endpoint), `scope` (the definition's scopes, when it has some), a
//! fresh `jti`, `iat` and `exp` a minute later. Placeholders are the account connector's
//! properties and `{ClientId}`.
//!
//! Must not: send the key, reuse an assertion, or read a response other than through the
//! token endpoint's classification (`tokens::read_token_response`).

use chrono::{DateTime, Utc};
use serde_json::json;

use super::context::Context;
use super::extension_grant;
use super::tokens::{joined_scope, read_token_response, Endpoints, TokenError};
use crate::credentials::ClientCredentials;
use crate::definition::OAuth2Definition;
use crate::signing::SigningKey;
use crate::token_store::NewTokens;

/// RFC 7523 §2.1.
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// The claims an assertion makes about who it is for.
pub struct AssertionClaims {
    pub issuer: String,
    pub subject: String,
    pub audience: String,
}

fn configuration(description: String) -> TokenError {
    TokenError::configuration(description)
}

/// The claims for one account connector, placeholders filled.
pub fn claims_for(
    ctx: &Context,
    def: &OAuth2Definition,
    creds: &ClientCredentials,
    endpoints: &Endpoints,
) -> Result<AssertionClaims, TokenError> {
    let fill = |field: &str, text: &str| {
        let text = text.replace("{ClientId}", &creds.client_id);
        ctx.header_value(field, &text)
            .map_err(|e| configuration(e.to_string()))
    };
    let issuer = match &def.assertion_issuer {
        Some(t) => fill("auth.assertion_issuer", t)?,
        None => creds.client_id.clone(),
    };
    let subject = match &def.assertion_subject {
        Some(t) => fill("auth.assertion_subject", t)?,
        None => issuer.clone(),
    };
    let audience = match &def.assertion_audience {
        Some(t) => fill("auth.assertion_audience", t)?,
        None => endpoints.token.clone(),
    };
    Ok(AssertionClaims {
        issuer,
        subject,
        audience,
    })
}

/// Asks the token endpoint for a token with a new assertion.
pub async fn request_tokens(
    http: &reqwest::Client,
    def: &OAuth2Definition,
    creds: &ClientCredentials,
    endpoints: &Endpoints,
    claims: &AssertionClaims,
    now: DateTime<Utc>,
    dpop: Option<super::dpop::DpopUse<'_>>,
) -> Result<NewTokens, TokenError> {
    let pem = creds.private_key.as_ref().ok_or_else(|| {
        configuration("the JWT bearer grant needs the app's private key (ClientPrivateKey)".into())
    })?;
    let key =
        SigningKey::from_pem(pem).map_err(|e| configuration(format!("ClientPrivateKey {e}")))?;
    let scope = joined_scope(def).map(|s| s.to_string());
    let mut body = json!({
        "iss": claims.issuer,
        "sub": claims.subject,
        "aud": claims.audience,
        "jti": uuid::Uuid::new_v4().to_string(),
        "iat": now.timestamp(),
        "exp": now.timestamp() + 60,
    });
    if let Some(scope) = &scope {
        body["scope"] = scope.clone().into();
    }
    let assertion = key.sign(json!({"typ": "JWT", "kid": key.thumbprint()}), &body);
    let mut form: Vec<(&'static str, String)> = vec![
        ("grant_type", GRANT_TYPE.to_string()),
        ("assertion", assertion),
    ];
    if let Some(scope) = scope {
        form.push(("scope", scope));
    }
    // Most providers take the assertion alone (`client_auth = "none"`); others also want
    // the client authenticated.
    let answer = extension_grant::post(
        http,
        def,
        creds,
        endpoints,
        &endpoints.token,
        form,
        now,
        dpop,
    )
    .await?;
    read_token_response(answer.result, &answer.observed, now)
}
