//! OAuth 1.0a on a request (RFC 5849 §3): the token credentials and the consumer's, and a
//! signature made for each request from its method, URL and form fields.
//!
//! Must not: sign anything itself (`crate::oauth1` does), or send a secret but in the
//! signing key.

use super::*;
use crate::definition::OAuth1Definition;
use crate::oauth1::{authorization, Credentials, SignatureMethod};
use crate::service::fields;

/// What signs each request of an OAuth 1.0a account connector.
#[derive(Clone)]
pub struct OAuth1Call {
    method: SignatureMethod,
    consumer_key: String,
    consumer_secret: Option<Secret>,
    private_key: Option<Secret>,
    token: Secret,
    token_secret: Secret,
}

impl std::fmt::Debug for OAuth1Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OAuth1Call({}, [redacted])", self.method.name())
    }
}

impl OAuth1Call {
    /// The `Authorization` header for one request (`params`: its form fields, if any).
    pub fn header(
        &self,
        http_method: &str,
        url: &url::Url,
        params: &[(String, String)],
    ) -> Result<String> {
        let creds = Credentials {
            consumer_key: &self.consumer_key,
            consumer_secret: self.consumer_secret.as_ref(),
            private_key: self.private_key.as_ref(),
            token: Some(self.token.expose()),
            token_secret: Some(&self.token_secret),
        };
        authorization(
            self.method,
            &creds,
            http_method,
            url,
            params,
            &[],
            chrono::Utc::now().timestamp(),
        )
        .map_err(Error::InvalidInput)
    }
}

pub(super) async fn apply(engine: &Engine, id: i64, o: &OAuth1Definition) -> Result<AppliedAuth> {
    let (token, secret, creds) = engine
        .db(move |desk| {
            Ok((
                desk.credential_secret(id, fields::ACCESS_TOKEN)?,
                desk.credential_secret(id, fields::TOKEN_SECRET)?,
                desk.resolve_client_credentials(id)?,
            ))
        })
        .await?;
    let (Some(token), Some(token_secret)) = (token, secret) else {
        return Err(Error::NeedsSignIn {
            account_connector_id: id,
            reason: "the OAuth 1.0a connector has no token credentials yet".into(),
        });
    };
    Ok(AppliedAuth {
        oauth1: Some(OAuth1Call {
            method: o.signature_method,
            consumer_key: creds.client_id,
            consumer_secret: creds.client_secret,
            private_key: creds.private_key,
            token,
            token_secret,
        }),
        ..AppliedAuth::default()
    })
}
