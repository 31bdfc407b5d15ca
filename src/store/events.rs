//! The events outbox (migrations/0008_create_events.sql): rows appended inside the writer
//! transaction of the change they describe, read by cursor, pruned by age and size. The bodies
//! are built by `service::events`; this module only numbers, stores and reads them.

use rusqlite::{Connection, OptionalExtension, params};

use super::Result;

/// An event ready to store: its body already carries `seq` (from [`reserve`]) and `id`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub seq: i64,
    pub id: String,
    pub tenant_id: i64,
    pub event_type: &'static str,
    pub occurred_at: String,
    pub resource_type: &'static str,
    pub resource_id: String,
    pub body: String,
}

/// Hands out `n` consecutive sequence numbers and returns the first. Inside the writer
/// transaction: a write that is rolled back returns its numbers, so the sequence has no gaps.
pub fn reserve(conn: &Connection, n: usize) -> Result<i64> {
    let n = i64::try_from(n).unwrap_or(i64::MAX);
    let last: i64 = conn
        .prepare_cached("UPDATE event_sequence SET last = last + ?1 RETURNING last")?
        .query_row([n], |r| r.get(0))?;
    Ok(last - n + 1)
}

/// Stores events numbered by [`reserve`] in the same transaction.
pub fn insert(conn: &Connection, events: &[NewEvent]) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO events (seq, id, tenant_id, type, occurred_at, resource_type, resource_id, body) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    let mut bytes = 0i64;
    for e in events {
        stmt.execute(params![
            e.seq,
            e.id,
            e.tenant_id,
            e.event_type,
            e.occurred_at,
            e.resource_type,
            e.resource_id,
            e.body
        ])?;
        bytes += i64::try_from(e.body.len()).unwrap_or(i64::MAX);
    }
    conn.prepare_cached("UPDATE event_sequence SET body_bytes = body_bytes + ?1")?
        .execute([bytes])?;
    Ok(())
}

/// The feed's position: the newest number handed out and the highest pruned one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub last: i64,
    pub pruned_through: i64,
    pub body_bytes: i64,
}

pub fn position(conn: &Connection) -> Result<Position> {
    Ok(conn
        .prepare_cached("SELECT last, pruned_through, body_bytes FROM event_sequence")?
        .query_row([], |r| {
            Ok(Position {
                last: r.get(0)?,
                pruned_through: r.get(1)?,
                body_bytes: r.get(2)?,
            })
        })?)
}

/// One stored event, as the feed serves it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub seq: i64,
    pub event_type: String,
    pub body: String,
}

/// Events of a tenant after `after`, oldest first, at most `limit`; only `types` if not empty.
pub fn after(
    conn: &Connection,
    tenant_id: i64,
    after: i64,
    limit: u32,
    types: &[String],
) -> Result<Vec<StoredEvent>> {
    let read = |r: &rusqlite::Row<'_>| {
        Ok(StoredEvent {
            seq: r.get(0)?,
            event_type: r.get(1)?,
            body: r.get(2)?,
        })
    };
    let rows = if types.is_empty() {
        conn.prepare_cached(
            "SELECT seq, type, body FROM events WHERE tenant_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
        )?
        .query_map(params![tenant_id, after, limit], read)?
        .collect::<rusqlite::Result<Vec<_>>>()?
    } else {
        // The types travel as one JSON array: one statement whatever their number.
        let list = serde_json::to_string(types)?;
        conn.prepare_cached(
            "SELECT seq, type, body FROM events WHERE tenant_id = ?1 AND seq > ?2 \
             AND type IN (SELECT value FROM json_each(?4)) ORDER BY seq LIMIT ?3",
        )?
        .query_map(params![tenant_id, after, limit, list], read)?
        .collect::<rusqlite::Result<Vec<_>>>()?
    };
    Ok(rows)
}

/// The oldest event kept (any tenant): its time, for the retention gauges.
pub fn oldest_time(conn: &Connection) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT occurred_at FROM events ORDER BY seq LIMIT 1")?
        .query_row([], |r| r.get(0))
        .optional()?)
}

/// Deletes up to `batch` of the oldest events that are older than `before` or that keep the
/// bodies above `max_bytes`; returns how many went. Called repeatedly, one short write each,
/// so pruning never holds the writer for long.
pub fn prune(conn: &Connection, before: &str, max_bytes: i64, batch: u32) -> Result<usize> {
    let over = position(conn)?.body_bytes - max_bytes;
    // The oldest `batch` events; of those, the ones too old, or as many as bring the size down.
    let mut stmt = conn.prepare_cached(
        "SELECT seq, occurred_at, length(body) FROM events ORDER BY seq LIMIT ?1",
    )?;
    let oldest = stmt
        .query_map([batch], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let (mut through, mut freed) = (None, 0i64);
    for (seq, time, len) in oldest {
        if time.as_str() >= before && freed >= over {
            break;
        }
        through = Some(seq);
        freed += len;
    }
    let Some(through) = through else {
        return Ok(0);
    };
    let gone = conn
        .prepare_cached("DELETE FROM events WHERE seq <= ?1")?
        .execute([through])?;
    conn.prepare_cached(
        "UPDATE event_sequence SET pruned_through = MAX(pruned_through, ?1), body_bytes = body_bytes - ?2",
    )?
    .execute(params![through, freed])?;
    Ok(gone)
}

/// The newest `n` events of a tenant, oldest first.
pub fn newest(conn: &Connection, tenant_id: i64, n: u32) -> Result<Vec<StoredEvent>> {
    let mut rows = conn
        .prepare_cached(
            "SELECT seq, type, body FROM events WHERE tenant_id = ?1 ORDER BY seq DESC LIMIT ?2",
        )?
        .query_map(params![tenant_id, n], |r| {
            Ok(StoredEvent {
                seq: r.get(0)?,
                event_type: r.get(1)?,
                body: r.get(2)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.reverse();
    Ok(rows)
}

/// A page of a tenant's events for browsing, newest first: those before `before` (all when
/// `None`), of one type, about one resource, if given.
pub fn browse(
    conn: &Connection,
    tenant_id: i64,
    before: Option<i64>,
    event_type: Option<&str>,
    resource_id: Option<&str>,
    limit: u32,
) -> Result<Vec<StoredEvent>> {
    // Naming both resource types lets the (tenant, type, id, seq) index serve a search by id.
    let rows = conn
        .prepare_cached(
            "SELECT seq, type, body FROM events WHERE tenant_id = ?1 AND seq < ?2 \
             AND (?3 IS NULL OR type = ?3) \
             AND (?4 IS NULL OR (resource_type IN ('User', 'Group') AND resource_id = ?4)) \
             ORDER BY seq DESC LIMIT ?5",
        )?
        .query_map(
            params![
                tenant_id,
                before.unwrap_or(i64::MAX),
                event_type,
                resource_id,
                limit
            ],
            |r| {
                Ok(StoredEvent {
                    seq: r.get(0)?,
                    event_type: r.get(1)?,
                    body: r.get(2)?,
                })
            },
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}
