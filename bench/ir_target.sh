#!/usr/bin/env bash
# Two builds of `tightrope target` compared by the user-space instructions they execute per I/O, counted by
# valgrind's callgrind: unlike time, the count does not move with the machine's load, so a change of 1 % in
# the target's own work is visible on a shared machine. Each build serves one `tightrope bench` run (not
# counted, to warm up) and then the measured one, between a callgrind zero and dump. The target runs on
# one worker (-w 1); bench is NEW's.
#
# usage: bench/ir_target.sh OLD_TIGHTROPE NEW_TIGHTROPE > table.md
# env:   WORKLOADS="LABEL RW BS QD;..." (default 4 KiB randread and randwrite at QD128), RUNTIME=3,
#        PORT=30460 (below the ephemeral range), NS=mem:1G
set -euo pipefail
export LC_ALL=C
old=$(realpath "$1") new=$(realpath "$2")
RUNTIME=${RUNTIME:-3} PORT=${PORT:-30460} NS=${NS:-mem:1G}
WORKLOADS=${WORKLOADS:-"4k-randread-qd128 randread 4k 128;4k-randwrite-qd128 randwrite 4k 128"}
NQN=nqn.2026-11.io.tightrope:default
command -v valgrind >/dev/null || { echo "ir_target.sh: needs valgrind (apt-get install valgrind)" >&2; exit 2; }
work=$(mktemp -d /tmp/tightrope-ir.XXXXXX)
tgt=""
cleanup() { [[ -n $tgt ]] && kill "$tgt" 2>/dev/null && wait "$tgt" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# point BIN LABEL RW BS QD: appends "LABEL BIN IOS IR"
point() {
  local bin=$1 label=$2 rw=$3 bs=$4 qd=$5 ios ir
  local remote=(-t tcp -a 127.0.0.1 -s "$PORT" -n "$NQN")
  rm -f "$work"/callgrind.out.*
  valgrind --tool=callgrind --callgrind-out-file="$work/callgrind.out.%p" \
    "$bin" target -l 127.0.0.1:$PORT -N "$NS" -w 1 -S none >"$work/target.log" 2>&1 &
  tgt=$!
  for _ in $(seq 600); do grep -q "target ready" "$work/target.log" && break; sleep 0.1; done
  "$new" bench "${remote[@]}" --rw write --bs 1m --iodepth 4 >/dev/null # reads then touch written memory
  "$new" bench "${remote[@]}" --rw "$rw" --bs "$bs" --iodepth "$qd" --runtime 1 --time_based >/dev/null
  callgrind_control --zero "$tgt" >/dev/null
  "$new" bench "${remote[@]}" --rw "$rw" --bs "$bs" --iodepth "$qd" --runtime "$RUNTIME" --time_based \
    --output-format json >"$work/out.json"
  callgrind_control --dump="measured" "$tgt" >/dev/null
  kill "$tgt"; wait "$tgt" 2>/dev/null || true; tgt=""
  ios=$(python3 -c 'import json,sys; j=json.load(open(sys.argv[1]))["runs"][0]["jobs"][0]; print(j["read"]["total_ios"] + j["write"]["total_ios"])' "$work/out.json")
  # The dump after the zero holds the measured run only (the final dump at exit is the rest).
  ir=$(grep -l "^desc: Trigger: Client Request: measured\|measured" "$work"/callgrind.out.* | head -1 |
    xargs grep -m1 "^summary:" | awk '{ print $2 }')
  echo "$label $bin $ios $ir" >>"$work/points"
}

IFS=';' read -r -a rows <<<"$WORKLOADS"
for row in "${rows[@]}"; do
  read -r label rw bs qd <<<"$row"
  echo "ir_target.sh: $label" >&2
  for bin in "$old" "$new"; do point "$bin" "$label" "$rw" "$bs" "$qd"; done
done

python3 - "$work/points" "$old" "$new" <<'PY'
import sys
pts = [l.split() for l in open(sys.argv[1])]
old, new = sys.argv[2], sys.argv[3]
print("| workload | build | I/Os counted | target instructions | per I/O | new vs old |")
print("|---|---|--:|--:|--:|--:|")
for label in dict.fromkeys(p[0] for p in pts):
    per = {}
    for name, b in (("old", old), ("new", new)):
        for p in pts:
            if p[0] == label and p[1] == b:
                per[name] = int(p[3]) / int(p[2])
                delta = "" if name == "old" else f"{(per['new'] / per['old'] - 1) * 100:+.2f} %"
                print(f"| {label} | {name} | {int(p[2]):,} | {int(p[3]):,} | {per[name]:,.0f} | {delta} |")
print(f"\nold: `{old}`; new: `{new}`; callgrind (valgrind), user-space instructions of the whole target process.")
PY
