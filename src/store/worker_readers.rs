//! Reader connections that serve short reads on the async worker thread that asks for them.
//!
//! A point read (a user by id, `userName eq`, a token by hash) takes SQLite a few microseconds;
//! handing it to Tokio's blocking pool and back cost more than the read: two thread wake-ups,
//! and under load dozens of blocking threads queueing for the pool's connections (measured on
//! the GET flood: 23 % of the CPU in context switches, 10 % in condition-variable waits; see
//! benches/README.md, issue 29). Each worker thread takes a slot of its own here, so its
//! connection and its cached statements stay warm and no lock is contended.
//!
//! A read is only allowed a budget of SQLite virtual-machine steps on the worker: past it (a
//! count over every user, a group of 50,000 members) the read is interrupted and the caller
//! runs it again on the blocking pool, so a long read never holds up the requests that share
//! its worker. Reads are side-effect free, so running one twice changes nothing.

use std::cell::Cell;
use std::path::Path;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::{CredentialsSeen, Result, StoreError};

/// How long a read on a worker waits for a busy database (in WAL mode only while a crashed
/// writer's log is recovered) before it moves to the pool.
const BUSY_TIMEOUT: Duration = Duration::from_millis(20);
/// Slots, one per worker thread (threads beyond that share, and fall back when one is busy).
const SLOTS: usize = 8;
/// SQLite calls the progress handler every this many virtual-machine steps.
const STEPS_PER_CHECK: i32 = 1000;
/// Checks a read may pass on the worker before it is sent to the blocking pool: about 50,000
/// steps, a few hundred microseconds; a point read takes a few hundred steps.
const CHECKS_ALLOWED: u32 = 50;

/// What [`WorkerReaders::try_read`] did.
pub(super) enum Attempt<T> {
    /// The read ran here, to its end (successfully or not).
    Done(Result<T>),
    /// It did not run to its end here (no free slot, or over budget): run it on the pool.
    Elsewhere,
}

/// A slot's connection and what it last saw of the credentials (see
/// [`super::Store::credentials_stamp`]).
struct Slot {
    conn: Connection,
    /// Progress-handler calls of the current read.
    checks: Arc<AtomicU32>,
    seen: CredentialsSeen,
}

pub(super) struct WorkerReaders {
    slots: Box<[Mutex<Option<Slot>>]>,
    path: Arc<Path>,
    log_path: Arc<Path>,
}

thread_local! {
    /// This thread's slot number, given on its first read.
    static SLOT: Cell<Option<usize>> = const { Cell::new(None) };
}
static NEXT_SLOT: AtomicUsize = AtomicUsize::new(0);

fn slot_of_this_thread() -> usize {
    SLOT.with(|slot| {
        *slot.get().get_or_insert_with(|| {
            let n = NEXT_SLOT.fetch_add(1, Ordering::Relaxed) % SLOTS;
            slot.set(Some(n));
            n
        })
    })
}

impl WorkerReaders {
    pub(super) fn new(path: Arc<Path>, log_path: Arc<Path>) -> Self {
        Self {
            slots: (0..SLOTS).map(|_| Mutex::new(None)).collect(),
            path,
            log_path,
        }
    }

    /// Runs `read` on this thread's connection within the step budget.
    pub(super) fn try_read<T>(&self, read: impl Fn(&Connection) -> Result<T>) -> Attempt<T> {
        self.with_slot(|slot| {
            match read(&slot.conn) {
                _ if slot.checks.load(Ordering::Relaxed) > CHECKS_ALLOWED => Attempt::Elsewhere,
                // The pool's connections wait out a busy database; a worker must not.
                Err(StoreError::Busy) => Attempt::Elsewhere,
                out => Attempt::Done(out),
            }
        })
        .unwrap_or(Attempt::Elsewhere)
    }

    /// The credentials stamp through this thread's connection, when its slot is free: `PRAGMA
    /// data_version` is per connection, so each slot remembers what it last saw.
    pub(super) fn credentials_stamp(&self) -> Option<Result<i64>> {
        self.with_slot(|slot| slot.seen.stamp(&slot.conn))
    }

    /// Runs `f` on this thread's slot, opening its connection on first use; `None` when the
    /// slot is taken (another thread shares it) or its connection cannot be opened.
    fn with_slot<T>(&self, f: impl FnOnce(&mut Slot) -> T) -> Option<T> {
        let mut guard = self.slots[slot_of_this_thread()].try_lock().ok()?;
        if guard.is_none() {
            match self.open() {
                Ok(slot) => *guard = Some(slot),
                Err(e) => {
                    tracing::warn!("cannot open a reader for the worker thread: {e}");
                    return None;
                }
            }
        }
        // Every use starts a new budget: the count a long read left behind must not
        // interrupt the next statement (it did: the credentials check of the next request).
        guard.as_mut().map(|slot| {
            slot.checks.store(0, Ordering::Relaxed);
            f(slot)
        })
    }

    fn open(&self) -> Result<Slot> {
        let mut conn = Connection::open_with_flags(
            &*self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI,
        )?;
        super::init_reader(&mut conn, &self.log_path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        let checks = Arc::new(AtomicU32::new(0));
        let counted = checks.clone();
        conn.progress_handler(
            STEPS_PER_CHECK,
            Some(move || counted.fetch_add(1, Ordering::Relaxed) >= CHECKS_ALLOWED),
        )?;
        Ok(Slot {
            conn,
            checks,
            seen: CredentialsSeen::default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::seeded;

    /// A query of a million steps: far past the worker's budget.
    const LONG: &str = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000) SELECT count(*) FROM n";

    fn count(conn: &Connection, sql: &str) -> Result<i64> {
        Ok(conn.query_row(sql, [], |r| r.get(0))?)
    }

    #[test]
    fn short_reads_run_on_the_worker_and_long_ones_are_sent_elsewhere() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = seeded(dir.path(), Vec::new());
        let here = store
            .worker_readers
            .try_read(|c| count(c, "SELECT count(*) FROM tenants"));
        assert!(matches!(here, Attempt::Done(Ok(1))));
        let long = store.worker_readers.try_read(|c| count(c, LONG));
        assert!(matches!(long, Attempt::Elsewhere));
        // Every use has its own budget. SQLite counts a cached statement's steps over all its
        // runs, so the handler also fires inside short statements now and then: a count that
        // no use reset once interrupted every credentials check after a few thousand.
        for _ in 0..20_000 {
            assert!(matches!(
                store.worker_readers.credentials_stamp(),
                Some(Ok(_))
            ));
        }
        // The interrupted read left the slot usable.
        let again = store
            .worker_readers
            .try_read(|c| count(c, "SELECT count(*) FROM tenants"));
        assert!(matches!(again, Attempt::Done(Ok(1))));
    }

    #[rocket::async_test]
    async fn a_long_read_still_gets_its_answer_from_the_pool() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = seeded(dir.path(), Vec::new());
        let n = store.read_quick(|c| count(c, LONG)).await.expect("read");
        assert_eq!(n, 1_000_000);
    }

    #[test]
    fn a_worker_connection_sees_every_commit_made_after_it_opened() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = seeded(dir.path(), Vec::new());
        let tenants = |s: &crate::store::Store| match s
            .worker_readers
            .try_read(|c| count(c, "SELECT count(*) FROM tenants"))
        {
            Attempt::Done(n) => n.expect("count"),
            Attempt::Elsewhere => panic!("a one-row count ran elsewhere"),
        };
        let stamp = store.credentials_stamp().expect("stamp");
        assert_eq!(tenants(&store), 1);
        // Another process (the CLI) adds a tenant.
        let other = crate::store::Store::open(&dir.path().join("seeded.db")).expect("open");
        other
            .write_blocking(|tx| {
                crate::store::tenants::create(
                    tx,
                    "acme",
                    "Acme",
                    crate::store::testing::SEEDED_AT,
                )?;
                Ok(())
            })
            .expect("write");
        assert_eq!(tenants(&store), 2);
        assert_ne!(store.credentials_stamp().expect("stamp"), stamp);
    }
}
