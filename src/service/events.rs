//! Downstream events (issue 22): what changed in the directory, for the applications that
//! consume it. Every committed change to a user or group appends its events in the writer
//! transaction that makes it ([`record`]), so the outbox and the data never disagree; the feed
//! ([`read`]) serves them by cursor. The event format is documented in docs/events.md and
//! docs/events.schema.json (its `schema_version` is [`SCHEMA_VERSION`]).
//!
//! Deleting a user or a group ends its memberships implicitly: one `*.deleted` event, never one
//! `group.member_removed` per membership, so deleting a 50,000-member group stays one event.

use serde_json::{Map, Value, json};

use super::Scope;
use super::members::Delta;
use crate::clock;
use crate::scim::error::ScimError;
use crate::scim::resource::Document;
use crate::scim::schema::ResourceType;
use crate::store::events::{self as rows, NewEvent};
use crate::store::resources::ResourceRow;
use crate::store::{Conn, Result, Store};

/// The version of the event format; a change that could break a consumer raises it.
pub const SCHEMA_VERSION: u32 = 1;

/// Every kind of event, in the order docs/events.md lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    UserCreated,
    UserUpdated,
    UserDeactivated,
    UserReactivated,
    UserDeleted,
    GroupCreated,
    GroupUpdated,
    GroupDeleted,
    GroupMemberAdded,
    GroupMemberRemoved,
    UserRestored,
    GroupRestored,
    AlarmMassChange,
}

impl EventType {
    pub const ALL: [Self; 13] = [
        Self::UserCreated,
        Self::UserUpdated,
        Self::UserDeactivated,
        Self::UserReactivated,
        Self::UserDeleted,
        Self::GroupCreated,
        Self::GroupUpdated,
        Self::GroupDeleted,
        Self::GroupMemberAdded,
        Self::GroupMemberRemoved,
        Self::UserRestored,
        Self::GroupRestored,
        Self::AlarmMassChange,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::UserCreated => "user.created",
            Self::UserUpdated => "user.updated",
            Self::UserDeactivated => "user.deactivated",
            Self::UserReactivated => "user.reactivated",
            Self::UserDeleted => "user.deleted",
            Self::GroupCreated => "group.created",
            Self::GroupUpdated => "group.updated",
            Self::GroupDeleted => "group.deleted",
            Self::GroupMemberAdded => "group.member_added",
            Self::GroupMemberRemoved => "group.member_removed",
            Self::UserRestored => "user.restored",
            Self::GroupRestored => "group.restored",
            Self::AlarmMassChange => "alarm.mass_change",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

/// What one write did to one resource.
#[derive(Debug, Clone, Copy)]
pub enum Change<'a> {
    Created(&'a ResourceRow),
    /// `password` is true when the write set a new password (never shown, only named).
    Updated {
        before: &'a ResourceRow,
        after: &'a ResourceRow,
        password: bool,
    },
    Deleted(&'a ResourceRow),
    /// A deleted resource brought back from its tombstone, with its id (issue 25).
    Restored(&'a ResourceRow),
}

/// Appends the events of one write to `rt`, in the caller's (writer) transaction: the
/// resource's own event, if its attributes changed or it was created or deleted, then one
/// event per member the write added or removed, in that order.
pub fn record(
    tx: &Conn,
    scope: &Scope,
    rt: &ResourceType,
    change: Change<'_>,
    members: &[Delta],
) -> Result<()> {
    if cfg!(feature = "bench-events-off") || scope.ephemeral {
        return Ok(());
    }
    let own = own_event(rt, change);
    let count = usize::from(own.is_some()) + members.len();
    if count == 0 {
        return Ok(());
    }
    let occurred_at = clock::timestamp(clock::now());
    let row = match change {
        Change::Created(row) | Change::Deleted(row) | Change::Restored(row) => row,
        Change::Updated { after, .. } => after,
    };
    let version = match change {
        Change::Deleted(_) => Value::Null,
        _ => json!(row.version),
    };
    let resource = resource_summary(rt, row, version);
    let mut events = Vec::with_capacity(count);
    // Bodies are stored without `seq`, which the store assigns and splices in when serving.
    let mut push = |event_type: EventType, extra: Map<String, Value>| {
        let id = format!("evt_{}", uuid::Uuid::new_v4().simple());
        let mut body = Map::new();
        body.insert("schema_version".into(), json!(SCHEMA_VERSION));
        body.insert("id".into(), json!(id));
        body.insert("type".into(), json!(event_type.as_str()));
        body.insert("tenant".into(), json!(scope.tenant_slug));
        body.insert("occurred_at".into(), json!(occurred_at));
        body.insert("resource".into(), resource.clone());
        body.insert("actor".into(), actor(scope));
        body.extend(extra);
        events.push(NewEvent {
            id,
            tenant_id: scope.tenant_id,
            event_type: event_type.as_str(),
            occurred_at: occurred_at.clone(),
            resource_type: rt.name,
            resource_id: row.id.clone(),
            body: Value::Object(body).to_string(),
        });
    };
    if let Some((event_type, changed)) = own {
        let mut extra = Map::new();
        extra.insert("changed".into(), json!(changed));
        extra.insert("data".into(), data(rt, scope, change));
        push(event_type, extra);
    }
    for d in members {
        let event_type = if d.added {
            EventType::GroupMemberAdded
        } else {
            EventType::GroupMemberRemoved
        };
        let mut extra = Map::new();
        extra.insert(
            "member".into(),
            json!({"type": d.member.resource_type, "id": d.member.id}),
        );
        push(event_type, extra);
    }
    rows::insert(tx, &events)
}

/// The resource as it is after the change, as SCIM GET renders it but without its relations
/// (a user's `groups`, a group's `members`: membership travels as member events, and reading it
/// would cost every write a query inside the writer) and without `meta.version` (the ETag of a
/// user also covers its groups; the event's `resource.version` is the resource's own revision).
/// Null for a deletion.
fn data(rt: &ResourceType, scope: &Scope, change: Change<'_>) -> Value {
    let row = match change {
        Change::Deleted(_) => return Value::Null,
        Change::Created(row) | Change::Restored(row) | Change::Updated { after: row, .. } => row,
    };
    let mut body = super::resources::render(rt, scope, row, None);
    if let Some(Value::Object(meta)) = body.get_mut("meta") {
        meta.remove("version");
    }
    Value::Object(body)
}

/// The resource's own event and the attributes it changed; `None` when only its members did.
fn own_event(rt: &ResourceType, change: Change<'_>) -> Option<(EventType, Vec<String>)> {
    let user = rt.name != "Group";
    let pick = |u, g| if user { u } else { g };
    match change {
        Change::Created(row) => Some((
            pick(EventType::UserCreated, EventType::GroupCreated),
            changed_names(&Document::new(), &row.doc),
        )),
        Change::Deleted(_) => Some((
            pick(EventType::UserDeleted, EventType::GroupDeleted),
            Vec::new(),
        )),
        Change::Restored(row) => Some((
            pick(EventType::UserRestored, EventType::GroupRestored),
            changed_names(&Document::new(), &row.doc),
        )),
        Change::Updated {
            before,
            after,
            password,
        } => {
            let mut changed = changed_names(&before.doc, &after.doc);
            if password {
                changed.push("password".into());
            }
            if changed.is_empty() {
                return None;
            }
            let active = |d: &Document| d.get("active").and_then(Value::as_bool).unwrap_or(true);
            let event_type = match (user, active(&before.doc), active(&after.doc)) {
                (true, true, false) => EventType::UserDeactivated,
                (true, false, true) => EventType::UserReactivated,
                (true, ..) => EventType::UserUpdated,
                (false, ..) => EventType::GroupUpdated,
            };
            Some((event_type, changed))
        }
    }
}

/// Attribute names that differ, as SCIM paths (`name.givenName`, `urn:…:User:department`):
/// complex attributes and extension blocks are named by their leaves, also when they appear or
/// disappear as a whole, so a consumer can tell which attributes to look at.
fn changed_names(before: &Document, after: &Document) -> Vec<String> {
    let mut out = Vec::new();
    walk_names("", Some(before), Some(after), &mut out);
    out
}

fn walk_names(
    prefix: &str,
    before: Option<&Map<String, Value>>,
    after: Option<&Map<String, Value>>,
    out: &mut Vec<String>,
) {
    let empty = Map::new();
    let (b, a) = (before.unwrap_or(&empty), after.unwrap_or(&empty));
    for k in b.keys().chain(a.keys().filter(|k| !b.contains_key(*k))) {
        let (bv, av) = (b.get(k), a.get(k));
        if bv == av {
            continue;
        }
        let name = match prefix {
            "" => k.clone(),
            // An extension block's attributes are written `urn:…:User:department` (RFC 7644
            // §3.10); below them, sub-attributes take a dot (`urn:…:User:manager.value`).
            p if p.starts_with("urn:") && is_extension_root(p) => format!("{p}:{k}"),
            p => format!("{p}.{k}"),
        };
        match (as_object(bv), as_object(av)) {
            (Some(bo), Some(ao)) if bo.is_some() || ao.is_some() => walk_names(&name, bo, ao, out),
            _ => out.push(name),
        }
    }
}

/// Whether `prefix` names a whole extension block (`urn:…:2.0:User`), not an attribute in one
/// (`urn:…:2.0:User:manager`): extension URNs end with the resource type's name.
fn is_extension_root(prefix: &str) -> bool {
    prefix.ends_with(":User") || prefix.ends_with(":Group")
}

/// `Some(None)` for an absent value, `Some(Some(map))` for an object, `None` for anything else.
fn as_object(v: Option<&Value>) -> Option<Option<&Map<String, Value>>> {
    match v {
        None => Some(None),
        Some(Value::Object(o)) => Some(Some(o)),
        Some(_) => None,
    }
}

fn resource_summary(rt: &ResourceType, row: &ResourceRow, version: Value) -> Value {
    let mut out = Map::new();
    out.insert("type".into(), json!(rt.name));
    out.insert("id".into(), json!(row.id));
    out.insert(
        "externalId".into(),
        row.doc.get("externalId").cloned().unwrap_or(Value::Null),
    );
    let name = if rt.name == "Group" {
        "displayName"
    } else {
        "userName"
    };
    out.insert(
        name.into(),
        row.doc.get(name).cloned().unwrap_or(Value::Null),
    );
    out.insert("version".into(), version);
    Value::Object(out)
}

/// Appends an `alarm.mass_change` event to a tenant's feed (issue 25): not about one resource,
/// so `resource` and `actor` are null and `alarm` says what was seen.
pub fn record_alarm(
    tx: &Conn,
    tenant_id: i64,
    tenant_slug: &str,
    alarm_id: i64,
    alarm: Value,
) -> Result<()> {
    let id = format!("evt_{}", uuid::Uuid::new_v4().simple());
    let occurred_at = clock::timestamp(clock::now());
    let event_type = EventType::AlarmMassChange.as_str();
    let body = json!({
        "schema_version": SCHEMA_VERSION,
        "id": id,
        "type": event_type,
        "tenant": tenant_slug,
        "occurred_at": occurred_at,
        "resource": Value::Null,
        "actor": Value::Null,
        "alarm": alarm,
    });
    rows::insert(
        tx,
        &[NewEvent {
            id,
            tenant_id,
            event_type,
            occurred_at,
            resource_type: "Alarm",
            resource_id: alarm_id.to_string(),
            body: body.to_string(),
        }],
    )
}

/// An event body with its payload dropped (an erase, issue 25): the values of the resource
/// (`data`, its `userName` / `displayName` and `externalId`) are gone, `erased` says so; the
/// event keeps its place in the sequence, its type, time, the resource's id and the actor.
pub fn erased_body(body: &str) -> Option<String> {
    let Ok(Value::Object(mut e)) = serde_json::from_str::<Value>(body) else {
        return None;
    };
    if e.get("erased").is_some() {
        return None;
    }
    if e.contains_key("data") {
        e.insert("data".into(), Value::Null);
    }
    if let Some(Value::Object(r)) = e.get_mut("resource") {
        for key in ["externalId", "userName", "displayName"] {
            if r.contains_key(key) {
                r.insert(key.into(), Value::Null);
            }
        }
    }
    e.insert("erased".into(), Value::Bool(true));
    Some(Value::Object(e).to_string())
}

fn actor(scope: &Scope) -> Value {
    scope.actor.as_ref().map_or(
        Value::Null,
        |a| json!({"token_id": a.token_id, "token_name": a.token_name, "idp": a.idp}),
    )
}

/// A request for the feed: events after the cursor `after`, at most `limit`, only `types` if
/// not empty, waiting up to `wait` for the first one when there is none yet (long poll).
#[derive(Debug, Clone)]
pub struct FeedQuery {
    pub after: i64,
    pub limit: u32,
    pub types: Vec<String>,
    pub wait: std::time::Duration,
}

/// The feed's bounds (`[events]` in the configuration).
#[derive(Debug, Clone, Copy)]
pub struct FeedLimits {
    pub max_limit: u32,
    pub max_wait: std::time::Duration,
}

/// One page of the feed: the stored event bodies as they are, and the cursor to ask from next.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedPage {
    pub events: Vec<String>,
    /// The `after` of the next request: the last event's `seq`, or the request's own cursor.
    pub next_after: i64,
    /// More events were ready than `limit`: ask again at once.
    pub has_more: bool,
}

impl FeedPage {
    /// `{"events":[…],"next_after":N,"has_more":B}`, with each event's bytes as stored.
    pub fn to_json(&self) -> String {
        let mut out =
            String::with_capacity(64 + self.events.iter().map(String::len).sum::<usize>());
        out.push_str("{\"events\":[");
        for (i, e) in self.events.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(e);
        }
        out.push_str(&format!(
            "],\"next_after\":{},\"has_more\":{}}}",
            self.next_after, self.has_more
        ));
        out
    }
}

/// Checks a feed request against the limits; errors name the parameter and the fix.
pub fn check(q: &FeedQuery, limits: &FeedLimits) -> std::result::Result<(), ScimError> {
    if q.after < 0 {
        return Err(ScimError::invalid_value(
            "after must be 0 (the start of the feed) or the next_after of a previous answer",
        ));
    }
    if q.limit == 0 || q.limit > limits.max_limit {
        return Err(ScimError::invalid_value(format!(
            "limit must be between 1 and {} (events.max_page); ask again with next_after for more",
            limits.max_limit
        )));
    }
    if q.wait > limits.max_wait {
        return Err(ScimError::invalid_value(format!(
            "wait must be at most {} seconds (events.max_wait_secs); poll again when it returns",
            limits.max_wait.as_secs()
        )));
    }
    if let Some(unknown) = q.types.iter().find(|t| EventType::parse(t).is_none()) {
        let known: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
        return Err(ScimError::invalid_value(format!(
            "types: \"{unknown}\" is not an event type; use a comma-separated list of {}",
            known.join(", ")
        )));
    }
    Ok(())
}

/// Reads a page of the tenant's feed, waiting up to `q.wait` for a first event.
pub async fn read(
    store: &Store,
    scope: &Scope,
    q: FeedQuery,
    limits: &FeedLimits,
) -> std::result::Result<FeedPage, ScimError> {
    check(&q, limits)?;
    let deadline = rocket::tokio::time::Instant::now() + q.wait;
    let mut batches = store.batches();
    loop {
        // Marked seen before reading: a batch that ends after this read wakes the wait below.
        batches.borrow_and_update();
        let page = read_once(store, scope, &q).await?;
        if !page.events.is_empty() {
            return Ok(page);
        }
        let woke = rocket::tokio::time::timeout_at(deadline, batches.changed()).await;
        if !matches!(woke, Ok(Ok(()))) {
            return Ok(page);
        }
    }
}

async fn read_once(
    store: &Store,
    scope: &Scope,
    q: &FeedQuery,
) -> std::result::Result<FeedPage, ScimError> {
    let (tenant_id, after, types) = (scope.tenant_id, q.after, q.types.clone());
    // One more than asked: whether there is more is then known without a second query.
    let fetch = q.limit.saturating_add(1);
    let (position, rows) = store
        .read(move |conn| {
            crate::store::snapshot(conn, |conn| {
                Ok((
                    rows::head(conn)?,
                    rows::after(conn, tenant_id, after, fetch, &types)?,
                ))
            })
        })
        .await
        .map_err(|e| {
            tracing::error!("reading the events feed failed: {e}");
            ScimError::internal()
        })?;
    if after < position.pruned_through {
        return Err(ScimError::new(
            410,
            format!(
                "cursor {after} is older than the events this server keeps (they start after {}; events.retention_days / events.max_bytes). Resynchronise: GET {}/snapshot gives every user and group as of one cursor, then follow the feed from that cursor",
                position.pruned_through,
                super::tokens::events_url(&scope.base_url)
            ),
        ));
    }
    if after > position.last {
        return Err(ScimError::invalid_value(format!(
            "cursor {after} is ahead of the newest event ({}): this server's events were restored from a backup or its database replaced. Resynchronise from {}/snapshot",
            position.last,
            super::tokens::events_url(&scope.base_url)
        )));
    }
    let has_more = rows.len() > q.limit as usize;
    let page = &rows[..rows.len().min(q.limit as usize)];
    // With a type filter, an empty page still moves the cursor past what it skipped.
    let next_after = match page.last() {
        Some(last) => last.seq,
        None if q.types.is_empty() => after,
        None => position.last.max(after),
    };
    let events = rows
        .into_iter()
        .take(q.limit as usize)
        .map(|r| r.body)
        .collect();
    Ok(FeedPage {
        events,
        next_after,
        has_more,
    })
}

/// How often the pruner runs (also once at start).
pub const PRUNE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(600);

/// Events deleted per write transaction: pruning a month of events never holds the writer for
/// more than a few milliseconds at a time.
const PRUNE_BATCH: u32 = 1000;

/// Prunes events older than `retention_days` or beyond `max_bytes` of bodies, a batch per
/// write; returns how many went.
pub async fn prune(
    store: &Store,
    retention_days: u32,
    max_bytes: u64,
    now: time::OffsetDateTime,
) -> Result<usize> {
    let before = clock::timestamp(now - time::Duration::days(i64::from(retention_days)));
    let max_bytes = i64::try_from(max_bytes).unwrap_or(i64::MAX);
    let mut total = 0;
    loop {
        let cutoff = before.clone();
        let gone = store
            .write(move |tx| rows::prune(tx, &cutoff, max_bytes, PRUNE_BATCH))
            .await?;
        total += gone;
        if gone < PRUNE_BATCH as usize {
            return Ok(total);
        }
    }
}

/// The outbox's size and age, for `/healthz` and `/metrics`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Backlog {
    /// The newest sequence number handed out.
    pub last_seq: i64,
    /// Bytes of the event bodies kept.
    pub bytes: i64,
    /// Age of the oldest event kept, in seconds (0 when there is none).
    pub oldest_age_secs: i64,
}

pub async fn backlog(store: &Store) -> Result<Backlog> {
    let (position, oldest) = store
        .read(|conn| Ok((rows::position(conn)?, rows::oldest_time(conn)?)))
        .await?;
    Ok(backlog_of(position, oldest))
}

/// [`backlog`] for the command line, which runs beside the server without a runtime.
pub fn backlog_now(store: &Store) -> Result<Backlog> {
    let (position, oldest) =
        store.read_blocking(|conn| Ok((rows::position(conn)?, rows::oldest_time(conn)?)))?;
    Ok(backlog_of(position, oldest))
}

fn backlog_of(position: rows::Position, oldest: Option<String>) -> Backlog {
    let now = clock::now();
    let oldest_age_secs = oldest
        .and_then(|t| {
            time::OffsetDateTime::parse(&t, &time::format_description::well_known::Rfc3339).ok()
        })
        .map_or(0, |t| (now - t).whole_seconds().max(0));
    Backlog {
        last_seq: position.last,
        bytes: position.body_bytes,
        oldest_age_secs,
    }
}

/// `scimd events tail`: the newest `n` events of a tenant, or those after `after`, oldest
/// first. Reads the database directly (the CLI runs beside the server).
pub fn tail(
    store: &Store,
    tenant_slug: &str,
    after: Option<i64>,
    n: u32,
) -> std::result::Result<Vec<rows::StoredEvent>, super::OpError> {
    let slug = tenant_slug.to_owned();
    store
        .read_blocking(|conn| {
            let Some(tenant) = crate::store::tenants::by_slug(conn, &slug)? else {
                return Ok(None);
            };
            Ok(Some(match after {
                Some(after) => rows::after(conn, tenant.id, after, n, &[])?,
                None => rows::newest_of(conn, tenant.id, n)?,
            }))
        })
        .map_err(|e| super::OpError::Internal(format!("reading events failed: {e}")))?
        .ok_or_else(|| {
            super::OpError::NotFound(format!(
                "there is no tenant \"{tenant_slug}\"; `scimd tenant list` shows them"
            ))
        })
}

/// One event as a line a person reads: sequence, time, type, resource, what changed, who.
pub fn describe(body: &str) -> String {
    let Ok(e) = serde_json::from_str::<Value>(body) else {
        return body.to_owned();
    };
    let text = |v: &Value| v.as_str().unwrap_or("-").to_owned();
    let r = &e["resource"];
    let name = r
        .get("userName")
        .or_else(|| r.get("displayName"))
        .map_or_else(|| "-".into(), text);
    let mut line = format!(
        "{:>7}  {}  {:<21} {} {} ({})",
        e["seq"],
        text(&e["occurred_at"]),
        text(&e["type"]),
        text(&r["type"]),
        name,
        text(&r["id"])
    );
    if let Some(a) = e.get("alarm") {
        line.push_str(&format!(
            "  {} deletions, {} deactivations within {} s (alarm {})",
            a["deletions"], a["deactivations"], a["window_secs"], a["id"]
        ));
    }
    if e.get("erased").is_some() {
        line.push_str("  erased");
    }
    if let Some(m) = e.get("member") {
        line.push_str(&format!("  member {} {}", text(&m["type"]), text(&m["id"])));
    }
    if let Some(changed) = e["changed"].as_array().filter(|c| !c.is_empty()) {
        let names: Vec<String> = changed.iter().map(text).collect();
        line.push_str(&format!("  changed {}", names.join(", ")));
    }
    if let Some(a) = e["actor"].as_object() {
        line.push_str(&format!(
            "  by {} ({})",
            a.get("token_name").map_or_else(|| "-".into(), text),
            a.get("idp").map_or_else(|| "-".into(), text)
        ));
    }
    line
}

/// A page of the Events view of the web UI, newest first.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BrowsePage {
    pub events: Vec<Value>,
    /// `before` of the next (older) page; `None` when this page reached the oldest event.
    /// With a filter, the page may be short (or empty) and still have one: the search stopped
    /// at its window (`events.browse_scan_rows`).
    pub next_before: Option<i64>,
}

/// The admin UI's Events view: a tenant's events newest first, filtered by type and resource,
/// among the `scan` newest before `before` (`events.browse_scan_rows`): a page may hold fewer
/// than `limit` and still have older ones to search.
pub fn browse(
    store: &Store,
    scope: &Scope,
    before: Option<i64>,
    event_type: Option<&str>,
    resource_id: Option<&str>,
    limit: u32,
    scan: u32,
) -> std::result::Result<BrowsePage, super::OpError> {
    if let Some(t) = event_type.filter(|t| EventType::parse(t).is_none()) {
        return Err(super::OpError::Invalid(format!(
            "type: \"{t}\" is not an event type"
        )));
    }
    let tenant_id = scope.tenant_id;
    let found = store
        .read_blocking(|conn| {
            rows::browse(
                conn,
                tenant_id,
                before,
                event_type,
                resource_id,
                limit,
                scan,
            )
        })
        .map_err(|e| super::OpError::Internal(format!("reading events failed: {e}")))?;
    let next_before = match found.rows.last() {
        Some(last) if found.rows.len() == limit as usize => Some(last.seq),
        _ => found.window_floor,
    };
    let events = found
        .rows
        .into_iter()
        .filter_map(|r| serde_json::from_str(&r.body).ok())
        .collect();
    Ok(BrowsePage {
        events,
        next_before,
    })
}
