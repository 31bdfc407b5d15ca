//! Admin API for troubleshooting: search the request log and read one entry with its
//! diagnosis (`/api/log`), a resource's history, and per-token integration health
//! (`/api/health`), and the last report of `scimd doctor` (`/api/doctor`). Session required
//! (read-only routes, so no CSRF).

use std::sync::Arc;

use rocket::serde::json::Json;
use rocket::{Route, State, get, routes};

use super::App;
use super::admin::{Admin, ApiError, TenantScope, blocking};
use super::resources::Endpoint;
use crate::service::OpError;
use crate::service::events::{self, BrowsePage};
use crate::service::history::{self, History};
use crate::service::request_log::{self, FullEntry, Health, Page, RequestLog, SearchParams};

pub(crate) fn routes() -> Vec<Route> {
    routes![
        search_log,
        get_log_entry,
        resource_history,
        health,
        browse_events,
        doctor
    ]
}

fn number(name: &str, v: Option<&str>) -> Result<Option<u64>, ApiError> {
    v.map(|s| {
        s.parse().map_err(|_| {
            ApiError::from(OpError::Invalid(format!(
                "{name} = \"{s}\" must be a positive whole number"
            )))
        })
    })
    .transpose()
}

#[allow(clippy::too_many_arguments)]
#[get(
    "/log?<tenant>&<status>&<token>&<idp>&<resource>&<request_id>&<since>&<until>&<page>&<per_page>"
)]
async fn search_log(
    _admin: Admin,
    tenant: Option<String>,
    status: Option<String>,
    token: Option<String>,
    idp: Option<String>,
    resource: Option<String>,
    request_id: Option<String>,
    since: Option<String>,
    until: Option<String>,
    page: Option<&str>,
    per_page: Option<&str>,
    app: &State<App>,
) -> Result<Json<Page>, ApiError> {
    let params = SearchParams {
        tenant,
        status,
        token,
        idp,
        resource,
        request_id,
        since,
        until,
        page: number("page", page)?,
        per_page: number("per_page", per_page)?,
    };
    let store = app.store.clone();
    Ok(Json(
        blocking(move || request_log::search(&store, &params)).await?,
    ))
}

#[get("/log/<id>")]
async fn get_log_entry(
    _admin: Admin,
    id: i64,
    app: &State<App>,
) -> Result<Json<FullEntry>, ApiError> {
    let store = app.store.clone();
    Ok(Json(blocking(move || request_log::show(&store, id)).await?))
}

#[get("/tenants/<_>/<endpoint>/<id>/history")]
async fn resource_history(
    _admin: Admin,
    t: TenantScope,
    endpoint: Endpoint,
    id: String,
    app: &State<App>,
) -> Result<Json<History>, ApiError> {
    let store = app.store.clone();
    Ok(Json(
        blocking(move || history::of(&store, &t.0, endpoint.0, &id)).await?,
    ))
}

/// The Events view: a tenant's events newest first (`before` pages back).
#[get("/tenants/<_>/events?<before>&<type>&<resource>&<limit>")]
async fn browse_events(
    _admin: Admin,
    t: TenantScope,
    before: Option<&str>,
    r#type: Option<String>,
    resource: Option<String>,
    limit: Option<&str>,
    app: &State<App>,
) -> Result<Json<BrowsePage>, ApiError> {
    let before = number("before", before)?.map(|b| i64::try_from(b).unwrap_or(i64::MAX));
    let limit = number("limit", limit)?.unwrap_or(50).clamp(1, 200) as u32;
    let (store, scan) = (app.store.clone(), app.config.events.browse_scan_rows);
    let (kind, resource) = (
        r#type.filter(|s| !s.is_empty()),
        resource.filter(|s| !s.is_empty()),
    );
    Ok(Json(
        blocking(move || {
            events::browse(
                &store,
                &t.0,
                before,
                kind.as_deref(),
                resource.as_deref(),
                limit,
                scan,
            )
        })
        .await?,
    ))
}

#[get("/health?<tenant>")]
async fn health(
    _admin: Admin,
    tenant: Option<String>,
    app: &State<App>,
    log: &State<Arc<RequestLog>>,
) -> Result<Json<Health>, ApiError> {
    let store = app.store.clone();
    let log = Arc::clone(log);
    let slug = tenant.unwrap_or_else(|| crate::store::tenants::DEFAULT_SLUG.to_owned());
    Ok(Json(
        blocking(move || request_log::health(&store, &log, &slug)).await?,
    ))
}

/// The last report `scimd doctor` kept, or null when it never ran against this database.
#[get("/doctor")]
async fn doctor(
    _admin: Admin,
    app: &State<App>,
) -> Result<Json<Option<crate::service::doctor::Report>>, ApiError> {
    let store = app.store.clone();
    Ok(Json(
        blocking(move || {
            crate::service::doctor::last_report(&store)
                .map_err(|e| OpError::Internal(e.to_string()))
        })
        .await?,
    ))
}
