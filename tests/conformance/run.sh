#!/usr/bin/env bash
# SCIM conformance: starts a real scimd (fresh temporary database, free port, new token) and
# runs scim2-tester (PyPI) against it through check.py, which fails on any failed check that
# is not a documented known exception; then validates the events those changes produced
# against docs/events.schema.json (validate_events.py, the reference jsonschema validator).
# Usage: tests/conformance/run.sh [PATH_TO_SCIMD]   (default: the debug binary of `cargo build`)
# Env: CONFORMANCE_VENV (default target/conformance-venv) is created and reused.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
scimd="${1:-$target/debug/scimd}"
venv="${CONFORMANCE_VENV:-$target/conformance-venv}"

[ -x "$scimd" ] || { echo "no scimd binary at $scimd; run cargo build first" >&2; exit 1; }

if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"

work="$(mktemp -d)"
server=""
cleanup() {
    if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
export SCIMD_DATABASE="$work/scimd.db" SCIMD_PORT="$port" SCIMD_ADDRESS=127.0.0.1
# scim2-tester sends its suite at well over 50 requests per second and does not honour
# Retry-After: a new install's per-token rate limit (50 per second after a burst of 500)
# refused its last checks with 429. The limit has its own tests (tests/it/secure_defaults.rs).
export SCIMD_LIMITS__REQUESTS_PER_SECOND=0
token="$("$scimd" token create --name conformance 2>/dev/null)"
reader="$("$scimd" token create --name conformance-events --events 2>/dev/null)"
"$scimd" serve >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
    kill -0 "$server" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
    sleep 0.1
done

status=0
"$venv/bin/python" "$here/check.py" "http://127.0.0.1:$port/scim/v2" "$token" || status=$?
# Every change the tester made is in the events feed: each event must match its schema.
"$venv/bin/python" "$here/validate_events.py" "http://127.0.0.1:$port" "$reader" || status=$?
if [ "$status" -ne 0 ]; then
    echo "--- scimd log ---" >&2
    tail -n 50 "$work/server.log" >&2
fi
exit "$status"
