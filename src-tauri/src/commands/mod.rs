//! The Tauri commands: each one is a call into `authdesk-core` (or its engine) returning a
//! serialisable view, one module per part of the window. No secret leaves through here
//! unless the user asked for that one value (`reveal_secret`, `reveal_api_key`, the new key
//! of `rotate_api_key`, a new API client's secret, shown once). Every command that reaches
//! the store, the keychain or a provider is async and runs the core on a blocking thread
//! (`Shell::db`, or the engine's own): a keychain prompt or a busy database never freezes
//! the window (Tauri runs synchronous commands on the main thread; `timezones` and
//! `cancel_sign_in` touch none of them and are synchronous).
//!
//! Must not: hold business rules (they are the core's), run the core on the main thread, put
//! a secret in a `CommandError`, or add a command without its `allow-<command>` permission
//! (build.rs).

pub mod account_connectors;
pub mod accounts;
pub mod handover;
pub mod library;
pub mod lists;
pub mod mcp;
pub mod settings;
pub mod webhooks;

use std::sync::Arc;

use authdesk_core::error::Hint;
use authdesk_core::{Authdesk, Engine};
use serde::Serialize;
use tauri::State;

/// What the shell holds: the core, its engine, and the in-process API server's address.
pub struct Shell {
    pub desk: Arc<Authdesk>,
    pub engine: Arc<Engine>,
    /// `Ok(port)` when the local API runs in-process, else why not.
    pub api: Result<u16, String>,
    /// Agents' requests waiting for the user's answer.
    pub agents: crate::agents::Pending,
}

impl Shell {
    /// Runs a core call (SQLite, keychain) on a blocking thread.
    pub async fn db<T, F>(&self, f: F) -> R<T>
    where
        F: FnOnce(&Authdesk) -> authdesk_core::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        Ok(self.engine.db(f).await?)
    }

    /// The redirect URI registered at providers: the local API's callback.
    pub fn callback_uri(&self) -> String {
        let port = self.api.as_ref().copied().unwrap_or(8788);
        format!("http://127.0.0.1:{port}/connector/callback")
    }
}

/// An error as the window shows it: one message saying what happened, and what the user
/// can do about it as a hint the window turns into a button ("Sign in again", "Set the
/// OAuth app", ...).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CommandError {
    pub(crate) message: String,
    pub(crate) hint: Option<Hint>,
}

impl From<authdesk_core::Error> for CommandError {
    fn from(e: authdesk_core::Error) -> Self {
        CommandError {
            message: e.to_string(),
            hint: e.hint(),
        }
    }
}

impl From<String> for CommandError {
    fn from(message: String) -> Self {
        CommandError {
            message,
            hint: None,
        }
    }
}

pub(crate) type R<T> = Result<T, CommandError>;
pub(crate) type S<'a> = State<'a, Shell>;

/// Every command, for the invoke handler; build.rs lists the same names for permissions.
#[macro_export]
macro_rules! all_commands {
    () => {
        tauri::generate_handler![
            commands::lists::overview,
            commands::lists::accounts_page,
            commands::lists::account_connectors_page,
            commands::lists::dashboard,
            commands::accounts::account,
            commands::accounts::create_account,
            commands::accounts::update_account,
            commands::accounts::delete_account,
            commands::accounts::timezones,
            commands::library::add_connector,
            commands::library::discover_connector,
            commands::library::add_oauth_connector,
            commands::library::connector_detail,
            commands::library::rename_connector,
            commands::library::set_connector_client,
            commands::library::set_connector_client_key,
            commands::library::clear_connector_client,
            commands::library::save_connector_text,
            commands::library::duplicate_connector,
            commands::library::add_connector_method,
            commands::library::add_plain_connector,
            commands::library::remove_connector,
            commands::library::open_source,
            commands::account_connectors::account_connector,
            commands::account_connectors::install,
            commands::account_connectors::set_property,
            commands::account_connectors::remove_property,
            commands::account_connectors::set_auth_value,
            commands::account_connectors::check_credential,
            commands::account_connectors::create_setup_link,
            commands::account_connectors::set_credential,
            commands::account_connectors::set_sign_in_mode,
            commands::account_connectors::connect,
            commands::account_connectors::cancel_sign_in,
            commands::account_connectors::disconnect,
            commands::account_connectors::removal_preview,
            commands::account_connectors::delete_account_connector,
            commands::account_connectors::inspect,
            commands::account_connectors::reveal_secret,
            commands::account_connectors::history,
            commands::account_connectors::refresh_now,
            commands::account_connectors::methods,
            commands::account_connectors::call_method,
            commands::account_connectors::send_request,
            commands::mcp::mcp_call,
            commands::mcp::mcp_request_tool,
            commands::mcp::set_mcp_request_tool,
            commands::mcp::answer_agent_request,
            commands::settings::settings,
            commands::settings::reveal_api_key,
            commands::settings::restore_keychain_item,
            commands::settings::rotate_api_key,
            commands::settings::add_target_origin,
            commands::settings::remove_target_origin,
            commands::settings::api_clients,
            commands::settings::create_api_client,
            commands::settings::revoke_api_client,
            commands::handover::handover_recipient,
            commands::handover::default_bundle_path,
            commands::handover::export_bundle,
            commands::handover::import_bundle,
            commands::webhooks::webhooks,
            commands::webhooks::add_webhook,
            commands::webhooks::remove_webhook,
            commands::webhooks::webhook_deliveries,
        ]
    };
}
