//! The Tauri commands: each one is a call into `authdesk-core` (or its engine) returning a
//! serialisable view. No secret leaves through here unless the user asked to reveal it
//! (`inspect` with `reveal`, `reveal_api_key`).

use std::sync::Arc;

use authdesk_core::definition::SignInMode;
use authdesk_core::engine::methods::MethodResponse;
use authdesk_core::engine::RevocationReport;
use authdesk_core::inspect::Inspection;
use authdesk_core::settings::OriginPurpose;
use authdesk_core::token_store::CredentialEvent;
use authdesk_core::{
    Account, AccountConnector, Authdesk, Engine, InstallRequest, LibraryConnector, NewAccount,
    PropertyInput, Secret,
};
use serde::Serialize;
use tauri::{AppHandle, State};

use crate::signin;

/// What the shell holds: the core, its engine, and the in-process API server's address.
pub struct Shell {
    pub desk: Arc<Authdesk>,
    pub engine: Arc<Engine>,
    /// `Ok(port)` when the local API runs in-process, else why not.
    pub api: Result<u16, String>,
}

impl Shell {
    /// The redirect URI registered at providers: the local API's callback.
    pub fn callback_uri(&self) -> String {
        let port = self.api.as_ref().copied().unwrap_or(8788);
        format!("http://127.0.0.1:{port}/connector/callback")
    }
}

/// An error as the UI shows it: one message saying what happened and what to do.
#[derive(Debug, Serialize)]
pub struct CommandError {
    message: String,
}

impl From<authdesk_core::Error> for CommandError {
    fn from(e: authdesk_core::Error) -> Self {
        CommandError {
            message: e.to_string(),
        }
    }
}

impl From<String> for CommandError {
    fn from(message: String) -> Self {
        CommandError { message }
    }
}

type R<T> = Result<T, CommandError>;
type S<'a> = State<'a, Shell>;

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Overview {
    data_dir: String,
    accounts: Vec<Account>,
    connectors: Vec<LibraryConnector>,
    account_connectors: Vec<AccountConnector>,
}

#[tauri::command]
pub fn overview(shell: S<'_>) -> R<Overview> {
    let overview = Overview {
        data_dir: shell.desk.data_dir().display().to_string(),
        accounts: shell.desk.list_accounts()?,
        connectors: shell.desk.list_connectors()?,
        account_connectors: shell.desk.list_account_connectors(None)?,
    };
    tracing::info!(accounts = overview.accounts.len(), "served overview");
    Ok(overview)
}

#[tauri::command]
pub fn create_account(
    shell: S<'_>,
    name: String,
    timezone: Option<String>,
    description: Option<String>,
) -> R<Account> {
    Ok(shell.desk.create_account(NewAccount {
        id: None,
        name,
        description,
        timezone,
    })?)
}

#[tauri::command]
pub async fn delete_account(shell: S<'_>, id: String) -> R<()> {
    // Revokes every account connector's tokens at its provider, as deleting one does.
    for (ac, report) in shell.engine.delete_account(&id).await? {
        if !report.errors.is_empty() {
            tracing::warn!(
                account_connector = ac,
                "revocation failed: {}",
                report.errors.join("; ")
            );
        }
    }
    Ok(())
}

#[tauri::command]
pub fn add_connector(
    shell: S<'_>,
    file_name: String,
    text: String,
    replace: bool,
) -> R<LibraryConnector> {
    Ok(shell.desk.add_connector(&file_name, &text, replace)?)
}

#[tauri::command]
pub async fn discover_connector(
    shell: S<'_>,
    issuer: String,
    id: Option<String>,
    name: Option<String>,
) -> R<LibraryConnector> {
    let found = shell
        .engine
        .discover(
            &issuer,
            id.as_deref().filter(|s| !s.is_empty()),
            name.as_deref().filter(|s| !s.is_empty()),
        )
        .await?;
    Ok(shell
        .desk
        .add_connector(&format!("discovered from {issuer}"), &found.toml, false)?)
}

#[tauri::command]
pub fn set_connector_client(
    shell: S<'_>,
    connector: String,
    client_id: String,
    client_secret: Option<String>,
) -> R<LibraryConnector> {
    let secret = client_secret.filter(|s| !s.is_empty()).map(Secret::new);
    Ok(shell
        .desk
        .set_connector_client(&connector, &client_id, secret.as_ref())?)
}

#[tauri::command]
pub fn install(
    shell: S<'_>,
    account_id: String,
    connector: String,
    name: String,
) -> R<AccountConnector> {
    Ok(shell.desk.install(
        &account_id,
        &connector,
        InstallRequest {
            name,
            ..Default::default()
        },
    )?)
}

#[tauri::command]
pub fn set_property(shell: S<'_>, id: i64, name: String, value: String) -> R<AccountConnector> {
    let input = [PropertyInput {
        name,
        value: Secret::new(value),
    }];
    Ok(shell.desk.update_account_connector(id, &input, None)?)
}

#[tauri::command]
pub fn remove_property(shell: S<'_>, id: i64, name: String) -> R<AccountConnector> {
    Ok(shell.desk.remove_property(id, &name)?)
}

#[tauri::command]
pub fn set_auth_value(shell: S<'_>, id: i64, value: String) -> R<AccountConnector> {
    Ok(shell.desk.set_auth_value(id, &Secret::new(value))?)
}

#[tauri::command]
pub fn set_sign_in_mode(shell: S<'_>, id: i64, mode: String) -> R<AccountConnector> {
    let mode = match mode.as_str() {
        "webview" => Some(SignInMode::Webview),
        "system_browser" => Some(SignInMode::SystemBrowser),
        _ => None,
    };
    Ok(shell.desk.set_sign_in_mode(id, mode)?)
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConnectStarted {
    /// "webview" or "system_browser".
    pub(crate) mode: &'static str,
    pub(crate) redirect_uri: String,
}

/// Starts a sign-in: an isolated webview window whose redirect is intercepted, or the system
/// browser with the local API's (or a loopback) redirect. The result arrives as the event
/// `sign-in-finished`.
#[tauri::command]
pub async fn connect(app: AppHandle, shell: S<'_>, id: i64) -> R<ConnectStarted> {
    signin::start(&app, &shell, id)
        .await
        .map_err(CommandError::from)
}

#[tauri::command]
pub fn cancel_sign_in(app: AppHandle, id: i64) {
    signin::cancel(&app, id);
}

#[tauri::command]
pub async fn disconnect(shell: S<'_>, id: i64) -> R<RevocationReport> {
    Ok(shell.engine.disconnect(id).await?)
}

#[tauri::command]
pub async fn delete_account_connector(shell: S<'_>, id: i64) -> R<RevocationReport> {
    Ok(shell.engine.delete_account_connector(id).await?)
}

#[tauri::command]
pub fn inspect(shell: S<'_>, id: i64, reveal: bool) -> R<Inspection> {
    Ok(shell.desk.inspect(id, reveal)?)
}

#[tauri::command]
pub fn history(shell: S<'_>, id: i64) -> R<Vec<CredentialEvent>> {
    Ok(shell.desk.credential_events(id, 50)?)
}

#[tauri::command]
pub async fn refresh_now(shell: S<'_>, id: i64) -> R<AccountConnector> {
    Ok(shell.engine.refresh_now(id).await?)
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MethodInfo {
    id: String,
    name: String,
    http_method: String,
    path: String,
    parameters: Vec<ParameterInfo>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ParameterInfo {
    name: String,
    location: String,
    required: bool,
    description: String,
}

#[tauri::command]
pub fn methods(shell: S<'_>, id: i64) -> R<Vec<MethodInfo>> {
    let (_, def) = shell.desk.account_connector_with_definition(id)?;
    Ok(def
        .methods
        .iter()
        .map(|m| MethodInfo {
            id: m.id.clone(),
            name: m.name.clone(),
            http_method: format!("{:?}", m.http_method).to_uppercase(),
            path: m.path.clone(),
            parameters: m
                .parameters
                .iter()
                .map(|p| ParameterInfo {
                    name: p.name.clone(),
                    location: format!("{:?}", p.location).to_lowercase(),
                    required: p.required,
                    description: p.description.clone(),
                })
                .collect(),
        })
        .collect())
}

#[tauri::command]
pub async fn call_method(
    shell: S<'_>,
    id: i64,
    method: String,
    parameters: serde_json::Map<String, serde_json::Value>,
) -> R<MethodResponse> {
    Ok(shell.engine.call_method(id, &method, &parameters).await?)
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Settings {
    api_address: Option<String>,
    api_problem: Option<String>,
    callback_uri: String,
    data_dir: String,
    target_origins: Vec<String>,
    key_source: String,
}

#[tauri::command]
pub fn settings(shell: S<'_>) -> R<Settings> {
    Ok(Settings {
        api_address: shell
            .api
            .as_ref()
            .ok()
            .map(|p| format!("http://127.0.0.1:{p}")),
        api_problem: shell.api.as_ref().err().cloned(),
        callback_uri: shell.callback_uri(),
        data_dir: shell.desk.data_dir().display().to_string(),
        target_origins: shell.desk.allowed_origins(OriginPurpose::Target)?,
        key_source: shell.desk.key_source().describe(),
    })
}

/// The local API key, shown because the user asked (Settings → Reveal).
#[tauri::command]
pub fn reveal_api_key(shell: S<'_>) -> R<String> {
    Ok(shell.desk.api_key()?.expose().to_string())
}

#[tauri::command]
pub fn rotate_api_key(shell: S<'_>) -> R<String> {
    Ok(shell.desk.rotate_api_key()?.expose().to_string())
}

#[tauri::command]
pub fn add_target_origin(shell: S<'_>, origin: String) -> R<Vec<String>> {
    shell.desk.allow_origin(OriginPurpose::Target, &origin)?;
    Ok(shell.desk.allowed_origins(OriginPurpose::Target)?)
}

#[tauri::command]
pub fn remove_target_origin(shell: S<'_>, origin: String) -> R<Vec<String>> {
    shell.desk.disallow_origin(OriginPurpose::Target, &origin)?;
    Ok(shell.desk.allowed_origins(OriginPurpose::Target)?)
}

/// Every command, for the invoke handler and the permission manifest (build.rs).
#[macro_export]
macro_rules! all_commands {
    () => {
        tauri::generate_handler![
            commands::overview,
            commands::create_account,
            commands::delete_account,
            commands::add_connector,
            commands::discover_connector,
            commands::set_connector_client,
            commands::install,
            commands::set_property,
            commands::remove_property,
            commands::set_auth_value,
            commands::set_sign_in_mode,
            commands::connect,
            commands::cancel_sign_in,
            commands::disconnect,
            commands::delete_account_connector,
            commands::inspect,
            commands::history,
            commands::refresh_now,
            commands::methods,
            commands::call_method,
            commands::settings,
            commands::reveal_api_key,
            commands::rotate_api_key,
            commands::add_target_origin,
            commands::remove_target_origin,
        ]
    };
}
