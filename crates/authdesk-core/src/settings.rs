//! Owner settings for the local API and the browser flow: the API key (sealed), the
//! `targetOrigin` allow-list, the CORS allow-list, and Cyclr's account sign-in tokens.
//!
//! Invariants:
//! - The API key is sealed like every secret, compared in constant time, shown only on
//!   request (`authdesk api-key`).
//! - Origins are stored and compared as exact serialized origins (`scheme://host[:port]`,
//!   default ports omitted): no prefix or suffix matching.
//! - Sign-in tokens carry 256 random bits, are stored only as SHA-256 hashes, and are
//!   consumed by one conditional UPDATE, so of many parallel uses exactly one succeeds.
//!
//! Must not: keep an API key or a sign-in token in clear, match an origin by prefix or
//! suffix, or answer a request (the API applies the lists).

use crate::store::args;
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::service::{ts, Authdesk};
use crate::vault::SealedAt;

const API_KEY: &str = "api_key";
/// Cyclr's sign-in tokens live five minutes.
pub const SIGN_IN_TOKEN_TTL: Duration = Duration::minutes(5);

/// What an allow-list is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OriginPurpose {
    /// Where /connectorauth may redirect or post at the end of a sign-in.
    Target,
    /// Which web pages may call the API from a browser.
    Cors,
}

impl OriginPurpose {
    fn as_db(self) -> &'static str {
        match self {
            OriginPurpose::Target => "target",
            OriginPurpose::Cors => "cors",
        }
    }
}

#[derive(Debug, Clone)]
pub struct SignInToken {
    /// Handed to the caller once; only its hash is stored.
    pub token: Secret,
    /// Cyclr's format: UTC, 7 fractional digits.
    pub expires_at_utc: String,
    pub expires_at: DateTime<Utc>,
}

/// Why a sign-in token was not accepted (the caller tells the user; no detail leaks which
/// tokens exist).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInTokenRejection {
    UnknownUsedOrExpired,
    OtherAccount,
}

pub(crate) fn sha256_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Parses and normalises an origin or an absolute http(s) URL to its origin. `None` for
/// anything else (`null`, `*`, `javascript:`, relative URLs, opaque origins).
pub fn origin_of(text: &str) -> Option<String> {
    let url = url::Url::parse(text.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return None;
    }
    // `https://allowed.example@evil.com` has userinfo: refuse rather than explain it.
    if !url.username().is_empty() || url.password().is_some() {
        return None;
    }
    // A host name proper: `https://*.example.com` is no origin a browser ever has (an
    // allow-list takes exact origins, not patterns).
    if let Some(url::Host::Domain(name)) = url.host() {
        if !name.eq_ignore_ascii_case("localhost")
            && crate::definition::template::check_host_name(name).is_err()
        {
            return None;
        }
    }
    let origin = url.origin();
    origin.is_tuple().then(|| origin.ascii_serialization())
}

/// A `targetOrigin` as Cyclr's examples write it: an absolute http(s) URL, or a bare host
/// (`example.com`, `example.com/done`), which means `https://` plus it. `None` for anything
/// else.
pub fn target_url(text: &str) -> Option<url::Url> {
    let text = text.trim();
    let absolute = if text.contains("://") {
        text.to_string()
    } else {
        // A bare host must be a host name (so no `javascript:`, `data:`, `*`, `a@b`).
        let host_end = text.find(['/', '?', '#']).unwrap_or(text.len());
        let authority = &text[..host_end];
        let host = match authority.rsplit_once(':') {
            Some((h, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => authority,
        };
        // A dot too: `null` (the opaque origin's spelling) is no partner's host.
        let host_ok = host.eq_ignore_ascii_case("localhost")
            || (host.contains('.') && crate::definition::template::check_host_name(host).is_ok());
        if !host_ok {
            return None;
        }
        format!("https://{text}")
    };
    let url = url::Url::parse(&absolute).ok()?;
    origin_of(url.as_str())?;
    Some(url)
}

/// Where the browser flow may send the user: the URL and its (allowed) origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnTarget {
    pub url: url::Url,
    pub origin: String,
}

/// Why a `targetOrigin` was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetRefusal {
    /// Not a URL or a host at all.
    Malformed,
    /// A fine URL whose origin is not on the allow-list: this origin.
    NotAllowed(String),
}

impl Authdesk {
    /// Checks a `targetOrigin` of the browser flow (a URL or a bare host) against the
    /// allow-list.
    pub fn return_target(
        &self,
        text: &str,
    ) -> Result<std::result::Result<ReturnTarget, TargetRefusal>> {
        let Some(url) = target_url(text) else {
            return Ok(Err(TargetRefusal::Malformed));
        };
        let Some(origin) = origin_of(url.as_str()) else {
            return Ok(Err(TargetRefusal::Malformed));
        };
        Ok(match self.allowed_target(&origin, OriginPurpose::Target)? {
            Some(origin) => Ok(ReturnTarget { url, origin }),
            None => Err(TargetRefusal::NotAllowed(origin)),
        })
    }

    /// The local API key, creating it on first use.
    pub fn api_key(&self) -> Result<Secret> {
        match self.setting_secret(API_KEY)? {
            Some(k) => Ok(k),
            None => self.rotate_api_key_if(false),
        }
    }

    /// Replaces the local API key; the old one stops working at once.
    pub fn rotate_api_key(&self) -> Result<Secret> {
        self.rotate_api_key_if(true)
    }

    fn rotate_api_key_if(&self, replace: bool) -> Result<Secret> {
        let key = Secret::new(format!(
            "adk_{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<32>())
        ));
        self.store_sealed_setting(API_KEY, key, replace)
    }

    /// The sealed setting `key`, made with `make` and stored the first time it is asked
    /// for (a process that loses the race to store it reads the winner's).
    pub(crate) fn sealed_setting_or_make(
        &self,
        key: &str,
        make: impl FnOnce() -> Secret,
    ) -> Result<Secret> {
        match self.setting_secret(key)? {
            Some(found) => Ok(found),
            None => self.store_sealed_setting(key, make(), false),
        }
    }

    /// Seals and stores `value` under `key` (over what is there only when `replace`);
    /// answers what is stored afterwards.
    fn store_sealed_setting(&self, key: &str, value: Secret, replace: bool) -> Result<Secret> {
        let vault = self.vault()?;
        let sealed = vault.seal(
            SealedAt {
                table: "settings",
                row: key,
                field: "sealed_value",
            },
            &value,
        );
        let now = ts(self.now());
        let stored = self.store()?.write(|tx| {
            let exists: bool = tx
                .query_opt("SELECT 1 FROM settings WHERE key = ?1", args![key], |_| Ok(true))?
                .unwrap_or(false);
            if exists && !replace {
                return Ok(false); // another process created it first
            }
            tx.execute(
                "INSERT INTO settings(key, value, sealed_value, updated_at) VALUES (?1, NULL, ?2, ?3)
                 ON CONFLICT(key) DO UPDATE SET value = NULL, sealed_value = excluded.sealed_value, updated_at = excluded.updated_at",
                args![key, sealed, now])?;
            Ok(true)
        })?;
        if stored {
            Ok(value)
        } else {
            self.setting_secret(key)?
                .ok_or_else(|| Error::not_found("setting", key))
        }
    }

    /// Whether `presented` is the API key (constant-time comparison).
    /// Checks every API request, so the unsealed key is kept for as long as nothing has
    /// been committed to the data directory (a rotation by another process included).
    pub fn check_api_key(&self, presented: &str) -> Result<bool> {
        let marker = self.change_marker()?;
        let cached = {
            let cache = self.api_key_cache.lock().unwrap_or_else(|p| p.into_inner());
            cache
                .as_ref()
                .filter(|(m, _)| *m == marker)
                .map(|(_, k)| k.clone())
        };
        let key = match cached {
            Some(k) => k,
            None => {
                let k = self.api_key()?;
                // Tagged with the marker read before loading: a change since makes it stale.
                *self.api_key_cache.lock().unwrap_or_else(|p| p.into_inner()) =
                    Some((marker, k.clone()));
                k
            }
        };
        Ok(key == Secret::new(presented))
    }

    /// [`Authdesk::check_api_key`] without waiting for anything: `Some` only when the key
    /// held in memory is known to be current without a trip to the store (SQLite's change
    /// marker, [`Authdesk::change_marker_now`]); `None` means "ask `check_api_key`".
    pub fn check_api_key_now(&self, presented: &str) -> Option<bool> {
        let marker = self.change_marker_now()?.ok()?;
        let cache = self.api_key_cache.lock().unwrap_or_else(|p| p.into_inner());
        let (held_at, key) = cache.as_ref()?;
        (*held_at == marker).then(|| *key == Secret::new(presented))
    }

    fn setting_secret(&self, key: &str) -> Result<Option<Secret>> {
        let sealed: Option<Vec<u8>> = self
            .store()?
            .conn()
            .query_opt(
                "SELECT sealed_value FROM settings WHERE key = ?1",
                args![key],
                |r| r.get(0),
            )?
            .flatten();
        self.open_sealed(
            sealed,
            SealedAt {
                table: "settings",
                row: key,
                field: "sealed_value",
            },
        )
    }

    pub fn allowed_origins(&self, purpose: OriginPurpose) -> Result<Vec<String>> {
        let store = self.store()?;
        store.conn().query_map(
            "SELECT origin FROM allowed_origins WHERE purpose = ?1 ORDER BY origin",
            args![purpose.as_db()],
            |r| r.get(0),
        )
    }

    /// Adds an origin (an origin or any absolute http(s) URL on it).
    pub fn allow_origin(&self, purpose: OriginPurpose, origin: &str) -> Result<String> {
        let normal = origin_of(origin).ok_or_else(|| {
            Error::InvalidInput(format!(
                "{origin:?} is not an http(s) origin; give e.g. https://partner.example or https://partner.example:8443"
            ))
        })?;
        let now = ts(self.now());
        self.store()?.write(|tx| {
            tx.execute(
                "INSERT INTO allowed_origins(purpose, origin, created_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                args![purpose.as_db(), normal, now])?;
            Ok(())
        })?;
        Ok(normal)
    }

    /// Replaces an allow-list in one transaction; every entry is checked first.
    pub fn replace_allowed_origins(
        &self,
        purpose: OriginPurpose,
        origins: &[String],
    ) -> Result<Vec<String>> {
        let normal = origins
            .iter()
            .map(|o| {
                origin_of(o).ok_or_else(|| {
                    Error::InvalidInput(format!(
                        "{o:?} is not an http(s) origin; give e.g. https://partner.example"
                    ))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let now = ts(self.now());
        self.store()?.write(|tx| {
            tx.execute("DELETE FROM allowed_origins WHERE purpose = ?1", args![purpose.as_db()])?;
            for o in &normal {
                tx.execute(
                    "INSERT INTO allowed_origins(purpose, origin, created_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                    args![purpose.as_db(), o, now])?;
            }
            Ok(())
        })?;
        self.allowed_origins(purpose)
    }

    pub fn disallow_origin(&self, purpose: OriginPurpose, origin: &str) -> Result<()> {
        let normal = origin_of(origin).unwrap_or_else(|| origin.to_string());
        let n = self.store()?.write(|tx| {
            tx.execute(
                "DELETE FROM allowed_origins WHERE purpose = ?1 AND origin = ?2",
                args![purpose.as_db(), normal],
            )
        })?;
        if n == 0 {
            return Err(Error::not_found("allowed origin", normal));
        }
        Ok(())
    }

    /// `Some(origin)` when `url` is an absolute http(s) URL whose exact origin is allowed.
    pub fn allowed_target(&self, url: &str, purpose: OriginPurpose) -> Result<Option<String>> {
        let Some(origin) = origin_of(url) else {
            return Ok(None);
        };
        let found: Option<i64> = self.store()?.conn().query_opt(
            "SELECT 1 FROM allowed_origins WHERE purpose = ?1 AND origin = ?2",
            args![purpose.as_db(), origin],
            |r| r.get(0),
        )?;
        Ok(found.map(|_| origin))
    }

    /// Issues a single-use sign-in token for `username` of the account (creating the user),
    /// in one transaction.
    pub fn create_sign_in_token(&self, account_id: &str, username: &str) -> Result<SignInToken> {
        self.create_sign_in_token_for(account_id, Some(username), None)
    }

    /// [`Authdesk::create_sign_in_token`] asked for by an API client (`issued_by`, its
    /// ClientId): revoking the client ends the token too. Without a `username` the token is
    /// for the account alone: no account user is created (stored as the empty name).
    pub fn create_sign_in_token_for(
        &self,
        account_id: &str,
        username: Option<&str>,
        issued_by: Option<&str>,
    ) -> Result<SignInToken> {
        // The account is checked inside the write (a read before it would wait behind the
        // group being committed, and keep this token out of the next group).
        let account = crate::service::parse_guid(account_id)?;
        let username = username.map(str::trim);
        if let Some(name) = username {
            if name.is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
                return Err(Error::InvalidInput(
                    "Username must be 1-200 characters without control characters, or left \
                     out for a token with no account user"
                        .into(),
                ));
            }
        }
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<32>());
        let now = self.now();
        let expires_at = now + SIGN_IN_TOKEN_TTL;
        let (hash, username, issued_by) = (
            sha256_hex(&token),
            username.map(str::to_owned),
            issued_by.map(str::to_owned),
        );
        if self.on_postgres() {
            // One statement, a transaction of its own: one trip to the server, not six.
            let issued: Option<i64> = self.store()?.conn().query_opt(
                PG_ISSUE_SIGN_IN_TOKEN,
                args![
                    account,
                    username.clone().unwrap_or_default(),
                    ts(now),
                    ts(now - Duration::days(1)),
                    hash,
                    ts(expires_at),
                    issued_by
                ],
                |r| r.get(0),
            )?;
            if issued.is_none() {
                return Err(Error::not_found("account", &account));
            }
        } else {
            // Committed with the other tokens asked for at the same moment (group commit):
            // the answer comes only once the token is on disk.
            self.write_grouped(move |tx| {
                let known: Option<i64> =
                    tx.query_opt("SELECT 1 FROM accounts WHERE id = ?1", args![account], |r| r.get(0))?;
                if known.is_none() {
                    return Err(Error::not_found("account", &account));
                }
                if let Some(username) = &username {
                    tx.execute(
                        "INSERT INTO account_users(account_id, username, created_at) VALUES (?1, ?2, ?3)
                         ON CONFLICT(account_id, username) DO NOTHING",
                        args![account, username, ts(now)])?;
                }
                tx.execute("DELETE FROM sign_in_tokens WHERE expires_at < ?1", args![ts(now - Duration::days(1))])?;
                tx.execute(
                    "INSERT INTO sign_in_tokens(token_hash, account_id, username, created_at, expires_at, issued_by)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    args![hash, account, username.unwrap_or_default(), ts(now), ts(expires_at), issued_by])?;
                Ok(())
            })?;
        }
        Ok(SignInToken {
            token: Secret::new(token),
            expires_at_utc: crate::authvalue::format_cyclr_datetime(expires_at),
            expires_at,
        })
    }

    /// Consumes a sign-in token for `account_id`. Exactly one of any number of concurrent
    /// uses succeeds. A token of another account is consumed and refused. Answers the
    /// token's username (empty for a token with no account user).
    pub fn consume_sign_in_token(
        &self,
        token: &str,
        account_id: &str,
    ) -> Result<std::result::Result<String, SignInTokenRejection>> {
        let now = ts(self.now());
        let hash = sha256_hex(token);
        let owner: Option<(String, String)> = self.write_grouped(move |tx| {
            tx.query_opt(
                "UPDATE sign_in_tokens SET used_at = ?2
                     WHERE token_hash = ?1 AND used_at IS NULL AND expires_at > ?2
                     RETURNING account_id, username",
                args![hash, now],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
        })?;
        Ok(match owner {
            None => Err(SignInTokenRejection::UnknownUsedOrExpired),
            Some((owner, _)) if owner != account_id => Err(SignInTokenRejection::OtherAccount),
            Some((_, username)) => Ok(username),
        })
    }
}

/// [`Authdesk::create_sign_in_token_for`] on PostgreSQL as one statement (the same writes
/// as SQLite's transaction: the account checked, its user made, expired tokens dropped, the
/// token stored; nothing when the account is unknown). `?2` is the username, '' for none.
const PG_ISSUE_SIGN_IN_TOKEN: &str = "WITH account AS (SELECT id FROM accounts WHERE id = ?1),
     made_user AS (
         INSERT INTO account_users(account_id, username, created_at)
         SELECT id, ?2, ?3 FROM account WHERE ?2 <> ''
         ON CONFLICT (account_id, username) DO NOTHING),
     dropped AS (DELETE FROM sign_in_tokens WHERE expires_at < ?4)
INSERT INTO sign_in_tokens(token_hash, account_id, username, created_at, expires_at, issued_by)
SELECT ?5, id, ?2, ?3, ?6, ?7 FROM account
RETURNING 1::int8";

/// `N` bytes from the OS random number generator.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    use chacha20poly1305::aead::rand_core::RngCore;
    let mut buf = [0u8; N];
    chacha20poly1305::aead::OsRng.fill_bytes(&mut buf);
    buf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_hosts_mean_https() {
        let u = |t: &str| target_url(t).map(|u| u.to_string());
        assert_eq!(u("example.com").as_deref(), Some("https://example.com/"));
        assert_eq!(
            u("example.com/done?x=1").as_deref(),
            Some("https://example.com/done?x=1")
        );
        assert_eq!(
            u("example.com:8443").as_deref(),
            Some("https://example.com:8443/")
        );
        assert_eq!(
            u("http://127.0.0.1:5173/x").as_deref(),
            Some("http://127.0.0.1:5173/x")
        );
        for bad in [
            "javascript:alert(1)",
            "data:text/html,x",
            "",
            "a@evil.com",
            "*",
            "null",
            "https://*.example.com",
            "https://exa mple.com",
        ] {
            assert_eq!(u(bad), None, "{bad}");
        }
    }

    #[test]
    fn origins_are_exact_and_refuse_tricks() {
        assert_eq!(
            origin_of("https://partner.example/complete?x=1").as_deref(),
            Some("https://partner.example")
        );
        assert_eq!(
            origin_of("https://partner.example:443/").as_deref(),
            Some("https://partner.example")
        );
        assert_eq!(
            origin_of("http://127.0.0.1:5173/x").as_deref(),
            Some("http://127.0.0.1:5173")
        );
        for bad in [
            "*",
            "null",
            "javascript:alert(1)",
            "//evil.com",
            "https://allowed.example@evil.com",
            "data:text/html,x",
            "ftp://x.example",
            "",
        ] {
            assert_eq!(origin_of(bad), None, "{bad}");
        }
    }
}
