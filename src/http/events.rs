//! The events feed for applications (issue 22): `GET /events` (default tenant) and
//! `GET /t/<tenant>/events` (the tenant prefix is taken off by `TenantPrefix`), read with an
//! events token. Not part of the SCIM API and not under `/api` (the admin UI's): an application
//! holds a credential that can read this and nothing else. Errors use the SCIM error format.

use rocket::http::ContentType;
use rocket::{Route, State, get, routes};

use super::App;
use super::auth::EventsReader;
use crate::scim::ScimError;
use crate::service::events::{self, FeedLimits, FeedQuery};

pub(crate) fn routes() -> Vec<Route> {
    routes![read_events]
}

/// `after` is the cursor (0: from the start), `types` a comma-separated list, `wait` seconds
/// to wait for a first event.
#[get("/events?<after>&<limit>&<types>&<wait>")]
async fn read_events(
    reader: EventsReader,
    after: Option<i64>,
    limit: Option<u32>,
    types: Option<&str>,
    wait: Option<u64>,
    app: &State<App>,
) -> Result<(ContentType, String), ScimError> {
    let query = FeedQuery {
        after: after.unwrap_or(0),
        limit: limit.unwrap_or(100.min(app.config.events.max_page)),
        types: types.map_or_else(Vec::new, |t| {
            t.split(',').map(|s| s.trim().to_owned()).collect()
        }),
        wait: std::time::Duration::from_secs(wait.unwrap_or(0)),
    };
    let limits = FeedLimits {
        max_limit: app.config.events.max_page,
        max_wait: std::time::Duration::from_secs(app.config.events.max_wait_secs),
    };
    let page = events::read(&app.store, &reader.scope, query, &limits).await?;
    Ok((ContentType::JSON, page.to_json()))
}
