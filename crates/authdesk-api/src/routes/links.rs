//! Setup links of an account connector (account-scoped): make one (`{"ExpiresInSeconds"}`,
//! 300..604800, default 300) answering `{"Id","Url","ExpiresAtUtc"}` with the URL on this
//! server's public base; list them (never their tokens); revoke one.
//!
//! Must not: answer a link's token but once, in the URL of the link just made, or touch an
//! account connector of another account (`check_owner`).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::check_owner;
use crate::error::{ApiError, ApiResult};
use crate::guard::{AccountScope, OptionalApiJson};
use crate::AppState;

type S = State<Arc<AppState>>;

#[derive(Default, Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct NewLinkBody {
    /// How long the link works: 300 (5 minutes, the default) to 604800 (7 days).
    pub expires_in_seconds: Option<i64>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct NewLinkView {
    pub id: String,
    /// `<public base>/setup/<token>`: give it to the customer (it works once).
    pub url: String,
    #[schema(value_type = String)]
    pub expires_at_utc: chrono::DateTime<chrono::Utc>,
}

#[utoipa::path(post, path = "/v1.0/account/connectors/{id}/links", tag = "Account connectors",
    params(("id" = i64, Path), ("X-Cyclr-Account" = String, Header)), request_body = NewLinkBody,
    responses((status = 200, body = NewLinkView, description = "A single-use setup link"),
        (status = 400, body = crate::ErrorBody, description = "ExpiresInSeconds outside 300..604800")))]
pub async fn create_link(
    State(s): S,
    AccountScope(account): AccountScope,
    Path(id): Path<i64>,
    OptionalApiJson(body): OptionalApiJson<NewLinkBody>,
) -> ApiResult<Json<NewLinkView>> {
    check_owner(&s, &account, id).await?;
    let ttl = match body.expires_in_seconds {
        Some(n) => chrono::Duration::seconds(n),
        None => authdesk_core::setup_links::DEFAULT_TTL,
    };
    let link = s.db(move |desk| desk.create_setup_link(id, ttl)).await?;
    Ok(Json(NewLinkView {
        url: format!("{}/setup/{}", s.public_base(), link.token.expose()),
        id: link.id,
        expires_at_utc: link.expires_at_utc,
    }))
}

#[utoipa::path(get, path = "/v1.0/account/connectors/{id}/links", tag = "Account connectors",
    params(("id" = i64, Path), ("X-Cyclr-Account" = String, Header)),
    responses((status = 200, description = "The account connector's setup links (Id, CreatedAt, ExpiresAtUtc, UsedAt, RevokedAt, Status), newest first")))]
pub async fn list_links(
    State(s): S,
    AccountScope(account): AccountScope,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<authdesk_core::setup_links::SetupLink>>> {
    check_owner(&s, &account, id).await?;
    Ok(Json(s.db(move |desk| desk.setup_links(Some(id))).await?))
}

#[utoipa::path(delete, path = "/v1.0/account/connectors/{id}/links/{link_id}", tag = "Account connectors",
    params(("id" = i64, Path), ("link_id" = String, Path), ("X-Cyclr-Account" = String, Header)),
    responses((status = 200, description = "The link, revoked: it opens nothing any more"),
        (status = 404, body = crate::ErrorBody)))]
pub async fn revoke_link(
    State(s): S,
    AccountScope(account): AccountScope,
    Path((id, link_id)): Path<(i64, String)>,
) -> ApiResult<Json<authdesk_core::setup_links::SetupLink>> {
    check_owner(&s, &account, id).await?;
    let lid = link_id.clone();
    let belongs = s
        .db(move |desk| Ok(desk.setup_links(Some(id))?.iter().any(|l| l.id == lid)))
        .await?;
    if !belongs {
        return Err(ApiError::from(authdesk_core::Error::not_found(
            "setup link",
            &link_id,
        )));
    }
    Ok(Json(
        s.db(move |desk| desk.revoke_setup_link(&link_id)).await?,
    ))
}
