//! Declaring, changing and removing a tenant's schema extensions, and what every resource
//! write does for them: the extension checks `scim::resource::validate` leaves to the tenant's
//! declaration (required, canonicalValues) and the index of values declared unique. A change
//! never silently drops stored data: one that would strand or invalidate values is refused with
//! the count and how to clear them.

use serde::Serialize;
use serde_json::{Map, Value};

use super::OpError;
use super::settings::{self, Extension, TenantSettings, no_tenant};
use crate::scim::error::{Result, ScimError};
use crate::scim::extension::{self, ExtensionLimits};
use crate::scim::resource::Document;
use crate::scim::schema::{AttrDef, ResourceType, SchemaDef, Uniqueness};
use crate::store::extensions as rows;
use crate::store::{Store, tenants};

/// An extension as listed: its URN, resource type and attribute names.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Listed {
    pub id: String,
    pub resource_type: String,
    pub attributes: Vec<String>,
    pub schema: Value,
}

fn listed(e: &Extension) -> Listed {
    let attributes = e
        .schema
        .get("attributes")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.get("name").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    Listed {
        id: e.id().to_owned(),
        resource_type: e.resource_type.clone(),
        attributes,
        schema: e.schema.clone(),
    }
}

/// The extensions a tenant declared.
pub fn list(store: &Store, slug: &str) -> std::result::Result<Vec<Listed>, OpError> {
    Ok(settings::show(store, slug)?
        .extensions
        .iter()
        .map(listed)
        .collect())
}

/// Declares an extension, or changes the one with the same URN. A change is refused while
/// stored values would not fit it (a type change, a dropped attribute, a new required one, a
/// new uniqueness two resources already break).
pub fn declare(
    store: &Store,
    slug: &str,
    resource_type: &str,
    schema: Value,
    limits: ExtensionLimits,
) -> std::result::Result<Listed, OpError> {
    let rt = extension::resource_type(resource_type).map_err(OpError::Invalid)?;
    let mut def = extension::parse(rt, &schema, &limits).map_err(OpError::Invalid)?;
    let owned_slug = slug.to_owned();
    store
        .write_blocking(move |tx| {
            let Some(tenant) = tenants::by_slug(tx, &owned_slug)? else {
                return Ok(Err(no_tenant(&owned_slug)));
            };
            let mut settings = match TenantSettings::parse(&tenant.settings) {
                Ok(s) => s,
                Err(e) => return Ok(Err(OpError::Internal(e))),
            };
            let existing = settings
                .extensions
                .iter()
                .position(|e| e.id().eq_ignore_ascii_case(&def.id));
            let mut schema = schema;
            if let Some(i) = existing {
                let old = settings.extensions.get(i).cloned();
                let old = old.as_ref();
                // Stored blocks sit under the URN as first declared.
                if let Some(old_id) = old.map(Extension::id).filter(|o| **o != *def.id) {
                    def.id = old_id.to_owned().into();
                    schema["id"] = Value::String(old_id.to_owned());
                }
                if let Some(old) = old.filter(|o| !o.resource_type.eq_ignore_ascii_case(rt.name))
                {
                    let n = rows::count_holding(tx, tenant.id, &old.resource_type, &def.id)?;
                    if n > 0 {
                        return Ok(Err(held(n, &old.resource_type, &def.id, "moving it to another resource type")));
                    }
                }
            } else if settings.extensions.len() >= limits.max_extensions {
                return Ok(Err(OpError::Invalid(format!(
                    "tenant \"{owned_slug}\" already declares {} extensions; this server accepts at most {} per tenant (limits.max_extensions)",
                    settings.extensions.len(),
                    limits.max_extensions
                ))));
            }
            if let Err(e) = fits_stored(tx, tenant.id, rt, &def)? {
                return Ok(Err(e));
            }
            let entry = Extension {
                resource_type: rt.name.to_owned(),
                schema,
            };
            match existing {
                Some(i) => {
                    if let Some(slot) = settings.extensions.get_mut(i) {
                        *slot = entry.clone();
                    }
                }
                None => settings.extensions.push(entry.clone()),
            }
            settings::save(tx, tenant.id, &settings)?;
            Ok(Ok(listed(&entry)))
        })
        .map_err(|e| OpError::Internal(e.to_string()))?
}

/// Checks every stored block against `def` and indexes its unique values afresh.
fn fits_stored(
    tx: &rusqlite::Connection,
    tenant_id: i64,
    rt: &ResourceType,
    def: &SchemaDef,
) -> crate::store::Result<std::result::Result<(), OpError>> {
    let blocks = rows::blocks(tx, tenant_id, rt.name, &def.id)?;
    let misfits: Vec<(String, String)> = blocks
        .iter()
        .filter_map(|(_, id, block)| extension::misfit(def, block).map(|why| (id.clone(), why)))
        .collect();
    if let Some((id, why)) = misfits.first() {
        return Ok(Err(OpError::Conflict(format!(
            "{} {} {} values of {} that this declaration would make invalid; {} {id}, for one, {why}. Keep the declaration compatible, or clear those values first (PATCH each with {{\"op\":\"remove\",\"path\":\"{}\"}}; find them with the filter `{} pr`)",
            misfits.len(),
            plural(rt.name, misfits.len()),
            if misfits.len() == 1 { "holds" } else { "hold" },
            def.id,
            rt.name,
            def.id,
            def.id,
        ))));
    }
    if let Some(req) = def.attributes.iter().find(|a| a.required) {
        let all = rows::count_all(tx, tenant_id, rt.name)?;
        let lacking = all
            - blocks
                .iter()
                .filter(|(_, _, b)| b.contains_key(&*req.name))
                .count() as i64;
        if lacking > 0 {
            return Ok(Err(OpError::Conflict(format!(
                "{lacking} existing {} lack {}:{}, which this declaration makes required, so every later write to them would fail; declare it with \"required\": false, or give them a value first",
                plural(rt.name, usize::try_from(lacking).unwrap_or(2)),
                def.id,
                req.name
            ))));
        }
    }
    rows::forget_values(tx, tenant_id, &format!("{}:", def.id.to_ascii_lowercase()))?;
    let mut seen: std::collections::HashMap<(String, String), &str> =
        std::collections::HashMap::new();
    for (seq, id, block) in &blocks {
        for (attr, key, def_attr) in unique_in_block(def, block) {
            if let Some(other) = seen.insert((attr.clone(), key.clone()), id) {
                return Ok(Err(OpError::Conflict(format!(
                    "{} {other} and {id} hold the same {}:{} value, so it cannot be declared unique; make their values differ first",
                    plural(rt.name, 2),
                    def.id,
                    def_attr.name
                ))));
            }
            rows::index_values_add(tx, tenant_id, *seq, &attr, &key)?;
        }
    }
    Ok(Ok(()))
}

/// Removes a declaration. Refused while any resource holds values for it: the error says how
/// many and how to clear them, so no stored value is ever silently dropped or stranded.
pub fn remove(store: &Store, slug: &str, urn: &str) -> std::result::Result<Listed, OpError> {
    let (owned_slug, urn) = (slug.to_owned(), urn.to_owned());
    store
        .write_blocking(move |tx| {
            let Some(tenant) = tenants::by_slug(tx, &owned_slug)? else {
                return Ok(Err(no_tenant(&owned_slug)));
            };
            let mut settings = match TenantSettings::parse(&tenant.settings) {
                Ok(s) => s,
                Err(e) => return Ok(Err(OpError::Internal(e))),
            };
            let Some(i) = settings
                .extensions
                .iter()
                .position(|e| e.id().eq_ignore_ascii_case(&urn))
            else {
                let known: Vec<&str> = settings.extensions.iter().map(Extension::id).collect();
                return Ok(Err(OpError::NotFound(format!(
                    "tenant \"{owned_slug}\" declares no extension \"{urn}\"; it declares {}",
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                ))));
            };
            let gone = settings.extensions.remove(i);
            let n = rows::count_holding(tx, tenant.id, &gone.resource_type, gone.id())?;
            if n > 0 {
                return Ok(Err(held(n, &gone.resource_type, gone.id(), "removing it")));
            }
            rows::forget_values(
                tx,
                tenant.id,
                &format!("{}:", gone.id().to_ascii_lowercase()),
            )?;
            settings::save(tx, tenant.id, &settings)?;
            Ok(Ok(listed(&gone)))
        })
        .map_err(|e| OpError::Internal(e.to_string()))?
}

fn held(n: i64, resource_type: &str, urn: &str, doing: &str) -> OpError {
    OpError::Conflict(format!(
        "{n} {} {} values of {urn}, which {doing} would strand; clear them first: find them with the filter `{urn} pr` (e.g. GET /{}s?filter=…) and PATCH each with {{\"op\":\"remove\",\"path\":\"{urn}\"}}, then try again",
        plural(resource_type, usize::try_from(n).unwrap_or(2)),
        if n == 1 { "holds" } else { "hold" },
        resource_type
    ))
}

fn plural(resource_type: &str, n: usize) -> String {
    if n == 1 {
        resource_type.to_owned()
    } else {
        format!("{resource_type}s")
    }
}

// --- On every resource write -------------------------------------------------------------------

/// What the tenant's declarations require beyond types: required attributes of an extension the
/// resource uses, and values inside a declared `canonicalValues` list.
pub fn check(rt: &ResourceType, doc: &Document) -> Result<()> {
    for ext in rt.extensions.iter() {
        if ext
            .attributes
            .iter()
            .all(|a| !a.required && a.canonical_values.is_empty())
        {
            continue;
        }
        let block = doc.get(&*ext.id).and_then(Value::as_object);
        extension::check_required(ext, block).map_err(ScimError::invalid_value)?;
        if let Some(b) = block {
            extension::check_canonical(ext, b).map_err(ScimError::invalid_value)?;
        }
    }
    Ok(())
}

/// Indexes the values of `doc` declared unique, inside the write's transaction; another
/// resource holding one is a 409 `uniqueness` naming the attribute and the holder. Costs
/// nothing for a resource type without unique extension attributes.
pub fn index_unique(
    tx: &rusqlite::Connection,
    rt: &ResourceType,
    tenant_id: i64,
    seq: i64,
    doc: &Document,
) -> crate::store::Result<Result<()>> {
    let has_unique = rt.extensions.iter().any(|e| {
        e.attributes
            .iter()
            .any(|a| a.uniqueness != Uniqueness::None)
    });
    if !has_unique {
        return Ok(Ok(()));
    }
    let mut values = Vec::new();
    for ext in rt.extensions.iter() {
        let Some(block) = doc.get(&*ext.id).and_then(Value::as_object) else {
            continue;
        };
        for (attr, key, def) in unique_in_block(ext, block) {
            if let Some(holder) = rows::holder(tx, tenant_id, &attr, &key, Some(seq))? {
                return Ok(Err(ScimError::uniqueness(format!(
                    "{}:{} {} is already taken by {} {holder}; the extension declares it unique (uniqueness: {}). Choose another value or clear it on {holder} first",
                    ext.id,
                    def.name,
                    block
                        .get(&*def.name)
                        .map(Value::to_string)
                        .unwrap_or_default(),
                    rt.name,
                    if def.uniqueness == Uniqueness::Global {
                        "global"
                    } else {
                        "server"
                    },
                ))));
            }
            values.push((attr, key));
        }
    }
    rows::index_values(tx, tenant_id, seq, &values)?;
    Ok(Ok(()))
}

/// `(attribute key, value key, definition)` of each unique attribute set in an extension block.
fn unique_in_block<'a>(
    ext: &'a SchemaDef,
    block: &Map<String, Value>,
) -> Vec<(String, String, &'a AttrDef)> {
    ext.attributes
        .iter()
        .filter(|a| a.uniqueness != Uniqueness::None)
        .filter_map(|a| {
            let key = extension::value_key(a, block.get(&*a.name)?)?;
            Some((extension::attribute_key(&ext.id, &a.name), key, a))
        })
        .collect()
}
