//! Cyclr's AuthValue: the authentication material of an account connector as the API
//! carries it.
//!
//! - OAuth2: a JSON object serialised into a string,
//!   `{"AccessToken","RefreshToken","Expires","RefreshExpires"}` (any subset), or `"{}"`
//!   meaning "nothing yet: authenticate on next use", or the access token itself as plain
//!   text (Cyclr's install page: "Oauth: enter the `{access_token}`"): no refresh token, no
//!   known expiry.
//! - ApiKey: the raw key.
//! - Basic: base64 of `user:password`.
//! - AuthFields: a JSON object keyed by the definition's field names, each value a string
//!   (checked against the fields by [`AuthValue::parse_for`]).
//!
//! Errors name the field and never echo a value: `serde_json`'s typed errors quote the
//! offending value, so the object is read as untyped JSON and checked field by field.
//!
//! Must not: store or apply a value (the service does, in `service::account_connectors`), or
//! echo any part of a value in an error.

use std::collections::BTreeMap;

use base64::Engine as _;
use chrono::{DateTime, Utc};

use crate::definition::{AuthDefinition, AuthType};
use crate::error::{Error, Result};
use crate::secret::Secret;

/// Largest AuthValue accepted (tokens are a few KiB at most; a JWT with many claims ~8 KiB).
pub const MAX_AUTH_VALUE_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq)]
pub enum AuthValue {
    /// `"{}"`: nothing yet; authenticate automatically on next use.
    Empty,
    OAuth2(OAuth2Tokens),
    ApiKey(Secret),
    Basic(BasicCredentials),
    /// AuthFields: each declared field's value, by name.
    Fields(BTreeMap<String, Secret>),
    /// OAuth 1.0a token credentials: `{"AccessToken": "...", "TokenSecret": "..."}`.
    OAuth1 {
        access_token: Secret,
        token_secret: Secret,
    },
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct OAuth2Tokens {
    pub access_token: Option<Secret>,
    pub refresh_token: Option<Secret>,
    pub id_token: Option<Secret>,
    pub token_type: Option<String>,
    pub scope: Option<String>,
    pub expires: Option<DateTime<Utc>>,
    pub refresh_expires: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BasicCredentials {
    pub username: String,
    pub password: Secret,
}

impl BasicCredentials {
    /// `user:password`, the form that is sealed and sent base64-encoded.
    pub fn joined(&self) -> Secret {
        Secret::new(format!("{}:{}", self.username, self.password.expose()))
    }
}

const OAUTH2_FIELDS: &[&str] = &[
    "AccessToken",
    "RefreshToken",
    "Expires",
    "RefreshExpires",
    "TokenType",
    "Scope",
    "IdToken",
];

impl AuthValue {
    /// Parses an AuthValue for a connector of `auth_type`.
    pub fn parse(auth_type: AuthType, raw: &Secret) -> Result<AuthValue> {
        let text = raw.expose().trim();
        if text.len() > MAX_AUTH_VALUE_BYTES {
            return Err(bad(
                "AuthValue",
                format!(
                    "is {} bytes; the limit is {MAX_AUTH_VALUE_BYTES}",
                    text.len()
                ),
            ));
        }
        // The API form is a JSON *string* holding the JSON object; accept it pasted as is.
        let unwrapped;
        let text = if text.starts_with('"') {
            match serde_json::from_str::<String>(text) {
                Ok(inner) => {
                    unwrapped = Secret::new(inner);
                    unwrapped.expose().trim()
                }
                Err(_) => {
                    return Err(bad(
                        "AuthValue",
                        "starts with a quote but is not a valid JSON string; \
                         pass the JSON object itself or a correctly escaped JSON string",
                    ))
                }
            }
        } else {
            text
        };
        if text.is_empty() || text == "{}" {
            return Ok(AuthValue::Empty);
        }
        match auth_type {
            // JSON (or what tries to be: broken JSON gets the JSON error, not a token).
            AuthType::Oauth2 if text.starts_with(['{', '[']) => {
                parse_oauth2(text).map(AuthValue::OAuth2)
            }
            AuthType::Oauth2 => plain_access_token(text).map(AuthValue::OAuth2),
            AuthType::ApiKey => {
                if text.chars().any(char::is_control) {
                    return Err(bad(
                        "AuthValue",
                        "an API key must not contain control characters (a stray newline?)",
                    ));
                }
                // OAuth token JSON pasted where the key belongs would be sent as the key.
                let token_json =
                    serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(text)
                        .is_ok_and(|o| o.keys().any(|k| OAUTH2_FIELDS.contains(&k.as_str())));
                if token_json {
                    return Err(bad(
                        "AuthValue",
                        "is OAuth token JSON (AccessToken, ...), but this connector authenticates \
                         with an API key: give the key itself",
                    ));
                }
                Ok(AuthValue::ApiKey(Secret::new(text)))
            }
            AuthType::Basic => parse_basic(text).map(AuthValue::Basic),
            AuthType::AuthFields => parse_fields(text).map(AuthValue::Fields),
            AuthType::Oauth1 => parse_oauth1(text),
            AuthType::None => Err(bad(
                "AuthValue",
                "this connector needs no authentication; use \"{}\" or leave AuthValue out",
            )),
        }
    }

    /// Parses an AuthValue for `auth`, the account connector's way to authenticate: as
    /// [`AuthValue::parse`], and for AuthFields every declared field is given (and no other).
    pub fn parse_for(auth: &AuthDefinition, raw: &Secret) -> Result<AuthValue> {
        let value = AuthValue::parse(auth.auth_type(), raw)?;
        if let (AuthValue::Fields(given), AuthDefinition::AuthFields(def)) = (&value, auth) {
            let declared = || {
                def.fields
                    .iter()
                    .map(|f| f.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            // A key is not echoed: a value pasted in the wrong place would be.
            if given.keys().any(|k| def.field(k).is_none()) {
                return Err(bad(
                    "AuthValue",
                    format!(
                        "has a key that is not one of this connector's fields ({})",
                        declared()
                    ),
                ));
            }
            let missing: Vec<&str> = def
                .fields
                .iter()
                .filter(|f| !given.contains_key(&f.name))
                .map(|f| f.name.as_str())
                .collect();
            if !missing.is_empty() {
                return Err(bad(
                    "AuthValue",
                    format!(
                        "lacks {}: every field of this connector is needed ({})",
                        missing.join(", "),
                        declared()
                    ),
                ));
            }
        }
        Ok(value)
    }

    /// Whether anything usable is present.
    pub fn is_empty(&self) -> bool {
        matches!(self, AuthValue::Empty)
    }
}

fn parse_oauth2(text: &str) -> Result<OAuth2Tokens> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        // Syntax errors carry only a position, never the input.
        bad(
            "AuthValue",
            format!(
                "is not a JSON object ({} at line {} column {}); expected \
                 {{\"AccessToken\":...,\"RefreshToken\":...,\"Expires\":...,\"RefreshExpires\":...}}",
                syntax_kind(&e),
                e.line(),
                e.column()
            ),
        )
    })?;
    let serde_json::Value::Object(map) = value else {
        return Err(bad(
            "AuthValue",
            format!("must be a JSON object, not {}", json_kind(&value)),
        ));
    };
    if let Some(unknown) = map.keys().find(|k| !OAUTH2_FIELDS.contains(&k.as_str())) {
        let hint = OAUTH2_FIELDS
            .iter()
            .find(|f| f.eq_ignore_ascii_case(unknown))
            .map(|f| format!(" (did you mean `{f}`? names are case-sensitive)"))
            .unwrap_or_default();
        return Err(bad(
            unknown,
            format!(
                "is not a known field{hint}; expected {}",
                OAUTH2_FIELDS.join(", ")
            ),
        ));
    }
    let string = |field: &str| -> Result<Option<String>> {
        match map.get(field) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) if s.is_empty() => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(bad(
                field,
                format!("must be a string, not {}", json_kind(other)),
            )),
        }
    };
    let token = |field: &str| -> Result<Option<Secret>> {
        let v = string(field)?.map(Secret::new);
        if let Some(s) = &v {
            if s.expose().chars().any(char::is_control) {
                return Err(bad(field, "must not contain control characters"));
            }
        }
        Ok(v)
    };
    let date = |field: &str| -> Result<Option<DateTime<Utc>>> {
        string(field)?
            .map(|s| parse_datetime(&s).map_err(|m| bad(field, m)))
            .transpose()
    };
    Ok(OAuth2Tokens {
        access_token: token("AccessToken")?,
        refresh_token: token("RefreshToken")?,
        id_token: token("IdToken")?,
        token_type: string("TokenType")?,
        scope: string("Scope")?,
        expires: date("Expires")?,
        refresh_expires: date("RefreshExpires")?,
    })
}

/// An access token given as plain text: no refresh token, no known expiry.
fn plain_access_token(text: &str) -> Result<OAuth2Tokens> {
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad(
            "AuthValue",
            "is taken as a plain-text access token, which has no spaces or control characters \
             (send the token alone, without `Bearer `), or give the token JSON \
             {\"AccessToken\":...}",
        ));
    }
    Ok(OAuth2Tokens {
        access_token: Some(Secret::new(text)),
        ..OAuth2Tokens::default()
    })
}

/// An object of strings. Keys and values are never echoed (either may be a pasted secret).
fn parse_fields(text: &str) -> Result<BTreeMap<String, Secret>> {
    let shape = "an AuthFields connector takes a JSON object keyed by field name, each value a \
                 string, e.g. {\"api_user\": \"...\", \"api_key\": \"...\"}";
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        bad(
            "AuthValue",
            format!("is not valid JSON ({}): {shape}", syntax_kind(&e)),
        )
    })?;
    let serde_json::Value::Object(map) = value else {
        return Err(bad(
            "AuthValue",
            format!("is {}: {shape}", json_kind(&value)),
        ));
    };
    let mut out = BTreeMap::new();
    for (i, (k, v)) in map.into_iter().enumerate() {
        let serde_json::Value::String(v) = v else {
            return Err(bad(
                "AuthValue",
                format!("entry {} is {}: {shape}", i + 1, json_kind(&v)),
            ));
        };
        if v.trim().is_empty() || v.chars().any(char::is_control) {
            return Err(bad(
                "AuthValue",
                format!(
                    "entry {} is empty or holds a control character (a stray newline?)",
                    i + 1
                ),
            ));
        }
        out.insert(k, Secret::new(v));
    }
    Ok(out)
}

fn parse_oauth1(text: &str) -> Result<AuthValue> {
    let shape =
        "an OAuth 1.0a connector takes {\"AccessToken\": \"...\", \"TokenSecret\": \"...\"} \
                 (or \"{}\" to sign in on next use)";
    let fields = parse_fields(text).map_err(|_| bad("AuthValue", shape.to_string()))?;
    if fields
        .keys()
        .any(|k| k != "AccessToken" && k != "TokenSecret")
    {
        return Err(bad(
            "AuthValue",
            format!("has a key other than AccessToken and TokenSecret: {shape}"),
        ));
    }
    match (fields.get("AccessToken"), fields.get("TokenSecret")) {
        (Some(a), Some(t)) => Ok(AuthValue::OAuth1 {
            access_token: a.clone(),
            token_secret: t.clone(),
        }),
        _ => Err(bad(
            "AuthValue",
            format!("needs both AccessToken and TokenSecret: {shape}"),
        )),
    }
}

fn parse_basic(text: &str) -> Result<BasicCredentials> {
    const WHAT: &str = "for a Basic connector must be base64 of `user:password`";
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|_| bad("AuthValue", format!("{WHAT}, and it is not valid base64")))?;
    let joined = String::from_utf8(bytes)
        .map_err(|e| {
            // Wipe the decoded bytes before dropping them.
            let mut b = e.into_bytes();
            zeroize::Zeroize::zeroize(&mut b);
            bad(
                "AuthValue",
                format!("{WHAT}; it decodes to bytes that are not UTF-8"),
            )
        })
        .map(Secret::new)?;
    let (user, pass) = joined
        .expose()
        .split_once(':')
        .ok_or_else(|| bad("AuthValue", format!("{WHAT}; the decoded value has no ':'")))?;
    if user.is_empty() {
        return Err(bad("AuthValue", format!("{WHAT}; the user part is empty")));
    }
    Ok(BasicCredentials {
        username: user.to_string(),
        password: Secret::new(pass),
    })
}

/// Parses an ISO-8601 date-time with `Z` or an offset and up to 7 fractional digits (as in
/// Cyclr's `ExpiresAtUtc`, e.g. `2017-12-08T11:02:48.7436471Z`).
pub fn parse_datetime(s: &str) -> std::result::Result<DateTime<Utc>, String> {
    const EXPECTED: &str = "expected an ISO-8601 date-time with Z or an offset, \
                            e.g. 2021-10-01T00:00:00Z or 2021-10-01T01:00:00.1234567+01:00";
    let s = s.trim();
    // `YYYY-MM-DD` then `T`: the time part starts at byte 11.
    let t = 10;
    if !matches!(s.as_bytes().get(t), Some(b'T' | b't')) || !s.is_char_boundary(t) {
        return Err(format!("has no time part; {EXPECTED}"));
    }
    let time = &s[t + 1..];
    let zone_at = time
        .find(['Z', 'z', '+', '-'])
        .ok_or_else(|| format!("has no time zone (Z or +hh:mm); {EXPECTED}"))?;
    if let Some(dot) = time[..zone_at].find('.') {
        let digits = &time[dot + 1..zone_at];
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("has a malformed fraction of a second; {EXPECTED}"));
        }
        if digits.len() > 7 {
            return Err(format!(
                "has {} fractional digits; at most 7 are allowed",
                digits.len()
            ));
        }
    }
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|e| format!("is not a valid date-time ({e}); {EXPECTED}"))
}

/// Formats like Cyclr: UTC, `Z`, 7 fractional digits.
pub fn format_cyclr_datetime(d: DateTime<Utc>) -> String {
    let nanos = d.timestamp_subsec_nanos();
    // A leap second carries 1e9.. nanoseconds in chrono: keep to seven digits.
    format!(
        "{}.{:07}Z",
        d.format("%Y-%m-%dT%H:%M:%S"),
        nanos.min(999_999_999) / 100
    )
}

fn bad(field: &str, message: impl Into<String>) -> Error {
    Error::InvalidAuthValue {
        field: field.to_string(),
        message: message.into(),
    }
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

fn syntax_kind(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Eof => "it ends too early",
        _ => "invalid JSON",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oauth(text: &str) -> Result<AuthValue> {
        AuthValue::parse(AuthType::Oauth2, &Secret::new(text))
    }

    fn err(text: &str) -> String {
        oauth(text).unwrap_err().to_string()
    }

    // The seed document's two exact forms.
    const SEED_OBJECT: &str = r#"{
	"AccessToken": "XXXXXXXXXX",
	"RefreshToken": "XXXXXXXXXX",
	"Expires": "2021-10-01T00:00:00Z",
	"RefreshExpires": "2022-10-01T00:00:00Z"
}"#;
    const SEED_API_STRING: &str = r#""{\"AccessToken\":\"XXXXXXXXXX\",\"RefreshToken\":\"XXXXXXXXXX\",\"Expires\":\"2021-10-01T00:00:00Z\",\"RefreshExpires\":\"2022-10-01T00:00:00Z\"}""#;

    #[test]
    fn seed_examples_parse() {
        for text in [SEED_OBJECT, SEED_API_STRING] {
            let AuthValue::OAuth2(t) = oauth(text).unwrap() else {
                panic!("not oauth2")
            };
            assert_eq!(t.access_token.unwrap().expose(), "XXXXXXXXXX");
            assert_eq!(t.refresh_token.unwrap().expose(), "XXXXXXXXXX");
            assert_eq!(t.expires.unwrap().to_rfc3339(), "2021-10-01T00:00:00+00:00");
            assert_eq!(
                t.refresh_expires.unwrap().to_rfc3339(),
                "2022-10-01T00:00:00+00:00"
            );
        }
        assert_eq!(oauth("{}").unwrap(), AuthValue::Empty);
        assert_eq!(oauth(r#""{}""#).unwrap(), AuthValue::Empty);
    }

    #[test]
    fn a_plain_text_access_token_is_the_access_token_alone() {
        // Cyclr's install page: "Oauth: enter the {access_token}"; its LAUNCH page: "OAuth
        // tokens ... as plain text". As typed, and as the JSON string the API carries.
        for text in ["ya29.a0-plain_token~/+=", r#""ya29.a0-plain_token~/+=""#] {
            let AuthValue::OAuth2(t) = oauth(text).unwrap() else {
                panic!("{text}: not oauth2")
            };
            assert_eq!(t.access_token.unwrap().expose(), "ya29.a0-plain_token~/+=");
            assert!(t.refresh_token.is_none() && t.expires.is_none() && t.id_token.is_none());
        }
        // What tries to be JSON is read as JSON, and its mistakes reported as such.
        for (text, needle) in [
            (r#"{"AccessToken":"CANARYtok""#, "ends too early"),
            (r#"{AccessToken:CANARYtok}"#, "invalid JSON"),
            (r#"["CANARYtok"]"#, "an array"),
        ] {
            let e = err(text);
            assert!(e.contains(needle) && !e.contains("CANARY"), "{text}: {e}");
        }
        // `Bearer <token>` or a pasted line break is not a token.
        for text in ["Bearer CANARYtok", "CANARYtok\u{7}x", "CANARY tok"] {
            let e = err(text);
            assert!(
                e.contains("plain-text access token") && !e.contains("CANARY"),
                "{text:?}: {e}"
            );
        }
    }

    #[test]
    fn any_subset_of_fields() {
        let AuthValue::OAuth2(t) = oauth(r#"{"RefreshToken":"r1"}"#).unwrap() else {
            panic!()
        };
        assert!(t.access_token.is_none() && t.expires.is_none());
        assert_eq!(t.refresh_token.unwrap().expose(), "r1");
    }

    #[test]
    fn dates_with_offsets_and_seven_fraction_digits() {
        let d = parse_datetime("2017-12-08T11:02:48.7436471Z").unwrap();
        assert_eq!(d.timestamp_subsec_nanos(), 743_647_100);
        assert_eq!(format_cyclr_datetime(d), "2017-12-08T11:02:48.7436471Z");
        let d = parse_datetime("2021-10-01T02:00:00+02:00").unwrap();
        assert_eq!(d.to_rfc3339(), "2021-10-01T00:00:00+00:00");
        let d = parse_datetime("2021-10-01T00:00:00.5-05:30").unwrap();
        assert_eq!(d.to_rfc3339(), "2021-10-01T05:30:00.500+00:00");
    }

    #[test]
    fn bad_dates_name_the_field() {
        for (value, needle) in [
            ("2021-10-01", "no time part"),
            ("2021-10-01T00:00:00", "no time zone"),
            ("2021-10-01T00:00:00.12345678Z", "8 fractional digits"),
            ("2021-13-01T00:00:00Z", "not a valid date-time"),
            ("2021-10-01T00:00:00.Z", "malformed fraction"),
            ("yesterday", "no time part"),
        ] {
            let e = err(&format!(r#"{{"AccessToken":"a","Expires":"{value}"}}"#));
            assert!(
                e.contains("`Expires`") && e.contains(needle),
                "{value}: {e}"
            );
        }
        let e = err(r#"{"RefreshExpires":"2021-10-01T00:00:00"}"#);
        assert!(e.contains("`RefreshExpires`"), "{e}");
    }

    #[test]
    fn wrong_types_and_unknown_fields_never_echo_values() {
        let canary = "CANARY-9f8e7d";
        let cases = [
            (
                format!(r#"{{"AccessToken":["{canary}"]}}"#),
                "`AccessToken`",
                "an array",
            ),
            (
                format!(r#"{{"AccessToken":"{canary}","Expires":12}}"#),
                "`Expires`",
                "a number",
            ),
            (
                format!(r#"{{"accesstoken":"{canary}"}}"#),
                "`accesstoken`",
                "did you mean `AccessToken`",
            ),
            (format!(r#"["{canary}"]"#), "AuthValue:", "an array"),
            (
                format!(r#"{{"AccessToken":"{canary}""#),
                "AuthValue:",
                "ends too early",
            ),
            (
                format!(r#"{{"AccessToken":"{canary}",}}"#),
                "AuthValue:",
                "invalid JSON",
            ),
            (
                format!(r#""{{\"AccessToken\":\"{canary}"#),
                "AuthValue:",
                "not a valid JSON string",
            ),
            (
                format!("{{\"AccessToken\":\"{canary}\\n\"}}"),
                "`AccessToken`",
                "control characters",
            ),
        ];
        for (text, field, needle) in cases {
            let e = err(&text);
            assert!(e.contains(field) && e.contains(needle), "{text}: {e}");
            assert!(!e.contains(canary), "error echoes the secret: {e}");
        }
    }

    #[test]
    fn huge_values_are_refused() {
        let huge = format!(
            r#"{{"AccessToken":"{}"}}"#,
            "a".repeat(MAX_AUTH_VALUE_BYTES)
        );
        let e = err(&huge);
        assert!(e.contains("the limit is 65536"), "{e}");
        // Just under the limit is fine.
        let big = format!(r#"{{"AccessToken":"{}"}}"#, "a".repeat(60_000));
        assert!(oauth(&big).is_ok());
    }

    #[test]
    fn api_key_and_basic_forms() {
        let k = AuthValue::parse(AuthType::ApiKey, &Secret::new("sk_test_123\n")).unwrap();
        assert_eq!(k, AuthValue::ApiKey(Secret::new("sk_test_123")));

        let b64 = base64::engine::general_purpose::STANDARD.encode("alice:pa:ss");
        let AuthValue::Basic(b) = AuthValue::parse(AuthType::Basic, &Secret::new(b64)).unwrap()
        else {
            panic!()
        };
        assert_eq!(b.username, "alice");
        assert_eq!(b.password.expose(), "pa:ss");
        assert_eq!(b.joined().expose(), "alice:pa:ss");

        let canary = "CANARYpass";
        let no_colon = base64::engine::general_purpose::STANDARD.encode(canary);
        let e = AuthValue::parse(AuthType::Basic, &Secret::new(no_colon))
            .unwrap_err()
            .to_string();
        assert!(e.contains("no ':'") && !e.contains(canary), "{e}");
        let e = AuthValue::parse(AuthType::Basic, &Secret::new("alice:plain"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("not valid base64") && !e.contains("plain"),
            "{e}"
        );

        let e = AuthValue::parse(AuthType::None, &Secret::new("x")).unwrap_err();
        assert!(e.to_string().contains("needs no authentication"));

        let e = AuthValue::parse(
            AuthType::ApiKey,
            &Secret::new(r#"{"AccessToken":"CANARYtok"}"#),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("OAuth token JSON") && !e.contains("CANARYtok"),
            "{e}"
        );
    }
}
