//! Bearer tokens: only a SHA-256 of each secret is stored, with the metadata an admin needs to
//! tell which integration uses which token and why one stopped working.

use rusqlite::{Connection, OptionalExtension, params};

use super::{Result, StoreError};

/// A stored token (never the secret).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TokenRow {
    pub id: String,
    pub tenant_id: i64,
    pub name: String,
    pub prefix: String,
    #[serde(skip)]
    pub secret_hash: Vec<u8>,
    pub read_only: bool,
    pub created: String,
    pub expires: Option<String>,
    pub revoked: Option<String>,
    pub last_used: Option<String>,
}

const COLUMNS: &str =
    "id, tenant_id, name, prefix, secret_hash, read_only, created, expires, revoked, last_used";

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TokenRow> {
    Ok(TokenRow {
        id: r.get(0)?,
        tenant_id: r.get(1)?,
        name: r.get(2)?,
        prefix: r.get(3)?,
        secret_hash: r.get(4)?,
        read_only: r.get(5)?,
        created: r.get(6)?,
        expires: r.get(7)?,
        revoked: r.get(8)?,
        last_used: r.get(9)?,
    })
}

/// Stores a new token; `Conflict` if the tenant already has a token with that name.
pub fn insert(conn: &Connection, token: &TokenRow) -> Result<()> {
    conn.execute(
        "INSERT INTO tokens (id, tenant_id, name, prefix, secret_hash, read_only, created, expires)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            token.id,
            token.tenant_id,
            token.name,
            token.prefix,
            token.secret_hash,
            token.read_only,
            token.created,
            token.expires
        ],
    )?;
    Ok(())
}

/// Finds the token whose secret hashes to `hash`.
pub fn by_hash(conn: &Connection, hash: &[u8]) -> Result<Option<TokenRow>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM tokens WHERE secret_hash = ?1"
        ))?
        .query_row([hash], from_row)
        .optional()?)
}

/// Tokens of one tenant, or of all tenants.
pub fn list(conn: &Connection, tenant_id: Option<i64>) -> Result<Vec<TokenRow>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM tokens WHERE ?1 IS NULL OR tenant_id = ?1 ORDER BY tenant_id, created"
    ))?;
    let rows = stmt.query_map([tenant_id], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Marks a token revoked, found by id or by name; `NotFound` if neither matches.
pub fn revoke(
    conn: &Connection,
    id_or_name: &str,
    tenant_id: Option<i64>,
    now: &str,
) -> Result<TokenRow> {
    let token = conn
        .prepare(&format!(
            "SELECT {COLUMNS} FROM tokens WHERE (id = ?1 OR name = ?1) AND (?2 IS NULL OR tenant_id = ?2)"
        ))?
        .query_map(params![id_or_name, tenant_id], from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let token = match token.as_slice() {
        [one] => one.clone(),
        [] => return Err(StoreError::NotFound),
        _ => {
            return Err(StoreError::Conflict {
                index: format!(
                    "{} tokens are named {id_or_name}; revoke by id or pass --tenant",
                    token.len()
                ),
            });
        }
    };
    conn.execute(
        "UPDATE tokens SET revoked = COALESCE(revoked, ?1) WHERE id = ?2",
        params![now, token.id],
    )?;
    Ok(TokenRow {
        revoked: Some(token.revoked.unwrap_or_else(|| now.to_owned())),
        ..token
    })
}
