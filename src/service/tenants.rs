//! Tenant creation and listing for the CLI and the admin API: slugs are validated here once so
//! both front-ends accept exactly the same URLs.

use super::OpError;
use crate::clock;
use crate::store::tenants::{self, Tenant};
use crate::store::{Store, StoreError};

/// Creates a tenant served at `/t/{slug}/scim/v2`.
pub fn create(store: &Store, slug: &str, display_name: Option<&str>) -> Result<Tenant, OpError> {
    if !valid_slug(slug) {
        return Err(OpError::Invalid(format!(
            "\"{slug}\" is not a valid tenant slug: use 1-63 lowercase letters, digits and hyphens, starting with a letter or digit"
        )));
    }
    let now = clock::timestamp(clock::now());
    let name = display_name
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or(slug)
        .to_owned();
    let owned_slug = slug.to_owned();
    store
        .write_blocking(move |tx| tenants::create(tx, &owned_slug, &name, &now))
        .map_err(|e| match e {
            StoreError::Conflict { .. } => {
                OpError::Conflict(format!("tenant \"{slug}\" already exists"))
            }
            other => OpError::Internal(other.to_string()),
        })
}

/// Every tenant, oldest first.
pub fn list(store: &Store) -> Result<Vec<Tenant>, OpError> {
    store
        .read_blocking(tenants::list)
        .map_err(|e| OpError::Internal(e.to_string()))
}

/// Tenant slugs appear in URLs: keep them to a safe, unambiguous alphabet.
fn valid_slug(slug: &str) -> bool {
    (1..=63).contains(&slug.len())
        && slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !slug.starts_with('-')
}

/// Removes a throwaway tenant (`ephemeral`, like `scimd doctor`'s self-test tenant) with all
/// its rows, in both databases. Refuses any other tenant: real data is never removed here.
pub fn remove_ephemeral(store: &Store, slug: &str) -> Result<(), OpError> {
    let owned = slug.to_owned();
    let id = store
        .write_blocking(move |tx| {
            let Some(tenant) = tenants::by_slug(tx, &owned)? else {
                return Ok(None);
            };
            if !super::settings::ephemeral_of(&tenant) {
                return Ok(Some(Err(tenant.slug)));
            }
            tenants::remove(tx, tenant.id)?;
            Ok(Some(Ok(tenant.id)))
        })
        .map_err(|e| OpError::Internal(e.to_string()))?;
    let id = match id {
        None => return Err(OpError::NotFound(format!("no tenant \"{slug}\""))),
        Some(Err(real)) => {
            return Err(OpError::Conflict(format!(
                "tenant \"{real}\" is not ephemeral; only throwaway tenants are removed"
            )));
        }
        Some(Ok(id)) => id,
    };
    // The request log keeps no foreign key to the tenant; its rows go in their own file.
    store
        .write_log_blocking(move |log| {
            for table in tenants::tables_with_tenant_id(log)? {
                log.execute(
                    &format!("DELETE FROM \"{table}\" WHERE tenant_id = ?1"),
                    [id],
                )?;
            }
            Ok(())
        })
        .map_err(|e| OpError::Internal(e.to_string()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn slugs() {
        assert!(super::valid_slug("acme-2"));
        assert!(!super::valid_slug("Acme"));
        assert!(!super::valid_slug("-x"));
        assert!(!super::valid_slug(""));
        assert!(!super::valid_slug("a/b"));
    }
}
