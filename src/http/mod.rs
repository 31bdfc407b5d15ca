//! Rocket adapters: guards, responders, catchers and one file per group of routes. Handlers
//! only translate between HTTP and `crate::service`.

mod admin;
mod admin_browse;
mod admin_deleted;
mod admin_ldap;
mod admin_log;
mod admin_oauth;
mod admin_security;
mod admin_settings;
mod admin_webhooks;
mod auth;
#[cfg(feature = "bench-hello")]
pub mod bench;
mod body;
mod catchers;
mod discovery;
mod events;
mod fallback;
mod health;
mod metrics;
mod no_store;
mod oauth;
mod probe;
mod query;
mod request_log;
mod resources;
mod respond;
mod url_limit;

use std::sync::Arc;

use rocket::fairing::{AdHoc, Fairing, Info, Kind};
use rocket::http::uri::Origin;
use rocket::request::Request;
use rocket::{Build, Catcher, Data, Rocket, Route};

use crate::config::{Config, Listener};
use crate::scim::ScimError;
use crate::service::admins::{self, INITIAL_ADMIN, LoginLimiter, LoginPolicy};
use crate::service::rate_limit::RateLimiter;
use crate::service::request_log::RequestLog;
use crate::service::tokens::TokenCache;
use crate::service::usage::{FLUSH_INTERVAL, UsageTracker};
use crate::service::webhooks::Delivery;
use crate::store::tenants::DEFAULT_SLUG;
use crate::store::{Store, files};

pub use metrics::Metrics;
pub use respond::{ScimResponse, scim_json};

/// The store and the configuration, shared by every listener.
#[derive(Clone)]
pub struct App {
    pub store: Store,
    pub config: Config,
}

/// Which route groups a listener serves ([`ROUTE_GROUPS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Serves {
    /// One listener for everything: no `[admin]`.
    Everything,
    /// What IdPs and applications call: the SCIM API, `/healthz`.
    Public,
    /// What people and their monitoring use: the web UI, its API, `/metrics`.
    Admin,
}

/// The side of the split a route group belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Public,
    Admin,
}

/// Every route group and the listener that serves it when `[admin]` splits them: the one
/// place to declare a new endpoint public (an OAuth token endpoint, an events feed) or admin.
/// A path of the other side is a plain 404 (the SCIM catcher's "not an endpoint").
const ROUTE_GROUPS: &[Group<Route>] = &[
    (Side::Public, "/scim/v2", resources::routes),
    (Side::Public, "/scim/v2", discovery::routes),
    (Side::Public, "/scim/v2", probe::routes),
    (Side::Public, "/scim/v2", fallback::routes),
    (Side::Public, "/", health::routes),
    (Side::Public, "/", events::routes),
    (Side::Public, "/", oauth::routes),
    (Side::Admin, "/api", admin::routes),
    (Side::Admin, "/api", admin_browse::routes),
    (Side::Admin, "/api", admin_settings::routes),
    (Side::Admin, "/api", admin_log::routes),
    (Side::Admin, "/api", admin_webhooks::routes),
    (Side::Admin, "/api", admin_deleted::routes),
    (Side::Admin, "/api", admin_ldap::routes),
    (Side::Admin, "/api", admin_security::routes),
    (Side::Admin, "/api", admin_oauth::routes),
    (Side::Admin, "/", metrics::routes),
    (Side::Admin, "/", crate::ui::routes),
];

/// Catchers by side, as [`ROUTE_GROUPS`]; `/` (SCIM errors) answers everything else anywhere.
const CATCHER_GROUPS: &[Group<Catcher>] = &[(Side::Admin, "/api", admin::catchers)];

/// Routes or catchers, the side that serves them and their base path.
type Group<T> = (Side, &'static str, fn() -> Vec<T>);

impl Serves {
    fn has(self, side: Side) -> bool {
        match self {
            Serves::Everything => true,
            Serves::Public => side == Side::Public,
            Serves::Admin => side == Side::Admin,
        }
    }
}

/// What differs between listeners, managed by each beside the shared state.
#[derive(Debug, Clone)]
pub struct ThisListener {
    pub serves: Serves,
    /// [`Listener::behind_tls`] of this listener: the admin session cookie is `Secure` when
    /// the listener that sets it is.
    pub behind_tls: bool,
    /// The header this listener takes the client's address from, if any.
    pub client_ip_header: Option<String>,
}

/// The state every listener shares, built once per process: each listener manages clones of
/// the same `Arc`s, so a token issued on the admin listener is known to the public one, and
/// one request log (one writer) and one set of counters see both.
#[derive(Clone)]
pub struct Shared {
    app: App,
    log: Arc<RequestLog>,
    usage: Arc<UsageTracker>,
    tokens: Arc<TokenCache>,
    metrics: Arc<metrics::Metrics>,
    rate: Arc<RateLimiter>,
    logins: Arc<LoginLimiter>,
    webhooks: Arc<Delivery>,
    jwks: Arc<crate::service::oauth::JwksCache>,
}

impl Shared {
    /// Opens the store, creates the first admin on an empty database and sets up the rest.
    pub fn open(config: Config) -> Result<Self, String> {
        let store = crate::open_store(&config)
            .map_err(|e| format!("cannot open database {}: {e}", config.database.display()))?;
        let config = resolve_secure_defaults(&store, config)?;
        let app = App { store, config };
        first_admin(&app)?;
        let config = &app.config;
        let log = RequestLog::new(config.request_log.clone())
            .pruning_history(config.history.retention_days);
        let logins = LoginLimiter::new(LoginPolicy {
            per_user_and_address: config.limits.login_failures,
            per_address: config.limits.login_failures_per_address,
            ..LoginPolicy::default()
        });
        let webhooks = Arc::new(Delivery::new(app.store.clone(), config.webhooks.clone()));
        Ok(Self {
            webhooks,
            jwks: Arc::default(),
            log: Arc::new(log),
            usage: Arc::default(),
            tokens: Arc::new(TokenCache::with_oauth(config.oauth.clone())),
            metrics: Arc::new(metrics::Metrics::new()),
            rate: Arc::default(),
            logins: Arc::new(logins),
            app,
        })
    }

    /// Hands this state to one listener.
    pub fn manage(self, rocket: Rocket<Build>) -> Rocket<Build> {
        rocket
            .manage(self.app)
            .manage(self.log)
            .manage(self.usage)
            .manage(self.tokens)
            .manage(self.metrics)
            .manage(self.rate)
            .manage(self.logins)
            .manage(self.webhooks)
            .manage(self.jwks)
    }
}

/// Settles what the configuration leaves to the install (`service::secure_defaults`) and logs
/// it with the configuration's warnings, once per process.
fn resolve_secure_defaults(store: &Store, mut config: Config) -> Result<Config, String> {
    use crate::service::secure_defaults;
    let defaults = secure_defaults::read(store)
        .map_err(|e| format!("cannot read the install defaults: {e}"))?;
    let (per_second, source) = secure_defaults::requests_per_second(&config, &defaults);
    let burst = secure_defaults::requests_burst(&config, &defaults, per_second);
    config.limits.requests_per_second = Some(per_second);
    config.limits.requests_burst = Some(burst);
    if per_second == 0 {
        tracing::info!("per-token rate limit: off ({source})");
    } else {
        tracing::info!(
            "per-token rate limit: {per_second} requests per second, bursts of {burst} ({source})"
        );
    }
    for w in config.warnings() {
        tracing::warn!("{}: {}; fix: {}", w.key, w.detail, w.fix);
    }
    Ok(config)
}

/// The background work on the shared state, attached to exactly one listener: the request
/// log's writer, the token-usage flusher, the events pruner and the webhook delivery.
pub fn with_workers(rocket: Rocket<Build>) -> Rocket<Build> {
    rocket
        .attach(request_log::RequestLogWriter)
        .attach(usage_flusher())
        .attach(events_pruner())
        .attach(WebhookDelivery)
        .attach(deletion_workers())
}

/// Starts webhook delivery ([`Delivery`], its own threads) at liftoff when
/// `webhooks.enabled`, and stops it at shutdown, making each endpoint's cursor durable.
struct WebhookDelivery;

#[rocket::async_trait]
impl Fairing for WebhookDelivery {
    fn info(&self) -> Info {
        Info {
            name: "webhook delivery",
            kind: Kind::Liftoff | Kind::Shutdown,
        }
    }

    async fn on_liftoff(&self, rocket: &Rocket<rocket::Orbit>) {
        let (Some(delivery), Some(app)) = (rocket.state::<Arc<Delivery>>(), rocket.state::<App>())
        else {
            return;
        };
        if app.config.webhooks.enabled {
            delivery.start(rocket::tokio::runtime::Handle::current());
        }
    }

    async fn on_shutdown(&self, rocket: &Rocket<rocket::Orbit>) {
        if let Some(delivery) = rocket.state::<Arc<Delivery>>().cloned() {
            let grace = std::time::Duration::from_secs(2);
            let _ = rocket::tokio::task::spawn_blocking(move || delivery.stop(grace)).await;
        }
    }
}

/// Deletion safety's background work (issue 25): the mass-change watcher, which follows the
/// events outbox after each batch of writes, and the tombstone pruner.
fn deletion_workers() -> AdHoc {
    use crate::service::{alarms, deleted};
    AdHoc::on_liftoff("deletion safety", |rocket| {
        Box::pin(async move {
            let Some(app) = rocket.state::<App>() else {
                return;
            };
            let (store, batch) = (app.store.clone(), app.config.deletion.batch_rows);
            let mut shutdown = rocket.shutdown();
            let pruning = store.clone();
            let mut stop_pruning = rocket.shutdown();
            rocket::tokio::spawn(async move {
                let mut tick = rocket::tokio::time::interval(deleted::PRUNE_INTERVAL);
                loop {
                    rocket::tokio::select! {
                        _ = tick.tick() => {}
                        () = &mut stop_pruning => break,
                    }
                    match deleted::prune(&pruning, crate::clock::now(), batch).await {
                        Ok(0) => {}
                        Ok(n) => {
                            tracing::info!(tombstones = n, "pruned tombstones past their retention")
                        }
                        Err(e) => tracing::warn!("could not prune tombstones: {e}"),
                    }
                }
            });
            rocket::tokio::spawn(async move {
                let mut watcher = alarms::Watcher::default();
                let mut batches = store.batches();
                loop {
                    if let Err(e) = watcher.scan(&store).await {
                        tracing::warn!("the mass-change watcher could not read the events: {e}");
                    }
                    rocket::tokio::time::sleep(alarms::MIN_GAP).await;
                    let woke =
                        rocket::tokio::time::timeout(alarms::WATCH_INTERVAL, batches.changed());
                    rocket::tokio::select! {
                        _ = woke => {}
                        () = &mut shutdown => break,
                    }
                }
            });
        })
    })
}

/// Prunes the events outbox at start and every `PRUNE_INTERVAL` (`[events]` retention).
fn events_pruner() -> AdHoc {
    AdHoc::on_liftoff("events pruner", |rocket| {
        Box::pin(async move {
            let Some(app) = rocket.state::<App>() else {
                return;
            };
            let (store, settings) = (app.store.clone(), app.config.events.clone());
            let mut shutdown = rocket.shutdown();
            rocket::tokio::spawn(async move {
                let mut tick =
                    rocket::tokio::time::interval(crate::service::events::PRUNE_INTERVAL);
                loop {
                    rocket::tokio::select! {
                        _ = tick.tick() => {}
                        () = &mut shutdown => break,
                    }
                    let now = crate::clock::now();
                    let pruned = crate::service::events::prune(
                        &store,
                        settings.retention_days,
                        settings.max_bytes,
                        now,
                    )
                    .await;
                    match pruned {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(events = n, "pruned events past their retention"),
                        Err(e) => tracing::warn!("could not prune events: {e}"),
                    }
                }
            });
        })
    })
}

/// Mounts the route groups `serves` names, their catchers and the per-request fairings.
pub fn mount(rocket: Rocket<Build>, serves: Serves, bind: &Listener) -> Rocket<Build> {
    let mut rocket = rocket
        .manage(ThisListener {
            serves,
            behind_tls: bind.behind_tls(),
            client_ip_header: bind.client_ip_header.clone(),
        })
        // Before TenantPrefix, so the log sees the path as the client sent it.
        .attach(request_log::RequestLogFairing)
        .attach(TenantPrefix)
        .register("/", catchers::catchers());
    if serves.has(Side::Admin) {
        rocket = rocket.attach(no_store::NoStoreApi);
    }
    for (side, base, routes) in ROUTE_GROUPS {
        if serves.has(*side) {
            rocket = rocket.mount(*base, routes());
        }
    }
    for (side, base, catchers) in CATCHER_GROUPS {
        if serves.has(*side) {
            rocket = rocket.register(*base, catchers());
        }
    }
    rocket
}

/// On the first start of an empty database, creates the `admin` account, writes its generated
/// password to a file only scimd's user can read, beside the database, and says where on
/// stderr. Never the password itself: stderr ends up in journald and container logs.
fn first_admin(app: &App) -> Result<(), String> {
    match admins::ensure_initial_admin(&app.store) {
        Ok(Some(password)) => {
            let saved = files::save_initial_password(&app.config.database, &password);
            let file = match saved {
                Ok(file) => std::path::absolute(&file).unwrap_or(file),
                Err(e) => {
                    return Err(format!(
                        "cannot write the first admin password beside {}: {e}; make that directory writable, then run `scimd admin reset-password`",
                        app.config.database.display()
                    ));
                }
            };
            let base = app.config.ui_listener().base();
            eprintln!(
                "scimd: created admin user \"{INITIAL_ADMIN}\"; its password is in {} (readable only by this user)\n\
                 scimd: sign in at {base}/ ; the file is deleted at the first sign-in as \"{INITIAL_ADMIN}\" or by `scimd admin reset-password`",
                file.display()
            );
            Ok(())
        }
        Ok(None) => Ok(()),
        Err(e) => Err(format!("cannot create the first admin: {e}")),
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
        let under = |root: &str| tail == root || tail.starts_with(&format!("{root}/"));
        if !(under("scim/v2") || under("events") || under("oauth")) || slug.is_empty() {
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

/// `scheme://host[:port]` of this server as IdPs should address it: `public_url` when
/// configured, else the request's Host header. On the admin listener the Host names the admin
/// port, so the public listener's own address (or, when it listens on every address, the
/// Host's name) and port stand in: the Setup page must show where SCIM is served.
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
    let serves = req.rocket().state::<ThisListener>().map(|l| l.serves);
    if let (Some(Serves::Admin), Some(app)) = (serves, app) {
        let public = app.config.listener();
        let host = if public.address.is_unspecified() {
            req.host()
                .map_or_else(|| "localhost".to_owned(), |h| h.domain().to_string())
        } else {
            match public.address {
                std::net::IpAddr::V6(v6) => format!("[{v6}]"),
                v4 => v4.to_string(),
            }
        };
        return format!("{scheme}://{host}:{}", public.port);
    }
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
