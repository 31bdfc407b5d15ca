//! SQL for the schema extensions tenants declare: the index of values declared unique
//! (`extension_values`, kept inside each resource write's transaction) and the reads that tell
//! whether changing or removing a declaration would touch stored data.

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Map, Value};

use super::Result;

/// Replaces the indexed unique values of one resource with `values` (`(attribute, value_key)`
/// pairs). A value another resource of the tenant holds fails with `Conflict` naming
/// `extension_values`; callers check [`holder`] first to say who holds it.
pub fn index_values(
    conn: &Connection,
    tenant_id: i64,
    seq: i64,
    values: &[(String, String)],
) -> Result<()> {
    conn.prepare_cached("DELETE FROM extension_values WHERE resource_seq = ?1")?
        .execute([seq])?;
    let mut insert = conn.prepare_cached(
        "INSERT INTO extension_values (tenant_id, resource_seq, attribute, value_key) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (attribute, key) in values {
        insert.execute(params![tenant_id, seq, attribute, key])?;
    }
    Ok(())
}

/// Indexes one more unique value of a resource (when a declaration changes).
pub fn index_values_add(
    conn: &Connection,
    tenant_id: i64,
    seq: i64,
    attribute: &str,
    key: &str,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO extension_values (tenant_id, resource_seq, attribute, value_key) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![tenant_id, seq, attribute, key])?;
    Ok(())
}

/// The id of the resource other than `seq` that holds `key` for `attribute`.
pub fn holder(
    conn: &Connection,
    tenant_id: i64,
    attribute: &str,
    key: &str,
    seq: Option<i64>,
) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached(
            "SELECT r.id FROM extension_values v JOIN resources r ON r.seq = v.resource_seq
             WHERE v.tenant_id = ?1 AND v.attribute = ?2 AND v.value_key = ?3 AND v.resource_seq IS NOT ?4",
        )?
        .query_row(params![tenant_id, attribute, key, seq], |r| r.get(0))
        .optional()?)
}

/// Forgets the indexed values of the attributes whose key starts with `prefix` (an extension's
/// lowercased URN and a colon), before they are indexed again under a changed declaration.
pub fn forget_values(conn: &Connection, tenant_id: i64, prefix: &str) -> Result<()> {
    conn.execute(
        "DELETE FROM extension_values WHERE tenant_id = ?1 AND substr(attribute, 1, length(?2)) = ?2",
        params![tenant_id, prefix],
    )?;
    Ok(())
}

/// A resource's block of one extension: `(seq, id, block)`.
pub type StoredBlock = (i64, String, Map<String, Value>);

/// `(seq, id, block)` of every resource of a type that holds a block under `urn`.
pub fn blocks(
    conn: &Connection,
    tenant_id: i64,
    resource_type: &str,
    urn: &str,
) -> Result<Vec<StoredBlock>> {
    let path = json_key(urn);
    let mut stmt = conn.prepare(
        "SELECT seq, id, json_extract(doc, ?3) FROM resources
         WHERE tenant_id = ?1 AND resource_type = ?2 AND json_type(doc, ?3) = 'object'",
    )?;
    let rows = stmt.query_map(params![tenant_id, resource_type, path], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (seq, id, json) = row?;
        if let Value::Object(block) = serde_json::from_str(&json)? {
            out.push((seq, id, block));
        }
    }
    Ok(out)
}

/// How many resources of a type hold values under `urn`.
pub fn count_holding(
    conn: &Connection,
    tenant_id: i64,
    resource_type: &str,
    urn: &str,
) -> Result<i64> {
    Ok(conn.query_row(
        "SELECT COUNT(*) FROM resources WHERE tenant_id = ?1 AND resource_type = ?2 AND json_type(doc, ?3) IS NOT NULL",
        params![tenant_id, resource_type, json_key(urn)],
        |r| r.get(0),
    )?)
}

/// How many resources of a type there are (a newly required attribute concerns them all).
pub fn count_all(conn: &Connection, tenant_id: i64, resource_type: &str) -> Result<i64> {
    Ok(conn.query_row(
        "SELECT COUNT(*) FROM resources WHERE tenant_id = ?1 AND resource_type = ?2",
        params![tenant_id, resource_type],
        |r| r.get(0),
    )?)
}

/// A JSON path naming one top-level key, quoted (URNs hold colons and dots).
fn json_key(key: &str) -> String {
    format!("$.\"{}\"", key.replace('"', ""))
}
