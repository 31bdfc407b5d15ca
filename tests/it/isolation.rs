//! Acceptance (issue 6): with tenant A's credentials, every SCIM endpoint and every admin
//! endpoint scoped to A is walked against tenant B's data; nothing of B is returned or changed.

use serde_json::{Value, json};

use crate::admin_api::{api, create_tenant, sign_in};
use crate::common::{TestApp, enc, okta_user};

const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

#[rocket::async_test]
async fn tenant_a_sees_and_changes_nothing_of_tenant_b() {
    let app = TestApp::new().await;
    create_tenant(&app, "a");
    create_tenant(&app, "b");
    let a = format!("Bearer {}", app.issue_token("a", "idp-a", false, None));
    let b = format!("Bearer {}", app.issue_token("b", "idp-b", false, None));
    let ha = [("Authorization", a.as_str())];
    let hb = [("Authorization", b.as_str())];
    // B's data.
    let r = app
        .send_with(
            "POST",
            "/t/b/scim/v2/Users",
            Some(okta_user("bee@b.test")),
            &hb,
        )
        .await;
    let b_user = r.body["id"].as_str().expect("id").to_owned();
    let r = app
        .send_with(
            "POST",
            "/t/b/scim/v2/Groups",
            Some(json!({"displayName": "B team", "members": [{"value": b_user}]})),
            &hb,
        )
        .await;
    let b_group = r.body["id"].as_str().expect("id").to_owned();
    // A's data, including a group B's user could be smuggled into.
    let r = app
        .send_with(
            "POST",
            "/t/a/scim/v2/Users",
            Some(okta_user("ant@a.test")),
            &ha,
        )
        .await;
    let a_user = r.body["id"].as_str().expect("id").to_owned();
    let r = app
        .send_with(
            "POST",
            "/t/a/scim/v2/Groups",
            Some(json!({"displayName": "A team", "members": []})),
            &ha,
        )
        .await;
    let a_group = r.body["id"].as_str().expect("id").to_owned();
    let snapshot = || {
        app.app()
            .store
            .read_blocking(|c| {
                let mut stmt = c.prepare(
                    "SELECT r.id || ':' || r.version || ':' || r.doc FROM resources r JOIN tenants t ON t.id = r.tenant_id WHERE t.slug = 'b' ORDER BY r.seq",
                )?;
                let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
                let mut out: Vec<String> = rows.collect::<rusqlite::Result<_>>()?;
                out.push(c.query_row(
                    "SELECT group_concat(group_seq || '-' || member_seq) FROM group_members m JOIN tenants t ON t.id = m.tenant_id WHERE t.slug = 'b'",
                    [],
                    |r| r.get::<_, Option<String>>(0),
                )?.unwrap_or_default());
                out.push(c.query_row(
                    "SELECT group_concat(name || COALESCE(revoked, '') || COALESCE(rotated, '')) FROM tokens k JOIN tenants t ON t.id = k.tenant_id WHERE t.slug = 'b'",
                    [],
                    |r| r.get::<_, String>(0),
                )?);
                Ok(out)
            })
            .expect("snapshot")
    };
    let before = snapshot();
    let leaks = |raw: &str| {
        raw.contains(&b_user)
            || raw.contains(&b_group)
            || raw.contains("bee@b.test")
            || raw.contains("B team")
    };

    // SCIM, as A, against B's ids and names.
    let user_body = okta_user("bee@b.test");
    let replace =
        json!({"schemas":[PATCH],"Operations":[{"op":"replace","path":"active","value":false}]});
    let add_b_to_a = json!({"schemas":[PATCH],"Operations":[{"op":"add","path":"members","value":[{"value": b_user}]}]});
    let by_id = enc(&format!("id eq \"{b_user}\""));
    let by_name = enc("userName eq \"bee@b.test\"");
    let group_by_id = enc(&format!("id eq \"{b_group}\""));
    let searches = [
        "/t/a/scim/v2/Users".to_owned(),
        "/t/a/scim/v2/Groups".to_owned(),
        format!("/t/a/scim/v2/Users?filter={by_id}"),
        format!("/t/a/scim/v2/Users?filter={by_name}"),
        format!("/t/a/scim/v2/Groups?filter={group_by_id}"),
        format!(
            "/t/a/scim/v2/Groups?filter={}",
            enc(&format!("members.value eq \"{b_user}\""))
        ),
    ];
    for path in &searches {
        let r = app.send_with("GET", path, None, &ha).await;
        assert_eq!(r.status, 200, "{path}: {}", r.raw);
        assert!(!leaks(&r.raw), "{path} leaked B: {}", r.raw);
    }
    for (endpoint, filter) in [
        (
            "Users",
            format!("id eq \"{b_user}\" or userName eq \"bee@b.test\""),
        ),
        ("Groups", format!("id eq \"{b_group}\"")),
    ] {
        for path in [
            format!("/t/a/scim/v2/{endpoint}/.search"),
            "/t/a/scim/v2/.search".to_owned(),
        ] {
            let r = app
                .send_with("POST", &path, Some(json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"filter": filter})), &ha)
                .await;
            assert!(!leaks(&r.raw), "{path} leaked B: {}", r.raw);
            assert_eq!(r.status, 200, "{path}: {}", r.raw);
            assert_eq!(r.body["totalResults"], json!(0), "{path}: {}", r.raw);
        }
    }
    let not_found: Vec<(&str, String, Option<Value>)> = vec![
        ("GET", format!("/t/a/scim/v2/Users/{b_user}"), None),
        ("GET", format!("/t/a/scim/v2/Groups/{b_group}"), None),
        (
            "PUT",
            format!("/t/a/scim/v2/Users/{b_user}"),
            Some(user_body.clone()),
        ),
        (
            "PATCH",
            format!("/t/a/scim/v2/Users/{b_user}"),
            Some(replace.clone()),
        ),
        (
            "PUT",
            format!("/t/a/scim/v2/Groups/{b_group}"),
            Some(json!({"displayName": "B team", "members": []})),
        ),
        (
            "PATCH",
            format!("/t/a/scim/v2/Groups/{b_group}"),
            Some(json!({"schemas":[PATCH],"Operations":[{"op":"remove","path":"members"}]})),
        ),
        ("DELETE", format!("/t/a/scim/v2/Users/{b_user}"), None),
        ("DELETE", format!("/t/a/scim/v2/Groups/{b_group}"), None),
    ];
    for (method, path, body) in not_found {
        let r = app.send_with(method, &path, body, &ha).await;
        r.assert_error(404, None);
        assert!(
            !leaks(
                &r.body["detail"]
                    .as_str()
                    .unwrap_or_default()
                    .replace(&b_user, "")
                    .replace(&b_group, "")
            ),
            "{}",
            r.raw
        );
    }
    // B's user id as a member of A's group: 400, nothing added.
    let r = app
        .send_with(
            "PATCH",
            &format!("/t/a/scim/v2/Groups/{a_group}"),
            Some(add_b_to_a),
            &ha,
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.raw);
    let r = app
        .send_with(
            "POST",
            "/t/a/scim/v2/Groups",
            Some(json!({"displayName": "smuggle", "members": [{"value": b_user}]})),
            &ha,
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.raw);
    // A's token on B's URL is refused outright.
    app.send_with("GET", &format!("/t/b/scim/v2/Users/{b_user}"), None, &ha)
        .await
        .assert_error(401, None);

    // Admin API scoped to tenant A, against B's data.
    let s = sign_in(&app).await;
    let csrf = Some(s.csrf.as_str());
    let b_token = app.sql_text(
        "SELECT k.id FROM tokens k JOIN tenants t ON t.id = k.tenant_id WHERE t.slug = 'b'",
    );
    for path in [
        "/api/tenants/a/users".to_owned(),
        "/api/tenants/a/groups".to_owned(),
        "/api/tenants/a/tokens".to_owned(),
        "/api/tenants/a/users?q=bee".to_owned(),
        format!("/api/tenants/a/users?filter={by_id}"),
        format!("/api/tenants/a/groups?filter={group_by_id}"),
        format!("/api/tenants/a/groups/{a_group}"),
        format!("/api/tenants/a/users/{a_user}"),
    ] {
        let r = api(&app, "GET", &path, None, None, None).await;
        assert_eq!(r.status, 200, "{path}: {}", r.raw);
        assert!(
            !leaks(&r.raw) && !r.raw.contains(&b_token) && !r.raw.contains("idp-b"),
            "{path} leaked B: {}",
            r.raw
        );
    }
    for (method, path, body) in [
        ("GET", format!("/api/tenants/a/users/{b_user}"), None),
        ("GET", format!("/api/tenants/a/groups/{b_group}"), None),
        ("DELETE", format!("/api/tenants/a/tokens/{b_token}"), None),
        ("DELETE", "/api/tenants/a/tokens/idp-b".to_owned(), None),
        (
            "POST",
            format!("/api/tenants/a/tokens/{b_token}/rotate"),
            Some(json!({"overlap": "0s"})),
        ),
    ] {
        api(&app, method, &path, body, csrf, None)
            .await
            .assert_error(404);
    }
    // Same userName in A is not a uniqueness conflict with B (and reveals nothing of B).
    let r = app
        .send_with(
            "POST",
            "/t/a/scim/v2/Users",
            Some(okta_user("bee@b.test")),
            &ha,
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.raw);
    assert!(!r.raw.contains(&b_user));
    assert_eq!(snapshot(), before, "tenant B is unchanged");
    assert_eq!(
        app.send_with("GET", &format!("/t/b/scim/v2/Users/{b_user}"), None, &hb)
            .await
            .status,
        200,
        "B's token still works"
    );
}
