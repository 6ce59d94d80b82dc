#!/usr/bin/env bash
# The seed's fio job (libaio, direct=1, numjobs=4, randrw) on the block device `tightrope connect`
# makes, beside the same job through tightrope bench (no FUSE) and on a local RAM-backed loop device.
#
# usage: bench/fio_device.sh > report.md    (as root; progress on stderr; about 2 minutes)
# env:   RUNTIME=10  seconds per point     IODEPTHS="1 32"  fio's iodepth per job (the seed: fio's default 1)
#        PORT=45010  127.0.0.1 port         TIGHTROPE=path   use this binary instead of build/src/tightrope
set -euo pipefail
export LC_ALL=C
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
RUNTIME=${RUNTIME:-10}
IODEPTHS=${IODEPTHS:-1 32}
PORT=${PORT:-45010}
NQN=nqn.2026-11.io.tightrope:default
log() { echo "fio_device.sh: $*" >&2; }

work=$(mktemp -d /tmp/tightrope-fio.XXXXXX)
export TIGHTROPE_STATE_DIR=$work/state
tgt="" local_loop=""
cleanup() {
  [[ -n ${tr:-} ]] && "$tr" disconnect-all >/dev/null 2>&1
  [[ -n $local_loop ]] && losetup -d "$local_loop" 2>/dev/null
  [[ -n $tgt ]] && kill "$tgt" 2>/dev/null && wait "$tgt" 2>/dev/null
  umount "$work/tmpfs" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

command -v fio >/dev/null || { log "installing fio"; DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends fio >/dev/null; }
if [[ -n ${TIGHTROPE:-} ]]; then
  tr=$TIGHTROPE
else
  "$root/scripts/deps.sh" build
  [[ -f $root/build/build.ninja ]] || meson setup "$root/build" "$root" >"$work/meson.log" 2>&1
  ninja -C "$root/build" >"$work/ninja.log" 2>&1 || { tail -20 "$work/ninja.log" >&2; exit 1; }
  tr=$root/build/src/tightrope
fi

# Target on CPU 1; everything on the host side (connect's process, fio, bench) on CPU 0.
taskset -c 1 "$tr" target -l "127.0.0.1:$PORT" -n "$NQN" -N mem:1G -w 1 >"$work/target.log" 2>&1 &
tgt=$!
for _ in $(seq 100); do grep -q "target ready" "$work/target.log" && break; sleep 0.1; done
remote=(-t tcp -a 127.0.0.1 -s "$PORT" -n "$NQN")
log "filling the namespace"
taskset -c 0 "$tr" bench "${remote[@]}" --rw write --bs 1m --iodepth 4 >/dev/null
taskset -c 0 "$tr" connect "${remote[@]}" >"$work/connect.out"
name=$(awk '{print $NF}' "$work/connect.out")
state=$TIGHTROPE_STATE_DIR/ctrl/$name.json
remote_loop=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["namespaces"][0]["loop"])' "$state")
fuse_file=$TIGHTROPE_STATE_DIR/mnt/$name/n1
host_pid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pid"])' "$state")

# The local reference: the same 1 GiB of RAM behind a loop device (tmpfs file).
mkdir -p "$work/tmpfs" && mount -t tmpfs -o size=1100m tmpfs "$work/tmpfs"
dd if=/dev/urandom of="$work/tmpfs/local.img" bs=1M count=1024 status=none
local_loop=$(losetup -f --show "$work/tmpfs/local.img")

ticks() { local f; read -r -a f <"/proc/$1/stat"; echo $((f[13] + f[14])); }
clk=$(getconf CLK_TCK)
rows=$work/rows.tsv
# fio_point LABEL FILE IODEPTH: the seed's command; prints iops, MiB/s, mean latency, host CPU
fio_point() {
  local t0 t1 cpu=""
  [[ $1 == *connect* ]] && t0=$(ticks "$host_pid")
  taskset -c 0 fio --name=seed --filename="$2" --ioengine=libaio --direct=1 --numjobs=4 --rw=randrw \
    --bs=4k --iodepth="$3" --size=1g --runtime="$RUNTIME" --time_based --group_reporting \
    --output-format=json >"$work/fio.json" 2>"$work/fio.err" || { log "fio on $2: $(tail -3 "$work/fio.err")"; return 1; }
  [[ $1 == *connect* ]] && t1=$(ticks "$host_pid") && cpu=$((t1 - t0))
  python3 - "$work/fio.json" "$1" "$3" "$cpu" "$clk" "$RUNTIME" >>"$rows" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))["jobs"][0]
r, w = j["read"], j["write"]
iops = r["iops"] + w["iops"]
mibs = (r["bw_bytes"] + w["bw_bytes"]) / 1048576
lat = (r["lat_ns"]["mean"] * r["iops"] + w["lat_ns"]["mean"] * w["iops"]) / iops / 1000
cpu = ""
if sys.argv[4]:  # the host process's CPU: share of a core, and per I/O (what noise on the core changes least)
    secs = int(sys.argv[4]) / int(sys.argv[5])
    cpu = f"{secs * 100 / int(sys.argv[6]):.0f}% ({secs * 1e6 / (iops * int(sys.argv[6])):.1f} µs/IO)"
print(f"{sys.argv[2]}\t{sys.argv[3]}\t{iops:.0f}\t{mibs:.1f}\t{lat:.1f}\t{cpu}")
EOF
}
bench_point() { # bench_point IODEPTH: the same job through the host library, no FUSE, no loop device
  taskset -c 0 "$tr" bench "${remote[@]}" --rw randrw --bs 4k --numjobs 4 --iodepth "$1" --runtime "$RUNTIME" \
    --time_based -o json >"$work/bench.json"
  python3 - "$work/bench.json" "$1" >>"$rows" <<'EOF'
import json, sys
jobs = json.load(open(sys.argv[1]))["runs"][0]["jobs"]
iops = sum(j["read"]["iops"] + j["write"]["iops"] for j in jobs)
mibs = sum(j["read"]["bw_bytes"] + j["write"]["bw_bytes"] for j in jobs) / 1048576
lat = sum(j[d]["lat_ns"]["mean"] * j[d]["iops"] for j in jobs for d in ("read", "write")) / iops / 1000
print(f"tightrope bench (host library, no FUSE)\t{sys.argv[2]}\t{iops:.0f}\t{mibs:.1f}\t{lat:.1f}\t")
EOF
}

for qd in $IODEPTHS; do
  log "iodepth $qd: local loop device"
  fio_point "fio, local loop device on tmpfs" "$local_loop" "$qd"
  log "iodepth $qd: tightrope bench"
  bench_point "$qd"
  log "iodepth $qd: fio on tightrope connect's loop device"
  fio_point "fio, tightrope connect loop device ($remote_loop)" "$remote_loop" "$qd"
  log "iodepth $qd: fio on tightrope connect's FUSE file"
  fio_point "fio, tightrope connect FUSE file" "$fuse_file" "$qd" || true
done

echo "## fio on the attached device ($(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null))"
echo
echo "Machine: $(nproc) x $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(uname -r). Target \`-w 1 -N mem:1G\` on CPU 1;"
echo "fio, bench and connect's host process on CPU 0. Job: \`fio --ioengine=libaio --direct=1 --numjobs=4 --rw=randrw --bs=4k\`, ${RUNTIME} s."
echo
echo "| path | iodepth per job | IOPS (read+write) | MiB/s | mean latency (µs) | host process CPU | vs tightrope bench | vs local loop |"
echo "|---|--:|--:|--:|--:|--:|--:|--:|"
python3 - "$rows" <<'EOF'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
base = {r[1]: float(r[2]) for r in rows if r[0].startswith("tightrope bench")}
# The local loop device is the ceiling of any loop device on this box: the loop driver's and fio's own work.
local = {r[1]: float(r[2]) for r in rows if r[0].startswith("fio, local loop")}
for label, qd, iops, mibs, lat, cpu in rows:
    ratio = f"{float(iops) / base[qd]:.2f}x" if qd in base else ""
    vs_local = f"{float(iops) / local[qd]:.2f}x" if qd in local else ""
    print(f"| {label} | {qd} | {int(iops):,} | {mibs} | {lat} | {cpu} | {ratio} | {vs_local} |")
EOF
