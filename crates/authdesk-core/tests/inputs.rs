//! What a form-driven window relies on the core to refuse or keep: a library OAuth app
//! saved again keeps its secret unless told otherwise, property names are the declared
//! ones, time zones are IANA names.

mod support;

use std::sync::Arc;

use authdesk_core::{
    Authdesk, ClientSecretChange, Error, InstallRequest, KeySource, NewAccount, OpenOptions,
    PropertyInput, Secret,
};

fn open() -> (tempfile::TempDir, Authdesk) {
    let dir = tempfile::tempdir().unwrap();
    let desk = Authdesk::open(OpenOptions {
        data_dir: dir.path().join("data"),
        database: support::test_database(),
        key_source: KeySource::File(dir.path().join("vault.key")),
        clock: Arc::new(chrono::Utc::now),
    })
    .unwrap();
    (dir, desk)
}

fn invalid(e: Error) -> String {
    match e {
        Error::InvalidInput(m) => m,
        other => panic!("not InvalidInput: {other:?}"),
    }
}

#[test]
fn saving_the_library_oauth_app_again_keeps_its_secret() {
    let (_dir, desk) = open();
    // Nothing stored yet: keeping is not a way to become public by accident.
    let e = desk
        .update_connector_client("github", "Iv1.first", ClientSecretChange::Keep)
        .unwrap_err();
    assert!(invalid(e).contains("public client"));
    assert!(desk.get_connector("github").unwrap().client_id.is_none());
    desk.update_connector_client(
        "github",
        "Iv1.first",
        ClientSecretChange::Set(&Secret::new("s3cret")),
    )
    .unwrap();
    // Fixing the ClientId with a blank secret field keeps the secret.
    let c = desk
        .update_connector_client("github", "Iv1.fixed", ClientSecretChange::Keep)
        .unwrap();
    assert_eq!(c.client_id.as_deref(), Some("Iv1.fixed"));
    assert!(c.client_secret_set);
    let id = c.id;
    assert_eq!(
        desk.connector_client_secret(id).unwrap().unwrap().expose(),
        "s3cret"
    );
    // Public only when said.
    let c = desk
        .update_connector_client("github", "Iv1.fixed", ClientSecretChange::Public)
        .unwrap();
    assert!(!c.client_secret_set);
}

#[test]
fn only_declared_property_names_are_taken() {
    let (_dir, desk) = open();
    let account = desk
        .create_account(NewAccount {
            name: "Props".into(),
            ..Default::default()
        })
        .unwrap()
        .id;
    let prop = |name: &str, value: &str| PropertyInput {
        name: name.into(),
        value: Secret::new(value),
    };
    // Zendesk declares Subdomain; a case slip is refused with the right spelling.
    let e = desk
        .install(
            &account,
            "zendesk",
            InstallRequest {
                name: "z".into(),
                properties: vec![prop("subdomain", "acme")],
                ..Default::default()
            },
        )
        .unwrap_err();
    let m = invalid(e);
    assert!(m.contains("did you mean `Subdomain`"), "{m}");
    assert!(desk.list_account_connectors(None).unwrap().is_empty());
    let ac = desk
        .install(
            &account,
            "zendesk",
            InstallRequest {
                name: "z".into(),
                properties: vec![prop("Subdomain", "acme")],
                ..Default::default()
            },
        )
        .unwrap();
    let m = invalid(
        desk.set_property(ac.id, "Region", &Secret::new("eu"))
            .unwrap_err(),
    );
    assert!(
        m.contains("no property `Region`") && m.contains("Subdomain") && m.contains("ClientId"),
        "{m}"
    );
    // An OAuth connector takes its own app as properties.
    desk.set_property(ac.id, "ClientId", &Secret::new("per-customer"))
        .unwrap();
    // An API-key connector without declared properties takes none.
    let key = desk
        .install(
            &account,
            "stripe",
            InstallRequest {
                name: "s".into(),
                ..Default::default()
            },
        )
        .unwrap();
    let m = invalid(
        desk.set_property(key.id, "ClientId", &Secret::new("x"))
            .unwrap_err(),
    );
    assert!(m.contains("takes no properties"), "{m}");
}

#[test]
fn time_zones_are_iana_names() {
    let (_dir, desk) = open();
    let e = desk
        .create_account(NewAccount {
            name: "Mars".into(),
            timezone: Some("Mars/Olympus".into()),
            ..Default::default()
        })
        .unwrap_err();
    assert!(invalid(e).contains("IANA"));
    // Any case; stored in the canonical spelling.
    let a = desk
        .create_account(NewAccount {
            name: "London".into(),
            timezone: Some("europe/london".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(a.timezone, "Europe/London");
    assert!(authdesk_core::timezone_names().contains(&"America/New_York"));
    let e = desk
        .update_account(
            &a.id,
            authdesk_core::AccountUpdate {
                timezone: Some("GMT Standard Time".into()),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert!(invalid(e).contains("IANA"));
    assert_eq!(desk.get_account(&a.id).unwrap().timezone, "Europe/London");
}

#[test]
fn an_oauth_connector_from_a_form_loads_like_a_file_and_can_be_renamed() {
    use authdesk_core::definition::form::OAuthConnectorForm;
    use authdesk_core::definition::{ClientAuth, SignInMode};
    let (_dir, desk) = open();
    let form = OAuthConnectorForm {
        id: "acme-crm".into(),
        name: "Acme CRM".into(),
        authorize_url: "https://login.acme.example/oauth/authorize".into(),
        token_url: "https://login.acme.example/oauth/token".into(),
        revoke_url: None,
        api_base_url: Some("https://api.acme.example/v2".into()),
        scopes: "contacts.read, contacts.write offline_access".into(),
        pkce: true,
        client_auth: ClientAuth::Body,
        sign_in: SignInMode::SystemBrowser,
        authorize_params: "access_type=offline\nprompt=consent & audience=https://api.acme.example"
            .into(),
    };
    let c = desk.add_oauth_connector(&form).unwrap();
    assert_eq!((c.slug.as_str(), c.name.as_str()), ("acme-crm", "Acme CRM"));
    let def = &c.definition;
    let authdesk_core::definition::AuthDefinition::Oauth2(o) = &def.auth else {
        panic!("not OAuth")
    };
    assert_eq!(
        o.scopes,
        ["contacts.read", "contacts.write", "offline_access"]
    );
    assert!(o.pkce && o.client_auth == ClientAuth::Body && o.sign_in == SignInMode::SystemBrowser);
    assert_eq!(
        o.authorize_params
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>(),
        [
            "access_type=offline",
            "audience=https://api.acme.example",
            "prompt=consent"
        ]
    );
    // A parameter the flow sets itself, or one without a value, is refused by name.
    for (params, says) in [
        ("state=mine", "authorize_params.state"),
        ("redirect_uri=https://evil.example", "reserved"),
        ("access_type", "has no `=`"),
        ("prompt=a\nprompt=b", "twice"),
    ] {
        let bad = OAuthConnectorForm {
            id: "acme-params".into(),
            authorize_params: params.into(),
            ..form.clone()
        };
        let e = desk.add_oauth_connector(&bad).unwrap_err().to_string();
        assert!(e.contains(says), "{params}: {e}");
    }
    assert!(desk.get_connector("acme-params").is_err());
    // A bad field is named, and nothing is added.
    let bad = OAuthConnectorForm {
        id: "acme-two".into(),
        token_url: "not a url".into(),
        ..form.clone()
    };
    let e = desk.add_oauth_connector(&bad).unwrap_err().to_string();
    assert!(e.contains("token_url"), "{e}");
    assert!(desk.get_connector("acme-two").is_err());
    // Renaming keeps the rest of the file, comments included.
    let renamed = desk.rename_connector("acme-crm", "Acme CRM (EU)").unwrap();
    assert_eq!(renamed.name, "Acme CRM (EU)");
    let text = desk.connector_definition_text("acme-crm").unwrap();
    assert!(text.starts_with("# Made in Authdesk") && text.contains("name = \"Acme CRM (EU)\""));
    assert!(
        desk.rename_connector("github", "Mine").is_err(),
        "built-ins keep their name"
    );
}

#[test]
fn credentials_from_a_form_are_encoded_by_the_app_and_must_match_the_connector() {
    use authdesk_core::CredentialForm;
    let (_dir, desk) = open();
    let account = desk
        .create_account(NewAccount {
            name: "Forms".into(),
            ..Default::default()
        })
        .unwrap()
        .id;
    desk.add_connector(
        "basic.toml",
        "id = \"basic-api\"\nname = \"Basic API\"\nversion = \"1\"\napi_base_url = \"https://api.basic.example\"\n[auth]\ntype = \"basic\"\n",
        false,
    )
    .unwrap();
    let ac = desk
        .install(
            &account,
            "basic-api",
            InstallRequest {
                name: "b".into(),
                ..Default::default()
            },
        )
        .unwrap();
    let e = desk
        .set_credential(
            ac.id,
            CredentialForm::Basic {
                username: "a:b".into(),
                password: Secret::new("pw"),
            },
        )
        .unwrap_err();
    assert!(invalid(e).contains("`:`"));
    let e = desk
        .set_credential(
            ac.id,
            CredentialForm::ApiKey {
                key: Secret::new("k"),
            },
        )
        .unwrap_err();
    assert!(invalid(e).contains("authenticates with Basic, not ApiKey"));
    let done = desk
        .set_credential(
            ac.id,
            CredentialForm::Basic {
                username: "dora".into(),
                password: Secret::new("pässwörd:with colon"),
            },
        )
        .unwrap();
    assert!(done.authenticated);
    assert_eq!(
        desk.credential_secret(ac.id, "BasicCredentials")
            .unwrap()
            .unwrap()
            .expose(),
        "dora:pässwörd:with colon"
    );
    // OAuth tokens as fields; a bad date is named.
    let gh = desk
        .install(
            &account,
            "github",
            InstallRequest {
                name: "g".into(),
                ..Default::default()
            },
        )
        .unwrap();
    let tokens = |expires: &str| CredentialForm::OAuth2 {
        access_token: Some(Secret::new("at")),
        refresh_token: Some(Secret::new("rt")),
        expires: Some(expires.into()),
        refresh_expires: None,
    };
    let e = desk.set_credential(gh.id, tokens("tomorrow")).unwrap_err();
    assert!(e.to_string().contains("Expires"), "{e}");
    let done = desk
        .set_credential(gh.id, tokens("2030-01-01T00:00:00Z"))
        .unwrap();
    assert_eq!(done.secrets_set, ["AccessToken", "RefreshToken"]);
}

#[test]
fn names_cannot_hide_what_they_say() {
    let (_dir, desk) = open();
    // "Acme\u{202E}gnp.exe" displays as "Acmeexe.png".
    for name in [
        "Acme\u{202E}gnp.exe",
        "Ac\u{200B}me",
        "\u{FEFF}Acme",
        "Acme\u{2066}x",
    ] {
        let e = desk
            .create_account(NewAccount {
                name: name.into(),
                ..Default::default()
            })
            .unwrap_err();
        assert!(invalid(e).contains("direction-changing"), "{name:?}");
    }
    assert!(desk.list_accounts().unwrap().is_empty());
    let account = desk
        .create_account(NewAccount {
            name: "کتاب\u{200C}ها 👨\u{200D}👩\u{200D}👧".into(),
            ..Default::default()
        })
        .unwrap();
    let e = desk
        .ensure_account_user(&account.id, "eve\u{202E}")
        .unwrap_err();
    assert!(invalid(e).contains("direction-changing"));
}

#[test]
fn a_blank_secret_is_refused_not_stored() {
    let (_dir, desk) = open();
    let e = desk
        .set_connector_client("github", "Iv1.abc", Some(&Secret::new("   ")))
        .unwrap_err();
    assert!(invalid(e).contains("blank"));
    assert!(!desk.get_connector("github").unwrap().client_secret_set);
    // A connector without OAuth has no OAuth app to set.
    let e = desk
        .set_connector_client("generic-api-key", "Iv1.abc", Some(&Secret::new("s")))
        .unwrap_err();
    assert!(invalid(e).contains("does not use OAuth, so it has no OAuth app"));
}
