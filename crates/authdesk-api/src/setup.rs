//! Setup links in the customer's browser (`<public base>/setup/<token>`).
//!
//! - `GET /setup/{token}` shows a page naming the account and the connector, with one
//!   button. It spends nothing: link previews and mail scanners that fetch the link leave it
//!   whole. It sets a random CSRF cookie (HttpOnly, `SameSite=Strict`, path `/setup/`) and
//!   puts the same value in the button's form.
//! - `POST /setup/{token}` is the button. The form's value must equal the cookie (so only
//!   the browser that was shown the page can press it). OAuth 2 and OAuth 1.0a: the link is
//!   spent and the sign-in starts (the browser flow's callback ends it on "connected, you can
//!   close this page"); a connector that authenticates by itself is authenticated at once.
//!   API key, Basic and AuthFields: a form for the values (the link not spent yet).
//! - `POST /setup/{token}/credentials` is that form: CSRF checked, the link spent, the
//!   values sealed, and the connector's check run when it names one. Values are never
//!   logged or echoed back.
//!
//! A used, expired, revoked or unknown link answers 410 with a page that says to ask for a
//! new link. Every page: no-store, no referrer, a CSP without scripts, `noindex`.
//!
//! Must not: spend a link on a GET, accept a press without the page's CSRF value, or put a
//! submitted value in a page, a log or an error.

use std::sync::Arc;

use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::Form;
use base64::Engine as _;

use authdesk_core::definition::AuthDefinition;
use authdesk_core::{CredentialForm, Secret};

use crate::browser::{cookie_value, escape, html, to_provider};
use crate::AppState;

/// The CSRF cookie of a page is named after the start of its value, so pages of one link
/// open in several tabs each keep their own.
const CSRF_COOKIE: &str = "authdesk_setup_";
/// What the pages allow: no scripts; forms post to this server only.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
/// The button's page: its POST is redirected to the provider, which browsers check against
/// `form-action` too, so that directive is left out (the page has no script to misuse it).
const CSP_BUTTON: &str =
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'";

/// The page for a link that opens nothing.
fn gone() -> Response {
    page(
        StatusCode::GONE,
        "This setup link has already been used, has expired or was withdrawn",
        "<p>Ask whoever sent it for a new link.</p>",
    )
}

/// A page: a title and HTML the caller has escaped.
fn page(status: StatusCode, title: &str, body_html: &str) -> Response {
    page_with(status, title, body_html, CSP)
}

fn page_with(status: StatusCode, title: &str, body_html: &str, csp: &str) -> Response {
    let body = format!(
        "<!doctype html><html lang=en><meta charset=utf-8><meta name=robots content=noindex>\
         <title>{t}</title><body style=\"font-family:sans-serif;margin:3em;max-width:40em\">\
         <h1>{t}</h1>{body_html}</body></html>",
        t = escape(title)
    );
    let mut response = html(status, body, csp);
    response
        .headers_mut()
        .insert("x-robots-tag", HeaderValue::from_static("noindex"));
    response
}

/// What the pages say of the account connector a link opens.
struct Target {
    account: String,
    connector: String,
    name: String,
    auth: AuthDefinition,
}

async fn target(s: &AppState, token: &str) -> Result<Option<Target>, Response> {
    let token = token.to_string();
    let found = s
        .db(move |desk| {
            let Some(id) = desk.setup_link_target(&token)? else {
                return Ok(None);
            };
            let (ac, def) = desk.account_connector_with_definition(id)?;
            let account = desk.get_account(&ac.account_id)?;
            let auth = def
                .auth_method(Some(&ac.authentication.method_id))
                .map(|m| m.auth.clone())
                .unwrap_or(AuthDefinition::None {});
            Ok(Some(Target {
                account: account.name,
                connector: ac.connector.name.clone(),
                name: ac.name,
                auth,
            }))
        })
        .await;
    found.map_err(|e| {
        page(
            StatusCode::SERVICE_UNAVAILABLE,
            "This page cannot be shown now",
            &format!("<p>{}</p>", escape(&e.message)),
        )
    })
}

fn csrf_cookie_name(value: &str) -> String {
    format!("{CSRF_COOKIE}{}", &value[..value.len().min(12)])
}

fn csrf_cookie(s: &AppState, value: &str, max_age: i64) -> String {
    // Secure where the pages are served over https (a loopback http base cannot carry it).
    let secure = if s.public_base().starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    format!(
        "{}={value}; Path=/setup/; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}",
        csrf_cookie_name(value)
    )
}

/// Whether the form's CSRF value is the one its page set in this browser's cookie
/// (compared in constant time).
fn csrf_ok(headers: &HeaderMap, presented: Option<&str>) -> bool {
    use subtle::ConstantTimeEq;
    let Some(form) = presented.filter(|f| f.len() >= 32) else {
        return false;
    };
    match cookie_value(headers, &csrf_cookie_name(form)) {
        Some(cookie) => bool::from(cookie.as_bytes().ct_eq(form.as_bytes())),
        None => false,
    }
}

fn stale_page() -> Response {
    page(
        StatusCode::FORBIDDEN,
        "This page has expired",
        "<p>Open the setup link again (in this browser) and press the button there.</p>",
    )
}

fn connected(t: &Target) -> Response {
    page(
        StatusCode::OK,
        "Connected",
        &format!(
            "<p id=message>{} is connected for {}. You can close this page.</p>",
            escape(&t.connector),
            escape(&t.account)
        ),
    )
}

pub async fn show(State(s): State<Arc<AppState>>, Path(token): Path<String>) -> Response {
    let t = match target(&s, &token).await {
        Ok(Some(t)) => t,
        Ok(None) => return gone(),
        Err(page) => return page,
    };
    let csrf = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(authdesk_core::settings::random_bytes::<32>());
    let mut response = page_with(
        StatusCode::OK,
        &format!("Connect {}", t.connector),
        &format!(
            "<p>{} asks you to connect <strong>{}</strong> ({}).</p>\
             <form method=post action=\"/setup/{}\"><input type=hidden name=csrf value=\"{}\">\
             <button type=submit id=connect>Connect {}</button></form>\
             <p style=\"color:#555\">The link works once: nothing happens until you press the button.</p>",
            escape(&t.account),
            escape(&t.connector),
            escape(&t.name),
            escape(&token),
            csrf,
            escape(&t.connector)
        ),
        CSP_BUTTON,
    );
    if let Ok(v) = HeaderValue::from_str(&csrf_cookie(&s, &csrf, 1800)) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

#[derive(serde::Deserialize)]
pub struct Press {
    csrf: Option<String>,
}

pub async fn press(
    State(s): State<Arc<AppState>>,
    Path(token): Path<String>,
    headers: HeaderMap,
    form: Result<Form<Press>, FormRejection>,
) -> Response {
    let presented = form.as_ref().ok().and_then(|f| f.csrf.as_deref());
    if !csrf_ok(&headers, presented) {
        return stale_page();
    }
    let t = match target(&s, &token).await {
        Ok(Some(t)) => t,
        Ok(None) => return gone(),
        Err(page) => return page,
    };
    match &t.auth {
        AuthDefinition::Oauth2(_) | AuthDefinition::Oauth1(_) => {
            start_sign_in(&s, &token, &t).await
        }
        AuthDefinition::ApiKey(_) | AuthDefinition::Basic {} | AuthDefinition::AuthFields(_) => {
            credentials_form(&token, presented.unwrap_or_default(), &t)
        }
        AuthDefinition::None {} => match spend(&s, &token).await {
            Ok(Some(_)) => connected(&t),
            Ok(None) => gone(),
            Err(page) => page,
        },
    }
}

async fn spend(s: &AppState, token: &str) -> Result<Option<i64>, Response> {
    let token = token.to_string();
    s.db(move |desk| desk.use_setup_link(&token))
        .await
        .map_err(|e| {
            page(
                StatusCode::SERVICE_UNAVAILABLE,
                "The link cannot be used now",
                &format!("<p>{} Try again in a moment.</p>", escape(&e.message)),
            )
        })
}

async fn start_sign_in(s: &AppState, token: &str, t: &Target) -> Response {
    let id = match spend(s, token).await {
        Ok(Some(id)) => id,
        Ok(None) => return gone(),
        Err(page) => return page,
    };
    let failed = |e: &authdesk_core::Error| {
        page(
            StatusCode::BAD_GATEWAY,
            "The sign-in could not start",
            &format!(
                "<p>{}</p><p>The link has been used: ask for a new one.</p>",
                escape(&e.to_string())
            ),
        )
    };
    match s.engine.authenticates_by_itself(id).await {
        Ok(true) => {
            return match s.engine.refresh_now(id).await {
                Ok(_) => connected(t),
                Err(e) => failed(&e),
            }
        }
        Ok(false) => {}
        Err(e) => return failed(&e),
    }
    let callback_uri = s.callback_uri();
    match s
        .engine
        .begin_sign_in_returning(id, &callback_uri, None)
        .await
    {
        Ok(start) => to_provider(s, &callback_uri, &start),
        Err(e) => failed(&e),
    }
}

/// The form for the values an API key, Basic or AuthFields connector takes.
fn credentials_form(token: &str, csrf: &str, t: &Target) -> Response {
    let input = |name: &str, label: &str, secret: bool| {
        format!(
            "<p><label for=\"{n}\">{l}</label><br><input id=\"{n}\" name=\"{n}\" type={ty} required autocomplete=off style=\"width:100%\"></p>",
            n = escape(name),
            l = escape(label),
            ty = if secret { "password" } else { "text" }
        )
    };
    let fields = match &t.auth {
        AuthDefinition::ApiKey(_) => input("api_key", "API key", true),
        AuthDefinition::Basic {} => {
            input("username", "User name", false) + &input("password", "Password", true)
        }
        AuthDefinition::AuthFields(f) => f
            .fields
            .iter()
            .map(|field| {
                let label = if field.description.is_empty() {
                    field.name.clone()
                } else {
                    format!("{} ({})", field.name, field.description)
                };
                input(&format!("field:{}", field.name), &label, field.secret)
            })
            .collect(),
        _ => String::new(),
    };
    page(
        StatusCode::OK,
        &format!("Connect {}", t.connector),
        &format!(
            "<p>Enter the credentials of <strong>{}</strong> for {}. They are sealed as soon as \
             you submit them and never shown again.</p>\
             <form method=post action=\"/setup/{}/credentials\"><input type=hidden name=csrf value=\"{}\">{fields}\
             <button type=submit id=save>Save</button></form>",
            escape(&t.connector),
            escape(&t.account),
            escape(token),
            escape(csrf)
        ),
    )
}

pub async fn credentials(
    State(s): State<Arc<AppState>>,
    Path(token): Path<String>,
    headers: HeaderMap,
    Form(values): Form<Vec<(String, String)>>,
) -> Response {
    let get = |k: &str| values.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    if !csrf_ok(&headers, get("csrf")) {
        return stale_page();
    }
    let t = match target(&s, &token).await {
        Ok(Some(t)) => t,
        Ok(None) => return gone(),
        Err(page) => return page,
    };
    let missing = || {
        page(
            StatusCode::BAD_REQUEST,
            "Something is missing",
            "<p>Every field is needed. Go back and fill them in (the link is still unused).</p>",
        )
    };
    let filled = |k: &str| get(k).filter(|v| !v.trim().is_empty());
    let form = match &t.auth {
        AuthDefinition::ApiKey(_) => match filled("api_key") {
            Some(k) => CredentialForm::ApiKey {
                key: Secret::new(k.trim()),
            },
            None => return missing(),
        },
        AuthDefinition::Basic {} => match (filled("username"), filled("password")) {
            (Some(u), Some(p)) => CredentialForm::Basic {
                username: u.trim().to_string(),
                password: Secret::new(p),
            },
            _ => return missing(),
        },
        AuthDefinition::AuthFields(f) => {
            let mut out = std::collections::BTreeMap::new();
            for field in &f.fields {
                match filled(&format!("field:{}", field.name)) {
                    Some(v) => {
                        out.insert(field.name.clone(), Secret::new(v));
                    }
                    None => return missing(),
                }
            }
            CredentialForm::AuthFields { values: out }
        }
        _ => return gone(),
    };
    let id = match spend(&s, &token).await {
        Ok(Some(id)) => id,
        Ok(None) => return gone(),
        Err(page) => return page,
    };
    let stored = s.db(move |desk| desk.set_credential(id, form)).await;
    if let Err(e) = stored {
        return page(
            StatusCode::BAD_REQUEST,
            "The credentials were not accepted",
            &format!(
                "<p>{}</p><p>The link has been used: ask for a new one.</p>",
                escape(&e.message)
            ),
        );
    }
    if let Some(check) = s.engine.check_if_named(id).await {
        if !check.valid {
            return page(
                StatusCode::OK,
                "Saved, but refused",
                &format!(
                    "<p>{} answered HTTP {} to these credentials: they do not work. Ask for a new link and try again.</p>",
                    escape(&t.connector),
                    check.status
                ),
            );
        }
    }
    connected(&t)
}
