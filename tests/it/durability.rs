//! Durability and concurrency against the real binary: an acknowledged write survives SIGKILL,
//! and concurrent creates of one userName produce exactly one 201.

use serde_json::json;

use crate::common::{TestApp, okta_user};
use crate::server::{create_load, free_port, start, token, user_exists, wait_for_acks};

#[test]
fn acknowledged_creates_survive_sigkill() {
    let dir = tempfile::tempdir().expect("tempdir");
    let token = token(dir.path());
    let port = free_port();
    let mut server = start(dir.path(), port);
    let (acked, workers) = create_load(&server.base, &token, "kill.test");
    // Let writes flow, then kill without warning.
    wait_for_acks(&acked, 40);
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
    let server = start(dir.path(), free_port());
    for id in &acked {
        assert!(
            user_exists(&server.base, &token, id),
            "acknowledged user {id} is missing after SIGKILL"
        );
    }
}

/// Issue 22: under concurrent writes killed with SIGKILL, every acknowledged create has its
/// event, every event its user (no event without its change, no change without its event), and
/// the sequence has no gap.
#[test]
fn events_survive_sigkill_with_their_changes_and_no_gap() {
    let dir = tempfile::tempdir().expect("tempdir");
    let token = token(dir.path());
    let reader = crate::server::events_token(dir.path());
    let mut server = start(dir.path(), free_port());
    let (acked, workers) = create_load(&server.base, &token, "events.test");
    wait_for_acks(&acked, 40);
    server.child.kill().expect("SIGKILL");
    server.child.wait().expect("wait");
    for w in workers {
        w.join().expect("worker");
    }
    let acked = acked.lock().expect("lock").clone();
    let server = start(dir.path(), free_port());
    let (mut after, mut created) = (0i64, Vec::new());
    loop {
        let page: serde_json::Value =
            ureq::get(&format!("{}/events?after={after}&limit=1000", server.base))
                .set("Authorization", &format!("Bearer {reader}"))
                .call()
                .expect("feed")
                .into_string()
                .ok()
                .and_then(|s| serde_json::from_str(&s).ok())
                .expect("json");
        for e in page["events"].as_array().expect("events") {
            assert_eq!(e["seq"].as_i64(), Some(after + 1), "gap-free: {e}");
            after += 1;
            assert_eq!(e["type"], json!("user.created"));
            created.push(e["resource"]["id"].as_str().expect("id").to_owned());
        }
        if page["has_more"] != json!(true) {
            break;
        }
    }
    for id in &acked {
        assert!(created.contains(id), "acknowledged user {id} has no event");
    }
    for id in &created {
        assert!(
            user_exists(&server.base, &token, id),
            "event for user {id}, who does not exist"
        );
    }
    let listed: serde_json::Value = ureq::get(&format!("{}/scim/v2/Users?count=1", server.base))
        .set("Authorization", &format!("Bearer {token}"))
        .call()
        .expect("list")
        .into_string()
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .expect("json");
    assert_eq!(
        listed["totalResults"].as_u64(),
        Some(created.len() as u64),
        "one event per user"
    );
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

/// Thirty-two IdP workers adding different members to one group at once (Okta and Entra
/// push group assignments in parallel): every request succeeds and no addition is lost.
#[rocket::async_test]
async fn concurrent_member_additions_to_one_group_all_land() {
    let app = TestApp::new().await;
    let group = app.create_group("Engineering").await;
    let mut users = Vec::new();
    for i in 0..32 {
        users.push(app.create_user(&format!("worker{i}@x.test")).await);
    }
    let path = format!("/scim/v2/Groups/{group}");
    let requests = users.iter().map(|user| {
        app.patch(
            &path,
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "add", "path": "members", "value": [{"value": user}]}]
            }),
        )
    });
    let replies = rocket::futures::future::join_all(requests).await;
    let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    assert!(statuses.iter().all(|s| *s == 204), "{statuses:?}");
    assert_eq!(app.sql_int("SELECT COUNT(*) FROM group_members"), 32);
    let version = app.get(&path).await.ok().pointer("/meta/version").cloned();
    assert_eq!(version, Some(json!("W/\"33\"")), "one version per change");
}

/// A long poll of the events feed does not hold up a shutdown: on SIGTERM it returns at once
/// with no events and its own cursor, and scimd exits cleanly.
#[test]
fn a_long_poll_ends_when_the_server_stops() {
    let dir = tempfile::tempdir().expect("tempdir");
    let reader = crate::server::events_token(dir.path());
    let mut server = start(dir.path(), free_port());
    let url = format!("{}/events?after=0&wait=30", server.base);
    let poll = std::thread::spawn(move || {
        let started = std::time::Instant::now();
        let body = ureq::get(&url)
            .set("Authorization", &format!("Bearer {reader}"))
            .call()
            .ok()
            .and_then(|r| r.into_string().ok());
        (body, started.elapsed())
    });
    // The poll is waiting once the server has answered something after it was sent.
    std::thread::sleep(std::time::Duration::from_millis(500));
    let status = server.terminate();
    assert!(status.success(), "{status}");
    let (body, waited) = poll.join().expect("poll");
    assert!(
        waited < std::time::Duration::from_secs(25),
        "the poll ran its full wait ({waited:?}) instead of ending with the server"
    );
    if let Some(body) = body {
        assert_eq!(body, r#"{"events":[],"next_after":0,"has_more":false}"#);
    }
}
