//! The auth to put on a request: the list of ways, each applied by its own module (an API
//! key in a header or the query, AuthFields in headers, the query or the JSON body, Basic
//! credentials, an OAuth 2 access token refreshed first when due); `None` puts nothing. To
//! add an auth type: its module here and its arm below.
//!
//! Must not: refresh by itself (it asks `refresh`), build URLs (`context`).

mod api_key;
mod auth_fields;
mod basic;
mod oauth1;
mod oauth2;

use super::*;

/// Authentication to put on a request: headers, query parameters and keys of a JSON object
/// body (AuthFields), each in the order given.
#[derive(Debug, Clone, Default)]
pub struct AppliedAuth {
    pub headers: Vec<(String, Secret)>,
    pub query: Vec<(String, Secret)>,
    pub body: Vec<(String, Secret)>,
    /// A DPoP-bound token (RFC 9449): each request gets a proof of this key.
    pub dpop: Option<oauth2::DpopCall>,
    /// OAuth 1.0a: each request is signed (RFC 5849).
    pub oauth1: Option<oauth1::OAuth1Call>,
}

impl AppliedAuth {
    /// Nothing to put on the request.
    pub fn none() -> AppliedAuth {
        AppliedAuth::default()
    }

    pub fn header(name: impl Into<String>, value: Secret) -> AppliedAuth {
        AppliedAuth {
            headers: vec![(name.into(), value)],
            ..AppliedAuth::default()
        }
    }

    pub fn query(name: impl Into<String>, value: Secret) -> AppliedAuth {
        AppliedAuth {
            query: vec![(name.into(), value)],
            ..AppliedAuth::default()
        }
    }

    /// Adds the query parameters to `url`.
    pub(super) fn put_query(&self, url: &mut url::Url) {
        if !self.query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(self.query.iter().map(|(k, v)| (k.as_str(), v.expose())));
        }
    }

    /// Puts the headers into `headers` (replacing any of the same name), marked sensitive.
    pub(super) fn put_headers(&self, headers: &mut reqwest::header::HeaderMap) -> Result<()> {
        for (name, value) in &self.headers {
            let n = reqwest::header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| Error::InvalidInput(format!("bad auth header name {name:?}")))?;
            let mut v = reqwest::header::HeaderValue::from_str(value.expose()).map_err(|_| {
                Error::InvalidInput(format!(
                    "the stored credential cannot be sent in the {name} header"
                ))
            })?;
            v.set_sensitive(true);
            headers.insert(n, v);
        }
        Ok(())
    }

    /// Signs the request (OAuth 1.0a) when the auth says so: `params` are its form fields.
    pub(super) fn put_oauth1(
        &self,
        method: &str,
        url: &url::Url,
        params: &[(String, String)],
        headers: &mut reqwest::header::HeaderMap,
    ) -> Result<()> {
        if let Some(o) = &self.oauth1 {
            let mut v = reqwest::header::HeaderValue::from_str(&o.header(method, url, params)?)
                .map_err(|_| Error::Internal("an OAuth header that cannot be sent".into()))?;
            v.set_sensitive(true);
            headers.insert(reqwest::header::AUTHORIZATION, v);
        }
        Ok(())
    }

    /// Adds a DPoP proof for `method` `url` when the token is DPoP-bound.
    pub(super) fn put_dpop(
        &self,
        state: &super::dpop::DpopState,
        method: &str,
        url: &url::Url,
        headers: &mut reqwest::header::HeaderMap,
    ) {
        if let Some(d) = &self.dpop {
            let proof = d.proof(state, method, url);
            if let Ok(v) = reqwest::header::HeaderValue::from_str(&proof) {
                headers.insert(super::dpop::DPOP, v);
            }
        }
    }

    /// Merges the body fields into a JSON object body (`None`: there was no body, and the
    /// fields make one). Anything but an object cannot carry them: an error, before sending.
    pub(super) fn put_body(
        &self,
        body: Option<serde_json::Value>,
    ) -> Result<Option<serde_json::Value>> {
        if self.body.is_empty() {
            return Ok(body);
        }
        let mut object = match body {
            None => serde_json::Map::new(),
            Some(serde_json::Value::Object(o)) => o,
            Some(_) => {
                return Err(Error::InvalidInput(format!(
                    "the connector's auth puts {} in a JSON object body, and this request's \
                     body is not a JSON object",
                    self.body
                        .iter()
                        .map(|(k, _)| k.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )))
            }
        };
        for (k, v) in &self.body {
            object.insert(k.clone(), serde_json::Value::String(v.expose().to_string()));
        }
        Ok(Some(serde_json::Value::Object(object)))
    }
}

impl Engine {
    /// The auth to apply to a request on account connector `id`, and the credential
    /// version it came from (for a forced refresh after a 401).
    pub async fn access(&self, id: i64) -> Result<(AppliedAuth, Option<i64>)> {
        let ctx = self.context(id).await?;
        let (auth, version, _) = self.access_with(&ctx).await?;
        Ok((auth, version))
    }

    /// The auth, the credential version and until when (margin included) it may be used
    /// without looking again.
    pub(super) async fn access_with(
        &self,
        ctx: &Context,
    ) -> Result<(AppliedAuth, Option<i64>, Option<DateTime<Utc>>)> {
        let id = ctx.ac.id;
        match ctx.auth() {
            AuthDefinition::None {} => Ok((AppliedAuth::none(), None, None)),
            AuthDefinition::ApiKey(k) => Ok((api_key::apply(self, id, k).await?, None, None)),
            AuthDefinition::AuthFields(f) => {
                Ok((auth_fields::apply(self, id, f).await?, None, None))
            }
            AuthDefinition::Basic {} => Ok((basic::apply(self, id).await?, None, None)),
            AuthDefinition::Oauth2(o) => oauth2::apply(self, ctx, o).await,
            AuthDefinition::Oauth1(o) => Ok((oauth1::apply(self, id, o).await?, None, None)),
        }
    }
}
