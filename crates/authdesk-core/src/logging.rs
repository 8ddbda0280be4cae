//! Logging set-up shared by the shells: `AUTHDESK_LOG` (an `EnvFilter`, default `warn`) to
//! stderr, without colour codes unless stderr is a terminal. Nothing in the core logs a
//! secret: secrets are `Secret`, whose `Debug` is `[redacted]`.
//!
//! Must not: be called by the core (only the shells set logging up), or log anything itself.

pub fn init() {
    init_with_default("warn")
}

/// [`init`] with another default level: a one-shot CLI command reports its outcome itself
/// (one line on stderr), so it logs only errors unless `AUTHDESK_LOG` says otherwise.
pub fn init_with_default(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("AUTHDESK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}
