//! Schema extensions a tenant declares for its Users or Groups (Entra's
//! `urn:ietf:params:scim:schemas:extension:<Name>:2.0:User`, Okta's app-defined URNs), written
//! in the RFC 7643 §7 schema form. Turns a declaration into an owned [`SchemaDef`] after checking
//! everything a client could trip on later (URN syntax, attribute names, types, sizes), and
//! checks stored values against a changed declaration. Protocol only: no store, no HTTP.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::quirks::Quirks;
use super::resource::validate_value;
use super::schema::{
    self, AttrDef, AttrType, GROUP, Mutability, ResourceType, Returned, SchemaDef, Text, USER,
    Uniqueness,
};

/// Bounds on what one tenant may declare (`limits.max_extensions`,
/// `limits.max_extension_attributes`, `limits.max_extension_bytes`).
#[derive(Debug, Clone, Copy)]
pub struct ExtensionLimits {
    pub max_extensions: usize,
    pub max_attributes: usize,
    pub max_bytes: usize,
}

impl Default for ExtensionLimits {
    fn default() -> Self {
        Self {
            max_extensions: 20,
            max_attributes: 100,
            max_bytes: 65_536,
        }
    }
}

/// The built-in resource type an extension is declared for (`User` or `Group`,
/// case-insensitively).
pub fn resource_type(name: &str) -> Result<&'static ResourceType, String> {
    [&USER, &GROUP]
        .into_iter()
        .find(|rt| rt.name.eq_ignore_ascii_case(name))
        .ok_or_else(|| {
            format!("resourceType \"{name}\" is not one this server serves; use User or Group")
        })
}

/// Parses and checks one declaration (the `Schema` resource of RFC 7643 §7: `id`, `name`,
/// `description`, `attributes`) for resource type `rt`. The error is a sentence naming the
/// field and the fix.
pub fn parse(
    rt: &ResourceType,
    decl: &Value,
    limits: &ExtensionLimits,
) -> Result<SchemaDef, String> {
    let size = decl.to_string().len();
    if size > limits.max_bytes {
        return Err(format!(
            "the declaration is {size} bytes of JSON; this server accepts at most {} (limits.max_extension_bytes)",
            limits.max_bytes
        ));
    }
    let Value::Object(o) = decl else {
        return Err("the declaration must be a JSON object with id, name, description and attributes (RFC 7643 §7)".into());
    };
    check_keys(
        o,
        &["schemas", "id", "name", "description", "attributes", "meta"],
        "the schema",
    )?;
    let id = o
        .get("id")
        .and_then(Value::as_str)
        .ok_or("the declaration needs \"id\": the extension's URN, e.g. urn:ietf:params:scim:schemas:extension:CustomExtension:2.0:User")?;
    check_urn(id)?;
    for builtin in schema::ALL_SCHEMAS {
        if builtin.id.eq_ignore_ascii_case(id) {
            return Err(format!(
                "\"{id}\" is a schema this server defines itself; choose another URN for the extension"
            ));
        }
    }
    let lowered = id.to_ascii_lowercase();
    if lowered.starts_with("urn:ietf:params:scim:schemas:core:")
        || lowered.starts_with("urn:ietf:params:scim:api:")
    {
        return Err(format!(
            "\"{id}\" is in a namespace RFC 7643 reserves for core schemas and messages; use urn:ietf:params:scim:schemas:extension:<Name>:2.0:{} or a URN of your own",
            rt.name
        ));
    }
    let name = optional_str(o, "name", "the schema")?.map_or_else(
        || id.rsplit(':').next().unwrap_or(id).to_owned(),
        str::to_owned,
    );
    let description = optional_str(o, "description", "the schema")?
        .unwrap_or_default()
        .to_owned();
    let Some(Value::Array(attrs)) = o.get("attributes") else {
        return Err(
            "the declaration needs \"attributes\": an array of attribute definitions".into(),
        );
    };
    if attrs.is_empty() {
        return Err("\"attributes\" is empty; declare at least one attribute".into());
    }
    let mut count = 0;
    let attributes = parse_attrs(attrs, rt, true, &mut count, "")?;
    if count > limits.max_attributes {
        return Err(format!(
            "the declaration has {count} attributes and sub-attributes; this server accepts at most {} per extension (limits.max_extension_attributes)",
            limits.max_attributes
        ));
    }
    Ok(SchemaDef {
        id: Cow::Owned(id.to_owned()),
        name: Cow::Owned(name),
        description: Cow::Owned(description),
        attributes: Cow::Owned(attributes),
    })
}

/// RFC 8141 in the shape SCIM uses: `urn:` then colon-separated non-empty parts of unreserved
/// characters.
fn check_urn(id: &str) -> Result<(), String> {
    let parts: Vec<&str> = id.split(':').collect();
    let ok = parts.len() >= 3
        && parts.first().is_some_and(|p| p.eq_ignore_ascii_case("urn"))
        && parts.iter().all(|p| !p.is_empty())
        && id.len() <= 256
        && id
            .chars()
            // Narrower than RFC 8141 on purpose: the URN becomes a JSON key, a JSON path in SQL
            // and part of URLs (`/Schemas/<urn>`), where quotes and slashes would need escaping.
            .all(|c| c.is_ascii_alphanumeric() || "-._:".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "\"{}\" is not a URN: write urn:<namespace>:<name>, e.g. urn:ietf:params:scim:schemas:extension:CustomExtension:2.0:User (letters, digits and -._ between colons, at most 256 characters)",
            id.chars().take(80).collect::<String>()
        ))
    }
}

/// RFC 7643 §2.1: `ATTRNAME = ALPHA *(nameChar)`, `nameChar = "-" / "_" / DIGIT / ALPHA`.
fn is_attr_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && name.len() <= 128
}

fn parse_attrs(
    list: &[Value],
    rt: &ResourceType,
    top: bool,
    count: &mut usize,
    parent: &str,
) -> Result<Vec<AttrDef>, String> {
    let mut out: Vec<AttrDef> = Vec::with_capacity(list.len());
    for (i, v) in list.iter().enumerate() {
        *count += 1;
        let Value::Object(o) = v else {
            return Err(format!("{parent}attributes[{i}] must be an object"));
        };
        let Some(name) = o.get("name").and_then(Value::as_str) else {
            return Err(format!("{parent}attributes[{i}] needs a \"name\""));
        };
        if !is_attr_name(name) {
            return Err(format!(
                "\"{}\" is not a valid attribute name: RFC 7643 §2.1 names start with a letter and hold only letters, digits, '-' and '_'",
                name.chars().take(80).collect::<String>()
            ));
        }
        let at = format!("{parent}{name}");
        if out.iter().any(|a| a.name.eq_ignore_ascii_case(name)) {
            return Err(format!(
                "{at} is declared twice (names are case-insensitive)"
            ));
        }
        if top
            && (rt.schema.attr(name).is_some()
                || schema::find(&schema::COMMON_ATTRIBUTES, name).is_some())
        {
            return Err(format!(
                "{at} is already an attribute of the core {} schema; an extension attribute needs a name of its own",
                rt.name
            ));
        }
        check_keys(
            o,
            &[
                "name",
                "type",
                "multiValued",
                "description",
                "required",
                "canonicalValues",
                "caseExact",
                "mutability",
                "returned",
                "uniqueness",
                "referenceTypes",
                "subAttributes",
            ],
            &at,
        )?;
        let ty = match o.get("type").and_then(Value::as_str) {
            Some("string") => AttrType::String,
            Some("boolean") => AttrType::Boolean,
            Some("decimal") => AttrType::Decimal,
            Some("integer") => AttrType::Integer,
            Some("dateTime") => AttrType::DateTime,
            Some("binary") => AttrType::Binary,
            Some("reference") => AttrType::Reference,
            Some("complex") => AttrType::Complex,
            other => {
                return Err(format!(
                    "{at}: \"type\" is {}; use one of string, boolean, decimal, integer, dateTime, binary, reference, complex (RFC 7643 §2.3)",
                    other.map_or_else(|| "missing".to_owned(), |t| format!("\"{t}\""))
                ));
            }
        };
        let flag = |key: &str| -> Result<bool, String> {
            match o.get(key) {
                None => Ok(false),
                Some(Value::Bool(b)) => Ok(*b),
                Some(_) => Err(format!("{at}: \"{key}\" must be true or false")),
            }
        };
        let mutability = match o.get("mutability").and_then(Value::as_str) {
            None | Some("readWrite") => Mutability::ReadWrite,
            Some("readOnly") => Mutability::ReadOnly,
            Some("immutable") => Mutability::Immutable,
            Some("writeOnly") => Mutability::WriteOnly,
            Some(m) => {
                return Err(format!(
                    "{at}: mutability \"{m}\" is not one of readOnly, readWrite, immutable, writeOnly"
                ));
            }
        };
        let returned = match o.get("returned").and_then(Value::as_str) {
            None | Some("default") => Returned::Default,
            Some("always") => Returned::Always,
            Some("never") => Returned::Never,
            Some("request") => Returned::Request,
            Some(r) => {
                return Err(format!(
                    "{at}: returned \"{r}\" is not one of always, never, default, request"
                ));
            }
        };
        let uniqueness = match o.get("uniqueness").and_then(Value::as_str) {
            None | Some("none") => Uniqueness::None,
            Some("server") => Uniqueness::Server,
            Some("global") => Uniqueness::Global,
            Some(u) => {
                return Err(format!(
                    "{at}: uniqueness \"{u}\" is not one of none, server, global"
                ));
            }
        };
        let multi_valued = flag("multiValued")?;
        if uniqueness != Uniqueness::None
            && (!top || multi_valued || matches!(ty, AttrType::Complex | AttrType::Boolean))
        {
            return Err(format!(
                "{at}: scimd enforces uniqueness on single-valued top-level string, integer, decimal, dateTime, binary and reference attributes only; set \"uniqueness\": \"none\""
            ));
        }
        let strings = |key: &str| -> Result<Vec<Text>, String> {
            match o.get(key) {
                None => Ok(Vec::new()),
                Some(Value::Array(a)) if a.len() <= 1000 => a
                    .iter()
                    .map(|s| {
                        s.as_str()
                            .map(|s| Cow::Owned(s.to_owned()))
                            .ok_or_else(|| format!("{at}: \"{key}\" must be an array of strings"))
                    })
                    .collect(),
                Some(_) => Err(format!(
                    "{at}: \"{key}\" must be an array of at most 1,000 strings"
                )),
            }
        };
        let canonical_values = strings("canonicalValues")?;
        let reference_types = strings("referenceTypes")?;
        if !reference_types.is_empty() && ty != AttrType::Reference {
            return Err(format!(
                "{at}: referenceTypes applies to reference attributes only"
            ));
        }
        let sub_attributes = match (ty, o.get("subAttributes")) {
            (AttrType::Complex, Some(Value::Array(subs))) if !subs.is_empty() => {
                if !top {
                    return Err(format!(
                        "{at}: a sub-attribute cannot be complex (RFC 7643 §2.3.8)"
                    ));
                }
                parse_attrs(subs, rt, false, count, &format!("{at}."))?
            }
            (AttrType::Complex, _) => {
                return Err(format!(
                    "{at} is complex and needs \"subAttributes\": a non-empty array of attribute definitions"
                ));
            }
            (_, None) => Vec::new(),
            (_, Some(_)) => {
                return Err(format!(
                    "{at}: only complex attributes have subAttributes; set \"type\": \"complex\" or remove them"
                ));
            }
        };
        let description = match o.get("description") {
            None => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(_) => return Err(format!("{at}: \"description\" must be a string")),
        };
        out.push(AttrDef {
            name: Cow::Owned(name.to_owned()),
            ty,
            multi_valued,
            required: flag("required")?,
            case_exact: flag("caseExact")?,
            mutability,
            returned,
            uniqueness,
            description: Cow::Owned(description),
            canonical_values: Cow::Owned(canonical_values),
            reference_types: Cow::Owned(reference_types),
            sub_attributes: Cow::Owned(sub_attributes),
        });
    }
    Ok(out)
}

fn check_keys(o: &Map<String, Value>, known: &[&str], what: &str) -> Result<(), String> {
    match o.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(format!(
            "{what}: \"{}\" is not a field of an RFC 7643 §7 definition; the fields are {}",
            k.chars().take(80).collect::<String>(),
            known.join(", ")
        )),
        None => Ok(()),
    }
}

fn optional_str<'o>(
    o: &'o Map<String, Value>,
    key: &str,
    what: &str,
) -> Result<Option<&'o str>, String> {
    match o.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("{what}: \"{key}\" must be a string")),
    }
}

/// Why a stored extension block does not fit `ext` (a changed declaration), or `None` when it
/// does: a value of the wrong type, an attribute the new declaration drops, a required one
/// missing, a value outside a new list of canonical values.
pub fn misfit(ext: &SchemaDef, block: &Map<String, Value>) -> Option<String> {
    for (key, value) in block {
        let Some(def) = ext.attr(key) else {
            return Some(format!("holds \"{key}\", which the new declaration drops"));
        };
        let path = format!("{}:{}", ext.id, def.name);
        // Strict: a stored sub-attribute the new declaration drops is a misfit too.
        if let Err(e) = validate_value(def, value, &path, &mut Quirks::new(true)) {
            return Some(e.detail);
        }
    }
    if let Some(a) = ext
        .attributes
        .iter()
        .find(|a| a.required && !block.contains_key(&*a.name))
    {
        return Some(format!(
            "lacks \"{}\", which the new declaration makes required",
            a.name
        ));
    }
    check_canonical(ext, block).err()
}

/// Values outside an attribute's `canonicalValues`, for the extension attributes a tenant
/// declared (its admin chose them; the core schemas' lists stay suggestions, RFC 7643 §7).
pub fn check_canonical(ext: &SchemaDef, block: &Map<String, Value>) -> Result<(), String> {
    fn allowed(def: &AttrDef, v: &Value) -> bool {
        def.canonical_values.is_empty()
            || v.as_str().is_none_or(|s| {
                def.canonical_values.iter().any(|c| {
                    if def.case_exact {
                        c == s
                    } else {
                        c.eq_ignore_ascii_case(s)
                    }
                })
            })
    }
    for def in ext.attributes.iter() {
        let Some(value) = block.get(&*def.name) else {
            continue;
        };
        let items: Vec<&Value> = match value {
            Value::Array(a) => a.iter().collect(),
            v => vec![v],
        };
        for item in items {
            let bad = if def.sub_attributes.is_empty() {
                (!allowed(def, item)).then(|| (def.name.to_string(), item))
            } else {
                def.sub_attributes.iter().find_map(|s| {
                    item.get(&*s.name)
                        .filter(|v| !allowed(s, v))
                        .map(|v| (format!("{}.{}", def.name, s.name), v))
                })
            };
            if let Some((name, v)) = bad {
                let d = def
                    .sub_attributes
                    .iter()
                    .find(|s| name.ends_with(&format!(".{}", s.name)))
                    .unwrap_or(def);
                let list: Vec<&str> = d.canonical_values.iter().map(|c| &**c).collect();
                return Err(format!(
                    "{}:{name} is {v}, which is not one of its canonical values ({}); send one of them or change the extension's declaration",
                    ext.id,
                    list.join(", ")
                ));
            }
        }
    }
    Ok(())
}

/// The extension's required attributes missing from a resource's block (`None` when the
/// resource has no block at all and none is required).
pub fn check_required(ext: &SchemaDef, block: Option<&Map<String, Value>>) -> Result<(), String> {
    for def in ext.attributes.iter().filter(|a| a.required) {
        if block.is_none_or(|b| !b.contains_key(&*def.name)) {
            return Err(format!(
                "{}:{} is required and is missing or empty; send a non-empty value",
                ext.id, def.name
            ));
        }
    }
    Ok(())
}

/// The key a unique extension attribute is indexed under: `<urn>:<name>`, lowercased.
pub fn attribute_key(urn: &str, name: &str) -> String {
    format!("{urn}:{name}").to_ascii_lowercase()
}

/// A value as the unique index compares it: case-folded unless caseExact; numbers as written.
pub fn value_key(def: &AttrDef, v: &Value) -> Option<String> {
    match v {
        Value::String(s) if def.case_exact || def.ty == AttrType::Binary => Some(s.clone()),
        Value::String(s) => Some(super::fold(s)),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entra() -> Value {
        json!({
            "id": "urn:ietf:params:scim:schemas:extension:CustomExtension:2.0:User",
            "name": "CustomExtension",
            "description": "Entra custom attributes",
            "attributes": [
                {"name": "costCenter", "type": "string", "uniqueness": "server"},
                {"name": "badgeNumber", "type": "integer"},
                {"name": "level", "type": "string", "canonicalValues": ["junior", "senior"]},
                {"name": "projects", "type": "complex", "multiValued": true, "subAttributes": [
                    {"name": "value", "type": "string"},
                    {"name": "role", "type": "string"}
                ]}
            ]
        })
    }

    fn parse_user(v: &Value) -> Result<SchemaDef, String> {
        parse(&USER, v, &ExtensionLimits::default())
    }

    #[test]
    fn an_entra_declaration_parses() {
        let s = parse_user(&entra()).expect("valid");
        assert_eq!(s.attributes.len(), 4);
        let cost = s.attr("COSTCENTER").expect("case-insensitive");
        assert_eq!(cost.uniqueness, Uniqueness::Server);
        assert_eq!(
            s.attr("projects").and_then(|p| p.sub("role")).map(|r| r.ty),
            Some(AttrType::String)
        );
        // What /Schemas serves round-trips through the parser.
        let served = s.to_json("http://x/Schemas/u");
        assert_eq!(
            parse_user(&served).expect("served form").attributes.len(),
            4
        );
    }

    #[test]
    fn bad_declarations_are_explained() {
        let cases = [
            (json!({"id": "not a urn", "attributes": []}), "not a URN"),
            (
                json!({"id": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "attributes": [{"name": "a", "type": "string"}]}),
                "defines itself",
            ),
            (
                json!({"id": "urn:ietf:params:scim:schemas:core:2.0:Thing", "attributes": [{"name": "a", "type": "string"}]}),
                "reserves",
            ),
            (
                json!({"id": "urn:x:y", "attributes": [{"name": "1a", "type": "string"}]}),
                "not a valid attribute name",
            ),
            (
                json!({"id": "urn:x:y", "attributes": [{"name": "a", "type": "text"}]}),
                "\"type\" is \"text\"",
            ),
            (
                json!({"id": "urn:x:y", "attributes": [{"name": "userName", "type": "string"}]}),
                "core User schema",
            ),
            (
                json!({"id": "urn:x:y", "attributes": [{"name": "a", "type": "string", "subAttributes": [{"name": "b", "type": "string"}]}]}),
                "only complex",
            ),
            (
                json!({"id": "urn:x:y", "attributes": [{"name": "a", "type": "complex"}]}),
                "needs \"subAttributes\"",
            ),
            (
                json!({"id": "urn:x:y", "attributes": [{"name": "a", "type": "complex", "subAttributes": [{"name": "b", "type": "complex", "subAttributes": [{"name": "c", "type": "string"}]}]}]}),
                "cannot be complex",
            ),
            (
                json!({"id": "urn:x:y", "attributes": [{"name": "a", "type": "string"}, {"name": "A", "type": "string"}]}),
                "declared twice",
            ),
            (
                json!({"id": "urn:x:y", "attributes": [{"name": "a", "type": "string", "multivalued": true}]}),
                "\"multivalued\" is not a field",
            ),
        ];
        for (decl, want) in cases {
            let e = parse_user(&decl).expect_err(want);
            assert!(e.contains(want), "{want}: {e}");
        }
    }

    #[test]
    fn limits_are_named() {
        let tight = ExtensionLimits {
            max_extensions: 1,
            max_attributes: 3,
            max_bytes: 65_536,
        };
        let e = parse(&USER, &entra(), &tight).expect_err("too many");
        assert!(e.contains("limits.max_extension_attributes"), "{e}");
        let small = ExtensionLimits {
            max_bytes: 100,
            ..ExtensionLimits::default()
        };
        let e = parse(&USER, &entra(), &small).expect_err("too big");
        assert!(e.contains("limits.max_extension_bytes"), "{e}");
    }

    #[test]
    fn stored_values_are_checked_against_a_change() {
        let s = parse_user(&entra()).expect("valid");
        let block = json!({"badgeNumber": 7, "costCenter": "x"});
        let block = block.as_object().expect("object");
        assert!(misfit(&s, block).is_none());
        let mut changed = entra();
        changed["attributes"][1]["type"] = json!("boolean");
        let changed = parse_user(&changed).expect("valid");
        assert!(
            misfit(&changed, block)
                .expect("misfit")
                .contains("badgeNumber")
        );
        let mut narrowed = entra();
        narrowed["attributes"][0]["canonicalValues"] = json!(["a", "b"]);
        let narrowed = parse_user(&narrowed).expect("valid");
        assert!(
            misfit(&narrowed, block)
                .expect("misfit")
                .contains("canonical")
        );
        let canon = json!({"level": "principal"});
        let e = check_canonical(&s, canon.as_object().expect("object")).expect_err("not canonical");
        assert!(e.contains("junior, senior"), "{e}");
    }
}
