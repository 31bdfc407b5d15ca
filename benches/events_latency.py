#!/usr/bin/env python3
"""Commit-to-long-poll latency of the events feed (issue 22): a release scimd, an IdP creating
users at a steady rate (default 200 writes/s) over keep-alive connections, and one consumer
long-polling GET /events?wait=30. For every user created, the time from the write's request
(an upper bound on its commit) and from its 2xx (a lower bound) to the consumer holding the
event. Prints both distributions; the acceptance is p99 <= 100 ms at 200 writes/s.

Env: SCIMD_BIN (default target/release/scimd), RATE (writes/s, default 200), SECONDS (default
30), WRITERS (threads, default 8). Standard library only.
"""
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("SCIMD_BIN", os.path.join(ROOT, "target", "release", "scimd"))
RATE = float(os.environ.get("RATE", "200"))
SECONDS = float(os.environ.get("SECONDS", "30"))
WRITERS = int(os.environ.get("WRITERS", "8"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(env, *args):
    return subprocess.run([BIN, *args], env=env, check=True, capture_output=True, text=True).stdout.strip()


def percentile(values, q):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, max(0, int(q * len(values) + 0.999999) - 1))]


def describe(label, seconds):
    ms = [s * 1000 for s in seconds]
    print(
        f"{label:<34} n={len(ms):<6} p50 {percentile(ms, .5):7.2f} ms  p90 {percentile(ms, .9):7.2f} ms  "
        f"p99 {percentile(ms, .99):7.2f} ms  max {max(ms):7.2f} ms"
    )
    buckets = [1, 2, 5, 10, 20, 50, 100, 200, 500]
    counts = [sum(1 for m in ms if m <= b) for b in buckets]
    print("  cumulative: " + ", ".join(f"<={b} ms {c / len(ms):.1%}" for b, c in zip(buckets, counts)))


def main():
    if not os.path.exists(BIN):
        sys.exit(f"{BIN} not found: cargo build --release first, or set SCIMD_BIN")
    work = tempfile.mkdtemp(prefix="scimd-events-latency.")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCIMD_")}
    # RATE writes per second (200 by default) is above a new install's per-token rate limit.
    env.update(SCIMD_LIMITS__REQUESTS_PER_SECOND="0",
               SCIMD_CONFIG="/dev/null", SCIMD_DATABASE=os.path.join(work, "scimd.db"),
               SCIMD_ADDRESS="127.0.0.1", SCIMD_PORT=str(port))
    token = cli(env, "token", "create", "--name", "okta")
    reader = cli(env, "token", "create", "--name", "app", "--events")
    server = subprocess.Popen([BIN, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                c.request("GET", "/healthz")
                if c.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.05)
        sent, acked, received = {}, {}, {}
        lock = threading.Lock()
        stop = threading.Event()

        def consume():
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            after = 0
            while not stop.is_set():
                try:
                    conn.request("GET", f"/events?after={after}&limit=1000&wait=30",
                                 headers={"Authorization": f"Bearer {reader}"})
                    page = json.loads(conn.getresponse().read())
                except (OSError, http.client.HTTPException):
                    return  # the server stopped at the end of the run
                now = time.monotonic()
                for e in page["events"]:
                    with lock:
                        received[e["resource"]["id"]] = now
                after = page["next_after"]

        def write(worker):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            interval = WRITERS / RATE
            start = time.monotonic() + worker * interval / WRITERS
            i = 0
            while True:
                due = start + i * interval
                if due > begin + SECONDS:
                    return
                pause = due - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                body = json.dumps({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                                   "userName": f"w{worker}-{i}@latency.test", "active": True})
                t0 = time.monotonic()
                conn.request("POST", "/scim/v2/Users", body=body, headers={
                    "Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"})
                r = conn.getresponse()
                reply = json.loads(r.read())
                t1 = time.monotonic()
                if r.status == 201:
                    with lock:
                        sent[reply["id"]], acked[reply["id"]] = t0, t1
                i += 1

        consumer = threading.Thread(target=consume, daemon=True)
        consumer.start()
        time.sleep(0.5)
        begin = time.monotonic()
        writers = [threading.Thread(target=write, args=(w,)) for w in range(WRITERS)]
        for w in writers:
            w.start()
        for w in writers:
            w.join()
        elapsed = time.monotonic() - begin
        time.sleep(1)
        stop.set()
        with lock:
            missing = [i for i in sent if i not in received]
            from_send = [received[i] - sent[i] for i in sent if i in received]
            from_ack = [max(0.0, received[i] - acked[i]) for i in sent if i in received]
        print(f"{len(sent)} creates in {elapsed:.1f} s ({len(sent) / elapsed:.0f}/s, target {RATE:.0f}/s), "
              f"{len(missing)} without an event")
        describe("write sent -> event received", from_send)
        describe("write acknowledged -> event received", from_ack)
        print("acceptance: p99 (write sent -> event received) <= 100 ms at 200 writes/s")
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
