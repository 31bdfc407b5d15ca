//! The PATCH engine (RFC 7644 §3.5.2): parses a `PatchOp` body and applies its `add`, `remove`
//! and `replace` operations, in order and all-or-nothing, to a copy of a stored document.
//! Values go through the same validation as POST, and the dialects real IdPs speak (Okta,
//! Entra ID, JumpCloud; see idp-requirements.md) are accepted where their meaning is clear.
//! Group membership is returned as a list of changes instead of being written into the document.

use std::collections::HashMap;

use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::error::{Result, ScimError};
use super::filter::{AttrPath, CompValue, CompareOp, Filter};
use super::path::{PatchPath, parse_path};
use super::quirks::{Quirk, Quirks, STRICT_FIX};
use super::resource::{
    Document, WriteLimits, check_multi_values, json_kind, too_many_values, validate_value,
};
use super::schema::{self, AttrDef, AttrType, Mutability, ResourceType, SchemaDef};

/// The message schema every PATCH body declares (RFC 7644 §3.5.2).
pub const PATCH_OP_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// Deepest filter tree the element matcher recurses into. The parser bounds brackets and
/// parentheses, and `and`/`or` chains (one level per term) by its limit on terms, which keeps
/// those well under this bound; it stays as a backstop.
const MAX_FILTER_DEPTH: usize = 2_000;

/// The kind of a PATCH operation (RFC 7644 §3.5.2.1–3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    /// `add` (§3.5.2.1): append to lists, merge into complex attributes, set simple ones.
    Add,
    /// `remove` (§3.5.2.2): needs a path; removing something absent succeeds.
    Remove,
    /// `replace` (§3.5.2.3): acts as add when the target is absent.
    Replace,
}

impl OpKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Add => "add",
            Self::Remove => "remove",
            Self::Replace => "replace",
        }
    }
}

/// One parsed operation of a PatchOp request.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOperation {
    /// The operation, from `op` matched case-insensitively.
    pub op: OpKind,
    /// `None` when the operation has no `path` (allowed for add and replace).
    pub path: Option<PatchPath>,
    /// The `value` member as sent; `None` when absent.
    pub value: Option<Value>,
}

/// A member of a group as named in a PATCH value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRef {
    /// The member's resource id.
    pub value: String,
    /// `"User"` or `"Group"` as sent in `type` (canonical spelling), `None` if absent.
    pub kind: Option<String>,
}

/// Membership changes for resource types whose `members` live outside the document (Group):
/// they are returned in order instead of being applied to the doc, so a 50,000-member group is
/// never rewritten as one JSON array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberChange {
    /// Add these members; adding an existing member is a no-op (S20).
    Add(Vec<MemberRef>),
    /// Remove the members with these ids; ids that are not members are ignored (S20).
    Remove(Vec<String>),
    /// Remove every member.
    RemoveAll,
    /// Make the membership exactly this set (S21).
    Replace(Vec<MemberRef>),
}

/// The result of a successful PATCH.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOutcome {
    /// The patched document.
    pub doc: Document,
    /// A new cleartext password (S14); the caller hashes it. Never stored in `doc`.
    pub password: Option<String>,
    /// Group membership changes, in request order.
    pub member_changes: Vec<MemberChange>,
}

// --- Parsing ---------------------------------------------------------------------------------

/// Parses a PatchOp body (RFC 7644 §3.5.2): `schemas` must contain
/// `urn:ietf:params:scim:api:messages:2.0:PatchOp` when present (missing `schemas` is tolerated;
/// another URN → 400 invalidValue naming it), `Operations` (key matched case-insensitively) a
/// non-empty array; each op's `op` matched case-insensitively (Entra sends "Replace"); unknown
/// op → 400 invalidValue listing add/remove/replace; bad path → 400 invalidPath with the parser's
/// position message; add/replace without value → 400 invalidValue; remove without path → 400
/// noTarget; more operations than `limits.max_patch_operations` → 413, checked before any
/// operation is parsed.
/// The IdP dialects it reads are noted in `quirks`.
pub fn parse_patch(
    body: &Value,
    limits: &WriteLimits,
    quirks: &mut Quirks,
) -> Result<Vec<PatchOperation>> {
    let Value::Object(body) = body else {
        return Err(ScimError::invalid_syntax(format!(
            "the PATCH body must be a JSON object with \"schemas\": [\"{PATCH_OP_URN}\"] and \"Operations\", not {}",
            json_kind(body)
        )));
    };
    match get_ci(body, "schemas") {
        Some(schemas) => {
            if schemas.is_string() {
                quirks.note(Quirk::SchemasAsString);
            }
            check_patch_schemas(schemas)?;
        }
        None => quirks.note(Quirk::PatchWithoutSchemas),
    }
    let ops = match get_ci(body, "Operations") {
        Some(Value::Array(ops)) => ops,
        Some(other) => {
            return Err(ScimError::invalid_syntax(format!(
                "\"Operations\" must be an array of operations, but the request sent {}",
                json_kind(other)
            )));
        }
        None => {
            return Err(ScimError::invalid_syntax(
                "the PATCH body has no \"Operations\" array; send {\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"],\"Operations\":[{\"op\":\"replace\",\"path\":…,\"value\":…}]}",
            ));
        }
    };
    if ops.is_empty() {
        return Err(ScimError::invalid_value(
            "\"Operations\" is empty; a PATCH request needs at least one operation",
        ));
    }
    if ops.len() > limits.max_patch_operations {
        // 413, as RFC 7644 §3.7.4 answers a Bulk request over maxOperations: the request as a
        // whole is too large and the same changes sent in smaller requests would succeed.
        // (scimType tooMany is defined for filters whose results are too many, §3.12.)
        return Err(ScimError::new(
            413,
            format!(
                "the PATCH request has {} operations; this server applies at most {} per request (limits.max_patch_operations). Send the changes in several requests, or ask the administrator to raise limits.max_patch_operations in scimd.toml",
                ops.len(),
                limits.max_patch_operations
            ),
        ));
    }
    ops.iter()
        .enumerate()
        .map(|(i, op)| parse_operation(i, op, quirks))
        .collect()
}

fn check_patch_schemas(schemas: &Value) -> Result<()> {
    let urns: Vec<&Value> = match schemas {
        Value::Array(a) => a.iter().collect(),
        Value::String(_) => vec![schemas],
        other => {
            return Err(ScimError::invalid_value(format!(
                "\"schemas\" must be [\"{PATCH_OP_URN}\"], but the request sent {}",
                json_kind(other)
            )));
        }
    };
    let mut has_patch_op = false;
    for urn in urns {
        match urn.as_str() {
            Some(u) if u.eq_ignore_ascii_case(PATCH_OP_URN) => has_patch_op = true,
            Some(u) => {
                return Err(ScimError::invalid_value(format!(
                    "\"schemas\" lists \"{}\", which is not a PATCH message schema; send [\"{PATCH_OP_URN}\"]",
                    snippet(u)
                )));
            }
            None => {
                return Err(ScimError::invalid_value(format!(
                    "\"schemas\" must hold URN strings, but it contains {}",
                    json_kind(urn)
                )));
            }
        }
    }
    if !has_patch_op {
        return Err(ScimError::invalid_value(format!(
            "\"schemas\" must contain \"{PATCH_OP_URN}\""
        )));
    }
    Ok(())
}

fn parse_operation(i: usize, op: &Value, quirks: &mut Quirks) -> Result<PatchOperation> {
    let Value::Object(op) = op else {
        return Err(ScimError::invalid_syntax(format!(
            "Operations[{i}] must be an object with \"op\", \"path\" and \"value\", but the request sent {}",
            json_kind(op)
        )));
    };
    let kind = match get_ci(op, "op") {
        Some(Value::String(s)) if s.eq_ignore_ascii_case("add") => OpKind::Add,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("remove") => OpKind::Remove,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("replace") => OpKind::Replace,
        Some(Value::String(s)) => {
            return Err(ScimError::invalid_value(format!(
                "Operations[{i}].op is \"{}\"; it must be one of add, remove, replace",
                snippet(s)
            )));
        }
        Some(other) => {
            return Err(ScimError::invalid_value(format!(
                "Operations[{i}].op must be one of \"add\", \"remove\", \"replace\", but the request sent {}",
                json_kind(other)
            )));
        }
        None => {
            return Err(ScimError::invalid_value(format!(
                "Operations[{i}] has no \"op\"; it must be one of add, remove, replace"
            )));
        }
    };
    if get_ci(op, "op").and_then(Value::as_str) != Some(kind.as_str()) {
        quirks.note(Quirk::CapitalisedOp);
    }
    let path = match get_ci(op, "path") {
        // Some clients send `"path": null` or `""` for a path-less operation.
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(parse_path(s).map_err(|e| {
            ScimError::invalid_path(format!(
                "Operations[{i}].path \"{}\" is not a valid attribute path: {e}",
                snippet(s)
            ))
        })?),
        Some(other) => {
            return Err(ScimError::invalid_path(format!(
                "Operations[{i}].path must be a string such as \"emails[type eq \\\"work\\\"].value\", but the request sent {}",
                json_kind(other)
            )));
        }
    };
    let value = get_ci(op, "value").cloned();
    match kind {
        _ if path.is_none() && quirks.is_profile() => Err(ScimError::invalid_syntax(format!(
            "Operations[{i}] ({}) has no \"path\"; this tenant follows the SCIM Interoperability Profile (tenant setting interop_profile), which takes only operations with a path (§6.5.1.1). Send one operation per attribute, e.g. {{\"op\":\"replace\",\"path\":\"active\",\"value\":false}}",
            kind.as_str()
        ))),
        OpKind::Add | OpKind::Replace if value.is_none() => Err(ScimError::invalid_value(format!(
            "Operations[{i}] ({}) has no \"value\"; add and replace need the value to write",
            kind.as_str()
        ))),
        OpKind::Remove if path.is_none() => Err(ScimError::no_target(format!(
            "Operations[{i}] (remove) has no \"path\"; say which attribute to remove, e.g. \"path\": \"members[value eq \\\"<id>\\\"]\""
        ))),
        _ => {
            if path.is_none() {
                quirks.note(Quirk::PathlessPatch);
            }
            Ok(PatchOperation {
                op: kind,
                path,
                value,
            })
        }
    }
}

/// A JSON member looked up case-insensitively (RFC 7643 §2.1).
fn get_ci<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// Client text quoted back in a detail, cut short so a huge value cannot bloat the response.
fn snippet(s: &str) -> String {
    const MAX: usize = 64;
    if s.chars().count() <= MAX {
        s.to_owned()
    } else {
        let head: String = s.chars().take(MAX).collect();
        format!("{head}…")
    }
}

// --- What an operation writes to (for redaction) -------------------------------------------

/// How the engine reads an operation's target, so that the request log withholds exactly the
/// values the engine would treat as secret (`scim::redact` asks; one source of truth).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writes {
    /// For some resource type the target is an attribute never returned (`password`).
    Secret,
    /// For every resource type where it resolves, the target is an attribute that is shown.
    Shown,
    /// The target resolves for no resource type: the request is refused, but what it carries
    /// is not known to be harmless.
    Unknown,
}

/// How the engine reads `target`: an operation's `path`, or a key of a path-less operation's
/// value (both go through [`parse_path`] and the same resolution as [`apply_patch`]).
pub fn classify_target(target: &str) -> Writes {
    if target.eq_ignore_ascii_case("schemas") {
        // A path-less value's `schemas` is skipped by the engine.
        return Writes::Shown;
    }
    let Ok(path) = parse_path(target) else {
        return Writes::Unknown;
    };
    let mut verdict = Writes::Unknown;
    for rt in schema::ALL_RESOURCE_TYPES {
        match resolve(rt, &path) {
            Ok(Target::Attr(t))
                if t.def.returned == schema::Returned::Never
                    || t.sub.is_some_and(|s| s.returned == schema::Returned::Never) =>
            {
                return Writes::Secret;
            }
            Ok(Target::Undeclared { .. }) | Err(_) => {}
            Ok(_) => verdict = Writes::Shown,
        }
    }
    verdict
}

// --- Applying --------------------------------------------------------------------------------

/// Applies the operations in order to one working copy of `doc`; all or nothing (any error →
/// Err, the copy is dropped and the caller keeps the original). `resource_id` is the id of the
/// patched resource: Okta repeats it inside path-less values (S19).
///
/// The cost is linear in the operations and the document: no operation copies the document,
/// `attr[sub eq "x"]` finds its elements through an index kept across operations, and a
/// multi-valued attribute never grows past `limits.max_multi_values`.
///
/// An operation whose path names an attribute no schema defines is skipped and the name noted
/// in `quirks`, or refused when `quirks` is strict; so is such a key of a path-less value.
pub fn apply_patch(
    rt: &ResourceType,
    resource_id: &str,
    doc: &Document,
    ops: &[PatchOperation],
    limits: &WriteLimits,
    quirks: &mut Quirks,
) -> Result<PatchOutcome> {
    let mut st = State {
        rt,
        resource_id,
        doc: doc.clone(),
        password: None,
        member_changes: Vec::new(),
        limits: *limits,
        index: IndexSlot::default(),
        quirks: quirks.same_policy(),
    };
    for (i, op) in ops.iter().enumerate() {
        // Only an operation that writes `primary` can make a second element primary, so only
        // it needs a snapshot of the primaries before it; and not even it when it moves the
        // flag through the index, which knows the list's one primary (see `move_primary`).
        let fast = primary_through_index(rt, op, &st.index);
        let before = (!fast && may_set_primary(op)).then(|| primaries(rt, &st.doc));
        st.index.dirty = false;
        st.index.fast_primary = fast;
        st.apply(op).map_err(|mut e| {
            e.detail = format!("Operations[{i}] ({}): {}", op.op.as_str(), e.detail);
            e
        })?;
        if st.index.dirty {
            st.index.index = None;
        }
        if let Some(before) = before {
            normalise_primary(rt, &mut st.doc, &before);
            // Primaries moved by the general rule: the index reads them again (no allocation).
            if let Some(index) = st.index.index.as_mut() {
                index.primaries = indexed_list(&st.doc, index).map_or_else(Vec::new, |l| {
                    (0..l.len())
                        .filter(|i| l.get(*i).is_some_and(is_primary))
                        .collect()
                });
            }
        }
    }
    check_multi_values(rt, &st.doc, Some(doc), limits)?;
    for def in rt.schema.attributes.iter().filter(|a| a.required) {
        if doc.contains_key(&*def.name) && !st.doc.contains_key(&*def.name) {
            return Err(ScimError::invalid_value(format!(
                "{} is required for a {} and cannot be removed or set to an empty value",
                def.name, rt.name
            )));
        }
    }
    quirks.merge(&st.quirks);
    Ok(PatchOutcome {
        doc: st.doc,
        password: st.password,
        member_changes: st.member_changes,
    })
}

struct State<'a> {
    rt: &'a ResourceType,
    resource_id: &'a str,
    doc: Document,
    password: Option<String>,
    member_changes: Vec<MemberChange>,
    limits: WriteLimits,
    index: IndexSlot,
    /// What this PATCH's operations noticed; handed to the caller's collector on success.
    quirks: Quirks,
}

/// Positions of the elements of one multi-valued attribute by the (folded) string value of one
/// sub-attribute, so that `emails[value eq "x"]` repeated over many operations finds its
/// element without scanning the list each time.
struct EqIndex {
    ext: Option<String>,
    attr: String,
    sub: String,
    positions: HashMap<String, Vec<usize>>,
    /// Positions of the elements marked primary, kept by operations that move the flag
    /// through this index (see `move_primary`).
    primaries: Vec<usize>,
}

impl EqIndex {
    /// Whether this indexes the list an `attr[sub eq "…"]` path on `def` selects from.
    fn serves(&self, ext: Option<&str>, def: &AttrDef, sub: &AttrDef) -> bool {
        self.ext.as_deref() == ext && self.attr == def.name && self.sub == sub.name
    }
}

/// The index (if built) and whether the current operation changed the document in a way it
/// does not track: then it is dropped after the operation and rebuilt when next needed.
#[derive(Default)]
struct IndexSlot {
    index: Option<EqIndex>,
    dirty: bool,
    /// The current operation sets `primary` on elements the index selects, and the index knows
    /// the list's one primary: `apply_filtered` moves the flag itself.
    fast_primary: bool,
}

/// The list an index was built on, as it is in `doc` now.
fn indexed_list<'d>(doc: &'d Document, index: &EqIndex) -> Option<&'d Vec<Value>> {
    let block = match &index.ext {
        None => doc,
        Some(ext) => doc.get(ext)?.as_object()?,
    };
    block.get(&index.attr)?.as_array()
}

/// Whether `op` is `replace attr[sub eq "…"].primary` on the list the kept index serves, with
/// at most one primary in it: then moving the flag costs the selected elements, not a scan.
fn primary_through_index(rt: &ResourceType, op: &PatchOperation, slot: &IndexSlot) -> bool {
    let (Some(index), Some(path), OpKind::Add | OpKind::Replace) = (&slot.index, &op.path, op.op)
    else {
        return false;
    };
    let Ok(Target::Attr(t)) = resolve(rt, path) else {
        return false;
    };
    let (Some(filter), Some(sub)) = (t.filter, t.sub) else {
        return false;
    };
    sub.name == "primary"
        && index.primaries.len() <= 1
        && eq_key(t.def, filter)
            .is_some_and(|(key_sub, _)| index.serves(t.ext.map(|e| &*e.id), t.def, key_sub))
}

/// What a path resolves to in the resource type's schemas.
enum Target<'p> {
    /// A bare extension URN: the whole extension block.
    Extension(&'p SchemaDef),
    /// A Group's `members`, which live outside the document.
    Members {
        filter: Option<&'p Filter>,
        has_sub: bool,
    },
    Attr(AttrTarget<'p>),
    /// `schemas` (RFC 7643 §3): checked against the URNs the tenant serves for the type.
    Schemas,
    /// A name no schema of the resource type defines: skipped and noted, or refused with
    /// `refusal` when strict.
    Undeclared {
        name: String,
        refusal: String,
    },
}

struct AttrTarget<'p> {
    /// The extension holding the attribute, `None` for core and common attributes.
    ext: Option<&'p SchemaDef>,
    def: &'p AttrDef,
    filter: Option<&'p Filter>,
    sub: Option<&'p AttrDef>,
}

impl AttrTarget<'_> {
    /// The attribute as named in details and as the `path` given to `validate_value`.
    fn label(&self) -> String {
        let mut s = match self.ext {
            Some(e) => format!("{}:{}", e.id, self.def.name),
            None => self.def.name.to_string(),
        };
        if self.filter.is_some() {
            s.push_str("[…]");
        }
        if let Some(sub) = self.sub {
            s.push('.');
            s.push_str(&sub.name);
        }
        s
    }
}

impl State<'_> {
    fn apply(&mut self, op: &PatchOperation) -> Result<()> {
        match &op.path {
            Some(path) => {
                let target = resolve(self.rt, path)?;
                self.note_unqualified(path, &target);
                self.apply_target(op.op, &target, op.value.as_ref())
            }
            None => self.apply_pathless(op.op, op.value.as_ref()),
        }
    }

    /// RFC 7644 §3.5.2.1/3: without a path the value is an object of attribute → value. Entra
    /// writes the keys as paths (`name.givenName`, full-URN extension attributes, S52).
    fn apply_pathless(&mut self, kind: OpKind, value: Option<&Value>) -> Result<()> {
        let Some(Value::Object(entries)) = value else {
            return Err(ScimError::invalid_value(format!(
                "without a \"path\", \"value\" must be an object of attribute names and values, but the request sent {}",
                value.map_or("nothing", json_kind)
            )));
        };
        for (key, v) in entries {
            if key.eq_ignore_ascii_case("schemas") {
                // Some clients echo the resource's schemas; they say nothing to apply.
                continue;
            }
            if key.eq_ignore_ascii_case("id") {
                // Okta's group rename repeats the group's own id (S19); anything else would be
                // an attempt to change a readOnly attribute.
                if v.as_str() == Some(self.resource_id) {
                    self.quirks.note(Quirk::OwnIdInPatchValue);
                    continue;
                }
                return Err(ScimError::mutability(
                    "id is readOnly and cannot be changed; the value's \"id\" differs from the resource's id",
                ));
            }
            if let Some(ext) = self.rt.extension(key) {
                self.apply_target(kind, &Target::Extension(ext), Some(v))?;
                continue;
            }
            let path = parse_path(key).map_err(|e| {
                ScimError::invalid_path(format!(
                    "the value's key \"{}\" is not a valid attribute path: {e}",
                    snippet(key)
                ))
            })?;
            if path.filter.is_some()
                || path.sub_attr.is_some()
                || path.attr.sub_attr.is_some()
                || path.attr.urn.is_some()
            {
                self.quirks.note(Quirk::PathKeysInValue);
            }
            let target = resolve(self.rt, &path)?;
            self.note_unqualified(&path, &target);
            self.apply_target(kind, &target, Some(v))?;
        }
        Ok(())
    }

    /// Entra's older manager form uses the bare name "manager" (S57).
    fn note_unqualified(&mut self, path: &PatchPath, target: &Target<'_>) {
        if path.attr.urn.is_none()
            && let Target::Attr(t) = target
            && t.ext.is_some()
        {
            self.quirks.note(Quirk::UnqualifiedExtensionAttribute);
        }
    }

    fn apply_target(
        &mut self,
        kind: OpKind,
        target: &Target<'_>,
        value: Option<&Value>,
    ) -> Result<()> {
        match target {
            Target::Extension(ext) => self.apply_extension(kind, ext, value),
            Target::Members { filter, has_sub } => {
                self.apply_members(kind, *filter, *has_sub, value)
            }
            Target::Attr(t) => self.apply_attr(kind, t, value),
            Target::Schemas => check_schemas_patch(self.rt, kind, value, &mut self.quirks),
            Target::Undeclared { name, refusal } => {
                self.quirks.undeclared(name, || refusal.clone())
            }
        }
    }

    fn apply_extension(
        &mut self,
        kind: OpKind,
        ext: &SchemaDef,
        value: Option<&Value>,
    ) -> Result<()> {
        if kind == OpKind::Remove {
            self.index.dirty = true;
            self.doc.shift_remove(&*ext.id);
            return Ok(());
        }
        let entries = match value {
            Some(Value::Object(o)) => o,
            None | Some(Value::Null) => {
                if kind == OpKind::Replace {
                    self.index.dirty = true;
                    self.doc.shift_remove(&*ext.id);
                }
                return Ok(());
            }
            Some(other) => {
                return Err(ScimError::invalid_value(format!(
                    "{} must be an object of the extension's attributes, but the request sent {}",
                    ext.id,
                    json_kind(other)
                )));
            }
        };
        for (key, v) in entries {
            // A client that serialises the extension with its own resource model sends
            // `{"schemas":["<urn>"], …}` as the value (scim2-tester does): that member only
            // restates the path, so it is skipped rather than refused as an unknown attribute.
            if key == "schemas" && restates_urn(v, &ext.id) {
                continue;
            }
            let Some(def) = ext.attr(key) else {
                self.quirks.undeclared(&format!("{}:{key}", ext.id), || {
                    format!(
                        "{} has no attribute \"{}\"; it defines {}; {STRICT_FIX}",
                        ext.id,
                        snippet(key),
                        names(&ext.attributes)
                    )
                })?;
                continue;
            };
            let t = AttrTarget {
                ext: Some(ext),
                def,
                filter: None,
                sub: None,
            };
            self.apply_attr(kind, &t, Some(v))?;
        }
        Ok(())
    }

    fn apply_attr(
        &mut self,
        kind: OpKind,
        t: &AttrTarget<'_>,
        value: Option<&Value>,
    ) -> Result<()> {
        let label = t.label();
        if t.def.mutability == Mutability::WriteOnly && t.ext.is_none() && t.def.name == "password"
        {
            return self.apply_password(kind, t, value);
        }
        if t.def.is_read_only() {
            return Err(ScimError::mutability(format!(
                "{} is readOnly and cannot be changed with PATCH",
                t.def.name
            )));
        }
        if let Some(sub) = t.sub
            && sub.is_read_only()
        {
            return Err(ScimError::mutability(format!(
                "{label} is readOnly and cannot be changed with PATCH"
            )));
        }
        let mut cx = Cx {
            limits: &self.limits,
            index: &mut self.index,
            quirks: &mut self.quirks,
        };
        match t.ext {
            None => apply_in(&mut self.doc, &mut cx, kind, t, value, &label),
            Some(ext) => {
                let mut block = match self.doc.shift_remove(&*ext.id) {
                    Some(Value::Object(m)) => m,
                    _ => Map::new(),
                };
                let result = apply_in(&mut block, &mut cx, kind, t, value, &label);
                if !block.is_empty() {
                    self.doc.insert(ext.id.to_string(), Value::Object(block));
                }
                result
            }
        }
    }

    /// `password` is writeOnly: it goes to the caller for hashing, never into the doc (S14).
    fn apply_password(
        &mut self,
        kind: OpKind,
        t: &AttrTarget<'_>,
        value: Option<&Value>,
    ) -> Result<()> {
        if kind == OpKind::Remove {
            return Err(ScimError::mutability(
                "password cannot be removed; replace it with a new password instead",
            ));
        }
        if t.sub.is_some() || t.filter.is_some() {
            return Err(ScimError::invalid_path(
                "password is a simple attribute; use the path \"password\"",
            ));
        }
        self.quirks.check_password()?;
        let v = value.unwrap_or(&Value::Null);
        match validate_value(t.def, v, "password", &mut self.quirks)? {
            Some(Value::String(s)) => {
                self.password = Some(s);
                Ok(())
            }
            _ => Err(ScimError::invalid_value(
                "password must be a non-empty string",
            )),
        }
    }

    /// Group membership (rule: members of a Group never live in the document).
    fn apply_members(
        &mut self,
        kind: OpKind,
        filter: Option<&Filter>,
        has_sub: bool,
        value: Option<&Value>,
    ) -> Result<()> {
        if has_sub {
            return Err(ScimError::invalid_path(
                "members can only be patched as a whole: use the path \"members\" or \"members[value eq \\\"<id>\\\"]\"",
            ));
        }
        let change = match (kind, filter) {
            (OpKind::Remove, Some(f)) => match member_filter_ids(f) {
                Some(ids) => MemberChange::Remove(ids),
                None => {
                    return Err(ScimError::invalid_filter(format!(
                        "the filter \"{}\" on members is not supported; only value eq filters are supported on members, e.g. members[value eq \"<id>\"] or members[value eq \"<id1>\" or value eq \"<id2>\"]",
                        snippet(&f.to_string())
                    )));
                }
            },
            (_, Some(_)) => {
                return Err(ScimError::invalid_path(format!(
                    "{} on members takes the path \"members\" and a list of members as value; filters are only supported with remove",
                    kind.as_str()
                )));
            }
            // Entra (S65) and JumpCloud (S75) list the members to remove in `value`; treating
            // that as "remove all" would empty the group.
            (OpKind::Remove, None) => match value {
                None | Some(Value::Null) => MemberChange::RemoveAll,
                Some(v) => {
                    self.quirks.note(Quirk::RemoveMembersByValue);
                    let ids: Vec<String> = member_refs(v)?.into_iter().map(|m| m.value).collect();
                    if ids.is_empty() {
                        return Ok(());
                    }
                    MemberChange::Remove(ids)
                }
            },
            (OpKind::Add, None) => {
                let refs = member_refs(value.unwrap_or(&Value::Null))?;
                if refs.is_empty() {
                    return Ok(());
                }
                MemberChange::Add(refs)
            }
            (OpKind::Replace, None) => {
                MemberChange::Replace(member_refs(value.unwrap_or(&Value::Null))?)
            }
        };
        self.member_changes.push(change);
        Ok(())
    }
}

/// Maps a parsed path onto the resource type's schemas.
fn resolve<'p>(rt: &'p ResourceType, path: &'p PatchPath) -> Result<Target<'p>> {
    let attr = &path.attr;
    if attr.urn.is_none()
        && attr.name.eq_ignore_ascii_case("schemas")
        && attr.sub_attr.is_none()
        && path.filter.is_none()
        && path.sub_attr.is_none()
    {
        return Ok(Target::Schemas);
    }
    let (ext, def) = match &attr.urn {
        Some(urn) => {
            if let Some(schema) = rt.schema_by_urn(urn) {
                let is_core = schema.id == rt.schema.id;
                let def = if is_core {
                    core_attr(rt, &attr.name)
                } else {
                    schema.attr(&attr.name)
                };
                let Some(def) = def else {
                    return Ok(Target::Undeclared {
                        name: format!("{urn}:{}", attr.name),
                        refusal: format!(
                            "\"{}\" is not an attribute of {}; it defines {}; {STRICT_FIX}",
                            snippet(&attr.name),
                            schema.id,
                            names(&schema.attributes)
                        ),
                    });
                };
                ((!is_core).then_some(schema), def)
            } else if let Some(ext) = rt.extension(&format!("{urn}:{}", attr.name)) {
                // The parser splits a bare extension URN at its last ':'.
                if attr.sub_attr.is_some() || path.filter.is_some() || path.sub_attr.is_some() {
                    return Err(ScimError::invalid_path(format!(
                        "{} is a schema extension, not an attribute; write {}:<attribute>",
                        ext.id, ext.id
                    )));
                }
                return Ok(Target::Extension(ext));
            } else {
                let name = format!("{urn}:{}", attr.name);
                let refusal = unknown_urn(rt, &name);
                return Ok(Target::Undeclared { name, refusal });
            }
        }
        None => match core_attr(rt, &attr.name) {
            Some(def) => (None, def),
            // Entra's older manager form uses the bare name "manager" (S57), so an unqualified
            // name that only an extension defines resolves there.
            None => match rt
                .extensions
                .iter()
                .find_map(|e| e.attr(&attr.name).map(|d| (&**e, d)))
            {
                Some((e, d)) => (Some(e), d),
                None => {
                    return Ok(Target::Undeclared {
                        name: attr.name.clone(),
                        refusal: format!(
                            "\"{}\" is not an attribute of {}; it defines {}{}; {STRICT_FIX}",
                            snippet(&attr.name),
                            rt.name,
                            names(&rt.schema.attributes),
                            ext_hint(rt)
                        ),
                    });
                }
            },
        },
    };
    let sub_name = match (&attr.sub_attr, &path.sub_attr) {
        (Some(s), None) | (None, Some(s)) => Some(s),
        (None, None) => None,
        (Some(_), Some(_)) => {
            return Err(ScimError::invalid_path(
                "a path can name only one sub-attribute",
            ));
        }
    };
    if path.filter.is_some() && !(def.multi_valued && def.ty == AttrType::Complex) {
        return Err(ScimError::invalid_path(format!(
            "{} is not a multi-valued complex attribute, so it cannot take a [filter]",
            def.name
        )));
    }
    let sub = match sub_name {
        None => None,
        Some(name) => {
            if def.ty != AttrType::Complex {
                return Err(ScimError::invalid_path(format!(
                    "{} is a simple attribute and has no sub-attribute \"{}\"",
                    def.name,
                    snippet(name)
                )));
            }
            match def.sub(name) {
                Some(s) => Some(s),
                None => {
                    return Ok(Target::Undeclared {
                        name: format!("{}.{name}", def.name),
                        refusal: format!(
                            "{} has no sub-attribute \"{}\"; it takes {}; {STRICT_FIX}",
                            def.name,
                            snippet(name),
                            names(&def.sub_attributes)
                        ),
                    });
                }
            }
        }
    };
    if rt.name == "Group" && ext.is_none() && def.name == "members" {
        return Ok(Target::Members {
            filter: path.filter.as_ref(),
            has_sub: sub.is_some(),
        });
    }
    Ok(Target::Attr(AttrTarget {
        ext,
        def,
        filter: path.filter.as_ref(),
        sub,
    }))
}

/// `add`/`replace` on `schemas`: each URN must be the type's core schema or one of the
/// extensions the tenant serves for it (a tolerated foreign URN is noted, outside profile mode),
/// and a `replace` must keep the core schema. A resource's `schemas` is rendered from the
/// attributes it holds (RFC 7643 §3: the schemas "used to indicate the attributes contained"),
/// so a checked list changes nothing stored: an extension listed without attributes adds none,
/// and one left out keeps its attributes (remove them by their path).
fn check_schemas_patch(
    rt: &ResourceType,
    kind: OpKind,
    value: Option<&Value>,
    quirks: &mut Quirks,
) -> Result<()> {
    let supported = || {
        let mut all = vec![&*rt.schema.id];
        all.extend(rt.extensions.iter().map(|e| &*e.id));
        all.join(", ")
    };
    if kind == OpKind::Remove {
        return Err(ScimError::invalid_value(format!(
            "schemas cannot be removed: a {} always lists {}; remove an extension's attributes by their path (e.g. \"{}\") instead",
            rt.name,
            rt.schema.id,
            rt.extensions
                .first()
                .map_or("displayName".into(), |e| e.id.to_string())
        )));
    }
    let urns: Vec<&Value> = match value {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(v @ Value::String(_)) => {
            quirks.note(Quirk::SchemasAsString);
            vec![v]
        }
        other => {
            return Err(ScimError::invalid_value(format!(
                "schemas must be an array of schema URNs ({}), but the request sent {}",
                supported(),
                other.map_or("nothing", json_kind)
            )));
        }
    };
    let mut has_core = false;
    for urn in urns {
        let Some(urn) = urn.as_str() else {
            return Err(ScimError::invalid_value(format!(
                "schemas must hold URN strings, but it contains {}",
                json_kind(urn)
            )));
        };
        if rt.schema.id.eq_ignore_ascii_case(urn) {
            has_core = true;
            continue;
        }
        if rt.extension(urn).is_some() {
            continue;
        }
        if rt.tolerates_schema(urn) && !quirks.is_profile() {
            quirks.note(Quirk::ForeignSchemaUrn);
            continue;
        }
        let detail = format!(
            "schemas lists \"{}\", which this tenant does not serve for {}; the schemas it serves are {} (see /Schemas)",
            snippet(urn),
            rt.name,
            supported()
        );
        // The Interoperability Profile (§5.3) asks for invalidSyntax.
        return Err(if quirks.is_profile() {
            ScimError::invalid_syntax(detail)
        } else {
            ScimError::invalid_value(detail)
        });
    }
    if kind == OpKind::Replace && !has_core {
        return Err(ScimError::invalid_value(format!(
            "a replace of schemas must keep {}, the core schema of every {}",
            rt.schema.id, rt.name
        )));
    }
    Ok(())
}

/// A core-schema attribute or a common one (`id`, `externalId`, `meta`).
fn core_attr<'a>(rt: &'a ResourceType, name: &str) -> Option<&'a AttrDef> {
    rt.schema
        .attr(name)
        .or_else(|| schema::find(&schema::COMMON_ATTRIBUTES, name))
}

fn names(attrs: &[AttrDef]) -> String {
    attrs
        .iter()
        .map(|a| &*a.name)
        .collect::<Vec<_>>()
        .join(", ")
}

fn ext_hint(rt: &ResourceType) -> String {
    if rt.extensions.is_empty() {
        String::new()
    } else {
        let ids: Vec<&str> = rt.extensions.iter().map(|e| &*e.id).collect();
        format!(
            " (extension attributes are written as <urn>:<attribute> for {})",
            ids.join(", ")
        )
    }
}

/// `path` is the URN-qualified text as written, e.g. `urn:example:custom:1.0:User:badge`.
fn unknown_urn(rt: &ResourceType, path: &str) -> String {
    let mut known = vec![&*rt.schema.id];
    known.extend(rt.extensions.iter().map(|e| &*e.id));
    format!(
        "\"{}\" does not start with a schema URN this server supports for {}; the schemas and extensions it supports are {}; {STRICT_FIX}",
        snippet(path),
        rt.name,
        known.join(", ")
    )
}

/// What applying one operation needs beside the map it changes.
struct Cx<'a> {
    limits: &'a WriteLimits,
    index: &'a mut IndexSlot,
    quirks: &'a mut Quirks,
}

/// Applies one operation to the map that holds the attribute (the doc, or an extension block).
fn apply_in(
    map: &mut Map<String, Value>,
    cx: &mut Cx<'_>,
    kind: OpKind,
    t: &AttrTarget<'_>,
    value: Option<&Value>,
    label: &str,
) -> Result<()> {
    let ext = t.ext.map(|e| &*e.id);
    match (t.filter, t.sub) {
        (Some(filter), sub) => {
            let f = Filtered {
                ext,
                def: t.def,
                filter,
                sub,
            };
            apply_filtered(map, cx, kind, &f, value, label)
        }
        (None, sub) => {
            cx.index.dirty = true;
            match sub {
                None => apply_whole(map, cx, kind, t.def, value, label),
                Some(sub) if !t.def.multi_valued => {
                    apply_single_sub(map, cx.quirks, kind, t.def, sub, value, label)
                }
                Some(sub) => apply_each_sub(map, cx.quirks, kind, t.def, sub, value, label),
            }
        }
    }
}

/// An operation on a whole attribute (no filter, no sub-attribute).
fn apply_whole(
    map: &mut Map<String, Value>,
    cx: &mut Cx<'_>,
    kind: OpKind,
    def: &AttrDef,
    value: Option<&Value>,
    label: &str,
) -> Result<()> {
    let name = &*def.name;
    if kind == OpKind::Remove {
        if def.multi_valued
            && let Some(listed) = value.filter(|v| !v.is_null())
        {
            // Entra (S65) and JumpCloud (S75) name the elements to remove in `value` instead of
            // a filter; only those go.
            cx.quirks.note(Quirk::RemoveMembersByValue);
            let Some(Value::Array(listed)) = validate_value(def, listed, label, cx.quirks)? else {
                return Ok(());
            };
            if let Some(Value::Array(items)) = map.get_mut(name) {
                items.retain(|item| !listed.iter().any(|l| same_element(def, item, l)));
                if items.is_empty() {
                    map.shift_remove(name);
                }
            }
            return Ok(());
        }
        check_immutable(def, map.get(name), None, label)?;
        map.shift_remove(name);
        return Ok(());
    }
    let value = single_from_array(def, value.unwrap_or(&Value::Null), label, cx.quirks)?;
    let Some(new) = validate_value(def, value, label, cx.quirks)? else {
        // Adding nothing to a list changes nothing; otherwise an unassigned value clears the
        // attribute (Entra clears the manager with "", S57).
        if !(def.multi_valued && kind == OpKind::Add) {
            check_immutable(def, map.get(name), None, label)?;
            map.shift_remove(name);
        }
        return Ok(());
    };
    let merged = match (def.multi_valued, kind, new) {
        (true, OpKind::Add, Value::Array(items)) => {
            // The list is moved out, not copied: an immutable one must stay for the check below
            // (a failed PATCH drops the whole working copy, so nothing else needs it back).
            let mut list = match map.get_mut(name) {
                Some(Value::Array(existing)) if def.mutability != Mutability::Immutable => {
                    std::mem::take(existing)
                }
                Some(Value::Array(existing)) => existing.clone(),
                _ => Vec::new(),
            };
            add_elements(def, &mut list, items, cx.limits, label)?;
            Value::Array(list)
        }
        // The Interoperability Profile (§6.5.2.1(3)): `replace` of a whole singular complex
        // attribute replaces it; RFC 7644 §3.5.2.3 (the default) merges.
        (false, OpKind::Replace, Value::Object(new)) if cx.quirks.is_profile() => {
            Value::Object(new)
        }
        (false, _, Value::Object(new)) => merge_single(def, map.get(name), new),
        (_, _, new) => new,
    };
    check_immutable(def, map.get(name), Some(&merged), label)?;
    map.insert(name.to_owned(), merged);
    Ok(())
}

/// Entra's older manager form wraps a single-valued complex value in a one-element array (S57:
/// `"value":[{"$ref":…,"value":"<mgr>"}]`); its meaning is unambiguous, so unwrap it.
fn single_from_array<'v>(
    def: &AttrDef,
    value: &'v Value,
    label: &str,
    quirks: &mut Quirks,
) -> Result<&'v Value> {
    match value {
        Value::Array(items) if !def.multi_valued => match items.as_slice() {
            [] => Ok(&Value::Null),
            [one] => {
                quirks.note(Quirk::ArrayForSingleValue);
                Ok(one)
            }
            _ => Err(ScimError::invalid_value(format!(
                "{label} is single-valued, but the request sent {} values",
                items.len()
            ))),
        },
        _ => Ok(value),
    }
}

/// The validated value for a sub-attribute target; `None` means unassigned.
fn sub_value(
    sub: &AttrDef,
    value: Option<&Value>,
    label: &str,
    quirks: &mut Quirks,
) -> Result<Option<Value>> {
    let v = single_from_array(sub, value.unwrap_or(&Value::Null), label, quirks)?;
    validate_value(sub, v, label, quirks)
}

/// RFC 7644 §3.5.2.3: a complex value replaces the sub-attributes it names and keeps the rest.
/// When the value's `value` (the referent's id, e.g. a new manager) changes, the kept
/// sub-attributes would describe the old referent, so the new value replaces the whole thing.
fn merge_single(def: &AttrDef, old: Option<&Value>, new: Map<String, Value>) -> Value {
    match old {
        Some(Value::Object(old)) => {
            if def.sub("value").is_some()
                && new.contains_key("value")
                && !same_value(def, old.get("value"), new.get("value"))
            {
                return Value::Object(new);
            }
            let mut out = old.clone();
            for (k, v) in new {
                out.insert(k, v);
            }
            Value::Object(out)
        }
        _ => Value::Object(new),
    }
}

/// Appends elements to a multi-valued attribute, stopping with an error as soon as it would
/// hold more than `limits.max_multi_values`. Many elements at once are matched against the list
/// through a map of their `value`s, so adding n elements to m costs n + m, not n × m.
fn add_elements(
    def: &AttrDef,
    list: &mut Vec<Value>,
    items: Vec<Value>,
    limits: &WriteLimits,
    label: &str,
) -> Result<()> {
    const SCAN_BELOW: usize = 8;
    let mut by_value: Option<HashMap<String, Vec<usize>>> = None;
    if items.len() >= SCAN_BELOW && def.sub("value").is_some() {
        let mut m: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, e) in list.iter().enumerate() {
            if let Some(key) = value_key(def, e.get("value")) {
                m.entry(key).or_default().push(i);
            }
        }
        by_value = Some(m);
    }
    for item in items {
        let key = by_value
            .as_ref()
            .and_then(|_| value_key(def, item.get("value")));
        match (&mut by_value, key) {
            (Some(m), Some(key)) => {
                let same = m.get(&key).map(Vec::as_slice).unwrap_or_default();
                if same.iter().any(|i| list.get(*i) == Some(&item)) {
                    continue;
                }
                if let Some(&first) = same.first() {
                    merge_into(list.get_mut(first), &item);
                    continue;
                }
                m.entry(key).or_default().push(list.len());
                list.push(item);
            }
            _ => add_element(def, list, item),
        }
        if list.len() > limits.max_multi_values {
            return Err(too_many_values(label, list.len(), limits));
        }
    }
    Ok(())
}

/// The key under which `value` sub-attributes compare equal (per caseExact); `None` for an
/// absent or non-string value, which `same_value` compares by equality instead.
fn value_key(def: &AttrDef, v: Option<&Value>) -> Option<String> {
    let s = v?.as_str()?;
    Some(if def.sub("value").is_some_and(|s| s.case_exact) {
        s.to_owned()
    } else {
        s.to_lowercase()
    })
}

fn merge_into(existing: Option<&mut Value>, new: &Value) {
    if let (Some(Value::Object(existing)), Value::Object(new)) = (existing, new) {
        for (k, v) in new {
            existing.insert(k.clone(), v.clone());
        }
    }
}

/// Appends one element to a multi-valued attribute unless it is already there: an identical
/// element is skipped, one with the same `value` (per caseExact) is merged into the existing one.
fn add_element(def: &AttrDef, list: &mut Vec<Value>, item: Value) {
    if list.contains(&item) {
        return;
    }
    if def.sub("value").is_some()
        && let Value::Object(new) = &item
        && new.contains_key("value")
        && let Some(existing) = list
            .iter_mut()
            .find(|e| same_value(def, e.get("value"), new.get("value")))
    {
        merge_into(Some(existing), &item);
        return;
    }
    list.push(item);
}

/// Whether `item` is the element `listed` names: same `value` when it has one, else equal.
fn same_element(def: &AttrDef, item: &Value, listed: &Value) -> bool {
    match listed.get("value") {
        Some(v) if def.sub("value").is_some() => same_value(def, item.get("value"), Some(v)),
        _ => item == listed,
    }
}

/// Compares two `value` sub-attributes per the sub-attribute's caseExact.
fn same_value(def: &AttrDef, a: Option<&Value>, b: Option<&Value>) -> bool {
    match (a, b) {
        (Some(Value::String(a)), Some(Value::String(b))) => {
            if def.sub("value").is_some_and(|s| s.case_exact) {
                a == b
            } else {
                fold_cmp(a, b) == std::cmp::Ordering::Equal
            }
        }
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// immutable (RFC 7643 §7): may be set while unassigned, never changed afterwards.
fn check_immutable(
    def: &AttrDef,
    old: Option<&Value>,
    new: Option<&Value>,
    label: &str,
) -> Result<()> {
    if def.mutability == Mutability::Immutable
        && let Some(old) = old
        && Some(old) != new
    {
        return Err(ScimError::mutability(format!(
            "{label} is immutable: it can be set once but not changed or removed"
        )));
    }
    Ok(())
}

/// A sub-attribute of a single-valued complex attribute (`name.givenName`, `manager.value`).
fn apply_single_sub(
    map: &mut Map<String, Value>,
    quirks: &mut Quirks,
    kind: OpKind,
    def: &AttrDef,
    sub: &AttrDef,
    value: Option<&Value>,
    label: &str,
) -> Result<()> {
    let new = match kind {
        OpKind::Remove => None,
        OpKind::Add | OpKind::Replace => sub_value(sub, value, label, quirks)?,
    };
    let old = map.get(&*def.name).and_then(|o| o.get(&*sub.name));
    check_immutable(sub, old, new.as_ref(), label)?;
    match new {
        None => {
            if let Some(Value::Object(o)) = map.get_mut(&*def.name) {
                o.shift_remove(&*sub.name);
                if o.is_empty() {
                    map.shift_remove(&*def.name);
                }
            }
        }
        Some(v) => {
            let slot = map
                .entry(def.name.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(o) = slot {
                o.insert(sub.name.to_string(), v);
            } else {
                *slot = Value::Object(Map::from_iter([(sub.name.to_string(), v)]));
            }
        }
    }
    Ok(())
}

/// A sub-attribute of every element of a multi-valued attribute (`emails.type`).
fn apply_each_sub(
    map: &mut Map<String, Value>,
    quirks: &mut Quirks,
    kind: OpKind,
    def: &AttrDef,
    sub: &AttrDef,
    value: Option<&Value>,
    label: &str,
) -> Result<()> {
    let new = match kind {
        OpKind::Remove => None,
        OpKind::Add | OpKind::Replace => sub_value(sub, value, label, quirks)?,
    };
    if new.is_none() && kind == OpKind::Add {
        // Adding nothing must not strip a sub-attribute from every element.
        return Ok(());
    }
    let mut list = take_list(map, &def.name);
    if list.is_empty() {
        if let Some(v) = new {
            list.push(Value::Object(Map::from_iter([(sub.name.to_string(), v)])));
        }
    } else {
        for item in &mut list {
            set_sub(item, sub, new.clone());
        }
    }
    put_list(map, def, list);
    Ok(())
}

/// A filtered target: `attr[filter]` or `attr[filter].sub`, in the core schema or an extension.
struct Filtered<'f> {
    ext: Option<&'f str>,
    def: &'f AttrDef,
    filter: &'f Filter,
    sub: Option<&'f AttrDef>,
}

/// An operation on the elements of a multi-valued attribute a value filter selects
/// (`emails[type eq "work"]`, `emails[type eq "work"].value`).
fn apply_filtered(
    map: &mut Map<String, Value>,
    cx: &mut Cx<'_>,
    kind: OpKind,
    f: &Filtered<'_>,
    value: Option<&Value>,
    label: &str,
) -> Result<()> {
    let (def, filter, sub) = (f.def, f.filter, f.sub);
    check_filter(def, filter, cx.quirks)?;
    let mut list = take_list(map, &def.name);
    // Positions of the selected elements, ascending; the work below is per selected element
    // (except where elements are removed), so an indexed operation does not walk the list.
    let hits = select(cx.index, f, &list);
    let any = !hits.is_empty();
    let len = list.len();
    // The index stays right only when the selected elements keep their place and the indexed
    // sub-attribute: setting another sub-attribute on elements that exist.
    let keeps_index = |new: Option<&Value>| {
        matches!((kind, sub), (OpKind::Add | OpKind::Replace, Some(s))
            if any && new.is_some() && cx.index.index.as_ref().is_none_or(|i| i.sub != s.name))
    };
    let mut keep = false;
    match (kind, sub) {
        (OpKind::Remove, None) => remove_at(&mut list, &hits),
        (OpKind::Remove, Some(sub)) => {
            for item in at(&mut list, &hits) {
                set_sub(item, sub, None);
            }
        }
        (OpKind::Add | OpKind::Replace, Some(sub)) => {
            let new = sub_value(sub, value, label, cx.quirks)?;
            keep = keeps_index(new.as_ref());
            if any {
                for item in at(&mut list, &hits) {
                    set_sub(item, sub, new.clone());
                }
                if cx.index.fast_primary && keep {
                    move_primary(cx.index, &mut list, &hits);
                }
            } else if let Some(v) = new {
                let mut elem = element_from_filter(def, filter, label)?;
                elem.insert(sub.name.to_string(), v);
                push_created(def, &mut list, elem, label, cx.quirks)?;
                if cx.index.fast_primary
                    && list.last().is_some_and(is_primary)
                    && let Some(old) = cx.index.index.as_ref().and_then(|i| i.primaries.first())
                    && Some(old + 1) != Some(list.len())
                    && let Some(Value::Object(o)) = list.get_mut(*old)
                {
                    // The created element is the newly primary one (see `move_primary`); the
                    // index is rebuilt after this operation, which moved no position.
                    o.shift_remove("primary");
                }
            }
        }
        (OpKind::Add | OpKind::Replace, None) => {
            // One element is the value of a filtered target, not a lone value where a list
            // belongs: it is validated as a list of one.
            let one;
            let value = match value {
                Some(v @ (Value::Object(_) | Value::String(_))) => {
                    one = Value::Array(vec![v.clone()]);
                    &one
                }
                other => other.unwrap_or(&Value::Null),
            };
            let new = match validate_value(def, value, label, cx.quirks)? {
                None => None,
                Some(Value::Array(mut items)) if items.len() == 1 => items.pop(),
                Some(Value::Array(items)) => {
                    return Err(ScimError::invalid_value(format!(
                        "{label} selects elements to update and takes one value, but the request sent {}",
                        items.len()
                    )));
                }
                Some(other) => Some(other),
            };
            match (any, new) {
                (true, None) => remove_at(&mut list, &hits),
                (true, Some(Value::Object(new))) => {
                    for item in at(&mut list, &hits) {
                        if let Value::Object(o) = item {
                            for (k, v) in &new {
                                o.insert(k.clone(), v.clone());
                            }
                        }
                    }
                }
                (true, Some(other)) => {
                    for item in at(&mut list, &hits) {
                        *item = other.clone();
                    }
                }
                (false, None) => {}
                (false, Some(Value::Object(new))) => {
                    let mut elem = element_from_filter(def, filter, label)?;
                    elem.extend(new);
                    push_created(def, &mut list, elem, label, cx.quirks)?;
                }
                (false, Some(_)) => return Err(no_match(label)),
            }
        }
    }
    if keep {
        // Only sub-attributes of existing elements were set: nothing to sweep, nothing moved.
        map.insert(def.name.to_string(), Value::Array(list));
    } else {
        put_list(map, def, list);
    }
    let now = map
        .get(&*def.name)
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    if !keep || now != len {
        cx.index.dirty = true;
    }
    Ok(())
}

/// After `primary` was written on the elements at `hits` (ascending), which the index selected:
/// the rule of `normalise_primary` (the element newly made primary wins, the others lose the
/// flag) applied knowing the list's one primary before, so no element outside `hits` is read.
fn move_primary(slot: &mut IndexSlot, list: &mut [Value], hits: &[usize]) {
    let Some(index) = slot.index.as_mut() else {
        return;
    };
    let old = index.primaries.first().copied();
    let now: Vec<usize> = old
        .into_iter()
        .filter(|p| hits.binary_search(p).is_err())
        .chain(
            hits.iter()
                .copied()
                .filter(|h| list.get(*h).is_some_and(is_primary)),
        )
        .collect();
    let keep = if now.len() < 2 {
        None
    } else {
        // `normalise_primary` keeps the first newly primary element by position, or the last
        // primary when none is new.
        let mut sorted = now.clone();
        sorted.sort_unstable();
        sorted
            .iter()
            .copied()
            .find(|i| Some(*i) != old)
            .or(sorted.last().copied())
    };
    let mut primaries = now;
    if let Some(keep) = keep {
        for i in primaries.iter().copied().filter(|i| *i != keep) {
            if let Some(Value::Object(o)) = list.get_mut(i) {
                o.shift_remove("primary");
            }
        }
        primaries = vec![keep];
    }
    primaries.sort_unstable();
    index.primaries = primaries;
}

/// The elements at `positions` (ascending, in range).
fn at<'l>(list: &'l mut [Value], positions: &'l [usize]) -> impl Iterator<Item = &'l mut Value> {
    let mut rest = list;
    let mut offset = 0;
    positions.iter().filter_map(move |&p| {
        let taken = std::mem::take(&mut rest);
        let (_, tail) = taken.split_at_mut_checked(p.checked_sub(offset)?)?;
        let (item, after) = tail.split_first_mut()?;
        rest = after;
        offset = p + 1;
        Some(item)
    })
}

/// Removes the elements at `positions` (ascending).
fn remove_at(list: &mut Vec<Value>, positions: &[usize]) {
    let mut next = positions.iter().peekable();
    let mut i = 0;
    list.retain(|_| {
        let hit = next.peek().is_some_and(|p| **p == i);
        if hit {
            next.next();
        }
        i += 1;
        !hit
    });
}

/// Positions (ascending) of the elements the filter selects: through the index for
/// `sub eq "string"` (built on first use), by evaluating the filter on each element otherwise.
fn select(slot: &mut IndexSlot, f: &Filtered<'_>, list: &[Value]) -> Vec<usize> {
    let Some((sub, key)) = eq_key(f.def, f.filter) else {
        return list
            .iter()
            .enumerate()
            .filter(|(_, e)| matches(f.def, f.filter, e, 0))
            .map(|(i, _)| i)
            .collect();
    };
    let fits = slot
        .index
        .as_ref()
        .is_some_and(|i| i.serves(f.ext, f.def, sub));
    if !fits {
        let mut positions: HashMap<String, Vec<usize>> = HashMap::new();
        let path = plain(&sub.name);
        for (i, e) in list.iter().enumerate() {
            if let Some((_, Value::String(v))) = element_value(f.def, &path, e) {
                positions.entry(fold_key(sub, v)).or_default().push(i);
            }
        }
        let primaries = (0..list.len())
            .filter(|i| list.get(*i).is_some_and(is_primary))
            .collect();
        slot.index = Some(EqIndex {
            ext: f.ext.map(str::to_owned),
            attr: f.def.name.to_string(),
            sub: sub.name.to_string(),
            positions,
            primaries,
        });
    }
    // Positions are pushed in list order when the index is built and never change while it is
    // kept, so they are ascending.
    slot.index
        .as_ref()
        .and_then(|i| i.positions.get(&key))
        .map(|p| p.iter().copied().filter(|i| *i < list.len()).collect())
        .unwrap_or_default()
}

/// `sub eq "text"` on a textual sub-attribute (the shape the index answers), with the key its
/// elements are indexed under. Dates compare as instants, so they are left to `matches`.
fn eq_key<'d>(def: &'d AttrDef, filter: &Filter) -> Option<(&'d AttrDef, String)> {
    let Filter::Compare {
        attr,
        op: CompareOp::Eq,
        value: CompValue::String(v),
    } = filter
    else {
        return None;
    };
    if attr.urn.is_some() || attr.sub_attr.is_some() {
        return None;
    }
    let sub = def.sub(&attr.name)?;
    matches!(
        sub.ty,
        AttrType::String | AttrType::Reference | AttrType::Binary
    )
    .then(|| (sub, fold_key(sub, v)))
}

fn plain(name: &str) -> AttrPath {
    AttrPath {
        urn: None,
        name: name.to_owned(),
        sub_attr: None,
    }
}

/// A string as `compare` sees it for `eq`: itself when caseExact, lower-cased otherwise.
fn fold_key(sub: &AttrDef, v: &str) -> String {
    if sub.case_exact {
        v.to_owned()
    } else {
        v.to_lowercase()
    }
}

/// Compares two strings as their lower-cased forms compare, without allocating when both are
/// ASCII (the usual case: addresses, types, ids).
fn fold_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    if a.is_ascii() && b.is_ascii() {
        a.bytes()
            .map(|c| c.to_ascii_lowercase())
            .cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
    } else {
        a.to_lowercase().cmp(&b.to_lowercase())
    }
}

fn no_match(label: &str) -> ScimError {
    ScimError::no_target(format!(
        "the filter in {label} matches no element, so there is nothing to update"
    ))
}

/// RFC 7644 says an unmatched filter is noTarget, but Entra expects `emails[type eq "work"]`
/// to create the work email when there is none (section E); that is only well defined when the
/// filter is `eq` comparisons joined by `and`, which become the new element's sub-attributes.
fn element_from_filter(def: &AttrDef, filter: &Filter, label: &str) -> Result<Map<String, Value>> {
    let mut out = Map::new();
    let mut stack = vec![filter];
    while let Some(f) = stack.pop() {
        match f {
            Filter::And(a, b) => {
                stack.push(b);
                stack.push(a);
            }
            Filter::Compare {
                attr,
                op: CompareOp::Eq,
                value,
            } if attr.urn.is_none() && attr.sub_attr.is_none() => {
                let (Some(sub), Some(v)) = (def.sub(&attr.name), comp_json(value)) else {
                    return Err(no_match(label));
                };
                out.insert(sub.name.to_string(), v);
            }
            _ => return Err(no_match(label)),
        }
    }
    Ok(out)
}

/// Validates a created element like any other value and appends it.
fn push_created(
    def: &AttrDef,
    list: &mut Vec<Value>,
    elem: Map<String, Value>,
    label: &str,
    quirks: &mut Quirks,
) -> Result<()> {
    quirks.note(Quirk::FilterCreatesElement);
    let one = Value::Array(vec![Value::Object(elem)]);
    if let Some(Value::Array(items)) = validate_value(def, &one, label, quirks)? {
        for item in items {
            add_element(def, list, item);
        }
    }
    Ok(())
}

fn comp_json(v: &CompValue) -> Option<Value> {
    match v {
        CompValue::String(s) => Some(Value::String(s.clone())),
        CompValue::Number(n) => Some(Value::Number(n.clone())),
        CompValue::Bool(b) => Some(Value::Bool(*b)),
        CompValue::Null => None,
    }
}

fn take_list(map: &mut Map<String, Value>, name: &str) -> Vec<Value> {
    match map.shift_remove(name) {
        Some(Value::Array(items)) => items,
        Some(Value::Null) | None => Vec::new(),
        Some(other) => vec![other],
    }
}

/// Stores a list back without the elements an operation emptied (see `set_sub`).
fn put_list(map: &mut Map<String, Value>, def: &AttrDef, mut list: Vec<Value>) {
    list.retain(|item| match item {
        Value::Object(o) => !o.is_empty(),
        Value::Null => false,
        _ => true,
    });
    if !list.is_empty() {
        map.insert(def.name.to_string(), Value::Array(list));
    }
}

/// Sets or removes one sub-attribute of an element. An element whose `value` is removed loses
/// its identity and is marked for dropping (null): removing `emails[type eq "work"].value`
/// removes the work email, not just its address, and leaves no `{"type":"work"}` behind.
fn set_sub(item: &mut Value, sub: &AttrDef, v: Option<Value>) {
    if let Value::Object(o) = item {
        match v {
            Some(v) => {
                o.insert(sub.name.to_string(), v);
            }
            None => {
                if o.shift_remove(&*sub.name).is_some() && sub.name == "value" {
                    *item = Value::Null;
                }
            }
        }
    }
}

/// Ids named by a members filter: `value eq "x"` terms joined by `or` (S20, S66).
fn member_filter_ids(f: &Filter) -> Option<Vec<String>> {
    let mut ids = Vec::new();
    let mut stack = vec![f];
    while let Some(f) = stack.pop() {
        match f {
            Filter::Or(a, b) => {
                stack.push(b);
                stack.push(a);
            }
            Filter::Compare {
                attr,
                op: CompareOp::Eq,
                value: CompValue::String(id),
            } if is_plain(attr, "value") => ids.push(id.clone()),
            _ => return None,
        }
    }
    Some(ids)
}

fn is_plain(attr: &AttrPath, name: &str) -> bool {
    attr.urn.is_none() && attr.sub_attr.is_none() && attr.name.eq_ignore_ascii_case(name)
}

/// Members named in a value: an array (or one) of `{"value": id, "type": …}` objects or bare ids.
/// `$ref` (Entra sends null, S64) and `display` (Okta, S20) are accepted and ignored.
fn member_refs(value: &Value) -> Result<Vec<MemberRef>> {
    let items: Vec<&Value> = match value {
        Value::Null => Vec::new(),
        Value::Array(items) => items.iter().collect(),
        one => vec![one],
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let member = match item {
            Value::String(s) if !s.is_empty() => MemberRef {
                value: s.clone(),
                kind: None,
            },
            Value::Object(o) => member_ref(i, o)?,
            other => {
                return Err(ScimError::invalid_value(format!(
                    "members[{i}] must be an object such as {{\"value\": \"<id>\"}}, but the request sent {}",
                    json_kind(other)
                )));
            }
        };
        out.push(member);
    }
    Ok(out)
}

fn member_ref(i: usize, o: &Map<String, Value>) -> Result<MemberRef> {
    let mut value = None;
    let mut kind = None;
    for (k, v) in o {
        if k.eq_ignore_ascii_case("value") {
            match v {
                Value::String(s) if !s.is_empty() => value = Some(s.clone()),
                other => {
                    return Err(ScimError::invalid_value(format!(
                        "members[{i}].value must be the member's id as a non-empty string, but the request sent {}",
                        if other.is_string() {
                            "an empty string"
                        } else {
                            json_kind(other)
                        }
                    )));
                }
            }
        } else if k.eq_ignore_ascii_case("type") {
            kind = match v {
                Value::Null => None,
                Value::String(s) if s.eq_ignore_ascii_case("User") => Some("User".to_owned()),
                Value::String(s) if s.eq_ignore_ascii_case("Group") => Some("Group".to_owned()),
                other => {
                    return Err(ScimError::invalid_value(format!(
                        "members[{i}].type must be \"User\" or \"Group\", but the request sent {}",
                        match other {
                            Value::String(s) => format!("\"{}\"", snippet(s)),
                            other => json_kind(other).to_owned(),
                        }
                    )));
                }
            };
        } else if k.eq_ignore_ascii_case("$ref") || k.eq_ignore_ascii_case("display") {
            // Derived from the member's id; what the client sends here is not stored.
        } else {
            return Err(ScimError::invalid_value(format!(
                "members[{i}] has no sub-attribute \"{}\"; members take value, type, $ref and display",
                snippet(k)
            )));
        }
    }
    match value {
        Some(value) => Ok(MemberRef { value, kind }),
        None => Err(ScimError::invalid_value(format!(
            "members[{i}] has no \"value\"; each member needs {{\"value\": \"<id>\"}}"
        ))),
    }
}

// --- Value filters against one element -------------------------------------------------------

/// Checks a value filter against the element schema once, so an unknown sub-attribute or an
/// operator the type cannot support is an error even when the list is empty.
fn check_filter(def: &AttrDef, filter: &Filter, quirks: &mut Quirks) -> Result<()> {
    let mut stack = vec![(filter, 1usize)];
    while let Some((f, depth)) = stack.pop() {
        if depth > MAX_FILTER_DEPTH {
            return Err(ScimError::invalid_filter(format!(
                "the filter on {} is nested too deeply",
                def.name
            )));
        }
        match f {
            Filter::And(a, b) | Filter::Or(a, b) => {
                stack.push((a, depth + 1));
                stack.push((b, depth + 1));
            }
            Filter::Not(a) => stack.push((a, depth + 1)),
            Filter::ValuePath { attr, .. } => {
                return Err(ScimError::invalid_filter(format!(
                    "filters on {} cannot nest another [filter] (at \"{}\")",
                    def.name,
                    snippet(&attr.name)
                )));
            }
            Filter::Present(attr) => {
                element_sub(def, attr)?;
            }
            Filter::Compare { attr, op, value } => {
                let sub = element_sub(def, attr)?;
                check_op(def, sub, *op, value)?;
                // Entra compares booleans with "True"/"False" (S54).
                if sub.ty == AttrType::Boolean && matches!(value, CompValue::String(_)) {
                    quirks.note(Quirk::StringBoolean);
                }
            }
        }
    }
    Ok(())
}

fn element_sub<'d>(def: &'d AttrDef, attr: &AttrPath) -> Result<&'d AttrDef> {
    let found = if attr.urn.is_none() && attr.sub_attr.is_none() {
        def.sub(&attr.name)
    } else {
        None
    };
    found.ok_or_else(|| {
        ScimError::invalid_filter(format!(
            "\"{}\" is not a sub-attribute of {}; filters on {} can use {}",
            snippet(&attr.to_string()),
            def.name,
            def.name,
            names(&def.sub_attributes)
        ))
    })
}

fn check_op(def: &AttrDef, sub: &AttrDef, op: CompareOp, value: &CompValue) -> Result<()> {
    let ordering = matches!(
        op,
        CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le
    );
    let substring = matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew);
    let bad = match sub.ty {
        AttrType::Boolean => ordering || substring,
        AttrType::Binary => ordering,
        AttrType::Integer | AttrType::Decimal | AttrType::DateTime => substring,
        _ => false,
    } || (matches!(value, CompValue::Null)
        && !matches!(op, CompareOp::Eq | CompareOp::Ne));
    if bad {
        return Err(ScimError::invalid_filter(format!(
            "{}.{} is a {} and cannot be compared with \"{}\"{}",
            def.name,
            sub.name,
            sub.ty.as_str(),
            op.as_str(),
            if matches!(value, CompValue::Null) {
                " null"
            } else {
                ""
            }
        )));
    }
    Ok(())
}

/// Whether one element matches a filter already accepted by `check_filter`.
fn matches(def: &AttrDef, f: &Filter, elem: &Value, depth: usize) -> bool {
    if depth > MAX_FILTER_DEPTH {
        return false;
    }
    match f {
        Filter::And(a, b) => matches(def, a, elem, depth + 1) && matches(def, b, elem, depth + 1),
        Filter::Or(a, b) => matches(def, a, elem, depth + 1) || matches(def, b, elem, depth + 1),
        Filter::Not(a) => !matches(def, a, elem, depth + 1),
        Filter::ValuePath { .. } => false,
        Filter::Present(attr) => match element_value(def, attr, elem) {
            Some((_, Value::String(s))) => !s.is_empty(),
            Some((_, Value::Array(a))) => !a.is_empty(),
            Some((_, Value::Object(o))) => !o.is_empty(),
            Some((_, Value::Null)) | None => false,
            Some(_) => true,
        },
        Filter::Compare { attr, op, value } => match element_value(def, attr, elem) {
            Some((sub, actual)) => compare(sub, *op, actual, value),
            None => match value {
                CompValue::Null => *op == CompareOp::Eq,
                _ => *op == CompareOp::Ne,
            },
        },
    }
}

fn element_value<'d, 'e>(
    def: &'d AttrDef,
    attr: &AttrPath,
    elem: &'e Value,
) -> Option<(&'d AttrDef, &'e Value)> {
    let sub = def.sub(&attr.name)?;
    let Value::Object(o) = elem else {
        return None;
    };
    get_ci(o, &sub.name)
        .filter(|v| !v.is_null())
        .map(|v| (sub, v))
}

fn compare(sub: &AttrDef, op: CompareOp, actual: &Value, expected: &CompValue) -> bool {
    use std::cmp::Ordering;
    let ord: Option<Ordering> = match (actual, expected) {
        (_, CompValue::Null) => return op == CompareOp::Ne,
        (Value::String(a), CompValue::String(b)) => {
            if sub.ty == AttrType::DateTime
                && let (Ok(a), Ok(b)) = (
                    OffsetDateTime::parse(a, &Rfc3339),
                    OffsetDateTime::parse(b, &Rfc3339),
                )
            {
                Some(a.cmp(&b))
            } else {
                let substring = matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew);
                if !substring {
                    Some(if sub.case_exact {
                        a.as_str().cmp(b.as_str())
                    } else {
                        fold_cmp(a, b)
                    })
                } else {
                    let (a, b) = if sub.case_exact {
                        (a.clone(), b.clone())
                    } else {
                        (a.to_lowercase(), b.to_lowercase())
                    };
                    return match op {
                        CompareOp::Co => a.contains(&b),
                        CompareOp::Sw => a.starts_with(&b),
                        _ => a.ends_with(&b),
                    };
                }
            }
        }
        (Value::Bool(a), CompValue::Bool(b)) => Some(a.cmp(b)),
        // Entra-style "True"/"False" literals against a boolean.
        (Value::Bool(a), CompValue::String(s)) => match s.to_ascii_lowercase().as_str() {
            "true" => Some(a.cmp(&true)),
            "false" => Some(a.cmp(&false)),
            _ => None,
        },
        (Value::Number(a), CompValue::Number(b)) => match (a.as_f64(), b.as_f64()) {
            (Some(a), Some(b)) => a.partial_cmp(&b),
            _ => None,
        },
        (Value::String(a), CompValue::Number(b)) => Some(a.as_str().cmp(b.to_string().as_str())),
        _ => None,
    };
    match (op, ord) {
        (CompareOp::Ne, None) => true,
        (_, None) => false,
        (CompareOp::Eq, Some(o)) => o == Ordering::Equal,
        (CompareOp::Ne, Some(o)) => o != Ordering::Equal,
        (CompareOp::Gt, Some(o)) => o == Ordering::Greater,
        (CompareOp::Ge, Some(o)) => o != Ordering::Less,
        (CompareOp::Lt, Some(o)) => o == Ordering::Less,
        (CompareOp::Le, Some(o)) => o != Ordering::Greater,
        (CompareOp::Co | CompareOp::Sw | CompareOp::Ew, Some(_)) => false,
    }
}

/// RFC 7643 §2.4: at most one element is primary. When an operation makes a second element
/// primary, the one it touched wins and the others lose the flag.
fn normalise_primary(rt: &ResourceType, doc: &mut Document, before: &Document) {
    let core = rt.schema.attributes.iter().map(|d| (None, d));
    let ext = rt
        .extensions
        .iter()
        .flat_map(|e| e.attributes.iter().map(move |d| (Some(&*e.id), d)));
    for (ext_id, def) in core.chain(ext) {
        if !def.multi_valued || def.sub("primary").is_none() {
            continue;
        }
        let old_list = match ext_id {
            None => before.get(&*def.name),
            Some(id) => before.get(id).and_then(|b| b.get(&*def.name)),
        };
        let old_primaries: Vec<&Value> = match old_list {
            Some(Value::Array(items)) => items.iter().filter(|v| is_primary(v)).collect(),
            _ => Vec::new(),
        };
        let list = match ext_id {
            None => doc.get_mut(&*def.name),
            Some(id) => doc.get_mut(id).and_then(|b| b.get_mut(&*def.name)),
        };
        let Some(Value::Array(items)) = list else {
            continue;
        };
        let primaries: Vec<usize> = items
            .iter()
            .enumerate()
            .filter(|(_, v)| is_primary(v))
            .map(|(i, _)| i)
            .collect();
        if primaries.len() < 2 {
            continue;
        }
        let keep = primaries
            .iter()
            .copied()
            .find(|i| items.get(*i).is_some_and(|v| !old_primaries.contains(&v)))
            .or(primaries.last().copied());
        for i in primaries {
            if Some(i) != keep
                && let Some(Value::Object(o)) = items.get_mut(i)
            {
                o.shift_remove("primary");
            }
        }
    }
}

/// Whether an operation may write a `primary` sub-attribute: its path ends in `primary`, or its
/// value holds a `primary` member somewhere (a new element, a path-less object).
fn may_set_primary(op: &PatchOperation) -> bool {
    fn names_primary(v: &Value) -> bool {
        match v {
            Value::Object(o) => o
                .iter()
                .any(|(k, v)| k.eq_ignore_ascii_case("primary") || names_primary(v)),
            Value::Array(a) => a.iter().any(names_primary),
            _ => false,
        }
    }
    let by_path = op.path.as_ref().is_some_and(|p| {
        [&p.sub_attr, &p.attr.sub_attr]
            .into_iter()
            .flatten()
            .any(|s| s.eq_ignore_ascii_case("primary"))
    });
    by_path || op.value.as_ref().is_some_and(names_primary)
}

/// The part of `doc` that `normalise_primary` compares against: each multi-valued attribute
/// that has `primary`, holding only its primary elements (usually none or one), so an operation
/// that may set `primary` costs a scan of those lists, not a copy of the document.
fn primaries(rt: &ResourceType, doc: &Document) -> Document {
    let primary_lists = |defs: &[AttrDef], block: &Map<String, Value>| {
        let mut out = Map::new();
        for def in defs
            .iter()
            .filter(|d| d.multi_valued && d.sub("primary").is_some())
        {
            if let Some(Value::Array(items)) = block.get(&*def.name) {
                let kept: Vec<Value> = items.iter().filter(|v| is_primary(v)).cloned().collect();
                out.insert(def.name.to_string(), Value::Array(kept));
            }
        }
        out
    };
    let mut out = primary_lists(&rt.schema.attributes, doc);
    for ext in rt.extensions.iter() {
        if let Some(Value::Object(block)) = doc.get(&*ext.id) {
            out.insert(
                ext.id.to_string(),
                Value::Object(primary_lists(&ext.attributes, block)),
            );
        }
    }
    out
}

fn is_primary(v: &Value) -> bool {
    v.get("primary") == Some(&Value::Bool(true))
}

/// Whether `value` is a `schemas` array naming only the extension `urn` (URNs compare
/// case-insensitively, RFC 7643 §2.1).
fn restates_urn(value: &Value, urn: &str) -> bool {
    value.as_array().is_some_and(|a| {
        !a.is_empty()
            && a.iter()
                .all(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(urn)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::ScimType;
    use crate::scim::filter::MAX_TERMS;
    use crate::scim::schema::{GROUP, USER};
    use serde_json::json;

    const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    fn doc(v: Value) -> Document {
        v.as_object().cloned().expect("object")
    }

    fn user() -> Document {
        doc(json!({
            "userName": "bjensen",
            "active": true,
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [
                {"value": "bj@work.example", "type": "work", "primary": true},
                {"value": "bj@home.example", "type": "home"}
            ],
            ENT: {"employeeNumber": "1", "manager": {"value": "m0", "$ref": "../Users/m0"}}
        }))
    }

    fn patch(rt: &ResourceType, base: &Document, body: Value) -> Result<PatchOutcome> {
        let ops = parse_patch(&body, &WriteLimits::default(), &mut Quirks::default())?;
        apply_patch(
            rt,
            "id-1",
            base,
            &ops,
            &WriteLimits::default(),
            &mut Quirks::default(),
        )
    }

    fn patch_user(body: Value) -> Result<PatchOutcome> {
        patch(&USER, &user(), body)
    }

    /// A user PATCH with the tenant's policy `strict`, and what it noticed.
    fn patch_noticing(body: &Value, strict: bool) -> (Result<PatchOutcome>, Quirks) {
        let mut q = Quirks::new(strict);
        let out = parse_patch(body, &WriteLimits::default(), &mut q).and_then(|ops| {
            apply_patch(
                &USER,
                "id-1",
                &user(),
                &ops,
                &WriteLimits::default(),
                &mut q,
            )
        });
        (out, q)
    }

    fn patch_group(body: Value) -> Result<PatchOutcome> {
        patch(&GROUP, &doc(json!({"displayName": "Test SCIMv2"})), body)
    }

    fn ok_user(body: Value) -> Document {
        patch_user(body).expect("patch applies").doc
    }

    fn ops(list: Value) -> Value {
        json!({"schemas": [PATCH_OP_URN], "Operations": list})
    }

    fn err_type(r: Result<PatchOutcome>) -> (Option<ScimType>, String) {
        let e = r.expect_err("patch must fail");
        assert_eq!(e.status, 400, "{}", e.detail);
        (e.scim_type, e.detail)
    }

    fn members(r: Result<PatchOutcome>) -> Vec<MemberChange> {
        let out = r.expect("patch applies");
        assert!(
            !out.doc.contains_key("members"),
            "members never enter the doc"
        );
        out.member_changes
    }

    fn m(id: &str) -> MemberRef {
        MemberRef {
            value: id.to_owned(),
            kind: None,
        }
    }

    /// A user PATCH in Interoperability Profile mode.
    fn patch_in_profile(list: Value) -> Result<PatchOutcome> {
        let mut q = Quirks::new(true).with_profile(true);
        let body = ops(list);
        let parsed = parse_patch(&body, &WriteLimits::default(), &mut q)?;
        apply_patch(
            &USER,
            "id-1",
            &user(),
            &parsed,
            &WriteLimits::default(),
            &mut q,
        )
    }

    #[test]
    fn profile_mode_refuses_operations_without_a_path() {
        for op in [
            json!({"op": "replace", "value": {"active": false}}),
            json!({"op": "add", "value": {"title": "x"}}),
            json!({"op": "remove"}),
        ] {
            let (t, detail) = err_type(patch_in_profile(json!([op])));
            assert_eq!(t, Some(ScimType::InvalidSyntax), "{detail}");
            assert!(
                detail.starts_with("Operations[0]") && detail.contains("interop_profile"),
                "{detail}"
            );
        }
        // The default keeps RFC 7644's path-less form (Okta S11).
        assert_eq!(
            ok_user(ops(json!([{"op": "replace", "value": {"active": false}}])))["active"],
            false
        );
    }

    #[test]
    fn profile_mode_replaces_a_whole_complex_attribute_and_the_default_merges() {
        let op = json!([{"op": "replace", "path": "name", "value": {"givenName": "Babs"}}]);
        let replaced = patch_in_profile(op.clone()).expect("profile");
        assert_eq!(replaced.doc["name"], json!({"givenName": "Babs"}));
        let merged = ok_user(ops(op));
        assert_eq!(
            merged["name"],
            json!({"givenName": "Babs", "familyName": "Jensen"})
        );
        // `add` merges in both.
        let added = patch_in_profile(json!([{"op": "add", "path": "name",
                                             "value": {"middleName": "B"}}]))
        .expect("add");
        assert_eq!(
            added.doc["name"],
            json!({"givenName": "Barbara", "familyName": "Jensen", "middleName": "B"})
        );
    }

    #[test]
    fn schemas_operations_are_checked_against_the_served_urns() {
        let core = "urn:ietf:params:scim:schemas:core:2.0:User";
        for (op, value) in [("add", json!([ENT])), ("replace", json!([core, ENT]))] {
            let out =
                patch_user(ops(json!([{"op": op, "path": "schemas", "value": value}]))).expect(op);
            assert_eq!(out.doc, user(), "{op}: nothing stored by itself");
        }
        let unknown = json!([{"op": "add", "path": "schemas", "value": ["urn:x:y"]}]);
        let (t, d) = err_type(patch_user(ops(unknown.clone())));
        assert_eq!(t, Some(ScimType::InvalidValue));
        assert!(
            d.contains("urn:x:y") && d.contains(core) && d.contains(ENT),
            "{d}"
        );
        let (t, _) = err_type(patch_in_profile(unknown));
        assert_eq!(t, Some(ScimType::InvalidSyntax), "§5.3 in profile mode");
        let (t, d) = err_type(patch_user(ops(
            json!([{"op": "replace", "path": "schemas", "value": [ENT]}]),
        )));
        assert_eq!(t, Some(ScimType::InvalidValue));
        assert!(d.contains("must keep"), "{d}");
        let (t, d) = err_type(patch_user(ops(
            json!([{"op": "remove", "path": "schemas"}]),
        )));
        assert_eq!(t, Some(ScimType::InvalidValue));
        assert!(d.contains("cannot be removed"), "{d}");
        // Microsoft's group URN is tolerated by default, refused in profile mode.
        let adscim = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group";
        let body = ops(json!([{"op": "add", "path": "schemas", "value": [adscim]}]));
        let parsed =
            parse_patch(&body, &WriteLimits::default(), &mut Quirks::default()).expect("parse");
        let group = doc(json!({"displayName": "Ops"}));
        let mut q = Quirks::default();
        apply_patch(
            &GROUP,
            "g",
            &group,
            &parsed,
            &WriteLimits::default(),
            &mut q,
        )
        .expect("tolerated");
        assert!(q.contains(Quirk::ForeignSchemaUrn));
        let mut p = Quirks::new(true).with_profile(true);
        let e = apply_patch(
            &GROUP,
            "g",
            &group,
            &parsed,
            &WriteLimits::default(),
            &mut p,
        )
        .expect_err("profile");
        assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax));
    }

    #[test]
    fn s11_deactivate_without_path() {
        let d = ok_user(
            json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations":[{"op":"replace","value":{"active":false}}]}),
        );
        assert_eq!(d["active"], json!(false));
        assert_eq!(d["userName"], "bjensen");
    }

    #[test]
    fn s14_password_goes_to_outcome_not_doc() {
        let out = patch_user(json!({"schemas":[PATCH_OP_URN],
            "Operations":[{"op":"replace","value":{"password":"n3w-Secret"}}]}))
        .expect("applies");
        assert_eq!(out.password.as_deref(), Some("n3w-Secret"));
        assert!(!out.doc.contains_key("password"));
        assert_eq!(out.doc, user());
        let (t, _) = err_type(patch_user(ops(json!([{"op":"remove","path":"password"}]))));
        assert_eq!(t, Some(ScimType::Mutability));
    }

    #[test]
    fn s19_group_rename_tolerates_own_id() {
        let out = patch_group(
            json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations":[{"op":"replace","value":{"id":"id-1","displayName":"Renamed"}}]}),
        )
        .expect("applies");
        assert_eq!(out.doc["displayName"], "Renamed");
        assert!(!out.doc.contains_key("id"));
        assert!(out.member_changes.is_empty());
        let (t, d) = err_type(patch_group(ops(
            json!([{"op":"replace","value":{"id":"other","displayName":"x"}}]),
        )));
        assert_eq!(t, Some(ScimType::Mutability));
        assert!(d.contains("id"), "{d}");
    }

    #[test]
    fn s20_membership_delta_in_order() {
        let changes = members(patch_group(
            json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations":[
                {"op":"remove","path":"members[value eq \"uid2\"]"},
                {"op":"add","path":"members","value":[{"value":"uid","display":"test.user@okta.local"}]}]}),
        ));
        assert_eq!(
            changes,
            vec![
                MemberChange::Remove(vec!["uid2".into()]),
                MemberChange::Add(vec![m("uid")])
            ]
        );
    }

    #[test]
    fn s21_membership_full_replace() {
        let changes = members(patch_group(
            json!({"Operations":[{"op":"replace","path":"members",
            "value":[{"value":"uid","display":"a"},{"value":"uid2","display":"b"}]}]}),
        ));
        assert_eq!(
            changes,
            vec![MemberChange::Replace(vec![m("uid"), m("uid2")])]
        );
        let changes = members(patch_group(ops(
            json!([{"op":"replace","path":"members","value":[]}]),
        )));
        assert_eq!(changes, vec![MemberChange::Replace(vec![])]);
    }

    #[test]
    fn s49_filtered_sub_attribute_keeps_other_emails() {
        let d = ok_user(
            json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations":[
                {"op":"Replace","path":"emails[type eq \"work\"].value","value":"updatedEmail@microsoft.com"},
                {"op":"Replace","path":"name.familyName","value":"updatedFamilyName"}]}),
        );
        assert_eq!(
            d["emails"],
            json!([
                {"value": "updatedEmail@microsoft.com", "type": "work", "primary": true},
                {"value": "bj@home.example", "type": "home"}
            ])
        );
        assert_eq!(
            d["name"],
            json!({"givenName": "Barbara", "familyName": "updatedFamilyName"})
        );
    }

    #[test]
    fn filtered_replace_creates_element_for_eq_filter() {
        // Entra expects the element to be created when an `eq` filter matches nothing.
        let d = ok_user(ops(json!([
            {"op":"Replace","path":"phoneNumbers[type eq \"mobile\"].value","value":"+1 555"},
            {"op":"Add","path":"addresses[type eq \"work\" and primary eq true].locality","value":"Oslo"}
        ])));
        assert_eq!(
            d["phoneNumbers"],
            json!([{"type":"mobile","value":"+1 555"}])
        );
        assert_eq!(
            d["addresses"],
            json!([{"type":"work","primary":true,"locality":"Oslo"}])
        );
        let d = ok_user(ops(json!([
            {"op":"replace","path":"emails[type eq \"other\"]","value":{"value":"o@x"}}
        ])));
        assert_eq!(d["emails"][2], json!({"type":"other","value":"o@x"}));
    }

    #[test]
    fn filtered_replace_without_eq_match_is_no_target() {
        let (t, d) = err_type(patch_user(ops(json!([
            {"op":"replace","path":"emails[value co \"nowhere\"].value","value":"a@b"}
        ]))));
        assert_eq!(t, Some(ScimType::NoTarget));
        assert!(d.contains("emails"), "{d}");
        let (t, _) = err_type(patch_user(ops(json!([
            {"op":"replace","path":"emails[type eq \"x\" or type eq \"y\"].value","value":"a@b"}
        ]))));
        assert_eq!(t, Some(ScimType::NoTarget));
    }

    #[test]
    fn s50_single_valued_replace_and_remove() {
        let d = ok_user(ops(json!([
            {"op":"Replace","path":"userName","value":"newname"},
            {"op":"Replace","path":"displayName","value":"newDisplayName"}
        ])));
        assert_eq!(d["userName"], "newname");
        assert_eq!(d["displayName"], "newDisplayName");
        let base = doc(json!({"userName":"a","displayName":"x"}));
        let out = patch(
            &USER,
            &base,
            ops(json!([{"op":"Remove","path":"displayName"}])),
        )
        .expect("applies");
        assert_eq!(out.doc, doc(json!({"userName":"a"})));
    }

    #[test]
    fn s52_pathless_keys_are_paths() {
        let d = ok_user(
            json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations":[
                {"op":"replace","path":"emails[type eq \"work\"].value","value":"x@test.microsoft.com"},
                {"op":"replace","value":{"displayName":"Bjfe","name.givenName":"Kkom","name.familyName":"Unua",
                  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"Aklq"}}]}),
        );
        assert_eq!(d["displayName"], "Bjfe");
        assert_eq!(d["name"], json!({"givenName":"Kkom","familyName":"Unua"}));
        assert_eq!(d[ENT]["employeeNumber"], "Aklq");
        assert_eq!(d[ENT]["manager"]["value"], "m0");
        assert_eq!(d["emails"][0]["value"], "x@test.microsoft.com");
        // The bare extension URN as a key carries an object of extension attributes.
        let d = ok_user(ops(
            json!([{"op":"add","value":{ENT: {"department":"Sales"}}}]),
        ));
        assert_eq!(d[ENT]["department"], "Sales");
        assert_eq!(d[ENT]["employeeNumber"], "1");
        // Pre-flag form: one Replace per attribute.
        let d = ok_user(ops(json!([
            {"op":"Replace","path":"externalId","value":"ext-9"},
            {"op":"Replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber","value":"Aklq"}
        ])));
        assert_eq!(d["externalId"], "ext-9");
        assert_eq!(d[ENT]["employeeNumber"], "Aklq");
    }

    #[test]
    fn s53_add_single_valued_string() {
        assert_eq!(
            ok_user(ops(json!([{"op":"Add","path":"nickName","value":"Babs"}])))["nickName"],
            "Babs"
        );
        assert_eq!(
            ok_user(ops(json!([{"op":"add","path":"nickName","value":"Babs"}])))["nickName"],
            "Babs"
        );
    }

    #[test]
    fn s54_s55_s56_active_as_string_or_boolean() {
        for (v, want) in [
            (json!("False"), false),
            (json!(false), false),
            (json!("True"), true),
            (json!(true), true),
        ] {
            let base = doc(json!({"userName":"a","active":!want}));
            let out = patch(
                &USER,
                &base,
                json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations":[{"op":"Replace","path":"active","value":v}]}),
            )
            .expect("applies");
            assert_eq!(out.doc["active"], json!(want));
        }
        let (t, _) = err_type(patch_user(ops(
            json!([{"op":"replace","path":"active","value":"nope"}]),
        )));
        assert_eq!(t, Some(ScimType::InvalidValue));
    }

    #[test]
    fn s57_manager_set_change_clear() {
        let base = doc(json!({"userName":"a"}));
        let set = patch(&USER, &base, json!({"Operations":[{"op":"Add",
            "path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":"mgr"}]}))
        .expect("set");
        assert_eq!(set.doc[ENT], json!({"manager":{"value":"mgr"}}));
        let changed = patch(&USER, &set.doc, json!({"Operations":[{"op":"replace",
            "path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":"mgr2"}]}))
        .expect("change");
        assert_eq!(changed.doc[ENT], json!({"manager":{"value":"mgr2"}}));
        let cleared = patch(&USER, &changed.doc, json!({"Operations":[{"op":"replace",
            "path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":""}]}))
        .expect("clear");
        // The emptied extension block disappears with its last attribute.
        assert_eq!(cleared.doc, base);
    }

    #[test]
    fn s57_manager_change_drops_stale_ref() {
        // A new manager id replaces the whole value: the old `$ref` named the old manager.
        let d = ok_user(ops(json!([{"op":"replace",
            "path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":"m2"}])));
        assert_eq!(d[ENT]["manager"], json!({"value":"m2"}));
        // Same id: other sub-attributes are merged (RFC 7644 §3.5.2.3).
        let d = ok_user(ops(json!([{"op":"replace",
            "path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":{"value":"m0"}}])));
        assert_eq!(
            d[ENT]["manager"],
            json!({"value":"m0","$ref":"../Users/m0"})
        );
    }

    #[test]
    fn s57_older_array_form_on_unqualified_manager() {
        // Decision: the bare name resolves to the enterprise extension and a one-element array
        // on a single-valued attribute is unwrapped.
        let base = doc(json!({"userName":"a"}));
        let out = patch(
            &USER,
            &base,
            ops(json!([{"op":"Add","path":"manager",
            "value":[{"$ref":"http://example.test/scim/Users/mgr","value":"mgr"}]}])),
        )
        .expect("applies");
        assert_eq!(
            out.doc[ENT]["manager"],
            json!({"$ref":"http://example.test/scim/Users/mgr","value":"mgr"})
        );
        let d = ok_user(ops(
            json!([{"op":"replace","path":"manager.value","value":"m9"}]),
        ));
        assert_eq!(d[ENT]["manager"]["value"], "m9");
        let (t, _) = err_type(patch_user(ops(json!([{"op":"add","path":"manager",
            "value":[{"value":"a"},{"value":"b"}]}]))));
        assert_eq!(t, Some(ScimType::InvalidValue));
    }

    #[test]
    fn s64_add_many_members_with_null_ref() {
        let changes = members(patch_group(
            json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations":[{"op":"Add","path":"members","value":[{"$ref":null,"value":"uid"},{"$ref":null,"value":"uid2"}]}]}),
        ));
        assert_eq!(changes, vec![MemberChange::Add(vec![m("uid"), m("uid2")])]);
        let changes = members(patch_group(ops(json!([{"op":"add","path":"members",
            "value":[{"value":"g2","type":"group"}]}]))));
        assert_eq!(
            changes,
            vec![MemberChange::Add(vec![MemberRef {
                value: "g2".into(),
                kind: Some("Group".into())
            }])]
        );
    }

    #[test]
    fn member_values_are_checked() {
        for bad in [
            json!([{"value":""}]),
            json!([{"value":7}]),
            json!([{"display":"x"}]),
            json!([{"value":"u","type":"Robot"}]),
            json!([{"value":"u","colour":"red"}]),
            json!([true]),
        ] {
            let (t, _) = err_type(patch_group(ops(
                json!([{"op":"add","path":"members","value":bad}]),
            )));
            assert_eq!(t, Some(ScimType::InvalidValue));
        }
    }

    #[test]
    fn s65_remove_listed_members_only() {
        let changes = members(patch_group(ops(json!([{"op":"Remove","path":"members",
            "value":[{"value":"uid"}]}]))));
        assert_eq!(changes, vec![MemberChange::Remove(vec!["uid".into()])]);
        let changes = members(patch_group(ops(json!([{"op":"remove","path":"members"}]))));
        assert_eq!(changes, vec![MemberChange::RemoveAll]);
    }

    #[test]
    fn s66_remove_member_by_filter() {
        let changes = members(patch_group(ops(json!([{"op":"remove",
            "path":"members[value eq \"7f4bc1a3-0000\"]"}]))));
        assert_eq!(
            changes,
            vec![MemberChange::Remove(vec!["7f4bc1a3-0000".into()])]
        );
        let changes = members(patch_group(ops(json!([{"op":"remove",
            "path":"members[value eq \"a\" or Value eq \"b\" or value eq \"c\"]"}]))));
        assert_eq!(
            changes,
            vec![MemberChange::Remove(vec![
                "a".into(),
                "b".into(),
                "c".into()
            ])]
        );
        let (t, d) = err_type(patch_group(ops(json!([{"op":"remove",
            "path":"members[display eq \"Bob\"]"}]))));
        assert_eq!(t, Some(ScimType::InvalidFilter));
        assert!(d.contains("value eq"), "{d}");
    }

    #[test]
    fn s75_jumpcloud_membership_shapes() {
        let changes = members(patch_group(ops(json!([
            {"op":"add","path":"members","value":[{"value":"uid"}]},
            {"op":"remove","path":"members","value":[{"value":"uid2"}]}
        ]))));
        assert_eq!(
            changes,
            vec![
                MemberChange::Add(vec![m("uid")]),
                MemberChange::Remove(vec!["uid2".into()])
            ]
        );
        let d = ok_user(ops(json!([
            {"op":"replace","path":"name.givenName","value":"B"},
            {"op":"replace","path":"active","value":false}
        ])));
        assert_eq!(d["name"]["givenName"], "B");
        assert_eq!(d["active"], json!(false));
    }

    #[test]
    fn remove_listed_elements_from_user_attribute() {
        let d = ok_user(ops(json!([{"op":"remove","path":"emails",
            "value":[{"value":"BJ@HOME.EXAMPLE"}]}])));
        assert_eq!(
            d["emails"],
            json!([{"value":"bj@work.example","type":"work","primary":true}])
        );
        let d = ok_user(ops(json!([{"op":"remove","path":"emails"}])));
        assert!(!d.contains_key("emails"));
    }

    #[test]
    fn remove_absent_things_is_a_no_op() {
        assert_eq!(
            ok_user(ops(json!([
                {"op":"remove","path":"emails[value eq \"nobody@x\"]"},
                {"op":"remove","path":"nickName"},
                {"op":"remove","path":"phoneNumbers[type eq \"work\"].value"},
                {"op":"remove","path":"emails","value":[{"value":"nobody@x"}]}
            ]))),
            user()
        );
        let changes = members(patch_group(ops(json!([{"op":"remove",
            "path":"members[value eq \"not-a-member\"]"}]))));
        assert_eq!(
            changes,
            vec![MemberChange::Remove(vec!["not-a-member".into()])]
        );
    }

    #[test]
    fn remove_by_filter_and_sub_attribute() {
        let d = ok_user(ops(
            json!([{"op":"remove","path":"emails[type eq \"home\"]"}]),
        ));
        assert_eq!(d["emails"].as_array().map(Vec::len), Some(1));
        let d = ok_user(ops(
            json!([{"op":"remove","path":"emails[type eq \"WORK\"].primary"}]),
        ));
        assert_eq!(
            d["emails"][0],
            json!({"value":"bj@work.example","type":"work"})
        );
        // Without its address the work email is gone, not left as {"type":"work"}.
        let d = ok_user(ops(
            json!([{"op":"remove","path":"emails[type eq \"work\"].value"}]),
        ));
        assert_eq!(
            d["emails"],
            json!([{"value":"bj@home.example","type":"home"}])
        );
        let d = ok_user(ops(json!([{"op":"remove","path":"name.givenName"}])));
        assert_eq!(d["name"], json!({"familyName":"Jensen"}));
    }

    #[test]
    fn unrelated_elements_survive_filtered_operations() {
        // POST accepts an element without `value`; a filtered op elsewhere must not drop it.
        let base =
            doc(json!({"userName":"a","emails":[{"type":"work"},{"value":"h@x","type":"home"}]}));
        let out = patch(
            &USER,
            &base,
            ops(json!([{"op":"remove","path":"emails[type eq \"home\"].value"}])),
        )
        .expect("applies");
        assert_eq!(out.doc["emails"], json!([{"type":"work"}]));
    }

    #[test]
    fn pathless_key_may_carry_a_filter() {
        let d = ok_user(ops(
            json!([{"op":"add","value":{"emails[type eq \"work\"].display":"Work"}}]),
        ));
        assert_eq!(d["emails"][0]["display"], "Work");
        let (t, _) = err_type(patch_user(ops(
            json!([{"op":"add","value":{"emails[":"x"}}]),
        )));
        assert_eq!(t, Some(ScimType::InvalidPath));
    }

    #[test]
    fn adding_nothing_changes_nothing() {
        for path in ["emails.value", "emails", "roles"] {
            for v in [json!(null), json!(""), json!([])] {
                let d = ok_user(ops(json!([{"op":"add","path":path,"value":v}])));
                assert_eq!(d, user(), "{path} {v}");
            }
        }
    }

    #[test]
    fn add_to_multi_valued_is_duplicate_free() {
        let d = ok_user(ops(json!([{"op":"add","path":"emails","value":[
            {"value":"bj@home.example","type":"home"},
            {"value":"BJ@Work.Example","display":"Work"},
            {"value":"new@x","type":"other"},
            {"value":"new@x","type":"other"}
        ]}])));
        assert_eq!(
            d["emails"],
            json!([
                {"value":"BJ@Work.Example","type":"work","primary":true,"display":"Work"},
                {"value":"bj@home.example","type":"home"},
                {"value":"new@x","type":"other"}
            ])
        );
        // A single object is accepted where an array belongs.
        let d = ok_user(ops(
            json!([{"op":"add","path":"roles","value":{"value":"admin"}}]),
        ));
        assert_eq!(d["roles"], json!([{"value":"admin"}]));
    }

    #[test]
    fn primary_switches_to_the_new_element() {
        let d = ok_user(ops(json!([{"op":"add","path":"emails",
            "value":[{"value":"new@x","type":"other","primary":true}]}])));
        assert_eq!(
            d["emails"][0],
            json!({"value":"bj@work.example","type":"work"})
        );
        assert_eq!(d["emails"][2]["primary"], json!(true));
        let d = ok_user(ops(json!([{"op":"replace",
            "path":"emails[type eq \"home\"].primary","value":"True"}])));
        assert_eq!(d["emails"][0].get("primary"), None);
        assert_eq!(d["emails"][1]["primary"], json!(true));
    }

    #[test]
    fn replace_multi_valued_without_filter_replaces_the_list() {
        let d = ok_user(ops(
            json!([{"op":"replace","path":"emails","value":[{"value":"only@x"}]}]),
        ));
        assert_eq!(d["emails"], json!([{"value":"only@x"}]));
        let d = ok_user(ops(json!([{"op":"replace","value":{"emails":[]}}])));
        assert!(!d.contains_key("emails"));
    }

    #[test]
    fn complex_add_and_replace_merge_sub_attributes() {
        let d = ok_user(ops(
            json!([{"op":"add","path":"name","value":{"middleName":"Q"}}]),
        ));
        assert_eq!(
            d["name"],
            json!({"givenName":"Barbara","familyName":"Jensen","middleName":"Q"})
        );
        let d = ok_user(ops(
            json!([{"op":"Replace","value":{"Name":{"GivenName":"Babs"}}}]),
        ));
        assert_eq!(d["name"], json!({"givenName":"Babs","familyName":"Jensen"}));
        let base = doc(json!({"userName":"a"}));
        let out = patch(
            &USER,
            &base,
            ops(json!([{"op":"add","path":"name.givenName","value":"G"}])),
        )
        .expect("creates name");
        assert_eq!(out.doc["name"], json!({"givenName":"G"}));
    }

    #[test]
    fn operations_are_all_or_nothing() {
        let (t, d) = err_type(patch_user(ops(json!([
            {"op":"replace","path":"displayName","value":"ok"},
            {"op":"replace","path":"meta.lastModified","value":"2024-01-01T00:00:00Z"}
        ]))));
        assert_eq!(t, Some(ScimType::Mutability));
        assert!(d.starts_with("Operations[1] (replace)"), "{d}");
        let members_then_fail = patch_group(ops(json!([
            {"op":"add","path":"members","value":[{"value":"u"}]},
            {"op":"add","path":"displayName[value eq \"x\"]","value":"x"}
        ])));
        assert_eq!(err_type(members_then_fail).0, Some(ScimType::InvalidPath));
    }

    #[test]
    fn read_only_targets_are_mutability_errors() {
        for path in [
            "meta",
            "groups",
            "id",
            "meta.created",
            "groups[value eq \"g\"]",
        ] {
            let (t, d) = err_type(patch_user(ops(
                json!([{"op":"replace","path":path,"value":"x"}]),
            )));
            assert_eq!(t, Some(ScimType::Mutability), "{path}: {d}");
            let head = path.split(['.', '[']).next().unwrap_or(path);
            assert!(d.contains(head), "{d}");
        }
        let (t, _) = err_type(patch_user(ops(json!([{"op":"remove","path":"id"}]))));
        assert_eq!(t, Some(ScimType::Mutability));
        let (t, _) = err_type(patch_user(ops(
            json!([{"op":"add","value":{"meta":{"version":"1"}}}]),
        )));
        assert_eq!(t, Some(ScimType::Mutability));
        let (t, _) = err_type(patch_user(ops(json!([{"op":"replace",
            "path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName","value":"x"}]))));
        assert_eq!(t, Some(ScimType::Mutability));
    }

    #[test]
    fn immutable_may_be_set_once() {
        // The shipped schemas have no immutable attribute outside Group members, so this
        // exercises the check directly.
        let def = &AttrDef {
            name: "title".into(),
            ty: AttrType::String,
            multi_valued: false,
            required: false,
            case_exact: false,
            mutability: Mutability::Immutable,
            returned: schema::Returned::Default,
            uniqueness: schema::Uniqueness::None,
            description: "".into(),
            canonical_values: Default::default(),
            reference_types: Default::default(),
            sub_attributes: Default::default(),
        };
        assert!(check_immutable(def, None, Some(&json!("a")), "title").is_ok());
        assert!(check_immutable(def, Some(&json!("a")), Some(&json!("a")), "title").is_ok());
        let e = check_immutable(def, Some(&json!("a")), Some(&json!("b")), "title")
            .expect_err("changed");
        assert_eq!(e.scim_type, Some(ScimType::Mutability));
        assert!(check_immutable(def, Some(&json!("a")), None, "title").is_err());
    }

    #[test]
    fn required_attribute_cannot_be_removed() {
        let (t, d) = err_type(patch_user(ops(json!([{"op":"remove","path":"userName"}]))));
        assert_eq!(t, Some(ScimType::InvalidValue));
        assert!(d.contains("userName"), "{d}");
        assert!(patch_user(ops(json!([{"op":"replace","path":"userName","value":""}]))).is_err());
    }

    /// Issue 21: a path to an attribute no schema defines used to be 400 invalidPath; the
    /// operation is now skipped and the name noted, and only a strict tenant refuses it, with
    /// invalidSyntax naming the attribute and the fix.
    #[test]
    fn undeclared_paths_are_skipped_and_noted_or_refused_when_strict() {
        for (op, name, named) in [
            (
                json!({"op":"replace","path":"badge","value":"x"}),
                "badge",
                "userName",
            ),
            (
                json!({"op":"replace","path":"urn:example:custom:1.0:User:badge","value":"x"}),
                "urn:example:custom:1.0:User:badge",
                ENT,
            ),
            (
                json!({"op":"replace","path":"name.nick","value":"x"}),
                "name.nick",
                "givenName",
            ),
            (
                json!({"op":"replace","path":format!("{ENT}:badge"),"value":"x"}),
                &format!("{ENT}:badge"),
                "employeeNumber",
            ),
            (
                json!({"op":"add","value":{ENT:{"badge":"1"}}}),
                &format!("{ENT}:badge"),
                "employeeNumber",
            ),
            (
                json!({"op":"add","value":{"costCentre":"1","displayName":"D"}}),
                "costCentre",
                "userName",
            ),
            (
                json!({"op":"remove","path":"costCentre"}),
                "costCentre",
                "userName",
            ),
        ] {
            let body = ops(json!([op, {"op":"replace","path":"title","value":"T"}]));
            let (out, q) = patch_noticing(&body, false);
            let out = out.expect("skipped, not refused");
            assert_eq!(out.doc["title"], "T", "the other operations apply: {op}");
            assert_eq!(q.ignored(), [name], "{op}");
            let mut expected = user();
            expected.insert("title".into(), json!("T"));
            if op["value"]["displayName"] == "D" {
                expected.insert("displayName".into(), json!("D"));
            }
            assert_eq!(out.doc, expected, "nothing undeclared is stored: {op}");

            let (out, q) = patch_noticing(&body, true);
            let e = out.expect_err("strict");
            assert_eq!(
                (e.status, e.scim_type),
                (400, Some(ScimType::InvalidSyntax)),
                "{op}"
            );
            assert!(
                e.detail.contains(named) && e.detail.contains("strict"),
                "{}",
                e.detail
            );
            assert!(q.ignored().is_empty());
        }
        // Declared attributes used wrongly keep their errors, strict or not.
        for strict in [false, true] {
            for bad in [
                json!({"op":"replace","path":"userName[value eq \"x\"].foo","value":"x"}),
                json!({"op":"replace","path":"userName.foo","value":"x"}),
            ] {
                let (out, _) = patch_noticing(&ops(json!([bad])), strict);
                assert_eq!(err_type(out).0, Some(ScimType::InvalidPath));
            }
            let (out, _) = patch_noticing(
                &ops(json!([{"op":"replace","path":"active","value":"yes"}])),
                strict,
            );
            assert_eq!(err_type(out).0, Some(ScimType::InvalidValue));
        }
    }

    #[test]
    fn dialect_is_noted() {
        let (_, q) = patch_noticing(
            &ops(json!([{"op":"remove","path":"emails[primary eq \"True\"]"}])),
            false,
        );
        assert!(
            q.contains(Quirk::StringBoolean),
            "a string boolean in a path filter"
        );
        let body = json!({"Operations":[
            {"op":"Replace","path":"active","value":"False"},
            {"op":"replace","value":{"name.givenName":"G","id":"id-1"}},
            {"op":"Add","path":"manager","value":[{"value":"m2"}]},
            {"op":"replace","path":"emails[type eq \"other\"].value","value":"o@x"},
            {"op":"remove","path":"emails","value":[{"value":"bj@home.example"}]}
        ]});
        let (out, q) = patch_noticing(&body, false);
        out.expect("applies");
        let seen: Vec<Quirk> = q.applied().collect();
        assert_eq!(
            seen,
            [
                Quirk::StringBoolean,
                Quirk::CapitalisedOp,
                Quirk::PathlessPatch,
                Quirk::PathKeysInValue,
                Quirk::ArrayForSingleValue,
                Quirk::RemoveMembersByValue,
                Quirk::OwnIdInPatchValue,
                Quirk::PatchWithoutSchemas,
                Quirk::UnqualifiedExtensionAttribute,
                Quirk::FilterCreatesElement,
            ]
        );
        let (_, plain) = patch_noticing(
            &ops(json!([{"op":"replace","path":"active","value":false}])),
            false,
        );
        assert!(plain.is_empty(), "{plain:?}");
    }

    #[test]
    fn bare_extension_urn_path() {
        let d = ok_user(ops(json!([{"op":"remove","path":ENT}])));
        assert!(!d.contains_key(ENT));
        let d = ok_user(ops(
            json!([{"op":"replace","path":ENT,"value":{"costCenter":"42"}}]),
        ));
        assert_eq!(d[ENT]["costCenter"], "42");
        assert_eq!(d[ENT]["employeeNumber"], "1");
        // The extension's own `schemas` restating the path is tolerated and not stored…
        let d = ok_user(ops(
            json!([{"op":"add","path":ENT,"value":{"schemas":[ENT],"division":"R&D"}}]),
        ));
        assert_eq!(d[ENT]["division"], "R&D");
        assert!(d[ENT].get("schemas").is_none(), "{:?}", d[ENT]);
        // …but any other `schemas` value is still an undeclared attribute.
        let (out, q) = patch_noticing(
            &ops(json!([{"op":"add","path":ENT,"value":{"schemas":["urn:x"],"division":"R&D"}}])),
            false,
        );
        assert_eq!(out.expect("skipped").doc[ENT]["division"], "R&D");
        assert_eq!(q.ignored(), [format!("{ENT}:schemas")]);
    }

    #[test]
    fn filter_matching_rules() {
        let (t, d) = err_type(patch_user(ops(
            json!([{"op":"remove","path":"emails[kind eq \"work\"]"}]),
        )));
        assert_eq!(t, Some(ScimType::InvalidFilter));
        assert!(d.contains("kind"), "{d}");
        let (t, _) = err_type(patch_user(ops(
            json!([{"op":"remove","path":"emails[primary gt true]"}]),
        )));
        assert_eq!(t, Some(ScimType::InvalidFilter));
        // An empty list still validates the filter.
        let (t, _) = err_type(patch_user(ops(
            json!([{"op":"remove","path":"ims[bogus pr]"}]),
        )));
        assert_eq!(t, Some(ScimType::InvalidFilter));
        for (filter, left) in [
            ("value ew \"HOME.example\"", 1),
            ("type sw \"w\" and primary eq true", 1),
            ("not (type eq \"work\")", 1),
            ("primary pr", 1),
            ("display pr", 2),
            ("type ne \"work\"", 1),
            ("value co \"bj\" or type eq \"x\"", 0),
            ("value gt \"bj@i\"", 1),
            ("primary eq \"True\"", 1),
        ] {
            let path = format!("emails[{filter}]");
            let d = ok_user(ops(json!([{"op":"remove","path":path}])));
            let n = d
                .get("emails")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            assert_eq!(n, left, "{filter}");
        }
    }

    #[test]
    fn longest_or_chain_is_matched_without_overflow() {
        let term = "value eq \"nobody@x\" or ";
        let n = MAX_TERMS - 1;
        let path = format!("emails[{}type eq \"home\"]", term.repeat(n));
        let d = ok_user(ops(json!([{"op":"remove","path":path}])));
        assert_eq!(d["emails"].as_array().map(Vec::len), Some(1));
        let ids = format!(
            "members[{}value eq \"last\"]",
            "value eq \"a\" or ".repeat(MAX_TERMS - 1)
        );
        let changes = members(patch_group(ops(json!([{"op":"remove","path":ids}]))));
        assert!(matches!(&changes[..], [MemberChange::Remove(ids)] if ids.len() == MAX_TERMS));
    }

    #[test]
    fn parse_errors() {
        let (t, d) = err_type(patch_user(
            json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
            "Operations":[{"op":"add","path":"nickName","value":"x"}]}),
        ));
        assert_eq!(t, Some(ScimType::InvalidValue));
        assert!(d.contains("ListResponse"), "{d}");
        // Missing `schemas` is tolerated and keys are case-insensitive.
        assert!(
            patch_user(json!({"operations":[{"OP":"ADD","Path":"nickName","Value":"x"}]})).is_ok()
        );
        let (t, d) = err_type(patch_user(ops(
            json!([{"op":"merge","path":"nickName","value":"x"}]),
        )));
        assert_eq!(t, Some(ScimType::InvalidValue));
        assert!(d.contains("add, remove, replace"), "{d}");
        let (t, d) = err_type(patch_user(ops(
            json!([{"op":"add","path":"emails[type eq]","value":"x"}]),
        )));
        assert_eq!(t, Some(ScimType::InvalidPath));
        assert!(d.contains("position"), "{d}");
        let (t, _) = err_type(patch_user(ops(json!([{"op":"replace","path":"nickName"}]))));
        assert_eq!(t, Some(ScimType::InvalidValue));
        let (t, _) = err_type(patch_user(ops(json!([{"op":"remove"}]))));
        assert_eq!(t, Some(ScimType::NoTarget));
        assert!(patch_user(ops(json!([]))).is_err());
        assert!(patch_user(json!({"schemas":[PATCH_OP_URN]})).is_err());
        assert!(patch_user(json!([])).is_err());
        let (t, _) = err_type(patch_user(ops(json!([{"op":"add","value":"x"}]))));
        assert_eq!(t, Some(ScimType::InvalidValue));
    }

    #[test]
    fn operations_over_the_limit_are_413_before_any_is_parsed() {
        let limits = WriteLimits {
            max_patch_operations: 3,
            ..WriteLimits::default()
        };
        let op = json!({"op":"replace","path":"nickName","value":"x"});
        assert!(parse_patch(&ops(json!([op, op, op])), &limits, &mut Quirks::default()).is_ok());
        // The fourth operation is not even valid: the count is checked first.
        let e = parse_patch(
            &ops(json!([op, op, op, {"op":"bogus"}])),
            &limits,
            &mut Quirks::default(),
        )
        .expect_err("over the limit");
        assert_eq!(e.status, 413);
        assert_eq!(e.scim_type, None);
        assert!(
            e.detail.contains("limits.max_patch_operations"),
            "{}",
            e.detail
        );
        assert!(e.detail.contains("4 operations"), "{}", e.detail);
    }

    #[test]
    fn multi_valued_attributes_stop_at_the_limit() {
        let limits = WriteLimits {
            max_multi_values: 5,
            ..WriteLimits::default()
        };
        let run = |body: Value| {
            let parsed = parse_patch(&body, &limits, &mut Quirks::default())?;
            apply_patch(
                &USER,
                "id-1",
                &user(),
                &parsed,
                &limits,
                &mut Quirks::default(),
            )
        };
        let emails = |n: usize| -> Vec<Value> {
            (0..n)
                .map(|i| json!({"value": format!("e{i}@x")}))
                .collect()
        };
        // The user has 2 emails: 3 more fit, 4 do not, in one add or in many.
        assert!(run(ops(json!([{"op":"add","path":"emails","value":emails(3)}]))).is_ok());
        for body in [
            ops(json!([{"op":"add","path":"emails","value":emails(4)}])),
            ops(json!([{"op":"add","path":"emails","value":emails(400)}])),
            ops(json!((0..4).map(|i| json!({"op":"add","path":"emails","value":[{"value":format!("n{i}@x")}]})).collect::<Vec<_>>())),
            ops(json!([{"op":"replace","path":"emails","value":emails(6)}])),
            ops(json!([{"op":"add","value":{"phoneNumbers":emails(6)}}])),
        ] {
            let (t, d) = err_type(run(body));
            assert_eq!(t, Some(ScimType::InvalidValue));
            assert!(d.contains("limits.max_multi_values"), "{d}");
        }
        // Duplicates merge, so they do not count.
        let again: Vec<Value> = (0..20)
            .map(|_| json!({"value":"BJ@work.example"}))
            .collect();
        assert!(run(ops(json!([{"op":"add","path":"emails","value":again}]))).is_ok());

        // A user stored with more (before the limit was lowered) can still be changed, and
        // its list shrink, but not grow.
        let mut big = user();
        big.insert("emails".into(), Value::Array(emails(7)));
        let on_big = |body: Value| {
            let parsed = parse_patch(&body, &limits, &mut Quirks::default())?;
            apply_patch(
                &USER,
                "id-1",
                &big,
                &parsed,
                &limits,
                &mut Quirks::default(),
            )
        };
        assert!(on_big(ops(json!([{"op":"replace","path":"active","value":false}]))).is_ok());
        assert!(
            on_big(ops(
                json!([{"op":"remove","path":"emails[value eq \"e0@x\"]"}])
            ))
            .is_ok()
        );
        let (t, _) = err_type(on_big(ops(
            json!([{"op":"add","path":"emails","value":[{"value":"new@x"}]}]),
        )));
        assert_eq!(t, Some(ScimType::InvalidValue));
    }

    /// The `eq` index kept across operations gives the same document as applying each operation
    /// on its own (where every operation starts without an index).
    #[test]
    fn the_filter_index_agrees_with_one_operation_at_a_time() {
        let base = doc(json!({
            "userName": "u",
            "emails": (0..6).map(|i| json!({"value": format!("E{i}@x"), "type": "work"})).collect::<Vec<_>>(),
            "phoneNumbers": [{"value": "1", "type": "home"}]
        }));
        let list = json!([
            {"op":"replace","path":"emails[value eq \"e1@x\"].type","value":"home"},
            {"op":"replace","path":"emails[value eq \"E2@X\"].display","value":"two"},
            {"op":"remove","path":"emails[value eq \"e0@x\"]"},
            {"op":"replace","path":"emails[value eq \"e3@x\"].type","value":"other"},
            {"op":"replace","path":"emails[value eq \"e3@x\"].value","value":"e9@x"},
            {"op":"replace","path":"emails[value eq \"e9@x\"].type","value":"nine"},
            {"op":"replace","path":"emails[value eq \"e3@x\"].type","value":"gone"},
            {"op":"add","path":"emails","value":[{"value":"e7@x"}]},
            {"op":"replace","path":"emails[value eq \"e7@x\"].type","value":"seven"},
            {"op":"replace","path":"phoneNumbers[value eq \"1\"].type","value":"work"},
            {"op":"remove","path":"emails[value eq \"e4@x\"].type"},
            {"op":"replace","path":"emails[value eq \"e5@x\"].primary","value":true},
            {"op":"replace","path":"emails[value eq \"e1@x\"].primary","value":true},
            {"op":"remove","path":"emails[value eq \"e5@x\"].value"},
            {"op":"replace","path":"emails[value eq \"e1@x\"].type","value":"last"}
        ]);
        let limits = WriteLimits::default();
        let all = apply_patch(
            &USER,
            "id-1",
            &base,
            &parse_patch(&ops(list.clone()), &limits, &mut Quirks::default()).expect("parse"),
            &limits,
            &mut Quirks::default(),
        )
        .expect("applies")
        .doc;
        let mut one_by_one = base;
        for op in list.as_array().expect("array") {
            let parsed =
                parse_patch(&ops(json!([op])), &limits, &mut Quirks::default()).expect("parse");
            one_by_one = apply_patch(
                &USER,
                "id-1",
                &one_by_one,
                &parsed,
                &limits,
                &mut Quirks::default(),
            )
            .expect("applies")
            .doc;
        }
        assert_eq!(all, one_by_one);
        let emails = all["emails"].as_array().expect("emails");
        let types: Vec<(&str, Option<&str>)> = emails
            .iter()
            .map(|e| {
                (
                    e["value"].as_str().unwrap_or(""),
                    e.get("type").and_then(Value::as_str),
                )
            })
            .collect();
        assert_eq!(
            types,
            [
                ("E1@x", Some("last")),
                ("E2@x", Some("work")),
                ("e9@x", Some("nine")),
                ("E4@x", None),
                // An eq filter that matches nothing creates its element (Entra, section E).
                ("e3@x", Some("gone")),
                ("e7@x", Some("seven"))
            ]
        );
        assert_eq!(emails[0]["primary"], json!(true));
    }

    mod fuzz {
        use super::*;
        use proptest::prelude::*;

        fn json_leaf() -> impl Strategy<Value = Value> {
            prop_oneof![
                1 => Just(Value::Null),
                1 => any::<bool>().prop_map(Value::Bool),
                1 => any::<i64>().prop_map(|n| json!(n)),
                3 => prop::sample::select(vec![
                    "",
                    "x",
                    "True",
                    "work",
                    "id-1",
                    "a@b",
                    "2024-01-01T00:00:00Z",
                    ENT,
                ])
                .prop_map(|s| json!(s)),
                1 => "\\PC{0,8}".prop_map(Value::String),
            ]
        }

        fn json_value() -> impl Strategy<Value = Value> {
            json_leaf().prop_recursive(3, 24, 4, |inner| {
                let key = prop::sample::select(vec![
                    "value",
                    "type",
                    "primary",
                    "display",
                    "$ref",
                    "givenName",
                    "name.givenName",
                    "emails",
                    "members",
                    "id",
                    "active",
                    "userName",
                    "manager",
                    "meta",
                    ENT,
                    "password",
                    "bogus",
                    "schemas",
                ]);
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                    prop::collection::vec((key, inner), 0..4).prop_map(|kv| Value::Object(
                        kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
                    )),
                ]
            })
        }

        fn path() -> impl Strategy<Value = Option<String>> {
            let known = prop::sample::select(vec![
                "userName",
                "name",
                "name.givenName",
                "emails",
                "emails.value",
                "emails[type eq \"work\"]",
                "emails[type eq \"work\"].value",
                "emails[value co \"@\" or not (primary eq true)].primary",
                "members",
                "members[value eq \"u\"]",
                "members[value eq \"u\" or value eq \"v\"]",
                "members[display eq \"x\"]",
                "members.value",
                "displayName",
                "active",
                "meta",
                "id",
                "groups",
                "password",
                "manager",
                "manager.value",
                ENT,
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
                "urn:ietf:params:scim:schemas:core:2.0:User:emails[primary pr]",
                "roles[x eq 1]",
                "emails[type eq",
                "",
                "phoneNumbers[type eq \"mobile\" and primary eq true].value",
                "addresses[type eq \"work\"].locality",
                "x509Certificates[value gt \"a\"]",
            ])
            .prop_map(str::to_owned);
            prop_oneof![
                2 => Just(None),
                8 => known.prop_map(Some),
                1 => "\\PC{0,16}".prop_map(Some),
            ]
        }

        fn operation() -> impl Strategy<Value = Value> {
            let op = prop::sample::select(vec![
                "add", "Add", "replace", "Replace", "remove", "REMOVE", "move",
            ]);
            (op, path(), prop::option::weighted(0.9, json_value())).prop_map(|(op, path, value)| {
                let mut o = Map::new();
                o.insert("op".into(), json!(op));
                if let Some(p) = path {
                    o.insert("path".into(), json!(p));
                }
                if let Some(v) = value {
                    o.insert("value".into(), v);
                }
                Value::Object(o)
            })
        }

        /// Values an IdP might plausibly send, so most generated operations get past parsing.
        fn plausible_value() -> impl Strategy<Value = Value> {
            let text = prop::sample::select(vec![
                "", "x", "True", "false", "work", "home", "u", "id-1", "a@b",
            ])
            .prop_map(|s| json!(s));
            let element = (
                prop::option::of(text.clone()),
                prop::option::of(prop::sample::select(vec![
                    "work", "home", "User", "Group", "other",
                ])),
                prop::option::of(prop_oneof![
                    any::<bool>().prop_map(Value::Bool),
                    Just(json!("True"))
                ]),
            )
                .prop_map(|(value, kind, primary)| {
                    let mut o = Map::new();
                    if let Some(v) = value {
                        o.insert("value".into(), v);
                    }
                    if let Some(k) = kind {
                        o.insert("type".into(), json!(k));
                    }
                    if let Some(p) = primary {
                        o.insert("primary".into(), p);
                    }
                    Value::Object(o)
                });
            prop_oneof![
                text,
                any::<bool>().prop_map(Value::Bool),
                Just(Value::Null),
                element.clone(),
                prop::collection::vec(element, 0..3).prop_map(Value::Array),
                Just(json!({"displayName":"d","name.familyName":"f","active":"False","id":"id-1"})),
                Just(json!({ENT: {"manager":"m1","department":"d"}})),
            ]
        }

        /// Operations on `emails` by `value eq` (what the index serves) and a few that disturb
        /// it: removals, value changes, other filters, whole-list adds, primary flags.
        fn indexed_operation() -> impl Strategy<Value = Value> {
            let email = (0..6usize).prop_map(|i| format!("E{i}@x"));
            let flag = prop_oneof![Just(json!(true)), Just(json!(false)), Just(json!("True"))];
            prop_oneof![
                4 => (email.clone(), prop::sample::select(vec!["type", "display"]), "[a-c]")
                    .prop_map(|(e, sub, v)| json!({"op":"replace","path":format!("emails[value eq \"{}\"].{sub}", e.to_lowercase()),"value":v})),
                4 => (email.clone(), flag.clone())
                    .prop_map(|(e, f)| json!({"op":"replace","path":format!("emails[value eq \"{e}\"].primary"),"value":f})),
                1 => email.clone().prop_map(|e| json!({"op":"remove","path":format!("emails[value eq \"{e}\"]")})),
                1 => (email.clone(), email.clone()).prop_map(|(a, b)| json!({"op":"replace","path":format!("emails[value eq \"{a}\"].value"),"value":b})),
                1 => email.clone().prop_map(|e| json!({"op":"add","path":"emails","value":[{"value":e,"primary":true}]})),
                1 => flag.prop_map(|f| json!({"op":"replace","path":"emails[type eq \"a\"].primary","value":f})),
                1 => email.prop_map(|e| json!({"op":"remove","path":format!("emails[value eq \"{e}\"].type")})),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]
            /// The index and the primary flag it tracks, kept across the operations of one
            /// request, give what applying each operation as its own request gives.
            #[test]
            fn indexed_operations_agree_with_one_at_a_time(list in prop::collection::vec(indexed_operation(), 1..12), primary in 0..5usize) {
                let emails: Vec<Value> = (0..4)
                    .map(|i| if i == primary { json!({"value": format!("e{i}@x"), "type": "a", "primary": true}) } else { json!({"value": format!("e{i}@x"), "type": "b"}) })
                    .collect();
                let base = doc(json!({"userName": "u", "emails": emails}));
                let limits = WriteLimits::default();
                let together = parse_patch(&ops(Value::Array(list.clone())), &limits, &mut Quirks::default())
                    .and_then(|o| apply_patch(&USER, "id-1", &base, &o, &limits, &mut Quirks::default()))
                    .map(|out| out.doc);
                let mut alone = Ok(base);
                for op in &list {
                    alone = alone.and_then(|d| {
                        let o = parse_patch(&ops(json!([op])), &limits, &mut Quirks::default())?;
                        apply_patch(&USER, "id-1", &d, &o, &limits, &mut Quirks::default()).map(|out| out.doc)
                    });
                }
                match (together, alone) {
                    (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
                    (Err(_), Err(_)) => {}
                    (a, b) => prop_assert!(false, "together {:?}, alone {:?}", a, b),
                }
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2048))]
            #[test]
            fn random_patch_bodies_never_panic(list in prop::collection::vec(operation(), 1..5), schemas in any::<bool>()) {
                let body = if schemas { ops(Value::Array(list)) } else { json!({"Operations": list}) };
                let group = doc(json!({"displayName":"g"}));
                for (rt, base) in [(&USER, user()), (&GROUP, group)] {
                    match parse_patch(&body, &WriteLimits::default(), &mut Quirks::default()).and_then(|o| apply_patch(rt, "id-1", &base, &o, &WriteLimits::default(), &mut Quirks::default())) {
                        Ok(out) => {
                            // A patched document is itself a valid, canonical resource.
                            let again = crate::scim::resource::validate(rt, &Value::Object(out.doc.clone()), &mut Quirks::default());
                            prop_assert!(again.is_ok(), "{:?} -> {:?}", out.doc, again);
                            if let Ok(again) = again {
                                prop_assert_eq!(&again.doc, &out.doc);
                                prop_assert_eq!(again.password, None);
                            }
                        }
                        Err(e) => prop_assert_eq!(e.status, 400, "{}", e.detail),
                    }
                }
            }

            #[test]
            fn plausible_operations_keep_the_document_valid(
                list in prop::collection::vec(
                    (prop::sample::select(vec!["add", "replace", "remove"]), path(), plausible_value()),
                    1..4,
                ),
            ) {
                let list: Vec<Value> = list
                    .into_iter()
                    .map(|(op, path, value)| json!({"op": op, "path": path, "value": value}))
                    .collect();
                let body = ops(Value::Array(list));
                let group = doc(json!({"displayName":"g"}));
                for (rt, base) in [(&USER, user()), (&GROUP, group)] {
                    match parse_patch(&body, &WriteLimits::default(), &mut Quirks::default()).and_then(|o| apply_patch(rt, "id-1", &base, &o, &WriteLimits::default(), &mut Quirks::default())) {
                        Ok(out) => {
                            let again = crate::scim::resource::validate(rt, &Value::Object(out.doc.clone()), &mut Quirks::default());
                            prop_assert!(again.is_ok(), "{:?} -> {:?}", out.doc, again);
                            if let Ok(again) = again {
                                prop_assert_eq!(&again.doc, &out.doc);
                            }
                        }
                        Err(e) => prop_assert_eq!(e.status, 400, "{}", e.detail),
                    }
                }
            }

            #[test]
            fn arbitrary_json_bodies_never_panic(body in json_value()) {
                if let Err(e) = parse_patch(&body, &WriteLimits::default(), &mut Quirks::default()).and_then(|o| apply_patch(&USER, "id-1", &user(), &o, &WriteLimits::default(), &mut Quirks::default())) {
                    prop_assert_eq!(e.status, 400);
                }
            }
        }
    }
}
