//! Turns a client's resource JSON into scimd's canonical document (RFC 7643 §2, §3): attribute
//! names in their schema spelling, values checked against their type, read-only attributes
//! dropped, unassigned values (null, "", []) removed, extension attributes under their URN.
//! Strict about what a value means, tolerant of how IdPs spell it (see idp-requirements.md).

use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::error::{Result, ScimError};
use super::quirks::{Quirk, Quirks, STRICT_FIX};
use super::schema::{AttrDef, AttrType, Mutability, ResourceType, SchemaDef};

/// A resource body as stored: canonical attribute names, no `id`, `meta`, `schemas` or
/// `password` (those are the server's to add or hash).
pub type Document = Map<String, Value>;

/// A validated create/replace body.
#[derive(Debug, Clone, PartialEq)]
pub struct Validated {
    pub doc: Document,
    /// The cleartext password, if one was sent; the caller hashes it and drops it.
    pub password: Option<String>,
}

/// Bounds on what one write may make the server compute or store (`[limits]` in the
/// configuration; the service layer passes them in, this module knows no configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteLimits {
    /// Most operations in one PATCH request (`limits.max_patch_operations`).
    pub max_patch_operations: usize,
    /// Most values of one multi-valued attribute stored in a resource (`emails`, `phoneNumbers`,
    /// …; `limits.max_multi_values`). A group's `members` are not counted: they live in their
    /// own table, and a PATCH of many members costs one indexed row each.
    pub max_multi_values: usize,
}

impl Default for WriteLimits {
    fn default() -> Self {
        Self {
            max_patch_operations: 1_000,
            max_multi_values: 1_000,
        }
    }
}

/// Refuses a document holding more values in one multi-valued attribute than the limit.
/// 400 invalidValue rather than 413: the resource itself would break a bound of this server,
/// so splitting the request would not help (RFC 7644 §3.12: "the value specified was not
/// compatible with the operation or attribute type"). With `before` (a PATCH), an attribute
/// already over the limit (stored before the limit was lowered) may stay as large or shrink,
/// so that an unrelated change (an IdP deactivating the user) still goes through.
pub fn check_multi_values(
    rt: &ResourceType,
    doc: &Document,
    before: Option<&Document>,
    limits: &WriteLimits,
) -> Result<()> {
    let blocks = std::iter::once(None).chain(rt.extensions.iter().map(|e| Some(&**e)));
    for ext in blocks {
        let Some(block) = block_of(doc, ext) else {
            continue;
        };
        for (name, value) in block {
            let was = before
                .and_then(|b| block_of(b, ext))
                .and_then(|b| b.get(name))
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            if let Value::Array(items) = value
                && items.len() > limits.max_multi_values
                && (before.is_none() || items.len() > was)
            {
                let label = match ext {
                    Some(e) => format!("{}:{name}", e.id),
                    None => name.clone(),
                };
                return Err(too_many_values(&label, items.len(), limits));
            }
        }
    }
    Ok(())
}

/// The core attributes (`ext` None) or an extension's block of a document.
fn block_of<'d>(doc: &'d Document, ext: Option<&SchemaDef>) -> Option<&'d Map<String, Value>> {
    match ext {
        None => Some(doc),
        Some(e) => doc.get(&*e.id).and_then(Value::as_object),
    }
}

/// The error for a multi-valued attribute over `limits.max_multi_values`.
pub fn too_many_values(label: &str, count: usize, limits: &WriteLimits) -> ScimError {
    ScimError::invalid_value(format!(
        "{label} would hold {count} values; this server keeps at most {} values per multi-valued attribute (limits.max_multi_values). Remove values first, or ask the administrator to raise limits.max_multi_values in scimd.toml",
        limits.max_multi_values
    ))
}

/// Validates a full resource body (POST, PUT) against the resource type's schemas. Names no
/// schema defines are skipped and recorded in `quirks`, or refused when it is strict; so are
/// the other dialect normalisations applied.
pub fn validate(rt: &ResourceType, body: &Value, quirks: &mut Quirks) -> Result<Validated> {
    let Value::Object(input) = body else {
        return Err(ScimError::invalid_syntax(format!(
            "the request body must be a JSON object holding a {} resource, not {}",
            rt.name,
            json_kind(body)
        )));
    };
    let mut doc = Document::new();
    let mut password = None;
    for (key, value) in input {
        if key.eq_ignore_ascii_case("schemas") {
            check_schemas(rt, value, quirks)?;
        } else if let Some(ext) = rt.extension(key) {
            if let Some(block) = validate_extension(ext, value, quirks)? {
                doc.insert(ext.id.to_string(), Value::Object(block));
            }
        } else if let Some(def) = rt.schema.attr(key).or_else(|| common_writable(key)) {
            if def.name == "password" {
                if !value.is_null() {
                    quirks.check_password()?;
                }
                password = validate_value(def, value, &def.name, quirks)?
                    .and_then(|v| v.as_str().map(str::to_owned));
            } else if !def.is_read_only()
                && let Some(v) = validate_value(def, value, &def.name, quirks)?
            {
                doc.insert(def.name.to_string(), v);
            }
        } else if is_read_only_common(key) {
            // RFC 7644 §3.3: readOnly attributes in a request "SHALL be ignored".
        } else {
            quirks.undeclared(key, || unknown_attribute(rt, key))?;
        }
    }
    check_required(rt.schema, &doc)?;
    Ok(Validated { doc, password })
}

/// Checks a value for one attribute and returns it in canonical form, or `None` when the value
/// means "unassigned" (RFC 7643 §2.5: null and empty arrays; IdPs also send `""`, S57, S73).
/// `path` names the attribute in error details, e.g. `emails[0].primary`.
pub fn validate_value(
    def: &AttrDef,
    value: &Value,
    path: &str,
    quirks: &mut Quirks,
) -> Result<Option<Value>> {
    if def.multi_valued {
        return validate_multi(def, value, path, quirks);
    }
    validate_single(def, value, path, quirks)
}

fn validate_multi(
    def: &AttrDef,
    value: &Value,
    path: &str,
    quirks: &mut Quirks,
) -> Result<Option<Value>> {
    let items: Vec<&Value> = match value {
        Value::Null => return Ok(None),
        Value::Array(items) => items.iter().collect(),
        // OneLogin sends a lone object where an array belongs (S73); its meaning is unambiguous.
        single => {
            quirks.note(Quirk::SingleValueForMultiValued);
            vec![single]
        }
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        if let Some(v) = validate_single(def, item, &format!("{path}[{i}]"), quirks)? {
            out.push(v);
        }
    }
    check_single_primary(&out, path)?;
    Ok(if out.is_empty() {
        None
    } else {
        Some(Value::Array(out))
    })
}

/// RFC 7643 §2.4: "The primary attribute value 'true' MUST appear no more than once."
fn check_single_primary(items: &[Value], path: &str) -> Result<()> {
    let primaries = items
        .iter()
        .filter(|v| v.get("primary") == Some(&Value::Bool(true)))
        .count();
    if primaries > 1 {
        return Err(ScimError::invalid_value(format!(
            "{path} has {primaries} values marked \"primary\": true; at most one value may be primary"
        )));
    }
    Ok(())
}

fn validate_single(
    def: &AttrDef,
    value: &Value,
    path: &str,
    quirks: &mut Quirks,
) -> Result<Option<Value>> {
    if value.is_null() {
        return Ok(None);
    }
    match def.ty {
        AttrType::Complex => validate_complex(def, value, path, quirks),
        AttrType::String | AttrType::Reference | AttrType::Binary => match value {
            Value::String(s) if s.is_empty() => {
                quirks.note(Quirk::EmptyStringAsUnassigned);
                Ok(None)
            }
            Value::String(s) => {
                if !def.canonical_values.is_empty() && !def.canonical_values.iter().any(|c| c == s)
                {
                    quirks.non_canonical(path, s, &def.canonical_values)?;
                }
                Ok(Some(value.clone()))
            }
            // A number where a string belongs has one obvious meaning (employeeNumber 701984).
            Value::Number(n) => {
                quirks.note(Quirk::NumberAsString);
                Ok(Some(Value::String(n.to_string())))
            }
            other => Err(wrong_type(path, "a string", other)),
        },
        AttrType::Boolean => match value {
            Value::Bool(_) => Ok(Some(value.clone())),
            // Entra sends "True"/"False" strings by default (S54, S56).
            Value::String(s) if s.eq_ignore_ascii_case("true") => {
                quirks.note(Quirk::StringBoolean);
                Ok(Some(Value::Bool(true)))
            }
            Value::String(s) if s.eq_ignore_ascii_case("false") => {
                quirks.note(Quirk::StringBoolean);
                Ok(Some(Value::Bool(false)))
            }
            other => Err(wrong_type(path, "a boolean (true or false)", other)),
        },
        AttrType::Integer => match value {
            Value::Number(n) if n.is_i64() => Ok(Some(value.clone())),
            other => Err(wrong_type(path, "an integer", other)),
        },
        AttrType::Decimal => match value {
            Value::Number(_) => Ok(Some(value.clone())),
            other => Err(wrong_type(path, "a number", other)),
        },
        AttrType::DateTime => match value {
            Value::String(s) if s.is_empty() => {
                quirks.note(Quirk::EmptyStringAsUnassigned);
                Ok(None)
            }
            Value::String(s) if OffsetDateTime::parse(s, &Rfc3339).is_ok() => {
                Ok(Some(value.clone()))
            }
            other => Err(wrong_type(
                path,
                "a dateTime such as \"2024-05-13T04:42:34Z\"",
                other,
            )),
        },
    }
}

fn validate_complex(
    def: &AttrDef,
    value: &Value,
    path: &str,
    quirks: &mut Quirks,
) -> Result<Option<Value>> {
    let object = match value {
        Value::Object(o) => o,
        // A bare id where a {"value": id} object belongs: Entra's manager (S57), plain lists of
        // emails. Only for complex attributes that have a `value` sub-attribute.
        Value::String(s) if def.sub("value").is_some() => {
            quirks.note(if s.is_empty() {
                Quirk::EmptyStringAsUnassigned
            } else {
                Quirk::BareValueForComplex
            });
            return Ok((!s.is_empty()).then(|| serde_json::json!({ "value": s })));
        }
        other => return Err(wrong_type(path, "an object", other)),
    };
    let mut out = Map::new();
    for (key, v) in object {
        let Some(sub) = def.sub(key) else {
            let name = format!("{}.{key}", def.name);
            quirks.undeclared(&name, || {
                let known: Vec<&str> = def.sub_attributes.iter().map(|s| &*s.name).collect();
                format!(
                    "{path} has no sub-attribute \"{key}\"; {} takes {}; {STRICT_FIX}",
                    def.name,
                    known.join(", ")
                )
            })?;
            continue;
        };
        if sub.is_read_only() {
            continue;
        }
        if let Some(v) = validate_single(sub, v, &format!("{path}.{}", sub.name), quirks)? {
            out.insert(sub.name.to_string(), v);
        }
    }
    Ok((!out.is_empty()).then_some(Value::Object(out)))
}

fn validate_extension(
    ext: &SchemaDef,
    value: &Value,
    quirks: &mut Quirks,
) -> Result<Option<Document>> {
    let Value::Object(input) = value else {
        if value.is_null() {
            return Ok(None);
        }
        return Err(wrong_type(
            &ext.id,
            "an object of the extension's attributes",
            value,
        ));
    };
    let mut block = Document::new();
    for (key, v) in input {
        let Some(def) = ext.attr(key) else {
            quirks.undeclared(&format!("{}:{key}", ext.id), || {
                let known: Vec<&str> = ext.attributes.iter().map(|a| &*a.name).collect();
                format!(
                    "{} has no attribute \"{key}\"; it defines {}; {STRICT_FIX}",
                    ext.id,
                    known.join(", ")
                )
            })?;
            continue;
        };
        if def.is_read_only() {
            continue;
        }
        let path = format!("{}:{}", ext.id, def.name);
        if let Some(v) = validate_value(def, v, &path, quirks)? {
            block.insert(def.name.to_string(), v);
        }
    }
    Ok((!block.is_empty()).then_some(block))
}

fn check_schemas(rt: &ResourceType, value: &Value, quirks: &mut Quirks) -> Result<()> {
    let urns: Vec<&Value> = match value {
        Value::Array(a) => a.iter().collect(),
        Value::String(_) => {
            quirks.note(Quirk::SchemasAsString);
            vec![value]
        }
        other => return Err(wrong_type("schemas", "an array of schema URNs", other)),
    };
    for urn in urns {
        let Some(urn) = urn.as_str() else {
            return Err(wrong_type("schemas", "an array of schema URN strings", urn));
        };
        if rt.tolerates_schema(urn) && !quirks.is_profile() {
            quirks.note(Quirk::ForeignSchemaUrn);
        } else if rt.schema_by_urn(urn).is_none() {
            quirks.undeclared(urn, || {
                let mut supported = vec![&*rt.schema.id];
                supported.extend(rt.extensions.iter().map(|s| &*s.id));
                format!(
                    "schemas lists \"{urn}\", which this server does not support for {}; use {}; {STRICT_FIX}",
                    rt.name,
                    supported.join(" and/or ")
                )
            })?;
        }
    }
    Ok(())
}

fn check_required(schema: &SchemaDef, doc: &Document) -> Result<()> {
    for def in schema.attributes.iter().filter(|a| a.required) {
        if !doc.contains_key(&*def.name) {
            return Err(ScimError::invalid_value(format!(
                "{} is required for a {} and is missing or empty; send a non-empty \"{}\"",
                def.name, schema.name, def.name
            )));
        }
    }
    Ok(())
}

/// `externalId` is the one common attribute a client writes (RFC 7643 §3.1).
fn common_writable(key: &str) -> Option<&'static AttrDef> {
    super::schema::find(&super::schema::COMMON_ATTRIBUTES, key)
        .filter(|a| a.mutability != Mutability::ReadOnly)
}

fn is_read_only_common(key: &str) -> bool {
    super::schema::find(&super::schema::COMMON_ATTRIBUTES, key).is_some_and(AttrDef::is_read_only)
}

/// The detail refusing an undeclared top-level name (strict tenants).
fn unknown_attribute(rt: &ResourceType, key: &str) -> String {
    if key.to_ascii_lowercase().starts_with("urn:") {
        let ext: Vec<&str> = rt.extensions.iter().map(|s| &*s.id).collect();
        let hint = if ext.is_empty() {
            "none".to_owned()
        } else {
            ext.join(", ")
        };
        return format!(
            "\"{key}\" is not a schema extension this server supports for {}; supported extensions: {hint}; {STRICT_FIX}",
            rt.name
        );
    }
    format!(
        "\"{key}\" is not an attribute of the {} schema ({}) or of an extension (see /Schemas); {STRICT_FIX}",
        rt.name, rt.schema.id
    )
}

fn wrong_type(path: &str, expected: &str, got: &Value) -> ScimError {
    ScimError::invalid_value(format!(
        "{path} must be {expected}, but the request sent {}",
        json_kind(got)
    ))
}

/// A short description of a JSON value for error details; never echoes long or secret values.
pub fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::schema::{GROUP, USER};
    use serde_json::json;

    fn ok(body: Value) -> Validated {
        validate(&USER, &body, &mut Quirks::new(false)).expect("valid")
    }

    fn err(body: Value) -> ScimError {
        validate(&USER, &body, &mut Quirks::new(false)).expect_err("invalid")
    }

    /// The body validated leniently, and what was noticed.
    fn noticed(body: Value) -> (Validated, Quirks) {
        let mut q = Quirks::new(false);
        let v = validate(&USER, &body, &mut q).expect("valid");
        (v, q)
    }

    fn strict_err(body: Value) -> ScimError {
        validate(&USER, &body, &mut Quirks::new(true)).expect_err("refused when strict")
    }

    #[test]
    fn canonicalises_names_and_drops_read_only() {
        let v = ok(
            json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"UserName":"Bob","id":"x",
            "meta":{"resourceType":"User"},"groups":[],"Name":{"GivenName":"B"}}),
        );
        assert_eq!(
            v.doc,
            json!({"userName":"Bob","name":{"givenName":"B"}})
                .as_object()
                .cloned()
                .expect("obj")
        );
    }

    #[test]
    fn password_is_split_off() {
        let v = ok(json!({"userName":"a","password":"s3cret"}));
        assert_eq!(v.password.as_deref(), Some("s3cret"));
        assert!(!v.doc.contains_key("password"));
    }

    #[test]
    fn string_booleans_are_accepted() {
        assert_eq!(
            ok(json!({"userName":"a","active":"False"})).doc["active"],
            json!(false)
        );
        assert_eq!(
            ok(json!({"userName":"a","active":"TRUE"})).doc["active"],
            json!(true)
        );
        assert_eq!(
            err(json!({"userName":"a","active":"yes"})).detail,
            "active must be a boolean (true or false), but the request sent a string"
        );
    }

    /// Issue 21: an undeclared attribute used to be a 400; by default it is now skipped and
    /// recorded, and only a strict tenant refuses it (invalidSyntax, naming it and the fix).
    #[test]
    fn undeclared_attributes_are_ignored_and_recorded_or_refused_when_strict() {
        let ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
        let body = json!({"userName":"a","user_name":"b","costCentre":"1",
            "name":{"givenName":"G","nick":"n"}, ent: {"department":"D","badge":"7"}});
        let (v, q) = noticed(body.clone());
        assert_eq!(
            Value::Object(v.doc),
            json!({"userName":"a","name":{"givenName":"G"}, ent: {"department":"D"}})
        );
        assert_eq!(
            q.ignored(),
            [
                "user_name",
                "costCentre",
                "name.nick",
                &format!("{ent}:badge")
            ]
        );
        assert!(q.contains(Quirk::IgnoredAttributes));

        let e = strict_err(body);
        assert_eq!(
            (e.status, e.scim_type.map(|t| t.as_str())),
            (400, Some("invalidSyntax"))
        );
        assert!(e.detail.contains("\"user_name\""), "{}", e.detail);
        assert!(e.detail.contains("declare an extension"), "{}", e.detail);
        for body in [
            json!({"userName":"a","name":{"nick":"n"}}),
            json!({"userName":"a", ent: {"badge":"7"}}),
        ] {
            let e = strict_err(body);
            assert_eq!(e.scim_type.map(|t| t.as_str()), Some("invalidSyntax"));
            assert!(e.detail.contains("strict"), "{}", e.detail);
        }
    }

    /// Declared attributes keep their errors whatever the policy: only names no schema
    /// defines are ignored.
    #[test]
    fn declared_attributes_keep_their_errors() {
        for strict in [false, true] {
            let e = validate(
                &USER,
                &json!({"userName":"a","active":"yes"}),
                &mut Quirks::new(strict),
            )
            .expect_err("wrong type");
            assert_eq!(e.scim_type.map(|t| t.as_str()), Some("invalidValue"));
        }
        let (v, q) = noticed(json!({"userName":"a","id":"x","meta":{}}));
        assert_eq!(v.doc.len(), 1);
        assert!(q.is_empty(), "readOnly attributes are declared: {q:?}");
    }

    #[test]
    fn unknown_schema_is_ignored_or_refused_when_strict() {
        let (_, q) = noticed(json!({"schemas":["urn:example:custom"],"userName":"a"}));
        assert_eq!(q.ignored(), ["urn:example:custom"]);
        let e = strict_err(json!({"schemas":["urn:example:custom"],"userName":"a"}));
        assert!(e.detail.contains("urn:example:custom"), "{}", e.detail);
        let mut q = Quirks::new(true);
        assert!(validate(&GROUP, &json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group",
            "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],"displayName":"g"}), &mut q).is_ok());
        assert!(q.contains(Quirk::ForeignSchemaUrn));
    }

    #[test]
    fn normalisations_are_noted() {
        let ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
        let (_, q) = noticed(json!({"userName":"a","active":"True","title":"",
            "emails":{"value":"a@x","type":"Work"}, ent: {"employeeNumber": 7, "manager": "m"}}));
        let seen: Vec<Quirk> = q.applied().collect();
        assert_eq!(
            seen,
            [
                Quirk::StringBoolean,
                Quirk::NumberAsString,
                Quirk::SingleValueForMultiValued,
                Quirk::BareValueForComplex,
                Quirk::EmptyStringAsUnassigned,
                Quirk::NonCanonicalValue
            ]
        );
        let (_, one) =
            noticed(json!({"schemas":"urn:ietf:params:scim:schemas:core:2.0:User","userName":"a"}));
        assert_eq!(one.applied().collect::<Vec<_>>(), [Quirk::SchemasAsString]);
        let (_, plain) =
            noticed(json!({"userName":"a","active":true,"emails":[{"value":"a@x","type":"work"}]}));
        assert!(plain.is_empty(), "{plain:?}");
    }

    #[test]
    fn missing_user_name_is_required() {
        assert!(
            err(json!({"name":{"givenName":"x"}}))
                .detail
                .contains("userName is required")
        );
        assert!(
            err(json!({"userName":""}))
                .detail
                .contains("userName is required")
        );
    }

    #[test]
    fn extension_block_is_validated() {
        let ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
        let v = ok(json!({"userName":"a", ent: {"employeeNumber": 701984, "manager": "m1"}}));
        assert_eq!(
            v.doc[ent],
            json!({"employeeNumber":"701984","manager":{"value":"m1"}})
        );
        assert!(
            strict_err(json!({"userName":"a", ent: {"badge":"1"}}))
                .detail
                .contains("\"badge\"")
        );
    }

    #[test]
    fn multi_valued_tolerates_single_object_and_rejects_two_primaries() {
        let v = ok(json!({"userName":"a","emails":{"value":"a@x","type":"work"}}));
        assert_eq!(v.doc["emails"], json!([{"value":"a@x","type":"work"}]));
        let e = err(
            json!({"userName":"a","emails":[{"value":"a","primary":true},{"value":"b","primary":"True"}]}),
        );
        assert!(e.detail.contains("primary"), "{}", e.detail);
    }

    #[test]
    fn unassigned_values_are_dropped() {
        let v = ok(json!({"userName":"a","title":"","emails":[],"name":null,"roles":[]}));
        assert_eq!(v.doc.len(), 1);
    }
}
