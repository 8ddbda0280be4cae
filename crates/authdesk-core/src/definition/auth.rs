//! The ways a connector authenticates: the list of auth types (`[auth] type = ...`) and
//! the shape every one shares (`[auth]` or an `[[auth_methods]]` entry, its id and name).
//! Each type with settings has a module of its own below this one (`oauth2`, `api_key`);
//! `basic` and `none` have no settings. To add a type: its module here, a variant in
//! [`AuthDefinition`] and [`AuthType`], its checks in `validate`, its use in the engine's
//! `access`.
//!
//! Must not: know about accounts, stores or requests.

pub mod api_key;
pub mod oauth2;

use serde::{Deserialize, Serialize};

use api_key::ApiKeyDefinition;
use oauth2::OAuth2Definition;

/// The id of `[auth]`, the default way to authenticate.
pub const DEFAULT_AUTH_ID: &str = "default";

/// One more way to authenticate (`[[auth_methods]]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthMethodDefinition {
    /// Stable id within the file: letters, digits and `-` (not `default`, which is `[auth]`).
    pub id: String,
    /// Shown to users and as Cyclr's `AuthName`, e.g. "API key".
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub auth: AuthDefinition,
}

/// One way a connector authenticates, as callers see it: `[auth]` or an `auth_methods` entry.
#[derive(Debug, Clone, Copy)]
pub struct AuthMethod<'a> {
    /// Position: 0 is `[auth]`.
    pub index: usize,
    /// `default` for `[auth]`.
    pub id: &'a str,
    pub name: &'a str,
    pub description: &'a str,
    pub auth: &'a AuthDefinition,
}

impl<'a> AuthMethod<'a> {
    pub fn auth_type(&self) -> AuthType {
        self.auth.auth_type()
    }

    pub fn oauth2(&self) -> Option<&'a OAuth2Definition> {
        match self.auth {
            AuthDefinition::Oauth2(o) => Some(o),
            _ => None,
        }
    }

    pub fn is_default(&self) -> bool {
        self.index == 0
    }
}

impl AuthDefinition {
    /// The name of an unnamed method (`[auth]`), from its kind.
    pub fn default_name(&self) -> &'static str {
        match self {
            AuthDefinition::Oauth2(_) => "OAuth 2.0",
            AuthDefinition::ApiKey(_) => "API key",
            AuthDefinition::Basic {} => "HTTP Basic",
            AuthDefinition::None {} => "None",
        }
    }
}

/// An OAuth endpoint of a definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Authorize,
    Token,
    Revoke,
    Issuer,
}

impl Endpoint {
    /// The definition field, for messages.
    pub fn field(self) -> &'static str {
        match self {
            Endpoint::Authorize => "auth.authorize_url",
            Endpoint::Token => "auth.token_url",
            Endpoint::Revoke => "auth.revoke_url",
            Endpoint::Issuer => "auth.issuer",
        }
    }
}

/// How a connector authenticates. The variant is the `type` key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum AuthDefinition {
    Oauth2(OAuth2Definition),
    ApiKey(ApiKeyDefinition),
    Basic {},
    None {},
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthType {
    Oauth2,
    ApiKey,
    Basic,
    None,
}

impl AuthType {
    /// Cyclr's spelling, as shown to users and in the API.
    pub fn cyclr_name(self) -> &'static str {
        match self {
            AuthType::Oauth2 => "OAuth2",
            AuthType::ApiKey => "ApiKey",
            AuthType::Basic => "Basic",
            AuthType::None => "None",
        }
    }
}

impl AuthDefinition {
    pub fn auth_type(&self) -> AuthType {
        match self {
            AuthDefinition::Oauth2(_) => AuthType::Oauth2,
            AuthDefinition::ApiKey(_) => AuthType::ApiKey,
            AuthDefinition::Basic {} => AuthType::Basic,
            AuthDefinition::None {} => AuthType::None,
        }
    }
}
