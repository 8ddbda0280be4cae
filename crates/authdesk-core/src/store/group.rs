//! Group commit on SQLite: writes that arrive while another is committing wait together, and
//! the next of them to hold the connection writes them all in one transaction, with one
//! `fsync` for all (WAL, `synchronous=FULL`: each commit is on disk when it returns). Each
//! write runs in a savepoint of its own, so one that fails is undone alone; each caller is
//! answered only after the commit that made its write durable, never before.
//!
//! The leader is simply whichever waiting caller takes the connection's lock next (no thread
//! of its own): with one writer the group is one write, as before; with 32 clients issuing
//! sign-in tokens it is many (the figures are in `scripts/bench.sh`'s table).
//!
//! Must not: answer a write before its commit, let one write's failure undo another's, or
//! run a write outside a transaction.

use std::sync::{mpsc, Mutex};

use super::{Db, Store};
use crate::error::{Error, Result};

/// What a write answers once its group's commit is known: its value, or the commit's error.
type Finish = Box<dyn FnOnce(std::result::Result<(), &Error>) + Send>;

/// One queued write: `run` writes (inside the group's transaction) and answers how to finish
/// it, or sends its own error and answers `None`; `fail` answers it when it never ran.
struct Job {
    run: Box<dyn FnOnce(&Db<'_>) -> Option<Finish> + Send>,
    fail: Box<dyn FnOnce(&Error) + Send>,
}

/// The writes waiting for the connection.
#[derive(Default)]
pub(crate) struct GroupQueue(Mutex<Vec<Job>>);

impl GroupQueue {
    /// Writes `f` in a group with whatever else is waiting; answers once it is committed.
    pub(crate) fn write<T: Send + 'static>(
        &self,
        store: &Mutex<Store>,
        f: impl FnOnce(&Db<'_>) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (answer, answered) = mpsc::sync_channel::<Result<T>>(1);
        let failed = answer.clone();
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(Job {
            run: Box::new(move |db| match f(db) {
                Ok(value) => Some(Box::new(move |committed| {
                    let _ = answer.send(committed.map(|()| value).map_err(not_committed));
                })),
                Err(e) => {
                    let _ = answer.send(Err(e));
                    None
                }
            }),
            fail: Box::new(move |e| {
                let _ = failed.send(Err(not_committed(e)));
            }),
        });
        // A panic while holding the lock cannot leave SQLite half-written (the transaction
        // rolls back on drop), so a poisoned lock is safe to reuse.
        let mut store = store.lock().unwrap_or_else(|p| p.into_inner());
        // A leader before us may have written ours already (it answers before it lets go).
        if let Ok(done) = answered.try_recv() {
            return done;
        }
        let jobs = std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()));
        store.write_group(jobs);
        drop(store);
        answered
            .recv()
            .unwrap_or_else(|_| Err(Error::Internal("a grouped write was abandoned".into())))
    }
}

/// The error each write of a group that did not commit is answered with.
fn not_committed(e: &Error) -> Error {
    Error::Internal(format!("the write was not committed: {e}"))
}

impl Store {
    /// Writes `jobs` in one transaction, each in a savepoint; answers every one.
    fn write_group(&mut self, jobs: Vec<Job>) {
        let mut finishes = Vec::with_capacity(jobs.len());
        let mut jobs = jobs.into_iter();
        let outcome = self.write(|db| {
            for job in jobs.by_ref() {
                db.execute_batch("SAVEPOINT grouped")?;
                match (job.run)(db) {
                    Some(finish) => {
                        db.execute_batch("RELEASE grouped")?;
                        finishes.push(finish);
                    }
                    None => db.execute_batch("ROLLBACK TO grouped; RELEASE grouped")?,
                }
            }
            Ok(())
        });
        match outcome {
            Ok(()) => finishes.into_iter().for_each(|f| f(Ok(()))),
            Err(e) => {
                finishes.into_iter().for_each(|f| f(Err(&e)));
                // Those not reached (the transaction failed before them).
                jobs.for_each(|job| (job.fail)(&e));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args;
    use std::sync::Arc;

    /// Many threads at once: every write that succeeded is committed, the one that failed
    /// is undone alone, and the writes went in fewer transactions than there were writes.
    #[test]
    fn a_group_commits_every_write_once_and_undoes_only_the_one_that_failed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Mutex::new(Store::open(dir.path()).unwrap()));
        store
            .lock()
            .unwrap()
            .conn()
            .execute_batch("CREATE TABLE grouped_test(n INTEGER PRIMARY KEY)")
            .unwrap();
        let queue = Arc::new(GroupQueue::default());
        let threads: Vec<_> = (0..64)
            .map(|n: i64| {
                let (store, queue) = (store.clone(), queue.clone());
                std::thread::spawn(move || {
                    queue.write(&store, move |tx| {
                        tx.execute("INSERT INTO grouped_test(n) VALUES (?1)", args![n])?;
                        if n == 13 {
                            // Written, then failed: its savepoint is rolled back.
                            tx.execute("INSERT INTO grouped_test(n) VALUES (?1)", args![n])?;
                        }
                        Ok(n)
                    })
                })
            })
            .collect();
        let answers: Vec<Result<i64>> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        for (n, a) in answers.iter().enumerate() {
            match a {
                Ok(v) => assert_eq!(*v, n as i64),
                Err(e) => assert_eq!(n, 13, "{e}"),
            }
        }
        assert!(answers[13].is_err());
        let held = store.lock().unwrap();
        let rows: Vec<i64> = held
            .conn()
            .query_map("SELECT n FROM grouped_test ORDER BY n", args![], |r| {
                r.get(0)
            })
            .unwrap();
        let want: Vec<i64> = (0..64).filter(|n| *n != 13).collect();
        assert_eq!(rows, want);
        drop(held);

        // Writes that queue while the connection is busy go in one transaction.
        let held = store.lock().unwrap();
        let before = held.writes;
        let threads: Vec<_> = (100..110)
            .map(|n: i64| {
                let (store, queue) = (store.clone(), queue.clone());
                std::thread::spawn(move || {
                    queue.write(&store, move |tx| {
                        tx.execute("INSERT INTO grouped_test(n) VALUES (?1)", args![n])
                    })
                })
            })
            .collect();
        while queue.0.lock().unwrap().len() < 10 {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        drop(held);
        for t in threads {
            assert_eq!(t.join().unwrap().unwrap(), 1);
        }
        assert_eq!(store.lock().unwrap().writes, before + 1, "one transaction");
    }
}
