//! `authdesk`: the command line. A thin layer over `authdesk-core`: parse arguments, read
//! secrets from stdin or files (never from argv), call the core, print a table or JSON.

mod output;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use authdesk_core::definition::SignInMode;
use std::sync::Arc;

use authdesk_core::{
    paths, Authdesk, Engine, EngineConfig, InstallRequest, NewAccount, OpenOptions, PropertyInput,
    Secret,
};
use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "authdesk",
    version,
    about = "Set up and keep alive connector authentication, on your desktop."
)]
struct Cli {
    /// Data directory (default: the OS's per-user data directory, e.g. ~/.local/share/authdesk).
    #[arg(long, global = true, env = "AUTHDESK_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Accounts (one per customer).
    #[command(subcommand)]
    Accounts(AccountsCmd),
    /// The connector library.
    #[command(subcommand)]
    Connectors(ConnectorsCmd),
    /// Connectors installed into accounts.
    #[command(subcommand, name = "account-connectors")]
    AccountConnectors(AccountConnectorsCmd),
    /// Show an account connector's stored credentials, offline: status, expiry, scopes,
    /// decoded JWT claims. Values are masked unless --reveal.
    Inspect {
        account_connector_id: i64,
        /// Print the token values themselves.
        #[arg(long)]
        reveal: bool,
    },
    /// Sign in (authorization code flow) in the system browser, with a loopback redirect
    /// on 127.0.0.1 (register `http://127.0.0.1/callback`, any port, at the provider).
    /// With --json, standard output carries only the final JSON; the URL and messages go
    /// to standard error.
    Connect {
        account_connector_id: i64,
        /// Print the URL (to stdout, or with --json to stderr) instead of opening the browser.
        #[arg(long)]
        no_browser: bool,
        /// Loopback port (0: any free port; use a fixed one if the provider needs an
        /// exact redirect URI).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Seconds to wait for the browser to come back.
        #[arg(long, default_value_t = 300)]
        timeout: u64,
    },
    /// Call a connector method with the auth applied (refreshing first if needed). The
    /// third party's answer is printed; the exit status is 22 when it answered HTTP 400 or
    /// more (like `curl --fail`), unless --no-fail.
    Call {
        account_connector_id: i64,
        /// The method's unique identifier or name.
        method: String,
        /// A parameter, NAME=VALUE (repeatable; values are strings).
        #[arg(long = "param", value_name = "NAME=VALUE")]
        params: Vec<String>,
        /// Parameters as a JSON object (for numbers, booleans and nested bodies).
        #[arg(long, value_name = "JSON")]
        params_json: Option<String>,
        /// Exit 0 whatever the third party answered.
        #[arg(long, conflicts_with = "fail")]
        no_fail: bool,
        /// Exit 22 when the third party answered HTTP 400 or more (the default).
        #[arg(long)]
        fail: bool,
    },
    /// Refresh an OAuth2 credential now.
    Refresh { account_connector_id: i64 },
    /// Refresh credentials that expire soon and exercise idle refresh tokens.
    KeepAlive {
        /// Keep running, checking every this many seconds.
        #[arg(long, value_name = "SECONDS")]
        watch: Option<u64>,
    },
    /// What happened to a credential: sign-ins, refreshes, failures.
    History {
        account_connector_id: i64,
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Run the Cyclr-compatible local API (loopback only) and the keep-alive.
    Serve {
        /// Address to listen on (127.0.0.1 or ::1).
        #[arg(long, default_value = authdesk_api::DEFAULT_LISTEN)]
        listen: std::net::SocketAddr,
    },
    /// Print the local API key (created on first use), or replace it.
    ApiKey {
        #[arg(long)]
        rotate: bool,
    },
    /// Origins the browser flow may return to (targetOrigin), or with --cors, web pages
    /// allowed to call the API from a browser.
    #[command(subcommand)]
    Origins(OriginsCmd),
    /// Print the data directory in use.
    DataDir,
    /// The vault that protects secrets.
    #[command(subcommand)]
    Vault(VaultCmd),
}

#[derive(Subcommand)]
enum OriginsCmd {
    List {
        #[arg(long)]
        cors: bool,
    },
    /// Allow an origin (e.g. https://partner.example); any URL on it is reduced to its origin.
    Add {
        origin: String,
        #[arg(long)]
        cors: bool,
    },
    Remove {
        origin: String,
        #[arg(long)]
        cors: bool,
    },
}

#[derive(Subcommand)]
enum VaultCmd {
    /// Where the data key lives and whether it opens this data directory's secrets.
    Status,
}

#[derive(Subcommand)]
enum AccountsCmd {
    /// Create an account.
    Create {
        #[arg(long)]
        name: String,
        /// A GUID (generated when omitted).
        #[arg(long)]
        id: Option<String>,
        #[arg(long)]
        description: Option<String>,
        #[arg(long)]
        timezone: Option<String>,
    },
    List,
    Show {
        account_id: String,
    },
    /// Delete an account, its users and its account connectors (with their secrets); their
    /// tokens are revoked at the providers first (failures are reported and do not stop the
    /// deletion).
    Delete {
        account_id: String,
    },
    /// List an account's users.
    Users {
        account_id: String,
    },
    /// Add a user to an account.
    AddUser {
        account_id: String,
        username: String,
    },
}

#[derive(Subcommand)]
enum ConnectorsCmd {
    List,
    /// Show a library entry: auth, endpoints, properties and methods.
    Show {
        connector: String,
    },
    /// Add your own connector from a definition file (TOML; see docs/connector-format.md).
    Add {
        file: PathBuf,
        /// Update a user connector with the same id.
        #[arg(long)]
        replace: bool,
    },
    /// Remove a user connector that no account uses.
    Remove {
        connector: String,
    },
    /// Set the library entry's OAuth app (ClientId, ClientSecret) used by every account
    /// connector that does not set its own.
    SetClient {
        connector: String,
        #[arg(long)]
        client_id: String,
        #[command(flatten)]
        secret: ClientSecretArgs,
    },
    /// Remove the library entry's ClientId and ClientSecret.
    ClearClient {
        connector: String,
    },
}

#[derive(Args)]
#[group(required = true, multiple = false)]
struct ClientSecretArgs {
    /// Read the ClientSecret from standard input.
    #[arg(long)]
    client_secret_stdin: bool,
    /// Read the ClientSecret from a file.
    #[arg(long, value_name = "FILE")]
    client_secret_file: Option<PathBuf>,
    /// A public client: no ClientSecret.
    #[arg(long)]
    public: bool,
}

#[derive(Args)]
#[group(required = true, multiple = false)]
struct SecretInput {
    /// Read the value from standard input.
    #[arg(long)]
    stdin: bool,
    /// Read the value from a file.
    #[arg(long, value_name = "FILE")]
    file: Option<PathBuf>,
}

#[derive(Subcommand)]
enum AccountConnectorsCmd {
    /// Install a connector into an account.
    Install {
        account_id: String,
        /// Library connector Id or id (slug).
        connector: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        description: Option<String>,
        /// A non-secret property, NAME=VALUE (repeatable). Secret ones go in --properties-file
        /// or `set-property --value-stdin`.
        #[arg(long = "property", value_name = "NAME=VALUE")]
        properties: Vec<String>,
        /// Properties as Cyclr's JSON: [{"Name": "...", "Value": "..."}].
        #[arg(long, value_name = "FILE")]
        properties_file: Option<PathBuf>,
        /// Read the AuthValue from standard input.
        #[arg(long, conflicts_with = "auth_value_file")]
        auth_value_stdin: bool,
        /// Read the AuthValue from a file.
        #[arg(long, value_name = "FILE")]
        auth_value_file: Option<PathBuf>,
    },
    List {
        /// Only this account's.
        #[arg(long)]
        account: Option<String>,
    },
    Show {
        account_connector_id: i64,
    },
    /// Set a property. Secret properties (ClientSecret, Password, ...) must come from
    /// --value-stdin or --value-file.
    SetProperty {
        account_connector_id: i64,
        name: String,
        value: Option<String>,
        #[arg(long, conflicts_with_all = ["value", "value_file"])]
        value_stdin: bool,
        #[arg(long, value_name = "FILE", conflicts_with = "value")]
        value_file: Option<PathBuf>,
    },
    RemoveProperty {
        account_connector_id: i64,
        name: String,
    },
    /// Replace the credentials with an AuthValue (JSON tokens, "{}", an API key, or
    /// base64 user:password), read from stdin or a file.
    SetAuthvalue {
        account_connector_id: i64,
        #[command(flatten)]
        input: SecretInput,
    },
    /// Choose where sign-in runs for this account connector.
    SetSignIn {
        account_connector_id: i64,
        mode: SignInChoice,
    },
    /// Revoke the credential at the provider (when it has an endpoint) and forget it here.
    Disconnect {
        account_connector_id: i64,
    },
    /// Delete an account connector; its tokens are revoked at the provider first (a failed
    /// revocation is reported and does not stop the deletion).
    Delete {
        account_connector_id: i64,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum SignInChoice {
    Webview,
    SystemBrowser,
    /// Whatever the connector definition says.
    Default,
}

/// `authdesk call`'s exit status when the third party answered HTTP 400 or more (curl's
/// `--fail` uses the same number).
const EXIT_HTTP_FAILURE: u8 = 22;

fn main() -> ExitCode {
    authdesk_core::logging::init();
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            // One line: the core's messages already say what happened and what to do.
            let msg = format!("{e:#}").replace('\n', " ");
            eprintln!("authdesk: error: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn open(cli: &Cli) -> Result<Authdesk> {
    let dir = match &cli.data_dir {
        Some(d) => d.clone(),
        None => paths::default_data_dir()?,
    };
    Ok(Authdesk::open(OpenOptions::new(dir))?)
}

fn run(cli: Cli) -> Result<ExitCode> {
    run_command(cli).map(|outcome| match outcome {
        Outcome::Done => ExitCode::SUCCESS,
        Outcome::ThirdPartyFailed => ExitCode::from(EXIT_HTTP_FAILURE),
    })
}

/// How a command ended when it did not fail itself.
enum Outcome {
    Done,
    /// `call`: the third party answered HTTP >= 400 (its answer was printed).
    ThirdPartyFailed,
}

fn run_command(cli: Cli) -> Result<Outcome> {
    let mut outcome = Outcome::Done;
    let desk = Arc::new(open(&cli)?);
    let out = output::Out { json: cli.json };
    let engine = || -> Result<Runner> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        Ok(Runner {
            engine: Engine::new(desk.clone(), EngineConfig::default())?,
            rt,
        })
    };
    let done = match cli.command {
        Command::Connect {
            account_connector_id,
            no_browser,
            port,
            timeout,
        } => {
            let runner = engine()?;
            let engine = &runner.engine;
            runner.run(async {
                let sign_in =
                    authdesk_api::loopback::begin(engine, account_connector_id, port).await?;
                let url = sign_in.start.authorization_url.clone();
                eprintln!(
                    "Redirect URI for this sign-in: {}",
                    sign_in.start.redirect_uri
                );
                if no_browser {
                    eprintln!("Open this URL in your browser to sign in:");
                    // With --json, stdout is one JSON document: the URL goes to stderr.
                    if out.json {
                        eprintln!("{url}");
                    } else {
                        println!("{url}");
                    }
                } else if let Err(e) = open::that_detached(&url) {
                    eprintln!("Could not open a browser ({e}); open this URL yourself:\n{url}");
                } else {
                    eprintln!(
                        "Your browser should now show the provider's sign-in page. Waiting..."
                    );
                }
                let ac = sign_in
                    .finish(engine, std::time::Duration::from_secs(timeout))
                    .await?;
                out.account_connector(&ac)
            })
        }
        Command::Call {
            account_connector_id,
            method,
            params,
            params_json,
            no_fail,
            fail: _,
        } => {
            let mut parameters = match params_json {
                Some(text) => match serde_json::from_str::<serde_json::Value>(&text) {
                    Ok(serde_json::Value::Object(map)) => map,
                    _ => bail!("--params-json must be a JSON object, e.g. '{{\"limit\": 10}}'"),
                },
                None => serde_json::Map::new(),
            };
            for p in &params {
                let (n, v) = p
                    .split_once('=')
                    .with_context(|| format!("--param {p:?} must be NAME=VALUE"))?;
                parameters.insert(n.to_string(), serde_json::Value::String(v.to_string()));
            }
            let runner = engine()?;
            let engine = &runner.engine;
            let response =
                runner.run(engine.call_method(account_connector_id, &method, &parameters))?;
            out.method_response(&response)?;
            if response.status >= 400 && !no_fail {
                eprintln!(
                    "authdesk: the third party answered HTTP {} (exit status {EXIT_HTTP_FAILURE}; \
                     --no-fail exits 0)",
                    response.status
                );
                outcome = Outcome::ThirdPartyFailed;
            }
            Ok(())
        }
        Command::Refresh {
            account_connector_id,
        } => {
            let runner = engine()?;
            let engine = &runner.engine;
            out.account_connector(&runner.run(engine.refresh_now(account_connector_id))?)
        }
        Command::KeepAlive { watch } => {
            let runner = engine()?;
            let engine = &runner.engine;
            runner.run(async {
                loop {
                    let outcomes = engine.keep_alive_once().await?;
                    out.keep_alive(&outcomes)?;
                    match watch {
                        Some(seconds) => {
                            tokio::time::sleep(std::time::Duration::from_secs(seconds.max(1))).await
                        }
                        None => return anyhow::Ok(()),
                    }
                }
            })
        }
        Command::Serve { listen } => {
            let runner = engine()?;
            let engine = &runner.engine;
            runner.rt.block_on(async {
                let engine = Arc::new(engine.clone());
                let server =
                    authdesk_api::Server::start(desk.clone(), engine.clone(), listen).await?;
                eprintln!("Authdesk API listening on http://{}", server.addr);
                eprintln!(
                    "Redirect URI to register at providers: {}",
                    server.state.callback_uri()
                );
                eprintln!(
                    "API key: `authdesk api-key`; allowed targetOrigins: `authdesk origins list`"
                );
                let keep_alive = engine.clone();
                tokio::spawn(async move {
                    keep_alive
                        .keep_alive_forever(std::time::Duration::from_secs(60))
                        .await
                });
                tokio::select! {
                    r = server.wait() => r.map_err(anyhow::Error::from),
                    _ = tokio::signal::ctrl_c() => {
                        // Let refreshes in flight commit what the provider answered.
                        engine.settle(std::time::Duration::from_secs(30)).await;
                        Ok(())
                    }
                }
            })
        }
        Command::ApiKey { rotate } => {
            let key = if rotate {
                desk.rotate_api_key()?
            } else {
                desk.api_key()?
            };
            out.text(key.expose())
        }
        Command::Origins(cmd) => {
            use authdesk_core::settings::OriginPurpose;
            let purpose = |cors: bool| {
                if cors {
                    OriginPurpose::Cors
                } else {
                    OriginPurpose::Target
                }
            };
            match cmd {
                OriginsCmd::List { cors } => out.origins(&desk.allowed_origins(purpose(cors))?),
                OriginsCmd::Add { origin, cors } => {
                    let added = desk.allow_origin(purpose(cors), &origin)?;
                    out.done(&format!("allowed {added}"))
                }
                OriginsCmd::Remove { origin, cors } => {
                    desk.disallow_origin(purpose(cors), &origin)?;
                    out.done(&format!("removed {origin}"))
                }
            }
        }
        Command::History {
            account_connector_id,
            limit,
        } => {
            desk.get_account_connector(account_connector_id)?;
            out.history(&desk.credential_events(account_connector_id, limit)?)
        }
        Command::DataDir => out.text(&desk.data_dir().display().to_string()),
        Command::Vault(VaultCmd::Status) => out.vault_status(&desk.vault_status()?),
        Command::Inspect {
            account_connector_id,
            reveal,
        } => out.inspection(&desk.inspect(account_connector_id, reveal)?),
        Command::Accounts(cmd) => match cmd {
            AccountsCmd::Create {
                name,
                id,
                description,
                timezone,
            } => out.account(&desk.create_account(NewAccount {
                id,
                name,
                description,
                timezone,
            })?),
            AccountsCmd::List => out.accounts(&desk.list_accounts()?),
            AccountsCmd::Show { account_id } => {
                let account = desk.get_account(&account_id)?;
                let connectors = desk.list_account_connectors(Some(&account.id))?;
                out.account_detail(&account, &connectors)
            }
            AccountsCmd::Delete { account_id } => {
                let runner = engine()?;
                let engine = &runner.engine;
                let reports = runner.run(engine.delete_account(&account_id))?;
                out.account_deleted(&account_id, &reports)
            }
            AccountsCmd::Users { account_id } => out.users(&desk.list_account_users(&account_id)?),
            AccountsCmd::AddUser {
                account_id,
                username,
            } => out.users(&[desk.ensure_account_user(&account_id, &username)?]),
        },
        Command::Connectors(cmd) => match cmd {
            ConnectorsCmd::List => out.connectors(&desk.list_connectors()?),
            ConnectorsCmd::Show { connector } => out.connector(&desk.get_connector(&connector)?),
            ConnectorsCmd::Add { file, replace } => {
                out.connector(&desk.add_connector_file(&file, replace)?)
            }
            ConnectorsCmd::Remove { connector } => {
                desk.remove_connector(&connector)?;
                out.done(&format!("removed connector {connector}"))
            }
            ConnectorsCmd::SetClient {
                connector,
                client_id,
                secret,
            } => {
                let secret = match (
                    secret.client_secret_stdin,
                    secret.client_secret_file,
                    secret.public,
                ) {
                    (true, _, _) => Some(read_secret_stdin("ClientSecret")?),
                    (_, Some(f), _) => Some(read_secret_file("ClientSecret", &f)?),
                    _ => None,
                };
                out.connector(&desk.set_connector_client(
                    &connector,
                    &client_id,
                    secret.as_ref(),
                )?)
            }
            ConnectorsCmd::ClearClient { connector } => {
                out.connector(&desk.clear_connector_client(&connector)?)
            }
        },
        Command::AccountConnectors(cmd) => match cmd {
            AccountConnectorsCmd::Install {
                account_id,
                connector,
                name,
                description,
                properties,
                properties_file,
                auth_value_stdin,
                auth_value_file,
            } => {
                let library = desk.get_connector(&connector)?;
                let mut inputs = Vec::new();
                for p in &properties {
                    let (n, v) = p
                        .split_once('=')
                        .with_context(|| format!("--property {p:?} must be NAME=VALUE"))?;
                    if library.definition.is_secret_property(n) {
                        bail!(
                            "`{n}` is a secret: do not put it on the command line (shell history, \
                             process list); use --properties-file, or after installing \
                             `authdesk account-connectors set-property ID {n} --value-stdin`"
                        );
                    }
                    inputs.push(PropertyInput {
                        name: n.to_string(),
                        value: Secret::new(v),
                    });
                }
                if let Some(f) = &properties_file {
                    inputs.extend(read_properties_file(f)?);
                }
                let auth_value = match (auth_value_stdin, auth_value_file) {
                    (true, _) => Some(read_secret_stdin("AuthValue")?),
                    (_, Some(f)) => Some(read_secret_file("AuthValue", &f)?),
                    _ => None,
                };
                let req = InstallRequest {
                    name,
                    description,
                    auth_value,
                    properties: inputs,
                };
                out.account_connector(&desk.install(&account_id, &library.id.to_string(), req)?)
            }
            AccountConnectorsCmd::List { account } => {
                out.account_connectors(&desk.list_account_connectors(account.as_deref())?)
            }
            AccountConnectorsCmd::Show {
                account_connector_id,
            } => out.account_connector(&desk.get_account_connector(account_connector_id)?),
            AccountConnectorsCmd::SetProperty {
                account_connector_id,
                name,
                value,
                value_stdin,
                value_file,
            } => {
                let (_, def) = desk.account_connector_with_definition(account_connector_id)?;
                let value = match (value, value_stdin, value_file) {
                    (Some(v), _, _) => {
                        if def.is_secret_property(&name) {
                            bail!(
                                "`{name}` is a secret: do not put it on the command line (shell \
                                 history, process list); pass it with --value-stdin or --value-file"
                            );
                        }
                        Secret::new(v)
                    }
                    (None, true, _) => read_secret_stdin(&name)?,
                    (None, false, Some(f)) => read_secret_file(&name, &f)?,
                    (None, false, None) => bail!("give a VALUE, --value-stdin or --value-file"),
                };
                out.account_connector(&desk.set_property(account_connector_id, &name, &value)?)
            }
            AccountConnectorsCmd::RemoveProperty {
                account_connector_id,
                name,
            } => out.account_connector(&desk.remove_property(account_connector_id, &name)?),
            AccountConnectorsCmd::SetAuthvalue {
                account_connector_id,
                input,
            } => {
                let raw = match input.file {
                    Some(f) => read_secret_file("AuthValue", &f)?,
                    None => read_secret_stdin("AuthValue")?,
                };
                out.account_connector(&desk.set_auth_value(account_connector_id, &raw)?)
            }
            AccountConnectorsCmd::SetSignIn {
                account_connector_id,
                mode,
            } => {
                let mode = match mode {
                    SignInChoice::Webview => Some(SignInMode::Webview),
                    SignInChoice::SystemBrowser => Some(SignInMode::SystemBrowser),
                    SignInChoice::Default => None,
                };
                out.account_connector(&desk.set_sign_in_mode(account_connector_id, mode)?)
            }
            AccountConnectorsCmd::Disconnect {
                account_connector_id,
            } => {
                let runner = engine()?;
                let engine = &runner.engine;
                let report = runner.run(engine.disconnect(account_connector_id))?;
                out.revocation(
                    &report,
                    &format!("disconnected account connector {account_connector_id}"),
                )
            }
            AccountConnectorsCmd::Delete {
                account_connector_id,
            } => {
                let runner = engine()?;
                let engine = &runner.engine;
                let report = runner.run(engine.delete_account_connector(account_connector_id))?;
                out.revocation(
                    &report,
                    &format!("deleted account connector {account_connector_id}"),
                )
            }
        },
    };
    done.map(|()| outcome)
}

/// The engine with its runtime, for commands that talk to providers.
struct Runner {
    engine: Engine,
    rt: tokio::runtime::Runtime,
}

impl Runner {
    /// Runs `fut`; on Ctrl-C, stops it but first lets a refresh in flight commit what the
    /// provider answered (a rotated refresh token must not be lost), then fails.
    fn run<T, E: Into<anyhow::Error>>(
        &self,
        fut: impl std::future::Future<Output = std::result::Result<T, E>>,
    ) -> Result<T> {
        self.rt.block_on(async {
            tokio::select! {
                r = fut => r.map_err(Into::into),
                _ = tokio::signal::ctrl_c() => {
                    eprintln!("authdesk: interrupted; letting a refresh in flight finish...");
                    self.engine.settle(std::time::Duration::from_secs(30)).await;
                    bail!("interrupted")
                }
            }
        })
    }
}

/// Reads a secret from stdin, dropping one trailing newline.
fn read_secret_stdin(what: &str) -> Result<Secret> {
    let mut s = String::new();
    std::io::stdin()
        .read_to_string(&mut s)
        .with_context(|| format!("cannot read {what} from standard input"))?;
    finish_secret(what, s)
}

fn read_secret_file(what: &str, path: &Path) -> Result<Secret> {
    let s = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read {what} from {}", path.display()))?;
    finish_secret(what, s)
}

fn finish_secret(what: &str, mut s: String) -> Result<Secret> {
    if s.ends_with('\n') {
        s.pop();
        if s.ends_with('\r') {
            s.pop();
        }
    }
    let secret = Secret::new(s);
    if secret.is_empty() {
        bail!("{what} is empty: nothing was read (pipe the value in, or name a file)");
    }
    Ok(secret)
}

fn read_properties_file(path: &Path) -> Result<Vec<PropertyInput>> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "PascalCase", deny_unknown_fields)]
    struct Prop {
        name: String,
        value: String,
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    // serde_json's type errors can quote values; report only the position.
    let props: Vec<Prop> = serde_json::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "{}: expected [{{\"Name\": \"...\", \"Value\": \"...\"}}] (problem at line {} column {})",
            path.display(),
            e.line(),
            e.column()
        )
    })?;
    Ok(props
        .into_iter()
        .map(|p| PropertyInput {
            name: p.name,
            value: Secret::new(p.value),
        })
        .collect())
}
