#!/usr/bin/env bash
# Persistent reservations against the real Linux host (QEMU guest, nvme-cli): blktests nvme/054's
# sequence must give the kernel target's reports (tests/nvme/054.out); then two hosts, both the guest's
# kernel with different Host NQNs and Host Identifiers (two controllers): A holds Write Exclusive with
# PTPL on, B has its reads served and its writes refused with Reservation Conflict, preempts A with abort,
# and A's next write fails and does not land; the target is restarted under them, both controllers
# reconnect, and the reservation is still B's. Both Debian guests: 12 (Linux 6.1) and 13 (6.12).
# usage: resv_kernel_host.sh TIGHTROPE_BINARY [bookworm|trixie]
set -euo pipefail
bin=$(realpath "$1")
suite=${2:-bookworm}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
vm=$(cd "$here/../vm" && pwd)
export HERE=$here # where the raw client (nvmf_client.py) is, for the Python parts
with_scratch resv-kh
export TIGHTROPE_VM_SUITE=$suite
"$vm/build.sh" >"$work/vm-build.log" 2>&1 || { cat "$work/vm-build.log"; bad "building the $suite guest"; give_up; }
nqn=nqn.2026-12.io.tightrope:resv-interop
port=$(free_port)
export TIGHTROPE_STATE_DIR=$work/state # where PTPL keeps the reservations across the restart
# start_target LOG: a target on $port; $tgt_pid.
truncate -s 64M "$work/disk" # a file: what A tried to write before the restart is still there to check
start_target() {
  "$bin" target -l "127.0.0.1:$port" -n "$nqn" -N "$work/disk" -S "$work/ctl.sock" >"$1" 2>&1 &
  tgt_pid=$!
  pids+=("$tgt_pid")
  wait_ready "$1" || { cat "$1"; bad "target did not start"; give_up; }
}
start_target "$work/target.log"

TIGHTROPE_VM_DATA_MB=1 TIGHTROPE_VM_TIMEOUT=400 TIGHTROPE_VM_LOG="$work/console.log" \
  TIGHTROPE_VM_CONNECT_OPTS="--reconnect-delay=1" \
  "$vm/kernel-host.sh" "$port" "$nqn" "$here/resv_kernel_host_guest.sh" >"$work/vm.log" 2>&1 &
vm_pid=$!
pids+=("$vm_pid")
# When the guest asks (both hosts connected, B holding): stop the target, start it again, same port and state.
until grep -q "GUEST: restart the target now" "$work/console.log" 2>/dev/null || grep -q "RESULT=" "$work/vm.log"; do
  sleep 0.2
done
if grep -q "GUEST: restart the target now" "$work/console.log"; then
  kill -TERM "$tgt_pid"; rc=0; wait "$tgt_pid" 2>/dev/null || rc=$?
  [[ $rc == 0 ]] && ok "the first target exits 0 on SIGTERM, hosts connected" || bad "the first target's exit status $rc"
  no_sanitizer_report "the first target" "$work/target.log"
  start_target "$work/target2.log"
  ok "the target started again, same port and state directory"
fi
if wait "$vm_pid"; then
  ok "$suite guest ($(grep -m1 -o 'boot: kernel [^,]*, nvme version [0-9.]*' "$work/vm.log" | sed 's/^boot: //')): the reservation script ran to the end"
else
  bad "$suite guest: $(grep -E 'GUEST-FAIL|RESULT=' "$work/vm.log" | tail -2 | tr '\n' ' ')"
  tail -30 "$work/vm.log"
fi

# nvme/054: what nvme-cli printed, as key/value pairs, against the kernel target's answers.
python3 - "$work/vm.log" >"$work/054.cmp" 2>&1 <<'PY' && ok "blktests nvme/054: nvme-cli's reports match the kernel target's (tests/nvme/054.out)" || { bad "nvme/054 reports differ"; cat "$work/054.cmp"; }
import re, sys
text = open(sys.argv[1], errors="replace").read()
m = re.search(r"054-BEGIN\n(.*?)054-END", text, re.S)
got = []
for line in (m.group(1) if m else "").splitlines():
    line = re.sub(r"^.*?GUEST[^:]*: ", "", line).strip()
    if line in ("Register", "Replace", "Unregister", "Acquire", "Preempt", "Release", "Clear"):
        got.append((line,))
    elif ":" in line:
        k, v = (x.strip() for x in line.split(":", 1))
        got.append((k, v))
want_text = """Register
gen : 0
rtype : 0
regctl : 0
gen : 1
rtype : 0
regctl : 1
regctlext[0] :
cntlid : ffff
rcsts : 0
rkey : 4
Replace
gen : 2
rtype : 0
regctl : 1
regctlext[0] :
cntlid : ffff
rcsts : 0
rkey : 5
Unregister
gen : 3
rtype : 0
regctl : 0
Acquire
gen : 4
rtype : 1
regctl : 1
regctlext[0] :
cntlid : ffff
rcsts : 1
rkey : 4
Preempt
gen : 5
rtype : 2
regctl : 1
regctlext[0] :
cntlid : ffff
rcsts : 1
rkey : 4
Release
gen : 5
rtype : 0
regctl : 1
regctlext[0] :
cntlid : ffff
rcsts : 0
rkey : 4
Clear
gen : 5
rtype : 1
regctl : 1
regctlext[0] :
cntlid : ffff
rcsts : 1
rkey : 4"""
want = [(l,) if ":" not in l else tuple(x.strip() for x in l.split(":", 1)) for l in want_text.splitlines()]
if got != want:
    print("got: ", got)
    print("want:", want)
    sys.exit(1)
PY
guest_ok() { grep -q "GUEST: $1" "$work/vm.log" && ok "$2" || bad "$2: not seen"; }
guest_ok "host B is /dev/nvme" "a second controller of the guest's kernel as host B ($(grep -o 'host B is .*' "$work/vm.log" | head -1 | cut -c11-80))"
guest_ok "B's read is served" "host B's read of the holder's data is served"
guest_ok "B's write refused: " "host B, unregistered: write refused with Reservation Conflict"
guest_ok "B's write refused, registered" "host B, registered: write still refused under Write Exclusive"
guest_ok "B preempted A with abort" "host B preempts host A with abort"
grep -q "GUEST: a write after the preemption failed" "$work/vm.log" && ok "host A's write after the preemption failed ($(grep -o 'preemption failed: .*' "$work/vm.log" | head -1 | cut -c20-80))" || bad "host A's write after the preemption"
guest_ok "reads still served" "host A's reads are still served under B's Write Exclusive"
guest_ok "both controllers reconnected" "both controllers reconnected by themselves"
grep -q "GUEST-REPORT: rtype *: 1" "$work/vm.log" && grep -qE "GUEST-REPORT: +rkey *: (11|b|0xb)\s*$" "$work/vm.log" &&
  ! grep -qE "GUEST-REPORT: +rkey *: (10|a|0xa)\s*$" "$work/vm.log" &&
  ok "PTPL: after the restart, resv-report says B (key 11) holds Write Exclusive alone" || bad "report after the restart: $(grep GUEST-REPORT "$work/vm.log" | tr '\n' ' ')"
guest_ok "after the restart A's write still fails" "after the restart host A's writes are still refused"
# Nothing A tried after the preemption landed (before or after the restart): LBA 4096 still zeros.
python3 - "$port" "$nqn" >"$work/late.log" 2>&1 <<'PY' && ok "nothing of the kernel host's late write landed (LBA 4096, past the harness's data test, still zeros)" || bad "the late write landed: $(cat "$work/late.log")"
import os, sys
sys.path.insert(0, os.environ.get("HERE", "."))
import nvmf_client as nv
port, nqn = int(sys.argv[1]), sys.argv[2]
a = nv.admin_connect(nqn, port=port, hostnqn="nqn.2026-12.io.tightrope:checker", hostid=b"\xcc" * 16)
io = nv.io_connect(a, nqn, port=port, hostnqn="nqn.2026-12.io.tightrope:checker", hostid=b"\xcc" * 16)
r = io.read(1, 4096, 1)
print("status", r.status, "data", r.data[:16])
sys.exit(0 if r.status == 0 and r.data == bytes(512) else 1)
PY
kill -TERM "$tgt_pid"; rc=0; wait "$tgt_pid" 2>/dev/null || rc=$?; pids=()
[[ $rc == 0 ]] && ok "target exits 0 on SIGTERM" || bad "target exit status $rc"
no_sanitizer_report "the restarted target" "$work/target2.log"
finish
