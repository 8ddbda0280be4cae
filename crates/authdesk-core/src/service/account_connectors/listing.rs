//! Account connectors in lists: pages in SQL whose filters become only the clauses that
//! apply (so the database picks its index), keyset chunks for `--all`, counts as
//! aggregates, and the loading of a page in three queries (rows, properties, secret names;
//! each definition parsed once; no keychain or vault work).
//!
//! Must not: read every row to show some, or open the vault.

use super::*;

pub(super) struct ResolvedFilter {
    account: Option<String>,
    status: Option<AuthStatus>,
    connector: Option<i64>,
    pattern: Option<String>,
    /// The search's text also names these library connectors (display name or id), and
    /// perhaps an account connector Id.
    search_connectors: Vec<i64>,
    search_id: Option<i64>,
    /// The name search may read SQLite's trigram index (`account_connector_names`): three
    /// characters or more, none of LIKE's own.
    search_indexed: bool,
    expiring_first: bool,
    needs_attention: bool,
    now: DateTime<Utc>,
    /// Read only when the filter asks about expiry (a status or needs attention).
    renewing: Option<attention::SelfRenewing>,
}

impl ResolvedFilter {
    /// The SQL condition over `account_connectors ac JOIN connectors c`, with only the
    /// clauses that apply, so SQLite plans each list with its index (an `?1 IS NULL OR ...`
    /// condition would make it scan). `after`: only Ids above it.
    fn condition(&self, after: Option<i64>) -> Where {
        let mut w = Where::default();
        if let Some(a) = &self.account {
            w.add("ac.account_id = #", a.clone());
        }
        let expired = || attention::expired(self.now, self.renewing.as_ref().expect("read"));
        match self.status {
            None => {}
            Some(AuthStatus::Expired) => w.push(expired()),
            Some(AuthStatus::Authenticated) => {
                w.add("ac.status = #", AuthStatus::Authenticated.as_db());
                w.push(expired().wrapped("NOT ", ""));
            }
            Some(st) => w.add("ac.status = #", st.as_db()),
        }
        if self.needs_attention {
            let a = attention::needing_attention(self.now, self.renewing.as_ref().expect("read"));
            w.push(a.wrapped("ac.id IN ", ""));
        }
        if let Some(c) = self.connector {
            w.add("ac.connector_id = #", c);
        }
        if let Some(p) = &self.pattern {
            // One search over what a user may type: the account connector's name or Id,
            // its account's name, its connector's display name or id. Ids are integers,
            // safe to inline.
            // The index takes the same pattern (it holds no wildcard to escape).
            let by_name = if self.search_indexed {
                "ac.id IN (SELECT rowid FROM account_connector_names WHERE name LIKE #)"
            } else {
                "ac.name LIKE # ESCAPE '\\'"
            };
            let mut clause = format!(
                "({by_name}
                OR ac.account_id IN (SELECT id FROM accounts WHERE name LIKE # ESCAPE '\\')"
            );
            if !self.search_connectors.is_empty() {
                let ids: Vec<String> = self.search_connectors.iter().map(i64::to_string).collect();
                clause.push_str(&format!(" OR ac.connector_id IN ({})", ids.join(", ")));
            }
            if let Some(id) = self.search_id {
                clause.push_str(&format!(" OR ac.id = {id}"));
            }
            clause.push(')');
            w.add(&clause, p.clone());
        }
        if let Some(id) = after {
            w.add("ac.id > #", id);
        }
        if self.expiring_first {
            w.clauses.push("ac.expires_at IS NOT NULL".into());
        }
        w
    }
}

/// One page of what `filter` selects, in its order (Id, or soonest expiry first).
fn page_items(
    conn: &Db<'_>,
    filter: &ResolvedFilter,
    offset: u64,
    limit: Option<u64>,
) -> Result<Vec<AccountConnector>> {
    let condition = filter.condition(None);
    let limit = limit.map_or(i64::MAX, |l| l.min(i64::MAX as u64) as i64);
    let order = if filter.expiring_first {
        "ac.expires_at, ac.id"
    } else {
        "ac.id"
    };
    let tail = format!(
        "ORDER BY {order} LIMIT {limit} OFFSET {}",
        offset.min(i64::MAX as u64)
    );
    load_many(
        conn,
        &condition.sql(),
        &condition.params(),
        &tail,
        &mut ConnectorCache::default(),
        filter.now,
    )
}

/// A WHERE clause and its parameters (`#` in a clause is its parameter).
#[derive(Default)]
pub(super) struct Where {
    clauses: Vec<String>,
    params: Vec<Box<dyn crate::store::sql::ToValue>>,
}

impl Where {
    fn add(&mut self, clause: &str, value: impl crate::store::sql::ToValue + 'static) {
        self.params.push(Box::new(value));
        self.clauses
            .push(clause.replace('#', &format!("?{}", self.params.len())));
    }

    /// Adds a clause whose parameters are written `#`, in order.
    pub(super) fn push(&mut self, fragment: attention::Fragment) {
        let mut sql = String::with_capacity(fragment.sql.len());
        let mut params = fragment.params.into_iter();
        for c in fragment.sql.chars() {
            if c == '#' {
                self.params
                    .push(params.next().expect("one parameter per #"));
                sql.push_str(&format!("?{}", self.params.len()));
            } else {
                sql.push(c);
            }
        }
        self.clauses.push(sql);
    }

    pub(super) fn sql(&self) -> String {
        if self.clauses.is_empty() {
            "1 = 1".into()
        } else {
            self.clauses.join(" AND ")
        }
    }

    pub(super) fn params(&self) -> Vec<&dyn crate::store::sql::ToValue> {
        self.params.iter().map(|p| p.as_ref()).collect()
    }
}

/// Library entries by Id, each parsed once per list.
#[derive(Default)]
pub(super) struct ConnectorCache(HashMap<i64, LibraryConnector>);

impl ConnectorCache {
    fn get(&mut self, conn: &Db<'_>, id: i64) -> Result<&LibraryConnector> {
        Ok(match self.0.entry(id) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(find_connector(conn, &id.to_string())?)
            }
        })
    }
}

pub(super) const AC_COLUMNS: &str = "ac.id, ac.account_id, ac.connector_id, ac.name, ac.description, ac.status,
    ac.last_error, ac.sign_in_mode, ac.token_type, ac.scopes, ac.expires_at, ac.refresh_expires_at,
    ac.authenticated_at, ac.created_at, ac.updated_at, ac.authentication_method, ac.partner_integration,
    CASE WHEN ac.checked_version = ac.credential_version THEN ac.checked_at END,
    CASE WHEN ac.checked_version = ac.credential_version THEN ac.checked_status END";

/// The account connectors matching `condition` (over `account_connectors ac`, optionally
/// joined with `connectors c`), in `tail` order and limit: three queries whatever their
/// number (the rows, then their properties and their secrets' names), each definition
/// parsed once, no keychain or vault work.
pub(super) fn load_many(
    conn: &Db<'_>,
    condition: &str,
    params: &[&dyn crate::store::sql::ToValue],
    tail: &str,
    connectors: &mut ConnectorCache,
    now: DateTime<Utc>,
) -> Result<Vec<AccountConnector>> {
    struct Row {
        id: i64,
        account_id: String,
        connector_id: i64,
        name: String,
        description: String,
        status: String,
        last_error: Option<String>,
        sign_in_mode: Option<String>,
        token_type: Option<String>,
        scopes: Option<String>,
        expires_at: Option<String>,
        refresh_expires_at: Option<String>,
        authenticated_at: Option<String>,
        created_at: String,
        updated_at: String,
        authentication_method: Option<String>,
        partner_integration: bool,
        checked_at: Option<String>,
        checked_status: Option<u16>,
    }
    let rows: Vec<Row> = conn.query_map(
        &format!(
            "SELECT {AC_COLUMNS} FROM account_connectors ac JOIN connectors c ON c.id = ac.connector_id
             WHERE {condition} {tail}"
        ),
        params,
        |r| {
            Ok(Row {
                id: r.get(0)?,
                account_id: r.get(1)?,
                connector_id: r.get(2)?,
                name: r.get(3)?,
                description: r.get(4)?,
                status: r.get(5)?,
                last_error: r.get(6)?,
                sign_in_mode: r.get(7)?,
                token_type: r.get(8)?,
                scopes: r.get(9)?,
                expires_at: r.get(10)?,
                refresh_expires_at: r.get(11)?,
                authenticated_at: r.get(12)?,
                created_at: r.get(13)?,
                updated_at: r.get(14)?,
                authentication_method: r.get(15)?,
                partner_integration: r.get(16)?,
                checked_at: r.get(17)?,
                checked_status: r.get(18)?,
            })
        },
    )?;
    if rows.is_empty() {
        return Ok(vec![]);
    }
    // Integers only, so the list is safe to inline.
    let ids = rows
        .iter()
        .map(|r| r.id.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let mut properties: HashMap<i64, Vec<(String, Option<String>, bool)>> = HashMap::new();
    conn.for_each(
        &format!(
            "SELECT account_connector_id, name, value, sealed_value IS NOT NULL
             FROM account_connector_properties WHERE account_connector_id IN ({ids}) ORDER BY name"
        ),
        args![],
        |r| {
            let (id, name, value, secret): (i64, String, Option<String>, bool) =
                (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
            properties
                .entry(id)
                .or_default()
                .push((name, value, secret));
            Ok(())
        },
    )?;
    let mut secrets: HashMap<i64, Vec<String>> = HashMap::new();
    conn.for_each(
        &format!(
            "SELECT account_connector_id, field FROM account_connector_secrets
             WHERE account_connector_id IN ({ids}) ORDER BY field"
        ),
        args![],
        |r| {
            let (id, field): (i64, String) = (r.get(0)?, r.get(1)?);
            secrets.entry(id).or_default().push(field);
            Ok(())
        },
    )?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let connector = connectors.get(conn, row.connector_id)?;
        let def = &connector.definition;
        let properties: Vec<PropertyView> = properties
            .remove(&row.id)
            .unwrap_or_default()
            .into_iter()
            .map(|(name, value, is_secret)| PropertyView {
                id: def
                    .property(&name)
                    .map_or(0, |p| stable_id(&def.id, "property", &p.name)),
                account_connector_id: row.id,
                name,
                value,
                is_secret,
            })
            .collect();
        let missing_properties = def
            .properties
            .iter()
            .filter(|p| p.required && !properties.iter().any(|v| v.name == p.name))
            .map(|p| p.name.clone())
            .collect();
        // A method that a later version of the definition dropped falls back to the default.
        let method = def
            .auth_method(row.authentication_method.as_deref())
            .unwrap_or_else(|| def.auth_methods()[0]);
        let secrets_set = secrets.remove(&row.id).unwrap_or_default();
        let expires_at = row.expires_at.map(parse_ts);
        let refresh_expires_at = row.refresh_expires_at.map(parse_ts);
        let renewable = attention::renewable(
            method.oauth2().map(|o| o.grant),
            secrets_set.iter().any(|f| f == fields::REFRESH_TOKEN),
            refresh_expires_at,
            now,
        );
        let status =
            attention::shown_status(AuthStatus::from_db(&row.status), expires_at, renewable, now);
        let authentication = authentication_view(def, method);
        out.push(AccountConnector {
            id: row.id,
            account_id: row.account_id,
            name: row.name,
            description: row.description,
            auth_value: None,
            authenticated: status == AuthStatus::Authenticated,
            status,
            last_error: row.last_error,
            connector: connector_summary(connector.id, &connector.slug, def, method),
            authentication_id: authentication.id.clone(),
            authentication,
            is_partner_integration_connector: row.partner_integration,
            properties,
            custom_fields: vec![],
            missing_properties,
            secrets_set,
            sign_in_mode: row.sign_in_mode.map(|m| {
                if m == "system_browser" {
                    SignInMode::SystemBrowser
                } else {
                    SignInMode::Webview
                }
            }),
            token_type: row.token_type,
            scopes: row.scopes,
            expires_at,
            refresh_expires_at,
            authenticated_at: row.authenticated_at.map(parse_ts),
            created_at: parse_ts(row.created_at),
            updated_at: parse_ts(row.updated_at),
            last_checked_at: row.checked_at.clone().map(parse_ts),
            last_check: row
                .checked_at
                .zip(row.checked_status)
                .map(|(at, http_status)| CredentialCheck {
                    at: parse_ts(at),
                    http_status,
                    ok: (200..300).contains(&http_status),
                }),
        });
    }
    Ok(out)
}

pub(super) fn load_account_connector(
    conn: &Db<'_>,
    id: i64,
    now: DateTime<Utc>,
) -> Result<AccountConnector> {
    load_many(
        conn,
        "ac.id = ?1",
        args![id],
        "",
        &mut ConnectorCache::default(),
        now,
    )?
    .pop()
    .ok_or_else(|| Error::not_found("account connector", id))
}

impl Authdesk {
    pub fn list_account_connectors(
        &self,
        account_id: Option<&str>,
    ) -> Result<Vec<AccountConnector>> {
        let filter = AccountConnectorFilter {
            account_id: account_id.map(str::to_string),
            ..Default::default()
        };
        Ok(self.account_connectors_page(&filter, 0, None)?.items)
    }

    /// A page of the account connectors `filter` selects (in Id order), and how many it
    /// selects in all: one query for the count, three for the page, whatever the size of
    /// the data directory (indexes of schema 6).
    pub fn account_connectors_page(
        &self,
        filter: &AccountConnectorFilter,
        offset: u64,
        limit: Option<u64>,
    ) -> Result<Page<AccountConnector>> {
        let filter = self.resolve(filter)?;
        let condition = filter.condition(None);
        let store = self.store()?;
        let conn = store.conn();
        let total: i64 = conn.query_row(
            &format!(
                "SELECT count(*) FROM account_connectors ac JOIN connectors c ON c.id = ac.connector_id
                 WHERE {}",
                condition.sql()
            ),
            condition.params().as_slice(),
            |r| r.get(0),
        )?;
        Ok(Page {
            items: page_items(&conn, &filter, offset, limit)?,
            total: total as u64,
        })
    }

    /// The first `limit` account connectors `filter` selects, in its order, without counting
    /// every one it selects (the dashboard's "expiring next": a count of 800,000 rows to
    /// show 50 was most of its time at a million).
    pub fn account_connectors_first(
        &self,
        filter: &AccountConnectorFilter,
        limit: u64,
    ) -> Result<Vec<AccountConnector>> {
        let filter = self.resolve(filter)?;
        let store = self.store()?;
        page_items(&store.conn(), &filter, 0, Some(limit))
    }

    /// Every account connector `filter` selects, in Id order, handed to `each` `chunk` at a
    /// time (each chunk read after the last Id of the one before, so memory stays one chunk
    /// and nothing is skipped or repeated). Returns how many there were.
    pub fn for_each_account_connector(
        &self,
        filter: &AccountConnectorFilter,
        chunk: u64,
        mut each: impl FnMut(Vec<AccountConnector>) -> Result<()>,
    ) -> Result<u64> {
        let filter = self.resolve(&AccountConnectorFilter {
            // Chunks follow Ids.
            expiring_first: false,
            ..filter.clone()
        })?;
        let mut connectors = ConnectorCache::default();
        let (mut after, mut n) = (None, 0u64);
        loop {
            let condition = filter.condition(after);
            let items = load_many(
                &self.store()?.conn(),
                &condition.sql(),
                &condition.params(),
                &format!("ORDER BY ac.id LIMIT {}", chunk.clamp(1, 100_000)),
                &mut connectors,
                filter.now,
            )?;
            let Some(last) = items.last() else {
                return Ok(n);
            };
            after = Some(last.id);
            n += items.len() as u64;
            each(items)?;
        }
    }

    /// A filter with its account and connector looked up (an unknown one is an error).
    pub(super) fn resolve(&self, filter: &AccountConnectorFilter) -> Result<ResolvedFilter> {
        let search = filter
            .search
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty());
        let about_expiry = filter.needs_attention
            || matches!(
                filter.status,
                Some(AuthStatus::Expired | AuthStatus::Authenticated)
            );
        Ok(ResolvedFilter {
            account: filter
                .account_id
                .as_deref()
                .map(|a| self.get_account(a))
                .transpose()?
                .map(|a| a.id),
            status: filter.status,
            connector: filter
                .connector
                .as_deref()
                .map(|c| self.get_connector(c))
                .transpose()?
                .map(|c| c.id),
            pattern: search.map(like_pattern),
            search_connectors: match search {
                Some(s) => self.connectors_named(s)?,
                None => vec![],
            },
            search_id: search.and_then(|s| s.parse().ok()),
            search_indexed: search
                .is_some_and(|s| s.chars().count() >= 3 && !s.contains(['%', '_', '\\']))
                && self.store()?.path().is_some(),
            expiring_first: filter.expiring_first,
            needs_attention: filter.needs_attention,
            now: self.now(),
            renewing: about_expiry
                .then(|| attention::SelfRenewing::read(&self.store()?.conn()))
                .transpose()?,
        })
    }

    /// Counts over the whole data directory (aggregate queries over indexes, no rows
    /// loaded). Expired and refused ones are counted apart from the authenticated ones, so
    /// the statuses add up to the total; `needs_attention` is the one rule's count.
    pub fn counts(&self) -> Result<Counts> {
        let store = self.store()?;
        let conn = store.conn();
        let mut counts = Counts {
            accounts: conn.query_row("SELECT count(*) FROM accounts", args![], |r| {
                r.get::<i64>(0)
            })? as u64,
            ..Default::default()
        };
        // SQLite keeps the counts by status (schema 20's triggers): a few rows, not a scan.
        let by_status = conn.query_map(
            if conn.is_postgres() {
                "SELECT status, count(*) FROM account_connectors GROUP BY status"
            } else {
                "SELECT status, n FROM account_connector_counts"
            },
            args![],
            |r| Ok((r.get::<String>(0)?, r.get::<i64>(1)?)),
        )?;
        for (status, n) in by_status {
            let n = n as u64;
            counts.account_connectors += n;
            match AuthStatus::from_db(&status) {
                AuthStatus::Authenticated | AuthStatus::Expired => counts.authenticated += n,
                AuthStatus::NotAuthenticated => counts.not_authenticated += n,
                AuthStatus::NeedsReauth => counts.needs_reauthentication += n,
                AuthStatus::Error => counts.error += n,
            }
        }
        let renewing = attention::SelfRenewing::read(&conn)?;
        counts.expired = attention::count(&conn, attention::expired(self.now(), &renewing))?;
        counts.refused = attention::count(
            &conn,
            attention::Fragment {
                sql: attention::REFUSED.into(),
                params: vec![],
            },
        )?;
        counts.authenticated -= counts.expired + counts.refused;
        counts.needs_attention = counts.needing_attention();
        Ok(counts)
    }

    /// The library connectors whose display name or id contains `text` (any case): each
    /// definition's `name` read alone (no validation), so a search costs little.
    fn connectors_named(&self, text: &str) -> Result<Vec<i64>> {
        #[derive(serde::Deserialize)]
        struct Named {
            name: Option<String>,
        }
        let needle = text.to_lowercase();
        let rows: Vec<(i64, String, String)> = self.store()?.conn().query_map(
            "SELECT id, slug, definition FROM connectors",
            args![],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        Ok(rows
            .into_iter()
            .filter(|(_, slug, definition)| {
                slug.to_lowercase().contains(&needle)
                    || toml::from_str::<Named>(definition)
                        .ok()
                        .and_then(|n| n.name)
                        .is_some_and(|n| n.to_lowercase().contains(&needle))
            })
            .map(|(id, _, _)| id)
            .collect())
    }

    /// The Ids of an account's account connectors (all when `None`), in order.
    pub fn list_account_connector_ids(&self, account_id: Option<&str>) -> Result<Vec<i64>> {
        let account = account_id.map(|a| self.get_account(a)).transpose()?;
        let store = self.store()?;
        store.conn().query_map(
            "SELECT id FROM account_connectors WHERE ?1 IS NULL OR account_id = ?1 ORDER BY id",
            args![account.as_ref().map(|a| a.id.as_str())],
            |r| r.get(0),
        )
    }
}
