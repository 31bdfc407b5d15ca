//! Users and groups as rows of `resources`: the canonical SCIM document plus the columns that
//! are filtered, sorted and kept unique (folded name, externalId, active, emails).

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::Value;

use super::filter_sql::SqlWhere;
use super::page_index::{self, PageIndex};
use super::{Result, StoreError};
use crate::scim::fold;
use crate::scim::resource::Document;

/// One stored user or group.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceRow {
    pub seq: i64,
    pub id: String,
    pub version: i64,
    pub created: String,
    pub last_modified: String,
    pub doc: Document,
    pub password_hash: Option<String>,
}

/// What a write does to the stored password hash.
#[derive(Debug, Clone, Copy)]
pub enum PasswordChange<'a> {
    Keep,
    Set(&'a str),
    Clear,
}

const COLUMNS: &str = "r.seq, r.id, r.version, r.created, r.last_modified, r.doc, r.password_hash";

/// A row as read, its document still the JSON text it was stored as: a read that only passes
/// the document on can copy that text instead of parsing it ([`StoredResource::parse`]).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredResource {
    pub seq: i64,
    pub id: String,
    pub version: i64,
    pub created: String,
    pub last_modified: String,
    /// The document as serde_json wrote it: one JSON object, compact, keys in stored order.
    pub doc: String,
    pub password_hash: Option<String>,
}

fn from_row(row: &Row<'_>) -> rusqlite::Result<StoredResource> {
    Ok(StoredResource {
        seq: row.get(0)?,
        id: row.get(1)?,
        version: row.get(2)?,
        created: row.get(3)?,
        last_modified: row.get(4)?,
        doc: row.get(5)?,
        password_hash: row.get(6)?,
    })
}

impl StoredResource {
    /// The row with its document parsed.
    pub fn parse(self) -> Result<ResourceRow> {
        let doc = match serde_json::from_str(&self.doc)? {
            Value::Object(map) => map,
            _ => {
                return Err(StoreError::Internal(format!(
                    "document of resource {} is not an object",
                    self.id
                )));
            }
        };
        Ok(ResourceRow {
            seq: self.seq,
            id: self.id,
            version: self.version,
            created: self.created,
            last_modified: self.last_modified,
            doc,
            password_hash: self.password_hash,
        })
    }
}

/// The unique name attribute of each resource type (RFC 7643 §4: userName, displayName).
fn name_of(resource_type: &str, doc: &Document) -> Result<String> {
    let attr = if resource_type == "Group" {
        "displayName"
    } else {
        "userName"
    };
    doc.get(attr)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| StoreError::Internal(format!("{resource_type} document without {attr}")))
}

pub(super) fn write_emails(
    conn: &Connection,
    tenant_id: i64,
    seq: i64,
    doc: &Document,
) -> Result<()> {
    conn.prepare_cached("DELETE FROM resource_emails WHERE resource_seq = ?1")?
        .execute([seq])?;
    let Some(Value::Array(emails)) = doc.get("emails") else {
        return Ok(());
    };
    let mut stmt = conn.prepare_cached(
        "INSERT INTO resource_emails (tenant_id, resource_seq, value_key, type_key) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for email in emails {
        if let Some(value) = email.get("value").and_then(Value::as_str) {
            let kind = email.get("type").and_then(Value::as_str).map(fold);
            stmt.execute(params![tenant_id, seq, fold(value), kind])?;
        }
    }
    Ok(())
}

/// The statement of [`insert`] (a test looks it up in the writer's statement cache).
pub(crate) const INSERT_SQL: &str = "INSERT INTO resources (tenant_id, resource_type, id, name, name_key, external_id, active, password_hash, version, created, last_modified, doc)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 1, ?9, ?9, ?10)";

/// Inserts a new resource at version 1.
pub fn insert(
    conn: &Connection,
    tenant_id: i64,
    resource_type: &str,
    id: &str,
    doc: &Document,
    password_hash: Option<&str>,
    now: &str,
) -> Result<ResourceRow> {
    let name = name_of(resource_type, doc)?;
    let json = serde_json::to_string(doc)?;
    conn.prepare_cached(INSERT_SQL)?.execute(params![
        tenant_id,
        resource_type,
        id,
        name,
        fold(&name),
        doc.get("externalId").and_then(Value::as_str),
        doc.get("active").and_then(Value::as_bool),
        password_hash,
        now,
        json
    ])?;
    let seq = conn.last_insert_rowid();
    write_emails(conn, tenant_id, seq, doc)?;
    Ok(ResourceRow {
        seq,
        id: id.to_owned(),
        version: 1,
        created: now.to_owned(),
        last_modified: now.to_owned(),
        doc: doc.clone(),
        password_hash: password_hash.map(str::to_owned),
    })
}

/// Loads one resource by id; `NotFound` if it does not exist in this tenant.
pub fn get(
    conn: &Connection,
    tenant_id: i64,
    resource_type: &str,
    id: &str,
) -> Result<ResourceRow> {
    get_stored(conn, tenant_id, resource_type, id)?.parse()
}

/// [`get`] with the document left as stored.
pub fn get_stored(
    conn: &Connection,
    tenant_id: i64,
    resource_type: &str,
    id: &str,
) -> Result<StoredResource> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM resources r WHERE r.tenant_id = ?1 AND r.resource_type = ?2 AND r.id = ?3"
    ))?
    .query_row(params![tenant_id, resource_type, id], from_row)
    .optional()?
    .ok_or(StoreError::NotFound)
}

/// `(seq, version)` of a resource, without reading its document: enough to tell whether a
/// row read earlier is still current (every change bumps the version).
pub fn version_of(
    conn: &Connection,
    tenant_id: i64,
    resource_type: &str,
    id: &str,
) -> Result<Option<(i64, i64)>> {
    Ok(conn
        .prepare_cached(
            "SELECT seq, version FROM resources WHERE tenant_id = ?1 AND resource_type = ?2 AND id = ?3",
        )?
        .query_row(params![tenant_id, resource_type, id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?)
}

/// Replaces the document of an existing resource, bumping its version.
pub fn update(
    conn: &Connection,
    tenant_id: i64,
    resource_type: &str,
    current: &ResourceRow,
    doc: &Document,
    password: PasswordChange<'_>,
    now: &str,
) -> Result<ResourceRow> {
    let name = name_of(resource_type, doc)?;
    let json = serde_json::to_string(doc)?;
    let password_hash = match password {
        PasswordChange::Keep => current.password_hash.clone(),
        PasswordChange::Set(hash) => Some(hash.to_owned()),
        PasswordChange::Clear => None,
    };
    let version = current.version + 1;
    let external_id = doc.get("externalId").and_then(Value::as_str);
    let active = doc.get("active").and_then(Value::as_bool);
    // SQLite rewrites the entries of every index whose columns an UPDATE sets, changed or
    // not: two random index pages more per write to copy into the WAL and sync. Most writes
    // (a PATCH of a title, a deactivation) keep the name and externalId, so they set neither.
    let keeps_keys = name_of(resource_type, &current.doc).is_ok_and(|n| n == name)
        && current.doc.get("externalId").and_then(Value::as_str) == external_id;
    let name_key: String;
    let mut args: Vec<&dyn rusqlite::ToSql> = vec![
        &active,
        &password_hash,
        &version,
        &now,
        &json,
        &current.seq,
        &tenant_id,
        &current.version,
    ];
    let sql = if keeps_keys {
        "UPDATE resources SET active = ?1, password_hash = ?2, version = ?3, last_modified = ?4, doc = ?5
         WHERE seq = ?6 AND tenant_id = ?7 AND version = ?8"
    } else {
        name_key = fold(&name);
        args.extend([&name as &dyn rusqlite::ToSql, &name_key, &external_id]);
        "UPDATE resources SET active = ?1, password_hash = ?2, version = ?3, last_modified = ?4, doc = ?5,
         name = ?9, name_key = ?10, external_id = ?11
         WHERE seq = ?6 AND tenant_id = ?7 AND version = ?8"
    };
    let changed = conn.prepare_cached(sql)?.execute(args.as_slice())?;
    if changed == 0 {
        return Err(if exists(conn, tenant_id, current.seq)? {
            StoreError::Stale
        } else {
            StoreError::NotFound
        });
    }
    // The emails' rows are derived from the document's: unchanged emails, unchanged rows.
    if current.doc.get("emails") != doc.get("emails") {
        write_emails(conn, tenant_id, current.seq, doc)?;
    }
    Ok(ResourceRow {
        seq: current.seq,
        id: current.id.clone(),
        version,
        created: current.created.clone(),
        last_modified: now.to_owned(),
        doc: doc.clone(),
        password_hash,
    })
}

fn exists(conn: &Connection, tenant_id: i64, seq: i64) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM resources WHERE seq = ?1 AND tenant_id = ?2")?
        .query_row(params![seq, tenant_id], |_| Ok(()))
        .optional()?
        .is_some())
}

/// The id of the resource whose unique name (userName / displayName) folds to `name`'s fold.
pub fn id_by_name(
    conn: &Connection,
    tenant_id: i64,
    resource_type: &str,
    name: &str,
) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT id FROM resources WHERE tenant_id = ?1 AND resource_type = ?2 AND name_key = ?3")?
        .query_row(params![tenant_id, resource_type, fold(name)], |r| r.get(0))
        .optional()?)
}

/// Deletes a resource; its emails and memberships go with it (ON DELETE CASCADE).
pub fn delete(conn: &Connection, tenant_id: i64, resource_type: &str, id: &str) -> Result<()> {
    let n = conn
        .prepare_cached(
            "DELETE FROM resources WHERE tenant_id = ?1 AND resource_type = ?2 AND id = ?3",
        )?
        .execute(params![tenant_id, resource_type, id])?;
    if n == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

/// The SELECT of one page; insertion order breaks ties so paging is stable.
/// The page query; LIMIT and OFFSET are the parameters after `where_sql`'s `params`, so one
/// cached statement serves every page.
fn page_sql(where_sql: &str, order_by: Option<&str>, params: usize) -> String {
    let order = order_by.map_or_else(|| "r.seq".to_owned(), |o| format!("{o}, r.seq"));
    let (limit, offset) = (params + 1, params + 2);
    format!(
        "SELECT {COLUMNS} FROM resources r WHERE {where_sql} ORDER BY {order} LIMIT ?{limit} OFFSET ?{offset}"
    )
}

/// One page of a filtered, ordered listing plus the total match count.
pub struct Page {
    pub total: u64,
    /// As stored: a listing mostly passes documents on unchanged.
    pub rows: Vec<StoredResource>,
}

/// Lists resources matching `filter` (already translated to SQL), ordered by `order_by` (an SQL
/// expression produced by [`super::filter_sql`]) then insertion order, skipping `offset` rows.
/// A listing of everything in insertion order starts its page from `pages`' anchors.
#[allow(clippy::too_many_arguments)]
pub fn list(
    conn: &Connection,
    pages: &PageIndex,
    tenant_id: i64,
    resource_type: &str,
    filter: &SqlWhere,
    order_by: Option<&str>,
    offset: u64,
    limit: u64,
) -> Result<Page> {
    if filter.matches_all() && order_by.is_none() {
        return super::snapshot(conn, |conn| {
            plain_page(conn, pages, tenant_id, resource_type, offset, limit)
        });
    }
    let mut args: Vec<rusqlite::types::Value> =
        vec![tenant_id.into(), resource_type.to_owned().into()];
    args.extend(filter.params.iter().cloned());
    let where_sql = format!(
        "r.tenant_id = ?1 AND r.resource_type = ?2 AND ({})",
        filter.sql
    );
    // Cached statements: an IdP repeats the same filter shape with new values, so the SQL text
    // (values are bound, never inlined) repeats too.
    let mut rows = Vec::new();
    if limit > 0 {
        let mut stmt = conn.prepare_cached(&page_sql(&where_sql, order_by, args.len()))?;
        let page_args = args.iter().cloned().chain([
            i64::try_from(limit).unwrap_or(i64::MAX).into(),
            i64::try_from(offset).unwrap_or(i64::MAX).into(),
        ]);
        rows = stmt
            .query_map(rusqlite::params_from_iter(page_args), from_row)?
            .collect::<rusqlite::Result<_>>()?;
    }
    let found = rows.len() as u64;
    // A page that came back short and not past the end already says how many match: the
    // IdPs' `userName eq` pre-check (0 or 1 results) needs no COUNT.
    let total = if found < limit && (found > 0 || offset == 0) {
        offset + found
    } else {
        let counted: i64 = conn
            .prepare_cached(&format!(
                "SELECT COUNT(*) FROM resources r WHERE {where_sql}"
            ))?
            .query_row(rusqlite::params_from_iter(args.iter()), |r| r.get(0))?;
        u64::try_from(counted).unwrap_or(0)
    };
    Ok(Page { total, rows })
}

/// The page of [`plain_page`]: from `seq` ?3 on, skipping ?5, at most ?4.
fn anchored_page_sql() -> String {
    format!(
        "SELECT {COLUMNS} FROM resources r WHERE r.tenant_id = ?1 AND r.resource_type = ?2 \
         AND r.seq >= ?3 ORDER BY r.seq LIMIT ?4 OFFSET ?5"
    )
}

/// A page of every resource in insertion order: the total is the maintained count, and the
/// walk to the page starts at the nearest anchor below it. In one read transaction, so the
/// count, the anchor and the page are of one commit.
fn plain_page(
    conn: &Connection,
    pages: &PageIndex,
    tenant_id: i64,
    resource_type: &str,
    offset: u64,
    limit: u64,
) -> Result<Page> {
    let counted = page_index::counted(conn, tenant_id, resource_type)?;
    let mut rows = Vec::new();
    if limit > 0 && offset < counted.live {
        let (from, skip) =
            pages.start_of(conn, tenant_id, resource_type, counted.removals, offset)?;
        let mut stmt = conn.prepare_cached(&anchored_page_sql())?;
        let raw = stmt.query_map(
            params![
                tenant_id,
                resource_type,
                from,
                i64::try_from(limit).unwrap_or(i64::MAX),
                i64::try_from(skip).unwrap_or(i64::MAX)
            ],
            from_row,
        )?;
        rows = raw.collect::<rusqlite::Result<_>>()?;
    }
    Ok(Page {
        total: counted.live,
        rows,
    })
}

/// Up to `limit` resources matching `filter` with `seq` above `after`, in `seq` order: a keyset
/// page (the LDAP paged search). A resource's `seq` never changes, so a walk from 0 in such
/// pages returns every resource that exists throughout exactly once, whatever is written
/// meanwhile; an OFFSET would skip or repeat rows when earlier ones are deleted or created.
pub fn list_after(
    conn: &Connection,
    tenant_id: i64,
    resource_type: &str,
    filter: &SqlWhere,
    after: i64,
    limit: u64,
) -> Result<Vec<ResourceRow>> {
    let mut args: Vec<rusqlite::types::Value> =
        vec![tenant_id.into(), resource_type.to_owned().into()];
    args.extend(filter.params.iter().cloned());
    let (after_param, limit_param) = (args.len() + 1, args.len() + 2);
    args.push(after.into());
    args.push(i64::try_from(limit).unwrap_or(i64::MAX).into());
    let sql = format!(
        "SELECT {COLUMNS} FROM resources r WHERE r.tenant_id = ?1 AND r.resource_type = ?2 \
         AND r.seq > ?{after_param} AND ({}) ORDER BY r.seq LIMIT ?{limit_param}",
        filter.sql
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let raw = stmt.query_map(rusqlite::params_from_iter(args.iter()), from_row)?;
    let mut rows = Vec::new();
    for r in raw {
        rows.push(r?.parse()?);
    }
    Ok(rows)
}

/// Marks each group that holds `member_seq` directly as changed (`version` + 1, and
/// `last_modified`) and returns their ids: deleting the member removes it from their `members`,
/// so their representation, and with it their ETag, changes (a client's `If-None-Match` must
/// not get a 304 for it). One row per group the member is in, not per member of anything.
pub fn touch_groups_of(conn: &Connection, member_seq: i64, now: &str) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "UPDATE resources SET version = version + 1, last_modified = ?2 \
         WHERE seq IN (SELECT group_seq FROM group_members WHERE member_seq = ?1) RETURNING id",
    )?;
    let ids = stmt
        .query_map(params![member_seq, now], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(ids)
}

/// Calls `each` with every user or group of a tenant, in insertion order, streamed from one
/// statement (an export holds one row at a time, not the directory). Run it inside
/// [`super::snapshot`] for a view as of one commit.
pub fn for_each(
    conn: &Connection,
    tenant_id: i64,
    resource_type: &str,
    mut each: impl FnMut(ResourceRow) -> Result<()>,
) -> Result<()> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM resources r WHERE r.tenant_id = ?1 AND r.resource_type = ?2 ORDER BY r.seq"
    ))?;
    let rows = stmt.query_map(params![tenant_id, resource_type], from_row)?;
    for raw in rows {
        each(raw?.parse()?)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::filter::parse_filter;
    use crate::scim::schema::USER;
    use crate::store::filter_sql::translate;
    use crate::store::testing::{every_user, query_plan, seeded};

    fn user_filter(filter: &str) -> SqlWhere {
        translate(&USER, &parse_filter(filter).expect("parse")).expect("translate")
    }

    fn plan(conn: &Connection, rt: &crate::scim::schema::ResourceType, filter: &str) -> String {
        let w = translate(rt, &parse_filter(filter).expect("parse")).expect("translate");
        page_plan(conn, rt, w, 0)
    }

    fn page_plan(
        conn: &Connection,
        rt: &crate::scim::schema::ResourceType,
        w: SqlWhere,
        offset: u64,
    ) -> String {
        let mut args: Vec<rusqlite::types::Value> = vec![1_i64.into(), rt.name.to_owned().into()];
        args.extend(w.params);
        let sql = page_sql(
            &format!("r.tenant_id = ?1 AND r.resource_type = ?2 AND ({})", w.sql),
            None,
            args.len(),
        );
        args.extend([
            100_i64.into(),
            i64::try_from(offset).expect("offset").into(),
        ]);
        query_plan(conn, &sql, rusqlite::params_from_iter(args.iter()))
    }

    /// totalResults is right whether it comes from a short page or from a COUNT.
    #[test]
    fn totals_are_exact_for_every_page_shape() {
        let dir = tempfile::tempdir().expect("tempdir");
        let seed = (0..5)
            .map(|i| {
                (
                    "User",
                    format!("id{i}"),
                    serde_json::json!({"userName": format!("p{i}")}),
                )
            })
            .collect();
        let store = seeded(dir.path(), seed);
        store
            .read_blocking(|conn| {
                for (offset, limit, rows) in
                    [(0, 2, 2), (0, 10, 5), (4, 2, 1), (10, 2, 0), (0, 0, 0)]
                {
                    let page = every_user(conn, &PageIndex::default(), offset, limit)?;
                    assert_eq!(
                        (page.total, page.rows.len()),
                        (5, rows),
                        "offset {offset} limit {limit}"
                    );
                }
                Ok(())
            })
            .expect("pages");
    }

    /// `n` users `id<i>` with userName `u<i>`, externalId `e<i>` and a work email.
    fn identified_users(n: usize) -> Vec<(&'static str, String, Value)> {
        (0..n)
            .map(|i| {
                let doc = serde_json::json!({"userName": format!("u{i}"), "externalId": format!("e{i}"),
                    "emails": [{"value": format!("u{i}@x.test"), "type": "work"}]});
                ("User", format!("id{i}"), doc)
            })
            .collect()
    }

    /// The lookups IdPs make on every sync must be index searches, never a table scan.
    #[test]
    fn identity_lookups_use_indexes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = seeded(dir.path(), identified_users(200));
        // Planner statistics, as a database that has been in use has them.
        store
            .write_blocking(|tx| Ok(tx.execute_batch("ANALYZE")?))
            .expect("analyze");
        store
            .read_blocking(|conn| {
                for (filter, index) in [
                    ("userName eq \"U7\"", "resources_name"),
                    ("externalId eq \"e7\"", "resources_external_id"),
                    ("id eq \"id7\"", "resources_id"),
                    ("emails.value eq \"U7@x.test\"", "resource_emails_value"),
                ] {
                    let p = plan(conn, &USER, filter);
                    assert!(p.contains(index), "{filter}: expected {index} in plan: {p}");
                    assert!(!p.contains("SCAN"), "{filter}: scan in plan: {p}");
                }
                // Groups of a user (Okta/Entra membership checks) and group lookup by name.
                for (filter, index) in [
                    ("members.value eq \"id7\"", "group_members_member"),
                    ("members[value eq \"id7\"]", "group_members_member"),
                    ("displayName eq \"Sales\"", "resources_name"),
                ] {
                    let p = plan(conn, &crate::scim::schema::GROUP, filter);
                    assert!(p.contains(index), "{filter}: expected {index} in plan: {p}");
                    assert!(!p.contains("SCAN"), "{filter}: scan in plan: {p}");
                }
                // An import paging through every user walks the page index in order: no read
                // of each skipped row, no sort of the whole type.
                let p = page_plan(conn, &USER, SqlWhere::all(), 50_000);
                assert!(p.contains("USING INDEX resources_page"), "paging plan: {p}");
                assert!(!p.contains("TEMP B-TREE"), "paging plan sorts: {p}");
                // Its pages start from an anchor, and the anchors are found, on the same index.
                let params = rusqlite::params![1, "User", 7, 100, 50];
                let anchored = query_plan(conn, &anchored_page_sql(), params);
                let walk = query_plan(conn, page_index::WALK_SQL, rusqlite::params![1, "User", 7]);
                for p in [anchored, walk] {
                    assert!(
                        p.contains("USING COVERING INDEX resources_page")
                            || p.contains("USING INDEX resources_page (tenant_id=? AND resource_type=? AND seq>?)"),
                        "anchored plan: {p}"
                    );
                    assert!(!p.contains("TEMP B-TREE"), "anchored plan sorts: {p}");
                }
                Ok(())
            })
            .expect("plans");
    }

    /// A cached page statement runs again with new values as it is: compiling it again at each
    /// request was 15 % of the `userName eq` pre-check's CPU (QPSG, `store::plan_once`).
    #[test]
    fn a_cached_page_statement_is_not_compiled_again_for_new_values() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = seeded(dir.path(), identified_users(20));
        store
            .read_blocking(|conn| {
                for (i, offset) in [0, 3, 0, 7].into_iter().enumerate() {
                    let w = user_filter(&format!("userName eq \"u{i}\""));
                    list(conn, &PageIndex::default(), 1, "User", &w, None, offset, 2)?;
                }
                let w = user_filter("userName eq \"u1\"");
                let sql = page_sql(
                    &format!("r.tenant_id = ?1 AND r.resource_type = ?2 AND ({})", w.sql),
                    None,
                    3,
                );
                let recompiled = conn
                    .prepare_cached(&sql)?
                    .get_status(rusqlite::StatementStatus::RePrepare);
                assert_eq!(recompiled, 0, "the page statement was compiled again");
                Ok(())
            })
            .expect("pages");
    }

    /// A write that keeps the name, externalId and emails leaves their index entries and
    /// email rows alone: fewer pages to copy into the WAL and sync (issue 29). Counted in WAL
    /// frames, the pages each commit wrote.
    #[test]
    fn an_update_keeping_the_keys_writes_only_the_row() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = seeded(dir.path(), identified_users(3000));
        let frames_of = |change: fn(&mut Document)| {
            store
                .write_blocking(move |tx| {
                    let current = get(tx, 1, "User", "id1500")?;
                    let mut doc = current.doc.clone();
                    change(&mut doc);
                    update(
                        tx,
                        1,
                        "User",
                        &current,
                        &doc,
                        PasswordChange::Keep,
                        "2026-01-02T00:00:00Z",
                    )?;
                    Ok(())
                })
                .expect("update");
            let conn = rusqlite::Connection::open(dir.path().join("seeded.db")).expect("open");
            let frames: i64 = conn
                .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1))
                .expect("checkpoint");
            conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
                .expect("truncate");
            frames
        };
        frames_of(|_| {}); // the seed's frames
        let title = frames_of(|d| {
            d.insert("title".into(), "Engineer".into());
        });
        let keys = frames_of(|d| {
            d.insert("userName".into(), "renamed@example.com".into());
            d.insert("externalId".into(), "ext-renamed".into());
            d.insert(
                "emails".into(),
                serde_json::json!([{"value": "renamed@example.com"}]),
            );
        });
        assert!(
            title + 3 <= keys,
            "a title change wrote {title} pages, a rename {keys}"
        );
        // And the keys it kept still find it.
        store
            .read_blocking(|c| {
                let w = user_filter("externalId eq \"ext-renamed\"");
                assert_eq!(
                    list(c, &PageIndex::default(), 1, "User", &w, None, 0, 10)?
                        .rows
                        .len(),
                    1
                );
                Ok(())
            })
            .expect("lookup");
    }
}
