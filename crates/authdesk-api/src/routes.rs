//! The `/v1.0` endpoints, in Cyclr's shapes (PascalCase JSON). Each handler parses, calls
//! the core or the engine, and returns a view; no view carries a secret value.

use std::sync::Arc;

use authdesk_core::definition::{HttpMethod, ParameterLocation};
use authdesk_core::engine::methods::MethodResponse;
use authdesk_core::settings::{OriginPurpose, SignInToken};
use authdesk_core::{
    Account, AccountConnector, InstallRequest, LibraryConnector, NewAccount, PropertyInput, Secret,
};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult};
use crate::guard::{AccountScope, ApiJson};
use crate::AppState;

type S = State<Arc<AppState>>;

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct CreateAccount {
    /// A GUID; generated when absent.
    pub id: Option<String>,
    pub name: String,
    pub description: Option<String>,
    pub timezone: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct UpdateAccount {
    pub name: Option<String>,
    pub description: Option<String>,
    pub timezone: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct SignInTokenRequest {
    pub username: String,
}

/// A name/value pair. Secret properties (ClientSecret, Password, ...) are sealed and never
/// returned.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Property {
    pub name: String,
    pub value: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct InstallBody {
    pub name: String,
    pub description: Option<String>,
    /// Cyclr's AuthValue: token JSON as a string, "{}", an API key, or base64 user:password.
    pub auth_value: Option<String>,
    #[serde(default)]
    pub properties: Vec<Property>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct UpdateAccountConnectorBody {
    pub auth_value: Option<String>,
    #[serde(default)]
    pub properties: Vec<Property>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct CallBody {
    #[serde(default)]
    #[schema(value_type = Object)]
    pub parameters: serde_json::Map<String, serde_json::Value>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct PartnerConnector {
    /// The library connector's name.
    pub name: String,
    pub version: Option<String>,
    pub auth_value: String,
    #[serde(default)]
    pub properties: Vec<Property>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct LaunchBody {
    /// Name for the account when it does not exist yet (default: its Id).
    pub account_name: Option<String>,
    pub partner_connector: PartnerConnector,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct LaunchResult {
    #[schema(value_type = Object)]
    pub account: Account,
    #[schema(value_type = Object)]
    pub account_connector: AccountConnector,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ClientBody {
    pub client_id: String,
    /// Omit for a public client.
    pub client_secret: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Origins {
    /// Exact origins (`https://partner.example`, `http://127.0.0.1:5173`).
    pub origins: Vec<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct MethodView {
    pub id: String,
    pub method_unique_identifier: String,
    pub name: String,
    pub description: String,
    pub http_method: String,
    pub path: String,
    pub parameters: Vec<ParameterView>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct ParameterView {
    pub name: String,
    pub location: String,
    pub required: bool,
    pub description: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct SignInTokenView {
    pub token: String,
    pub expires_at_utc: String,
}

impl From<SignInToken> for SignInTokenView {
    fn from(t: SignInToken) -> Self {
        SignInTokenView {
            token: t.token.expose().to_string(),
            expires_at_utc: t.expires_at_utc,
        }
    }
}

fn properties(list: Vec<Property>) -> Vec<PropertyInput> {
    list.into_iter()
        .map(|p| PropertyInput {
            name: p.name,
            value: Secret::new(p.value),
        })
        .collect()
}

/// Checks that the account connector belongs to the calling account (else 404: no hint
/// that it exists elsewhere).
async fn check_owner(state: &AppState, account: &str, id: i64) -> ApiResult<()> {
    let account = account.to_string();
    state
        .db(move |desk| match desk.account_connector_account(id) {
            Ok(owner) if owner == account => Ok(()),
            Ok(_) | Err(authdesk_core::Error::NotFound { .. }) => {
                // An unknown account says so; a known one gives no hint that the account
                // connector exists elsewhere.
                desk.get_account(&account)?;
                Err(authdesk_core::Error::NotFound {
                    what: "account connector",
                    id: id.to_string(),
                    hint: " in this account".into(),
                })
            }
            Err(e) => Err(e),
        })
        .await
}

#[utoipa::path(post, path = "/v1.0/accounts", request_body = CreateAccount, tag = "Accounts",
    responses((status = 200, description = "The account"), (status = 400, body = crate::ErrorBody), (status = 409, body = crate::ErrorBody)))]
pub async fn create_account(
    State(s): S,
    ApiJson(b): ApiJson<CreateAccount>,
) -> ApiResult<Json<Account>> {
    let account = s
        .db(move |desk| {
            desk.create_account(NewAccount {
                id: b.id,
                name: b.name,
                description: b.description,
                timezone: b.timezone,
            })
        })
        .await?;
    Ok(Json(account))
}

#[utoipa::path(get, path = "/v1.0/accounts", tag = "Accounts", responses((status = 200, description = "All accounts")))]
pub async fn list_accounts(State(s): S) -> ApiResult<Json<Vec<Account>>> {
    Ok(Json(s.db(|desk| desk.list_accounts()).await?))
}

#[utoipa::path(get, path = "/v1.0/accounts/{account_id}", tag = "Accounts", params(("account_id" = String, Path)),
    responses((status = 200, description = "The account"), (status = 404, body = crate::ErrorBody)))]
pub async fn get_account(State(s): S, Path(account_id): Path<String>) -> ApiResult<Json<Account>> {
    Ok(Json(s.db(move |desk| desk.get_account(&account_id)).await?))
}

#[utoipa::path(put, path = "/v1.0/accounts/{account_id}", tag = "Accounts", params(("account_id" = String, Path)),
    request_body = UpdateAccount, responses((status = 200, description = "The account"), (status = 404, body = crate::ErrorBody)))]
pub async fn update_account(
    State(s): S,
    Path(account_id): Path<String>,
    ApiJson(b): ApiJson<UpdateAccount>,
) -> ApiResult<Json<Account>> {
    Ok(Json(
        s.db(move |desk| {
            desk.update_account(
                &account_id,
                b.name.as_deref(),
                b.description.as_deref(),
                b.timezone.as_deref(),
            )
        })
        .await?,
    ))
}

#[utoipa::path(delete, path = "/v1.0/accounts/{account_id}", tag = "Accounts", params(("account_id" = String, Path)),
    responses((status = 204, description = "Deleted with its users and account connectors; their tokens are revoked at the providers first where they have an endpoint"), (status = 404, body = crate::ErrorBody)))]
pub async fn delete_account(State(s): S, Path(account_id): Path<String>) -> ApiResult<StatusCode> {
    for (id, report) in s.engine.delete_account(&account_id).await? {
        if !report.errors.is_empty() {
            tracing::warn!(
                account_connector = id,
                "revocation failed: {}",
                report.errors.join("; ")
            );
        }
    }
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/v1.0/accounts/{account_id}/signintoken", tag = "Accounts", params(("account_id" = String, Path)),
    request_body = SignInTokenRequest,
    responses((status = 200, body = SignInTokenView, description = "A single-use token valid 5 minutes; the user is created if new")))]
pub async fn sign_in_token(
    State(s): S,
    Path(account_id): Path<String>,
    ApiJson(b): ApiJson<SignInTokenRequest>,
) -> ApiResult<Json<SignInTokenView>> {
    Ok(Json(
        s.db(move |desk| desk.create_sign_in_token(&account_id, &b.username))
            .await?
            .into(),
    ))
}

#[utoipa::path(post, path = "/v1.0/accounts/{account_id}/launch", tag = "Accounts", params(("account_id" = String, Path)),
    request_body = LaunchBody, responses((status = 200, body = LaunchResult), (status = 400, body = crate::ErrorBody)))]
pub async fn launch(
    State(s): S,
    Path(account_id): Path<String>,
    ApiJson(b): ApiJson<LaunchBody>,
) -> ApiResult<Json<LaunchResult>> {
    let p = b.partner_connector;
    let connectors = s.db(|desk| desk.list_connectors()).await?;
    let connector = connectors
        .iter()
        .find(|c| c.name == p.name && p.version.as_ref().is_none_or(|v| &c.version == v))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                format!(
                    "no library connector is named {:?}{}",
                    p.name,
                    p.version
                        .as_ref()
                        .map(|v| format!(" with version {v:?}"))
                        .unwrap_or_default()
                ),
            )
        })?;
    // Check everything that can be checked before creating anything.
    authdesk_core::AuthValue::parse(
        connector.definition.auth_type(),
        &Secret::new(p.auth_value.clone()),
    )?;
    let connector_id = connector.id.to_string();
    let (account, account_connector) = s
        .db(move |desk| {
            let account = match desk.get_account(&account_id) {
                Ok(a) => a,
                Err(authdesk_core::Error::NotFound { .. }) => desk.create_account(NewAccount {
                    id: Some(account_id.clone()),
                    name: b.account_name.unwrap_or_else(|| account_id.clone()),
                    ..Default::default()
                })?,
                Err(e) => return Err(e),
            };
            let request = InstallRequest {
                name: p.name.clone(),
                description: None,
                auth_value: Some(Secret::new(p.auth_value)),
                properties: properties(p.properties),
            };
            let ac = desk.install(&account.id, &connector_id, request)?;
            Ok((account, ac))
        })
        .await?;
    Ok(Json(LaunchResult {
        account,
        account_connector,
    }))
}

#[utoipa::path(get, path = "/v1.0/connectors", tag = "Connectors", responses((status = 200, description = "The connector library")))]
pub async fn list_connectors(State(s): S) -> ApiResult<Json<Vec<LibraryConnector>>> {
    Ok(Json(s.db(|desk| desk.list_connectors()).await?))
}

#[utoipa::path(get, path = "/v1.0/connectors/{connector_id}", tag = "Connectors", params(("connector_id" = String, Path, description = "Integer Id or the definition's id")),
    responses((status = 200, description = "A library entry"), (status = 404, body = crate::ErrorBody)))]
pub async fn get_connector(
    State(s): S,
    Path(connector_id): Path<String>,
) -> ApiResult<Json<LibraryConnector>> {
    Ok(Json(
        s.db(move |desk| desk.get_connector(&connector_id)).await?,
    ))
}

#[utoipa::path(get, path = "/v1.0/connectors/{connector_id}/methods", tag = "Connectors", params(("connector_id" = String, Path)),
    responses((status = 200, body = Vec<MethodView>)))]
pub async fn connector_methods(
    State(s): S,
    Path(connector_id): Path<String>,
) -> ApiResult<Json<Vec<MethodView>>> {
    let c = s.db(move |desk| desk.get_connector(&connector_id)).await?;
    let views = c
        .definition
        .methods
        .iter()
        .map(|m| MethodView {
            id: m.id.clone(),
            method_unique_identifier: m.id.clone(),
            name: m.name.clone(),
            description: m.description.clone(),
            http_method: match m.http_method {
                HttpMethod::Get => "GET",
                HttpMethod::Post => "POST",
                HttpMethod::Put => "PUT",
                HttpMethod::Patch => "PATCH",
                HttpMethod::Delete => "DELETE",
            }
            .into(),
            path: m.path.clone(),
            parameters: m
                .parameters
                .iter()
                .map(|p| ParameterView {
                    name: p.name.clone(),
                    location: match p.location {
                        ParameterLocation::Path => "Path",
                        ParameterLocation::Query => "Query",
                        ParameterLocation::Header => "Header",
                        ParameterLocation::Body => "Body",
                    }
                    .into(),
                    required: p.required,
                    description: p.description.clone(),
                })
                .collect(),
        })
        .collect();
    Ok(Json(views))
}

#[utoipa::path(put, path = "/v1.0/connectors/{connector_id}/client", tag = "Connectors", params(("connector_id" = String, Path)),
    request_body = ClientBody,
    responses((status = 200, description = "The library entry (ClientSecret is sealed and only reported as set)")))]
pub async fn set_connector_client(
    State(s): S,
    Path(connector_id): Path<String>,
    ApiJson(b): ApiJson<ClientBody>,
) -> ApiResult<Json<LibraryConnector>> {
    let secret = b.client_secret.map(Secret::new);
    Ok(Json(
        s.db(move |desk| desk.set_connector_client(&connector_id, &b.client_id, secret.as_ref()))
            .await?,
    ))
}

#[utoipa::path(post, path = "/v1.0/connectors/{connector_id}/install", tag = "Account connectors", params(("connector_id" = String, Path),
    ("X-Cyclr-Account" = String, Header)), request_body = InstallBody,
    responses((status = 200, description = "The new account connector"), (status = 400, body = crate::ErrorBody)))]
pub async fn install(
    State(s): S,
    AccountScope(account): AccountScope,
    Path(connector_id): Path<String>,
    ApiJson(b): ApiJson<InstallBody>,
) -> ApiResult<Json<AccountConnector>> {
    let request = InstallRequest {
        name: b.name,
        description: b.description,
        auth_value: b.auth_value.map(Secret::new),
        properties: properties(b.properties),
    };
    Ok(Json(
        s.db(move |desk| desk.install(&account, &connector_id, request))
            .await?,
    ))
}

#[utoipa::path(get, path = "/v1.0/account/connectors", tag = "Account connectors", params(("X-Cyclr-Account" = String, Header)),
    responses((status = 200, description = "The account's connectors")))]
pub async fn list_account_connectors(
    State(s): S,
    AccountScope(account): AccountScope,
) -> ApiResult<Json<Vec<AccountConnector>>> {
    Ok(Json(
        s.db(move |desk| desk.list_account_connectors(Some(&account)))
            .await?,
    ))
}

#[utoipa::path(get, path = "/v1.0/account/connectors/{id}", tag = "Account connectors", params(("id" = i64, Path), ("X-Cyclr-Account" = String, Header)),
    responses((status = 200, description = "The account connector: status, expiry, which secrets are set (never their values)"), (status = 404, body = crate::ErrorBody)))]
pub async fn get_account_connector(
    State(s): S,
    AccountScope(account): AccountScope,
    Path(id): Path<i64>,
) -> ApiResult<Json<AccountConnector>> {
    check_owner(&s, &account, id).await?;
    Ok(Json(
        s.db(move |desk| desk.get_account_connector(id)).await?,
    ))
}

#[utoipa::path(put, path = "/v1.0/account/connectors/{id}", tag = "Account connectors", params(("id" = i64, Path), ("X-Cyclr-Account" = String, Header)),
    request_body = UpdateAccountConnectorBody, responses((status = 200, description = "The account connector"), (status = 400, body = crate::ErrorBody)))]
pub async fn update_account_connector(
    State(s): S,
    AccountScope(account): AccountScope,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<UpdateAccountConnectorBody>,
) -> ApiResult<Json<AccountConnector>> {
    check_owner(&s, &account, id).await?;
    if b.auth_value.is_none() && b.properties.is_empty() {
        return Err(ApiError::bad_request("send AuthValue and/or Properties"));
    }
    let auth_value = b.auth_value.map(Secret::new);
    let properties = properties(b.properties);
    Ok(Json(
        s.db(move |desk| desk.update_account_connector(id, &properties, auth_value.as_ref()))
            .await?,
    ))
}

#[utoipa::path(delete, path = "/v1.0/account/connectors/{id}", tag = "Account connectors", params(("id" = i64, Path), ("X-Cyclr-Account" = String, Header)),
    responses((status = 204, description = "Deleted; tokens revoked at the provider first where it has an endpoint"), (status = 404, body = crate::ErrorBody)))]
pub async fn delete_account_connector(
    State(s): S,
    AccountScope(account): AccountScope,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    check_owner(&s, &account, id).await?;
    let report = s.engine.delete_account_connector(id).await?;
    if !report.errors.is_empty() {
        tracing::warn!(
            account_connector = id,
            "revocation failed: {}",
            report.errors.join("; ")
        );
    }
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/v1.0/account/connectors/{id}/methods/{method}", tag = "Account connectors",
    params(("id" = i64, Path), ("method" = String, Path, description = "MethodId or MethodUniqueIdentifier"), ("X-Cyclr-Account" = String, Header)),
    request_body = CallBody,
    responses((status = 200, description = "The third party's response: Status, selected Headers, Body"), (status = 409, body = crate::ErrorBody, description = "Needs the user to sign in")))]
pub async fn call_method(
    State(s): S,
    AccountScope(account): AccountScope,
    Path((id, method)): Path<(i64, String)>,
    ApiJson(b): ApiJson<CallBody>,
) -> ApiResult<Json<MethodResponse>> {
    // Ownership is checked by the engine against its cached context: one trip less.
    Ok(Json(
        s.engine
            .call_method_in(Some(&account), id, &method, &b.parameters)
            .await?,
    ))
}

#[utoipa::path(get, path = "/v1.0/settings/target-origins", tag = "Settings", responses((status = 200, body = Origins)))]
pub async fn target_origins(State(s): S) -> ApiResult<Json<Origins>> {
    Ok(Json(Origins {
        origins: s
            .db(|desk| desk.allowed_origins(OriginPurpose::Target))
            .await?,
    }))
}

#[utoipa::path(put, path = "/v1.0/settings/target-origins", tag = "Settings", request_body = Origins,
    responses((status = 200, body = Origins, description = "The allow-list now in force (replaces the old one)"), (status = 400, body = crate::ErrorBody)))]
pub async fn set_target_origins(
    State(s): S,
    ApiJson(b): ApiJson<Origins>,
) -> ApiResult<Json<Origins>> {
    Ok(Json(Origins {
        origins: s
            .db(move |desk| desk.replace_allowed_origins(OriginPurpose::Target, &b.origins))
            .await?,
    }))
}
