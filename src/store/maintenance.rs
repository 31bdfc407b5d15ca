//! The `maintenance` table (migrations/0012_create_maintenance.sql): when `scimd backup` and
//! `scimd doctor` last ran and what they found; and SQLite's own consistency check.

use rusqlite::{Connection, OptionalExtension, params};

use super::Result;

/// A maintenance task's last run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastRun {
    pub at: String,
    pub detail: String,
}

/// Records that `task` ran at `at` and found `detail` (replacing its previous run).
pub fn record(conn: &Connection, task: &str, at: &str, detail: &str) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO maintenance (task, at, detail) VALUES (?1, ?2, ?3) \
         ON CONFLICT (task) DO UPDATE SET at = excluded.at, detail = excluded.detail",
    )?
    .execute(params![task, at, detail])?;
    Ok(())
}

pub fn last_run(conn: &Connection, task: &str) -> Result<Option<LastRun>> {
    Ok(conn
        .prepare_cached("SELECT at, detail FROM maintenance WHERE task = ?1")?
        .query_row([task], |r| {
            Ok(LastRun {
                at: r.get(0)?,
                detail: r.get(1)?,
            })
        })
        .optional()?)
}

/// `PRAGMA quick_check`: the problems SQLite finds (B-tree structure, record formats, NOT
/// NULL), at most `max` of them; empty when the file is sound. Reads every page once, without
/// the index-content check of `integrity_check`, so it stays quick on a large directory.
pub fn quick_check(conn: &Connection, max: u32) -> Result<Vec<String>> {
    let mut stmt = conn.prepare(&format!("PRAGMA quick_check({max})"))?;
    let found: Vec<String> = stmt
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(found.into_iter().filter(|line| line != "ok").collect())
}

/// The newest time scimd wrote down (an event, a token's creation or last use), to tell a
/// clock that went back.
pub fn newest_recorded_time(conn: &Connection) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached(
            "SELECT MAX(t) FROM (SELECT MAX(occurred_at) AS t FROM events \
             UNION ALL SELECT MAX(created) FROM tokens UNION ALL SELECT MAX(last_used) FROM tokens)",
        )?
        .query_row([], |r| r.get(0))?)
}
