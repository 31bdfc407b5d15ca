//! Query parameters of list and search requests (RFC 7644 §3.4.2) and the ListResponse they
//! produce. Paging numbers are parsed leniently (startIndex < 1 is 1, count < 0 is 0) but a
//! value that is not a number at all is a 400 naming the parameter.

use super::quirks::Quirks;
use serde_json::{Value, json};

use super::error::{Result, ScimError};
use super::filter::{AttrPath, Filter, parse_filter_noting};
use super::projection::Projection;

/// The raw parameters as they arrived (query string or SearchRequest body).
#[derive(Debug, Default, Clone)]
pub struct RawListParams {
    pub filter: Option<String>,
    pub start_index: Option<String>,
    pub count: Option<String>,
    pub sort_by: Option<String>,
    pub sort_order: Option<String>,
    pub attributes: Option<String>,
    pub excluded_attributes: Option<String>,
}

/// Validated list parameters.
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub filter: Option<Filter>,
    /// 1-based index of the first result.
    pub start_index: u64,
    /// Page size after the server cap.
    pub count: u64,
    pub sort_by: Option<AttrPath>,
    pub ascending: bool,
    pub projection: Projection,
    /// The IdP dialect the parameters were read in (issue 21).
    pub quirks: Quirks,
}

impl RawListParams {
    /// Validates the parameters; `max_results` caps `count` (advertised as filter.maxResults).
    pub fn parse(&self, max_results: u32) -> Result<ListQuery> {
        let mut quirks = Quirks::default();
        let filter = match self.filter.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(f) => Some(
                parse_filter_noting(f, &mut quirks)
                    .map_err(|e| ScimError::invalid_filter(format!("filter: {e}")))?,
            ),
        };
        let start_index = parse_int("startIndex", self.start_index.as_deref())?
            .map_or(1, |n| n.max(1))
            .unsigned_abs();
        let count = parse_int("count", self.count.as_deref())?
            .map_or(i64::from(max_results), |n| {
                n.clamp(0, i64::from(max_results))
            })
            .unsigned_abs();
        let sort_by = match self.sort_by.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(s) => Some(parse_attr_list_item("sortBy", s)?),
        };
        let ascending = match self.sort_order.as_deref().map(str::trim) {
            None | Some("") => true,
            Some(o) if o.eq_ignore_ascii_case("ascending") => true,
            Some(o) if o.eq_ignore_ascii_case("descending") => false,
            Some(o) => {
                return Err(ScimError::invalid_value(format!(
                    "sortOrder \"{o}\" is not valid; use \"ascending\" or \"descending\""
                )));
            }
        };
        let projection = Projection::parse(
            self.attributes.as_deref(),
            self.excluded_attributes.as_deref(),
        )?;
        Ok(ListQuery {
            quirks,
            filter,
            start_index,
            count,
            sort_by,
            ascending,
            projection,
        })
    }
}

pub(crate) fn parse_attr_list(param: &str, raw: Option<&str>) -> Result<Vec<AttrPath>> {
    raw.unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| parse_attr_list_item(param, s))
        .collect()
}

fn parse_attr_list_item(param: &str, item: &str) -> Result<AttrPath> {
    let path = super::path::parse_path(item).map_err(|e| {
        ScimError::invalid_value(format!("{param}: \"{item}\" is not an attribute path: {e}"))
    })?;
    if path.filter.is_some() {
        return Err(ScimError::invalid_value(format!(
            "{param}: \"{item}\" has a value filter; list attribute names only, e.g. emails.value"
        )));
    }
    Ok(path.attr)
}

fn parse_int(name: &str, raw: Option<&str>) -> Result<Option<i64>> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => s.parse::<i64>().map(Some).or_else(|_| {
            // Saturate absurdly large numbers instead of rejecting them: they still mean "far".
            if !s.is_empty()
                && s.trim_start_matches('-')
                    .chars()
                    .all(|c| c.is_ascii_digit())
            {
                Ok(Some(if s.starts_with('-') {
                    i64::MIN
                } else {
                    i64::MAX
                }))
            } else {
                Err(ScimError::invalid_value(format!(
                    "{name} must be an integer, but the request sent \"{s}\""
                )))
            }
        }),
    }
}

/// The schema URN of a ListResponse (RFC 7644 §3.4.2).
pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// A ListResponse (RFC 7644 §3.4.2): numbers are JSON integers and `Resources` is always
/// present, even empty, because Okta fails on anything else (S01, S04).
pub fn list_response(total: u64, start_index: u64, resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_RESPONSE],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(start: Option<&str>, count: Option<&str>) -> RawListParams {
        RawListParams {
            start_index: start.map(Into::into),
            count: count.map(Into::into),
            ..Default::default()
        }
    }

    #[test]
    fn paging_is_clamped() {
        let q = raw(Some("0"), Some("-5")).parse(100).expect("ok");
        assert_eq!((q.start_index, q.count), (1, 0));
        let q = raw(None, Some("5000")).parse(100).expect("ok");
        assert_eq!((q.start_index, q.count), (1, 100));
        let q = raw(Some("99999999999999999999999"), None)
            .parse(100)
            .expect("ok");
        assert_eq!(q.start_index, i64::MAX.unsigned_abs());
    }

    #[test]
    fn non_numbers_are_named() {
        let e = raw(Some("one"), None).parse(100).expect_err("bad");
        assert!(e.detail.contains("startIndex"), "{}", e.detail);
    }

    #[test]
    fn list_response_uses_integers_and_always_has_resources() {
        let r = list_response(0, 1, vec![]);
        assert_eq!(r["startIndex"], json!(1));
        assert_eq!(r["Resources"], json!([]));
        assert!(r["totalResults"].is_u64());
    }
}
