//! Discovery endpoints answer without a token and tell the truth about what is implemented.

use serde_json::json;

use crate::common::TestApp;

#[rocket::async_test]
async fn discovery_needs_no_token() {
    let app = TestApp::new().await;
    for path in [
        "/scim/v2/ServiceProviderConfig",
        "/scim/v2/ResourceTypes",
        "/scim/v2/Schemas",
        "/scim/v2/ResourceTypes/User",
    ] {
        let r = app.send_raw("GET", path, None, &[]).await;
        assert_eq!(r.status, 200, "{path}: {}", r.raw);
        assert_eq!(r.content_type.as_deref(), Some("application/scim+json"));
    }
}

#[rocket::async_test]
async fn service_provider_config_advertises_what_works() {
    let app = TestApp::new().await;
    let c = app
        .send_raw("GET", "/scim/v2/ServiceProviderConfig", None, &[])
        .await
        .body;
    assert_eq!(c["patch"]["supported"], json!(true));
    assert_eq!(c["filter"]["supported"], json!(true));
    assert_eq!(c["filter"]["maxResults"], json!(1000));
    assert_eq!(c["bulk"]["supported"], json!(false));
    assert_eq!(c["sort"]["supported"], json!(true));
    assert_eq!(c["etag"]["supported"], json!(true));
    assert_eq!(
        c["authenticationSchemes"][0]["type"],
        json!("oauthbearertoken")
    );
}

// See: ../shared/idp-requirements.md S68
#[rocket::async_test]
async fn schemas_list_user_group_and_enterprise_with_full_characteristics() {
    let app = TestApp::new().await;
    let r = app.send_raw("GET", "/scim/v2/Schemas", None, &[]).await;
    let ids: Vec<&str> = r.body["Resources"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    assert_eq!(
        ids,
        [
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
            "urn:ietf:params:scim:schemas:core:2.0:Group"
        ]
    );
    assert!(!r.raw.contains("null"), "no null-valued keys (Entra)");
    let user = &r.body["Resources"][0];
    let user_name = user["attributes"]
        .as_array()
        .expect("attrs")
        .iter()
        .find(|a| a["name"] == "userName")
        .expect("userName");
    assert_eq!(user_name["uniqueness"], json!("server"));
    assert_eq!(user_name["caseExact"], json!(false));
    assert_eq!(user_name["required"], json!(true));
    let password = user["attributes"]
        .as_array()
        .expect("attrs")
        .iter()
        .find(|a| a["name"] == "password")
        .expect("password");
    assert_eq!(password["returned"], json!("never"));
    assert_eq!(password["mutability"], json!("writeOnly"));
    let one = app
        .send_raw(
            "GET",
            "/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:Group",
            None,
            &[],
        )
        .await;
    assert_eq!(one.body["name"], json!("Group"));
}

#[rocket::async_test]
async fn public_url_is_the_base_of_every_location() {
    let app = TestApp::with(|c| c.public_url = Some("https://scim.example.com/".into())).await;
    let r = app
        .post("/scim/v2/Users", crate::common::okta_user("loc@x.test"))
        .await;
    let id = r.body["id"].as_str().expect("id");
    let expected = format!("https://scim.example.com/scim/v2/Users/{id}");
    assert_eq!(r.header("Location"), Some(expected.as_str()));
    assert_eq!(r.body["meta"]["location"], json!(expected));
    let spc = app
        .send_raw("GET", "/scim/v2/ServiceProviderConfig", None, &[])
        .await;
    assert_eq!(
        spc.body["meta"]["location"],
        json!("https://scim.example.com/scim/v2/ServiceProviderConfig")
    );
}
