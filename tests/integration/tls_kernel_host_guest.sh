# Runs inside the trixie kernel-host VM (busybox sh, Linux 6.12, nvme-cli 2.13, tlshd) against a
# `tightrope target` whose port requires TLS. The test prepends HA HB KA KWRONG: host HA's
# configured PSK (the target holds the same), and a key for host HB that the target does not hold.
# nvme-cli derives each TLS PSK into the kernel's .nvme keyring; tlshd does the handshakes.
set -u
fail() { echo "GUEST-FAIL: $*"; exit 1; }
DISC=nqn.2014-08.org.nvmexpress.discovery

no_ctrls() {
  i=0
  while [ -n "$(ls /sys/class/nvme)" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
  [ -z "$(ls /sys/class/nvme)" ]
}

modprobe tls || fail "modprobe tls"
grep -q ' \.nvme: ' /proc/keys || fail "no .nvme keyring (nvme-keyring module)"
printf '[debug]\nloglevel=0\ntls=0\nnl=0\n\n[authenticate]\nkeyrings=.nvme\n\n[authenticate.client]\n\n[authenticate.server]\n' >/etc/tlshd.conf
echo "$TRADDR target" >>/etc/hosts # tlshd names its peer; there is no DNS here
tlshd -c /etc/tlshd.conf &
echo "GUEST: tlshd started"

# The derived TLS PSKs for (host, subsystem) and (host, discovery), as nvme-cli 2.13 inserts them.
for pair in "$HA $NQN" "$HA $DISC" "$HB $NQN"; do
  set -- $pair
  key=$KA
  [ "$1" = "$HB" ] && key=$KWRONG
  nvme check-tls-key --hostnqn="$1" --subsysnqn="$2" --keydata="$key" --insert >/tmp/ins 2>&1 ||
    { cat /tmp/ins; fail "check-tls-key --insert for $1 $2"; }
  echo "GUEST: inserted $(cat /tmp/ins)"
done

# Discovery over TLS lists the subsystem, with TSAS TLS 1.3 and TREQ required.
nvme discover -t tcp -a "$TRADDR" -s "$TRSVCID" --hostnqn="$HA" --tls >/tmp/disc 2>&1 || { cat /tmp/disc; fail "discover --tls"; }
cat /tmp/disc
grep -q "subnqn: *$NQN" /tmp/disc || fail "discovery over TLS does not list $NQN"
grep -q "sectype: *tls13" /tmp/disc || fail "discovery entry does not say TLS 1.3"
grep -q "treq: *required" /tmp/disc || fail "discovery entry does not say TLS is required"
echo "GUEST: discovery over TLS lists $NQN (TLS 1.3, required)"

# Connect over TLS: admin and I/O queues, then data.
nvme connect -t tcp -a "$TRADDR" -s "$TRSVCID" -n "$NQN" --hostnqn="$HA" --tls || fail "connect --tls"
c=$(ls /sys/class/nvme | head -n 1)
i=0
while [ ! -b "/dev/${c}n1" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
[ -b "/dev/${c}n1" ] || fail "no namespace after connect --tls"
[ -n "$(cat /sys/class/nvme/$c/tls_key 2>/dev/null)" ] || fail "controller $c has no tls_key: not TLS"
echo "GUEST: connected over TLS, queues $(cat /sys/class/nvme/$c/queue_count), key $(cat /sys/class/nvme/$c/tls_key)"
awk 'BEGIN { for (i = 0; i < 8 * 2048; i++) printf "%-511s\n", "tls lba " i }' >/tmp/p
dd if=/tmp/p of="/dev/${c}n1" bs=1M count=8 oflag=direct conv=fsync 2>/dev/null || fail "dd write"
echo 3 >/proc/sys/vm/drop_caches
dd if="/dev/${c}n1" of=/tmp/r bs=1M count=8 iflag=direct 2>/dev/null || fail "dd read"
cmp /tmp/p /tmp/r || fail "data read back over TLS differs"
echo "GUEST: 8 MiB written and read back over TLS"
nvme disconnect-all >/dev/null
no_ctrls || fail "controllers left after disconnect-all"

# A key the target does not hold for that identity: the handshake fails, no controller.
if nvme connect -t tcp -a "$TRADDR" -s "$TRSVCID" -n "$NQN" --hostnqn="$HB" --tls 2>/tmp/err; then
  fail "connected with a wrong PSK"
fi
no_ctrls || fail "a controller is left after the wrong PSK"
echo "GUEST: wrong PSK refused ($(head -c 120 /tmp/err))"

# Plain NVMe/TCP on the TLS-required port: refused.
if nvme connect -t tcp -a "$TRADDR" -s "$TRSVCID" -n "$NQN" --hostnqn="$HA" 2>/tmp/err; then
  fail "connected without TLS to a port that requires it"
fi
no_ctrls || fail "a controller is left after the plain connect"
echo "GUEST: plain connect refused ($(head -c 120 /tmp/err))"
echo "GUEST-OK"
