//! Authdesk's local HTTP API: Cyclr's API shapes over `authdesk-core`, so code written
//! against Cyclr's sign-in-token and connector-auth endpoints runs against the desktop.
//!
//! Thin by rule: handlers parse, call the core or the engine, and map views and errors.
//! Loopback only; every request passes the `Host` check; `/v1.0/*` needs the API key and
//! refuses foreign `Origin`s; the browser flow (`/connectorauth/...`, `/connector/callback`)
//! is authorised by single-use sign-in tokens instead. See `ARCHITECTURE.md`.

mod browser;
mod error;
mod guard;
pub mod loopback;
mod oauth;
mod openapi;
mod routes;

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
}

impl AppState {
    /// The redirect URI users register at providers for the browser flow.
    pub fn callback_uri(&self) -> String {
        format!("http://127.0.0.1:{}/connector/callback", self.port)
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

pub fn router(state: Arc<AppState>) -> Router {
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
            "/settings/target-origins",
            get(settings::target_origins).put(settings::set_target_origins),
        )
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::check_api_caller,
        ));
    Router::new()
        .nest("/v1.0", api)
        .route(
            "/connectorauth/updateaccountconnectoroauth",
            get(browser::update_account_connector_oauth),
        )
        .route("/connector/callback", get(browser::callback))
        .route("/oauth/token", post(oauth::token))
        .route("/openapi.json", get(openapi::document))
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
        if !listen.ip().is_loopback() {
            return Err(authdesk_core::Error::InvalidInput(format!(
                "{listen} is not a loopback address; the local API listens on 127.0.0.1 or ::1 only"
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
        });
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
