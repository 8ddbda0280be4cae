//! The OpenAPI 3 document, generated from the handlers' annotations (utoipa).

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::{oauth, routes};

#[derive(OpenApi)]
#[openapi(
    info(title = "Authdesk local API", description = "Cyclr-compatible connector authentication on the desktop. \
        Every /v1.0 call needs `Authorization: Bearer <token>`: a token from `POST /oauth/token` (OAuth client \
        credentials of a client made with `authdesk api-clients create`, as Cyclr documents; `scope=account:{AccountId}` \
        limits it to one account), or the local API key (`authdesk api-key`, Authdesk's own addition for scripts). \
        Account-scoped calls also send `X-Cyclr-Account: <AccountId>`. Listens on loopback only."),
    paths(
        routes::create_account, routes::list_accounts, routes::get_account, routes::update_account,
        routes::delete_account, routes::sign_in_token, routes::launch, routes::list_connectors,
        routes::get_connector, routes::connector_methods, routes::set_connector_client, routes::install,
        routes::list_account_connectors, routes::get_account_connector, routes::update_account_connector,
        routes::delete_account_connector, routes::call_method, routes::target_origins, routes::set_target_origins,
        oauth::token,
    ),
    components(schemas(crate::ErrorBody, oauth::TokenAnswer)),
    modifiers(&BearerKey),
    security(("api_key" = []))
)]
struct ApiDoc;

struct BearerKey;

impl Modify for BearerKey {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
