//! Where the pages of a plain listing start (issue 29). `GET /Users?startIndex=N&count=100`
//! with no filter and no sort is how IdPs import a directory; with `OFFSET` every page walked
//! the index from the first user to the page, and a COUNT walked all of it.
//!
//! A new resource always takes the highest `seq`, so it joins the end of the insertion order
//! and no existing resource's position changes; only a removal moves positions. So the `seq`
//! at every [`STRIDE`]-th position, once seen, stays right while the tenant's
//! `resource_counts.removals` (migration 0018) stays what it was, and a page then starts at
//! the nearest of them below it and walks fewer than [`STRIDE`] entries. A reader whose
//! snapshot has that same `removals` sees the same resources up to its own last one, so any
//! reader may use anchors another one found.

use std::collections::HashMap;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};

use super::Result;

/// Positions between two remembered anchors: a page walks fewer index entries than this.
const STRIDE: u64 = 256;

/// How many resources of a type a tenant has now, and how many it ever removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Counted {
    pub live: u64,
    pub removals: i64,
}

pub(super) fn counted(conn: &Connection, tenant_id: i64, resource_type: &str) -> Result<Counted> {
    let row = conn
        .prepare_cached(
            "SELECT live, removals FROM resource_counts WHERE tenant_id = ?1 AND resource_type = ?2",
        )?
        .query_row(params![tenant_id, resource_type], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
        })
        .optional()?;
    let (live, removals) = row.unwrap_or((0, 0));
    Ok(Counted {
        live: u64::try_from(live).unwrap_or(0),
        removals,
    })
}

/// The `seq` at positions 0, [`STRIDE`], 2·[`STRIDE`]… of one tenant's resources of one type,
/// as of `removals`.
struct Anchors {
    removals: i64,
    seqs: Vec<i64>,
}

/// Anchors per tenant and resource type, shared by every reader of one database. Memory is one
/// `i64` per [`STRIDE`] resources.
#[derive(Default)]
pub struct PageIndex {
    anchors: Mutex<HashMap<(i64, String), Anchors>>,
}

impl PageIndex {
    /// Where a walk to position `offset` starts: the `seq` of an anchor at or before it, and
    /// how many entries then remain to skip. `removals` is what the caller's snapshot reads;
    /// positions past the anchors known so far are found by walking on from the last one, and
    /// remembered.
    pub(super) fn start_of(
        &self,
        conn: &Connection,
        tenant_id: i64,
        resource_type: &str,
        removals: i64,
        offset: u64,
    ) -> Result<(i64, u64)> {
        let wanted = usize::try_from(offset / STRIDE).unwrap_or(usize::MAX);
        let key = (tenant_id, resource_type.to_owned());
        let known = {
            let mut all = self.anchors.lock().unwrap_or_else(|e| e.into_inner());
            let anchors = all.entry(key.clone()).or_insert_with(|| Anchors {
                removals,
                seqs: Vec::new(),
            });
            // `removals` only grows: a newer snapshot replaces older anchors; an older one
            // walks without touching what newer readers use.
            if anchors.removals < removals {
                *anchors = Anchors {
                    removals,
                    seqs: Vec::new(),
                };
            }
            if anchors.removals == removals {
                if let Some(seq) = anchors.seqs.get(wanted) {
                    return Ok((*seq, offset % STRIDE));
                }
                Known {
                    count: anchors.seqs.len(),
                    last: anchors.seqs.last().copied(),
                }
            } else {
                Known::default()
            }
        };
        let mut found = Vec::new();
        let walked = walk_anchors(conn, tenant_id, resource_type, known, wanted, &mut found);
        // Whatever was found before an interruption (the worker's step budget) is kept, so the
        // read's second run on the pool walks on from there.
        if !found.is_empty() {
            let mut all = self.anchors.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(anchors) = all.get_mut(&key)
                && anchors.removals == removals
                && anchors.seqs.len() == known.count
            {
                anchors.seqs.extend_from_slice(&found);
            }
        }
        walked?;
        let anchors = known.count + found.len();
        match found.last().copied().or(known.last) {
            Some(seq) => {
                let position = (anchors - 1) as u64 * STRIDE;
                Ok((seq, offset - position))
            }
            None => Ok((i64::MIN, offset)),
        }
    }
}

/// Every resource's `seq` from ?3 on, in order.
pub(super) const WALK_SQL: &str = "SELECT seq FROM resources \
     WHERE tenant_id = ?1 AND resource_type = ?2 AND seq >= ?3 ORDER BY seq";

/// How many anchors a walk starts with, and the last of them.
#[derive(Debug, Clone, Copy, Default)]
struct Known {
    count: usize,
    last: Option<i64>,
}

/// Walks the index from the last `known` anchor (or the first resource) and pushes the `seq` of
/// each anchor position onto `found` until the anchor `wanted` or the end of the listing.
fn walk_anchors(
    conn: &Connection,
    tenant_id: i64,
    resource_type: &str,
    known: Known,
    wanted: usize,
    found: &mut Vec<i64>,
) -> Result<()> {
    let mut stmt = conn.prepare_cached(WALK_SQL)?;
    let resuming = known.last;
    let mut rows = stmt.query(params![
        tenant_id,
        resource_type,
        resuming.unwrap_or(i64::MIN)
    ])?;
    // Rows read since the last anchor; when resuming, the walk reads that anchor again first.
    let mut since: u64 = 0;
    while known.count + found.len() <= wanted {
        let Some(row) = rows.next()? else { break };
        let seq: i64 = row.get(0)?;
        let is_anchor = since.is_multiple_of(STRIDE) && !(since == 0 && resuming.is_some());
        debug_assert!(
            since > 0 || resuming.is_none_or(|r| r == seq),
            "a known anchor is gone"
        );
        if is_anchor {
            found.push(seq);
        }
        since += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::filter_sql::SqlWhere;
    use crate::store::resources::{self, Page};
    use crate::store::testing::{SEEDED_AT, every_user, seeded};

    fn users(n: usize) -> Vec<(&'static str, String, serde_json::Value)> {
        (0..n)
            .map(|i| {
                let doc = serde_json::json!({"userName": format!("u{i}")});
                ("User", format!("id{i}"), doc)
            })
            .collect()
    }

    fn ids(page: &Page) -> Vec<String> {
        page.rows.iter().map(|r| r.id.clone()).collect()
    }

    /// The same page by a filter that matches everything but is not [`SqlWhere::all`], so it
    /// takes the plain OFFSET walk and a COUNT.
    fn by_offset(conn: &Connection, offset: u64, limit: u64) -> Result<Page> {
        let everything = SqlWhere {
            sql: "r.seq > 0".into(),
            params: Vec::new(),
        };
        let pages = PageIndex::default();
        resources::list(conn, &pages, 1, "User", &everything, None, offset, limit)
    }

    fn anchors_known(pages: &PageIndex) -> usize {
        let all = pages.anchors.lock().expect("lock");
        all.get(&(1, "User".to_owned())).map_or(0, |a| a.seqs.len())
    }

    /// Every page and total agree with the OFFSET walk and COUNT, through creates (which keep
    /// the anchors) and deletes (which replace them), and deep pages stop walking from the first
    /// user once their anchor is known.
    #[test]
    fn anchored_pages_agree_with_offset_pages_through_creates_and_deletes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = seeded(dir.path(), users(1000));
        let pages = PageIndex::default();
        let check = |label: &str| {
            store
                .read_blocking(|conn| {
                    for (offset, limit) in [
                        (0, 100),
                        (255, 3),
                        (256, 100),
                        (700, 100),
                        (999, 10),
                        (1000, 5),
                        (5000, 1),
                        (300, 0),
                    ] {
                        let anchored = every_user(conn, &pages, offset, limit)?;
                        let walked = by_offset(conn, offset, limit)?;
                        assert_eq!(anchored.total, walked.total, "{label}: total at {offset}");
                        assert_eq!(
                            ids(&anchored),
                            ids(&walked),
                            "{label}: page at {offset}+{limit}"
                        );
                    }
                    Ok(())
                })
                .expect("pages");
        };
        check("seeded");
        assert_eq!(anchors_known(&pages), 4, "anchors up to position 999");

        store
            .write_blocking(|tx| {
                for i in 1000..1300 {
                    let doc = serde_json::json!({"userName": format!("u{i}")});
                    let doc = doc.as_object().cloned().expect("object");
                    resources::insert(tx, 1, "User", &format!("id{i}"), &doc, None, SEEDED_AT)?;
                }
                Ok(())
            })
            .expect("creates");
        check("after creates");
        assert_eq!(anchors_known(&pages), 4, "creates keep the anchors");

        store
            .write_blocking(|tx| {
                for i in [0, 3, 256, 511, 700] {
                    resources::delete(tx, 1, "User", &format!("id{i}"))?;
                }
                Ok(())
            })
            .expect("deletes");
        check("after deletes");
        store
            .read_blocking(|conn| {
                let walked = by_offset(conn, 1200, 100)?;
                let anchored = every_user(conn, &pages, 1200, 100)?;
                assert_eq!(ids(&anchored), ids(&walked));
                assert_eq!(anchored.total, 1295);
                Ok(())
            })
            .expect("deep page");
        assert_eq!(
            anchors_known(&pages),
            5,
            "anchors up to position 1200 after the deletes"
        );
    }

    /// The maintained count is exact for each tenant and type, and is filled in for resources
    /// that existed before migration 0018.
    #[test]
    fn counts_follow_inserts_and_deletes_per_type() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut seed = users(30);
        seed.push((
            "Group",
            "g1".into(),
            serde_json::json!({"displayName": "G"}),
        ));
        let store = seeded(dir.path(), seed);
        store
            .write_blocking(|tx| {
                resources::delete(tx, 1, "User", "id7")?;
                // As if these rows were there before the migration: counted again from scratch.
                tx.execute_batch(
                    "DELETE FROM resource_counts; \
                     INSERT INTO resource_counts (tenant_id, resource_type, live) \
                     SELECT tenant_id, resource_type, COUNT(*) FROM resources GROUP BY 1, 2;",
                )?;
                resources::delete(tx, 1, "User", "id8")?;
                Ok(())
            })
            .expect("writes");
        store
            .read_blocking(|conn| {
                assert_eq!(counted(conn, 1, "User")?.live, 28);
                assert_eq!(counted(conn, 1, "Group")?.live, 1);
                assert_eq!(
                    counted(conn, 2, "User")?,
                    Counted {
                        live: 0,
                        removals: 0
                    }
                );
                Ok(())
            })
            .expect("counts");
    }
}
