//! Tenants: the unit of isolation. Every other table is keyed by a tenant id from here.

use rusqlite::{Connection, OptionalExtension, params};

use super::{Result, StoreError};

/// The tenant served at `/scim/v2` without a `/t/{slug}` prefix.
pub const DEFAULT_SLUG: &str = "default";

/// One tenant.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Tenant {
    pub id: i64,
    pub slug: String,
    pub display_name: String,
    pub created: String,
    /// The settings as stored: a JSON object (`service::settings` reads it).
    #[serde(skip)]
    pub settings: String,
}

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Tenant> {
    Ok(Tenant {
        id: r.get(0)?,
        slug: r.get(1)?,
        display_name: r.get(2)?,
        created: r.get(3)?,
        settings: r.get(4)?,
    })
}

/// Finds a tenant by slug.
pub fn by_slug(conn: &Connection, slug: &str) -> Result<Option<Tenant>> {
    Ok(conn
        .prepare_cached(
            "SELECT id, slug, display_name, created, settings FROM tenants WHERE slug = ?1",
        )?
        .query_row([slug], from_row)
        .optional()?)
}

/// Finds a tenant by id.
pub fn by_id(conn: &Connection, id: i64) -> Result<Tenant> {
    conn.prepare_cached(
        "SELECT id, slug, display_name, created, settings FROM tenants WHERE id = ?1",
    )?
    .query_row([id], from_row)
    .optional()?
    .ok_or(StoreError::NotFound)
}

/// Creates a tenant; `Conflict` if the slug is taken.
pub fn create(conn: &Connection, slug: &str, display_name: &str, now: &str) -> Result<Tenant> {
    conn.execute(
        "INSERT INTO tenants (slug, display_name, created) VALUES (?1, ?2, ?3)",
        params![slug, display_name, now],
    )?;
    Ok(Tenant {
        id: conn.last_insert_rowid(),
        slug: slug.into(),
        display_name: display_name.into(),
        created: now.into(),
        settings: "{}".into(),
    })
}

/// Every tenant, oldest first.
pub fn list(conn: &Connection) -> Result<Vec<Tenant>> {
    let mut stmt =
        conn.prepare("SELECT id, slug, display_name, created, settings FROM tenants ORDER BY id")?;
    let rows = stmt.query_map([], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Stores a tenant's settings (a JSON object).
pub fn set_settings(conn: &Connection, id: i64, settings: &str) -> Result<()> {
    match conn.execute(
        "UPDATE tenants SET settings = ?1 WHERE id = ?2",
        params![settings, id],
    )? {
        0 => Err(StoreError::NotFound),
        _ => Ok(()),
    }
}

/// Creates the `default` tenant if the database has none yet; returns whether it did.
pub fn ensure_default(conn: &Connection, now: &str) -> Result<bool> {
    if by_slug(conn, DEFAULT_SLUG)?.is_some() {
        return Ok(false);
    }
    create(conn, DEFAULT_SLUG, "Default", now)?;
    Ok(true)
}

/// Deletes the tenant `id` and every row of it, in each table of `conn`'s database that has a
/// `tenant_id` column (found in the schema, so a table added later is not forgotten). Foreign
/// keys are checked at commit, once all rows are gone. For throwaway tenants only (the caller
/// checks): a real tenant's data is never removed this way.
pub fn remove(conn: &Connection, id: i64) -> Result<()> {
    conn.execute_batch("PRAGMA defer_foreign_keys = ON")?;
    for table in tables_with_tenant_id(conn)? {
        conn.execute(
            &format!("DELETE FROM \"{table}\" WHERE tenant_id = ?1"),
            [id],
        )?;
    }
    conn.execute("DELETE FROM tenants WHERE id = ?1", [id])?;
    Ok(())
}

/// The tables of `conn`'s database, other than `tenants`, that have a `tenant_id` column.
pub fn tables_with_tenant_id(conn: &Connection) -> Result<Vec<String>> {
    let mut stmt = conn.prepare(
        "SELECT m.name FROM sqlite_master m WHERE m.type = 'table' AND m.name != 'tenants' \
         AND EXISTS (SELECT 1 FROM pragma_table_info(m.name) WHERE name = 'tenant_id')",
    )?;
    let names = stmt
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(names)
}
