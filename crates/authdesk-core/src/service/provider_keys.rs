//! The provider's signing keys kept for an account connector: the JWKS document (public
//! keys only) fetched at sign-in, where it came from, the issuer it was fetched for and
//! when. Read offline by the inspector to verify ID tokens and JWT access tokens.
//!
//! Must not: fetch anything (the engine does, at sign-in), or hold a private key.

use chrono::{DateTime, Utc};

use crate::error::Result;
use crate::store::args;

use super::{parse_ts, ts, Authdesk};

/// What is kept for one account connector.
#[derive(Debug, Clone)]
pub struct ProviderKeys {
    pub jwks_url: String,
    pub issuer: Option<String>,
    pub jwks: String,
    pub fetched_at: DateTime<Utc>,
}

impl Authdesk {
    /// Keeps (or replaces) the provider's keys for an account connector.
    pub fn keep_provider_keys(
        &self,
        id: i64,
        jwks_url: &str,
        issuer: Option<&str>,
        jwks: &str,
    ) -> Result<()> {
        let now = ts(self.now());
        self.store()?.write(|tx| {
            tx.execute(
                "INSERT INTO provider_keys(account_connector_id, jwks_url, issuer, jwks, fetched_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (account_connector_id) DO UPDATE SET jwks_url = excluded.jwks_url,
                     issuer = excluded.issuer, jwks = excluded.jwks, fetched_at = excluded.fetched_at",
                args![id, jwks_url, issuer, jwks, now],
            )?;
            Ok(())
        })
    }

    /// The keys kept for an account connector, if any were fetched.
    pub fn provider_keys(&self, id: i64) -> Result<Option<ProviderKeys>> {
        self.store()?.conn().query_opt(
            "SELECT jwks_url, issuer, jwks, fetched_at FROM provider_keys WHERE account_connector_id = ?1",
            args![id],
            |r| {
                Ok(ProviderKeys {
                    jwks_url: r.get(0)?,
                    issuer: r.get(1)?,
                    jwks: r.get(2)?,
                    fetched_at: parse_ts(r.get(3)?),
                })
            },
        )
    }
}
