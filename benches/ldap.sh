#!/usr/bin/env bash
# scimd's LDAP directory against the reference server, Debian's OpenLDAP slapd (memberof
# overlay on), on the same machine in the same run, both searched as a service account:
# lookups by uid, by memberOf, paged dumps of all users, user binds per second, and scimd's RSS
# during the paged dump. slapd is loaded with an LDIF exported from scimd through LDAP itself.
# Usage: benches/ldap.sh [PATH_TO_SCIMD] [USERS]   (default: target/release/scimd, 10000 users)
# Needs: slapd ldap-utils (apt), python3, and an optimised scimd: `cargo build --profile bench
# --bin scimd` (no LTO, so minutes, not the release build's LTO) writes target/release/scimd.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
scimd="${1:-$target/release/scimd}"
users="${2:-10000}"
venv="${LDAP_VENV:-$target/ldap-venv}"
for tool in slapd slapadd ldapsearch ldapadd slappasswd; do
    command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] || { echo "$tool missing: apt-get install slapd ldap-utils" >&2; exit 1; }
done
[ -x "$scimd" ] || { echo "no scimd binary at $scimd" >&2; exit 1; }
if [ ! -x "$venv/bin/python" ]; then python3 -m venv "$venv"; fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$root/tests/ldap/requirements.txt"
PATH="$PATH:/usr/sbin" SCIMD="$scimd" USERS="$users" "$venv/bin/python" "$here/ldap_bench.py"
