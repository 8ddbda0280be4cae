//! The one rule for "needs attention", in SQL for every count and list and in Rust for a
//! row already loaded. An account connector needs the user when:
//! - it needs re-authentication (`needs_reauth`) or a refresh or grant failed (`error`);
//! - its access token has expired and nothing can renew it without the user (no usable
//!   refresh token, and its way to authenticate is not a grant the engine runs by itself:
//!   client credentials or password). It shows as [`AuthStatus::Expired`];
//! - the provider refused its API key or Basic password (a 401/403 from a method call at the
//!   credential's current version).
//!
//! Each part reads only its own index (status; status and expiry; the partial index of
//! refused checks), so a count costs the same for ten account connectors as for a million.
//!
//! Must not: read a secret's value or open the vault (only which secrets exist), or write.

use super::*;
use crate::definition::OAuth2Grant;
use crate::store::sql::ToValue;

/// A piece of SQL over `account_connectors ac` whose parameters are written `#`, in order.
pub(super) struct Fragment {
    pub(super) sql: String,
    pub(super) params: Vec<Box<dyn ToValue>>,
}

impl Fragment {
    /// The same parameters in `before` + this SQL + `after` (`NOT `, `ac.id IN `, ...).
    pub(super) fn wrapped(self, before: &str, after: &str) -> Fragment {
        Fragment {
            sql: format!("{before}{}{after}", self.sql),
            params: self.params,
        }
    }
}

/// Whether an access token past `expires_at` can be renewed without the user: a refresh
/// token that has not expired, or a grant the engine runs by itself.
pub(crate) fn renewable(
    grant: Option<OAuth2Grant>,
    has_refresh_token: bool,
    refresh_expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> bool {
    (has_refresh_token && refresh_expires_at.is_none_or(|e| e > now))
        || grant.is_some_and(OAuth2Grant::renews_itself)
}

/// The status to show for a row stored as `stored`: an authenticated access token that has
/// expired and cannot be renewed is [`AuthStatus::Expired`].
pub(super) fn shown_status(
    stored: AuthStatus,
    expires_at: Option<DateTime<Utc>>,
    renewable: bool,
    now: DateTime<Utc>,
) -> AuthStatus {
    match (stored, expires_at) {
        (AuthStatus::Authenticated, Some(e)) if e <= now && !renewable => AuthStatus::Expired,
        _ => stored,
    }
}

/// The library's ways to authenticate that renew their own tokens (client credentials,
/// password), per connector: read from the few definitions that mention such a grant.
pub(super) struct SelfRenewing {
    /// (connector Id, method ids that renew, method ids that do not, whether the method
    /// used for an unknown id renews).
    connectors: Vec<(i64, Vec<String>, Vec<String>, bool)>,
}

impl SelfRenewing {
    pub(super) fn read(conn: &Db<'_>) -> Result<SelfRenewing> {
        let ids: Vec<i64> = conn.query_map(
            "SELECT id FROM connectors
             WHERE definition LIKE '%client_credentials%' OR definition LIKE '%password%'",
            args![],
            |r| r.get(0),
        )?;
        let mut connectors = vec![];
        for id in ids {
            let connector = find_connector(conn, &id.to_string())?;
            let methods = connector.definition.auth_methods();
            let renews = |m: &crate::definition::AuthMethod<'_>| {
                m.oauth2().is_some_and(|o| o.grant.renews_itself())
            };
            let (yes, no): (Vec<_>, Vec<_>) = methods.iter().partition(|m| renews(m));
            if yes.is_empty() {
                continue;
            }
            let fallback = methods.first().is_some_and(renews);
            let ids = |v: Vec<&crate::definition::AuthMethod<'_>>| {
                v.into_iter().map(|m| m.id.to_string()).collect::<Vec<_>>()
            };
            connectors.push((id, ids(yes), ids(no), fallback));
        }
        Ok(SelfRenewing { connectors })
    }

    /// True for a row whose way to authenticate renews its own tokens. A stored method the
    /// definition no longer has falls back to its first method, as the engine does.
    fn fragment(&self) -> Fragment {
        let mut params: Vec<Box<dyn ToValue>> = vec![];
        let mut parts = vec![];
        let method = "COALESCE(ac.authentication_method, 'default')";
        for (id, yes, no, fallback) in &self.connectors {
            let list = |ids: &Vec<String>, params: &mut Vec<Box<dyn ToValue>>| {
                params.extend(ids.iter().map(|m| Box::new(m.clone()) as Box<dyn ToValue>));
                vec!["#"; ids.len()].join(", ")
            };
            // Connector Ids are integers: safe to inline.
            parts.push(match (fallback, no.is_empty()) {
                (true, true) => format!("ac.connector_id = {id}"),
                (true, false) => format!(
                    "(ac.connector_id = {id} AND {method} NOT IN ({}))",
                    list(no, &mut params)
                ),
                (false, _) => format!(
                    "(ac.connector_id = {id} AND {method} IN ({}))",
                    list(yes, &mut params)
                ),
            });
        }
        Fragment {
            sql: if parts.is_empty() {
                "1 = 0".into()
            } else {
                format!("({})", parts.join(" OR "))
            },
            params,
        }
    }
}

/// Rows shown as Expired. Never NULL (a filter says `NOT` this).
pub(super) fn expired(now: DateTime<Utc>, renewing: &SelfRenewing) -> Fragment {
    let own = renewing.fragment();
    let mut params: Vec<Box<dyn ToValue>> = vec![Box::new(ts(now)), Box::new(ts(now))];
    params.extend(own.params);
    Fragment {
        sql: format!(
            "(ac.status = 'authenticated' AND ac.expires_at IS NOT NULL AND ac.expires_at <= #
              AND ((ac.refresh_expires_at IS NOT NULL AND ac.refresh_expires_at <= #)
                   OR NOT EXISTS (SELECT 1 FROM account_connector_secrets s
                                  WHERE s.account_connector_id = ac.id AND s.field = 'RefreshToken'))
              AND NOT {})",
            own.sql
        ),
        params,
    }
}

/// Rows whose API key or Basic password the provider refused (only those types are checked
/// by calls; the index of schema 10 holds the refused ones).
pub(super) const REFUSED: &str = "(ac.status = 'authenticated' AND ac.checked_status IN (401, 403)
     AND ac.checked_version = ac.credential_version)";

/// The Ids of every account connector that needs attention, as a subquery (three indexed
/// parts, which never overlap).
pub(super) fn needing_attention(now: DateTime<Utc>, renewing: &SelfRenewing) -> Fragment {
    let e = expired(now, renewing);
    Fragment {
        sql: format!(
            "(SELECT ac.id FROM account_connectors ac WHERE ac.status IN ('needs_reauth', 'error')
              UNION ALL SELECT ac.id FROM account_connectors ac WHERE {}
              UNION ALL SELECT ac.id FROM account_connectors ac WHERE {REFUSED})",
            e.sql
        ),
        params: e.params,
    }
}

/// Counts `fragment`'s rows (a condition over `ac`).
pub(super) fn count(conn: &Db<'_>, fragment: Fragment) -> Result<u64> {
    let mut w = listing::Where::default();
    w.push(fragment);
    Ok(conn.query_row(
        &format!(
            "SELECT count(*) FROM account_connectors ac WHERE {}",
            w.sql()
        ),
        &w.params(),
        |r| r.get::<i64>(0),
    )? as u64)
}

impl Authdesk {
    /// How many account connectors need attention in each account that has any (one
    /// aggregate over the rows the rule selects).
    pub(crate) fn needing_attention_counts(&self) -> Result<Vec<(String, u64)>> {
        let store = self.store()?;
        let conn = store.conn();
        let renewing = SelfRenewing::read(&conn)?;
        let mut w = listing::Where::default();
        w.push(needing_attention(self.now(), &renewing).wrapped("ac.id IN ", ""));
        conn.query_map(
            &format!(
                "SELECT ac.account_id, count(*) FROM account_connectors ac WHERE {}
                 GROUP BY ac.account_id",
                w.sql()
            ),
            &w.params(),
            |r| Ok((r.get::<String>(0)?, r.get::<i64>(1)? as u64)),
        )
    }
}
