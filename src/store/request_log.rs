//! SQL of the request log and the per-resource history: batch inserts, retention, searches,
//! per-token health figures. Rows arrive here already redacted (see `service::request_log`).

use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};

use super::Result;

/// One logged SCIM request, as stored: read back with owned text, inserted with text borrowed
/// from the capture it was made from (SQLite copies what it binds, so copying first would
/// only add an allocation per field).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogRow<S = String> {
    /// 0 until inserted.
    pub id: i64,
    pub time: S,
    pub tenant: S,
    pub token_id: Option<S>,
    pub token_name: Option<S>,
    pub client_ip: Option<S>,
    pub user_agent: Option<S>,
    pub idp: S,
    pub method: S,
    pub path: S,
    pub query: Option<S>,
    pub status: u16,
    pub latency_ms: f64,
    pub resource_type: Option<S>,
    pub resource_id: Option<S>,
    pub scim_type: Option<S>,
    pub detail: Option<S>,
    pub request_body: Option<S>,
    pub response_body: Option<S>,
    pub request_truncated: bool,
    pub response_truncated: bool,
    /// Text fields stored cut to `request_log.max_field_bytes`, comma-separated (`path,query`);
    /// `None` when none was.
    pub truncated_fields: Option<S>,
    /// The `X-Request-Id` of the request and its response.
    pub request_id: Option<S>,
    /// Ids of the quirks scimd applied, comma-separated; `None` when none.
    pub quirks: Option<S>,
    /// The undeclared attributes ignored, a JSON array; `None` when none.
    pub ignored_attributes: Option<S>,
}

const COLUMNS: &str = "id, time, tenant, token_id, token_name, client_ip, user_agent, idp, method, \
    path, query, status, latency_ms, resource_type, resource_id, scim_type, detail, \
    truncated_fields, request_id, quirks, ignored_attributes";

fn from_row(r: &Row<'_>, with_bodies: bool) -> rusqlite::Result<LogRow> {
    Ok(LogRow {
        id: r.get(0)?,
        time: r.get(1)?,
        tenant: r.get(2)?,
        token_id: r.get(3)?,
        token_name: r.get(4)?,
        client_ip: r.get(5)?,
        user_agent: r.get(6)?,
        idp: r.get(7)?,
        method: r.get(8)?,
        path: r.get(9)?,
        query: r.get(10)?,
        status: r.get(11)?,
        latency_ms: r.get(12)?,
        resource_type: r.get(13)?,
        resource_id: r.get(14)?,
        scim_type: r.get(15)?,
        detail: r.get(16)?,
        truncated_fields: r.get(17)?,
        request_id: r.get(18)?,
        quirks: r.get(19)?,
        ignored_attributes: r.get(20)?,
        request_body: if with_bodies { r.get(21)? } else { None },
        response_body: if with_bodies { r.get(22)? } else { None },
        request_truncated: if with_bodies { r.get(23)? } else { false },
        response_truncated: if with_bodies { r.get(24)? } else { false },
    })
}

/// Inserts entries through one prepared statement; the caller holds one transaction around a
/// batch, on the log's own connection.
pub struct Inserter<'c> {
    stmt: rusqlite::CachedStatement<'c>,
}

impl<'c> Inserter<'c> {
    pub fn new(conn: &'c Connection) -> Result<Self> {
        let stmt = conn.prepare_cached(
            "INSERT INTO request_log (time, tenant_id, tenant, token_id, token_name, client_ip, \
             user_agent, idp, method, path, query, status, latency_ms, resource_type, resource_id, \
             scim_type, detail, request_body, response_body, request_truncated, response_truncated, \
             truncated_fields, request_id, quirks, ignored_attributes)
             VALUES (?1, ?21, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, \
             ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?22, ?23, ?24, ?25)",
        )?;
        Ok(Self { stmt })
    }

    /// Inserts `r`; `tenant_id` is its tenant's id, or `None` when the slug names no tenant.
    pub fn insert(&mut self, r: &LogRow<&str>, tenant_id: Option<i64>) -> Result<()> {
        self.stmt.execute(params![
            r.time,
            r.tenant,
            r.token_id,
            r.token_name,
            r.client_ip,
            r.user_agent,
            r.idp,
            r.method,
            r.path,
            r.query,
            r.status,
            r.latency_ms,
            r.resource_type,
            r.resource_id,
            r.scim_type,
            r.detail,
            r.request_body,
            r.response_body,
            r.request_truncated,
            r.response_truncated,
            tenant_id,
            r.truncated_fields,
            r.request_id,
            r.quirks,
            r.ignored_attributes,
        ])?;
        Ok(())
    }
}

/// Most undeclared attribute names kept per token: the names are the client's choice, so a
/// token's list must not grow without bound; later names still count in the log entries.
pub const MAX_IGNORED_NAMES_PER_TOKEN: i64 = 100;

/// Counts a request of `token_id` (of tenant `tenant_id`) at `time` that needed `quirks` (ids)
/// and ignored `ignored` (names) in the token's profile. Runs in the log writer's batch
/// transaction.
pub fn count_quirks(
    conn: &Connection,
    tenant_id: i64,
    token_id: &str,
    time: &str,
    quirks: &[&str],
    ignored: &[String],
) -> Result<()> {
    let mut upsert = conn.prepare_cached(
        "INSERT INTO token_quirks (tenant_id, token_id, quirk, requests, first_seen, last_seen) \
         VALUES (?4, ?1, ?2, 1, ?3, ?3) ON CONFLICT (token_id, quirk) DO UPDATE SET \
         requests = requests + 1, first_seen = MIN(first_seen, ?3), last_seen = MAX(last_seen, ?3)",
    )?;
    for q in quirks {
        upsert.execute(params![token_id, q, time, tenant_id])?;
    }
    let mut update = conn.prepare_cached(
        "UPDATE token_ignored_attributes SET requests = requests + 1, \
         first_seen = MIN(first_seen, ?3), last_seen = MAX(last_seen, ?3) \
         WHERE token_id = ?1 AND name = ?2",
    )?;
    let mut insert = conn.prepare_cached(
        "INSERT INTO token_ignored_attributes \
         (tenant_id, token_id, name, requests, first_seen, last_seen) \
         SELECT ?5, ?1, ?2, 1, ?3, ?3 WHERE (SELECT COUNT(*) FROM token_ignored_attributes \
         WHERE token_id = ?1) < ?4",
    )?;
    for name in ignored {
        if update.execute(params![token_id, name, time])? == 0 {
            insert.execute(params![
                token_id,
                name,
                time,
                MAX_IGNORED_NAMES_PER_TOKEN,
                tenant_id
            ])?;
        }
    }
    Ok(())
}

/// One line of a token's quirk profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// A quirk id or an attribute name.
    pub what: String,
    pub requests: u64,
    pub first_seen: String,
    pub last_seen: String,
}

/// A token's quirk profile (in table order of the ids is the caller's concern) and its ignored
/// attributes, most recent first.
pub fn token_profile(conn: &Connection, token_id: &str) -> Result<(Vec<Seen>, Vec<Seen>)> {
    let read = |sql: &str| -> Result<Vec<Seen>> {
        let mut stmt = conn.prepare_cached(sql)?;
        let rows = stmt.query_map([token_id], |r| {
            Ok(Seen {
                what: r.get(0)?,
                requests: r.get::<_, i64>(1)?.try_into().unwrap_or(0),
                first_seen: r.get(2)?,
                last_seen: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    };
    Ok((
        read(
            "SELECT quirk, requests, first_seen, last_seen FROM token_quirks \
             WHERE token_id = ?1 ORDER BY last_seen DESC",
        )?,
        read(
            "SELECT name, requests, first_seen, last_seen FROM token_ignored_attributes \
             WHERE token_id = ?1 ORDER BY last_seen DESC, name",
        )?,
    ))
}

/// Deletes entries older than `before` and all but the newest `max_rows`; returns how many.
pub fn prune(conn: &Connection, before: &str, max_rows: u64) -> Result<usize> {
    let old = conn.execute("DELETE FROM request_log WHERE time < ?1", params![before])?;
    // The id is monotonic, so "all but the newest N" is one range delete on the primary key.
    let extra = conn.execute(
        "DELETE FROM request_log WHERE id <= (SELECT id FROM request_log ORDER BY id DESC LIMIT 1 OFFSET ?1)",
        params![i64::try_from(max_rows).unwrap_or(i64::MAX)],
    )?;
    Ok(old + extra)
}

/// Bytes of the pages the log's file uses: its size less its free pages, read from the file's
/// header (no table is scanned). Deleted entries free pages that later inserts reuse, so this
/// and not the file's size is what retention by bytes keeps under its bound.
pub fn used_bytes(conn: &Connection) -> Result<u64> {
    let pragma = |name: &str| -> Result<u64> {
        let v: i64 = conn.query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))?;
        Ok(u64::try_from(v).unwrap_or(0))
    };
    let pages = pragma("page_count")?.saturating_sub(pragma("freelist_count")?);
    Ok(pages * pragma("page_size")?)
}

/// Deletes the oldest entries until the pages in use hold at most `max_bytes`, down to about
/// nine tenths of it so that the next batches do not prune again at once; returns how many.
pub fn prune_to_bytes(conn: &Connection, max_bytes: u64) -> Result<usize> {
    let mut deleted = 0;
    // An entry's share of the pages is estimated from the ids, so a round may fall short
    // (indexes free their pages later than the table); a few rounds converge.
    for _ in 0..8 {
        let used = used_bytes(conn)?;
        if used <= max_bytes {
            break;
        }
        let (first, last): (Option<i64>, Option<i64>) =
            conn.query_row("SELECT MIN(id), MAX(id) FROM request_log", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
        let (Some(first), Some(last)) = (first, last) else {
            break;
        };
        let entries = last - first + 1;
        let target = max_bytes / 10 * 9;
        let n = ((entries as f64) * ((used - target) as f64 / used as f64)).ceil() as i64;
        deleted += conn.execute(
            "DELETE FROM request_log WHERE id < ?1",
            params![first + n.clamp(1, entries)],
        )?;
    }
    Ok(deleted)
}

/// Which entries a search wants.
#[derive(Debug, Clone, Default)]
pub struct LogFilter {
    pub tenant: Option<String>,
    pub status: Option<u16>,
    /// Only responses with status ≥ 400.
    pub errors_only: bool,
    pub token_id: Option<String>,
    pub idp: Option<String>,
    pub resource_id: Option<String>,
    pub request_id: Option<String>,
    /// Inclusive bounds, in `clock::timestamp` shape.
    pub since: Option<String>,
    pub until: Option<String>,
}

/// Total matching and the page `[offset, offset + limit)`, newest first, without bodies.
pub fn search(
    conn: &Connection,
    f: &LogFilter,
    offset: u64,
    limit: u64,
) -> Result<(u64, Vec<LogRow>)> {
    let (from, mut args) = selection(f);
    let total: i64 = conn.query_row(
        &format!("SELECT COUNT(*) FROM {from}"),
        params_from_iter(args.iter()),
        |r| r.get(0),
    )?;
    args.push(i64::try_from(limit).unwrap_or(i64::MAX).into());
    args.push(i64::try_from(offset).unwrap_or(i64::MAX).into());
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM {from} ORDER BY id DESC LIMIT ? OFFSET ?"
    ))?;
    let rows = stmt
        .query_map(params_from_iter(args.iter()), |r| from_row(r, false))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok((u64::try_from(total).unwrap_or(0), rows))
}

/// The entries `f` asks for: `request_log` and what follows it in a FROM clause (the index to
/// use, ` WHERE …`), and the arguments.
fn selection(f: &LogFilter) -> (String, Vec<rusqlite::types::Value>) {
    let mut clauses: Vec<String> = Vec::new();
    let mut args: Vec<rusqlite::types::Value> = Vec::new();
    let mut text = |clause: String, v: &Option<String>| {
        if let Some(v) = v {
            clauses.push(clause);
            args.push(v.clone().into());
        }
    };
    text("tenant = ?".into(), &f.tenant);
    text("token_id = ?".into(), &f.token_id);
    text("idp = ?".into(), &f.idp);
    for (column, wanted) in [
        ("resource_id", &f.resource_id),
        ("request_id", &f.request_id),
    ] {
        text(block_key_matches(column), wanted);
        // `+` keeps SQLite from substituting the bound id into the prefix term above, which
        // would leave that term unable to seek the index.
        text(format!("+{column} = ?"), wanted);
    }
    text("time >= ?".into(), &f.since);
    text("time <= ?".into(), &f.until);
    if let Some(s) = f.status {
        clauses.push("status = ?".into());
        args.push(i64::from(s).into());
    }
    if f.errors_only {
        clauses.push("status >= 400".into());
    }
    // Without statistics SQLite would rather walk a whole tenant than seek every block.
    let mut from = String::from(if f.request_id.is_some() {
        "request_log INDEXED BY request_log_request_id"
    } else if f.resource_id.is_some() {
        "request_log INDEXED BY request_log_resource"
    } else {
        "request_log"
    });
    if !clauses.is_empty() {
        from.push_str(" WHERE ");
        from.push_str(&clauses.join(" AND "));
    }
    (from, args)
}

/// Seeks an index keyed by block and id prefix (`request_log_resource`, migrations/log/0003;
/// `request_log_request_id`, 0005: `id >> 12`, then the `column`'s first 8 characters) once
/// per block of 4,096 entries that the log holds.
fn block_key_matches(column: &str) -> String {
    format!(
        "id >> 12 IN (WITH RECURSIVE block(n) AS (\
         SELECT MIN(id) >> 12 FROM request_log \
         UNION ALL SELECT n + 1 FROM block WHERE n < (SELECT MAX(id) >> 12 FROM request_log)) \
         SELECT n FROM block) AND substr({column}, 1, 8) = substr(?, 1, 8)"
    )
}

/// One entry with its bodies.
pub fn get(conn: &Connection, id: i64) -> Result<Option<LogRow>> {
    Ok(conn
        .query_row(
            &format!(
                "SELECT {COLUMNS}, request_body, response_body, request_truncated, response_truncated \
                 FROM request_log WHERE id = ?1"
            ),
            params![id],
            |r| from_row(r, true),
        )
        .optional()?)
}

/// Request figures of one token.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TokenFigures {
    pub last_success: Option<String>,
    /// (time, status, detail) of the newest failed request.
    pub last_error: Option<(String, u16, Option<String>)>,
    pub requests_since: u64,
    pub errors_since: u64,
    /// Requests per IdP since the same instant.
    pub by_idp: Vec<(String, u64)>,
    /// The User-Agent of the newest request: names a client that is no known IdP.
    pub user_agent: Option<String>,
}

/// What the log knows about `token_id`; counts cover entries at or after `since`.
pub fn token_figures(conn: &Connection, token_id: &str, since: &str) -> Result<TokenFigures> {
    let last_success = conn.query_row(
        "SELECT MAX(time) FROM request_log WHERE token_id = ?1 AND status < 400",
        params![token_id],
        |r| r.get(0),
    )?;
    let last_error = conn
        .query_row(
            "SELECT time, status, detail FROM request_log WHERE token_id = ?1 AND status >= 400 \
             ORDER BY time DESC LIMIT 1",
            params![token_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let (requests_since, errors_since): (i64, i64) = conn.query_row(
        "SELECT COUNT(*), COALESCE(SUM(status >= 400), 0) FROM request_log \
         WHERE token_id = ?1 AND time >= ?2",
        params![token_id, since],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let mut stmt = conn.prepare_cached(
        "SELECT idp, COUNT(*) FROM request_log WHERE token_id = ?1 AND time >= ?2 \
         GROUP BY idp ORDER BY idp",
    )?;
    let by_idp = stmt
        .query_map(params![token_id, since], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
        })?
        .map(|r| r.map(|(k, n)| (k, u64::try_from(n).unwrap_or(0))))
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let user_agent = conn
        .query_row(
            "SELECT user_agent FROM request_log WHERE token_id = ?1 ORDER BY time DESC LIMIT 1",
            params![token_id],
            |r| r.get(0),
        )
        .optional()?
        .flatten();
    Ok(TokenFigures {
        user_agent,
        last_success,
        last_error,
        requests_since: u64::try_from(requests_since).unwrap_or(0),
        errors_since: u64::try_from(errors_since).unwrap_or(0),
        by_idp,
    })
}

/// One change of one resource, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryRow {
    pub time: String,
    pub action: &'static str,
    pub token_id: Option<String>,
    pub token_name: Option<String>,
    pub idp: Option<String>,
    /// JSON array of `{"attribute", "before", "after"}`.
    pub changes: String,
}

/// Records a change; runs inside the transaction that makes it.
pub fn insert_history(
    conn: &Connection,
    tenant_id: i64,
    resource_type: &str,
    resource_id: &str,
    h: &HistoryRow,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO resource_history (tenant_id, resource_type, resource_id, time, action, \
         token_id, token_name, idp, changes) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        tenant_id,
        resource_type,
        resource_id,
        h.time,
        h.action,
        h.token_id,
        h.token_name,
        h.idp,
        h.changes
    ])?;
    Ok(())
}

/// Deletes up to `chunk` history rows older than `before`, oldest first; returns how many.
/// Ids follow time, so the old rows are the first ids: the lowest `chunk` ids are all the
/// statement reads, without an index on `time`.
pub fn prune_history(conn: &Connection, before: &str, chunk: usize) -> Result<usize> {
    Ok(conn
        .prepare_cached(
            "DELETE FROM resource_history WHERE time < ?1 AND id IN \
             (SELECT id FROM resource_history ORDER BY id LIMIT ?2)",
        )?
        .execute(params![before, i64::try_from(chunk).unwrap_or(i64::MAX)])?)
}

fn history_row(r: &Row<'_>) -> rusqlite::Result<HistoryRow> {
    let action: String = r.get(1)?;
    Ok(HistoryRow {
        time: r.get(0)?,
        action: match action.as_str() {
            "create" => "create",
            "delete" => "delete",
            _ => "update",
        },
        token_id: r.get(2)?,
        token_name: r.get(3)?,
        idp: r.get(4)?,
        changes: r.get(5)?,
    })
}

/// The history of one resource, newest first.
pub fn history(
    conn: &Connection,
    tenant_id: i64,
    resource_type: &str,
    resource_id: &str,
) -> Result<Vec<HistoryRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT time, action, token_id, token_name, idp, changes FROM resource_history \
         WHERE tenant_id = ?1 AND resource_type = ?2 AND resource_id = ?3 ORDER BY id DESC",
    )?;
    let rows = stmt
        .query_map(params![tenant_id, resource_type, resource_id], history_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// The deletion of a resource in the tenant with this slug, if the history has one.
pub fn deletion(
    conn: &Connection,
    tenant_slug: &str,
    resource_type: &str,
    resource_id: &str,
) -> Result<Option<HistoryRow>> {
    Ok(conn
        .query_row(
            "SELECT h.time, h.action, h.token_id, h.token_name, h.idp, h.changes \
             FROM resource_history h JOIN tenants t ON t.id = h.tenant_id \
             WHERE t.slug = ?1 AND h.resource_type = ?2 AND h.resource_id = ?3 \
             AND h.action = 'delete' ORDER BY h.id DESC LIMIT 1",
            params![tenant_slug, resource_type, resource_id],
            history_row,
        )
        .optional()?)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::store::testing::query_plan;

    /// A migrated log database in `dir`.
    fn log_db(dir: &Path) -> Connection {
        let log_path = dir.join("s-log.db");
        let mut main = Connection::open(dir.join("s.db")).expect("main");
        let mut log = Connection::open(&log_path).expect("log");
        super::super::migrate::apply(&mut main, &mut log, &log_path).expect("migrate");
        log
    }

    /// A GET of `resource_id`, without bodies.
    fn entry(n: usize, resource_id: String) -> LogRow {
        LogRow {
            time: format!("2026-11-24T00:00:00.{n:06}Z"),
            tenant: "default".into(),
            idp: "okta".into(),
            method: "GET".into(),
            path: format!("/scim/v2/Users/{resource_id}"),
            status: 200,
            resource_type: Some("User".into()),
            resource_id: Some(resource_id),
            ..LogRow::default()
        }
    }

    fn insert(log: &Connection, rows: &[LogRow]) {
        let tx = log.unchecked_transaction().expect("begin");
        let mut inserter = Inserter::new(&tx).expect("prepare");
        fn text(s: &Option<String>) -> Option<&str> {
            s.as_deref()
        }
        for r in rows {
            let borrowed = LogRow {
                id: r.id,
                time: r.time.as_str(),
                tenant: &r.tenant,
                token_id: text(&r.token_id),
                token_name: text(&r.token_name),
                quirks: text(&r.quirks),
                ignored_attributes: text(&r.ignored_attributes),
                client_ip: text(&r.client_ip),
                user_agent: text(&r.user_agent),
                idp: &r.idp,
                method: &r.method,
                path: &r.path,
                query: text(&r.query),
                status: r.status,
                latency_ms: r.latency_ms,
                resource_type: text(&r.resource_type),
                resource_id: text(&r.resource_id),
                scim_type: text(&r.scim_type),
                detail: text(&r.detail),
                request_body: text(&r.request_body),
                response_body: text(&r.response_body),
                request_truncated: r.request_truncated,
                response_truncated: r.response_truncated,
                truncated_fields: text(&r.truncated_fields),
                request_id: text(&r.request_id),
            };
            inserter.insert(&borrowed, None).expect("insert");
        }
        drop(inserter);
        tx.commit().expect("commit");
    }

    fn random_entries(range: std::ops::Range<usize>) -> Vec<LogRow> {
        range
            .map(|n| entry(n, uuid::Uuid::new_v4().to_string()))
            .collect()
    }

    /// A search by resource seeks both parts of its index, also when the tenant is named too
    /// (the admin UI always names it), instead of walking every entry of the tenant.
    #[test]
    fn a_search_by_resource_seeks_its_index() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = log_db(dir.path());
        let f = LogFilter {
            tenant: Some("default".into()),
            resource_id: Some("2819c223-7f76-453a-919d-413861904646".into()),
            ..LogFilter::default()
        };
        let (from, args) = selection(&f);
        let sql = format!("SELECT COUNT(*) FROM {from}");
        let plan = query_plan(&log, &sql, params_from_iter(args.iter()));
        assert!(
            plan.contains("USING INDEX request_log_resource (<expr>=? AND <expr>=?)"),
            "{plan}"
        );
    }

    #[test]
    fn a_search_by_request_id_seeks_its_index() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = log_db(dir.path());
        let f = LogFilter {
            resource_id: Some("2819c223-7f76-453a-919d-413861904646".into()),
            request_id: Some("okta-7f3c9e2a".into()),
            ..LogFilter::default()
        };
        let (from, args) = selection(&f);
        let sql = format!("SELECT COUNT(*) FROM {from}");
        let plan = query_plan(&log, &sql, params_from_iter(args.iter()));
        assert!(
            plan.contains("USING INDEX request_log_request_id (<expr>=? AND <expr>=?)"),
            "{plan}"
        );
        let mut rows: Vec<LogRow> = (0..5_000).map(|n| entry(n, format!("r{n}"))).collect();
        for (n, row) in rows.iter_mut().enumerate() {
            row.request_id = Some(format!("{n:032x}"));
        }
        insert(&log, &rows);
        let wanted = LogFilter {
            request_id: Some(format!("{:032x}", 4_321)),
            ..LogFilter::default()
        };
        let (total, found) = search(&log, &wanted, 0, 10).expect("search");
        assert_eq!(total, 1);
        assert_eq!(found[0].resource_id.as_deref(), Some("r4321"));
    }

    /// Entries of one resource are found in every block of the log, newest first, and not
    /// those of another resource sharing its prefix; also once the first blocks are pruned.
    #[test]
    fn a_search_by_resource_finds_its_entries_in_every_block() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = log_db(dir.path());
        let wanted = "2819c223-7f76-453a-919d-413861904646";
        let same_prefix = "2819c223-0000-4000-8000-000000000000";
        let rows: Vec<LogRow> = (0..20_000)
            .map(|n| match n % 3_001 {
                0 => entry(n, wanted.into()),
                1 => entry(n, same_prefix.into()),
                _ => entry(n, uuid::Uuid::new_v4().to_string()),
            })
            .collect();
        insert(&log, &rows);
        let f = LogFilter {
            tenant: Some("default".into()),
            resource_id: Some(wanted.into()),
            ..LogFilter::default()
        };
        let ids = |log: &Connection| -> (u64, Vec<i64>) {
            let (total, rows) = search(log, &f, 0, 100).expect("search");
            (total, rows.iter().map(|r| r.id).collect())
        };
        // Ids 1, 3002, … 18007: spread over five blocks of 4,096.
        let expected: Vec<i64> = (0..7).rev().map(|k| 1 + 3_001 * k).collect();
        assert_eq!(ids(&log), (7, expected.clone()));

        prune(&log, "2000-01-01", 10_000).expect("prune");
        let kept: Vec<i64> = expected.into_iter().filter(|&id| id > 10_000).collect();
        assert_eq!(ids(&log), (kept.len() as u64, kept));
    }

    /// 16 KiB pages keep an entry cheap (see `init_log_connection`); SQLite applies a page
    /// size only before a file's first write, so the pragma must come first.
    #[test]
    fn a_new_log_file_has_16_kib_pages() {
        let dir = tempfile::tempdir().expect("tempdir");
        let _store = crate::store::Store::open(&dir.path().join("s.db")).expect("store");
        let log = Connection::open(dir.path().join("s-log.db")).expect("log");
        let page_size: i64 = log
            .query_row("PRAGMA page_size", [], |r| r.get(0))
            .expect("page size");
        assert_eq!(page_size, 16_384);
    }

    /// Pages a commit of 1,024 entries, each for another random resource, writes to the WAL
    /// of a log already holding `held` entries.
    fn pages_written_by_a_batch(held: usize) -> u64 {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = log_db(dir.path());
        // As `Store::open` has it, but without automatic checkpoints.
        log.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
            .expect("wal");
        log.execute_batch("PRAGMA wal_autocheckpoint = 0")
            .expect("no automatic checkpoints");
        for start in (0..held).step_by(4_096) {
            insert(&log, &random_entries(start..(start + 4_096).min(held)));
        }
        log.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
            .expect("checkpoint");
        insert(&log, &random_entries(held..held + 1_024));
        let wal = std::fs::metadata(dir.path().join("s-log.db-wal")).expect("wal");
        let page_size: i64 = log
            .query_row("PRAGMA page_size", [], |r| r.get(0))
            .expect("page size");
        let page_size = u64::try_from(page_size).expect("a page size is positive");
        // A WAL frame is a page and its 24-byte header, after the file's 32-byte header.
        (wal.len() - 32) / (page_size + 24)
    }

    /// Resource ids are random; keyed by them alone, the resource index had a batch write
    /// 5 times as many pages into a log of 100,000 entries as into one of 4,096 (512 vs 105),
    /// and more as the log grew (migrations/log/0003). Now only deeper trees add a few.
    #[test]
    fn a_batch_writes_about_as_many_pages_into_a_large_log_as_into_a_small_one() {
        let small = pages_written_by_a_batch(4_096);
        let large = pages_written_by_a_batch(100_000);
        assert!(
            large < small * 3 / 2,
            "{large} pages into 100,000 entries vs {small} into 4,096"
        );
    }
}
