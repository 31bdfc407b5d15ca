//! JWT access tokens from external authorization servers a tenant trusts (issue 28, optional
//! point; IPSIE's model, where the Identity Service issues the token and publishes a
//! `jwks_uri`). A bearer JWT is checked against the issuer's JWK Set: signature, `iss`, `aud`
//! (the tenant's SCIM base URL unless configured), `exp`/`nbf`, and a `scim` scope.

use serde_json::Value;

use super::OpError;
use super::oauth::{ALGORITHMS, JwksCache, is_rsa, parse_keys};
use super::tokens::{Caller, Rejected, scim_base};
use crate::clock;
use crate::config::OAuthConfig;
use crate::scim::error::ScimError;
use crate::store::oauth::{self as rows, IssuerRow};
use crate::store::tenants::{self, Tenant};
use crate::store::tokens::{TokenKind, TokenRow};
use crate::store::{Store, StoreError};

/// What checking an external token needs besides the store: the issuers' JWK Sets and the
/// `[oauth]` settings they are fetched under.
#[derive(Default)]
pub struct External {
    jwks: JwksCache,
    config: OAuthConfig,
}

impl External {
    pub fn new(config: OAuthConfig) -> Self {
        Self {
            jwks: JwksCache::default(),
            config,
        }
    }
}

/// Trusts `issuer` (its JWT access tokens, keys at `jwks_uri`) on a tenant.
pub fn add(
    store: &Store,
    cfg: &OAuthConfig,
    (tenant_slug, name): (&str, &str),
    (issuer, jwks_uri, audience): (&str, &str, Option<&str>),
) -> Result<IssuerRow, OpError> {
    if name.trim().is_empty() || issuer.trim().is_empty() {
        return Err(OpError::Invalid(
            "a trusted issuer needs a name and its issuer identifier (the tokens' iss)".into(),
        ));
    }
    let http_ok = cfg.allow_http_jwks && jwks_uri.starts_with("http://");
    if !jwks_uri.starts_with("https://") && !http_ok {
        return Err(OpError::Invalid(format!(
            "the JWKS URL \"{jwks_uri}\" must be https:// (or http:// with oauth.allow_http_jwks = true)"
        )));
    }
    let row = IssuerRow {
        id: uuid::Uuid::new_v4().to_string(),
        tenant_id: 0,
        name: name.trim().to_owned(),
        issuer: issuer.trim().to_owned(),
        jwks_uri: jwks_uri.to_owned(),
        audience: audience.map(str::to_owned),
        created: clock::timestamp(clock::now()),
    };
    let slug = tenant_slug.to_owned();
    store
        .write_blocking(move |tx| {
            let t = tenants::by_slug(tx, &slug)?.ok_or(StoreError::NotFound)?;
            let row = IssuerRow {
                tenant_id: t.id,
                ..row
            };
            rows::insert_issuer(tx, &row)?;
            Ok(row)
        })
        .map_err(|e| match e {
            StoreError::NotFound => {
                OpError::NotFound(format!("there is no tenant \"{tenant_slug}\""))
            }
            StoreError::Conflict { .. } => OpError::Conflict(format!(
                "tenant \"{tenant_slug}\" already trusts an issuer named \"{name}\" or \"{issuer}\""
            )),
            other => OpError::Internal(format!("the database failed: {other}")),
        })
}

/// Trusted issuers of a tenant (or of all).
pub fn list(store: &Store, tenant_slug: Option<&str>) -> Result<Vec<IssuerRow>, OpError> {
    let slug = tenant_slug.map(str::to_owned);
    store
        .read_blocking(|c| {
            let id = match &slug {
                Some(s) => tenants::by_slug(c, s)?.map(|t| t.id),
                None => None,
            };
            rows::issuers(c, id)
        })
        .map_err(|e| OpError::Internal(format!("the database failed: {e}")))
}

/// Stops trusting an issuer: its tokens are refused at the next request.
pub fn remove(
    store: &Store,
    tenant_slug: Option<&str>,
    wanted: &str,
) -> Result<IssuerRow, OpError> {
    let (slug, wanted) = (tenant_slug.map(str::to_owned), wanted.to_owned());
    let shown = wanted.clone();
    store
        .write_blocking(move |tx| {
            let id = match &slug {
                Some(s) => tenants::by_slug(tx, s)?.map(|t| t.id),
                None => None,
            };
            rows::remove_issuer(tx, &wanted, id)
        })
        .map_err(|e| match e {
            StoreError::NotFound => OpError::NotFound(format!(
                "no trusted issuer has the id, name or issuer \"{shown}\" (see `scimd oauth issuer list`)"
            )),
            StoreError::Conflict { index } => OpError::Conflict(index),
            other => OpError::Internal(format!("the database failed: {other}")),
        })
}

fn refused(detail: String, issuer: Option<&IssuerRow>) -> Rejected {
    Rejected {
        error: ScimError::new(401, detail),
        token: issuer.map(|i| (i.id.clone(), i.name.clone())),
        tenant_known: true,
    }
}

/// Checks a bearer JWT from an external authorization server for the tenant at `slug`.
pub async fn authenticate(
    store: &Store,
    ext: &External,
    slug: &str,
    token: &str,
    origin: &str,
) -> Result<Caller, Rejected> {
    let unreadable = |e: jsonwebtoken::errors::Error| {
        refused(
            format!(
                "the bearer value looks like a JWT but is unreadable ({e}); send a scimd token, a scimd OAuth access token, or a JWT access token of a trusted issuer"
            ),
            None,
        )
    };
    let header = jsonwebtoken::decode_header(token).map_err(unreadable)?;
    let mut peek = jsonwebtoken::Validation::default();
    peek.insecure_disable_signature_validation();
    peek.validate_exp = false;
    peek.validate_aud = false;
    peek.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<serde_json::Map<String, Value>>(
        token,
        &jsonwebtoken::DecodingKey::from_secret(&[]),
        &peek,
    )
    .map_err(unreadable)?
    .claims;
    let iss = claims
        .get("iss")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let (wanted_slug, wanted_iss) = (slug.to_owned(), iss.clone());
    let (tenant, trusted, all): (Option<Tenant>, Vec<IssuerRow>, Vec<Tenant>) = store
        .read(move |c| {
            Ok((
                tenants::by_slug(c, &wanted_slug)?,
                rows::issuers_named(c, &wanted_iss)?,
                tenants::list(c)?,
            ))
        })
        .await
        .map_err(|e| {
            tracing::error!("issuer lookup failed: {e}");
            Rejected::from(ScimError::internal())
        })?;
    let Some(tenant) = tenant else {
        return Err(Rejected::from(super::tokens::unknown_tenant(slug)));
    };
    let Some(row) = trusted.iter().find(|i| i.tenant_id == tenant.id) else {
        let elsewhere: Vec<&str> = trusted
            .iter()
            .filter_map(|i| {
                all.iter()
                    .find(|t| t.id == i.tenant_id)
                    .map(|t| t.slug.as_str())
            })
            .collect();
        let detail = if elsewhere.is_empty() {
            format!(
                "the JWT access token's issuer \"{}\" is not trusted by tenant \"{}\"; trust it with `scimd oauth issuer add --tenant {} --name <idp> --issuer <iss> --jwks-uri <url>`",
                iss.chars().take(200).collect::<String>(),
                tenant.slug,
                tenant.slug
            )
        } else {
            format!(
                "the JWT access token's issuer \"{iss}\" is trusted by tenant \"{}\", not \"{}\"; point the IdP at {}",
                elsewhere.join("\", \""),
                tenant.slug,
                scim_base(origin, elsewhere.first().copied().unwrap_or_default())
            )
        };
        return Err(refused(detail, None));
    };
    let claims = verify(ext, row, token, &header, &tenant, origin)
        .await
        .map_err(|d| refused(d, Some(row)))?;
    let scopes: Vec<&str> = match claims.get("scope").or_else(|| claims.get("scp")) {
        Some(Value::String(s)) => s.split(' ').collect(),
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !scopes.contains(&super::oauth::SCOPE) {
        return Err(refused(
            format!(
                "the JWT access token from \"{}\" lacks the \"scim\" scope (it has {scopes:?}); have the IdP request scope scim",
                row.name
            ),
            Some(row),
        ));
    }
    let expires = claims
        .get("exp")
        .and_then(Value::as_i64)
        .and_then(|e| time::OffsetDateTime::from_unix_timestamp(e).ok())
        .map(clock::timestamp);
    Ok(Caller {
        token: TokenRow {
            id: row.id.clone(),
            tenant_id: row.tenant_id,
            name: row.name.clone(),
            prefix: row.issuer.clone(),
            secret_hash: Vec::new(),
            read_only: false,
            kind: TokenKind::Scim,
            created: row.created.clone(),
            expires,
            revoked: None,
            rotated: None,
            replaced_by: None,
            overlap_until: None,
            last_used: None,
            last_used_ip: None,
            allowed_addresses: Vec::new(),
            last_used_agent: None,
        },
        schemas: super::settings::registry_of(&tenant),
        strict: super::settings::strict_of(&tenant),
        tenant,
    })
}

/// Signature and registered claims; `Err` is the 401 detail.
async fn verify(
    ext: &External,
    row: &IssuerRow,
    token: &str,
    header: &jsonwebtoken::Header,
    tenant: &Tenant,
    origin: &str,
) -> Result<serde_json::Map<String, Value>, String> {
    if !ALGORITHMS.contains(&header.alg) {
        return Err(format!(
            "the JWT access token is signed with {:?}; accepted are RS*, PS* and ES256/384",
            header.alg
        ));
    }
    let audience = row
        .audience
        .clone()
        .unwrap_or_else(|| scim_base(origin, &tenant.slug));
    let mut v = jsonwebtoken::Validation::new(header.alg);
    v.set_audience(&[audience.as_str()]);
    v.set_issuer(&[row.issuer.as_str()]);
    v.set_required_spec_claims(&["exp", "aud", "iss"]);
    v.leeway = 30;
    v.validate_nbf = true;
    let mut fresh = false;
    loop {
        let text = ext.jwks.get(&row.jwks_uri, &ext.config, fresh).await?;
        let keys = parse_keys(&text)
            .map_err(|e| format!("the JWKS of issuer \"{}\" is unusable: {e}", row.name))?;
        let candidates: Vec<_> = keys
            .iter()
            .filter(|k| k.rsa == is_rsa(header.alg))
            .filter(|k| match (&header.kid, &k.kid) {
                (Some(w), Some(h)) => w == h,
                _ => true,
            })
            .collect();
        if candidates.is_empty() && !fresh {
            fresh = true;
            continue;
        }
        for key in candidates {
            use jsonwebtoken::errors::ErrorKind as K;
            match jsonwebtoken::decode::<serde_json::Map<String, Value>>(token, &key.key, &v) {
                Ok(d) => return Ok(d.claims),
                Err(e) if matches!(e.kind(), K::InvalidSignature) => {}
                Err(e) => {
                    return Err(match e.kind() {
                        K::ExpiredSignature => format!(
                            "the JWT access token from \"{}\" expired; the IdP must request a new one",
                            row.name
                        ),
                        K::InvalidAudience => format!(
                            "the JWT access token from \"{}\" has the wrong audience: its aud must be \"{audience}\"",
                            row.name
                        ),
                        other => format!(
                            "the JWT access token from \"{}\" is refused: {other:?}",
                            row.name
                        ),
                    });
                }
            }
        }
        return Err(format!(
            "the JWT access token's signature does not verify with any key of issuer \"{}\" ({})",
            row.name, row.jwks_uri
        ));
    }
}
