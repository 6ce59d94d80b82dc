#!/usr/bin/env bash
# Scale-out interop: the Linux kernel's native NVMe multipath (QEMU guest, Debian's kernel) over two
# `tightrope target` processes that export the same file as one namespace of one subsystem: the same
# --target-id (so the same serial, NGUID, UUID), disjoint CNTLID ranges, target A's port optimized
# and target B's non-optimized. The guest sees one namespace head with two paths and their ANA
# states; with fio's verifying write load running on the head, target A is killed (I/O goes on through
# B, no error, no acknowledged write lost), restarted (the path comes back), and `ctl set-ana`
# then makes B optimized and A non-optimized (the ANA change event reaches the host, and the I/O
# moves to B: its write counter grows, A's stops).
# usage: mpath_kernel_host.sh TIGHTROPE_BINARY
set -euo pipefail
bin=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
vm=$(cd "$here/../vm" && pwd)
with_scratch mpath
"$vm/build.sh" >"$work/vm-build.log" 2>&1 || { cat "$work/vm-build.log"; bad "building the VM guest"; give_up; }

nqn=nqn.2026-12.io.tightrope:mpath
id=6f1c2a4e-9b7d-4c3e-8a51-2d0f7e6b9c10
port_a=$(free_port) port_b=$(free_port)
truncate -s 128M "$work/shared.img"
# target A: port 1 of its own, ANA group 1 optimized (the default); CNTLIDs 1..999.
start_a() {
  "$bin" target -l "127.0.0.1:$port_a" -n "$nqn" -N "$work/shared.img" --target-id "$id" \
    --cntlid-min 1 --cntlid-max 999 -S "$work/a.sock" -w 1 >>"$work/a.log" 2>&1 &
  pid_a=$!
  pids+=("$pid_a")
  wait_ready "$work/a.log" 20
}
start_a || { cat "$work/a.log"; bad "target A did not start"; give_up; }
"$bin" target -l "127.0.0.1:$port_b" --ana-state 1:non-optimized -n "$nqn" -N "$work/shared.img" \
  --target-id "$id" --cntlid-min 1000 --cntlid-max 1999 -S "$work/b.sock" -w 1 >"$work/b.log" 2>&1 &
pids+=($!)
wait_ready "$work/b.log" 20 || { cat "$work/b.log"; bad "target B did not start"; give_up; }

# write_cmds SOCKET: the I/O write commands the target has served, all controllers together.
write_cmds() {
  "$bin" ctl -S "$1" -o json list | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(sum(q["write_cmds"] for s in d["subsystems"] for c in s["controllers"] for q in c["queues"]))'
}

console=$work/console.log vmlog=$work/vm.log
: >"$console"
TIGHTROPE_VM_PORT2=$port_b TIGHTROPE_VM_FIO=1 TIGHTROPE_VM_DEFAULT_TEST=0 TIGHTROPE_VM_DISCOVER=0 \
  TIGHTROPE_VM_TIMEOUT=420 TIGHTROPE_VM_LOG="$console" \
  "$vm/kernel-host.sh" "$port_a" "$nqn" "$here/mpath_kernel_host_guest.sh" >"$vmlog" 2>&1 &
vm_pid=$!

phase() { wait_log "$console" "$1" "${2:-300}"; }
if phase "MPATH: verify running"; then
  a0=$(write_cmds "$work/a.sock") b0=$(write_cmds "$work/b.sock")
  sleep 2
  a1=$(write_cmds "$work/a.sock") b1=$(write_cmds "$work/b.sock")
  ((a1 > a0 && b1 == b0)) && ok "the writes go to the optimized path A only (A +$((a1 - a0)), B +$((b1 - b0)))" ||
    bad "before the kill: A +$((a1 - a0)) writes, B +$((b1 - b0)) (expected A only)"
  kill -KILL "$pid_a"
  wait "$pid_a" 2>/dev/null || true
  ok "target A killed (SIGKILL) while the verifying load ran"
  sleep 4
  start_a && ok "target A restarted" || bad "target A did not restart: $(tail -3 "$work/a.log")"
fi
if phase "MPATH: path A back"; then
  "$bin" ctl -S "$work/b.sock" set-ana 1 1 optimized >/dev/null && "$bin" ctl -S "$work/a.sock" set-ana 1 1 non-optimized >/dev/null &&
    ok "ctl set-ana: B optimized, A non-optimized" || bad "ctl set-ana"
fi
if phase "MPATH: after set-ana"; then
  a0=$(write_cmds "$work/a.sock") b0=$(write_cmds "$work/b.sock")
  sleep 4
  a1=$(write_cmds "$work/a.sock") b1=$(write_cmds "$work/b.sock")
  ((b1 > b0 && a1 == a0)) && ok "after the switch the writes go to B only (B +$((b1 - b0)), A +$((a1 - a0)))" ||
    bad "after the switch: B +$((b1 - b0)) writes, A +$((a1 - a0)) (expected B only)"
fi
rc=0
wait "$vm_pid" || rc=$?
((rc == 0)) && ok "kernel host guest: $(grep -m1 -o 'boot: kernel [^,]*' "$vmlog" | sed 's/^boot: //'), every phase" ||
  bad "kernel host guest: $(grep -E 'RESULT=|GUEST-FAIL|VERIFY-FAIL' "$console" | tail -2 | tr '\n' ' ')"

grep -q "MPATH: paths=2 heads=1" "$console" && ok "one namespace head with two paths" || bad "not one head with two paths"
line=$(grep -m1 "MPATH: path A " "$console" || true)
[[ $line == *"optimized, path B"*"non-optimized"* ]] && ok "ANA states per path: ${line#*MPATH: }" || bad "ANA states per path: $line"
# nvme-cli's list-subsys (its layout differs between 2.4 and 2.13): both paths, live, with ANA state.
grep -qE "trsvcid=4420.* live optimized" "$console" && grep -qE "trsvcid=4421.* live non-optimized" "$console" &&
  ok "nvme list-subsys shows both paths live with their ANA states" || bad "nvme list-subsys lacks a path or its ANA state"
grep -qE "MPATH: path A state (resetting|connecting)" "$console" && ok "the kernel saw path A go ($(grep -m1 -o 'path A state [a-z]* after [0-9]* s' "$console"))" ||
  bad "path A never left live: $(grep -m1 'MPATH: path A state' "$console")"
grep -q "MPATH: path A back" "$console" && ok "path A came back: $(grep -m1 -o 'path A back after [0-9]* s' "$console")" || bad "path A did not come back"
grep -q "MPATH: after set-ana: path A non-optimized, path B optimized" "$console" &&
  ok "the ANA change event carried set-ana to the kernel host" || bad "ANA switch not seen by the host"
grep -q "MPATH: fio verify passed" "$console" && ok "$(grep -m1 -o 'fio verify passed.*' "$console" | tr -d '@')" ||
  bad "fio verify: $(grep -m3 -E 'verify:|bad magic|crc32c|fio verify failed' "$console" | tr '\n' ' ')"
! grep -qE "I/O error|Buffer I/O|blk_update_request" "$console" && ok "no I/O error in the kernel's log" ||
  bad "the kernel logged I/O errors: $(grep -m2 -E 'I/O error|Buffer I/O|blk_update_request' "$console" | tr '\n' ' ')"
grep -q "failing over\|requeue\|starting error recovery" "$console" &&
  ok "kernel: $(grep -m1 -oE 'nvme[0-9]+: (starting error recovery|[^:]*failing over[^@]*)' "$console")" || true
for t in a b; do
  ! grep -qE "Sanitizer|runtime error" "$work/$t.log" && ok "target ${t^^}: no sanitizer report" || { bad "target ${t^^}: sanitizer report"; tail -30 "$work/$t.log"; }
done
[[ $fail == 0 ]] || { echo "--- console tail"; tail -60 "$console"; }
finish
