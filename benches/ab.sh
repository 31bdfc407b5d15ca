#!/usr/bin/env bash
# A/B throughput of two scimd servers in one run: A (the reference) and B (the candidate), each
# a release binary plus environment, on copies of the same seeded database, both up at once and
# driven alternately by wrk (2 threads, 32 connections) in short slices. On a VM whose speed
# drifts from one second to the next, slices close together see the same machine; each B slice
# is compared with the mean of the A slices either side of it. Used for "no regression"
# (before/after a change: two binaries) and "costs at most x %" (one binary, two configs).
#
# Env: A_BIN, B_BIN=path     release binaries (default: both `cargo build --release`)
#      A_ENV, B_ENV="K=V …"  extra environment of each server (e.g. SCIMD_REQUEST_LOG__ENABLED=false)
#      A_NAME, B_NAME        labels in the output (default A, B)
#      B_SQL="…"             SQL run on B's copy of the (migrated) seed before B starts, for a
#                            schema experiment with one binary (e.g. "DROP INDEX …")
#      BENCH_SEED_DIR=d      reuse d/scimd.db and d/ids.txt written by the seed bench
#      SLICES=N              pairs of slices (default 16); SLICE=S seconds each (default 4)
#      SCENARIO=name         a scenario of benches/wrk/scimd.lua (default get)
#      ACCEPT=r              the acceptance ratio printed beside the result (default 0.90)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
slices="${SLICES:-16}"
slice="${SLICE:-4}"
scenario="${SCENARIO:-get}"
a_name="${A_NAME:-A}"
b_name="${B_NAME:-B}"
command -v wrk >/dev/null || { echo "wrk is required (Debian: apt-get install wrk)" >&2; exit 1; }

if [ -z "${A_BIN:-}" ] || [ -z "${B_BIN:-}" ]; then
    cargo build --release --locked --bin scimd
    built="${CARGO_TARGET_DIR:-$root/target}/release/scimd"
    A_BIN="${A_BIN:-$built}"
    B_BIN="${B_BIN:-$built}"
fi
work="$(mktemp -d "${TMPDIR:-/tmp}/scimd-ab.XXXXXX")"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

if [ -n "${BENCH_SEED_DIR:-}" ]; then
    cp "$BENCH_SEED_DIR/scimd.db" "$BENCH_SEED_DIR/ids.txt" "$work/"
else
    cargo bench --locked --bench seed -- "$work/scimd.db" "$work/ids.txt"
fi
# Benchmarks flood on purpose: without a new install's per-token rate limit (50/s).
export SCIMD_LIMITS__REQUESTS_PER_SECOND=0
export SCIMD_CONFIG=/dev/null SCIMD_ADDRESS=127.0.0.1
# The reference binary migrates the seed and makes the token; the candidate migrates its own
# copy forward when it starts (a newer schema is its to apply, never the reference's).
token="$(SCIMD_DATABASE="$work/scimd.db" "$A_BIN" token create --name ab 2>/dev/null)"
# The copies below take the database file alone, so everything (the token, the migrations) must
# be in it, not in a write-ahead log the command left behind.
python3 -c 'import sqlite3, sys; sqlite3.connect(sys.argv[1]).execute("PRAGMA wal_checkpoint(TRUNCATE)")' \
    "$work/scimd.db"

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# start NAME BIN ENV: a server on its own copy of the seed, on port ${NAME}_port. Not in a
# subshell, so that its pid reaches the exit trap.
start() {
    mkdir "$work/$1"
    cp "$work/scimd.db" "$work/$1/"
    if [ "$1" = b ] && [ -n "${B_SQL:-}" ]; then
        python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.executescript(sys.argv[2]); c.close()' \
            "$work/b/scimd.db" "$B_SQL"
    fi
    printf -v "$1_port" '%s' "$(port)"
    local p="$1_port"
    # shellcheck disable=SC2086 # ENV is a list of K=V words on purpose
    env SCIMD_DATABASE="$work/$1/scimd.db" SCIMD_PORT="${!p}" $3 \
        "$2" serve >"$work/$1/server.log" 2>&1 &
    pids+=($!)
}
start a "$A_BIN" "${A_ENV:-}"
start b "$B_BIN" "${B_ENV:-}"
sync # the copies' writeback must not land inside a slice
for name in a b; do
    p="${name}_port"
    until curl -fs -o /dev/null "http://127.0.0.1:${!p}/healthz"; do
        if ! kill -0 "${pids[@]}" 2>/dev/null; then
            cat "$work/$name/server.log" >&2
            exit 1
        fi
        sleep 0.05
    done
done

# drive PORT SECONDS PID: prints the slice's requests per second and the server's CPU time
# per request in microseconds (user + system, from /proc), a figure that moves less than
# throughput when the VM's speed drifts.
tick_us=$((1000000 / $(getconf CLK_TCK)))
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
drive() {
    local before after
    before="$(cpu_ticks "$3")"
    # A fresh RUN_ID per slice: a create slice must not repeat the userNames of the last.
    SCENARIO="$scenario" TOKEN="$token" IDS_FILE="$work/ids.txt" RUN_ID="$1-$(date +%s%N)" \
        wrk -t2 -c32 -d"${2}s" -s "$root/benches/wrk/scimd.lua" "http://127.0.0.1:$1" >"$work/wrk.out"
    after="$(cpu_ticks "$3")"
    # A slice of refusals (a 401, a 429) measures the wrong thing: stop.
    if grep -q '"errors_status":[1-9]' "$work/wrk.out"; then
        echo "non-2xx answers in a slice on port $1:" >&2
        cat "$work/wrk.out" >&2
        exit 1
    fi
    awk -v cpu="$(((after - before) * tick_us))" \
        '/requests in/ {n = $1} /Requests\/sec/ {rps = $2} END {printf "%s %.1f\n", rps, cpu / n}' \
        "$work/wrk.out"
}
drive "$a_port" 2 "${pids[0]}" >/dev/null
drive "$b_port" 2 "${pids[1]}" >/dev/null
a=() b=() a_cpu=() b_cpu=()
for i in $(seq "$slices"); do
    read -r rps cpu < <(drive "$a_port" "$slice" "${pids[0]}")
    a+=("$rps") a_cpu+=("$cpu")
    sleep 0.5
    read -r rps cpu < <(drive "$b_port" "$slice" "${pids[1]}")
    b+=("$rps") b_cpu+=("$cpu")
    sleep 0.5
    echo "slice $i: $a_name ${a[-1]} req/s (${a_cpu[-1]} us CPU/req), $b_name ${b[-1]} req/s (${b_cpu[-1]} us CPU/req)"
done
read -r rps cpu < <(drive "$a_port" "$slice" "${pids[0]}")
a+=("$rps") a_cpu+=("$cpu")

python3 - "${a[*]}" "${b[*]}" "$scenario" "${a_cpu[*]}" "${b_cpu[*]}" "$a_name" "$b_name" "${ACCEPT:-0.90}" <<'PY'
import random, statistics, sys
a = [float(x) for x in sys.argv[1].split()]
b = [float(x) for x in sys.argv[2].split()]
scenario, a_name, b_name, accept = sys.argv[3], sys.argv[6], sys.argv[7], sys.argv[8]
a_cpu = statistics.median(float(x) for x in sys.argv[4].split())
b_cpu = statistics.median(float(x) for x in sys.argv[5].split())
bracketed = [y / ((a[i] + a[i + 1]) / 2) for i, y in enumerate(b)]
print(f"{scenario}: {a_name} {statistics.median(a):.0f} req/s, {b_name} {statistics.median(b):.0f} req/s (medians of {len(a)} and {len(b)} slices)")
print(f"ratio of medians {b_name}/{a_name}: {statistics.median(b) / statistics.median(a):.3f}")
# How far the median could move on another run of this VM: a bootstrap over the slices.
rng = random.Random(7)
medians = sorted(statistics.median(rng.choices(bracketed, k=len(bracketed))) for _ in range(2000))
print(f"median of bracketed ratios: {statistics.median(bracketed):.3f} (95% bootstrap interval {medians[49]:.3f}-{medians[1949]:.3f}, min {min(bracketed):.3f}, max {max(bracketed):.3f}; acceptance: >= {accept})")
print(f"server CPU per request (medians): {a_name} {a_cpu:.1f} us, {b_name} {b_cpu:.1f} us; {a_name}/{b_name} {a_cpu / b_cpu:.3f}")
PY
