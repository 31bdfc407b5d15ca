//! What unauthenticated floods may cost: metrics labels and the request log's disk.
//! Both run against the spawned binary, because the bound is the server process's memory and
//! the files it writes.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::server::{Server, free_port, scimd, start};

/// A field of `/proc/<pid>/status` in kB (`VmRSS`, `VmHWM`).
fn status_kb(server: &Server, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.child.id()))
        .expect("the server's /proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in {status}"))
}

/// A URL segment of `n` characters that no other call returns: a random prefix is enough to
/// make each one a new label or row, and cheaper than `n` random characters.
fn random_segment(n: usize) -> String {
    let mut s = uuid::Uuid::new_v4().simple().to_string();
    let fill = n.saturating_sub(s.len());
    s.extend(std::iter::repeat_n('x', fill));
    s
}

/// The server's state as `/proc` has it (`S (sleeping)`, `Z (zombie)` once it died), for a
/// failure message.
fn state(server: &Server) -> String {
    std::fs::read_to_string(format!("/proc/{}/status", server.child.id()))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("State:"))
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "gone".into())
}

/// Sends `total` GETs built by `url(i)` over `threads` keep-alive connections; each answer
/// must be a 4xx (a refusal), never a 5xx or a dropped connection.
fn flood(
    server: &Server,
    total: usize,
    threads: usize,
    url: impl Fn(&str, usize) -> String + Sync,
) {
    let base = server.base.as_str();
    std::thread::scope(|s| {
        for t in 0..threads {
            let url = &url;
            s.spawn(move || {
                let agent = ureq::AgentBuilder::new()
                    .timeout(Duration::from_secs(30))
                    .build();
                for i in (t..total).step_by(threads) {
                    let mut req = agent.get(&url(base, i));
                    // Half carry a well-formed token that no one issued, so the tenant is
                    // looked up too; half carry none.
                    if i % 2 == 1 {
                        req = req.set("Authorization", &format!("Bearer scim_{}", "ab".repeat(32)));
                    }
                    match req.call() {
                        Err(ureq::Error::Status(code, _)) if (400..500).contains(&code) => {}
                        // Without the URL: it is 20 KB or more.
                        other => panic!(
                            "request {i}: {:?}; server {}",
                            other.map(|r| r.status()).map_err(|e| e.kind()),
                            state(server)
                        ),
                    }
                }
            });
        }
    });
}

fn metrics(base: &str) -> String {
    ureq::get(&format!("{base}/metrics"))
        .call()
        .expect("metrics")
        .into_string()
        .expect("metrics text")
}

fn healthz(base: &str) -> Value {
    serde_json::from_str(
        &ureq::get(&format!("{base}/healthz"))
            .call()
            .expect("healthz")
            .into_string()
            .expect("body"),
    )
    .expect("json")
}

/// Waits (bounded) until the log's writer has written what was queued.
fn log_settled(base: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while healthz(base)["request_log"]["queue_depth"] != 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    // The batching window is 250 ms: an entry taken off the queue may still be in a batch.
    std::thread::sleep(Duration::from_millis(600));
}

fn log_files_bytes(dir: &Path) -> u64 {
    ["scimd-log.db", "scimd-log.db-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(dir.join(f)).ok())
        .map(|m| m.len())
        .sum()
}

/// Review item 2: the tenant label came from the URL's slug, so 2,000 requests to random
/// 30 KB slugs grew the server by 180 MB, for good, and `/metrics` to 60 MB. Now only a tenant
/// that exists is a label.
#[test]
fn random_tenant_slugs_do_not_grow_the_metrics_or_the_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path(), free_port());
    let base = server.base.clone();
    let slug_url =
        |base: &str, _: usize| format!("{base}/t/{}/scim/v2/Users", random_segment(20 * 1024));
    // Warm up: the allocator's arenas and Rocket's workers settle before the baseline.
    flood(&server, 400, 4, slug_url);
    metrics(&base);
    let before = status_kb(&server, "VmRSS");

    let started = Instant::now();
    flood(&server, 10_000, 4, slug_url);
    eprintln!("10,000 requests in {:?}", started.elapsed());

    let text = metrics(&base);
    let after = status_kb(&server, "VmRSS");
    eprintln!(
        "VmRSS {before} kB -> {after} kB; /metrics {} bytes",
        text.len()
    );
    assert!(
        text.len() < 1 << 20,
        "/metrics is {} bytes after 10,000 random tenants",
        text.len()
    );
    assert!(
        !text.contains("xxxxxxxxxxxxxxxx"),
        "no slug became a label: {text}"
    );
    assert!(
        after.saturating_sub(before) < 20 * 1024,
        "the server's RSS grew from {before} kB to {after} kB"
    );
}

/// Review item 3: 2,000 unauthenticated requests with a 60 KB query added 192 MB to the log.
/// Now fields are capped and requests without a known token are sampled.
#[test]
fn unauthenticated_requests_with_huge_queries_cost_the_log_little_disk() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path(), free_port());
    let base = server.base.clone();
    log_settled(&base);
    let before = log_files_bytes(dir.path());

    let query = format!("filter={}", random_segment(60 * 1024));
    flood(&server, 1_000, 4, |base, i| {
        format!("{base}/scim/v2/Users?{query}{i}")
    });
    log_settled(&base);

    let grown = log_files_bytes(dir.path()).saturating_sub(before);
    eprintln!("log files grew by {grown} bytes");
    assert!(
        grown < 20 << 20,
        "the log's files grew by {grown} bytes for 1,000 refused requests"
    );
    let health = healthz(&base);
    let log = &health["request_log"];
    assert!(
        log["sampled_out"].as_u64().is_some_and(|n| n > 0),
        "the requests not logged in full are counted: {health}"
    );
    assert!(
        log["disk_bytes"].as_u64().is_some_and(|n| n > 0),
        "the log's disk use is reported: {health}"
    );
    let text = metrics(&base);
    assert!(
        text.contains("scimd_request_log_sampled_out_total"),
        "{text}"
    );
    assert!(text.contains("scimd_request_log_disk_bytes"), "{text}");

    // What was kept is cut, and `scimd log show` says so.
    let shown = scimd(dir.path())
        .args(["log", "show", "1"])
        .output()
        .expect("scimd log show");
    assert!(
        shown.status.success(),
        "{}",
        String::from_utf8_lossy(&shown.stderr)
    );
    let entry: Value = serde_json::from_slice(&shown.stdout).expect("json");
    assert_eq!(
        entry["truncated_fields"],
        serde_json::json!(["query"]),
        "{entry}"
    );
    assert!(entry["query"].as_str().is_some_and(|q| q.len() <= 2048));
    drop(server);
}
