#!/usr/bin/env bash
# The HTTP benchmark of scimd, in one command: builds (or takes) a release scimd with the
# `bench-hello` reference route, seeds 100,000 users and 1,000 groups (one of 50,000
# members), measures start-up and idle memory, drives each scenario with wrk (2 threads,
# 32 connections, BENCH_DURATION seconds), measures the raw durable-insert ceiling, and
# writes benches/results/latest.{json,md}. Every read scenario is also reported as a share of
# two baselines measured in the same run (benches/baselines/): a bare Rocket 0.5 hello route
# (the framework's own ceiling, the reference of issue 29) and a bare hyper one (context).
# See benches/README.md for what each number means.
#
# Env: BENCH_SCIMD=path   use this binary instead of `cargo build --release --features bench-hello`
#      BENCH_DURATION=N seconds per scenario (default 15; the run stays under 10 minutes up to 30)
#      BENCH_OUT=dir    where results go (default benches/results)
#      BENCH_SEED_DIR=d reuse d/scimd.db and d/ids.txt written by the seed bench instead of seeding
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
target="${CARGO_TARGET_DIR:-$root/target}"
duration="${BENCH_DURATION:-15}"
out="${BENCH_OUT:-$root/benches/results}"
conns=32
threads=2
command -v wrk >/dev/null || { echo "wrk is required (Debian: apt-get install wrk)" >&2; exit 1; }

if [ -z "${BENCH_SCIMD:-}" ]; then
    cargo build --release --locked --features bench-hello --bin scimd
    BENCH_SCIMD="$target/release/scimd"
fi
# The seeder and the raw-insert reference are bench targets; the dev profile reuses the
# test build's dependencies (SQLite's cost there is the fsync, not the CPU).
bench_bin() {
    cargo build --locked --profile dev --bench "$1" --message-format=json 2>/dev/null |
        python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == sys.argv[1]:
        print(m["executable"])' "$1"
}
seed_bin="$(bench_bin seed)"
raw_bin="$(bench_bin raw_insert)"
# The baselines: tiny packages of their own, release-built once into the target directory.
baseline_bin() {
    cargo build --release --locked --quiet --manifest-path "$root/benches/baselines/$1/Cargo.toml" \
        --target-dir "$target/baselines"
    echo "$target/baselines/release/bench-$1"
}
rocket_bin="$(baseline_bin hello-rocket)"
hyper_bin="$(baseline_bin hello-hyper)"

started_at=$(date +%s)
work="$(mktemp -d "${TMPDIR:-/tmp}/scimd-bench.XXXXXX")"
pid=""
stop_server() {
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=""; fi
}
trap 'stop_server; rm -rf "$work"' EXIT
mkdir -p "$out"
results="$work/results.jsonl"
: >"$results"

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
# No /etc/scimd/scimd.toml: only the settings below.
# Benchmarks flood on purpose: without a new install's per-token rate limit (50/s).
export SCIMD_LIMITS__REQUESTS_PER_SECOND=0
export SCIMD_CONFIG=/dev/null SCIMD_DATABASE="$work/scimd.db" SCIMD_PORT="$port" SCIMD_ADDRESS=127.0.0.1
base="http://127.0.0.1:$port"

if [ -n "${BENCH_SEED_DIR:-}" ]; then
    # A database seeded by an earlier run (`seed DIR/scimd.db DIR/ids.txt`), copied so the
    # original stays untouched; saves the minute seeding takes.
    echo "== copying the seeded database from $BENCH_SEED_DIR"
    cp "$BENCH_SEED_DIR/scimd.db" "$SCIMD_DATABASE"
    cp "$BENCH_SEED_DIR/ids.txt" "$work/ids.txt"
else
    echo "== seeding $work/scimd.db"
    "$seed_bin" "$SCIMD_DATABASE" "$work/ids.txt"
fi
token="$("$BENCH_SCIMD" token create --name "bench-$started_at" 2>"$work/token.err")" ||
    { cat "$work/token.err" >&2; exit 1; }

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
hwm_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# Starts scimd (in this shell, so $pid is kept) and sets $last_start_ms to the milliseconds
# from exec to the first answered request: GET /healthz, which reads the database. (A first
# GET /Users would add the cost of counting 100,000 users, which the list scenario measures.)
start_server() {
    local t0 t1
    t0=$(date +%s%N)
    "$BENCH_SCIMD" serve >>"$work/server.log" 2>&1 &
    pid=$!
    until curl -fs -o /dev/null "$base/healthz"; do
        kill -0 "$pid" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
        sleep 0.002
    done
    t1=$(date +%s%N)
    last_start_ms=$(((t1 - t0) / 1000000))
}

echo "== start-up with 100,000 users"
start_server # the first start creates the admin account; not what is measured
starts=()
for _ in 1 2 3; do
    stop_server
    start_server
    starts+=("$last_start_ms")
done
start_ms=$(printf '%s\n' "${starts[@]}" | sort -n | sed -n 2p)
sleep 1
idle_kib=$(rss_kib "$pid")
echo "start ${starts[*]} ms (median $start_ms), idle RSS $((idle_kib / 1024)) MiB"

# wrk stops sending when its time is up, but requests it left queued inside scimd still run;
# the next scenario must not start while they do. /healthz needs a reader connection like
# every SCIM read, so it answers only once the backlog is gone.
drain() {
    local t0=$SECONDS
    until curl -fs -o /dev/null --max-time 60 "$base/healthz"; do
        [ $((SECONDS - t0)) -lt 120 ] || { echo "scimd did not drain after $1" >&2; exit 1; }
    done
    [ $((SECONDS - t0)) -lt 2 ] || echo "  ($1 left a backlog: drained in $((SECONDS - t0)) s)"
}

run() {
    local name=$1 max=0 r sampler
    (while sleep 0.5; do rss_kib "$pid"; done) >"$work/rss.$name" &
    sampler=$!
    SCENARIO=$name TOKEN=$token IDS_FILE=$work/ids.txt RUN_ID=$started_at \
        wrk -t"$threads" -c"$conns" -d"${duration}s" --timeout 10s -s "$root/benches/wrk/scimd.lua" "$base" \
        >"$work/wrk.$name" 2>&1 || true
    kill "$sampler" 2>/dev/null || true
    wait "$sampler" 2>/dev/null || true
    drain "$name"
    max=$(sort -n "$work/rss.$name" | tail -1)
    r=$(grep '^{"requests"' "$work/wrk.$name" || true)
    if [ -z "$r" ]; then
        cat "$work/wrk.$name" >&2
        echo "wrk produced no result for $name" >&2
        exit 1
    fi
    echo "{\"name\":\"$name\",\"rss_max_kib\":${max:-0},${r#\{}" >>"$results"
    echo "$name: $r"
}

# baseline NAME BIN: the hello scenario against a baseline server, up only while it runs;
# scimd idles meanwhile.
baseline() {
    local bport bpid r
    bport="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    PORT=$bport "$2" >/dev/null 2>&1 &
    bpid=$!
    until curl -fs -o /dev/null "http://127.0.0.1:$bport/bench/hello"; do
        kill -0 "$bpid" 2>/dev/null || { echo "baseline $2 did not start" >&2; exit 1; }
        sleep 0.02
    done
    SCENARIO=hello wrk -t"$threads" -c"$conns" -d3s -s "$root/benches/wrk/scimd.lua" "http://127.0.0.1:$bport" >/dev/null
    SCENARIO=hello wrk -t"$threads" -c"$conns" -d"${duration}s" --timeout 10s -s "$root/benches/wrk/scimd.lua" \
        "http://127.0.0.1:$bport" >"$work/wrk.$1" 2>&1 || true
    kill "$bpid"; wait "$bpid" 2>/dev/null || true
    r=$(grep '^{"requests"' "$work/wrk.$1") || { cat "$work/wrk.$1" >&2; exit 1; }
    echo "{\"name\":\"$1\",${r#\{}" >>"$results"
    echo "$1: $r"
}

echo "== load: $threads threads, $conns connections, ${duration}s per scenario"
# The Rocket baseline runs before and after scimd's scenarios: the reference is their mean,
# and how far they differ says how much the machine drifted during the run.
baseline rocket_hello_before "$rocket_bin"
baseline hyper_hello "$hyper_bin"
SCENARIO=hello TOKEN=$token wrk -t"$threads" -c"$conns" -d3s -s "$root/benches/wrk/scimd.lua" "$base" >/dev/null # warm-up
for s in hello filter get list group_get patch member_add_small member_add_big create; do
    run "$s"
done
load_hwm_kib=$(hwm_kib "$pid")
sleep 2
after_kib=$(rss_kib "$pid")
stop_server
baseline rocket_hello_after "$rocket_bin"

echo "== raw durable inserts (${duration}s)"
BENCH_TMP="$work" "$raw_bin" "$duration" "$work/raw.json"
cat "$work/raw.json" >>"$results"
echo >>"$results"
cat "$work/raw.json"; echo

python3 "$root/benches/report.py" "$results" "$out" \
    --start-ms "$start_ms" --starts "${starts[*]}" --idle-kib "$idle_kib" --hwm-kib "$load_hwm_kib" --after-kib "$after_kib" \
    --duration "$duration" --conns "$conns" --threads "$threads" --elapsed "$(($(date +%s) - started_at))"
