//! Accounts: create, list, read, update, delete; sign-in tokens; LAUNCH.
//!
//! Must not: let a token limited to one account link it to another (`ParentAccountId`),
//! write part of a LAUNCH (every install is prepared first; the core writes them all in one
//! transaction), or delete an account but through the engine (it revokes the tokens first).

use std::sync::Arc;

use authdesk_core::settings::SignInToken;
use authdesk_core::{
    Account, AccountConnector, AccountSettings, AccountUpdate, InstallRequest, NewAccount, Secret,
};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{properties, Paging, Property};
use crate::error::{ApiError, ApiResult};
use crate::guard::{ApiJson, OptionalApiJson};
use crate::AppState;

type S = State<Arc<AppState>>;

/// Cyclr's create-account body (`pages/v2/10-accounts-and-connectors/01-create-account.md`).
/// The step-data and transaction-webhook settings are for features Authdesk does not have:
/// they are stored and returned as given.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct CreateAccount {
    /// A GUID; generated when absent.
    pub id: Option<String>,
    pub name: String,
    pub description: Option<String>,
    /// IANA time zone name, e.g. Europe/London (default UTC).
    pub timezone: Option<String>,
    pub step_data_success_retention_hours: Option<i64>,
    pub step_data_errored_retention_hours: Option<i64>,
    pub transaction_error_webhook_enabled: Option<bool>,
    pub transaction_error_webhook_url: Option<String>,
    pub transaction_error_webhook_include_warnings: Option<bool>,
    /// Makes this a sub-account of an existing account.
    pub parent_account_id: Option<String>,
}

/// Any subset of the account's fields (unset ones are kept).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct UpdateAccount {
    pub name: Option<String>,
    pub description: Option<String>,
    pub timezone: Option<String>,
    pub step_data_success_retention_hours: Option<i64>,
    pub step_data_errored_retention_hours: Option<i64>,
    pub transaction_error_webhook_enabled: Option<bool>,
    pub transaction_error_webhook_url: Option<String>,
    pub transaction_error_webhook_include_warnings: Option<bool>,
    pub parent_account_id: Option<String>,
}

/// Optional as a whole: Cyclr's "authenticate link" page shows the request without a
/// `Content-Type`, and the body may be left out.
#[derive(Deserialize, ToSchema, Default)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct SignInTokenRequest {
    /// The account user the token is for (created if new); without it, the token is for
    /// the account with no account user.
    pub username: Option<String>,
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

/// One connector LAUNCH installs already authenticated (Cyclr's `PartnerConnector`, or an
/// entry of `ConnectorAuthentications`).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct LaunchConnector {
    /// The library connector's name.
    pub name: String,
    pub version: Option<String>,
    /// Which way to authenticate (optional when the connector has one).
    pub authentication_id: Option<String>,
    /// Optional, as Cyclr documents it: without it (or null, or "") the account connector
    /// is installed unauthenticated, for the browser flow to sign in.
    pub auth_value: Option<String>,
    #[serde(default, deserialize_with = "super::null_as_empty")]
    pub properties: Vec<Property>,
}

/// Cyclr's LAUNCH body (`pages/v2/04-embedding/04-launch/04-deploy-launch.md`, and the
/// partner connector form of `03-install-a-partner-connector.md`). Authdesk installs and
/// authenticates the connectors; the fields about Cyclr's templates and its launch UI are
/// accepted and ignored (Start, RunOnce, Tags, InlineOAuth, AutoInstall, SingleInstall,
/// CompleteParameter, Wizard, DisplayDescriptions).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
#[allow(dead_code)] // Cyclr's template and launch-UI fields: accepted, not used.
pub struct LaunchBody {
    /// Name for the account when it does not exist yet (default: its Id).
    pub account_name: Option<String>,
    pub account_description: Option<String>,
    pub partner_connector: Option<LaunchConnector>,
    #[serde(default, deserialize_with = "super::null_as_empty")]
    pub connector_authentications: Vec<LaunchConnector>,
    pub start: Option<bool>,
    pub run_once: Option<bool>,
    #[schema(value_type = Option<Vec<String>>)]
    pub tags: Option<serde_json::Value>,
    pub inline_o_auth: Option<bool>,
    pub auto_install: Option<bool>,
    pub single_install: Option<bool>,
    pub complete_parameter: Option<String>,
    pub wizard: Option<bool>,
    pub display_descriptions: Option<bool>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct LaunchResult {
    /// Cyclr's answer names the account by `AccountId`.
    pub account_id: String,
    #[schema(value_type = Object)]
    pub account: Account,
    /// The first (or only) connector installed.
    #[schema(value_type = Object)]
    pub account_connector: AccountConnector,
    #[schema(value_type = Vec<Object>)]
    pub account_connectors: Vec<AccountConnector>,
}

fn settings_of(
    a: Option<i64>,
    b: Option<i64>,
    c: Option<bool>,
    d: Option<String>,
    e: Option<bool>,
    f: Option<String>,
) -> AccountSettings {
    AccountSettings {
        step_data_success_retention_hours: a,
        step_data_errored_retention_hours: b,
        transaction_error_webhook_enabled: c,
        transaction_error_webhook_url: d,
        transaction_error_webhook_include_warnings: e,
        parent_account_id: f,
    }
}

#[utoipa::path(post, path = "/v1.0/accounts", request_body = CreateAccount, tag = "Accounts",
    responses((status = 200, description = "The account (with Cyclr's CreatedDate)"), (status = 400, body = crate::ErrorBody), (status = 409, body = crate::ErrorBody)))]
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
                settings: settings_of(
                    b.step_data_success_retention_hours,
                    b.step_data_errored_retention_hours,
                    b.transaction_error_webhook_enabled,
                    b.transaction_error_webhook_url,
                    b.transaction_error_webhook_include_warnings,
                    b.parent_account_id,
                ),
            })
        })
        .await?;
    Ok(Json(account))
}

#[utoipa::path(get, path = "/v1.0/accounts", tag = "Accounts", params(Paging),
    responses((status = 200, description = "The accounts (a page of them with per_page; headers Total-Pages and Total-Records)")))]
pub async fn list_accounts(
    State(s): S,
    Query(paging): Query<Paging>,
) -> ApiResult<(HeaderMap, Json<Vec<Account>>)> {
    let (offset, limit) = paging.window()?;
    let page = s
        .db(move |desk| desk.accounts_page(None, offset, limit))
        .await?;
    Ok((paging.headers(page.total), Json(page.items)))
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
    limited: Option<axum::Extension<crate::guard::LimitedTo>>,
    ApiJson(b): ApiJson<UpdateAccount>,
) -> ApiResult<Json<Account>> {
    let links = b
        .parent_account_id
        .as_deref()
        .is_some_and(|p| !p.trim().is_empty());
    if let (Some(axum::Extension(crate::guard::LimitedTo(account))), true) = (limited, links) {
        return Err(ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            format!(
                "this token is limited to account {account} (scope=account:{account}); it cannot \
                 link the account to another (ParentAccountId): use an unrestricted token"
            ),
        ));
    }
    let update = AccountUpdate {
        name: b.name,
        description: b.description,
        timezone: b.timezone,
        settings: settings_of(
            b.step_data_success_retention_hours,
            b.step_data_errored_retention_hours,
            b.transaction_error_webhook_enabled,
            b.transaction_error_webhook_url,
            b.transaction_error_webhook_include_warnings,
            b.parent_account_id,
        ),
    };
    Ok(Json(
        s.db(move |desk| desk.update_account(&account_id, update))
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
    request_body = Option<SignInTokenRequest>,
    responses((status = 200, body = SignInTokenView, description = "A single-use token valid 5 minutes; the user is created if new (the body, and Username, may be left out)")))]
pub async fn sign_in_token(
    State(s): S,
    Path(account_id): Path<String>,
    client: Option<axum::Extension<crate::guard::ApiClientCaller>>,
    OptionalApiJson(b): OptionalApiJson<SignInTokenRequest>,
) -> ApiResult<Json<SignInTokenView>> {
    let issued_by = client.map(|axum::Extension(crate::guard::ApiClientCaller(id))| id);
    Ok(Json(
        s.db(move |desk| {
            desk.create_sign_in_token_for(&account_id, b.username.as_deref(), issued_by.as_deref())
        })
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
    let mut wanted: Vec<LaunchConnector> = b.partner_connector.into_iter().collect();
    wanted.extend(b.connector_authentications);
    if wanted.is_empty() {
        return Err(ApiError::bad_request(
            "send PartnerConnector or ConnectorAuthentications: the connectors to install",
        ));
    }
    let (account_name, account_description) = (b.account_name, b.account_description);
    let (account, installed) = s
        .db(move |desk| {
            // Check everything that can be checked before writing anything; then the account
            // and every install are written in one transaction.
            let mut installs = Vec::new();
            for (i, c) in wanted.into_iter().enumerate() {
                let connector = desk
                    .get_connector_by_name(&c.name, c.version.as_deref())
                    .map_err(|_| authdesk_core::Error::NotFound {
                        what: "library connector",
                        id: format!(
                            "{}{}",
                            c.name,
                            c.version
                                .as_ref()
                                .map(|v| format!(" {v}"))
                                .unwrap_or_default()
                        ),
                        hint: format!(
                            " (connector {} of the LAUNCH body): install it in the library first",
                            i + 1
                        ),
                    })?;
                let entry = |e: String| {
                    authdesk_core::Error::InvalidInput(format!(
                        "connector {} of the LAUNCH body ({}): {e}; nothing was created",
                        i + 1,
                        c.name
                    ))
                };
                let props = properties(&connector.definition, c.properties)
                    .map_err(|e| entry(e.message))?;
                let request = InstallRequest {
                    name: c.name.clone(),
                    description: None,
                    authentication_id: c.authentication_id.clone(),
                    auth_value: c.auth_value.filter(|v| !v.is_empty()).map(Secret::new),
                    properties: props,
                    partner_integration: true,
                };
                let install = desk
                    .prepare_install(&connector.id.to_string(), request)
                    .map_err(|e| match e {
                        authdesk_core::Error::InvalidInput(_)
                        | authdesk_core::Error::InvalidAuthValue { .. } => entry(e.to_string()),
                        other => other,
                    })?;
                installs.push(install);
            }
            desk.launch(
                NewAccount {
                    id: Some(account_id.clone()),
                    name: account_name.unwrap_or_else(|| account_id.clone()),
                    description: account_description,
                    ..Default::default()
                },
                installs,
            )
        })
        .await?;
    Ok(Json(LaunchResult {
        account_id: account.id.clone(),
        account,
        account_connector: installed[0].clone(),
        account_connectors: installed,
    }))
}
