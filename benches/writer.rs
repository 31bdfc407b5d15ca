//! Benchmark (not a test) of review item 5: the worst PATCH the default limits allow, sent over
//! and over to one user, while another tenant creates users. Reports how long each write held
//! the writer (`Store::writer_hold_times`, shown in /metrics as `scimd_writer_hold_seconds`;
//! target p99 ≤ 50 ms) and the other tenant's POST latency, alone and meanwhile. In process,
//! through the service layer (no HTTP). Run: `cargo bench --bench writer`
//! (`SCIMD_BENCH_SECONDS`, default 10, is the length of each phase; `SCIMD_BENCH_PATCHERS`,
//! default 2, how many clients send the PATCH, all to the same user).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use scimd::scim::projection::Projection;
use scimd::scim::resource::WriteLimits;
use scimd::scim::schema::{TypeRef, USER};
use scimd::service::resources;
use scimd::service::{Scope, tenants};
use scimd::store::{HOLD_BUCKETS, HoldSnapshot, Store};

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

fn scope(tenant_id: i64, slug: &str) -> Scope {
    Scope {
        tenant_id,
        tenant_slug: slug.into(),
        base_url: format!("http://localhost/t/{slug}/scim/v2"),
        actor: None,
        history_value_cap: scimd::config::HistoryConfig::default().max_value_bytes,
        strict: false,
        interop_profile: false,
        accept_password: true,
        schemas: scimd::scim::schema::Registry::core(),
        ephemeral: false,
    }
}

/// `max_patch_operations` operations on a user holding `max_multi_values` emails: every one
/// selects an element by filter (the review's shape); with `primary`, each also moves the
/// primary flag, the costliest thing an operation can do to a multi-valued attribute.
fn worst_patch(limits: &WriteLimits, round: usize, primary: bool) -> Value {
    let ops: Vec<Value> = (0..limits.max_patch_operations)
        .map(|i| {
            let email = format!("e{}@example.com", i % limits.max_multi_values);
            if primary {
                json!({"op": "replace", "path": format!("emails[value eq \"{email}\"].primary"), "value": true})
            } else {
                json!({"op": "replace", "path": format!("emails[value eq \"{email}\"].type"), "value": format!("t{round}")})
            }
        })
        .collect();
    json!({"schemas": [PATCH_OP], "Operations": ops})
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let i = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn describe(label: &str, mut v: Vec<Duration>) {
    v.sort();
    println!(
        "{label:<34} n={:<6} p50 {:>8.2?}  p99 {:>8.2?}  max {:>8.2?}",
        v.len(),
        percentile(&v, 0.5),
        percentile(&v, 0.99),
        v.last().copied().unwrap_or_default()
    );
}

fn ms(bound: Option<f64>) -> String {
    bound.map_or_else(|| "> 10 s".to_owned(), |b| format!("≤ {} ms", b * 1000.0))
}

fn print_hold(label: &str, h: &HoldSnapshot) {
    #[allow(clippy::cast_precision_loss)]
    let mean = if h.count == 0 {
        0.0
    } else {
        h.sum_seconds / h.count as f64 * 1000.0
    };
    println!(
        "{label:<34} n={:<6} p50 {}  p99 {}  mean {mean:.2} ms",
        h.count,
        ms(h.quantile_bound(0.5)),
        ms(h.quantile_bound(0.99)),
    );
    let mut previous = 0;
    let mut row = Vec::new();
    for (n, bound) in h.cumulative.iter().zip(HOLD_BUCKETS) {
        if *n > previous {
            row.push(format!("≤{}ms: {}", bound * 1000.0, n - previous));
        }
        previous = *n;
    }
    if h.cumulative.last().copied().unwrap_or(0) > previous {
        row.push(format!(
            ">10s: {}",
            h.cumulative.last().copied().unwrap_or(0) - previous
        ));
    }
    println!("{:<34} {}", "", row.join("  "));
}

fn main() {
    let seconds: u64 = std::env::var("SCIMD_BENCH_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let phase = Duration::from_secs(seconds);
    let patchers: usize = std::env::var("SCIMD_BENCH_PATCHERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    let limits = WriteLimits::default();
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&dir.path().join("bench.db")).expect("store");
    store
        .write_blocking(|tx| {
            scimd::store::tenants::ensure_default(tx, "2026-01-01T00:00:00.000Z").map(|_| ())
        })
        .expect("default tenant");
    let other = tenants::create(&store, "other", None).expect("tenant");
    let (busy, quiet) = (scope(1, "default"), scope(other.id, "other"));
    let runtime = rocket::tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let none = Projection::default();
    let emails: Vec<Value> = (0..limits.max_multi_values)
        .map(|i| json!({"value": format!("e{i}@example.com"), "type": "work"}))
        .collect();
    let user = runtime
        .block_on(resources::create(
            &store,
            &TypeRef::Core(&USER),
            &busy,
            json!({"userName": "bulky@example.com", "emails": emails}),
            &none,
            &limits,
            &mut scimd::scim::quirks::Quirks::default(),
        ))
        .expect("user");
    let user = user.body.into_value().expect("JSON");
    let id = user["id"].as_str().expect("id").to_owned();
    let body = worst_patch(&limits, 0, false);
    println!(
        "worst PATCH: {} operations, {} KiB, on a user with {} emails; phases of {seconds} s",
        limits.max_patch_operations,
        body.to_string().len() / 1024,
        limits.max_multi_values
    );

    // The other tenant's creates, alone and then beside two clients sending the worst PATCH.
    let creates = |tag: &'static str| {
        let (store, quiet) = (store.clone(), quiet.clone());
        async move {
            let mut latencies = Vec::new();
            let started = Instant::now();
            let mut i = 0;
            while started.elapsed() < phase {
                let t = Instant::now();
                resources::create(
                    &store,
                    &TypeRef::Core(&USER),
                    &quiet,
                    json!({"userName": format!("{tag}{i}@other.example")}),
                    &Projection::default(),
                    &WriteLimits::default(),
                    &mut scimd::scim::quirks::Quirks::default(),
                )
                .await
                .expect("create");
                latencies.push(t.elapsed());
                i += 1;
            }
            latencies
        }
    };
    let before = store.writer_hold_times();
    let alone = runtime.block_on(creates("alone"));
    let holds_alone = store.writer_hold_times().since(&before);

    let before = store.writer_hold_times();
    let (during, patches) = runtime.block_on(async {
        let patchers: Vec<_> = (0..patchers)
            .map(|worker| {
                let (store, busy, id) = (store.clone(), busy.clone(), id.clone());
                rocket::tokio::spawn(async move {
                    let mut latencies = Vec::new();
                    let started = Instant::now();
                    let mut round = 0;
                    while started.elapsed() < phase {
                        let body = worst_patch(&limits, round, (round + worker) % 2 == 1);
                        let t = Instant::now();
                        resources::patch(
                            &store,
                            &TypeRef::Core(&USER),
                            &busy,
                            &id,
                            body,
                            None,
                            &Projection::default(),
                            &limits,
                            &mut scimd::scim::quirks::Quirks::default(),
                        )
                        .await
                        .expect("patch");
                        latencies.push(t.elapsed());
                        round += 1;
                    }
                    latencies
                })
            })
            .collect();
        let during = creates("during").await;
        let mut patches = Vec::new();
        for p in patchers {
            patches.extend(p.await.expect("patcher"));
        }
        (during, patches)
    });
    let holds_during = store.writer_hold_times().since(&before);

    describe("POST other tenant, alone", alone);
    describe("POST other tenant, during PATCHes", during);
    describe("worst PATCH (answer)", patches);
    print_hold("writer hold, POSTs alone", &holds_alone);
    print_hold("writer hold, during PATCHes", &holds_during);
    let p99 = holds_during.quantile_bound(0.99);
    println!(
        "writer hold p99 during PATCHes {} (target ≤ 50 ms): {}",
        ms(p99),
        if p99.is_some_and(|b| b <= 0.05) {
            "met"
        } else {
            "NOT met"
        }
    );
}
