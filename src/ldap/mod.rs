//! The read-only LDAP v3 front-end (`[ldap]`, issue 24): a sibling of [`crate::http`] serving
//! the same tenants' users and groups to applications that speak LDAP, through the same
//! service layer. The wire format is `ldap3_proto`'s codec (kanidm); this module owns the
//! listener and connections, [`handler`] one session's operations, [`bind`] and [`search`]
//! those two operations, [`entries`] the mapping from SCIM to LDAP entries, [`filter`] the
//! translation of LDAP filters into the SCIM filter AST that [`crate::store::filter_sql`]
//! runs, [`dn`] distinguished names.
//!
//! The listener runs as tasks on Rocket's runtime, started at liftoff and stopped by Rocket's
//! shutdown like the other background workers; its port is bound at ignition so a port in
//! use fails the launch with the reason, as the HTTP listener does.

pub mod bind;
pub mod cli;
pub mod dn;
pub mod entries;
pub mod filter;
pub mod handler;
pub mod search;
mod stream;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use rocket::fairing::{Fairing, Info, Kind};
use rocket::{Build, Orbit, Rocket};

use crate::config::{Config, LdapConfig};
use crate::service::ldap::BindThrottle;
use crate::service::request_log::RequestLog;
use crate::store::Store;

pub use stream::Stream;

/// What every connection shares.
pub struct Ctx {
    pub store: Store,
    pub config: LdapConfig,
    pub log: Arc<RequestLog>,
    pub throttle: BindThrottle,
    pub operations: prometheus::IntCounterVec,
    /// The HTTPS certificate, for LDAPS and StartTLS (`[tls]`).
    pub tls: Option<tokio_rustls::TlsAcceptor>,
}

/// The fairing that runs the LDAP listeners (attached with the other background workers).
#[derive(Default)]
pub struct LdapListener {
    bound: Mutex<Vec<(std::net::TcpListener, bool)>>,
}

#[rocket::async_trait]
impl Fairing for LdapListener {
    fn info(&self) -> Info {
        Info {
            name: "ldap listener",
            kind: Kind::Ignite | Kind::Liftoff,
        }
    }

    async fn on_ignite(&self, rocket: Rocket<Build>) -> rocket::fairing::Result {
        let Some(config) = rocket.state::<crate::http::App>().map(|a| a.config.clone()) else {
            return Ok(rocket);
        };
        if !config.ldap.enabled {
            return Ok(rocket);
        }
        match bind_ports(&config) {
            Ok(listeners) => {
                if let Ok(mut bound) = self.bound.lock() {
                    *bound = listeners;
                }
                Ok(rocket)
            }
            Err(e) => {
                tracing::error!("{e}");
                Err(rocket)
            }
        }
    }

    async fn on_liftoff(&self, rocket: &Rocket<Orbit>) {
        let listeners = self
            .bound
            .lock()
            .map(|mut b| std::mem::take(&mut *b))
            .unwrap_or_default();
        if listeners.is_empty() {
            return;
        }
        let (Some(app), Some(log), Some(metrics)) = (
            rocket.state::<crate::http::App>(),
            rocket.state::<Arc<RequestLog>>(),
            rocket.state::<Arc<crate::http::Metrics>>(),
        ) else {
            return;
        };
        let tls = match app.config.tls.as_ref().map(crate::tls::server_config) {
            Some(Ok(c)) => Some(tokio_rustls::TlsAcceptor::from(Arc::new(c))),
            Some(Err(e)) => {
                tracing::error!("LDAP: cannot load the TLS certificate: {e}");
                None
            }
            None => None,
        };
        let ctx = Arc::new(Ctx {
            store: app.store.clone(),
            config: app.config.ldap.clone(),
            log: Arc::clone(log),
            throttle: BindThrottle::default(),
            operations: metrics.ldap_operations(),
            tls,
        });
        for (listener, implicit_tls) in listeners {
            let listener = match rocket::tokio::net::TcpListener::from_std(listener) {
                Ok(l) => l,
                Err(e) => {
                    tracing::error!("LDAP: cannot serve: {e}");
                    continue;
                }
            };
            if let Ok(addr) = listener.local_addr() {
                let scheme = if implicit_tls { "ldaps" } else { "ldap" };
                tracing::info!("LDAP directory at {scheme}://{addr}");
            }
            let shutdown = rocket.shutdown();
            rocket::tokio::spawn(accept(listener, implicit_tls, Arc::clone(&ctx), shutdown));
        }
    }
}

/// Binds the LDAP port and, with `tls_port`, the LDAPS port.
fn bind_ports(config: &Config) -> Result<Vec<(std::net::TcpListener, bool)>, String> {
    let l = &config.ldap;
    let mut ports = vec![(l.port, false)];
    if let Some(p) = l.tls_port {
        ports.push((p, true));
    }
    ports
        .into_iter()
        .map(|(port, tls)| {
            let addr = SocketAddr::new(l.address, port);
            let listener = std::net::TcpListener::bind(addr).map_err(|e| {
                format!(
                    "cannot listen for LDAP on {addr}: {e} (ldap.address, ldap.port, ldap.tls_port)"
                )
            })?;
            listener
                .set_nonblocking(true)
                .map_err(|e| format!("cannot listen for LDAP on {addr}: {e}"))?;
            Ok((listener, tls))
        })
        .collect()
}

async fn accept(
    listener: rocket::tokio::net::TcpListener,
    implicit_tls: bool,
    ctx: Arc<Ctx>,
    mut shutdown: rocket::Shutdown,
) {
    let slots = Arc::new(rocket::tokio::sync::Semaphore::new(
        usize::try_from(ctx.config.max_connections).unwrap_or(usize::MAX),
    ));
    loop {
        // At the limit, stop accepting: further clients wait in the kernel's queue.
        let slot = rocket::tokio::select! {
            s = Arc::clone(&slots).acquire_owned() => match s {
                Ok(s) => s,
                Err(_) => return,
            },
            () = &mut shutdown => return,
        };
        let accepted = rocket::tokio::select! {
            a = listener.accept() => a,
            () = &mut shutdown => return,
        };
        let (socket, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!("LDAP accept failed: {e}");
                rocket::tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = socket.set_nodelay(true);
        let ctx = Arc::clone(&ctx);
        let shutdown = shutdown.clone();
        rocket::tokio::spawn(async move {
            let _slot = slot;
            let stream = if implicit_tls {
                let Some(acceptor) = ctx.tls.clone() else {
                    return;
                };
                match acceptor.accept(socket).await {
                    Ok(s) => Stream::Tls(Box::new(s)),
                    Err(e) => {
                        tracing::debug!("LDAPS handshake with {peer} failed: {e}");
                        return;
                    }
                }
            } else {
                Stream::Plain(socket)
            };
            handler::serve(stream, peer, ctx, shutdown).await;
        });
    }
}
