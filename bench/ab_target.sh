#!/usr/bin/env bash
# Two builds of `tightrope target` side by side in one run, rounds interleaved: the target's CPU per I/O
# (4 KiB randread QD128, 128 KiB read QD16) and 4 KiB QD1 latency, driven by one `tightrope bench`, the
# target on CPU 1 and bench on CPU 0 as in run.sh. For "X % below today's, recorded at the same
# commit beside the new one": build the old commit elsewhere and pass both binaries.
#
# usage: bench/ab_target.sh OLD_TIGHTROPE NEW_TIGHTROPE > table.md    (bench is NEW's)
# env:   ROUNDS=5 RUNTIME=3   PORT=30500 (below the ephemeral range)   NS=mem:1G   WORKLOADS (below)
set -euo pipefail
export LC_ALL=C
old=$(realpath "$1") new=$(realpath "$2")
ROUNDS=${ROUNDS:-5} RUNTIME=${RUNTIME:-3} PORT=${PORT:-30500} NS=${NS:-mem:1G}
NQN=nqn.2026-11.io.tightrope:default
work=$(mktemp -d /tmp/tightrope-ab.XXXXXX)
tgt=""
cleanup() { [[ -n $tgt ]] && kill "$tgt" 2>/dev/null && wait "$tgt" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
ticks() { local f; read -r -a f <"/proc/$1/stat"; echo $((f[13] + f[14])); }
clk=$(getconf CLK_TCK)

# point BIN LABEL RW BS QD: one measured run against a fresh target; appends "LABEL BIN IOPS MiB/s avg_us cpu_us_per_io"
point() {
  local bin=$1 label=$2 rw=$3 bs=$4 qd=$5 t0 t1
  taskset -c 1 "$bin" target -l 127.0.0.1:$PORT -N "$NS" -w 1 -S none >"$work/target.log" 2>&1 &
  tgt=$!
  for _ in $(seq 100); do grep -q "target ready" "$work/target.log" && break; sleep 0.05; done
  local remote=(-t tcp -a 127.0.0.1 -s "$PORT" -n "$NQN")
  # Written once, so reads touch memory (not the zero buffer of never-written ranges).
  taskset -c 0 "$new" bench "${remote[@]}" --rw write --bs 1m --iodepth 4 >/dev/null
  taskset -c 0 "$new" bench "${remote[@]}" --rw "$rw" --bs "$bs" --iodepth "$qd" --runtime 1 --time_based >/dev/null
  t0=$(ticks "$tgt")
  taskset -c 0 "$new" bench "${remote[@]}" --rw "$rw" --bs "$bs" --iodepth "$qd" --runtime "$RUNTIME" --time_based \
    --output-format json >"$work/out.json"
  t1=$(ticks "$tgt")
  kill "$tgt"; wait "$tgt" 2>/dev/null || true; tgt=""
  python3 - "$work/out.json" "$label" "$bin" $((t1 - t0)) "$clk" >>"$work/points" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))["runs"][0]["jobs"][0]
j = d["read"] if d["read"]["total_ios"] else d["write"]
cpu_us = int(sys.argv[4]) / int(sys.argv[5]) * 1e6
print(sys.argv[2], sys.argv[3], j["iops"], j["bw_bytes"] / 2**20, j["clat_ns"]["mean"] / 1000, cpu_us / j["total_ios"])
PY
}

rows=("4k-randread-qd128 randread 4k 128" "128k-read-qd16 read 128k 16" "4k-randread-qd1 randread 4k 1")
# WORKLOADS="LABEL RW BS QD;LABEL RW BS QD..." replaces them (e.g. "4k-randwrite-qd128 randwrite 4k 128").
[[ -z ${WORKLOADS:-} ]] || IFS=';' read -r -a rows <<<"$WORKLOADS"
for r in $(seq "$ROUNDS"); do
  echo "ab_target.sh: round $r of $ROUNDS" >&2
  for row in "${rows[@]}"; do
    read -r label rw bs qd <<<"$row"
    # Alternate which build goes first, so drift in the machine's load falls on both alike.
    if ((r % 2)); then order=("$old" "$new"); else order=("$new" "$old"); fi
    for bin in "${order[@]}"; do point "$bin" "$label" "$rw" "$bs" "$qd"; done
  done
done

python3 - "$work/points" "$old" "$new" <<'PY'
import statistics, sys
pts = [l.split() for l in open(sys.argv[1])]
old, new = sys.argv[2], sys.argv[3]
print(f"| workload | build | IOPS | MiB/s | avg lat (µs) | target CPU/IO (µs) | CPU/IO per round |")
print("|---|---|--:|--:|--:|--:|---|")
for label in dict.fromkeys(p[0] for p in pts):
    for name, b in (("old", old), ("new", new)):
        rs = [p for p in pts if p[0] == label and p[1] == b]
        med = lambda i: statistics.median(float(p[i]) for p in rs)
        per = ", ".join(f"{float(p[5]):.2f}" for p in rs)
        print(f"| {label} | {name} | {med(2):,.0f} | {med(3):,.1f} | {med(4):.1f} | {med(5):.2f} | {per} |")
print(f"\nold: `{old}`; new: `{new}`; medians of the rounds.")
PY
