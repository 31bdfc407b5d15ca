//! The events outbox (migrations/0008_create_events.sql): rows appended inside the writer
//! transaction of the change they describe, read by cursor, pruned by age and size. The bodies
//! are built by `service::events`; this module only stores, numbers and reads them. A stored
//! body lacks its `seq` (the rowid, known once inserted), which every read splices in.

use rusqlite::{Connection, OptionalExtension, params};

use super::Result;

/// An event to store; `body` is its JSON without `seq`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub id: String,
    pub tenant_id: i64,
    pub event_type: &'static str,
    pub occurred_at: String,
    pub resource_type: &'static str,
    pub resource_id: String,
    pub body: String,
}

/// Stores events in the caller's (writer) transaction, numbered in order: one insert each and
/// nothing else, so the outbox adds as little as possible to every write.
pub fn insert(conn: &Connection, events: &[NewEvent]) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO events (id, tenant_id, type, occurred_at, resource_type, resource_id, body) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for e in events {
        stmt.execute(params![
            e.id,
            e.tenant_id,
            e.event_type,
            e.occurred_at,
            e.resource_type,
            e.resource_id,
            e.body
        ])?;
    }
    Ok(())
}

/// The body as served: `seq` first, then the stored members.
pub(super) const SERVED: &str = "'{\"seq\":' || seq || ',' || substr(body, 2)";

/// The feed's position: the newest number handed out, the highest pruned one, and the bytes
/// of the bodies kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub last: i64,
    pub pruned_through: i64,
    pub body_bytes: i64,
}

/// Where the feed stands without its size: the newest number handed out and the highest
/// pruned one. Two indexed lookups, for every caller that runs often (each feed read, each
/// webhook round, the alarm watcher); [`position`] also sums the bodies the pruner has not
/// counted yet, up to ten minutes of writes, which only `/healthz`, `/metrics` and the
/// pruner need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub last: i64,
    pub pruned_through: i64,
}

pub fn head(conn: &Connection) -> Result<Head> {
    let pruned_through: i64 = conn
        .prepare_cached("SELECT pruned_through FROM event_sequence")?
        .query_row([], |r| r.get(0))?;
    Ok(Head {
        last: newest(conn)?.unwrap_or(pruned_through),
        pruned_through,
    })
}

pub fn position(conn: &Connection) -> Result<Position> {
    let (pruned_through, counted_through, counted): (i64, i64, i64) = conn
        .prepare_cached("SELECT pruned_through, counted_through, body_bytes FROM event_sequence")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    // What the pruner has not counted yet: a range of the newest events, by rowid.
    let (newer, last): (i64, Option<i64>) = conn
        .prepare_cached(
            "SELECT COALESCE(SUM(length(body)), 0), MAX(seq) FROM events WHERE seq > ?1",
        )?
        .query_row([counted_through], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let last = match last {
        Some(last) => last,
        None => newest(conn)?.unwrap_or(pruned_through),
    };
    Ok(Position {
        last,
        pruned_through,
        body_bytes: counted + newer,
    })
}

fn newest(conn: &Connection) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT MAX(seq) FROM events")?
        .query_row([], |r| r.get(0))?)
}

/// One stored event, as the feed serves it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub seq: i64,
    pub event_type: String,
    pub body: String,
}

fn stored(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredEvent> {
    Ok(StoredEvent {
        seq: r.get(0)?,
        event_type: r.get(1)?,
        body: r.get(2)?,
    })
}

/// Events of a tenant after `after`, oldest first, at most `limit`; only `types` if not empty.
pub fn after(
    conn: &Connection,
    tenant_id: i64,
    after: i64,
    limit: u32,
    types: &[String],
) -> Result<Vec<StoredEvent>> {
    let rows = if types.is_empty() {
        conn.prepare_cached(&format!(
            "SELECT seq, type, {SERVED} FROM events WHERE tenant_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3"
        ))?
        .query_map(params![tenant_id, after, limit], stored)?
        .collect::<rusqlite::Result<Vec<_>>>()?
    } else {
        // The types travel as one JSON array: one statement whatever their number.
        let list = serde_json::to_string(types)?;
        conn.prepare_cached(&format!(
            "SELECT seq, type, {SERVED} FROM events WHERE tenant_id = ?1 AND seq > ?2 \
             AND type IN (SELECT value FROM json_each(?4)) ORDER BY seq LIMIT ?3"
        ))?
        .query_map(params![tenant_id, after, limit, list], stored)?
        .collect::<rusqlite::Result<Vec<_>>>()?
    };
    Ok(rows)
}

/// The newest `n` events of a tenant, oldest first.
pub fn newest_of(conn: &Connection, tenant_id: i64, n: u32) -> Result<Vec<StoredEvent>> {
    let mut rows = conn
        .prepare_cached(&format!(
            "SELECT seq, type, {SERVED} FROM events WHERE tenant_id = ?1 ORDER BY seq DESC LIMIT ?2"
        ))?
        .query_map(params![tenant_id, n], stored)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.reverse();
    Ok(rows)
}

/// A page of a tenant's events for browsing, newest first, found in a window of the newest
/// `scan` events before `before` (all when `None`): those of one type, about one resource, if
/// given. The window bounds the rows a filtered page reads (the outbox has no per-resource
/// index: it cost every write a random page; see migration 0016).
pub fn browse(
    conn: &Connection,
    tenant_id: i64,
    before: Option<i64>,
    event_type: Option<&str>,
    resource_id: Option<&str>,
    limit: u32,
    scan: u32,
) -> Result<BrowseRows> {
    let before = before.unwrap_or(i64::MAX);
    let (floor, scanned): (Option<i64>, u32) = conn
        .prepare_cached(
            "SELECT min(seq), count(*) FROM (SELECT seq FROM events WHERE tenant_id = ?1 \
             AND seq < ?2 ORDER BY seq DESC LIMIT ?3)",
        )?
        .query_row(params![tenant_id, before, scan], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let Some(floor) = floor else {
        return Ok(BrowseRows::default());
    };
    let rows = conn
        .prepare_cached(&format!(
            "SELECT seq, type, {SERVED} FROM events WHERE tenant_id = ?1 AND seq < ?2 \
             AND seq >= ?3 AND (?4 IS NULL OR type = ?4) \
             AND (?5 IS NULL OR (resource_type IN ('User', 'Group') AND resource_id = ?5)) \
             ORDER BY seq DESC LIMIT ?6"
        ))?
        .query_map(
            params![tenant_id, before, floor, event_type, resource_id, limit],
            stored,
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(BrowseRows {
        rows,
        window_floor: (scanned == scan).then_some(floor),
    })
}

/// What [`browse`] found.
#[derive(Debug, Default)]
pub struct BrowseRows {
    pub rows: Vec<StoredEvent>,
    /// The oldest event the window reached, when older ones were left unread.
    pub window_floor: Option<i64>,
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
/// so pruning never holds the writer for long. The newest event always stays: its number is
/// what the next one counts from.
pub fn prune(conn: &Connection, before: &str, max_bytes: i64, batch: u32) -> Result<usize> {
    count_new(conn)?;
    let over = position(conn)?.body_bytes - max_bytes;
    let Some(newest) = newest(conn)? else {
        return Ok(0);
    };
    // The oldest `batch` events; of those, the ones too old, or as many as bring the size down.
    let oldest = conn
        .prepare_cached(
            "SELECT seq, occurred_at, length(body) FROM events WHERE seq < ?2 ORDER BY seq LIMIT ?1",
        )?
        .query_map(params![batch, newest], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?))
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

/// Adds the bodies written since the last count to the running total; writes nothing when
/// there are none (a pruner pass on a quiet server changes no row).
fn count_new(conn: &Connection) -> Result<()> {
    conn.prepare_cached(
        "UPDATE event_sequence SET \
         body_bytes = body_bytes + (SELECT COALESCE(SUM(length(body)), 0) FROM events WHERE seq > counted_through), \
         counted_through = (SELECT MAX(seq) FROM events) \
         WHERE EXISTS (SELECT 1 FROM events WHERE seq > counted_through)",
    )?
    .execute([])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pruner runs every ten minutes on every server: on one with nothing to prune or
    /// count it must change no row (a write the request path's tests would see).
    #[test]
    fn a_quiet_pruner_pass_changes_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = crate::store::Store::open(&dir.path().join("s.db")).expect("open");
        let changed = store
            .write_blocking(|tx| {
                let before = tx.total_changes();
                prune(tx, "2000-01-01T00:00:00.000Z", i64::MAX, 1000)?;
                Ok(tx.total_changes() - before)
            })
            .expect("prune");
        assert_eq!(changed, 0);
    }
}
