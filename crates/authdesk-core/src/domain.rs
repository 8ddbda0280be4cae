//! The domain in Cyclr's vocabulary. These are *views*: serialisable, PascalCase like
//! Cyclr's JSON, and free of secret values (they say which secrets are set, never what
//! they are).

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::definition::{AuthType, ConnectorDefinition, SignInMode};
use crate::secret::Secret;

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Account {
    pub id: String,
    pub name: String,
    pub description: String,
    pub timezone: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default)]
pub struct NewAccount {
    /// A GUID; generated when absent.
    pub id: Option<String>,
    pub name: String,
    pub description: Option<String>,
    pub timezone: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct AccountUser {
    pub account_id: String,
    pub username: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ConnectorSource {
    #[serde(rename = "BuiltIn")]
    Builtin,
    User,
}

/// An entry of the connector library.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LibraryConnector {
    pub id: i64,
    /// The definition's stable slug (`github`).
    pub slug: String,
    pub name: String,
    pub version: String,
    pub description: String,
    pub auth_type: &'static str,
    #[serde(rename = "OAuth2Type", skip_serializing_if = "Option::is_none")]
    pub oauth2_type: Option<&'static str>,
    pub source: ConnectorSource,
    /// Application-level OAuth client id (not secret).
    pub client_id: Option<String>,
    pub client_secret_set: bool,
    #[serde(skip)]
    pub definition: std::sync::Arc<ConnectorDefinition>,
}

/// Authentication status of an account connector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum AuthStatus {
    NotAuthenticated,
    Authenticated,
    #[serde(rename = "NeedsReauthentication")]
    NeedsReauth,
    Error,
}

impl AuthStatus {
    pub fn as_db(self) -> &'static str {
        match self {
            AuthStatus::NotAuthenticated => "not_authenticated",
            AuthStatus::Authenticated => "authenticated",
            AuthStatus::NeedsReauth => "needs_reauth",
            AuthStatus::Error => "error",
        }
    }

    pub fn from_db(s: &str) -> AuthStatus {
        match s {
            "authenticated" => AuthStatus::Authenticated,
            "needs_reauth" => AuthStatus::NeedsReauth,
            "error" => AuthStatus::Error,
            _ => AuthStatus::NotAuthenticated,
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            AuthStatus::NotAuthenticated => "not authenticated",
            AuthStatus::Authenticated => "authenticated",
            AuthStatus::NeedsReauth => "needs re-authentication",
            AuthStatus::Error => "error",
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct PropertyView {
    pub name: String,
    /// `None` for secret properties: see `IsSecret`.
    pub value: Option<String>,
    pub is_secret: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct ConnectorSummary {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub version: String,
    pub auth_type: &'static str,
    #[serde(rename = "OAuth2Type", skip_serializing_if = "Option::is_none")]
    pub oauth2_type: Option<&'static str>,
}

/// A connector installed into an account.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct AccountConnector {
    pub id: i64,
    pub account_id: String,
    pub name: String,
    pub description: String,
    pub authenticated: bool,
    pub status: AuthStatus,
    pub last_error: Option<String>,
    pub connector: ConnectorSummary,
    pub properties: Vec<PropertyView>,
    /// Required properties (from the definition) that have no value yet.
    pub missing_properties: Vec<String>,
    /// Names of the credential secrets that are stored (`AccessToken`, `RefreshToken`...).
    pub secrets_set: Vec<String>,
    pub sign_in_mode: Option<SignInMode>,
    pub token_type: Option<String>,
    pub scopes: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub refresh_expires_at: Option<DateTime<Utc>>,
    pub authenticated_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl AccountConnector {
    pub fn auth_type(&self) -> &'static str {
        self.connector.auth_type
    }
}

/// A property value given by a caller. Every value is held as a [`Secret`] until the
/// definition says whether it is one, so nothing is logged by accident.
#[derive(Debug, Clone)]
pub struct PropertyInput {
    pub name: String,
    pub value: Secret,
}

#[derive(Debug, Clone, Default)]
pub struct InstallRequest {
    pub name: String,
    pub description: Option<String>,
    pub auth_value: Option<Secret>,
    pub properties: Vec<PropertyInput>,
}

pub(crate) fn auth_type_name(def: &ConnectorDefinition) -> (&'static str, Option<&'static str>) {
    let t: AuthType = def.auth_type();
    (t.cyclr_name(), def.oauth2().map(|o| o.grant.cyclr_name()))
}
