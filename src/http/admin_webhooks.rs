//! Admin API for a tenant's webhooks (`/api/tenants/<slug>/webhooks`): list, add (the secret is
//! in that one answer), show with the newest attempts, send a test event, replay from a cursor,
//! rotate the secret, disable, remove. Delivery itself is `service::webhooks::Delivery`'s.

use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::{Route, State, delete, get, post, routes};
use serde::Deserialize;

use super::App;
use super::admin::{Admin, ApiError, Body, TenantScope, blocking, body};
use crate::service::OpError;
use crate::service::tokens::{DEFAULT_OVERLAP, parse_duration};
use crate::service::webhooks::{self, Created, Detail, Listed};
use crate::store::webhooks::{Attempt, Webhook};

/// Attempts shown with an endpoint.
const SHOWN_ATTEMPTS: u32 = 50;

pub(crate) fn routes() -> Vec<Route> {
    routes![
        list_webhooks,
        create_webhook,
        get_webhook,
        remove_webhook,
        test_webhook,
        replay_webhook,
        rotate_webhook,
        disable_webhook
    ]
}

/// Body of `POST /api/tenants/<slug>/webhooks`.
#[derive(Deserialize)]
pub struct NewWebhook {
    url: String,
    #[serde(default)]
    types: Vec<String>,
}

/// Body of `POST …/replay`: deliver the events after this cursor (default: the endpoint's own).
#[derive(Deserialize)]
pub struct Replay {
    after: Option<i64>,
}

/// Body of `POST …/rotate`: how long the old secret keeps signing (default 24h).
#[derive(Deserialize)]
pub struct Rotate {
    overlap: Option<String>,
}

#[get("/tenants/<_>/webhooks")]
async fn list_webhooks(
    _admin: Admin,
    t: TenantScope,
    app: &State<App>,
) -> Result<Json<Vec<Listed>>, ApiError> {
    let store = app.store.clone();
    Ok(Json(
        blocking(move || webhooks::list(&store, Some(&t.0.tenant_slug))).await?,
    ))
}

#[post("/tenants/<_>/webhooks", data = "<req>")]
async fn create_webhook(
    _admin: Admin,
    t: TenantScope,
    req: Body<'_, NewWebhook>,
    app: &State<App>,
) -> Result<(Status, Json<Created>), ApiError> {
    let req = body(req)?;
    let (store, cfg) = (app.store.clone(), app.config.webhooks.clone());
    let created =
        blocking(move || webhooks::add(&store, &cfg, &t.0.tenant_slug, &req.url, req.types))
            .await?;
    Ok((Status::Created, Json(created)))
}

#[get("/tenants/<_>/webhooks/<id>")]
async fn get_webhook(
    _admin: Admin,
    t: TenantScope,
    id: String,
    app: &State<App>,
) -> Result<Json<Detail>, ApiError> {
    let store = app.store.clone();
    Ok(Json(
        blocking(move || webhooks::show(&store, Some(&t.0.tenant_slug), &id, SHOWN_ATTEMPTS))
            .await?,
    ))
}

#[delete("/tenants/<_>/webhooks/<id>")]
async fn remove_webhook(
    _admin: Admin,
    t: TenantScope,
    id: String,
    app: &State<App>,
) -> Result<Json<Webhook>, ApiError> {
    let store = app.store.clone();
    Ok(Json(
        blocking(move || webhooks::remove(&store, Some(&t.0.tenant_slug), &id)).await?,
    ))
}

#[post("/tenants/<_>/webhooks/<id>/test")]
async fn test_webhook(
    _admin: Admin,
    t: TenantScope,
    id: String,
    app: &State<App>,
) -> Result<Json<Attempt>, ApiError> {
    let (store, cfg) = (app.store.clone(), app.config.webhooks.clone());
    Ok(Json(
        blocking(move || webhooks::test(&store, &cfg, Some(&t.0.tenant_slug), &id)).await?,
    ))
}

#[post("/tenants/<_>/webhooks/<id>/replay", data = "<req>")]
async fn replay_webhook(
    _admin: Admin,
    t: TenantScope,
    id: String,
    req: Body<'_, Replay>,
    app: &State<App>,
) -> Result<Json<Webhook>, ApiError> {
    let after = body(req)?.after;
    let store = app.store.clone();
    Ok(Json(
        blocking(move || webhooks::replay(&store, Some(&t.0.tenant_slug), &id, after)).await?,
    ))
}

#[post("/tenants/<_>/webhooks/<id>/rotate", data = "<req>")]
async fn rotate_webhook(
    _admin: Admin,
    t: TenantScope,
    id: String,
    req: Body<'_, Rotate>,
    app: &State<App>,
) -> Result<Json<Created>, ApiError> {
    let overlap = match body(req)?.overlap {
        Some(o) => parse_duration(&o).map_err(|m| OpError::Invalid(format!("overlap: {m}")))?,
        None => DEFAULT_OVERLAP,
    };
    let store = app.store.clone();
    Ok(Json(
        blocking(move || webhooks::rotate(&store, Some(&t.0.tenant_slug), &id, overlap)).await?,
    ))
}

#[post("/tenants/<_>/webhooks/<id>/disable")]
async fn disable_webhook(
    _admin: Admin,
    t: TenantScope,
    id: String,
    app: &State<App>,
) -> Result<Json<Webhook>, ApiError> {
    let store = app.store.clone();
    Ok(Json(
        blocking(move || webhooks::disable(&store, Some(&t.0.tenant_slug), &id)).await?,
    ))
}
