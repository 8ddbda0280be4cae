//! The `authdesk` binary, run as a user would, against the real OS keychain.
//!
//! These tests need a running, unlocked Secret Service (gnome-keyring) on the session bus.
//! `scripts/test.sh` starts one in a private D-Bus session; run them through it. Without
//! one they fail with the keychain error: nothing here is skipped.

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Stdio};

use common::{contains, files_under, Desk, Run};

fn secret_tool_items(vault_id: &str) -> String {
    let out = Command::new("secret-tool")
        .args([
            "search",
            "--all",
            "service",
            "authdesk",
            "username",
            &format!("data-key/{vault_id}"),
        ])
        .output()
        .expect("secret-tool (libsecret-tools) must be installed: scripts/test.sh installs it");
    // secret-tool prints attributes on stdout and the item header on stderr.
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn vault_id(desk: &Desk) -> String {
    let status = desk.run(&["--json", "vault", "status"]).json();
    assert_eq!(status["Available"], true, "{status}");
    status["VaultId"]
        .as_str()
        .expect("a vault id once a secret is stored")
        .to_string()
}

#[test]
fn secrets_are_sealed_with_a_key_in_the_keychain_and_never_reach_disk() {
    let mut desk = Desk::new();
    // Debug logs go into the transcript that is searched for canaries.
    desk.env.push(("AUTHDESK_LOG".into(), "debug".into()));
    let account = desk.create_account("Canary Corp");
    let canaries = [
        "CANARY-ACCESS-7b1f2c9e0d4a",
        "CANARY-REFRESH-5e3a9c1b7f20",
        "CANARY-LIBSECRET-2d8f6a4c1e93",
        "CANARY-ACSECRET-9c4e2a7b5d16",
    ];
    let mut transcript = String::new();
    let mut keep = |r: Run| -> Run {
        transcript.push_str(&r.stdout());
        transcript.push_str(&r.stderr());
        r
    };

    keep(desk.run_with_stdin(
        &[
            "connectors",
            "set-client",
            "github",
            "--client-id",
            "lib-client",
            "--client-secret-stdin",
        ],
        Some(&format!("{}\n", canaries[2])),
    ))
    .ok();
    let id = desk.install(&account, "github", &[]);
    let auth_value = format!(
        r#"{{"AccessToken":"{}","RefreshToken":"{}","Expires":"2099-01-01T00:00:00.1234567Z","RefreshExpires":"2099-06-01T00:00:00+02:00"}}"#,
        canaries[0], canaries[1]
    );
    keep(desk.run_with_stdin(
        &[
            "account-connectors",
            "set-authvalue",
            &id.to_string(),
            "--stdin",
        ],
        Some(&auth_value),
    ))
    .ok();
    keep(desk.run_with_stdin(
        &[
            "account-connectors",
            "set-property",
            &id.to_string(),
            "ClientSecret",
            "--value-stdin",
        ],
        Some(canaries[3]),
    ))
    .ok();
    keep(desk.run(&[
        "account-connectors",
        "set-property",
        &id.to_string(),
        "ClientId",
        "ac-client",
    ]))
    .ok();
    let shown = keep(desk.run(&["--json", "account-connectors", "show", &id.to_string()])).json();
    assert_eq!(shown["Status"], "Authenticated");
    assert_eq!(shown["Authenticated"], true);
    assert_eq!(
        shown["SecretsSet"],
        serde_json::json!(["AccessToken", "RefreshToken"])
    );
    let inspected = keep(desk.run(&["inspect", &id.to_string()])).ok();
    assert!(inspected.contains("••••"), "{inspected}");
    keep(desk.run(&["--json", "inspect", &id.to_string()])).ok();
    keep(desk.run(&["--json", "connectors", "show", "github"])).ok();
    keep(desk.run(&["accounts", "show", &account])).ok();

    // Nothing printed (without --reveal) and no file in the data directory holds a canary.
    for c in &canaries {
        assert!(!transcript.contains(c), "{c} was printed:\n{transcript}");
    }
    let files = files_under(&desk.data_dir());
    let names: BTreeSet<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(names.contains("authdesk.db"), "{names:?}");
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        for c in &canaries {
            assert!(!contains(&bytes, c), "{} contains {c}", f.display());
        }
    }

    // The data key is in the keychain, one item for this data directory.
    let vault = vault_id(&desk);
    let items = secret_tool_items(&vault);
    assert!(
        items.contains(&format!("data-key/{vault}")),
        "secret-tool found no data key:\n{items}"
    );
    assert_eq!(items.matches("attribute.username").count(), 1, "{items}");

    // A fresh process opens them again.
    let revealed = desk
        .run(&["--json", "inspect", &id.to_string(), "--reveal"])
        .json();
    let values: BTreeSet<&str> = revealed["Secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["Value"].as_str().unwrap())
        .collect();
    assert_eq!(values, BTreeSet::from([canaries[0], canaries[1]]));
    assert_eq!(revealed["ExpiresAt"], "2099-01-01T00:00:00.123456700Z");
    assert_eq!(revealed["RefreshExpiresAt"], "2099-05-31T22:00:00Z");
}

#[test]
fn without_a_secret_service_secrets_fail_clearly_and_metadata_still_works() {
    let mut desk = Desk::new();
    let account = desk.create_account("Offline Ltd");
    let id = desk.install(&account, "stripe", &[]);
    // Hide the session bus (and stop D-Bus from auto-launching one).
    desk.env = vec![
        (
            "DBUS_SESSION_BUS_ADDRESS".into(),
            "unix:path=/nonexistent/authdesk-test-bus".into(),
        ),
        ("DISPLAY".into(), String::new()),
    ];
    let before = desk
        .run(&["--json", "account-connectors", "show", &id.to_string()])
        .json();

    let err = desk
        .run_with_stdin(
            &[
                "account-connectors",
                "set-authvalue",
                &id.to_string(),
                "--stdin",
            ],
            Some("sk_test_CANARY99"),
        )
        .fails();
    assert!(err.contains("OS keychain is not available"), "{err}");
    assert!(
        err.contains("gnome-keyring") && err.contains("AUTHDESK_VAULT_KEY_FILE"),
        "{err}"
    );
    assert!(!err.contains("CANARY99"), "{err}");
    let err = desk
        .run_with_stdin(
            &[
                "connectors",
                "set-client",
                "github",
                "--client-id",
                "x",
                "--client-secret-stdin",
            ],
            Some("s"),
        )
        .fails();
    assert!(err.contains("OS keychain is not available"), "{err}");

    // Metadata commands work, and nothing changed.
    desk.run(&["accounts", "list"]).ok();
    desk.create_account("Still Works");
    assert_eq!(
        desk.run(&["--json", "account-connectors", "show", &id.to_string()])
            .json(),
        before
    );
    let inspected = desk.run(&["--json", "inspect", &id.to_string()]).json();
    assert_eq!(inspected["Status"], "NotAuthenticated");
}

#[test]
fn locked_out_secrets_still_show_metadata_in_inspect() {
    let mut desk = Desk::new();
    let account = desk.create_account("Inspect Co");
    let id = desk.install(&account, "github", &[]);
    desk.run_with_stdin(
        &[
            "account-connectors",
            "set-authvalue",
            &id.to_string(),
            "--stdin",
        ],
        Some(r#"{"AccessToken":"at","Expires":"2099-01-01T00:00:00Z"}"#),
    )
    .ok();
    desk.env = vec![
        (
            "DBUS_SESSION_BUS_ADDRESS".into(),
            "unix:path=/nonexistent/authdesk-test-bus".into(),
        ),
        ("DISPLAY".into(), String::new()),
    ];
    let i = desk.run(&["--json", "inspect", &id.to_string()]).json();
    assert_eq!(i["Status"], "Authenticated");
    assert_eq!(i["ExpiresAt"], "2099-01-01T00:00:00Z");
    assert!(
        i["SecretsUnavailable"]
            .as_str()
            .unwrap()
            .contains("keychain"),
        "{i}"
    );
    let human = desk.run(&["inspect", &id.to_string()]).ok();
    assert!(human.contains("cannot be opened"), "{human}");
    // Asking for the values and not getting them is a failure, not an empty list.
    let e = desk.run(&["inspect", &id.to_string(), "--reveal"]).fails();
    assert!(
        e.contains("cannot be revealed") && e.contains("keychain"),
        "{e}"
    );
}

#[test]
fn processes_writing_at_once_all_succeed_with_one_data_key() {
    let desk = Desk::new();
    let account = desk.create_account("Parallel Inc");
    let ids: Vec<i64> = (0..6)
        .map(|_| desk.install(&account, "github", &[]))
        .collect();
    // Fresh data directory, no vault yet: six processes race to store the first secret
    // while six more create accounts.
    let mut children = vec![];
    for (n, id) in ids.iter().enumerate() {
        let mut c = desk.command(&[
            "account-connectors",
            "set-authvalue",
            &id.to_string(),
            "--stdin",
        ]);
        c.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!(r#"{{"AccessToken":"par-{n}"}}"#).as_bytes())
            .unwrap();
        children.push(child);
        let mut c = desk.command(&["accounts", "create", "--name", &format!("p{n}")]);
        c.stdout(Stdio::piped()).stderr(Stdio::piped());
        children.push(c.spawn().unwrap());
    }
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(
        desk.run(&["--json", "accounts", "list"])
            .json()
            .as_array()
            .unwrap()
            .len(),
        7
    );
    for (n, id) in ids.iter().enumerate() {
        let i = desk
            .run(&["--json", "inspect", &id.to_string(), "--reveal"])
            .json();
        assert_eq!(i["Secrets"][0]["Value"], format!("par-{n}"));
    }
    let items = secret_tool_items(&vault_id(&desk));
    assert_eq!(items.matches("attribute.username").count(), 1, "{items}");
}

#[test]
fn bad_input_gets_one_clear_line_and_changes_nothing() {
    let desk = Desk::new();
    let account = desk.create_account("Errors Ltd");
    let id = desk.install(&account, "github", &[]);
    let good = r#"{"AccessToken":"keep-me"}"#;
    desk.run_with_stdin(
        &[
            "account-connectors",
            "set-authvalue",
            &id.to_string(),
            "--stdin",
        ],
        Some(good),
    )
    .ok();

    let err = desk
        .run_with_stdin(
            &[
                "account-connectors",
                "set-authvalue",
                &id.to_string(),
                "--stdin",
            ],
            Some(r#"{"AccessToken":"SECRET-NOT-ECHOED","Expires":"2021-10-01 00:00"}"#),
        )
        .fails();
    assert!(
        err.contains("`Expires`") && !err.contains("SECRET-NOT-ECHOED"),
        "{err}"
    );
    let i = desk
        .run(&["--json", "inspect", &id.to_string(), "--reveal"])
        .json();
    assert_eq!(i["Secrets"][0]["Value"], "keep-me");

    let err = desk
        .run(&[
            "account-connectors",
            "set-property",
            &id.to_string(),
            "ClientSecret",
            "on-argv",
        ])
        .fails();
    assert!(
        err.contains("--value-stdin") && !err.contains("on-argv"),
        "{err}"
    );
    let err = desk
        .run(&[
            "account-connectors",
            "install",
            &account,
            "github",
            "--name",
            "x",
            "--property",
            "ClientSecret=argv",
        ])
        .fails();
    assert!(err.contains("secret") && !err.contains("=argv"), "{err}");
    let err = desk.run(&["accounts", "show", "nope"]).fails();
    assert!(err.contains("not a GUID"), "{err}");
    let err = desk.run(&["account-connectors", "show", "999"]).fails();
    assert!(
        err.contains("account connector `999` was not found"),
        "{err}"
    );
    let err = desk.run(&["connectors", "show", "no-such"]).fails();
    assert!(err.contains("authdesk connectors list"), "{err}");
    let err = desk
        .run_with_stdin(
            &[
                "account-connectors",
                "set-authvalue",
                &id.to_string(),
                "--stdin",
            ],
            Some(""),
        )
        .fails();
    assert!(err.contains("empty"), "{err}");

    let bad_def = desk.dir.path().join("bad.toml");
    std::fs::write(&bad_def, "id = \"mine\"\nname = \"Mine\"\nversion = \"1\"\n[auth]\ntype = \"oauth2\"\ngrant = \"authorization_code\"\ntoken_url = \"https://x.test/token\"\n").unwrap();
    let err = desk
        .run(&["connectors", "add", bad_def.to_str().unwrap()])
        .fails();
    assert!(
        err.contains("bad.toml") && err.contains("auth.authorize_url"),
        "{err}"
    );
}

#[test]
fn read_commands_speak_json_and_the_library_is_complete() {
    let desk = Desk::new();
    let account = desk.create_account("Json Co");
    let list = desk.run(&["--json", "connectors", "list"]).json();
    let slugs: BTreeSet<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["Slug"].as_str().unwrap())
        .collect();
    for s in [
        "github",
        "generic-oauth2",
        "generic-api-key",
        "generic-basic",
    ] {
        assert!(slugs.contains(s), "{slugs:?}");
    }
    // The library narrowed by category and search.
    let crm = desk
        .run(&[
            "--json",
            "connectors",
            "list",
            "--category",
            "crm",
            "--search",
            "HUB",
        ])
        .json();
    let crm: Vec<&str> = crm
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["Slug"].as_str().unwrap())
        .collect();
    assert_eq!(crm, ["hubspot"]);
    let e = desk
        .run(&["connectors", "list", "--category", "crms"])
        .fails();
    assert!(e.contains("accounting") && e.contains("crm"), "{e}");
    let gh = desk.run(&["--json", "connectors", "show", "github"]).json();
    assert_eq!(gh["AuthType"], "OAuth2");
    assert_eq!(gh["Category"], "developer");
    assert_eq!(gh["OAuth2Type"], "AuthorisationCode");
    assert!(gh["Definition"]["methods"].as_array().unwrap().len() >= 2);

    let def = desk.dir.path().join("mine.toml");
    std::fs::write(
        &def,
        "id = \"mine\"\nname = \"Mine\"\nversion = \"1\"\napi_base_url = \"https://api.mine.test\"\n[[properties]]\nname = \"Region\"\n[auth]\ntype = \"basic\"\n",
    )
    .unwrap();
    let added = desk
        .run(&["--json", "connectors", "add", def.to_str().unwrap()])
        .json();
    assert_eq!(added["Source"], "User");
    let id = desk.install(&account, "mine", &["--property", "Region=eu"]);
    let props = desk
        .run(&[
            "--json",
            "account-connectors",
            "list",
            "--account",
            &account,
        ])
        .json();
    assert_eq!(props[0]["Properties"][0]["Value"], "eu");
    assert_eq!(
        desk.run(&["--json", "accounts", "users", &account]).json(),
        serde_json::json!([])
    );
    desk.run(&["accounts", "add-user", &account, "alice"]).ok();
    assert_eq!(
        desk.run(&["--json", "accounts", "users", &account]).json()[0]["Username"],
        "alice"
    );
    let show = desk.run(&["--json", "accounts", "show", &account]).json();
    assert_eq!(show["Connectors"][0]["Id"], id);
    desk.run(&["account-connectors", "delete", &id.to_string()])
        .ok();
    desk.run(&["accounts", "delete", &account]).ok();
    assert_eq!(
        desk.run(&["--json", "accounts", "list"]).json(),
        serde_json::json!([])
    );
    assert!(desk.run(&["data-dir"]).ok().trim_end().ends_with("data"));
}

#[test]
fn account_connector_lists_page_filter_and_stream() {
    let desk = Desk::new();
    let a = desk.create_account("Paged A");
    let b = desk.create_account("Paged B");
    let mut ids = vec![];
    for _ in 0..3 {
        ids.push(desk.install(&a, "github", &[]));
    }
    for _ in 0..2 {
        ids.push(desk.install(&a, "slack", &[]));
    }
    ids.push(desk.install(&b, "github", &[]));
    let list = |args: &[&str]| {
        let mut all = vec!["--json", "account-connectors", "list"];
        all.extend_from_slice(args);
        let run = desk.run(&all);
        let v = run.json();
        let got: Vec<i64> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|ac| ac["Id"].as_i64().unwrap())
            .collect();
        (got, run.stderr())
    };
    // Pages in Id order, saying where the rest is.
    let (first, note) = list(&["--per-page", "2"]);
    assert_eq!(first, ids[..2]);
    assert!(
        note.contains("1-2 of 6") && note.contains("--page 2"),
        "{note}"
    );
    assert_eq!(list(&["--per-page", "2", "--page", "3"]).0, ids[4..]);
    assert_eq!(
        list(&["--per-page", "2", "--page", "9"]).0,
        Vec::<i64>::new()
    );
    // Filters narrow; --all (streamed: stdout is a pipe here) prints every one.
    assert_eq!(list(&["--connector", "slack"]).0, ids[3..5]);
    assert_eq!(list(&["--account", &b]).0, ids[5..]);
    assert_eq!(
        list(&["--account", &a, "--connector", "github"]).0,
        ids[..3]
    );
    assert_eq!(list(&["--status", "not-authenticated", "--all"]).0, ids);
    assert_eq!(
        list(&["--status", "authenticated", "--all"]).0,
        Vec::<i64>::new()
    );
    assert_eq!(list(&["--all"]).0, ids);
    assert_eq!(list(&["--all", "--connector", "slack"]).0, ids[3..5]);
    // The table form of --all (also written while it is read): a header, then one line per
    // account connector in Id order; "(none)" when nothing matches.
    let table = desk.run(&["account-connectors", "list", "--all"]).ok();
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with("ID") && lines[0].contains("STATUS"),
        "{table}"
    );
    let listed: Vec<i64> = lines[1..]
        .iter()
        .map(|l| l.split_whitespace().next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(listed, ids, "{table}");
    let none = desk
        .run(&[
            "account-connectors",
            "list",
            "--all",
            "--status",
            "authenticated",
        ])
        .ok();
    assert_eq!(none.trim(), "(none)");
    // Bad filters say what is wrong.
    let err = desk
        .run(&["account-connectors", "list", "--status", "sleepy"])
        .fails();
    assert!(err.contains("not a status"), "{err}");
    let err = desk
        .run(&["account-connectors", "list", "--connector", "nope"])
        .fails();
    assert!(err.contains("nope"), "{err}");
    let err = desk
        .run(&["account-connectors", "list", "--page", "0"])
        .fails();
    assert!(err.contains("count from 1"), "{err}");
}

#[test]
fn team_server_options_refuse_bad_input_clearly_and_never_echo_a_password() {
    let desk = Desk::new();
    let status = desk.run(&["vault", "status"]).ok();
    assert!(
        status.contains("Database:       SQLite ") && status.contains("authdesk.db"),
        "{status}"
    );
    let err = desk
        .run(&[
            "--database",
            "mysql://root:sekrit-pw@db/x",
            "accounts",
            "list",
        ])
        .fails();
    assert!(
        err.contains("not a PostgreSQL URL") && err.contains("postgres://"),
        "{err}"
    );
    let err = desk
        .run(&[
            "--database",
            "postgres://u:sekrit-pw@127.0.0.1:1/x",
            "accounts",
            "list",
        ])
        .fails();
    assert!(
        err.contains("cannot connect to PostgreSQL") && err.contains("u:***@"),
        "{err}"
    );
    assert!(!err.contains("sekrit-pw"), "{err}");
    let err = desk.run(&["serve", "--listen", "0.0.0.0:0"]).fails();
    assert!(err.contains("--public-url"), "{err}");
    let err = desk
        .run(&[
            "serve",
            "--listen",
            "0.0.0.0:0",
            "--public-url",
            "http://desk.example.com",
        ])
        .fails();
    assert!(err.contains("must be https"), "{err}");
    let err = desk
        .run(&["migrate", "--to", "postgres://u:sekrit-pw@127.0.0.1:1/x"])
        .fails();
    assert!(
        !err.contains("sekrit-pw") && err.contains("cannot connect"),
        "{err}"
    );
}

#[test]
fn migrate_takes_its_target_from_the_environment_and_never_shows_it() {
    // A password on the command line shows in the process list: the URL may come from
    // AUTHDESK_MIGRATE_TO_URL instead.
    let mut desk = Desk::new();
    let err = desk.run(&["migrate"]).fails();
    assert!(
        err.contains("AUTHDESK_MIGRATE_TO_URL") && err.contains("--to"),
        "{err}"
    );
    desk.env.push((
        "AUTHDESK_MIGRATE_TO_URL".into(),
        "postgres://u:sekrit-pw@127.0.0.1:1/x".into(),
    ));
    let err = desk.run(&["migrate"]).fails();
    assert!(
        err.contains("cannot connect") && !err.contains("sekrit-pw"),
        "{err}"
    );
    let help = desk.run(&["migrate", "--help"]).ok();
    assert!(
        help.contains("AUTHDESK_MIGRATE_TO_URL") && !help.contains("sekrit-pw"),
        "{help}"
    );
}

#[test]
fn database_urls_are_never_repeated_with_their_password() {
    let mut desk = Desk::new();
    for url in [
        "postgres:/authdesk:S3CRETPW@127.0.0.1:1/postgres",
        "authdesk:S3CRETPW@127.0.0.1",
        "postgres://authdesk@127.0.0.1:1/postgres?password=S3CRETPW",
        "host=127.0.0.1 port=1 password=S3CRETPW",
    ] {
        let e = desk.run(&["--database", url, "accounts", "list"]).fails();
        assert!(!e.contains("S3CRETPW"), "{url}: {e}");
    }
    // Set but empty is a mistake, not "use SQLite".
    desk.env = vec![("AUTHDESK_DATABASE_URL".into(), " ".into())];
    let e = desk.run(&["accounts", "list"]).fails();
    assert!(e.contains("is empty"), "{e}");
}

#[test]
fn a_word_typed_where_it_does_not_belong_is_not_repeated() {
    let desk = Desk::new();
    let r = desk.run(&[
        "account-connectors",
        "set-authvalue",
        "1",
        "--stdin",
        "sk_live_TYPED_BY_MISTAKE",
    ]);
    assert_eq!(r.out.status.code(), Some(2), "{}", r.describe());
    assert!(!r.stderr().contains("TYPED_BY_MISTAKE"), "{}", r.describe());
    assert!(r.stderr().contains("not repeated"), "{}", r.describe());
    assert_eq!(desk.run(&["--help"]).out.status.code(), Some(0));
    // A secret pasted where NAME=VALUE belongs is not echoed either.
    for args in [
        &[
            "account-connectors",
            "install",
            "00000000-0000-0000-0000-000000000001",
            "generic-api-key",
            "--name",
            "x",
            "--property",
            "sk_live_PASTED_BY_MISTAKE",
        ][..],
        &[
            "call",
            "1",
            "whoami",
            "--param",
            "sk_live_PASTED_BY_MISTAKE",
        ][..],
    ] {
        let e = desk.run(args).fails();
        assert!(
            !e.contains("PASTED_BY_MISTAKE") && e.contains("NAME=VALUE"),
            "{args:?}: {e}"
        );
    }
}
