//! The connector library: list, read, methods, the library OAuth app, and install.
//!
//! Must not: answer the library OAuth app's ClientSecret (the entry only says it is set), or
//! install into an account other than the caller's `X-Cyclr-Account`.

use std::sync::Arc;

use authdesk_core::definition::{HttpMethod, ParameterLocation};
use authdesk_core::service::PrivateKeySource;
use authdesk_core::{
    AccountConnector, ClientSecretChange, InstallRequest, LibraryConnector, Secret,
};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{properties, Paging, Property};
use crate::error::{ApiError, ApiResult};
use crate::guard::{AccountScope, ApiJson};
use crate::AppState;

type S = State<Arc<AppState>>;

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ClientBody {
    pub client_id: String,
    /// A new ClientSecret. Omitted: the stored one is kept (an error if there is none and
    /// `Public` is not true).
    pub client_secret: Option<String>,
    /// True: a public client, without a secret (the stored one is removed).
    pub public: Option<bool>,
    /// For `client_auth = "private_key_jwt"`: the app's private key, PEM (sealed; only its
    /// public JWK is ever returned, as `PublicJwk`). A ClientSecret stays as it was.
    pub private_key: Option<String>,
    /// True: make a new EC P-256 key here instead (its public JWK is returned as `PublicJwk`).
    pub generate_key: Option<bool>,
}

/// Cyclr's install body (`pages/v2/10-accounts-and-connectors/03-install-connectors/02-install-connector-api.md`).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct InstallBody {
    pub name: String,
    pub description: Option<String>,
    /// Which of the connector's `Authentication` entries to use (its `Id`; default: the
    /// connector's default).
    pub authentication_id: Option<String>,
    /// Cyclr's AuthValue: token JSON as a string, "{}", an API key, or base64 user:password.
    pub auth_value: Option<String>,
    #[serde(default, deserialize_with = "super::null_as_empty")]
    pub properties: Vec<Property>,
}

/// A method as Cyclr lists them (`pages/v2/11-data-on-demand/04-get-connector-methods.md`),
/// plus Authdesk's details of how it is called.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct MethodView {
    /// Cyclr's integer method Id (stable for this connector and method).
    pub id: i64,
    /// The method's id in the definition; also accepted when calling it.
    pub method_unique_identifier: String,
    pub name: String,
    pub description: String,
    /// The URL template it calls.
    pub end_point: String,
    pub http_method: String,
    pub path: String,
    pub parameters: Vec<MethodParameterView>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct MethodParameterView {
    /// The key Cyclr's `Parameters` use for it (the name is accepted too).
    pub id: i64,
    pub name: String,
    pub location: String,
    pub required: bool,
    pub description: String,
}

/// Narrows the library: by `category` (`crm`, `accounting`, ...) and by `search` (part of
/// the name or id, any case).
#[derive(serde::Deserialize, utoipa::IntoParams)]
pub struct LibraryFilter {
    pub category: Option<String>,
    pub search: Option<String>,
}

#[utoipa::path(get, path = "/v1.0/connectors", tag = "Connectors", params(Paging, LibraryFilter),
    responses((status = 200, description = "The connector library, each with its Authentication and Parameters arrays (a page with per_page; headers Total-Pages and Total-Records)")))]
pub async fn list_connectors(
    State(s): S,
    Query(paging): Query<Paging>,
    Query(filter): Query<LibraryFilter>,
) -> ApiResult<(HeaderMap, Json<Vec<LibraryConnector>>)> {
    let all = s
        .db(move |desk| {
            desk.search_connectors(filter.category.as_deref(), filter.search.as_deref())
        })
        .await?;
    let (headers, page) = paging.apply(all)?;
    Ok((headers, Json(page)))
}

#[utoipa::path(get, path = "/v1.0/connectors/{connector_id}", tag = "Connectors", params(("connector_id" = String, Path, description = "Integer Id, the definition's id, or the connector's name")),
    responses((status = 200, description = "A library entry"), (status = 404, body = crate::ErrorBody)))]
pub async fn get_connector(
    State(s): S,
    Path(connector_id): Path<String>,
) -> ApiResult<Json<LibraryConnector>> {
    Ok(Json(
        s.db(move |desk| desk.get_connector_by_name(&connector_id, None))
            .await?,
    ))
}

#[utoipa::path(get, path = "/v1.0/connectors/{connector}/methods", tag = "Connectors", params(("connector" = String, Path, description = "The connector's name (as Cyclr's documentation addresses it), integer Id, or the definition's id")),
    responses((status = 200, body = Vec<MethodView>)))]
pub async fn connector_methods(
    State(s): S,
    Path(connector): Path<String>,
) -> ApiResult<Json<Vec<MethodView>>> {
    methods_of(&s, connector, None).await
}

#[utoipa::path(get, path = "/v1.0/connectors/{connector}/{version}/methods", tag = "Connectors", params(("connector" = String, Path), ("version" = String, Path)),
    responses((status = 200, body = Vec<MethodView>)))]
pub async fn connector_version_methods(
    State(s): S,
    Path((connector, version)): Path<(String, String)>,
) -> ApiResult<Json<Vec<MethodView>>> {
    methods_of(&s, connector, Some(version)).await
}

async fn methods_of(
    s: &AppState,
    connector: String,
    version: Option<String>,
) -> ApiResult<Json<Vec<MethodView>>> {
    let c = s
        .db(move |desk| desk.get_connector_by_name(&connector, version.as_deref()))
        .await?;
    let def = &c.definition;
    let views = def
        .methods
        .iter()
        .map(|m| MethodView {
            id: def.method_number(m),
            method_unique_identifier: m.id.clone(),
            name: m.name.clone(),
            description: m.description.clone(),
            end_point: def
                .method_url(m)
                .map(|t| t.as_str().to_string())
                .unwrap_or_else(|| m.path.clone()),
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
                .map(|p| MethodParameterView {
                    id: def.parameter_number(m, &p.name),
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
    responses((status = 200, description = "The library entry (ClientSecret and PrivateKey are sealed: the secret is only reported as set, the key by its public JWK)"),
        (status = 400, body = crate::ErrorBody)))]
pub async fn set_connector_client(
    State(s): S,
    Path(connector_id): Path<String>,
    ApiJson(b): ApiJson<ClientBody>,
) -> ApiResult<Json<LibraryConnector>> {
    let secret = b.client_secret.map(Secret::new);
    let public = b.public.unwrap_or(false);
    let key = b.private_key.map(Secret::new);
    let generate = b.generate_key.unwrap_or(false);
    let ways = [secret.is_some(), public, key.is_some(), generate];
    if ways.iter().filter(|w| **w).count() > 1 {
        return Err(ApiError::bad_request(
            "give one of ClientSecret, \"Public\": true, PrivateKey or \"GenerateKey\": true",
        ));
    }
    Ok(Json(
        s.db(move |desk| {
            if let Some(pem) = &key {
                let source = PrivateKeySource::Pem(pem);
                return desk.set_connector_client_key(&connector_id, &b.client_id, source);
            }
            if generate {
                let source = PrivateKeySource::Generate;
                return desk.set_connector_client_key(&connector_id, &b.client_id, source);
            }
            let change = match (&secret, public) {
                (Some(secret), _) => ClientSecretChange::Set(secret),
                (None, true) => ClientSecretChange::Public,
                (None, false) => ClientSecretChange::Keep,
            };
            desk.update_connector_client(&connector_id, &b.client_id, change)
        })
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
    let credential_set = b.auth_value.as_deref().is_some_and(|v| v.trim() != "{}");
    let installed = s
        .db(move |desk| {
            let connector = desk.get_connector_by_name(&connector_id, None)?;
            let props = properties(&connector.definition, b.properties)
                .map_err(|e| authdesk_core::Error::InvalidInput(e.message))?;
            let request = InstallRequest {
                name: b.name,
                description: b.description,
                authentication_id: b.authentication_id,
                auth_value: b.auth_value.map(Secret::new),
                properties: props,
                partner_integration: false,
            };
            desk.install(&account, &connector.id.to_string(), request)
        })
        .await?;
    // An AuthValue given with the install is checked at once where the connector names a check.
    let id = installed.id;
    if credential_set && s.engine.check_if_named(id).await.is_some() {
        return Ok(Json(
            s.db(move |desk| desk.get_account_connector(id)).await?,
        ));
    }
    Ok(Json(installed))
}
