//! OAuth 1.0a sign-in (RFC 5849 §2): temporary credentials requested with `oauth_callback`
//! (the sign-in's redirect URI, carrying its `state` so the answer finds its pending
//! sign-in like an OAuth 2 one), the user's authorization at `authorize_url`, then token
//! credentials for the `oauth_verifier`. Every leg is signed with the consumer's
//! credentials (and the temporary token's secret for the last).
//!
//! Must not: accept temporary credentials whose callback the provider did not confirm
//! (`oauth_callback_confirmed`), an answer for another temporary token, or put a secret in
//! an error.

use super::{Context, Engine};
use crate::definition::OAuth1Definition;
use crate::domain::AccountConnector;
use crate::error::{Error, Result};
use crate::oauth1::{authorization, Credentials};
use crate::secret::Secret;
use crate::token_store::{NewTokens, PendingAuthorization, TokenCommit};

/// The temporary credentials kept with the pending sign-in (sealed like a PKCE verifier).
#[derive(serde::Serialize, serde::Deserialize)]
struct Temporary {
    token: String,
    secret: String,
}

impl Engine {
    /// The first leg: temporary credentials, and the authorization URL for them. Returns
    /// that URL and what the pending sign-in keeps.
    pub(super) async fn begin_oauth1(
        &self,
        ctx: &Context,
        o: &OAuth1Definition,
        redirect: &url::Url,
        state: &Secret,
    ) -> Result<(url::Url, Secret)> {
        let id = ctx.ac.id;
        let creds = self
            .db(move |desk| desk.resolve_client_credentials(id))
            .await?;
        let endpoints = ctx.oauth1_endpoints()?;
        let mut callback = redirect.clone();
        callback
            .query_pairs_mut()
            .append_pair("state", state.expose());
        let answer = self
            .oauth1_post(
                ctx,
                o,
                &creds,
                &endpoints.request_token,
                None,
                &[("oauth_callback", callback.as_str())],
                "temporary credentials request",
            )
            .await;
        let answer = match answer {
            Ok(a) => a,
            Err(f) => {
                // The sign-in could not start: recorded with the exchange, like a failure
                // at its end.
                let (message, exchange) = (f.error.to_string(), f.exchange);
                let id = ctx.ac.id;
                let _ = self
                    .db(move |desk| {
                        desk.record_failure(id, "sign_in_failed", &message, exchange.as_ref())
                    })
                    .await;
                return Err(f.error);
            }
        };
        let field = |name: &str| {
            answer
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        if field("oauth_callback_confirmed").as_deref() != Some("true") {
            return Err(Error::ProviderRejected(
                "the provider did not confirm the callback (oauth_callback_confirmed is missing): \
                 it is not an OAuth 1.0a provider, or request_token_url is wrong"
                    .into(),
            ));
        }
        let (Some(token), Some(secret)) = (field("oauth_token"), field("oauth_token_secret"))
        else {
            return Err(Error::ProviderRejected(
                "the temporary credentials answer has no oauth_token or oauth_token_secret".into(),
            ));
        };
        let mut url = url::Url::parse(&endpoints.authorize)
            .map_err(|e| Error::InvalidInput(format!("authorize_url is not a URL: {e}")))?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("oauth_token", &token);
            for (k, v) in &o.authorize_params {
                q.append_pair(k, v);
            }
        }
        let held = serde_json::to_string(&Temporary { token, secret })
            .map_err(|e| Error::Internal(e.to_string()))?;
        Ok((url, Secret::new(held)))
    }

    /// The last leg: token credentials for the verifier the provider sent back.
    pub(super) async fn complete_oauth1(
        &self,
        ctx: &Context,
        o: &OAuth1Definition,
        callback: &url::Url,
        pending: &PendingAuthorization,
    ) -> Result<AccountConnector> {
        let id = ctx.ac.id;
        let param = |name: &str| {
            callback
                .query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        };
        if let Some(problem) = param("oauth_problem") {
            let what = if problem == "user_refused" {
                "the user refused the sign-in at the provider (oauth_problem=user_refused)".into()
            } else {
                format!(
                    "the provider did not grant access (oauth_problem={})",
                    super::tokens::clip(&problem)
                )
            };
            return Err(self.sign_in_failed(id, what).await);
        }
        let temporary: Temporary = pending
            .pkce_verifier
            .as_ref()
            .and_then(|s| serde_json::from_str(s.expose()).ok())
            .ok_or_else(|| {
                Error::AuthorizationFailed(
                    "this sign-in lost its temporary credentials; start it again".into(),
                )
            })?;
        if param("oauth_token").as_deref() != Some(temporary.token.as_str()) {
            return Err(self
                .sign_in_failed(
                    id,
                    "the answer is for another sign-in (its oauth_token is not this one's)".into(),
                )
                .await);
        }
        let Some(verifier) = param("oauth_verifier") else {
            return Err(self
                .sign_in_failed(id, "the provider's answer has no oauth_verifier".into())
                .await);
        };
        let creds = self
            .db(move |desk| desk.resolve_client_credentials(id))
            .await?;
        let endpoints = ctx.oauth1_endpoints()?;
        let secret = Secret::new(temporary.secret);
        let answer = match self
            .oauth1_post(
                ctx,
                o,
                &creds,
                &endpoints.access_token,
                Some((&temporary.token, &secret)),
                &[("oauth_verifier", verifier.as_str())],
                "token credentials request",
            )
            .await
        {
            Ok(a) => a,
            Err(f) => {
                return Err(self
                    .sign_in_failed_after(id, f.error.to_string(), f.exchange)
                    .await)
            }
        };
        let field = |name: &str| {
            answer
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| Secret::new(v.clone()))
        };
        let (Some(token), Some(token_secret)) = (field("oauth_token"), field("oauth_token_secret"))
        else {
            return Err(self
                .sign_in_failed(
                    id,
                    "the token credentials answer has no oauth_token or oauth_token_secret".into(),
                )
                .await);
        };
        let tokens = NewTokens {
            access_token: token,
            refresh_token: None,
            id_token: None,
            token_secret: Some(token_secret),
            token_type: Some("OAuth1".into()),
            scope: None,
            expires_at: None,
            refresh_expires_at: None,
            response_fields: Default::default(),
            captured: Vec::new(),
        };
        self.db(move |desk| {
            desk.commit_tokens(id, &tokens, TokenCommit::NewGrant, "signed_in", None)?;
            desk.get_account_connector(id)
        })
        .await
    }

    /// A signed POST to an OAuth 1.0a endpoint; its form-encoded answer.
    #[allow(clippy::too_many_arguments)]
    async fn oauth1_post(
        &self,
        ctx: &Context,
        o: &OAuth1Definition,
        creds: &crate::credentials::ClientCredentials,
        url: &str,
        token: Option<(&str, &Secret)>,
        extra: &[(&str, &str)],
        what: &str,
    ) -> std::result::Result<Vec<(String, String)>, Failed> {
        let target = url::Url::parse(url).map_err(|e| {
            Failed::plain(Error::InvalidInput(format!(
                "{what}: the URL is not valid ({e})"
            )))
        })?;
        let signing = Credentials {
            consumer_key: &creds.client_id,
            consumer_secret: creds.client_secret.as_ref(),
            private_key: creds.private_key.as_ref(),
            token: token.map(|(t, _)| t),
            token_secret: token.map(|(_, s)| s),
        };
        let header = authorization(
            o.signature_method,
            &signing,
            "POST",
            &target,
            &[],
            extra,
            self.desk.now().timestamp(),
        )
        .map_err(|e| Failed::plain(Error::InvalidInput(e)))?;
        let asked = crate::diagnostics::Request::new(
            "POST",
            url,
            [("authorization", header.as_bytes())].into_iter(),
            b"",
        );
        let http = ctx.client(self, url, super::http::Follow::Never);
        let response = http
            .post(target)
            .header(reqwest::header::AUTHORIZATION, &header)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .send()
            .await
            .map_err(|e| {
                let message = super::http::HttpFailure::from_reqwest(&e).to_string();
                Failed {
                    exchange: Some(asked.failed(&message)),
                    error: Error::Http {
                        what: format!("the {what} of {}", ctx.def.id),
                        message,
                    },
                }
            })?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = super::http::read_capped(response, 64 * 1024)
            .await
            .unwrap_or_default();
        if !status.is_success() {
            let exchange = asked.answered(
                status.as_u16(),
                headers.iter().map(|(n, v)| (n.as_str(), v.as_bytes())),
                &body,
            );
            // The answer may name the problem (oauth_problem); it holds no credential.
            let problem = url::form_urlencoded::parse(&body)
                .find(|(k, _)| k == "oauth_problem" || k == "error")
                .map(|(_, v)| format!(": {}", super::tokens::clip(&v)))
                .unwrap_or_default();
            return Err(Failed {
                error: Error::ProviderRejected(format!(
                    "the provider refused the {what} (HTTP {}{problem}): check the consumer key and \
                     secret (ClientId, ClientSecret) and signature_method",
                    status.as_u16()
                )),
                exchange: Some(exchange),
            });
        }
        Ok(url::form_urlencoded::parse(&body).into_owned().collect())
    }
}

/// A failed OAuth 1.0a request, with what was seen of the exchange (redacted).
struct Failed {
    error: Error,
    exchange: Option<crate::diagnostics::Exchange>,
}

impl Failed {
    fn plain(error: Error) -> Failed {
        Failed {
            error,
            exchange: None,
        }
    }
}
