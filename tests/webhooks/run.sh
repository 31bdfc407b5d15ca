#!/usr/bin/env bash
# Webhook acceptance: a real scimd delivers to a receiver that verifies every signature with
# the PyPI `standardwebhooks` package (test_webhooks.py): order, receiver down then back,
# retries on 500, SIGKILL of scimd mid-delivery, secret rotation.
# Usage: tests/webhooks/run.sh [PATH_TO_SCIMD]   (default: the debug binary of `cargo build`)
# Env: WEBHOOKS_VENV (default target/webhooks-venv) is created and reused.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
scimd="${1:-$target/debug/scimd}"
venv="${WEBHOOKS_VENV:-$target/webhooks-venv}"

[ -x "$scimd" ] || { echo "no scimd binary at $scimd; run cargo build first" >&2; exit 1; }
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
exec "$venv/bin/python" "$here/test_webhooks.py" "$scimd"
