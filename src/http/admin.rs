//! The admin JSON API under `/api/` used by the web UI: sign-in (session cookie + CSRF token),
//! tenants and tokens. Errors are `{"error": "...", "detail": "..."}`; every route but sign-in
//! needs a session, and every state-changing one the session's `X-CSRF-Token`.

use std::sync::Arc;

use rocket::data::{self, Data, FromData};
use rocket::http::{ContentType, Cookie, CookieJar, Header, Method, SameSite, Status};
use rocket::request::{FromRequest, Outcome, Request};
use rocket::response::{self, Responder, Response};
use rocket::serde::json::Json;
use rocket::{Catcher, Route, State, catch, catchers, delete, get, post, routes};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{App, ThisListener, origin};
use crate::scim::ScimError;
use crate::service::admins::{self, LoginError, LoginLimiter, SESSION_LIFETIME, Session};
use crate::service::tokens::{self, DEFAULT_OVERLAP, Listed, NewToken, Rotation};
use crate::service::{OpError, Scope, secure_defaults, tenants, token_addresses};
use crate::store::tenants::Tenant;
use crate::store::tokens::{TokenKind, TokenRow};

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "scimd_session";
/// Header carrying the CSRF token on state-changing calls.
pub const CSRF_HEADER: &str = "X-CSRF-Token";

pub(crate) fn routes() -> Vec<Route> {
    routes![
        create_session,
        get_session,
        delete_session,
        list_tenants,
        create_tenant,
        list_tokens,
        create_token,
        revoke_token,
        rotate_token
    ]
}

pub(crate) fn catchers() -> Vec<Catcher> {
    catchers![api_error]
}

/// An admin API error: status, a short machine-readable `error` and a sentence in `detail`.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: Status,
    pub error: &'static str,
    pub detail: String,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub(super) fn new(status: Status, error: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            error,
            detail: detail.into(),
            retry_after: None,
        }
    }

    fn for_status(status: Status, req: &Request<'_>) -> Self {
        match status.code {
            401 => Self::new(status, "unauthorized", "sign in first: POST /api/session"),
            404 => Self::new(
                status,
                "not_found",
                format!("{} is not an endpoint of the admin API", req.uri().path()),
            ),
            400 | 422 => Self::new(
                status,
                "bad_request",
                "the request body must be a JSON object with the documented fields",
            ),
            500 => Self::new(status, "internal", "the server failed; see its log"),
            code => Self::new(
                status,
                "error",
                format!("the request failed with HTTP status {code}"),
            ),
        }
    }
}

impl From<OpError> for ApiError {
    fn from(e: OpError) -> Self {
        match e {
            OpError::NotFound(m) => Self::new(Status::NotFound, "not_found", m),
            OpError::Conflict(m) => Self::new(Status::Conflict, "conflict", m),
            OpError::Invalid(m) => Self::new(Status::BadRequest, "invalid", m),
            OpError::Internal(m) => Self::new(Status::InternalServerError, "internal", m),
        }
    }
}

impl From<ScimError> for ApiError {
    fn from(e: ScimError) -> Self {
        let status = Status::from_code(e.status).unwrap_or(Status::InternalServerError);
        let error = match (e.status, e.scim_type) {
            (_, Some(t)) => t.as_str(),
            (404, None) => "not_found",
            (400..=499, None) => "bad_request",
            _ => "internal",
        };
        Self::new(status, error, e.detail)
    }
}

impl<'r> Responder<'r, 'static> for ApiError {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        let body = json!({"error": self.error, "detail": self.detail}).to_string();
        let mut res = Response::build_from(body.respond_to(req)?);
        res.status(self.status).header(ContentType::JSON);
        if let Some(secs) = self.retry_after {
            res.header(Header::new("Retry-After", secs.to_string()));
        }
        res.ok()
    }
}

/// Holds the error a failing admin guard produced, for the `/api` catcher.
struct Stashed(Option<ApiError>);

fn fail<T>(req: &Request<'_>, e: ApiError) -> Outcome<T, ()> {
    let status = e.status;
    req.local_cache(|| Stashed(Some(e)));
    Outcome::Error((status, ()))
}

#[catch(default)]
fn api_error(status: Status, req: &Request<'_>) -> ApiError {
    req.local_cache(|| Stashed(None))
        .0
        .clone()
        .unwrap_or_else(|| ApiError::for_status(status, req))
}

/// A signed-in admin. For any method but GET/HEAD the `X-CSRF-Token` header must match the
/// session's token (403 otherwise), so another site cannot make the browser act for the admin.
pub struct Admin {
    pub session: Session,
    cookie: String,
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Admin {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        let Some(app) = req.rocket().state::<App>() else {
            return Outcome::Error((Status::InternalServerError, ()));
        };
        let Some(cookie) = req
            .cookies()
            .get(SESSION_COOKIE)
            .map(|c| c.value().to_owned())
        else {
            return fail(
                req,
                ApiError::new(
                    Status::Unauthorized,
                    "unauthorized",
                    "sign in first: POST /api/session with {\"username\", \"password\"}",
                ),
            );
        };
        let session = match admins::session(&app.store, &cookie).await {
            Ok(Some(s)) => s,
            Ok(None) => {
                return fail(
                    req,
                    ApiError::new(
                        Status::Unauthorized,
                        "unauthorized",
                        "the session has expired or was ended; sign in again",
                    ),
                );
            }
            Err(e) => return fail(req, e.into()),
        };
        if !matches!(req.method(), Method::Get | Method::Head) {
            let presented = req.headers().get_one(CSRF_HEADER).unwrap_or_default();
            if !admins::csrf_matches(&session, presented) {
                return fail(
                    req,
                    ApiError::new(
                        Status::Forbidden,
                        "csrf",
                        format!(
                            "this call changes state and needs the session's CSRF token in the {CSRF_HEADER} header (from POST or GET /api/session)"
                        ),
                    ),
                );
            }
        }
        Outcome::Success(Self { session, cookie })
    }
}

/// The client's IP as Rocket sees it (the `X-Real-IP` header when set, else the peer).
pub struct ClientIp(pub Option<String>);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for ClientIp {
    type Error = std::convert::Infallible;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        Outcome::Success(Self(req.client_ip().map(|ip| ip.to_string())))
    }
}

/// The tenant named by `/api/tenants/<slug>/…`, as a SCIM scope; 404 if there is none.
pub struct TenantScope(pub Scope);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for TenantScope {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        let Some(app) = req.rocket().state::<App>() else {
            return Outcome::Error((Status::InternalServerError, ()));
        };
        // Segment 0 after the /api mount point is "tenants", segment 1 the slug.
        let Some(Ok(slug)) = req.routed_segment(1).map(|s| Ok::<_, ()>(s.to_owned())) else {
            return fail(
                req,
                ApiError::new(Status::NotFound, "not_found", "no tenant in the URL"),
            );
        };
        let lookup = slug.clone();
        match app
            .store
            .read(move |c| crate::store::tenants::by_slug(c, &lookup))
            .await
        {
            Ok(Some(t)) => Outcome::Success(Self(Scope {
                schemas: crate::service::settings::registry_of(&t),
                tenant_id: t.id,
                base_url: tokens::scim_base(&origin(req), &t.slug),
                tenant_slug: t.slug,
                actor: None,
                history_value_cap: app.config.history.max_value_bytes,
                strict: false,
                interop_profile: false,
                accept_password: true,
                ephemeral: false,
            })),
            Ok(None) => fail(
                req,
                ApiError::new(
                    Status::NotFound,
                    "not_found",
                    format!("there is no tenant \"{slug}\""),
                ),
            ),
            Err(e) => fail(req, OpError::Internal(e.to_string()).into()),
        }
    }
}

/// Sign-in body.
#[derive(Deserialize)]
pub struct Credentials {
    username: String,
    password: String,
}

/// An admin API request body: JSON only, read within `limits.max_body_bytes` and
/// `limits.body_timeout_secs` (the same bounds as SCIM bodies), then parsed; a failure is kept
/// for the handler to return as an [`ApiError`]. JSON only because an HTML form on another site
/// can post `text/plain` or a form body without a CORS preflight, and `SameSite` does not
/// protect a sign-in (login CSRF).
pub struct Body<'r, T>(Result<T, ApiError>, std::marker::PhantomData<&'r ()>);

#[rocket::async_trait]
impl<'r, T: serde::de::DeserializeOwned> FromData<'r> for Body<'r, T> {
    type Error = std::convert::Infallible;

    async fn from_data(req: &'r Request<'_>, data: Data<'r>) -> data::Outcome<'r, Self> {
        if !req
            .content_type()
            .is_some_and(|ct| ct.media_type().is_json())
        {
            let refused = ApiError::new(
                Status::UnsupportedMediaType,
                "unsupported_media_type",
                "send a JSON object with Content-Type: application/json",
            );
            return data::Outcome::Success(Self(Err(refused), std::marker::PhantomData));
        }
        let limits = req.rocket().state::<App>().map(|a| &a.config.limits);
        let read = super::body::read_bounded(
            data,
            limits.map_or(1_048_576, |l| l.max_body_bytes),
            limits.map_or(30, |l| l.body_timeout_secs),
        )
        .await;
        let parsed = read.map_err(ApiError::from).and_then(|bytes| {
            serde_json::from_slice(&bytes).map_err(|e| {
                ApiError::new(
                    Status::BadRequest,
                    "bad_request",
                    format!("the body is not the expected JSON: {e}"),
                )
            })
        });
        data::Outcome::Success(Self(parsed, std::marker::PhantomData))
    }
}

pub(super) fn body<T>(b: Body<'_, T>) -> Result<T, ApiError> {
    b.0
}

#[post("/session", data = "<creds>")]
async fn create_session(
    creds: Body<'_, Credentials>,
    ip: ClientIp,
    cookies: &CookieJar<'_>,
    app: &State<App>,
    limiter: &State<Arc<LoginLimiter>>,
    listener: &State<ThisListener>,
) -> Result<Json<Session>, ApiError> {
    let c = body(creds)?;
    let new = admins::login(
        &app.store,
        limiter,
        &c.username,
        &c.password,
        ip.0.as_deref(),
    )
    .await
    .map_err(login_error)?;
    if c.username == admins::INITIAL_ADMIN {
        crate::store::files::forget_initial_password(&app.config.database);
    }
    cookies.add(session_cookie(new.cookie, listener.behind_tls));
    Ok(Json(new.session))
}

#[get("/session")]
fn get_session(admin: Admin) -> Json<Session> {
    Json(admin.session)
}

#[delete("/session")]
async fn delete_session(
    admin: Admin,
    cookies: &CookieJar<'_>,
    app: &State<App>,
) -> Result<Status, ApiError> {
    admins::logout(&app.store, &admin.cookie).await?;
    cookies.remove(Cookie::build(SESSION_COOKIE).path("/"));
    Ok(Status::NoContent)
}

/// The session cookie: unreadable by scripts, never sent cross-site, HTTPS-only when the
/// listener that sets it is behind TLS ([`crate::config::Listener::behind_tls`]).
fn session_cookie(value: String, behind_tls: bool) -> Cookie<'static> {
    let max_age = rocket::time::Duration::seconds(
        i64::try_from(SESSION_LIFETIME.as_secs()).unwrap_or(i64::MAX),
    );
    Cookie::build((SESSION_COOKIE, value))
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(behind_tls)
        .path("/")
        .max_age(max_age)
        .build()
}

fn login_error(e: LoginError) -> ApiError {
    match e {
        LoginError::Invalid => ApiError::new(
            Status::Unauthorized,
            "invalid_credentials",
            "the username or password is wrong",
        ),
        LoginError::RateLimited(secs) => ApiError {
            retry_after: Some(secs),
            ..ApiError::new(
                Status::TooManyRequests,
                "rate_limited",
                format!(
                    "too many failed sign-ins from this address or for this user; try again in {secs} s"
                ),
            )
        },
        LoginError::TooLong(max) => ApiError::new(
            Status::BadRequest,
            "bad_request",
            format!(
                "the username and the password are at most {max} bytes each (limits.max_password_bytes)"
            ),
        ),
        LoginError::Busy => ApiError {
            retry_after: Some(1),
            ..ApiError::new(
                Status::ServiceUnavailable,
                "busy",
                "too many sign-ins are being checked at once; try again in a second",
            )
        },
        LoginError::Internal(m) => OpError::Internal(m).into(),
    }
}

/// Runs a blocking service call (CLI-shaped, synchronous SQLite) off the async workers.
pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, OpError> + Send + 'static,
) -> Result<T, ApiError> {
    rocket::tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::from(OpError::Internal(format!("task failed: {e}"))))?
        .map_err(ApiError::from)
}

#[get("/tenants")]
async fn list_tenants(_admin: Admin, app: &State<App>) -> Result<Json<Vec<Tenant>>, ApiError> {
    let store = app.store.clone();
    Ok(Json(blocking(move || tenants::list(&store)).await?))
}

/// Body of `POST /api/tenants`.
#[derive(Deserialize)]
pub struct NewTenant {
    slug: String,
    display_name: Option<String>,
}

#[post("/tenants", data = "<t>")]
async fn create_tenant(
    _admin: Admin,
    t: Body<'_, NewTenant>,
    app: &State<App>,
) -> Result<(Status, Json<Tenant>), ApiError> {
    let t = body(t)?;
    let store = app.store.clone();
    let created =
        blocking(move || tenants::create(&store, &t.slug, t.display_name.as_deref())).await?;
    Ok((Status::Created, Json(created)))
}

#[get("/tenants/<_>/tokens")]
async fn list_tokens(
    _admin: Admin,
    t: TenantScope,
    app: &State<App>,
) -> Result<Json<Vec<Listed>>, ApiError> {
    let store = app.store.clone();
    Ok(Json(
        blocking(move || tokens::list(&store, Some(&t.0.tenant_slug))).await?,
    ))
}

/// Body of `POST /api/tenants/<slug>/tokens`.
#[derive(Deserialize)]
pub struct TokenRequest {
    name: String,
    /// A duration (`90d`) or `never`; absent, the install's default (`service::secure_defaults`).
    expires_in: Option<String>,
    /// CIDR ranges or addresses the token may be used from; absent or empty, any.
    #[serde(default)]
    allowed_addresses: Vec<String>,
    #[serde(default)]
    read_only: bool,
    /// `scim` (default) or `events`: a token that reads the events feed only.
    #[serde(default)]
    kind: TokenKind,
}

/// A token just issued or rotated: the only response that ever carries the secret.
#[derive(Serialize)]
pub struct IssuedToken {
    token: TokenRow,
    secret: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    replaces: Option<TokenRow>,
}

fn duration(field: &str, s: Option<&str>) -> Result<Option<std::time::Duration>, ApiError> {
    s.map(tokens::parse_duration)
        .transpose()
        .map_err(|m| ApiError::new(Status::BadRequest, "invalid", format!("{field}: {m}")))
}

#[post("/tenants/<_>/tokens", data = "<req>")]
async fn create_token(
    _admin: Admin,
    t: TenantScope,
    req: Body<'_, TokenRequest>,
    app: &State<App>,
) -> Result<(Status, Json<IssuedToken>), ApiError> {
    let req = body(req)?;
    let allowed_addresses = token_addresses::parse(&req.allowed_addresses).map_err(|m| {
        ApiError::new(
            Status::BadRequest,
            "invalid",
            format!("allowed_addresses: {m}"),
        )
    })?;
    let store = app.store.clone();
    let issued = blocking(move || {
        let expires_in = secure_defaults::token_lifetime(&store, req.expires_in.as_deref())
            .map_err(|m| OpError::Invalid(format!("expires_in: {m}")))?;
        tokens::issue(
            &store,
            &NewToken {
                tenant_slug: &t.0.tenant_slug,
                name: &req.name,
                read_only: req.read_only,
                kind: req.kind,
                expires_in,
                allowed_addresses,
            },
        )
    })
    .await?;
    Ok((
        Status::Created,
        Json(IssuedToken {
            token: issued.token,
            secret: issued.secret,
            replaces: None,
        }),
    ))
}

#[delete("/tenants/<_>/tokens/<id>")]
async fn revoke_token(
    _admin: Admin,
    t: TenantScope,
    id: String,
    app: &State<App>,
) -> Result<Json<TokenRow>, ApiError> {
    let store = app.store.clone();
    Ok(Json(
        blocking(move || tokens::revoke(&store, Some(&t.0.tenant_slug), &id)).await?,
    ))
}

/// Body of `POST /api/tenants/<slug>/tokens/<id>/rotate`.
#[derive(Deserialize)]
pub struct RotateRequest {
    overlap: Option<String>,
    expires_in: Option<String>,
}

#[post("/tenants/<_>/tokens/<id>/rotate", data = "<req>")]
async fn rotate_token(
    _admin: Admin,
    t: TenantScope,
    id: String,
    req: Body<'_, RotateRequest>,
    app: &State<App>,
) -> Result<(Status, Json<IssuedToken>), ApiError> {
    let req = body(req)?;
    let overlap = duration("overlap", req.overlap.as_deref())?.unwrap_or(DEFAULT_OVERLAP);
    let expires_in = duration("expires_in", req.expires_in.as_deref())?;
    let store = app.store.clone();
    let r = blocking(move || {
        tokens::rotate(
            &store,
            &Rotation {
                tenant_slug: Some(&t.0.tenant_slug),
                id_or_name: &id,
                overlap,
                expires_in,
            },
        )
    })
    .await?;
    Ok((
        Status::Created,
        Json(IssuedToken {
            token: r.new.token,
            secret: r.new.secret,
            replaces: Some(r.old),
        }),
    ))
}
