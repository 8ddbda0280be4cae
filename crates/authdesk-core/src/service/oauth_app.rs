//! Each library entry's OAuth app: its ClientId, sealed ClientSecret, and, for
//! `private_key_jwt`, a sealed private key (imported from PEM or generated here) with its
//! public JWK kept in the clear to be shown and registered.
//!
//! Must not: make an app public unless the change says so (`ClientSecretChange::Public`),
//! keep a private key it cannot read, or show anything of a key but its public half.

use crate::definition::OAuth2Grant;
use crate::domain::*;
use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::signing::SigningKey;
use crate::store::args;
use crate::vault::SealedAt;

use super::{check_secret_value, checked_text, ts, Authdesk, T_CONNECTORS};

/// The field a library entry's private key is sealed under.
const PRIVATE_KEY_FIELD: &str = "ClientPrivateKey";

/// Where a library entry's private key comes from.
pub enum PrivateKeySource<'a> {
    /// PEM text (PKCS#8, or PKCS#1 for RSA).
    Pem(&'a Secret),
    /// A new EC P-256 key made here; only its public JWK is ever shown.
    Generate,
}

impl Authdesk {
    /// Sets the library entry's OAuth app: ClientId, and ClientSecret (sealed; `None` for a
    /// public client).
    pub fn set_connector_client(
        &self,
        reference: &str,
        client_id: &str,
        client_secret: Option<&Secret>,
    ) -> Result<LibraryConnector> {
        let change = match client_secret {
            Some(s) => ClientSecretChange::Set(s),
            None => ClientSecretChange::Public,
        };
        self.update_connector_client(reference, client_id, change)
    }

    /// Sets the library entry's ClientId, and changes its ClientSecret as `change` says:
    /// keeping the stored one is the default a form wants (a blank secret field must not
    /// turn the app into a public client); becoming public is said explicitly.
    pub fn update_connector_client(
        &self,
        reference: &str,
        client_id: &str,
        change: ClientSecretChange<'_>,
    ) -> Result<LibraryConnector> {
        let c = self.get_connector(reference)?;
        require_oauth(&c)?;
        let client_id = checked_text("ClientId", client_id, 1024, true)?;
        let sealed = match change {
            ClientSecretChange::Set(s) => {
                check_secret_value("ClientSecret", s)?;
                Some(Some(self.vault()?.seal(
                    SealedAt {
                        table: T_CONNECTORS,
                        row: &c.id.to_string(),
                        field: "ClientSecret",
                    },
                    s,
                )))
            }
            ClientSecretChange::Public => Some(None),
            // An app that signs with a private key needs no secret to be kept.
            ClientSecretChange::Keep if c.client_secret_set || c.public_jwk.is_some() => None,
            ClientSecretChange::Keep if signs_with_key(&c) => {
                return Err(Error::InvalidInput(format!(
                    "no private key is stored for `{}`, which signs its requests with one \
                     (private_key_jwt): import the app's private key or generate one",
                    c.slug
                )))
            }
            ClientSecretChange::Keep => {
                return Err(Error::InvalidInput(format!(
                    "no ClientSecret is stored for `{}`: give the app's ClientSecret, or say \
                     that it is a public client (one without a secret)",
                    c.slug
                )))
            }
        };
        let now = ts(self.now());
        self.store()?.write(|tx| {
            match &sealed {
                Some(secret) => tx.execute(
                    "UPDATE connectors SET client_id = ?2, sealed_client_secret = ?3, updated_at = ?4
                     WHERE id = ?1",
                    args![c.id, client_id, secret, now])?,
                None => tx.execute(
                    "UPDATE connectors SET client_id = ?2, updated_at = ?3 WHERE id = ?1",
                    args![c.id, client_id, now])?,
            };
            Ok(())
        })?;
        self.get_connector(&c.id.to_string())
    }

    pub fn clear_connector_client(&self, reference: &str) -> Result<LibraryConnector> {
        let c = self.get_connector(reference)?;
        let now = ts(self.now());
        self.store()?.write(|tx| {
            tx.execute(
                "UPDATE connectors SET client_id = NULL, sealed_client_secret = NULL, \
                 sealed_client_private_key = NULL, client_public_jwk = NULL, updated_at = ?2 WHERE id = ?1",
                args![c.id, now])?;
            Ok(())
        })?;
        self.get_connector(&c.id.to_string())
    }

    /// The library entry's ClientSecret, if set.
    pub fn connector_client_secret(&self, connector_id: i64) -> Result<Option<Secret>> {
        self.connector_sealed(connector_id, "sealed_client_secret", "ClientSecret")
    }

    /// Sets the library entry's ClientId and private key (`private_key_jwt`): the key is
    /// read first (a PEM that is not a usable private key writes nothing), then sealed; its
    /// public JWK is what `PublicJwk` shows. A ClientSecret stays as it was.
    pub fn set_connector_client_key(
        &self,
        reference: &str,
        client_id: &str,
        source: PrivateKeySource<'_>,
    ) -> Result<LibraryConnector> {
        let c = self.get_connector(reference)?;
        require_oauth(&c)?;
        let client_id = checked_text("ClientId", client_id, 1024, true)?;
        let (key, pem) = match source {
            PrivateKeySource::Pem(pem) => {
                let key = SigningKey::from_pem(pem)
                    .map_err(|e| Error::InvalidInput(format!("the private key {e}")))?;
                (key, pem.clone())
            }
            PrivateKeySource::Generate => SigningKey::generate_p256(),
        };
        let jwk = serde_json::to_string(&key.public_jwk())
            .map_err(|e| Error::Internal(format!("the public JWK: {e}")))?;
        let sealed = self.vault()?.seal(
            SealedAt {
                table: T_CONNECTORS,
                row: &c.id.to_string(),
                field: PRIVATE_KEY_FIELD,
            },
            &pem,
        );
        let now = ts(self.now());
        self.store()?.write(|tx| {
            tx.execute(
                "UPDATE connectors SET client_id = ?2, sealed_client_private_key = ?3, \
                 client_public_jwk = ?4, updated_at = ?5 WHERE id = ?1",
                args![c.id, client_id, sealed, jwk, now],
            )?;
            Ok(())
        })?;
        self.get_connector(&c.id.to_string())
    }

    /// The library entry's private key (PEM), if set.
    pub fn connector_client_private_key(&self, connector_id: i64) -> Result<Option<Secret>> {
        self.connector_sealed(connector_id, "sealed_client_private_key", PRIVATE_KEY_FIELD)
    }

    /// A sealed column of a library entry, opened.
    fn connector_sealed(
        &self,
        connector_id: i64,
        column: &'static str,
        field: &'static str,
    ) -> Result<Option<Secret>> {
        let sealed: Option<Vec<u8>> = self
            .store()?
            .conn()
            .query_opt(
                &format!("SELECT {column} FROM connectors WHERE id = ?1"),
                args![connector_id],
                |r| r.get(0),
            )?
            .flatten();
        let row = connector_id.to_string();
        self.open_sealed(
            sealed,
            SealedAt {
                table: T_CONNECTORS,
                row: &row,
                field,
            },
        )
    }
}

fn signs_with_key(c: &LibraryConnector) -> bool {
    c.definition
        .auth_methods()
        .iter()
        .filter_map(|m| m.oauth2())
        .any(|o| o.client_auth.needs_private_key() || o.grant == OAuth2Grant::JwtBearer)
        || c.definition
            .auth_methods()
            .iter()
            .filter_map(|m| m.oauth1())
            .any(|o| !o.needs_secret())
}

fn require_oauth(c: &LibraryConnector) -> Result<()> {
    if c.definition
        .auth_methods()
        .iter()
        .any(|m| m.oauth2().is_some() || m.oauth1().is_some())
    {
        return Ok(());
    }
    Err(Error::InvalidInput(format!(
        "`{}` does not use OAuth, so it has no OAuth app (ClientId/ClientSecret): \
         its account connectors authenticate with their AuthValue",
        c.slug
    )))
}
