//! The team server harness shared by the replica tests and the team benchmark: a fresh
//! PostgreSQL database on the test cluster, a team's data set up through the core, and
//! `authdesk serve` replicas.
#![allow(dead_code)]

#[path = "../../../authdesk-core/tests/support/oidc.rs"]
pub mod oidc;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use authdesk_core::{
    Authdesk, Engine, EngineConfig, InstallRequest, KeySource, NewAccount, OpenOptions, Secret,
};
use oidc::{sign_in, OidcServer};
use serde_json::{json, Value};

pub const WEB_REDIRECT: &str = "https://app.example.com/callback";

/// A new, empty database on the test cluster.
pub fn fresh_database() -> String {
    let admin = std::env::var("AUTHDESK_TEST_PG_CLUSTER").unwrap_or_else(|_| {
        panic!(
            "AUTHDESK_TEST_PG_CLUSTER is not set: these tests need PostgreSQL. scripts/test.sh \
             starts a throwaway cluster; by hand: export AUTHDESK_TEST_PG_CLUSTER=$(scripts/pg-cluster.sh start /tmp/pg)"
        )
    });
    let name = format!("r_{}", uuid_like());
    let (a, n) = (admin.clone(), name.clone());
    std::thread::spawn(move || {
        let mut c = postgres::Client::connect(&a, postgres::NoTls).unwrap();
        c.batch_execute(&format!("CREATE DATABASE {n}")).unwrap();
    })
    .join()
    .unwrap();
    let mut url = url::Url::parse(&admin).unwrap();
    url.set_path(&name);
    url.to_string()
}

pub fn uuid_like() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{t:x}{:x}", std::process::id())
}

/// Runs SQL on the database (on a thread: the client must not run inside the test's runtime).
pub fn sql(url: &str, statement: &str) {
    let (u, s) = (url.to_string(), statement.to_string());
    std::thread::spawn(move || {
        let mut c = postgres::Client::connect(&u, postgres::NoTls).unwrap();
        c.batch_execute(&s).unwrap();
    })
    .join()
    .unwrap();
}

pub fn definition(issuer: &str) -> String {
    format!(
        r#"
id = "team-provider"
name = "Test provider"
version = "1"
api_base_url = "{issuer}"
[auth]
type = "oauth2"
grant = "authorization_code"
authorize_url = "{issuer}/auth"
token_url = "{issuer}/token"
revoke_url = "{issuer}/token/revocation"
issuer = "{issuer}"
issuer_in_response = true
scopes = ["openid", "offline_access", "email"]
[auth.authorize_params]
prompt = "consent"
[[methods]]
id = "userinfo"
name = "UserInfo"
http_method = "GET"
path = "/me"
"#
    )
}

/// The team's data: one account, `n` account connectors signed in at oidc-provider (each
/// its own grant), set up through the core on the shared database.
pub struct Team {
    pub dir: tempfile::TempDir,
    /// PostgreSQL; `None`: one SQLite data directory shared by every replica.
    pub database: Option<String>,
    pub key: PathBuf,
    pub desk: Arc<Authdesk>,
    pub account: String,
    pub ids: Vec<i64>,
    pub api_key: String,
}

impl Team {
    /// On a fresh PostgreSQL database.
    pub async fn new(server: &OidcServer, n: usize) -> Team {
        Self::on(Some(fresh_database()), server, n).await
    }

    pub async fn on(database: Option<String>, server: &OidcServer, n: usize) -> Team {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("vault.key");
        let desk = Arc::new(
            Authdesk::open(OpenOptions {
                data_dir: dir.path().join("shared"),
                database: database.clone(),
                key_source: KeySource::File(key.clone()),
                clock: Arc::new(chrono::Utc::now),
            })
            .unwrap(),
        );
        let engine = Engine::new(desk.clone(), EngineConfig::default()).unwrap();
        desk.add_connector("team-provider", &definition(&server.issuer), false)
            .unwrap();
        desk.set_connector_client(
            "team-provider",
            "authdesk-web",
            Some(&Secret::new("authdesk-web-secret")),
        )
        .unwrap();
        let account = desk
            .create_account(NewAccount {
                name: "Team".into(),
                ..Default::default()
            })
            .unwrap()
            .id;
        let mut ids = vec![];
        for i in 0..n {
            let id = desk
                .install(
                    &account,
                    "team-provider",
                    InstallRequest {
                        name: format!("customer {i}"),
                        ..Default::default()
                    },
                )
                .unwrap()
                .id;
            let start = engine.begin_sign_in(id, WEB_REDIRECT).await.unwrap();
            let callback = sign_in(&start.authorization_url, &format!("user{i}")).await;
            engine
                .complete_sign_in(&callback, &start.binding)
                .await
                .unwrap();
            ids.push(id);
        }
        let api_key = desk.api_key().unwrap().expose().to_string();
        Team {
            dir,
            database,
            key,
            desk,
            account,
            ids,
            api_key,
        }
    }

    /// The PostgreSQL URL (a PostgreSQL team only).
    pub fn url(&self) -> &str {
        self.database.as_deref().expect("a team on PostgreSQL")
    }

    /// Every access token expired: the next call of each needs a refresh.
    pub fn expire_all(&self) {
        for &id in &self.ids {
            let get = |f: &str| {
                self.desk
                    .credential_secret(id, f)
                    .unwrap()
                    .unwrap()
                    .expose()
                    .to_string()
            };
            let value = serde_json::json!({
                "AccessToken": get("AccessToken"),
                "RefreshToken": get("RefreshToken"),
                "Expires": "2000-01-01T00:00:00Z",
            });
            self.desk
                .set_auth_value(id, &Secret::new(value.to_string()))
                .unwrap();
        }
    }

    pub fn replica(&self, n: usize) -> Replica {
        Replica::start(self, n)
    }
}

/// One `authdesk serve` process on the team's database.
pub struct Replica {
    pub child: Child,
    pub base: String,
    pub log: std::sync::mpsc::Receiver<String>,
}

impl Replica {
    pub fn start(team: &Team, n: usize) -> Replica {
        Self::start_with(team, n, &[])
    }

    pub fn start_with(team: &Team, n: usize, extra: &[&str]) -> Replica {
        let mut command = Command::new(env!("CARGO_BIN_EXE_authdesk"));
        command
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .env("AUTHDESK_VAULT_KEY_FILE", &team.key);
        match &team.database {
            Some(url) => command.env("AUTHDESK_DATABASE_URL", url).env(
                "AUTHDESK_DATA_DIR",
                team.dir.path().join(format!("replica-{n}")),
            ),
            None => command
                .env_remove("AUTHDESK_DATABASE_URL")
                .env("AUTHDESK_DATA_DIR", team.dir.path().join("shared")),
        };
        let mut child = command
            .env("AUTHDESK_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = BufReader::new(child.stderr.take().unwrap());
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut seen = String::new();
        let base = loop {
            match rx.recv_timeout(std::time::Duration::from_secs(30)) {
                Ok(line) => {
                    seen.push_str(&line);
                    seen.push('\n');
                    if let Some(rest) = line.strip_prefix("Authdesk API listening on ") {
                        break rest.trim().to_string();
                    }
                }
                Err(_) => panic!("replica {n} did not start:\n{seen}"),
            }
        };
        Replica {
            child,
            base,
            log: rx,
        }
    }

    /// What it logged so far.
    pub fn drain_log(&self) -> String {
        self.log.try_iter().collect::<Vec<_>>().join("\n")
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill(); // SIGKILL
        let _ = self.child.wait();
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.kill();
    }
}

pub async fn call(
    http: &reqwest::Client,
    base: &str,
    key: &str,
    account: &str,
    id: i64,
) -> Result<(u16, Value), String> {
    let r = http
        .post(format!(
            "{base}/v1.0/account/connectors/{id}/methods/userinfo"
        ))
        .bearer_auth(key)
        .header("X-Cyclr-Account", account)
        .json(&json!({}))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = r.status().as_u16();
    let body = r.json::<Value>().await.map_err(|e| e.to_string())?;
    Ok((status, body))
}

pub fn pg_dump(database: &str) -> Vec<u8> {
    let bin = std::fs::read_dir("/usr/lib/postgresql")
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path().join("bin/pg_dump")))
        .find(|p| p.exists())
        .expect("pg_dump (Debian's postgresql package)");
    let out = Command::new(bin).arg(database).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

pub fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

pub fn tokens_of(desk: &Authdesk, ids: &[i64]) -> Vec<String> {
    let mut out = vec![];
    for &id in ids {
        for field in ["AccessToken", "RefreshToken"] {
            if let Some(s) = desk.credential_secret(id, field).unwrap() {
                out.push(s.expose().to_string());
            }
        }
    }
    out
}
