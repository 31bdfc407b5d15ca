"""Turns the raw results of benches/run.sh into latest.json and latest.md: each scenario with
req/s, p50, p99, errors and the server's peak RSS while it ran, its ratio to its reference
(the hello route for reads, raw durable inserts for writes) and the targets of issue 10.

Usage: report.py RESULTS_JSONL OUT_DIR --start-ms N ... (run.sh passes everything)."""

import argparse
import json
import os
import platform
import subprocess
import time

LABELS = {
    "hello": "hello-world JSON route (HTTP ceiling)",
    "filter": "filter userName eq",
    "get": "GET /Users/{id}",
    "list": "list page of 100 (random startIndex)",
    "group_get": "GET group (50k members) excludedAttributes=members",
    "patch": "PATCH user replace displayName",
    "member_add_small": "PATCH add 1 member, groups of 10",
    "member_add_big": "PATCH add 1 member, group of 50,000",
    "create": "POST /Users (create)",
    "raw durable insert": "raw rusqlite insert, 1 row per commit (write ceiling)",
}
REFERENCE = {
    "filter": "hello",
    "get": "hello",
    "list": "hello",
    "group_get": "hello",
    "patch": "raw durable insert",
    "member_add_small": "raw durable insert",
    "member_add_big": "raw durable insert",
    "create": "raw durable insert",
}


def machine():
    cpus = os.cpu_count()
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            model = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "")
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kib = int(next(l for l in f if l.startswith("MemTotal")).split()[1])
            mem = f"{kib / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    load = os.getloadavg()[0]
    return f"{cpus} cores ({model}), {mem} RAM, {platform.system()} {platform.release()}, load average {load:.1f} at the end"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("out")
    for a in ("start-ms", "idle-kib", "hwm-kib", "duration", "conns", "threads", "elapsed"):
        ap.add_argument("--" + a, type=int, required=True)
    ap.add_argument("--starts", required=True)
    args = ap.parse_args()

    rows = {}
    with open(args.results) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            r = json.loads(line)
            if "duration_us" in r:
                secs = r["duration_us"] / 1e6
                r["rps"] = r["requests"] / secs if secs else 0.0
                r["p50_ms"] = r["p50_us"] / 1000
                r["p99_ms"] = r["p99_us"] / 1000
                r["errors"] = r["errors_status"] + r["errors_socket"]
            rows[r["name"]] = r
    for name, ref in REFERENCE.items():
        if name in rows and ref in rows and rows[ref]["rps"]:
            rows[name]["reference"] = ref
            rows[name]["ratio"] = rows[name]["rps"] / rows[ref]["rps"]

    def ratio(name):
        return rows.get(name, {}).get("ratio", 0.0)

    big, small = rows.get("member_add_big", {}), rows.get("member_add_small", {})
    member_p50 = big.get("p50_ms", 0) / small["p50_ms"] if small.get("p50_ms") else 0.0
    peak_load_kib = max([args.hwm_kib] + [r.get("rss_max_kib", 0) for r in rows.values()])
    targets = [
        ("filter userName eq ≥ 50% of hello", f"{ratio('filter'):.0%}", ratio("filter") >= 0.5),
        ("GET by id ≥ 60% of hello", f"{ratio('get'):.0%}", ratio("get") >= 0.6),
        ("create ≥ 50% of raw durable inserts", f"{ratio('create'):.0%}", ratio("create") >= 0.5),
        ("member add p50 at 50k ≤ 1.2× at 10", f"{member_p50:.2f}×", 0 < member_p50 <= 1.2),
        ("idle RSS < 30 MB", f"{args.idle_kib / 1024:.1f} MiB", args.idle_kib * 1024 < 30e6),
        ("RSS under load < 100 MB", f"{peak_load_kib / 1024:.1f} MiB", peak_load_kib * 1024 < 100e6),
        ("start to first answer < 200 ms (100k users)", f"{args.start_ms} ms", args.start_ms < 200),
    ]
    report = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": machine(),
        "git": subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip(),
        "load": {"threads": args.threads, "connections": args.conns, "seconds_per_scenario": args.duration},
        "start_ms": args.start_ms,
        "start_ms_runs": [int(x) for x in args.starts.split()],
        "idle_rss_kib": args.idle_kib,
        "peak_rss_under_load_kib": peak_load_kib,
        "scenarios": rows,
        "member_add_p50_ratio_50k_vs_10": member_p50,
        "targets": [{"target": t, "measured": m, "met": ok} for t, m, ok in targets],
        "elapsed_s": args.elapsed,
    }
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "latest.json"), "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")

    md = [
        f"Run {report['date']} at {report['git']}, {report['machine']}.",
        f"wrk {args.threads} threads, {args.conns} connections, {args.duration} s per scenario; whole run {args.elapsed} s.",
        "",
        "| scenario | req/s | p50 ms | p99 ms | errors | peak RSS MiB | ratio to reference |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    order = ["hello", "filter", "get", "list", "group_get", "patch", "member_add_small", "member_add_big", "create", "raw durable insert"]
    for name in order:
        r = rows.get(name)
        if not r:
            continue
        rss = f"{r['rss_max_kib'] / 1024:.1f}" if r.get("rss_max_kib") else "–"
        rel = f"{r['ratio']:.0%} of {r['reference']}" if "ratio" in r else "(reference)"
        md.append(
            f"| {LABELS.get(name, name)} | {r['rps']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['errors']} | {rss} | {rel} |"
        )
    md += [
        "",
        f"Start to first answered request with 100,000 users: {args.start_ms} ms (median of {args.starts} ms). "
        f"Idle RSS {args.idle_kib / 1024:.1f} MiB; peak RSS under load {peak_load_kib / 1024:.1f} MiB.",
        "",
        "| target | measured | met |",
        "|---|---:|---|",
    ]
    md += [f"| {t} | {m} | {'yes' if ok else '**no**'} |" for t, m, ok in targets]
    with open(os.path.join(args.out, "latest.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
