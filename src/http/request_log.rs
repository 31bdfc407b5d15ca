//! The request log's HTTP side: a fairing that notes when a SCIM request arrives and, once its
//! response is ready, counts it in the metrics and hands a raw capture to the log queue
//! (`service::request_log`). Nothing here waits on the database: the capture is a few copies
//! and a `try_send`. A second fairing starts the writer at liftoff and flushes at shutdown.

use std::io::Cursor;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use rocket::fairing::{Fairing, Info, Kind};
use rocket::tokio::io::AsyncReadExt;
use rocket::{Data, Orbit, Request, Response, Rocket};

use super::auth::{LoggedToken, TenantSecrets};
use super::metrics::Metrics;
use super::{App, tenant_slug};
use crate::scim::diagnosis::{idp_from_user_agent, kept_user_agent};
use crate::scim::quirks::{Quirk, Quirks};
use crate::service::request_log::{Capture, CaptureBuffer, Field, RequestLog};

/// Room in a new capture buffer for the tenant, the token's id and name, a User-Agent and a
/// typical body or two, beyond the URL, so that it is allocated once.
const NEW_BUFFER_ROOM: usize = 2048;

/// The metrics' tenant label of a request whose URL names no tenant that exists, or whose
/// tenant was never looked up (refused before, e.g. for a missing token).
const UNKNOWN_TENANT: &str = "unknown";

/// A SCIM request on its way: when it arrived and, when the log records it, its capture so
/// far, which starts with the URL as the client sent it (before the tenant prefix is stripped
/// for routing).
struct Arriving {
    start: Instant,
    time: time::OffsetDateTime,
    parts: Option<CaptureBuffer>,
}

/// Taken by the response fairing, so its capture moves on without a copy.
struct Arrival(Mutex<Option<Arriving>>);

impl Arrival {
    fn take(&self) -> Option<Arriving> {
        self.0.lock().ok().and_then(|mut a| a.take())
    }
}

/// What parsing a SCIM request noticed (IdP dialect, undeclared attributes), for its log
/// entry: handlers and guards add to it, the response fairing takes it.
#[derive(Default)]
pub struct Noticed(Mutex<Quirks>);

impl Noticed {
    /// The request's collector.
    pub fn of<'r>(req: &'r Request<'_>) -> &'r Self {
        req.local_cache(Self::default)
    }

    /// Adds what a service call noticed.
    pub fn keep(&self, quirks: &Quirks) {
        if let Ok(mut q) = self.0.lock() {
            q.merge(quirks);
        }
    }

    /// Notes one quirk.
    pub fn note(&self, quirk: Quirk) {
        if let Ok(mut q) = self.0.lock() {
            q.note(quirk);
        }
    }

    fn take(&self) -> Quirks {
        self.0
            .lock()
            .map(|mut q| std::mem::take(&mut *q))
            .unwrap_or_default()
    }
}

#[rocket::async_trait]
impl<'r> rocket::request::FromRequest<'r> for &'r Noticed {
    type Error = std::convert::Infallible;

    async fn from_request(req: &'r Request<'_>) -> rocket::request::Outcome<Self, Self::Error> {
        rocket::request::Outcome::Success(Noticed::of(req))
    }
}

/// The request body as read by the body guard.
struct RawBody(Option<Bytes>);

/// The body a SCIM responder rendered, so that the log need not read the response back.
struct RenderedBody(Option<Bytes>);

/// The request log, when it records requests.
fn recording<'r>(req: &'r Request<'_>) -> Option<&'r RequestLog> {
    req.rocket()
        .state::<Arc<RequestLog>>()
        .map(Arc::as_ref)
        .filter(|log| log.enabled())
}

/// Keeps the request body for the log, when the log is on.
pub fn keep_body(req: &Request<'_>, body: &Bytes) {
    if recording(req).is_some() {
        req.local_cache(|| RawBody(Some(body.clone())));
    }
}

/// Keeps the response body a SCIM responder rendered for the log, when the log is on.
pub fn keep_response_body(req: &Request<'_>, body: &Bytes) {
    if recording(req).is_some() {
        req.local_cache(|| RenderedBody(Some(body.clone())));
    }
}

/// A response whose body the log must not keep (a token response holds the access token).
struct Withheld(bool);

/// Keeps this response's body out of the request log.
pub fn withhold_response_body(req: &Request<'_>) {
    req.local_cache(|| Withheld(true));
}

/// Copies the response body into the capture: the body its responder rendered, or else (a
/// responder that does not hand its body to the log) read back and put back.
async fn capture_response(
    req: &Request<'_>,
    res: &mut Response<'_>,
    parts: &mut CaptureBuffer,
    cap: usize,
) {
    let size = res.body().preset_size();
    if size == Some(0) || req.local_cache(|| Withheld(false)).0 {
        return;
    }
    // No fairing of scimd replaces a body, so a body of the rendered size is the rendered one.
    if let Some(rendered) = &req.local_cache(|| RenderedBody(None)).0
        && size == Some(rendered.len())
    {
        parts.set_body(Field::ResponseBody, rendered, cap);
        return;
    }
    // Reading into a buffer of the known size spares the regrowth of `to_bytes`.
    let mut read = Vec::with_capacity(size.unwrap_or(0));
    if res.body_mut().read_to_end(&mut read).await.is_err() {
        read.clear();
    }
    parts.set_body(Field::ResponseBody, &read, cap);
    if !read.is_empty() {
        res.set_sized_body(read.len(), Cursor::new(read));
    }
}

fn is_scim(path: &str) -> bool {
    // Without the leading slash, so that a tenant's tail is checked without a copy.
    // The OAuth token endpoint is logged like the SCIM API: its refusals are diagnoses.
    let scim = |p: &str| p == "scim/v2" || p.starts_with("scim/v2/") || p == "oauth/token";
    if path.strip_prefix('/').is_some_and(scim) {
        return true;
    }
    path.strip_prefix("/t/")
        .and_then(|rest| rest.split_once('/'))
        .is_some_and(|(_, tail)| scim(tail))
}

/// The header that names a request, in both directions.
const REQUEST_ID_HEADER: &str = "X-Request-Id";
/// Longest `X-Request-Id` taken from a client; a longer (or unprintable) one is replaced.
const MAX_REQUEST_ID: usize = 128;

/// The id every response carries in `X-Request-Id` and the request log stores: the client's
/// own when it sent a usable one (an IdP can then match its log line to scimd's entry), else
/// 128 random bits in hex.
struct RequestId(String);

impl RequestId {
    fn of(req: &Request<'_>) -> Self {
        let sent = req
            .headers()
            .get_one(REQUEST_ID_HEADER)
            .map(str::trim)
            .filter(|id| {
                !id.is_empty()
                    && id.len() <= MAX_REQUEST_ID
                    && id.bytes().all(|b| b.is_ascii_graphic())
            });
        Self(sent.map_or_else(|| format!("{:032x}", rand::random::<u128>()), str::to_owned))
    }
}

/// Records every SCIM request and gives every response its `X-Request-Id`; must be attached
/// before the tenant prefix rewrite.
pub struct RequestLogFairing;

#[rocket::async_trait]
impl Fairing for RequestLogFairing {
    fn info(&self) -> Info {
        Info {
            name: "request log",
            kind: Kind::Request | Kind::Response,
        }
    }

    async fn on_request(&self, req: &mut Request<'_>, _: &mut Data<'_>) {
        let id = &req.local_cache(|| RequestId::of(req)).0;
        let path = req.uri().path().as_str();
        if !is_scim(path) {
            return;
        }
        let parts = recording(req).map(|log| {
            let query = req.uri().query().map(|q| q.as_str());
            let cap = log.field_cap();
            let room = path.len().min(cap) + query.map_or(0, |q| q.len().min(cap));
            let mut parts = log.buffer(room + NEW_BUFFER_ROOM);
            parts.set_capped(Field::Path, path, cap);
            if let Some(query) = query {
                parts.set_capped(Field::Query, query, cap);
            }
            parts.set_capped(Field::RequestId, id, cap);
            parts
        });
        let arriving = Arriving {
            start: Instant::now(),
            time: crate::clock::now(),
            parts,
        };
        req.local_cache(|| Arrival(Mutex::new(Some(arriving))));
    }

    async fn on_response<'r>(&self, req: &'r Request<'_>, res: &mut Response<'r>) {
        let id = &req.local_cache(|| RequestId::of(req)).0;
        res.set_raw_header(REQUEST_ID_HEADER, id.clone());
        let Some(Arriving { start, time, parts }) =
            req.local_cache(|| Arrival(Mutex::new(None))).take()
        else {
            return;
        };
        let latency = start.elapsed();
        let status = res.status().code;
        let agent = req.headers().get_one("User-Agent");
        let tenant = tenant_slug(req);
        let seen = req.local_cache(LoggedToken::default);
        if let Some(metrics) = req.rocket().state::<Arc<Metrics>>() {
            metrics.observe(
                // The URL's slug is anyone's choice; only a tenant that exists is a label.
                if seen.tenant_known {
                    tenant
                } else {
                    UNKNOWN_TENANT
                },
                resource_label(req.uri().path().as_str()),
                req.method().as_str(),
                status,
                idp_from_user_agent(agent),
                latency,
            );
        }
        let (Some(log), Some(mut parts)) = (recording(req), parts) else {
            return;
        };
        if seen.token.is_none()
            && !log.admit_anonymous(if seen.tenant_known { tenant } else { "" }, status)
        {
            return;
        }
        let cap = log.body_cap();
        if let Some(body) = &req.local_cache(|| RawBody(None)).0 {
            parts.set_body(Field::RequestBody, body, cap);
        }
        capture_response(req, res, &mut parts, cap).await;
        let quirks = Noticed::of(req).take();
        let field_cap = log.field_cap();
        parts.set_capped(Field::Tenant, tenant, field_cap);
        if let Some((id, name)) = &seen.token {
            parts.set_capped(Field::TokenId, id, field_cap);
            parts.set_capped(Field::TokenName, name, field_cap);
        }
        if let Some(agent) = agent {
            parts.set_capped(Field::UserAgent, kept_user_agent(agent), field_cap);
        }
        log.submit(Capture {
            time: Some(time),
            method: req.method().as_str(),
            client_ip: req.client_ip(),
            status,
            latency_ms: latency.as_secs_f64() * 1000.0,
            parts,
            quirks,
            secrets: req.local_cache(TenantSecrets::default).0.clone(),
        });
    }
}

/// Runs the request log's one writer from liftoff and flushes it at shutdown; attached to one
/// listener only ([`super::workers`]).
pub struct RequestLogWriter;

#[rocket::async_trait]
impl Fairing for RequestLogWriter {
    fn info(&self) -> Info {
        Info {
            name: "request log writer",
            kind: Kind::Liftoff | Kind::Shutdown,
        }
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
