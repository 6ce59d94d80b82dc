#!/usr/bin/env bash
# Interop on Ceph: the Linux kernel NVMe/TCP host (QEMU guest from tests/vm) against `tightrope target`
# exporting an RBD image of a one-node cluster (tests/ceph/cluster.sh): the harness's O_DIRECT data test
# on it (its pattern then found in the image with `rbd export`), a second pattern at 512 MiB, Flush,
# Write Zeroes, and an `rbd resize` the kernel sees as the new size through the namespace-change AEN.
# usage: tests/integration/rbd_kernel_host.sh path/to/tightrope   (root; QEMU; ~2 minutes)
set -uo pipefail
bin=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
# Under ThreadSanitizer: Debian's Ceph libraries are not instrumented (see the file).
export TSAN_OPTIONS="${TSAN_OPTIONS:+$TSAN_OPTIONS:}suppressions=$here/../ceph/tsan.supp"
vm=$(cd "$here/../vm" && pwd)
work=$(mktemp -d /tmp/tightrope-rbdkh.XXXXXX)
cluster=$here/../ceph/cluster.sh
ceph=$work/ceph conf=$work/ceph/ceph.conf
export CEPH_MON_PORT=${CEPH_MON_PORT:-24213} # not rbd.sh's: this one holds the VM lock, not the test lock
nqn=nqn.2026-11.io.tightrope:rbd-kernel
port=$(free_port)
data_mb=16
tgt="" watch=""
cleanup() {
  [[ -n $watch ]] && kill "$watch" 2>/dev/null
  [[ -n $tgt ]] && kill "$tgt" 2>/dev/null && wait "$tgt" 2>/dev/null
  "$cluster" stop "$ceph" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

"$vm/build.sh" >"$work/vm-build.log" 2>&1 || { tail -20 "$work/vm-build.log"; bad "building the VM guest"; give_up; }
t0=$SECONDS
timeout 300 "$cluster" start "$ceph" img >"$work/cluster.log" 2>&1 || { tail -5 "$work/cluster.log"; bad "cluster"; give_up; }
ok "one-node Ceph cluster up in $((SECONDS - t0)) s"
"$bin" target -l "127.0.0.1:$port" -n "$nqn" -N "rbd:rbd/img,conf=$conf" -w 2 2>"$work/target.log" &
tgt=$!
wait_ready "$work/target.log" 30 || { tail -5 "$work/target.log"; bad "target not ready"; give_up; }

# When the guest asks, grow the image: the kernel must see the new size without reconnecting.
vmlog=$work/vm.log
(
  wait_log "$vmlog" "GUEST: resize now" 400 && timeout 60 rbd -c "$conf" resize --size 1536M rbd/img >/dev/null 2>&1
) &
watch=$!

{ echo "DATA_MB=$data_mb"; cat "$here/rbd_kernel_host_guest.sh"; } >"$work/guest.sh"
if TIGHTROPE_VM_DATA_MB=$data_mb TIGHTROPE_VM_TIMEOUT=300 TIGHTROPE_VM_LOG="$work/console.log" \
  "$vm/kernel-host.sh" "$port" "$nqn" "$work/guest.sh" >"$vmlog" 2>&1; then
  ok "kernel host ($(grep -m1 -o 'boot: kernel [^,]*' "$vmlog" | sed 's/^boot: //')): discover, connect, ${data_mb} MiB O_DIRECT data test on the RBD namespace, disconnect-all"
else
  bad "kernel host: $(grep -E 'RESULT=|GUEST-FAIL' "$vmlog" | tail -2 | tr '\n' ' ')"
  tail -30 "$vmlog"
fi
grep -q "GUEST: RBD data, flush and write-zeroes OK" "$vmlog" && ok "guest: pattern at 512 MiB, flush, write-zeroes read back as zeros" ||
  bad "guest data/flush/write-zeroes checks"
grep -q "GUEST: namespace grew to 1.5 GiB" "$vmlog" && ok "rbd resize seen by the kernel: $(grep -m1 -o 'namespace grew.*' "$vmlog")" ||
  bad "the kernel never saw the resize"
want=$(grep -m1 -o 'GUEST: pattern sha256 [0-9a-f]*' "$vmlog" | awk '{print $4}')
got=$(timeout 120 rbd -c "$conf" export rbd/img - 2>/dev/null | head -c $((data_mb << 20)) | sha256sum | cut -d' ' -f1)
[[ -n $want && $got == "$want" ]] && ok "the image holds the kernel's ${data_mb} MiB pattern (rbd export)" ||
  bad "image sha256 $got, guest's pattern ${want:-unknown}"
kill -TERM "$tgt"
rc=0
wait "$tgt" || rc=$?
tgt=""
[[ $rc == 0 ]] && ok "target exits 0 on SIGTERM" || bad "target exit status $rc"
no_sanitizer_report "the target" "$work/target.log"
finish
