//! OAuth 2.0 clients, the access tokens issued to them and the assertion ids already used
//! (migration 0015). Only hashes of secrets and tokens are stored; the rules (who may have a
//! token, what a refusal says) live in `service::oauth`.

use rusqlite::{Connection, OptionalExtension, params};

use super::{Result, StoreError};

/// How a client authenticates at the token endpoint (RFC 7591 `token_endpoint_auth_method`;
/// `client_secret_basic` and `client_secret_post` are one method here: either is accepted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// RFC 6749 §2.3.1: a shared secret, in Basic or in the body.
    ClientSecret,
    /// RFC 7523 §2.2: a JWT signed with the client's private key.
    PrivateKeyJwt,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecret => "client_secret",
            Self::PrivateKeyJwt => "private_key_jwt",
        }
    }

    fn parse(s: &str) -> Self {
        if s == "private_key_jwt" {
            Self::PrivateKeyJwt
        } else {
            Self::ClientSecret
        }
    }
}

/// A stored client (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ClientRow {
    pub id: String,
    pub tenant_id: i64,
    pub name: String,
    pub client_id: String,
    pub method: Method,
    #[serde(skip)]
    pub secret_hash: Option<Vec<u8>>,
    #[serde(skip)]
    pub previous_hash: Option<Vec<u8>>,
    pub previous_until: Option<String>,
    /// Registered public keys: a JWK Set or PEM public keys.
    pub public_keys: Option<String>,
    pub jwks_uri: Option<String>,
    pub created: String,
    pub rotated: Option<String>,
    pub revoked: Option<String>,
    pub last_used: Option<String>,
    pub last_used_ip: Option<String>,
    pub last_used_agent: Option<String>,
    /// Registered redirect URIs (RFC 6749 §3.1.2): a client with one uses the authorization
    /// code grant (migration 0017).
    pub redirect_uris: Vec<String>,
}

const COLUMNS: &str = "id, tenant_id, name, client_id, method, secret_hash, previous_hash, \
     previous_until, public_keys, jwks_uri, created, rotated, revoked, last_used, last_used_ip, \
     last_used_agent, redirect_uris";

fn split_uris(text: Option<String>) -> Vec<String> {
    text.map(|t| {
        t.lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    })
    .unwrap_or_default()
}

fn join_uris(uris: &[String]) -> Option<String> {
    (!uris.is_empty()).then(|| uris.join("\n"))
}

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ClientRow> {
    Ok(ClientRow {
        id: r.get(0)?,
        tenant_id: r.get(1)?,
        name: r.get(2)?,
        client_id: r.get(3)?,
        method: Method::parse(&r.get::<_, String>(4)?),
        secret_hash: r.get(5)?,
        previous_hash: r.get(6)?,
        previous_until: r.get(7)?,
        public_keys: r.get(8)?,
        jwks_uri: r.get(9)?,
        created: r.get(10)?,
        rotated: r.get(11)?,
        revoked: r.get(12)?,
        last_used: r.get(13)?,
        last_used_ip: r.get(14)?,
        last_used_agent: r.get(15)?,
        redirect_uris: split_uris(r.get(16)?),
    })
}

/// Stores a new client; `Conflict` if the tenant has a client of that name.
pub fn insert(conn: &Connection, c: &ClientRow) -> Result<()> {
    conn.execute(
        "INSERT INTO oauth_clients (id, tenant_id, name, client_id, method, secret_hash, \
         public_keys, jwks_uri, created, redirect_uris) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            c.id,
            c.tenant_id,
            c.name,
            c.client_id,
            c.method.as_str(),
            c.secret_hash,
            c.public_keys,
            c.jwks_uri,
            c.created,
            join_uris(&c.redirect_uris)
        ],
    )?;
    Ok(())
}

/// The client with this `client_id` (any tenant).
pub fn by_client_id(conn: &Connection, client_id: &str) -> Result<Option<ClientRow>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM oauth_clients WHERE client_id = ?1"
        ))?
        .query_row([client_id], from_row)
        .optional()?)
}

/// Clients of one tenant, or of all tenants.
pub fn list(conn: &Connection, tenant_id: Option<i64>) -> Result<Vec<ClientRow>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM oauth_clients WHERE ?1 IS NULL OR tenant_id = ?1 \
         ORDER BY tenant_id, created, name"
    ))?;
    let rows = stmt.query_map([tenant_id], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The one client with this id, `client_id` or name (in `tenant_id`, when given).
pub fn find(conn: &Connection, wanted: &str, tenant_id: Option<i64>) -> Result<ClientRow> {
    let found = conn
        .prepare(&format!(
            "SELECT {COLUMNS} FROM oauth_clients \
             WHERE (id = ?1 OR client_id = ?1 OR name = ?1) AND (?2 IS NULL OR tenant_id = ?2)"
        ))?
        .query_map(params![wanted, tenant_id], from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    match found.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(StoreError::NotFound),
        _ => Err(StoreError::Conflict {
            index: format!(
                "{} OAuth clients are named {wanted}; use the client id or pass --tenant",
                found.len()
            ),
        }),
    }
}

/// Marks a client revoked. Its access tokens are kept until they expire so that a 401 can
/// say "revoked"; every check reads the client's `revoked`, so they end at once.
pub fn revoke(conn: &Connection, id: &str, now: &str) -> Result<()> {
    conn.execute(
        "UPDATE oauth_clients SET revoked = COALESCE(revoked, ?2) WHERE id = ?1",
        params![id, now],
    )?;
    Ok(())
}

/// Replaces a client's secret; the old one stays valid until `until`.
pub fn rotate_secret(
    conn: &Connection,
    id: &str,
    new_hash: &[u8],
    now: &str,
    until: &str,
) -> Result<()> {
    conn.execute(
        "UPDATE oauth_clients SET previous_hash = secret_hash, previous_until = ?4, \
         secret_hash = ?2, rotated = ?3 WHERE id = ?1",
        params![id, new_hash, now, until],
    )?;
    Ok(())
}

/// Replaces a client's registered keys or JWKS URL.
pub fn set_keys(
    conn: &Connection,
    id: &str,
    public_keys: Option<&str>,
    jwks_uri: Option<&str>,
    now: &str,
) -> Result<()> {
    conn.execute(
        "UPDATE oauth_clients SET public_keys = ?2, jwks_uri = ?3, rotated = ?4 WHERE id = ?1",
        params![id, public_keys, jwks_uri, now],
    )?;
    Ok(())
}

/// Replaces a client's registered redirect URIs.
pub fn set_redirect_uris(conn: &Connection, id: &str, uris: &[String]) -> Result<()> {
    conn.execute(
        "UPDATE oauth_clients SET redirect_uris = ?2 WHERE id = ?1",
        params![id, join_uris(uris)],
    )?;
    Ok(())
}

/// Remembers an assertion's `jti` until it expires; `Ok(false)` if it was already used
/// (RFC 7523 §3, item 7). Expired ones are forgotten first.
pub fn use_jti(
    conn: &Connection,
    (tenant_id, client): (i64, &str),
    jti: &str,
    expires: &str,
    now: &str,
) -> Result<bool> {
    conn.prepare_cached("DELETE FROM oauth_assertions WHERE expires < ?1")?
        .execute([now])?;
    let n = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO oauth_assertions (tenant_id, client, jti, expires) \
             VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![tenant_id, client, jti, expires])?;
    Ok(n == 1)
}

/// Stores an issued access token's hash, keeping at most `keep` per client and forgetting
/// tokens expired before `forget_before` (kept until then so a 401 can say "expired").
pub fn insert_token(
    conn: &Connection,
    hash: &[u8],
    (tenant_id, client, grant): (i64, &str, Option<&str>),
    (issued, expires): (&str, &str),
    keep: u32,
    forget_before: &str,
) -> Result<()> {
    conn.prepare_cached("DELETE FROM oauth_tokens WHERE expires < ?1")?
        .execute([forget_before])?;
    conn.prepare_cached(
        "INSERT INTO oauth_tokens (hash, tenant_id, client, issued, expires, grant_id) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![hash, tenant_id, client, issued, expires, grant])?;
    conn.prepare_cached(
        "DELETE FROM oauth_tokens WHERE client = ?1 AND hash IN (SELECT hash FROM oauth_tokens \
         WHERE client = ?1 ORDER BY issued DESC, hash LIMIT -1 OFFSET ?2)",
    )?
    .execute(params![client, keep])?;
    Ok(())
}

/// An access token found by its hash: its client and when it expires.
#[derive(Debug, Clone)]
pub struct AccessRow {
    pub client: ClientRow,
    pub issued: String,
    pub expires: String,
    /// When and why the authorization code grant that issued it was revoked.
    pub grant_revoked: Option<(String, String)>,
}

/// The access token whose hash is `hash`, with its client.
pub fn token_by_hash(conn: &Connection, hash: &[u8]) -> Result<Option<AccessRow>> {
    let row = conn
        .prepare_cached(
            "SELECT t.client, t.issued, t.expires, g.revoked, COALESCE(g.revoked_why, '') \
             FROM oauth_tokens t LEFT JOIN oauth_grants g ON g.id = t.grant_id WHERE t.hash = ?1",
        )?
        .query_row([hash], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?
                    .zip(Some(r.get::<_, String>(4)?)),
            ))
        })
        .optional()?;
    let Some((client, issued, expires, grant_revoked)) = row else {
        return Ok(None);
    };
    let client = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM oauth_clients WHERE id = ?1"
        ))?
        .query_row([client], from_row)?;
    Ok(Some(AccessRow {
        client,
        issued,
        expires,
        grant_revoked,
    }))
}

/// Live access tokens per client, for listings.
pub fn live_tokens(conn: &Connection, client: &str, now: &str) -> Result<u64> {
    let n: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM oauth_tokens WHERE client = ?1 AND expires > ?2")?
        .query_row(params![client, now], |r| r.get(0))?;
    Ok(n.unsigned_abs())
}

/// Writes observed uses of clients (the usage flush passes every use; ids not of a client
/// match nothing).
pub fn record_usage(conn: &Connection, uses: &[super::tokens::Usage]) -> Result<usize> {
    let mut stmt = conn.prepare_cached(
        "UPDATE oauth_clients SET last_used = ?2, last_used_ip = ?3, last_used_agent = ?4
         WHERE id = ?1 AND (last_used IS NULL OR last_used < ?2)",
    )?;
    let mut changed = 0;
    for u in uses {
        changed += stmt.execute(params![u.token_id, u.at, u.ip, u.agent])?;
    }
    Ok(changed)
}

/// An external authorization server a tenant trusts.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IssuerRow {
    pub id: String,
    pub tenant_id: i64,
    pub name: String,
    pub issuer: String,
    pub jwks_uri: String,
    /// The `aud` required; `None`: the tenant's SCIM base URL.
    pub audience: Option<String>,
    pub created: String,
}

const ISSUER_COLUMNS: &str = "id, tenant_id, name, issuer, jwks_uri, audience, created";

fn issuer_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<IssuerRow> {
    Ok(IssuerRow {
        id: r.get(0)?,
        tenant_id: r.get(1)?,
        name: r.get(2)?,
        issuer: r.get(3)?,
        jwks_uri: r.get(4)?,
        audience: r.get(5)?,
        created: r.get(6)?,
    })
}

/// Stores a trusted issuer; `Conflict` if the tenant has one of that name or issuer.
pub fn insert_issuer(conn: &Connection, i: &IssuerRow) -> Result<()> {
    conn.execute(
        &format!(
            "INSERT INTO oauth_issuers ({ISSUER_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
        ),
        params![
            i.id,
            i.tenant_id,
            i.name,
            i.issuer,
            i.jwks_uri,
            i.audience,
            i.created
        ],
    )?;
    Ok(())
}

/// Trusted issuers of one tenant, or of all.
pub fn issuers(conn: &Connection, tenant_id: Option<i64>) -> Result<Vec<IssuerRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {ISSUER_COLUMNS} FROM oauth_issuers WHERE ?1 IS NULL OR tenant_id = ?1 ORDER BY tenant_id, name"
    ))?;
    let rows = stmt.query_map([tenant_id], issuer_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Every tenant's entry for the issuer `iss`.
pub fn issuers_named(conn: &Connection, iss: &str) -> Result<Vec<IssuerRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {ISSUER_COLUMNS} FROM oauth_issuers WHERE issuer = ?1"
    ))?;
    let rows = stmt.query_map([iss], issuer_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Removes a trusted issuer by id, name or issuer URL; `NotFound` if none matches.
pub fn remove_issuer(conn: &Connection, wanted: &str, tenant_id: Option<i64>) -> Result<IssuerRow> {
    let found = conn
        .prepare(&format!(
            "SELECT {ISSUER_COLUMNS} FROM oauth_issuers \
             WHERE (id = ?1 OR name = ?1 OR issuer = ?1) AND (?2 IS NULL OR tenant_id = ?2)"
        ))?
        .query_map(params![wanted, tenant_id], issuer_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let [one] = found.as_slice() else {
        return Err(if found.is_empty() {
            StoreError::NotFound
        } else {
            StoreError::Conflict {
                index: format!("{} issuers match {wanted}; pass --tenant", found.len()),
            }
        });
    };
    conn.execute("DELETE FROM oauth_issuers WHERE id = ?1", [&one.id])?;
    Ok(one.clone())
}

// ---- the authorization code grant (migration 0017) ----

/// An authorization code as stored at consent.
#[derive(Debug, Clone)]
pub struct CodeRow {
    pub tenant_id: i64,
    pub client: String,
    pub grant_id: String,
    /// As the authorization request sent it (`None`: left out).
    pub redirect_uri: Option<String>,
    /// Where the code was sent.
    pub redirect_to: String,
    /// RFC 7636 S256 challenge, when the client sent one.
    pub code_challenge: Option<String>,
    pub scope: String,
    pub consented_by: String,
    pub issued: String,
    pub expires: String,
    pub used: Option<String>,
}

/// Codes of `client` neither used nor expired at `now`.
pub fn outstanding_codes(conn: &Connection, client: &str, now: &str) -> Result<u64> {
    let n: i64 = conn
        .prepare_cached(
            "SELECT COUNT(*) FROM oauth_codes WHERE client = ?1 AND used IS NULL AND expires > ?2",
        )?
        .query_row(params![client, now], |r| r.get(0))?;
    Ok(n.unsigned_abs())
}

/// Stores a new code's hash, forgetting codes expired before `forget_before` (kept until
/// then so that a late or repeated exchange can be told apart from a made-up code).
pub fn insert_code(conn: &Connection, hash: &[u8], c: &CodeRow, forget_before: &str) -> Result<()> {
    conn.prepare_cached("DELETE FROM oauth_codes WHERE expires < ?1")?
        .execute([forget_before])?;
    conn.prepare_cached(
        "INSERT INTO oauth_codes (hash, tenant_id, client, grant_id, redirect_uri, redirect_to, \
         code_challenge, scope, consented_by, issued, expires) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        hash,
        c.tenant_id,
        c.client,
        c.grant_id,
        c.redirect_uri,
        c.redirect_to,
        c.code_challenge,
        c.scope,
        c.consented_by,
        c.issued,
        c.expires
    ])?;
    Ok(())
}

/// The code whose hash is `hash`.
pub fn code_by_hash(conn: &Connection, hash: &[u8]) -> Result<Option<CodeRow>> {
    Ok(conn
        .prepare_cached(
            "SELECT tenant_id, client, grant_id, redirect_uri, redirect_to, code_challenge, scope, \
             consented_by, issued, expires, used FROM oauth_codes WHERE hash = ?1",
        )?
        .query_row([hash], |r| {
            Ok(CodeRow {
                tenant_id: r.get(0)?,
                client: r.get(1)?,
                grant_id: r.get(2)?,
                redirect_uri: r.get(3)?,
                redirect_to: r.get(4)?,
                code_challenge: r.get(5)?,
                scope: r.get(6)?,
                consented_by: r.get(7)?,
                issued: r.get(8)?,
                expires: r.get(9)?,
                used: r.get(10)?,
            })
        })
        .optional()?)
}

/// Marks a code exchanged.
pub fn use_code(conn: &Connection, hash: &[u8], now: &str) -> Result<()> {
    conn.prepare_cached("UPDATE oauth_codes SET used = ?2 WHERE hash = ?1")?
        .execute(params![hash, now])?;
    Ok(())
}

/// Starts the grant a code's exchange creates. The client's grants that have no token left
/// (their refresh tokens expired and were forgotten) are forgotten first, so consents cannot
/// grow the table.
pub fn insert_grant(conn: &Connection, code: &CodeRow, now: &str) -> Result<()> {
    conn.prepare_cached(
        "DELETE FROM oauth_grants WHERE client = ?1 \
         AND NOT EXISTS (SELECT 1 FROM oauth_refresh_tokens r WHERE r.grant_id = oauth_grants.id) \
         AND NOT EXISTS (SELECT 1 FROM oauth_tokens t WHERE t.grant_id = oauth_grants.id)",
    )?
    .execute([&code.client])?;
    conn.prepare_cached(
        "INSERT INTO oauth_grants (id, tenant_id, client, scope, consented_by, created) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        code.grant_id,
        code.tenant_id,
        code.client,
        code.scope,
        code.consented_by,
        now
    ])?;
    Ok(())
}

/// Revokes a grant: its refresh tokens are refused and its access tokens end at the next
/// request. A grant not (yet) written is nothing to revoke.
pub fn revoke_grant(conn: &Connection, grant_id: &str, now: &str, why: &str) -> Result<()> {
    conn.prepare_cached(
        "UPDATE oauth_grants SET revoked = ?2, revoked_why = ?3 WHERE id = ?1 AND revoked IS NULL",
    )?
    .execute(params![grant_id, now, why])?;
    Ok(())
}

/// A refresh token found by its hash, with its grant.
#[derive(Debug, Clone)]
pub struct RefreshRow {
    pub grant_id: String,
    pub client: String,
    pub scope: String,
    pub issued: String,
    pub expires: String,
    pub used: Option<String>,
    /// When and why the grant was revoked.
    pub revoked: Option<(String, String)>,
}

/// The refresh token whose hash is `hash`.
pub fn refresh_by_hash(conn: &Connection, hash: &[u8]) -> Result<Option<RefreshRow>> {
    Ok(conn
        .prepare_cached(
            "SELECT r.grant_id, g.client, g.scope, r.issued, r.expires, r.used, g.revoked, \
             COALESCE(g.revoked_why, '') FROM oauth_refresh_tokens r \
             JOIN oauth_grants g ON g.id = r.grant_id WHERE r.hash = ?1",
        )?
        .query_row([hash], |r| {
            Ok(RefreshRow {
                grant_id: r.get(0)?,
                client: r.get(1)?,
                scope: r.get(2)?,
                issued: r.get(3)?,
                expires: r.get(4)?,
                used: r.get(5)?,
                revoked: r.get::<_, Option<String>>(6)?.zip(Some(r.get(7)?)),
            })
        })
        .optional()?)
}

/// Used refresh tokens remembered per grant (to catch a reuse), besides the live one.
const USED_REFRESH_KEPT: i64 = 20;

/// Stores a grant's new refresh token. Tokens expired before `forget_before` are forgotten,
/// and a grant keeps only its newest used tokens, so rotation cannot grow the table.
pub fn insert_refresh(
    conn: &Connection,
    hash: &[u8],
    (tenant_id, grant_id): (i64, &str),
    (issued, expires): (&str, &str),
    forget_before: &str,
) -> Result<()> {
    conn.prepare_cached("DELETE FROM oauth_refresh_tokens WHERE expires < ?1")?
        .execute([forget_before])?;
    conn.prepare_cached(
        "INSERT INTO oauth_refresh_tokens (hash, tenant_id, grant_id, issued, expires) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![hash, tenant_id, grant_id, issued, expires])?;
    conn.prepare_cached(
        "DELETE FROM oauth_refresh_tokens WHERE grant_id = ?1 AND used IS NOT NULL AND hash IN \
         (SELECT hash FROM oauth_refresh_tokens WHERE grant_id = ?1 AND used IS NOT NULL \
          ORDER BY issued DESC, hash LIMIT -1 OFFSET ?2)",
    )?
    .execute(params![grant_id, USED_REFRESH_KEPT])?;
    Ok(())
}

/// Marks a refresh token exchanged for its successor.
pub fn use_refresh(conn: &Connection, hash: &[u8], now: &str) -> Result<()> {
    conn.prepare_cached("UPDATE oauth_refresh_tokens SET used = ?2 WHERE hash = ?1")?
        .execute(params![hash, now])?;
    Ok(())
}

/// Grants of a client that can still be refreshed (not revoked, a refresh token unused and
/// unexpired), for listings.
pub fn live_grants(conn: &Connection, client: &str, now: &str) -> Result<u64> {
    let n: i64 = conn
        .prepare_cached(
            "SELECT COUNT(DISTINCT g.id) FROM oauth_grants g \
             JOIN oauth_refresh_tokens r ON r.grant_id = g.id \
             WHERE g.client = ?1 AND g.revoked IS NULL AND r.used IS NULL AND r.expires > ?2",
        )?
        .query_row(params![client, now], |r| r.get(0))?;
    Ok(n.unsigned_abs())
}
