//! The one read-write connection, owned by a thread that commits concurrent writes together
//! ("group commit"). With `synchronous=FULL` every commit is an fsync, and on a small VM the
//! fsync, not SQL, bounds how many writes per second scimd can acknowledge. So the thread
//! takes every write waiting for it, runs each in its own savepoint inside one transaction,
//! commits once, and only then answers each caller: a write is still acknowledged only after
//! it is durable, and one refused write (a failed SQL statement, a client error) is rolled
//! back to its savepoint without touching the others.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Instant;

use rusqlite::Connection;

use super::hold::HoldTimes;
use super::{Result, StoreError};

/// Most writes sharing one commit: enough to absorb a burst from every IdP worker, few enough
/// that the first caller of a batch does not wait long behind the last.
const MAX_BATCH: usize = 64;

/// What a write answers: a store failure, or its own result (`Err` = refused, rolled back).
type Outcome<T, E> = Result<std::result::Result<T, E>>;

/// One caller's write, type-erased so writes of any result type share a batch.
trait Job: Send {
    /// Runs the write on the connection inside its savepoint; true keeps its changes.
    fn run(&mut self, conn: &Connection) -> bool;
    /// Answers the caller once the batch's fate is known: `Err` if the shared commit failed.
    fn finish(self: Box<Self>, commit: std::result::Result<(), &StoreError>);
}

/// A write whose closure returns `Ok(Ok(_))` to keep its changes, `Ok(Err(_))` to roll them
/// back and answer with a client-side error, or `Err(_)` on a store failure.
struct Pending<T, E, F> {
    write: Option<F>,
    outcome: Option<Outcome<T, E>>,
    reply: Box<dyn FnOnce(Outcome<T, E>) + Send>,
}

impl<T, E, F> Job for Pending<T, E, F>
where
    T: Send,
    E: Send,
    F: FnOnce(&Connection) -> Outcome<T, E> + Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let Some(write) = self.write.take() else {
            return false;
        };
        // A panicking write must not take the writer thread, and every later write, with it.
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| write(conn)))
            .unwrap_or_else(|_| Err(StoreError::Internal("a database write panicked".into())));
        let keep = matches!(outcome, Ok(Ok(_)));
        self.outcome = Some(outcome);
        keep
    }

    fn finish(self: Box<Self>, commit: std::result::Result<(), &StoreError>) {
        let outcome = match (self.outcome, commit) {
            (Some(Ok(Ok(_))), Err(e)) => Err(same_error(e)),
            (Some(outcome), _) => outcome,
            (None, Err(e)) => Err(same_error(e)),
            (None, Ok(())) => Err(StoreError::Internal("write was never run".into())),
        };
        (self.reply)(outcome);
    }
}

/// The shared commit's error, once for each write it failed.
fn same_error(e: &StoreError) -> StoreError {
    match e {
        StoreError::Busy => StoreError::Busy,
        other => StoreError::Internal(other.to_string()),
    }
}

/// Handle to the writer thread. Dropping the last handle lets the thread finish its queue and
/// close the connection, which checkpoints the WAL; the drop waits for that.
pub(super) struct Writer {
    jobs: Option<mpsc::Sender<Box<dyn Job>>>,
    thread: Option<JoinHandle<()>>,
    held: Arc<HoldTimes>,
}

/// The database a writer owns.
pub(super) enum Database {
    /// Users, groups, tenants, tokens.
    Main,
    /// The request log.
    RequestLog,
}

impl Writer {
    /// Starts the thread that owns `conn`; `after_batch` runs once each batch has ended (so a
    /// reader waiting for new rows looks again: the events feed's long poll).
    pub(super) fn start(
        conn: Connection,
        database: Database,
        after_batch: impl Fn() + Send + 'static,
    ) -> std::io::Result<Self> {
        let (jobs, queue) = mpsc::channel::<Box<dyn Job>>();
        let thread_name = match database {
            Database::Main => "scimd-writer",
            Database::RequestLog => "scimd-log-writer",
        };
        let held = Arc::new(HoldTimes::default());
        let timed = held.clone();
        let thread = std::thread::Builder::new()
            .name(thread_name.into())
            .spawn(move || {
                while let Ok(first) = queue.recv() {
                    let mut batch = vec![first];
                    while batch.len() < MAX_BATCH {
                        match queue.try_recv() {
                            Ok(job) => batch.push(job),
                            Err(_) => break,
                        }
                    }
                    commit_batch(&conn, batch, &timed);
                    after_batch();
                }
            })?;
        Ok(Self {
            jobs: Some(jobs),
            thread: Some(thread),
            held,
        })
    }

    /// How long each write has held this writer so far.
    pub(super) fn hold_times(&self) -> super::HoldSnapshot {
        self.held.snapshot()
    }

    /// Queues `write`; `reply` receives its outcome after the commit that made it durable.
    pub(super) fn submit<T, E, F>(
        &self,
        write: F,
        reply: impl FnOnce(Outcome<T, E>) + Send + 'static,
    ) where
        T: Send + 'static,
        E: Send + 'static,
        F: FnOnce(&Connection) -> Outcome<T, E> + Send + 'static,
    {
        let job = Box::new(Pending {
            write: Some(write),
            outcome: None,
            reply: Box::new(reply),
        });
        let sent = self.jobs.as_ref().map(|jobs| jobs.send(job));
        if let Some(Err(mpsc::SendError(job))) = sent {
            job.finish(Err(&StoreError::Internal("the writer has stopped".into())));
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Runs `batch` in one transaction, one savepoint per job, and answers every job once the
/// transaction has ended. Each job's own time (closure and savepoint, not the shared commit)
/// goes to `held`.
fn commit_batch(conn: &Connection, batch: Vec<Box<dyn Job>>, held: &HoldTimes) {
    if batch.is_empty() {
        return;
    }
    if let Err(e) = exec(conn, "BEGIN IMMEDIATE") {
        batch.into_iter().for_each(|job| job.finish(Err(&e)));
        return;
    }
    if batch.len() == 1 {
        // Alone in its transaction, a job needs no savepoint (whose sub-journal copies every
        // page it touches): its rollback is the transaction's.
        let mut batch = batch;
        let mut job = batch.remove(0);
        let started = Instant::now();
        let keep = job.run(conn);
        held.observe(started.elapsed());
        let commit = if keep {
            exec(conn, "COMMIT")
        } else {
            exec(conn, "ROLLBACK")
        };
        rollback_if_open(conn);
        job.finish(commit.as_ref().map(|_| ()));
        return;
    }
    let mut done: Vec<Box<dyn Job>> = Vec::with_capacity(batch.len());
    let mut rest = batch.into_iter();
    while let Some(mut job) = rest.next() {
        let started = Instant::now();
        let isolated = savepoint(conn, |c| job.run(c));
        held.observe(started.elapsed());
        done.push(job);
        if let Err(e) = isolated {
            // The savepoint could not be released or rolled back (or an I/O error or a full
            // disk ended the transaction): no job of this transaction can be trusted to be
            // durable, so each fails and the ones not yet run go to a fresh transaction.
            rollback_if_open(conn);
            done.into_iter().for_each(|job| job.finish(Err(&e)));
            commit_batch(conn, rest.collect(), held);
            return;
        }
    }
    let commit = exec(conn, "COMMIT");
    rollback_if_open(conn);
    let commit = commit.as_ref().map(|_| ());
    done.into_iter().for_each(|job| job.finish(commit));
}

/// Runs `job` inside a savepoint, released if it keeps its changes, rolled back otherwise.
fn savepoint(conn: &Connection, job: impl FnOnce(&Connection) -> bool) -> Result<()> {
    exec(conn, "SAVEPOINT job")?;
    if job(conn) {
        exec(conn, "RELEASE job")
    } else {
        exec(conn, "ROLLBACK TO job")?;
        exec(conn, "RELEASE job")
    }
}

/// A failed COMMIT can leave the transaction open; the next batch must start clean.
fn rollback_if_open(conn: &Connection) {
    if !conn.is_autocommit() {
        let _ = exec(conn, "ROLLBACK");
    }
}

/// Runs a transaction-control statement, prepared once per connection.
fn exec(conn: &Connection, sql: &str) -> Result<()> {
    conn.prepare_cached(sql)?.execute([])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, mpsc};

    use super::*;

    type Reply = Outcome<(), &'static str>;

    /// A writer on a fresh database with `t(x UNIQUE)`, and a count of its commits.
    fn writer(dir: &std::path::Path) -> (Writer, Arc<AtomicUsize>) {
        let conn = Connection::open(dir.join("w.db")).expect("open");
        conn.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (x INTEGER UNIQUE)")
            .expect("schema");
        let commits = Arc::new(AtomicUsize::new(0));
        let counter = commits.clone();
        conn.commit_hook(Some(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            false
        }))
        .expect("hook");
        (
            Writer::start(conn, Database::Main, || {}).expect("start"),
            commits,
        )
    }

    fn insert(conn: &Connection, x: i64) -> Result<()> {
        conn.execute("INSERT INTO t (x) VALUES (?1)", [x])?;
        Ok(())
    }

    /// Writes queued while the writer is busy share one commit; a write that fails (SQL error,
    /// client error, panic) is rolled back alone and answered with its own error.
    #[test]
    fn queued_writes_share_one_commit_and_fail_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (writer, commits) = writer(dir.path());
        let (results, outcomes) = mpsc::channel::<(usize, Reply)>();
        let reply = |n: usize| {
            let results = results.clone();
            move |out: Reply| results.send((n, out)).expect("send")
        };
        // The first write holds the writer until everything else is queued behind it.
        let (open_gate, gate) = mpsc::channel::<()>();
        let (started, running) = mpsc::channel::<()>();
        writer.submit(
            move |c| {
                started.send(()).expect("started");
                gate.recv().expect("gate");
                insert(c, 0).map(Ok)
            },
            reply(0),
        );
        running.recv().expect("the first write runs");
        writer.submit(|c| insert(c, 1).map(Ok), reply(1));
        writer.submit(|c| insert(c, 1).map(Ok), reply(2));
        writer.submit(
            |c| {
                insert(c, 3)?;
                Ok(Err("refused"))
            },
            reply(3),
        );
        writer.submit(|_| -> Reply { panic!("bug") }, reply(4));
        writer.submit(|c| insert(c, 5).map(Ok), reply(5));
        open_gate.send(()).expect("open");
        let mut got: Vec<(usize, Reply)> = outcomes.iter().take(6).collect();
        got.sort_by_key(|(n, _)| *n);
        assert!(matches!(got[0].1, Ok(Ok(()))));
        assert!(matches!(got[1].1, Ok(Ok(()))));
        assert!(
            matches!(got[2].1, Err(StoreError::Conflict { .. })),
            "{:?}",
            got[2]
        );
        assert!(matches!(got[3].1, Ok(Err("refused"))));
        assert!(
            matches!(got[4].1, Err(StoreError::Internal(_))),
            "{:?}",
            got[4]
        );
        assert!(matches!(got[5].1, Ok(Ok(()))));
        // The gated write committed alone; the five queued behind it shared one commit.
        assert_eq!(commits.load(Ordering::SeqCst), 2);
        drop(writer);
        let conn = Connection::open(dir.path().join("w.db")).expect("reopen");
        let mut stmt = conn.prepare("SELECT x FROM t ORDER BY x").expect("prepare");
        let kept: Vec<i64> = stmt
            .query_map([], |r| r.get(0))
            .expect("query")
            .collect::<rusqlite::Result<_>>()
            .expect("rows");
        assert_eq!(kept, vec![0, 1, 5], "refused writes left nothing behind");
    }
}
