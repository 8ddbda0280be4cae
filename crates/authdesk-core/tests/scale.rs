//! Lists that stay fast with 100,000 account connectors: paging and filters, aggregate
//! counts, and the query plans (every list and count uses an index of schema 6, never a
//! scan of account connectors).

mod support;

use authdesk_core::{
    AccountConnectorFilter, AuthStatus, EngineConfig, InstallRequest, NewAccount, Secret,
};

/// On SQLite: these tests set statuses in the file directly and read SQLite's query plans.
fn setup() -> support::EngineSetup {
    support::engine_setup_sqlite(EngineConfig::default(), "Scale")
}

#[test]
fn account_connectors_page_filter_and_count() {
    let s = setup();
    let other = s
        .desk
        .create_account(NewAccount {
            name: "Other Co".into(),
            ..Default::default()
        })
        .unwrap()
        .id;
    let install = |account: &str, connector: &str, name: &str, auth: Option<&str>| {
        s.desk
            .install(
                account,
                connector,
                InstallRequest {
                    name: name.into(),
                    auth_value: auth.map(Secret::new),
                    ..Default::default()
                },
            )
            .unwrap()
            .id
    };
    for i in 0..25 {
        install(
            &s.account,
            "stripe",
            &format!("Stripe {i}"),
            Some("sk_test_x"),
        );
    }
    for i in 0..5 {
        install(&other, "github", &format!("GitHub 100%_{i}"), None);
    }
    let page = |filter: AccountConnectorFilter, offset, limit| {
        s.desk
            .account_connectors_page(&filter, offset, limit)
            .unwrap()
    };
    let all = page(AccountConnectorFilter::default(), 0, None);
    assert_eq!((all.total, all.items.len()), (30, 30));
    // Pages in Id order.
    let p2 = page(AccountConnectorFilter::default(), 10, Some(10));
    assert_eq!(p2.total, 30);
    assert_eq!(
        p2.items.iter().map(|a| a.id).collect::<Vec<_>>(),
        all.items[10..20].iter().map(|a| a.id).collect::<Vec<_>>()
    );
    let by_account = page(
        AccountConnectorFilter {
            account_id: Some(other.clone()),
            ..Default::default()
        },
        0,
        None,
    );
    assert_eq!(by_account.total, 5);
    let by_status = page(
        AccountConnectorFilter {
            status: Some(AuthStatus::Authenticated),
            ..Default::default()
        },
        0,
        None,
    );
    assert_eq!(by_status.total, 25);
    let by_connector = page(
        AccountConnectorFilter {
            connector: Some("github".into()),
            ..Default::default()
        },
        0,
        None,
    );
    assert_eq!(by_connector.total, 5);
    // Search by name or connector id, any case; % and _ are literal.
    let found = page(
        AccountConnectorFilter {
            search: Some("stripe 1".into()),
            ..Default::default()
        },
        0,
        None,
    );
    assert_eq!(found.total, 11, "Stripe 1 and Stripe 10-19");
    let literal = page(
        AccountConnectorFilter {
            search: Some("100%_".into()),
            ..Default::default()
        },
        0,
        None,
    );
    assert_eq!(literal.total, 5);
    let none = page(
        AccountConnectorFilter {
            search: Some("1_0".into()),
            ..Default::default()
        },
        0,
        None,
    );
    assert_eq!(none.total, 0, "_ is not a wildcard");
    // One search over what a user knows: the account's name, the connector's display name,
    // the account connector's Id.
    let search = |text: &str| {
        page(
            AccountConnectorFilter {
                search: Some(text.into()),
                ..Default::default()
            },
            0,
            None,
        )
    };
    assert_eq!(search("other co").total, 5, "by account name");
    let key = install(&s.account, "generic-api-key", "Billing key", None);
    let by_display_name = search("api key");
    assert_eq!(
        by_display_name
            .items
            .iter()
            .map(|a| a.id)
            .collect::<Vec<_>>(),
        vec![key],
        "by the connector's display name"
    );
    let by_id = search(&key.to_string());
    assert!(by_id.items.iter().any(|a| a.id == key), "by Id");
    s.desk
        .delete_account_connector_taking(key)
        .unwrap()
        .unwrap();
    // Read in chunks (each after the last Id of the one before): every row once, in order.
    let mut chunks = vec![];
    let n = s
        .desk
        .for_each_account_connector(&AccountConnectorFilter::default(), 7, |items| {
            chunks.push(items);
            Ok(())
        })
        .unwrap();
    assert_eq!(n, 30);
    assert_eq!(
        chunks.iter().map(Vec::len).collect::<Vec<_>>(),
        [7, 7, 7, 7, 2]
    );
    assert_eq!(chunks.concat(), all.items);
    let mut theirs = vec![];
    s.desk
        .for_each_account_connector(
            &AccountConnectorFilter {
                account_id: Some(other.clone()),
                ..Default::default()
            },
            2,
            |items| {
                theirs.extend(items);
                Ok(())
            },
        )
        .unwrap();
    assert_eq!(theirs, by_account.items);
    // A page read the same as one by one.
    for ac in &all.items {
        assert_eq!(ac, &s.desk.get_account_connector(ac.id).unwrap());
    }
    let counts = s.desk.counts().unwrap();
    assert_eq!(
        (
            counts.accounts,
            counts.account_connectors,
            counts.authenticated,
            counts.not_authenticated
        ),
        (2, 30, 25, 5)
    );
    // Needing attention (re-authentication or an error), per account, from one aggregate,
    // by the same rule as the header's count (the statuses are set here directly: how a
    // refresh comes to them is tested in the engine's tests).
    let db = rusqlite::Connection::open(s.desk.data_dir().join("authdesk.db")).unwrap();
    db.execute(
        "UPDATE account_connectors SET status = 'needs_reauth' WHERE id = ?1",
        [by_account.items[0].id],
    )
    .unwrap();
    db.execute(
        "UPDATE account_connectors SET status = 'error' WHERE id = ?1",
        [by_account.items[1].id],
    )
    .unwrap();
    let needing = s
        .desk
        .needing_attention_by_account(&[s.account.clone(), other.clone()])
        .unwrap();
    assert_eq!(needing.get(&other), Some(&2));
    assert_eq!(needing.get(&s.account), None);
    assert!(s
        .desk
        .needing_attention_by_account(std::slice::from_ref(&s.account))
        .unwrap()
        .is_empty());
    let counts = s.desk.counts().unwrap();
    assert_eq!((counts.needs_reauthentication, counts.error), (1, 1));
    assert_eq!(
        counts.needing_attention(),
        2,
        "the header and the account agree"
    );
    // Accounts: by name, searchable by name or Id.
    let accounts = s.desk.accounts_page(Some("other"), 0, None).unwrap();
    assert_eq!(
        (accounts.total, accounts.items[0].id.as_str()),
        (1, other.as_str())
    );
    let by_id = s.desk.accounts_page(Some(&other[..8]), 0, Some(1)).unwrap();
    assert_eq!(by_id.total, 1);
}

/// The query plan of `sql` (EXPLAIN QUERY PLAN), one line per step.
fn plan(db: &rusqlite::Connection, sql: &str) -> String {
    let mut stmt = db.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
    let rows = stmt
        .query_map([], |r| r.get::<_, String>(3))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    rows.join("\n")
}

#[test]
fn lists_and_counts_use_indexes() {
    let s = setup();
    let db = rusqlite::Connection::open(s.desk.data_dir().join("authdesk.db")).unwrap();
    let no_scan = |sql: &str, index: &str| {
        let p = plan(&db, sql);
        assert!(
            p.contains(index) && !p.contains("SCAN ac") && !p.contains("SCAN account_connectors"),
            "{sql}\n{p}"
        );
    };
    no_scan(
        "SELECT ac.id FROM account_connectors ac WHERE ac.account_id = 'x' ORDER BY ac.id LIMIT 100",
        "account_connectors_by_account",
    );
    // Any of the indexes that lead with the status serves a count.
    no_scan(
        "SELECT count(*) FROM account_connectors ac WHERE ac.status = 'needs_reauth'",
        "INDEX account_connectors_by_",
    );
    no_scan(
        "SELECT ac.id FROM account_connectors ac WHERE ac.connector_id = 3 ORDER BY ac.id",
        "account_connectors_by_connector",
    );
    // The keep-alive: what expires soon, and what sat idle.
    no_scan(
        "SELECT id FROM account_connectors WHERE status IN ('authenticated', 'error') AND expires_at <= '2030'",
        "account_connectors_by_expiry",
    );
    no_scan(
        "SELECT id FROM account_connectors WHERE status IN ('authenticated', 'error')
         AND COALESCE(last_refreshed_at, authenticated_at) <= '2030'",
        "account_connectors_by_last_use",
    );
    no_scan(
        "SELECT account_id, count(*) FROM account_connectors
         WHERE status IN ('needs_reauth', 'error') GROUP BY account_id",
        "INDEX account_connectors_by_",
    );
    // The three parts of "needs attention" (service/account_connectors/attention.rs): the
    // statuses, the expired tokens, the refused keys (its partial index of schema 10).
    no_scan(
        "SELECT count(*) FROM account_connectors ac
         WHERE (ac.status = 'authenticated' AND ac.expires_at IS NOT NULL AND ac.expires_at <= '2030'
           AND ((ac.refresh_expires_at IS NOT NULL AND ac.refresh_expires_at <= '2030')
                OR NOT EXISTS (SELECT 1 FROM account_connector_secrets s
                               WHERE s.account_connector_id = ac.id AND s.field = 'RefreshToken'))
           AND NOT (1 = 0))",
        "account_connectors_by_expiry",
    );
    no_scan(
        "SELECT count(*) FROM account_connectors ac
         WHERE (ac.status = 'authenticated' AND ac.checked_status IN (401, 403)
           AND ac.checked_version = ac.credential_version)",
        "account_connectors_refused",
    );
    // What expires next, soonest first, read from the index in order (no sort of all).
    let p = plan(
        &db,
        "SELECT ac.id FROM account_connectors ac WHERE ac.status = 'authenticated'
         AND ac.expires_at IS NOT NULL ORDER BY ac.expires_at, ac.id LIMIT 100",
    );
    assert!(
        p.contains("account_connectors_by_expiry") && !p.contains("TEMP B-TREE"),
        "{p}"
    );
    let p = plan(&db, "SELECT id FROM accounts ORDER BY name, id LIMIT 100");
    assert!(
        p.contains("accounts_by_name") && !p.contains("TEMP B-TREE"),
        "{p}"
    );
}

/// Finding by a part of a name among many reads the trigram index (schema 18), in any case,
/// and the index follows renames and deletions.
#[test]
fn search_by_name_reads_the_trigram_index() {
    let s = setup();
    let install = |name: &str| {
        s.desk
            .install(
                &s.account,
                "stripe",
                InstallRequest {
                    name: name.into(),
                    auth_value: Some(Secret::new("sk_test_x")),
                    ..Default::default()
                },
            )
            .unwrap()
            .id
    };
    let a = install("Payments for Acme Widgets");
    let b = install("Payments for Globex");
    let _c = install("Refunds for ACME");
    let found = |text: &str| {
        let mut ids: Vec<i64> = s
            .desk
            .account_connectors_page(
                &AccountConnectorFilter {
                    search: Some(text.into()),
                    ..Default::default()
                },
                0,
                None,
            )
            .unwrap()
            .items
            .iter()
            .map(|i| i.id)
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(found("acme widg"), vec![a]);
    assert_eq!(found("aCmE").len(), 2, "any case");
    assert_eq!(found("lobe"), vec![b]);
    // Two characters: no trigram, the plain search still finds them.
    assert_eq!(found("Gl"), vec![b]);
    s.desk
        .change_account_connector_taking(
            b,
            authdesk_core::AccountConnectorChange {
                name: Some("Payments for Initech".into()),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(found("globex"), Vec::<i64>::new(), "the old name is gone");
    assert_eq!(found("initech"), vec![b]);
    s.desk.delete_account_connector_taking(a).unwrap().unwrap();
    assert_eq!(found("widgets"), Vec::<i64>::new(), "a deleted one is gone");

    let db = rusqlite::Connection::open(s.desk.data_dir().join("authdesk.db")).unwrap();
    // The search as the list writes it (service/account_connectors/listing.rs): each side of
    // the OR from its own index, never a scan of account connectors.
    let p = plan(
        &db,
        "SELECT ac.id FROM account_connectors ac
         WHERE (ac.id IN (SELECT rowid FROM account_connector_names WHERE name LIKE '%acme%')
           OR ac.account_id IN (SELECT id FROM accounts WHERE name LIKE '%acme%' ESCAPE '\\'))
         ORDER BY ac.id LIMIT 100",
    );
    assert!(
        p.contains("account_connector_names VIRTUAL TABLE INDEX")
            && p.contains("account_connectors_by_account")
            && !p
                .lines()
                .any(|l| l == "SCAN ac" || l.starts_with("SCAN ac ")),
        "{p}"
    );
}

/// The counts by status the window reads first come from the table schema 20's triggers
/// keep, and agree with a count of every row after installs, status changes (by the core
/// and straight in the file) and deletions.
#[test]
fn counts_by_status_follow_every_change() {
    let s = setup();
    let install = |auth: Option<&str>| {
        s.desk
            .install(
                &s.account,
                "stripe",
                InstallRequest {
                    name: "Counted".into(),
                    auth_value: auth.map(Secret::new),
                    ..Default::default()
                },
            )
            .unwrap()
            .id
    };
    let ids: Vec<i64> = (0..6)
        .map(|i| install((i % 2 == 0).then_some("sk_test_x")))
        .collect();
    let db = rusqlite::Connection::open(s.desk.data_dir().join("authdesk.db")).unwrap();
    db.execute(
        "UPDATE account_connectors SET status = 'needs_reauth' WHERE id = ?1",
        [ids[0]],
    )
    .unwrap();
    db.execute(
        "UPDATE account_connectors SET status = 'error' WHERE id = ?1",
        [ids[1]],
    )
    .unwrap();
    s.desk
        .delete_account_connector_taking(ids[2])
        .unwrap()
        .unwrap();
    s.desk
        .delete_account_connector_taking(ids[3])
        .unwrap()
        .unwrap();
    let counted = |status: &str| -> u64 {
        db.query_row(
            "SELECT count(*) FROM account_connectors WHERE status = ?1",
            [status],
            |r| r.get(0),
        )
        .unwrap()
    };
    let kept: u64 = db
        .query_row(
            "SELECT coalesce(sum(n), 0) FROM account_connector_counts",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let c = s.desk.counts().unwrap();
    assert_eq!(c.account_connectors, 4);
    assert_eq!(kept, 4);
    assert_eq!(c.needs_reauthentication, counted("needs_reauth"));
    assert_eq!(c.error, counted("error"));
    assert_eq!(c.not_authenticated, counted("not_authenticated"));
    assert_eq!(
        (c.needs_reauthentication, c.error, c.not_authenticated),
        (1, 1, 1)
    );
    assert_eq!(
        c.authenticated + c.expired + c.refused,
        counted("authenticated")
    );
}
