//! Keys that sign: a client's private key for `private_key_jwt` and the JWT bearer grant
//! (RFC 7523), read from PEM or generated; its public JWK (RFC 7517) with the RFC 7638
//! thumbprint as `kid`; and compact JWS signing (RFC 7515) with it, or with a shared
//! secret (HS256, `client_secret_jwt`).
//!
//! Keys: RSA (RS256, 2048 bits or more), EC P-256 (ES256) and Ed25519 (EdDSA), in PKCS#8
//! (`BEGIN PRIVATE KEY`) or, for RSA, PKCS#1 (`BEGIN RSA PRIVATE KEY`). The cryptography
//! is ring's; this module only reads PEM labels, assembles JSON and encodes base64url.
//!
//! Must not: write a key anywhere (its callers seal it in the vault), put key material in
//! `Debug`, an error or a log, or quote the PEM it was given.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::PrivateKeyDer;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::secret::Secret;

/// A private key that signs JWTs.
pub struct SigningKey {
    pair: Pair,
}

enum Pair {
    Rsa(RsaKeyPair),
    P256(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({}, [redacted])", self.alg())
    }
}

/// Why a PEM was not taken. The messages say what the text is and what to give instead;
/// none quotes it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("is not PEM: give a private key that starts with `-----BEGIN PRIVATE KEY-----`")]
    NotPem,
    #[error(
        "is a {0}, not a private key: give the private key (`-----BEGIN PRIVATE KEY-----`); \
         its public half is what the provider registers"
    )]
    NotPrivate(String),
    #[error(
        "is an encrypted private key: decrypt it first (`openssl pkcs8 -in key.pem -out plain.pem`)"
    )]
    Encrypted,
    #[error(
        "is an EC key in SEC1 form (`BEGIN EC PRIVATE KEY`): convert it to PKCS#8 with \
         `openssl pkcs8 -topk8 -nocrypt -in key.pem -out pkcs8.pem`"
    )]
    Sec1,
    #[error(
        "is a key of an unsupported type or size: use RSA (2048 bits or more), EC P-256 or \
         Ed25519"
    )]
    Unsupported,
}

/// The PEM label of the first block, if the text has one.
fn first_label(pem: &str) -> Option<&str> {
    let start = pem.find("-----BEGIN ")? + "-----BEGIN ".len();
    let rest = &pem[start..];
    Some(&rest[..rest.find("-----")?])
}

impl SigningKey {
    /// Reads a private key from PEM.
    pub fn from_pem(pem: &Secret) -> Result<SigningKey, KeyError> {
        let text = pem.expose();
        let label = first_label(text).ok_or(KeyError::NotPem)?;
        match label {
            "PRIVATE KEY" | "RSA PRIVATE KEY" => {}
            "ENCRYPTED PRIVATE KEY" => return Err(KeyError::Encrypted),
            "EC PRIVATE KEY" => return Err(KeyError::Sec1),
            "PUBLIC KEY" | "RSA PUBLIC KEY" => {
                return Err(KeyError::NotPrivate("public key".into()))
            }
            "CERTIFICATE" => return Err(KeyError::NotPrivate("certificate".into())),
            other => {
                let shown: String = other
                    .chars()
                    .filter(|c| c.is_ascii_uppercase() || *c == ' ')
                    .take(40)
                    .collect();
                return Err(KeyError::NotPrivate(format!(
                    "PEM block labelled `{shown}`"
                )));
            }
        }
        let der = PrivateKeyDer::from_pem_slice(text.as_bytes()).map_err(|_| KeyError::NotPem)?;
        let pair = match der {
            PrivateKeyDer::Pkcs1(k) => Pair::Rsa(
                RsaKeyPair::from_der(k.secret_pkcs1_der()).map_err(|_| KeyError::Unsupported)?,
            ),
            PrivateKeyDer::Pkcs8(k) => {
                let der = k.secret_pkcs8_der();
                let rng = SystemRandom::new();
                if let Ok(p) =
                    EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, der, &rng)
                {
                    Pair::P256(p)
                } else if let Ok(p) = RsaKeyPair::from_pkcs8(der) {
                    Pair::Rsa(p)
                } else if let Ok(p) = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der) {
                    Pair::Ed25519(p)
                } else {
                    return Err(KeyError::Unsupported);
                }
            }
            PrivateKeyDer::Sec1(_) => return Err(KeyError::Sec1),
            _ => return Err(KeyError::Unsupported),
        };
        Ok(SigningKey { pair })
    }

    /// A new EC P-256 key, and its PKCS#8 PEM (to be sealed by the caller).
    pub fn generate_p256() -> (SigningKey, Secret) {
        let rng = SystemRandom::new();
        let doc = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .expect("the system's random number generator failed");
        let pem = pem_of("PRIVATE KEY", doc.as_ref());
        let pair = EcdsaKeyPair::from_pkcs8(
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            doc.as_ref(),
            &rng,
        )
        .expect("ring reads the key it made");
        (
            SigningKey {
                pair: Pair::P256(pair),
            },
            pem,
        )
    }

    /// The JWS `alg` this key signs with.
    pub fn alg(&self) -> &'static str {
        match self.pair {
            Pair::Rsa(_) => "RS256",
            Pair::P256(_) => "ES256",
            Pair::Ed25519(_) => "EdDSA",
        }
    }

    /// The public key's required JWK members (RFC 7638 §3.2), in lexicographic order: the
    /// `jwk` of a DPoP proof's header.
    pub fn public_members(&self) -> Value {
        match &self.pair {
            Pair::Rsa(p) => {
                let c: ring::rsa::PublicKeyComponents<Vec<u8>> = p.public().into();
                json!({"e": B64.encode(c.e), "kty": "RSA", "n": B64.encode(c.n)})
            }
            Pair::P256(p) => {
                // Uncompressed point: 0x04 || x || y.
                let point = p.public_key().as_ref();
                json!({"crv": "P-256", "kty": "EC", "x": B64.encode(&point[1..33]), "y": B64.encode(&point[33..65])})
            }
            Pair::Ed25519(p) => {
                json!({"crv": "Ed25519", "kty": "OKP", "x": B64.encode(p.public_key().as_ref())})
            }
        }
    }

    /// The RFC 7638 JWK thumbprint (SHA-256, base64url).
    pub fn thumbprint(&self) -> String {
        // serde_json's map keeps keys sorted and writes no whitespace: the canonical form.
        let canonical = serde_json::to_string(&self.public_members()).unwrap_or_default();
        B64.encode(Sha256::digest(canonical.as_bytes()))
    }

    /// The public JWK to register with the provider: the key, `alg`, `use` = `sig` and the
    /// thumbprint as `kid`.
    pub fn public_jwk(&self) -> Value {
        let mut jwk = self.public_members();
        if let Value::Object(m) = &mut jwk {
            m.insert("alg".into(), self.alg().into());
            m.insert("use".into(), "sig".into());
            m.insert("kid".into(), self.thumbprint().into());
        }
        jwk
    }

    /// A compact JWS of `claims` with `header` (to which `alg` is added).
    pub fn sign(&self, mut header: Value, claims: &Value) -> String {
        if let Value::Object(m) = &mut header {
            m.insert("alg".into(), self.alg().into());
        }
        let input = signing_input(&header, claims);
        let rng = SystemRandom::new();
        let sig = match &self.pair {
            Pair::Rsa(p) => {
                let mut sig = vec![0; p.public().modulus_len()];
                p.sign(
                    &signature::RSA_PKCS1_SHA256,
                    &rng,
                    input.as_bytes(),
                    &mut sig,
                )
                .expect("RSA signing with a key ring accepted");
                sig
            }
            Pair::P256(p) => p
                .sign(&rng, input.as_bytes())
                .expect("ECDSA signing with a key ring accepted")
                .as_ref()
                .to_vec(),
            Pair::Ed25519(p) => p.sign(input.as_bytes()).as_ref().to_vec(),
        };
        format!("{input}.{}", B64.encode(sig))
    }
}

/// A compact JWS signed with HMAC-SHA256 under a shared secret (`client_secret_jwt`).
pub fn sign_hs256(secret: &Secret, mut header: Value, claims: &Value) -> String {
    if let Value::Object(m) = &mut header {
        m.insert("alg".into(), "HS256".into());
    }
    let input = signing_input(&header, claims);
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.expose().as_bytes());
    let tag = ring::hmac::sign(&key, input.as_bytes());
    format!("{input}.{}", B64.encode(tag.as_ref()))
}

fn signing_input(header: &Value, claims: &Value) -> String {
    let part = |v: &Value| B64.encode(serde_json::to_vec(v).unwrap_or_default());
    format!("{}.{}", part(header), part(claims))
}

/// PEM text of DER bytes under `label`, lines of 64 characters.
fn pem_of(label: &str, der: &[u8]) -> Secret {
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str(&format!("-----END {label}-----\n"));
    Secret::new(pem)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verify(jws: &str, public: &[u8], alg: &'static dyn signature::VerificationAlgorithm) {
        let (input, sig) = jws.rsplit_once('.').unwrap();
        signature::UnparsedPublicKey::new(alg, public)
            .verify(input.as_bytes(), &B64.decode(sig).unwrap())
            .expect("the signature verifies");
    }

    #[test]
    fn a_generated_key_reads_back_signs_and_verifies() {
        let (key, pem) = SigningKey::generate_p256();
        assert!(pem.expose().starts_with("-----BEGIN PRIVATE KEY-----\n"));
        let again = SigningKey::from_pem(&pem).unwrap();
        assert_eq!(again.thumbprint(), key.thumbprint());
        assert_eq!(again.alg(), "ES256");
        let jws = again.sign(json!({"typ": "JWT"}), &json!({"iss": "me"}));
        let Pair::P256(p) = &key.pair else {
            unreachable!()
        };
        verify(
            &jws,
            p.public_key().as_ref(),
            &signature::ECDSA_P256_SHA256_FIXED,
        );
        let header: Value =
            serde_json::from_slice(&B64.decode(jws.split('.').next().unwrap()).unwrap()).unwrap();
        assert_eq!(header, json!({"alg": "ES256", "typ": "JWT"}));
        let jwk = key.public_jwk();
        assert_eq!(jwk["kty"], "EC");
        assert_eq!(jwk["kid"], key.thumbprint());
        assert!(jwk.get("d").is_none(), "the private part never leaves");
        assert!(!format!("{key:?}").contains(&jwk["x"].as_str().unwrap()[..8]));
    }

    #[test]
    fn rsa_in_pkcs8_and_pkcs1_and_ed25519_are_read_and_sign() {
        let fixture = |f: &str| {
            Secret::new(
                std::fs::read_to_string(format!(
                    "{}/tests/fixtures/{f}",
                    env!("CARGO_MANIFEST_DIR")
                ))
                .unwrap(),
            )
        };
        let rsa8 = SigningKey::from_pem(&fixture("test-only-rsa-2048.pem")).unwrap();
        let rsa1 = SigningKey::from_pem(&fixture("test-only-rsa-2048-pkcs1.pem")).unwrap();
        assert_eq!(rsa8.alg(), "RS256");
        assert_eq!(rsa8.thumbprint(), rsa1.thumbprint(), "one key in two forms");
        let Pair::Rsa(p) = &rsa8.pair else {
            unreachable!()
        };
        verify(
            &rsa1.sign(json!({}), &json!({"a": 1})),
            p.public().as_ref(),
            &signature::RSA_PKCS1_2048_8192_SHA256,
        );
        assert_eq!(rsa8.public_jwk()["e"], "AQAB");

        let ed = SigningKey::from_pem(&fixture("test-only-ed25519.pem")).unwrap();
        assert_eq!(ed.alg(), "EdDSA");
        let Pair::Ed25519(p) = &ed.pair else {
            unreachable!()
        };
        verify(
            &ed.sign(json!({}), &json!({"a": 1})),
            p.public_key().as_ref(),
            &signature::ED25519,
        );
    }

    #[test]
    fn rfc7638_thumbprint_example() {
        // RFC 7638 §3.1: the RSA key and its thumbprint.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        let members = json!({"e": "AQAB", "kty": "RSA", "n": n});
        let canonical = serde_json::to_string(&members).unwrap();
        assert_eq!(
            B64.encode(Sha256::digest(canonical.as_bytes())),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn hs256_signs_the_jws_signing_input_under_the_secret() {
        // The tag is ring's HMAC-SHA256 of `header.payload` under the secret's bytes.
        let jws = sign_hs256(&Secret::new("k"), json!({"typ": "JWT"}), &json!({"a": 1}));
        let (input, sig) = jws.rsplit_once('.').unwrap();
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"k");
        ring::hmac::verify(&key, input.as_bytes(), &B64.decode(sig).unwrap()).unwrap();
    }

    #[test]
    fn what_is_not_a_usable_private_key_is_named_without_quoting_it() {
        let cases = [
            ("hello", KeyError::NotPem),
            ("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", KeyError::NotPrivate("certificate".into())),
            ("-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n", KeyError::NotPrivate("public key".into())),
            ("-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n", KeyError::Encrypted),
            ("-----BEGIN EC PRIVATE KEY-----\nMHcC\n-----END EC PRIVATE KEY-----\n", KeyError::Sec1),
            ("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", KeyError::Unsupported),
        ];
        for (text, want) in cases {
            let got = SigningKey::from_pem(&Secret::new(text)).unwrap_err();
            assert_eq!(got, want, "{text}");
            assert!(!got.to_string().contains("MIIB") && !got.to_string().contains("AAAA"));
        }
    }
}
