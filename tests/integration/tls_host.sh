#!/usr/bin/env bash
# tightrope's host over TLS 1.3 against tightrope's target on a port that requires it: discover,
# bench --verify with each cipher suite (a :01: and a :02: key), connect (the key read from a
# file), data through the FUSE file, the target restarted under the host (the reconnect opens a new
# TLS session), disconnect; a wrong key, a plain host and a key for another host refused with their
# reasons. The capture shows nothing but TLS 1.3 records on the port.
# usage: tests/integration/tls_host.sh path/to/tightrope     (root; /dev/fuse)
set -uo pipefail
bin=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
work=$(mktemp -d /tmp/tightrope-tlshost.XXXXXX)
port=${TLS_HOST_PORT:-24230}
nqn=nqn.2026-12.io.tightrope:tls-host
h1=nqn.2026-12.io.tightrope:tls-h1 h2=nqn.2026-12.io.tightrope:tls-h2
export TIGHTROPE_STATE_DIR=$work/state
tgt_pid= cap_pid= name=
cleanup() {
  [[ -n $name ]] && timeout 30 "$bin" disconnect -d "$name" >/dev/null 2>&1
  [[ -n $cap_pid ]] && kill -INT "$cap_pid" 2>/dev/null && wait "$cap_pid" 2>/dev/null
  [[ -n $tgt_pid ]] && kill -TERM "$tgt_pid" 2>/dev/null && wait "$tgt_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

k1=$("$bin" gen-tls-key)            # :01: SHA-256, TLS_AES_128_GCM_SHA256
k2=$("$bin" gen-tls-key -m 2)       # :02: SHA-384, TLS_AES_256_GCM_SHA384
wrong=$("$bin" gen-tls-key)
printf '%s\n' "$k1" >"$work/k1" && chmod 600 "$work/k1"
truncate -s 64M "$work/ns.img"
start_target() {
  "$bin" target -v -l "127.0.0.1:$port" --tls required -n "$nqn" -N "$work/ns.img" -S "$work/ctl" \
    -H "$h1" --tls-key "$k1" -H "$h2" --tls-key "$k2" >>"$work/target.log" 2>&1 &
  tgt_pid=$!
  wait_ready "$work/target.log" 10
}
start_target || { cat "$work/target.log"; bad "target did not start"; finish; exit 1; }
command -v tshark >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends tshark >/dev/null
tshark -i lo -f "tcp port $port" -F pcap -w "$work/cap.pcap" -q -a duration:600 2>"$work/tshark.log" &
cap_pid=$!
sleep 2

out=$("$bin" discover -a 127.0.0.1 -s "$port" -q "$h1" --tls-key "$k1" 2>&1)
grep -q "subnqn: *$nqn" <<<"$out" && grep -q "sectype: tls13" <<<"$out" && grep -q "treq: *required" <<<"$out" &&
  ok "discover over TLS: $nqn, sectype tls13, treq required" || { bad "discover over TLS"; echo "$out"; }
for k in 1 2; do
  host=$h1 key=$k1 suite=TLS_AES_128_GCM_SHA256
  ((k == 2)) && host=$h2 key=$k2 suite=TLS_AES_256_GCM_SHA384
  if out=$(timeout 60 "$bin" bench -a 127.0.0.1 -s "$port" -n "$nqn" -q "$host" --tls-key "$key" --rw randrw --bs 4k \
    --iodepth 8 --runtime 2 --verify 2>&1) && grep -q "verify: OK" <<<"$out"; then
    ok "bench --verify over TLS with a :0$k: key ($(grep -o 'verify: OK.*' <<<"$out"))"
  else
    bad "bench over TLS with a :0$k: key"; echo "$out" | tail -5
  fi
  grep -q "TLS 1.3 with $suite for host \"$host\"" "$work/target.log" && ok "the target negotiated $suite for $host" ||
    bad "no $suite session for $host in the target's log"
done

# Refusals, each with its reason.
out=$(timeout 30 "$bin" discover -a 127.0.0.1 -s "$port" -q "$h1" --tls-key "$wrong" 2>&1)
grep -q "TLS handshake with .*: " <<<"$out" && ok "a wrong key: $(grep -o 'TLS handshake.*' <<<"$out" | head -c 160)" ||
  { bad "a wrong key was not refused in the handshake"; echo "$out"; }
out=$(timeout 30 "$bin" discover -a 127.0.0.1 -s "$port" -q "$h1" 2>&1)
grep -q "if the port requires TLS, connect with --tls-key" <<<"$out" && ok "a plain host is told the port may require TLS" ||
  { bad "plain discover on a TLS port"; echo "$out"; }
out=$(timeout 30 "$bin" discover -a 127.0.0.1 -s "$port" -q "$h2" --tls-key "$k1" 2>&1)
grep -q "TLS handshake" <<<"$out" && ok "another host's key is refused" || { bad "another host's key"; echo "$out"; }
grep -q "TLS handshake failed" "$work/target.log" && ok "the target logs the failed handshakes" || bad "no handshake failure logged"

# connect: the key from a file, data through the FUSE file, the target restarted under the host.
if out=$(timeout 60 "$bin" connect -a 127.0.0.1 -s "$port" -n "$nqn" -q "$h1" --tls-key "$work/k1" --no-loop \
  -c 1 -l 60 2>&1); then
  read -r name _ _ file < <(ctrl_of "$nqn")
  ok "connect over TLS with the key from a file: $name ${file:-?}"
else
  bad "connect over TLS"; echo "$out"
fi
if [[ -n ${file:-} && -e $file ]]; then
  head -c $((4 << 20)) /dev/urandom >"$work/pattern"
  timeout 60 dd if="$work/pattern" of="$file" bs=1M oflag=direct conv=notrunc,fsync status=none &&
    ok "4 MiB written through the FUSE file" || bad "write through the FUSE file"
  kill -TERM "$tgt_pid"; wait "$tgt_pid"; tgt_pid=
  start_target || bad "target restart"
  ok=0
  for _ in $(seq 60); do
    if timeout 20 dd if="$file" of="$work/back" bs=1M count=4 iflag=direct status=none 2>/dev/null &&
      cmp -s "$work/pattern" "$work/back"; then ok=1; break; fi
    sleep 0.5
  done
  ((ok)) && ok "after the target restarted, the host reconnected over TLS and reads the data back" ||
    bad "no data after the reconnect"
  # bench's 2 queues, connect's admin and I/O queues, and as many again after the restart
  n=$(grep -c "TLS 1.3 with TLS_AES_128_GCM_SHA256 for host \"$h1\" and $nqn" "$work/target.log")
  ((n >= 6)) && ok "$n TLS sessions for $h1: the reconnect opened new ones" || bad "only $n TLS sessions for $h1"
  timeout 30 "$bin" disconnect -d "$name" >/dev/null 2>&1 && name= && ok "disconnect" || bad "disconnect"
else
  bad "no FUSE file to test with"
fi
grep -q "NVMeTLSkey" "$work/target.log" && bad "a key in the target's log" || ok "no key in the target's log"
for f in "$TIGHTROPE_STATE_DIR"/ctrl/*.json "$TIGHTROPE_STATE_DIR"/*.log; do
  [[ -e $f ]] && grep -l "NVMeTLSkey" "$f"
done | grep -q . && bad "a key in the host's state files" || ok "no key in the host's state files"

sleep 1
kill -INT "$cap_pid"; wait "$cap_pid" 2>/dev/null; cap_pid=
if python3 "$here/tls_pcap.py" "$work/cap.pcap" "$port" >"$work/tls.log" 2>&1; then
  ok "Wireshark: $(tail -n 1 "$work/tls.log")"
else
  bad "TLS in the capture"; cat "$work/tls.log"
fi
grep -q "suite 0x1302" "$work/tls.log" && grep -q "suite 0x1301" "$work/tls.log" &&
  ok "both suites on the wire (0x1301 TLS_AES_128_GCM_SHA256, 0x1302 TLS_AES_256_GCM_SHA384)" || bad "not both suites seen"
kill -TERM "$tgt_pid"; rc=0; wait "$tgt_pid" || rc=$?; tgt_pid=
[[ $rc == 0 ]] && ok "target exits 0" || bad "target exit status $rc"
no_sanitizer_report "$work/target.log" target
finish
