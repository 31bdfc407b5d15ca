//! Admin API for a tenant's settings (`/api/tenants/<slug>/settings`) and the schema extensions
//! it declares (`/api/tenants/<slug>/extensions`). JSON only; writes need the session's CSRF
//! token like every other admin write (the `Admin` guard).

use rocket::serde::json::Json;
use rocket::{Route, State, delete, get, patch, post, routes};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::App;
use super::admin::{Admin, ApiError, Body, TenantScope, blocking, body};
use crate::service::extensions::{self, Listed};
use crate::service::settings::{self, TenantSettings};

pub(crate) fn routes() -> Vec<Route> {
    routes![
        get_settings,
        patch_settings,
        list_extensions,
        declare_extension,
        remove_extension
    ]
}

#[get("/tenants/<_>/settings")]
async fn get_settings(
    _admin: Admin,
    t: TenantScope,
    app: &State<App>,
) -> Result<Json<TenantSettings>, ApiError> {
    let store = app.store.clone();
    Ok(Json(
        blocking(move || settings::show(&store, &t.0.tenant_slug)).await?,
    ))
}

#[patch("/tenants/<_>/settings", data = "<changes>")]
async fn patch_settings(
    _admin: Admin,
    t: TenantScope,
    changes: Body<'_, Map<String, Value>>,
    app: &State<App>,
) -> Result<Json<TenantSettings>, ApiError> {
    let changes = body(changes)?;
    let store = app.store.clone();
    Ok(Json(
        blocking(move || settings::set(&store, &t.0.tenant_slug, changes)).await?,
    ))
}

#[get("/tenants/<_>/extensions")]
async fn list_extensions(
    _admin: Admin,
    t: TenantScope,
    app: &State<App>,
) -> Result<Json<Vec<Listed>>, ApiError> {
    let store = app.store.clone();
    Ok(Json(
        blocking(move || extensions::list(&store, &t.0.tenant_slug)).await?,
    ))
}

/// Body of `POST /api/tenants/<slug>/extensions`: the RFC 7643 §7 schema and the resource type
/// it extends.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Declaration {
    resource_type: String,
    schema: Value,
}

#[post("/tenants/<_>/extensions", data = "<decl>")]
async fn declare_extension(
    _admin: Admin,
    t: TenantScope,
    decl: Body<'_, Declaration>,
    app: &State<App>,
) -> Result<Json<Listed>, ApiError> {
    let d = body(decl)?;
    let (store, limits) = (app.store.clone(), app.config.limits.extensions());
    Ok(Json(
        blocking(move || {
            extensions::declare(&store, &t.0.tenant_slug, &d.resource_type, d.schema, limits)
        })
        .await?,
    ))
}

#[delete("/tenants/<_>/extensions/<urn>")]
async fn remove_extension(
    _admin: Admin,
    t: TenantScope,
    urn: String,
    app: &State<App>,
) -> Result<Json<Listed>, ApiError> {
    let store = app.store.clone();
    Ok(Json(
        blocking(move || extensions::remove(&store, &t.0.tenant_slug, &urn)).await?,
    ))
}
