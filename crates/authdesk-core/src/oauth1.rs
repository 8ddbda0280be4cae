//! OAuth 1.0a request signing (RFC 5849 §3.4): the signature base string (the method, the
//! base URI, and every query, form and `oauth_*` parameter, encoded, sorted and joined),
//! signed with HMAC-SHA1, HMAC-SHA256, RSA-SHA1 or PLAINTEXT, and the `Authorization:
//! OAuth` header (§3.5.1).
//!
//! Must not: put a secret (consumer secret, token secret, private key) anywhere but the
//! signing key, or reuse a nonce (each call of [`authorization`] makes a new one).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::secret::Secret;

/// RFC 5849 §3.6: everything but the unreserved characters is encoded.
const ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

pub fn encode(s: &str) -> String {
    utf8_percent_encode(s, ENCODE).to_string()
}

pub use crate::definition::SignatureMethod;

/// The consumer and, when there is one, the token a request is signed with.
pub struct Credentials<'a> {
    pub consumer_key: &'a str,
    /// HMAC and PLAINTEXT: the consumer secret.
    pub consumer_secret: Option<&'a Secret>,
    /// RSA-SHA1: the consumer's private key (PEM).
    pub private_key: Option<&'a Secret>,
    pub token: Option<&'a str>,
    pub token_secret: Option<&'a Secret>,
}

/// What the header carries besides the signature (`oauth_callback` on the request token
/// request, `oauth_verifier` on the access token request).
pub type Extra<'a> = &'a [(&'a str, &'a str)];

/// RFC 5849 §3.4.1.2: scheme and host lowercase, the default port left out, no query or
/// fragment.
pub fn base_uri(url: &url::Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.set_fragment(None);
    let host = u.host_str().unwrap_or_default().to_ascii_lowercase();
    let port = match u.port() {
        Some(p) => format!(":{p}"),
        None => String::new(),
    };
    format!("{}://{host}{port}{}", u.scheme(), u.path())
}

/// RFC 5849 §3.4.1: the signature base string.
pub fn base_string(method: &str, url: &url::Url, params: &[(String, String)]) -> String {
    let mut pairs: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (encode(k), encode(v)))
        .chain(url.query_pairs().map(|(k, v)| (encode(&k), encode(&v))))
        .collect();
    pairs.sort();
    let normalized = pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    format!(
        "{}&{}&{}",
        method.to_ascii_uppercase(),
        encode(&base_uri(url)),
        encode(&normalized)
    )
}

/// Signs `base` (RFC 5849 §3.4.2-3.4.4).
pub fn sign(
    method: SignatureMethod,
    creds: &Credentials<'_>,
    base: &str,
) -> Result<String, String> {
    let key = format!(
        "{}&{}",
        encode(
            creds
                .consumer_secret
                .map(Secret::expose)
                .unwrap_or_default()
        ),
        encode(creds.token_secret.map(Secret::expose).unwrap_or_default())
    );
    Ok(match method {
        SignatureMethod::Plaintext => key,
        SignatureMethod::HmacSha1 | SignatureMethod::HmacSha256 => {
            let algorithm = if method == SignatureMethod::HmacSha1 {
                ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY
            } else {
                ring::hmac::HMAC_SHA256
            };
            let k = ring::hmac::Key::new(algorithm, key.as_bytes());
            B64.encode(ring::hmac::sign(&k, base.as_bytes()).as_ref())
        }
        SignatureMethod::RsaSha1 => {
            use rsa::pkcs1::DecodeRsaPrivateKey;
            use rsa::pkcs8::DecodePrivateKey;
            use rsa::signature::{SignatureEncoding, Signer};
            let pem = creds
                .private_key
                .ok_or("RSA-SHA1 needs the consumer's private key (ClientPrivateKey)")?;
            let private = rsa::RsaPrivateKey::from_pkcs8_pem(pem.expose())
                .or_else(|_| rsa::RsaPrivateKey::from_pkcs1_pem(pem.expose()))
                .map_err(|_| "ClientPrivateKey is not an RSA private key in PEM".to_string())?;
            let signer = rsa::pkcs1v15::SigningKey::<sha1::Sha1>::new(private);
            B64.encode(signer.sign(base.as_bytes()).to_bytes())
        }
    })
}

/// The `Authorization: OAuth ...` header for one request: a fresh nonce and timestamp, the
/// `extra` protocol parameters, and the signature over them and `params` (the query is read
/// from `url`; `params` are the request's form fields, if its body is a form).
pub fn authorization(
    method: SignatureMethod,
    creds: &Credentials<'_>,
    http_method: &str,
    url: &url::Url,
    params: &[(String, String)],
    extra: Extra<'_>,
    timestamp: i64,
) -> Result<String, String> {
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let mut oauth: Vec<(String, String)> = vec![
        ("oauth_consumer_key".into(), creds.consumer_key.to_string()),
        ("oauth_nonce".into(), nonce),
        ("oauth_signature_method".into(), method.name().to_string()),
        ("oauth_timestamp".into(), timestamp.to_string()),
        ("oauth_version".into(), "1.0".into()),
    ];
    if let Some(t) = creds.token {
        oauth.push(("oauth_token".into(), t.to_string()));
    }
    for (k, v) in extra {
        oauth.push((k.to_string(), v.to_string()));
    }
    let all: Vec<(String, String)> = oauth.iter().chain(params.iter()).cloned().collect();
    let signature = sign(method, creds, &base_string(http_method, url, &all))?;
    oauth.push(("oauth_signature".into(), signature));
    Ok(format!(
        "OAuth {}",
        oauth
            .iter()
            .map(|(k, v)| format!("{}=\"{}\"", encode(k), encode(v)))
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// RFC 5849 §3.4.1.1: the example request and its signature base string.
    #[test]
    fn rfc5849_section_3_4_1_1_base_string() {
        let url =
            url::Url::parse("http://example.com/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b").unwrap();
        let p = params(&[
            ("oauth_consumer_key", "9djdj82h48djs9d2"),
            ("oauth_token", "kkk9d7dh3k39sjv7"),
            ("oauth_signature_method", "HMAC-SHA1"),
            ("oauth_timestamp", "137131201"),
            ("oauth_nonce", "7d8f3e4a"),
            ("c2", ""),
            ("a3", "2 q"),
        ]);
        assert_eq!(
            base_string("POST", &url, &p),
            "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q\
             %26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_\
             key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_m\
             ethod%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk\
             9d7dh3k39sjv7"
        );
    }

    /// RFC 5849 §1.2: the printer example's temporary credentials request, HMAC-SHA1
    /// signature `74KNZJeDHnMBp0EMJ9ZHt/XKycU=`.
    #[test]
    fn rfc5849_section_1_2_hmac_sha1_signature() {
        let url = url::Url::parse("https://photos.example.net/initiate").unwrap();
        let p = params(&[
            ("oauth_consumer_key", "dpf43f3p2l4k3l03"),
            ("oauth_signature_method", "HMAC-SHA1"),
            ("oauth_timestamp", "137131200"),
            ("oauth_nonce", "wIjqoS"),
            ("oauth_callback", "http://printer.example.com/ready"),
        ]);
        let secret = Secret::new("kd94hf93k423kf44");
        let creds = Credentials {
            consumer_key: "dpf43f3p2l4k3l03",
            consumer_secret: Some(&secret),
            private_key: None,
            token: None,
            token_secret: None,
        };
        let base = base_string("POST", &url, &p);
        assert_eq!(
            sign(SignatureMethod::HmacSha1, &creds, &base).unwrap(),
            "74KNZJeDHnMBp0EMJ9ZHt/XKycU="
        );
    }

    /// RFC 5849 §3.4.4 PLAINTEXT, and §3.4.1.2's base URI examples.
    #[test]
    fn plaintext_and_base_uri() {
        let (cs, ts) = (
            Secret::new("kd94hf93k423kf44"),
            Secret::new("pfkkdhi9sl3r4s00"),
        );
        let creds = Credentials {
            consumer_key: "k",
            consumer_secret: Some(&cs),
            private_key: None,
            token: Some("t"),
            token_secret: Some(&ts),
        };
        assert_eq!(
            sign(SignatureMethod::Plaintext, &creds, "ignored").unwrap(),
            "kd94hf93k423kf44&pfkkdhi9sl3r4s00"
        );
        let u = |s: &str| url::Url::parse(s).unwrap();
        assert_eq!(
            base_uri(&u("HTTP://EXAMPLE.COM:80/r%20v/X?id=123")),
            "http://example.com/r%20v/X"
        );
        assert_eq!(
            base_uri(&u("https://www.example.net:8080/?q=1")),
            "https://www.example.net:8080/"
        );
    }

    #[test]
    fn each_header_has_a_fresh_nonce_and_every_parameter() {
        let cs = Secret::new("s");
        let creds = Credentials {
            consumer_key: "key",
            consumer_secret: Some(&cs),
            private_key: None,
            token: Some("tok"),
            token_secret: None,
        };
        let url = url::Url::parse("https://api.example.com/1/members/me?fields=id").unwrap();
        let a = authorization(
            SignatureMethod::HmacSha256,
            &creds,
            "GET",
            &url,
            &[],
            &[("oauth_verifier", "v")],
            1,
        )
        .unwrap();
        let b = authorization(
            SignatureMethod::HmacSha256,
            &creds,
            "GET",
            &url,
            &[],
            &[],
            1,
        )
        .unwrap();
        assert!(
            a.starts_with("OAuth oauth_consumer_key=\"key\", oauth_nonce=\""),
            "{a}"
        );
        assert!(
            a.contains("oauth_signature_method=\"HMAC-SHA256\"")
                && a.contains("oauth_token=\"tok\"")
        );
        assert!(a.contains("oauth_verifier=\"v\"") && a.contains("oauth_signature=\""));
        let nonce = |h: &str| {
            h.split("oauth_nonce=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
                .to_string()
        };
        assert_ne!(nonce(&a), nonce(&b));
        assert!(!a.contains("\"s\""), "the secret is only in the key");
    }

    #[test]
    fn rsa_sha1_signs_with_the_consumers_key() {
        let pem = Secret::new(
            std::fs::read_to_string(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/test-only-rsa-2048.pem"
            ))
            .unwrap(),
        );
        let creds = Credentials {
            consumer_key: "k",
            consumer_secret: None,
            private_key: Some(&pem),
            token: None,
            token_secret: None,
        };
        let sig = sign(SignatureMethod::RsaSha1, &creds, "base").unwrap();
        assert_eq!(
            B64.decode(sig).unwrap().len(),
            256,
            "a 2048-bit RSA signature"
        );
        let none = Credentials {
            private_key: None,
            ..creds
        };
        assert!(sign(SignatureMethod::RsaSha1, &none, "base")
            .unwrap_err()
            .contains("ClientPrivateKey"));
    }
}
