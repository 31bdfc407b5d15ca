//! Requests no SCIM route took: 405 with `Allow` for a known endpoint used with the wrong
//! method, 501 for the optional features scimd does not implement (Bulk, /Me), 404 naming the
//! endpoints that exist for anything else. Ranked after every real route.

use std::path::{Path, PathBuf};

use rocket::http::Method;
use rocket::{Route, delete, get, patch, post, put, routes};

use crate::scim::ScimError;

pub(crate) fn routes() -> Vec<Route> {
    routes![
        fallback_get,
        fallback_post,
        fallback_put,
        fallback_patch,
        fallback_delete
    ]
}

/// Methods a path under the SCIM base accepts, or `None` if it is not an endpoint.
fn allowed(path: &str) -> Option<&'static [&'static str]> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        ["Users" | "Groups"] => Some(&["GET", "POST"]),
        ["Users" | "Groups" | "", ".search"] | [".search"] => Some(&["POST"]),
        ["Users" | "Groups", _] => Some(&["GET", "PUT", "PATCH", "DELETE"]),
        ["ServiceProviderConfig" | "ResourceTypes" | "Schemas"]
        | ["ResourceTypes" | "Schemas", _] => Some(&["GET"]),
        _ => None,
    }
}

fn answer(method: Method, path: &Path) -> ScimError {
    let path = path.to_string_lossy();
    let first = path.split('/').next().unwrap_or_default();
    if first == "Bulk" {
        return ScimError::new(
            501,
            "Bulk operations are not supported by scimd (bulk.supported is false in /ServiceProviderConfig); send each operation as its own request",
        );
    }
    if first == "Me" {
        return ScimError::new(
            501,
            "/Me is not supported: scimd tokens belong to an integration, not to a user (RFC 7644 §3.11)",
        );
    }
    if path.starts_with(".search") {
        return ScimError::new(
            501,
            "POST /.search across all resource types is not supported yet; use /Users/.search or /Groups/.search",
        );
    }
    match allowed(&path) {
        Some(methods) => ScimError::new(
            405,
            format!(
                "{method} is not allowed on /{path}; it accepts {}",
                methods.join(", ")
            ),
        ),
        None => ScimError::not_found(format!(
            "/{path} is not a SCIM endpoint; this server has /Users, /Groups, /ServiceProviderConfig, /ResourceTypes and /Schemas under its SCIM base URL"
        )),
    }
}

#[get("/<path..>", rank = 100)]
fn fallback_get(path: PathBuf) -> ScimError {
    answer(Method::Get, &path)
}

#[post("/<path..>", rank = 100)]
fn fallback_post(path: PathBuf) -> ScimError {
    answer(Method::Post, &path)
}

#[put("/<path..>", rank = 100)]
fn fallback_put(path: PathBuf) -> ScimError {
    answer(Method::Put, &path)
}

#[patch("/<path..>", rank = 100)]
fn fallback_patch(path: PathBuf) -> ScimError {
    answer(Method::Patch, &path)
}

#[delete("/<path..>", rank = 100)]
fn fallback_delete(path: PathBuf) -> ScimError {
    answer(Method::Delete, &path)
}
