//! The LDAP front-end of the spawned binary (issue 24), driven over TCP with `ldap3_proto`'s
//! message types: what needs hostile bytes no real client sends (malformed BER, oversized and
//! deeply nested filters) and what needs a restart or a backup (stable POSIX numbers). The
//! behaviour real clients see is tested with ldapsearch / ldapwhoami / ldap3 in tests/ldap/.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use bytes::BytesMut;
use ldap3_proto::LdapCodec;
use ldap3_proto::proto::{
    LdapBindCred, LdapBindRequest, LdapDerefAliases, LdapFilter, LdapMsg, LdapOp, LdapResult,
    LdapResultCode, LdapSearchRequest, LdapSearchResultEntry, LdapSearchScope,
};
use tokio_util::codec::{Decoder, Encoder};

use crate::server::{Server, create_user, free_port, scimd, start_with, token};

/// A minimal synchronous LDAP client on one connection.
struct Client {
    stream: TcpStream,
    buf: BytesMut,
    codec: LdapCodec,
    next: i32,
}

impl Client {
    fn connect(port: u16) -> Client {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .expect("timeout");
        Client {
            stream,
            buf: BytesMut::new(),
            // The client side decodes answers of any size.
            codec: LdapCodec::new(Some(64 << 20), None),
            next: 1,
        }
    }

    fn send(&mut self, op: LdapOp) -> i32 {
        let msgid = self.next;
        self.next += 1;
        let mut out = BytesMut::new();
        self.codec
            .encode(
                LdapMsg {
                    msgid,
                    op,
                    ctrl: Vec::new(),
                },
                &mut out,
            )
            .expect("encode");
        self.stream.write_all(&out).expect("write");
        msgid
    }

    /// The next message, or `None` once the server closed the connection.
    fn recv(&mut self) -> Option<LdapMsg> {
        loop {
            if let Ok(Some(m)) = self.codec.decode(&mut self.buf) {
                return Some(m);
            }
            let mut chunk = [0u8; 16384];
            match self.stream.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    fn bind(&mut self, dn: &str, password: &str) -> LdapResultCode {
        self.send(LdapOp::BindRequest(LdapBindRequest {
            version: 3,
            dn: dn.to_owned(),
            cred: LdapBindCred::Simple(password.to_owned()),
        }));
        match self.recv().map(|m| m.op) {
            Some(LdapOp::BindResponse(r)) => r.res.code,
            other => panic!("not a bind response: {other:?}"),
        }
    }

    fn search(
        &mut self,
        base: &str,
        filter: LdapFilter,
        attrs: &[&str],
    ) -> (Vec<LdapSearchResultEntry>, LdapResult) {
        self.send(LdapOp::SearchRequest(LdapSearchRequest {
            base: base.to_owned(),
            scope: LdapSearchScope::Subtree,
            aliases: LdapDerefAliases::Never,
            sizelimit: 0,
            timelimit: 0,
            typesonly: false,
            filter,
            attrs: attrs.iter().map(|a| (*a).to_owned()).collect(),
        }));
        let mut entries = Vec::new();
        loop {
            match self.recv().map(|m| m.op) {
                Some(LdapOp::SearchResultEntry(e)) => entries.push(e),
                Some(LdapOp::SearchResultDone(r)) => return (entries, r),
                other => panic!("not a search answer: {other:?}"),
            }
        }
    }

    fn raw(&mut self, bytes: &[u8]) {
        let _ = self.stream.write_all(bytes);
    }
}

/// A server with LDAP on, a second tenant, and a service account in each.
struct Directory {
    server: Server,
    ldap: u16,
    /// (bind DN, secret) of `default`'s and `other`'s service accounts.
    default: (String, String),
    other: (String, String),
}

fn cli(dir: &Path, args: &[&str]) -> String {
    let out = scimd(dir).args(args).output().expect("run scimd");
    assert!(
        out.status.success(),
        "scimd {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf8")
        .trim()
        .to_owned()
}

fn directory(dir: &Path, ldap: u16) -> Directory {
    cli(dir, &["tenant", "create", "other"]);
    let default = cli(dir, &["ldap", "account", "add", "app"]);
    let other = cli(dir, &["ldap", "account", "add", "app", "--tenant", "other"]);
    let server = serve(dir, ldap);
    Directory {
        server,
        ldap,
        default: ("cn=app,ou=services,dc=default,dc=scimd".into(), default),
        other: ("cn=app,ou=services,dc=other,dc=scimd".into(), other),
    }
}

fn serve(dir: &Path, ldap: u16) -> Server {
    serve_with(dir, ldap, &[])
}

fn serve_with(dir: &Path, ldap: u16, extra: &[(&str, &str)]) -> Server {
    let port = ldap.to_string();
    let mut env = vec![("SCIMD_LDAP__ENABLED", "true"), ("SCIMD_LDAP__PORT", &port)];
    env.extend_from_slice(extra);
    let server = start_with(dir, &env);
    // The LDAP port is bound before launch, so it is up once HTTP answers.
    TcpStream::connect(("127.0.0.1", ldap)).expect("the LDAP port is open");
    server
}

fn present(attr: &str) -> LdapFilter {
    LdapFilter::Present(attr.into())
}

fn dns(entries: &[LdapSearchResultEntry]) -> Vec<String> {
    entries.iter().map(|e| e.dn.clone()).collect()
}

/// The other tenant's account still sees exactly its own tree: the server is alive and no
/// malformed input leaked anything across.
fn still_isolated(d: &Directory) {
    let mut c = Client::connect(d.ldap);
    assert_eq!(c.bind(&d.other.0, &d.other.1), LdapResultCode::Success);
    let (entries, done) = c.search("dc=scimd", present("objectClass"), &["1.1"]);
    assert_eq!(done.code, LdapResultCode::Success, "{done:?}");
    let seen = dns(&entries);
    assert!(!seen.is_empty());
    assert!(
        seen.iter().all(|dn| dn.ends_with("dc=other,dc=scimd")),
        "{seen:?}"
    );
}

/// Malformed BER, oversized messages, filters nested past the BER depth bound and filters of
/// thousands of terms: each connection gets an answer or is closed, the server never panics or
/// hangs, and the other tenant's view never includes the default tenant's users.
#[test]
fn ldap_hostile_messages_never_crash_hang_or_leak() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ldap = free_port();
    let d = directory(dir.path(), ldap);
    let token = token(dir.path());
    for i in 0..5 {
        create_user(
            &d.server.base,
            &token,
            &format!("secret{i}@default.example"),
        )
        .expect("user");
    }
    // Arbitrary bytes, and bytes that start like an LDAP message.
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for round in 0..40 {
        let mut c = Client::connect(ldap);
        let len = usize::try_from(next() % 300).unwrap_or(0) + 1;
        let mut bytes: Vec<u8> = (0..len).map(|_| next().to_le_bytes()[0]).collect();
        if round % 2 == 0 {
            bytes[0] = 0x30;
        }
        c.raw(&bytes);
        let _ = c.stream.shutdown(std::net::Shutdown::Write);
        // An answer or a close, never a hang (the read timeout would fail the test).
        while c.recv().is_some() {}
    }
    // A length announcing 2 GiB, then nothing: refused from its length octets, not awaited.
    let mut huge = Client::connect(ldap);
    huge.raw(&[0x30, 0x84, 0x7f, 0xff, 0xff, 0xff, 0x02, 0x01, 0x01]);
    // A half message left hanging does not hold up anyone else.
    let mut half = Client::connect(ldap);
    half.raw(&[0x30, 0x0c, 0x02]);
    still_isolated(&d);
    let notice = huge.recv().map(|m| m.op);
    assert!(
        matches!(&notice, Some(LdapOp::ExtendedResponse(r)) if r.res.code == LdapResultCode::ProtocolError),
        "{notice:?}"
    );
    assert!(
        huge.recv().is_none(),
        "an oversized message closes the connection"
    );

    let mut c = Client::connect(ldap);
    assert_eq!(c.bind(&d.other.0, &d.other.1), LdapResultCode::Success);
    // Nested past ldap3_proto's BER depth bound (128): a protocol error and a close.
    let mut deep = present("uid");
    for _ in 0..300 {
        deep = LdapFilter::Not(Box::new(deep));
    }
    c.send(LdapOp::SearchRequest(LdapSearchRequest {
        base: "dc=other,dc=scimd".into(),
        scope: LdapSearchScope::Subtree,
        aliases: LdapDerefAliases::Never,
        sizelimit: 0,
        timelimit: 0,
        typesonly: false,
        filter: deep,
        attrs: Vec::new(),
    }));
    while let Some(m) = c.recv() {
        assert!(
            !matches!(m.op, LdapOp::SearchResultEntry(_)),
            "an over-deep filter returned entries"
        );
    }
    // Within the bounds: 60 levels deep and 1,500 terms wide (about 48 KiB) are answered, from this tenant
    // only, even when the terms name the other tenant's users.
    let mut c = Client::connect(ldap);
    assert_eq!(c.bind(&d.other.0, &d.other.1), LdapResultCode::Success);
    let mut nested = LdapFilter::Equality("uid".into(), "secret0@default.example".into());
    for i in 0..60 {
        nested = if i % 2 == 0 {
            LdapFilter::Or(vec![nested, present("nothing")])
        } else {
            LdapFilter::And(vec![nested, present("objectClass")])
        };
    }
    let (entries, done) = c.search("dc=other,dc=scimd", nested, &[]);
    assert_eq!(done.code, LdapResultCode::Success, "{done:?}");
    assert!(entries.is_empty(), "{:?}", dns(&entries));
    let wide = LdapFilter::Or(
        (0..1500)
            .map(|i| LdapFilter::Equality("uid".into(), format!("secret{}@default.example", i % 7)))
            .collect(),
    );
    let (entries, done) = c.search("dc=other,dc=scimd", wide, &[]);
    assert_eq!(done.code, LdapResultCode::Success, "{done:?}");
    assert!(entries.is_empty(), "{:?}", dns(&entries));
    // The same wide filter over the default tenant finds its users through the index.
    let mut mine = Client::connect(ldap);
    assert_eq!(
        mine.bind(&d.default.0, &d.default.1),
        LdapResultCode::Success
    );
    let wide = LdapFilter::Or(
        (0..1500)
            .map(|i| LdapFilter::Equality("uid".into(), format!("secret{}@default.example", i % 7)))
            .collect(),
    );
    let (entries, _) = mine.search("ou=people,dc=default,dc=scimd", wide, &["uid"]);
    assert_eq!(entries.len(), 5, "{:?}", dns(&entries));
    // A filter larger than ldap.max_request_bytes: a notice of disconnection, then a close.
    let mut c = Client::connect(ldap);
    assert_eq!(c.bind(&d.other.0, &d.other.1), LdapResultCode::Success);
    c.send(LdapOp::SearchRequest(LdapSearchRequest {
        base: "dc=other,dc=scimd".into(),
        scope: LdapSearchScope::Subtree,
        aliases: LdapDerefAliases::Never,
        sizelimit: 0,
        timelimit: 0,
        typesonly: false,
        filter: LdapFilter::Equality("cn".into(), "x".repeat(200_000)),
        attrs: Vec::new(),
    }));
    let mut answers = Vec::new();
    while let Some(m) = c.recv() {
        answers.push(m.op);
    }
    assert!(
        answers
            .iter()
            .all(|op| matches!(op, LdapOp::ExtendedResponse(_))),
        "{answers:?}"
    );
    still_isolated(&d);
}

fn uid_number(c: &mut Client, user: &str) -> String {
    let (entries, done) = c.search(
        "ou=people,dc=default,dc=scimd",
        LdapFilter::Equality("uid".into(), user.into()),
        &["uidNumber"],
    );
    assert_eq!(done.code, LdapResultCode::Success, "{done:?}");
    let attr = entries
        .first()
        .and_then(|e| e.attributes.first())
        .unwrap_or_else(|| panic!("no uidNumber for {user}"));
    String::from_utf8(attr.vals[0].clone()).expect("utf8")
}

/// uidNumbers are allocated once, kept across a restart and in a backup, and a deleted user's
/// number is not given to the next one.
#[test]
fn ldap_posix_numbers_are_stable_across_restart_and_backup() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ldap = free_port();
    let mut d = directory(dir.path(), ldap);
    let token = token(dir.path());
    let base = d.server.base.clone();
    let first = create_user(&base, &token, "first@example.com").expect("user");
    create_user(&base, &token, "second@example.com").expect("user");
    let mut c = Client::connect(ldap);
    assert_eq!(c.bind(&d.default.0, &d.default.1), LdapResultCode::Success);
    let before = (
        uid_number(&mut c, "first@example.com"),
        uid_number(&mut c, "second@example.com"),
    );
    assert_ne!(before.0, before.1);
    let deleted = ureq::delete(&format!("{base}/scim/v2/Users/{first}"))
        .set("Authorization", &format!("Bearer {token}"))
        .call()
        .expect("delete");
    assert_eq!(deleted.status(), 204);
    create_user(&base, &token, "third@example.com").expect("user");
    let third = uid_number(&mut c, "third@example.com");
    assert!(third != before.0 && third != before.1, "{third} reused");
    drop(c);
    assert!(d.server.terminate().success());
    cli(dir.path(), &["backup", "copy.db"]);

    d.server = serve(dir.path(), ldap);
    let mut c = Client::connect(ldap);
    assert_eq!(c.bind(&d.default.0, &d.default.1), LdapResultCode::Success);
    assert_eq!(uid_number(&mut c, "second@example.com"), before.1);
    assert_eq!(uid_number(&mut c, "third@example.com"), third);
    drop(c);
    assert!(d.server.terminate().success());

    // The backup, served from its own directory.
    let restored = tempfile::tempdir().expect("tempdir");
    std::fs::copy(dir.path().join("copy.db"), restored.path().join("scimd.db")).expect("copy");
    let _server = serve(restored.path(), ldap);
    let mut c = Client::connect(ldap);
    assert_eq!(c.bind(&d.default.0, &d.default.1), LdapResultCode::Success);
    assert_eq!(uid_number(&mut c, "second@example.com"), before.1);
    assert_eq!(uid_number(&mut c, "third@example.com"), third);
}

/// `[ldap]` is off by default: `serve` opens no LDAP port, and a bad LDAP setting stops the
/// launch with the key named.
#[test]
fn ldap_is_off_by_default_and_a_taken_port_fails_the_launch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ldap = free_port();
    let _server = start_with(dir.path(), &[("SCIMD_LDAP__PORT", &ldap.to_string())]);
    assert!(TcpStream::connect(("127.0.0.1", ldap)).is_err());
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port().to_string();
    let out = scimd(dir.path())
        .arg("serve")
        .env("SCIMD_PORT", free_port().to_string())
        .env("SCIMD_LDAP__ENABLED", "true")
        .env("SCIMD_LDAP__PORT", &port)
        .output()
        .expect("serve");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("ldap.port"), "{stderr}");
    let out = scimd(dir.path())
        .arg("check-config")
        .env("SCIMD_LDAP__TLS_PORT", "6636")
        .output()
        .expect("check-config");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("ldap.tls_port needs [tls]"), "{stderr}");
}

fn scim(
    base: &str,
    token: &str,
    method: &str,
    path: &str,
    body: serde_json::Value,
) -> serde_json::Value {
    let r = ureq::request(method, &format!("{base}/scim/v2{path}"))
        .set("Authorization", &format!("Bearer {token}"))
        .set("Content-Type", "application/scim+json")
        .send_string(&body.to_string())
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    serde_json::from_str(&r.into_string().expect("body")).unwrap_or_default()
}

fn values(e: &LdapSearchResultEntry, attr: &str) -> Vec<String> {
    e.attributes
        .iter()
        .filter(|a| a.atype.eq_ignore_ascii_case(attr))
        .flat_map(|a| {
            a.vals
                .iter()
                .map(|v| String::from_utf8_lossy(v).into_owned())
        })
        .collect()
}

/// `ldap.deactivated = "hidden"` keeps deactivated users out of every search, and
/// `ldap.nested_groups = true` lists the groups a user is in through other groups.
#[test]
fn ldap_hidden_deactivated_users_and_nested_member_of() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ldap = free_port();
    let secret = cli(dir.path(), &["ldap", "account", "add", "app"]);
    let server = serve_with(
        dir.path(),
        ldap,
        &[
            ("SCIMD_LDAP__DEACTIVATED", "hidden"),
            ("SCIMD_LDAP__NESTED_GROUPS", "true"),
        ],
    );
    let token = token(dir.path());
    let base = server.base.clone();
    let ann = create_user(&base, &token, "ann@example.com").expect("user");
    let ben = create_user(&base, &token, "ben@example.com").expect("user");
    let inner = scim(
        &base,
        &token,
        "POST",
        "/Groups",
        serde_json::json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": "inner", "members": [{"value": ann}]}),
    );
    scim(
        &base,
        &token,
        "POST",
        "/Groups",
        serde_json::json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": "outer", "members": [{"value": inner["id"]}]}),
    );
    scim(
        &base,
        &token,
        "PATCH",
        &format!("/Users/{ben}"),
        serde_json::json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "active", "value": false}]}),
    );
    let mut c = Client::connect(ldap);
    assert_eq!(
        c.bind("cn=app,ou=services,dc=default,dc=scimd", &secret),
        LdapResultCode::Success
    );
    let (entries, _) = c.search(
        "ou=people,dc=default,dc=scimd",
        present("uid"),
        &["uid", "memberOf"],
    );
    let uids: Vec<String> = entries.iter().flat_map(|e| values(e, "uid")).collect();
    assert_eq!(
        uids,
        vec!["ann@example.com".to_owned()],
        "ben is deactivated, so hidden"
    );
    let mut groups = values(&entries[0], "memberOf");
    groups.sort();
    assert_eq!(
        groups,
        vec![
            "cn=inner,ou=groups,dc=default,dc=scimd".to_owned(),
            "cn=outer,ou=groups,dc=default,dc=scimd".to_owned()
        ]
    );
    let (by_outer, _) = c.search(
        "ou=people,dc=default,dc=scimd",
        LdapFilter::Equality("uid".into(), "ben@example.com".into()),
        &[],
    );
    assert!(
        by_outer.is_empty(),
        "a hidden user is not found by uid either"
    );
}
