//! The domain in Cyclr's vocabulary. The *views* are serialisable, PascalCase like
//! Cyclr's JSON with the fields Cyclr's API documents (`CreatedDate`, `Connector.Status`,
//! `Authentication`, `Parameters`, ...) plus Authdesk's own, and free of secret values
//! (they say which secrets are set, never what they are; `AuthValue` is always null). The
//! inputs the service takes (new accounts, installs, changes, credential forms) hold each
//! secret as a [`Secret`].
//!
//! Must not: read or write the store (the service fills the views), or put a secret value
//! in a view.

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use crate::definition::stable_id;
use crate::definition::{AuthMethod, ConnectorDefinition, SignInMode};
use crate::secret::Secret;

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Account {
    pub id: String,
    pub name: String,
    pub description: String,
    pub timezone: String,
    pub created_at: DateTime<Utc>,
    /// Cyclr's spelling of `CreatedAt` (UTC, seven fractional digits).
    pub created_date: String,
    #[serde(flatten)]
    pub settings: AccountSettings,
    /// Cyclr returns audit details here; Authdesk keeps none (always null).
    pub audit_info: Option<serde_json::Value>,
    pub task_audit_info: Option<serde_json::Value>,
}

/// Account fields Cyclr's API documents for features Authdesk does not have (step data of
/// cycles, transaction-error webhooks) and sub-accounts: stored and returned as given.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct AccountSettings {
    pub step_data_success_retention_hours: Option<i64>,
    pub step_data_errored_retention_hours: Option<i64>,
    pub transaction_error_webhook_enabled: Option<bool>,
    pub transaction_error_webhook_url: Option<String>,
    pub transaction_error_webhook_include_warnings: Option<bool>,
    pub parent_account_id: Option<String>,
}

impl AccountSettings {
    /// These settings where given, `old` where not (an update's merge).
    pub fn or(self, old: AccountSettings) -> AccountSettings {
        AccountSettings {
            step_data_success_retention_hours: self
                .step_data_success_retention_hours
                .or(old.step_data_success_retention_hours),
            step_data_errored_retention_hours: self
                .step_data_errored_retention_hours
                .or(old.step_data_errored_retention_hours),
            transaction_error_webhook_enabled: self
                .transaction_error_webhook_enabled
                .or(old.transaction_error_webhook_enabled),
            transaction_error_webhook_url: self
                .transaction_error_webhook_url
                .or(old.transaction_error_webhook_url),
            transaction_error_webhook_include_warnings: self
                .transaction_error_webhook_include_warnings
                .or(old.transaction_error_webhook_include_warnings),
            parent_account_id: self.parent_account_id.or(old.parent_account_id),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct NewAccount {
    /// A GUID; generated when absent.
    pub id: Option<String>,
    pub name: String,
    pub description: Option<String>,
    pub timezone: Option<String>,
    pub settings: AccountSettings,
}

/// A change to an account: each `Some` replaces the stored value, each `None` keeps it.
#[derive(Debug, Clone, Default)]
pub struct AccountUpdate {
    pub name: Option<String>,
    pub description: Option<String>,
    pub timezone: Option<String>,
    pub settings: AccountSettings,
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
    /// Cyclr's connector status; every library entry here is usable: `Approved`.
    pub status: &'static str,
    /// Cyclr sends base64 icon data; Authdesk has none (null).
    pub icon: Option<String>,
    /// The default way to authenticate, as Cyclr's flat fields.
    pub auth_description: Option<String>,
    pub auth_type: &'static str,
    #[serde(rename = "OAuth2Type")]
    pub oauth2_type: &'static str,
    pub auth_scheme: Option<String>,
    /// Every way to authenticate (an install picks one with `AuthenticationId`).
    pub authentication: Vec<AuthenticationView>,
    /// What an install form asks for: the account connector properties.
    pub parameters: Vec<ParameterView>,
    pub source: ConnectorSource,
    /// Application-level OAuth client id (not secret).
    pub client_id: Option<String>,
    pub client_secret_set: bool,
    /// The public half of the app's private key (`private_key_jwt`), as the JWK to
    /// register with the provider; null when no key is set.
    #[serde(rename = "PublicJwk")]
    pub public_jwk: Option<serde_json::Value>,
    /// The definition's `category` (`crm`, `accounting`, ...), if it says one.
    pub category: Option<String>,
    #[serde(skip)]
    pub definition: std::sync::Arc<ConnectorDefinition>,
}

/// Credentials typed into a form, one kind per way to authenticate (the window's credential
/// forms; the API and the CLI take Cyclr's AuthValue text instead).
#[derive(Debug, Clone)]
pub enum CredentialForm {
    ApiKey {
        key: Secret,
    },
    Basic {
        username: String,
        password: Secret,
    },
    /// Tokens obtained elsewhere; dates as Cyclr writes them (ISO 8601).
    OAuth2 {
        access_token: Option<Secret>,
        refresh_token: Option<Secret>,
        expires: Option<String>,
        refresh_expires: Option<String>,
    },
    /// AuthFields: each field's value, by name.
    AuthFields {
        values: std::collections::BTreeMap<String, Secret>,
    },
}

/// What to do with a library entry's ClientSecret when its OAuth app is saved.
#[derive(Debug, Clone, Copy)]
pub enum ClientSecretChange<'a> {
    /// Keep the stored secret (an error if there is none: say `Public`).
    Keep,
    Set(&'a Secret),
    /// A public client: no secret (PKCE protects the code).
    Public,
}

/// Authentication status of an account connector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub enum AuthStatus {
    NotAuthenticated,
    Authenticated,
    #[serde(rename = "NeedsReauthentication")]
    NeedsReauth,
    Error,
    /// Shown, never stored: an authenticated access token that has expired and that nothing
    /// can renew without the user (no usable refresh token, a grant that needs the user).
    /// Stored as `authenticated`; the fix is to sign in again or set a new AuthValue.
    Expired,
}

impl AuthStatus {
    pub fn as_db(self) -> &'static str {
        match self {
            AuthStatus::NotAuthenticated => "not_authenticated",
            // Expired is a stored `authenticated` whose token has run out.
            AuthStatus::Authenticated | AuthStatus::Expired => "authenticated",
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

    /// From what a user types: `NeedsReauthentication`, `needs_reauth`, `needs-reauth`,
    /// `authenticated`, ... (any case).
    pub fn parse(text: &str) -> Option<AuthStatus> {
        let t = text.trim().to_ascii_lowercase().replace(['-', ' '], "_");
        Some(match t.as_str() {
            "authenticated" => AuthStatus::Authenticated,
            "notauthenticated" | "not_authenticated" => AuthStatus::NotAuthenticated,
            "needsreauthentication" | "needs_reauthentication" | "needs_reauth" | "needsreauth" => {
                AuthStatus::NeedsReauth
            }
            "error" => AuthStatus::Error,
            "expired" => AuthStatus::Expired,
            _ => return None,
        })
    }

    pub fn describe(self) -> &'static str {
        match self {
            AuthStatus::NotAuthenticated => "not authenticated",
            AuthStatus::Authenticated => "authenticated",
            AuthStatus::NeedsReauth => "needs re-authentication",
            AuthStatus::Error => "error",
            AuthStatus::Expired => "expired",
        }
    }
}

/// One way a connector authenticates (Cyclr's `Authentication[]`).
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct AuthenticationView {
    /// Cyclr's `AuthenticationId`: a GUID stable for this connector and method.
    pub id: String,
    /// The method's id in the definition (`default` for `[auth]`).
    pub method_id: String,
    pub auth_name: String,
    pub auth_description: Option<String>,
    pub auth_type: &'static str,
    /// `AuthorisationCode`, `ClientCredentials`, `PasswordCredentials`, or `Unknown` when
    /// the method is not OAuth 2.0 (as Cyclr writes it).
    #[serde(rename = "OAuth2Type")]
    pub oauth2_type: &'static str,
    pub auth_scheme: Option<String>,
    pub is_default: bool,
    /// Authdesk: a credential that only a method call can show to work or be refused (an
    /// API key, AuthFields, Basic), so its status says what the last call said of it.
    pub verified_by_calls: bool,
    /// AuthFields: the fields an AuthValue (or the window's form) gives, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub auth_fields: Vec<AuthFieldView>,
}

/// One field of an AuthFields connector (never its value).
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct AuthFieldView {
    pub name: String,
    /// `body`, `query` or `header`.
    pub placement: &'static str,
    pub is_secret: bool,
    pub description: String,
}

/// An account connector property an install form asks for (Cyclr's `Parameters[]`).
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct ParameterView {
    /// Stable for this connector and property; install's `Properties[].Id`.
    pub id: i64,
    pub name: String,
    pub description: String,
    /// The property's name, which install's `Properties[].Name` carries.
    pub target_name: String,
    pub target_type: &'static str,
    pub is_account_connector_property: bool,
    pub is_sensitive: bool,
    pub is_optional: bool,
    pub data_type: &'static str,
    pub trigger_name: Option<String>,
    /// Allowed values, when the definition lists them (none here: free text).
    pub values: Vec<String>,
    /// Authdesk: a valid example, and the constraints a value must meet.
    pub example: Option<String>,
    pub pattern: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct PropertyView {
    /// Cyclr's `Parameters[].Id` of this property (0 for one the definition does not
    /// declare, e.g. `ClientId`).
    pub id: i64,
    pub account_connector_id: i64,
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
    pub description: String,
    pub status: &'static str,
    pub version: String,
    pub icon: Option<String>,
    pub auth_description: Option<String>,
    pub auth_type: &'static str,
    #[serde(rename = "OAuth2Type")]
    pub oauth2_type: &'static str,
    pub auth_scheme: Option<String>,
    /// The connector's `Parameters[]`: Cyclr's documents tell partners to look here for the
    /// account connector properties to set (`IsAccountConnectorProperty`).
    pub parameters: Vec<ParameterView>,
}

/// A connector installed into an account.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct AccountConnector {
    pub id: i64,
    pub account_id: String,
    pub name: String,
    pub description: String,
    /// Always null: Authdesk never hands a secret out (Cyclr echoes it). `SecretsSet`
    /// says what is stored.
    pub auth_value: Option<String>,
    pub authenticated: bool,
    pub status: AuthStatus,
    pub last_error: Option<String>,
    pub connector: ConnectorSummary,
    /// The way to authenticate this account connector uses (Cyclr's `AuthenticationId`).
    pub authentication_id: String,
    pub authentication: AuthenticationView,
    /// Installed by LAUNCH as the partner's own connector.
    pub is_partner_integration_connector: bool,
    pub properties: Vec<PropertyView>,
    /// Cyclr's custom fields; Authdesk has none (always empty).
    pub custom_fields: Vec<serde_json::Value>,
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
    /// The last verdict of a method call on the stored credential (this version of it):
    /// none until a call answers 2xx or 401/403.
    pub last_check: Option<CredentialCheck>,
    /// When the credential was last checked (a `[check]` request or a method call's
    /// verdict); `LastCheck` says what the answer was.
    pub last_checked_at: Option<DateTime<Utc>>,
}

/// What a method call said about the stored credential.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct CredentialCheck {
    pub at: DateTime<Utc>,
    pub http_status: u16,
    /// 2xx: the credential works; 401/403: the provider refused it.
    pub ok: bool,
}

impl AccountConnector {
    /// The auth type of the method in use.
    pub fn auth_type(&self) -> &'static str {
        self.authentication.auth_type
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
    /// Which way to authenticate: Cyclr's `AuthenticationId` GUID or the method's id in the
    /// definition; `None`: the default.
    pub authentication_id: Option<String>,
    pub auth_value: Option<Secret>,
    pub properties: Vec<PropertyInput>,
    /// Installed by LAUNCH as the partner's own connector.
    pub partner_integration: bool,
}

/// Which account connectors a list shows (every field narrows it).
#[derive(Debug, Clone, Default)]
pub struct AccountConnectorFilter {
    pub account_id: Option<String>,
    pub status: Option<AuthStatus>,
    /// A library connector: its Id or slug.
    pub connector: Option<String>,
    /// Part of the account connector's name or its connector's slug (any case).
    pub search: Option<String>,
    /// Only those with an expiry, the soonest first (the window's "expiring next"); else
    /// in Id order.
    pub expiring_first: bool,
    /// Only those that need the user (the one rule of `Counts::needs_attention`).
    pub needs_attention: bool,
}

/// One page of a list, and how many items the whole list has.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
}

/// Counts over the whole data directory, from aggregate queries.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Counts {
    pub accounts: u64,
    pub account_connectors: u64,
    pub authenticated: u64,
    pub not_authenticated: u64,
    pub needs_reauthentication: u64,
    pub error: u64,
    /// Authenticated, but the access token has expired and cannot be renewed.
    pub expired: u64,
    /// Authenticated, but the provider refused the API key or Basic password.
    pub refused: u64,
    /// The one rule for every "needs attention" marker: the sum of the four above.
    pub needs_attention: u64,
}

impl Counts {
    /// What needs the user: re-authentication, an error, an expired token that cannot be
    /// renewed, or a refused key or password (`service::account_connectors::attention`).
    pub fn needing_attention(&self) -> u64 {
        self.needs_reauthentication + self.error + self.expired + self.refused
    }
}

/// A change to an account connector (`None`/empty: keep what is stored).
#[derive(Debug, Clone, Default)]
pub struct AccountConnectorChange {
    pub name: Option<String>,
    pub description: Option<String>,
    /// Switch the way to authenticate (Cyclr's `AuthenticationId` or the method's id).
    pub authentication_id: Option<String>,
    pub properties: Vec<PropertyInput>,
    pub auth_value: Option<Secret>,
}

/// Cyclr's view of one way to authenticate.
pub fn authentication_view(def: &ConnectorDefinition, m: AuthMethod<'_>) -> AuthenticationView {
    let (auth_scheme, auth_type) = (m.auth.scheme(), m.auth_type());
    AuthenticationView {
        id: def.authentication_guid(m.id),
        method_id: m.id.to_string(),
        auth_name: m.name.to_string(),
        auth_description: (!m.description.is_empty()).then(|| m.description.to_string()),
        auth_type: auth_type.cyclr_name(),
        oauth2_type: m.oauth2().map_or("Unknown", |o| o.grant.cyclr_name()),
        auth_scheme,
        is_default: m.is_default(),
        verified_by_calls: m.auth.verified_by_calls(),
        auth_fields: match m.auth {
            crate::definition::AuthDefinition::AuthFields(f) => f
                .fields
                .iter()
                .map(|f| AuthFieldView {
                    name: f.name.clone(),
                    placement: f.placement.as_str(),
                    is_secret: f.secret,
                    description: f.description.clone(),
                })
                .collect(),
            _ => Vec::new(),
        },
    }
}

/// Cyclr's `Parameters[]` of a connector: its declared account connector properties.
pub fn parameter_views(def: &ConnectorDefinition) -> Vec<ParameterView> {
    def.properties
        .iter()
        .map(|p| ParameterView {
            id: stable_id(&def.id, "property", &p.name),
            name: p.name.clone(),
            description: p.description.clone(),
            target_name: p.name.clone(),
            target_type: "AccountConnectorProperty",
            is_account_connector_property: true,
            is_sensitive: def.is_secret_property(&p.name),
            is_optional: !p.required,
            data_type: "Text",
            trigger_name: None,
            values: vec![],
            example: p.example.clone(),
            pattern: p.pattern.clone(),
        })
        .collect()
}

/// The connector-level summary, with the flat auth fields of `method` (the library's
/// default, or the way an account connector authenticates: Cyclr's account connector answer
/// shows the AuthType that account connector uses).
pub fn connector_summary(
    id: i64,
    slug: &str,
    def: &ConnectorDefinition,
    method: AuthMethod<'_>,
) -> ConnectorSummary {
    let default = authentication_view(def, method);
    ConnectorSummary {
        id,
        slug: slug.to_string(),
        name: def.name.clone(),
        description: def.description.clone(),
        status: "Approved",
        version: def.version.clone(),
        icon: None,
        auth_description: default.auth_description,
        auth_type: default.auth_type,
        oauth2_type: default.oauth2_type,
        auth_scheme: default.auth_scheme,
        parameters: parameter_views(def),
    }
}
