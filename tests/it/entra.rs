//! Microsoft Entra ID user scenarios S40–S71 of ../shared/idp-requirements.md, request by request
//! in Entra's dialect: `+` for spaces in query strings, capitalised ops (`Replace`, `Add`,
//! `Remove`), booleans as `"True"`/`"False"` strings, the manager as a bare string.

use serde_json::{Value, json};

use crate::common::{Reply, TestApp};

const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const LIST: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// A request with the headers Entra sends: bearer token, `application/scim+json` both ways.
async fn entra(app: &TestApp, method: &str, path: &str, body: Option<Value>) -> Reply {
    let bearer = app.bearer();
    app.send_with(
        method,
        path,
        body,
        &[
            ("Authorization", &bearer),
            ("Accept", "application/scim+json"),
            ("Content-Type", "application/scim+json"),
        ],
    )
    .await
}

async fn get(app: &TestApp, path: &str) -> Reply {
    entra(app, "GET", path, None).await
}

/// A PATCH with Entra's PatchOp envelope around `ops`.
async fn patch(app: &TestApp, path: &str, ops: Value) -> Reply {
    entra(
        app,
        "PATCH",
        path,
        Some(json!({"schemas":[PATCH_OP],"Operations": ops})),
    )
    .await
}

/// Entra's gallery create body (S46).
fn entra_user(user_name: &str, external_id: &str) -> Value {
    json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:User", ENT],
           "externalId": external_id,"userName": user_name,"active":true,
           "emails":[{"primary":true,"type":"work","value": format!("{user_name}@testuser.com")}],
           "meta":{"resourceType":"User"},
           "name":{"formatted":"givenName familyName","familyName":"familyName","givenName":"givenName"},
           "roles":[]})
}

async fn create(app: &TestApp, user_name: &str, external_id: &str) -> String {
    let r = entra(
        app,
        "POST",
        "/scim/v2/Users",
        Some(entra_user(user_name, external_id)),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.raw);
    r.body["id"].as_str().expect("id").to_owned()
}

fn user_path(id: &str) -> String {
    format!("/scim/v2/Users/{id}")
}

fn ids(list: &Value) -> Vec<&str> {
    list["Resources"]
        .as_array()
        .expect("Resources array")
        .iter()
        .map(|r| r["id"].as_str().expect("id"))
        .collect()
}

/// The empty ListResponse Entra expects for a filter that matches nothing.
fn empty_list() -> Value {
    json!({"schemas":[LIST],"totalResults":0,"startIndex":1,"itemsPerPage":0,"Resources":[]})
}

// See: ../shared/idp-requirements.md S40
#[rocket::async_test]
async fn entra_s40_test_connection_probe_is_an_empty_list() {
    let app = TestApp::new().await;
    app.create_user("someone@contoso.com").await;
    let r = get(
        &app,
        "/scim/v2/Users?filter=userName+eq+%22cf4d78e8-cc4f-4d5d-b8b9-183561c0104a%22",
    )
    .await;
    assert_eq!(r.ok(), &empty_list());
    // The matching attribute may be configured as externalId.
    let r = get(
        &app,
        "/scim/v2/Users?filter=externalId+eq+%22cf4d78e8-cc4f-4d5d-b8b9-183561c0104a%22",
    )
    .await;
    assert_eq!(r.ok(), &empty_list());
}

// See: ../shared/idp-requirements.md S42
#[rocket::async_test]
async fn entra_s42_match_user_by_user_name() {
    let app = TestApp::new().await;
    let name = "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee";
    let id = create(&app, name, "ext-42").await;
    create(&app, "Test_User_other", "ext-42b").await;
    let r = get(
        &app,
        "/scim/v2/Users?filter=userName+eq+%22Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee%22",
    )
    .await;
    assert_eq!(r.ok()["totalResults"], json!(1));
    assert_eq!(ids(&r.body), [id.as_str()]);
    assert_eq!(r.body["Resources"][0]["userName"], json!(name));
    assert_eq!(r.body["schemas"], json!([LIST]));
}

// See: ../shared/idp-requirements.md S43
#[rocket::async_test]
async fn entra_s43_match_by_external_id_case_exact() {
    let app = TestApp::new().await;
    let id = create(&app, "ext.user", "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef").await;
    create(&app, "johnwong.user", "johnwong").await;
    let r = get(
        &app,
        "/scim/v2/Users?filter=externalId+eq+%220a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef%22",
    )
    .await;
    assert_eq!(r.ok()["totalResults"], json!(1));
    assert_eq!(ids(&r.body), [id.as_str()]);
    assert_eq!(
        r.body["Resources"][0]["externalId"],
        json!("0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef")
    );
    let r = get(&app, "/scim/v2/Users?filter=externalId+eq+%22johnwong%22").await;
    assert_eq!(r.ok()["totalResults"], json!(1));
    // externalId is caseExact (RFC 7643 §3.1).
    let r = get(&app, "/scim/v2/Users?filter=externalId+eq+%22JohnWong%22").await;
    assert_eq!(r.ok()["totalResults"], json!(0));
    // Decision: the unquoted form of an old MS sample is not RFC grammar → 400 invalidFilter.
    let r = get(&app, "/scim/v2/Users?filter=externalId+eq+jyoung").await;
    let detail = r.assert_error(400, Some("invalidFilter"));
    assert!(detail.contains("filter"), "{detail}");
}

// See: ../shared/idp-requirements.md S44
#[rocket::async_test]
async fn entra_s44_match_by_work_email() {
    let app = TestApp::new().await;
    let r = entra(
        &app,
        "POST",
        "/scim/v2/Users",
        Some(json!({"userName":"wong","emails":[
            {"type":"home","value":"home@contoso.com"},
            {"type":"work","value":"User@Contoso.com","primary":true}]})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.raw);
    let id = r.body["id"].as_str().expect("id").to_owned();
    let r = get(
        &app,
        "/scim/v2/Users?filter=emails%5Btype+eq+%22work%22%5D.value+eq+%22user%40contoso.com%22",
    )
    .await;
    assert_eq!(r.ok()["totalResults"], json!(1));
    assert_eq!(ids(&r.body), [id.as_str()]);
    // The home address is not the work address.
    let r = get(
        &app,
        "/scim/v2/Users?filter=emails%5Btype+eq+%22work%22%5D.value+eq+%22home%40contoso.com%22",
    )
    .await;
    assert_eq!(r.ok(), &empty_list());
}

// See: ../shared/idp-requirements.md S45
#[rocket::async_test]
async fn entra_s45_any_filter_on_an_absent_value_is_200_empty() {
    let app = TestApp::new().await;
    create(&app, "present", "present-ext").await;
    app.create_group("Present Group").await;
    for path in [
        "/scim/v2/Users?filter=userName+eq+%22absent%22",
        "/scim/v2/Users?filter=externalId+eq+%22absent%22",
        "/scim/v2/Users?filter=id+eq+%22absent%22",
        "/scim/v2/Users?filter=userName+eq+%22present%22+and+externalId+eq+%22other%22",
        "/scim/v2/Users?filter=emails%5Btype+eq+%22work%22%5D.value+eq+%22absent%40x.com%22",
        "/scim/v2/Groups?filter=displayName+eq+%22Absent+Group%22",
        "/scim/v2/Groups?excludedAttributes=members&filter=externalId+eq+%22absent%22",
    ] {
        let r = get(&app, path).await;
        assert_eq!(r.ok(), &empty_list(), "{path}");
    }
}

// See: ../shared/idp-requirements.md S46
#[rocket::async_test]
async fn entra_s46_create_gallery_user() {
    let app = TestApp::new().await;
    let r = entra(
        &app,
        "POST",
        "/scim/v2/Users",
        Some(entra_user(
            "Test_User_11bb11bb",
            "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        )),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.raw);
    let u = r.ok();
    assert!(u["id"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(u["userName"], json!("Test_User_11bb11bb"));
    assert_eq!(
        u["externalId"],
        json!("0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef")
    );
    assert_eq!(u["active"], json!(true));
    assert_eq!(
        u["name"],
        json!({"formatted":"givenName familyName","familyName":"familyName","givenName":"givenName"})
    );
    assert_eq!(
        u["emails"],
        json!([{"primary":true,"type":"work","value":"Test_User_11bb11bb@testuser.com"}])
    );
    assert!(u.get("roles").is_none(), "empty roles is unassigned: {u}");
    // The client's meta is ignored; the server's is complete.
    assert_eq!(u["meta"]["resourceType"], json!("User"));
    assert!(u["meta"]["created"].is_string() && u["meta"]["location"].is_string());
    // No enterprise values were sent, so the extension is not claimed.
    assert_eq!(
        u["schemas"],
        json!(["urn:ietf:params:scim:schemas:core:2.0:User"])
    );
}

// See: ../shared/idp-requirements.md S48
#[rocket::async_test]
async fn entra_s48_create_with_enterprise_extension() {
    let app = TestApp::new().await;
    let mgr = create(&app, "manager", "mgr-ext").await;
    let mut body = entra_user("employee", "emp-ext");
    body[ENT] = json!({"employeeNumber":"701984","department":"Sales","manager":{"value": mgr}});
    let r = entra(&app, "POST", "/scim/v2/Users", Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.raw);
    let id = r.body["id"].as_str().expect("id").to_owned();
    let expected = json!({"employeeNumber":"701984","department":"Sales","manager":{"value": mgr}});
    assert_eq!(r.body[ENT], expected);
    let g = get(&app, &user_path(&id)).await;
    assert_eq!(g.ok()[ENT], expected);
    assert_eq!(
        g.body["schemas"],
        json!(["urn:ietf:params:scim:schemas:core:2.0:User", ENT])
    );
}

// See: ../shared/idp-requirements.md S49
#[rocket::async_test]
async fn entra_s49_patch_work_email_and_family_name_keeps_other_emails() {
    let app = TestApp::new().await;
    let r = entra(
        &app,
        "POST",
        "/scim/v2/Users",
        Some(
            json!({"userName":"s49","name":{"givenName":"Given","familyName":"Family"},"emails":[
            {"type":"work","value":"work@contoso.com","primary":true},
            {"type":"home","value":"home@contoso.com"}]}),
        ),
    )
    .await;
    let id = r.body["id"].as_str().expect("id").to_owned();
    let r = patch(
        &app,
        &user_path(&id),
        json!([
            {"op":"Replace","path":"emails[type eq \"work\"].value","value":"updatedEmail@microsoft.com"},
            {"op":"Replace","path":"name.familyName","value":"updatedFamilyName"}]),
    )
    .await;
    let expected_emails = json!([
        {"type":"work","value":"updatedEmail@microsoft.com","primary":true},
        {"type":"home","value":"home@contoso.com"}]);
    assert_eq!(r.ok()["emails"], expected_emails);
    let g = get(&app, &user_path(&id)).await;
    assert_eq!(g.ok()["emails"], expected_emails);
    assert_eq!(
        g.body["name"],
        json!({"givenName":"Given","familyName":"updatedFamilyName"})
    );
    // The new address is what the work-email filter now finds.
    let f = get(
        &app,
        "/scim/v2/Users?filter=emails%5Btype+eq+%22work%22%5D.value+eq+%22updatedemail%40microsoft.com%22",
    )
    .await;
    assert_eq!(ids(f.ok()), [id.as_str()]);
}

// See: ../shared/idp-requirements.md S50
#[rocket::async_test]
async fn entra_s50_patch_user_name_and_display_name() {
    let app = TestApp::new().await;
    let id = create(&app, "old.name", "e50").await;
    create(&app, "taken.name", "e50b").await;
    let r = patch(
        &app,
        &user_path(&id),
        json!([{"op":"Replace","path":"userName","value":"new.name"}]),
    )
    .await;
    assert_eq!(r.ok()["userName"], json!("new.name"));
    let r = get(&app, "/scim/v2/Users?filter=userName+eq+%22new.name%22").await;
    assert_eq!(ids(r.ok()), [id.as_str()]);
    let r = patch(
        &app,
        &user_path(&id),
        json!([{"op":"Replace","path":"userName","value":"Taken.Name"}]),
    )
    .await;
    let detail = r.assert_error(409, Some("uniqueness"));
    assert!(detail.contains("Taken.Name"), "{detail}");
    assert_eq!(
        get(&app, &user_path(&id)).await.body["userName"],
        json!("new.name")
    );
    let r = patch(
        &app,
        &user_path(&id),
        json!([{"op":"Replace","path":"displayName","value":"newDisplayName"}]),
    )
    .await;
    assert_eq!(r.ok()["displayName"], json!("newDisplayName"));
    let r = patch(
        &app,
        &user_path(&id),
        json!([{"op":"Remove","path":"displayName"}]),
    )
    .await;
    assert!(r.ok().get("displayName").is_none(), "{}", r.raw);
    assert!(
        get(&app, &user_path(&id))
            .await
            .body
            .get("displayName")
            .is_none()
    );
}

// See: ../shared/idp-requirements.md S52
#[rocket::async_test]
async fn entra_s52_pathless_value_keys_are_paths() {
    let app = TestApp::new().await;
    let id = create(&app, "s52", "e52").await;
    let r = patch(
        &app,
        &user_path(&id),
        json!([
            {"op":"replace","path":"emails[type eq \"work\"].value","value":"x@test.microsoft.com"},
            {"op":"replace","value":{"displayName":"Bjfe","name.givenName":"Kkom","name.familyName":"Unua",
                format!("{ENT}:employeeNumber"):"Aklq"}}]),
    )
    .await;
    r.ok();
    let u = get(&app, &user_path(&id)).await.body;
    assert_eq!(u["displayName"], json!("Bjfe"));
    assert_eq!(u["name"]["givenName"], json!("Kkom"));
    assert_eq!(u["name"]["familyName"], json!("Unua"));
    assert_eq!(u["name"]["formatted"], json!("givenName familyName"));
    assert_eq!(u[ENT], json!({"employeeNumber":"Aklq"}));
    assert_eq!(u["emails"][0]["value"], json!("x@test.microsoft.com"));
    assert!(u.get("name.givenName").is_none(), "keys are paths: {u}");
    // The same with `add`.
    let r = patch(
        &app,
        &user_path(&id),
        json!([{"op":"add","value":{"nickName":"Nick",format!("{ENT}:department"):"Ops"}}]),
    )
    .await;
    assert_eq!(r.ok()["nickName"], json!("Nick"));
    assert_eq!(
        r.body[ENT],
        json!({"employeeNumber":"Aklq","department":"Ops"})
    );
    // Pre-flag form: one Replace op per attribute.
    let r = patch(
        &app,
        &user_path(&id),
        json!([
            {"op":"Replace","path":"externalId","value":"new-ext"},
            {"op":"Replace","path":format!("{ENT}:employeeNumber"),"value":"701985"}]),
    )
    .await;
    assert_eq!(r.ok()["externalId"], json!("new-ext"));
    assert_eq!(r.body[ENT]["employeeNumber"], json!("701985"));
    let f = get(&app, "/scim/v2/Users?filter=externalId+eq+%22new-ext%22").await;
    assert_eq!(ids(f.ok()), [id.as_str()]);
}

// See: ../shared/idp-requirements.md S53
#[rocket::async_test]
async fn entra_s53_add_single_valued_string() {
    let app = TestApp::new().await;
    let id = create(&app, "s53", "e53").await;
    for (op, value) in [("Add", "Babs"), ("add", "Barbara")] {
        let r = patch(
            &app,
            &user_path(&id),
            json!([{"op": op,"path":"nickName","value": value}]),
        )
        .await;
        assert_eq!(r.ok()["nickName"], json!(value));
        assert_eq!(
            get(&app, &user_path(&id)).await.body["nickName"],
            json!(value)
        );
    }
}

// See: ../shared/idp-requirements.md S54
#[rocket::async_test]
async fn entra_s54_disable_with_string_false() {
    let app = TestApp::new().await;
    let id = create(&app, "s54", "e54").await;
    let r = patch(
        &app,
        &user_path(&id),
        json!([{"op":"Replace","path":"active","value":"False"}]),
    )
    .await;
    assert_eq!(
        r.ok()["active"],
        json!(false),
        "a JSON boolean, not a string"
    );
    assert_eq!(
        get(&app, &user_path(&id)).await.body["active"],
        json!(false)
    );
    assert_eq!(
        app.sql_int("SELECT active FROM resources WHERE resource_type = 'User'"),
        0
    );
    // Still found by the matching filter, so Entra does not POST it again (S69).
    let f = get(&app, "/scim/v2/Users?filter=userName+eq+%22s54%22").await;
    assert_eq!(ids(f.ok()), [id.as_str()]);
    assert_eq!(f.body["Resources"][0]["active"], json!(false));
    // Anything else than a boolean spelling is refused, not stored.
    let r = patch(
        &app,
        &user_path(&id),
        json!([{"op":"Replace","path":"active","value":"No"}]),
    )
    .await;
    let detail = r.assert_error(400, Some("invalidValue"));
    assert!(detail.contains("active"), "{detail}");
}

// See: ../shared/idp-requirements.md S55
#[rocket::async_test]
async fn entra_s55_disable_with_boolean_false() {
    let app = TestApp::new().await;
    for (i, op) in ["replace", "Replace"].into_iter().enumerate() {
        let id = create(&app, &format!("s55-{i}"), &format!("e55-{i}")).await;
        let r = patch(
            &app,
            &user_path(&id),
            json!([{"op": op,"path":"active","value":false}]),
        )
        .await;
        assert_eq!(r.ok()["active"], json!(false));
        assert_eq!(
            get(&app, &user_path(&id)).await.body["active"],
            json!(false)
        );
    }
}

// See: ../shared/idp-requirements.md S56
#[rocket::async_test]
async fn entra_s56_reenable_keeps_id_and_memberships() {
    let app = TestApp::new().await;
    let id = create(&app, "s56", "e56").await;
    let gid = app.create_group("Keepers").await;
    let r = patch(
        &app,
        &format!("/scim/v2/Groups/{gid}"),
        json!([{"op":"Add","path":"members","value":[{"$ref":null,"value": id}]}]),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.raw);
    patch(
        &app,
        &user_path(&id),
        json!([{"op":"Replace","path":"active","value":"False"}]),
    )
    .await
    .ok();
    for value in [json!("True"), json!(false), json!(true)] {
        let r = patch(
            &app,
            &user_path(&id),
            json!([{"op":"Replace","path":"active","value": value}]),
        )
        .await;
        let expected = value.as_bool().unwrap_or(true);
        assert_eq!(r.ok()["active"], json!(expected));
        assert_eq!(r.body["id"], json!(id));
    }
    let g = get(&app, &format!("/scim/v2/Groups/{gid}")).await;
    let members: Vec<&Value> = g.ok()["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| &m["value"])
        .collect();
    assert_eq!(members, [&json!(id)]);
}

// See: ../shared/idp-requirements.md S57
#[rocket::async_test]
async fn entra_s57_manager_set_change_clear() {
    let app = TestApp::new().await;
    let id = create(&app, "s57", "e57").await;
    let mgr = create(&app, "s57-mgr", "e57m").await;
    let mgr2 = create(&app, "s57-mgr2", "e57m2").await;
    let path = format!("{ENT}:manager");
    for (op, value) in [("Add", &mgr), ("replace", &mgr2)] {
        let r = patch(
            &app,
            &user_path(&id),
            json!([{"op": op,"path": path,"value": value}]),
        )
        .await;
        r.ok();
        let u = get(&app, &user_path(&id)).await.body;
        assert_eq!(u[ENT]["manager"]["value"], json!(value), "{op}");
        assert_eq!(u[ENT]["manager"].get("$ref"), None, "no stale $ref: {u}");
    }
    let r = patch(
        &app,
        &user_path(&id),
        json!([{"op":"replace","path": path,"value":""}]),
    )
    .await;
    r.ok();
    let u = get(&app, &user_path(&id)).await.body;
    assert!(
        u.get(ENT).is_none_or(|e| e.get("manager").is_none()),
        "manager cleared: {u}"
    );
    assert!(
        u["schemas"]
            .as_array()
            .is_some_and(|s| !s.contains(&json!(ENT))),
        "{u}"
    );
    // Older documented form: array with $ref on the unqualified path.
    let r = patch(
        &app,
        &user_path(&id),
        json!([{"op":"Add","path":"manager","value":[{"$ref":format!("http://localhost/scim/v2/Users/{mgr}"),"value": mgr}]}]),
    )
    .await;
    r.ok();
    let u = get(&app, &user_path(&id)).await.body;
    assert_eq!(u[ENT]["manager"]["value"], json!(mgr));
}

// See: ../shared/idp-requirements.md S60
#[rocket::async_test]
async fn entra_s60_hard_delete() {
    let app = TestApp::new().await;
    let id = create(&app, "s60", "e60").await;
    let keep = create(&app, "s60-keep", "e60k").await;
    let r = entra(&app, "DELETE", &user_path(&id), None).await;
    assert_eq!(r.status, 204, "{}", r.raw);
    assert!(r.raw.is_empty());
    get(&app, &user_path(&id)).await.assert_error(404, None);
    entra(&app, "DELETE", &user_path(&id), None)
        .await
        .assert_error(404, None);
    patch(
        &app,
        &user_path(&id),
        json!([{"op":"Replace","path":"active","value":"False"}]),
    )
    .await
    .assert_error(404, None);
    let f = get(&app, "/scim/v2/Users?filter=userName+eq+%22s60%22").await;
    assert_eq!(f.ok(), &empty_list());
    assert_eq!(get(&app, &user_path(&keep)).await.status, 200);
}

// See: ../shared/idp-requirements.md S68
#[rocket::async_test]
async fn entra_s68_schema_discovery_is_complete_and_null_free() {
    fn check_attrs(schema: &str, prefix: &str, attrs: &Value, seen: &mut Vec<String>) {
        for a in attrs.as_array().expect("attributes array") {
            let name = format!("{prefix}{}", a["name"].as_str().expect("name"));
            for (key, allowed) in [
                (
                    "mutability",
                    &["readOnly", "readWrite", "immutable", "writeOnly"][..],
                ),
                ("returned", &["always", "never", "default", "request"][..]),
                ("uniqueness", &["none", "server", "global"][..]),
            ] {
                let v = a[key].as_str();
                assert!(
                    v.is_some_and(|v| allowed.contains(&v)),
                    "{schema} {name}.{key} = {:?}",
                    a[key]
                );
            }
            for key in ["type", "multiValued", "required", "description"] {
                assert!(!a[key].is_null(), "{schema} {name} lacks {key}");
            }
            if let Some(subs) = a.get("subAttributes") {
                check_attrs(schema, &format!("{name}."), subs, seen);
            }
            seen.push(name);
        }
    }
    let app = TestApp::new().await;
    let r = get(&app, "/scim/v2/Schemas").await;
    assert!(!r.raw.contains("null"), "no null-valued keys: {}", r.raw);
    assert_eq!(r.ok()["schemas"], json!([LIST]));
    assert_eq!(r.body["totalResults"], json!(3));
    let mut seen = Vec::new();
    for s in r.body["Resources"].as_array().expect("Resources") {
        let id = s["id"].as_str().expect("id");
        check_attrs(id, &format!("{id}:"), &s["attributes"], &mut seen);
    }
    for needed in [
        "urn:ietf:params:scim:schemas:core:2.0:User:userName",
        "urn:ietf:params:scim:schemas:core:2.0:User:emails.value",
        "urn:ietf:params:scim:schemas:core:2.0:User:emails.type",
        "urn:ietf:params:scim:schemas:core:2.0:User:name.givenName",
        "urn:ietf:params:scim:schemas:core:2.0:User:active",
        "urn:ietf:params:scim:schemas:core:2.0:User:title",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
        "urn:ietf:params:scim:schemas:core:2.0:Group:displayName",
        "urn:ietf:params:scim:schemas:core:2.0:Group:members.value",
    ] {
        assert!(
            seen.iter().any(|s| s == needed),
            "{needed} is not discoverable"
        );
    }
    let group = get(
        &app,
        "/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:Group",
    )
    .await;
    assert_eq!(
        group.ok()["id"],
        json!("urn:ietf:params:scim:schemas:core:2.0:Group")
    );
    let display = group.body["attributes"]
        .as_array()
        .expect("attributes")
        .iter()
        .find(|a| a["name"] == "displayName")
        .expect("displayName");
    assert_eq!(display["uniqueness"], json!("server"));
    assert_eq!(display["required"], json!(true));
}

// See: ../shared/idp-requirements.md S69
#[rocket::async_test]
async fn entra_s69_errors_are_scim_errors_with_detail() {
    let app = TestApp::new().await;
    let id = create(&app, "s69", "e69").await;
    // Duplicate create (different case): 409 naming the holder.
    let r = entra(
        &app,
        "POST",
        "/scim/v2/Users",
        Some(entra_user("S69", "e69-again")),
    )
    .await;
    let detail = r.assert_error(409, Some("uniqueness"));
    assert!(
        detail.contains("userName") && detail.contains(&id),
        "{detail}"
    );
    // Unknown id.
    let detail = get(&app, &user_path("cf4d78e8-0000-0000-0000-000000000000"))
        .await
        .assert_error(404, None);
    assert!(
        detail.contains("cf4d78e8-0000-0000-0000-000000000000"),
        "{detail}"
    );
    // A bad PATCH target.
    let r = patch(
        &app,
        &user_path(&id),
        json!([{"op":"Replace","path":"emails[type eq \"work\"","value":"red"}]),
    )
    .await;
    let detail = r.assert_error(400, Some("invalidPath"));
    assert!(detail.contains("emails[type eq"), "{detail}");
    // A target no schema defines is no longer an error (issue 21): the operation is skipped,
    // nothing changes, and the request log reports it (tests/it/quirks.rs).
    let r = patch(
        &app,
        &user_path(&id),
        json!([{"op":"Replace","path":"favouriteColour","value":"red"}]),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert!(r.body.get("favouriteColour").is_none(), "{}", r.raw);
    // A wrong value type.
    let r = patch(
        &app,
        &user_path(&id),
        json!([{"op":"Replace","path":"active","value":[1]}]),
    )
    .await;
    let detail = r.assert_error(400, Some("invalidValue"));
    assert!(detail.contains("active"), "{detail}");
    // Nothing of the failed requests was applied.
    let u = get(&app, &user_path(&id)).await.body;
    assert_eq!(u["active"], json!(true));
    assert_eq!(u["meta"]["version"], json!("W/\"1\""));
    assert_eq!(app.sql_int("SELECT COUNT(*) FROM resources"), 1);
}

/// Reads `path` ("title", "name.givenName", "<ENT>:department") out of a user body.
fn at<'v>(user: &'v Value, path: &str) -> &'v Value {
    if let Some(attr) = path.strip_prefix(&format!("{ENT}:")) {
        return &user[ENT][attr];
    }
    match path.split_once('.') {
        Some((parent, sub)) => &user[parent][sub],
        None => &user[path],
    }
}

// See: ../shared/idp-requirements.md S70
#[rocket::async_test]
async fn entra_s70_validator_replace_every_single_valued_string() {
    let app = TestApp::new().await;
    let r = entra(
        &app,
        "POST",
        "/scim/v2/Users",
        Some(entra_user("ValidatorUser_7f3a", "validator-ext")),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.raw);
    assert_eq!(r.body["userName"], json!("ValidatorUser_7f3a"));
    let id = r.body["id"].as_str().expect("id").to_owned();
    let attrs = [
        "userName",
        "displayName",
        "nickName",
        "profileUrl",
        "title",
        "userType",
        "preferredLanguage",
        "locale",
        "timezone",
        "externalId",
        "name.formatted",
        "name.familyName",
        "name.givenName",
        "name.middleName",
        "name.honorificPrefix",
        "name.honorificSuffix",
        "emails[type eq \"work\"].value",
        &format!("{ENT}:employeeNumber"),
        &format!("{ENT}:costCenter"),
        &format!("{ENT}:organization"),
        &format!("{ENT}:division"),
        &format!("{ENT}:department"),
    ];
    for attr in attrs {
        let r = patch(
            &app,
            &user_path(&id),
            json!([{"op":"Replace","path": attr,"value":"upd-1a2b3c4d"}]),
        )
        .await;
        assert!(matches!(r.status, 200 | 204), "{attr}: {}", r.raw);
    }
    let u = get(&app, &user_path(&id)).await;
    let u = u.ok();
    for attr in attrs {
        let v = if attr.starts_with("emails") {
            &u["emails"][0]["value"]
        } else {
            at(u, attr)
        };
        assert_eq!(v, &json!("upd-1a2b3c4d"), "{attr}: {u}");
    }
    assert_eq!(u["emails"][0]["type"], json!("work"));
    assert_eq!(u["active"], json!(true));
    // Groups: create echoes displayName, Replace on a non-member attribute.
    let r = entra(
        &app,
        "POST",
        "/scim/v2/Groups",
        Some(json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"ValidatorGroup"})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.raw);
    assert_eq!(r.body["displayName"], json!("ValidatorGroup"));
    let gid = r.body["id"].as_str().expect("gid").to_owned();
    for attr in ["displayName", "externalId"] {
        let r = patch(
            &app,
            &format!("/scim/v2/Groups/{gid}"),
            json!([{"op":"Replace","path": attr,"value":"upd-1a2b3c4d"}]),
        )
        .await;
        assert_eq!(r.status, 204, "{attr}: {}", r.raw);
    }
    let g = get(&app, &format!("/scim/v2/Groups/{gid}")).await;
    assert_eq!(g.ok()["displayName"], json!("upd-1a2b3c4d"));
    assert_eq!(g.body["externalId"], json!("upd-1a2b3c4d"));
}

// See: ../shared/idp-requirements.md S70 (pagination)
#[rocket::async_test]
async fn entra_s70_validator_pagination() {
    let app = TestApp::new().await;
    let mut all = Vec::new();
    for i in 0..12 {
        all.push(create(&app, &format!("paguser{i:02}"), &format!("pag{i}")).await);
    }
    let mut seen = Vec::new();
    for (page, size) in [(0, 5), (1, 5), (2, 2)] {
        let start = page * 5 + 1;
        let r = get(&app, &format!("/scim/v2/Users?startIndex={start}&count=5")).await;
        assert_eq!(r.ok()["startIndex"], json!(start));
        assert_eq!(r.body["totalResults"], json!(12));
        assert_eq!(r.body["itemsPerPage"], json!(size));
        seen.extend(ids(&r.body).into_iter().map(str::to_owned));
    }
    assert_eq!(seen, all, "pages walk every user once, in a stable order");
    // Credentials probe.
    let r = get(&app, "/scim/v2/Users?startIndex=1&count=1").await;
    assert_eq!(r.ok()["itemsPerPage"], json!(1));
    assert_eq!(ids(&r.body), [all[0].as_str()]);
    // Clean-up.
    for id in &all {
        assert_eq!(
            entra(&app, "DELETE", &user_path(id), None).await.status,
            204
        );
    }
    let r = get(&app, "/scim/v2/Users?startIndex=1&count=5").await;
    assert_eq!(r.ok(), &empty_list());
}

// See: ../shared/idp-requirements.md S71
#[rocket::async_test]
async fn entra_s71_validator_lifecycle() {
    let app = TestApp::new().await;
    let mgr = create(&app, "lifecycle-mgr", "lc-mgr").await;
    let mgr2 = create(&app, "lifecycle-mgr2", "lc-mgr2").await;
    // Create_User
    let id = create(&app, "lifecycle", "lc").await;
    // Update_User: jobTitle → title, department → enterprise department.
    let r = patch(
        &app,
        &user_path(&id),
        json!([
            {"op":"Add","path":"title","value":"Engineer"},
            {"op":"Add","path":format!("{ENT}:department"),"value":"R&D"}]),
    )
    .await;
    r.ok();
    let r = patch(
        &app,
        &user_path(&id),
        json!([
            {"op":"Replace","path":"title","value":"Senior Engineer"},
            {"op":"Replace","path":format!("{ENT}:department"),"value":"Research"}]),
    )
    .await;
    assert_eq!(r.ok()["title"], json!("Senior Engineer"));
    let u = get(&app, &user_path(&id)).await.body;
    assert_eq!(u["title"], json!("Senior Engineer"));
    assert_eq!(u[ENT]["department"], json!("Research"));
    // Disable_User
    let r = patch(
        &app,
        &user_path(&id),
        json!([{"op":"Replace","path":"active","value":"False"}]),
    )
    .await;
    assert_eq!(r.ok()["active"], json!(false));
    // User_Update_Manager: set, change, clear.
    let path = format!("{ENT}:manager");
    for value in [&mgr, &mgr2] {
        patch(
            &app,
            &user_path(&id),
            json!([{"op":"Add","path": path,"value": value}]),
        )
        .await
        .ok();
        let u = get(&app, &user_path(&id)).await.body;
        assert_eq!(u[ENT]["manager"]["value"], json!(value));
        assert_eq!(u[ENT]["department"], json!("Research"));
    }
    patch(
        &app,
        &user_path(&id),
        json!([{"op":"Replace","path": path,"value":""}]),
    )
    .await
    .ok();
    let u = get(&app, &user_path(&id)).await.body;
    assert_eq!(u[ENT], json!({"department":"Research"}));
    assert_eq!(u["active"], json!(false));
    // Delete_User
    assert_eq!(
        entra(&app, "DELETE", &user_path(&id), None).await.status,
        204
    );
    get(&app, &user_path(&id)).await.assert_error(404, None);
    let f = get(&app, "/scim/v2/Users?filter=userName+eq+%22lifecycle%22").await;
    assert_eq!(f.ok(), &empty_list());
    // Restore_User: the engine creates it again; a new id, same userName.
    let again = create(&app, "lifecycle", "lc").await;
    assert_ne!(again, id);
    let f = get(&app, "/scim/v2/Users?filter=userName+eq+%22lifecycle%22").await;
    assert_eq!(ids(f.ok()), [again.as_str()]);
}
