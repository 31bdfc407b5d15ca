//! TLS (issue 9 §1): every way `[tls] certs/key` can be wrong gets its own message from
//! `scimd::tls::check`, `check-config` and `serve` report it before binding, and a real HTTPS
//! round trip against the binary with a CA and certificate generated here by rcgen.

use std::path::Path;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, PKCS_ED25519,
};
use time::{Duration, OffsetDateTime};

use scimd::config::TlsConfig;
use scimd::tls::{TlsError, check};

use crate::server::{free_port, scimd, spawn};

/// A CA and a server certificate for localhost/127.0.0.1 it issued, valid from `from` to `to`.
pub(crate) struct Pki {
    pub(crate) ca_der: Vec<u8>,
    pub(crate) ca_pem: String,
    pub(crate) cert_pem: String,
    pub(crate) key_pem: String,
}

pub(crate) fn pki(from: OffsetDateTime, to: OffsetDateTime) -> Pki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "scimd test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("ca key"))
        .expect("ca cert");
    let mut params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .expect("params");
    params
        .distinguished_name
        .push(DnType::CommonName, "scim.test");
    params.not_before = from;
    params.not_after = to;
    let key = KeyPair::generate().expect("key");
    let cert = params.signed_by(&key, &ca).expect("cert");
    Pki {
        ca_der: ca.der().to_vec(),
        ca_pem: pem::encode(&pem::Pem::new("CERTIFICATE", ca.der().to_vec())),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}

fn valid_pki() -> Pki {
    let now = OffsetDateTime::now_utc();
    pki(now - Duration::days(1), now + Duration::days(365))
}

/// Writes the two files and returns the `[tls]` section pointing at them.
pub(crate) fn write(dir: &Path, certs: &str, key: &str) -> TlsConfig {
    let (c, k) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&c, certs).expect("write cert");
    std::fs::write(&k, key).expect("write key");
    TlsConfig { certs: c, key: k }
}

fn error(tls: &TlsConfig) -> (TlsError, String) {
    let err = check(tls, OffsetDateTime::now_utc()).expect_err("the TLS files are wrong");
    let msg = err.to_string();
    (err, msg)
}

#[test]
fn valid_files_pass_with_subject_and_no_warning() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = valid_pki();
    let tls = write(dir.path(), &p.cert_pem, &p.key_pem);
    let summary = check(&tls, OffsetDateTime::now_utc()).expect("valid");
    assert!(summary.subject.contains("scim.test"), "{}", summary.subject);
    assert_eq!(summary.chain_len, 1);
    assert!(summary.warning.is_none(), "{:?}", summary.warning);
}

#[test]
fn missing_and_unreadable_files_are_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = valid_pki();
    let mut tls = write(dir.path(), &p.cert_pem, &p.key_pem);
    tls.certs = dir.path().join("nope.pem");
    let (err, msg) = error(&tls);
    assert!(matches!(err, TlsError::Unreadable { .. }), "{msg}");
    assert!(
        msg.starts_with(&format!("tls.certs = {}: cannot read", tls.certs.display())),
        "{msg}"
    );
    // Tests run as root in CI, so permissions cannot make a file unreadable; a directory can.
    let mut tls = write(dir.path(), &p.cert_pem, &p.key_pem);
    tls.key = dir.path().to_owned();
    let (err, msg) = error(&tls);
    assert!(matches!(err, TlsError::Unreadable { .. }), "{msg}");
    assert!(msg.starts_with("tls.key = "), "{msg}");
}

#[test]
fn a_pem_without_certificate_says_what_it_found() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = valid_pki();
    // The classic mistake: both settings point at the key.
    let tls = write(dir.path(), &p.key_pem, &p.key_pem);
    let (err, msg) = error(&tls);
    assert!(matches!(err, TlsError::NoCertificate { .. }), "{msg}");
    assert!(
        msg.contains("no certificate") && msg.contains("found: PRIVATE KEY"),
        "{msg}"
    );
    let tls = write(dir.path(), "this is not PEM\n", &p.key_pem);
    let (err, msg) = error(&tls);
    assert!(matches!(err, TlsError::NoCertificate { .. }), "{msg}");
}

#[test]
fn a_pem_without_key_says_what_it_found() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = valid_pki();
    let tls = write(dir.path(), &p.cert_pem, &p.cert_pem);
    let (err, msg) = error(&tls);
    assert!(matches!(err, TlsError::NoKey { .. }), "{msg}");
    assert!(
        msg.contains("no private key") && msg.contains("found: CERTIFICATE"),
        "{msg}"
    );
}

#[test]
fn encrypted_and_duplicate_keys_are_explained() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = valid_pki();
    let encrypted = pem::encode(&pem::Pem::new("ENCRYPTED PRIVATE KEY", vec![0x30, 0x00]));
    let tls = write(dir.path(), &p.cert_pem, &encrypted);
    let (err, msg) = error(&tls);
    assert!(matches!(err, TlsError::EncryptedKey { .. }), "{msg}");
    assert!(msg.contains("openssl pkey"), "{msg}");
    let two = format!(
        "{}{}",
        p.key_pem,
        KeyPair::generate().expect("key").serialize_pem()
    );
    let tls = write(dir.path(), &p.cert_pem, &two);
    let (err, msg) = error(&tls);
    assert!(
        matches!(err, TlsError::SeveralKeys { count: 2, .. }),
        "{msg}"
    );
}

#[test]
fn an_unsupported_key_type_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = valid_pki();
    // An Ed25519 PKCS#8 key relabelled as Ed448 (OID 1.3.101.112 -> .113): well-formed, but an
    // algorithm rustls/ring cannot sign with.
    let mut der = KeyPair::generate_for(&PKCS_ED25519)
        .expect("ed25519")
        .serialize_der();
    let oid = der
        .windows(5)
        .position(|w| w == [0x06, 0x03, 0x2b, 0x65, 0x70])
        .expect("Ed25519 OID in PKCS#8");
    der[oid + 4] = 0x71;
    let tls = write(
        dir.path(),
        &p.cert_pem,
        &pem::encode(&pem::Pem::new("PRIVATE KEY", der)),
    );
    let (err, msg) = error(&tls);
    assert!(matches!(err, TlsError::UnsupportedKey { .. }), "{msg}");
    assert!(
        msg.contains("unsupported PKCS#8") && msg.contains("Ed25519"),
        "{msg}"
    );
}

#[test]
fn a_key_of_another_certificate_is_a_mismatch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = valid_pki();
    let other = valid_pki();
    let tls = write(dir.path(), &p.cert_pem, &other.key_pem);
    let (err, msg) = error(&tls);
    assert!(matches!(err, TlsError::KeyMismatch { .. }), "{msg}");
    assert!(
        msg.contains("does not belong to the certificate") && msg.contains("scim.test"),
        "{msg}"
    );
}

#[test]
fn expired_is_an_error_and_expiring_soon_a_warning() {
    let dir = tempfile::tempdir().expect("tempdir");
    let now = OffsetDateTime::now_utc();
    let p = pki(now - Duration::days(90), now - Duration::days(1));
    let tls = write(dir.path(), &p.cert_pem, &p.key_pem);
    let (err, msg) = error(&tls);
    assert!(matches!(err, TlsError::Expired { .. }), "{msg}");
    assert!(msg.contains("expired on") && msg.contains("renew"), "{msg}");

    let p = pki(now - Duration::days(80), now + Duration::days(10));
    let tls = write(dir.path(), &p.cert_pem, &p.key_pem);
    let summary = check(&tls, now).expect("still valid");
    let warning = summary.warning.expect("a warning 10 days before expiry");
    assert!(
        warning.contains("expires on") && warning.contains("in 9 days"),
        "{warning}"
    );

    let p = pki(now + Duration::days(2), now + Duration::days(300));
    let tls = write(dir.path(), &p.cert_pem, &p.key_pem);
    let (err, msg) = error(&tls);
    assert!(matches!(err, TlsError::NotYetValid { .. }), "{msg}");
}

#[test]
fn check_config_and_serve_report_tls_errors_before_binding() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = valid_pki();
    let other = valid_pki();
    let tls = write(dir.path(), &p.cert_pem, &other.key_pem);
    let port = free_port();
    for command in ["check-config", "serve"] {
        let out = scimd(dir.path())
            .arg(command)
            .env("SCIMD_PORT", port.to_string())
            .env("SCIMD_TLS__CERTS", &tls.certs)
            .env("SCIMD_TLS__KEY", &tls.key)
            .output()
            .expect("run");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{command}: {stderr}");
        assert!(
            stderr.contains("error: tls.key = ") && stderr.contains("does not belong"),
            "{command}: {stderr}"
        );
    }
    // serve failed before opening the database.
    assert!(!dir.path().join("scimd.db").exists());

    let now = OffsetDateTime::now_utc();
    let soon = pki(now - Duration::days(80), now + Duration::days(5));
    let tls = write(dir.path(), &soon.cert_pem, &soon.key_pem);
    let stderr = check_config_passes(dir.path(), &tls);
    assert!(
        stderr.contains("warning: tls.certs = ") && stderr.contains("expires on"),
        "{stderr}"
    );
}

/// `scimd check-config` with these TLS files: it must pass; its stderr (warnings) is returned.
fn check_config_passes(dir: &Path, tls: &TlsConfig) -> String {
    let out = scimd(dir)
        .arg("check-config")
        .env("SCIMD_TLS__CERTS", &tls.certs)
        .env("SCIMD_TLS__KEY", &tls.key)
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    stderr
}

fn https_agent(ca_der: &[u8]) -> ureq::Agent {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(ca_der.to_vec()))
        .expect("CA");
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocols")
    .with_root_certificates(roots)
    .with_no_client_auth();
    ureq::AgentBuilder::new()
        .tls_config(Arc::new(config))
        .timeout(std::time::Duration::from_secs(5))
        .build()
}

/// `scimd serve` over TLS on `port` with `extra` settings, and an agent that trusts `p`'s CA.
pub(crate) fn serve_tls(
    dir: &Path,
    p: &Pki,
    tls: &TlsConfig,
    port: u16,
    extra: &[(&str, &str)],
) -> (crate::server::Server, ureq::Agent, String) {
    let mut cmd = scimd(dir);
    cmd.arg("serve")
        .env("SCIMD_PORT", port.to_string())
        .env("SCIMD_TLS__CERTS", &tls.certs)
        .env("SCIMD_TLS__KEY", &tls.key)
        .envs(extra.iter().copied());
    let agent = https_agent(&p.ca_der);
    let base = format!("https://127.0.0.1:{port}");
    let probe = {
        let (agent, base) = (agent.clone(), base.clone());
        move || agent.get(&format!("{base}/healthz")).call().is_ok()
    };
    (spawn(cmd, base.clone(), probe), agent, base)
}

#[test]
fn https_round_trip_with_generated_certificate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = valid_pki();
    let tls = write(dir.path(), &p.cert_pem, &p.key_pem);
    let token = crate::server::token(dir.path());
    let port = free_port();
    let env = |c: &mut std::process::Command| {
        c.env("SCIMD_PORT", port.to_string())
            .env("SCIMD_TLS__CERTS", &tls.certs)
            .env("SCIMD_TLS__KEY", &tls.key);
    };
    let (_server, agent, base) = serve_tls(dir.path(), &p, &tls, port, &[]);

    let res = agent
        .post(&format!("{base}/scim/v2/Users"))
        .set("Authorization", &format!("Bearer {token}"))
        .set("Content-Type", "application/scim+json")
        .send_string(&crate::common::okta_user("tls@x.test").to_string())
        .expect("create over https");
    assert_eq!(res.status(), 201);
    let body: serde_json::Value =
        serde_json::from_str(&res.into_string().expect("body")).expect("json");
    let location = body["meta"]["location"].as_str().expect("location");
    assert!(
        location.starts_with(&format!("{base}/scim/v2/Users/")),
        "with TLS on, locations are https: {location}"
    );

    // Plain HTTP to the TLS port gets no SCIM answer.
    assert!(
        ureq::get(&format!("http://127.0.0.1:{port}/healthz"))
            .call()
            .is_err()
    );

    // `scimd health` speaks TLS to the same listener, pinned to the configured certificate.
    let mut health = scimd(dir.path());
    health.arg("health");
    env(&mut health);
    let out = health.output().expect("health");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A different certificate in the config means the probe must refuse the server.
    let other = valid_pki();
    let wrong = dir.path().join("other.pem");
    std::fs::write(&wrong, &other.cert_pem).expect("write");
    let out = scimd(dir.path())
        .arg("health")
        .env("SCIMD_PORT", port.to_string())
        .env("SCIMD_TLS__CERTS", &wrong)
        .env("SCIMD_TLS__KEY", &tls.key)
        .output()
        .expect("health");
    assert!(!out.status.success());
}

/// Issue 19 item 9: a private key every user can read is reported by `check-config` (and at
/// start, through the same check); the README's `0640 root:scimd` is not.
#[test]
fn a_world_readable_key_is_a_warning() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let p = valid_pki();
    let tls = write(dir.path(), &p.cert_pem, &p.key_pem);
    let check_config = |mode: u32| {
        std::fs::set_permissions(&tls.key, std::fs::Permissions::from_mode(mode)).expect("chmod");
        check_config_passes(dir.path(), &tls)
    };
    let stderr = check_config(0o644);
    assert!(
        stderr.contains("WARN") && stderr.contains("readable by every user (mode 644)"),
        "{stderr}"
    );
    assert!(stderr.contains("chmod 0640"), "{stderr}");
    for private in [0o640, 0o600] {
        let stderr = check_config(private);
        assert!(
            !stderr.contains("readable by every user"),
            "{private:o}: {stderr}"
        );
    }
}

/// Issue 19 item 4: the header timeout also covers the TLS handshake, which happens before
/// hyper reads a request head: a client that connects to the TLS port and sends nothing is
/// closed, and the server keeps answering over TLS.
#[test]
fn a_tls_connection_that_never_handshakes_is_closed() {
    use std::io::Read;
    let dir = tempfile::tempdir().expect("tempdir");
    let p = valid_pki();
    let tls = write(dir.path(), &p.cert_pem, &p.key_pem);
    let port = free_port();
    let extra = [("SCIMD_LIMITS__HEADER_TIMEOUT_SECS", "1")];
    let (_server, agent, base) = serve_tls(dir.path(), &p, &tls, port, &extra);
    let mut silent = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    // Generous for a loaded machine; without the bound the read would block for ever.
    silent
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .expect("timeout");
    let mut buf = [0u8; 16];
    let read = silent.read(&mut buf);
    assert!(
        matches!(read, Ok(0))
            || read
                .as_ref()
                .is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset),
        "the silent TLS connection was not closed: {read:?}"
    );
    // A new agent, so a new connection: the readiness probe's pooled keep-alive connection
    // has been idle past the same 1 s header timeout, and the server rightly closes it.
    drop(agent);
    let after = https_agent(&p.ca_der)
        .get(&format!("{base}/healthz"))
        .call();
    assert!(
        after.is_ok(),
        "the server stopped answering over TLS: {after:?}"
    );
}

/// Issue 20 item 2: the admin listener serves TLS with `[tls]`'s certificate by default and
/// plain HTTP with `admin.tls = false`, and the session cookie is `Secure` exactly when the
/// admin listener's own connection is encrypted, while the public listener stays on TLS.
#[test]
fn the_admin_listener_shares_tls_unless_told_not_to() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = valid_pki();
    let tls = write(dir.path(), &p.cert_pem, &p.key_pem);
    let password = crate::server::reset_password(dir.path(), "admin");
    let sign_in = |agent: &ureq::Agent, admin: &str| {
        let res = agent
            .post(&format!("{admin}/api/session"))
            .set("Content-Type", "application/json")
            .send_string(
                &serde_json::json!({"username": "admin", "password": password}).to_string(),
            )
            .expect("sign in");
        let cookie = res.header("Set-Cookie").expect("cookie").to_owned();
        cookie.split(';').any(|a| a.trim() == "Secure")
    };
    for (admin_tls, scheme, secure) in [("true", "https", true), ("false", "http", false)] {
        let (port, admin_port) = crate::server::free_ports();
        let admin_port = admin_port.to_string();
        let extra = [
            ("SCIMD_ADMIN__PORT", admin_port.as_str()),
            ("SCIMD_ADMIN__TLS", admin_tls),
        ];
        let (_server, agent, public) = serve_tls(dir.path(), &p, &tls, port, &extra);
        let admin = format!("{scheme}://127.0.0.1:{admin_port}");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while agent
            .get(&format!("{admin}/ui/instance.json"))
            .call()
            .is_err()
        {
            assert!(
                std::time::Instant::now() < deadline,
                "{admin} never answered"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert_eq!(sign_in(&agent, &admin), secure, "admin.tls = {admin_tls}");
        // The public listener is TLS either way, and the UI names it.
        let instance = agent
            .get(&format!("{admin}/ui/instance.json"))
            .call()
            .expect("instance")
            .into_string()
            .expect("body");
        let instance: serde_json::Value = serde_json::from_str(&instance).expect("json");
        assert_eq!(instance["origin"], serde_json::json!(public));
        assert!(
            agent
                .get(&format!("{public}/healthz"))
                .call()
                .is_ok_and(|r| r.status() == 200)
        );
    }
}
