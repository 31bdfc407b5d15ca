//! Issue 27: the requirement tables of docs/profiles/*.md, one test per MUST row. Each test
//! names the rows it shows with `// profile-row: <id>` and runs against a tenant in
//! Interoperability Profile mode (tenant setting `interop_profile`); the checker at the end
//! fails when a MUST row of any table has no such marker under tests/. Beside them, the
//! tolerance default tenants keep (the IdP replay depends on it) and the checks every tenant
//! gets (canonicalValues, `schemas` PATCH, `externalId` in /Schemas).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::{Map, Value, json};

use crate::admin_api::{api, sign_in};
use crate::common::{TestApp, enc, okta_user};
use crate::request_log::flush;
use crate::server::{free_port, scimd};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ADSCIM: &str = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group";

fn set(app: &TestApp, key: &str, value: Value) {
    let changes = Map::from_iter([(key.to_owned(), value)]);
    scimd::service::settings::set(&app.app().store, "default", changes).expect("setting");
}

/// A server whose `default` tenant is in Interoperability Profile mode.
async fn profile_app() -> TestApp {
    let app = TestApp::new().await;
    set(&app, "interop_profile", json!(true));
    app
}

fn ops(list: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": list})
}

fn user(user_name: &str) -> Value {
    json!({"schemas": [USER], "userName": user_name,
           "name": {"givenName": "Ada", "middleName": "King", "familyName": "Lovelace"},
           "emails": [{"value": user_name, "type": "work", "primary": true}],
           "externalId": format!("ext-{user_name}"), "active": true})
}

async fn create(app: &TestApp, body: Value) -> String {
    let r = app.post("/scim/v2/Users", body).await;
    assert_eq!(r.status, 201, "{}", r.raw);
    r.body["id"].as_str().expect("id").to_owned()
}

fn count(app: &TestApp) -> i64 {
    app.sql_int("SELECT COUNT(*) FROM resources")
}

/// The newest request log entry as the admin API shows it (signed in already).
async fn newest_entry(app: &TestApp) -> Value {
    flush(app).await;
    let r = api(app, "GET", "/api/log?per_page=1", None, None, None).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let id = r.body["items"][0]["id"].clone();
    let r = api(app, "GET", &format!("/api/log/{id}"), None, None, None).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    r.body
}

fn quirk_ids(entry: &Value) -> Vec<String> {
    entry["quirks"]
        .as_array()
        .map(|l| {
            l.iter()
                .filter_map(|q| q["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

// --- Interop Profile ---------------------------------------------------------------------

#[rocket::async_test]
async fn only_a_profile_mode_tenant_claims_conformance() {
    // profile-row: IOP-4-a
    // profile-row: IOP-4-b
    let app = TestApp::new().await;
    let spc = app.get("/scim/v2/ServiceProviderConfig").await;
    assert!(
        spc.ok().get("interopProfileConformant").is_none(),
        "{}",
        spc.raw
    );
    set(&app, "interop_profile", json!(true));
    let spc = app.get("/scim/v2/ServiceProviderConfig").await;
    assert_eq!(spc.ok()["interopProfileConformant"], true, "{}", spc.raw);
    set(&app, "interop_profile", json!(false));
    let spc = app.get("/scim/v2/ServiceProviderConfig").await;
    assert!(spc.ok().get("interopProfileConformant").is_none());
}

#[rocket::async_test]
async fn discovery_is_served_and_every_referenced_schema_is_published() {
    // profile-row: IOP-5.1-a
    // profile-row: IOP-5.1-c
    // profile-row: IOP-5.1-d
    // profile-row: IPSIE-4.1-a
    // profile-row: IPSIE-4.2-a
    let app = profile_app().await;
    let spc = app.get("/scim/v2/ServiceProviderConfig").await;
    assert_eq!(spc.ok()["patch"]["supported"], true);
    assert_eq!(spc.body["filter"]["supported"], true);
    let types = app.get("/scim/v2/ResourceTypes").await;
    let types = types.ok()["Resources"].as_array().expect("types").clone();
    let names: Vec<&str> = types.iter().filter_map(|t| t["name"].as_str()).collect();
    assert_eq!(names, ["User", "Group"]);
    for t in &types {
        assert_eq!(t["id"], t["name"], "{t}");
        let mut referenced = vec![t["schema"].as_str().expect("schema").to_owned()];
        for e in t["schemaExtensions"].as_array().expect("extensions") {
            referenced.push(e["schema"].as_str().expect("urn").to_owned());
        }
        for urn in referenced {
            let s = app.get(&format!("/scim/v2/Schemas/{urn}")).await;
            assert_eq!(s.ok()["id"], json!(urn));
        }
    }
}

/// Every attribute of the published core schemas, by name.
async fn published(app: &TestApp, urn: &str) -> BTreeMap<String, Value> {
    let s = app.get(&format!("/scim/v2/Schemas/{urn}")).await;
    s.ok()["attributes"]
        .as_array()
        .expect("attributes")
        .iter()
        .map(|a| (a["name"].as_str().expect("name").to_owned(), a.clone()))
        .collect()
}

/// An element of `attr` of type `ty` (photos take URLs, certificates base64, addresses have
/// no `value`).
fn element(attr: &str, ty: &Value) -> Value {
    match attr {
        "addresses" => json!({"locality": "London", "type": ty}),
        "photos" => json!({"value": "https://example.test/ada.png", "type": ty}),
        "x509Certificates" => json!({"value": "TUlJQ2REQ0NBZDJnQXdJQkFnSUJBREFOQmdr", "type": ty}),
        "emails" => json!({"value": "ada@example.test", "type": ty}),
        _ => json!({"value": "value-1", "type": ty}),
    }
}

#[rocket::async_test]
async fn schemas_declare_canonical_types_and_external_id_and_take_exactly_those() {
    // profile-row: IOP-5.1-b
    // profile-row: IOP-5.4-a
    // profile-row: IPSIE-3.2.2.1-a
    // profile-row: IPSIE-3.2.2.1-b
    // profile-row: IPSIE-4.3-a
    let app = profile_app().await;
    let user_attrs = published(&app, USER).await;
    let group_attrs = published(&app, GROUP).await;
    for attrs in [&user_attrs, &group_attrs] {
        let ext = &attrs["externalId"];
        assert_eq!(ext["caseExact"], true, "{ext}");
        assert_eq!(ext["mutability"], "readWrite", "{ext}");
    }
    assert_eq!(user_attrs["userName"]["required"], true);
    assert_eq!(group_attrs["displayName"]["required"], true);
    assert!(user_attrs.contains_key("emails"));
    let mut typed = BTreeSet::new();
    for (name, a) in &user_attrs {
        let Some(subs) = a["subAttributes"].as_array() else {
            continue;
        };
        let Some(ty) = subs.iter().find(|s| s["name"] == "type") else {
            continue;
        };
        let allowed = ty["canonicalValues"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(
            !allowed.is_empty(),
            "{name}.type declares no canonicalValues"
        );
        typed.insert(name.clone());
        if a["mutability"] == "readOnly" {
            continue;
        }
        // Every declared value is taken, and nothing else (profile mode refuses the rest).
        for v in &allowed {
            let mut body = user(&format!("{name}-{}@x.test", v.as_str().expect("text")));
            body[name.as_str()] = json!([element(name, v)]);
            let r = app.post("/scim/v2/Users", body).await;
            assert_eq!(r.status, 201, "{name} type {v}: {}", r.raw);
        }
        let before = count(&app);
        let mut body = user(&format!("{name}-bogus@x.test"));
        body[name.as_str()] = json!([element(name, &json!("bogus"))]);
        let d = app
            .post("/scim/v2/Users", body)
            .await
            .assert_error(400, Some("invalidValue"));
        let first = allowed[0].as_str().expect("text");
        assert!(
            d.contains(name.as_str()) && d.contains("bogus") && d.contains(first),
            "{d}"
        );
        assert_eq!(count(&app), before, "nothing stored");
    }
    for name in [
        "emails",
        "phoneNumbers",
        "ims",
        "photos",
        "addresses",
        "entitlements",
        "roles",
        "x509Certificates",
        "groups",
    ] {
        assert!(typed.contains(name), "{name} has a typed sub-attribute");
    }
}

#[rocket::async_test]
async fn case_sensitivity_is_the_same_for_filters_and_uniqueness() {
    // profile-row: IOP-5.2-a
    // profile-row: IOP-5.2-b
    // profile-row: IOP-5.2-c
    // profile-row: IOP-5.2-d
    let app = profile_app().await;
    let mut body = user("JSmith");
    body["externalId"] = json!("ABC-123");
    let id = create(&app, body).await;
    let found = app
        .get(&format!(
            "/scim/v2/Users?filter={}",
            enc("userName eq \"jsmith\"")
        ))
        .await;
    assert_eq!(found.ok()["totalResults"], 1, "{}", found.raw);
    app.post("/scim/v2/Users", user("jsmith"))
        .await
        .assert_error(409, Some("uniqueness"));
    let exact = |v: &str| {
        format!(
            "/scim/v2/Users?filter={}",
            enc(&format!("externalId eq \"{v}\""))
        )
    };
    assert_eq!(app.get(&exact("ABC-123")).await.ok()["totalResults"], 1);
    assert_eq!(app.get(&exact("abc-123")).await.ok()["totalResults"], 0);
    app.create_group("Ops").await;
    let found = app
        .get(&format!(
            "/scim/v2/Groups?filter={}",
            enc("displayName eq \"ops\"")
        ))
        .await;
    assert_eq!(found.ok()["totalResults"], 1, "{}", found.raw);
    app.post(
        "/scim/v2/Groups",
        json!({"schemas": [GROUP], "displayName": "OPS"}),
    )
    .await
    .assert_error(409, Some("uniqueness"));
    assert_eq!(app.get(&format!("/scim/v2/Users/{id}")).await.status, 200);
    let upper = id.to_uppercase();
    assert_ne!(upper, id);
    app.get(&format!("/scim/v2/Users/{upper}"))
        .await
        .assert_error(404, None);
}

#[rocket::async_test]
async fn undefined_attributes_and_schema_uris_are_refused_with_invalid_syntax() {
    // profile-row: IOP-5.3-a
    // profile-row: IOP-5.3-b
    let app = profile_app().await;
    let id = create(&app, user("ada@x.test")).await;
    let before = app.get(&format!("/scim/v2/Users/{id}")).await.body;
    let mut undeclared = user("bob@x.test");
    undeclared["favouriteColour"] = json!("teal");
    let mut foreign_urn = user("bob@x.test");
    foreign_urn["schemas"] = json!([USER, "urn:example:unknown:1.0"]);
    let mut tolerated = user("bob@x.test");
    tolerated["schemas"] = json!([USER, "urn:scim:schemas:core:1.0"]);
    let mut sub = user("bob@x.test");
    sub["name"]["nickname"] = json!("B");
    for body in [undeclared, foreign_urn, tolerated, sub] {
        let d = app
            .post("/scim/v2/Users", body.clone())
            .await
            .assert_error(400, Some("invalidSyntax"));
        assert!(d.contains("strict"), "{d}");
        app.put(&format!("/scim/v2/Users/{id}"), body)
            .await
            .assert_error(400, Some("invalidSyntax"));
    }
    let group = json!({"schemas": [GROUP, ADSCIM], "displayName": "Ops"});
    app.post("/scim/v2/Groups", group)
        .await
        .assert_error(400, Some("invalidSyntax"));
    for op in [
        json!({"op": "replace", "path": "favouriteColour", "value": "teal"}),
        json!({"op": "add", "path": "urn:example:unknown:1.0:badge", "value": "7"}),
        json!({"op": "add", "path": "schemas", "value": [USER, "urn:example:unknown:1.0"]}),
    ] {
        app.patch(&format!("/scim/v2/Users/{id}"), ops(json!([op])))
            .await
            .assert_error(400, Some("invalidSyntax"));
    }
    assert_eq!(app.get(&format!("/scim/v2/Users/{id}")).await.body, before);
    assert_eq!(count(&app), 1);
}

#[rocket::async_test]
async fn each_type_has_its_endpoint_and_resources_are_addressed_by_id() {
    // profile-row: IOP-6.1-a
    // profile-row: IOP-6.1-b
    let app = profile_app().await;
    let id = create(&app, user("ada@x.test")).await;
    let gid = app.create_group("Ops").await;
    let users = app.get("/scim/v2/Users").await;
    assert_eq!(users.ok()["totalResults"], 1, "{}", users.raw);
    assert_eq!(users.body["Resources"][0]["id"], json!(id));
    let groups = app.get("/scim/v2/Groups").await;
    assert_eq!(groups.ok()["totalResults"], 1);
    assert_eq!(groups.body["Resources"][0]["id"], json!(gid));
    assert_eq!(app.get(&format!("/scim/v2/Users/{id}")).await.status, 200);
    app.get(&format!("/scim/v2/Groups/{id}"))
        .await
        .assert_error(404, None);
    app.get(&format!("/scim/v2/Users/{gid}"))
        .await
        .assert_error(404, None);
    app.get("/scim/v2/Users/ada@x.test")
        .await
        .assert_error(404, None);
}

#[rocket::async_test]
async fn responses_are_scim_json_and_basic_authentication_is_refused() {
    // profile-row: IOP-6.2-a
    // profile-row: IOP-7.2-a
    // profile-row: IPSIE-5-b
    let app = profile_app().await;
    let created = app.post("/scim/v2/Users", user("ada@x.test")).await;
    assert_eq!(created.status, 201);
    let id = created.body["id"].as_str().expect("id");
    let patched = app
        .patch(
            &format!("/scim/v2/Users/{id}"),
            ops(json!([{"op": "replace", "path": "displayName", "value": "Ada"}])),
        )
        .await;
    for r in [
        &created,
        &patched,
        &app.get(&format!("/scim/v2/Users/{id}")).await,
        &app.get("/scim/v2/Users").await,
        &app.get("/scim/v2/Schemas").await,
    ] {
        assert_eq!(
            r.content_type.as_deref(),
            Some("application/scim+json"),
            "{}",
            r.raw
        );
        assert!(r.body.is_object(), "{}", r.raw);
    }
    app.get("/scim/v2/Users/nope").await.assert_error(404, None);
    let basic = app
        .send_with(
            "GET",
            "/scim/v2/Users",
            None,
            &[("Authorization", "Basic YWRhOnNlY3JldA==")],
        )
        .await;
    let d = basic.assert_error(401, None);
    assert!(d.contains("Bearer"), "{d}");
    // A server fault is a SCIM error that names no internals: a corrupt stored document.
    app.app()
        .store
        .write_blocking(|tx| {
            tx.execute("UPDATE resources SET doc = 'not json'", [])?;
            Ok(())
        })
        .expect("corrupt");
    let d = app
        .get(&format!("/scim/v2/Users/{id}"))
        .await
        .assert_error(500, None);
    assert!(
        !d.contains("sqlite") && !d.contains("serde") && !d.contains("not json"),
        "{d}"
    );
}

#[rocket::async_test]
async fn filters_take_eq_and_and_and_refuse_undefined_attributes() {
    // profile-row: IOP-6.3-a
    // profile-row: IOP-6.3-b
    // profile-row: IPSIE-3.2.2.7-a
    let app = profile_app().await;
    create(&app, user("ada@x.test")).await;
    create(&app, user("bob@x.test")).await;
    let find = |f: &str| format!("/scim/v2/Users?filter={}", enc(f));
    for (filter, hits) in [
        ("userName eq \"ada@x.test\"", 1),
        ("externalId eq \"ext-bob@x.test\"", 1),
        ("emails[value eq \"bob@x.test\"]", 1),
        ("userName eq \"ada@x.test\" and active eq true", 1),
        (
            "userName eq \"ada@x.test\" and externalId eq \"ext-bob@x.test\"",
            0,
        ),
    ] {
        let r = app.get(&find(filter)).await;
        assert_eq!(r.ok()["totalResults"], hits, "{filter}: {}", r.raw);
    }
    let d = app
        .get(&find("favouriteColour eq \"teal\""))
        .await
        .assert_error(400, Some("invalidFilter"));
    assert!(d.contains("favouriteColour"), "{d}");
}

#[rocket::async_test]
async fn pages_are_at_least_a_hundred_long_and_capped_by_max_results() {
    // profile-row: IOP-6.4-a
    // profile-row: IOP-6.4-b
    // profile-row: IOP-6.4-c
    // profile-row: IOP-6.4-d
    // profile-row: IOP-6.4-e
    // profile-row: IPSIE-3.2.2.5-a
    // profile-row: IPSIE-3.2.3.2-a
    let app = TestApp::with(|c| c.limits.max_results = 100).await;
    set(&app, "interop_profile", json!(true));
    for i in 0..105 {
        create(&app, user(&format!("u{i:03}@x.test"))).await;
    }
    for i in 0..3 {
        app.create_group(&format!("g{i}")).await;
    }
    let page = |q: &str| format!("/scim/v2/Users?{q}");
    let r = app.get(&page("")).await;
    assert_eq!(r.ok()["totalResults"], 105);
    assert_eq!(r.body["itemsPerPage"], 100, "no count: a page of 100");
    let r = app.get(&page("count=100")).await;
    assert_eq!(r.ok()["Resources"].as_array().map(Vec::len), Some(100));
    let r = app.get(&page("count=1000")).await;
    assert_eq!(
        r.ok()["Resources"].as_array().map(Vec::len),
        Some(100),
        "fewer than asked for: the server's maximum"
    );
    let r = app.get(&page("startIndex=101&count=100")).await;
    assert_eq!(r.ok()["Resources"].as_array().map(Vec::len), Some(5));
    assert_eq!(r.body["startIndex"], 101);
    let r = app.get("/scim/v2/Groups?startIndex=2&count=1").await;
    assert_eq!(r.ok()["totalResults"], 3);
    assert_eq!(r.body["Resources"].as_array().map(Vec::len), Some(1));
}

#[rocket::async_test]
async fn patch_needs_a_path_in_every_operation() {
    // profile-row: IOP-6.5-a
    // profile-row: IOP-6.5.1.1-a
    let app = profile_app().await;
    let id = create(&app, user("ada@x.test")).await;
    let path = format!("/scim/v2/Users/{id}");
    let before = app.get(&path).await.body;
    let d = app
        .patch(
            &path,
            ops(json!([
                {"op": "replace", "path": "displayName", "value": "Ada"},
                {"op": "replace", "value": {"active": false}}
            ])),
        )
        .await
        .assert_error(400, Some("invalidSyntax"));
    assert!(
        d.contains("Operations[1]") && d.contains("path") && d.contains("\"path\":\"active\""),
        "the detail names the operation and the fix: {d}"
    );
    assert_eq!(app.get(&path).await.body, before, "all or nothing");
    let r = app
        .patch(
            &path,
            ops(json!([{"op": "replace", "path": "active", "value": false}])),
        )
        .await;
    assert_eq!(r.ok()["active"], false);
}

#[rocket::async_test]
async fn add_and_replace_of_a_simple_attribute_are_the_same() {
    // profile-row: IOP-6.5.2.1-a
    let app = profile_app().await;
    let a = create(&app, user("a@x.test")).await;
    let b = create(&app, user("b@x.test")).await;
    for (id, op) in [(&a, "add"), (&b, "replace")] {
        let r = app
            .patch(
                &format!("/scim/v2/Users/{id}"),
                ops(json!([
                    {"op": op, "path": "displayName", "value": "Same"},
                    {"op": op, "path": "active", "value": false},
                    {"op": op, "path": "title", "value": "Engineer"}
                ])),
            )
            .await;
        assert_eq!(r.ok()["displayName"], "Same", "{op}");
        assert_eq!(r.body["active"], false, "{op}");
        assert_eq!(r.body["title"], "Engineer", "{op}");
    }
}

#[rocket::async_test]
async fn replace_of_a_whole_complex_attribute_replaces_and_add_merges() {
    // profile-row: IOP-6.5.2.1-b
    // profile-row: IOP-6.5.2.1-c
    let app = profile_app().await;
    let id = create(&app, user("ada@x.test")).await;
    let path = format!("/scim/v2/Users/{id}");
    let r = app
        .patch(
            &path,
            ops(json!([{"op": "replace", "path": "name",
                        "value": {"givenName": "Augusta", "familyName": "King"}}])),
        )
        .await;
    assert_eq!(
        r.ok()["name"],
        json!({"givenName": "Augusta", "familyName": "King"}),
        "middleName is gone"
    );
    let r = app
        .patch(
            &path,
            ops(json!([{"op": "add", "path": "name", "value": {"middleName": "Ada"}}])),
        )
        .await;
    assert_eq!(
        r.ok()["name"],
        json!({"givenName": "Augusta", "middleName": "Ada", "familyName": "King"})
    );
    // An extension's complex attribute too.
    let r = app
        .patch(
            &path,
            ops(json!([{"op": "add", "path": format!("{ENT}:manager"),
                        "value": {"value": "m-1", "displayName": "Boss"}}])),
        )
        .await;
    assert_eq!(r.ok()[ENT]["manager"]["value"], "m-1");
}

#[rocket::async_test]
async fn multi_valued_replace_replaces_the_collection_and_add_appends() {
    // profile-row: IOP-6.5.2.2-a
    // profile-row: IOP-6.5.2.2-b
    let app = profile_app().await;
    let id = create(&app, user("ada@x.test")).await;
    let path = format!("/scim/v2/Users/{id}");
    let r = app
        .patch(
            &path,
            ops(json!([{"op": "replace", "path": "emails",
                        "value": [{"value": "new@x.test", "type": "home"}]}])),
        )
        .await;
    assert_eq!(
        r.ok()["emails"],
        json!([{"value": "new@x.test", "type": "home"}])
    );
    let r = app
        .patch(
            &path,
            ops(json!([{"op": "add", "path": "emails",
                        "value": [{"value": "work@x.test", "type": "work"}]}])),
        )
        .await;
    assert_eq!(
        r.ok()["emails"],
        json!([{"value": "new@x.test", "type": "home"},
               {"value": "work@x.test", "type": "work"}])
    );
}

#[rocket::async_test]
async fn patch_keeps_delete_deletes_and_names_are_free_again() {
    // profile-row: IOP-6.6-a
    // profile-row: IOP-6.6-b
    // profile-row: IOP-6.6-c
    // profile-row: IOP-6.6-d
    // profile-row: IPSIE-3.2.2.3-c
    // profile-row: IPSIE-3.2.2.4-a
    let app = profile_app().await;
    let id = create(&app, user("ada@x.test")).await;
    let path = format!("/scim/v2/Users/{id}");
    let off = ops(json!([{"op": "replace", "path": "active", "value": false}]));
    assert_eq!(app.patch(&path, off).await.ok()["active"], false);
    assert_eq!(app.get(&path).await.ok()["active"], false, "kept");
    let on = ops(json!([{"op": "replace", "path": "active", "value": true}]));
    assert_eq!(app.patch(&path, on.clone()).await.ok()["active"], true);
    let r = app.delete(&path).await;
    assert_eq!(r.status, 204, "{}", r.raw);
    app.get(&path).await.assert_error(404, None);
    app.patch(&path, on.clone()).await.assert_error(404, None);
    app.put(&path, user("ada@x.test"))
        .await
        .assert_error(404, None);
    app.delete(&path).await.assert_error(404, None);
    let listed = app
        .get(&format!(
            "/scim/v2/Users?filter={}",
            enc("userName eq \"ada@x.test\"")
        ))
        .await;
    assert_eq!(listed.ok()["totalResults"], 0);
    assert_eq!(app.get("/scim/v2/Users").await.ok()["totalResults"], 0);
    let again = create(&app, user("ada@x.test")).await;
    assert_ne!(again, id);
}

#[rocket::async_test]
async fn uniqueness_conflicts_are_409_uniqueness() {
    // profile-row: IOP-6.9.1-a
    let app = profile_app().await;
    create(&app, user("ada@x.test")).await;
    let bob = create(&app, user("bob@x.test")).await;
    app.post("/scim/v2/Users", user("ada@x.test"))
        .await
        .assert_error(409, Some("uniqueness"));
    app.patch(
        &format!("/scim/v2/Users/{bob}"),
        ops(json!([{"op": "replace", "path": "userName", "value": "ADA@x.test"}])),
    )
    .await
    .assert_error(409, Some("uniqueness"));
    app.create_group("Ops").await;
    app.post(
        "/scim/v2/Groups",
        json!({"schemas": [GROUP], "displayName": "Ops"}),
    )
    .await
    .assert_error(409, Some("uniqueness"));
}

/// The setting through the admin API, as the UI's Settings page sends it: shown, validated,
/// and in effect at the tenant's next request; at its default it is not stored.
#[rocket::async_test]
async fn the_admin_api_turns_profile_mode_on_and_off() {
    let app = TestApp::new().await;
    let s = sign_in(&app).await;
    let path = "/api/tenants/default/settings";
    let shown = api(&app, "GET", path, None, None, None).await;
    assert_eq!(shown.body["interop_profile"], false, "{}", shown.raw);
    let set = |on: Value| {
        let csrf = s.csrf.clone();
        let app = &app;
        async move {
            api(
                app,
                "PATCH",
                path,
                Some(json!({"interop_profile": on})),
                Some(&csrf),
                None,
            )
            .await
        }
    };
    let r = set(json!("yes")).await;
    assert_eq!(r.status, 400, "{}", r.raw);
    assert!(r.raw.contains("interop_profile"), "{}", r.raw);
    let r = set(json!(true)).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.body["interop_profile"], true);
    let id = create(&app, user("ada@x.test")).await;
    app.patch(
        &format!("/scim/v2/Users/{id}"),
        ops(json!([{"op": "replace", "value": {"active": false}}])),
    )
    .await
    .assert_error(400, Some("invalidSyntax"));
    assert_eq!(
        app.get("/scim/v2/ServiceProviderConfig").await.body["interopProfileConformant"],
        true
    );
    let r = set(json!(false)).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert!(
        !app.sql_text("SELECT settings FROM tenants")
            .contains("interop_profile")
    );
    let r = app
        .patch(
            &format!("/scim/v2/Users/{id}"),
            ops(json!([{"op": "replace", "value": {"active": false}}])),
        )
        .await;
    assert_eq!(r.ok()["active"], false);
}

/// IPSIE's successor text forbids accepting `password`; LDAP binds need it. The tenant
/// setting `accept_password` (default true, profile mode included) chooses: off, every write
/// carrying one is refused naming the setting, and /Schemas and /ServiceProviderConfig stop
/// offering it.
#[rocket::async_test]
async fn a_tenant_can_refuse_passwords() {
    let app = profile_app().await;
    let id = create(&app, okta_user("ada@x.test")).await;
    let spc = app.get("/scim/v2/ServiceProviderConfig").await;
    assert_eq!(spc.ok()["changePassword"]["supported"], true);
    assert!(published(&app, USER).await.contains_key("password"));
    set(&app, "accept_password", json!(false));
    let path = format!("/scim/v2/Users/{id}");
    let before = app.get(&path).await.body;
    let hash = app.sql_text("SELECT COALESCE(password_hash, '') FROM resources");
    for r in [
        app.post("/scim/v2/Users", okta_user("bob@x.test")).await,
        app.put(&path, okta_user("ada@x.test")).await,
        app.patch(
            &path,
            ops(json!([{"op": "replace", "path": "password", "value": "n3w-Secret"}])),
        )
        .await,
    ] {
        let d = r.assert_error(400, Some("invalidValue"));
        assert!(
            d.contains("accept_password") && !d.contains("n3w-Secret"),
            "{d}"
        );
    }
    assert_eq!(app.get(&path).await.body, before);
    assert_eq!(
        app.sql_text("SELECT COALESCE(password_hash, '') FROM resources"),
        hash
    );
    assert_eq!(count(&app), 1);
    let mut without = okta_user("bob@x.test");
    without.as_object_mut().expect("object").remove("password");
    create(&app, without).await;
    let spc = app.get("/scim/v2/ServiceProviderConfig").await;
    assert_eq!(spc.ok()["changePassword"]["supported"], false);
    assert!(!published(&app, USER).await.contains_key("password"));
}

/// TLS 1.3 through `scimd serve` with profile mode turned on by the CLI: a client that speaks
/// only TLS 1.3 reads the tenant's ServiceProviderConfig.
#[test]
fn a_tls_13_only_client_reaches_a_profile_mode_tenant() {
    // profile-row: IOP-7.1-a
    // profile-row: IOP-7.1-b
    // profile-row: IPSIE-5-a
    let dir = tempfile::tempdir().expect("tempdir");
    let out = scimd(dir.path())
        .args(["tenant", "set", "default", "interop_profile=true"])
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.contains("interop_profile = true"),
        "{stderr}"
    );
    let out = scimd(dir.path())
        .args(["tenant", "show", "default"])
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("profile     SCIM Interoperability Profile"),
        "{stdout}"
    );
    let now = time::OffsetDateTime::now_utc();
    let p = crate::tls::pki(
        now - time::Duration::days(1),
        now + time::Duration::days(30),
    );
    let tls = crate::tls::write(dir.path(), &p.cert_pem, &p.key_pem);
    let (_server, _, base) = crate::tls::serve_tls(dir.path(), &p, &tls, free_port(), &[]);
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(p.ca_der.clone()))
        .expect("CA");
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13])
    .expect("TLS 1.3")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let agent = ureq::AgentBuilder::new()
        .tls_config(std::sync::Arc::new(config))
        .timeout(std::time::Duration::from_secs(5))
        .build();
    let res = agent
        .get(&format!("{base}/scim/v2/ServiceProviderConfig"))
        .call()
        .expect("TLS 1.3 handshake");
    let body: Value = serde_json::from_str(&res.into_string().expect("body")).expect("json");
    assert_eq!(body["interopProfileConformant"], true, "{body}");
}

// --- IPSIE (rows other than authentication) -----------------------------------------------

#[rocket::async_test]
async fn every_user_and_group_operation_of_the_profile_is_served() {
    // profile-row: IPSIE-3.2.1-a
    // profile-row: IPSIE-3.2.2-a
    // profile-row: IPSIE-3.2.3-a
    // profile-row: IPSIE-3.2.3.3-a
    // profile-row: IPSIE-3.2.3.5-a
    let app = profile_app().await;
    let ada = create(&app, user("ada@x.test")).await;
    let bob = create(&app, user("bob@x.test")).await;
    let upath = format!("/scim/v2/Users/{ada}");
    assert_eq!(app.get(&upath).await.ok()["userName"], "ada@x.test");
    let r = app
        .patch(
            &upath,
            ops(json!([{"op": "replace", "path": "title", "value": "CTO"}])),
        )
        .await;
    assert_eq!(r.ok()["title"], "CTO");
    let gid = app.create_group("Admins").await;
    let gpath = format!("/scim/v2/Groups/{gid}");
    let add = ops(json!([{"op": "add", "path": "members",
                          "value": [{"value": ada}, {"value": bob}]}]));
    assert!(matches!(app.patch(&gpath, add).await.status, 200 | 204));
    let r = app
        .get(&format!("{gpath}?excludedAttributes=members"))
        .await;
    assert!(r.ok().get("members").is_none(), "{}", r.raw);
    assert_eq!(r.body["displayName"], "Admins");
    let r = app
        .get(&format!(
            "/scim/v2/Groups?filter={}&excludedAttributes=members",
            enc("displayName eq \"Admins\"")
        ))
        .await;
    assert_eq!(r.ok()["totalResults"], 1);
    assert!(r.body["Resources"][0].get("members").is_none());
    let one = ops(json!([{"op": "remove", "path": format!("members[value eq \"{ada}\"]")}]));
    assert!(matches!(app.patch(&gpath, one).await.status, 200 | 204));
    let members = app.get(&gpath).await.body["members"].clone();
    assert_eq!(members.as_array().map(Vec::len), Some(1), "{members}");
    assert_eq!(members[0]["value"], json!(bob));
    let all = ops(json!([{"op": "remove", "path": "members"}]));
    assert!(matches!(app.patch(&gpath, all).await.status, 200 | 204));
    assert!(
        app.get(&gpath)
            .await
            .body
            .get("members")
            .is_none_or(|m| m == &json!([]))
    );
    assert_eq!(app.delete(&upath).await.status, 204);
    app.get(&upath).await.assert_error(404, None);
}

#[rocket::async_test]
async fn users_and_groups_change_only_through_scim() {
    // profile-row: IPSIE-3.2.1-b
    let app = profile_app().await;
    let id = create(&app, user("ada@x.test")).await;
    let s = sign_in(&app).await;
    let path = format!("/api/tenants/default/users/{id}");
    assert_eq!(api(&app, "GET", &path, None, None, None).await.status, 200);
    let before = app.get(&format!("/scim/v2/Users/{id}")).await.body;
    for method in ["PUT", "PATCH", "DELETE"] {
        let r = api(
            &app,
            method,
            &path,
            Some(json!({"displayName": "Changed"})),
            Some(&s.csrf),
            None,
        )
        .await;
        assert!(
            matches!(r.status, 404 | 405),
            "{method}: {} {}",
            r.status,
            r.raw
        );
    }
    let r = api(
        &app,
        "POST",
        "/api/tenants/default/users",
        Some(okta_user("new@x.test")),
        Some(&s.csrf),
        None,
    )
    .await;
    assert!(matches!(r.status, 404 | 405), "{}", r.raw);
    assert_eq!(app.get(&format!("/scim/v2/Users/{id}")).await.body, before);
    assert_eq!(count(&app), 1);
}

#[rocket::async_test]
async fn over_the_rate_limit_is_429_with_retry_after() {
    // profile-row: IPSIE-3.2.2.5-b
    let app = TestApp::with(|c| c.limits.requests_per_second = Some(2)).await;
    set(&app, "interop_profile", json!(true));
    let mut limited = None;
    for _ in 0..20 {
        let r = app.get("/scim/v2/Users").await;
        if r.status == 429 {
            limited = Some(r);
            break;
        }
        assert_eq!(r.status, 200, "{}", r.raw);
    }
    let r = limited.expect("a 429 within 20 requests at 2 per second");
    r.assert_error(429, None);
    let after: u64 = r
        .header("Retry-After")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds");
    assert!(after >= 1, "{after}");
}

#[rocket::async_test]
async fn every_provisioning_action_is_logged() {
    // profile-row: IPSIE-5-c
    let app = profile_app().await;
    sign_in(&app).await;
    let id = create(&app, user("ada@x.test")).await;
    let entry = newest_entry(&app).await;
    assert_eq!(entry["method"], "POST", "{entry}");
    assert_eq!(entry["status"], 201, "{entry}");
    app.patch(
        &format!("/scim/v2/Users/{id}"),
        ops(json!([{"op": "replace", "path": "active", "value": false}])),
    )
    .await;
    let entry = newest_entry(&app).await;
    assert_eq!(entry["method"], "PATCH", "{entry}");
    assert_eq!(entry["status"], 200, "{entry}");
    assert!(
        entry.to_string().contains("active"),
        "the body is kept: {entry}"
    );
    let r = api(
        &app,
        "GET",
        &format!("/api/tenants/default/Users/{id}/history"),
        None,
        None,
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert!(
        r.raw.contains("active"),
        "the change is in the history: {}",
        r.raw
    );
}

// --- Every tenant ------------------------------------------------------------------------

/// Default tenants keep today's tolerance (the IdP replay depends on it): a path-less PATCH is
/// applied, `replace name` merges, a foreign URN and a type outside canonicalValues are taken,
/// each recorded as a quirk on the log entry; nothing advertises the profile.
#[rocket::async_test]
async fn default_tenants_keep_their_tolerance_and_record_quirks() {
    let app = TestApp::new().await;
    sign_in(&app).await;
    let mut body = user("ada@x.test");
    // roles declare canonicalValues since issue 27: before, any type passed unnoticed.
    body["roles"] = json!([{"value": "admin", "type": "superuser"}]);
    let r = app.post("/scim/v2/Users", body).await;
    assert_eq!(r.status, 201, "{}", r.raw);
    assert_eq!(r.body["roles"][0]["type"], "superuser", "stored as sent");
    let entry = newest_entry(&app).await;
    assert!(
        quirk_ids(&entry).contains(&"non_canonical_value".to_owned()),
        "{entry}"
    );
    let id = r.body["id"].as_str().expect("id").to_owned();
    let path = format!("/scim/v2/Users/{id}");
    let r = app
        .patch(
            &path,
            ops(json!([{"op": "replace", "value": {"active": false}},
                       {"op": "replace", "path": "name",
                        "value": {"givenName": "Augusta", "familyName": "King"}}])),
        )
        .await;
    assert_eq!(r.ok()["active"], false);
    assert_eq!(
        r.body["name"]["middleName"], "King",
        "merged, RFC 7644 §3.5.2.3"
    );
    assert_eq!(r.body["name"]["givenName"], "Augusta");
    let entry = newest_entry(&app).await;
    assert!(
        quirk_ids(&entry).contains(&"pathless_patch".to_owned()),
        "{entry}"
    );
    let group = json!({"schemas": [GROUP, ADSCIM], "displayName": "Ops"});
    assert_eq!(app.post("/scim/v2/Groups", group).await.status, 201);
}

/// `add`/`replace` on `schemas` (issue 27: before, 400 invalidPath) are checked against the
/// URNs the tenant serves, on every tenant; the resource's `schemas` stays what its attributes
/// say.
#[rocket::async_test]
async fn patching_schemas_is_checked_against_the_served_urns() {
    let app = TestApp::new().await;
    let id = create(&app, user("ada@x.test")).await;
    let path = format!("/scim/v2/Users/{id}");
    let r = app
        .patch(
            &path,
            ops(json!([{"op": "add", "path": "schemas", "value": [ENT]},
                       {"op": "add", "path": format!("{ENT}:department"), "value": "R&D"}])),
        )
        .await;
    assert_eq!(r.ok()["schemas"], json!([USER, ENT]), "{}", r.raw);
    let r = app
        .patch(
            &path,
            ops(json!([{"op": "replace", "path": "schemas", "value": [USER, ENT]}])),
        )
        .await;
    assert_eq!(r.ok()["schemas"], json!([USER, ENT]));
    let before = app.get(&path).await.body;
    let d = app
        .patch(
            &path,
            ops(json!([{"op": "add", "path": "schemas", "value": ["urn:example:unknown:1.0"]}])),
        )
        .await
        .assert_error(400, Some("invalidValue"));
    assert!(
        d.contains("urn:example:unknown:1.0") && d.contains(USER) && d.contains(ENT),
        "names the URN and the served ones: {d}"
    );
    let d = app
        .patch(
            &path,
            ops(json!([{"op": "replace", "path": "schemas", "value": [ENT]}])),
        )
        .await
        .assert_error(400, Some("invalidValue"));
    assert!(d.contains(USER), "{d}");
    let d = app
        .patch(&path, ops(json!([{"op": "remove", "path": "schemas"}])))
        .await
        .assert_error(400, Some("invalidValue"));
    assert!(d.contains("cannot be removed"), "{d}");
    assert_eq!(app.get(&path).await.body, before);
    let gid = app.create_group("Ops").await;
    let r = app
        .patch(
            &format!("/scim/v2/Groups/{gid}"),
            ops(json!([{"op": "replace", "path": "schemas", "value": [GROUP]}])),
        )
        .await;
    assert!(matches!(r.status, 200 | 204), "{}", r.raw);
}

// --- The checker -------------------------------------------------------------------------

/// One row of a requirement table.
#[derive(Debug)]
struct Row {
    file: String,
    id: String,
    level: String,
}

/// The rows of every table under docs/profiles/, checked for form: the five columns in order,
/// a unique id, a known level, a non-empty requirement and answer.
fn rows(root: &Path) -> Vec<Row> {
    let mut out = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(root.join("docs/profiles"))
        .expect("docs/profiles")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no tables under docs/profiles");
    for file in files {
        let name = file
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let text = std::fs::read_to_string(&file).expect("read");
        let mut in_table = false;
        for line in text.lines() {
            let cells: Vec<&str> = line
                .trim()
                .trim_matches('|')
                .split(" | ")
                .map(str::trim)
                .collect();
            if !line.trim_start().starts_with('|') {
                in_table = false;
                continue;
            }
            if line
                .trim()
                .chars()
                .all(|c| matches!(c, '|' | '-' | ':' | ' '))
            {
                continue;
            }
            if cells.first() == Some(&"id") {
                assert_eq!(
                    cells,
                    ["id", "section", "level", "requirement", "scimd"],
                    "{name}: the header"
                );
                in_table = true;
                continue;
            }
            if !in_table {
                continue;
            }
            assert!(cells.len() >= 5, "{name}: a row needs five cells: {line}");
            let (id, level) = (cells[0], cells[2]);
            assert!(
                ["MUST", "SHOULD", "MAY"].contains(&level),
                "{name}: {id} has level {level}; use MUST, SHOULD or MAY"
            );
            assert!(
                !cells[3].is_empty() && !cells[4].is_empty(),
                "{name}: {id} needs a requirement and what scimd does"
            );
            out.push(Row {
                file: name.clone(),
                id: id.to_owned(),
                level: level.to_owned(),
            });
        }
    }
    out
}

/// Every `profile-row: <id>` marker in the files under `dir`.
fn markers(dir: &Path, out: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir)
        .expect("read dir")
        .filter_map(Result::ok)
    {
        let path = entry.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n == "node_modules") {
                continue;
            }
            markers(&path, out);
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        for (_, rest) in text
            .match_indices("profile-row:")
            .map(|(i, _)| text.split_at(i + 12))
        {
            let id: String = rest
                .trim_start()
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
                .collect();
            let id = id.trim_end_matches('.').to_owned();
            if !id.is_empty() {
                out.insert(id);
            }
        }
    }
}

/// Issue 27's acceptance: every MUST row of every table under docs/profiles/ has a test
/// marked `// profile-row: <id>` (or `# profile-row: <id>`) somewhere under tests/; ids are
/// unique across the tables, and a marker names a row that exists.
#[test]
fn every_must_row_has_a_test() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let rows = rows(root);
    let mut seen = BTreeMap::new();
    for r in &rows {
        if let Some(other) = seen.insert(r.id.clone(), r.file.clone()) {
            panic!("row id {} is in both {other} and {}", r.id, r.file);
        }
    }
    let mut found = BTreeSet::new();
    markers(&root.join("tests"), &mut found);
    let untested: Vec<String> = rows
        .iter()
        .filter(|r| r.level == "MUST" && !found.contains(&r.id))
        .map(|r| format!("{} ({})", r.id, r.file))
        .collect();
    assert!(
        untested.is_empty(),
        "MUST rows without a test marked `profile-row: <id>` under tests/: {}",
        untested.join(", ")
    );
    let unknown: Vec<&String> = found.iter().filter(|id| !seen.contains_key(*id)).collect();
    assert!(
        unknown.is_empty(),
        "markers naming no row of docs/profiles: {unknown:?}"
    );
    assert!(
        rows.iter().filter(|r| r.level == "MUST").count() >= 35,
        "the tables hold the profiles' MUST rows"
    );
}

/// The checker fails, naming the row, when a MUST row has no marker.
#[test]
fn the_checker_names_an_untested_must_row() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("docs/profiles")).expect("docs");
    std::fs::create_dir_all(dir.path().join("tests")).expect("tests");
    std::fs::write(
        dir.path().join("docs/profiles/x.md"),
        "| id | section | level | requirement | scimd |\n|---|---|---|---|---|\n| X-1 | §1 | MUST | a | met |\n| X-2 | §2 | SHOULD | b | met |\n",
    )
    .expect("table");
    // Spelled in two parts so that this file holds no marker of a row that does not exist.
    let marker = |id: &str| format!("# {}: {id}\n", "profile-row");
    std::fs::write(dir.path().join("tests/t.py"), marker("X-2")).expect("test");
    let rows = rows(dir.path());
    let mut found = BTreeSet::new();
    markers(&dir.path().join("tests"), &mut found);
    let untested: Vec<&str> = rows
        .iter()
        .filter(|r| r.level == "MUST" && !found.contains(&r.id))
        .map(|r| r.id.as_str())
        .collect();
    assert_eq!(untested, ["X-1"]);
    std::fs::write(dir.path().join("tests/t.py"), marker("X-1")).expect("test");
    let mut found = BTreeSet::new();
    markers(&dir.path().join("tests"), &mut found);
    assert!(found.contains("X-1"));
}
