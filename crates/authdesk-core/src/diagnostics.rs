//! Refresh and sign-in diagnostics: what a failed exchange with a token endpoint looked like
//! (the endpoint, the grant, how the client authenticated, the parameter names, the status,
//! the OAuth error, `WWW-Authenticate`, `Retry-After` and the body), with every value that
//! could be a credential taken out, so it can be kept in the credential history and shown.
//!
//! Redaction: the request's own values (the code, the refresh token, the client secret, an
//! assertion, a password...) are removed wherever the answer echoes them; in a JSON body a
//! value under a key that names a credential is removed whole; in any text, JWTs and runs
//! that look like tokens (16 or more token characters with both letters and digits) are
//! removed. `redact_text` is also what provider text goes through before it is shown
//! (`engine::tokens::clip`).
//!
//! Must not: keep a parameter's value (only its name, and the grant type, which the
//! protocol fixes), keep a 2xx body (it holds tokens), or name anything above layer 0.

use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

/// What stands in for a removed value.
pub const REDACTED: &str = "[redacted]";
/// Longest body kept, in characters, after redaction.
const MAX_BODY: usize = 4096;

/// One failed exchange, redacted: safe to store, log and show.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Exchange {
    /// The endpoint without its query (scheme, host, port, path).
    pub endpoint: String,
    pub method: String,
    /// The `grant_type` sent (`refresh_token`, `authorization_code`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant: Option<String>,
    /// How the client proved itself: `client_secret_basic`, `client_secret_post`,
    /// `private_key_jwt`, `client_secret_jwt` or `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_authentication: Option<String>,
    /// The names of the parameters sent (form and query), never their values.
    #[serde(default)]
    pub parameters: Vec<String>,
    /// Whether a DPoP proof went with the request.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dpop: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub www_authenticate: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<String>,
    /// The answer's body, redacted and shortened; never kept for a 2xx answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Why no answer could be read (a timeout, a refused connection, a body too large).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}

/// The request half of an exchange, read from what is about to be sent. `known` collects
/// the values that must never appear in what is kept of the answer.
pub struct Request {
    pub exchange: Exchange,
    pub known: Vec<String>,
}

impl Request {
    /// `url` the full request URL, `headers` as `(name, value)`, `form` the
    /// `application/x-www-form-urlencoded` body (if it is one).
    pub fn new<'a>(
        method: &str,
        url: &str,
        headers: impl Iterator<Item = (&'a str, &'a [u8])>,
        form: &[u8],
    ) -> Request {
        let mut known = Vec::new();
        let mut parameters = Vec::new();
        let mut grant = None;
        let mut assertion_alg = None;
        let mut has_secret = false;
        let mut has_client_id = false;
        let endpoint = match url::Url::parse(url) {
            Ok(mut u) => {
                for (name, value) in u.query_pairs() {
                    parameters.push(clip_name(&name));
                    if secret_key(&name) {
                        known.push(value.into_owned());
                    }
                }
                u.set_query(None);
                u.set_fragment(None);
                let _ = u.set_password(None);
                let _ = u.set_username("");
                u.to_string()
            }
            Err(_) => "(not a URL)".to_string(),
        };
        for (name, value) in url::form_urlencoded::parse(form) {
            match name.as_ref() {
                "grant_type" => grant = Some(clip_name(&value)),
                "client_secret" => has_secret = true,
                "client_id" => has_client_id = true,
                "client_assertion" => {
                    assertion_alg = crate::jwt::decode_unverified(&value)
                        .and_then(|d| d.header["alg"].as_str().map(str::to_string));
                }
                _ => {}
            }
            parameters.push(clip_name(&name));
            if secret_key(&name) {
                known.push(value.into_owned());
            }
        }
        let mut basic = false;
        let mut dpop = false;
        let mut oauth1 = None;
        for (name, value) in headers {
            if name.eq_ignore_ascii_case("authorization") {
                let value = String::from_utf8_lossy(value);
                // OAuth 1.0a: the parameters travel in the header; their names are kept,
                // their values (the signature, the token) are not.
                if let Some(params) = value.strip_prefix("OAuth ") {
                    for pair in params.split(',') {
                        if let Some((k, v)) = pair.trim().split_once('=') {
                            let v = v.trim_matches('"');
                            parameters.push(clip_name(k));
                            if k == "oauth_signature_method" {
                                oauth1 = Some(format!("oauth1 {}", clip_name(v)));
                            } else if k != "oauth_version" && k != "oauth_timestamp" {
                                let decoded = percent_decode(v);
                                known.push(decoded);
                            }
                        }
                    }
                }
                if let Some(b64) = value.strip_prefix("Basic ") {
                    use base64::Engine as _;
                    basic = true;
                    if let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(b64.trim()) {
                        let raw = String::from_utf8_lossy(&raw).into_owned();
                        if let Some((_id, secret)) = raw.split_once(':') {
                            known.push(secret.to_string());
                        }
                    }
                }
                known.push(value.into_owned());
            } else if name.eq_ignore_ascii_case("dpop") {
                dpop = true;
                known.push(String::from_utf8_lossy(value).into_owned());
            }
        }
        let client_authentication = Some(match oauth1 {
            Some(method) => method,
            None => match (basic, assertion_alg.as_deref(), has_secret, has_client_id) {
                (true, _, _, _) => "client_secret_basic",
                (_, Some(alg), _, _) if alg.starts_with("HS") => "client_secret_jwt",
                (_, Some(_), _, _) => "private_key_jwt",
                (_, None, true, _) => "client_secret_post",
                (_, None, false, true) => "none",
                _ => "none (no client_id sent)",
            }
            .to_string(),
        });
        // Short values (a grant type, "S256", a user name of three letters) cannot be told
        // from words; they are not the ones a provider echoes to harm.
        known.retain(|v| v.len() >= 8);
        known.sort_by_key(|v| std::cmp::Reverse(v.len()));
        Request {
            exchange: Exchange {
                endpoint,
                method: method.to_string(),
                grant,
                client_authentication,
                parameters,
                dpop,
                ..Exchange::default()
            },
            known,
        }
    }

    /// The exchange with the answer's half: status, headers and (unless 2xx) the body.
    pub fn answered<'a>(
        &self,
        status: u16,
        headers: impl Iterator<Item = (&'a str, &'a [u8])>,
        body: &[u8],
    ) -> Exchange {
        let mut e = self.exchange.clone();
        e.status = Some(status);
        let known: Vec<&str> = self.known.iter().map(String::as_str).collect();
        for (name, value) in headers {
            let value = || redact_text(&String::from_utf8_lossy(value), &known);
            match name.to_ascii_lowercase().as_str() {
                "www-authenticate" => e.www_authenticate = Some(value()),
                "retry-after" => e.retry_after = Some(value()),
                "content-type" => e.content_type = Some(value()),
                _ => {}
            }
        }
        if !(200..300).contains(&status) {
            if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
                let text = |k: &str| {
                    v.get(k)
                        .and_then(|x| x.as_str())
                        .map(|s| redact_text(s, &known))
                };
                e.error = text("error");
                e.error_description = text("error_description");
            }
            if !body.is_empty() {
                e.body = Some(redact_body(body, &known));
            }
        }
        e
    }

    /// The exchange when no answer could be read.
    pub fn failed(&self, why: &str) -> Exchange {
        let known: Vec<&str> = self.known.iter().map(String::as_str).collect();
        Exchange {
            failure: Some(redact_text(why, &known)),
            ..self.exchange.clone()
        }
    }
}

fn percent_decode(v: &str) -> String {
    url::form_urlencoded::parse(format!("x={v}").as_bytes())
        .next()
        .map(|(_, d)| d.into_owned())
        .unwrap_or_else(|| v.to_string())
}

fn clip_name(name: &str) -> String {
    name.chars().filter(|c| !c.is_control()).take(64).collect()
}

/// Names whose values are credentials, in a request or a JSON body (matched without case:
/// a name that contains one of the first, or is one of the second). `token_type` and
/// `token_type_hint` name no credential.
const SECRET_KEY_PARTS: &[&str] = &[
    "token",
    "secret",
    "password",
    "assertion",
    "apikey",
    "api_key",
    "verifier",
    "credential",
    "session",
    "cookie",
    "signature",
];
const SECRET_KEYS: &[&str] = &["code", "device_code", "key", "jwt", "nonce", "state"];

fn secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    if k.starts_with("token_type") || k == "client_assertion_type" {
        return false;
    }
    SECRET_KEYS.contains(&k.as_str()) || SECRET_KEY_PARTS.iter().any(|p| k.contains(p))
}

/// A body as it may be kept: JSON with credential-named values removed and every string
/// redacted; anything else redacted as text. Shortened to 4096 characters.
pub fn redact_body(body: &[u8], known: &[&str]) -> String {
    let text = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(mut v) => {
            redact_json(&mut v, known);
            v.to_string()
        }
        Err(_) => redact_text(&String::from_utf8_lossy(body), known),
    };
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() && c != '\n' { ' ' } else { c })
        .take(MAX_BODY)
        .collect();
    if text.chars().count() > MAX_BODY {
        out.push('…');
    }
    out
}

fn redact_json(v: &mut serde_json::Value, known: &[&str]) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, value) in map.iter_mut() {
                if secret_key(k) && value.is_string() {
                    *value = serde_json::Value::String(REDACTED.into());
                } else {
                    redact_json(value, known);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(|i| redact_json(i, known)),
        serde_json::Value::String(s) => *s = redact_text(s, known),
        _ => {}
    }
}

static JWT: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*(\.[A-Za-z0-9_-]*)?").expect("regex")
});
static TOKEN_RUN: LazyLock<regex::Regex> =
    LazyLock::new(|| regex::Regex::new(r"[A-Za-z0-9_~+/=.\-]{16,}").expect("regex"));
static KEYED: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(
        r#"(?i)\b((?:access|refresh|id|bearer)?_?token|code|secret|client_secret|password|assertion|api_?key)(\s*["']?\s*[:=]\s*["']?\s*)([^\s"'&,;<>]+)"#,
    )
    .expect("regex")
});

/// Text as it may be kept or shown: the known values, `key=value` pairs whose key names a
/// credential, JWTs and token-looking runs replaced by `[redacted]`.
pub fn redact_text(text: &str, known: &[&str]) -> String {
    let mut s = text.to_string();
    for k in known {
        if s.contains(k) {
            s = s.replace(k, REDACTED);
        }
    }
    let s = JWT.replace_all(&s, REDACTED);
    let s = KEYED.replace_all(&s, |c: &regex::Captures| {
        if &c[3] == REDACTED {
            c[0].to_string()
        } else {
            format!("{}{}{REDACTED}", &c[1], &c[2])
        }
    });
    TOKEN_RUN
        .replace_all(&s, |c: &regex::Captures| {
            let run = &c[0];
            if looks_like_a_token(run) {
                REDACTED.to_string()
            } else {
                run.to_string()
            }
        })
        .into_owned()
}

/// Letters and digits mixed over 16 characters or more, and not a date, a version or a
/// path of words.
fn looks_like_a_token(run: &str) -> bool {
    let letters = run.chars().filter(char::is_ascii_alphabetic).count();
    let digits = run.chars().filter(char::is_ascii_digit).count();
    if letters == 0 || digits == 0 {
        return false;
    }
    // A date and time (2026-12-07T04:00:00Z) or a dotted version: few letters.
    let date_like = letters <= 2
        && run
            .chars()
            .all(|c| c.is_ascii_digit() || "-:.TZ".contains(c));
    !date_like
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values_jwts_and_token_runs_are_removed_and_words_kept() {
        let known = ["the-refresh-token-value"];
        let text = "refresh token the-refresh-token-value is revoked; try \
                    eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig and 8f3a9c2e41b7d6e0aa19 at \
                    2026-12-07T04:00:00Z (invalid_grant, temporarily_unavailable)";
        let out = redact_text(text, &known);
        assert!(!out.contains("the-refresh-token-value"), "{out}");
        assert!(!out.contains("eyJ"), "{out}");
        assert!(!out.contains("8f3a9c2e41b7d6e0aa19"), "{out}");
        assert!(out.contains("2026-12-07T04:00:00Z"), "{out}");
        assert!(
            out.contains("invalid_grant, temporarily_unavailable"),
            "{out}"
        );
    }

    #[test]
    fn json_credential_keys_are_removed_whole_and_other_strings_redacted() {
        let body = br#"{"error":"invalid_grant","access_token":"short","nested":{"refresh_token":"abc"},"note":"key=hunter2hunter2 x","list":["CANARY9f8e7d6c5b4a3"]}"#;
        let out = redact_body(body, &[]);
        for gone in ["short", "\"abc\"", "hunter2hunter2", "CANARY9f8e7d6c5b4a3"] {
            assert!(!out.contains(gone), "{gone} in {out}");
        }
        assert!(out.contains("invalid_grant"), "{out}");
    }

    #[test]
    fn the_request_half_keeps_names_and_the_grant_never_values() {
        use base64::Engine as _;
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("my-client:my-client-secret-1")
        );
        let headers = [("authorization", basic.as_bytes())];
        let r = Request::new(
            "POST",
            "https://user:pw@idp.example/token?tenant=acme-tenant-42",
            headers.iter().map(|(n, v)| (*n, *v)),
            b"grant_type=refresh_token&refresh_token=rt-value-123456",
        );
        assert_eq!(r.exchange.endpoint, "https://idp.example/token");
        assert_eq!(r.exchange.grant.as_deref(), Some("refresh_token"));
        assert_eq!(
            r.exchange.client_authentication.as_deref(),
            Some("client_secret_basic")
        );
        assert_eq!(
            r.exchange.parameters,
            ["tenant", "grant_type", "refresh_token"]
        );
        let e = r.answered(
            400,
            [("www-authenticate", &b"Basic error_description=\"my-client-secret-1 wrong\""[..])]
                .into_iter(),
            br#"{"error":"invalid_grant","error_description":"rt-value-123456 revoked","hint":"send refresh_token"}"#,
        );
        let all = serde_json::to_string(&e).unwrap();
        assert!(all.contains("send refresh_token"), "{all}");
        for secret in ["rt-value-123456", "my-client-secret-1"] {
            assert!(!all.contains(secret), "{secret} in {all}");
        }
        assert_eq!(e.error.as_deref(), Some("invalid_grant"));
        assert_eq!(e.status, Some(400));
        let ok = r.answered(200, std::iter::empty(), br#"{"access_token":"x"}"#);
        assert_eq!(ok.body, None);
    }
}
