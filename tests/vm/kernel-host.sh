#!/usr/bin/env bash
# tests/vm/kernel-host.sh: boot a QEMU (TCG) guest whose Linux kernel is the NVMe/TCP HOST
# (nvme-tcp + nvme-cli) of the target listening on this machine at 127.0.0.1:TARGET_PORT.
#
# usage: tests/vm/kernel-host.sh TARGET_PORT NQN [SCRIPT]
#
# Network: QEMU user networking with restrict=on; the guest's only way out is a guestfwd: each
# guest connection to 10.0.2.100:4420 runs `socat - TCP:127.0.0.1:TARGET_PORT` here.
# Guest: nvme discover (must list NQN), nvme connect, nvme list, DATA_MB MiB O_DIRECT write +
# read-back + compare, SCRIPT (busybox sh, with NVME_DEV NVME_CTRL NQN TRADDR TRSVCID DATA_MB
# NVME_CONNECT_OPTS), nvme disconnect-all, power off. The console goes to stdout and to the log.
# Exit: 0 the guest printed RESULT=PASS, 1 fail, 124 timeout, 2 usage.
# Env: TIGHTROPE_VM_CONNECT_OPTS (extra `nvme connect` options, e.g. "--hdr-digest --data-digest"),
#   TIGHTROPE_VM_TIMEOUT (300 s), TIGHTROPE_VM_LOG (console log; default under $CACHE/logs),
#   TIGHTROPE_VM_DATA_MB (8), TIGHTROPE_VM_DEFAULT_TEST (1; 0: only SCRIPT, which connects itself),
#   TIGHTROPE_VM_DISCOVER (1), TIGHTROPE_VM_HOSTNQN / _HOSTID, TIGHTROPE_VM_KMSG (1: nvme kernel
#   messages on the console), TIGHTROPE_VM_SUITE (bookworm | trixie) and the QEMU knobs of common.sh,
#   TIGHTROPE_VM_PORT2 (a second target on this machine, reached from the guest at $GUEST_PEER:4421,
#   for multipath), TIGHTROPE_VM_FIO (1: fio in the guest, bookworm only; see build.sh),
#   TIGHTROPE_VM_EXTRA_CPIO (archives of the test's own appended to the initramfs).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"

usage() { echo "usage: ${0##*/} TARGET_PORT NQN [SCRIPT]" >&2; exit 2; }
(($# == 2 || $# == 3)) || usage
port=$1 nqn=$2 USER_SCRIPT=${3:-}
valid_port "$port" || usage
valid_nqn "$nqn" || die "bad NQN: $nqn"
[[ -z $USER_SCRIPT || -f $USER_SCRIPT ]] || die "no such script: $USER_SCRIPT"

check_cache
need qemu-system-x86_64 qemu-system-x86 socat socat cpio cpio
"$VM_DIR/build.sh" >&2
port_listening "$port" || log "warning: nothing listens on 127.0.0.1:$port (yet)"

secs=${TIGHTROPE_VM_TIMEOUT:-300}
hostid=${TIGHTROPE_VM_HOSTID:-$HOST_VM_HOSTID}
vm_prepare host "$port"

make_initrd "$run" ROLE=host NQN="$nqn" TRADDR=$GUEST_PEER TRSVCID=$GUEST_PORT \
  CONNECT_OPTS="${TIGHTROPE_VM_CONNECT_OPTS:-}" DATA_MB="${TIGHTROPE_VM_DATA_MB:-8}" \
  DEFAULT_TEST="${TIGHTROPE_VM_DEFAULT_TEST:-1}" DISCOVER="${TIGHTROPE_VM_DISCOVER:-1}" \
  HOSTNQN="${TIGHTROPE_VM_HOSTNQN:-nqn.2014-08.org.nvmexpress:uuid:$hostid}" HOSTID="$hostid" \
  KMSG="${TIGHTROPE_VM_KMSG:-1}"
# socat logs to a file (its stdio is the guest's TCP stream); ",," is an escaped comma for QEMU.
netdev="user,id=n0,restrict=on,guestfwd=tcp:$GUEST_PEER:$GUEST_PORT-cmd:$(command -v socat) -lf $run/socat.log - TCP:127.0.0.1:$port,,nodelay"
if [[ -n ${TIGHTROPE_VM_PORT2:-} ]]; then
  valid_port "$TIGHTROPE_VM_PORT2" || usage
  netdev+=",guestfwd=tcp:$GUEST_PEER:$GUEST_PORT2-cmd:$(command -v socat) -lf $run/socat2.log - TCP:127.0.0.1:$TIGHTROPE_VM_PORT2,,nodelay"
fi
log "booting the $SUITE kernel-host guest -> 127.0.0.1:$port nqn=$nqn (timeout ${secs}s, log $logf)"
t0=$SECONDS
for boot in 1 2 3; do
  vm_start "$run" "$logf" "$secs" "$netdev"
  rc=0
  vm_wait || rc=$?
  if ! early_panic "$logf" || ((boot == 3)); then break; fi
  mv "$logf" "$logf.panic$boot"
  log "the guest kernel panicked before /init (kept as $logf.panic$boot): booting again"
done
[[ ! -s $run/socat.log ]] || { log "socat (guestfwd) said:"; cat "$run/socat.log" >&2; }
if ((rc == 124)); then
  log "FAIL: timed out after ${secs}s (log $logf)"
  exit 124
elif marker "$logf" "RESULT=PASS@@"; then
  log "PASS: kernel NVMe/TCP host vs 127.0.0.1:$port in $((SECONDS - t0)) s (log $logf)"
  exit 0
fi
log "FAIL: $(result_line "$logf" || echo "no result from the guest, qemu rc=$rc") (log $logf)"
exit 1
