//! PATCH operation paths (RFC 7644 §3.5.2): `attrPath [valFilter] [.subAttr]`, e.g.
//! `emails[type eq "work"].value` or `urn:…:enterprise:2.0:User:manager.value`.
//! Tokenizing, attribute-path and bracket-filter parsing are shared with
//! [`super::filter`], so both report [`FilterError`]s with the same positions and wording.

use std::fmt;

use super::filter::{AttrPath, Filter, FilterError, Parser};

/// A parsed PATCH `path`.
///
/// Shapes produced by [`parse_path`]: `name.familyName` puts `familyName` in
/// `attr.sub_attr` (no filter); `emails[…].value` has `attr.sub_attr == None`, a filter,
/// and `sub_attr == Some("value")`. `sub_attr` is only ever set together with `filter`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    /// The targeted attribute (with its sub-attribute when there is no filter).
    pub attr: AttrPath,
    /// Value filter selecting elements of a multi-valued attribute.
    pub filter: Option<Filter>,
    /// Sub-attribute of the selected elements, written after `]`.
    pub sub_attr: Option<String>,
}

/// Parses a PATCH operation `path` (RFC 7644 §3.5.2). Surrounding whitespace is ignored;
/// anything else that is not a valid path is a [`FilterError`] (callers answer with
/// `scimType` `invalidPath`).
pub fn parse_path(input: &str) -> Result<PatchPath, FilterError> {
    let mut p = Parser::new(input, "path")?;
    p.skip_ws();
    if p.at_end() {
        return Err(p.error(p.pos, "an attribute path", Some("the path is empty")));
    }
    let attr = p.parse_attr_path()?;
    let mut filter = None;
    let mut sub_attr = None;
    if p.peek() == Some('[') {
        filter = Some(p.parse_value_filter(&attr)?);
        if p.peek() == Some('.') {
            sub_attr = Some(p.parse_dot_sub_attr()?);
        }
    }
    p.skip_ws();
    if !p.at_end() {
        let expected = match (&filter, &attr.sub_attr) {
            (None, None) => "a value filter \"[…]\", a \".\" and sub-attribute, or end of path",
            (Some(_), None) if sub_attr.is_none() => "a \".\" and sub-attribute, or end of path",
            _ => "end of path",
        };
        return Err(p.error(p.pos, expected, None));
    }
    Ok(PatchPath {
        attr,
        filter,
        sub_attr,
    })
}

/// Canonical text that [`parse_path`] reads back to an equal value (for the shapes
/// `parse_path` produces).
impl fmt::Display for PatchPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.attr)?;
        if let Some(filter) = &self.filter {
            write!(f, "[{filter}]")?;
        }
        if let Some(sub) = &self.sub_attr {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}
