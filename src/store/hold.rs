//! How long each write holds the writer thread: a histogram kept in atomics by the writer and
//! read by whoever reports it (`/metrics`, the benchmark), so the store needs no metrics crate
//! and knows nothing of HTTP. What is timed is a write's own work inside the transaction (its
//! closure and savepoint); the commit, one fsync shared by every write of a batch, is not.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the buckets, in seconds (the last bucket, +Inf, is implicit).
pub const BOUNDS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The live histogram the writer thread updates.
#[derive(Debug, Default)]
pub(super) struct HoldTimes {
    /// Observations per bucket (not cumulative); one more than `BOUNDS` for +Inf.
    buckets: [AtomicU64; BOUNDS.len() + 1],
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

impl HoldTimes {
    /// Records one write's hold time.
    pub(super) fn observe(&self, held: Duration) {
        let secs = held.as_secs_f64();
        let i = BOUNDS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(BOUNDS.len());
        if let Some(bucket) = self.buckets.get(i) {
            bucket.fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(held.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// A consistent-enough copy for reporting (each field read once, relaxed).
    pub(super) fn snapshot(&self) -> HoldSnapshot {
        let mut cumulative = Vec::with_capacity(self.buckets.len());
        let mut running = 0;
        for b in &self.buckets {
            running += b.load(Ordering::Relaxed);
            cumulative.push(running);
        }
        HoldSnapshot {
            cumulative,
            count: self.count.load(Ordering::Relaxed),
            sum_seconds: Duration::from_nanos(self.sum_nanos.load(Ordering::Relaxed)).as_secs_f64(),
        }
    }
}

/// The histogram of writer hold times at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct HoldSnapshot {
    /// Writes that held the writer at most `BOUNDS[i]` seconds; the last entry counts all.
    pub cumulative: Vec<u64>,
    /// Writes observed.
    pub count: u64,
    /// Their total hold time in seconds.
    pub sum_seconds: f64,
}

impl HoldSnapshot {
    /// The bucket bound under which at least the fraction `q` of the writes fall (e.g. 0.99 for
    /// p99): the histogram's resolution, never an underestimate. `None` before any write, or
    /// when the quantile lies beyond the last finite bound.
    pub fn quantile_bound(&self, q: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        // Rounded up, so p99 of 100 writes is the 99th.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let rank = ((q * self.count as f64).ceil() as u64).max(1);
        self.cumulative
            .iter()
            .zip(BOUNDS)
            .find(|(n, _)| **n >= rank)
            .map(|(_, b)| b)
    }

    /// Writes observed between `earlier` and this snapshot.
    pub fn since(&self, earlier: &HoldSnapshot) -> HoldSnapshot {
        HoldSnapshot {
            cumulative: self
                .cumulative
                .iter()
                .zip(&earlier.cumulative)
                .map(|(a, b)| a.saturating_sub(*b))
                .collect(),
            count: self.count.saturating_sub(earlier.count),
            sum_seconds: self.sum_seconds - earlier.sum_seconds,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_quantiles_are_bucket_bounds() {
        let h = HoldTimes::default();
        assert_eq!(h.snapshot().quantile_bound(0.99), None);
        for _ in 0..98 {
            h.observe(Duration::from_micros(300));
        }
        h.observe(Duration::from_millis(3));
        h.observe(Duration::from_secs(60));
        let s = h.snapshot();
        assert_eq!(s.count, 100);
        assert_eq!(s.cumulative.first(), Some(&98));
        assert_eq!(s.cumulative.last(), Some(&100));
        assert_eq!(s.quantile_bound(0.5), Some(0.0005));
        assert_eq!(s.quantile_bound(0.99), Some(0.005));
        assert_eq!(s.quantile_bound(1.0), None, "beyond the last finite bound");
        assert!((s.sum_seconds - 60.0324).abs() < 1e-6, "{}", s.sum_seconds);
        let later = {
            h.observe(Duration::from_millis(20));
            h.snapshot()
        };
        let d = later.since(&s);
        assert_eq!(d.count, 1);
        assert_eq!(d.quantile_bound(0.99), Some(0.025));
    }
}
