#!/usr/bin/env bash
# Interop, TLS: the Linux 6.12 kernel host (trixie guest: nvme-cli 2.13 derives the PSKs into the
# .nvme keyring, tlshd does the handshakes) against `tightrope target` on a port that requires TLS
# 1.3: discovery over TLS (the entry says TLS 1.3, required), connect, 8 MiB written and read back;
# a PSK the target does not hold and a plain connect refused, each with its log line here. The
# capture shows a TLS 1.3 handshake per connection and no plaintext NVMe/TCP PDU after it.
# usage: tls_kernel_host.sh TIGHTROPE_BINARY   (KEEP_WORK=1 keeps the capture and logs)
set -euo pipefail
bin=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
vm=$(cd "$here/../vm" && pwd)
export TIGHTROPE_VM_SUITE=trixie
work=$(mktemp -d /tmp/tightrope-tkh.XXXXXX)
"$vm/build.sh" >"$work/vm-build.log" 2>&1 || { cat "$work/vm-build.log"; echo "FAIL building the trixie guest"; rm -rf "$work"; exit 1; }
nqn=nqn.2026-12.io.tightrope:tls
ha=nqn.2026-12.io.tightrope:tls-host-a
hb=nqn.2026-12.io.tightrope:tls-host-b
sock=$work/ctl.sock
port=$(free_port)
tgt_pid= cap_pid=
cleanup() {
  [[ -n $cap_pid ]] && kill -INT "$cap_pid" 2>/dev/null && wait "$cap_pid" 2>/dev/null || true
  [[ -n $tgt_pid ]] && kill -TERM "$tgt_pid" 2>/dev/null && wait "$tgt_pid" 2>/dev/null || true
  [[ ${KEEP_WORK:-0} == 1 ]] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT

# Configured PSKs from our own gen-tls-key: HA's (the target holds it), HB's on the target, and
# the one the guest inserts for HB, which the target does not hold.
ka=$("$bin" gen-tls-key)
kb=$("$bin" gen-tls-key)
kwrong=$("$bin" gen-tls-key)

"$bin" target -l "127.0.0.1:$port" --tls required -n "$nqn" -N mem:64M -S "$sock" -w 2 \
  -H "$ha" --tls-key "$ka" -H "$hb" --tls-key "$kb" >"$work/target.log" 2>&1 &
tgt_pid=$!
wait_sock "$sock" || { cat "$work/target.log"; bad "target did not start"; finish; exit 1; }

command -v tshark >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends tshark >/dev/null
tshark -i lo -f "tcp port $port" -F pcap -w "$work/cap.pcap" -q -a duration:600 2>"$work/tshark.log" &
cap_pid=$!
sleep 2

guest=$work/guest.sh
{
  printf 'HA=%s\nHB=%s\nKA=%s\nKWRONG=%s\n' "$ha" "$hb" "$ka" "$kwrong"
  cat "$here/tls_kernel_host_guest.sh"
} >"$guest"
vmlog=$work/vm.log
kernel_host_script "$port" "$nqn" "$guest" "$vmlog" "$work/console.log"
guest_said "$vmlog" "tlshd started" "discovery over TLS lists" "connected over TLS" "8 MiB written and read back over TLS" \
  "wrong PSK refused" "plain connect refused"

# Our side: one line per refusal, naming why.
grep -q "TLS handshake failed" "$work/target.log" && ok "target log: the wrong PSK's handshake failed" ||
  bad "no 'TLS handshake failed' line"
grep -q "plain NVMe/TCP (first byte 0) on port $port, which requires TLS: refused" "$work/target.log" &&
  ok "target log: plain NVMe/TCP on the TLS port refused" || bad "no refusal line for plain NVMe/TCP"
grep -q "NVMeTLSkey" "$work/target.log" && bad "a key appears in the target's log" || ok "no key in the target's log"
left=$("$bin" ctl -S "$sock" -o json list | python3 -c 'import json,sys; print(sum(len(s["controllers"]) for s in json.load(sys.stdin)["subsystems"]))')
[[ $left == 0 ]] && ok "no controller left on the target" || bad "$left controller(s) left"

sleep 1
kill -INT "$cap_pid"; wait "$cap_pid" 2>/dev/null || true; cap_pid=
# Wireshark: every connection that got past its first bytes opened with a TLS 1.3 handshake, and
# no NVMe/TCP PDU travels in the clear after one (a PDU here would be plaintext).
if python3 "$here/tls_pcap.py" "$work/cap.pcap" "$port" >"$work/tls.log" 2>&1; then
  ok "Wireshark: $(tail -n 1 "$work/tls.log")"
else
  bad "TLS in the capture"; cat "$work/tls.log"
fi

kill -TERM "$tgt_pid"; rc=0; wait "$tgt_pid" || rc=$?; tgt_pid=
[[ $rc == 0 ]] && ok "target exits 0 on SIGTERM" || bad "target exit status $rc on SIGTERM"
grep -q "GUEST-OK" "$vmlog" || { echo "--- target log"; tail -30 "$work/target.log"; }
finish
