//! Admin accounts and their sessions (migration 0002). Global rather than per tenant: an admin
//! runs the whole server. Only hashes are stored: argon2 for passwords, SHA-256 for session ids.

use rusqlite::{Connection, OptionalExtension, params};

use super::{Result, StoreError};

/// An admin account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminUser {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub created: String,
    pub last_login: Option<String>,
}

/// A live session joined with its admin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub admin_id: i64,
    pub username: String,
    pub csrf_token: String,
    pub expires: String,
}

const USER_COLUMNS: &str = "id, username, password_hash, created, last_login";

fn user_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AdminUser> {
    Ok(AdminUser {
        id: r.get(0)?,
        username: r.get(1)?,
        password_hash: r.get(2)?,
        created: r.get(3)?,
        last_login: r.get(4)?,
    })
}

/// How many admin accounts exist.
pub fn count(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row("SELECT COUNT(*) FROM admin_users", [], |r| r.get(0))?)
}

/// Usernames, for an error message naming the accounts that do exist.
pub fn usernames(conn: &Connection) -> Result<Vec<String>> {
    let mut stmt = conn.prepare("SELECT username FROM admin_users ORDER BY id")?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Creates an account; `Conflict` if the username is taken.
pub fn insert(conn: &Connection, username: &str, password_hash: &str, now: &str) -> Result<i64> {
    conn.execute(
        "INSERT INTO admin_users (username, password_hash, created) VALUES (?1, ?2, ?3)",
        params![username, password_hash, now],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Finds an account by username.
pub fn by_username(conn: &Connection, username: &str) -> Result<Option<AdminUser>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {USER_COLUMNS} FROM admin_users WHERE username = ?1"
        ))?
        .query_row([username], user_from_row)
        .optional()?)
}

/// Replaces an account's password hash and ends its sessions; `NotFound` if there is no such
/// account.
pub fn set_password(conn: &Connection, username: &str, password_hash: &str) -> Result<()> {
    let user = by_username(conn, username)?.ok_or(StoreError::NotFound)?;
    conn.execute(
        "UPDATE admin_users SET password_hash = ?2 WHERE id = ?1",
        params![user.id, password_hash],
    )?;
    conn.execute("DELETE FROM admin_sessions WHERE admin_id = ?1", [user.id])?;
    Ok(())
}

/// Stores a new session (and drops expired ones, so the table stays small without a timer).
pub fn insert_session(
    conn: &Connection,
    id_hash: &[u8],
    admin_id: i64,
    csrf_token: &str,
    now: &str,
    expires: &str,
) -> Result<()> {
    conn.execute("DELETE FROM admin_sessions WHERE expires <= ?1", [now])?;
    conn.execute(
        "INSERT INTO admin_sessions (id_hash, admin_id, csrf_token, created, expires) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![id_hash, admin_id, csrf_token, now, expires],
    )?;
    conn.execute(
        "UPDATE admin_users SET last_login = ?2 WHERE id = ?1",
        params![admin_id, now],
    )?;
    Ok(())
}

/// The unexpired session whose id hashes to `id_hash`.
pub fn session(conn: &Connection, id_hash: &[u8], now: &str) -> Result<Option<SessionRow>> {
    Ok(conn
        .prepare_cached(
            "SELECT s.admin_id, u.username, s.csrf_token, s.expires
             FROM admin_sessions s JOIN admin_users u ON u.id = s.admin_id
             WHERE s.id_hash = ?1 AND s.expires > ?2",
        )?
        .query_row(params![id_hash, now], |r| {
            Ok(SessionRow {
                admin_id: r.get(0)?,
                username: r.get(1)?,
                csrf_token: r.get(2)?,
                expires: r.get(3)?,
            })
        })
        .optional()?)
}

/// Ends a session.
pub fn delete_session(conn: &Connection, id_hash: &[u8]) -> Result<()> {
    conn.execute("DELETE FROM admin_sessions WHERE id_hash = ?1", [id_hash])?;
    Ok(())
}
