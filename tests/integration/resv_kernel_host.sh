#!/usr/bin/env bash
# Persistent reservations against the real Linux host (QEMU guest, nvme-cli): blktests nvme/054's
# sequence must give the kernel target's reports (tests/nvme/054.out); then two hosts: the guest holds
# Write Exclusive, our raw client (another Host Identifier) has its reads served and its writes refused
# with Reservation Conflict, preempts the guest with abort, and the guest's next write fails and does
# not land. Both Debian guests: 12 (Linux 6.1) and 13 (6.12).
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
"$bin" target -l "127.0.0.1:$port" -n "$nqn" -N mem:64M -S "$work/ctl.sock" >"$work/target.log" 2>&1 &
tgt_pid=$!
pids+=("$tgt_pid")
wait_ready "$work/target.log" || { cat "$work/target.log"; bad "target did not start"; give_up; }

# Host B: once the guest holds the reservation, read, write, preempt with abort, mark LBA 100.
(
  wait_log "$work/console.log" "GUEST: A holds Write Exclusive" 400 || exit 0
  python3 - "$port" "$nqn" >"$work/hostb.log" 2>&1 <<'PY'
import os, struct, sys
sys.path.insert(0, os.environ["HERE"])
import nvmf_client as nv
port, nqn = int(sys.argv[1]), sys.argv[2]
hostnqn, hostid = "nqn.2026-12.io.tightrope:host-b", b"\xbb" * 16
admin = nv.admin_connect(nqn, port=port, hostnqn=hostnqn, hostid=hostid)
io = nv.io_connect(admin, nqn, port=port, hostnqn=hostnqn, hostid=hostid)
def resv(opcode, cdw10, data):
    return io.submit(nv.sqe(opcode, io.alloc_cid(), nsid=1, cdw10=cdw10, sgl_len=len(data),
                            sgl_type=nv.SGL_INCAPSULE), data).status
r = io.read(1, 200, 1)
print("B-READ", r.status, r.data[:8])
print("B-WRITE", io.write(1, 0, b"B" * 512).status)
print("B-REGISTER", resv(0x0D, 0, struct.pack("<QQ", 0, 11)))
print("B-WRITE-REGISTERED", io.write(1, 0, b"B" * 512).status)
print("B-PREEMPT-ABORT", resv(0x11, 2 | 1 << 8, struct.pack("<QQ", 11, 10)))
print("B-MARK", io.write(1, 100, b"PREEMPTED-BY-B".ljust(512, b"\0")).status)
PY
) &
b_pid=$!
pids+=("$b_pid")

if TIGHTROPE_VM_DATA_MB=1 TIGHTROPE_VM_TIMEOUT=400 TIGHTROPE_VM_LOG="$work/console.log" \
  "$vm/kernel-host.sh" "$port" "$nqn" "$here/resv_kernel_host_guest.sh" >"$work/vm.log" 2>&1; then
  ok "$suite guest ($(grep -m1 -o 'boot: kernel [^,]*, nvme version [0-9.]*' "$work/vm.log" | sed 's/^boot: //')): the reservation script ran to the end"
else
  bad "$suite guest: $(grep -E 'GUEST-FAIL|RESULT=' "$work/vm.log" | tail -2 | tr '\n' ' ')"
  tail -30 "$work/vm.log"
fi
wait "$b_pid" || true

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
grep -q "B-READ 0 b'HOLDER-A'" "$work/hostb.log" && ok "host B's read of the holder's data is served" || bad "host B's read: $(cat "$work/hostb.log")"
grep -q "B-WRITE 16515" "$work/hostb.log" && ok "host B, unregistered: write refused with Reservation Conflict" || bad "host B's write: $(grep B-WRITE "$work/hostb.log")"
grep -q "B-WRITE-REGISTERED 16515" "$work/hostb.log" && ok "host B, registered: write still refused under Write Exclusive" || bad "host B registered write: $(grep B-WRITE-REG "$work/hostb.log")"
grep -q "B-PREEMPT-ABORT 0" "$work/hostb.log" && ok "host B preempts the kernel host with abort" || bad "preempt: $(grep B-PREEMPT "$work/hostb.log")"
grep -q "GUEST: a write after the preemption failed" "$work/vm.log" && ok "the kernel host's write after the preemption failed ($(grep -o 'preemption failed: .*' "$work/vm.log" | head -1 | cut -c20-80))" || bad "the kernel host's write after the preemption"
grep -q "GUEST: reads still served" "$work/vm.log" && ok "the kernel host's reads are still served under B's Write Exclusive" || bad "the kernel host's reads after the preemption"
grep -q "GUEST-REPORT: rtype *: 1" "$work/vm.log" && grep -qE "GUEST-REPORT: +rkey *: (11|b|0xb)\s*$" "$work/vm.log" &&
  ok "the kernel host's resv-report: B (key 11) holds Write Exclusive alone" || bad "report after the preemption: $(grep GUEST-REPORT "$work/vm.log" | tr '\n' ' ')"
# Nothing the guest tried after the preemption landed: LBA 4096 is still zeros, from our side.
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
kill -TERM "$tgt_pid"; rc=0; wait "$tgt_pid" || rc=$?; pids=()
[[ $rc == 0 ]] && ok "target exits 0 on SIGTERM" || bad "target exit status $rc"
no_sanitizer_report "the target" "$work/target.log"
finish
