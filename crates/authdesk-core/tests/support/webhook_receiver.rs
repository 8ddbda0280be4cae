//! The webhook receiver of the tests (`tests/webhooks/receiver.mjs`): it verifies every
//! delivery with the Standard Webhooks library from npm and keeps what it verified. Self
//! contained (std only: its control calls are plain HTTP/1.0), so the CLI's tests include it
//! by path too.
#![allow(dead_code)]

use std::io::{BufRead, Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Receiver {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    child: Child,
}

/// A delivery the receiver verified.
#[derive(Debug, Clone)]
pub struct Received {
    pub id: String,
    pub event: serde_json::Value,
}

impl Receiver {
    pub fn start() -> Receiver {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/webhooks");
        let mut child = Command::new("node")
            .arg("receiver.mjs")
            .current_dir(&dir)
            .env("PORT", "0")
            .env("EXIT_WITH_STDIN", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect(
                "node runs tests/webhooks/receiver.mjs (scripts/setup-debian.sh test installs it)",
            );
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = std::io::BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = tx.send(line);
            }
            for _ in lines {}
        });
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("the webhook receiver did not start");
        let base = line
            .strip_prefix("listening ")
            .unwrap_or_else(|| panic!("the webhook receiver said {line:?}"))
            .trim()
            .to_string();
        Receiver { base, child }
    }

    /// Where Authdesk sends: `<base>/hook`.
    pub fn url(&self) -> String {
        format!("{}/hook", self.base)
    }

    fn control(&self, method: &str, path: &str, body: &str) -> String {
        let addr = self.base.trim_start_matches("http://");
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        write!(
            stream,
            "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default()
    }

    /// The endpoint's secret, to verify with.
    pub fn set_secret(&self, secret: &str) {
        self.control("POST", "/__secret", secret);
    }

    /// `up`, `down` (503) or `redirect` (307 elsewhere).
    pub fn set_mode(&self, mode: &str) {
        self.control("POST", "/__mode", mode);
    }

    /// What it verified, in arrival order; how many it refused; how many redirects were
    /// followed to it.
    pub fn received(&self) -> (Vec<Received>, u64, u64) {
        let v: serde_json::Value =
            serde_json::from_str(&self.control("GET", "/__received", "")).unwrap();
        let list = v["received"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| Received {
                id: r["id"].as_str().unwrap_or_default().to_string(),
                event: r["event"].clone(),
            })
            .collect();
        (
            list,
            v["refused"].as_u64().unwrap_or(0),
            v["elsewhere"].as_u64().unwrap_or(0),
        )
    }

    /// Waits until `done` holds of what was received (or panics after `timeout`).
    pub fn wait_for(&self, timeout: Duration, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let until = Instant::now() + timeout;
        loop {
            let (list, _, _) = self.received();
            if done(&list) {
                return list;
            }
            assert!(
                Instant::now() < until,
                "the receiver did not get what was expected in {timeout:?}: {list:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
