//! `/healthz`: 200 when the database answers a query, 503 otherwise.

use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::{Route, State, get, routes};
use serde_json::{Value, json};

use super::App;

pub(crate) fn routes() -> Vec<Route> {
    routes![healthz]
}

#[get("/healthz")]
async fn healthz(app: &State<App>) -> (Status, Json<Value>) {
    match app
        .store
        .read(|c| Ok(c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?))
        .await
    {
        Ok(_) => (Status::Ok, Json(json!({"status": "ok"}))),
        Err(e) => {
            tracing::error!("health check failed: {e}");
            (
                Status::ServiceUnavailable,
                Json(json!({"status": "unavailable", "detail": "the database did not answer"})),
            )
        }
    }
}
