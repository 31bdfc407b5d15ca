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
