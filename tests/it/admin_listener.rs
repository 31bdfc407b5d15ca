//! The optional admin listener (issue 20 item 2): with `[admin]`, the public listener serves
//! SCIM and `/healthz` only and the admin listener the UI, its API and `/metrics`; each answers
//! the other's paths with a plain SCIM 404. Both share one state (tokens, request log,
//! metrics), stop together, and decide *behind TLS* each for itself.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use rocket::http::ContentType;
use rocket::http::uri::Host;
use rocket::local::asynchronous::Client;
use serde_json::{Value, json};

use scimd::config::{AdminConfig, Config, TlsConfig};
use scimd::http::App;

use crate::common::okta_user;
use crate::server::{reset_password, scimd, start_split};

/// Status, Content-Type and body of a request, whatever the status.
struct Got {
    status: u16,
    content_type: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Got {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn send(req: ureq::Request, body: Option<&Value>) -> Got {
    let req = req.timeout(Duration::from_secs(10));
    let res = match body {
        Some(b) => req
            .set("Content-Type", "application/json")
            .send_string(&b.to_string()),
        None => req.call(),
    };
    let res = match res {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("no answer: {e}"),
    };
    let headers = res
        .headers_names()
        .into_iter()
        .filter_map(|n| res.header(&n).map(|v| (n.clone(), v.to_owned())))
        .collect();
    Got {
        status: res.status(),
        content_type: res.content_type().to_owned(),
        headers,
        body: res.into_string().unwrap_or_default(),
    }
}

fn get(url: &str) -> Got {
    send(ureq::get(url), None)
}

/// A 404 that says no more than "not an endpoint": a SCIM error, no page, no hint of a UI.
#[track_caller]
fn assert_plain_not_found(got: &Got, url: &str) {
    assert_eq!(got.status, 404, "{url}: {}", got.body);
    assert_eq!(got.content_type, "application/scim+json", "{url}");
    let detail = got.json()["detail"].as_str().unwrap_or_default().to_owned();
    assert!(
        detail.ends_with("is not an endpoint of this server"),
        "{url}: {detail}"
    );
    let lower = got.body.to_lowercase();
    for hint in ["<html", "sign in", "admin", "/ui/"] {
        assert!(
            !lower.contains(hint) || url.contains(hint),
            "{url}: {}",
            got.body
        );
    }
}

/// Each listener serves its own route groups and answers the other's with a plain 404.
#[test]
fn each_listener_serves_its_own_routes_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, admin) = start_split(dir.path(), &[]);
    let public = &server.base;

    for path in [
        "/",
        "/ui",
        "/ui/",
        "/ui/dashboard",
        "/ui/instance.json",
        "/api/session",
        "/api/tenants",
        "/metrics",
    ] {
        let url = format!("{public}{path}");
        assert_plain_not_found(&get(&url), &url);
    }
    // Not even the sign-in answers: no 401 or 400 that would betray it.
    let url = format!("{public}/api/session");
    let sign_in = send(
        ureq::post(&url),
        Some(&json!({"username": "admin", "password": "x"})),
    );
    assert_plain_not_found(&sign_in, &url);
    assert_eq!(get(&format!("{public}/healthz")).status, 200);
    let spc = get(&format!("{public}/scim/v2/ServiceProviderConfig"));
    assert_eq!(spc.status, 200, "{}", spc.body);
    assert_eq!(get(&format!("{public}/scim/v2/Users")).status, 401);
    assert_eq!(get(&format!("{public}/t/acme/scim/v2/Users")).status, 401);

    for path in [
        "/scim/v2/Users",
        "/scim/v2/ServiceProviderConfig",
        "/t/acme/scim/v2/Users",
        "/healthz",
    ] {
        let url = format!("{admin}{path}");
        assert_plain_not_found(&get(&url), &url);
    }
    let index = get(&format!("{admin}/"));
    assert_eq!(index.status, 200);
    assert!(
        index.content_type.starts_with("text/html"),
        "{}",
        index.content_type
    );
    assert!(
        index.body.contains("<title>scimd</title>"),
        "{}",
        index.body
    );
    assert_eq!(get(&format!("{admin}/ui/dashboard")).status, 200);
    assert_eq!(get(&format!("{admin}/api/session")).status, 401);
    let metrics = get(&format!("{admin}/metrics"));
    assert_eq!(metrics.status, 200, "{}", metrics.body);
    assert!(
        metrics.body.contains("scimd_requests_total"),
        "{}",
        metrics.body
    );
}

/// One state behind both listeners: a token created in the admin API works on the public
/// listener, whose request then shows in the admin listener's request log and metrics; the
/// UI names the public SCIM address, and the start-up line the admin one.
#[test]
fn both_listeners_share_tokens_log_and_metrics() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, admin) = start_split(dir.path(), &[]);
    let public = &server.base;
    let password = reset_password(dir.path(), "admin");

    let agent = ureq::AgentBuilder::new().build();
    let session = send(
        agent.post(&format!("{admin}/api/session")),
        Some(&json!({"username": "admin", "password": password})),
    );
    assert_eq!(session.status, 200, "{}", session.body);
    let cookie = session.header("Set-Cookie").expect("session cookie");
    assert!(
        !cookie.split(';').any(|a| a.trim() == "Secure"),
        "plain HTTP admin listener: {cookie}"
    );
    let csrf = session.json()["csrf_token"]
        .as_str()
        .expect("csrf")
        .to_owned();
    let session_cookie = cookie.split(';').next().expect("name=value").to_owned();
    let issued = send(
        agent
            .post(&format!("{admin}/api/tenants/default/tokens"))
            .set("Cookie", &session_cookie)
            .set("X-CSRF-Token", &csrf),
        Some(&json!({"name": "okta"})),
    );
    assert_eq!(issued.status, 201, "{}", issued.body);
    let secret = issued.json()["secret"].as_str().expect("secret").to_owned();

    let created = send(
        ureq::post(&format!("{public}/scim/v2/Users"))
            .set("Authorization", &format!("Bearer {secret}"))
            .set("X-Request-Id", "split-listener-create"),
        Some(&okta_user("split@x.test")),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.json()["id"].as_str().expect("id").to_owned();
    assert!(
        created.json()["meta"]["location"]
            .as_str()
            .is_some_and(|l| l.starts_with(&format!("{public}/scim/v2/Users/"))),
        "{}",
        created.body
    );

    // The admin listener's log and metrics see the public listener's request.
    let deadline = Instant::now() + Duration::from_secs(30);
    let logged = loop {
        let log = send(
            agent
                .get(&format!("{admin}/api/log?request_id=split-listener-create"))
                .set("Cookie", &session_cookie),
            None,
        );
        assert_eq!(log.status, 200, "{}", log.body);
        if log.body.contains("split-listener-create") || Instant::now() > deadline {
            break log;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(logged.body.contains("\"status\":201"), "{}", logged.body);
    let metrics = get(&format!("{admin}/metrics"));
    assert!(
        metrics
            .body
            .lines()
            .any(|l| l.starts_with("scimd_requests_total")
                && l.contains("method=\"POST\"")
                && l.contains("status=\"201\"")),
        "{}",
        metrics.body
    );

    // What the UI shows IdPs is the public listener's address, not the admin one.
    let instance = get(&format!("{admin}/ui/instance.json"));
    assert_eq!(
        instance.json()["origin"],
        json!(public),
        "{}",
        instance.body
    );
    let browsed = send(
        agent
            .get(&format!("{admin}/api/tenants/default/users/{id}"))
            .set("Cookie", &session_cookie),
        None,
    );
    assert_eq!(browsed.status, 200, "{}", browsed.body);
    assert!(
        browsed
            .body
            .contains(&format!("{public}/scim/v2/Users/{id}")),
        "{}",
        browsed.body
    );

    // `scimd health` probes the public listener.
    let port = public.rsplit(':').next().expect("port");
    let health = scimd(dir.path())
        .arg("health")
        .env("SCIMD_PORT", port)
        .output()
        .expect("health");
    assert!(
        health.status.success(),
        "{}",
        String::from_utf8_lossy(&health.stderr)
    );
    let log = std::fs::read_to_string(dir.path().join("server.log")).expect("log");
    assert!(
        log.contains(&format!("serving {public}/scim/v2, web UI at {admin}/")),
        "{log}"
    );
}

/// SIGTERM stops both listeners, and the stop line is written once.
#[test]
fn a_signal_stops_both_listeners_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut server, admin) = start_split(dir.path(), &[]);
    let status = server.terminate();
    assert!(status.success(), "{status}");
    for base in [&server.base, &admin] {
        assert!(
            ureq::get(&format!("{base}/"))
                .call()
                .is_err_and(|e| matches!(e, ureq::Error::Transport(_))),
            "{base} still answers"
        );
    }
    let log = std::fs::read_to_string(dir.path().join("server.log")).expect("log");
    assert_eq!(log.matches("scimd stopped").count(), 1, "{log}");
}

/// An admin port that cannot be bound stops the whole server: scimd never runs half.
#[test]
fn a_taken_admin_port_stops_the_public_listener_too() {
    let dir = tempfile::tempdir().expect("tempdir");
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port().to_string();
    let mut child = scimd(dir.path())
        .arg("serve")
        .env("SCIMD_PORT", crate::server::free_port().to_string())
        .env("SCIMD_ADMIN__PORT", &port)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("scimd kept running with its admin port taken");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr)
        .expect("read");
    assert!(!status.success(), "{stderr}");
    assert!(stderr.contains("error: server stopped"), "{stderr}");
    drop(taken);
}

/// `check-config` prints `[admin]` (TOML that reads back) and refuses the main port for it.
#[test]
fn check_config_prints_and_validates_the_admin_section() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = scimd(dir.path())
        .arg("check-config")
        .env("SCIMD_ADMIN__PORT", "9090")
        .env("SCIMD_ADMIN__TLS", "false")
        .output()
        .expect("run");
    let printed = String::from_utf8(out.stdout).expect("utf-8");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(printed.contains("[admin]\n"), "{printed}");
    let file = dir.path().join("printed.toml");
    std::fs::write(&file, &printed).expect("write");
    let read = Config::from_figment(Config::figment(Some(&file))).expect("reads back");
    let admin = read.admin.expect("[admin]");
    assert_eq!((admin.port, admin.tls), (9090, false));

    let out = scimd(dir.path())
        .arg("check-config")
        .env("SCIMD_ADMIN__PORT", "8080")
        .output()
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("admin.port = 8080"), "{stderr}");
}

/// The admin listener and the public one as `scimd serve` builds them, in process.
async fn split(adjust: impl FnOnce(&mut Config)) -> (tempfile::TempDir, Client, Client) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = Config {
        database: dir.path().join("scimd.db"),
        admin: Some(AdminConfig {
            port: 9090,
            ..AdminConfig::default()
        }),
        ..Config::default()
    };
    adjust(&mut config);
    let mut listeners = scimd::listeners(config).expect("listeners").into_iter();
    let (Some(public), Some(admin), None) = (listeners.next(), listeners.next(), listeners.next())
    else {
        panic!("[admin] makes two listeners");
    };
    let public = Client::tracked(public).await.expect("public ignites");
    let admin = Client::tracked(admin).await.expect("admin ignites");
    (dir, public, admin)
}

/// Signs in on `client` and returns the session cookie's attributes.
async fn sign_in_cookie(client: &Client) -> String {
    let store = &client.rocket().state::<App>().expect("shared state").store;
    let password = scimd::service::admins::reset_password(store, "admin").expect("reset");
    let res = client
        .post("/api/session")
        .header(ContentType::JSON)
        .body(json!({"username": "admin", "password": password}).to_string())
        .dispatch()
        .await;
    assert_eq!(res.status().code, 200);
    res.headers()
        .get_one("Set-Cookie")
        .expect("cookie")
        .to_owned()
}

/// The *behind TLS* rule holds per listener: the session cookie is `Secure` exactly when the
/// admin listener's own connection is encrypted (its own TLS, or `admin.url` https), whatever
/// the public listener does.
#[rocket::async_test]
async fn the_session_cookie_follows_the_admin_listeners_own_tls() {
    // (case, [tls] set, admin.tls, public_url, admin.url, Secure expected)
    let cases = [
        (
            "public TLS, admin plain on loopback",
            true,
            false,
            None,
            None,
            false,
        ),
        ("public and admin TLS", true, true, None, None, true),
        (
            "public behind an https proxy, admin plain",
            false,
            true,
            Some("https://scim.example.com"),
            None,
            false,
        ),
        (
            "admin behind an https proxy",
            false,
            true,
            None,
            Some("https://admin.example.com"),
            true,
        ),
    ];
    for (case, tls, admin_tls, public_url, admin_url, secure) in cases {
        let (_dir, _public, admin) = split(|c| {
            c.tls = tls.then(|| TlsConfig {
                certs: "/nonexistent/c.pem".into(),
                key: "/nonexistent/k.pem".into(),
            });
            c.public_url = public_url.map(str::to_owned);
            let admin = c.admin.as_mut().expect("admin");
            admin.tls = admin_tls;
            admin.url = admin_url.map(str::to_owned);
        })
        .await;
        let cookie = sign_in_cookie(&admin).await;
        assert_eq!(
            cookie.split(';').any(|a| a.trim() == "Secure"),
            secure,
            "{case}: {cookie}"
        );
    }
}

/// `origin` in `/ui/instance.json`, asked as a browser on the admin port would.
async fn origin(client: &Client) -> Value {
    let mut req = client.get("/ui/instance.json");
    req.inner_mut()
        .set_host(Host::from(rocket::uri!("admin.vpn.example:9090")));
    let res = req.dispatch().await;
    let body = res.into_string().await.expect("body");
    serde_json::from_str::<Value>(&body).expect("json")["origin"].clone()
}

/// The Setup page's base URL on the admin listener is the public one: `public_url`, else the
/// public listener's scheme, address and port, never the admin listener's.
#[rocket::async_test]
async fn the_ui_shows_the_public_scim_address() {
    let (_dir, public, admin) = split(|_| {}).await;
    assert_eq!(origin(&admin).await, json!("http://127.0.0.1:8080"));
    let res = public.get("/ui/instance.json").dispatch().await;
    assert_eq!(res.status().code, 404);
    let (_dir, _public, admin) = split(|c| {
        c.tls = Some(TlsConfig {
            certs: "/nonexistent/c.pem".into(),
            key: "/nonexistent/k.pem".into(),
        });
        c.admin.as_mut().expect("admin").tls = false;
        c.address = "0.0.0.0".parse().expect("ip");
    })
    .await;
    // Listening on every address, the public listener is named as the browser named this host.
    assert_eq!(
        origin(&admin).await,
        json!("https://admin.vpn.example:8080")
    );
    let (_dir, _public, admin) =
        split(|c| c.public_url = Some("https://scim.example.com/".into())).await;
    assert_eq!(origin(&admin).await, json!("https://scim.example.com"));
}

/// Without `[admin]`, `scimd serve` runs one listener that serves everything, as before.
#[test]
fn without_admin_one_listener_serves_everything() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Config {
        database: dir.path().join("scimd.db"),
        ..Config::default()
    };
    assert_eq!(scimd::listeners(config).expect("listeners").len(), 1);
    let server = crate::server::start(dir.path(), crate::server::free_port());
    for path in [
        "/ui/",
        "/metrics",
        "/healthz",
        "/scim/v2/ServiceProviderConfig",
    ] {
        let url = format!("{}{path}", server.base);
        assert_eq!(get(&url).status, 200, "{url}");
    }
    assert_eq!(get(&format!("{}/api/session", server.base)).status, 401);
}

/// `client_ip_header` is the public listener's: a client of the admin listener cannot pass
/// for another address with it (here, pass for loopback to read `/metrics` without a token)
/// unless `admin.client_ip_header` says a proxy in front of the admin listener sets it.
#[test]
fn the_admin_listener_trusts_only_its_own_client_ip_header() {
    for (admin_header, status) in [(None, 401), (Some("X-Real-IP"), 200)] {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut env = vec![("SCIMD_CLIENT_IP_HEADER", "X-Real-IP")];
        env.extend(admin_header.map(|h| ("SCIMD_ADMIN__CLIENT_IP_HEADER", h)));
        let (_server, admin) = start_split(dir.path(), &env);
        let got = send(
            ureq::get(&format!("{admin}/metrics")).set("X-Real-IP", "127.0.0.1"),
            None,
        );
        assert_eq!(
            got.status, status,
            "admin.client_ip_header = {admin_header:?}"
        );
    }
}
