//! Deletion safety (issue 25) against the real application: tombstones (404, re-create, the
//! restore conflict), restore with attributes and memberships, the mass-change alarm and its
//! one revert action, and an erase that leaves no byte of the person in either database file
//! or their WAL files.

use std::time::Duration;

use serde_json::{Value, json};

use crate::admin_api::{api, sign_in};
use crate::common::TestApp;

const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

fn user(user_name: &str) -> Value {
    json!({"schemas": [USER_SCHEMA], "userName": user_name, "active": true})
}

fn add_member(id: &str) -> Value {
    json!({"schemas": [PATCH_OP],
           "Operations": [{"op": "add", "path": "members", "value": [{"value": id}]}]})
}

fn set_active(active: bool) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "active", "value": active}]})
}

#[rocket::async_test]
async fn a_deleted_user_is_gone_from_scim_its_name_is_free_and_restoring_it_then_conflicts() {
    let app = TestApp::new().await;
    let admin = sign_in(&app).await;
    let old = app
        .post("/scim/v2/Users", user("kim@example.com"))
        .await
        .ok()["id"]
        .as_str()
        .expect("id")
        .to_owned();
    assert_eq!(
        app.delete(&format!("/scim/v2/Users/{old}")).await.status,
        204
    );
    app.get(&format!("/scim/v2/Users/{old}"))
        .await
        .assert_error(404, None);
    let filter = crate::common::enc("userName eq \"kim@example.com\"");
    let listed = app.get(&format!("/scim/v2/Users?filter={filter}")).await;
    assert_eq!(listed.ok()["totalResults"], 0, "{}", listed.raw);

    // It is listed as deleted, with its name, for the admin.
    let deleted = api(
        &app,
        "GET",
        "/api/tenants/default/deleted",
        None,
        None,
        None,
    )
    .await;
    assert_eq!(deleted.status, 200, "{}", deleted.raw);
    assert_eq!(deleted.body["deleted"][0]["id"], old, "{}", deleted.raw);
    assert_eq!(deleted.body["deleted"][0]["name"], "kim@example.com");
    assert_eq!(deleted.body["retention_days"], 30);

    // The IdP re-creates the same userName: a new user.
    let new = app.post("/scim/v2/Users", user("Kim@example.com")).await;
    let new_id = new.ok()["id"].as_str().expect("id").to_owned();
    assert_ne!(new_id, old);

    // Restoring the old one now would make two users with one userName: refused, naming both.
    let refused = api(
        &app,
        "POST",
        &format!("/api/tenants/default/deleted/{old}/restore"),
        None,
        Some(&admin.csrf),
        None,
    )
    .await;
    let detail = refused.assert_error(409);
    assert!(
        detail.contains("kim@example.com")
            && detail.contains(&new_id)
            && detail.contains("Rename or delete"),
        "{detail}"
    );
    // Nothing changed: the tombstone is still there, the new user untouched.
    assert_eq!(
        app.sql_int(&format!(
            "SELECT COUNT(*) FROM tombstones WHERE id = '{old}'"
        )),
        1
    );
    app.get(&format!("/scim/v2/Users/{old}"))
        .await
        .assert_error(404, None);
    app.get(&format!("/scim/v2/Users/{new_id}")).await.ok();
}

#[rocket::async_test]
async fn restore_brings_back_the_id_attributes_and_memberships_and_tells_the_feed() {
    let app = TestApp::new().await;
    let admin = sign_in(&app).await;
    let body = json!({"schemas": [USER_SCHEMA], "userName": "ana@example.com", "externalId": "ext-ana",
                      "name": {"givenName": "Ana", "familyName": "Lima"}, "title": "Engineer",
                      "emails": [{"value": "ana@example.com", "type": "work", "primary": true}]});
    let ana = app.post("/scim/v2/Users", body).await.ok().clone();
    let id = ana["id"].as_str().expect("id").to_owned();
    let sales = app.create_group("Sales").await;
    let ops = app.create_group("Ops").await;
    for g in [&sales, &ops] {
        let r = app
            .patch(&format!("/scim/v2/Groups/{g}"), add_member(&id))
            .await;
        assert!(matches!(r.status, 200 | 204), "{}", r.raw);
    }
    // A group with a member, deleted too: it comes back with its member.
    let team = app.create_group("Team").await;
    app.patch(&format!("/scim/v2/Groups/{team}"), add_member(&id))
        .await;
    assert_eq!(
        app.delete(&format!("/scim/v2/Groups/{team}")).await.status,
        204
    );
    assert_eq!(
        app.delete(&format!("/scim/v2/Users/{id}")).await.status,
        204
    );
    // While it is deleted, Ops is deleted for good: that membership cannot come back.
    assert_eq!(
        app.delete(&format!("/scim/v2/Groups/{ops}")).await.status,
        204
    );
    let sales_before = app.get(&format!("/scim/v2/Groups/{sales}")).await;
    assert_eq!(sales_before.ok()["members"], json!([]));
    let head = app.sql_int("SELECT MAX(seq) FROM events");

    let r = api(
        &app,
        "POST",
        &format!("/api/tenants/default/deleted/{id}/restore"),
        None,
        Some(&admin.csrf),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.body["memberships"], 1, "{}", r.raw);
    assert_eq!(r.body["memberships_skipped"], 1, "{}", r.raw);

    let back = app.get(&format!("/scim/v2/Users/{id}")).await.ok().clone();
    for attr in ["userName", "externalId", "name", "title", "emails"] {
        assert_eq!(back[attr], ana[attr], "{attr}: {back}");
    }
    assert_eq!(back["meta"]["created"], ana["meta"]["created"]);
    let groups: Vec<&str> = back["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .filter_map(|g| g["value"].as_str())
        .collect();
    assert_eq!(groups, [sales.as_str()], "{back}");
    let sales_after = app.get(&format!("/scim/v2/Groups/{sales}")).await;
    assert_eq!(sales_after.ok()["members"][0]["value"], id);
    assert_ne!(
        sales_after.header("ETag"),
        sales_before.header("ETag"),
        "the group's representation changed"
    );

    // The group restored afterwards finds its member alive again.
    let r = api(
        &app,
        "POST",
        &format!("/api/tenants/default/deleted/{team}/restore"),
        None,
        Some(&admin.csrf),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let team_back = app.get(&format!("/scim/v2/Groups/{team}")).await;
    assert_eq!(team_back.ok()["members"][0]["value"], id);

    // The feed says what an application needs to undo its deletion: the resource back with
    // its data, then its memberships.
    let events: Vec<(String, String, Value)> = app
        .app()
        .store
        .read_blocking(move |c| {
            let mut stmt = c.prepare(
                "SELECT type, resource_id, body FROM events WHERE seq > ?1 ORDER BY seq",
            )?;
            let rows = stmt
                .query_map([head], |r| {
                    let body: String = r.get(2)?;
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        serde_json::from_str(&body).unwrap_or(Value::Null),
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
        .expect("events");
    let kinds: Vec<(&str, &str)> = events
        .iter()
        .map(|(t, r, _)| (t.as_str(), r.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("user.restored", id.as_str()),
            ("group.member_added", sales.as_str()),
            ("group.restored", team.as_str()),
            ("group.member_added", team.as_str()),
        ]
    );
    assert_eq!(events[0].2["data"]["userName"], "ana@example.com");
    assert_eq!(events[1].2["member"]["id"], id);
    // Restored: nothing left to restore; its history says so.
    assert_eq!(
        app.sql_int("SELECT COUNT(*) FROM tombstones"),
        1,
        "only Ops"
    );
    let history = api(
        &app,
        "GET",
        &format!("/api/tenants/default/Users/{id}/history"),
        None,
        None,
        None,
    )
    .await;
    assert_eq!(
        history.body["items"][0]["action"], "create",
        "{}",
        history.raw
    );
    assert!(history.raw.contains("restored"), "{}", history.raw);
}

#[rocket::async_test]
async fn a_500_user_deactivation_burst_raises_the_alarm_and_one_action_reverts_it() {
    let app = TestApp::new().await;
    let admin = sign_in(&app).await;
    let mut ids = Vec::new();
    for i in 0..500 {
        let r = app
            .post("/scim/v2/Users", user(&format!("burst{i}@example.com")))
            .await;
        ids.push(r.ok()["id"].as_str().expect("id").to_owned());
    }
    // Before the burst: no alarm.
    assert_eq!(healthz(&app).await["mass_change_alarms"]["open"], 0);
    // A misconfigured IdP deactivates everyone, and deletes a few: SCIM answers as always.
    for id in &ids {
        let r = app
            .patch(&format!("/scim/v2/Users/{id}"), set_active(false))
            .await;
        assert_eq!(r.ok()["active"], false);
    }
    for id in &ids[..3] {
        assert_eq!(
            app.delete(&format!("/scim/v2/Users/{id}")).await.status,
            204
        );
    }

    // The watcher notices after the writes commit.
    let mut alarm = Value::Null;
    for _ in 0..300 {
        let listed = api(&app, "GET", "/api/tenants/default/alarms", None, None, None).await;
        if let Some(a) = listed.body.as_array().and_then(|a| a.first())
            && a["deactivations"] == 500
            && a["deletions"] == 3
        {
            alarm = a.clone();
            break;
        }
        rocket::tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(alarm["state"], "open", "no alarm raised");
    assert_eq!(healthz(&app).await["mass_change_alarms"]["open"], 1);
    let alarm_id = alarm["id"].as_i64().expect("alarm id");
    let metrics = app
        .client
        .get("/metrics")
        .remote("127.0.0.1:9000".parse().expect("addr"))
        .dispatch()
        .await;
    let text = metrics.into_string().await.unwrap_or_default();
    assert!(
        text.contains("scimd_mass_change_alarms_open{tenant=\"default\"} 1"),
        "{text}"
    );
    let raised = app.sql_text("SELECT body FROM events WHERE type = 'alarm.mass_change'");
    let raised: Value = serde_json::from_str(&raised).expect("event");
    assert_eq!(raised["alarm"]["id"], alarm_id);
    assert_eq!(raised["resource"], Value::Null);
    let dashboard = api(&app, "GET", "/api/tenants/default/alarms", None, None, None).await;
    assert_eq!(dashboard.body[0]["state"], "open", "{}", dashboard.raw);

    // One action reverts the whole burst.
    let r = api(
        &app,
        "POST",
        &format!("/api/tenants/default/alarms/{alarm_id}/revert"),
        None,
        Some(&admin.csrf),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(
        r.body["restored"].as_array().map(Vec::len),
        Some(3),
        "{}",
        r.raw
    );
    assert_eq!(r.body["refused"], json!([]), "{}", r.raw);
    let inactive = crate::common::enc("active eq false");
    let still = app.get(&format!("/scim/v2/Users?filter={inactive}")).await;
    assert_eq!(still.ok()["totalResults"], 0, "{}", still.raw);
    let all = app.get("/scim/v2/Users?count=1").await;
    assert_eq!(all.ok()["totalResults"], 500);
    for id in &ids[..3] {
        let back = app.get(&format!("/scim/v2/Users/{id}")).await;
        assert_eq!(back.ok()["active"], true, "{}", back.raw);
    }
    assert_eq!(healthz(&app).await["mass_change_alarms"]["open"], 0);
    let again = api(
        &app,
        "POST",
        &format!("/api/tenants/default/alarms/{alarm_id}/revert"),
        None,
        Some(&admin.csrf),
        None,
    )
    .await;
    assert!(again.assert_error(409).contains("reverted"));
}

/// `/healthz`, which answers 200 also while an alarm is open (the server is healthy).
async fn healthz(app: &TestApp) -> Value {
    let r = app.client.get("/healthz").dispatch().await;
    assert_eq!(r.status().code, 200);
    serde_json::from_str(&r.into_string().await.unwrap_or_default()).expect("json")
}

/// Every occurrence of `needle` in the bytes of `path` (absent file: none).
fn occurrences(path: &std::path::Path, needle: &str) -> usize {
    let Ok(bytes) = std::fs::read(path) else {
        return 0;
    };
    bytes
        .windows(needle.len())
        .filter(|w| *w == needle.as_bytes())
        .count()
}

#[rocket::async_test]
async fn erase_leaves_no_trace_of_the_person_in_either_database_or_wal() {
    // Transactions of two rows: the erase walks the events (and the log) window by window.
    let app = TestApp::with(|c| c.deletion.batch_rows = 2).await;
    let admin = sign_in(&app).await;
    let values = [
        "zofia.quarrington@example.org",
        "Zofiaqx",
        "Quarringtonqx",
        "ext-zq-4471",
        "+1-555-0199-zq",
    ];
    let body = json!({"schemas": [USER_SCHEMA], "userName": values[0], "externalId": values[3],
        "name": {"givenName": values[1], "familyName": values[2]},
        "emails": [{"value": values[0], "type": "work"}],
        "phoneNumbers": [{"value": values[4], "type": "work"}]});
    let id = app.post("/scim/v2/Users", body).await.ok()["id"]
        .as_str()
        .expect("id")
        .to_owned();
    // Changes make history with before/after values, and older versions of the document.
    app.patch(
        &format!("/scim/v2/Users/{id}"),
        json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "title", "value": "Lead"}]}),
    )
    .await
    .ok();
    let filter = crate::common::enc(&format!("userName eq \"{}\"", values[0]));
    app.get(&format!("/scim/v2/Users?filter={filter}"))
        .await
        .ok();
    let group = app.create_group("Readers").await;
    app.patch(&format!("/scim/v2/Groups/{group}"), add_member(&id))
        .await;
    // Someone else, who must stay.
    let other = app
        .post("/scim/v2/Users", user("keep.me@example.org"))
        .await;
    other.ok();
    assert_eq!(
        app.delete(&format!("/scim/v2/Users/{id}")).await.status,
        204
    );

    let db = app.app().config.database.clone();
    let log = scimd::store::log_path(&db);
    let with_wal = |p: &std::path::Path| {
        let mut wal = p.as_os_str().to_owned();
        wal.push("-wal");
        [p.to_path_buf(), std::path::PathBuf::from(wal)]
    };
    let files: Vec<std::path::PathBuf> = with_wal(&db).into_iter().chain(with_wal(&log)).collect();
    // The request log is written behind the requests: wait until it holds the person.
    let logged = format!(
        "SELECT COUNT(*) FROM log.request_log WHERE resource_id = '{id}' OR query LIKE '%zofia%'"
    );
    for _ in 0..200 {
        if app.sql_int(&logged) >= 4 {
            break;
        }
        rocket::tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        app.sql_int(&logged) >= 4,
        "the request log holds the person"
    );
    let before: usize = files
        .iter()
        .map(|f| values.iter().map(|v| occurrences(f, v)).sum::<usize>())
        .sum();
    assert!(before > 0, "the values are on disk before the erase");

    // A live user cannot be erased: delete first.
    let live = api(
        &app,
        "POST",
        &format!(
            "/api/tenants/default/deleted/{}/erase",
            other.body["id"].as_str().expect("id")
        ),
        None,
        Some(&admin.csrf),
        None,
    )
    .await;
    assert!(live.assert_error(409).contains("delete it first"));

    let r = api(
        &app,
        "POST",
        &format!("/api/tenants/default/deleted/{id}/erase"),
        None,
        Some(&admin.csrf),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.body["tombstone"], true, "{}", r.raw);
    assert_eq!(r.body["wal_truncated"], true, "{}", r.raw);
    assert!(r.body["history_rows"].as_u64() >= Some(2), "{}", r.raw);
    assert!(r.body["log_entries"].as_u64() >= Some(4), "{}", r.raw);

    for f in &files {
        for v in values {
            assert_eq!(occurrences(f, v), 0, "\"{v}\" is still in {}", f.display());
        }
    }
    // What remains: that the erase happened, by whom, when; the events keep their places.
    let erasures = api(
        &app,
        "GET",
        "/api/tenants/default/erasures",
        None,
        None,
        None,
    )
    .await;
    assert_eq!(erasures.body[0]["resource_id"], id, "{}", erasures.raw);
    assert_eq!(erasures.body[0]["erased_by"], "admin admin");
    let kept = app.sql_int(&format!(
        "SELECT COUNT(*) FROM events WHERE resource_id = '{id}' AND json_extract(body, '$.erased')"
    ));
    assert_eq!(
        kept, 3,
        "created, updated, deleted: payloads dropped, rows kept"
    );
    // The other person and the group are untouched.
    app.get(&format!(
        "/scim/v2/Users/{}",
        other.body["id"].as_str().expect("id")
    ))
    .await
    .ok();
    app.get(&format!("/scim/v2/Groups/{group}")).await.ok();
    // Nothing left to restore.
    let gone = api(
        &app,
        "POST",
        &format!("/api/tenants/default/deleted/{id}/restore"),
        None,
        Some(&admin.csrf),
        None,
    )
    .await;
    gone.assert_error(404);
}

#[rocket::async_test]
async fn an_ephemeral_tenant_keeps_no_tombstones() {
    let app = TestApp::new().await;
    scimd::service::settings::set(
        &app.app().store,
        "default",
        serde_json::Map::from_iter([("ephemeral".to_owned(), json!(true))]),
    )
    .expect("set");
    let id = app
        .post("/scim/v2/Users", user("tmp@example.com"))
        .await
        .ok()["id"]
        .as_str()
        .expect("id")
        .to_owned();
    assert_eq!(
        app.delete(&format!("/scim/v2/Users/{id}")).await.status,
        204
    );
    assert_eq!(app.sql_int("SELECT COUNT(*) FROM tombstones"), 0);
}

#[rocket::async_test]
async fn tombstones_are_pruned_after_the_tenants_retention() {
    let app = TestApp::new().await;
    let store = &app.app().store;
    let set = |key: &str, value: Value| {
        scimd::service::settings::set(
            store,
            "default",
            serde_json::Map::from_iter([(key.to_owned(), value)]),
        )
    };
    // Out of range: refused, naming the setting; nothing changed.
    let e = set("tombstone_retention_days", json!(0)).expect_err("zero days");
    assert!(e.to_string().contains("tombstone_retention_days"), "{e}");
    set("tombstone_retention_days", json!(10)).expect("ten days");
    let id = app
        .post("/scim/v2/Users", user("old@example.com"))
        .await
        .ok()["id"]
        .as_str()
        .expect("id")
        .to_owned();
    assert_eq!(
        app.delete(&format!("/scim/v2/Users/{id}")).await.status,
        204
    );
    let now = scimd::clock::now();
    let within = scimd::service::deleted::prune(store, now + time::Duration::days(9), 2000)
        .await
        .expect("prune");
    assert_eq!(within, 0, "still within its retention");
    let past = scimd::service::deleted::prune(store, now + time::Duration::days(11), 2000)
        .await
        .expect("prune");
    assert_eq!(past, 1);
    assert_eq!(app.sql_int("SELECT COUNT(*) FROM tombstones"), 0);
}

#[rocket::async_test]
async fn the_command_line_lists_restores_and_erases() {
    let app = TestApp::new().await;
    let dir = app
        .app()
        .config
        .database
        .parent()
        .expect("dir")
        .to_path_buf();
    let ids: Vec<String> = {
        let mut ids = Vec::new();
        for name in ["cli.one@example.com", "cli.two@example.com"] {
            let r = app.post("/scim/v2/Users", user(name)).await;
            let id = r.ok()["id"].as_str().expect("id").to_owned();
            assert_eq!(
                app.delete(&format!("/scim/v2/Users/{id}")).await.status,
                204
            );
            ids.push(id);
        }
        ids
    };
    let run = |args: &[&str]| {
        let out = crate::server::scimd(&dir)
            .args(args)
            .output()
            .expect("scimd runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // One command takes at most deletion.max_restore_ids ids.
    let out = crate::server::scimd(&dir)
        .env("SCIMD_DELETION__MAX_RESTORE_IDS", "1")
        .args(["deleted", "restore", &ids[0], &ids[1]])
        .output()
        .expect("scimd runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("deletion.max_restore_ids"),
        "{err}"
    );
    assert_eq!(
        app.sql_int("SELECT COUNT(*) FROM tombstones"),
        2,
        "none restored"
    );
    let (ok, listed, _) = run(&["deleted", "list"]);
    assert!(
        ok && listed.contains("cli.one@example.com") && listed.contains(&ids[1]),
        "{listed}"
    );
    let (ok, restored, err) = run(&["deleted", "restore", &ids[0], "not-an-id"]);
    assert!(!ok, "one of two failed: the command fails");
    assert!(
        restored.contains(&format!("restored User {}", ids[0])),
        "{restored}"
    );
    assert!(
        err.contains("not-an-id") && err.contains("scimd deleted list"),
        "{err}"
    );
    app.get(&format!("/scim/v2/Users/{}", ids[0])).await.ok();
    let (ok, erased, err) = run(&["deleted", "erase", &ids[1]]);
    assert!(ok, "{err}");
    assert!(
        erased.contains(&format!("erased User {}", ids[1])),
        "{erased}"
    );
    let by = app.sql_text("SELECT erased_by FROM erasures");
    assert_eq!(by, "cli");
    let (_, listed, _) = run(&["deleted", "list"]);
    assert!(!listed.contains("cli."), "nothing left: {listed}");
}

/// Reverting undoes deletions newest first: a member deleted before its group comes back into
/// the group.
#[rocket::async_test]
async fn reverting_a_burst_restores_a_group_and_the_members_deleted_before_it() {
    let app = TestApp::new().await;
    let admin = sign_in(&app).await;
    scimd::service::settings::set(
        &app.app().store,
        "default",
        serde_json::Map::from_iter([("alarm_threshold".to_owned(), json!(3))]),
    )
    .expect("set");
    let group = app.create_group("Staff").await;
    let mut members = Vec::new();
    for n in ["m1@example.com", "m2@example.com"] {
        let id = app.post("/scim/v2/Users", user(n)).await.ok()["id"]
            .as_str()
            .expect("id")
            .to_owned();
        app.patch(&format!("/scim/v2/Groups/{group}"), add_member(&id))
            .await;
        members.push(id);
    }
    for id in &members {
        assert_eq!(
            app.delete(&format!("/scim/v2/Users/{id}")).await.status,
            204
        );
    }
    assert_eq!(
        app.delete(&format!("/scim/v2/Groups/{group}")).await.status,
        204
    );
    let mut alarm = None;
    for _ in 0..300 {
        let listed = api(&app, "GET", "/api/tenants/default/alarms", None, None, None).await;
        alarm = listed.body[0]["id"].as_i64();
        if alarm.is_some() && listed.body[0]["deletions"] == 3 {
            break;
        }
        rocket::tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let alarm = alarm.expect("an alarm");
    let r = api(
        &app,
        "POST",
        &format!("/api/tenants/default/alarms/{alarm}/revert"),
        None,
        Some(&admin.csrf),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let back = app.get(&format!("/scim/v2/Groups/{group}")).await;
    let mut ids: Vec<&str> = back.ok()["members"]
        .as_array()
        .expect("members")
        .iter()
        .filter_map(|m| m["value"].as_str())
        .collect();
    ids.sort_unstable();
    let mut want: Vec<&str> = members.iter().map(String::as_str).collect();
    want.sort_unstable();
    assert_eq!(ids, want, "{}", back.raw);
}

/// `scimd deleted restore` undoes newest first whatever order it is given: a member deleted
/// before its group, named first, still rejoins the group.
#[rocket::async_test]
async fn restoring_a_member_and_its_group_in_any_order_keeps_the_membership() {
    let app = TestApp::new().await;
    let dir = app
        .app()
        .config
        .database
        .parent()
        .expect("dir")
        .to_path_buf();
    let group = app.create_group("Crew").await;
    let member = app
        .post("/scim/v2/Users", user("crew@example.com"))
        .await
        .ok()["id"]
        .as_str()
        .expect("id")
        .to_owned();
    app.patch(&format!("/scim/v2/Groups/{group}"), add_member(&member))
        .await;
    assert_eq!(
        app.delete(&format!("/scim/v2/Users/{member}")).await.status,
        204
    );
    // Deletion times have millisecond resolution: make the order unambiguous.
    rocket::tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(
        app.delete(&format!("/scim/v2/Groups/{group}")).await.status,
        204
    );
    let out = crate::server::scimd(&dir)
        .args(["deleted", "restore", &member, &group])
        .output()
        .expect("scimd runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let back = app.get(&format!("/scim/v2/Groups/{group}")).await;
    assert_eq!(back.ok()["members"][0]["value"], member, "{}", back.raw);
}
