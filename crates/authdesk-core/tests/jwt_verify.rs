//! Offline JWT verification (`jwt_verify`): tokens signed here with keys made here, checked
//! against a JWKS of those keys, field by field. The end-to-end case (a real provider's ID
//! token checked against the JWKS fetched at sign-in) is in `engine.rs`.

use authdesk_core::jwt_verify::{verify, Expected, KeptKeys};
use authdesk_core::signing::{sign_hs256, SigningKey};
use authdesk_core::Secret;
use chrono::{Duration, Utc};
use serde_json::json;

const ISSUER: &str = "https://idp.example";

fn keys_of(keys: &[&SigningKey]) -> KeptKeys {
    let set = json!({"keys": keys.iter().map(|k| k.public_jwk()).collect::<Vec<_>>()});
    KeptKeys::parse(&set.to_string(), Utc::now()).unwrap()
}

fn claims(aud: &str, exp_in: i64) -> serde_json::Value {
    let now = Utc::now().timestamp();
    json!({"iss": ISSUER, "aud": aud, "sub": "u1", "iat": now, "nbf": now, "exp": now + exp_in})
}

fn id_token_expectations() -> Expected<'static> {
    Expected {
        issuer: Some(ISSUER),
        audience: Some("client-1"),
        access_token: false,
        client_secret: None,
    }
}

#[test]
fn a_token_signed_by_a_kept_key_verifies_field_by_field() {
    let (key, _) = SigningKey::generate_p256();
    let token = key.sign(json!({"kid": key.thumbprint()}), &claims("client-1", 300));
    let v = verify(
        &token,
        Some(&keys_of(&[&key])),
        &id_token_expectations(),
        Utc::now(),
    )
    .unwrap();
    assert_eq!(
        (v.signature, v.issuer, v.audience, v.expiry, v.not_before),
        ("valid", "valid", "valid", "valid", "valid"),
        "{v:?}"
    );
    assert_eq!(v.algorithm.as_deref(), Some("ES256"));
    assert_eq!(
        v.token_type, "not checked",
        "an ID token has no RFC 9068 typ"
    );
}

#[test]
fn an_altered_token_a_foreign_key_and_alg_none_are_flagged() {
    let (key, _) = SigningKey::generate_p256();
    let (other, _) = SigningKey::generate_p256();
    let kept = keys_of(&[&key]);
    let expected = id_token_expectations();

    // The claims changed after signing.
    let token = key.sign(json!({"kid": key.thumbprint()}), &claims("client-1", 300));
    let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
    let forged = claims("client-1", 86400);
    use base64::Engine as _;
    parts[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(forged.to_string());
    let altered = parts.join(".");
    let v = verify(&altered, Some(&kept), &expected, Utc::now()).unwrap();
    assert_eq!(v.signature, "invalid", "{v:?}");

    // Signed by a key the provider's set does not have.
    let foreign = other.sign(json!({"kid": other.thumbprint()}), &claims("client-1", 300));
    let v = verify(&foreign, Some(&kept), &expected, Utc::now()).unwrap();
    assert_eq!(v.signature, "unknown key", "{v:?}");
    // ... even when it claims the provider's kid.
    let claimed = other.sign(json!({"kid": key.thumbprint()}), &claims("client-1", 300));
    let v = verify(&claimed, Some(&kept), &expected, Utc::now()).unwrap();
    assert_eq!(v.signature, "invalid", "{v:?}");

    // Unsigned.
    let b64 = |v: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let none = format!(
        "{}.{}.",
        b64(json!({"alg": "none"})),
        b64(claims("client-1", 300))
    );
    let v = verify(&none, Some(&kept), &expected, Utc::now()).unwrap();
    assert_eq!(v.signature, "invalid", "{v:?}");
    assert!(v.notes.iter().any(|n| n.contains("alg is none")), "{v:?}");

    // No keys kept at all: said, not guessed.
    let token = key.sign(json!({"kid": key.thumbprint()}), &claims("client-1", 300));
    let v = verify(&token, None, &expected, Utc::now()).unwrap();
    assert_eq!(v.signature, "not checked", "{v:?}");
}

#[test]
fn issuer_audience_expiry_and_not_before_are_each_checked() {
    let (key, _) = SigningKey::generate_p256();
    let kept = keys_of(&[&key]);
    let now = Utc::now().timestamp();
    let token = key.sign(
        json!({"kid": key.thumbprint()}),
        &json!({"iss": "https://evil.example", "aud": ["someone-else"], "exp": now - 10, "nbf": now + 3600}),
    );
    let v = verify(&token, Some(&kept), &id_token_expectations(), Utc::now()).unwrap();
    assert_eq!(v.signature, "valid");
    assert_eq!(
        (v.issuer, v.audience, v.expiry, v.not_before),
        ("invalid", "invalid", "expired", "not yet valid"),
        "{v:?}"
    );
    // Nothing to compare with: not checked, and said so.
    let v = verify(
        &token,
        Some(&kept),
        &Expected::default(),
        Utc::now() - Duration::hours(1),
    )
    .unwrap();
    assert_eq!((v.issuer, v.audience), ("not checked", "not checked"));
    assert!(!v.notes.is_empty());
}

#[test]
fn an_access_token_must_say_at_jwt_and_an_hmac_id_token_is_checked_with_the_client_secret() {
    let (key, _) = SigningKey::generate_p256();
    let kept = keys_of(&[&key]);
    let access = Expected {
        issuer: Some(ISSUER),
        audience: Some("https://api.example"),
        access_token: true,
        client_secret: None,
    };
    let good = key.sign(
        json!({"kid": key.thumbprint(), "typ": "at+jwt"}),
        &claims("https://api.example", 300),
    );
    let v = verify(&good, Some(&kept), &access, Utc::now()).unwrap();
    assert_eq!(
        (v.signature, v.token_type, v.audience),
        ("valid", "valid", "valid"),
        "{v:?}"
    );
    let plain = key.sign(
        json!({"kid": key.thumbprint(), "typ": "JWT"}),
        &claims("https://api.example", 300),
    );
    let v = verify(&plain, Some(&kept), &access, Utc::now()).unwrap();
    assert_eq!(v.token_type, "invalid", "{v:?}");

    let secret = Secret::new("the-client-secret-of-client-1");
    let hs = sign_hs256(&secret, json!({}), &claims("client-1", 300));
    let with_secret = Expected {
        client_secret: Some(secret.expose()),
        ..id_token_expectations()
    };
    assert_eq!(
        verify(&hs, None, &with_secret, Utc::now())
            .unwrap()
            .signature,
        "valid"
    );
    let wrong = Expected {
        client_secret: Some("another-secret"),
        ..id_token_expectations()
    };
    assert_eq!(
        verify(&hs, None, &wrong, Utc::now()).unwrap().signature,
        "invalid"
    );
    assert_eq!(
        verify(&hs, None, &id_token_expectations(), Utc::now())
            .unwrap()
            .signature,
        "not checked"
    );
}

#[test]
fn opaque_tokens_are_not_jwts() {
    assert!(verify("opaque-token-value", None, &Expected::default(), Utc::now()).is_none());
}
