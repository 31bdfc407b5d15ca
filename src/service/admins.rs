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
    /// The username or password is longer than this many bytes; refused before hashing.
    TooLong(usize),
    /// Every password hashing thread is busy; retry in a moment.
    Busy,
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
    let max = passwords::max_bytes();
    if username.len() > max || password.len() > max {
        return Err(LoginError::TooLong(max));
    }
    // The attempt counts as a failure from here on and is refunded on success, so a burst of
    // concurrent guesses cannot all pass the check before any of them is recorded.
    let attempt = limiter
        .begin(username, client_ip, Instant::now())
        .map_err(|wait| LoginError::RateLimited(wait.as_secs().max(1)))?;
    if !attempt.delay.is_zero() {
        rocket::tokio::time::sleep(attempt.delay).await;
    }
    let lookup = username.to_owned();
    let user = match store.read(move |c| rows::by_username(c, &lookup)).await {
        Ok(user) => user,
        Err(e) => {
            limiter.refund(&attempt);
            return Err(LoginError::Internal(e.to_string()));
        }
    };
    let phc = user
        .as_ref()
        .map_or_else(|| DUMMY_HASH.clone(), |u| u.password_hash.clone());
    let verified = match passwords::verify_pooled(password.to_owned(), phc).await {
        Ok(verified) => verified,
        Err(e) => {
            // Not judged, so not counted.
            limiter.refund(&attempt);
            return Err(match e {
                passwords::HashError::Busy => LoginError::Busy,
                passwords::HashError::TooLong(max) => LoginError::TooLong(max),
                passwords::HashError::Failed => LoginError::Internal(e.to_string()),
            });
        }
    };
    let Some(user) = user.filter(|_| verified) else {
        tracing::info!(username, ip = client_ip, "admin login failed");
        return Err(LoginError::Invalid);
    };
    limiter.succeeded(&attempt);
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

/// The sign-in limit's policy (`[login]`-style settings under `[limits]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginPolicy {
    /// Failures allowed for one username from one address within `window`; then 429.
    pub per_user_and_address: usize,
    /// Failures allowed from one address, whatever the usernames, within `window`; then 429.
    pub per_address: usize,
    /// Failures of one username, from any address, after which each further attempt for it is
    /// slowed (doubling from 250 ms up to [`MAX_DELAY`]) but never refused: a hard limit per
    /// username would let anyone lock the admin out by guessing from a few addresses.
    pub slow_after: usize,
    pub window: Duration,
}

impl Default for LoginPolicy {
    fn default() -> Self {
        Self {
            per_user_and_address: 5,
            per_address: 20,
            slow_after: 10,
            window: Duration::from_secs(15 * 60),
        }
    }
}

/// The longest a sign-in for a much-guessed username is slowed.
pub const MAX_DELAY: Duration = Duration::from_secs(8);
/// Keys tracked at most; beyond it the stalest are dropped so a spray of addresses cannot
/// grow memory.
const MAX_KEYS: usize = 10_000;
/// Failures remembered per key: enough to judge every threshold and the longest delay.
const MAX_REMEMBERED: usize = 64;

/// Sign-in failures per (username, address), per address and per username in a sliding window,
/// in memory: a restart forgets them, which costs an attacker a restart they cannot cause.
pub struct LoginLimiter {
    policy: Mutex<LoginPolicy>,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl Default for LoginLimiter {
    fn default() -> Self {
        Self::new(LoginPolicy::default())
    }
}

/// A sign-in in progress, already counted as a failure against its keys.
#[derive(Debug)]
pub struct Attempt {
    keys: [String; 3],
    at: Instant,
    /// How long to wait before checking the password (a much-guessed username).
    pub delay: Duration,
}

impl LoginLimiter {
    pub fn new(policy: LoginPolicy) -> Self {
        Self {
            policy: Mutex::new(policy),
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Changes the policy of a running limiter (tests use a window of a few seconds).
    pub fn set_policy(&self, policy: LoginPolicy) {
        if let Ok(mut p) = self.policy.lock() {
            *p = policy;
        }
    }

    fn policy(&self) -> LoginPolicy {
        self.policy
            .lock()
            .map_or_else(|_| LoginPolicy::default(), |p| *p)
    }

    /// Starts an attempt for `username` from `ip`: `Err(wait)` when the (username, address)
    /// pair or the address has used up its failures, `wait` being until the oldest expires;
    /// otherwise the attempt is recorded as a failure until [`Self::succeeded`] or
    /// [`Self::refund`] says otherwise.
    pub fn begin(
        &self,
        username: &str,
        ip: Option<&str>,
        now: Instant,
    ) -> Result<Attempt, Duration> {
        let policy = self.policy();
        let user = username.to_lowercase();
        let ip = ip.unwrap_or("unknown");
        let keys = [
            format!("pair:{ip} {user}"),
            format!("ip:{ip}"),
            format!("user:{user}"),
        ];
        let Ok(mut map) = self.failures.lock() else {
            return Err(policy.window);
        };
        let recent = |map: &mut HashMap<String, VecDeque<Instant>>, key: &str| {
            let Some(times) = map.get_mut(key) else {
                return (0, None);
            };
            while times
                .front()
                .is_some_and(|t| now.duration_since(*t) >= policy.window)
            {
                times.pop_front();
            }
            (times.len(), times.front().copied())
        };
        let mut wait = Duration::ZERO;
        for (key, max) in [
            (&keys[0], policy.per_user_and_address),
            (&keys[1], policy.per_address),
        ] {
            if let (n, Some(oldest)) = recent(&mut map, key)
                && n >= max
            {
                let left = policy.window.saturating_sub(now.duration_since(oldest));
                // Round up so a client honouring Retry-After is not refused again.
                wait = wait.max(Duration::from_secs(left.as_secs() + 1));
            }
        }
        if !wait.is_zero() {
            return Err(wait);
        }
        let (user_failures, _) = recent(&mut map, &keys[2]);
        let delay = match user_failures.checked_sub(policy.slow_after) {
            None => Duration::ZERO,
            Some(over) => Duration::from_millis(250)
                .saturating_mul(1 << over.min(6))
                .min(MAX_DELAY),
        };
        if map.len() + keys.len() > MAX_KEYS {
            evict_stalest(&mut map, now, policy.window);
        }
        for key in &keys {
            let times = map.entry(key.clone()).or_default();
            times.push_back(now);
            if times.len() > MAX_REMEMBERED {
                times.pop_front();
            }
        }
        Ok(Attempt {
            keys,
            at: now,
            delay,
        })
    }

    /// Takes back the failure an attempt recorded (it was never judged).
    pub fn refund(&self, attempt: &Attempt) {
        if let Ok(mut map) = self.failures.lock() {
            for key in &attempt.keys {
                if let Some(times) = map.get_mut(key)
                    && let Some(i) = times.iter().rposition(|t| *t == attempt.at)
                {
                    times.remove(i);
                }
            }
        }
    }

    /// A successful sign-in clears the username's failures and the pair's; the address keeps
    /// its others, so one valid account does not reset the budget for guessing others.
    pub fn succeeded(&self, attempt: &Attempt) {
        self.refund(attempt);
        if let Ok(mut map) = self.failures.lock() {
            map.remove(&attempt.keys[0]);
            map.remove(&attempt.keys[2]);
        }
    }
}

/// Drops keys with no failure in the window, then, if a spray of fresh addresses still fills
/// the map, the half whose newest failure is oldest.
fn evict_stalest(map: &mut HashMap<String, VecDeque<Instant>>, now: Instant, window: Duration) {
    map.retain(|_, times| {
        times
            .back()
            .is_some_and(|t| now.duration_since(*t) < window)
    });
    if map.len() < MAX_KEYS / 2 {
        return;
    }
    let mut newest: Vec<Instant> = map.values().filter_map(|t| t.back().copied()).collect();
    newest.sort_unstable();
    if let Some(cut) = newest.get(newest.len() / 2).copied() {
        map.retain(|_, times| times.back().is_some_and(|t| *t > cut));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> LoginPolicy {
        LoginPolicy {
            per_user_and_address: 3,
            per_address: 5,
            slow_after: 4,
            window: Duration::from_secs(60),
        }
    }

    #[test]
    fn a_pair_trips_after_its_failures_and_recovers_after_the_window() {
        let limiter = LoginLimiter::new(policy());
        let t0 = Instant::now();
        for i in 0..3 {
            limiter
                .begin("Admin", Some("192.0.2.1"), t0 + Duration::from_secs(i))
                .expect("allowed");
        }
        let wait = limiter
            .begin("admin", Some("192.0.2.1"), t0 + Duration::from_secs(10))
            .expect_err("tripped");
        assert_eq!(wait, Duration::from_secs(51));
        // The same user from another address is not refused: no lockout by a stranger.
        limiter
            .begin("admin", Some("198.51.100.9"), t0 + Duration::from_secs(10))
            .expect("another address");
        // After the oldest failure leaves the window, one attempt is allowed again.
        limiter
            .begin("admin", Some("192.0.2.1"), t0 + Duration::from_secs(60))
            .expect("recovered");
    }

    #[test]
    fn an_address_trips_whatever_the_usernames() {
        let limiter = LoginLimiter::new(policy());
        let t0 = Instant::now();
        for i in 0..5 {
            limiter
                .begin(&format!("user{i}"), Some("192.0.2.1"), t0)
                .expect("allowed");
        }
        assert!(limiter.begin("someone", Some("192.0.2.1"), t0).is_err());
        assert!(limiter.begin("someone", Some("192.0.2.2"), t0).is_ok());
    }

    #[test]
    fn a_much_guessed_username_is_slowed_never_refused() {
        let limiter = LoginLimiter::new(policy());
        let t0 = Instant::now();
        let delays: Vec<Duration> = (0..12)
            .map(|i| {
                limiter
                    .begin("admin", Some(&format!("203.0.113.{i}")), t0)
                    .expect("never refused for the username alone")
                    .delay
            })
            .collect();
        assert!(delays[..4].iter().all(Duration::is_zero), "{delays:?}");
        assert_eq!(delays[4], Duration::from_millis(250));
        assert_eq!(delays[5], Duration::from_millis(500));
        assert_eq!(delays[11], MAX_DELAY);
    }

    #[test]
    fn a_burst_is_counted_before_any_check_finishes() {
        // Every attempt is recorded when it begins: of 150 concurrent guesses only the pair's
        // allowance gets through, even though none of them has been judged yet.
        let limiter = LoginLimiter::new(policy());
        let t0 = Instant::now();
        let started: Vec<_> = (0..150)
            .filter_map(|_| limiter.begin("admin", Some("192.0.2.1"), t0).ok())
            .collect();
        assert_eq!(started.len(), 3);
    }

    #[test]
    fn success_and_refund_take_back_the_attempt() {
        let limiter = LoginLimiter::new(policy());
        let t0 = Instant::now();
        let a = limiter.begin("admin", Some("192.0.2.1"), t0).expect("1");
        let b = limiter.begin("admin", Some("192.0.2.1"), t0).expect("2");
        limiter.refund(&b);
        limiter.succeeded(&a);
        for _ in 0..3 {
            limiter
                .begin("admin", Some("192.0.2.1"), t0)
                .expect("the pair starts afresh");
        }
        // The address still remembers those three of its five.
        limiter.begin("x", Some("192.0.2.1"), t0).expect("4th");
        limiter.begin("y", Some("192.0.2.1"), t0).expect("5th");
        assert!(limiter.begin("z", Some("192.0.2.1"), t0).is_err());
    }

    #[test]
    fn a_spray_of_addresses_stays_bounded() {
        let limiter = LoginLimiter::new(policy());
        let t0 = Instant::now();
        for i in 0..30_000u32 {
            let _ = limiter.begin(
                "admin",
                Some(&i.to_string()),
                t0 + Duration::from_millis(i.into()),
            );
        }
        let keys = limiter.failures.lock().expect("lock").len();
        assert!(keys <= MAX_KEYS, "{keys}");
    }

    #[test]
    fn generated_passwords_are_long_and_distinct() {
        let (a, b) = (generate_password(), generate_password());
        assert_eq!(a.len(), PASSWORD_CHARS);
        assert_ne!(a, b);
    }
}
