//! The built-in catalog (`connectors/*.toml`), embedded in the binary by `build.rs`.
//!
//! Must not: write the library (the service syncs the catalog at open), or hold a connector
//! as code: each is a TOML file in `connectors/`.

use super::ConnectorDefinition;
use crate::error::Result;

include!(concat!(env!("OUT_DIR"), "/catalog.rs"));

/// Every built-in definition, parsed and validated. A broken built-in is a build
/// defect; the test suite loads them all.
pub fn builtin() -> Result<Vec<ConnectorDefinition>> {
    BUILTIN
        .iter()
        .map(|(file, text)| ConnectorDefinition::from_toml(&format!("builtin:{file}"), text))
        .collect()
}

/// The raw text of the built-in catalog, used to detect a changed catalog cheaply.
pub fn builtin_sources() -> &'static [(&'static str, &'static str)] {
    BUILTIN
}
