#!/usr/bin/env bash
# Live resize against the real Linux host (QEMU guest), without reconnecting: `ctl resize-ns` grows
# a file namespace, then the file grows from outside and the target notices by itself; the guest's
# kernel logs "detected capacity change" and its block device takes each size on the same controller.
# Both Debian guests: 12 (Linux 6.1) and 13 (6.12).
# usage: resize_kernel_host.sh TIGHTROPE_BINARY [bookworm|trixie]
set -euo pipefail
bin=$(realpath "$1")
suite=${2:-bookworm}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
vm=$(cd "$here/../vm" && pwd)
with_scratch resize-kh
export TIGHTROPE_VM_SUITE=$suite
"$vm/build.sh" >"$work/vm-build.log" 2>&1 || { cat "$work/vm-build.log"; bad "building the $suite guest"; give_up; }
nqn=nqn.2026-12.io.tightrope:resize-interop
port=$(free_port)
truncate -s 64M "$work/disk.img"
"$bin" target -l "127.0.0.1:$port" -n "$nqn" -N "$work/disk.img" -S "$work/ctl.sock" >"$work/target.log" 2>&1 &
tgt_pid=$!
pids+=("$tgt_pid")
wait_ready "$work/target.log" || { cat "$work/target.log"; bad "target did not start"; give_up; }
(
  wait_log "$work/console.log" "GUEST: ready for resize" 400 || exit 0
  "$bin" ctl -S "$work/ctl.sock" resize-ns "$nqn" 1 128M >"$work/resize.log" 2>&1
  wait_log "$work/console.log" "GUEST: wrote past the old end" 120 || exit 0
  truncate -s 192M "$work/disk.img"
) &
pids+=($!)
if TIGHTROPE_VM_DATA_MB=1 TIGHTROPE_VM_TIMEOUT=400 TIGHTROPE_VM_LOG="$work/console.log" \
  "$vm/kernel-host.sh" "$port" "$nqn" "$here/resize_kernel_host_guest.sh" >"$work/vm.log" 2>&1; then
  ok "$suite guest ($(grep -m1 -o 'boot: kernel [^,]*, nvme version [0-9.]*' "$work/vm.log" | sed 's/^boot: //')): both sizes taken"
else
  bad "$suite guest: $(grep -E 'GUEST-FAIL|RESULT=' "$work/vm.log" | tail -2 | tr '\n' ' ')"
  tail -30 "$work/vm.log"
fi
guest_said "$work/vm.log" "ctl resize-ns seen" "wrote past the old end" "growth from outside seen" "same controller"
n=$(grep -c "detected capacity change" "$work/console.log" || true)
((n >= 2)) && ok "the guest kernel logged \"detected capacity change\" $n times" ||
  bad "\"detected capacity change\" logged $n times: $(grep -m3 -i capacity "$work/console.log" | tr '\n' ' ')"
grep -q "namespace 1 is now 134217728 bytes" "$work/target.log" && grep -q "namespace 1 is now 201326592 bytes" "$work/target.log" &&
  ok "the target announced both sizes" || bad "target log: $(grep 'is now' "$work/target.log" | tr '\n' ' ') $(cat "$work/resize.log" 2>/dev/null)"
kill -TERM "$tgt_pid"; rc=0; wait "$tgt_pid" || rc=$?; pids=()
[[ $rc == 0 ]] && ok "target exits 0 on SIGTERM" || bad "target exit status $rc"
no_sanitizer_report "the target" "$work/target.log"
finish
