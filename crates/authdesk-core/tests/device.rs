//! Device sign-in (RFC 8628) against a real authorization server (oidc-provider's device
//! flow, its `authdesk-device` public client): the user approves at the verification URI
//! while the engine polls; a refusal ends as a refused sign-in; the tokens refresh like any
//! other.

mod support;

use authdesk_core::engine::EngineConfig;
use authdesk_core::{AuthStatus, Error, InstallRequest};
use support::oidc::{approve_device, definition, device_definition, OidcOptions, OidcServer};

fn setup() -> (support::EngineSetup, OidcServer, i64) {
    let server = OidcServer::start(OidcOptions::default());
    let mut config = EngineConfig::default();
    config.http.total_timeout = std::time::Duration::from_secs(5);
    let s = support::engine_setup(config, "Acme");
    let issuer = server.issuer.clone();
    let def = device_definition(&issuer, "device");
    s.desk.add_connector("t", &def, false).unwrap();
    s.desk
        .set_connector_client("device", "authdesk-device", None)
        .unwrap();
    let id = s
        .desk
        .install(
            &s.account,
            "device",
            InstallRequest {
                name: "tv".into(),
                ..Default::default()
            },
        )
        .unwrap()
        .id;
    (s, server, id)
}

#[tokio::test]
async fn the_user_approves_elsewhere_while_the_engine_polls() {
    let (s, server, id) = setup();
    let start = s.engine.begin_device_sign_in(id).await.unwrap();
    assert!(start.verification_uri.ends_with("/device"), "{start:?}");
    assert!(!start.user_code.is_empty());
    let shown = serde_json::to_value(&start).unwrap();
    let keys: Vec<&String> = shown.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "ExpiresIn",
            "UserCode",
            "VerificationUri",
            "VerificationUriComplete"
        ],
        "only what the user needs, never the device code"
    );
    let complete = start.verification_uri_complete.clone().unwrap();
    let (ac, ()) = tokio::join!(s.engine.complete_device_sign_in(&start), async {
        approve_device(&complete, "dora", true).await
    });
    let ac = ac.unwrap();
    assert_eq!(ac.status, AuthStatus::Authenticated);
    let stats = server.stats().await;
    assert_eq!(
        stats["grants"]["urn:ietf:params:oauth:grant-type:device_code"], 1,
        "{stats}"
    );
    // Its tokens refresh like any other's.
    s.engine.refresh_now(id).await.unwrap();
    assert_eq!(server.stats().await["grants"]["refresh_token"], 1);
}

#[tokio::test]
async fn a_refusal_at_the_provider_ends_as_a_refused_sign_in() {
    let (s, server, id) = setup();
    let start = s.engine.begin_device_sign_in(id).await.unwrap();
    let complete = start.verification_uri_complete.clone().unwrap();
    let (result, ()) = tokio::join!(s.engine.complete_device_sign_in(&start), async {
        approve_device(&complete, "dora", false).await
    });
    let e = result.unwrap_err();
    assert!(matches!(e, Error::AuthorizationFailed(_)), "{e:?}");
    assert!(e.to_string().contains("refused"), "{e}");
    // Recorded as a failed sign-in (as a refused browser sign-in is); no token stored.
    let ac = s.desk.get_account_connector(id).unwrap();
    assert!(ac.secrets_set.is_empty(), "{:?}", ac.secrets_set);
    assert_ne!(ac.status, AuthStatus::Authenticated);
    // Not a device connector: said so, nothing asked of the provider.
    let issuer = server.issuer.clone();
    s.desk
        .add_connector(
            "c",
            &definition(&issuer, "code", "authorization_code", ""),
            false,
        )
        .unwrap();
    let other = s
        .desk
        .install(
            &s.account,
            "code",
            InstallRequest {
                name: "x".into(),
                ..Default::default()
            },
        )
        .unwrap()
        .id;
    let e = s.engine.begin_device_sign_in(other).await.unwrap_err();
    assert!(e.to_string().contains("device_authorization_url"), "{e}");
}
