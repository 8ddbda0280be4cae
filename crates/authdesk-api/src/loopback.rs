//! Sign-in in the system browser with a loopback redirect (RFC 8252 §7.3), for the CLI's
//! `authdesk connect` and the desktop when the local API is not running: listen on
//! 127.0.0.1, send the browser to the provider with `http://127.0.0.1:<port>/callback` as
//! the redirect URI, and complete the flow when the browser comes back.
//!
//! A real HTTP server (axum), not hand-written parsing. Requests whose `Host` is not this
//! listener (DNS rebinding) are refused; requests without this sign-in's `state` (a
//! favicon, a stray or forged request) are answered and ignored, so they cannot end the
//! wait. Nothing from a request is echoed into the page unescaped. The sign-in is bound to
//! this listener: it alone holds the binding the callback must present (RFC 9700 §4.7).
//!
//! Must not: listen beyond 127.0.0.1, let a request without this sign-in's `state` end the
//! wait, or complete a sign-in more than once.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use authdesk_core::engine::flow::SignInStart;
use authdesk_core::{AccountConnector, Engine, Error, Result, Secret};
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

pub const CALLBACK_PATH: &str = "/callback";

/// A sign-in waiting for the browser to come back to the loopback listener.
pub struct LoopbackSignIn {
    pub start: SignInStart,
    listener: tokio::net::TcpListener,
    port: u16,
    state: Secret,
}

/// Binds the loopback listener (port 0 = any free port) and starts the sign-in.
pub async fn begin(engine: &Engine, id: i64, port: u16) -> Result<LoopbackSignIn> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| {
            Error::io(
                format!("cannot listen on 127.0.0.1:{port} for the sign-in redirect"),
                e,
            )
        })?;
    let port = listener
        .local_addr()
        .map_err(|e| Error::io("loopback listener", e))?
        .port();
    let start = engine
        .begin_sign_in(id, &format!("http://127.0.0.1:{port}{CALLBACK_PATH}"))
        .await?;
    let state = url::Url::parse(&start.authorization_url)
        .ok()
        .and_then(|u| {
            u.query_pairs()
                .find(|(k, _)| k == "state")
                .map(|(_, v)| Secret::new(v.into_owned()))
        })
        .ok_or_else(|| Error::Internal("the authorization URL has no state".into()))?;
    Ok(LoopbackSignIn {
        start,
        listener,
        port,
        state,
    })
}

struct Waiting {
    engine: Engine,
    port: u16,
    state: Secret,
    /// The sign-in's binding: the callback is bound to this listener, which presents it.
    binding: Secret,
    done: Mutex<Option<tokio::sync::oneshot::Sender<Result<AccountConnector>>>>,
}

impl LoopbackSignIn {
    /// Waits for the browser to come back with this sign-in's `state` and completes it.
    pub async fn finish(self, engine: &Engine, timeout: Duration) -> Result<AccountConnector> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let waiting = Arc::new(Waiting {
            engine: engine.clone(),
            port: self.port,
            state: self.state,
            binding: self.start.binding.clone(),
            done: Mutex::new(Some(tx)),
        });
        let app = Router::new()
            .route(CALLBACK_PATH, get(callback))
            .fallback(|| async { page(StatusCode::NOT_FOUND, "Not found.") })
            .with_state(waiting);
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            axum::serve(self.listener, app)
                .with_graceful_shutdown(async {
                    let _ = stop_rx.await;
                })
                .await
        });
        let outcome = tokio::time::timeout(timeout, rx).await;
        let _ = stop_tx.send(());
        // Let the last page go out before the listener closes.
        let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
        match outcome {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(Error::Internal("the sign-in listener stopped".into())),
            Err(_) => Err(Error::AuthorizationFailed(format!(
                "no answer from the browser within {} s; run the sign-in again",
                timeout.as_secs()
            ))),
        }
    }
}

/// Whether `Host` names this listener.
fn host_is_ours(headers: &HeaderMap, port: u16) -> bool {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    host.is_some_and(|h| {
        h.rsplit_once(':').is_some_and(|(name, p)| {
            (name == "127.0.0.1" || name.eq_ignore_ascii_case("localhost")) && p == port.to_string()
        })
    })
}

async fn callback(
    State(w): State<Arc<Waiting>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    if !host_is_ours(&headers, w.port) {
        return page(
            StatusCode::MISDIRECTED_REQUEST,
            "This address only answers to 127.0.0.1.",
        );
    }
    let query = query.unwrap_or_default();
    let state = url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "state")
        .map(|(_, v)| Secret::new(v.into_owned()));
    if state.as_ref() != Some(&w.state) {
        return page(
            StatusCode::BAD_REQUEST,
            "This is not the sign-in Authdesk is waiting for; nothing was changed.",
        );
    }
    let Some(done) = w.done.lock().unwrap_or_else(|p| p.into_inner()).take() else {
        return page(
            StatusCode::CONFLICT,
            "This sign-in has already been completed.",
        );
    };
    let result = w
        .engine
        .complete_sign_in(
            &format!("http://127.0.0.1:{}{CALLBACK_PATH}?{query}", w.port),
            &w.binding,
        )
        .await;
    let response = match &result {
        Ok(_) => page(
            StatusCode::OK,
            "Signed in. You can close this window and return to Authdesk.",
        ),
        Err(e) => page(StatusCode::BAD_REQUEST, &format!("Sign-in failed: {e}")),
    };
    let _ = done.send(result);
    response
}

fn page(status: StatusCode, message: &str) -> Response {
    let escaped = message
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;");
    let body = format!(
        "<!doctype html><meta charset=utf-8><title>Authdesk</title>\
         <body style=\"font-family:sans-serif;margin:3em\"><h1>Authdesk</h1><p>{escaped}</p></body>"
    );
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'",
            ),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}
