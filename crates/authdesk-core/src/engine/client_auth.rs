//! How the client proves itself to the provider's endpoints (token, revocation, pushed
//! authorization): RFC 6749 §2.3.1 Basic or form fields, or a signed JWT (RFC 7523 §2.2,
//! `private_key_jwt` with the client's private key, `client_secret_jwt` with HMAC-SHA256
//! under the ClientSecret).
//!
//! An assertion names the client as `iss` and `sub`, the token endpoint as `aud` (every
//! endpoint takes that audience, RFC 7523bis), a fresh `jti`, and expires a minute after it
//! is made; a private key's header names it by its RFC 7638 thumbprint (`kid`), which is
//! the `kid` of the public JWK Authdesk shows to register.
//!
//! Must not: send anything (its callers do), or keep an assertion (each request gets one).

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::credentials::ClientCredentials;
use crate::definition::ClientAuth;
use crate::secret::Secret;
use crate::signing::{sign_hs256, SigningKey};

/// RFC 7523 §2.2.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// How long an assertion is good for.
const ASSERTION_LIFETIME_SECS: i64 = 60;

/// What a request carries to authenticate the client.
pub enum ClientProof {
    /// `Authorization: Basic` with the form-encoded id and secret.
    Basic { client_id: String, secret: Secret },
    /// Form fields (`client_id`, and `client_secret` or `client_assertion_type` +
    /// `client_assertion`).
    Form(Vec<(&'static str, Secret)>),
}

impl ClientProof {
    /// The proof for one request to an endpoint of the provider whose token endpoint is
    /// `token_endpoint`.
    pub fn new(
        auth: ClientAuth,
        creds: &ClientCredentials,
        token_endpoint: &str,
        now: DateTime<Utc>,
    ) -> Result<ClientProof, String> {
        let id = || ("client_id", Secret::new(creds.client_id.clone()));
        Ok(match (auth, &creds.client_secret) {
            (ClientAuth::Basic, Some(secret)) => ClientProof::Basic {
                client_id: creds.client_id.clone(),
                secret: secret.clone(),
            },
            (ClientAuth::Body, Some(secret)) => {
                ClientProof::Form(vec![id(), ("client_secret", secret.clone())])
            }
            (ClientAuth::ClientSecretJwt, Some(secret)) => {
                let claims = claims(&creds.client_id, token_endpoint, now);
                let jwt = sign_hs256(secret, json!({"typ": "JWT"}), &claims);
                assertion(id(), jwt)
            }
            (ClientAuth::ClientSecretJwt, None) => {
                return Err("client_secret_jwt needs the app's ClientSecret".into())
            }
            (ClientAuth::PrivateKeyJwt, _) => {
                let pem = creds
                    .private_key
                    .as_ref()
                    .ok_or("private_key_jwt needs the app's private key (ClientPrivateKey)")?;
                let key = SigningKey::from_pem(pem).map_err(|e| format!("ClientPrivateKey {e}"))?;
                let claims = claims(&creds.client_id, token_endpoint, now);
                let jwt = key.sign(json!({"typ": "JWT", "kid": key.thumbprint()}), &claims);
                assertion(id(), jwt)
            }
            _ => ClientProof::Form(vec![id()]),
        })
    }

    /// Adds the proof to a form request.
    pub fn apply(
        self,
        request: reqwest::RequestBuilder,
        form: &mut Vec<(&'static str, String)>,
    ) -> reqwest::RequestBuilder {
        match self {
            ClientProof::Basic { client_id, secret } => {
                // RFC 6749 §2.3.1: form-encode the id and secret before Basic encoding.
                let enc = |s: &str| {
                    url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>()
                };
                request.basic_auth(enc(&client_id), Some(enc(secret.expose())))
            }
            ClientProof::Form(fields) => {
                form.extend(fields.into_iter().map(|(k, v)| (k, v.expose().to_string())));
                request
            }
        }
    }

    /// The form fields, for a request whose client sets `client_id` itself (the `oauth2`
    /// crate's token requests): the assertion fields only.
    pub fn assertion_fields(&self) -> Vec<(&'static str, String)> {
        match self {
            ClientProof::Form(fields) => fields
                .iter()
                .filter(|(k, _)| k.starts_with("client_assertion"))
                .map(|(k, v)| (*k, v.expose().to_string()))
                .collect(),
            ClientProof::Basic { .. } => Vec::new(),
        }
    }
}

fn assertion(id: (&'static str, Secret), jwt: String) -> ClientProof {
    ClientProof::Form(vec![
        id,
        ("client_assertion_type", Secret::new(ASSERTION_TYPE)),
        ("client_assertion", Secret::new(jwt)),
    ])
}

fn claims(client_id: &str, audience: &str, now: DateTime<Utc>) -> serde_json::Value {
    json!({
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "jti": uuid::Uuid::new_v4().to_string(),
        "iat": now.timestamp(),
        "exp": now.timestamp() + ASSERTION_LIFETIME_SECS,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::CredentialSource;

    fn creds(secret: Option<&str>, key: Option<Secret>) -> ClientCredentials {
        ClientCredentials {
            client_id: "app".into(),
            client_id_from: CredentialSource::AccountConnector,
            client_secret: secret.map(Secret::new),
            client_secret_from: None,
            private_key: key,
            private_key_from: None,
        }
    }

    fn claims_of(proof: &ClientProof) -> serde_json::Value {
        let fields = proof.assertion_fields();
        assert_eq!(
            fields[0],
            ("client_assertion_type", ASSERTION_TYPE.to_string())
        );
        let jwt = &fields[1].1;
        let payload = jwt.split('.').nth(1).unwrap();
        use base64::Engine as _;
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn assertions_name_the_client_the_token_endpoint_and_expire_within_a_minute() {
        let now = Utc::now();
        let (_, pem) = SigningKey::generate_p256();
        let a = ClientProof::new(
            ClientAuth::PrivateKeyJwt,
            &creds(None, Some(pem.clone())),
            "https://as/token",
            now,
        )
        .unwrap();
        let b = ClientProof::new(
            ClientAuth::PrivateKeyJwt,
            &creds(None, Some(pem)),
            "https://as/token",
            now,
        )
        .unwrap();
        let (ca, cb) = (claims_of(&a), claims_of(&b));
        assert_eq!(
            (ca["iss"].as_str(), ca["sub"].as_str(), ca["aud"].as_str()),
            (Some("app"), Some("app"), Some("https://as/token"))
        );
        assert_eq!(
            ca["exp"].as_i64().unwrap() - ca["iat"].as_i64().unwrap(),
            60
        );
        assert_ne!(ca["jti"], cb["jti"], "a fresh jti each time");
        let s = ClientProof::new(
            ClientAuth::ClientSecretJwt,
            &creds(Some("s".repeat(32).as_str()), None),
            "https://as/token",
            now,
        )
        .unwrap();
        assert_eq!(claims_of(&s)["aud"], "https://as/token");
    }

    #[test]
    fn a_missing_or_bad_key_is_named_without_quoting_it() {
        let now = Utc::now();
        let e = ClientProof::new(ClientAuth::PrivateKeyJwt, &creds(None, None), "t", now)
            .err()
            .unwrap();
        assert!(e.contains("ClientPrivateKey"), "{e}");
        let e = ClientProof::new(
            ClientAuth::PrivateKeyJwt,
            &creds(None, Some(Secret::new("not-pem-s3cr3t"))),
            "t",
            now,
        )
        .err()
        .unwrap();
        assert!(
            e.starts_with("ClientPrivateKey is not PEM") && !e.contains("s3cr3t"),
            "{e}"
        );
    }
}
