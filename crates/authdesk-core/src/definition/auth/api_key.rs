//! An API key (`[auth] type = "api_key"`): where it goes (a header or a query parameter),
//! under which name, after which prefix.
//!
//! Must not: hold or read a key (the vault does).

use serde::{Deserialize, Serialize};

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
