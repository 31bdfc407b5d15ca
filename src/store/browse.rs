//! Read-only queries of the admin UI that SCIM itself does not need: one page of a group's
//! members (a group may have 50,000; the UI shows them a page at a time).

use rusqlite::{Connection, params};

use super::members::Member;
use super::{Result, StoreError};

/// One page of the members of group `group_id` in `tenant_id`, in the order they were added,
/// with the total count. `NotFound` if the tenant has no such group.
pub fn members_page(
    conn: &Connection,
    tenant_id: i64,
    group_id: &str,
    offset: u64,
    limit: u64,
) -> Result<(u64, Vec<Member>)> {
    let seq: i64 = conn
        .prepare_cached(
            "SELECT seq FROM resources WHERE tenant_id = ?1 AND resource_type = 'Group' AND id = ?2",
        )?
        .query_row(params![tenant_id, group_id], |r| r.get(0))
        .map_err(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => StoreError::NotFound,
            other => other.into(),
        })?;
    let total: i64 = conn.query_row(
        "SELECT COUNT(*) FROM group_members WHERE tenant_id = ?1 AND group_seq = ?2",
        params![tenant_id, seq],
        |r| r.get(0),
    )?;
    let clamp = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    let mut stmt = conn.prepare_cached(
        "SELECT r.id, r.resource_type, COALESCE(json_extract(r.doc, '$.displayName'), r.name)
         FROM group_members m JOIN resources r ON r.seq = m.member_seq
         WHERE m.tenant_id = ?1 AND m.group_seq = ?2 AND r.tenant_id = ?1
         ORDER BY m.rowid LIMIT ?3 OFFSET ?4",
    )?;
    let rows = stmt.query_map(params![tenant_id, seq, clamp(limit), clamp(offset)], |r| {
        Ok(Member {
            id: r.get(0)?,
            resource_type: r.get(1)?,
            display: r.get(2)?,
        })
    })?;
    Ok((total.unsigned_abs(), rows.collect::<rusqlite::Result<_>>()?))
}
