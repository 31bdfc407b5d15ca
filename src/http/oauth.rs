//! The OAuth 2.0 endpoints of each tenant on the public listener: the token endpoint
//! (`/oauth/token`, `/t/{slug}/oauth/token`), the authorization endpoint (`…/oauth/authorize`,
//! which hands a checked request to the UI's consent page) and the RFC 8414 metadata under
//! `/.well-known/oauth-authorization-server/…`. The grants are `service::oauth` and
//! `service::oauth_code`.

use std::io::Cursor;
use std::sync::Arc;

use rocket::data::{Data, ToByteUnit};
use rocket::http::{ContentType, Header, Status};
use rocket::request::{FromRequest, Outcome, Request};
use rocket::response::{self, Responder, Response};
use rocket::{Route, State, get, post, routes};
use serde_json::Value;

use super::auth::LoggedToken;
use super::{App, Serves, ThisListener, origin, tenant_slug};
use crate::service::oauth::{self, Endpoint, JwksCache, OAuthError};
use crate::service::oauth_code::{self, Refusal};
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

/// The raw query string of a request.
pub struct RawQuery(String);

impl RawQuery {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for RawQuery {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        Outcome::Success(Self(
            req.uri()
                .query()
                .map_or_else(String::new, |q| q.as_str().to_owned()),
        ))
    }
}

/// The answer of the authorization endpoint: a redirect (to the consent page, or back to
/// the client with an error), or a page when the client or redirect URI is not established.
pub enum Authorize {
    Redirect(String),
    Page(u16, String),
}

impl<'r> Responder<'r, 'static> for Authorize {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        let mut res = Response::build();
        res.header(Header::new("Cache-Control", "no-store"));
        match self {
            Self::Redirect(to) => {
                res.status(Status::SeeOther)
                    .header(Header::new("Location", to));
            }
            Self::Page(status, detail) => {
                let body = format!(
                    "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Authorization refused · scimd</title></head>\
                     <body><main><h1>scimd cannot authorize this request</h1><p>{}</p>\
                     <p>Nothing was sent back to the application that asked.</p></main></body></html>",
                    escape_html(&detail)
                );
                res.status(Status::from_code(status).unwrap_or(Status::BadRequest))
                    .header(ContentType::HTML)
                    .sized_body(body.len(), Cursor::new(body));
            }
        }
        res.ok()
    }
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Where the UI is: this origin when one listener serves everything, else `[admin]`'s URL.
fn ui_base(app: &App, listener: &ThisListener) -> String {
    match (listener.serves, app.config.admin_listener()) {
        (Serves::Public, Some(admin)) => admin.base(),
        _ => String::new(),
    }
}

/// RFC 6749 §4.1.1. The person consenting signs in to the UI, so a checked request goes on
/// to the UI's consent page (on the admin listener when `[admin]` splits it off).
#[get("/oauth/authorize")]
async fn authorize(
    query: RawQuery,
    req_origin: Origin,
    slug: Slug,
    app: &State<App>,
    listener: &State<ThisListener>,
) -> Authorize {
    match oauth_code::check(&app.store, &req_origin.0, &slug.0, &query.0).await {
        Ok(auth) => Authorize::Redirect(auth.consent_url(&ui_base(app, listener))),
        Err(Refusal::Redirect { url, .. }) => Authorize::Redirect(url),
        Err(Refusal::Page { status, detail }) => Authorize::Page(status, detail),
    }
}

/// The tenant slug of a request to the OAuth endpoints.
pub struct Slug(String);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Slug {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        Outcome::Success(Self(tenant_slug(req).to_owned()))
    }
}

pub(crate) fn routes() -> Vec<Route> {
    routes![token, authorize, metadata]
}
