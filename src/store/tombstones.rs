//! Deleted users and groups (migrations/0010_create_tombstones.sql): moved out of `resources`
//! in the transaction that deletes them, restorable until the pruner removes them; the record
//! of erasures; the mass-change alarms. `resources` never holds a deleted row, so nothing that
//! reads it needs to know this table exists.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::Value;

use super::resources::ResourceRow;
use super::{Result, StoreError};
use crate::scim::fold;

/// One deleted user or group, whole.
#[derive(Debug, Clone, PartialEq)]
pub struct Tombstone {
    pub id: String,
    pub resource_type: String,
    pub name: String,
    pub external_id: Option<String>,
    pub password_hash: Option<String>,
    pub version: i64,
    pub created: String,
    pub last_modified: String,
    pub doc: String,
    /// Ids of the groups it was directly in.
    pub member_of: Vec<String>,
    /// A group's member ids, in the order they were added.
    pub members: Vec<String>,
    pub deleted_at: String,
    pub deleted_by: Option<String>,
}

/// A tombstone as listed: no document, membership counts.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Listed {
    pub id: String,
    pub resource_type: String,
    pub name: String,
    pub external_id: Option<String>,
    pub deleted_at: String,
    pub deleted_by: Option<Value>,
    pub member_of: i64,
    pub members: i64,
}

/// Moves the live resource at `seq` into `tombstones`, with the ids of the groups it is in and
/// (a group) of its members, gathered by SQLite in the same statement. The caller deletes the
/// live row afterwards, in the same transaction.
pub fn bury(
    conn: &Connection,
    tenant_id: i64,
    seq: i64,
    deleted_at: &str,
    deleted_by: Option<&str>,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO tombstones (id, tenant_id, resource_type, name, external_id, password_hash, \
             version, created, last_modified, doc, member_of, members, deleted_at, deleted_by) \
         SELECT r.id, r.tenant_id, r.resource_type, r.name, r.external_id, r.password_hash, r.version, \
             r.created, r.last_modified, r.doc, \
             (SELECT json_group_array(id) FROM (SELECT g.id FROM group_members m \
                 JOIN resources g ON g.seq = m.group_seq WHERE m.member_seq = r.seq ORDER BY m.rowid)), \
             (SELECT json_group_array(id) FROM (SELECT x.id FROM group_members m \
                 JOIN resources x ON x.seq = m.member_seq WHERE m.group_seq = r.seq ORDER BY m.rowid)), \
             ?3, ?4 \
         FROM resources r WHERE r.seq = ?1 AND r.tenant_id = ?2",
    )?
    .execute(params![seq, tenant_id, deleted_at, deleted_by])?;
    Ok(())
}

fn ids(raw: &str) -> Vec<String> {
    serde_json::from_str(raw).unwrap_or_default()
}

fn tombstone(r: &Row<'_>) -> rusqlite::Result<Tombstone> {
    Ok(Tombstone {
        id: r.get(0)?,
        resource_type: r.get(1)?,
        name: r.get(2)?,
        external_id: r.get(3)?,
        password_hash: r.get(4)?,
        version: r.get(5)?,
        created: r.get(6)?,
        last_modified: r.get(7)?,
        doc: r.get(8)?,
        member_of: ids(&r.get::<_, String>(9)?),
        members: ids(&r.get::<_, String>(10)?),
        deleted_at: r.get(11)?,
        deleted_by: r.get(12)?,
    })
}

/// The tombstone of `id` in the tenant, if there is one.
pub fn get(conn: &Connection, tenant_id: i64, id: &str) -> Result<Option<Tombstone>> {
    Ok(conn
        .prepare_cached(
            "SELECT id, resource_type, name, external_id, password_hash, version, created, \
             last_modified, doc, member_of, members, deleted_at, deleted_by \
             FROM tombstones WHERE tenant_id = ?1 AND id = ?2",
        )?
        .query_row(params![tenant_id, id], tombstone)
        .optional()?)
}

/// A tenant's tombstones, newest deletion first, at most `limit`, deleted before `before`.
pub fn list(
    conn: &Connection,
    tenant_id: i64,
    before: Option<&str>,
    limit: u32,
) -> Result<Vec<Listed>> {
    let rows = conn
        .prepare_cached(
            "SELECT id, resource_type, name, external_id, deleted_at, deleted_by, \
             json_array_length(member_of), json_array_length(members) \
             FROM tombstones WHERE tenant_id = ?1 AND deleted_at < ?2 \
             ORDER BY deleted_at DESC, id LIMIT ?3",
        )?
        .query_map(params![tenant_id, before.unwrap_or("9999"), limit], |r| {
            let by: Option<String> = r.get(5)?;
            Ok(Listed {
                id: r.get(0)?,
                resource_type: r.get(1)?,
                name: r.get(2)?,
                external_id: r.get(3)?,
                deleted_at: r.get(4)?,
                deleted_by: by.and_then(|b| serde_json::from_str(&b).ok()),
                member_of: r.get(6)?,
                members: r.get(7)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// How many tombstones a tenant holds.
pub fn count(conn: &Connection, tenant_id: i64) -> Result<i64> {
    Ok(conn
        .prepare_cached("SELECT COUNT(*) FROM tombstones WHERE tenant_id = ?1")?
        .query_row([tenant_id], |r| r.get(0))?)
}

/// Removes a tombstone (restored or erased); whether there was one.
pub fn remove(conn: &Connection, tenant_id: i64, id: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached("DELETE FROM tombstones WHERE tenant_id = ?1 AND id = ?2")?
        .execute(params![tenant_id, id])?
        == 1)
}

/// Puts a tombstone back into `resources` under its own id, one revision after the one it was
/// deleted at, and created when it first was; returns the live row. The emails index is
/// rebuilt; memberships are the caller's (they need checking against what exists now).
pub fn revive(conn: &Connection, tenant_id: i64, t: &Tombstone, now: &str) -> Result<ResourceRow> {
    let doc = match serde_json::from_str(&t.doc)? {
        Value::Object(map) => map,
        _ => {
            return Err(StoreError::Internal(format!(
                "tombstone {} is not an object",
                t.id
            )));
        }
    };
    let version = t.version + 1;
    conn.prepare_cached(
        "INSERT INTO resources (tenant_id, resource_type, id, name, name_key, external_id, active, \
             password_hash, version, created, last_modified, doc) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?
    .execute(params![
        tenant_id,
        t.resource_type,
        t.id,
        t.name,
        fold(&t.name),
        t.external_id,
        doc.get("active").and_then(Value::as_bool),
        t.password_hash,
        version,
        t.created,
        now,
        t.doc
    ])?;
    let seq = conn.last_insert_rowid();
    super::resources::write_emails(conn, tenant_id, seq, &doc)?;
    Ok(ResourceRow {
        seq,
        id: t.id.clone(),
        version,
        created: t.created.clone(),
        last_modified: now.to_owned(),
        doc,
        password_hash: t.password_hash.clone(),
    })
}

/// Deletes up to `batch` of a tenant's tombstones deleted before `before`; returns how many.
pub fn prune(conn: &Connection, tenant_id: i64, before: &str, batch: u32) -> Result<usize> {
    Ok(conn
        .prepare_cached(
            "DELETE FROM tombstones WHERE tenant_id = ?1 AND id IN \
             (SELECT id FROM tombstones WHERE tenant_id = ?1 AND deleted_at < ?2 LIMIT ?3)",
        )?
        .execute(params![tenant_id, before, batch])?)
}

/// Tenants that hold tombstones.
pub fn tenants_with_tombstones(conn: &Connection) -> Result<Vec<i64>> {
    Ok(conn
        .prepare_cached("SELECT DISTINCT tenant_id FROM tombstones")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?)
}

/// One erase, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Erasure {
    pub resource_type: String,
    pub resource_id: String,
    pub erased_at: String,
    pub erased_by: String,
}

/// Records that `resource_id` was erased, by whom and when.
pub fn record_erasure(conn: &Connection, tenant_id: i64, e: &Erasure) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO erasures (tenant_id, resource_type, resource_id, erased_at, erased_by) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        tenant_id,
        e.resource_type,
        e.resource_id,
        e.erased_at,
        e.erased_by
    ])?;
    Ok(())
}

/// A tenant's erasures, newest first.
pub fn erasures(conn: &Connection, tenant_id: i64, limit: u32) -> Result<Vec<Erasure>> {
    Ok(conn
        .prepare_cached(
            "SELECT resource_type, resource_id, erased_at, erased_by FROM erasures \
             WHERE tenant_id = ?1 ORDER BY erased_at DESC LIMIT ?2",
        )?
        .query_map(params![tenant_id, limit], |r| {
            Ok(Erasure {
                resource_type: r.get(0)?,
                resource_id: r.get(1)?,
                erased_at: r.get(2)?,
                erased_by: r.get(3)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Deletes up to `batch` history rows of one resource; returns how many.
pub fn delete_history(
    conn: &Connection,
    tenant_id: i64,
    resource_type: &str,
    id: &str,
    batch: u32,
) -> Result<usize> {
    Ok(conn
        .prepare_cached(
            "DELETE FROM resource_history WHERE id IN (SELECT id FROM resource_history \
             WHERE tenant_id = ?1 AND resource_type = ?2 AND resource_id = ?3 LIMIT ?4)",
        )?
        .execute(params![tenant_id, resource_type, id, batch])?)
}

/// One mass-change alarm.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Alarm {
    pub id: i64,
    pub tenant_id: i64,
    pub raised_at: String,
    pub first_seq: i64,
    pub last_seq: i64,
    pub last_at: String,
    pub deletions: i64,
    pub deactivations: i64,
    pub state: String,
    pub resolved_at: Option<String>,
    pub resolved_by: Option<String>,
}

const ALARM_COLUMNS: &str = "id, tenant_id, raised_at, first_seq, last_seq, last_at, deletions, \
    deactivations, state, resolved_at, resolved_by";

fn alarm(r: &Row<'_>) -> rusqlite::Result<Alarm> {
    Ok(Alarm {
        id: r.get(0)?,
        tenant_id: r.get(1)?,
        raised_at: r.get(2)?,
        first_seq: r.get(3)?,
        last_seq: r.get(4)?,
        last_at: r.get(5)?,
        deletions: r.get(6)?,
        deactivations: r.get(7)?,
        state: r.get(8)?,
        resolved_at: r.get(9)?,
        resolved_by: r.get(10)?,
    })
}

/// Raises an alarm; returns its id.
pub fn raise(conn: &Connection, a: &Alarm) -> Result<i64> {
    conn.prepare_cached(
        "INSERT INTO alarms (tenant_id, raised_at, first_seq, last_seq, last_at, deletions, deactivations) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        a.tenant_id,
        a.raised_at,
        a.first_seq,
        a.last_seq,
        a.last_at,
        a.deletions,
        a.deactivations
    ])?;
    Ok(conn.last_insert_rowid())
}

/// Extends an open alarm's burst through `last_seq`.
pub fn extend(
    conn: &Connection,
    id: i64,
    last_seq: i64,
    last_at: &str,
    deletions: i64,
    deactivations: i64,
) -> Result<()> {
    conn.prepare_cached(
        "UPDATE alarms SET last_seq = MAX(last_seq, ?2), last_at = ?3, deletions = deletions + ?4, \
         deactivations = deactivations + ?5 WHERE id = ?1 AND state = 'open'",
    )?
    .execute(params![id, last_seq, last_at, deletions, deactivations])?;
    Ok(())
}

/// Open alarms, of one tenant or of all.
pub fn open_alarms(conn: &Connection, tenant_id: Option<i64>) -> Result<Vec<Alarm>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {ALARM_COLUMNS} FROM alarms WHERE state = 'open' AND (?1 IS NULL OR tenant_id = ?1) ORDER BY id"
        ))?
        .query_map([tenant_id], alarm)?
        .collect::<rusqlite::Result<Vec<_>>>()?)
}

/// A tenant's alarms, newest first.
pub fn alarms(conn: &Connection, tenant_id: i64, limit: u32) -> Result<Vec<Alarm>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {ALARM_COLUMNS} FROM alarms WHERE tenant_id = ?1 ORDER BY id DESC LIMIT ?2"
        ))?
        .query_map(params![tenant_id, limit], alarm)?
        .collect::<rusqlite::Result<Vec<_>>>()?)
}

/// One alarm of a tenant.
pub fn get_alarm(conn: &Connection, tenant_id: i64, id: i64) -> Result<Option<Alarm>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {ALARM_COLUMNS} FROM alarms WHERE tenant_id = ?1 AND id = ?2"
        ))?
        .query_row(params![tenant_id, id], alarm)
        .optional()?)
}

/// Closes an open alarm as `reverted` or `dismissed`; whether it was open.
pub fn resolve(conn: &Connection, id: i64, state: &str, at: &str, by: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "UPDATE alarms SET state = ?2, resolved_at = ?3, resolved_by = ?4 WHERE id = ?1 AND state = 'open'",
        )?
        .execute(params![id, state, at, by])?
        == 1)
}

/// The tenant's deletions and deactivations in `first..=last`, oldest first: `(type, resource
/// type, resource id)`.
pub fn burst(
    conn: &Connection,
    tenant_id: i64,
    first: i64,
    last: i64,
) -> Result<Vec<(String, String, String)>> {
    Ok(conn
        .prepare_cached(
            "SELECT type, resource_type, resource_id FROM events WHERE tenant_id = ?1 \
             AND seq BETWEEN ?2 AND ?3 AND type IN ('user.deleted', 'group.deleted', 'user.deactivated') \
             ORDER BY seq",
        )?
        .query_map(params![tenant_id, first, last], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Deletions and deactivations of every tenant in `after+1..=through`, oldest first:
/// `(seq, tenant_id, type, occurred_at)`. A rowid range, so it reads only the new events.
pub fn removals_between(
    conn: &Connection,
    after: i64,
    through: i64,
) -> Result<Vec<(i64, i64, String, String)>> {
    Ok(conn
        .prepare_cached(
            "SELECT seq, tenant_id, type, occurred_at FROM events WHERE seq > ?1 AND seq <= ?2 \
             AND type IN ('user.deleted', 'group.deleted', 'user.deactivated') ORDER BY seq",
        )?
        .query_map(params![after, through], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?)
}

/// The events about one resource with numbers in `from..to`: `(seq, body)`, oldest first. A
/// window of the sequence, not a search: the outbox has no per-resource index (migration 0016),
/// so a caller walks the sequence a window per transaction.
pub fn events_in(
    conn: &Connection,
    tenant_id: i64,
    resource_type: &str,
    id: &str,
    from: i64,
    to: i64,
) -> Result<Vec<(i64, String)>> {
    Ok(conn
        .prepare_cached(
            "SELECT seq, body FROM events WHERE seq >= ?4 AND seq < ?5 AND tenant_id = ?1 \
             AND resource_type = ?2 AND resource_id = ?3 ORDER BY seq",
        )?
        .query_map(params![tenant_id, resource_type, id, from, to], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?)
}

/// The type of the resource the events name `id` (`User` or `Group`), if any does: a scan of
/// the tenant's events, for an erase that finds neither a tombstone nor history. Run it on a
/// reader, never in the writer.
pub fn type_in_events(conn: &Connection, tenant_id: i64, id: &str) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached(
            "SELECT resource_type FROM events WHERE tenant_id = ?1 \
             AND resource_type IN ('User', 'Group') AND resource_id = ?2 LIMIT 1",
        )?
        .query_row(params![tenant_id, id], |r| r.get(0))
        .optional()?)
}

/// Replaces an event's body (an erase drops its payload), keeping the running byte count of
/// the bodies (`event_sequence.body_bytes`) right for the ones it already counted.
pub fn replace_event_body(conn: &Connection, seq: i64, body: &str) -> Result<()> {
    conn.prepare_cached(
        "UPDATE event_sequence SET body_bytes = body_bytes - \
             (SELECT length(body) FROM events WHERE seq = ?1) + length(?2) \
         WHERE ?1 <= counted_through",
    )?
    .execute(params![seq, body])?;
    conn.prepare_cached("UPDATE events SET body = ?2 WHERE seq = ?1")?
        .execute(params![seq, body])?;
    Ok(())
}

/// The request log's newest entry id (0 when empty).
pub fn newest_log_id(conn: &Connection) -> Result<i64> {
    Ok(conn
        .prepare_cached("SELECT COALESCE(MAX(id), 0) FROM request_log")?
        .query_row([], |r| r.get(0))?)
}

/// Drops the bodies, query and detail of the request log entries with ids in `from..to` that
/// are about `id` or mention it or one of `needles` (its userName, externalId, emails: the
/// values a request names a person by); returns how many. `needles` are matched as LIKE
/// patterns, case-insensitively for ASCII, with `%`, `_` and the backslash escaped.
pub fn scrub_log(
    conn: &Connection,
    from: i64,
    to: i64,
    id: &str,
    needles: &[String],
) -> Result<usize> {
    let mut patterns = vec![like_pattern(id)];
    patterns.extend(needles.iter().map(|n| like_pattern(n)));
    let list = serde_json::to_string(&patterns)?;
    let mentions = |column: &str| {
        format!("EXISTS (SELECT 1 FROM json_each(?4) WHERE {column} LIKE value ESCAPE '\\')")
    };
    let sql = format!(
        "UPDATE request_log SET request_body = NULL, response_body = NULL, query = NULL, detail = NULL \
         WHERE id >= ?1 AND id < ?2 AND (resource_id = ?3 OR {} OR {} OR {} OR {})",
        mentions("request_body"),
        mentions("response_body"),
        mentions("query"),
        mentions("detail")
    );
    Ok(conn
        .prepare_cached(&sql)?
        .execute(params![from, to, id, list])?)
}

fn like_pattern(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('%');
    for c in value.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}
