#!/usr/bin/env bash
# DH-HMAC-CHAP interop: tightrope's host against the Linux 6.12 kernel target (nvmet-tcp in a Debian 13
# QEMU guest, tests/vm/kernel-target.sh), every phase in one boot. The guest admits three hosts:
# A (SHA-256, null group, host secret only), B (SHA-512, ffdhe3072, both ways) and C (no
# authentication). Through `tightrope connect`: (a) A authenticates and data written through the host
# reads back; (b) B authenticates both ways and reads A's data, then writes and reads its own; (c) a
# wrong host secret: "authentication failed", no device; (d) a wrong controller secret: "controller
# authentication failed"; (e) no secret while the target requires one: the clear refusal; (f) C with a
# controller secret: the controller did not authenticate itself. The kernel's console confirms its side.
# usage: auth_kernel_target.sh TIGHTROPE_BINARY      (root; /dev/fuse, QEMU)
set -uo pipefail
bin=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
export TIGHTROPE_VM_SUITE=trixie # kernel 6.12: nvmet with DH-HMAC-CHAP, and the modules it asks for
work=$(mktemp -d /tmp/tightrope-authkt.XXXXXX)
export TIGHTROPE_STATE_DIR=$work/state
port=${KERNEL_TARGET_PORT:-14447}
nqn=$kernel_target_nqn
host_a=nqn.2014-08.org.nvmexpress:uuid:a7e0a7e0-0000-4000-8000-00000000000a
host_b=nqn.2014-08.org.nvmexpress:uuid:a7e0a7e0-0000-4000-8000-00000000000b
host_c=nqn.2014-08.org.nvmexpress:uuid:a7e0a7e0-0000-4000-8000-00000000000c
vm="" hostpids=()
t0=$SECONDS

cleanup() {
  trap - EXIT
  timeout 120 "$bin" disconnect-all >/dev/null 2>&1
  for p in "${hostpids[@]}"; do gone "$p" || { echo "cleanup: killing host process $p"; kill -9 "$p" 2>/dev/null; }; done
  [[ -z $vm ]] || kernel_target_stop "$vm"
  grep -qs " $work/" /proc/mounts && { echo "cleanup: mounts left, keeping $work"; return; }
  rm -rf "$work"
}
trap cleanup EXIT

# The secrets: as nvme gen-dhchap-key writes them (A's and B's transformed with their NQNs first).
ka=$("$bin" gen-dhchap-key -m 1 -n "$host_a")
kb=$("$bin" gen-dhchap-key -m 3 -l 64 -n "$host_b")
kc=$("$bin" gen-dhchap-key -l 48)
wrong_a=$("$bin" gen-dhchap-key -m 1 -n "$host_a")
wrong_c=$("$bin" gen-dhchap-key -l 48)

build_vm_guest "$work"
# The settings reach the guest's configuration only, not the environment of anything else here.
DHCHAP_HOSTNQN=$host_a DHCHAP_KEY=$ka DHCHAP_HASH=sha256 DHCHAP_DHGROUP=null \
  DHCHAP_HOSTNQN_2=$host_b DHCHAP_KEY_2=$kb DHCHAP_CTRL_KEY_2=$kc DHCHAP_HASH_2=sha512 DHCHAP_DHGROUP_2=ffdhe3072 \
  DHCHAP_HOSTNQN_3=$host_c kernel_target_start "$port" "$work"
vm=$kernel_target_pid
if ! kernel_target_ready "$work"; then
  bad "the kernel target guest did not come up"
  tail -30 "$work/ktarget.log"
  give_up
fi
ok "the trixie kernel target is up after $((SECONDS - t0)) s: $(grep -o 'boot: kernel [^,]*' "$work/ktarget.log" | head -1)"
grep -q "host $host_b allowed: DH-HMAC-CHAP hmac(sha512) ffdhe3072, bidirectional" "$work/ktarget.log" &&
  ok "the guest admits A, B (SHA-512, ffdhe3072, bidirectional) and C" || bad "guest configuration: $(grep 'allowed' "$work/ktarget.log")"

# connect HOSTNQN ARG...: `tightrope connect` as that host (two I/O queues, each authenticated on its
# own); its output in $work/out, the exit status returned; on success sets name, pid and file.
connect() {
  local h=$1 rc
  shift
  timeout 120 "$bin" connect -t tcp -a 127.0.0.1 -s "$port" -n "$nqn" -q "$h" -i 2 -c 1 -l 10 --no-loop "$@" \
    >"$work/out" 2>&1
  rc=$?
  name='' pid='' file=''
  ((rc == 0)) || return "$rc"
  read -r name pid _ file < <(ctrl_of "$nqn")
  hostpids+=("$pid")
  return 0
}
# disconnect WHAT: take the controller away; nothing of it may be left.
disconnect() {
  local out
  out=$(timeout 90 "$bin" disconnect -n "$nqn" 2>&1)
  [[ $out == "NQN:$nqn disconnected 1 controller(s)" ]] && wait_gone "$pid" && ok "$1: disconnect" ||
    bad "$1: disconnect: $out"
}
# no_device WHAT: a refused connect left no controller record, host process or mount behind.
no_device() {
  local recs
  recs=$(ls "$TIGHTROPE_STATE_DIR"/ctrl/*.json 2>/dev/null)
  [[ -z $recs && $("$bin" list -o json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["Devices"]))') == 0 ]] &&
    ! grep -qs " $TIGHTROPE_STATE_DIR/mnt/" /proc/mounts && ok "$1: no device, record or mount left" ||
    bad "$1: left behind: ${recs:-no record} $(grep -s " $TIGHTROPE_STATE_DIR/mnt/" /proc/mounts)"
}
# refused WHAT PATTERN HOSTNQN ARG...: connect must fail with a line matching PATTERN (grep -E).
refused() {
  local what=$1 pattern=$2
  shift 2
  mark
  if connect "$@"; then
    bad "$what: connect succeeded: $(cat "$work/out")"
    disconnect "$what"
  elif grep -qE "$pattern" "$work/out"; then
    ok "$what: refused: $(grep -E "$pattern" "$work/out" | head -1)"
  else
    bad "$what: wanted /$pattern/, got: $(cat "$work/out")"
  fi
  no_device "$what"
}
# mark: where the guest's console is now; console PATTERN: it logs a line matching PATTERN (grep -E)
# after the last mark, within 5 s (the serial console runs behind).
mark() { since=$(wc -l <"$work/ktarget.log"); }
console_has() { tail -n +$((since + 1)) "$work/ktarget.log" | grep -qE "$1"; }
console() { wait_until 5 console_has "$1"; }
secret_free() { # WHAT: no secret in the host process's command line or any file of the state directory
  local leak=""
  for s in "$ka" "$kb" "$kc"; do
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$s" && leak+=" cmdline"
    grep -rqsF -- "${s:10:40}" "$TIGHTROPE_STATE_DIR" && leak+=" $(grep -rlsF -- "${s:10:40}" "$TIGHTROPE_STATE_DIR")"
  done
  [[ -z $leak ]] && ok "$1: no secret in the host process's command line or the state directory" || bad "$1: secret in$leak"
}

# (a) host A: host secret only, SHA-256, null group. Its I/O goes through two I/O queues, which the
# kernel target refuses to use unless each authenticated (nvmet_check_auth_status).
mark
if connect "$host_a" -S "$ka"; then
  ok "(a) A connects as $name (host process $pid)"
  log=$TIGHTROPE_STATE_DIR/ctrl/$name.log
  grep -q "authenticated with hash hmac(sha256) dhgroup null" "$log" && ! grep -q "controller authenticated" "$log" &&
    ok "(a) the host logs: $(grep -o 'authenticated with hash.*' "$log")" || bad "(a) host log: $(tail -5 "$log")"
  console "for NQN $host_a with DH-HMAC-CHAP" && ok "(a) the kernel created A's controller with DH-HMAC-CHAP" ||
    bad "(a) no 'with DH-HMAC-CHAP' for A on the console: $(grep 'creating' "$work/ktarget.log" | tail -2)"
  "$bin" list | grep -q "live, auth: dhchap$" && ok "(a) list: live, auth: dhchap" || bad "(a) list: $("$bin" list)"
  secret_free "(a)"
  head -c 8M /dev/urandom >"$work/a8"
  timeout 60 dd if="$work/a8" of="$file" bs=1M conv=notrunc,fsync status=none &&
    timeout 60 dd if="$file" of="$work/a8.back" bs=1M count=8 status=none && cmp -s "$work/a8" "$work/a8.back" &&
    ok "(a) 8 MiB written through tightrope's host ($file, no page cache) read back equal" || bad "(a) 8 MiB round trip"
  disconnect "(a)"
else
  bad "(a) A: connect failed: $(cat "$work/out")"
fi

# (b) host B: both ways, SHA-512, ffdhe3072.
mark
if connect "$host_b" -S "$kb" -C "$kc"; then
  ok "(b) B connects as $name (host process $pid)"
  log=$TIGHTROPE_STATE_DIR/ctrl/$name.log
  grep -q "authenticated with hash hmac(sha512) dhgroup ffdhe3072" "$log" && grep -q "controller authenticated" "$log" &&
    ok "(b) the host logs: $(grep -o 'authenticated with hash.*' "$log" | tail -1); controller authenticated" ||
    bad "(b) host log: $(tail -5 "$log")"
  console "for NQN $host_b with DH-HMAC-CHAP" && ok "(b) the kernel created B's controller with DH-HMAC-CHAP" ||
    bad "(b) no 'with DH-HMAC-CHAP' for B on the console"
  "$bin" list | grep -q "live, auth: dhchap-bidirectional$" && ok "(b) list: live, auth: dhchap-bidirectional" ||
    bad "(b) list: $("$bin" list)"
  secret_free "(b)"
  timeout 60 dd if="$file" of="$work/a8.b" bs=1M count=8 status=none && cmp -s "$work/a8" "$work/a8.b" &&
    ok "(b) B reads back the 8 MiB A wrote" || bad "(b) A's data read by B differs"
  head -c 4M /dev/urandom >"$work/b4"
  timeout 60 dd if="$work/b4" of="$file" bs=1M seek=8 conv=notrunc,fsync status=none &&
    timeout 60 dd if="$file" of="$work/b4.back" bs=1M skip=8 count=4 status=none && cmp -s "$work/b4" "$work/b4.back" &&
    ok "(b) 4 MiB written by B read back equal" || bad "(b) 4 MiB round trip"
  disconnect "(b)"
else
  bad "(b) B: connect failed: $(cat "$work/out")"
fi

# (c)-(f): every refusal, and nothing left behind by any.
# Linux's target ends the association as it sends the Failure1, which the end may overtake.
refused "(c) A with a wrong host secret" "authentication failed: (refused by the controller \(AUTH_Failure1: \
authentication failed\)|the controller ended the connection instead of sending DH-HMAC-CHAP_Success1)" \
  "$host_a" -S "$wrong_a"
grep -q "controller authentication failed" "$work/out" && bad "(c) reported as the controller's failure" ||
  ok "(c) reported as ours, not the controller's"
console "nvmet: ctrl [0-9]+ qid 0 host response mismatch" && ok "(c) the kernel found our response wrong" ||
  bad "(c) no 'host response mismatch' on the console"
refused "(d) B with a wrong controller secret" \
  "controller authentication failed: its response does not prove the controller secret" "$host_b" -S "$kb" -C "$wrong_c"
console "nvmet: ctrl [0-9]+ fatal error occurred" && ok "(d) the kernel ended the association on our AUTH_Failure2" ||
  bad "(d) no fatal error on the console after our AUTH_Failure2"
refused "(e) A without a secret" "controller requires authentication; no --dhchap-secret given" "$host_a"
refused "(f) C (no authentication on the target) with a controller secret" \
  "controller did not authenticate itself" "$host_c" -S "$ka" -C "$kc"
console "nvmet: creating nvm controller [0-9]+ for subsystem $nqn for NQN $host_c\.$" &&
  ok "(f) the kernel created C's controller without authentication" || bad "(f) no such line for C on the console"

no_sanitizer_report "the host processes" "$TIGHTROPE_STATE_DIR"/ctrl/*.log
echo "took $((SECONDS - t0)) s"
finish
