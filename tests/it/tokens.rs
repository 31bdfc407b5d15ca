//! Token lifecycle (issue 6): every 401 detail, read-only scope, rotation with overlap, and
//! `last_used` recorded off the request path.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use scimd::service::tokens::{self, Rotation};
use scimd::service::usage::UsageTracker;

use crate::common::{OKTA_UA, TestApp, okta_user};

fn create_tenant(app: &TestApp, slug: &str) {
    scimd::service::tenants::create(&app.app().store, slug, None).expect("tenant");
}

fn rotate(app: &TestApp, name: &str, overlap: Duration) -> tokens::Rotated {
    tokens::rotate(
        &app.app().store,
        &Rotation {
            tenant_slug: Some("default"),
            id_or_name: name,
            overlap,
            expires_in: None,
        },
    )
    .expect("rotate")
}

fn usage_tracker(app: &TestApp) -> Arc<UsageTracker> {
    app.state::<Arc<UsageTracker>>().clone()
}

async fn status_with(app: &TestApp, secret: &str) -> (u16, String) {
    let bearer = format!("Bearer {secret}");
    let r = app
        .send_with("GET", "/scim/v2/Users", None, &[("Authorization", &bearer)])
        .await;
    let detail = r.body["detail"].as_str().unwrap_or_default().to_owned();
    (r.status, detail)
}

/// One row per 401 cause; each detail is distinct, actionable and never echoes a secret.
#[rocket::async_test]
async fn every_401_has_its_own_detail() {
    let app = TestApp::new().await;
    create_tenant(&app, "acme");
    let revoked = app.issue_token("default", "old", false, None);
    tokens::revoke(&app.app().store, Some("default"), "old").expect("revoke");
    let expired = app.issue_token("default", "short", false, Some(Duration::from_millis(1)));
    let rotated = app.issue_token("default", "entra", false, None);
    let new = rotate(&app, "entra", Duration::ZERO);
    let foreign = app.issue_token("acme", "okta-acme", false, None);
    std::thread::sleep(Duration::from_millis(5));
    let unknown = format!("scim_{}", "0".repeat(64));
    let cases: Vec<(Option<String>, Vec<String>)> = vec![
        (None, vec!["no Authorization header".into()]),
        (Some("Bearer abc".into()), vec!["malformed".into()]),
        (Some(format!("Bearer {unknown}")), vec!["not known".into()]),
        (
            Some(format!("Bearer {revoked}")),
            vec!["\"old\"".into(), "revoked on".into()],
        ),
        (
            Some(format!("Bearer {expired}")),
            vec!["\"short\"".into(), "expired on".into()],
        ),
        (
            Some(format!("Bearer {rotated}")),
            vec![
                "\"entra\"".into(),
                "rotated on".into(),
                "replaced by \"entra-2\"".into(),
            ],
        ),
        // Review item 11: a token sent without a scheme is not echoed, not even in part.
        (Some(foreign.clone()), vec!["has no scheme".into()]),
        (Some("Token abc".into()), vec!["\"Token\" scheme".into()]),
        (
            Some(format!("Bearer {foreign}")),
            vec![
                "belongs to tenant \"acme\"".into(),
                "http://localhost/t/acme/scim/v2".into(),
            ],
        ),
    ];
    let mut seen = Vec::new();
    for (header, needles) in cases {
        let headers: Vec<(&str, &str)> = header
            .as_deref()
            .map(|h| vec![("Authorization", h)])
            .unwrap_or_default();
        let r = app.send_with("GET", "/scim/v2/Users", None, &headers).await;
        let detail = r.assert_error(401, None);
        for needle in &needles {
            assert!(detail.contains(needle.as_str()), "{header:?}: {detail}");
        }
        for secret in [&revoked, &expired, &rotated, &foreign, &new.new.secret] {
            assert!(
                !detail.contains(secret.as_str()),
                "a 401 must not echo a secret"
            );
            // Nothing beyond the public prefix of the token presented, and only of a
            // well-formed one: never 20 characters of a token sent without "Bearer ".
            assert!(!detail.contains(&secret[..20]), "{header:?}: {detail}");
        }
        // The replacement of a rotated token is named, never shown in part.
        assert!(
            !detail.contains(&new.new.token.prefix),
            "{header:?}: {detail}"
        );
        assert!(!seen.contains(&detail), "details must differ: {detail}");
        seen.push(detail);
    }
}

#[rocket::async_test]
async fn read_only_scope_allows_reads_and_search_only() {
    let app = TestApp::new().await;
    let id = app.create_user("ro@x.test").await;
    let ro = format!("Bearer {}", app.issue_token("default", "audit", true, None));
    let h = [("Authorization", ro.as_str())];
    assert_eq!(
        app.send_with("GET", &format!("/scim/v2/Users/{id}"), None, &h)
            .await
            .status,
        200
    );
    let search = app
        .send_with(
            "POST",
            "/scim/v2/Users/.search",
            Some(json!({"filter": "userName pr"})),
            &h,
        )
        .await;
    assert_eq!(search.status, 200, "{}", search.raw);
    let patch = json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations":[{"op":"replace","path":"active","value":false}]});
    for (method, path, body) in [
        (
            "POST",
            "/scim/v2/Users".to_owned(),
            Some(okta_user("new@x.test")),
        ),
        (
            "PUT",
            format!("/scim/v2/Users/{id}"),
            Some(okta_user("ro@x.test")),
        ),
        ("PATCH", format!("/scim/v2/Users/{id}"), Some(patch.clone())),
        ("DELETE", format!("/scim/v2/Users/{id}"), None),
    ] {
        let r = app.send_with(method, &path, body, &h).await;
        let detail = r.assert_error(403, None);
        assert!(
            detail.contains("read-only") && detail.contains(method),
            "{detail}"
        );
    }
    assert_eq!(app.sql_int("SELECT COUNT(*) FROM resources"), 1);
    assert_eq!(
        app.get(&format!("/scim/v2/Users/{id}")).await.body["active"],
        json!(true)
    );
}

/// The old token keeps working during the overlap and gets the "rotated" 401 after it; the new
/// one works at once, keeps the scope, and takes the next generation's name.
#[rocket::async_test]
async fn rotation_overlap_then_rotated_401() {
    let app = TestApp::new().await;
    let old = app.token.clone();
    let rotated = rotate(&app, "okta", Duration::from_millis(800));
    assert_eq!(rotated.new.token.name, "okta-2");
    assert_eq!(
        rotated.old.replaced_by.as_deref(),
        Some(rotated.new.token.id.as_str())
    );
    assert_eq!(
        status_with(&app, &old).await.0,
        200,
        "old token works during the overlap"
    );
    assert_eq!(status_with(&app, &rotated.new.secret).await.0, 200);
    let listed = tokens::list(&app.app().store, Some("default")).expect("list");
    let row = listed
        .iter()
        .find(|l| l.token.name == "okta")
        .expect("old listed");
    assert_eq!(
        (row.status, row.replaced_by_name.as_deref()),
        ("rotating", Some("okta-2"))
    );
    std::thread::sleep(Duration::from_millis(900));
    let (status, detail) = status_with(&app, &old).await;
    assert_eq!(status, 401);
    assert!(
        detail.contains("rotated on") && detail.contains("okta-2"),
        "{detail}"
    );
    assert_eq!(status_with(&app, &rotated.new.secret).await.0, 200);
    // Rotating the old one again is refused with a pointer to the current generation.
    let again = tokens::rotate(
        &app.app().store,
        &Rotation {
            tenant_slug: None,
            id_or_name: "okta",
            overlap: Duration::ZERO,
            expires_in: None,
        },
    );
    assert!(
        matches!(again, Err(scimd::service::OpError::Invalid(m)) if m.contains("rotate \"okta-2\""))
    );
    // The next rotation counts on: okta-2 → okta-3.
    assert_eq!(
        rotate(&app, "okta-2", Duration::ZERO).new.token.name,
        "okta-3"
    );
}

#[rocket::async_test]
async fn rotation_keeps_read_only_and_lifetime() {
    let app = TestApp::new().await;
    app.issue_token("default", "audit", true, Some(Duration::from_secs(3600)));
    let r = rotate(&app, "audit", Duration::ZERO);
    assert!(r.new.token.read_only);
    let parse = |s: &str| {
        time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .expect("timestamp")
    };
    let expires = r.new.token.expires.as_deref().expect("inherits a lifetime");
    assert_eq!(
        parse(expires) - parse(&r.new.token.created),
        time::Duration::hours(1)
    );
}

/// Many SCIM requests write nothing; one flush writes the token row once, with the time,
/// client IP and User-Agent of the use.
#[rocket::async_test]
async fn last_used_is_flushed_in_one_write_not_per_request() {
    // Behind a reverse proxy that sets X-Real-IP, the client's address comes from it. The
    // request log is off: its batches are writes too, and this test counts the others.
    let app = TestApp::with(|c| {
        c.client_ip_header = Some("X-Real-IP".into());
        c.request_log.enabled = false;
    })
    .await;
    let usage = usage_tracker(&app);
    let store = &app.app().store;
    // The writer thread owns the one read-write connection: its total_changes counts every row.
    let changes = || {
        store
            .write_blocking(|tx| Ok(tx.total_changes()))
            .expect("total_changes")
    };
    // Drain anything recorded before the test starts (nothing should be). The background
    // flush runs first FLUSH_INTERVAL (10 s) after liftoff, long after these requests.
    usage.flush(store).await.expect("flush");
    let before = changes();
    let bearer = app.bearer();
    for _ in 0..25 {
        let r = app
            .send_with(
                "GET",
                "/scim/v2/Users",
                None,
                &[("Authorization", &bearer), ("X-Real-IP", "203.0.113.7")],
            )
            .await;
        assert_eq!(r.status, 200);
    }
    assert_eq!(changes(), before, "no write on the request path");
    assert_eq!(
        app.sql_text("SELECT COALESCE(last_used, 'never') FROM tokens WHERE name = 'okta'"),
        "never"
    );
    assert_eq!(usage.flush(store).await.expect("flush"), 1);
    assert_eq!(changes(), before + 1, "one row written for 25 requests");
    let listed = tokens::list(store, Some("default")).expect("list");
    let t = &listed.first().expect("token").token;
    assert!(t.last_used.is_some());
    assert_eq!(t.last_used_ip.as_deref(), Some("203.0.113.7"));
    assert_eq!(t.last_used_agent.as_deref(), Some(OKTA_UA));
    // Within the minute further uses are not even queued: the next flush writes nothing.
    app.get("/scim/v2/Users").await;
    assert_eq!(usage.flush(store).await.expect("flush"), 0);
    assert_eq!(changes(), before + 1);
}

/// Without a configured proxy header, a client cannot choose the address scimd records (and
/// rate-limits logins by): X-Real-IP from the client is ignored and the peer address is used.
#[rocket::async_test]
async fn client_sent_ip_headers_are_not_trusted_by_default() {
    let app = TestApp::new().await;
    let response = app
        .client
        .get("/scim/v2/Users")
        .header(rocket::http::Header::new("Authorization", app.bearer()))
        .header(rocket::http::Header::new("X-Real-IP", "203.0.113.7"))
        .remote("192.0.2.50:40000".parse().expect("addr"))
        .dispatch()
        .await;
    assert_eq!(response.status().code, 200);
    let usage = usage_tracker(&app);
    let store = &app.app().store;
    assert_eq!(usage.flush(store).await.expect("flush"), 1);
    let listed = tokens::list(store, Some("default")).expect("list");
    let t = &listed.first().expect("token").token;
    assert_eq!(t.last_used_ip.as_deref(), Some("192.0.2.50"));
}

/// Token lookups are cached between requests, but never past a change: revoking in this
/// process or from another one (the `scimd token revoke` command on the same database) applies
/// to the very next request (review item 12 of issue 19: it used to take up to a second).
#[rocket::async_test]
async fn revocation_applies_to_the_next_request_in_process_and_from_the_cli() {
    let app = TestApp::new().await;
    let store = &app.app().store;
    let secret = app.issue_token("default", "cached", false, None);
    assert_eq!(status_with(&app, &secret).await.0, 200, "cached now");
    tokens::revoke(store, None, "cached").expect("revoke");
    assert_eq!(status_with(&app, &secret).await.0, 401, "in-process revoke");

    let other = app.issue_token("default", "cli-revoked", false, None);
    assert_eq!(status_with(&app, &other).await.0, 200, "cached now");
    assert_eq!(
        status_with(&app, &other).await.0,
        200,
        "served from the cache"
    );
    let database = &app.app().config.database;
    let out = crate::server::scimd(database.parent().expect("dir"))
        .env("SCIMD_DATABASE", database)
        .args(["token", "revoke", "cli-revoked"])
        .output()
        .expect("scimd token revoke");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (status, detail) = status_with(&app, &other).await;
    assert_eq!(status, 401, "{detail}");
    assert!(detail.contains("revoked"), "{detail}");
}
