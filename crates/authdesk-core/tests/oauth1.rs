//! OAuth 1.0a (RFC 5849) against a provider built on oauthlib's server endpoints
//! (`tests/oauth1/server.py`): the three legs for each signature method, signed method
//! calls (query and form fields in the base string), a refusal at the provider, a nonce
//! replayed by hand, and AuthValues.

mod support;

use authdesk_core::engine::EngineConfig;
use authdesk_core::{AuthStatus, Error, InstallRequest, Secret};
use support::oauth1::{authorize, OAuth1Server};

const REDIRECT: &str = "https://app.example.com/callback";

fn setup() -> (support::EngineSetup, OAuth1Server) {
    let server = OAuth1Server::start();
    let mut config = EngineConfig::default();
    config.http.total_timeout = std::time::Duration::from_secs(10);
    (support::engine_setup(config, "Acme"), server)
}

fn install(s: &support::EngineSetup, connector: &str, auth_value: Option<&str>) -> i64 {
    s.desk
        .install(
            &s.account,
            connector,
            InstallRequest {
                name: "oauth1".into(),
                auth_value: auth_value.map(Secret::new),
                ..Default::default()
            },
        )
        .unwrap()
        .id
}

#[tokio::test]
async fn each_signature_method_signs_in_and_signs_its_calls() {
    let (s, server) = setup();
    let fixture = Secret::new(
        std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/test-only-rsa-2048.pem"
        ))
        .unwrap(),
    );
    for (method, consumer, secret) in [
        ("HMAC-SHA1", "consumer-hmac", Some("consumer-hmac-secret")),
        (
            "HMAC-SHA256",
            "consumer-hmac256",
            Some("consumer-hmac256-secret"),
        ),
        ("PLAINTEXT", "consumer-plain", Some("consumer-plain-secret")),
        ("RSA-SHA1", "consumer-rsa", None),
    ] {
        let slug = format!("o1-{}", method.to_ascii_lowercase());
        s.desk
            .add_connector("t", &server.definition(&slug, method), false)
            .unwrap();
        match secret {
            Some(secret) => {
                s.desk
                    .set_connector_client(&slug, consumer, Some(&Secret::new(secret)))
                    .unwrap();
            }
            None => {
                let source = authdesk_core::service::PrivateKeySource::Pem(&fixture);
                s.desk
                    .set_connector_client_key(&slug, consumer, source)
                    .unwrap();
            }
        }
        let id = install(&s, &slug, None);
        let start = s.engine.begin_sign_in(id, REDIRECT).await.unwrap();
        let callback = authorize(&start.authorization_url, "trello-user", true).await;
        assert!(callback.starts_with(REDIRECT), "{callback}");
        let ac = s
            .engine
            .complete_sign_in(&callback, &start.binding)
            .await
            .unwrap();
        assert_eq!(ac.status, AuthStatus::Authenticated, "{method}");

        let mut params = serde_json::Map::new();
        params.insert("fields".into(), "id,name".into());
        let r = s.engine.call_method(id, "me", &params).await.unwrap();
        assert_eq!(r.status, 200, "{method}: {:?}", r.body);
        assert_eq!(
            (r.body["id"].as_str(), r.body["signature_method"].as_str()),
            (Some("trello-user"), Some(method))
        );
        let mut form = serde_json::Map::new();
        form.insert("note".into(), "a b&c".into());
        let r = s.engine.call_method(id, "me-form", &form).await.unwrap();
        assert_eq!(r.status, 200, "{method}, form fields signed: {:?}", r.body);
    }
    assert_eq!(server.stats().await["refused"], 0);
}

/// The provider's HMAC-SHA1 connector `o1` in the library, with its consumer.
fn hmac_connector(s: &support::EngineSetup, server: &OAuth1Server) {
    s.desk
        .add_connector("t", &server.definition("o1", "HMAC-SHA1"), false)
        .unwrap();
    s.desk
        .set_connector_client(
            "o1",
            "consumer-hmac",
            Some(&Secret::new("consumer-hmac-secret")),
        )
        .unwrap();
}

#[tokio::test]
async fn a_refusal_at_the_provider_is_a_refused_sign_in() {
    let (s, server) = setup();
    hmac_connector(&s, &server);
    let id = install(&s, "o1", None);
    let start = s.engine.begin_sign_in(id, REDIRECT).await.unwrap();
    let callback = authorize(&start.authorization_url, "trello-user", false).await;
    assert!(
        callback.contains("oauth_problem=user_refused"),
        "{callback}"
    );
    let e = s
        .engine
        .complete_sign_in(&callback, &start.binding)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::AuthorizationFailed(_)), "{e:?}");
    assert!(e.to_string().contains("refused the sign-in"), "{e}");
    assert!(s
        .desk
        .get_account_connector(id)
        .unwrap()
        .secrets_set
        .is_empty());

    // A provider that does not confirm the callback (OAuth 1.0, not 1.0a): refused.
    s.desk
        .set_connector_client(
            "o1",
            "consumer-unconfirmed",
            Some(&Secret::new("consumer-unconfirmed-secret")),
        )
        .unwrap();
    let e = s.engine.begin_sign_in(id, REDIRECT).await.unwrap_err();
    assert!(e.to_string().contains("oauth_callback_confirmed"), "{e}");

    // A wrong consumer secret: the first leg is refused, saying what to check.
    s.desk
        .set_connector_client("o1", "consumer-hmac", Some(&Secret::new("wrong")))
        .unwrap();
    let e = s.engine.begin_sign_in(id, REDIRECT).await.unwrap_err();
    assert!(e.to_string().contains("ClientSecret"), "{e}");
    // The history keeps that exchange, redacted: the OAuth parameters' names, the
    // signature method, the provider's answer; no signature, nonce or key.
    let events = s.desk.credential_events(id, 5).unwrap();
    let failed = events
        .iter()
        .find(|e| e.kind == "sign_in_failed" && e.exchange.is_some())
        .expect("kept");
    let x = failed.exchange.as_ref().unwrap();
    assert_eq!(
        x.client_authentication.as_deref(),
        Some("oauth1 HMAC-SHA1"),
        "{x:?}"
    );
    assert!(
        x.parameters.iter().any(|p| p == "oauth_signature") && x.status.is_some_and(|s| s >= 400),
        "{x:?}"
    );
    let kept = serde_json::to_string(&events).unwrap();
    assert!(
        !kept.contains("oauth_signature=\"") && !kept.contains("OAuth oauth_"),
        "{kept}"
    );
}

#[tokio::test]
async fn an_auth_value_signs_calls_and_a_replayed_request_is_refused() {
    let (s, server) = setup();
    hmac_connector(&s, &server);
    // Token credentials from a sign-in, given again as a partner would: an AuthValue.
    let signed = install(&s, "o1", None);
    let start = s.engine.begin_sign_in(signed, REDIRECT).await.unwrap();
    let callback = authorize(&start.authorization_url, "partner-user", true).await;
    s.engine
        .complete_sign_in(&callback, &start.binding)
        .await
        .unwrap();
    let token = support::oidc::stored(&s.desk, signed, "AccessToken");
    let token_secret = support::oidc::stored(&s.desk, signed, "TokenSecret");
    let value = serde_json::json!({"AccessToken": token, "TokenSecret": token_secret}).to_string();
    let id = install(&s, "o1", Some(&value));
    assert_eq!(
        s.desk.get_account_connector(id).unwrap().status,
        AuthStatus::Authenticated
    );
    let r = s
        .engine
        .call_method(id, "me", &Default::default())
        .await
        .unwrap();
    assert_eq!(r.body["id"], "partner-user");

    // The same signed request sent twice (nonce and timestamp reused) is refused.
    let url = url::Url::parse(&format!("{}/1/members/me", server.base)).unwrap();
    let (cs, ts) = (
        Secret::new("consumer-hmac-secret"),
        Secret::new(token_secret.clone()),
    );
    let creds = authdesk_core::oauth1::Credentials {
        consumer_key: "consumer-hmac",
        consumer_secret: Some(&cs),
        private_key: None,
        token: Some(&token),
        token_secret: Some(&ts),
    };
    let header = authdesk_core::oauth1::authorization(
        authdesk_core::oauth1::SignatureMethod::HmacSha1,
        &creds,
        "GET",
        &url,
        &[],
        &[],
        chrono::Utc::now().timestamp(),
    )
    .unwrap();
    let send = || {
        reqwest::Client::new()
            .get(url.clone())
            .header("Authorization", header.clone())
            .send()
    };
    assert_eq!(send().await.unwrap().status(), 200);
    assert_eq!(send().await.unwrap().status(), 401, "the replay is refused");
    assert_eq!(server.stats().await["replays"], 1);

    // An AuthValue that is not token credentials is refused, naming the shape.
    let e = s
        .desk
        .set_auth_value(id, &Secret::new(r#"{"AccessToken":"only"}"#))
        .unwrap_err();
    assert!(e.to_string().contains("TokenSecret"), "{e}");
}

#[test]
fn definitions_that_mix_types_or_send_plaintext_in_the_clear_name_the_field() {
    let base = "id = \"x\"\nname = \"X\"\nversion = \"1\"\n[auth]\ntype = \"oauth1\"\n\
                request_token_url = \"https://p.example.com/rt\"\nauthorize_url = \"https://p.example.com/a\"\n\
                access_token_url = \"https://p.example.com/at\"\n";
    let mixed = format!("{base}token_url = \"https://p.example.com/token\"\n");
    let e = authdesk_core::ConnectorDefinition::from_toml("x.toml", &mixed).unwrap_err();
    assert!(e.to_string().contains("token_url"), "{e}");
    let plain = base.replace("https://p.example.com/rt", "http://p.example.com/rt")
        + "signature_method = \"PLAINTEXT\"\n";
    let e = authdesk_core::ConnectorDefinition::from_toml("x.toml", &plain).unwrap_err();
    assert!(
        e.to_string().contains("request_token_url") && e.to_string().contains("https"),
        "{e}"
    );
    let loopback = plain
        .replace("http://p.example.com/rt", "http://127.0.0.1:9/rt")
        .replace("https://p.example.com/a", "http://localhost/a")
        .replace("https://p.example.com/at", "http://127.0.0.1/at");
    authdesk_core::ConnectorDefinition::from_toml("x.toml", &loopback).unwrap();
    let bad = format!("{base}signature_method = \"HMAC-MD5\"\n");
    let e = authdesk_core::ConnectorDefinition::from_toml("x.toml", &bad).unwrap_err();
    assert!(
        e.to_string().contains("signature_method") || e.to_string().contains("HMAC-SHA1"),
        "{e}"
    );
}
