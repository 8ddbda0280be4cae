//! Keys an account connector holds for itself: its DPoP key (RFC 9449), an EC P-256 key
//! made on first use and sealed like its secrets, with the public key's RFC 7638 thumbprint
//! (`jkt`) kept in the clear to be shown. It stays across sign-ins (tokens are bound to it)
//! and goes with the account connector.
//!
//! Must not: show anything of a key but its thumbprint, or let two processes making the
//! key at once end with two (the first stored wins; the other reads it).

use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::signing::SigningKey;
use crate::store::args;
use crate::vault::SealedAt;

use super::{ts, Authdesk, T_KEYS};

/// The purpose of an account connector's DPoP key.
pub const DPOP: &str = "dpop";

impl Authdesk {
    /// The account connector's DPoP key (PEM) and its thumbprint, made and sealed on first
    /// use.
    pub fn dpop_key(&self, id: i64) -> Result<(Secret, String)> {
        if let Some(found) = self.account_key(id, DPOP)? {
            return Ok(found);
        }
        let (key, pem) = SigningKey::generate_p256();
        let jkt = key.thumbprint();
        let row = id.to_string();
        let sealed = self.vault()?.seal(
            SealedAt {
                table: T_KEYS,
                row: &row,
                field: DPOP,
            },
            &pem,
        );
        let now = ts(self.now());
        self.store()?.write(|tx| {
            tx.execute(
                "INSERT INTO account_connector_keys(account_connector_id, purpose, sealed, jkt, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
                args![id, DPOP, sealed, jkt, now],
            )?;
            Ok(())
        })?;
        // Another process may have stored one first: the stored one is the key.
        self.account_key(id, DPOP)?.ok_or_else(|| {
            Error::Internal(format!(
                "the DPoP key of account connector {id} was not stored"
            ))
        })
    }

    /// The thumbprint of the account connector's DPoP key, if it has one (no vault needed).
    pub fn dpop_thumbprint(&self, id: i64) -> Result<Option<String>> {
        Ok(self.store()?.conn().query_opt(
            "SELECT jkt FROM account_connector_keys WHERE account_connector_id = ?1 AND purpose = ?2",
            args![id, DPOP],
            |r| r.get(0),
        )?)
    }

    fn account_key(&self, id: i64, purpose: &'static str) -> Result<Option<(Secret, String)>> {
        let found: Option<(Vec<u8>, String)> = self.store()?.conn().query_opt(
            "SELECT sealed, jkt FROM account_connector_keys WHERE account_connector_id = ?1 AND purpose = ?2",
            args![id, purpose],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let Some((sealed, jkt)) = found else {
            return Ok(None);
        };
        let row = id.to_string();
        let pem = self.open_sealed(
            Some(sealed),
            SealedAt {
                table: T_KEYS,
                row: &row,
                field: purpose,
            },
        )?;
        Ok(pem.map(|p| (p, jkt)))
    }
}
