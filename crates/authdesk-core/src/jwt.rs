//! Decoding (not verifying) JSON Web Tokens, for offline inspection. Nothing here trusts
//! a token: the claims are shown as the token states them.
//!
//! Must not: verify a signature, fetch keys, or let a claim decide anything.

use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DecodedJwt {
    pub header: serde_json::Value,
    pub claims: serde_json::Value,
    /// `exp`, `iat`, `nbf` as dates, when present.
    pub expires_at: Option<DateTime<Utc>>,
    pub issued_at: Option<DateTime<Utc>>,
    pub not_before: Option<DateTime<Utc>>,
}

/// Decodes a compact JWS (`header.payload.signature`). Returns `None` for anything that is
/// not one (opaque tokens are normal).
pub fn decode_unverified(token: &str) -> Option<DecodedJwt> {
    let mut parts = token.split('.');
    let (h, p, _sig) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None; // JWE (5 parts) is encrypted; nothing to show.
    }
    let decode = |s: &str| -> Option<serde_json::Value> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s.trim_end_matches('='))
            .ok()?;
        let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        v.is_object().then_some(v)
    };
    let header = decode(h)?;
    let claims = decode(p)?;
    let date = |name: &str| {
        claims
            .get(name)
            .and_then(|v| v.as_i64())
            .and_then(|t| DateTime::from_timestamp(t, 0))
    };
    Some(DecodedJwt {
        expires_at: date("exp"),
        issued_at: date("iat"),
        not_before: date("nbf"),
        header,
        claims,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(v: &str) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v)
    }

    #[test]
    fn decodes_claims_without_verifying() {
        let token = format!(
            "{}.{}.sig",
            b64(r#"{"alg":"RS256","typ":"JWT"}"#),
            b64(r#"{"sub":"alice","exp":1700000000,"scope":"openid"}"#)
        );
        let d = decode_unverified(&token).unwrap();
        assert_eq!(d.claims["sub"], "alice");
        assert_eq!(d.header["alg"], "RS256");
        assert_eq!(
            d.expires_at.unwrap().to_rfc3339(),
            "2023-11-14T22:13:20+00:00"
        );
    }

    #[test]
    fn opaque_tokens_are_not_jwts() {
        assert!(decode_unverified("gho_16C7e42F292c6912E7710c838347Ae178B4a").is_none());
        assert!(decode_unverified("a.b.c").is_none());
        assert!(decode_unverified(&format!("{}.{}.s", b64("[]"), b64("{}"))).is_none());
    }
}
