//! Webhooks (issue 23): the admin API and CLI that manage endpoints, their validation and
//! limits, and delivery by the real worker to a receiver on a local port (in order, signed,
//! 410 disables, retries end in `failing`, a backlog past its bound disables, pruned events).
//! The signatures are also verified by the Standard Webhooks reference library in
//! tests/webhooks/run.sh.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use scimd::service::webhooks;

use crate::admin_api::{api, sign_in};
use crate::common::TestApp;
use crate::server::scimd;

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Got {
    headers: Vec<(String, String)>,
    body: String,
}

impl Got {
    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map_or("", |(_, v)| v.as_str())
    }
}

/// A receiver on a free port answering every request with `status`.
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Got>>>,
}

fn receiver(status: u16) -> Receiver {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let got = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&got);
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let mut reader = BufReader::new(conn);
            let mut headers = Vec::new();
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            loop {
                line.clear();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some((k, v)) = line.trim_end().split_once(':') {
                    headers.push((k.trim().to_owned(), v.trim().to_owned()));
                }
            }
            let len = headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0u8; len];
            let _ = reader.read_exact(&mut body);
            record.lock().expect("lock").push(Got {
                headers,
                body: String::from_utf8_lossy(&body).into_owned(),
            });
            let mut conn = reader.into_inner();
            let _ = write!(
                conn,
                "HTTP/1.1 {status} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
            );
        }
    });
    Receiver { url, got }
}

async fn lab(adjust: impl FnOnce(&mut scimd::config::Config)) -> TestApp {
    TestApp::with(|c| {
        c.webhooks.allow_http = true;
        c.webhooks.retry_initial_ms = 100;
        c.webhooks.retry_max_delay_secs = 1;
        adjust(c);
    })
    .await
}

/// Polls `f` until it returns `Some`, for up to a minute (a loaded machine).
async fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        rocket::tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn add(app: &TestApp, url: &str) -> (String, String) {
    let created = webhooks::add(
        &app.app().store,
        &app.app().config.webhooks,
        "default",
        url,
        Vec::new(),
    )
    .expect("add");
    (created.webhook.id, created.secret)
}

fn state(app: &TestApp, id: &str) -> (String, String) {
    let w = webhooks::show(&app.app().store, None, id, 1).expect("show");
    (w.webhook.state, w.webhook.state_reason.unwrap_or_default())
}

#[rocket::async_test]
async fn events_are_delivered_in_order_signed_with_the_event_id() {
    let app = lab(|_| {}).await;
    let rx = receiver(204);
    let (id, secret) = add(&app, &rx.url);
    for i in 0..5 {
        app.create_user(&format!("u{i}")).await;
    }
    let got = eventually("5 deliveries", || {
        let got = rx.got.lock().expect("lock").clone();
        (got.len() >= 5).then_some(got)
    })
    .await;
    let seqs: Vec<i64> = got
        .iter()
        .map(|g| {
            serde_json::from_str::<Value>(&g.body).expect("json")["seq"]
                .as_i64()
                .expect("seq")
        })
        .collect();
    let mut sorted = seqs.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(seqs, sorted, "in seq order, each once");
    for g in &got {
        let event: Value = serde_json::from_str(&g.body).expect("json");
        assert_eq!(g.header("webhook-id"), event["id"].as_str().expect("id"));
        assert_eq!(event["type"], "user.created");
        let ts: i64 = g.header("webhook-timestamp").parse().expect("timestamp");
        assert_eq!(
            g.header("webhook-signature"),
            webhooks::sign(&[&secret], g.header("webhook-id"), ts, g.body.as_bytes())
        );
        assert!(g.header("user-agent").starts_with("scimd/"));
    }
    // The attempts are kept, with their status, and the metrics count them.
    let detail = eventually("recorded attempts", || {
        let d = webhooks::show(&app.app().store, None, &id, 50).expect("show");
        (d.attempts.len() >= 5).then_some(d)
    })
    .await;
    assert!(
        detail
            .attempts
            .iter()
            .all(|a| a.status == Some(204) && a.outcome == "delivered")
    );
    let metrics = app
        .client
        .get("/metrics")
        .remote("127.0.0.1:9000".parse().expect("addr"))
        .dispatch()
        .await
        .into_string()
        .await
        .unwrap_or_default();
    assert!(
        metrics.contains("scimd_webhook_attempts_total{outcome=\"delivered\"}"),
        "{metrics}"
    );
    assert!(metrics.contains(&format!("webhook=\"{id}\"")), "{metrics}");
}

#[rocket::async_test]
async fn a_410_disables_the_endpoint_and_the_metrics_say_so() {
    let app = lab(|_| {}).await;
    let rx = receiver(410);
    let (id, _) = add(&app, &rx.url);
    app.create_user("gone").await;
    let reason = eventually("disabled", || {
        let (s, reason) = state(&app, &id);
        (s == "disabled").then_some(reason)
    })
    .await;
    assert!(reason.contains("410"), "{reason}");
    assert_eq!(rx.got.lock().expect("lock").len(), 1, "no retry after 410");
    let metrics = app
        .client
        .get("/metrics")
        .remote("127.0.0.1:9000".parse().expect("addr"))
        .dispatch()
        .await
        .into_string()
        .await
        .unwrap_or_default();
    assert!(
        metrics.contains("scimd_webhook_endpoints{state=\"disabled\"} 1"),
        "{metrics}"
    );
}

#[rocket::async_test]
async fn retries_with_the_same_id_then_failing_after_retry_for_secs_and_replay_resumes() {
    let app = lab(|c| c.webhooks.retry_for_secs = 1).await;
    let rx = receiver(500);
    let (id, _) = add(&app, &rx.url);
    app.create_user("stuck").await;
    let reason = eventually("failing", || {
        let (s, reason) = state(&app, &id);
        (s == "failing").then_some(reason)
    })
    .await;
    assert!(reason.contains("webhooks.retry_for_secs"), "{reason}");
    let got = rx.got.lock().expect("lock").clone();
    assert!(got.len() >= 2, "retried: {}", got.len());
    assert!(
        got.iter()
            .all(|g| g.header("webhook-id") == got[0].header("webhook-id"))
    );
    // A replay makes it active again and the same event is sent again.
    let before = got.len();
    let w = webhooks::replay(&app.app().store, None, &id, None).expect("replay");
    assert_eq!(w.state, "active");
    eventually("a new attempt after the replay", || {
        (rx.got.lock().expect("lock").len() > before).then_some(())
    })
    .await;
}

#[rocket::async_test]
async fn a_backlog_past_its_bound_disables_the_endpoint() {
    let app = lab(|c| {
        c.webhooks.max_backlog_bytes = 10;
        c.webhooks.retry_max_delay_secs = 3600;
        c.webhooks.retry_initial_ms = 60_000;
    })
    .await;
    let rx = receiver(503);
    let (id, _) = add(&app, &rx.url);
    app.create_user("a").await;
    app.create_user("b").await;
    let reason = eventually("disabled", || {
        let (s, reason) = state(&app, &id);
        (s == "disabled").then_some(reason)
    })
    .await;
    assert!(reason.contains("webhooks.max_backlog_bytes"), "{reason}");
    // The pull feed still has the events.
    let last: i64 = app.sql_int("SELECT MAX(seq) FROM events");
    assert!(last >= 2);
}

#[rocket::async_test]
async fn an_endpoint_behind_the_pruned_events_fails_with_the_reason() {
    let app = lab(|c| c.webhooks.enabled = false).await;
    let rx = receiver(204);
    let (id, _) = add(&app, &rx.url);
    for i in 0..3 {
        app.create_user(&format!("p{i}")).await;
    }
    let store = app.app().store.clone();
    scimd::service::events::prune(&store, 1, 0, scimd::clock::now())
        .await
        .expect("prune");
    // A replay from before the horizon is refused, naming it.
    let refused = webhooks::replay(&store, None, &id, Some(0)).expect_err("pruned");
    assert!(refused.to_string().contains("pruned"), "{refused}");
    let delivery = app.state::<Arc<webhooks::Delivery>>();
    delivery.start(rocket::tokio::runtime::Handle::current());
    let reason = eventually("failing", || {
        let (s, reason) = state(&app, &id);
        (s == "failing").then_some(reason)
    })
    .await;
    assert!(reason.contains("pruned"), "{reason}");
    assert!(rx.got.lock().expect("lock").is_empty());
}

#[rocket::async_test]
async fn the_admin_api_manages_webhooks_and_refuses_bad_input_without_a_change() {
    let app = lab(|c| c.webhooks.max_endpoints_per_tenant = 2).await;
    let s = sign_in(&app).await;
    let base = "/api/tenants/default/webhooks";
    let csrf = Some(s.csrf.as_str());
    let created = api(
        &app,
        "POST",
        base,
        Some(json!({"url": "https://app.example.com/h", "types": ["user.created"]})),
        csrf,
        None,
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.raw);
    let secret = created.body["secret"].as_str().expect("secret").to_owned();
    assert!(secret.starts_with("whsec_"));
    let id = created.body["webhook"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let listed = api(&app, "GET", base, None, None, None).await;
    assert_eq!(listed.body[0]["id"], id.as_str());
    assert_eq!(listed.body[0]["types"], json!(["user.created"]));
    assert!(
        !listed.raw.contains(&secret),
        "the secret is shown once only"
    );
    let shown = api(&app, "GET", &format!("{base}/{id}"), None, None, None).await;
    assert!(!shown.raw.contains(&secret));

    for (body, names) in [
        (json!({"url": "ftp://x/"}), "url"),
        (json!({"url": "https://u:p@x.example/"}), "credentials"),
        (
            json!({"url": "https://x.example/", "types": ["user.exploded"]}),
            "types",
        ),
    ] {
        let r = api(&app, "POST", base, Some(body), csrf, None).await;
        let detail = r.assert_error(400);
        assert!(detail.contains(names), "{detail}");
    }
    let plain = lab(|_| {}).await;
    let refused = webhooks::add(
        &plain.app().store,
        &scimd::config::WebhooksConfig::default(),
        "default",
        "http://app.example.com/h",
        Vec::new(),
    )
    .expect_err("plain http");
    assert!(
        refused.to_string().contains("webhooks.allow_http"),
        "{refused}"
    );

    let second = api(
        &app,
        "POST",
        base,
        Some(json!({"url": "https://b.example/h"})),
        csrf,
        None,
    )
    .await;
    assert_eq!(second.status, 201);
    let third = api(
        &app,
        "POST",
        base,
        Some(json!({"url": "https://c.example/h"})),
        csrf,
        None,
    )
    .await;
    let detail = third.assert_error(400);
    assert!(
        detail.contains("webhooks.max_endpoints_per_tenant"),
        "{detail}"
    );
    assert_eq!(
        app.sql_int("SELECT COUNT(*) FROM webhooks"),
        2,
        "refusals change nothing"
    );

    let replay = api(
        &app,
        "POST",
        &format!("{base}/{id}/replay"),
        Some(json!({"after": 999})),
        csrf,
        None,
    )
    .await;
    let detail = replay.assert_error(400);
    assert!(detail.contains("999"), "{detail}");
    let rotated = api(
        &app,
        "POST",
        &format!("{base}/{id}/rotate"),
        Some(json!({"overlap": "1h"})),
        csrf,
        None,
    )
    .await;
    assert_eq!(rotated.status, 200, "{}", rotated.raw);
    let new = rotated.body["secret"].as_str().expect("secret");
    assert!(new.starts_with("whsec_") && new != secret);
    assert!(rotated.body["webhook"]["previous_expires"].is_string());
    let disabled = api(
        &app,
        "POST",
        &format!("{base}/{id}/disable"),
        None,
        csrf,
        None,
    )
    .await;
    assert_eq!(disabled.body["state"], "disabled", "{}", disabled.raw);
    let removed = api(&app, "DELETE", &format!("{base}/{id}"), None, csrf, None).await;
    assert_eq!(removed.status, 200);
    let gone = api(&app, "GET", &format!("{base}/{id}"), None, None, None).await;
    gone.assert_error(404);
    let no_csrf = api(
        &app,
        "POST",
        base,
        Some(json!({"url": "https://d.example/h"})),
        None,
        None,
    )
    .await;
    no_csrf.assert_error(403);
}

#[test]
fn the_cli_adds_lists_tests_and_removes_webhooks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rx = receiver(204);
    let run = |args: &[&str]| {
        scimd(dir.path())
            .args(args)
            .env("SCIMD_DATABASE", dir.path().join("scimd.db"))
            .env("SCIMD_WEBHOOKS__ALLOW_HTTP", "true")
            .output()
            .expect("run scimd")
    };
    let added = run(&["webhook", "add", "--url", &rx.url]);
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let secret = String::from_utf8_lossy(&added.stdout).trim().to_owned();
    assert!(
        secret.starts_with("whsec_") && !secret.contains('\n'),
        "{secret}"
    );
    let listed = run(&["webhook", "list", "--json"]);
    let list: Value = serde_json::from_slice(&listed.stdout).expect("json");
    let id = list[0]["id"].as_str().expect("id").to_owned();
    assert!(!String::from_utf8_lossy(&listed.stdout).contains(&secret));
    let tested = run(&["webhook", "test", &id]);
    assert!(
        tested.status.success(),
        "{}",
        String::from_utf8_lossy(&tested.stderr)
    );
    let got = rx.got.lock().expect("lock").clone();
    assert_eq!(got.len(), 1);
    let event: Value = serde_json::from_str(&got[0].body).expect("json");
    assert_eq!(event["type"], "webhook.test");
    let ts: i64 = got[0].header("webhook-timestamp").parse().expect("ts");
    assert_eq!(
        got[0].header("webhook-signature"),
        webhooks::sign(
            &[&secret],
            got[0].header("webhook-id"),
            ts,
            got[0].body.as_bytes()
        )
    );
    let bad = run(&["webhook", "add", "--url", "nope"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("url"));
    let removed = run(&["webhook", "remove", &id]);
    assert!(removed.status.success());
    let listed = run(&["webhook", "list", "--json"]);
    assert_eq!(
        serde_json::from_slice::<Value>(&listed.stdout).expect("json"),
        json!([])
    );
}

#[rocket::async_test]
async fn a_type_filter_sends_only_those_types_and_the_cursor_moves_past_the_rest() {
    let app = lab(|_| {}).await;
    let rx = receiver(204);
    let created = webhooks::add(
        &app.app().store,
        &app.app().config.webhooks,
        "default",
        &rx.url,
        vec!["group.created".into()],
    )
    .expect("add");
    app.create_user("skipped").await;
    app.create_group("wanted").await;
    app.create_user("skipped-too").await;
    let last = app.sql_int("SELECT MAX(seq) FROM events");
    eventually("the cursor at the newest event", || {
        let w = webhooks::show(&app.app().store, None, &created.webhook.id, 1).expect("show");
        (w.webhook.cursor == last).then_some(())
    })
    .await;
    let got = rx.got.lock().expect("lock").clone();
    let types: Vec<String> = got
        .iter()
        .map(|g| {
            serde_json::from_str::<Value>(&g.body).expect("json")["type"]
                .as_str()
                .expect("type")
                .to_owned()
        })
        .collect();
    assert_eq!(types, ["group.created"]);
}

/// The 3-day window counts from the first attempt on record, so a restart does not start it
/// again: here an attempt 10 s old (as if made before a restart) and a 5 s window leave no
/// room for a retry.
#[rocket::async_test]
async fn the_retry_window_counts_from_the_first_attempt_on_record() {
    let app = lab(|c| {
        c.webhooks.enabled = false;
        c.webhooks.retry_for_secs = 5;
    })
    .await;
    let rx = receiver(500);
    let (id, _) = add(&app, &rx.url);
    app.create_user("old").await;
    let seq = app.sql_int("SELECT MAX(seq) FROM events");
    let store = app.app().store.clone();
    // As if the endpoint had been added a minute ago and tried 10 s ago.
    let minute = scimd::clock::timestamp(scimd::clock::now() - time::Duration::seconds(60));
    store
        .write_blocking(move |tx| {
            tx.execute("UPDATE webhooks SET state_since = ?1", [minute])?;
            Ok(())
        })
        .expect("backdate");
    let earlier = scimd::clock::timestamp(scimd::clock::now() - time::Duration::seconds(10));
    let attempt = scimd::store::webhooks::Attempt {
        tenant_id: 1,
        webhook_id: id.clone(),
        seq: Some(seq),
        event_id: "evt_before_the_restart".into(),
        attempt: 1,
        time: earlier,
        status: Some(500),
        outcome: "rejected".into(),
        latency_ms: 1,
        excerpt: String::new(),
    };
    store
        .write_log_blocking(move |tx| scimd::store::webhooks::insert_attempts(tx, &[attempt], 10))
        .expect("attempt");
    app.state::<Arc<webhooks::Delivery>>()
        .start(rocket::tokio::runtime::Handle::current());
    let reason = eventually("failing", || {
        let (s, reason) = state(&app, &id);
        (s == "failing").then_some(reason)
    })
    .await;
    assert!(reason.contains("webhooks.retry_for_secs"), "{reason}");
    assert_eq!(
        rx.got.lock().expect("lock").len(),
        1,
        "no retry: the window had passed"
    );
}
