//! Translates a SCIM filter AST (RFC 7644 §3.4.2.2) into a parameterised SQL condition over
//! `resources r`. Indexed columns serve what IdPs filter on (id, externalId, userName /
//! displayName, emails.value, members.value); everything else reads the stored JSON with
//! `json_extract` / `json_each`. Values are always bound parameters, never spliced into SQL.
//!
//! Contract with the caller: `?1` is the tenant id and `?2` the resource type; the condition's
//! own parameters are numbered from `?3`.
//!
//! Semantics (kept identical to the in-memory evaluator in the tests): a comparison on an
//! absent attribute is false, `ne` is `not eq`, and a comparison on a multi-valued attribute
//! matches when any element matches.

use rusqlite::types::Value as SqlValue;

use crate::scim::attribute::{self, Resolved};
use crate::scim::error::ScimError;
use crate::scim::extension;
use crate::scim::filter::{AttrPath, CompValue, CompareOp, Filter};
use crate::scim::fold;
use crate::scim::quirks::{Quirk, Quirks};
use crate::scim::schema::{AttrDef, AttrType, ResourceType, Uniqueness};

/// An SQL boolean expression and its parameters (numbered from `?3`).
#[derive(Debug, Clone, PartialEq)]
pub struct SqlWhere {
    pub sql: String,
    pub params: Vec<SqlValue>,
}

impl SqlWhere {
    /// Matches every row.
    pub fn all() -> Self {
        Self {
            sql: "1".into(),
            params: Vec::new(),
        }
    }

    /// Whether this is [`SqlWhere::all`].
    pub fn matches_all(&self) -> bool {
        self.sql == "1" && self.params.is_empty()
    }
}

const FIRST_PARAM: usize = 3;

/// Translates `filter` for resources of type `rt`; unknown attributes and impossible
/// comparisons are 400 `invalidFilter` naming the attribute.
pub fn translate(rt: &ResourceType, filter: &Filter) -> Result<SqlWhere, ScimError> {
    translate_noting(rt, filter, &mut Quirks::default())
}

/// [`translate`], noting in `quirks` the IdP dialect it read (string booleans, S54).
pub fn translate_noting(
    rt: &ResourceType,
    filter: &Filter,
    quirks: &mut Quirks,
) -> Result<SqlWhere, ScimError> {
    let mut b = Builder {
        rt,
        params: Vec::new(),
        string_boolean: std::cell::Cell::new(false),
    };
    let sql = b.node(filter)?;
    if b.string_boolean.get() {
        quirks.note(Quirk::StringBoolean);
    }
    Ok(SqlWhere {
        sql,
        params: b.params,
    })
}

/// The SQL expression to order by for `sortBy` (RFC 7644 §3.4.2.3), with unassigned values last
/// when ascending and first when descending.
pub fn order_by(rt: &ResourceType, path: &AttrPath, ascending: bool) -> Result<String, ScimError> {
    let r = attribute::resolve(rt, path)
        .map_err(|e| ScimError::invalid_value(format!("sortBy: {e}")))?;
    let leaf = r.leaf();
    let expr = if let Some(col) = column(rt, &r) {
        col.sort.to_owned()
    } else if r.attr.multi_valued {
        let sub = r
            .sub
            .or_else(|| r.attr.sub("value"))
            .ok_or_else(|| not_sortable(&r))?;
        // A multi-valued attribute sorts by its primary (else first) value (RFC 7644 §3.4.2.3).
        format!(
            "(SELECT {} FROM json_each(r.doc, '{}') j ORDER BY json_extract(j.value, '$.primary') DESC LIMIT 1)",
            fold_if(sub, &format!("json_extract(j.value, '$.\"{}\"')", sub.name)),
            json_path(&r, false)
        )
    } else if leaf.ty == AttrType::Complex {
        return Err(not_sortable(&r));
    } else {
        fold_if(
            leaf,
            &format!("json_extract(r.doc, '{}')", json_path(&r, true)),
        )
    };
    Ok(if ascending {
        format!("{expr} ASC NULLS LAST")
    } else {
        format!("{expr} DESC NULLS FIRST")
    })
}

fn not_sortable(r: &Resolved) -> ScimError {
    ScimError::invalid_value(format!(
        "sortBy: \"{}\" is complex; sort by one of its sub-attributes",
        r.canonical()
    ))
}

/// A column that stores an attribute directly: `eq` on it is an index lookup.
struct Column {
    /// Expression compared with `eq`/`ne` (already folded when the attribute is caseExact=false).
    key: &'static str,
    /// Expression for ordering.
    sort: &'static str,
    folded: bool,
}

fn column(rt: &ResourceType, r: &Resolved) -> Option<Column> {
    if r.extension.is_some() {
        return None;
    }
    let name = &*r.attr.name;
    let sub = r.sub.map(|s| &*s.name);
    let unique_name = if rt.name == "Group" {
        "displayName"
    } else {
        "userName"
    };
    Some(match (name, sub) {
        ("id", None) => Column {
            key: "r.id",
            sort: "r.id",
            folded: false,
        },
        ("externalId", None) => Column {
            key: "r.external_id",
            sort: "r.external_id",
            folded: false,
        },
        ("meta", Some("created")) => Column {
            key: "r.created",
            sort: "r.created",
            folded: false,
        },
        ("meta", Some("lastModified")) => Column {
            key: "r.last_modified",
            sort: "r.last_modified",
            folded: false,
        },
        ("active", None) if rt.name == "User" => Column {
            key: "r.active",
            sort: "r.active",
            folded: false,
        },
        (n, None) if n == unique_name => Column {
            key: "r.name_key",
            sort: "r.name_key",
            folded: true,
        },
        _ => return None,
    })
}

/// `$."attr"` or `$."urn"."attr"`, plus `."sub"` when `with_sub`.
fn json_path(r: &Resolved, with_sub: bool) -> String {
    let mut p = String::from("$");
    if let Some(ext) = r.extension {
        p.push_str(&format!(".\"{}\"", ext.id));
    }
    p.push_str(&format!(".\"{}\"", r.attr.name));
    if let (true, Some(sub)) = (with_sub, r.sub) {
        p.push_str(&format!(".\"{}\"", sub.name));
    }
    p
}

fn fold_if(def: &AttrDef, expr: &str) -> String {
    if def.case_exact || !is_textual(def) {
        expr.to_owned()
    } else {
        format!("scim_fold({expr})")
    }
}

fn is_textual(def: &AttrDef) -> bool {
    matches!(
        def.ty,
        AttrType::String | AttrType::Reference | AttrType::Binary
    )
}

struct Builder<'a> {
    rt: &'a ResourceType,
    params: Vec<SqlValue>,
    /// A boolean was compared with "True"/"False".
    string_boolean: std::cell::Cell<bool>,
}

impl<'a> Builder<'a> {
    fn bind(&mut self, v: SqlValue) -> String {
        self.params.push(v);
        format!("?{}", self.params.len() + FIRST_PARAM - 1)
    }

    fn node(&mut self, f: &Filter) -> Result<String, ScimError> {
        Ok(match f {
            Filter::And(a, b) => format!("({} AND {})", self.node(a)?, self.node(b)?),
            Filter::Or(a, b) => format!("({} OR {})", self.node(a)?, self.node(b)?),
            // Absent attributes make comparisons NULL; NOT must see them as false first.
            Filter::Not(inner) => format!("(NOT COALESCE({}, 0))", self.node(inner)?),
            Filter::Present(path) => self.top(path, None)?,
            Filter::Compare { attr, op, value } => self.top(attr, Some((*op, value)))?,
            Filter::ValuePath { attr, filter } => self.value_path(attr, filter)?,
        })
    }

    fn resolve(&self, path: &AttrPath) -> Result<Resolved<'a>, ScimError> {
        attribute::resolve(self.rt, path)
            .map_err(|e| ScimError::invalid_filter(format!("filter: {e}")))
    }

    /// A comparison (or `pr` when `cmp` is None) on a top-level attribute path.
    fn top(
        &mut self,
        path: &AttrPath,
        cmp: Option<(CompareOp, &CompValue)>,
    ) -> Result<String, ScimError> {
        if path.name.eq_ignore_ascii_case("schemas")
            && path.urn.is_none()
            && path.sub_attr.is_none()
        {
            return self.schemas(cmp);
        }
        // `<extension URN> pr`: the resource holds any attribute of the extension.
        if let (Some(ext), None) = (attribute::whole_extension(self.rt, path), cmp) {
            return Ok(format!(
                "(json_type(r.doc, '$.\"{}\"') IS NOT NULL)",
                ext.id
            ));
        }
        let r = self.resolve(path)?;
        if let Some(sql) = self.membership(&r, cmp)? {
            return Ok(sql);
        }
        if let Some(sql) = self.indexed_email(&r, cmp)? {
            return Ok(sql);
        }
        if let Some(sql) = self.indexed_unique(&r, cmp) {
            return Ok(sql);
        }
        if let Some(col) = column(self.rt, &r) {
            return match cmp {
                None => Ok(format!("({} IS NOT NULL)", col.key)),
                Some((op, value)) => self.compare(r.leaf(), col.key, col.folded, op, value),
            };
        }
        if r.attr.name == "meta" {
            return Err(ScimError::invalid_filter(format!(
                "filter: {} cannot be filtered; use meta.created or meta.lastModified",
                r.canonical()
            )));
        }
        if r.attr.multi_valued {
            // `emails co "x"` compares the `value` sub-attribute (RFC 7644 §3.4.2.2).
            let sub = match (r.sub, cmp) {
                (Some(s), _) => Some(s),
                (None, Some(_)) => Some(r.attr.sub("value").ok_or_else(|| complex_compare(&r))?),
                (None, None) => None,
            };
            let inner = match (sub, cmp) {
                (Some(s), Some((op, value))) => {
                    let expr = format!("json_extract(j.value, '$.\"{}\"')", s.name);
                    self.compare(s, &expr, false, op, value)?
                }
                (Some(s), None) => present(&format!("json_extract(j.value, '$.\"{}\"')", s.name)),
                (None, _) => "1".into(),
            };
            return Ok(format!(
                "EXISTS (SELECT 1 FROM json_each(r.doc, '{}') j WHERE {inner})",
                json_path(&r, false)
            ));
        }
        let leaf = r.leaf();
        let expr = format!("json_extract(r.doc, '{}')", json_path(&r, true));
        match cmp {
            None => Ok(present(&expr)),
            Some(_) if leaf.ty == AttrType::Complex => Err(complex_compare(&r)),
            Some((op, value)) => self.compare(leaf, &expr, false, op, value),
        }
    }

    /// `schemas eq "<urn>"` (RFC 7644 §3.4.2.2 example): a resource carries an extension URN
    /// exactly when it has attributes of that extension.
    fn schemas(&mut self, cmp: Option<(CompareOp, &CompValue)>) -> Result<String, ScimError> {
        let (op, urn) = match cmp {
            None => return Ok("1".into()),
            Some((op @ (CompareOp::Eq | CompareOp::Ne), CompValue::String(urn))) => (op, urn),
            Some(_) => {
                return Err(ScimError::invalid_filter(
                    "filter: schemas supports only eq, ne and pr with a schema URN string",
                ));
            }
        };
        let has = if self.rt.schema.id.eq_ignore_ascii_case(urn) {
            "1".to_owned()
        } else if let Some(ext) = self.rt.extension(urn) {
            format!("(json_type(r.doc, '$.\"{}\"') IS NOT NULL)", ext.id)
        } else {
            "0".to_owned()
        };
        Ok(if op == CompareOp::Eq {
            has
        } else {
            format!("(NOT {has})")
        })
    }

    /// `emails[type eq "work" and value co "@x"]` on a multi-valued attribute, or a filter on
    /// the sub-attributes of a single complex one (`name[givenName eq "x"]`).
    fn value_path(&mut self, path: &AttrPath, filter: &Filter) -> Result<String, ScimError> {
        let r = self.resolve(path)?;
        if r.sub.is_some() || r.attr.ty != AttrType::Complex {
            return Err(ScimError::invalid_filter(format!(
                "filter: \"{}[…]\" needs a complex attribute such as emails or addresses",
                r.canonical()
            )));
        }
        if matches!(&*r.attr.name, "members" | "groups") && r.extension.is_none() {
            let ids = member_ids(filter).ok_or_else(|| {
                ScimError::invalid_filter(format!(
                    "filter: {}[…] supports only value eq \"<id>\" (joined by or)",
                    r.attr.name
                ))
            })?;
            return self.membership_in(&r, &ids);
        }
        if r.attr.multi_valued {
            let inner = self.element(r.attr, "j.value", filter)?;
            Ok(format!(
                "EXISTS (SELECT 1 FROM json_each(r.doc, '{}') j WHERE {inner})",
                json_path(&r, false)
            ))
        } else {
            let base = format!("json_extract(r.doc, '{}')", json_path(&r, false));
            self.element(r.attr, &base, filter)
        }
    }

    /// A filter evaluated against one element whose JSON is the SQL expression `base`.
    fn element(&mut self, parent: &AttrDef, base: &str, f: &Filter) -> Result<String, ScimError> {
        Ok(match f {
            Filter::And(a, b) => format!(
                "({} AND {})",
                self.element(parent, base, a)?,
                self.element(parent, base, b)?
            ),
            Filter::Or(a, b) => format!(
                "({} OR {})",
                self.element(parent, base, a)?,
                self.element(parent, base, b)?
            ),
            Filter::Not(inner) => {
                format!("(NOT COALESCE({}, 0))", self.element(parent, base, inner)?)
            }
            Filter::Present(p) => {
                let sub = element_sub(parent, p)?;
                present(&format!("json_extract({base}, '$.\"{}\"')", sub.name))
            }
            Filter::Compare { attr, op, value } => {
                let sub = element_sub(parent, attr)?;
                let expr = format!("json_extract({base}, '$.\"{}\"')", sub.name);
                self.compare(sub, &expr, false, *op, value)?
            }
            Filter::ValuePath { .. } => {
                return Err(ScimError::invalid_filter(
                    "filter: value filters cannot be nested inside another value filter",
                ));
            }
        })
    }

    /// `members.value eq "<id>"` on groups and `groups.value eq "<id>"` on users read the
    /// membership table through its indexes instead of any JSON.
    fn membership(
        &mut self,
        r: &Resolved,
        cmp: Option<(CompareOp, &CompValue)>,
    ) -> Result<Option<String>, ScimError> {
        let relation = matches!(
            (self.rt.name, &*r.attr.name),
            ("Group", "members") | ("User", "groups")
        );
        if !relation || r.extension.is_some() {
            return Ok(None);
        }
        let sub = r.sub.map_or("value", |s| &*s.name);
        match (sub, cmp) {
            ("value", Some((CompareOp::Eq, CompValue::String(id)))) => {
                self.membership_in(r, std::slice::from_ref(id)).map(Some)
            }
            (_, None) if r.sub.is_none() => {
                let (own, _) = membership_columns(self.rt);
                Ok(Some(format!(
                    "EXISTS (SELECT 1 FROM group_members m WHERE m.{own} = r.seq)"
                )))
            }
            _ => Err(ScimError::invalid_filter(format!(
                "filter: {} supports only {}.value eq \"<id>\" and {} pr",
                r.attr.name, r.attr.name, r.attr.name
            ))),
        }
    }

    fn membership_in(&mut self, r: &Resolved, ids: &[String]) -> Result<String, ScimError> {
        let (own, other) = membership_columns(self.rt);
        let placeholders: Vec<String> = ids
            .iter()
            .map(|id| self.bind(SqlValue::Text(id.clone())))
            .collect();
        let _ = r;
        Ok(format!(
            "r.seq IN (SELECT m.{own} FROM group_members m JOIN resources o ON o.seq = m.{other} \
             WHERE o.tenant_id = ?1 AND o.resource_type IN ('User', 'Group') AND o.id IN ({}))",
            placeholders.join(", ")
        ))
    }

    /// `emails.value eq "x"` is what IdPs look users up by: answer it from resource_emails.
    fn indexed_email(
        &mut self,
        r: &Resolved,
        cmp: Option<(CompareOp, &CompValue)>,
    ) -> Result<Option<String>, ScimError> {
        let is_email_value = self.rt.name == "User"
            && r.extension.is_none()
            && r.attr.name == "emails"
            && r.sub.is_none_or(|s| s.name == "value");
        match cmp {
            Some((CompareOp::Eq, CompValue::String(v))) if is_email_value => {
                let p = self.bind(SqlValue::Text(fold(v)));
                Ok(Some(format!(
                    "r.seq IN (SELECT e.resource_seq FROM resource_emails e WHERE e.tenant_id = ?1 AND e.value_key = {p})"
                )))
            }
            _ => Ok(None),
        }
    }

    /// `eq` on an extension attribute declared unique: a lookup in the index of its values
    /// (`extension_values`) rather than a scan of every document.
    fn indexed_unique(
        &mut self,
        r: &Resolved,
        cmp: Option<(CompareOp, &CompValue)>,
    ) -> Option<String> {
        let ext = r.extension?;
        if r.sub.is_some() || r.attr.uniqueness == Uniqueness::None {
            return None;
        }
        let value = match cmp? {
            (CompareOp::Eq, CompValue::String(s)) => serde_json::Value::String(s.clone()),
            (CompareOp::Eq, CompValue::Number(n)) => serde_json::Value::Number(n.clone()),
            _ => return None,
        };
        let key = extension::value_key(r.attr, &value)?;
        let a = self.bind(SqlValue::Text(extension::attribute_key(
            &ext.id,
            &r.attr.name,
        )));
        let k = self.bind(SqlValue::Text(key));
        Some(format!(
            "r.seq IN (SELECT v.resource_seq FROM extension_values v WHERE v.tenant_id = ?1 AND v.attribute = {a} AND v.value_key = {k})"
        ))
    }

    /// `expr op value` for an attribute of definition `def`. `folded` says `expr` is already
    /// case-folded (an indexed key column).
    fn compare(
        &mut self,
        def: &AttrDef,
        expr: &str,
        folded: bool,
        op: CompareOp,
        value: &CompValue,
    ) -> Result<String, ScimError> {
        let name = &*def.name;
        if let CompValue::Null = value {
            return match op {
                CompareOp::Eq => Ok(format!("({expr} IS NULL)")),
                CompareOp::Ne => Ok(format!("({expr} IS NOT NULL)")),
                _ => Err(ScimError::invalid_filter(format!(
                    "filter: {name} {} null is not meaningful; use eq null, ne null or pr",
                    op.as_str()
                ))),
            };
        }
        let operand = self.operand(def, op, value)?;
        let lhs = if is_textual(def) && !def.case_exact && !folded {
            format!("scim_fold({expr})")
        } else {
            expr.to_owned()
        };
        let p = self.bind(operand);
        Ok(match op {
            CompareOp::Eq => format!("({lhs} = {p})"),
            CompareOp::Ne => format!("({lhs} IS NOT {p})"),
            CompareOp::Co => format!("(instr({lhs}, {p}) > 0)"),
            CompareOp::Sw => format!("(substr({lhs}, 1, length({p})) = {p})"),
            CompareOp::Ew => {
                // substr(x, -0) is all of x, so count from the start: `ew ""` must be true.
                format!(
                    "(length({lhs}) >= length({p}) AND substr({lhs}, length({lhs}) - length({p}) + 1) = {p})"
                )
            }
            CompareOp::Gt => format!("({lhs} > {p})"),
            CompareOp::Ge => format!("({lhs} >= {p})"),
            CompareOp::Lt => format!("({lhs} < {p})"),
            CompareOp::Le => format!("({lhs} <= {p})"),
        })
    }

    /// Checks the literal against the attribute's type and converts it to the stored form.
    fn operand(
        &self,
        def: &AttrDef,
        op: CompareOp,
        value: &CompValue,
    ) -> Result<SqlValue, ScimError> {
        let name = &*def.name;
        let ordering = matches!(
            op,
            CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le
        );
        let substring = matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew);
        match def.ty {
            AttrType::Boolean => {
                if ordering || substring {
                    return Err(ScimError::invalid_filter(format!(
                        "filter: {name} is a boolean; only eq and ne apply to it, not {}",
                        op.as_str()
                    )));
                }
                match value {
                    CompValue::Bool(b) => Ok(SqlValue::Integer(i64::from(*b))),
                    // Entra's string booleans (S54) are accepted in filters as in bodies.
                    CompValue::String(s) if s.eq_ignore_ascii_case("true") => {
                        self.string_boolean.set(true);
                        Ok(SqlValue::Integer(1))
                    }
                    CompValue::String(s) if s.eq_ignore_ascii_case("false") => {
                        self.string_boolean.set(true);
                        Ok(SqlValue::Integer(0))
                    }
                    _ => Err(ScimError::invalid_filter(format!("filter: {name} is a boolean; compare it with true or false"))),
                }
            }
            AttrType::Integer | AttrType::Decimal => {
                if substring {
                    return Err(ScimError::invalid_filter(format!("filter: {name} is a number; {} applies to strings", op.as_str())));
                }
                match value {
                    CompValue::Number(n) => Ok(n.as_i64().map_or_else(|| SqlValue::Real(n.as_f64().unwrap_or(0.0)), SqlValue::Integer)),
                    _ => Err(ScimError::invalid_filter(format!("filter: {name} is a number; compare it with a JSON number"))),
                }
            }
            AttrType::DateTime => match value {
                CompValue::String(s) => crate::clock::normalize(s).map(SqlValue::Text).ok_or_else(|| {
                    ScimError::invalid_filter(format!(
                        "filter: {name} is a dateTime; \"{s}\" is not one (use RFC 3339, e.g. \"2011-05-13T04:42:34Z\")"
                    ))
                }),
                _ => Err(ScimError::invalid_filter(format!("filter: {name} is a dateTime; compare it with a quoted RFC 3339 timestamp"))),
            },
            AttrType::Binary if ordering => {
                Err(ScimError::invalid_filter(format!("filter: {name} is binary; {} does not apply", op.as_str())))
            }
            AttrType::String | AttrType::Reference | AttrType::Binary => {
                let text = match value {
                    CompValue::String(s) => s.clone(),
                    CompValue::Number(n) => n.to_string(),
                    CompValue::Bool(_) | CompValue::Null => {
                        return Err(ScimError::invalid_filter(format!("filter: {name} is a string; compare it with a quoted string")));
                    }
                };
                Ok(SqlValue::Text(if def.case_exact { text } else { fold(&text) }))
            }
            AttrType::Complex => Err(ScimError::invalid_filter(format!(
                "filter: {name} is complex; compare one of its sub-attributes instead"
            ))),
        }
    }
}

fn present(expr: &str) -> String {
    format!("({expr} IS NOT NULL AND {expr} <> '')")
}

fn complex_compare(r: &Resolved) -> ScimError {
    let subs: Vec<&str> = r.attr.sub_attributes.iter().map(|s| &*s.name).collect();
    ScimError::invalid_filter(format!(
        "filter: {} is complex; compare one of its sub-attributes ({})",
        r.canonical(),
        subs.join(", ")
    ))
}

fn element_sub<'a>(parent: &'a AttrDef, path: &AttrPath) -> Result<&'a AttrDef, ScimError> {
    if path.urn.is_some() || path.sub_attr.is_some() {
        return Err(ScimError::invalid_filter(format!(
            "filter: inside {}[…] name a sub-attribute of {} directly, e.g. type or value",
            parent.name, parent.name
        )));
    }
    parent.sub(&path.name).ok_or_else(|| {
        let subs: Vec<&str> = parent.sub_attributes.iter().map(|s| &*s.name).collect();
        ScimError::invalid_filter(format!(
            "filter: {} has no sub-attribute \"{}\"; it has {}",
            parent.name,
            path.name,
            subs.join(", ")
        ))
    })
}

/// (column naming this resource in group_members, column naming the other side).
fn membership_columns(rt: &ResourceType) -> (&'static str, &'static str) {
    if rt.name == "Group" {
        ("group_seq", "member_seq")
    } else {
        ("member_seq", "group_seq")
    }
}

/// The ids of `value eq "<id>" [or value eq "<id>" …]`, the only member filters IdPs send.
fn member_ids(f: &Filter) -> Option<Vec<String>> {
    match f {
        Filter::Compare {
            attr,
            op: CompareOp::Eq,
            value: CompValue::String(id),
        } if attr.urn.is_none()
            && attr.sub_attr.is_none()
            && attr.name.eq_ignore_ascii_case("value") =>
        {
            Some(vec![id.clone()])
        }
        Filter::Or(a, b) => {
            let mut ids = member_ids(a)?;
            ids.extend(member_ids(b)?);
            Some(ids)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::filter::parse_filter;
    use crate::scim::schema::{GROUP, USER};

    fn sql(rt: &ResourceType, f: &str) -> Result<SqlWhere, ScimError> {
        translate(rt, &parse_filter(f).expect("parse"))
    }

    #[test]
    fn string_booleans_in_filters_are_noted() {
        let mut q = Quirks::default();
        let w = translate_noting(
            &USER,
            &parse_filter("active eq \"False\"").expect("parse"),
            &mut q,
        )
        .expect("ok");
        assert_eq!(w.params, vec![SqlValue::Integer(0)]);
        assert!(q.contains(Quirk::StringBoolean));
        let mut plain = Quirks::default();
        translate_noting(
            &USER,
            &parse_filter("active eq false").expect("parse"),
            &mut plain,
        )
        .expect("ok");
        assert!(plain.is_empty());
    }

    #[test]
    fn eq_on_a_unique_extension_attribute_is_an_index_lookup() {
        let decl = serde_json::json!({"id": "urn:x:ext:User", "attributes": [
            {"name": "badge", "type": "string", "uniqueness": "server"},
            {"name": "note", "type": "string"}]});
        let ext = crate::scim::extension::parse(&USER, &decl, &Default::default()).expect("decl");
        let registry = crate::scim::schema::Registry::with_extensions(vec![("User", ext)]);
        let rt = registry.get(&USER);
        let w = sql(rt, "urn:x:ext:User:badge eq \"AB\"").expect("ok");
        assert!(w.sql.contains("extension_values"), "{}", w.sql);
        assert!(
            w.params.contains(&SqlValue::Text("ab".into())),
            "{:?}",
            w.params
        );
        let w = sql(rt, "urn:x:ext:User:note eq \"AB\"").expect("ok");
        assert!(!w.sql.contains("extension_values"), "{}", w.sql);
        let w = sql(rt, "urn:x:ext:User pr").expect("ok");
        assert!(w.sql.contains("json_type"), "{}", w.sql);
    }

    #[test]
    fn indexed_attributes_use_columns() {
        let w = sql(&USER, "userName eq \"Bob@X\"").expect("ok");
        assert_eq!(w.sql, "(r.name_key = ?3)");
        assert_eq!(w.params, vec![SqlValue::Text("bob@x".into())]);
        assert_eq!(
            sql(&USER, "externalId eq \"AbC\"").expect("ok").params,
            vec![SqlValue::Text("AbC".into())]
        );
        assert!(
            sql(&USER, "emails.value eq \"A@x\"")
                .expect("ok")
                .sql
                .contains("resource_emails")
        );
        assert!(
            sql(&GROUP, "displayName eq \"Sales\"")
                .expect("ok")
                .sql
                .contains("r.name_key")
        );
    }

    #[test]
    fn type_errors_are_invalid_filter() {
        for (f, needle) in [
            ("active gt true", "boolean"),
            ("nmae.givenName eq \"x\"", "nmae"),
            ("name eq \"x\"", "complex"),
            ("meta.created gt \"yesterday\"", "dateTime"),
            ("emails[foo eq \"x\"]", "foo"),
        ] {
            let e = sql(&USER, f).expect_err(f);
            assert_eq!(
                e.scim_type,
                Some(crate::scim::ScimType::InvalidFilter),
                "{f}"
            );
            assert!(e.detail.contains(needle), "{f}: {}", e.detail);
        }
    }

    #[test]
    fn params_are_numbered_from_three() {
        let w = sql(
            &USER,
            "userName eq \"a\" and (title co \"b\" or not (nickName sw \"c\"))",
        )
        .expect("ok");
        assert!(
            w.sql.contains("?3") && w.sql.contains("?4") && w.sql.contains("?5"),
            "{}",
            w.sql
        );
        assert_eq!(w.params.len(), 3);
    }
}
