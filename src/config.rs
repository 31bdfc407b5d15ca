//! Configuration: built-in defaults < `/etc/scimd/scimd.toml` (or the `--config` /
//! `SCIMD_CONFIG` file, which must exist) < `SCIMD_*` environment variables (`__` separates
//! nested keys). Unknown keys are errors naming the key and where it came from, so a typo never
//! silently falls back to a default.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// The system-wide config file read when no `--config` is given and the file exists.
pub const SYSTEM_CONFIG: &str = "/etc/scimd/scimd.toml";

/// The effective, validated configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub address: IpAddr,
    pub port: u16,
    /// SQLite database file; relative paths are relative to the working directory.
    pub database: PathBuf,
    /// Base of every `meta.location` and `Location`, e.g. `https://scim.example.com`. When
    /// unset, the request's Host header is used.
    pub public_url: Option<String>,
    /// The header a reverse proxy in front of scimd sets to the client's address, e.g.
    /// `X-Real-IP`. Unset, the TCP peer's address is used and such headers are ignored:
    /// trusting them without a proxy would let any client pick its own address and so dodge
    /// the per-IP login limit and forge the IP shown for a token's last use.
    pub client_ip_header: Option<String>,
    pub tls: Option<TlsConfig>,
    pub limits: Limits,
    pub request_log: RequestLogConfig,
    pub history: HistoryConfig,
    pub events: EventsConfig,
    pub webhooks: WebhooksConfig,
    pub deletion: DeletionConfig,
    pub metrics: MetricsConfig,
    pub ldap: LdapConfig,
    pub oauth: OAuthConfig,
    /// A separate listener for the web UI, its API and `/metrics`; unset, one listener serves
    /// everything.
    pub admin: Option<AdminConfig>,
    /// What loading changed rather than refused (a value below its floor, clamped), for the
    /// warnings at start, in `check-config` and on the dashboard ([`Config::warnings`]).
    #[serde(skip)]
    pub adjusted: Vec<ConfigWarning>,
}

/// `[admin]`: the admin listener. With it, the main listener (`address`, `port`) serves only
/// what IdPs and applications call (the SCIM API, `/healthz`), so it can face the internet
/// while the admin sign-in stays on loopback or a VPN address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    pub address: IpAddr,
    /// Required: 0 (unset) is refused, as is the main listener's port on the same address.
    pub port: u16,
    /// Serve the admin listener over TLS with `[tls]`'s certificate and key. Ignored without
    /// `[tls]`; `false` serves plain HTTP, e.g. on loopback while the main listener is TLS.
    pub tls: bool,
    /// The URL people open the UI at, when a proxy fronts the admin listener (https there
    /// makes the admin listener *behind TLS*); unset, its own address.
    pub url: Option<String>,
    /// As `client_ip_header`, for the admin listener alone: not inherited, so a header that a
    /// proxy sets in front of the main listener cannot be forged by clients that reach the
    /// admin listener directly.
    pub client_ip_header: Option<String>,
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self {
            address: IpAddr::from([127, 0, 0, 1]),
            port: 0,
            tls: true,
            url: None,
            client_ip_header: None,
        }
    }
}

/// One listener as `serve` binds it, derived from [`Config`]: the main one, or `[admin]`'s.
#[derive(Debug, Clone, PartialEq)]
pub struct Listener {
    pub address: IpAddr,
    pub port: u16,
    pub tls: Option<TlsConfig>,
    pub client_ip_header: Option<String>,
    /// `public_url` (main) or `admin.url`, without a trailing slash.
    pub url: Option<String>,
}

impl Listener {
    /// Whether this listener is *behind TLS*: it terminates TLS itself or its URL is https (a
    /// TLS proxy in front). The one rule for everything that depends on the client's
    /// connection being encrypted: the admin session cookie is `Secure` exactly when the
    /// listener that set it is behind TLS; later features (HSTS, secure redirects) reuse it
    /// rather than checking `tls` or the scheme themselves.
    pub fn behind_tls(&self) -> bool {
        self.tls.is_some()
            || self
                .url
                .as_deref()
                .and_then(|u| u.get(..8))
                .is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://"))
    }

    /// Where clients reach this listener: its URL, else `scheme://address:port`.
    pub fn base(&self) -> String {
        self.url.clone().unwrap_or_else(|| {
            let scheme = if self.tls.is_some() { "https" } else { "http" };
            format!(
                "{scheme}://{}",
                std::net::SocketAddr::new(self.address, self.port)
            )
        })
    }
}

/// `[tls]`: PEM certificate chain and private key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    pub certs: PathBuf,
    pub key: PathBuf,
}

/// `[limits]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest request body accepted; larger bodies get 413.
    pub max_body_bytes: u64,
    /// Largest page a list or search returns (`filter.maxResults` in /ServiceProviderConfig).
    pub max_results: u32,
    /// Requests per second one bearer token may make to the SCIM API, with a burst of one
    /// second's worth; more get 429 with `Retry-After` (Okta honours it, S24). 0 = unlimited.
    /// Entra gallery apps must sustain 25 per second, so never set it lower for Entra. Unset,
    /// the install default recorded in the database when it was created applies
    /// (`service::secure_defaults`: 50 on a new install, unlimited on one upgraded from before
    /// secure defaults), so an upgrade never changes behaviour; a set value always wins.
    pub requests_per_second: Option<u32>,
    /// Requests one token may send at once before `requests_per_second` paces it (the size of
    /// its bucket). Unset: one second's worth of a configured `requests_per_second`, else the
    /// install default (500 on a new install: ten seconds at 50 per second).
    pub requests_burst: Option<u32>,
    /// Longest password (SCIM `password`, admin sign-in) and admin username accepted, in
    /// bytes; checked before any hashing.
    pub max_password_bytes: usize,
    /// Password hashes (argon2, ~19 MiB each) computed at once in the whole process; 0 = one
    /// per CPU core. Work beyond a short queue gets 503 with `Retry-After`.
    pub password_hashes_at_once: usize,
    /// Failed admin sign-ins allowed for one username from one address per 15 minutes.
    pub login_failures: usize,
    /// Failed admin sign-ins allowed from one address, whatever the username, per 15 minutes.
    pub login_failures_per_address: usize,
    /// Seconds a client has to send a complete request head (request line and headers),
    /// counted from the connection's start or from the end of its previous response; slower
    /// (or idle keep-alive) connections are closed. Bounds slow-header clients ("slowloris").
    pub header_timeout_secs: u64,
    /// Seconds a client has to send a complete request body once its headers arrived; a
    /// slower body gets 408.
    pub body_timeout_secs: u64,
    /// Connections served at once; further clients wait in the kernel's accept queue until a
    /// connection ends. Keep the systemd unit's `LimitNOFILE` well above it.
    pub max_connections: u32,
    /// Longest request target (path and query) accepted, in bytes; longer ones get 414.
    /// Must stay below [`HYPER_MAX_URI_BYTES`] so every refusal is a SCIM error.
    pub max_url_bytes: usize,
    /// Most operations in one PATCH request; more get 413. Entra and Okta send a handful per
    /// request (Entra batches group members as values of one operation, not as operations).
    pub max_patch_operations: usize,
    /// Most values one multi-valued attribute of a resource may hold (`emails`, `phoneNumbers`,
    /// …); more get 400 invalidValue. Group members are not counted (their own table).
    pub max_multi_values: usize,
    /// Schema extensions one tenant may declare (`scimd tenant extension add`).
    pub max_extensions: usize,
    /// Attributes and sub-attributes one declared extension may define.
    pub max_extension_attributes: usize,
    /// Largest declaration of one extension, in bytes of JSON.
    pub max_extension_bytes: usize,
}

/// Longest request target hyper 1 parses (`MAX_URI_LEN` in hyper's `proto/h1/role.rs`,
/// `u16::MAX - 1`): past it hyper answers 414 with an empty body before scimd sees the request.
pub const HYPER_MAX_URI_BYTES: usize = 65_534;

impl Limits {
    /// The bounds on a tenant's extension declarations.
    pub fn extensions(&self) -> crate::scim::extension::ExtensionLimits {
        crate::scim::extension::ExtensionLimits {
            max_extensions: self.max_extensions,
            max_attributes: self.max_extension_attributes,
            max_bytes: self.max_extension_bytes,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 1_048_576,
            max_results: 1000,
            requests_per_second: None,
            requests_burst: None,
            max_password_bytes: 256,
            password_hashes_at_once: 0,
            login_failures: 5,
            login_failures_per_address: 20,
            header_timeout_secs: 10,
            body_timeout_secs: 30,
            max_connections: 1024,
            max_url_bytes: 16_384,
            max_patch_operations: 1_000,
            max_multi_values: 1_000,
            max_extensions: 20,
            max_extension_attributes: 100,
            max_extension_bytes: 65_536,
        }
    }
}

/// `[request_log]`: every SCIM request is recorded off the request path (service::request_log).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RequestLogConfig {
    /// Record SCIM requests at all. Metrics are kept either way.
    pub enabled: bool,
    /// Entries older than this are pruned.
    pub retention_days: u32,
    /// At most this many entries are kept (the oldest go first).
    pub max_rows: u64,
    /// Each request and response body is stored up to this many bytes (after redaction).
    pub max_body_bytes: usize,
    /// Entries waiting for the writer; when full, new entries are dropped and counted.
    pub queue_size: usize,
    /// Bytes of captures (text fields and bodies) waiting for the writer; past it, new entries
    /// are dropped and counted like a full queue. `queue_size` alone let a flood of large
    /// responses (list pages, 16 KiB bodies) queue 4,096 of them: 64 MiB and more.
    pub queue_bytes: usize,
    /// Each text field (path, query, tenant, token name, User-Agent, error detail) is stored
    /// up to this many bytes, and marked truncated when cut.
    pub max_field_bytes: usize,
    /// The log's file is pruned, oldest entries first, until the pages it uses hold at most
    /// this many bytes.
    pub max_bytes: u64,
    /// Requests that carry no known token (no `Authorization`, a malformed or unknown token,
    /// discovery) are logged in full up to this many per minute for each tenant and status;
    /// the rest are counted (`/metrics`, `/healthz`), so a flood costs bounded disk. Every
    /// request of a known token is logged, refused or not.
    pub anonymous_per_minute: u32,
}

impl Default for RequestLogConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            retention_days: 30,
            max_rows: 1_000_000,
            max_body_bytes: 16_384,
            queue_size: 4096,
            queue_bytes: 8 << 20,
            max_field_bytes: 2048,
            max_bytes: 1 << 30,
            anonymous_per_minute: 60,
        }
    }
}

/// `[history]`: the per-resource history (`service::history`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HistoryConfig {
    /// Changes older than this are pruned.
    pub retention_days: u32,
    /// Each stored before/after value is kept up to this many bytes of JSON, and marked
    /// truncated when cut.
    pub max_value_bytes: usize,
}

impl Default for HistoryConfig {
    fn default() -> Self {
        Self {
            retention_days: 365,
            max_value_bytes: 4096,
        }
    }
}

/// `[events]`: the events outbox and the feed applications follow (`service::events`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventsConfig {
    /// Events older than this are pruned; a cursor before them must resynchronise.
    pub retention_days: u32,
    /// The bodies kept at most; the oldest events are pruned past it.
    pub max_bytes: u64,
    /// Most events one feed request returns (`limit`).
    pub max_page: u32,
    /// Longest a feed request may wait for a first event (`wait`).
    pub max_wait_secs: u64,
    /// Longest a snapshot may take to send: it holds a read transaction, which keeps the
    /// database's WAL from being checkpointed, so a stalled reader is cut off.
    pub snapshot_timeout_secs: u64,
    /// Events the admin UI's Events page reads per page when filtering by type or resource
    /// (the outbox has no per-resource index, which would cost every write): a filtered page
    /// searches this far back and offers to search further.
    pub browse_scan_rows: u32,
}

impl Default for EventsConfig {
    fn default() -> Self {
        Self {
            retention_days: 30,
            max_bytes: 1 << 30,
            max_page: 1000,
            max_wait_secs: 30,
            snapshot_timeout_secs: 600,
            browse_scan_rows: 20_000,
        }
    }
}

/// `[webhooks]`: pushing the events outbox to endpoints (`service::webhooks`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhooksConfig {
    /// Run the delivery worker. Off, endpoints can still be managed and events wait.
    pub enabled: bool,
    /// Accept `http://` endpoint URLs (a receiver on the same host or in a lab); otherwise
    /// only `https://`, since an event carries a user's attributes.
    pub allow_http: bool,
    pub max_endpoints_per_tenant: u32,
    pub connect_timeout_secs: u64,
    /// The whole attempt: connect, send, answer.
    pub timeout_secs: u64,
    /// The first retry's delay; each next one doubles, with jitter, up to `retry_max_delay_secs`.
    pub retry_initial_ms: u64,
    pub retry_max_delay_secs: u64,
    /// How long an event is retried before its endpoint is marked failing (3 days).
    pub retry_for_secs: u64,
    /// An endpoint whose undelivered events are older than this is disabled.
    pub max_backlog_age_secs: u64,
    /// An endpoint whose undelivered events' bodies exceed this is disabled.
    pub max_backlog_bytes: u64,
    /// Bytes of each response kept with its attempt.
    pub response_excerpt_bytes: usize,
    /// Attempts kept per endpoint, newest first.
    pub attempts_kept: u32,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            allow_http: false,
            max_endpoints_per_tenant: 10,
            connect_timeout_secs: 5,
            timeout_secs: 15,
            retry_initial_ms: 1000,
            retry_max_delay_secs: 3600,
            retry_for_secs: 3 * 24 * 3600,
            max_backlog_age_secs: 7 * 24 * 3600,
            max_backlog_bytes: 256 << 20,
            response_excerpt_bytes: 1024,
            attempts_kept: 200,
        }
    }
}

/// `[deletion]`: deletion safety (`service::deleted`, `service::alarms`): how much one write
/// transaction of a restore, an erase or the tombstone pruner may touch, and how many ids one
/// restore command takes. Retention and the alarm's threshold are tenant settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeletionConfig {
    /// Rows one transaction of a restore (a group's members), an erase (history, events,
    /// request-log entries scanned) or the tombstone pruner handles: none holds the writer
    /// for long.
    pub batch_rows: u32,
    /// Ids one `scimd deleted restore` or admin API restore call takes.
    pub max_restore_ids: u32,
}

impl Default for DeletionConfig {
    fn default() -> Self {
        Self {
            batch_rows: 2000,
            max_restore_ids: 1000,
        }
    }
}

/// `[metrics]`: `/metrics` answers loopback clients without a token; anyone else must send
/// `Authorization: Bearer <token>`. Without a token, only loopback may scrape.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    #[serde(serialize_with = "redact_secret")]
    pub token: Option<String>,
}

// ---- [oauth] (issue 28) ----

/// `[oauth]`: the per-tenant OAuth 2.0 token endpoint (client credentials, `service::oauth`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OAuthConfig {
    /// Lifetime of an issued access token, in seconds.
    pub access_token_lifetime_secs: u64,
    /// Longest a `private_key_jwt` assertion may live (`exp` minus now, and minus `iat`): its
    /// `jti` is remembered until it expires, so this bounds that memory too.
    pub max_assertion_lifetime_secs: u64,
    /// Access tokens kept per client; issuing one more forgets the oldest.
    pub max_tokens_per_client: u32,
    /// How long a client's JWKS fetched from its `jwks_uri` is reused.
    pub jwks_cache_secs: u64,
    /// Largest JWKS document read from a `jwks_uri`.
    pub max_jwks_bytes: usize,
    /// Accept `http://` JWKS URLs (a lab); otherwise only `https://`.
    pub allow_http_jwks: bool,
    /// Lifetime of an authorization code (RFC 6749 §4.1.2: short, at most 10 minutes).
    pub code_lifetime_secs: u64,
    /// Codes a client may hold unexchanged at once; consenting to one more is refused.
    pub max_codes_per_client: u32,
    /// Lifetime of a refresh token, counted from its issue: each refresh issues a new one.
    pub refresh_token_lifetime_secs: u64,
    /// Redirect URIs one client may register.
    pub max_redirect_uris: usize,
}

impl Default for OAuthConfig {
    fn default() -> Self {
        Self {
            access_token_lifetime_secs: 3600,
            max_assertion_lifetime_secs: 3600,
            max_tokens_per_client: 100,
            jwks_cache_secs: 300,
            max_jwks_bytes: 65536,
            allow_http_jwks: false,
            code_lifetime_secs: 60,
            max_codes_per_client: 10,
            refresh_token_lifetime_secs: 7_776_000,
            max_redirect_uris: 10,
        }
    }
}

impl OAuthConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.access_token_lifetime_secs == 0
            || self.max_assertion_lifetime_secs == 0
            || self.max_tokens_per_client == 0
            || self.max_jwks_bytes < 1024
        {
            return Err(ConfigError::Invalid(
                "oauth.access_token_lifetime_secs, max_assertion_lifetime_secs and max_tokens_per_client must be at least 1, oauth.max_jwks_bytes at least 1024".into(),
            ));
        }
        if self.access_token_lifetime_secs > 86400 {
            return Err(ConfigError::Invalid(format!(
                "oauth.access_token_lifetime_secs = {} is over a day; access tokens are meant to be short-lived (the default is 3600)",
                self.access_token_lifetime_secs
            )));
        }
        if !(1..=600).contains(&self.code_lifetime_secs)
            || self.max_codes_per_client == 0
            || self.max_redirect_uris == 0
        {
            return Err(ConfigError::Invalid(format!(
                "oauth.code_lifetime_secs = {} must be 1 to 600 (RFC 6749 §4.1.2: codes are short-lived), oauth.max_codes_per_client and oauth.max_redirect_uris at least 1",
                self.code_lifetime_secs
            )));
        }
        if self.refresh_token_lifetime_secs < self.access_token_lifetime_secs {
            return Err(ConfigError::Invalid(format!(
                "oauth.refresh_token_lifetime_secs = {} is shorter than oauth.access_token_lifetime_secs = {}; a refresh token must outlive the access token it renews",
                self.refresh_token_lifetime_secs, self.access_token_lifetime_secs
            )));
        }
        Ok(())
    }
}

// ---- [ldap] (issue 24) ----

/// `[ldap]`: the read-only LDAP directory (`src/ldap/`), off by default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LdapConfig {
    pub enabled: bool,
    pub address: IpAddr,
    pub port: u16,
    /// Serve LDAPS on `tls_port` and offer StartTLS on `port`, with `[tls]`'s certificate.
    pub tls_port: Option<u16>,
    /// Let clients that did not bind search any tenant's tree.
    pub allow_anonymous: bool,
    /// Deactivated users (`active: false`): `visible` (with `scimdActive: FALSE`) or `hidden`.
    /// Either way they never bind.
    pub deactivated: DeactivatedUsers,
    /// `memberOf` lists groups reached through nested groups too, not only direct ones.
    pub nested_groups: bool,
    /// Most entries a search without the paged results control returns.
    pub size_limit: u32,
    /// Largest page of a paged search; a client asking for more gets this many per page.
    pub max_page_size: u32,
    /// Longest a search may run, in seconds (a client may ask for less).
    pub time_limit_secs: u64,
    /// Largest LDAP message accepted, in bytes; a larger one closes the connection.
    pub max_request_bytes: usize,
    /// Failed binds per (bind DN, client address) answered without delay; each further one
    /// waits twice as long as the one before, up to `max_bind_delay_ms`. Never a lockout.
    pub bind_failures_free: u32,
    pub max_bind_delay_ms: u64,
    /// A connection with no complete request for this long is closed.
    pub idle_timeout_secs: u64,
    /// LDAP connections served at once; further clients wait to be accepted.
    pub max_connections: u32,
}

/// What `[ldap] deactivated` does with users whose `active` is false.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum DeactivatedUsers {
    #[default]
    Visible,
    Hidden,
}

impl Default for LdapConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            address: IpAddr::from([127, 0, 0, 1]),
            port: 3389,
            tls_port: None,
            allow_anonymous: false,
            deactivated: DeactivatedUsers::Visible,
            nested_groups: false,
            size_limit: 5000,
            max_page_size: 1000,
            time_limit_secs: 60,
            max_request_bytes: 65536,
            bind_failures_free: 3,
            max_bind_delay_ms: 5000,
            idle_timeout_secs: 600,
            max_connections: 1024,
        }
    }
}

impl LdapConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.size_limit == 0
            || self.max_page_size == 0
            || self.time_limit_secs == 0
            || self.idle_timeout_secs == 0
            || self.max_connections == 0
        {
            return Err(ConfigError::Invalid(
                "ldap.size_limit, ldap.max_page_size, ldap.time_limit_secs, ldap.idle_timeout_secs and ldap.max_connections must be at least 1"
                    .into(),
            ));
        }
        if self.max_request_bytes < 1024 {
            return Err(ConfigError::Invalid(
                "ldap.max_request_bytes must be at least 1024".into(),
            ));
        }
        if self.tls_port == Some(self.port) {
            return Err(ConfigError::Invalid(
                "ldap.tls_port must differ from ldap.port (LDAPS and plain LDAP with StartTLS need a port each)".into(),
            ));
        }
        Ok(())
    }
}

// ---- end [ldap] ----

// ---- warnings and floors (issue 27 part 2) ----

/// The smallest `limits.max_results`: the SCIM Interoperability Profile (§6.4) requires a
/// service provider to return pages of at least 100; a smaller value is raised to it.
pub const MIN_MAX_RESULTS: u32 = 100;

/// Something about the configuration that works but should change: logged at start, printed
/// by `scimd check-config`, shown on the dashboard (`GET /api/warnings`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigWarning {
    /// The key (or listener) concerned, e.g. `limits.max_results`.
    pub key: String,
    pub detail: String,
    pub fix: String,
}

impl Config {
    /// Raises values below their floor instead of refusing them, so that a configuration an
    /// older scimd accepted never stops an upgraded install from starting.
    fn clamp(&mut self) {
        let set = self.limits.max_results;
        if set < MIN_MAX_RESULTS {
            self.limits.max_results = MIN_MAX_RESULTS;
            self.adjusted.push(ConfigWarning {
                key: "limits.max_results".into(),
                detail: format!(
                    "limits.max_results = {set} is below {MIN_MAX_RESULTS}, the smallest page the SCIM Interoperability Profile allows; scimd uses {MIN_MAX_RESULTS}"
                ),
                fix: format!(
                    "set limits.max_results to {MIN_MAX_RESULTS} or more (default 1000) in scimd.toml, or remove it"
                ),
            });
        }
    }

    /// Everything to warn about: values raised to their floor, and each listener that serves
    /// plain HTTP off loopback without being *behind TLS* ([`Listener::behind_tls`]).
    pub fn warnings(&self) -> Vec<ConfigWarning> {
        let mut all = self.adjusted.clone();
        let split = self.admin.is_some();
        let main = if split {
            "the SCIM listener"
        } else {
            "the listener (SCIM API and web UI)"
        };
        all.extend(plain_http(main, "address", &self.listener(), split));
        if let Some(admin) = self.admin_listener() {
            all.extend(plain_http(
                "the admin listener (web UI)",
                "admin.address",
                &admin,
                false,
            ));
        }
        all
    }
}

/// The warning for `listener` when it serves plain HTTP off loopback and not behind TLS.
/// Loopback (127.0.0.0/8, ::1) never leaves the machine; a wildcard address does.
fn plain_http(
    what: &str,
    key: &str,
    listener: &Listener,
    scim_only: bool,
) -> Option<ConfigWarning> {
    if listener.behind_tls() || listener.address.to_canonical().is_loopback() {
        return None;
    }
    let at = std::net::SocketAddr::new(listener.address, listener.port);
    let carried = if scim_only {
        "IdPs' bearer tokens and users' attributes"
    } else if key == "address" {
        "IdPs' bearer tokens, users' attributes and admin passwords"
    } else {
        "admin passwords and session cookies"
    };
    let fix = if key == "address" {
        "set [tls] certs and key so scimd serves HTTPS, or put a TLS reverse proxy in front, set public_url = \"https://…\" and bind address = \"127.0.0.1\""
    } else {
        "set [tls] (admin.tls = true, the default, serves it with that certificate), or put a TLS proxy in front and set admin.url = \"https://…\", or bind admin.address = \"127.0.0.1\""
    };
    Some(ConfigWarning {
        key: key.into(),
        detail: format!(
            "{what} on {at} serves plain HTTP beyond loopback and is not behind TLS: {carried} cross the network in clear"
        ),
        fix: fix.into(),
    })
}

#[cfg(test)]
#[allow(clippy::result_large_err)]
mod warning_tests {
    use super::*;
    use figment::Jail;

    /// Issue 27: a `max_results` below 100 (0 included, refused before) is raised to 100 with
    /// a warning naming the key, never refused.
    #[test]
    fn max_results_below_100_is_clamped_with_a_warning() {
        Jail::expect_with(|jail| {
            for set in ["0", "50", "99"] {
                jail.set_env("SCIMD_LIMITS__MAX_RESULTS", set);
                let c = Config::from_figment(Config::figment(None)).expect("clamped, not refused");
                assert_eq!(c.limits.max_results, MIN_MAX_RESULTS);
                let w = c.warnings();
                assert_eq!(w.len(), 1, "{w:?}");
                assert_eq!(w[0].key, "limits.max_results");
                assert!(
                    w[0].detail.contains(&format!("= {set} is below 100")),
                    "{w:?}"
                );
            }
            jail.set_env("SCIMD_LIMITS__MAX_RESULTS", "100");
            let c = Config::from_figment(Config::figment(None)).expect("100");
            assert_eq!(c.limits.max_results, 100);
            assert!(c.warnings().is_empty());
            Ok(())
        });
    }

    /// Issue 27: plain HTTP beyond loopback warns per listener unless behind TLS.
    #[test]
    fn plain_http_off_loopback_warns_per_listener() {
        let tls = Some(TlsConfig {
            certs: "c.pem".into(),
            key: "k.pem".into(),
        });
        let admin = |address: [u8; 4], tls: bool, url: Option<&str>| {
            Some(AdminConfig {
                address: IpAddr::from(address),
                port: 9090,
                tls,
                url: url.map(str::to_owned),
                ..AdminConfig::default()
            })
        };
        let keys =
            |c: &Config| -> Vec<String> { c.warnings().into_iter().map(|w| w.key).collect() };
        let cases: Vec<(Config, Vec<&str>)> = vec![
            (Config::default(), vec![]),
            (
                Config {
                    address: IpAddr::from([127, 1, 2, 3]),
                    ..Config::default()
                },
                vec![],
            ),
            (
                Config {
                    address: "::1".parse().expect("v6"),
                    ..Config::default()
                },
                vec![],
            ),
            (
                Config {
                    address: IpAddr::from([0, 0, 0, 0]),
                    ..Config::default()
                },
                vec!["address"],
            ),
            (
                Config {
                    address: IpAddr::from([0, 0, 0, 0]),
                    public_url: Some("https://scim.example.com".into()),
                    ..Config::default()
                },
                vec![],
            ),
            (
                Config {
                    address: IpAddr::from([0, 0, 0, 0]),
                    public_url: Some("http://scim.example.com".into()),
                    ..Config::default()
                },
                vec!["address"],
            ),
            (
                Config {
                    address: IpAddr::from([0, 0, 0, 0]),
                    tls: tls.clone(),
                    admin: admin([10, 0, 0, 5], false, None),
                    ..Config::default()
                },
                vec!["admin.address"],
            ),
            (
                Config {
                    address: IpAddr::from([0, 0, 0, 0]),
                    tls: tls.clone(),
                    admin: admin([10, 0, 0, 5], true, None),
                    ..Config::default()
                },
                vec![],
            ),
            (
                Config {
                    address: IpAddr::from([192, 0, 2, 1]),
                    admin: admin([10, 0, 0, 5], true, Some("https://admin.example.com")),
                    ..Config::default()
                },
                vec!["address"],
            ),
            (
                Config {
                    tls,
                    admin: admin([127, 0, 0, 1], false, None),
                    ..Config::default()
                },
                vec![],
            ),
        ];
        for (config, expected) in cases {
            assert_eq!(keys(&config), expected, "{config:?}");
        }
        let w = Config {
            address: IpAddr::from([0, 0, 0, 0]),
            ..Config::default()
        }
        .warnings();
        assert!(
            w[0].detail.contains("0.0.0.0:8080 serves plain HTTP"),
            "{w:?}"
        );
        assert!(w[0].fix.contains("[tls]"), "{w:?}");
    }
}

// ---- end warnings and floors ----

/// Shows that a secret is set without showing it (`scimd check-config`).
fn redact_secret<S: serde::Serializer>(v: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(_) => s.serialize_some("[redacted]"),
        None => s.serialize_none(),
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            address: IpAddr::from([127, 0, 0, 1]),
            port: 8080,
            database: PathBuf::from("scimd.db"),
            public_url: None,
            client_ip_header: None,
            tls: None,
            limits: Limits::default(),
            request_log: RequestLogConfig::default(),
            history: HistoryConfig::default(),
            events: EventsConfig::default(),
            webhooks: WebhooksConfig::default(),
            deletion: DeletionConfig::default(),
            metrics: MetricsConfig::default(),
            ldap: LdapConfig::default(),
            oauth: OAuthConfig::default(),
            admin: None,
            adjusted: Vec::new(),
        }
    }
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {0} does not exist; create it or drop --config to use the defaults")]
    MissingFile(PathBuf),
    #[error("{0}")]
    Invalid(String),
}

impl Config {
    /// Loads the configuration: `explicit` is the `--config` file, if any.
    pub fn load(explicit: Option<&Path>) -> Result<Self, ConfigError> {
        let file = match explicit {
            Some(path) if !path.exists() => return Err(ConfigError::MissingFile(path.to_owned())),
            Some(path) => Some(path.to_owned()),
            None => Some(PathBuf::from(SYSTEM_CONFIG)).filter(|p| p.exists()),
        };
        Self::from_figment(Self::figment(file.as_deref()))
    }

    /// The provider chain, exposed so tests can drive it under `figment::Jail`.
    pub fn figment(file: Option<&Path>) -> Figment {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            figment = figment.merge(Toml::file_exact(file));
        }
        // SCIMD_CONFIG names the file (`--config`); it is not a setting.
        figment.merge(Env::prefixed("SCIMD_").ignore(&["CONFIG"]).split("__"))
    }

    /// Extracts and validates a configuration from a provider chain.
    pub fn from_figment(figment: Figment) -> Result<Self, ConfigError> {
        let mut config: Config = figment.extract().map_err(describe)?;
        config.clamp();
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        check_header_name("client_ip_header", self.client_ip_header.as_deref())?;
        check_url("public_url", self.public_url.as_deref())?;
        if let Some(admin) = &self.admin {
            self.validate_admin(admin)?;
        }
        if self.request_log.queue_size == 0 {
            return Err(ConfigError::Invalid(
                "request_log.queue_size must be at least 1".into(),
            ));
        }
        if self.request_log.queue_bytes < self.request_log.max_body_bytes.saturating_mul(2) {
            return Err(ConfigError::Invalid(
                "request_log.queue_bytes must be at least twice request_log.max_body_bytes (one entry's request and response bodies)".into(),
            ));
        }
        if self.request_log.max_field_bytes < 64 {
            return Err(ConfigError::Invalid(
                "request_log.max_field_bytes must be at least 64".into(),
            ));
        }
        if self.request_log.max_bytes < 1 << 20 {
            return Err(ConfigError::Invalid(
                "request_log.max_bytes must be at least 1048576 (1 MiB)".into(),
            ));
        }
        if self.events.max_page == 0 || self.events.retention_days == 0 {
            return Err(ConfigError::Invalid(
                "events.max_page and events.retention_days must be at least 1".into(),
            ));
        }
        if self.events.browse_scan_rows < 200 {
            return Err(ConfigError::Invalid(
                "events.browse_scan_rows must be at least 200 (the Events page's largest page)"
                    .into(),
            ));
        }
        let w = &self.webhooks;
        if w.max_endpoints_per_tenant == 0
            || w.connect_timeout_secs == 0
            || w.timeout_secs == 0
            || w.retry_initial_ms == 0
            || w.retry_max_delay_secs == 0
            || w.retry_for_secs == 0
            || w.attempts_kept == 0
        {
            return Err(ConfigError::Invalid(
                "webhooks.max_endpoints_per_tenant, connect_timeout_secs, timeout_secs, retry_initial_ms, retry_max_delay_secs, retry_for_secs and attempts_kept must be at least 1".into(),
            ));
        }
        if w.max_backlog_age_secs < w.retry_for_secs {
            return Err(ConfigError::Invalid(format!(
                "webhooks.max_backlog_age_secs ({}) must be at least webhooks.retry_for_secs ({}): an endpoint would be disabled while its events are still being retried",
                w.max_backlog_age_secs, w.retry_for_secs
            )));
        }
        self.oauth.validate()?;
        if self.deletion.batch_rows == 0 || self.deletion.max_restore_ids == 0 {
            return Err(ConfigError::Invalid(
                "deletion.batch_rows and deletion.max_restore_ids must be at least 1".into(),
            ));
        }
        if self.history.max_value_bytes < 64 {
            return Err(ConfigError::Invalid(
                "history.max_value_bytes must be at least 64".into(),
            ));
        }
        if self
            .metrics
            .token
            .as_deref()
            .is_some_and(|t| t.trim().len() < 16)
        {
            return Err(ConfigError::Invalid(
                "metrics.token must be at least 16 characters (e.g. `openssl rand -hex 32`)".into(),
            ));
        }
        if self.limits.max_password_bytes < 16 {
            return Err(ConfigError::Invalid(
                "limits.max_password_bytes must be at least 16 (the default is 256)".into(),
            ));
        }
        if self.limits.login_failures == 0 || self.limits.login_failures_per_address == 0 {
            return Err(ConfigError::Invalid(
                "limits.login_failures and limits.login_failures_per_address must be at least 1"
                    .into(),
            ));
        }
        if self.limits.header_timeout_secs == 0 || self.limits.body_timeout_secs == 0 {
            return Err(ConfigError::Invalid(
                "limits.header_timeout_secs and limits.body_timeout_secs must be at least 1 (seconds)"
                    .into(),
            ));
        }
        if self.limits.max_connections == 0 {
            return Err(ConfigError::Invalid(
                "limits.max_connections must be at least 1".into(),
            ));
        }
        if !(1024..HYPER_MAX_URI_BYTES).contains(&self.limits.max_url_bytes) {
            return Err(ConfigError::Invalid(format!(
                "limits.max_url_bytes must be between 1024 and {} (longer URLs are refused by the HTTP parser itself, without a SCIM error)",
                HYPER_MAX_URI_BYTES - 1
            )));
        }
        if self.limits.requests_burst == Some(0) {
            return Err(ConfigError::Invalid(
                "limits.requests_burst must be at least 1 (or unset: one second's worth of limits.requests_per_second)".into(),
            ));
        }
        if self.limits.max_extensions == 0
            || self.limits.max_extension_attributes == 0
            || self.limits.max_extension_bytes < 1024
        {
            return Err(ConfigError::Invalid(
                "limits.max_extensions and limits.max_extension_attributes must be at least 1, limits.max_extension_bytes at least 1024".into(),
            ));
        }
        self.ldap.validate()?;
        if self.ldap.tls_port.is_some() && self.tls.is_none() {
            return Err(ConfigError::Invalid(
                "ldap.tls_port needs [tls] (certs and key): LDAPS serves the HTTPS certificate"
                    .into(),
            ));
        }
        if self.limits.max_patch_operations == 0 || self.limits.max_multi_values == 0 {
            return Err(ConfigError::Invalid(
                "limits.max_patch_operations and limits.max_multi_values must be at least 1".into(),
            ));
        }
        Ok(())
    }

    fn validate_admin(&self, admin: &AdminConfig) -> Result<(), ConfigError> {
        if admin.port == 0 {
            return Err(ConfigError::Invalid(
                "admin.port must be set (1-65535) when [admin] is present; remove [admin] to serve the UI on the main port".into(),
            ));
        }
        let overlap = admin.address == self.address
            || admin.address.is_unspecified()
            || self.address.is_unspecified();
        if admin.port == self.port && overlap {
            return Err(ConfigError::Invalid(format!(
                "admin.port = {} is the main listener's port on the same address; choose another port for [admin] (or remove [admin] to serve everything on one port)",
                admin.port
            )));
        }
        check_url("admin.url", admin.url.as_deref())?;
        check_header_name("admin.client_ip_header", admin.client_ip_header.as_deref())
    }

    /// The main listener: with `[admin]` the public one, else the only one.
    pub fn listener(&self) -> Listener {
        Listener {
            address: self.address,
            port: self.port,
            tls: self.tls.clone(),
            client_ip_header: self.client_ip_header.clone(),
            url: self.public_base().map(str::to_owned),
        }
    }

    /// The admin listener, when `[admin]` is set.
    pub fn admin_listener(&self) -> Option<Listener> {
        self.admin.as_ref().map(|a| Listener {
            address: a.address,
            port: a.port,
            tls: self.tls.clone().filter(|_| a.tls),
            client_ip_header: a.client_ip_header.clone(),
            url: a.url.as_deref().map(|u| u.trim_end_matches('/').to_owned()),
        })
    }

    /// The listener that serves the web UI: `[admin]`'s, else the only one.
    pub fn ui_listener(&self) -> Listener {
        self.admin_listener().unwrap_or_else(|| self.listener())
    }

    /// Whether the main listener is *behind TLS* ([`Listener::behind_tls`]).
    pub fn behind_tls(&self) -> bool {
        self.listener().behind_tls()
    }

    /// `public_url` without a trailing slash, if configured.
    pub fn public_base(&self) -> Option<&str> {
        self.public_url.as_deref().map(|u| u.trim_end_matches('/'))
    }
}

fn check_header_name(key: &str, header: Option<&str>) -> Result<(), ConfigError> {
    let Some(header) = header else {
        return Ok(());
    };
    let ok = !header.is_empty()
        && header
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        return Ok(());
    }
    Err(ConfigError::Invalid(format!(
        "{key} = \"{header}\" must be an HTTP header name such as \"X-Real-IP\", or be left unset when no reverse proxy sets one"
    )))
}

fn check_url(key: &str, url: Option<&str>) -> Result<(), ConfigError> {
    let Some(url) = url else {
        return Ok(());
    };
    let ok =
        (url.starts_with("https://") || url.starts_with("http://")) && url.len() > "https://".len();
    if ok {
        return Ok(());
    }
    Err(ConfigError::Invalid(format!(
        "{key} = \"{url}\" must be an absolute http(s) URL such as \"https://scim.example.com\""
    )))
}

/// Renders figment's errors with the key and the source (file or environment variable) of each.
fn describe(err: figment::Error) -> ConfigError {
    let lines: Vec<String> = err
        .into_iter()
        .map(|e| {
            let key = if e.path.is_empty() {
                String::new()
            } else {
                format!(" (key `{}`)", e.path.join("."))
            };
            let source = e
                .metadata
                .as_ref()
                .map_or(String::new(), |m| match &m.source {
                    Some(src) => format!(" in {src}"),
                    None => format!(" in {}", m.name),
                });
            format!("invalid configuration{source}{key}: {}", e.kind)
        })
        .collect();
    ConfigError::Invalid(lines.join("\n"))
}

#[cfg(test)]
// figment::Jail's closures return figment::Error, which is large; that is its API, not ours.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;
    use figment::Jail;

    #[test]
    fn defaults_file_then_env() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "scimd.toml",
                "port = 9000\ndatabase = \"/tmp/x.db\"\n[limits]\nmax_results = 200\n",
            )?;
            jail.set_env("SCIMD_PORT", "9001");
            jail.set_env("SCIMD_LIMITS__MAX_BODY_BYTES", "10");
            jail.set_env("SCIMD_LIMITS__REQUESTS_PER_SECOND", "30");
            let c = Config::from_figment(Config::figment(Some(Path::new("scimd.toml"))))
                .expect("config");
            assert_eq!(c.port, 9001);
            assert_eq!(c.database, PathBuf::from("/tmp/x.db"));
            assert_eq!(c.limits.max_results, 200);
            assert_eq!(c.limits.max_body_bytes, 10);
            assert_eq!(c.limits.requests_per_second, Some(30));
            assert_eq!(c.address, IpAddr::from([127, 0, 0, 1]));
            Ok(())
        });
    }

    #[test]
    fn unknown_key_names_key_and_file() {
        Jail::expect_with(|jail| {
            jail.create_file("scimd.toml", "prot = 9000\n")?;
            let err = Config::from_figment(Config::figment(Some(Path::new("scimd.toml"))))
                .expect_err("typo");
            let msg = err.to_string();
            assert!(msg.contains("prot"), "{msg}");
            assert!(msg.contains("scimd.toml"), "{msg}");
            Ok(())
        });
    }

    #[test]
    fn write_limits_must_be_positive() {
        Jail::expect_with(|jail| {
            jail.set_env("SCIMD_LIMITS__MAX_MULTI_VALUES", "0");
            let msg = Config::from_figment(Config::figment(None))
                .expect_err("zero")
                .to_string();
            assert!(msg.contains("limits.max_multi_values"), "{msg}");
            Ok(())
        });
    }

    #[test]
    fn unknown_env_var_is_named() {
        Jail::expect_with(|jail| {
            jail.set_env("SCIMD_LIMITS__MAX_RESULT", "5");
            let msg = Config::from_figment(Config::figment(None))
                .expect_err("typo")
                .to_string();
            assert!(msg.contains("max_result"), "{msg}");
            assert!(msg.to_lowercase().contains("environment"), "{msg}");
            Ok(())
        });
    }

    #[test]
    fn webhook_bounds_are_checked_and_named() {
        Jail::expect_with(|jail| {
            jail.set_env("SCIMD_WEBHOOKS__RETRY_FOR_SECS", "864000");
            let msg = Config::from_figment(Config::figment(None))
                .expect_err("backlog age below the retry window")
                .to_string();
            assert!(msg.contains("webhooks.max_backlog_age_secs"), "{msg}");
            jail.set_env("SCIMD_WEBHOOKS__RETRY_FOR_SECS", "60");
            jail.set_env("SCIMD_WEBHOOKS__TIMEOUT_SECS", "0");
            let msg = Config::from_figment(Config::figment(None))
                .expect_err("no timeout")
                .to_string();
            assert!(msg.contains("timeout_secs"), "{msg}");
            Ok(())
        });
    }

    #[test]
    fn scimd_config_names_the_file_and_is_not_a_setting() {
        Jail::expect_with(|jail| {
            jail.set_env("SCIMD_CONFIG", "/dev/null");
            Config::from_figment(Config::figment(None)).expect("SCIMD_CONFIG is not a key");
            Ok(())
        });
    }

    #[test]
    fn bad_public_url_is_explained() {
        Jail::expect_with(|jail| {
            jail.set_env("SCIMD_PUBLIC_URL", "scim.example.com");
            let msg = Config::from_figment(Config::figment(None))
                .expect_err("bad")
                .to_string();
            assert!(msg.contains("absolute http(s) URL"), "{msg}");
            Ok(())
        });
    }

    #[test]
    fn client_ip_header_must_be_a_header_name() {
        Jail::expect_with(|jail| {
            jail.set_env("SCIMD_CLIENT_IP_HEADER", "X-Real-IP: 1.2.3.4");
            let msg = Config::from_figment(Config::figment(None))
                .expect_err("bad")
                .to_string();
            assert!(msg.contains("must be an HTTP header name"), "{msg}");
            jail.set_env("SCIMD_CLIENT_IP_HEADER", "X-Forwarded-Client");
            let config = Config::from_figment(Config::figment(None)).expect("good");
            assert_eq!(
                config.client_ip_header.as_deref(),
                Some("X-Forwarded-Client")
            );
            Ok(())
        });
    }

    #[test]
    fn log_and_history_bounds_must_be_sensible() {
        Jail::expect_with(|jail| {
            for (var, value, named) in [
                (
                    "SCIMD_REQUEST_LOG__MAX_FIELD_BYTES",
                    "10",
                    "request_log.max_field_bytes",
                ),
                (
                    "SCIMD_REQUEST_LOG__MAX_BYTES",
                    "1000",
                    "request_log.max_bytes",
                ),
                (
                    "SCIMD_HISTORY__MAX_VALUE_BYTES",
                    "0",
                    "history.max_value_bytes",
                ),
            ] {
                jail.set_env(var, value);
                let msg = Config::from_figment(Config::figment(None))
                    .expect_err("too small")
                    .to_string();
                assert!(msg.contains(named), "{msg}");
                jail.set_env(var, "1048576");
            }
            let c = Config::from_figment(Config::figment(None)).expect("sensible");
            assert_eq!(c.history.retention_days, 365);
            Ok(())
        });
    }

    #[test]
    fn behind_tls_when_terminating_tls_or_public_url_is_https() {
        let tls = Some(TlsConfig {
            certs: "c.pem".into(),
            key: "k.pem".into(),
        });
        let cases = [
            (None, None, false),
            (None, Some("http://scim.internal"), false),
            (None, Some("https://scim.example.com"), true),
            (None, Some("HTTPS://SCIM.EXAMPLE.COM"), true),
            (tls.clone(), None, true),
            (tls, Some("http://scim.internal"), true),
        ];
        for (tls, public_url, expected) in cases {
            let config = Config {
                tls,
                public_url: public_url.map(str::to_owned),
                ..Config::default()
            };
            assert_eq!(config.behind_tls(), expected, "{config:?}");
        }
    }

    #[test]
    fn connection_limits_are_validated() {
        Jail::expect_with(|jail| {
            let config = Config::from_figment(Config::figment(None)).expect("defaults");
            assert_eq!(config.limits.header_timeout_secs, 10);
            assert_eq!(config.limits.body_timeout_secs, 30);
            assert_eq!(config.limits.max_connections, 1024);
            assert_eq!(config.limits.max_url_bytes, 16_384);
            assert_eq!(config.request_log.queue_bytes, 8 << 20);
            for (key, value, says) in [
                (
                    "SCIMD_LIMITS__HEADER_TIMEOUT_SECS",
                    "0",
                    "header_timeout_secs",
                ),
                ("SCIMD_LIMITS__MAX_CONNECTIONS", "0", "max_connections"),
                ("SCIMD_LIMITS__MAX_URL_BYTES", "65534", "65533"),
                (
                    "SCIMD_REQUEST_LOG__QUEUE_BYTES",
                    "32767",
                    "request_log.queue_bytes must be at least twice",
                ),
            ] {
                jail.set_env(key, value);
                let msg = Config::from_figment(Config::figment(None))
                    .expect_err(key)
                    .to_string();
                assert!(msg.contains(says), "{key}: {msg}");
                jail.clear_env();
            }
            Ok(())
        });
    }

    /// Issue 20 item 2: `[admin]` is optional, set from the file or `SCIMD_ADMIN__*`, and a
    /// listener that could not bind beside the main one is refused with the key named.
    #[test]
    fn admin_listener_is_optional_and_validated() {
        Jail::expect_with(|jail| {
            let c = Config::from_figment(Config::figment(None)).expect("defaults");
            assert_eq!(c.admin, None);
            assert!(c.admin_listener().is_none());
            jail.set_env("SCIMD_ADMIN__PORT", "9090");
            let c = Config::from_figment(Config::figment(None)).expect("admin port");
            let admin = c.admin.clone().expect("[admin] set");
            assert_eq!(admin.port, 9090);
            assert_eq!(admin.address, IpAddr::from([127, 0, 0, 1]));
            assert!(admin.tls);
            jail.clear_env();
            for (env, says) in [
                (
                    vec![("SCIMD_ADMIN__ADDRESS", "127.0.0.1")],
                    "admin.port must be set",
                ),
                (vec![("SCIMD_ADMIN__PORT", "0")], "admin.port must be set"),
                (vec![("SCIMD_ADMIN__PORT", "8080")], "main listener's port"),
                (
                    vec![("SCIMD_ADDRESS", "0.0.0.0"), ("SCIMD_ADMIN__PORT", "8080")],
                    "main listener's port",
                ),
                (
                    vec![
                        ("SCIMD_ADMIN__PORT", "9090"),
                        ("SCIMD_ADMIN__URL", "admin.local"),
                    ],
                    "admin.url",
                ),
                (
                    vec![
                        ("SCIMD_ADMIN__PORT", "9090"),
                        ("SCIMD_ADMIN__CLIENT_IP_HEADER", "X-Real-IP: 1"),
                    ],
                    "admin.client_ip_header",
                ),
                (vec![("SCIMD_ADMIN__PROT", "9090")], "prot"),
            ] {
                for (k, v) in &env {
                    jail.set_env(k, v);
                }
                let msg = Config::from_figment(Config::figment(None))
                    .expect_err("refused")
                    .to_string();
                assert!(msg.contains(says), "{env:?}: {msg}");
                jail.clear_env();
            }
            // The same port on another address binds fine.
            jail.create_file(
                "scimd.toml",
                "address = \"127.0.0.1\"\n[admin]\naddress = \"127.0.0.2\"\nport = 8080\n",
            )?;
            let c = Config::from_figment(Config::figment(Some(Path::new("scimd.toml"))))
                .expect("other address");
            assert_eq!(c.admin.map(|a| a.port), Some(8080));
            Ok(())
        });
    }

    /// Issue 20 item 2: the *behind TLS* rule holds per listener: the admin listener shares
    /// `[tls]` unless `admin.tls = false`, and its own `admin.url` (not `public_url`) says
    /// whether a TLS proxy fronts it.
    #[test]
    fn behind_tls_is_decided_per_listener() {
        let tls = Some(TlsConfig {
            certs: "c.pem".into(),
            key: "k.pem".into(),
        });
        let admin = |tls: bool, url: Option<&str>| {
            Some(AdminConfig {
                port: 9090,
                tls,
                url: url.map(str::to_owned),
                ..AdminConfig::default()
            })
        };
        let cases = [
            // (main tls, public_url, [admin], main behind TLS, admin behind TLS)
            (tls.clone(), None, admin(true, None), true, true),
            (tls.clone(), None, admin(false, None), true, false),
            (
                None,
                Some("https://scim.example.com"),
                admin(true, None),
                true,
                false,
            ),
            (
                None,
                None,
                admin(true, Some("https://admin.example.com")),
                false,
                true,
            ),
            (
                tls,
                None,
                admin(false, Some("https://admin.example.com")),
                true,
                true,
            ),
        ];
        for (tls, public_url, admin, main, on_admin) in cases {
            let config = Config {
                tls,
                public_url: public_url.map(str::to_owned),
                admin,
                ..Config::default()
            };
            let listener = config.admin_listener().expect("[admin]");
            assert_eq!(config.listener().behind_tls(), main, "{config:?}");
            assert_eq!(listener.behind_tls(), on_admin, "{config:?}");
            assert_eq!(config.ui_listener(), listener);
            assert_eq!(
                listener.base().starts_with("https://"),
                on_admin,
                "{config:?}"
            );
        }
    }

    #[test]
    fn missing_explicit_file_is_an_error() {
        let err = Config::load(Some(Path::new("/nonexistent/scimd.toml"))).expect_err("missing");
        assert!(err.to_string().contains("/nonexistent/scimd.toml"));
    }

    /// Issue 20, item 7: every configuration key is documented in the README, by its dotted
    /// name (`limits.max_results`) or its environment variable (`SCIMD_LIMITS__MAX_RESULTS`).
    #[test]
    fn the_readme_documents_every_key() {
        let readme = include_str!("../README.md");
        let every_option_set = Config {
            public_url: Some("https://scim.example.com".into()),
            client_ip_header: Some("X-Real-IP".into()),
            tls: Some(TlsConfig {
                certs: "c.pem".into(),
                key: "k.pem".into(),
            }),
            metrics: MetricsConfig {
                token: Some("0123456789abcdef".into()),
            },
            admin: Some(AdminConfig {
                url: Some("https://admin.example.com".into()),
                client_ip_header: Some("X-Real-IP".into()),
                ..AdminConfig::default()
            }),
            ..Config::default()
        };
        let serde_json::Value::Object(top) =
            serde_json::to_value(&every_option_set).expect("serialise")
        else {
            panic!("a configuration is an object");
        };
        let mut keys = Vec::new();
        for (key, value) in top {
            match value {
                serde_json::Value::Object(section) => {
                    keys.extend(section.keys().map(|k| format!("{key}.{k}")));
                }
                _ => keys.push(key),
            }
        }
        let missing: Vec<&String> = keys
            .iter()
            .filter(|k| {
                let env = format!("SCIMD_{}", k.replace('.', "__").to_uppercase());
                !readme.contains(&format!("`{k}`")) && !readme.contains(&env)
            })
            .collect();
        assert!(
            missing.is_empty(),
            "keys the README does not document: {missing:?}"
        );
    }
}
