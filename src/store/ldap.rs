//! What the LDAP front-end reads and keeps besides users and groups: service accounts, the
//! POSIX numbers allocated by migration 0011's trigger, and the names that make up the DNs of
//! related entries (members, groups, manager).

use rusqlite::{Connection, OptionalExtension, params};

use super::{Result, StoreError};

/// A service account as stored (the secret is only a hash).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Account {
    pub id: String,
    pub tenant_id: i64,
    pub name: String,
    pub prefix: String,
    #[serde(skip)]
    pub secret_hash: Vec<u8>,
    pub created: String,
    pub last_used: Option<String>,
}

const ACCOUNT_COLUMNS: &str =
    "id, tenant_id, name, prefix, secret_hash, created, last_used FROM ldap_accounts";

fn account(r: &rusqlite::Row<'_>) -> rusqlite::Result<Account> {
    Ok(Account {
        id: r.get(0)?,
        tenant_id: r.get(1)?,
        name: r.get(2)?,
        prefix: r.get(3)?,
        secret_hash: r.get(4)?,
        created: r.get(5)?,
        last_used: r.get(6)?,
    })
}

/// Stores a new account; `Conflict` if the tenant has one of that name.
pub fn insert_account(conn: &Connection, a: &Account) -> Result<()> {
    conn.execute(
        "INSERT INTO ldap_accounts (id, tenant_id, name, name_key, prefix, secret_hash, created) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            a.id,
            a.tenant_id,
            a.name,
            crate::scim::fold(&a.name),
            a.prefix,
            a.secret_hash,
            a.created
        ],
    )?;
    Ok(())
}

/// The account of a tenant whose name folds like `name`.
pub fn account_by_name(conn: &Connection, tenant_id: i64, name: &str) -> Result<Option<Account>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {ACCOUNT_COLUMNS} WHERE tenant_id = ?1 AND name_key = ?2"
        ))?
        .query_row(params![tenant_id, crate::scim::fold(name)], account)
        .optional()?)
}

/// Every account of a tenant (or of all tenants), oldest first.
pub fn accounts(conn: &Connection, tenant_id: Option<i64>) -> Result<Vec<Account>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {ACCOUNT_COLUMNS} WHERE ?1 IS NULL OR tenant_id = ?1 ORDER BY tenant_id, created, name"
    ))?;
    let rows = stmt.query_map([tenant_id], account)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Removes an account; `NotFound` if the tenant has none of that name.
pub fn delete_account(conn: &Connection, tenant_id: i64, name: &str) -> Result<()> {
    match conn.execute(
        "DELETE FROM ldap_accounts WHERE tenant_id = ?1 AND name_key = ?2",
        params![tenant_id, crate::scim::fold(name)],
    )? {
        0 => Err(StoreError::NotFound),
        _ => Ok(()),
    }
}

/// Records a successful bind of an account.
pub fn touch_account(conn: &Connection, id: &str, now: &str) -> Result<()> {
    conn.execute(
        "UPDATE ldap_accounts SET last_used = ?2 WHERE id = ?1",
        params![id, now],
    )?;
    Ok(())
}

/// The uidNumber (users) or gidNumber (groups) of a resource.
pub fn posix_number(
    conn: &Connection,
    tenant_id: i64,
    resource_type: &str,
    id: &str,
) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached(
            "SELECT number FROM ldap_posix_ids WHERE tenant_id = ?1 AND resource_type = ?2 AND id = ?3",
        )?
        .query_row(params![tenant_id, resource_type, id], |r| r.get(0))
        .optional()?)
}

/// The unique name (userName / displayName) of a resource by its id.
pub fn name_by_id(
    conn: &Connection,
    tenant_id: i64,
    resource_type: &str,
    id: &str,
) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached(
            "SELECT name FROM resources WHERE tenant_id = ?1 AND resource_type = ?2 AND id = ?3",
        )?
        .query_row(params![tenant_id, resource_type, id], |r| r.get(0))
        .optional()?)
}

/// What a user bind checks, found by userName.
#[derive(Debug, Clone)]
pub struct BindUser {
    pub id: String,
    pub active: Option<bool>,
    pub password_hash: Option<String>,
}

/// The user whose userName folds like `user_name`.
pub fn bind_user(conn: &Connection, tenant_id: i64, user_name: &str) -> Result<Option<BindUser>> {
    Ok(conn
        .prepare_cached(
            "SELECT id, active, password_hash FROM resources \
             WHERE tenant_id = ?1 AND resource_type = 'User' AND name_key = ?2",
        )?
        .query_row(params![tenant_id, crate::scim::fold(user_name)], |r| {
            Ok(BindUser {
                id: r.get(0)?,
                active: r.get(1)?,
                password_hash: r.get(2)?,
            })
        })
        .optional()?)
}

/// The members of a group as (resource type, unique name), in the order they were added.
pub fn member_names(conn: &Connection, group_seq: i64) -> Result<Vec<(String, String)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT r.resource_type, r.name FROM group_members m JOIN resources r ON r.seq = m.member_seq \
         WHERE m.group_seq = ?1 ORDER BY m.rowid",
    )?;
    let rows = stmt.query_map([group_seq], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The displayNames of the groups holding `member_seq`: directly only, or also through nested
/// groups.
pub fn group_names_of(conn: &Connection, member_seq: i64, nested: bool) -> Result<Vec<String>> {
    if nested {
        return Ok(super::members::groups_of(conn, member_seq)?
            .into_iter()
            .filter_map(|(m, _)| m.display)
            .collect());
    }
    let mut stmt = conn.prepare_cached(
        "SELECT r.name FROM group_members m JOIN resources r ON r.seq = m.group_seq \
         WHERE m.member_seq = ?1 ORDER BY m.rowid",
    )?;
    let rows = stmt.query_map([member_seq], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::seeded;

    /// Numbers are allocated at creation, per tenant and kind, and never reused after a
    /// deletion.
    #[test]
    fn posix_numbers_are_allocated_once_and_never_reused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = seeded(
            dir.path(),
            vec![
                ("User", "a".into(), serde_json::json!({"userName": "a"})),
                ("User", "b".into(), serde_json::json!({"userName": "b"})),
                ("Group", "g".into(), serde_json::json!({"displayName": "g"})),
            ],
        );
        store
            .write_blocking(|tx| {
                assert_eq!(posix_number(tx, 1, "User", "a")?, Some(10000));
                assert_eq!(posix_number(tx, 1, "User", "b")?, Some(10001));
                assert_eq!(posix_number(tx, 1, "Group", "g")?, Some(10000));
                crate::store::resources::delete(tx, 1, "User", "b")?;
                let doc = serde_json::json!({"userName": "c"});
                let doc = doc.as_object().cloned().unwrap_or_default();
                crate::store::resources::insert(tx, 1, "User", "c", &doc, None, "t")?;
                assert_eq!(posix_number(tx, 1, "User", "c")?, Some(10002));
                Ok(())
            })
            .expect("numbers");
    }
}

#[cfg(test)]
mod plans {
    use crate::ldap::filter::{DnIds, Kind, Term, to_scim};
    use crate::scim::schema::USER;
    use crate::store::filter_sql::translate;
    use crate::store::testing::{query_plan, seeded};

    /// What applications look users up by (`uid=`, `mail=`, `memberOf=`) reaches SQLite as an
    /// index search, never a walk of the tenant's users, also in the keyset page query.
    #[test]
    fn ldap_lookups_use_indexes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut seed: Vec<_> = (0..300)
            .map(|i| {
                let doc = serde_json::json!({"userName": format!("u{i}"),
                    "emails": [{"value": format!("u{i}@x")}]});
                ("User", format!("id{i}"), doc)
            })
            .collect();
        seed.push(("Group", "g".into(), serde_json::json!({"displayName": "g"})));
        let store = seeded(dir.path(), seed);
        let ids = DnIds::from([("cn=g,ou=groups,dc=t".to_owned(), "g".to_owned())]);
        store
            .read_blocking(|conn| {
                for (attr, value) in [
                    ("uid", "u5"),
                    ("mail", "u5@x"),
                    ("memberOf", "cn=g,ou=groups,dc=t"),
                ] {
                    let f = ldap3_proto::proto::LdapFilter::Equality(attr.into(), value.into());
                    let (Term::Scim(scim), true) = to_scim(&f, Kind::User, &ids, false) else {
                        panic!("{attr}= is an exact SCIM filter");
                    };
                    let w = translate(&USER, &scim).expect("sql");
                    let mut args: Vec<rusqlite::types::Value> = vec![1_i64.into(), "User".to_owned().into()];
                    args.extend(w.params.clone());
                    let (after, limit) = (args.len() + 1, args.len() + 2);
                    args.extend([0_i64.into(), 256_i64.into()]);
                    let sql = format!(
                        "SELECT r.seq FROM resources r WHERE r.tenant_id = ?1 AND r.resource_type = ?2 \
                         AND r.seq > ?{after} AND ({}) ORDER BY r.seq LIMIT ?{limit}",
                        w.sql
                    );
                    let plan = query_plan(conn, &sql, rusqlite::params_from_iter(args.iter()));
                    // `resources_page` may serve `seq IN (…)` as lookups (`seq=?`), never as a
                    // walk of the tenant's users in seq order.
                    assert!(!plan.contains("SCAN"), "{attr}=: {plan}");
                    assert!(
                        !plan.contains("resources_page (tenant_id=? AND resource_type=? AND seq>?)"),
                        "{attr}=: {plan}"
                    );
                }
                Ok(())
            })
            .expect("plans");
    }
}
