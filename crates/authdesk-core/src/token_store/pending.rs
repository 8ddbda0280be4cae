//! Pending authorizations: a sign-in between its start and its callback. `state` is kept
//! only as a hash and taken at most once; the PKCE verifier is sealed; the binding that ties
//! the sign-in to where it started is kept only as a hash.
//!
//! Must not: decide whether a callback is accepted (the engine's `flow` does).

use super::*;

const T_PENDING: &str = "pending_authorizations";

/// A pending authorization request, taken by its `state`.
#[derive(Debug)]
pub struct PendingAuthorization {
    pub account_connector_id: i64,
    /// The hash of its `state` ([`crate::engine::flow::SignInStart::sign_in_id`]).
    pub sign_in_id: String,
    /// Set by the browser flow (/connectorauth): where to send the browser at the end.
    pub web_return: Option<String>,
    pub redirect_uri: String,
    pub pkce_verifier: Option<Secret>,
    pub expires_at: DateTime<Utc>,
    /// Taken too late: refused, but the browser flow still knows where to send the user.
    pub expired: bool,
    /// The hash of the value that binds it to where it started (`None`: made before schema
    /// 9, so it can be completed nowhere).
    pub binding_hash: Option<String>,
}

/// SHA-256 of a `state`, in hex: how pending sign-ins are stored and named.
pub(crate) fn state_hash(state: &str) -> String {
    let digest = Sha256::digest(state.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

impl Authdesk {
    /// Records a new authorization request; the verifier is sealed, `state` kept as a hash.
    pub fn insert_pending_authorization(
        &self,
        id: i64,
        state: &Secret,
        redirect_uri: &str,
        pkce_verifier: Option<&Secret>,
        ttl: Duration,
        web_return: Option<&str>,
        binding: &Secret,
    ) -> Result<DateTime<Utc>> {
        let now = self.now();
        let hash = state_hash(state.expose());
        let binding_hash = state_hash(binding.expose());
        let sealed = match pkce_verifier {
            Some(v) => Some(self.vault()?.seal(
                SealedAt {
                    table: T_PENDING,
                    row: &hash,
                    field: "verifier",
                },
                v,
            )),
            None => None,
        };
        let expires = now + ttl;
        let (redirect_uri, web_return) = (redirect_uri.to_owned(), web_return.map(str::to_owned));
        self.write_grouped(move |tx| {
            tx.execute("DELETE FROM pending_authorizations WHERE expires_at < ?1", args![ts(now)])?;
            tx.execute(
                "INSERT INTO pending_authorizations(state_hash, account_connector_id, redirect_uri, sealed_verifier, created_at, expires_at, web_return, binding_hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                args![hash, id, redirect_uri, sealed, ts(now), ts(expires), web_return, binding_hash])?;
            Ok(())
        })?;
        Ok(expires)
    }

    /// Takes (deletes) the pending authorization for `state`, once. `None` when unknown,
    /// already used, or expired.
    pub fn take_pending_authorization(&self, state: &str) -> Result<Option<PendingAuthorization>> {
        let now = self.now();
        let hash = state_hash(state);
        type Row = (
            i64,
            String,
            Option<Vec<u8>>,
            String,
            Option<String>,
            Option<String>,
        );
        let row: Option<Row> = self.store()?.write(|tx| {
            tx
                .query_opt(
                    "DELETE FROM pending_authorizations WHERE state_hash = ?1
                     RETURNING account_connector_id, redirect_uri, sealed_verifier, expires_at, web_return, binding_hash",
                    args![&hash],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
                )
        })?;
        let Some((id, redirect_uri, sealed, expires, web_return, binding_hash)) = row else {
            return Ok(None);
        };
        let expires_at = parse_ts(expires);
        if expires_at <= now {
            return Ok(Some(PendingAuthorization {
                account_connector_id: id,
                sign_in_id: hash,
                web_return,
                redirect_uri,
                pkce_verifier: None,
                expires_at,
                expired: true,
                binding_hash,
            }));
        }
        let pkce_verifier = self.open_sealed(
            sealed,
            SealedAt {
                table: T_PENDING,
                row: &hash,
                field: "verifier",
            },
        )?;
        Ok(Some(PendingAuthorization {
            account_connector_id: id,
            sign_in_id: hash,
            web_return,
            redirect_uri,
            pkce_verifier,
            expires_at,
            expired: false,
            binding_hash,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_hashes_are_hex_sha256() {
        assert_eq!(state_hash("abc").len(), 64);
        assert_ne!(state_hash("abc"), state_hash("abd"));
    }
}
