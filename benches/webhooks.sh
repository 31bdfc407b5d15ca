#!/usr/bin/env bash
# Webhook delivery benchmark (issue 23), against a release scimd and an nginx receiver that
# answers every POST with 204 (keep-alive, no access log: not the bottleneck).
#
# 1. Delivery rate: EVENTS users are created with the endpoint disabled, then
#    `scimd webhook replay` delivers them all; the time from the replay until /metrics counts
#    them delivered (`scimd_webhook_attempts_total{outcome="delivered"}`, in memory, so not
#    the cursor, which is made durable every 500 events or second) gives events/s.
#    Acceptance: >= 1,000 events/s.
# 2. SCIM create throughput with delivery off and on, in the same run: wrk `create` slices
#    (2 threads, 32 connections) alternate between the endpoint disabled and active (each
#    active slice also delivers what the slice before it left). Acceptance: on/off >= 0.90.
#
# Env: BENCH_SCIMD (default: the release binary of `cargo build --release`), EVENTS (20000),
#      SLICES (6 pairs), SLICE (5 seconds each).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
bin="${BENCH_SCIMD:-$target/release/scimd}"
events="${EVENTS:-20000}"
slices="${SLICES:-6}"
slice="${SLICE:-5}"
command -v wrk >/dev/null || { echo "wrk is required (Debian: apt-get install wrk)" >&2; exit 1; }
command -v nginx >/dev/null || { echo "nginx is required (Debian: apt-get install nginx-light)" >&2; exit 1; }
[ -x "$bin" ] || { echo "no scimd at $bin; cargo build --release first" >&2; exit 1; }

work="$(mktemp -d "${TMPDIR:-/tmp}/scimd-webhooks.XXXXXX")"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

rport="$(port)"
mkdir -p "$work/nginx"
cat >"$work/nginx/nginx.conf" <<EOF
worker_processes 1;
error_log $work/nginx/error.log;
pid $work/nginx/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $work/nginx/body;
    proxy_temp_path $work/nginx/proxy;
    fastcgi_temp_path $work/nginx/fastcgi;
    uwsgi_temp_path $work/nginx/uwsgi;
    scgi_temp_path $work/nginx/scgi;
    keepalive_requests 10000000;
    server {
        listen 127.0.0.1:$rport;
        location / { return 204; }
    }
}
EOF
nginx -p "$work/nginx" -e "$work/nginx/error.log" -c "$work/nginx/nginx.conf" -g 'daemon off;' &
pids+=($!)

# Benchmarks flood on purpose: without a new install's per-token rate limit (50/s).
export SCIMD_LIMITS__REQUESTS_PER_SECOND=0
export SCIMD_CONFIG=/dev/null SCIMD_ADDRESS=127.0.0.1 SCIMD_DATABASE="$work/scimd.db"
export SCIMD_PORT="$(port)" SCIMD_WEBHOOKS__ALLOW_HTTP=true RUST_LOG=warn
token="$("$bin" token create --name bench 2>"$work/token.err")" || { cat "$work/token.err" >&2; exit 1; }
"$bin" serve >"$work/server.log" 2>&1 &
pids+=($!)
server=$!
until curl -fs -o /dev/null "http://127.0.0.1:$SCIMD_PORT/healthz"; do
    kill -0 "$server" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
    sleep 0.05
done
until curl -fs -o /dev/null -X POST "http://127.0.0.1:$rport/"; do sleep 0.05; done

"$bin" webhook add --url "http://127.0.0.1:$rport/hook" >/dev/null 2>&1
hook="$("$bin" webhook list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')"
last_seq() { "$bin" events tail -n 1 --json | python3 -c 'import json,sys; t=sys.stdin.read().strip(); print(json.loads(t)["seq"] if t else 0)'; }
cursor() { "$bin" webhook list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["cursor"])'; }
delivered() { curl -fs "http://127.0.0.1:$SCIMD_PORT/metrics" | awk '/^scimd_webhook_attempts_total\{outcome="delivered"\}/ {print $2}'; }
run=0
create() { # SECONDS: prints created users per second
    run=$((run + 1))
    SCENARIO=create TOKEN="$token" RUN_ID="$run-$RANDOM" \
        wrk -t2 -c32 -d"${1}s" -s "$root/benches/wrk/scimd.lua" "http://127.0.0.1:$SCIMD_PORT" |
        awk '/Requests\/sec/ {print $2}'
}

# 1. Delivery rate.
"$bin" webhook disable "$hook" 2>/dev/null
start="$(last_seq)"
while [ $(($(last_seq) - start)) -lt "$events" ]; do create 5 >/dev/null; done
end="$(last_seq)"
n=$((end - start))
before="$(delivered)"
t0="$(date +%s.%N)"
"$bin" webhook replay "$hook" --after "$start" 2>/dev/null
while [ "$(delivered)" -lt $((before + n)) ]; do sleep 0.05; done
t1="$(date +%s.%N)"
rate="$(python3 -c "print(f'{$n / ($t1 - $t0):.0f}')")"
echo "delivery: $n events in $(python3 -c "print(f'{$t1 - $t0:.2f}')") s = $rate events/s (acceptance: >= 1000)"

# 2. Create throughput, delivery off and on, alternating.
create 2 >/dev/null
off=() on=()
for i in $(seq "$slices"); do
    "$bin" webhook disable "$hook" 2>/dev/null
    off+=("$(create "$slice")")
    "$bin" webhook replay "$hook" 2>/dev/null
    on+=("$(create "$slice")")
    echo "slice $i: off ${off[-1]} creates/s, on ${on[-1]} creates/s"
done
final="$(last_seq)"
while [ "$(cursor)" -lt "$final" ]; do sleep 0.1; done
attempts="$(curl -fs "http://127.0.0.1:$SCIMD_PORT/metrics" | awk '/^scimd_webhook_attempts_total/ {printf "%s ", $0}')"
python3 - "${off[*]}" "${on[*]}" <<'PY'
import statistics, sys
off = [float(x) for x in sys.argv[1].split()]
on = [float(x) for x in sys.argv[2].split()]
print(f"create: delivery off {statistics.median(off):.0f}/s, on {statistics.median(on):.0f}/s "
      f"(medians of {len(off)} slices); on/off {statistics.median(on) / statistics.median(off):.3f} (acceptance: >= 0.90)")
PY
echo "every event delivered (cursor $final); $attempts"
