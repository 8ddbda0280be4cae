//! The Authdesk desktop shell. Thin by rule: each command calls `authdesk-core` and returns
//! a serialisable view (never a secret). Everything else lives in the core.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use std::path::PathBuf;

use authdesk_core::{paths, Account, AccountConnector, Authdesk, LibraryConnector, OpenOptions};
use serde::Serialize;
use tauri::State;

/// A command error as the UI sees it: one message that says what to do.
#[derive(Debug, Serialize)]
struct CommandError {
    message: String,
}

impl From<authdesk_core::Error> for CommandError {
    fn from(e: authdesk_core::Error) -> Self {
        CommandError {
            message: e.to_string(),
        }
    }
}

type CmdResult<T> = Result<T, CommandError>;

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Overview {
    data_dir: String,
    accounts: Vec<Account>,
    connectors: Vec<LibraryConnector>,
    account_connectors: Vec<AccountConnector>,
}

#[tauri::command]
fn overview(desk: State<'_, Authdesk>) -> CmdResult<Overview> {
    let overview = Overview {
        data_dir: desk.data_dir().display().to_string(),
        accounts: desk.list_accounts()?,
        connectors: desk.list_connectors()?,
        account_connectors: desk.list_account_connectors(None)?,
    };
    tracing::info!(accounts = overview.accounts.len(), "served overview");
    Ok(overview)
}

/// `--data-dir DIR`, else `AUTHDESK_DATA_DIR`, else the OS default.
fn data_dir() -> Result<PathBuf, authdesk_core::Error> {
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--data-dir" {
            if let Some(d) = args.next() {
                return Ok(PathBuf::from(d));
            }
        } else if let Some(d) = a.strip_prefix("--data-dir=") {
            return Ok(PathBuf::from(d));
        }
    }
    match std::env::var_os("AUTHDESK_DATA_DIR") {
        Some(d) if !d.is_empty() => Ok(PathBuf::from(d)),
        _ => paths::default_data_dir(),
    }
}

fn main() {
    authdesk_core::logging::init();
    let desk = match data_dir().and_then(|d| Authdesk::open(OpenOptions::new(d))) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("authdesk-app: error: {e}");
            std::process::exit(1);
        }
    };
    tauri::Builder::default()
        .manage(desk)
        .invoke_handler(tauri::generate_handler![overview])
        .run(tauri::generate_context!("../tauri.conf.json"))
        .expect("error while running the Authdesk window");
}
