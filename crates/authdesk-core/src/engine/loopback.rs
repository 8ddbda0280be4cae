//! Sign-in in the system browser with a loopback redirect (RFC 8252 §7.3): listen on
//! 127.0.0.1, send the browser to the provider with `http://127.0.0.1:<port>/callback`
//! as the redirect URI, and complete the flow when the browser comes back.
//!
//! Only one request line is read per connection and nothing from it is echoed into the
//! page unescaped.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::flow::SignInStart;
use super::Engine;
use crate::domain::AccountConnector;
use crate::error::{Error, Result};

pub const CALLBACK_PATH: &str = "/callback";

pub struct LoopbackSignIn {
    listener: TcpListener,
    pub start: SignInStart,
}

impl Engine {
    /// Binds the loopback listener (port 0 = any free port) and starts the sign-in.
    pub async fn begin_loopback_sign_in(&self, id: i64, port: u16) -> Result<LoopbackSignIn> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.map_err(|e| {
            Error::io(
                format!("cannot listen on 127.0.0.1:{port} for the sign-in redirect"),
                e,
            )
        })?;
        let port = listener
            .local_addr()
            .map_err(|e| Error::io("loopback listener", e))?
            .port();
        let start = self.begin_sign_in(id, &format!("http://127.0.0.1:{port}{CALLBACK_PATH}"))?;
        Ok(LoopbackSignIn { listener, start })
    }

    /// Waits for the browser to come back (other requests, e.g. favicon, get a 404) and
    /// completes the sign-in.
    pub async fn finish_loopback_sign_in(
        &self,
        sign_in: LoopbackSignIn,
        timeout: Duration,
    ) -> Result<AccountConnector> {
        let wait = async {
            loop {
                let (mut stream, _) = sign_in
                    .listener
                    .accept()
                    .await
                    .map_err(|e| Error::io("loopback accept", e))?;
                let Some(target) = read_request_target(&mut stream).await else {
                    let _ = stream.write_all(page(400, "Bad request").as_bytes()).await;
                    continue;
                };
                if !target.starts_with(&format!("{CALLBACK_PATH}?")) {
                    let _ = stream.write_all(page(404, "Not found").as_bytes()).await;
                    continue;
                }
                let port = sign_in
                    .listener
                    .local_addr()
                    .map(|a| a.port())
                    .unwrap_or_default();
                let result = self
                    .complete_sign_in(&format!("http://127.0.0.1:{port}{target}"))
                    .await;
                let body = match &result {
                    Ok(_) => page(
                        200,
                        "Signed in. You can close this window and return to Authdesk.",
                    ),
                    Err(e) => page(400, &format!("Sign-in failed: {e}")),
                };
                let _ = stream.write_all(body.as_bytes()).await;
                let _ = stream.shutdown().await;
                return result;
            }
        };
        tokio::time::timeout(timeout, wait).await.map_err(|_| {
            Error::AuthorizationFailed(format!(
                "no answer from the browser within {} s; run the sign-in again",
                timeout.as_secs()
            ))
        })?
    }
}

/// The request target of a `GET <target> HTTP/1.1` line, if that is what arrives.
async fn read_request_target(stream: &mut tokio::net::TcpStream) -> Option<String> {
    let mut buf = vec![0u8; 16 * 1024];
    let mut len = 0;
    while !buf[..len].windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf[len..]))
            .await
            .ok()?
            .ok()?;
        if n == 0 || len + n >= buf.len() {
            break;
        }
        len += n;
    }
    let head = std::str::from_utf8(&buf[..len]).ok()?;
    let mut parts = head.lines().next()?.split(' ');
    (parts.next()? == "GET").then_some(())?;
    parts.next().map(str::to_string)
}

fn page(status: u16, message: &str) -> String {
    let escaped = message
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;");
    let body = format!(
        "<!doctype html><meta charset=utf-8><title>Authdesk</title>\
         <body style=\"font-family:sans-serif;margin:3em\"><h1>Authdesk</h1><p>{escaped}</p></body>"
    );
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        _ => "Bad Request",
    };
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'\r\nReferrer-Policy: no-referrer\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}
