//! Admin API for a tenant's OAuth 2.0 clients (`/api/tenants/<slug>/oauth-clients`): list
//! (with the tenant's token endpoint), register (the secret is in that one answer), rotate,
//! revoke, set redirect URIs; and the consent of the authorization code grant, which the UI's
//! consent page calls as the signed-in admin. The token endpoint itself is `http::oauth`.

use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::{Route, State, delete, get, post, put, routes};
use serde::{Deserialize, Serialize};

use super::App;
use super::admin::{Admin, ApiError, Body, TenantScope, blocking, body};
use super::oauth::{Origin, RawQuery};
use crate::service::OpError;
use crate::service::oauth::{self, ListedClient, NewClient, Registered, Rotation};
use crate::service::oauth_code::{self, Authorization};
use crate::service::oauth_external as external;
use crate::service::tokens::{DEFAULT_OVERLAP, parse_duration};
use crate::store::oauth::{ClientRow, IssuerRow, Method};

pub(crate) fn routes() -> Vec<Route> {
    routes![
        list_clients,
        create_client,
        rotate_client,
        revoke_client,
        set_redirect_uris,
        get_consent,
        post_consent,
        list_issuers,
        add_issuer,
        remove_issuer
    ]
}

/// Where a tenant's clients get their tokens: what an IdP's OAuth settings need.
#[derive(Serialize)]
pub struct Endpoints {
    authorization_endpoint: String,
    token_endpoint: String,
    issuer: String,
    metadata: String,
    scope: &'static str,
}

fn endpoints(origin: &str, slug: &str) -> Endpoints {
    Endpoints {
        authorization_endpoint: oauth::authorization_endpoint(origin, slug),
        token_endpoint: oauth::token_endpoint(origin, slug),
        issuer: oauth::issuer(origin, slug),
        metadata: oauth::metadata_url(origin, slug),
        scope: oauth::SCOPE,
    }
}

/// `GET /api/tenants/<slug>/oauth-clients`.
#[derive(Serialize)]
pub struct Clients {
    #[serde(flatten)]
    endpoints: Endpoints,
    clients: Vec<ListedClient>,
}

#[get("/tenants/<_>/oauth-clients")]
async fn list_clients(
    _admin: Admin,
    t: TenantScope,
    origin: Origin,
    app: &State<App>,
) -> Result<Json<Clients>, ApiError> {
    let store = app.store.clone();
    let slug = t.0.tenant_slug.clone();
    let clients = blocking(move || oauth::list(&store, Some(&slug))).await?;
    Ok(Json(Clients {
        endpoints: endpoints(&origin.0, &t.0.tenant_slug),
        clients,
    }))
}

/// Body of `POST /api/tenants/<slug>/oauth-clients`.
#[derive(Deserialize)]
pub struct NewClientRequest {
    name: String,
    /// `client_secret` (default) or `private_key_jwt`.
    #[serde(default)]
    method: Option<String>,
    public_keys: Option<String>,
    jwks_uri: Option<String>,
    /// Given, the client uses the authorization code grant (Okta's OAuth 2).
    #[serde(default)]
    redirect_uris: Vec<String>,
}

/// A client just registered or rotated: the only answer that carries its secret.
#[derive(Serialize)]
pub struct Shown {
    #[serde(flatten)]
    registered: Registered,
    #[serde(flatten)]
    endpoints: Endpoints,
}

fn method(m: Option<&str>) -> Result<Method, ApiError> {
    match m.unwrap_or("client_secret") {
        "client_secret" | "client_secret_basic" | "client_secret_post" => Ok(Method::ClientSecret),
        "private_key_jwt" => Ok(Method::PrivateKeyJwt),
        other => Err(ApiError::from(OpError::Invalid(format!(
            "method: \"{other}\" is not offered; use client_secret or private_key_jwt"
        )))),
    }
}

fn blank(s: Option<String>) -> Option<String> {
    s.filter(|v| !v.trim().is_empty())
}

#[post("/tenants/<_>/oauth-clients", data = "<req>")]
async fn create_client(
    _admin: Admin,
    t: TenantScope,
    origin: Origin,
    req: Body<'_, NewClientRequest>,
    app: &State<App>,
) -> Result<(Status, Json<Shown>), ApiError> {
    let req = body(req)?;
    let method = method(req.method.as_deref())?;
    let (store, cfg) = (app.store.clone(), app.config.oauth.clone());
    let slug = t.0.tenant_slug.clone();
    let registered = blocking(move || {
        let keys = blank(req.public_keys);
        let uri = blank(req.jwks_uri);
        let new = NewClient {
            tenant_slug: &slug,
            name: &req.name,
            method,
            public_keys: keys.as_deref(),
            jwks_uri: uri.as_deref(),
            redirect_uris: &req.redirect_uris,
        };
        oauth::add(&store, &new, &cfg)
    })
    .await?;
    let endpoints = endpoints(&origin.0, &t.0.tenant_slug);
    Ok((
        Status::Created,
        Json(Shown {
            registered,
            endpoints,
        }),
    ))
}

/// Body of `POST /api/tenants/<slug>/oauth-clients/<id>/rotate`.
#[derive(Deserialize)]
pub struct RotateRequest {
    overlap: Option<String>,
    public_keys: Option<String>,
    jwks_uri: Option<String>,
}

#[post("/tenants/<_>/oauth-clients/<id>/rotate", data = "<req>")]
async fn rotate_client(
    _admin: Admin,
    t: TenantScope,
    id: String,
    origin: Origin,
    req: Body<'_, RotateRequest>,
    app: &State<App>,
) -> Result<Json<Shown>, ApiError> {
    let req = body(req)?;
    let overlap = match req.overlap.as_deref() {
        Some(o) => parse_duration(o)
            .map_err(|m| ApiError::from(OpError::Invalid(format!("overlap: {m}"))))?,
        None => DEFAULT_OVERLAP,
    };
    let (store, cfg) = (app.store.clone(), app.config.oauth.clone());
    let slug = t.0.tenant_slug.clone();
    let registered = blocking(move || {
        let (keys, uri) = (blank(req.public_keys), blank(req.jwks_uri));
        let r = Rotation {
            tenant_slug: Some(&slug),
            wanted: &id,
            overlap,
            public_keys: keys.as_deref(),
            jwks_uri: uri.as_deref(),
        };
        oauth::rotate(&store, &r, &cfg)
    })
    .await?;
    let endpoints = endpoints(&origin.0, &t.0.tenant_slug);
    Ok(Json(Shown {
        registered,
        endpoints,
    }))
}

#[delete("/tenants/<_>/oauth-clients/<id>")]
async fn revoke_client(
    _admin: Admin,
    t: TenantScope,
    id: String,
    app: &State<App>,
) -> Result<Json<ClientRow>, ApiError> {
    let store = app.store.clone();
    Ok(Json(
        blocking(move || oauth::revoke(&store, Some(&t.0.tenant_slug), &id)).await?,
    ))
}

/// Body of `PUT /api/tenants/<slug>/oauth-clients/<id>/redirect-uris`.
#[derive(Deserialize)]
pub struct RedirectUris {
    redirect_uris: Vec<String>,
}

#[put("/tenants/<_>/oauth-clients/<id>/redirect-uris", data = "<req>")]
async fn set_redirect_uris(
    _admin: Admin,
    t: TenantScope,
    id: String,
    req: Body<'_, RedirectUris>,
    app: &State<App>,
) -> Result<Json<ClientRow>, ApiError> {
    let uris = body(req)?.redirect_uris;
    let (store, cfg) = (app.store.clone(), app.config.oauth.clone());
    let slug = t.0.tenant_slug.clone();
    Ok(Json(
        blocking(move || oauth_code::set_redirect_uris(&store, &cfg, (Some(&slug), &id), &uris))
            .await?,
    ))
}

/// What the consent page shows: the client, the tenant, the scope and where the answer goes.
#[derive(Serialize)]
pub struct ConsentView {
    client_name: String,
    client_id: String,
    tenant: String,
    tenant_display_name: String,
    scope: String,
    redirect_uri: String,
    pkce: bool,
}

async fn checked(
    app: &App,
    origin: &str,
    slug: &str,
    query: &str,
) -> Result<Authorization, ApiError> {
    oauth_code::check(&app.store, origin, slug, query)
        .await
        .map_err(|r| ApiError::new(Status::BadRequest, "invalid_request", r.detail()))
}

/// `GET /api/tenants/<slug>/oauth-consent?<the authorization request>`.
#[get("/tenants/<_>/oauth-consent")]
async fn get_consent(
    _admin: Admin,
    t: TenantScope,
    query: RawQuery,
    origin: Origin,
    app: &State<App>,
) -> Result<Json<ConsentView>, ApiError> {
    let auth = checked(app, &origin.0, &t.0.tenant_slug, query.as_str()).await?;
    Ok(Json(ConsentView {
        client_name: auth.client.name,
        client_id: auth.client.client_id,
        tenant_display_name: auth.tenant.display_name,
        tenant: auth.tenant.slug,
        scope: auth.scope,
        redirect_uri: auth.redirect_to,
        pkce: auth.code_challenge.is_some(),
    }))
}

/// Body of `POST /api/tenants/<slug>/oauth-consent`: the authorization request's query as the
/// page got it, and the admin's answer.
#[derive(Deserialize)]
pub struct ConsentAnswer {
    request: String,
    allow: bool,
}

/// Where the browser goes next: the client's redirect URI with a code, or with
/// `error=access_denied`.
#[derive(Serialize)]
pub struct ConsentRedirect {
    redirect: String,
}

#[post("/tenants/<_>/oauth-consent", data = "<req>")]
async fn post_consent(
    admin: Admin,
    t: TenantScope,
    origin: Origin,
    req: Body<'_, ConsentAnswer>,
    app: &State<App>,
) -> Result<Json<ConsentRedirect>, ApiError> {
    let req = body(req)?;
    let auth = checked(app, &origin.0, &t.0.tenant_slug, &req.request).await?;
    let redirect = oauth_code::consent(
        &app.store,
        &app.config.oauth,
        &auth,
        &admin.session.username,
        req.allow,
    )
    .await?;
    // The answer holds the code: never in a log.
    Ok(Json(ConsentRedirect { redirect }))
}

#[get("/tenants/<_>/oauth-issuers")]
async fn list_issuers(
    _admin: Admin,
    t: TenantScope,
    app: &State<App>,
) -> Result<Json<Vec<IssuerRow>>, ApiError> {
    let store = app.store.clone();
    Ok(Json(
        blocking(move || external::list(&store, Some(&t.0.tenant_slug))).await?,
    ))
}

/// Body of `POST /api/tenants/<slug>/oauth-issuers`.
#[derive(Deserialize)]
pub struct NewIssuer {
    name: String,
    issuer: String,
    jwks_uri: String,
    audience: Option<String>,
}

#[post("/tenants/<_>/oauth-issuers", data = "<req>")]
async fn add_issuer(
    _admin: Admin,
    t: TenantScope,
    req: Body<'_, NewIssuer>,
    app: &State<App>,
) -> Result<(Status, Json<IssuerRow>), ApiError> {
    let req = body(req)?;
    let (store, cfg) = (app.store.clone(), app.config.oauth.clone());
    let row = blocking(move || {
        let audience = blank(req.audience);
        external::add(
            &store,
            &cfg,
            (&t.0.tenant_slug, &req.name),
            (&req.issuer, &req.jwks_uri, audience.as_deref()),
        )
    })
    .await?;
    Ok((Status::Created, Json(row)))
}

#[delete("/tenants/<_>/oauth-issuers/<id>")]
async fn remove_issuer(
    _admin: Admin,
    t: TenantScope,
    id: String,
    app: &State<App>,
) -> Result<Json<IssuerRow>, ApiError> {
    let store = app.store.clone();
    Ok(Json(
        blocking(move || external::remove(&store, Some(&t.0.tenant_slug), &id)).await?,
    ))
}
