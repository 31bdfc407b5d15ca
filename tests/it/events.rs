//! The events outbox and feed (issue 22): each SCIM mutation appends its events in its own
//! transaction, in order, with a gap-free sequence; refused requests append none; the feed is
//! read with an events token, by cursor, with a type filter and a long poll.

use serde_json::{Value, json};

use crate::common::{TestApp, okta_user};

const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// Reads the default tenant's feed with `token`; the parsed answer.
async fn feed(app: &TestApp, token: &str, query: &str) -> crate::common::Reply {
    let auth = format!("Bearer {token}");
    app.send_with(
        "GET",
        &format!("/events{query}"),
        None,
        &[("Authorization", &auth)],
    )
    .await
}

/// Every event of the feed after `after`, following `next_after` page by page.
async fn all_events(app: &TestApp, token: &str, after: i64) -> Vec<Value> {
    let (mut out, mut cursor) = (Vec::new(), after);
    loop {
        let r = feed(app, token, &format!("?after={cursor}&limit=3")).await;
        assert_eq!(r.status, 200, "{}", r.raw);
        let events = r.body["events"].as_array().expect("events").clone();
        cursor = r.body["next_after"].as_i64().expect("next_after");
        let more = r.body["has_more"] == json!(true);
        out.extend(events);
        if !more {
            return out;
        }
    }
}

fn summary(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            let member = e["member"]["id"]
                .as_str()
                .map_or(String::new(), |m| format!(" {m}"));
            format!(
                "{} {}{member}",
                e["type"].as_str().unwrap_or("?"),
                e["resource"]["id"].as_str().unwrap_or("?")
            )
        })
        .collect()
}

fn patch(ops: Value) -> Value {
    json!({"schemas": [PATCH], "Operations": ops})
}

/// Okta's lifecycle (idp-requirements.md §A: create, profile update, deactivate, reactivate,
/// group push with member add and remove, group rename, delete) gives exactly these events, in
/// this order, numbered without gaps; the refused requests in between give none.
#[rocket::async_test]
async fn okta_lifecycle_events_in_order() {
    let app = TestApp::new().await;
    let reader = app.issue_events_token("default", "downstream-app");
    let ada = app.create_user("ada@example.com").await;
    let bob = app.create_user("bob@example.com").await;
    let user = |id: &str| format!("/scim/v2/Users/{id}");
    // Refused: a duplicate userName, an unknown PATCH operation, a member that does not exist.
    assert_eq!(
        app.post("/scim/v2/Users", okta_user("ada@example.com"))
            .await
            .status,
        409
    );
    let bad = patch(json!([{"op": "frobnicate", "path": "name.familyName", "value": "x"}]));
    assert_eq!(app.patch(&user(&ada), bad).await.status, 400);
    let r = app
        .patch(&user(&ada), patch(json!([{"op": "replace", "value": {"name": {"givenName": "Ada", "familyName": "Lovelace"}}}])))
        .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let deactivate = patch(json!([{"op": "replace", "value": {"active": false}}]));
    assert_eq!(app.patch(&user(&ada), deactivate).await.status, 200);
    let reactivate = patch(json!([{"op": "replace", "value": {"active": true}}]));
    assert_eq!(app.patch(&user(&ada), reactivate).await.status, 200);
    let group = app.create_group("engineering").await;
    let gpath = format!("/scim/v2/Groups/{group}");
    let add =
        patch(json!([{"op": "add", "path": "members", "value": [{"value": ada}, {"value": bob}]}]));
    assert_eq!(app.patch(&gpath, add).await.status, 204);
    let ghost =
        patch(json!([{"op": "add", "path": "members", "value": [{"value": "no-such-id"}]}]));
    assert_eq!(app.patch(&gpath, ghost).await.status, 400);
    let again = patch(json!([{"op": "add", "path": "members", "value": [{"value": ada}]}]));
    assert_eq!(
        app.patch(&gpath, again).await.status,
        204,
        "adding a member twice"
    );
    let remove = patch(json!([{"op": "remove", "path": format!("members[value eq \"{bob}\"]")}]));
    assert_eq!(app.patch(&gpath, remove).await.status, 204);
    let rename = patch(json!([{"op": "replace", "path": "displayName", "value": "platform"}]));
    assert_eq!(app.patch(&gpath, rename).await.status, 204);
    assert_eq!(app.delete(&user(&ada)).await.status, 204);
    assert_eq!(app.delete(&gpath).await.status, 204);

    let events = all_events(&app, &reader, 0).await;
    assert_eq!(
        summary(&events),
        vec![
            format!("user.created {ada}"),
            format!("user.created {bob}"),
            format!("user.updated {ada}"),
            format!("user.deactivated {ada}"),
            format!("user.reactivated {ada}"),
            format!("group.created {group}"),
            format!("group.member_added {group} {ada}"),
            format!("group.member_added {group} {bob}"),
            format!("group.member_removed {group} {bob}"),
            format!("group.updated {group}"),
            // Deleting Ada ends her membership implicitly: no member_removed for it.
            format!("user.deleted {ada}"),
            format!("group.deleted {group}"),
        ]
    );
    let seqs: Vec<i64> = events
        .iter()
        .map(|e| e["seq"].as_i64().expect("seq"))
        .collect();
    assert_eq!(seqs, (1..=12).collect::<Vec<_>>(), "gap-free from 1");
    let ids: std::collections::HashSet<&str> =
        events.iter().filter_map(|e| e["id"].as_str()).collect();
    assert_eq!(ids.len(), 12, "ids are unique");

    // What one event carries.
    let updated = &events[2];
    assert_eq!(updated["schema_version"], json!(1));
    assert_eq!(updated["tenant"], json!("default"));
    assert_eq!(updated["resource"]["userName"], json!("ada@example.com"));
    assert_eq!(
        updated["resource"]["externalId"],
        json!("00ujl29u0le5T6Aj10h7")
    );
    assert_eq!(
        updated["changed"],
        json!(["name.givenName", "name.familyName"])
    );
    assert_eq!(updated["data"]["name"]["familyName"], json!("Lovelace"));
    assert_eq!(
        updated["resource"]["version"],
        json!(2),
        "the user's own revision"
    );
    assert!(
        updated["data"]["meta"].get("version").is_none(),
        "{updated}"
    );
    assert_eq!(updated["actor"]["token_name"], json!("okta"));
    assert_eq!(updated["actor"]["idp"], json!("okta"));
    let created = &events[0];
    assert!(
        created["data"].get("password").is_none(),
        "never a password: {created}"
    );
    assert_eq!(events[3]["changed"], json!(["active"]));
    assert_eq!(
        events[10]["data"],
        Value::Null,
        "a deletion carries no data"
    );
    assert_eq!(events[6]["member"], json!({"type": "User", "id": ada}));
}

/// PUT of a group sends the difference as member events; a user's password change is named,
/// never shown; an Entra string boolean deactivates.
#[rocket::async_test]
async fn put_of_a_group_and_entra_dialect() {
    let app = TestApp::new().await;
    let reader = app.issue_events_token("default", "app");
    let (a, b, c) = (
        app.create_user("a@x.test").await,
        app.create_user("b@x.test").await,
        app.create_user("c@x.test").await,
    );
    let body = |members: &[&str]| {
        json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "g",
               "members": members.iter().map(|m| json!({"value": m})).collect::<Vec<_>>()})
    };
    let g = app.post("/scim/v2/Groups", body(&[&a, &b])).await;
    assert_eq!(g.status, 201, "{}", g.raw);
    let gid = g.body["id"].as_str().expect("id").to_owned();
    let r = app
        .put(&format!("/scim/v2/Groups/{gid}"), body(&[&b, &c]))
        .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let entra = json!({"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]});
    assert_eq!(
        app.patch(&format!("/scim/v2/Users/{c}"), entra)
            .await
            .status,
        200
    );
    let password = patch(json!([{"op": "replace", "path": "password", "value": "n3w-Secret!"}]));
    assert_eq!(
        app.patch(&format!("/scim/v2/Users/{b}"), password)
            .await
            .status,
        200
    );

    let events = all_events(&app, &reader, 3).await;
    assert_eq!(
        summary(&events),
        vec![
            format!("group.created {gid}"),
            format!("group.member_added {gid} {a}"),
            format!("group.member_added {gid} {b}"),
            format!("group.member_removed {gid} {a}"),
            format!("group.member_added {gid} {c}"),
            format!("user.deactivated {c}"),
            format!("user.updated {b}"),
        ]
    );
    assert_eq!(events[6]["changed"], json!(["password"]));
    assert!(
        !events[6].to_string().contains("n3w-Secret!"),
        "{}",
        events[6]
    );
}

/// Tokens of one kind do not work as the other, and each refusal says which token is needed.
#[rocket::async_test]
async fn events_and_scim_tokens_are_not_interchangeable() {
    let app = TestApp::new().await;
    let reader = app.issue_events_token("default", "hr-app");
    let scim_on_feed = feed(&app, &app.token, "").await;
    assert_eq!(scim_on_feed.status, 403, "{}", scim_on_feed.raw);
    assert!(
        scim_on_feed.body["detail"]
            .as_str()
            .expect("detail")
            .contains("--events"),
        "{}",
        scim_on_feed.raw
    );
    let auth = format!("Bearer {reader}");
    let feed_on_scim = app
        .send_with("GET", "/scim/v2/Users", None, &[("Authorization", &auth)])
        .await;
    assert_eq!(feed_on_scim.status, 403, "{}", feed_on_scim.raw);
    assert!(
        feed_on_scim.raw.contains("events token"),
        "{}",
        feed_on_scim.raw
    );
    assert_eq!(feed(&app, "", "").await.status, 401);
}

/// Cursor, limit and type filter; mistakes name the parameter.
#[rocket::async_test]
async fn feed_paging_filters_and_mistakes() {
    let app = TestApp::new().await;
    let reader = app.issue_events_token("default", "app");
    for i in 0..5 {
        app.create_user(&format!("u{i}@x.test")).await;
    }
    let g = app.create_group("g").await;
    let page = feed(&app, &reader, "?after=0&limit=2").await;
    assert_eq!(page.content_type.as_deref(), Some("application/json"));
    assert_eq!(page.body["events"].as_array().map(Vec::len), Some(2));
    assert_eq!(page.body["next_after"], json!(2));
    assert_eq!(page.body["has_more"], json!(true));
    let groups = feed(&app, &reader, "?types=group.created,group.deleted").await;
    assert_eq!(
        summary(groups.body["events"].as_array().expect("events")),
        vec![format!("group.created {g}")]
    );
    let none = feed(&app, &reader, "?after=6&types=user.deleted").await;
    assert_eq!(none.body["events"], json!([]));
    assert_eq!(none.body["next_after"], json!(6));
    for (query, names) in [
        ("?types=user.exploded", "user.exploded"),
        ("?limit=0", "events.max_page"),
        ("?limit=5000", "events.max_page"),
        ("?wait=600", "events.max_wait_secs"),
        ("?after=-1", "after"),
        ("?after=99", "ahead of the newest event"),
    ] {
        let r = feed(&app, &reader, query).await;
        assert_eq!(r.status, 400, "{query}: {}", r.raw);
        assert!(
            r.body["detail"].as_str().expect("detail").contains(names),
            "{query}: {}",
            r.raw
        );
    }
}

/// A long poll returns as soon as a change commits, with that change's event.
#[rocket::async_test]
async fn a_long_poll_returns_the_next_change() {
    let app = TestApp::new().await;
    let reader = app.issue_events_token("default", "app");
    let waiting = feed(&app, &reader, "?after=0&wait=20");
    let writing = async {
        rocket::tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        app.create_user("late@x.test").await
    };
    let (polled, id) = rocket::tokio::join!(waiting, writing);
    assert_eq!(polled.status, 200, "{}", polled.raw);
    assert_eq!(
        summary(polled.body["events"].as_array().expect("events")),
        vec![format!("user.created {id}")]
    );
}

/// A tenant's feed holds only its own events.
#[rocket::async_test]
async fn tenants_see_only_their_own_events() {
    let app = TestApp::new().await;
    crate::admin_api::create_tenant(&app, "acme");
    let acme_scim = app.issue_token("acme", "okta", false, None);
    let acme_reader = app.issue_events_token("acme", "app");
    app.create_user("default-user@x.test").await;
    let auth = format!("Bearer {acme_scim}");
    let r = app
        .send_with(
            "POST",
            "/t/acme/scim/v2/Users",
            Some(okta_user("acme-user@x.test")),
            &[("Authorization", &auth)],
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.raw);
    let auth = format!("Bearer {acme_reader}");
    let page = app
        .send_with("GET", "/t/acme/events", None, &[("Authorization", &auth)])
        .await;
    assert_eq!(page.status, 200, "{}", page.raw);
    let events = page.body["events"].as_array().expect("events");
    assert_eq!(events.len(), 1, "{}", page.raw);
    assert_eq!(events[0]["tenant"], json!("acme"));
    assert_eq!(events[0]["seq"], json!(2), "the sequence is global");
    assert_eq!(
        feed(&app, &acme_reader, "").await.status,
        401,
        "acme's token on the default tenant"
    );
}

/// Retention: pruned events are gone from the feed, a cursor before them gets 410 saying how
/// to resynchronise, numbering carries on, and `/healthz` and `/metrics` show the backlog.
#[rocket::async_test]
async fn pruning_by_age_and_size_and_the_cursor_it_leaves_behind() {
    let app = TestApp::new().await;
    let reader = app.issue_events_token("default", "app");
    for i in 0..4 {
        app.create_user(&format!("u{i}@x.test")).await;
    }
    let store = &app.app().store;
    let health = app.get("/healthz").await;
    assert_eq!(
        health.body["events"]["last_seq"],
        json!(4),
        "{}",
        health.raw
    );
    let bytes = health.body["events"]["bytes"].as_i64().expect("bytes");
    assert!(bytes > 400, "{}", health.raw);
    // By size: keep at most a bit more than one event's bytes.
    let pruned =
        scimd::service::events::prune(store, 30, (bytes / 4 + 10) as u64, scimd::clock::now())
            .await
            .expect("prune");
    assert_eq!(pruned, 3);
    let gone = feed(&app, &reader, "?after=0").await;
    assert_eq!(gone.status, 410, "{}", gone.raw);
    let detail = gone.body["detail"].as_str().expect("detail");
    assert!(
        detail.contains("events.retention_days") && detail.contains("/events/snapshot"),
        "{detail}"
    );
    let rest = feed(&app, &reader, "?after=3").await;
    assert_eq!(
        rest.body["events"].as_array().map(Vec::len),
        Some(1),
        "{}",
        rest.raw
    );
    // By age: a month later every event goes but the newest, which keeps the numbering.
    let later = scimd::clock::now() + time::Duration::days(31);
    let prune_later = || scimd::service::events::prune(store, 30, u64::MAX, later);
    assert_eq!(prune_later().await.expect("prune"), 0, "the newest stays");
    app.create_user("after@x.test").await;
    assert_eq!(prune_later().await.expect("prune"), 1);
    let next = feed(&app, &reader, "?after=4").await;
    assert_eq!(next.body["events"][0]["seq"], json!(5), "{}", next.raw);
    assert_eq!(feed(&app, &reader, "?after=3").await.status, 410);
    let scrape = app
        .client
        .get("/metrics")
        .remote("127.0.0.1:9000".parse().expect("addr"))
        .dispatch()
        .await;
    let metrics = scrape.into_string().await.unwrap_or_default();
    assert!(metrics.contains("scimd_events_last_seq 5"), "{metrics}");
    assert!(
        metrics.contains("scimd_events_oldest_age_seconds"),
        "{metrics}"
    );
}

/// The directory as a consumer rebuilds it: users by id (userName), groups by id (displayName,
/// member ids).
#[derive(Debug, Default, PartialEq)]
struct Mirror {
    users: std::collections::BTreeMap<String, String>,
    groups: std::collections::BTreeMap<String, (String, std::collections::BTreeSet<String>)>,
}

impl Mirror {
    fn put(&mut self, resource: &Value) {
        let id = resource["id"].as_str().expect("id").to_owned();
        if let Some(name) = resource["userName"].as_str() {
            self.users.insert(id, name.to_owned());
        } else {
            let members = resource["members"]
                .as_array()
                .map(|m| {
                    m.iter()
                        .filter_map(|m| m["value"].as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            let name = resource["displayName"]
                .as_str()
                .expect("displayName")
                .to_owned();
            self.groups.insert(id, (name, members));
        }
    }

    /// Applies one event as a consumer would.
    fn apply(&mut self, e: &Value) {
        let id = e["resource"]["id"]
            .as_str()
            .expect("resource id")
            .to_owned();
        match e["type"].as_str().expect("type") {
            "user.created" | "user.updated" | "user.deactivated" | "user.reactivated" => {
                self.users.insert(
                    id,
                    e["data"]["userName"].as_str().expect("userName").to_owned(),
                );
            }
            "group.created" | "group.updated" => {
                let name = e["data"]["displayName"]
                    .as_str()
                    .expect("displayName")
                    .to_owned();
                self.groups.entry(id).or_default().0 = name;
            }
            // A deletion ends the resource's memberships implicitly.
            "user.deleted" | "group.deleted" => {
                self.users.remove(&id);
                self.groups.remove(&id);
                for (_, members) in self.groups.values_mut() {
                    members.remove(&id);
                }
            }
            "group.member_added" => {
                let member = e["member"]["id"].as_str().expect("member").to_owned();
                self.groups.entry(id).or_default().1.insert(member);
            }
            "group.member_removed" => {
                let member = e["member"]["id"].as_str().expect("member");
                self.groups.entry(id).or_default().1.remove(member);
            }
            other => panic!("unexpected event type {other}"),
        }
    }
}

/// Snapshot, then follow: a consumer that starts from a snapshot taken while an IdP writes ends
/// with exactly the users, groups and memberships in the database.
#[rocket::async_test]
async fn snapshot_then_follow_under_concurrent_writes() {
    let app = TestApp::new().await;
    let reader = app.issue_events_token("default", "mirror");
    let mut users = Vec::new();
    for i in 0..30 {
        users.push(app.create_user(&format!("seed{i}@x.test")).await);
    }
    let g1 = app.create_group("g1").await;
    let g2 = app.create_group("g2").await;
    let nest = patch(json!([{"op": "add", "path": "members", "value": [{"value": g2}]}]));
    assert_eq!(
        app.patch(&format!("/scim/v2/Groups/{g1}"), nest)
            .await
            .status,
        204
    );

    let writes = async {
        for i in 0..60usize {
            let u = &users[i % users.len()];
            let group = if i % 2 == 0 { &g1 } else { &g2 };
            let op = match i % 5 {
                0 => patch(json!([{"op": "add", "path": "members", "value": [{"value": u}]}])),
                1 => patch(json!([{"op": "remove", "path": format!("members[value eq \"{u}\"]")}])),
                2 => patch(
                    json!([{"op": "replace", "path": "displayName", "value": format!("{group}-{i}")}]),
                ),
                _ => patch(
                    json!([{"op": "add", "path": "members", "value": [{"value": users[(i * 7) % users.len()]}]}]),
                ),
            };
            app.patch(&format!("/scim/v2/Groups/{group}"), op).await;
            if i % 6 == 0 {
                app.create_user(&format!("new{i}@x.test")).await;
            }
            if i % 15 == 14 {
                app.delete(&format!("/scim/v2/Users/{}", users[i % users.len()]))
                    .await;
            }
            let rename = patch(
                json!([{"op": "replace", "path": "userName", "value": format!("renamed{i}@x.test")}]),
            );
            app.patch(
                &format!("/scim/v2/Users/{}", users[(i * 3 + 1) % users.len()]),
                rename,
            )
            .await;
        }
    };
    let consume = async {
        rocket::tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let auth = format!("Bearer {reader}");
        let snap = app
            .send_with("GET", "/events/snapshot", None, &[("Authorization", &auth)])
            .await;
        assert_eq!(snap.status, 200, "{}", snap.raw);
        let lines: Vec<Value> = snap
            .raw
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect();
        let cursor = lines[0]["cursor"].as_i64().expect("cursor");
        let end = lines.last().expect("end line");
        assert_eq!(end["end"], json!(true), "complete: {end}");
        let mut mirror = Mirror::default();
        for resource in &lines[1..lines.len() - 1] {
            mirror.put(resource);
        }
        assert_eq!(
            mirror.users.len() as i64,
            end["users"].as_i64().expect("users")
        );
        (mirror, cursor)
    };
    let ((mut mirror, cursor), ()) = rocket::tokio::join!(consume, writes);
    assert!(
        cursor > 33,
        "the snapshot was taken mid-stream (cursor {cursor})"
    );
    for e in all_events(&app, &reader, cursor).await {
        mirror.apply(&e);
    }
    // The truth, read after every write has been acknowledged.
    let mut truth = Mirror::default();
    for path in ["/scim/v2/Users?count=1000", "/scim/v2/Groups?count=1000"] {
        for r in app.get(path).await.body["Resources"]
            .as_array()
            .expect("Resources")
        {
            truth.put(r);
        }
    }
    assert_eq!(mirror, truth);
}

/// Entra's live flow (idp-requirements.md §C: S46, S52, S53, S54, S56, S57, S61, S63, S64,
/// S65, S60, S67) in Entra's own dialect gives exactly these events.
#[rocket::async_test]
async fn entra_flow_events() {
    let app = TestApp::new().await;
    let reader = app.issue_events_token("default", "app");
    let entra = [("User-Agent", "Azure Active Directory SCIM Client/1.0")];
    let auth = app.bearer();
    let send = |method: &'static str, path: String, body: Option<Value>| {
        let auth = auth.clone();
        let app = &app;
        async move {
            let r = app
                .send_with(
                    method,
                    &path,
                    body,
                    &[("Authorization", auth.as_str()), entra[0]],
                )
                .await;
            assert!(r.status < 300, "{method} {path}: {}", r.raw);
            r
        }
    };
    let ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    let created = send("POST", "/scim/v2/Users".into(), Some(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ent],
        "externalId": "a1", "userName": "Test_User_1@contoso.test", "active": true,
        "displayName": "Test User", "emails": [{"primary": true, "type": "work", "value": "t1@contoso.test"}],
        "name": {"formatted": "Test User", "familyName": "User", "givenName": "Test"}}))).await;
    let u = created.body["id"].as_str().expect("id").to_owned();
    let mgr = app.create_user("manager@contoso.test").await;
    let user = format!("/scim/v2/Users/{u}");
    let ops = |ops: Value| Some(json!({"schemas": [PATCH], "Operations": ops}));
    let patch_user = |o: Value| send("PATCH", user.clone(), ops(o));
    patch_user(json!([
        {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "x@contoso.test"},
        {"op": "replace", "value": {"displayName": "Bjfe", "name.givenName": "Kkom", format!("{ent}:employeeNumber"): "Aklq"}}])).await;
    patch_user(json!([{"op": "Add", "path": "nickName", "value": "Babs"}])).await;
    patch_user(json!([{"op": "Replace", "path": "active", "value": "False"}])).await;
    patch_user(json!([{"op": "Replace", "path": "active", "value": "True"}])).await;
    patch_user(json!([{"op": "Add", "path": format!("{ent}:manager"), "value": mgr}])).await;
    let g = send("POST", "/scim/v2/Groups".into(), Some(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Group1DisplayName",
        "externalId": "g1", "members": []}))).await;
    let gid = g.body["id"].as_str().expect("id").to_owned();
    let group = format!("/scim/v2/Groups/{gid}");
    send(
        "PATCH",
        group.clone(),
        ops(json!([{"op": "Replace", "path": "displayName", "value": "renamed"}])),
    )
    .await;
    send("PATCH", group.clone(), ops(json!([{"op": "Add", "path": "members", "value": [{"$ref": null, "value": u}, {"$ref": null, "value": mgr}]}]))).await;
    send(
        "PATCH",
        group.clone(),
        ops(json!([{"op": "Remove", "path": "members", "value": [{"value": mgr}]}])),
    )
    .await;
    send("DELETE", user, None).await;
    send("DELETE", group, None).await;

    let events = all_events(&app, &reader, 0).await;
    assert_eq!(
        summary(&events),
        vec![
            format!("user.created {u}"),
            format!("user.created {mgr}"),
            format!("user.updated {u}"),
            format!("user.updated {u}"),
            format!("user.deactivated {u}"),
            format!("user.reactivated {u}"),
            format!("user.updated {u}"),
            format!("group.created {gid}"),
            format!("group.updated {gid}"),
            format!("group.member_added {gid} {u}"),
            format!("group.member_added {gid} {mgr}"),
            format!("group.member_removed {gid} {mgr}"),
            format!("user.deleted {u}"),
            format!("group.deleted {gid}"),
        ]
    );
    let mut changed: Vec<&str> = events[2]["changed"]
        .as_array()
        .expect("changed")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    changed.sort_unstable();
    let employee_number = format!("{ent}:employeeNumber");
    assert_eq!(
        changed,
        vec![
            "displayName",
            "emails",
            "name.givenName",
            employee_number.as_str()
        ]
    );
    assert_eq!(events[3]["changed"], json!(["nickName"]));
    assert_eq!(
        events[4]["data"]["active"],
        json!(false),
        "a boolean, as stored"
    );
    assert_eq!(
        events[6]["changed"],
        json!([format!("{ent}:manager.value")])
    );
    assert_eq!(events[2]["actor"]["idp"], json!("entra"));
}

/// Okta's membership shapes (S19 rename with `id` in the value, S20 remove + add in one
/// request, S21 full replace, S22 PUT) give member events for the actual differences only; and
/// OneLogin's PUT updates (S73: one-object emails) and an AIW deactivation by PUT (S12).
#[rocket::async_test]
async fn okta_membership_shapes_and_updates_by_put() {
    let app = TestApp::new().await;
    let reader = app.issue_events_token("default", "app");
    let (a, b, c) = (
        app.create_user("a@okta.test").await,
        app.create_user("b@okta.test").await,
        app.create_user("c@okta.test").await,
    );
    let gid = app.create_group("Test SCIMv2").await;
    let group = format!("/scim/v2/Groups/{gid}");
    let ok = |r: crate::common::Reply| assert!(r.status < 300, "{}", r.raw);
    ok(app
        .patch(
            &group,
            patch(json!([{"op": "replace", "value": {"id": gid, "displayName": "Test SCIMv2"}}])),
        )
        .await);
    ok(app
        .patch(
            &group,
            patch(json!([{"op": "add", "path": "members", "value": [{"value": a}, {"value": b}]}])),
        )
        .await);
    ok(app
        .patch(
            &group,
            patch(json!([
        {"op": "remove", "path": format!("members[value eq \"{b}\"]")},
        {"op": "add", "path": "members", "value": [{"value": c, "display": "c@okta.test"}]}])),
        )
        .await);
    ok(app.patch(&group, patch(json!([{"op": "replace", "path": "members", "value": [{"value": a}, {"value": b}]}]))).await);
    ok(app
        .put(
            &group,
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": "Test SCIMv2", "members": [{"value": b}]}),
        )
        .await);
    // OneLogin: PUT with emails as one object; then an Okta AIW deactivation by PUT.
    let put = |active: bool, title: &str| {
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "a@okta.test", "title": title, "active": active,
        "emails": {"value": "a@okta.test", "type": "work", "primary": true}})
    };
    ok(app
        .put(&format!("/scim/v2/Users/{a}"), put(true, "Engineer"))
        .await);
    ok(app
        .put(&format!("/scim/v2/Users/{a}"), put(false, "Engineer"))
        .await);

    let events = all_events(&app, &reader, 3).await;
    assert_eq!(
        summary(&events),
        vec![
            format!("group.created {gid}"),
            // S19 changed nothing: no event.
            format!("group.member_added {gid} {a}"),
            format!("group.member_added {gid} {b}"),
            format!("group.member_removed {gid} {b}"),
            format!("group.member_added {gid} {c}"),
            format!("group.member_removed {gid} {c}"),
            format!("group.member_added {gid} {b}"),
            format!("group.member_removed {gid} {a}"),
            format!("user.updated {a}"),
            format!("user.deactivated {a}"),
        ]
    );
    assert_eq!(events[9]["changed"], json!(["active"]));
}

/// The Events page's filters read a window of the feed per page (`events.browse_scan_rows`;
/// the outbox keeps no per-resource index): a resource whose events are older than the window
/// gives a short page that still points further back, and following it finds them.
#[rocket::async_test]
async fn the_events_page_searches_a_window_at_a_time() {
    let app = TestApp::with(|c| c.events.browse_scan_rows = 200).await;
    let _admin = crate::admin_api::sign_in(&app).await;
    let early = app.create_user("early.bird@example.com").await;
    for i in 0..210 {
        app.create_user(&format!("filler{i}@example.com")).await;
    }
    let browse = |query: String| {
        let app = &app;
        async move {
            let r = crate::admin_api::api(
                app,
                "GET",
                &format!("/api/tenants/default/events?{query}"),
                None,
                None,
                None,
            )
            .await;
            assert_eq!(r.status, 200, "{}", r.raw);
            r.body
        }
    };
    let newest = app.sql_int("SELECT MAX(seq) FROM events");
    let first = browse(format!("resource={early}")).await;
    assert_eq!(
        first["events"],
        json!([]),
        "the early event is outside the window"
    );
    assert_eq!(
        first["next_before"],
        newest - 199,
        "the window's oldest event"
    );
    let second = browse(format!("resource={early}&before={}", first["next_before"])).await;
    let found: Vec<&str> = second["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["type"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(found, ["user.created"], "{second}");
    assert_eq!(second["events"][0]["resource"]["id"], early.as_str());
    assert_eq!(
        second["next_before"],
        Value::Null,
        "the search reached the oldest event"
    );
    // Unfiltered, pages are full and chain as before.
    let page = browse("limit=50".into()).await;
    assert_eq!(page["events"].as_array().map(Vec::len), Some(50));
    assert_eq!(page["next_before"], newest - 49);
}
