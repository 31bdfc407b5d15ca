//! Benchmark (not a test) of the pure protocol functions every request runs: parsing a filter,
//! parsing a PATCH path, and applying a PatchOp to a user. No I/O, so the numbers are the
//! CPU cost scimd adds on top of HTTP and SQLite. Run: `cargo bench --bench pure`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use serde_json::json;

use scimd::scim::filter::parse_filter;
use scimd::scim::patch::{apply_patch, parse_patch};
use scimd::scim::path::parse_path;
use scimd::scim::resource::WriteLimits;
use scimd::scim::schema::USER;

/// Runs `f` for about a second and returns the mean time per call.
fn time(mut f: impl FnMut()) -> Duration {
    let started = Instant::now();
    let mut n: u32 = 0;
    while started.elapsed() < Duration::from_secs(1) {
        for _ in 0..100 {
            f();
        }
        n += 100;
    }
    started.elapsed() / n
}

fn main() {
    let okta = "userName eq \"test.user@okta.local\"";
    let complex = "userType eq \"Employee\" and (emails[type eq \"work\" and value co \"@example.com\"] or not (title pr)) and meta.lastModified gt \"2011-05-13T04:42:34Z\"";
    let path = "emails[type eq \"work\"].value";
    let user = json!({"userName":"bjensen","name":{"givenName":"Barbara","familyName":"Jensen"},"active":true,
        "emails":[{"value":"bjensen@example.com","type":"work","primary":true},{"value":"babs@jensen.org","type":"home"}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"701984","manager":{"value":"m1"}}});
    let doc = user.as_object().cloned().expect("object");
    let entra = json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
        {"op":"Replace","path":"emails[type eq \"work\"].value","value":"new@example.com"},
        {"op":"Replace","path":"name.familyName","value":"Updated"},
        {"op":"Replace","path":"active","value":"False"},
        {"op":"replace","value":{"displayName":"B","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"7"}}]});
    let limits = WriteLimits::default();
    let ops =
        parse_patch(&entra, &limits, &mut scimd::scim::quirks::Quirks::default()).expect("patch");
    println!(
        "parse filter (Okta pre-check)      {:>9.2?}",
        time(|| {
            black_box(parse_filter(black_box(okta)).expect("filter"));
        })
    );
    println!(
        "parse filter (nested RFC example)  {:>9.2?}",
        time(|| {
            black_box(parse_filter(black_box(complex)).expect("filter"));
        })
    );
    println!(
        "parse PATCH path                   {:>9.2?}",
        time(|| {
            black_box(parse_path(black_box(path)).expect("path"));
        })
    );
    println!(
        "parse PatchOp body (4 ops)         {:>9.2?}",
        time(|| {
            black_box(
                parse_patch(
                    black_box(&entra),
                    &limits,
                    &mut scimd::scim::quirks::Quirks::default(),
                )
                .expect("patch"),
            );
        })
    );
    println!(
        "apply PatchOp to a user (4 ops)    {:>9.2?}",
        time(|| {
            black_box(
                apply_patch(
                    &USER,
                    "id",
                    black_box(&doc),
                    &ops,
                    &limits,
                    &mut scimd::scim::quirks::Quirks::default(),
                )
                .expect("apply"),
            );
        })
    );
    // Review item 5: n `replace emails[value eq "eN"].type` on a user with n emails (6,000 took
    // 13.5 s before), then the same moving the primary flag each time (each may demote another).
    // Linear cost shows as a flat time per operation as n grows; the limits are raised to n so
    // the engine, not the limit, answers.
    for n in [1_000, 2_000, 4_000, 6_000, 12_000] {
        let limits = WriteLimits {
            max_patch_operations: n,
            max_multi_values: n,
        };
        let emails: Vec<_> = (0..n)
            .map(|i| json!({"value": format!("e{i}@example.com"), "type": "work"}))
            .collect();
        let doc = json!({"userName": "bulky", "emails": emails});
        let doc = doc.as_object().cloned().expect("object");
        for (sub, value) in [("type", json!("home")), ("primary", json!(true))] {
            let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": (0..n).map(|i| json!({"op": "replace",
                    "path": format!("emails[value eq \"e{i}@example.com\"].{sub}"), "value": value}))
                    .collect::<Vec<_>>()});
            let started = Instant::now();
            let ops = parse_patch(&body, &limits, &mut scimd::scim::quirks::Quirks::default())
                .expect("patch");
            let parsed = started.elapsed();
            let started = Instant::now();
            black_box(
                apply_patch(
                    &USER,
                    "id",
                    &doc,
                    &ops,
                    &limits,
                    &mut scimd::scim::quirks::Quirks::default(),
                )
                .expect("apply"),
            );
            let applied = started.elapsed();
            println!(
                "review PATCH, {n:>6} × {sub:<7} on {n:>6} emails: parse {parsed:>9.2?}, apply {applied:>9.2?} ({:.2?} per op)",
                applied / u32::try_from(n).unwrap_or(1)
            );
        }
    }
}
