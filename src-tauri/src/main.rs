//! The Authdesk desktop shell. Thin by rule: `commands/` calls `authdesk-core` and returns
//! views, `signin.rs` shows the provider's page; everything else lives in the core. The
//! shell also runs the local API, the keep-alive and the change watcher (`data-changed`)
//! in-process, one instance at a time.
//!
//! Must not: grant a window other than `main` a permission (sign-in windows show
//! third-party pages), or poll the store on the UI thread (the watcher reads the change
//! marker through `Engine::db`).

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod agents;
mod commands;
mod device;
mod signin;
#[cfg(target_os = "linux")]
mod x_errors;

use std::path::PathBuf;
use std::sync::Arc;

use authdesk_core::{paths, Authdesk, Engine, EngineConfig, OpenOptions};
use tauri::{Emitter, Manager};

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

/// `AUTHDESK_LISTEN` overrides the local API address (tests run several apps at once).
fn listen_address() -> std::net::SocketAddr {
    std::env::var("AUTHDESK_LISTEN")
        .ok()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| {
            authdesk_api::DEFAULT_LISTEN
                .parse()
                .expect("default address")
        })
}

/// Which build of the window's files is embedded (build.rs; also what makes cargo rebuild
/// this crate when only ui/ changed).
const UI_DIGEST: &str = env!("AUTHDESK_UI_DIGEST");

fn main() {
    authdesk_core::logging::init();
    tracing::debug!(ui = UI_DIGEST, "starting");
    // The data directory opens (and migrates) on its own thread while GTK, the plugins and
    // the window start on this one: it is needed only when the setup below hands it to the
    // commands, and the window's launch no longer waits for both in turn.
    let opening = std::thread::spawn(|| -> Result<_, authdesk_core::Error> {
        let desk = Arc::new(Authdesk::open(OpenOptions::new(data_dir()?))?);
        let engine = Arc::new(Engine::new(desk.clone(), EngineConfig::default())?);
        Ok((desk, engine))
    });
    tauri::Builder::default()
        .plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| {
            // A second launch focuses the running window instead of starting another.
            if let Some(w) = app.get_webview_window("main") {
                let _ = w.unminimize();
                let _ = w.set_focus();
            }
        }))
        // Desktop notifications for the main window (connectors needing re-authentication);
        // nothing at all for sign-in windows, which show third-party pages.
        .on_permission_request(|webview, kind| {
            use tauri::webview::{PermissionKind, PermissionResponse};
            match (webview.label() == "main", kind) {
                (true, PermissionKind::Notifications) => PermissionResponse::Allow,
                _ => PermissionResponse::Deny,
            }
        })
        .setup(move |app| {
            let (desk, engine) = match opening.join().expect("the data directory's opening") {
                Ok(opened) => opened,
                Err(e) => {
                    eprintln!("authdesk-app: error: {e}");
                    std::process::exit(1);
                }
            };
            // A sign-in window destroyed by another X client must not take the app with it.
            #[cfg(target_os = "linux")]
            x_errors::install();
            let api = tauri::async_runtime::block_on(authdesk_api::Server::start(
                desk.clone(),
                engine.clone(),
                listen_address(),
            ));
            // Agents at the local API's /mcp: tools that change data are asked about here.
            let pending = agents::Pending::default();
            let api = match api {
                Ok(server) => {
                    let port = server.addr.port();
                    server.state.agents.set_approver(Some(agents::approver(
                        app.handle().clone(),
                        pending.clone(),
                    )));
                    tracing::info!("local API on http://{}", server.addr);
                    tauri::async_runtime::spawn(async move {
                        let _ = server.wait().await;
                    });
                    Ok(port)
                }
                Err(e) => {
                    tracing::warn!("local API not started: {e}");
                    Err(format!(
                        "{e} (is `authdesk serve` or another Authdesk already running?)"
                    ))
                }
            };
            let deliveries = engine.clone();
            tauri::async_runtime::spawn(async move {
                deliveries
                    .deliver_webhooks_forever(std::time::Duration::from_secs(1))
                    .await
            });
            let keep_alive = engine.clone();
            tauri::async_runtime::spawn(async move {
                keep_alive
                    .keep_alive_forever(std::time::Duration::from_secs(60))
                    .await
            });
            // Anything committed to the data directory (by this window, the keep-alive, the
            // local API or the CLI in another process) tells the window to update what it
            // shows, instead of it reloading blindly.
            let (watch_engine, handle) = (engine.clone(), app.handle().clone());
            tauri::async_runtime::spawn(async move {
                let mut last = None;
                loop {
                    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
                    let Ok(marker) = watch_engine.db(|desk| desk.change_marker()).await else {
                        continue;
                    };
                    if last.as_ref().is_some_and(|l| *l != marker) {
                        let _ = handle.emit_to("main", "data-changed", ());
                    }
                    last = Some(marker);
                }
            });
            app.manage(commands::Shell {
                desk: desk.clone(),
                engine: engine.clone(),
                api,
                agents: pending,
            });
            Ok(())
        })
        .invoke_handler(all_commands!())
        .run(tauri::generate_context!("../tauri.conf.json"))
        .expect("error while running the Authdesk window");
}
