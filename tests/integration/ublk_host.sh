#!/usr/bin/env bash
# tightrope's host through Linux ublk: `tightrope connect` in a QEMU guest whose kernel has ublk_drv
# (Debian 13's 6.12; Debian 12's 6.1 is built without it) against our target on this machine. The
# binary under test and its shared libraries (ldd), with mke2fs, go to the guest as an archive made
# here from the current build. The guest (ublk_host_guest.sh) checks /dev/ublkbN's size, block size
# and queues, data, ext4, disconnect and a killed host process; this side kills the target while the
# guest's writer runs and restarts it (I/O held, no error), and checks the guest's every step.
# usage: ublk_host.sh TIGHTROPE_BINARY
set -euo pipefail
bin=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
vm=$(cd "$here/../vm" && pwd)
with_scratch ublk
export TIGHTROPE_VM_SUITE=trixie
"$vm/build.sh" >"$work/vm-build.log" 2>&1 || { cat "$work/vm-build.log"; bad "building the VM guest"; give_up; }

# /opt/tightrope in the guest: the binary and mke2fs with their own libraries and loader (the guest's
# are Debian 13's), and wrappers that run them through that loader.
stage=$work/stage
mkdir -p "$stage/opt/tightrope/lib" "$stage/opt/tightrope/bin" "$stage/etc"
mke2fs=$(command -v mke2fs || echo /sbin/mke2fs)
cp "$bin" "$stage/opt/tightrope/bin/tightrope"
cp "$mke2fs" "$stage/opt/tightrope/bin/mke2fs"
[[ ! -f /etc/mke2fs.conf ]] || cp /etc/mke2fs.conf "$stage/etc/"
ldd "$bin" "$mke2fs" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\/.*ld-linux/ { print $1 }' | sort -u |
  while read -r so; do cp -L "$so" "$stage/opt/tightrope/lib/"; done
ld=$(basename "$(ls "$stage"/opt/tightrope/lib/ld-linux*)")
# The sanitizers' options this side runs with (meson's, run.sh's) hold in the guest too.
env="export ASAN_OPTIONS='${ASAN_OPTIONS:-}' UBSAN_OPTIONS='${UBSAN_OPTIONS:-}'"
for w in tightrope:tightrope mkfs.ext4:"mke2fs -t ext4"; do
  printf '#!/bin/sh\n%s\nexec /opt/tightrope/lib/%s --library-path /opt/tightrope/lib /opt/tightrope/bin/%s "$@"\n' \
    "$env" "$ld" "${w#*:}" >"$stage/opt/tightrope/${w%%:*}"
  chmod 0755 "$stage/opt/tightrope/${w%%:*}"
done
(cd "$stage" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | gzip -1) >"$work/tightrope.cpio.gz"
ok "guest archive: $bin and mke2fs with $(ls "$stage/opt/tightrope/lib" | wc -l) libraries ($(du -h "$work/tightrope.cpio.gz" | cut -f1))"

nqn=nqn.2026-12.io.tightrope:ublk
port=$(free_port)
truncate -s 256M "$work/ns.img"
truncate -s 64M "$work/ns2.img"
start_target() {
  "$bin" target -l "127.0.0.1:$port" -n "$nqn" -N "$work/ns.img,lbs=4096" -S "$work/t.sock" -w 1 >>"$work/target.log" 2>&1 &
  tpid=$!
  pids+=("$tpid")
  wait_ready "$work/target.log" 20
}
start_target || { cat "$work/target.log"; bad "the target did not start"; give_up; }

# This side: a --blkdev the CLI does not know is refused, and so is ublk where the kernel lacks it.
"$bin" connect -t tcp -a 127.0.0.1 -s "$port" -n "$nqn" --blkdev nbd >/dev/null 2>&1 && rc=0 || rc=$?
((rc == 2)) && ok "connect --blkdev nbd refused (usage, rc 2)" || bad "connect --blkdev nbd: rc $rc"
if [[ ! -e /dev/ublk-control ]]; then
  out=$(TIGHTROPE_STATE_DIR=$work/state "$bin" connect -t tcp -a 127.0.0.1 -s "$port" -n "$nqn" --blkdev ublk 2>&1) &&
    bad "connect --blkdev ublk on a kernel without ublk succeeded" ||
    { [[ $out == *"no ublk"* ]] && ok "this kernel has no ublk: connect --blkdev ublk refused ($out)" || bad "connect --blkdev ublk: $out"; }
fi

console=$work/console.log vmlog=$work/vm.log
: >"$console"
# TCG, as the other guests: this machine's (nested) KVM cannot run Debian 13's kernel.
TIGHTROPE_VM_EXTRA_CPIO="$work/tightrope.cpio.gz" TIGHTROPE_VM_DEFAULT_TEST=0 \
  TIGHTROPE_VM_DISCOVER=0 TIGHTROPE_VM_TIMEOUT=300 TIGHTROPE_VM_LOG="$console" \
  "$vm/kernel-host.sh" "$port" "$nqn" "$here/ublk_host_guest.sh" >"$vmlog" 2>&1 &
vm_pid=$!

# guest_asks TEXT: wait until the guest said TEXT (true), or it is gone (false: no use waiting then).
said() { grep -q "GUEST: $1" "$console" || ! kill -0 "$vm_pid" 2>/dev/null; }
guest_asks() { wait_until 240 said "$1" && grep -q "GUEST: $1" "$console"; }
if guest_asks "writer running"; then
  kill -KILL "$tpid"
  wait "$tpid" 2>/dev/null || true
  ok "target killed (SIGKILL) while the guest's writer ran"
  sleep 4
  start_target && ok "target restarted after 4 s" || bad "the target did not restart: $(tail -3 "$work/target.log")"
fi
if guest_asks "add namespace 2 now"; then
  "$bin" ctl -S "$work/t.sock" add-ns "$nqn" "$work/ns2.img" --nsid 2 >/dev/null && ok "ctl add-ns: namespace 2" ||
    bad "ctl add-ns failed"
fi
if guest_asks "namespace 2 added.*remove namespace 2 now"; then
  "$bin" ctl -S "$work/t.sock" remove-ns "$nqn" 2 >/dev/null && ok "ctl remove-ns: namespace 2" || bad "ctl remove-ns failed"
fi
rc=0
wait "$vm_pid" || rc=$?
((rc == 0)) && ok "guest: $(grep -m1 -o 'boot: kernel [^,]*' "$vmlog" | sed 's/^boot: //'), every step" ||
  bad "guest: $(grep -E 'RESULT=|GUEST-FAIL' "$console" | tail -2 | tr '\n' ' ')"
guest_said "$console" "device /dev/ublkb" "the record names" "data:" "ext4:" "held:" "namespace 2 added" \
  "namespace 2 removed" "disconnect:" "loop:" "sanity:" "kill -9:"
! grep -qE "I/O error|Buffer I/O|blk_update_request" "$console" && ok "no I/O error in the guest kernel's log" ||
  bad "the guest kernel logged I/O errors: $(grep -m2 -E 'I/O error|Buffer I/O|blk_update_request' "$console" | tr '\n' ' ')"
no_sanitizer_report "the target" "$work/target.log"
[[ $fail == 0 ]] || { echo "--- console tail"; tail -60 "$console"; }
finish
