//! A connector definition made from a form (the window's "New OAuth connector"): the
//! fields a user knows from a provider's developer console, written out as the same TOML a
//! file would hold and loaded (so checked) like any other definition.
//!
//! Must not: store the definition (`Authdesk::add_oauth_connector` does), or skip the checks
//! a file gets (it loads through `ConnectorDefinition::from_toml`).

use serde::Deserialize;

use super::{
    AuthDefinition, ClientAuth, ConnectorDefinition, OAuth2Definition, OAuth2Grant, SignInMode,
};
use crate::error::{Error, Result};

/// What the form asks. Scopes are separated by spaces or commas.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OAuthConnectorForm {
    /// The slug: lowercase letters, digits and `-`.
    pub id: String,
    pub name: String,
    pub authorize_url: String,
    pub token_url: String,
    #[serde(default)]
    pub revoke_url: Option<String>,
    #[serde(default)]
    pub api_base_url: Option<String>,
    #[serde(default)]
    pub scopes: String,
    pub pkce: bool,
    pub client_auth: ClientAuth,
    pub sign_in: SignInMode,
    /// Extra authorization parameters, `name=value` one per line (or `&`-separated):
    /// `access_type=offline`, `prompt=consent`, `audience=...`, `resource=...`.
    #[serde(default)]
    pub authorize_params: String,
}

impl OAuthConnectorForm {
    /// `AuthorizeParams` as a map: every non-empty line (or `&`-separated part) is
    /// `name=value`; anything else is refused with the part named.
    fn parsed_authorize_params(&self) -> Result<std::collections::BTreeMap<String, String>> {
        let mut out = std::collections::BTreeMap::new();
        for part in self
            .authorize_params
            .split(['\n', '&'])
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            let Some((name, value)) = part.split_once('=') else {
                return Err(Error::InvalidInput(format!(
                    "extra authorization parameter {part:?} has no `=`: write name=value, \
                     e.g. access_type=offline"
                )));
            };
            let name = name.trim();
            if out
                .insert(name.to_string(), value.trim().to_string())
                .is_some()
            {
                return Err(Error::InvalidInput(format!(
                    "extra authorization parameter `{name}` is given twice"
                )));
            }
        }
        Ok(out)
    }

    /// The definition as TOML text (what the library stores and a file would hold).
    pub fn to_toml(&self) -> Result<String> {
        let blank = |s: &Option<String>| {
            s.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let definition = ConnectorDefinition {
            id: self.id.trim().to_string(),
            name: self.name.trim().to_string(),
            version: "1".into(),
            description: "Made in Authdesk from the provider's OAuth settings.".into(),
            sources: vec![],
            category: None,
            verified_on: None,
            api_base_url: blank(&self.api_base_url),
            headers: Default::default(),
            auth: AuthDefinition::Oauth2(OAuth2Definition {
                grant: OAuth2Grant::AuthorizationCode,
                authorize_url: Some(self.authorize_url.trim().to_string()),
                token_url: self.token_url.trim().to_string(),
                revoke_url: blank(&self.revoke_url),
                pushed_authorization_request_url: None,
                par: false,
                device_authorization_url: None,
                jwks_url: None,
                dpop: Default::default(),
                assertion_issuer: None,
                assertion_subject: None,
                assertion_audience: None,
                issuer: None,
                issuer_in_response: false,
                scopes: self
                    .scopes
                    .split([' ', ','])
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect(),
                scope_separator: " ".into(),
                pkce: self.pkce,
                client_auth: self.client_auth,
                authorize_params: self.parsed_authorize_params()?,
                token_params: Default::default(),
                sign_in: self.sign_in,
                token_header: "Authorization".into(),
                token_prefix: "Bearer ".into(),
                capture: Default::default(),
                refresh_margin_seconds: None,
            }),
            auth_methods: vec![],
            properties: vec![],
            methods: vec![],
            check: None,
            mcp: None,
            compiled: Default::default(),
        };
        let text = toml::to_string(&definition)
            .map_err(|e| Error::InvalidInput(format!("cannot write the definition: {e}")))?;
        let text = format!(
            "# Made in Authdesk from a form. Add methods (docs/connector-format.md) to call the API.\n{text}"
        );
        // Checked like a file: what fails here names the field.
        ConnectorDefinition::from_toml("the form", &text)?;
        Ok(text)
    }
}
