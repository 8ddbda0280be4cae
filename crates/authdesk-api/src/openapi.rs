//! The OpenAPI 3 document, generated from the handlers' annotations (utoipa), served at
//! `/openapi.json`.
//!
//! Must not: describe an endpoint's shape by hand (its handler's `#[utoipa::path]` and its
//! body types do), or list a path the router does not serve.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::oauth;
use crate::routes::{account_connectors as ac, accounts, connectors, settings};

#[derive(OpenApi)]
#[openapi(
    info(title = "Authdesk local API", description = "Cyclr-compatible connector authentication on the desktop. \
        Every /v1.0 call needs `Authorization: Bearer <token>`: a token from `POST /oauth/token` (OAuth client \
        credentials of a client made with `authdesk api-clients create`, as Cyclr documents; `scope=account:{AccountId}` \
        limits it to one account), or the local API key (`authdesk api-key`, Authdesk's own addition for scripts). \
        Account-scoped calls also send `X-Cyclr-Account: <AccountId>`. Listens on loopback only."),
    paths(
        accounts::create_account, accounts::list_accounts, accounts::get_account, accounts::update_account,
        accounts::delete_account, accounts::sign_in_token, accounts::launch,
        connectors::list_connectors, connectors::get_connector, connectors::connector_methods,
        connectors::connector_version_methods, connectors::set_connector_client, connectors::install, ac::start_device_sign_in, ac::check_credential,
        crate::routes::mcp::tools, crate::routes::mcp::call,
        crate::routes::links::create_link, crate::routes::links::list_links, crate::routes::links::revoke_link,
        crate::routes::webhooks::add_endpoint, crate::routes::webhooks::list_endpoints,
        crate::routes::webhooks::remove_endpoint, crate::routes::webhooks::deliveries,
        ac::list_account_connectors, ac::get_account_connector, ac::update_account_connector, ac::set_property,
        ac::delete_account_connector, ac::call_method, settings::target_origins, settings::set_target_origins,
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
