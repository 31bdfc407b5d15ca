//! Admin API browsing of one tenant's users and groups (`/api/tenants/<slug>/users|groups`):
//! `q` free text, a raw SCIM `filter`, `sortBy`/`sortOrder`, `startIndex`/`count`, and one
//! resource with its memberships. Everything goes through the SCIM filter engine and the
//! tenant's scope, so the admin sees exactly what that tenant's SCIM API holds.

use rocket::serde::json::Json;
use rocket::{Route, State, get, routes};
use serde_json::Value;

use super::App;
use super::admin::{Admin, ApiError, TenantScope};
use super::query::Query;
use crate::scim::schema::{GROUP, USER};
use crate::service::browse::{self, BrowseParams};

pub(crate) fn routes() -> Vec<Route> {
    routes![list_users, get_user, list_groups, get_group]
}

fn params(q: &Query) -> BrowseParams {
    let own = |n: &str| q.get(n).map(str::to_owned);
    BrowseParams {
        q: own("q"),
        filter: own("filter"),
        sort_by: own("sortBy"),
        sort_order: own("sortOrder"),
        start_index: own("startIndex"),
        count: own("count"),
    }
}

#[get("/tenants/<_>/users")]
async fn list_users(
    _admin: Admin,
    t: TenantScope,
    q: Query,
    app: &State<App>,
) -> Result<Json<Value>, ApiError> {
    let max = app.config.limits.max_results;
    Ok(Json(
        browse::list(&app.store, &USER, &t.0, &params(&q), max).await?,
    ))
}

#[get("/tenants/<_>/users/<id>")]
async fn get_user(
    _admin: Admin,
    t: TenantScope,
    id: &str,
    app: &State<App>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(browse::user(&app.store, &t.0, id).await?))
}

#[get("/tenants/<_>/groups")]
async fn list_groups(
    _admin: Admin,
    t: TenantScope,
    q: Query,
    app: &State<App>,
) -> Result<Json<Value>, ApiError> {
    let max = app.config.limits.max_results;
    Ok(Json(
        browse::list(&app.store, &GROUP, &t.0, &params(&q), max).await?,
    ))
}

#[get("/tenants/<_>/groups/<id>")]
async fn get_group(
    _admin: Admin,
    t: TenantScope,
    id: &str,
    q: Query,
    app: &State<App>,
) -> Result<Json<Value>, ApiError> {
    let max = app.config.limits.max_results;
    Ok(Json(
        browse::group(
            &app.store,
            &t.0,
            id,
            q.get("startIndex"),
            q.get("count"),
            max,
        )
        .await?,
    ))
}
