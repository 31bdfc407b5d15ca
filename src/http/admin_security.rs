//! Admin API for secure defaults (issue 27): the configuration's warnings and the defaults in
//! force (`GET /api/security`, for the dashboard and the token form), and a token's
//! client-address allowlist (`PUT /api/tenants/<slug>/tokens/<id>/addresses`).

use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::{Route, State, get, put, routes};
use serde::{Deserialize, Serialize};

use super::App;
use super::admin::{Admin, ApiError, Body, TenantScope, blocking, body};
use crate::config::ConfigWarning;
use crate::service::{OpError, secure_defaults, token_addresses};
use crate::store::tokens::TokenRow;

pub(crate) fn routes() -> Vec<Route> {
    routes![security, set_token_addresses]
}

/// What `GET /api/security` answers.
#[derive(Serialize)]
pub struct Security {
    /// The running configuration's warnings (plain HTTP off loopback, clamped values).
    warnings: Vec<ConfigWarning>,
    /// The per-token rate limit in force; 0 = off.
    requests_per_second: u32,
    /// The lifetime a new token gets unless another is chosen; null = never expires.
    token_expires_in: Option<String>,
}

#[get("/security")]
async fn security(_admin: Admin, app: &State<App>) -> Result<Json<Security>, ApiError> {
    let store = app.store.clone();
    let defaults = blocking(move || {
        secure_defaults::read(&store).map_err(|e| OpError::Internal(e.to_string()))
    })
    .await?;
    Ok(Json(Security {
        warnings: app.config.warnings(),
        requests_per_second: app.config.limits.requests_per_second.unwrap_or(0),
        token_expires_in: defaults.token_expires_in,
    }))
}

/// Body of `PUT /api/tenants/<slug>/tokens/<id>/addresses`: the whole new list.
#[derive(Deserialize)]
pub struct AddressesRequest {
    allowed_addresses: Vec<String>,
}

#[put("/tenants/<_>/tokens/<id>/addresses", data = "<req>")]
async fn set_token_addresses(
    _admin: Admin,
    t: TenantScope,
    id: String,
    req: Body<'_, AddressesRequest>,
    app: &State<App>,
) -> Result<Json<TokenRow>, ApiError> {
    let list = token_addresses::parse(&body(req)?.allowed_addresses).map_err(|m| {
        ApiError::new(
            Status::BadRequest,
            "invalid",
            format!("allowed_addresses: {m}"),
        )
    })?;
    let store = app.store.clone();
    Ok(Json(
        blocking(move || token_addresses::set(&store, Some(&t.0.tenant_slug), &id, list)).await?,
    ))
}
