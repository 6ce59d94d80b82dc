#!/usr/bin/env bash
# tightrope connect / list / disconnect / disconnect-all end to end: attach a remote namespace as a
# loop device (through the host process's FUSE file), put a filesystem on it, take it away and bring
# it back with the data intact, and check that every way of detaching (disconnect, disconnect-all,
# cleaning up after a host process killed with -9) leaves no loop device, mount, process or TCP
# socket behind. Against tightrope's own target (A) and the Linux kernel's nvmet-tcp target in QEMU
# (B). Nothing here may hang: every dd/mount/mkfs runs under `timeout`, and a stuck one is diagnosed
# (host log, the blocked task's kernel stack, the loop device's backing file, the VM console).
# usage: tests/integration/host_connect.sh path/to/tightrope     (root; /dev/fuse, loop devices, QEMU)
set -uo pipefail
bin=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
work=$(mktemp -d /tmp/tightrope-hostconn.XXXXXX)
tport=${TIGHTROPE_PORT:-44321}
kport=${KERNEL_TARGET_PORT:-14441}
tnqn=nqn.2026-11.io.tightrope:hostconnect
knqn=$kernel_target_nqn
export TIGHTROPE_STATE_DIR=$work/state
fs=$work/fs # where the test mounts the ext4 filesystem
tgt="" vm="" hostpids=() bgpids=()
t0=$SECONDS
mkdir -p "$fs"

# ---- what belongs to this run ----

# Record the device number of every FUSE mount of ours: a loop device still bound to one after its
# mount was detached lazily shows only "/n1" as its backing file, so the number is what identifies it.
note_fuse_devs() {
  awk -v d="$TIGHTROPE_STATE_DIR/mnt/" 'index($5, d) == 1 {print $3}' /proc/self/mountinfo >>"$work/fusedevs"
  sort -u -o "$work/fusedevs" "$work/fusedevs"
}
# Loop devices bound to one of our FUSE files (by path, or by the FUSE mount's device number).
our_loops() {
  losetup -l -n -O NAME,BACK-MAJ:MIN,BACK-FILE 2>/dev/null |
    awk -v d="$TIGHTROPE_STATE_DIR/" -v devs="$(tr '\n' ' ' <"$work/fusedevs" 2>/dev/null)" '
      BEGIN { n = split(devs, a, " "); for (i = 1; i <= n; i++) mine[a[i]] = 1 }
      index($3, d) == 1 || ($2 in mine) { print $1 }' | sort -u | tr '\n' ' '
}
our_mounts() { awk -v d="$work/" 'index($2, d) == 1 {print $2}' /proc/mounts | tr '\n' ' '; }
# Processes holding a TCP socket to PORT (orphaned sockets in TIME-WAIT or FIN-WAIT have no owner).
sockets_to() { ss -Htnp state all "( dport = :$1 )" 2>/dev/null | grep -c 'users:'; }
stop_vm() {
  kernel_target_stop "$vm"
  vm=""
}

# Everything that helps understand an I/O that never finished.
diagnose() {
  echo "---- diagnosis: $* ----"
  for f in "$TIGHTROPE_STATE_DIR"/ctrl/*.log; do [[ -e $f ]] && { echo "== $f"; tail -15 "$f"; }; done
  losetup -l 2>/dev/null | grep -E "NAME|$TIGHTROPE_STATE_DIR|  /n[0-9]" | sed 's/^/  /'
  for l in $(our_loops); do
    echo "  $l: backing_file $(cat "/sys/block/${l#/dev/}/loop/backing_file" 2>/dev/null), inflight $(cat "/sys/block/${l#/dev/}/inflight" 2>/dev/null)"
  done
  grep -E "$work" /proc/mounts | sed 's/^/  mount: /'
  for p in $(ps -eo pid=,stat= | awk '$2 ~ /D/ {print $1}'); do
    echo "  D-state $p $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-80):"
    sed 's/^/    /' "/proc/$p/stack" 2>/dev/null | head -12
  done
  [[ -s $work/ktarget.log ]] && { echo "  VM console (last lines):"; grep -v '^\s*$' "$work/ktarget.log" | tail -8 | sed 's/^/    /'; }
  echo "---- end of diagnosis ----"
}
# run NAME SECONDS COMMAND...: a command that must finish in time. It says why it failed (and
# diagnoses one that got stuck); the caller counts the failure.
run() {
  local name=$1 secs=$2 rc p
  shift 2
  timeout -k 5 "$secs" "$@" >"$work/out" 2>&1 &
  p=$!
  bgpids+=("$p")
  wait "$p"; rc=$?
  if [[ $rc == 124 || $rc == 137 ]]; then
    echo "  $name: did not finish in $secs s"
    diagnose "$name"
  elif [[ $rc != 0 ]]; then
    echo "  $name: exit $rc: $(tail -3 "$work/out" | tr '\n' ' ')"
  fi
  return "$rc"
}

cleanup() {
  trap - EXIT
  for p in "${bgpids[@]}"; do kill -9 "$p" 2>/dev/null; done
  mountpoint -q "$fs" && { umount "$fs" 2>/dev/null || umount -l "$fs"; }
  timeout 120 "$bin" disconnect-all >/dev/null 2>&1
  for p in "${hostpids[@]}"; do gone "$p" || { echo "cleanup: killing host process $p"; kill -9 "$p" 2>/dev/null; }; done
  for m in $(our_mounts); do umount -l "$m" 2>/dev/null; done
  for l in $(our_loops); do echo "cleanup: detaching $l"; losetup -d "$l" 2>/dev/null; done
  [[ -n $tgt ]] && kill "$tgt" 2>/dev/null && wait "$tgt" 2>/dev/null
  [[ -n $vm ]] && stop_vm
  if [[ -z $(our_mounts) ]]; then rm -rf "$work"; else echo "cleanup: mounts left, keeping $work"; fi
}
trap cleanup EXIT

# Attach NQN at PORT; sets name pid loop file; records the host process for the cleanup.
attach() { # PORT NQN WHAT
  local out
  if ! out=$(timeout 60 "$bin" connect -t tcp -a 127.0.0.1 -s "$1" -n "$2" -c 1 -l 20 2>&1); then
    bad "$3: connect failed: $out"
    return 1
  fi
  read -r name pid loop file <<<"$(ctrl_of "$2")"
  hostpids+=("$pid")
  note_fuse_devs
  if [[ $out == "connecting to device: $name" && -b $loop && -f $file ]]; then
    ok "$3: connect attached $name: $loop (and $file), host process $pid"
  else
    bad "$3: connect said '$out'; record: $name $pid $loop $file"
    return 1
  fi
}
# Nothing of the controller that was NAME (host process PID, loop LOOP) is left.
nothing_left() { # WHAT PID PORT
  local l m s
  l=$(our_loops) m=$(our_mounts) s=$(sockets_to "$3")
  [[ -z $l ]] && ok "$1: no loop device bound to our FUSE files (losetup)" || bad "$1: loop devices left: $l"
  [[ -z $m ]] && ok "$1: no mount left under the state dir or the test's mountpoint (/proc/mounts)" ||
    bad "$1: mounts left: $m"
  wait_gone "$2" && ok "$1: host process $2 is gone" || bad "$1: host process $2 still runs"
  [[ $s == 0 ]] && ok "$1: no process holds a TCP socket to port $3 (ss)" ||
    { bad "$1: $s sockets to port $3 left"; ss -tnp "( dport = :$3 )"; }
  [[ -z $(ls "$TIGHTROPE_STATE_DIR"/ctrl/*.json 2>/dev/null) ]] && ok "$1: no controller record left" ||
    bad "$1: records left: $(ls "$TIGHTROPE_STATE_DIR"/ctrl/*.json)"
}

# The kernel target VM boots (30-60 s under TCG) while part A runs; its image is built first (from
# Debian's archive on the first run, cached after).
build_vm_guest "$work"
kernel_target_start "$kport" "$work"
vm=$kernel_target_pid

# =================== A: tightrope's own target ===================
"$bin" target -l "127.0.0.1:$tport" -n "$tnqn" -N mem:256M -S "$work/ctl.sock" 2>"$work/target.log" &
tgt=$!
wait_ready "$work/target.log" || bad "A: target not ready: $(tail -5 "$work/target.log")"
serial=$("$bin" ctl -S "$work/ctl.sock" -o json list |
  python3 -c "import json,sys; print([s['serial'] for s in json.load(sys.stdin)['subsystems'] if s['nqn']=='$tnqn'][0])")
ctl_ctrls() { # controllers the target still has for our subsystem
  "$bin" ctl -S "$work/ctl.sock" -o json list |
    python3 -c "import json,sys; print(sum(len(s['controllers']) for s in json.load(sys.stdin)['subsystems']))"
}

timeout 30 "$bin" discover -t tcp -a 127.0.0.1 -s "$tport" >"$work/out" 2>&1
grep -q "subnqn:  $tnqn" "$work/out" && ok "A: discover lists $tnqn" || bad "A: discover: $(cat "$work/out")"

attach "$tport" "$tnqn" A || { finish; exit 1; }
pid1=$pid
"$bin" list >"$work/list"
line=$(grep "^$loop " "$work/list")
if [[ $line =~ $name && $line =~ $serial && $line =~ tightrope && $line =~ live ]]; then
  ok "A: list shows $loop, $name, SN $serial, model tightrope, live"
else bad "A: list: $(cat "$work/list")"; fi
"$bin" list -o json | python3 -c "
import json, sys
d = json.load(sys.stdin)['Devices']
assert len(d) == 1, d
d = d[0]
assert d['DevicePath'] == '$loop' and d['File'] == '$file' and d['SerialNumber'] == '$serial', d
assert d['ModelNumber'] == 'tightrope' and d['SubsystemNQN'] == '$tnqn' and d['State'] == 'live', d
assert d['PhysicalSize'] == 256 << 20 and d['SectorSize'] == 512, d
" 2>"$work/out" && ok "A: list -o json parses: $loop, 256 MiB, SN and model" || bad "A: list -o json: $(cat "$work/out")"

# A filesystem on the loop device, files of random data, their checksums.
for i in 1 2 3; do head -c $((i * 3))M /dev/urandom >"$work/f$i"; done
(cd "$work" && sha256sum f1 f2 f3 && echo hello | sha256sum | sed 's/-$/dir\/small/') >"$work/sums"
if run "A: mkfs.ext4" 120 mkfs.ext4 -q -F "$loop" && run "A: mount" 30 mount "$loop" "$fs" &&
  run "A: writing 18 MiB of files" 60 sh -c "cp '$work/f1' '$work/f2' '$work/f3' '$fs/' && mkdir '$fs/dir' && echo hello >'$fs/dir/small'" &&
  run "A: sync" 60 sync; then
  ok "A: mkfs.ext4 on $loop, mount, 18 MiB of random files written, sync"
else bad "A: mkfs/mount/write/sync"; fi
mountpoint -q "$fs" && { run "A: umount" 60 umount "$fs" && ok "A: umount" || bad "A: umount"; }
out=$(timeout 90 "$bin" disconnect -n "$tnqn" 2>&1)
[[ $out == "NQN:$tnqn disconnected 1 controller(s)" ]] && ok "A: disconnect -n: $out" || bad "A: disconnect: $out"
nothing_left "A: after disconnect" "$pid1" "$tport"
[[ $("$bin" list | wc -l) == 2 ]] && ok "A: list is empty after disconnect" || bad "A: list: $("$bin" list)"

# Back again: the filesystem and the files are intact.
attach "$tport" "$tnqn" "A: reconnect" && {
  if run "A: mount after reconnect" 30 mount "$loop" "$fs"; then
    (cd "$fs" && timeout 60 sha256sum -c --quiet "$work/sums") >"$work/out" 2>&1 &&
      ok "A: all 4 files have their sha256 after disconnect + connect" || bad "A: checksums: $(cat "$work/out")"
    # Disconnect by device with the filesystem still mounted and a file not yet synced: the host
    # process unmounts it first, and the unmount's writes must still reach the target.
    head -c 4M /dev/urandom >"$work/unsynced"
    cp "$work/unsynced" "$fs/unsynced"
    pid1=$pid
    timeout 90 "$bin" disconnect -d "$loop" >"$work/out" 2>&1 && ok "A: disconnect -d $loop with the filesystem still mounted" ||
      bad "A: disconnect -d $loop: $(cat "$work/out")"
    grep -q "unmounted $loop from $fs" "$TIGHTROPE_STATE_DIR/ctrl/$name.log" && ok "A: the host process unmounted $fs first" ||
      bad "A: no unmount logged: $(tail -3 "$TIGHTROPE_STATE_DIR/ctrl/$name.log")"
    nothing_left "A: after disconnect -d" "$pid1" "$tport"
  else bad "A: mount after reconnect"; fi
}
attach "$tport" "$tnqn" "A: third connect" && {
  if run "A: mount after the disconnect with a mounted filesystem" 30 mount "$loop" "$fs"; then
    cmp -s "$work/unsynced" "$fs/unsynced" && ok "A: the file written just before that disconnect is intact" ||
      bad "A: the unsynced file was lost or differs (I/O refused while the host unmounted it?)"
    run "A: umount" 60 umount "$fs" || bad "A: umount"
  else bad "A: mount after the disconnect with a mounted filesystem"; fi
  # O_DSYNC writes (each one a write plus an NVMe Flush) straight to the block device.
  head -c 1M /dev/urandom >"$work/d1"
  run "A: dd oflag=dsync to $loop" 60 dd if="$work/d1" of="$loop" bs=4k seek=51200 oflag=dsync conv=notrunc status=none &&
    run "A: read back" 30 dd if="$loop" of="$work/d1.back" bs=4k skip=51200 count=256 iflag=direct status=none &&
    cmp -s "$work/d1" "$work/d1.back" && ok "A: 1 MiB written with dd oflag=dsync to $loop reads back equal" ||
    bad "A: dsync write/read-back differs"
  # Namespaces the target adds and removes while we are attached (AEN, then a rescan): a new one gets
  # its FUSE file and loop device, a removed one loses both; nothing stale is left.
  ns_field() { # NSID FIELD: the namespace's loop or file in our controller record, "-" if it has none
    python3 - "$TIGHTROPE_STATE_DIR/ctrl/$name.json" "$1" "$2" <<'PY'
import json, sys
o = json.load(open(sys.argv[1]))
print(next((n.get(sys.argv[3]) or "-" for n in o.get("namespaces", []) if n["nsid"] == int(sys.argv[2])), "-"))
PY
  }
  "$bin" ctl -S "$work/ctl.sock" add-ns "$tnqn" mem:64M --nsid 2 >"$work/out" 2>&1 || bad "A: ctl add-ns: $(cat "$work/out")"
  for _ in $(seq 100); do [[ -b $(ns_field 2 loop) ]] && break; sleep 0.1; done
  loop2=$(ns_field 2 loop) file2=$(ns_field 2 file)
  if [[ -b $loop2 && -f $file2 ]]; then
    ok "A: namespace 2 added on the target appears on the host: $loop2 and $file2"
    head -c 1M /dev/urandom >"$work/n2"
    run "A: write to namespace 2" 30 dd if="$work/n2" of="$loop2" bs=64k oflag=direct status=none &&
      run "A: read namespace 2" 30 dd if="$loop2" of="$work/n2.back" bs=64k count=16 iflag=direct status=none &&
      cmp -s "$work/n2" "$work/n2.back" && ok "A: 1 MiB written to the new $loop2 reads back equal" || bad "A: namespace 2 data"
    [[ $("$bin" list -o json | python3 -c "import json,sys; print(len(json.load(sys.stdin)['Devices']))") == 2 ]] &&
      ok "A: list shows both namespaces" || bad "A: list: $("$bin" list)"
  else bad "A: namespace 2 did not appear on the host (loop '$loop2', file '$file2')"; fi
  "$bin" ctl -S "$work/ctl.sock" remove-ns "$tnqn" 2 >"$work/out" 2>&1 || bad "A: ctl remove-ns: $(cat "$work/out")"
  for _ in $(seq 100); do [[ $(ns_field 2 file) == - ]] && break; sleep 0.1; done
  if [[ $(ns_field 2 file) == - ]]; then
    ok "A: namespace 2 removed on the target is gone from the host's record"
    for _ in $(seq 50); do losetup -l -n -O NAME | grep -qx "$loop2" || break; sleep 0.1; done
    losetup -l -n -O NAME,BACK-FILE | grep -q "^$loop2 .*/n2" && bad "A: $loop2 is still bound to n2" ||
      ok "A: its loop device $loop2 is detached"
    [[ ! -e $file2 ]] && ok "A: its FUSE file $file2 is gone" || bad "A: $file2 still exists"
    [[ $("$bin" list -o json | python3 -c "import json,sys; print(len(json.load(sys.stdin)['Devices']))") == 1 ]] &&
      ok "A: list shows one namespace again" || bad "A: list after remove-ns: $("$bin" list)"
  else bad "A: namespace 2 is still on the host after remove-ns"; fi
  [[ $(ctl_ctrls) == 1 ]] && ok "A: the target shows our controller" || bad "A: target controllers: $(ctl_ctrls)"
  pid2=$pid
  timeout 90 "$bin" disconnect-all >"$work/out" 2>&1 && ok "A: disconnect-all exits 0" || bad "A: disconnect-all: $(cat "$work/out")"
  nothing_left "A: after disconnect-all" "$pid2" "$tport"
  for _ in $(seq 50); do [[ $(ctl_ctrls) == 0 ]] && break; sleep 0.1; done
  [[ $(ctl_ctrls) == 0 ]] && ok "A: the target's control socket lists no controller" || bad "A: target still has $(ctl_ctrls) controllers"
}

# A host process killed with -9 (with a filesystem mounted on its loop device): list says so,
# disconnect-all cleans up after it.
attach "$tport" "$tnqn" "A: kill -9" && {
  pid3=$pid
  run "A: mount before kill" 30 mount "$loop" "$fs" || bad "A: mount before kill -9"
  kill -9 "$pid3"
  # As soon as it has exited (a zombie its reaper has not collected yet counts), list must say so.
  wait_gone "$pid3"
  "$bin" list >"$work/list"
  grep "^$loop " "$work/list" | grep -q "dead (host process gone; disconnect-all cleans up)" &&
    ok "A: list reports the killed host process: $(grep -o 'dead ([^)]*)' "$work/list")" || bad "A: list after kill -9: $(cat "$work/list")"
  "$bin" list -o json | python3 -c "import json,sys; assert json.load(sys.stdin)['Devices'][0]['State'].startswith('dead')" &&
    ok "A: list -o json says dead too" || bad "A: list -o json after kill -9"
  timeout 90 "$bin" disconnect-all >"$work/out" 2>&1 && ok "A: disconnect-all after kill -9 exits 0" ||
    bad "A: disconnect-all after kill -9: $(cat "$work/out")"
  nothing_left "A: after kill -9 + disconnect-all" "$pid3" "$tport"
  for _ in $(seq 100); do [[ $(ctl_ctrls) == 0 ]] && break; sleep 0.1; done
  [[ $(ctl_ctrls) == 0 ]] && ok "A: the target dropped the killed host's controller" || bad "A: target still has $(ctl_ctrls) controllers"
}
kill -TERM "$tgt"; wait "$tgt"; rc=$?; tgt=""
[[ $rc == 0 ]] && ok "A: target exits 0" || bad "A: target exit code $rc"
echo "part A took $((SECONDS - t0)) s"

# =================== B: the Linux kernel's nvmet-tcp target ===================
if ! kernel_target_ready "$work"; then
  bad "B: kernel target VM did not come up"; tail -20 "$work/ktarget.log"
else
  timeout 30 "$bin" discover -t tcp -a 127.0.0.1 -s "$kport" >"$work/out" 2>&1
  grep -q "subnqn:  $knqn" "$work/out" && ok "B: discover lists $knqn" || bad "B: discover: $(cat "$work/out")"
  attach "$kport" "$knqn" B && {
    kpid1=$pid kloop1=$loop
    "$bin" list >"$work/list"
    grep "^$loop " "$work/list" | grep -q "$name .* Linux .* live" && ok "B: list shows $loop, $name, model Linux, live" ||
      bad "B: list: $(cat "$work/list")"
    "$bin" list -o json | python3 -c "
import json, sys
d = json.load(sys.stdin)['Devices'][0]
assert d['DevicePath'] == '$loop' and d['ModelNumber'] == 'Linux' and d['PhysicalSize'] == 64 << 20, d" &&
      ok "B: list -o json parses: 64 MiB, model Linux" || bad "B: list -o json"
    head -c 8M /dev/urandom >"$work/k8"
    run "B: 8 MiB dd oflag=direct to $loop" 60 dd if="$work/k8" of="$loop" bs=1M oflag=direct status=none &&
      ok "B: 8 MiB of random data written through $loop (O_DIRECT)" || bad "B: 8 MiB write"
    out=$(timeout 90 "$bin" disconnect -n "$knqn" 2>&1)
    [[ $out == "NQN:$knqn disconnected 1 controller(s)" ]] && ok "B: disconnect -n: $out" || bad "B: disconnect: $out"
    nothing_left "B: after disconnect" "$kpid1" "$kport"
    attach "$kport" "$knqn" "B: reconnect" && {
      kpid2=$pid
      [[ $(cat "/sys/block/${loop#/dev/}/loop/backing_file") == "$file" ]] &&
        ok "B: the new $loop is bound to the new host process's FUSE file" ||
        bad "B: $loop is bound to $(cat "/sys/block/${loop#/dev/}/loop/backing_file"), not $file"
      run "B: read back through $loop (iflag=direct)" 60 dd if="$loop" of="$work/k8.back" bs=1M count=8 iflag=direct status=none &&
        cmp -s "$work/k8" "$work/k8.back" && ok "B: the 8 MiB read back through the new $loop (was $kloop1) are equal" ||
        bad "B: read-back differs from what was written"
      # Writes from 8 to 16 KiB: the kernel target (port inline_data_size 16 KiB) expects their
      # data inside the command capsule and never sends an R2T for them.
      head -c 12k /dev/urandom >"$work/k12"
      run "B: a 12 KiB O_DIRECT write" 20 dd if="$work/k12" of="$loop" bs=12k seek=2000 count=1 oflag=direct status=none &&
        run "B: 12 KiB read back" 20 dd if="$loop" of="$work/k12.back" bs=12k skip=2000 count=1 iflag=direct status=none &&
        cmp -s "$work/k12" "$work/k12.back" && ok "B: a 12 KiB write (between 8 and 16 KiB) completes and reads back" ||
        bad "B: a 12 KiB write against the kernel target"
      timeout 120 "$bin" disconnect-all >"$work/out" 2>&1 && ok "B: disconnect-all exits 0" || bad "B: disconnect-all: $(cat "$work/out")"
      nothing_left "B: after disconnect-all" "$kpid2" "$kport"
    }
  }
fi
stop_vm
no_sanitizer_report "the target or the host processes" "$work/target.log" "$TIGHTROPE_STATE_DIR"/ctrl/*.log
echo "took $((SECONDS - t0)) s"
finish
