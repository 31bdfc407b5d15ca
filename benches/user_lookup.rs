//! Benchmark (not a test): `userName eq` lookups through the service layer on a store of
//! 100,000 users, the query every IdP makes before each create. Reports p50/p99/max latency.
//! Run: `cargo bench --bench user_lookup` (SCIMD_BENCH_USERS overrides the user count).

use std::time::{Duration, Instant};

use serde_json::json;

use scimd::scim::list::RawListParams;
use scimd::scim::schema::{TypeRef, USER};
use scimd::service::Scope;
use scimd::service::resources;
use scimd::store::Store;

fn main() {
    let users: usize = std::env::var("SCIMD_BENCH_USERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&dir.path().join("bench.db")).expect("store");
    let seed_start = Instant::now();
    store
        .write_blocking(move |tx| {
            scimd::store::tenants::ensure_default(tx, "2026-01-01T00:00:00.000Z")?;
            for i in 0..users {
                let doc = json!({"userName": format!("user{i}@example.com"), "externalId": format!("ext{i}"),
                    "name": {"givenName": "Given", "familyName": format!("Family{i}")},
                    "emails": [{"value": format!("user{i}@example.com"), "type": "work", "primary": true}],
                    "active": true});
                let doc = doc.as_object().cloned().expect("object");
                scimd::store::resources::insert(tx, 1, "User", &uuid::Uuid::new_v4().to_string(), &doc, None, "2026-01-01T00:00:00.000Z")?;
            }
            Ok(())
        })
        .expect("seed");
    eprintln!("seeded {users} users in {:.1?}", seed_start.elapsed());
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
    let runtime = rocket::tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let lookups = 5_000;
    let mut samples: Vec<Duration> = Vec::with_capacity(lookups);
    runtime.block_on(async {
        for i in 0..lookups {
            // Okta's exact pre-check, with a mixed-case value to exercise case folding.
            let n = (i * 7919) % users;
            let params = RawListParams {
                filter: Some(format!("userName eq \"User{n}@Example.com\"")),
                start_index: Some("1".into()),
                count: Some("100".into()),
                ..RawListParams::default()
            };
            let started = Instant::now();
            let query = params.parse(1000).expect("query");
            let page = resources::list(
                &store,
                &TypeRef::Core(&USER),
                &scope,
                query,
                &mut scimd::scim::quirks::Quirks::default(),
            )
            .await
            .expect("list");
            samples.push(started.elapsed());
            let page = page.into_value().expect("JSON");
            assert_eq!(page["totalResults"], json!(1));
        }
    });
    samples.sort();
    let pct = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)];
    println!(
        "userName eq at {users} users: {lookups} lookups, p50 {:.3?}, p99 {:.3?}, max {:.3?}",
        pct(0.50),
        pct(0.99),
        samples[samples.len() - 1]
    );
}
