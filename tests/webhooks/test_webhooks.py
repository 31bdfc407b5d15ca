"""Webhook acceptance (issue 23) against the real scimd binary.

A receiver (http.server) verifies every delivery with `standardwebhooks.Webhook.verify`, the
Standard Webhooks reference library from PyPI, and records what arrived. The expected events
are read from scimd's own events feed, so "none lost, in order" is checked against the outbox.

Usage: test_webhooks.py PATH_TO_SCIMD
"""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

SCIMD = sys.argv[1]
TIMEOUT = 120  # seconds to wait for any expected delivery (a loaded 2-core machine)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Receiver:
    """Records every delivery; `mode` decides the answer: 204, 500 or a slow 204."""

    def __init__(self, port):
        self.port = port
        self.lock = threading.Lock()
        self.secrets = []
        self.got = []  # dicts: id, seq, time, verified_by (indices of secrets that verify), body
        self.fail_next = 0
        self.delay = 0.0
        self.server = None

    def start(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                headers = {k: v for k, v in self.headers.items()}
                verified = []
                with receiver.lock:
                    secrets = list(receiver.secrets)
                for i, secret in enumerate(secrets):
                    try:
                        Webhook(secret).verify(body, headers)
                        verified.append(i)
                    except WebhookVerificationError:
                        pass
                event = json.loads(body)
                with receiver.lock:
                    failing = receiver.fail_next > 0
                    if failing:
                        receiver.fail_next -= 1
                    delay = receiver.delay
                    receiver.got.append(
                        {
                            "id": headers.get("webhook-id") or headers.get("Webhook-Id"),
                            "seq": event.get("seq"),
                            "event_id": event.get("id"),
                            "time": time.monotonic(),
                            "verified_by": verified,
                            "answered": 500 if failing else 204,
                            "body": body,
                        }
                    )
                if delay:
                    time.sleep(delay)
                status = 500 if failing else 204
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                # scimd killed with SIGKILL resets its connections: expected here.
                if not isinstance(sys.exc_info()[1], ConnectionError):
                    super().handle_error(request, client_address)

        self.server = Server(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def accepted(self):
        with self.lock:
            return [g for g in self.got if g["answered"] == 204]

    def all(self):
        with self.lock:
            return list(self.got)


class Scimd:
    def __init__(self, work):
        self.work = work
        self.port = free_port()
        self.env = dict(
            os.environ,
            SCIMD_DATABASE=os.path.join(work, "scimd.db"),
            SCIMD_PORT=str(self.port),
            SCIMD_ADDRESS="127.0.0.1",
            SCIMD_WEBHOOKS__ALLOW_HTTP="true",
            SCIMD_WEBHOOKS__RETRY_INITIAL_MS="200",
            SCIMD_WEBHOOKS__RETRY_MAX_DELAY_SECS="2",
            RUST_LOG="warn",
        )
        self.proc = None
        self.token = self.cli("token", "create", "--name", "idp")
        self.reader = self.cli("token", "create", "--name", "app", "--events")

    def cli(self, *args):
        out = subprocess.run(
            [SCIMD, *args], env=self.env, check=True, capture_output=True, text=True
        )
        return out.stdout.strip()

    def start(self):
        log = open(os.path.join(self.work, "server.log"), "ab")
        self.proc = subprocess.Popen([SCIMD, "serve"], env=self.env, stdout=log, stderr=log)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2)
                return
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError("scimd exited at start; see server.log")
                time.sleep(0.1)
        raise RuntimeError("scimd did not start")

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)

    def create_user(self, name):
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/scim/v2/Users",
            data=json.dumps(
                {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name}
            ).encode(),
            headers={
                "Authorization": f"Bearer {self.token}",
                "Content-Type": "application/scim+json",
            },
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=30) as r:
            assert r.status == 201, r.status

    def feed(self, after=0):
        """Every event of the default tenant after `after`, from the pull feed."""
        events = []
        while True:
            req = urllib.request.Request(
                f"http://127.0.0.1:{self.port}/events?after={after}&limit=1000",
                headers={"Authorization": f"Bearer {self.reader}"},
            )
            with urllib.request.urlopen(req, timeout=30) as r:
                page = json.load(r)
            events += page["events"]
            after = page["next_after"]
            if not page["has_more"]:
                return events


def wait_for(what, predicate, timeout=TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def check_delivered(receiver, expected, label):
    """Every expected event accepted, the first acceptance of each in feed order, every
    delivery signed validly, a repeated event with the same webhook-id and the same bytes."""
    want = [e["id"] for e in expected]
    wait_for(
        f"{label}: {len(want)} events",
        lambda: set(want) <= {g["id"] for g in receiver.accepted()},
    )
    got = receiver.all()
    unsigned = [g for g in got if not g["verified_by"]]
    assert not unsigned, f"{label}: deliveries whose signature did not verify: {unsigned[:3]}"
    relevant = [g for g in got if g["id"] in set(want)]
    first_seen = []
    for g in relevant:
        if g["id"] not in first_seen:
            first_seen.append(g["id"])
    assert first_seen == want, f"{label}: out of order: {first_seen[:10]} vs {want[:10]}"
    by_id = {}
    for g in relevant:
        assert g["id"] == g["event_id"], f"{label}: webhook-id {g['id']} is not the event id"
        by_id.setdefault(g["id"], set()).add(g["body"])
    changed = [i for i, bodies in by_id.items() if len(bodies) != 1]
    assert not changed, f"{label}: a retry sent other bytes: {changed[:3]}"
    return len(relevant) - len(want)


def main():
    work = tempfile.mkdtemp()
    scimd = Scimd(work)
    receiver = Receiver(free_port())
    receiver.start()
    scimd.start()
    url = f"http://127.0.0.1:{receiver.port}/hook"
    secret = scimd.cli("webhook", "add", "--url", url)
    assert secret.startswith("whsec_"), secret
    receiver.secrets = [secret]
    hook_id = json.loads(scimd.cli("webhook", "list", "--json"))[0]["id"]
    try:
        # 1. In order, every signature valid.
        start = len(scimd.feed())
        for i in range(50):
            scimd.create_user(f"order{i}")
        expected = scimd.feed()[start:]
        assert len(expected) == 50
        check_delivered(receiver, expected, "in order")
        print("ok: 50 events delivered in order, every signature verified by standardwebhooks")

        # 2. Receiver down for a while, then back: every event, in order, none lost.
        receiver.stop()
        before = len(scimd.feed())
        for i in range(20):
            scimd.create_user(f"down{i}")
        time.sleep(3)  # scimd retries against a closed port meanwhile
        receiver.start()
        expected = scimd.feed()[before:]
        check_delivered(receiver, expected, "after an outage")
        print("ok: receiver down 3 s, then all 20 events delivered in order")

        # 3. 500s: retried with growing delays, the same webhook-id every time.
        with receiver.lock:
            receiver.fail_next = 4
        before = len(scimd.feed())
        scimd.create_user("retried")
        expected = scimd.feed()[before:]
        check_delivered(receiver, expected, "after 500s")
        tries = [g for g in receiver.all() if g["id"] == expected[0]["id"]]
        assert [t["answered"] for t in tries] == [500, 500, 500, 500, 204], tries
        gaps = [b["time"] - a["time"] for a, b in zip(tries, tries[1:])]
        assert gaps[-1] > gaps[0], f"delays did not grow: {gaps}"
        print(f"ok: 4 × 500 then 204, same webhook-id, delays {[round(g, 2) for g in gaps]} s")

        # 4. SIGKILL mid-delivery: nothing lost, duplicates only with the same webhook-id.
        with receiver.lock:
            receiver.delay = 0.02
        before = len(scimd.feed())
        for i in range(150):
            scimd.create_user(f"kill{i}")
        expected = scimd.feed()[before:]
        wanted = {e["id"] for e in expected}
        wait_for("deliveries under way", lambda: len([g for g in receiver.accepted() if g["id"] in wanted]) >= 20)
        scimd.kill()
        scimd.start()
        with receiver.lock:
            receiver.delay = 0.0
        dupes = check_delivered(receiver, expected, "across a SIGKILL")
        print(f"ok: SIGKILL mid-delivery, all 150 events delivered, {dupes} repeated with their webhook-id")

        # 5. Rotation: during the overlap both secrets' signatures are sent and valid.
        new = scimd.cli("webhook", "rotate-secret", hook_id)
        assert new.startswith("whsec_") and new != secret
        before = len(scimd.feed())
        with receiver.lock:
            receiver.secrets = [secret, new]
            mark = len(receiver.got)
        scimd.create_user("rotated")
        expected = scimd.feed()[before:]
        check_delivered(receiver, expected, "after a rotation")
        rotated = [g for g in receiver.all()[mark:] if g["id"] == expected[0]["id"]]
        assert rotated and all(g["verified_by"] == [0, 1] for g in rotated), rotated
        print("ok: after rotate-secret, each delivery verifies with the old and the new secret")
    except BaseException:
        sys.stderr.write(open(os.path.join(work, "server.log"), errors="replace").read()[-4000:])
        raise
    finally:
        scimd.stop()
        receiver.stop()


if __name__ == "__main__":
    main()
