//! `[check]`: the cheap request that tells whether a credential works (a "who am I"
//! endpoint): its method, its path under the API base URL, and the statuses that mean the
//! credential is valid (default: any 2xx).
//!
//! Must not: send anything (the engine's `check` does).

use serde::{Deserialize, Serialize};

use super::validate::invalid_at;
use crate::error::Result;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckDefinition {
    #[serde(default = "default_method")]
    pub method: String,
    /// A path (and query) under `api_base_url`, or a full URL on the connector's origins.
    pub path: String,
    /// The statuses that mean valid; empty: any 2xx.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ok_status: Vec<u16>,
}

fn default_method() -> String {
    "GET".into()
}

impl CheckDefinition {
    pub(super) fn validate(&self, origin: &str) -> Result<()> {
        let method = self.method.to_ascii_uppercase();
        if !["GET", "HEAD", "POST"].contains(&method.as_str()) {
            return Err(invalid_at(
                origin,
                "check.method",
                "must be GET, HEAD or POST (a check must not change anything)",
            ));
        }
        if self.path.trim().is_empty() {
            return Err(invalid_at(
                origin,
                "check.path",
                "is empty: name the \"who am I\" endpoint, e.g. \"/user\"",
            ));
        }
        if let Some(s) = self.ok_status.iter().find(|s| !(200..300).contains(*s)) {
            return Err(invalid_at(
                origin,
                "check.ok_status",
                format!("lists {s}: only 2xx statuses can mean a credential works"),
            ));
        }
        Ok(())
    }

    /// Whether `status` means the credential works.
    pub fn is_valid(&self, status: u16) -> bool {
        if self.ok_status.is_empty() {
            (200..300).contains(&status)
        } else {
            self.ok_status.contains(&status)
        }
    }
}
