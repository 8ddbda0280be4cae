//! The Tauri commands: each one is a call into `authdesk-core` (or its engine) returning a
//! serialisable view. No secret leaves through here unless the user asked to reveal it
//! (`inspect` with `reveal`, `reveal_api_key`, a new API client's secret, shown once). Every command is async and runs the core
//! on a blocking thread (`Shell::db`): a keychain prompt or a busy database never freezes
//! the window (Tauri runs synchronous commands on the main thread).

use std::sync::Arc;

use authdesk_core::api_clients::ApiClient;
use authdesk_core::definition::SignInMode;
use authdesk_core::engine::methods::MethodResponse;
use authdesk_core::engine::RevocationReport;
use authdesk_core::inspect::Inspection;
use authdesk_core::settings::OriginPurpose;
use authdesk_core::token_store::CredentialEvent;
use authdesk_core::{
    Account, AccountConnector, AccountConnectorFilter, AuthStatus, Authdesk, Counts, Engine,
    InstallRequest, LibraryConnector, NewAccount, Page, PropertyInput, Secret,
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

/// An error as the UI shows it: one message saying what happened and what to do.
#[derive(Debug, Serialize)]
pub struct CommandError {
    pub(crate) message: String,
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

/// Most rows one list command returns: the window shows pages, never every row.
const MAX_PAGE: u64 = 1000;

/// What the window shows first, whatever the number of account connectors: counts from
/// aggregate queries, the library, the first page of accounts and the account connectors
/// that need the user (the first 50). Nothing here grows with the data directory beyond
/// the page sizes.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Overview {
    data_dir: String,
    counts: Counts,
    connectors: Vec<LibraryConnector>,
    accounts: Page<AccountRow>,
    needing_reauthentication: Vec<AccountConnector>,
}

/// An account in the list, with how many of its account connectors need re-authentication.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccountRow {
    #[serde(flatten)]
    account: Account,
    needing_reauthentication: u64,
}

fn accounts_rows(
    desk: &Authdesk,
    search: Option<&str>,
    offset: u64,
    limit: u64,
) -> authdesk_core::Result<Page<AccountRow>> {
    let page = desk.accounts_page(search, offset, Some(limit.min(MAX_PAGE)))?;
    let ids: Vec<String> = page.items.iter().map(|a| a.id.clone()).collect();
    let needing = desk.needing_reauth_by_account(&ids)?;
    Ok(Page {
        total: page.total,
        items: page
            .items
            .into_iter()
            .map(|account| AccountRow {
                needing_reauthentication: needing.get(&account.id).copied().unwrap_or(0),
                account,
            })
            .collect(),
    })
}

/// `account_search` and `account_limit`: the account list as the window shows it now (a
/// search, how many rows are loaded), so a reload keeps it.
#[tauri::command]
pub async fn overview(
    shell: S<'_>,
    account_search: Option<String>,
    account_limit: Option<u64>,
) -> R<Overview> {
    let overview = shell
        .db(move |desk| {
            Ok(Overview {
                data_dir: desk.data_dir().display().to_string(),
                counts: desk.counts()?,
                connectors: desk.list_connectors()?,
                accounts: accounts_rows(
                    desk,
                    account_search.as_deref(),
                    0,
                    account_limit.unwrap_or(100),
                )?,
                needing_reauthentication: desk
                    .account_connectors_page(
                        &AccountConnectorFilter {
                            status: Some(AuthStatus::NeedsReauth),
                            ..Default::default()
                        },
                        0,
                        Some(50),
                    )?
                    .items,
            })
        })
        .await?;
    tracing::info!(
        accounts = overview.counts.accounts,
        account_connectors = overview.counts.account_connectors,
        "served overview"
    );
    Ok(overview)
}

#[tauri::command]
pub async fn accounts_page(
    shell: S<'_>,
    search: Option<String>,
    offset: u64,
    limit: u64,
) -> R<Page<AccountRow>> {
    shell
        .db(move |desk| accounts_rows(desk, search.as_deref(), offset, limit))
        .await
}

/// An account connector in a list, with its account's name.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccountConnectorRow {
    #[serde(flatten)]
    account_connector: AccountConnector,
    account_name: String,
}

/// Account connectors across accounts or of one, by status, connector and a search of
/// their names and connector ids; a page at a time.
#[tauri::command]
#[allow(clippy::too_many_arguments)]
pub async fn account_connectors_page(
    shell: S<'_>,
    account_id: Option<String>,
    status: Option<String>,
    connector: Option<String>,
    search: Option<String>,
    offset: u64,
    limit: u64,
) -> R<Page<AccountConnectorRow>> {
    let nonempty = |s: Option<String>| s.filter(|s| !s.trim().is_empty());
    let status = match nonempty(status) {
        Some(s) => Some(AuthStatus::parse(&s).ok_or_else(|| {
            format!(
                "Unknown status {s:?}: use Authenticated, NotAuthenticated, \
                 NeedsReauthentication or Error."
            )
        })?),
        None => None,
    };
    let filter = AccountConnectorFilter {
        account_id: nonempty(account_id),
        status,
        connector: nonempty(connector),
        search: nonempty(search),
    };
    shell
        .db(move |desk| {
            let page = desk.account_connectors_page(&filter, offset, Some(limit.min(MAX_PAGE)))?;
            // The page's accounts, each read once.
            let mut names = std::collections::HashMap::new();
            let mut items = Vec::with_capacity(page.items.len());
            for ac in page.items {
                if !names.contains_key(&ac.account_id) {
                    let name = desk.get_account(&ac.account_id)?.name;
                    names.insert(ac.account_id.clone(), name);
                }
                items.push(AccountConnectorRow {
                    account_name: names[&ac.account_id].clone(),
                    account_connector: ac,
                });
            }
            Ok(Page {
                items,
                total: page.total,
            })
        })
        .await
}

#[tauri::command]
pub async fn account(shell: S<'_>, id: String) -> R<AccountRow> {
    shell
        .db(move |desk| {
            let account = desk.get_account(&id)?;
            let needing = desk.needing_reauth_by_account(std::slice::from_ref(&account.id))?;
            Ok(AccountRow {
                needing_reauthentication: needing.get(&account.id).copied().unwrap_or(0),
                account,
            })
        })
        .await
}

#[tauri::command]
pub async fn account_connector(shell: S<'_>, id: i64) -> R<AccountConnector> {
    shell.db(move |desk| desk.get_account_connector(id)).await
}

#[tauri::command]
pub async fn create_account(
    shell: S<'_>,
    name: String,
    timezone: Option<String>,
    description: Option<String>,
) -> R<Account> {
    shell
        .db(move |desk| {
            desk.create_account(NewAccount {
                id: None,
                name,
                description,
                timezone,
                ..Default::default()
            })
        })
        .await
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
pub async fn add_connector(
    shell: S<'_>,
    file_name: String,
    text: String,
    replace: bool,
) -> R<LibraryConnector> {
    shell
        .db(move |desk| desk.add_connector(&file_name, &text, replace))
        .await
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
    shell
        .db(move |desk| {
            desk.add_connector(&format!("discovered from {issuer}"), &found.toml, false)
        })
        .await
}

#[tauri::command]
pub async fn set_connector_client(
    shell: S<'_>,
    connector: String,
    client_id: String,
    client_secret: Option<String>,
) -> R<LibraryConnector> {
    let secret = client_secret.filter(|s| !s.is_empty()).map(Secret::new);
    shell
        .db(move |desk| desk.set_connector_client(&connector, &client_id, secret.as_ref()))
        .await
}

#[tauri::command]
pub async fn install(
    shell: S<'_>,
    account_id: String,
    connector: String,
    name: String,
) -> R<AccountConnector> {
    shell
        .db(move |desk| {
            desk.install(
                &account_id,
                &connector,
                InstallRequest {
                    name,
                    ..Default::default()
                },
            )
        })
        .await
}

#[tauri::command]
pub async fn set_property(
    shell: S<'_>,
    id: i64,
    name: String,
    value: String,
) -> R<AccountConnector> {
    let input = [PropertyInput {
        name,
        value: Secret::new(value),
    }];
    shell
        .db(move |desk| desk.update_account_connector(id, &input, None))
        .await
}

#[tauri::command]
pub async fn remove_property(shell: S<'_>, id: i64, name: String) -> R<AccountConnector> {
    shell.db(move |desk| desk.remove_property(id, &name)).await
}

#[tauri::command]
pub async fn set_auth_value(shell: S<'_>, id: i64, value: String) -> R<AccountConnector> {
    let value = Secret::new(value);
    shell.db(move |desk| desk.set_auth_value(id, &value)).await
}

#[tauri::command]
pub async fn set_sign_in_mode(shell: S<'_>, id: i64, mode: String) -> R<AccountConnector> {
    let mode = match mode.as_str() {
        "webview" => Some(SignInMode::Webview),
        "system_browser" => Some(SignInMode::SystemBrowser),
        _ => None,
    };
    shell.db(move |desk| desk.set_sign_in_mode(id, mode)).await
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
pub async fn inspect(shell: S<'_>, id: i64, reveal: bool) -> R<Inspection> {
    shell.db(move |desk| desk.inspect(id, reveal)).await
}

#[tauri::command]
pub async fn history(shell: S<'_>, id: i64) -> R<Vec<CredentialEvent>> {
    shell.db(move |desk| desk.credential_events(id, 50)).await
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
pub async fn methods(shell: S<'_>, id: i64) -> R<Vec<MethodInfo>> {
    let def = shell
        .db(move |desk| desk.account_connector_definition(id))
        .await?;
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
pub async fn settings(shell: S<'_>) -> R<Settings> {
    let target_origins = shell
        .db(|desk| desk.allowed_origins(OriginPurpose::Target))
        .await?;
    Ok(Settings {
        api_address: shell
            .api
            .as_ref()
            .ok()
            .map(|p| format!("http://127.0.0.1:{p}")),
        api_problem: shell.api.as_ref().err().cloned(),
        callback_uri: shell.callback_uri(),
        data_dir: shell.desk.data_dir().display().to_string(),
        target_origins,
        key_source: shell.desk.key_source().describe(),
    })
}

/// The local API key, shown because the user asked (Settings → Reveal).
#[tauri::command]
pub async fn reveal_api_key(shell: S<'_>) -> R<String> {
    shell
        .db(|desk| Ok(desk.api_key()?.expose().to_string()))
        .await
}

#[tauri::command]
pub async fn rotate_api_key(shell: S<'_>) -> R<String> {
    shell
        .db(|desk| Ok(desk.rotate_api_key()?.expose().to_string()))
        .await
}

#[tauri::command]
pub async fn add_target_origin(shell: S<'_>, origin: String) -> R<Vec<String>> {
    shell
        .db(move |desk| {
            desk.allow_origin(OriginPurpose::Target, &origin)?;
            desk.allowed_origins(OriginPurpose::Target)
        })
        .await
}

#[tauri::command]
pub async fn remove_target_origin(shell: S<'_>, origin: String) -> R<Vec<String>> {
    shell
        .db(move |desk| {
            desk.disallow_origin(OriginPurpose::Target, &origin)?;
            desk.allowed_origins(OriginPurpose::Target)
        })
        .await
}

#[tauri::command]
pub async fn api_clients(shell: S<'_>) -> R<Vec<ApiClient>> {
    shell.db(|desk| desk.list_api_clients()).await
}

/// A new API client for partner code; its secret is shown this once.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NewClientView {
    client_id: String,
    client_secret: String,
    name: String,
}

#[tauri::command]
pub async fn create_api_client(shell: S<'_>, name: String) -> R<NewClientView> {
    shell
        .db(move |desk| {
            let c = desk.create_api_client(&name)?;
            Ok(NewClientView {
                client_id: c.client.client_id,
                client_secret: c.client_secret.expose().to_string(),
                name: c.client.name,
            })
        })
        .await
}

#[tauri::command]
pub async fn revoke_api_client(shell: S<'_>, client_id: String) -> R<ApiClient> {
    shell
        .db(move |desk| desk.revoke_api_client(&client_id))
        .await
}

/// Every command, for the invoke handler and the permission manifest (build.rs).
#[macro_export]
macro_rules! all_commands {
    () => {
        tauri::generate_handler![
            commands::overview,
            commands::accounts_page,
            commands::account_connectors_page,
            commands::account_connector,
            commands::account,
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
            commands::api_clients,
            commands::create_api_client,
            commands::revoke_api_client,
        ]
    };
}
