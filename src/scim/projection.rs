//! `attributes` and `excludedAttributes` (RFC 7644 §3.4.2.5, §3.9) applied to a rendered
//! resource, honouring each attribute's `returned` characteristic: `always` attributes (id,
//! schemas, meta.resourceType) survive any projection, `request` ones appear only when asked.

use serde_json::{Map, Value};

use super::attribute::{self, Resolved};
use super::error::{Result, ScimError};
use super::filter::AttrPath;
use super::list::parse_attr_list;
use super::schema::{AttrDef, ResourceType, Returned};

/// `attributes` / `excludedAttributes` as written by the client.
#[derive(Debug, Clone, Default)]
pub struct Projection {
    pub attributes: Vec<AttrPath>,
    pub excluded: Vec<AttrPath>,
}

/// A projection resolved against a resource type, ready to apply.
#[derive(Debug, Clone)]
pub struct Resolver<'a> {
    only: Option<Vec<Resolved<'a>>>,
    excluded: Vec<Resolved<'a>>,
    /// Extensions named as a whole by their URN.
    only_extensions: Vec<&'a str>,
    excluded_extensions: Vec<&'a str>,
    /// Top-level members that [`Resolver::apply`] removes even when the client asked for no
    /// projection: attributes returned "never" or on "request", and extensions holding one.
    hidden_by_default: Vec<&'a str>,
}

impl Projection {
    /// Parses the comma-separated query parameters.
    pub fn parse(attributes: Option<&str>, excluded: Option<&str>) -> Result<Self> {
        Ok(Self {
            attributes: parse_attr_list("attributes", attributes)?,
            excluded: parse_attr_list("excludedAttributes", excluded)?,
        })
    }

    /// Resolves every listed attribute; an unknown one is 400 `invalidValue` naming it.
    pub fn resolve<'a>(&self, rt: &'a ResourceType) -> Result<Resolver<'a>> {
        let split = |param: &str, list: &[AttrPath]| -> Result<(Vec<Resolved<'a>>, Vec<&'a str>)> {
            let mut attrs = Vec::new();
            let mut extensions = Vec::new();
            for p in list {
                if let Some(ext) = attribute::whole_extension(rt, p) {
                    extensions.push(&*ext.id);
                } else {
                    attrs.push(
                        attribute::resolve(rt, p)
                            .map_err(|e| ScimError::invalid_value(format!("{param}: {e}")))?,
                    );
                }
            }
            Ok((attrs, extensions))
        };
        let (only, only_extensions) = split("attributes", &self.attributes)?;
        let (excluded, excluded_extensions) = split("excludedAttributes", &self.excluded)?;
        let only = (!self.attributes.is_empty()).then_some(only);
        let hidden = |def: &AttrDef| matches!(def.returned, Returned::Never | Returned::Request);
        let hidden_by_default = (rt.schema.attributes.iter())
            .chain(&super::schema::COMMON_ATTRIBUTES)
            .filter(|def| hidden(def))
            .map(|def| &*def.name)
            .chain(
                rt.extensions
                    .iter()
                    .filter(|ext| ext.attributes.iter().any(hidden))
                    .map(|ext| &*ext.id),
            )
            .collect();
        Ok(Resolver {
            only,
            excluded,
            only_extensions,
            excluded_extensions,
            hidden_by_default,
        })
    }
}

impl Resolver<'_> {
    /// Whether the response will contain the top-level core attribute `name` (lets callers
    /// skip loading data nobody will see, e.g. a 50,000-member list under excludedAttributes).
    pub fn includes(&self, rt: &ResourceType, name: &str) -> bool {
        let Some(def) = rt.schema.attr(name) else {
            return false;
        };
        let hit = |r: &Resolved| r.extension.is_none() && std::ptr::eq(r.attr, def);
        match &self.only {
            Some(only) => only.iter().any(hit),
            None => {
                def.returned != Returned::Request
                    && !self.excluded.iter().any(|r| hit(r) && r.sub.is_none())
            }
        }
    }

    /// Whether the client asked for no `attributes` and no `excludedAttributes`.
    pub fn asks_for_nothing(&self) -> bool {
        self.only.is_none()
            && self.excluded.is_empty()
            && self.only_extensions.is_empty()
            && self.excluded_extensions.is_empty()
    }

    /// Whether [`Self::apply`] leaves the top-level member `key`, whose value is the JSON text
    /// `raw`, exactly as it is: what lets a stored document be sent without being parsed.
    /// Conservative: `false` for any projection the client asked for, and wherever an empty
    /// object appears inside (which `apply` drops from multi-valued attributes).
    pub fn leaves_unchanged(&self, key: &str, raw: &[u8]) -> bool {
        if !self.asks_for_nothing() || raw.windows(2).any(|w| w == b"{}") {
            return false;
        }
        !self
            .hidden_by_default
            .iter()
            .any(|name| name.eq_ignore_ascii_case(key))
    }

    /// Applies the projection to a rendered resource (canonical names, extension blocks under
    /// their URN key).
    pub fn apply(&self, rt: &ResourceType, resource: &mut Map<String, Value>) {
        let keys: Vec<String> = resource.keys().cloned().collect();
        for key in keys {
            let (extension, defs): (Option<&str>, &[AttrDef]) =
                if let Some(ext) = rt.extension(&key) {
                    (Some(&*ext.id), &ext.attributes)
                } else {
                    (None, &[])
                };
            if key == "schemas" {
                continue;
            }
            if let Some(ext) = extension {
                let whole_excluded = self.excluded_extensions.contains(&ext);
                let whole_wanted = self.only_extensions.contains(&ext);
                if whole_excluded
                    || (self.only.is_some() && !whole_wanted && !self.names_any_in(ext))
                {
                    resource.remove(&key);
                    continue;
                }
                if whole_wanted {
                    continue;
                }
                if let Some(Value::Object(block)) = resource.get_mut(&key) {
                    for attr in defs {
                        self.project_attr(Some(ext), attr, block);
                    }
                    if block.is_empty() {
                        resource.remove(&key);
                    }
                }
                continue;
            }
            let def = rt
                .schema
                .attr(&key)
                .or_else(|| super::schema::find(&super::schema::COMMON_ATTRIBUTES, &key));
            if let Some(def) = def {
                self.project_attr(None, def, resource);
            }
        }
    }

    fn names_any_in(&self, ext: &str) -> bool {
        self.only
            .iter()
            .flatten()
            .any(|r| r.extension.is_some_and(|s| s.id == ext))
    }

    fn project_attr(&self, ext: Option<&str>, def: &AttrDef, container: &mut Map<String, Value>) {
        if def.returned == Returned::Never {
            container.remove(&*def.name);
            return;
        }
        if def.returned == Returned::Always {
            return;
        }
        let same = |r: &&Resolved| r.extension.map(|s| &*s.id) == ext && std::ptr::eq(r.attr, def);
        let keep_subs: Option<Vec<&str>> = match &self.only {
            Some(only) => {
                let hits: Vec<&Resolved> = only.iter().filter(same).collect();
                if hits.is_empty() {
                    // `meta` is special: meta.resourceType is returned always (RFC 7643 §3.1).
                    if def.name == "meta" && ext.is_none() {
                        Some(vec!["resourceType"])
                    } else {
                        container.remove(&*def.name);
                        return;
                    }
                } else if hits.iter().any(|r| r.sub.is_none()) {
                    None
                } else {
                    Some(
                        hits.iter()
                            .filter_map(|r| r.sub.map(|s| &*s.name))
                            .collect(),
                    )
                }
            }
            None => {
                if def.returned == Returned::Request {
                    container.remove(&*def.name);
                    return;
                }
                None
            }
        };
        let excluded_subs: Vec<&str> = self
            .excluded
            .iter()
            .filter(same)
            .filter_map(|r| r.sub.map(|s| &*s.name))
            .collect();
        if self.excluded.iter().filter(same).any(|r| r.sub.is_none()) && def.name != "meta" {
            container.remove(&*def.name);
            return;
        }
        let Some(value) = container.get_mut(&*def.name) else {
            return;
        };
        // Only what the projection emptied is dropped: a group's `"members": []` stays (S17, S61).
        let was_empty = matches!(&*value, Value::Object(o) if o.is_empty())
            || matches!(&*value, Value::Array(a) if a.is_empty());
        let keep = |sub: &str| {
            let always = def.sub(sub).is_some_and(|s| s.returned == Returned::Always)
                || (def.name == "meta" && sub == "resourceType");
            always
                || (keep_subs.as_ref().is_none_or(|k| k.contains(&sub))
                    && !excluded_subs.contains(&sub))
        };
        match value {
            Value::Object(o) => o.retain(|k, _| keep(k)),
            Value::Array(items) => {
                for item in items.iter_mut() {
                    if let Value::Object(o) = item {
                        o.retain(|k, _| keep(k));
                    }
                }
                items.retain(|i| !matches!(i, Value::Object(o) if o.is_empty()));
            }
            _ => {}
        }
        if !was_empty
            && (matches!(value, Value::Object(o) if o.is_empty())
                || matches!(value, Value::Array(a) if a.is_empty()))
        {
            container.remove(&*def.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::schema::{GROUP, USER};
    use serde_json::json;

    fn project(rt: &ResourceType, attrs: Option<&str>, excluded: Option<&str>, v: Value) -> Value {
        let p = Projection::parse(attrs, excluded)
            .expect("parse")
            .resolve(rt)
            .expect("resolve");
        let Value::Object(mut m) = v else {
            panic!("object")
        };
        p.apply(rt, &mut m);
        Value::Object(m)
    }

    fn user() -> Value {
        json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"1","userName":"a",
            "name":{"givenName":"A","familyName":"B"},"emails":[{"value":"a@x","type":"work"}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"D","employeeNumber":"7"},
            "meta":{"resourceType":"User","version":"W/\"1\""}})
    }

    #[test]
    fn attributes_keep_always_returned() {
        let v = project(
            &USER,
            Some(
                "userName,name.givenName,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
            ),
            None,
            user(),
        );
        assert_eq!(
            v,
            json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"1","userName":"a",
            "name":{"givenName":"A"},"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"D"},
            "meta":{"resourceType":"User"}})
        );
    }

    #[test]
    fn empty_members_survive_but_projected_away_values_go() {
        let group = json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"id":"g",
            "displayName":"G","members":[],"meta":{"resourceType":"Group"}});
        assert_eq!(project(&GROUP, None, None, group.clone()), group);
        let v = project(&GROUP, None, Some("members"), group);
        assert!(v.get("members").is_none(), "{v}");
        let v = project(&USER, None, Some("name.givenName,name.familyName"), user());
        assert!(v.get("name").is_none(), "emptied by the projection: {v}");
    }

    #[test]
    fn excluded_attributes_drop_but_never_id() {
        let v = project(&USER, None, Some("emails,id,name.familyName"), user());
        assert!(v.get("emails").is_none());
        assert_eq!(v["id"], "1");
        assert_eq!(v["name"], json!({"givenName":"A"}));
    }

    #[test]
    fn includes_reports_members() {
        let p = Projection::parse(None, Some("members"))
            .expect("p")
            .resolve(&GROUP)
            .expect("r");
        assert!(!p.includes(&GROUP, "members"));
        let p = Projection::parse(None, None)
            .expect("p")
            .resolve(&GROUP)
            .expect("r");
        assert!(p.includes(&GROUP, "members"));
        let p = Projection::parse(Some("displayName"), None)
            .expect("p")
            .resolve(&GROUP)
            .expect("r");
        assert!(!p.includes(&GROUP, "members"));
    }

    #[test]
    fn unknown_attribute_is_named() {
        let e = Projection::parse(Some("nope"), None)
            .expect("p")
            .resolve(&USER)
            .expect_err("unknown");
        assert!(e.detail.contains("nope"));
    }
}
