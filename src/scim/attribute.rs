//! Resolves an attribute reference as a client wrote it (`UserName`, `name.familyName`,
//! `urn:…:enterprise:2.0:User:manager.value`) to the schema definitions it names, so filters,
//! sorting and projection agree on what every path means (RFC 7644 §3.10).

use super::filter::AttrPath;
use super::schema::{self, AttrDef, ResourceType, SchemaDef};

/// An attribute reference resolved against a resource type's schemas.
#[derive(Debug, Clone, Copy)]
pub struct Resolved<'a> {
    /// The extension schema holding the attribute, or `None` for core and common attributes.
    pub extension: Option<&'a SchemaDef>,
    pub attr: &'a AttrDef,
    pub sub: Option<&'a AttrDef>,
}

impl<'a> Resolved<'a> {
    /// The definition the reference finally points at.
    pub fn leaf(&self) -> &'a AttrDef {
        self.sub.unwrap_or(self.attr)
    }

    /// Whether this is one of the common attributes (`id`, `externalId`, `meta`).
    pub fn is_common(&self) -> bool {
        self.extension.is_none()
            && schema::COMMON_ATTRIBUTES
                .iter()
                .any(|a| std::ptr::eq(a, self.attr))
    }

    /// Canonical dotted name, e.g. `name.familyName` or `urn:…:User:manager.value`.
    pub fn canonical(&self) -> String {
        let mut out = String::new();
        if let Some(ext) = self.extension {
            out.push_str(&ext.id);
            out.push(':');
        }
        out.push_str(&self.attr.name);
        if let Some(sub) = self.sub {
            out.push('.');
            out.push_str(&sub.name);
        }
        out
    }
}

/// Resolves `path` for resource type `rt`. The error is a sentence naming the attribute and
/// what exists instead; callers wrap it in the `scimType` that fits (invalidFilter, invalidPath…).
pub fn resolve<'a>(rt: &'a ResourceType, path: &AttrPath) -> Result<Resolved<'a>, String> {
    let (extension, attr) = match &path.urn {
        Some(urn) => {
            let Some(schema) = rt.schema_by_urn(urn) else {
                return Err(format!(
                    "\"{urn}\" is not a schema of {}; use {} or omit the URN",
                    rt.name,
                    schema_list(rt)
                ));
            };
            let attr = schema
                .attr(&path.name)
                .ok_or_else(|| unknown_in(schema, &path.name))?;
            let ext = (!std::ptr::eq(schema, rt.schema)).then_some(schema);
            (ext, attr)
        }
        None => {
            if let Some(a) = schema::find(&schema::COMMON_ATTRIBUTES, &path.name)
                .or_else(|| rt.schema.attr(&path.name))
            {
                (None, a)
            } else if let Some((ext, a)) = rt
                .extensions
                .iter()
                .find_map(|s| s.attr(&path.name).map(|a| (&**s, a)))
            {
                // Tolerated: clients that drop the URN of an unambiguous extension attribute.
                (Some(ext), a)
            } else {
                return Err(unknown_in(rt.schema, &path.name));
            }
        }
    };
    let sub = match &path.sub_attr {
        None => None,
        Some(name) => Some(attr.sub(name).ok_or_else(|| {
            if attr.sub_attributes.is_empty() {
                format!(
                    "\"{}\" has no sub-attributes, so \"{}.{name}\" does not exist",
                    attr.name, attr.name
                )
            } else {
                let known: Vec<&str> = attr.sub_attributes.iter().map(|s| &*s.name).collect();
                format!(
                    "\"{}\" has no sub-attribute \"{name}\"; it has {}",
                    attr.name,
                    known.join(", ")
                )
            }
        })?),
    };
    Ok(Resolved {
        extension,
        attr,
        sub,
    })
}

/// The extension a path names as a whole: a bare URN such as
/// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`, which the path grammar splits
/// at its last colon into `urn:…:2.0` and `User`.
pub fn whole_extension<'a>(rt: &'a ResourceType, path: &AttrPath) -> Option<&'a SchemaDef> {
    match (&path.urn, &path.sub_attr) {
        (Some(urn), None) => rt.extension(&format!("{urn}:{}", path.name)),
        _ => None,
    }
}

fn unknown_in(schema: &SchemaDef, name: &str) -> String {
    format!(
        "\"{name}\" is not an attribute of {} ({}); see /Schemas for the attributes it defines",
        schema.name, schema.id
    )
}

fn schema_list(rt: &ResourceType) -> String {
    let mut ids = vec![&*rt.schema.id];
    ids.extend(rt.extensions.iter().map(|s| &*s.id));
    ids.join(" or ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::schema::USER;

    fn path(urn: Option<&str>, name: &str, sub: Option<&str>) -> AttrPath {
        AttrPath {
            urn: urn.map(Into::into),
            name: name.into(),
            sub_attr: sub.map(Into::into),
        }
    }

    #[test]
    fn resolves_core_common_and_extension() {
        assert_eq!(
            resolve(&USER, &path(None, "USERNAME", None))
                .expect("core")
                .canonical(),
            "userName"
        );
        assert!(
            resolve(&USER, &path(None, "id", None))
                .expect("common")
                .is_common()
        );
        let ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
        let r = resolve(&USER, &path(Some(ent), "manager", Some("Value"))).expect("ext");
        assert_eq!(r.canonical(), format!("{ent}:manager.value"));
        let core = resolve(
            &USER,
            &path(
                Some("urn:ietf:params:scim:schemas:core:2.0:User"),
                "userName",
                None,
            ),
        )
        .expect("urn core");
        assert!(core.extension.is_none());
    }

    #[test]
    fn unknown_names_are_explained() {
        let e = resolve(&USER, &path(None, "nmae", Some("givenName"))).expect_err("unknown");
        assert!(e.contains("\"nmae\""), "{e}");
        let e = resolve(&USER, &path(None, "name", Some("first"))).expect_err("unknown sub");
        assert!(e.contains("givenName"), "{e}");
        let e = resolve(&USER, &path(Some("urn:x"), "a", None)).expect_err("unknown urn");
        assert!(e.contains("urn:x"), "{e}");
    }
}
