//! An OAuth 1.0a provider for tests: `tests/oauth1/server.py`, built on oauthlib's server
//! endpoints, run in the django-oauth-toolkit virtualenv (`scripts/setup-debian.sh test`
//! makes it; oauthlib and PyJWT are pinned there), plus the user at its authorization page.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::header::LOCATION;
use reqwest::redirect::Policy;

pub struct OAuth1Server {
    /// `http://127.0.0.1:<port>`, no trailing slash.
    pub base: String,
    child: Child,
}

impl OAuth1Server {
    pub fn start() -> OAuth1Server {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests");
        let python = root.join("dot/.venv/bin/python");
        let child = Command::new(&python)
            .arg("server.py")
            .current_dir(root.join("oauth1"))
            .env("PORT", "0")
            .env("EXIT_WITH_STDIN", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run {} (scripts/setup-debian.sh test makes it): {e}",
                    python.display()
                )
            });
        let (child, base) = super::listening(
            child,
            "the OAuth 1.0a test server",
            Duration::from_secs(30),
            "",
        );
        OAuth1Server { base, child }
    }

    pub async fn stats(&self) -> serde_json::Value {
        reqwest::get(format!("{}/__test/stats", self.base))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// A connector definition for this server with `signature_method`.
    pub fn definition(&self, id: &str, signature_method: &str) -> String {
        let base = &self.base;
        format!(
            r#"id = "{id}"
name = "OAuth 1.0a test provider"
version = "1"
api_base_url = "{base}/1"
[auth]
type = "oauth1"
request_token_url = "{base}/oauth/request_token"
authorize_url = "{base}/oauth/authorize"
access_token_url = "{base}/oauth/access_token"
signature_method = "{signature_method}"
[auth.authorize_params]
name = "Authdesk"
[[methods]]
id = "me"
name = "Me"
http_method = "GET"
path = "/members/me"
[[methods.parameters]]
name = "fields"
in = "query"
[[methods]]
id = "me-form"
name = "Me (form)"
http_method = "POST"
path = "/members/me"
body_format = "form"
[[methods.parameters]]
name = "note"
in = "body"
"#
        )
    }
}

impl Drop for OAuth1Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The user at the authorization page: allows (as `user`) or denies. Returns where the
/// provider sends the browser (the callback with oauth_token and oauth_verifier, or
/// oauth_problem).
pub async fn authorize(authorization_url: &str, user: &str, allow: bool) -> String {
    let client = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap();
    let page = client.get(authorization_url).send().await.unwrap();
    assert_eq!(page.status(), 200, "the authorization page");
    let url = url::Url::parse(authorization_url).unwrap();
    let token = url
        .query_pairs()
        .find(|(k, _)| k == "oauth_token")
        .unwrap()
        .1
        .into_owned();
    let answer = client
        .post(url.join("/oauth/authorize").unwrap())
        .form(&[
            ("oauth_token", token.as_str()),
            ("user", user),
            ("decision", if allow { "allow" } else { "deny" }),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        answer.status(),
        302,
        "the provider redirects to the callback"
    );
    answer
        .headers()
        .get(LOCATION)
        .unwrap()
        .to_str()
        .unwrap()
        .to_string()
}
