//! Deletion safety (issue 25): deleted users and groups become tombstones, restorable with
//! their id, attributes and memberships for the tenant's `tombstone_retention_days`; an erase
//! removes a person completely (tombstone, history, event payloads, request-log bodies) and
//! leaves only the record that it happened. Front-ends: `scimd deleted …`, the admin API, the
//! Deleted page of the UI. Every write here is batched (`[deletion] batch_rows`), so none holds
//! the writer for long.

use serde::Serialize;
use serde_json::{Value, json};

use super::history::{self, Action};
use super::members::Delta;
use super::{OpError, Scope, events, extensions, settings};
use crate::clock;
use crate::scim::resource::Document;
use crate::scim::schema::{GROUP, TypeRef, USER};
use crate::store::events as event_rows;
use crate::store::members::{self as member_rows, Candidate};
use crate::store::resources::{self as rows, ResourceRow};
use crate::store::tombstones::{self as graves, Erasure, Listed, Tombstone};
use crate::store::{self, Conn, Store, StoreError, tenants};

/// Who acts on the Deleted page: the admin's name, or `cli` for the command line.
pub type By = String;

/// Whether deletions in this tenant leave a tombstone (an `ephemeral` tenant's do not). Read
/// inside the deleting transaction: one row by its key.
fn keeps_tombstones(tx: &Conn, tenant_id: i64) -> store::Result<bool> {
    let tenant = tenants::by_id(tx, tenant_id)?;
    Ok(!(tenant.settings.contains("\"ephemeral\"") && settings::of(&tenant).ephemeral))
}

/// Moves the resource about to be deleted into a tombstone, in the caller's (deleting)
/// transaction, with who deleted it.
pub(super) fn bury(tx: &Conn, scope: &Scope, row: &ResourceRow) -> store::Result<()> {
    if !keeps_tombstones(tx, scope.tenant_id)? {
        return Ok(());
    }
    let by = scope.actor.as_ref().map(|a| {
        json!({"token_id": a.token_id, "token_name": a.token_name, "idp": a.idp}).to_string()
    });
    let now = clock::timestamp(clock::now());
    graves::bury(tx, scope.tenant_id, row.seq, &now, by.as_deref())
}

/// A page of the tenant's deleted users and groups, newest first.
#[derive(Debug, Clone, Serialize)]
pub struct DeletedPage {
    pub deleted: Vec<Listed>,
    /// `before` of the next page; `None` at the end.
    pub next_before: Option<String>,
    pub retention_days: u32,
}

/// Lists the tenant's tombstones, newest first.
pub fn list(
    store: &Store,
    scope: &Scope,
    before: Option<&str>,
    limit: u32,
) -> Result<DeletedPage, OpError> {
    let tenant_id = scope.tenant_id;
    let (tenant, deleted) = store
        .read_blocking(|c| {
            Ok((
                tenants::by_id(c, tenant_id)?,
                graves::list(c, tenant_id, before, limit)?,
            ))
        })
        .map_err(internal)?;
    let next_before = (deleted.len() == limit as usize)
        .then(|| deleted.last().map(|d| d.deleted_at.clone()))
        .flatten();
    Ok(DeletedPage {
        deleted,
        next_before,
        retention_days: settings::of(&tenant).tombstone_retention_days,
    })
}

/// What one restore brought back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Restored {
    pub id: String,
    pub resource_type: String,
    pub name: String,
    /// Memberships (groups it is in, and a group's members) put back.
    pub memberships: usize,
    /// Memberships left out: the group or member no longer exists, or it would close a cycle.
    pub memberships_skipped: usize,
}

/// Restores one deleted user or group with its id, attributes and memberships (to groups and
/// members that still exist). Refused with a conflict when a live resource now holds its
/// userName / displayName (re-created after the deletion): two of them cannot coexist, and
/// which one is right is the admin's call. A group's members beyond the first `batch` are
/// added in further transactions of `batch` each.
pub async fn restore(
    store: &Store,
    scope: &Scope,
    id: &str,
    by: &str,
    batch: u32,
) -> Result<Restored, OpError> {
    let (tenant_id, id_owned, by_owned) = (scope.tenant_id, id.to_owned(), by.to_owned());
    let actor_scope = scope.clone();
    let batch = batch.max(1) as usize;
    let first = store
        .write_or_rollback(move |tx| restore_row(tx, &actor_scope, &id_owned, &by_owned, batch))
        .await
        .map_err(internal)??;
    let (mut out, row, rt, rest) = first;
    for chunk in rest.chunks(batch) {
        let (scope, rt, row, ids) = (scope.clone(), rt.clone(), row.clone(), chunk.to_vec());
        let (added, skipped) = store
            .write(move |tx| {
                let wanted = member_rows::find(tx, tenant_id, &ids)?;
                let (deltas, skipped) = add_members(tx, tenant_id, &row, wanted, ids.len())?;
                events::record(
                    tx,
                    &scope,
                    &rt,
                    events::Change::Updated {
                        before: &row,
                        after: &row,
                        password: false,
                    },
                    &deltas,
                )?;
                Ok((deltas.len(), skipped))
            })
            .await
            .map_err(internal)?;
        out.memberships += added;
        out.memberships_skipped += skipped;
    }
    Ok(out)
}

/// Restores several, newest deletion first whatever order they are given in (ids without a
/// tombstone last, to be answered): an undo, so a user deleted before its group finds the group
/// back and rejoins it. Each is answered on its own.
pub async fn restore_many(
    store: &Store,
    scope: &Scope,
    ids: &[String],
    by: &str,
    batch: u32,
) -> Vec<(String, Result<Restored, OpError>)> {
    let (tenant_id, wanted) = (scope.tenant_id, ids.to_vec());
    let deleted_at = store
        .read(move |c| {
            wanted
                .iter()
                .map(|id| Ok(graves::get(c, tenant_id, id)?.map(|t| t.deleted_at)))
                .collect::<store::Result<Vec<_>>>()
        })
        .await
        .unwrap_or_else(|_| vec![None; ids.len()]);
    let mut order: Vec<(Option<String>, &String)> = deleted_at.into_iter().zip(ids).collect();
    order.sort_by(|a, b| b.0.cmp(&a.0));
    let mut out = Vec::with_capacity(ids.len());
    for (_, id) in order {
        out.push((id.clone(), restore(store, scope, id, by, batch).await));
    }
    out
}

/// The first transaction of a restore: the row, its groups, its first members.
type FirstStep = (Restored, ResourceRow, TypeRef, Vec<String>);

fn restore_row(
    tx: &Conn,
    scope: &Scope,
    id: &str,
    by: &str,
    batch: usize,
) -> store::Result<Result<FirstStep, OpError>> {
    let tenant_id = scope.tenant_id;
    let Some(t) = graves::get(tx, tenant_id, id)? else {
        return Ok(Err(not_deleted(tx, tenant_id, id)?));
    };
    let rt = if t.resource_type == GROUP.name {
        scope.schemas.get(&GROUP).clone()
    } else {
        scope.schemas.get(&USER).clone()
    };
    let attr = unique_attr(&t.resource_type);
    if let Some(holder) = rows::id_by_name(tx, tenant_id, &t.resource_type, &t.name)? {
        return Ok(Err(OpError::Conflict(format!(
            "{} {id} cannot be restored: {attr} \"{}\" is now held by {} {holder}, created after the deletion, and {attr} is unique per tenant. Rename or delete {holder} first, then restore",
            t.resource_type, t.name, t.resource_type
        ))));
    }
    let now = clock::timestamp(clock::now());
    let row = graves::revive(tx, tenant_id, &t, &now)?;
    if let Err(e) = extensions::index_unique(tx, &rt, tenant_id, row.seq, &row.doc)? {
        return Ok(Err(OpError::Conflict(format!(
            "{} {id} cannot be restored: {}",
            t.resource_type, e.detail
        ))));
    }
    let first: Vec<String> = t.members.iter().take(batch).cloned().collect();
    let rest: Vec<String> = t.members.iter().skip(batch).cloned().collect();
    let wanted = member_rows::find(tx, tenant_id, &first)?;
    let (deltas, mut skipped) = add_members(tx, tenant_id, &row, wanted, first.len())?;
    events::record(tx, scope, &rt, events::Change::Restored(&row), &deltas)?;
    let restored_note = json!({"attribute": "restored", "before": {"deleted_at": t.deleted_at},
                               "after": {"by": by}});
    let mut extra = vec![restored_note];
    if !t.members.is_empty() {
        extra.push(history::members_change(json!({"restore": t.members.len()})));
    }
    history::record(
        tx,
        scope,
        &rt,
        id,
        Action::Create,
        None,
        Some(&row.doc),
        extra,
    )?;
    let (joined, left_out) = rejoin_groups(tx, scope, &row, &t)?;
    skipped += left_out;
    graves::remove(tx, tenant_id, id)?;
    let out = Restored {
        id: t.id.clone(),
        resource_type: t.resource_type.clone(),
        name: t.name.clone(),
        memberships: deltas.len() + joined,
        memberships_skipped: skipped,
    };
    Ok(Ok((out, row, rt, rest)))
}

/// Adds `wanted` (found among `asked` ids) as members of the restored `group`; returns the
/// deltas and how many of the asked were left out. A restored group has no parent yet, so no
/// member can close a cycle through it.
fn add_members(
    tx: &Conn,
    tenant_id: i64,
    group: &ResourceRow,
    wanted: Vec<Candidate>,
    asked: usize,
) -> store::Result<(Vec<Delta>, usize)> {
    let seqs: Vec<i64> = wanted.iter().map(|c| c.seq).collect();
    let added = member_rows::add(tx, tenant_id, group.seq, &seqs)?;
    let mut at = added.iter().peekable();
    let deltas: Vec<Delta> = wanted
        .into_iter()
        .enumerate()
        .filter(|(i, _)| at.next_if_eq(&i).is_some())
        .map(|(_, member)| Delta {
            added: true,
            member,
        })
        .collect();
    let skipped = asked.saturating_sub(deltas.len());
    Ok((deltas, skipped))
}

/// Puts the restored resource back into the groups it was directly in that still exist (and
/// that it would not make contain themselves); each such group changes (version, history, a
/// `group.member_added` event). Returns (joined, left out).
fn rejoin_groups(
    tx: &Conn,
    scope: &Scope,
    row: &ResourceRow,
    t: &Tombstone,
) -> store::Result<(usize, usize)> {
    let tenant_id = scope.tenant_id;
    let found: Vec<Candidate> = member_rows::find(tx, tenant_id, &t.member_of)?
        .into_iter()
        .filter(|c| c.resource_type == GROUP.name)
        .collect();
    let me = Candidate {
        id: row.id.clone(),
        seq: row.seq,
        resource_type: t.resource_type.clone(),
    };
    let mut joined = 0;
    for g in &found {
        if me.resource_type == GROUP.name && member_rows::would_cycle(tx, g.seq, me.seq)? {
            continue;
        }
        if member_rows::add(tx, tenant_id, g.seq, &[me.seq])?.is_empty() {
            continue;
        }
        joined += 1;
    }
    let now = clock::timestamp(clock::now());
    let group_rt = scope.schemas.get(&GROUP).clone();
    for gid in rows::touch_groups_of(tx, row.seq, &now)? {
        let group = rows::get(tx, tenant_id, GROUP.name, &gid)?;
        let delta = Delta {
            added: true,
            member: me.clone(),
        };
        events::record(
            tx,
            scope,
            &group_rt,
            events::Change::Updated {
                before: &group,
                after: &group,
                password: false,
            },
            &[delta],
        )?;
        let note = history::members_change(json!({"add": [&row.id], "restored": true}));
        history::record(
            tx,
            scope,
            &group_rt,
            &gid,
            Action::Update,
            None,
            None,
            vec![note],
        )?;
    }
    Ok((joined, t.member_of.len() - joined))
}

/// Whether a user or group with this id is live in the tenant.
pub async fn is_live(store: &Store, scope: &Scope, id: &str) -> Result<bool, OpError> {
    let (tenant_id, ids) = (scope.tenant_id, vec![id.to_owned()]);
    store
        .read(move |c| Ok(!member_rows::find(c, tenant_id, &ids)?.is_empty()))
        .await
        .map_err(internal)
}

fn unique_attr(resource_type: &str) -> &'static str {
    if resource_type == GROUP.name {
        "displayName"
    } else {
        "userName"
    }
}

/// Why there is no tombstone of `id`: it is live, or it is unknown (never existed, pruned,
/// restored already or erased).
fn not_deleted(tx: &Conn, tenant_id: i64, id: &str) -> store::Result<OpError> {
    let live = member_rows::find(tx, tenant_id, &[id.to_owned()])?;
    Ok(match live.first() {
        Some(c) => OpError::Conflict(format!(
            "{} {id} is not deleted: it is live in this tenant",
            c.resource_type
        )),
        None => OpError::NotFound(format!(
            "there is no deleted user or group {id} in this tenant (restored already, erased, or pruned after its retention); `scimd deleted list` shows what can be restored"
        )),
    })
}

/// What an erase removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Erased {
    pub id: String,
    pub resource_type: String,
    pub tombstone: bool,
    pub history_rows: usize,
    pub events: usize,
    pub log_entries: usize,
    /// Both WAL files were emptied afterwards (a busy reader can delay it to the next
    /// checkpoint; the erase is complete in the database files either way).
    pub wal_truncated: bool,
}

/// Erases a deleted person (or group) completely, for a privacy request: its tombstone, its
/// history, the payloads of its events (each event keeps its place in the sequence, its type
/// and the id; see docs/events.md "Erased events"), and the bodies, query and detail of every
/// request-log entry about it or naming it. What remains is the record that the erase happened,
/// by whom and when. A live resource is refused: delete it first. Runs in transactions of
/// `batch` rows; `secure_delete` overwrites what they remove, and a WAL checkpoint at the end
/// leaves no older page behind in the WAL files.
/// `log` is this process's request log, if it runs one: what it still queues about the person
/// is written first, so the scrub sees it. (The CLI has none; it runs beside the server, whose
/// queue holds a few seconds of requests at most.)
pub async fn erase(
    store: &Store,
    scope: &Scope,
    id: &str,
    by: &str,
    batch: u32,
    log: Option<&super::request_log::RequestLog>,
) -> Result<Erased, OpError> {
    let (tenant_id, id_owned, by_owned) = (scope.tenant_id, id.to_owned(), by.to_owned());
    let batch = batch.max(1);
    let mut started = begin_erase(store, tenant_id, &id_owned, &by_owned, None).await?;
    if let Err(OpError::NotFound(_)) = &started {
        // Neither a tombstone nor history: only events may still name it (history kept for
        // less time than events). Scanning them is a reader's work, never the writer's.
        let rid = id_owned.clone();
        let named = store
            .read(move |c| graves::type_in_events(c, tenant_id, &rid))
            .await
            .map_err(internal)?;
        if named.is_some() {
            started = begin_erase(store, tenant_id, &id_owned, &by_owned, named).await?;
        }
    }
    let (resource_type, had_tombstone, needles) = started?;
    let mut out = Erased {
        id: id.to_owned(),
        resource_type: resource_type.clone(),
        tombstone: had_tombstone,
        ..Erased::default()
    };
    loop {
        let (kind, rid) = (resource_type.clone(), id.to_owned());
        let n = store
            .write(move |tx| graves::delete_history(tx, tenant_id, &kind, &rid, batch))
            .await
            .map_err(internal)?;
        out.history_rows += n;
        if n < batch as usize {
            break;
        }
    }
    // The resource is gone, so no new event names it: the sequence up to its newest number now
    // holds them all. One window of `batch` numbers per transaction.
    let head = store.read(event_rows::head).await.map_err(internal)?;
    let step = i64::from(batch);
    let mut from = head.pruned_through + 1;
    while from <= head.last {
        let (kind, rid) = (resource_type.clone(), id.to_owned());
        out.events += store
            .write(move |tx| {
                let window = graves::events_in(tx, tenant_id, &kind, &rid, from, from + step)?;
                let mut changed = 0;
                for (seq, body) in window {
                    if let Some(erased) = events::erased_body(&body) {
                        graves::replace_event_body(tx, seq, &erased)?;
                        changed += 1;
                    }
                }
                Ok(changed)
            })
            .await
            .map_err(internal)?;
        from += step;
    }
    if let Some(log) = log {
        log.flush(store).await;
    }
    let mut from = 0;
    let step = i64::from(batch);
    loop {
        let newest = store.read(graves::newest_log_id).await.map_err(internal)?;
        if from > newest {
            break;
        }
        let (rid, needles) = (id.to_owned(), needles.clone());
        out.log_entries += store
            .write_log_securely(move |c| graves::scrub_log(c, from, from + step, &rid, &needles))
            .await
            .map_err(internal)?;
        from += step;
    }
    let checkpoint = store.clone();
    out.wal_truncated =
        rocket::tokio::task::spawn_blocking(move || checkpoint.checkpoint_truncate())
            .await
            .map_err(|e| OpError::Internal(format!("checkpoint failed: {e}")))?
            .map_err(internal)?;
    Ok(out)
}

/// The resource type, whether there was a tombstone, and the values to look for in the log.
type EraseStart = (String, bool, Vec<String>);

async fn begin_erase(
    store: &Store,
    tenant_id: i64,
    id: &str,
    by: &str,
    named_by_events: Option<String>,
) -> Result<Result<EraseStart, OpError>, OpError> {
    let (id, by) = (id.to_owned(), by.to_owned());
    store
        .write_or_rollback(move |tx| start_erase(tx, tenant_id, &id, &by, named_by_events))
        .await
        .map_err(internal)
}

/// The first transaction of an erase: refuses a live resource, removes the tombstone, records
/// the erase; returns the resource type, whether there was a tombstone, and the values the
/// request log names the person by (to find its entries that do not carry the id).
/// `named_by_events` is the type the events give it, when the caller looked them up.
fn start_erase(
    tx: &Conn,
    tenant_id: i64,
    id: &str,
    by: &str,
    named_by_events: Option<String>,
) -> store::Result<Result<EraseStart, OpError>> {
    if let Some(c) = member_rows::find(tx, tenant_id, &[id.to_owned()])?.first() {
        return Ok(Err(OpError::Conflict(format!(
            "{} {id} is live: delete it first (SCIM DELETE, or the Browse page), then erase it",
            c.resource_type
        ))));
    }
    let tomb = graves::get(tx, tenant_id, id)?;
    let mut needles = Vec::new();
    let resource_type = match &tomb {
        Some(t) => {
            if let Ok(Value::Object(doc)) = serde_json::from_str::<Value>(&t.doc) {
                identifying_values(&t.resource_type, &doc, &mut needles);
            }
            t.resource_type.clone()
        }
        None => match history_type(tx, tenant_id, id)?.or(named_by_events) {
            Some(kind) => kind,
            None => {
                return Ok(Err(OpError::NotFound(format!(
                    "there is nothing of {id} in this tenant to erase (no tombstone, history or event names it)"
                ))));
            }
        },
    };
    for row in crate::store::request_log::history(tx, tenant_id, &resource_type, id)? {
        if let Ok(Value::Array(changes)) = serde_json::from_str::<Value>(&row.changes) {
            for c in changes {
                let attr = c["attribute"].as_str().unwrap_or_default();
                if identifying(&resource_type).contains(&attr)
                    || (resource_type == USER.name && attr.starts_with("emails"))
                {
                    strings(&c["before"], &mut needles);
                    strings(&c["after"], &mut needles);
                }
            }
        }
    }
    needles.retain(|n| n.chars().count() >= 3);
    needles.sort();
    needles.dedup();
    graves::remove(tx, tenant_id, id)?;
    graves::record_erasure(
        tx,
        tenant_id,
        &Erasure {
            resource_type: resource_type.clone(),
            resource_id: id.to_owned(),
            erased_at: clock::timestamp(clock::now()),
            erased_by: by.to_owned(),
        },
    )?;
    Ok(Ok((resource_type, tomb.is_some(), needles)))
}

/// The attributes a resource is named by in requests: a person by userName, displayName,
/// externalId and emails; a group by its externalId only (its id finds the rest: a group's
/// displayName, "Sales", would match every request that mentions the word).
fn identifying(resource_type: &str) -> &'static [&'static str] {
    if resource_type == GROUP.name {
        &["externalId"]
    } else {
        &["userName", "displayName", "externalId", "emails"]
    }
}

/// The values of [`identifying`] attributes in a stored document.
fn identifying_values(resource_type: &str, doc: &Document, out: &mut Vec<String>) {
    for key in identifying(resource_type) {
        if let Some(v) = doc.get(*key) {
            strings(v, out);
        }
    }
}

/// Every string in `v` (an email's `value` and `type` alike; short ones are dropped later).
fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|i| strings(i, out)),
        Value::Object(o) => {
            if let Some(value) = o.get("value") {
                strings(value, out);
            }
        }
        _ => {}
    }
}

fn history_type(tx: &Conn, tenant_id: i64, id: &str) -> store::Result<Option<String>> {
    use rusqlite::OptionalExtension;
    Ok(tx
        .query_row(
            "SELECT resource_type FROM resource_history \
             WHERE tenant_id = ?1 AND resource_type IN ('User', 'Group') AND resource_id = ?2 LIMIT 1",
            rusqlite::params![tenant_id, id],
            |r| r.get(0),
        )
        .optional()?)
}

/// The tenant's erasures, newest first.
pub fn erasures(store: &Store, scope: &Scope, limit: u32) -> Result<Vec<Erasure>, OpError> {
    let tenant_id = scope.tenant_id;
    store
        .read_blocking(|c| graves::erasures(c, tenant_id, limit))
        .map_err(internal)
}

/// How often the tombstone pruner runs (also once at start).
pub const PRUNE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(600);

/// Prunes every tenant's tombstones past its retention, `batch` per transaction; returns how
/// many went.
pub async fn prune(store: &Store, now: time::OffsetDateTime, batch: u32) -> store::Result<usize> {
    let tenants_with = store.read(graves::tenants_with_tombstones).await?;
    let mut total = 0;
    for tenant_id in tenants_with {
        let tenant = store.read(move |c| tenants::by_id(c, tenant_id)).await?;
        let days = settings::of(&tenant).tombstone_retention_days;
        let before = clock::timestamp(now - time::Duration::days(i64::from(days)));
        loop {
            let cutoff = before.clone();
            let n = store
                .write(move |tx| graves::prune(tx, tenant_id, &cutoff, batch.max(1)))
                .await?;
            total += n;
            if n < batch.max(1) as usize {
                break;
            }
        }
    }
    Ok(total)
}

fn internal(e: StoreError) -> OpError {
    OpError::Internal(format!("the database failed: {e}"))
}
