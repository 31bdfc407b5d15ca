//! Property tests through the real HTTP stack: random and mutated filters, PATCH bodies and
//! resource bodies never panic and never produce a 5xx; every rejection is a SCIM error, and a
//! rejected PATCH leaves the user exactly as it was. PROPTEST_CASES scales the run (see
//! README: 100,000 cases per property for the long run).

use proptest::prelude::*;
use rocket::http::{ContentType, Header};
use rocket::local::blocking::Client;
use serde_json::{Value, json};

use scimd::config::Config;
use scimd::http::App;
use scimd::service::tokens::{self, NewToken};

struct Fixture {
    client: Client,
    bearer: String,
    user_path: String,
    _dir: tempfile::TempDir,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = Config {
        database: dir.path().join("fuzz.db"),
        ..Config::default()
    };
    // Thousands of cases as fast as they run: without a new install's per-token rate limit.
    config.limits.requests_per_second = Some(0);
    let client = Client::tracked(scimd::rocket(config)).expect("rocket");
    let app = client.rocket().state::<App>().expect("app");
    let secret = tokens::issue(
        &app.store,
        &NewToken {
            tenant_slug: "default",
            name: "fuzz",
            read_only: false,
            kind: Default::default(),
            expires_in: None,
            allowed_addresses: Vec::new(),
        },
    )
    .expect("token")
    .secret;
    let bearer = format!("Bearer {secret}");
    let body = json!({"userName":"fuzz","name":{"givenName":"F"},"emails":[{"value":"f@x.test","type":"work","primary":true}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"1","manager":{"value":"m"}}});
    let created = client
        .post("/scim/v2/Users")
        .header(Header::new("Authorization", bearer.clone()))
        .header(ContentType::JSON)
        .body(body.to_string())
        .dispatch();
    assert_eq!(created.status().code, 201);
    let id = created
        .into_json::<Value>()
        .and_then(|v| v["id"].as_str().map(str::to_owned))
        .expect("id");
    Fixture {
        client,
        bearer,
        user_path: format!("/scim/v2/Users/{id}"),
        _dir: dir,
    }
}

thread_local! {
    static FIXTURE: Fixture = fixture();
}

/// Sends a request and checks the universal contract; returns (status, body).
fn send(f: &Fixture, method: &str, path: &str, body: Option<String>) -> (u16, Value) {
    let mut req = match method {
        "GET" => f.client.get(path.to_owned()),
        "POST" => f.client.post(path.to_owned()),
        "PUT" => f.client.put(path.to_owned()),
        _ => f.client.patch(path.to_owned()),
    }
    .header(Header::new("Authorization", f.bearer.clone()))
    .header(ContentType::new("application", "scim+json"));
    if let Some(b) = body {
        req = req.body(b);
    }
    let res = req.dispatch();
    let status = res.status().code;
    let text = res.into_string().unwrap_or_default();
    let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    assert!(status < 500, "{method} {path}: {status} {text}");
    if status >= 400 {
        assert_eq!(
            value["schemas"][0],
            json!("urn:ietf:params:scim:api:messages:2.0:Error"),
            "{text}"
        );
        assert!(
            value["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{text}"
        );
    }
    (status, value)
}

const FILTER_SEEDS: &[&str] = &[
    "userName eq \"bjensen\"",
    "name.familyName co \"O'Malley\"",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq \"m\"",
    "emails[type eq \"work\" and value co \"@x\"] or not (title pr)",
    "meta.lastModified gt \"2011-05-13T04:42:34Z\" and active eq true",
    "emails[type eq \"work\"].value eq \"f@x.test\"",
    "userType ne \"Employee\" and not (emails co \"example.com\" or emails.value co \"example.org\")",
];

const PATH_FRAGMENTS: &[&str] = &[
    "active",
    "displayName",
    "name.givenName",
    "name",
    "emails",
    "emails[type eq \"work\"].value",
    "emails[value eq \"f@x.test\"]",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    "userName",
    "id",
    "meta.created",
    "groups",
    "password",
    "x509Certificates",
    "phoneNumbers[type eq \"mobile\"]",
    "emails[",
    "]",
    "nope",
];

fn mutate(seed: &str, edits: &[(usize, u8, char)]) -> String {
    let mut chars: Vec<char> = seed.chars().collect();
    for &(at, kind, c) in edits {
        let i = if chars.is_empty() {
            0
        } else {
            at % (chars.len() + 1)
        };
        match kind % 3 {
            0 => chars.insert(i, c),
            1 if i < chars.len() => {
                chars.remove(i);
            }
            _ if i < chars.len() => chars[i] = c,
            _ => chars.push(c),
        }
    }
    chars.into_iter().collect()
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "[a-zA-Z@. \"]{0,12}".prop_map(Value::String),
        prop::sample::select(&["True", "False", "", "work", "f@x.test", "m"][..])
            .prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(
                    &[
                        "value",
                        "type",
                        "primary",
                        "givenName",
                        "active",
                        "display",
                        "$ref",
                        "x"
                    ][..]
                )
                .prop_map(str::to_owned),
                inner,
                0..3
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn operation() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(
            &[
                "add", "Add", "replace", "Replace", "remove", "REMOVE", "move", "",
            ][..],
        ),
        prop::option::of(prop::sample::select(PATH_FRAGMENTS)),
        prop::option::of(json_value()),
    )
        .prop_map(|(op, path, value)| {
            let mut o = serde_json::Map::new();
            o.insert("op".into(), json!(op));
            if let Some(p) = path {
                o.insert("path".into(), json!(p));
            }
            if let Some(v) = value {
                o.insert("value".into(), v);
            }
            Value::Object(o)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn mutated_filters_never_fail_the_server(seed in prop::sample::select(FILTER_SEEDS), edits in prop::collection::vec((any::<usize>(), any::<u8>(), any::<char>()), 0..6)) {
        let filter = mutate(seed, &edits);
        let encoded = percent_encoding::utf8_percent_encode(&filter, percent_encoding::NON_ALPHANUMERIC).to_string();
        FIXTURE.with(|f| {
            let (status, body) = send(f, "GET", &format!("/scim/v2/Users?filter={encoded}"), None);
            assert!(status == 200 || body["scimType"] == json!("invalidFilter"), "{filter:?}: {body}");
            send(f, "POST", "/scim/v2/Users/.search", Some(json!({"filter": filter}).to_string()));
        });
    }

    #[test]
    fn random_patch_bodies_are_atomic_and_never_fail_the_server(ops in prop::collection::vec(operation(), 0..4), schemas in any::<bool>()) {
        let mut body = json!({"Operations": ops});
        if schemas {
            body["schemas"] = json!(["urn:ietf:params:scim:api:messages:2.0:PatchOp"]);
        }
        FIXTURE.with(|f| {
            let (_, before) = send(f, "GET", &f.user_path, None);
            let (status, _) = send(f, "PATCH", &f.user_path, Some(body.to_string()));
            let (_, after) = send(f, "GET", &f.user_path, None);
            if status >= 400 {
                assert_eq!(before, after, "a rejected PATCH changed the user: {body}");
            }
            // Keep the fixture usable: restore the user for the next case.
            if after["userName"] != json!("fuzz") || status < 400 {
                let restore = json!({"userName":"fuzz","name":{"givenName":"F"},"emails":[{"value":"f@x.test","type":"work","primary":true}],
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"1","manager":{"value":"m"}}});
                let (s, _) = send(f, "PUT", &f.user_path, Some(restore.to_string()));
                assert_eq!(s, 200);
            }
        });
    }

    #[test]
    fn random_resource_bodies_never_fail_the_server(body in json_value(), raw in "[{}\\[\\]\":,a-z0-9 ]{0,40}") {
        FIXTURE.with(|f| {
            send(f, "POST", "/scim/v2/Users", Some(body.to_string()));
            send(f, "POST", "/scim/v2/Users", Some(raw.clone()));
            send(f, "PUT", &f.user_path, Some(raw.clone()));
        });
    }
}
