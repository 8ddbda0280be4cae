//! A locked keychain: the test runs its own D-Bus session and gnome-keyring (so locking
//! the collection cannot disturb other tests), stores a secret, locks the collection, and
//! checks that writes fail with a clear "locked" error, metadata stays readable, and the
//! stored secret is intact when a keyring daemon unlocks the same keyring again.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A private session bus with an unlocked gnome-keyring on it.
struct PrivateSession {
    bus_pid: u32,
    env: Vec<(String, String)>,
}

const PASSWORD: &str = "locked-test-pw";

impl PrivateSession {
    fn start(home: &Path, runtime: &Path) -> PrivateSession {
        let out = Command::new("dbus-daemon")
            .args(["--session", "--fork", "--print-address=1", "--print-pid=1"])
            .env("HOME", home)
            .output()
            .expect("dbus-daemon (package dbus) must be installed: scripts/test.sh installs it");
        let text = String::from_utf8(out.stdout).unwrap();
        let mut lines = text.lines();
        let address = lines.next().expect("bus address").to_string();
        let bus_pid = lines.next().expect("bus pid").trim().parse().unwrap();
        let env = vec![
            ("HOME".to_string(), home.display().to_string()),
            ("XDG_RUNTIME_DIR".to_string(), runtime.display().to_string()),
            ("DBUS_SESSION_BUS_ADDRESS".to_string(), address),
            ("DISPLAY".to_string(), String::new()),
        ];
        let session = PrivateSession { bus_pid, env };
        let unlock = session.run_with_stdin(
            Command::new("gnome-keyring-daemon").args([
                "--replace",
                "--unlock",
                "--components=secrets",
            ]),
            PASSWORD,
        );
        assert!(
            unlock.status.success(),
            "gnome-keyring-daemon: {}",
            String::from_utf8_lossy(&unlock.stderr)
        );
        session
    }

    fn run_with_stdin(&self, cmd: &mut Command, stdin: &str) -> Output {
        use std::io::Write;
        cmd.envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    fn authdesk(&self, data: &Path, args: &[&str], stdin: &str) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_authdesk"));
        cmd.args(args)
            .env("AUTHDESK_DATA_DIR", data)
            .env_remove("AUTHDESK_VAULT_KEY_FILE");
        self.run_with_stdin(&mut cmd, stdin)
    }

    fn lock_login_collection(&self) {
        let out = self.run_with_stdin(
            Command::new("gdbus").args([
                "call",
                "--session",
                "--dest",
                "org.freedesktop.secrets",
                "--object-path",
                "/org/freedesktop/secrets",
                "--method",
                "org.freedesktop.Secret.Service.Lock",
                "['/org/freedesktop/secrets/collection/login']",
            ]),
            "",
        );
        assert!(
            out.status.success(),
            "gdbus Lock failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for PrivateSession {
    fn drop(&mut self) {
        // gnome-keyring-daemon leaves when its bus goes away.
        let _ = Command::new("kill").arg(self.bus_pid.to_string()).status();
    }
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", text(o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(o)))
}

#[test]
fn a_locked_keychain_is_reported_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (home, runtime, data): (PathBuf, PathBuf, PathBuf) = (
        dir.path().join("home"),
        dir.path().join("run"),
        dir.path().join("data"),
    );
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&runtime).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700)).unwrap();
    }

    let session = PrivateSession::start(&home, &runtime);
    let account = json(&session.authdesk(
        &data,
        &["--json", "accounts", "create", "--name", "Locked"],
        "",
    ))["Id"]
        .as_str()
        .unwrap()
        .to_string();
    json(&session.authdesk(
        &data,
        &[
            "--json",
            "account-connectors",
            "install",
            &account,
            "stripe",
            "--name",
            "s",
        ],
        "",
    ));
    let first = session.authdesk(
        &data,
        &["account-connectors", "set-authvalue", "1", "--stdin"],
        "sk_test_FIRST",
    );
    assert!(first.status.success(), "{}", text(&first));
    let before = json(&session.authdesk(&data, &["--json", "account-connectors", "show", "1"], ""));

    session.lock_login_collection();

    let second = session.authdesk(
        &data,
        &["account-connectors", "set-authvalue", "1", "--stdin"],
        "sk_test_SECOND",
    );
    assert!(
        !second.status.success(),
        "a write while locked must fail: {}",
        text(&second)
    );
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(
        err.contains("keychain is locked") && err.contains("Unlock it"),
        "{err}"
    );
    assert!(!err.contains("sk_test"), "{err}");
    // Metadata still reads, unchanged; inspect says why secrets are not shown.
    assert_eq!(
        json(&session.authdesk(&data, &["--json", "account-connectors", "show", "1"], "")),
        before
    );
    let inspected = json(&session.authdesk(&data, &["--json", "inspect", "1"], ""));
    assert!(
        inspected["SecretsUnavailable"]
            .as_str()
            .unwrap()
            .contains("locked"),
        "{inspected}"
    );
    assert_eq!(inspected["Status"], "Authenticated");
    drop(session);

    // A new session unlocks the same on-disk keyring: the first key is still there.
    let session = PrivateSession::start(&home, &runtime);
    let revealed = json(&session.authdesk(&data, &["--json", "inspect", "1", "--reveal"], ""));
    assert_eq!(
        revealed["Secrets"][0]["Value"], "sk_test_FIRST",
        "{revealed}"
    );
}
