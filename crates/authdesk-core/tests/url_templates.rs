//! Property values cannot steer requests: a value that stands for a host must be a host
//! name the definition allows, refused when written (install, set, update, captured from a
//! provider) and again when a URL is built, so a token or a shared client secret is never
//! sent to a host the connector definition did not name.

mod support;

use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use authdesk_core::engine::public_hosts::DnsLookup;
use authdesk_core::{EngineConfig, Error, InstallRequest, NewAccount, PropertyInput, Secret};

fn setup() -> support::EngineSetup {
    support::engine_setup(EngineConfig::default(), "Templates")
}

/// On SQLite, for the tests that write into the database file as an older build could have.
fn setup_sqlite() -> support::EngineSetup {
    support::engine_setup_sqlite(EngineConfig::default(), "Templates")
}

fn property(name: &str, value: &str) -> PropertyInput {
    PropertyInput {
        name: name.into(),
        value: Secret::new(value),
    }
}

fn install(
    s: &support::EngineSetup,
    connector: &str,
    props: Vec<PropertyInput>,
) -> Result<i64, Error> {
    s.desk
        .install(
            &s.account,
            connector,
            InstallRequest {
                name: "t".into(),
                properties: props,
                ..Default::default()
            },
        )
        .map(|ac| ac.id)
}

const INJECTIONS: &[&str] = &[
    "evil.example#",
    "evil.example/steal#",
    "a@evil.example",
    "127.0.0.1:1",
    "x/../y",
    "%2F",
    "evil .example",
    "evil.example\t",
    "\u{0435}vil.example", // Cyrillic "е"
    "evil.example?",
];

#[test]
fn hostile_hosts_are_refused_when_written_and_nothing_is_stored() {
    let s = setup();
    for (connector, name) in [("shopify", "ShopDomain"), ("zendesk", "Subdomain")] {
        for bad in INJECTIONS {
            let e = install(&s, connector, vec![property(name, bad)]).unwrap_err();
            let msg = e.to_string();
            assert!(
                matches!(e, Error::InvalidInput(_)),
                "{connector} {bad:?}: {e:?}"
            );
            assert!(msg.contains(name), "{msg}");
            assert!(
                msg.contains("e.g."),
                "says what a valid value looks like: {msg}"
            );
        }
        assert!(s
            .desk
            .list_account_connectors(Some(&s.account))
            .unwrap()
            .is_empty());
    }
    // Shopify only takes myshopify.com stores; an ordinary host is not enough.
    let e = install(&s, "shopify", vec![property("ShopDomain", "evil.example")]).unwrap_err();
    assert!(e.to_string().contains("myshopify"), "{e}");
    let id = install(
        &s,
        "shopify",
        vec![property("ShopDomain", "Acme.myshopify.com")],
    )
    .unwrap();
    // Stored normalised; a later update with a hostile value changes nothing.
    let ac = s.desk.get_account_connector(id).unwrap();
    assert_eq!(
        ac.properties[0].value.as_deref(),
        Some("acme.myshopify.com")
    );
    assert!(s
        .desk
        .set_property(id, "ShopDomain", &Secret::new("evil.example/x#"))
        .is_err());
    assert!(s
        .desk
        .update_account_connector(id, &[property("ShopDomain", "a@evil.example")], None)
        .is_err());
    let ac = s.desk.get_account_connector(id).unwrap();
    assert_eq!(
        ac.properties[0].value.as_deref(),
        Some("acme.myshopify.com")
    );
}

#[tokio::test]
async fn a_hostile_value_already_stored_is_refused_when_the_url_is_built() {
    let s = setup_sqlite();
    let id = install(&s, "zendesk", vec![property("Subdomain", "acme")]).unwrap();
    s.desk
        .set_auth_value(
            id,
            &Secret::new(r#"{"AccessToken":"zendesk-token","Expires":"2099-01-01T00:00:00Z"}"#),
        )
        .unwrap();
    // As an older Authdesk, which did not check, could have stored it.
    let db = rusqlite::Connection::open(s.desk.data_dir().join("authdesk.db")).unwrap();
    db.execute(
        "UPDATE account_connector_properties SET value = 'evil.example#' WHERE name = 'Subdomain'",
        [],
    )
    .unwrap();
    drop(db);
    let e = s
        .engine
        .call_method(id, "list-tickets", &Default::default())
        .await
        .unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, Error::InvalidInput(_)), "{e:?}");
    assert!(
        msg.contains("Subdomain") && msg.contains("nothing was sent"),
        "{msg}"
    );
    // The sign-in URL and the token endpoint are built the same way.
    let e = s
        .engine
        .begin_sign_in(id, "https://app.example.com/callback")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("Subdomain"), "{e}");
}

#[tokio::test]
async fn a_library_secret_is_not_sent_to_a_host_a_property_chooses() {
    let s = setup();
    s.desk
        .set_connector_client(
            "generic-oauth2",
            "library-app",
            Some(&Secret::new("shared")),
        )
        .unwrap();
    let id = install(
        &s,
        "generic-oauth2",
        vec![
            property("AuthHost", "login.customer.example"),
            property("ApiHost", "api.customer.example"),
        ],
    )
    .unwrap();
    let e = s
        .desk
        .resolve_client_credentials(id)
        .unwrap_err()
        .to_string();
    assert!(e.contains("AuthHost") && e.contains("ClientSecret"), "{e}");
    // The account connector's own app is used as usual.
    s.desk
        .set_property(id, "ClientId", &Secret::new("own-app"))
        .unwrap();
    s.desk
        .set_property(id, "ClientSecret", &Secret::new("own-secret"))
        .unwrap();
    let c = s.desk.resolve_client_credentials(id).unwrap();
    assert_eq!(c.client_id, "own-app");
    // A connector whose token host is fixed (Zendesk's domain) keeps using the library app.
    s.desk
        .set_connector_client("zendesk", "zd-app", Some(&Secret::new("zd-secret")))
        .unwrap();
    let zd = install(&s, "zendesk", vec![property("Subdomain", "acme")]).unwrap();
    assert_eq!(
        s.desk.resolve_client_credentials(zd).unwrap().client_id,
        "zd-app"
    );
    // The sign-in URL goes to the customer's host, with its placeholders filled.
    let start = s
        .engine
        .begin_sign_in(id, "https://app.example.com/callback")
        .await
        .unwrap();
    assert!(
        start
            .authorization_url
            .starts_with("https://login.customer.example/oauth2/authorize?"),
        "{}",
        start.authorization_url
    );
}

#[test]
fn a_stored_definition_that_no_longer_loads_hides_nothing_else_and_can_be_removed() {
    let s = setup_sqlite();
    // An older Authdesk accepted a method parameter in the host; today's checks refuse it.
    let old = r#"id = "old-style"
name = "Old style"
version = "1"
[auth]
type = "none"
[[methods]]
id = "m"
name = "M"
http_method = "GET"
path = "https://{host}/x"
[[methods.parameters]]
name = "host"
in = "path"
"#;
    let db = rusqlite::Connection::open(s.desk.data_dir().join("authdesk.db")).unwrap();
    db.execute(
        "INSERT INTO connectors(slug, source, definition, created_at, updated_at)
         VALUES ('old-style', 'user', ?1, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
        [old],
    )
    .unwrap();
    drop(db);
    let e = s.desk.add_connector("old.toml", old, true).unwrap_err();
    assert!(
        e.to_string()
            .contains("only properties may stand for a host"),
        "{e}"
    );
    let library = s.desk.list_connectors().unwrap();
    assert!(library.iter().any(|c| c.slug == "github"));
    assert!(!library.iter().any(|c| c.slug == "old-style"));
    s.desk.remove_connector("old-style").unwrap();
}

/// A host that is public in its spelling but resolves to this machine (a wildcard DNS
/// name, a rebinding service; pinned here the way `curl --resolve` pins one) receives
/// nothing: the token and the API key stay home.
#[tokio::test]
async fn a_property_host_that_resolves_to_this_machine_gets_nothing() {
    let (addr, hits) = counting_listener().await;
    let mut config = EngineConfig::default();
    config.http.resolve = vec![
        ("api.rebound.example".into(), addr),
        (
            "metadata.rebound.example".into(),
            "169.254.169.254:443".parse().unwrap(),
        ),
    ];
    let s = support::engine_setup(config, "Resolve");
    s.desk
        .add_connector("hosted.toml", &hosted_definition(""), false)
        .unwrap();
    for host in ["api.rebound.example", "metadata.rebound.example"] {
        let id = install_hosted(&s, host);
        let e = s
            .engine
            .call_method(id, "me", &Default::default())
            .await
            .unwrap_err();
        let message = e.to_string();
        assert!(matches!(e, Error::InvalidInput(_)), "{message}");
        assert!(
            message.contains(host) && message.contains("private network"),
            "{message}"
        );
        assert!(!message.contains("KEEP_ME_HOME"), "{message}");
        // It can still be removed.
        s.engine.delete_account_connector(id).await.unwrap();
    }
    assert_eq!(hits.load(Ordering::SeqCst), 0, "a request was sent");
}

/// A hostile DNS server's answers, in order (a rebinding service answers with TTL 0, so
/// each lookup may get another address): `None` is a failed lookup. The last answer repeats.
#[derive(Debug)]
struct FakeRebindingDns {
    answers: Vec<Option<IpAddr>>,
    asked: AtomicUsize,
}

impl DnsLookup for FakeRebindingDns {
    fn lookup(
        &self,
        host: &str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = std::io::Result<Vec<IpAddr>>> + Send>>
    {
        let n = self.asked.fetch_add(1, Ordering::SeqCst);
        let answer = self.answers[n.min(self.answers.len() - 1)];
        let host = host.to_string();
        Box::pin(async move {
            answer.map(|ip| vec![ip]).ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::NotFound, format!("{host}: NXDOMAIN"))
            })
        })
    }
}

/// An API-key connector whose API host is the property `ApiHost` (`port`: ":N" or "").
fn hosted_definition(port: &str) -> String {
    format!(
        r#"id = "hosted"
name = "Hosted API"
version = "1"
api_base_url = "https://{{ApiHost}}{port}/v1"
[[properties]]
name = "ApiHost"
[auth]
type = "api_key"
placement = "header"
name = "X-Api-Key"
[[methods]]
id = "me"
name = "Me"
http_method = "GET"
path = "/me"
"#
    )
}

impl FakeRebindingDns {
    fn new(answers: Vec<Option<IpAddr>>) -> Arc<FakeRebindingDns> {
        Arc::new(FakeRebindingDns {
            answers,
            asked: AtomicUsize::new(0),
        })
    }
}

/// An engine whose lookups `dns` answers, and an account connector of the hosted API at
/// `host` (on `port`) holding an API key.
fn hosted_with_dns(
    dns: &Arc<FakeRebindingDns>,
    port: u16,
    host: &str,
) -> (support::EngineSetup, i64) {
    let mut config = EngineConfig::default();
    config.http.dns = Some(dns.clone());
    let s = support::engine_setup(config, "Hosted");
    let def = hosted_definition(&format!(":{port}"));
    s.desk.add_connector("hosted.toml", &def, false).unwrap();
    let id = install_hosted(&s, host);
    (s, id)
}

/// An account connector of the hosted API at `host`, holding an API key.
fn install_hosted(s: &support::EngineSetup, host: &str) -> i64 {
    s.desk
        .install(
            &s.account,
            "hosted",
            InstallRequest {
                name: host.into(),
                auth_value: Some(Secret::new("sk_live_KEEP_ME_HOME")),
                properties: vec![property("ApiHost", host)],
                ..Default::default()
            },
        )
        .unwrap()
        .id
}

/// A listener on this machine that counts the connections it accepts.
async fn counting_listener() -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    tokio::spawn(async move {
        while let Ok((_socket, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
        }
    });
    (addr, hits)
}

/// The public-address rule holds when connecting, not only when checking: a name whose
/// lookup fails at the check and answers 127.0.0.1 at the connection, or whose TTL-0
/// answer flips from a public address to a loopback one between the two, never reaches
/// the loopback listener (whose port the definition names, so a connection would count).
#[tokio::test]
async fn a_rebinding_name_never_reaches_this_machine() {
    let (addr, hits) = counting_listener().await;
    let loopback = Some(addr.ip());
    // A public address never connected to: each call asks exactly twice (check, connect).
    let public = Some("93.184.216.34".parse().unwrap());
    for answers in [vec![None, loopback], vec![public, loopback]] {
        let dns = FakeRebindingDns::new(answers);
        let (s, id) = hosted_with_dns(&dns, addr.port(), "api.rebound.example");
        let e = s
            .engine
            .call_method(id, "me", &Default::default())
            .await
            .unwrap_err();
        let message = e.to_string();
        assert!(
            message.contains("api.rebound.example") && message.contains("public addresses"),
            "{message}"
        );
        assert!(!message.contains("KEEP_ME_HOME"), "{message}");
        assert_eq!(
            dns.asked.load(Ordering::SeqCst),
            2,
            "checked, then connected"
        );
    }
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "a connection reached the listener"
    );
}

/// A lookup that fails is a refusal, not a pass (one that takes longer than five seconds
/// fails the same way: `public_hosts::LOOKUP_TIMEOUT`).
#[tokio::test]
async fn a_lookup_that_fails_is_a_refusal() {
    let dns = FakeRebindingDns::new(vec![None]);
    let mut config = EngineConfig::default();
    config.http.dns = Some(dns.clone());
    let resolver = authdesk_core::engine::public_hosts::public_only(config.http.lookup());
    let name: reqwest::dns::Name = "api.rebound.example".parse().unwrap();
    let e = match reqwest::dns::Resolve::resolve(&*resolver, name).await {
        Ok(_) => panic!("a failed lookup resolved"),
        Err(e) => e.to_string(),
    };
    assert!(e.contains("lookup failed"), "{e}");
}

/// Ownership first: a caller limited to one account that names another account's connector
/// learns nothing of it (the same "not found" as for an Id that does not exist) and causes
/// nothing (no lookup of its property-chosen host, no request).
#[tokio::test]
async fn another_accounts_connector_is_not_found_before_anything_is_done() {
    let (addr, hits) = counting_listener().await;
    let dns = FakeRebindingDns::new(vec![Some(addr.ip())]);
    let (s, theirs) = hosted_with_dns(&dns, addr.port(), "api.tenant-secret-host.example");
    let other = s
        .desk
        .create_account(NewAccount {
            name: "Other tenant".into(),
            ..Default::default()
        })
        .unwrap()
        .id;
    let call = |id: i64| {
        let (engine, other) = (s.engine.clone(), other.clone());
        async move {
            engine
                .call_method_in(Some(&other), id, "me", &Default::default())
                .await
                .unwrap_err()
                .to_string()
        }
    };
    let missing = theirs + 1000;
    let (seen, unknown) = (call(theirs).await, call(missing).await);
    assert_eq!(
        seen.replace(&theirs.to_string(), "N"),
        unknown.replace(&missing.to_string(), "N")
    );
    assert!(!seen.contains("tenant-secret-host"), "{seen}");
    assert_eq!(
        dns.asked.load(Ordering::SeqCst),
        0,
        "a host of theirs was looked up"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 0);
}
