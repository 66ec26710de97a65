#!/usr/bin/env bash
# The cost-per-fire table at one revision, in one sequential run: N = 1,000 and 10,000 tasks
# due every second, aligned and staggered, the engine alone and through the real host, each
# run beside its own durable limit and record floor (`fire --record-floor`).
#
# `bash bench/fire-table.sh` (SECONDS_PER_FIRE, default 20, sets each window). Prints one
# markdown table on stdout; the raw JSON lines go to target/fire-table.jsonl.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${SECONDS_PER_FIRE:-20}
cargo build --release --quiet -p bench -p system -p scheduler -p systemprompt >&2
runs=target/fire-table.jsonl
: >"$runs"
for path in "" "--host"; do
    for tasks in 1000 10000; do
        for mode in --aligned --staggered; do
            echo "fire-table: $tasks $mode ${path:-engine}" >&2
            # shellcheck disable=SC2086 # $path is empty or one flag
            target/release/bench fire $path --tasks "$tasks" --every 1s "$mode" --seconds "$seconds" --record-floor \
                2>/dev/null | tail -n 1 >>"$runs"
        done
    done
done

python3 - "$runs" <<'EOF'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
print("| N | mode | path | CPU µs/fire | p50 ms | p99 ms | max ms | missed | peak RSS MB "
      "| limit CPU µs/fire | limit p99 ms | cpu ratio | p99 ratio | floor CPU µs/fire | CPU / floor |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for r in rows:
    lat, limit, floor = r["lateness_ms"], r["durable_limit"], r["record_floor"]
    ratio = lambda v: "-" if v is None else f"{v:.2f}"
    print(f"| {r['tasks']:,} | {r['mode']} | {'host' if 'host' in r['path'] else 'engine'} "
          f"| {r['cpu_us_per_fire']:.1f} | {lat['p50']:.2f} | {lat['p99']:.2f} | {lat['max']:.2f} "
          f"| {r['missed']} | {r['peak_rss_mb']:.0f} | {limit['cpu_us_per_fire']:.1f} "
          f"| {limit['lateness_ms']['p99']:.2f} | {ratio(r['cpu_per_fire_ratio'])} | {ratio(r['p99_ratio'])} "
          f"| {floor['cpu_us_per_fire']:.1f} | {ratio(r['cpu_per_fire_over_record_floor'])} |")
EOF
