//! The OAuth 2.0 endpoints of each tenant on the public listener: the token endpoint
//! (`/oauth/token`, `/t/{slug}/oauth/token`) and its RFC 8414 metadata under
//! `/.well-known/oauth-authorization-server/…`. The grant itself is `service::oauth`.

use std::io::Cursor;
use std::sync::Arc;

use rocket::data::{Data, ToByteUnit};
use rocket::http::{ContentType, Header, Status};
use rocket::request::{FromRequest, Outcome, Request};
use rocket::response::{self, Responder, Response};
use rocket::{Route, State, get, post, routes};
use serde_json::Value;

use super::auth::LoggedToken;
use super::{App, origin, tenant_slug};
use crate::service::oauth::{self, Endpoint, JwksCache, OAuthError};
use crate::service::rate_limit::RateLimiter;
use crate::service::usage::UsageTracker;
use crate::store::tenants::DEFAULT_SLUG;

/// What a token request brings besides its body.
pub struct Call {
    authorization: Option<String>,
    form: bool,
    origin: String,
    slug: String,
    ip: Option<String>,
    agent: Option<String>,
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Call {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        let form = req
            .content_type()
            .is_some_and(|c| c.top() == "application" && c.sub() == "x-www-form-urlencoded");
        Outcome::Success(Self {
            authorization: req.headers().get_one("Authorization").map(str::to_owned),
            form,
            origin: origin(req),
            slug: tenant_slug(req).to_owned(),
            ip: req.client_ip().map(|ip| ip.to_string()),
            agent: req.headers().get_one("User-Agent").map(str::to_owned),
        })
    }
}

/// A JSON answer of the token endpoint, never cached (RFC 6749 §5.1).
pub struct Reply {
    status: u16,
    body: Value,
    /// An `invalid_client` 401 names the Basic scheme (RFC 6749 §5.2).
    challenge: bool,
    /// The client the request log names, and whether the tenant exists.
    logged: Option<(String, String)>,
    tenant_known: bool,
    retry_after: Option<u64>,
}

impl From<OAuthError> for Reply {
    fn from(e: OAuthError) -> Self {
        Self {
            status: e.status,
            body: e.body(),
            challenge: e.status == 401,
            logged: e.client,
            tenant_known: e.tenant_known,
            retry_after: e.retry_after,
        }
    }
}

impl Reply {
    fn granted(g: &oauth::Granted) -> Self {
        Self {
            status: 200,
            body: g.body(),
            challenge: false,
            logged: Some((g.client.id.clone(), g.client.name.clone())),
            tenant_known: true,
            retry_after: None,
        }
    }
}

impl<'r> Responder<'r, 'static> for Reply {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        req.local_cache(|| LoggedToken {
            token: self.logged.clone(),
            tenant_known: self.tenant_known,
        });
        if self.status < 400 {
            // The body holds the access token: never in the request log.
            super::request_log::withhold_response_body(req);
        }
        let bytes = serde_json::to_vec(&self.body).map_err(|_| Status::InternalServerError)?;
        let mut res = Response::build();
        res.status(Status::from_code(self.status).unwrap_or(Status::InternalServerError))
            .header(ContentType::JSON)
            .header(Header::new("Cache-Control", "no-store"))
            .header(Header::new("Pragma", "no-cache"))
            .sized_body(bytes.len(), Cursor::new(bytes));
        if let Some(secs) = self.retry_after {
            res.header(Header::new("Retry-After", secs.to_string()));
        }
        if self.challenge {
            res.header(Header::new("WWW-Authenticate", "Basic realm=\"scimd\""));
        }
        res.ok()
    }
}

#[post("/oauth/token", data = "<body>")]
async fn token(
    call: Call,
    body: Data<'_>,
    app: &State<App>,
    jwks: &State<Arc<JwksCache>>,
    usage: &State<Arc<UsageTracker>>,
    rate: &State<Arc<RateLimiter>>,
) -> Reply {
    let limit = app.config.limits.max_body_bytes;
    let body = body.open(limit.bytes()).into_string().await;
    let per_second = app.config.limits.requests_per_second.unwrap_or(0);
    let burst = app.config.limits.requests_burst.unwrap_or(per_second);
    let ep = Endpoint {
        store: &app.store,
        jwks,
        config: &app.config.oauth,
        slug: &call.slug,
        origin: &call.origin,
        limiter: Some((rate, per_second, burst)),
    };
    // A body cut at the limit is not a form: refused rather than parsed in part.
    let body = body
        .ok()
        .filter(|b| b.is_complete())
        .map(|b| b.into_inner());
    match grant(&ep, &call, body).await {
        Ok(g) => {
            let when = crate::clock::now();
            usage.record(&g.client.id, when, call.ip, call.agent.as_deref());
            Reply::granted(&g)
        }
        Err(e) => e.into(),
    }
}

/// Checks the request's form and hands it to the grant.
async fn grant(
    ep: &Endpoint<'_>,
    call: &Call,
    body: Option<String>,
) -> Result<oauth::Granted, OAuthError> {
    let refuse = |d: &str| OAuthError::new(400, "invalid_request", d);
    if !call.form {
        return Err(refuse(
            "a token request is a POST with Content-Type application/x-www-form-urlencoded (RFC 6749 §4.4.2)",
        ));
    }
    let body =
        body.ok_or_else(|| refuse("the form body is unreadable or over limits.max_body_bytes"))?;
    let req = oauth::parse_form(&body)?;
    let basic = oauth::parse_basic(call.authorization.as_deref())?;
    oauth::grant(ep, basic, req).await
}

/// RFC 8414 §3: `/.well-known/oauth-authorization-server/oauth` for the default tenant,
/// `…/t/{slug}/oauth` for the others.
#[get("/.well-known/oauth-authorization-server/<path..>")]
async fn metadata(
    path: std::path::PathBuf,
    req_origin: Origin,
    app: &State<App>,
) -> Result<rocket::serde::json::Json<Value>, crate::scim::ScimError> {
    let path = path.to_string_lossy().into_owned();
    let slug = match path.as_str() {
        "oauth" => DEFAULT_SLUG.to_owned(),
        p => p
            .strip_prefix("t/")
            .and_then(|r| r.strip_suffix("/oauth"))
            .filter(|s| !s.is_empty() && !s.contains('/'))
            .ok_or_else(|| crate::scim::ScimError::not_found(format!(
                "no authorization server is at /{p}; the issuers are /oauth (tenant default) and /t/<tenant>/oauth"
            )))?
            .to_owned(),
    };
    let lookup = slug.clone();
    let tenant = app
        .store
        .read(move |c| crate::store::tenants::by_slug(c, &lookup))
        .await
        .map_err(|_| crate::scim::ScimError::internal())?;
    if tenant.is_none() {
        return Err(crate::service::tokens::unknown_tenant(&slug));
    }
    Ok(rocket::serde::json::Json(oauth::metadata(
        &req_origin.0,
        &slug,
    )))
}

/// This server's origin as clients address it (`public_url` or the Host).
pub struct Origin(pub String);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Origin {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        Outcome::Success(Self(origin(req)))
    }
}

pub(crate) fn routes() -> Vec<Route> {
    routes![token, metadata]
}
