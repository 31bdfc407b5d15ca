//! The admin JSON API (issue 6): sign-in with cookie + CSRF, the rate limit, tenants, tokens,
//! and browsing users and groups with search, sort and paging.

use std::time::Duration;

use rocket::http::Header;
use serde_json::{Value, json};

use scimd::service::admins::{self, LoginLimiter, LoginPolicy};

use crate::common::TestApp;

/// A signed-in admin session on a `TestApp` (the local client keeps the cookie).
pub struct Signed {
    pub csrf: String,
}

pub struct ApiReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Value,
    pub raw: String,
}

impl ApiReply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Asserts a JSON API error with this status and returns its detail.
    #[track_caller]
    pub fn assert_error(&self, status: u16) -> String {
        assert_eq!(self.status, status, "{}", self.raw);
        assert!(
            self.body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{}",
            self.raw
        );
        let detail = self.body["detail"].as_str().unwrap_or_default().to_owned();
        assert!(!detail.is_empty(), "{}", self.raw);
        detail
    }
}

/// Sends an admin API request; `csrf` adds the X-CSRF-Token header; `ip` is the client's
/// (peer) address.
pub async fn api(
    app: &TestApp,
    method: &str,
    path: &str,
    body: Option<Value>,
    csrf: Option<&str>,
    ip: Option<&str>,
) -> ApiReply {
    let c = &app.client;
    let mut req = match method {
        "GET" => c.get(path.to_owned()),
        "POST" => c.post(path.to_owned()),
        "PUT" => c.put(path.to_owned()),
        "PATCH" => c.patch(path.to_owned()),
        "DELETE" => c.delete(path.to_owned()),
        other => panic!("unsupported method {other}"),
    };
    req = req.header(rocket::http::ContentType::JSON);
    if let Some(t) = csrf {
        req = req.header(Header::new("X-CSRF-Token", t.to_owned()));
    }
    if let Some(ip) = ip {
        req = req.remote(std::net::SocketAddr::new(ip.parse().expect("ip"), 50_000));
    }
    if let Some(b) = body {
        req = req.body(b.to_string());
    }
    let res = req.dispatch().await;
    let status = res.status().code;
    let headers = res
        .headers()
        .iter()
        .map(|h| (h.name().to_string(), h.value().to_string()))
        .collect();
    let raw = res.into_string().await.unwrap_or_default();
    let body = serde_json::from_str(&raw).unwrap_or(Value::Null);
    ApiReply {
        status,
        headers,
        body,
        raw,
    }
}

/// Sets a known password for `admin` and signs in: the sign-in response.
pub async fn login(app: &TestApp) -> ApiReply {
    let password = admins::reset_password(&app.app().store, "admin").expect("reset");
    let r = api(
        app,
        "POST",
        "/api/session",
        Some(json!({"username": "admin", "password": password})),
        None,
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    r
}

/// Sets a known password for `admin` and signs in.
pub async fn sign_in(app: &TestApp) -> Signed {
    let r = login(app).await;
    Signed {
        csrf: r.body["csrf_token"].as_str().expect("csrf").to_owned(),
    }
}

pub fn create_tenant(app: &TestApp, slug: &str) {
    scimd::service::tenants::create(&app.app().store, slug, None).expect("tenant");
}

#[rocket::async_test]
async fn first_start_creates_admin_and_login_sets_a_strict_cookie() {
    let app = TestApp::new().await;
    assert_eq!(app.sql_text("SELECT username FROM admin_users"), "admin");
    assert!(
        app.sql_text("SELECT password_hash FROM admin_users")
            .starts_with("$argon2id$")
    );
    let password = admins::reset_password(&app.app().store, "admin").expect("reset");
    let r = api(
        &app,
        "POST",
        "/api/session",
        Some(json!({"username": "admin", "password": password})),
        None,
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let cookie = r.header("Set-Cookie").expect("cookie").to_owned();
    for attr in [
        "scimd_session=",
        "HttpOnly",
        "SameSite=Strict",
        "Path=/",
        "Max-Age=43200",
    ] {
        assert!(cookie.contains(attr), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "no TLS configured: {cookie}");
    let csrf = r.body["csrf_token"].as_str().expect("csrf").to_owned();
    let me = api(&app, "GET", "/api/session", None, None, None).await;
    assert_eq!(
        (me.status, me.body["username"].as_str()),
        (200, Some("admin"))
    );
    assert_eq!(me.body["csrf_token"].as_str(), Some(csrf.as_str()));
    // Only the hash of the cookie is stored.
    let value = cookie
        .trim_start_matches("scimd_session=")
        .split(';')
        .next()
        .expect("value");
    assert_eq!(
        app.sql_int(&format!(
            "SELECT COUNT(*) FROM admin_sessions WHERE hex(id_hash) = upper('{}')",
            hex_sha256(value)
        )),
        1
    );
    // Logout needs the CSRF token, then ends the session.
    api(&app, "DELETE", "/api/session", None, None, None)
        .await
        .assert_error(403);
    assert_eq!(
        api(&app, "DELETE", "/api/session", None, Some(&csrf), None)
            .await
            .status,
        204
    );
    api(&app, "GET", "/api/session", None, None, None)
        .await
        .assert_error(401);
    assert_eq!(app.sql_int("SELECT COUNT(*) FROM admin_sessions"), 0);
    // Wrong password and unknown user get the same answer.
    let a = api(
        &app,
        "POST",
        "/api/session",
        Some(json!({"username": "admin", "password": "nope"})),
        None,
        None,
    )
    .await;
    let b = api(
        &app,
        "POST",
        "/api/session",
        Some(json!({"username": "ghost", "password": "nope"})),
        None,
        None,
    )
    .await;
    assert_eq!(a.assert_error(401), b.assert_error(401));
}

fn hex_sha256(s: &str) -> String {
    hex::encode(scimd::service::tokens::hash_secret(s))
}

#[rocket::async_test]
async fn secure_cookie_under_tls() {
    let app = TestApp::with(|c| {
        c.tls = Some(scimd::config::TlsConfig {
            certs: "/nonexistent/c.pem".into(),
            key: "/nonexistent/k.pem".into(),
        });
    })
    .await;
    let password = admins::reset_password(&app.app().store, "admin").expect("reset");
    let r = api(
        &app,
        "POST",
        "/api/session",
        Some(json!({"username": "admin", "password": password})),
        None,
        None,
    )
    .await;
    assert!(
        r.header("Set-Cookie").is_some_and(|c| c.contains("Secure")),
        "{:?}",
        r.headers
    );
}

/// Every route: 401 without a session; every state-changing route: 403 without the CSRF token
/// (and nothing changed).
#[rocket::async_test]
async fn every_endpoint_needs_a_session_and_writes_need_csrf() {
    let app = TestApp::new().await;
    let uid = app.create_user("u@x.test").await;
    let gid = app.create_group("g").await;
    let reads = [
        "/api/session".to_owned(),
        "/api/tenants".to_owned(),
        "/api/tenants/default/tokens".to_owned(),
        "/api/tenants/default/users".to_owned(),
        format!("/api/tenants/default/users/{uid}"),
        "/api/tenants/default/groups".to_owned(),
        format!("/api/tenants/default/groups/{gid}"),
    ];
    let writes: Vec<(&str, String, Option<Value>)> = vec![
        ("DELETE", "/api/session".into(), None),
        ("POST", "/api/tenants".into(), Some(json!({"slug": "evil"}))),
        (
            "POST",
            "/api/tenants/default/tokens".into(),
            Some(json!({"name": "evil"})),
        ),
        ("DELETE", "/api/tenants/default/tokens/okta".into(), None),
        (
            "POST",
            "/api/tenants/default/tokens/okta/rotate".into(),
            Some(json!({})),
        ),
    ];
    for path in &reads {
        api(&app, "GET", path, None, None, None)
            .await
            .assert_error(401);
    }
    for (method, path, body) in &writes {
        api(&app, method, path, body.clone(), None, None)
            .await
            .assert_error(401);
    }
    let s = sign_in(&app).await;
    for path in &reads {
        let r = api(&app, "GET", path, None, None, None).await;
        assert_eq!(r.status, 200, "{path}: {}", r.raw);
    }
    for (method, path, body) in &writes {
        let d = api(&app, method, path, body.clone(), None, None)
            .await
            .assert_error(403);
        assert!(d.contains("X-CSRF-Token"), "{d}");
        let d = api(&app, method, path, body.clone(), Some("wrong"), None)
            .await
            .assert_error(403);
        assert!(d.contains("CSRF"), "{d}");
    }
    assert_eq!(app.sql_int("SELECT COUNT(*) FROM tenants"), 1);
    assert_eq!(app.sql_int("SELECT COUNT(*) FROM tokens"), 1);
    assert_eq!(
        app.sql_text("SELECT COALESCE(revoked, rotated, 'untouched') FROM tokens"),
        "untouched"
    );
    assert_eq!(
        api(&app, "GET", "/api/session", None, None, None)
            .await
            .status,
        200,
        "session survived"
    );
    // With the token, writes go through.
    let r = api(
        &app,
        "POST",
        "/api/tenants",
        Some(json!({"slug": "acme"})),
        Some(&s.csrf),
        None,
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.raw);
}

#[rocket::async_test]
async fn unknown_api_paths_and_bad_bodies_are_json_errors() {
    let app = TestApp::new().await;
    let s = sign_in(&app).await;
    let r = api(&app, "GET", "/api/nope", None, None, None).await;
    assert!(r.assert_error(404).contains("/api/nope"));
    let r = api(
        &app,
        "POST",
        "/api/tenants",
        Some(json!({"slg": "x"})),
        Some(&s.csrf),
        None,
    )
    .await;
    assert!(r.assert_error(400).contains("slug"), "{}", r.raw);
    let r = api(
        &app,
        "POST",
        "/api/tenants",
        Some(json!({"slug": "Bad Slug"})),
        Some(&s.csrf),
        None,
    )
    .await;
    assert!(r.assert_error(400).contains("not a valid tenant slug"));
    let r = api(&app, "GET", "/api/tenants/nope/users", None, None, None).await;
    assert!(r.assert_error(404).contains("nope"));
    let r = api(
        &app,
        "GET",
        "/api/tenants/default/users?filter=userName%20equals%20x",
        None,
        None,
        None,
    )
    .await;
    assert_eq!(
        r.assert_error(400),
        r.body["detail"].as_str().unwrap_or_default()
    );
    assert_eq!(r.body["error"], json!("invalidFilter"));
}

/// Five failures for one username from one address trip that pair's limit (429 +
/// Retry-After), and twenty from one address trip the address; it recovers when the window
/// passes. The window is shortened to a few seconds for the test.
#[rocket::async_test]
async fn login_rate_limit_trips_and_recovers() {
    let app = TestApp::new().await;
    let password = admins::reset_password(&app.app().store, "admin").expect("reset");
    let limiter = app.state::<std::sync::Arc<LoginLimiter>>();
    // A window long enough that the argon2 checks on a loaded CI machine fit inside it.
    limiter.set_policy(LoginPolicy {
        per_user_and_address: 5,
        per_address: 7,
        window: Duration::from_secs(4),
        ..LoginPolicy::default()
    });
    let login = |user: &str, password: &str, ip: &str| {
        let body = json!({"username": user, "password": password});
        let ip = ip.to_owned();
        let app = &app;
        async move { api(app, "POST", "/api/session", Some(body), None, Some(&ip)).await }
    };
    for _ in 0..5 {
        login("admin", "wrong", "192.0.2.1").await.assert_error(401);
    }
    // Even the right password is refused now from this address…
    let r = login("admin", &password, "192.0.2.1").await;
    r.assert_error(429);
    let retry: u64 = r
        .header("Retry-After")
        .expect("Retry-After")
        .parse()
        .expect("integer seconds");
    assert!((1..=5).contains(&retry), "{retry}");
    // …another username from it still has the address's remaining two tries, then 429.
    login("root", "x", "192.0.2.1").await.assert_error(401);
    login("bob", "x", "192.0.2.1").await.assert_error(401);
    login("carol", "x", "192.0.2.1").await.assert_error(429);
    std::thread::sleep(Duration::from_millis(4050));
    let r = login("admin", &password, "192.0.2.1").await;
    assert_eq!(r.status, 200, "recovered: {}", r.raw);
}

/// Review item 10: wrong passwords for `admin` from one address do not lock the real admin
/// out from another address.
#[rocket::async_test]
async fn nobody_can_lock_the_admin_out_from_another_address() {
    let app = TestApp::new().await;
    let password = admins::reset_password(&app.app().store, "admin").expect("reset");
    let bad = json!({"username": "admin", "password": "wrong"});
    for _ in 0..6 {
        let r = api(
            &app,
            "POST",
            "/api/session",
            Some(bad.clone()),
            None,
            Some("192.0.2.66"),
        )
        .await;
        assert!(matches!(r.status, 401 | 429), "{}", r.raw);
    }
    let good = json!({"username": "admin", "password": password});
    let r = api(
        &app,
        "POST",
        "/api/session",
        Some(good),
        None,
        Some("198.51.100.7"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.raw);
}

/// Review item 11: sign-in takes JSON only (a cross-site form can post text/plain without a
/// preflight), and over-long credentials are refused before any hashing.
#[rocket::async_test]
async fn sign_in_takes_json_of_bounded_size() {
    let app = TestApp::new().await;
    let password = admins::reset_password(&app.app().store, "admin").expect("reset");
    let body = json!({"username": "admin", "password": password}).to_string();
    let r = app
        .client
        .post("/api/session")
        .header(rocket::http::ContentType::Plain)
        .body(body)
        .dispatch()
        .await;
    assert_eq!(r.status().code, 415);
    let text = r.into_string().await.unwrap_or_default();
    assert!(text.contains("application/json"), "{text}");
    let long = json!({"username": "admin", "password": "x".repeat(257)});
    let r = api(&app, "POST", "/api/session", Some(long), None, None).await;
    let detail = r.assert_error(400);
    assert!(detail.contains("limits.max_password_bytes"), "{detail}");
}

#[rocket::async_test]
async fn tenants_and_token_lifecycle_over_the_api() {
    let app = TestApp::new().await;
    let s = sign_in(&app).await;
    let csrf = Some(s.csrf.as_str());
    let r = api(
        &app,
        "POST",
        "/api/tenants",
        Some(json!({"slug": "acme", "display_name": "Acme Inc"})),
        csrf,
        None,
    )
    .await;
    assert_eq!(
        (r.status, r.body["display_name"].as_str()),
        (201, Some("Acme Inc"))
    );
    api(
        &app,
        "POST",
        "/api/tenants",
        Some(json!({"slug": "acme"})),
        csrf,
        None,
    )
    .await
    .assert_error(409);
    let list = api(&app, "GET", "/api/tenants", None, None, None).await;
    let slugs: Vec<&str> = list
        .body
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|t| t["slug"].as_str())
        .collect();
    assert_eq!(slugs, ["default", "acme"]);
    // Create: the secret is in this response only.
    let r = api(
        &app,
        "POST",
        "/api/tenants/acme/tokens",
        Some(json!({"name": "okta", "expires_in": "90d"})),
        csrf,
        None,
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.raw);
    let secret = r.body["secret"].as_str().expect("secret").to_owned();
    let id = r.body["token"]["id"].as_str().expect("id").to_owned();
    assert!(r.body["token"]["expires"].is_string());
    api(
        &app,
        "POST",
        "/api/tenants/acme/tokens",
        Some(json!({"name": "x", "expires_in": "soon"})),
        csrf,
        None,
    )
    .await
    .assert_error(400);
    let bearer = format!("Bearer {secret}");
    let ok = app
        .send_with(
            "GET",
            "/t/acme/scim/v2/Users",
            None,
            &[("Authorization", &bearer)],
        )
        .await;
    assert_eq!(ok.status, 200);
    let listed = api(&app, "GET", "/api/tenants/acme/tokens", None, None, None).await;
    assert_eq!(listed.status, 200);
    assert!(
        !listed.raw.contains(&secret),
        "listing never shows the secret"
    );
    assert!(!listed.raw.contains("secret_hash"));
    assert_eq!(listed.body[0]["status"], json!("active"));
    assert_eq!(listed.body[0]["prefix"].as_str().map(str::len), Some(12));
    // Rotate with no overlap: old gets the rotated 401, new works.
    let r = api(
        &app,
        "POST",
        &format!("/api/tenants/acme/tokens/{id}/rotate"),
        Some(json!({"overlap": "0s"})),
        csrf,
        None,
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.raw);
    assert_eq!(r.body["token"]["name"], json!("okta-2"));
    assert_eq!(r.body["replaces"]["id"], json!(id));
    let new_secret = r.body["secret"].as_str().expect("secret").to_owned();
    let d = app
        .send_with(
            "GET",
            "/t/acme/scim/v2/Users",
            None,
            &[("Authorization", &bearer)],
        )
        .await
        .assert_error(401, None);
    assert!(d.contains("rotated on"), "{d}");
    let nb = format!("Bearer {new_secret}");
    assert_eq!(
        app.send_with(
            "GET",
            "/t/acme/scim/v2/Users",
            None,
            &[("Authorization", &nb)]
        )
        .await
        .status,
        200
    );
    // Revoke the new one.
    let new_id = r.body["token"]["id"].as_str().expect("id");
    let r = api(
        &app,
        "DELETE",
        &format!("/api/tenants/acme/tokens/{new_id}"),
        None,
        csrf,
        None,
    )
    .await;
    assert!(r.body["revoked"].is_string(), "{}", r.raw);
    let d = app
        .send_with(
            "GET",
            "/t/acme/scim/v2/Users",
            None,
            &[("Authorization", &nb)],
        )
        .await
        .assert_error(401, None);
    assert!(d.contains("revoked"), "{d}");
    api(
        &app,
        "DELETE",
        "/api/tenants/acme/tokens/ghost",
        None,
        csrf,
        None,
    )
    .await
    .assert_error(404);
}

#[rocket::async_test]
async fn browse_users_and_groups_with_search_sort_paging_and_memberships() {
    let app = TestApp::new().await;
    sign_in(&app).await;
    let mut ids = Vec::new();
    for name in [
        "carol@x.test",
        "alice@x.test",
        "bob@y.test",
        "o\"brien@x.test",
    ] {
        ids.push(app.create_user(name).await);
    }
    let gid = app.create_group("Engineering").await;
    app.create_group("Sales").await;
    let add = json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations":[{"op":"add","path":"members","value": ids.iter().map(|i| json!({"value": i})).collect::<Vec<_>>()}]});
    assert_eq!(
        app.patch(&format!("/scim/v2/Groups/{gid}"), add)
            .await
            .status,
        204
    );
    let names = |v: &Value| -> Vec<String> {
        v["Resources"]
            .as_array()
            .expect("Resources")
            .iter()
            .filter_map(|r| r["userName"].as_str().map(str::to_owned))
            .collect()
    };
    let r = api(
        &app,
        "GET",
        "/api/tenants/default/users?q=X.TEST&sortBy=userName",
        None,
        None,
        None,
    )
    .await;
    assert_eq!(r.body["totalResults"], json!(3), "{}", r.raw);
    assert_eq!(
        names(&r.body),
        ["alice@x.test", "carol@x.test", "o\"brien@x.test"]
    );
    let r = api(&app, "GET", "/api/tenants/default/users?q=x.test&sortBy=userName&sortOrder=descending&startIndex=2&count=1", None, None, None).await;
    assert_eq!(
        (r.body["totalResults"].as_u64(), names(&r.body)),
        (Some(3), vec!["carol@x.test".to_owned()])
    );
    let q = crate::common::enc("o\"b");
    let r = api(
        &app,
        "GET",
        &format!("/api/tenants/default/users?q={q}"),
        None,
        None,
        None,
    )
    .await;
    assert_eq!(
        names(&r.body),
        ["o\"brien@x.test"],
        "quotes in q are escaped, not injected"
    );
    let f = crate::common::enc("userName sw \"b\"");
    let r = api(
        &app,
        "GET",
        &format!("/api/tenants/default/users?filter={f}"),
        None,
        None,
        None,
    )
    .await;
    assert_eq!(names(&r.body), ["bob@y.test"]);
    // Groups list leaves members out; q searches displayName.
    let r = api(
        &app,
        "GET",
        "/api/tenants/default/groups?q=engin",
        None,
        None,
        None,
    )
    .await;
    assert_eq!(r.body["totalResults"], json!(1));
    assert!(r.body["Resources"][0].get("members").is_none(), "{}", r.raw);
    // One user with its groups; one group with a page of members.
    let r = api(
        &app,
        "GET",
        &format!("/api/tenants/default/users/{}", ids[0]),
        None,
        None,
        None,
    )
    .await;
    assert_eq!(
        r.body["groups"][0]["display"],
        json!("Engineering"),
        "{}",
        r.raw
    );
    let r = api(
        &app,
        "GET",
        &format!("/api/tenants/default/groups/{gid}?startIndex=2&count=2"),
        None,
        None,
        None,
    )
    .await;
    assert_eq!(
        r.body["group"]["displayName"],
        json!("Engineering"),
        "{}",
        r.raw
    );
    assert!(r.body["group"].get("members").is_none());
    assert_eq!(r.body["members"]["totalResults"], json!(4));
    let page: Vec<&str> = r.body["members"]["Resources"]
        .as_array()
        .expect("page")
        .iter()
        .filter_map(|m| m["value"].as_str())
        .collect();
    assert_eq!(page, [ids[1].as_str(), ids[2].as_str()]);
    api(
        &app,
        "GET",
        "/api/tenants/default/users/nope",
        None,
        None,
        None,
    )
    .await
    .assert_error(404);
}

/// Issue 19 item 11: the session cookie is `Secure` exactly when the listener is behind TLS
/// (`Config::behind_tls`): it terminates TLS itself or its public URL is https, as behind a
/// TLS proxy. (Terminating TLS itself is covered by the unit test of `behind_tls`.)
#[rocket::async_test]
async fn the_session_cookie_is_secure_exactly_behind_tls() {
    for (public_url, secure) in [
        (None, false),
        (Some("http://scim.internal:8080"), false),
        (Some("https://scim.example.com"), true),
    ] {
        let app = TestApp::with(|c| c.public_url = public_url.map(str::to_owned)).await;
        let r = login(&app).await;
        let cookie = r.header("Set-Cookie").expect("cookie");
        assert_eq!(
            cookie.split(';').any(|a| a.trim() == "Secure"),
            secure,
            "{public_url:?}: {cookie}"
        );
    }
}

/// Issue 19 item 11: every admin API response, the ones carrying a CSRF token or a new token
/// secret above all, tells browsers and proxies not to store it.
#[rocket::async_test]
async fn api_responses_are_not_stored() {
    let app = TestApp::new().await;
    let no_store = |r: &ApiReply| r.header("Cache-Control") == Some("no-store");
    let unsigned = api(&app, "GET", "/api/tenants", None, None, None).await;
    assert_eq!(unsigned.status, 401);
    assert!(no_store(&unsigned), "{:?}", unsigned.headers);
    let login = login(&app).await;
    assert!(login.body["csrf_token"].is_string(), "{}", login.raw);
    assert!(no_store(&login), "{:?}", login.headers);
    let csrf = login.body["csrf_token"].as_str().expect("csrf").to_owned();
    let session = api(&app, "GET", "/api/session", None, None, None).await;
    assert!(no_store(&session), "{:?}", session.headers);
    let issued = api(
        &app,
        "POST",
        "/api/tenants/default/tokens",
        Some(json!({"name": "okta-2"})),
        Some(&csrf),
        None,
    )
    .await;
    assert_eq!(issued.status, 201, "{}", issued.raw);
    assert!(no_store(&issued), "{:?}", issued.headers);
}

/// Issue 19 item 11: behind a proxy on the same machine that sets `client_ip_header`, the TCP
/// peer is always loopback; the loopback exemption of `/metrics` must look at the client the
/// header names, or a local proxy makes the metrics public.
#[rocket::async_test]
async fn metrics_loopback_exemption_follows_client_ip_header() {
    let app = TestApp::with(|c| c.client_ip_header = Some("X-Client-IP".into())).await;
    let scrape = |client: Option<&'static str>| {
        let mut req = app
            .client
            .get("/metrics")
            .remote("127.0.0.1:9000".parse().expect("addr"));
        if let Some(ip) = client {
            req = req.header(Header::new("X-Client-IP", ip));
        }
        req.dispatch()
    };
    assert_eq!(
        scrape(Some("203.0.113.9")).await.status().code,
        401,
        "a remote client forwarded by a local proxy is not loopback"
    );
    assert_eq!(scrape(Some("127.0.0.1")).await.status().code, 200);
    assert_eq!(
        scrape(None).await.status().code,
        200,
        "a local scraper that bypasses the proxy"
    );
}
