//! Device sign-in in the window (RFC 8628): the user code, where to enter it, a QR code of
//! the complete verification URI (drawn by the page on a canvas from the modules here) and
//! the expiry for a countdown; the engine polls in a task that Cancel stops.
//!
//! Must not: show the device code, or leave a poll running after Cancel.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use serde::Serialize;

use crate::commands::{CommandError, Shell};

/// What the window shows while the user approves.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeviceShown {
    pub verification_uri: String,
    pub user_code: String,
    pub verification_uri_complete: Option<String>,
    pub expires_in: i64,
    /// The QR code's modules, one string of `1` (dark) and `0` per row, quiet zone included.
    pub qr: Vec<String>,
}

/// The polls in flight, by account connector.
static POLLS: LazyLock<Mutex<HashMap<i64, tauri::async_runtime::JoinHandle<()>>>> =
    LazyLock::new(Default::default);

/// Starts a device sign-in: asks for the code, then polls in a task that calls `ended`
/// with what to say (or why it failed). Returns what the window shows.
pub async fn start(
    shell: &Shell,
    id: i64,
    ended: impl FnOnce(Result<String, String>) + Send + 'static,
) -> Result<DeviceShown, CommandError> {
    cancel(id);
    let start = shell.engine.begin_device_sign_in(id).await?;
    let target = start
        .verification_uri_complete
        .clone()
        .unwrap_or_else(|| start.verification_uri.clone());
    let shown = DeviceShown {
        verification_uri: start.verification_uri.clone(),
        user_code: start.user_code.clone(),
        verification_uri_complete: start.verification_uri_complete.clone(),
        expires_in: start.expires_in,
        qr: qr_rows(&target),
    };
    let engine = shell.engine.clone();
    let task = tauri::async_runtime::spawn(async move {
        let result = match engine.complete_device_sign_in(&start).await {
            Ok(ac) => Ok(engine.sign_in_message(&ac).await),
            Err(e) => Err(e.to_string()),
        };
        POLLS.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
        ended(result);
    });
    POLLS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(id, task);
    Ok(shown)
}

/// Stops the poll of account connector `id`, if one runs. Whether one did.
pub fn cancel(id: i64) -> bool {
    let task = POLLS.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
    task.inspect(|t| t.abort()).is_some()
}

fn qr_rows(text: &str) -> Vec<String> {
    let Ok(code) = qrcode::QrCode::new(text.as_bytes()) else {
        return Vec::new();
    };
    let width = code.width();
    let colors = code.to_colors();
    let quiet = 4;
    let side = width + 2 * quiet;
    (0..side)
        .map(|y| {
            (0..side)
                .map(|x| {
                    let inside =
                        (quiet..quiet + width).contains(&x) && (quiet..quiet + width).contains(&y);
                    if inside && colors[(y - quiet) * width + (x - quiet)] == qrcode::Color::Dark {
                        '1'
                    } else {
                        '0'
                    }
                })
                .collect()
        })
        .collect()
}
