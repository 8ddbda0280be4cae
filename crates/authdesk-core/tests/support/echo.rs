#![allow(dead_code)] // not every test binary uses every part
//! An echo server for method-call tests: a real local HTTP server (axum) that answers with
//! the request it received (method, path, query, headers, body), so a test sees what the
//! wire saw; `/api/status/{code}` answers with that status, and `/password/token` is
//! `FakePasswordTokenEndpoint` (oidc-provider does not implement the deprecated password
//! grant).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::Form;
use axum::http::{HeaderMap, Method, Uri};
use axum::routing::{any, post};
use axum::Json;
use serde_json::json;

pub struct EchoServer {
    pub base: String,
    /// How many requests it answered.
    pub requests: Arc<AtomicUsize>,
}

pub async fn start_echo() -> EchoServer {
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = requests.clone();
    let echo = move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
        counter.fetch_add(1, Ordering::SeqCst);
        async move {
            let headers: BTreeMap<String, String> = headers
                .iter()
                .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
                .collect();
            Json(json!({
                "method": method.as_str(),
                "path": uri.path(),
                "query": uri.query(),
                "headers": headers,
                "body": String::from_utf8_lossy(&body),
            }))
        }
    };
    let password = |Form(form): Form<BTreeMap<String, String>>| async move {
        let ok = form.get("grant_type").map(String::as_str) == Some("password")
            && form.get("username").map(String::as_str) == Some("dora")
            && form.get("password").map(String::as_str) == Some("dora-pw")
            && form.get("client_id").map(String::as_str) == Some("pw-client")
            && form.get("client_secret").map(String::as_str) == Some("pw-secret");
        if ok {
            (
                axum::http::StatusCode::OK,
                Json(
                    json!({"access_token":"pw-access","token_type":"Bearer","expires_in":600,"instance_url":"https://acme.my.example.com","other":"not-captured"}),
                ),
            )
        } else {
            (
                axum::http::StatusCode::BAD_REQUEST,
                Json(
                    json!({"error":"invalid_request","error_description":"FakePasswordTokenEndpoint got unexpected fields"}),
                ),
            )
        }
    };
    // Answers with the status it is asked for (a provider refusing a key, or failing).
    let status = |axum::extract::Path(code): axum::extract::Path<u16>| async move {
        axum::http::StatusCode::from_u16(code).unwrap()
    };
    let app = axum::Router::new()
        .route("/password/token", post(password))
        .route("/api/status/{code}", axum::routing::get(status))
        .fallback(any(echo));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    EchoServer { base, requests }
}

/// A free-form request (`Engine::send_request`) as a test writes it.
pub fn free(
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> authdesk_core::engine::request::FreeRequest {
    authdesk_core::engine::request::FreeRequest {
        method: method.into(),
        target: target.into(),
        headers: headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
        body: body.map(str::to_string),
    }
}
