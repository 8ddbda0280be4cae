//! [`Authdesk`]: the one entry point the shells (desktop app, local API, CLI) call, and the
//! input checks its parts share. The desk itself (store, clock, vault) is `crate::desk`,
//! the layer below; one idea a file below this one (accounts, library, account connectors,
//! LAUNCH, migrate).
//!
//! Every write is one write transaction (IMMEDIATE on SQLite, on the write lock on
//! PostgreSQL): metadata and the sealed secrets that belong to it commit together or not at
//! all. The vault is opened lazily, so metadata stays readable when the keychain is not.
//!
//! Must not: hold one idea's code (it goes in a file below), name the engine
//! (`crate::engine`, the layer above), or know about HTTP, Tauri or the CLI.

use crate::error::{Error, Result};
use crate::secret::Secret;

mod account_connectors;
mod account_keys;
mod accounts;
mod launch;
mod library;
pub mod mcp;
mod migrate;
mod oauth_app;
mod provider_keys;
pub mod webhooks;

pub use crate::desk::{fields, Authdesk, Clock, OpenOptions, VaultStatus};
pub(crate) use crate::desk::{
    hex, key_check_location, parse_ts, ts, verified_vault, write_property, META_CATALOG,
    META_KEY_CHECK, META_VAULT_ID, T_CONNECTORS, T_KEYS, T_PROPERTIES, T_SECRETS,
};

impl Authdesk {
    /// Opens a data directory (or a team database): the store, migrated, with the built-in
    /// catalog synced; the vault is opened on first use.
    pub fn open(options: OpenOptions) -> Result<Authdesk> {
        Authdesk::open_with(options, library::sync_builtin_catalog)
    }
}
pub(crate) use account_connectors::attention::renewable;
pub use account_connectors::PreparedInstall;
pub use accounts::{checked_timezone, parse_guid, timezone_names};
pub use migrate::MigrationReport;
pub use oauth_app::PrivateKeySource;
pub use provider_keys::ProviderKeys;

const MAX_NAME: usize = 200;
const MAX_DESCRIPTION: usize = 4000;
const MAX_PROPERTY_VALUE: usize = 16 * 1024;

fn name_and_description(name: &str, description: Option<&str>) -> Result<(String, String)> {
    Ok((
        checked_text("Name", name, MAX_NAME, true)?,
        checked_text(
            "Description",
            description.unwrap_or(""),
            MAX_DESCRIPTION,
            false,
        )?,
    ))
}

/// A secret value as given: within the size limit, no control characters, not blank.
fn check_secret_value(field: &str, value: &Secret) -> Result<()> {
    if value.len() > MAX_PROPERTY_VALUE {
        return Err(Error::InvalidInput(format!(
            "`{field}` is {} bytes; the limit is {MAX_PROPERTY_VALUE}",
            value.len()
        )));
    }
    if value.expose().chars().any(char::is_control) {
        return Err(Error::InvalidInput(format!(
            "`{field}` contains control characters (a stray newline?); the value was not saved"
        )));
    }
    // Only spaces is a paste gone wrong, never a secret.
    if value.expose().trim().is_empty() {
        return Err(Error::InvalidInput(format!(
            "`{field}` is blank; give the value (to remove a property, remove it instead)"
        )));
    }
    Ok(())
}

fn checked_text(field: &str, value: &str, max: usize, required: bool) -> Result<String> {
    let v = value.trim();
    if required && v.is_empty() {
        return Err(Error::InvalidInput(format!("{field} must not be empty")));
    }
    if v.len() > max {
        return Err(Error::InvalidInput(format!(
            "{field} is {} characters; the limit is {max}",
            v.len()
        )));
    }
    if v.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(Error::InvalidInput(format!(
            "{field} contains control characters"
        )));
    }
    if v.chars().any(is_spoofing_format_char) {
        return Err(Error::InvalidInput(format!(
            "{field} contains invisible or direction-changing characters (bidirectional \
             overrides, zero-width spaces), which make a name display as something else"
        )));
    }
    Ok(v.to_string())
}

/// Unicode format characters that only serve to disguise text in a name: bidirectional
/// embeddings, overrides and isolates (`Acme\u{202E}gnp.exe` shows as "Acmeexe.png"), the
/// zero-width space, word joiner and byte-order mark. (ZWNJ/ZWJ and the LRM/RLM marks
/// stay: scripts and emoji need them.)
pub(crate) fn is_spoofing_format_char(c: char) -> bool {
    matches!(c,
        '\u{202A}'..='\u{202E}'
        | '\u{2066}'..='\u{2069}'
        | '\u{200B}'
        | '\u{2060}'..='\u{2064}'
        | '\u{FEFF}'
        | '\u{180E}'
        | '\u{FFF9}'..='\u{FFFB}')
}

/// A LIKE pattern for "contains `text`", with `%`, `_` and `\` escaped.
pub(crate) fn like_pattern(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}
