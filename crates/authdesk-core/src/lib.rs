//! Authdesk's core: the domain (accounts, the connector library, account connectors), the
//! store (SQLite, or PostgreSQL for a team server), the sealed vault (its key in the OS
//! keychain, or a key file on a server), connector definitions and the OAuth engine.
//!
//! It knows nothing of Tauri, HTTP servers or terminals: the desktop shell, the local API
//! and the `authdesk` CLI are thin layers over [`Authdesk`]. See `ARCHITECTURE.md`.
//!
//! Must not: hold code of its own (it declares the modules and re-exports), or depend on
//! Tauri, an HTTP server or a terminal UI.

pub mod agents;
pub mod api_clients;
pub mod authvalue;
pub mod credentials;
pub mod definition;
pub mod desk;
pub mod diagnostics;
pub mod domain;
pub mod engine;
pub mod error;
pub mod handover;
pub mod inspect;
pub mod jwt;
pub mod jwt_verify;
mod keychain;
pub mod logging;
pub mod mcp;
pub mod oauth1;
pub mod paths;
pub mod secret;
pub mod service;
pub mod settings;
pub mod setup_links;
pub mod signing;
pub mod store;
pub mod token_store;
pub mod vault;

pub use authvalue::AuthValue;
pub use definition::{AuthType, ConnectorDefinition};
pub use domain::*;
pub use engine::{Engine, EngineConfig};
pub use error::{Error, Result};
pub use secret::Secret;
pub use service::{timezone_names, Authdesk, Clock, MigrationReport, OpenOptions, VaultStatus};
pub use vault::KeySource;
