//! `/Users` and `/Groups` (RFC 7644 §3.2–§3.6): one set of thin handlers for both resource
//! types, selected by the endpoint segment.

use rocket::request::FromParam;
use rocket::{Route, State, delete, get, patch, post, put, routes};

use super::App;
use super::auth::Authorized;
use super::body::ScimJson;
use super::query::Query;
use super::request_log::Noticed;
use super::respond::ScimResponse;
use crate::scim::ScimError;
use crate::scim::list::RawListParams;
use crate::scim::projection::Projection;
use crate::scim::quirks::Quirks;
use crate::scim::resource::WriteLimits;
use crate::scim::schema::{self, ResourceType};
use crate::service::resources::{self as service, Precondition};

pub(crate) fn routes() -> Vec<Route> {
    routes![
        list_resources,
        search_resources,
        search_all,
        get_resource,
        create_resource,
        replace_resource,
        patch_resource,
        delete_resource
    ]
}

/// The endpoint segment: `Users` or `Groups`.
pub struct Endpoint(pub(crate) &'static ResourceType);

impl<'a> FromParam<'a> for Endpoint {
    type Error = &'a str;

    fn from_param(param: &'a str) -> Result<Self, Self::Error> {
        schema::ALL_RESOURCE_TYPES
            .iter()
            .find(|rt| rt.endpoint.trim_start_matches('/') == param)
            .map(|rt| Endpoint(rt))
            .ok_or(param)
    }
}

impl Endpoint {
    /// This resource type as the caller's tenant serves it (with its extensions).
    fn of<'s>(&self, scope: &'s crate::service::Scope) -> &'s schema::TypeRef {
        scope.schemas.get(self.0)
    }
}

/// `If-Match` / `If-None-Match` request headers.
pub struct Preconditions {
    if_match: Option<Precondition>,
    if_none_match: Option<Precondition>,
}

#[rocket::async_trait]
impl<'r> rocket::request::FromRequest<'r> for Preconditions {
    type Error = std::convert::Infallible;

    async fn from_request(
        req: &'r rocket::Request<'_>,
    ) -> rocket::request::Outcome<Self, Self::Error> {
        let h = |name| req.headers().get_one(name).map(Precondition::parse);
        rocket::request::Outcome::Success(Self {
            if_match: h("If-Match"),
            if_none_match: h("If-None-Match"),
        })
    }
}

fn projection(q: &Query) -> Result<Projection, ScimError> {
    Projection::parse(q.get("attributes"), q.get("excludedAttributes"))
}

fn max_results(app: &App) -> u32 {
    app.config.limits.max_results
}

fn write_limits(app: &App) -> WriteLimits {
    WriteLimits {
        max_patch_operations: app.config.limits.max_patch_operations,
        max_multi_values: app.config.limits.max_multi_values,
    }
}

#[get("/<endpoint>", rank = 2)]
async fn list_resources(
    endpoint: Endpoint,
    auth: Authorized,
    q: Query,
    noticed: &Noticed,
    app: &State<App>,
) -> Result<ScimResponse, ScimError> {
    let query = q.list_params().parse(max_results(app))?;
    list(&endpoint, &auth, query, noticed, app).await
}

/// One resource type's list, for GET and POST /.search alike; the dialect the query was written
/// in goes to the request log.
async fn list(
    endpoint: &Endpoint,
    auth: &Authorized,
    query: crate::scim::list::ListQuery,
    noticed: &Noticed,
    app: &App,
) -> Result<ScimResponse, ScimError> {
    let mut quirks = Quirks::default();
    let rt = endpoint.of(&auth.scope);
    let listed = service::list(&app.store, rt, &auth.scope, query, &mut quirks).await;
    noticed.keep(&quirks);
    Ok(ScimResponse::ok(listed?))
}

#[post("/<endpoint>/.search", data = "<body>", rank = 2)]
async fn search_resources(
    endpoint: Endpoint,
    auth: Authorized,
    body: ScimJson,
    noticed: &Noticed,
    app: &State<App>,
) -> Result<ScimResponse, ScimError> {
    let query = search_params(&body.0)?.parse(max_results(app))?;
    list(&endpoint, &auth, query, noticed, app).await
}

#[post("/.search", data = "<body>")]
async fn search_all(
    auth: Authorized,
    body: ScimJson,
    noticed: &Noticed,
    app: &State<App>,
) -> Result<ScimResponse, ScimError> {
    let query = search_params(&body.0)?.parse(max_results(app))?;
    let mut quirks = Quirks::default();
    let found = service::search_all(&app.store, &auth.scope, query, &mut quirks).await;
    noticed.keep(&quirks);
    Ok(ScimResponse::ok(found?))
}

#[get("/<endpoint>/<id>", rank = 2)]
async fn get_resource(
    endpoint: Endpoint,
    id: &str,
    auth: Authorized,
    q: Query,
    pre: Preconditions,
    app: &State<App>,
) -> Result<ScimResponse, ScimError> {
    if let Some(p) = &pre.if_none_match {
        let current =
            service::current_etag(&app.store, endpoint.of(&auth.scope), &auth.scope, id).await?;
        if p.matches(&current) {
            return Ok(ScimResponse::not_modified(current));
        }
    }
    Ok(ScimResponse::resource(
        service::get(
            &app.store,
            endpoint.of(&auth.scope),
            &auth.scope,
            id,
            &projection(&q)?,
        )
        .await?,
    ))
}

#[post("/<endpoint>", data = "<body>", rank = 2)]
async fn create_resource(
    endpoint: Endpoint,
    auth: Authorized,
    q: Query,
    body: ScimJson,
    noticed: &Noticed,
    app: &State<App>,
) -> Result<ScimResponse, ScimError> {
    let mut quirks = auth.scope.quirks();
    let created = service::create(
        &app.store,
        endpoint.of(&auth.scope),
        &auth.scope,
        body.0,
        &projection(&q)?,
        &write_limits(app),
        &mut quirks,
    )
    .await;
    noticed.keep(&quirks);
    Ok(ScimResponse::created(created?))
}

#[put("/<endpoint>/<id>", data = "<body>", rank = 2)]
// Each argument is a request guard Rocket resolves; none is a value a caller passes.
#[allow(clippy::too_many_arguments)]
async fn replace_resource(
    endpoint: Endpoint,
    id: &str,
    auth: Authorized,
    q: Query,
    pre: Preconditions,
    body: ScimJson,
    noticed: &Noticed,
    app: &State<App>,
) -> Result<ScimResponse, ScimError> {
    let mut quirks = auth.scope.quirks();
    let replaced = service::replace(
        &app.store,
        endpoint.of(&auth.scope),
        &auth.scope,
        id,
        body.0,
        pre.if_match,
        &projection(&q)?,
        &write_limits(app),
        &mut quirks,
    )
    .await;
    noticed.keep(&quirks);
    Ok(ScimResponse::resource(replaced?))
}

#[patch("/<endpoint>/<id>", data = "<body>", rank = 2)]
// Each argument is a request guard Rocket resolves; none is a value a caller passes.
#[allow(clippy::too_many_arguments)]
async fn patch_resource(
    endpoint: Endpoint,
    id: &str,
    auth: Authorized,
    q: Query,
    pre: Preconditions,
    body: ScimJson,
    noticed: &Noticed,
    app: &State<App>,
) -> Result<ScimResponse, ScimError> {
    let mut quirks = auth.scope.quirks();
    let patched = service::patch(
        &app.store,
        endpoint.of(&auth.scope),
        &auth.scope,
        id,
        body.0,
        pre.if_match,
        &projection(&q)?,
        &write_limits(app),
        &mut quirks,
    )
    .await;
    noticed.keep(&quirks);
    Ok(patched?.map_or_else(ScimResponse::no_content, ScimResponse::resource))
}

#[delete("/<endpoint>/<id>", rank = 2)]
async fn delete_resource(
    endpoint: Endpoint,
    id: &str,
    auth: Authorized,
    pre: Preconditions,
    app: &State<App>,
) -> Result<ScimResponse, ScimError> {
    service::delete(
        &app.store,
        endpoint.of(&auth.scope),
        &auth.scope,
        id,
        pre.if_match,
    )
    .await?;
    Ok(ScimResponse::no_content())
}

/// Reads a SearchRequest body (RFC 7644 §3.4.3) into the same parameters as a query string.
fn search_params(body: &serde_json::Value) -> Result<RawListParams, ScimError> {
    let obj = body.as_object().ok_or_else(|| {
        ScimError::invalid_syntax("a SearchRequest body must be a JSON object (RFC 7644 §3.4.3)")
    })?;
    let get = |name: &str| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    };
    let text = |name: &str| -> Result<Option<String>, ScimError> {
        match get(name) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
            Some(serde_json::Value::Number(n)) => Ok(Some(n.to_string())),
            Some(serde_json::Value::Array(items)) => {
                let parts: Option<Vec<&str>> =
                    items.iter().map(serde_json::Value::as_str).collect();
                parts.map(|p| Some(p.join(","))).ok_or_else(|| {
                    ScimError::invalid_syntax(format!("{name} must be an array of strings"))
                })
            }
            Some(_) => Err(ScimError::invalid_syntax(format!(
                "{name} has the wrong type in the SearchRequest"
            ))),
        }
    };
    Ok(RawListParams {
        filter: text("filter")?,
        start_index: text("startIndex")?,
        count: text("count")?,
        sort_by: text("sortBy")?,
        sort_order: text("sortOrder")?,
        attributes: text("attributes")?,
        excluded_attributes: text("excludedAttributes")?,
    })
}
