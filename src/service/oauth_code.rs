//! The OAuth 2.0 authorization code grant (RFC 6749 §4.1), which Okta's "OAuth 2"
//! provisioning mode uses: redirect URIs registered per client, the checks of an
//! authorization request, the code a signed-in admin's consent mints (stored hashed, single
//! use, short-lived, bound to client, redirect URI, tenant and PKCE challenge), its exchange at
//! the token endpoint, and refresh tokens rotated on every use. A code or refresh token
//! presented twice revokes everything issued from that consent (RFC 6749 §4.1.2, RFC 9700
//! §4.14.2). HTTP is `http::oauth` (authorize) and `http::admin_oauth` (consent).

use std::collections::HashMap;

use base64::Engine;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::OpError;
use super::oauth::{
    self, Endpoint, Granted, OAuthError, Proof, SCOPE, SECRET_BYTES, TokenRequest, random_hex,
    server_error,
};
use super::tokens::hash_secret;
use crate::clock;
use crate::config::OAuthConfig;
use crate::store::oauth::{self as rows, ClientRow, CodeRow};
use crate::store::tenants::{self, Tenant};
use crate::store::{Store, StoreError};

/// Every authorization code starts with this.
pub const CODE_PREFIX: &str = "scimac_";
/// Every refresh token starts with this.
pub const REFRESH_PREFIX: &str = "scimrt_";
const MAX_REDIRECT_URI_BYTES: usize = 2000;
/// Used codes and long-expired ones are remembered this long, so that a second exchange is
/// recognised as a reuse (and revokes its grant) rather than answered "unknown".
const USED_KEPT: time::Duration = time::Duration::days(1);

// ---- redirect URIs ----

/// Checks and normalises a client's redirect URIs: absolute, no fragment (RFC 6749 §3.1.2),
/// https, or http on a loopback host for testing; duplicates dropped.
pub fn check_redirect_uris(uris: &[String], max: usize) -> Result<Vec<String>, OpError> {
    let mut out: Vec<String> = Vec::new();
    for u in uris.iter().map(|u| u.trim()).filter(|u| !u.is_empty()) {
        check_redirect_uri(u).map_err(|e| OpError::Invalid(format!("redirect_uri: {e}")))?;
        if !out.iter().any(|o| o == u) {
            out.push(u.to_owned());
        }
    }
    if out.len() > max {
        return Err(OpError::Invalid(format!(
            "redirect_uri: a client takes at most oauth.max_redirect_uris = {max} redirect URIs; {} were given (raise the limit in scimd.toml, or register fewer)",
            out.len()
        )));
    }
    Ok(out)
}

fn check_redirect_uri(u: &str) -> Result<(), String> {
    if u.len() > MAX_REDIRECT_URI_BYTES {
        return Err(format!(
            "a redirect URI is at most {MAX_REDIRECT_URI_BYTES} bytes"
        ));
    }
    if u.contains(['<', '>', '{', '}']) {
        return Err(format!(
            "\"{u}\" still holds a placeholder; put in your own values (Okta: your org's name and the app's name from the address bar)"
        ));
    }
    let parsed = url::Url::parse(u).map_err(|e| format!("\"{u}\" is not an absolute URL ({e})"))?;
    if parsed.fragment().is_some() {
        return Err(format!(
            "\"{u}\" has a fragment (#…), which RFC 6749 §3.1.2 forbids in a redirect URI"
        ));
    }
    let loopback = matches!(parsed.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    match parsed.scheme() {
        "https" if parsed.host_str().is_some() => Ok(()),
        "http" if loopback => Ok(()),
        "http" => Err(format!(
            "\"{u}\" is plain http; redirect URIs must be https (http only on localhost or 127.0.0.1, for testing)"
        )),
        other => Err(format!(
            "\"{u}\" has the scheme {other}; redirect URIs must be https"
        )),
    }
}

/// Replaces the redirect URIs of a client (an empty list makes it a client credentials
/// client again).
pub fn set_redirect_uris(
    store: &Store,
    cfg: &OAuthConfig,
    (slug, wanted): (Option<&str>, &str),
    uris: &[String],
) -> Result<ClientRow, OpError> {
    let uris = check_redirect_uris(uris, cfg.max_redirect_uris)?;
    let (slug, wanted) = (slug.map(str::to_owned), wanted.to_owned());
    store
        .write_blocking(move |tx| {
            let row = match oauth::live_client(tx, slug.as_deref(), &wanted)? {
                Ok(r) => r,
                Err(e) => return Ok(Err(e)),
            };
            rows::set_redirect_uris(tx, &row.id, &uris)?;
            Ok(Ok(ClientRow {
                redirect_uris: uris,
                ..row
            }))
        })
        .map_err(|e| oauth::internal(&e))?
}

// ---- the authorization request ----

/// Parses a query string; the first repeated parameter's name is returned beside it
/// (RFC 6749 §3.1: each parameter at most once).
fn parse_query(query: &str) -> (HashMap<String, String>, Option<String>) {
    let mut map = HashMap::new();
    let mut repeated = None;
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        if map.contains_key(k.as_ref()) {
            repeated.get_or_insert_with(|| k.clone().into_owned());
        } else {
            map.insert(k.into_owned(), v.into_owned());
        }
    }
    (map, repeated)
}

/// An authorization request whose client and redirect URI were checked.
#[derive(Debug, Clone)]
pub struct Authorization {
    pub tenant: Tenant,
    pub client: ClientRow,
    /// As the request sent it (`None`: left out, the client has one registered URI).
    pub redirect_uri: Option<String>,
    /// Where the answer goes.
    pub redirect_to: String,
    pub state: Option<String>,
    pub scope: String,
    /// RFC 7636 S256 challenge.
    pub code_challenge: Option<String>,
    /// RFC 9207 `iss` of the answer: this tenant's issuer.
    pub issuer: String,
}

/// Why an authorization request is refused.
#[derive(Debug, Clone)]
pub enum Refusal {
    /// The client or its redirect URI is not established: shown to the person, never
    /// redirected (RFC 6749 §4.1.2.1), so scimd cannot be made an open redirector.
    Page { status: u16, detail: String },
    /// Sent back to the client's redirect URI as `error=…` (RFC 6749 §4.1.2.1).
    Redirect {
        url: String,
        error: &'static str,
        detail: String,
    },
}

impl Refusal {
    fn page(status: u16, detail: impl Into<String>) -> Self {
        Self::Page {
            status,
            detail: detail.into(),
        }
    }

    /// The sentence a person reads.
    pub fn detail(&self) -> &str {
        match self {
            Self::Page { detail, .. } | Self::Redirect { detail, .. } => detail,
        }
    }
}

/// `base` with `pairs` added to its query (a registered URI may have a query of its own).
fn with_query(base: &str, pairs: &[(&str, Option<&str>)]) -> String {
    match url::Url::parse(base) {
        Ok(mut u) => {
            {
                let mut q = u.query_pairs_mut();
                for (k, v) in pairs {
                    if let Some(v) = v {
                        q.append_pair(k, v);
                    }
                }
            }
            u.into()
        }
        Err(_) => base.to_owned(),
    }
}

impl Authorization {
    /// The redirect carrying an error (RFC 6749 §4.1.2.1) and the request's `state`.
    pub fn error_redirect(&self, error: &'static str, detail: &str) -> String {
        with_query(
            &self.redirect_to,
            &[
                ("error", Some(error)),
                ("error_description", Some(detail)),
                ("state", self.state.as_deref()),
                ("iss", Some(&self.issuer)),
            ],
        )
    }

    fn refuse(&self, error: &'static str, detail: String) -> Refusal {
        Refusal::Redirect {
            url: self.error_redirect(error, &detail),
            error,
            detail,
        }
    }

    /// The UI's consent page for this request, under `ui_base` (the admin listener's URL
    /// when `[admin]` splits it off; empty: this server's own origin).
    pub fn consent_url(&self, ui_base: &str) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        q.append_pair("tenant", &self.tenant.slug);
        q.append_pair("client_id", &self.client.client_id);
        if let Some(r) = &self.redirect_uri {
            q.append_pair("redirect_uri", r);
        }
        q.append_pair("response_type", "code");
        q.append_pair("scope", &self.scope);
        if let Some(s) = &self.state {
            q.append_pair("state", s);
        }
        if let Some(c) = &self.code_challenge {
            q.append_pair("code_challenge", c);
            q.append_pair("code_challenge_method", "S256");
        }
        format!("{ui_base}/ui/consent?{}", q.finish())
    }
}

/// RFC 7636 §4.1: 43 to 128 characters of the unreserved set.
fn pkce_shaped(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Checks an authorization request (RFC 6749 §4.1.1, RFC 7636 §4.3) of the tenant `slug`.
/// The client and its redirect URI are checked first; until both hold, every refusal is a
/// page, never a redirect.
pub async fn check(
    store: &Store,
    origin: &str,
    slug: &str,
    query: &str,
) -> Result<Authorization, Refusal> {
    let (params, repeated) = parse_query(query);
    let get = |k: &str| params.get(k).map(String::as_str).filter(|v| !v.is_empty());
    if let Some(k) = repeated
        .as_deref()
        .filter(|k| *k == "client_id" || *k == "redirect_uri")
    {
        return Err(Refusal::page(
            400,
            format!(
                "the authorization request sends {k} twice; RFC 6749 §3.1 allows each parameter once"
            ),
        ));
    }
    let Some(client_id) = get("client_id").map(str::to_owned) else {
        return Err(Refusal::page(
            400,
            "the authorization request has no client_id; the IdP must send the client id registered in scimd (Tokens page, OAuth clients)",
        ));
    };
    let (lookup, wanted) = (slug.to_owned(), client_id.clone());
    let found = store
        .read(move |c| {
            let tenant = tenants::by_slug(c, &lookup)?;
            let client = rows::by_client_id(c, &wanted)?;
            let home = match &client {
                Some(cl) => Some(tenants::by_id(c, cl.tenant_id)?),
                None => None,
            };
            Ok((tenant, client, home))
        })
        .await
        .map_err(|e| {
            tracing::error!("authorization request: store failure: {e}");
            Refusal::page(500, "the database failed; try again")
        })?;
    let (Some(tenant), client, home) = found else {
        return Err(Refusal::page(
            404,
            format!(
                "there is no tenant \"{slug}\" on this server; check the tenant in the authorization endpoint URL"
            ),
        ));
    };
    let shown: String = client_id.chars().take(64).collect();
    let Some(client) = client else {
        return Err(Refusal::page(
            400,
            format!(
                "client_id \"{shown}\" is not known to this server; register the client (`scimd oauth client add --tenant {slug} --name okta --redirect-uri URL`) and copy its client id into the IdP"
            ),
        ));
    };
    if let Some(at) = &client.revoked {
        return Err(Refusal::page(
            400,
            format!(
                "OAuth client \"{}\" was revoked on {at}; register a new client and update the IdP",
                client.name
            ),
        ));
    }
    if client.tenant_id != tenant.id {
        let home = home.map_or_else(|| "another tenant".to_owned(), |t| t.slug);
        return Err(Refusal::page(
            400,
            format!(
                "OAuth client \"{}\" belongs to tenant \"{home}\", not \"{slug}\"; use its tenant's authorization endpoint {}",
                client.name,
                oauth::authorization_endpoint(origin, &home)
            ),
        ));
    }
    let redirect_uri = get("redirect_uri").map(str::to_owned);
    let redirect_to = match (&redirect_uri, client.redirect_uris.as_slice()) {
        (_, []) => {
            return Err(Refusal::page(
                400,
                format!(
                    "OAuth client \"{}\" has no redirect URI, so it is a client credentials client; register the IdP's redirect URI for it (Tokens page, or `scimd oauth client redirect-uris {} --redirect-uri URL`)",
                    client.name, client.name
                ),
            ));
        }
        (Some(r), registered) if registered.iter().any(|u| u == r) => r.clone(),
        (Some(r), _) => {
            let r: String = r.chars().take(MAX_REDIRECT_URI_BYTES).collect();
            return Err(Refusal::page(
                400,
                format!(
                    "redirect_uri \"{r}\" is not registered for OAuth client \"{}\" (redirect URIs are compared exactly, RFC 6749 §3.1.2); if that is your IdP's callback, register it: Tokens page, or `scimd oauth client redirect-uris {} --redirect-uri '{r}'`",
                    client.name, client.name
                ),
            ));
        }
        (None, [only]) => only.clone(),
        (None, _) => {
            return Err(Refusal::page(
                400,
                format!(
                    "the authorization request has no redirect_uri and OAuth client \"{}\" has several registered; the IdP must send one of them",
                    client.name
                ),
            ));
        }
    };
    let auth = Authorization {
        issuer: oauth::issuer(origin, &tenant.slug),
        tenant,
        client,
        redirect_uri,
        redirect_to,
        state: params.get("state").cloned(),
        scope: SCOPE.to_owned(),
        code_challenge: None,
    };
    if let Some(k) = repeated {
        return Err(auth.refuse(
            "invalid_request",
            format!("the authorization request sends {k} twice; RFC 6749 §3.1 allows each parameter once"),
        ));
    }
    match get("response_type") {
        Some("code") => {}
        None => {
            return Err(auth.refuse(
                "invalid_request",
                "the authorization request has no response_type; send response_type=code".into(),
            ));
        }
        Some(other) => {
            let other: String = other.chars().take(64).collect();
            return Err(auth.refuse(
                "unsupported_response_type",
                format!("response_type \"{other}\" is not offered; scimd issues authorization codes only (response_type=code)"),
            ));
        }
    }
    if let Some(scope) = get("scope")
        && scope.split(' ').any(|s| !s.is_empty() && s != SCOPE)
    {
        let scope: String = scope.chars().take(200).collect();
        return Err(auth.refuse(
            "invalid_scope",
            format!("scope \"{scope}\" is not offered; the only scope is \"{SCOPE}\" (or leave scope out)"),
        ));
    }
    let code_challenge = match (get("code_challenge"), get("code_challenge_method")) {
        (None, None) => None,
        (Some(c), Some("S256")) => {
            if !pkce_shaped(c) {
                return Err(auth.refuse(
                    "invalid_request",
                    "code_challenge is not 43 to 128 characters of A-Z a-z 0-9 - . _ ~ (RFC 7636 §4.2: BASE64URL(SHA256(code_verifier)))".into(),
                ));
            }
            Some(c.to_owned())
        }
        (Some(_), None) => {
            return Err(auth.refuse(
                "invalid_request",
                "code_challenge_method is missing, which RFC 7636 reads as plain; scimd takes S256 only: send code_challenge_method=S256".into(),
            ));
        }
        (Some(_), Some(m)) => {
            let m: String = m.chars().take(32).collect();
            return Err(auth.refuse(
                "invalid_request",
                format!("code_challenge_method \"{m}\" is refused; scimd takes S256 only (plain would expose the verifier)"),
            ));
        }
        (None, Some(_)) => {
            return Err(auth.refuse(
                "invalid_request",
                "code_challenge_method is sent without a code_challenge".into(),
            ));
        }
    };
    Ok(Authorization {
        code_challenge,
        ..auth
    })
}

/// What the consenting admin decided, as the URL the browser goes to next.
pub async fn consent(
    store: &Store,
    cfg: &OAuthConfig,
    auth: &Authorization,
    admin: &str,
    allow: bool,
) -> Result<String, OpError> {
    if !allow {
        tracing::info!(
            admin,
            client = auth.client.name,
            tenant = auth.tenant.slug,
            "OAuth authorization denied"
        );
        let detail = format!("the scimd admin \"{admin}\" denied access");
        return Ok(auth.error_redirect("access_denied", &detail));
    }
    let now = clock::now();
    let code = format!("{CODE_PREFIX}{}", random_hex(SECRET_BYTES));
    let hash = hash_secret(&code);
    let row = CodeRow {
        tenant_id: auth.tenant.id,
        client: auth.client.id.clone(),
        grant_id: uuid::Uuid::new_v4().to_string(),
        redirect_uri: auth.redirect_uri.clone(),
        redirect_to: auth.redirect_to.clone(),
        code_challenge: auth.code_challenge.clone(),
        scope: auth.scope.clone(),
        consented_by: admin.to_owned(),
        issued: clock::timestamp(now),
        expires: clock::timestamp(
            now + time::Duration::seconds(cfg.code_lifetime_secs.cast_signed()),
        ),
        used: None,
    };
    let forget = clock::timestamp(now - USED_KEPT);
    let max = cfg.max_codes_per_client;
    let stored = store
        .write_or_rollback(move |tx| {
            if rows::outstanding_codes(tx, &row.client, &row.issued)? >= u64::from(max) {
                return Ok(Err(()));
            }
            rows::insert_code(tx, &hash, &row, &forget)?;
            Ok(Ok(()))
        })
        .await
        .map_err(|e| oauth::internal(&e))?;
    if stored.is_err() {
        return Err(OpError::Conflict(format!(
            "OAuth client \"{}\" already holds oauth.max_codes_per_client = {max} authorization codes not yet exchanged; let the IdP finish (codes expire after oauth.code_lifetime_secs = {} s) and try again, or raise the limit",
            auth.client.name, cfg.code_lifetime_secs
        )));
    }
    // Who let which client into which tenant: the audit trail of a consent (never the code).
    tracing::info!(
        admin,
        client = auth.client.name,
        tenant = auth.tenant.slug,
        redirect_uri = auth.redirect_to,
        "OAuth authorization code issued on consent"
    );
    Ok(with_query(
        &auth.redirect_to,
        &[
            ("code", Some(&code)),
            ("state", auth.state.as_deref()),
            ("iss", Some(&auth.issuer)),
        ],
    ))
}

// ---- the token endpoint ----

/// What the exchange of a code or a refresh token found.
enum Outcome {
    Issued {
        access: String,
        refresh: String,
    },
    Unknown,
    OtherClient,
    /// Presented a second time: the grant was revoked (when it was first used).
    Reused(String),
    Revoked(String, String),
    Expired(String),
    RedirectMismatch {
        sent: String,
        expected: String,
    },
    NoVerifier,
    VerifierMismatch,
    UnaskedVerifier,
    Replayed(String),
}

/// Issues an access token and a refresh token of a grant, in the caller's transaction.
fn issue_in(
    tx: &rusqlite::Connection,
    cfg: &OAuthConfig,
    (tenant_id, client, grant): (i64, &str, &str),
    now: OffsetDateTime,
) -> Result<Outcome, StoreError> {
    let access = format!("{}{}", oauth::ACCESS_PREFIX, random_hex(SECRET_BYTES));
    let refresh = format!("{REFRESH_PREFIX}{}", random_hex(SECRET_BYTES));
    let issued = clock::timestamp(now);
    let expires = clock::timestamp(
        now + time::Duration::seconds(cfg.access_token_lifetime_secs.cast_signed()),
    );
    let refresh_expires = clock::timestamp(
        now + time::Duration::seconds(cfg.refresh_token_lifetime_secs.cast_signed()),
    );
    let forget = clock::timestamp(now - oauth::EXPIRED_KEPT);
    rows::insert_token(
        tx,
        &hash_secret(&access),
        (tenant_id, client, Some(grant)),
        (&issued, &expires),
        cfg.max_tokens_per_client,
        &forget,
    )?;
    rows::insert_refresh(
        tx,
        &hash_secret(&refresh),
        (tenant_id, grant),
        (&issued, &refresh_expires),
        &forget,
    )?;
    Ok(Outcome::Issued { access, refresh })
}

fn use_jti(
    tx: &rusqlite::Connection,
    proof: &Proof,
    (tenant_id, client): (i64, &str),
    issued: &str,
) -> Result<Option<Outcome>, StoreError> {
    if let Proof::Assertion { jti, expires } = proof
        && !rows::use_jti(tx, (tenant_id, client), jti, expires, issued)?
    {
        return Ok(Some(Outcome::Replayed(jti.clone())));
    }
    Ok(None)
}

/// `grant_type=authorization_code` (RFC 6749 §4.1.3, RFC 7636 §4.6).
pub(super) async fn exchange_code(
    ep: &Endpoint<'_>,
    client: ClientRow,
    proof: Proof,
    req: &TokenRequest,
) -> Result<Granted, OAuthError> {
    let Some(code) = req.code.as_deref().filter(|c| !c.is_empty()) else {
        return Err(OAuthError::request(
            "grant_type=authorization_code needs the code parameter: the code the authorization endpoint sent to the redirect URI",
        )
        .of(&client));
    };
    let hash = hash_secret(code);
    let (cfg, id, tenant_id) = (ep.config.clone(), client.id.clone(), client.tenant_id);
    let (redirect_uri, verifier) = (req.redirect_uri.clone(), req.code_verifier.clone());
    let outcome = ep
        .store
        .write(move |tx| {
            let now = clock::now();
            let stamp = clock::timestamp(now);
            let Some(code) = rows::code_by_hash(tx, &hash)? else {
                return Ok(Outcome::Unknown);
            };
            if code.client != id {
                return Ok(Outcome::OtherClient);
            }
            if let Some(at) = code.used {
                rows::revoke_grant(
                    tx,
                    &code.grant_id,
                    &stamp,
                    "its authorization code was used twice",
                )?;
                return Ok(Outcome::Reused(at));
            }
            if clock::reached(&code.expires, now) {
                return Ok(Outcome::Expired(code.expires));
            }
            let expected = code.redirect_uri.as_deref().unwrap_or(&code.redirect_to);
            match (&code.redirect_uri, redirect_uri.as_deref()) {
                (Some(_), None) => {
                    return Ok(Outcome::RedirectMismatch {
                        sent: "(none)".into(),
                        expected: expected.to_owned(),
                    });
                }
                (_, Some(sent)) if sent != expected => {
                    return Ok(Outcome::RedirectMismatch {
                        sent: sent.chars().take(MAX_REDIRECT_URI_BYTES).collect(),
                        expected: expected.to_owned(),
                    });
                }
                _ => {}
            }
            match (&code.code_challenge, verifier.as_deref()) {
                (Some(_), None) => return Ok(Outcome::NoVerifier),
                (Some(challenge), Some(v)) => {
                    let digest = Sha256::digest(v.as_bytes());
                    let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest);
                    if !pkce_shaped(v) || computed != *challenge {
                        return Ok(Outcome::VerifierMismatch);
                    }
                }
                (None, Some(_)) => return Ok(Outcome::UnaskedVerifier),
                (None, None) => {}
            }
            if let Some(replayed) = use_jti(tx, &proof, (tenant_id, &id), &stamp)? {
                return Ok(replayed);
            }
            rows::use_code(tx, &hash, &stamp)?;
            rows::insert_grant(tx, &code, &stamp)?;
            issue_in(tx, &cfg, (tenant_id, &id, &code.grant_id), now)
        })
        .await
        .map_err(|e| server_error(&e))?;
    granted(ep, client, outcome, "authorization code")
}

/// `grant_type=refresh_token` (RFC 6749 §6): a new access token and a new refresh token;
/// the one presented is used up.
pub(super) async fn refresh(
    ep: &Endpoint<'_>,
    client: ClientRow,
    proof: Proof,
    req: &TokenRequest,
) -> Result<Granted, OAuthError> {
    let Some(token) = req.refresh_token.as_deref().filter(|c| !c.is_empty()) else {
        return Err(OAuthError::request(
            "grant_type=refresh_token needs the refresh_token parameter: the refresh_token of the last token response",
        )
        .of(&client));
    };
    if let Err(e) = super::oauth::only_the_scim_scope(req.scope.as_deref(), "was not granted") {
        return Err(e.of(&client));
    }
    let hash = hash_secret(token);
    let (cfg, id, tenant_id) = (ep.config.clone(), client.id.clone(), client.tenant_id);
    let outcome = ep
        .store
        .write(move |tx| {
            let now = clock::now();
            let stamp = clock::timestamp(now);
            let Some(rt) = rows::refresh_by_hash(tx, &hash)? else {
                return Ok(Outcome::Unknown);
            };
            if rt.client != id {
                return Ok(Outcome::OtherClient);
            }
            if let Some((at, why)) = rt.revoked {
                return Ok(Outcome::Revoked(at, why));
            }
            if let Some(at) = rt.used {
                rows::revoke_grant(tx, &rt.grant_id, &stamp, "a refresh token was used twice")?;
                return Ok(Outcome::Reused(at));
            }
            if clock::reached(&rt.expires, now) {
                return Ok(Outcome::Expired(rt.expires));
            }
            if let Some(replayed) = use_jti(tx, &proof, (tenant_id, &id), &stamp)? {
                return Ok(replayed);
            }
            rows::use_refresh(tx, &hash, &stamp)?;
            issue_in(tx, &cfg, (tenant_id, &id, &rt.grant_id), now)
        })
        .await
        .map_err(|e| server_error(&e))?;
    granted(ep, client, outcome, "refresh token")
}

/// The token response, or the RFC 6749 §5.2 `invalid_grant` naming what is wrong and its fix.
fn granted(
    ep: &Endpoint<'_>,
    client: ClientRow,
    outcome: Outcome,
    what: &str,
) -> Result<Granted, OAuthError> {
    let again = "an admin must authenticate the IdP with scimd again (Okta: \"Authenticate with …\" on the app's Provisioning > Integration page)";
    let detail = match outcome {
        Outcome::Issued { access, refresh } => {
            return Ok(Granted {
                client,
                access_token: access,
                expires_in: ep.config.access_token_lifetime_secs,
                refresh_token: Some(refresh),
            });
        }
        Outcome::Replayed(jti) => {
            return Err(OAuthError::client(format!(
                "the client assertion was replayed: its jti \"{jti}\" was already used. RFC 7523 accepts each assertion once; the client must sign a new assertion, with a new jti, for every token request"
            ))
            .of(&client));
        }
        Outcome::Unknown => format!(
            "the {what} is not known to this server: it was never issued here, or expired long ago; {again}"
        ),
        Outcome::OtherClient => format!(
            "the {what} was issued to another OAuth client than \"{}\"; send it with the credentials of the client it was issued to",
            client.name
        ),
        Outcome::Reused(at) => format!(
            "the {what} was already used (on {at}); it is good for one exchange only, so scimd revoked the access and refresh tokens issued from this authorization (RFC 6749 §4.1.2, RFC 9700 §4.14). If the IdP did not send it twice, someone else holds a copy; {again}"
        ),
        Outcome::Revoked(at, why) => format!(
            "the authorization this {what} belongs to was revoked on {at} ({why}); {again}"
        ),
        Outcome::Expired(at) => {
            let key = if what == "authorization code" {
                "oauth.code_lifetime_secs"
            } else {
                "oauth.refresh_token_lifetime_secs"
            };
            format!(
                "the {what} expired on {at} (it lives {key}); {again}, and the IdP must exchange the new code at once"
            )
        }
        Outcome::RedirectMismatch { sent, expected } => format!(
            "redirect_uri \"{sent}\" differs from the redirect_uri of the authorization request, \"{expected}\" (RFC 6749 §4.1.3 requires the identical value); configure the IdP to send the same redirect URI at both steps"
        ),
        Outcome::NoVerifier => "the authorization request sent a PKCE code_challenge, so the token request must send its code_verifier (RFC 7636 §4.5)".to_owned(),
        Outcome::VerifierMismatch => "the code_verifier does not match the code_challenge of the authorization request: BASE64URL(SHA256(code_verifier)) must equal it (RFC 7636 §4.6)".to_owned(),
        Outcome::UnaskedVerifier => "a code_verifier was sent but the authorization request had no code_challenge; send both or neither (RFC 9700 §2.1.1)".to_owned(),
    };
    Err(OAuthError::new(400, "invalid_grant", detail).of(&client))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_are_https_or_loopback_http_without_fragment_or_placeholder() {
        for ok in [
            "https://acme.okta.com/admin/app/cpc/scimd_1/oauth/callback",
            "http://localhost:8080/cb",
            "http://127.0.0.1/cb",
            "http://[::1]:9/cb",
            "https://example.com/cb?tenant=a",
        ] {
            assert!(check_redirect_uri(ok).is_ok(), "{ok}");
        }
        for (bad, says) in [
            ("http://example.com/cb", "plain http"),
            ("http://localhost.evil.com/cb", "plain http"),
            ("https://example.com/cb#x", "fragment"),
            ("https://<org>.okta.com/cb", "placeholder"),
            ("example.com/cb", "absolute"),
            ("custom:callback", "scheme"),
        ] {
            let e = check_redirect_uri(bad).expect_err(bad);
            assert!(e.contains(says), "{bad}: {e}");
        }
        let uris = vec![
            " https://a.example/cb ".to_owned(),
            "https://a.example/cb".to_owned(),
            String::new(),
        ];
        assert_eq!(
            check_redirect_uris(&uris, 1).expect("deduplicated"),
            vec!["https://a.example/cb".to_owned()]
        );
    }

    #[test]
    fn answers_keep_the_registered_query_and_encode_their_values() {
        let url = with_query(
            "https://client.example/cb?tenant=a",
            &[("code", Some("c")), ("state", Some("x&y=z")), ("iss", None)],
        );
        assert_eq!(
            url,
            "https://client.example/cb?tenant=a&code=c&state=x%26y%3Dz"
        );
    }

    #[test]
    fn pkce_values_are_43_to_128_unreserved_characters() {
        assert!(pkce_shaped(&"a".repeat(43)));
        assert!(pkce_shaped(&"-._~9".repeat(20)));
        assert!(!pkce_shaped(&"a".repeat(42)));
        assert!(!pkce_shaped(&"a".repeat(129)));
        assert!(!pkce_shaped(&format!("{}+", "a".repeat(43))));
    }

    #[test]
    fn a_repeated_parameter_is_reported() {
        let (map, repeated) = parse_query("a=1&b=2&a=3");
        assert_eq!(map["a"], "1");
        assert_eq!(repeated.as_deref(), Some("a"));
    }
}
