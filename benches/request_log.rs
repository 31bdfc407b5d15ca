//! Benchmark (not a test): SCIM throughput with the request log on and off, in the same run.
//! Each round starts the real application (Rocket's local client, in process, no network) on
//! a fresh database, once with `[request_log] enabled = true` and once with `false`, and drives
//! it from concurrent workers doing what an IdP sync does: look a user up by userName, create
//! it, PATCH it. Rounds alternate on/off so drift (disk cache, CPU boost) hits both alike; the
//! median of each is reported, with their ratio (the acceptance bar is ≥ 0.90).
//! Run: `cargo bench --bench request_log` (SCIMD_BENCH_SECONDS, SCIMD_BENCH_WORKERS,
//! SCIMD_BENCH_ROUNDS override the defaults; `SCIMD_BENCH_ROUNDS=0` measures only the log's
//! pipeline).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rocket::http::{ContentType, Header};
use rocket::local::asynchronous::Client;
use serde_json::json;

use scimd::config::{Config, RequestLogConfig};
use scimd::http::App;
use scimd::service::request_log::{Capture, CaptureBuffer, Field, RequestLog};
use scimd::service::tokens::{self, NewToken};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// An IdP's headers on a request.
fn idp<'c>(
    r: rocket::local::asynchronous::LocalRequest<'c>,
    auth: &str,
) -> rocket::local::asynchronous::LocalRequest<'c> {
    r.header(Header::new("Authorization", auth.to_owned()))
        .header(Header::new("User-Agent", "Okta SCIM Client 1.0.0"))
        .header(ContentType::new("application", "scim+json"))
}

/// CPU seconds this process has used (user + system), from /proc/self/stat. Linux reports
/// them in USER_HZ ticks, which the kernel ABI fixes at 100 per second.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// One round: (requests per second, log entries dropped, CPU microseconds per request
/// including the log's flush at the end).
async fn round(log_on: bool, seconds: u64, workers: u64) -> (f64, u64, f64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = Config {
        database: dir.path().join("bench.db"),
        ..Config::default()
    };
    config.request_log.enabled = log_on;
    // A throughput benchmark: without a new install's per-token rate limit.
    config.limits.requests_per_second = Some(0);
    let client = Arc::new(
        Client::untracked(scimd::rocket(config))
            .await
            .expect("ignite"),
    );
    let app = client.rocket().state::<App>().expect("app");
    let secret = tokens::issue(
        &app.store,
        &NewToken {
            tenant_slug: "default",
            name: "okta",
            read_only: false,
            kind: Default::default(),
            expires_in: None,
            allowed_addresses: Vec::new(),
        },
    )
    .expect("token")
    .secret;
    let auth = format!("Bearer {secret}");
    let done = Arc::new(AtomicU64::new(0));
    let cpu_at_start = cpu_seconds();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for w in 0..workers {
        let (client, auth, done) = (client.clone(), auth.clone(), done.clone());
        tasks.push(rocket::tokio::spawn(async move {
            let mut i = 0u64;
            while Instant::now() < deadline {
                let name = format!("w{w}u{i}@example.com");
                let lookup = format!("/scim/v2/Users?filter=userName%20eq%20%22{name}%22");
                let r = idp(client.get(lookup), &auth).dispatch().await;
                assert_eq!(r.status().code, 200);
                let body = json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": name, "name": {"givenName": "G", "familyName": "F"},
                    "emails": [{"value": name, "type": "work", "primary": true}], "active": true});
                let r = idp(client.post("/scim/v2/Users"), &auth)
                    .body(body.to_string())
                    .dispatch()
                    .await;
                assert_eq!(r.status().code, 201);
                let created: serde_json::Value =
                    serde_json::from_str(&r.into_string().await.unwrap_or_default()).expect("json");
                let id = created["id"].as_str().expect("id").to_owned();
                let patch = json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations":[{"op":"replace","path":"active","value":false}]});
                let r = idp(client.patch(format!("/scim/v2/Users/{id}")), &auth)
                    .body(patch.to_string())
                    .dispatch()
                    .await;
                assert_eq!(r.status().code, 200);
                done.fetch_add(3, Ordering::Relaxed);
                i += 1;
            }
        }));
    }
    for t in tasks {
        t.await.expect("worker");
    }
    let requests = done.load(Ordering::Relaxed);
    let log = client.rocket().state::<Arc<RequestLog>>().expect("log");
    log.flush(&app.store).await;
    let cpu_per_request = (cpu_seconds() - cpu_at_start) * 1e6 / requests.max(1) as f64;
    (
        requests as f64 / seconds as f64,
        log.dropped(),
        cpu_per_request,
    )
}

/// CPU microseconds the log spends per entry once captured (queue, redaction, batch insert,
/// commit, checkpoint), alone in the process: steadier than a throughput ratio on a shared
/// machine, and the figure to compare with a request's own cost. The entries are shaped like
/// an IdP reading users by id (a random id in the path, the user in the response).
async fn pipeline_cpu_per_entry(entries: usize) -> f64 {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = scimd::store::Store::open(&dir.path().join("bench.db")).expect("store");
    let log = Arc::new(RequestLog::new(RequestLogConfig {
        queue_size: entries + 1,
        ..RequestLogConfig::default()
    }));
    let user = json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:User",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "id":"2819c223-7f76-453a-919d-413861904646","externalId":"00u1abcd2EFGH3ijk4l5",
        "userName":"barbara.jensen@example.com","name":{"givenName":"Barbara","familyName":"Jensen",
        "formatted":"Barbara Jensen"},"displayName":"Barbara Jensen","active":true,
        "emails":[{"value":"barbara.jensen@example.com","type":"work","primary":true}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"701984",
        "department":"Tour Operations"},"groups":[],"meta":{"resourceType":"User",
        "created":"2026-11-23T10:00:00.000Z","lastModified":"2026-11-23T10:00:00.000Z",
        "location":"https://scim.example.com/scim/v2/Users/2819c223-7f76-453a-919d-413861904646",
        "version":"W/\"1\""}})
    .to_string();
    let captures: Vec<Capture> = (0..entries)
        .map(|_| {
            let mut parts = CaptureBuffer::with_capacity(2048);
            parts.set(
                Field::Path,
                &format!("/scim/v2/Users/{}", uuid::Uuid::new_v4()),
            );
            parts.set_body(Field::ResponseBody, user.as_bytes(), usize::MAX);
            parts.set(Field::Tenant, "default");
            parts.set(Field::TokenId, "7f0c1e9a");
            parts.set(Field::TokenName, "okta");
            parts.set(Field::UserAgent, "Okta SCIM Client 1.0.0");
            Capture {
                time: Some(scimd::clock::now()),
                method: "GET",
                client_ip: Some(std::net::Ipv4Addr::new(192, 0, 2, 10).into()),
                status: 200,
                latency_ms: 0.4,
                parts,
                quirks: Default::default(),
                secrets: Default::default(),
            }
        })
        .collect();
    let (writer, writer_store) = (log.clone(), store.clone());
    rocket::tokio::spawn(async move { writer.run_writer(writer_store).await });
    let cpu_at_start = cpu_seconds();
    for c in captures {
        log.submit(c);
    }
    log.flush(&store).await;
    assert_eq!(log.written(), entries as u64, "every entry written");
    (cpu_seconds() - cpu_at_start) * 1e6 / entries as f64
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let seconds = env("SCIMD_BENCH_SECONDS", 5);
    let workers = env("SCIMD_BENCH_WORKERS", 8);
    let rounds = env("SCIMD_BENCH_ROUNDS", 3);
    let runtime = rocket::tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    if rounds > 0 {
        compare_on_and_off(&runtime, rounds, seconds, workers);
    }
    let pipeline: Vec<f64> = (0..3)
        .map(|_| runtime.block_on(pipeline_cpu_per_entry(50_000)))
        .collect();
    println!(
        "log pipeline alone: {:.1} µs CPU per entry (median of 3 × 50,000 GET-shaped entries)",
        median(pipeline)
    );
}

fn compare_on_and_off(
    runtime: &rocket::tokio::runtime::Runtime,
    rounds: u64,
    seconds: u64,
    workers: u64,
) {
    let (mut on, mut off, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    let (mut cpu_on, mut cpu_off) = (Vec::new(), Vec::new());
    let mut dropped = 0;
    for r in 0..rounds {
        // Alternate which goes first so neither always runs on a warmer machine.
        for log_on in if r % 2 == 0 {
            [true, false]
        } else {
            [false, true]
        } {
            let (rps, d, cpu) = runtime.block_on(round(log_on, seconds, workers));
            eprintln!(
                "round {r} log {}: {rps:.0} requests/s, {cpu:.0} µs CPU per request",
                if log_on { "on " } else { "off" }
            );
            if log_on {
                on.push(rps);
                cpu_on.push(cpu);
                dropped += d;
            } else {
                off.push(rps);
                cpu_off.push(cpu);
            }
        }
        // Paired within a round: on a shared machine the load drifts more between rounds
        // than between the two halves of one.
        ratios.push(on[on.len() - 1] / off[off.len() - 1]);
    }
    let (on, off) = (median(on), median(off));
    println!(
        "request log on:  {on:.0} requests/s (median of {rounds}, {workers} workers, {seconds}s each; {dropped} entries dropped)"
    );
    println!("request log off: {off:.0} requests/s");
    println!("ratio of medians on/off: {:.3}", on / off);
    let (cpu_on, cpu_off) = (median(cpu_on), median(cpu_off));
    println!(
        "CPU per request: {cpu_on:.0} µs with the log, {cpu_off:.0} µs without (the log's share: {:.0}%)",
        100.0 * (cpu_on - cpu_off) / cpu_on
    );
    println!(
        "median of per-round ratios on/off: {:.3} (acceptance: >= 0.90)",
        median(ratios)
    );
}
