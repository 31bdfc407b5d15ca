//! `scimd export`: every user and group of a tenant as JSON lines, exactly as SCIM GET renders
//! them (members and groups included, no password hash: it is never part of a resource), read
//! in one transaction so the file is consistent as of one commit. For audits and migrations.

use serde_json::Value;

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
    let mut count = Exported::default();
    store
        .read_blocking(|conn| {
            store::snapshot(conn, |conn| {
                for rt in scope.schemas.types() {
                    let relation = members::relation_name(rt.name);
                    store::resources::for_each(conn, scope.tenant_id, rt.name, |row| {
                        let related = members::related(conn, rt.name, row.seq, &scope.base_url)?;
                        let body = render(rt, scope, &row, Some((relation, related)));
                        line(&Value::Object(body))
                            .map_err(|e| StoreError::Internal(format!("cannot write: {e}")))?;
                        if rt.name == USER.name {
                            count.users += 1;
                        } else {
                            count.groups += 1;
                        }
                        Ok(())
                    })?;
                }
                Ok(())
            })
        })
        .map_err(|e| OpError::Internal(format!("export failed: {e}")))?;
    Ok(count)
}
