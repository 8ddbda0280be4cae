//! One-shot commands: the `authdesk` binary started for one command that opens the vault
//! (`inspect ID --reveal`: the data key read, a secret decrypted) next to one that reads
//! only metadata (`accounts list`), alternately, on the same data directory, the key in a
//! file (`AUTHDESK_VAULT_KEY_FILE`) so the figure is Authdesk's own. The keychain's share is
//! measured on its own when a Secret Service answers (the same command with the key there).
//!
//!   cargo bench -p authdesk-cli --bench oneshot

#[path = "../../authdesk-core/benches/support/table.rs"]
mod table;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use table::{row, Goal};

const BIN: &str = env!("CARGO_BIN_EXE_authdesk");

fn authdesk(dir: &Path, key: Option<&Path>, args: &[&str], input: Option<&str>) -> Duration {
    let mut c = Command::new(BIN);
    c.args(args)
        .env("AUTHDESK_DATA_DIR", dir)
        .env_remove("AUTHDESK_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    match key {
        Some(k) => c.env("AUTHDESK_VAULT_KEY_FILE", k),
        None => c.env_remove("AUTHDESK_VAULT_KEY_FILE"),
    };
    c.stdin(if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let t0 = Instant::now();
    let mut child = c.spawn().expect("run authdesk");
    if let Some(text) = input {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let took = t0.elapsed();
    assert!(
        out.status.success(),
        "authdesk {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

/// A data directory with one account and one API-key account connector; its Id.
fn seeded(dir: &Path, key: Option<&Path>) -> String {
    let def = dir.with_extension("toml");
    std::fs::write(
        &def,
        "id = \"bench-key\"\nname = \"Bench key\"\nversion = \"1\"\napi_base_url = \"https://api.example.com\"\n\
         [auth]\ntype = \"api_key\"\nplacement = \"header\"\nname = \"X-Api-Key\"\n",
    )
    .unwrap();
    authdesk(
        dir,
        key,
        &["connectors", "add", def.to_str().unwrap()],
        None,
    );
    let out = Command::new(BIN)
        .args(["--json", "accounts", "create", "--name", "Bench"])
        .env("AUTHDESK_DATA_DIR", dir)
        .envs(key.map(|k| ("AUTHDESK_VAULT_KEY_FILE", k)))
        .output()
        .unwrap();
    let account: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let out = Command::new(BIN)
        .args([
            "--json",
            "account-connectors",
            "install",
            account["Id"].as_str().unwrap(),
            "bench-key",
            "--name",
            "k",
        ])
        .env("AUTHDESK_DATA_DIR", dir)
        .envs(key.map(|k| ("AUTHDESK_VAULT_KEY_FILE", k)))
        .output()
        .unwrap();
    let ac: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = ac["Id"].as_i64().unwrap().to_string();
    authdesk(
        dir,
        key,
        &["account-connectors", "set-authvalue", &id, "--stdin"],
        Some("bench-api-key-value"),
    );
    id
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    let runs = if table::smoke() { 3 } else { 31 };
    let tmp = tempfile::tempdir().unwrap();
    let key = tmp.path().join("vault.key");
    let dir = tmp.path().join("data");
    let id = seeded(&dir, Some(&key));
    let (mut metadata, mut vault) = (vec![], vec![]);
    for _ in 0..runs {
        metadata.push(authdesk(
            &dir,
            Some(&key),
            &["--json", "accounts", "list"],
            None,
        ));
        vault.push(authdesk(
            &dir,
            Some(&key),
            &["--json", "inspect", &id, "--reveal"],
            None,
        ));
    }
    let (m, v) = (median(metadata), median(vault));
    println!("one-shot commands, medians of {runs} alternating runs (key in a file):");
    println!("  accounts list (metadata only): {}", ms(m));
    println!(
        "  inspect --reveal (vault opened, a secret decrypted): {}",
        ms(v)
    );
    let ratio = v.as_secs_f64() / m.as_secs_f64();
    row(
        "one-shot command opening the vault vs one reading metadata",
        &ms(v),
        &ms(m),
        Some(ratio),
        Goal::AtMost(2.0),
        ratio,
    );

    // The keychain's share, where a Secret Service answers (scripts/test.sh's session, a
    // desktop): the same command with the key in the keychain.
    let has_bus = std::env::var("DBUS_SESSION_BUS_ADDRESS").is_ok();
    if has_bus && !table::smoke() {
        let dir = tmp.path().join("keychain");
        let id = seeded(&dir, None);
        let mut keychain = vec![];
        for _ in 0..runs {
            keychain.push(authdesk(
                &dir,
                None,
                &["--json", "inspect", &id, "--reveal"],
                None,
            ));
        }
        let k = median(keychain);
        println!("  inspect --reveal with the key in the keychain: {}", ms(k));
        row(
            "the same, data key in the OS keychain (its share, for information)",
            &ms(k),
            &ms(v),
            Some(k.as_secs_f64() / v.as_secs_f64()),
            Goal::None,
            0.0,
        );
    }
}
