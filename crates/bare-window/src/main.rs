//! A bare Tauri window whose page reports when it is interactive: the baseline of
//! `scripts/bench-desktop.sh`. Same Tauri version and window size as Authdesk.
//!
//! Must not: depend on Authdesk's crates or grow features: it measures Tauri alone, and is
//! not part of the product.

#[tauri::command]
fn ready() {
    eprintln!("bare-window: ready");
}

fn main() {
    tauri::Builder::default()
        .invoke_handler(tauri::generate_handler![ready])
        .run(tauri::generate_context!())
        .expect("error while running the bare window");
}
