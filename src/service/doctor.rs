//! `scimd doctor` (issue 26): checks that this deployment will work with an IdP, each with the
//! fix when it will not: the machine itself (configuration, TLS files, the plain-HTTP rule,
//! the database, disk, backlogs, backups, tokens, the clock), then the way IdPs come in:
//! `public_url` called from here through the one outbound client, answered by this scimd's
//! probe (`GET /scim/v2/_doctor/<nonce>`), with `Authorization` and the query string intact.
//! The command line prints the report and the dashboard shows the last one.

use serde::{Deserialize, Serialize};
use std::path::Path;
use time::{Duration, OffsetDateTime};

use crate::clock;
use crate::config::Config;
use crate::store::{Store, maintenance};

/// The `maintenance` task the report is kept under; `backup` is `scimd backup`'s; the probe's
/// nonce is kept under `doctor probe` while a run lasts.
pub const DOCTOR_TASK: &str = "doctor";
pub const BACKUP_TASK: &str = "backup";
const PROBE_TASK: &str = "doctor probe";
/// A probe nonce older than this is not this run's.
const PROBE_VALID: Duration = Duration::minutes(5);
/// Sent in the probe's query string: the filter Okta sends for a user whose name has `+` and
/// `@`, percent-encoded as IdPs do, so a proxy that decodes or re-encodes it is caught.
const PROBE_QUERY: &str = "filter=userName%20eq%20%22a%2Bb%40example.com%22&startIndex=1&count=1";

/// A certificate this close to expiry fails the check: IdPs stop provisioning on the day.
const CERT_FAIL_DAYS: i64 = 7;
/// Free space under which writes are at risk (the request log and events alone can fill it).
const DISK_FAIL_BYTES: u64 = 256 << 20;
const DISK_WARN_BYTES: u64 = 1 << 30;
/// A backup older than this is reported: restoring it would lose a week of provisioning.
const BACKUP_WARN_DAYS: i64 = 7;
/// Tokens that expire within this many days are reported, so they are rotated in time.
const TOKEN_EXPIRY_WARN_DAYS: i64 = 14;
/// A token unused this long after its creation was probably never pasted into the IdP.
const TOKEN_UNUSED_WARN_HOURS: i64 = 24;
/// Timestamps recorded this far in the future mean the clock went back.
const CLOCK_SKEW_TOLERANCE: Duration = Duration::minutes(5);
/// A backlog above this share of its limit is reported before the oldest entries are pruned.
const BACKLOG_WARN_SHARE: f64 = 0.9;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Pass,
    Warn,
    Fail,
}

/// One check: what was looked at, what was found and, unless it passed, what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    pub name: String,
    pub outcome: Outcome,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    pub(crate) fn pass(name: &str, detail: impl Into<String>) -> Self {
        Self::new(name, Outcome::Pass, detail.into(), None)
    }
    pub(crate) fn warn(name: &str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self::new(name, Outcome::Warn, detail.into(), Some(fix.into()))
    }
    pub(crate) fn fail(name: &str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self::new(name, Outcome::Fail, detail.into(), Some(fix.into()))
    }
    fn new(name: &str, outcome: Outcome, detail: String, fix: Option<String>) -> Self {
        Self {
            name: name.to_owned(),
            outcome,
            detail,
            fix,
        }
    }
}

/// What one run of the doctor found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub ran_at: String,
    /// False when any check failed (warnings do not fail the run).
    pub ok: bool,
    pub checks: Vec<Check>,
}

impl Report {
    fn new(checks: Vec<Check>) -> Self {
        Self {
            ran_at: clock::timestamp(clock::now()),
            ok: checks.iter().all(|c| c.outcome != Outcome::Fail),
            checks,
        }
    }

    pub fn count(&self, outcome: Outcome) -> usize {
        self.checks.iter().filter(|c| c.outcome == outcome).count()
    }
}

/// Runs every check of this machine and keeps the report for the dashboard (when the database
/// can be written). Never fails: what cannot be checked is itself a failed check.
pub fn run(config: &Config, self_test: bool) -> Report {
    let now = clock::now();
    let mut checks = vec![
        tls_files(config, now),
        transport(config),
        public_url(config),
    ];
    checks.extend(admin_transport(config));
    checks.extend(certificate_names_public_url(config));
    match open_database(config) {
        Ok(store) => {
            checks.push(database(&store));
            checks.push(disk(&config.database));
            checks.push(request_log(&store, config));
            checks.push(events(&store, config));
            checks.push(backup(&store, now));
            checks.push(tokens(&store, now));
            checks.push(rate_limit(config, &store));
            checks.push(clock_sanity(&store, now));
            checks.extend(through_public_url(config, &store, self_test));
            let report = Report::new(checks);
            keep(&store, &report);
            report
        }
        Err(failed) => {
            checks.push(failed);
            checks.push(disk(&config.database));
            Report::new(checks)
        }
    }
}

/// The last report `scimd doctor` kept, for the dashboard.
pub fn last_report(store: &Store) -> crate::store::Result<Option<Report>> {
    let run = store.read_blocking(|c| maintenance::last_run(c, DOCTOR_TASK))?;
    Ok(run.and_then(|r| serde_json::from_str(&r.detail).ok()))
}

/// Records a finished `scimd backup` (the doctor reports its age).
pub fn record_backup(store: &Store, file: &Path) -> crate::store::Result<()> {
    let at = clock::timestamp(clock::now());
    let detail = file.display().to_string();
    store.write_blocking(move |c| maintenance::record(c, BACKUP_TASK, &at, &detail))
}

fn keep(store: &Store, report: &Report) {
    let (at, json) = (report.ran_at.clone(), serde_json::to_string(report));
    let Ok(json) = json else { return };
    if let Err(e) = store.write_blocking(move |c| maintenance::record(c, DOCTOR_TASK, &at, &json)) {
        tracing::warn!("the doctor's report could not be kept for the dashboard: {e}");
    }
}

fn tls_files(config: &Config, now: OffsetDateTime) -> Check {
    const NAME: &str = "tls";
    let Some(tls) = &config.tls else {
        return Check::pass(
            NAME,
            "not set: scimd serves plain HTTP (see the transport check)",
        );
    };
    let summary = match crate::tls::check(tls, now) {
        Ok(s) => s,
        Err(e) => {
            return Check::fail(
                NAME,
                e.to_string(),
                "fix the file named above (PEM certificate chain in tls.certs, its private key in tls.key), then restart scimd",
            );
        }
    };
    let days_left = (summary.not_after - now).whole_days();
    let expires = clock::timestamp(summary.not_after);
    let renew = format!(
        "renew the certificate for {} and replace {}, then restart scimd (or reload it: `systemctl restart scimd`)",
        summary.subject,
        tls.certs.display()
    );
    if days_left < CERT_FAIL_DAYS {
        return Check::fail(
            NAME,
            format!(
                "the certificate for {} expires on {expires}, in {days_left} days: IdPs refuse it from then on",
                summary.subject
            ),
            renew,
        );
    }
    if days_left < crate::tls::EXPIRY_WARNING_DAYS {
        return Check::warn(
            NAME,
            format!(
                "the certificate for {} expires on {expires}, in {days_left} days",
                summary.subject
            ),
            renew,
        );
    }
    if let Some(exposed) = crate::tls::key_exposure(tls) {
        return Check::warn(NAME, exposed, format!("chmod 0640 {}", tls.key.display()));
    }
    Check::pass(
        NAME,
        format!(
            "{} (chain of {}), valid until {expires}",
            summary.subject, summary.chain_len
        ),
    )
}

/// The *behind TLS* rule: off loopback, bearer tokens must not cross the network in clear.
fn transport(config: &Config) -> Check {
    const NAME: &str = "transport";
    let listener = config.listener();
    if listener.behind_tls() {
        return Check::pass(
            NAME,
            format!("behind TLS: IdPs reach scimd at {}", listener.base()),
        );
    }
    if listener.address.is_loopback() && listener.url.is_none() {
        return Check::warn(
            NAME,
            format!(
                "plain HTTP on {}, reachable from this machine only; no IdP can reach it",
                listener.base()
            ),
            "put a TLS reverse proxy in front (README: \"Behind a reverse proxy\") and set public_url = \"https://…\", or set [tls] and address = \"0.0.0.0\"",
        );
    }
    Check::fail(
        NAME,
        format!(
            "plain HTTP at {}: the IdP's bearer token would cross the network in clear",
            listener.base()
        ),
        "set [tls] certs and key so scimd terminates TLS, or put a TLS reverse proxy in front, set public_url = \"https://…\" and bind scimd to 127.0.0.1",
    )
}

/// Issue 27: the admin listener, when `[admin]` splits it off, carries admin passwords and
/// session cookies: plain HTTP beyond loopback without TLS is a warning with its fix (the
/// same rule as `Config::warnings`).
fn admin_transport(config: &Config) -> Option<Check> {
    const NAME: &str = "admin transport";
    let listener = config.admin_listener()?;
    let warning = config
        .warnings()
        .into_iter()
        .find(|w| w.key == "admin.address");
    Some(match warning {
        Some(w) => Check::warn(NAME, w.detail, w.fix),
        None if listener.behind_tls() => Check::pass(
            NAME,
            format!("behind TLS: the web UI is at {}", listener.base()),
        ),
        None => Check::pass(
            NAME,
            format!(
                "plain HTTP on loopback ({}): admin sign-ins stay on this machine",
                listener.base()
            ),
        ),
    })
}

/// Issue 27: the per-token rate limit in force; off is a warning (a leaked token or a runaway
/// script could then take the writer from the IdPs), with where the setting comes from.
fn rate_limit(config: &Config, store: &Store) -> Check {
    use crate::service::secure_defaults;
    const NAME: &str = "rate limit";
    let defaults = match secure_defaults::read(store) {
        Ok(d) => d,
        Err(e) => {
            return Check::fail(
                NAME,
                format!("cannot read the install defaults: {e}"),
                "see the database check",
            );
        }
    };
    match secure_defaults::requests_per_second(config, &defaults) {
        (0, source) => Check::warn(
            NAME,
            format!("no per-token rate limit ({source})"),
            "set limits.requests_per_second = 50 in scimd.toml (Entra needs 25 per second; 429 answers carry Retry-After, which IdPs honour) and restart scimd",
        ),
        (n, source) => {
            let burst = secure_defaults::requests_burst(config, &defaults, n);
            Check::pass(
                NAME,
                format!("{n} requests per second per token, bursts of {burst} ({source})"),
            )
        }
    }
}

fn public_url(config: &Config) -> Check {
    const NAME: &str = "public_url";
    match config.public_base() {
        Some(url) => Check::pass(NAME, url.to_owned()),
        None => Check::warn(
            NAME,
            "not set: the SCIM base URL shown on the Setup page and in meta.location follows the Host header of each request",
            "set public_url to the https URL IdPs reach scimd at, e.g. public_url = \"https://scim.example.com\"",
        ),
    }
}

/// With scimd terminating TLS, the certificate must name the host IdPs dial.
fn certificate_names_public_url(config: &Config) -> Option<Check> {
    const NAME: &str = "certificate name";
    let tls = config.tls.as_ref()?;
    let url = config.public_base()?;
    let host = host_of(url)?;
    Some(match crate::tls::names_host(tls, host) {
        Ok(true) => Check::pass(NAME, format!("the certificate names {host}")),
        Ok(false) => Check::fail(
            NAME,
            format!(
                "the certificate in {} does not name {host}, the host of public_url: an IdP that connects to scimd directly refuses it",
                tls.certs.display()
            ),
            format!(
                "get a certificate for {host} (or one whose subjectAltName lists it), or correct public_url if {host} is not where IdPs reach scimd"
            ),
        ),
        // Already reported by the tls check.
        Err(_) => return None,
    })
}

/// The host of an absolute URL, without port or brackets.
fn host_of(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split_once(']').map(|(h, _)| h);
    }
    Some(authority.split(':').next().unwrap_or(authority)).filter(|h| !h.is_empty())
}

fn open_database(config: &Config) -> Result<Store, Check> {
    const NAME: &str = "database";
    let path = &config.database;
    if !path.exists() {
        return Err(Check::fail(
            NAME,
            format!("there is no database at {}", path.display()),
            "start scimd once (it creates the database), or set `database` to the file scimd uses (`scimd check-config` prints it)",
        ));
    }
    crate::open_store(config).map_err(|e| {
        let detail = format!("cannot open {}: {e}", path.display());
        let fix = if detail.contains("ermission denied") || detail.contains("readonly") {
            format!(
                "give the account scimd runs as read and write access to {} and its directory (packages: `chown scimd:scimd {0}*`)",
                path.display()
            )
        } else {
            format!(
                "the file is damaged or not a scimd database: stop scimd and restore the newest backup over {} (README: \"Backup and restore\")",
                path.display()
            )
        };
        Check::fail(NAME, detail, fix)
    })
}

fn database(store: &Store) -> Check {
    const NAME: &str = "database";
    match store.read_blocking(|c| maintenance::quick_check(c, 10)) {
        Ok(problems) if problems.is_empty() => {
            Check::pass(NAME, "SQLite quick_check found no problem")
        }
        Ok(problems) => Check::fail(
            NAME,
            format!("SQLite quick_check: {}", problems.join("; ")),
            "stop scimd and restore the newest backup (README: \"Backup and restore\"); keep the damaged file for diagnosis",
        ),
        Err(e) => Check::fail(
            NAME,
            format!("the database could not be read: {e}"),
            "stop scimd and restore the newest backup (README: \"Backup and restore\")",
        ),
    }
}

fn disk(database: &Path) -> Check {
    const NAME: &str = "disk";
    let dir = database
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let stats = match rustix::fs::statvfs(dir) {
        Ok(s) => s,
        Err(e) => {
            return Check::fail(
                NAME,
                format!("cannot read the free space of {}: {e}", dir.display()),
                "create the database directory, or set `database` to a path scimd can write",
            );
        }
    };
    let free = stats.f_bavail.saturating_mul(stats.f_frsize);
    let detail = format!("{} free under {}", bytes(free), dir.display());
    let fix = format!(
        "free space on the file system of {}, or move the database to a larger one; lower [request_log] max_bytes and [events] max_bytes if they fill it",
        dir.display()
    );
    if free < DISK_FAIL_BYTES {
        Check::fail(NAME, format!("{detail}: writes will fail soon"), fix)
    } else if free < DISK_WARN_BYTES {
        Check::warn(NAME, detail, fix)
    } else {
        Check::pass(NAME, detail)
    }
}

fn request_log(store: &Store, config: &Config) -> Check {
    const NAME: &str = "request log";
    if !config.request_log.enabled {
        return Check::pass(NAME, "off ([request_log] enabled = false)");
    }
    let used = store.log_disk_bytes();
    let max = config.request_log.max_bytes;
    backlog_check(
        NAME,
        used,
        max,
        "[request_log] max_bytes",
        "older entries are pruned first: raise [request_log] max_bytes if you need them, or lower retention_days",
    )
}

fn events(store: &Store, config: &Config) -> Check {
    const NAME: &str = "events";
    let backlog = match super::events::backlog_now(store) {
        Ok(b) => b,
        Err(e) => {
            return Check::fail(
                NAME,
                format!("the events outbox could not be read: {e}"),
                "see the database check",
            );
        }
    };
    let mut check = backlog_check(
        NAME,
        u64::try_from(backlog.bytes).unwrap_or(0),
        config.events.max_bytes,
        "[events] max_bytes",
        "the oldest events are pruned first: consumers behind them must resynchronise from a snapshot; raise [events] max_bytes if consumers fall that far behind",
    );
    let days = backlog.oldest_age_secs / 86_400;
    check.detail = format!(
        "{}; newest event {}, oldest {days} days old (retention {} days)",
        check.detail, backlog.last_seq, config.events.retention_days
    );
    check
}

fn backlog_check(name: &str, used: u64, max: u64, key: &str, fix: &str) -> Check {
    let detail = format!("{} of {} ({key})", bytes(used), bytes(max));
    #[allow(clippy::cast_precision_loss)] // a share for a threshold
    let share = used as f64 / max.max(1) as f64;
    if share >= BACKLOG_WARN_SHARE {
        Check::warn(name, format!("{detail}: nearly full"), fix)
    } else {
        Check::pass(name, detail)
    }
}

fn backup(store: &Store, now: OffsetDateTime) -> Check {
    const NAME: &str = "backup";
    let schedule = "run `scimd backup /var/backups/scimd/scimd-$(date +%F).db` daily (a systemd timer or cron), and keep the copies off this disk";
    match store.read_blocking(|c| maintenance::last_run(c, BACKUP_TASK)) {
        Ok(None) => Check::warn(
            NAME,
            "no backup has been taken with `scimd backup`",
            schedule,
        ),
        Ok(Some(run)) => match age(&run.at, now) {
            Some(age) if age > Duration::days(BACKUP_WARN_DAYS) => Check::warn(
                NAME,
                format!(
                    "the last backup ({}) is {} days old",
                    run.detail,
                    age.whole_days()
                ),
                schedule,
            ),
            _ => Check::pass(NAME, format!("last backup {} at {}", run.detail, run.at)),
        },
        Err(e) => Check::fail(
            NAME,
            format!("cannot read the backup record: {e}"),
            "see the database check",
        ),
    }
}

fn tokens(store: &Store, now: OffsetDateTime) -> Check {
    const NAME: &str = "tokens";
    let listed = match super::tokens::list(store, None) {
        Ok(l) => l,
        Err(e) => {
            return Check::fail(
                NAME,
                format!("cannot list tokens: {e:?}"),
                "see the database check",
            );
        }
    };
    let usable: Vec<_> = listed
        .iter()
        .filter(|t| matches!(t.status, "active" | "rotating"))
        .collect();
    if usable.is_empty() {
        return Check::warn(
            NAME,
            "no usable SCIM token: no IdP can provision",
            "create one with `scimd token create --name okta` (or on the Tokens page) and paste it into the IdP",
        );
    }
    let mut notes = Vec::new();
    let mut fixes = Vec::new();
    for t in &usable {
        let name = format!("{}/{}", t.tenant, t.token.name);
        let left = t.token.expires.as_deref().and_then(|e| until(e, now));
        if let Some(left) = left.filter(|l| *l < Duration::days(TOKEN_EXPIRY_WARN_DAYS)) {
            notes.push(format!("{name} expires in {} days", left.whole_days()));
            fixes.push(format!(
                "`scimd token rotate {} --tenant {}` and paste the new token into the IdP",
                t.token.name, t.tenant
            ));
        }
        let unused_for = age(&t.token.created, now).unwrap_or(Duration::ZERO);
        if t.token.last_used.is_none() && unused_for > Duration::hours(TOKEN_UNUSED_WARN_HOURS) {
            notes.push(format!(
                "{name} was created {} days ago and never used",
                unused_for.whole_days()
            ));
            fixes.push(format!(
                "check that the IdP has {name}'s token and that its requests reach scimd (`scimd log list --status 401`); revoke it if nobody needs it"
            ));
        }
    }
    if notes.is_empty() {
        Check::pass(NAME, format!("{} usable", usable.len()))
    } else {
        Check::warn(NAME, notes.join("; "), fixes.join("; "))
    }
}

/// The clock against the newest time scimd recorded: a clock that went back makes tokens
/// expire late, sessions last longer and the request log and events out of order.
fn clock_sanity(store: &Store, now: OffsetDateTime) -> Check {
    const NAME: &str = "clock";
    let newest = store.read_blocking(crate::store::maintenance::newest_recorded_time);
    match newest {
        Ok(Some(t)) => match until(&t, now) {
            Some(ahead) if ahead > CLOCK_SKEW_TOLERANCE => Check::fail(
                NAME,
                format!(
                    "the clock says {} but scimd recorded {t}: it went back {} minutes",
                    clock::timestamp(now),
                    ahead.whole_minutes()
                ),
                "synchronise the clock (`timedatectl set-ntp true`, or chrony) before IdPs provision again",
            ),
            _ => Check::pass(NAME, format!("{} UTC", clock::timestamp(now))),
        },
        Ok(None) => Check::pass(NAME, format!("{} UTC", clock::timestamp(now))),
        Err(e) => Check::fail(
            NAME,
            format!("cannot read recorded times: {e}"),
            "see the database check",
        ),
    }
}

/// What the probe endpoint answers: whether the nonce is the one this database holds, and
/// what the request carried.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeAnswer {
    /// Always true: a body without it came from something else.
    pub scimd: bool,
    /// The nonce is the one `scimd doctor` just wrote into this database.
    pub known: bool,
    /// `intact`, `missing` or `altered`, against `Bearer scimd-doctor-<nonce>`.
    pub authorization: String,
    /// The query string as it arrived.
    pub query: Option<String>,
}

/// The probe's answer (`http::probe`).
pub fn answer_probe(
    store: &Store,
    nonce: &str,
    authorization: Option<String>,
    query: Option<String>,
) -> ProbeAnswer {
    let now = clock::now();
    let known = store
        .read_blocking(|c| maintenance::last_run(c, PROBE_TASK))
        .ok()
        .flatten()
        .is_some_and(|run| {
            run.detail == nonce && age(&run.at, now).is_some_and(|a| a < PROBE_VALID)
        });
    let authorization = match authorization {
        None => "missing",
        Some(a) if a == probe_authorization(nonce) => "intact",
        Some(_) => "altered",
    };
    ProbeAnswer {
        scimd: true,
        known,
        authorization: authorization.to_owned(),
        query,
    }
}

fn probe_authorization(nonce: &str) -> String {
    format!("Bearer scimd-doctor-{nonce}")
}

/// The URL IdPs use, or the listener's own address seen from this machine.
fn public_base(config: &Config) -> String {
    if let Some(url) = config.public_base() {
        return url.to_owned();
    }
    let mut listener = config.listener();
    if listener.address.is_unspecified() {
        listener.address = std::net::IpAddr::from([127, 0, 0, 1]);
    }
    listener.base()
}

/// Calls the probe through `public_url` and reads what arrived: reachable, this scimd, the
/// `Authorization` header intact, the query string unchanged.
fn through_public_url(config: &Config, store: &Store, self_test: bool) -> Vec<Check> {
    const NAME: &str = "public_url reach";
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let (at, recorded) = (clock::timestamp(clock::now()), nonce.clone());
    if let Err(e) =
        store.write_blocking(move |c| maintenance::record(c, PROBE_TASK, &at, &recorded))
    {
        return vec![Check::fail(
            NAME,
            format!("cannot write the probe's nonce: {e}"),
            "see the database check",
        )];
    }
    let base = public_base(config);
    let url = format!("{base}/scim/v2/_doctor/{nonce}?{PROBE_QUERY}");
    let client = crate::outbound::Client::new(crate::outbound::Limits {
        connect_timeout: std::time::Duration::from_secs(5),
        timeout: std::time::Duration::from_secs(10),
        excerpt_bytes: 16 << 10,
    });
    let authorization = probe_authorization(&nonce);
    let answer = match client.get(&url, &[("Authorization", authorization.as_str())]) {
        Ok(a) => a,
        Err(failure) => {
            return vec![Check::fail(
                NAME,
                format!(
                    "{base} cannot be reached from this machine: {}",
                    failure.message
                ),
                "make public_url resolve and answer here too: check DNS, the firewall and that scimd (or its proxy) listens there; a TLS error means the certificate served there is not trusted or does not name the host, and IdPs will refuse it too",
            )];
        }
    };
    let probe: Option<ProbeAnswer> = serde_json::from_str(&answer.excerpt)
        .ok()
        .filter(|p: &ProbeAnswer| p.scimd && answer.status == 200);
    let Some(probe) = probe else {
        return vec![not_this_scimd(&base, &answer)];
    };
    let mut checks = vec![if probe.known {
        Check::pass(NAME, format!("{base} reaches this scimd"))
    } else {
        Check::fail(
            NAME,
            format!(
                "{base} reaches a scimd, but not this one (its database does not hold this run's nonce)"
            ),
            "point public_url's DNS name or proxy at this server, or run `scimd doctor` on the server it reaches",
        )
    }];
    checks.push(match probe.authorization.as_str() {
        "intact" => Check::pass("authorization header", "arrives as sent"),
        "missing" => Check::fail(
            "authorization header",
            format!("a request to {base} arrives without its Authorization header: every IdP request will be refused with 401"),
            "make the reverse proxy pass it: nginx passes it unless told otherwise (remove `proxy_set_header Authorization \"\";`); Apache needs `CGIPassAuth On` or `RequestHeader set Authorization \"%{HTTP:Authorization}e\"`",
        ),
        _ => Check::fail(
            "authorization header",
            format!("a request to {base} arrives with a different Authorization header: the proxy replaces it"),
            "remove the proxy's own authentication or header rewrite for the SCIM paths; scimd checks the IdP's bearer token itself",
        ),
    });
    checks.push(if probe.query.as_deref() == Some(PROBE_QUERY) {
        Check::pass("query string", "arrives unchanged")
    } else {
        Check::fail(
            "query string",
            format!(
                "the query string arrives changed: sent {PROBE_QUERY}, scimd received {}; IdPs' filters (userName eq \"a+b@example.com\") will not match",
                probe.query.as_deref().unwrap_or("nothing")
            ),
            "pass the request URI through unchanged: nginx `proxy_pass http://127.0.0.1:8080;` with no path after the port",
        )
    });
    // The IdPs' own flows need a scimd that is reached and hears the token.
    if self_test && probe.known && probe.authorization == "intact" {
        checks.extend(super::selftest::run(store, &base, &client));
    }
    checks
}

/// The probe was answered, but not by a scimd that knows it: say what answered.
fn not_this_scimd(base: &str, answer: &crate::outbound::Answer) -> Check {
    const NAME: &str = "public_url reach";
    let scim_error = answer
        .excerpt
        .contains("urn:ietf:params:scim:api:messages:2.0:Error");
    let path = base
        .split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
        .filter(|p| !p.is_empty() && *p != "/");
    if let (true, Some(path)) = (scim_error && answer.status == 404, path) {
        return Check::fail(
            NAME,
            format!(
                "{base} reaches scimd, but with the path prefix {path} still on (scimd serves /scim/v2 at its root)"
            ),
            format!(
                "strip {path} at the proxy (nginx: `location {path}/ {{ proxy_pass http://127.0.0.1:8080/; }}`), or remove it from public_url"
            ),
        );
    }
    let redirect = answer
        .location
        .as_deref()
        .map(|l| format!(", redirecting to {l}"))
        .unwrap_or_default();
    Check::fail(
        NAME,
        format!(
            "{base} answers HTTP {}{redirect}, but not as scimd: another server or a proxy without a route to scimd answers there",
            answer.status
        ),
        "point public_url at scimd: the proxy must forward /scim/v2/ to scimd's address and port (README: \"Make it reachable\"); IdPs do not follow redirects",
    )
}

fn parse(t: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
}

/// How long ago `t` was (None if unparsable).
fn age(t: &str, now: OffsetDateTime) -> Option<Duration> {
    parse(t).map(|t| now - t)
}

/// How long until `t` (negative once past).
fn until(t: &str, now: OffsetDateTime) -> Option<Duration> {
    parse(t).map(|t| t - now)
}

fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    #[allow(clippy::cast_precision_loss)] // a size for people
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_of_a_url_drops_scheme_port_path_and_brackets() {
        for (url, host) in [
            ("https://scim.example.com", Some("scim.example.com")),
            ("https://scim.example.com:8443/x", Some("scim.example.com")),
            ("http://u@h.example:80?q", Some("h.example")),
            ("https://[::1]:8443/", Some("::1")),
            ("not a url", None),
            ("https://", None),
        ] {
            assert_eq!(host_of(url), host, "{url}");
        }
    }

    #[test]
    fn sizes_read_like_people_write_them() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(3 << 30), "3.0 GiB");
    }
}
