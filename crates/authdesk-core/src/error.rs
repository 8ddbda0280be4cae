//! The one error type of the core. Variants are what a caller can act on; messages say
//! what happened and what to do. No variant ever carries a secret value.
//!
//! Must not: name the store (database failures arrive as [`DbError`], `error/database.rs`),
//! or say one surface's command in a message (`Hint::cli` holds the CLI's).

mod database;

use std::path::PathBuf;

pub use database::DbError;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{what} `{id}` was not found{hint}")]
    NotFound {
        what: &'static str,
        id: String,
        hint: String,
    },

    #[error("{0}")]
    InvalidInput(String),

    #[error("AuthValue{}: {message}", auth_value_field(.field))]
    InvalidAuthValue { field: String, message: String },

    #[error("{origin}: {field}: {message}")]
    InvalidDefinition {
        origin: String,
        field: String,
        message: String,
    },

    /// What already exists, said as a whole sentence (with what to do instead).
    #[error("{0}")]
    AlreadyExists(String),

    #[error(
        "no {missing} is configured for account connector {account_connector_id} of `{connector}`: \
         set it in the OAuth app of the connector library entry `{connector}`, or as the \
         account connector's own property `{missing}`"
    )]
    ClientCredentialsMissing {
        missing: &'static str,
        connector: String,
        account_connector_id: i64,
    },

    #[error(
        "the OS keychain is not available ({detail}). Authdesk keeps the key that protects \
         your secrets there and will not store them any other way. On Linux, run an unlocked \
         Secret Service in your session (e.g. gnome-keyring: \
         `gnome-keyring-daemon --unlock --components=secrets`); on a headless server you may \
         instead set AUTHDESK_VAULT_KEY_FILE to a key file of mode 0600 (weaker, see README)"
    )]
    KeychainUnavailable { detail: String },

    #[error(
        "the OS keychain is locked ({detail}), so the key that protects your secrets cannot \
         be read. Unlock it (log in to your desktop session, or unlock the \
         \"login\" keyring in your keyring manager, e.g. Passwords and Keys) and try again"
    )]
    KeychainLocked { detail: String },

    #[error(
        "the keychain has no data key for this data directory (vault {vault_id}), so the \
         secrets stored here cannot be opened. If you moved the data directory from another \
         user or machine, restore its keychain item or key file; otherwise delete and \
         re-enter the secrets"
    )]
    VaultKeyMissing { vault_id: String },

    #[error(
        "the data key from {source_name} does not open the secrets of this data directory \
         or database (vault {vault_id}); it belongs to another one. Every replica of a team \
         server needs the same key"
    )]
    VaultKeyMismatch {
        source_name: String,
        vault_id: String,
    },

    #[error("the vault key file {path}: {message}")]
    VaultKeyFile { path: PathBuf, message: String },

    #[error(
        "a stored secret ({location}) failed its integrity check: it was altered or moved \
         to another row. Re-enter it"
    )]
    SecretTampered { location: String },

    #[error("the database in {path} was written by a newer Authdesk (schema {found}, this build knows {known}); upgrade Authdesk")]
    SchemaTooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },

    #[error("account connector {account_connector_id} needs the user to sign in again: {message}")]
    NeedsReauth {
        account_connector_id: i64,
        message: String,
    },

    #[error(
        "account connector {account_connector_id} has no credentials and cannot get any by \
         itself ({reason}); sign in, or set an AuthValue"
    )]
    NeedsSignIn {
        account_connector_id: i64,
        reason: String,
    },

    /// "Refresh now" where there is nothing to refresh with: nothing was changed.
    #[error(
        "account connector {account_connector_id} has no refresh token, so it cannot be \
         refreshed; nothing was changed: its access token is used {until}, then the user must \
         sign in again (sign in now to get a refresh token, if the provider issues one)",
        until = match expires_at {
            Some(at) => format!("until it expires at {}", at.format("%Y-%m-%d %H:%M:%S UTC")),
            None => "for as long as the provider accepts it".to_string(),
        }
    )]
    NoRefreshToken {
        account_connector_id: i64,
        expires_at: Option<chrono::DateTime<chrono::Utc>>,
    },

    #[error("{message}")]
    ProviderTransient {
        message: String,
        retry_after: Option<chrono::DateTime<chrono::Utc>>,
    },

    #[error("{0}")]
    ProviderRejected(String),

    #[error(
        "{field} of connector `{connector}` needs the property `{property}`: set it on account \
         connector {account_connector_id}"
    )]
    MissingProperty {
        account_connector_id: i64,
        connector: String,
        field: String,
        property: String,
    },

    #[error("sign-in failed: {0}")]
    AuthorizationFailed(String),

    #[error("the call to {what} failed: {message}")]
    Http { what: String, message: String },

    #[error("database error: {0}")]
    Database(DbError),

    /// The database cannot be reached now (a team server's PostgreSQL is down or
    /// restarting); the detail names no password.
    #[error(
        "the database is not reachable ({0}); Authdesk reconnects by itself when it is back, \
         so try again shortly"
    )]
    DatabaseUnavailable(String),

    #[error("internal error: {0}")]
    Internal(String),

    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

/// What a user can do about an error. Each surface renders it its own way: the CLI as a
/// command to run, the window as a button, the API not at all (its message already says
/// what to do in words).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(
    tag = "Kind",
    rename_all = "PascalCase",
    rename_all_fields = "PascalCase"
)]
pub enum Hint {
    /// Sign in (again) for this account connector.
    SignIn { account_connector_id: i64 },
    /// Set the OAuth app's ClientId or ClientSecret: on the library entry, or as the
    /// account connector's properties.
    SetClient {
        connector: String,
        account_connector_id: i64,
        missing: String,
    },
    /// Set a property of the account connector.
    SetProperty {
        account_connector_id: i64,
        property: String,
    },
    /// Unlock, or start, the OS keychain.
    Keychain,
    /// Look at the list of what exists (`what`: an account, a connector, ...).
    List { what: String },
}

impl Hint {
    /// The command-line way to act on it.
    pub fn cli(&self) -> String {
        match self {
            Hint::SignIn {
                account_connector_id: id,
            } => format!("run `authdesk connect {id}`"),
            Hint::SetClient {
                connector,
                account_connector_id,
                missing,
            } => format!(
                "run `authdesk connectors set-client {connector} --client-id ID \
                 --client-secret-stdin`, or `authdesk account-connectors set-property \
                 {account_connector_id} {missing} --value-stdin`"
            ),
            Hint::SetProperty {
                account_connector_id,
                property,
            } => format!(
                "run `authdesk account-connectors set-property {account_connector_id} {property} VALUE`"
            ),
            Hint::Keychain => "see `authdesk vault status`".into(),
            Hint::List { what } => match what.as_str() {
                "account" => "list them with `authdesk accounts list`".into(),
                "connector" => "list them with `authdesk connectors list`".into(),
                "account connector" => "list them with `authdesk account-connectors list`".into(),
                "API client" => "list them with `authdesk api-clients list`".into(),
                other => format!("no {other} by that name exists"),
            },
        }
    }
}

impl Error {
    /// The OAuth 2.0 `error` code (RFC 6749 §4.1.2.1) a browser flow reports this as.
    pub fn oauth_error_code(&self) -> &'static str {
        match self {
            Error::AuthorizationFailed(_)
            | Error::ProviderRejected(_)
            | Error::NeedsReauth { .. }
            | Error::NeedsSignIn { .. } => "access_denied",
            Error::Http { .. } | Error::ProviderTransient { .. } => "temporarily_unavailable",
            Error::NotFound { .. }
            | Error::InvalidInput(_)
            | Error::InvalidAuthValue { .. }
            | Error::MissingProperty { .. }
            | Error::ClientCredentialsMissing { .. }
            | Error::NoRefreshToken { .. } => "invalid_request",
            _ => "server_error",
        }
    }

    /// What the user can do about it, if there is one thing to do.
    pub fn hint(&self) -> Option<Hint> {
        Some(match self {
            Error::NeedsReauth {
                account_connector_id,
                ..
            }
            | Error::NeedsSignIn {
                account_connector_id,
                ..
            }
            | Error::NoRefreshToken {
                account_connector_id,
                ..
            } => Hint::SignIn {
                account_connector_id: *account_connector_id,
            },
            Error::ClientCredentialsMissing {
                missing,
                connector,
                account_connector_id,
            } => Hint::SetClient {
                connector: connector.clone(),
                account_connector_id: *account_connector_id,
                missing: missing.to_string(),
            },
            Error::MissingProperty {
                account_connector_id,
                property,
                ..
            } => Hint::SetProperty {
                account_connector_id: *account_connector_id,
                property: property.clone(),
            },
            Error::KeychainUnavailable { .. } | Error::KeychainLocked { .. } => Hint::Keychain,
            Error::NotFound { what, .. } => Hint::List {
                what: what.to_string(),
            },
            _ => return None,
        })
    }

    pub fn not_found(what: &'static str, id: impl ToString) -> Self {
        Error::NotFound {
            what,
            id: id.to_string(),
            hint: String::new(),
        }
    }

    pub fn not_found_hint(what: &'static str, id: impl ToString, hint: &str) -> Self {
        Error::NotFound {
            what,
            id: id.to_string(),
            hint: format!(": {hint}"),
        }
    }

    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

/// " field `X`" for a field inside an AuthValue; nothing when the whole AuthValue is wrong.
fn auth_value_field(field: &str) -> String {
    if field == "AuthValue" {
        String::new()
    } else {
        format!(" field `{field}`")
    }
}
