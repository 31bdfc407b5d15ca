//! Webhook endpoints (migrations/0009_create_webhooks.sql) and their delivery attempts
//! (migrations/log/0007_create_webhook_attempts.sql, in the request log's file). SQL only: what
//! a state means and when it changes is `service::webhooks`'s.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;

use super::Result;

/// An endpoint as stored. The secrets are never serialised (they are shown once, when made)
/// nor printed by `Debug`.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct Webhook {
    pub id: String,
    #[serde(skip)]
    pub tenant_id: i64,
    pub tenant: String,
    pub url: String,
    /// The event types delivered; empty means all.
    pub types: Vec<String>,
    #[serde(skip)]
    pub secret: String,
    #[serde(skip)]
    pub previous_secret: Option<String>,
    /// Until when the previous secret also signs (a rotation's overlap).
    pub previous_expires: Option<String>,
    /// `active`, `failing` or `disabled`.
    pub state: String,
    /// Why the endpoint is failing or disabled.
    pub state_reason: Option<String>,
    pub state_since: String,
    /// The `seq` of the last event delivered or skipped.
    pub cursor: i64,
    #[serde(skip)]
    pub generation: i64,
    pub created: String,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("id", &self.id)
            .field("tenant", &self.tenant)
            .field("url", &self.url)
            .field("types", &self.types)
            .field("secret", &"[redacted]")
            .field("state", &self.state)
            .field("cursor", &self.cursor)
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

const COLUMNS: &str = "w.id, w.tenant_id, t.slug, w.url, w.types, w.secret, w.previous_secret, \
     w.previous_expires, w.state, w.state_reason, w.state_since, w.cursor, w.generation, w.created";

fn webhook(r: &Row<'_>) -> rusqlite::Result<Webhook> {
    let types: String = r.get(4)?;
    Ok(Webhook {
        id: r.get(0)?,
        tenant_id: r.get(1)?,
        tenant: r.get(2)?,
        url: r.get(3)?,
        types: serde_json::from_str(&types).unwrap_or_default(),
        secret: r.get(5)?,
        previous_secret: r.get(6)?,
        previous_expires: r.get(7)?,
        state: r.get(8)?,
        state_reason: r.get(9)?,
        state_since: r.get(10)?,
        cursor: r.get(11)?,
        generation: r.get(12)?,
        created: r.get(13)?,
    })
}

/// Stores a new endpoint.
pub fn insert(conn: &Connection, w: &Webhook) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO webhooks (id, tenant_id, url, types, secret, state, state_since, cursor, created) \
         VALUES (?1, ?2, ?3, ?4, ?5, 'active', ?6, ?7, ?6)",
    )?
    .execute(params![
        w.id,
        w.tenant_id,
        w.url,
        serde_json::to_string(&w.types)?,
        w.secret,
        w.created,
        w.cursor
    ])?;
    Ok(())
}

/// Every endpoint, or a tenant's, oldest first.
pub fn list(conn: &Connection, tenant_id: Option<i64>) -> Result<Vec<Webhook>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM webhooks w JOIN tenants t ON t.id = w.tenant_id \
             WHERE ?1 IS NULL OR w.tenant_id = ?1 ORDER BY w.created, w.id"
        ))?
        .query_map([tenant_id], webhook)?
        .collect::<rusqlite::Result<Vec<_>>>()?)
}

/// One endpoint by id, within a tenant when given.
pub fn get(conn: &Connection, tenant_id: Option<i64>, id: &str) -> Result<Option<Webhook>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM webhooks w JOIN tenants t ON t.id = w.tenant_id \
             WHERE w.id = ?2 AND (?1 IS NULL OR w.tenant_id = ?1)"
        ))?
        .query_row(params![tenant_id, id], webhook)
        .optional()?)
}

pub fn count_of_tenant(conn: &Connection, tenant_id: i64) -> Result<u32> {
    Ok(conn
        .prepare_cached("SELECT COUNT(*) FROM webhooks WHERE tenant_id = ?1")?
        .query_row([tenant_id], |r| r.get(0))?)
}

/// An admin moves an endpoint to `state`.
pub fn set_state(
    conn: &Connection,
    id: &str,
    state: &str,
    reason: Option<&str>,
    now: &str,
) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "UPDATE webhooks SET state = ?2, state_reason = ?3, state_since = ?4 WHERE id = ?1",
        )?
        .execute(params![id, state, reason, now])?
        == 1)
}

/// The worker's state change: only while the endpoint is active and no admin replayed it
/// since the worker read it.
pub fn set_state_if(
    conn: &Connection,
    id: &str,
    generation: i64,
    state: &str,
    reason: &str,
    now: &str,
) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "UPDATE webhooks SET state = ?3, state_reason = ?4, state_since = ?5 \
             WHERE id = ?1 AND generation = ?2 AND state = 'active'",
        )?
        .execute(params![id, generation, state, reason, now])?
        == 1)
}

/// The worker's progress; ignored when an admin changed the endpoint meanwhile (a replay).
pub fn save_cursor(conn: &Connection, id: &str, generation: i64, cursor: i64) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "UPDATE webhooks SET cursor = ?3 WHERE id = ?1 AND generation = ?2 AND cursor < ?3",
        )?
        .execute(params![id, generation, cursor])?
        == 1)
}

/// Delivers again from `cursor`: active, a new generation.
pub fn replay(conn: &Connection, id: &str, cursor: i64, now: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "UPDATE webhooks SET cursor = ?2, state = 'active', state_reason = NULL, \
             state_since = ?3, generation = generation + 1 WHERE id = ?1",
        )?
        .execute(params![id, cursor, now])?
        == 1)
}

/// A new signing secret; the current one keeps signing until `previous_expires`. Not a new
/// generation: the worker picks the secrets up as it reads the endpoint again, without
/// going back to its durable cursor.
pub fn rotate(conn: &Connection, id: &str, secret: &str, previous_expires: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "UPDATE webhooks SET previous_secret = secret, secret = ?2, previous_expires = ?3 \
             WHERE id = ?1",
        )?
        .execute(params![id, secret, previous_expires])?
        == 1)
}

pub fn delete(conn: &Connection, id: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached("DELETE FROM webhooks WHERE id = ?1")?
        .execute([id])?
        == 1)
}

/// What an endpoint has yet to deliver: how many events, their bytes, the oldest one's time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Backlog {
    pub events: i64,
    pub bytes: i64,
    pub oldest: Option<String>,
}

/// The events of the tenant after `cursor` that `types` selects (all when empty).
pub fn backlog(
    conn: &Connection,
    tenant_id: i64,
    cursor: i64,
    types: &[String],
) -> Result<Backlog> {
    let list = serde_json::to_string(types)?;
    Ok(conn
        .prepare_cached(
            "SELECT COUNT(*), COALESCE(SUM(length(body)), 0), MIN(occurred_at) FROM events \
             WHERE tenant_id = ?1 AND seq > ?2 \
             AND (json_array_length(?3) = 0 OR type IN (SELECT value FROM json_each(?3)))",
        )?
        .query_row(params![tenant_id, cursor, list], |r| {
            Ok(Backlog {
                events: r.get(0)?,
                bytes: r.get(1)?,
                oldest: r.get(2)?,
            })
        })?)
}

/// The time of the oldest event after `cursor` that `types` selects: one index step, cheap
/// enough for every scrape of `/metrics`.
pub fn oldest_after(
    conn: &Connection,
    tenant_id: i64,
    cursor: i64,
    types: &[String],
) -> Result<Option<String>> {
    let list = serde_json::to_string(types)?;
    Ok(conn
        .prepare_cached(
            "SELECT occurred_at FROM events WHERE tenant_id = ?1 AND seq > ?2 \
             AND (json_array_length(?3) = 0 OR type IN (SELECT value FROM json_each(?3))) \
             ORDER BY seq LIMIT 1",
        )?
        .query_row(params![tenant_id, cursor, list], |r| r.get(0))
        .optional()?)
}

/// One delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attempt {
    #[serde(skip)]
    pub tenant_id: i64,
    pub webhook_id: String,
    pub seq: Option<i64>,
    pub event_id: String,
    pub attempt: u32,
    pub time: String,
    pub status: Option<u16>,
    /// `delivered` (2xx), `rejected` (another status) or `failed` (no answer).
    pub outcome: String,
    pub latency_ms: u64,
    pub excerpt: String,
}

/// Appends attempts (request log's writer) and keeps the newest `keep` of each endpoint.
pub fn insert_attempts(conn: &Connection, attempts: &[Attempt], keep: u32) -> Result<()> {
    let mut insert = conn.prepare_cached(
        "INSERT INTO webhook_attempts (tenant_id, webhook_id, seq, event_id, attempt, time, \
         status, outcome, latency_ms, excerpt) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    let mut endpoints: Vec<&str> = Vec::new();
    for a in attempts {
        insert.execute(params![
            a.tenant_id,
            a.webhook_id,
            a.seq,
            a.event_id,
            a.attempt,
            a.time,
            a.status,
            a.outcome,
            i64::try_from(a.latency_ms).unwrap_or(i64::MAX),
            a.excerpt
        ])?;
        if !endpoints.contains(&a.webhook_id.as_str()) {
            endpoints.push(&a.webhook_id);
        }
    }
    let mut trim = conn.prepare_cached(
        "DELETE FROM webhook_attempts WHERE webhook_id = ?1 AND id <= \
         (SELECT id FROM webhook_attempts WHERE webhook_id = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
    )?;
    for id in endpoints {
        trim.execute(params![id, keep])?;
    }
    Ok(())
}

/// The newest `n` attempts of an endpoint, newest first (a reader: the log is attached).
pub fn recent_attempts(conn: &Connection, webhook_id: &str, n: u32) -> Result<Vec<Attempt>> {
    Ok(conn
        .prepare_cached(
            "SELECT tenant_id, webhook_id, seq, event_id, attempt, time, status, outcome, \
             latency_ms, excerpt FROM log.webhook_attempts WHERE webhook_id = ?1 \
             ORDER BY id DESC LIMIT ?2",
        )?
        .query_map(params![webhook_id, n], |r| {
            Ok(Attempt {
                tenant_id: r.get(0)?,
                webhook_id: r.get(1)?,
                seq: r.get(2)?,
                event_id: r.get(3)?,
                attempt: r.get(4)?,
                time: r.get(5)?,
                status: r.get(6)?,
                outcome: r.get(7)?,
                latency_ms: u64::try_from(r.get::<_, i64>(8)?).unwrap_or(0),
                excerpt: r.get(9)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Forgets an endpoint's attempts (it was removed).
pub fn delete_attempts(conn: &Connection, webhook_id: &str) -> Result<()> {
    conn.prepare_cached("DELETE FROM webhook_attempts WHERE webhook_id = ?1")?
        .execute([webhook_id])?;
    Ok(())
}

/// An event waiting for an endpoint: its number, its id (the `webhook-id`) and its body as the
/// feed serves it (the bytes sent and signed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub seq: i64,
    pub id: String,
    pub body: String,
}

/// The tenant's events after `cursor` that `types` selects (all when empty), at most `limit`.
pub fn pending(
    conn: &Connection,
    tenant_id: i64,
    cursor: i64,
    types: &[String],
    limit: u32,
) -> Result<Vec<Pending>> {
    let list = serde_json::to_string(types)?;
    let served = super::events::SERVED;
    Ok(conn
        .prepare_cached(&format!(
            "SELECT seq, id, {served} FROM events WHERE tenant_id = ?1 AND seq > ?2 \
             AND (json_array_length(?3) = 0 OR type IN (SELECT value FROM json_each(?3))) \
             ORDER BY seq LIMIT ?4"
        ))?
        .query_map(params![tenant_id, cursor, list, limit], |r| {
            Ok(Pending {
                seq: r.get(0)?,
                id: r.get(1)?,
                body: r.get(2)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?)
}

/// When the first attempt at event `seq` since `since` was made (a reader: the log is
/// attached): a retry window survives a restart.
pub fn first_attempt(
    conn: &Connection,
    webhook_id: &str,
    seq: i64,
    since: &str,
) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached(
            "SELECT MIN(time) FROM log.webhook_attempts WHERE webhook_id = ?1 AND seq = ?2 \
             AND time >= ?3",
        )?
        .query_row(params![webhook_id, seq, since], |r| r.get(0))?)
}
