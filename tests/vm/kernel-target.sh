#!/usr/bin/env bash
# tests/vm/kernel-target.sh: boot a QEMU (TCG) guest whose Linux kernel is the NVMe/TCP TARGET
# (nvmet + nvmet-tcp through configfs) and expose it on this machine at 127.0.0.1:HOST_PORT.
#
# usage: tests/vm/kernel-target.sh HOST_PORT [NQN]   (NQN default nqn.2014-08.org.nvmexpress:interop-kernel-target)
#
# Guest: subsystem NQN (any host allowed), namespace 1 = a 64 MiB RAM disk (brd), port tcp 4420;
# discovery on the same port, self-checked in the guest before READY. Network: QEMU user
# networking, restrict=on, hostfwd 127.0.0.1:HOST_PORT -> guest 4420 and nothing else.
# Once the target listens, stdout gets one line:
#   READY nvme-tcp 127.0.0.1:HOST_PORT nqn=NQN pid=PID
# then it runs until killed (`kill PID` stops the VM too) or TIGHTROPE_VM_TARGET_TIMEOUT.
# Exit: 0 after READY, 1 READY never came, 143/130 killed, 2 usage.
# Env: TIGHTROPE_VM_TARGET_TIMEOUT (1800 s lifetime), TIGHTROPE_VM_BOOT_TIMEOUT (300 s to READY),
#   TIGHTROPE_VM_LOG, TIGHTROPE_VM_NS_MB (64), TIGHTROPE_VM_KMSG (1), TIGHTROPE_VM_SUITE and the
#   QEMU knobs of common.sh.
# DH-HMAC-CHAP (trixie: kernel 6.12): DHCHAP_HOSTNQN makes the subsystem admit that host only,
#   authenticated with DHCHAP_KEY (a DHHC-1 secret), DHCHAP_CTRL_KEY (optional: bidirectional),
#   DHCHAP_HASH (sha256 | sha384 | sha512, default sha256) and DHCHAP_DHGROUP (null | ffdhe2048 ..
#   ffdhe8192, default null); the same five names ending in _2, _3, _4 admit more hosts, each with
#   its own settings (one without a key connects unauthenticated).
# TLS (trixie): TLS_HOSTNQN and TLS_KEY (a configured PSK, NVMeTLSkey-1:0x:...:) make the port
#   require TLS 1.3, with the PSKs nvme-cli derives for that host (subsystem and discovery) in the
#   guest's keyring and tlshd doing the handshakes.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"

usage() { echo "usage: ${0##*/} HOST_PORT [NQN]" >&2; exit 2; }
(($# == 1 || $# == 2)) || usage
port=$1 nqn=${2:-$TARGET_VM_NQN}
valid_port "$port" || usage
valid_nqn "$nqn" || die "bad NQN: $nqn"

check_cache
need qemu-system-x86_64 qemu-system-x86 cpio cpio
"$VM_DIR/build.sh" >&2
port_listening "$port" && die "127.0.0.1:$port is already in use"

secs=${TIGHTROPE_VM_TARGET_TIMEOUT:-1800}
boot_secs=${TIGHTROPE_VM_BOOT_TIMEOUT:-300}
hostid=5e0c6a2e-7d1b-4c39-8f3a-2b7a1c9d0e02
# The DH-HMAC-CHAP hosts, checked here (they are written into a guest shell file) and passed on.
auth=()
for n in "" _2 _3 _4; do
  for v in HOSTNQN KEY CTRL_KEY HASH DHGROUP; do
    var=DHCHAP_$v$n
    [[ -n ${!var:-} ]] || continue
    case $v in
      HOSTNQN) valid_nqn "${!var}" ;;
      KEY | CTRL_KEY) [[ ${!var} =~ ^DHHC-1:0[0-3]:[A-Za-z0-9+/]+=*:$ ]] ;;
      HASH) [[ ${!var} =~ ^sha(256|384|512)$ ]] ;;
      DHGROUP) [[ ${!var} =~ ^(null|ffdhe(2048|3072|4096|6144|8192))$ ]] ;;
    esac || { [[ $v == *KEY ]] && die "bad $var: not a DHHC-1 secret"; die "bad $var: ${!var}"; }
    auth+=("$var=${!var}")
  done
done
if [[ -n ${TLS_KEY:-} || -n ${TLS_HOSTNQN:-} ]]; then
  valid_nqn "${TLS_HOSTNQN:-}" || die "bad TLS_HOSTNQN: ${TLS_HOSTNQN:-}"
  [[ ${TLS_KEY:-} =~ ^NVMeTLSkey-1:0[0-2]:[A-Za-z0-9+/]+=*:$ ]] || die "bad TLS_KEY: not a PSK in the interchange form"
  auth+=("TLS_HOSTNQN=$TLS_HOSTNQN" "TLS_KEY=$TLS_KEY")
fi
vm_prepare target "$port"

make_initrd "$run" ROLE=target NQN="$nqn" TRSVCID=$GUEST_PORT NS_MB="${TIGHTROPE_VM_NS_MB:-64}" \
  HOSTNQN="nqn.2014-08.org.nvmexpress:uuid:$hostid" HOSTID="$hostid" KMSG="${TIGHTROPE_VM_KMSG:-1}" "${auth[@]}"
netdev="user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:$port-:$GUEST_PORT"
log "booting the $SUITE kernel-target guest on 127.0.0.1:$port nqn=$nqn (lifetime ${secs}s, log $logf)"
t0=$SECONDS
boot=1
vm_start "$run" "$logf" "$secs" "$netdev"
until marker "$logf" READY; do
  if ! kill -0 "$VM_PID" 2>/dev/null; then
    rc=0
    vm_wait || rc=$?
    if early_panic "$logf" && ((boot < 3)); then
      mv "$logf" "$logf.panic$boot"
      log "the guest kernel panicked before /init (kept as $logf.panic$boot): booting again"
      boot=$((boot + 1))
      vm_start "$run" "$logf" "$secs" "$netdev"
      continue
    fi
    log "FAIL: the guest ended before READY: $(result_line "$logf" || echo "qemu rc=$rc") (log $logf)"
    exit 1
  fi
  if marker "$logf" RESULT=FAIL || ((SECONDS - t0 > boot_secs)); then
    log "FAIL: target not ready: $(result_line "$logf" || echo "no READY after $((SECONDS - t0)) s") (log $logf)"
    exit 1
  fi
  sleep 0.5
done
echo "READY nvme-tcp 127.0.0.1:$port nqn=$nqn pid=$$"
log "ready after $((SECONDS - t0)) s; stop it with: kill $$"
vm_wait || true
log "the target VM ended after $((SECONDS - t0)) s"
