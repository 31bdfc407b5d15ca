//! Per-resource history: who created, changed or deleted each user and group, when, through
//! which token and IdP, and which attributes changed (before → after). Rows are written inside
//! the transaction that makes the change, so the history can never disagree with the data.
//! Secrets never reach it: documents hold no password (only its hash, kept elsewhere), and a
//! password change is recorded as a redacted change.
//!
//! Bounded: each before/after value is kept up to `history.max_value_bytes` of JSON (the change
//! is marked `"truncated": true`), and changes older than `history.retention_days` are pruned
//! with the request log (`service::request_log`).

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::{OpError, Scope};
use crate::clock;
use crate::scim::redact::{REDACTED, is_secret, redact_json};
use crate::scim::resource::Document;
use crate::scim::schema::{ResourceType, Returned};
use crate::store::request_log::{self as rows, HistoryRow};
use crate::store::{Conn, Store};

/// What kind of change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Create,
    Update,
    Delete,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Update => "update",
            Self::Delete => "delete",
        }
    }
}

/// Attribute-level differences between two documents: nested objects are compared member by
/// member (`name.givenName`, `urn:…:User:department`), arrays as whole values.
pub fn diff(before: &Document, after: &Document) -> Vec<Value> {
    let mut out = Vec::new();
    walk("", before, after, &mut out);
    out
}

fn join(prefix: &str, key: &str) -> String {
    match prefix {
        "" => key.to_owned(),
        // An extension block (see `walk`): its attributes are written `urn:…:User:department`
        // (RFC 7644 §3.10).
        p if p.ends_with(':') => format!("{p}{key}"),
        p => format!("{p}.{key}"),
    }
}

fn walk(
    prefix: &str,
    before: &Map<String, Value>,
    after: &Map<String, Value>,
    out: &mut Vec<Value>,
) {
    let keys = before
        .keys()
        .chain(after.keys().filter(|k| !before.contains_key(*k)));
    for k in keys {
        let (b, a) = (before.get(k), after.get(k));
        if b == a {
            continue;
        }
        let name = join(prefix, k);
        if let (Some(Value::Object(bo)), Some(Value::Object(ao))) = (b, a) {
            // Top-level keys with a colon are extension URNs, built-in or a tenant's own.
            if prefix.is_empty() && k.contains(':') {
                walk(&format!("{k}:"), bo, ao, out);
            } else {
                walk(&name, bo, ao, out);
            }
            continue;
        }
        let shown = |v: Option<&Value>| {
            if is_secret(k) {
                return json!(REDACTED);
            }
            let mut v = v.cloned().unwrap_or(Value::Null);
            redact_json(&mut v);
            v
        };
        out.push(json!({"attribute": name, "before": shown(b), "after": shown(a)}));
    }
}

/// Records a change of `rt` `id` in the caller's transaction.
#[allow(clippy::too_many_arguments)]
pub fn record(
    conn: &Conn,
    scope: &Scope,
    rt: &ResourceType,
    id: &str,
    action: Action,
    before: Option<&Document>,
    after: Option<&Document>,
    extra: Vec<Value>,
) -> crate::store::Result<()> {
    let empty = Document::new();
    let mut changes = diff(before.unwrap_or(&empty), after.unwrap_or(&empty));
    changes.extend(extra);
    for change in &mut changes {
        redact_never_returned(rt, change);
        cap_values(change, scope.history_value_cap);
    }
    let actor = scope.actor.as_ref();
    rows::insert_history(
        conn,
        scope.tenant_id,
        rt.name,
        id,
        &HistoryRow {
            time: clock::timestamp(clock::now()),
            action: action.as_str(),
            token_id: actor.map(|a| a.token_id.clone()),
            token_name: actor.map(|a| a.token_name.clone()),
            idp: actor.map(|a| a.idp.clone()),
            changes: Value::Array(changes).to_string(),
        },
    )
}

/// Withholds the values of a tenant's extension attributes declared `returned: never` (the
/// built-in ones, `password`, are withheld by name in `diff`): history is shown in the UI.
fn redact_never_returned(rt: &ResourceType, change: &mut Value) {
    let Value::Object(c) = change else {
        return;
    };
    let Some(attribute) = c
        .get("attribute")
        .and_then(Value::as_str)
        .map(str::to_owned)
    else {
        return;
    };
    for ext in rt.extensions.iter() {
        let secret = |name: &str| {
            ext.attributes
                .iter()
                .any(|a| a.returned == Returned::Never && a.name.eq_ignore_ascii_case(name))
        };
        if attribute.eq_ignore_ascii_case(&ext.id) {
            // The whole block was added or removed: withhold its secret members.
            for side in ["before", "after"] {
                if let Some(Value::Object(block)) = c.get_mut(side) {
                    for (k, v) in block.iter_mut() {
                        if secret(k) {
                            *v = json!(REDACTED);
                        }
                    }
                }
            }
        } else if let Some(name) = attribute
            .get(..ext.id.len())
            .filter(|p| p.eq_ignore_ascii_case(&ext.id))
            .and_then(|_| attribute.get(ext.id.len()..))
            .and_then(|rest| rest.strip_prefix(':'))
            && secret(name.split('.').next().unwrap_or(name))
        {
            for side in ["before", "after"] {
                if c.get(side).is_some_and(|v| !v.is_null()) {
                    c.insert(side.to_owned(), json!(REDACTED));
                }
            }
        }
    }
}

/// Cuts each of a change's before/after values whose JSON is longer than `cap` bytes to a
/// string of its first `cap` bytes and `…`, and marks the change `"truncated": true`: one
/// PATCH of a 500 KB attribute must not store 1 MB of history, forever.
fn cap_values(change: &mut Value, cap: usize) {
    let Value::Object(change) = change else {
        return;
    };
    let mut cut = false;
    for side in ["before", "after"] {
        let Some(value) = change.get_mut(side) else {
            continue;
        };
        if let Some(prefix) = json_beyond(value, cap) {
            *value = Value::String(format!("{prefix}…"));
            cut = true;
        }
    }
    if cut {
        change.insert("truncated".into(), Value::Bool(true));
    }
}

/// The first `cap` bytes of `value`'s JSON when it is longer, else `None`. Rendering stops
/// once past the cap, so a huge value costs the writer's transaction no more than a small one.
fn json_beyond(value: &Value, cap: usize) -> Option<String> {
    match value {
        // A JSON string is at most six bytes per byte (`\u001f`), plus its quotes.
        Value::String(s) if s.len() * 6 + 2 <= cap => return None,
        Value::Null | Value::Bool(_) | Value::Number(_) => return None,
        _ => {}
    }
    let mut out = Bounded(Vec::with_capacity(cap + 1), cap + 1);
    if serde_json::to_writer(&mut out, value).is_ok() && out.0.len() <= cap {
        return None;
    }
    let text = String::from_utf8_lossy(&out.0);
    Some(text[..text.floor_char_boundary(cap)].to_owned())
}

/// A writer that takes up to its limit and then fails, ending the rendering.
struct Bounded(Vec<u8>, usize);

impl std::io::Write for Bounded {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let room = self.1 - self.0.len();
        if room == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        let n = buf.len().min(room);
        self.0.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Deletes changes older than `retention_days` before `now`, a chunk per transaction so that
/// a long backlog never holds the writer for long; returns how many.
pub async fn prune(
    store: &Store,
    now: time::OffsetDateTime,
    retention_days: u32,
) -> crate::store::Result<usize> {
    let before = clock::timestamp(now - time::Duration::days(i64::from(retention_days)));
    let mut pruned = 0;
    loop {
        let before = before.clone();
        let n = store
            .write(move |c| rows::prune_history(c, &before, PRUNE_CHUNK))
            .await?;
        pruned += n;
        if n < PRUNE_CHUNK {
            return Ok(pruned);
        }
    }
}

/// History rows deleted per transaction.
const PRUNE_CHUNK: usize = 1000;

/// The redacted change noted when a password is set.
pub fn password_change() -> Value {
    json!({"attribute": "password", "before": REDACTED, "after": REDACTED})
}

/// A membership change, described without the member documents.
pub fn members_change(description: Value) -> Value {
    json!({"attribute": "members", "before": Value::Null, "after": description})
}

/// One history item as the admin API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    pub time: String,
    pub action: &'static str,
    pub token: Option<super::request_log::TokenRef>,
    pub idp: Option<String>,
    pub changes: Value,
}

/// `{"items": [...]}`, newest first.
#[derive(Debug, Clone, Serialize)]
pub struct History {
    pub items: Vec<Item>,
}

/// The history of one resource of the tenant in `scope`.
pub fn of(store: &Store, scope: &Scope, rt: &ResourceType, id: &str) -> Result<History, OpError> {
    let rows = store
        .read_blocking(|c| rows::history(c, scope.tenant_id, rt.name, id))
        .map_err(|e| OpError::Internal(format!("the database failed: {e}")))?;
    Ok(History {
        items: rows
            .into_iter()
            .map(|r| Item {
                time: r.time,
                action: r.action,
                token: match (r.token_id, r.token_name) {
                    (Some(id), Some(name)) => Some(super::request_log::TokenRef { id, name }),
                    _ => None,
                },
                idp: r.idp,
                changes: serde_json::from_str(&r.changes).unwrap_or(Value::Null),
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(v: Value) -> Document {
        match v {
            Value::Object(m) => m,
            _ => Document::new(),
        }
    }

    #[test]
    fn values_over_the_cap_are_cut_and_marked() {
        let mut change = json!({"attribute": "x", "before": "short", "after": "é".repeat(100)});
        cap_values(&mut change, 64);
        assert_eq!(change["before"], "short");
        assert_eq!(change["truncated"], true);
        let after = change["after"].as_str().expect("string");
        assert!(after.starts_with("\"éé") && after.ends_with('…'), "{after}");
        assert!(after.len() <= 64 + '…'.len_utf8(), "{after}");

        let mut small = json!({"attribute": "x", "before": null, "after": [1, 2, 3]});
        cap_values(&mut small, 64);
        assert_eq!(
            small,
            json!({"attribute": "x", "before": null, "after": [1, 2, 3]})
        );

        // Exactly at the cap is kept whole.
        let exact = "a".repeat(62);
        let mut at_cap = json!({"attribute": "x", "after": exact});
        cap_values(&mut at_cap, 64);
        assert_eq!(at_cap["after"], json!("a".repeat(62)));
        assert!(at_cap.get("truncated").is_none());
    }

    #[test]
    fn nested_and_extension_changes_are_named() {
        let ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
        let b = doc(
            json!({"name":{"givenName":"A","familyName":"X"},"active":true, ent: {"department":"d1"}}),
        );
        let a = doc(
            json!({"name":{"givenName":"B","familyName":"X"},"active":false, ent: {"department":"d2"}, "title":"t"}),
        );
        let d = diff(&b, &a);
        let names: Vec<&str> = d.iter().filter_map(|c| c["attribute"].as_str()).collect();
        assert_eq!(
            names,
            vec![
                "name.givenName",
                "active",
                &format!("{ent}:department"),
                "title"
            ]
        );
        assert_eq!(d[0]["before"], "A");
        assert_eq!(d[0]["after"], "B");
    }
}
