//! The Cyclr compatibility suite: for every endpoint Authdesk implements, the request as
//! Cyclr's own documentation shows it (the public repository cyclr/docs, commit c5c4fffd;
//! each test names the page), sent unchanged but for the base URL, and the answer checked
//! for the fields and types the page shows. Where the documentation's example is not valid
//! JSON (editorial comments, placeholders), the smallest fix is made and said. Differences
//! are listed in docs/cyclr-compatibility.md.
//!
//! Partner code authenticates as Cyclr documents: OAuth client credentials at
//! `/oauth/token`, then `Authorization: Bearer <token>` and, for account calls,
//! `X-Cyclr-Account`.

use std::sync::Arc;

use authdesk_api::Server;
use authdesk_core::settings::OriginPurpose;
use authdesk_core::{Authdesk, Engine, EngineConfig, KeySource, OpenOptions};
use reqwest::header::LOCATION;
use reqwest::Method;
use serde_json::{json, Value};

/// An Authdesk with an API client, as a partner would meet it.
struct Partner {
    _dir: tempfile::TempDir,
    desk: Arc<Authdesk>,
    _server: Server,
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Partner {
    async fn start() -> Partner {
        let dir = tempfile::tempdir().unwrap();
        let desk = Arc::new(
            Authdesk::open(OpenOptions {
                data_dir: dir.path().join("data"),
                database: None,
                key_source: KeySource::File(dir.path().join("vault.key")),
                clock: Arc::new(chrono::Utc::now),
            })
            .unwrap(),
        );
        let engine = Arc::new(Engine::new(desk.clone(), EngineConfig::default()).unwrap());
        let server = Server::start(desk.clone(), engine, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let base = format!("http://{}", server.addr);
        let client = desk.create_api_client("Partner").unwrap();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        // pages/v2/09-cyclr-api/04-api-authentication.md, "Request": the form body.
        let body = format!(
            "grant_type=client_credentials&client_id={}&client_secret={}",
            client.client.client_id,
            client.client_secret.expose()
        );
        let token: Value = http
            .post(format!("{base}/oauth/token"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        Partner {
            _dir: dir,
            desk,
            _server: server,
            base,
            token: token["access_token"].as_str().unwrap().to_string(),
            http,
        }
    }

    /// A new API client and a token of it (`scope`, e.g. `account:{Id}`): its ClientId
    /// and the access token.
    async fn new_client_token(&self, scope: Option<&str>) -> (String, String) {
        let client = self.desk.create_api_client("Another").unwrap();
        let mut form = vec![
            ("grant_type", "client_credentials".to_string()),
            ("client_id", client.client.client_id.clone()),
            ("client_secret", client.client_secret.expose().to_string()),
        ];
        if let Some(scope) = scope {
            form.push(("scope", scope.to_string()));
        }
        let token: Value = self
            .http
            .post(format!("{}/oauth/token", self.base))
            .form(&form)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = token["access_token"].as_str().unwrap().to_string();
        (client.client.client_id, token)
    }

    /// A request with the documented headers.
    async fn call(
        &self,
        method: Method,
        path: &str,
        account: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value, reqwest::header::HeaderMap) {
        let mut r = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("Authorization", format!("Bearer {}", self.token))
            .header("Accept", "application/json");
        if let Some(a) = account {
            r = r.header("X-Cyclr-Account", a);
        }
        if let Some(b) = body {
            r = r
                .header("Content-Type", "application/json")
                .body(b.to_string());
        }
        let response = r.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, value, headers)
    }

    async fn account(&self) -> String {
        let (s, v, _) = self
            .call(
                Method::POST,
                "/v1.0/accounts",
                None,
                Some(json!({"Name": "Acme"})),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        v["Id"].as_str().unwrap().to_string()
    }
}

/// `value` has every key with a value of the JSON kind named (`s`tring, `n`umber,
/// `b`oolean, `a`rray, `o`bject, `?` null or string, `-` null).
fn shaped(value: &Value, fields: &[(&str, char)]) {
    for (key, kind) in fields {
        let v = value
            .get(key)
            .unwrap_or_else(|| panic!("no `{key}` in {value}"));
        let ok = match kind {
            's' => v.is_string(),
            'n' => v.is_i64(),
            'b' => v.is_boolean(),
            'a' => v.is_array(),
            'o' => v.is_object(),
            '?' => v.is_null() || v.is_string(),
            '-' => v.is_null(),
            _ => unreachable!(),
        };
        assert!(ok, "`{key}` should be {kind}: {v} in {value}");
    }
}

/// ISO-8601 UTC with seven fractional digits, as Cyclr writes dates.
fn cyclr_date(v: &Value) {
    let s = v.as_str().unwrap();
    assert_eq!(s.len(), "2017-12-06T15:54:06.6440352Z".len(), "{s}");
    assert!(s.ends_with('Z') && s.as_bytes()[19] == b'.', "{s}");
}

#[tokio::test]
async fn oauth_token_answers_in_cyclrs_shape() {
    // pages/v2/09-cyclr-api/04-api-authentication.md, "Response".
    let p = Partner::start().await;
    let client = p.desk.create_api_client("Another").unwrap();
    let r = p
        .http
        .post(format!("{}/oauth/token", p.base))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=client_credentials&client_id={}&client_secret={}",
            client.client.client_id,
            client.client_secret.expose()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["token_type"], "bearer");
    assert_eq!(v["expires_in"], 1209599);
    assert_eq!(v["clientId"], client.client.client_id.as_str());
    assert!(v["access_token"].is_string());
    // "You can restrict access tokens to only work for a specific account": scope=account:{id}.
    let account = p.account().await;
    let r = p
        .http
        .post(format!("{}/oauth/token", p.base))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=client_credentials&client_id={}&client_secret={}&scope=account:{account}",
            client.client.client_id,
            client.client_secret.expose()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn create_account_with_the_documented_body() {
    // pages/v2/10-accounts-and-connectors/01-create-account.md, "Request" (verbatim).
    let p = Partner::start().await;
    let body = json!({
        "Name": "Test Account 001",
        "Description": "An account we will use for testing",
        "Timezone": "Europe/London",
        "StepDataSuccessRetentionHours": 168,
        "StepDataErroredRetentionHours": 336,
        "TransactionErrorWebhookEnabled": true,
        "TransactionErrorWebhookUrl": "https://webhook/path/here",
        "TransactionErrorWebhookIncludeWarnings": false
    });
    let (s, v, _) = p
        .call(Method::POST, "/v1.0/accounts", None, Some(body))
        .await;
    assert_eq!(s, 200, "{v}");
    // "Response": the fields, echoed.
    shaped(
        &v,
        &[
            ("CreatedDate", 's'),
            ("Id", 's'),
            ("Name", 's'),
            ("Description", 's'),
            ("AuditInfo", '-'),
            ("TaskAuditInfo", '-'),
            ("Timezone", 's'),
            ("StepDataSuccessRetentionHours", 'n'),
            ("StepDataErroredRetentionHours", 'n'),
            ("TransactionErrorWebhookEnabled", 'b'),
            ("TransactionErrorWebhookUrl", 's'),
            ("TransactionErrorWebhookIncludeWarnings", 'b'),
        ],
    );
    cyclr_date(&v["CreatedDate"]);
    assert_eq!(v["StepDataErroredRetentionHours"], 336);
    assert_eq!(v["TransactionErrorWebhookUrl"], "https://webhook/path/here");
    // "Account APIs allowed to have unset parameters": a PUT of one field keeps the rest.
    let id = v["Id"].as_str().unwrap().to_string();
    let (s, v, _) = p
        .call(
            Method::PUT,
            &format!("/v1.0/accounts/{id}"),
            None,
            Some(json!({"StepDataSuccessRetentionHours": 24})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["StepDataSuccessRetentionHours"], 24);
    assert_eq!(v["StepDataErroredRetentionHours"], 336);
    assert_eq!(v["Name"], "Test Account 001");
    // pages/v2/02-cyclr-configuration/10-overview-new-account.md: a sub-account (with GUIDs
    // for the doc's "ParentID"/"Sub1ID" placeholders: Authdesk's account Ids are GUIDs).
    let sub = "6a1e9c2e-7d3a-4f1b-9a55-0c2a1f0e9b11";
    let (s, v, _) = p
        .call(
            Method::POST,
            "/v1.0/accounts",
            None,
            Some(json!({"ParentAccountId": id, "Id": sub, "Name": "Sub Account #1"})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["ParentAccountId"], id.as_str());
    // A field neither Cyclr nor Authdesk knows is still refused, by name.
    let (s, v, _) = p
        .call(
            Method::POST,
            "/v1.0/accounts",
            None,
            Some(json!({"Name": "x", "Colour": "red"})),
        )
        .await;
    assert_eq!(s, 400);
    assert!(v["Message"].as_str().unwrap().contains("Colour"), "{v}");
}

#[tokio::test]
async fn sign_in_token_and_the_link_with_a_bare_host() {
    let p = Partner::start().await;
    let account = p.account().await;
    // pages/v2/10-accounts-and-connectors/04-authentication/04-oauth-authentication.md.
    let (s, v, _) = p
        .call(
            Method::POST,
            &format!("/v1.0/accounts/{account}/signintoken"),
            None,
            Some(json!({"Username": "example_user"})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    shaped(&v, &[("Token", 's'), ("ExpiresAtUtc", 's')]);
    cyclr_date(&v["ExpiresAtUtc"]);
    let token = v["Token"].as_str().unwrap().to_string();
    // An OAuth connector whose provider is never contacted (we stop at the redirect).
    p.desk
        .add_connector(
            "offline.toml",
            "id = \"offline-oauth\"\nname = \"Offline OAuth\"\nversion = \"1\"\n[auth]\ntype = \"oauth2\"\n\
             grant = \"authorization_code\"\nauthorize_url = \"https://provider.example/authorize\"\n\
             token_url = \"https://provider.example/token\"\n",
            false,
        )
        .unwrap();
    p.desk
        .set_connector_client(
            "offline-oauth",
            "client",
            Some(&authdesk_core::Secret::new("s")),
        )
        .unwrap();
    let (_, ac, _) = p
        .call(
            Method::POST,
            "/v1.0/connectors/offline-oauth/install",
            Some(&account),
            Some(json!({"Name": "x"})),
        )
        .await;
    let id = ac["Id"].as_i64().unwrap();
    // pages/v2/10-accounts-and-connectors/03-install-connectors/03-authenticate-link-api.md:
    // `targetOrigin=example.com&callbackMessage=done` (a bare host).
    p.desk
        .allow_origin(OriginPurpose::Target, "https://example.com")
        .unwrap();
    let link = format!(
        "{}/connectorauth/updateaccountconnectoroauth?id={id}&token={}&targetOrigin=example.com&callbackMessage=done",
        p.base,
        url::form_urlencoded::byte_serialize(token.as_bytes()).collect::<String>()
    );
    let r = p.http.get(&link).send().await.unwrap();
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    assert!(r.headers()[LOCATION]
        .to_str()
        .unwrap()
        .starts_with("https://provider.example/authorize?"));
    // A bare host that is not allowed: the page says which origin to allow and how.
    let (_, v, _) = p
        .call(
            Method::POST,
            &format!("/v1.0/accounts/{account}/signintoken"),
            None,
            Some(json!({"Username": "example_user"})),
        )
        .await;
    let link = link
        .replace("targetOrigin=example.com", "targetOrigin=other.example")
        .replace(
            &url::form_urlencoded::byte_serialize(token.as_bytes()).collect::<String>(),
            v["Token"].as_str().unwrap(),
        );
    let r = p.http.get(&link).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("https://other.example") && page.contains("authdesk origins add"),
        "{page}"
    );
}

#[tokio::test]
async fn connectors_carry_authentication_and_parameters() {
    // pages/v2/10-accounts-and-connectors/03-install-connectors/01-get-connectors.md.
    let p = Partner::start().await;
    let account = p.account().await;
    let (s, v, headers) = p
        .call(Method::GET, "/v1.0/connectors", Some(&account), None)
        .await;
    assert_eq!(s, 200);
    let list = v.as_array().unwrap();
    assert!(list.len() >= 14);
    for c in list {
        shaped(
            c,
            &[
                ("Id", 'n'),
                ("Name", 's'),
                ("Description", 's'),
                ("Status", 's'),
                ("Version", 's'),
                ("Icon", '?'),
                ("AuthDescription", '?'),
                ("AuthType", 's'),
                ("OAuth2Type", 's'),
                ("AuthScheme", '?'),
                ("Parameters", 'a'),
                ("Authentication", 'a'),
            ],
        );
        for a in c["Authentication"].as_array().unwrap() {
            shaped(
                a,
                &[
                    ("Id", 's'),
                    ("AuthName", 's'),
                    ("AuthDescription", '?'),
                    ("AuthType", 's'),
                    ("OAuth2Type", 's'),
                    ("AuthScheme", '?'),
                ],
            );
        }
        for param in c["Parameters"].as_array().unwrap() {
            shaped(
                param,
                &[
                    ("IsAccountConnectorProperty", 'b'),
                    ("TargetType", 's'),
                    ("TargetName", 's'),
                    ("IsSensitive", 'b'),
                    ("Id", 'n'),
                    ("Name", 's'),
                    ("Description", 's'),
                    ("IsOptional", 'b'),
                    ("DataType", 's'),
                    ("TriggerName", '?'),
                    ("Values", 'a'),
                ],
            );
        }
    }
    // Pipedrive offers OAuth 2.0 and an API token.
    let pipedrive = list.iter().find(|c| c["Name"] == "Pipedrive").unwrap();
    let ways: Vec<&str> = pipedrive["Authentication"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["AuthType"].as_str().unwrap())
        .collect();
    assert_eq!(ways, ["OAuth2", "ApiKey"]);
    // Lists page (page, per_page; Total-Pages, Total-Records).
    assert_eq!(
        headers["Total-Records"].to_str().unwrap(),
        list.len().to_string()
    );
    let (_, page, headers) = p
        .call(
            Method::GET,
            "/v1.0/connectors?page=2&per_page=5",
            Some(&account),
            None,
        )
        .await;
    assert_eq!(page.as_array().unwrap().len(), 5);
    assert_eq!(page[0]["Id"], list[5]["Id"]);
    assert_eq!(
        headers["Total-Pages"].to_str().unwrap(),
        list.len().div_ceil(5).to_string()
    );
}

#[tokio::test]
async fn install_read_update_and_call_as_documented() {
    let p = Partner::start().await;
    let account = p.account().await;
    let upstream = upstream().await;
    p.desk
        .add_connector(
            "echo.toml",
            &format!(
                "id = \"echo\"\nname = \"Echo\"\nversion = \"1.0\"\napi_base_url = \"{upstream}\"\n\
                 [auth]\ntype = \"api_key\"\nplacement = \"header\"\nname = \"Authorization\"\n\
                 [[properties]]\nname = \"Domain\"\ndescription = \"Your domain.\"\n\
                 [[methods]]\nid = \"update-ticket\"\nname = \"Update Ticket\"\nhttp_method = \"POST\"\npath = \"/tickets\"\n\
                 [[methods.parameters]]\nname = \"notify\"\nin = \"query\"\n\
                 [[methods.parameters]]\nname = \"email\"\nin = \"body\"\n"
            ),
            false,
        )
        .unwrap();
    let (_, connectors, _) = p
        .call(Method::GET, "/v1.0/connectors", Some(&account), None)
        .await;
    let echo = connectors
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["Name"] == "Echo")
        .unwrap()
        .clone();
    let connector_id = echo["Id"].as_i64().unwrap();
    let authentication_id = echo["Authentication"][0]["Id"]
        .as_str()
        .unwrap()
        .to_string();
    let property_id = echo["Parameters"][0]["Id"].as_i64().unwrap();

    // pages/v2/10-accounts-and-connectors/03-install-connectors/02-install-connector-api.md
    // ("Id": {PropertyId} filled in and its trailing comma dropped).
    let (s, ac, _) = p
        .call(
            Method::POST,
            &format!("/v1.0/connectors/{connector_id}/install"),
            Some(&account),
            Some(json!({
                "Name": "Installed Example",
                "Description": "Alex's Example account connector",
                "AuthenticationId": authentication_id,
                "AuthValue": "0000000000000000000000000000000000000000",
                "Properties": [{"Name": "Domain", "Value": "acme.example", "Id": property_id}]
            })),
        )
        .await;
    assert_eq!(s, 200, "{ac}");
    let id = ac["Id"].as_i64().unwrap();
    // pages/v2/10-accounts-and-connectors/04-authentication/01-authenticate-account-connector.md.
    let (s, v, _) = p
        .call(
            Method::GET,
            &format!("/v1.0/account/connectors/{id}"),
            Some(&account),
            None,
        )
        .await;
    assert_eq!(s, 200);
    shaped(
        &v,
        &[
            ("Id", 'n'),
            ("Name", 's'),
            ("Description", 's'),
            ("AuthValue", '-'),
            ("Authenticated", 'b'),
            ("Connector", 'o'),
            ("IsPartnerIntegrationConnector", 'b'),
            ("Properties", 'a'),
            ("CustomFields", 'a'),
        ],
    );
    shaped(
        &v["Connector"],
        &[
            ("Id", 'n'),
            ("Name", 's'),
            ("Description", 's'),
            ("Status", 's'),
            ("Version", 's'),
            ("Icon", '?'),
            ("AuthDescription", '?'),
            ("AuthType", 's'),
            ("OAuth2Type", 's'),
            ("AuthScheme", '?'),
        ],
    );
    assert_eq!(v["Authenticated"], true);
    // pages/v2/04-embedding/03-install-a-partner-connector.md: Properties items.
    shaped(
        &v["Properties"][0],
        &[
            ("Name", 's'),
            ("Value", 's'),
            ("Id", 'n'),
            ("AccountConnectorId", 'n'),
        ],
    );
    assert_eq!(v["Properties"][0]["Id"], property_id);
    assert_eq!(v["Properties"][0]["AccountConnectorId"], id);

    // pages/v2/11-data-on-demand/03-get-account-connectors.md.
    let (_, list, _) = p
        .call(
            Method::GET,
            "/v1.0/account/connectors",
            Some(&account),
            None,
        )
        .await;
    shaped(
        &list[0],
        &[
            ("Id", 'n'),
            ("Name", 's'),
            ("Description", 's'),
            ("Connector", 'o'),
        ],
    );
    shaped(&list[0]["Connector"], &[("Id", 'n'), ("Name", 's')]);

    // pages/v2/10-accounts-and-connectors/04-authentication/02-api-key-authentication.md.
    let (s, v, _) = p
        .call(
            Method::PUT,
            &format!("/v1.0/account/connectors/{id}"),
            Some(&account),
            Some(json!({"AuthValue": "1111111111111111111111111111111111111111"})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["Authenticated"], true);
    assert_eq!(
        v["AuthValue"],
        Value::Null,
        "Authdesk never hands secrets out"
    );

    // pages/v2/05-application-connectors/authentication/sugarcrm.md: one property per call.
    let (s, v, _) = p
        .call(
            Method::POST,
            &format!("/v1.0/account/connectors/{id}/properties"),
            Some(&account),
            Some(json!({"Name": "Domain", "Value": "myaccount.sugarcrm.eu"})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["Properties"][0]["Value"], "myaccount.sugarcrm.eu");

    // pages/v2/11-data-on-demand/04-get-connector-methods.md: methods by connector name.
    let (s, methods, _) = p
        .call(
            Method::GET,
            "/v1.0/connectors/Echo/methods",
            Some(&account),
            None,
        )
        .await;
    assert_eq!(s, 200, "{methods}");
    let m = &methods[0];
    shaped(
        m,
        &[
            ("Id", 'n'),
            ("Name", 's'),
            ("Description", 's'),
            ("EndPoint", 's'),
            ("MethodUniqueIdentifier", 's'),
        ],
    );
    let (s, _, _) = p
        .call(
            Method::GET,
            "/v1.0/connectors/Echo/1.0/methods",
            Some(&account),
            None,
        )
        .await;
    assert_eq!(s, 200);

    // pages/v2/11-data-on-demand/05-call-a-connector-method.md: Parameters and Fields keyed
    // by their Ids, string values; by the integer method Id and by MethodUniqueIdentifier.
    let notify = m["Parameters"][0]["Id"].as_i64().unwrap().to_string();
    let email = m["Parameters"][1]["Id"].as_i64().unwrap().to_string();
    for method in [
        m["Id"].to_string(),
        m["MethodUniqueIdentifier"].as_str().unwrap().to_string(),
    ] {
        let (s, v, _) = p
            .call(
                Method::POST,
                &format!("/v1.0/account/connectors/{id}/methods/{method}"),
                Some(&account),
                Some(json!({"Parameters": {notify.clone(): "true"}, "Fields": {email.clone(): "test@example.com"}})),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["Body"]["query"], "notify=true", "{v}");
        assert_eq!(v["Body"]["body"]["email"], "test@example.com", "{v}");
        assert_eq!(
            v["Body"]["authorization"],
            "1111111111111111111111111111111111111111"
        );
    }
    // "If there are no parameters, the body is {}".
    let (s, _, _) = p
        .call(
            Method::POST,
            &format!("/v1.0/account/connectors/{id}/methods/update-ticket"),
            Some(&account),
            Some(json!({})),
        )
        .await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn launch_with_connector_authentications() {
    // pages/v2/04-embedding/04-launch/04-deploy-launch.md (the curl body).
    let p = Partner::start().await;
    let account = "3f2b7f5e-2d9c-4a5e-8c1b-6a0f9d2e4b77";
    let body = json!({
        "AccountName": "CYCLR_ACCOUNT_NAME",
        "ConnectorAuthentications": [
            {
                "Name": "Stripe",
                "Version": "1.0",
                "AuthValue": "XXXXXXXXXX",
                "Properties": []
            }
        ],
        "Start": true,
        "RunOnce": false,
        "Tags": ["a"],
        "AutoInstall": true
    });
    let (s, v, _) = p
        .call(
            Method::POST,
            &format!("/v1.0/accounts/{account}/launch"),
            None,
            Some(body),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["AccountId"], account);
    assert_eq!(v["Account"]["Name"], "CYCLR_ACCOUNT_NAME");
    assert_eq!(v["AccountConnector"]["Authenticated"], true);
    assert_eq!(v["AccountConnector"]["IsPartnerIntegrationConnector"], true);
}

/// A loopback API that answers with what it received: query, Authorization and JSON body.
async fn upstream() -> String {
    use axum::extract::{Json, RawQuery};
    use axum::http::HeaderMap;
    let app = axum::Router::new().fallback(
        |RawQuery(q): RawQuery, headers: HeaderMap, body: String| async move {
            Json(json!({
                "query": q,
                "authorization": headers.get("authorization").and_then(|v| v.to_str().ok()),
                "body": serde_json::from_str::<Value>(&body).unwrap_or(Value::Null),
            }))
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

#[tokio::test]
async fn launch_without_auth_value_and_with_fetched_properties() {
    // pages/v2/04-embedding/04-launch/04-deploy-launch.md: "[ConnectorAuthentications].AuthValue
    // string, optional"; 03-install-a-partner-connector.md: "AuthValue and Properties may be
    // empty", and its Properties items carry AccountConnectorId.
    let p = Partner::start().await;
    let echo = "id = \"echo\"\nname = \"Echo\"\nversion = \"1.0\"\napi_base_url = \"https://api.example\"\n\
                [auth]\ntype = \"api_key\"\nplacement = \"header\"\nname = \"Authorization\"\n\
                [[properties]]\nname = \"Region\"\nrequired = false\n";
    p.desk.add_connector("echo.toml", echo, false).unwrap();
    for (i, body) in [
        json!({"PartnerConnector": {"Name": "Echo", "Properties": [
            {"Name": "Region", "Value": "eu", "Id": 0, "AccountConnectorId": 41}]}}),
        json!({"PartnerConnector": {"Name": "Echo", "AuthValue": null, "Properties": null}}),
        json!({"ConnectorAuthentications": [{"Name": "Echo", "AuthValue": ""}]}),
    ]
    .into_iter()
    .enumerate()
    {
        let account = format!("3f2b7f5e-2d9c-4a5e-8c1b-6a0f9d2e4b7{i}");
        let (s, v, _) = p
            .call(
                Method::POST,
                &format!("/v1.0/accounts/{account}/launch"),
                None,
                Some(body.clone()),
            )
            .await;
        assert_eq!(s, 200, "{body}: {v}");
        assert_eq!(v["AccountConnector"]["Authenticated"], false, "{v}");
        assert_eq!(v["AccountConnector"]["Status"], "NotAuthenticated", "{v}");
    }
}

#[tokio::test]
async fn what_a_get_answered_can_be_sent_back() {
    // pages/v2/10-accounts-and-connectors/04-authentication/02-api-key-authentication.md shows
    // the PUT body as a whole account connector; typed clients send nulls and Id 0.
    let p = Partner::start().await;
    let account = p.account().await;
    let (s, ac, _) = p
        .call(
            Method::POST,
            "/v1.0/connectors/sendgrid/install",
            Some(&account),
            Some(json!({"Name": "SG", "Properties": null, "AuthValue": null})),
        )
        .await;
    assert_eq!(s, 200, "{ac}");
    let id = ac["Id"].as_i64().unwrap();
    let path = format!("/v1.0/account/connectors/{id}");
    let (_, mut got, _) = p.call(Method::GET, &path, Some(&account), None).await;
    got["Name"] = json!("Renamed");
    got["AuthValue"] = json!("SG.0000000000");
    got["Properties"] = json!([{"Name": "ClientId", "Value": null, "Id": 0, "AccountConnectorId": id, "IsSecret": false}]);
    let (s, v, _) = p
        .call(Method::PUT, &path, Some(&account), Some(got.clone()))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (v["Name"].as_str(), v["Authenticated"].as_bool()),
        (Some("Renamed"), Some(true))
    );
    // The Id, when sent, is the one in the path; an unknown field is still named.
    got["Id"] = json!(id + 1);
    let (s, v, _) = p
        .call(Method::PUT, &path, Some(&account), Some(got.clone()))
        .await;
    assert_eq!(s, 400, "{v}");
    assert!(
        v["Message"]
            .as_str()
            .unwrap()
            .contains("not the account connector"),
        "{v}"
    );
    got["Id"] = json!(id);
    got["Colour"] = json!("red");
    let (s, v, _) = p.call(Method::PUT, &path, Some(&account), Some(got)).await;
    assert_eq!(s, 400, "{v}");
    assert!(v["Message"].as_str().unwrap().contains("Colour"), "{v}");
}

#[tokio::test]
async fn an_account_connector_shows_the_connector_as_it_authenticates() {
    // pages/v2/10-accounts-and-connectors/04-authentication/01-authenticate-account-connector.md:
    // "the AuthType for this Account Connector is ApiKey", and "look in the Connector
    // section ... for Parameters with IsAccountConnectorProperty: true".
    let p = Partner::start().await;
    let account = p.account().await;
    let (_, connector, _) = p
        .call(Method::GET, "/v1.0/connectors/pipedrive", None, None)
        .await;
    let ways = connector["Authentication"].as_array().unwrap();
    let api_key = ways
        .iter()
        .find(|a| a["AuthType"] == "ApiKey")
        .unwrap_or_else(|| panic!("pipedrive has an API key way: {connector}"));
    assert_ne!(
        connector["AuthType"], "ApiKey",
        "the default is another way"
    );
    let (s, ac, _) = p
        .call(
            Method::POST,
            "/v1.0/connectors/pipedrive/install",
            Some(&account),
            Some(json!({"Name": "P", "AuthenticationId": api_key["Id"]})),
        )
        .await;
    assert_eq!(s, 200, "{ac}");
    assert_eq!(ac["Connector"]["AuthType"], "ApiKey", "{ac}");
    let parameters = ac["Connector"]["Parameters"].as_array().unwrap();
    assert!(!parameters.is_empty(), "{ac}");
    assert!(parameters
        .iter()
        .all(|p| p["IsAccountConnectorProperty"] == true));
}

#[tokio::test]
async fn paths_in_any_case_and_unknown_ones_answer_json() {
    let p = Partner::start().await;
    let account = p.account().await;
    // Cyclr's routes ignore case; its pages write /ConnectorAuth/UpdateAccountConnectorOAuth.
    let (s, v, _) = p
        .call(
            Method::GET,
            &format!("/V1.0/Accounts/{account}"),
            None,
            None,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["Id"], account.as_str());
    let (s, v, headers) = p.call(Method::GET, "/v1.0/nothing-here", None, None).await;
    assert_eq!(s, 404);
    assert!(
        v["Message"]
            .as_str()
            .unwrap()
            .contains("/v1.0/nothing-here"),
        "{v}"
    );
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let (s, v, headers) = p.call(Method::PATCH, "/v1.0/accounts", None, None).await;
    assert_eq!(s, 405);
    assert!(v["Message"].as_str().unwrap().contains("PATCH"), "{v}");
    let allow = headers
        .get("allow")
        .map(|a| a.to_str().unwrap().to_string());
    assert!(
        allow
            .as_deref()
            .is_some_and(|a| a.contains("GET") && a.contains("POST")),
        "{allow:?}"
    );
    // Query strings and path segments of the wrong type answer JSON too.
    for path in ["/v1.0/accounts?page=abc", "/v1.0/account/connectors/1e3"] {
        let (s, v, _) = p.call(Method::GET, path, Some(&account), None).await;
        assert_eq!(s, 400, "{path}: {v}");
        assert!(v["Message"].is_string(), "{path}: {v}");
    }
    // A key given twice is refused, not "the last one wins".
    let r = p
        .http
        .post(format!("{}/v1.0/accounts", p.base))
        .bearer_auth(&p.token)
        .header("Content-Type", "application/json")
        .body(r#"{"Name": "first", "Name": "second"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert!(
        v["Message"]
            .as_str()
            .unwrap()
            .contains("duplicate field `Name`"),
        "{v}"
    );
    // A body over the limit says what the limit is.
    let r = p
        .http
        .post(format!("{}/v1.0/accounts", p.base))
        .bearer_auth(&p.token)
        .header("Content-Type", "application/json")
        .body(format!(r#"{{"Name": "{}"}}"#, "x".repeat(3 << 20)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let v: Value = r.json().await.unwrap();
    assert!(v["Message"].as_str().unwrap().contains("2 MB"), "{v}");
}

#[tokio::test]
async fn an_account_token_speaks_for_its_account() {
    // pages/v2/09-cyclr-api/04-api-authentication.md, "Account restricted access tokens".
    let p = Partner::start().await;
    let account = p.account().await;
    let (_, token) = p
        .new_client_token(Some(&format!("account:{account}")))
        .await;
    let token = token.as_str();
    // Without X-Cyclr-Account the token's own account is meant.
    let r = p
        .http
        .get(format!("{}/v1.0/account/connectors", p.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    // It cannot link its account to another (nor learn whether that one exists).
    let other = p.account().await;
    let r = p
        .http
        .put(format!("{}/v1.0/accounts/{account}", p.base))
        .bearer_auth(token)
        .json(&json!({"ParentAccountId": other}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // Another account in the header is still refused.
    let r = p
        .http
        .get(format!("{}/v1.0/account/connectors", p.base))
        .bearer_auth(token)
        .header("X-Cyclr-Account", "3f2b7f5e-2d9c-4a5e-8c1b-6a0f9d2e4b77")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn a_launch_that_fails_creates_nothing() {
    let p = Partner::start().await;
    let good = json!({"Name": "generic-api-key", "AuthValue": "K1", "Properties": [{"Name": "ApiHost", "Value": "a.example"}]});
    let bad = json!({"Name": "generic-api-key", "AuthValue": "K2", "Properties": [{"Name": "ApiHost", "Value": "bad/"}]});
    let fresh = "3f2b7f5e-2d9c-4a5e-8c1b-6a0f9d2e4b99";
    let existing = p.account().await;
    for account in [fresh, existing.as_str()] {
        let (s, v, _) = p
            .call(
                Method::POST,
                &format!("/v1.0/accounts/{account}/launch"),
                None,
                Some(json!({"ConnectorAuthentications": [good.clone(), bad.clone()]})),
            )
            .await;
        assert_eq!(s, 400, "{v}");
        let message = v["Message"].as_str().unwrap();
        assert!(
            message.contains("connector 2 of the LAUNCH body") && message.contains("ApiHost"),
            "{v}"
        );
    }
    let (s, _, _) = p
        .call(Method::GET, &format!("/v1.0/accounts/{fresh}"), None, None)
        .await;
    assert_eq!(s, 404, "a failed LAUNCH left its account behind");
    let (_, list, _) = p
        .call(
            Method::GET,
            "/v1.0/account/connectors",
            Some(&existing),
            None,
        )
        .await;
    assert_eq!(
        list,
        json!([]),
        "a failed LAUNCH left account connectors behind"
    );
}

#[tokio::test]
async fn parent_accounts_form_no_cycles_and_outlive_nothing() {
    let p = Partner::start().await;
    let (a, b, c) = (p.account().await, p.account().await, p.account().await);
    let parent = |child: &str, parent: &str| {
        let (path, body) = (
            format!("/v1.0/accounts/{child}"),
            json!({"ParentAccountId": parent}),
        );
        let p = &p;
        async move { p.call(Method::PUT, &path, None, Some(body)).await }
    };
    assert_eq!(parent(&b, &a).await.0, 200);
    assert_eq!(parent(&c, &b).await.0, 200);
    let (s, v, _) = parent(&a, &c).await;
    assert_eq!(s, 400, "{v}");
    assert!(v["Message"].as_str().unwrap().contains("cycle"), "{v}");
    // Deleting a parent leaves its children without one, not pointing at nothing.
    let (s, _, _) = p
        .call(Method::DELETE, &format!("/v1.0/accounts/{b}"), None, None)
        .await;
    assert!(s == 200 || s == 204, "{s}");
    let (_, v, _) = p
        .call(Method::GET, &format!("/v1.0/accounts/{c}"), None, None)
        .await;
    assert_eq!(v["ParentAccountId"], Value::Null, "{v}");
}

#[tokio::test]
async fn revoking_a_client_ends_the_sign_in_tokens_it_handed_out() {
    let p = Partner::start().await;
    let account = p.account().await;
    p.desk
        .allow_origin(OriginPurpose::Target, "https://partner.example")
        .unwrap();
    let (s, ac, _) = p
        .call(
            Method::POST,
            "/v1.0/connectors/github/install",
            Some(&account),
            Some(json!({"Name": "g"})),
        )
        .await;
    assert_eq!(s, 200, "{ac}");
    let (client_id, token) = p.new_client_token(None).await;
    let sign_in: Value = p
        .http
        .post(format!("{}/v1.0/accounts/{account}/signintoken", p.base))
        .bearer_auth(&token)
        .json(&json!({"Username": "u"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    p.desk.revoke_api_client(&client_id).unwrap();
    let r = p
        .http
        .get(format!(
            "{}/connectorauth/updateaccountconnectoroauth?id={}&token={}&targetOrigin=https://partner.example/done",
            p.base,
            ac["Id"],
            sign_in["Token"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap();
    let location = r.headers()[LOCATION].to_str().unwrap();
    assert!(
        location.starts_with("https://partner.example/done?error=access_denied"),
        "{location}"
    );
}

#[tokio::test]
async fn a_plain_text_oauth_access_token_is_sent_as_configured() {
    // pages/v2/10-accounts-and-connectors/03-install-connectors/02-install-connector-api.md:
    // "AuthValue ... Oauth: enter the `{access_token}`", and its example answer
    // `"AuthValue": "access_token", "Authenticated": true`; the PUT of
    // 04-authentication/02-api-key-authentication.md takes the same AuthValue;
    // pages/v2/04-embedding/04-launch/04-deploy-launch.md: "[ConnectorAuthentications].AuthValue
    // ... An OAuth token may also be provided here".
    let p = Partner::start().await;
    let account = p.account().await;
    let upstream = upstream().await;
    // An OAuth connector whose authorization server is never contacted: the token is used
    // as given (no refresh token, no expiry to refresh at).
    p.desk
        .add_connector(
            "plain.toml",
            &format!(
                "id = \"plain-oauth\"\nname = \"Plain OAuth\"\nversion = \"1\"\napi_base_url = \"{upstream}\"\n\
                 [auth]\ntype = \"oauth2\"\ngrant = \"authorization_code\"\n\
                 authorize_url = \"https://provider.example/authorize\"\ntoken_url = \"https://provider.example/token\"\n\
                 [[methods]]\nid = \"me\"\nname = \"Me\"\nhttp_method = \"GET\"\npath = \"/me\"\n"
            ),
            false,
        )
        .unwrap();
    let sent = |id: i64, account: String| {
        let p = &p;
        async move {
            let (s, v, _) = p
                .call(
                    Method::POST,
                    &format!("/v1.0/account/connectors/{id}/methods/me"),
                    Some(&account),
                    Some(json!({})),
                )
                .await;
            assert_eq!(s, 200, "{v}");
            v["Body"]["authorization"].clone()
        }
    };
    let (s, ac, _) = p
        .call(
            Method::POST,
            "/v1.0/connectors/plain-oauth/install",
            Some(&account),
            Some(json!({"Name": "Installed Example", "AuthValue": "plain-token"})),
        )
        .await;
    assert_eq!(s, 200, "{ac}");
    assert_eq!(ac["Authenticated"], true, "{ac}");
    assert_eq!(ac["AuthValue"], Value::Null, "{ac}");
    assert_eq!(ac["ExpiresAt"], Value::Null, "no expiry is known: {ac}");
    let id = ac["Id"].as_i64().unwrap();
    assert_eq!(sent(id, account.clone()).await, "Bearer plain-token");
    assert_eq!(
        p.desk.get_account_connector(id).unwrap().secrets_set,
        ["AccessToken"]
    );

    for (auth_value, expected) in [
        (json!("put-token"), "Bearer put-token"),
        // The JSON form keeps working.
        (
            json!(r#"{"AccessToken":"json-token","Expires":"2099-01-01T00:00:00Z"}"#),
            "Bearer json-token",
        ),
    ] {
        let (s, v, _) = p
            .call(
                Method::PUT,
                &format!("/v1.0/account/connectors/{id}"),
                Some(&account),
                Some(json!({ "AuthValue": auth_value })),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["Authenticated"], true, "{v}");
        assert_eq!(sent(id, account.clone()).await, expected);
    }
    // Broken JSON is not taken for a token.
    let (s, v, _) = p
        .call(
            Method::PUT,
            &format!("/v1.0/account/connectors/{id}"),
            Some(&account),
            Some(json!({"AuthValue": "{\"AccessToken\":\"CANARYtok\""})),
        )
        .await;
    assert_eq!(s, 400, "{v}");
    let message = v["Message"].as_str().unwrap();
    assert!(
        message.contains("JSON") && !message.contains("CANARY"),
        "{v}"
    );
    assert_eq!(sent(id, account.clone()).await, "Bearer json-token");

    let launched = "3f2b7f5e-2d9c-4a5e-8c1b-6a0f9d2e4b80";
    let (s, v, _) = p
        .call(
            Method::POST,
            &format!("/v1.0/accounts/{launched}/launch"),
            None,
            Some(json!({"ConnectorAuthentications": [
                {"Name": "Plain OAuth", "Version": "1", "AuthValue": "launch-token", "Properties": []}
            ]})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["AccountConnector"]["Authenticated"], true, "{v}");
    let id = v["AccountConnector"]["Id"].as_i64().unwrap();
    assert_eq!(sent(id, launched.to_string()).await, "Bearer launch-token");
}

#[tokio::test]
async fn a_sign_in_token_without_a_body_or_content_type() {
    // pages/v2/10-accounts-and-connectors/03-install-connectors/03-authenticate-link-api.md
    // shows the request with no Content-Type; the Username is optional (Authdesk: a token
    // for the account with no account user).
    let p = Partner::start().await;
    let account = p.account().await;
    let url = format!("{}/v1.0/accounts/{account}/signintoken", p.base);
    let requests = [
        // No body, no Content-Type.
        p.http.post(&url),
        // The page's body, without its Content-Type.
        p.http
            .post(&url)
            .body(r#"{"Username":"The username of user you want to sign in"}"#),
        // An empty body said to be JSON, and an empty object.
        p.http.post(&url).header("Content-Type", "application/json"),
        p.http
            .post(&url)
            .header("Content-Type", "application/json")
            .body("{}"),
    ];
    for request in requests {
        let r = request.bearer_auth(&p.token).send().await.unwrap();
        let status = r.status().as_u16();
        let v: Value = r.json().await.unwrap();
        assert_eq!(status, 200, "{v}");
        shaped(&v, &[("Token", 's'), ("ExpiresAtUtc", 's')]);
        cyclr_date(&v["ExpiresAtUtc"]);
        // A token the browser flow takes.
        let used = p
            .desk
            .consume_sign_in_token(v["Token"].as_str().unwrap(), &account)
            .unwrap();
        assert!(used.is_ok(), "{v}");
    }
    // A body that is not JSON still gets a clear answer.
    let r = p
        .http
        .post(&url)
        .bearer_auth(&p.token)
        .body("Username=alice")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert!(
        v["Message"].as_str().unwrap().contains("malformed JSON"),
        "{v}"
    );
}
