#!/usr/bin/env bash
# Runs the README's "Pointing an IdP at it" commands as a newcomer would paste them, against a
# real scimd: the token is created with the CLI, discovery and the list answer, and the user
# and group examples create a user and a group that holds it.
# Usage: tests/readme/run.sh [path/to/scimd]   (needs curl and python3)
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=$(realpath "${1:-target/debug/scimd}")
WORK=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cleanup() { kill "${PID:-}" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# The section's shell blocks, with `cargo run --release -q --` standing for the built binary
# and the default address for this test's port.
python3 - "$BIN" "$PORT" > "$WORK/examples.sh" <<'PY'
import re, sys
readme = open("README.md").read()
section = readme.split("## Pointing an IdP at it", 1)[1].split("\n## ", 1)[0]
blocks = re.findall(r"^```sh\n(.*?)^```", section, re.S | re.M)
if len(blocks) < 3:
    sys.exit("README: the section has fewer shell blocks than expected")
script = "\n".join(blocks)
script = script.replace("cargo run --release -q --", sys.argv[1]).replace("127.0.0.1:8080", "127.0.0.1:" + sys.argv[2])
print(script)
PY
cd "$WORK"
SCIMD_CONFIG=/dev/null SCIMD_PORT=$PORT "$BIN" serve >/dev/null 2>&1 &
PID=$!
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz" && break; sleep 0.1; done
OUT=$(SCIMD_CONFIG=/dev/null bash -euo pipefail examples.sh) || fail "the examples failed: $OUT"
grep -q '"patch":{"supported":true}' <<<"$OUT" || fail "no ServiceProviderConfig in: $OUT"
grep -q '"totalResults":0' <<<"$OUT" || fail "the Users list is missing in: $OUT"
grep -q '"displayName":"engineering"' <<<"$OUT" || fail "the group was not created: $OUT"
grep -q '"members":\[{"value":"' <<<"$OUT" || fail "the group holds no member: $OUT"
echo "ok: the README's token, discovery, user and group examples"
echo "1 passed, 0 failed"
