//! Sign-in windows. The core runs the flow; this only shows the provider's page.
//!
//! - Embedded webview: a separate window with a fresh browsing session (all webview
//!   browsing data is cleared before and after each sign-in, so one customer's login never
//!   carries into the next; an incognito context would be invisible to WebDriver), whose
//!   navigation to the redirect URI (any scheme or host) is intercepted and blocked: the
//!   callback never leaves the machine and the core completes the flow. Closing the window
//!   cancels. The window matches no capability, so its pages cannot reach any command.
//!   Every webview shares one WebKit context, so there is one sign-in window at a time: a
//!   second Connect focuses the open one and says a sign-in is in progress (two at once
//!   would see each other's provider session, and closing one would wipe the other's).
//! - System browser (providers that refuse webviews): the default browser, with the local
//!   API's `/connector/callback` as redirect URI (or a loopback listener when the API is
//!   not running). The engine announces the end of that very sign-in (by its id), so an
//!   unrelated refresh is never taken for it and a failed sign-in is reported.
//!
//! Either way the outcome arrives in the main window as the event `sign-in-finished`.
//!
//! Must not: complete a webview sign-in from anything but its own window's intercepted
//! navigation, take anything but the engine's event for its id (or its loopback listener)
//! as the end of a system-browser sign-in, open a second sign-in window, or let one load
//! the redirect URI.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use authdesk_core::definition::SignInMode;
use authdesk_core::Engine;
use serde::Serialize;
use tauri::{AppHandle, Emitter, Manager, WebviewUrl, WebviewWindowBuilder, WindowEvent};

use crate::commands::{CommandError, Shell};

/// How a sign-in started, for the window.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConnectStarted {
    /// "webview", "system_browser" or "device"; "done" when the app got its token by itself (client
    /// credentials, password, JWT bearer: no sign-in).
    pub(crate) mode: &'static str,
    pub(crate) redirect_uri: String,
    /// The system browser's sign-in page, for the user to copy into another browser when
    /// the default one is not the right one (no secret: a one-time `state`, a PKCE
    /// challenge).
    pub(crate) sign_in_url: Option<String>,
    /// Why no browser could be opened (the sign-in still waits: the link can be copied).
    pub(crate) browser_problem: Option<String>,
    /// A device sign-in (`mode` "device"): the code to enter and where.
    pub(crate) device: Option<crate::device::DeviceShown>,
}

/// The account connector property that overrides the redirect URI used in the webview
/// (e.g. an https URI registered for the partner's own app); it is intercepted anyway.
pub const REDIRECT_URI_PROPERTY: &str = "RedirectUri";

#[derive(Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Finished {
    account_connector_id: i64,
    ok: bool,
    cancelled: bool,
    message: String,
}

/// Tells the window a sign-in ended: `Ok` holds what to say ("Signed in.", or what the
/// grant fell short of: `Engine::sign_in_message`).
fn finish(app: &AppHandle, id: i64, result: Result<String, String>, cancelled: bool) {
    let payload = match result {
        Ok(message) => Finished {
            account_connector_id: id,
            ok: true,
            cancelled: false,
            message,
        },
        Err(message) => Finished {
            account_connector_id: id,
            ok: false,
            cancelled,
            message,
        },
    };
    let _ = app.emit_to("main", "sign-in-finished", payload);
}

/// The label prefix of sign-in windows.
const SIGN_IN_WINDOW: &str = "signin-";

pub async fn start(
    app: &AppHandle,
    shell: &Shell,
    id: i64,
) -> Result<ConnectStarted, CommandError> {
    let (ac, def) = shell
        .db(move |desk| desk.account_connector_with_definition(id))
        .await?;
    // The way to authenticate this account connector uses: OAuth 2.0 (its grant says how)
    // or OAuth 1.0a (a sign-in like the authorization code flow's).
    let method = def.auth_method(Some(&ac.authentication.method_id));
    let (grant, default_mode) = match (
        method.and_then(|m| m.oauth2()),
        method.and_then(|m| m.oauth1()),
    ) {
        (Some(o), _) => (Some(o.grant), o.sign_in),
        (None, Some(o1)) => (None, o1.sign_in),
        (None, None) => {
            return Err(format!(
                "{} authenticates with {} here, not OAuth: set its AuthValue instead",
                def.name, ac.authentication.auth_name
            )
            .into())
        }
    };
    // Client credentials, password and JWT bearer need no sign-in: Connect gets the token.
    if grant.is_some_and(|g| g.renews_itself()) {
        shell.engine.refresh_now(id).await?;
        return Ok(ConnectStarted {
            mode: "done",
            redirect_uri: String::new(),
            sign_in_url: None,
            browser_problem: None,
            device: None,
        });
    }
    if grant == Some(authdesk_core::definition::OAuth2Grant::DeviceCode) {
        let handle = app.clone();
        let shown =
            crate::device::start(shell, id, move |result| finish(&handle, id, result, false))
                .await?;
        return Ok(ConnectStarted {
            mode: "device",
            redirect_uri: String::new(),
            sign_in_url: shown.verification_uri_complete.clone(),
            browser_problem: None,
            device: Some(shown),
        });
    }
    let mode = ac.sign_in_mode.unwrap_or(default_mode);
    match mode {
        SignInMode::Webview => {
            let redirect_uri = match shell
                .db(move |desk| desk.property_value(id, REDIRECT_URI_PROPERTY))
                .await?
            {
                Some(v) => v.expose().to_string(),
                None => shell.callback_uri(),
            };
            if let Some(open) = open_sign_in_window(app) {
                let _ = open.unminimize();
                let _ = open.set_focus();
                return Err(format!(
                    "A sign-in is already in progress in its own window ({}); finish or cancel \
                     it first. Sign-ins run one at a time so that one customer's provider \
                     session never shows up in another's.",
                    open.title().unwrap_or_else(|_| "Sign in".into())
                )
                .into());
            }
            let start = shell.engine.begin_sign_in(id, &redirect_uri).await?;
            open_window(
                app,
                shell.engine.clone(),
                id,
                &def.name,
                &redirect_uri,
                start,
            )?;
            Ok(ConnectStarted {
                mode: "webview",
                redirect_uri,
                sign_in_url: None,
                browser_problem: None,
                device: None,
            })
        }
        SignInMode::SystemBrowser => {
            let engine = shell.engine.clone();
            let handle = app.clone();
            if shell.api.is_ok() {
                let redirect_uri = shell.callback_uri();
                // Subscribed before the browser can possibly come back.
                let mut events = engine.sign_in_events();
                let start = engine.begin_sign_in(id, &redirect_uri).await?;
                // The callback arrives at this process's own local API, which the browser
                // never visited first: the binding is held here and stands in for it.
                engine.hold_binding(&start);
                let sign_in_url = start.authorization_url.clone();
                // No browser is not the end of it: the user can copy the link.
                let browser_problem = open::that_detached(&start.authorization_url)
                    .err()
                    .map(|e| e.to_string());
                let ttl = engine
                    .config()
                    .sign_in_ttl
                    .to_std()
                    .unwrap_or(Duration::from_secs(600));
                // The local API completes the flow; the engine says when this one ended.
                tauri::async_runtime::spawn(async move {
                    let ended = Engine::wait_for_sign_in(&mut events, &start.sign_in_id, ttl).await;
                    let result = match ended {
                        Some(e) if e.ok => Ok(e.message),
                        Some(e) => Err(e.message),
                        None => Err(
                            "The sign-in was not completed in the browser in time; nothing was changed."
                                .into(),
                        ),
                    };
                    finish(&handle, id, result, false);
                });
                Ok(ConnectStarted {
                    mode: "system_browser",
                    redirect_uri,
                    sign_in_url: Some(sign_in_url),
                    browser_problem,
                    device: None,
                })
            } else {
                let sign_in = authdesk_api::loopback::begin(&engine, id, 0).await?;
                let redirect_uri = sign_in.start.redirect_uri.clone();
                let sign_in_url = sign_in.start.authorization_url.clone();
                let browser_problem = open::that_detached(&sign_in.start.authorization_url)
                    .err()
                    .map(|e| e.to_string());
                tauri::async_runtime::spawn(async move {
                    let result = match sign_in.finish(&engine, Duration::from_secs(600)).await {
                        Ok(ac) => Ok(engine.sign_in_message(&ac).await),
                        Err(e) => Err(e.to_string()),
                    };
                    finish(&handle, id, result, false);
                });
                Ok(ConnectStarted {
                    mode: "system_browser",
                    redirect_uri,
                    sign_in_url: Some(sign_in_url),
                    browser_problem,
                    device: None,
                })
            }
        }
    }
}

/// The open sign-in window, if there is one.
fn open_sign_in_window(app: &AppHandle) -> Option<tauri::WebviewWindow> {
    app.webview_windows()
        .into_iter()
        .find(|(label, _)| label.starts_with(SIGN_IN_WINDOW))
        .map(|(_, w)| w)
}

/// Scheme, host, port and path of `url` equal the redirect URI's.
fn is_redirect(url: &url::Url, redirect_uri: &url::Url) -> bool {
    url.scheme() == redirect_uri.scheme()
        && url.host_str() == redirect_uri.host_str()
        && url.port_or_known_default() == redirect_uri.port_or_known_default()
        && url.path() == redirect_uri.path()
}

/// The host a page comes from and whether the connection is secure, as a browser's
/// address bar shows it: `🔒 host` for https, a warning for anything else.
fn address(url: &url::Url) -> (String, bool) {
    let host = match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        (None, _) => url.scheme().to_string(),
    };
    (host, url.scheme() == "https")
}

/// The sign-in window's title: the provider's name, then the page's address.
fn title(provider: &str, url: &url::Url) -> String {
    match address(url) {
        (host, true) => format!("Sign in to {provider} — 🔒 {host}"),
        (host, false) => format!(
            "Sign in to {provider} — ⚠ not secure: {}://{host}",
            url.scheme()
        ),
    }
}

/// What the main window shows of the sign-in window's current page.
#[derive(Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
struct SignInAddress {
    account_connector_id: i64,
    host: String,
    secure: bool,
    scheme: String,
}

/// Puts the page's address in the sign-in window's title and tells the main window.
fn show_address(app: &AppHandle, id: i64, label: &str, provider: &str, url: &url::Url) {
    let (host, secure) = address(url);
    let _ = app.emit_to(
        "main",
        "sign-in-address",
        SignInAddress {
            account_connector_id: id,
            host,
            secure,
            scheme: url.scheme().to_string(),
        },
    );
    // From the navigation handler: set the title off this call (it runs on the UI thread).
    let (app, label, text) = (app.clone(), label.to_string(), title(provider, url));
    tauri::async_runtime::spawn(async move {
        if let Some(w) = app.get_webview_window(&label) {
            let _ = w.set_title(&text);
        }
    });
}

fn open_window(
    app: &AppHandle,
    engine: Arc<Engine>,
    id: i64,
    provider: &str,
    redirect_uri: &str,
    start: authdesk_core::engine::flow::SignInStart,
) -> Result<(), String> {
    let url: tauri::Url = start
        .authorization_url
        .parse()
        .map_err(|e| format!("bad authorization URL: {e}"))?;
    let redirect: url::Url = redirect_uri
        .parse()
        .map_err(|e| format!("bad redirect URI: {e}"))?;
    let label = format!("{SIGN_IN_WINDOW}{id}");
    if let Some(old) = app.get_webview_window(&label) {
        let _ = old.destroy();
    }
    // Every webview shares one WebKit context: clearing it through the main window gives
    // this sign-in no cookies from the previous customer's.
    clear_browsing_data(app)?;
    let done = Arc::new(AtomicBool::new(false));
    let (nav_done, nav_app, nav_engine) = (done.clone(), app.clone(), engine.clone());
    // The window holds the sign-in's binding: only its own navigation completes it.
    let binding = start.binding.clone();
    let window_label = label.clone();
    let first: url::Url = start
        .authorization_url
        .parse()
        .map_err(|e| format!("bad authorization URL: {e}"))?;
    show_address(app, id, &label, provider, &first);
    let title_provider = provider.to_string();
    let window = WebviewWindowBuilder::new(app, &label, WebviewUrl::External(url))
        .title(title(provider, &first))
        .inner_size(520.0, 680.0)
        .on_navigation(move |nav| {
            let as_url: url::Url = match nav.as_str().parse() {
                Ok(u) => u,
                Err(_) => return true,
            };
            if !is_redirect(&as_url, &redirect) {
                // Where the user is asked for their password, as a browser's address bar
                // says: in the window's title and in the main window.
                show_address(&nav_app, id, &window_label, &title_provider, &as_url);
                return true;
            }
            // The provider's answer: never load it, hand it to the core.
            if nav_done.swap(true, Ordering::SeqCst) {
                return false;
            }
            let (app, engine, callback, label, binding) = (
                nav_app.clone(),
                nav_engine.clone(),
                nav.to_string(),
                window_label.clone(),
                binding.clone(),
            );
            tauri::async_runtime::spawn(async move {
                let result = match engine.complete_sign_in(&callback, &binding).await {
                    Ok(ac) => Ok(engine.sign_in_message(&ac).await),
                    Err(e) => Err(e.to_string()),
                };
                finish(&app, id, result, false);
                if let Some(w) = app.get_webview_window(&label) {
                    let _ = w.close();
                }
            });
            false
        })
        .build()
        .map_err(|e| format!("cannot open the sign-in window: {e}"))?;
    let (closed_app, closed_done) = (app.clone(), done);
    window.on_window_event(move |event| {
        if let WindowEvent::Destroyed = event {
            let _ = clear_browsing_data(&closed_app);
            if !closed_done.swap(true, Ordering::SeqCst) {
                finish(
                    &closed_app,
                    id,
                    Err("The sign-in window was closed; nothing was changed.".into()),
                    true,
                );
            }
        }
    });
    Ok(())
}

fn clear_browsing_data(app: &AppHandle) -> Result<(), String> {
    match app.get_webview_window("main") {
        Some(main) => main
            .clear_all_browsing_data()
            .map_err(|e| format!("cannot clear the previous sign-in's browsing data: {e}")),
        None => Ok(()),
    }
}

/// Cancels a sign-in the user no longer wants: closes its window (which reports the
/// cancellation), or, for the system browser, just stops waiting here.
pub fn cancel(app: &AppHandle, id: i64) {
    if crate::device::cancel(id) {
        return finish(
            app,
            id,
            Err("Device sign-in cancelled; nothing was changed.".into()),
            true,
        );
    }
    match app.get_webview_window(&format!("{SIGN_IN_WINDOW}{id}")) {
        Some(window) => {
            let _ = window.destroy();
        }
        None => finish(
            app,
            id,
            Err("Sign-in cancelled; nothing was changed.".into()),
            true,
        ),
    }
}
