#!/usr/bin/env bash
# TLS interop: tightrope's host against the Linux 6.12 kernel target (nvmet-tcp with addr_tsas tls1.3
# and addr_treq required, tlshd doing its handshakes with the PSKs nvme-cli 2.13 derived into the
# guest's keyring), one boot: discover over TLS (the entry says tls13, required), bench --verify,
# connect and data through the FUSE file, disconnect; a wrong key and a plain host refused. The
# capture shows nothing but TLS 1.3 records with a PSK after each handshake.
# usage: tls_kernel_target.sh TIGHTROPE_BINARY      (root; /dev/fuse, QEMU)
set -uo pipefail
bin=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
export TIGHTROPE_VM_SUITE=trixie # kernel 6.12: nvmet-tcp with TLS, tlshd
work=$(mktemp -d /tmp/tightrope-tlskt.XXXXXX)
export TIGHTROPE_STATE_DIR=$work/state
port=${KERNEL_TARGET_PORT:-14448}
nqn=$kernel_target_nqn
host=nqn.2014-08.org.nvmexpress:uuid:71500000-0000-4000-8000-000000000001
vm="" cap_pid= name=
t0=$SECONDS

cleanup() {
  trap - EXIT
  [[ -n $name ]] && timeout 60 "$bin" disconnect -d "$name" >/dev/null 2>&1
  [[ -n $cap_pid ]] && kill -INT "$cap_pid" 2>/dev/null && wait "$cap_pid" 2>/dev/null
  [[ -z $vm ]] || kernel_target_stop "$vm"
  grep -qs " $work/" /proc/mounts && { echo "cleanup: mounts left, keeping $work"; return; }
  rm -rf "$work"
}
trap cleanup EXIT

key=$("$bin" gen-tls-key)
wrong=$("$bin" gen-tls-key)
build_vm_guest "$work"
command -v tshark >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends tshark >/dev/null
tshark -i lo -f "tcp port $port" -F pcap -w "$work/cap.pcap" -q -a duration:900 2>"$work/tshark.log" &
cap_pid=$!
# The key reaches the guest's configuration only, not the environment of anything else here.
TLS_HOSTNQN=$host TLS_KEY=$key kernel_target_start "$port" "$work"
vm=$kernel_target_pid
if ! kernel_target_ready "$work"; then
  bad "the kernel target guest did not come up"
  tail -30 "$work/ktarget.log"
  give_up
fi
ok "the trixie kernel target is up after $((SECONDS - t0)) s, TLS required: $(grep -o 'TLS 1.3 required on port.*' "$work/ktarget.log" | head -c 120)"

out=$(timeout 60 "$bin" discover -a 127.0.0.1 -s "$port" -q "$host" --tls-key "$key" 2>&1)
grep -q "subnqn: *$nqn" <<<"$out" && grep -q "sectype: tls13" <<<"$out" && grep -q "treq: *required" <<<"$out" &&
  ok "discover over TLS: $nqn, sectype tls13, treq required" || { bad "discover over TLS"; echo "$out"; }
if out=$(timeout 120 "$bin" bench -a 127.0.0.1 -s "$port" -n "$nqn" -q "$host" --tls-key "$key" --rw randrw --bs 4k \
  --iodepth 8 --runtime 3 --verify 2>&1) && grep -q "verify: OK" <<<"$out"; then
  ok "bench --verify over TLS ($(grep -o 'verify: OK.*' <<<"$out"))"
else
  bad "bench over TLS"; echo "$out" | tail -8
fi
out=$(timeout 60 "$bin" discover -a 127.0.0.1 -s "$port" -q "$host" --tls-key "$wrong" 2>&1)
grep -q "TLS handshake with" <<<"$out" && ok "a wrong key: $(grep -o 'TLS handshake.*' <<<"$out" | head -c 150)" ||
  { bad "a wrong key was not refused in the handshake"; echo "$out"; }
out=$(timeout 60 "$bin" discover -a 127.0.0.1 -s "$port" -q "$host" 2>&1)
[[ $? != 0 ]] && ok "a plain host is refused: $(head -c 150 <<<"$out")" || { bad "plain discover on the TLS port"; echo "$out"; }

if out=$(timeout 90 "$bin" connect -a 127.0.0.1 -s "$port" -n "$nqn" -q "$host" --tls-key "$key" --no-loop 2>&1); then
  read -r name _ _ file < <(ctrl_of "$nqn")
  ok "connect over TLS: $name"
  head -c $((4 << 20)) /dev/urandom >"$work/pattern"
  if timeout 60 dd if="$work/pattern" of="$file" bs=1M oflag=direct conv=notrunc,fsync status=none &&
    timeout 60 dd if="$file" of="$work/back" bs=1M count=4 iflag=direct status=none && cmp -s "$work/pattern" "$work/back"; then
    ok "4 MiB written and read back through the FUSE file over TLS"
  else
    bad "data through the FUSE file over TLS"
  fi
  timeout 60 "$bin" disconnect -d "$name" >/dev/null 2>&1 && name= && ok "disconnect" || bad "disconnect"
else
  bad "connect over TLS"; echo "$out"
fi
for f in "$TIGHTROPE_STATE_DIR"/ctrl/*.json; do [[ -e $f ]] && grep -l "NVMeTLSkey" "$f"; done | grep -q . &&
  bad "a key in the host's state files" || ok "no key in the host's state files"

sleep 1
kill -INT "$cap_pid"; wait "$cap_pid" 2>/dev/null; cap_pid=
if python3 "$here/tls_pcap.py" "$work/cap.pcap" "$port" >"$work/tls.log" 2>&1; then
  ok "Wireshark: $(tail -n 1 "$work/tls.log")"
else
  bad "TLS in the capture"; cat "$work/tls.log"
fi
grep -E "nvmet|tlshd|handshake" "$work/ktarget.log" | grep -vi "debug" | tail -5 | sed 's/^/  guest: /'
finish
