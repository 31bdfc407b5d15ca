//! Password hashing and the admin login limit under a burst (review item 1): argon2 holds about
//! 19 MiB per hash, so the server may only run a few at once, and a burst of wrong sign-ins
//! from one address must be refused, not hashed.

use std::sync::{Arc, Barrier};
use std::time::Duration;

use serde_json::json;

use crate::server::{free_port, start, token};

/// Peak resident memory of a process (`VmHWM`), in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmHWM in /proc/<pid>/status")
}

/// Sends `n` requests at once (one connection each, released together) and returns each
/// status; 0 for a request that got no answer.
fn burst(n: usize, send: impl Fn(usize) -> u16 + Send + Sync + 'static) -> Vec<u16> {
    let gate = Arc::new(Barrier::new(n));
    let send = Arc::new(send);
    let threads: Vec<_> = (0..n)
        .map(|i| {
            let (gate, send) = (gate.clone(), send.clone());
            std::thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn(move || {
                    gate.wait();
                    send(i)
                })
                .expect("thread")
        })
        .collect();
    threads
        .into_iter()
        .map(|t| t.join().expect("join"))
        .collect()
}

fn status_of(res: Result<ureq::Response, ureq::Error>) -> u16 {
    match res {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r.status(),
        Err(_) => 0,
    }
}

#[test]
fn a_login_burst_is_refused_without_hashing_and_memory_stays_bounded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path(), free_port());
    let pid = server.child.id();
    let url = format!("{}/api/session", server.base);
    let statuses = burst(500, move |i| {
        let body = json!({"username": "admin", "password": format!("guess-{i}")});
        status_of(
            ureq::post(&url)
                .timeout(Duration::from_secs(60))
                .set("Content-Type", "application/json")
                .send_string(&body.to_string()),
        )
    });
    let refused = statuses.iter().filter(|s| matches!(s, 429 | 503)).count();
    let wrong = statuses.iter().filter(|s| **s == 401).count();
    assert_eq!(refused + wrong, 500, "every attempt answered: {statuses:?}");
    assert!(refused >= 475, "{refused} of 500 refused, {wrong} checked");
    let peak_mib = peak_rss_kib(pid) / 1024;
    assert!(peak_mib < 200, "peak RSS {peak_mib} MiB during the burst");
}

/// SCIM `password` writes by a token holder go through the same bounded hashing: a burst of
/// creates with passwords is answered (201, or 503 with Retry-After) with bounded memory, and
/// an over-long password is refused by name before any hashing.
#[test]
fn a_burst_of_scim_password_writes_stays_bounded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path(), free_port());
    let pid = server.child.id();
    let bearer = format!("Bearer {}", token(dir.path()));
    let url = format!("{}/scim/v2/Users", server.base);
    let long = ureq::post(&url)
        .set("Authorization", &bearer)
        .set("Content-Type", "application/scim+json")
        .send_string(&json!({"userName": "long", "password": "x".repeat(300)}).to_string());
    let Err(ureq::Error::Status(400, r)) = long else {
        panic!("an over-long password is a 400: {long:?}");
    };
    let detail = r.into_string().expect("body");
    assert!(detail.contains("limits.max_password_bytes"), "{detail}");

    let statuses = burst(200, move |i| {
        let body = json!({"userName": format!("burst{i}@example.com"), "password": format!("Pa55-{i}-secret")});
        let res = ureq::post(&url)
            .timeout(Duration::from_secs(60))
            .set("Authorization", &bearer)
            .set("Content-Type", "application/scim+json")
            .send_string(&body.to_string());
        if let Err(ureq::Error::Status(503, r)) = &res {
            assert!(r.header("Retry-After").is_some(), "503 without Retry-After");
        }
        status_of(res)
    });
    assert!(
        statuses.iter().all(|s| matches!(s, 201 | 503)),
        "{statuses:?}"
    );
    assert!(statuses.contains(&201), "some creates got through");
    let peak_mib = peak_rss_kib(pid) / 1024;
    assert!(peak_mib < 200, "peak RSS {peak_mib} MiB during the burst");
}
