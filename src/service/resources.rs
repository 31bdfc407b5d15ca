//! Use cases on users and groups (RFC 7644 §3.3–§3.6): validate the request, run one write
//! transaction, render the response model. An update computes the new document against a
//! snapshot read outside the writer (a large PATCH is CPU work that must not hold up every
//! other write), then writes it inside one writer transaction if the resource is still at the
//! snapshot's version, recomputing there otherwise; so concurrent writes to one resource queue
//! rather than collide. argon2 hashing (slow on purpose) also runs outside.

use serde_json::{Map, Value, json};

use super::Scope;
use super::extensions;
use super::history::{self, Action};
use super::members;
use super::passwords::HashError;
use crate::clock;
use crate::scim::error::{Result, ScimError};
use crate::scim::list::{ListQuery, list_response};
use crate::scim::patch::{self, MemberChange};
use crate::scim::projection::{Projection, Resolver};
use crate::scim::resource::{self, Document, WriteLimits};
use crate::scim::schema::{GROUP, ResourceType, TypeRef};
use crate::store::filter_sql::{self, SqlWhere};
use crate::store::resources::{self as rows, PasswordChange, ResourceRow};
use crate::store::{Store, StoreError};

/// A rendered resource plus what the HTTP layer needs for `ETag` and `Location`.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub body: Value,
    pub version: i64,
    pub location: String,
}

/// An `If-Match` / `If-None-Match` precondition (RFC 7644 §3.14).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    Any,
    Versions(Vec<i64>),
}

impl Precondition {
    /// Parses `W/"3"`, `"3"`, `*` or a comma-separated list of them. Unparseable tags match
    /// nothing, which is what a stale or foreign ETag should do.
    pub fn parse(header: &str) -> Self {
        if header.trim() == "*" {
            return Self::Any;
        }
        let versions = header
            .split(',')
            .filter_map(|tag| {
                tag.trim()
                    .trim_start_matches("W/")
                    .trim_matches('"')
                    .parse()
                    .ok()
            })
            .collect();
        Self::Versions(versions)
    }

    /// Whether `version` satisfies the precondition.
    pub fn matches(&self, version: i64) -> bool {
        match self {
            Self::Any => true,
            Self::Versions(v) => v.contains(&version),
        }
    }
}

/// The weak ETag of a version, also `meta.version`.
pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// An update computed inside the writer runs at most twice: once, and once more with the hash
/// of a new password.
const ATTEMPTS: usize = 2;

/// Races lost by a costly change computed outside the writer before it is computed inside
/// instead (bounded by the limits: a 1,000-operation PATCH is tens of milliseconds).
const OPTIMISTIC: usize = 5;

/// A change that took less than this to compute is computed again inside the writer when it
/// loses a race, at once: that keeps concurrent small updates of one resource (32 IdP workers
/// adding members to one group) in one shared commit, as they were before precomputing.
const CHEAP: std::time::Duration = std::time::Duration::from_millis(2);

/// A change computed outside the writer, with the row it was computed from.
struct Precomputed {
    row: ResourceRow,
    change: Change,
    /// Computed in less than [`CHEAP`].
    cheap: bool,
}

/// POST: creates a resource and returns it (RFC 7644 §3.3).
pub async fn create(
    store: &Store,
    rt: &TypeRef,
    scope: &Scope,
    body: Value,
    projection: &Projection,
    limits: &WriteLimits,
) -> Result<Rendered> {
    let resolver = projection.resolve(rt)?;
    let validated = resource::validate(rt, &body)?;
    extensions::check(rt, &validated.doc)?;
    let (doc, new_members) = split_members(rt, validated.doc)?;
    resource::check_multi_values(rt, &doc, None, limits)?;
    let password_hash = hash_password(validated.password).await?;
    let id = uuid::Uuid::new_v4().to_string();
    let tenant_id = scope.tenant_id;
    let name = unique_name(rt, &doc);
    let actor_scope = scope.clone();
    let rt_shared = rt.clone();
    let result = store
        .write_or_rollback(move |tx| {
            let rt = &rt_shared;
            let now = clock::timestamp(clock::now());
            let row = rows::insert(
                tx,
                tenant_id,
                rt.name,
                &id,
                &doc,
                password_hash.as_deref(),
                &now,
            )?;
            if let Err(e) = extensions::index_unique(tx, rt, tenant_id, row.seq, &doc)? {
                return Ok(Err(e));
            }
            let mut extra = Vec::new();
            if password_hash.is_some() {
                extra.push(history::password_change());
            }
            if let Some(refs) = new_members {
                let change = MemberChange::Replace(refs);
                if let Err(e) = members::apply(tx, tenant_id, &row, &change)? {
                    return Ok(Err(e));
                }
                extra.push(history::members_change(describe_members(&change)));
            }
            history::record(
                tx,
                &actor_scope,
                rt,
                &id,
                Action::Create,
                None,
                Some(&doc),
                extra,
            )?;
            Ok(Ok(row))
        })
        .await;
    let row = match result {
        Ok(outcome) => outcome?,
        Err(e) => return Err(conflict_or(e, store, rt, scope, &name).await),
    };
    render_one(store, rt, scope, row, &resolver).await
}

/// GET by id (RFC 7644 §3.4.1).
pub async fn get(
    store: &Store,
    rt: &TypeRef,
    scope: &Scope,
    id: &str,
    projection: &Projection,
) -> Result<Rendered> {
    let resolver = projection.resolve(rt)?;
    let relation = members::relation_name(rt.name);
    let with_related = resolver.includes(rt, relation);
    let (tenant_id, id_owned, base) = (scope.tenant_id, id.to_owned(), scope.base_url.clone());
    // Row and membership in one read: one trip to the blocking pool per GET.
    let kind = rt.name;
    let (row, related) = store
        .read(move |conn| {
            let row = rows::get(conn, tenant_id, kind, &id_owned)?;
            let related = with_related
                .then(|| members::related(conn, kind, row.seq, &base))
                .transpose()?;
            Ok((row, related))
        })
        .await
        .map_err(|e| not_found_or_internal(e, rt, id))?;
    Ok(rendered(
        rt,
        scope,
        &row,
        related.map(|l| (relation, l)),
        &resolver,
    ))
}

/// Current version of a resource, for `If-None-Match` on GET.
pub async fn version(store: &Store, rt: &TypeRef, scope: &Scope, id: &str) -> Result<i64> {
    Ok(load(store, rt, scope, id).await?.version)
}

/// PUT: replaces every client-writable attribute (RFC 7644 §3.5.1). Omitted attributes are
/// cleared; `password` is kept unless a new one is sent, since it is never returned and a
/// read-modify-write client (Okta S10) cannot send it back.
#[allow(clippy::too_many_arguments)]
pub async fn replace(
    store: &Store,
    rt: &TypeRef,
    scope: &Scope,
    id: &str,
    body: Value,
    if_match: Option<Precondition>,
    projection: &Projection,
    limits: &WriteLimits,
) -> Result<Rendered> {
    let resolver = projection.resolve(rt)?;
    let validated = resource::validate(rt, &body)?;
    extensions::check(rt, &validated.doc)?;
    let (doc, new_members) = split_members(rt, validated.doc)?;
    resource::check_multi_values(rt, &doc, None, limits)?;
    let password_hash = hash_password(validated.password).await?;
    let change = Change {
        doc,
        password_hash: password_hash.map(PendingPassword::Hashed),
        members: new_members.map(MemberChange::Replace).into_iter().collect(),
    };
    let row = update(store, rt, scope, id, if_match, move |_| Ok(change.clone())).await?;
    render_one(store, rt, scope, row, &resolver).await
}

/// PATCH (RFC 7644 §3.5.2): operations applied in order, all or nothing. Returns `None` when
/// the answer is 204 without a body: groups answer so unless `attributes` was asked for, which
/// Entra prefers (S63) and which spares loading 50,000 members for a one-member change.
#[allow(clippy::too_many_arguments)]
pub async fn patch(
    store: &Store,
    rt: &TypeRef,
    scope: &Scope,
    id: &str,
    body: Value,
    if_match: Option<Precondition>,
    projection: &Projection,
    limits: &WriteLimits,
) -> Result<Option<Rendered>> {
    let resolver = projection.resolve(rt)?;
    let ops = patch::parse_patch(&body, limits)?;
    drop(body);
    let (id_owned, limits) = (id.to_owned(), *limits);
    let rt_shared = rt.clone();
    let row = update(store, rt, scope, id, if_match, move |current| {
        let rt = &rt_shared;
        let outcome = patch::apply_patch(rt, &id_owned, &current.doc, &ops, &limits)?;
        let checked = resource::validate(rt, &Value::Object(with_schemas(rt, outcome.doc)))?;
        extensions::check(rt, &checked.doc)?;
        Ok(Change {
            doc: checked.doc,
            password_hash: outcome.password.map(PendingPassword::Clear),
            members: outcome.member_changes,
        })
    })
    .await?;
    if has_members(rt) && projection.attributes.is_empty() {
        return Ok(None);
    }
    render_one(store, rt, scope, row, &resolver).await.map(Some)
}

/// DELETE (RFC 7644 §3.6); memberships go in the same transaction.
pub async fn delete(
    store: &Store,
    rt: &TypeRef,
    scope: &Scope,
    id: &str,
    if_match: Option<Precondition>,
) -> Result<()> {
    let tenant_id = scope.tenant_id;
    let id_owned = id.to_owned();
    let actor_scope = scope.clone();
    let rt_shared = rt.clone();
    store
        .write_or_rollback(move |tx| {
            let rt = &rt_shared;
            let current = rows::get(tx, tenant_id, rt.name, &id_owned)?;
            if let Some(p) = &if_match
                && !p.matches(current.version)
            {
                return Ok(Err(stale_precondition(rt, &id_owned, current.version)));
            }
            // Deleting a user or group ends its memberships implicitly; the groups it was in
            // change, so they get a new version and a history entry saying why.
            let now = clock::timestamp(clock::now());
            for group in rows::touch_groups_of(tx, current.seq, &now)? {
                let gone = history::members_change(json!({"remove": [&id_owned], "deleted": true}));
                history::record(
                    tx,
                    &actor_scope,
                    &GROUP,
                    &group,
                    Action::Update,
                    None,
                    None,
                    vec![gone],
                )?;
            }
            rows::delete(tx, tenant_id, rt.name, &id_owned)?;
            history::record(
                tx,
                &actor_scope,
                rt,
                &id_owned,
                Action::Delete,
                Some(&current.doc),
                None,
                Vec::new(),
            )?;
            Ok(Ok(()))
        })
        .await
        .map_err(|e| not_found_or_internal(e, rt, id))?
}

/// GET list / POST .search on one resource type (RFC 7644 §3.4.2, §3.4.3).
pub async fn list(store: &Store, rt: &TypeRef, scope: &Scope, query: ListQuery) -> Result<Value> {
    let prepared = prepare(rt, &query)?;
    let (total, resources) =
        fetch(store, scope, prepared, query.start_index - 1, query.count).await?;
    Ok(list_response(total, query.start_index, resources))
}

/// POST /.search at the root (RFC 7644 §3.4.3): every resource type, Users then Groups, paged
/// as one list. A type whose schema lacks an attribute the filter or projection names cannot
/// match and is left out; only if no type can match is the request an error.
pub async fn search_all(store: &Store, scope: &Scope, query: ListQuery) -> Result<Value> {
    let mut prepared = Vec::new();
    let mut first_error = None;
    for rt in scope.schemas.types() {
        match prepare(rt, &query) {
            Ok(p) => prepared.push(p),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    if prepared.is_empty() {
        return Err(first_error.unwrap_or_else(ScimError::internal));
    }
    let (mut skip, mut room) = (query.start_index - 1, query.count);
    let (mut total, mut resources) = (0, Vec::new());
    for p in prepared {
        let (n, page) = fetch(store, scope, p, skip, room).await?;
        total += n;
        skip = skip.saturating_sub(n);
        room -= page.len() as u64;
        resources.extend(page);
    }
    Ok(list_response(total, query.start_index, resources))
}

/// A list query resolved against one resource type.
struct Prepared<'a> {
    rt: &'a ResourceType,
    resolver: Resolver<'a>,
    filter: SqlWhere,
    order: Option<String>,
}

fn prepare<'a>(rt: &'a ResourceType, query: &ListQuery) -> Result<Prepared<'a>> {
    let resolver = query.projection.resolve(rt)?;
    let filter = match &query.filter {
        Some(f) => filter_sql::translate(rt, f)?,
        None => SqlWhere::all(),
    };
    let order = match &query.sort_by {
        Some(path) => Some(filter_sql::order_by(rt, path, query.ascending)?),
        None => None,
    };
    Ok(Prepared {
        rt,
        resolver,
        filter,
        order,
    })
}

/// Total matches and the rendered page `[offset, offset + limit)`.
async fn fetch(
    store: &Store,
    scope: &Scope,
    p: Prepared<'_>,
    offset: u64,
    limit: u64,
) -> Result<(u64, Vec<Value>)> {
    let Prepared {
        rt,
        resolver,
        filter,
        order,
    } = p;
    let tenant_id = scope.tenant_id;
    let relation = members::relation_name(rt.name);
    let with_related = resolver.includes(rt, relation);
    let base = scope.base_url.clone();
    let kind = rt.name;
    let (page, related) = store
        .read(move |conn| {
            let page = rows::list(
                conn,
                tenant_id,
                kind,
                &filter,
                order.as_deref(),
                offset,
                limit,
            )?;
            let related = if with_related {
                page.rows
                    .iter()
                    .map(|r| members::related(conn, kind, r.seq, &base))
                    .collect::<crate::store::Result<Vec<_>>>()?
            } else {
                Vec::new()
            };
            Ok((page, related))
        })
        .await
        .map_err(internal)?;
    let mut related = related.into_iter();
    let resources = page
        .rows
        .into_iter()
        .map(|row| {
            let mut body = render(rt, scope, &row, related.next().map(|l| (relation, l)));
            resolver.apply(rt, &mut body);
            Value::Object(body)
        })
        .collect();
    Ok((page.total, resources))
}

/// What one write changes; computed from the current row.
#[derive(Debug, Clone)]
struct Change {
    doc: Document,
    password_hash: Option<PendingPassword>,
    members: Vec<MemberChange>,
}

/// A password that is hashed (slowly) outside the write lock, or already hashed.
#[derive(Debug, Clone)]
enum PendingPassword {
    Clear(String),
    Hashed(String),
}

/// Why a write attempt stopped before committing.
enum Interrupted {
    /// The request is wrong (or its precondition failed): answer with this error.
    Refused(ScimError),
    /// The change sets this password, which must be hashed before it can be stored.
    NeedsHash(String),
    /// Another write changed the resource after the snapshot the change was computed from.
    Raced,
    /// A unique index refused the new userName / displayName.
    Taken { error: StoreError, name: String },
}

/// Changes one resource. The change is computed first against a snapshot read outside the
/// writer, so its CPU cost (a 1,000-operation PATCH) holds up no other write; a new password is
/// hashed there too (argon2 is slow on purpose). Inside the writer transaction a version check
/// tells whether the snapshot is still current: then the precomputed change is written as it
/// is. If another write came first, a cheap change is computed again right there; a costly one
/// stops the attempt without writing and is computed again outside against the new version,
/// and after `OPTIMISTIC` such races inside the writer, where writes to one resource queue and
/// none can race.
/// A change computed there with a password not hashed yet stops the attempt; the next hashes
/// it outside and recomputes.
async fn update<F>(
    store: &Store,
    rt: &TypeRef,
    scope: &Scope,
    id: &str,
    if_match: Option<Precondition>,
    compute: F,
) -> Result<ResourceRow>
where
    F: Fn(&ResourceRow) -> Result<Change> + Send + Sync + Clone + 'static,
{
    let tenant_id = scope.tenant_id;
    let mut hashed: Option<(String, String)> = None;
    let mut prepared = precompute(store, rt, scope, id, &if_match, &compute, &mut hashed).await?;
    let mut races = 0;
    for _ in 0..OPTIMISTIC + ATTEMPTS {
        let (compute_now, if_match_now, hashed_now) =
            (compute.clone(), if_match.clone(), hashed.clone());
        let prepared_now = prepared.take();
        let id_owned = id.to_owned();
        let actor_scope = scope.clone();
        let rt_shared = rt.clone();
        let result = store
            .write_or_rollback(move |tx| {
                let rt = &rt_shared;
                let (current, precomputed) = match prepared_now {
                    Some(p) => {
                        let now = rows::version_of(tx, tenant_id, rt.name, &id_owned)?;
                        if now == Some((p.row.seq, p.row.version)) {
                            (p.row, Some(p.change))
                        } else if p.cheap {
                            (rows::get(tx, tenant_id, rt.name, &id_owned)?, None)
                        } else {
                            return Ok(Err(Interrupted::Raced));
                        }
                    }
                    None => (rows::get(tx, tenant_id, rt.name, &id_owned)?, None),
                };
                if let Some(p) = &if_match_now
                    && !p.matches(current.version)
                {
                    let stale = stale_precondition(rt, &id_owned, current.version);
                    return Ok(Err(Interrupted::Refused(stale)));
                }
                let change = match precomputed.map_or_else(|| compute_now(&current), Ok) {
                    Ok(change) => change,
                    Err(e) => return Ok(Err(Interrupted::Refused(e))),
                };
                let password = match &change.password_hash {
                    None => PasswordChange::Keep,
                    Some(PendingPassword::Hashed(h)) => PasswordChange::Set(h),
                    Some(PendingPassword::Clear(clear)) => match &hashed_now {
                        Some((for_clear, h)) if for_clear == clear => PasswordChange::Set(h),
                        _ => return Ok(Err(Interrupted::NeedsHash(clear.clone()))),
                    },
                };
                if change.doc == current.doc
                    && matches!(password, PasswordChange::Keep)
                    && change.members.is_empty()
                {
                    return Ok(Ok(current));
                }
                let stamp = clock::timestamp(clock::now());
                let updated = rows::update(
                    tx,
                    tenant_id,
                    rt.name,
                    &current,
                    &change.doc,
                    password,
                    &stamp,
                );
                let row = match updated {
                    Err(error @ StoreError::Conflict { .. }) => {
                        let name = unique_name(rt, &change.doc);
                        return Ok(Err(Interrupted::Taken { error, name }));
                    }
                    other => other?,
                };
                if let Err(e) = extensions::index_unique(tx, rt, tenant_id, row.seq, &change.doc)? {
                    return Ok(Err(Interrupted::Refused(e)));
                }
                let mut extra = Vec::new();
                if matches!(password, PasswordChange::Set(_)) {
                    extra.push(history::password_change());
                }
                for m in &change.members {
                    if let Err(e) = members::apply(tx, tenant_id, &row, m)? {
                        return Ok(Err(Interrupted::Refused(e)));
                    }
                    extra.push(history::members_change(describe_members(m)));
                }
                history::record(
                    tx,
                    &actor_scope,
                    rt,
                    &current.id,
                    Action::Update,
                    Some(&current.doc),
                    Some(&change.doc),
                    extra,
                )?;
                Ok(Ok(row))
            })
            .await;
        match result {
            Ok(Ok(row)) => return Ok(row),
            Ok(Err(Interrupted::Refused(e))) => return Err(e),
            Ok(Err(Interrupted::Raced)) => {
                races += 1;
                if races < OPTIMISTIC {
                    prepared =
                        precompute(store, rt, scope, id, &if_match, &compute, &mut hashed).await?;
                }
            }
            Ok(Err(Interrupted::NeedsHash(clear))) => {
                let hash = hash_password(Some(clear.clone())).await?;
                hashed = hash.map(|h| (clear, h));
            }
            Ok(Err(Interrupted::Taken { error, name })) => {
                return Err(conflict_or(error, store, rt, scope, &name).await);
            }
            Err(e) => return Err(not_found_or_internal(e, rt, id)),
        }
    }
    // Inside the writer nothing races, and a second attempt there recomputes the same
    // password from the same request, so it finds its hash; getting here means that broke.
    tracing::error!("update of {} {id} did not settle", rt.name);
    Err(ScimError::internal())
}

/// Computes a change against the current row, read outside the writer, on a blocking thread
/// (it is CPU work), and times it; hashes a new password it sets. `None` when the change is to
/// be computed inside the writer: its refusal may depend on a precondition checked there.
#[allow(clippy::too_many_arguments)]
async fn precompute<F>(
    store: &Store,
    rt: &TypeRef,
    scope: &Scope,
    id: &str,
    if_match: &Option<Precondition>,
    compute: &F,
    hashed: &mut Option<(String, String)>,
) -> Result<Option<Precomputed>>
where
    F: Fn(&ResourceRow) -> Result<Change> + Send + Sync + Clone + 'static,
{
    let snapshot = load(store, rt, scope, id).await?;
    let ahead = compute.clone();
    let (snapshot, computed, took) = rocket::tokio::task::spawn_blocking(move || {
        let started = std::time::Instant::now();
        let change = ahead(&snapshot);
        (snapshot, change, started.elapsed())
    })
    .await
    .map_err(|e| {
        tracing::error!("computing an update of {} failed: {e}", rt.name);
        ScimError::internal()
    })?;
    match computed {
        Ok(change) => {
            if let Some(PendingPassword::Clear(clear)) = &change.password_hash
                && hashed
                    .as_ref()
                    .is_none_or(|(for_clear, _)| for_clear != clear)
            {
                let hash = hash_password(Some(clear.clone())).await?;
                *hashed = hash.map(|h| (clear.clone(), h));
            }
            Ok(Some(Precomputed {
                row: snapshot,
                change,
                cheap: took < CHEAP,
            }))
        }
        // Refused against a version the precondition accepts: that is the answer, as of the
        // snapshot. (A failed If-Match is answered inside, against the current version.)
        Err(e)
            if if_match
                .as_ref()
                .is_none_or(|p| p.matches(snapshot.version)) =>
        {
            Err(e)
        }
        Err(_) => Ok(None),
    }
}

async fn load(store: &Store, rt: &TypeRef, scope: &Scope, id: &str) -> Result<ResourceRow> {
    let tenant_id = scope.tenant_id;
    let id_owned = id.to_owned();
    let kind = rt.name;
    store
        .read(move |conn| rows::get(conn, tenant_id, kind, &id_owned))
        .await
        .map_err(|e| not_found_or_internal(e, rt, id))
}

async fn render_one(
    store: &Store,
    rt: &TypeRef,
    scope: &Scope,
    row: ResourceRow,
    resolver: &Resolver<'_>,
) -> Result<Rendered> {
    let relation = members::relation_name(rt.name);
    let extra = if resolver.includes(rt, relation) {
        let (seq, base) = (row.seq, scope.base_url.clone());
        let kind = rt.name;
        let list = store
            .read(move |conn| members::related(conn, kind, seq, &base))
            .await
            .map_err(internal)?;
        Some((relation, list))
    } else {
        None
    };
    Ok(rendered(rt, scope, &row, extra, resolver))
}

fn rendered(
    rt: &ResourceType,
    scope: &Scope,
    row: &ResourceRow,
    related: Option<(&str, Vec<Value>)>,
    resolver: &Resolver<'_>,
) -> Rendered {
    let mut body = render(rt, scope, row, related);
    resolver.apply(rt, &mut body);
    Rendered {
        body: Value::Object(body),
        version: row.version,
        location: location(rt, scope, &row.id),
    }
}

fn location(rt: &ResourceType, scope: &Scope, id: &str) -> String {
    format!("{}{}/{id}", scope.base_url, rt.endpoint)
}

/// The resource as sent on the wire: schemas, id, externalId, attributes, meta.
pub(super) fn render(
    rt: &ResourceType,
    scope: &Scope,
    row: &ResourceRow,
    related: Option<(&str, Vec<Value>)>,
) -> Map<String, Value> {
    let mut schemas = vec![json!(rt.schema.id)];
    schemas.extend(
        rt.extensions
            .iter()
            .filter(|e| row.doc.contains_key(&*e.id))
            .map(|e| json!(e.id)),
    );
    let mut out = Map::new();
    out.insert("schemas".into(), Value::Array(schemas));
    out.insert("id".into(), json!(row.id));
    if let Some(ext) = row.doc.get("externalId") {
        out.insert("externalId".into(), ext.clone());
    }
    for (k, v) in &row.doc {
        if k != "externalId" {
            out.insert(k.clone(), v.clone());
        }
    }
    // An empty `groups` is omitted (unassigned); an empty `members` is shown because Okta and
    // Entra expect `"members": []` on a new group (S17, S61).
    if let Some((name, list)) = related
        && (!list.is_empty() || name == "members")
    {
        out.insert(name.into(), Value::Array(list));
    }
    out.insert(
        "meta".into(),
        json!({
            "resourceType": rt.name,
            "created": row.created,
            "lastModified": row.last_modified,
            "location": location(rt, scope, &row.id),
            "version": etag(row.version),
        }),
    );
    out
}

fn with_schemas(rt: &ResourceType, doc: Document) -> Document {
    let mut out = doc;
    out.insert("schemas".into(), json!([rt.schema.id]));
    out
}

fn has_members(rt: &ResourceType) -> bool {
    rt.schema.attr("members").is_some()
}

/// Takes `members` out of a group document: membership lives in its own table.
fn split_members(
    rt: &ResourceType,
    mut doc: Document,
) -> Result<(Document, Option<Vec<patch::MemberRef>>)> {
    if !has_members(rt) {
        return Ok((doc, None));
    }
    let refs = match doc.remove("members") {
        None => Vec::new(),
        Some(v) => members::refs_from_json(&v)?,
    };
    Ok((doc, Some(refs)))
}

fn unique_name(rt: &ResourceType, doc: &Document) -> String {
    let attr = if has_members(rt) {
        "displayName"
    } else {
        "userName"
    };
    doc.get(attr)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

async fn hash_password(password: Option<String>) -> Result<Option<String>> {
    let Some(password) = password else {
        return Ok(None);
    };
    match super::passwords::hash_pooled(password).await {
        Ok(hash) => Ok(Some(hash)),
        Err(HashError::TooLong(max)) => Err(ScimError::invalid_value(format!(
            "password is longer than {max} bytes, the longest this server accepts (limits.max_password_bytes); send a shorter password"
        ))),
        Err(HashError::Busy) => Err(ScimError::new(
            503,
            "the server is hashing as many passwords as it allows at once (limits.password_hashes_at_once); retry the request shortly",
        )),
        Err(HashError::Failed) => {
            tracing::error!("password hashing failed");
            Err(ScimError::internal())
        }
    }
}

fn stale_precondition(rt: &ResourceType, id: &str, version: i64) -> ScimError {
    ScimError::precondition_failed(format!(
        "If-Match does not match the current version of {} {id} ({}); GET it again and retry with the new ETag",
        rt.name,
        etag(version)
    ))
}

fn not_found_or_internal(e: StoreError, rt: &ResourceType, id: &str) -> ScimError {
    match e {
        StoreError::NotFound => ScimError::not_found(format!(
            "{} {id} does not exist in this tenant; it may have been deleted, or the id belongs to another tenant or server",
            rt.name
        )),
        other => internal(other),
    }
}

fn internal(e: StoreError) -> ScimError {
    match e {
        StoreError::Busy => ScimError::new(503, "the database is busy; retry the request shortly"),
        other => {
            tracing::error!("store failure: {other}");
            ScimError::internal()
        }
    }
}

/// Maps a unique-index violation to 409 naming the resource that already holds the value.
async fn conflict_or(
    e: StoreError,
    store: &Store,
    rt: &TypeRef,
    scope: &Scope,
    name: &str,
) -> ScimError {
    match e {
        StoreError::Conflict { index } if index.contains("name_key") => {
            let attr = if has_members(rt) {
                "displayName"
            } else {
                "userName"
            };
            let tenant_id = scope.tenant_id;
            let lookup = name.to_owned();
            let kind = rt.name;
            let existing = store
                .read(move |c| rows::id_by_name(c, tenant_id, kind, &lookup))
                .await
                .ok()
                .flatten();
            let holder = existing.map_or_else(String::new, |id| {
                format!(" by {} {id} ({})", rt.name, location(rt, scope, &id))
            });
            ScimError::uniqueness(format!(
                "{attr} \"{name}\" is already taken{holder}; {attr} is unique per tenant regardless of case. Link to the existing {} or choose another {attr}",
                rt.name
            ))
        }
        other => not_found_or_internal(other, rt, name),
    }
}

/// A membership change for the history: member ids only, never documents.
fn describe_members(m: &MemberChange) -> Value {
    let ids = |refs: &[patch::MemberRef]| refs.iter().map(|r| json!(r.value)).collect::<Vec<_>>();
    match m {
        MemberChange::Add(refs) => json!({"add": ids(refs)}),
        MemberChange::Remove(gone) => json!({"remove": gone}),
        MemberChange::RemoveAll => json!({"remove": "all"}),
        MemberChange::Replace(refs) => json!({"replace": ids(refs)}),
    }
}
