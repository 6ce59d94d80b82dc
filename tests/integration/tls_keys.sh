#!/usr/bin/env bash
# NVMe/TCP TLS PSKs against the real tools: nvme-cli 2.13 / libnvme 1.13 in the Debian 13 QEMU
# guest (one boot; no target, no network) inserts configured keys into the kernel's .nvme keyring
# and reads back what it derived; `tightrope gen-tls-key` and `check-tls-key` must print the same
# configured keys, identities (versions 0 and 1) and keyfile lines (identity + TLS PSK) for keys
# 01, 02 and 00, a discovery NQN and a 223-character subsystem NQN; each accepts the other's random
# keys and both refuse a damaged one.
# usage: tls_keys.sh TIGHTROPE_BINARY
set -uo pipefail
bin=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
vm=$(cd "$here/../vm" && pwd)
export TIGHTROPE_VM_SUITE=trixie
with_scratch tlskeys
"$vm/build.sh" >"$work/vm-build.log" 2>&1 || { bad "tests/vm/build.sh: $(tail -3 "$work/vm-build.log")"; give_up; }

hex() { python3 -c "import os; print(os.urandom($1).hex())"; }
s32=$(hex 32) s48=$(hex 48)
host=nqn.2014-08.org.nvmexpress:uuid:$(python3 -c 'import uuid; print(uuid.uuid4())')
sub=nqn.2026-12.io.tightrope:tls-keys
disc=nqn.2014-08.org.nvmexpress.discovery
long=nqn.2026-12.io.tightrope:$(printf 'l%.0s' $(seq 198)) # 223 characters, the most an NQN has
k1=$("$bin" gen-tls-key --hmac=1 --secret="$s32")
k2=$("$bin" gen-tls-key --hmac=2 --secret="$s48")
k0=${k2/:02:/:00:} # the same 48 bytes used as they are (HH 00): the CRC covers only the key
c=${k1:20:1}; [[ $c == A ]] && r=B || r=A
damaged=${k1:0:20}$r${k1:21}
# tag key hostnqn subnqn identity-version
cases=("k1v0 $k1 $host $sub 0" "k1v1 $k1 $host $sub 1" "k2v0 $k2 $host $sub 0" "k2v1 $k2 $host $sub 1"
  "k0v0 $k0 $host $sub 0" "k0v1 $k0 $host $sub 1" "disc $k1 $host $disc 0" "long $k2 $host $long 1")

guest=$work/guest.sh
{
  printf 'S32=%s\nS48=%s\nDAMAGED=%s\ncases() {\n' "$s32" "$s48" "$damaged"
  for t in "${cases[@]}"; do
    read -r tag k h s v <<<"$t"
    printf "  check %s '%s' '%s' '%s' %s\n" "$tag" "$k" "$h" "$s" "$v"
  done
  printf '}\n'
  cat "$here/tls_keys_guest.sh"
} >"$guest"
vmlog=$work/vm.log
if TIGHTROPE_VM_DEFAULT_TEST=0 TIGHTROPE_VM_KMSG=0 TIGHTROPE_VM_TIMEOUT=300 TIGHTROPE_VM_LOG="$work/console.log" \
  "$vm/kernel-host.sh" "$(free_port)" "$sub" "$guest" >"$vmlog" 2>&1 && grep -q GUEST-OK "$vmlog"; then
  ok "guest: $(grep -m1 -o 'boot: kernel [^,]*, nvme version [0-9.]*' "$vmlog" | sed 's/^boot: //'), every step"
else
  bad "guest: $(grep -E 'RESULT=|GUEST-FAIL' "$vmlog" | tail -2 | tr '\n' ' ')"
  tail -40 "$vmlog"
  give_up
fi
# theirs TAG: what nvme-cli printed for TAG.
theirs() { grep -a -m1 "^TLSK $1 " "$vmlog" | tr -d '\r' | cut -d' ' -f3-; }

for h in 1 2; do
  s=$s32; ((h == 2)) && s=$s48
  want=$(theirs "gen$h") got=$("$bin" gen-tls-key -m "$h" -s "$s")
  [[ -n $want && $got == "$want" ]] && ok "gen-tls-key -m $h -s HEX: $got" || bad "gen-tls-key -m $h: nvme-cli '$want', tightrope '$got'"
done
for t in "${cases[@]}"; do
  read -r tag k h s v <<<"$t"
  want=$(theirs "$tag.id")
  got=$("$bin" check-tls-key -d "$k" -n "$h" -c "$s" -I "$v" -f "$work/$tag.kf" 2>&1)
  [[ -n $want && $got == "$want" ]] && ok "$tag: identity ${got:0:8} ... (${#got} characters) as nvme-cli's" ||
    bad "$tag: identity: nvme-cli '$want', tightrope '$got'"
  want=$(theirs "$tag.kf") got=$(cat "$work/$tag.kf")
  [[ $want == NVMe* && $got == "$want" ]] && ok "$tag: TLS PSK as in the .nvme keyring: ...${got: -58}" ||
    bad "$tag: keyfile line: nvme-cli '$want', tightrope '$got'"
done
for h in 1 2; do
  key=$(theirs "rand$h")
  "$bin" check-tls-key -d "$key" -n "$host" -c "$sub" >/dev/null && ok "tightrope accepts nvme-cli's random key $h" ||
    bad "tightrope refuses nvme-cli's random key '$key'"
done
[[ $(theirs damaged) == "rc=1" ]] && ok "nvme-cli refuses the damaged key" || bad "nvme-cli on the damaged key: $(theirs damaged)"
msg=$("$bin" check-tls-key -d "$damaged" -n "$host" -c "$sub" 2>&1) && bad "tightrope accepted the damaged key" ||
  { [[ $msg == *CRC* ]] && ok "tightrope refuses the damaged key: $msg" || bad "unexpected refusal: $msg"; }
# k2v0 and k0v0 share an identity (NVMe0R02: both keys are 48 bytes), so k0's replaced k2's: 7 keys.
n=$(theirs psk-keys)
[[ $n == 7 ]] && ok "the guest's keyring holds 7 psk keys, one per identity" || bad "psk keys in the guest's keyring: '$n'"
finish
