#!/usr/bin/env bash
# OAuth acceptance (issue 28): the PyPI `authlib` client does the client credentials grant
# against a real scimd with a client secret (Basic and form) and with private_key_jwt
# (registered key and JWKS URL), then SCIM calls with the token; a replayed assertion, an
# expired token, another tenant's token and a revoked client are each refused with their
# diagnosis; and the authorization code grant with PKCE and refresh tokens (Okta's "OAuth 2"
# mode), consented by an admin signed in through the admin API (test_oauth.py).
# Usage: tests/oauth/run.sh [PATH_TO_SCIMD]   (default: the debug binary of `cargo build`)
# Env: OAUTH_VENV (default target/oauth-venv) is created and reused.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
scimd="$(realpath "${1:-$target/debug/scimd}")"
venv="${OAUTH_VENV:-$target/oauth-venv}"

[ -x "$scimd" ] || { echo "no scimd binary at $scimd; run cargo build first" >&2; exit 1; }
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
exec "$venv/bin/python" -u "$here/test_oauth.py" "$scimd" "$root/tests/fixtures/oauth"
