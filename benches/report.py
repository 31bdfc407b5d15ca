"""Turns the raw results of benches/run.sh into latest.json and latest.md: each scenario with
req/s, p50, p99, errors and the server's peak RSS while it ran; its share of the bare Rocket
hello route (the mean of the runs before and after scimd's scenarios), of bare hyper and of
scimd's own hello route; writes against raw durable inserts; and the targets of issue 29.

Usage: report.py RESULTS_JSONL OUT_DIR --start-ms N ... (run.sh passes everything)."""

import argparse
import json
import os
import platform
import subprocess
import time

LABELS = {
    "rocket_hello": "bare Rocket 0.5 hello route (baseline; mean of before and after)",
    "hyper_hello": "bare hyper hello (context)",
    "hello": "scimd's own hello route (its fairings and runtime, no auth, no database)",
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
# Every scenario that is not a baseline, as a share of each baseline.
BASELINES = ("rocket_hello", "hyper_hello", "hello")


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
    ap.add_argument("--after-kib", type=int, default=0)
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
    before, after = rows.pop("rocket_hello_before", None), rows.pop("rocket_hello_after", None)
    if before and after:
        mean = {k: (before[k] + after[k]) / 2 for k in ("rps", "p50_ms", "p99_ms")}
        rows["rocket_hello"] = {"name": "rocket_hello", **mean, "errors": before["errors"] + after["errors"],
                                "before_rps": before["rps"], "after_rps": after["rps"]}
    for name, ref in REFERENCE.items():
        if name in rows and ref in rows and rows[ref]["rps"]:
            rows[name]["reference"] = ref
            rows[name]["ratio"] = rows[name]["rps"] / rows[ref]["rps"]
    for name, r in rows.items():
        if name in BASELINES or name == "raw durable insert":
            continue
        for b in BASELINES:
            if rows.get(b, {}).get("rps"):
                r[f"share_of_{b}"] = r["rps"] / rows[b]["rps"]

    def ratio(name):
        return rows.get(name, {}).get("ratio", 0.0)

    def rocket(name):
        return rows.get(name, {}).get("share_of_rocket_hello", 0.0)

    big, small = rows.get("member_add_big", {}), rows.get("member_add_small", {})
    member_p50 = big.get("p50_ms", 0) / small["p50_ms"] if small.get("p50_ms") else 0.0
    peak_load_kib = max([args.hwm_kib] + [r.get("rss_max_kib", 0) for r in rows.values()])
    after_kib = args.after_kib
    targets = [
        ("GET by id ≥ 60% of Rocket hello", f"{rocket('get'):.1%}", rocket("get") >= 0.6),
        ("filter userName eq ≥ 50% of Rocket hello", f"{rocket('filter'):.1%}", rocket("filter") >= 0.5),
        ("PATCH one attribute ≥ 30% of Rocket hello", f"{rocket('patch'):.1%}", rocket("patch") >= 0.3),
        ("create ≥ 1.5× raw durable single-row commits", f"{ratio('create'):.2f}×", ratio("create") >= 1.5),
        ("list count=100 ≥ 5% of Rocket hello", f"{rocket('list'):.1%}", rocket("list") >= 0.05),
        ("idle RSS < 15 MB", f"{args.idle_kib / 1024:.1f} MiB", args.idle_kib * 1024 < 15e6),
        ("RSS after the whole run < 64 MB", f"{after_kib / 1024:.1f} MiB", 0 < after_kib and after_kib * 1024 < 64e6),
        ("member add p50 at 50k ≤ 1.2× at 10", f"{member_p50:.2f}×", 0 < member_p50 <= 1.2),
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
        "rss_after_run_kib": after_kib,
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
        "| scenario | req/s | p50 ms | p99 ms | errors | peak RSS MiB | % of Rocket hello | % of hyper hello | % of scimd hello | ratio to reference |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    order = ["rocket_hello", "hyper_hello", "hello", "filter", "get", "list", "group_get", "patch", "member_add_small", "member_add_big", "create", "raw durable insert"]
    for name in order:
        r = rows.get(name)
        if not r:
            continue
        rss = f"{r['rss_max_kib'] / 1024:.1f}" if r.get("rss_max_kib") else "–"
        rel = f"{r['ratio']:.2f}× {r['reference']}" if "ratio" in r else "–"
        shares = " | ".join(f"{r[f'share_of_{b}']:.1%}" if f"share_of_{b}" in r else "–" for b in BASELINES)
        md.append(
            f"| {LABELS.get(name, name)} | {r['rps']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['errors']} | {rss} | {shares} | {rel} |"
        )
    if "rocket_hello" in rows:
        rh = rows["rocket_hello"]
        md += ["", f"Rocket hello before scimd's scenarios {rh['before_rps']:.0f} req/s, after {rh['after_rps']:.0f} req/s (the machine's drift during the run)."]
    md += [
        "",
        f"Start to first answered request with 100,000 users: {args.start_ms} ms (median of {args.starts} ms). "
        f"Idle RSS {args.idle_kib / 1024:.1f} MiB; peak RSS under load {peak_load_kib / 1024:.1f} MiB; "
        f"RSS 2 s after the last scenario {after_kib / 1024:.1f} MiB.",
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
