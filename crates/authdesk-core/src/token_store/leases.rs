//! Refresh leases: at most one refresh per credential in flight across processes and
//! replicas (the in-process gate covers the tasks of one process).
//!
//! Invariants:
//! - A lease is taken only if the credential is still at the version its taker read, in
//!   one write transaction with that read (on PostgreSQL, holding the credential's row:
//!   `FOR UPDATE`, outside the writers' lock; leases are read by no cache, so taking one
//!   bumps no change marker).
//! - Expiry is judged by the database's clock (PostgreSQL's `clock_timestamp()`; for
//!   SQLite, on one machine, the system clock), never by a replica's own, so a replica
//!   whose clock is behind cannot think a live lease has expired.
//! - A holder renews its lease while its refresh is in flight ([`Authdesk::renew_lease`]),
//!   so a slow provider or a commit that waits on the database does not hand the lease to
//!   another replica midway.
//! - A holder is taken over before its lease expires only when it is provably dead: the
//!   same running system (boot id), the same PID namespace (`/proc/self/ns/pid`), a `/proc`
//!   that shows every process (no `hidepid`), and no `/proc/<pid>`. Anything it cannot
//!   check (another machine, another container, an older holder string) holds its lease
//!   until it expires.
//!
//! Must not: refresh or talk to a provider (the engine's `refresh` holds the lease), or
//! write while only waiting for another holder (`lease_may_be_free` reads).

use chrono::{DateTime, Duration, Utc};

use super::LeaseOutcome;
use crate::desk::{parse_ts, ts, Authdesk};
use crate::error::Result;
use crate::store::{args, Db};

impl Authdesk {
    /// Takes the refresh lease of `id` for `holder` unless a live holder has it, and only
    /// if the credential is still at `expected_version`: read and lease in one transaction,
    /// so nobody refreshes with a refresh token someone else has just replaced.
    pub fn try_acquire_lease(
        &self,
        id: i64,
        holder: &str,
        ttl: Duration,
        expected_version: i64,
    ) -> Result<LeaseOutcome> {
        // On PostgreSQL the credential's row is what serialises its takers (FOR UPDATE):
        // takers of other credentials, and the other writers, go on beside them.
        self.store()?.write_rows(|tx| {
            let version: i64 = tx.query_row(
                if tx.is_postgres() {
                    "SELECT credential_version FROM account_connectors WHERE id = ?1 FOR UPDATE"
                } else {
                    "SELECT credential_version FROM account_connectors WHERE id = ?1"
                },
                args![id],
                |r| r.get(0),
            )?;
            if version != expected_version {
                return Ok(LeaseOutcome::Changed);
            }
            let now = lease_clock(tx)?;
            let current: Option<(String, String)> = tx.query_opt(
                "SELECT holder, expires_at FROM refresh_leases WHERE account_connector_id = ?1",
                args![id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            if let Some((other, expires)) = current {
                let live = parse_ts(expires) > now && holder_process_alive(&other);
                if live && other != holder {
                    return Ok(LeaseOutcome::HeldByOther);
                }
            }
            tx.execute(
                "INSERT INTO refresh_leases(account_connector_id, holder, expires_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT(account_connector_id) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at",
                args![id, holder, ts(now + ttl)],
            )?;
            Ok(LeaseOutcome::Acquired)
        })
    }

    /// Extends `holder`'s lease of `id` by `ttl` from now (the database's now). `false`
    /// when it no longer holds it (released, or taken over after it expired).
    pub fn renew_lease(&self, id: i64, holder: &str, ttl: Duration) -> Result<bool> {
        // One row, its holder re-checked by the UPDATE itself.
        self.store()?.write_rows(|tx| {
            let until = lease_clock(tx)? + ttl;
            let n = tx.execute(
                "UPDATE refresh_leases SET expires_at = ?3 WHERE account_connector_id = ?1 AND holder = ?2",
                args![id, holder, ts(until)],
            )?;
            Ok(n == 1)
        })
    }

    pub fn release_lease(&self, id: i64, holder: &str) -> Result<()> {
        self.store()?
            .write_rows(|tx| release_lease_in(tx, id, holder))
    }

    /// Read only (no write transaction, nothing committed): whether it is worth trying to
    /// take the lease of `id` again, for a caller that found it held by another: it is free
    /// (no holder, expired by the database's clock, or its holder provably dead) or the
    /// credential is no longer at `version` (someone refreshed: read it again).
    pub fn lease_may_be_free(&self, id: i64, version: i64) -> Result<bool> {
        let store = self.store()?;
        let db = store.conn();
        let now_version: Option<i64> = db.query_opt(
            "SELECT credential_version FROM account_connectors WHERE id = ?1",
            args![id],
            |r| r.get(0),
        )?;
        if now_version != Some(version) {
            return Ok(true);
        }
        let now = lease_clock(&db)?;
        let current: Option<(String, String)> = db.query_opt(
            "SELECT holder, expires_at FROM refresh_leases WHERE account_connector_id = ?1",
            args![id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(current.is_none_or(|(holder, expires)| {
            parse_ts(expires) <= now || !holder_process_alive(&holder)
        }))
    }

    /// Who holds the lease of `id` now, if anyone (expired or not).
    pub fn lease_holder(&self, id: i64) -> Result<Option<String>> {
        self.store()?.conn().query_opt(
            "SELECT holder FROM refresh_leases WHERE account_connector_id = ?1",
            args![id],
            |r| r.get(0),
        )
    }
}

pub(super) fn release_lease_in(tx: &Db<'_>, id: i64, holder: &str) -> Result<()> {
    tx.execute(
        "DELETE FROM refresh_leases WHERE account_connector_id = ?1 AND holder = ?2",
        args![id, holder],
    )?;
    Ok(())
}

/// The clock leases are judged by: the database's.
fn lease_clock(tx: &Db<'_>) -> Result<DateTime<Utc>> {
    if tx.is_postgres() {
        let now: String = tx.query_row(
            "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')",
            args![],
            |r| r.get(0),
        )?;
        Ok(parse_ts(now))
    } else {
        Ok(Utc::now())
    }
}

/// A lease holder names its process, the running system and the PID namespace it is in
/// (`pid:<pid>@<boot id>~<pid namespace>:<uuid>`): see the module's invariants.
pub(crate) fn holder_process_alive(holder: &str) -> bool {
    let Some(rest) = holder.strip_prefix("pid:") else {
        return true;
    };
    let process = rest.split(':').next().unwrap_or("");
    let Some((pid, place)) = process.split_once('@') else {
        // Holders written before boot ids were recorded: nothing to check them by.
        return true;
    };
    let Some(here) = this_place() else {
        return true;
    };
    if place != here || !proc_shows_everything() {
        return true;
    }
    match pid.parse::<u32>() {
        Ok(pid) if pid != std::process::id() => {
            std::path::Path::new(&format!("/proc/{pid}")).exists()
        }
        _ => true,
    }
}

/// This running system and PID namespace (`<boot id>~<namespace inode>`), when both can
/// be read (Linux).
fn this_place() -> Option<&'static str> {
    static PLACE: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    PLACE
        .get_or_init(|| {
            let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
            let boot = boot.trim().replace([':', '~', '@'], "");
            let ns = std::fs::read_link("/proc/self/ns/pid").ok()?;
            // "pid:[4026531836]"
            let ns = ns.to_string_lossy();
            let inode = ns.trim_start_matches("pid:[").trim_end_matches(']');
            (!boot.is_empty() && !inode.is_empty() && inode.bytes().all(|b| b.is_ascii_digit()))
                .then(|| format!("{boot}~{inode}"))
        })
        .as_deref()
}

/// Whether `/proc` is mounted without `hidepid` (or `subset=pid`), so a missing
/// `/proc/<pid>` means the process is gone rather than hidden.
fn proc_shows_everything() -> bool {
    static SHOWS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *SHOWS.get_or_init(|| {
        std::fs::read_to_string("/proc/self/mountinfo").is_ok_and(|info| proc_mount_unhidden(&info))
    })
}

/// Reads `/proc/self/mountinfo`: the mount at `/proc` is a proc file system with no option
/// that hides processes.
fn proc_mount_unhidden(mountinfo: &str) -> bool {
    let Some(line) = mountinfo
        .lines()
        .filter(|l| l.split(' ').nth(4) == Some("/proc"))
        .last()
    else {
        return false;
    };
    let Some((_, after)) = line.split_once(" - ") else {
        return false;
    };
    let mut fields = after.split(' ');
    if fields.next() != Some("proc") {
        return false;
    }
    let options = fields.nth(1).unwrap_or("");
    !options.split(',').any(|o| {
        (o.starts_with("hidepid=") && !matches!(o, "hidepid=0" | "hidepid=off"))
            || o.starts_with("subset=")
    })
}

/// A lease holder name for this process.
pub fn new_lease_holder() -> String {
    let place = this_place()
        .map(str::to_string)
        .unwrap_or_else(|| format!("{}~unknown", uuid::Uuid::new_v4().simple()));
    format!(
        "pid:{}@{place}:{}",
        std::process::id(),
        uuid::Uuid::new_v4()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dead_process_does_not_hold_a_lease() {
        assert!(holder_process_alive(&new_lease_holder()));
        let here = this_place().expect("Linux");
        // Shown only when /proc hides nothing (as on these machines).
        if proc_shows_everything() {
            assert!(
                !holder_process_alive(&format!("pid:4000000000@{here}:x")),
                "a dead process on this system, in this PID namespace"
            );
        }
        // Nothing to check them by: only the lease's expiry can end them.
        assert!(holder_process_alive("pid:4000000000:x"));
        assert!(holder_process_alive(&format!(
            "pid:4000000000@{}:x",
            here.split('~').next().unwrap()
        )));
        assert!(holder_process_alive(
            "pid:4000000000@another-machine~4026531836:x"
        ));
        assert!(holder_process_alive("someone-else"));
    }

    /// Two replicas in separate PID namespaces on one machine (two containers): the same
    /// boot id, another namespace. A PID that does not exist here may be alive there.
    #[test]
    fn a_holder_in_another_pid_namespace_is_not_judged_from_here() {
        let here = this_place().expect("Linux");
        let boot = here.split('~').next().unwrap();
        let forged = format!("pid:4000000000@{boot}~1:replica-b");
        assert!(holder_process_alive(&forged));
    }

    #[test]
    fn a_proc_that_hides_processes_proves_nothing() {
        let plain = "22 1 0:20 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw\n";
        assert!(proc_mount_unhidden(plain));
        for hidden in [
            "rw,hidepid=2",
            "rw,hidepid=invisible",
            "rw,subset=pid",
            "rw,hidepid=1,gid=5",
        ] {
            let line = format!("22 1 0:20 / /proc rw,nosuid shared:12 - proc proc {hidden}\n");
            assert!(!proc_mount_unhidden(&line), "{hidden}");
        }
        assert!(proc_mount_unhidden(
            "22 1 0:20 / /proc rw shared:12 - proc proc rw,hidepid=0\n"
        ));
        assert!(!proc_mount_unhidden(
            "22 1 0:20 / /sys rw - sysfs sysfs rw\n"
        ));
    }
}
