//! The binary's command line: token capture, version, configuration errors.

use crate::server::{free_port, scimd, start_logged};

/// The default log (RUST_LOG unset, or set but empty as systemd and shells often leave it)
/// holds scimd's own lines, not one line per request: the request log records requests.
#[test]
fn the_default_log_has_no_line_per_request() {
    for rust_log in ["", " "] {
        let dir = tempfile::tempdir().expect("tempdir");
        let server = start_logged(dir.path(), free_port(), rust_log);
        for _ in 0..3 {
            let _ = ureq::get(&format!("{}/scim/v2/Users", server.base)).call();
        }
        drop(server);
        let log = std::fs::read_to_string(dir.path().join("server.log")).expect("log");
        assert!(
            !log.contains("/scim/v2/Users"),
            "RUST_LOG={rust_log:?}: {log}"
        );
        assert!(!log.contains("Matched"), "RUST_LOG={rust_log:?}: {log}");
    }
}

#[test]
fn token_create_prints_only_the_token_on_stdout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = scimd(dir.path())
        .args(["token", "create", "--name", "okta"])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).expect("utf8");
    let token = stdout.trim_end_matches('\n');
    assert!(
        token.starts_with("scim_") && token.len() == 69 && !token.contains(char::is_whitespace),
        "{stdout:?}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("shown only once"));
    // The database in the working directory holds only the hash.
    let db = std::fs::read(dir.path().join("scimd.db")).expect("db");
    assert!(!db.windows(token.len()).any(|w| w == token.as_bytes()));
    let list = scimd(dir.path())
        .args(["token", "list"])
        .output()
        .expect("list");
    let listed = String::from_utf8_lossy(&list.stdout);
    assert!(
        listed.contains("okta") && !listed.contains(token),
        "{listed}"
    );
    let revoke = scimd(dir.path())
        .args(["token", "revoke", "okta"])
        .output()
        .expect("revoke");
    assert!(revoke.status.success());
    let list = scimd(dir.path())
        .args(["token", "list"])
        .output()
        .expect("list");
    assert!(String::from_utf8_lossy(&list.stdout).contains("revoked"));
}

#[test]
fn version_is_printed() {
    let out = scimd(std::path::Path::new("."))
        .arg("--version")
        .output()
        .expect("run");
    assert!(String::from_utf8_lossy(&out.stdout).contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn check_config_rejects_unknown_keys_naming_key_and_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("scimd.toml");
    std::fs::write(&file, "port = 9000\n[limits]\nmax_result = 5\n").expect("write");
    let out = scimd(dir.path())
        .args(["check-config", "--config"])
        .arg(&file)
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("max_result") && err.contains("scimd.toml"),
        "{err}"
    );
    std::fs::write(&file, "port = 9000\n").expect("write");
    let out = scimd(dir.path())
        .args(["check-config", "--config"])
        .arg(&file)
        .output()
        .expect("run");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("port = 9000"));
}

#[test]
fn tenant_create_and_token_for_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = scimd(dir.path())
        .args(["tenant", "create", "Not Valid"])
        .output()
        .expect("run");
    assert!(!bad.status.success());
    let ok = scimd(dir.path())
        .args(["tenant", "create", "acme", "--display-name", "Acme"])
        .output()
        .expect("run");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let t = scimd(dir.path())
        .args([
            "token",
            "create",
            "--name",
            "okta",
            "--tenant",
            "acme",
            "--expires-in",
            "90d",
        ])
        .output()
        .expect("run");
    assert!(t.status.success(), "{}", String::from_utf8_lossy(&t.stderr));
    let missing = scimd(dir.path())
        .args(["token", "create", "--name", "okta", "--tenant", "nope"])
        .output()
        .expect("run");
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no tenant \"nope\""));
}

#[test]
fn token_rotate_prints_the_new_secret_and_list_shows_both_generations() {
    let dir = tempfile::tempdir().expect("tempdir");
    let created = scimd(dir.path())
        .args(["token", "create", "--name", "okta", "--expires-in", "90d"])
        .output()
        .expect("create");
    assert!(created.status.success());
    let old = String::from_utf8(created.stdout).expect("utf8");
    let out = scimd(dir.path())
        .args(["token", "rotate", "okta", "--overlap", "1h"])
        .output()
        .expect("rotate");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let new = String::from_utf8(out.stdout).expect("utf8");
    let new = new.trim_end_matches('\n');
    assert!(
        new.starts_with("scim_") && new.len() == 69 && new != old.trim(),
        "{new:?}"
    );
    assert!(
        stderr.contains("\"okta-2\"") && stderr.contains("keeps working until"),
        "{stderr}"
    );
    let list = scimd(dir.path())
        .args(["token", "list"])
        .output()
        .expect("list");
    let listed = String::from_utf8_lossy(&list.stdout);
    assert!(listed.contains("rotating (by okta-2"), "{listed}");
    assert!(listed.contains("okta-2") && !listed.contains(new) && !listed.contains(old.trim()));
    let bad = scimd(dir.path())
        .args(["token", "rotate", "okta", "--overlap", "soon"])
        .output()
        .expect("rotate");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("30m"));
}

#[test]
fn admin_reset_password_prints_a_new_password_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = scimd(dir.path())
        .args(["admin", "reset-password"])
        .output()
        .expect("reset");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let first = String::from_utf8(out.stdout)
        .expect("utf8")
        .trim()
        .to_owned();
    assert_eq!(first.len(), 24, "{first:?}");
    assert!(!String::from_utf8_lossy(&out.stderr).contains(&first));
    let again = scimd(dir.path())
        .args(["admin", "reset-password", "admin"])
        .output()
        .expect("reset");
    let second = String::from_utf8(again.stdout)
        .expect("utf8")
        .trim()
        .to_owned();
    assert!(second.len() == 24 && second != first);
    let db = std::fs::read(dir.path().join("scimd.db")).expect("db");
    assert!(
        !db.windows(24)
            .any(|w| w == first.as_bytes() || w == second.as_bytes())
    );
    let ghost = scimd(dir.path())
        .args(["admin", "reset-password", "ghost"])
        .output()
        .expect("reset");
    assert!(!ghost.status.success());
    let msg = String::from_utf8_lossy(&ghost.stderr);
    assert!(
        msg.contains("no admin \"ghost\"") && msg.contains("admin"),
        "{msg}"
    );
}

/// `scimd … | head` or `| grep -q` closes the pipe before scimd has written everything; that
/// ends the output, not the command (it used to panic and exit 101, failing scripts run
/// with `pipefail`). A secret shown only once is different: nobody read it, so the command
/// fails and says what was created and how to undo it.
#[test]
fn a_reader_that_stops_early_is_not_a_failure_unless_it_missed_a_secret() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run_unread = |args: &[&str]| {
        let mut child = scimd(dir.path())
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run");
        // The only read end closes before scimd can have opened its database, so its first
        // write to stdout meets a closed pipe.
        drop(child.stdout.take());
        child.wait_with_output().expect("wait")
    };
    for args in [
        &["tenant", "list"][..],
        &["check-config"],
        &["token", "list"],
    ] {
        let out = run_unread(args);
        assert!(
            out.status.success(),
            "{args:?}: {:?} {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = run_unread(&["token", "create", "--name", "unread"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("new token \"unread\"") && err.contains("scimd token revoke"),
        "{err}"
    );
}

/// `SCIMD_CONFIG` chooses the file as `--config` does (for containers and service managers
/// that set environment more easily than arguments); `--config` wins over it.
#[test]
fn scimd_config_chooses_the_file_and_config_flag_wins() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (env_file, flag_file) = (dir.path().join("env.toml"), dir.path().join("flag.toml"));
    std::fs::write(&env_file, "port = 9001\n").expect("write");
    std::fs::write(&flag_file, "port = 9002\n").expect("write");
    let port = |cmd: &mut std::process::Command| {
        let out = cmd.arg("check-config").output().expect("run");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find(|l| l.starts_with("port = "))
            .map(str::to_owned)
    };
    let by_env = port(scimd(dir.path()).env("SCIMD_CONFIG", &env_file));
    assert_eq!(by_env.as_deref(), Some("port = 9001"));
    let by_flag = port(
        scimd(dir.path())
            .env("SCIMD_CONFIG", &env_file)
            .arg("--config")
            .arg(&flag_file),
    );
    assert_eq!(by_flag.as_deref(), Some("port = 9002"));
    let missing = scimd(dir.path())
        .env("SCIMD_CONFIG", dir.path().join("nope.toml"))
        .arg("check-config")
        .output()
        .expect("run");
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("nope.toml"));
}

/// Issue 20, item 7: `check-config` prints TOML that reads back to the same configuration
/// (it printed `token = null`, which is not TOML).
#[test]
fn check_config_prints_toml_that_reads_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("scimd.toml");
    std::fs::write(
        &file,
        "port = 9100\npublic_url = \"https://scim.example.com\"\n[limits]\nmax_results = 200\n[request_log]\nenabled = false\n",
    )
    .expect("write");
    let print = |config: &std::path::Path| {
        let out = scimd(dir.path())
            // The suite's rate-limit opt-out is no part of the file compared below.
            .env_remove("SCIMD_LIMITS__REQUESTS_PER_SECOND")
            .arg("check-config")
            .arg("--config")
            .arg(config)
            .output()
            .expect("run");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    };
    let first = print(&file);
    assert!(!first.contains("null"), "{first}");
    let printed = dir.path().join("printed.toml");
    std::fs::write(&printed, &first).expect("write");
    assert_eq!(print(&printed), first, "the printed file reads back");
    let read = scimd::config::Config::from_figment(scimd::config::Config::figment(Some(&printed)))
        .expect("the printed TOML is a valid configuration");
    let original = scimd::config::Config::from_figment(scimd::config::Config::figment(Some(&file)))
        .expect("original");
    assert_eq!(read, original);
}

/// Issue 20, item 3: at the default level the service log holds a start line naming the UI, a
/// stop line and nothing else for a UI session and SCIM traffic, wrong passwords, 401s and 404s
/// included: no WARN or ERROR line for anything routine.
#[test]
fn a_ui_session_and_scim_traffic_leave_no_warning_in_the_default_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = start_logged(dir.path(), free_port(), "");
    let b = server.base.clone();
    let password = crate::server::reset_password(dir.path(), "admin");
    let status = |r: Result<ureq::Response, ureq::Error>| match r {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r.status(),
        Err(e) => panic!("{e}"),
    };
    // The UI's pages and assets, HEAD included, and its API before and after signing in.
    for path in [
        "/",
        "/ui/dashboard",
        "/ui/users",
        "/nonexistent",
        "/api/session",
        "/api/tenants",
    ] {
        status(ureq::get(&format!("{b}{path}")).call());
    }
    status(ureq::head(&format!("{b}/ui/dashboard")).call());
    let login = |password: &str| {
        ureq::post(&format!("{b}/api/session"))
            .set("Content-Type", "application/json")
            .send_string(&serde_json::json!({"username":"admin","password":password}).to_string())
            .map_err(Box::new)
    };
    assert!(matches!(
        login("wrong").map_err(|e| *e),
        Err(ureq::Error::Status(401, _))
    ));
    let session = login(&password).expect("sign in");
    let cookie = session
        .header("set-cookie")
        .and_then(|c| c.split(';').next())
        .expect("cookie")
        .to_owned();
    let csrf = serde_json::from_str::<serde_json::Value>(&session.into_string().expect("body"))
        .expect("json")["csrf_token"]
        .as_str()
        .expect("csrf")
        .to_owned();
    for path in [
        "/api/session",
        "/api/tenants",
        "/api/tenants/default/tokens",
        "/api/health",
    ] {
        status(
            ureq::get(&format!("{b}{path}"))
                .set("Cookie", &cookie)
                .call(),
        );
    }
    let token = ureq::post(&format!("{b}/api/tenants/default/tokens"))
        .set("Cookie", &cookie)
        .set("X-CSRF-Token", &csrf)
        .set("Content-Type", "application/json")
        .send_string(r#"{"name":"okta"}"#)
        .expect("token");
    let token: serde_json::Value =
        serde_json::from_str(&token.into_string().expect("body")).expect("json");
    let bearer = format!("Bearer {}", token["secret"].as_str().expect("secret"));
    // SCIM traffic, refusals included.
    let id = crate::server::create_user(
        &b,
        token["secret"].as_str().expect("secret"),
        "log@example.com",
    )
    .expect("created");
    for (method, path) in [
        ("GET", format!("/scim/v2/Users/{id}")),
        (
            "GET",
            "/scim/v2/Users?filter=userName%20eq%20%22log@example.com%22".to_owned(),
        ),
        ("GET", "/scim/v2/Users/nope".to_owned()),
        ("DELETE", format!("/scim/v2/Users/{id}")),
        ("POST", "/scim/v2/Bulk".to_owned()),
    ] {
        status(
            ureq::request(method, &format!("{b}{path}"))
                .set("Authorization", &bearer)
                .call(),
        );
    }
    status(ureq::get(&format!("{b}/scim/v2/Users")).call());
    status(
        ureq::get(&format!("{b}/scim/v2/Users"))
            .set("Authorization", "Bearer nope")
            .call(),
    );
    status(ureq::get(&format!("{b}/healthz")).call());
    status(ureq::get(&format!("{b}/metrics")).call());
    server.terminate();
    let log = std::fs::read_to_string(dir.path().join("server.log")).expect("log");
    let loud: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(" WARN ") || l.contains(" ERROR "))
        .collect();
    assert!(
        loud.is_empty(),
        "routine traffic logged warnings:\n{}",
        loud.join("\n")
    );
    assert!(log.contains("web UI at http://127.0.0.1:"), "{log}");
    assert!(log.contains("scimd stopped"), "{log}");
}

/// Issue 20, item 3: a real fault reaches the default log. The database file is cut short
/// under the running server; the next reads fail, and the log says so at ERROR.
#[test]
fn a_real_fault_is_logged_at_the_default_level() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start_logged(dir.path(), free_port(), "");
    let token = crate::server::token(dir.path());
    for i in 0..50 {
        crate::server::create_user(&server.base, &token, &format!("f{i}@example.com"));
    }
    // Checkpointed into the file, then the file is cut to its first page.
    drop(server);
    let mut server = start_logged(dir.path(), free_port(), "");
    let db = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.path().join("scimd.db"))
        .expect("open");
    db.set_len(4096).expect("truncate");
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let r = ureq::get(&format!("{}/scim/v2/Users?count=100", server.base))
            .set("Authorization", &format!("Bearer {token}"))
            .call();
        statuses.push(match r {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r.status(),
            Err(e) => panic!("{e}"),
        });
    }
    server.terminate();
    assert!(statuses.iter().any(|s| *s >= 500), "{statuses:?}");
    let log = std::fs::read_to_string(dir.path().join("server.log")).expect("log");
    assert!(
        log.lines().any(|l| l.contains(" ERROR ")),
        "the failure is in the default log:\n{log}"
    );
}

/// Issue 20, item 8: `scimd export` prints every user and group of a tenant as JSON lines,
/// as SCIM renders them (a group with its members, a user with its groups), without secrets.
#[rocket::async_test]
async fn export_prints_the_directory_as_json_lines_without_secrets() {
    let app = crate::common::TestApp::new().await;
    let mut user = crate::common::okta_user("exp@example.com");
    user["password"] = serde_json::json!("Sup3r-Secret-Pw");
    let uid = app.post("/scim/v2/Users", user).await.ok()["id"]
        .as_str()
        .expect("id")
        .to_owned();
    app.create_user("other@example.com").await;
    let group = serde_json::json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName":"exporters","members":[{"value": uid}]});
    let gid = app.post("/scim/v2/Groups", group).await.ok()["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let database = &app.app().config.database;
    let out = scimd(database.parent().expect("dir"))
        .env("SCIMD_DATABASE", database)
        .arg("export")
        .output()
        .expect("export");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert!(
        !text.contains("Sup3r-Secret-Pw") && !text.contains("argon2"),
        "{text}"
    );
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON resource per line"))
        .collect();
    assert_eq!(lines.len(), 3, "{text}");
    let by_id = |id: &str| lines.iter().find(|r| r["id"] == id).expect("exported");
    assert_eq!(by_id(&uid)["groups"][0]["value"], gid.as_str());
    assert_eq!(by_id(&gid)["members"][0]["value"], uid.as_str());
    assert_eq!(by_id(&gid)["meta"]["resourceType"], "Group");
    assert!(String::from_utf8_lossy(&out.stderr).contains("exported 2 users and 1 groups"));
    let missing = scimd(database.parent().expect("dir"))
        .env("SCIMD_DATABASE", database)
        .args(["export", "--tenant", "nope"])
        .output()
        .expect("export");
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no tenant \"nope\""));
}

/// Issue 19 item 11: the first admin password goes to a 0600 file beside the database, not to
/// stderr (which journald and container runtimes keep); `admin reset-password` removes the
/// file, since the password in it no longer works.
#[test]
fn the_first_admin_password_is_in_a_private_file_until_reset() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = crate::server::start_logged(dir.path(), crate::server::free_port(), "info");
    let file = dir.path().join("scimd-initial-admin-password");
    let password = std::fs::read_to_string(&file).expect("password file");
    let password = password.trim();
    assert_eq!(password.len(), 24, "{password:?}");
    let mode = std::fs::metadata(&file).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(server.terminate().success());
    let log = std::fs::read_to_string(dir.path().join("server.log")).expect("log");
    assert!(!log.contains(password), "{log}");
    assert!(log.contains("scimd-initial-admin-password"), "{log}");

    crate::server::reset_password(dir.path(), "admin");
    assert!(
        !file.exists(),
        "reset-password removes the stale password file"
    );
}

/// `scimd events tail` shows what applications see: the newest events in words, or their JSON;
/// with --follow, each new change as it commits.
#[test]
fn events_tail_shows_and_follows_the_feed() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().expect("tempdir");
    let token = crate::server::token(dir.path());
    let server = crate::server::start(dir.path(), free_port());
    for name in ["ada@x.test", "bob@x.test", "cy@x.test"] {
        crate::server::create_user(&server.base, &token, name).expect("created");
    }
    let tail = |args: &[&str]| {
        let out = scimd(dir.path())
            .args(["events", "tail"])
            .args(args)
            .output()
            .expect("run");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf8")
    };
    let words = tail(&["-n", "2"]);
    let lines: Vec<&str> = words.lines().collect();
    assert_eq!(lines.len(), 2, "{words}");
    assert!(
        lines[0].contains("user.created") && lines[0].contains("bob@x.test"),
        "{words}"
    );
    assert!(
        lines[1].contains("cy@x.test") && lines[1].contains("by load (other)"),
        "{words}"
    );
    let json = tail(&["--json", "--after", "0"]);
    let seqs: Vec<i64> = json
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("json")["seq"]
                .as_i64()
                .expect("seq")
        })
        .collect();
    assert_eq!(seqs, vec![1, 2, 3]);
    let missing = scimd(dir.path())
        .args(["events", "tail", "--tenant", "nope"])
        .output()
        .expect("run");
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("scimd tenant list"));

    let mut follow = scimd(dir.path())
        .args(["events", "tail", "--follow", "-n", "1"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("follow");
    let mut out = std::io::BufReader::new(follow.stdout.take().expect("stdout")).lines();
    let first = out.next().expect("a line").expect("read");
    assert!(first.contains("cy@x.test"), "{first}");
    crate::server::create_user(&server.base, &token, "dee@x.test").expect("created");
    let next = out.next().expect("a line").expect("read");
    assert!(
        next.contains("dee@x.test") && next.trim_start().starts_with('4'),
        "{next}"
    );
    follow.kill().expect("kill");
    follow.wait().expect("wait");
}
