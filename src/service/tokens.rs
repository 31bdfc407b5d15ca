//! Bearer tokens: issuing (the secret is returned once and stored only as SHA-256) and checking
//! a presented `Authorization` header, with a distinct, actionable reason for every failure.

use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::{Duration, OffsetDateTime};

use crate::clock;
use crate::scim::error::ScimError;
use crate::store::tenants::{self, DEFAULT_SLUG, Tenant};
use crate::store::tokens::{self as rows, TokenRow};
use crate::store::{Store, StoreError};

/// Every scimd token starts with this, so a leaked one is recognisable in logs and scanners.
pub const TOKEN_PREFIX: &str = "scim_";
const SECRET_BYTES: usize = 32;
const SHOWN_PREFIX_CHARS: usize = 12;

/// A freshly issued token: the secret exists only in this value.
pub struct Issued {
    pub token: TokenRow,
    pub secret: String,
}

/// Options for [`issue`].
pub struct NewToken<'a> {
    pub tenant_slug: &'a str,
    pub name: &'a str,
    pub read_only: bool,
    pub expires_in: Option<std::time::Duration>,
}

/// SHA-256 of a secret, as stored.
pub fn hash_secret(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// Parses `30m`, `12h`, `90d`, `1w`… (humantime syntax).
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(s.trim())
        .map_err(|e| format!("\"{s}\" is not a duration ({e}); use e.g. 30m, 12h or 90d"))
}

/// Issues a token for a tenant. Errors are sentences for the CLI or admin API.
pub fn issue(store: &Store, new: &NewToken<'_>) -> Result<Issued, String> {
    if new.name.trim().is_empty() {
        return Err(
            "the token needs a name (e.g. okta-prod) so you can tell integrations apart".into(),
        );
    }
    let mut bytes = [0u8; SECRET_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    let secret = format!("{TOKEN_PREFIX}{}", hex::encode(bytes));
    let now = clock::now();
    let expires = match new.expires_in {
        None => None,
        Some(d) => {
            let d = Duration::try_from(d)
                .map_err(|_| "the expiry is too far in the future".to_owned())?;
            Some(clock::timestamp(
                now.checked_add(d)
                    .ok_or("the expiry is too far in the future")?,
            ))
        }
    };
    let slug = new.tenant_slug.to_owned();
    let token = TokenRow {
        id: uuid::Uuid::new_v4().to_string(),
        tenant_id: 0,
        name: new.name.trim().to_owned(),
        prefix: secret.chars().take(SHOWN_PREFIX_CHARS).collect(),
        secret_hash: hash_secret(&secret),
        read_only: new.read_only,
        created: clock::timestamp(now),
        expires,
        revoked: None,
        last_used: None,
    };
    let stored = store
        .write_blocking(|tx| {
            let tenant = tenants::by_slug(tx, &slug)?.ok_or(StoreError::NotFound)?;
            let token = TokenRow { tenant_id: tenant.id, ..token };
            rows::insert(tx, &token)?;
            Ok(token)
        })
        .map_err(|e| match e {
            StoreError::NotFound => format!("there is no tenant \"{slug}\"; create it with `scimd tenant create {slug}`"),
            StoreError::Conflict { .. } => format!("tenant \"{slug}\" already has a token named \"{}\"; pick another name or revoke the old one", new.name),
            other => format!("could not store the token: {other}"),
        })?;
    Ok(Issued {
        token: stored,
        secret,
    })
}

/// An authenticated SCIM caller.
#[derive(Debug, Clone)]
pub struct Caller {
    pub tenant: Tenant,
    pub token: TokenRow,
}

/// Checks an `Authorization` header for the tenant at `slug`. `origin` is `scheme://host` for
/// the URL named in a wrong-tenant error. Every failure is a 401 whose detail tells the admin
/// exactly what to fix; none of them echoes the secret.
pub async fn authenticate(
    store: &Store,
    slug: &str,
    header: Option<&str>,
    origin: &str,
) -> Result<Caller, ScimError> {
    let header = header.map(str::trim).filter(|h| !h.is_empty()).ok_or_else(|| {
        unauthorized("the request has no Authorization header; configure the IdP to send \"Authorization: Bearer <token>\" with a token from `scimd token create`")
    })?;
    let (scheme, credential) = header
        .split_once(' ')
        .map_or((header, ""), |(s, c)| (s, c.trim()));
    if !scheme.eq_ignore_ascii_case("bearer") {
        let shown: String = scheme.chars().take(20).collect();
        return Err(unauthorized(format!(
            "the Authorization header uses the \"{shown}\" scheme; scimd accepts only \"Bearer <token>\". In the IdP, choose bearer/header authentication and paste the token alone"
        )));
    }
    if !credential.starts_with(TOKEN_PREFIX)
        || credential.len() != TOKEN_PREFIX.len() + SECRET_BYTES * 2
        || credential.contains(char::is_whitespace)
    {
        return Err(unauthorized(format!(
            "the bearer token is malformed: scimd tokens are \"{TOKEN_PREFIX}\" followed by {} hex characters. Check that the whole token was pasted, without quotes or a second \"Bearer\"",
            SECRET_BYTES * 2
        )));
    }
    let hash = hash_secret(credential);
    let lookup = hash.clone();
    let slug_owned = slug.to_owned();
    let (token, tenant, token_tenant) = store
        .read(move |conn| {
            let tenant = tenants::by_slug(conn, &slug_owned)?;
            let token = rows::by_hash(conn, &lookup)?;
            let token_tenant = match &token {
                Some(t) => Some(tenants::by_id(conn, t.tenant_id)?),
                None => None,
            };
            Ok((token, tenant, token_tenant))
        })
        .await
        .map_err(|e| {
            tracing::error!("token lookup failed: {e}");
            ScimError::internal()
        })?;
    let tenant = tenant.ok_or_else(|| unknown_tenant(slug))?;
    // The row was found by its hash; the constant-time comparison keeps the check itself free
    // of timing differences should the lookup ever become a prefix scan.
    let token = token.filter(|t| bool::from(t.secret_hash.ct_eq(&hash))).ok_or_else(|| {
        unauthorized(format!(
            "the bearer token ({}…) is not known to this server; it may have been deleted, or belong to another scimd instance. Create one with `scimd token create --name <idp>`",
            credential.chars().take(SHOWN_PREFIX_CHARS).collect::<String>()
        ))
    })?;
    if let Some(at) = &token.revoked {
        return Err(unauthorized(format!(
            "token \"{}\" ({}…) was revoked on {at}; create a new token and update the IdP",
            token.name, token.prefix
        )));
    }
    if let Some(exp) = &token.expires
        && is_past(exp)
    {
        return Err(unauthorized(format!(
            "token \"{}\" ({}…) expired on {exp}; create a new token (`scimd token create --name {} --expires-in 90d`) and update the IdP",
            token.name, token.prefix, token.name
        )));
    }
    if token.tenant_id != tenant.id {
        let right = token_tenant.map_or_else(|| "another tenant".to_owned(), |t| t.slug);
        return Err(unauthorized(format!(
            "token \"{}\" belongs to tenant \"{right}\", not \"{}\"; point the IdP at {} or use a token of tenant \"{}\"",
            token.name,
            tenant.slug,
            scim_base(origin, &right),
            tenant.slug
        )));
    }
    Ok(Caller { tenant, token })
}

/// The absolute SCIM base URL of a tenant.
pub fn scim_base(origin: &str, slug: &str) -> String {
    if slug == DEFAULT_SLUG {
        format!("{origin}/scim/v2")
    } else {
        format!("{origin}/t/{slug}/scim/v2")
    }
}

/// 404 for a `/t/{slug}/…` URL whose tenant does not exist.
pub fn unknown_tenant(slug: &str) -> ScimError {
    ScimError::not_found(format!(
        "there is no tenant \"{slug}\" on this server; check the tenant in the SCIM base URL (tenants are listed by `scimd tenant list`)"
    ))
}

fn unauthorized(detail: impl Into<String>) -> ScimError {
    ScimError::new(401, detail)
}

fn is_past(ts: &str) -> bool {
    OffsetDateTime::parse(ts, &time::format_description::well_known::Rfc3339)
        .is_ok_and(|t| t <= clock::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90d").expect("d").as_secs(), 90 * 86400);
        assert_eq!(parse_duration("30m").expect("m").as_secs(), 1800);
        assert!(parse_duration("soon").expect_err("bad").contains("30m"));
    }
}
