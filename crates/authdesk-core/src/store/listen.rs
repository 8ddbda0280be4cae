//! The change marker on PostgreSQL without a query: a connection of its own `LISTEN`s on
//! `authdesk_changes`, which every counted commit `NOTIFY`s (in the same transaction, so
//! the notice is sent when, and only if, it commits). Each notice received bumps a counter;
//! this process's own commits bump another as they return, so a replica always sees its
//! own writes at once, and another replica's once its notice arrives (well under a
//! millisecond on one network). When the connection is down the marker is unknown and the
//! callers read the `changes` counter instead, as before; each reconnection counts as a
//! change (notices may have been missed meanwhile).
//!
//! Started on the first read of the marker, so a one-shot command never opens it.
//!
//! Must not: say "nothing changed" while not listening.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use postgres::fallible_iterator::FallibleIterator;

use super::sql::PgTarget;
use super::{ChangeMarker, PgManager};

/// The channel every counted commit notifies.
pub(super) const CHANNEL: &str = "authdesk_changes";

/// Marks a listener's markers apart from the `changes` counter's, so the two never compare
/// equal.
const LISTENED: u64 = 1 << 63;

/// The change marker of one process's pool: the commits made through it, and the notices
/// of everyone's.
pub(crate) struct PoolMarker {
    url: String,
    commits: Arc<AtomicU64>,
    /// What this pool's notices carry.
    own: String,
    listener: OnceLock<ChangeListener>,
    /// Whether a caller has already given the listener its time to connect.
    waited: AtomicBool,
}

impl PoolMarker {
    pub(crate) fn new(url: &str) -> PoolMarker {
        PoolMarker {
            url: url.to_string(),
            commits: Default::default(),
            own: uuid::Uuid::new_v4().simple().to_string(),
            listener: OnceLock::new(),
            waited: AtomicBool::new(false),
        }
    }

    /// What makes the pool's connections: each counts its commits here and names this pool
    /// in its notices.
    pub(crate) fn manager(&self) -> PgManager {
        PgManager {
            url: self.url.clone(),
            commits: self.commits.clone(),
            notify_as: self.own.clone(),
        }
    }

    /// The marker without a query, or `None` while the listener is not (yet) listening.
    pub(crate) fn marker(&self) -> Option<ChangeMarker> {
        let commits = self.commits.load(Ordering::Acquire);
        self.listener
            .get_or_init(|| ChangeListener::start(&self.url, self.own.clone()))
            .marker(commits)
    }

    /// [`PoolMarker::marker`] for a caller that may wait: the first read gives the listener
    /// up to two seconds to connect, so the markers a caller compares come from one source.
    pub(crate) fn marker_waiting(&self) -> Option<ChangeMarker> {
        if let Some(m) = self.marker() {
            return Some(m);
        }
        if self.waited.load(Ordering::Acquire) {
            return None;
        }
        let until = Instant::now() + Duration::from_secs(2);
        while Instant::now() < until {
            std::thread::sleep(Duration::from_millis(5));
            if let Some(m) = self.marker() {
                return Some(m);
            }
        }
        // It could not connect in time: from now on the counter is read without waiting.
        self.waited.store(true, Ordering::Release);
        None
    }
}

struct ChangeListener {
    state: Arc<State>,
}

#[derive(Default)]
struct State {
    /// Notices received, and one more per (re)connection.
    seen: AtomicU64,
    listening: AtomicBool,
    stop: AtomicBool,
}

impl ChangeListener {
    /// Starts listening on a thread of its own, connecting as `url` says (TLS included).
    /// `own`: what the notices of this pool's own commits carry (skipped: they are counted
    /// as they return).
    fn start(url: &str, own: String) -> ChangeListener {
        let state = Arc::new(State::default());
        let target = PgTarget::parse(url);
        let shared = state.clone();
        let spawned = std::thread::Builder::new()
            .name("authdesk-listen".into())
            .spawn(move || match target {
                Ok(target) => listen(&target, &shared, &own),
                Err(e) => tracing::warn!("not listening for changes: {e}"),
            });
        if let Err(e) = spawned {
            tracing::warn!("not listening for changes: {e}");
        }
        ChangeListener { state }
    }

    /// The marker, or `None` while not listening. `own_commits`: this process's commits.
    fn marker(&self, own_commits: u64) -> Option<ChangeMarker> {
        // Read before `seen`: a connection lost after this read still bumps `seen`.
        if !self.state.listening.load(Ordering::Acquire) {
            return None;
        }
        Some(ChangeMarker {
            data_version: self.state.seen.load(Ordering::Acquire) as i64,
            writes: own_commits | LISTENED,
        })
    }
}

impl Drop for ChangeListener {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::Release);
    }
}

fn listen(target: &PgTarget, state: &State, own: &str) {
    while !state.stop.load(Ordering::Acquire) {
        let mut client = match target.connect() {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!("listening for changes: cannot connect: {e}");
                std::thread::sleep(Duration::from_secs(1));
                continue;
            }
        };
        if let Err(e) = client.batch_execute(&format!("LISTEN {CHANNEL}")) {
            tracing::debug!("listening for changes: {e}");
            std::thread::sleep(Duration::from_secs(1));
            continue;
        }
        // Whatever was committed before LISTEN took effect is a change to whoever held an
        // older marker.
        state.seen.fetch_add(1, Ordering::AcqRel);
        state.listening.store(true, Ordering::Release);
        'connected: while !state.stop.load(Ordering::Acquire) {
            {
                let mut notices = client.notifications();
                let mut waiting = notices.timeout_iter(Duration::from_millis(500));
                loop {
                    match waiting.next() {
                        Ok(Some(notice)) => {
                            if notice.payload() != own {
                                state.seen.fetch_add(1, Ordering::AcqRel);
                            }
                        }
                        // Quiet for a while: look at `stop`, then wait again.
                        Ok(None) => break,
                        Err(e) => {
                            tracing::warn!("listening for changes: connection lost: {e}");
                            break 'connected;
                        }
                    }
                }
            }
            if client.is_closed() {
                break;
            }
        }
        state.listening.store(false, Ordering::Release);
        state.seen.fetch_add(1, Ordering::AcqRel);
    }
}
