//! The events feed for applications (issue 22): `GET /events` (default tenant) and
//! `GET /t/<tenant>/events` (the tenant prefix is taken off by `TenantPrefix`), read with an
//! events token. Not part of the SCIM API and not under `/api` (the admin UI's): an application
//! holds a credential that can read this and nothing else. Errors use the SCIM error format.

use std::time::{Duration, Instant};

use rocket::http::ContentType;
use rocket::response::stream::ByteStream;
use rocket::{Route, State, get, routes};

use super::App;
use super::auth::EventsReader;
use crate::scim::ScimError;
use crate::service::events::{self, FeedLimits, FeedQuery};
use crate::service::export;

pub(crate) fn routes() -> Vec<Route> {
    routes![read_events, snapshot_events]
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
    shutdown: rocket::Shutdown,
) -> Result<(ContentType, String), ScimError> {
    let after = after.unwrap_or(0);
    let query = FeedQuery {
        after,
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
    // A long poll must not hold up a shutdown: it ends with no events, and the consumer asks
    // again (of this server once it is back).
    let page = rocket::tokio::select! {
        page = events::read(&app.store, &reader.scope, query, &limits) => page?,
        () = shutdown => events::FeedPage { events: Vec::new(), next_after: after, has_more: false },
    };
    Ok((ContentType::JSON, page.to_json()))
}

/// Every user and group as of one cursor, as JSON lines (see `service::export::snapshot`):
/// what a consumer resynchronises from. Streamed, so its size costs no server memory; cut off
/// after `events.snapshot_timeout_secs`.
#[get("/events/snapshot")]
async fn snapshot_events(
    reader: EventsReader,
    app: &State<App>,
) -> (ContentType, ByteStream<LineStream>) {
    let (tx, rx) = rocket::tokio::sync::mpsc::channel::<Vec<u8>>(64);
    let store = app.store.clone();
    let scope = reader.scope;
    let limit = Duration::from_secs(app.config.events.snapshot_timeout_secs);
    let runtime = rocket::tokio::runtime::Handle::current();
    rocket::tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + limit;
        let sent = export::snapshot(&store, &scope, |value| {
            let mut bytes = serde_json::to_vec(value).map_err(std::io::Error::other)?;
            bytes.push(b'\n');
            let left = deadline.saturating_duration_since(Instant::now());
            runtime
                .block_on(tx.send_timeout(bytes, left))
                .map_err(|e| std::io::Error::other(e.to_string()))
        });
        if let Err(e) = sent {
            tracing::warn!(
                "an events snapshot of tenant {} stopped early ({e}); a reader gets events.snapshot_timeout_secs = {} s",
                scope.tenant_slug,
                limit.as_secs()
            );
        }
    });
    let lines = rocket::futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|line| (line, rx))
    });
    (
        ContentType::new("application", "x-ndjson"),
        ByteStream(Box::pin(lines)),
    )
}

/// The lines of a snapshot as they are produced.
type LineStream = std::pin::Pin<Box<dyn rocket::futures::Stream<Item = Vec<u8>> + Send>>;
