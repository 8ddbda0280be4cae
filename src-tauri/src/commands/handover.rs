//! Hand-over bundles in the window: this desk's recipient (Settings), an export of the
//! accounts the user chose to a file (the account list), an import from a file (Settings).
//!
//! Must not: return a bundle's content or the identity (only the recipient and reports).

use authdesk_core::handover::{read_bundle_file, write_bundle_file, ExportReport, ImportReport};

use super::{R, S};

#[tauri::command]
pub async fn handover_recipient(shell: S<'_>) -> R<String> {
    shell.db(|desk| desk.handover_recipient()).await
}

/// Where an export goes unless the user says otherwise: the home directory.
#[tauri::command]
pub async fn default_bundle_path() -> R<String> {
    let home = std::env::var_os("HOME")
        .map(std::path::PathBuf::from)
        .unwrap_or_default();
    let day = chrono::Utc::now().format("%Y-%m-%d");
    Ok(home
        .join(format!("authdesk-handover-{day}.age"))
        .display()
        .to_string())
}

#[tauri::command]
pub async fn export_bundle(
    shell: S<'_>,
    recipient: String,
    accounts: Vec<String>,
    path: String,
) -> R<ExportReport> {
    shell
        .db(move |desk| {
            let (bundle, report) = desk.export_bundle(&recipient, &accounts)?;
            write_bundle_file(std::path::Path::new(path.trim()), &bundle)?;
            Ok(report)
        })
        .await
}

#[tauri::command]
pub async fn import_bundle(shell: S<'_>, path: String) -> R<ImportReport> {
    shell
        .db(move |desk| {
            let bytes = read_bundle_file(std::path::Path::new(path.trim()))?;
            desk.import_bundle(&bytes)
        })
        .await
}
