//! Acceptance (issue 6): no token secret or admin password appears in the server's log (at
//! debug level), in a response after creation, or anywhere in the database files. The one
//! exception is the first-start line that prints the generated admin password, exactly once.

use serde_json::{Value, json};

use crate::server::scimd;

/// (status, Set-Cookie, body) whatever the status.
fn call(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> (u16, Option<String>, String) {
    let mut req = ureq::request(method, url);
    for (k, v) in headers {
        req = req.set(k, v);
    }
    let res = match body {
        Some(b) => req
            .set("Content-Type", "application/json")
            .send_string(&b.to_string()),
        None => req.call(),
    };
    let res = match res {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {url}: {e}"),
    };
    let cookie = res.header("set-cookie").map(str::to_owned);
    (res.status(), cookie, res.into_string().expect("body"))
}

fn count(haystack: &[u8], needle: &str) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle.as_bytes())
        .count()
}

#[test]
fn secrets_never_reach_the_log_responses_or_database() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = crate::server::start_logged(dir.path(), crate::server::free_port(), "debug");
    let b = server.base.clone();
    let log = || std::fs::read(dir.path().join("server.log")).expect("log");
    let first = String::from_utf8_lossy(&log()).into_owned();
    let password_file = dir.path().join("scimd-initial-admin-password");
    assert!(
        first.contains(&password_file.display().to_string()),
        "first start says where the password is: {first}"
    );
    let password = std::fs::read_to_string(&password_file)
        .expect("first start writes the generated password to a file")
        .trim()
        .to_owned();
    assert!(password.len() >= 16, "{password}");

    // Sign in (after one failed attempt), create a tenant and a token through the API.
    let bad = json!({"username": "admin", "password": format!("{password}x")});
    assert_eq!(
        call("POST", &format!("{b}/api/session"), &[], Some(&bad)).0,
        401
    );
    let creds = json!({"username": "admin", "password": password});
    let (status, cookie, body) = call("POST", &format!("{b}/api/session"), &[], Some(&creds));
    assert_eq!(status, 200, "{body}");
    assert!(
        !body.contains(&password),
        "the sign-in response does not echo the password"
    );
    let cookie = cookie.expect("cookie");
    let cookie = cookie.split(';').next().expect("cookie pair").to_owned();
    let session: Value = serde_json::from_str(&body).expect("json");
    let csrf = session["csrf_token"].as_str().expect("csrf").to_owned();
    let auth = [("Cookie", cookie.as_str()), ("X-CSRF-Token", csrf.as_str())];
    let (status, _, _) = call(
        "POST",
        &format!("{b}/api/tenants"),
        &auth,
        Some(&json!({"slug": "acme"})),
    );
    assert_eq!(status, 201);
    let (status, _, body) = call(
        "POST",
        &format!("{b}/api/tenants/default/tokens"),
        &auth,
        Some(&json!({"name": "okta"})),
    );
    assert_eq!(status, 201, "{body}");
    let created: Value = serde_json::from_str(&body).expect("json");
    let api_secret = created["secret"].as_str().expect("secret").to_owned();
    // And one from the CLI against the same database.
    let out = scimd(dir.path())
        .args(["token", "create", "--name", "entra", "--tenant", "acme"])
        .env("RUST_LOG", "debug")
        .output()
        .expect("token create");
    let cli_secret = String::from_utf8(out.stdout)
        .expect("utf8")
        .trim()
        .to_owned();
    assert!(cli_secret.starts_with("scim_"));
    assert_eq!(
        count(&out.stderr, &cli_secret),
        0,
        "the CLI's log lines do not hold the secret"
    );

    // Good and bad SCIM requests, including each secret on the wrong tenant and mangled.
    for (secret, right, wrong) in [
        (&api_secret, "/scim/v2", "/t/acme/scim/v2"),
        (&cli_secret, "/t/acme/scim/v2", "/scim/v2"),
    ] {
        let bearer = format!("Bearer {secret}");
        let h = [("Authorization", bearer.as_str())];
        assert_eq!(call("GET", &format!("{b}{right}/Users"), &h, None).0, 200);
        let (status, _, body) = call(
            "POST",
            &format!("{b}{right}/Users"),
            &h,
            Some(&json!({"userName": format!("u{}", &secret[5..9])})),
        );
        assert_eq!(status, 201, "{body}");
        let (status, _, body) = call("GET", &format!("{b}{wrong}/Users"), &h, None);
        assert_eq!(status, 401);
        assert!(!body.contains(secret.as_str()));
        // Change the last character to one it is not, so the token is always wrong.
        let last = if secret.ends_with('0') { '1' } else { '0' };
        let mangled = format!("Bearer {}{last}", &secret[..secret.len() - 1]);
        let (status, _, body) = call(
            "GET",
            &format!("{b}{right}/Users"),
            &[("Authorization", &mangled)],
            None,
        );
        assert_eq!(status, 401);
        assert!(!body.contains(&secret[5..]));
        let raw = [("Authorization", secret.as_str())];
        assert_eq!(call("GET", &format!("{b}{right}/Users"), &raw, None).0, 401);
    }
    // Listings never show a secret again.
    for path in ["/api/tenants/default/tokens", "/api/tenants/acme/tokens"] {
        let (status, _, body) = call("GET", &format!("{b}{path}"), &auth, None);
        assert_eq!(status, 200);
        assert!(
            !body.contains(&api_secret) && !body.contains(&cli_secret),
            "{body}"
        );
    }
    let (_, _, me) = call("GET", &format!("{b}/api/session"), &auth, None);
    assert!(!me.contains(&password));
    drop(server);

    let log = log();
    assert!(
        String::from_utf8_lossy(&log).contains("DEBUG"),
        "the log was captured at debug level"
    );
    // Issue 19 item 11: the first password goes to its file, never to stderr (journald,
    // container logs); the file is gone after the first sign-in as admin.
    assert_eq!(count(&log, &password), 0, "the password is not in the log");
    assert!(
        !password_file.exists(),
        "the password file is removed at the first sign-in"
    );
    let stdout = std::fs::read(dir.path().join("server.out")).expect("stdout");
    // Both databases (scimd.db and the request log's scimd-log.db), with WAL and shm files.
    let mut db = Vec::new();
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir.path()).expect("dir") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.starts_with("scimd") && name.contains(".db") {
            db.extend(std::fs::read(&path).expect("db file"));
            files.push(name);
        }
    }
    assert!(
        files.iter().any(|f| f.starts_with("scimd-log.db")),
        "the request log's file was read: {files:?}"
    );
    assert!(db.len() > 4096, "the database files were read");
    for secret in [&api_secret, &cli_secret] {
        // The hex part alone too, in case something strips the prefix.
        for needle in [secret.as_str(), &secret[5..]] {
            assert_eq!(
                count(&log, needle),
                0,
                "secret in the log: {}",
                String::from_utf8_lossy(&log)
                    .lines()
                    .filter(|l| l.contains(needle))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
            assert_eq!(count(&stdout, needle), 0, "secret on the server's stdout");
            assert_eq!(count(&db, needle), 0, "secret in the database");
        }
    }
    assert_eq!(count(&db, &password), 0, "password in the database");
    assert_eq!(count(&stdout, &password), 0);
}

/// Review item 8: for generated PATCH bodies (paths with stray spaces, other cases, URN
/// forms, duplicate `path` members spelled differently, path-less values), a value that the
/// PATCH engine stored as the user's password never appears in the database files or their
/// WAL, request log included. The oracle is the server itself: the stored password hash
/// changed.
mod patch_passwords {
    use proptest::prelude::*;
    use serde_json::{Map, Value, json};

    use crate::common::TestApp;

    const TARGETS: &[&str] = &[
        "password",
        " password",
        "password ",
        "PassWord",
        "urn:ietf:params:scim:schemas:core:2.0:User:password",
        " urn:ietf:params:scim:schemas:core:2.0:User:PASSWORD ",
        "displayName",
        "name.givenName",
        "passwords",
        "password.value",
    ];

    fn target() -> impl Strategy<Value = String> {
        prop::sample::select(TARGETS).prop_map(str::to_owned)
    }

    fn key(name: &'static str) -> impl Strategy<Value = String> {
        prop::sample::select(vec![
            name.to_owned(),
            name.to_uppercase(),
            format!("{}{}", name[..1].to_uppercase(), &name[1..]),
        ])
    }

    /// Stands for the secret in a generated operation; each case puts a fresh value there.
    const SECRET: &str = "@secret@";

    /// One operation carrying [`SECRET`]: with one or two `path` members, or path-less.
    fn operation() -> impl Strategy<Value = Value> {
        let op = prop::sample::select(vec!["replace", "Replace", "add"]);
        let with_paths = (
            op.clone(),
            key("path"),
            target(),
            prop::option::of((key("path"), target())),
            key("value"),
        )
            .prop_map(|(op, k1, t1, second, kv)| {
                let mut m = Map::new();
                m.insert("op".into(), json!(op));
                m.insert(k1, json!(t1));
                if let Some((k2, t2)) = second {
                    m.insert(k2, json!(t2));
                }
                m.insert(kv, json!(SECRET));
                Value::Object(m)
            });
        let pathless = (op, target(), key("value")).prop_map(|(op, t, kv)| {
            let mut value = Map::new();
            value.insert(t, json!(SECRET));
            json!({"op": op, kv: Value::Object(value)})
        });
        prop_oneof![with_paths, pathless]
    }

    fn database_bytes(app: &TestApp) -> Vec<u8> {
        let dir = app
            .app()
            .config
            .database
            .parent()
            .expect("database directory")
            .to_owned();
        let mut bytes = Vec::new();
        for entry in std::fs::read_dir(dir).expect("dir") {
            let path = entry.expect("entry").path();
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            if name.is_some_and(|n| n.starts_with("scimd") && n.contains(".db")) {
                bytes.extend(std::fs::read(&path).expect("db file"));
            }
        }
        bytes
    }

    fn contains(haystack: &[u8], needle: &str) -> bool {
        haystack
            .windows(needle.len())
            .any(|w| w == needle.as_bytes())
    }

    #[test]
    fn a_password_the_engine_stores_never_reaches_a_database_file() {
        let rt = rocket::tokio::runtime::Runtime::new().expect("runtime");
        let app = rt.block_on(TestApp::new());
        let id = rt.block_on(app.create_user("pw@example.com"));
        let hash_of = |app: &TestApp| {
            app.sql_text(&format!(
                "SELECT coalesce(password_hash, '') FROM resources WHERE id = '{id}'"
            ))
        };
        let config = ProptestConfig {
            cases: 48,
            failure_persistence: None,
            ..ProptestConfig::default()
        };
        let stored = std::cell::Cell::new(0);
        let case = std::cell::Cell::new(0u32);
        proptest!(config, |(templates in prop::collection::vec(operation(), 1..3))| {
            case.set(case.get() + 1);
            let mut secrets = Vec::new();
            let operations: Vec<Value> = templates
                .iter()
                .enumerate()
                .map(|(i, op)| {
                    let secret = format!("Zq{}n{i}Secret", case.get());
                    let text = op.to_string().replace(SECRET, &secret);
                    secrets.push(secret);
                    serde_json::from_str(&text).expect("json")
                })
                .collect();
            let before = hash_of(&app);
            let body = json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": operations,
            });
            let reply = rt.block_on(app.patch(&format!("/scim/v2/Users/{id}"), body));
            prop_assert!(reply.status < 500, "{}", reply.raw);
            let after = hash_of(&app);
            if after != before {
                // The one value the stored hash verifies is the password the engine stored.
                let password = secrets
                    .iter()
                    .find(|s| scimd::service::passwords::verify(s, &after))
                    .expect("the new hash is one of the sent values");
                stored.set(stored.get() + 1);
                rt.block_on(crate::request_log::flush(&app));
                let bytes = database_bytes(&app);
                prop_assert!(!contains(&bytes, password), "{password} is in a database file");
            }
        });
        let stored = stored.get();
        assert!(stored > 5, "only {stored} cases changed the password");
    }
}
