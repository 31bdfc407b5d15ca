//! Bearer tokens: only a SHA-256 of each secret is stored, with the metadata an admin needs to
//! tell which integration uses which token and why one stopped working (revoked, expired,
//! rotated, last used when and by whom).

use rusqlite::{Connection, OptionalExtension, params};

use super::{Result, StoreError};

/// What a token may be used for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    /// The SCIM API (an IdP), read-write unless `read_only`.
    #[default]
    Scim,
    /// The tenant's events feed and nothing else (an application consuming the directory).
    Events,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scim => "scim",
            Self::Events => "events",
        }
    }

    fn parse(s: &str) -> Self {
        if s == "events" {
            Self::Events
        } else {
            Self::Scim
        }
    }
}

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
    pub kind: TokenKind,
    pub created: String,
    pub expires: Option<String>,
    pub revoked: Option<String>,
    /// When the token was rotated; it keeps working until `overlap_until`.
    pub rotated: Option<String>,
    /// Id of the token that replaced this one.
    pub replaced_by: Option<String>,
    pub overlap_until: Option<String>,
    pub last_used: Option<String>,
    pub last_used_ip: Option<String>,
    pub last_used_agent: Option<String>,
    /// The client addresses the token may be used from (issue 27); empty = any.
    pub allowed_addresses: Vec<ipnet::IpNet>,
}

const COLUMNS: &str = "id, tenant_id, name, prefix, secret_hash, read_only, created, expires, revoked, \
     rotated, replaced_by, overlap_until, last_used, last_used_ip, last_used_agent, kind, \
     allowed_addresses";

/// The stored form of an allowlist: a JSON array of CIDR strings, NULL when empty.
fn addresses_column(list: &[ipnet::IpNet]) -> Option<String> {
    (!list.is_empty()).then(|| {
        serde_json::Value::from(list.iter().map(ToString::to_string).collect::<Vec<_>>())
            .to_string()
    })
}

fn addresses_from(column: Option<String>) -> rusqlite::Result<Vec<ipnet::IpNet>> {
    let Some(json) = column else {
        return Ok(Vec::new());
    };
    serde_json::from_str(&json).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(16, rusqlite::types::Type::Text, Box::new(e))
    })
}

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
        rotated: r.get(9)?,
        replaced_by: r.get(10)?,
        overlap_until: r.get(11)?,
        last_used: r.get(12)?,
        last_used_ip: r.get(13)?,
        last_used_agent: r.get(14)?,
        kind: TokenKind::parse(&r.get::<_, String>(15)?),
        allowed_addresses: addresses_from(r.get(16)?)?,
    })
}

/// Stores a new token; `Conflict` if the tenant already has a token with that name.
pub fn insert(conn: &Connection, token: &TokenRow) -> Result<()> {
    conn.execute(
        "INSERT INTO tokens (id, tenant_id, name, prefix, secret_hash, read_only, created, expires, kind, allowed_addresses)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            token.id,
            token.tenant_id,
            token.name,
            token.prefix,
            token.secret_hash,
            token.read_only,
            token.created,
            token.expires,
            token.kind.as_str(),
            addresses_column(&token.allowed_addresses)
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

/// Finds a token by id (any tenant); used to name a replacement in a 401.
pub fn by_id(conn: &Connection, id: &str) -> Result<Option<TokenRow>> {
    Ok(conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM tokens WHERE id = ?1"))?
        .query_row([id], from_row)
        .optional()?)
}

/// Whether the tenant has a token with this name.
pub fn name_taken(conn: &Connection, tenant_id: i64, name: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM tokens WHERE tenant_id = ?1 AND name = ?2")?
        .query_row(params![tenant_id, name], |_| Ok(()))
        .optional()?
        .is_some())
}

/// Tokens of one tenant, or of all tenants.
pub fn list(conn: &Connection, tenant_id: Option<i64>) -> Result<Vec<TokenRow>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM tokens WHERE ?1 IS NULL OR tenant_id = ?1 ORDER BY tenant_id, created, name"
    ))?;
    let rows = stmt.query_map([tenant_id], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The one token with this id or name (in `tenant_id`, when given). `NotFound` if none,
/// `Conflict` if a name repeats across tenants and no tenant was given.
pub fn find(conn: &Connection, id_or_name: &str, tenant_id: Option<i64>) -> Result<TokenRow> {
    let found = conn
        .prepare(&format!(
            "SELECT {COLUMNS} FROM tokens WHERE (id = ?1 OR name = ?1) AND (?2 IS NULL OR tenant_id = ?2)"
        ))?
        .query_map(params![id_or_name, tenant_id], from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    match found.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(StoreError::NotFound),
        _ => Err(StoreError::Conflict {
            index: format!(
                "{} tokens are named {id_or_name}; use the token id or pass --tenant",
                found.len()
            ),
        }),
    }
}

/// Marks a token revoked, found by id or by name; `NotFound` if neither matches.
pub fn revoke(
    conn: &Connection,
    id_or_name: &str,
    tenant_id: Option<i64>,
    now: &str,
) -> Result<TokenRow> {
    let token = find(conn, id_or_name, tenant_id)?;
    conn.execute(
        "UPDATE tokens SET revoked = COALESCE(revoked, ?1) WHERE id = ?2",
        params![now, token.id],
    )?;
    Ok(TokenRow {
        revoked: Some(token.revoked.unwrap_or_else(|| now.to_owned())),
        ..token
    })
}

/// Replaces the client-address allowlist of token `id` (empty: any address).
pub fn set_allowed_addresses(conn: &Connection, id: &str, list: &[ipnet::IpNet]) -> Result<()> {
    let n = conn.execute(
        "UPDATE tokens SET allowed_addresses = ?2 WHERE id = ?1",
        params![id, addresses_column(list)],
    )?;
    if n == 1 {
        Ok(())
    } else {
        Err(StoreError::NotFound)
    }
}

/// Records that `id` was rotated at `now`, replaced by `replaced_by`, usable until `until`.
pub fn mark_rotated(
    conn: &Connection,
    id: &str,
    now: &str,
    replaced_by: &str,
    until: &str,
) -> Result<()> {
    let n = conn.execute(
        "UPDATE tokens SET rotated = ?2, replaced_by = ?3, overlap_until = ?4 WHERE id = ?1",
        params![id, now, replaced_by, until],
    )?;
    if n == 1 {
        Ok(())
    } else {
        Err(StoreError::NotFound)
    }
}

/// One observed use of a token, as written by the usage flush.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage {
    pub token_id: String,
    pub at: String,
    pub ip: Option<String>,
    pub agent: Option<String>,
}

/// Writes observed uses; a use older than the stored one is ignored so a late flush never
/// moves `last_used` backwards. Returns the number of rows changed.
pub fn record_usage(conn: &Connection, uses: &[Usage]) -> Result<usize> {
    let mut stmt = conn.prepare_cached(
        "UPDATE tokens SET last_used = ?2, last_used_ip = ?3, last_used_agent = ?4
         WHERE id = ?1 AND (last_used IS NULL OR last_used < ?2)",
    )?;
    let mut changed = 0;
    for u in uses {
        changed += stmt.execute(params![u.token_id, u.at, u.ip, u.agent])?;
    }
    // OAuth clients are counted like tokens (their ids are uuids too, never a token's).
    changed += super::oauth::record_usage(conn, uses)?;
    Ok(changed)
}
