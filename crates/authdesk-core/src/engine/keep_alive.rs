//! The keep-alive: refreshes credentials that expire soon and exercises refresh tokens that
//! sat idle, reading only the due rows, so replicas running it together refresh each
//! credential once.
//!
//! Must not: refresh other than through `refresh` (single flight, versioned commit).

use super::*;

/// What the keep-alive did for one credential.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeepAliveOutcome {
    pub account_connector_id: i64,
    pub reason: &'static str,
    pub result: std::result::Result<(), String>,
}

/// How long before its expiry the keep-alive refreshes a token: the refresh margin plus
/// five minutes (a pass may be that far away), but at most half the token's lifetime, so a
/// short-lived token is used for half its life rather than refreshed on every pass.
pub(super) fn keep_alive_window(config: &EngineConfig, lifetime: Option<Duration>) -> Duration {
    let window = config.refresh_margin + Duration::minutes(5);
    match lifetime {
        Some(l) if l > Duration::zero() => window.min(l / 2),
        _ => window,
    }
}

impl Engine {
    /// Refreshes credentials that expire soon and exercises idle refresh tokens.
    pub async fn keep_alive_once(&self) -> Result<Vec<KeepAliveOutcome>> {
        let now = self.desk.now();
        // The widest window (a long-lived token's); each credential's own is narrower when
        // its token lives shorter (see `keep_alive_window`).
        let soon = now + keep_alive_window(&self.config, None);
        let idle_before = now - self.config.idle_refresh_after;
        let mut outcomes = vec![];
        for (id, expires, last) in self
            .db(move |desk| desk.oauth_credentials_to_watch(soon, idle_before))
            .await?
        {
            let reason = if expires.is_some_and(|e| e <= soon) {
                "expires soon"
            } else if last.is_none_or(|l| l + self.config.idle_refresh_after <= now) {
                "idle refresh token"
            } else {
                continue;
            };
            let result = match self.refresh_if_still_due(id, now, idle_before).await {
                Ok(false) => continue, // another replica or process got there first
                Ok(true) => Ok(()),
                Err(e) => Err(e.to_string()),
            };
            outcomes.push(KeepAliveOutcome {
                account_connector_id: id,
                reason,
                result,
            });
        }
        Ok(outcomes)
    }

    /// Runs [`Engine::keep_alive_once`] every `every`, logging what fails. For servers and
    /// the desktop app (spawn it on the runtime).
    pub async fn keep_alive_forever(&self, every: std::time::Duration) {
        loop {
            tokio::time::sleep(every).await;
            match self.keep_alive_once().await {
                Ok(done) => {
                    for o in &done {
                        match &o.result {
                            Ok(()) => tracing::info!(
                                account_connector = o.account_connector_id,
                                reason = o.reason,
                                "keep-alive refreshed"
                            ),
                            Err(e) => tracing::warn!(
                                account_connector = o.account_connector_id,
                                reason = o.reason,
                                "keep-alive failed: {e}"
                            ),
                        }
                    }
                }
                Err(e) => tracing::warn!("keep-alive could not run: {e}"),
            }
        }
    }
}
