//! Webhook endpoints (owner only: a token limited to one account gets 403): add one
//! (`{"Url","AccountId","Events","AllowLoopback","AllowPrivate"}`, answering
//! `{"Id","Url","Secret",...}` with the `whsec_` secret this once), list, remove, and the
//! delivery attempts.
//!
//! Must not: answer a secret but once, at creation, or check a URL itself (the engine does).

use std::sync::Arc;

use authdesk_core::service::webhooks::{NewWebhookEndpoint, WebhookDelivery, WebhookEndpoint};
use axum::extract::{Path, Query, State};
use axum::Json;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiResult;
use crate::guard::ApiJson;
use crate::AppState;

type S = State<Arc<AppState>>;

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct NewEndpointBody {
    /// https (http only on a loopback host, with AllowLoopback).
    pub url: String,
    /// Only this account's events; all accounts' when absent.
    pub account_id: Option<String>,
    /// The event types (`account_connector.authenticated`, ...); all when absent or empty.
    #[serde(default)]
    pub events: Vec<String>,
    #[serde(default)]
    pub allow_loopback: bool,
    #[serde(default)]
    pub allow_private: bool,
}

#[utoipa::path(post, path = "/v1.0/webhooks", tag = "Webhooks", request_body = NewEndpointBody,
    responses((status = 200, description = "The endpoint: Id, Url, Secret (whsec_, shown this once), AccountId, Events"),
        (status = 400, body = crate::ErrorBody, description = "A URL, an address or an event that is refused, named")))]
pub async fn add_endpoint(
    State(s): S,
    ApiJson(b): ApiJson<NewEndpointBody>,
) -> ApiResult<Json<serde_json::Value>> {
    let (e, secret) = s
        .engine
        .add_webhook(NewWebhookEndpoint {
            url: b.url,
            account_id: b.account_id,
            events: b.events,
            allow_loopback: b.allow_loopback,
            allow_private: b.allow_private,
        })
        .await?;
    let mut v = serde_json::to_value(&e).unwrap_or_default();
    v["Secret"] = secret.expose().into();
    Ok(Json(v))
}

#[utoipa::path(get, path = "/v1.0/webhooks", tag = "Webhooks",
    responses((status = 200, description = "The endpoints (never their secrets)")))]
pub async fn list_endpoints(State(s): S) -> ApiResult<Json<Vec<WebhookEndpoint>>> {
    Ok(Json(s.db(|desk| desk.webhook_endpoints()).await?))
}

#[utoipa::path(delete, path = "/v1.0/webhooks/{id}", tag = "Webhooks", params(("id" = String, Path)),
    responses((status = 200, description = "The endpoint removed, with what it had still to receive"), (status = 404, body = crate::ErrorBody)))]
pub async fn remove_endpoint(
    State(s): S,
    Path(id): Path<String>,
) -> ApiResult<Json<WebhookEndpoint>> {
    Ok(Json(
        s.db(move |desk| desk.remove_webhook_endpoint(&id)).await?,
    ))
}

#[derive(Deserialize, IntoParams)]
pub struct DeliveriesQuery {
    /// One endpoint's attempts.
    endpoint: Option<String>,
    /// At most this many, newest first (default 100, at most 1000).
    limit: Option<usize>,
}

#[utoipa::path(get, path = "/v1.0/webhooks/deliveries", tag = "Webhooks", params(DeliveriesQuery),
    responses((status = 200, description = "Delivery attempts, newest first: At, StatusCode or Error, NextRetryAt")))]
pub async fn deliveries(
    State(s): S,
    Query(q): Query<DeliveriesQuery>,
) -> ApiResult<Json<Vec<WebhookDelivery>>> {
    let limit = q.limit.unwrap_or(100).min(1000);
    Ok(Json(
        s.db(move |desk| desk.webhook_deliveries(q.endpoint.as_deref(), limit))
            .await?,
    ))
}
