//! Webhooks (issue 23): the events outbox pushed to HTTPS endpoints, signed as Standard
//! Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256 of
//! id.timestamp.body>`). Managing endpoints (CLI, admin API) is here; so is [`Delivery`], the
//! background worker: one named thread per active endpoint, never on a request's path.
//!
//! Delivery is in `seq` order per endpoint and at least once: an event is retried, with the same
//! `webhook-id` (the event's id), until any 2xx; backoff doubles with jitter up to
//! `webhooks.retry_max_delay_secs`, honours `Retry-After`, and after `retry_for_secs` (3 days)
//! the endpoint is `failing` and its events wait for a replay. 410 disables it. Its cursor is
//! made durable when [`CURSOR_EVERY_EVENTS`] events or [`CURSOR_EVERY`] passed since the last
//! time (so at most one small write a second on the main writer, however slow or fast the
//! traffic), and when the endpoint's thread stops: after a crash the last events may come
//! again, with the same `webhook-id`, never an event lost.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use rand::Rng;
use serde::Serialize;
use sha2::Sha256;

use super::OpError;
use super::events::EventType;
use crate::clock;
use crate::config::WebhooksConfig;
use crate::outbound::{self, Client};
use crate::store::Store;
use crate::store::events as event_rows;
use crate::store::webhooks::{self as rows, Attempt, Backlog, Pending, Webhook};

/// Prefix of a Standard Webhooks secret; the rest is the key, base64.
pub const SECRET_PREFIX: &str = "whsec_";
/// Bytes of a new signing key (Standard Webhooks asks for 24 to 64).
const SECRET_BYTES: usize = 32;
/// The event type of `scimd webhook test` (never in the outbox).
pub const TEST_EVENT_TYPE: &str = "webhook.test";
/// The cursor is made durable at least every this many delivered events …
pub const CURSOR_EVERY_EVENTS: i64 = 500;
/// … or this often, whichever comes first.
pub const CURSOR_EVERY: Duration = Duration::from_secs(1);
/// Events read per page for one endpoint.
const PAGE: u32 = 200;
/// Attempts kept in memory before they are written to the request log's file.
const ATTEMPTS_BUFFER: usize = 200;
/// How often the supervisor looks for endpoints to start and checks backlogs.
const SUPERVISE_EVERY: Duration = Duration::from_secs(1);
const BACKLOG_EVERY: Duration = Duration::from_secs(10);

/// A new `whsec_` secret: 32 random bytes.
pub fn new_secret() -> String {
    let mut key = [0u8; SECRET_BYTES];
    rand::rng().fill(&mut key);
    format!("{SECRET_PREFIX}{}", BASE64.encode(key))
}

/// `v1,<signature>` for each secret, space-separated: what `webhook-signature` carries.
/// The signed content is `id.timestamp.body`, over the exact bytes sent.
pub fn sign(secrets: &[&str], id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut out = Vec::with_capacity(secrets.len());
    for secret in secrets {
        let encoded = secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret);
        let Ok(key) = BASE64.decode(encoded) else {
            continue;
        };
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&key) else {
            continue;
        };
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        out.push(format!("v1,{}", BASE64.encode(mac.finalize().into_bytes())));
    }
    out.join(" ")
}

/// The secrets that sign now: the current one, and the previous one until its expiry.
fn signing_secrets(w: &Webhook, now: &str) -> Vec<String> {
    let mut secrets = vec![w.secret.clone()];
    if let (Some(prev), Some(until)) = (&w.previous_secret, &w.previous_expires)
        && until.as_str() > now
    {
        secrets.push(prev.clone());
    }
    secrets
}

/// The outbound client with `[webhooks]`' bounds.
pub fn client(cfg: &WebhooksConfig) -> Client {
    Client::new(outbound::Limits {
        connect_timeout: Duration::from_secs(cfg.connect_timeout_secs),
        timeout: Duration::from_secs(cfg.timeout_secs),
        excerpt_bytes: cfg.response_excerpt_bytes,
    })
}

/// Sends one event, signed; returns the attempt as recorded and the answer's `Retry-After`.
fn send(
    client: &Client,
    w: &Webhook,
    seq: Option<i64>,
    event_id: &str,
    body: &str,
    attempt: u32,
) -> (Attempt, Option<String>) {
    let now = clock::now();
    let stamp = clock::timestamp(now);
    let ts = now.unix_timestamp();
    let secrets = signing_secrets(w, &stamp);
    let refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
    let signature = sign(&refs, event_id, ts, body.as_bytes());
    let ts = ts.to_string();
    let headers = [
        ("content-type", "application/json"),
        ("webhook-id", event_id),
        ("webhook-timestamp", ts.as_str()),
        ("webhook-signature", signature.as_str()),
    ];
    let (status, outcome, latency, excerpt, retry_after) =
        match client.post(&w.url, &headers, body.as_bytes()) {
            Ok(a) => {
                let outcome = if (200..300).contains(&a.status) {
                    "delivered"
                } else {
                    "rejected"
                };
                let excerpt = match &a.location {
                    Some(to) if (300..400).contains(&a.status) => {
                        format!("redirect to {to} not followed; {}", a.excerpt)
                    }
                    _ => a.excerpt,
                };
                (Some(a.status), outcome, a.latency, excerpt, a.retry_after)
            }
            Err(f) => (None, "failed", f.latency, f.message, None),
        };
    let attempt = Attempt {
        tenant_id: w.tenant_id,
        webhook_id: w.id.clone(),
        seq,
        event_id: event_id.to_owned(),
        attempt,
        time: stamp,
        status,
        outcome: outcome.to_owned(),
        latency_ms: u64::try_from(latency.as_millis()).unwrap_or(u64::MAX),
        excerpt,
    };
    (attempt, retry_after)
}

// ---------------------------------------------------------------------------------------------
// Managing endpoints (CLI and admin API; blocking, like `service::tokens`).

/// An endpoint with what it has yet to deliver.
#[derive(Debug, Clone, Serialize)]
pub struct Listed {
    #[serde(flatten)]
    pub webhook: Webhook,
    pub backlog: Backlog,
}

/// An endpoint and its newest attempts.
#[derive(Debug, Clone, Serialize)]
pub struct Detail {
    #[serde(flatten)]
    pub webhook: Webhook,
    pub backlog: Backlog,
    pub attempts: Vec<Attempt>,
}

/// A new endpoint and its secret, shown this once.
#[derive(Debug, Clone, Serialize)]
pub struct Created {
    pub webhook: Webhook,
    pub secret: String,
}

fn internal(what: &str) -> impl Fn(crate::store::StoreError) -> OpError + '_ {
    move |e| OpError::Internal(format!("{what} failed: {e}"))
}

fn tenant_id(store: &Store, slug: &str) -> Result<i64, OpError> {
    let s = slug.to_owned();
    store
        .read_blocking(|c| crate::store::tenants::by_slug(c, &s))
        .map_err(internal("reading the tenant"))?
        .map(|t| t.id)
        .ok_or_else(|| {
            OpError::NotFound(format!(
                "there is no tenant \"{slug}\"; `scimd tenant list` shows them"
            ))
        })
}

/// Checks an endpoint URL: absolute, https (or http with `webhooks.allow_http`), a host, no
/// credentials in it (it is shown in lists and logs).
pub fn check_url(url: &str, cfg: &WebhooksConfig) -> Result<(), OpError> {
    let bad = |why: &str| OpError::Invalid(format!("url: \"{url}\" {why}"));
    if url.len() > 2048 {
        return Err(bad("is longer than 2048 bytes"));
    }
    let uri: ureq3::http::Uri = url
        .parse()
        .map_err(|_| bad("is not a URL; use e.g. https://app.example.com/scimd-webhook"))?;
    match uri.scheme_str() {
        Some("https") => {}
        Some("http") if cfg.allow_http => {}
        Some("http") => {
            return Err(bad(
                "is plain http: events carry users' attributes, so use https (or set webhooks.allow_http = true for a receiver on a trusted network)",
            ));
        }
        _ => return Err(bad("must start with https://")),
    }
    let Some(authority) = uri.authority() else {
        return Err(bad("has no host"));
    };
    if authority.as_str().contains('@') {
        return Err(bad(
            "contains credentials: the receiver verifies the signature instead, so leave user:password out",
        ));
    }
    if authority.host().is_empty() {
        return Err(bad("has no host"));
    }
    Ok(())
}

/// Checks a type filter: every name an event type.
pub fn check_types(types: &[String]) -> Result<(), OpError> {
    if let Some(unknown) = types.iter().find(|t| EventType::parse(t).is_none()) {
        let known: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
        return Err(OpError::Invalid(format!(
            "types: \"{unknown}\" is not an event type; use a list of {} (or none for all)",
            known.join(", ")
        )));
    }
    Ok(())
}

/// Adds an endpoint to a tenant; it receives the events committed from now on.
pub fn add(
    store: &Store,
    cfg: &WebhooksConfig,
    tenant_slug: &str,
    url: &str,
    types: Vec<String>,
) -> Result<Created, OpError> {
    check_url(url, cfg)?;
    check_types(&types)?;
    let tenant_id = tenant_id(store, tenant_slug)?;
    let secret = new_secret();
    let now = clock::timestamp(clock::now());
    let mut webhook = Webhook {
        id: format!("wh_{}", uuid::Uuid::new_v4().simple()),
        tenant_id,
        tenant: tenant_slug.to_owned(),
        url: url.to_owned(),
        types,
        secret: secret.clone(),
        previous_secret: None,
        previous_expires: None,
        state: "active".into(),
        state_reason: None,
        state_since: now.clone(),
        cursor: 0,
        generation: 0,
        created: now,
    };
    let max = cfg.max_endpoints_per_tenant;
    let new = webhook.clone();
    let cursor = store
        .write_blocking(move |tx| {
            if rows::count_of_tenant(tx, new.tenant_id)? >= max {
                return Ok(None);
            }
            // In the writer: no event can commit between reading the head and the insert.
            let cursor = event_rows::head(tx)?.last;
            rows::insert(tx, &Webhook { cursor, ..new })?;
            Ok(Some(cursor))
        })
        .map_err(internal("adding the webhook"))?
        .ok_or_else(|| {
            OpError::Invalid(format!(
                "tenant \"{tenant_slug}\" already has {max} webhooks (webhooks.max_endpoints_per_tenant); remove one with `scimd webhook remove ID` or raise the limit"
            ))
        })?;
    webhook.cursor = cursor;
    Ok(Created { webhook, secret })
}

/// Every endpoint (of a tenant), with its backlog.
pub fn list(store: &Store, tenant_slug: Option<&str>) -> Result<Vec<Listed>, OpError> {
    let tenant = tenant_slug.map(|s| tenant_id(store, s)).transpose()?;
    store
        .read_blocking(|c| {
            rows::list(c, tenant)?
                .into_iter()
                .map(|w| {
                    let backlog = rows::backlog(c, w.tenant_id, w.cursor, &w.types)?;
                    Ok(Listed {
                        webhook: w,
                        backlog,
                    })
                })
                .collect()
        })
        .map_err(internal("listing webhooks"))
}

fn find(store: &Store, tenant_slug: Option<&str>, id: &str) -> Result<Webhook, OpError> {
    let tenant = tenant_slug.map(|s| tenant_id(store, s)).transpose()?;
    let key = id.to_owned();
    store
        .read_blocking(|c| rows::get(c, tenant, &key))
        .map_err(internal("reading the webhook"))?
        .ok_or_else(|| {
            OpError::NotFound(format!(
                "there is no webhook \"{id}\"{}; `scimd webhook list` shows them",
                tenant_slug.map_or_else(String::new, |t| format!(" in tenant \"{t}\""))
            ))
        })
}

/// An endpoint, its backlog and its newest `n` attempts.
pub fn show(store: &Store, tenant_slug: Option<&str>, id: &str, n: u32) -> Result<Detail, OpError> {
    let webhook = find(store, tenant_slug, id)?;
    let (backlog, attempts) = store
        .read_blocking(|c| {
            Ok((
                rows::backlog(c, webhook.tenant_id, webhook.cursor, &webhook.types)?,
                rows::recent_attempts(c, &webhook.id, n)?,
            ))
        })
        .map_err(internal("reading the webhook"))?;
    Ok(Detail {
        webhook,
        backlog,
        attempts,
    })
}

/// Delivers again the events after `after` (default: the endpoint's cursor, i.e. resume a
/// failing or disabled endpoint), and makes it active.
pub fn replay(
    store: &Store,
    tenant_slug: Option<&str>,
    id: &str,
    after: Option<i64>,
) -> Result<Webhook, OpError> {
    let w = find(store, tenant_slug, id)?;
    if after.is_none() && w.state == "active" {
        // Already delivering: its stored cursor trails the worker's, so going back to it
        // would only send the last events again.
        return Ok(w);
    }
    let after = after.unwrap_or(w.cursor);
    let position = store
        .read_blocking(event_rows::head)
        .map_err(internal("reading the events"))?;
    if after < 0 || after > position.last {
        return Err(OpError::Invalid(format!(
            "after: {after} is not a cursor of this server; use a number between {} and {} (the newest event)",
            position.pruned_through, position.last
        )));
    }
    if after < position.pruned_through {
        return Err(OpError::Invalid(format!(
            "after: the events up to {} were pruned (events.retention_days / events.max_bytes), so a replay starts at {} at the earliest; the receiver resynchronises from GET /events/snapshot for what is older",
            position.pruned_through, position.pruned_through
        )));
    }
    let now = clock::timestamp(clock::now());
    let key = w.id.clone();
    store
        .write_blocking(move |tx| rows::replay(tx, &key, after, &now))
        .map_err(internal("replaying"))?;
    find(store, tenant_slug, id)
}

/// A new secret; the current one keeps signing for `overlap` so receivers can switch.
pub fn rotate(
    store: &Store,
    tenant_slug: Option<&str>,
    id: &str,
    overlap: Duration,
) -> Result<Created, OpError> {
    let w = find(store, tenant_slug, id)?;
    let secret = new_secret();
    let until = clock::timestamp(
        clock::now() + time::Duration::try_from(overlap).unwrap_or(time::Duration::DAY),
    );
    let (key, new) = (w.id.clone(), secret.clone());
    store
        .write_blocking(move |tx| rows::rotate(tx, &key, &new, &until))
        .map_err(internal("rotating the secret"))?;
    Ok(Created {
        webhook: find(store, tenant_slug, id)?,
        secret,
    })
}

/// Stops deliveries to an endpoint until a replay.
pub fn disable(store: &Store, tenant_slug: Option<&str>, id: &str) -> Result<Webhook, OpError> {
    let w = find(store, tenant_slug, id)?;
    let now = clock::timestamp(clock::now());
    let key = w.id.clone();
    store
        // Not a new generation: the worker's last progress still counts, so a replay that
        // resumes from the cursor sends nothing twice.
        .write_blocking(move |tx| {
            rows::set_state(tx, &key, "disabled", Some("disabled by an admin"), &now)
        })
        .map_err(internal("disabling the webhook"))?;
    find(store, tenant_slug, id)
}

/// Removes an endpoint and its attempts.
pub fn remove(store: &Store, tenant_slug: Option<&str>, id: &str) -> Result<Webhook, OpError> {
    let w = find(store, tenant_slug, id)?;
    let key = w.id.clone();
    store
        .write_blocking(move |tx| rows::delete(tx, &key))
        .map_err(internal("removing the webhook"))?;
    let key = w.id.clone();
    store
        .write_log_blocking(move |tx| rows::delete_attempts(tx, &key))
        .map_err(internal("removing the webhook's attempts"))?;
    Ok(w)
}

/// Sends a `webhook.test` event now, whatever the endpoint's state, and records the attempt.
pub fn test(
    store: &Store,
    cfg: &WebhooksConfig,
    tenant_slug: Option<&str>,
    id: &str,
) -> Result<Attempt, OpError> {
    let w = find(store, tenant_slug, id)?;
    let event_id = format!("evt_{}", uuid::Uuid::new_v4().simple());
    let body = serde_json::json!({
        "schema_version": super::events::SCHEMA_VERSION,
        "id": event_id,
        "type": TEST_EVENT_TYPE,
        "tenant": w.tenant,
        "occurred_at": clock::timestamp(clock::now()),
        "webhook": w.id,
    })
    .to_string();
    let (attempt, _) = send(&client(cfg), &w, None, &event_id, &body, 1);
    let (record, keep) = (attempt.clone(), cfg.attempts_kept);
    store
        .write_log_blocking(move |tx| rows::insert_attempts(tx, &[record], keep))
        .map_err(internal("recording the attempt"))?;
    Ok(attempt)
}

// ---------------------------------------------------------------------------------------------
// Delivery.

/// Attempts by outcome, since the process started.
#[derive(Debug, Default)]
pub struct Counters {
    pub delivered: AtomicU64,
    pub rejected: AtomicU64,
    pub failed: AtomicU64,
}

/// The delivery worker: a supervisor thread that starts one thread per active endpoint.
pub struct Delivery {
    store: Store,
    cfg: WebhooksConfig,
    client: Client,
    stop: AtomicBool,
    pub counters: Counters,
    /// Each running endpoint's cursor in memory (ahead of the durable one).
    cursors: Mutex<HashMap<String, i64>>,
    threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
    runtime: Mutex<Option<rocket::tokio::runtime::Handle>>,
}

/// An endpoint's gauge for `/metrics`.
#[derive(Debug, Clone)]
pub struct Gauge {
    pub tenant: String,
    pub id: String,
    pub state: String,
    /// Seconds since the oldest event not yet delivered was committed (0 when none).
    pub oldest_undelivered_secs: i64,
}

impl Delivery {
    pub fn new(store: Store, cfg: WebhooksConfig) -> Self {
        Self {
            client: client(&cfg),
            store,
            cfg,
            stop: AtomicBool::new(false),
            counters: Counters::default(),
            cursors: Mutex::default(),
            threads: Mutex::default(),
            runtime: Mutex::default(),
        }
    }

    /// Starts the supervisor thread; `runtime` lets worker threads wait on the store's
    /// commit signal instead of polling.
    pub fn start(self: &Arc<Self>, runtime: rocket::tokio::runtime::Handle) {
        if let Ok(mut r) = self.runtime.lock() {
            *r = Some(runtime);
        }
        let me = Arc::downgrade(self);
        let spawned = std::thread::Builder::new()
            .name("webhook supervisor".into())
            .spawn(move || Self::supervise(&me));
        match spawned {
            Ok(handle) => self.keep(handle),
            Err(e) => tracing::error!("cannot start the webhook delivery thread: {e}"),
        }
    }

    /// Stops every thread; each makes its cursor durable first. Waits up to `grace`: a thread
    /// inside an attempt finishes it (bounded by `webhooks.timeout_secs`) or is left behind,
    /// and its events come again after the restart.
    pub fn stop(&self, grace: Duration) {
        self.stop.store(true, Ordering::SeqCst);
        let deadline = Instant::now() + grace;
        let threads = self.threads.lock().map(|mut t| std::mem::take(&mut *t));
        for t in threads.unwrap_or_default() {
            while !t.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            if t.is_finished() {
                let _ = t.join();
            }
        }
    }

    fn keep(&self, handle: std::thread::JoinHandle<()>) {
        if let Ok(mut t) = self.threads.lock() {
            t.retain(|h| !h.is_finished());
            t.push(handle);
        }
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Starts a thread for each active endpoint that has none, and checks backlogs. Holds
    /// the worker only weakly between rounds, so it ends when the server's state is dropped.
    fn supervise(weak: &Weak<Self>) {
        let mut running: HashMap<String, std::thread::JoinHandle<()>> = HashMap::new();
        let mut last_backlog_check: Option<Instant> = None;
        while let Some(me) = weak.upgrade() {
            if me.stopping() {
                for (_, h) in running.drain() {
                    me.keep(h);
                }
                return;
            }
            running.retain(|_, h| !h.is_finished());
            match me.store.read_blocking(|c| rows::list(c, None)) {
                Ok(hooks) => {
                    for w in hooks.iter().filter(|w| w.state == "active") {
                        if running.contains_key(&w.id) {
                            continue;
                        }
                        let (weak, id) = (Arc::downgrade(&me), w.id.clone());
                        let spawned = std::thread::Builder::new()
                            .name(format!("webhook {}", short(&w.id)))
                            .spawn(move || Self::run_endpoint(&weak, &id));
                        match spawned {
                            Ok(h) => {
                                running.insert(w.id.clone(), h);
                            }
                            Err(e) => tracing::error!("cannot start a webhook thread: {e}"),
                        }
                    }
                    if last_backlog_check.is_none_or(|t| t.elapsed() >= BACKLOG_EVERY) {
                        last_backlog_check = Some(Instant::now());
                        me.check_backlogs(&hooks);
                    }
                }
                Err(e) => tracing::warn!("cannot read the webhooks: {e}"),
            }
            me.sleep(SUPERVISE_EVERY);
        }
    }

    /// Sleeps up to `d`, waking early on stop.
    fn sleep(&self, d: Duration) {
        let end = Instant::now() + d;
        while !self.stopping() {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            std::thread::sleep(left.min(Duration::from_millis(50)));
        }
    }

    /// Waits up to `d` for the main writer's next batch (a commit that may carry events).
    fn wait_for_commit(
        &self,
        batches: &mut rocket::tokio::sync::watch::Receiver<u64>,
        d: Duration,
    ) {
        let runtime = self.runtime.lock().ok().and_then(|r| r.clone());
        match runtime {
            Some(rt) => {
                // A runtime shutting down (a test's, as its server is dropped) panics in its
                // timer; that ends the wait, not the thread.
                let waited = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    rt.block_on(rocket::tokio::time::timeout(d, batches.changed()))
                }));
                if waited.is_err() {
                    self.sleep(d);
                }
            }
            None => self.sleep(d),
        }
    }

    /// Disables the endpoints whose backlog is past `max_backlog_age_secs` or
    /// `max_backlog_bytes`; the pull feed keeps the events.
    fn check_backlogs(&self, hooks: &[Webhook]) {
        let now = clock::now();
        for w in hooks.iter().filter(|w| w.state != "disabled") {
            let cursor = self.cursor_of(w);
            let backlog = match self
                .store
                .read_blocking(|c| rows::backlog(c, w.tenant_id, cursor, &w.types))
            {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!("cannot measure webhook {}'s backlog: {e}", w.id);
                    continue;
                }
            };
            let age = age_secs(backlog.oldest.as_deref(), now);
            let reason = if age > self.cfg.max_backlog_age_secs {
                format!(
                    "undelivered events are {}, older than webhooks.max_backlog_age_secs ({} s)",
                    humantime::format_duration(Duration::from_secs(age)),
                    self.cfg.max_backlog_age_secs
                )
            } else if u64::try_from(backlog.bytes).unwrap_or(0) > self.cfg.max_backlog_bytes {
                format!(
                    "{} undelivered events of {} bytes exceed webhooks.max_backlog_bytes ({})",
                    backlog.events, backlog.bytes, self.cfg.max_backlog_bytes
                )
            } else {
                continue;
            };
            let reason =
                format!("{reason}; the events feed still has them: fix the receiver, then replay");
            tracing::warn!(webhook = %w.id, tenant = %w.tenant, "webhook disabled: {reason}");
            self.set_state(w, "disabled", &reason);
        }
    }

    fn cursor_of(&self, w: &Webhook) -> i64 {
        self.cursors
            .lock()
            .ok()
            .and_then(|c| c.get(&w.id).copied())
            .map_or(w.cursor, |c| c.max(w.cursor))
    }

    fn set_state(&self, w: &Webhook, state: &str, reason: &str) {
        let (id, generation, state, reason) = (
            w.id.clone(),
            w.generation,
            state.to_owned(),
            reason.to_owned(),
        );
        let now = clock::timestamp(clock::now());
        if let Err(e) = self.store.write_blocking(move |tx| {
            rows::set_state_if(tx, &id, generation, &state, &reason, &now)
        }) {
            tracing::warn!("cannot record webhook {}'s state: {e}", w.id);
        }
    }

    /// When the first recorded attempt at `seq` was made, as an `Instant` of this process.
    fn first_attempt(&self, w: &Webhook, seq: i64) -> Option<Instant> {
        let at = self
            .store
            .read_blocking(|c| rows::first_attempt(c, &w.id, seq, &w.state_since))
            .ok()
            .flatten()?;
        let age = age_secs(Some(&at), clock::now());
        Instant::now().checked_sub(Duration::from_secs(age))
    }

    /// Per-endpoint gauges for `/metrics`.
    pub fn gauges(&self) -> Vec<Gauge> {
        let now = clock::now();
        let Ok(hooks) = self.store.read_blocking(|c| rows::list(c, None)) else {
            return Vec::new();
        };
        hooks
            .iter()
            .map(|w| {
                let cursor = self.cursor_of(w);
                let oldest = self
                    .store
                    .read_blocking(|c| rows::oldest_after(c, w.tenant_id, cursor, &w.types))
                    .ok()
                    .flatten();
                Gauge {
                    tenant: w.tenant.clone(),
                    id: w.id.clone(),
                    state: w.state.clone(),
                    oldest_undelivered_secs: i64::try_from(age_secs(oldest.as_deref(), now))
                        .unwrap_or(i64::MAX),
                }
            })
            .collect()
    }

    /// One endpoint's thread: pages of events after its cursor, each event delivered before
    /// the next. Ends when the endpoint is no longer active, at shutdown, or when the worker
    /// is dropped.
    fn run_endpoint(weak: &Weak<Self>, id: &str) {
        let Some(mut batches) = weak.upgrade().map(|d| d.store.batches()) else {
            return;
        };
        let mut run = Run {
            hook: None,
            cursor: 0,
            saved: 0,
            saved_at: Instant::now(),
            attempts: Vec::new(),
            attempts_at: Instant::now(),
        };
        while let Some(d) = weak.upgrade() {
            if !d.page(&mut run, &mut batches, id) {
                run.flush(&d, true);
                if let Ok(mut c) = d.cursors.lock() {
                    c.remove(id);
                }
                return;
            }
        }
    }

    /// Delivers one page of events, or waits for a commit when there is none; false when the
    /// thread must end.
    fn page(
        &self,
        run: &mut Run,
        batches: &mut rocket::tokio::sync::watch::Receiver<u64>,
        id: &str,
    ) -> bool {
        batches.borrow_and_update();
        if self.stopping() || !run.reload(self, id) {
            return false;
        }
        let Some(w) = run.hook.clone() else {
            return false;
        };
        let cursor = run.cursor;
        // One snapshot: when no event after the cursor matches, the cursor moves to the head
        // as of that snapshot, past the events the type filter skips (any later one has a
        // higher number), so an idle endpoint neither rescans them nor falls behind pruning.
        let read = self.store.read_blocking(|c| {
            crate::store::snapshot(c, |c| {
                Ok((
                    event_rows::head(c)?,
                    rows::pending(c, w.tenant_id, cursor, &w.types, PAGE)?,
                ))
            })
        });
        let (position, page) = match read {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!("webhook {id}: cannot read the events: {e}");
                self.sleep(Duration::from_secs(1));
                return true;
            }
        };
        if run.cursor < position.pruned_through {
            let reason = format!(
                "events after cursor {} were pruned before they were delivered (events.retention_days / events.max_bytes); replay from {} or later, and resynchronise the receiver from GET /events/snapshot",
                run.cursor, position.pruned_through
            );
            self.set_state(&w, "failing", &reason);
            return false;
        }
        if page.is_empty() {
            if position.last > run.cursor {
                run.advance(self, &w.id, position.last);
            }
            // Not forced: under a trickle of writes the endpoint catches up after every event,
            // and a cursor write per event would double the main writer's work.
            run.flush(self, false);
            // Also wakes for changes the CLI makes from another process.
            self.wait_for_commit(batches, Duration::from_secs(1));
            return true;
        }
        for event in &page {
            if !run.deliver(self, event) {
                break;
            }
        }
        true
    }
}

/// One endpoint thread's state.
struct Run {
    hook: Option<Webhook>,
    /// Delivered through here (in memory).
    cursor: i64,
    /// Durable through here.
    saved: i64,
    saved_at: Instant,
    attempts: Vec<Attempt>,
    attempts_at: Instant,
}

impl Run {
    /// Delivered (or skipped) through `seq`, in memory.
    fn advance(&mut self, d: &Delivery, id: &str, seq: i64) {
        self.cursor = seq;
        if let Ok(mut c) = d.cursors.lock() {
            c.insert(id.to_owned(), seq);
        }
    }

    /// Reads the endpoint again; false when it is gone or no longer active. An admin's change
    /// (a new generation) replaces the cursor in memory with the stored one.
    fn reload(&mut self, d: &Delivery, id: &str) -> bool {
        let row = match d.store.read_blocking(|c| rows::get(c, None, id)) {
            Ok(row) => row,
            Err(e) => {
                tracing::warn!("webhook {id}: cannot read it: {e}");
                return self.hook.is_some();
            }
        };
        let Some(row) = row.filter(|w| w.state == "active") else {
            self.hook = None;
            return false;
        };
        if self
            .hook
            .as_ref()
            .is_none_or(|h| h.generation != row.generation)
        {
            self.cursor = row.cursor;
            self.saved = row.cursor;
        }
        self.hook = Some(row);
        true
    }

    /// Delivers one event, retrying until a 2xx; false when the thread must stop or re-read
    /// the endpoint (stopping, failing, disabled, changed by an admin).
    fn deliver(&mut self, d: &Delivery, event: &Pending) -> bool {
        let cfg = &d.cfg;
        let mut first = Instant::now();
        let mut attempt = 0u32;
        loop {
            let Some(w) = self.hook.clone() else {
                return false;
            };
            attempt += 1;
            let (record, retry_after) = send(
                &d.client,
                &w,
                Some(event.seq),
                &event.id,
                &event.body,
                attempt,
            );
            let counter = match record.outcome.as_str() {
                "delivered" => &d.counters.delivered,
                "rejected" => &d.counters.rejected,
                _ => &d.counters.failed,
            };
            counter.fetch_add(1, Ordering::Relaxed);
            let status = record.status;
            let summary = match status {
                Some(s) => format!("HTTP {s}"),
                None => record.excerpt.clone(),
            };
            self.attempts.push(record);
            if matches!(status, Some(200..=299)) {
                self.advance(d, &w.id, event.seq);
                self.flush(d, false);
                return true;
            }
            if status == Some(410) {
                self.flush(d, true);
                d.set_state(
                    &w,
                    "disabled",
                    &format!(
                        "the receiver answered 410 Gone to event {} (seq {}): it asked for no more deliveries; replay to resume",
                        event.id, event.seq
                    ),
                );
                return false;
            }
            if attempt == 1 {
                // The window counts from the first try since the endpoint last became active,
                // also when that was before a restart.
                self.flush(d, true);
                first = d.first_attempt(&w, event.seq).unwrap_or(first);
            }
            let delay = backoff(cfg, attempt).max(retry_after_delay(retry_after.as_deref(), cfg));
            if first.elapsed() + delay > Duration::from_secs(cfg.retry_for_secs) {
                self.flush(d, true);
                d.set_state(
                    &w,
                    "failing",
                    &format!(
                        "event {} (seq {}) was not accepted in {} attempts over {} (webhooks.retry_for_secs; last: {summary}); the events wait: replay to deliver them",
                        event.id,
                        event.seq,
                        attempt,
                        humantime::format_duration(Duration::from_secs(first.elapsed().as_secs()))
                    ),
                );
                return false;
            }
            self.flush(d, true);
            // Waits in steps, looking at the endpoint each second: a replay, a rotation or a
            // disable from the UI or the CLI takes effect during a long backoff.
            let until = Instant::now() + delay;
            while Instant::now() < until {
                d.sleep(
                    until
                        .saturating_duration_since(Instant::now())
                        .min(Duration::from_secs(1)),
                );
                if d.stopping() {
                    return false;
                }
                let generation = w.generation;
                if !self.reload(d, &w.id)
                    || self
                        .hook
                        .as_ref()
                        .is_none_or(|h| h.generation != generation)
                {
                    return false;
                }
            }
        }
    }

    /// Writes the attempts and the cursor when due (`force`: now).
    fn flush(&mut self, d: &Delivery, force: bool) {
        if !self.attempts.is_empty()
            && (force
                || self.attempts.len() >= ATTEMPTS_BUFFER
                || self.attempts_at.elapsed() >= CURSOR_EVERY)
        {
            let batch = std::mem::take(&mut self.attempts);
            let keep = d.cfg.attempts_kept;
            if let Err(e) = d
                .store
                .write_log_blocking(move |tx| rows::insert_attempts(tx, &batch, keep))
            {
                tracing::warn!("cannot record webhook attempts: {e}");
            }
            self.attempts_at = Instant::now();
        }
        let due = self.cursor - self.saved >= CURSOR_EVERY_EVENTS
            || self.saved_at.elapsed() >= CURSOR_EVERY;
        if self.cursor > self.saved && (force || due) {
            let Some(w) = &self.hook else { return };
            let (id, generation, cursor) = (w.id.clone(), w.generation, self.cursor);
            match d
                .store
                .write_blocking(move |tx| rows::save_cursor(tx, &id, generation, cursor))
            {
                Ok(_) => {
                    self.saved = cursor;
                    self.saved_at = Instant::now();
                }
                Err(e) => tracing::warn!("cannot save webhook {}'s cursor: {e}", w.id),
            }
        }
    }
}

/// The delay before retry `attempt + 1`: `retry_initial_ms` doubled per attempt, capped at
/// `retry_max_delay_secs`, with jitter (between half and all of it) so that receivers coming
/// back are not hit by every sender at once.
fn backoff(cfg: &WebhooksConfig, attempt: u32) -> Duration {
    let base = Duration::from_millis(cfg.retry_initial_ms)
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(30));
    let capped = base.min(Duration::from_secs(cfg.retry_max_delay_secs));
    let half = capped / 2;
    half + half.mul_f64(rand::rng().random::<f64>())
}

/// `Retry-After` in seconds or as an HTTP date, capped at `retry_max_delay_secs`.
fn retry_after_delay(value: Option<&str>, cfg: &WebhooksConfig) -> Duration {
    let Some(v) = value.map(str::trim) else {
        return Duration::ZERO;
    };
    let secs = v.parse::<u64>().ok().or_else(|| {
        let at =
            time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc2822).ok()?;
        u64::try_from((at - clock::now()).whole_seconds()).ok()
    });
    Duration::from_secs(secs.unwrap_or(0).min(cfg.retry_max_delay_secs))
}

fn age_secs(oldest: Option<&str>, now: time::OffsetDateTime) -> u64 {
    oldest
        .and_then(|t| {
            time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
        })
        .map_or(0, |t| u64::try_from((now - t).whole_seconds()).unwrap_or(0))
}

fn short(id: &str) -> &str {
    id.get(..11).unwrap_or(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Standard Webhooks specification's own example (standard-webhooks/spec, "Signature
    /// scheme"), computed by its reference libraries.
    #[test]
    fn signs_like_the_specification_example() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            sign(&[secret], id, 1_614_265_330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn two_secrets_give_two_signatures() {
        let (a, b) = (new_secret(), new_secret());
        let both = sign(&[&a, &b], "evt_1", 1, b"{}");
        let parts: Vec<&str> = both.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0], sign(&[&a], "evt_1", 1, b"{}"));
        assert_eq!(parts[1], sign(&[&b], "evt_1", 1, b"{}"));
    }

    #[test]
    fn backoff_doubles_within_jitter_and_is_capped() {
        let cfg = WebhooksConfig {
            retry_initial_ms: 1000,
            retry_max_delay_secs: 10,
            ..WebhooksConfig::default()
        };
        for attempt in 1..=3u32 {
            let full = Duration::from_millis(1000 * (1 << (attempt - 1)));
            let d = backoff(&cfg, attempt);
            assert!(d >= full / 2 && d <= full, "{attempt}: {d:?}");
        }
        assert!(backoff(&cfg, 40) <= Duration::from_secs(10));
    }

    #[test]
    fn retry_after_is_honoured_in_seconds_and_capped() {
        let cfg = WebhooksConfig {
            retry_max_delay_secs: 60,
            ..WebhooksConfig::default()
        };
        assert_eq!(retry_after_delay(Some("7"), &cfg), Duration::from_secs(7));
        assert_eq!(
            retry_after_delay(Some("9999"), &cfg),
            Duration::from_secs(60)
        );
        assert_eq!(retry_after_delay(Some("soon"), &cfg), Duration::ZERO);
        // An HTTP date (RFC 9110 IMF-fixdate) half a minute ahead.
        let at = clock::now() + time::Duration::seconds(31);
        let fmt = time::macros::format_description!(
            "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
        );
        let date = at.format(&fmt).expect("format");
        let d = retry_after_delay(Some(&date), &cfg);
        assert!(
            d >= Duration::from_secs(25) && d <= Duration::from_secs(31),
            "{date}: {d:?}"
        );
        assert_eq!(retry_after_delay(None, &cfg), Duration::ZERO);
    }

    #[test]
    fn urls_must_be_https_without_credentials() {
        let cfg = WebhooksConfig::default();
        assert!(check_url("https://app.example.com/hook", &cfg).is_ok());
        for bad in [
            "http://app.example.com/hook",
            "ftp://x/",
            "https://user:pw@app.example.com/",
            "not a url",
        ] {
            assert!(check_url(bad, &cfg).is_err(), "{bad}");
        }
        let lab = WebhooksConfig {
            allow_http: true,
            ..cfg
        };
        assert!(check_url("http://127.0.0.1:9000/hook", &lab).is_ok());
    }
}
