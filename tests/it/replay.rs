//! Replays of the scenarios of ../shared/idp-requirements.md that the suites per IdP did not
//! name: S08 (Okta's tolerated 404 pre-check, which scimd must not copy) and S24 (Okta's rate
//! limiting: 429 with an integer `Retry-After`, per token, off by default).

use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::{TestApp, enc};

// See: ../shared/idp-requirements.md S08
#[rocket::async_test]
async fn okta_s08_precheck_miss_is_200_empty_list_not_404() {
    let app = TestApp::new().await;
    app.create_user("present@okta.local").await;
    // Okta's pre-check exactly as sent before a create (S04), for an absent user.
    let r = app
        .get(&format!(
            "/scim/v2/Users?filter={}&startIndex=1&count=100",
            enc("userName eq \"absent@okta.local\"")
        ))
        .await;
    // Okta's doc tolerates a 404 Error here; the Runscope suite and Entra do not, so scimd
    // answers the one form all of them accept.
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.body["totalResults"], json!(0));
    assert_eq!(r.body["Resources"], json!([]));
    assert_eq!(
        r.body["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:ListResponse"])
    );
}

/// Sends GET /Users with `bearer` until the first 429 (at most `max` requests); returns how
/// many were accepted before it, the refusal, and the time the accepted ones took.
async fn until_refused(
    app: &TestApp,
    bearer: &str,
    max: usize,
) -> (usize, Option<crate::common::Reply>, Duration) {
    let started = Instant::now();
    for accepted in 0..max {
        let r = app
            .send_with(
                "GET",
                "/scim/v2/Users?count=1",
                None,
                &[("Authorization", bearer)],
            )
            .await;
        if r.status == 429 {
            return (accepted, Some(r), started.elapsed());
        }
        assert_eq!(r.status, 200, "{}", r.raw);
    }
    (max, None, started.elapsed())
}

// See: ../shared/idp-requirements.md S24
#[rocket::async_test]
async fn okta_s24_rate_limit_trips_with_integer_retry_after_and_recovers() {
    let app = TestApp::with(|c| c.limits.requests_per_second = Some(25)).await;
    let bearer = app.bearer();
    let (accepted, refused, took) = until_refused(&app, &bearer, 500).await;
    let refused = refused.expect("the limit of 25/s must trip within 500 requests");
    // The burst is one second's worth; whatever refilled while the burst ran may add to it.
    let refill = (took.as_secs_f64() * 25.0).ceil() as usize;
    assert!(
        (25..=25 + refill + 1).contains(&accepted),
        "accepted {accepted} in {took:?} before the first 429"
    );
    let detail = refused.assert_error(429, None);
    assert!(detail.contains("requests_per_second = 25"), "{detail}");
    assert!(
        detail.contains("okta"),
        "the detail names the token: {detail}"
    );
    // Okta honours only an integer number of seconds (an HTTP-date makes it wait 5 minutes).
    let retry_after: u64 = refused
        .header("Retry-After")
        .expect("Retry-After on 429")
        .parse()
        .expect("Retry-After is an integer");
    assert!((1..=2).contains(&retry_after), "Retry-After: {retry_after}");

    // Another token of the same tenant has its own budget.
    let other = format!(
        "Bearer {}",
        app.issue_token("default", "entra", false, None)
    );
    let r = app
        .send_with("GET", "/scim/v2/Users", None, &[("Authorization", &other)])
        .await;
    assert_eq!(r.status, 200, "{}", r.raw);

    // A client that waits as told is served again.
    rocket::tokio::time::sleep(Duration::from_secs(retry_after)).await;
    let (accepted, _, _) = until_refused(&app, &bearer, 5).await;
    assert_eq!(accepted, 5, "requests after Retry-After must be served");
}

// See: ../shared/idp-requirements.md S24 (and the Entra row of the response contract: a
// gallery app must sustain 25 requests per second per tenant)
#[rocket::async_test]
async fn okta_s24_paced_client_at_the_limit_is_never_refused() {
    let app = TestApp::with(|c| c.limits.requests_per_second = Some(25)).await;
    let bearer = app.bearer();
    let started = Instant::now();
    for i in 0..50u32 {
        // Pacing can only run late, never early, so this never exceeds 25 per second.
        let due = Duration::from_millis(40) * i;
        if let Some(wait) = due.checked_sub(started.elapsed()) {
            rocket::tokio::time::sleep(wait).await;
        }
        let r = app
            .send_with("GET", "/scim/v2/Users", None, &[("Authorization", &bearer)])
            .await;
        assert_eq!(r.status, 200, "request {i}: {}", r.raw);
    }
}

// See: ../shared/idp-requirements.md S24 — `requests_per_second = 0` turns the limit off (new
// installs have it on: tests/it/secure_defaults.rs).
#[rocket::async_test]
async fn okta_s24_no_limit_when_set_to_zero() {
    let app = TestApp::with(|c| c.limits.requests_per_second = Some(0)).await;
    assert_eq!(app.app().config.limits.requests_per_second, Some(0));
    let bearer = app.bearer();
    let (accepted, refused, _) = until_refused(&app, &bearer, 200).await;
    assert!(refused.is_none(), "refused after {accepted} requests");
}
