#!/usr/bin/env bash
# The LDAP directory against clients nobody here wrote: Debian's ldap-utils (ldapsearch,
# ldapwhoami) and PyPI's ldap3, driving a real scimd (fresh database, free ports, a
# self-signed certificate for LDAPS and StartTLS). suite.py holds the tests.
# Usage: tests/ldap/run.sh [PATH_TO_SCIMD] [TEST_NAME...]   (default: the debug binary)
# Env: LDAP_VENV (default target/ldap-venv) is created and reused.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
scimd="${1:-$target/debug/scimd}"
shift || true
venv="${LDAP_VENV:-$target/ldap-venv}"

[ -x "$scimd" ] || { echo "no scimd binary at $scimd; run cargo build first" >&2; exit 1; }
# The suite runs scimd from temporary directories: a relative path must not depend on them.
scimd="$(cd "$(dirname "$scimd")" && pwd)/$(basename "$scimd")"
for tool in ldapsearch ldapwhoami openssl; do
    command -v "$tool" >/dev/null || { echo "$tool is missing: apt-get install ldap-utils openssl" >&2; exit 1; }
done
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"

SCIMD="$scimd" "$venv/bin/python" "$here/suite.py" "$@"
