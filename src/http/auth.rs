//! Request guards for SCIM routes: `Authorized` (a SCIM token of this tenant, write scope
//! checked), `EventsReader` (an events token of this tenant, for the events feed) and
//! `Discovery` (tenant only: discovery needs no token, RFC 7644 §4).

use std::sync::Arc;
use std::time::Instant;

use rocket::http::{Method, Status};
use rocket::request::{FromRequest, Outcome, Request};

use super::respond::RetryAfter;
use super::{App, origin, stash, tenant_slug};
use crate::scim::ScimError;
use crate::scim::diagnosis::idp_from_user_agent;
use crate::service::rate_limit::{self, RateLimiter};
use crate::service::token_addresses;
use crate::service::tokens::{self, TokenCache};
use crate::service::usage::UsageTracker;
use crate::service::{Actor, Scope};
use crate::store::tokens::TokenKind;

/// An authenticated SCIM request: the scope it operates in.
pub struct Authorized {
    pub scope: Scope,
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Authorized {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        admit(req, TokenKind::Scim)
            .await
            .map(|scope| Self { scope })
    }
}

/// An application reading the tenant's events feed with an events token.
pub struct EventsReader {
    pub scope: Scope,
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for EventsReader {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        admit(req, TokenKind::Events)
            .await
            .map(|scope| Self { scope })
    }
}

/// Authenticates the request's bearer token for this tenant and checks that it is a `kind`
/// token allowed to do what the request does.
async fn admit(req: &Request<'_>, kind: TokenKind) -> Outcome<Scope, ()> {
    let Some(app) = req.rocket().state::<App>() else {
        return Outcome::Error((Status::InternalServerError, ()));
    };
    let slug = tenant_slug(req);
    let origin = origin(req);
    let header = req.headers().get_one("Authorization");
    let Some(cache) = req.rocket().state::<Arc<TokenCache>>() else {
        return Outcome::Error((Status::InternalServerError, ()));
    };
    let caller = match tokens::authenticate(&app.store, cache, slug, header, &origin).await {
        Ok(c) => c,
        Err(rejected) => {
            // A known but unusable token is named in the request log: "okta-old was
            // revoked" tells the admin which integration to fix.
            if rejected.token.is_some() || rejected.tenant_known {
                req.local_cache(|| LoggedToken {
                    token: rejected.token,
                    tenant_known: rejected.tenant_known,
                });
            }
            return fail(req, rejected.error);
        }
    };
    // For the request log (names only, never the secret).
    req.local_cache(|| LoggedToken {
        token: Some((caller.token.id.clone(), caller.token.name.clone())),
        tenant_known: true,
    });
    // Before the rate limit: a token used from elsewhere must not spend the IdP's budget.
    if let Err(refused) = token_addresses::admit(&caller.token, req.client_ip()) {
        return fail(req, refused);
    }
    // Resolved when the state was opened (`service::secure_defaults`): always set here.
    let per_second = app.config.limits.requests_per_second.unwrap_or(0);
    let burst = app.config.limits.requests_burst.unwrap_or(per_second);
    if let Some(limiter) = req.rocket().state::<Arc<RateLimiter>>()
        && let Err(wait) =
            limiter.check_with_burst(&caller.token.id, per_second, burst, Instant::now())
    {
        let secs = rate_limit::retry_after_secs(wait);
        req.local_cache(|| RetryAfter(Some(secs)));
        return fail(
            req,
            ScimError::new(
                429,
                format!(
                    "token \"{}\" sent more than limits.requests_per_second = {per_second} requests per second; retry after {secs} s, or raise the limit in scimd.toml",
                    caller.token.name
                ),
            ),
        );
    }
    if caller.token.kind != kind {
        return fail(
            req,
            wrong_kind(&caller.token.name, kind, &origin, &caller.tenant.slug),
        );
    }
    if caller.token.read_only && !is_read(req) {
        return fail(
            req,
            ScimError::new(
                403,
                format!(
                    "token \"{}\" is read-only: it may GET and POST /.search but not {} {}; use a token created without --read-only",
                    caller.token.name,
                    req.method(),
                    req.uri().path()
                ),
            ),
        );
    }
    // In memory only; the flush task writes it (service::usage).
    if let Some(usage) = req.rocket().state::<Arc<UsageTracker>>() {
        usage.record(
            &caller.token.id,
            crate::clock::now(),
            req.client_ip().map(|ip| ip.to_string()),
            req.headers().get_one("User-Agent"),
        );
    }
    // The request log redacts what this tenant declared `returned: never` (scim::redact).
    let secrets = caller.schemas.never_returned();
    if !secrets.is_empty() {
        req.local_cache(|| TenantSecrets(secrets));
    }
    let scope = Scope {
        tenant_id: caller.tenant.id,
        tenant_slug: caller.tenant.slug.clone(),
        base_url: tokens::scim_base(&origin, &caller.tenant.slug),
        actor: Some(Actor {
            token_id: caller.token.id.clone(),
            token_name: caller.token.name.clone(),
            idp: idp_from_user_agent(req.headers().get_one("User-Agent")).to_owned(),
        }),
        history_value_cap: app.config.history.max_value_bytes,
        strict: caller.strict,
        interop_profile: crate::service::settings::interop_profile_of(&caller.tenant),
        accept_password: crate::service::settings::accepts_password(&caller.tenant),
        ephemeral: crate::service::settings::ephemeral_of(&caller.tenant),
        schemas: caller.schemas,
    };
    Outcome::Success(scope)
}

/// The 403 for a valid token of the other kind: an IdP given an events token, or an
/// application given a SCIM token.
fn wrong_kind(name: &str, wanted: TokenKind, origin: &str, slug: &str) -> ScimError {
    let base = tokens::scim_base(origin, slug);
    let detail = match wanted {
        TokenKind::Scim => format!(
            "token \"{name}\" is an events token: it reads the events feed ({}) and nothing else; give the IdP a SCIM token (`scimd token create --tenant {slug} --name <idp>`)",
            tokens::events_url(&base)
        ),
        TokenKind::Events => format!(
            "token \"{name}\" is a SCIM token; an application reading the events feed needs an events token (`scimd token create --tenant {slug} --events --name <app>`), so that it cannot change the directory"
        ),
    };
    ScimError::new(403, detail)
}

/// A tenant's extension attributes declared `returned: never` (lowercased), for the request
/// log's redaction of this request's bodies.
#[derive(Default)]
pub struct TenantSecrets(pub Arc<[String]>);

/// What the guards resolved, for the request log and the metrics: only resolved values may
/// become a metrics label or escape the log's flood sampling, never what the URL claims.
#[derive(Default)]
pub struct LoggedToken {
    /// (id, name) of the token presented, when it is a known one (never the secret).
    pub token: Option<(String, String)>,
    /// The tenant the URL names exists.
    pub tenant_known: bool,
}

fn is_read(req: &Request<'_>) -> bool {
    match req.method() {
        Method::Get | Method::Head => true,
        Method::Post => req.uri().path().as_str().ends_with("/.search"),
        _ => false,
    }
}

/// The scope of an unauthenticated discovery request; 404 for an unknown tenant.
pub struct Discovery(pub Scope);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Discovery {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        let Some(app) = req.rocket().state::<App>() else {
            return Outcome::Error((Status::InternalServerError, ()));
        };
        let slug = tenant_slug(req).to_owned();
        let lookup = slug.clone();
        let tenant = app
            .store
            .read(move |c| crate::store::tenants::by_slug(c, &lookup))
            .await;
        match tenant {
            Ok(Some(t)) => {
                req.local_cache(|| LoggedToken {
                    token: None,
                    tenant_known: true,
                });
                let base_url = tokens::scim_base(&origin(req), &t.slug);
                let schemas = crate::service::settings::registry_of(&t);
                let interop_profile = crate::service::settings::interop_profile_of(&t);
                let accept_password = crate::service::settings::accepts_password(&t);
                Outcome::Success(Self(Scope {
                    tenant_id: t.id,
                    tenant_slug: t.slug,
                    base_url,
                    actor: None,
                    history_value_cap: app.config.history.max_value_bytes,
                    // Discovery writes nothing: strictness does not apply.
                    strict: false,
                    interop_profile,
                    accept_password,
                    ephemeral: false,
                    schemas,
                }))
            }
            Ok(None) => fail(req, tokens::unknown_tenant(&slug)),
            Err(e) => {
                tracing::error!("tenant lookup failed: {e}");
                fail(req, ScimError::internal())
            }
        }
    }
}

fn fail<T>(req: &Request<'_>, e: ScimError) -> Outcome<T, ()> {
    let status = Status::from_code(e.status).unwrap_or(Status::InternalServerError);
    stash(req, e);
    Outcome::Error((status, ()))
}
