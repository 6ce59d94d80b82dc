#!/usr/bin/env bash
# Interop, in-band authentication: the Linux 6.12 kernel host (trixie guest, nvme-cli 2.13) against
# `tightrope target` with DH-HMAC-CHAP: host-only SHA-256 over the null group, bidirectional
# SHA-512 over ffdhe3072 with a re-authentication, data verified each time; a wrong host secret, a
# wrong controller secret and no secret refused, each with its log line on our side and no
# controller left. The capture is decoded with Wireshark (Authentication Send/Receive, Connect's
# AUTHREQ) and its AUTH messages are listed in order.
# usage: auth_kernel_host.sh TIGHTROPE_BINARY
set -euo pipefail
bin=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
vm=$(cd "$here/../vm" && pwd)
export TIGHTROPE_VM_SUITE=trixie
work=$(mktemp -d /tmp/tightrope-akh.XXXXXX)
"$vm/build.sh" >"$work/vm-build.log" 2>&1 || { cat "$work/vm-build.log"; echo "FAIL building the trixie guest"; rm -rf "$work"; exit 1; }
nqn=nqn.2026-12.io.tightrope:auth
ha=nqn.2026-12.io.tightrope:host-a
hb=nqn.2026-12.io.tightrope:host-b
sock=$work/ctl.sock
port=$(free_port)
tgt_pid= cap_pid=
cleanup() {
  [[ -n $cap_pid ]] && kill -INT "$cap_pid" 2>/dev/null && wait "$cap_pid" 2>/dev/null || true
  [[ -n $tgt_pid ]] && kill -TERM "$tgt_pid" 2>/dev/null && wait "$tgt_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# Secrets from our own gen-dhchap-key: HA's transformed for its NQN (DHHC-1:01), HB's and the
# controller's of other lengths, and one nobody holds.
ka=$("$bin" gen-dhchap-key -m 1 -n "$ha")
kb=$("$bin" gen-dhchap-key -l 64)
ckb=$("$bin" gen-dhchap-key -l 48)
wrong=$("$bin" gen-dhchap-key)

"$bin" target -l "127.0.0.1:$port" -n "$nqn" -N mem:64M -S "$sock" -w 2 \
  -H "$ha" --dhchap-secret "$ka" \
  -H "$hb" --dhchap-secret "$kb" --dhchap-ctrl-secret "$ckb" --dhchap-hash sha512 --dhchap-dhgroup ffdhe3072 \
  >"$work/target.log" 2>&1 &
tgt_pid=$!
wait_sock "$sock" || { cat "$work/target.log"; bad "target did not start"; finish; exit 1; }

command -v tshark >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends tshark >/dev/null
tshark -i lo -f "tcp port $port" -F pcap -w "$work/cap.pcap" -q -a duration:600 2>"$work/tshark.log" &
cap_pid=$!
sleep 2

guest=$work/guest.sh
{
  printf 'HA=%s\nHB=%s\nKA=%s\nKB=%s\nCKB=%s\nWRONG=%s\n' "$ha" "$hb" "$ka" "$kb" "$ckb" "$wrong"
  cat "$here/auth_kernel_host_guest.sh"
} >"$guest"
vmlog=$work/vm.log
kernel_host_script "$port" "$nqn" "$guest" "$vmlog" "$work/console.log"
guest_said "$vmlog" "HA authenticated (sha256, null)" "host-only data OK" "HB authenticated (sha512, ffdhe3072), controller authenticated" \
  "bidirectional data OK" "re-authenticated after" "after-reauth data OK" "wrong host secret refused" \
  "wrong controller secret refused" "no secret refused"

# Our side: who authenticated, and one line per refusal that names the host and says why.
grep -q "host \"$ha\" authenticated with hmac(sha256), DH group null" "$work/target.log" &&
  ok "target log: $ha authenticated (sha256, null)" || bad "no authentication line for $ha"
grep -q "host \"$hb\" authenticated with hmac(sha512), DH group ffdhe3072; controller authenticated" "$work/target.log" &&
  ok "target log: $hb authenticated bidirectionally (sha512, ffdhe3072)" || bad "no authentication line for $hb"
grep -q "host \"$ha\" failed authentication .*wrong response" "$work/target.log" &&
  ok "target log names $ha and a wrong response" || bad "no 'wrong response' line for $ha"
grep -q "host \"$hb\" failed authentication .*refused the controller's response" "$work/target.log" &&
  ok "target log: $hb refused our response (wrong controller secret on its side)" || bad "no Failure2 line for $hb"
grep -q "DHHC-1" "$work/target.log" && bad "a secret appears in the target's log" || ok "no secret in the target's log"
left=$("$bin" ctl -S "$sock" -o json list | python3 -c 'import json,sys; print(sum(len(s["controllers"]) for s in json.load(sys.stdin)["subsystems"]))')
[[ $left == 0 ]] && ok "no controller left on the target" || bad "$left controller(s) left"

sleep 1
kill -INT "$cap_pid"; wait "$cap_pid" 2>/dev/null || true; cap_pid=
if "$vm/pcap-check.sh" "$work/cap.pcap" "$port" >"$work/pcap.log" 2>&1; then
  ok "pcap-check: $(grep -E 'Authentication' "$work/pcap.log" | tr -s ' ' | tr '\n' ';' | head -c 300)"
else
  bad "pcap-check"; cat "$work/pcap.log"
fi
if python3 "$here/auth_pcap.py" "$work/cap.pcap" "$port" >"$work/auth.log" 2>&1; then
  ok "Wireshark decodes the authentication: $(tail -n 1 "$work/auth.log")"
else
  bad "authentication in the capture"; cat "$work/auth.log"
fi

kill -TERM "$tgt_pid"; rc=0; wait "$tgt_pid" || rc=$?; tgt_pid=
[[ $rc == 0 ]] && ok "target exits 0 on SIGTERM" || bad "target exit status $rc on SIGTERM"
grep -q "GUEST-OK" "$vmlog" || { echo "--- target log"; tail -30 "$work/target.log"; }
finish
