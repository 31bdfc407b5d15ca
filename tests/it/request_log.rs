//! The request log (issue 7): every catalogue entry triggered by a real request and its
//! diagnosis read back through `/api/log`; redaction checked on the database file itself;
//! queue overflow, retention, resource history, health and `/metrics`.

use std::sync::Arc;
use std::time::Duration;

use rocket::http::Header;
use serde_json::{Value, json};

use scimd::service::request_log::RequestLog;
use scimd::service::tokens::{self, Rotation};

use crate::admin_api::{ApiReply, api, create_tenant, sign_in};
use crate::common::{TestApp, enc, okta_user};

fn log(app: &TestApp) -> Arc<RequestLog> {
    app.state::<Arc<RequestLog>>().clone()
}

pub async fn flush(app: &TestApp) {
    log(app).flush(&app.app().store).await;
}

/// The newest log entry, read through the admin API (signed in already).
async fn newest(app: &TestApp) -> Value {
    flush(app).await;
    let r = api(app, "GET", "/api/log?per_page=1", None, None, None).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    r.body["items"][0].clone()
}

/// One entry of a listing as `/api/log/<id>` shows it, bodies and diagnosis included.
async fn in_full(app: &TestApp, listed: &Value) -> ApiReply {
    let r = api(
        app,
        "GET",
        &format!("/api/log/{}", listed["id"]),
        None,
        None,
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    r
}

#[track_caller]
fn assert_diagnosis(entry: &Value, status: u16, title: &str) -> (String, String) {
    assert_eq!(entry["status"], json!(status), "{entry}");
    let d = &entry["diagnosis"];
    assert!(
        d["title"].as_str().is_some_and(|t| t.contains(title)),
        "expected \"{title}\": {entry}"
    );
    for k in ["explanation", "fix"] {
        assert!(d[k].as_str().is_some_and(|s| !s.is_empty()), "{entry}");
    }
    (
        d["explanation"].as_str().unwrap_or_default().to_owned(),
        d["fix"].as_str().unwrap_or_default().to_owned(),
    )
}

async fn with_token(app: &TestApp, method: &str, path: &str, body: Option<Value>, auth: &str) {
    app.send_with(method, path, body, &[("Authorization", auth)])
        .await;
}

/// The secret of a new `default` token `name`, rotated with no overlap, so already refused.
async fn rotated_away(app: &TestApp, name: &str) -> String {
    let secret = app.issue_token("default", name, false, None);
    tokens::rotate(
        &app.app().store,
        &Rotation {
            tenant_slug: None,
            id_or_name: name,
            overlap: Duration::ZERO,
            expires_in: None,
        },
    )
    .map(|_| ())
    .expect("rotate");
    rocket::tokio::time::sleep(Duration::from_millis(5)).await;
    secret
}

#[rocket::async_test]
async fn every_401_cause_is_diagnosed() {
    let app = TestApp::new().await;
    sign_in(&app).await;
    app.send_with("GET", "/scim/v2/Users", None, &[]).await;
    assert_diagnosis(&newest(&app).await, 401, "No token sent");

    with_token(&app, "GET", "/scim/v2/Users", None, "Basic dXNlcjpwYXNz").await;
    assert_diagnosis(&newest(&app).await, 401, "Wrong authentication scheme");

    with_token(&app, "GET", "/scim/v2/Users", None, "Bearer \"scim_abc\"").await;
    assert_diagnosis(&newest(&app).await, 401, "Token pasted incorrectly");

    let unknown = format!("Bearer scim_{}", "0".repeat(64));
    with_token(&app, "GET", "/scim/v2/Users", None, &unknown).await;
    assert_diagnosis(&newest(&app).await, 401, "Unknown token");

    let revoked = app.issue_token("default", "old-okta", false, None);
    tokens::revoke(&app.app().store, None, "old-okta").expect("revoke");
    with_token(
        &app,
        "GET",
        "/scim/v2/Users",
        None,
        &format!("Bearer {revoked}"),
    )
    .await;
    let entry = newest(&app).await;
    assert_diagnosis(&entry, 401, "Revoked token");
    assert_eq!(
        entry["token"]["name"], "old-okta",
        "the log names the revoked token the IdP still sends: {entry}"
    );

    let expiring = app.issue_token("default", "short", false, Some(Duration::from_millis(1)));
    rocket::tokio::time::sleep(Duration::from_millis(20)).await;
    with_token(
        &app,
        "GET",
        "/scim/v2/Users",
        None,
        &format!("Bearer {expiring}"),
    )
    .await;
    assert_diagnosis(&newest(&app).await, 401, "Expired token");

    let rotating = rotated_away(&app, "entra").await;
    with_token(
        &app,
        "GET",
        "/scim/v2/Users",
        None,
        &format!("Bearer {rotating}"),
    )
    .await;
    let (explanation, _) = assert_diagnosis(&newest(&app).await, 401, "Rotated token");
    assert!(explanation.contains("entra-2"), "{explanation}");

    create_tenant(&app, "acme");
    app.get("/t/acme/scim/v2/Users").await;
    let entry = newest(&app).await;
    let (_, fix) = assert_diagnosis(&entry, 401, "wrong tenant");
    assert!(
        fix.contains("/scim/v2"),
        "the fix names the right URL: {fix}"
    );
    assert_eq!(entry["tenant"], "acme");
    assert_eq!(entry["path"], "/t/acme/scim/v2/Users");
    assert_eq!(entry["token"]["name"], "okta", "{entry}");
}

#[rocket::async_test]
async fn request_errors_are_diagnosed() {
    let app = TestApp::new().await;
    sign_in(&app).await;

    let ro = app.issue_token("default", "reader", true, None);
    with_token(
        &app,
        "POST",
        "/scim/v2/Users",
        Some(okta_user("ro@example.com")),
        &format!("Bearer {ro}"),
    )
    .await;
    let entry = newest(&app).await;
    assert_diagnosis(&entry, 403, "Read-only token");
    assert_eq!(entry["token"]["name"], "reader", "{entry}");

    let id = app.create_user("taken@example.com").await;
    app.post("/scim/v2/Users", okta_user("TAKEN@example.com"))
        .await;
    let (explanation, _) = assert_diagnosis(&newest(&app).await, 409, "userName already taken");
    assert!(
        explanation.contains(&format!("/scim/v2/Users/{id}")),
        "links the holder: {explanation}"
    );

    let gid = app.create_group("Sales").await;
    app.post(
        "/scim/v2/Groups",
        json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"sales"}),
    )
    .await;
    let (explanation, _) = assert_diagnosis(&newest(&app).await, 409, "displayName already taken");
    assert!(explanation.contains(&gid), "{explanation}");

    app.get(&format!("/scim/v2/Users?filter={}", enc("userName eq")))
        .await;
    let entry = newest(&app).await;
    let (explanation, _) = assert_diagnosis(&entry, 400, "Filter not understood");
    assert!(explanation.contains("at character 12"), "{explanation}");
    assert_eq!(entry["scim_type"], "invalidFilter");

    // An undeclared attribute is ignored and reported, not refused (issue 21); an unknown
    // name where a query names an attribute is still a 400.
    let mut body = okta_user("typo@example.com");
    body["nickNmae"] = json!("x");
    app.post("/scim/v2/Users", body).await;
    let (explanation, fix) =
        assert_diagnosis(&newest(&app).await, 201, "Undeclared attributes ignored");
    assert!(
        explanation.starts_with("Okta sent `nickNmae`, which no schema of this tenant defines"),
        "{explanation}"
    );
    assert!(
        fix.starts_with("Fix the attribute mapping in Okta or declare an extension"),
        "{fix}"
    );
    app.get("/scim/v2/Users?sortBy=nickNmae").await;
    assert_diagnosis(&newest(&app).await, 400, "Unknown attribute");

    app.delete(&format!("/scim/v2/Users/{id}")).await;
    app.get(&format!("/scim/v2/Users/{id}")).await;
    let entry = newest(&app).await;
    let (explanation, _) = assert_diagnosis(&entry, 404, "Resource was deleted");
    assert!(
        explanation.contains("\"okta\"") && explanation.contains("Okta"),
        "names token and IdP: {explanation}"
    );
    assert_eq!(entry["resource_id"], json!(id));

    app.get("/scim/v2/Users/never-there").await;
    assert_diagnosis(&newest(&app).await, 404, "Resource does not exist");

    let live = app.create_user("live@example.com").await;
    app.send_with(
        "PUT",
        &format!("/scim/v2/Users/{live}"),
        Some(okta_user("live@example.com")),
        &[("Authorization", &app.bearer()), ("If-Match", "W/\"99\"")],
    )
    .await;
    assert_diagnosis(&newest(&app).await, 412, "Version mismatch");

    app.send_raw(
        "POST",
        "/scim/v2/Users",
        Some("userName=x"),
        &[
            ("Authorization", &app.bearer()),
            ("Content-Type", "text/plain"),
        ],
    )
    .await;
    assert_diagnosis(&newest(&app).await, 415, "Wrong Content-Type");

    // Entra's string booleans are accepted; the detail view says so.
    app.send_with(
        "PATCH",
        &format!("/scim/v2/Users/{live}"),
        Some(
            json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations":[{"op":"Replace","path":"active","value":"False"}]}),
        ),
        &[
            ("Authorization", &app.bearer()),
            ("User-Agent", "Azure AD SCIM Client"),
        ],
    )
    .await;
    let entry = newest(&app).await;
    assert_eq!(entry["status"], 200, "{entry}");
    assert_eq!(entry["idp"], "entra");
    let full = in_full(&app, &entry).await;
    assert!(
        full.body["diagnosis"]["title"]
            .as_str()
            .is_some_and(|t| t.contains("Entra sent booleans")),
        "{}",
        full.raw
    );
}

#[rocket::async_test]
async fn rate_limited_requests_are_diagnosed() {
    let app = TestApp::with(|c| c.limits.requests_per_second = Some(1)).await;
    sign_in(&app).await;
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(app.get("/scim/v2/Users").await.status);
    }
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    let entry = newest(&app).await;
    let (_, fix) = assert_diagnosis(&entry, 429, "Rate limited");
    assert!(fix.contains("rate limit"), "{fix}");
    assert!(
        entry["detail"]
            .as_str()
            .is_some_and(|d| d.contains("requests_per_second = 1")),
        "the detail names the limit: {entry}"
    );
}

#[rocket::async_test]
async fn too_large_bodies_are_diagnosed() {
    let app = TestApp::with(|c| c.limits.max_body_bytes = 300).await;
    sign_in(&app).await;
    let mut body = okta_user("big@example.com");
    body["displayName"] = json!("x".repeat(400));
    app.post("/scim/v2/Users", body).await;
    let (explanation, _) = assert_diagnosis(&newest(&app).await, 413, "too large");
    assert!(explanation.contains("300"), "{explanation}");
}

#[rocket::async_test]
async fn passwords_and_tokens_never_reach_the_database_file() {
    let app = TestApp::new().await;
    sign_in(&app).await;
    let mut body = okta_user("secret@example.com");
    body["password"] = json!("Pw-in-create-8d1f");
    let r = app.post("/scim/v2/Users", body).await;
    let id = r.body["id"].as_str().expect("id").to_owned();
    app.patch(
        &format!("/scim/v2/Users/{id}"),
        json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations":[{"op":"replace","path":"password","value":"Pw-in-patch-77ab"},
                          {"op":"replace","value":{"password":"Pw-in-value-3c2e"}}]}),
    )
    .await;
    // A malformed body that mentions a password is withheld, not stored.
    app.send_raw(
        "POST",
        "/scim/v2/Users",
        Some("{\"password\": \"Pw-in-broken-json-9\", "),
        &[("Authorization", &app.bearer())],
    )
    .await;
    flush(&app).await;
    let entry = newest(&app).await;
    let full = in_full(&app, &entry).await;
    assert!(
        full.body["request_body"]
            .as_str()
            .is_some_and(|b| b.starts_with("[withheld")),
        "{}",
        full.raw
    );
    let create = api(
        &app,
        "GET",
        &format!("/api/log?resource={id}&per_page=10"),
        None,
        None,
        None,
    )
    .await;
    assert!(
        create.body["total"].as_u64().is_some_and(|n| n >= 2),
        "{}",
        create.raw
    );

    // Everything SQLite holds: both database files (main and request log) and their
    // write-ahead logs.
    let db = app.app().config.database.clone();
    let with_wal = |file: &std::path::Path| {
        let mut bytes = std::fs::read(file).expect("db file");
        if let Ok(wal) = std::fs::read(file.with_extension("db-wal")) {
            bytes.extend(wal);
        }
        bytes
    };
    let log_bytes = with_wal(&scimd::store::log_path(&db));
    assert!(
        String::from_utf8_lossy(&log_bytes).contains("secret@example.com"),
        "the scan covers the request log's entries"
    );
    let mut bytes = with_wal(&db);
    bytes.extend(log_bytes);
    let text = String::from_utf8_lossy(&bytes);
    for secret in [
        "Pw-in-create-8d1f",
        "Pw-in-patch-77ab",
        "Pw-in-value-3c2e",
        "Pw-in-broken-json-9",
        app.token.as_str(),
    ] {
        assert!(!text.contains(secret), "{secret} is in the database file");
    }
    assert_eq!(
        app.sql_int("SELECT COUNT(*) FROM request_log WHERE request_body LIKE '%[redacted]%'"),
        2
    );
}

#[rocket::async_test]
async fn a_full_queue_drops_entries_and_never_fails_requests() {
    let app = TestApp::with(|c| c.request_log.queue_size = 1).await;
    sign_in(&app).await;
    flush(&app).await;
    let log = log(&app);
    let before = log.dropped();
    {
        let _held = log.hold().await;
        for _ in 0..10 {
            assert_eq!(app.get("/scim/v2/Users").await.status, 200);
        }
    }
    flush(&app).await;
    let dropped = log.dropped() - before;
    assert!(dropped >= 8, "dropped {dropped}");
    let kept = app.sql_int(
        "SELECT COUNT(*) FROM request_log WHERE path = '/scim/v2/Users' AND method = 'GET'",
    );
    assert_eq!(kept as u64 + dropped, 10);
    let health = api(&app, "GET", "/api/health", None, None, None).await;
    assert_eq!(
        health.body["log"]["dropped"],
        json!(log.dropped()),
        "{}",
        health.raw
    );
    let healthz = app.client.get("/healthz").dispatch().await;
    let body: Value =
        serde_json::from_str(&healthz.into_string().await.unwrap_or_default()).expect("json");
    assert_eq!(body["request_log"]["dropped"], json!(log.dropped()));
}

#[rocket::async_test]
async fn retention_prunes_by_age_and_by_count() {
    let app = TestApp::with(|c| c.request_log.max_rows = 3).await;
    for _ in 0..5 {
        app.get("/scim/v2/Users").await;
    }
    flush(&app).await;
    assert_eq!(app.sql_int("SELECT COUNT(*) FROM request_log"), 5);
    let oldest = app.sql_int("SELECT MIN(id) FROM request_log");
    // The log has its own database file; age an entry there directly.
    let log_db = rusqlite::Connection::open(scimd::store::log_path(&app.app().config.database))
        .expect("open the log file");
    log_db
        .busy_timeout(Duration::from_secs(10))
        .expect("busy timeout");
    log_db
        .execute(
            "UPDATE request_log SET time = '2000-01-01T00:00:00.000Z' WHERE id = ?1",
            [oldest],
        )
        .expect("age an entry");
    let pruned = log(&app)
        .prune(&app.app().store, scimd::clock::now())
        .await
        .expect("prune");
    assert_eq!(pruned, 2);
    assert_eq!(app.sql_int("SELECT COUNT(*) FROM request_log"), 3);
    assert_eq!(
        app.sql_int(&format!(
            "SELECT COUNT(*) FROM request_log WHERE id = {oldest}"
        )),
        0
    );
}

/// A user's history as the admin API shows it (signed in already).
async fn history(app: &TestApp, id: &str) -> ApiReply {
    let h = api(
        app,
        "GET",
        &format!("/api/tenants/default/Users/{id}/history"),
        None,
        None,
        None,
    )
    .await;
    assert_eq!(h.status, 200, "{}", h.raw);
    h
}

#[rocket::async_test]
async fn history_shows_who_changed_what_before_and_after() {
    let app = TestApp::new().await;
    sign_in(&app).await;
    let id = app.create_user("hist@example.com").await;
    let r = app
        .patch(
            &format!("/scim/v2/Users/{id}"),
            json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations":[{"op":"replace","path":"name.givenName","value":"Renamed"},
                              {"op":"replace","path":"active","value":false},
                              {"op":"replace","path":"password","value":"Pw-history-1"}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let h = history(&app, &id).await;
    let items = h.body["items"].as_array().expect("items");
    assert_eq!(items.len(), 2, "{}", h.raw);
    assert_eq!(items[0]["action"], "update");
    assert_eq!(items[0]["token"]["name"], "okta");
    assert_eq!(items[0]["idp"], "okta");
    let changes = items[0]["changes"].as_array().expect("changes");
    assert!(
        changes.contains(&json!({"attribute":"name.givenName","before":"Test","after":"Renamed"})),
        "{}",
        h.raw
    );
    assert!(
        changes.contains(&json!({"attribute":"active","before":true,"after":false})),
        "{}",
        h.raw
    );
    assert!(
        changes
            .contains(&json!({"attribute":"password","before":"[redacted]","after":"[redacted]"})),
        "{}",
        h.raw
    );
    assert!(!h.raw.contains("Pw-history-1"));
    assert_eq!(items[1]["action"], "create");

    let gone = api(
        &app,
        "GET",
        "/api/tenants/default/Groups/nope/history",
        None,
        None,
        None,
    )
    .await;
    assert_eq!(gone.body["items"], json!([]));
}

#[rocket::async_test]
async fn search_filters_pages_and_token_health() {
    let app = TestApp::new().await;
    sign_in(&app).await;
    let id = app.create_user("s@example.com").await;
    app.get(&format!("/scim/v2/Users/{id}")).await;
    app.get("/scim/v2/Users/missing").await;
    app.send_with(
        "GET",
        "/scim/v2/Users",
        None,
        &[
            ("Authorization", &app.bearer()),
            ("User-Agent", "JumpCloud SCIM"),
        ],
    )
    .await;
    flush(&app).await;

    let all = api(&app, "GET", "/api/log?per_page=2&page=1", None, None, None).await;
    assert_eq!(all.body["total"], 4, "{}", all.raw);
    assert_eq!(all.body["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        all.body["items"][0]["idp"], "jumpcloud",
        "newest first: {}",
        all.raw
    );
    let errors = api(&app, "GET", "/api/log?status=errors", None, None, None).await;
    assert_eq!(errors.body["total"], 1, "{}", errors.raw);
    let created = api(
        &app,
        "GET",
        "/api/log?status=201&idp=okta",
        None,
        None,
        None,
    )
    .await;
    assert_eq!(
        created.body["items"][0]["resource_id"],
        json!(id),
        "{}",
        created.raw
    );
    assert_eq!(created.body["items"][0]["resource_type"], "User");
    let token_id = created.body["items"][0]["token"]["id"]
        .as_str()
        .expect("token id")
        .to_owned();
    let by_token = api(
        &app,
        "GET",
        &format!("/api/log?token={token_id}&tenant=default"),
        None,
        None,
        None,
    )
    .await;
    assert_eq!(by_token.body["total"], 4);
    let future = api(
        &app,
        "GET",
        "/api/log?since=2999-01-01T00:00:00Z",
        None,
        None,
        None,
    )
    .await;
    assert_eq!(future.body["total"], 0);
    let bad = api(&app, "GET", "/api/log?since=yesterday", None, None, None).await;
    assert!(bad.assert_error(400).contains("RFC 3339"));
    let missing = api(&app, "GET", "/api/log/999999", None, None, None).await;
    missing.assert_error(404);

    let health = api(&app, "GET", "/api/health?tenant=default", None, None, None).await;
    assert_eq!(health.status, 200, "{}", health.raw);
    let okta = &health.body["tokens"][0];
    assert_eq!(okta["name"], "okta");
    assert!(okta["last_success"].is_string(), "{}", health.raw);
    assert_eq!(okta["last_error"]["status"], 404);
    assert_eq!(okta["error_rate_24h"], 0.25);
    assert_eq!(okta["requests_by_idp"], json!({"jumpcloud": 1, "okta": 3}));

    let unsigned = app.client.get("/api/log").dispatch().await;
    assert_eq!(
        unsigned.status().code,
        200,
        "the local client keeps the session cookie"
    );
}

#[rocket::async_test]
async fn metrics_are_prometheus_text_for_loopback_or_the_configured_token() {
    let token = "metrics-token-0123456789abcdef";
    let app = TestApp::with(|c| c.metrics.token = Some(token.into())).await;
    app.get("/scim/v2/Users").await;
    let scrape = |remote: &str, headers: Vec<Header<'static>>| {
        let mut req = app
            .client
            .get("/metrics")
            .remote(remote.parse().expect("addr"));
        for h in headers {
            req = req.header(h);
        }
        req
    };
    let ok = scrape("127.0.0.1:9000", vec![]).dispatch().await;
    assert_eq!(ok.status().code, 200);
    let text = ok.into_string().await.unwrap_or_default();
    assert!(text.contains(r#"scimd_requests_total{idp="okta",method="GET",resource_type="User",status="200",tenant="default"} 1"#), "{text}");
    assert!(
        text.contains("scimd_request_duration_seconds_bucket"),
        "{text}"
    );
    assert!(text.contains("scimd_request_log_dropped_total 0"), "{text}");
    assert!(text.contains("scimd_request_log_queue_depth"), "{text}");

    let remote = scrape("203.0.113.9:9000", vec![]).dispatch().await;
    assert_eq!(remote.status().code, 401);
    let spoofed = scrape(
        "127.0.0.1:9000",
        vec![Header::new("X-Real-IP", "203.0.113.9")],
    )
    .dispatch()
    .await;
    assert_eq!(
        spoofed.status().code,
        401,
        "behind a proxy, loopback is not trusted"
    );
    let wrong = scrape(
        "203.0.113.9:9000",
        vec![Header::new("Authorization", "Bearer nope")],
    )
    .dispatch()
    .await;
    assert_eq!(wrong.status().code, 401);
    let right = scrape(
        "203.0.113.9:9000",
        vec![Header::new("Authorization", format!("Bearer {token}"))],
    )
    .dispatch()
    .await;
    assert_eq!(right.status().code, 200);
}

#[rocket::async_test]
async fn the_log_can_be_switched_off() {
    let app = TestApp::with(|c| c.request_log.enabled = false).await;
    assert_eq!(app.get("/scim/v2/Users").await.status, 200);
    flush(&app).await;
    assert_eq!(app.sql_int("SELECT COUNT(*) FROM request_log"), 0);
}

/// The log keeps each response body exactly as the client received it: successes and errors
/// alike, as their responders rendered them.
#[rocket::async_test]
async fn each_response_body_is_logged_as_sent() {
    let app = TestApp::new().await;
    sign_in(&app).await;
    let id = app.create_user("sent@example.com").await;
    let requests = [
        ("GET", format!("/scim/v2/Users/{id}"), None, 200),
        ("GET", "/scim/v2/Users/missing".to_owned(), None, 404),
        (
            "POST",
            "/scim/v2/Users".to_owned(),
            Some("{\"userName\":"),
            400,
        ),
        (
            "GET",
            "/scim/v2/Users?filter=userName%20eq".to_owned(),
            None,
            400,
        ),
        (
            "GET",
            "/scim/v2/ServiceProviderConfig".to_owned(),
            None,
            200,
        ),
    ];
    for (method, path, body, status) in requests {
        let sent = app
            .send_raw(method, &path, body, &[("Authorization", &app.bearer())])
            .await;
        assert_eq!(sent.status, status, "{method} {path}: {}", sent.raw);
        let logged = in_full(&app, &newest(&app).await).await;
        assert_eq!(
            logged.body["response_body"].as_str(),
            Some(sent.raw.as_str()),
            "{method} {path}"
        );
    }
}

/// Issue 20, item 4: diagnoses that used to be wrong. A 501 is "not supported", not a server
/// error to retry; a token sent without "Bearer " is not a Basic/OAuth mix-up; an unknown group
/// member is fixed by provisioning the member, not by the attribute mapping.
#[rocket::async_test]
async fn unsupported_features_bare_tokens_and_unprovisioned_members_are_diagnosed() {
    let app = TestApp::new().await;
    sign_in(&app).await;
    let bulk =
        json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":[]});
    let bearer = app.bearer();
    app.send_with(
        "POST",
        "/scim/v2/Bulk",
        Some(bulk),
        &[
            ("Authorization", &bearer),
            ("User-Agent", "Okta SCIM Client 1.0.0"),
        ],
    )
    .await;
    let (explanation, fix) = assert_diagnosis(&newest(&app).await, 501, "Not supported");
    assert!(
        explanation.contains("retrying will not help"),
        "{explanation}"
    );
    assert!(fix.contains("Turn off bulk operations in Okta"), "{fix}");

    with_token(&app, "GET", "/scim/v2/Users", None, &app.token).await;
    let (_, fix) = assert_diagnosis(
        &newest(&app).await,
        401,
        "Token sent without the Bearer prefix",
    );
    assert!(fix.contains("\"Bearer \""), "{fix}");

    let group = json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName":"eng","members":[{"value":"no-such-user"}]});
    app.post("/scim/v2/Groups", group)
        .await
        .assert_error(400, Some("invalidValue"));
    let (_, fix) = assert_diagnosis(&newest(&app).await, 400, "Group member not provisioned");
    assert!(fix.contains("provisioned before the group"), "{fix}");
}

/// Rows of the log with this token name and status.
fn logged(app: &TestApp, token_name: &str, status: u16) -> i64 {
    app.sql_int(&format!(
        "SELECT COUNT(*) FROM request_log WHERE token_name = '{token_name}' AND status = {status}"
    ))
}

/// Review item 3: requests without a known token are logged in full only up to
/// `request_log.anonymous_per_minute` per tenant and status, the rest counted; every refusal
/// of a known token (revoked, expired, rotated, wrong tenant, a tenant that does not exist) is logged
/// in full however many there are, since those are what the log exists to explain.
#[rocket::async_test]
async fn a_flood_without_a_known_token_is_sampled_but_known_tokens_are_always_logged() {
    let app = TestApp::with(|c| c.request_log.anonymous_per_minute = 3).await;
    let unknown = format!("Bearer scim_{}", "0".repeat(64));
    for _ in 0..10 {
        app.send_with("GET", "/scim/v2/Users", None, &[]).await;
        with_token(&app, "GET", "/scim/v2/Users", None, &unknown).await;
    }

    let revoked = app.issue_token("default", "old-okta", false, None);
    tokens::revoke(&app.app().store, None, "old-okta").expect("revoke");
    let expiring = app.issue_token("default", "short", false, Some(Duration::from_millis(1)));
    rocket::tokio::time::sleep(Duration::from_millis(20)).await;
    let rotated = rotated_away(&app, "entra").await;
    create_tenant(&app, "acme");
    for _ in 0..5 {
        for (token, path) in [
            (&revoked, "/scim/v2/Users"),
            (&expiring, "/scim/v2/Users"),
            (&rotated, "/scim/v2/Users"),
            // The app's own token "okta" belongs to `default`.
            (&app.token, "/t/acme/scim/v2/Users"),
        ] {
            with_token(&app, "GET", path, None, &format!("Bearer {token}")).await;
        }
        app.get("/t/no-such-tenant/scim/v2/Users").await;
    }
    flush(&app).await;

    let anonymous =
        app.sql_int("SELECT COUNT(*) FROM request_log WHERE token_id IS NULL AND status = 401");
    assert_eq!(
        anonymous, 6,
        "3 without a header (tenant not looked up) and 3 with an unknown token on `default`"
    );
    let log = log(&app);
    assert_eq!(log.sampled_out(), 14);
    assert_eq!(logged(&app, "old-okta", 401), 5);
    assert_eq!(logged(&app, "short", 401), 5);
    assert_eq!(logged(&app, "entra", 401), 5);
    assert_eq!(logged(&app, "okta", 401), 5, "wrong tenant");
    assert_eq!(logged(&app, "okta", 404), 5, "a tenant that does not exist");
    let detail = app.sql_text(
        "SELECT detail FROM request_log WHERE token_name = 'old-okta' ORDER BY id DESC LIMIT 1",
    );
    assert!(detail.contains("revoked"), "logged in full: {detail}");

    let metrics = app
        .client
        .get("/metrics")
        .remote("127.0.0.1:9000".parse().expect("addr"))
        .dispatch()
        .await;
    let text = metrics.into_string().await.unwrap_or_default();
    assert!(
        text.contains("scimd_request_log_sampled_out_total 14"),
        "{text}"
    );
    assert!(
        text.contains(r#"status="404",tenant="unknown""#),
        "the tenant that does not exist is no label: {text}"
    );
    assert!(!text.contains("no-such-tenant"), "{text}");
}

/// Review item 3: every text field a client chooses is stored cut to
/// `request_log.max_field_bytes` and the entry names what was cut, like a cut body.
#[rocket::async_test]
async fn over_cap_fields_are_stored_cut_and_marked() {
    let app = TestApp::new().await;
    sign_in(&app).await;
    let long = "q".repeat(5_000);
    app.get(&format!("/scim/v2/Users?count=1&junk={long}"))
        .await;
    let entry = newest(&app).await;
    let query = entry["query"].as_str().expect("query");
    assert!(query.len() <= 2048, "{} bytes", query.len());
    assert!(query.starts_with("count=1&junk=qqq"), "{query}");
    assert_eq!(entry["truncated_fields"], json!(["query"]), "{entry}");
    let shown = in_full(&app, &entry).await;
    assert_eq!(shown.body["truncated_fields"], json!(["query"]));

    // A known token on a 3,000-character tenant that does not exist: the path, the tenant and
    // the detail that echoes it are all cut.
    let slug = "s".repeat(3_000);
    app.get(&format!("/t/{slug}/scim/v2/Users")).await;
    let entry = newest(&app).await;
    assert_eq!(entry["status"], 404, "{entry}");
    assert_eq!(
        entry["truncated_fields"],
        json!(["path", "tenant", "detail"]),
        "{entry}"
    );
    for field in ["path", "tenant", "detail"] {
        let len = entry[field].as_str().map_or(0, str::len);
        assert!(len <= 2048, "{field}: {len} bytes");
    }
    assert_eq!(entry["token"]["name"], "okta", "{entry}");

    let plain = app.get("/scim/v2/Users").await;
    assert_eq!(plain.status, 200);
    assert_eq!(newest(&app).await["truncated_fields"], json!([]));
}

/// Bytes of the pages the log's file uses.
fn log_pages_bytes(app: &TestApp) -> u64 {
    let log_db = rusqlite::Connection::open(scimd::store::log_path(&app.app().config.database))
        .expect("open the log file");
    let pragma = |p: &str| -> u64 {
        log_db
            .query_row(&format!("PRAGMA {p}"), [], |r| r.get::<_, i64>(0))
            .expect("pragma") as u64
    };
    (pragma("page_count") - pragma("freelist_count")) * pragma("page_size")
}

/// Review item 3: the log is pruned by bytes too (`request_log.max_bytes`), oldest first.
#[rocket::async_test]
async fn retention_by_bytes_prunes_the_oldest_entries() {
    let app = TestApp::with(|c| c.request_log.max_bytes = 1 << 20).await;
    // Each entry stores a 16 KiB request body: 200 of them are about 3 MiB.
    let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": format!("userName eq \"{}\"", "b".repeat(20_000))});
    for _ in 0..200 {
        app.post("/scim/v2/Users/.search", body.clone()).await;
    }
    flush(&app).await;
    log(&app)
        .prune(&app.app().store, scimd::clock::now())
        .await
        .expect("prune");

    let used = log_pages_bytes(&app);
    assert!(used <= 1 << 20, "the log uses {used} bytes");
    let kept = app.sql_int("SELECT COUNT(*) FROM request_log");
    assert!((1..200).contains(&kept), "{kept} entries kept");
    let (first, last) = (
        app.sql_int("SELECT MIN(id) FROM request_log"),
        app.sql_int("SELECT MAX(id) FROM request_log"),
    );
    assert_eq!(last - first + 1, kept, "the oldest went, the newest stay");
    assert_eq!(last, 200);
}

/// Review item 11: a huge attribute value is kept in the history only up to
/// `history.max_value_bytes`, marked truncated.
#[rocket::async_test]
async fn a_huge_attribute_change_stores_a_capped_history_value() {
    let app = TestApp::new().await;
    sign_in(&app).await;
    let id = app.create_user("huge@example.com").await;
    let huge = "h".repeat(100_000);
    let r = app
        .patch(
            &format!("/scim/v2/Users/{id}"),
            json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations":[{"op":"replace","path":"displayName","value":huge},
                              {"op":"replace","path":"title","value":"CTO"}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let stored = app.sql_int(&format!(
        "SELECT length(changes) FROM resource_history WHERE resource_id = '{id}' ORDER BY id DESC LIMIT 1"
    ));
    assert!(stored < 5_000, "the change is stored in {stored} bytes");

    let h = history(&app, &id).await;
    let changes = h.body["items"][0]["changes"].as_array().expect("changes");
    let name = changes
        .iter()
        .find(|c| c["attribute"] == "displayName")
        .expect("displayName changed");
    assert_eq!(name["truncated"], true, "{name}");
    let after = name["after"].as_str().expect("a cut value is a string");
    assert!(
        after.starts_with("\"hhhh") && after.ends_with('…'),
        "{after}"
    );
    assert!(after.len() <= 4096 + '…'.len_utf8());
    let title = changes
        .iter()
        .find(|c| c["attribute"] == "title")
        .expect("title changed");
    assert_eq!(title["after"], "CTO");
    assert!(title.get("truncated").is_none(), "{title}");
}

/// Review item 11: history older than `history.retention_days` is pruned with the log.
#[rocket::async_test]
async fn old_history_is_pruned() {
    let app = TestApp::with(|c| c.history.retention_days = 30).await;
    let old = app.create_user("old@example.com").await;
    let new = app.create_user("new@example.com").await;
    let aged = old.clone();
    app.app()
        .store
        .write_blocking(move |c| {
            Ok(c.execute(
                "UPDATE resource_history SET time = '2000-01-01T00:00:00.000Z' WHERE resource_id = ?1",
                [aged],
            )?)
        })
        .expect("age the history");
    log(&app)
        .prune(&app.app().store, scimd::clock::now())
        .await
        .expect("prune");
    let count = |id: &str| {
        app.sql_int(&format!(
            "SELECT COUNT(*) FROM resource_history WHERE resource_id = '{id}'"
        ))
    };
    assert_eq!(count(&old), 0);
    assert_eq!(count(&new), 1);
}

/// Issue 20, item 9: every response carries an `X-Request-Id`: the IdP's own when it sent a
/// usable one, else one scimd makes; it is stored with the log entry and found by it in the
/// admin API and `scimd log list --request-id`.
#[rocket::async_test]
async fn request_ids_are_answered_stored_and_searchable() {
    let app = TestApp::new().await;
    sign_in(&app).await;
    let bearer = app.bearer();
    let okta_id = "okta-7f3c9e2a-1d4b-4c8e-9a6f-2b5d8e1c0a93";
    let r = app
        .send_with(
            "GET",
            "/scim/v2/Users?filter=userName%20eq%20%22nobody%22",
            None,
            &[("Authorization", &bearer), ("X-Request-Id", okta_id)],
        )
        .await;
    assert_eq!(
        r.header("X-Request-Id"),
        Some(okta_id),
        "the IdP's id is echoed"
    );
    // Without one, or with one too long or unprintable, scimd makes its own.
    let mut made = Vec::new();
    for sent in [None, Some("x".repeat(129)), Some("bad id".to_owned())] {
        let mut headers = vec![("Authorization", bearer.as_str())];
        if let Some(s) = &sent {
            headers.push(("X-Request-Id", s));
        }
        let r = app.send_with("GET", "/scim/v2/Users", None, &headers).await;
        let id = r.header("X-Request-Id").expect("an id").to_owned();
        assert_eq!(id.len(), 32, "{id}");
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
        made.push(id);
    }
    made.dedup();
    assert_eq!(made.len(), 3, "each request gets its own id");
    // Refusals and the admin API carry one too.
    let refused = app.send_with("GET", "/scim/v2/Users", None, &[]).await;
    assert!(refused.header("X-Request-Id").is_some());
    let ui = api(&app, "GET", "/api/tenants", None, None, None).await;
    assert!(ui.header("X-Request-Id").is_some());

    flush(&app).await;
    let found = api(
        &app,
        "GET",
        &format!("/api/log?request_id={okta_id}"),
        None,
        None,
        None,
    )
    .await;
    assert_eq!(found.status, 200, "{}", found.raw);
    assert_eq!(found.body["total"], 1, "{}", found.raw);
    assert_eq!(found.body["items"][0]["request_id"], okta_id);
    assert_eq!(
        found.body["items"][0]["query"],
        "filter=userName%20eq%20%22nobody%22"
    );
    let database = &app.app().config.database;
    let out = crate::server::scimd(database.parent().expect("dir"))
        .env("SCIMD_DATABASE", database)
        .args(["log", "list", "--json", "--request-id", &made[0]])
        .output()
        .expect("scimd log list");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(listed["total"], 1, "{listed}");
    assert_eq!(listed["items"][0]["request_id"], made[0].as_str());
}
