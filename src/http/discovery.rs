//! Discovery endpoints (RFC 7644 §4): `/ServiceProviderConfig`, `/ResourceTypes`, `/Schemas`.
//! No token needed. What they advertise is what scimd implements, nothing more.

use rocket::{Route, State, get, routes};
use serde_json::{Value, json};

use super::App;
use super::auth::Discovery;
use super::respond::ScimResponse;
use crate::scim::ScimError;
use crate::scim::list::list_response;
use crate::scim::schema;
use crate::service::Scope;

pub(crate) fn routes() -> Vec<Route> {
    routes![
        service_provider_config,
        list_resource_types,
        get_resource_type,
        list_schemas,
        get_schema
    ]
}

#[get("/ServiceProviderConfig")]
fn service_provider_config(d: Discovery, app: &State<App>) -> ScimResponse {
    let limits = &app.config.limits;
    let mut config = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "documentationUri": "https://github.com/scimd/scimd#readme",
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": limits.max_results},
        "changePassword": {"supported": d.0.accept_password},
        "sort": {"supported": true},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "Bearer token",
            "description": "Authentication with a bearer token created by `scimd token create`, sent as \"Authorization: Bearer scim_…\".",
            "primary": true,
        }],
        "meta": {"resourceType": "ServiceProviderConfig", "location": format!("{}/ServiceProviderConfig", d.0.base_url)},
    });
    // draft-zollner-scim-interop-profile-01 §4: claimed only by a tenant that behaves as the
    // profile requires (tenant setting `interop_profile`); others omit it.
    if d.0.interop_profile {
        config["interopProfileConformant"] = Value::Bool(true);
    }
    ScimResponse::ok(config)
}

fn resource_type_json(base: &str, rt: &schema::ResourceType) -> Value {
    rt.to_json(&format!("{base}/ResourceTypes/{}", rt.name))
}

#[get("/ResourceTypes")]
fn list_resource_types(d: Discovery) -> ScimResponse {
    let all: Vec<Value> =
        d.0.schemas
            .types()
            .iter()
            .map(|rt| resource_type_json(&d.0.base_url, rt))
            .collect();
    ScimResponse::ok(list_response(all.len() as u64, 1, all))
}

#[get("/ResourceTypes/<name>")]
fn get_resource_type(d: Discovery, name: &str) -> Result<ScimResponse, ScimError> {
    d.0.schemas
        .types()
        .iter()
        .find(|rt| rt.name == name)
        .map(|rt| ScimResponse::ok(resource_type_json(&d.0.base_url, rt)))
        .ok_or_else(|| {
            ScimError::not_found(format!(
                "there is no resource type \"{name}\"; this server has User and Group"
            ))
        })
}

fn schema_json(scope: &Scope, s: &schema::SchemaDef) -> Value {
    let mut out = s.to_json(&format!("{}/Schemas/{}", scope.base_url, s.id));
    // A tenant that refuses `password` (accept_password = false) does not declare it: /Schemas
    // lists what the tenant takes (Interop Profile §5.1).
    if !scope.accept_password
        && let Some(Value::Array(attrs)) = out.get_mut("attributes")
    {
        attrs.retain(|a| a["name"] != "password");
    }
    out
}

#[get("/Schemas")]
fn list_schemas(d: Discovery) -> ScimResponse {
    let all: Vec<Value> =
        d.0.schemas
            .schemas()
            .map(|s| schema_json(&d.0, s))
            .collect();
    ScimResponse::ok(list_response(all.len() as u64, 1, all))
}

#[get("/Schemas/<id>")]
fn get_schema(d: Discovery, id: &str) -> Result<ScimResponse, ScimError> {
    d.0.schemas
        .schema(id)
        .map(|s| ScimResponse::ok(schema_json(&d.0, s)))
        .ok_or_else(|| {
            ScimError::not_found(format!(
                "there is no schema \"{id}\"; GET /Schemas lists the ones this server has"
            ))
        })
}
