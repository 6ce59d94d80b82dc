# shellcheck shell=sh
# Runs inside the trixie kernel-host VM (busybox sh, Linux 6.12, nvme-cli 2.13 / libnvme 1.13) for
# tls_keys.sh, which prepends S32 S48 (secrets in hex), DAMAGED (a key with a broken CRC) and the
# cases (`check TAG KEY HOSTNQN SUBNQN VERSION` lines). Every answer is a console line
# "TLSK <tag> <what nvme-cli printed>"; tls_keys.sh compares them with tightrope's.
set -u
modprobe nvme-keyring || { echo "GUEST-FAIL: modprobe nvme-keyring"; exit 1; }
grep -q ' \.nvme: ' /proc/keys || { echo "GUEST-FAIL: no .nvme keyring"; exit 1; }
say() { echo "TLSK $1 $2"; }

# check TAG KEY HOSTNQN SUBNQN VERSION: the identity check-tls-key prints, then the line it appends
# to a --keyfile after --insert: the identity and the TLS PSK read back from the .nvme keyring.
check() {
  say "$1.id" "$(nvme check-tls-key --keydata="$2" --hostnqn="$3" --subsysnqn="$4" --identity="$5" 2>&1)"
  nvme check-tls-key --keydata="$2" --hostnqn="$3" --subsysnqn="$4" --identity="$5" --insert \
    --keyfile="/tmp/$1.kf" >"/tmp/$1.out" 2>&1 || say "$1.kf" "insert failed: $(cat "/tmp/$1.out")"
  say "$1.kf" "$(cat "/tmp/$1.kf")"
}

say gen1 "$(nvme gen-tls-key --hmac=1 --secret="$S32" 2>&1)"
say gen2 "$(nvme gen-tls-key --hmac=2 --secret="$S48" 2>&1)"
say rand1 "$(nvme gen-tls-key --hmac=1 2>&1)"
say rand2 "$(nvme gen-tls-key --hmac=2 2>&1)"
nvme check-tls-key --keydata="$DAMAGED" --subsysnqn=nqn.2026-12.io.tightrope:x >/dev/null 2>&1
say damaged "rc=$?"
cases
say psk-keys "$(grep -c ' psk  *NVMe' /proc/keys)"
echo "GUEST-OK"
