//! Rocket adapters: guards, responders, catchers and one file per group of routes. Handlers
//! only translate between HTTP and `crate::service`.

mod admin;
mod admin_browse;
mod admin_log;
mod admin_settings;
mod auth;
#[cfg(feature = "bench-hello")]
pub mod bench;
mod body;
mod catchers;
mod discovery;
mod fallback;
mod health;
mod metrics;
mod no_store;
mod query;
mod request_log;
mod resources;
mod respond;
mod url_limit;

use std::sync::Arc;

use rocket::fairing::{AdHoc, Fairing, Info, Kind};
use rocket::http::uri::Origin;
use rocket::request::Request;
use rocket::{Build, Data, Rocket};

use crate::config::Config;
use crate::scim::ScimError;
use crate::service::admins::{self, INITIAL_ADMIN};
use crate::service::request_log::RequestLog;
use crate::service::usage::{FLUSH_INTERVAL, UsageTracker};
use crate::store::tenants::DEFAULT_SLUG;
use crate::store::{Store, files};

pub use respond::{ScimResponse, scim_json};

/// Shared state of the running server.
pub struct App {
    pub store: Store,
    pub config: Config,
}

/// Mounts the SCIM API, its catchers and the tenant prefix rewrite.
pub fn mount(rocket: Rocket<Build>) -> Rocket<Build> {
    rocket
        .manage(Arc::new(UsageTracker::default()))
        .manage(crate::service::tokens::TokenCache::default())
        .attach(usage_flusher())
        .manage(metrics::Metrics::new())
        .attach(AdHoc::try_on_ignite("first admin", first_admin))
        .attach(AdHoc::try_on_ignite("request log", |rocket| async move {
            let Some(config) = rocket.state::<App>().map(|a| a.config.clone()) else {
                return Err(rocket);
            };
            let log =
                RequestLog::new(config.request_log).pruning_history(config.history.retention_days);
            Ok(rocket.manage(Arc::new(log)))
        }))
        // Before TenantPrefix, so the log sees the path as the client sent it.
        .attach(request_log::RequestLogFairing)
        .attach(TenantPrefix)
        .attach(no_store::NoStoreApi)
        .mount("/scim/v2", resources::routes())
        .mount("/scim/v2", discovery::routes())
        .mount("/scim/v2", fallback::routes())
        .mount("/", health::routes())
        .mount("/api", admin::routes())
        .mount("/api", admin_browse::routes())
        .mount("/api", admin_settings::routes())
        .mount("/api", admin_log::routes())
        .mount("/", metrics::routes())
        .mount("/", crate::ui::routes())
        .register("/", catchers::catchers())
        .register("/api", admin::catchers())
}

/// On the first start of an empty database, creates the `admin` account, writes its generated
/// password to a file only scimd's user can read, beside the database, and says where on
/// stderr. Never the password itself: stderr ends up in journald and container logs.
async fn first_admin(rocket: Rocket<Build>) -> Result<Rocket<Build>, Rocket<Build>> {
    let Some(app) = rocket.state::<App>() else {
        return Err(rocket);
    };
    match admins::ensure_initial_admin(&app.store) {
        Ok(Some(password)) => {
            let saved = files::save_initial_password(&app.config.database, &password);
            let file = match saved {
                Ok(file) => std::path::absolute(&file).unwrap_or(file),
                Err(e) => {
                    tracing::error!(
                        "cannot write the first admin password beside {}: {e}; make that directory writable, then run `scimd admin reset-password`",
                        app.config.database.display()
                    );
                    return Err(rocket);
                }
            };
            let base = app.config.public_base().map_or_else(
                || {
                    let scheme = if app.config.tls.is_some() {
                        "https"
                    } else {
                        "http"
                    };
                    format!("{scheme}://{}:{}", app.config.address, app.config.port)
                },
                str::to_owned,
            );
            eprintln!(
                "scimd: created admin user \"{INITIAL_ADMIN}\"; its password is in {} (readable only by this user)\n\
                 scimd: sign in at {base}/ ; the file is deleted at the first sign-in as \"{INITIAL_ADMIN}\" or by `scimd admin reset-password`",
                file.display()
            );
            Ok(rocket)
        }
        Ok(None) => Ok(rocket),
        Err(e) => {
            tracing::error!("cannot create the first admin: {e}");
            Err(rocket)
        }
    }
}

/// Flushes token usage every [`FLUSH_INTERVAL`] while the server runs, and once more at
/// shutdown so the last uses are not lost.
fn usage_flusher() -> AdHoc {
    AdHoc::on_liftoff("token usage flush", |rocket| {
        Box::pin(async move {
            let (Some(usage), Some(app)) = (
                rocket.state::<Arc<UsageTracker>>().cloned(),
                rocket.state::<App>(),
            ) else {
                return;
            };
            let store = app.store.clone();
            let mut shutdown = rocket.shutdown();
            rocket::tokio::spawn(async move {
                // Nothing is pending at liftoff, so the first flush is one interval in.
                let first = rocket::tokio::time::Instant::now() + FLUSH_INTERVAL;
                let mut tick = rocket::tokio::time::interval_at(first, FLUSH_INTERVAL);
                loop {
                    let stopping = rocket::tokio::select! {
                        _ = tick.tick() => false,
                        () = &mut shutdown => true,
                    };
                    if let Err(e) = usage.flush(&store).await {
                        tracing::warn!("could not record token usage: {e}");
                    }
                    if stopping {
                        break;
                    }
                }
            });
        })
    })
}

/// The tenant a request addresses: `default` for `/scim/v2/…`, `{slug}` for `/t/{slug}/scim/v2/…`.
#[derive(Debug, Clone)]
pub struct TenantSlug(pub String);

/// Serves `/t/{slug}/scim/v2/…` with the same routes as `/scim/v2/…`: the prefix is stripped
/// before routing and the slug kept for the guards, so one set of handlers serves every tenant.
/// First, it refuses URLs over `limits.max_url_bytes` ([`url_limit`]).
struct TenantPrefix;

#[rocket::async_trait]
impl Fairing for TenantPrefix {
    fn info(&self) -> Info {
        Info {
            name: "tenant prefix",
            kind: Kind::Request,
        }
    }

    async fn on_request(&self, req: &mut Request<'_>, _: &mut Data<'_>) {
        if url_limit::refuse_too_long(req) {
            return;
        }
        let path = req.uri().path().as_str().to_owned();
        let Some(rest) = path.strip_prefix("/t/") else {
            req.local_cache(|| TenantSlug(DEFAULT_SLUG.to_owned()));
            return;
        };
        let (slug, tail) = rest.split_once('/').unwrap_or((rest, ""));
        if !(tail == "scim/v2" || tail.starts_with("scim/v2/")) || slug.is_empty() {
            return;
        }
        let rewritten = match req.uri().query() {
            Some(q) => format!("/{tail}?{q}"),
            None => format!("/{tail}"),
        };
        if let Ok(uri) = Origin::parse_owned(rewritten) {
            let slug = slug.to_owned();
            req.local_cache(|| TenantSlug(slug));
            req.set_uri(uri);
        }
    }
}

/// The tenant slug of a request (set by [`TenantPrefix`]).
pub fn tenant_slug<'r>(req: &'r Request<'_>) -> &'r str {
    &req.local_cache(|| TenantSlug(DEFAULT_SLUG.to_owned())).0
}

/// `scheme://host[:port]` of this server as the client should address it: `public_url` when
/// configured, else the request's Host header.
pub fn origin(req: &Request<'_>) -> String {
    let app = req.rocket().state::<App>();
    if let Some(base) = app.and_then(|a| a.config.public_base()) {
        return base.to_owned();
    }
    let scheme = if app.is_some_and(|a| a.config.tls.is_some()) {
        "https"
    } else {
        "http"
    };
    let host = req
        .host()
        .map_or_else(|| "localhost".to_owned(), ToString::to_string);
    format!("{scheme}://{host}")
}

/// Holds the SCIM error a failing guard produced, for the catcher to render.
struct Stashed(Option<ScimError>);

fn stash(req: &Request<'_>, err: ScimError) {
    req.local_cache(|| Stashed(Some(err)));
}

fn stashed(req: &Request<'_>) -> Option<ScimError> {
    req.local_cache(|| Stashed(None)).0.clone()
}
