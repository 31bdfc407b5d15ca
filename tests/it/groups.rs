//! Group scenarios of ../shared/idp-requirements.md: Okta group push (S16–S23), Entra groups
//! (S41, S61–S67), JumpCloud membership (S75), and the membership failure modes behind them.

use serde_json::{Value, json};

use crate::common::{Reply, TestApp, enc};

const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const MS_GROUP: &str = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group";

fn group_path(id: &str) -> String {
    format!("/scim/v2/Groups/{id}")
}

async fn patch(app: &TestApp, path: &str, ops: Value) -> Reply {
    app.patch(path, json!({"schemas":[PATCH_OP],"Operations": ops}))
        .await
}

/// A group PATCH that must answer 204 with no body.
#[track_caller]
fn assert_204(r: &Reply) {
    assert_eq!(r.status, 204, "{}", r.raw);
    assert!(r.raw.is_empty(), "{}", r.raw);
}

/// The member ids of a group, in the order the server lists them.
async fn members(app: &TestApp, gid: &str) -> Vec<String> {
    let r = app.get(&group_path(gid)).await;
    r.ok()["members"]
        .as_array()
        .expect("members is an array")
        .iter()
        .map(|m| m["value"].as_str().expect("member value").to_owned())
        .collect()
}

async fn sorted_members(app: &TestApp, gid: &str) -> Vec<String> {
    let mut m = members(app, gid).await;
    m.sort();
    m
}

fn sorted(ids: &[&String]) -> Vec<String> {
    let mut v: Vec<String> = ids.iter().map(|s| (*s).clone()).collect();
    v.sort();
    v
}

async fn version(app: &TestApp, gid: &str) -> Value {
    app.get(&group_path(gid)).await.body["meta"]["version"].clone()
}

fn ids(list: &Value) -> Vec<&str> {
    list["Resources"]
        .as_array()
        .expect("Resources array")
        .iter()
        .map(|r| r["id"].as_str().expect("id"))
        .collect()
}

// See: ../shared/idp-requirements.md S16
#[rocket::async_test]
async fn okta_s16_group_existence_check() {
    let app = TestApp::new().await;
    let url =
        "/scim/v2/Groups?filter=displayName%20eq%20%22Test%20SCIMv2%22&startIndex=1&count=100";
    let r = app.get(url).await;
    assert_eq!(
        r.ok(),
        &json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":0,"startIndex":1,"itemsPerPage":0,"Resources":[]})
    );
    let gid = app.create_group("test scimv2").await;
    app.create_group("Test SCIMv2 other").await;
    let r = app.get(url).await;
    assert_eq!(r.ok()["totalResults"], json!(1), "caseExact false");
    assert_eq!(ids(&r.body), [gid.as_str()]);
    assert_eq!(r.body["Resources"][0]["displayName"], json!("test scimv2"));
}

// See: ../shared/idp-requirements.md S17
#[rocket::async_test]
async fn okta_s17_push_group() {
    let app = TestApp::new().await;
    let r = app
        .post(
            "/scim/v2/Groups",
            json!({"schemas":[GROUP],"displayName":"Test SCIMv2","members":[]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.raw);
    let g = r.ok();
    let id = g["id"].as_str().expect("id");
    assert!(!id.is_empty());
    assert_eq!(g["schemas"], json!([GROUP]));
    assert_eq!(g["displayName"], json!("Test SCIMv2"));
    assert_eq!(g["members"], json!([]));
    assert_eq!(g["meta"]["resourceType"], json!("Group"));
    assert_eq!(
        r.header("Location"),
        g["meta"]["location"].as_str(),
        "Location is meta.location"
    );
}

// See: ../shared/idp-requirements.md S18
#[rocket::async_test]
async fn okta_s18_read_group_members_have_value_and_display() {
    let app = TestApp::new().await;
    let uid = app.create_user("test.user@okta.local").await;
    let r = app
        .post(
            "/scim/v2/Groups",
            json!({"schemas":[GROUP],"displayName":"Readers","members":[{"value": uid,"display":"test.user@okta.local"}]}),
        )
        .await;
    let gid = r.body["id"].as_str().expect("id").to_owned();
    let g = app.get(&group_path(&gid)).await;
    let m = &g.ok()["members"];
    assert_eq!(m.as_array().map(Vec::len), Some(1), "{m}");
    assert_eq!(m[0]["value"], json!(uid));
    // display is the user's displayName (okta_user sets "Test User").
    assert_eq!(m[0]["display"], json!("Test User"));
    assert_eq!(m[0]["type"], json!("User"));
    assert!(
        m[0]["$ref"]
            .as_str()
            .is_some_and(|r| r.ends_with(&format!("/Users/{uid}")))
    );
}

// See: ../shared/idp-requirements.md S19
#[rocket::async_test]
async fn okta_s19_rename_with_id_inside_value() {
    let app = TestApp::new().await;
    let uid = app.create_user("member@okta.local").await;
    let gid = app.create_group("Old Name").await;
    assert_204(
        &patch(
            &app,
            &group_path(&gid),
            json!([{"op":"add","path":"members","value":[{"value": uid}]}]),
        )
        .await,
    );
    let r = patch(
        &app,
        &group_path(&gid),
        json!([{"op":"replace","value":{"id": gid,"displayName":"Test SCIMv2"}}]),
    )
    .await;
    assert_204(&r);
    let g = app.get(&group_path(&gid)).await;
    assert_eq!(g.ok()["displayName"], json!("Test SCIMv2"));
    assert_eq!(
        members(&app, &gid).await,
        [uid.as_str()],
        "rename keeps members"
    );
    // Another id inside the value is an attempt to change a readOnly attribute.
    let v = version(&app, &gid).await;
    let r = patch(
        &app,
        &group_path(&gid),
        json!([{"op":"replace","value":{"id":"someone-else","displayName":"Hijack"}}]),
    )
    .await;
    let detail = r.assert_error(400, Some("mutability"));
    assert!(detail.contains("id"), "{detail}");
    assert_eq!(
        app.get(&group_path(&gid)).await.body["displayName"],
        json!("Test SCIMv2")
    );
    assert_eq!(version(&app, &gid).await, v);
    // With ?attributes the group comes back (200).
    let r = app
        .patch(
            &format!("{}?attributes=displayName", group_path(&gid)),
            json!({"schemas":[PATCH_OP],"Operations":[{"op":"replace","value":{"id": gid,"displayName":"Renamed"}}]}),
        )
        .await;
    assert_eq!(r.ok()["displayName"], json!("Renamed"));
    assert_eq!(r.body["id"], json!(gid));
}

// See: ../shared/idp-requirements.md S20
#[rocket::async_test]
async fn okta_s20_remove_by_filter_and_add_in_one_request() {
    let app = TestApp::new().await;
    let uid = app.create_user("test.user@okta.local").await;
    let uid2 = app.create_user("leaver@okta.local").await;
    let stay = app.create_user("stayer@okta.local").await;
    let gid = app.create_group("Delta").await;
    assert_204(
        &patch(
            &app,
            &group_path(&gid),
            json!([{"op":"add","path":"members","value":[{"value": uid2},{"value": stay}]}]),
        )
        .await,
    );
    let r = patch(
        &app,
        &group_path(&gid),
        json!([
            {"op":"remove","path": format!("members[value eq \"{uid2}\"]")},
            {"op":"add","path":"members","value":[{"value": uid,"display":"test.user@okta.local"}]}]),
    )
    .await;
    assert_204(&r);
    assert_eq!(members(&app, &gid).await, [stay.clone(), uid.clone()]);
    // Replaying the same delta is harmless: remove of a non-member, add of a member.
    assert_204(
        &patch(
            &app,
            &group_path(&gid),
            json!([
                {"op":"remove","path": format!("members[value eq \"{uid2}\"]")},
                {"op":"add","path":"members","value":[{"value": uid,"display":"test.user@okta.local"}]}]),
        )
        .await,
    );
    assert_eq!(members(&app, &gid).await, [stay, uid]);
}

// See: ../shared/idp-requirements.md S20 (atomicity)
#[rocket::async_test]
async fn okta_s20_delta_is_all_or_nothing() {
    let app = TestApp::new().await;
    let uid = app.create_user("a@okta.local").await;
    let gid = app.create_group("Atomic").await;
    assert_204(
        &patch(
            &app,
            &group_path(&gid),
            json!([{"op":"add","path":"members","value":[{"value": uid}]}]),
        )
        .await,
    );
    let v = version(&app, &gid).await;
    let r = patch(
        &app,
        &group_path(&gid),
        json!([
            {"op":"remove","path": format!("members[value eq \"{uid}\"]")},
            {"op":"add","path":"members","value":[{"value":"00u-does-not-exist"}]}]),
    )
    .await;
    let detail = r.assert_error(400, Some("invalidValue"));
    assert!(detail.contains("00u-does-not-exist"), "{detail}");
    assert_eq!(members(&app, &gid).await, [uid]);
    assert_eq!(version(&app, &gid).await, v);
}

// See: ../shared/idp-requirements.md S21
#[rocket::async_test]
async fn okta_s21_full_replace() {
    let app = TestApp::new().await;
    let uid = app.create_user("one@okta.local").await;
    let uid2 = app.create_user("two@okta.local").await;
    let old = app.create_user("old@okta.local").await;
    let gid = app.create_group("Replace").await;
    assert_204(
        &patch(
            &app,
            &group_path(&gid),
            json!([{"op":"add","path":"members","value":[{"value": old},{"value": uid}]}]),
        )
        .await,
    );
    let r = patch(
        &app,
        &group_path(&gid),
        json!([{"op":"replace","path":"members","value":[
            {"value": uid,"display":"one@okta.local"},{"value": uid2,"display":"two@okta.local"}]}]),
    )
    .await;
    assert_204(&r);
    assert_eq!(sorted_members(&app, &gid).await, sorted(&[&uid, &uid2]));
    // Replace with an empty list empties the group.
    assert_204(
        &patch(
            &app,
            &group_path(&gid),
            json!([{"op":"replace","path":"members","value":[]}]),
        )
        .await,
    );
    assert!(members(&app, &gid).await.is_empty());
}

// See: ../shared/idp-requirements.md S22
#[rocket::async_test]
async fn okta_s22_put_with_members() {
    let app = TestApp::new().await;
    let uid = app.create_user("test.user@okta.local").await;
    let other = app.create_user("other@okta.local").await;
    let gid = app.create_group("Test SCIMv2").await;
    assert_204(
        &patch(
            &app,
            &group_path(&gid),
            json!([{"op":"add","path":"members","value":[{"value": other}]}]),
        )
        .await,
    );
    let r = app
        .put(
            &group_path(&gid),
            json!({"schemas":[GROUP],"displayName":"Test SCIMv2",
                   "members":[{"value": uid,"display":"test.user@okta.local"}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.ok()["id"], json!(gid));
    assert_eq!(r.body["displayName"], json!("Test SCIMv2"));
    let listed: Vec<&Value> = r.body["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| &m["value"])
        .collect();
    assert_eq!(listed, [&json!(uid)]);
    assert_eq!(members(&app, &gid).await, [uid]);
    // Omitted members mean "no members".
    let r = app
        .put(
            &group_path(&gid),
            json!({"schemas":[GROUP],"displayName":"Test SCIMv2"}),
        )
        .await;
    assert_eq!(r.ok()["members"], json!([]));
    assert!(members(&app, &gid).await.is_empty());
}

// See: ../shared/idp-requirements.md S23
#[rocket::async_test]
async fn okta_s23_delete_group_then_404() {
    let app = TestApp::new().await;
    let uid = app.create_user("m@okta.local").await;
    let gid = app.create_group("Doomed").await;
    assert_204(
        &patch(
            &app,
            &group_path(&gid),
            json!([{"op":"add","path":"members","value":[{"value": uid}]}]),
        )
        .await,
    );
    let r = app.delete(&group_path(&gid)).await;
    assert_204(&r);
    let detail = app.get(&group_path(&gid)).await.assert_error(404, None);
    assert!(detail.contains(&gid), "{detail}");
    app.delete(&group_path(&gid)).await.assert_error(404, None);
    patch(
        &app,
        &group_path(&gid),
        json!([{"op":"replace","path":"displayName","value":"x"}]),
    )
    .await
    .assert_error(404, None);
    app.put(
        &group_path(&gid),
        json!({"schemas":[GROUP],"displayName":"Doomed"}),
    )
    .await
    .assert_error(404, None);
    // The member user is untouched and no longer lists the group.
    let u = app.get(&format!("/scim/v2/Users/{uid}")).await;
    assert!(u.ok().get("groups").is_none(), "{}", u.raw);
    assert_eq!(app.sql_int("SELECT COUNT(*) FROM group_members"), 0);
    // The name is free again.
    app.create_group("Doomed").await;
}

// See: ../shared/idp-requirements.md S41
#[rocket::async_test]
async fn entra_s41_group_probe_excludes_members() {
    let app = TestApp::new().await;
    let uid = app.create_user("sales.rep@contoso.com").await;
    let r = app
        .post(
            "/scim/v2/Groups",
            json!({"schemas":[GROUP],"displayName":"Sales Team","members":[{"value": uid}]}),
        )
        .await;
    let gid = r.body["id"].as_str().expect("id").to_owned();
    let r = app
        .get("/scim/v2/Groups?excludedAttributes=members&filter=displayName+eq+%22Sales+Team%22")
        .await;
    assert_eq!(r.ok()["totalResults"], json!(1));
    assert_eq!(ids(&r.body), [gid.as_str()]);
    let g = &r.body["Resources"][0];
    assert!(g.get("members").is_none(), "{g}");
    assert_eq!(g["displayName"], json!("Sales Team"));
    assert!(g["meta"].is_object());
    let r = app
        .get(
            "/scim/v2/Groups?excludedAttributes=members&filter=displayName+eq+%22Marketing+Team%22",
        )
        .await;
    assert_eq!(r.ok()["totalResults"], json!(0));
    assert_eq!(r.body["Resources"], json!([]));
}

// See: ../shared/idp-requirements.md S61
#[rocket::async_test]
async fn entra_s61_create_group_with_microsoft_schema() {
    let app = TestApp::new().await;
    let r = app
        .post(
            "/scim/v2/Groups",
            json!({"schemas":[GROUP, MS_GROUP],
                   "externalId":"8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159","displayName":"displayName",
                   "meta":{"resourceType":"Group"}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.raw);
    let g = r.ok();
    assert!(g["id"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(g["schemas"], json!([GROUP]));
    assert_eq!(
        g["externalId"],
        json!("8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159")
    );
    assert_eq!(g["displayName"], json!("displayName"));
    assert_eq!(g["members"], json!([]));
    let r = app
        .get("/scim/v2/Groups?filter=externalId+eq+%228aa1a0c0-c4c3-4bc0-b4a5-2ef676900159%22")
        .await;
    assert_eq!(ids(r.ok()), [g["id"].as_str().expect("id")]);
}

// See: ../shared/idp-requirements.md S62
#[rocket::async_test]
async fn entra_s62_get_group_without_members() {
    let app = TestApp::new().await;
    let uid = app.create_user("u@contoso.com").await;
    let r = app
        .post(
            "/scim/v2/Groups",
            json!({"schemas":[GROUP],"displayName":"G62","members":[{"value": uid}]}),
        )
        .await;
    let gid = r.body["id"].as_str().expect("id").to_owned();
    let r = app
        .get(&format!("{}?excludedAttributes=members", group_path(&gid)))
        .await;
    let g = r.ok();
    assert!(g.get("members").is_none(), "{g}");
    assert_eq!(g["id"], json!(gid));
    assert_eq!(g["displayName"], json!("G62"));
    assert_eq!(members(&app, &gid).await, [uid]);
}

// See: ../shared/idp-requirements.md S63
#[rocket::async_test]
async fn entra_s63_rename_group_is_204() {
    let app = TestApp::new().await;
    let gid = app.create_group("displayName").await;
    let r = patch(
        &app,
        &group_path(&gid),
        json!([{"op":"Replace","path":"displayName","value":"1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"}]),
    )
    .await;
    assert_204(&r);
    assert_eq!(
        app.get(&group_path(&gid)).await.body["displayName"],
        json!("1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName")
    );
    assert_eq!(version(&app, &gid).await, json!("W/\"2\""));
}

// See: ../shared/idp-requirements.md S64
#[rocket::async_test]
async fn entra_s64_add_many_members_in_one_patch() {
    let app = TestApp::new().await;
    let uid = app.create_user("one@contoso.com").await;
    let uid2 = app.create_user("two@contoso.com").await;
    let gid = app.create_group("Many").await;
    let r = patch(
        &app,
        &group_path(&gid),
        json!([{"op":"Add","path":"members","value":[{"$ref":null,"value": uid},{"$ref":null,"value": uid2}]}]),
    )
    .await;
    assert_204(&r);
    assert_eq!(members(&app, &gid).await, [uid.clone(), uid2.clone()]);
    // A nested group is also a valid member value.
    let sub = app.create_group("Sub").await;
    assert_204(
        &patch(
            &app,
            &group_path(&gid),
            json!([{"op":"Add","path":"members","value":[{"$ref":null,"value": sub}]}]),
        )
        .await,
    );
    let g = app.get(&group_path(&gid)).await;
    let types: Vec<(&Value, &Value)> = g.body["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| (&m["value"], &m["type"]))
        .collect();
    assert_eq!(
        types,
        [
            (&json!(uid), &json!("User")),
            (&json!(uid2), &json!("User")),
            (&json!(sub), &json!("Group"))
        ]
    );
}

// See: ../shared/idp-requirements.md S65 — the data-loss regression test
#[rocket::async_test]
async fn entra_s65_remove_value_list_removes_only_listed_members() {
    let app = TestApp::new().await;
    let a = app.create_user("a@contoso.com").await;
    let b = app.create_user("b@contoso.com").await;
    let c = app.create_user("c@contoso.com").await;
    let gid = app.create_group("Keep Most").await;
    assert_204(
        &patch(
            &app,
            &group_path(&gid),
            json!([{"op":"Add","path":"members","value":[{"value": a},{"value": b},{"value": c}]}]),
        )
        .await,
    );
    let r = patch(
        &app,
        &group_path(&gid),
        json!([{"op":"Remove","path":"members","value":[{"value": a}]}]),
    )
    .await;
    assert_204(&r);
    assert_eq!(members(&app, &gid).await, [b.clone(), c.clone()]);
    // An empty value list, or one naming only non-members, removes nothing.
    for value in [
        json!([]),
        json!([{"value": a}]),
        json!([{"value":"never-a-member"}]),
    ] {
        assert_204(
            &patch(
                &app,
                &group_path(&gid),
                json!([{"op":"Remove","path":"members","value": value}]),
            )
            .await,
        );
        assert_eq!(members(&app, &gid).await, [b.clone(), c.clone()], "{value}");
    }
    // Two listed members in one op.
    assert_204(
        &patch(
            &app,
            &group_path(&gid),
            json!([{"op":"Remove","path":"members","value":[{"value": b},{"value": c}]}]),
        )
        .await,
    );
    assert!(members(&app, &gid).await.is_empty());
    // Only a remove with no value at all clears the group.
    assert_204(
        &patch(
            &app,
            &group_path(&gid),
            json!([{"op":"Add","path":"members","value":[{"value": a},{"value": b}]}]),
        )
        .await,
    );
    assert_204(
        &patch(
            &app,
            &group_path(&gid),
            json!([{"op":"remove","path":"members"}]),
        )
        .await,
    );
    assert!(members(&app, &gid).await.is_empty());
    // The users themselves are untouched.
    assert_eq!(
        app.sql_int("SELECT COUNT(*) FROM resources WHERE resource_type = 'User'"),
        3
    );
}

// See: ../shared/idp-requirements.md S66
#[rocket::async_test]
async fn entra_s66_remove_member_by_filter() {
    let app = TestApp::new().await;
    let a = app.create_user("a@contoso.com").await;
    let b = app.create_user("b@contoso.com").await;
    let gid = app.create_group("Filtered").await;
    assert_204(
        &patch(
            &app,
            &group_path(&gid),
            json!([{"op":"add","path":"members","value":[{"value": a},{"value": b}]}]),
        )
        .await,
    );
    let r = patch(
        &app,
        &group_path(&gid),
        json!([{"op":"remove","path": format!("members[value eq \"{a}\"]")}]),
    )
    .await;
    assert_204(&r);
    assert_eq!(members(&app, &gid).await, [b]);
}

// See: ../shared/idp-requirements.md S67
#[rocket::async_test]
async fn entra_s67_delete_group() {
    let app = TestApp::new().await;
    let uid = app.create_user("u@contoso.com").await;
    let gid = app.create_group("Gone").await;
    let keep = app.create_group("Kept").await;
    for g in [&gid, &keep] {
        assert_204(
            &patch(
                &app,
                &group_path(g),
                json!([{"op":"Add","path":"members","value":[{"$ref":null,"value": uid}]}]),
            )
            .await,
        );
    }
    assert_204(&app.delete(&group_path(&gid)).await);
    app.get(&group_path(&gid)).await.assert_error(404, None);
    assert_eq!(members(&app, &keep).await, [uid.as_str()]);
    let u = app.get(&format!("/scim/v2/Users/{uid}")).await;
    let groups: Vec<&Value> = u.ok()["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .map(|g| &g["value"])
        .collect();
    assert_eq!(groups, [&json!(keep)]);
}

// See: ../shared/idp-requirements.md S75
#[rocket::async_test]
async fn jumpcloud_s75_membership_and_per_attribute_updates() {
    let app = TestApp::new().await;
    let uid = app.create_user("jc@example.com").await;
    let uid2 = app.create_user("jc2@example.com").await;
    let gid = app.create_group("JumpCloud").await;
    assert_204(
        &patch(
            &app,
            &group_path(&gid),
            json!([{"op":"add","path":"members","value":[{"value": uid}]}]),
        )
        .await,
    );
    assert_204(
        &patch(
            &app,
            &group_path(&gid),
            json!([{"op":"add","path":"members","value":[{"value": uid2}]}]),
        )
        .await,
    );
    assert_eq!(members(&app, &gid).await, [uid.clone(), uid2.clone()]);
    assert_204(
        &patch(
            &app,
            &group_path(&gid),
            json!([{"op":"remove","path":"members","value":[{"value": uid}]}]),
        )
        .await,
    );
    assert_eq!(members(&app, &gid).await, [uid2]);
    // User updates: one replace op per attribute.
    let r = patch(
        &app,
        &format!("/scim/v2/Users/{uid}"),
        json!([
            {"op":"replace","path":"name.givenName","value":"Jump"},
            {"op":"replace","path":"name.familyName","value":"Cloud"},
            {"op":"replace","path":"displayName","value":"Jump Cloud"},
            {"op":"replace","path":"active","value":false}]),
    )
    .await;
    let u = r.ok();
    assert_eq!(u["name"], json!({"givenName":"Jump","familyName":"Cloud"}));
    assert_eq!(u["displayName"], json!("Jump Cloud"));
    assert_eq!(u["active"], json!(false));
}

// --- Failure modes ----------------------------------------------------------------------------

#[rocket::async_test]
async fn unknown_member_id_is_400_naming_it_and_changes_nothing() {
    let app = TestApp::new().await;
    let uid = app.create_user("known@x.test").await;
    let other = app.create_user("other@x.test").await;
    let gid = app.create_group("Strict").await;
    assert_204(
        &patch(
            &app,
            &group_path(&gid),
            json!([{"op":"Add","path":"members","value":[{"value": uid}]}]),
        )
        .await,
    );
    let before = app.get(&group_path(&gid)).await.body;
    for ops in [
        json!([{"op":"Add","path":"members","value":[{"value": other},{"value":"ghost-1234"}]}]),
        json!([{"op":"replace","path":"members","value":[{"value":"ghost-1234"}]}]),
        json!([{"op":"replace","value":{"displayName":"Renamed","members":[{"value":"ghost-1234"}]}}]),
    ] {
        let r = patch(&app, &group_path(&gid), ops.clone()).await;
        let detail = r.assert_error(400, Some("invalidValue"));
        assert!(detail.contains("ghost-1234"), "{ops}: {detail}");
        assert_eq!(
            app.get(&group_path(&gid)).await.body,
            before,
            "{ops}: nothing changed"
        );
    }
    // POST and PUT are checked the same way.
    let r = app
        .post(
            "/scim/v2/Groups",
            json!({"schemas":[GROUP],"displayName":"Ghosts","members":[{"value":"ghost-1234"}]}),
        )
        .await;
    let detail = r.assert_error(400, Some("invalidValue"));
    assert!(detail.contains("ghost-1234"), "{detail}");
    assert_eq!(
        app.sql_int("SELECT COUNT(*) FROM resources WHERE resource_type = 'Group'"),
        1
    );
    let r = app
        .put(
            &group_path(&gid),
            json!({"schemas":[GROUP],"displayName":"Strict","members":[{"value":"ghost-1234"}]}),
        )
        .await;
    r.assert_error(400, Some("invalidValue"));
    assert_eq!(app.get(&group_path(&gid)).await.body, before);
}

#[rocket::async_test]
async fn remove_of_a_non_member_is_a_no_op() {
    let app = TestApp::new().await;
    let uid = app.create_user("in@x.test").await;
    let outsider = app.create_user("out@x.test").await;
    let gid = app.create_group("NoOp").await;
    assert_204(
        &patch(
            &app,
            &group_path(&gid),
            json!([{"op":"add","path":"members","value":[{"value": uid}]}]),
        )
        .await,
    );
    for ops in [
        json!([{"op":"remove","path": format!("members[value eq \"{outsider}\"]")}]),
        json!([{"op":"Remove","path":"members","value":[{"value": outsider}]}]),
        json!([{"op":"remove","path":"members[value eq \"no-such-id\"]"}]),
    ] {
        assert_204(&patch(&app, &group_path(&gid), ops).await);
        assert_eq!(members(&app, &gid).await, [uid.as_str()]);
    }
    // With ?attributes the answer is 200 with the unchanged group.
    let r = app
        .patch(
            &format!("{}?attributes=members", group_path(&gid)),
            json!({"schemas":[PATCH_OP],"Operations":[{"op":"remove","path": format!("members[value eq \"{outsider}\"]")}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.body["members"][0]["value"], json!(uid));
}

#[rocket::async_test]
async fn duplicate_add_is_idempotent() {
    let app = TestApp::new().await;
    let uid = app.create_user("dup@x.test").await;
    let gid = app.create_group("Dups").await;
    for _ in 0..2 {
        assert_204(
            &patch(
                &app,
                &group_path(&gid),
                json!([{"op":"Add","path":"members","value":[{"value": uid},{"value": uid}]}]),
            )
            .await,
        );
    }
    assert_eq!(members(&app, &gid).await, [uid.as_str()]);
    let r = app
        .post(
            "/scim/v2/Groups",
            json!({"schemas":[GROUP],"displayName":"Dups2","members":[{"value": uid},{"value": uid}]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.raw);
    assert_eq!(r.body["members"].as_array().map(Vec::len), Some(1));
    assert_eq!(app.sql_int("SELECT COUNT(*) FROM group_members"), 2);
}

#[rocket::async_test]
async fn nested_groups_allowed_but_cycles_rejected() {
    let app = TestApp::new().await;
    let a = app.create_group("A").await;
    let b = app.create_group("B").await;
    let c = app.create_group("C").await;
    // A in B.
    assert_204(
        &patch(
            &app,
            &group_path(&b),
            json!([{"op":"add","path":"members","value":[{"value": a,"type":"Group"}]}]),
        )
        .await,
    );
    assert_eq!(members(&app, &b).await, [a.as_str()]);
    // B in A would close A → B → A.
    let v = version(&app, &a).await;
    let r = patch(
        &app,
        &group_path(&a),
        json!([{"op":"add","path":"members","value":[{"value": b}]}]),
    )
    .await;
    let detail = r.assert_error(400, Some("invalidValue"));
    assert!(detail.contains(&b) && detail.contains(&a), "{detail}");
    assert!(members(&app, &a).await.is_empty());
    assert_eq!(version(&app, &a).await, v);
    // A in A.
    let r = patch(
        &app,
        &group_path(&a),
        json!([{"op":"add","path":"members","value":[{"value": a}]}]),
    )
    .await;
    r.assert_error(400, Some("invalidValue"));
    assert!(members(&app, &a).await.is_empty());
    // A longer cycle: B in C, then C in A (A → C → B → A).
    assert_204(
        &patch(
            &app,
            &group_path(&c),
            json!([{"op":"add","path":"members","value":[{"value": b}]}]),
        )
        .await,
    );
    patch(
        &app,
        &group_path(&a),
        json!([{"op":"add","path":"members","value":[{"value": c}]}]),
    )
    .await
    .assert_error(400, Some("invalidValue"));
    // PUT is checked too.
    app.put(
        &group_path(&a),
        json!({"schemas":[GROUP],"displayName":"A","members":[{"value": b}]}),
    )
    .await
    .assert_error(400, Some("invalidValue"));
    assert!(members(&app, &a).await.is_empty());
}

#[rocket::async_test]
async fn deleting_a_user_removes_it_from_every_group() {
    let app = TestApp::new().await;
    let uid = app.create_user("leaving@x.test").await;
    let stay = app.create_user("staying@x.test").await;
    let g1 = app.create_group("One").await;
    let g2 = app.create_group("Two").await;
    for g in [&g1, &g2] {
        assert_204(
            &patch(
                &app,
                &group_path(g),
                json!([{"op":"add","path":"members","value":[{"value": uid},{"value": stay}]}]),
            )
            .await,
        );
    }
    assert_204(&app.delete(&format!("/scim/v2/Users/{uid}")).await);
    for g in [&g1, &g2] {
        assert_eq!(members(&app, g).await, [stay.as_str()]);
    }
    let r = app
        .get(&format!(
            "/scim/v2/Groups?filter={}",
            enc(&format!("members.value eq \"{uid}\""))
        ))
        .await;
    assert_eq!(r.ok()["totalResults"], json!(0));
}

#[rocket::async_test]
async fn user_groups_lists_direct_and_indirect_groups() {
    let app = TestApp::new().await;
    let uid = app.create_user("nested@x.test").await;
    let inner = app.create_group("Inner").await;
    let outer = app.create_group("Outer").await;
    app.create_group("Unrelated").await;
    assert_204(
        &patch(
            &app,
            &group_path(&inner),
            json!([{"op":"add","path":"members","value":[{"value": uid}]}]),
        )
        .await,
    );
    assert_204(
        &patch(
            &app,
            &group_path(&outer),
            json!([{"op":"add","path":"members","value":[{"value": inner}]}]),
        )
        .await,
    );
    let u = app.get(&format!("/scim/v2/Users/{uid}")).await;
    let groups: Vec<(&Value, &Value, &Value)> = u.ok()["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .map(|g| (&g["value"], &g["display"], &g["type"]))
        .collect();
    assert_eq!(
        groups,
        [
            (&json!(inner), &json!("Inner"), &json!("direct")),
            (&json!(outer), &json!("Outer"), &json!("indirect"))
        ]
    );
    assert!(
        u.body["groups"][0]["$ref"]
            .as_str()
            .is_some_and(|r| r.ends_with(&format!("/Groups/{inner}")))
    );
    // `groups` is readOnly: a PUT sending it back changes nothing.
    let mut body = u.body.clone();
    body["groups"] = json!([]);
    let r = app.put(&format!("/scim/v2/Users/{uid}"), body).await;
    assert_eq!(r.ok()["groups"].as_array().map(Vec::len), Some(2));
    // members.value eq finds the groups the user is a direct member of.
    let r = app
        .get(&format!(
            "/scim/v2/Groups?filter={}",
            enc(&format!("members.value eq \"{uid}\""))
        ))
        .await;
    assert_eq!(ids(r.ok()), [inner.as_str()]);
    let r = app
        .get(&format!(
            "/scim/v2/Groups?filter={}",
            enc(&format!("members[value eq \"{inner}\"]"))
        ))
        .await;
    assert_eq!(ids(r.ok()), [outer.as_str()]);
}

#[rocket::async_test]
async fn display_name_is_unique_case_insensitively() {
    let app = TestApp::new().await;
    let gid = app.create_group("Engineering").await;
    let other = app.create_group("Sales").await;
    let r = app
        .post(
            "/scim/v2/Groups",
            json!({"schemas":[GROUP],"displayName":"ENGINEERING"}),
        )
        .await;
    let detail = r.assert_error(409, Some("uniqueness"));
    assert!(
        detail.contains("displayName") && detail.contains(&gid),
        "{detail}"
    );
    app.put(
        &group_path(&other),
        json!({"schemas":[GROUP],"displayName":"engineering"}),
    )
    .await
    .assert_error(409, Some("uniqueness"));
    patch(
        &app,
        &group_path(&other),
        json!([{"op":"Replace","path":"displayName","value":"Engineering"}]),
    )
    .await
    .assert_error(409, Some("uniqueness"));
    assert_eq!(
        app.get(&group_path(&other)).await.body["displayName"],
        json!("Sales")
    );
    assert_eq!(
        app.sql_int("SELECT COUNT(*) FROM resources WHERE resource_type = 'Group'"),
        2
    );
    // Changing only the case of one's own name is allowed.
    assert_204(
        &patch(
            &app,
            &group_path(&gid),
            json!([{"op":"Replace","path":"displayName","value":"engineering"}]),
        )
        .await,
    );
}

#[rocket::async_test]
async fn post_and_put_with_members_store_them() {
    let app = TestApp::new().await;
    let a = app.create_user("a@x.test").await;
    let b = app.create_user("b@x.test").await;
    let sub = app.create_group("Sub").await;
    let r = app
        .post(
            "/scim/v2/Groups",
            json!({"schemas":[GROUP],"displayName":"Posted",
                   "members":[{"value": a,"display":"a"},{"value": sub,"type":"Group"}]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.raw);
    let gid = r.body["id"].as_str().expect("id").to_owned();
    let listed: Vec<&Value> = r.body["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| &m["value"])
        .collect();
    assert_eq!(listed, [&json!(a), &json!(sub)]);
    assert_eq!(members(&app, &gid).await, [a.clone(), sub.clone()]);
    let r = app
        .put(
            &group_path(&gid),
            json!({"schemas":[GROUP],"displayName":"Posted","members":[{"value": b},{"value": a}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(sorted_members(&app, &gid).await, sorted(&[&a, &b]));
    // A type that contradicts the member is refused.
    let r = app
        .put(
            &group_path(&gid),
            json!({"schemas":[GROUP],"displayName":"Posted","members":[{"value": a,"type":"Group"}]}),
        )
        .await;
    let detail = r.assert_error(400, Some("invalidValue"));
    assert!(detail.contains(&a), "{detail}");
    assert_eq!(sorted_members(&app, &gid).await, sorted(&[&a, &b]));
}

/// Issue 20, item 5: deleting a user ends its memberships, and the groups it was in change
/// with it: a new version (ETag and meta.version), a new lastModified and a history entry, so
/// `If-None-Match` with the old ETag no longer answers 304 for a group whose members changed.
#[rocket::async_test]
async fn deleting_a_member_changes_its_groups_version_and_history() {
    let app = TestApp::new().await;
    crate::admin_api::sign_in(&app).await;
    let uid = app.create_user("leaver@example.com").await;
    let stays = app.create_user("stays@example.com").await;
    let group = json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName":"leavers","members":[{"value": uid}, {"value": stays}]});
    let created = app.post("/scim/v2/Groups", group).await;
    let gid = created.ok()["id"].as_str().expect("id").to_owned();
    let etag = created.header("ETag").expect("ETag").to_owned();
    let modified = created.body["meta"]["lastModified"].clone();
    let path = format!("/scim/v2/Groups/{gid}");
    let bearer = app.bearer();
    let conditional = [
        ("Authorization", bearer.as_str()),
        ("If-None-Match", etag.as_str()),
    ];
    let get_unless_cached = || app.send_with("GET", &path, None, &conditional);
    assert_eq!(get_unless_cached().await.status, 304, "unchanged so far");

    assert_eq!(
        app.delete(&format!("/scim/v2/Users/{uid}")).await.status,
        204
    );
    let after = get_unless_cached().await;
    let body = after.ok();
    assert_ne!(after.header("ETag"), Some(etag.as_str()), "a new ETag");
    assert_ne!(body["meta"]["lastModified"], modified);
    assert_eq!(body["members"].as_array().map(Vec::len), Some(1), "{body}");
    let history = crate::admin_api::api(
        &app,
        "GET",
        &format!("/api/tenants/default/Groups/{gid}/history"),
        None,
        None,
        None,
    )
    .await;
    assert!(
        history.raw.contains(&uid) && history.raw.contains("\"deleted\":true"),
        "{}",
        history.raw
    );
}

/// Issue 20, item 5, the user's side: a user's `groups` changes when a group it is in is
/// renamed, deleted or nested into another, none of which writes the user's row (a group of
/// 50,000 users stays one write). Its ETag still changes with its representation, because it is
/// derived from the user's version and the groups it shows; a group's ETag changes when a
/// member's display name does.
#[rocket::async_test]
async fn a_users_etag_follows_the_groups_it_shows() {
    let app = TestApp::new().await;
    let uid = app.create_user("member@example.com").await;
    let user_path = format!("/scim/v2/Users/{uid}");
    let group = |name: &str, members: Value| {
        json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],
               "displayName": name, "members": members})
    };
    let gid = app
        .post(
            "/scim/v2/Groups",
            group("engineering", json!([{"value": uid}])),
        )
        .await
        .ok()["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let bearer = app.bearer();
    let read = |etag: String| {
        let (path, bearer) = (user_path.clone(), bearer.clone());
        let app = &app;
        async move {
            let headers = [
                ("Authorization", bearer.as_str()),
                ("If-None-Match", etag.as_str()),
            ];
            app.send_with("GET", &path, None, &headers).await
        }
    };
    let first = app.get(&user_path).await;
    let etag = first.header("ETag").expect("ETag").to_owned();
    assert_eq!(
        first.ok()["meta"]["version"],
        json!(etag),
        "meta.version is the ETag"
    );
    let modified = first.ok()["meta"]["lastModified"].clone();
    assert_eq!(read(etag.clone()).await.status, 304, "unchanged so far");

    // Renaming the group changes what the user shows, and so its ETag; its row is not written.
    let rename = json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations":[{"op":"replace","path":"displayName","value":"platform"}]});
    app.patch(&format!("/scim/v2/Groups/{gid}"), rename).await;
    let renamed = read(etag.clone()).await;
    assert_eq!(renamed.status, 200, "a rename is not a 304");
    assert_eq!(renamed.ok()["groups"][0]["display"], json!("platform"));
    assert_eq!(
        renamed.ok()["meta"]["lastModified"],
        modified,
        "no write to the user's row"
    );
    let etag2 = renamed.header("ETag").expect("ETag").to_owned();
    assert_ne!(etag2, etag);
    assert_eq!(renamed.ok()["meta"]["version"], json!(etag2));
    let listed = app
        .get("/scim/v2/Users?filter=userName%20eq%20%22member@example.com%22")
        .await;
    assert_eq!(
        listed.ok()["Resources"][0]["meta"]["version"],
        json!(etag2),
        "lists agree"
    );
    let projected = app.get(&format!("{user_path}?attributes=userName")).await;
    assert_eq!(
        projected.header("ETag"),
        Some(etag2.as_str()),
        "whatever is projected"
    );

    // Nesting the group into another shows a new, indirect group.
    let parent = app
        .post(
            "/scim/v2/Groups",
            group("everyone", json!([{"value": gid}])),
        )
        .await
        .ok()["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let nested = read(etag2.clone()).await;
    assert_eq!(nested.status, 200, "an indirect group is not a 304");
    assert_eq!(nested.ok()["groups"].as_array().map(Vec::len), Some(2));
    let etag3 = nested.header("ETag").expect("ETag").to_owned();

    // If-Match on a write compares against the same ETag: the stale one is refused.
    let put = |etag: &str| {
        let body = json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
                          "userName":"member@example.com","displayName":"Member One"});
        let headers = [
            ("Authorization", bearer.clone()),
            ("If-Match", etag.to_owned()),
        ];
        let app = &app;
        let path = user_path.clone();
        async move {
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            app.send_with("PUT", &path, Some(body), &headers).await
        }
    };
    assert_eq!(put(&etag2).await.status, 412, "stale since the nesting");
    let group_before = app.get(&format!("/scim/v2/Groups/{gid}")).await;
    let group_etag = group_before.header("ETag").expect("ETag").to_owned();
    let written = put(&etag3).await;
    assert_eq!(written.status, 200, "{}", written.raw);

    // The user's new display name shows in the group's members: the group's ETag changes.
    let group_after = app.get(&format!("/scim/v2/Groups/{gid}")).await;
    assert_ne!(group_after.header("ETag"), Some(group_etag.as_str()));
    assert_eq!(
        group_after.ok()["members"][0]["display"],
        json!("Member One")
    );

    // Deleting both groups leaves the user with none: a new ETag again.
    let etag4 = written.header("ETag").expect("ETag").to_owned();
    app.delete(&format!("/scim/v2/Groups/{parent}")).await;
    app.delete(&format!("/scim/v2/Groups/{gid}")).await;
    let alone = read(etag4.clone()).await;
    assert_eq!(alone.status, 200, "deleting its groups is not a 304");
    assert!(alone.ok().get("groups").is_none(), "{}", alone.raw);
    assert_ne!(alone.header("ETag"), Some(etag4.as_str()));
}
