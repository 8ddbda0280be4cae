//! A real OAuth2/OIDC authorization server for tests: panva's `oidc-provider` run by
//! `tests/oidc/server.mjs` (see its README for the clients), plus a driver for its
//! devInteractions login and consent pages over plain HTTP.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use reqwest::header::LOCATION;
use reqwest::redirect::Policy;
use url::Url;

pub struct OidcServer {
    /// `http://127.0.0.1:<port>`, no trailing slash.
    pub issuer: String,
    child: Child,
}

pub struct OidcOptions {
    pub access_ttl_secs: u64,
    pub rotate_refresh: bool,
}

impl Default for OidcOptions {
    fn default() -> Self {
        OidcOptions {
            access_ttl_secs: 60,
            rotate_refresh: true,
        }
    }
}

impl OidcServer {
    /// Starts `node tests/oidc/server.mjs` on a free port and waits for it to listen.
    pub fn start(opts: OidcOptions) -> OidcServer {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/oidc");
        let mut child = Command::new("node")
            .arg("server.mjs")
            .current_dir(&dir)
            .env("PORT", "0")
            .env("ACCESS_TTL", opts.access_ttl_secs.to_string())
            .env(
                "ROTATE_REFRESH",
                if opts.rotate_refresh { "1" } else { "0" },
            )
            // The server exits when our end of its stdin closes, even if we are killed.
            .env("EXIT_WITH_STDIN", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run `node` in {}: {e}", dir.display()));

        // Both pipes are drained for the server's whole life so it never blocks writing.
        let mut stderr = child.stderr.take().unwrap();
        let stderr_reader = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });

        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(line) if line.starts_with("listening ") => {
                let issuer = line["listening ".len()..].trim().to_string();
                OidcServer { issuer, child }
            }
            outcome => {
                let _ = child.kill();
                let _ = child.wait();
                let stderr = stderr_reader.join().unwrap_or_default();
                let hint = if dir.join("node_modules/oidc-provider").exists() {
                    String::new()
                } else {
                    format!(
                        "\n{}/node_modules is missing: run `npm ci` there.",
                        dir.display()
                    )
                };
                panic!(
                    "the oidc-provider test server did not start (first stdout line: {outcome:?}){hint}\n\
                     --- server stderr ---\n{stderr}"
                );
            }
        }
    }

    /// `{"grants":{"authorization_code":1,..},"errors":{"invalid_grant":1},"revocations":0}`
    pub async fn stats(&self) -> serde_json::Value {
        let url = format!("{}/__test/stats", self.issuer);
        let body = reqwest::get(&url).await.and_then(|r| r.error_for_status());
        let body = match body {
            Ok(response) => response.text().await.expect("read /__test/stats"),
            Err(e) => panic!("GET {url}: {e}"),
        };
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("/__test/stats gave {body:?}: {e}"))
    }

    /// The HTTP status of a refresh with `refresh_token` by the client `(id, secret)`
    /// (400: the provider no longer honours it, say after a revocation).
    pub async fn refresh_status(&self, (id, secret): (&str, &str), refresh_token: &str) -> u16 {
        reqwest::Client::new()
            .post(format!("{}/token", self.issuer))
            .basic_auth(id, Some(secret))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ])
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {}/token: {e}", self.issuer))
            .status()
            .as_u16()
    }

    pub async fn reset_stats(&self) {
        let url = format!("{}/__test/reset", self.issuer);
        let response = reqwest::Client::new().post(&url).send().await;
        if let Err(e) = response.and_then(|r| r.error_for_status()) {
            panic!("POST {url}: {e}");
        }
    }
}

impl Drop for OidcServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Follows an authorization URL through devInteractions login (any login/password) and
/// consent with a fresh cookie jar, without following the final redirect to the client's
/// redirect_uri; returns that final Location (absolute URL with code/state/iss or error).
pub async fn sign_in(authorization_url: &str, login: &str) -> String {
    let client = reqwest::Client::builder()
        .redirect(Policy::none())
        .cookie_store(true)
        .build()
        .expect("build the sign-in HTTP client");
    let mut url = Url::parse(authorization_url)
        .unwrap_or_else(|e| panic!("sign_in: bad authorization URL {authorization_url:?}: {e}"));
    let issuer_origin = url.origin();
    // The form to POST to `url` next, or None to GET it.
    let mut form: Option<Vec<(&str, &str)>> = None;

    for _ in 0..20 {
        let request = match form.take() {
            Some(fields) => client.post(url.clone()).form(&fields),
            None => client.get(url.clone()),
        };
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("sign_in: {url}: {e}"));
        let status = response.status();

        if status.is_redirection() {
            let location = response
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok());
            let Some(location) = location else {
                panic!("sign_in: {status} without Location from {url}")
            };
            let next = url
                .join(location)
                .unwrap_or_else(|e| panic!("sign_in: bad Location {location:?} from {url}: {e}"));
            if next.origin() != issuer_origin {
                return next.to_string();
            }
            url = next;
            continue;
        }

        let body = response.text().await.unwrap_or_default();
        let page = interaction_form(&body).filter(|_| status.is_success());
        let Some((action, prompt)) = page else {
            panic!(
                "sign_in: unexpected {status} from {url}:\n{}",
                excerpt(&body)
            );
        };
        url = url
            .join(&action)
            .unwrap_or_else(|e| panic!("sign_in: bad form action {action:?} at {url}: {e}"));
        form = Some(match prompt.as_str() {
            "login" => vec![
                ("prompt", "login"),
                ("login", login),
                ("password", "any password"),
            ],
            "consent" => vec![("prompt", "consent")],
            other => panic!(
                "sign_in: unknown interaction prompt {other:?} at {url}:\n{}",
                excerpt(&body)
            ),
        });
    }
    panic!("sign_in: no redirect to the client after 20 steps (last URL {url})");
}

/// A user at the device verification page (`verification_uri_complete`): confirms the user
/// code (or, with `approve` false, aborts), then logs in and consents through
/// devInteractions, with a fresh cookie jar. Returns once the provider says the sign-in
/// succeeded (or was aborted).
pub async fn approve_device(verification_uri_complete: &str, login: &str, approve: bool) {
    let client = reqwest::Client::builder()
        .redirect(Policy::none())
        .cookie_store(true)
        .build()
        .expect("build the device HTTP client");
    let mut url = Url::parse(verification_uri_complete).unwrap();
    let user_code = url
        .query_pairs()
        .find(|(k, _)| k == "user_code")
        .map(|(_, v)| v.into_owned())
        .expect("verification_uri_complete has the user_code");
    let mut form: Option<Vec<(String, String)>> = None;
    for _ in 0..20 {
        let request = match form.take() {
            Some(fields) => client.post(url.clone()).form(&fields),
            None => client.get(url.clone()),
        };
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("device: {url}: {e}"));
        let status = response.status();
        if status.is_redirection() {
            let location = response
                .headers()
                .get(LOCATION)
                .unwrap()
                .to_str()
                .unwrap()
                .to_string();
            url = url.join(&location).unwrap();
            continue;
        }
        let body = response.text().await.unwrap_or_default();
        // Aborted, oidc-provider shows its code input again, saying so.
        if body.contains("Sign-in Success") || (!approve && body.contains("was interrupted")) {
            return;
        }
        let field = |name: &str| {
            between(&body, &format!("name=\"{name}\" value=\""), "\"").map(str::to_string)
        };
        // The code input, its self-posting form when the code came in the URL, and the
        // confirmation all post `xsrf` and `user_code` (the last with confirm or abort).
        if body.contains("name=\"xsrf\"") {
            let action = between(&body, "action=\"", "\"")
                .unwrap()
                .replace("&amp;", "&");
            let code = field("user_code").unwrap_or_else(|| user_code.clone());
            let mut fields = vec![
                ("xsrf".to_string(), field("xsrf").unwrap_or_default()),
                ("user_code".to_string(), code),
            ];
            if body.contains("op.deviceConfirmForm") {
                fields.push(if approve {
                    ("confirm".to_string(), "yes".to_string())
                } else {
                    ("abort".to_string(), "yes".to_string())
                });
            }
            url = url.join(&action).unwrap();
            form = Some(fields);
            continue;
        }
        let Some((action, prompt)) = interaction_form(&body).filter(|_| status.is_success()) else {
            panic!(
                "device: unexpected {status} from {url}:\n{}",
                excerpt(&body)
            );
        };
        url = url.join(&action).unwrap();
        form = Some(match prompt.as_str() {
            "login" => vec![
                ("prompt".into(), "login".into()),
                ("login".into(), login.into()),
                ("password".into(), "any password".into()),
            ],
            _ => vec![("prompt".into(), "consent".into())],
        });
    }
    panic!("device: no end after 20 steps (last URL {url})");
}

/// The devInteractions page's form: its action and its hidden `prompt` ("login"/"consent").
fn interaction_form(html: &str) -> Option<(String, String)> {
    let form = &html[html.find("<form")?..];
    let action = between(form, "action=\"", "\"")?.replace("&amp;", "&");
    let prompt = between(form, "name=\"prompt\" value=\"", "\"")?.to_string();
    Some((action, prompt))
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = text.find(start)? + start.len();
    let len = text[from..].find(end)?;
    Some(&text[from..from + len])
}

/// The start of a page's body, for panic messages (oidc-provider's error pages put
/// `error` and `error_description` there).
fn excerpt(html: &str) -> String {
    let body = html.find("<body").map_or(html, |at| &html[at..]);
    body.chars().take(800).collect()
}

/// A second way into the test provider (`[[auth_methods]]` `api-token`: an API key in
/// `X-Key`), to append to its definition: switching ways revokes the OAuth tokens.
pub const API_TOKEN_WAY: &str = "\n[[auth_methods]]\nid = \"api-token\"\nname = \"API token\"\n\
     [auth_methods.auth]\ntype = \"api_key\"\nplacement = \"header\"\nname = \"X-Key\"\n";

/// `tests/oidc/test-provider.toml` for the server at `issuer`: a connector definition
/// shared by the tests that need one (Rust and the browser end-to-end test).
pub fn test_provider_definition(issuer: &str) -> String {
    include_str!("../../../../tests/oidc/test-provider.toml").replace("@ISSUER@", issuer)
}

/// An account connector of the test provider on `desk`, with its own client (the web one),
/// not signed in. Returns its Id.
pub fn installed(desk: &authdesk_core::Authdesk, issuer: &str) -> i64 {
    installed_as(desk, issuer, "authdesk-web", "authdesk-web-secret")
}

/// [`installed`] with another of the server's clients (e.g. the native one).
pub fn installed_as(
    desk: &authdesk_core::Authdesk,
    issuer: &str,
    client_id: &str,
    client_secret: &str,
) -> i64 {
    use authdesk_core::{InstallRequest, NewAccount, Secret};
    desk.add_connector("test", &test_provider_definition(issuer), false)
        .unwrap();
    let account = desk
        .create_account(NewAccount {
            name: "Test provider's customer".into(),
            ..Default::default()
        })
        .unwrap()
        .id;
    let id = desk
        .install(
            &account,
            "test-provider",
            InstallRequest {
                name: "t".into(),
                ..Default::default()
            },
        )
        .unwrap()
        .id;
    desk.set_property(id, "ClientId", &Secret::new(client_id))
        .unwrap();
    desk.set_property(id, "ClientSecret", &Secret::new(client_secret))
        .unwrap();
    id
}

/// An account connector of the test provider on `desk`, signed in through `engine` as
/// "frank", then given back its own tokens as an AuthValue that expired long ago, so the
/// next use refreshes. Returns its Id.
pub async fn signed_in_and_expired(
    desk: &std::sync::Arc<authdesk_core::Authdesk>,
    engine: &authdesk_core::Engine,
    issuer: &str,
) -> i64 {
    let id = installed(desk, issuer);
    let start = engine
        .begin_sign_in(id, "https://app.example.com/callback")
        .await
        .unwrap();
    let callback = sign_in(&start.authorization_url, "frank").await;
    engine
        .complete_sign_in(&callback, &start.binding)
        .await
        .unwrap();
    expire(desk, id);
    id
}

/// Sets account connector `id`'s own tokens again as an AuthValue that expired long ago.
pub fn expire(desk: &authdesk_core::Authdesk, id: i64) {
    let value = serde_json::json!({
        "AccessToken": stored(desk, id, "AccessToken"),
        "RefreshToken": stored(desk, id, "RefreshToken"),
        "Expires": "2000-01-01T00:00:00Z",
    });
    desk.set_auth_value(id, &authdesk_core::Secret::new(value.to_string()))
        .unwrap();
}

/// The stored value of secret `field` of account connector `id`.
pub fn stored(desk: &authdesk_core::Authdesk, id: i64, field: &str) -> String {
    desk.credential_secret(id, field)
        .unwrap()
        .unwrap()
        .expose()
        .to_string()
}

/// A connector definition for this server: `grant`, its endpoints, RFC 9207 `iss`, the
/// scopes `openid offline_access email` (consent asked, so a refresh token is issued),
/// `extra` lines in `[auth]`, and one method (`userinfo`, GET /me).
pub fn definition(issuer: &str, id: &str, grant: &str, extra: &str) -> String {
    format!(
        r#"
id = "{id}"
name = "Test provider"
version = "1"
api_base_url = "{issuer}"
[auth]
type = "oauth2"
grant = "{grant}"
authorize_url = "{issuer}/auth"
token_url = "{issuer}/token"
revoke_url = "{issuer}/token/revocation"
issuer = "{issuer}"
issuer_in_response = true
scopes = ["openid", "offline_access", "email"]
{extra}
[auth.authorize_params]
prompt = "consent"
[[methods]]
id = "userinfo"
name = "UserInfo"
http_method = "GET"
path = "/me"
"#
    )
}

/// A device sign-in connector (RFC 8628) for this server's public `authdesk-device` client:
/// the test definition with `grant = "device_code"`, no authorization endpoint.
pub fn device_definition(issuer: &str, id: &str) -> String {
    definition(
        issuer,
        id,
        "device_code",
        &format!("device_authorization_url = \"{issuer}/device/auth\"\nclient_auth = \"none\""),
    )
    .replace("[auth.authorize_params]\nprompt = \"consent\"\n", "")
    .replace(&format!("authorize_url = \"{issuer}/auth\"\n"), "")
}
