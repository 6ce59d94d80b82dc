#!/usr/bin/env bash
# RBD namespaces vs librbd itself (issue 12), in one run on one one-node Ceph cluster (tests/ceph/cluster.sh):
# `rbd bench` (--rbd-cache=false, --io-threads 32) against `tightrope bench` through `tightrope target`
# exporting the same image, 4 KiB random read/write and 128 KiB sequential read/write, plus QD1 reads for
# latency; the median of alternating rounds as a ratio, with the OSD's and the target's CPU beside.
#
# usage: bench/rbd.sh > report.md    (root; progress on stderr; about 6 minutes)
# env:   ROUNDS=3 RUNTIME=8           rounds, and measured seconds per tightrope point
#        PORT=45010 CEPH_MON_PORT=24211
#        TIGHTROPE=path               the binary (default build/src/tightrope, built if missing)
set -euo pipefail
export LC_ALL=C
unset CEPH_ARGS CEPH_KEYRING CEPH_CONF
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
ROUNDS=${ROUNDS:-3}
RUNTIME=${RUNTIME:-8}
PORT=${PORT:-45010}
export CEPH_MON_PORT=${CEPH_MON_PORT:-24211}
NQN=nqn.2026-11.io.tightrope:rbdbench
bin=${TIGHTROPE:-$root/build/src/tightrope}
work=$(mktemp -d /tmp/tightrope-rbdbench.XXXXXX)
ceph=$work/ceph conf=$work/ceph/ceph.conf
tgt=""
log() { echo "rbd-bench: $*" >&2; }
cleanup() {
  [[ -n $tgt ]] && kill "$tgt" 2>/dev/null && wait "$tgt" 2>/dev/null
  "$root/tests/ceph/cluster.sh" stop "$ceph" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
[[ -x $bin ]] || { meson setup "$root/build" >/dev/null 2>&1 || true; ninja -C "$root/build" >/dev/null; }

# CPU seconds (utime + stime) a process has used so far.
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat" 2>/dev/null || echo 0; }
osd_pid() { cat "$ceph/run/ceph-osd.0.pid"; }

# Each point: NAME, rbd bench's arguments, tightrope bench's arguments. rbd bench runs a byte count
# (sized for ~5 s here), tightrope bench a time.
points=(
  "4k-randread-qd32|--io-type read --io-pattern rand --io-size 4K --io-threads 32 --io-total 256M|--rw randread --bs 4k --iodepth 32"
  "4k-randwrite-qd32|--io-type write --io-pattern rand --io-size 4K --io-threads 32 --io-total 64M|--rw randwrite --bs 4k --iodepth 32"
  "128k-seqread|--io-type read --io-pattern seq --io-size 128K --io-threads 32 --io-total 3G|--rw read --bs 128k --iodepth 16"
  "128k-seqread-qd32|--io-type read --io-pattern seq --io-size 128K --io-threads 32 --io-total 3G|--rw read --bs 128k --iodepth 32"
  "128k-seqwrite|--io-type write --io-pattern seq --io-size 128K --io-threads 32 --io-total 1G|--rw write --bs 128k --iodepth 16"
  "4k-randread-qd1|--io-type read --io-pattern rand --io-size 4K --io-threads 1 --io-total 16M|--rw randread --bs 4k --iodepth 1"
)

# run_rbd ARGS: "IOPS MiB/s OSD-CPU% rbd-bench-CPU%" from rbd bench's summary line and its rusage.
run_rbd() {
  local o0 t0 out
  o0=$(cpu_s "$(osd_pid)") t0=$(date +%s.%N)
  # shellcheck disable=SC2086
  out=$(python3 -c '
import resource, subprocess, sys
p = subprocess.run(sys.argv[1:], capture_output=True, text=True, timeout=300)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print((p.stdout + p.stderr).strip().splitlines()[-1], "|", r.ru_utime + r.ru_stime)
' timeout 300 rbd -c "$conf" bench $1 --rbd-cache=false rbd/bench)
  python3 - "$out" "$o0" "$(cpu_s "$(osd_pid)")" "$t0" "$(date +%s.%N)" <<'EOF'
import re, sys
line, o0, o1, t0, t1 = sys.argv[1], *map(float, sys.argv[2:])
m = re.search(r"ops/sec: ([\d.]+)\s+bytes/sec: ([\d.]+) (\w+)/s.*\| ([\d.]+)", line)
assert m, line
mult = {"B": 1 / 2**20, "KiB": 1 / 1024, "MiB": 1, "GiB": 1024}[m.group(3)]
print(float(m.group(1)), float(m.group(2)) * mult, 100 * (o1 - o0) / (t1 - t0), 100 * float(m.group(4)) / (t1 - t0))
EOF
}
# run_tr ARGS: "IOPS MiB/s OSD-CPU% target-CPU% avg-latency-us bench-CPU%".
run_tr() {
  local o0 c0 t0 out
  o0=$(cpu_s "$(osd_pid)") c0=$(cpu_s "$tgt") t0=$(date +%s.%N)
  # shellcheck disable=SC2086
  out=$("$bin" bench -t tcp -a 127.0.0.1 -s "$PORT" -n "$NQN" $1 --size 1G --runtime "$RUNTIME" --ramp_time 1 \
    --time_based --output-format json 2>/dev/null)
  python3 - "$o0" "$(cpu_s "$(osd_pid)")" "$c0" "$(cpu_s "$tgt")" "$t0" "$(date +%s.%N)" <<EOF
import json, sys
o0, o1, c0, c1, t0, t1 = map(float, sys.argv[1:])
j = json.loads('''$out''')["runs"][0]["jobs"][0]
d = j["read"] if j["read"]["total_ios"] else j["write"]
print(d["iops"], d["bw_bytes"] / 2**20, 100 * (o1 - o0) / (t1 - t0), 100 * (c1 - c0) / (t1 - t0), d["lat_ns"]["mean"] / 1000,
      j["usr_cpu"] + j["sys_cpu"])
EOF
}

t_start=$SECONDS
log "starting the cluster under $work"
"$root/tests/ceph/cluster.sh" start "$ceph" bench >&2
log "prefilling the 1 GiB image (reads must touch written objects)"
rbd -c "$conf" bench --io-type write --io-pattern seq --io-size 4M --io-threads 16 --io-total 1G --rbd-cache=false rbd/bench >/dev/null
"$bin" target -l "127.0.0.1:$PORT" -n "$NQN" -N "rbd:rbd/bench,conf=$conf" 2>"$work/target.log" &
tgt=$!
for _ in $(seq 100); do grep -q "target ready" "$work/target.log" && break; sleep 0.1; done
grep -q "target ready" "$work/target.log" || { cat "$work/target.log" >&2; exit 1; }
# Warm the OSD's cache once with each side's read pass (the first pass after a prefill is slower).
run_rbd "--io-type read --io-pattern rand --io-size 4K --io-threads 32 --io-total 128M" >/dev/null
run_tr "--rw randread --bs 4k --iodepth 32" >/dev/null

: >"$work/results"
for r in $(seq "$ROUNDS"); do
  for p in "${points[@]}"; do
    IFS='|' read -r name rargs targs <<<"$p"
    # Alternate which side goes first, round by round.
    if ((r % 2)); then
      a=$(run_rbd "$rargs"); b=$(run_tr "$targs")
    else
      b=$(run_tr "$targs"); a=$(run_rbd "$rargs")
    fi
    echo "$r $name rbd $a" >>"$work/results"
    echo "$r $name tr $b" >>"$work/results"
    log "round $r $name: rbd bench [$a] tightrope [$b]"
  done
done

python3 - "$work/results" "$ROUNDS" "$RUNTIME" "$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')" \
  "$(($(date +%s) - 0))" "$((SECONDS - t_start))" <<'EOF'
import statistics, sys, time, platform
path, rounds, runtime, commit, now, took = sys.argv[1], *sys.argv[2:]
rows = {}
for line in open(path):
    r, name, who, *v = line.split()
    rows.setdefault(name, {}).setdefault(who, []).append(list(map(float, v)))
cpu = open("/proc/cpuinfo").read().split("model name")[1].split("\n")[0].split(":", 1)[1].strip()
print(f"- **Machine**: {cpu}, {len(open('/proc/cpuinfo').read().split('processor')) - 1} vCPU, "
      f"{platform.system()} {platform.release()}; one-node Ceph 16 (tests/ceph/cluster.sh, one bluestore OSD on a sparse file)")
print(f"- **Date**: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(int(now)))}. **Commit**: `{commit}`. "
      f"{rounds} alternating rounds, tightrope bench {runtime} s per point after 1 s ramp; the run took {took} s.")
print()
print("| workload | rbd bench IOPS | rbd bench MiB/s | tightrope IOPS | tightrope MiB/s | ratio | rounds' ratios "
      "| avg lat rbd bench / tightrope (µs) | OSD CPU rbd / tr | client CPU: rbd bench / target + tightrope bench |")
print("|---|--:|--:|--:|--:|--:|---|--:|--:|--:|")
med = statistics.median
for name, d in rows.items():
    a, b = d["rbd"], d["tr"]
    key = 1 if "128k" in name else 0
    ratios = [y[key] / x[key] for x, y in zip(a, b)]
    qd = 1 if name.endswith("qd1") else 32  # rbd bench: --io-threads in flight, so latency = threads / IOPS
    print(f"| {name} | {med(x[0] for x in a):,.0f} | {med(x[1] for x in a):,.1f} | {med(y[0] for y in b):,.0f} | "
          f"{med(y[1] for y in b):,.1f} | **{med(ratios):.2f}** | {', '.join(f'{x:.2f}' for x in ratios)} | "
          f"{med(qd * 1e6 / x[0] for x in a):,.0f} / {med(y[4] for y in b):,.0f} | "
          f"{med(x[2] for x in a):.0f}% / {med(y[2] for y in b):.0f}% | "
          f"{med(x[3] for x in a):.0f}% / {med(y[3] for y in b):.0f}% + {med(y[5] for y in b):.0f}% |")
print()
print("Ratio: tightrope / rbd bench of IOPS (4 KiB) or MiB/s (128 KiB), per round, median over rounds. CPU: share of one core "
      "over the point's wall time (/proc/PID/stat; rbd bench's from its rusage; tightrope bench's as it reports it). "
      "rbd bench's queue depth is --io-threads (32, or 1 for QD1); its latency is derived as threads / IOPS. "
      "The target's CPU includes librbd's threads, which run in its process as they do in rbd bench's.")
EOF
