//! The durable-write ceiling of this machine for benches/run.sh: plain rusqlite, one row per
//! `BEGIN IMMEDIATE … COMMIT`, with scimd's pragmas (WAL, `synchronous=FULL`, foreign keys) and
//! a row shaped like a stored user (indexed name key, ~400-byte JSON document). scimd's
//! creates are divided by this number: no server can acknowledge more durable single-row
//! commits per second than this loop on the same disk.
//! Run: `raw_insert [SECONDS] [JSON_OUT]`; `cargo bench --bench raw_insert` runs 5 seconds.

use std::time::{Duration, Instant};

use rusqlite::{Connection, TransactionBehavior, params};

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let seconds: u64 = args.first().and_then(|s| s.parse().ok()).unwrap_or(5);
    let dir = tempfile::tempdir_in(std::env::var("BENCH_TMP").unwrap_or_else(|_| ".".into()))
        .expect("tempdir");
    let mut conn = Connection::open(dir.path().join("raw.db")).expect("open");
    conn.busy_timeout(Duration::from_secs(10)).expect("busy");
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;
         CREATE TABLE t (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, name_key TEXT NOT NULL, doc TEXT NOT NULL);
         CREATE UNIQUE INDEX t_name ON t (name_key);",
    )
    .expect("schema");
    let doc = format!(
        "{{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],\"name\":{{\"givenName\":\"Given\",\"familyName\":\"Family\"}},\"emails\":[{{\"value\":\"someone@example.com\",\"type\":\"work\",\"primary\":true}}],\"active\":true,\"pad\":\"{}\"}}",
        "x".repeat(200)
    );
    let mut latencies = Vec::new();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let mut i: u64 = 0;
    while Instant::now() < deadline {
        let t = Instant::now();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .expect("begin");
        tx.execute(
            "INSERT INTO t (id, name_key, doc) VALUES (?1, ?2, ?3)",
            params![
                uuid::Uuid::new_v4().to_string(),
                format!("user{i}@example.com"),
                doc
            ],
        )
        .expect("insert");
        tx.commit().expect("commit");
        latencies.push(t.elapsed());
        i += 1;
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    let pct = |p: f64| {
        let idx = ((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1));
        latencies.get(idx).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    let rps = i as f64 / elapsed;
    let json = format!(
        "{{\"name\":\"raw durable insert\",\"requests\":{i},\"seconds\":{elapsed:.2},\"rps\":{rps:.1},\"p50_ms\":{:.3},\"p99_ms\":{:.3},\"errors\":0}}",
        pct(0.50),
        pct(0.99)
    );
    match args.get(1) {
        Some(path) => std::fs::write(path, &json).expect("write result"),
        None => println!("{json}"),
    }
}
