//! Users and groups as the admin UI browses them: free-text search, a raw SCIM filter, sort and
//! paging, all translated by the SCIM filter engine into the same tenant-scoped SQL a SCIM
//! client gets, so the UI can show nothing a token of that tenant could not read.

use serde_json::{Value, json};

use super::Scope;
use super::resources;
use crate::scim::error::{Result, ScimError};
use crate::scim::filter::{Filter, parse_filter};
use crate::scim::list::{RawListParams, list_response};
use crate::scim::projection::Projection;
use crate::scim::quirks::Quirks;
use crate::scim::schema::{GROUP, ResourceType, USER};
use crate::store::{Store, StoreError, browse};

/// Query parameters of a browse request.
#[derive(Debug, Default, Clone)]
pub struct BrowseParams {
    /// Free text matched (contains, case-insensitive) against the names shown in the UI.
    pub q: Option<String>,
    /// A raw SCIM filter (RFC 7644 §3.4.2.2), combined with `q` by `and`.
    pub filter: Option<String>,
    pub sort_by: Option<String>,
    pub sort_order: Option<String>,
    pub start_index: Option<String>,
    pub count: Option<String>,
}

/// Attributes `q` searches, per resource type.
fn searched(rt: &ResourceType) -> &'static [&'static str] {
    if rt.name == GROUP.name {
        &["displayName", "externalId"]
    } else {
        &["userName", "displayName", "emails.value", "externalId"]
    }
}

/// The SCIM filter for `q`: `userName co "q" or displayName co "q" or …`.
pub fn free_text_filter(rt: &ResourceType, q: &str) -> String {
    // serde_json quotes and escapes exactly as the filter grammar's strings expect.
    let quoted = Value::String(q.to_owned()).to_string();
    searched(rt)
        .iter()
        .map(|attr| format!("{attr} co {quoted}"))
        .collect::<Vec<_>>()
        .join(" or ")
}

/// The raw filter and the free text, each parsed on its own and joined by `and` as trees: a
/// raw filter cannot close the parenthesis around it and change what `q` means, and a
/// mistake in it is reported at its own positions.
fn combined_filter(rt: &ResourceType, p: &BrowseParams) -> Result<Option<Filter>> {
    let parse = |name: &str, text: &str| {
        parse_filter(text).map_err(|e| ScimError::invalid_filter(format!("{name}: {e}")))
    };
    let q = p.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    let q = q
        .map(|q| parse("q", &free_text_filter(rt, q)))
        .transpose()?;
    let raw = p.filter.as_deref().map(str::trim).filter(|f| !f.is_empty());
    let raw = raw.map(|f| parse("filter", f)).transpose()?;
    Ok(match (raw, q) {
        (Some(f), Some(q)) => Some(Filter::And(Box::new(f), Box::new(q))),
        (f, q) => f.or(q),
    })
}

/// One page of users or groups. Group lists leave `members` out: the detail view pages them.
pub async fn list(
    store: &Store,
    rt: &'static ResourceType,
    scope: &Scope,
    params: &BrowseParams,
    max_results: u32,
) -> Result<Value> {
    let raw = RawListParams {
        filter: None,
        start_index: params.start_index.clone(),
        count: params.count.clone(),
        sort_by: params.sort_by.clone(),
        sort_order: params.sort_order.clone(),
        attributes: None,
        excluded_attributes: (rt.name == GROUP.name).then(|| "members".to_owned()),
    };
    let mut query = raw.parse(max_results)?;
    query.filter = combined_filter(rt, params)?;
    resources::list(
        store,
        scope.schemas.get(rt),
        scope,
        query,
        &mut Quirks::default(),
    )
    .await?
    .into_value()
}

/// One user with the groups it belongs to (direct and inherited, as SCIM renders `groups`).
pub async fn user(store: &Store, scope: &Scope, id: &str) -> Result<Value> {
    resources::get(
        store,
        scope.schemas.get(&USER),
        scope,
        id,
        &Projection::default(),
    )
    .await?
    .body
    .into_value()
}

/// One group without its member list, plus one page of members.
pub async fn group(
    store: &Store,
    scope: &Scope,
    id: &str,
    start_index: Option<&str>,
    count: Option<&str>,
    max_results: u32,
) -> Result<Value> {
    let without_members = Projection::parse(None, Some("members"))?;
    let group = resources::get(
        store,
        scope.schemas.get(&GROUP),
        scope,
        id,
        &without_members,
    )
    .await?;
    let paging = RawListParams {
        start_index: start_index.map(str::to_owned),
        count: count.map(str::to_owned),
        ..RawListParams::default()
    }
    .parse(max_results)?;
    let (tenant_id, group_id) = (scope.tenant_id, id.to_owned());
    let (start, limit) = (paging.start_index, paging.count);
    let (total, members) = store
        .read(move |c| browse::members_page(c, tenant_id, &group_id, start - 1, limit))
        .await
        .map_err(|e| match e {
            // Deleted between the two reads.
            StoreError::NotFound => {
                ScimError::not_found(format!("Group {id} does not exist in this tenant"))
            }
            other => {
                tracing::error!("members page failed: {other}");
                ScimError::internal()
            }
        })?;
    let members = members
        .into_iter()
        .map(|m| json!({"value": m.id, "display": m.display, "type": m.resource_type}))
        .collect();
    Ok(json!({"group": group.body.into_value()?, "members": list_response(total, start, members)}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_text_is_a_valid_escaped_filter() {
        let f = free_text_filter(&USER, "o\"brien\\x");
        assert!(
            f.starts_with(r#"userName co "o\"brien\\x" or displayName co"#),
            "{f}"
        );
        parse_filter(&f).expect("parses");
        let p = BrowseParams {
            q: Some("ann".into()),
            filter: Some("active eq true".into()),
            ..BrowseParams::default()
        };
        let both = combined_filter(&USER, &p).expect("valid").expect("filter");
        assert!(
            both.to_string()
                .starts_with("active eq true and (userName co \"ann\""),
            "{both}"
        );
    }

    /// Review item 11 of issue 19: the raw filter used to be pasted into
    /// `({filter}) and ({q})`, so `…") or (userName pr` closed its own parenthesis and
    /// widened the search past `q`.
    #[test]
    fn a_raw_filter_cannot_escape_its_parentheses() {
        let p = BrowseParams {
            q: Some("ann".into()),
            filter: Some(r#"userName eq "x") or (userName pr"#.into()),
            ..BrowseParams::default()
        };
        let err = combined_filter(&USER, &p).expect_err("refused");
        assert_eq!(err.status, 400);
        assert!(err.detail.starts_with("filter: "), "{}", err.detail);
    }
}
