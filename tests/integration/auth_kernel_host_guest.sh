# Runs inside the trixie kernel-host VM (busybox sh, Linux 6.12, nvme-cli 2.13) against a
# `tightrope target` whose hosts HA (sha256, null group, host secret KA) and HB (sha512, ffdhe3072,
# KB and controller secret CKB) must authenticate. The test prepends HA HB KA KB CKB WRONG.
# Phases: HA host-only; HB bidirectional + a re-authentication; then a wrong host secret, a wrong
# controller secret and no secret, each refused with no controller left.
set -u
fail() { echo "GUEST-FAIL: $*"; exit 1; }

no_ctrls() {
  i=0
  while [ -n "$(ls /sys/class/nvme)" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
  [ -z "$(ls /sys/class/nvme)" ]
}

# connect HOSTNQN OPTIONS...: nvme connect as that host.
connect() {
  h=$1
  shift
  nvme connect -t tcp -a "$TRADDR" -s "$TRSVCID" -n "$NQN" --hostnqn="$h" "$@"
}

# data_check TAG: 1 MiB O_DIRECT write, read back, compare on the controller's first namespace.
data_check() {
  c=$(ls /sys/class/nvme | head -n 1)
  i=0
  while [ ! -b "/dev/${c}n1" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
  [ -b "/dev/${c}n1" ] || fail "$1: no namespace after connect"
  awk -v t="$1" 'BEGIN { for (i = 0; i < 2048; i++) printf "%-511s\n", "auth " t " lba " i }' >/tmp/p
  dd if=/tmp/p of="/dev/${c}n1" bs=1M count=1 oflag=direct conv=fsync 2>/dev/null || fail "$1: dd write"
  echo 3 >/proc/sys/vm/drop_caches
  dd if="/dev/${c}n1" of=/tmp/r bs=1M count=1 iflag=direct 2>/dev/null || fail "$1: dd read"
  cmp /tmp/p /tmp/r || fail "$1: data read back differs"
  echo "GUEST: $1 data OK on $c"
}

# Phase 1: host-only authentication, SHA-256, no DH exchange.
connect "$HA" --dhchap-secret="$KA" || fail "HA connect with its secret"
data_check host-only
dmesg | grep -q "qid 0: authenticated with hash hmac(sha256) dhgroup null" || fail "no 'authenticated ... sha256 ... null' line"
echo "GUEST: HA authenticated (sha256, null)"
nvme disconnect-all >/dev/null
no_ctrls || fail "controllers left after phase 1"

# Phase 2: bidirectional, SHA-512 over ffdhe3072, then a re-authentication of every queue.
connect "$HB" --dhchap-secret="$KB" --dhchap-ctrl-secret="$CKB" || fail "HB connect with both secrets"
data_check bidirectional
dmesg | grep -q "qid 0: authenticated with hash hmac(sha512) dhgroup ffdhe3072" || fail "no sha512/ffdhe3072 line"
dmesg | grep -q "qid 0: controller authenticated" || fail "the kernel did not authenticate the controller"
echo "GUEST: HB authenticated (sha512, ffdhe3072), controller authenticated"
c=$(ls /sys/class/nvme | head -n 1)
before=$(dmesg | grep -c "qid 0: authenticated with hash")
echo "$KB" >"/sys/class/nvme/$c/dhchap_secret" || fail "writing dhchap_secret (re-authentication)"
i=0
while [ "$(dmesg | grep -c 'qid 0: authenticated with hash')" -le "$before" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ "$(dmesg | grep -c 'qid 0: authenticated with hash')" -gt "$before" ] || fail "no re-authentication of the admin queue"
echo "GUEST: re-authenticated after $((i / 10)) s"
data_check after-reauth
nvme disconnect-all >/dev/null
no_ctrls || fail "controllers left after phase 2"

# Phase 3: a wrong host secret.
if connect "$HA" --dhchap-secret="$WRONG" 2>/tmp/err; then fail "connected with a wrong host secret"; fi
no_ctrls || fail "a controller is left after the wrong host secret"
dmesg | grep -q "authentication failed" || fail "no 'authentication failed' for the wrong host secret"
echo "GUEST: wrong host secret refused ($(dmesg | grep 'authentication failed' | tail -n 1 | sed 's/^\[[^]]*\] //'))"

# Phase 4: the right host secret, a wrong controller secret: the host must refuse the controller.
n=$(dmesg | grep -c "controller authentication failed")
if connect "$HB" --dhchap-secret="$KB" --dhchap-ctrl-secret="$WRONG" 2>/tmp/err; then
  fail "connected although the controller could not prove the controller secret"
fi
no_ctrls || fail "a controller is left after the wrong controller secret"
[ "$(dmesg | grep -c "controller authentication failed")" -gt "$n" ] || fail "no 'controller authentication failed'"
echo "GUEST: wrong controller secret refused"

# Phase 5: no secret at all for a host that must authenticate.
if connect "$HA" 2>/tmp/err; then fail "connected without a secret"; fi
no_ctrls || fail "a controller is left after connecting without a secret"
echo "GUEST: no secret refused ($(dmesg | grep -E 'qid 0: .*(auth|key)' | tail -n 1 | sed 's/^\[[^]]*\] //'))"
echo "GUEST-OK"
