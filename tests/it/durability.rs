//! Durability and concurrency against the real binary: an acknowledged write survives SIGKILL,
//! and concurrent creates of one userName produce exactly one 201.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::{TestApp, okta_user};

struct Server {
    child: Child,
    base: String,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

fn start(dir: &std::path::Path, port: u16) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_scimd"))
        .arg("serve")
        .current_dir(dir)
        .env("SCIMD_PORT", port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn scimd");
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if ureq::get(&format!("{base}/healthz")).call().is_ok() {
            return Server { child, base };
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("scimd did not start");
}

fn token(dir: &std::path::Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_scimd"))
        .args(["token", "create", "--name", "load"])
        .current_dir(dir)
        .output()
        .expect("token");
    String::from_utf8(out.stdout)
        .expect("utf8")
        .trim()
        .to_owned()
}

#[test]
fn acknowledged_creates_survive_sigkill() {
    let dir = tempfile::tempdir().expect("tempdir");
    let token = token(dir.path());
    let port = free_port();
    let mut server = start(dir.path(), port);
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let (acked, base, token) = (acked.clone(), server.base.clone(), token.clone());
            std::thread::spawn(move || {
                for i in 0..10_000 {
                    let body = okta_user(&format!("w{w}-{i}@kill.test")).to_string();
                    let res = ureq::post(&format!("{base}/scim/v2/Users"))
                        .set("Authorization", &format!("Bearer {token}"))
                        .set("Content-Type", "application/scim+json")
                        .timeout(Duration::from_secs(5))
                        .send_string(&body);
                    match res {
                        Ok(r) if r.status() == 201 => {
                            let v: serde_json::Value =
                                serde_json::from_str(&r.into_string().expect("body"))
                                    .expect("json");
                            acked
                                .lock()
                                .expect("lock")
                                .push(v["id"].as_str().expect("id").to_owned());
                        }
                        _ => return,
                    }
                }
            })
        })
        .collect();
    // Let writes flow, then kill without warning.
    let deadline = Instant::now() + Duration::from_secs(10);
    while acked.lock().expect("lock").len() < 40 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    server.child.kill().expect("SIGKILL");
    server.child.wait().expect("wait");
    for w in workers {
        w.join().expect("worker");
    }
    let acked = acked.lock().expect("lock").clone();
    assert!(
        acked.len() >= 40,
        "load did not get going: {} creates",
        acked.len()
    );
    let mut server = start(dir.path(), free_port());
    for id in &acked {
        let r = ureq::get(&format!("{}/scim/v2/Users/{id}", server.base))
            .set("Authorization", &format!("Bearer {token}"))
            .call();
        assert!(
            r.is_ok_and(|r| r.status() == 200),
            "acknowledged user {id} is missing after SIGKILL"
        );
    }
    server.child.kill().expect("kill");
    let _ = server.child.wait();
}

#[rocket::async_test]
async fn fifty_concurrent_creates_of_one_user_name_make_one_user() {
    let app = TestApp::new().await;
    let requests = (0..50).map(|i| {
        let name = if i % 2 == 0 {
            "race@x.test"
        } else {
            "RACE@X.TEST"
        };
        app.post("/scim/v2/Users", okta_user(name))
    });
    let replies = rocket::futures::future::join_all(requests).await;
    let created = replies.iter().filter(|r| r.status == 201).count();
    let conflicts = replies
        .iter()
        .filter(|r| r.status == 409 && r.body["scimType"] == json!("uniqueness"))
        .count();
    assert_eq!(
        (created, conflicts),
        (1, 49),
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert_eq!(app.sql_int("SELECT COUNT(*) FROM resources"), 1);
}
