# Runs inside the kernel-host VM (busybox sh): native NVMe multipath of the Linux host over two
# `tightrope target` processes that export one namespace (10.0.2.100:4420 is target A, ANA
# optimized; :4421 is target B, non-optimized). Connects both paths, checks that the kernel made one
# namespace head with two paths and their ANA states, then runs fio with verify on the head while the
# test kills target A, restarts it, and switches the optimized path with `ctl set-ana`; the guest
# reports each step on the console ("MPATH: ...") for the test to act on and to check.
set -u
fail() { echo "GUEST-FAIL: $*"; exit 1; }
say() { echo "MPATH: $*"; }

for s in 4420 4421; do
  nvme connect -t tcp -a "$TRADDR" -s "$s" -n "$NQN" --reconnect-delay=1 --ctrl-loss-tmo=-1 ||
    fail "nvme connect to port $s rc=$?"
done
# The kernel's per-path devices are nvmeXcYnZ (hidden); the head is nvmeXnZ.
i=0
while [ "$(ls -d /sys/block/nvme*c*n1 2>/dev/null | wc -l)" -lt 2 ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
paths=$(ls -d /sys/block/nvme*c*n1 2>/dev/null | wc -l)
heads=$(ls /sys/block | grep -cE '^nvme[0-9]+n1$')
say "paths=$paths heads=$heads"
[ "$paths" = 2 ] && [ "$heads" = 1 ] || fail "expected one namespace head with two paths, got $heads heads, $paths paths"
head=$(ls /sys/block | grep -E '^nvme[0-9]+n1$')
nvme list-subsys || fail "nvme list-subsys"
nvme list-subsys "/dev/$head" || fail "nvme list-subsys /dev/$head"
nvme list

# path_of PORT: the per-path block device whose controller is connected to PORT.
path_of() {
  for p in /sys/block/nvme*c*n1; do
    c=$(basename "$(readlink -f "$p/device")")
    grep -q "trsvcid=$1" "/sys/class/nvme/$c/address" && { echo "${p##*/} $c"; return; }
  done
}
set -- $(path_of 4420); pa=$1 ca=$2
set -- $(path_of 4421); pb=$1 cb=$2
say "path A $pa ($ca) $(cat /sys/block/$pa/ana_state), path B $pb ($cb) $(cat /sys/block/$pb/ana_state)"
[ "$(cat /sys/block/$pa/ana_state)" = optimized ] || fail "path A is not optimized"
[ "$(cat /sys/block/$pb/ana_state)" = non-optimized ] || fail "path B is not non-optimized"
say "iopolicy $(cat /sys/class/nvme-subsystem/*/iopolicy)"
# nvme-cli decodes the ANA log page (0Ch) of each controller.
nvme ana-log "/dev/$ca" || fail "nvme ana-log /dev/$ca"
nvme ana-log "/dev/$cb" -o json | grep -q '"state" *: *"non-optimized"' || fail "nvme ana-log /dev/$cb: group not non-optimized"

# The load: random 4 KiB writes, each batch of 16 read back and checked (crc32c) as soon as it is
# acknowledged; any I/O error or mismatch ends fio with an error.
fio --name=mpath --filename="/dev/$head" --direct=1 --ioengine=libaio --iodepth=4 --rw=randwrite --bs=4k \
  --size=64M --verify=crc32c --verify_backlog=16 --verify_fatal=1 --time_based --runtime="${VERIFY_SECONDS:-90}" \
  --output=/tmp/fio.out &
vpid=$!
sleep 3
say "verify running; kill target A now"
# Target A dies: its path must leave "live", and come back once A restarts.
i=0
while [ "$(cat /sys/class/nvme/$ca/state)" = live ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
say "path A state $(cat /sys/class/nvme/$ca/state) after $((i / 10)) s"
i=0
while [ "$(cat /sys/class/nvme/$ca/state)" != live ] && [ $i -lt 900 ]; do sleep 0.1; i=$((i + 1)); done
[ "$(cat /sys/class/nvme/$ca/state)" = live ] || fail "path A never came back (state $(cat /sys/class/nvme/$ca/state))"
say "path A back after $((i / 10)) s, ANA $(cat /sys/block/$pa/ana_state); switch ANA now"
# The test makes B optimized and A non-optimized: the ANA change event must carry it here.
i=0
while { [ "$(cat /sys/block/$pa/ana_state)" != non-optimized ] || [ "$(cat /sys/block/$pb/ana_state)" != optimized ]; } &&
  [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
say "after set-ana: path A $(cat /sys/block/$pa/ana_state), path B $(cat /sys/block/$pb/ana_state) ($((i / 10)) s)"
[ "$(cat /sys/block/$pb/ana_state)" = optimized ] || fail "the ANA switch did not reach the host"
nvme list-subsys "/dev/$head"
rc=0
wait $vpid || rc=$?
cat /tmp/fio.out
[ $rc = 0 ] || fail "fio verify failed while the paths changed (rc $rc)"
say "fio verify passed: $(grep -o 'err= *[0-9]*' /tmp/fio.out | head -1), $(grep -o 'issued rwts: total=[0-9]*,[0-9]*' /tmp/fio.out)"
nvme disconnect-all || fail "nvme disconnect-all"
echo "GUEST-OK"
