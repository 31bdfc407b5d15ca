//! OneLogin (S73), JumpCloud (S74) and Google Workspace (S76) scenarios of
//! ../shared/idp-requirements.md, where they differ from Okta and Entra.

use serde_json::{Value, json};

use crate::common::{TestApp, enc};

const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const CORE_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const LIST: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

// See: ../shared/idp-requirements.md S73
#[rocket::async_test]
async fn onelogin_s73_core_schema_template() {
    let app = TestApp::new().await;
    // The default "Core Schema" template: SCIM 1.0 URN, unmapped placeholders rendered as "",
    // emails as a lone object.
    let r = app
        .post(
            "/scim/v2/Users",
            json!({"schemas":["urn:scim:schemas:core:1.0"],
                   "userName":"jane.doe@onelogin.test","externalId":"",
                   "name":{"givenName":"Jane","familyName":"Doe","middleName":""},
                   "title":"","nickName":"",
                   "emails":{"value":"jane.doe@onelogin.test","type":"work","primary":true}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.raw);
    let u = r.ok();
    let id = u["id"].as_str().expect("id").to_owned();
    assert_eq!(u["schemas"], json!([CORE_USER]), "answered in SCIM 2.0");
    assert_eq!(u["name"], json!({"givenName":"Jane","familyName":"Doe"}));
    assert_eq!(
        u["emails"],
        json!([{"value":"jane.doe@onelogin.test","type":"work","primary":true}])
    );
    for unassigned in ["title", "nickName", "externalId"] {
        assert!(u.get(unassigned).is_none(), "{unassigned}: {u}");
    }
    // "" does not count as a value for filters either.
    let r = app
        .get(&format!("/scim/v2/Users?filter={}", enc("title pr")))
        .await;
    assert_eq!(r.ok()["totalResults"], json!(0));
    let r = app
        .get(&format!(
            "/scim/v2/Users?filter={}",
            enc("userName eq \"jane.doe@onelogin.test\"")
        ))
        .await;
    assert_eq!(r.ok()["Resources"][0]["id"], json!(id));
}

// See: ../shared/idp-requirements.md S73
#[rocket::async_test]
async fn onelogin_s73_enterprise_template() {
    let app = TestApp::new().await;
    let mgr = app.create_user("boss@onelogin.test").await;
    let body = json!({"schemas":[CORE_USER, ENT],
        "userName":"emp@onelogin.test",
        "name":{"givenName":"Emp","familyName":"Loyee"},
        "emails":[{"value":"emp@onelogin.test","type":"work","primary":true}],
        "title":"Analyst",
        "addresses":[{"streetAddress":"1 Main St","locality":"Springfield","postalCode":"12345","country":"US"}],
        ENT: {"department":"Finance","costCenter":"","employeeNumber":"",
              "manager":{"value": mgr,"displayName":"The Boss"}}});
    let r = app.post("/scim/v2/Users", body.clone()).await;
    assert_eq!(r.status, 201, "{}", r.raw);
    let id = r.body["id"].as_str().expect("id").to_owned();
    let u = app.get(&format!("/scim/v2/Users/{id}")).await;
    let u = u.ok();
    assert_eq!(u["schemas"], json!([CORE_USER, ENT]));
    assert_eq!(
        u["addresses"],
        json!([{"streetAddress":"1 Main St","locality":"Springfield","postalCode":"12345","country":"US"}])
    );
    assert_eq!(u[ENT]["department"], json!("Finance"));
    assert_eq!(u[ENT]["manager"]["value"], json!(mgr));
    assert!(u[ENT].get("costCenter").is_none() && u[ENT].get("employeeNumber").is_none());
    // A template update sends "" for a value that was unmapped since: it is cleared.
    let mut update = body;
    update["title"] = json!("");
    update[ENT]["department"] = json!("");
    let r = app.put(&format!("/scim/v2/Users/{id}"), update).await;
    let u = r.ok();
    assert!(u.get("title").is_none(), "{u}");
    assert!(u[ENT].get("department").is_none(), "{u}");
    assert_eq!(u[ENT]["manager"]["value"], json!(mgr));
}

// See: ../shared/idp-requirements.md S74
#[rocket::async_test]
async fn jumpcloud_s74_test_connection_creates_and_deletes() {
    let app = TestApp::new().await;
    app.create_user("existing@example.com").await;
    // Twice: the test connection is repeated on every "Activate".
    for round in 0..2 {
        let r = app
            .post(
                "/scim/v2/Users",
                json!({"schemas":[CORE_USER],"userName":"jc-test@example.com",
                       "name":{"givenName":"JumpCloud","familyName":"Test"},
                       "emails":[{"value":"jc-test@example.com","type":"work","primary":true}],"active":true}),
            )
            .await;
        assert_eq!(r.status, 201, "round {round}: {}", r.raw);
        let uid = r.body["id"].clone();
        assert!(
            uid.as_str().is_some_and(|s| !s.is_empty()),
            "id must be a JSON string: {uid}"
        );
        let r = app
            .post(
                "/scim/v2/Groups",
                json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"JumpCloud Test Group"}),
            )
            .await;
        assert_eq!(r.status, 201, "round {round}: {}", r.raw);
        let gid = r.body["id"].clone();
        assert!(
            gid.as_str().is_some_and(|s| !s.is_empty()),
            "id must be a JSON string: {gid}"
        );
        // meta.location is built on a base URL without a trailing slash.
        let loc = r.body["meta"]["location"].as_str().expect("location");
        assert!(
            loc.ends_with(&format!("/scim/v2/Groups/{}", gid.as_str().expect("gid"))),
            "{loc}"
        );
        assert!(!loc.trim_start_matches("http://").contains("//"), "{loc}");
        let uid = uid.as_str().expect("uid");
        let gid = gid.as_str().expect("gid");
        assert_eq!(
            app.delete(&format!("/scim/v2/Users/{uid}")).await.status,
            204
        );
        assert_eq!(
            app.delete(&format!("/scim/v2/Groups/{gid}")).await.status,
            204
        );
        app.get(&format!("/scim/v2/Users/{uid}"))
            .await
            .assert_error(404, None);
    }
    // Reusing an existing user's email as the test user fails clearly.
    let r = app
        .post(
            "/scim/v2/Users",
            json!({"schemas":[CORE_USER],"userName":"existing@example.com"}),
        )
        .await;
    r.assert_error(409, Some("uniqueness"));
    assert_eq!(app.sql_int("SELECT COUNT(*) FROM resources"), 1);
}

// See: ../shared/idp-requirements.md S74 (base URL without trailing slash)
#[rocket::async_test]
async fn jumpcloud_s74_base_url_without_trailing_slash() {
    let app = TestApp::new().await;
    let uid = app.create_user("slash@example.com").await;
    for path in ["/scim/v2/Users", "/scim/v2/Groups"] {
        let r = app.get(path).await;
        assert_eq!(r.ok()["schemas"], json!([LIST]), "{path}");
    }
    let r = app.get(&format!("/scim/v2/Users/{uid}")).await;
    assert_eq!(r.ok()["id"], json!(uid));
    assert!(r.body["id"].is_string());
}

// See: ../shared/idp-requirements.md S76
#[rocket::async_test]
async fn google_s76_count_one_probe() {
    let app = TestApp::new().await;
    let r = app.get("/scim/v2/Users?count=1").await;
    assert_eq!(
        r.ok(),
        &json!({"schemas":[LIST],"totalResults":0,"startIndex":1,"itemsPerPage":0,"Resources":[]})
    );
    let first = app.create_user("first@google.test").await;
    app.create_user("second@google.test").await;
    let r = app.get("/scim/v2/Users?count=1").await;
    let body: &Value = r.ok();
    assert_eq!(body["schemas"], json!([LIST]));
    assert_eq!(body["totalResults"], json!(2));
    assert_eq!(body["startIndex"], json!(1));
    assert_eq!(body["itemsPerPage"], json!(1));
    assert_eq!(body["Resources"].as_array().map(Vec::len), Some(1));
    assert_eq!(body["Resources"][0]["id"], json!(first));
}
