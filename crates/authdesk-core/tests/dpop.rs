//! DPoP (RFC 9449) against a real authorization server that requires server nonces
//! (oidc-provider): tokens bound to the account connector's key, proofs on the token
//! requests and the userinfo call, `use_dpop_nonce` answered once, a proof replayed by hand
//! refused, and one refresh per credential in a storm.

mod support;

use std::sync::Arc;

use authdesk_core::engine::EngineConfig;
use authdesk_core::{AuthStatus, InstallRequest};
use support::oidc::{definition, sign_in, OidcOptions, OidcServer};

const REDIRECT: &str = "https://app.example.com/callback";

async fn signed_in(s: &support::EngineSetup, server: &OidcServer, dpop: &str) -> i64 {
    let issuer = &server.issuer;
    s.desk
        .add_connector(
            "t",
            &definition(
                issuer,
                "bound",
                "authorization_code",
                &format!("dpop = {dpop}"),
            ),
            false,
        )
        .unwrap();
    s.desk
        .set_connector_client(
            "bound",
            "authdesk-web",
            Some(&authdesk_core::Secret::new("authdesk-web-secret")),
        )
        .unwrap();
    let id = s
        .desk
        .install(
            &s.account,
            "bound",
            InstallRequest {
                name: "dpop".into(),
                ..Default::default()
            },
        )
        .unwrap()
        .id;
    let start = s.engine.begin_sign_in(id, REDIRECT).await.unwrap();
    let callback = sign_in(&start.authorization_url, "erin").await;
    s.engine
        .complete_sign_in(&callback, &start.binding)
        .await
        .unwrap();
    id
}

fn setup() -> (support::EngineSetup, OidcServer) {
    let server = OidcServer::start(OidcOptions::default());
    let mut config = EngineConfig::default();
    config.http.total_timeout = std::time::Duration::from_secs(5);
    (support::engine_setup(config, "Acme"), server)
}

#[tokio::test]
async fn tokens_are_bound_to_the_connectors_key_and_every_request_proves_it() {
    let (s, server) = setup();
    let id = signed_in(&s, &server, "true").await;
    let ac = s.desk.get_account_connector(id).unwrap();
    assert_eq!(ac.status, AuthStatus::Authenticated);
    assert_eq!(
        ac.token_type.as_deref(),
        Some("DPoP"),
        "the provider bound the token"
    );

    // The userinfo endpoint takes the DPoP-bound token with a proof (and its nonce).
    let r = s
        .engine
        .call_method(id, "userinfo", &Default::default())
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["sub"], "erin");

    // The same token as a plain Bearer token is refused: it is bound to the key.
    let token = support::oidc::stored(&s.desk, id, "AccessToken");
    let bearer = reqwest::Client::new()
        .get(format!("{}/me", server.issuer))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), 401);

    // A refresh proves the same key and keeps the binding.
    s.engine.refresh_now(id).await.unwrap();
    let r = s
        .engine
        .call_method(id, "userinfo", &Default::default())
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{:?}", r.body);
    let jkt = s.desk.dpop_thumbprint(id).unwrap().expect("a key was made");
    assert_eq!(jkt.len(), 43, "an RFC 7638 SHA-256 thumbprint");
}

#[tokio::test]
async fn a_proof_replayed_by_hand_is_refused() {
    let (s, server) = setup();
    let id = signed_in(&s, &server, "true").await;
    let token = support::oidc::stored(&s.desk, id, "AccessToken");
    // One real call leaves the latest nonce; then a proof made for it is used twice.
    s.engine
        .call_method(id, "userinfo", &Default::default())
        .await
        .unwrap();
    let (pem, jkt) = s.desk.dpop_key(id).unwrap();
    let key = authdesk_core::engine::dpop::DpopKey::from_pem(&pem, jkt).unwrap();
    let url = url::Url::parse(&format!("{}/me", server.issuer)).unwrap();
    let nonce = {
        let r = reqwest::Client::new()
            .get(url.clone())
            .header("Authorization", format!("DPoP {token}"))
            .header(
                "DPoP",
                key.proof(
                    "GET",
                    &url,
                    Some(&authdesk_core::Secret::new(token.clone())),
                    None,
                    chrono::Utc::now(),
                ),
            )
            .send()
            .await
            .unwrap();
        r.headers()
            .get("dpop-nonce")
            .unwrap()
            .to_str()
            .unwrap()
            .to_string()
    };
    let proof = key.proof(
        "GET",
        &url,
        Some(&authdesk_core::Secret::new(token.clone())),
        Some(&nonce),
        chrono::Utc::now(),
    );
    let call = || {
        reqwest::Client::new()
            .get(url.clone())
            .header("Authorization", format!("DPoP {token}"))
            .header("DPoP", proof.clone())
            .send()
    };
    assert_eq!(call().await.unwrap().status(), 200, "the first use is good");
    let again = call().await.unwrap();
    assert_eq!(again.status(), 401, "the replay is refused");
}

#[tokio::test]
async fn a_storm_on_an_expired_dpop_credential_refreshes_once() {
    let (s, server) = setup();
    let id = signed_in(&s, &server, "\"auto\"").await;
    assert_eq!(
        s.desk
            .get_account_connector(id)
            .unwrap()
            .token_type
            .as_deref(),
        Some("DPoP"),
        "auto: the metadata offers ES256"
    );
    support::oidc::expire(&s.desk, id);
    // expire() stores the tokens as an AuthValue: it is DPoP-bound still.
    let engine = Arc::new(s.engine.clone());
    let calls: Vec<_> = (0..20)
        .map(|_| {
            let e = engine.clone();
            tokio::spawn(async move { e.access(id).await.map(|_| ()) })
        })
        .collect();
    for c in calls {
        c.await.unwrap().unwrap();
    }
    let stats = server.stats().await;
    assert_eq!(stats["grants"]["refresh_token"], 1, "{stats}");
}
