//! Pushed authorization requests (RFC 9126) against a real authorization server
//! (oidc-provider, whose `authdesk-par` client requires them): the request is pushed with
//! the client authenticated, the browser gets only `client_id` and `request_uri`, and the
//! sign-in completes; discovery turns `par` on where the metadata requires it.

mod support;

use authdesk_core::definition::AuthDefinition;
use authdesk_core::engine::EngineConfig;
use authdesk_core::{AuthStatus, InstallRequest, Secret};
use support::oidc::{definition, sign_in, OidcOptions, OidcServer};

const REDIRECT: &str = "https://app.example.com/callback";

fn start() -> (support::EngineSetup, OidcServer) {
    let server = OidcServer::start(OidcOptions::default());
    let mut config = EngineConfig::default();
    config.http.total_timeout = std::time::Duration::from_secs(5);
    (support::engine_setup(config, "Acme"), server)
}

#[tokio::test]
async fn a_pushed_request_leaves_the_browser_only_client_id_and_request_uri() {
    let (setup, server) = start();
    let (desk, engine, account) = (&setup.desk, &setup.engine, &setup.account);
    let issuer = server.issuer.clone();
    for (id, par) in [("par-on", "par = true"), ("par-off", "")] {
        let extra = format!("pushed_authorization_request_url = \"{issuer}/request\"\n{par}");
        desk.add_connector(
            "t",
            &definition(&issuer, id, "authorization_code", &extra),
            false,
        )
        .unwrap();
        desk.set_connector_client(
            id,
            "authdesk-par",
            Some(&Secret::new("authdesk-par-secret")),
        )
        .unwrap();
    }
    let install = |connector: &str| {
        desk.install(
            account,
            connector,
            InstallRequest {
                name: "par".into(),
                ..Default::default()
            },
        )
        .unwrap()
        .id
    };

    // Without pushing, this client's authorization request is refused by the provider.
    let off = install("par-off");
    let start = engine.begin_sign_in(off, REDIRECT).await.unwrap();
    let refused = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(&start.authorization_url)
        .send()
        .await
        .unwrap();
    let location = refused
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = refused.text().await.unwrap_or_default();
    assert!(
        location.contains("error=invalid_request") || body.contains("invalid_request"),
        "the provider should require PAR: {location} {body}"
    );

    // Pushed: the browser's URL carries client_id and request_uri only.
    let on = install("par-on");
    let start = engine.begin_sign_in(on, REDIRECT).await.unwrap();
    let url = url::Url::parse(&start.authorization_url).unwrap();
    let names: Vec<String> = url.query_pairs().map(|(k, _)| k.into_owned()).collect();
    assert_eq!(names, ["client_id", "request_uri"], "{url}");
    assert!(url
        .query_pairs()
        .any(|(k, v)| k == "request_uri" && v.starts_with("urn:ietf:params:oauth:request_uri:")));
    let callback = sign_in(&start.authorization_url, "alice").await;
    engine
        .complete_sign_in(&callback, &start.binding)
        .await
        .unwrap();
    assert_eq!(
        desk.get_account_connector(on).unwrap().status,
        AuthStatus::Authenticated
    );

    // A wrong secret: the push is refused, saying so, and nothing is pending in the browser.
    desk.set_connector_client("par-on", "authdesk-par", Some(&Secret::new("wrong")))
        .unwrap();
    let e = engine
        .begin_sign_in(install("par-on"), REDIRECT)
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("refused the pushed authorization request"),
        "{e}"
    );
    assert!(e.to_string().contains("invalid_client"), "{e}");
}

#[tokio::test]
async fn discovery_fills_in_par_the_device_endpoint_and_dpop_from_the_metadata() {
    let (setup, server) = start();
    let found = setup
        .engine
        .discover(&server.issuer, Some("found"), None)
        .await
        .unwrap();
    let AuthDefinition::Oauth2(o) = &found.definition.auth else {
        panic!("not OAuth 2.0")
    };
    // oidc-provider offers PAR without requiring it of every client.
    assert_eq!(
        o.pushed_authorization_request_url.as_deref(),
        Some(format!("{}/request", server.issuer).as_str())
    );
    assert!(!o.par);
    // DPoP where the provider takes ES256 proofs.
    assert_eq!(o.dpop, authdesk_core::definition::DpopSetting::Auto);
    // And the device endpoint, for `connect --device`.
    assert_eq!(
        o.device_authorization_url.as_deref(),
        Some(format!("{}/device/auth", server.issuer).as_str())
    );
    assert!(
        found.toml.contains("pushed_authorization_request_url"),
        "{}",
        found.toml
    );
}
