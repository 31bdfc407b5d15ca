//! Use cases on users and groups (RFC 7644 §3.3–§3.6): validate the request, run one write
//! transaction, render the response model. An update computes the new document against a
//! snapshot read outside the writer (a large PATCH is CPU work that must not hold up every
//! other write), then writes it inside one writer transaction if the resource is still at the
//! snapshot's version, recomputing there otherwise; so concurrent writes to one resource queue
//! rather than collide. argon2 hashing (slow on purpose) also runs outside.

use serde_json::{Map, Value, json};

use super::Scope;
use super::events;
use super::extensions;
use super::history::{self, Action};
use super::members;
use super::passwords::HashError;
use super::verbatim::{self, Body};
use crate::clock;
use crate::scim::error::{Result, ScimError};
use crate::scim::list::ListQuery;
use crate::scim::patch::{self, MemberChange};
use crate::scim::projection::{Projection, Resolver};
use crate::scim::quirks::Quirks;
use crate::scim::resource::{self, Document, WriteLimits};
use crate::scim::schema::{GROUP, ResourceType, TypeRef};
use crate::store::filter_sql::{self, SqlWhere};
use crate::store::resources::{self as rows, PasswordChange, ResourceRow, StoredResource};
use crate::store::{Store, StoreError};

/// A rendered resource plus what the HTTP layer needs for `ETag` and `Location`.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub body: Body,
    /// The weak ETag, also `meta.version`: see [`etag`].
    pub etag: String,
    pub location: String,
}

/// An `If-Match` / `If-None-Match` precondition (RFC 7644 §3.14).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    Any,
    /// The opaque parts of the listed tags (`3` of `W/"3"`), compared weakly (RFC 9110 §8.8.3.2).
    Tags(Vec<String>),
}

impl Precondition {
    /// Parses `W/"3"`, `"3"`, `*` or a comma-separated list of them. A tag this server never
    /// issued simply matches nothing, which is what a stale or foreign ETag should do.
    pub fn parse(header: &str) -> Self {
        if header.trim() == "*" {
            return Self::Any;
        }
        let tags = header
            .split(',')
            .map(opaque)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect();
        Self::Tags(tags)
    }

    /// Whether the ETag `tag` (as [`etag`] makes it) satisfies the precondition.
    pub fn matches(&self, tag: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Tags(tags) => tags.iter().any(|t| t == opaque(tag)),
        }
    }
}

fn opaque(tag: &str) -> &str {
    tag.trim().trim_start_matches("W/").trim_matches('"')
}

/// The weak ETag of a resource, also its `meta.version`. It changes whenever the
/// representation does: the row's own version counts every write to it, and a user's
/// read-only `groups` (which a group rename, a group deletion or a nested membership changes
/// without writing the user's row) adds a fingerprint of the groups it shows. So renaming a
/// group of 50,000 users writes one row, and each user's ETag still changes.
pub fn etag(version: i64, shown_groups: &[Value]) -> String {
    if shown_groups.is_empty() {
        return format!("W/\"{version}\"");
    }
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    for g in shown_groups {
        // `$ref` is left out: it follows from `value` and the URL the resource was read at.
        for key in ["value", "display", "type"] {
            hash.update(g.get(key).and_then(Value::as_str).unwrap_or_default());
            hash.update([0]);
        }
    }
    let fingerprint = hex::encode(&hash.finalize()[..6]);
    format!("W/\"{version}-{fingerprint}\"")
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

/// POST: creates a resource and returns it (RFC 7644 §3.3). What the body's dialect needed,
/// and the names no schema defines, are noted in `quirks` (whose strictness refuses them).
#[allow(clippy::too_many_arguments)]
pub async fn create(
    store: &Store,
    rt: &TypeRef,
    scope: &Scope,
    body: Value,
    projection: &Projection,
    limits: &WriteLimits,
    quirks: &mut Quirks,
) -> Result<Rendered> {
    let resolver = projection.resolve(rt)?;
    let validated = resource::validate(rt, &body, quirks)?;
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
            let mut deltas = Vec::new();
            if let Some(refs) = new_members {
                let change = MemberChange::Replace(refs);
                match members::apply(tx, tenant_id, &row, &change)? {
                    Ok(d) => deltas = d,
                    Err(e) => return Ok(Err(e)),
                }
                extra.push(history::members_change(describe_members(&change)));
            }
            events::record(tx, &actor_scope, rt, events::Change::Created(&row), &deltas)?;
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
    let with_related = needs_related(rt, &resolver);
    let (tenant_id, id_owned, base) = (scope.tenant_id, id.to_owned(), scope.base_url.clone());
    // Row and membership in one read.
    let kind = rt.name;
    let (row, related) = store
        .read_quick(move |conn| {
            let row = rows::get_stored(conn, tenant_id, kind, &id_owned)?;
            let related = with_related
                .then(|| members::related(conn, kind, row.seq, &base))
                .transpose()?;
            Ok((row, related))
        })
        .await
        .map_err(|e| not_found_or_internal(e, rt, id))?;
    rendered_stored(rt, scope, row, related.map(|l| (relation, l)), &resolver)
}

/// Current ETag of a resource, for `If-None-Match` on GET.
pub async fn current_etag(store: &Store, rt: &TypeRef, scope: &Scope, id: &str) -> Result<String> {
    let (tenant_id, id_owned) = (scope.tenant_id, id.to_owned());
    store
        .read({
            let rt = rt.clone();
            move |conn| {
                let row = rows::get(conn, tenant_id, rt.name, &id_owned)?;
                tag_of(conn, &rt, &row)
            }
        })
        .await
        .map_err(|e| not_found_or_internal(e, rt, id))
}

/// PUT: replaces every client-writable attribute (RFC 7644 §3.5.1). Omitted attributes are
/// cleared; `password` is kept unless a new one is sent, since it is never returned and a
/// read-modify-write client (Okta S10) cannot send it back. Quirks as for [`create`].
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
    quirks: &mut Quirks,
) -> Result<Rendered> {
    let resolver = projection.resolve(rt)?;
    let validated = resource::validate(rt, &body, quirks)?;
    extensions::check(rt, &validated.doc)?;
    let (doc, new_members) = split_members(rt, validated.doc)?;
    resource::check_multi_values(rt, &doc, None, limits)?;
    let password_hash = hash_password(validated.password).await?;
    let change = Change {
        doc,
        password_hash: password_hash.map(PendingPassword::Hashed),
        members: new_members.map(MemberChange::Replace).into_iter().collect(),
        quirks: Quirks::default(),
    };
    let (row, _) = update(store, rt, scope, id, if_match, move |_| Ok(change.clone())).await?;
    render_one(store, rt, scope, row, &resolver).await
}

/// PATCH (RFC 7644 §3.5.2): operations applied in order, all or nothing. Returns `None` when
/// the answer is 204 without a body: groups answer so unless `attributes` was asked for, which
/// Entra prefers (S63) and which spares loading 50,000 members for a one-member change.
/// Quirks as for [`create`]: an operation on an undeclared attribute is skipped and noted.
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
    quirks: &mut Quirks,
) -> Result<Option<Rendered>> {
    let resolver = projection.resolve(rt)?;
    let ops = patch::parse_patch(&body, limits, quirks)?;
    drop(body);
    let (id_owned, limits, policy) = (id.to_owned(), *limits, quirks.same_policy());
    let rt_shared = rt.clone();
    let (row, applied) = update(store, rt, scope, id, if_match, move |current| {
        let rt = &rt_shared;
        let mut noticed = policy.clone();
        let outcome = patch::apply_patch(rt, &id_owned, &current.doc, &ops, &limits, &mut noticed)?;
        // The patched document is validated again as a whole; it holds only what the
        // operations already checked, so what this notices is not the request's.
        let whole = Value::Object(with_schemas(rt, outcome.doc));
        let checked = resource::validate(rt, &whole, &mut Quirks::default())?;
        extensions::check(rt, &checked.doc)?;
        Ok(Change {
            doc: checked.doc,
            password_hash: outcome.password.map(PendingPassword::Clear),
            members: outcome.member_changes,
            quirks: noticed,
        })
    })
    .await?;
    quirks.merge(&applied);
    if has_members(rt) && projection.attributes.is_empty() {
        return Ok(None);
    }
    render_one(store, rt, scope, row, &resolver).await.map(Some)
}

/// DELETE (RFC 7644 §3.6); memberships go in the same transaction, and the resource with them
/// into a tombstone (`service::deleted`), restorable for the tenant's retention.
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
            if let Some(p) = &if_match {
                let tag = tag_of(tx, rt, &current)?;
                if !p.matches(&tag) {
                    return Ok(Err(stale_precondition(rt, &id_owned, &tag)));
                }
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
            events::record(tx, &actor_scope, rt, events::Change::Deleted(&current), &[])?;
            // The tombstone first: it reads the memberships the delete then cascades away.
            super::deleted::bury(tx, &actor_scope, &current)?;
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

/// Sets `active` of a user back to true (reverting a mass-change burst, issue 25), as a write
/// like any other: a new version, history and a `user.reactivated` event. Returns whether it
/// changed anything (false when the user is active already).
pub async fn reactivate(store: &Store, rt: &TypeRef, scope: &Scope, id: &str) -> Result<bool> {
    let inactive = |doc: &Document| doc.get("active") == Some(&Value::Bool(false));
    if !inactive(&load(store, rt, scope, id).await?.doc) {
        return Ok(false);
    }
    let (row, _) = update(store, rt, scope, id, None, |current| {
        let mut doc = current.doc.clone();
        doc.insert("active".into(), Value::Bool(true));
        Ok(Change {
            doc,
            password_hash: None,
            members: Vec::new(),
            quirks: Quirks::default(),
        })
    })
    .await?;
    Ok(!inactive(&row.doc))
}

/// GET list / POST .search on one resource type (RFC 7644 §3.4.2, §3.4.3). The IdP dialect the
/// query was written in is noted in `quirks`.
pub async fn list(
    store: &Store,
    rt: &TypeRef,
    scope: &Scope,
    query: ListQuery,
    quirks: &mut Quirks,
) -> Result<Body> {
    quirks.merge(&query.quirks);
    let prepared = prepare(rt, &query, quirks)?;
    let (total, resources) =
        fetch(store, scope, prepared, query.start_index - 1, query.count).await?;
    verbatim::list_body(total, query.start_index, resources).map_err(|_| ScimError::internal())
}

/// POST /.search at the root (RFC 7644 §3.4.3): every resource type, Users then Groups, paged
/// as one list. A type whose schema lacks an attribute the filter or projection names cannot
/// match and is left out; only if no type can match is the request an error.
pub async fn search_all(
    store: &Store,
    scope: &Scope,
    query: ListQuery,
    quirks: &mut Quirks,
) -> Result<Body> {
    quirks.merge(&query.quirks);
    let mut prepared = Vec::new();
    let mut first_error = None;
    for rt in scope.schemas.types() {
        match prepare(rt, &query, quirks) {
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
    verbatim::list_body(total, query.start_index, resources).map_err(|_| ScimError::internal())
}

/// A list query resolved against one resource type.
struct Prepared<'a> {
    rt: &'a ResourceType,
    resolver: Resolver<'a>,
    filter: SqlWhere,
    order: Option<String>,
}

fn prepare<'a>(
    rt: &'a ResourceType,
    query: &ListQuery,
    quirks: &mut Quirks,
) -> Result<Prepared<'a>> {
    let resolver = query.projection.resolve(rt)?;
    let filter = match &query.filter {
        Some(f) => filter_sql::translate_noting(rt, f, quirks)?,
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
) -> Result<(u64, Vec<Body>)> {
    let Prepared {
        rt,
        resolver,
        filter,
        order,
    } = p;
    let tenant_id = scope.tenant_id;
    let relation = members::relation_name(rt.name);
    let with_related = needs_related(rt, &resolver);
    let base = scope.base_url.clone();
    let kind = rt.name;
    let pages = store.page_index();
    let (page, related) = store
        .read_quick(move |conn| {
            let page = rows::list(
                conn,
                &pages,
                tenant_id,
                kind,
                &filter,
                order.as_deref(),
                offset,
                limit,
            )?;
            let related = if with_related {
                let seqs: Vec<i64> = page.rows.iter().map(|r| r.seq).collect();
                members::related_each(conn, kind, &seqs, &base)?
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
            let shown = related.next().map(|l| (relation, l));
            Ok(rendered_stored(rt, scope, row, shown, &resolver)?.body)
        })
        .collect::<Result<_>>()?;
    Ok((page.total, resources))
}

/// What one write changes; computed from the current row.
#[derive(Debug, Clone)]
struct Change {
    doc: Document,
    password_hash: Option<PendingPassword>,
    members: Vec<MemberChange>,
    /// What computing the change noticed (a PATCH's operations).
    quirks: Quirks,
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
/// it outside and recomputes. Returns the row and the quirks of the change written.
async fn update<F>(
    store: &Store,
    rt: &TypeRef,
    scope: &Scope,
    id: &str,
    if_match: Option<Precondition>,
    compute: F,
) -> Result<(ResourceRow, Quirks)>
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
                if let Some(p) = &if_match_now {
                    let tag = tag_of(tx, rt, &current)?;
                    if !p.matches(&tag) {
                        let stale = stale_precondition(rt, &id_owned, &tag);
                        return Ok(Err(Interrupted::Refused(stale)));
                    }
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
                    return Ok(Ok((current, change.quirks)));
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
                // Groups show their members' display names: a rename changes their
                // representation, so their ETag (one row per group the member is directly in).
                if display_name(&change.doc) != display_name(&current.doc) {
                    rows::touch_groups_of(tx, row.seq, &stamp)?;
                }
                if let Err(e) = extensions::index_unique(tx, rt, tenant_id, row.seq, &change.doc)? {
                    return Ok(Err(Interrupted::Refused(e)));
                }
                let mut extra = Vec::new();
                if matches!(password, PasswordChange::Set(_)) {
                    extra.push(history::password_change());
                }
                let mut deltas = Vec::new();
                for m in &change.members {
                    match members::apply(tx, tenant_id, &row, m)? {
                        Ok(d) => deltas.extend(d),
                        Err(e) => return Ok(Err(Interrupted::Refused(e))),
                    }
                    extra.push(history::members_change(describe_members(m)));
                }
                let written = events::Change::Updated {
                    before: &current,
                    after: &row,
                    password: matches!(password, PasswordChange::Set(_)),
                };
                events::record(tx, &actor_scope, rt, written, &deltas)?;
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
                Ok(Ok((row, change.quirks)))
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
        // Refused without a precondition: that is the answer, as of the snapshot. With one, the
        // change is computed again inside the writer, after the precondition is checked there
        // against the current ETag (a failed If-Match is the answer then, not this refusal).
        Err(e) if if_match.is_none() => Err(e),
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
    let extra = if needs_related(rt, resolver) {
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

pub(super) fn rendered(
    rt: &ResourceType,
    scope: &Scope,
    row: &ResourceRow,
    related: Option<(&str, Vec<Value>)>,
    resolver: &Resolver<'_>,
) -> Rendered {
    let mut body = render(rt, scope, row, related);
    // Taken before projecting: the ETag is the resource's, whichever attributes were asked for.
    let etag = body["meta"]["version"]
        .as_str()
        .map_or_else(|| etag(row.version, &[]), str::to_owned);
    resolver.apply(rt, &mut body);
    Rendered {
        body: Body::Value(Value::Object(body)),
        etag,
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
    let version = version_shown(row.version, related.as_ref());
    // An empty `groups` is omitted (unassigned); an empty `members` is shown because Okta and
    // Entra expect `"members": []` on a new group (S17, S61).
    if let Some((name, list)) = related
        && (!list.is_empty() || name == "members")
    {
        out.insert(name.into(), Value::Array(list));
    }
    let meta = meta(
        rt,
        scope,
        &row.id,
        &row.created,
        &row.last_modified,
        &version,
    );
    out.insert("meta".into(), json!(meta));
    out
}

/// A resource read for a response, rendered from its stored text when the projection leaves
/// the document as it is ([`verbatim`]), or parsed and rendered as [`render`] does.
pub(super) fn rendered_stored(
    rt: &ResourceType,
    scope: &Scope,
    row: StoredResource,
    related: Option<(&str, Vec<Value>)>,
    resolver: &Resolver<'_>,
) -> Result<Rendered> {
    let version = version_shown(row.version, related.as_ref());
    let meta = meta(
        rt,
        scope,
        &row.id,
        &row.created,
        &row.last_modified,
        &version,
    );
    let shown = related
        .as_ref()
        .map(|(name, list)| (*name, list.as_slice()));
    if let Some(json) = verbatim::render(rt, &row, shown, &meta, resolver) {
        return Ok(Rendered {
            body: Body::Json(json),
            etag: version,
            location: location(rt, scope, &row.id),
        });
    }
    let row = row.parse().map_err(internal)?;
    Ok(rendered(rt, scope, &row, related, resolver))
}

/// `meta.version`, also the ETag: a user's covers the groups it shows (see [`etag`]).
fn version_shown(version: i64, related: Option<&(&str, Vec<Value>)>) -> String {
    match related {
        Some(("groups", shown)) => etag(version, shown),
        _ => etag(version, &[]),
    }
}

/// `meta` (RFC 7643 §3.1).
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Meta<'a> {
    resource_type: &'a str,
    created: &'a str,
    last_modified: &'a str,
    location: String,
    version: &'a str,
}

fn meta<'a>(
    rt: &'a ResourceType,
    scope: &Scope,
    id: &str,
    created: &'a str,
    last_modified: &'a str,
    version: &'a str,
) -> Meta<'a> {
    Meta {
        resource_type: rt.name,
        created,
        last_modified,
        location: location(rt, scope, id),
        version,
    }
}

fn with_schemas(rt: &ResourceType, doc: Document) -> Document {
    let mut out = doc;
    out.insert("schemas".into(), json!([rt.schema.id]));
    out
}

/// Whether rendering needs the resource's relation: when it is returned, and always for a
/// user, whose ETag covers the groups it shows.
fn needs_related(rt: &ResourceType, resolver: &Resolver) -> bool {
    !has_members(rt) || resolver.includes(rt, members::relation_name(rt.name))
}

/// The current ETag of a row, read inside the caller's transaction (see [`etag`]).
fn tag_of(
    conn: &crate::store::Conn,
    rt: &ResourceType,
    row: &ResourceRow,
) -> crate::store::Result<String> {
    if has_members(rt) {
        return Ok(etag(row.version, &[]));
    }
    // The fingerprint leaves `$ref` out, so no base URL is needed.
    Ok(etag(row.version, &members::groups(conn, row.seq, "")?))
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

/// The name a group shows for this resource as a member (as `store::members` reads it).
fn display_name(doc: &Document) -> Option<&Value> {
    doc.get("displayName").or_else(|| doc.get("userName"))
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

fn stale_precondition(rt: &ResourceType, id: &str, tag: &str) -> ScimError {
    ScimError::precondition_failed(format!(
        "If-Match does not match the current version of {} {id} ({tag}); GET it again and retry with the new ETag",
        rt.name
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::quirks::Quirk;
    use crate::scim::schema::USER;

    fn scope(strict: bool) -> Scope {
        Scope {
            tenant_id: 1,
            tenant_slug: "default".into(),
            base_url: "http://localhost/scim/v2".into(),
            actor: None,
            history_value_cap: 4096,
            strict,
            interop_profile: false,
            accept_password: true,
            schemas: crate::scim::schema::Registry::core(),
            ephemeral: false,
        }
    }

    fn store(dir: &std::path::Path) -> Store {
        let store = Store::open(&dir.join("s.db")).expect("open");
        store
            .write_blocking(|tx| crate::store::tenants::ensure_default(tx, "2026-01-01T00:00:00Z"))
            .expect("tenant");
        store
    }

    fn stored_docs(store: &Store) -> Vec<String> {
        store
            .read_blocking(|c| {
                let mut stmt = c.prepare("SELECT doc FROM resources ORDER BY seq")?;
                let docs = stmt.query_map([], |r| r.get(0))?;
                Ok(docs.collect::<rusqlite::Result<Vec<String>>>()?)
            })
            .expect("docs")
    }

    /// A create runs the insert statement compiled for the creates before it (issue 29): it
    /// was compiled for every create, 10 % of the writer's CPU on the create flood.
    #[rocket::async_test]
    async fn creates_reuse_the_writers_compiled_statements() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = store(dir.path());
        for i in 0..5 {
            let body = serde_json::json!({"userName": format!("u{i}@x"), "emails": [{"value": format!("u{i}@x"), "type": "work"}]});
            create(
                &store,
                &TypeRef::Core(&USER),
                &scope(false),
                body,
                &Projection::default(),
                &WriteLimits::default(),
                &mut Quirks::new(false),
            )
            .await
            .expect("create");
        }
        let runs = store
            .write_blocking(|c| {
                Ok(c.prepare_cached(crate::store::resources::INSERT_SQL)?
                    .get_status(rusqlite::StatementStatus::Run))
            })
            .expect("status");
        assert!(
            runs >= 5,
            "the insert was compiled again between creates: {runs} runs"
        );
    }

    /// Issue 21 at the service: the scope's `strict` decides whether a name no schema defines
    /// refuses the write (nothing stored) or is skipped and reported (stored without it).
    #[rocket::async_test]
    async fn strict_scopes_refuse_undeclared_attributes_others_store_without_them() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = store(dir.path());
        let body = serde_json::json!({"userName":"a@x","costCentre":"42","title":"T"});
        let none = Projection::default();
        let limits = WriteLimits::default();

        let mut refused = Quirks::new(true);
        let e = create(
            &store,
            &TypeRef::Core(&USER),
            &scope(true),
            body.clone(),
            &none,
            &limits,
            &mut refused,
        )
        .await
        .expect_err("strict");
        assert_eq!(
            (e.status, e.scim_type.map(|t| t.as_str())),
            (400, Some("invalidSyntax"))
        );
        assert!(
            e.detail.contains("costCentre") && e.detail.contains("strict"),
            "{}",
            e.detail
        );
        assert!(
            stored_docs(&store).is_empty(),
            "a refused request stores nothing"
        );

        let mut noticed = Quirks::new(false);
        let made = create(
            &store,
            &TypeRef::Core(&USER),
            &scope(false),
            body,
            &none,
            &limits,
            &mut noticed,
        )
        .await
        .expect("lenient");
        assert_eq!(noticed.ignored(), ["costCentre"]);
        let made = made.body.into_value().expect("JSON");
        assert!(made.get("costCentre").is_none(), "{made}");
        assert_eq!(made["title"], "T");
        let docs = stored_docs(&store);
        assert_eq!(docs.len(), 1);
        assert!(!docs[0].contains("costCentre"), "{}", docs[0]);

        let id = made["id"].as_str().expect("id").to_owned();
        let ops = |path: &str| {
            serde_json::json!({"schemas":[crate::scim::patch::PATCH_OP_URN],
                "Operations":[{"op":"Replace","path":path,"value":"x"}]})
        };
        let mut refused = Quirks::new(true);
        let e = patch(
            &store,
            &TypeRef::Core(&USER),
            &scope(true),
            &id,
            ops("costCentre"),
            None,
            &none,
            &limits,
            &mut refused,
        )
        .await
        .expect_err("strict");
        assert_eq!(e.scim_type.map(|t| t.as_str()), Some("invalidSyntax"));
        let mut noticed = Quirks::new(false);
        patch(
            &store,
            &TypeRef::Core(&USER),
            &scope(false),
            &id,
            ops("costCentre"),
            None,
            &none,
            &limits,
            &mut noticed,
        )
        .await
        .expect("skipped");
        assert_eq!(noticed.ignored(), ["costCentre"]);
        assert!(noticed.contains(Quirk::CapitalisedOp));
        assert_eq!(stored_docs(&store), docs, "nothing changed");
    }
}
