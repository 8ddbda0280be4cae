//! What scripts rely on: `authdesk call` exits non-zero (22, as `curl --fail`) when the
//! third party answers HTTP 400 or more and still prints its answer; `--json` output is
//! one JSON document; hostile property values are refused with a one-line error.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;

use common::Desk;

/// A loopback HTTP server: `/missing...` answers 404, anything else 200, both with JSON.
fn upstream() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            // Drain the headers.
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let path = request_line.split(' ').nth(1).unwrap_or("/");
            let (status, body) = if path.starts_with("/missing") {
                ("404 Not Found", r#"{"error":"no such thing"}"#)
            } else if path.starts_with("/refused") {
                ("401 Unauthorized", r#"{"error":"bad key"}"#)
            } else {
                ("200 OK", r#"{"ok":true}"#)
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    base
}

fn desk_with_upstream() -> (Desk, i64) {
    desk_with_upstream_auth("[auth]\ntype = \"none\"")
}

fn desk_with_upstream_auth(auth: &str) -> (Desk, i64) {
    let base = upstream();
    let desk = Desk::new();
    let account = desk.create_account("Scripts");
    let def = desk.dir.path().join("plain.toml");
    std::fs::write(
        &def,
        format!(
            r#"id = "plain"
name = "Plain"
version = "1"
api_base_url = "{base}"
{auth}
[[methods]]
id = "found"
name = "Found"
http_method = "GET"
path = "/things"
[[methods]]
id = "missing"
name = "Missing"
http_method = "GET"
path = "/missing"
[[methods]]
id = "refused"
name = "Refused"
http_method = "GET"
path = "/refused"
"#
        ),
    )
    .unwrap();
    desk.run(&["connectors", "add", def.to_str().unwrap()]).ok();
    let id = desk.install(&account, "plain", &[]);
    (desk, id)
}

#[test]
fn call_exits_22_when_the_third_party_fails_and_prints_its_answer() {
    let (desk, id) = desk_with_upstream();
    let id = id.to_string();
    let ok = desk.run(&["--json", "call", &id, "found"]);
    let v = ok.json();
    assert_eq!(v["Status"], 200);

    let failed = desk.run(&["--json", "call", &id, "missing"]);
    assert_eq!(failed.out.status.code(), Some(22), "{}", failed.describe());
    let body: serde_json::Value = serde_json::from_str(&failed.stdout()).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON document ({e}): {}",
            failed.describe()
        )
    });
    assert_eq!(body["Status"], 404);
    assert_eq!(body["Body"]["error"], "no such thing");
    assert!(
        failed.stderr().contains("HTTP 404"),
        "{}",
        failed.describe()
    );

    let tolerant = desk.run(&["--json", "call", &id, "missing", "--no-fail"]);
    assert_eq!(
        tolerant.out.status.code(),
        Some(0),
        "{}",
        tolerant.describe()
    );
    let explicit = desk.run(&["call", &id, "missing", "--fail"]);
    assert_eq!(
        explicit.out.status.code(),
        Some(22),
        "{}",
        explicit.describe()
    );
    assert!(
        explicit.stdout().contains("no such thing"),
        "{}",
        explicit.describe()
    );

    // An error of Authdesk itself (not the third party) stays exit 1.
    let typo = desk.run(&["call", &id, "nope"]);
    assert_eq!(typo.out.status.code(), Some(1), "{}", typo.describe());
}

#[test]
fn hostile_property_values_are_refused_in_one_line() {
    let desk = Desk::new();
    let account = desk.create_account("Hostile");
    for (connector, property) in [
        ("shopify", "ShopDomain=evil.example/steal#"),
        ("shopify", "ShopDomain=a@evil.example"),
        ("zendesk", "Subdomain=evil.example#"),
    ] {
        let err = desk
            .run(&[
                "account-connectors",
                "install",
                &account,
                connector,
                "--name",
                "x",
                "--property",
                property,
            ])
            .fails();
        let name = property.split('=').next().unwrap();
        assert!(err.contains(name) && err.contains("e.g."), "{err}");
    }
    let list = desk
        .run(&[
            "--json",
            "account-connectors",
            "list",
            "--account",
            &account,
        ])
        .json();
    assert_eq!(list.as_array().unwrap().len(), 0);
}

#[test]
fn api_clients_are_created_listed_and_revoked() {
    let desk = Desk::new();
    let created = desk
        .run(&[
            "--json",
            "api-clients",
            "create",
            "--name",
            "Partner backend",
        ])
        .json();
    let id = created["ClientId"].as_str().unwrap().to_string();
    let secret = created["ClientSecret"].as_str().unwrap().to_string();
    assert!(
        secret.starts_with("adk_cs_") && secret.len() > 40,
        "{created}"
    );
    let list = desk.run(&["--json", "api-clients", "list"]).json();
    let listed = list.as_array().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["ClientId"], id.as_str());
    assert!(
        !list.to_string().contains(&secret),
        "the secret is shown once, never listed"
    );
    assert!(desk.run(&["api-clients", "list"]).ok().contains("active"));
    desk.run(&["api-clients", "revoke", &id]).ok();
    let list = desk.run(&["--json", "api-clients", "list"]).json();
    assert!(list[0]["RevokedAt"].is_string(), "{list}");
    let err = desk
        .run(&["api-clients", "revoke", "no-such-client"])
        .fails();
    assert!(err.contains("API client"), "{err}");
    // Only a hash is kept.
    for f in common::files_under(&desk.data_dir()) {
        assert!(
            !common::contains(&std::fs::read(&f).unwrap(), &secret),
            "{}",
            f.display()
        );
    }
}

#[test]
fn an_api_key_shows_what_the_provider_last_said_of_it() {
    let (desk, id) = desk_with_upstream_auth(
        "[auth]\ntype = \"api_key\"\nplacement = \"header\"\nname = \"X-Key\"",
    );
    let id = id.to_string();
    desk.run_with_stdin(
        &["account-connectors", "set-authvalue", &id, "--stdin"],
        Some("k-123"),
    )
    .ok();
    let show = || desk.run(&["account-connectors", "show", &id]).ok();
    assert!(show().contains("not verified"), "{}", show());
    desk.run(&["call", &id, "found"]).ok();
    assert!(show().contains("verified (HTTP 200"), "{}", show());
    let refused = desk.run(&["call", &id, "refused"]);
    assert_eq!(refused.out.status.code(), Some(22));
    assert!(
        show().contains("refused by the provider (HTTP 401"),
        "{}",
        show()
    );
    let list = desk.run(&["account-connectors", "list"]).ok();
    assert!(list.contains("refused"), "{list}");
}

#[test]
fn auth_fields_are_set_from_stdin_shown_and_checked_by_a_call() {
    let (desk, id) = desk_with_upstream_auth(
        "[auth]\ntype = \"auth_fields\"\n[[auth.fields]]\nname = \"X-User\"\nplacement = \"header\"\nsecret = false\n\
         [[auth.fields]]\nname = \"key\"\nplacement = \"query\"",
    );
    let shown = desk.run(&["connectors", "show", "plain"]).ok();
    assert!(shown.contains("AuthFields"), "{shown}");
    assert!(shown.contains("key in the query (secret)"), "{shown}");
    let id = id.to_string();
    // One missing: refused in one line naming it; nothing stored.
    let e = desk
        .run_with_stdin(
            &["account-connectors", "set-authvalue", &id, "--stdin"],
            Some(r#"{"X-User": "acme"}"#),
        )
        .fails();
    assert!(e.contains("lacks key"), "{e}");
    desk.run_with_stdin(
        &["account-connectors", "set-authvalue", &id, "--stdin"],
        Some(r#"{"X-User": "acme", "key": "k-fields-1"}"#),
    )
    .ok();
    let show = || desk.run(&["account-connectors", "show", &id]).ok();
    assert!(show().contains("not verified"), "{}", show());
    desk.run(&["call", &id, "found"]).ok();
    assert!(show().contains("verified (HTTP 200"), "{}", show());
    let inspect = desk.run(&["inspect", &id]).ok();
    assert!(inspect.contains("acme"), "a plain field shows: {inspect}");
    assert!(
        !inspect.contains("k-fields-1"),
        "a secret field is masked: {inspect}"
    );
}

#[test]
fn set_client_generates_or_imports_a_private_key_and_shows_only_its_public_jwk() {
    let (desk, _) = desk_with_upstream_auth(
        "[auth]\ntype = \"oauth2\"\ngrant = \"client_credentials\"\ntoken_url = \"https://as.example.com/token\"\n\
         client_auth = \"private_key_jwt\"",
    );
    let made = desk
        .run(&[
            "--json",
            "connectors",
            "set-client",
            "plain",
            "--client-id",
            "app",
            "--generate-key",
        ])
        .json();
    let jwk = made["PublicJwk"].clone();
    assert_eq!(
        (jwk["kty"].as_str(), jwk["crv"].as_str()),
        (Some("EC"), Some("P-256")),
        "{made}"
    );
    assert!(jwk.get("d").is_none(), "never the private part: {jwk}");
    let shown = desk.run(&["--json", "connectors", "show", "plain"]).json();
    assert_eq!(shown["PublicJwk"], jwk);
    assert_eq!(shown["ClientId"], "app");
    let text = desk.run(&["connectors", "show", "plain"]).ok();
    assert!(
        text.contains("app + private key") && text.contains("public key (JWK)"),
        "{text}"
    );

    // A file that is not a private key: one line naming what it is; the key stays.
    let cert = desk.dir.path().join("cert.pem");
    std::fs::write(
        &cert,
        "-----BEGIN CERTIFICATE-----\nMIIBcert\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let e = desk
        .run(&[
            "connectors",
            "set-client",
            "plain",
            "--client-id",
            "app",
            "--private-key-file",
            cert.to_str().unwrap(),
        ])
        .fails();
    assert!(
        e.contains("the private key is a certificate, not a private key"),
        "{e}"
    );
    assert_eq!(e.trim().lines().count(), 1, "{e}");
    assert_eq!(
        desk.run(&["--json", "connectors", "show", "plain"]).json()["PublicJwk"],
        jwk
    );

    // Imported from a file: that key's JWK; and only one way at a time.
    let key = desk.dir.path().join("key.pem");
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../authdesk-core/tests/fixtures/test-only-ed25519.pem"
    );
    std::fs::copy(fixture, &key).unwrap();
    let imported = desk
        .run(&[
            "--json",
            "connectors",
            "set-client",
            "plain",
            "--client-id",
            "app",
            "--private-key-file",
            key.to_str().unwrap(),
        ])
        .json();
    assert_eq!(imported["PublicJwk"]["kty"], "OKP");
    let both = desk.run(&[
        "connectors",
        "set-client",
        "plain",
        "--client-id",
        "app",
        "--generate-key",
        "--public",
    ]);
    assert_eq!(both.out.status.code(), Some(2), "{}", both.describe());
    assert!(
        both.stderr().contains("cannot be used with"),
        "{}",
        both.describe()
    );
    // Sealed: no PEM body in any file of the data directory.
    let body = std::fs::read_to_string(fixture)
        .unwrap()
        .lines()
        .nth(1)
        .unwrap()
        .to_string();
    for f in common::files_under(&desk.data_dir()) {
        assert!(
            !common::contains(&std::fs::read(&f).unwrap(), &body),
            "{}",
            f.display()
        );
    }
}

#[test]
fn check_prints_the_verdict_and_exits_22_when_the_credential_does_not_work() {
    let (desk, id) = desk_with_upstream_auth(
        "[auth]\ntype = \"api_key\"\nplacement = \"header\"\nname = \"X-Key\"\n[check]\npath = \"/refused\"",
    );
    let id = id.to_string();
    desk.run_with_stdin(
        &["account-connectors", "set-authvalue", &id, "--stdin"],
        Some("k-1"),
    )
    .ok();
    // Checked at once when set: the verdict is on the account connector.
    let ac = desk
        .run(&["--json", "account-connectors", "show", &id])
        .json();
    assert!(ac["LastCheckedAt"].is_string(), "{ac}");
    assert_eq!(ac["LastCheck"]["Ok"], false, "{ac}");
    let refused = desk.run(&["--json", "check", &id]);
    assert_eq!(
        refused.out.status.code(),
        Some(22),
        "{}",
        refused.describe()
    );
    let v: serde_json::Value = serde_json::from_str(&refused.stdout()).unwrap();
    assert_eq!(
        (v["Valid"].as_bool(), v["Status"].as_u64()),
        (Some(false), Some(401)),
        "{v}"
    );
    assert!(v["CheckedAt"].is_string());
    let shown = desk.run(&["account-connectors", "show", &id]).ok();
    assert!(
        shown.contains("refused"),
        "a refused key is not shown as fine: {shown}"
    );
    // A connector without a check says how to add one.
    let (plain, pid) = desk_with_upstream();
    let e = plain.run(&["check", &pid.to_string()]).fails();
    assert!(e.contains("[check]"), "{e}");
}

#[test]
fn a_bundle_goes_from_one_desk_to_another_by_recipient_and_twice_adds_nothing() {
    let sender = Desk::new();
    let receiver = Desk::new();
    let recipient = receiver.run(&["--json", "identity", "show"]).json()["Recipient"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(recipient.starts_with("age1"), "{recipient}");
    assert_eq!(receiver.run(&["identity", "show"]).ok().trim(), recipient);

    let account = sender.create_account("Handed Over Ltd");
    let id = sender.install(
        &account,
        "generic-api-key",
        &["--property", "ApiHost=api.example.com"],
    );
    let canary = "canary-key-0d9c8b7a6f5e";
    sender
        .run_with_stdin(
            &[
                "account-connectors",
                "set-authvalue",
                &id.to_string(),
                "--stdin",
            ],
            Some(canary),
        )
        .ok();
    let file = sender.dir.path().join("handover.age");
    let file_arg = file.to_str().unwrap();
    let exported = sender
        .run(&[
            "--json",
            "export",
            "--to",
            &recipient,
            "--account",
            &account,
            "-o",
            file_arg,
        ])
        .json();
    assert_eq!(exported["AccountConnectors"], 1, "{exported}");
    let bytes = std::fs::read(&file).unwrap();
    assert!(!common::contains(&bytes, canary) && !common::contains(&bytes, "Handed Over"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the bundle is the owner's only");
    }

    let imported = receiver.run(&["--json", "import", file_arg]).json();
    assert_eq!(
        imported["AccountConnectors"][0]["Outcome"], "added",
        "{imported}"
    );
    let new_id = imported["AccountConnectors"][0]["Id"]
        .as_str()
        .unwrap()
        .to_string();
    let shown = receiver
        .run(&["--json", "inspect", &new_id, "--reveal"])
        .json();
    assert_eq!(shown["Secrets"][0]["Value"], canary, "{shown}");
    let again = receiver.run(&["import", file_arg]).ok();
    assert!(again.contains("0 added"), "{again}");

    // Another desk cannot open it, and says why.
    let e = sender.run(&["import", file_arg]).fails();
    assert!(e.contains("not encrypted to this desk"), "{e}");
}

#[test]
fn links_are_made_on_the_api_base_listed_without_tokens_and_revoked() {
    let desk = Desk::new();
    let account = desk.create_account("Linked");
    let id = desk
        .install(
            &account,
            "generic-api-key",
            &["--property", "ApiHost=api.example.com"],
        )
        .to_string();
    // No API has run here: the link needs an address, and the error says how to give one.
    let e = desk.run(&["links", "create", &id]).fails();
    assert!(e.contains("--base"), "{e}");
    let e = desk
        .run(&[
            "links",
            "create",
            &id,
            "--expires",
            "30d",
            "--base",
            "https://a.example",
        ])
        .fails();
    assert!(e.contains("7 days"), "{e}");
    let made = desk
        .run(&[
            "--json",
            "links",
            "create",
            &id,
            "--expires",
            "2h",
            "--base",
            "https://authdesk.example.com",
        ])
        .json();
    let url = made["Url"].as_str().unwrap();
    assert!(
        url.starts_with("https://authdesk.example.com/setup/stl_"),
        "{made}"
    );
    assert!(
        made["ExpiresAtUtc"].is_string() && made["Id"].is_string(),
        "{made}"
    );
    let token = url.rsplit('/').next().unwrap();
    let listed = desk.run(&["--json", "links", "list", &id]).ok();
    assert!(
        listed.contains("\"active\"") && !listed.contains(token),
        "{listed}"
    );
    let link_id = made["Id"].as_str().unwrap();
    let revoked = desk.run(&["--json", "links", "revoke", link_id]).json();
    assert_eq!(revoked[0]["Status"], "revoked", "{revoked}");
    // By the link itself too; an unknown link is not echoed back.
    let other = desk
        .run(&[
            "--json",
            "links",
            "create",
            &id,
            "--base",
            "https://authdesk.example.com",
        ])
        .json();
    let other_url = other["Url"].as_str().unwrap();
    let revoked = desk.run(&["--json", "links", "revoke", other_url]).json();
    assert_eq!(revoked[0]["Status"], "revoked", "{revoked}");
    let e = desk
        .run(&[
            "links",
            "revoke",
            "https://authdesk.example.com/setup/stl_notarealtokenatall",
        ])
        .fails();
    assert!(!e.contains("notarealtoken"), "{e}");
}
