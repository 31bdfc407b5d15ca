//! Review item 6: a filter of ~1,100 `or` terms, under the 10,000-character limit, became SQL
//! deeper than SQLite's fixed expression depth (1,000) and answered 500. The parser now
//! refuses more than `MAX_TERMS` comparisons with 400 invalidFilter, and the largest filter it
//! accepts, `or`-chained or `and`-chained, with the costliest terms, still runs.

use serde_json::{Value, json};

use crate::common::TestApp;
use scimd::scim::filter::MAX_TERMS;

async fn search(app: &TestApp, filter: &str) -> crate::common::Reply {
    app.post(
        "/scim/v2/Users/.search",
        json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"filter":filter}),
    )
    .await
}

#[rocket::async_test]
async fn a_1100_term_filter_is_400_naming_the_limit() {
    let app = TestApp::new().await;
    let filter = vec!["id pr"; 1_100].join(" or ");
    assert!(filter.len() < 10_000, "under the length limit");
    let detail = search(&app, &filter)
        .await
        .assert_error(400, Some("invalidFilter"));
    assert!(detail.contains("more than 200 comparisons"), "{detail}");
    assert!(detail.contains("limit on filter terms"), "{detail}");
    // The same through the query string, and on /Groups: 300 terms, since 1,100 would make a
    // URL over limits.max_url_bytes (its own 414).
    let over = vec!["id pr"; 300].join(" or ");
    let r = app
        .get(&format!(
            "/scim/v2/Groups?filter={}",
            crate::common::enc(&over)
        ))
        .await;
    r.assert_error(400, Some("invalidFilter"));
}

/// The most terms allowed, each a different kind of SQL (indexed column, JSON path, a
/// multi-valued `EXISTS`, a negation), chained by `or` and by `and`: SQLite runs both.
#[rocket::async_test]
async fn the_largest_allowed_filters_run() {
    let app = TestApp::new().await;
    let id = app.create_user("bjensen@example.com").await;
    let kinds = [
        "userName eq \"u{}\"",
        "name.givenName co \"g{}\"",
        "emails[value eq \"e{}\" and type eq \"work\"]",
        "not (title eq \"t{}\")",
    ];
    // `emails[a and b]` counts as three terms: the value path and its two comparisons.
    let mut terms = Vec::new();
    let mut count = 0;
    let mut i = 0;
    while count < MAX_TERMS {
        let kind = kinds[i % kinds.len()];
        let weight = if kind.starts_with("emails") { 3 } else { 1 };
        if count + weight > MAX_TERMS {
            i += 1;
            continue;
        }
        terms.push(kind.replace("{}", &i.to_string()));
        count += weight;
        i += 1;
    }
    for op in ["or", "and"] {
        let filter = terms.join(&format!(" {op} "));
        assert!(filter.len() < 10_000, "{}", filter.len());
        let r = search(&app, &filter).await;
        let body = r.ok();
        // Every user lacks `title`, so `not (title eq …)` holds and the `or` chain matches;
        // the `and` chain cannot (no userName is "u0").
        let want = if op == "or" { 1 } else { 0 };
        assert_eq!(body["totalResults"], json!(want), "{op}: {}", r.raw);
        if op == "or" {
            assert_eq!(body["Resources"][0]["id"], Value::String(id.clone()));
        }
        // One more comparison is refused.
        let over = format!("{filter} {op} id pr");
        search(&app, &over)
            .await
            .assert_error(400, Some("invalidFilter"));
    }
    // The deepest shape: the chain under the most nesting the parser allows (64 levels, the
    // innermost being a value filter's brackets, so 63 negations), an even number of `not`s.
    let chain = terms.join(" or ");
    let deep = format!("{}({chain}){}", "not (".repeat(62), ")".repeat(62));
    let r = search(&app, &deep).await;
    assert_eq!(r.ok()["totalResults"], json!(1), "{}", r.raw);
}
