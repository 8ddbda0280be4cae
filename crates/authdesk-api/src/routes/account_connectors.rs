//! Account connectors (account-scoped: `X-Cyclr-Account`): list, read, update, set a
//! property, delete, and call a method.
//!
//! Must not: touch an account connector of another account (`check_owner`, or the engine's
//! own check for a method call: 404 as for no such Id), answer an AuthValue, or switch the
//! way to authenticate but through the engine (it revokes the tokens the old way held).

use std::sync::Arc;

use authdesk_core::engine::methods::MethodResponse;
use authdesk_core::{AccountConnector, AccountConnectorChange, Secret};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::de::IgnoredAny;
use serde::Deserialize;
use utoipa::ToSchema;

use super::{check_owner, properties, Paging, Property};
use crate::error::{ApiError, ApiResult};
use crate::guard::{AccountScope, ApiJson};
use crate::AppState;

type S = State<Arc<AppState>>;

/// Cyclr documents `AuthValue` (`04-authentication/02-api-key-authentication.md`, whose
/// example body is a whole account connector); Authdesk also takes the install body's other
/// fields. The read-only fields of the answer (`Authenticated`, `Connector`, ...) may come
/// along, so a GET's answer can be changed and sent back: they are ignored. `Id`, when
/// sent, must be the Id in the path.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
#[allow(dead_code)] // the read-only fields
pub struct UpdateAccountConnectorBody {
    pub name: Option<String>,
    pub description: Option<String>,
    /// Switch to another of the connector's `Authentication` entries (its `Id`); the
    /// stored credential is forgotten unless an AuthValue comes with it.
    pub authentication_id: Option<String>,
    pub auth_value: Option<String>,
    #[serde(default, deserialize_with = "super::null_as_empty")]
    pub properties: Vec<Property>,
    pub id: Option<i64>,
    // The answer's read-only fields: accepted, ignored.
    #[schema(ignore)]
    account_id: Option<IgnoredAny>,
    #[schema(ignore)]
    authenticated: Option<IgnoredAny>,
    #[schema(ignore)]
    status: Option<IgnoredAny>,
    #[schema(ignore)]
    last_error: Option<IgnoredAny>,
    #[schema(ignore)]
    connector: Option<IgnoredAny>,
    #[schema(ignore)]
    authentication: Option<IgnoredAny>,
    #[schema(ignore)]
    is_partner_integration_connector: Option<IgnoredAny>,
    #[schema(ignore)]
    custom_fields: Option<IgnoredAny>,
    #[schema(ignore)]
    missing_properties: Option<IgnoredAny>,
    #[schema(ignore)]
    secrets_set: Option<IgnoredAny>,
    #[schema(ignore)]
    sign_in_mode: Option<IgnoredAny>,
    #[schema(ignore)]
    token_type: Option<IgnoredAny>,
    #[schema(ignore)]
    scopes: Option<IgnoredAny>,
    #[schema(ignore)]
    expires_at: Option<IgnoredAny>,
    #[schema(ignore)]
    refresh_expires_at: Option<IgnoredAny>,
    #[schema(ignore)]
    authenticated_at: Option<IgnoredAny>,
    #[schema(ignore)]
    created_at: Option<IgnoredAny>,
    #[schema(ignore)]
    updated_at: Option<IgnoredAny>,
    #[schema(ignore)]
    last_check: Option<IgnoredAny>,
    #[schema(ignore)]
    last_checked_at: Option<IgnoredAny>,
}

/// Cyclr's one-property body (`POST .../properties`).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct PropertyBody {
    pub name: Option<String>,
    pub id: Option<i64>,
    pub value: String,
}

/// Cyclr's call body (`pages/v2/11-data-on-demand/05-call-a-connector-method.md`):
/// `Parameters` and `Fields` keyed by their Id (or, in Authdesk, by name); `{}` when there
/// are none.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct CallBody {
    #[serde(default)]
    #[schema(value_type = Object)]
    pub parameters: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub fields: serde_json::Map<String, serde_json::Value>,
}

#[utoipa::path(get, path = "/v1.0/account/connectors", tag = "Account connectors", params(("X-Cyclr-Account" = String, Header), Paging),
    responses((status = 200, description = "The account's connectors (a page with per_page; headers Total-Pages and Total-Records)")))]
pub async fn list_account_connectors(
    State(s): S,
    AccountScope(account): AccountScope,
    Query(paging): Query<Paging>,
) -> ApiResult<(HeaderMap, Json<Vec<AccountConnector>>)> {
    let (offset, limit) = paging.window()?;
    let filter = authdesk_core::AccountConnectorFilter {
        account_id: Some(account),
        ..Default::default()
    };
    let page = s
        .db(move |desk| desk.account_connectors_page(&filter, offset, limit))
        .await?;
    Ok((paging.headers(page.total), Json(page.items)))
}

#[utoipa::path(get, path = "/v1.0/account/connectors/{id}", tag = "Account connectors", params(("id" = i64, Path), ("X-Cyclr-Account" = String, Header)),
    responses((status = 200, description = "The account connector: status, expiry, which secrets are set (never their values: AuthValue is null)"), (status = 404, body = crate::ErrorBody)))]
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
    if b.id.is_some_and(|given| given != id) {
        return Err(ApiError::bad_request(format!(
            "Id {} in the body is not the account connector {id} of the path: leave Id out, or send the same",
            b.id.unwrap_or_default()
        )));
    }
    let empty = b.auth_value.is_none()
        && b.properties.is_empty()
        && b.name.is_none()
        && b.description.is_none()
        && b.authentication_id.is_none();
    if empty {
        return Err(ApiError::bad_request(
            "send AuthValue, Properties, Name, Description and/or AuthenticationId",
        ));
    }
    let credential_set = b.auth_value.is_some();
    let change = s
        .db(move |desk| {
            let (_, def) = desk.account_connector_with_definition(id)?;
            let props = properties(&def, b.properties)
                .map_err(|e| authdesk_core::Error::InvalidInput(e.message))?;
            Ok(AccountConnectorChange {
                name: b.name,
                description: b.description,
                authentication_id: b.authentication_id,
                properties: props,
                auth_value: b.auth_value.map(Secret::new),
            })
        })
        .await?;
    // Through the engine: a switch of the way to authenticate revokes the old tokens.
    let (changed, report) = s.engine.change_account_connector(id, change).await?;
    if !report.errors.is_empty() {
        tracing::warn!(
            account_connector = id,
            "revocation failed: {}",
            report.errors.join("; ")
        );
    }
    // A new credential is checked at once where the connector names a check.
    if credential_set && s.engine.check_if_named(id).await.is_some() {
        return Ok(Json(
            s.db(move |desk| desk.get_account_connector(id)).await?,
        ));
    }
    Ok(Json(changed))
}

#[utoipa::path(post, path = "/v1.0/account/connectors/{id}/properties", tag = "Account connectors", params(("id" = i64, Path), ("X-Cyclr-Account" = String, Header)),
    request_body = PropertyBody, responses((status = 200, description = "The account connector"), (status = 400, body = crate::ErrorBody)))]
pub async fn set_property(
    State(s): S,
    AccountScope(account): AccountScope,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<PropertyBody>,
) -> ApiResult<Json<AccountConnector>> {
    check_owner(&s, &account, id).await?;
    let changed = s
        .db(move |desk| {
            let (_, def) = desk.account_connector_with_definition(id)?;
            let props = properties(
                &def,
                vec![Property {
                    name: b.name,
                    id: b.id,
                    value: Some(super::PropertyValue::One(b.value)),
                    account_connector_id: None,
                    is_secret: None,
                }],
            )
            .map_err(|e| authdesk_core::Error::InvalidInput(e.message))?;
            desk.update_account_connector(id, &props, None)
        })
        .await?;
    Ok(Json(changed))
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
    if let Some(why) = &report.not_revoked {
        tracing::warn!(account_connector = id, "deleted; {why}");
    }
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/v1.0/account/connectors/{id}/methods/{method}", tag = "Account connectors",
    params(("id" = i64, Path), ("method" = String, Path, description = "MethodUniqueIdentifier, the integer method Id, or the method's name"), ("X-Cyclr-Account" = String, Header)),
    request_body = CallBody,
    responses((status = 200, description = "The third party's response: Status, selected Headers, Body"), (status = 409, body = crate::ErrorBody, description = "Needs the user to sign in")))]
pub async fn call_method(
    State(s): S,
    AccountScope(account): AccountScope,
    Path((id, method)): Path<(i64, String)>,
    ApiJson(b): ApiJson<CallBody>,
) -> ApiResult<Json<MethodResponse>> {
    let mut parameters = b.parameters;
    for (key, value) in b.fields {
        if parameters.insert(key.clone(), value).is_some() {
            return Err(ApiError::bad_request(format!(
                "`{key}` is in both Parameters and Fields"
            )));
        }
    }
    // Ownership is checked by the engine against its cached context: one trip less.
    Ok(Json(
        s.engine
            .call_method_in(Some(&account), id, &method, &parameters)
            .await?,
    ))
}

#[utoipa::path(post, path = "/v1.0/account/connectors/{id}/device", tag = "Account connectors",
    params(("id" = i64, Path), ("X-Cyclr-Account" = String, Header)),
    responses((status = 200, description = "Device sign-in (RFC 8628) started: VerificationUri, UserCode, VerificationUriComplete, ExpiresIn. The server polls until the user approves, refuses or the code expires; the account connector's Status says how it ended"),
        (status = 400, body = crate::ErrorBody)))]
pub async fn start_device_sign_in(
    State(s): S,
    AccountScope(account): AccountScope,
    Path(id): Path<i64>,
) -> ApiResult<Json<serde_json::Value>> {
    check_owner(&s, &account, id).await?;
    let start = s.engine.begin_device_sign_in(id).await?;
    // What the user needs, before the poll takes the start away (the device code is never
    // serialized).
    let shown = serde_json::to_value(&start)
        .map_err(|e| ApiError::from(authdesk_core::Error::Internal(e.to_string())))?;
    // The poll runs on in this server (one replica polls; any replica reads the result).
    let engine = s.engine.clone();
    tokio::spawn(async move {
        if let Err(e) = engine.complete_device_sign_in(&start).await {
            tracing::info!(account_connector = id, "device sign-in ended: {e}");
        }
    });
    Ok(Json(shown))
}

#[utoipa::path(post, path = "/v1.0/account/connectors/{id}/check", tag = "Account connectors",
    params(("id" = i64, Path), ("X-Cyclr-Account" = String, Header)),
    responses((status = 200, description = "The connector's [check] request sent with the credential: Valid, Status (its HTTP status), CheckedAt"),
        (status = 400, body = crate::ErrorBody, description = "The connector names no check request")))]
pub async fn check_credential(
    State(s): S,
    AccountScope(account): AccountScope,
    Path(id): Path<i64>,
) -> ApiResult<Json<authdesk_core::engine::check::CheckResult>> {
    check_owner(&s, &account, id).await?;
    Ok(Json(s.engine.check(id).await?))
}
