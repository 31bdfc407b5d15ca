//! The error contract (design.md "Errors"): every failure is a SCIM Error with a detail that
//! names the problem and the fix, and a failed request changes nothing.

use serde_json::json;

use crate::common::{TestApp, okta_user};

const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// Bad input table: each row is a 4xx SCIM error whose detail mentions the culprit, and the
/// store is unchanged afterwards.
#[rocket::async_test]
async fn bad_input_is_rejected_with_a_useful_detail_and_nothing_stored() {
    let app = TestApp::new().await;
    let id = app.create_user("keep@x.test").await;
    let user_path = format!("/scim/v2/Users/{id}");
    let before = app.get(&user_path).await.body;
    let huge = format!("{{\"userName\":\"{}\"}}", "a".repeat(1_100_000));
    // (method, path, body, status, scimType, what the detail must mention)
    type Case<'a> = (
        &'a str,
        String,
        Option<String>,
        u16,
        Option<&'a str>,
        &'a str,
    );
    let cases: Vec<Case<'_>> = vec![
        ("POST", "/scim/v2/Users".into(), Some("{\"userName\": \"a\",".into()), 400, Some("invalidSyntax"), "line 1"),
        ("POST", "/scim/v2/Users".into(), Some("[1,2]".into()), 400, Some("invalidSyntax"), "JSON object"),
        ("POST", "/scim/v2/Users".into(), Some(json!({"userName": 42.5e300, "active": "maybe"}).to_string()), 400, Some("invalidValue"), "active"),
        ("POST", "/scim/v2/Users".into(), Some(json!({"userName": ["a"]}).to_string()), 400, Some("invalidValue"), "userName"),
        ("POST", "/scim/v2/Users".into(), Some(json!({"name": {"givenName": "x"}}).to_string()), 400, Some("invalidValue"), "userName is required"),
        // Undeclared attributes and schema URNs are no longer errors unless the tenant is
        // strict (issue 21): see tests/it/quirks.rs.
        ("POST", "/scim/v2/Users".into(), Some(json!({"userName":"b", ENT: {"employeeNumber": true}}).to_string()), 400, Some("invalidValue"), "employeeNumber"),
        ("POST", "/scim/v2/Users".into(), Some(huge), 413, None, "max_body_bytes"),
        ("GET", "/scim/v2/Users?filter=userName%20equals%20%22x%22".into(), None, 400, Some("invalidFilter"), "position"),
        ("GET", "/scim/v2/Users?filter=nickname%20eq%20%22x%22%20and%20shoeSize%20gt%205".into(), None, 400, Some("invalidFilter"), "shoeSize"),
        ("GET", "/scim/v2/Users?startIndex=first".into(), None, 400, Some("invalidValue"), "startIndex"),
        ("PATCH", user_path.clone(), Some(json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"frobnicate","path":"active","value":false}]}).to_string()), 400, Some("invalidValue"), "frobnicate"),
        ("PATCH", user_path.clone(), Some(json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove"}]}).to_string()), 400, Some("noTarget"), "path"),
        ("PATCH", user_path.clone(), Some(json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
            {"op":"replace","path":"displayName","value":"changed"},
            {"op":"replace","path":"emails[type eq \"work\"","value":"x"}]}).to_string()), 400, Some("invalidPath"), "position"),
        ("PATCH", user_path.clone(), Some(json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
            {"op":"replace","path":"displayName","value":"changed"},
            {"op":"remove","path":"userName"}]}).to_string()), 400, Some("invalidValue"), "userName"),
        ("PUT", user_path.clone(), Some(json!({"userName": true}).to_string()), 400, Some("invalidValue"), "userName"),
    ];
    for (method, path, body, status, scim_type, needle) in cases {
        let bearer = app.bearer();
        let r = app
            .send_raw(
                method,
                &path,
                body.as_deref(),
                &[("Authorization", &bearer)],
            )
            .await;
        let detail = r.assert_error(status, scim_type);
        assert!(
            detail.contains(needle),
            "{method} {path}: detail {detail:?} should mention {needle:?}"
        );
    }
    assert_eq!(
        app.get(&user_path).await.body,
        before,
        "failed requests must not change the user"
    );
    assert_eq!(app.sql_int("SELECT COUNT(*) FROM resources"), 1);
}

#[rocket::async_test]
async fn content_types_scim_json_and_json_are_accepted_others_415() {
    let app = TestApp::new().await;
    let bearer = app.bearer();
    for (i, ct) in [
        "application/scim+json",
        "application/scim+json; charset=utf-8",
        "application/json",
        "application/json; charset=UTF-8",
    ]
    .into_iter()
    .enumerate()
    {
        let r = app
            .send_with(
                "POST",
                "/scim/v2/Users",
                Some(okta_user(&format!("ct{i}@x.test"))),
                &[("Authorization", &bearer), ("Content-Type", ct)],
            )
            .await;
        assert_eq!(r.status, 201, "{ct}: {}", r.raw);
        assert_eq!(r.content_type.as_deref(), Some("application/scim+json"));
    }
    let r = app
        .send_with(
            "POST",
            "/scim/v2/Users",
            Some(okta_user("x@x.test")),
            &[("Authorization", &bearer), ("Content-Type", "text/plain")],
        )
        .await;
    let detail = r.assert_error(415, None);
    assert!(detail.contains("application/scim+json"), "{detail}");
}

#[rocket::async_test]
async fn unknown_routes_and_methods_are_scim_errors() {
    let app = TestApp::new().await;
    app.get("/scim/v2/Widgets").await.assert_error(404, None);
    let r = app.send("DELETE", "/scim/v2/Users", None).await;
    assert!(r.assert_error(405, None).contains("GET, POST"));
    app.send("POST", "/scim/v2/Bulk", Some(json!({})))
        .await
        .assert_error(501, None);
    app.get("/scim/v2/Me").await.assert_error(501, None);
    let r = app.send_raw("GET", "/nothing-here", None, &[]).await;
    r.assert_error(404, None);
}

#[rocket::async_test]
async fn deleted_resources_are_404_for_every_operation() {
    let app = TestApp::new().await;
    let id = app.create_user("gone@x.test").await;
    let path = format!("/scim/v2/Users/{id}");
    let d = app.delete(&path).await;
    assert_eq!(d.status, 204);
    assert!(d.raw.is_empty());
    app.get(&path).await.assert_error(404, None);
    app.put(&path, okta_user("gone@x.test"))
        .await
        .assert_error(404, None);
    app.patch(
        &path,
        json!({"Operations":[{"op":"replace","path":"active","value":false}]}),
    )
    .await
    .assert_error(404, None);
    app.delete(&path).await.assert_error(404, None);
}

#[rocket::async_test]
async fn etag_preconditions() {
    let app = TestApp::new().await;
    let id = app.create_user("etag@x.test").await;
    let path = format!("/scim/v2/Users/{id}");
    let bearer = app.bearer();
    let r = app
        .send_with(
            "GET",
            &path,
            None,
            &[("Authorization", &bearer), ("If-None-Match", "W/\"1\"")],
        )
        .await;
    assert_eq!(r.status, 304);
    let stale = json!({"Operations":[{"op":"replace","path":"displayName","value":"x"}]});
    let r = app
        .send_with(
            "PATCH",
            &path,
            Some(stale.clone()),
            &[("Authorization", &bearer), ("If-Match", "W/\"7\"")],
        )
        .await;
    assert!(r.assert_error(412, None).contains("W/\"1\""));
    let r = app
        .send_with(
            "PATCH",
            &path,
            Some(stale),
            &[("Authorization", &bearer), ("If-Match", "W/\"1\"")],
        )
        .await;
    assert_eq!(r.ok()["displayName"], json!("x"));
    assert_eq!(r.header("ETag"), Some("W/\"2\""));
    let r = app
        .send_with(
            "DELETE",
            &path,
            None,
            &[("Authorization", &bearer), ("If-Match", "W/\"1\"")],
        )
        .await;
    r.assert_error(412, None);
    assert_eq!(app.sql_int("SELECT COUNT(*) FROM resources"), 1);
}

#[rocket::async_test]
async fn entra_string_booleans_are_accepted() {
    let app = TestApp::new().await;
    let id = app.create_user("entra@x.test").await;
    let r = app
        .patch(
            &format!("/scim/v2/Users/{id}"),
            json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":"False"}]}),
        )
        .await;
    assert_eq!(r.ok()["active"], json!(false));
}

#[rocket::async_test]
async fn auth_failures_have_distinct_details() {
    let app = TestApp::new().await;
    let revoked = app.issue_token("default", "old", false, None);
    app.app()
        .store
        .write_blocking(|tx| {
            scimd::store::tokens::revoke(tx, "old", None, "2026-01-01T00:00:00.000Z")
        })
        .expect("revoke");
    let expired = app.issue_token(
        "default",
        "short",
        false,
        Some(std::time::Duration::from_millis(1)),
    );
    std::thread::sleep(std::time::Duration::from_millis(5));
    let unknown = format!("scim_{}", "0".repeat(64));
    let cases = [
        (None, "no Authorization header"),
        (Some("Basic dXNlcjpwYXNz".to_owned()), "\"Basic\" scheme"),
        (Some("Bearer abc".to_owned()), "malformed"),
        (Some(format!("Bearer {unknown}")), "not known"),
        (Some(format!("Bearer {revoked}")), "revoked on 2026-01-01"),
        (Some(format!("Bearer {expired}")), "expired on"),
    ];
    for (header, needle) in cases {
        let headers: Vec<(&str, &str)> = header
            .as_deref()
            .map(|h| vec![("Authorization", h)])
            .unwrap_or_default();
        let r = app.send_with("GET", "/scim/v2/Users", None, &headers).await;
        let detail = r.assert_error(401, None);
        assert!(detail.contains(needle), "{header:?}: {detail}");
        for secret in [&revoked, &expired, &unknown] {
            assert!(
                !detail.contains(secret.as_str()),
                "a 401 must not echo the secret"
            );
        }
    }
}

#[rocket::async_test]
async fn read_only_tokens_cannot_write() {
    let app = TestApp::new().await;
    let ro = app.issue_token("default", "auditor", true, None);
    let bearer = format!("Bearer {ro}");
    let h = [("Authorization", bearer.as_str())];
    assert_eq!(
        app.send_with("GET", "/scim/v2/Users", None, &h)
            .await
            .status,
        200
    );
    assert_eq!(
        app.send_with(
            "POST",
            "/scim/v2/Users/.search",
            Some(json!({"filter":"userName pr"})),
            &h
        )
        .await
        .status,
        200
    );
    let r = app
        .send_with("POST", "/scim/v2/Users", Some(okta_user("ro@x.test")), &h)
        .await;
    assert!(r.assert_error(403, None).contains("read-only"));
    assert_eq!(app.sql_int("SELECT COUNT(*) FROM resources"), 0);
}
