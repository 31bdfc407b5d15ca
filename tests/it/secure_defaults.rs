//! Issue 27 part 2 against the real server: `max_results` below 100 clamped with a warning,
//! the plain-HTTP warning (start, `check-config`, `scimd doctor`, `/api/security`), and the
//! secure defaults of a new install (per-token rate limit, token lifetime, client-address
//! allowlists) that an upgraded database does not get.

use std::path::Path;
use std::process::Output;

use serde_json::{Value, json};

use crate::admin_api::{api, sign_in};
use crate::common::TestApp;
use crate::server::{free_port, scimd};

fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    scimd(dir)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("run scimd")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Requests until the first refusal (at most `max`): how many were accepted and the refusal.
async fn until_refused(app: &TestApp, max: u32) -> (u32, Option<u16>) {
    for i in 0..max {
        let r = app.get("/scim/v2/Users?count=1").await;
        if r.status != 200 {
            return (i, Some(r.status));
        }
    }
    (max, None)
}

// ---- 1. max_results ----

/// A `max_results` an older scimd accepted (50, or 0 which it refused) starts the server with
/// 100 and a warning, in `check-config` and at start; /ServiceProviderConfig says 100.
#[test]
fn max_results_below_100_is_clamped_with_a_warning_never_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    for set in ["50", "0"] {
        let out = run(
            dir.path(),
            &["check-config"],
            &[("SCIMD_LIMITS__MAX_RESULTS", set)],
        );
        let err = text(&out.stderr);
        assert!(out.status.success(), "refused {set}: {err}");
        assert!(text(&out.stdout).contains("max_results = 100"), "{set}");
        assert!(
            err.contains(&format!(
                "warning: limits.max_results: limits.max_results = {set} is below 100"
            )),
            "{err}"
        );
        assert!(
            err.contains("fix: set limits.max_results to 100 or more"),
            "{err}"
        );
    }

    let port = free_port();
    let mut cmd = scimd(dir.path());
    let log = std::fs::File::create(dir.path().join("server.log")).expect("log");
    cmd.arg("serve")
        .env("SCIMD_PORT", port.to_string())
        .env("SCIMD_LIMITS__MAX_RESULTS", "50")
        .stderr(log);
    let base = format!("http://127.0.0.1:{port}");
    let probe = base.clone();
    let server = crate::server::spawn_with_output(cmd, base.clone(), move || {
        ureq::get(&format!("{probe}/healthz")).call().is_ok()
    });
    let spc: Value = serde_json::from_str(
        &ureq::get(&format!("{base}/scim/v2/ServiceProviderConfig"))
            .call()
            .expect("discovery")
            .into_string()
            .expect("body"),
    )
    .expect("json");
    assert_eq!(spc["filter"]["maxResults"], 100, "{spc}");
    drop(server);
    let log = std::fs::read_to_string(dir.path().join("server.log")).expect("log");
    assert!(
        log.contains("limits.max_results = 50 is below 100"),
        "the start log warns: {log}"
    );
}

// ---- 2. plain HTTP beyond loopback ----

/// `check-config` warns for each listener that serves plain HTTP beyond loopback and is not
/// behind TLS, and for nothing else.
#[test]
fn check_config_warns_of_plain_http_beyond_loopback_per_listener() {
    let dir = tempfile::tempdir().expect("tempdir");
    let warnings = |env: &[(&str, &str)]| -> String {
        let out = run(dir.path(), &["check-config"], env);
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stderr)
            .lines()
            .filter(|l| l.starts_with("warning:"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(warnings(&[]), "", "loopback is fine");
    assert_eq!(warnings(&[("SCIMD_ADDRESS", "::1")]), "", "::1 is loopback");
    let any = warnings(&[("SCIMD_ADDRESS", "0.0.0.0")]);
    assert!(
        any.contains("the listener (SCIM API and web UI) on 0.0.0.0:8080 serves plain HTTP beyond loopback and is not behind TLS"),
        "{any}"
    );
    assert!(any.contains("fix: set [tls] certs and key"), "{any}");
    assert_eq!(
        warnings(&[
            ("SCIMD_ADDRESS", "0.0.0.0"),
            ("SCIMD_PUBLIC_URL", "https://scim.example.com"),
        ]),
        "",
        "behind a TLS proxy"
    );
    let admin = warnings(&[
        ("SCIMD_PUBLIC_URL", "https://scim.example.com"),
        ("SCIMD_ADMIN__ADDRESS", "0.0.0.0"),
        ("SCIMD_ADMIN__PORT", "9090"),
    ]);
    assert!(
        admin.contains(
            "warning: admin.address: the admin listener (web UI) on 0.0.0.0:9090 serves plain HTTP"
        ),
        "{admin}"
    );
    assert!(!admin.contains("warning: address:"), "{admin}");
}

/// At start: the log warns of plain HTTP on 0.0.0.0, and says which rate limit is in force
/// (a new install's default: this test runs without the suite's opt-out).
#[test]
fn serve_warns_of_plain_http_at_start_and_logs_the_rate_limit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let mut cmd = scimd(dir.path());
    let log = std::fs::File::create(dir.path().join("server.log")).expect("log");
    cmd.arg("serve")
        .env_remove("SCIMD_LIMITS__REQUESTS_PER_SECOND")
        .env("SCIMD_ADDRESS", "0.0.0.0")
        .env("SCIMD_PORT", port.to_string())
        .stderr(log);
    let base = format!("http://127.0.0.1:{port}");
    let probe = base.clone();
    let server = crate::server::spawn_with_output(cmd, base, move || {
        ureq::get(&format!("{probe}/healthz")).call().is_ok()
    });
    drop(server);
    let log = std::fs::read_to_string(dir.path().join("server.log")).expect("log");
    assert!(
        log.contains("serves plain HTTP beyond loopback and is not behind TLS"),
        "{log}"
    );
    assert!(
        log.contains(
            "per-token rate limit: 50 requests per second, bursts of 500 (the default of a new install"
        ),
        "{log}"
    );
}

/// `scimd doctor`: a separate admin listener on plain HTTP beyond loopback is a warning with
/// its fix; on loopback it passes.
#[test]
fn doctor_checks_the_admin_listener_transport() {
    let dir = tempfile::tempdir().expect("tempdir");
    let doctor = |address: &str| -> String {
        let out = run(
            dir.path(),
            &["doctor", "--no-self-test"],
            &[
                ("SCIMD_PUBLIC_URL", "https://scim.example.com"),
                ("SCIMD_ADMIN__ADDRESS", address),
                ("SCIMD_ADMIN__PORT", "9090"),
            ],
        );
        text(&out.stdout)
    };
    let report = doctor("0.0.0.0");
    let line = report
        .lines()
        .position(|l| l.starts_with("! admin transport"))
        .unwrap_or_else(|| panic!("no warning for the admin listener:\n{report}"));
    let lines: Vec<&str> = report.lines().collect();
    assert!(
        lines[line].contains("0.0.0.0:9090 serves plain HTTP"),
        "{report}"
    );
    assert!(
        lines[line + 1].contains("fix:")
            && lines[line + 1].contains("admin.address = \"127.0.0.1\""),
        "{report}"
    );
    let report = doctor("127.0.0.1");
    assert!(
        report
            .lines()
            .any(|l| l.starts_with("✔ admin transport") && l.contains("loopback")),
        "{report}"
    );
}

/// `scimd doctor` names the rate limit in force and where it comes from; none is a warning.
#[test]
fn doctor_names_the_rate_limit_in_force() {
    let dir = tempfile::tempdir().expect("tempdir");
    let created = run(dir.path(), &["token", "create", "--name", "okta"], &[]);
    assert!(created.status.success(), "{}", text(&created.stderr));
    let report = |limit: Option<&str>| -> String {
        let mut cmd = scimd(dir.path());
        cmd.args(["doctor", "--no-self-test"]);
        match limit {
            Some(l) => cmd.env("SCIMD_LIMITS__REQUESTS_PER_SECOND", l),
            None => cmd.env_remove("SCIMD_LIMITS__REQUESTS_PER_SECOND"),
        };
        text(&cmd.output().expect("doctor").stdout)
    };
    let new = report(None);
    assert!(
        new.lines().any(|l| l.starts_with("✔ rate limit")
            && l.contains(
                "50 requests per second per token, bursts of 500 (the default of a new install"
            )),
        "{new}"
    );
    let off = report(Some("0"));
    assert!(
        off.lines()
            .any(|l| l.starts_with("! rate limit") && l.contains("no per-token rate limit")),
        "{off}"
    );
    assert!(
        off.contains("fix: set limits.requests_per_second = 50"),
        "{off}"
    );
}

/// The dashboard's source: `/api/security` lists the running configuration's warnings.
#[rocket::async_test]
async fn api_security_lists_the_warnings_the_dashboard_shows() {
    let app = TestApp::with(|c| {
        c.address = std::net::IpAddr::from([0, 0, 0, 0]);
    })
    .await;
    sign_in(&app).await;
    let r = api(&app, "GET", "/api/security", None, None, None).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let warnings = r.body["warnings"].as_array().expect("warnings");
    assert_eq!(warnings.len(), 1, "{}", r.raw);
    assert_eq!(warnings[0]["key"], "address");
    assert!(
        warnings[0]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("serves plain HTTP beyond loopback")),
        "{}",
        r.raw
    );
    assert!(
        warnings[0]["fix"]
            .as_str()
            .is_some_and(|f| f.contains("[tls]"))
    );

    let quiet = TestApp::new().await;
    sign_in(&quiet).await;
    let r = api(&quiet, "GET", "/api/security", None, None, None).await;
    assert_eq!(r.body["warnings"], json!([]), "{}", r.raw);
}

// ---- 3a. the per-token rate limit ----

/// A new install limits each token to 50 requests per second; an explicit setting wins.
#[rocket::async_test]
async fn a_new_install_limits_each_token_and_a_setting_wins() {
    let app = TestApp::with(|c| c.limits.requests_per_second = None).await;
    assert_eq!(app.app().config.limits.requests_per_second, Some(50));
    assert_eq!(app.app().config.limits.requests_burst, Some(500));
    // In-process requests come far faster than 50 per second (a loaded machine still answers
    // one in well under 15 ms): the burst of 500 runs out, and the refusal is the S24 429.
    let (accepted, refused) = until_refused(&app, 5000).await;
    assert_eq!(refused, Some(429), "accepted {accepted}");
    assert!(accepted >= 500, "accepted {accepted}");

    // A configured rate without a burst keeps the old bucket: one second's worth.
    let rate = TestApp::with(|c| c.limits.requests_per_second = Some(20)).await;
    assert_eq!(rate.app().config.limits.requests_burst, Some(20));

    let set = TestApp::with(|c| c.limits.requests_per_second = Some(0)).await;
    let (accepted, refused) = until_refused(&set, 200).await;
    assert_eq!(
        refused, None,
        "refused after {accepted}: 0 set explicitly is unlimited"
    );
}

/// The packaged scimd.toml leaves the limit to the install, so a new install from the package
/// gets the default; an upgrade that replaced the file would not change an older database's.
#[rocket::async_test]
async fn the_packaged_config_on_an_empty_database_limits_each_token() {
    let packaged = scimd::config::Config::load(Some(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/packaging/scimd.toml"
    ))))
    .expect("the packaged config loads");
    assert_eq!(packaged.limits.requests_per_second, None);
    let app = TestApp::with(|c| {
        let database = c.database.clone();
        *c = scimd::config::Config {
            database,
            ..packaged
        };
    })
    .await;
    assert_eq!(app.app().config.limits.requests_per_second, Some(50));
    let (accepted, refused) = until_refused(&app, 5000).await;
    assert_eq!(refused, Some(429), "accepted {accepted}");
}

/// A database created before secure defaults (no `install_defaults` rows, as migration 0014
/// leaves an upgraded one) keeps its behaviour: no rate limit, tokens that never expire.
#[rocket::async_test]
async fn an_upgraded_database_keeps_its_behaviour() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("old.db");
    {
        let config = scimd::config::Config {
            database: db.clone(),
            ..scimd::config::Config::default()
        };
        drop(scimd::open_store(&config).expect("create"));
        let conn = rusqlite::Connection::open(&db).expect("open");
        conn.execute("DELETE FROM install_defaults", [])
            .expect("as an upgraded database has it");
    }
    let app = TestApp::with(|c| {
        c.database = db.clone();
        c.limits.requests_per_second = None;
    })
    .await;
    assert_eq!(app.app().config.limits.requests_per_second, Some(0));
    let (accepted, refused) = until_refused(&app, 200).await;
    assert_eq!(refused, None, "refused after {accepted}");

    let out = run(
        dir.path(),
        &["token", "create", "--name", "old-style"],
        &[("SCIMD_DATABASE", db.to_str().expect("utf-8"))],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("never expires"),
        "{}",
        text(&out.stderr)
    );
}

// ---- 3b. the default token lifetime ----

/// A new install's tokens expire in 365 days unless another lifetime or `never` is chosen,
/// from the CLI and the admin API alike.
#[rocket::async_test]
async fn new_tokens_expire_in_a_year_unless_never_is_chosen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run(dir.path(), &["token", "create", "--name", "okta"], &[]);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    let year = (time::OffsetDateTime::now_utc() + time::Duration::days(365))
        .date()
        .to_string();
    assert!(err.contains(&format!(", expires {year}")), "{err}");
    let out = run(
        dir.path(),
        &[
            "token",
            "create",
            "--name",
            "forever",
            "--expires-in",
            "never",
        ],
        &[],
    );
    assert!(
        text(&out.stderr).contains("never expires"),
        "{}",
        text(&out.stderr)
    );
    let list = text(&run(dir.path(), &["token", "list"], &[]).stdout);
    let row = |name: &str| {
        list.lines()
            .find(|l| l.contains(&format!(" {name} ")))
            .unwrap_or_else(|| panic!("{name} in {list}"))
            .to_owned()
    };
    assert!(row("okta").contains(&year), "{list}");
    assert!(row("forever").contains(" never "), "{list}");

    let app = TestApp::new().await;
    let s = sign_in(&app).await;
    let r = api(&app, "GET", "/api/security", None, None, None).await;
    assert_eq!(r.body["token_expires_in"], "365d", "{}", r.raw);
    let create = |name: &str, expires: Option<&str>| {
        let mut body = json!({"name": name});
        if let Some(e) = expires {
            body["expires_in"] = json!(e);
        }
        body
    };
    let r = api(
        &app,
        "POST",
        "/api/tenants/default/tokens",
        Some(create("entra", None)),
        Some(&s.csrf),
        None,
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.raw);
    assert!(
        r.body["token"]["expires"]
            .as_str()
            .is_some_and(|e| e.starts_with(&year)),
        "{}",
        r.raw
    );
    let r = api(
        &app,
        "POST",
        "/api/tenants/default/tokens",
        Some(create("entra-forever", Some("never"))),
        Some(&s.csrf),
        None,
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.raw);
    assert_eq!(r.body["token"]["expires"], Value::Null, "{}", r.raw);
}

// ---- 3c. client-address allowlists ----

async fn from(app: &TestApp, token: &str, ip: &str) -> crate::common::Reply {
    app.send_with(
        "GET",
        "/scim/v2/Users",
        None,
        &[
            ("Authorization", &format!("Bearer {token}")),
            ("X-Real-IP", ip),
        ],
    )
    .await
}

/// Behind a proxy that sets `X-Real-IP` (client_ip_header): a token limited to ranges works
/// from them and gets 403 from elsewhere, with the token, the address and the fix named and
/// the refusal diagnosed in the request log; the list changes over the admin API.
#[rocket::async_test]
async fn an_allowlisted_token_is_refused_elsewhere_with_403_and_diagnosed() {
    let app = TestApp::with(|c| c.client_ip_header = Some("X-Real-IP".into())).await;
    let s = sign_in(&app).await;
    let r = api(
        &app,
        "POST",
        "/api/tenants/default/tokens",
        Some(json!({"name": "okta-prod", "allowed_addresses": ["203.0.113.0/24, 2001:db8::/32"]})),
        Some(&s.csrf),
        None,
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.raw);
    assert_eq!(
        r.body["token"]["allowed_addresses"],
        json!(["203.0.113.0/24", "2001:db8::/32"])
    );
    let (id, secret) = (
        r.body["token"]["id"].as_str().expect("id").to_owned(),
        r.body["secret"].as_str().expect("secret").to_owned(),
    );
    assert_eq!(from(&app, &secret, "203.0.113.9").await.status, 200);
    assert_eq!(from(&app, &secret, "2001:db8::7").await.status, 200);
    let refused = from(&app, &secret, "198.51.100.4").await;
    let detail = refused.assert_error(403, None);
    assert!(detail.contains("token \"okta-prod\""), "{detail}");
    assert!(detail.contains("came from 198.51.100.4"), "{detail}");
    assert!(
        detail.contains("scimd token addresses okta-prod --set"),
        "{detail}"
    );
    assert!(!detail.contains(&secret), "no secret in the detail");

    crate::request_log::flush(&app).await;
    let r = api(&app, "GET", "/api/log?per_page=1", None, None, None).await;
    let entry = &r.body["items"][0];
    assert_eq!(entry["status"], 403, "{entry}");
    assert_eq!(entry["token"]["name"], "okta-prod", "{entry}");
    assert_eq!(entry["client_ip"], "198.51.100.4", "{entry}");
    assert!(
        entry["diagnosis"]["title"]
            .as_str()
            .is_some_and(|t| t.contains("address it is not allowed from")),
        "{entry}"
    );

    // Changed over the admin API: the new list applies at the next request.
    let path = format!("/api/tenants/default/tokens/{id}/addresses");
    let bad = api(
        &app,
        "PUT",
        &path,
        Some(json!({"allowed_addresses": ["198.51.100.0/33"]})),
        Some(&s.csrf),
        None,
    )
    .await;
    assert!(
        bad.assert_error(400).contains("\"198.51.100.0/33\""),
        "{}",
        bad.raw
    );
    assert_eq!(
        from(&app, &secret, "198.51.100.4").await.status,
        403,
        "unchanged"
    );
    let r = api(
        &app,
        "PUT",
        &path,
        Some(json!({"allowed_addresses": ["198.51.100.0/24"]})),
        Some(&s.csrf),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(from(&app, &secret, "198.51.100.4").await.status, 200);
    assert_eq!(from(&app, &secret, "203.0.113.9").await.status, 403);
    let r = api(
        &app,
        "PUT",
        &path,
        Some(json!({"allowed_addresses": []})),
        Some(&s.csrf),
        None,
    )
    .await;
    assert_eq!(r.body["allowed_addresses"], json!([]), "{}", r.raw);
    assert_eq!(from(&app, &secret, "203.0.113.9").await.status, 200);
    // A rotation replaces the secret of the same integration: the new token keeps the list.
    let r = api(
        &app,
        "PUT",
        &path,
        Some(json!({"allowed_addresses": ["203.0.113.0/24"]})),
        Some(&s.csrf),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let rotated = api(
        &app,
        "POST",
        &format!("/api/tenants/default/tokens/{id}/rotate"),
        Some(json!({"overlap": "0s"})),
        Some(&s.csrf),
        None,
    )
    .await;
    assert_eq!(rotated.status, 201, "{}", rotated.raw);
    assert_eq!(
        rotated.body["token"]["allowed_addresses"],
        json!(["203.0.113.0/24"])
    );
    let new_secret = rotated.body["secret"].as_str().expect("secret").to_owned();
    assert_eq!(from(&app, &new_secret, "203.0.113.9").await.status, 200);
    assert_eq!(from(&app, &new_secret, "198.51.100.4").await.status, 403);
    // Other tokens were never limited.
    assert_eq!(from(&app, &app.token, "192.0.2.1").await.status, 200);
}

/// Without a proxy, the TCP peer is the client: an `X-Forwarded-For` the client sends does
/// not get it past the list. The CLI sets, shows and clears the list of a running server.
#[test]
fn the_cli_sets_the_list_and_a_forged_header_does_not_pass() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run(
        dir.path(),
        &[
            "token",
            "create",
            "--name",
            "entra",
            "--allow-from",
            "10.0.0.0/8",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("only from 10.0.0.0/8"),
        "{}",
        text(&out.stderr)
    );
    let token = text(&out.stdout).trim().to_owned();
    let server = crate::server::start(dir.path(), free_port());
    let get = |forged: Option<&str>| {
        let mut req = ureq::get(&format!("{}/scim/v2/Users", server.base))
            .set("Authorization", &format!("Bearer {token}"));
        if let Some(ip) = forged {
            req = req.set("X-Forwarded-For", ip).set("X-Real-IP", ip);
        }
        match req.call() {
            Ok(r) => (r.status(), String::new()),
            Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap_or_default()),
            Err(e) => panic!("{e}"),
        }
    };
    let (status, body) = get(Some("10.1.2.3"));
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("came from 127.0.0.1"), "{body}");

    let out = run(
        dir.path(),
        &[
            "token",
            "addresses",
            "entra",
            "--set",
            "127.0.0.0/8,10.0.0.0/8",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "127.0.0.0/8\n10.0.0.0/8\n");
    assert_eq!(get(None).0, 200);
    let shown = run(dir.path(), &["token", "addresses", "entra"], &[]);
    assert_eq!(text(&shown.stdout), "127.0.0.0/8\n10.0.0.0/8\n");
    let list = text(&run(dir.path(), &["token", "list"], &[]).stdout);
    assert!(
        list.contains("active from 127.0.0.0/8, 10.0.0.0/8"),
        "{list}"
    );
    let out = run(
        dir.path(),
        &["token", "addresses", "entra", "--set", "10.0.0.0/8"],
        &[],
    );
    assert!(out.status.success());
    assert_eq!(get(None).0, 403);
    let out = run(dir.path(), &["token", "addresses", "entra", "--any"], &[]);
    assert!(
        text(&out.stderr).contains("accepted from any address"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(get(None).0, 200);
    let bad = run(
        dir.path(),
        &["token", "addresses", "entra", "--set", "10.0.0.300"],
        &[],
    );
    assert!(!bad.status.success());
    assert!(text(&bad.stderr).contains("\"10.0.0.300\" is not an address range"));
}
