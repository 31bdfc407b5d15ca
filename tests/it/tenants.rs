//! Tenant addressing: `/t/{slug}/scim/v2` serves another tenant with complete isolation, and a
//! token used on the wrong tenant's URL is told where it belongs.

use serde_json::json;

use crate::common::{TestApp, enc, okta_user};

fn create_tenant(app: &TestApp, slug: &str) {
    app.app()
        .store
        .write_blocking({
            let slug = slug.to_owned();
            move |tx| scimd::store::tenants::create(tx, &slug, &slug, "2026-01-01T00:00:00.000Z")
        })
        .expect("tenant");
}

#[rocket::async_test]
async fn token_on_wrong_tenant_names_the_right_url() {
    let app = TestApp::new().await;
    create_tenant(&app, "acme");
    let acme = app.issue_token("acme", "okta-acme", false, None);
    // The default tenant's token against acme's URL.
    let r = app.get("/t/acme/scim/v2/Users").await;
    let detail = r.assert_error(401, None);
    assert!(
        detail.contains("belongs to tenant \"default\"")
            && detail.contains("http://localhost/scim/v2"),
        "{detail}"
    );
    // acme's token against the default URL.
    let bearer = format!("Bearer {acme}");
    let r = app
        .send_with("GET", "/scim/v2/Users", None, &[("Authorization", &bearer)])
        .await;
    let detail = r.assert_error(401, None);
    assert!(detail.contains("/t/acme/scim/v2"), "{detail}");
}

#[rocket::async_test]
async fn unknown_tenant_is_404() {
    let app = TestApp::new().await;
    let r = app.get("/t/nope/scim/v2/Users").await;
    assert!(r.assert_error(404, None).contains("nope"));
    let r = app
        .send_raw("GET", "/t/nope/scim/v2/Schemas", None, &[])
        .await;
    r.assert_error(404, None);
}

#[rocket::async_test]
async fn tenants_are_isolated_for_reads_filters_and_uniqueness() {
    let app = TestApp::new().await;
    create_tenant(&app, "acme");
    let acme = format!("Bearer {}", app.issue_token("acme", "okta", false, None));
    let h = [("Authorization", acme.as_str())];
    let mine = app.create_user("same@x.test").await;
    // Same userName in another tenant is not a conflict.
    let r = app
        .send_with(
            "POST",
            "/t/acme/scim/v2/Users",
            Some(okta_user("same@x.test")),
            &h,
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.raw);
    let theirs = r.body["id"].as_str().expect("id").to_owned();
    assert!(
        r.body["meta"]["location"]
            .as_str()
            .is_some_and(|l| l.contains("/t/acme/scim/v2/Users/"))
    );
    // Neither tenant sees the other's user by id, list or filter.
    app.get(&format!("/scim/v2/Users/{theirs}"))
        .await
        .assert_error(404, None);
    app.send_with("GET", &format!("/t/acme/scim/v2/Users/{mine}"), None, &h)
        .await
        .assert_error(404, None);
    let list = app.get("/scim/v2/Users").await;
    assert_eq!(list.body["totalResults"], json!(1));
    let f = app
        .send_with(
            "GET",
            &format!(
                "/t/acme/scim/v2/Users?filter={}",
                enc(&format!("id eq \"{mine}\""))
            ),
            None,
            &h,
        )
        .await;
    assert_eq!(f.body["totalResults"], json!(0));
    app.send_with("DELETE", &format!("/t/acme/scim/v2/Users/{mine}"), None, &h)
        .await
        .assert_error(404, None);
    assert_eq!(app.get(&format!("/scim/v2/Users/{mine}")).await.status, 200);
}
