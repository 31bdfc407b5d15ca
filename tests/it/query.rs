//! The query language end to end (issue 4): filters, sorting, projection and /.search through
//! the real server.

use serde_json::{Value, json};

use crate::common::{TestApp, enc};

const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

async fn seed(app: &TestApp) -> Vec<String> {
    let users = [
        json!({"userName":"bjensen","name":{"familyName":"Jensen","givenName":"Barbara"},"title":"Tour Guide","userType":"Employee",
               "emails":[{"value":"bjensen@example.com","type":"work","primary":true},{"value":"babs@jensen.org","type":"home"}],
               ENT: {"employeeNumber":"701984","department":"Sales","manager":{"value":"m-1"}}}),
        json!({"userName":"Adam","name":{"familyName":"O'Malley","givenName":"Adam"},"userType":"Intern","active":false,
               "emails":[{"value":"adam@example.org","type":"work"}]}),
        json!({"userName":"carol","name":{"familyName":"cole"},"title":"CTO","userType":"Employee",
               "emails":[{"value":"carol@EXAMPLE.com","type":"home"}], ENT: {"employeeNumber":"42"}}),
        json!({"userName":"dave","userType":"Contractor","active":true}),
    ];
    let mut ids = Vec::new();
    for u in users {
        let r = app.post("/scim/v2/Users", u).await;
        assert_eq!(r.status, 201, "{}", r.raw);
        ids.push(r.body["id"].as_str().expect("id").to_owned());
    }
    ids
}

fn names(v: &Value) -> Vec<String> {
    v["Resources"]
        .as_array()
        .expect("Resources")
        .iter()
        .map(|u| u["userName"].as_str().unwrap_or("?").to_owned())
        .collect()
}

async fn filter(app: &TestApp, f: &str) -> Vec<String> {
    let r = app.get(&format!("/scim/v2/Users?filter={}", enc(f))).await;
    let mut n = names(r.ok());
    n.sort();
    n
}

#[rocket::async_test]
async fn rfc_filter_examples_select_the_right_users() {
    let app = TestApp::new().await;
    seed(&app).await;
    let cases: &[(&str, &[&str])] = &[
        ("userName eq \"BJENSEN\"", &["bjensen"]),
        ("name.familyName co \"O'Malley\"", &["Adam"]),
        ("userName sw \"B\"", &["bjensen"]),
        ("userName ew \"OL\"", &["carol"]),
        (
            "urn:ietf:params:scim:schemas:core:2.0:User:userName sw \"c\"",
            &["carol"],
        ),
        ("title pr", &["bjensen", "carol"]),
        (
            "title pr and userType eq \"Employee\"",
            &["bjensen", "carol"],
        ),
        (
            "title pr or userType eq \"Intern\"",
            &["Adam", "bjensen", "carol"],
        ),
        (
            "userType eq \"Employee\" and (emails co \"example.com\" or emails.value co \"example.org\")",
            &["bjensen", "carol"],
        ),
        (
            "userType ne \"Employee\" and not (emails co \"example.com\" or emails.value co \"example.org\")",
            &["dave"],
        ),
        (
            "userType eq \"Employee\" and emails[type eq \"work\" and value co \"@example.com\"]",
            &["bjensen"],
        ),
        (
            "emails[type eq \"work\"].value eq \"adam@example.org\"",
            &["Adam"],
        ),
        ("emails.type eq \"home\"", &["bjensen", "carol"]),
        ("active eq false", &["Adam"]),
        ("active eq \"True\"", &["dave"]),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq \"701984\"",
            &["bjensen"],
        ),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq \"m-1\"",
            &["bjensen"],
        ),
        (
            "schemas eq \"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\"",
            &["bjensen", "carol"],
        ),
        (
            "meta.created gt \"2000-01-01T00:00:00Z\" and userName eq \"dave\"",
            &["dave"],
        ),
        ("meta.lastModified lt \"2000-01-01T00:00:00Z\"", &[]),
        (
            "userName eq \"x\" or userName eq \"carol\" and title eq \"CTO\"",
            &["carol"],
        ),
        (
            "(userName eq \"x\" or userName eq \"carol\") and title eq \"nope\"",
            &[],
        ),
    ];
    for (f, want) in cases {
        assert_eq!(
            filter(&app, f).await,
            want.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>(),
            "filter: {f}"
        );
    }
}

#[rocket::async_test]
async fn schemas_filter_and_unknown_attributes() {
    let app = TestApp::new().await;
    seed(&app).await;
    let r = app
        .get(&format!(
            "/scim/v2/Users?filter={}",
            enc("a pr or userName eq \"dave\"")
        ))
        .await;
    assert!(r.assert_error(400, Some("invalidFilter")).contains("\"a\""));
}

#[rocket::async_test]
async fn sorting_is_case_insensitive_and_stable() {
    let app = TestApp::new().await;
    seed(&app).await;
    let asc = app.get("/scim/v2/Users?sortBy=userName").await;
    assert_eq!(names(asc.ok()), ["Adam", "bjensen", "carol", "dave"]);
    let desc = app
        .get("/scim/v2/Users?sortBy=userName&sortOrder=descending")
        .await;
    assert_eq!(names(desc.ok()), ["dave", "carol", "bjensen", "Adam"]);
    // Unassigned values sort last ascending.
    let by_title = app.get("/scim/v2/Users?sortBy=title").await;
    assert_eq!(names(by_title.ok())[..2], ["carol", "bjensen"]);
    let by_email = app.get("/scim/v2/Users?sortBy=emails").await;
    assert_eq!(names(by_email.ok()), ["Adam", "bjensen", "carol", "dave"]);
    app.get("/scim/v2/Users?sortBy=name")
        .await
        .assert_error(400, Some("invalidValue"));
    app.get("/scim/v2/Users?sortOrder=sideways")
        .await
        .assert_error(400, Some("invalidValue"));
}

#[rocket::async_test]
async fn projection_on_get_list_and_writes() {
    let app = TestApp::new().await;
    let ids = seed(&app).await;
    let r = app
        .get(&format!(
            "/scim/v2/Users/{}?attributes=userName,name.givenName",
            ids[0]
        ))
        .await;
    let keys: Vec<&String> = r.ok().as_object().expect("object").keys().collect();
    assert_eq!(keys, ["schemas", "id", "userName", "name", "meta"]);
    assert_eq!(r.body["name"], json!({"givenName":"Barbara"}));
    assert_eq!(r.body["meta"], json!({"resourceType":"User"}));
    let r = app
        .get(&format!(
            "/scim/v2/Users?excludedAttributes=emails,{ENT}&filter={}",
            enc("userName eq \"bjensen\"")
        ))
        .await;
    let u = &r.ok()["Resources"][0];
    assert!(u.get("emails").is_none() && u.get(ENT).is_none() && u.get("title").is_some());
    let r = app
        .post("/scim/v2/Users?attributes=id", json!({"userName":"proj"}))
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.body.as_object().map(|o| o.len()), Some(3), "{}", r.raw);
    app.get("/scim/v2/Users?attributes=shoeSize")
        .await
        .assert_error(400, Some("invalidValue"));
}

#[rocket::async_test]
async fn search_endpoints_match_get() {
    let app = TestApp::new().await;
    seed(&app).await;
    app.create_group("Sales").await;
    let body = json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter":"userType eq \"Employee\"","sortBy":"userName","sortOrder":"descending","attributes":["userName"],"startIndex":1,"count":10});
    let r = app.post("/scim/v2/Users/.search", body).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(names(&r.body), ["carol", "bjensen"]);
    let all = app
        .post("/scim/v2/.search", json!({"startIndex": 1, "count": 100}))
        .await;
    assert_eq!(all.ok()["totalResults"], json!(5));
    let types: Vec<&str> = all.body["Resources"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|r| r["meta"]["resourceType"].as_str())
        .collect();
    assert_eq!(types, ["User", "User", "User", "User", "Group"]);
    // Paging runs across resource types.
    let page = app
        .post("/scim/v2/.search", json!({"startIndex": 4, "count": 2}))
        .await;
    let types: Vec<&str> = page.body["Resources"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|r| r["meta"]["resourceType"].as_str())
        .collect();
    assert_eq!(types, ["User", "Group"]);
    // A filter only Groups can answer leaves Users out instead of failing.
    let groups = app
        .post(
            "/scim/v2/.search",
            json!({"filter": "members pr or displayName eq \"Sales\""}),
        )
        .await;
    assert_eq!(groups.ok()["totalResults"], json!(1));
    app.post("/scim/v2/.search", json!({"filter": "shoeSize eq 1"}))
        .await
        .assert_error(400, Some("invalidFilter"));
    app.post("/scim/v2/Users/.search", json!({"count": "many"}))
        .await
        .assert_error(400, Some("invalidValue"));
}

#[rocket::async_test]
async fn count_is_capped_at_max_results() {
    let app = TestApp::with(|c| c.limits.max_results = 2).await;
    seed(&app).await;
    let r = app.get("/scim/v2/Users?count=50").await;
    assert_eq!(r.ok()["itemsPerPage"], json!(2));
    assert_eq!(r.body["totalResults"], json!(4));
    let none = app.get("/scim/v2/Users?count=0").await;
    assert_eq!(none.ok()["Resources"], json!([]));
    assert_eq!(none.body["totalResults"], json!(4));
}
