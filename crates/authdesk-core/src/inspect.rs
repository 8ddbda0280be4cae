//! Offline inspection of an account connector's credentials: what is stored, for whom,
//! when it expires, what the tokens say. Nothing leaves the machine. Token values are
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
    /// Decoded, unverified claims when the value is a JWT.
    pub jwt: Option<DecodedJwt>,
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
