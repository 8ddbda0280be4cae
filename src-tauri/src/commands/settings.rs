//! Settings: the local API (address, key), the keychain's health, allowed targetOrigins,
//! API clients.
//!
//! Must not: return the API key unless the user asked (`reveal_api_key`, or the new key of
//! `rotate_api_key`), or an API client's secret but once, at its creation.

use authdesk_core::api_clients::ApiClient;
use authdesk_core::settings::OriginPurpose;
use authdesk_core::VaultStatus;
use serde::Serialize;

use super::{R, S};

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Settings {
    api_address: Option<String>,
    api_problem: Option<String>,
    callback_uri: String,
    data_dir: String,
    target_origins: Vec<String>,
    key_source: String,
    /// Whether the data key opens this data directory's secrets, and if not, why.
    vault: VaultStatus,
}

#[tauri::command]
pub async fn settings(shell: S<'_>) -> R<Settings> {
    let (target_origins, vault) = shell
        .db(|desk| {
            Ok((
                desk.allowed_origins(OriginPurpose::Target)?,
                desk.vault_status()?,
            ))
        })
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
        vault,
    })
}

/// Puts the data key this process holds back in the keychain (after its item was removed
/// or replaced while the app ran).
#[tauri::command]
pub async fn restore_keychain_item(shell: S<'_>) -> R<VaultStatus> {
    shell.db(|desk| desk.restore_keychain_key()).await
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

/// An origin added, and a note when what was typed was more than an origin (a path, a
/// query) and was trimmed to it.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct OriginAdded {
    origin: String,
    note: Option<String>,
}

#[tauri::command]
pub async fn add_target_origin(shell: S<'_>, origin: String) -> R<OriginAdded> {
    shell
        .db(move |desk| {
            let added = desk.allow_origin(OriginPurpose::Target, &origin)?;
            let typed = origin.trim().trim_end_matches('/');
            let note = (!typed.eq_ignore_ascii_case(&added)).then(|| {
                format!(
                    "An origin is a scheme, host and port only: {typed} was allowed as {added}."
                )
            });
            Ok(OriginAdded {
                origin: added,
                note,
            })
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
