//! What the systemd unit and the container image rely on (issue 9 §5, §7): SIGTERM stops
//! scimd gracefully with every acknowledged write kept and the database closed cleanly, and
//! `scimd health` (the image's HEALTHCHECK) tells a healthy server from everything else.

use std::io::{Read, Write};
use std::net::TcpListener;

use rusqlite::Connection;

use crate::server::{create_load, free_port, scimd, start, token, user_exists, wait_for_acks};

#[test]
fn sigterm_under_load_keeps_every_acknowledged_write() {
    let dir = tempfile::tempdir().expect("tempdir");
    let token = token(dir.path());
    let mut server = start(dir.path(), free_port());
    let (acked, workers) = create_load(&server.base, &token, "term.test");
    wait_for_acks(&acked, 40);
    let status = server.terminate();
    for w in workers {
        w.join().expect("worker");
    }
    // Exit code 0 means the graceful path ran to its end rather than the signal killing it.
    assert!(status.success(), "scimd exited with {status} on SIGTERM");
    let acked = acked.lock().expect("lock").clone();
    assert!(acked.len() >= 40, "load did not get going: {}", acked.len());

    // Every connection was closed: the last one to close checkpoints the WAL into the
    // database and removes it, and the file passes SQLite's own integrity check.
    let db = dir.path().join("scimd.db");
    assert!(
        !dir.path().join("scimd.db-wal").exists(),
        "the WAL is still there: some connection was not closed"
    );
    let conn = Connection::open(&db).expect("open");
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity_check");
    assert_eq!(check, "ok");
    drop(conn);

    let server = start(dir.path(), free_port());
    for id in &acked {
        assert!(
            user_exists(&server.base, &token, id),
            "acknowledged user {id} is missing after SIGTERM"
        );
    }
}

#[test]
fn health_is_zero_only_for_a_healthy_scimd() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    // The container listens on 0.0.0.0; the probe must then dial loopback.
    let mut cmd = scimd(dir.path());
    cmd.arg("serve")
        .env("SCIMD_ADDRESS", "0.0.0.0")
        .env("SCIMD_PORT", port.to_string());
    let base = format!("http://127.0.0.1:{port}");
    let probe = {
        let base = base.clone();
        move || ureq::get(&format!("{base}/healthz")).call().is_ok()
    };
    let mut server = crate::server::spawn(cmd, base, probe);
    let health = |port: u16| {
        scimd(dir.path())
            .arg("health")
            .env("SCIMD_ADDRESS", "0.0.0.0")
            .env("SCIMD_PORT", port.to_string())
            .output()
            .expect("health")
    };
    let out = health(port);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("healthy"));

    assert!(server.terminate().success());
    let out = health(port);
    assert!(!out.status.success(), "nothing listens any more");
    assert!(String::from_utf8_lossy(&out.stderr).contains("unhealthy"));

    // Something that answers, but not 200, is unhealthy too.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let other = listener.local_addr().expect("addr").port();
    let responder = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().expect("accept");
        let mut buf = [0u8; 1024];
        let _ = s.read(&mut buf);
        s.write_all(
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        )
        .expect("write");
    });
    let out = health(other);
    responder.join().expect("responder");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("503"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Issue 19 item 13: the unit bounds descriptors, tasks and memory, with room for
/// `limits.max_connections` connections, and `systemd-analyze security` (where installed, as
/// in CI) keeps the exposure at 1.2 or better.
#[test]
fn the_unit_bounds_files_tasks_and_memory() {
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/packaging/scimd.service"
    ))
    .expect("unit");
    let setting = |key: &str| {
        unit.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .unwrap_or_else(|| panic!("{key} is not set in packaging/scimd.service"))
            .trim()
            .to_owned()
    };
    let nofile: u64 = setting("LimitNOFILE")
        .parse()
        .expect("LimitNOFILE is a number");
    let connections = u64::from(scimd::config::Limits::default().max_connections);
    assert!(
        nofile >= 2 * connections,
        "LimitNOFILE={nofile} leaves too little room for {connections} connections plus the databases"
    );
    let tasks: u64 = setting("TasksMax").parse().expect("TasksMax is a number");
    // Rocket's blocking pool alone may hold 512 threads.
    assert!((600..=4096).contains(&tasks), "TasksMax={tasks}");
    let memory = setting("MemoryMax");
    assert!(
        memory.ends_with('G') || memory.ends_with('M'),
        "MemoryMax={memory} is an absolute size"
    );

    let Ok(out) = std::process::Command::new("systemd-analyze")
        .args(["security", "--offline=true"])
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/packaging/scimd.service"
        ))
        .output()
    else {
        eprintln!("systemd-analyze is not installed; packaging/ci-check.sh checks the score in CI");
        return;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let score: f64 = text
        .lines()
        .find_map(|l| l.split("Overall exposure level for scimd.service: ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no score in: {text}"));
    assert!(
        score <= 1.2,
        "exposure {score} > 1.2: the unit lost hardening"
    );
}
