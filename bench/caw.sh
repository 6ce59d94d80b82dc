#!/usr/bin/env bash
# Fused compare-and-write IOPS at QD32 on one and on two hosts (issue 16): `tightrope target` on a RAM
# namespace on CPU 1, and `tightrope bench` on CPU 0 for 4 KiB randwrite QD32 (the reference), 4 KiB
# --rw caw QD32 from one host, and the same from two hosts at once (two bench processes, each its own
# host NQN and ID and its own half of the namespace); prints a markdown table. A caw pair is one I/O of
# 4 KiB (its compare data crosses the network too). Any miscompare fails the bench and so the script.
#
# usage: bench/caw.sh build/src/tightrope > caw.md
# env:   ROUNDS=3 RUNTIME=5 PORT=30600 (below the ephemeral range) NS=mem:1G HALF=512m (half of NS:
#        the two hosts' regions are 0+HALF and HALF+HALF)
set -euo pipefail
export LC_ALL=C
bin=$(realpath "$1")
ROUNDS=${ROUNDS:-3} RUNTIME=${RUNTIME:-5} PORT=${PORT:-30600} NS=${NS:-mem:1G} HALF=${HALF:-512m}
NQN=nqn.2026-11.io.tightrope:default
work=$(mktemp -d /tmp/tightrope-caw.XXXXXX)
tgt=""
cleanup() { [[ -n $tgt ]] && kill "$tgt" 2>/dev/null && wait "$tgt" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

taskset -c 1 "$bin" target -l "127.0.0.1:$PORT" -N "$NS" -w 1 -S none >"$work/target.log" 2>&1 &
tgt=$!
for _ in $(seq 100); do grep -q "target ready" "$work/target.log" && break; sleep 0.05; done
grep -q "target ready" "$work/target.log" || { cat "$work/target.log" >&2; exit 1; }

# bench HOST OUT ARGS...: one `tightrope bench` as host HOST (1 or 2), its JSON in OUT.
bench() {
  local host=$1 out=$2
  shift 2
  taskset -c 0 "$bin" bench -t tcp -a 127.0.0.1 -s "$PORT" -n "$NQN" \
    -q "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-0000-0000-0000000ca50$host" \
    -I "00000000-0000-0000-0000-0000000ca50$host" \
    --bs 4k --iodepth 32 --runtime "$RUNTIME" --time_based --eta never --output-format json "$@" >"$out"
}

# Written once, so the reference's writes and the pairs touch memory that is there.
taskset -c 0 "$bin" bench -t tcp -a 127.0.0.1 -s "$PORT" -n "$NQN" --rw write --bs 1m --iodepth 4 >/dev/null

for r in $(seq "$ROUNDS"); do
  echo "caw.sh: round $r of $ROUNDS" >&2
  bench 1 "$work/randwrite.$r.json" --rw randwrite
  bench 1 "$work/caw1.$r.json" --rw caw
  # Two hosts at once, each on its own half: disjoint, so neither miscompares on the other's writes.
  bench 1 "$work/caw2a.$r.json" --rw caw --offset 0 --size "$HALF" &
  a=$!
  bench 2 "$work/caw2b.$r.json" --rw caw --offset "$HALF" --size "$HALF" &
  b=$!
  rc=0
  wait "$a" || rc=$?
  wait "$b" || rc=$?
  ((rc == 0)) || { echo "caw.sh: a two-host bench failed (rc $rc)" >&2; exit 1; }
done

python3 - "$work" "$ROUNDS" <<'PY'
import json, statistics, sys
work, rounds = sys.argv[1], int(sys.argv[2])

def run(name, r):
    d = json.load(open(f"{work}/{name}.{r}.json"))["runs"][0]
    w = d["total"]["write"]
    return w["iops"], w["clat_ns"]["mean"] / 1000, w["clat_ns"]["percentile"]["99.000000"] / 1000, \
        d.get("caw", {}).get("miscompares", 0)

rows = []
for label, names in (("randwrite 4 KiB QD32, one host", ["randwrite"]),
                     ("caw 4 KiB QD32, one host", ["caw1"]),
                     ("caw 4 KiB QD32, two hosts (sum)", ["caw2a", "caw2b"])):
    per = []
    for r in range(1, rounds + 1):
        rs = [run(n, r) for n in names]
        per.append((sum(x[0] for x in rs), statistics.mean(x[1] for x in rs), max(x[2] for x in rs),
                    sum(x[3] for x in rs)))
    med = lambda i: statistics.median(p[i] for p in per)
    rows.append((label, med(0), med(1), med(2), sum(p[3] for p in per), ", ".join(f"{p[0]:,.0f}" for p in per)))
print("| workload | IOPS (pairs/s for caw) | avg lat (µs) | p99 (µs) | miscompares | IOPS per round |")
print("|---|--:|--:|--:|--:|---|")
for label, iops, avg, p99, mis, per in rows:
    print(f"| {label} | {iops:,.0f} | {avg:.1f} | {p99:.1f} | {mis} | {per} |")
print(f"\nMedians of {rounds} rounds; the target on CPU 1, every bench process on CPU 0 (both hosts too).")
PY
