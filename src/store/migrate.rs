//! Embedded, numbered, forward-only migrations. Each runs in its own transaction together with
//! the row that records it, so a crash mid-migration leaves the previous schema intact. A
//! database written by a newer scimd is refused rather than misread.

use rusqlite::{Connection, TransactionBehavior};

use super::{Result, StoreError};

/// (version, name, SQL), in order. Never edit a released entry; add a new file instead.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "0001_create_tables",
        include_str!("../../migrations/0001_create_tables.sql"),
    ),
    (
        2,
        "0002_create_admin_tables",
        include_str!("../../migrations/0002_create_admin_tables.sql"),
    ),
    (
        3,
        "0003_create_request_log",
        include_str!("../../migrations/0003_create_request_log.sql"),
    ),
    (
        4,
        "0004_index_resource_pages",
        include_str!("../../migrations/0004_index_resource_pages.sql"),
    ),
];

/// Applies every migration newer than the database's version.
pub(super) fn apply(conn: &mut Connection) -> Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied TEXT NOT NULL)",
    )?;
    let current: i64 = conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        [],
        |r| r.get(0),
    )?;
    let newest = MIGRATIONS.last().map_or(0, |m| m.0);
    if current > newest {
        return Err(StoreError::Internal(format!(
            "the database is at schema version {current}, newer than this scimd understands ({newest}); run the newer scimd or restore a backup"
        )));
    }
    for (version, name, sql) in MIGRATIONS.iter().filter(|m| m.0 > current) {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(sql)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied) VALUES (?1, ?2, ?3)",
            rusqlite::params![version, name, crate::clock::timestamp(crate::clock::now())],
        )?;
        tx.commit()?;
        tracing::info!(version, name, "applied migration");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_idempotent_and_recorded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut conn = Connection::open(dir.path().join("m.db")).expect("open");
        apply(&mut conn).expect("first");
        apply(&mut conn).expect("second");
        let n: i64 = conn
            .query_row("SELECT COUNT(*) FROM schema_migrations", [], |r| r.get(0))
            .expect("count");
        assert_eq!(n, MIGRATIONS.len() as i64);
    }

    #[test]
    fn newer_database_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut conn = Connection::open(dir.path().join("m.db")).expect("open");
        apply(&mut conn).expect("first");
        conn.execute(
            "INSERT INTO schema_migrations VALUES (999, 'future', 'x')",
            [],
        )
        .expect("insert");
        let err = apply(&mut conn).expect_err("newer");
        assert!(err.to_string().contains("newer than this scimd"));
    }

    #[test]
    fn every_table_has_tenant_id() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut conn = Connection::open(dir.path().join("m.db")).expect("open");
        apply(&mut conn).expect("apply");
        let mut stmt = conn
            // Admin accounts are global by design (see 0002_create_admin_tables.sql).
            .prepare("SELECT name FROM sqlite_master WHERE type='table' AND name NOT IN ('tenants','schema_migrations','admin_users','admin_sessions') AND name NOT LIKE 'sqlite_%'")
            .expect("prepare");
        let tables: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .expect("q")
            .collect::<rusqlite::Result<_>>()
            .expect("rows");
        assert!(!tables.is_empty());
        for t in tables {
            let has: i64 = conn
                .query_row(
                    &format!(
                        "SELECT COUNT(*) FROM pragma_table_info('{t}') WHERE name='tenant_id'"
                    ),
                    [],
                    |r| r.get(0),
                )
                .expect("info");
            assert_eq!(has, 1, "table {t} lacks tenant_id");
        }
    }
}
