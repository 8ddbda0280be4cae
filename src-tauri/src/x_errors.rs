//! X11 errors must not end the app. GDK's own Xlib error handler exits on any untrapped X
//! protocol error; when another X client destroys a sign-in window (XDestroyWindow, e.g.
//! `xdotool windowclose`), WebKitGTK and GDK still query the dead window (BadDrawable from
//! GetGeometry, BadWindow from TranslateCoords) and the whole app went down. With this
//! handler they are logged and ignored; GTK destroys the window, tao reports
//! `WindowEvent::Destroyed`, and the sign-in counts as cancelled (signin.rs). GDK's error
//! traps still work: a push puts GDK's handler back for the trap, the pop restores this one.
//!
//! Not survivable in-process: XKillClient (`xkill`, `xdotool windowkill`) closes the app's
//! one X connection, which every window shares; that is "kill this application".

use std::ffi::CStr;
use std::os::raw::{c_char, c_int};
use std::sync::OnceLock;

use x11_dl::xlib::{Display, XErrorEvent, Xlib};

static XLIB: OnceLock<Xlib> = OnceLock::new();

unsafe extern "C" fn ignore_x_error(display: *mut Display, event: *mut XErrorEvent) -> c_int {
    // Called by Xlib with the display unlocked; XGetErrorText only reads Xlib's tables.
    let e = unsafe { &*event };
    let mut text = [0 as c_char; 160];
    if let Some(xlib) = XLIB.get() {
        unsafe {
            (xlib.XGetErrorText)(
                display,
                c_int::from(e.error_code),
                text.as_mut_ptr(),
                text.len() as c_int,
            )
        };
    }
    let text = unsafe { CStr::from_ptr(text.as_ptr()) }.to_string_lossy();
    tracing::warn!(
        "X error ignored: {text} (code {}, request {}.{}, resource {:#x}, serial {})",
        e.error_code,
        e.request_code,
        e.minor_code,
        e.resourceid,
        e.serial
    );
    0
}

/// Replaces GDK's fatal X error handler. Call once on the main thread after GTK is
/// initialised (Tauri's `setup` hook) and before any sign-in window opens.
pub fn install() {
    let xlib = match XLIB.get() {
        Some(x) => x,
        None => match Xlib::open() {
            Ok(x) => XLIB.get_or_init(|| x),
            Err(e) => {
                tracing::debug!("libX11 not loaded, no X error handler: {e}");
                return;
            }
        },
    };
    let previous = unsafe { (xlib.XSetErrorHandler)(Some(ignore_x_error)) };
    tracing::debug!("X error handler installed (was {previous:?})");
}
