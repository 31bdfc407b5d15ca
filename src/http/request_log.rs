//! The request log's HTTP side: a fairing that notes when a SCIM request arrives and, once its
//! response is ready, counts it in the metrics and hands a raw capture to the log queue
//! (`service::request_log`). Nothing here waits on the database: the capture is a few copies
//! and a `try_send`. The fairing also starts the writer at liftoff and flushes at shutdown.

use std::io::Cursor;
use std::sync::Arc;
use std::time::Instant;

use rocket::fairing::{Fairing, Info, Kind};
use rocket::tokio::io::AsyncReadExt;
use rocket::{Data, Orbit, Request, Response, Rocket};

use super::auth::LoggedToken;
use super::metrics::Metrics;
use super::{App, tenant_slug};
use crate::scim::diagnosis::idp_from_user_agent;
use crate::service::request_log::{Capture, RequestLog};

/// Longest User-Agent kept; IdPs send short ones.
const MAX_AGENT_CHARS: usize = 200;

/// When a SCIM request arrived and the URL as the client sent it (before the tenant prefix is
/// stripped for routing).
struct Arrival(Option<(Instant, time::OffsetDateTime, String, Option<String>)>);

/// The request body as read by the body guard (up to the log's cap) and whether it is whole.
pub struct RawBody(pub Option<(Vec<u8>, bool)>);

/// Keeps a copy of a request body for the log, when the log is on.
pub fn keep_body(req: &Request<'_>, bytes: &[u8]) {
    let Some(log) = req.rocket().state::<Arc<RequestLog>>() else {
        return;
    };
    if !log.enabled() {
        return;
    }
    let cap = log.body_cap();
    let kept = bytes[..bytes.len().min(cap)].to_vec();
    req.local_cache(|| RawBody(Some((kept, bytes.len() <= cap))));
}

fn is_scim(path: &str) -> bool {
    let scim = |p: &str| p == "/scim/v2" || p.starts_with("/scim/v2/");
    if scim(path) {
        return true;
    }
    path.strip_prefix("/t/")
        .and_then(|rest| rest.split_once('/'))
        .is_some_and(|(_, tail)| scim(&format!("/{tail}")))
}

/// Records every SCIM request; must be attached before the tenant prefix rewrite.
pub struct RequestLogFairing;

#[rocket::async_trait]
impl Fairing for RequestLogFairing {
    fn info(&self) -> Info {
        Info {
            name: "request log",
            kind: Kind::Request | Kind::Response | Kind::Liftoff | Kind::Shutdown,
        }
    }

    async fn on_request(&self, req: &mut Request<'_>, _: &mut Data<'_>) {
        let path = req.uri().path().as_str();
        if !is_scim(path) {
            return;
        }
        let arrival = (
            Instant::now(),
            crate::clock::now(),
            path.to_owned(),
            req.uri().query().map(|q| q.as_str().to_owned()),
        );
        req.local_cache(|| Arrival(Some(arrival)));
    }

    async fn on_response<'r>(&self, req: &'r Request<'_>, res: &mut Response<'r>) {
        let Some((start, time, path, query)) = &req.local_cache(|| Arrival(None)).0 else {
            return;
        };
        let latency = start.elapsed();
        let status = res.status().code;
        let agent = req.headers().get_one("User-Agent");
        let tenant = tenant_slug(req);
        if let Some(metrics) = req.rocket().state::<Metrics>() {
            let rt = resource_label(path);
            metrics.observe(
                tenant,
                rt,
                req.method().as_str(),
                status,
                idp_from_user_agent(agent),
                latency,
            );
        }
        let Some(log) = req.rocket().state::<Arc<RequestLog>>() else {
            return;
        };
        if !log.enabled() {
            return;
        }
        let cap = log.body_cap();
        let (response_body, response_complete) = match res.body().preset_size() {
            Some(0) => (Vec::new(), true),
            size => {
                // SCIM responses are sized in-memory bodies: read, keep a prefix, put back.
                // Reading into a buffer of the known size spares the regrowth of `to_bytes`.
                let mut bytes = Vec::with_capacity(size.unwrap_or(0));
                if res.body_mut().read_to_end(&mut bytes).await.is_err() {
                    bytes.clear();
                }
                let kept = bytes[..bytes.len().min(cap)].to_vec();
                let complete = bytes.len() <= cap;
                if !bytes.is_empty() {
                    res.set_sized_body(bytes.len(), Cursor::new(bytes));
                }
                (kept, complete)
            }
        };
        let (request_body, request_complete) = req
            .local_cache(|| RawBody(None))
            .0
            .clone()
            .unwrap_or((Vec::new(), true));
        log.submit(Capture {
            time: Some(*time),
            tenant: tenant.to_owned(),
            token: req.local_cache(|| LoggedToken(None)).0.clone(),
            client_ip: req.client_ip().map(|ip| ip.to_string()),
            user_agent: agent.map(|a| a.chars().take(MAX_AGENT_CHARS).collect()),
            method: req.method().as_str().to_owned(),
            path: path.clone(),
            query: query.clone(),
            status,
            latency_ms: latency.as_secs_f64() * 1000.0,
            request_body,
            request_complete,
            response_body,
            response_complete,
        });
    }

    async fn on_liftoff(&self, rocket: &Rocket<Orbit>) {
        let (Some(log), Some(app)) = (rocket.state::<Arc<RequestLog>>(), rocket.state::<App>())
        else {
            return;
        };
        let (log, store) = (log.clone(), app.store.clone());
        rocket::tokio::spawn(async move { log.run_writer(store).await });
    }

    async fn on_shutdown(&self, rocket: &Rocket<Orbit>) {
        if let (Some(log), Some(app)) = (rocket.state::<Arc<RequestLog>>(), rocket.state::<App>()) {
            log.flush(&app.store).await;
        }
    }
}

/// `User`, `Group` or `other` for the metrics label.
fn resource_label(path: &str) -> &'static str {
    if path.contains("/scim/v2/Users") {
        "User"
    } else if path.contains("/scim/v2/Groups") {
        "Group"
    } else {
        "other"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scim_paths() {
        assert!(is_scim("/scim/v2/Users"));
        assert!(is_scim("/t/acme/scim/v2/Users/x"));
        assert!(is_scim("/scim/v2"));
        assert!(!is_scim("/api/log"));
        assert!(!is_scim("/t/acme/api"));
        assert!(!is_scim("/scim/v20"));
    }
}
