//! `/healthz`: 200 when the database answers a query, 503 otherwise; the body also reports
//! the request log's queue depth, drops, requests not logged in full and disk use, and the
//! events outbox's head, size and oldest age, and the open mass-change alarms (issue 25).

use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::{Route, State, get, routes};
use serde_json::{Value, json};

use std::sync::Arc;

use super::App;
use crate::service::request_log::RequestLog;

pub(crate) fn routes() -> Vec<Route> {
    routes![healthz]
}

#[get("/healthz")]
async fn healthz(app: &State<App>, log: &State<Arc<RequestLog>>) -> (Status, Json<Value>) {
    // Dropped log entries are reported here too: a scraper of /healthz sees the log falling behind.
    let request_log = json!({
        "queue_depth": log.queue_depth(),
        "dropped": log.dropped(),
        "sampled_out": log.sampled_out(),
        "disk_bytes": app.store.log_disk_bytes(),
    });
    // Reading the outbox's head is also the database check.
    // An open mass-change alarm is reported, not a failure: the server is healthy, and a
    // restart by an orchestrator would help nobody. Only the count: /healthz may be public
    // (the `[admin]` split), and tenant names are not for everyone; the dashboard, the admin
    // API and /metrics say which tenant.
    let open = crate::service::alarms::open(&app.store)
        .await
        .unwrap_or_default();
    let alarms = json!({"open": open.len()});
    match crate::service::events::backlog(&app.store).await {
        Ok(events) => (
            Status::Ok,
            Json(
                json!({"status": "ok", "request_log": request_log, "events": events, "mass_change_alarms": alarms}),
            ),
        ),
        Err(e) => {
            tracing::error!("health check failed: {e}");
            (
                Status::ServiceUnavailable,
                Json(
                    json!({"status": "unavailable", "detail": "the database did not answer", "request_log": request_log}),
                ),
            )
        }
    }
}
