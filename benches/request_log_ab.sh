#!/usr/bin/env bash
# The request log's cost under a read flood (issue 7): two release scimd servers on copies of
# the same seeded database, one with `[request_log] enabled = false`, one with it on, both up
# at once and driven alternately by wrk (2 threads, 32 connections) in short slices. On a VM
# whose speed drifts from one second to the next, slices close together see the same machine;
# each "on" slice is compared with the mean of the "off" slices either side of it.
#
# Env: BENCH_SCIMD=path   a release scimd (default: cargo build --release)
#      BENCH_SEED_DIR=d   reuse d/scimd.db and d/ids.txt written by the seed bench
#      SLICES=N           pairs of slices (default 16); SLICE=S seconds each (default 4)
#      SCENARIO=name      a scenario of benches/wrk/scimd.lua (default get)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
slices="${SLICES:-16}"
slice="${SLICE:-4}"
scenario="${SCENARIO:-get}"
command -v wrk >/dev/null || { echo "wrk is required (Debian: apt-get install wrk)" >&2; exit 1; }

if [ -z "${BENCH_SCIMD:-}" ]; then
    cargo build --release --locked --bin scimd
    BENCH_SCIMD="${CARGO_TARGET_DIR:-$root/target}/release/scimd"
fi
work="$(mktemp -d "${TMPDIR:-/tmp}/scimd-log-ab.XXXXXX")"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

if [ -n "${BENCH_SEED_DIR:-}" ]; then
    cp "$BENCH_SEED_DIR/scimd.db" "$BENCH_SEED_DIR/ids.txt" "$work/"
else
    cargo bench --locked --bench seed -- "$work/scimd.db" "$work/ids.txt"
fi
export SCIMD_CONFIG=/dev/null SCIMD_ADDRESS=127.0.0.1
token="$(SCIMD_DATABASE="$work/scimd.db" "$BENCH_SCIMD" token create --name log-ab 2>/dev/null)"

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# start NAME LOG_ENABLED: a server on its own copy of the seed, on port ${NAME}_port. Not in
# a subshell, so that its pid reaches the exit trap.
start() {
    mkdir "$work/$1"
    cp "$work/scimd.db" "$work/$1/"
    printf -v "$1_port" '%s' "$(port)"
    local p="$1_port"
    SCIMD_DATABASE="$work/$1/scimd.db" SCIMD_PORT="${!p}" SCIMD_REQUEST_LOG__ENABLED="$2" \
        "$BENCH_SCIMD" serve >"$work/$1/server.log" 2>&1 &
    pids+=($!)
}
start off false
start on true
sync # the copies' writeback must not land inside a slice
for name in off on; do
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
    SCENARIO="$scenario" TOKEN="$token" IDS_FILE="$work/ids.txt" \
        wrk -t2 -c32 -d"${2}s" -s "$root/benches/wrk/scimd.lua" "http://127.0.0.1:$1" >"$work/wrk.out"
    after="$(cpu_ticks "$3")"
    awk -v cpu="$(((after - before) * tick_us))" \
        '/requests in/ {n = $1} /Requests\/sec/ {rps = $2} END {printf "%s %.1f\n", rps, cpu / n}' \
        "$work/wrk.out"
}
drive "$off_port" 2 "${pids[0]}" >/dev/null
drive "$on_port" 2 "${pids[1]}" >/dev/null
off=() on=() off_cpu=() on_cpu=()
for i in $(seq "$slices"); do
    read -r rps cpu < <(drive "$off_port" "$slice" "${pids[0]}")
    off+=("$rps") off_cpu+=("$cpu")
    sleep 0.5
    read -r rps cpu < <(drive "$on_port" "$slice" "${pids[1]}")
    on+=("$rps") on_cpu+=("$cpu")
    sleep 0.5
    echo "slice $i: log off ${off[-1]} req/s (${off_cpu[-1]} us CPU/req), log on ${on[-1]} req/s (${on_cpu[-1]} us CPU/req)"
done
read -r rps cpu < <(drive "$off_port" "$slice" "${pids[0]}")
off+=("$rps") off_cpu+=("$cpu")

python3 - "${off[*]}" "${on[*]}" "$scenario" "${off_cpu[*]}" "${on_cpu[*]}" <<'PY'
import random, statistics, sys
off = [float(x) for x in sys.argv[1].split()]
on = [float(x) for x in sys.argv[2].split()]
off_cpu = statistics.median(float(x) for x in sys.argv[4].split())
on_cpu = statistics.median(float(x) for x in sys.argv[5].split())
bracketed = [b / ((off[i] + off[i + 1]) / 2) for i, b in enumerate(on)]
print(f"{sys.argv[3]}: log off {statistics.median(off):.0f} req/s, log on {statistics.median(on):.0f} req/s (medians of {len(off)} and {len(on)} slices)")
print(f"ratio of medians on/off: {statistics.median(on) / statistics.median(off):.3f}")
# How far the median could move on another run of this VM: a bootstrap over the slices.
rng = random.Random(7)
medians = sorted(statistics.median(rng.choices(bracketed, k=len(bracketed))) for _ in range(2000))
print(f"median of bracketed ratios: {statistics.median(bracketed):.3f} (95% bootstrap interval {medians[49]:.3f}-{medians[1949]:.3f}, min {min(bracketed):.3f}, max {max(bracketed):.3f}; acceptance: >= 0.90)")
print(f"server CPU per request (medians): log off {off_cpu:.1f} us, log on {on_cpu:.1f} us; off/on {off_cpu / on_cpu:.3f}")
PY
