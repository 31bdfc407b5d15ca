//! The real `scimd` binary as a child process on a free loopback port, for the tests that need
//! a process boundary (signals, TLS, backups, restarts), each run in a temporary working
//! directory that holds its database. Dropping a `Server` kills it, so a failing test leaves
//! no process behind.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::okta_user;

/// A running scimd.
pub struct Server {
    pub child: Child,
    pub base: String,
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// Two distinct ports that were free a moment ago (held together while chosen).
pub fn free_ports() -> (u16, u16) {
    let bind = || TcpListener::bind("127.0.0.1:0").expect("bind");
    let (a, b) = (bind(), bind());
    let port = |l: &TcpListener| l.local_addr().expect("addr").port();
    (port(&a), port(&b))
}

/// `scimd` run in `dir`, with no `SCIMD_*` or `RUST_LOG` inherited from the test's environment
/// and no configuration file: on a machine where scimd is installed, the default
/// `/etc/scimd/scimd.toml` would point the tests at the real database. A test's own `--config`
/// still wins.
pub fn scimd(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_scimd"));
    c.current_dir(dir).env_remove("RUST_LOG");
    for (k, _) in std::env::vars() {
        if k.starts_with("SCIMD_") {
            c.env_remove(k);
        }
    }
    c.env("SCIMD_CONFIG", "/dev/null");
    // Tests flood on purpose; a new install's per-token rate limit has its own tests
    // (tests/it/secure_defaults.rs), which remove this.
    c.env("SCIMD_LIMITS__REQUESTS_PER_SECOND", "0");
    c
}

/// Starts `scimd serve` over plain HTTP in `dir` (database `dir/scimd.db`) on `port`.
pub fn start(dir: &Path, port: u16) -> Server {
    start_on(dir, port, &[])
}

/// [`start`] on a free port with extra `SCIMD_*` settings.
pub fn start_with(dir: &Path, env: &[(&str, &str)]) -> Server {
    start_on(dir, free_port(), env)
}

fn start_on(dir: &Path, port: u16, env: &[(&str, &str)]) -> Server {
    let mut cmd = scimd(dir);
    cmd.arg("serve").env("SCIMD_PORT", port.to_string());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let base = format!("http://127.0.0.1:{port}");
    let probe = {
        let base = base.clone();
        move || ureq::get(&format!("{base}/healthz")).call().is_ok()
    };
    spawn(cmd, base, probe)
}

/// `scimd serve` with an `[admin]` listener (issue 20 item 2): the public listener on a free
/// port (the returned server's `base`), the admin one on another, with extra `SCIMD_*`
/// settings and stderr in `dir/server.log`; ready once both answer. Returns the admin
/// listener's base too.
pub fn start_split(dir: &Path, env: &[(&str, &str)]) -> (Server, String) {
    let (port, admin_port) = free_ports();
    let log = std::fs::File::create(dir.join("server.log")).expect("log file");
    let mut cmd = scimd(dir);
    cmd.arg("serve")
        .env("SCIMD_PORT", port.to_string())
        .env("SCIMD_ADMIN__PORT", admin_port.to_string())
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(log);
    let base = format!("http://127.0.0.1:{port}");
    let admin = format!("http://127.0.0.1:{admin_port}");
    let probe = {
        let (base, admin) = (base.clone(), admin.clone());
        move || {
            ureq::get(&format!("{base}/healthz")).call().is_ok()
                && ureq::get(&format!("{admin}/ui/instance.json"))
                    .call()
                    .is_ok()
        }
    };
    (spawn_with_output(cmd, base, probe), admin)
}

/// `scimd admin reset-password` in `dir`; returns the new password (printed alone on stdout).
pub fn reset_password(dir: &Path, username: &str) -> String {
    let out = scimd(dir)
        .args(["admin", "reset-password", username])
        .output()
        .expect("reset-password");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_owned()
}

/// Like [`start`], with stdout in `dir/server.out` and the log (stderr) in `dir/server.log`.
pub fn start_logged(dir: &Path, port: u16, rust_log: &str) -> Server {
    let mut cmd = scimd(dir);
    let file = |name: &str| std::fs::File::create(dir.join(name)).expect("log file");
    cmd.arg("serve")
        .env("SCIMD_PORT", port.to_string())
        .env("RUST_LOG", rust_log)
        .stdout(file("server.out"))
        .stderr(file("server.log"));
    let base = format!("http://127.0.0.1:{port}");
    let probe = {
        let base = base.clone();
        move || ureq::get(&format!("{base}/healthz")).call().is_ok()
    };
    spawn_with_output(cmd, base, probe)
}

/// Spawns `cmd` and waits (bounded) until `ready` answers true.
pub fn spawn(mut cmd: Command, base: String, ready: impl Fn() -> bool) -> Server {
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    spawn_with_output(cmd, base, ready)
}

/// [`spawn`] keeping whatever stdout and stderr `cmd` was given.
pub fn spawn_with_output(mut cmd: Command, base: String, ready: impl Fn() -> bool) -> Server {
    let child = cmd.spawn().expect("spawn scimd");
    let mut server = Server { child, base };
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if ready() {
            return server;
        }
        if let Ok(Some(status)) = server.child.try_wait() {
            panic!("scimd exited during start-up: {status}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    server.kill();
    panic!("scimd did not start within 20 s");
}

/// Creates a token for the `default` tenant with the CLI and returns it.
pub fn token(dir: &Path) -> String {
    cli_token(dir, &["--name", "load"])
}

/// An events token (`scimd token create --events`) for the default tenant.
pub fn events_token(dir: &Path) -> String {
    cli_token(dir, &["--name", "app", "--events"])
}

/// `scimd token create ARGS`: the secret it prints.
fn cli_token(dir: &Path, args: &[&str]) -> String {
    let out = scimd(dir)
        .args(["token", "create"])
        .args(args)
        .output()
        .expect("token");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf8")
        .trim()
        .to_owned()
}

/// POSTs one Okta-style user; `Some(id)` only for a 201.
pub fn create_user(base: &str, token: &str, user_name: &str) -> Option<String> {
    let res = ureq::post(&format!("{base}/scim/v2/Users"))
        .set("Authorization", &format!("Bearer {token}"))
        .set("Content-Type", "application/scim+json")
        .timeout(Duration::from_secs(5))
        .send_string(&okta_user(user_name).to_string());
    match res {
        Ok(r) if r.status() == 201 => {
            let v: serde_json::Value =
                serde_json::from_str(&r.into_string().expect("body")).expect("json");
            Some(v["id"].as_str().expect("id").to_owned())
        }
        _ => None,
    }
}

/// Whether `GET /Users/{id}` answers 200.
pub fn user_exists(base: &str, token: &str, id: &str) -> bool {
    ureq::get(&format!("{base}/scim/v2/Users/{id}"))
        .set("Authorization", &format!("Bearer {token}"))
        .call()
        .is_ok_and(|r| r.status() == 200)
}

/// Waits until `n` creates were acknowledged. The bound is generous because the whole suite
/// shares two cores with other builds; it ends as soon as the count is reached.
/// Four threads creating users (`w<worker>-<i>@<domain>`) against `base` until the server
/// refuses; each acknowledged id is pushed to the returned list. Join the handles.
pub fn create_load(
    base: &str,
    token: &str,
    domain: &str,
) -> (Arc<Mutex<Vec<String>>>, Vec<std::thread::JoinHandle<()>>) {
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let workers = (0..4)
        .map(|w| {
            let (acked, base, token) = (acked.clone(), base.to_owned(), token.to_owned());
            let domain = domain.to_owned();
            std::thread::spawn(move || {
                for i in 0..10_000 {
                    match create_user(&base, &token, &format!("w{w}-{i}@{domain}")) {
                        Some(id) => acked.lock().expect("lock").push(id),
                        // Refused once the server stops accepting: this worker is done.
                        None => return,
                    }
                }
            })
        })
        .collect();
    (acked, workers)
}

pub fn wait_for_acks(acked: &Mutex<Vec<String>>, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while acked.lock().expect("lock").len() < n && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
}

impl Server {
    /// Sends SIGTERM (what systemd and container runtimes send) and waits, bounded, for exit.
    pub fn terminate(&mut self) -> ExitStatus {
        // `kill(1)` rather than libc: the crate forbids unsafe code, tests included.
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -TERM failed");
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill();
        panic!("scimd did not exit within 15 s of SIGTERM");
    }

    /// SIGKILL and reap.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}
