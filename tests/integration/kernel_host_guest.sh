# Runs inside the kernel-host VM (busybox sh) after the harness's own data test on $NVME_DEV:
# checks our identity strings and queue count, writes the pattern to the second (file-backed)
# namespace, and watches a namespace the test adds and removes while we are connected (AEN).
set -u
fail() { echo "GUEST-FAIL: $*"; exit 1; }
ctrl=/sys/class/nvme/$NVME_CTRL

nvme list | grep -q 'tightrope' || fail "model 'tightrope' not in nvme list"
nvme list | grep -q "$EXPECT_SERIAL" || fail "serial $EXPECT_SERIAL not in nvme list"
q=$(cat "$ctrl/queue_count")
echo "GUEST: queue_count=$q"
[ "$q" -ge 3 ] || fail "expected an admin queue and at least 2 I/O queues, got $q"
nvme id-ctrl "/dev/$NVME_CTRL" | grep -E '^(oaes|sgls|ioccsz|kas|mdts|subnqn)' || fail "id-ctrl"
oaes=$(nvme id-ctrl "/dev/$NVME_CTRL" | awk '$1 == "oaes" { print $3 }')
[ $((oaes & 0x100)) -ne 0 ] || fail "OAES $oaes does not advertise namespace notices"
[ $((oaes & 0x800)) -ne 0 ] || fail "OAES $oaes does not advertise ANA change notices"

other=
for d in /dev/${NVME_CTRL}n1 /dev/${NVME_CTRL}n2; do
  [ -b "$d" ] || fail "$d missing"
  [ "$d" != "$NVME_DEV" ] && other=$d
done
echo "GUEST: file namespace device $other"
awk 'BEGIN { for (i = 0; i < 8*2048; i++) printf "%-511s\n", "nvme-interop lba " i }' >/tmp/p2
dd if=/tmp/p2 of="$other" bs=1M count=8 oflag=direct conv=fsync 2>/dev/null || fail "dd write $other"
echo 3 >/proc/sys/vm/drop_caches
dd if="$other" of=/tmp/r2 bs=1M count=8 iflag=direct 2>/dev/null || fail "dd read $other"
cmp /tmp/p2 /tmp/r2 || fail "readback of $other differs"
nvme flush "$other" -n 2 >/dev/null 2>&1 || nvme flush "/dev/$NVME_CTRL" -n 2 || fail "flush"
echo "GUEST: file namespace data OK"

# The test adds namespace 3 once it sees us connected: the AEN must make the kernel scan it.
i=0
while [ ! -b /dev/${NVME_CTRL}n3 ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
[ -b /dev/${NVME_CTRL}n3 ] || fail "namespace 3 added on the target never appeared (AEN)"
echo "GUEST: namespace 3 appeared after $((i / 10)) s"
printf 'NS3-SEEN' | dd of=/dev/${NVME_CTRL}n3 bs=512 conv=sync oflag=direct 2>/dev/null || fail "write to namespace 3"
i=0
while [ -b /dev/${NVME_CTRL}n3 ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
[ ! -b /dev/${NVME_CTRL}n3 ] || fail "namespace 3 removed on the target is still here (phantom namespace)"
echo "GUEST: namespace 3 disappeared after $((i / 10)) s"
echo "GUEST-OK"
