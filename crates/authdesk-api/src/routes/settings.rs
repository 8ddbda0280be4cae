//! Owner settings reachable through the API: the targetOrigin allow-list.
//!
//! Must not: reach the CORS list (only the targetOrigin allow-list is exposed here), or
//! normalise or check an origin itself (the core does).

use std::sync::Arc;

use authdesk_core::settings::OriginPurpose;
use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ApiResult;
use crate::guard::ApiJson;
use crate::AppState;

type S = State<Arc<AppState>>;

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Origins {
    /// Exact origins (`https://partner.example`, `http://127.0.0.1:5173`).
    pub origins: Vec<String>,
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
