//! Use cases of the LDAP front-end (`src/ldap/`): each tenant's directory and base DN, the
//! service accounts that bind to it (issued like tokens: the secret shown once, stored as
//! SHA-256), checking a bind (an account's secret, or a user's IdP-provisioned password on the
//! argon2 pool that bounds concurrent hashing), pages of users and groups with what their
//! entries name (groups, members, manager, POSIX number), and the progressive delay of failed
//! binds. No LDAP wire types here.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rand::RngCore;
use subtle::ConstantTimeEq;

use super::OpError;
use super::passwords::{self, HashError};
use crate::clock;
use crate::scim::schema::Registry;
use crate::store::filter_sql::SqlWhere;
use crate::store::ldap::{self as rows, Account};
use crate::store::resources::{self, ResourceRow};
use crate::store::tenants::{self, Tenant};
use crate::store::{Store, StoreError};

/// Every service account secret starts with this, so a leaked one is recognisable.
pub const SECRET_PREFIX: &str = "scimdldap_";
const SECRET_BYTES: usize = 24;

/// One tenant's LDAP tree.
#[derive(Debug, Clone)]
pub struct Directory {
    pub tenant_id: i64,
    pub slug: String,
    pub base_dn: String,
    pub schemas: Arc<Registry>,
}

/// The base DN of a tenant without the `ldap_base_dn` setting.
pub fn default_base(slug: &str) -> String {
    format!("dc={slug},dc=scimd")
}

fn directory(t: &Tenant) -> Directory {
    let settings = super::settings::TenantSettings::parse(&t.settings).unwrap_or_default();
    Directory {
        tenant_id: t.id,
        slug: t.slug.clone(),
        base_dn: settings
            .ldap_base_dn
            .clone()
            .unwrap_or_else(|| default_base(&t.slug)),
        schemas: settings.registry(),
    }
}

/// Every tenant's directory (a few rows; read per bind, so a changed base DN applies at once).
pub async fn directories(store: &Store) -> Result<Vec<Directory>, StoreError> {
    store
        .read(|conn| Ok(tenants::list(conn)?.iter().map(directory).collect()))
        .await
}

/// One tenant's directory, for the CLI.
pub fn directory_of(store: &Store, slug: &str) -> Result<Directory, OpError> {
    store
        .read_blocking(|conn| tenants::by_slug(conn, slug))
        .map_err(|e| OpError::Internal(e.to_string()))?
        .map(|t| directory(&t))
        .ok_or_else(|| super::settings::no_tenant(slug))
}

/// A service account just created: the secret exists only here.
pub struct IssuedAccount {
    pub account: Account,
    pub secret: String,
    pub bind_dn: String,
}

/// A listed account with its tenant and bind DN.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ListedAccount {
    #[serde(flatten)]
    pub account: Account,
    pub tenant: String,
    pub bind_dn: String,
}

fn check_name(name: &str) -> Result<(), OpError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(OpError::Invalid(format!(
            "\"{name}\" is not a service account name: use 1 to 64 letters, digits, '-', '_' or '.' (e.g. gitlab); it becomes the cn of the bind DN"
        )))
    }
}

/// Creates a service account of `slug`'s directory.
pub fn add_account(store: &Store, slug: &str, name: &str) -> Result<IssuedAccount, OpError> {
    check_name(name)?;
    let dir = directory_of(store, slug)?;
    let mut bytes = [0u8; SECRET_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    let secret = format!("{SECRET_PREFIX}{}", hex::encode(bytes));
    let account = Account {
        id: uuid::Uuid::new_v4().to_string(),
        tenant_id: dir.tenant_id,
        name: name.to_owned(),
        prefix: secret.chars().take(SECRET_PREFIX.len() + 6).collect(),
        secret_hash: super::tokens::hash_secret(&secret),
        created: clock::timestamp(clock::now()),
        last_used: None,
    };
    let stored = account.clone();
    store
        .write_blocking(move |tx| rows::insert_account(tx, &stored))
        .map_err(|e| match e {
            StoreError::Conflict { .. } => OpError::Conflict(format!(
                "tenant \"{slug}\" already has an LDAP service account named \"{name}\"; pick another name or remove it first"
            )),
            other => OpError::Internal(other.to_string()),
        })?;
    let bind_dn = account_dn(&dir.base_dn, name);
    Ok(IssuedAccount {
        account,
        secret,
        bind_dn,
    })
}

/// The bind DN of a service account.
pub fn account_dn(base_dn: &str, name: &str) -> String {
    format!("cn={name},ou=services,{base_dn}")
}

/// The service accounts of one tenant, or of all.
pub fn list_accounts(store: &Store, slug: Option<&str>) -> Result<Vec<ListedAccount>, OpError> {
    let tenant_id = slug
        .map(|s| directory_of(store, s).map(|d| d.tenant_id))
        .transpose()?;
    let (accounts, tenants) = store
        .read_blocking(|conn| Ok((rows::accounts(conn, tenant_id)?, tenants::list(conn)?)))
        .map_err(|e| OpError::Internal(e.to_string()))?;
    let dirs: HashMap<i64, Directory> = tenants.iter().map(|t| (t.id, directory(t))).collect();
    Ok(accounts
        .into_iter()
        .filter_map(|a| {
            let d = dirs.get(&a.tenant_id)?;
            Some(ListedAccount {
                bind_dn: account_dn(&d.base_dn, &a.name),
                tenant: d.slug.clone(),
                account: a,
            })
        })
        .collect())
}

/// Removes a service account: its next bind fails, and a session bound with it loses access
/// at its next operation (each one checks the account still exists).
pub fn remove_account(store: &Store, slug: &str, name: &str) -> Result<(), OpError> {
    let dir = directory_of(store, slug)?;
    let owned = name.to_owned();
    store
        .write_blocking(move |tx| rows::delete_account(tx, dir.tenant_id, &owned))
        .map_err(|e| match e {
            StoreError::NotFound => OpError::NotFound(format!(
                "tenant \"{slug}\" has no LDAP service account named \"{name}\"; `scimd ldap account list` shows them"
            )),
            other => OpError::Internal(other.to_string()),
        })
}

/// The account of `tenant_id` named `name` if `secret` is its secret (compared by SHA-256 in
/// constant time); records the use.
pub async fn check_account(
    store: &Store,
    tenant_id: i64,
    name: &str,
    secret: &str,
) -> Result<Option<Account>, StoreError> {
    let owned = name.to_owned();
    let Some(account) = store
        .read(move |conn| rows::account_by_name(conn, tenant_id, &owned))
        .await?
    else {
        return Ok(None);
    };
    let presented = super::tokens::hash_secret(secret);
    if !bool::from(presented.ct_eq(&account.secret_hash)) {
        return Ok(None);
    }
    // An application may bind for every login it checks: the last use is recorded at most
    // once a minute, not as a durable write per bind.
    let now = clock::now();
    let recent = account.last_used.as_deref().is_some_and(|t| {
        time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
            .is_ok_and(|t| now - t < time::Duration::minutes(1))
    });
    if !recent {
        let (id, now) = (account.id.clone(), clock::timestamp(now));
        store
            .write(move |tx| rows::touch_account(tx, &id, &now))
            .await?;
    }
    Ok(Some(account))
}

/// Whether a service account still exists (a removed one loses its bound sessions).
pub async fn account_exists(store: &Store, tenant_id: i64, name: &str) -> Result<bool, StoreError> {
    let owned = name.to_owned();
    Ok(store
        .read(move |conn| rows::account_by_name(conn, tenant_id, &owned))
        .await?
        .is_some())
}

/// The outcome of a user bind, each failure with the reason an admin needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserCheck {
    Ok {
        id: String,
    },
    NoSuchUser,
    Deactivated,
    NoPassword,
    WrongPassword,
    /// The hashing pool is saturated (`limits.password_hashes_at_once`).
    Busy,
    TooLong(usize),
}

impl UserCheck {
    /// The diagnosis for the request log (never the password).
    pub fn diagnosis(&self) -> &'static str {
        match self {
            Self::Ok { .. } => "",
            Self::NoSuchUser => "no user has this userName in this tenant",
            Self::Deactivated => "account deactivated: the IdP set active=false",
            Self::NoPassword => {
                "user has no password: enable password sync in Okta's provisioning settings (scimd stores the password the IdP sends over SCIM)"
            }
            Self::WrongPassword => "wrong password for this user",
            Self::Busy => {
                "every password hashing thread is busy (limits.password_hashes_at_once); retry"
            }
            Self::TooLong(_) => "password longer than limits.max_password_bytes",
        }
    }
}

/// Checks `password` against the argon2 hash the IdP's password sync left for `user_name`.
pub async fn check_user(
    store: &Store,
    tenant_id: i64,
    user_name: &str,
    password: &str,
) -> Result<UserCheck, StoreError> {
    let owned = user_name.to_owned();
    let Some(user) = store
        .read(move |conn| rows::bind_user(conn, tenant_id, &owned))
        .await?
    else {
        return Ok(UserCheck::NoSuchUser);
    };
    if user.active == Some(false) {
        return Ok(UserCheck::Deactivated);
    }
    let Some(hash) = user.password_hash else {
        return Ok(UserCheck::NoPassword);
    };
    Ok(
        match passwords::verify_pooled(password.to_owned(), hash).await {
            Ok(true) => UserCheck::Ok { id: user.id },
            Ok(false) => UserCheck::WrongPassword,
            Err(HashError::Busy) => UserCheck::Busy,
            Err(HashError::TooLong(n)) => UserCheck::TooLong(n),
            Err(HashError::Failed) => UserCheck::WrongPassword,
        },
    )
}

/// Whether the user a session bound as may still act: present, active, and its password
/// unchanged since the bind (a password change, deactivation or deletion ends the session).
pub async fn user_still_valid(
    store: &Store,
    tenant_id: i64,
    user_name: &str,
    id: &str,
) -> Result<bool, StoreError> {
    let owned = user_name.to_owned();
    let user = store
        .read(move |conn| rows::bind_user(conn, tenant_id, &owned))
        .await?;
    Ok(user.is_some_and(|u| u.id == id && u.active != Some(false)))
}

/// A user row with what its entry names.
#[derive(Debug, Clone)]
pub struct UserData {
    pub row: ResourceRow,
    pub number: Option<i64>,
    /// displayNames of its groups.
    pub groups: Vec<String>,
    /// userName of its manager.
    pub manager: Option<String>,
}

/// A group row with what its entry names.
#[derive(Debug, Clone)]
pub struct GroupData {
    pub row: ResourceRow,
    pub number: Option<i64>,
    /// (resource type, unique name) of each member.
    pub members: Vec<(String, String)>,
    /// displayNames of the groups it is in.
    pub groups: Vec<String>,
}

/// The SCIM ids of resources named by unique name: `(resource type, name)` → id.
pub async fn ids_by_name(
    store: &Store,
    tenant_id: i64,
    names: Vec<(&'static str, String)>,
) -> Result<HashMap<(&'static str, String), String>, StoreError> {
    store
        .read(move |conn| {
            let mut out = HashMap::new();
            for (kind, name) in names {
                if let Some(id) = resources::id_by_name(conn, tenant_id, kind, &name)? {
                    out.insert((kind, name), id);
                }
            }
            Ok(out)
        })
        .await
}

/// Which related data a search needs read besides the rows: a dump of `uid` and `mail` needs
/// none of it, and each costs a query per entry.
#[derive(Debug, Clone, Copy)]
pub struct Needs {
    /// memberOf (and, for `nested`, through nested groups).
    pub groups: bool,
    pub nested: bool,
    /// uidNumber / gidNumber.
    pub number: bool,
    pub manager: bool,
    /// member, uniqueMember, memberUid.
    pub members: bool,
}

/// Up to `limit` users matching `filter` after `seq` `after` (keyset), with what their
/// entries name.
pub async fn users_after(
    store: &Store,
    tenant_id: i64,
    filter: SqlWhere,
    after: i64,
    limit: u64,
    needs: Needs,
) -> Result<Vec<UserData>, StoreError> {
    store
        .read(move |conn| {
            let rows = resources::list_after(conn, tenant_id, "User", &filter, after, limit)?;
            rows.into_iter()
                .map(|row| {
                    let manager = needs
                        .manager
                        .then_some(&row.doc)
                        .and_then(|d| d.get(crate::ldap::entries::ENTERPRISE))
                        .and_then(|e| e.get("manager"))
                        .and_then(|m| m.get("value"))
                        .and_then(serde_json::Value::as_str)
                        .map(|id| rows::name_by_id(conn, tenant_id, "User", id))
                        .transpose()?
                        .flatten();
                    Ok(UserData {
                        number: match needs.number {
                            true => rows::posix_number(conn, tenant_id, "User", &row.id)?,
                            false => None,
                        },
                        groups: match needs.groups {
                            true => rows::group_names_of(conn, row.seq, needs.nested)?,
                            false => Vec::new(),
                        },
                        manager,
                        row,
                    })
                })
                .collect()
        })
        .await
}

/// Up to `limit` groups matching `filter` after `seq` `after` (keyset).
pub async fn groups_after(
    store: &Store,
    tenant_id: i64,
    filter: SqlWhere,
    after: i64,
    limit: u64,
    needs: Needs,
) -> Result<Vec<GroupData>, StoreError> {
    store
        .read(move |conn| {
            let rows = resources::list_after(conn, tenant_id, "Group", &filter, after, limit)?;
            rows.into_iter()
                .map(|row| {
                    Ok(GroupData {
                        number: match needs.number {
                            true => rows::posix_number(conn, tenant_id, "Group", &row.id)?,
                            false => None,
                        },
                        members: match needs.members {
                            true => rows::member_names(conn, row.seq)?,
                            false => Vec::new(),
                        },
                        groups: match needs.groups {
                            true => rows::group_names_of(conn, row.seq, false)?,
                            false => Vec::new(),
                        },
                        row,
                    })
                })
                .collect()
        })
        .await
}

/// Failed binds per (bind DN, client address), for a progressive delay: an application
/// server binds for many users, so one user's typos slow only that user's binds from that
/// server, and never lock anyone out. Bounded: past [`BindThrottle::MAX_KEYS`] keys the
/// oldest are forgotten.
#[derive(Debug, Default)]
pub struct BindThrottle {
    failures: Mutex<HashMap<(String, IpAddr), (u32, Instant)>>,
}

impl BindThrottle {
    const MAX_KEYS: usize = 10_000;
    /// A key's failures are forgotten after this long without one.
    const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);
    const FIRST_DELAY: Duration = Duration::from_millis(250);

    /// How long to wait before answering the next bind of `key`: nothing for the first
    /// `free` failures, then 250 ms doubling per failure, at most `max`.
    pub fn delay(&self, dn: &str, ip: IpAddr, free: u32, max: Duration, now: Instant) -> Duration {
        let map = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        let Some((n, at)) = map.get(&(dn.to_owned(), ip)) else {
            return Duration::ZERO;
        };
        if now.saturating_duration_since(*at) > Self::FORGET_AFTER || *n < free {
            return Duration::ZERO;
        }
        let doublings = (*n - free).min(16);
        Self::FIRST_DELAY.saturating_mul(1 << doublings).min(max)
    }

    pub fn failed(&self, dn: &str, ip: IpAddr, now: Instant) {
        let mut map = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= Self::MAX_KEYS {
            map.retain(|_, (_, at)| now.saturating_duration_since(*at) <= Self::FORGET_AFTER);
            if map.len() >= Self::MAX_KEYS {
                map.clear();
            }
        }
        let e = map.entry((dn.to_owned(), ip)).or_insert((0, now));
        if now.saturating_duration_since(e.1) > Self::FORGET_AFTER {
            e.0 = 0;
        }
        e.0 = e.0.saturating_add(1);
        e.1 = now;
    }

    pub fn succeeded(&self, dn: &str, ip: IpAddr) {
        let mut map = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        map.remove(&(dn.to_owned(), ip));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_per_dn_and_address_and_never_lock_out() {
        let t = BindThrottle::default();
        let (a, b): (IpAddr, IpAddr) = ([10, 0, 0, 1].into(), [10, 0, 0, 2].into());
        let max = Duration::from_secs(5);
        let now = Instant::now();
        for _ in 0..3 {
            assert_eq!(t.delay("uid=x", a, 3, max, now), Duration::ZERO);
            t.failed("uid=x", a, now);
        }
        assert_eq!(t.delay("uid=x", a, 3, max, now), Duration::from_millis(250));
        t.failed("uid=x", a, now);
        assert_eq!(t.delay("uid=x", a, 3, max, now), Duration::from_millis(500));
        for _ in 0..20 {
            t.failed("uid=x", a, now);
        }
        assert_eq!(t.delay("uid=x", a, 3, max, now), max);
        // Another user through the same server, and the same user elsewhere, are unaffected.
        assert_eq!(t.delay("uid=y", a, 3, max, now), Duration::ZERO);
        assert_eq!(t.delay("uid=x", b, 3, max, now), Duration::ZERO);
        // Success clears; so does time.
        t.succeeded("uid=x", a);
        assert_eq!(t.delay("uid=x", a, 3, max, now), Duration::ZERO);
        for _ in 0..5 {
            t.failed("uid=z", a, now);
        }
        let later = now + Duration::from_secs(16 * 60);
        assert_eq!(t.delay("uid=z", a, 3, max, later), Duration::ZERO);
    }
}
