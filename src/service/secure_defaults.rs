//! Secure defaults for new installs (issue 27): a per-token rate limit and a token lifetime
//! that a database created by this scimd starts with, recorded in it when it is created
//! (`install_defaults`, migrations/0014), so an upgraded install keeps the behaviour it had
//! until its admin changes it. An explicit setting always wins.
//!
//! 50 requests per second per token, with ten seconds' worth of burst (500): Entra gallery apps must
//! sustain 25 per second per tenant (idp-requirements.md, "Latency / rate": twice that is
//! headroom), and an Okta import walks its pages one request after another (S03: 100 users a
//! page, so 10,000 users are 100 requests), while a leaked token or a runaway script is held to
//! a rate the writer absorbs beside the IdPs. The burst lets a client that is fast for a few
//! seconds through (an IdP's first cycle, a test run: scim2-tester sends its whole suite at
//! once, tests/conformance) while the sustained rate stays bounded. A refused request gets 429
//! with an integer `Retry-After`, which Okta (S24) and Entra honour. 365 days for a token: rotated yearly, it never expires unnoticed (`scimd doctor`
//! warns 14 days ahead).

use crate::config::Config;
use crate::store::{self, Store, install_defaults};

/// The key the rate limit is recorded under.
pub const REQUESTS_PER_SECOND: &str = "limits.requests_per_second";
/// The key the bucket size is recorded under.
pub const REQUESTS_BURST: &str = "limits.requests_burst";
/// The key the default lifetime of a new token is recorded under (humantime syntax).
pub const TOKEN_EXPIRES_IN: &str = "token_expires_in";
/// What `--expires-in` / the API's `expires_in` take for a token that never expires.
pub const NEVER: &str = "never";

/// The defaults this database was created with; `None` for one created before them.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct InstallDefaults {
    pub requests_per_second: Option<u32>,
    pub requests_burst: Option<u32>,
    pub token_expires_in: Option<String>,
}

/// Reads the defaults recorded in the database.
pub fn read(store: &Store) -> store::Result<InstallDefaults> {
    store.read_blocking(|c| {
        Ok(InstallDefaults {
            requests_per_second: install_defaults::get(c, REQUESTS_PER_SECOND)?
                .and_then(|v| v.parse().ok()),
            requests_burst: install_defaults::get(c, REQUESTS_BURST)?.and_then(|v| v.parse().ok()),
            token_expires_in: install_defaults::get(c, TOKEN_EXPIRES_IN)?,
        })
    })
}

/// The per-token rate limit in force and where it comes from: the configuration when set,
/// else the install default, else unlimited (0).
pub fn requests_per_second(config: &Config, defaults: &InstallDefaults) -> (u32, &'static str) {
    match (
        config.limits.requests_per_second,
        defaults.requests_per_second,
    ) {
        (Some(set), _) => (set, "set by limits.requests_per_second"),
        (None, Some(recorded)) => (
            recorded,
            "the default of a new install, recorded when the database was created",
        ),
        (None, None) => (
            0,
            "this database predates secure defaults; set limits.requests_per_second = 50 to turn it on",
        ),
    }
}

/// The bucket size in force for `per_second` ([`requests_per_second`]'s answer): the
/// configuration's when set; one second's worth when the rate was configured (as before
/// `requests_burst` existed); else the install default; else one second's worth.
pub fn requests_burst(config: &Config, defaults: &InstallDefaults, per_second: u32) -> u32 {
    match (
        config.limits.requests_burst,
        config.limits.requests_per_second,
        defaults.requests_burst,
    ) {
        (Some(set), _, _) => set,
        (None, Some(_), _) | (None, None, None) => per_second,
        (None, None, Some(recorded)) => recorded,
    }
}

/// The lifetime of a new token: `requested` when given (`never` for none), else the install
/// default (none on a database created before secure defaults).
pub fn token_lifetime(
    store: &Store,
    requested: Option<&str>,
) -> Result<Option<std::time::Duration>, String> {
    let chosen = match requested.map(str::trim) {
        Some(r) if r.eq_ignore_ascii_case(NEVER) => return Ok(None),
        Some(r) => Some(r.to_owned()),
        None => {
            read(store)
                .map_err(|e| format!("the database failed: {e}"))?
                .token_expires_in
        }
    };
    chosen
        .as_deref()
        .map(super::tokens::parse_duration)
        .transpose()
}
