//! Bearer tokens: issuing (the secret is returned once and stored only as SHA-256) and checking
//! a presented `Authorization` header, with a distinct, actionable reason for every failure.

use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use super::OpError;
use crate::clock;
use crate::scim::error::ScimError;
use crate::store::tenants::{self, DEFAULT_SLUG, Tenant};
use crate::store::tokens::{self as rows, TokenKind, TokenRow};
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
    pub kind: TokenKind,
    pub expires_in: Option<std::time::Duration>,
    /// Client addresses it may be used from (`service::token_addresses`); empty = any.
    pub allowed_addresses: Vec<ipnet::IpNet>,
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

/// A new secret and the row that stores its hash (tenant and name still to be filled in).
fn new_secret(
    name: &str,
    (kind, read_only): (TokenKind, bool),
    now: OffsetDateTime,
    expires_in: Option<std::time::Duration>,
) -> Result<Issued, OpError> {
    let mut bytes = [0u8; SECRET_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    let secret = format!("{TOKEN_PREFIX}{}", hex::encode(bytes));
    let expires = expires_in.map(|d| add(now, d)).transpose()?;
    let token = TokenRow {
        id: uuid::Uuid::new_v4().to_string(),
        tenant_id: 0,
        name: name.trim().to_owned(),
        prefix: secret.chars().take(SHOWN_PREFIX_CHARS).collect(),
        secret_hash: hash_secret(&secret),
        read_only,
        kind,
        created: clock::timestamp(now),
        expires,
        revoked: None,
        rotated: None,
        replaced_by: None,
        overlap_until: None,
        last_used: None,
        last_used_ip: None,
        last_used_agent: None,
        allowed_addresses: Vec::new(),
    };
    Ok(Issued { token, secret })
}

fn add(now: OffsetDateTime, d: std::time::Duration) -> Result<String, OpError> {
    let too_far = || OpError::Invalid("the duration reaches too far into the future".into());
    let d = Duration::try_from(d).map_err(|_| too_far())?;
    Ok(clock::timestamp(now.checked_add(d).ok_or_else(too_far)?))
}

/// Issues a token for a tenant.
pub fn issue(store: &Store, new: &NewToken<'_>) -> Result<Issued, OpError> {
    if new.name.trim().is_empty() {
        return Err(OpError::Invalid(
            "the token needs a name (e.g. okta-prod) so you can tell integrations apart".into(),
        ));
    }
    if new.kind == TokenKind::Events && new.read_only {
        return Err(OpError::Invalid(
            "an events token only reads the events feed already; leave out read-only".into(),
        ));
    }
    let Issued { token, secret } = new_secret(
        new.name,
        (new.kind, new.read_only),
        clock::now(),
        new.expires_in,
    )?;
    let slug = new.tenant_slug.to_owned();
    let lookup = slug.clone();
    let allowed_addresses = new.allowed_addresses.clone();
    let stored = store
        .write_blocking(move |tx| {
            let tenant = tenants::by_slug(tx, &lookup)?.ok_or(StoreError::NotFound)?;
            let token = TokenRow { tenant_id: tenant.id, allowed_addresses, ..token };
            rows::insert(tx, &token)?;
            Ok(token)
        })
        .map_err(|e| match e {
            StoreError::NotFound => no_tenant(&slug),
            StoreError::Conflict { .. } => OpError::Conflict(format!("tenant \"{slug}\" already has a token named \"{}\"; pick another name or revoke the old one", new.name.trim())),
            other => internal(&other),
        })?;
    Ok(Issued {
        token: stored,
        secret,
    })
}

/// Options for [`rotate`].
pub struct Rotation<'a> {
    /// Tenant of the token; required when names repeat across tenants.
    pub tenant_slug: Option<&'a str>,
    pub id_or_name: &'a str,
    /// How long the old token keeps working.
    pub overlap: std::time::Duration,
    /// Lifetime of the new token; by default the old token's lifetime, if it had one.
    pub expires_in: Option<std::time::Duration>,
}

/// The outcome of [`rotate`].
pub struct Rotated {
    pub old: TokenRow,
    pub new: Issued,
}

/// Default overlap of a rotation: a day is enough to update the IdP and watch one sync.
pub const DEFAULT_OVERLAP: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// Replaces a token without downtime: a new token (same tenant and scope) is issued under the
/// next free name (`okta` → `okta-2` → `okta-3`), and the old one keeps working until the
/// overlap ends, after which it gets a 401 naming its replacement.
pub fn rotate(store: &Store, r: &Rotation<'_>) -> Result<Rotated, OpError> {
    let now = clock::now();
    let stamp = clock::timestamp(now);
    let until = add(now, r.overlap)?;
    let slug = r.tenant_slug.map(str::to_owned);
    let wanted = r.id_or_name.to_owned();
    let expires_in = r.expires_in;
    let outcome = store.write_blocking(move |tx| {
        let tenant_id = match &slug {
            Some(s) => match tenants::by_slug(tx, s)? {
                Some(t) => Some(t.id),
                None => return Ok(Err(no_tenant(s))),
            },
            None => None,
        };
        let old = match rows::find(tx, &wanted, tenant_id) {
            Err(StoreError::NotFound) => return Ok(Err(not_found(&wanted, slug.as_deref()))),
            other => other?,
        };
        if let Some(at) = &old.revoked {
            return Ok(Err(OpError::Invalid(format!("token \"{}\" was revoked on {at} and cannot be rotated; create a new token instead", old.name))));
        }
        if let (Some(at), Some(by)) = (&old.rotated, &old.replaced_by) {
            let by = rows::by_id(tx, by)?.map_or_else(|| by.clone(), |t| t.name);
            return Ok(Err(OpError::Invalid(format!("token \"{}\" was already rotated on {at} and replaced by \"{by}\"; rotate \"{by}\" instead", old.name))));
        }
        let lifetime = expires_in.or_else(|| lifetime(&old));
        let mut name = next_name(&old.name);
        while rows::name_taken(tx, old.tenant_id, &name)? {
            name = next_name(&name);
        }
        let issued = match new_secret(&name, (old.kind, old.read_only), now, lifetime) {
            Ok(i) => i,
            Err(e) => return Ok(Err(e)),
        };
        // The same integration, so the same addresses.
        let token = TokenRow {
            tenant_id: old.tenant_id,
            allowed_addresses: old.allowed_addresses.clone(),
            ..issued.token
        };
        rows::insert(tx, &token)?;
        rows::mark_rotated(tx, &old.id, &stamp, &token.id, &until)?;
        let old = TokenRow {
            rotated: Some(stamp.clone()),
            replaced_by: Some(token.id.clone()),
            overlap_until: Some(until.clone()),
            ..old
        };
        Ok(Ok(Rotated { old, new: Issued { token, secret: issued.secret } }))
    });
    match outcome {
        Ok(result) => result,
        Err(StoreError::Conflict { index }) => Err(OpError::Conflict(index)),
        Err(other) => Err(internal(&other)),
    }
}

/// `okta` → `okta-2`, `okta-2` → `okta-3`: the generation is visible in every listing and 401.
pub fn next_name(name: &str) -> String {
    if let Some((base, n)) = name.rsplit_once('-')
        && !base.is_empty()
        && let Ok(n) = n.parse::<u32>()
    {
        return format!("{base}-{}", n.saturating_add(1));
    }
    format!("{name}-2")
}

fn lifetime(t: &TokenRow) -> Option<std::time::Duration> {
    let parse = |s: &str| OffsetDateTime::parse(s, &Rfc3339).ok();
    let span = parse(t.expires.as_deref()?)? - parse(&t.created)?;
    std::time::Duration::try_from(span).ok()
}

/// Revokes a token by id or name (in one tenant when `tenant_slug` is given).
pub fn revoke(
    store: &Store,
    tenant_slug: Option<&str>,
    id_or_name: &str,
) -> Result<TokenRow, OpError> {
    let now = clock::timestamp(clock::now());
    let (slug, wanted) = (tenant_slug.map(str::to_owned), id_or_name.to_owned());
    let outcome = store.write_blocking(move |tx| {
        let tenant_id = match &slug {
            Some(s) => match tenants::by_slug(tx, s)? {
                Some(t) => Some(t.id),
                None => return Ok(Err(no_tenant(s))),
            },
            None => None,
        };
        rows::revoke(tx, &wanted, tenant_id, &now).map(Ok)
    });
    match outcome {
        Ok(result) => result,
        Err(StoreError::NotFound) => Err(not_found(id_or_name, tenant_slug)),
        Err(StoreError::Conflict { index }) => Err(OpError::Conflict(index)),
        Err(other) => Err(internal(&other)),
    }
}

/// A token as listed: never the secret; the tenant's slug and a one-word status.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Listed {
    #[serde(flatten)]
    pub token: TokenRow,
    pub tenant: String,
    pub status: &'static str,
    /// Name of the replacing token, for a rotated one.
    pub replaced_by_name: Option<String>,
}

/// Lists tokens of one tenant (or all), with status as of now.
pub fn list(store: &Store, tenant_slug: Option<&str>) -> Result<Vec<Listed>, OpError> {
    let slug = tenant_slug.map(str::to_owned);
    let (rows, all) = store
        .read_blocking(|c| {
            let tenant_id = match &slug {
                Some(s) => Some(tenants::by_slug(c, s)?.ok_or(StoreError::NotFound)?.id),
                None => None,
            };
            Ok((rows::list(c, tenant_id)?, tenants::list(c)?))
        })
        .map_err(|e| match e {
            StoreError::NotFound => no_tenant(tenant_slug.unwrap_or_default()),
            other => internal(&other),
        })?;
    let now = clock::timestamp(clock::now());
    Ok(rows
        .iter()
        .map(|t| Listed {
            tenant: all
                .iter()
                .find(|x| x.id == t.tenant_id)
                .map_or_else(String::new, |x| x.slug.clone()),
            status: status(t, &now),
            replaced_by_name: t
                .replaced_by
                .as_ref()
                .and_then(|id| rows.iter().find(|r| &r.id == id))
                .map(|r| r.name.clone()),
            token: t.clone(),
        })
        .collect())
}

/// `revoked`, `expired`, `rotated` (overlap over), `rotating` (old, still accepted) or `active`.
pub fn status(t: &TokenRow, now: &str) -> &'static str {
    if t.revoked.is_some() {
        "revoked"
    } else if t.expires.as_deref().is_some_and(|e| e <= now) {
        "expired"
    } else if t.overlap_until.as_deref().is_some_and(|u| u <= now) {
        "rotated"
    } else if t.rotated.is_some() {
        "rotating"
    } else {
        "active"
    }
}

fn no_tenant(slug: &str) -> OpError {
    OpError::NotFound(format!(
        "there is no tenant \"{slug}\"; create it with `scimd tenant create {slug}`"
    ))
}

fn not_found(id_or_name: &str, slug: Option<&str>) -> OpError {
    let scope = slug.map_or_else(String::new, |s| format!(" in tenant \"{s}\""));
    OpError::NotFound(format!(
        "no token has the id or name \"{id_or_name}\"{scope} (see `scimd token list`)"
    ))
}

fn internal(e: &StoreError) -> OpError {
    tracing::error!("token store failure: {e}");
    OpError::Internal(format!("the database failed: {e}"))
}

/// An authenticated SCIM caller.
#[derive(Debug, Clone)]
pub struct Caller {
    pub tenant: Tenant,
    pub token: TokenRow,
    /// The tenant's schemas, built once per cached lookup (a settings change is a change to the
    /// tenant's row, which makes the lookup stale).
    pub schemas: std::sync::Arc<crate::scim::schema::Registry>,
    /// The tenant's `strict` setting, read with the schemas.
    pub strict: bool,
}

/// A refused `Authorization` header: the error to answer, and the token it named when the
/// secret was a known one (revoked, expired, rotated, another tenant's), so the request log
/// can say which integration still sends it.
#[derive(Debug)]
pub struct Rejected {
    pub error: ScimError,
    /// (id, name) of the presented token; never the secret.
    pub token: Option<(String, String)>,
    /// Whether the tenant the URL names exists (it is checked only for a well-formed token).
    pub tenant_known: bool,
}

impl From<ScimError> for Rejected {
    fn from(error: ScimError) -> Self {
        Self {
            error,
            token: None,
            tenant_known: false,
        }
    }
}

/// Checks an `Authorization` header for the tenant at `slug`. `origin` is `scheme://host` for
/// the URL named in a wrong-tenant error. Every failure is a 401 whose detail tells the admin
/// exactly what to fix; none of them echoes the secret.
pub async fn authenticate(
    store: &Store,
    cache: &TokenCache,
    slug: &str,
    header: Option<&str>,
    origin: &str,
) -> Result<Caller, Rejected> {
    let header = header.map(str::trim).filter(|h| !h.is_empty()).ok_or_else(|| {
        unauthorized("the request has no Authorization header; configure the IdP to send \"Authorization: Bearer <token>\" with a token from `scimd token create`")
    })?;
    let (scheme, credential) = header
        .split_once(' ')
        .map_or((header, ""), |(s, c)| (s, c.trim()));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(Rejected::from(unauthorized(wrong_scheme(
            scheme, credential,
        ))));
    }
    // The second kind of credential: an access token from the tenant's OAuth token endpoint.
    if credential.starts_with(super::oauth::ACCESS_PREFIX) {
        return super::oauth::authenticate_access(store, &cache.access, slug, credential, origin)
            .await;
    }
    // The third: a JWT access token of an external authorization server the tenant trusts.
    if !credential.starts_with(TOKEN_PREFIX) && credential.split('.').count() == 3 {
        return super::oauth_external::authenticate(
            store,
            cache.access.external(),
            slug,
            credential,
            origin,
        )
        .await;
    }
    if !credential.starts_with(TOKEN_PREFIX)
        || credential.len() != TOKEN_PREFIX.len() + SECRET_BYTES * 2
        || credential.contains(char::is_whitespace)
    {
        return Err(Rejected::from(unauthorized(format!(
            "the bearer token is malformed: scimd tokens are \"{TOKEN_PREFIX}\" followed by {} hex characters. Check that the whole token was pasted, without quotes or a second \"Bearer\"",
            SECRET_BYTES * 2
        ))));
    }
    let hash = hash_secret(credential);
    let Lookup {
        token,
        tenant,
        token_tenant,
        replacement,
        schemas,
        strict,
    } = cache.lookup(store, slug, &hash).await?;
    // The row was found by its hash; the constant-time comparison keeps the check itself free
    // of timing differences should the lookup ever become a prefix scan.
    let token = token.filter(|t| bool::from(t.secret_hash.ct_eq(&hash)));
    let Some(tenant) = tenant else {
        // A known token on the URL of a tenant that does not exist (a typo in the IdP's base
        // URL) is named in the request log like any other refused known token.
        return Err(Rejected {
            error: unknown_tenant(slug),
            token: token.map(|t| (t.id, t.name)),
            tenant_known: false,
        });
    };
    let Some(token) = token else {
        return Err(Rejected {
            error: unauthorized(format!(
                "the bearer token ({}…) is not known to this server; it may have been deleted, or belong to another scimd instance. Create one with `scimd token create --name <idp>`",
                credential
                    .chars()
                    .take(SHOWN_PREFIX_CHARS)
                    .collect::<String>()
            )),
            token: None,
            tenant_known: true,
        });
    };
    let known = Known {
        token: &token,
        tenant: &tenant,
        token_tenant: token_tenant.as_ref(),
        replacement: replacement.as_ref(),
    };
    if let Err(error) = known
        .admit(origin)
        .and_then(|()| oauth_required(&tenant, &token))
    {
        let token = Some((token.id.clone(), token.name.clone()));
        return Err(Rejected {
            error,
            token,
            tenant_known: true,
        });
    }
    Ok(Caller {
        tenant,
        token,
        schemas,
        strict,
    })
}

/// A SCIM token on a tenant that takes only OAuth access tokens (`require_oauth`).
fn oauth_required(tenant: &Tenant, token: &TokenRow) -> Result<(), ScimError> {
    if token.kind != TokenKind::Scim || !super::settings::requires_oauth(tenant) {
        return Ok(());
    }
    Err(unauthorized(format!(
        "tenant \"{}\" takes only OAuth access tokens (tenant setting require_oauth = true), not SCIM token \"{}\": configure the IdP for OAuth client credentials against this tenant's token endpoint (Setup page), or set require_oauth = false",
        tenant.slug, token.name
    )))
}

/// Registered HTTP authentication schemes (IANA) other than Bearer, which a detail may name:
/// anything else in the scheme's place is likely a credential sent without a scheme, and no
/// part of a credential is echoed.
const OTHER_SCHEMES: &[&str] = &[
    "Basic",
    "Digest",
    "Negotiate",
    "NTLM",
    "OAuth",
    "Token",
    "HOBA",
    "Mutual",
    "DPoP",
    "GNAP",
    "PrivateToken",
    "Concealed",
    "SCRAM-SHA-1",
    "SCRAM-SHA-256",
    "vapid",
    "AWS4-HMAC-SHA256",
];

/// The 401 detail for an Authorization header whose scheme is not Bearer.
fn wrong_scheme(scheme: &str, credential: &str) -> String {
    if credential.is_empty() {
        let hint = if scheme.starts_with(TOKEN_PREFIX) {
            " (it holds a scimd token without \"Bearer \")"
        } else {
            ""
        };
        return format!(
            "the Authorization header has no scheme{hint}; scimd accepts only \"Bearer <token>\". In the IdP, choose bearer/header authentication and paste the token alone"
        );
    }
    match OTHER_SCHEMES.iter().find(|s| s.eq_ignore_ascii_case(scheme)) {
        Some(known) => format!(
            "the Authorization header uses the \"{known}\" scheme; scimd accepts only \"Bearer <token>\". In the IdP, choose bearer/header authentication and paste the token alone"
        ),
        None => "the Authorization header does not use the Bearer scheme; scimd accepts only \"Bearer <token>\". In the IdP, choose bearer/header authentication and paste the token alone".to_owned(),
    }
}

/// What authenticating a secret on a tenant's URL reads from the store.
#[derive(Debug, Clone)]
struct Lookup {
    token: Option<TokenRow>,
    tenant: Option<Tenant>,
    token_tenant: Option<Tenant>,
    replacement: Option<TokenRow>,
    schemas: std::sync::Arc<crate::scim::schema::Registry>,
    strict: bool,
}

/// Recent lookups of known credentials by (tenant slug, secret hash), so an IdP's steady stream
/// of requests does not read the same rows for each one. An entry is used only while no token,
/// client or tenant was changed since it was read, by this process or another
/// ([`Store::credentials_stamp`]), so a credential the CLI revokes is refused at the very next
/// request. Time-dependent checks (expiry, end of a rotation's overlap) run on every request,
/// cached or not. Serves SCIM tokens here and OAuth access tokens (`service::oauth`).
pub(super) struct StampedCache<V> {
    entries: std::sync::Mutex<StampedEntries<V>>,
}

/// (tenant slug, secret hash) to (credentials stamp when read, lookup).
type StampedEntries<V> = std::collections::HashMap<(String, Vec<u8>), (i64, V)>;

impl<V> Default for StampedCache<V> {
    fn default() -> Self {
        Self {
            entries: std::sync::Mutex::default(),
        }
    }
}

impl<V: Clone + Send + 'static> StampedCache<V> {
    /// Entries kept at most; only known credentials are cached, so this is never reached in use.
    const CAPACITY: usize = 1024;

    /// The cached lookup of `hash` on `slug`, or `read`'s, kept when `known` says the secret
    /// and the tenant exist (unknown secrets are not cached: guessing must not fill memory).
    pub(super) async fn get_or_read(
        &self,
        store: &Store,
        slug: &str,
        hash: &[u8],
        read: impl Fn(&rusqlite::Connection, &str, &[u8]) -> crate::store::Result<V> + Send + 'static,
        known: impl Fn(&V) -> bool,
    ) -> Result<V, ScimError> {
        let key = (slug.to_owned(), hash.to_vec());
        // Read before the lookup: a change committed meanwhile makes the entry stale at once.
        let stamp = store.credentials_stamp().map_err(|e| {
            tracing::error!("credentials check failed: {e}");
            ScimError::internal()
        })?;
        if let Ok(entries) = self.entries.lock()
            && let Some((s, v)) = entries.get(&key)
            && *s == stamp
        {
            return Ok(v.clone());
        }
        let (slug_owned, hash_owned) = key.clone();
        let value = store
            .read_quick(move |conn| read(conn, &slug_owned, &hash_owned))
            .await
            .map_err(|e| {
                tracing::error!("credential lookup failed: {e}");
                ScimError::internal()
            })?;
        if known(&value)
            && let Ok(mut entries) = self.entries.lock()
        {
            if entries.len() >= Self::CAPACITY {
                entries.clear();
            }
            entries.insert(key, (stamp, value.clone()));
        }
        Ok(value)
    }
}

/// The schemas a tenant serves and whether it is strict; the core schemas for an unknown one.
pub(super) fn tenant_schemas(
    tenant: Option<&Tenant>,
) -> (std::sync::Arc<crate::scim::schema::Registry>, bool) {
    (
        tenant.map_or_else(crate::scim::schema::Registry::core, |t| {
            super::settings::registry_of(t)
        }),
        tenant.is_some_and(super::settings::strict_of),
    )
}

/// The SCIM tokens' [`StampedCache`], and the OAuth access tokens' beside it.
#[derive(Default)]
pub struct TokenCache {
    entries: StampedCache<Lookup>,
    /// OAuth access tokens' lookups (`service::oauth`).
    access: super::oauth::AccessCache,
}

impl TokenCache {
    /// A cache whose OAuth checks fetch JWK Sets under `[oauth]`'s settings.
    pub fn with_oauth(config: crate::config::OAuthConfig) -> Self {
        Self {
            access: super::oauth::AccessCache::with_oauth(config),
            ..Self::default()
        }
    }

    async fn lookup(&self, store: &Store, slug: &str, hash: &[u8]) -> Result<Lookup, ScimError> {
        let read = |conn: &rusqlite::Connection, slug: &str, hash: &[u8]| {
            let tenant = tenants::by_slug(conn, slug)?;
            let token = rows::by_hash(conn, hash)?;
            let token_tenant = match &token {
                Some(t) => Some(tenants::by_id(conn, t.tenant_id)?),
                None => None,
            };
            let replacement = match token.as_ref().and_then(|t| t.replaced_by.as_deref()) {
                Some(id) => rows::by_id(conn, id)?,
                None => None,
            };
            let (schemas, strict) = tenant_schemas(tenant.as_ref());
            Ok(Lookup {
                token,
                tenant,
                token_tenant,
                replacement,
                schemas,
                strict,
            })
        };
        let known = |l: &Lookup| l.token.is_some() && l.tenant.is_some();
        self.entries
            .get_or_read(store, slug, hash, read, known)
            .await
    }
}

/// A token found by its secret, with what deciding whether it may be used needs.
struct Known<'a> {
    token: &'a TokenRow,
    tenant: &'a Tenant,
    /// The tenant the token belongs to (differs from `tenant` on a wrong-tenant URL).
    token_tenant: Option<&'a Tenant>,
    /// The token that replaced it, for a rotated one.
    replacement: Option<&'a TokenRow>,
}

impl Known<'_> {
    /// Ok when the token may be used on this tenant now; else the 401 that says why.
    fn admit(&self, origin: &str) -> Result<(), ScimError> {
        if let Some(at) = &self.token.revoked {
            return Err(unauthorized(format!(
                "token \"{}\" ({}…) was revoked on {at}; create a new token and update the IdP",
                self.token.name, self.token.prefix
            )));
        }
        if let (Some(at), Some(until)) = (&self.token.rotated, &self.token.overlap_until)
            && clock::reached(until, clock::now())
        {
            let by = self.replacement.map_or_else(
                || "a newer token".to_owned(),
                // Only its name: nothing of another credential's secret, not even its prefix.
                |r| format!("\"{}\"", r.name),
            );
            return Err(unauthorized(format!(
                "token \"{}\" ({}…) was rotated on {at}, replaced by {by}; its overlap ended on {until}. Put the new token in the IdP",
                self.token.name, self.token.prefix
            )));
        }
        if let Some(exp) = &self.token.expires
            && clock::reached(exp, clock::now())
        {
            return Err(unauthorized(format!(
                "token \"{}\" ({}…) expired on {exp}; create a new token (`scimd token create --name {} --expires-in 90d`) and update the IdP",
                self.token.name, self.token.prefix, self.token.name
            )));
        }
        if self.token.tenant_id != self.tenant.id {
            let right = self
                .token_tenant
                .map_or_else(|| "another tenant".to_owned(), |t| t.slug.clone());
            return Err(unauthorized(format!(
                "token \"{}\" belongs to tenant \"{right}\", not \"{}\"; point the IdP at {} or use a token of tenant \"{}\"",
                self.token.name,
                self.tenant.slug,
                scim_base(origin, &right),
                self.tenant.slug
            )));
        }
        Ok(())
    }
}

/// The absolute SCIM base URL of a tenant.
pub fn scim_base(origin: &str, slug: &str) -> String {
    if slug == DEFAULT_SLUG {
        format!("{origin}/scim/v2")
    } else {
        format!("{origin}/t/{slug}/scim/v2")
    }
}

/// The events feed of a tenant whose SCIM base URL is `scim_base`: beside it, `…/events`
/// becoming `/events` or `/t/{slug}/events` (the feed is not part of the SCIM API).
pub fn events_url(scim_base: &str) -> String {
    format!("{}/events", scim_base.trim_end_matches("/scim/v2"))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_names_count_generations() {
        assert_eq!(next_name("okta"), "okta-2");
        assert_eq!(next_name("okta-2"), "okta-3");
        assert_eq!(next_name("okta-prod"), "okta-prod-2");
        assert_eq!(next_name("-7"), "-7-2");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90d").expect("d").as_secs(), 90 * 86400);
        assert_eq!(parse_duration("30m").expect("m").as_secs(), 1800);
        assert!(parse_duration("soon").expect_err("bad").contains("30m"));
    }
}
