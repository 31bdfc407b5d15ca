//! Helpers for the store's own tests: a database seeded in one write, and the plan SQLite
//! chooses for a statement (the tests that keep hot queries on their indexes read it).

use std::path::Path;

use rusqlite::Connection;
use serde_json::Value;

use super::filter_sql::SqlWhere;
use super::{PageIndex, Store, resources, tenants};

/// The creation time of every seeded row.
pub const SEEDED_AT: &str = "2026-01-01T00:00:00.000Z";

/// A store in `dir` whose default tenant (id 1) holds `seed`, as (resource type, id,
/// document) in insertion order, so the n-th resource has seq n.
pub fn seeded(dir: &Path, seed: Vec<(&'static str, String, Value)>) -> Store {
    let store = Store::open(&dir.join("seeded.db")).expect("open");
    store
        .write_blocking(move |tx| {
            tenants::ensure_default(tx, SEEDED_AT)?;
            for (resource_type, id, doc) in seed {
                let doc = doc.as_object().cloned().expect("a document is an object");
                resources::insert(tx, 1, resource_type, &id, &doc, None, SEEDED_AT)?;
            }
            Ok(())
        })
        .expect("seed");
    store
}

/// SQLite's plan for `sql` run with `params`, its steps joined by " | ".
pub fn query_plan(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> String {
    let mut stmt = conn
        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .expect("prepare");
    let steps = stmt
        .query_map(params, |r| r.get::<_, String>(3))
        .expect("plan");
    steps
        .collect::<rusqlite::Result<Vec<_>>>()
        .expect("plan steps")
        .join(" | ")
}

/// A page of every user of tenant 1, in insertion order.
pub fn every_user(
    conn: &Connection,
    pages: &PageIndex,
    offset: u64,
    limit: u64,
) -> super::Result<resources::Page> {
    let all = SqlWhere::all();
    resources::list(conn, pages, 1, "User", &all, None, offset, limit)
}
