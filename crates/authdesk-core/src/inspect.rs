//! Offline inspection of an account connector's credentials: what is stored, for whom,
//! when it expires, what the tokens say, and what of that can be trusted: JWTs are
//! verified against the provider's keys kept at sign-in (`jwt_verify`: signature, `iss`,
//! `aud`, `exp`, `nbf`, RFC 9068 `typ`). Nothing leaves the machine. Token values are
//! masked unless the caller asks to reveal them; when the keychain is unavailable the
//! metadata is still shown, with the reason the secrets could not be opened.
//!
//! Must not: write anything or reach the network, or give a secret's value unless `reveal`
//! asks for it.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::{AccountConnector, AuthStatus};
use crate::error::Result;
use crate::jwt::{decode_unverified, DecodedJwt};
use crate::jwt_verify::{KeptKeys, Verification};
use crate::service::{fields, Authdesk};

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Inspection {
    pub account_connector_id: i64,
    pub account_id: String,
    pub name: String,
    pub connector: String,
    pub auth_type: &'static str,
    #[serde(rename = "OAuth2Type")]
    pub oauth2_type: Option<&'static str>,
    /// Which of the connector's ways to authenticate is in use (its name and Cyclr's
    /// AuthenticationId).
    pub auth_name: String,
    pub authentication_id: String,
    pub status: AuthStatus,
    pub last_error: Option<String>,
    pub token_type: Option<String>,
    /// A DPoP-bound token (RFC 9449): the RFC 7638 thumbprint of the key it is bound to
    /// (the token's `cnf.jkt`).
    pub dpop_jkt: Option<String>,
    pub scopes: Vec<String>,
    pub expires_at: Option<DateTime<Utc>>,
    /// Seconds until `ExpiresAt`; negative once expired.
    pub expires_in_seconds: Option<i64>,
    pub refresh_expires_at: Option<DateTime<Utc>>,
    pub refresh_expires_in_seconds: Option<i64>,
    /// OAuth2: how long before expiry the access token is refreshed (the definition's
    /// `refresh_margin_seconds`, at most a quarter of the token's lifetime).
    pub refresh_margin_seconds: Option<i64>,
    /// OAuth2: when the next use will refresh the access token (`ExpiresAt` minus the
    /// margin, or now when that has passed); none when nothing can renew it.
    pub refresh_due_at: Option<DateTime<Utc>>,
    /// Basic: the stored username (not a secret; the password is only said to be set).
    pub username: Option<String>,
    pub authenticated_at: Option<DateTime<Utc>>,
    pub secrets: Vec<InspectedSecret>,
    /// Why the secrets could not be opened (e.g. keychain unavailable), if so.
    pub secrets_unavailable: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InspectedSecret {
    pub field: String,
    pub masked: String,
    /// Only with `reveal`.
    pub value: Option<String>,
    /// Decoded claims when the value is a JWT.
    pub jwt: Option<DecodedJwt>,
    /// What of the JWT was verified offline, and what was only decoded.
    pub verification: Option<Verification>,
}

/// The JWKS kept at sign-in, and what an ID token and an access token are expected to say.
struct VerifyWith {
    keys: Option<KeptKeys>,
    issuer: Option<String>,
    client_id: Option<String>,
    client_secret: Option<crate::secret::Secret>,
    resource: Option<String>,
}

impl VerifyWith {
    fn verify(&self, field: &str, token: &str, now: DateTime<Utc>) -> Option<Verification> {
        let access_token = field == fields::ACCESS_TOKEN;
        if !access_token && field != fields::ID_TOKEN {
            return None;
        }
        let expected = crate::jwt_verify::Expected {
            issuer: self.issuer.as_deref(),
            audience: if access_token {
                self.resource.as_deref()
            } else {
                self.client_id.as_deref()
            },
            access_token,
            client_secret: self.client_secret.as_ref().map(|s| s.expose()),
        };
        crate::jwt_verify::verify(token, self.keys.as_ref(), &expected, now)
    }
}

impl Authdesk {
    pub fn inspect(&self, account_connector_id: i64, reveal: bool) -> Result<Inspection> {
        let ac: AccountConnector = self.get_account_connector(account_connector_id)?;
        let now = self.now();
        let definition = self.get_connector(&ac.connector.id.to_string())?.definition;
        // The way to authenticate this account connector uses.
        let method = definition.auth_method(Some(&ac.authentication.method_id));
        let oauth2 = method.and_then(|m| m.oauth2().cloned());
        // AuthFields declared not secret (an account name, a region) show as they are.
        let plain_fields: Vec<String> = match method.map(|m| m.auth) {
            Some(crate::definition::AuthDefinition::AuthFields(f)) => f
                .fields
                .iter()
                .filter(|f| !f.secret)
                .map(|f| fields::auth_field(&f.name))
                .collect(),
            _ => Vec::new(),
        };
        let margin = match &oauth2 {
            Some(o) => {
                let t = self.load_token_times(account_connector_id)?;
                Some(crate::engine::refresh_margin(
                    chrono::Duration::seconds(crate::engine::DEFAULT_REFRESH_MARGIN_SECONDS),
                    Some(o),
                    t,
                ))
            }
            None => None,
        };
        let scopes = match (&ac.scopes, &oauth2) {
            (Some(s), Some(o)) => o.split_scopes(s).into_iter().map(str::to_string).collect(),
            (Some(s), None) => s.split_whitespace().map(str::to_string).collect(),
            (None, _) => vec![],
        };

        let verify_with = match &oauth2 {
            Some(o) => {
                let kept = self.provider_keys(account_connector_id)?;
                let creds = self.resolve_client_credentials(account_connector_id).ok();
                // The issuer the keys were fetched for (placeholders filled then), else
                // the definition's when it has no placeholder.
                let issuer = kept
                    .as_ref()
                    .and_then(|k| k.issuer.clone())
                    .or_else(|| o.issuer.clone().filter(|i| !i.contains('{')));
                Some(VerifyWith {
                    keys: kept.and_then(|k| KeptKeys::parse(&k.jwks, k.fetched_at).ok()),
                    issuer,
                    client_id: creds.as_ref().map(|c| c.client_id.clone()),
                    client_secret: creds.and_then(|c| c.client_secret),
                    resource: ["resource", "audience"]
                        .iter()
                        .find_map(|k| o.authorize_params.get(*k).cloned()),
                })
            }
            None => None,
        };
        let mut secrets = Vec::new();
        let mut secrets_unavailable = None;
        let mut username = None;
        for field in &ac.secrets_set {
            match self.credential_secret(account_connector_id, field) {
                Ok(Some(secret)) => {
                    if field == fields::BASIC {
                        username = secret.expose().split(':').next().map(str::to_string);
                    }
                    let jwt = if field == fields::API_KEY || field == fields::BASIC {
                        None
                    } else {
                        decode_unverified(secret.expose())
                    };
                    let verification = match (&jwt, &verify_with) {
                        (Some(_), Some(v)) => v.verify(field, secret.expose(), now),
                        _ => None,
                    };
                    // A password's tail is part of the password: only its length shows.
                    let masked = if field == fields::BASIC {
                        secret.masked_fully()
                    } else if plain_fields.contains(field) {
                        secret.expose().to_string()
                    } else {
                        secret.masked()
                    };
                    secrets.push(InspectedSecret {
                        field: field.clone(),
                        masked,
                        value: reveal.then(|| secret.expose().to_string()),
                        jwt,
                        verification,
                    });
                }
                Ok(None) => {}
                Err(e) => {
                    secrets_unavailable = Some(e.to_string());
                    break;
                }
            }
        }
        Ok(Inspection {
            account_connector_id,
            account_id: ac.account_id.clone(),
            name: ac.name.clone(),
            connector: format!(
                "{} {} ({})",
                ac.connector.name, ac.connector.version, ac.connector.slug
            ),
            auth_type: ac.authentication.auth_type,
            auth_name: ac.authentication.auth_name.clone(),
            authentication_id: ac.authentication_id.clone(),
            oauth2_type: oauth2.as_ref().map(|o| o.grant.cyclr_name()),
            status: ac.status,
            last_error: ac.last_error.clone(),
            token_type: ac.token_type.clone(),
            dpop_jkt: if crate::engine::dpop::is_dpop_type(ac.token_type.as_deref()) {
                self.dpop_thumbprint(ac.id)?
            } else {
                None
            },
            scopes,
            expires_in_seconds: ac.expires_at.map(|e| (e - now).num_seconds()),
            expires_at: ac.expires_at,
            refresh_expires_in_seconds: ac.refresh_expires_at.map(|e| (e - now).num_seconds()),
            refresh_expires_at: ac.refresh_expires_at,
            refresh_margin_seconds: margin.map(|m| m.num_seconds()),
            // Only for a token that can be renewed, and never in the past: one that is due
            // is renewed at its next use (or the keep-alive's next pass).
            refresh_due_at: ac
                .expires_at
                .zip(margin)
                .filter(|_| {
                    crate::service::renewable(
                        oauth2.as_ref().map(|o| o.grant),
                        ac.secrets_set.iter().any(|f| f == fields::REFRESH_TOKEN),
                        ac.refresh_expires_at,
                        now,
                    )
                })
                .map(|(e, m)| (e - m).max(now)),
            authenticated_at: ac.authenticated_at,
            username,
            secrets,
            secrets_unavailable,
        })
    }
}
