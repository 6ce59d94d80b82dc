#!/usr/bin/env bash
# Ceph RBD namespaces end to end, against a real one-node cluster (tests/ceph/cluster.sh): the data
# tests a file namespace passes (tightrope connect: mkfs, files, checksums across disconnect, a target
# restart from its saved config; bench --verify; FUA, flush, write-zeroes, deallocate from a raw
# host), a resize seen as a namespace-change notice, and bad input: unknown pool or image, a cluster
# down at start (refused in bounded time), a cluster gone while I/O runs (Namespace Not Ready, the
# target alive and its RAM namespace served) and back (I/O works again, no restart).
# usage: tests/integration/rbd.sh path/to/tightrope   (root: /dev/fuse, loop devices; ~2.5 minutes)
set -uo pipefail
bin=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
# Under ThreadSanitizer: Debian's Ceph libraries are not instrumented (see the file).
export TSAN_OPTIONS="${TSAN_OPTIONS:+$TSAN_OPTIONS:}suppressions=$here/../ceph/tsan.supp"
ok() { echo "PASS $* [${SECONDS}s]"; pass=$((pass + 1)); }
work=$(mktemp -d /tmp/tightrope-rbd.XXXXXX)
cluster=$here/../ceph/cluster.sh
ceph=$work/ceph conf=$work/ceph/ceph.conf
tport=${TIGHTROPE_PORT:-44331} tport2=${TIGHTROPE_PORT2:-44332}
nqn=nqn.2026-11.io.tightrope:rbd
export TIGHTROPE_STATE_DIR=$work/state CEPH_MON_PORT=${CEPH_MON_PORT:-24210}
fs=$work/fs
tgt="" hostpids=()
mkdir -p "$fs"

cleanup() {
  trap - EXIT
  mountpoint -q "$fs" && { umount "$fs" 2>/dev/null || umount -l "$fs"; }
  timeout 120 "$bin" disconnect-all >/dev/null 2>&1
  for p in "${hostpids[@]}"; do gone "$p" || kill -9 "$p" 2>/dev/null; done
  for m in $(awk -v d="$work/" 'index($2, d) == 1 {print $2}' /proc/mounts); do umount -l "$m"; done
  [[ -n $tgt ]] && kill "$tgt" 2>/dev/null && wait "$tgt" 2>/dev/null
  "$cluster" stop "$ceph" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

# start_target LOG ARGS...: a target on $tport with a control socket; sets $tgt.
start_target() {
  local log=$1
  shift
  "$bin" target -S "$work/ctl.sock" "$@" 2>"$log" &
  tgt=$!
  wait_ready "$log" 30
}
stop_target() {
  kill "$tgt" && wait "$tgt"
  local rc=$?
  tgt=""
  return $rc
}
# attach WHAT: tightrope connect to $nqn; sets name pid loop.
attach() {
  local out file
  out=$(timeout 60 "$bin" connect -t tcp -a 127.0.0.1 -s "$tport" -n "$nqn" -c 1 -l 20 2>&1) ||
    { bad "$1: connect failed: $out"; return 1; }
  read -r name pid loop file <<<"$(ctrl_of "$nqn")"
  hostpids+=("$pid")
  [[ -b $loop ]] && ok "$1: connect attached $name as $loop" || { bad "$1: no loop device: $out"; return 1; }
}
detach() { timeout 90 "$bin" disconnect -n "$nqn" >/dev/null 2>&1 && wait_gone "$pid" 30; }
# raw PYTHON: a raw host ($q: I/O queue to $nqn at $tport) runs PYTHON; prints what it prints.
raw() {
  PYTHONPATH=$here timeout 120 python3 - "$tport" "$nqn" "$1" <<'EOF'
import sys
from nvmf_client import admin_connect, io_connect, sqe, SGL_INCAPSULE
port, nqn = int(sys.argv[1]), sys.argv[2]
a = admin_connect(nqn, port=port, timeout=60)
q = io_connect(a, nqn, port=port, timeout=60)
exec(sys.argv[3])
EOF
}

t0=$SECONDS
if ! timeout 300 "$cluster" start "$ceph" img img2 >"$work/cluster.log" 2>&1; then
  bad "cluster: $(tail -5 "$work/cluster.log")"
  give_up
fi
ok "one-node Ceph cluster up in $((SECONDS - t0)) s (pool rbd, images img and img2, exclusive-lock off)"

# ---- bad input at start: the namespace is refused, the CLI exits non-zero, the log says which ----
refused() { # WHAT PATTERN SECONDS ARGS...
  local what=$1 pat=$2 secs=$3 t=$SECONDS rc
  shift 3
  timeout $((secs + 30)) "$bin" target -l "127.0.0.1:$tport2" -n "$nqn" "$@" 2>"$work/refused.log"
  rc=$?
  if [[ $rc != 0 && $rc != 124 ]] && grep -q -- "$pat" "$work/refused.log" && ((SECONDS - t <= secs)); then
    ok "$what: refused in $((SECONDS - t)) s, exit $rc: $(grep -m1 -- "$pat" "$work/refused.log" | cut -d' ' -f4-)"
  else
    bad "$what: exit $rc after $((SECONDS - t)) s: $(tail -3 "$work/refused.log")"
  fi
}
refused "unknown pool" 'pool "nopool": no such pool' 15 -N "rbd:nopool/img,conf=$conf"
refused "unknown image" 'image "noimg" in pool "rbd": no such image' 15 -N "rbd:rbd/noimg,conf=$conf"
refused "bad spec" 'expected POOL/IMAGE' 5 -N "rbd:justapool,conf=$conf"
refused "missing conf file" 'reading the conf file failed' 5 -N "rbd:rbd/img,conf=$work/none.conf"
echo "  ($((SECONDS - t0)) s)"
# ---- data: tightrope's host through a loop device, as host_connect.sh does on RAM ----
start_target "$work/target.log" -l "127.0.0.1:$tport" -n "$nqn" -N "rbd:rbd/img,conf=$conf,nsid=1" -N mem:64M,nsid=2 ||
  { bad "target with an RBD namespace not ready: $(tail -5 "$work/target.log")"; give_up; }
grep -q "namespace 1: rbd backend rbd:rbd/img, 2097152 blocks of 512 bytes" "$work/target.log" &&
  ok "namespace 1 is rbd:rbd/img, 1 GiB in 512-byte blocks" || bad "namespace 1: $(grep 'namespace 1' "$work/target.log")"

for i in 1 2 3; do head -c $((i * 3))M /dev/urandom >"$work/f$i"; done
(cd "$work" && sha256sum f1 f2 f3) >"$work/sums"
if attach "connect"; then
  # The filesystem takes the first 256 MiB; the raw and bench checks below write beyond it.
  if timeout 120 mkfs.ext4 -q -F "$loop" 256M && timeout 30 mount "$loop" "$fs" &&
    timeout 60 cp "$work/f1" "$work/f2" "$work/f3" "$fs/" && timeout 60 umount "$fs"; then
    ok "mkfs.ext4 (256 MiB) on the RBD namespace, 18 MiB of random files written, unmounted"
  else bad "mkfs/mount/write/umount on $loop"; fi
  detach && ok "disconnected" || bad "disconnect"
fi
if attach "reconnect"; then
  timeout 30 mount "$loop" "$fs" && (cd "$fs" && timeout 60 sha256sum -c --quiet "$work/sums") >"$work/out" 2>&1 &&
    ok "after disconnect + connect: the 3 files have their sha256" || bad "checksums: $(cat "$work/out")"
  mountpoint -q "$fs" && timeout 60 umount "$fs"
  detach
fi
out=$(timeout 120 "$bin" bench -t tcp -a 127.0.0.1 -s "$tport" -n "$nqn" --nsid 1 --rw randwrite --bs 4k \
  --iodepth 32 --size 64M --offset 512M --verify 2>&1)
[[ $out == *"verify: OK"* ]] && ok "bench: 64 MiB of 4 KiB random writes at QD32 read back and verified" ||
  bad "bench --verify: $(tail -3 <<<"$out")"
out=$(raw '
import os
data, at = os.urandom(8192), 600 << 11  # LBA of 600 MiB
c = q.write(1, at, data)
fua = q.submit(sqe(0x01, q.alloc_cid(), nsid=1, cdw10=at, cdw12=(15 | 1 << 30), sgl_len=8192,
                 sgl_type=SGL_INCAPSULE), data)
fl = q.submit(sqe(0x00, q.alloc_cid(), nsid=1))
back = q.read(1, at, 16)
wz = q.submit(sqe(0x08, q.alloc_cid(), nsid=1, cdw10=at + 4, cdw12=7))
z = q.read(1, at, 16)
import struct
dsm = q.submit(sqe(0x09, q.alloc_cid(), nsid=1, cdw10=0, cdw11=4, sgl_len=16, sgl_type=SGL_INCAPSULE),
               struct.pack("<IIQ", 0, 8192, at + 8192))
print(c.status, fua.status, fl.status, back.status, back.data == data, wz.status,
      z.data == data[:2048] + bytes(4096) + data[6144:], dsm.status)
')
[[ $out == "0 0 0 0 True 0 True 0" ]] &&
  ok "raw host: write, FUA write, flush, read back, write-zeroes reads back zeros, deallocate: all success" ||
  bad "raw host I/O: $out"

echo "  ($((SECONDS - t0)) s)"
# ---- the config round trip: ctl save writes the RBD path; a target started from it has the data ----
"$bin" ctl -S "$work/ctl.sock" save "$work/saved.json" >/dev/null 2>&1
python3 -c 'import json, sys; print([n["device"]["path"] for s in json.load(open(sys.argv[1]))["subsystems"]
  for n in s["namespaces"]])' "$work/saved.json" >"$work/out" 2>&1
grep -qF "'rbd:rbd/img:conf=$conf'" "$work/out" &&
  ok "ctl save wrote the path rbd:rbd/img:conf=$conf" || bad "saved config: $(cat "$work/out")"
stop_target && ok "target stopped cleanly (exit 0)" || bad "target exit status"
start_target "$work/target2.log" -c "$work/saved.json" ||
  { bad "target from the saved config not ready: $(tail -5 "$work/target2.log")"; give_up; }
ok "target restarted from the saved config"
if attach "connect after the restart"; then
  timeout 30 mount "$loop" "$fs" && (cd "$fs" && timeout 60 sha256sum -c --quiet "$work/sums") >"$work/out" 2>&1 &&
    ok "after a target restart: the 3 files have their sha256" || bad "checksums: $(cat "$work/out")"
  mountpoint -q "$fs" && timeout 60 umount "$fs"
  detach
fi
# A resize with a controller waiting on an Asynchronous Event Request (a raw host: how tightrope
# connect takes the notice is the host's business): the notice, the changed-namespace list naming
# nsid 1, and Identify Namespace with the new size. The header watch tells the target at once.
out=$(PYTHONPATH=$here timeout 60 python3 -c '
import struct, subprocess, sys
from nvmf_client import admin_connect, sqe
port, nqn, conf = int(sys.argv[1]), sys.argv[2], sys.argv[3]
a = admin_connect(nqn, port=port, timeout=30)
assert a.set_features(0x0B, 1 << 8).status == 0  # namespace attribute notices
cid = a.alloc_cid()
a.send_cmd(sqe(0x0C, cid))
subprocess.run(["rbd", "-c", conf, "resize", "--size", "1536M", "rbd/img"], check=True, capture_output=True)
c = a.wait_completion(cid)
log = a.get_log(0x04, 4096).data
nsze = struct.unpack_from("<Q", a.identify(0, nsid=1).data, 0)[0]
print("%#x %d %d" % (c.result, struct.unpack_from("<I", log, 0)[0], nsze))
' "$tport" "$nqn" "$conf" 2>&1)
[[ $out == "0x40002 1 3145728" ]] &&
  ok "rbd resize to 1.5 GiB: namespace-change notice, changed list names nsid 1, NSZE 3145728 blocks" ||
  bad "resize: $out $(tail -2 "$work/target2.log")"
# The same through tightrope connect: its FUSE file and loop device take the new size, and the host
# process keeps serving (the loop driver's size query reads our own FUSE file: it once hung here).
if attach "resize through tightrope connect"; then
  timeout 60 rbd -c "$conf" resize --size 2G rbd/img >/dev/null 2>&1 || bad "rbd resize --size 2G"
  loop_bytes_are() { [[ $(timeout 5 blockdev --getsize64 "$loop" 2>/dev/null) == "$1" ]]; }
  wait_until 30 loop_bytes_are $((2 << 30)) &&
    ok "rbd resize to 2 GiB: $loop follows ($(timeout 5 blockdev --getsize64 "$loop") bytes)" ||
    bad "resize: $loop is $(timeout 5 blockdev --getsize64 "$loop") bytes"
  nsfile=$(ctrl_of "$nqn" | cut -d' ' -f4)
  [[ $(stat -c %s "$nsfile") == $((2 << 30)) ]] && ok "and so does the FUSE file $nsfile" ||
    bad "the FUSE file $nsfile is $(stat -c %s "$nsfile") bytes"
  timeout 30 dd if=/dev/urandom of="$work/tail" bs=1M count=1 status=none
  timeout 60 dd if="$work/tail" of="$loop" bs=1M seek=2047 oflag=direct conv=notrunc status=none &&
    timeout 60 dd if="$loop" of="$work/tail.back" bs=1M skip=2047 count=1 iflag=direct status=none &&
    cmp -s "$work/tail" "$work/tail.back" && ok "the last MiB of the grown device written and read back" ||
    bad "the grown device's last MiB"
  detach && ok "disconnect after the resize" || bad "disconnect after the resize: $(tail -3 "$TIGHTROPE_STATE_DIR/ctrl/$name.log")"
fi

echo "  ($((SECONDS - t0)) s)"
# ---- ctl add-ns: refused with the reason, or added ----
out=$("$bin" ctl -S "$work/ctl.sock" add-ns "$nqn" "rbd:rbd/nosuch:conf=$conf" 2>&1)
[[ $? != 0 && $out == *"No such file or directory"* ]] && ok "ctl add-ns of an unknown image: $out" ||
  bad "ctl add-ns unknown image: $out"
out=$("$bin" ctl -S "$work/ctl.sock" add-ns "$nqn" "rbd:rbd/img2:conf=$conf" --nsid 3 2>&1) &&
  ok "ctl add-ns rbd:rbd/img2: $out" || bad "ctl add-ns img2: $out"

echo "  ($((SECONDS - t0)) s)"
# ---- the cluster goes away while I/O runs, and comes back ----
"$bin" bench -t tcp -a 127.0.0.1 -s "$tport" -n "$nqn" --nsid 1 --rw randwrite --bs 4k --iodepth 8 \
  --size 64M --runtime 60 --time_based >"$work/bench1.out" 2>&1 &
b1=$!
sleep 2
"$cluster" down "$ceph" >>"$work/cluster.log" 2>&1 && ok "cluster daemons stopped while the bench writes"
t=$SECONDS
wait "$b1"
rc=$?
[[ $rc != 0 ]] && ((SECONDS - t < 40)) && ok "the bench's writes failed (exit $rc, $((SECONDS - t)) s after): $(grep -m1 failed "$work/bench1.out")" ||
  bad "bench on the RBD namespace: exit $rc after $((SECONDS - t)) s"
out=$(raw '
r = q.read(1, 0, 8)
m = q.read(2, 0, 8)
print("%#x %#x" % (r.status, m.status))
')
[[ $out == "0x82 0x0" ]] && ok "during the outage: RBD read answers Namespace Not Ready (0x82, no DNR); the RAM namespace reads" ||
  bad "statuses during the outage: $out"
out=$(timeout 60 "$bin" bench -t tcp -a 127.0.0.1 -s "$tport" -n "$nqn" --nsid 2 --rw randrw --bs 4k --iodepth 8 \
  --size 32M --verify 2>&1)
[[ $out == *"verify: OK"* ]] && ok "during the outage: the RAM namespace passes bench --verify" || bad "RAM ns: $(tail -2 <<<"$out")"
kill -0 "$tgt" && ok "the target is alive" || bad "the target died"
# A target started while the cluster is down: refused within client_mount_timeout (10 s), not hung.
refused "cluster down at start" 'connecting to the monitors failed: Connection timed out' 25 -N "rbd:rbd/img,conf=$conf"
n=$(grep -c "Ceph cluster unreachable" "$work/target2.log")
[[ $n == 1 ]] && ok "one log line names the namespace and Ceph's error: $(grep -m1 "Ceph cluster unreachable" "$work/target2.log" | cut -d' ' -f4-11)" ||
  bad "$n 'unreachable' lines"
"$cluster" up "$ceph" >>"$work/cluster.log" 2>&1 && ok "cluster daemons started again" || bad "cluster up: $(tail -3 "$work/cluster.log")"
back() { [[ $(raw 'print(q.read(1, 0, 8).status)' 2>/dev/null) == 0 ]]; }
wait_until 60 back && ok "after the cluster returns: RBD reads succeed again, same target process" || bad "no recovery"
out=$(timeout 120 "$bin" bench -t tcp -a 127.0.0.1 -s "$tport" -n "$nqn" --nsid 1 --rw randwrite --bs 4k \
  --iodepth 32 --size 32M --offset 256M --verify 2>&1)
[[ $out == *"verify: OK"* ]] && ok "after the cluster returns: bench --verify on the RBD namespace" || bad "bench after: $(tail -3 <<<"$out")"
grep -q "Ceph cluster answers again" "$work/target2.log" && ok "the target logged the cluster's return" || bad "no return line"
stop_target && ok "target stopped cleanly" || bad "target exit status at the end"
no_sanitizer_report "the target" "$work/target.log" "$work/target2.log" "$work/refused.log"
echo "  (the whole test: $((SECONDS - t0)) s)"
finish
