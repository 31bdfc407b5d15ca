//! Tenant settings and custom schema extensions (issue 21 parts 1 and 2): an Entra custom
//! extension declared through the admin API and the CLI, published for its tenant only, written
//! by POST, PUT and PATCH (Entra's path-less and pathed forms), filtered, sorted, projected,
//! unique values refused, and no stored value dropped by a change or a removal.

use serde_json::{Value, json};

use crate::admin_api::{api, create_tenant, sign_in};
use crate::common::{TestApp, enc};
use crate::server::{free_port, scimd, start};

const URN: &str = "urn:ietf:params:scim:schemas:extension:CustomExtension:2.0:User";
const CORE: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

fn declaration() -> Value {
    json!({
        "id": URN,
        "name": "CustomExtension",
        "description": "Attributes mapped in Entra's attribute mapping",
        "attributes": [
            {"name": "costCenter", "type": "string", "uniqueness": "server",
             "description": "The cost center, unique per user."},
            {"name": "badgeNumber", "type": "integer"},
            {"name": "level", "type": "string", "canonicalValues": ["junior", "senior"]},
            {"name": "clearance", "type": "string", "returned": "request"},
            {"name": "projects", "type": "complex", "multiValued": true, "subAttributes": [
                {"name": "value", "type": "string"},
                {"name": "role", "type": "string"}
            ]}
        ]
    })
}

/// An app with the extension declared for the default tenant through the admin API.
async fn declared() -> (TestApp, String) {
    let app = TestApp::new().await;
    let s = sign_in(&app).await;
    let r = api(
        &app,
        "POST",
        "/api/tenants/default/extensions",
        Some(json!({"resourceType": "User", "schema": declaration()})),
        Some(&s.csrf),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.body["id"], URN);
    (app, s.csrf)
}

fn user(name: &str, ext: Value) -> Value {
    json!({"schemas": [CORE, URN], "userName": name, "active": true, URN: ext})
}

async fn create(app: &TestApp, name: &str, ext: Value) -> String {
    let r = app.post("/scim/v2/Users", user(name, ext)).await;
    assert_eq!(r.status, 201, "{}", r.raw);
    r.body["id"].as_str().expect("id").to_owned()
}

async fn names(app: &TestApp, query: &str) -> Vec<String> {
    let r = app.get(&format!("/scim/v2/Users?{query}")).await;
    assert_eq!(r.status, 200, "{query}: {}", r.raw);
    r.body["Resources"]
        .as_array()
        .expect("resources")
        .iter()
        .map(|u| u["userName"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn filter(f: &str) -> String {
    format!("filter={}", enc(f))
}

#[rocket::async_test]
async fn a_declared_extension_is_published_for_its_tenant_only() {
    let (app, csrf) = declared().await;
    create_tenant(&app, "acme");
    let schemas = app.get("/scim/v2/Schemas").await;
    let ids: Vec<&str> = schemas.body["Resources"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    assert!(ids.contains(&URN), "{ids:?}");
    assert_eq!(schemas.body["totalResults"], 4);
    let one = app.get(&format!("/scim/v2/Schemas/{URN}")).await;
    assert_eq!(one.status, 200, "{}", one.raw);
    let cost = &one.body["attributes"][0];
    assert_eq!(cost["name"], "costCenter");
    assert_eq!(cost["uniqueness"], "server");
    assert_eq!(
        one.body["attributes"][4]["subAttributes"][1]["name"],
        "role"
    );
    let rt = app.get("/scim/v2/ResourceTypes/User").await;
    let exts: Vec<&str> = rt.body["schemaExtensions"]
        .as_array()
        .expect("extensions")
        .iter()
        .filter_map(|e| e["schema"].as_str())
        .collect();
    assert_eq!(
        exts,
        [
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
            URN
        ]
    );
    // Another tenant serves the built-in schemas only.
    let other = app.get("/t/acme/scim/v2/Schemas").await;
    assert_eq!(other.body["totalResults"], 3, "{}", other.raw);
    assert_eq!(
        app.get(&format!("/t/acme/scim/v2/Schemas/{URN}"))
            .await
            .status,
        404
    );
    let rt = app.get("/t/acme/scim/v2/ResourceTypes/User").await;
    assert!(!rt.raw.contains(URN), "{}", rt.raw);
    let token = app.issue_token("acme", "entra", false, None);
    // Not declared yet: ignored and reported (issue 21 part 3), not stored.
    let ignored = app
        .send_with(
            "POST",
            "/t/acme/scim/v2/Users",
            Some(user("a@acme.test", json!({"costCenter": "x"}))),
            &[("Authorization", &format!("Bearer {token}"))],
        )
        .await;
    assert_eq!(ignored.status, 201, "{}", ignored.raw);
    assert!(!ignored.raw.contains(URN), "{}", ignored.raw);
    // Writes need the CSRF token; the listing shows the declaration.
    let r = api(
        &app,
        "POST",
        "/api/tenants/acme/extensions",
        Some(json!({"resourceType": "User", "schema": declaration()})),
        None,
        None,
    )
    .await;
    r.assert_error(403);
    let listed = api(
        &app,
        "GET",
        "/api/tenants/default/extensions",
        None,
        None,
        None,
    )
    .await;
    assert_eq!(listed.body[0]["id"], URN, "{}", listed.raw);
    assert_eq!(listed.body[0]["attributes"][1], "badgeNumber");
    let settings = api(
        &app,
        "GET",
        "/api/tenants/default/settings",
        None,
        None,
        None,
    )
    .await;
    assert_eq!(settings.body["strict"], false);
    assert_eq!(settings.body["extensions"][0]["schema"]["id"], URN);
    let _ = csrf;
}

#[rocket::async_test]
async fn bad_declarations_are_refused_with_the_fix() {
    let app = TestApp::new().await;
    let s = sign_in(&app).await;
    let mut bad = declaration();
    bad["attributes"][1]["type"] = json!("int");
    let r = api(
        &app,
        "POST",
        "/api/tenants/default/extensions",
        Some(json!({"resourceType": "User", "schema": bad})),
        Some(&s.csrf),
        None,
    )
    .await;
    let d = r.assert_error(400);
    assert!(d.contains("badgeNumber") && d.contains("integer"), "{d}");
    let r = api(
        &app,
        "POST",
        "/api/tenants/default/extensions",
        Some(json!({"resourceType": "Device", "schema": declaration()})),
        Some(&s.csrf),
        None,
    )
    .await;
    assert!(r.assert_error(400).contains("User or Group"));
    assert_eq!(app.sql_text("SELECT settings FROM tenants"), "{}");
    assert_eq!(app.get("/scim/v2/Schemas").await.body["totalResults"], 3);
}

// See: ../shared/idp-requirements.md S52 (Entra's path-less PATCH with URN-qualified keys)
#[rocket::async_test]
async fn entra_custom_extension_is_written_filtered_sorted_and_projected() {
    let (app, _) = declared().await;
    // POST
    let id = create(
        &app,
        "ann@x.test",
        json!({"costCenter": "CC-1", "badgeNumber": 7, "projects": [{"value": "apollo", "role": "lead"}]}),
    )
    .await;
    let got = app.get(&format!("/scim/v2/Users/{id}")).await;
    assert_eq!(got.body[URN]["costCenter"], "CC-1", "{}", got.raw);
    assert_eq!(got.body[URN]["projects"][0]["role"], "lead");
    assert!(
        got.body["schemas"]
            .as_array()
            .expect("schemas")
            .contains(&json!(URN))
    );
    // PUT
    let r = app
        .put(
            &format!("/scim/v2/Users/{id}"),
            user(
                "ann@x.test",
                json!({"costCenter": "CC-2", "badgeNumber": 8}),
            ),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.body[URN]["badgeNumber"], 8);
    assert!(r.body[URN].get("projects").is_none());
    // PATCH, Entra's path-less form with URN-qualified keys.
    let r = app
        .patch(
            &format!("/scim/v2/Users/{id}"),
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "value": {
                    format!("{URN}:costCenter"): "CC-3",
                    format!("{URN}:badgeNumber"): 9}}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.body[URN]["costCenter"], "CC-3");
    assert_eq!(r.body[URN]["badgeNumber"], 9);
    // PATCH with a URN path, and with the bare name of an attribute only this extension has.
    let r = app
        .patch(
            &format!("/scim/v2/Users/{id}"),
            json!({"Operations": [
                {"op": "Add", "path": format!("{URN}:projects"), "value": [{"value": "gemini", "role": "dev"}]},
                {"op": "Replace", "path": "badgeNumber", "value": 10}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.body[URN]["badgeNumber"], 10);
    assert_eq!(r.body[URN]["projects"][0]["value"], "gemini");
    let r = app
        .patch(
            &format!("/scim/v2/Users/{id}"),
            json!({"Operations": [{"op": "replace", "path": format!("{URN}:badgeNumber"), "value": "ten"}]}),
        )
        .await;
    let d = r.assert_error(400, Some("invalidValue"));
    assert!(d.contains("badgeNumber"), "{d}");

    create(
        &app,
        "bob@x.test",
        json!({"costCenter": "CC-10", "badgeNumber": 3}),
    )
    .await;
    create(&app, "cid@x.test", json!({"badgeNumber": 5})).await;
    app.create_user("dan@x.test").await;
    // Filters: eq on the unique attribute (case-insensitive, index-backed), co, pr, gt.
    assert_eq!(
        names(&app, &filter(&format!("{URN}:costCenter eq \"cc-3\""))).await,
        ["ann@x.test"]
    );
    assert_eq!(
        names(&app, &filter(&format!("{URN}:costCenter co \"CC-1\""))).await,
        ["bob@x.test"]
    );
    assert_eq!(
        names(&app, &filter(&format!("{URN}:costCenter pr"))).await,
        ["ann@x.test", "bob@x.test"]
    );
    assert_eq!(
        names(&app, &filter(&format!("{URN}:badgeNumber gt 4"))).await,
        ["ann@x.test", "cid@x.test"]
    );
    assert_eq!(
        names(&app, &filter(&format!("{URN}:projects[role eq \"dev\"]"))).await,
        ["ann@x.test"]
    );
    // Without the URN (only this extension defines badgeNumber), and a sub-attribute with it.
    assert_eq!(
        names(&app, &filter("badgeNumber ge 9")).await,
        ["ann@x.test"]
    );
    assert_eq!(
        names(&app, &filter(&format!("{URN}:projects.role eq \"dev\""))).await,
        ["ann@x.test"]
    );
    assert_eq!(
        names(&app, &filter(&format!("{URN} pr"))).await,
        ["ann@x.test", "bob@x.test", "cid@x.test"]
    );
    assert_eq!(
        app.sql_int("SELECT COUNT(*) FROM extension_values WHERE value_key = 'cc-3'"),
        1
    );
    // Sorting.
    assert_eq!(
        names(&app, &format!("sortBy={}:badgeNumber", enc(URN))).await,
        ["bob@x.test", "cid@x.test", "ann@x.test", "dan@x.test"]
    );
    assert_eq!(
        names(
            &app,
            &format!("sortBy={}:badgeNumber&sortOrder=descending", enc(URN))
        )
        .await,
        ["dan@x.test", "ann@x.test", "cid@x.test", "bob@x.test"]
    );
    // Projection: attributes / excludedAttributes on extension attributes; returned "request".
    let one = app
        .get(&format!(
            "/scim/v2/Users/{id}?attributes={}",
            enc(&format!("{URN}:costCenter"))
        ))
        .await;
    assert_eq!(one.body[URN], json!({"costCenter": "CC-3"}), "{}", one.raw);
    assert!(one.body.get("userName").is_none());
    let one = app
        .get(&format!(
            "/scim/v2/Users/{id}?excludedAttributes={}",
            enc(URN)
        ))
        .await;
    assert!(one.body.get(URN).is_none(), "{}", one.raw);
    let r = app
        .patch(
            &format!("/scim/v2/Users/{id}"),
            json!({"Operations": [{"op": "add", "path": format!("{URN}:clearance"), "value": "secret"}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert!(r.body[URN].get("clearance").is_none(), "{}", r.raw);
    let asked = app
        .get(&format!(
            "/scim/v2/Users/{id}?attributes={}",
            enc(&format!("{URN}:clearance"))
        ))
        .await;
    assert_eq!(asked.body[URN]["clearance"], "secret", "{}", asked.raw);
    // canonicalValues the admin declared are enforced.
    let r = app
        .post(
            "/scim/v2/Users",
            user("eve@x.test", json!({"level": "principal"})),
        )
        .await;
    let d = r.assert_error(400, Some("invalidValue"));
    assert!(d.contains("junior, senior"), "{d}");
    let r = app
        .post(
            "/scim/v2/Users",
            user("eve@x.test", json!({"level": "Senior"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.raw);
}

#[rocket::async_test]
async fn a_value_declared_unique_is_refused_with_409() {
    let (app, _) = declared().await;
    let ann = create(&app, "ann@x.test", json!({"costCenter": "CC-1"})).await;
    let bob = create(&app, "bob@x.test", json!({"costCenter": "CC-2"})).await;
    let r = app
        .post(
            "/scim/v2/Users",
            user("cid@x.test", json!({"costCenter": "cc-1"})),
        )
        .await;
    let d = r.assert_error(409, Some("uniqueness"));
    assert!(d.contains("costCenter") && d.contains(&ann), "{d}");
    assert_eq!(app.sql_int("SELECT COUNT(*) FROM resources"), 2);
    let r = app
        .patch(
            &format!("/scim/v2/Users/{bob}"),
            json!({"Operations": [{"op": "replace", "value": {format!("{URN}:costCenter"): "CC-1"}}]}),
        )
        .await;
    r.assert_error(409, Some("uniqueness"));
    let r = app
        .put(
            &format!("/scim/v2/Users/{bob}"),
            user("bob@x.test", json!({"costCenter": "CC-1"})),
        )
        .await;
    r.assert_error(409, Some("uniqueness"));
    assert_eq!(
        app.get(&format!("/scim/v2/Users/{bob}")).await.body[URN]["costCenter"],
        "CC-2"
    );
    // Freed values can be taken: ann drops hers, bob takes it.
    let r = app
        .patch(
            &format!("/scim/v2/Users/{ann}"),
            json!({"Operations": [{"op": "remove", "path": format!("{URN}:costCenter")}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let r = app
        .patch(
            &format!("/scim/v2/Users/{bob}"),
            json!({"Operations": [{"op": "replace", "path": format!("{URN}:costCenter"), "value": "CC-1"}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    // Deleting a user frees its values.
    assert_eq!(
        app.delete(&format!("/scim/v2/Users/{bob}")).await.status,
        204
    );
    create(&app, "dan@x.test", json!({"costCenter": "CC-1"})).await;
}

#[rocket::async_test]
async fn removing_or_changing_an_extension_never_drops_stored_values() {
    let (app, csrf) = declared().await;
    let ann = create(
        &app,
        "ann@x.test",
        json!({"costCenter": "CC-1", "badgeNumber": 7}),
    )
    .await;
    create(&app, "bob@x.test", json!({"badgeNumber": 8})).await;
    let del = format!("/api/tenants/default/extensions/{URN}");
    let d = api(&app, "DELETE", &del, None, Some(&csrf), None)
        .await
        .assert_error(409);
    assert!(
        d.contains("2 Users") && d.contains(&format!("{URN} pr")),
        "{d}"
    );
    // A type change stored values break is refused too; a compatible change is accepted.
    let mut changed = declaration();
    changed["attributes"][1]["type"] = json!("boolean");
    let d = api(
        &app,
        "POST",
        "/api/tenants/default/extensions",
        Some(json!({"resourceType": "User", "schema": changed})),
        Some(&csrf),
        None,
    )
    .await
    .assert_error(409);
    assert!(d.contains("badgeNumber") && d.contains("2 Users"), "{d}");
    let mut compatible = declaration();
    compatible["attributes"][0]["description"] = json!("Where the salary is booked.");
    let r = api(
        &app,
        "POST",
        "/api/tenants/default/extensions",
        Some(json!({"resourceType": "User", "schema": compatible})),
        Some(&csrf),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let s = app.get(&format!("/scim/v2/Schemas/{URN}")).await;
    assert_eq!(
        s.body["attributes"][0]["description"],
        "Where the salary is booked."
    );
    let got = app.get(&format!("/scim/v2/Users/{ann}")).await;
    assert_eq!(got.body[URN]["badgeNumber"], 7);
    // Cleared as the error says, the extension can go.
    for u in app
        .get(&format!("/scim/v2/Users?{}", filter(&format!("{URN} pr"))))
        .await
        .body["Resources"]
        .as_array()
        .expect("list")
    {
        let r = app
            .patch(
                &format!("/scim/v2/Users/{}", u["id"].as_str().expect("id")),
                json!({"Operations": [{"op": "remove", "path": URN}]}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.raw);
    }
    let r = api(&app, "DELETE", &del, None, Some(&csrf), None).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(app.get("/scim/v2/Schemas").await.body["totalResults"], 3);
    assert_eq!(app.sql_int("SELECT COUNT(*) FROM extension_values"), 0);
}

#[rocket::async_test]
async fn a_group_extension_is_served_on_groups() {
    let app = TestApp::new().await;
    let urn = "urn:example:scim:groups:1.0:Group";
    let decl =
        json!({"id": urn, "attributes": [{"name": "owner", "type": "string", "caseExact": true}]});
    scimd::service::extensions::declare(
        &app.app().store,
        "default",
        "group",
        decl,
        scimd::scim::extension::ExtensionLimits::default(),
    )
    .expect("declared");
    let rt = app.get("/scim/v2/ResourceTypes/Group").await;
    assert_eq!(rt.body["schemaExtensions"][0]["schema"], urn, "{}", rt.raw);
    let r = app
        .post(
            "/scim/v2/Groups",
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group", urn],
                "displayName": "ops", urn: {"owner": "Ann"}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.raw);
    let found = app
        .get(&format!(
            "/scim/v2/Groups?{}",
            filter(&format!("{urn}:owner eq \"Ann\""))
        ))
        .await;
    assert_eq!(found.body["totalResults"], 1, "{}", found.raw);
    // caseExact: "ann" is another value.
    let found = app
        .get(&format!(
            "/scim/v2/Groups?{}",
            filter(&format!("{urn}:owner eq \"ann\""))
        ))
        .await;
    assert_eq!(found.body["totalResults"], 0, "{}", found.raw);
    // Users do not have it: ignored, not stored.
    let r = app
        .post(
            "/scim/v2/Users",
            json!({"userName": "u@x.test", urn: {"owner": "x"}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.raw);
    assert!(!r.raw.contains(urn), "{}", r.raw);
}

/// Issue 21 part 3 end to end: with the tenant setting `strict` on, what no schema of the
/// tenant defines is refused with 400 invalidSyntax naming it (POST, PUT and PATCH), while a
/// declared extension attribute is accepted; with it off again, the same request is accepted
/// and the attribute ignored. The setting reaches a running server at its next request.
#[rocket::async_test]
async fn a_strict_tenant_refuses_what_no_schema_declares() {
    let app = TestApp::new().await;
    let s = sign_in(&app).await;
    let declared = api(
        &app,
        "POST",
        "/api/tenants/default/extensions",
        Some(json!({"resourceType": "User", "schema": declaration()})),
        Some(&s.csrf),
        None,
    )
    .await;
    assert_eq!(declared.status, 200, "{}", declared.raw);
    let strict = |on: bool| {
        let csrf = s.csrf.clone();
        let app = &app;
        async move {
            let r = api(
                app,
                "PATCH",
                "/api/tenants/default/settings",
                Some(json!({"strict": on})),
                Some(&csrf),
                None,
            )
            .await;
            assert_eq!(r.status, 200, "{}", r.raw);
        }
    };
    strict(true).await;
    let refused = app
        .post(
            "/scim/v2/Users",
            user(
                "s@x.test",
                json!({"costCenter": "CC-1", "costCentre": "typo"}),
            ),
        )
        .await;
    let detail = refused.assert_error(400, Some("invalidSyntax"));
    assert!(detail.contains("costCentre"), "{detail}");
    assert_eq!(
        app.get("/scim/v2/Users?filter=userName%20eq%20%22s@x.test%22")
            .await
            .body["totalResults"],
        0
    );
    let top = app
        .post(
            "/scim/v2/Users",
            json!({"userName": "s@x.test", "favouriteColour": "teal"}),
        )
        .await;
    assert!(
        top.assert_error(400, Some("invalidSyntax"))
            .contains("favouriteColour")
    );
    let ok = app
        .post(
            "/scim/v2/Users",
            user("s@x.test", json!({"costCenter": "CC-1"})),
        )
        .await;
    assert_eq!(ok.status, 201, "a declared attribute is fine: {}", ok.raw);
    let id = ok.body["id"].as_str().expect("id").to_owned();
    let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "nickNmae", "value": "x"}]});
    assert!(
        app.patch(&format!("/scim/v2/Users/{id}"), patch.clone())
            .await
            .assert_error(400, Some("invalidSyntax"))
            .contains("nickNmae")
    );
    strict(false).await;
    let lenient = app.patch(&format!("/scim/v2/Users/{id}"), patch).await;
    assert_eq!(lenient.status, 200, "{}", lenient.raw);
    assert!(
        !lenient.raw.contains("nickNmae"),
        "ignored, not stored: {}",
        lenient.raw
    );
}

/// An extension attribute declared `returned: never` is neither returned nor kept in history.
#[rocket::async_test]
async fn a_never_returned_extension_attribute_stays_out_of_responses_and_history() {
    let app = TestApp::new().await;
    let decl = json!({"id": URN, "attributes": [
        {"name": "pin", "type": "string", "returned": "never", "mutability": "writeOnly"},
        {"name": "badgeNumber", "type": "integer"}]});
    scimd::service::extensions::declare(
        &app.app().store,
        "default",
        "User",
        decl,
        scimd::scim::extension::ExtensionLimits::default(),
    )
    .expect("declared");
    let id = create(
        &app,
        "ann@x.test",
        json!({"pin": "4711-secret", "badgeNumber": 1}),
    )
    .await;
    let r = app
        .patch(
            &format!("/scim/v2/Users/{id}"),
            json!({"Operations": [{"op": "replace", "value": {format!("{URN}:pin"): "0815-secret"}}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert!(!r.raw.contains("secret"), "{}", r.raw);
    let got = app.get(&format!("/scim/v2/Users/{id}")).await;
    assert!(
        !got.raw.contains("secret") && got.body[URN]["badgeNumber"] == 1,
        "{}",
        got.raw
    );
    sign_in(&app).await;
    let h = api(
        &app,
        "GET",
        &format!("/api/tenants/default/Users/{id}/history"),
        None,
        None,
        None,
    )
    .await;
    assert_eq!(h.status, 200, "{}", h.raw);
    assert!(
        h.raw.contains(&format!("{URN}:pin")),
        "the change is listed: {}",
        h.raw
    );
    assert!(!h.raw.contains("secret"), "{}", h.raw);
    // Nor in the request log's copy of the request bodies (POST and PATCH), which name it.
    crate::request_log::flush(&app).await;
    let bodies = app.sql_text(
        "SELECT group_concat(request_body, ' | ') FROM log.request_log WHERE request_body LIKE '%pin%'",
    );
    assert!(bodies.contains("[redacted]"), "{bodies}");
    assert!(!bodies.contains("secret"), "{bodies}");
}

#[rocket::async_test]
async fn settings_are_shown_and_changed_through_the_admin_api() {
    let app = TestApp::new().await;
    let s = sign_in(&app).await;
    let path = "/api/tenants/default/settings";
    let r = api(
        &app,
        "PATCH",
        path,
        Some(json!({"strict": true})),
        None,
        None,
    )
    .await;
    r.assert_error(403);
    let r = api(
        &app,
        "PATCH",
        path,
        Some(json!({"strict": true})),
        Some(&s.csrf),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.body["strict"], true);
    assert_eq!(
        api(&app, "GET", path, None, None, None).await.body["strict"],
        true
    );
    let d = api(
        &app,
        "PATCH",
        path,
        Some(json!({"strikt": true})),
        Some(&s.csrf),
        None,
    )
    .await
    .assert_error(400);
    assert!(d.contains("strikt") && d.contains("strict"), "{d}");
    let d = api(
        &app,
        "PATCH",
        path,
        Some(json!({"strict": "yes"})),
        Some(&s.csrf),
        None,
    )
    .await
    .assert_error(400);
    assert!(d.contains("strict") || d.contains("boolean"), "{d}");
    let d = api(
        &app,
        "PATCH",
        path,
        Some(json!({"extensions": []})),
        Some(&s.csrf),
        None,
    )
    .await
    .assert_error(400);
    assert!(d.contains("extension add"), "{d}");
    assert_eq!(
        app.sql_text("SELECT settings FROM tenants"),
        r#"{"strict":true,"extensions":[]}"#
    );
    api(&app, "GET", "/api/tenants/nope/settings", None, None, None)
        .await
        .assert_error(404);
}

/// The CLI declares the extension and changes settings; the running server serves them at once.
#[test]
fn the_cli_declares_extensions_and_sets_settings() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("custom.json");
    std::fs::write(&file, declaration().to_string()).expect("write");
    let server = start(dir.path(), free_port());
    let run = |args: &[&str]| {
        let out = scimd(dir.path()).args(args).output().expect("run");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, stdout, stderr) = run(&[
        "tenant",
        "extension",
        "add",
        "default",
        "--resource-type",
        "User",
        "--file",
        file.to_str().expect("path"),
    ]);
    assert!(ok, "{stderr}");
    assert_eq!(stdout.trim(), URN);
    let schema = ureq::get(&format!("{}/scim/v2/Schemas/{URN}", server.base))
        .call()
        .expect("published");
    assert_eq!(schema.status(), 200);
    let (ok, stdout, _) = run(&["tenant", "extension", "list", "default"]);
    assert!(
        ok && stdout.contains(URN) && stdout.contains("costCenter, badgeNumber"),
        "{stdout}"
    );
    let (ok, _, stderr) = run(&["tenant", "set", "default", "strict=true"]);
    assert!(ok, "{stderr}");
    let (ok, stdout, _) = run(&["tenant", "show", "default"]);
    assert!(ok, "{stdout}");
    assert!(
        stdout.contains("strict      true") && stdout.contains(URN),
        "{stdout}"
    );
    let (_, stdout, _) = run(&["tenant", "show", "default", "--json"]);
    let shown: Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(shown["strict"], true);
    assert_eq!(shown["extensions"][0]["resourceType"], "User");
    let (ok, _, stderr) = run(&["tenant", "set", "default", "strict=maybe"]);
    assert!(!ok && stderr.contains("strict"), "{stderr}");
    let (ok, _, stderr) = run(&["tenant", "extension", "remove", "default", "urn:x:none"]);
    assert!(!ok && stderr.contains(URN), "{stderr}");
    let (ok, _, stderr) = run(&["tenant", "extension", "remove", "default", URN]);
    assert!(ok, "{stderr}");
    let gone = ureq::get(&format!("{}/scim/v2/Schemas/{URN}", server.base)).call();
    assert!(
        gone.is_err(),
        "the server still serves the removed extension"
    );
}
