//! The local API over real HTTP: a server on a free loopback port, a real SQLite data
//! directory (vault key from a key file), and panva's oidc-provider for the browser flow.

#[path = "../../authdesk-core/tests/support/oidc.rs"]
mod oidc;
#[path = "../../authdesk-core/tests/support/webhook_receiver.rs"]
mod webhook_receiver;

use std::collections::HashSet;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use authdesk_api::Server;
use authdesk_core::settings::OriginPurpose;
use authdesk_core::{Authdesk, Engine, EngineConfig, KeySource, OpenOptions, Secret};
use chrono::{Duration, Utc};
use reqwest::header::{HOST, LOCATION, ORIGIN};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const PARTNER: &str = "https://partner.example";

struct Api {
    _dir: tempfile::TempDir,
    desk: Arc<Authdesk>,
    server: Server,
    base: String,
    key: String,
    http: reqwest::Client,
    offset: Arc<AtomicI64>,
    /// Every response body seen, to check that no secret ever came back.
    seen: std::sync::Mutex<String>,
}

impl Api {
    async fn start() -> Api {
        let dir = tempfile::tempdir().unwrap();
        let offset = Arc::new(AtomicI64::new(0));
        let clock_offset = offset.clone();
        let desk = Arc::new(
            Authdesk::open(OpenOptions {
                data_dir: dir.path().join("data"),
                database: None,
                key_source: KeySource::File(dir.path().join("vault.key")),
                clock: Arc::new(move || {
                    Utc::now() + Duration::seconds(clock_offset.load(Ordering::SeqCst))
                }),
            })
            .unwrap(),
        );
        let engine = Arc::new(Engine::new(desk.clone(), EngineConfig::default()).unwrap());
        let server = Server::start(desk.clone(), engine, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let base = format!("http://{}", server.addr);
        let key = desk.api_key().unwrap().expose().to_string();
        desk.allow_origin(OriginPurpose::Target, PARTNER).unwrap();
        // A browser keeps cookies: the browser flow binds a sign-in to the one that started it.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .build()
            .unwrap();
        Api {
            _dir: dir,
            desk,
            server,
            base,
            key,
            http,
            offset,
            seen: Default::default(),
        }
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.key)
    }

    async fn send(&self, r: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let response = r.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        self.seen.lock().unwrap().push_str(&text);
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, body)
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        account: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut r = self.request(method, path);
        if let Some(a) = account {
            r = r.header("X-Cyclr-Account", a);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        self.send(r).await
    }

    async fn account(&self, name: &str) -> String {
        let (status, v) = self
            .call(
                Method::POST,
                "/v1.0/accounts",
                None,
                Some(json!({"Name": name})),
            )
            .await;
        assert_eq!(status, 200, "{v}");
        v["Id"].as_str().unwrap().to_string()
    }

    /// `Authenticated` of account connector `id`, as the API answers it.
    async fn authenticated(&self, account: &str, id: i64) -> bool {
        let path = format!("/v1.0/account/connectors/{id}");
        let (s, ac) = self.call(Method::GET, &path, Some(account), None).await;
        assert_eq!(s, 200, "{ac}");
        ac["Authenticated"].as_bool().unwrap()
    }

    fn seen(&self) -> String {
        self.seen.lock().unwrap().clone()
    }
}

#[tokio::test]
async fn the_api_key_host_and_origin_are_checked() {
    let api = Api::start().await;
    let url = format!("{}/v1.0/accounts", api.base);
    let r = api.http.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().contains_key("www-authenticate"));
    let body: Value = r.json().await.unwrap();
    assert!(body["Message"]
        .as_str()
        .unwrap()
        .contains("authdesk api-key"));
    let r = api
        .http
        .get(&url)
        .bearer_auth("adk_wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        api.http
            .get(&url)
            .bearer_auth(&api.key)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // Rotation takes effect at once (the key is cached only until something is committed).
    let rotated = api.desk.rotate_api_key().unwrap().expose().to_string();
    let status = |key: String| {
        let r = api.http.get(&url).bearer_auth(key).send();
        async move { r.await.unwrap().status() }
    };
    assert_eq!(status(api.key.clone()).await, 401);
    assert_eq!(status(rotated.clone()).await, 200);
    let api = Api {
        key: rotated,
        ..api
    };

    let port = api.server.addr.port();
    for host in [
        "evil.com".to_string(),
        format!("127.0.0.1.evil.com:{port}"),
        format!("evil.com:{port}"),
        "127.0.0.1:1".to_string(),
    ] {
        let r = api
            .http
            .get(&url)
            .bearer_auth(&api.key)
            .header(HOST, &host)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 421, "Host {host}");
        let body: Value = r.json().await.unwrap();
        assert!(
            body["Message"].as_str().unwrap().contains("DNS rebinding"),
            "{body}"
        );
    }
    for host in [format!("localhost:{port}"), format!("127.0.0.1:{port}")] {
        let r = api
            .http
            .get(&url)
            .bearer_auth(&api.key)
            .header(HOST, &host)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "Host {host}");
    }
    // The browser flow is behind the Host check too.
    let r = api
        .http
        .get(format!("{}/connector/callback", api.base))
        .header(HOST, "evil.com")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 421);

    let r = api
        .http
        .get(&url)
        .bearer_auth(&api.key)
        .header(ORIGIN, "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.headers().get("access-control-allow-origin").is_none());
    api.desk
        .allow_origin(OriginPurpose::Cors, "https://dashboard.example")
        .unwrap();
    let r = api
        .http
        .get(&url)
        .bearer_auth(&api.key)
        .header(ORIGIN, "https://dashboard.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://dashboard.example"
    );
    let r = api
        .http
        .request(Method::OPTIONS, &url)
        .header(ORIGIN, "https://dashboard.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert!(r.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .contains("x-cyclr-account"));
}

#[tokio::test]
async fn accounts_crud_and_bad_input_changes_nothing() {
    let api = Api::start().await;
    let id = "8d0f6c8b-3a5e-4c2f-9b1d-2e7f4a6c9d01";
    let (s, v) = api
        .call(
            Method::POST,
            "/v1.0/accounts",
            None,
            Some(json!({"Id": id, "Name": "Acme", "Timezone": "Europe/London"})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (v["Id"].as_str(), v["Timezone"].as_str()),
        (Some(id), Some("Europe/London"))
    );
    let (s, v) = api
        .call(
            Method::POST,
            "/v1.0/accounts",
            None,
            Some(json!({"Id": id, "Name": "Again"})),
        )
        .await;
    assert_eq!(s, 409, "{v}");
    let (s, v) = api
        .call(
            Method::PUT,
            &format!("/v1.0/accounts/{id}"),
            None,
            Some(json!({"Description": "Our biggest"})),
        )
        .await;
    assert_eq!(
        (s, v["Description"].as_str(), v["Name"].as_str()),
        (StatusCode::OK, Some("Our biggest"), Some("Acme"))
    );
    let (s, _) = api
        .call(Method::GET, &format!("/v1.0/accounts/{id}"), None, None)
        .await;
    assert_eq!(s, 200);

    // Malformed JSON, wrong types, unknown fields, wrong content type: 4xx, nothing created.
    let r = api
        .request(Method::POST, "/v1.0/accounts")
        .header("content-type", "application/json")
        .body("{\"Name\": ");
    let (s, v) = api.send(r).await;
    assert_eq!(s, 400);
    assert!(
        v["Message"]
            .as_str()
            .unwrap()
            .contains("malformed JSON at line 1"),
        "{v}"
    );
    let (s, v) = api
        .call(
            Method::POST,
            "/v1.0/accounts",
            None,
            Some(json!({"Name": ["SECRET-NOT-ECHOED"]})),
        )
        .await;
    assert_eq!(s, 400);
    let m = v["Message"].as_str().unwrap();
    assert!(
        m.contains("`Name`") && !m.contains("SECRET-NOT-ECHOED"),
        "{m}"
    );
    let (s, v) = api
        .call(
            Method::POST,
            "/v1.0/accounts",
            None,
            Some(json!({"Name": "x", "Nmae": "y"})),
        )
        .await;
    assert_eq!(s, 400);
    assert!(
        v["Message"]
            .as_str()
            .unwrap()
            .contains("unknown field `Nmae`"),
        "{v}"
    );
    let r = api.request(Method::POST, "/v1.0/accounts").body("Name=x");
    assert_eq!(api.send(r).await.0, 415);
    let (s, v) = api
        .call(Method::GET, "/v1.0/accounts/not-a-guid", None, None)
        .await;
    assert_eq!(s, 400, "{v}");
    let (_, list) = api.call(Method::GET, "/v1.0/accounts", None, None).await;
    assert_eq!(list.as_array().unwrap().len(), 1);

    let (s, _) = api
        .call(Method::DELETE, &format!("/v1.0/accounts/{id}"), None, None)
        .await;
    assert_eq!(s, 204);
    let (s, _) = api
        .call(Method::GET, &format!("/v1.0/accounts/{id}"), None, None)
        .await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn connectors_install_update_and_secrets_never_come_back() {
    let api = Api::start().await;
    let acme = api.account("Acme").await;
    let other = api.account("Other").await;
    let (s, list) = api.call(Method::GET, "/v1.0/connectors", None, None).await;
    assert_eq!(s, 200);
    let github = list
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["Slug"] == "github")
        .unwrap()["Id"]
        .as_i64()
        .unwrap();
    let (s, v) = api
        .call(
            Method::GET,
            &format!("/v1.0/connectors/{github}/methods"),
            None,
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert!(
        v.as_array()
            .unwrap()
            .iter()
            .any(|m| m["MethodUniqueIdentifier"] == "get-authenticated-user"),
        "{v}"
    );
    let (s, v) = api
        .call(
            Method::PUT,
            &format!("/v1.0/connectors/{github}/client"),
            None,
            Some(json!({"ClientId": "lib-id", "ClientSecret": "CANARY-LIB-SECRET"})),
        )
        .await;
    assert_eq!(
        (s, v["ClientSecretSet"].as_bool()),
        (StatusCode::OK, Some(true))
    );

    let install = json!({
        "Name": "Acme GitHub",
        "AuthValue": "{\"AccessToken\":\"CANARY-ACCESS\",\"RefreshToken\":\"CANARY-REFRESH\",\"Expires\":\"2099-10-01T00:00:00Z\"}",
        "Properties": [{"Name": "ClientId", "Value": "ac-id"}, {"Name": "ClientSecret", "Value": "CANARY-AC-SECRET"}]
    });
    let (s, v) = api
        .call(
            Method::POST,
            &format!("/v1.0/connectors/{github}/install"),
            None,
            Some(install.clone()),
        )
        .await;
    assert_eq!(s, 400, "account-scoped: {v}");
    assert!(v["Message"].as_str().unwrap().contains("X-Cyclr-Account"));
    let (s, ac) = api
        .call(
            Method::POST,
            &format!("/v1.0/connectors/{github}/install"),
            Some(&acme),
            Some(install),
        )
        .await;
    assert_eq!(s, 200, "{ac}");
    assert_eq!(
        (ac["Authenticated"].as_bool(), ac["Status"].as_str()),
        (Some(true), Some("Authenticated"))
    );
    assert_eq!(ac["Connector"]["Name"], "GitHub");
    assert_eq!(ac["SecretsSet"], json!(["AccessToken", "RefreshToken"]));
    let id = ac["Id"].as_i64().unwrap();

    let (s, list) = api
        .call(Method::GET, "/v1.0/account/connectors", Some(&acme), None)
        .await;
    assert_eq!((s, list.as_array().unwrap().len()), (StatusCode::OK, 1));
    let (s, _) = api
        .call(
            Method::GET,
            &format!("/v1.0/account/connectors/{id}"),
            Some(&other),
            None,
        )
        .await;
    assert_eq!(s, 404, "another account's connector is not visible");
    let (s, v) = api
        .call(
            Method::POST,
            &format!("/v1.0/account/connectors/{id}/methods/get-authenticated-user"),
            Some(&other),
            Some(json!({})),
        )
        .await;
    assert_eq!(s, 404, "another account's connector cannot be called: {v}");
    let (s, _) = api
        .call(
            Method::GET,
            &format!("/v1.0/account/connectors/{id}"),
            Some("8d0f6c8b-0000-4c2f-9b1d-2e7f4a6c9d01"),
            None,
        )
        .await;
    assert_eq!(s, 404, "unknown account");

    // A bad AuthValue in a PUT changes nothing, not even the properties sent with it.
    let (s, v) = api
        .call(Method::PUT, &format!("/v1.0/account/connectors/{id}"), Some(&acme),
            Some(json!({"AuthValue": "{\"Expires\":\"tomorrow\"}", "Properties": [{"Name": "ClientId", "Value": "eu-app"}]})))
        .await;
    assert_eq!(s, 400);
    assert!(v["Message"].as_str().unwrap().contains("`Expires`"), "{v}");
    let (_, now) = api
        .call(
            Method::GET,
            &format!("/v1.0/account/connectors/{id}"),
            Some(&acme),
            None,
        )
        .await;
    assert!(!now["Properties"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["Value"] == "eu-app"));
    let (s, v) = api
        .call(
            Method::PUT,
            &format!("/v1.0/account/connectors/{id}"),
            Some(&acme),
            Some(
                json!({"AuthValue": "{}", "Properties": [{"Name": "ClientId", "Value": "eu-app"}]}),
            ),
        )
        .await;
    assert_eq!(
        (s, v["Status"].as_str()),
        (StatusCode::OK, Some("NotAuthenticated"))
    );
    assert!(v["Properties"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["Name"] == "ClientId" && p["Value"] == "eu-app"));

    let (s, _) = api
        .call(
            Method::DELETE,
            &format!("/v1.0/account/connectors/{id}"),
            Some(&acme),
            None,
        )
        .await;
    assert_eq!(s, 204);
    let (s, _) = api
        .call(
            Method::GET,
            &format!("/v1.0/account/connectors/{id}"),
            Some(&acme),
            None,
        )
        .await;
    assert_eq!(s, 404);

    let seen = api.seen();
    for canary in [
        "CANARY-LIB-SECRET",
        "CANARY-ACCESS",
        "CANARY-REFRESH",
        "CANARY-AC-SECRET",
    ] {
        assert!(!seen.contains(canary), "{canary} came back in a response");
    }
}

#[tokio::test]
async fn launch_creates_the_account_and_installs_authenticated() {
    let api = Api::start().await;
    let account = "2b7d8e4f-1c3a-4e5b-8f9d-0a1b2c3d4e5f";
    let body = json!({
        "AccountName": "New Customer",
        "PartnerConnector": {"Name": "Stripe", "AuthValue": "sk_test_CANARY", "Properties": []}
    });
    let (s, v) = api
        .call(
            Method::POST,
            &format!("/v1.0/accounts/{account}/launch"),
            None,
            Some(body.clone()),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["Account"]["Name"], "New Customer");
    assert_eq!(v["AccountConnector"]["Authenticated"], true);
    // Again: the account exists, another connector is installed.
    let (s, _) = api
        .call(
            Method::POST,
            &format!("/v1.0/accounts/{account}/launch"),
            None,
            Some(body),
        )
        .await;
    assert_eq!(s, 200);
    let (_, list) = api
        .call(Method::GET, "/v1.0/account/connectors", Some(account), None)
        .await;
    assert_eq!(list.as_array().unwrap().len(), 2);
    let (s, v) = api
        .call(
            Method::POST,
            &format!("/v1.0/accounts/{account}/launch"),
            None,
            Some(json!({"PartnerConnector": {"Name": "No Such Thing", "AuthValue": "x"}})),
        )
        .await;
    assert_eq!(s, 404, "{v}");
    assert!(!api.seen().contains("sk_test_CANARY"));
}

/// An OAuth connector whose provider is never contacted (the tests stop at the redirect).
async fn offline_oauth_connector(api: &Api, account: &str) -> i64 {
    let def = r#"id = "offline-oauth"
name = "Offline OAuth"
version = "1"
[auth]
type = "oauth2"
grant = "authorization_code"
authorize_url = "https://provider.example/authorize"
token_url = "https://provider.example/token"
"#;
    api.desk.add_connector("offline.toml", def, true).unwrap();
    api.desk
        .set_connector_client("offline-oauth", "client", Some(&Secret::new("secret")))
        .unwrap();
    let (s, ac) = api
        .call(
            Method::POST,
            "/v1.0/connectors/offline-oauth/install",
            Some(account),
            Some(json!({"Name": "x"})),
        )
        .await;
    assert_eq!(s, 200, "{ac}");
    ac["Id"].as_i64().unwrap()
}

/// oidc-provider's test connector in the library with its OAuth app, installed in `account`
/// through the API: the account connector's Id.
async fn test_provider_installed(api: &Api, provider: &oidc::OidcServer, account: &str) -> i64 {
    test_provider_with(api, provider, account, "").await
}

/// [`test_provider_installed`] with `extra` TOML appended to its definition.
async fn test_provider_with(
    api: &Api,
    provider: &oidc::OidcServer,
    account: &str,
    extra: &str,
) -> i64 {
    let def = oidc::test_provider_definition(&provider.issuer) + extra;
    api.desk.add_connector("test.toml", &def, false).unwrap();
    api.desk
        .set_connector_client(
            "test-provider",
            "authdesk-native",
            Some(&Secret::new("authdesk-native-secret")),
        )
        .unwrap();
    let (s, ac) = api
        .call(
            Method::POST,
            "/v1.0/connectors/test-provider/install",
            Some(account),
            Some(json!({"Name": "t"})),
        )
        .await;
    assert_eq!(s, 200, "{ac}");
    ac["Id"].as_i64().unwrap()
}

/// An API with the test provider installed in account "Acme" (as a partner would have it).
async fn with_test_provider() -> (oidc::OidcServer, Api, String, i64) {
    let provider = oidc::OidcServer::start(oidc::OidcOptions::default());
    let api = Api::start().await;
    let acme = api.account("Acme").await;
    let id = test_provider_installed(&api, &provider, &acme).await;
    (provider, api, acme, id)
}

/// Starts the browser flow in `api.http` (the starting browser): the provider URL.
async fn start_browser_flow(api: &Api, acme: &str, id: i64, message: Option<&str>) -> String {
    let token = sign_in_token(api, acme).await;
    let r = api
        .http
        .get(connectorauth(api, id, &token, PARTNER, message))
        .send()
        .await
        .unwrap();
    r.headers()[LOCATION].to_str().unwrap().to_string()
}

async fn sign_in_token(api: &Api, account: &str) -> String {
    let (s, v) = api
        .call(
            Method::POST,
            &format!("/v1.0/accounts/{account}/signintoken"),
            None,
            Some(json!({"Username": "example_user"})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let expires = v["ExpiresAtUtc"].as_str().unwrap();
    assert!(
        expires.ends_with('Z') && expires.split('.').nth(1).unwrap().len() == 8,
        "7 digits + Z: {expires}"
    );
    v["Token"].as_str().unwrap().to_string()
}

fn connectorauth(api: &Api, id: i64, token: &str, target: &str, message: Option<&str>) -> String {
    let mut url = url::Url::parse(&format!(
        "{}/connectorauth/updateaccountconnectoroauth",
        api.base
    ))
    .unwrap();
    url.query_pairs_mut()
        .append_pair("id", &id.to_string())
        .append_pair("token", token)
        .append_pair("targetOrigin", target);
    if let Some(m) = message {
        url.query_pairs_mut().append_pair("callbackMessage", m);
    }
    url.to_string()
}

#[tokio::test]
async fn sign_in_tokens_are_single_use_short_lived_and_bound_to_their_account() {
    let api = Api::start().await;
    let acme = api.account("Acme").await;
    let other = api.account("Other").await;
    let id = offline_oauth_connector(&api, &acme).await;
    let target = format!("{PARTNER}/done");

    let (_, users) = (0, api.desk.list_account_users(&acme).unwrap());
    assert!(users.is_empty());
    let token = sign_in_token(&api, &acme).await;
    assert_eq!(
        api.desk.list_account_users(&acme).unwrap()[0].username,
        "example_user"
    );
    assert!(token.len() >= 43, "at least 256 bits");

    // 50 parallel uses: exactly one reaches the provider; the rest go back with an error.
    let url = connectorauth(&api, id, &token, &target, None);
    let uses = (0..50).map(|_| api.http.get(&url).send());
    let responses = futures::future::join_all(uses).await;
    let locations: Vec<String> = responses
        .into_iter()
        .map(|r| r.unwrap().headers()[LOCATION].to_str().unwrap().to_string())
        .collect();
    let to_provider = locations
        .iter()
        .filter(|l| l.starts_with("https://provider.example/authorize"))
        .count();
    assert_eq!(to_provider, 1, "{locations:?}");
    assert!(
        locations
            .iter()
            .filter(|l| l.starts_with(&target) && l.contains("error=access_denied"))
            .count()
            == 49
    );

    // Another account's token.
    let theirs = sign_in_token(&api, &other).await;
    let r = api
        .http
        .get(connectorauth(&api, id, &theirs, &target, None))
        .send()
        .await
        .unwrap();
    let location = r.headers()[LOCATION].to_str().unwrap().to_string();
    assert!(
        location.contains("error=access_denied") && location.contains("another+account"),
        "{location}"
    );

    // Expired after 5 minutes.
    let late = sign_in_token(&api, &acme).await;
    api.offset.store(5 * 60 + 1, Ordering::SeqCst);
    let r = api
        .http
        .get(connectorauth(&api, id, &late, &target, None))
        .send()
        .await
        .unwrap();
    let location = r.headers()[LOCATION].to_str().unwrap().to_string();
    assert!(location.contains("expired"), "{location}");
}

#[tokio::test]
async fn target_origins_that_are_not_allowed_get_nothing() {
    let api = Api::start().await;
    let acme = api.account("Acme").await;
    let id = offline_oauth_connector(&api, &acme).await;
    let token = sign_in_token(&api, &acme).await;
    for bad in [
        "https://evil.example",
        "*",
        "null",
        "javascript:alert(1)",
        "https://partner.example.evil.com",
        "https://partner.example@evil.com",
        "//evil.com",
        "https://partner.example:8443",
        "http://partner.example",
        "",
    ] {
        for message in [None, Some("done")] {
            let r = api
                .http
                .get(connectorauth(&api, id, &token, bad, message))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 400, "{bad:?}");
            assert!(r.headers().get(LOCATION).is_none(), "{bad:?} redirected");
            let body = r.text().await.unwrap();
            assert!(!body.contains("postMessage"), "{bad:?}: {body}");
            assert!(body.contains("targetOrigin"), "{bad:?}: {body}");
        }
    }
    // None of those consumed the token: it still works with an allowed origin.
    let r = api
        .http
        .get(connectorauth(
            &api,
            id,
            &token,
            &format!("{PARTNER}/x?y=1"),
            None,
        ))
        .send()
        .await
        .unwrap();
    assert!(r.headers()[LOCATION]
        .to_str()
        .unwrap()
        .starts_with("https://provider.example/authorize"));
}

#[tokio::test]
async fn the_browser_flow_end_to_end_over_http() {
    let provider = oidc::OidcServer::start(oidc::OidcOptions {
        access_ttl_secs: 3600,
        rotate_refresh: true,
    });
    let api = Api::start().await;
    let acme = api.account("Acme").await;
    let id = test_provider_installed(&api, &provider, &acme).await;
    let hostile = "</script><script>alert(\"x\")</script>'\u{2028}";

    // postMessage mode.
    let token = sign_in_token(&api, &acme).await;
    let r = api
        .http
        .get(connectorauth(
            &api,
            id,
            &token,
            &format!("{PARTNER}/app"),
            Some(hostile),
        ))
        .send()
        .await
        .unwrap();
    let to_provider = r.headers()[LOCATION].to_str().unwrap().to_string();
    assert!(to_provider.starts_with(&provider.issuer), "{to_provider}");
    assert!(to_provider.contains(&format!(
        "redirect_uri=http%3A%2F%2F127.0.0.1%3A{}%2Fconnector%2Fcallback",
        api.server.addr.port()
    )));
    let back = oidc::sign_in(&to_provider, "frank").await;
    let r = api.http.get(&back).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("script-src 'nonce-") && !csp.contains("unsafe-inline'; script"),
        "{csp}"
    );
    assert_eq!(r.headers()["referrer-policy"], "no-referrer");
    let page = r.text().await.unwrap();
    assert!(
        !page.contains("<script>alert"),
        "the message became markup: {page}"
    );
    assert!(
        page.contains("\\u003c/script\\u003e\\u003cscript\\u003ealert"),
        "{page}"
    );
    assert!(
        page.contains(r#""origin":"https://partner.example""#),
        "{page}"
    );
    assert!(
        !page.contains("'*'") && !page.contains("\"*\""),
        "never to *"
    );
    assert_eq!(api.authenticated(&acme, id).await, true);

    // Redirect mode lands on targetOrigin (the full URL), normalised as on failure.
    let token = sign_in_token(&api, &acme).await;
    let r = api
        .http
        .get(connectorauth(
            &api,
            id,
            &token,
            "HTTPS://Partner.Example:443/complete?step=2",
            None,
        ))
        .send()
        .await
        .unwrap();
    let back = oidc::sign_in(r.headers()[LOCATION].to_str().unwrap(), "frank").await;
    let r = api.http.get(&back).send().await.unwrap();
    assert_eq!(
        r.headers()[LOCATION],
        "https://partner.example/complete?step=2"
    );

    // A state that is replayed: redirected back with the error.
    let r = api.http.get(&back).send().await.unwrap();
    let location = r
        .headers()
        .get(LOCATION)
        .map(|l| l.to_str().unwrap().to_string());
    assert!(
        location.is_none(),
        "an unknown state has no targetOrigin to go back to: {location:?}"
    );
    assert_eq!(r.status(), 400);

    // A method call through the API returns the provider's userinfo.
    let (s, v) = api
        .call(
            Method::POST,
            &format!("/v1.0/account/connectors/{id}/methods/userinfo"),
            Some(&acme),
            Some(json!({})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["Status"], 200);
    assert_eq!(v["Body"]["email"], "frank@example.com");
}

/// RFC 9700 §4.7 / §4.2.4: whoever starts a browser flow (a tenant with an account-limited
/// token, say) and hands the provider link to someone else gets nothing: the other browser
/// has no binding cookie, so its consent lands nowhere, no redirect or message goes to the
/// targetOrigin, and the spent state cannot be replayed by the starter either.
#[tokio::test]
async fn a_sign_in_handed_to_another_browser_stores_nothing() {
    let (provider, api, acme, id) = with_test_provider().await;

    let token = sign_in_token(&api, &acme).await;
    let r = api
        .http
        .get(connectorauth(&api, id, &token, PARTNER, Some("done")))
        .send()
        .await
        .unwrap();
    // The binding cookie as the start sets it.
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/connector/callback"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "loopback http: {cookie}");
    let to_provider = r.headers()[LOCATION].to_str().unwrap().to_string();
    // Someone else's browser: its own cookie jar.
    let victim = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap();
    let back = oidc::sign_in(&to_provider, "victim").await;
    let r = victim.get(&back).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.headers().get(LOCATION).is_none());
    let page = r.text().await.unwrap();
    assert!(page.contains("started in another browser"), "{page}");
    assert!(!page.contains("postMessage"), "nothing is posted: {page}");
    // The starter replays the answer with its cookie: the state was spent.
    let r = api.http.get(&back).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(api.authenticated(&acme, id).await, false);
    assert_eq!(
        provider.stats().await["grants"]["authorization_code"]
            .as_u64()
            .unwrap_or(0),
        0
    );

    // In the starter's own browser it works, and the cookie is forgotten afterwards.
    let to_provider = start_browser_flow(&api, &acme, id, None).await;
    let back = oidc::sign_in(&to_provider, "frank").await;
    let r = api.http.get(&back).send().await.unwrap();
    assert_eq!(r.headers()[LOCATION], "https://partner.example/");
    assert!(r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
}

/// An origin removed from the allow-list while a sign-in runs gets nothing at its end.
#[tokio::test]
async fn a_target_origin_removed_meanwhile_gets_nothing() {
    let (_provider, api, acme, id) = with_test_provider().await;
    for message in [None, Some("done")] {
        api.desk
            .allow_origin(OriginPurpose::Target, PARTNER)
            .unwrap();
        let to_provider = start_browser_flow(&api, &acme, id, message).await;
        api.desk
            .disallow_origin(OriginPurpose::Target, PARTNER)
            .unwrap();
        let back = oidc::sign_in(&to_provider, "frank").await;
        let r = api.http.get(&back).send().await.unwrap();
        assert_eq!(r.status(), 403);
        assert!(r.headers().get(LOCATION).is_none());
        let page = r.text().await.unwrap();
        assert!(page.contains("no longer allowed"), "{page}");
        assert!(!page.contains("postMessage"), "{page}");
    }
}

#[tokio::test]
async fn the_target_origin_allow_list_is_settable_through_the_api() {
    let api = Api::start().await;
    let (s, v) = api
        .call(Method::GET, "/v1.0/settings/target-origins", None, None)
        .await;
    assert_eq!(
        (s, v["Origins"].clone()),
        (StatusCode::OK, json!([PARTNER]))
    );
    let (s, v) = api
        .call(
            Method::PUT,
            "/v1.0/settings/target-origins",
            None,
            Some(json!({"Origins": ["https://a.example/path", "http://127.0.0.1:5173"]})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v["Origins"],
        json!(["http://127.0.0.1:5173", "https://a.example"])
    );
    // One bad entry: nothing changes.
    let (s, v) = api
        .call(
            Method::PUT,
            "/v1.0/settings/target-origins",
            None,
            Some(json!({"Origins": ["https://b.example", "*"]})),
        )
        .await;
    assert_eq!(s, 400, "{v}");
    let (_, v) = api
        .call(Method::GET, "/v1.0/settings/target-origins", None, None)
        .await;
    assert_eq!(
        v["Origins"],
        json!(["http://127.0.0.1:5173", "https://a.example"])
    );

    // A refused sign-in token only answers: nothing is written for the account connector
    // (status, LastError, history) by someone who cannot present a valid token for it.
    let acme = api.account("Acme").await;
    let other = api.account("Other").await;
    let id = offline_oauth_connector(&api, &acme).await;
    let path = format!("/v1.0/account/connectors/{id}");
    let get = || api.call(Method::GET, &path, Some(&acme), None);
    let (_, before) = get().await;
    let history_before = api.desk.credential_events(id, 100).unwrap().len();
    let other_token = api
        .desk
        .create_sign_in_token(&other, "mallory")
        .unwrap()
        .token
        .expose()
        .to_string();
    for (token, target) in [
        ("forged-token", "https://a.example/"),
        (other_token.as_str(), "https://a.example/"),
        ("", "https://a.example/"),
    ] {
        let r = api
            .http
            .get(connectorauth(&api, id, token, target, None))
            .send()
            .await
            .unwrap();
        let location = r.headers()[LOCATION].to_str().unwrap().to_string();
        assert!(
            location.starts_with("https://a.example/?error="),
            "{token:?}: {location}"
        );
    }
    // With a callbackMessage (postMessage mode) the refusal is a page; still no write.
    let r = api
        .http
        .get(connectorauth(
            &api,
            id,
            "forged",
            "https://a.example/",
            Some("done"),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let (_, after) = get().await;
    assert_eq!(
        before, after,
        "a refused sign-in changed the account connector"
    );
    assert_eq!(
        api.desk.credential_events(id, 100).unwrap().len(),
        history_before,
        "a refused sign-in added history"
    );
}

/// The document lists every endpoint, and is what tests/openapi.json records, byte for
/// byte: a refactor changes nothing a client generated from it sees. A change on purpose
/// rewrites the record (`AUTHDESK_UPDATE_OPENAPI=1 cargo test -p authdesk-api --test api
/// openapi`), and the diff is reviewed with the change.
#[tokio::test]
async fn the_openapi_document_lists_every_endpoint_as_recorded() {
    let api = Api::start().await;
    let served = api
        .http
        .get(format!("{}/openapi.json", api.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/openapi.json");
    if std::env::var_os("AUTHDESK_UPDATE_OPENAPI").is_some() {
        std::fs::write(path, &served).unwrap();
    }
    let recorded = std::fs::read_to_string(path).unwrap();
    assert!(
        served == recorded,
        "/openapi.json is not what {path} records (first difference at byte {}); if the \
         change is intended, rewrite the record with AUTHDESK_UPDATE_OPENAPI=1",
        served
            .bytes()
            .zip(recorded.bytes())
            .position(|(a, b)| a != b)
            .unwrap_or(served.len().min(recorded.len()))
    );
    let doc: Value = serde_json::from_str(&served).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths: HashSet<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for p in [
        "/v1.0/accounts",
        "/v1.0/accounts/{account_id}",
        "/v1.0/accounts/{account_id}/signintoken",
        "/v1.0/accounts/{account_id}/launch",
        "/v1.0/connectors/{connector_id}/install",
        "/v1.0/account/connectors/{id}",
        "/v1.0/account/connectors/{id}/methods/{method}",
        "/v1.0/account/connectors/{id}/properties",
        "/v1.0/connectors/{connector}/methods",
        "/v1.0/connectors/{connector}/{version}/methods",
        "/oauth/token",
    ] {
        assert!(paths.contains(p), "{p} missing from {paths:?}");
    }
    // Cyclr's "authenticate link" page sends the sign-in token request without a body.
    let body = &doc["paths"]["/v1.0/accounts/{account_id}/signintoken"]["post"]["requestBody"];
    assert_ne!(body["required"], true, "{body}");
}

#[tokio::test]
async fn property_values_cannot_steer_requests_to_other_hosts() {
    let api = Api::start().await;
    let acme = api.account("Acme").await;
    for (connector, name, bad) in [
        ("shopify", "ShopDomain", "evil.example/steal#"),
        ("shopify", "ShopDomain", "a@evil.example"),
        ("zendesk", "Subdomain", "evil.example#"),
        ("zendesk", "Subdomain", "127.0.0.1:1"),
    ] {
        let (status, body) = api
            .call(
                Method::POST,
                &format!("/v1.0/connectors/{connector}/install"),
                Some(&acme),
                Some(json!({"Name": "x", "Properties": [{"Name": name, "Value": bad}]})),
            )
            .await;
        assert_eq!(status, 400, "{connector} {bad}: {body}");
        let msg = body["Message"].as_str().unwrap();
        assert!(msg.contains(name) && msg.contains("e.g."), "{msg}");
        assert!(!msg.contains(bad), "the value is echoed: {msg}");
    }
    let (status, ac) = api
        .call(
            Method::POST,
            "/v1.0/connectors/zendesk/install",
            Some(&acme),
            Some(json!({"Name": "x", "Properties": [{"Name": "Subdomain", "Value": "acme"}]})),
        )
        .await;
    assert_eq!(status, 200, "{ac}");
    let id = ac["Id"].as_i64().unwrap();
    let (status, body) = api
        .call(
            Method::PUT,
            &format!("/v1.0/account/connectors/{id}"),
            Some(&acme),
            Some(json!({"Properties": [{"Name": "Subdomain", "Value": "evil.example/x#"}]})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let (_, after) = api
        .call(
            Method::GET,
            &format!("/v1.0/account/connectors/{id}"),
            Some(&acme),
            None,
        )
        .await;
    assert_eq!(after["Properties"], ac["Properties"]);
}

#[tokio::test]
async fn partner_code_authenticates_with_client_credentials_as_cyclr_documents() {
    let api = Api::start().await;
    let acme = api.account("Acme").await;
    let other = api.account("Other").await;
    let client = api.desk.create_api_client("Partner backend").unwrap();
    let (id, secret) = (
        client.client.client_id.clone(),
        client.client_secret.expose().to_string(),
    );
    let token_url = format!("{}/oauth/token", api.base);
    let form = |extra: &[(&'static str, &str)]| -> Vec<(&'static str, String)> {
        let mut f = vec![
            ("grant_type", "client_credentials".to_string()),
            ("client_id", id.clone()),
            ("client_secret", secret.clone()),
        ];
        f.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
        f
    };

    // Cyclr's answer, exactly: token_type, access_token, expires_in (14 days), clientId.
    let r = api
        .http
        .post(&token_url)
        .form(&form(&[]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let t: Value = r.json().await.unwrap();
    let keys: HashSet<&str> = t.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        HashSet::from(["token_type", "access_token", "expires_in", "clientId"])
    );
    assert_eq!(t["token_type"], "bearer");
    assert_eq!(t["expires_in"], 1209599);
    assert_eq!(t["clientId"], id.as_str());
    let token = t["access_token"].as_str().unwrap().to_string();
    let with = |token: &str, method: Method, path: &str, account: Option<&str>| {
        let mut r = api
            .http
            .request(method, format!("{}{path}", api.base))
            .bearer_auth(token);
        if let Some(a) = account {
            r = r.header("X-Cyclr-Account", a);
        }
        r
    };
    let r = with(&token, Method::GET, "/v1.0/accounts", None)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // The client as HTTP Basic works too; both at once, a wrong secret, another grant do not.
    let r = api
        .http
        .post(&token_url)
        .basic_auth(&id, Some(&secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = api
        .http
        .post(&token_url)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", id.as_str()),
            ("client_secret", "wrong-secret-canary"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let body = r.text().await.unwrap();
    assert!(
        body.contains("invalid_client") && !body.contains("canary"),
        "{body}"
    );
    let r = api
        .http
        .post(&token_url)
        .form(&[("grant_type", "password"), ("client_id", id.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("unsupported_grant_type"));
    let r = api
        .http
        .post(&token_url)
        .form(&form(&[("scope", "account:not-a-guid")]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("invalid_scope"));

    // scope=account:{Id}: that account only.
    let r = api
        .http
        .post(&token_url)
        .form(&form(&[("scope", &format!("account:{acme}"))]))
        .send()
        .await
        .unwrap();
    let scoped = r.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    for (method, path, account, expected) in [
        (
            Method::GET,
            "/v1.0/account/connectors".to_string(),
            Some(acme.as_str()),
            200,
        ),
        (
            Method::GET,
            "/v1.0/account/connectors".to_string(),
            Some(other.as_str()),
            403,
        ),
        (Method::GET, format!("/v1.0/accounts/{acme}"), None, 200),
        (Method::GET, format!("/v1.0/accounts/{other}"), None, 403),
        (Method::GET, "/v1.0/accounts".to_string(), None, 403),
        (Method::GET, "/v1.0/connectors".to_string(), None, 200),
        (
            Method::GET,
            "/v1.0/settings/target-origins".to_string(),
            None,
            403,
        ),
    ] {
        let r = with(&scoped, method.clone(), &path, account)
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status().as_u16(),
            expected,
            "{method} {path} as {account:?}"
        );
    }

    // Tokens are kept only as hashes; revoking the client ends them at once.
    let db = std::fs::read(api.desk.data_dir().join("authdesk.db")).unwrap();
    for t in [&token, &scoped, &secret] {
        assert!(
            !db.windows(t.len()).any(|w| w == t.as_bytes()),
            "stored in plaintext"
        );
    }
    api.desk.revoke_api_client(&id).unwrap();
    let r = with(&token, Method::GET, "/v1.0/accounts", None)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = api
        .http
        .post(&token_url)
        .form(&form(&[]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // The static API key keeps working (Authdesk's own addition, for scripts).
    let (s, _) = api.call(Method::GET, "/v1.0/accounts", None, None).await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn sign_ins_that_need_no_user_return_at_once_and_failures_still_post_the_message() {
    // Cyclr's SugarCRM page: with the grant's properties set, "your end-user will simply be
    // redirected back". Here: client credentials at oidc-provider.
    let provider = oidc::OidcServer::start(oidc::OidcOptions::default());
    let api = Api::start().await;
    let acme = api.account("Acme").await;
    let issuer = &provider.issuer;
    let def = format!(
        "id = \"oidc-cc\"\nname = \"Client credentials\"\nversion = \"1\"\napi_base_url = \"{issuer}\"\n\
         [auth]\ntype = \"oauth2\"\ngrant = \"client_credentials\"\ntoken_url = \"{issuer}/token\"\n\
         scopes = [\"api:read\"]\n"
    );
    api.desk.add_connector("cc.toml", &def, false).unwrap();
    api.desk
        .set_connector_client(
            "oidc-cc",
            "authdesk-web",
            Some(&Secret::new("authdesk-web-secret")),
        )
        .unwrap();
    let (s, ac) = api
        .call(
            Method::POST,
            "/v1.0/connectors/oidc-cc/install",
            Some(&acme),
            Some(json!({"Name": "cc"})),
        )
        .await;
    assert_eq!(s, 200, "{ac}");
    let id = ac["Id"].as_i64().unwrap();
    let path = format!("/v1.0/account/connectors/{id}");
    let target = format!("{PARTNER}/done");
    // GET, and POST as Cyclr's API example sends it, in Cyclr's spelling of the path.
    for (method, spelling) in [
        (Method::GET, "/connectorauth/updateaccountconnectoroauth"),
        (Method::POST, "/ConnectorAuth/UpdateAccountConnectorOAuth"),
    ] {
        let token = sign_in_token(&api, &acme).await;
        let url = connectorauth(&api, id, &token, &target, None)
            .replace("/connectorauth/updateaccountconnectoroauth", spelling);
        let r = api.http.request(method.clone(), url).send().await.unwrap();
        assert_eq!(
            r.headers().get(LOCATION).map(|l| l.to_str().unwrap()),
            Some(target.as_str()),
            "{method} {spelling}: {}",
            r.status()
        );
        let (_, v) = api.call(Method::GET, &path, Some(&acme), None).await;
        assert_eq!(v["Authenticated"], true, "{v}");
    }
    // A failure in postMessage mode still posts callbackMessage (the opener must not wait
    // forever) and says what went wrong; the same for a refused token.
    api.desk
        .set_connector_client(
            "oidc-cc",
            "authdesk-web",
            Some(&Secret::new("wrong-secret")),
        )
        .unwrap();
    let token = sign_in_token(&api, &acme).await;
    for (token, status) in [(token.as_str(), 502), ("forged", 403)] {
        let r = api
            .http
            .get(connectorauth(&api, id, token, &target, Some("done")))
            .send()
            .await
            .unwrap();
        let got = r.status();
        let page = r.text().await.unwrap();
        assert_eq!(got, status, "{page}");
        assert!(page.contains(r#""message":"done""#), "{page}");
        assert!(
            page.contains(r#""origin":"https://partner.example""#),
            "{page}"
        );
        assert!(page.contains("did not complete"), "{page}");
        assert!(!page.contains("wrong-secret"), "{page}");
    }
    // A link that is not well formed gets a page that says so (not plain text).
    let r = api
        .http
        .get(format!(
            "{}/connectorauth/updateaccountconnectoroauth?id=1&id=2&token=t&targetOrigin={PARTNER}",
            api.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(r.text().await.unwrap().contains("malformed"));
}

#[tokio::test]
async fn an_absolute_target_or_a_second_host_header_cannot_slip_past_the_host_check() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let api = Api::start().await;
    let addr = api.server.addr;
    let raw = |head: String| async move {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream.write_all(head.as_bytes()).await.unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        answer
    };
    let key = &api.key;
    let ours = format!("127.0.0.1:{}", addr.port());
    // The baseline: the same request in origin form is answered.
    let ok = raw(format!(
        "GET /v1.0/accounts HTTP/1.1\r\nHost: {ours}\r\nAuthorization: Bearer {key}\r\nConnection: close\r\n\r\n"
    ))
    .await;
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    for head in [
        format!("GET http://evil.example/v1.0/accounts HTTP/1.1\r\nHost: {ours}\r\nAuthorization: Bearer {key}\r\nConnection: close\r\n\r\n"),
        format!("GET /v1.0/accounts HTTP/1.1\r\nHost: {ours}\r\nHost: evil.example\r\nAuthorization: Bearer {key}\r\nConnection: close\r\n\r\n"),
    ] {
        let answer = raw(head.clone()).await;
        assert!(answer.starts_with("HTTP/1.1 400"), "{head:?}: {answer}");
        assert!(!answer.contains("\"Id\""), "{answer}");
    }
}

#[tokio::test]
async fn a_provider_gone_at_the_code_exchange_is_temporarily_unavailable_not_a_refusal() {
    let (provider, api, acme, id) = with_test_provider().await;
    let token = sign_in_token(&api, &acme).await;
    let target = format!("{PARTNER}/done");
    let r = api
        .http
        .get(connectorauth(&api, id, &token, &target, None))
        .send()
        .await
        .unwrap();
    let back = oidc::sign_in(r.headers()[LOCATION].to_str().unwrap(), "frank").await;
    drop(provider); // gone before the code is exchanged
    let r = api.http.get(&back).send().await.unwrap();
    let location = r.headers()[LOCATION].to_str().unwrap();
    assert!(
        location.starts_with(&format!("{target}?error=temporarily_unavailable")),
        "{location}"
    );
}

#[tokio::test]
async fn switching_the_way_to_authenticate_over_the_api_revokes_the_old_tokens() {
    let provider = oidc::OidcServer::start(oidc::OidcOptions::default());
    let api = Api::start().await;
    let acme = api.account("Acme").await;
    // The test provider with a second way in: an API key.
    let id = test_provider_with(&api, &provider, &acme, oidc::API_TOKEN_WAY).await;
    let engine = &api.server.state.engine;
    let start = engine
        .begin_sign_in(id, "http://127.0.0.1:9/callback")
        .await
        .unwrap();
    let callback = oidc::sign_in(&start.authorization_url, "frank").await;
    engine
        .complete_sign_in(&callback, &start.binding)
        .await
        .unwrap();
    let refresh = api
        .desk
        .credential_secret(id, "RefreshToken")
        .unwrap()
        .unwrap();

    let (s, v) = api
        .call(
            Method::PUT,
            &format!("/v1.0/account/connectors/{id}"),
            Some(&acme),
            Some(json!({"AuthenticationId": "api-token"})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["Authentication"]["AuthName"], "API token", "{v}");
    // The refresh token the old way held no longer works at the provider.
    let status = provider
        .refresh_status(
            ("authdesk-native", "authdesk-native-secret"),
            refresh.expose(),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(provider.stats().await["revocations"], 2);
}

#[tokio::test]
async fn an_apps_private_key_is_set_or_generated_and_only_its_public_jwk_comes_back() {
    let api = Api::start().await;
    let def = r#"id = "signed-app"
name = "Signed app"
version = "1"
[auth]
type = "oauth2"
grant = "client_credentials"
token_url = "https://provider.example/token"
client_auth = "private_key_jwt"
"#;
    api.desk.add_connector("signed.toml", def, false).unwrap();
    let put = |body: Value| {
        api.call(
            Method::PUT,
            "/v1.0/connectors/signed-app/client",
            None,
            Some(body),
        )
    };

    let (s, v) = put(json!({"ClientId": "app", "GenerateKey": true})).await;
    assert_eq!(s, 200, "{v}");
    let jwk = v["PublicJwk"].clone();
    assert_eq!(jwk["kty"], "EC", "{v}");
    assert!(jwk.get("d").is_none(), "{v}");
    // Saving the ClientId again keeps the key (no ClientSecret needed).
    let (s, v) = put(json!({"ClientId": "app-2"})).await;
    assert_eq!((s, &v["PublicJwk"]), (StatusCode::OK, &jwk), "{v}");

    // Not a private key: 400 naming it, nothing changed.
    let (s, v) = put(json!({"ClientId": "app-3", "PrivateKey": "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n"})).await;
    assert_eq!(s, 400, "{v}");
    assert!(
        v["Message"]
            .as_str()
            .unwrap()
            .contains("the private key is a public key"),
        "{v}"
    );
    let (s, v) = put(json!({"ClientId": "app", "GenerateKey": true, "ClientSecret": "x"})).await;
    assert_eq!(s, 400, "{v}");
    let (_, v) = api
        .call(Method::GET, "/v1.0/connectors/signed-app", None, None)
        .await;
    assert_eq!(
        (&v["ClientId"], &v["PublicJwk"]),
        (&json!("app-2"), &jwk),
        "{v}"
    );

    // Imported: that key's JWK.
    let pem = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../authdesk-core/tests/fixtures/test-only-rsa-2048.pem"
    ))
    .unwrap();
    let (s, v) = put(json!({"ClientId": "app", "PrivateKey": pem})).await;
    assert_eq!(
        (s, v["PublicJwk"]["kty"].as_str()),
        (StatusCode::OK, Some("RSA")),
        "{v}"
    );
    let body = pem.lines().nth(1).unwrap();
    assert!(!api.seen().contains(body), "a key came back");
}

#[tokio::test]
async fn device_sign_in_through_the_api_returns_the_code_and_signs_in_when_approved() {
    let provider = oidc::OidcServer::start(oidc::OidcOptions::default());
    let api = Api::start().await;
    let acme = api.account("Acme").await;
    let issuer = &provider.issuer;
    let def = oidc::device_definition(issuer, "device");
    api.desk.add_connector("device.toml", &def, false).unwrap();
    api.desk
        .set_connector_client("device", "authdesk-device", None)
        .unwrap();
    let (s, ac) = api
        .call(
            Method::POST,
            "/v1.0/connectors/device/install",
            Some(&acme),
            Some(json!({"Name": "tv"})),
        )
        .await;
    assert_eq!(s, 200, "{ac}");
    let id = ac["Id"].as_i64().unwrap();
    // Another account's caller gets nothing.
    let other = api.account("Other").await;
    let (s, _) = api
        .call(
            Method::POST,
            &format!("/v1.0/account/connectors/{id}/device"),
            Some(&other),
            None,
        )
        .await;
    assert_eq!(s, 404);

    let (s, code) = api
        .call(
            Method::POST,
            &format!("/v1.0/account/connectors/{id}/device"),
            Some(&acme),
            None,
        )
        .await;
    assert_eq!(s, 200, "{code}");
    let keys: Vec<&String> = code.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "ExpiresIn",
            "UserCode",
            "VerificationUri",
            "VerificationUriComplete"
        ]
    );
    oidc::approve_device(
        code["VerificationUriComplete"].as_str().unwrap(),
        "dora",
        true,
    )
    .await;
    // The server polls (every 5 s, as the provider asks): the status turns Authenticated.
    let mut status = Value::Null;
    for _ in 0..30 {
        let (_, ac) = api
            .call(
                Method::GET,
                &format!("/v1.0/account/connectors/{id}"),
                Some(&acme),
                None,
            )
            .await;
        status = ac["Status"].clone();
        if status == "Authenticated" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    assert_eq!(status, "Authenticated");
}

#[tokio::test]
async fn check_answers_the_verdict_of_the_connectors_check_request() {
    let provider = oidc::OidcServer::start(oidc::OidcOptions::default());
    let api = Api::start().await;
    let acme = api.account("Acme").await;
    // A connector that names no check: a 400 that says how to add one.
    let id = offline_oauth_connector(&api, &acme).await;
    let (s, v) = api
        .call(
            Method::POST,
            &format!("/v1.0/account/connectors/{id}/check"),
            Some(&acme),
            None,
        )
        .await;
    assert_eq!(s, 400, "{v}");
    assert!(v["Message"].as_str().unwrap().contains("[check]"), "{v}");
    // With a check on userinfo and a token the provider never issued: invalid, 401.
    let checked = test_provider_with(&api, &provider, &acme, "\n[check]\npath = \"/me\"\n").await;
    let (s, put) = api
        .call(Method::PUT, &format!("/v1.0/account/connectors/{checked}"), Some(&acme),
            Some(json!({"AuthValue": "{\"AccessToken\":\"forged\",\"Expires\":\"2099-01-01T00:00:00Z\"}"})))
        .await;
    assert_eq!(s, 200);
    // Checked at once when set.
    assert!(put["LastCheckedAt"].is_string(), "{put}");
    let (s, v) = api
        .call(
            Method::POST,
            &format!("/v1.0/account/connectors/{checked}/check"),
            Some(&acme),
            None,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (v["Valid"].as_bool(), v["Status"].as_u64()),
        (Some(false), Some(401)),
        "{v}"
    );
}

/// A generic connector (`generic-api-key`, `generic-basic`) installed with no credential,
/// its host set: the account connector's Id.
fn generic_install(api: &Api, account: &str, connector: &str, name: &str) -> i64 {
    api.desk
        .install(
            account,
            connector,
            authdesk_core::InstallRequest {
                name: name.into(),
                properties: vec![authdesk_core::PropertyInput {
                    name: "ApiHost".into(),
                    value: Secret::new("api.example.com"),
                }],
                ..Default::default()
            },
        )
        .unwrap()
        .id
}

/// The CSRF value of a setup page's form.
fn csrf_of(page: &str) -> String {
    let at = page.find("name=csrf value=\"").expect("a csrf field") + "name=csrf value=\"".len();
    page[at..].split('"').next().unwrap().to_string()
}

#[tokio::test]
async fn a_setup_link_survives_prefetches_and_is_used_once_by_the_browser_that_was_shown_it() {
    let api = Api::start().await;
    let acme = api.account("Acme Links").await;
    let id = generic_install(&api, &acme, "generic-api-key", "Keyed");
    let links = format!("/v1.0/account/connectors/{id}/links");
    let (s, v) = api
        .call(
            Method::POST,
            &links,
            Some(&acme),
            Some(json!({"ExpiresInSeconds": 10})),
        )
        .await;
    assert_eq!(s, 400, "{v}");
    let (s, link) = api
        .call(
            Method::POST,
            &links,
            Some(&acme),
            Some(json!({"ExpiresInSeconds": 600})),
        )
        .await;
    assert_eq!(s, 200, "{link}");
    let url = link["Url"].as_str().unwrap().to_string();
    assert!(
        url.starts_with(&format!("{}/setup/stl_", api.base)),
        "{url}"
    );
    assert!(link["ExpiresAtUtc"].is_string());

    // Link previews and mail scanners: GETs (and a POST without the page's cookie) spend nothing.
    let scanner = reqwest::Client::new();
    let mut shown = String::new();
    for _ in 0..3 {
        let r = scanner.get(&url).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["x-robots-tag"], "noindex");
        assert!(r.headers()[reqwest::header::CACHE_CONTROL]
            .to_str()
            .unwrap()
            .contains("no-store"));
        shown = r.text().await.unwrap();
        assert!(
            shown.contains("Acme Links") && shown.contains("Generic API Key"),
            "{shown}"
        );
    }
    let scraped = csrf_of(&shown);
    let r = scanner
        .post(&url)
        .form(&[("csrf", scraped.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        403,
        "a press without the page's cookie is refused"
    );

    // The customer's browser: the page, the button, the form, the values.
    let page = api
        .http
        .get(&url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = csrf_of(&page);
    let form = api
        .http
        .post(&url)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 200);
    let form = form.text().await.unwrap();
    assert!(
        form.contains("name=\"api_key\"") && form.contains("type=password"),
        "{form}"
    );
    let key = "the-customers-key-5f4e3d";
    let done = api
        .http
        .post(format!("{url}/credentials"))
        .form(&[("csrf", csrf.as_str()), ("api_key", key)])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    let done = done.text().await.unwrap();
    assert!(done.contains("Connected") && !done.contains(key), "{done}");
    assert_eq!(
        api.desk
            .credential_secret(id, "ApiKey")
            .unwrap()
            .unwrap()
            .expose(),
        key
    );
    // Once only: the same form again, and the link itself, answer 410.
    let again = api
        .http
        .post(format!("{url}/credentials"))
        .form(&[("csrf", csrf.as_str()), ("api_key", "another-key-999999")])
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 410);
    assert!(again
        .text()
        .await
        .unwrap()
        .contains("Ask whoever sent it for a new link"));
    assert_eq!(scanner.get(&url).send().await.unwrap().status(), 410);
    assert_eq!(
        api.desk
            .credential_secret(id, "ApiKey")
            .unwrap()
            .unwrap()
            .expose(),
        key
    );
    let (_, listed) = api.call(Method::GET, &links, Some(&acme), None).await;
    assert_eq!(listed[0]["Status"], "used", "{listed}");

    // A revoked link opens nothing.
    let (_, second) = api.call(Method::POST, &links, Some(&acme), None).await;
    let revoke = format!("{links}/{}", second["Id"].as_str().unwrap());
    let (s, revoked) = api.call(Method::DELETE, &revoke, Some(&acme), None).await;
    assert_eq!(
        (s, revoked["Status"].as_str()),
        (StatusCode::OK, Some("revoked")),
        "{revoked}"
    );
    let url2 = second["Url"].as_str().unwrap();
    assert_eq!(scanner.get(url2).send().await.unwrap().status(), 410);
    // Another account cannot make or see links of this one.
    let other = api.account("Other").await;
    let (s, _) = api.call(Method::POST, &links, Some(&other), None).await;
    assert_eq!(s, 404);
    assert!(!api.seen().contains(key));
}

#[tokio::test]
async fn the_button_of_an_oauth_setup_link_spends_it_and_starts_the_sign_in() {
    let api = Api::start().await;
    let acme = api.account("Acme OAuth link").await;
    let id = offline_oauth_connector(&api, &acme).await;
    let (_, link) = api
        .call(
            Method::POST,
            &format!("/v1.0/account/connectors/{id}/links"),
            Some(&acme),
            None,
        )
        .await;
    let url = link["Url"].as_str().unwrap();
    let page = api
        .http
        .get(url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let r = api
        .http
        .post(url)
        .form(&[("csrf", csrf_of(&page).as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let to = r.headers()[LOCATION].to_str().unwrap();
    assert!(
        to.starts_with("https://provider.example/authorize?"),
        "{to}"
    );
    assert!(r.headers()[reqwest::header::SET_COOKIE]
        .to_str()
        .unwrap()
        .contains("authdesk_signin_"));
    assert_eq!(
        api.http.get(url).send().await.unwrap().status(),
        410,
        "spent by the button"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_added_listed_and_removed_through_the_api_and_deliver_signed_events() {
    let api = Api::start().await;
    let receiver = webhook_receiver::Receiver::start();
    // An http URL that is not loopback, and a loopback one without AllowLoopback: refused.
    for (body, says) in [
        (json!({"Url": "http://hooks.example/in"}), "must be https"),
        (json!({"Url": receiver.url()}), "AllowLoopback"),
        (
            json!({"Url": receiver.url(), "AllowLoopback": true, "Events": ["nope"]}),
            "there is no webhook event",
        ),
    ] {
        let (s, v) = api
            .call(Method::POST, "/v1.0/webhooks", None, Some(body))
            .await;
        assert_eq!(s, 400, "{v}");
        assert!(v["Message"].as_str().unwrap().contains(says), "{v}");
    }
    let (s, made) = api
        .call(
            Method::POST,
            "/v1.0/webhooks",
            None,
            Some(json!({"Url": receiver.url(), "AllowLoopback": true,
                        "Events": ["account_connector.authenticated", "account_connector.deleted"]})),
        )
        .await;
    assert_eq!(s, 200, "{made}");
    let secret = made["Secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));
    receiver.set_secret(&secret);
    let id = made["Id"].as_str().unwrap().to_string();
    let (_, listed) = api.call(Method::GET, "/v1.0/webhooks", None, None).await;
    assert_eq!(listed[0]["Id"], id.as_str());
    assert!(
        !listed.to_string().contains(&secret),
        "the secret is shown once"
    );

    let acme = api.account("Hooked Acme").await;
    let ac = offline_oauth_connector(&api, &acme).await;
    let (s, _) = api
        .call(Method::PUT, &format!("/v1.0/account/connectors/{ac}"), Some(&acme),
            Some(json!({"AuthValue": "{\"AccessToken\":\"tok-1234567890\",\"Expires\":\"2099-01-01T00:00:00Z\"}"})))
        .await;
    assert_eq!(s, 200);
    let engine = api.server.state.engine.clone();
    engine.deliver_due_webhooks().await.unwrap();
    let got = receiver.wait_for(std::time::Duration::from_secs(5), |r| !r.is_empty());
    assert_eq!(got[0].event["type"], "account_connector.authenticated");
    assert_eq!(got[0].event["data"]["AccountConnectorId"], ac);
    let (_, attempts) = api
        .call(
            Method::GET,
            &format!("/v1.0/webhooks/deliveries?endpoint={id}"),
            None,
            None,
        )
        .await;
    assert_eq!(attempts[0]["StatusCode"], 204, "{attempts}");

    let (s, _) = api
        .call(Method::DELETE, &format!("/v1.0/webhooks/{id}"), None, None)
        .await;
    assert_eq!(s, 200);
    let (_, listed) = api.call(Method::GET, "/v1.0/webhooks", None, None).await;
    assert_eq!(listed.as_array().unwrap().len(), 0);
    assert!(!api.seen().contains("tok-1234567890"));
}

#[tokio::test]
async fn a_basic_setup_link_asks_for_the_user_name_and_password_and_seals_them() {
    let api = Api::start().await;
    let acme = api.account("Acme Basic").await;
    let id = generic_install(&api, &acme, "generic-basic", "Basic");
    let (_, link) = api
        .call(
            Method::POST,
            &format!("/v1.0/account/connectors/{id}/links"),
            Some(&acme),
            None,
        )
        .await;
    let url = link["Url"].as_str().unwrap();
    let page = api
        .http
        .get(url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = csrf_of(&page);
    let form = api
        .http
        .post(url)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    let form = form.text().await.unwrap();
    assert!(
        form.contains("name=\"username\"") && form.contains("name=\"password\""),
        "{form}"
    );
    // A missing field spends nothing: the link still works.
    let r = api
        .http
        .post(format!("{url}/credentials"))
        .form(&[("csrf", csrf.as_str()), ("username", "someone")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = api
        .http
        .post(format!("{url}/credentials"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", "someone"),
            ("password", "pw-typed-999"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        api.desk
            .credential_secret(id, "BasicCredentials")
            .unwrap()
            .unwrap()
            .expose(),
        "someone:pw-typed-999"
    );
}

#[tokio::test]
async fn the_connector_list_takes_a_category_and_a_search() {
    let api = Api::start().await;
    let (s, v) = api
        .call(
            Method::GET,
            "/v1.0/connectors?category=accounting",
            None,
            None,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let slugs: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["Slug"].as_str().unwrap())
        .collect();
    assert!(
        slugs.contains(&"xero") && slugs.contains(&"quickbooks-online"),
        "{slugs:?}"
    );
    assert!(v
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["Category"] == "accounting"));
    let (s, v) = api
        .call(
            Method::GET,
            "/v1.0/connectors?category=crm&search=pipe",
            None,
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(v.as_array().unwrap().len(), 1, "{v}");
    let (s, v) = api
        .call(
            Method::GET,
            "/v1.0/connectors?category=nonsense",
            None,
            None,
        )
        .await;
    assert_eq!(s, 400, "{v}");
}
