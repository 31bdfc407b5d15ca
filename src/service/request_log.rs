//! The request log, off the request path: the HTTP layer hands each finished SCIM request to
//! [`RequestLog::submit`] (a non-blocking `try_send` into a bounded queue); one writer task
//! turns captures into rows (redaction, IdP, error fields — all the parsing happens here, not
//! on the request path) and inserts them in batches, one transaction per batch. A full queue
//! drops the entry and counts it: the log must never slow or fail SCIM traffic.
//!
//! Reading the log (search, one entry, per-token health) attaches the troubleshooting
//! diagnosis from [`crate::scim::diagnosis`] at read time.

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use rocket::tokio::sync::{Notify, RwLock, mpsc, oneshot};
use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;

use super::OpError;
use crate::clock;
use crate::config::RequestLogConfig;
use crate::scim::diagnosis::{self, Deletion, Diagnosis, Observed};
use crate::scim::quirks::{Quirk, Quirks};
use crate::scim::redact::redact_body_in;
use crate::store::request_log::{self as rows, LogFilter, LogRow};
use crate::store::{Store, StoreError};

/// Most entries written in one transaction: large enough that a busy second costs a few
/// commits (each writes the pages it touched to the WAL once), small enough that a batch
/// takes the log's own connection for milliseconds, not seconds.
pub const BATCH_SIZE: usize = 1024;
/// Longest the writer waits to fill a batch before writing what it has: entries are written
/// this long after they are queued at most, unless the queue holds a batch or a flush.
pub const BATCH_WINDOW: Duration = Duration::from_millis(250);
/// How often old entries are pruned.
pub const PRUNE_INTERVAL: Duration = Duration::from_secs(600);
/// How long shutdown waits for the last entries to be written.
pub const FLUSH_TIMEOUT: Duration = Duration::from_secs(10);

/// A finished SCIM request as the HTTP layer saw it: raw, cheap to build. A capture is built
/// on a request thread and written on the log's writer thread, and with glibc malloc every
/// allocation freed on another thread than the one that made it costs about half a
/// microsecond (perf, issue 7). So a capture keeps all its text and bodies in one buffer,
/// which the writer gives back for a later capture ([`RequestLog::buffer`]) instead of
/// freeing it.
#[derive(Debug, Clone, Default)]
pub struct Capture {
    pub time: Option<OffsetDateTime>,
    pub method: &'static str,
    pub client_ip: Option<IpAddr>,
    pub status: u16,
    pub latency_ms: f64,
    pub parts: CaptureBuffer,
    /// The IdP dialect scimd normalised and the undeclared attributes it ignored.
    pub quirks: Quirks,
    /// The tenant's own `returned: never` attribute names, redacted like `password`.
    pub secrets: std::sync::Arc<[String]>,
}

impl Capture {
    /// The memory the capture holds while queued: its buffer's.
    fn size(&self) -> usize {
        self.parts.bytes.capacity()
    }
}

/// The text fields and bodies of a capture.
#[derive(Debug, Clone, Copy)]
pub enum Field {
    /// The path as the client sent it (with any `/t/{slug}` prefix).
    Path,
    Query,
    Tenant,
    TokenId,
    TokenName,
    UserAgent,
    /// The request's `X-Request-Id` (bounded when it is accepted from the client).
    RequestId,
    RequestBody,
    ResponseBody,
}

impl Field {
    const COUNT: usize = Self::ResponseBody as usize + 1;
    /// The text fields, whose cut is noted in `truncated_fields` (bodies have their own flags).
    const TEXT: [Self; 6] = [
        Self::Path,
        Self::Query,
        Self::Tenant,
        Self::TokenId,
        Self::TokenName,
        Self::UserAgent,
    ];

    /// The field's name as `truncated_fields` lists it.
    fn name(self) -> &'static str {
        match self {
            Self::Path => "path",
            Self::Query => "query",
            Self::Tenant => "tenant",
            Self::TokenId => "token_id",
            Self::TokenName => "token_name",
            Self::UserAgent => "user_agent",
            Self::RequestId => "request_id",
            Self::RequestBody => "request_body",
            Self::ResponseBody => "response_body",
        }
    }
}

/// A capture's fields, in one buffer.
#[derive(Debug, Clone, Default)]
pub struct CaptureBuffer {
    bytes: Vec<u8>,
    spans: [Option<(usize, usize)>; Field::COUNT],
    /// Bodies of which only a prefix was kept, by field.
    cut: [bool; Field::COUNT],
}

impl CaptureBuffer {
    /// Room for `bytes` before the buffer grows.
    pub fn with_capacity(bytes: usize) -> Self {
        Self::reusing(Vec::with_capacity(bytes))
    }

    /// An empty capture in `buffer`, keeping its capacity.
    fn reusing(mut buffer: Vec<u8>) -> Self {
        buffer.clear();
        Self {
            bytes: buffer,
            spans: Default::default(),
            cut: Default::default(),
        }
    }

    /// Sets a text field; fields are set once.
    pub fn set(&mut self, field: Field, value: &str) {
        self.push(field, value.as_bytes());
    }

    /// Sets a text field to its first `cap` bytes at most (on a character boundary), noting
    /// the cut: what a client sends must not cost the log's disk more than the cap.
    pub fn set_capped(&mut self, field: Field, value: &str, cap: usize) {
        let end = value.floor_char_boundary(cap);
        self.cut[field as usize] = end < value.len();
        self.push(field, &value.as_bytes()[..end]);
    }

    /// Whether a field was cut to its cap.
    pub fn is_cut(&self, field: Field) -> bool {
        self.cut[field as usize]
    }

    /// Sets a body field to `body`'s first `cap` bytes at most.
    pub fn set_body(&mut self, field: Field, body: &[u8], cap: usize) {
        self.cut[field as usize] = body.len() > cap;
        self.push(field, &body[..body.len().min(cap)]);
    }

    fn push(&mut self, field: Field, value: &[u8]) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(value);
        self.spans[field as usize] = Some((start, self.bytes.len()));
    }

    /// A text field, as set.
    pub fn get(&self, field: Field) -> Option<&str> {
        self.span(field).and_then(|b| std::str::from_utf8(b).ok())
    }

    /// A body field (empty when unset), and whether it is the whole body.
    pub fn body(&self, field: Field) -> (&[u8], bool) {
        (
            self.span(field).unwrap_or_default(),
            !self.cut[field as usize],
        )
    }

    fn span(&self, field: Field) -> Option<&[u8]> {
        self.spans[field as usize].map(|(start, end)| &self.bytes[start..end])
    }
}

/// Most written capture buffers kept for reuse: the captures of two batches (the queue
/// between the request threads and the writer holds about one while the writer writes one).
const SPARE_BUFFERS: usize = 2 * BATCH_SIZE;
/// Largest buffer kept for reuse: a capture with a typical user or group in it, so that the
/// spare buffers hold at most 8 MiB; larger ones are freed.
const SPARE_BUFFER_BYTES: usize = 4096;

// Not boxed: the queue's slots are allocated once, a box would be one more allocation per
// request, freed on another thread.
#[allow(clippy::large_enum_variant)]
enum Msg {
    Entry(Capture),
    Flush(oneshot::Sender<()>),
}

/// The queue, its counters and the writer's settings.
pub struct RequestLog {
    settings: RequestLogConfig,
    /// `history.retention_days`: the resource history is pruned with the log.
    history_retention_days: Option<u32>,
    tx: mpsc::Sender<Msg>,
    rx: Mutex<Option<mpsc::Receiver<Msg>>>,
    dropped: AtomicU64,
    written: AtomicU64,
    /// Bytes held by the entries in the queue (`request_log.queue_bytes` bounds it).
    queued_bytes: AtomicUsize,
    /// The writer takes this before each batch; [`RequestLog::hold`] blocks it (tests).
    gate: RwLock<()>,
    /// Ends the writer's batching window early: a batch is full or a flush is waiting.
    wake: Notify,
    /// Buffers of written captures, for new ones.
    spare: Mutex<Vec<Vec<u8>>>,
    /// Full entries of requests without a known token in the current minute.
    anonymous: Mutex<Sampler>,
    /// Requests without a known token not logged in full (over `anonymous_per_minute`).
    sampled_out: AtomicU64,
    /// Bytes of text and bodies written since the file's size was last checked.
    unchecked_bytes: AtomicU64,
}

/// Counts of requests without a known token logged in full this minute, by tenant (`""` when
/// the URL's tenant does not exist) and status: a few keys, cleared every minute.
#[derive(Default)]
struct Sampler {
    since: Option<std::time::Instant>,
    counts: std::collections::HashMap<u16, std::collections::HashMap<String, u32>>,
}

impl Sampler {
    const WINDOW: Duration = Duration::from_secs(60);

    /// Whether one more request of `tenant` answered `status` may be logged in full.
    fn admit(&mut self, tenant: &str, status: u16, limit: u32, now: std::time::Instant) -> bool {
        if self
            .since
            .is_none_or(|s| now.duration_since(s) >= Self::WINDOW)
        {
            self.since = Some(now);
            self.counts.clear();
        }
        let by_tenant = self.counts.entry(status).or_default();
        let n = match by_tenant.get_mut(tenant) {
            Some(n) => n,
            None => by_tenant.entry(tenant.to_owned()).or_default(),
        };
        if *n >= limit {
            return false;
        }
        *n += 1;
        true
    }
}

impl RequestLog {
    pub fn new(settings: RequestLogConfig) -> Self {
        let (tx, rx) = mpsc::channel(settings.queue_size.max(1));
        Self {
            settings,
            history_retention_days: None,
            tx,
            rx: Mutex::new(Some(rx)),
            dropped: AtomicU64::new(0),
            written: AtomicU64::new(0),
            queued_bytes: AtomicUsize::new(0),
            gate: RwLock::new(()),
            wake: Notify::new(),
            spare: Mutex::new(Vec::new()),
            anonymous: Mutex::new(Sampler::default()),
            sampled_out: AtomicU64::new(0),
            unchecked_bytes: AtomicU64::new(0),
        }
    }

    /// Prunes the resource history too, at each of the log's prunes: changes older than
    /// `days` go.
    #[must_use]
    pub fn pruning_history(mut self, days: u32) -> Self {
        self.history_retention_days = Some(days);
        self
    }

    /// Whether requests are recorded.
    pub fn enabled(&self) -> bool {
        self.settings.enabled
    }

    /// Most bytes of a body worth capturing.
    pub fn body_cap(&self) -> usize {
        self.settings.max_body_bytes
    }

    /// Most bytes of a text field (path, query, tenant, token, User-Agent) worth capturing.
    pub fn field_cap(&self) -> usize {
        self.settings.max_field_bytes
    }

    /// Whether a request that carried no known token is logged in full: at most
    /// `anonymous_per_minute` per tenant (`""` when unknown) and status; the rest are counted
    /// in [`RequestLog::sampled_out`]. A flood of such requests, which anyone can send, then
    /// costs the log's disk a bounded amount, while every request of a known token is kept.
    pub fn admit_anonymous(&self, tenant: &str, status: u16) -> bool {
        let limit = self.settings.anonymous_per_minute;
        let admitted = self
            .anonymous
            .lock()
            .is_ok_and(|mut s| s.admit(tenant, status, limit, std::time::Instant::now()));
        if !admitted {
            self.sampled_out.fetch_add(1, Ordering::Relaxed);
        }
        admitted
    }

    /// Requests without a known token not logged in full, since start.
    pub fn sampled_out(&self) -> u64 {
        self.sampled_out.load(Ordering::Relaxed)
    }

    /// An empty capture buffer with room for `bytes`, reusing a written capture's if any.
    pub fn buffer(&self, bytes: usize) -> CaptureBuffer {
        let spare = self.spare.lock().ok().and_then(|mut spare| spare.pop());
        match spare {
            Some(buffer) => CaptureBuffer::reusing(buffer),
            None => CaptureBuffer::with_capacity(bytes),
        }
    }

    /// Keeps the buffers of written captures for new ones, up to [`SPARE_BUFFERS`].
    fn recycle(&self, written: Vec<Capture>) {
        let Ok(mut spare) = self.spare.lock() else {
            return;
        };
        let room = SPARE_BUFFERS.saturating_sub(spare.len());
        spare.extend(
            written
                .into_iter()
                .map(|c| c.parts.bytes)
                .filter(|b| b.capacity() <= SPARE_BUFFER_BYTES)
                .take(room),
        );
    }

    /// Queues a capture without waiting; a full queue (in entries or in bytes) drops it and
    /// counts the drop.
    pub fn submit(&self, c: Capture) {
        let size = c.size();
        let before = self.queued_bytes.fetch_add(size, Ordering::Relaxed);
        if before + size > self.settings.queue_bytes || self.tx.try_send(Msg::Entry(c)).is_err() {
            self.queued_bytes.fetch_sub(size, Ordering::Relaxed);
            self.dropped.fetch_add(1, Ordering::Relaxed);
        } else if self.writer_wanted() {
            self.wake.notify_one();
        }
    }

    /// Whether the writer should stop waiting for its batching window: a full batch waits, or
    /// half the queue (in entries or in bytes), so a queue is written before it can fill and
    /// drop entries.
    fn writer_wanted(&self) -> bool {
        self.queue_depth() >= BATCH_SIZE.min(self.tx.max_capacity().div_ceil(2))
            || self.queued_bytes.load(Ordering::Relaxed) >= self.settings.queue_bytes / 2
    }

    /// The writer took `batch` off the queue.
    fn dequeued(&self, batch: &[Capture]) {
        let size = batch.iter().map(Capture::size).sum();
        self.queued_bytes.fetch_sub(size, Ordering::Relaxed);
    }

    /// Entries waiting for the writer.
    pub fn queue_depth(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    /// Entries dropped because the queue was full, since start.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Entries written since start.
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    /// Stops the writer until the guard is dropped: the test hook for queue overflow.
    pub async fn hold(&self) -> rocket::tokio::sync::RwLockWriteGuard<'_, ()> {
        self.gate.write().await
    }

    /// Runs the writer until the process ends. Only the first call gets the queue.
    pub async fn run_writer(&self, store: Store) {
        let Some(mut rx) = self.rx.lock().ok().and_then(|mut r| r.take()) else {
            return;
        };
        // Pruned once before the first entry is written, so what a restart finds is pruned
        // at once and no later prune lands between a batch and the caller's flush; then every
        // interval.
        self.prune_logged(&store).await;
        let start = rocket::tokio::time::Instant::now() + PRUNE_INTERVAL;
        let mut prune = rocket::tokio::time::interval_at(start, PRUNE_INTERVAL);
        loop {
            let first = rocket::tokio::select! {
                m = rx.recv() => match m {
                    Some(m) => m,
                    None => return,
                },
                _ = prune.tick() => {
                    self.prune_logged(&store).await;
                    continue;
                }
            };
            let _gate = self.gate.read().await;
            let mut acks = Vec::new();
            let mut batch = Vec::new();
            match first {
                Msg::Entry(c) => {
                    batch.push(c);
                    // Sleep while the batch fills instead of waking for each entry: a wake-up
                    // per SCIM request (a futex and a context switch) would cost more than
                    // writing its row. A full batch or a flush cuts the window short.
                    if !self.writer_wanted() {
                        let window = rocket::tokio::time::sleep(BATCH_WINDOW);
                        rocket::tokio::select! {
                            () = window => {}
                            () = self.wake.notified() => {}
                        }
                    }
                }
                Msg::Flush(ack) => acks.push(ack),
            }
            while acks.is_empty() && batch.len() < BATCH_SIZE {
                match rx.try_recv() {
                    Ok(Msg::Entry(c)) => batch.push(c),
                    Ok(Msg::Flush(ack)) => acks.push(ack),
                    Err(_) => break,
                }
            }
            self.write(&store, batch).await;
            for ack in acks {
                let _ = ack.send(());
            }
        }
    }

    /// Converts and inserts a batch; a failed write is logged and the batch counted as dropped
    /// (retrying would let a broken disk grow the queue without bound).
    async fn write(&self, store: &Store, batch: Vec<Capture>) {
        self.dequeued(&batch);
        if batch.is_empty() {
            return;
        }
        let n = batch.len() as u64;
        let caps = (self.settings.max_body_bytes, self.settings.max_field_bytes);
        let bytes: u64 = batch.iter().map(|c| c.parts.bytes.len() as u64).sum();
        // Each capture is converted (redaction, IdP, error fields) on the log's writer thread
        // just before its row is inserted: the few strings a row adds to its capture's are
        // made and freed on one thread, one entry at a time, which malloc serves from its
        // per-thread cache.
        let result = match tenant_ids(store, &batch).await {
            Ok(ids) => {
                store
                    .write_log(move |c| {
                        let mut inserter = rows::Inserter::new(c)?;
                        for capture in &batch {
                            let tenant = capture.parts.get(Field::Tenant).unwrap_or_default();
                            let tenant_id = ids.get(tenant).copied();
                            insert_row(c, &mut inserter, capture, caps, tenant_id)?;
                        }
                        Ok(batch)
                    })
                    .await
            }
            Err(e) => Err(e),
        };
        match result {
            Ok(written) => {
                self.written.fetch_add(n, Ordering::Relaxed);
                self.recycle(written);
                // The file's size is checked every sixteenth of its bound written, not only
                // at the prune interval: a busy log must not outgrow its bound in between.
                let unchecked = self.unchecked_bytes.fetch_add(bytes, Ordering::Relaxed) + bytes;
                if unchecked >= self.settings.max_bytes / 16 {
                    self.unchecked_bytes.store(0, Ordering::Relaxed);
                    let max_bytes = self.settings.max_bytes;
                    match store
                        .write_log(move |c| rows::prune_to_bytes(c, max_bytes))
                        .await
                    {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(
                            "pruned {n} request log entries to keep request_log.max_bytes"
                        ),
                        Err(e) => tracing::warn!("request log pruning failed: {e}"),
                    }
                }
            }
            Err(e) => {
                tracing::warn!("could not write {n} request log entries: {e}");
                self.dropped.fetch_add(n, Ordering::Relaxed);
            }
        }
    }

    /// Waits until every entry queued before this call is written (graceful shutdown, tests).
    /// Without a running writer (e.g. the CLI), drains the queue itself.
    pub async fn flush(&self, store: &Store) {
        let idle = self.rx.lock().ok().and_then(|mut r| r.take());
        if let Some(mut rx) = idle {
            let mut batch = Vec::new();
            while let Ok(Msg::Entry(c)) = rx.try_recv() {
                batch.push(c);
            }
            self.write(store, batch).await;
            if let Ok(mut slot) = self.rx.lock() {
                *slot = Some(rx);
            }
            return;
        }
        let (ack, done) = oneshot::channel();
        let sent = rocket::tokio::time::timeout(FLUSH_TIMEOUT, self.tx.send(Msg::Flush(ack))).await;
        self.wake.notify_one();
        if matches!(sent, Ok(Ok(()))) {
            let _ = rocket::tokio::time::timeout(FLUSH_TIMEOUT, done).await;
        }
    }

    /// The writer's background prune: a failure is logged, and retried at the next interval.
    async fn prune_logged(&self, store: &Store) {
        if let Err(e) = self.prune(store, clock::now()).await {
            tracing::warn!("request log pruning failed: {e}");
        }
    }

    /// Deletes entries past `retention_days`, beyond `max_rows` or over `max_bytes`.
    pub async fn prune(&self, store: &Store, now: OffsetDateTime) -> Result<usize, StoreError> {
        let days = i64::from(self.settings.retention_days);
        let before = clock::timestamp(now - time::Duration::days(days));
        let (max_rows, max_bytes) = (self.settings.max_rows, self.settings.max_bytes);
        let n = store
            .write_log(move |c| {
                Ok(rows::prune(c, &before, max_rows)? + rows::prune_to_bytes(c, max_bytes)?)
            })
            .await?;
        if n > 0 {
            tracing::info!("pruned {n} request log entries");
        }
        if let Some(days) = self.history_retention_days {
            let h = super::history::prune(store, now, days).await?;
            if h > 0 {
                tracing::info!("pruned {h} resource history changes");
            }
        }
        Ok(n)
    }
}

/// The ids of the tenants a batch names (the log's file cannot join the main one's tenants
/// while writing); a slug that names no tenant is left out and stored with a NULL id.
async fn tenant_ids(
    store: &Store,
    batch: &[Capture],
) -> Result<std::collections::HashMap<String, i64>, StoreError> {
    // A batch names a few tenants: one string per tenant, not one per entry.
    let slugs: Vec<String> = batch
        .iter()
        .map(|c| c.parts.get(Field::Tenant).unwrap_or_default())
        .collect::<std::collections::BTreeSet<&str>>()
        .into_iter()
        .map(str::to_owned)
        .collect();
    store
        .read(move |c| {
            let mut ids = std::collections::HashMap::new();
            for slug in slugs {
                if let Some(t) = crate::store::tenants::by_slug(c, &slug)? {
                    ids.insert(slug, t.id);
                }
            }
            Ok(ids)
        })
        .await
}

/// `/Users/<id>` or `/Groups/<id>` (after any tenant prefix) → (type, id).
fn resource_of(path: &str) -> (Option<&'static str>, Option<Cow<'_, str>>) {
    let tail = path.split("/scim/v2/").nth(1).unwrap_or_default();
    let mut parts = tail.split('/');
    let rt = match parts.next() {
        Some("Users") => Some("User"),
        Some("Groups") => Some("Group"),
        _ => None,
    };
    let id = parts
        .next()
        .filter(|s| !s.is_empty() && !s.starts_with('.'))
        .map(|s| percent_encoding::percent_decode_str(s).decode_utf8_lossy());
    (rt, id)
}

/// The parts of a SCIM response the log keeps in columns.
#[derive(Default, serde::Deserialize)]
struct ResponseFields {
    id: Option<String>,
    // The token endpoint's errors are RFC 6749 §5.2 `error` and `error_description`.
    #[serde(rename = "scimType", alias = "error")]
    scim_type: Option<String>,
    #[serde(alias = "error_description")]
    detail: Option<String>,
}

/// Inserts the row of a capture: redacted bodies, IdP, error fields, resource. Its text is
/// bound from the capture itself wherever it can be, since SQLite copies what it binds.
fn insert_row(
    conn: &crate::store::Conn,
    inserter: &mut rows::Inserter<'_>,
    c: &Capture,
    (cap, field_cap): (usize, usize),
    tenant_id: Option<i64>,
) -> crate::store::Result<()> {
    let text = |field| c.parts.get(field);
    let path = text(Field::Path).unwrap_or_default();
    let (resource_type, mut resource_id) = resource_of(path);
    let (request, request_complete) = c.parts.body(Field::RequestBody);
    let (response, response_complete) = c.parts.body(Field::ResponseBody);
    // Only a creation's id and an error's scimType/detail are read from the response, so
    // the response is parsed only then, and only into those fields.
    let fields = if response_complete && (c.status == 201 || c.status >= 400) {
        serde_json::from_slice::<ResponseFields>(response).unwrap_or_default()
    } else {
        ResponseFields::default()
    };
    if resource_id.is_none() && c.status == 201 {
        resource_id = fields.id.map(Cow::Owned);
    }
    let (scim_type, detail) = if c.status >= 400 {
        (fields.scim_type, fields.detail)
    } else {
        (None, None)
    };
    let (request_body, request_truncated) =
        redact_body_in(request, request_complete, cap, &c.secrets);
    let (response_body, response_truncated) =
        redact_body_in(response, response_complete, cap, &c.secrets);
    // The detail may echo what the client sent (an unknown tenant's slug): capped like the
    // fields captured from the request.
    let detail = detail.map(|d| match d.floor_char_boundary(field_cap) {
        end if end < d.len() => (d[..end].to_owned(), true),
        _ => (d, false),
    });
    let scim_type = scim_type.filter(|t| t.len() <= field_cap);
    let truncated_fields = truncated_fields(c, detail.as_ref().is_some_and(|d| d.1));
    let detail = detail.map(|d| d.0);
    let user_agent = text(Field::UserAgent);
    let time = clock::timestamp(c.time.unwrap_or_else(clock::now));
    let client_ip = c.client_ip.map(|ip| ip.to_string());
    // The usual request needed no normalisation: no allocation then.
    let quirk_ids: Vec<&str> = c.quirks.applied().map(Quirk::id).collect();
    let quirks = (!quirk_ids.is_empty()).then(|| quirk_ids.join(","));
    let ignored = (!c.quirks.ignored().is_empty())
        .then(|| serde_json::to_string(c.quirks.ignored()).unwrap_or_default());
    let row = LogRow {
        id: 0,
        time: time.as_str(),
        idp: diagnosis::idp_from_user_agent(user_agent),
        tenant: text(Field::Tenant).unwrap_or_default(),
        token_id: text(Field::TokenId),
        token_name: text(Field::TokenName),
        client_ip: client_ip.as_deref(),
        user_agent,
        method: c.method,
        path,
        query: text(Field::Query),
        status: c.status,
        latency_ms: c.latency_ms,
        resource_type,
        resource_id: resource_id.as_deref(),
        scim_type: scim_type.as_deref(),
        detail: detail.as_deref(),
        request_body: request_body.as_deref(),
        response_body: response_body.as_deref(),
        request_truncated,
        response_truncated,
        truncated_fields: truncated_fields.as_deref(),
        request_id: text(Field::RequestId),
        quirks: quirks.as_deref(),
        ignored_attributes: ignored.as_deref(),
    };
    inserter.insert(&row, tenant_id)?;
    if let (Some(token_id), Some(tenant_id)) = (row.token_id, tenant_id)
        && !quirk_ids.is_empty()
    {
        rows::count_quirks(
            conn,
            tenant_id,
            token_id,
            &time,
            &quirk_ids,
            c.quirks.ignored(),
        )?;
    }
    Ok(())
}

/// The text fields of a capture cut to their cap, as `truncated_fields` stores them; `None`
/// (no allocation) for the usual entry, where none was.
fn truncated_fields(c: &Capture, detail_cut: bool) -> Option<String> {
    let cut = Field::TEXT
        .into_iter()
        .filter(|f| c.parts.is_cut(*f))
        .map(Field::name)
        .chain(detail_cut.then_some("detail"));
    let mut names: Option<String> = None;
    for name in cut {
        let s = names.get_or_insert_with(String::new);
        if !s.is_empty() {
            s.push(',');
        }
        s.push_str(name);
    }
    names
}

/// `{"id", "name"}` of a token.
#[derive(Debug, Clone, Serialize)]
pub struct TokenRef {
    pub id: String,
    pub name: String,
}

/// A log entry as the admin API and CLI show it.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub id: i64,
    pub time: String,
    pub tenant: String,
    pub token: Option<TokenRef>,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub idp: String,
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub status: u16,
    pub latency_ms: f64,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    /// The `X-Request-Id` the client sent or scimd made, as the response carried it.
    pub request_id: Option<String>,
    pub scim_type: Option<String>,
    pub detail: Option<String>,
    /// Text fields stored cut to `request_log.max_field_bytes` (`path`, `query`, `detail`, …).
    pub truncated_fields: Vec<String>,
    /// The IdP dialect scimd normalised for this request (issue 21).
    pub quirks: Vec<QuirkNote>,
    /// Attributes no schema of the tenant defines that scimd ignored, as sent.
    pub ignored_attributes: Vec<String>,
    pub diagnosis: Option<Diagnosis>,
}

/// A quirk as the UI shows it.
#[derive(Debug, Clone, Serialize)]
pub struct QuirkNote {
    pub id: &'static str,
    /// "string booleans": what the integration sends, for "this integration sends …".
    pub label: &'static str,
    pub explanation: &'static str,
}

impl From<Quirk> for QuirkNote {
    fn from(q: Quirk) -> Self {
        Self {
            id: q.id(),
            label: q.label(),
            explanation: q.explanation(),
        }
    }
}

/// The quirks of a stored `quirks` column, in table order; unknown ids (a newer scimd wrote
/// them) are skipped.
fn stored_quirks(column: Option<&str>) -> Vec<Quirk> {
    let mut out: Vec<Quirk> = column
        .unwrap_or_default()
        .split(',')
        .filter_map(Quirk::from_id)
        .collect();
    out.sort();
    out
}

/// One entry with its bodies.
#[derive(Debug, Clone, Serialize)]
pub struct FullEntry {
    #[serde(flatten)]
    pub entry: Entry,
    pub request_body: Option<String>,
    pub response_body: Option<String>,
    pub request_truncated: bool,
    pub response_truncated: bool,
}

/// A page of search results.
#[derive(Debug, Clone, Serialize)]
pub struct Page {
    pub total: u64,
    pub page: u64,
    pub per_page: u64,
    pub items: Vec<Entry>,
}

/// Search parameters as the admin API and CLI receive them (strings, validated here).
#[derive(Debug, Clone, Default)]
pub struct SearchParams {
    pub tenant: Option<String>,
    /// An HTTP status or `errors`.
    pub status: Option<String>,
    pub token: Option<String>,
    pub idp: Option<String>,
    pub resource: Option<String>,
    /// An `X-Request-Id`, exactly.
    pub request_id: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub page: Option<u64>,
    pub per_page: Option<u64>,
}

/// Largest page of a search.
pub const MAX_PER_PAGE: u64 = 200;
const DEFAULT_PER_PAGE: u64 = 50;

fn time_bound(name: &str, v: Option<&str>) -> Result<Option<String>, OpError> {
    v.map(|s| {
        clock::normalize(s).ok_or_else(|| {
            OpError::Invalid(format!(
                "{name} = \"{s}\" is not an RFC 3339 time such as 2024-05-13T04:42:34Z"
            ))
        })
    })
    .transpose()
}

fn filter(p: &SearchParams) -> Result<LogFilter, OpError> {
    let (status, errors_only) = match p.status.as_deref() {
        None | Some("") => (None, false),
        Some("errors") => (None, true),
        Some(s) => (
            Some(s.parse::<u16>().map_err(|_| {
                OpError::Invalid(format!(
                    "status = \"{s}\" must be an HTTP status such as 401, or \"errors\""
                ))
            })?),
            false,
        ),
    };
    if let Some(idp) = p.idp.as_deref()
        && !diagnosis::IDPS.contains(&idp)
    {
        return Err(OpError::Invalid(format!(
            "idp = \"{idp}\" must be one of {}",
            diagnosis::IDPS.join(", ")
        )));
    }
    Ok(LogFilter {
        tenant: p.tenant.clone(),
        status,
        errors_only,
        token_id: p.token.clone(),
        idp: p.idp.clone(),
        resource_id: p.resource.clone(),
        request_id: p.request_id.clone().filter(|r| !r.is_empty()),
        since: time_bound("since", p.since.as_deref())?,
        until: time_bound("until", p.until.as_deref())?,
    })
}

/// Searches the log, newest first, with a diagnosis on each entry.
pub fn search(store: &Store, p: &SearchParams) -> Result<Page, OpError> {
    let f = filter(p)?;
    let page = p.page.unwrap_or(1).max(1);
    let per_page = p.per_page.unwrap_or(DEFAULT_PER_PAGE);
    if !(1..=MAX_PER_PAGE).contains(&per_page) {
        return Err(OpError::Invalid(format!(
            "per_page must be between 1 and {MAX_PER_PAGE}"
        )));
    }
    let offset = (page - 1).saturating_mul(per_page);
    store
        .read_blocking(|c| {
            let (total, found) = rows::search(c, &f, offset, per_page)?;
            let items = found
                .into_iter()
                .map(|r| entry(c, r))
                .collect::<crate::store::Result<Vec<_>>>()?;
            Ok(Page {
                total,
                page,
                per_page,
                items,
            })
        })
        .map_err(internal)
}

/// One entry with bodies; `NotFound` if there is none with this id.
pub fn show(store: &Store, id: i64) -> Result<FullEntry, OpError> {
    store
        .read_blocking(|c| {
            let Some(mut r) = rows::get(c, id)? else {
                return Ok(None);
            };
            let (request_body, response_body) = (r.request_body.take(), r.response_body.take());
            let (request_truncated, response_truncated) =
                (r.request_truncated, r.response_truncated);
            let e = entry_with_body(c, r, request_body.as_deref())?;
            Ok(Some(FullEntry {
                entry: e,
                request_body,
                response_body,
                request_truncated,
                response_truncated,
            }))
        })
        .map_err(internal)?
        .ok_or_else(|| OpError::NotFound(format!("there is no request log entry {id}")))
}

fn entry(c: &crate::store::Conn, r: LogRow) -> crate::store::Result<Entry> {
    // Quirk notes need the request body; a list does not load bodies, so only failures are
    // diagnosed there (the detail view diagnoses successes too).
    entry_with_body(c, r, None)
}

fn entry_with_body(
    c: &crate::store::Conn,
    r: LogRow,
    request_body: Option<&str>,
) -> crate::store::Result<Entry> {
    let deletion = match (r.status, &r.resource_type, &r.resource_id) {
        (404, Some(rt), Some(id)) => rows::deletion(c, &r.tenant, rt, id)?,
        _ => None,
    };
    let quirks = stored_quirks(r.quirks.as_deref());
    let ignored: Vec<String> = r
        .ignored_attributes
        .as_deref()
        .and_then(|j| serde_json::from_str(j).ok())
        .unwrap_or_default();
    let diagnosis = diagnosis::diagnose(&Observed {
        status: r.status,
        scim_type: r.scim_type.as_deref(),
        detail: r.detail.as_deref(),
        method: &r.method,
        path: &r.path,
        idp: &r.idp,
        resource_type: r.resource_type.as_deref(),
        resource_id: r.resource_id.as_deref(),
        request_body,
        deleted: deletion.as_ref().map(|h| Deletion {
            time: &h.time,
            token_name: h.token_name.as_deref(),
            idp: h.idp.as_deref(),
        }),
        token_name: r.token_name.as_deref(),
        quirks: &quirks,
        ignored: &ignored,
    });
    Ok(Entry {
        id: r.id,
        time: r.time,
        tenant: r.tenant,
        token: match (r.token_id, r.token_name) {
            (Some(id), Some(name)) => Some(TokenRef { id, name }),
            _ => None,
        },
        client_ip: r.client_ip,
        user_agent: r.user_agent,
        idp: r.idp,
        method: r.method,
        path: r.path,
        query: r.query,
        status: r.status,
        latency_ms: r.latency_ms,
        resource_type: r.resource_type,
        resource_id: r.resource_id,
        request_id: r.request_id,
        scim_type: r.scim_type,
        detail: r.detail,
        truncated_fields: r
            .truncated_fields
            .as_deref()
            .map(|f| f.split(',').map(str::to_owned).collect())
            .unwrap_or_default(),
        quirks: quirks.into_iter().map(QuirkNote::from).collect(),
        ignored_attributes: ignored,
        diagnosis,
    })
}

/// The newest error of a token.
#[derive(Debug, Clone, Serialize)]
pub struct LastError {
    pub time: String,
    pub status: u16,
    pub detail: Option<String>,
}

/// Integration health of one token.
#[derive(Debug, Clone, Serialize)]
pub struct TokenHealth {
    pub id: String,
    pub name: String,
    pub last_success: Option<String>,
    pub last_error: Option<LastError>,
    /// Share of failed requests over the last 24 hours, 0.0–1.0.
    pub error_rate_24h: f64,
    /// Requests over the last 24 hours per IdP.
    pub requests_by_idp: serde_json::Map<String, Value>,
    /// The User-Agent of the newest request, from the log (a token's `last_used_agent` is
    /// written at most once a minute).
    pub user_agent: Option<String>,
    /// The integration's quirk profile: each normalisation its requests needed, in table
    /// order (issue 21).
    pub quirks: Vec<ProfileLine>,
    /// Attributes no schema defines that it sent (ignored), most recent first.
    pub ignored_attributes: Vec<IgnoredLine>,
    /// Requests that carried undeclared attributes, since the first.
    pub ignored_requests: u64,
}

/// One quirk of an integration's profile.
#[derive(Debug, Clone, Serialize)]
pub struct ProfileLine {
    #[serde(flatten)]
    pub quirk: QuirkNote,
    pub requests: u64,
    pub first_seen: String,
    pub last_seen: String,
}

/// One undeclared attribute an integration sent.
#[derive(Debug, Clone, Serialize)]
pub struct IgnoredLine {
    pub name: String,
    pub requests: u64,
    pub first_seen: String,
    pub last_seen: String,
}

/// A token's profile as the health view shows it.
fn profile(
    c: &crate::store::Conn,
    token_id: &str,
) -> crate::store::Result<(Vec<ProfileLine>, Vec<IgnoredLine>, u64)> {
    let (seen, ignored) = rows::token_profile(c, token_id)?;
    let mut lines: Vec<(Quirk, ProfileLine)> = seen
        .into_iter()
        .filter_map(|s| {
            let q = Quirk::from_id(&s.what)?;
            Some((
                q,
                ProfileLine {
                    quirk: q.into(),
                    requests: s.requests,
                    first_seen: s.first_seen,
                    last_seen: s.last_seen,
                },
            ))
        })
        .collect();
    lines.sort_by_key(|(q, _)| *q);
    let ignored_requests = lines
        .iter()
        .find(|(q, _)| *q == Quirk::IgnoredAttributes)
        .map_or(0, |(_, l)| l.requests);
    let ignored = ignored
        .into_iter()
        .map(|s| IgnoredLine {
            name: s.what,
            requests: s.requests,
            first_seen: s.first_seen,
            last_seen: s.last_seen,
        })
        .collect();
    Ok((
        lines.into_iter().map(|(_, l)| l).collect(),
        ignored,
        ignored_requests,
    ))
}

/// The log's own state.
#[derive(Debug, Clone, Serialize)]
pub struct LogHealth {
    pub queue_depth: usize,
    pub dropped: u64,
}

/// `GET /api/health`.
#[derive(Debug, Clone, Serialize)]
pub struct Health {
    pub tokens: Vec<TokenHealth>,
    pub log: LogHealth,
}

/// Health of every token of a tenant.
pub fn health(store: &Store, log: &RequestLog, tenant_slug: &str) -> Result<Health, OpError> {
    let since = clock::timestamp(clock::now() - time::Duration::hours(24));
    let slug = tenant_slug.to_owned();
    let tokens = store
        .read_blocking(|c| {
            let Some(tenant) = crate::store::tenants::by_slug(c, &slug)? else {
                return Ok(None);
            };
            let mut out = Vec::new();
            let tokens = crate::store::tokens::list(c, Some(tenant.id))?
                .into_iter()
                .map(|t| (t.id, t.name));
            // OAuth clients are integrations too: the log names them like tokens.
            let clients = crate::store::oauth::list(c, Some(tenant.id))?
                .into_iter()
                .map(|o| (o.id, o.name));
            let issuers = crate::store::oauth::issuers(c, Some(tenant.id))?
                .into_iter()
                .map(|i| (i.id, i.name));
            for t in tokens.chain(clients).chain(issuers) {
                let t = TokenRef { id: t.0, name: t.1 };
                let f = rows::token_figures(c, &t.id, &since)?;
                let (quirks, ignored_attributes, ignored_requests) = profile(c, &t.id)?;
                out.push(TokenHealth {
                    quirks,
                    ignored_attributes,
                    ignored_requests,
                    last_success: f.last_success,
                    last_error: f.last_error.map(|(time, status, detail)| LastError {
                        time,
                        status,
                        detail,
                    }),
                    error_rate_24h: if f.requests_since == 0 {
                        0.0
                    } else {
                        f.errors_since as f64 / f.requests_since as f64
                    },
                    requests_by_idp: f
                        .by_idp
                        .into_iter()
                        .map(|(k, n)| (k, Value::from(n)))
                        .collect(),
                    user_agent: f.user_agent,
                    id: t.id,
                    name: t.name,
                });
            }
            Ok(Some(out))
        })
        .map_err(internal)?
        .ok_or_else(|| OpError::NotFound(format!("there is no tenant \"{tenant_slug}\"")))?;
    Ok(Health {
        tokens,
        log: LogHealth {
            queue_depth: log.queue_depth(),
            dropped: log.dropped(),
        },
    })
}

fn internal(e: StoreError) -> OpError {
    tracing::error!("request log store failure: {e}");
    OpError::Internal(format!("the database failed: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_capture_buffer_gives_back_each_field_as_set() {
        let mut parts = CaptureBuffer::with_capacity(8);
        parts.set(Field::Path, "/scim/v2/Users");
        parts.set_body(Field::ResponseBody, b"{\"userName\":\"bjensen\"}", 64);
        parts.set(Field::UserAgent, "Okta SCIM Client 1.0.0");
        parts.set(Field::Tenant, "");
        assert_eq!(parts.get(Field::Path), Some("/scim/v2/Users"));
        assert_eq!(parts.get(Field::UserAgent), Some("Okta SCIM Client 1.0.0"));
        assert_eq!(parts.get(Field::Tenant), Some(""));
        assert_eq!(parts.get(Field::Query), None);
        assert_eq!(
            parts.body(Field::ResponseBody),
            (&b"{\"userName\":\"bjensen\"}"[..], true)
        );
        assert_eq!(parts.body(Field::RequestBody), (&b""[..], true));
    }

    #[test]
    fn a_body_over_the_cap_is_cut_to_the_cap() {
        let mut parts = CaptureBuffer::default();
        parts.set_body(Field::RequestBody, b"{\"userName\":\"bjensen\"}", 5);
        assert_eq!(parts.body(Field::RequestBody), (&b"{\"use"[..], false));
    }

    /// Request threads take the buffers of written captures instead of allocating what the
    /// writer thread would free; a large one is freed rather than kept.
    #[rocket::async_test]
    async fn written_capture_buffers_are_reused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("s.db")).expect("store");
        let log = RequestLog::new(RequestLogConfig::default());
        let capture = |parts: CaptureBuffer| Capture {
            method: "GET",
            status: 200,
            parts,
            ..Capture::default()
        };
        let mut small = log.buffer(256);
        small.set(Field::Path, "/scim/v2/Users");
        let small_at = small.bytes.as_ptr();
        let mut large = log.buffer(SPARE_BUFFER_BYTES + 1);
        large.set(Field::Path, "/scim/v2/Groups");
        log.submit(capture(small));
        log.submit(capture(large));
        log.flush(&store).await;
        assert_eq!(log.written(), 2);

        let reused = log.buffer(256);
        assert_eq!(reused.bytes.as_ptr(), small_at, "the small buffer, again");
        assert_eq!(reused.get(Field::Path), None, "and empty");
        assert!(
            log.spare.lock().expect("spare").is_empty(),
            "the large one freed"
        );
    }

    /// Large captures (list pages) are bounded by their bytes, not only their number: past
    /// `queue_bytes` they are dropped and counted, and what the writer takes makes room again.
    #[rocket::async_test]
    async fn the_queue_holds_at_most_queue_bytes_of_captures() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("s.db")).expect("store");
        let log = RequestLog::new(RequestLogConfig {
            queue_bytes: 64 << 10,
            ..RequestLogConfig::default()
        });
        let large = || {
            let mut parts = log.buffer(20 << 10);
            parts.set_body(Field::ResponseBody, &[b'x'; 16 << 10], 16 << 10);
            Capture {
                parts,
                ..Capture::default()
            }
        };
        for _ in 0..10 {
            log.submit(large());
        }
        let held = log.queued_bytes.load(Ordering::Relaxed);
        assert!(held <= 64 << 10, "{held} bytes queued");
        assert_eq!((log.queue_depth(), log.dropped()), (3, 7));
        assert!(writer_woken(&log), "woken at half the bytes");

        log.flush(&store).await;
        assert_eq!(log.queued_bytes.load(Ordering::Relaxed), 0);
        log.submit(large());
        assert_eq!((log.queue_depth(), log.dropped()), (1, 7), "room again");
    }

    /// Whether the writer, were it waiting out its batching window now, would be woken.
    fn writer_woken(log: &RequestLog) -> bool {
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let woken = std::pin::pin!(log.wake.notified());
        woken.poll(&mut cx).is_ready()
    }

    /// A queue smaller than a batch would fill (and drop entries) while the writer waits for
    /// a full batch, so it is woken once half the queue is waiting; the default queue wakes it
    /// at a full batch.
    #[test]
    fn the_writer_is_woken_at_a_full_batch_or_half_a_small_queue() {
        for (queue_size, mark) in [(8, 4), (1, 1), (4096, BATCH_SIZE)] {
            let log = RequestLog::new(RequestLogConfig {
                queue_size,
                ..RequestLogConfig::default()
            });
            for depth in 1..=mark {
                log.submit(Capture::default());
                assert_eq!(
                    writer_woken(&log),
                    depth == mark,
                    "queue of {queue_size}, {depth} waiting"
                );
            }
        }
    }

    #[test]
    fn resources_from_paths() {
        assert_eq!(
            resource_of("/scim/v2/Users/abc"),
            (Some("User"), Some("abc".into()))
        );
        assert_eq!(
            resource_of("/t/acme/scim/v2/Groups/g%201"),
            (Some("Group"), Some("g 1".into()))
        );
        assert_eq!(resource_of("/scim/v2/Users/.search"), (Some("User"), None));
        assert_eq!(resource_of("/scim/v2/Schemas"), (None, None));
    }
}
