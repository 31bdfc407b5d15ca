#!/usr/bin/env bash
# The events outbox's cost on writes (issue 22): benches/ab.sh with two release builds of the
# same commit, A without events (feature `bench-events-off`: writes append none) and B as
# shipped, on create and PATCH. Env as for ab.sh (SLICES, SLICE, BENCH_SEED_DIR);
# SCENARIOS="create patch" by default. The acceptance ratio is 0.90.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
target="${CARGO_TARGET_DIR:-$root/target}"
bins="$(mktemp -d "${TMPDIR:-/tmp}/scimd-events-ab.XXXXXX")"
trap 'rm -rf "$bins"' EXIT
# Both builds share one target directory, so each copy is taken before the next build.
cargo build --release --locked --features bench-events-off --bin scimd
cp "$target/release/scimd" "$bins/events-off"
cargo build --release --locked --bin scimd
cp "$target/release/scimd" "$bins/events-on"
for scenario in ${SCENARIOS:-create patch}; do
    A_BIN="$bins/events-off" A_NAME="events off" B_BIN="$bins/events-on" B_NAME="events on" \
        SCENARIO="$scenario" ACCEPT=0.90 "$root/benches/ab.sh"
done
