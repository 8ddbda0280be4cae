//! Cyclr's browser sign-in flow.
//!
//! `GET /connectorauth/updateaccountconnectoroauth?id=&token=&targetOrigin=[&callbackMessage=]`
//! (or POST, as Cyclr's example does) consumes a sign-in token of the account that owns
//! account connector `id`, starts the engine's authorization code flow with our
//! `/connector/callback` as redirect URI, and sends the browser to the provider (a connector
//! that needs no user, client credentials or password, is authenticated at once and the
//! browser sent back). `GET /connector/callback` completes it, then either redirects to
//! targetOrigin or posts callbackMessage to the opener, addressed to targetOrigin's origin.
//!
//! Invariants: targetOrigin must be an absolute http(s) URL whose exact origin is on the
//! owner's allow-list, or nothing is redirected or posted anywhere; postMessage never uses
//! `"*"`; callbackMessage travels as JSON data read by a nonce'd script, never as markup or
//! code; error details are added to targetOrigin only when it was valid; both the success
//! and the failure redirect go to the normalised targetOrigin URL. Nothing is written for
//! an account connector before a valid sign-in token of its account is presented: a
//! refused request only answers.
//!
//! Binding (RFC 9700 §4.7): the start sets a random, HttpOnly, `SameSite=Lax` cookie scoped
//! to the callback path (`Secure` unless the callback is loopback http), named after the
//! sign-in, whose value only the engine can check (it keeps a hash). The callback must
//! present it: the provider link handed to someone else completes nothing in their browser
//! (a clear page, nothing written, no redirect or message). At the callback targetOrigin is
//! checked against the allow-list again: an origin removed meanwhile is sent nothing.
//!
//! Must not: write anything for an account connector before a valid sign-in token of its
//! account is presented, send the browser or a message to an origin off the allow-list, put
//! the binding anywhere but its HttpOnly cookie, or put request text into a page unescaped.

use std::sync::Arc;

use axum::extract::{Query, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use authdesk_core::engine::flow::{sign_in_id_of, SignInOutcome};
use authdesk_core::settings::{SignInTokenRejection, TargetRefusal};
use authdesk_core::Secret;

use crate::AppState;

#[derive(Deserialize)]
pub struct ConnectorAuthQuery {
    id: Option<String>,
    token: Option<String>,
    #[serde(rename = "targetOrigin")]
    target_origin: Option<String>,
    #[serde(rename = "callbackMessage")]
    callback_message: Option<String>,
}

/// Where to send the browser at the end; kept with the pending sign-in.
#[derive(Serialize, Deserialize)]
struct WebReturn {
    /// The full validated targetOrigin URL, normalised (as `url` serialises it).
    target: String,
    /// Its origin (what postMessage is addressed to).
    origin: String,
    message: Option<String>,
}

pub async fn update_account_connector_oauth(
    State(s): State<Arc<AppState>>,
    query: Result<Query<ConnectorAuthQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    // A link that is not even well formed (a parameter twice, say) gets a page, not text.
    let q = match query {
        Ok(Query(q)) => q,
        Err(e) => {
            return page(
                StatusCode::BAD_REQUEST,
                &format!(
                    "This sign-in link is malformed ({}). Ask the application that sent you here \
                     for a new one.",
                    e.body_text()
                ),
            )
        }
    };
    // targetOrigin first: it decides whether errors may be sent anywhere.
    let Some(target) = q.target_origin.filter(|t| !t.trim().is_empty()) else {
        return page(
            StatusCode::BAD_REQUEST,
            "targetOrigin is required: the URL (or origin) to return to when the sign-in ends.",
        );
    };
    let checked = {
        let target = target.clone();
        s.db(move |desk| desk.return_target(&target)).await
    };
    // A bare host (`example.com`, as Cyclr's examples write it) means https://example.com.
    let (normalised, origin) = match checked {
        Ok(Ok(t)) => (t.url, t.origin),
        Ok(Err(TargetRefusal::NotAllowed(origin))) => {
            return page(
                StatusCode::BAD_REQUEST,
                &format!(
                    "targetOrigin is on {origin}, which this Authdesk does not allow, so this sign-in \
                     cannot start. The owner can allow it with `authdesk origins add {origin}` (or in \
                     the desktop app's Settings, or PUT /v1.0/settings/target-origins)."
                ),
            )
        }
        Ok(Err(TargetRefusal::Malformed)) => {
            return page(
                StatusCode::BAD_REQUEST,
                "targetOrigin is neither an absolute http(s) URL nor a host name, so this sign-in \
                 cannot start. Give the page to return to, e.g. https://partner.example/done or \
                 partner.example.",
            )
        }
        Err(e) => return page(StatusCode::SERVICE_UNAVAILABLE, &e.message),
    };
    let web_return = WebReturn {
        target: normalised.to_string(),
        origin,
        message: q.callback_message.filter(|m| !m.is_empty()),
    };
    let fail =
        |status: StatusCode, code: &str, message: &str| fail_to(&web_return, status, code, message);

    let Some(id) = q.id.as_deref().and_then(|i| i.trim().parse::<i64>().ok()) else {
        return fail(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "id must be the integer Id of an account connector",
        );
    };
    let Some(token) = q.token.filter(|t| !t.is_empty()) else {
        return fail(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "token (an account sign-in token) is required",
        );
    };
    let account = match s.db(move |desk| desk.account_connector_account(id)).await {
        Ok(account) => account,
        Err(e) if e.status == StatusCode::NOT_FOUND => {
            return fail(
                StatusCode::NOT_FOUND,
                "invalid_request",
                "there is no such account connector",
            )
        }
        Err(e) => return fail(StatusCode::SERVICE_UNAVAILABLE, "server_error", &e.message),
    };
    let consumed = s
        .db(move |desk| desk.consume_sign_in_token(&token, &account))
        .await;
    let refused = match consumed {
        Ok(Ok(_username)) => None,
        Ok(Err(SignInTokenRejection::UnknownUsedOrExpired)) => {
            Some("the sign-in token is unknown, already used or expired (they are single-use and live 5 minutes)")
        }
        Ok(Err(SignInTokenRejection::OtherAccount)) => Some("the sign-in token belongs to another account"),
        Err(e) => return fail(StatusCode::SERVICE_UNAVAILABLE, "server_error", &e.message),
    };
    if let Some(reason) = refused {
        // Only an answer: whoever cannot present a valid token changes nothing here.
        return fail(StatusCode::FORBIDDEN, "access_denied", reason);
    }
    // Client credentials and password grants need no user (Cyclr's SugarCRM page: "your
    // end-user will simply be redirected back"): authenticate now, then return.
    match s.engine.authenticates_by_itself(id).await {
        Ok(true) => {
            return match s.engine.refresh_now(id).await {
                Ok(_) => succeed_to(&web_return),
                Err(e) => fail(
                    StatusCode::BAD_GATEWAY,
                    e.oauth_error_code(),
                    &e.to_string(),
                ),
            };
        }
        Ok(false) => {}
        Err(e) => return fail(StatusCode::BAD_REQUEST, "invalid_request", &e.to_string()),
    }
    let encoded = serde_json::to_string(&web_return).unwrap_or_default();
    let callback_uri = s.callback_uri();
    match s
        .engine
        .begin_sign_in_returning(id, &callback_uri, Some(&encoded))
        .await
    {
        Ok(start) => to_provider(&s, &callback_uri, &start),
        Err(e) => {
            // A valid token was presented: the failure belongs on the account connector.
            let message = e.to_string();
            let recorded = message.clone();
            let _ = s
                .db(move |desk| desk.record_failure(id, "sign_in_failed", &recorded, None))
                .await;
            fail(StatusCode::BAD_REQUEST, "server_error", &message)
        }
    }
}

pub async fn callback(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let query = query.unwrap_or_default();
    let callback_uri = s.callback_uri();
    let url = format!("{callback_uri}?{query}");
    let sign_in_id = url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "state")
        .map(|(_, state)| sign_in_id_of(&state));
    let presented = sign_in_id
        .as_deref()
        .and_then(|id| cookie_value(&headers, &cookie_name(id)))
        .map(Secret::new);
    let outcome = match presented {
        Some(binding) => {
            s.engine
                .complete_sign_in_returning(&url, Some(&binding))
                .await
        }
        // No cookie: only a binding this process holds (the desktop's own sign-in in the
        // system browser) can stand in for it.
        None => s.engine.complete_sign_in_returning(&url, None).await,
    };
    let mut response = finish_callback(&s, outcome).await;
    if let Some(id) = sign_in_id {
        // The cookie has done its work (or was not this browser's): forget it.
        if let Ok(v) = HeaderValue::from_str(&binding_cookie(&callback_uri, &id, "", 0)) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    response
}

async fn finish_callback(s: &AppState, outcome: SignInOutcome) -> Response {
    let mut web_return: Option<WebReturn> = outcome
        .web_return
        .as_deref()
        .and_then(|w| serde_json::from_str(w).ok());
    // The allow-list again: an origin removed since the start is sent nothing.
    let mut withdrawn = None;
    if let Some(w) = &web_return {
        let target = w.target.clone();
        let still = s.db(move |desk| desk.return_target(&target)).await;
        if !matches!(&still, Ok(Ok(t)) if t.origin == w.origin) {
            withdrawn = Some(w.origin.clone());
            web_return = None;
        }
    }
    if let Some(origin) = withdrawn {
        let ended = match &outcome.result {
            Ok(ac) => format!("account connector {} is authenticated", ac.id),
            Err(e) => format!("it did not complete ({e})"),
        };
        return page(
            StatusCode::FORBIDDEN,
            &format!(
                "The sign-in ended ({ended}), but {origin}, where it was to return, is no longer \
                 allowed by this Authdesk, so nothing was sent there. Return to the application \
                 yourself."
            ),
        );
    }
    match (outcome.result, web_return) {
        (Ok(_), Some(w)) => succeed_to(&w),
        (Ok(ac), None) => page(
            StatusCode::OK,
            &format!(
                "Connected: {} ({}) is authenticated. You can close this page.",
                ac.name, ac.id
            ),
        ),
        (Err(e), Some(w)) => fail_to(
            &w,
            StatusCode::BAD_REQUEST,
            e.oauth_error_code(),
            &e.to_string(),
        ),
        (Err(e), None) => page(StatusCode::BAD_REQUEST, &e.to_string()),
    }
}

/// The end of a sign-in that worked: back to targetOrigin, or callbackMessage posted to it.
fn succeed_to(w: &WebReturn) -> Response {
    match &w.message {
        None => no_store(Redirect::to(&w.target).into_response()),
        Some(message) => post_message_page(StatusCode::OK, &w.origin, message, None),
    }
}

/// A failure once targetOrigin is known to be valid: redirect mode sends the browser back
/// with `error` and `error_description`; postMessage mode posts callbackMessage all the
/// same, as Cyclr does "on completion" (the opener must not wait forever; it learns the
/// outcome from the account connector's status), and shows what went wrong.
fn fail_to(w: &WebReturn, status: StatusCode, code: &str, message: &str) -> Response {
    if let Some(callback) = &w.message {
        return post_message_page(status, &w.origin, callback, Some(message));
    }
    match url::Url::parse(&w.target) {
        Ok(mut url) => {
            url.query_pairs_mut()
                .append_pair("error", code)
                .append_pair("error_description", message);
            no_store(Redirect::to(url.as_str()).into_response())
        }
        Err(_) => page(status, message),
    }
}

/// The browser sent to the provider, holding the sign-in's binding in its cookie.
pub(crate) fn to_provider(
    s: &AppState,
    callback_uri: &str,
    start: &authdesk_core::engine::flow::SignInStart,
) -> Response {
    let mut response = no_store(Redirect::to(&start.authorization_url).into_response());
    let ttl = s.engine.config().sign_in_ttl.num_seconds().max(1);
    let cookie = binding_cookie(callback_uri, &start.sign_in_id, start.binding.expose(), ttl);
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

/// The name of the binding cookie of sign-in `sign_in_id` (several sign-ins may run in one
/// browser at once, each with its own).
fn cookie_name(sign_in_id: &str) -> String {
    format!(
        "authdesk_signin_{}",
        &sign_in_id[..sign_in_id.len().min(16)]
    )
}

/// The binding cookie: HttpOnly, `SameSite=Lax` (the provider's redirect back is a top-level
/// GET, which carries it), only for the callback path, `Secure` unless the callback is
/// loopback http. `max_age` 0 removes it.
pub(crate) fn binding_cookie(
    callback_uri: &str,
    sign_in_id: &str,
    value: &str,
    max_age: i64,
) -> String {
    let parsed = url::Url::parse(callback_uri).ok();
    let path = parsed
        .as_ref()
        .map(|u| u.path().to_string())
        .unwrap_or_else(|| "/connector/callback".into());
    let secure = if parsed.is_some_and(|u| u.scheme() == "https") {
        "; Secure"
    } else {
        ""
    };
    format!(
        "{}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}",
        cookie_name(sign_in_id)
    )
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub(crate) fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(|h| h.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.trim_matches('"').to_string())
        .filter(|v| !v.is_empty())
}

pub(crate) fn no_store(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// JSON that is safe inside a `<script type="application/json">` element.
fn script_json(value: &serde_json::Value) -> String {
    value
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

fn page(status: StatusCode, message: &str) -> Response {
    let body = format!(
        "<!doctype html><html lang=en><meta charset=utf-8><title>Authdesk</title>\
         <body style=\"font-family:sans-serif;margin:3em;max-width:40em\"><h1>Authdesk</h1><p id=message>{}</p></body></html>",
        escape(message)
    );
    html(status, body, "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
}

/// Posts exactly `message` to the opener (or parent when framed), addressed to `origin`.
/// With `error` the sign-in failed: the page stays open and says why.
fn post_message_page(
    status: StatusCode,
    origin: &str,
    message: &str,
    error: Option<&str>,
) -> Response {
    let nonce = base64::engine::general_purpose::STANDARD
        .encode(authdesk_core::settings::random_bytes::<18>());
    let data = script_json(&serde_json::json!({
        "origin": origin,
        "message": message,
        "error": error,
    }));
    let first = match error {
        None => "Signed in. Returning to the application…".to_string(),
        Some(e) => escape(&format!("The sign-in did not complete: {e}")),
    };
    let body = format!(
        r#"<!doctype html><html lang=en><meta charset=utf-8><title>Authdesk</title>
<body style="font-family:sans-serif;margin:3em;max-width:40em"><h1>Authdesk</h1><p id=status>{first}</p>
<script type="application/json" id="authdesk-result">{data}</script>
<script nonce="{nonce}">
(function () {{
  var data = JSON.parse(document.getElementById('authdesk-result').textContent);
  var target = window.opener || (window.parent !== window ? window.parent : null);
  var status = document.getElementById('status');
  if (target) {{ target.postMessage(data.message, data.origin); }}
  if (data.error) {{ return; }}
  status.textContent = 'Signed in. You can close this window.';
  if (target && window.opener) {{ window.close(); }}
}})();
</script></body></html>"#
    );
    html(
        status,
        body,
        &format!("default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"),
    )
}

pub(crate) fn html(status: StatusCode, body: String, csp: &str) -> Response {
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(csp) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, v);
    }
    response.headers_mut().insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    no_store(response)
}
