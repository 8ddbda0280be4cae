//! API clients: how partner code authenticates to the local API the way Cyclr's documents,
//! with OAuth 2.0 client credentials (`POST /oauth/token`, RFC 6749 §4.4) that give a
//! bearer token for 14 days, optionally limited to one account (`scope=account:{Id}`).
//!
//! Invariants:
//! - A client secret is shown once, when the client is created; only its SHA-256 is kept
//!   (it carries 256 random bits, so a fast hash is enough), and so for tokens.
//! - Checks compare hashes in constant time after an indexed lookup by client id.
//! - Revoking a client ends every token it got, at once.
//! - A token names its client and, if limited, its account; the API enforces the limit.
//!
//! Must not: keep a client secret or a token but as its SHA-256, or parse requests or enforce
//! a token's account limit (the API's `oauth` and `guard` do).

use crate::store::{args, Row};
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::service::{parse_guid, parse_ts, ts, Authdesk};
use crate::settings::random_bytes;

/// Cyclr's partner tokens last 14 days (its answers say `expires_in: 1209599`).
pub const API_TOKEN_TTL: Duration = Duration::days(14);

/// An API client as listed: never its secret.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ApiClient {
    pub client_id: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A new client: the secret, shown this once.
#[derive(Debug)]
pub struct NewApiClient {
    pub client: ApiClient,
    pub client_secret: Secret,
}

/// A bearer token just issued.
#[derive(Debug)]
pub struct IssuedToken {
    pub access_token: Secret,
    pub client_id: String,
    pub account_id: Option<String>,
    pub expires_at: DateTime<Utc>,
}

/// Who a bearer token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenGrant {
    pub client_id: String,
    /// `Some` for a token limited to one account.
    pub account_id: Option<String>,
}

/// Why a token request was refused, as RFC 6749 §5.2 names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRefusal {
    /// Unknown client, wrong secret, or a revoked client.
    InvalidClient,
    /// `scope` is not `account:{AccountId}` of an existing account.
    InvalidScope,
}

fn sha256_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn random_token(prefix: &str) -> String {
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<32>())
    )
}

fn client_from_row(r: &Row<'_>) -> Result<ApiClient> {
    Ok(ApiClient {
        client_id: r.get(0)?,
        name: r.get(1)?,
        created_at: parse_ts(r.get(2)?),
        revoked_at: r.get::<Option<String>>(3)?.map(parse_ts),
    })
}

impl Authdesk {
    /// Creates an API client. The secret is in the answer and nowhere else.
    pub fn create_api_client(&self, name: &str) -> Result<NewApiClient> {
        let name = name.trim();
        if name.is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
            return Err(Error::InvalidInput(
                "an API client's name must be 1-200 characters without control characters".into(),
            ));
        }
        let client_id = uuid::Uuid::new_v4().to_string();
        let secret = Secret::new(random_token("adk_cs_"));
        let now = self.now();
        self.store()?.write(|tx| {
            tx.execute(
                "INSERT INTO api_clients(client_id, name, secret_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
                args![client_id, name, sha256_hex(secret.expose()), ts(now)])?;
            Ok(())
        })?;
        Ok(NewApiClient {
            client: ApiClient {
                client_id,
                name: name.to_string(),
                created_at: now,
                revoked_at: None,
            },
            client_secret: secret,
        })
    }

    pub fn list_api_clients(&self) -> Result<Vec<ApiClient>> {
        let store = self.store()?;
        store.conn().query_map(
            "SELECT client_id, name, created_at, revoked_at FROM api_clients ORDER BY created_at, client_id",
            args![],
            client_from_row,
        )
    }

    /// Revokes a client: it can get no more tokens and every token it has stops working.
    pub fn revoke_api_client(&self, client_id: &str) -> Result<ApiClient> {
        let now = self.now();
        let client_id = client_id.trim().to_string();
        self.store()?.write(|tx| {
            let n = tx.execute(
                "UPDATE api_clients SET revoked_at = COALESCE(revoked_at, ?2) WHERE client_id = ?1",
                args![client_id, ts(now)],
            )?;
            if n == 0 {
                return Err(Error::not_found("API client", &client_id));
            }
            tx.execute(
                "DELETE FROM api_tokens WHERE client_id = ?1",
                args![&client_id],
            )?;
            // And the sign-in tokens it handed out: nothing it started outlives it.
            tx.execute(
                "DELETE FROM sign_in_tokens WHERE issued_by = ?1",
                args![&client_id],
            )?;
            Ok(())
        })?;
        self.store()?.conn().query_row(
            "SELECT client_id, name, created_at, revoked_at FROM api_clients WHERE client_id = ?1",
            args![&client_id],
            client_from_row,
        )
    }

    /// The client credentials grant: a bearer token for `client_id` if `client_secret` is
    /// its secret, limited to one account when `scope` is `account:{AccountId}`.
    pub fn issue_api_token(
        &self,
        client_id: &str,
        client_secret: &Secret,
        scope: Option<&str>,
    ) -> Result<std::result::Result<IssuedToken, TokenRefusal>> {
        let stored: Option<String> = self.store()?.conn().query_opt(
            "SELECT secret_hash FROM api_clients WHERE client_id = ?1 AND revoked_at IS NULL",
            args![client_id],
            |r| r.get(0),
        )?;
        // Compared in constant time; an unknown client compares against a dummy so the
        // answer takes as long either way.
        let presented = Secret::new(sha256_hex(client_secret.expose()));
        let known = Secret::new(stored.clone().unwrap_or_else(|| "0".repeat(64)));
        if stored.is_none() || presented != known {
            return Ok(Err(TokenRefusal::InvalidClient));
        }
        let account_id = match scope.map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(scope) => {
                let Some(id) = scope.strip_prefix("account:") else {
                    return Ok(Err(TokenRefusal::InvalidScope));
                };
                let Ok(id) = parse_guid(id) else {
                    return Ok(Err(TokenRefusal::InvalidScope));
                };
                match self.get_account(&id) {
                    Ok(a) => Some(a.id),
                    Err(Error::NotFound { .. }) => return Ok(Err(TokenRefusal::InvalidScope)),
                    Err(e) => return Err(e),
                }
            }
        };
        let token = Secret::new(random_token("adk_at_"));
        let now = self.now();
        let expires_at = now + API_TOKEN_TTL;
        self.store()?.write(|tx| {
            tx.execute("DELETE FROM api_tokens WHERE expires_at < ?1", args![ts(now)])?;
            tx.execute(
                "INSERT INTO api_tokens(token_hash, client_id, account_id, created_at, expires_at)
                 SELECT ?1, client_id, ?3, ?4, ?5 FROM api_clients WHERE client_id = ?2 AND revoked_at IS NULL",
                args![
                    sha256_hex(token.expose()),
                    client_id,
                    account_id,
                    ts(now),
                    ts(expires_at)
                ])?;
            Ok(())
        })?;
        Ok(Ok(IssuedToken {
            access_token: token,
            client_id: client_id.to_string(),
            account_id,
            expires_at,
        }))
    }

    /// Who a bearer token speaks for, if it is a live token of a live client.
    pub fn check_api_token(&self, token: &str) -> Result<Option<TokenGrant>> {
        let now = ts(self.now());
        self.store()?.conn().query_opt(
            "SELECT t.client_id, t.account_id FROM api_tokens t
                 JOIN api_clients c ON c.client_id = t.client_id
                 WHERE t.token_hash = ?1 AND t.expires_at > ?2 AND c.revoked_at IS NULL",
            args![sha256_hex(token), now],
            |r| {
                Ok(TokenGrant {
                    client_id: r.get(0)?,
                    account_id: r.get(1)?,
                })
            },
        )
    }
}
