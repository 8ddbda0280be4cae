//! Accounts: read one, create, edit (name, description, IANA time zone), delete.
//!
//! Must not: check an account's fields (the core does: names, IANA time zones), or delete an
//! account but through the engine (it revokes its connectors' tokens first).

use authdesk_core::{Account, AccountUpdate, NewAccount};

use super::lists::AccountRow;
use super::{R, S};

#[tauri::command]
pub async fn account(shell: S<'_>, id: String) -> R<AccountRow> {
    shell
        .db(move |desk| AccountRow::of(desk, desk.get_account(&id)?))
        .await
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
                timezone: timezone.filter(|t| !t.trim().is_empty()),
                ..Default::default()
            })
        })
        .await
}

#[tauri::command]
pub async fn update_account(
    shell: S<'_>,
    id: String,
    name: String,
    description: String,
    timezone: String,
) -> R<AccountRow> {
    shell
        .db(move |desk| {
            let account = desk.update_account(
                &id,
                AccountUpdate {
                    name: Some(name),
                    description: Some(description),
                    timezone: Some(timezone),
                    ..Default::default()
                },
            )?;
            AccountRow::of(desk, account)
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

/// Every IANA time zone name, for the account form's picker.
#[tauri::command]
pub fn timezones() -> Vec<&'static str> {
    authdesk_core::timezone_names()
}
