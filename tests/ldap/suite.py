"""The LDAP directory of a real scimd, through clients nobody here wrote: PyPI's ldap3 and
Debian's ldapsearch / ldapwhoami. Users and groups are provisioned over SCIM exactly as an IdP
would; every check reads them back over LDAP. Run by tests/ldap/run.sh (which sets SCIMD).
Usage: suite.py [TEST_NAME...]; exits 1 if any test fails."""

import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import traceback

import ldap3
from ldap3 import BASE, LEVEL, SUBTREE, Connection, Server, Tls

SCIMD = os.environ["SCIMD"]
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BASE_DN = "dc=default,dc=scimd"
OTHER_BASE = "dc=other,dc=scimd"
PEOPLE = "ou=people," + BASE_DN
GROUPS = "ou=groups," + BASE_DN
PAGED_USERS = int(os.environ.get("LDAP_PAGED_USERS", "10000"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Scimd:
    """A scimd with [ldap] on, [tls] for HTTPS, LDAPS and StartTLS, two tenants, a SCIM token
    and an LDAP service account in each."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="scimd-ldap-")
        self.cert = os.path.join(self.dir, "cert.pem")
        key = os.path.join(self.dir, "key.pem")
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-keyout", key, "-out", self.cert, "-days", "2", "-subj", "/CN=localhost",
             "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
            check=True, capture_output=True)
        self.port, self.ldap_port, self.ldaps_port = free_port(), free_port(), free_port()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("SCIMD_")}
        self.env.update({
            "SCIMD_CONFIG": "/dev/null",
            "SCIMD_DATABASE": os.path.join(self.dir, "scimd.db"),
            "SCIMD_PORT": str(self.port),
            "SCIMD_TLS__CERTS": self.cert,
            "SCIMD_TLS__KEY": key,
            "SCIMD_LDAP__ENABLED": "true",
            "SCIMD_LDAP__PORT": str(self.ldap_port),
            "SCIMD_LDAP__TLS_PORT": str(self.ldaps_port),
            "SCIMD_LDAP__SIZE_LIMIT": "50000",
            # The suite writes users from several threads at once, faster than a new install's
            # per-token rate limit allows (50 per second); that limit has its own tests.
            "SCIMD_LIMITS__REQUESTS_PER_SECOND": "0",
            "LDAPTLS_CACERT": self.cert,
            "LDAPTLS_REQCERT": "demand",
        })
        self.cli("tenant", "create", "other")
        self.token = {"default": self.cli("token", "create", "--name", "idp"),
                      "other": self.cli("token", "create", "--name", "idp", "--tenant", "other")}
        self.secret = {"default": self.cli("ldap", "account", "add", "app"),
                       "other": self.cli("ldap", "account", "add", "otherapp", "--tenant", "other")}
        self.account = {"default": "cn=app,ou=services," + BASE_DN,
                        "other": "cn=otherapp,ou=services," + OTHER_BASE}
        self.log = open(os.path.join(self.dir, "server.log"), "w")
        self.proc = subprocess.Popen([SCIMD, "serve"], env=self.env, cwd=self.dir,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        self.tls = ssl.create_default_context(cafile=self.cert)
        # The LDAP listeners start beside Rocket's, not after it: wait for every port the
        # suite uses, or the first SCIM request can race the HTTPS listener's bind.
        for port in (self.port, self.ldap_port, self.ldaps_port):
            self.wait_for(port)
        self.local = threading.local()

    def wait_for(self, port, seconds=30):
        deadline = time.monotonic() + seconds
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError("scimd exited: " + open(self.log.name).read())
                if time.monotonic() > deadline:
                    raise RuntimeError(f"scimd did not listen on port {port} within {seconds} s")
                time.sleep(0.05)

    def cli(self, *args):
        out = subprocess.run([SCIMD, *args], env=self.env, cwd=self.dir, capture_output=True,
                             text=True)
        if out.returncode != 0:
            raise RuntimeError(f"scimd {' '.join(args)}: {out.stderr}")
        return out.stdout.strip()

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)
        shutil.rmtree(self.dir, ignore_errors=True)

    def scim(self, method, path, body=None, tenant="default"):
        """One SCIM request on this thread's keep-alive HTTPS connection."""
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.tls,
                                               timeout=60)
            self.local.conn = conn
        prefix = "" if tenant == "default" else f"/t/{tenant}"
        headers = {"Authorization": "Bearer " + self.token[tenant],
                   "Content-Type": "application/scim+json"}
        data = json.dumps(body) if body is not None else None
        try:
            conn.request(method, f"{prefix}/scim/v2{path}", body=data, headers=headers)
            resp = conn.getresponse()
        except (http.client.HTTPException, OSError):
            self.local.conn = None
            raise
        raw = resp.read()
        if resp.status >= 300:
            raise RuntimeError(f"{method} {path}: {resp.status} {raw[:300]!r}")
        return json.loads(raw) if raw else None

    def user(self, user_name, tenant="default", **attrs):
        body = {"schemas": [USER_SCHEMA], "userName": user_name, **attrs}
        return self.scim("POST", "/Users", body, tenant)["id"]

    def group(self, name, members, tenant="default"):
        body = {"schemas": [GROUP_SCHEMA], "displayName": name,
                "members": [{"value": m} for m in members]}
        return self.scim("POST", "/Groups", body, tenant)["id"]

    def patch(self, kind, id, ops, tenant="default"):
        return self.scim("PATCH", f"/{kind}/{id}", {"schemas": [PATCH_SCHEMA], "Operations": ops},
                         tenant)

    def ldap(self, dn=None, password=None, tenant="default", tls=False):
        """A bound ldap3 connection (the tenant's service account by default)."""
        if tls:
            server = Server("127.0.0.1", port=self.ldaps_port, use_ssl=True,
                            tls=Tls(ca_certs_file=self.cert, validate=ssl.CERT_REQUIRED))
        else:
            server = Server("127.0.0.1", port=self.ldap_port)
        conn = Connection(server, user=dn or self.account[tenant],
                          password=password if dn else self.secret[tenant], receive_timeout=120,
                          check_names=False)
        conn.bind()
        return conn

    def tool(self, *args):
        """ldapsearch / ldapwhoami; returns (exit status, stdout + stderr)."""
        out = subprocess.run(list(args), env=self.env, capture_output=True, text=True,
                             timeout=120)
        return out.returncode, out.stdout + out.stderr

    def errors_logged(self, needle):
        """Whether a failed request in the request log mentions `needle` (the log is written
        in batches: wait for it)."""
        for _ in range(100):
            text = self.cli("log", "list", "--errors", "--json", "--limit", "200")
            if needle in text:
                return True
            time.sleep(0.1)
        return False


def uids(entries):
    return sorted(str(e.uid) for e in entries)


def search(conn, base, flt, scope=LEVEL, attributes=("uid",), **kw):
    conn.search(base, flt, search_scope=scope, attributes=list(attributes), **kw)
    return conn.entries


class Suite:
    def __init__(self, s):
        self.s = s
        d = s
        self.alice = d.user("alice@example.com", displayName="Alice Liddell",
                            name={"givenName": "Alice", "familyName": "Liddell"},
                            emails=[{"value": "alice@example.com", "primary": True},
                                    {"value": "a.liddell@example.com"}],
                            title="Engineer", password="Alice-pass-1",
                            **{ENTERPRISE: {"employeeNumber": "1001", "department": "R&D"}})
        self.bob = d.user("bob@example.com", displayName="Bob Builder",
                          name={"givenName": "Bob", "familyName": "Builder"},
                          emails=[{"value": "bob@example.com"}], password="Bob-pass-1",
                          **{ENTERPRISE: {"manager": {"value": self.alice}}})
        self.carol = d.user("carol@example.com", displayName="Carol Danvers")
        self.dave = d.user("dave@example.com", displayName="Dave Davies", password="Dave-pass-1")
        self.eng = d.group("Engineering", [self.alice, self.bob])
        self.ops = d.group("Ops", [self.carol])
        d.user("mallory@other.com", tenant="other", password="Mallory-pass-1")
        d.group("Ops", [], tenant="other")

    # --- binds -------------------------------------------------------------------------

    def test_service_account_bind_and_whoami(self):
        s = self.s
        code, out = s.tool("ldapwhoami", "-x", "-H", f"ldap://127.0.0.1:{s.ldap_port}",
                           "-D", s.account["default"], "-w", s.secret["default"])
        assert code == 0 and "dn:" + s.account["default"] in out, out
        code, out = s.tool("ldapwhoami", "-x", "-H", f"ldap://127.0.0.1:{s.ldap_port}",
                           "-D", s.account["default"], "-w", "scimdldap_wrong")
        assert code == 49, out

    def test_user_binds_with_the_password_the_idp_provisioned(self):
        s = self.s
        dn = "uid=alice@example.com," + PEOPLE
        code, out = s.tool("ldapwhoami", "-x", "-H", f"ldap://127.0.0.1:{s.ldap_port}",
                           "-D", dn, "-w", "Alice-pass-1")
        assert code == 0 and "dn:" + dn in out, out
        conn = s.ldap(dn, "Alice-pass-1")
        assert conn.bound, conn.result
        assert conn.extend.standard.who_am_i() == "dn:" + dn
        bad = s.ldap(dn, "Alice-pass-2")
        assert not bad.bound and bad.result["result"] == 49, bad.result
        assert s.errors_logged("wrong password for this user")
        # A password changed over SCIM applies to the next bind.
        s.patch("Users", self.alice, [{"op": "replace", "path": "password", "value": "Alice-pass-9"}])
        assert not s.ldap(dn, "Alice-pass-1").bound
        assert s.ldap(dn, "Alice-pass-9").bound
        s.patch("Users", self.alice, [{"op": "replace", "path": "password", "value": "Alice-pass-1"}])

    def test_user_without_password_is_told_why_in_the_log(self):
        s = self.s
        conn = s.ldap("uid=carol@example.com," + PEOPLE, "anything")
        assert not conn.bound and conn.result["result"] == 49
        assert s.errors_logged("enable password sync in Okta")

    def test_deactivated_user_cannot_bind(self):
        # profile-row: IPSIE-3.2.2.3-b
        s = self.s
        dn = "uid=dave@example.com," + PEOPLE
        before = s.ldap(dn, "Dave-pass-1")
        assert before.bound
        s.patch("Users", self.dave, [{"op": "replace", "path": "active", "value": False}])
        code, out = s.tool("ldapwhoami", "-x", "-H", f"ldap://127.0.0.1:{s.ldap_port}",
                           "-D", dn, "-w", "Dave-pass-1")
        assert code == 49, out
        assert s.errors_logged("account deactivated")
        # A session bound before the deactivation loses access.
        before.search(PEOPLE, "(objectClass=*)", search_scope=LEVEL)
        assert before.result["result"] == 50, before.result
        # Visible with the marker (ldap.deactivated = "visible").
        conn = s.ldap()
        e = search(conn, PEOPLE, "(uid=dave@example.com)", attributes=["scimdActive"])
        assert [x.scimdActive.raw_values for x in e] == [[b"FALSE"]], e
        s.patch("Users", self.dave, [{"op": "replace", "path": "active", "value": True}])

    def test_anonymous_and_unauthenticated_binds_are_refused(self):
        s = self.s
        code, out = s.tool("ldapsearch", "-x", "-H", f"ldap://127.0.0.1:{s.ldap_port}",
                           "-b", PEOPLE, "(objectClass=*)")
        # ldapsearch without -D binds anonymously first: refused, with the setting named.
        assert code == 48 and "ldap.allow_anonymous" in out, out
        # A DN with an empty password (an "unauthenticated bind") must not pass for a login.
        code, out = s.tool("ldapwhoami", "-x", "-H", f"ldap://127.0.0.1:{s.ldap_port}",
                           "-D", "uid=alice@example.com," + PEOPLE, "-w", "")
        assert code == 53, out
        # The RootDSE is readable without a bind (RFC 4512 §5.1); ldap3 reads it so.
        unbound = Connection(Server("127.0.0.1", port=s.ldap_port, get_info=ldap3.DSA))
        unbound.open()
        assert "1.2.840.113556.1.4.319" in [c[0] for c in unbound.server.info.supported_controls]
        assert unbound.server.info.naming_contexts in (None, []), "no tenant names before a bind"
        code, out = s.tool("ldapwhoami", "-x", "-H", f"ldap://127.0.0.1:{s.ldap_port}",
                           "-D", "uid=alice@example.com,ou=people,dc=nowhere", "-w", "x")
        assert code == 49, out
        assert s.errors_logged("bind DN not under this tenant's base")

    def test_metrics_count_ldap_operations(self):
        s = self.s
        s.ldap().search(PEOPLE, "(uid=alice@example.com)", search_scope=LEVEL)
        s.ldap("uid=alice@example.com," + PEOPLE, "nope")
        conn = http.client.HTTPSConnection("127.0.0.1", s.port, context=s.tls, timeout=30)
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
        counts = {}
        for line in text.splitlines():
            if line.startswith("scimd_ldap_operations_total{"):
                labels, value = line.rsplit(" ", 1)
                counts[labels] = float(value)
        assert counts.get('scimd_ldap_operations_total{operation="bind",result="success"}', 0) >= 1, counts
        assert counts.get('scimd_ldap_operations_total{operation="bind",result="invalidCredentials"}', 0) >= 1, counts
        assert counts.get('scimd_ldap_operations_total{operation="search",result="success"}', 0) >= 1, counts

    # --- searches ------------------------------------------------------------------------

    def test_every_filter_form(self):
        s = self.s
        conn = s.ldap()
        everyone = ["alice@example.com", "bob@example.com", "carol@example.com",
                    "dave@example.com"]
        numbers = {str(e.uid): int(str(e.uidNumber))
                   for e in search(conn, PEOPLE, "(objectClass=*)", attributes=["uid", "uidNumber"])}
        bob_n = numbers["bob@example.com"]
        cases = [
            ("(uid=alice@example.com)", ["alice@example.com"]),
            ("(UID=ALICE@EXAMPLE.COM)", ["alice@example.com"]),
            ("(mail=a.liddell@example.com)", ["alice@example.com"]),
            ("(&(objectClass=inetOrgPerson)(mail=bob@example.com))", ["bob@example.com"]),
            ("(|(uid=alice@example.com)(uid=bob@example.com))",
             ["alice@example.com", "bob@example.com"]),
            ("(!(uid=alice@example.com))", everyone[1:]),
            ("(cn=Ali*)", ["alice@example.com"]),
            ("(cn=*build*)", ["bob@example.com"]),
            ("(cn=*Danvers)", ["carol@example.com"]),
            ("(cn=a*e*l)", ["alice@example.com"]),
            ("(cn=a*z*l)", []),
            ("(title=*)", ["alice@example.com"]),
            ("(!(title=*))", everyone[1:]),
            (f"(uidNumber>={bob_n})", sorted(u for u, n in numbers.items() if n >= bob_n)),
            (f"(uidNumber<={bob_n})", sorted(u for u, n in numbers.items() if n <= bob_n)),
            ("(cn~=alice liddell)", ["alice@example.com"]),
            ("(employeeNumber=1001)", ["alice@example.com"]),
            ("(departmentNumber=R&D)", ["alice@example.com"]),
            ("(memberOf=cn=Engineering,ou=groups,dc=default,dc=scimd)",
             ["alice@example.com", "bob@example.com"]),
            ("(memberOf=CN=engineering, OU=Groups, DC=default, DC=scimd)",
             ["alice@example.com", "bob@example.com"]),
            ("(manager=uid=alice@example.com,ou=people,dc=default,dc=scimd)",
             ["bob@example.com"]),
            ("(&(|(cn=a*)(cn=b*))(!(memberOf=cn=Ops,ou=groups,dc=default,dc=scimd)))",
             ["alice@example.com", "bob@example.com"]),
            ("(noSuchAttribute=x)", []),
            ("(objectClass=posixGroup)", []),
        ]
        for flt, expected in cases:
            got = uids(search(conn, PEOPLE, flt))
            assert got == expected, f"{flt}: {got} != {expected}"
        # The same forms through ldapsearch.
        for flt, expected in cases[:8]:
            code, out = s.tool("ldapsearch", "-LLL", "-x", "-H", f"ldap://127.0.0.1:{s.ldap_port}",
                               "-D", s.account["default"], "-w", s.secret["default"],
                               "-b", PEOPLE, "-s", "one", flt, "uid")
            got = sorted(l.split(": ", 1)[1] for l in out.splitlines() if l.startswith("uid: "))
            assert code == 0 and got == expected, f"ldapsearch {flt}: {got} {out}"
        # Groups by member.
        got = sorted(str(e.cn) for e in search(
            conn, GROUPS, "(member=uid=carol@example.com,ou=people,dc=default,dc=scimd)",
            attributes=["cn"]))
        assert got == ["Ops"], got

    def test_scopes_limits_selection_rootdse_and_subschema(self):
        s = self.s
        conn = s.ldap()
        assert len(search(conn, PEOPLE, "(objectClass=*)", scope=BASE)) == 1
        ous = search(conn, BASE_DN, "(objectClass=*)", scope=LEVEL, attributes=["ou"])
        assert sorted(str(e.ou) for e in ous) == ["groups", "people"], ous
        sub = search(conn, BASE_DN, "(objectClass=*)", scope=SUBTREE, attributes=["1.1"])
        assert len(sub) == 3 + 4 + 2, [e.entry_dn for e in sub]
        alice_dn = "uid=alice@example.com," + PEOPLE
        one = search(conn, alice_dn, "(objectClass=*)", scope=BASE, attributes=["uid", "mail"])
        assert len(one) == 1 and sorted(one[0].entry_attributes) == ["mail", "uid"], one
        assert sorted(one[0].mail.values) == ["a.liddell@example.com", "alice@example.com"]
        op = search(conn, alice_dn, "(objectClass=*)", scope=BASE, attributes=["+"])
        assert str(op[0].entryUUID) == self.alice, op
        assert "uid" not in op[0].entry_attributes
        every = search(conn, alice_dn, "(objectClass=*)", scope=BASE, attributes=["*"])[0]
        assert str(every.sn) == "Liddell" and str(every.givenName) == "Alice"
        assert str(every.homeDirectory) == "/home/alice@example.com"
        assert "posixAccount" in every.objectClass.values
        conn.search(PEOPLE, "(objectClass=*)", search_scope=LEVEL, size_limit=2)
        assert conn.result["result"] == 4 and len(conn.entries) == 2, conn.result
        conn.search("ou=nowhere," + BASE_DN, "(objectClass=*)")
        assert conn.result["result"] == 32, conn.result
        conn.search("uid=nobody@example.com," + PEOPLE, "(objectClass=*)", search_scope=BASE)
        assert conn.result["result"] == 32 and conn.result["dn"] == PEOPLE, conn.result
        conn.search(alice_dn, "(uid=bob@example.com)", search_scope=BASE)
        assert conn.result["result"] == 0 and conn.entries == [], conn.result
        code, out = s.tool("ldapsearch", "-LLL", "-x", "-H", f"ldap://127.0.0.1:{s.ldap_port}",
                           "-D", s.account["default"], "-w", s.secret["default"],
                           "-b", "", "-s", "base", "(objectClass=*)", "*")
        assert code == 0 and "namingContexts: " + BASE_DN in out, out
        assert "supportedControl: 1.2.840.113556.1.4.319" in out, out
        assert OTHER_BASE not in out, out
        code, out = s.tool("ldapsearch", "-LLL", "-x", "-H", f"ldap://127.0.0.1:{s.ldap_port}",
                           "-D", s.account["default"], "-w", s.secret["default"], "-b", "cn=subschema", "-s", "base", "(objectClass=*)", "objectClasses")
        assert code == 0 and "'inetOrgPerson'" in out, out
        # Groups: member DNs, posixGroup numbers, memberUid.
        g = search(conn, GROUPS, "(cn=Engineering)", attributes=["*"])[0]
        assert sorted(g.member.values) == sorted(
            ["uid=alice@example.com," + PEOPLE, "uid=bob@example.com," + PEOPLE]), g
        assert int(str(g.gidNumber)) >= 10000 and "posixGroup" in g.objectClass.values

    def test_memberof_after_group_patch(self):
        s = self.s
        conn = s.ldap()

        def groups_of(user):
            e = search(conn, PEOPLE, f"(uid={user})", attributes=["memberOf"])
            return sorted(e[0].memberOf.values) if "memberOf" in e[0].entry_attributes else []

        eng = "cn=Engineering," + GROUPS
        assert eng in groups_of("bob@example.com")
        s.patch("Groups", self.eng, [
            {"op": "remove", "path": f'members[value eq "{self.bob}"]'},
            {"op": "add", "path": "members", "value": [{"value": self.carol}]}])
        assert eng not in groups_of("bob@example.com")
        assert eng in groups_of("carol@example.com")
        got = uids(search(conn, PEOPLE, f"(memberOf={eng})"))
        assert got == ["alice@example.com", "carol@example.com"], got
        s.patch("Groups", self.eng, [
            {"op": "remove", "path": f'members[value eq "{self.carol}"]'},
            {"op": "add", "path": "members", "value": [{"value": self.bob}]}])

    def test_writes_are_refused(self):
        s = self.s
        conn = s.ldap()
        alice_dn = "uid=alice@example.com," + PEOPLE
        conn.add("uid=new@example.com," + PEOPLE, ["inetOrgPerson"], {"sn": "x", "cn": "x"})
        assert conn.result["result"] == 53 and "IdP" in conn.result["message"], conn.result
        conn.modify(alice_dn, {"title": [(ldap3.MODIFY_REPLACE, ["Boss"])]})
        assert conn.result["result"] == 53, conn.result
        conn.delete(alice_dn)
        assert conn.result["result"] == 53, conn.result
        conn.modify_dn(alice_dn, "uid=eve@example.com")
        assert conn.result["result"] == 53, conn.result
        e = search(conn, alice_dn, "(objectClass=*)", scope=BASE, attributes=["title"])
        assert str(e[0].title) == "Engineer"

    def test_compare(self):
        s = self.s
        conn = s.ldap()
        eng = "cn=Engineering," + GROUPS
        assert conn.compare(eng, "member", "uid=alice@example.com," + PEOPLE) is True
        assert conn.compare(eng, "member", "uid=carol@example.com," + PEOPLE) is False
        assert conn.compare("uid=alice@example.com," + PEOPLE, "mail", "A.LIDDELL@example.com")
        conn.compare("uid=nobody@example.com," + PEOPLE, "mail", "x")
        assert conn.result["result"] == 32, conn.result
        code, out = s.tool("ldapcompare", "-x", "-H", f"ldap://127.0.0.1:{s.ldap_port}",
                           "-D", s.account["default"], "-w", s.secret["default"],
                           "uid=bob@example.com," + PEOPLE, "title:Engineer")
        assert code == 5 and "FALSE" in out, out
        other = s.ldap(tenant="other")
        other.compare(eng, "member", "uid=alice@example.com," + PEOPLE)
        assert other.result["result"] == 32, other.result

    def test_tenant_isolation(self):
        s = self.s
        other = s.ldap(tenant="other")
        assert other.bound
        other.search(BASE_DN, "(objectClass=*)", search_scope=SUBTREE)
        assert other.result["result"] == 32 and other.entries == [], other.result
        other.search(PEOPLE, "(uid=alice@example.com)", search_scope=LEVEL)
        assert other.result["result"] == 32 and other.entries == []
        # From the common root, only its own tree.
        other.search("dc=scimd", "(objectClass=*)", search_scope=SUBTREE, attributes=["1.1"])
        dns = [e.entry_dn for e in other.entries]
        assert dns and all(d.endswith(OTHER_BASE) for d in dns), dns
        mine = s.ldap()
        assert search(mine, PEOPLE, "(uid=mallory@other.com)") == []
        assert search(mine, GROUPS, "(cn=Ops)", attributes=["member"])[0].member.values == [
            "uid=carol@example.com," + PEOPLE]
        # The other tenant's secret does not open this tenant's account DN.
        wrong = s.ldap("cn=otherapp,ou=services," + BASE_DN, s.secret["other"])
        assert not wrong.bound
        wrong = s.ldap("uid=mallory@other.com," + PEOPLE, "Mallory-pass-1")
        assert not wrong.bound

    def test_ldaps_and_starttls(self):
        s = self.s
        code, out = s.tool("ldapwhoami", "-x", "-H", f"ldaps://127.0.0.1:{s.ldaps_port}",
                           "-D", s.account["default"], "-w", s.secret["default"])
        assert code == 0 and "dn:" + s.account["default"] in out, out
        code, out = s.tool("ldapwhoami", "-x", "-ZZ", "-H", f"ldap://127.0.0.1:{s.ldap_port}",
                           "-D", "uid=alice@example.com," + PEOPLE, "-w", "Alice-pass-1")
        assert code == 0 and "dn:uid=alice@example.com" in out, out
        conn = s.ldap(tls=True)
        assert conn.bound and uids(search(conn, PEOPLE, "(uid=bob@example.com)")) == [
            "bob@example.com"]
        plain = Connection(Server("127.0.0.1", port=s.ldap_port, get_info=ldap3.NONE,
                                  tls=Tls(ca_certs_file=s.cert, validate=ssl.CERT_REQUIRED)),
                           user=s.account["default"], password=s.secret["default"])
        plain.open()
        assert plain.start_tls(), plain.result
        assert plain.bind()

    def test_paged_search_while_scim_writes_continue(self):
        s = self.s
        n = PAGED_USERS
        created = [None] * n
        errors = []

        def create(part):
            try:
                for i in range(part, n, 4):
                    created[i] = s.user(f"paged{i:05d}@example.com")
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)

        threads = [threading.Thread(target=create, args=(p,)) for p in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        stop = threading.Event()
        churn = {"created": 0, "deleted": 0, "patched": 0}

        def writer():
            i = 0
            try:
                while not stop.is_set():
                    new = s.user(f"churn{i:05d}@example.com")
                    churn["created"] += 1
                    s.patch("Users", created[(i * 7919) % n],
                            [{"op": "replace", "path": "title", "value": f"t{i}"}])
                    churn["patched"] += 1
                    if i % 2 == 0:
                        s.scim("DELETE", f"/Users/{new}")
                        churn["deleted"] += 1
                    i += 1
            except Exception as e:  # noqa: BLE001
                errors.append(e)

        w = threading.Thread(target=writer)
        w.start()
        try:
            conn = s.ldap()
            seen = {}
            pages = 0
            cookie = None
            while True:
                conn.search(PEOPLE, "(objectClass=inetOrgPerson)", search_scope=LEVEL,
                            attributes=["uid"], paged_size=500, paged_cookie=cookie)
                assert conn.result["result"] == 0, conn.result
                pages += 1
                for e in conn.entries:
                    u = str(e.uid)
                    seen[u] = seen.get(u, 0) + 1
                cookie = conn.result["controls"]["1.2.840.113556.1.4.319"]["value"]["cookie"]
                if not cookie:
                    break
        finally:
            stop.set()
            w.join()
        assert not errors, errors
        wanted = {f"paged{i:05d}@example.com" for i in range(n)}
        missing = wanted - seen.keys()
        twice = {u: c for u, c in seen.items() if c > 1}
        assert not missing, f"{len(missing)} users missing, e.g. {sorted(missing)[:5]}"
        assert not twice, f"returned more than once: {list(twice.items())[:5]}"
        assert churn["created"] > 0, churn
        print(f"    paged: {len(seen)} entries in {pages} pages while {churn} happened")


def main():
    wanted = sys.argv[1:]
    s = Scimd()
    failed = []
    try:
        suite = Suite(s)
        names = [n for n in dir(Suite) if n.startswith("test_")]
        # The paged test last: it adds thousands of users.
        names.sort(key=lambda n: (n == "test_paged_search_while_scim_writes_continue", n))
        for name in names:
            if wanted and not any(w in name for w in wanted):
                continue
            started = time.monotonic()
            try:
                getattr(suite, name)()
                print(f"PASS {name} ({time.monotonic() - started:.1f}s)")
            except Exception:  # noqa: BLE001 - every failure is reported
                failed.append(name)
                print(f"FAIL {name}")
                traceback.print_exc()
        if s.proc.poll() is not None:
            failed.append("server exited")
    finally:
        if failed:
            print(open(s.log.name).read()[-4000:])
        s.stop()
    if failed:
        print(f"{len(failed)} failed: {', '.join(failed)}")
        sys.exit(1)
    print("all LDAP tests passed")


if __name__ == "__main__":
    main()
