//! Group membership: one row per (group, member) in `group_members`, indexed both ways, so a
//! change costs what it touches, never a rewrite of the group's whole member list.

use std::collections::HashMap;

use rusqlite::{Connection, params};

use super::Result;

/// A member as the group renders it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: String,
    pub resource_type: String,
    pub display: Option<String>,
}

/// A resource that can be a member, found by id within the tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub id: String,
    pub seq: i64,
    pub resource_type: String,
}

/// Naming both resource types lets SQLite use the whole (tenant, type, id) index; with the
/// tenant alone it scanned every resource of the tenant for each id.
const FIND_SQL: &str = "SELECT id, seq, resource_type FROM resources WHERE tenant_id = ?1 AND resource_type IN ('User', 'Group') AND id = ?2";

/// Looks up which of `ids` exist in the tenant (users or groups).
pub fn find(conn: &Connection, tenant_id: i64, ids: &[String]) -> Result<Vec<Candidate>> {
    let mut stmt = conn.prepare_cached(FIND_SQL)?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let mut rows = stmt.query(params![tenant_id, id])?;
        while let Some(r) = rows.next()? {
            out.push(Candidate {
                id: r.get(0)?,
                seq: r.get(1)?,
                resource_type: r.get(2)?,
            });
        }
    }
    Ok(out)
}

/// Adds members; existing ones are left as they are. Returns the positions in `member_seqs`
/// of the ones that were not members yet.
pub fn add(
    conn: &Connection,
    tenant_id: i64,
    group_seq: i64,
    member_seqs: &[i64],
) -> Result<Vec<usize>> {
    let mut stmt =
        conn.prepare_cached("INSERT OR IGNORE INTO group_members (tenant_id, group_seq, member_seq) VALUES (?1, ?2, ?3)")?;
    let mut added = Vec::new();
    for (i, seq) in member_seqs.iter().enumerate() {
        if stmt.execute(params![tenant_id, group_seq, seq])? == 1 {
            added.push(i);
        }
    }
    Ok(added)
}

/// Removes the listed members; absent ones are ignored. Returns the positions in
/// `member_seqs` of the ones that were members.
pub fn remove(conn: &Connection, group_seq: i64, member_seqs: &[i64]) -> Result<Vec<usize>> {
    let mut stmt =
        conn.prepare_cached("DELETE FROM group_members WHERE group_seq = ?1 AND member_seq = ?2")?;
    let mut removed = Vec::new();
    for (i, seq) in member_seqs.iter().enumerate() {
        if stmt.execute(params![group_seq, seq])? == 1 {
            removed.push(i);
        }
    }
    Ok(removed)
}

/// The members of a group as candidates (id, seq, type), in the order they were added.
pub fn current(conn: &Connection, group_seq: i64) -> Result<Vec<Candidate>> {
    let mut stmt = conn.prepare_cached(
        "SELECT r.id, r.seq, r.resource_type FROM group_members m JOIN resources r ON r.seq = m.member_seq \
         WHERE m.group_seq = ?1 ORDER BY m.rowid",
    )?;
    let rows = stmt.query_map([group_seq], |r| {
        Ok(Candidate {
            id: r.get(0)?,
            seq: r.get(1)?,
            resource_type: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Whether `group_seq` is reachable from `member_seq` through nested groups (or is it), i.e.
/// adding `member_seq` to `group_seq` would close a cycle.
pub fn would_cycle(conn: &Connection, group_seq: i64, member_seq: i64) -> Result<bool> {
    let found: i64 = conn.query_row(
        "WITH RECURSIVE below(seq) AS (
             SELECT ?2
             UNION SELECT m.member_seq FROM group_members m JOIN below b ON m.group_seq = b.seq
         )
         SELECT EXISTS (SELECT 1 FROM below WHERE seq = ?1)",
        params![group_seq, member_seq],
        |r| r.get(0),
    )?;
    Ok(found == 1)
}

const MEMBERS_SQL: &str =
    "SELECT r.id, r.resource_type, COALESCE(json_extract(r.doc, '$.displayName'), r.name)
         FROM group_members m JOIN resources r ON r.seq = m.member_seq
         WHERE m.group_seq = ?1 ORDER BY m.rowid";

/// Members of a group, in the order they were added, with a display name.
pub fn list(conn: &Connection, group_seq: i64) -> Result<Vec<Member>> {
    let mut stmt = conn.prepare_cached(MEMBERS_SQL)?;
    let rows = stmt.query_map([group_seq], |r| {
        Ok(Member {
            id: r.get(0)?,
            resource_type: r.get(1)?,
            display: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

const GROUPS_OF_SQL: &str = "WITH RECURSIVE up(seq, direct) AS (
             SELECT group_seq, 1 FROM group_members WHERE member_seq = ?1
             UNION SELECT m.group_seq, 0 FROM group_members m JOIN up u ON m.member_seq = u.seq
         )
         SELECT r.id, r.name, MAX(u.direct) FROM up u CROSS JOIN resources r ON r.seq = u.seq
         GROUP BY u.seq ORDER BY u.seq";

/// The groups `?1` is a direct member of, and whether each is itself a member of a group.
const DIRECT_GROUPS_SQL: &str =
    "SELECT r.id, r.name, EXISTS (SELECT 1 FROM group_members p WHERE p.member_seq = m.group_seq)
         FROM group_members m CROSS JOIN resources r ON r.seq = m.group_seq
         WHERE m.member_seq = ?1 ORDER BY m.group_seq";

/// Groups a user or group belongs to: directly, and through nested groups (RFC 7643 §4.1.2).
/// Most members are in no nested group: their direct groups are the answer, read with one
/// index lookup each; the recursive query (its queue, distinct set and grouping are temporary
/// tables, a tenth of a GET's CPU) runs only when a direct group has a parent.
/// `CROSS JOIN` pins the join order: left to itself SQLite may scan every resource in rowid
/// order to serve the GROUP BY, turning a microsecond lookup into a full-table scan per user.
pub fn groups_of(conn: &Connection, member_seq: i64) -> Result<Vec<(Member, bool)>> {
    let mut nested = false;
    let direct = conn
        .prepare_cached(DIRECT_GROUPS_SQL)?
        .query_map([member_seq], |r| {
            nested |= r.get::<_, bool>(2)?;
            Ok((group(r.get(0)?, r.get(1)?), true))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    if !nested {
        return Ok(direct);
    }
    let mut stmt = conn.prepare_cached(GROUPS_OF_SQL)?;
    let rows = stmt.query_map([member_seq], |r| {
        let direct: i64 = r.get(2)?;
        Ok((group(r.get(0)?, r.get(1)?), direct == 1))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The direct groups of each member in `?1` (a JSON array of seqs), and whether each group is
/// itself a member of a group: [`DIRECT_GROUPS_SQL`] for a whole page in one statement.
const DIRECT_GROUPS_OF_EACH_SQL: &str = "SELECT m.member_seq, r.id, r.name,
         EXISTS (SELECT 1 FROM group_members p WHERE p.member_seq = m.group_seq)
         FROM group_members m CROSS JOIN resources r ON r.seq = m.group_seq
         WHERE m.member_seq IN (SELECT value FROM json_each(?1)) ORDER BY m.member_seq, m.group_seq";

/// [`groups_of`] of each of `member_seqs` (distinct: a page of a listing), in their order. The
/// direct groups of the whole page are one statement instead of one each; a member whose
/// groups are nested still takes the recursive query.
pub fn groups_of_each(conn: &Connection, member_seqs: &[i64]) -> Result<Vec<Vec<(Member, bool)>>> {
    // One member (the IdPs' `userName eq` pre-check): the plain lookup, without the JSON array
    // and its virtual table (9 % of such a request's CPU when it went through them).
    if let [seq] = member_seqs {
        return Ok(vec![groups_of(conn, *seq)?]);
    }
    let mut direct: HashMap<i64, (Vec<(Member, bool)>, bool)> = HashMap::new();
    let mut stmt = conn.prepare_cached(DIRECT_GROUPS_OF_EACH_SQL)?;
    let mut rows = stmt.query([serde_json::to_string(member_seqs)?])?;
    while let Some(r) = rows.next()? {
        let (groups, nested) = direct.entry(r.get(0)?).or_default();
        *nested |= r.get::<_, bool>(3)?;
        groups.push((group(r.get(1)?, r.get(2)?), true));
    }
    member_seqs
        .iter()
        .map(|seq| match direct.remove(seq) {
            Some((_, true)) => groups_of(conn, *seq),
            Some((groups, false)) => Ok(groups),
            None => Ok(Vec::new()),
        })
        .collect()
}

fn group(id: String, display: Option<String>) -> Member {
    Member {
        id,
        resource_type: "Group".into(),
        display,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::{query_plan, seeded};

    /// Membership queries run for every rendered user and group: none may scan `resources`.
    /// (A planner choice once made `groups_of` a full scan per user: 124 ms at 100k users.)
    #[test]
    fn membership_queries_never_scan_resources() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut seed: Vec<_> = (0..300)
            .map(|i| {
                (
                    "User",
                    format!("u{i}"),
                    serde_json::json!({"userName": format!("u{i}")}),
                )
            })
            .collect();
        seed.push(("Group", "g".into(), serde_json::json!({"displayName": "g"})));
        let store = seeded(dir.path(), seed);
        let group_seq = 301;
        store
            .write_blocking(move |tx| add(tx, 1, group_seq, &(1..100).collect::<Vec<_>>()))
            .expect("members");
        store
            .read_blocking(|conn| {
                for p in [
                    query_plan(conn, MEMBERS_SQL, [5]),
                    query_plan(conn, GROUPS_OF_SQL, [5]),
                    query_plan(conn, DIRECT_GROUPS_SQL, [5]),
                    query_plan(conn, DIRECT_GROUPS_OF_EACH_SQL, ["[5,6,7]"]),
                    query_plan(conn, FIND_SQL, rusqlite::params![1, "u5"]),
                ] {
                    assert!(
                        !p.contains("SCAN r") && !p.contains("SCAN resources"),
                        "{p}"
                    );
                    assert!(
                        !p.contains("(tenant_id=?)"),
                        "only the tenant prefix of an index: {p}"
                    );
                }
                // The real functions answer too.
                assert_eq!(list(conn, group_seq)?.len(), 99);
                assert_eq!(groups_of(conn, 5)?.len(), 1);
                let each = groups_of_each(conn, &[7, 150, 5])?;
                assert_eq!(each.iter().map(Vec::len).collect::<Vec<_>>(), [1, 0, 1]);
                Ok(())
            })
            .expect("plans");
    }

    /// A page's groups read at once are each member's own groups, nested ones included.
    #[test]
    fn groups_of_each_member_match_groups_of_each_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut seed: Vec<_> = (0..20)
            .map(|i| {
                (
                    "User",
                    format!("u{i}"),
                    serde_json::json!({"userName": format!("u{i}")}),
                )
            })
            .collect();
        seed.extend((0..4).map(|i| {
            let name = format!("g{i}");
            (
                "Group",
                name.clone(),
                serde_json::json!({"displayName": name}),
            )
        }));
        let store = seeded(dir.path(), seed);
        // Users are seqs 1..=20, groups 21..=24; group 24 holds group 22 (nesting).
        store
            .write_blocking(|tx| {
                add(tx, 1, 21, &[1, 2, 3, 5])?;
                add(tx, 1, 22, &[2, 7])?;
                add(tx, 1, 23, &[2, 3, 20])?;
                add(tx, 1, 24, &[22, 9])?;
                Ok(())
            })
            .expect("members");
        store
            .read_blocking(|conn| {
                let page: Vec<i64> = (1..=24).rev().collect();
                let each = groups_of_each(conn, &page)?;
                let one_by_one = page
                    .iter()
                    .map(|seq| groups_of(conn, *seq))
                    .collect::<Result<Vec<_>>>()?;
                assert_eq!(each, one_by_one);
                let nested = &each[page.iter().position(|s| *s == 7).expect("user 7")];
                assert_eq!(nested.len(), 2, "g1 directly and g3 through it: {nested:?}");
                assert!(each.iter().filter(|g| g.is_empty()).count() > 0);
                assert_eq!(groups_of_each(conn, &[2])?, [groups_of(conn, 2)?]);
                Ok(())
            })
            .expect("read");
    }
}
