//! The OS keychain, one conversation at a time.
//!
//! gnome-keyring (at least 42 to 50) can abort when several Secret Service sessions are
//! opened at once by short-lived clients (upstream gnome-keyring #190/#196: a request whose
//! client record is not there yet trips an assertion, and the whole daemon dies). When it
//! comes back it is locked, so every later read fails until the user unlocks it. `keyring`
//! opens a fresh D-Bus connection and session for every operation (two for a write), and
//! Authdesk runs many threads (the app, `serve`) and many processes (scripts calling the
//! CLI). So every keychain operation of every Authdesk process of this user goes through
//! [`one_at_a_time`]: a lock in this process, then a lock file shared by the user's
//! processes. The file lock is best effort: if it cannot be had within [`FILE_LOCK_WAIT`]
//! (another process waiting on an unlock prompt) or the file cannot be opened, the
//! operation goes ahead with the in-process lock alone, since waiting forever would be worse.
//!
//! Must not: read or write a key itself (the vault does, through the closure), or keep a
//! secret.

use std::fs::{File, OpenOptions};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long an operation waits for another Authdesk process's keychain operation.
const FILE_LOCK_WAIT: Duration = Duration::from_secs(10);

static IN_PROCESS: Mutex<()> = Mutex::new(());

/// Runs `op` (one keychain operation: connect, read or write, disconnect) while no other
/// keychain operation of this user's Authdesk processes runs.
pub(crate) fn one_at_a_time<T>(op: impl FnOnce() -> T) -> T {
    let _here = IN_PROCESS.lock().unwrap_or_else(|p| p.into_inner());
    let _shared = lock_file().and_then(|f| take_within(f, FILE_LOCK_WAIT));
    op()
}

/// `$XDG_RUNTIME_DIR/authdesk-keychain.lock` (per user and per login, on tmpfs), else the
/// per-user cache directory's `keychain.lock`.
fn lock_path() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("authdesk-keychain.lock"));
    }
    let dirs = directories::ProjectDirs::from("", "", "authdesk")?;
    Some(dirs.cache_dir().join("keychain.lock"))
}

fn lock_file() -> Option<File> {
    let path = lock_path()?;
    if let Some(parent) = path.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(&path) {
        Ok(f) => Some(f),
        Err(e) => {
            tracing::debug!(path = %path.display(), error = %e, "keychain lock file not opened; going on without it");
            None
        }
    }
}

/// Takes the file's exclusive lock, polling until `wait` has passed. The lock is released
/// when the returned file is dropped (or the process ends).
fn take_within(file: File, wait: Duration) -> Option<File> {
    let deadline = Instant::now() + wait;
    let mut pause = Duration::from_millis(1);
    loop {
        match file.try_lock() {
            Ok(()) => return Some(file),
            Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            Err(e) => {
                tracing::debug!(error = %e, "keychain lock file not taken; going on without it");
                return None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_makes_others_wait_then_lets_them_go_ahead() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.lock");
        let open = || {
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .unwrap()
        };
        let held = take_within(open(), Duration::ZERO).expect("a free lock is taken");
        let t = Instant::now();
        assert!(take_within(open(), Duration::from_millis(200)).is_none());
        assert!(t.elapsed() >= Duration::from_millis(200));
        drop(held);
        assert!(take_within(open(), Duration::ZERO).is_some());
    }
}
