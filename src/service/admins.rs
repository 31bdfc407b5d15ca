//! Admin accounts, sessions and the login rate limit. Passwords are argon2id (see
//! [`super::passwords`]); a session is a random cookie value of which only the SHA-256 is
//! stored, paired with a CSRF token the UI echoes on every state-changing call.

use std::collections::{HashMap, VecDeque};
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use rand::RngCore;
use rand::distr::{Alphanumeric, SampleString};
use subtle::ConstantTimeEq;

use super::OpError;
use super::passwords;
use super::tokens::hash_secret;
use crate::clock;
use crate::store::admins::{self as rows, SessionRow};
use crate::store::{Store, StoreError};

/// The account created on the first start of an empty database.
pub const INITIAL_ADMIN: &str = "admin";
/// How long a session lasts after login (absolute, not sliding).
pub const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 3600);
const PASSWORD_CHARS: usize = 24;

/// A generated password: 24 alphanumerics, about 142 bits.
fn generate_password() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), PASSWORD_CHARS)
}

fn random_hex() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn hash(password: &str) -> Result<String, OpError> {
    passwords::hash(password).map_err(|_| OpError::Internal("could not hash the password".into()))
}

fn internal(e: &StoreError) -> OpError {
    tracing::error!("admin store failure: {e}");
    OpError::Internal(format!("the database failed: {e}"))
}

/// On an empty database, creates [`INITIAL_ADMIN`] and returns its generated password (for the
/// caller to print once); `None` when any admin exists.
pub fn ensure_initial_admin(store: &Store) -> Result<Option<String>, OpError> {
    if store.read_blocking(rows::count).map_err(|e| internal(&e))? > 0 {
        return Ok(None);
    }
    let password = generate_password();
    let hashed = hash(&password)?;
    let now = clock::timestamp(clock::now());
    // Re-checked inside the write so two processes starting at once create one admin.
    let created = store
        .write_blocking(move |tx| {
            if rows::count(tx)? > 0 {
                return Ok(false);
            }
            rows::insert(tx, INITIAL_ADMIN, &hashed, &now)?;
            Ok(true)
        })
        .map_err(|e| internal(&e))?;
    Ok(created.then_some(password))
}

/// Sets a new generated password for `username` and ends its sessions; returns the password.
pub fn reset_password(store: &Store, username: &str) -> Result<String, OpError> {
    let password = generate_password();
    let hashed = hash(&password)?;
    let now = clock::timestamp(clock::now());
    // With no admin at all (the server never started), the named account is created instead,
    // so shell access can always recover the UI.
    let name = username.to_owned();
    let outcome = store.write_blocking(move |tx| {
        if rows::count(tx)? == 0 {
            rows::insert(tx, &name, &hashed, &now).map(|_| ())
        } else {
            rows::set_password(tx, &name, &hashed)
        }
    });
    match outcome {
        Ok(()) => Ok(password),
        Err(StoreError::NotFound) => {
            let known = store
                .read_blocking(rows::usernames)
                .map_err(|e| internal(&e))?;
            Err(OpError::NotFound(format!(
                "there is no admin \"{username}\"; existing admins: {}",
                known.join(", ")
            )))
        }
        Err(e) => Err(internal(&e)),
    }
}

/// A signed-in admin, as the session guard sees it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Session {
    pub username: String,
    pub csrf_token: String,
    pub expires: String,
}

/// A new session: the cookie value exists only here and in the browser.
pub struct NewSession {
    pub cookie: String,
    pub session: Session,
}

/// Why a login failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginError {
    /// Wrong username or password (deliberately not saying which).
    Invalid,
    /// Too many failures; retry after this many seconds.
    RateLimited(u64),
    Internal(String),
}

/// Hashed once: verifying against it makes an unknown username cost the same as a wrong
/// password, so response times do not reveal which usernames exist.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| passwords::hash("scimd-dummy-password").unwrap_or_default());

/// Checks credentials (subject to `limiter`) and opens a session.
pub async fn login(
    store: &Store,
    limiter: &LoginLimiter,
    username: &str,
    password: &str,
    client_ip: Option<&str>,
) -> Result<NewSession, LoginError> {
    let keys = LoginLimiter::keys(username, client_ip);
    if let Err(wait) = limiter.check(&keys, Instant::now()) {
        return Err(LoginError::RateLimited(wait.as_secs().max(1)));
    }
    let lookup = username.to_owned();
    let user = store
        .read(move |c| rows::by_username(c, &lookup))
        .await
        .map_err(|e| LoginError::Internal(e.to_string()))?;
    let (phc, candidate) = match &user {
        Some(u) => (u.password_hash.clone(), password.to_owned()),
        None => (DUMMY_HASH.clone(), password.to_owned()),
    };
    let verified = rocket::tokio::task::spawn_blocking(move || passwords::verify(&candidate, &phc))
        .await
        .map_err(|e| LoginError::Internal(e.to_string()))?;
    let Some(user) = user.filter(|_| verified) else {
        limiter.failed(&keys, Instant::now());
        tracing::info!(username, ip = client_ip, "admin login failed");
        return Err(LoginError::Invalid);
    };
    limiter.succeeded(&keys);
    let cookie = random_hex();
    let csrf_token = random_hex();
    let now = clock::now();
    let expires = clock::timestamp(now + SESSION_LIFETIME);
    let (id_hash, stamp) = (hash_secret(&cookie), clock::timestamp(now));
    let (csrf, exp, admin_id) = (csrf_token.clone(), expires.clone(), user.id);
    store
        .write(move |tx| rows::insert_session(tx, &id_hash, admin_id, &csrf, &stamp, &exp))
        .await
        .map_err(|e| LoginError::Internal(e.to_string()))?;
    tracing::info!(username, ip = client_ip, "admin signed in");
    Ok(NewSession {
        cookie,
        session: Session {
            username: user.username,
            csrf_token,
            expires,
        },
    })
}

/// The live session for a cookie value, if any.
pub async fn session(store: &Store, cookie: &str) -> Result<Option<Session>, OpError> {
    let id_hash = hash_secret(cookie);
    let now = clock::timestamp(clock::now());
    let row = store
        .read(move |c| rows::session(c, &id_hash, &now))
        .await
        .map_err(|e| internal(&e))?;
    Ok(row.map(|r: SessionRow| Session {
        username: r.username,
        csrf_token: r.csrf_token,
        expires: r.expires,
    }))
}

/// Whether a presented CSRF token is the session's (constant time).
pub fn csrf_matches(session: &Session, presented: &str) -> bool {
    bool::from(session.csrf_token.as_bytes().ct_eq(presented.as_bytes()))
}

/// Ends the session of a cookie value.
pub async fn logout(store: &Store, cookie: &str) -> Result<(), OpError> {
    let id_hash = hash_secret(cookie);
    store
        .write(move |tx| rows::delete_session(tx, &id_hash))
        .await
        .map_err(|e| internal(&e))
}

/// Login failures per client IP and per username in a sliding window, in memory: a restart
/// forgets them, which costs an attacker a restart they cannot cause.
pub struct LoginLimiter {
    policy: Mutex<(usize, Duration)>,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

/// Failures allowed per key within [`WINDOW`].
pub const MAX_FAILURES: usize = 5;
/// The sliding window of the login rate limit.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Keys tracked at most; beyond it the stalest are dropped so a spray of IPs cannot grow memory.
const MAX_KEYS: usize = 10_000;

impl Default for LoginLimiter {
    fn default() -> Self {
        Self::new(MAX_FAILURES, WINDOW)
    }
}

impl LoginLimiter {
    /// A limiter allowing `max` failures per key within `window`.
    pub fn new(max: usize, window: Duration) -> Self {
        Self {
            policy: Mutex::new((max, window)),
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Changes the policy of a running limiter (tests use a window of a second).
    pub fn set_policy(&self, max: usize, window: Duration) {
        if let Ok(mut p) = self.policy.lock() {
            *p = (max, window);
        }
    }

    fn policy(&self) -> (usize, Duration) {
        self.policy.lock().map_or((MAX_FAILURES, WINDOW), |p| *p)
    }

    /// The keys a login attempt counts against: the username (case-folded) and the client IP.
    pub fn keys(username: &str, ip: Option<&str>) -> Vec<String> {
        let mut keys = vec![format!("user:{}", username.to_lowercase())];
        if let Some(ip) = ip {
            keys.push(format!("ip:{ip}"));
        }
        keys
    }

    /// `Err(wait)` when any key has used up its failures; `wait` is until the oldest expires.
    pub fn check(&self, keys: &[String], now: Instant) -> Result<(), Duration> {
        let (max, window) = self.policy();
        let Ok(mut map) = self.failures.lock() else {
            return Ok(());
        };
        let mut wait = Duration::ZERO;
        for key in keys {
            if let Some(times) = map.get_mut(key) {
                while times
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= window)
                {
                    times.pop_front();
                }
                if times.len() >= max
                    && let Some(oldest) = times.front()
                {
                    let left = window.saturating_sub(now.duration_since(*oldest));
                    // Round up so a client honouring Retry-After is not refused again.
                    wait = wait.max(Duration::from_secs(left.as_secs() + 1));
                }
            }
        }
        if wait.is_zero() { Ok(()) } else { Err(wait) }
    }

    /// Counts a failure against every key.
    pub fn failed(&self, keys: &[String], now: Instant) {
        let (_, window) = self.policy();
        let Ok(mut map) = self.failures.lock() else {
            return;
        };
        if map.len() >= MAX_KEYS {
            map.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.duration_since(*t) < window)
            });
        }
        for key in keys {
            map.entry(key.clone()).or_default().push_back(now);
        }
    }

    /// A successful login clears the username's failures; the IP's stay, so one valid account
    /// does not reset the budget for guessing others from the same address.
    pub fn succeeded(&self, keys: &[String]) {
        if let Ok(mut map) = self.failures.lock() {
            for key in keys.iter().filter(|k| k.starts_with("user:")) {
                map.remove(key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_trips_after_max_failures_and_recovers_after_the_window() {
        let limiter = LoginLimiter::new(3, Duration::from_secs(60));
        let keys = LoginLimiter::keys("Admin", Some("192.0.2.1"));
        let t0 = Instant::now();
        for i in 0..3 {
            assert!(limiter.check(&keys, t0).is_ok(), "attempt {i}");
            limiter.failed(&keys, t0 + Duration::from_secs(i));
        }
        let wait = limiter
            .check(&keys, t0 + Duration::from_secs(10))
            .expect_err("tripped");
        assert_eq!(wait, Duration::from_secs(51));
        // Another username from the same IP is refused too; the same user from another IP too.
        assert!(
            limiter
                .check(&LoginLimiter::keys("bob", Some("192.0.2.1")), t0)
                .is_err()
        );
        assert!(
            limiter
                .check(&LoginLimiter::keys("admin", Some("198.51.100.9")), t0)
                .is_err()
        );
        assert!(
            limiter
                .check(&LoginLimiter::keys("bob", Some("198.51.100.9")), t0)
                .is_ok()
        );
        // After the oldest failure leaves the window, one attempt is allowed again.
        assert!(limiter.check(&keys, t0 + Duration::from_secs(60)).is_ok());
    }

    #[test]
    fn success_clears_only_the_username() {
        let limiter = LoginLimiter::new(2, Duration::from_secs(60));
        let keys = LoginLimiter::keys("admin", Some("192.0.2.1"));
        let t0 = Instant::now();
        limiter.failed(&keys, t0);
        limiter.failed(&keys, t0);
        limiter.succeeded(&keys);
        assert!(
            limiter
                .check(&LoginLimiter::keys("admin", None), t0)
                .is_ok()
        );
        assert!(
            limiter.check(&keys, t0).is_err(),
            "the IP keeps its failures"
        );
    }

    #[test]
    fn generated_passwords_are_long_and_distinct() {
        let (a, b) = (generate_password(), generate_password());
        assert_eq!(a.len(), PASSWORD_CHARS);
        assert_ne!(a, b);
    }
}
