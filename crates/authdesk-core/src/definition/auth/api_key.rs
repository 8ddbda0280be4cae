//! An API key (`[auth] type = "api_key"`): where it goes (a header or a query parameter),
//! under which name, after which prefix.
//!
//! How the engine puts it on a request is `engine::access::api_key`.
//!
//! Must not: hold or read a key (the vault does).

use serde::{Deserialize, Serialize};

use super::AuthCheck;
use crate::definition::{is_header_name, AuthEndpoints};
use crate::error::Result;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyDefinition {
    pub placement: ApiKeyPlacement,
    /// Header or query parameter name.
    pub name: String,
    /// Put before the key, e.g. `"Bearer "`.
    #[serde(default)]
    pub prefix: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApiKeyPlacement {
    Header,
    Query,
}

impl ApiKeyDefinition {
    /// Checks the name for where the key goes. An API key has no endpoints.
    pub(in crate::definition) fn check(&self, cx: &mut AuthCheck) -> Result<AuthEndpoints> {
        let valid = match self.placement {
            ApiKeyPlacement::Header => is_header_name(&self.name),
            ApiKeyPlacement::Query => !self.name.trim().is_empty(),
        };
        if !valid {
            return Err(cx.invalid(
                &cx.field("name"),
                "must be a valid header or query parameter name".into(),
            ));
        }
        Ok(AuthEndpoints::default())
    }

    /// Cyclr's `AuthScheme`: the header (or query parameter) the key travels in.
    pub fn scheme(&self) -> Option<String> {
        Some(self.name.clone())
    }

    /// What a person reads about it (`connectors show`).
    pub fn summary(&self) -> Vec<(&'static str, String)> {
        vec![(
            "key",
            format!(
                "{:?} {} (prefix {:?})",
                self.placement, self.name, self.prefix
            ),
        )]
    }
}
