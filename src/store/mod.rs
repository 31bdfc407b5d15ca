//! The only code that touches SQLite. One writer connection, owned by a thread that commits
//! concurrent writes together (see [`writer`]); each write is acknowledged only after its
//! commit. Readers: one connection per async worker thread for short reads
//! ([`worker_readers`]), and a small pool on Tokio's blocking pool for long ones; all in WAL
//! mode with `synchronous=FULL`.

pub mod admins;
pub mod browse;
pub mod events;
pub mod extensions;
pub mod files;
pub mod filter_sql;
mod hold;
pub mod install_defaults;
pub mod ldap;
pub mod maintenance;
pub mod members;
mod migrate;
pub mod oauth;
mod page_index;
pub use page_index::PageIndex;
pub mod request_log;
pub mod resources;
pub mod tenants;
#[cfg(test)]
mod testing;
pub mod tokens;
pub mod tombstones;
pub mod webhooks;
mod worker_readers;
mod writer;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use r2d2::Pool;
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::functions::FunctionFlags;
use rusqlite::{Connection, ErrorCode, OpenFlags};

pub use hold::{BOUNDS as HOLD_BUCKETS, HoldSnapshot};
pub use rusqlite::Connection as Conn;

/// What went wrong in the store, in terms of meaning rather than SQL.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A UNIQUE index refused the write; `index` names which one.
    #[error("unique constraint {index}")]
    Conflict { index: String },
    #[error("database busy")]
    Busy,
    /// The row is not at the version the caller read. Updates read and write in one
    /// transaction, so this is a guard in `resources::update`, not an expected outcome.
    #[error("resource changed concurrently")]
    Stale,
    #[error("store error: {0}")]
    Internal(String),
}

/// Result alias for store operations.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match &e {
            rusqlite::Error::QueryReturnedNoRows => Self::NotFound,
            rusqlite::Error::SqliteFailure(f, msg) if f.code == ErrorCode::ConstraintViolation => {
                let index = msg.clone().unwrap_or_default();
                Self::Conflict { index }
            }
            rusqlite::Error::SqliteFailure(f, _)
                if matches!(f.code, ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) =>
            {
                Self::Busy
            }
            _ => Self::Internal(e.to_string()),
        }
    }
}

impl From<r2d2::Error> for StoreError {
    fn from(e: r2d2::Error) -> Self {
        Self::Internal(format!("connection pool: {e}"))
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        Self::Internal(format!("stored document is not valid JSON: {e}"))
    }
}

/// Handle to the database, cheap to clone.
#[derive(Clone)]
pub struct Store {
    // Fields drop in order: the readers close first so the read-write connection is the last
    // one, and closing it checkpoints the WAL into the database file and removes it (a
    // read-only connection closing last cannot). That is the clean close on shutdown.
    readers: Pool<SqliteConnectionManager>,
    worker_readers: Arc<worker_readers::WorkerReaders>,
    credentials: Arc<Mutex<CredentialsWatch>>,
    writer: Arc<writer::Writer>,
    /// The request log's database file, written in parallel with `writer` (see
    /// migrations/log/0001_create_request_log.sql).
    log_writer: Arc<writer::Writer>,
    log_path: Arc<Path>,
    /// The main database file (a WAL checkpoint after an erase opens it).
    path: Arc<Path>,
    /// Counts the main writer's batches: a long poll waits for it to move.
    batches: tokio::sync::watch::Receiver<u64>,
    /// Where the pages of plain listings start, shared by every reader.
    pages: Arc<PageIndex>,
}

/// The request log's database file beside the main one: `scimd.db` → `scimd-log.db`.
pub fn log_path(database: &Path) -> std::path::PathBuf {
    let stem = database
        .file_stem()
        .map_or_else(|| "scimd".into(), |s| s.to_string_lossy());
    database.with_file_name(format!("{stem}-log.db"))
}

const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
const READERS: u32 = 8;

/// Per-connection settings. `synchronous=FULL` because scimd acknowledges a write only once it
/// is on disk; `scim_fold` is the SQL twin of [`crate::scim::fold`] so folded comparisons in SQL
/// and in Rust agree beyond ASCII. `secure_delete` zeroes what a delete or an update frees, so
/// an erased person's values (and every older version of a document) do not linger in free
/// space of the file (issue 25; its cost is in README "Deleted users and groups").
fn init_connection(conn: &mut Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    plan_once(conn)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
         PRAGMA secure_delete = ON;",
    )?;
    register_functions(conn)
}

/// The request log's connection: `synchronous=NORMAL`, because a log entry is not an
/// acknowledged write; a power cut may lose the last entries, never a user or a group, and
/// commits of the log then cost no fsync. An 8 MiB page cache (SQLite's default is 2 MiB)
/// keeps the pages that inserts land on in memory; 16 MiB measured the same (GET flood 0.99,
/// create flood 0.98 with 8) and held 8 MiB more after a load (issue 29's RSS target). Pages of 16 KiB (4 KiB by default) for a
/// table written in batches of kilobyte rows cut the CPU an entry costs by 30 % (measured on
/// 400,000 inserts: 8.5 → 6.1 µs), in fewer and larger writes and shallower trees; they
/// apply when the file is created (an existing log keeps its page size).
fn init_log_connection(conn: &mut Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    plan_once(conn)?;
    conn.execute_batch(
        "PRAGMA page_size = 16384; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
         PRAGMA cache_size = -8192;",
    )
}

/// Each statement is compiled once per connection and then only run (issue 29):
/// - the hot statements are run through the connection's statement cache, which has room
///   for 64 (rusqlite's default is 16; a create alone makes a dozen: resource, emails,
///   events, history, savepoints…);
/// - statements are planned without looking at bound values (SQLite's query planner stability
///   guarantee). Otherwise a statement whose plan read a value, here every page's `LIMIT ?
///   OFFSET ?`, is expired by the next bind and compiled again at its first step: the
///   `userName eq` pre-check was compiled on every request, 15 % of its CPU. scimd's statements
///   are written for their indexes (the plan tests pin them), not for values.
fn plan_once(conn: &Connection) -> rusqlite::Result<()> {
    conn.set_prepared_statement_cache_capacity(64);
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    Ok(())
}

fn register_functions(conn: &Connection) -> rusqlite::Result<()> {
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    conn.create_scalar_function("scim_fold", 1, flags, |ctx| {
        let value: Option<String> = ctx.get(0)?;
        Ok(value.map(|s| crate::scim::fold(&s)))
    })
}

impl Store {
    /// Opens (creating if needed) the database at `path` and applies pending migrations.
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Internal(format!("cannot create directory {}: {e}", dir.display()))
            })?;
        }
        let log_path = log_path(path);
        files::private_database(path)?;
        files::private_database(&log_path)?;
        let mut conn = Connection::open(path)?;
        init_connection(&mut conn)?;
        // The writer runs each job of a batch in its own savepoint, whose sub-journal keeps a
        // copy of every page an earlier job of the batch already changed (the tail pages of
        // the events outbox, every job). In a temporary file that is a write syscall per page
        // per job (measured on the PATCH flood: 36 KB and 14 writes per request); in memory it
        // is a page copy, bounded by the pages one batch changes. Only the writer: readers'
        // sorts must keep spilling to disk.
        conn.execute_batch("PRAGMA temp_store = MEMORY")?;
        let mut log_conn = Connection::open(&log_path)?;
        init_log_connection(&mut log_conn)?;
        migrate::apply(&mut conn, &mut log_conn, &log_path)?;
        let failed =
            |e| StoreError::Internal(format!("cannot start a database writer thread: {e}"));
        let (batch_ended, batches) = tokio::sync::watch::channel(0u64);
        let after_batch = move || batch_ended.send_modify(|n| *n = n.wrapping_add(1));
        let writer = writer::Writer::start(conn, writer::Database::Main, after_batch)
            .map(Arc::new)
            .map_err(failed)?;
        let log_writer = writer::Writer::start(log_conn, writer::Database::RequestLog, || {})
            .map(Arc::new)
            .map_err(failed)?;
        let attach = log_path.clone();
        let reader_manager = SqliteConnectionManager::file(path)
            .with_flags(
                OpenFlags::SQLITE_OPEN_READ_ONLY
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX
                    | OpenFlags::SQLITE_OPEN_URI,
            )
            .with_init(move |c| init_reader(c, &attach));
        let readers = Pool::builder()
            .max_size(READERS)
            .min_idle(Some(1))
            // r2d2_sqlite's check is a `SELECT 1` parsed and run on every checkout.
            .test_on_check_out(false)
            .build(reader_manager)?;
        let watch = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        watch.busy_timeout(BUSY_TIMEOUT)?;
        let credentials = Arc::new(Mutex::new(CredentialsWatch {
            conn: watch,
            seen: CredentialsSeen::default(),
        }));
        let path: Arc<Path> = path.into();
        let log_path: Arc<Path> = log_path.into();
        Ok(Self {
            readers,
            worker_readers: Arc::new(worker_readers::WorkerReaders::new(
                path.clone(),
                log_path.clone(),
            )),
            credentials,
            writer,
            log_writer,
            log_path,
            path,
            batches,
            pages: Arc::default(),
        })
    }

    /// Where pages of plain listings start ([`resources::list`]), for a read to take along.
    pub fn page_index(&self) -> Arc<PageIndex> {
        self.pages.clone()
    }

    /// Changes after every batch of writes the main writer has ended (committed or not): wait
    /// on it, then read again.
    pub fn batches(&self) -> tokio::sync::watch::Receiver<u64> {
        self.batches.clone()
    }

    /// Runs `f` on a reader connection off the async runtime.
    pub async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let pool = self.readers.clone();
        run_blocking(move || f(&*pool.get()?)).await
    }

    /// Like [`Store::read`] for a read that is usually short (a resource by id, a page of a
    /// list, a credential): it runs on the calling worker thread's own connection, and only
    /// when it turns out long does it run again, from the start, on the blocking pool
    /// (`worker_readers`). So `f` may run twice and must only read.
    pub async fn read_quick<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: Fn(&Connection) -> Result<T> + Send + 'static,
    {
        match self.worker_readers.try_read(&f) {
            worker_readers::Attempt::Done(out) => out,
            worker_readers::Attempt::Elsewhere => self.read(f).await,
        }
    }

    /// How long each write has held the writer of the main database (users, groups, tokens):
    /// while one write runs, every other waits.
    pub fn writer_hold_times(&self) -> HoldSnapshot {
        self.writer.hold_times()
    }

    /// Runs `f` in a write transaction; the result is returned only after the commit is
    /// durable. An error rolls back everything `f` wrote.
    pub async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        submit_infallible(&self.writer, f).await
    }

    /// Like [`Store::write`] for work that can also fail on the client's side (an unknown
    /// member id, a stale `If-Match`): an inner `Err` rolls back everything `f` wrote, so a
    /// refused request writes nothing, and is returned as is.
    pub async fn write_or_rollback<T, E, F>(&self, f: F) -> Result<std::result::Result<T, E>>
    where
        T: Send + 'static,
        E: Send + 'static,
        F: FnOnce(&Connection) -> Result<std::result::Result<T, E>> + Send + 'static,
    {
        submit(&self.writer, f).await
    }

    /// Runs `f` in a write transaction on the request log's database; returns after the
    /// commit (which, with `synchronous=NORMAL`, does not wait for the disk).
    pub async fn write_log<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        submit_infallible(&self.log_writer, f).await
    }

    /// Empties both databases' WAL files into the databases and truncates them to nothing
    /// (`wal_checkpoint(TRUNCATE)`), so the WAL keeps no older version of a page an erase
    /// overwrote. Waits for readers to finish, retrying for up to about two seconds; returns
    /// whether both were truncated.
    pub fn checkpoint_truncate(&self) -> Result<bool> {
        let mut done = true;
        for path in [&self.path, &self.log_path] {
            let conn = Connection::open(&**path)?;
            conn.busy_timeout(BUSY_TIMEOUT)?;
            let mut truncated = false;
            for _ in 0..40 {
                let busy: i64 =
                    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
                if busy == 0 {
                    truncated = true;
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            done &= truncated;
        }
        Ok(done)
    }

    /// Runs `f` in a write transaction on the request log's database with `secure_delete` on,
    /// so the bytes it removes are overwritten rather than left in free space (an erase).
    pub async fn write_log_securely<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        self.write_log(move |conn| {
            conn.execute_batch("PRAGMA secure_delete = ON")?;
            let out = f(conn);
            conn.execute_batch("PRAGMA secure_delete = OFF")?;
            out
        })
        .await
    }

    /// Bytes the request log takes on disk: its file and its WAL (`/healthz`, `/metrics`).
    pub fn log_disk_bytes(&self) -> u64 {
        let mut wal = self.log_path.as_os_str().to_owned();
        wal.push("-wal");
        [self.log_path.as_os_str(), wal.as_os_str()]
            .into_iter()
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum()
    }

    /// A number that changes after every committed change to tokens or tenants, by this
    /// process or another one (the CLI revoking a token): a cache of token lookups is valid
    /// while it stays the same. It costs a `PRAGMA data_version`, which tells from the WAL's
    /// shared memory, without I/O, whether any other connection committed, and only then one
    /// read of the one-row counter the migrations' triggers keep. So it runs inline, not on
    /// the blocking pool.
    pub fn credentials_stamp(&self) -> Result<i64> {
        if let Some(stamp) = self.worker_readers.credentials_stamp() {
            return stamp;
        }
        let mut watch = self
            .credentials
            .lock()
            .map_err(|_| StoreError::Internal("the credentials watch was poisoned".into()))?;
        let CredentialsWatch { conn, seen } = &mut *watch;
        seen.stamp(conn)
    }

    /// Blocking variant of [`Store::write`] for the CLI.
    pub fn write_blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        submit_blocking(&self.writer, f)
    }

    /// Blocking variant of [`Store::write_log`] for worker threads (webhook delivery).
    pub fn write_log_blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        submit_blocking(&self.log_writer, f)
    }

    /// Blocking variant of [`Store::read`] for the CLI.
    pub fn read_blocking<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        f(&*self.readers.get()?)
    }

    /// Writes a consistent copy of the database to `dest` (`scimd backup`). `VACUUM INTO` runs
    /// in one read transaction on a reader connection, so in WAL mode the server's writes carry
    /// on meanwhile and the copy is the database as of one commit. The copy goes to a temporary
    /// file beside `dest`, is synced, then renamed, so `dest` is never a half-written file.
    pub fn backup(&self, dest: &Path) -> Result<()> {
        let internal = |what: &str, e: &dyn std::fmt::Display| {
            StoreError::Internal(format!("{what} {}: {e}", dest.display()))
        };
        if dest.exists() {
            return Err(StoreError::Internal(format!(
                "{} already exists; choose a new file name so no backup is overwritten",
                dest.display()
            )));
        }
        let name = dest.file_name().ok_or_else(|| {
            StoreError::Internal(format!("{} is not a file name", dest.display()))
        })?;
        let partial = dest.with_file_name(format!(".{}.partial", name.to_string_lossy()));
        // A leftover from an interrupted backup is ours to replace.
        let _ = std::fs::remove_file(&partial);
        let target = partial.to_str().ok_or_else(|| {
            StoreError::Internal(format!("{} is not valid UTF-8", partial.display()))
        })?;
        // VACUUM INTO fills an existing empty file and keeps its mode; SQLite would create
        // it 0644 minus the umask, readable by everyone for a file of password hashes.
        let result = files::create_private(&partial)
            .map_err(|e| internal("cannot create a file beside", &e))
            .and_then(|()| self.readers.get().map_err(StoreError::from))
            .and_then(|conn| Ok(conn.execute("VACUUM INTO ?1", [target])?))
            .and_then(|_| {
                std::fs::File::open(&partial)
                    .and_then(|f| f.sync_all())
                    .map_err(|e| internal("cannot sync", &e))
            })
            .and_then(|()| {
                std::fs::rename(&partial, dest).map_err(|e| internal("cannot rename to", &e))
            });
        if result.is_err() {
            let _ = std::fs::remove_file(&partial);
        }
        result?;
        // Make the rename itself durable.
        if let Some(dir) = dest.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| internal("cannot sync the directory of", &e))?;
        }
        Ok(())
    }
}

/// A read-only connection of its own that [`Store::credentials_stamp`] asks whether anything
/// was committed since it last looked (`PRAGMA data_version` is per connection).
struct CredentialsWatch {
    conn: Connection,
    seen: CredentialsSeen,
}

/// What one connection last saw of the credentials: the stamp, and its `PRAGMA data_version`
/// then (the watch's own connection, and each worker reader's).
#[derive(Default)]
struct CredentialsSeen {
    data_version: Option<i64>,
    stamp: i64,
}

impl CredentialsSeen {
    /// The credentials stamp as `conn` sees it; the counter is read again only when another
    /// connection committed since `conn` last looked.
    fn stamp(&mut self, conn: &Connection) -> Result<i64> {
        let data_version: i64 = conn
            .prepare_cached("PRAGMA data_version")?
            .query_row([], |r| r.get(0))?;
        if self.data_version != Some(data_version) {
            self.stamp = conn
                .prepare_cached("SELECT n FROM credentials_version")?
                .query_row([], |r| r.get(0))?;
            self.data_version = Some(data_version);
        }
        Ok(self.stamp)
    }
}

/// Readers see the request log's file as an attached schema, so its table is read by its
/// plain name and can be joined with the main database's.
fn init_reader(conn: &mut Connection, log: &Path) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    plan_once(conn)?;
    conn.execute(
        "ATTACH DATABASE ?1 AS log",
        [log.to_string_lossy().as_ref()],
    )?;
    // Up to ten readers (the pool and one per async worker) each kept 2 MiB of pages of each
    // database: a reader's reads are point lookups and short index walks whose inner pages
    // fit in 1 MiB, and the request log is only read by the UI; the rest comes from the
    // operating system's cache either way.
    conn.execute_batch("PRAGMA main.cache_size = -1024; PRAGMA log.cache_size = -256;")?;
    register_functions(conn)
}

/// Submits `f` to `writer` and waits for its commit on this (non-async) thread.
fn submit_blocking<T: Send + 'static>(
    writer: &writer::Writer,
    f: impl FnOnce(&Connection) -> Result<T> + Send + 'static,
) -> Result<T> {
    let (reply, outcome) = std::sync::mpsc::sync_channel(1);
    writer.submit(
        move |conn| f(conn).map(Ok::<T, ()>),
        move |out| {
            let _ = reply.send(out);
        },
    );
    match outcome.recv() {
        Ok(Ok(Ok(out))) => Ok(out),
        Ok(Err(e)) => Err(e),
        Ok(Ok(Err(()))) | Err(_) => Err(StoreError::Internal("the writer dropped a write".into())),
    }
}

/// [`submit`] for a write that cannot be refused, only fail.
async fn submit_infallible<T, F>(writer: &writer::Writer, f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> Result<T> + Send + 'static,
{
    let never_refused = move |conn: &Connection| f(conn).map(Ok::<T, std::convert::Infallible>);
    submit(writer, never_refused).await.map(|ok| match ok {
        Ok(out) => out,
        Err(never) => match never {},
    })
}

async fn submit<T, E, F>(writer: &writer::Writer, f: F) -> Result<std::result::Result<T, E>>
where
    T: Send + 'static,
    E: Send + 'static,
    F: FnOnce(&Connection) -> Result<std::result::Result<T, E>> + Send + 'static,
{
    let (reply, outcome) = rocket::tokio::sync::oneshot::channel();
    writer.submit(f, move |out| {
        let _ = reply.send(out);
    });
    outcome
        .await
        .unwrap_or_else(|_| Err(StoreError::Internal("the writer dropped a write".into())))
}

async fn run_blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    match rocket::tokio::task::spawn_blocking(f).await {
        Ok(result) => result,
        // Re-raise a panic from the closure on this task instead of hiding it as an error.
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(StoreError::Internal(format!("blocking task failed: {e}"))),
    }
}

/// Runs `f` in one read transaction on `conn`, so every query it makes sees the database as
/// of one commit (`scimd export`); writers carry on meanwhile (WAL).
pub fn snapshot<T>(conn: &Connection, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
    let tx = conn.unchecked_transaction()?;
    let out = f(&tx)?;
    tx.commit()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    /// SQLite must be built without `SQLITE_ENABLE_MEMORY_MANAGEMENT` (`.cargo/config.toml`),
    /// which rusqlite's bundled build turns on: it pools the page caches of all connections
    /// under one LRU list, so readers paging through users evicted the request log writer's
    /// b-tree pages between its batches and every batch read them back (measured: ~100 page
    /// reads per batch; with separate caches GET throughput rose 8 % with the log off and
    /// 13 % with it on).
    #[test]
    fn each_connection_keeps_its_own_page_cache() {
        let conn = rusqlite::Connection::open_in_memory().expect("open");
        let pooled: bool = conn
            .query_row(
                "SELECT sqlite_compileoption_used('ENABLE_MEMORY_MANAGEMENT')",
                [],
                |r| r.get(0),
            )
            .expect("compile options");
        assert!(
            !pooled,
            "SQLite was built with one page cache for all connections: is .cargo/config.toml \
             (LIBSQLITE3_FLAGS) in effect?"
        );
    }
}
