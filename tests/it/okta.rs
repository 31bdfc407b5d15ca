//! Okta scenarios S01–S15 and the Runscope suites S25–S39 of ../shared/idp-requirements.md,
//! request by request with Okta's headers and bodies.

use serde_json::{Value, json};

use crate::common::{TestApp, enc, okta_user};

fn assert_list_numbers(v: &Value) {
    for k in ["totalResults", "startIndex", "itemsPerPage"] {
        assert!(v[k].is_u64(), "{k} must be a JSON integer: {v}");
    }
    assert!(
        v["Resources"].is_array(),
        "Resources must always be an array: {v}"
    );
    assert_eq!(
        v["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:ListResponse"])
    );
}

// See: ../shared/idp-requirements.md S01
#[rocket::async_test]
async fn okta_s01_test_connection_probe() {
    let app = TestApp::new().await;
    let empty = app.get("/scim/v2/Users?startIndex=1&count=2").await;
    assert_list_numbers(empty.ok());
    assert_eq!(empty.body["Resources"], json!([]));
    assert_eq!(empty.body["totalResults"], json!(0));
    for i in 0..3 {
        app.create_user(&format!("u{i}@okta.local")).await;
    }
    let r = app.get("/scim/v2/Users?startIndex=1&count=2").await;
    assert_list_numbers(r.ok());
    assert_eq!(
        (
            r.body["totalResults"].as_u64(),
            r.body["itemsPerPage"].as_u64()
        ),
        (Some(3), Some(2))
    );
    assert_eq!(r.body["startIndex"], json!(1));
}

// See: ../shared/idp-requirements.md S02, S34
#[rocket::async_test]
async fn okta_s02_s34_groups_probe() {
    let app = TestApp::new().await;
    let r = app.get("/scim/v2/Groups?startIndex=1&count=100").await;
    assert_list_numbers(r.ok());
    assert_eq!(r.body["totalResults"], json!(0));
    app.create_group("Engineering").await;
    let r = app.get("/scim/v2/Groups").await;
    assert_list_numbers(r.ok());
    assert_eq!(r.body["Resources"].as_array().map(Vec::len), Some(1));
}

// See: ../shared/idp-requirements.md S03
#[rocket::async_test]
async fn okta_s03_import_paging_is_stable() {
    let app = TestApp::new().await;
    let mut ids = Vec::new();
    for i in 0..7 {
        ids.push(app.create_user(&format!("page{i}@okta.local")).await);
    }
    let mut seen = Vec::new();
    for start in [1, 4, 7] {
        let r = app
            .get(&format!("/scim/v2/Users?startIndex={start}&count=3"))
            .await;
        assert_list_numbers(r.ok());
        assert_eq!(r.body["startIndex"], json!(start));
        assert_eq!(r.body["totalResults"], json!(7));
        seen.extend(
            r.body["Resources"]
                .as_array()
                .expect("array")
                .iter()
                .map(|u| u["id"].as_str().expect("id").to_owned()),
        );
    }
    assert_eq!(seen, ids, "pages must walk the same total order");
    let past = app.get("/scim/v2/Users?startIndex=100&count=100").await;
    assert_eq!(past.body["Resources"], json!([]));
    assert_eq!(past.body["totalResults"], json!(7));
    assert_eq!(past.body["itemsPerPage"], json!(0));
}

// See: ../shared/idp-requirements.md S04
#[rocket::async_test]
async fn okta_s04_precheck_absent_user() {
    let app = TestApp::new().await;
    let r = app.get("/scim/v2/Users?filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100").await;
    assert_eq!(
        r.ok(),
        &json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":0,"startIndex":1,"itemsPerPage":0,"Resources":[]})
    );
}

// See: ../shared/idp-requirements.md S05
#[rocket::async_test]
async fn okta_s05_precheck_finds_user_case_insensitively() {
    let app = TestApp::new().await;
    let id = app.create_user("Test.User@Okta.Local").await;
    let r = app
        .get(&format!(
            "/scim/v2/Users?filter={}&startIndex=1&count=100",
            enc("userName eq \"test.user@okta.local\"")
        ))
        .await;
    assert_eq!(r.ok()["totalResults"], json!(1));
    let u = &r.body["Resources"][0];
    assert_eq!(u["id"], json!(id));
    assert_eq!(u["userName"], json!("Test.User@Okta.Local"));
    assert_eq!(u["active"], json!(true));
    assert!(u["name"].is_object() && u["emails"].is_array());
}

// See: ../shared/idp-requirements.md S06, S30
#[rocket::async_test]
async fn okta_s06_create_user() {
    let app = TestApp::new().await;
    let r = app
        .post(
            "/scim/v2/Users",
            okta_user("Runscope123Abcdefghi456@atko.com"),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.raw);
    let u = r.ok();
    assert!(u["id"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(
        u["userName"],
        json!("Runscope123Abcdefghi456@atko.com"),
        "userName echoed byte for byte"
    );
    assert_eq!(u["active"], json!(true));
    assert_eq!(u["meta"]["resourceType"], json!("User"));
    assert_eq!(u["name"], json!({"givenName":"Test","familyName":"User"}));
    assert!(u.get("password").is_none(), "password is never returned");
    assert!(u.get("groups").is_none_or(|g| g == &json!([])));
    let location = r.header("Location").expect("Location header");
    assert_eq!(
        location,
        u["meta"]["location"].as_str().expect("meta.location")
    );
    assert!(location.starts_with("http://") && location.ends_with(u["id"].as_str().expect("id")));
    assert_eq!(r.header("ETag"), Some("W/\"1\""));
    assert_eq!(u["meta"]["version"], json!("W/\"1\""));
    // The password is stored only as an argon2 hash.
    let hash: String = app
        .app()
        .store
        .read_blocking(
            |c| Ok(c.query_row("SELECT password_hash FROM resources", [], |r| r.get(0))?),
        )
        .expect("hash");
    assert!(hash.starts_with("$argon2id$") && !hash.contains("1mz050nq"));
}

// See: ../shared/idp-requirements.md S07, S32
#[rocket::async_test]
async fn okta_s07_s32_duplicate_create_is_409() {
    let app = TestApp::new().await;
    let id = app.create_user("dup@okta.local").await;
    let r = app
        .post("/scim/v2/Users", okta_user("DUP@okta.local"))
        .await;
    let detail = r.assert_error(409, Some("uniqueness"));
    assert!(
        detail.contains("userName") && detail.contains(&id),
        "{detail}"
    );
    assert_eq!(app.sql_int("SELECT COUNT(*) FROM resources"), 1);
}

// See: ../shared/idp-requirements.md S09, S26, S31
#[rocket::async_test]
async fn okta_s09_read_user() {
    let app = TestApp::new().await;
    let id = app.create_user("read@okta.local").await;
    let r = app.get(&format!("/scim/v2/Users/{id}")).await;
    assert_eq!(r.ok()["id"], json!(id));
    assert_eq!(r.body["userName"], json!("read@okta.local"));
    assert_eq!(r.body["emails"][0]["value"], json!("read@okta.local"));
    assert_eq!(r.header("ETag"), Some("W/\"1\""));
}

// See: ../shared/idp-requirements.md S10, S38
#[rocket::async_test]
async fn okta_s10_put_read_modify_write() {
    let app = TestApp::new().await;
    let id = app.create_user("test.user@okta.local").await;
    let put = json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id": id,
        "userName":"test.user@okta.local",
        "name":{"givenName":"Another","middleName":"Excited","familyName":"User"},
        "emails":[{"primary":true,"value":"test.user@okta.local","type":"work","display":"test.user@okta.local"}],
        "active":true,"groups":[],"meta":{"resourceType":"User"}});
    let r = app.put(&format!("/scim/v2/Users/{id}"), put).await;
    let u = r.ok();
    assert_eq!(u["name"]["givenName"], json!("Another"));
    assert_eq!(u["name"]["middleName"], json!("Excited"));
    assert!(
        u.get("displayName").is_none(),
        "omitted attributes are cleared by PUT"
    );
    assert!(u.get("externalId").is_none());
    assert_eq!(u["meta"]["version"], json!("W/\"2\""));
    let g = app.get(&format!("/scim/v2/Users/{id}")).await;
    assert_eq!(g.body["name"]["givenName"], json!("Another"));
    // The password set at creation survives a PUT that cannot send it back.
    let hash: Option<String> = app
        .app()
        .store
        .read_blocking(
            |c| Ok(c.query_row("SELECT password_hash FROM resources", [], |r| r.get(0))?),
        )
        .expect("hash");
    assert!(hash.is_some());
}

// See: ../shared/idp-requirements.md S11, S15
#[rocket::async_test]
async fn okta_s11_s15_deactivate_with_pathless_patch_keeps_user_visible() {
    let app = TestApp::new().await;
    let id = app.create_user("deact@okta.local").await;
    let r = app
        .patch(
            &format!("/scim/v2/Users/{id}"),
            json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}),
        )
        .await;
    assert_eq!(r.ok()["active"], json!(false));
    let g = app.get(&format!("/scim/v2/Users/{id}")).await;
    assert_eq!(g.ok()["active"], json!(false));
    let f = app
        .get(&format!(
            "/scim/v2/Users?filter={}",
            enc("userName eq \"deact@okta.local\"")
        ))
        .await;
    assert_eq!(f.ok()["totalResults"], json!(1));
    assert_eq!(f.body["Resources"][0]["active"], json!(false));
}

// See: ../shared/idp-requirements.md S12, S13, S39
#[rocket::async_test]
async fn okta_s12_s13_deactivate_and_reactivate_with_put() {
    let app = TestApp::new().await;
    let id = app.create_user("aiw@okta.local").await;
    for active in [false, true, false] {
        let f = app
            .get(&format!(
                "/scim/v2/Users?filter={}&startIndex=1&count=100",
                enc("userName eq \"aiw@okta.local\"")
            ))
            .await;
        assert_eq!(f.ok()["Resources"][0]["id"], json!(id));
        let mut body = app.get(&format!("/scim/v2/Users/{id}")).await.body;
        body["active"] = json!(active);
        let r = app.put(&format!("/scim/v2/Users/{id}"), body).await;
        assert_eq!(r.ok()["active"], json!(active));
        assert_eq!(r.body["id"], json!(id));
        assert_eq!(
            app.get(&format!("/scim/v2/Users/{id}")).await.body["active"],
            json!(active)
        );
    }
}

// See: ../shared/idp-requirements.md S14
#[rocket::async_test]
async fn okta_s14_password_sync_patch() {
    let app = TestApp::new().await;
    let id = app.create_user("pw@okta.local").await;
    let before: String = app.sql_text("SELECT password_hash FROM resources");
    let r = app
        .patch(
            &format!("/scim/v2/Users/{id}"),
            json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"password":"n3w-Secret"}}]}),
        )
        .await;
    assert!(r.ok().get("password").is_none());
    assert!(!r.raw.contains("n3w-Secret"));
    let after: String = app.sql_text("SELECT password_hash FROM resources");
    assert_ne!(before, after);
    assert!(scimd::service::passwords::verify("n3w-Secret", &after));
}

// See: ../shared/idp-requirements.md S25, S26
#[rocket::async_test]
async fn okta_s25_s26_runscope_list_first_user_and_get_it() {
    let app = TestApp::new().await;
    app.create_user("first@atko.com").await;
    let headers = [
        ("Accept", "application/scim+json"),
        ("Accept-Charset", "utf-8"),
        ("Content-Type", "application/scim+json; charset=utf-8"),
        ("User-Agent", "OKTA SCIM Integration"),
    ];
    let bearer = app.bearer();
    let mut h: Vec<(&str, &str)> = headers.to_vec();
    h.push(("Authorization", &bearer));
    let r = app
        .send_with("GET", "/scim/v2/Users?count=1&startIndex=1", None, &h)
        .await;
    assert_list_numbers(r.ok());
    let u = &r.body["Resources"][0];
    for field in ["id", "userName"] {
        assert!(u[field].as_str().is_some_and(|s| !s.is_empty()), "{field}");
    }
    assert!(u["name"]["familyName"].is_string() && u["name"]["givenName"].is_string());
    assert_eq!(u["active"], json!(true));
    assert!(u["emails"][0]["value"].is_string());
    let id = u["id"].as_str().expect("id");
    let g = app
        .send_with("GET", &format!("/scim/v2/Users/{id}"), None, &h)
        .await;
    assert_eq!(g.ok()["id"], json!(id));
}

// See: ../shared/idp-requirements.md S27, S29
#[rocket::async_test]
async fn okta_s27_s29_unknown_user_name_is_empty_list() {
    let app = TestApp::new().await;
    app.create_user("someone@atko.com").await;
    for name in ["abcdefgh@atko.com", "Runscope999Zzzzzzzzz999@atko.com"] {
        let r = app
            .get(&format!(
                "/scim/v2/Users?filter={}",
                enc(&format!("userName eq \"{name}\""))
            ))
            .await;
        assert_list_numbers(r.ok());
        assert_eq!(r.body["totalResults"], json!(0));
    }
}

// See: ../shared/idp-requirements.md S28, S36
#[rocket::async_test]
async fn okta_s28_s36_unknown_ids_are_404_with_detail() {
    let app = TestApp::new().await;
    for id in ["010101001010101011001010101011", "00919288221112222"] {
        let r = app.get(&format!("/scim/v2/Users/{id}")).await;
        let detail = r.assert_error(404, None);
        assert!(detail.contains(id), "{detail}");
    }
}

// See: ../shared/idp-requirements.md S33
#[rocket::async_test]
async fn okta_s33_user_name_filter_ignores_case() {
    let app = TestApp::new().await;
    app.create_user("Runscope123Abcdefghi456@atko.com").await;
    let r = app
        .get(&format!(
            "/scim/v2/Users?filter={}",
            enc("userName eq \"RUNSCOPE123ABCDEFGHI456@ATKO.COM\"")
        ))
        .await;
    assert_eq!(r.ok()["totalResults"], json!(1));
}

// See: ../shared/idp-requirements.md S35
#[rocket::async_test]
async fn okta_s35_bad_credentials_get_scim_401() {
    let app = TestApp::new().await;
    let r = app
        .send_with(
            "GET",
            &format!("/scim/v2/Users?filter={}", enc("userName eq \"x\"")),
            None,
            &[("Authorization", "non-token")],
        )
        .await;
    r.assert_error(401, None);
    assert!(
        r.header("WWW-Authenticate")
            .is_some_and(|h| h.starts_with("Bearer"))
    );
}

// See: ../shared/idp-requirements.md S37
#[rocket::async_test]
async fn okta_s37_crud_lookup_with_minimal_headers() {
    let app = TestApp::new().await;
    app.create_user("crud@okta.local").await;
    let bearer = app.bearer();
    let r = app
        .send_with(
            "GET",
            &format!(
                "/scim/v2/Users?filter={}",
                enc("userName eq \"crud@okta.local\"")
            ),
            None,
            &[
                ("Authorization", &bearer),
                ("Accept", "application/scim+json"),
            ],
        )
        .await;
    let u = &r.ok()["Resources"][0];
    assert_eq!(u["userName"], json!("crud@okta.local"));
    assert_eq!(u["emails"][0]["value"], json!("crud@okta.local"));
    assert_eq!(u["name"]["givenName"], json!("Test"));
}

// See: ../shared/idp-requirements.md S38 (PATCH form of the firstName change)
#[rocket::async_test]
async fn okta_s38_first_name_change_by_patch() {
    let app = TestApp::new().await;
    let id = app.create_user("fn@okta.local").await;
    let r = app
        .patch(
            &format!("/scim/v2/Users/{id}"),
            json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"name.givenName","value":"Changed"}]}),
        )
        .await;
    assert_eq!(r.ok()["name"]["givenName"], json!("Changed"));
    assert_eq!(r.body["name"]["familyName"], json!("User"));
    assert_eq!(
        app.get(&format!("/scim/v2/Users/{id}")).await.body["name"]["givenName"],
        json!("Changed")
    );
}
