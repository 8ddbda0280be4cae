//! The ways a connector authenticates: the list of auth types (`[auth] type = ...`) and
//! the shape every one shares (`[auth]` or an `[[auth_methods]]` entry, its id and name).
//! Each type with settings has a module of its own below this one (`oauth2`, `api_key`,
//! `auth_fields`):
//! its settings, their checks, its `AuthScheme` and its summary for people; `basic` and
//! `none` have no settings. The engine's use of each type is in `engine::access::<type>`.
//! To add a type: its module here, a variant in [`AuthDefinition`] and [`AuthType`] and
//! their `match`es in this file, its module in `engine::access` (and its AuthValue in
//! `authvalue`).
//!
//! Must not: know about accounts, stores or requests.

pub mod api_key;
pub mod auth_fields;
pub mod oauth1;
pub mod oauth2;

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::template::UrlTemplate;
use super::AuthEndpoints;
use crate::error::{Error, Result};
use api_key::ApiKeyDefinition;
use auth_fields::AuthFieldsDefinition;
use oauth1::OAuth1Definition;
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

    pub fn oauth1(&self) -> Option<&'a OAuth1Definition> {
        match self.auth {
            AuthDefinition::Oauth1(o) => Some(o),
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
            AuthDefinition::Oauth1(_) => "OAuth 1.0a",
            AuthDefinition::ApiKey(_) => "API key",
            AuthDefinition::AuthFields(_) => "Auth fields",
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
    Par,
    Device,
    Jwks,
    RequestToken,
    Issuer,
}

impl Endpoint {
    /// The definition field, for messages.
    pub fn field(self) -> &'static str {
        match self {
            Endpoint::Authorize => "auth.authorize_url",
            Endpoint::Token => "auth.token_url",
            Endpoint::Revoke => "auth.revoke_url",
            Endpoint::Par => "auth.pushed_authorization_request_url",
            Endpoint::Device => "auth.device_authorization_url",
            Endpoint::Jwks => "auth.jwks_url",
            Endpoint::RequestToken => "auth.request_token_url",
            Endpoint::Issuer => "auth.issuer",
        }
    }
}

/// How a connector authenticates. The variant is the `type` key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum AuthDefinition {
    Oauth2(OAuth2Definition),
    Oauth1(OAuth1Definition),
    ApiKey(ApiKeyDefinition),
    AuthFields(AuthFieldsDefinition),
    Basic {},
    None {},
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthType {
    Oauth2,
    Oauth1,
    ApiKey,
    AuthFields,
    Basic,
    None,
}

impl AuthType {
    /// Cyclr's spelling, as shown to users and in the API.
    pub fn cyclr_name(self) -> &'static str {
        match self {
            AuthType::Oauth2 => "OAuth2",
            AuthType::Oauth1 => "OAuth1",
            AuthType::ApiKey => "ApiKey",
            AuthType::AuthFields => "AuthFields",
            AuthType::Basic => "Basic",
            AuthType::None => "None",
        }
    }
}

impl AuthDefinition {
    pub fn auth_type(&self) -> AuthType {
        match self {
            AuthDefinition::Oauth2(_) => AuthType::Oauth2,
            AuthDefinition::Oauth1(_) => AuthType::Oauth1,
            AuthDefinition::ApiKey(_) => AuthType::ApiKey,
            AuthDefinition::AuthFields(_) => AuthType::AuthFields,
            AuthDefinition::Basic {} => AuthType::Basic,
            AuthDefinition::None {} => AuthType::None,
        }
    }
}

/// What checking one way to authenticate needs from the definition around it.
pub(super) struct AuthCheck<'a> {
    /// Where it stands, for messages: `auth` or `auth_methods[i].auth`.
    pub at: String,
    /// The properties the definition declares (placeholders and captures must name one).
    pub property_names: &'a BTreeSet<&'a str>,
    /// Parses a URL template (each placeholder a declared property), noting its slots.
    pub parse_url: &'a mut dyn FnMut(&str, &str) -> Result<UrlTemplate>,
    /// The error for a field of the file.
    pub error: &'a dyn Fn(&str, String) -> Error,
}

impl AuthCheck<'_> {
    /// A field of this way to authenticate, as messages name it.
    pub fn field(&self, name: &str) -> String {
        format!("{}.{name}", self.at)
    }

    pub fn url(&mut self, field: &str, text: &str) -> Result<UrlTemplate> {
        (self.parse_url)(field, text)
    }

    pub fn invalid(&self, field: &str, message: String) -> Error {
        (self.error)(field, message)
    }

    /// Every `{placeholder}` of `text` (a value of `field`) names a declared property.
    pub fn placeholders_declared(&self, field: &str, text: &str) -> Result<()> {
        let names = super::template::placeholders(text).map_err(|e| self.invalid(field, e))?;
        match names
            .iter()
            .find(|n| !self.property_names.contains(n.as_str()))
        {
            Some(ph) => Err(self.invalid(
                field,
                format!("placeholder {{{ph}}} names no declared property"),
            )),
            None => Ok(()),
        }
    }
}

impl AuthDefinition {
    /// Checks this way to authenticate beyond serde and parses its endpoint templates.
    pub(super) fn check(&self, cx: &mut AuthCheck) -> Result<AuthEndpoints> {
        match self {
            AuthDefinition::Oauth2(o) => o.check(cx),
            AuthDefinition::Oauth1(o) => o.check(cx),
            AuthDefinition::ApiKey(k) => k.check(cx),
            AuthDefinition::AuthFields(f) => f.check(cx),
            AuthDefinition::Basic {} | AuthDefinition::None {} => Ok(AuthEndpoints::default()),
        }
    }

    /// Cyclr's `AuthScheme`: the header (or query parameter) the credential travels in,
    /// when it is not plain `Authorization`.
    pub fn scheme(&self) -> Option<String> {
        match self {
            AuthDefinition::Oauth2(o) => o.scheme(),
            AuthDefinition::Oauth1(_) => None,
            AuthDefinition::ApiKey(k) => k.scheme(),
            AuthDefinition::AuthFields(f) => f.scheme(),
            AuthDefinition::Basic {} | AuthDefinition::None {} => None,
        }
    }

    /// What a person reads about it, as labelled lines (`connectors show`).
    pub fn summary(&self) -> Vec<(&'static str, String)> {
        match self {
            AuthDefinition::Oauth2(o) => o.summary(),
            AuthDefinition::Oauth1(o) => o.summary(),
            AuthDefinition::ApiKey(k) => k.summary(),
            AuthDefinition::AuthFields(f) => f.summary(),
            AuthDefinition::Basic {} | AuthDefinition::None {} => Vec::new(),
        }
    }

    /// A stored credential of this type that only a method call can show to work or be
    /// refused (an API key, AuthFields, Basic credentials); an OAuth token's provider said so when it
    /// issued it.
    pub fn verified_by_calls(&self) -> bool {
        matches!(
            self,
            AuthDefinition::ApiKey(_) | AuthDefinition::AuthFields(_) | AuthDefinition::Basic {}
        )
    }
}
