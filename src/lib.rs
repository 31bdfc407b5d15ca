//! scimd: a self-hosted SCIM 2.0 service provider (RFC 7643 / RFC 7644).
//!
//! Layers, outermost first: [`http`] (Rocket adapters) → [`service`] (use cases) → [`scim`]
//! (protocol rules, no I/O) and [`store`] (SQLite). [`rocket`] assembles the exact application
//! the binary serves on one listener, and [`listeners`] the pair it serves with `[admin]`, so
//! integration tests exercise production code.

pub mod cli;
pub mod clock;
pub mod config;
pub mod http;
pub mod ldap;
pub mod outbound;
pub mod scim;
pub mod service;
pub mod store;
pub mod tls;
pub mod ui;

use rocket::fairing::AdHoc;
use rocket::figment::Figment;
use rocket::shield::{Frame, NoSniff, Shield};
use rocket::{Build, Rocket};

use crate::config::{Config, Listener};
use crate::http::{Serves, Shared};
use crate::store::Store;

/// The scimd application for `config` as one listener serving everything: the default, and
/// what the tests build (`[admin]` is not looked at here; see [`listeners`]). The database is
/// opened (and migrated) when Rocket ignites; a failure there aborts the launch with the
/// reason logged.
pub fn rocket(config: Config) -> Rocket<Build> {
    configure_passwords(&config);
    let app = listener(&config, &config.listener(), Serves::Everything);
    http::with_workers(app)
        .attach(AdHoc::try_on_ignite("scimd state", |rocket| async move {
            match Shared::open(config) {
                Ok(shared) => Ok(shared.manage(rocket)),
                Err(e) => {
                    tracing::error!("{e}");
                    Err(rocket)
                }
            }
        }))
        // After the state: its ignition reads the configuration the state holds.
        .attach(ldap::LdapListener::default())
}

/// What `scimd serve` runs: [`rocket`] alone, or with `[admin]` the public listener and the
/// admin listener, which share one state (one store, one request log writer, one token cache,
/// the same limiters and counters), opened here. The background workers run once, with the
/// public listener.
pub fn listeners(config: Config) -> Result<Vec<Rocket<Build>>, String> {
    let Some(admin) = config.admin_listener() else {
        return Ok(vec![rocket(config)]);
    };
    configure_passwords(&config);
    let public = http::with_workers(listener(&config, &config.listener(), Serves::Public));
    let admin = listener(&config, &admin, Serves::Admin);
    let shared = Shared::open(config)?;
    let public = shared
        .clone()
        .manage(public)
        .attach(ldap::LdapListener::default());
    Ok(vec![public, shared.manage(admin)])
}

/// One listener, with the route groups `serves` names; the shared state is managed by the
/// caller.
fn listener(config: &Config, bind: &Listener, serves: Serves) -> Rocket<Build> {
    let app = rocket::custom(rocket_figment(config, bind))
        // Every response, UI or API, may not be framed (the UI's sign-in least of all) and is
        // not content-sniffed. Headers set here once, not by responders, so Shield never finds
        // one already present (it warned on every UI response).
        .attach(
            Shield::default()
                .enable(Frame::Deny)
                .enable(NoSniff::Enable),
        );
    // The HTTP ceiling of the benchmark harness (benches/run.sh); never in a default build.
    #[cfg(feature = "bench-hello")]
    let app = if serves == Serves::Admin {
        app
    } else {
        app.mount("/bench", http::bench::routes())
    };
    http::mount(app, serves, bind)
}

/// The process-wide bounds of password hashing.
fn configure_passwords(config: &Config) {
    service::passwords::configure(service::passwords::PoolLimits {
        at_once: config.limits.password_hashes_at_once,
        max_bytes: config.limits.max_password_bytes,
    });
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

/// Rocket's own settings for the listener `bind`, derived from ours only, so no `Rocket.toml`
/// or `ROCKET_*` variable can change behaviour behind the admin's back.
fn rocket_figment(config: &Config, bind: &Listener) -> Figment {
    let body_limit = config.limits.max_body_bytes;
    let mut figment = Figment::from(rocket::Config::release_default())
        .merge(("address", bind.address))
        .merge(("port", bind.port))
        .merge(("ident", "scimd"))
        .merge(("log_level", rocket::config::LogLevel::Off))
        .merge(("cli_colors", false))
        // Read by the vendored Rocket's `serve` (vendor/rocket/PATCHES.md).
        .merge(("header_read_timeout", config.limits.header_timeout_secs))
        .merge(("max_connections", config.limits.max_connections))
        // Clients over max_connections wait in the kernel's accept queue, so it holds as many.
        .merge(("accept_queue", config.limits.max_connections))
        // The body guard enforces max_body_bytes itself; Rocket's limits must not be lower.
        .merge((
            "limits",
            rocket::data::Limits::default()
                .limit("bytes", body_limit.into())
                .limit("json", body_limit.into()),
        ));
    figment = match &bind.client_ip_header {
        Some(header) => figment.merge(("ip_header", header)),
        // Rocket trusts X-Real-IP by default; scimd only trusts a header it was told about.
        None => figment.merge(("ip_header", false)),
    };
    if let Some(tls) = &bind.tls {
        figment = figment
            .merge(("tls.certs", &tls.certs))
            .merge(("tls.key", &tls.key));
    }
    figment
}
