//! Simple Bind (RFC 4511 §4.2): a service account (`cn=<name>,ou=services,<base>`, its
//! secret) or a user (`uid=<userName>,ou=people,<base>`, the password the IdP's password
//! sync provisioned). The tenant is the one whose base DN the bind DN lies under. Every
//! failure is `invalidCredentials` on the wire (no hint to a guesser) and a diagnosis in the
//! request log; failures per (bind DN, client address) delay the next answer progressively.

use std::time::{Duration, Instant};

use ldap3_proto::proto::{LdapBindCred, LdapBindRequest, LdapResult, LdapResultCode};

use super::dn::Dn;
use super::handler::{Bound, Session, result};
use crate::service::ldap::{self, Directory, UserCheck};

/// Answers one bind and updates the session's identity (a failed bind leaves it anonymous,
/// RFC 4511 §4.2.1).
pub async fn bind(s: &mut Session, req: LdapBindRequest) -> LdapResult {
    let started = Instant::now();
    s.bound = Bound::Anonymous;
    if req.version != 3 {
        return result(
            LdapResultCode::ProtocolError,
            "only LDAP version 3 is supported",
        );
    }
    let LdapBindCred::Simple(password) = req.cred else {
        return result(
            LdapResultCode::AuthMethodNotSupported,
            "only simple bind is supported",
        );
    };
    if req.dn.is_empty() && password.is_empty() {
        if s.ctx.config.allow_anonymous {
            return result(LdapResultCode::Success, "");
        }
        s.record_failure(
            "BIND",
            None,
            "",
            401,
            "anonymous bind refused: bind as a service account (`scimd ldap account add`) or set ldap.allow_anonymous",
            started,
        );
        return result(
            LdapResultCode::InappropriateAuthentication,
            "anonymous bind is off (ldap.allow_anonymous); bind with a service account",
        );
    }
    if password.is_empty() {
        // An unauthenticated bind (RFC 4513 §5.1.2) would look like a success to careless
        // applications that check a user's password by binding.
        s.record_failure(
            "BIND",
            None,
            &req.dn,
            401,
            "bind with a DN and an empty password (unauthenticated bind) refused",
            started,
        );
        return result(
            LdapResultCode::UnwillingToPerform,
            "a bind with an empty password is refused (unauthenticated bind)",
        );
    }
    let key = Dn::parse(&req.dn).map_or_else(|| req.dn.clone(), |d| d.normal());
    let wait = s.ctx.throttle.delay(
        &key,
        s.peer.ip(),
        s.ctx.config.bind_failures_free,
        Duration::from_millis(s.ctx.config.max_bind_delay_ms),
        Instant::now(),
    );
    if !wait.is_zero() {
        rocket::tokio::time::sleep(wait).await;
    }
    match check(s, &req.dn, &password).await {
        Ok(bound) => {
            s.ctx.throttle.succeeded(&key, s.peer.ip());
            s.bound = bound;
            result(LdapResultCode::Success, "")
        }
        Err(Failure {
            tenant,
            diagnosis,
            code,
        }) => {
            if code == LdapResultCode::InvalidCredentials {
                s.ctx.throttle.failed(&key, s.peer.ip(), Instant::now());
            }
            let status = if code == LdapResultCode::Busy {
                503
            } else {
                401
            };
            s.record_failure(
                "BIND",
                tenant.as_deref(),
                &req.dn,
                status,
                &diagnosis,
                started,
            );
            let message = if code == LdapResultCode::Busy {
                "busy hashing passwords; retry in a moment"
            } else {
                ""
            };
            result(code, message)
        }
    }
}

struct Failure {
    tenant: Option<String>,
    diagnosis: String,
    code: LdapResultCode,
}

fn invalid(tenant: Option<&Directory>, diagnosis: impl Into<String>) -> Failure {
    Failure {
        tenant: tenant.map(|d| d.slug.clone()),
        diagnosis: diagnosis.into(),
        code: LdapResultCode::InvalidCredentials,
    }
}

async fn check(s: &Session, dn_text: &str, password: &str) -> Result<Bound, Failure> {
    let store = &s.ctx.store;
    let Some(dn) = Dn::parse(dn_text) else {
        return Err(invalid(None, "the bind DN is not a valid DN (RFC 4514)"));
    };
    let dirs = ldap::directories(store)
        .await
        .map_err(|e| internal(&e.to_string()))?;
    // Tenants whose base holds the DN, the most specific first.
    let mut under: Vec<(Directory, Dn)> = dirs
        .into_iter()
        .filter_map(|d| {
            let base = Dn::parse(&d.base_dn)?;
            dn.is_under(&base).then_some((d, base))
        })
        .collect();
    under.sort_by_key(|(_, base)| std::cmp::Reverse(base.0.len()));
    if under.is_empty() {
        return Err(invalid(
            None,
            "bind DN not under this tenant's base: no tenant's base DN (dc=<slug>,dc=scimd or the ldap_base_dn setting) contains it",
        ));
    }
    let mut last = None;
    for (dir, base) in under {
        let rel = dn.relative_to(&base).unwrap_or_default();
        let outcome = match rel {
            [leaf, ou]
                if ou.attr == "ou"
                    && ou.value.eq_ignore_ascii_case("services")
                    && leaf.attr == "cn" =>
            {
                account(s, &dir, &leaf.value, dn_text, password).await
            }
            [leaf, ou]
                if ou.attr == "ou"
                    && ou.value.eq_ignore_ascii_case("people")
                    && leaf.attr == "uid" =>
            {
                user(s, &dir, &leaf.value, dn_text, password).await
            }
            _ => Err(invalid(
                Some(&dir),
                format!(
                    "bind DN is neither a service account (cn=<name>,ou=services,{0}) nor a user (uid=<userName>,ou=people,{0})",
                    dir.base_dn
                ),
            )),
        };
        match outcome {
            Ok(b) => return Ok(b),
            Err(f) => last = Some(f),
        }
    }
    Err(last.unwrap_or_else(|| invalid(None, "no tenant matched")))
}

fn internal(e: &str) -> Failure {
    tracing::warn!("LDAP bind: {e}");
    Failure {
        tenant: None,
        diagnosis: format!("store error: {e}"),
        code: LdapResultCode::OperationsError,
    }
}

async fn account(
    s: &Session,
    dir: &Directory,
    name: &str,
    dn: &str,
    secret: &str,
) -> Result<Bound, Failure> {
    match ldap::check_account(&s.ctx.store, dir.tenant_id, name, secret).await {
        Ok(Some(a)) => Ok(Bound::Account {
            dir: dir.clone(),
            name: a.name,
            dn: dn.to_owned(),
        }),
        Ok(None) => Err(invalid(
            Some(dir),
            format!(
                "no service account \"{name}\" with this secret in tenant \"{}\" (`scimd ldap account list --tenant {}`)",
                dir.slug, dir.slug
            ),
        )),
        Err(e) => Err(internal(&e.to_string())),
    }
}

async fn user(
    s: &Session,
    dir: &Directory,
    user_name: &str,
    dn: &str,
    password: &str,
) -> Result<Bound, Failure> {
    match ldap::check_user(&s.ctx.store, dir.tenant_id, user_name, password).await {
        Ok(UserCheck::Ok { id }) => Ok(Bound::User {
            dir: dir.clone(),
            user_name: user_name.to_owned(),
            id,
            dn: dn.to_owned(),
        }),
        Ok(UserCheck::Busy) => Err(Failure {
            tenant: Some(dir.slug.clone()),
            diagnosis: UserCheck::Busy.diagnosis().to_owned(),
            code: LdapResultCode::Busy,
        }),
        Ok(other) => Err(invalid(Some(dir), other.diagnosis())),
        Err(e) => Err(internal(&e.to_string())),
    }
}
