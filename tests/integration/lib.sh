# shellcheck shell=bash
# tests/integration/lib.sh: what the shell integration tests share: PASS/FAIL bookkeeping and the
# closing line CI reads, waiting for a target (or a socket, a VM, any log line) to be ready, a free
# port, a scratch directory cleaned up on exit, the sanitizer check of logs, and the kernel target
# guest. Sourced by each test right after its `set`; not run.

pass=0 fail=0
ok() { echo "PASS $*"; pass=$((pass + 1)); }
bad() { echo "FAIL $*"; fail=$((fail + 1)); }
# finish: the closing "N passed, N failed" line; true when nothing failed.
finish() {
  echo "$pass passed, $fail failed"
  ((fail == 0))
}
# give_up: when what is left cannot run: the closing line now, and exit with its status.
give_up() {
  finish
  exit
}

# wait_until SECONDS COMMAND...: run COMMAND every 0.1 s until it succeeds; false if it never did.
wait_until() {
  local tries=$(($1 * 10))
  shift
  until "$@"; do
    ((--tries > 0)) || return 1
    sleep 0.1
  done
}
# wait_log FILE PATTERN [SECONDS]: until a line of FILE matches PATTERN (grep's); default 10 s.
wait_log() { wait_until "${3:-10}" grep -q -- "$2" "$1"; }
# wait_ready LOG [SECONDS]: until the target logging to LOG says "target ready", which it does once
# every listener is up.
wait_ready() { wait_log "$1" "target ready" "${2:-10}"; }
# wait_sock PATH [SECONDS]: until a control socket is at PATH; default 5 s.
wait_sock() { wait_until "${2:-5}" test -S "$1"; }
# gone PID: the process exited, or is a zombie nobody reaped yet.
gone() {
  [[ ! -e /proc/$1 ]] || [[ $(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1) =~ ^[ZX]?$ ]]
}
# wait_gone PID [SECONDS]: until process PID is gone; default 10 s.
wait_gone() { wait_until "${2:-10}" gone "$1"; }

# with_scratch NAME: $work, a new directory /tmp/tightrope-NAME.XXXXXX, and $pids, for processes
# the test starts; on exit each of those gets a TERM and is waited for, then $work goes.
with_scratch() {
  work=$(mktemp -d "/tmp/tightrope-$1.XXXXXX")
  pids=()
  trap cleanup_scratch EXIT
}
cleanup_scratch() {
  # Under set -e a failing kill or wait (143 for a TERMed child) would end the trap early.
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}

# ctrl_of NQN: the record of the controller `tightrope connect` attached to NQN, from
# $TIGHTROPE_STATE_DIR/ctrl: "name pid loop file" of namespace 1 (empty if there is none).
ctrl_of() {
  python3 - "$TIGHTROPE_STATE_DIR/ctrl" "$1" <<'EOF'
import glob, json, sys
for p in sorted(glob.glob(sys.argv[1] + "/*.json")):
    try:
        o = json.load(open(p))
    except ValueError:
        continue
    if o.get("subnqn") == sys.argv[2]:
        ns = (o.get("namespaces") or [{}])[0]
        print(o["name"], o["pid"], ns.get("loop") or "-", ns.get("file") or "-")
        break
EOF
}

# kernel_host_script PORT NQN SCRIPT VMLOG CONSOLE: boot the kernel-host guest (tests/vm) against
# 127.0.0.1:PORT to run SCRIPT alone (no default data test); one check for the whole run.
kernel_host_script() {
  if TIGHTROPE_VM_DEFAULT_TEST=0 TIGHTROPE_VM_TIMEOUT=300 TIGHTROPE_VM_LOG="$5" \
    "$vm_dir/kernel-host.sh" "$1" "$2" "$3" >"$4" 2>&1; then
    ok "kernel host ($(grep -m1 -o 'boot: kernel [^,]*, nvme version [0-9.]*' "$4" | sed 's/^boot: //')): every phase"
  else
    bad "kernel host: $(grep -E 'RESULT=|GUEST-FAIL' "$4" | tail -2 | tr '\n' ' ')"
    tail -40 "$4"
  fi
}
# guest_said VMLOG PHASE...: one check per phase the guest script must have reported ("GUEST: PHASE").
guest_said() {
  local log=$1 phase line
  shift
  for phase in "$@"; do
    line=$(grep -m1 "GUEST: $phase" "$log" || true)
    [[ -n $line ]] && ok "${line#*GUEST: }" || bad "guest never said: $phase"
  done
}

# free_port: a TCP port nothing on 127.0.0.1 is bound to right now.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# no_sanitizer_report WHAT LOG...: one check that no AddressSanitizer, UBSan or ThreadSanitizer
# report is in the logs (missing logs count as clean); the first lines of a report if there is one.
no_sanitizer_report() {
  local what=$1
  shift
  if grep -qsE "Sanitizer|runtime error" "$@"; then
    bad "sanitizer report from $what"
    grep -hsE -A5 "Sanitizer|runtime error" "$@" | head -20
  else
    ok "no sanitizer report from $what"
  fi
}

# The Linux kernel's nvmet-tcp target in a QEMU guest (tests/vm/kernel-target.sh), which the host
# side's tests run against, and the subsystem it exports.
vm_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../vm" && pwd)
kernel_target_nqn=nqn.2014-08.org.nvmexpress:interop-kernel-target
# build_vm_guest WORKDIR: the guest images, built on the first run and cached after (so that a wait
# for a guest covers only its boot); a failed build counts as a failure and shows its log.
build_vm_guest() {
  "$vm_dir/build.sh" >"$1/vm-build.log" 2>&1 || { cat "$1/vm-build.log"; bad "building the VM guest"; }
}
# kernel_target_start PORT WORKDIR: boot the kernel target guest in the background, reachable at
# 127.0.0.1:PORT, its output in WORKDIR/ktarget.log; sets kernel_target_pid.
kernel_target_start() {
  "$vm_dir/kernel-target.sh" "$1" >"$2/ktarget.log" 2>&1 &
  kernel_target_pid=$!
}
# kernel_target_stop PID: stop the kernel target's script, then whatever it started that outlived
# it (QEMU's `timeout` wrapper has been seen to survive a TERM to the script).
kernel_target_stop() {
  local kids k
  kids=$(pgrep -P "$1" | tr '\n' ' ')
  kill "$1" 2>/dev/null
  wait "$1" 2>/dev/null
  for k in $kids; do kill -0 "$k" 2>/dev/null && { echo "stopping VM process $k left by the script"; kill "$k"; }; done
}
# kernel_target_ready WORKDIR: until that guest says READY; false if it does not within 180 s (a TCG
# boot takes a minute or two).
kernel_target_ready() { wait_log "$1/ktarget.log" '^READY ' 180; }
