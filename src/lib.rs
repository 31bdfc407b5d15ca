//! scimd: a self-hosted SCIM 2.0 service provider (RFC 7643 / RFC 7644).
//!
//! Layers, outermost first: [`http`] (Rocket adapters) → [`service`] (use cases) → [`scim`]
//! (protocol rules, no I/O) and [`store`] (SQLite). [`rocket`] assembles the exact application
//! the binary serves, so integration tests exercise production code.

pub mod cli;
pub mod clock;
pub mod config;
pub mod http;
pub mod scim;
pub mod service;
pub mod store;
pub mod tls;
pub mod ui;

use rocket::fairing::AdHoc;
use rocket::figment::Figment;
use rocket::shield::{Frame, NoSniff, Shield};
use rocket::{Build, Rocket};

use crate::config::Config;
use crate::service::admins::{LoginLimiter, LoginPolicy};
use crate::service::rate_limit::RateLimiter;
use crate::store::Store;

/// The scimd application for `config`. The database is opened (and migrated) when Rocket
/// ignites; a failure there aborts the launch with the reason logged.
pub fn rocket(config: Config) -> Rocket<Build> {
    let figment = rocket_figment(&config);
    service::passwords::configure(service::passwords::PoolLimits {
        at_once: config.limits.password_hashes_at_once,
        max_bytes: config.limits.max_password_bytes,
    });
    let app = rocket::custom(figment)
        // Every response, UI or API, may not be framed (the UI's sign-in least of all) and is
        // not content-sniffed. Headers set here once, not by responders, so Shield never finds
        // one already present (it warned on every UI response).
        .attach(
            Shield::default()
                .enable(Frame::Deny)
                .enable(NoSniff::Enable),
        )
        .manage(RateLimiter::default())
        .manage(LoginLimiter::new(LoginPolicy {
            per_user_and_address: config.limits.login_failures,
            per_address: config.limits.login_failures_per_address,
            ..LoginPolicy::default()
        }))
        .attach(AdHoc::try_on_ignite("scimd store", |rocket| async move {
            match open_store(&config) {
                Ok(store) => Ok(rocket.manage(http::App { store, config })),
                Err(e) => {
                    tracing::error!("cannot open database {}: {e}", config.database.display());
                    Err(rocket)
                }
            }
        }));
    // The HTTP ceiling of the benchmark harness (benches/run.sh); never in a default build.
    #[cfg(feature = "bench-hello")]
    let app = app.mount("/bench", http::bench::routes());
    http::mount(app)
}

/// Opens the store and makes sure the `default` tenant exists.
pub fn open_store(config: &Config) -> Result<Store, store::StoreError> {
    let store = Store::open(&config.database)?;
    let now = clock::timestamp(clock::now());
    if store.write_blocking(move |tx| store::tenants::ensure_default(tx, &now))? {
        tracing::info!("created the default tenant");
    }
    Ok(store)
}

/// Rocket's own settings, derived from ours only, so no `Rocket.toml` or `ROCKET_*` variable
/// can change behaviour behind the admin's back.
fn rocket_figment(config: &Config) -> Figment {
    let body_limit = config.limits.max_body_bytes;
    let mut figment = Figment::from(rocket::Config::release_default())
        .merge(("address", config.address))
        .merge(("port", config.port))
        .merge(("ident", "scimd"))
        .merge(("log_level", rocket::config::LogLevel::Off))
        .merge(("cli_colors", false))
        // Read by the vendored Rocket's `serve` (vendor/rocket/PATCHES.md).
        .merge(("header_read_timeout", config.limits.header_timeout_secs))
        .merge(("max_connections", config.limits.max_connections))
        // The body guard enforces max_body_bytes itself; Rocket's limits must not be lower.
        .merge((
            "limits",
            rocket::data::Limits::default()
                .limit("bytes", body_limit.into())
                .limit("json", body_limit.into()),
        ));
    figment = match &config.client_ip_header {
        Some(header) => figment.merge(("ip_header", header)),
        // Rocket trusts X-Real-IP by default; scimd only trusts a header it was told about.
        None => figment.merge(("ip_header", false)),
    };
    if let Some(tls) = &config.tls {
        figment = figment
            .merge(("tls.certs", &tls.certs))
            .merge(("tls.key", &tls.key));
    }
    figment
}
