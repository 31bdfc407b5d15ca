//! Per-token request rate limit of the SCIM API (`[limits] requests_per_second`, S24): a token
//! bucket per bearer token holding `requests_burst` requests (one second's worth unless set). Pure bookkeeping on an
//! injected `Instant`; the HTTP guard decides what a refusal looks like (429 + `Retry-After`).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Request budgets, keyed by token id. One entry per token that has been used, so the map is
/// bounded by the tokens the admin created, not by anything a client controls.
#[derive(Debug, Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<String, Bucket>>,
}

#[derive(Debug)]
struct Bucket {
    /// Requests that may be made now; at most the burst.
    available: f64,
    refilled: Instant,
}

impl RateLimiter {
    /// Takes one request from `key`'s budget of `per_second` requests per second (burst: one
    /// second's worth). `Err` carries how long until the next request would be accepted.
    /// `per_second == 0` means unlimited.
    pub fn check(&self, key: &str, per_second: u32, now: Instant) -> Result<(), Duration> {
        self.check_with_burst(key, per_second, per_second, now)
    }

    /// [`check`](Self::check) with a bucket of `burst` requests (`[limits] requests_burst`):
    /// that many may come at once, then `per_second` refill it. A burst below 1 counts as 1.
    pub fn check_with_burst(
        &self,
        key: &str,
        per_second: u32,
        burst: u32,
        now: Instant,
    ) -> Result<(), Duration> {
        if per_second == 0 {
            return Ok(());
        }
        let rate = f64::from(per_second);
        let size = f64::from(burst.max(1));
        // A panic elsewhere while holding the lock leaves counters that are still usable.
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let bucket = buckets.entry(key.to_owned()).or_insert(Bucket {
            available: size,
            refilled: now,
        });
        let elapsed = now.saturating_duration_since(bucket.refilled).as_secs_f64();
        bucket.available = (bucket.available + elapsed * rate).min(size);
        bucket.refilled = now;
        if bucket.available >= 1.0 {
            bucket.available -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.available) / rate))
        }
    }
}

/// `Retry-After` in whole seconds (RFC 9110 §10.2.3 allows only an integer or a date; Okta
/// honours only the integer, S24), rounded up so a client that obeys it is not refused again.
pub fn retry_after_secs(wait: Duration) -> u64 {
    let whole = wait.as_secs();
    if wait.subsec_nanos() > 0 || whole == 0 {
        whole + 1
    } else {
        whole
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_is_unlimited() {
        let l = RateLimiter::default();
        let now = Instant::now();
        for _ in 0..10_000 {
            assert!(l.check("t", 0, now).is_ok());
        }
    }

    #[test]
    fn burst_then_refusal_then_refill() {
        let l = RateLimiter::default();
        let t0 = Instant::now();
        for _ in 0..25 {
            assert!(l.check("t", 25, t0).is_ok());
        }
        let wait = l
            .check("t", 25, t0)
            .expect_err("26th request in the same instant");
        assert!(wait <= Duration::from_millis(40), "{wait:?}");
        assert_eq!(retry_after_secs(wait), 1);
        // Another token has its own budget.
        assert!(l.check("other", 25, t0).is_ok());
        // 40 ms later one request's worth has been refilled, and only one.
        let t1 = t0 + Duration::from_millis(40);
        assert!(l.check("t", 25, t1).is_ok());
        assert!(l.check("t", 25, t1).is_err());
        // After a full second the whole burst is back, never more.
        let t2 = t1 + Duration::from_secs(5);
        for _ in 0..25 {
            assert!(l.check("t", 25, t2).is_ok());
        }
        assert!(l.check("t", 25, t2).is_err());
    }

    /// Issue 27: a new install's bucket holds ten seconds' worth, refilled at the rate.
    #[test]
    fn a_larger_burst_then_the_rate() {
        let l = RateLimiter::default();
        let t0 = Instant::now();
        for _ in 0..500 {
            assert!(l.check_with_burst("t", 50, 500, t0).is_ok());
        }
        let wait = l.check_with_burst("t", 50, 500, t0).expect_err("501st");
        assert!(wait <= Duration::from_millis(20), "{wait:?}");
        let t1 = t0 + Duration::from_secs(1);
        for _ in 0..50 {
            assert!(l.check_with_burst("t", 50, 500, t1).is_ok());
        }
        assert!(l.check_with_burst("t", 50, 500, t1).is_err());
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_secs(2)), 2);
        assert_eq!(retry_after_secs(Duration::from_millis(2001)), 3);
    }
}
