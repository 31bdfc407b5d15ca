//! The mass-change alarm (issue 25): more deletions plus deactivations in a tenant within its
//! `alarm_window_secs` than its `alarm_threshold` raise an alarm: shown on the dashboard, in
//! `/healthz` and `/metrics`, and as an `alarm.mass_change` event. One action reverts the
//! burst: it restores what the burst deleted and reactivates what it deactivated. The alarm
//! never touches the request path: a watcher follows the events outbox after the writes have
//! committed, so the IdP's requests are answered exactly as without it.

use std::collections::{HashMap, HashSet, VecDeque};

use serde::Serialize;
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{OpError, Scope, deleted, events, resources, settings};
use crate::clock;
use crate::scim::schema::USER;
use crate::store::tombstones::{self as rows, Alarm};
use crate::store::{self, Store, StoreError, tenants};

/// One removal the watcher saw: when, its event's `seq`, and whether it was a deletion.
type Seen = (OffsetDateTime, i64, bool);

/// Follows the events outbox for deletions and deactivations and raises alarms. Its windows
/// live in memory: after a restart it counts from the events committed after it started.
#[derive(Debug, Default)]
pub struct Watcher {
    cursor: Option<i64>,
    windows: HashMap<i64, VecDeque<Seen>>,
}

impl Watcher {
    /// Reads the events committed since the last call and raises or extends alarms; returns
    /// the ids of the alarms it raised.
    pub async fn scan(&mut self, store: &Store) -> store::Result<Vec<i64>> {
        let head = store.read(|c| Ok(store::events::head(c)?.last)).await?;
        let Some(after) = self.cursor.replace(head) else {
            // The first call only sets where to start.
            return Ok(Vec::new());
        };
        if head <= after {
            return Ok(Vec::new());
        }
        let seen = store
            .read(move |c| rows::removals_between(c, after, head))
            .await?;
        let mut by_tenant: HashMap<i64, Vec<Seen>> = HashMap::new();
        for (seq, tenant_id, kind, at) in seen {
            let Ok(at) = OffsetDateTime::parse(&at, &Rfc3339) else {
                continue;
            };
            let deletion = kind != "user.deactivated";
            by_tenant
                .entry(tenant_id)
                .or_default()
                .push((at, seq, deletion));
        }
        let mut raised = Vec::new();
        for (tenant_id, removals) in by_tenant {
            let tenant = store.read(move |c| tenants::by_id(c, tenant_id)).await?;
            let policy = settings::of(&tenant);
            if policy.ephemeral || policy.alarm_threshold == 0 {
                continue;
            }
            let window = time::Duration::seconds(i64::from(policy.alarm_window_secs));
            let deque = self.windows.entry(tenant_id).or_default();
            let slug = tenant.slug.clone();
            let open = store
                .read(move |c| rows::open_alarms(c, Some(tenant_id)))
                .await?;
            let mut current = open.into_iter().last().and_then(|a| {
                let last = OffsetDateTime::parse(&a.last_at, &Rfc3339).ok()?;
                Some((a, last))
            });
            let (mut extended, mut to_raise) = (Vec::<Seen>::new(), None::<Vec<Seen>>);
            // A removal counts toward one alarm at most: those an alarm took leave the window,
            // so a burst reverted or dismissed is not counted again.
            for r in removals {
                match (&mut current, &mut to_raise) {
                    // A burst goes on while removals keep coming within the window of the last.
                    (Some((_, last)), _) if r.0 - *last <= window => {
                        *last = r.0;
                        extended.push(r);
                        continue;
                    }
                    (_, Some(burst)) => {
                        burst.push(r);
                        continue;
                    }
                    _ => {}
                }
                deque.push_back(r);
                while deque.front().is_some_and(|f| f.0 < r.0 - window) {
                    deque.pop_front();
                }
                if deque.len() >= policy.alarm_threshold as usize {
                    to_raise = Some(deque.drain(..).collect());
                }
            }
            let (threshold, window_secs) = (policy.alarm_threshold, policy.alarm_window_secs);
            let open_id = current.map(|(a, _)| a.id);
            // Most scans change nothing: no write, so no commit.
            if to_raise.is_none() && (open_id.is_none() || extended.is_empty()) {
                continue;
            }
            let id = store
                .write(move |tx| {
                    if let (Some(id), Some(last)) = (open_id, extended.last()) {
                        let dels = extended.iter().filter(|s| s.2).count() as i64;
                        let deacts = extended.len() as i64 - dels;
                        rows::extend(tx, id, last.1, &clock::timestamp(last.0), dels, deacts)?;
                    }
                    let Some(burst) = to_raise else {
                        return Ok(None);
                    };
                    let (Some(first), Some(last)) = (burst.first(), burst.last()) else {
                        return Ok(None);
                    };
                    let deletions = burst.iter().filter(|s| s.2).count() as i64;
                    let alarm = Alarm {
                        id: 0,
                        tenant_id,
                        raised_at: clock::timestamp(clock::now()),
                        first_seq: first.1,
                        last_seq: last.1,
                        last_at: clock::timestamp(last.0),
                        deletions,
                        deactivations: burst.len() as i64 - deletions,
                        state: "open".into(),
                        resolved_at: None,
                        resolved_by: None,
                    };
                    let id = rows::raise(tx, &alarm)?;
                    events::record_alarm(
                        tx,
                        tenant_id,
                        &slug,
                        id,
                        json!({"id": id, "threshold": threshold, "window_secs": window_secs,
                               "deletions": alarm.deletions, "deactivations": alarm.deactivations,
                               "first_seq": alarm.first_seq}),
                    )?;
                    Ok(Some(id))
                })
                .await?;
            if let Some(id) = id {
                tracing::warn!(
                    tenant = %tenant.slug,
                    alarm = id,
                    "mass-change alarm: more than {threshold} deletions or deactivations within {window_secs} s"
                );
                raised.push(id);
            }
        }
        Ok(raised)
    }
}

/// An open alarm as the dashboard, `/healthz` and the admin API show it.
#[derive(Debug, Clone, Serialize)]
pub struct Shown {
    pub tenant: String,
    #[serde(flatten)]
    pub alarm: Alarm,
}

/// Open alarms of every tenant (`/healthz`, `/metrics`).
pub async fn open(store: &Store) -> store::Result<Vec<Shown>> {
    store
        .read(|c| {
            rows::open_alarms(c, None)?
                .into_iter()
                .map(|a| {
                    Ok(Shown {
                        tenant: tenants::by_id(c, a.tenant_id)?.slug,
                        alarm: a,
                    })
                })
                .collect()
        })
        .await
}

/// A tenant's alarms, newest first.
pub fn list(store: &Store, scope: &Scope, limit: u32) -> Result<Vec<Alarm>, OpError> {
    let tenant_id = scope.tenant_id;
    store
        .read_blocking(|c| rows::alarms(c, tenant_id, limit))
        .map_err(internal)
}

/// What reverting a burst did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Reverted {
    pub alarm: i64,
    pub restored: Vec<String>,
    pub reactivated: Vec<String>,
    /// Ids that could not be brought back, and why (re-created since, erased, pruned).
    pub refused: Vec<Refused>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Refused {
    pub id: String,
    pub reason: String,
}

/// Reverts the burst of an open alarm: restores every user and group it deleted (newest first)
/// and reactivates every user it deactivated that is still inactive; then closes the alarm as
/// reverted. What cannot be brought back is listed with the reason, and the rest still is.
pub async fn revert(
    store: &Store,
    scope: &Scope,
    alarm_id: i64,
    by: &str,
    batch: u32,
) -> Result<Reverted, OpError> {
    let tenant_id = scope.tenant_id;
    let (alarm, burst) = store
        .read(move |c| {
            let Some(a) = rows::get_alarm(c, tenant_id, alarm_id)? else {
                return Ok(None);
            };
            let burst = rows::burst(c, tenant_id, a.first_seq, a.last_seq)?;
            Ok(Some((a, burst)))
        })
        .await
        .map_err(internal)?
        .ok_or_else(|| no_alarm(alarm_id))?;
    if alarm.state != "open" {
        return Err(OpError::Conflict(format!(
            "alarm {alarm_id} is {} already ({} by {})",
            alarm.state,
            alarm.resolved_at.unwrap_or_default(),
            alarm.resolved_by.unwrap_or_default()
        )));
    }
    let mut out = Reverted {
        alarm: alarm_id,
        ..Reverted::default()
    };
    let mut done = HashSet::new();
    // Newest deletion first, as an undo: a user deleted before its group is restored after
    // the group, so it finds the group and joins it again.
    for (kind, _, id) in burst.iter().rev().filter(|b| b.0 != "user.deactivated") {
        // Restored already (by hand, or by an earlier revert): nothing to do.
        if !done.insert((kind.clone(), id.clone())) || deleted::is_live(store, scope, id).await? {
            continue;
        }
        match deleted::restore(store, scope, id, by, batch).await {
            Ok(_) => out.restored.push(id.clone()),
            Err(e) => out.refused.push(Refused {
                id: id.clone(),
                reason: e.to_string(),
            }),
        }
    }
    let user = scope.schemas.get(&USER).clone();
    for (_, _, id) in burst.iter().filter(|b| b.0 == "user.deactivated") {
        if !done.insert(("user.deactivated".into(), id.clone())) {
            continue;
        }
        match resources::reactivate(store, &user, scope, id).await {
            Ok(true) => out.reactivated.push(id.clone()),
            Ok(false) => {}
            Err(e) if e.status == 404 => out.refused.push(Refused {
                id: id.clone(),
                reason: "deleted since, and not restored".into(),
            }),
            Err(e) => out.refused.push(Refused {
                id: id.clone(),
                reason: e.detail,
            }),
        }
    }
    close(store, tenant_id, alarm_id, "reverted", by).await?;
    Ok(out)
}

/// Closes an open alarm without reverting anything (the changes were intended).
pub async fn dismiss(store: &Store, scope: &Scope, alarm_id: i64, by: &str) -> Result<(), OpError> {
    close(store, scope.tenant_id, alarm_id, "dismissed", by).await
}

async fn close(
    store: &Store,
    tenant_id: i64,
    alarm_id: i64,
    state: &'static str,
    by: &str,
) -> Result<(), OpError> {
    let by = by.to_owned();
    let closed = store
        .write(move |tx| {
            if rows::get_alarm(tx, tenant_id, alarm_id)?.is_none() {
                return Ok(None);
            }
            let at = clock::timestamp(clock::now());
            Ok(Some(rows::resolve(tx, alarm_id, state, &at, &by)?))
        })
        .await
        .map_err(internal)?;
    match closed {
        None => Err(no_alarm(alarm_id)),
        Some(false) => Err(OpError::Conflict(format!(
            "alarm {alarm_id} is not open any more"
        ))),
        Some(true) => Ok(()),
    }
}

fn no_alarm(id: i64) -> OpError {
    OpError::NotFound(format!(
        "there is no alarm {id} in this tenant; `scimd deleted alarms` lists them"
    ))
}

fn internal(e: StoreError) -> OpError {
    OpError::Internal(format!("the database failed: {e}"))
}

/// How often the watcher looks at least (it also wakes after every batch of writes, at most
/// every [`MIN_GAP`]).
pub const WATCH_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);
/// The least time between two scans: a busy writer's batches do not each cost a read.
pub const MIN_GAP: std::time::Duration = std::time::Duration::from_millis(250);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::events::NewEvent;

    fn store(dir: &std::path::Path, settings: &str) -> Store {
        let store = Store::open(&dir.join("s.db")).expect("open");
        let settings = settings.to_owned();
        store
            .write_blocking(move |tx| {
                tenants::ensure_default(tx, "2026-01-01T00:00:00.000Z")?;
                tenants::set_settings(tx, 1, &settings)
            })
            .expect("tenant");
        store
    }

    /// Appends `n` removals (`user.deleted`) to the outbox, `secs` apart from `start`.
    fn removals(store: &Store, n: usize, start: i64, secs: i64) {
        let base = OffsetDateTime::from_unix_timestamp(1_800_000_000).expect("time");
        let events: Vec<NewEvent> = (0..n)
            .map(|i| NewEvent {
                id: format!("evt_{i}"),
                tenant_id: 1,
                event_type: "user.deleted",
                occurred_at: clock::timestamp(
                    base + time::Duration::seconds(start + secs * i as i64),
                ),
                resource_type: "User",
                resource_id: format!("u{start}-{i}"),
                body: "{}".into(),
            })
            .collect();
        store
            .write_blocking(move |tx| crate::store::events::insert(tx, &events))
            .expect("events");
    }

    fn alarms(store: &Store) -> Vec<Alarm> {
        store
            .read_blocking(|c| rows::alarms(c, 1, 100))
            .expect("alarms")
    }

    /// The window counts removals by when they happened; an alarm takes the removals of its
    /// burst, which then count toward no later alarm; a burst goes on while removals keep
    /// coming within the window.
    #[rocket::async_test]
    async fn a_burst_raises_one_alarm_and_its_removals_count_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = store(
            dir.path(),
            r#"{"alarm_threshold":3,"alarm_window_secs":60}"#,
        );
        let mut w = Watcher::default();
        w.scan(&store).await.expect("start");
        // Three removals, but spread over more than the window: no alarm.
        removals(&store, 3, 0, 40);
        assert!(w.scan(&store).await.expect("scan").is_empty());
        // Three within a minute: one alarm, even across two scans.
        removals(&store, 2, 1000, 5);
        assert!(w.scan(&store).await.expect("scan").is_empty());
        removals(&store, 1, 1010, 5);
        assert_eq!(w.scan(&store).await.expect("scan").len(), 1);
        // More within the window of the last: the same burst.
        removals(&store, 4, 1030, 5);
        assert!(w.scan(&store).await.expect("scan").is_empty());
        let all = alarms(&store);
        assert_eq!((all.len(), all[0].deletions), (1, 7));
        let event = store
            .read_blocking(|c| {
                Ok(c.query_row(
                    "SELECT COUNT(*) FROM events WHERE type = 'alarm.mass_change'",
                    [],
                    |r| r.get::<_, i64>(0),
                )?)
            })
            .expect("count");
        assert_eq!(event, 1);
        // Dismissed; two more removals right after count from zero: no new alarm yet.
        let first = all[0].id;
        store
            .write_blocking(move |tx| rows::resolve(tx, first, "dismissed", "now", "test"))
            .expect("dismiss");
        removals(&store, 2, 1100, 1);
        assert!(w.scan(&store).await.expect("scan").is_empty());
        removals(&store, 1, 1103, 1);
        assert_eq!(w.scan(&store).await.expect("scan").len(), 1);
    }

    #[rocket::async_test]
    async fn an_ephemeral_tenant_or_a_zero_threshold_raises_nothing() {
        for settings in [
            r#"{"alarm_threshold":2,"ephemeral":true}"#,
            r#"{"alarm_threshold":0}"#,
        ] {
            let dir = tempfile::tempdir().expect("tempdir");
            let store = store(dir.path(), settings);
            let mut w = Watcher::default();
            w.scan(&store).await.expect("start");
            removals(&store, 10, 0, 1);
            assert!(w.scan(&store).await.expect("scan").is_empty(), "{settings}");
            assert!(alarms(&store).is_empty());
        }
    }
}
