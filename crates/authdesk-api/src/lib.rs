//! Authdesk's local HTTP API: Cyclr's API shapes over `authdesk-core`, so code written
//! against Cyclr's sign-in-token and connector-auth endpoints runs against the desktop.
//! Here: the shared state (`AppState`), a team server's `PublicUrl`, the router and the
//! running `Server`.
//!
//! Thin by rule: handlers parse, call the core or the engine, and map views and errors.
//! Loopback only unless started with a public URL (then only that `Host` is answered);
//! every request passes the `Host` check; `/v1.0/*` needs the API key or a token from
//! `POST /oauth/token` and refuses foreign `Origin`s; the browser flow
//! (`/connectorauth/...`, `/connector/callback`) is authorised by single-use sign-in tokens
//! instead. See `ARCHITECTURE.md`.
//!
//! Must not: listen beyond loopback without a `PublicUrl`, run a core call on the async
//! workers (`AppState::db` puts it on a blocking thread), or hold a route's logic (its
//! module does).

pub mod agents;
mod browser;
mod error;
mod fallback;
mod guard;
pub mod loopback;
mod oauth;
mod openapi;
mod routes;
mod setup;

use std::net::SocketAddr;
use std::sync::Arc;

use authdesk_core::{Authdesk, Engine};
use axum::routing::{get, post, put};
use axum::Router;

use error::ApiResult;
pub use error::{ApiError, ErrorBody};
pub use guard::host_allowed;

/// The default listening address; the README states it. Overridable with `--listen`.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8788";

pub struct AppState {
    pub desk: Arc<Authdesk>,
    pub engine: Arc<Engine>,
    /// The port we listen on: part of the `Host` check and of the redirect URI.
    pub port: u16,
    /// The address users' browsers and providers reach a team server at (`--public-url`);
    /// `None`: loopback only.
    pub public: Option<PublicUrl>,
    /// `/mcp`: agents' sessions, the approver, pre-approved tools.
    pub agents: agents::AgentHost,
}

/// A team server's public base URL (`serve --public-url`): https (or http on loopback),
/// no path, query or fragment.
#[derive(Debug, Clone)]
pub struct PublicUrl {
    base: String,
    host: String,
    port: Option<u16>,
    default_port: u16,
}

impl PublicUrl {
    pub fn parse(text: &str) -> authdesk_core::Result<PublicUrl> {
        // A password in it is not repeated back.
        let shown = authdesk_core::store::redacted_url(text);
        let bad = |why: &str| {
            authdesk_core::Error::InvalidInput(format!(
                "--public-url {shown:?} {why}; give the base URL users' browsers and providers \
                 reach this server at, e.g. https://authdesk.example.com"
            ))
        };
        let url = url::Url::parse(text.trim()).map_err(|_| bad("is not a URL"))?;
        let host = url
            .host_str()
            .ok_or_else(|| bad("has no host"))?
            .to_ascii_lowercase();
        let loopback = host == "localhost"
            || host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        match url.scheme() {
            "https" => {}
            "http" if loopback => {}
            "http" => {
                return Err(bad(
                    "must be https (TLS at a reverse proxy, or a loopback address)",
                ))
            }
            _ => return Err(bad("must be an https URL")),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad("must not carry a user name or password"));
        }
        if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
            return Err(bad("must be a base URL without a path, query or fragment"));
        }
        let default_port = if url.scheme() == "https" { 443 } else { 80 };
        let base = url.as_str().trim_end_matches('/').to_string();
        Ok(PublicUrl {
            base,
            host,
            port: url.port(),
            default_port,
        })
    }

    /// `https://host[:port]`, without a trailing slash.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Whether a `Host` header names this public address exactly (the port may be left
    /// out when it is the scheme's default).
    pub fn host_matches(&self, header: &str) -> bool {
        // The port is what follows the last ':' outside an IPv6 address's brackets.
        let (name, port) = match header.rfind(':') {
            Some(i) if !header[i..].contains(']') => (&header[..i], Some(&header[i + 1..])),
            _ => (header, None),
        };
        if !name.eq_ignore_ascii_case(&self.host) {
            return false;
        }
        match port {
            None => self.port.is_none(),
            // Digits exactly as written: no sign, no leading zeros.
            Some(p) => p == self.port.unwrap_or(self.default_port).to_string(),
        }
    }
}

impl AppState {
    /// The redirect URI users register at providers for the browser flow.
    pub fn callback_uri(&self) -> String {
        match &self.public {
            Some(p) => format!("{}/connector/callback", p.base()),
            None => format!("http://127.0.0.1:{}/connector/callback", self.port),
        }
    }

    /// The base URL users' browsers reach this server at: the public URL, or the loopback
    /// address (setup links are made on it).
    pub fn public_base(&self) -> String {
        match &self.public {
            Some(p) => p.base().to_string(),
            None => format!("http://127.0.0.1:{}", self.port),
        }
    }

    /// Runs a core call (SQLite, keychain) on a blocking thread, off the async workers.
    pub async fn db<T, F>(&self, f: F) -> ApiResult<T>
    where
        F: FnOnce(&Authdesk) -> authdesk_core::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        Ok(self.engine.db(f).await?)
    }
}

/// Every route, with Cyclr's leniency added: a path spelled in another case
/// (`/ConnectorAuth/UpdateAccountConnectorOAuth`, as Cyclr's pages write it; its API is
/// ASP.NET's, whose routes ignore case) is tried again with its fixed words in lower case,
/// and what matches nothing answers `{"Message"}` (404, or 405 with the methods allowed).
pub fn router(state: Arc<AppState>) -> Router {
    let routes = routes(state);
    let retry = routes.clone().fallback(fallback::not_found);
    routes.fallback(move |request: axum::extract::Request| {
        fallback::in_lower_case(retry.clone(), request)
    })
}

fn routes(state: Arc<AppState>) -> Router {
    use routes::{account_connectors as ac, accounts, connectors, settings};
    let api = Router::new()
        .route(
            "/accounts",
            post(accounts::create_account).get(accounts::list_accounts),
        )
        .route(
            "/accounts/{account_id}",
            get(accounts::get_account)
                .put(accounts::update_account)
                .delete(accounts::delete_account),
        )
        .route(
            "/accounts/{account_id}/signintoken",
            post(accounts::sign_in_token),
        )
        .route("/accounts/{account_id}/launch", post(accounts::launch))
        .route("/connectors", get(connectors::list_connectors))
        .route("/connectors/{connector_id}", get(connectors::get_connector))
        .route(
            "/connectors/{connector_id}/methods",
            get(connectors::connector_methods),
        )
        .route(
            "/connectors/{connector_id}/{version}/methods",
            get(connectors::connector_version_methods),
        )
        .route(
            "/connectors/{connector_id}/client",
            put(connectors::set_connector_client),
        )
        .route(
            "/connectors/{connector_id}/install",
            post(connectors::install),
        )
        .route("/account/connectors", get(ac::list_account_connectors))
        .route(
            "/account/connectors/{id}",
            get(ac::get_account_connector)
                .put(ac::update_account_connector)
                .delete(ac::delete_account_connector),
        )
        .route(
            "/account/connectors/{id}/properties",
            post(ac::set_property),
        )
        .route(
            "/account/connectors/{id}/methods/{method}",
            post(ac::call_method),
        )
        .route(
            "/account/connectors/{id}/device",
            post(ac::start_device_sign_in),
        )
        .route("/account/connectors/{id}/check", post(ac::check_credential))
        .route(
            "/account/connectors/{id}/mcp/tools",
            get(routes::mcp::tools),
        )
        .route("/account/connectors/{id}/mcp/call", post(routes::mcp::call))
        .route(
            "/account/connectors/{id}/links",
            post(routes::links::create_link).get(routes::links::list_links),
        )
        .route(
            "/account/connectors/{id}/links/{link_id}",
            axum::routing::delete(routes::links::revoke_link),
        )
        .route(
            "/webhooks",
            post(routes::webhooks::add_endpoint).get(routes::webhooks::list_endpoints),
        )
        .route("/webhooks/deliveries", get(routes::webhooks::deliveries))
        .route(
            "/webhooks/{id}",
            axum::routing::delete(routes::webhooks::remove_endpoint),
        )
        .route(
            "/settings/target-origins",
            get(settings::target_origins).put(settings::set_target_origins),
        )
        // Before the layer: a preflight (OPTIONS) still reaches the CORS check.
        .method_not_allowed_fallback(fallback::method_not_allowed)
        .layer(axum::middleware::from_fn(error::plain_text_as_json))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::check_api_caller,
        ));
    // Authdesk as an MCP server for agents: the same callers as /v1.0.
    let mcp = Router::new()
        .route(
            "/mcp",
            post(agents::post).get(agents::get).delete(agents::delete),
        )
        .layer(axum::middleware::from_fn(error::plain_text_as_json))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::check_api_caller,
        ));
    Router::new()
        .nest("/v1.0", api)
        .merge(mcp)
        // Cyclr's own example (09-cyclr-api/06-api-examples) POSTs it, query and all.
        .route(
            "/connectorauth/updateaccountconnectoroauth",
            get(browser::update_account_connector_oauth)
                .post(browser::update_account_connector_oauth),
        )
        .route("/connector/callback", get(browser::callback))
        // Setup links: a page (GET spends nothing), its button, the credentials form.
        .route("/setup/{token}", get(setup::show).post(setup::press))
        .route("/setup/{token}/credentials", post(setup::credentials))
        .route("/oauth/token", post(oauth::token))
        .route("/openapi.json", get(openapi::document))
        .method_not_allowed_fallback(fallback::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::check_host,
        ))
        .with_state(state)
}

/// A running server.
pub struct Server {
    pub addr: SocketAddr,
    pub state: Arc<AppState>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    /// Binds `listen` (must be a loopback address) and serves in the background.
    pub async fn start(
        desk: Arc<Authdesk>,
        engine: Arc<Engine>,
        listen: SocketAddr,
    ) -> authdesk_core::Result<Server> {
        Self::start_public(desk, engine, listen, None).await
    }

    /// Like [`Server::start`]; with `public`, `listen` may be any address and the server
    /// answers only to that public host (a team server behind a load balancer).
    pub async fn start_public(
        desk: Arc<Authdesk>,
        engine: Arc<Engine>,
        listen: SocketAddr,
        public: Option<PublicUrl>,
    ) -> authdesk_core::Result<Server> {
        if !listen.ip().is_loopback() && public.is_none() {
            return Err(authdesk_core::Error::InvalidInput(format!(
                "{listen} is not a loopback address: listening there needs --public-url, the \
                 base URL users' browsers and providers reach this server at (e.g. \
                 https://authdesk.example.com); without it the API listens on 127.0.0.1 or ::1 only"
            )));
        }
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| authdesk_core::Error::io(format!("cannot listen on {listen}"), e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| authdesk_core::Error::io("local address", e))?;
        let state = Arc::new(AppState {
            desk,
            engine,
            port: addr.port(),
            public,
            agents: Default::default(),
        });
        // Setup links made elsewhere (the CLI) point at this server.
        let (desk, base) = (state.desk.clone(), state.public_base());
        let recorded =
            tokio::task::spawn_blocking(move || desk.record_setup_link_base(&base)).await;
        if let Ok(Err(e)) = recorded {
            tracing::warn!("the setup link base was not recorded: {e}");
        }
        let app = router(state.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await
        });
        Ok(Server {
            addr,
            state,
            shutdown: Some(tx),
            task,
        })
    }

    /// Runs until the server stops.
    pub async fn wait(self) -> std::io::Result<()> {
        self.task
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)))
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = self.task.await;
    }
}

#[cfg(test)]
mod tests {
    use super::PublicUrl;

    #[test]
    fn a_public_url_is_an_https_base_and_the_host_must_match_it_exactly() {
        let p = PublicUrl::parse("https://Authdesk.Example.com/").unwrap();
        assert_eq!(p.base(), "https://authdesk.example.com");
        for ok in [
            "authdesk.example.com",
            "AUTHDESK.example.com",
            "authdesk.example.com:443",
        ] {
            assert!(p.host_matches(ok), "{ok}");
        }
        for bad in [
            "evil.example",
            "authdesk.example.com:8443",
            "authdesk.example.com:0443",
            "authdesk.example.com.evil.example",
            "127.0.0.1:8788",
            "",
        ] {
            assert!(!p.host_matches(bad), "{bad}");
        }
        let p = PublicUrl::parse("https://desk.example:8443").unwrap();
        assert!(p.host_matches("desk.example:8443"));
        assert!(!p.host_matches("desk.example"));
        let p = PublicUrl::parse("http://[::1]:9000").unwrap();
        assert!(p.host_matches("[::1]:9000"));
        for bad in [
            "http://authdesk.example.com",
            "ftp://authdesk.example.com",
            "https://authdesk.example.com/base",
            "https://authdesk.example.com/?x=1",
            "https://user:pw@authdesk.example.com",
            "authdesk.example.com",
        ] {
            let e = PublicUrl::parse(bad).unwrap_err().to_string();
            assert!(e.contains("--public-url"), "{bad}: {e}");
            assert!(!e.contains(":pw@"), "a password was repeated: {e}");
        }
    }
}
