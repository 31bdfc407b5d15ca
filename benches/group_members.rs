//! Benchmark (not a test): a group of 50,000 members through the service layer. Reports the
//! cost of adding one member at 50,000 members versus at 10 (it must stay O(change), not
//! O(group)), GET with excludedAttributes=members, a full GET, removing one member, and the
//! process RSS while the full group is rendered.
//! Run: `cargo bench --bench group_members` (SCIMD_BENCH_MEMBERS overrides the group size).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use scimd::scim::projection::Projection;
use scimd::scim::resource::WriteLimits;
use scimd::scim::schema::{GROUP, TypeRef};
use scimd::service::Scope;
use scimd::service::resources;
use scimd::store::Store;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let members: usize = std::env::var("SCIMD_BENCH_MEMBERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&dir.path().join("bench.db")).expect("store");
    let scope = Scope {
        tenant_id: 1,
        tenant_slug: "default".into(),
        base_url: "http://localhost/scim/v2".into(),
        actor: None,
        history_value_cap: scimd::config::HistoryConfig::default().max_value_bytes,
        strict: false,
        interop_profile: false,
        accept_password: true,
        schemas: scimd::scim::schema::Registry::core(),
        ephemeral: false,
    };
    let now = "2026-01-01T00:00:00.000Z";
    // Users are seeded straight into the store; the groups go through the service.
    let user_ids: Vec<String> = store
        .write_blocking(move |tx| {
            scimd::store::tenants::ensure_default(tx, now)?;
            let mut ids = Vec::with_capacity(members + 200);
            for i in 0..members + 200 {
                let id = uuid::Uuid::new_v4().to_string();
                let doc = json!({"userName": format!("member{i}@example.com"), "displayName": format!("Member {i}")});
                scimd::store::resources::insert(tx, 1, "User", &id, doc.as_object().expect("object"), None, now)?;
                ids.push(id);
            }
            Ok(ids)
        })
        .expect("seed users");
    let runtime = rocket::tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let none = Projection::default();
    let limits = WriteLimits::default();
    let patch = |group: &str, op: &str, id: &str| {
        let body = if op == "add" {
            json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":id}]}]})
        } else {
            json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":format!("members[value eq \"{id}\"]")}]})
        };
        let started = Instant::now();
        runtime
            .block_on(resources::patch(
                &store,
                &TypeRef::Core(&GROUP),
                &scope,
                group,
                body,
                None,
                &none,
                &limits,
                &mut scimd::scim::quirks::Quirks::default(),
            ))
            .expect("patch");
        started.elapsed()
    };
    let create = |name: &str, ids: &[String]| -> String {
        let refs: Vec<Value> = ids.iter().map(|id| json!({"value": id})).collect();
        let body = json!({"displayName": name, "members": refs});
        let r = runtime
            .block_on(resources::create(
                &store,
                &TypeRef::Core(&GROUP),
                &scope,
                body,
                &none,
                &limits,
                &mut scimd::scim::quirks::Quirks::default(),
            ))
            .expect("create");
        r.body.into_value().expect("JSON")["id"]
            .as_str()
            .expect("id")
            .to_owned()
    };
    let started = Instant::now();
    let big = create("big", &user_ids[..members]);
    let create_big = started.elapsed();
    let small = create("small", &user_ids[..10]);
    let spare = &user_ids[members..];
    let samples = 50;
    let add_small = median(
        (0..samples)
            .map(|i| patch(&small, "add", &spare[i]))
            .collect(),
    );
    let add_big = median(
        (0..samples)
            .map(|i| patch(&big, "add", &spare[i]))
            .collect(),
    );
    let remove_big = median(
        (0..samples)
            .map(|i| patch(&big, "remove", &spare[i]))
            .collect(),
    );
    let excluded = Projection::parse(None, Some("members")).expect("projection");
    let get_excluded = median(
        (0..samples)
            .map(|_| {
                let t = Instant::now();
                runtime
                    .block_on(resources::get(
                        &store,
                        &TypeRef::Core(&GROUP),
                        &scope,
                        &big,
                        &excluded,
                    ))
                    .expect("get");
                t.elapsed()
            })
            .collect(),
    );
    let rss_before = rss_kib();
    let mut full_len = 0;
    let get_full = median(
        (0..5)
            .map(|_| {
                let t = Instant::now();
                let r = runtime
                    .block_on(resources::get(
                        &store,
                        &TypeRef::Core(&GROUP),
                        &scope,
                        &big,
                        &none,
                    ))
                    .expect("get");
                full_len = r.body.into_bytes().expect("json").len();
                t.elapsed()
            })
            .collect(),
    );
    let rss_after = rss_kib();
    println!("group of {members} members (created with its members in {create_big:.1?})");
    println!(
        "  PATCH add one member   at 10: {add_small:.3?}   at {members}: {add_big:.3?}   ratio {:.2}",
        add_big.as_secs_f64() / add_small.as_secs_f64()
    );
    println!("  PATCH remove one member at {members}: {remove_big:.3?}");
    println!("  GET excludedAttributes=members: {get_excluded:.3?}");
    println!("  GET full group ({full_len} bytes): {get_full:.1?}");
    println!(
        "  RSS before full GETs {} MiB, after {} MiB",
        rss_before / 1024,
        rss_after / 1024
    );
}
