//! Token `last_used` bookkeeping off the request path: the SCIM guard records a use in memory
//! (no I/O), and a background task flushes what changed in one write transaction. A token's
//! row is written at most once per [`MIN_WRITE_INTERVAL`], so a sync of 50,000 users costs a
//! handful of writes, not 50,000.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use time::OffsetDateTime;

use crate::clock;
use crate::scim::diagnosis::kept_user_agent;
use crate::store::tokens::{self, Usage};
use crate::store::{Store, StoreError};

/// A token's `last_used` is written at most this often.
pub const MIN_WRITE_INTERVAL: Duration = Duration::from_secs(60);
/// How often the background task flushes.
pub const FLUSH_INTERVAL: Duration = Duration::from_secs(10);

/// Uses seen since the last flush, and when each token was last written.
#[derive(Default)]
pub struct UsageTracker {
    inner: Mutex<State>,
}

#[derive(Default)]
struct State {
    pending: HashMap<String, (OffsetDateTime, Usage)>,
    written: HashMap<String, OffsetDateTime>,
}

impl UsageTracker {
    /// Notes a use of `token_id` at `now`. Cheap: a map insert under a short lock. Skipped when
    /// the token was written less than [`MIN_WRITE_INTERVAL`] ago.
    pub fn record(
        &self,
        token_id: &str,
        now: OffsetDateTime,
        ip: Option<String>,
        agent: Option<&str>,
    ) {
        let Ok(mut state) = self.inner.lock() else {
            return;
        };
        if state
            .written
            .get(token_id)
            .is_some_and(|w| now - *w < MIN_WRITE_INTERVAL)
        {
            return;
        }
        let usage = Usage {
            token_id: token_id.to_owned(),
            at: clock::timestamp(now),
            ip,
            agent: agent.map(|a| kept_user_agent(a).to_owned()),
        };
        state.pending.insert(token_id.to_owned(), (now, usage));
    }

    /// Writes pending uses in one transaction; returns how many token rows changed. On a
    /// failure the uses are put back for the next flush.
    pub async fn flush(&self, store: &Store) -> Result<usize, StoreError> {
        let batch: Vec<(OffsetDateTime, Usage)> = match self.inner.lock() {
            Ok(mut state) => state.pending.drain().map(|(_, v)| v).collect(),
            Err(_) => return Ok(0),
        };
        if batch.is_empty() {
            return Ok(0);
        }
        let uses: Vec<Usage> = batch.iter().map(|(_, u)| u.clone()).collect();
        let result = store.write(move |tx| tokens::record_usage(tx, &uses)).await;
        if let Ok(mut state) = self.inner.lock() {
            for (at, usage) in batch {
                if result.is_ok() {
                    state.written.insert(usage.token_id, at);
                } else {
                    state
                        .pending
                        .entry(usage.token_id.clone())
                        .or_insert((at, usage));
                }
            }
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_token_is_not_recorded_again_within_a_minute() {
        let t = UsageTracker::default();
        let t0 = clock::now();
        t.record("a", t0, None, Some("Okta"));
        let mut state = t.inner.lock().expect("lock");
        assert_eq!(state.pending.len(), 1);
        state.pending.clear();
        state.written.insert("a".into(), t0);
        drop(state);
        t.record("a", t0 + Duration::from_secs(59), None, None);
        assert!(t.inner.lock().expect("lock").pending.is_empty());
        t.record("a", t0 + Duration::from_secs(61), None, None);
        assert_eq!(t.inner.lock().expect("lock").pending.len(), 1);
    }
}
