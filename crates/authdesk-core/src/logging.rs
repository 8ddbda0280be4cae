//! Logging set-up shared by the shells: `AUTHDESK_LOG` (an `EnvFilter`, default `warn`) to
//! stderr, without colour codes unless stderr is a terminal. Nothing in the core logs a
//! secret: secrets are `Secret`, whose `Debug` is `[redacted]`.

pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("AUTHDESK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}
