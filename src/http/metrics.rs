//! `GET /metrics` in the Prometheus text format (the `prometheus` crate renders it): SCIM
//! requests by tenant, resource type, method, status and IdP; a latency histogram; the request
//! log's queue depth, drops, writes, requests not logged in full and disk use; the seconds
//! until each token expires; how long each write held the database writer (kept by the store,
//! rendered here). Every label comes from a fixed set or from a value the server resolved (a
//! tenant or token that exists), never from what a client wrote in a URL or header, so no
//! client can grow the registry.
//!
//! Access: a client on the loopback address may scrape without a token (behind a proxy, the
//! client is the address in the serving listener's `client_ip_header`, not the proxy); anyone
//! else must send `Authorization: Bearer <[metrics] token>`. The configured
//! token is compared by SHA-256 digest in constant time, like SCIM tokens.

use std::sync::Arc;
use std::time::Duration;

use prometheus::proto::{Bucket, Histogram, Metric, MetricFamily, MetricType};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};
use rocket::http::{ContentType, Status};
use rocket::request::{FromRequest, Outcome, Request};
use rocket::{Route, State, get, routes};
use subtle::ConstantTimeEq;

use super::{App, ThisListener};
use crate::service::request_log::RequestLog;
use crate::service::tokens;
use crate::service::webhooks::Delivery;
use crate::store::{HOLD_BUCKETS, HoldSnapshot};

pub(crate) fn routes() -> Vec<Route> {
    routes![metrics]
}

/// The registry and the instruments updated on the request path (in memory only).
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    queue_depth: IntGauge,
    dropped: IntGauge,
    written: IntGauge,
    sampled_out: IntGauge,
    disk_bytes: IntGauge,
    token_expiry: IntGaugeVec,
    events_last_seq: IntGauge,
    events_bytes: IntGauge,
    events_oldest_age: IntGauge,
    webhook_attempts: IntGaugeVec,
    webhook_oldest: IntGaugeVec,
    webhook_endpoints: IntGaugeVec,
    mass_change_alarms: IntGaugeVec,
    ldap_operations: IntCounterVec,
}

impl Metrics {
    /// Builds and registers every instrument. Registration only fails on duplicate names,
    /// which this fixed set cannot have.
    #[allow(clippy::expect_used)]
    pub fn new() -> Self {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new("scimd_requests_total", "SCIM requests answered"),
            &["tenant", "resource_type", "method", "status", "idp"],
        )
        .expect("valid metric");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "scimd_request_duration_seconds",
                "Time from request arrival to response, in seconds",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["resource_type", "method"],
        )
        .expect("valid metric");
        let queue_depth = IntGauge::new(
            "scimd_request_log_queue_depth",
            "Request log entries waiting to be written",
        )
        .expect("valid metric");
        let dropped = IntGauge::new(
            "scimd_request_log_dropped_total",
            "Request log entries dropped because the queue was full",
        )
        .expect("valid metric");
        let written = IntGauge::new(
            "scimd_request_log_written_total",
            "Request log entries written",
        )
        .expect("valid metric");
        let sampled_out = IntGauge::new(
            "scimd_request_log_sampled_out_total",
            "Requests without a known token not logged in full (over request_log.anonymous_per_minute)",
        )
        .expect("valid metric");
        let disk_bytes = IntGauge::new(
            "scimd_request_log_disk_bytes",
            "Bytes the request log's file and its WAL take on disk",
        )
        .expect("valid metric");
        let webhook_attempts = IntGaugeVec::new(
            Opts::new(
                "scimd_webhook_attempts_total",
                "Webhook delivery attempts since start, by outcome: delivered (2xx), rejected (another status), failed (no answer)",
            ),
            &["outcome"],
        )
        .expect("valid metric");
        let webhook_oldest = IntGaugeVec::new(
            Opts::new(
                "scimd_webhook_oldest_undelivered_age_seconds",
                "Age of the oldest event a webhook endpoint has not received yet (0 when none)",
            ),
            &["tenant", "webhook", "state"],
        )
        .expect("valid metric");
        let webhook_endpoints = IntGaugeVec::new(
            Opts::new(
                "scimd_webhook_endpoints",
                "Webhook endpoints by state; failing or disabled ones need an admin",
            ),
            &["state"],
        )
        .expect("valid metric");
        let events_last_seq = IntGauge::new(
            "scimd_events_last_seq",
            "The newest event's sequence number (the feed's head)",
        )
        .expect("valid metric");
        let events_bytes = IntGauge::new(
            "scimd_events_bytes",
            "Bytes of the event bodies kept (events.max_bytes bounds it)",
        )
        .expect("valid metric");
        let events_oldest_age = IntGauge::new(
            "scimd_events_oldest_age_seconds",
            "Age of the oldest event kept (events.retention_days bounds it)",
        )
        .expect("valid metric");
        let mass_change_alarms = IntGaugeVec::new(
            Opts::new(
                "scimd_mass_change_alarms_open",
                "Open mass-change alarms (deletions plus deactivations over a tenant's threshold)",
            ),
            &["tenant"],
        )
        .expect("valid metric");
        let token_expiry = IntGaugeVec::new(
            Opts::new(
                "scimd_token_expiry_seconds",
                "Seconds until a token expires (negative: expired); tokens without expiry are absent",
            ),
            &["tenant", "token"],
        )
        .expect("valid metric");
        let ldap_operations = IntCounterVec::new(
            Opts::new(
                "scimd_ldap_operations_total",
                "LDAP operations answered, by operation and result code",
            ),
            &["operation", "result"],
        )
        .expect("valid metric");
        for c in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(queue_depth.clone()),
            Box::new(dropped.clone()),
            Box::new(written.clone()),
            Box::new(sampled_out.clone()),
            Box::new(disk_bytes.clone()),
            Box::new(token_expiry.clone()),
            Box::new(events_last_seq.clone()),
            Box::new(events_bytes.clone()),
            Box::new(events_oldest_age.clone()),
            Box::new(webhook_attempts.clone()),
            Box::new(webhook_oldest.clone()),
            Box::new(webhook_endpoints.clone()),
            Box::new(mass_change_alarms.clone()),
            Box::new(ldap_operations.clone()),
        ] {
            registry.register(c).expect("unique metric names");
        }
        Self {
            registry,
            requests,
            latency,
            queue_depth,
            dropped,
            written,
            sampled_out,
            disk_bytes,
            token_expiry,
            events_last_seq,
            events_bytes,
            events_oldest_age,
            webhook_attempts,
            webhook_oldest,
            webhook_endpoints,
            mass_change_alarms,
            ldap_operations,
        }
    }

    /// `scimd_ldap_operations_total`, shared with the LDAP listener (`src/ldap/`).
    pub fn ldap_operations(&self) -> IntCounterVec {
        self.ldap_operations.clone()
    }

    /// Counts one answered SCIM request.
    pub fn observe(
        &self,
        tenant: &str,
        resource_type: &str,
        method: &str,
        status: u16,
        idp: &str,
        latency: Duration,
    ) {
        let status = status.to_string();
        self.requests
            .with_label_values(&[tenant, resource_type, method, status.as_str(), idp])
            .inc();
        self.latency
            .with_label_values(&[resource_type, method])
            .observe(latency.as_secs_f64());
    }

    fn render(&self, held: &HoldSnapshot) -> String {
        let mut families = self.registry.gather();
        families.push(writer_hold_family(held));
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&families, &mut out) {
            tracing::warn!("cannot render metrics: {e}");
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// `scimd_writer_hold_seconds`: the store's histogram of how long each write held the writer.
fn writer_hold_family(held: &HoldSnapshot) -> MetricFamily {
    let buckets = held
        .cumulative
        .iter()
        .zip(HOLD_BUCKETS)
        .map(|(n, bound)| {
            let mut b = Bucket::default();
            b.set_cumulative_count(*n);
            b.set_upper_bound(bound);
            b
        })
        .collect();
    let mut h = Histogram::default();
    h.set_sample_count(held.count);
    h.set_sample_sum(held.sum_seconds);
    h.set_bucket(buckets);
    let mut m = Metric::default();
    m.set_histogram(h);
    let mut f = MetricFamily::default();
    f.set_name("scimd_writer_hold_seconds".into());
    f.set_help(
        "Time each write held the database writer (its own work, without the shared commit), in seconds"
            .into(),
    );
    f.set_field_type(MetricType::HISTOGRAM);
    f.set_metric(vec![m]);
    f
}

/// A scraper allowed to read `/metrics`.
pub struct Scraper;

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Scraper {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        let config = req.rocket().state::<App>().map(|a| &a.config);
        let header = req
            .rocket()
            .state::<ThisListener>()
            .and_then(|l| l.client_ip_header.as_deref());
        if is_loopback_client(req, header) {
            return Outcome::Success(Self);
        }
        let configured = config.and_then(|c| c.metrics.token.clone());
        let presented = req
            .headers()
            .get_one("Authorization")
            .and_then(|h| h.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim());
        match (configured, presented) {
            (Some(want), Some(got))
                if bool::from(tokens::hash_secret(&want).ct_eq(&tokens::hash_secret(got))) =>
            {
                Outcome::Success(Self)
            }
            _ => Outcome::Error((Status::Unauthorized, ())),
        }
    }
}

/// Whether the client itself (not just the TCP peer) is on this machine. Behind a proxy that
/// sets `client_ip_header`, the peer is the proxy, often on loopback, so the client is the
/// address Rocket takes from that header (`client_ip()`, the peer's when the header is
/// missing). Any other common proxy header marks the request as forwarded from elsewhere:
/// such headers are client-controlled, so they can only take the exemption away.
fn is_loopback_client(req: &Request<'_>, client_ip_header: Option<&str>) -> bool {
    let forwarded = ["X-Real-IP", "X-Forwarded-For", "Forwarded"]
        .into_iter()
        .filter(|h| !client_ip_header.is_some_and(|c| c.eq_ignore_ascii_case(h)))
        .any(|h| req.headers().contains(h));
    let client = match client_ip_header {
        Some(_) => req.client_ip(),
        None => req.remote().map(|a| a.ip()),
    };
    !forwarded && client.is_some_and(|ip| ip.is_loopback())
}

#[get("/metrics")]
async fn metrics(
    _s: Scraper,
    m: &State<Arc<Metrics>>,
    log: &State<Arc<RequestLog>>,
    webhooks: &State<Arc<Delivery>>,
    app: &State<App>,
) -> (ContentType, String) {
    m.queue_depth
        .set(i64::try_from(log.queue_depth()).unwrap_or(i64::MAX));
    m.dropped
        .set(i64::try_from(log.dropped()).unwrap_or(i64::MAX));
    m.written
        .set(i64::try_from(log.written()).unwrap_or(i64::MAX));
    m.sampled_out
        .set(i64::try_from(log.sampled_out()).unwrap_or(i64::MAX));
    m.disk_bytes
        .set(i64::try_from(app.store.log_disk_bytes()).unwrap_or(i64::MAX));
    if let Ok(b) = crate::service::events::backlog(&app.store).await {
        m.events_last_seq.set(b.last_seq);
        m.events_bytes.set(b.bytes);
        m.events_oldest_age.set(b.oldest_age_secs);
    }
    webhook_metrics(m, webhooks.inner().clone()).await;
    m.mass_change_alarms.reset();
    if let Ok(open) = crate::service::alarms::open(&app.store).await {
        for a in open {
            m.mass_change_alarms
                .with_label_values(&[a.tenant.as_str()])
                .inc();
        }
    }
    let store = app.store.clone();
    let listed = rocket::tokio::task::spawn_blocking(move || tokens::list(&store, None)).await;
    m.token_expiry.reset();
    if let Ok(Ok(list)) = listed {
        let now = crate::clock::now();
        for t in list.iter().filter(|t| t.token.revoked.is_none()) {
            let left = t.token.expires.as_deref().and_then(|e| {
                time::OffsetDateTime::parse(e, &time::format_description::well_known::Rfc3339).ok()
            });
            if let Some(at) = left {
                m.token_expiry
                    .with_label_values(&[t.tenant.as_str(), t.token.name.as_str()])
                    .set((at - now).whole_seconds());
            }
        }
    }
    (
        ContentType::new("text", "plain").with_params([("version", "0.0.4"), ("charset", "utf-8")]),
        m.render(&app.store.writer_hold_times()),
    )
}

/// The webhook instruments: attempts by outcome, and per endpoint its state and the age of the
/// oldest event it has yet to receive (labels are endpoints that exist).
async fn webhook_metrics(m: &Metrics, delivery: Arc<Delivery>) {
    let c = &delivery.counters;
    for (outcome, n) in [
        ("delivered", &c.delivered),
        ("rejected", &c.rejected),
        ("failed", &c.failed),
    ] {
        m.webhook_attempts
            .with_label_values(&[outcome])
            .set(i64::try_from(n.load(std::sync::atomic::Ordering::Relaxed)).unwrap_or(i64::MAX));
    }
    let Ok(gauges) = rocket::tokio::task::spawn_blocking(move || delivery.gauges()).await else {
        return;
    };
    m.webhook_oldest.reset();
    m.webhook_endpoints.reset();
    for state in ["active", "failing", "disabled"] {
        m.webhook_endpoints.with_label_values(&[state]).set(0);
    }
    for g in gauges {
        m.webhook_oldest
            .with_label_values(&[g.tenant.as_str(), g.id.as_str(), g.state.as_str()])
            .set(g.oldest_undelivered_secs);
        m.webhook_endpoints
            .with_label_values(&[g.state.as_str()])
            .inc();
    }
}
