"""benches/ldap.sh's driver: seeds scimd over SCIM, exports its tree over LDAP into slapd, then
runs the same client workload against both and prints each number beside slapd's."""

import base64
import http.client
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

from ldap3 import LEVEL, Connection, Server

SCIMD = os.environ["SCIMD"]
N = int(os.environ.get("USERS", "10000"))
GROUPS = 10
BINDERS = 20
PASSWORD = "Bench-pass-1"
BASE = "dc=default,dc=scimd"
PEOPLE = "ou=people," + BASE
SECONDS = float(os.environ.get("SECONDS_PER_TEST", "5"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc):
    for _ in range(400):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if proc.poll() is not None:
                sys.exit(f"server exited ({proc.returncode})")
            time.sleep(0.05)
    sys.exit(f"nothing listens on {port}")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Scimd:
    def __init__(self, work):
        self.port, self.ldap = free_port(), free_port()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("SCIMD_")}
        # A benchmark seeds users as fast as it can: without a new install's rate limit.
        self.env.update({"SCIMD_LIMITS__REQUESTS_PER_SECOND": "0",
                         "SCIMD_CONFIG": "/dev/null", "SCIMD_DATABASE": f"{work}/scimd.db",
                         "SCIMD_PORT": str(self.port), "SCIMD_LDAP__ENABLED": "true",
                         "SCIMD_LDAP__PORT": str(self.ldap), "SCIMD_LDAP__SIZE_LIMIT": "1000000",
                         "RUST_LOG": "warn"})
        run = lambda *a: subprocess.run([SCIMD, *a], env=self.env, cwd=work, check=True,
                                        capture_output=True, text=True).stdout.strip()
        self.token = run("token", "create", "--name", "bench")
        self.secret = run("ldap", "account", "add", "bench")
        self.bind_dn = "cn=bench,ou=services," + BASE
        self.proc = subprocess.Popen([SCIMD, "serve"], env=self.env, cwd=work,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.ldap, self.proc)
        self.local = threading.local()

    def scim(self, method, path, body):
        c = getattr(self.local, "c", None)
        if c is None:
            c = self.local.c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        c.request(method, "/scim/v2" + path, body=json.dumps(body),
                  headers={"Authorization": "Bearer " + self.token,
                           "Content-Type": "application/scim+json"})
        r = c.getresponse()
        data = r.read()
        if r.status >= 300:
            sys.exit(f"{method} {path}: {r.status} {data[:200]!r}")
        return json.loads(data) if data else None

    def seed(self):
        ids = [None] * N

        def work(part):
            for i in range(part, N, 4):
                u = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                     "userName": f"u{i:06d}@example.com", "displayName": f"User {i}",
                     "name": {"givenName": "User", "familyName": f"N{i}"},
                     "emails": [{"value": f"u{i:06d}@example.com", "primary": True}],
                     "title": "Engineer"}
                if i < BINDERS:
                    u["password"] = PASSWORD
                ids[i] = self.scim("POST", "/Users", u)["id"]

        ts = [threading.Thread(target=work, args=(p,)) for p in range(4)]
        [t.start() for t in ts]
        [t.join() for t in ts]
        for g in range(GROUPS):
            gid = self.scim("POST", "/Groups", {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": f"g{g}"})["id"]
            members = [ids[i] for i in range(g, N, GROUPS)]
            for k in range(0, len(members), 500):
                self.scim("PATCH", f"/Groups/{gid}", {
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "add", "path": "members",
                                    "value": [{"value": m} for m in members[k:k + 500]]}]})


def parse_ldif(text):
    entries, cur = [], []
    lines = text.splitlines()
    merged = []
    for line in lines:
        if line.startswith(" ") and merged:
            merged[-1] += line[1:]
        else:
            merged.append(line)
    for line in merged + [""]:
        if not line.strip():
            if cur:
                entries.append(cur)
            cur = []
            continue
        if line.startswith("#"):
            continue
        if ":: " in line:
            k, v = line.split(":: ", 1)
            v = base64.b64decode(v).decode()
        else:
            k, v = line.split(": ", 1)
        cur.append((k, v))
    return entries


def to_slapd(entries, hashed):
    """scimd's export as slapd takes it: posixGroup/groupOfUniqueNames are structural there,
    memberOf is the overlay's, scimdActive is scimd's own."""
    out = ["dn: dc=scimd\nobjectClass: top\nobjectClass: domain\ndc: scimd\n"]
    users, groups, rest = [], [], []
    for e in entries:
        dn = e[0][1]
        attrs = e[1:]
        classes = [v for k, v in attrs if k == "objectClass"]
        if "groupOfNames" in classes:
            attrs = [(k, v) for k, v in attrs if k in ("cn", "member", "description")]
            attrs = [("objectClass", "top"), ("objectClass", "groupOfNames")] + attrs
            groups.append((dn, attrs))
            continue
        attrs = [(k, v) for k, v in attrs if k not in ("memberOf", "scimdActive")]
        if "inetOrgPerson" in classes:
            uid = dict(attrs).get("uid", "")
            if int(uid[1:7]) < BINDERS:
                attrs.append(("userPassword", hashed))
            users.append((dn, attrs))
        else:
            rest.append((dn, attrs))
    for dn, attrs in rest + users + groups:
        out.append(f"dn: {dn}\n" + "".join(f"{k}: {v}\n" for k, v in attrs))
    return "\n".join(out)


def start_slapd(work, ldif):
    port = free_port()
    db = f"{work}/slapd-db"
    os.makedirs(db)
    conf = f"""include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/nis.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
pidfile {work}/slapd.pid
sizelimit unlimited
database mdb
suffix "dc=scimd"
rootdn "cn=admin,dc=scimd"
rootpw admin-secret
directory {db}
maxsize 4294967296
index objectClass eq
index uid eq
index mail eq
index cn eq
overlay memberof
access to attrs=userPassword by anonymous auth by * none
access to * by * read
"""
    with open(f"{work}/slapd.conf", "w") as f:
        f.write(conf)
    proc = subprocess.Popen(["slapd", "-f", f"{work}/slapd.conf", "-h", f"ldap://127.0.0.1:{port}/",
                             "-d", "0"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port, proc)
    with open(f"{work}/data.ldif", "w") as f:
        f.write(ldif)
    subprocess.run(["ldapadd", "-x", "-H", f"ldap://127.0.0.1:{port}", "-D", "cn=admin,dc=scimd",
                    "-w", "admin-secret", "-f", f"{work}/data.ldif"], check=True,
                   stdout=subprocess.DEVNULL)
    return proc, port


def rate(port, bind_dn, pw, op, threads=2):
    """Operations per second of `op(conn, rng)` over SECONDS on `threads` connections."""
    counts = [0] * threads
    stop = time.monotonic() + SECONDS

    def run(k):
        conn = Connection(Server("127.0.0.1", port=port, get_info=None), user=bind_dn,
                          password=pw, auto_bind=True, check_names=False)
        rng = random.Random(k)
        while time.monotonic() < stop:
            op(conn, rng)
            counts[k] += 1

    ts = [threading.Thread(target=run, args=(k,)) for k in range(threads)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    return sum(counts) / SECONDS


def by_uid(conn, rng):
    conn.search(PEOPLE, f"(uid=u{rng.randrange(N):06d}@example.com)", search_scope=LEVEL,
                attributes=["uid", "mail", "cn"])
    assert len(conn.entries) == 1, conn.result


def by_member_of(conn, rng):
    conn.search(PEOPLE, f"(memberOf=cn=g{rng.randrange(GROUPS)},ou=groups,{BASE})",
                search_scope=LEVEL, attributes=["uid"], paged_size=1000)


def user_bind(conn, rng):
    i = rng.randrange(BINDERS)
    assert conn.rebind(user=f"uid=u{i:06d}@example.com,{PEOPLE}", password=PASSWORD), conn.result


def dump(port, bind_dn, pw, pid=None):
    """Seconds for one paged dump of every user with ldapsearch (C client), and peak RSS."""
    peak = [0]
    done = threading.Event()

    def watch():
        while pid and not done.is_set():
            peak[0] = max(peak[0], rss_kib(pid))
            time.sleep(0.02)

    w = threading.Thread(target=watch)
    w.start()
    started = time.monotonic()
    out = subprocess.run(["ldapsearch", "-x", "-LLL", "-H", f"ldap://127.0.0.1:{port}", "-D", bind_dn,
                          "-w", pw, "-b", PEOPLE, "-s", "one", "-E", "pr=1000/noprompt",
                          "(objectClass=inetOrgPerson)", "uid", "mail", "cn"],
                         check=True, capture_output=True, text=True)
    took = time.monotonic() - started
    done.set()
    w.join()
    got = out.stdout.count("\ndn: ") + out.stdout.startswith("dn: ")
    assert got == N, f"dump returned {got} of {N}"
    return took, peak[0]


def main():
    work = tempfile.mkdtemp(prefix="scimd-ldap-bench-")
    s = Scimd(work)
    slapd = None
    try:
        t0 = time.monotonic()
        s.seed()
        print(f"seeded {N} users in {GROUPS} groups over SCIM in {time.monotonic() - t0:.0f}s")
        export = subprocess.run(["ldapsearch", "-x", "-LLL", "-o", "ldif-wrap=no", "-H",
                                 f"ldap://127.0.0.1:{s.ldap}", "-D", s.bind_dn, "-w", s.secret,
                                 "-b", BASE, "-E", "pr=1000/noprompt", "(objectClass=*)", "*"],
                                check=True, capture_output=True, text=True).stdout
        hashed = subprocess.run(["slappasswd", "-s", PASSWORD], check=True, capture_output=True,
                                text=True).stdout.strip()
        entries = parse_ldif(export)
        slapd, sport = start_slapd(work, to_slapd(entries, hashed))
        print(f"exported {len(entries)} entries from scimd over LDAP and loaded them into slapd")
        sides = {"scimd": (s.ldap, s.bind_dn, s.secret, s.proc.pid),
                 "slapd": (sport, "cn=admin,dc=scimd", "admin-secret", slapd.pid)}
        results = {}
        for name, (port, dn, pw, pid) in sides.items():
            r = {}
            r["uid lookups/s"] = rate(port, dn, pw, by_uid)
            r["memberOf searches/s"] = rate(port, dn, pw, by_member_of)
            took = []
            peak = 0
            for _ in range(3):
                t, p = dump(port, dn, pw, pid)
                took.append(t)
                peak = max(peak, p)
            r["paged dumps/s"] = 1 / min(took)
            r["user binds/s"] = rate(port, dn, pw, user_bind)
            r["RSS during dump (MiB)"] = peak / 1024
            results[name] = r
        print(f"\n{N} users, {GROUPS} groups; client: ldap3 (2 threads) and ldapsearch; same machine")
        print(f"{'measure':<24}{'scimd':>12}{'slapd':>12}{'scimd/slapd':>14}")
        for k in results["scimd"]:
            a, b = results["scimd"][k], results["slapd"][k]
            ratio = f"{a / b * 100:.0f} %" if b else "-"
            print(f"{k:<24}{a:>12.1f}{b:>12.1f}{ratio:>14}")
        print("user binds: scimd verifies argon2id (19 MiB, t=2) per bind; slapd {SSHA} (one SHA-1)")
    finally:
        s.proc.terminate()
        s.proc.wait()
        if slapd:
            slapd.terminate()
            slapd.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
