//! Client authentication with signed JWTs (RFC 7523 §2.2) against a real authorization
//! server (oidc-provider): `private_key_jwt` with the library's generated key and with an
//! account connector's own imported key, at the token and revocation endpoints, and
//! `client_secret_jwt`. The provider checks the signature, `aud`, `exp` and the one-time
//! `jti`; a key it does not know is refused.

mod support;

use std::sync::Arc;

use authdesk_core::engine::EngineConfig;
use authdesk_core::service::PrivateKeySource;
use authdesk_core::signing::SigningKey;
use authdesk_core::{AuthStatus, Authdesk, Error, InstallRequest, Secret};
use serde_json::{json, Value};
use support::oidc::{self, sign_in, OidcOptions, OidcServer};

const REDIRECT: &str = "https://app.example.com/callback";

/// The server's test definition with `client_auth`; a client credentials one asks for the
/// resource scope `api:read` only.
fn definition(issuer: &str, id: &str, grant: &str, client_auth: &str) -> String {
    let d = oidc::definition(
        issuer,
        id,
        grant,
        &format!("client_auth = \"{client_auth}\""),
    );
    if grant == "client_credentials" {
        return d.replace(
            r#"scopes = ["openid", "offline_access", "email"]"#,
            r#"scopes = ["api:read"]"#,
        );
    }
    d
}

struct Setup {
    s: support::EngineSetup,
    desk: Arc<Authdesk>,
    server: OidcServer,
}

impl Setup {
    fn engine(&self) -> &authdesk_core::Engine {
        &self.s.engine
    }

    fn start() -> Setup {
        let server = OidcServer::start(OidcOptions::default());
        let mut config = EngineConfig::default();
        config.http.total_timeout = std::time::Duration::from_secs(5);
        let s = support::engine_setup(config, "Acme");
        Setup {
            desk: s.desk.clone(),
            s,
            server,
        }
    }

    fn install(&self, connector: &str, auth_value: Option<&str>) -> i64 {
        self.desk
            .install(
                &self.s.account,
                connector,
                InstallRequest {
                    name: "signed".into(),
                    auth_value: auth_value.map(Secret::new),
                    ..Default::default()
                },
            )
            .unwrap()
            .id
    }

    /// Registers a `private_key_jwt` client (RFC 7591) whose key set is `jwk`; returns its
    /// client_id and the registration access token (RFC 7592) to change it.
    async fn register(&self, jwk: &Value) -> (String, String) {
        let reply: Value = reqwest::Client::new()
            .post(format!("{}/reg", self.server.issuer))
            .json(&registration(None, jwk))
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .json()
            .await
            .unwrap();
        (
            reply["client_id"].as_str().unwrap().to_string(),
            reply["registration_access_token"]
                .as_str()
                .unwrap()
                .to_string(),
        )
    }

    /// Replaces the registered key set of `client_id` (what a user does in the provider's
    /// console after `set-client --generate-key`).
    async fn update_key(&self, client_id: &str, token: &str, jwk: &Value) {
        reqwest::Client::new()
            .put(format!("{}/reg/{client_id}", self.server.issuer))
            .bearer_auth(token)
            .json(&registration(Some(client_id), jwk))
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap();
    }
}

fn registration(client_id: Option<&str>, jwk: &Value) -> Value {
    let mut r = json!({
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks": {"keys": [jwk]},
        "redirect_uris": [REDIRECT],
        "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
        "response_types": ["code"],
        "scope": "openid offline_access email api:read",
    });
    if let Some(id) = client_id {
        r["client_id"] = id.into();
    }
    r
}

fn fixture(name: &str) -> Secret {
    Secret::new(
        std::fs::read_to_string(format!(
            "{}/tests/fixtures/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
    )
}

#[tokio::test]
async fn a_generated_library_key_signs_client_credentials_once_the_provider_knows_it() {
    let s = Setup::start();
    let issuer = s.server.issuer.clone();
    s.desk
        .add_connector(
            "t",
            &definition(&issuer, "pk-cc", "client_credentials", "private_key_jwt"),
            false,
        )
        .unwrap();
    // The app exists at the provider with some other key.
    let (other, _) = SigningKey::generate_p256();
    let (client_id, token) = s.register(&other.public_jwk()).await;

    let entry = s
        .desk
        .set_connector_client_key("pk-cc", &client_id, PrivateKeySource::Generate)
        .unwrap();
    let jwk = entry.public_jwk.clone().expect("the public JWK is shown");
    assert_eq!(
        (jwk["kty"].as_str(), jwk["alg"].as_str()),
        (Some("EC"), Some("ES256"))
    );
    assert!(jwk.get("d").is_none(), "never the private part");
    let shown = serde_json::to_value(&entry).unwrap();
    assert_eq!(
        shown["PublicJwk"], jwk,
        "the library entry shows it as PublicJwk"
    );

    // The provider does not know this key yet: refused as a client problem.
    let id = s.install("pk-cc", Some("{}"));
    let e = s.engine().access(id).await.unwrap_err();
    assert!(e.to_string().contains("invalid_client"), "{e}");

    // Registered: every token request carries a fresh assertion the provider accepts (a
    // new account connector: the refused one waits out its back-off).
    s.update_key(&client_id, &token, &jwk).await;
    let id = s.install("pk-cc", Some("{}"));
    s.engine().access(id).await.unwrap();
    assert_eq!(
        s.desk.get_account_connector(id).unwrap().status,
        AuthStatus::Authenticated
    );
    let stats = s.server.stats().await;
    assert_eq!(stats["grants"]["client_credentials"], 1, "{stats}");
}

#[tokio::test]
async fn an_account_connectors_own_rsa_key_signs_the_pushed_request_sign_in_refresh_and_revocation()
{
    let s = Setup::start();
    let issuer = s.server.issuer.clone();
    s.desk
        .add_connector(
            "t",
            // Pushed (RFC 9126) too: the PAR endpoint takes the same assertion.
            &oidc::definition(
                &issuer,
                "pk-code",
                "authorization_code",
                &format!(
                    "client_auth = \"private_key_jwt\"\npar = true\n\
                     pushed_authorization_request_url = \"{issuer}/request\""
                ),
            ),
            false,
        )
        .unwrap();
    let pem = fixture("test-only-rsa-2048.pem");
    let key = SigningKey::from_pem(&pem).unwrap();
    let (client_id, _) = s.register(&key.public_jwk()).await;

    let id = s.install("pk-code", None);
    // Without a key anywhere: the error names what is missing.
    s.desk
        .set_property(id, "ClientId", &Secret::new(client_id.clone()))
        .unwrap();
    let e = s.engine().begin_sign_in(id, REDIRECT).await;
    let e = match e {
        Ok(start) => {
            let callback = sign_in(&start.authorization_url, "alice").await;
            s.engine()
                .complete_sign_in(&callback, &start.binding)
                .await
                .unwrap_err()
        }
        Err(e) => e,
    };
    assert!(
        matches!(&e, Error::ClientCredentialsMissing { missing, .. } if *missing == "ClientPrivateKey"),
        "{e}"
    );

    s.desk.set_property(id, "ClientPrivateKey", &pem).unwrap();
    let start = s.engine().begin_sign_in(id, REDIRECT).await.unwrap();
    let callback = sign_in(&start.authorization_url, "alice").await;
    s.engine()
        .complete_sign_in(&callback, &start.binding)
        .await
        .unwrap();
    s.engine().refresh_now(id).await.unwrap();
    let stats = s.server.stats().await;
    assert_eq!(stats["grants"]["authorization_code"], 1, "{stats}");
    assert_eq!(stats["grants"]["refresh_token"], 1, "{stats}");

    let report = s.engine().disconnect(id).await.unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert!(!report.revoked.is_empty());
    assert!(s.server.stats().await["revocations"].as_u64().unwrap() >= 1);
}

#[tokio::test]
async fn client_secret_jwt_signs_with_the_secret_without_sending_it() {
    let s = Setup::start();
    let issuer = s.server.issuer.clone();
    s.desk
        .add_connector(
            "t",
            &definition(&issuer, "sj-cc", "client_credentials", "client_secret_jwt"),
            false,
        )
        .unwrap();
    s.desk
        .set_connector_client(
            "sj-cc",
            "authdesk-secret-jwt",
            Some(&Secret::new("authdesk-secret-jwt-0123456789abcdef0123")),
        )
        .unwrap();
    let id = s.install("sj-cc", Some("{}"));
    s.engine().access(id).await.unwrap();
    assert_eq!(s.server.stats().await["grants"]["client_credentials"], 1);

    // A wrong secret makes a signature the provider refuses.
    s.desk
        .set_connector_client(
            "sj-cc",
            "authdesk-secret-jwt",
            Some(&Secret::new("not-the-secret-0123456789abcdef0123456")),
        )
        .unwrap();
    let other = s.install("sj-cc", Some("{}"));
    let e = s.engine().access(other).await.unwrap_err();
    assert!(e.to_string().contains("invalid_client"), "{e}");
}

#[test]
fn a_pem_that_is_not_a_usable_private_key_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let desk = support::desk_on_sqlite(dir.path(), Arc::new(chrono::Utc::now));
    desk.add_connector(
        "t",
        &definition(
            "https://as.example.com",
            "pk",
            "client_credentials",
            "private_key_jwt",
        ),
        false,
    )
    .unwrap();
    let certificate =
        Secret::new("-----BEGIN CERTIFICATE-----\nMIIBs3cr3t\n-----END CERTIFICATE-----\n");
    let e = desk
        .set_connector_client_key("pk", "app", PrivateKeySource::Pem(&certificate))
        .unwrap_err();
    let text = e.to_string();
    assert!(
        text.starts_with("the private key is a certificate"),
        "{text}"
    );
    assert!(!text.contains("s3cr3t"));
    let entry = desk.get_connector("pk").unwrap();
    assert!(
        entry.public_jwk.is_none() && entry.client_id.is_none(),
        "nothing was written"
    );

    // Imported: the JWK of that key, and the same key in PKCS#1 gives the same JWK.
    let a = desk
        .set_connector_client_key(
            "pk",
            "app",
            PrivateKeySource::Pem(&fixture("test-only-rsa-2048.pem")),
        )
        .unwrap();
    let b = desk
        .set_connector_client_key(
            "pk",
            "app",
            PrivateKeySource::Pem(&fixture("test-only-rsa-2048-pkcs1.pem")),
        )
        .unwrap();
    assert_eq!(a.public_jwk, b.public_jwk);
    assert_eq!(a.public_jwk.unwrap()["kty"], "RSA");
    // The key is sealed: nothing of it in the database file.
    let mut db = std::fs::read(dir.path().join("data").join("authdesk.db")).unwrap();
    db.extend(std::fs::read(dir.path().join("data").join("authdesk.db-wal")).unwrap_or_default());
    let body: String = fixture("test-only-rsa-2048.pem")
        .expose()
        .lines()
        .nth(1)
        .unwrap()
        .to_string();
    assert!(!db.windows(body.len()).any(|w| w == body.as_bytes()));
}

#[tokio::test]
async fn the_jwt_bearer_grant_asserts_the_subject_property_with_the_apps_key() {
    let s = Setup::start();
    let issuer = s.server.issuer.clone();
    // Salesforce's shape: iss = the ClientId, sub = the user, no client authentication.
    let def = oidc::definition(
        &issuer,
        "bearer",
        "jwt_bearer",
        "client_auth = \"none\"\nassertion_subject = \"{Username}\"",
    )
    .replace(
        r#"scopes = ["openid", "offline_access", "email"]"#,
        r#"scopes = ["api:read"]"#,
    )
    .replace(
        "[[methods]]",
        "[[properties]]\nname = \"Username\"\nrequired = true\n[[methods]]",
    )
    .replace("[auth.authorize_params]\nprompt = \"consent\"\n", "");
    s.desk.add_connector("t", &def, false).unwrap();
    let pem = fixture("test-only-rsa-2048.pem");
    let jwk = SigningKey::from_pem(&pem).unwrap().public_jwk();
    let reply: Value = reqwest::Client::new()
        .post(format!("{}/reg", s.server.issuer))
        .json(&json!({
            "token_endpoint_auth_method": "none",
            "jwks": {"keys": [jwk]},
            "grant_types": ["urn:ietf:params:oauth:grant-type:jwt-bearer"],
            "response_types": [],
            "redirect_uris": [],
            "scope": "api:read",
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let client_id = reply["client_id"]
        .as_str()
        .unwrap_or_else(|| panic!("{reply}"));
    s.desk
        .set_connector_client_key("bearer", client_id, PrivateKeySource::Pem(&pem))
        .unwrap();
    let id = s
        .desk
        .install(
            &s.s.account,
            "bearer",
            InstallRequest {
                name: "bearer".into(),
                auth_value: Some(Secret::new("{}")),
                properties: vec![authdesk_core::PropertyInput {
                    name: "Username".into(),
                    value: Secret::new("alice@example.com"),
                }],
                ..Default::default()
            },
        )
        .unwrap()
        .id;
    s.engine().access(id).await.unwrap();
    let ac = s.desk.get_account_connector(id).unwrap();
    assert_eq!(ac.status, AuthStatus::Authenticated);
    assert_eq!(ac.scopes.as_deref(), Some("api:read"));
    let stats = s.server.stats().await;
    assert_eq!(
        stats["jwtBearerSubjects"],
        json!(["alice@example.com"]),
        "{stats}"
    );

    // Expired: a new assertion (the provider refuses a replayed one), not a refresh token.
    s.engine().refresh_now(id).await.unwrap();
    let stats = s.server.stats().await;
    assert_eq!(
        stats["grants"]["urn:ietf:params:oauth:grant-type:jwt-bearer"], 2,
        "{stats}"
    );
}

#[test]
fn assertion_claims_belong_to_the_jwt_bearer_grant_only() {
    let def = oidc::definition(
        "https://as.example.com",
        "x",
        "client_credentials",
        "assertion_subject = \"{Username}\"",
    );
    let e = authdesk_core::ConnectorDefinition::from_toml("x.toml", &def).unwrap_err();
    assert!(e.to_string().contains("auth.assertion_subject"), "{e}");
    assert!(e.to_string().contains("jwt_bearer"), "{e}");
}
