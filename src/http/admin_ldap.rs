//! Admin API of the LDAP directory (`/api/tenants/<slug>/ldap`): the values an application
//! needs (URL, base DN, bind DN, filters) and the tenant's service accounts (create, shown
//! once; remove). The UI's LDAP page reads it.

use rocket::serde::json::Json;
use rocket::{Route, State, delete, get, post, routes};
use serde::{Deserialize, Serialize};

use super::App;
use super::admin::{Admin, ApiError, Body, TenantScope, blocking, body};
use crate::service::ldap::{self, ListedAccount};

pub(crate) fn routes() -> Vec<Route> {
    routes![show, add_account, remove_account]
}

/// What the LDAP page shows.
#[derive(Debug, Serialize)]
struct Overview {
    enabled: bool,
    /// The listener's address; `None` when it listens on every address (the UI then shows
    /// the host the browser used).
    host: Option<String>,
    port: u16,
    tls_port: Option<u16>,
    starttls: bool,
    base_dn: String,
    people_dn: String,
    groups_dn: String,
    user_filter: &'static str,
    group_filter: &'static str,
    accounts: Vec<ListedAccount>,
}

#[get("/tenants/<_>/ldap")]
async fn show(_admin: Admin, t: TenantScope, app: &State<App>) -> Result<Json<Overview>, ApiError> {
    let store = app.store.clone();
    let slug = t.0.tenant_slug.clone();
    let (dir, accounts) = blocking(move || {
        Ok((
            ldap::directory_of(&store, &slug)?,
            ldap::list_accounts(&store, Some(&slug))?,
        ))
    })
    .await?;
    let l = &app.config.ldap;
    let b = dir.base_dn;
    Ok(Json(Overview {
        enabled: l.enabled,
        host: (!l.address.is_unspecified()).then(|| l.address.to_string()),
        port: l.port,
        tls_port: l.tls_port,
        starttls: app.config.tls.is_some(),
        people_dn: format!("ou=people,{b}"),
        groups_dn: format!("ou=groups,{b}"),
        base_dn: b,
        user_filter: "(&(objectClass=inetOrgPerson)(uid=%s))",
        group_filter: "(&(objectClass=groupOfNames)(member=%s))",
        accounts,
    }))
}

#[derive(Debug, Deserialize)]
struct NewAccount {
    name: String,
}

/// A created account: the secret appears in this answer only.
#[derive(Debug, Serialize)]
struct Created {
    name: String,
    bind_dn: String,
    secret: String,
}

#[post("/tenants/<_>/ldap/accounts", data = "<new>")]
async fn add_account(
    _admin: Admin,
    t: TenantScope,
    new: Body<'_, NewAccount>,
    app: &State<App>,
) -> Result<Json<Created>, ApiError> {
    let new = body(new)?;
    let store = app.store.clone();
    let slug = t.0.tenant_slug.clone();
    let issued = blocking(move || ldap::add_account(&store, &slug, &new.name)).await?;
    Ok(Json(Created {
        name: issued.account.name,
        bind_dn: issued.bind_dn,
        secret: issued.secret,
    }))
}

#[delete("/tenants/<_>/ldap/accounts/<name>")]
async fn remove_account(
    _admin: Admin,
    t: TenantScope,
    name: &str,
    app: &State<App>,
) -> Result<rocket::http::Status, ApiError> {
    let (store, slug, name) = (app.store.clone(), t.0.tenant_slug.clone(), name.to_owned());
    blocking(move || ldap::remove_account(&store, &slug, &name)).await?;
    Ok(rocket::http::Status::NoContent)
}
