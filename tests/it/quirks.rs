//! Issue 21 parts 3 and 4 through the real server: attributes no schema defines are ignored
//! (not stored) and reported on the request's log entry and in the integration's health; and
//! every normalisation of the quirk table is recorded on the log entry of a request that needs
//! it and in its token's profile, with first and last time seen.

use serde_json::{Value, json};

use scimd::scim::quirks::Quirk;

use crate::admin_api::{api, sign_in};
use crate::common::{TestApp, okta_user};
use crate::request_log::flush;

const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ENTRA_UA: &str = "Microsoft.AAD.Provisioning";

/// The newest log entry as `/api/log/<id>` shows it (signed in already).
async fn newest(app: &TestApp) -> Value {
    flush(app).await;
    let r = api(app, "GET", "/api/log?per_page=1", None, None, None).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let id = r.body["items"][0]["id"].clone();
    let r = api(app, "GET", &format!("/api/log/{id}"), None, None, None).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    r.body
}

/// The health of token `name` of the default tenant.
async fn token_health(app: &TestApp, name: &str) -> Value {
    flush(app).await;
    let r = api(app, "GET", "/api/health?tenant=default", None, None, None).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    r.body["tokens"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["name"] == name))
        .cloned()
        .unwrap_or_else(|| panic!("no token {name}: {}", r.raw))
}

fn ids(list: &Value) -> Vec<&str> {
    list.as_array()
        .map(|l| l.iter().filter_map(|q| q["id"].as_str()).collect())
        .unwrap_or_default()
}

/// Part 3: an Okta create, replace and PATCH naming attributes no schema defines succeed; the
/// resource is stored and answered without them; the log entry lists them with a diagnosis
/// naming Okta and the fix; the integration's health counts them. (Before issue 21 each was a
/// 400 that failed the provisioning job.)
#[rocket::async_test]
async fn undeclared_attributes_are_ignored_stored_without_and_reported() {
    let app = TestApp::new().await;
    sign_in(&app).await;
    let mut body = okta_user("costs@example.com");
    body["costCentre"] = json!("CC-42");
    body["schemas"] = json!([
        "urn:ietf:params:scim:schemas:core:2.0:User",
        "urn:okta:custom:1.0"
    ]);
    body[ENT] = json!({"department": "Sales", "badgeNumber": "7"});
    let r = app.post("/scim/v2/Users", body.clone()).await;
    assert_eq!(r.status, 201, "{}", r.raw);
    assert!(r.body.get("costCentre").is_none(), "{}", r.raw);
    assert_eq!(r.body[ENT], json!({"department": "Sales"}), "{}", r.raw);
    let id = r.body["id"].as_str().expect("id").to_owned();
    let path = format!("/scim/v2/Users/{id}");
    assert_eq!(
        app.sql_int("SELECT COUNT(*) FROM resources WHERE doc LIKE '%costCentre%' OR doc LIKE '%badgeNumber%'"),
        0,
        "nothing undeclared is stored"
    );

    let entry = newest(&app).await;
    assert_eq!(entry["status"], 201, "{entry}");
    assert_eq!(
        entry["ignored_attributes"],
        json!([
            "urn:okta:custom:1.0",
            "costCentre",
            format!("{ENT}:badgeNumber")
        ]),
        "{entry}"
    );
    assert!(
        ids(&entry["quirks"]).contains(&"ignored_attributes"),
        "{entry}"
    );
    let d = &entry["diagnosis"];
    assert_eq!(d["title"], "Undeclared attributes ignored", "{entry}");
    assert!(
        d["explanation"].as_str().is_some_and(|e| e.starts_with(&format!(
            "Okta sent `urn:okta:custom:1.0`, `costCentre` and `{ENT}:badgeNumber`, which no schema of this tenant defines"
        ))),
        "{entry}"
    );
    assert!(
        d["fix"].as_str().is_some_and(
            |f| f.starts_with("Fix the attribute mapping in Okta or declare an extension")
        ),
        "{entry}"
    );

    body["title"] = json!("Buyer");
    let r = app.put(&path, body).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.body["title"], "Buyer");
    assert!(r.body.get("costCentre").is_none(), "{}", r.raw);
    assert_eq!(newest(&app).await["ignored_attributes"][1], "costCentre");

    let r = app
        .patch(
            &path,
            json!({"schemas":[PATCH_OP],"Operations":[
                {"op":"replace","path":"costCentre","value":"CC-43"},
                {"op":"replace","value":{"shoeSize":"44","nickName":"Cos"}},
                {"op":"replace","path":"name.nickname","value":"x"}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(
        r.body["nickName"], "Cos",
        "the declared attribute applies: {}",
        r.raw
    );
    assert!(r.body.get("shoeSize").is_none(), "{}", r.raw);
    let entry = newest(&app).await;
    assert_eq!(
        entry["ignored_attributes"],
        json!(["costCentre", "shoeSize", "name.nickname"]),
        "{entry}"
    );
    assert_eq!(app.get(&path).await.body["nickName"], "Cos");

    // Declared attributes keep their errors: a wrong type is still a 400.
    let r = app
        .patch(&path, json!({"schemas":[PATCH_OP],"Operations":[{"op":"replace","path":"active","value":"maybe"}]}))
        .await;
    r.assert_error(400, Some("invalidValue"));

    let health = token_health(&app, "okta").await;
    assert_eq!(health["ignored_requests"], 3, "{health}");
    let names: Vec<&str> = health["ignored_attributes"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|a| a["name"].as_str())
        .collect();
    for name in [
        "costCentre",
        "shoeSize",
        "name.nickname",
        "urn:okta:custom:1.0",
    ] {
        assert!(names.contains(&name), "{name}: {health}");
    }
    let cost = health["ignored_attributes"]
        .as_array()
        .and_then(|l| l.iter().find(|a| a["name"] == "costCentre"))
        .expect("costCentre");
    assert_eq!(cost["requests"], 3, "{health}");
    assert!(
        cost["first_seen"].as_str() <= cost["last_seen"].as_str(),
        "{health}"
    );
}

/// Ids a scenario needs: a user with a manager, a group with that user as a member.
struct Fixture {
    user: String,
    manager: String,
    group: String,
}

/// One request that needs `q`: (method, path, body). The match is exhaustive, so a new quirk
/// does not compile until it has a scenario here, and the walker below sends every one.
fn scenario(q: Quirk, f: &Fixture) -> (&'static str, String, Option<Value>) {
    let user = format!("/scim/v2/Users/{}", f.user);
    let group = format!("/scim/v2/Groups/{}", f.group);
    let patch = |path: &str, ops: Value| {
        (
            "PATCH",
            path.to_owned(),
            Some(json!({"schemas":[PATCH_OP],"Operations":ops})),
        )
    };
    match q {
        Quirk::StringBoolean => patch(
            &user,
            json!([{"op":"replace","path":"active","value":"True"}]),
        ),
        Quirk::NumberAsString => patch(
            &user,
            json!([{"op":"replace","path":format!("{ENT}:employeeNumber"),"value":701_984}]),
        ),
        Quirk::CapitalisedOp => patch(&user, json!([{"op":"Replace","path":"title","value":"T1"}])),
        Quirk::PathlessPatch => patch(&user, json!([{"op":"replace","value":{"title":"T2"}}])),
        Quirk::PathKeysInValue => patch(
            &user,
            json!([{"op":"replace","value":{"name.givenName":"Given"}}]),
        ),
        Quirk::SingleValueForMultiValued => patch(
            &user,
            json!([{"op":"add","path":"phoneNumbers","value":{"value":"555-0100","type":"work"}}]),
        ),
        Quirk::BareValueForComplex => patch(
            &user,
            json!([{"op":"replace","path":format!("{ENT}:manager"),"value":f.manager}]),
        ),
        Quirk::ArrayForSingleValue => patch(
            &user,
            json!([{"op":"replace","path":format!("{ENT}:manager"),"value":[{"value":f.manager}]}]),
        ),
        Quirk::EmptyStringAsUnassigned => patch(
            &user,
            json!([{"op":"replace","path":"nickName","value":""}]),
        ),
        Quirk::PlusInFilter => (
            "GET",
            "/scim/v2/Users?filter=userName+eq+%22walker%40example.com%22".to_owned(),
            None,
        ),
        Quirk::RemoveMembersByValue => patch(
            &group,
            json!([{"op":"remove","path":"members","value":[{"value":f.user}]}]),
        ),
        Quirk::OwnIdInPatchValue => patch(
            &group,
            json!([{"op":"replace","value":{"id":f.group,"displayName":"Walkers"}}]),
        ),
        Quirk::PatchWithoutSchemas => (
            "PATCH",
            user,
            Some(json!({"Operations":[{"op":"replace","path":"title","value":"T3"}]})),
        ),
        Quirk::ForeignSchemaUrn => (
            "POST",
            "/scim/v2/Groups".to_owned(),
            Some(
                json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group",
                "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
                "displayName":"Entra group"}),
            ),
        ),
        Quirk::UnqualifiedExtensionAttribute => patch(
            &user,
            json!([{"op":"replace","path":"department","value":"Sales"}]),
        ),
        Quirk::FilterCreatesElement => patch(
            &user,
            json!([{"op":"replace","path":"emails[type eq \"home\"].value","value":"home@example.com"}]),
        ),
        Quirk::IgnoredAttributes => patch(
            &user,
            json!([{"op":"replace","path":"costCentre","value":"CC"}]),
        ),
        Quirk::NonCanonicalValue => patch(
            &user,
            json!([{"op":"add","path":"emails","value":[{"value":"o@example.com","type":"Other"}]}]),
        ),
        Quirk::SchemasAsString => (
            "PATCH",
            user,
            Some(
                json!({"schemas":PATCH_OP,"Operations":[{"op":"replace","path":"title","value":"T4"}]}),
            ),
        ),
        Quirk::ValuePathComparison => (
            "POST",
            "/scim/v2/Users/.search".to_owned(),
            Some(
                json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                "filter":"emails[type eq \"work\"].value eq \"walker@example.com\""}),
            ),
        ),
    }
}

/// Part 4: the walker. For every entry of the quirk table, one request of an Entra
/// integration that needs it; the entry is recorded on that request's log entry (list and
/// detail) and, at the end, in the token's profile with first and last time seen.
#[rocket::async_test]
async fn every_quirk_is_recorded_on_the_log_entry_and_in_the_token_profile() {
    let app = TestApp::new().await;
    sign_in(&app).await;
    let token = app.issue_token("default", "entra-prod", false, None);
    let auth = format!("Bearer {token}");
    let headers = [("Authorization", auth.as_str()), ("User-Agent", ENTRA_UA)];
    let fixture = Fixture {
        user: app.create_user("walker@example.com").await,
        manager: app.create_user("boss@example.com").await,
        group: app.create_group("Walkers").await,
    };
    let r = app
        .patch(
            &format!("/scim/v2/Groups/{}", fixture.group),
            json!({"schemas":[PATCH_OP],"Operations":[{"op":"add","path":"members","value":[{"value":fixture.user}]}]}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.raw);
    // A plain request of the same integration needs nothing.
    let r = app
        .send_with(
            "GET",
            &format!("/scim/v2/Users/{}", fixture.user),
            None,
            &headers,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let plain = newest(&app).await;
    assert_eq!(plain["quirks"], json!([]), "{plain}");

    for q in Quirk::ALL {
        let (method, path, body) = scenario(q, &fixture);
        let r = app.send_with(method, &path, body, &headers).await;
        assert!(
            (200..300).contains(&r.status),
            "{q:?}: {method} {path} → {} {}",
            r.status,
            r.raw
        );
        let entry = newest(&app).await;
        assert_eq!(entry["token"]["name"], "entra-prod", "{entry}");
        assert!(
            ids(&entry["quirks"]).contains(&q.id()),
            "{q:?} not recorded on {method} {path}: {entry}"
        );
        let shown = entry["quirks"]
            .as_array()
            .and_then(|l| l.iter().find(|n| n["id"] == q.id()))
            .expect("shown");
        assert_eq!(shown["label"], q.label());
        assert_eq!(shown["explanation"], q.explanation());
        if q == Quirk::CapitalisedOp {
            // The entry's diagnosis says in words what the integration sends.
            assert_eq!(
                entry["diagnosis"]["title"], "IdP dialect accepted",
                "{entry}"
            );
            assert!(
                entry["diagnosis"]["explanation"]
                    .as_str()
                    .is_some_and(|e| e.starts_with(
                        "Microsoft Entra ID sends capitalised PATCH operation names (accepted)."
                    )),
                "{entry}"
            );
        }
    }

    let health = token_health(&app, "entra-prod").await;
    let profile = &health["quirks"];
    assert_eq!(
        ids(profile),
        Quirk::ALL.iter().map(|q| q.id()).collect::<Vec<_>>(),
        "every quirk, in table order: {health}"
    );
    for line in profile.as_array().expect("profile") {
        assert!(line["requests"].as_u64() >= Some(1), "{line}");
        let (first, last) = (line["first_seen"].as_str(), line["last_seen"].as_str());
        assert!(first.is_some() && first <= last, "{line}");
    }
    // The Okta token that created the fixture needed none of this.
    assert_eq!(token_health(&app, "okta").await["quirks"], json!([]));
}
