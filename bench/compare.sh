#!/usr/bin/env bash
# Before/after benchmark of whole revisions in one run, so a shared, noisy machine affects
# every revision alike: `bash bench/compare.sh 4617cef HEAD` (or checkout directories).
#
# Each revision is checked out under target/compare/<rev> (a git worktree, reused when
# present) and its bench built in release. Then every workload runs for every revision,
# interleaved (workload 1 for rev A, rev B, …, then workload 2 …), ROUNDS times, each run
# printing one JSON line, prefixed here with its revision, into target/compare/runs.jsonl.
# The summary prints the median of the rounds per workload and revision, and each
# revision's ratio to the first.
#
# SECONDS_PER_FIRE (default 10) sets the fire windows; ROUNDS (default 2); WORKLOADS
# (default all) is a space-separated subset of the names below.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
seconds=${SECONDS_PER_FIRE:-10}
rounds=${ROUNDS:-2}
(($# >= 1)) || { echo "usage: bash bench/compare.sh REV|DIR [REV|DIR ...]" >&2; exit 2; }

declare -A workload=(
    [bus-1]="bus --threads 1"
    [bus-2]="bus --threads 2"
    [next]="next"
    [fire-1k-aligned]="fire --tasks 1000 --every 1s --aligned --seconds $seconds"
    [fire-1k-staggered]="fire --tasks 1000 --every 1s --staggered --seconds $seconds"
    [fire-10k-aligned]="fire --tasks 10000 --every 1s --aligned --seconds $seconds"
    [fire-10k-staggered]="fire --tasks 10000 --every 1s --staggered --seconds $seconds"
    [host-10k-aligned]="fire --host --tasks 10000 --every 1s --aligned --seconds $seconds"
    [host-10k-staggered]="fire --host --tasks 10000 --every 1s --staggered --seconds $seconds"
    [fire-1m-day]="fire --tasks 1000000 --every 1d --staggered --seconds $((seconds * 2))"
)
order="bus-1 bus-2 next fire-1k-aligned fire-1k-staggered fire-10k-aligned fire-10k-staggered host-10k-aligned host-10k-staggered fire-1m-day"
order=${WORKLOADS:-$order}

mkdir -p target/compare
dirs=()
names=()
for rev in "$@"; do
    if [[ -d $rev ]]; then
        dir=$(cd "$rev" && pwd)
        name=$(git -C "$dir" rev-parse --short HEAD)
    else
        name=$(git rev-parse --short "$rev")
        dir=$root/target/compare/$name
        [[ -d $dir ]] || git worktree add --detach "$dir" "$name" >&2
    fi
    echo "compare: building $name in $dir" >&2
    (cd "$dir" && cargo build --release --quiet -p bench -p system -p scheduler) >&2
    dirs+=("$dir")
    names+=("$name")
done

runs=target/compare/runs.jsonl
: >"$runs"
for ((round = 1; round <= rounds; round++)); do
    for name in $order; do
        for i in "${!dirs[@]}"; do
            echo "compare: round $round, $name, ${names[i]}" >&2
            # shellcheck disable=SC2086 # the workload is a list of arguments
            line=$(cd "${dirs[i]}" && target/release/bench ${workload[$name]} 2>/dev/null | tail -n 1)
            printf '{"rev":"%s","name":"%s","round":%d,"run":%s}\n' "${names[i]}" "$name" "$round" "$line" >>"$runs"
        done
    done
done

python3 - "$runs" "${names[@]}" <<'EOF'
import json, statistics, sys
path, revs = sys.argv[1], sys.argv[2:]
runs = [json.loads(line) for line in open(path)]

def metrics(run):
    r = run["run"]
    if "calls_per_sec" in r:
        return {"calls/s": r["calls_per_sec"], "p99 ns": r["latency_ns"]["p99"]}
    if r.get("workload") == "next":
        return {c["name"][:34]: c["next_per_sec"] for c in r["cases"]}
    out = {"missed": r["missed"], "p50 ms": r["lateness_ms"]["p50"], "p99 ms": r["lateness_ms"]["p99"],
           "cpu s": r["cpu_s"], "peak MB": r["peak_rss_mb"]}
    if r.get("insert_s") is not None and r["tasks"] >= 1_000_000:
        out["insert s"] = r["insert_s"]
        out["startup ms"] = r["startup_ms"]
    return out

names = list(dict.fromkeys(run["name"] for run in runs))
print(f"| workload | metric | " + " | ".join(revs) + " | " + " | ".join(f"{rev}/{revs[0]}" for rev in revs[1:]) + " |")
print("|---|---|" + "---|" * (2 * len(revs) - 1))
for name in names:
    by_rev = {rev: [metrics(run) for run in runs if run["name"] == name and run["rev"] == rev] for rev in revs}
    keys = list(by_rev[revs[0]][0].keys()) if by_rev[revs[0]] else []
    for key in keys:
        medians = [statistics.median(m[key] for m in by_rev[rev]) for rev in revs]
        ratios = [f"{m / medians[0]:.2f}" if medians[0] else "-" for m in medians[1:]]
        cells = [f"{m:,.2f}" if isinstance(m, float) and m < 1000 else f"{m:,.0f}" for m in medians]
        print(f"| {name} | {key} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")
EOF
