//! The harness shared by the CLI test binaries: run `authdesk` as a user would, with a
//! throwaway data directory, and print everything needed to debug a failure.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

pub struct Desk {
    pub dir: tempfile::TempDir,
    /// Environment overrides for every command (e.g. to hide the Secret Service).
    pub env: Vec<(String, String)>,
}

pub struct Run {
    pub out: Output,
    pub args: String,
}

impl Run {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.out.stderr).into_owned()
    }
    pub fn describe(&self) -> String {
        format!(
            "authdesk {}\nexit: {:?}\n--- stdout\n{}--- stderr\n{}",
            self.args,
            self.out.status.code(),
            self.stdout(),
            self.stderr()
        )
    }
    /// Succeeded; returns stdout.
    pub fn ok(&self) -> String {
        assert!(
            self.out.status.success(),
            "expected success:\n{}",
            self.describe()
        );
        self.stdout()
    }
    /// Failed with one line on stderr; returns it.
    pub fn fails(&self) -> String {
        assert!(
            !self.out.status.success(),
            "expected failure:\n{}",
            self.describe()
        );
        let err = self.stderr();
        assert_eq!(
            err.trim_end().lines().count(),
            1,
            "error must be one line:\n{}",
            self.describe()
        );
        assert!(err.starts_with("authdesk: error: "), "{}", self.describe());
        err
    }
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.ok())
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", self.describe()))
    }
}

impl Desk {
    pub fn new() -> Desk {
        Desk {
            dir: tempfile::tempdir().unwrap(),
            env: vec![],
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_authdesk"));
        c.args(args)
            .env("AUTHDESK_DATA_DIR", self.data_dir())
            .env_remove("AUTHDESK_VAULT_KEY_FILE")
            .env_remove("AUTHDESK_LOG");
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with_stdin(args, None)
    }

    pub fn run_with_stdin(&self, args: &[&str], stdin: Option<&str>) -> Run {
        let mut cmd = self.command(args);
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn authdesk");
        {
            let mut pipe = child.stdin.take().unwrap();
            if let Some(s) = stdin {
                pipe.write_all(s.as_bytes()).unwrap();
            }
        }
        let out = child.wait_with_output().unwrap();
        Run {
            out,
            args: args.join(" "),
        }
    }

    pub fn create_account(&self, name: &str) -> String {
        let v = self
            .run(&["--json", "accounts", "create", "--name", name])
            .json();
        v["Id"].as_str().unwrap().to_string()
    }

    pub fn install(&self, account: &str, connector: &str, extra: &[&str]) -> i64 {
        let mut args = vec![
            "--json",
            "account-connectors",
            "install",
            account,
            connector,
            "--name",
            "test",
        ];
        args.extend_from_slice(extra);
        self.run(&args).json()["Id"].as_i64().unwrap()
    }
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

pub fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// Starts `authdesk serve` from `serve` (its stderr piped here) and waits until it says it
/// listens: the child and the API's base URL. The rest of its stderr is drained on a thread
/// so it never blocks writing.
pub fn serving(mut serve: Command) -> (Child, String) {
    let mut child = serve
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    let base = loop {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "serve ended before listening"
        );
        if let Some(rest) = line.trim().strip_prefix("Authdesk API listening on ") {
            break rest.to_string();
        }
    };
    std::thread::spawn(move || for _ in stderr.lines() {});
    (child, base)
}
