//! One module per group of commands; each handler parses nothing (clap did), calls the
//! core or the engine, and prints through [`Out`].
//!
//! Must not: hold a command's logic (its group's module does), or end on Ctrl-C or SIGTERM
//! with a refresh in flight uncommitted (`Runner::run` lets `Engine::settle` finish it).

pub mod account_connectors;
pub mod accounts;
pub mod connectors;
pub mod handover;
pub mod links;
pub mod local_api;
pub mod mcp;
pub mod oauth;
mod qr;
pub mod webhooks;

use std::sync::Arc;

use anyhow::Result;
use authdesk_core::{Authdesk, Engine, EngineConfig};

use crate::output::Out;

/// What every command gets: the data directory's core and the printer.
pub struct Ctx {
    pub desk: Arc<Authdesk>,
    pub out: Out,
}

impl Ctx {
    /// The engine with a runtime, for commands that talk to providers.
    pub fn runner(&self) -> Result<Runner> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        Ok(Runner {
            engine: Engine::new(self.desk.clone(), EngineConfig::default())?,
            rt,
        })
    }
}

/// How a command ended when it did not fail itself.
pub enum Outcome {
    Done,
    /// `call`: the third party answered HTTP >= 400 (its answer was printed).
    ThirdPartyFailed,
}

/// Ctrl-C or SIGTERM ended the command (exit status 130).
#[derive(Debug)]
pub struct Interrupted;

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("interrupted")
    }
}

impl std::error::Error for Interrupted {}

/// The engine with its runtime.
pub struct Runner {
    pub engine: Engine,
    pub rt: tokio::runtime::Runtime,
}

impl Runner {
    /// Runs `fut`; on Ctrl-C or SIGTERM, stops it but first lets a refresh in flight commit
    /// what the provider answered (a rotated refresh token must not be lost), then fails.
    pub fn run<T, E: Into<anyhow::Error>>(
        &self,
        fut: impl std::future::Future<Output = std::result::Result<T, E>>,
    ) -> Result<T> {
        self.rt.block_on(async {
            tokio::select! {
                r = fut => r.map_err(Into::into),
                _ = stop_requested() => {
                    // A refresh in flight commits what the provider answered before we go.
                    self.engine.settle(std::time::Duration::from_secs(30)).await;
                    Err(Interrupted.into())
                }
            }
        })
    }
}

/// Resolves when the process is asked to stop: Ctrl-C (SIGINT) or, on Unix, SIGTERM (what
/// systemd, Docker and Kubernetes send to stop a service). Answers the signal's name.
///
/// On Unix the handlers are installed when this is called, not when the future is first
/// polled: a server calls it before it says it is listening, so a SIGTERM sent as soon as
/// it says so is a clean stop, never the default action (killed, nothing settled). Must be
/// called inside the runtime.
pub fn stop_requested() -> impl std::future::Future<Output = &'static str> {
    #[cfg(unix)]
    let handlers = {
        use tokio::signal::unix::{signal, SignalKind};
        signal(SignalKind::interrupt())
            .ok()
            .zip(signal(SignalKind::terminate()).ok())
    };
    async move {
        #[cfg(unix)]
        if let Some((mut interrupt, mut terminate)) = handlers {
            return tokio::select! {
                _ = interrupt.recv() => "Ctrl-C",
                _ = terminate.recv() => "SIGTERM",
            };
        }
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}
