//! Admin API of deletion safety (issue 25): a tenant's deleted users and groups
//! (`/api/tenants/<slug>/deleted`), restoring and erasing one, the erasures recorded, and the
//! mass-change alarms with their one revert action. Writes need the session's CSRF token (the
//! `Admin` guard); the admin's name is recorded as who acted.

use std::sync::Arc;

use rocket::serde::json::Json;
use rocket::{Route, State, get, post, routes};

use super::App;
use super::admin::{Admin, ApiError, TenantScope};
use super::query::Query;
use crate::service::alarms::{self, Reverted};
use crate::service::deleted::{self, DeletedPage, Erased, Restored};
use crate::service::request_log::RequestLog;
use crate::store::tombstones::{Alarm, Erasure};

pub(crate) fn routes() -> Vec<Route> {
    routes![
        list_deleted,
        restore,
        erase,
        list_erasures,
        list_alarms,
        revert_alarm,
        dismiss_alarm
    ]
}

/// Rows a listing returns at most.
const PAGE: u32 = 200;

fn who(admin: &Admin) -> String {
    format!("admin {}", admin.session.username)
}

#[get("/tenants/<_>/deleted")]
async fn list_deleted(
    _admin: Admin,
    t: TenantScope,
    q: Query,
    app: &State<App>,
) -> Result<Json<DeletedPage>, ApiError> {
    let store = app.store.clone();
    let before = q.get("before").map(str::to_owned);
    Ok(Json(
        super::admin::blocking(move || deleted::list(&store, &t.0, before.as_deref(), PAGE))
            .await?,
    ))
}

#[post("/tenants/<_>/deleted/<id>/restore")]
async fn restore(
    admin: Admin,
    t: TenantScope,
    id: &str,
    app: &State<App>,
) -> Result<Json<Restored>, ApiError> {
    let batch = app.config.deletion.batch_rows;
    Ok(Json(
        deleted::restore(&app.store, &t.0, id, &who(&admin), batch).await?,
    ))
}

#[post("/tenants/<_>/deleted/<id>/erase")]
async fn erase(
    admin: Admin,
    t: TenantScope,
    id: &str,
    app: &State<App>,
    log: &State<Arc<RequestLog>>,
) -> Result<Json<Erased>, ApiError> {
    let (batch, log) = (app.config.deletion.batch_rows, Some(&***log));
    Ok(Json(
        deleted::erase(&app.store, &t.0, id, &who(&admin), batch, log).await?,
    ))
}

#[get("/tenants/<_>/erasures")]
async fn list_erasures(
    _admin: Admin,
    t: TenantScope,
    app: &State<App>,
) -> Result<Json<Vec<Erasure>>, ApiError> {
    let store = app.store.clone();
    Ok(Json(
        super::admin::blocking(move || deleted::erasures(&store, &t.0, PAGE)).await?,
    ))
}

#[get("/tenants/<_>/alarms")]
async fn list_alarms(
    _admin: Admin,
    t: TenantScope,
    app: &State<App>,
) -> Result<Json<Vec<Alarm>>, ApiError> {
    let store = app.store.clone();
    Ok(Json(
        super::admin::blocking(move || alarms::list(&store, &t.0, PAGE)).await?,
    ))
}

#[post("/tenants/<_>/alarms/<id>/revert")]
async fn revert_alarm(
    admin: Admin,
    t: TenantScope,
    id: i64,
    app: &State<App>,
) -> Result<Json<Reverted>, ApiError> {
    let batch = app.config.deletion.batch_rows;
    Ok(Json(
        alarms::revert(&app.store, &t.0, id, &who(&admin), batch).await?,
    ))
}

#[post("/tenants/<_>/alarms/<id>/dismiss")]
async fn dismiss_alarm(
    admin: Admin,
    t: TenantScope,
    id: i64,
    app: &State<App>,
) -> Result<Json<serde_json::Value>, ApiError> {
    alarms::dismiss(&app.store, &t.0, id, &who(&admin)).await?;
    Ok(Json(serde_json::json!({"dismissed": id})))
}
