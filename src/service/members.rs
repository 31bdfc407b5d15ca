//! Membership changes of a group inside the caller's write transaction: every member id must
//! exist in the tenant (an unknown id is a 400 naming it, with nothing changed) and nested
//! groups must not form a cycle.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::scim::error::ScimError;
use crate::scim::patch::{MemberChange, MemberRef};
use crate::store::members::{self as store, Candidate};
use crate::store::resources::ResourceRow;
use crate::store::{Conn, Result};

/// Reads `members` of a POST/PUT body (already validated by the schema).
pub fn refs_from_json(value: &Value) -> Result<Vec<MemberRef>, ScimError> {
    let items = value.as_array().map_or(&[][..], Vec::as_slice);
    items
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let value = m
                .get("value")
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| {
                    ScimError::invalid_value(format!(
                        "members[{i}].value is missing; each member needs the id of a User or Group"
                    ))
                })?;
            Ok(MemberRef {
                value: value.to_owned(),
                kind: m.get("type").and_then(Value::as_str).map(str::to_owned),
            })
        })
        .collect()
}

/// One member that a change actually added or removed (a member added twice, or a non-member
/// removed, is no change): what the events feed reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delta {
    pub added: bool,
    pub member: Candidate,
}

/// Applies one change and returns what it changed; the outer `Result` is the store, the inner
/// one the client's mistake. A replacement touches only the difference between the old and the
/// new member list, so re-sending 50,000 members with one more costs one insert.
pub fn apply(
    tx: &Conn,
    tenant_id: i64,
    group: &ResourceRow,
    change: &MemberChange,
) -> Result<Result<Vec<Delta>, ScimError>> {
    match change {
        MemberChange::Add(refs) => {
            let wanted = match resolve(tx, tenant_id, group, refs)? {
                Ok(wanted) => wanted,
                Err(e) => return Ok(Err(e)),
            };
            added(tx, tenant_id, group, wanted).map(Ok)
        }
        MemberChange::Replace(refs) => {
            let wanted = match resolve(tx, tenant_id, group, refs)? {
                Ok(wanted) => wanted,
                Err(e) => return Ok(Err(e)),
            };
            let keep: HashSet<i64> = wanted.iter().map(|c| c.seq).collect();
            let gone: Vec<Candidate> = store::current(tx, group.seq)?
                .into_iter()
                .filter(|c| !keep.contains(&c.seq))
                .collect();
            let mut deltas = removed(tx, group, gone)?;
            deltas.extend(added(tx, tenant_id, group, wanted)?);
            Ok(Ok(deltas))
        }
        MemberChange::RemoveAll => {
            let all = store::current(tx, group.seq)?;
            removed(tx, group, all).map(Ok)
        }
        MemberChange::Remove(ids) => {
            // Removing a non-member is a no-op success (idp-requirements.md S20 decision).
            let found = store::find(tx, tenant_id, ids)?;
            removed(tx, group, found).map(Ok)
        }
    }
}

fn added(
    tx: &Conn,
    tenant_id: i64,
    group: &ResourceRow,
    wanted: Vec<Candidate>,
) -> Result<Vec<Delta>> {
    let seqs: Vec<i64> = wanted.iter().map(|c| c.seq).collect();
    let new = store::add(tx, tenant_id, group.seq, &seqs)?;
    Ok(pick(wanted, &new, true))
}

fn removed(tx: &Conn, group: &ResourceRow, members: Vec<Candidate>) -> Result<Vec<Delta>> {
    let seqs: Vec<i64> = members.iter().map(|c| c.seq).collect();
    let gone = store::remove(tx, group.seq, &seqs)?;
    Ok(pick(members, &gone, false))
}

/// The candidates at `positions` (ascending), as deltas.
fn pick(candidates: Vec<Candidate>, positions: &[usize], added: bool) -> Vec<Delta> {
    let mut at = positions.iter().peekable();
    candidates
        .into_iter()
        .enumerate()
        .filter(|(i, _)| at.next_if_eq(&i).is_some())
        .map(|(_, member)| Delta { added, member })
        .collect()
}

/// The members `refs` name, checked: each exists in the tenant, has the type the request says,
/// and would not close a cycle of nested groups.
fn resolve(
    tx: &Conn,
    tenant_id: i64,
    group: &ResourceRow,
    refs: &[MemberRef],
) -> Result<Result<Vec<Candidate>, ScimError>> {
    let ids: Vec<String> = refs.iter().map(|r| r.value.clone()).collect();
    let found = store::find(tx, tenant_id, &ids)?;
    // By id, so that adding n members costs n lookups, not n × n comparisons.
    let mut by_id: std::collections::HashMap<&str, &Candidate> = std::collections::HashMap::new();
    for c in &found {
        by_id.entry(c.id.as_str()).or_insert(c);
    }
    let mut wanted = Vec::with_capacity(refs.len());
    let mut seen = HashSet::with_capacity(refs.len());
    for r in refs {
        let Some(&c) = by_id.get(r.value.as_str()) else {
            return Ok(Err(ScimError::invalid_value(format!(
                "members: \"{}\" is not the id of a User or Group in this tenant; nothing was changed. Provision the member first, or remove it from the request",
                r.value
            ))));
        };
        if let Some(kind) = &r.kind
            && !kind.eq_ignore_ascii_case(&c.resource_type)
        {
            return Ok(Err(ScimError::invalid_value(format!(
                "members: \"{}\" is a {}, but the request says type \"{kind}\"",
                r.value, c.resource_type
            ))));
        }
        if let Some(e) = cycle(tx, group, c)? {
            return Ok(Err(e));
        }
        if seen.insert(c.seq) {
            wanted.push(c.clone());
        }
    }
    Ok(Ok(wanted))
}

fn cycle(tx: &Conn, group: &ResourceRow, member: &Candidate) -> Result<Option<ScimError>> {
    if member.resource_type != "Group" || !store::would_cycle(tx, group.seq, member.seq)? {
        return Ok(None);
    }
    Ok(Some(ScimError::invalid_value(format!(
        "members: adding group {} to group {} would make a group contain itself; nested groups must not form a cycle",
        member.id, group.id
    ))))
}

/// Members as rendered in a Group (RFC 7643 §4.2).
pub fn list(conn: &Conn, group_seq: i64, base_url: &str) -> Result<Vec<Value>> {
    Ok(store::list(conn, group_seq)?
        .into_iter()
        .map(|m| {
            let endpoint = if m.resource_type == "Group" { "Groups" } else { "Users" };
            let mut v = json!({"value": m.id, "$ref": format!("{base_url}/{endpoint}/{}", m.id), "type": m.resource_type});
            if let (Some(d), Some(o)) = (m.display, v.as_object_mut()) {
                o.insert("display".into(), json!(d));
            }
            v
        })
        .collect())
}

/// Groups of a user as rendered in its read-only `groups` attribute (RFC 7643 §4.1.2).
pub fn groups(conn: &Conn, member_seq: i64, base_url: &str) -> Result<Vec<Value>> {
    Ok(store::groups_of(conn, member_seq)?
        .into_iter()
        .map(|(g, direct)| group_value(g, direct, base_url))
        .collect())
}

fn group_value(g: store::Member, direct: bool, base_url: &str) -> Value {
    json!({"value": g.id, "$ref": format!("{base_url}/Groups/{}", g.id), "display": g.display,
           "type": if direct { "direct" } else { "indirect" }})
}

/// The relation rendered alongside a resource: a group's `members` or a user's `groups`.
pub fn relation_name(resource_type: &str) -> &'static str {
    if resource_type == "Group" {
        "members"
    } else {
        "groups"
    }
}

/// Loads the relation of each resource of a page, in its order (users' groups in one read).
pub fn related_each(
    conn: &Conn,
    resource_type: &str,
    seqs: &[i64],
    base_url: &str,
) -> Result<Vec<Vec<Value>>> {
    if resource_type == "Group" {
        return seqs.iter().map(|seq| list(conn, *seq, base_url)).collect();
    }
    Ok(store::groups_of_each(conn, seqs)?
        .into_iter()
        .map(|groups| {
            groups
                .into_iter()
                .map(|(g, direct)| group_value(g, direct, base_url))
                .collect()
        })
        .collect())
}

/// Loads the relation of one resource.
pub fn related(conn: &Conn, resource_type: &str, seq: i64, base_url: &str) -> Result<Vec<Value>> {
    if resource_type == "Group" {
        list(conn, seq, base_url)
    } else {
        groups(conn, seq, base_url)
    }
}
