//! An MCP server connector's tools through the API: list them, call one. Account-scoped
//! like every `/account/connectors` call when `X-Cyclr-Account` is sent (a token limited to
//! one account always is); with the API key alone, any account connector.
//!
//! Must not: reach an account connector of another account than the caller's.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::Json;
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::error::ApiResult;
use crate::guard::ApiJson;
use crate::AppState;

type S = State<Arc<AppState>>;

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct McpCallBody {
    /// The tool's name, as `mcp/tools` lists it.
    pub tool: String,
    /// The tool's arguments (a JSON object; `{}` when left out).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub arguments: Option<Value>,
}

/// The account `X-Cyclr-Account` names, if any (checked like `AccountScope`).
fn account_of(headers: &HeaderMap) -> ApiResult<Option<String>> {
    match headers
        .get("x-cyclr-account")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
    {
        Some(a) => Ok(Some(authdesk_core::service::parse_guid(a)?)),
        None => Ok(None),
    }
}

#[utoipa::path(get, path = "/v1.0/account/connectors/{id}/mcp/tools", tag = "Account connectors",
    params(("id" = i64, Path), ("X-Cyclr-Account" = Option<String>, Header)),
    responses((status = 200, description = "The MCP server's tools: MCP tool objects (name, description, inputSchema)"),
        (status = 400, body = crate::ErrorBody, description = "Not an MCP server's account connector")))]
pub async fn tools(State(s): S, headers: HeaderMap, Path(id): Path<i64>) -> ApiResult<Json<Value>> {
    let account = account_of(&headers)?;
    let tools = s.engine.mcp_tools(account.as_deref(), id).await?;
    Ok(Json(serde_json::to_value(tools).unwrap_or_default()))
}

#[utoipa::path(post, path = "/v1.0/account/connectors/{id}/mcp/call", tag = "Account connectors",
    params(("id" = i64, Path), ("X-Cyclr-Account" = Option<String>, Header)), request_body = McpCallBody,
    responses((status = 200, description = "The tool's result (MCP CallToolResult; isError true when the tool failed)"),
        (status = 400, body = crate::ErrorBody)))]
pub async fn call(
    State(s): S,
    headers: HeaderMap,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<McpCallBody>,
) -> ApiResult<Json<Value>> {
    let account = account_of(&headers)?;
    let arguments = body.arguments.unwrap_or_else(|| serde_json::json!({}));
    Ok(Json(
        s.engine
            .mcp_call(account.as_deref(), id, &body.tool, arguments)
            .await?,
    ))
}
