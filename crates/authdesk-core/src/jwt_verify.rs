//! Offline verification of JSON Web Tokens against the provider's keys kept at sign-in (its
//! JWKS): the signature (with `jsonwebtoken`, a maintained JOSE crate), then `iss`, `aud`,
//! `exp`, `nbf` and, for an access token, RFC 9068's `typ`, each reported on its own, so
//! the inspector says what was verified and what was only decoded.
//!
//! `alg: none` is flagged (the token is unsigned), and so is a `kid` the kept keys do not
//! have ("unknown key": the provider rotated its keys, or the token is not its). An HMAC
//! signed ID token is verified with the client secret when it is given.
//!
//! Must not: fetch anything (the keys are handed in), or let a token's own header choose a
//! key type its algorithm does not fit (the algorithm must match the key's `alg`/`kty`).

use chrono::{DateTime, Utc};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Serialize;

use crate::jwt::decode_unverified;

/// What a verification concluded, field by field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Verification {
    /// `valid`, `invalid`, `unknown key` or `not checked`.
    pub signature: &'static str,
    /// The header's `alg` and `kid`, as the token states them.
    pub algorithm: Option<String>,
    pub key_id: Option<String>,
    /// `valid`, `invalid` or `not checked` (nothing to compare with).
    pub issuer: &'static str,
    pub audience: &'static str,
    /// `valid`, `expired` or `absent`.
    pub expiry: &'static str,
    /// `valid`, `not yet valid` or `absent`.
    pub not_before: &'static str,
    /// RFC 9068 `typ` of a JWT access token (`at+jwt`): `valid`, `invalid` or `not checked`.
    #[serde(rename = "Type")]
    pub token_type: &'static str,
    /// When the keys used were fetched from the provider.
    pub keys_fetched_at: Option<DateTime<Utc>>,
    /// Why something was not checked or failed, in words.
    pub notes: Vec<String>,
}

/// What the token is expected to say.
#[derive(Debug, Default, Clone)]
pub struct Expected<'a> {
    pub issuer: Option<&'a str>,
    /// For an ID token: the client id. For an access token: the resource or audience the
    /// sign-in asked for, if it asked for one.
    pub audience: Option<&'a str>,
    /// An access token (RFC 9068), rather than an ID token.
    pub access_token: bool,
    /// The client secret, for an HMAC (HS256/384/512) signed ID token.
    pub client_secret: Option<&'a str>,
}

/// The keys kept for an account connector.
#[derive(Debug, Clone)]
pub struct KeptKeys {
    pub jwks: JwkSet,
    pub fetched_at: DateTime<Utc>,
}

impl KeptKeys {
    /// Reads a JWKS document as the provider served it.
    /// Keys this crate cannot read (a type or algorithm it does not know) are left out,
    /// not a reason to refuse the others.
    pub fn parse(text: &str, fetched_at: DateTime<Utc>) -> Result<KeptKeys, String> {
        let set: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| format!("the provider's JWKS is not JSON ({e})"))?;
        let keys = set
            .get("keys")
            .and_then(|k| k.as_array())
            .ok_or("the provider's JWKS has no \"keys\" array")?
            .iter()
            .filter_map(|k| serde_json::from_value::<Jwk>(k.clone()).ok())
            .collect();
        Ok(KeptKeys {
            jwks: JwkSet { keys },
            fetched_at,
        })
    }
}

/// Verifies `token` (a compact JWS) offline. `None` when it is not a JWT at all.
pub fn verify(
    token: &str,
    keys: Option<&KeptKeys>,
    expected: &Expected<'_>,
    now: DateTime<Utc>,
) -> Option<Verification> {
    let decoded = decode_unverified(token)?;
    let header = &decoded.header;
    let alg = header["alg"].as_str().map(str::to_string);
    let kid = header["kid"].as_str().map(str::to_string);
    let mut notes = Vec::new();
    let signature = signature(
        token,
        alg.as_deref(),
        kid.as_deref(),
        keys,
        expected,
        &mut notes,
    );
    let claims = &decoded.claims;
    let issuer = match (expected.issuer, claims["iss"].as_str()) {
        (Some(want), Some(got)) if want == got => "valid",
        (Some(want), got) => {
            notes.push(format!(
                "iss is {} but the provider's issuer is {want}",
                got.map(|g| format!("\"{}\"", crate::diagnostics::redact_text(g, &[])))
                    .unwrap_or_else(|| "missing".into())
            ));
            "invalid"
        }
        (None, _) => {
            notes.push("iss not checked: the connector names no issuer".into());
            "not checked"
        }
    };
    let audiences: Vec<&str> = match &claims["aud"] {
        serde_json::Value::String(s) => vec![s.as_str()],
        serde_json::Value::Array(a) => a.iter().filter_map(|v| v.as_str()).collect(),
        _ => vec![],
    };
    let audience = match expected.audience {
        Some(want) if audiences.contains(&want) => "valid",
        Some(want) => {
            notes.push(format!("aud does not name {want}"));
            "invalid"
        }
        None => {
            notes.push(if expected.access_token {
                "aud not checked: the sign-in asked for no resource or audience".into()
            } else {
                "aud not checked: no client id is known".into()
            });
            "not checked"
        }
    };
    let expiry = match decoded.expires_at {
        Some(exp) if exp > now => "valid",
        Some(_) => "expired",
        None => "absent",
    };
    let not_before = match decoded.not_before {
        Some(nbf) if nbf > now + chrono::Duration::seconds(60) => "not yet valid",
        Some(_) => "valid",
        None => "absent",
    };
    let token_type = if expected.access_token {
        let typ = header["typ"].as_str().unwrap_or("").to_ascii_lowercase();
        if typ == "at+jwt" || typ == "application/at+jwt" {
            "valid"
        } else {
            notes.push(format!(
                "typ is {} where RFC 9068 access tokens say at+jwt",
                if typ.is_empty() {
                    "missing".to_string()
                } else {
                    format!("\"{}\"", crate::diagnostics::redact_text(&typ, &[]))
                }
            ));
            "invalid"
        }
    } else {
        "not checked"
    };
    Some(Verification {
        signature,
        algorithm: alg,
        key_id: kid,
        issuer,
        audience,
        expiry,
        not_before,
        token_type,
        keys_fetched_at: keys.map(|k| k.fetched_at),
        notes,
    })
}

fn signature(
    token: &str,
    alg: Option<&str>,
    kid: Option<&str>,
    keys: Option<&KeptKeys>,
    expected: &Expected<'_>,
    notes: &mut Vec<String>,
) -> &'static str {
    let Some(alg_name) = alg else {
        notes.push("the header has no alg".into());
        return "invalid";
    };
    if alg_name.eq_ignore_ascii_case("none") {
        notes.push("alg is none: the token is not signed, so nothing vouches for it".into());
        return "invalid";
    }
    let Ok(algorithm) = alg_name.parse::<Algorithm>() else {
        notes.push(format!("alg {alg_name} is not one this build can verify"));
        return "not checked";
    };
    let Some((message, sig)) = token.rsplit_once('.') else {
        return "invalid";
    };
    let hmac = matches!(
        algorithm,
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
    );
    let key = if hmac {
        match expected.client_secret {
            Some(secret) if !expected.access_token => {
                match DecodingKey::from_secret(secret.as_bytes()) {
                    Ok(k) => k,
                    Err(_) => return "not checked",
                }
            }
            _ => {
                notes.push(format!(
                    "signature not checked: {alg_name} is signed with a shared secret Authdesk does not hold"
                ));
                return "not checked";
            }
        }
    } else {
        let Some(keys) = keys else {
            notes.push(
                "signature not checked: no provider keys are kept (they are fetched at sign-in)"
                    .into(),
            );
            return "not checked";
        };
        let Some(jwk) = find_key(&keys.jwks, kid, algorithm) else {
            notes.push(match kid {
                Some(k) => format!(
                    "the key {k} is not in the provider's keys fetched at sign-in (rotated since, or not the provider's token)"
                ),
                None => "no key of the provider's keys fits the token's alg".into(),
            });
            return "unknown key";
        };
        match DecodingKey::from_jwk(jwk) {
            Ok(k) => k,
            Err(e) => {
                notes.push(format!("the provider's key cannot be used ({e})"));
                return "not checked";
            }
        }
    };
    match jsonwebtoken::crypto::verify(sig, message.as_bytes(), &key, algorithm) {
        Ok(true) => "valid",
        Ok(false) => {
            notes.push(
                "the signature does not match the token (altered, or signed by another key)".into(),
            );
            "invalid"
        }
        Err(e) => {
            notes.push(format!("the signature does not verify ({e})"));
            "invalid"
        }
    }
}

/// The key the token names (`kid`), or the only key that fits its algorithm when it names
/// none; never a key whose own `alg` differs from the token's.
fn find_key<'a>(jwks: &'a JwkSet, kid: Option<&str>, alg: Algorithm) -> Option<&'a Jwk> {
    let fits = |k: &&Jwk| {
        k.common
            .key_algorithm
            .is_none_or(|a| a == jsonwebtoken::jwk::KeyAlgorithm::from(alg))
            && key_family_fits(k, alg)
    };
    match kid {
        Some(kid) => jwks
            .keys
            .iter()
            .filter(|k| k.common.key_id.as_deref() == Some(kid))
            .find(fits),
        None => {
            let mut fitting = jwks.keys.iter().filter(fits);
            let first = fitting.next();
            if fitting.next().is_some() {
                None
            } else {
                first
            }
        }
    }
}

fn key_family_fits(k: &Jwk, alg: Algorithm) -> bool {
    use jsonwebtoken::jwk::AlgorithmParameters as P;
    match (&k.algorithm, alg) {
        (P::RSA(_), Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512)
        | (P::RSA(_), Algorithm::PS256 | Algorithm::PS384 | Algorithm::PS512)
        | (P::EllipticCurve(_), Algorithm::ES256 | Algorithm::ES384)
        | (P::OctetKeyPair(_), Algorithm::EdDSA) => true,
        _ => false,
    }
}
