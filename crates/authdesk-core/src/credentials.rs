//! Which OAuth app (ClientId/ClientSecret) an account connector uses.
//!
//! Set once on the library entry (one app for all customers), or per account connector as
//! properties named exactly `ClientId` and `ClientSecret`. The account connector's
//! properties win. A library ClientSecret is only paired with the library's own ClientId:
//! an account connector that names another app must bring that app's secret too. And it is
//! never sent to a token endpoint whose host an account connector's property chooses
//! freely (generic connectors): there, each account connector brings its own app.
//!
//! Must not: write anything or send the credentials (the engine's `tokens` does), or pair a
//! library ClientSecret with another app's ClientId.

use serde::Serialize;

use crate::definition::OAuth2Grant;
use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::service::Authdesk;

pub const CLIENT_ID: &str = "ClientId";
pub const CLIENT_SECRET: &str = "ClientSecret";
pub use crate::definition::CLIENT_PRIVATE_KEY;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum CredentialSource {
    AccountConnector,
    ConnectorLibrary,
}

#[derive(Debug, Clone)]
pub struct ClientCredentials {
    pub client_id: String,
    pub client_id_from: CredentialSource,
    /// `None` for public clients (the definition's `client_auth = "none"`).
    pub client_secret: Option<Secret>,
    pub client_secret_from: Option<CredentialSource>,
    /// PEM, for `client_auth = "private_key_jwt"`.
    pub private_key: Option<Secret>,
    pub private_key_from: Option<CredentialSource>,
}

impl Authdesk {
    pub fn resolve_client_credentials(
        &self,
        account_connector_id: i64,
    ) -> Result<ClientCredentials> {
        let (ac, def) = self.account_connector_with_definition(account_connector_id)?;
        let library = self.get_connector(&ac.connector.id.to_string())?;
        // The way to authenticate this account connector uses.
        let oauth = def
            .auth_method(Some(&ac.authentication.method_id))
            .and_then(|m| m.oauth2());
        // OAuth 1.0a: the consumer secret signs (HMAC, PLAINTEXT), or its RSA key does.
        let oauth1 = def
            .auth_method(Some(&ac.authentication.method_id))
            .and_then(|m| m.oauth1());
        let needs_secret = oauth.is_some_and(|o| o.client_auth.needs_secret())
            || oauth1.is_some_and(|o| o.needs_secret());
        // The JWT bearer grant signs its assertion with the app's key too.
        let needs_key = oauth.is_some_and(|o| {
            o.client_auth.needs_private_key() || o.grant == OAuth2Grant::JwtBearer
        }) || oauth1.is_some_and(|o| !o.needs_secret());
        let missing = |what: &'static str| Error::ClientCredentialsMissing {
            missing: what,
            connector: ac.connector.slug.clone(),
            account_connector_id,
        };

        let has_prop = |name: &str| ac.properties.iter().any(|p| p.name == name);
        let (client_id, client_id_from) = if has_prop(CLIENT_ID) {
            let v = self
                .property_value(account_connector_id, CLIENT_ID)?
                .ok_or_else(|| missing("ClientId"))?;
            (v.expose().to_string(), CredentialSource::AccountConnector)
        } else if let Some(id) = library.client_id.clone() {
            (id, CredentialSource::ConnectorLibrary)
        } else {
            return Err(missing("ClientId"));
        };

        let (client_secret, client_secret_from) = if !needs_secret {
            (None, None)
        } else if has_prop(CLIENT_SECRET) {
            let s = self.property_value(account_connector_id, CLIENT_SECRET)?;
            (s, Some(CredentialSource::AccountConnector))
        } else if library.client_secret_set
            && library.client_id.as_deref() == Some(client_id.as_str())
        {
            if let Some(property) = def.property_choosing_secret_host() {
                return Err(Error::InvalidInput(format!(
                    "the library's ClientSecret of `{}` is shared by every account connector, so \
                     it is not sent to a token endpoint whose host the property `{property}` \
                     chooses; set ClientId and ClientSecret as properties of account connector \
                     {account_connector_id} itself",
                    ac.connector.slug
                )));
            }
            (
                self.connector_client_secret(library.id)?,
                Some(CredentialSource::ConnectorLibrary),
            )
        } else {
            (None, None)
        };
        if needs_secret && client_secret.is_none() {
            return Err(missing("ClientSecret"));
        }

        // The private key follows the ClientSecret's rules: the library's only with the
        // library's own ClientId, and never to a host a property chooses.
        let (private_key, private_key_from) = if !needs_key {
            (None, None)
        } else if has_prop(CLIENT_PRIVATE_KEY) {
            let k = self.property_value(account_connector_id, CLIENT_PRIVATE_KEY)?;
            (k, Some(CredentialSource::AccountConnector))
        } else if library.public_jwk.is_some()
            && library.client_id.as_deref() == Some(client_id.as_str())
        {
            if let Some(property) = def.property_choosing_secret_host() {
                return Err(Error::InvalidInput(format!(
                    "the library's private key of `{}` is shared by every account connector, so                      it does not sign for a token endpoint whose host the property `{property}`                      chooses; set ClientId and ClientPrivateKey as properties of account                      connector {account_connector_id} itself",
                    ac.connector.slug
                )));
            }
            (
                self.connector_client_private_key(library.id)?,
                Some(CredentialSource::ConnectorLibrary),
            )
        } else {
            (None, None)
        };
        if needs_key && private_key.is_none() {
            return Err(missing("ClientPrivateKey"));
        }
        Ok(ClientCredentials {
            client_id,
            client_id_from,
            client_secret,
            client_secret_from,
            private_key,
            private_key_from,
        })
    }
}
