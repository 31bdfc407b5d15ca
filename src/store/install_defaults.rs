//! The `install_defaults` table (migrations/0014_add_secure_defaults.sql): the defaults a
//! database was created with, read by `service::secure_defaults`. Written only by migrations.

use rusqlite::{Connection, OptionalExtension};

use super::Result;

/// The value recorded under `key`, if this database was created with one.
pub fn get(conn: &Connection, key: &str) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT value FROM install_defaults WHERE key = ?1")?
        .query_row([key], |r| r.get(0))
        .optional()?)
}
