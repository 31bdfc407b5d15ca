//! `scimd export`: every user and group of a tenant as JSON lines, exactly as SCIM GET renders
//! them (members and groups included, no password hash: it is never part of a resource), read
//! in one transaction so the file is consistent as of one commit. For audits and migrations.

use serde_json::{Value, json};

use super::members;
use super::resources::render;
use super::{OpError, Scope};
use crate::scim::schema::USER;
use crate::store::{self, Store, StoreError};

/// How many resources an export wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Exported {
    pub users: u64,
    pub groups: u64,
}

/// Writes every user, then every group, of `scope`'s tenant to `line`, one resource a call.
pub fn export(
    store: &Store,
    scope: &Scope,
    mut line: impl FnMut(&Value) -> std::io::Result<()>,
) -> Result<Exported, OpError> {
    store
        .read_blocking(|conn| store::snapshot(conn, |conn| resources(conn, scope, &mut line)))
        .map_err(|e| OpError::Internal(format!("export failed: {e}")))
}

/// The events feed's resynchronisation point (`GET …/events/snapshot`): a first line
/// `{"cursor": N, …}`, every user and group as of the commit that made event N, and a last
/// line `{"end": true, "users": …, "groups": …}` by which a reader knows it got everything.
/// Applying the resources, then the feed from `cursor`, loses nothing and applies nothing
/// twice: the events and the changes they describe commit together.
pub fn snapshot(
    store: &Store,
    scope: &Scope,
    mut line: impl FnMut(&Value) -> std::io::Result<()>,
) -> Result<Exported, OpError> {
    store
        .read_blocking(|conn| {
            store::snapshot(conn, |conn| {
                let cursor = store::events::head(conn)?.last;
                emit(
                    &mut line,
                    &json!({"cursor": cursor, "tenant": scope.tenant_slug,
                            "taken_at": crate::clock::timestamp(crate::clock::now())}),
                )?;
                let count = resources(conn, scope, &mut line)?;
                emit(
                    &mut line,
                    &json!({"end": true, "users": count.users, "groups": count.groups}),
                )?;
                Ok(count)
            })
        })
        .map_err(|e| OpError::Internal(format!("snapshot failed: {e}")))
}

fn emit(line: &mut impl FnMut(&Value) -> std::io::Result<()>, value: &Value) -> store::Result<()> {
    line(value).map_err(|e| StoreError::Internal(format!("cannot write: {e}")))
}

/// Every user, then every group, rendered as SCIM GET renders them, inside the caller's
/// read transaction.
fn resources(
    conn: &store::Conn,
    scope: &Scope,
    line: &mut impl FnMut(&Value) -> std::io::Result<()>,
) -> store::Result<Exported> {
    let mut count = Exported::default();
    for rt in scope.schemas.types() {
        let relation = members::relation_name(rt.name);
        store::resources::for_each(conn, scope.tenant_id, rt.name, |row| {
            let related = members::related(conn, rt.name, row.seq, &scope.base_url)?;
            let body = render(rt, scope, &row, Some((relation, related)));
            emit(line, &Value::Object(body))?;
            if rt.name == USER.name {
                count.users += 1;
            } else {
                count.groups += 1;
            }
            Ok(())
        })?;
    }
    Ok(count)
}
