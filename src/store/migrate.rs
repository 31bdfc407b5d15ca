//! Embedded, numbered, forward-only migrations. Each runs in its own transaction together with
//! the row that records it, so a crash mid-migration leaves the previous schema intact. A
//! database written by a newer scimd is refused rather than misread.

use std::path::Path;

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
    (
        5,
        "0005_move_request_log",
        include_str!("../../migrations/0005_move_request_log.sql"),
    ),
    (
        6,
        "0006_create_credentials_version",
        include_str!("../../migrations/0006_create_credentials_version.sql"),
    ),
    (
        7,
        "0007_add_tenant_settings",
        include_str!("../../migrations/0007_add_tenant_settings.sql"),
    ),
    (
        8,
        "0008_create_events",
        include_str!("../../migrations/0008_create_events.sql"),
    ),
    (
        9,
        "0009_create_webhooks",
        include_str!("../../migrations/0009_create_webhooks.sql"),
    ),
    (
        10,
        "0010_create_tombstones",
        include_str!("../../migrations/0010_create_tombstones.sql"),
    ),
    (
        11,
        "0011_create_ldap",
        include_str!("../../migrations/0011_create_ldap.sql"),
    ),
    (
        12,
        "0012_create_maintenance",
        include_str!("../../migrations/0012_create_maintenance.sql"),
    ),
    (
        14,
        "0014_add_secure_defaults",
        include_str!("../../migrations/0014_add_secure_defaults.sql"),
    ),
    (
        15,
        "0015_create_oauth",
        include_str!("../../migrations/0015_create_oauth.sql"),
    ),
    (
        16,
        "0016_drop_events_by_resource",
        include_str!("../../migrations/0016_drop_events_by_resource.sql"),
    ),
    (
        17,
        "0017_create_oauth_codes",
        include_str!("../../migrations/0017_create_oauth_codes.sql"),
    ),
    (
        18,
        "0018_count_resources",
        include_str!("../../migrations/0018_count_resources.sql"),
    ),
];

/// The request log's own database file.
const LOG_MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "0001_create_request_log",
        include_str!("../../migrations/log/0001_create_request_log.sql"),
    ),
    (
        2,
        "0002_index_resource_prefix",
        include_str!("../../migrations/log/0002_index_resource_prefix.sql"),
    ),
    (
        3,
        "0003_index_resource_by_batch",
        include_str!("../../migrations/log/0003_index_resource_by_batch.sql"),
    ),
    (
        4,
        "0004_add_truncated_fields",
        include_str!("../../migrations/log/0004_add_truncated_fields.sql"),
    ),
    (
        5,
        "0005_add_request_id",
        include_str!("../../migrations/log/0005_add_request_id.sql"),
    ),
    (
        6,
        "0006_add_quirks",
        include_str!("../../migrations/log/0006_add_quirks.sql"),
    ),
    (
        7,
        "0007_create_webhook_attempts",
        include_str!("../../migrations/log/0007_create_webhook_attempts.sql"),
    ),
];

/// Version of the main schema from which the request log is in its own file.
const LOG_MOVED_OUT: i64 = 5;

/// Brings the main database and the request log's database (`log_path`) up to date. Entries
/// logged before the log had its own file are copied into it first, so none is lost.
pub(super) fn apply(main: &mut Connection, log: &mut Connection, log_path: &Path) -> Result<()> {
    apply_list(log, LOG_MIGRATIONS)?;
    if version(main)? < LOG_MOVED_OUT && has_table(main, "request_log")? {
        let path = log_path.to_str().ok_or_else(|| {
            StoreError::Internal(format!("{} is not valid UTF-8", log_path.display()))
        })?;
        main.execute("ATTACH DATABASE ?1 AS log", [path])?;
        // OR IGNORE: a copy interrupted before the main schema moved on is simply redone.
        let copied = main.execute(
            "INSERT OR IGNORE INTO log.request_log (id, time, tenant_id, tenant, token_id, \
             token_name, client_ip, user_agent, idp, method, path, query, status, latency_ms, \
             resource_type, resource_id, scim_type, detail, request_body, response_body, \
             request_truncated, response_truncated) \
             SELECT id, time, tenant_id, tenant, token_id, token_name, client_ip, user_agent, \
             idp, method, path, query, status, latency_ms, resource_type, resource_id, \
             scim_type, detail, request_body, response_body, request_truncated, \
             response_truncated FROM main.request_log",
            [],
        );
        main.execute_batch("DETACH DATABASE log")?;
        tracing::info!(entries = copied?, "moved the request log to its own file");
    }
    apply_list(main, MIGRATIONS)
}

fn version(conn: &Connection) -> Result<i64> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied TEXT NOT NULL)",
    )?;
    Ok(conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        [],
        |r| r.get(0),
    )?)
}

fn has_table(conn: &Connection, name: &str) -> Result<bool> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM main.sqlite_master WHERE type = 'table' AND name = ?1)",
        [name],
        |r| r.get(0),
    )?)
}

/// Applies every migration of `list` newer than the database's version.
fn apply_list(conn: &mut Connection, list: &[(i64, &str, &str)]) -> Result<()> {
    let current = version(conn)?;
    let newest = list.last().map_or(0, |m| m.0);
    if current > newest {
        return Err(StoreError::Internal(format!(
            "the database is at schema version {current}, newer than this scimd understands ({newest}); run the newer scimd or restore a backup"
        )));
    }
    for (version, name, sql) in list.iter().filter(|m| m.0 > current) {
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

    /// Main and log connections on fresh files in `dir`.
    fn open(dir: &Path) -> (Connection, Connection, std::path::PathBuf) {
        let log_path = dir.join("m-log.db");
        let main = Connection::open(dir.join("m.db")).expect("open main");
        let log = Connection::open(&log_path).expect("open log");
        (main, log, log_path)
    }

    fn count(conn: &Connection, sql: &str) -> i64 {
        conn.query_row(sql, [], |r| r.get(0)).expect("count")
    }

    #[test]
    fn migrations_are_idempotent_and_recorded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut main, mut log, path) = open(dir.path());
        apply(&mut main, &mut log, &path).expect("first");
        apply(&mut main, &mut log, &path).expect("second");
        let recorded = "SELECT COUNT(*) FROM schema_migrations";
        assert_eq!(count(&main, recorded), MIGRATIONS.len() as i64);
        assert_eq!(count(&log, recorded), LOG_MIGRATIONS.len() as i64);
    }

    #[test]
    fn newer_database_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut main, mut log, path) = open(dir.path());
        apply(&mut main, &mut log, &path).expect("first");
        main.execute(
            "INSERT INTO schema_migrations VALUES (999, 'future', 'x')",
            [],
        )
        .expect("insert");
        let err = apply(&mut main, &mut log, &path).expect_err("newer");
        assert!(err.to_string().contains("newer than this scimd"));
    }

    /// A database from before the log had its own file keeps its entries: they are copied
    /// into the log file, then the old table goes.
    #[test]
    fn entries_logged_before_the_move_are_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut main, mut log, path) = open(dir.path());
        apply_list(&mut main, &MIGRATIONS[..4]).expect("old schema");
        main.execute_batch(
            "INSERT INTO request_log (time, tenant, idp, method, path, status, latency_ms) \
             VALUES ('2026-01-01T00:00:00.000Z', 'default', 'okta', 'GET', '/scim/v2/Users', 200, 1.5)",
        )
        .expect("old entry");
        apply(&mut main, &mut log, &path).expect("upgrade");
        assert!(!has_table(&main, "request_log").expect("main tables"));
        assert_eq!(
            count(&log, "SELECT COUNT(*) FROM request_log WHERE idp = 'okta'"),
            1
        );
    }

    /// Issue 27: a new database records the secure defaults; one upgraded from before them
    /// (it has a tenant) records none, so its behaviour does not change.
    #[test]
    fn secure_defaults_are_recorded_for_new_databases_only() {
        let defaults = "SELECT COUNT(*) FROM install_defaults";
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut main, mut log, path) = open(dir.path());
        apply(&mut main, &mut log, &path).expect("new");
        assert_eq!(count(&main, defaults), 3);
        let old = tempfile::tempdir().expect("tempdir");
        let (mut main, mut log, path) = open(old.path());
        let before = MIGRATIONS.iter().take_while(|m| m.0 < 14).count();
        apply_list(&mut main, &MIGRATIONS[..before]).expect("old schema");
        main.execute_batch(
            "INSERT INTO tenants (slug, display_name, created) VALUES ('default', 'Default', '2026-01-01T00:00:00Z')",
        )
        .expect("old tenant");
        apply(&mut main, &mut log, &path).expect("upgrade");
        assert_eq!(count(&main, defaults), 0);
    }

    #[test]
    fn every_table_has_tenant_id() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut main, mut log, path) = open(dir.path());
        apply(&mut main, &mut log, &path).expect("apply");
        for conn in [&main, &log] {
            let mut stmt = conn
                // Admin accounts are global by design (see 0002_create_admin_tables.sql), and
                // so is the one counter of credential changes (0006), and the events' one
                // global sequence (0008), and the deployment's maintenance runs (0012), and
                // the defaults the database was created with (0014).
                .prepare("SELECT name FROM sqlite_master WHERE type='table' AND name NOT IN ('tenants','schema_migrations','admin_users','admin_sessions','credentials_version','event_sequence','maintenance','install_defaults') AND name NOT LIKE 'sqlite_%'")
                .expect("prepare");
            let tables: Vec<String> = stmt
                .query_map([], |r| r.get(0))
                .expect("q")
                .collect::<rusqlite::Result<_>>()
                .expect("rows");
            assert!(!tables.is_empty());
            for t in tables {
                let has = count(
                    conn,
                    &format!(
                        "SELECT COUNT(*) FROM pragma_table_info('{t}') WHERE name='tenant_id'"
                    ),
                );
                assert_eq!(has, 1, "table {t} lacks tenant_id");
            }
        }
    }
}
