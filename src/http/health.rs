//! `/healthz`: 200 when the database answers a query, 503 otherwise; the body also reports
//! the request log's queue depth, drops, requests not logged in full and disk use.

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
    match app
        .store
        .read(|c| Ok(c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?))
        .await
    {
        Ok(_) => (
            Status::Ok,
            Json(json!({"status": "ok", "request_log": request_log})),
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
