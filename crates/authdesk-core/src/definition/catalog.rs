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

/// `docs/catalog.md`: a table of the built-in connectors (name, category, auth, where
/// sign-in runs, the check request), sorted by category then name. Generated, never edited
/// by hand (`scripts/catalog.sh`; the catalog test fails when it is stale).
pub fn markdown() -> Result<String> {
    use super::AuthDefinition;
    let mut rows: Vec<(String, String, String)> = builtin()?
        .iter()
        .map(|d| {
            let auth = d
                .auth_methods()
                .iter()
                .map(|m| m.auth.default_name().to_string())
                .collect::<Vec<_>>()
                .join(", ");
            let sign_in = match &d.auth {
                AuthDefinition::Oauth2(o) if o.grant == super::OAuth2Grant::AuthorizationCode => {
                    match o.sign_in {
                        super::SignInMode::Webview => "window".to_string(),
                        super::SignInMode::SystemBrowser => "system browser".to_string(),
                    }
                }
                AuthDefinition::Oauth2(o) if o.grant == super::OAuth2Grant::DeviceCode => {
                    "any device (a code)".to_string()
                }
                AuthDefinition::Oauth1(_) => "window".to_string(),
                _ => "-".to_string(),
            };
            let check = d
                .check
                .as_ref()
                .map(|c| format!("`{} {}`", c.method.to_ascii_uppercase(), c.path))
                .unwrap_or_else(|| "-".into());
            let category = d.category.clone().unwrap_or_else(|| "-".into());
            (
                category.clone(),
                d.name.clone(),
                format!(
                    "| {} (`{}`) | {category} | {auth} | {sign_in} | {check} |",
                    d.name, d.id
                ),
            )
        })
        .collect();
    rows.sort();
    let mut out = String::from(
        "# The built-in connectors\n\n\
         Generated from `connectors/*.toml` by `scripts/catalog.sh`; do not edit by hand (the\n\
         catalog test fails when this page is stale).\n\n\
         | Connector | Category | Auth | Sign-in runs in | Credential check |\n\
         |---|---|---|---|---|\n",
    );
    for (_, _, row) in rows {
        out.push_str(&row);
        out.push('\n');
    }
    out.push_str(&format!("\n{} connectors.\n", BUILTIN.len()));
    Ok(out)
}
