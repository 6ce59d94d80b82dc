#!/usr/bin/env bash
# DH-HMAC-CHAP secrets against the real tool: `tightrope gen-dhchap-key` writes exactly what
# nvme-cli's gen-dhchap-key writes for the same secret, hash, key length and NQN, and each program's
# check-dhchap-key accepts the other's random keys and refuses a damaged one.
# nvme-cli is Debian's, from the packages the QEMU guests are built from (tests/vm/build.sh fetches
# them), unpacked into a scratch directory and run from there: installing it would also give this
# machine an /etc/nvme/hostnqn, which changes what tightrope's host calls itself.
# usage: dhchap_keys.sh TIGHTROPE_BINARY
set -uo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
bin=$(realpath "$1")
src=$(cd "$(dirname "$0")/../.." && pwd)
with_scratch dhchap
"$src/tests/vm/build.sh" >"$work/vm-build.log" 2>&1 || { bad "tests/vm/build.sh: $(tail -3 "$work/vm-build.log")"; give_up; }
debs=${TIGHTROPE_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tightrope-vm}/${TIGHTROPE_VM_SUITE:-bookworm}/debs
for d in "$debs"/nvme-cli_*.deb "$debs"/libnvme1_*.deb "$debs"/libdbus-1-3_*.deb; do
  [[ -f $d ]] && dpkg -x "$d" "$work/root" || { bad "no ${d##*/} in $debs"; give_up; }
done
nvme() { LD_LIBRARY_PATH=$work/root/usr/lib/x86_64-linux-gnu:$work/root/lib/x86_64-linux-gnu "$work/root/usr/sbin/nvme" "$@"; }
v=$(nvme version 2>&1 | head -1)
[[ $v == "nvme version"* ]] && ok "Debian's nvme-cli runs from the guest packages: $v" || { bad "nvme-cli does not run: $v"; give_up; }
nqn=nqn.2014-08.org.nvmexpress:uuid:2d3c4b5a-6978-4877-9695-a4b3c2d1e0f1
secret=$(python3 -c 'import os; print(os.urandom(64).hex())')

for hmac in 0 1 2 3; do
  for len in 32 48 64; do
    # nvme-cli transforms into a key as long as the hash; it takes no other length with one.
    ((hmac == 1 && len != 32 || hmac == 2 && len != 48 || hmac == 3 && len != 64)) && continue
    want=$(nvme gen-dhchap-key --secret="${secret:0:$((2 * len))}" --key-length="$len" --hmac="$hmac" --nqn="$nqn" 2>&1)
    got=$("$bin" gen-dhchap-key --secret="${secret:0:$((2 * len))}" --key-length="$len" --hmac="$hmac" --nqn="$nqn" 2>&1)
    [[ -n $want && $got == "$want" ]] && ok "gen-dhchap-key -m $hmac -l $len: $got" ||
      bad "gen-dhchap-key -m $hmac -l $len: nvme-cli '$want', tightrope '$got'"
  done
done

for len in 32 48 64; do
  ours=$("$bin" gen-dhchap-key -l "$len")
  theirs=$(nvme gen-dhchap-key -l "$len" -n "$nqn")
  nvme check-dhchap-key --key="$ours" >/dev/null 2>&1 && ok "nvme check-dhchap-key accepts our random $len-byte key" ||
    bad "nvme check-dhchap-key refuses '$ours'"
  "$bin" check-dhchap-key --key="$theirs" >/dev/null && ok "tightrope check-dhchap-key accepts nvme-cli's $len-byte key" ||
    bad "tightrope check-dhchap-key refuses '$theirs'"
done

# One base64 character changed: both refuse it (the CRC-32 no longer matches).
key=$("$bin" gen-dhchap-key)
c=${key:12:1}; [[ $c == A ]] && r=B || r=A
damaged=${key:0:12}$r${key:13}
nvme check-dhchap-key --key="$damaged" >/dev/null 2>&1 && bad "nvme-cli accepted the damaged key" ||
  ok "nvme-cli refuses the damaged key"
msg=$("$bin" check-dhchap-key --key="$damaged" 2>&1) && bad "tightrope accepted the damaged key" ||
  { [[ $msg == *CRC* ]] && ok "tightrope refuses the damaged key: $msg" || bad "unexpected refusal: $msg"; }
# Options nvme-cli refuses, refused too.
"$bin" gen-dhchap-key -m 1 -l 48 -n "$nqn" >/dev/null 2>&1 && bad "a 48-byte key for SHA-256 was accepted" ||
  ok "a transformed key must be as long as its hash"
"$bin" gen-dhchap-key -l 40 >/dev/null 2>&1 && bad "key length 40 was accepted" || ok "key length 40 is refused"
finish
