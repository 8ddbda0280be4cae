//! The command line's grammar (clap): every command, argument and help text. Handlers are
//! in `commands/`.
//!
//! Must not: run anything (the handlers in `commands/` do), or give a secret an argument of
//! its own: AuthValues, ClientSecrets and secret properties come by --stdin or a file (a
//! secret property given as VALUE is refused by its handler; a database URL's password is
//! better in its environment variable, whose value clap never shows).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "authdesk",
    version,
    about = "Set up and keep alive connector authentication, on your desktop."
)]
pub struct Cli {
    /// Data directory (default: the OS's per-user data directory, e.g. ~/.local/share/authdesk).
    #[arg(long, global = true, env = "AUTHDESK_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// A PostgreSQL database to use instead of the data directory's SQLite file
    /// (postgres://user:pass@host:port/db): the team server's store.
    #[arg(
        long,
        global = true,
        env = "AUTHDESK_DATABASE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub database: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
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
        /// Device sign-in (RFC 8628; the default for a `device_code` connector): prints the
        /// verification URI and user code (a QR code on a terminal) and waits while the user
        /// approves on any device. With --json: one line with VerificationUri, UserCode,
        /// VerificationUriComplete and ExpiresIn, then the result on a second line.
        #[arg(long)]
        device: bool,
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
    /// Send any request on an account connector with its auth applied: a path under its
    /// API base URL or a full URL on one of its origins (nowhere else). Prints the answer
    /// like `call`; exits 22 when the third party answered HTTP 400 or more, unless
    /// --no-fail.
    Request {
        account_connector_id: i64,
        /// GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS.
        method: String,
        /// A path such as `/users?page=2`, or a full URL on the connector's origins.
        target: String,
        /// A header, "Name: value" (repeatable). The auth's own header is refused.
        #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
        headers: Vec<String>,
        /// The body, as it is (say its type with -H 'Content-Type: ...').
        #[arg(long, value_name = "TEXT", conflicts_with = "data_stdin")]
        data: Option<String>,
        /// Read the body from stdin.
        #[arg(long)]
        data_stdin: bool,
        /// Exit 0 whatever the third party answered.
        #[arg(long)]
        no_fail: bool,
    },
    /// Refresh an OAuth2 credential now.
    Refresh { account_connector_id: i64 },
    /// Check the credential with the connector's `[check]` request: {"Valid", "Status",
    /// "CheckedAt"}; exits 22 when it is not valid.
    Check { account_connector_id: i64 },
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
        /// Address to listen on: 127.0.0.1 or ::1, or any address with --public-url.
        #[arg(long, default_value = authdesk_api::DEFAULT_LISTEN)]
        listen: std::net::SocketAddr,
        /// The base URL users' browsers and providers reach this server at (a team server
        /// behind a load balancer or reverse proxy), e.g. https://authdesk.example.com. The
        /// server then answers only to that host, and the redirect URI to register is
        /// <public-url>/connector/callback.
        #[arg(long, value_name = "URL")]
        public_url: Option<String>,
        /// Seconds between keep-alive passes (each refreshes what expires soon or sat idle;
        /// every replica runs them, and each credential is refreshed by one).
        #[arg(long, default_value_t = 60, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
        keep_alive_every: u64,
        /// MCP tools (at /mcp) that change data and may run without asking: a name, or a
        /// pattern with `*` (repeatable). Without a window to ask in, others are refused.
        #[arg(long = "mcp-allow", value_name = "PATTERN")]
        mcp_allow: Vec<String>,
    },
    /// API clients: OAuth client credentials for partner code (`POST /oauth/token`, as
    /// Cyclr documents).
    #[command(subcommand, name = "api-clients")]
    ApiClients(ApiClientsCmd),
    /// Copy this data directory (SQLite) into an empty PostgreSQL database for a team
    /// server, in one transaction: accounts, library, account connectors, secrets (re-sealed
    /// under the server's data key), history, settings, API clients.
    Migrate {
        /// The PostgreSQL database to fill (postgres://user:pass@host:port/db); it must hold
        /// no Authdesk data yet. Better given as AUTHDESK_MIGRATE_TO_URL: a password on the
        /// command line shows in the process list.
        #[arg(
            long,
            env = "AUTHDESK_MIGRATE_TO_URL",
            value_name = "URL",
            hide_env_values = true
        )]
        to: Option<String>,
        /// Keep the server's new data key in this file (created, mode 0600; give it to the
        /// server as AUTHDESK_VAULT_KEY_FILE or as the systemd credential authdesk-vault-key).
        /// Without it the key goes into this machine's OS keychain.
        #[arg(long, value_name = "PATH")]
        to_key_file: Option<std::path::PathBuf>,
    },
    /// Print the local API key (created on first use), or replace it. (Authdesk's own
    /// addition for scripts; partner code uses API clients.)
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
    /// Signed webhooks on credential events (Standard Webhooks): endpoints, deliveries.
    #[command(subcommand)]
    Webhooks(WebhooksCmd),
    /// Agents and the Model Context Protocol: the tools of an MCP server connector, and
    /// Authdesk itself as an MCP server whose tools are your account connectors' methods.
    #[command(subcommand)]
    Mcp(McpCmd),
    /// Setup links: a single-use link a customer opens to authenticate one account
    /// connector (OAuth sign-in, or a form for an API key, Basic or AuthFields values).
    #[command(subcommand)]
    Links(LinksCmd),
    /// This desk's hand-over identity: senders encrypt bundles to its recipient.
    #[command(subcommand)]
    Identity(IdentityCmd),
    /// Write accounts and their account connectors (secrets, properties, the user connectors
    /// and library OAuth apps they use) to FILE, encrypted with age to RECIPIENT (the line
    /// the receiver's `authdesk identity show` prints). Nothing in the file is readable
    /// without the receiver's identity.
    Export {
        /// The receiver's age X25519 recipient (age1...).
        #[arg(long, value_name = "RECIPIENT")]
        to: String,
        /// An account to export (repeatable; all accounts when none is given).
        #[arg(long = "account", value_name = "ID")]
        accounts: Vec<String>,
        /// The bundle file to write.
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: std::path::PathBuf,
    },
    /// Import a bundle encrypted to this desk's identity: everything is re-sealed under
    /// this desk's key; what is already here is left as it is (importing twice adds
    /// nothing). A damaged or altered file is refused and nothing is written.
    Import { file: std::path::PathBuf },
}

#[derive(Subcommand)]
pub enum WebhooksCmd {
    /// Add an endpoint: {"Id","Url","Secret"}. The `whsec_` secret is shown this once
    /// (sealed in the vault); verify each delivery's webhook-signature with it.
    Add {
        /// https (http only on a loopback host, with --allow-loopback).
        url: String,
        /// Only this account's events.
        #[arg(long, value_name = "ID")]
        account: Option<String>,
        /// The events, comma-separated (all when not given): authenticated, refresh_failed,
        /// recovered, needs_reauthentication, disconnected, deleted (with or without the
        /// `account_connector.` prefix).
        #[arg(long, value_delimiter = ',')]
        events: Vec<String>,
        /// Allow a loopback host (and http on it).
        #[arg(long)]
        allow_loopback: bool,
        /// Allow private and link-local addresses.
        #[arg(long)]
        allow_private: bool,
    },
    /// The endpoints (never their secrets).
    List,
    /// Remove an endpoint, and what it had still to receive.
    Remove { endpoint_id: String },
    /// Delivery attempts, newest first: time, status code or error, next retry.
    Deliveries {
        #[arg(long, value_name = "ID")]
        endpoint: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Deliver what is due now, once (`serve` and the desktop deliver all the time).
    Deliver,
}

#[derive(Subcommand)]
pub enum McpCmd {
    /// The tools of the MCP server behind an account connector: name, description, input
    /// schema (--json: the MCP tool objects).
    Tools { account_connector_id: i64 },
    /// Call a tool of the MCP server behind an account connector (JSON-RPC tools/call over
    /// streamable HTTP, the auth applied). Prints the tool's result; exits 22 when the tool
    /// reports an error.
    Call {
        account_connector_id: i64,
        tool: String,
        /// The tool's arguments, a JSON object.
        #[arg(long, value_name = "JSON", default_value = "{}")]
        args: String,
    },
    /// Speak MCP over stdio for a local agent: one tool per method and account connector
    /// (and the free-form request tool where `mcp request-tool ID on`). Tools that change
    /// data are refused unless an --allow pattern names them (the desktop asks instead).
    Serve {
        /// Only this account's tools (repeatable; all accounts when none is given).
        #[arg(long = "account", value_name = "ID")]
        accounts: Vec<String>,
        /// Tools that change data and may run without asking: a name, or a pattern with
        /// `*` (repeatable), e.g. `hubspot_customer_a__*`.
        #[arg(long = "allow", value_name = "PATTERN")]
        allow: Vec<String>,
    },
    /// Print the configuration snippet an MCP client expects to run `authdesk mcp serve`.
    Config {
        #[arg(long, value_enum)]
        client: McpClientKind,
        /// Passed on to `mcp serve`.
        #[arg(long = "account", value_name = "ID")]
        accounts: Vec<String>,
        /// Passed on to `mcp serve`.
        #[arg(long = "allow", value_name = "PATTERN")]
        allow: Vec<String>,
    },
    /// Give agents an account connector's free-form request tool (limited to its hosts;
    /// anything but GET/HEAD needs approval), or take it away.
    #[command(name = "request-tool")]
    RequestTool {
        account_connector_id: i64,
        #[arg(value_enum)]
        state: OnOff,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum McpClientKind {
    Claude,
    Cursor,
    Vscode,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum OnOff {
    On,
    Off,
}

#[derive(Subcommand)]
pub enum LinksCmd {
    /// Make a link: {"Id","Url","ExpiresAtUtc"}. The URL is on the base of the API last
    /// started on this data directory (`serve --public-url`, or the desktop's local API),
    /// unless --base says another.
    Create {
        account_connector_id: i64,
        /// How long it works: 5m (the default) to 7d (s, m, h, d).
        #[arg(long, default_value = "5m")]
        expires: String,
        /// The base URL customers' browsers reach the API at (https, or loopback http).
        #[arg(long, value_name = "URL")]
        base: Option<String>,
    },
    /// The links (of one account connector, when given): their state, never their tokens.
    List { account_connector_id: Option<i64> },
    /// Withdraw a link (by its Id, or the link's URL): it opens nothing from now on.
    Revoke { link_id: String },
}

#[derive(Subcommand)]
pub enum IdentityCmd {
    /// Print the recipient (age1...) to give to a sender (the identity is made on first use
    /// and kept sealed under the vault's key; it is never shown).
    Show,
}

#[derive(Subcommand)]
pub enum OriginsCmd {
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
pub enum ApiClientsCmd {
    /// Create a client; its ClientSecret is printed once and kept only as a hash.
    Create {
        #[arg(long)]
        name: String,
    },
    List,
    /// Revoke a client: it gets no more tokens and every token it has stops working.
    Revoke {
        client_id: String,
    },
}

#[derive(Subcommand)]
pub enum VaultCmd {
    /// Where the data key lives and whether it opens this data directory's secrets.
    Status,
}

#[derive(Subcommand)]
pub enum AccountsCmd {
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
pub enum ConnectorsCmd {
    /// The library (narrowed by --category and --search).
    List {
        /// crm, accounting, support, ecommerce, marketing, hr, payments, storage,
        /// communication, developer, productivity or other.
        #[arg(long)]
        category: Option<String>,
        /// Part of the name or id (any case).
        #[arg(long)]
        search: Option<String>,
    },
    /// Show a library entry: auth, endpoints, properties and methods.
    Show { connector: String },
    /// Write a connector definition from a provider's OIDC / RFC 8414 metadata (printed as
    /// TOML to edit and `connectors add`, or added at once with --add).
    Discover {
        /// The issuer URL (e.g. https://login.example.com).
        issuer: String,
        /// The new connector's id (default: from the issuer's host).
        #[arg(long)]
        id: Option<String>,
        /// Its display name (default: from the issuer's host).
        #[arg(long)]
        name: Option<String>,
        /// Add it to the library instead of printing it.
        #[arg(long)]
        add: bool,
    },
    /// Make a connector for a remote MCP server (streamable HTTP): finds how to sign in from
    /// its 401 (protected resource metadata, RFC 9728; the authorization server's metadata,
    /// RFC 8414), registers Authdesk there (RFC 7591) unless --client-id is given, and adds
    /// the connector with that client. Install it in an account and `connect` as usual; then
    /// `authdesk mcp tools ID`.
    #[command(name = "add-mcp")]
    AddMcp {
        /// The MCP server's URL, e.g. https://mcp.example.com/mcp.
        url: String,
        /// The connector's display name (default: the server's resource_name, or its host).
        #[arg(long)]
        name: Option<String>,
        /// The connector's id (default: from the URL).
        #[arg(long)]
        id: Option<String>,
        /// A client registered by hand at the authorization server (no dynamic registration).
        #[arg(long, value_name = "X")]
        client_id: Option<String>,
        /// Read that client's ClientSecret from stdin (a public client has none).
        #[arg(long, requires = "client_id")]
        client_secret_stdin: bool,
    },
    /// Add your own connector from a definition file (TOML; see docs/connector-format.md).
    Add {
        file: PathBuf,
        /// Update a user connector with the same id.
        #[arg(long)]
        replace: bool,
    },
    /// Remove a user connector that no account uses.
    Remove { connector: String },
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
    ClearClient { connector: String },
}

#[derive(Args)]
#[group(required = true, multiple = false)]
pub struct ClientSecretArgs {
    /// Read the ClientSecret from standard input.
    #[arg(long)]
    pub client_secret_stdin: bool,
    /// Read the ClientSecret from a file.
    #[arg(long, value_name = "FILE")]
    pub client_secret_file: Option<PathBuf>,
    /// A public client: no ClientSecret.
    #[arg(long)]
    pub public: bool,
    /// For `client_auth = "private_key_jwt"`: the app's private key (PEM: PKCS#8, or PKCS#1
    /// for RSA; RSA, EC P-256 or Ed25519), sealed in the vault. A ClientSecret stays as it was.
    #[arg(long, value_name = "FILE")]
    pub private_key_file: Option<PathBuf>,
    /// For `client_auth = "private_key_jwt"`: make a new EC P-256 key here, sealed in the
    /// vault, and print its public JWK (PublicJwk) to register with the provider.
    #[arg(long)]
    pub generate_key: bool,
}

#[derive(Args)]
#[group(required = true, multiple = false)]
pub struct SecretInput {
    /// Read the value from standard input.
    #[arg(long)]
    pub stdin: bool,
    /// Read the value from a file.
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
}

#[derive(Subcommand)]
pub enum AccountConnectorsCmd {
    /// Install a connector into an account.
    Install {
        account_id: String,
        /// Library connector Id or id (slug).
        connector: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        description: Option<String>,
        /// Which way to authenticate, for connectors that offer several: the id shown by
        /// `connectors show` (or Cyclr's AuthenticationId GUID). Default: the connector's
        /// default.
        #[arg(long, value_name = "ID")]
        authentication: Option<String>,
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
    /// List account connectors, a page at a time (`--all` for every one).
    List {
        /// Only this account's.
        #[arg(long)]
        account: Option<String>,
        /// Only those with this status (authenticated, not-authenticated,
        /// needs-reauthentication, error, expired: an access token that has run out and
        /// cannot be renewed).
        #[arg(long)]
        status: Option<String>,
        /// Only those that need the user: needs re-authentication, error, expired, or an
        /// API key or password the provider refused (the window's "Needs attention").
        #[arg(long)]
        needs_attention: bool,
        /// Only those of this library connector (Id or id).
        #[arg(long)]
        connector: Option<String>,
        /// Only those whose name or connector id contains this text.
        #[arg(long)]
        search: Option<String>,
        /// Only those with an expiry, the soonest first (with --status authenticated:
        /// what the keep-alive will refresh next).
        #[arg(long)]
        expiring: bool,
        /// Page number, from 1.
        #[arg(long, default_value_t = 1)]
        page: u64,
        /// Account connectors per page.
        #[arg(long, default_value_t = 1000)]
        per_page: u64,
        /// Every one that matches, in one list.
        #[arg(long, conflicts_with_all = ["page", "per_page"])]
        all: bool,
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
    /// Switch the way to authenticate (for connectors that offer several); the stored
    /// credential is forgotten.
    SetAuthentication {
        account_connector_id: i64,
        /// The method's id (see `connectors show`) or Cyclr's AuthenticationId GUID.
        authentication: String,
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
pub enum SignInChoice {
    Webview,
    SystemBrowser,
    /// Whatever the connector definition says.
    Default,
}
