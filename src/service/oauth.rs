//! OAuth 2.0 for SCIM clients (issue 28): clients registered per tenant, the token endpoint's
//! client credentials grant (RFC 6749 §4.4) with client authentication by secret (§2.3.1) or
//! by `private_key_jwt` (RFC 7523 §2.2, `jti` single-use), opaque access tokens stored as
//! hashes, and their check on SCIM requests beside SCIM tokens. Every refusal names its
//! cause and its fix, in RFC 6749 §5.2 form at the token endpoint and as a SCIM 401 after.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rand::RngCore;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use super::OpError;
use super::tokens::{Caller, Rejected, hash_secret};
use crate::clock;
use crate::config::OAuthConfig;
use crate::scim::error::ScimError;
use crate::store::oauth::{self as rows, AccessRow, ClientRow, Method};
use crate::store::tenants::{self, DEFAULT_SLUG, Tenant};
use crate::store::tokens::{TokenKind, TokenRow};
use crate::store::{Store, StoreError};

/// Every access token starts with this (SCIM tokens start with `scim_`), so the SCIM guard
/// knows which kind it holds and a leaked one is recognisable.
pub const ACCESS_PREFIX: &str = "scimat_";
/// Every client secret starts with this.
pub const SECRET_PREFIX: &str = "scimcs_";
pub(super) const SECRET_BYTES: usize = 32;
/// The one scope: the tenant's SCIM API.
pub const SCOPE: &str = "scim";
/// RFC 7523 §2.2.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// RFC 7523 §2.1: a JWT used as the authorization grant itself (IPSIE's "exchange a signed
/// JWT for an access token"); checked exactly like a `private_key_jwt` client assertion.
pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// Clock difference tolerated on an assertion's `exp`, `nbf` and `iat`.
const LEEWAY_SECS: u64 = 30;
/// Signature algorithms accepted on an assertion: asymmetric only (a shared-secret HS256
/// assertion is `client_secret_jwt`, not offered), never `none`.
pub const ALGORITHMS: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
];
/// Expired access tokens are kept this long, so a 401 can say "expired" rather than
/// "unknown".
pub(super) const EXPIRED_KEPT: time::Duration = time::Duration::days(1);

// ---- URLs ----

/// The issuer of a tenant's tokens: `{origin}/oauth`, or `{origin}/t/{slug}/oauth`.
pub fn issuer(origin: &str, slug: &str) -> String {
    if slug == DEFAULT_SLUG {
        format!("{origin}/oauth")
    } else {
        format!("{origin}/t/{slug}/oauth")
    }
}

/// The token endpoint of a tenant.
pub fn token_endpoint(origin: &str, slug: &str) -> String {
    format!("{}/token", issuer(origin, slug))
}

/// RFC 8414 §3.1: the well-known segment goes between the host and the issuer's path.
pub fn metadata_url(origin: &str, slug: &str) -> String {
    let issuer = issuer(origin, slug);
    let path = issuer.strip_prefix(origin).unwrap_or("/oauth");
    format!("{origin}/.well-known/oauth-authorization-server{path}")
}

/// The authorization endpoint of a tenant (the authorization code grant, RFC 6749 §3.1).
pub fn authorization_endpoint(origin: &str, slug: &str) -> String {
    format!("{}/authorize", issuer(origin, slug))
}

/// RFC 8414 §2 metadata of a tenant's authorization server.
pub fn metadata(origin: &str, slug: &str) -> Value {
    let algs: Vec<String> = ALGORITHMS.iter().map(|a| format!("{a:?}")).collect();
    json!({
        "issuer": issuer(origin, slug),
        "authorization_endpoint": authorization_endpoint(origin, slug),
        "token_endpoint": token_endpoint(origin, slug),
        "grant_types_supported":
            ["authorization_code", "refresh_token", "client_credentials", JWT_BEARER_GRANT],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": true,
        "token_endpoint_auth_methods_supported":
            ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": algs,
        "scopes_supported": [SCOPE],
        "service_documentation": "https://github.com/scimd/scimd#oauth-20-clients",
    })
}

// ---- clients ----

/// Options for [`add`].
pub struct NewClient<'a> {
    pub tenant_slug: &'a str,
    pub name: &'a str,
    pub method: Method,
    /// PEM public keys or a JWK Set (for `private_key_jwt`).
    pub public_keys: Option<&'a str>,
    /// The client's JWK Set URL (for `private_key_jwt`).
    pub jwks_uri: Option<&'a str>,
    /// Redirect URIs: given, the client uses the authorization code grant (Okta's OAuth 2).
    pub redirect_uris: &'a [String],
}

/// A client just created or rotated: the secret exists only in this value.
#[derive(Debug, serde::Serialize)]
pub struct Registered {
    pub client: ClientRow,
    pub client_secret: Option<String>,
}

pub(super) fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// Checks a client's key material: at least one usable public key (or a JWKS URL), no
/// private or symmetric key.
fn check_keys(
    public_keys: Option<&str>,
    jwks_uri: Option<&str>,
    allow_http: bool,
) -> Result<(), OpError> {
    match (public_keys.map(str::trim).filter(|k| !k.is_empty()), jwks_uri) {
        (Some(_), Some(_)) => Err(OpError::Invalid(
            "give either public keys or a JWKS URL, not both".into(),
        )),
        (None, None) => Err(OpError::Invalid(
            "a private_key_jwt client needs its public key (--public-key FILE, PEM or JWK Set) or its JWKS URL (--jwks-uri URL)".into(),
        )),
        (Some(k), None) => parse_keys(k).map(|_| ()).map_err(OpError::Invalid),
        (None, Some(u)) => check_jwks_uri(u, allow_http).map_err(OpError::Invalid),
    }
}

fn check_jwks_uri(u: &str, allow_http: bool) -> Result<(), String> {
    if u.starts_with("https://") || (allow_http && u.starts_with("http://")) {
        Ok(())
    } else if u.starts_with("http://") {
        Err(format!(
            "the JWKS URL {u} is plain http; use https (or set oauth.allow_http_jwks = true in a lab)"
        ))
    } else {
        Err(format!("the JWKS URL \"{u}\" is not an https:// URL"))
    }
}

/// Registers a client for a tenant. A secret client gets its secret, shown once.
pub fn add(store: &Store, new: &NewClient<'_>, cfg: &OAuthConfig) -> Result<Registered, OpError> {
    let name = new.name.trim().to_owned();
    if name.is_empty() {
        return Err(OpError::Invalid(
            "the client needs a name (e.g. entra-prod) so you can tell integrations apart".into(),
        ));
    }
    let redirect_uris =
        super::oauth_code::check_redirect_uris(new.redirect_uris, cfg.max_redirect_uris)?;
    let secret = match new.method {
        Method::ClientSecret => {
            if new.public_keys.is_some() || new.jwks_uri.is_some() {
                return Err(OpError::Invalid(
                    "a client_secret client takes no public key or JWKS URL; choose --method private_key_jwt for those".into(),
                ));
            }
            Some(format!("{SECRET_PREFIX}{}", random_hex(SECRET_BYTES)))
        }
        Method::PrivateKeyJwt => {
            check_keys(new.public_keys, new.jwks_uri, cfg.allow_http_jwks)?;
            None
        }
    };
    let row = ClientRow {
        id: uuid::Uuid::new_v4().to_string(),
        tenant_id: 0,
        name: name.clone(),
        client_id: format!("scimd-{}", random_hex(10)),
        method: new.method,
        secret_hash: secret.as_deref().map(hash_secret),
        previous_hash: None,
        previous_until: None,
        public_keys: new.public_keys.map(|k| k.trim().to_owned()),
        jwks_uri: new.jwks_uri.map(str::to_owned),
        created: clock::timestamp(clock::now()),
        rotated: None,
        revoked: None,
        last_used: None,
        last_used_ip: None,
        last_used_agent: None,
        redirect_uris,
    };
    let slug = new.tenant_slug.to_owned();
    let lookup = slug.clone();
    let client = store
        .write_blocking(move |tx| {
            let tenant = tenants::by_slug(tx, &lookup)?.ok_or(StoreError::NotFound)?;
            let row = ClientRow {
                tenant_id: tenant.id,
                ..row
            };
            rows::insert(tx, &row)?;
            Ok(row)
        })
        .map_err(|e| match e {
            StoreError::NotFound => no_tenant(&slug),
            StoreError::Conflict { .. } => OpError::Conflict(format!(
                "tenant \"{slug}\" already has an OAuth client named \"{name}\"; pick another name or revoke the old one"
            )),
            other => internal(&other),
        })?;
    Ok(Registered {
        client,
        client_secret: secret,
    })
}

/// A client as listings show it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ListedClient {
    #[serde(flatten)]
    pub client: ClientRow,
    pub tenant: String,
    /// `active`, `rotating` (previous secret still accepted) or `revoked`.
    pub status: &'static str,
    /// Access tokens issued and not yet expired.
    pub live_tokens: u64,
    /// The grants the token endpoint takes from it: `authorization_code` and
    /// `refresh_token` with redirect URIs, else `client_credentials`.
    pub grant_types: Vec<&'static str>,
    /// Authorization code grants (admin consents) not revoked.
    pub live_grants: u64,
}

/// The grant types of a client: a registered redirect URI makes it an authorization code
/// client, which cannot skip the admin's consent with client credentials.
pub fn grant_types(c: &ClientRow) -> Vec<&'static str> {
    if c.redirect_uris.is_empty() {
        vec!["client_credentials", JWT_BEARER_GRANT]
    } else {
        vec!["authorization_code", "refresh_token"]
    }
}

/// Clients of a tenant, or of every tenant.
pub fn list(store: &Store, tenant_slug: Option<&str>) -> Result<Vec<ListedClient>, OpError> {
    let slug = tenant_slug.map(str::to_owned);
    let now = clock::timestamp(clock::now());
    store
        .read_blocking(|c| {
            let all = tenants::list(c)?;
            let tenant_id = match &slug {
                Some(s) => match all.iter().find(|t| &t.slug == s) {
                    Some(t) => Some(t.id),
                    None => return Ok(Err(no_tenant(s))),
                },
                None => None,
            };
            let mut out = Vec::new();
            for client in rows::list(c, tenant_id)? {
                let live = rows::live_tokens(c, &client.id, &now)?;
                let live_grants = rows::live_grants(c, &client.id, &now)?;
                out.push(ListedClient {
                    grant_types: grant_types(&client),
                    live_grants,
                    tenant: all
                        .iter()
                        .find(|t| t.id == client.tenant_id)
                        .map_or_else(String::new, |t| t.slug.clone()),
                    status: client_status(&client, &now),
                    live_tokens: live,
                    client,
                });
            }
            Ok(Ok(out))
        })
        .map_err(|e| internal(&e))?
}

fn client_status(c: &ClientRow, now: &str) -> &'static str {
    if c.revoked.is_some() {
        "revoked"
    } else if c.previous_until.as_deref().is_some_and(|u| u > now) {
        "rotating"
    } else {
        "active"
    }
}

/// [`find_in`], refusing a revoked client: what changes a client needs one still in use.
pub(super) fn live_client(
    c: &crate::store::Conn,
    slug: Option<&str>,
    wanted: &str,
) -> Result<Result<ClientRow, OpError>, StoreError> {
    Ok(find_in(c, slug, wanted)?.and_then(|row| match row.revoked {
        Some(_) => Err(OpError::Invalid(format!(
            "OAuth client \"{}\" is revoked; add a new client instead",
            row.name
        ))),
        None => Ok(row),
    }))
}

pub(super) fn find_in(
    c: &crate::store::Conn,
    slug: Option<&str>,
    wanted: &str,
) -> Result<Result<ClientRow, OpError>, StoreError> {
    let tenant_id = match slug {
        Some(s) => match tenants::by_slug(c, s)? {
            Some(t) => Some(t.id),
            None => return Ok(Err(no_tenant(s))),
        },
        None => None,
    };
    match rows::find(c, wanted, tenant_id) {
        Ok(row) => Ok(Ok(row)),
        Err(StoreError::NotFound) => Ok(Err(OpError::NotFound(format!(
            "no OAuth client has the id, client_id or name \"{wanted}\" (see `scimd oauth client list`)"
        )))),
        Err(StoreError::Conflict { index }) => Ok(Err(OpError::Conflict(index))),
        Err(e) => Err(e),
    }
}

/// Revokes a client: its access tokens stop working at the next request, and it gets no new
/// ones.
pub fn revoke(store: &Store, slug: Option<&str>, wanted: &str) -> Result<ClientRow, OpError> {
    let now = clock::timestamp(clock::now());
    let (slug, wanted) = (slug.map(str::to_owned), wanted.to_owned());
    store
        .write_blocking(move |tx| {
            let row = match find_in(tx, slug.as_deref(), &wanted)? {
                Ok(r) => r,
                Err(e) => return Ok(Err(e)),
            };
            rows::revoke(tx, &row.id, &now)?;
            Ok(Ok(ClientRow {
                revoked: Some(row.revoked.clone().unwrap_or(now)),
                ..row
            }))
        })
        .map_err(|e| internal(&e))?
}

/// What [`rotate`] changes.
pub struct Rotation<'a> {
    pub tenant_slug: Option<&'a str>,
    pub wanted: &'a str,
    /// How long the previous secret keeps working (secret clients).
    pub overlap: std::time::Duration,
    /// New public keys (key clients).
    pub public_keys: Option<&'a str>,
    /// New JWKS URL (key clients).
    pub jwks_uri: Option<&'a str>,
}

/// Rotates a client's credential: a secret client gets a new secret (the previous one works
/// until the overlap ends); a key client gets new keys or a new JWKS URL.
pub fn rotate(store: &Store, r: &Rotation<'_>, cfg: &OAuthConfig) -> Result<Registered, OpError> {
    let now = clock::now();
    let stamp = clock::timestamp(now);
    let until = clock::timestamp(
        now + time::Duration::try_from(r.overlap)
            .map_err(|_| OpError::Invalid("the overlap is too long".into()))?,
    );
    let (slug, wanted) = (r.tenant_slug.map(str::to_owned), r.wanted.to_owned());
    let keys = (
        r.public_keys.map(str::to_owned),
        r.jwks_uri.map(str::to_owned),
    );
    let allow_http = cfg.allow_http_jwks;
    store
        .write_blocking(move |tx| {
            let row = match live_client(tx, slug.as_deref(), &wanted)? {
                Ok(r) => r,
                Err(e) => return Ok(Err(e)),
            };
            match row.method {
                Method::ClientSecret => {
                    let secret = format!("{SECRET_PREFIX}{}", random_hex(SECRET_BYTES));
                    rows::rotate_secret(tx, &row.id, &hash_secret(&secret), &stamp, &until)?;
                    Ok(Ok(Registered {
                        client: ClientRow {
                            rotated: Some(stamp),
                            previous_until: Some(until),
                            ..row
                        },
                        client_secret: Some(secret),
                    }))
                }
                Method::PrivateKeyJwt => {
                    if let Err(e) = check_keys(keys.0.as_deref(), keys.1.as_deref(), allow_http) {
                        return Ok(Err(e));
                    }
                    let public_keys = keys.0.as_deref().map(str::trim);
                    rows::set_keys(tx, &row.id, public_keys, keys.1.as_deref(), &stamp)?;
                    Ok(Ok(Registered {
                        client: ClientRow {
                            public_keys: public_keys.map(str::to_owned),
                            jwks_uri: keys.1,
                            rotated: Some(stamp),
                            ..row
                        },
                        client_secret: None,
                    }))
                }
            }
        })
        .map_err(|e| internal(&e))?
}

pub(super) fn no_tenant(slug: &str) -> OpError {
    OpError::NotFound(format!(
        "there is no tenant \"{slug}\"; create it with `scimd tenant create {slug}`"
    ))
}

pub(super) fn internal(e: &StoreError) -> OpError {
    tracing::error!("OAuth client store failure: {e}");
    OpError::Internal(format!("the database failed: {e}"))
}

// ---- keys ----

/// An RSA or EC public key of a client.
pub(super) struct Key {
    pub(super) kid: Option<String>,
    pub(super) rsa: bool,
    pub(super) key: DecodingKey,
}

/// Parses registered keys: a JWK Set, a single JWK, or PEM public keys.
pub(super) fn parse_keys(text: &str) -> Result<Vec<Key>, String> {
    let text = text.trim();
    if text.starts_with('{') {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| format!("the public keys are not valid JSON ({e})"))?;
        let set: JwkSet = if value.get("keys").is_some() {
            serde_json::from_value(value)
        } else {
            serde_json::from_value(json!({ "keys": [value] }))
        }
        .map_err(|e| format!("the public keys are not a JWK Set (RFC 7517 §5): {e}"))?;
        let mut keys = Vec::new();
        for jwk in &set.keys {
            let rsa = match &jwk.algorithm {
                AlgorithmParameters::RSA(_) => true,
                AlgorithmParameters::EllipticCurve(_) => false,
                _ => {
                    return Err(
                        "only RSA and EC public keys are accepted (no symmetric or OKP key)".into(),
                    );
                }
            };
            if value_has_private_part(jwk) {
                return Err(
                    "a JWK holds a private key part (\"d\"); register the public key only".into(),
                );
            }
            let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("a JWK is unusable: {e}"))?;
            keys.push(Key {
                kid: jwk.common.key_id.clone(),
                rsa,
                key,
            });
        }
        if keys.is_empty() {
            return Err("the JWK Set holds no key".into());
        }
        return Ok(keys);
    }
    if text.contains("PRIVATE KEY") {
        return Err(
            "that is a private key; register the client's public key (openssl pkey -pubout)".into(),
        );
    }
    let mut keys = Vec::new();
    for block in text
        .split_inclusive("-----\n")
        .collect::<String>()
        .split("-----BEGIN ")
        .skip(1)
    {
        let pem = format!("-----BEGIN {block}");
        let pem = pem.trim().as_bytes();
        if let Ok(key) = DecodingKey::from_rsa_pem(pem) {
            keys.push(Key {
                kid: None,
                rsa: true,
                key,
            });
        } else if let Ok(key) = DecodingKey::from_ec_pem(pem) {
            keys.push(Key {
                kid: None,
                rsa: false,
                key,
            });
        } else {
            return Err("a PEM block is not an RSA or EC public key".into());
        }
    }
    if keys.is_empty() {
        return Err(
            "the public keys are neither PEM (-----BEGIN PUBLIC KEY-----) nor a JWK Set".into(),
        );
    }
    Ok(keys)
}

fn value_has_private_part(jwk: &jsonwebtoken::jwk::Jwk) -> bool {
    serde_json::to_value(jwk).is_ok_and(|v| v.get("d").is_some())
}

pub(super) fn is_rsa(alg: Algorithm) -> bool {
    !matches!(alg, Algorithm::ES256 | Algorithm::ES384)
}

/// JWK Sets fetched from clients' `jwks_uri`, reused for `oauth.jwks_cache_secs`.
#[derive(Default)]
pub struct JwksCache {
    entries: Mutex<HashMap<String, (Instant, String)>>,
}

impl JwksCache {
    /// Entries kept at most (one per client with a JWKS URL).
    const CAPACITY: usize = 256;
    /// The least time between two fetches of one URL when a `kid` is not in the cached set.
    const MIN_REFETCH: Duration = Duration::from_secs(10);

    /// The JWK Set at `url`: from the cache unless `fresh` or older than the configured time.
    pub(super) async fn get(
        &self,
        url: &str,
        cfg: &OAuthConfig,
        fresh: bool,
    ) -> Result<String, String> {
        let max_age = Duration::from_secs(cfg.jwks_cache_secs);
        // A refetch for an unknown `kid` is asked for by whoever sends an assertion naming the
        // client: at most one per MIN_REFETCH, so bogus assertions cannot make scimd hammer
        // the client's JWKS URL.
        let young = if fresh {
            Self::MIN_REFETCH.min(max_age)
        } else {
            max_age
        };
        if let Ok(entries) = self.entries.lock()
            && let Some((at, body)) = entries.get(url)
            && at.elapsed() < young
        {
            return Ok(body.clone());
        }
        let (u, max) = (url.to_owned(), cfg.max_jwks_bytes);
        let answer = rocket::tokio::task::spawn_blocking(move || {
            let client = crate::outbound::Client::new(crate::outbound::Limits {
                connect_timeout: Duration::from_secs(5),
                timeout: Duration::from_secs(10),
                excerpt_bytes: max + 1,
            });
            client.get(
                &u,
                &[("Accept", "application/jwk-set+json, application/json")],
            )
        })
        .await
        .map_err(|e| format!("the JWKS fetch failed: {e}"))?
        .map_err(|f| format!("the client's JWKS URL {url} could not be fetched: {f}"))?;
        if answer.status != 200 {
            return Err(format!(
                "the client's JWKS URL {url} answered {}; it must answer 200 with a JWK Set",
                answer.status
            ));
        }
        if answer.excerpt.len() > max {
            return Err(format!(
                "the client's JWKS at {url} is over oauth.max_jwks_bytes = {max} bytes"
            ));
        }
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= Self::CAPACITY {
                entries.clear();
            }
            entries.insert(url.to_owned(), (Instant::now(), answer.excerpt.clone()));
        }
        Ok(answer.excerpt)
    }
}

// ---- the token endpoint ----

/// The parameters of a token request (RFC 6749 §4.4.2, RFC 7523 §2.2), form-decoded.
#[derive(Debug, Default)]
pub struct TokenRequest {
    pub grant_type: Option<String>,
    pub scope: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub client_assertion_type: Option<String>,
    pub client_assertion: Option<String>,
    /// RFC 7523 §2.1 `assertion` of the JWT bearer grant.
    pub assertion: Option<String>,
    /// RFC 6749 §4.1.3 and RFC 7636 §4.5: the authorization code grant.
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    /// RFC 6749 §6.
    pub refresh_token: Option<String>,
}

/// An RFC 6749 §5.2 error, with what the request log names.
#[derive(Debug, Clone)]
pub struct OAuthError {
    pub status: u16,
    pub error: &'static str,
    pub description: String,
    /// The client tried Basic: a 401 carries `WWW-Authenticate: Basic` (§5.2).
    pub basic: bool,
    /// (id, name) of the client, once known: the request log names it.
    pub client: Option<(String, String)>,
    pub tenant_known: bool,
    /// Seconds for `Retry-After` (a 429).
    pub retry_after: Option<u64>,
}

impl OAuthError {
    pub fn new(status: u16, error: &'static str, description: impl Into<String>) -> Self {
        Self {
            status,
            error,
            description: description.into(),
            basic: false,
            client: None,
            tenant_known: true,
            retry_after: None,
        }
    }

    pub(super) fn request(d: impl Into<String>) -> Self {
        Self::new(400, "invalid_request", d)
    }

    pub(super) fn client(d: impl Into<String>) -> Self {
        Self::new(401, "invalid_client", d)
    }

    pub(super) fn of(mut self, c: &ClientRow) -> Self {
        self.client = Some((c.id.clone(), c.name.clone()));
        self
    }

    /// The §5.2 body.
    pub fn body(&self) -> Value {
        json!({ "error": self.error, "error_description": self.description })
    }
}

/// Parses an `application/x-www-form-urlencoded` body; a repeated parameter is refused
/// (RFC 6749 §3.2).
pub fn parse_form(body: &str) -> Result<TokenRequest, OAuthError> {
    let mut req = TokenRequest::default();
    for pair in body.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(&s.replace('+', " "))
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|_| OAuthError::request("the form body is not valid UTF-8"))
        };
        let (k, v) = (decode(k)?, decode(v)?);
        let slot = match k.as_str() {
            "grant_type" => &mut req.grant_type,
            "scope" => &mut req.scope,
            "client_id" => &mut req.client_id,
            "client_secret" => &mut req.client_secret,
            "client_assertion_type" => &mut req.client_assertion_type,
            "client_assertion" => &mut req.client_assertion,
            "assertion" => &mut req.assertion,
            "code" => &mut req.code,
            "redirect_uri" => &mut req.redirect_uri,
            "code_verifier" => &mut req.code_verifier,
            "refresh_token" => &mut req.refresh_token,
            _ => continue,
        };
        if slot.is_some() {
            return Err(OAuthError::request(format!(
                "the parameter {k} is sent twice; RFC 6749 §3.2 allows each once"
            )));
        }
        *slot = Some(v);
    }
    Ok(req)
}

/// Decodes `Authorization: Basic` into (client_id, secret) (RFC 6749 §2.3.1: each part
/// form-urlencoded). `None` for another scheme.
pub fn parse_basic(header: Option<&str>) -> Result<Option<(String, String)>, OAuthError> {
    use base64::Engine;
    let Some((scheme, value)) = header.map(str::trim).and_then(|h| h.split_once(' ')) else {
        return Ok(None);
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    let bad = || {
        let mut e = OAuthError::client(
            "the Basic credentials are malformed: send base64(client_id \":\" client_secret)",
        );
        e.basic = true;
        e
    };
    let raw = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    let (id, secret) = text.split_once(':').ok_or_else(bad)?;
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8()
            .map(|c| c.into_owned())
            .map_err(|_| bad())
    };
    Ok(Some((decode(id)?, decode(secret)?)))
}

/// What the token endpoint needs besides the request.
pub struct Endpoint<'a> {
    pub store: &'a Store,
    pub jwks: &'a JwksCache,
    pub config: &'a OAuthConfig,
    pub slug: &'a str,
    pub origin: &'a str,
    /// The per-client limit (`limits.requests_per_second`), shared with the SCIM requests
    /// of the client's tokens.
    /// The limiter with `limits.requests_per_second` and `limits.requests_burst` in force.
    pub limiter: Option<(&'a super::rate_limit::RateLimiter, u32, u32)>,
}

/// A token issued to a client.
#[derive(Debug)]
pub struct Granted {
    pub client: ClientRow,
    pub access_token: String,
    pub expires_in: u64,
    /// Issued with an authorization code or a refresh token (RFC 6749 §5.1).
    pub refresh_token: Option<String>,
}

impl Granted {
    /// The RFC 6749 §5.1 body.
    pub fn body(&self) -> Value {
        let mut body = json!({
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "scope": SCOPE,
        });
        if let Some(r) = &self.refresh_token {
            body["refresh_token"] = json!(r);
        }
        body
    }
}

/// How the client proved who it is, checked before anything is written.
pub(super) enum Proof {
    Secret,
    /// A verified assertion whose `jti` is to be used up with the token's issue.
    Assertion {
        jti: String,
        expires: String,
    },
}

/// The client credentials grant: authenticates the client, checks grant and scope, issues a
/// token bound to the tenant.
pub async fn grant(
    ep: &Endpoint<'_>,
    basic: Option<(String, String)>,
    mut req: TokenRequest,
) -> Result<Granted, OAuthError> {
    let slug = ep.slug.to_owned();
    let tenant = ep
        .store
        .read(move |c| tenants::by_slug(c, &slug))
        .await
        .map_err(|e| server_error(&e))?;
    let Some(tenant) = tenant else {
        let mut e = OAuthError::new(
            404,
            "invalid_request",
            format!(
                "there is no tenant \"{}\" on this server; check the tenant in the token endpoint URL (tenants are listed by `scimd tenant list`)",
                ep.slug
            ),
        );
        e.tenant_known = false;
        return Err(e);
    };
    let bearer_grant = req.grant_type.as_deref() == Some(JWT_BEARER_GRANT);
    if bearer_grant {
        // The grant's JWT is the client's proof: signed by its key, iss = sub = client id.
        let Some(jwt) = req.assertion.take() else {
            return Err(OAuthError::request(format!(
                "grant_type {JWT_BEARER_GRANT} needs the signed JWT in the assertion parameter (RFC 7523 §2.1)"
            )));
        };
        if req.client_assertion.is_some() {
            return Err(OAuthError::request(
                "send the signed JWT once: as assertion (JWT bearer grant) or as client_assertion (client credentials), not both",
            ));
        }
        req.client_assertion = Some(jwt);
        req.client_assertion_type = Some(ASSERTION_TYPE.to_owned());
    }
    let (client, proof) = authenticate_client(ep, &tenant, basic, &req).await?;
    if let Some((limiter, per_second, burst)) = ep.limiter
        && let Err(wait) = limiter.check_with_burst(&client.id, per_second, burst, Instant::now())
    {
        let secs = super::rate_limit::retry_after_secs(wait);
        let mut e = OAuthError::new(
            429,
            "temporarily_unavailable",
            format!(
                "OAuth client \"{}\" sent more than limits.requests_per_second = {per_second} requests per second; retry after {secs} s, or raise the limit in scimd.toml",
                client.name
            ),
        )
        .of(&client);
        e.retry_after = Some(secs);
        return Err(e);
    }
    let code_client = !client.redirect_uris.is_empty();
    match req.grant_type.as_deref() {
        Some("client_credentials" | JWT_BEARER_GRANT) if code_client => {
            return Err(OAuthError::new(
                400,
                "unauthorized_client",
                format!(
                    "OAuth client \"{}\" has redirect URIs, so it gets tokens only through an admin's consent: grant_type=authorization_code, then refresh_token (register a client without redirect URIs for client credentials)",
                    client.name
                ),
            )
            .of(&client));
        }
        Some("client_credentials" | JWT_BEARER_GRANT) => {}
        Some(g @ ("authorization_code" | "refresh_token")) if !code_client => {
            return Err(OAuthError::new(
                400,
                "unauthorized_client",
                format!(
                    "grant_type {g} needs a client with a registered redirect URI; OAuth client \"{}\" has none (add one on the Tokens page or with `scimd oauth client add --redirect-uri`), or use grant_type=client_credentials",
                    client.name
                ),
            )
            .of(&client));
        }
        Some("authorization_code") => {
            return super::oauth_code::exchange_code(ep, client, proof, &req).await;
        }
        Some("refresh_token") => {
            return super::oauth_code::refresh(ep, client, proof, &req).await;
        }
        None => {
            return Err(OAuthError::request(
                "the grant_type parameter is missing; send grant_type=client_credentials",
            )
            .of(&client));
        }
        Some(other) => {
            return Err(OAuthError::new(
                400,
                "unsupported_grant_type",
                format!("grant_type \"{other}\" is not supported; this endpoint issues tokens by grant_type=client_credentials, authorization_code or refresh_token"),
            )
            .of(&client));
        }
    }
    if let Err(e) = only_the_scim_scope(req.scope.as_deref(), "is not offered") {
        return Err(e.of(&client));
    }
    issue(ep, client, proof).await
}

async fn issue(ep: &Endpoint<'_>, client: ClientRow, proof: Proof) -> Result<Granted, OAuthError> {
    let now = clock::now();
    let lifetime = ep.config.access_token_lifetime_secs;
    let access_token = format!("{ACCESS_PREFIX}{}", random_hex(SECRET_BYTES));
    let hash = hash_secret(&access_token);
    let issued = clock::timestamp(now);
    let expires = clock::timestamp(now + time::Duration::seconds(lifetime.cast_signed()));
    let forget = clock::timestamp(now - EXPIRED_KEPT);
    let keep = ep.config.max_tokens_per_client;
    let (id, tenant_id) = (client.id.clone(), client.tenant_id);
    let stored = ep
        .store
        .write_or_rollback(move |tx| {
            if let Proof::Assertion {
                jti,
                expires: until,
            } = &proof
                && !rows::use_jti(tx, (tenant_id, &id), jti, until, &issued)?
            {
                return Ok(Err(jti.clone()));
            }
            rows::insert_token(
                tx,
                &hash,
                (tenant_id, &id, None),
                (&issued, &expires),
                keep,
                &forget,
            )?;
            Ok(Ok(()))
        })
        .await
        .map_err(|e| server_error(&e))?;
    if let Err(jti) = stored {
        return Err(OAuthError::client(format!(
            "the client assertion was replayed: its jti \"{jti}\" was already used. RFC 7523 accepts each assertion once; the client must sign a new assertion, with a new jti, for every token request"
        ))
        .of(&client));
    }
    Ok(Granted {
        client,
        access_token,
        expires_in: lifetime,
        refresh_token: None,
    })
}

pub(super) fn server_error(e: &StoreError) -> OAuthError {
    tracing::error!("token endpoint store failure: {e}");
    OAuthError::new(500, "server_error", "the database failed; try again")
}

/// RFC 6749 §2.3: exactly one client authentication method.
async fn authenticate_client(
    ep: &Endpoint<'_>,
    tenant: &Tenant,
    basic: Option<(String, String)>,
    req: &TokenRequest,
) -> Result<(ClientRow, Proof), OAuthError> {
    let methods = usize::from(basic.is_some())
        + usize::from(req.client_secret.is_some())
        + usize::from(req.client_assertion.is_some());
    if methods > 1 {
        return Err(OAuthError::request(
            "the request authenticates the client more than one way (Basic, client_secret, client_assertion); RFC 6749 §2.3 allows one",
        ));
    }
    if let Some(assertion) = &req.client_assertion {
        return assertion_client(ep, tenant, req, assertion).await;
    }
    let is_basic = basic.is_some();
    let (client_id, secret) = match basic {
        Some(pair) => pair,
        None => match (&req.client_id, &req.client_secret) {
            (Some(id), Some(s)) => (id.clone(), s.clone()),
            (Some(_), None) => {
                return Err(OAuthError::client(
                    "the request names a client_id but carries no credential: send the client secret (Basic or client_secret) or a client_assertion",
                ));
            }
            _ => {
                return Err(OAuthError::client(
                    "the request carries no client authentication: send the client id and secret with HTTP Basic (client_secret_basic) or as client_id and client_secret (client_secret_post), or a client_assertion (private_key_jwt)",
                ));
            }
        },
    };
    let mark = |mut e: OAuthError| {
        e.basic = is_basic;
        e
    };
    let client = known_client(ep, tenant, &client_id).await.map_err(mark)?;
    if client.method != Method::ClientSecret {
        return Err(mark(OAuthError::client(format!(
            "OAuth client \"{}\" authenticates with private_key_jwt, not a secret: send a signed client_assertion",
            client.name
        ))
        .of(&client)));
    }
    if super::settings::requires_private_key_jwt(tenant) {
        return Err(mark(OAuthError::client(format!(
            "tenant \"{}\" takes no client secrets (tenant setting require_private_key_jwt = true): register a client with a key instead of OAuth client \"{}\" (`scimd oauth client add --method private-key-jwt --jwks-uri URL` or `--public-key FILE`) and send a signed client_assertion, or set require_private_key_jwt = false",
            tenant.slug, client.name
        ))
        .of(&client)));
    }
    let hash = hash_secret(&secret);
    let now = clock::timestamp(clock::now());
    let current = client
        .secret_hash
        .as_ref()
        .is_some_and(|h| bool::from(h.ct_eq(&hash)));
    let previous = client
        .previous_hash
        .as_ref()
        .is_some_and(|h| bool::from(h.ct_eq(&hash)));
    if current
        || (previous
            && client
                .previous_until
                .as_deref()
                .is_some_and(|u| u > now.as_str()))
    {
        return Ok((client, Proof::Secret));
    }
    let detail = if previous {
        format!(
            "the secret of OAuth client \"{}\" was rotated on {} and the previous secret stopped working on {}; put the new secret in the IdP",
            client.name,
            client.rotated.as_deref().unwrap_or("?"),
            client.previous_until.as_deref().unwrap_or("?")
        )
    } else {
        format!(
            "the client secret is wrong for OAuth client \"{}\"; copy the secret shown when the client was created or rotated (`scimd oauth client rotate {}`)",
            client.name, client.name
        )
    };
    Err(mark(OAuthError::client(detail).of(&client)))
}

/// The client with this `client_id`, usable on this tenant.
async fn known_client(
    ep: &Endpoint<'_>,
    tenant: &Tenant,
    client_id: &str,
) -> Result<ClientRow, OAuthError> {
    let wanted = client_id.to_owned();
    let found = ep
        .store
        .read(move |c| {
            let client = rows::by_client_id(c, &wanted)?;
            let home = match &client {
                Some(cl) => Some(tenants::by_id(c, cl.tenant_id)?),
                None => None,
            };
            Ok(client.zip(home))
        })
        .await
        .map_err(|e| server_error(&e))?;
    let Some((client, home)) = found else {
        return Err(OAuthError::client(format!(
            "client_id \"{}\" is not known to this server; register the client with `scimd oauth client add --tenant {} --name <idp>` and copy its client id",
            client_id.chars().take(64).collect::<String>(),
            tenant.slug
        )));
    };
    if let Some(at) = &client.revoked {
        return Err(OAuthError::client(format!(
            "OAuth client \"{}\" was revoked on {at}; register a new client and update the IdP",
            client.name
        ))
        .of(&client));
    }
    if client.tenant_id != tenant.id {
        return Err(OAuthError::client(format!(
            "OAuth client \"{}\" belongs to tenant \"{}\", not \"{}\"; use its tenant's token endpoint {}",
            client.name,
            home.slug,
            tenant.slug,
            token_endpoint(ep.origin, &home.slug)
        ))
        .of(&client));
    }
    Ok(client)
}

/// RFC 7523 §3: the assertion's signature, issuer, subject, audience, expiry and `jti`.
async fn assertion_client(
    ep: &Endpoint<'_>,
    tenant: &Tenant,
    req: &TokenRequest,
    assertion: &str,
) -> Result<(ClientRow, Proof), OAuthError> {
    if req.client_assertion_type.as_deref() != Some(ASSERTION_TYPE) {
        return Err(OAuthError::client(format!(
            "client_assertion_type must be \"{ASSERTION_TYPE}\" (RFC 7523 §2.2)"
        )));
    }
    let header = jsonwebtoken::decode_header(assertion).map_err(|e| {
        OAuthError::client(format!(
            "the client_assertion is not a signed JWT ({e}); send a JWT signed with the client's private key"
        ))
    })?;
    let claims = peek_claims(assertion)?;
    let iss = claims.get("iss").and_then(Value::as_str);
    let client_id = match (&req.client_id, iss) {
        (Some(id), Some(iss)) if id != iss => {
            return Err(OAuthError::client(format!(
                "the assertion's iss \"{iss}\" differs from client_id \"{id}\"; both must be the client id"
            )));
        }
        (_, Some(iss)) => iss.to_owned(),
        (Some(id), None) => id.clone(),
        (None, None) => {
            return Err(OAuthError::client(
                "the assertion has no iss claim; iss and sub must be the client id (RFC 7523 §3)",
            ));
        }
    };
    let client = known_client(ep, tenant, &client_id).await?;
    if client.method != Method::PrivateKeyJwt {
        return Err(OAuthError::client(format!(
            "OAuth client \"{}\" authenticates with a client secret, not private_key_jwt",
            client.name
        ))
        .of(&client));
    }
    if !ALGORITHMS.contains(&header.alg) {
        return Err(OAuthError::client(format!(
            "the assertion is signed with {:?}; accepted are RS256, PS256, ES256 (and RS384/512, PS384/512, ES384)",
            header.alg
        ))
        .of(&client));
    }
    let claims = verify(ep, &client, assertion, &header, &claims)
        .await
        .map_err(|e| e.of(&client))?;
    let Some(jti) = claims
        .get("jti")
        .and_then(Value::as_str)
        .filter(|j| !j.is_empty())
    else {
        return Err(OAuthError::client(
            "the assertion has no jti; scimd requires a unique jti in every assertion so that none can be replayed (RFC 7523 §3)",
        )
        .of(&client));
    };
    let now = clock::now().unix_timestamp();
    let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(now);
    let max = ep.config.max_assertion_lifetime_secs.cast_signed();
    let leeway = LEEWAY_SECS.cast_signed();
    let span = match claims.get("iat").and_then(Value::as_i64) {
        Some(iat) => exp - iat.min(now),
        None => exp - now,
    };
    if span > max + leeway {
        return Err(OAuthError::client(format!(
            "the assertion is valid for {span} s; scimd accepts at most oauth.max_assertion_lifetime_secs = {max} s: sign assertions that expire within {max} s"
        ))
        .of(&client));
    }
    let until = OffsetDateTime::from_unix_timestamp(exp + leeway)
        .map(clock::timestamp)
        .map_err(|_| OAuthError::client("the assertion's exp is out of range").of(&client))?;
    Ok((
        client,
        Proof::Assertion {
            jti: jti.chars().take(256).collect(),
            expires: until,
        },
    ))
}

/// The claims of an assertion before its signature is checked: only to find the client.
fn peek_claims(assertion: &str) -> Result<serde_json::Map<String, Value>, OAuthError> {
    let mut v = Validation::default();
    v.insecure_disable_signature_validation();
    v.validate_exp = false;
    v.validate_aud = false;
    v.required_spec_claims.clear();
    jsonwebtoken::decode::<serde_json::Map<String, Value>>(
        assertion,
        &DecodingKey::from_secret(&[]),
        &v,
    )
    .map(|d| d.claims)
    .map_err(|e| {
        OAuthError::client(format!(
            "the client_assertion's claims are unreadable ({e})"
        ))
    })
}

/// Verifies the assertion with the client's keys (registered, or from its JWKS URL).
async fn verify(
    ep: &Endpoint<'_>,
    client: &ClientRow,
    assertion: &str,
    header: &jsonwebtoken::Header,
    peeked: &serde_json::Map<String, Value>,
) -> Result<serde_json::Map<String, Value>, OAuthError> {
    let (text, from_url) = match (&client.public_keys, &client.jwks_uri) {
        (Some(k), _) => (k.clone(), false),
        (None, Some(url)) => (
            ep.jwks
                .get(url, ep.config, false)
                .await
                .map_err(OAuthError::client)?,
            true,
        ),
        (None, None) => {
            return Err(OAuthError::client(format!(
                "OAuth client \"{}\" has no public key registered; rotate it with --public-key or --jwks-uri",
                client.name
            )));
        }
    };
    match check_signature(ep, client, assertion, header, peeked, &text) {
        // A kid not (yet) in a cached JWKS: the client may have rotated keys; fetch once more.
        Err(e)
            if from_url && e.error == "invalid_client" && e.description.starts_with("no key") =>
        {
            let url = client.jwks_uri.clone().unwrap_or_default();
            let text = ep
                .jwks
                .get(&url, ep.config, true)
                .await
                .map_err(OAuthError::client)?;
            check_signature(ep, client, assertion, header, peeked, &text)
        }
        other => other,
    }
}

fn check_signature(
    ep: &Endpoint<'_>,
    client: &ClientRow,
    assertion: &str,
    header: &jsonwebtoken::Header,
    peeked: &serde_json::Map<String, Value>,
    keys: &str,
) -> Result<serde_json::Map<String, Value>, OAuthError> {
    let keys = parse_keys(keys).map_err(|e| {
        OAuthError::client(format!(
            "the public keys of OAuth client \"{}\" are unusable: {e}",
            client.name
        ))
    })?;
    let candidates: Vec<&Key> = keys
        .iter()
        .filter(|k| k.rsa == is_rsa(header.alg))
        .filter(|k| match (&header.kid, &k.kid) {
            (Some(want), Some(have)) => want == have,
            _ => true,
        })
        .collect();
    if candidates.is_empty() {
        return Err(OAuthError::client(format!(
            "no key of OAuth client \"{}\" fits the assertion (alg {:?}{}); register the public key that signs it",
            client.name,
            header.alg,
            header
                .kid
                .as_deref()
                .map_or_else(String::new, |k| format!(", kid \"{k}\""))
        )));
    }
    let token_url = token_endpoint(ep.origin, ep.slug);
    let issuer = issuer(ep.origin, ep.slug);
    let mut v = Validation::new(header.alg);
    v.set_audience(&[token_url.as_str(), issuer.as_str()]);
    v.set_issuer(&[client.client_id.as_str()]);
    v.sub = Some(client.client_id.clone());
    v.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
    v.leeway = LEEWAY_SECS;
    v.validate_nbf = true;
    for key in candidates {
        match jsonwebtoken::decode::<serde_json::Map<String, Value>>(assertion, &key.key, &v) {
            Ok(d) => return Ok(d.claims),
            Err(e) if matches!(e.kind(), jsonwebtoken::errors::ErrorKind::InvalidSignature) => {}
            Err(e) => return Err(claim_error(&e, peeked, &token_url, &client.client_id)),
        }
    }
    Err(OAuthError::client(format!(
        "the assertion's signature does not verify with any public key of OAuth client \"{}\"; register the key that signs it (or its JWKS URL)",
        client.name
    )))
}

/// The description of a refused claim, naming what was sent and what is expected.
fn claim_error(
    e: &jsonwebtoken::errors::Error,
    peeked: &serde_json::Map<String, Value>,
    token_url: &str,
    client_id: &str,
) -> OAuthError {
    use jsonwebtoken::errors::ErrorKind as K;
    let shown = |claim: &str| {
        peeked.get(claim).map_or_else(
            || "(none)".to_owned(),
            |v| v.to_string().chars().take(200).collect(),
        )
    };
    let d = match e.kind() {
        K::InvalidAudience => format!(
            "wrong audience: the assertion's aud is {} but must be this token endpoint, \"{token_url}\" (RFC 7523 §3): configure the client with this tenant's token endpoint URL",
            shown("aud")
        ),
        K::ExpiredSignature => format!(
            "the assertion expired (exp {}); sign a fresh assertion for each token request",
            shown("exp")
        ),
        K::ImmatureSignature => {
            "the assertion is not valid yet (nbf in the future); check the client's clock"
                .to_owned()
        }
        K::InvalidIssuer => format!(
            "the assertion's iss is {} but must be the client id \"{client_id}\"",
            shown("iss")
        ),
        K::InvalidSubject => format!(
            "the assertion's sub is {} but must be the client id \"{client_id}\" (RFC 7523 §3)",
            shown("sub")
        ),
        K::MissingRequiredClaim(c) => format!(
            "the assertion has no {c} claim; iss, sub, aud, exp and jti are required (RFC 7523 §3)"
        ),
        other => format!("the assertion is refused: {other:?}"),
    };
    OAuthError::client(d)
}

// ---- access tokens on SCIM requests ----

/// What checking an access token reads from the store.
#[derive(Debug, Clone)]
struct Lookup {
    access: Option<AccessRow>,
    tenant: Option<Tenant>,
    client_tenant: Option<Tenant>,
    schemas: std::sync::Arc<crate::scim::schema::Registry>,
    strict: bool,
}

/// Recent lookups of known access tokens, used while no credential changed (a revoked
/// client bumps the stamp), like the SCIM token cache.
#[derive(Default)]
pub struct AccessCache {
    entries: super::tokens::StampedCache<Lookup>,
    /// External issuers' JWK Sets and the `[oauth]` settings (`service::oauth_external`).
    pub(super) external: super::oauth_external::External,
}

impl AccessCache {
    pub(super) fn with_oauth(config: OAuthConfig) -> Self {
        Self {
            external: super::oauth_external::External::new(config),
            ..Self::default()
        }
    }

    pub(super) fn external(&self) -> &super::oauth_external::External {
        &self.external
    }

    async fn lookup(&self, store: &Store, slug: &str, hash: Vec<u8>) -> Result<Lookup, ScimError> {
        let read = |c: &rusqlite::Connection, slug: &str, hash: &[u8]| {
            let tenant = tenants::by_slug(c, slug)?;
            let access = rows::token_by_hash(c, hash)?;
            let client_tenant = match &access {
                Some(a) => Some(tenants::by_id(c, a.client.tenant_id)?),
                None => None,
            };
            let (schemas, strict) = super::tokens::tenant_schemas(tenant.as_ref());
            Ok(Lookup {
                access,
                tenant,
                client_tenant,
                schemas,
                strict,
            })
        };
        let known = |l: &Lookup| l.access.is_some() && l.tenant.is_some();
        self.entries
            .get_or_read(store, slug, &hash, read, known)
            .await
    }
}

/// Checks an OAuth access token presented on a SCIM request for the tenant at `slug`. Each
/// failure is a 401 naming its cause: unknown, expired, its client revoked, another tenant's.
pub async fn authenticate_access(
    store: &Store,
    cache: &AccessCache,
    slug: &str,
    credential: &str,
    origin: &str,
) -> Result<Caller, Rejected> {
    let unauthorized = |d: String| ScimError::new(401, d);
    let hex_part = credential.strip_prefix(ACCESS_PREFIX).unwrap_or_default();
    if hex_part.len() != SECRET_BYTES * 2 || !hex_part.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Rejected::from(unauthorized(format!(
            "the OAuth access token is malformed: scimd access tokens are \"{ACCESS_PREFIX}\" followed by {} hex characters; send the access_token of the token response whole",
            SECRET_BYTES * 2
        ))));
    }
    let hash = hash_secret(credential);
    let lookup = cache.lookup(store, slug, hash).await?;
    let named = |a: &AccessRow| Some((a.client.id.clone(), a.client.name.clone()));
    let Some(tenant) = lookup.tenant else {
        return Err(Rejected {
            error: super::tokens::unknown_tenant(slug),
            token: lookup.access.as_ref().and_then(named),
            tenant_known: false,
        });
    };
    let Some(access) = lookup.access else {
        return Err(Rejected {
            error: unauthorized(format!(
                "the OAuth access token is not known to this server: it expired more than a day ago, or was issued by another scimd. Have the client request a new one at {}",
                token_endpoint(origin, &tenant.slug)
            )),
            token: None,
            tenant_known: true,
        });
    };
    let client = &access.client;
    let refuse = |d: String| Rejected {
        error: unauthorized(d),
        token: named(&access),
        tenant_known: true,
    };
    if let Some(at) = &client.revoked {
        return Err(refuse(format!(
            "OAuth client \"{}\" was revoked on {at}, which ended its access tokens; register a new client (`scimd oauth client add`) and update the IdP",
            client.name
        )));
    }
    if let Some((at, why)) = &access.grant_revoked {
        return Err(refuse(format!(
            "the OAuth access token of client \"{}\" was revoked on {at} with its authorization ({why}); an admin must authenticate the IdP again (Okta: \"Authenticate with …\" on the provisioning page)",
            client.name
        )));
    }
    if clock::reached(&access.expires, clock::now()) {
        return Err(refuse(format!(
            "the OAuth access token of client \"{}\" expired on {} (issued {}; tokens live oauth.access_token_lifetime_secs); the client must request a new token at {}",
            client.name,
            access.expires,
            access.issued,
            token_endpoint(origin, &tenant.slug)
        )));
    }
    if client.tenant_id != tenant.id {
        let home = lookup
            .client_tenant
            .map_or_else(|| "another tenant".to_owned(), |t| t.slug);
        return Err(refuse(format!(
            "the OAuth access token was issued to client \"{}\" of tenant \"{home}\", not \"{}\"; point the IdP at {} or register a client of tenant \"{}\" and use its token endpoint {}",
            client.name,
            tenant.slug,
            super::tokens::scim_base(origin, &home),
            tenant.slug,
            token_endpoint(origin, &tenant.slug)
        )));
    }
    Ok(Caller {
        token: TokenRow {
            id: client.id.clone(),
            tenant_id: client.tenant_id,
            name: client.name.clone(),
            prefix: client.client_id.clone(),
            secret_hash: Vec::new(),
            read_only: false,
            kind: TokenKind::Scim,
            created: access.issued.clone(),
            expires: Some(access.expires.clone()),
            revoked: None,
            rotated: None,
            replaced_by: None,
            overlap_until: None,
            last_used: None,
            last_used_ip: None,
            // An OAuth client has no address list of its own (yet): its credential is the
            // short-lived token, and the client's secret or key is what is guarded.
            allowed_addresses: Vec::new(),
            last_used_agent: None,
        },
        tenant,
        schemas: lookup.schemas,
        strict: lookup.strict,
    })
}

/// `invalid_scope` unless `scope` (space-separated) asks for nothing but [`SCOPE`]; `why` says
/// what is wrong with another one ("is not offered", "was not granted").
pub(super) fn only_the_scim_scope(scope: Option<&str>, why: &str) -> Result<(), OAuthError> {
    match scope {
        Some(scope) if scope.split(' ').any(|s| !s.is_empty() && s != SCOPE) => {
            Err(OAuthError::new(
                400,
                "invalid_scope",
                format!(
                    "scope \"{scope}\" {why}; the only scope is \"{SCOPE}\" (or leave scope out)"
                ),
            ))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_decode_and_refuse_repeats() {
        let r = parse_form(
            "grant_type=client_credentials&scope=scim&client_id=a%2Bb&client_secret=x+y",
        )
        .expect("form");
        assert_eq!(r.grant_type.as_deref(), Some("client_credentials"));
        assert_eq!(r.client_id.as_deref(), Some("a+b"));
        assert_eq!(r.client_secret.as_deref(), Some("x y"));
        let e = parse_form("scope=a&scope=b").expect_err("repeat");
        assert_eq!(e.error, "invalid_request");
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        use base64::Engine;
        let v = base64::engine::general_purpose::STANDARD.encode("my%3Aid:s%26cret");
        let (id, secret) = parse_basic(Some(&format!("Basic {v}")))
            .expect("parse")
            .expect("basic");
        assert_eq!((id.as_str(), secret.as_str()), ("my:id", "s&cret"));
        assert!(parse_basic(Some("Bearer x")).expect("other").is_none());
        assert!(parse_basic(Some("Basic !!!")).expect_err("bad").basic);
    }

    #[test]
    fn the_issuer_of_a_tenant_has_a_path_and_its_metadata_url_follows_rfc_8414() {
        let o = "https://scim.example.com";
        assert_eq!(issuer(o, "default"), "https://scim.example.com/oauth");
        assert_eq!(
            token_endpoint(o, "acme"),
            "https://scim.example.com/t/acme/oauth/token"
        );
        assert_eq!(
            metadata_url(o, "acme"),
            "https://scim.example.com/.well-known/oauth-authorization-server/t/acme/oauth"
        );
    }

    #[test]
    fn private_and_symmetric_keys_are_refused() {
        let oct = r#"{"kty":"oct","k":"c2VjcmV0"}"#;
        assert!(parse_keys(oct).is_err());
        assert!(parse_keys("-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----").is_err());
        assert!(parse_keys("not a key").is_err());
    }
}
