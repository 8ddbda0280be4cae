//! A second, independent real authorization server for tests: django-oauth-toolkit, run by
//! `tests/dot/server.py` in its virtualenv (`scripts/setup-debian.sh test` makes it), plus
//! a driver for its login and consent forms over plain HTTP (Django's CSRF included). See
//! `tests/dot/README.md` for the clients and the steps.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::header::LOCATION;
use reqwest::redirect::Policy;
use url::Url;

pub const USER: &str = "alice";
pub const PASSWORD: &str = "alice-password";

pub struct DotServer {
    /// `http://127.0.0.1:<port>`, no trailing slash.
    pub issuer: String,
    child: Child,
}

pub struct DotOptions {
    pub access_ttl_secs: u64,
    pub rotate_refresh: bool,
}

impl Default for DotOptions {
    fn default() -> Self {
        DotOptions {
            access_ttl_secs: 60,
            rotate_refresh: true,
        }
    }
}

impl DotServer {
    pub fn start(opts: DotOptions) -> DotServer {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/dot");
        let python = dir.join(".venv/bin/python");
        let child = Command::new(&python)
            .arg("server.py")
            .current_dir(&dir)
            .env("PORT", "0")
            .env("ACCESS_TTL", opts.access_ttl_secs.to_string())
            .env(
                "ROTATE_REFRESH",
                if opts.rotate_refresh { "1" } else { "0" },
            )
            .env("EXIT_WITH_STDIN", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run {} (create it with `scripts/setup-debian.sh test`): {e}",
                    python.display()
                )
            });
        let (child, issuer) =
            super::listening(child, "django-oauth-toolkit", Duration::from_secs(60), "");
        DotServer { issuer, child }
    }

    pub async fn stats(&self) -> serde_json::Value {
        reqwest::get(format!("{}/__test/stats", self.issuer))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn reset_stats(&self) {
        reqwest::Client::new()
            .post(format!("{}/__test/reset", self.issuer))
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap();
    }

    /// A connector definition for this server (`client_auth = basic`, PKCE, revocation,
    /// the protected resource `/api/me` as method `me`).
    pub fn definition(&self, id: &str, grant: &str) -> String {
        let issuer = &self.issuer;
        format!(
            r#"
id = "{id}"
name = "django-oauth-toolkit"
version = "1"
api_base_url = "{issuer}"
[auth]
type = "oauth2"
grant = "{grant}"
authorize_url = "{issuer}/o/authorize/"
token_url = "{issuer}/o/token/"
revoke_url = "{issuer}/o/revoke_token/"
scopes = ["read", "write"]
[[methods]]
id = "me"
name = "Me"
http_method = "GET"
path = "/api/me"
"#
        )
    }
}

impl Drop for DotServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The hidden inputs of the form with `id` in `html` (name, value), HTML-unescaped.
fn form_fields(html: &str, form_id: &str) -> Vec<(String, String)> {
    let start = html
        .find(&format!("id=\"{form_id}\""))
        .unwrap_or_else(|| panic!("no form {form_id} in:\n{html}"));
    let end = html[start..]
        .find("</form>")
        .map_or(html.len(), |e| start + e);
    let form = &html[start..end];
    let mut fields = vec![];
    for input in form.split("<input").skip(1) {
        let tag = &input[..input.find('>').unwrap_or(input.len())];
        let attr = |name: &str| {
            let key = format!("{name}=\"");
            tag.find(&key).map(|i| {
                let rest = &tag[i + key.len()..];
                unescape(&rest[..rest.find('"').unwrap_or(rest.len())])
            })
        };
        if attr("type").as_deref() == Some("hidden") {
            if let Some(name) = attr("name") {
                fields.push((name, attr("value").unwrap_or_default()));
            }
        }
    }
    fields
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Drives the login and consent forms for `authorization_url` and returns the URL the
/// server redirected to (the redirect URI with `code` and `state`). Not followed.
pub async fn sign_in(authorization_url: &str) -> String {
    let http = reqwest::Client::builder()
        .redirect(Policy::none())
        .cookie_store(true)
        .build()
        .unwrap();
    let base = Url::parse(authorization_url).unwrap();
    let resolve = |location: &str| base.join(location).unwrap().to_string();
    let location = |r: &reqwest::Response| {
        r.headers()
            .get(LOCATION)
            .map(|l| resolve(l.to_str().unwrap()))
            .unwrap_or_else(|| panic!("HTTP {} without Location", r.status()))
    };
    // 1. authorize -> login page.
    let r = http.get(authorization_url).send().await.unwrap();
    assert_eq!(r.status(), 302, "authorize did not send to the login page");
    let login_url = location(&r);
    // 2. the login form.
    let page = http
        .get(&login_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut form = form_fields(&page, "loginForm");
    form.push(("username".into(), USER.into()));
    form.push(("password".into(), PASSWORD.into()));
    // 3. log in -> back to authorize.
    let r = http
        .post(resolve("/accounts/login/"))
        .header("Referer", &login_url)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302, "login failed: {}", r.text().await.unwrap());
    let consent_url = location(&r);
    // 4. the consent form.
    let page = http
        .get(&consent_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut form = form_fields(&page, "authorizationForm");
    form.push(("allow".into(), "Authorize".into()));
    // 5. allow -> the redirect URI with the code.
    let r = http
        .post(&consent_url)
        .header("Referer", &consent_url)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        302,
        "consent failed: {}",
        r.text().await.unwrap()
    );
    location(&r)
}
