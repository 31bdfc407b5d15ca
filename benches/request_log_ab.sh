#!/usr/bin/env bash
# The request log's cost under a read flood (issue 7): benches/ab.sh with one release binary,
# the request log off (A) and on (B). Env as for ab.sh; BENCH_SCIMD names the binary.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [ -n "${BENCH_SCIMD:-}" ]; then
    export A_BIN="$BENCH_SCIMD" B_BIN="$BENCH_SCIMD"
fi
A_NAME="log off" A_ENV="SCIMD_REQUEST_LOG__ENABLED=false" \
    B_NAME="log on" B_ENV="SCIMD_REQUEST_LOG__ENABLED=true" \
    exec "$here/ab.sh"
