# Runs inside the kernel-host VM (busybox sh, Debian 13's kernel with ublk_drv): tightrope's own host
# (the current build, from ublk_host.sh's extra archive under /opt/tightrope) connects to the target
# at 10.0.2.100:4420 and must give the namespace as /dev/ublkbN: its size, block size and queues, data
# written and read back, ext4 on it, a writer that goes on while the test kills and restarts the target
# (I/O held, no error, data intact), disconnect removing the device, and a killed host process whose
# device `disconnect-all` deletes. Each step is a console line "GUEST: ..." the test checks and acts on.
# The namespace is ublk_host.sh's: 256 MiB of 4096-byte blocks.
set -u
fail() {
	echo "GUEST-FAIL: $*"
	tail -n 30 /var/lib/tightrope/ctrl/*.log 2>/dev/null
	exit 1
}
say() { echo "GUEST: $*"; }
T=/opt/tightrope/tightrope
NS_BYTES=$((256 << 20)) LBS=4096
# pattern TAG MIB: 512-byte records "TAG lba N", padded, one per 512 bytes.
pattern() { awk -v tag="$1" -v n=$(($2 * 2048)) 'BEGIN { for (i = 0; i < n; i++) printf "%-511s\n", tag " lba " i }'; }
# cs: the uptime in centiseconds, for the sanity figures (a TCG guest's timings are no benchmark).
cs() { awk '{ print int($1 * 100) }' /proc/uptime; }
# ublk_devs: the ublk devices there are (block and char), on one line.
ublk_devs() { ls /dev | grep -E '^ublk[bc][0-9]' | tr '\n' ' '; }

for m in fuse ublk_drv loop ext4; do modprobe "$m" || fail "modprobe $m"; done
[ -c /dev/ublk-control ] || fail "no /dev/ublk-control after modprobe ublk_drv"
mkdir -p /var/lib /mnt
ln -sf /proc/self/mounts /etc/mtab # libfuse's mount reads it

$T connect -t tcp -a "$TRADDR" -s "$TRSVCID" -n "$NQN" -i 2 -c 1 -l -1 --blkdev ublk || fail "connect rc=$?"
$T list
dev=$($T list | grep -o '/dev/ublkb[0-9]*' | head -n 1)
[ -n "$dev" ] && [ -b "$dev" ] || fail "no /dev/ublkbN in tightrope list"
b=${dev#/dev/}
bytes=$(($(cat /sys/block/$b/size) * 512))
lbs=$(cat /sys/block/$b/queue/logical_block_size)
queues=$(ls /sys/block/$b/mq | wc -l)
say "device $dev: $bytes bytes, logical block $lbs, $queues queues"
[ "$bytes" = $NS_BYTES ] || fail "$dev has $bytes bytes, the namespace $NS_BYTES"
[ "$lbs" = $LBS ] || fail "$dev has $lbs-byte blocks, the namespace $LBS"
[ "$queues" = 2 ] || fail "$dev has $queues queues for 2 host I/O queues"
grep -qE '"loop": *"[^"]*ublkb[0-9]' /var/lib/tightrope/ctrl/tr0.json || fail "the record does not name $dev: $(cat /var/lib/tightrope/ctrl/tr0.json)"
say "the record names $dev"

pattern tightrope-ublk 16 >/tmp/pat
t0=$(cs)
dd if=/tmp/pat of="$dev" bs=1M oflag=direct conv=fsync 2>/dev/null || fail "dd write rc=$?"
t1=$(cs)
echo 3 >/proc/sys/vm/drop_caches
t2=$(cs)
dd if="$dev" of=/tmp/back bs=1M count=16 iflag=direct 2>/dev/null || fail "dd read rc=$?"
t3=$(cs)
cmp /tmp/pat /tmp/back || fail "16 MiB read back differ from what was written"
dd if=/tmp/pat of="$dev" bs=4k seek=1 count=3 2>/dev/null && sync || fail "buffered write rc=$?"
say "data: 16 MiB O_DIRECT written and read back equal (write $((t1 - t0))0 ms, read $((t3 - t2))0 ms)"

/opt/tightrope/mkfs.ext4 -q -F "$dev" || fail "mkfs.ext4 rc=$?"
mount -t ext4 "$dev" /mnt || fail "mount rc=$?"
dd if=/dev/urandom of=/mnt/f bs=1M count=8 2>/dev/null || fail "writing a file on ext4"
sum=$(sha256sum </mnt/f | cut -d' ' -f1)
umount /mnt || fail "umount rc=$?"
echo 3 >/proc/sys/vm/drop_caches
mount -t ext4 "$dev" /mnt || fail "mount again rc=$?"
[ "$(sha256sum </mnt/f | cut -d' ' -f1)" = "$sum" ] || fail "the file's checksum changed across a remount"
umount /mnt || fail "umount rc=$?"
say "ext4: mkfs, mount, 8 MiB file, remount, same sha256 $sum"

# The writer: 64 writes of 256 KiB, each synced, spread over some seconds; the test kills the target
# once it runs and restarts it a few seconds later. No write may fail.
pattern held 16 >/tmp/held
( i=0
  while [ $i -lt 64 ]; do
	dd if=/tmp/held of="$dev" bs=256k skip=$i seek=$((128 + i)) count=1 oflag=direct conv=fsync 2>/dev/null || exit 1
	i=$((i + 1))
	sleep 0.1
  done ) &
wpid=$!
t0=$(cut -d. -f1 /proc/uptime)
sleep 1
say "writer running; stop the target now"
wait $wpid || fail "the writer got an I/O error while the target was away"
took=$(($(cut -d. -f1 /proc/uptime) - t0))
grep -q "Successfully reconnected" /var/lib/tightrope/ctrl/tr0.log || fail "the host never reconnected"
dd if="$dev" of=/tmp/back bs=256k skip=128 count=64 iflag=direct 2>/dev/null || fail "read back rc=$?"
cmp /tmp/held /tmp/back || fail "what the writer wrote across the outage reads back different"
say "held: the writer went on across the outage without error ($took s), reconnected, data equal"

# A namespace the target adds while we are connected gets a ublk device of its own (the event loop
# adds it); removed, its device goes (stopped by a thread, deleted once the kernel gave everything back).
say "add namespace 2 now"
i=0
while [ "$(ls /dev | grep -cE '^ublkb[0-9]')" -lt 2 ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
dev2=$(ls /dev | grep -E '^ublkb[0-9]' | grep -vx "$b" | head -n 1)
[ -n "$dev2" ] || fail "no second ublk device after the target added namespace 2: $(ublk_devs)"
bytes2=$(($(cat /sys/block/$dev2/size) * 512))
[ "$bytes2" = $((64 << 20)) ] || fail "/dev/$dev2 has $bytes2 bytes, namespace 2 $((64 << 20))"
dd if=/tmp/pat of="/dev/$dev2" bs=1M count=4 oflag=direct 2>/dev/null || fail "write to /dev/$dev2 rc=$?"
dd if="/dev/$dev2" of=/tmp/back bs=1M count=4 iflag=direct 2>/dev/null || fail "read from /dev/$dev2 rc=$?"
cmp -n $((4 << 20)) /tmp/pat /tmp/back || fail "/dev/$dev2 reads back other data"
say "namespace 2 added: /dev/$dev2, $bytes2 bytes, data equal; remove namespace 2 now"
i=0
while [ -e "/dev/$dev2" ] || [ -e "/dev/ublkc${dev2#ublkb}" ]; do
	[ $i -lt 300 ] || fail "/dev/$dev2 still there after namespace 2 went: $(ublk_devs)"
	sleep 0.1
	i=$((i + 1))
done
[ -b "$dev" ] || fail "$dev went with namespace 2"
say "namespace 2 removed: /dev/$dev2 and its char device gone, $dev still there"

$T disconnect-all || fail "disconnect-all rc=$?"
i=0
while [ -n "$(ublk_devs)" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -z "$(ublk_devs)" ] || fail "left after disconnect-all: $(ublk_devs)"
! grep -qsE "Sanitizer|runtime error" /var/lib/tightrope/ctrl/*.log || fail "sanitizer report: $(grep -hsE -A5 "Sanitizer|runtime error" /var/lib/tightrope/ctrl/*.log | head -20)"
say "disconnect: no ublk device left"

# --blkdev loop: the loop device over the FUSE file, even where ublk is there.
$T connect -t tcp -a "$TRADDR" -s "$TRSVCID" -n "$NQN" -c 1 --blkdev loop || fail "connect --blkdev loop rc=$?"
loop=$($T list | grep -o '/dev/loop[0-9]*' | head -n 1)
[ -n "$loop" ] && [ -z "$(ublk_devs)" ] || fail "--blkdev loop gave '$loop', ublk devices '$(ublk_devs)'"
dd if="$loop" of=/tmp/back bs=256k skip=128 count=64 iflag=direct 2>/dev/null || fail "read through $loop rc=$?"
cmp /tmp/held /tmp/back || fail "$loop reads other data than the ublk device wrote"
t0=$(cs)
dd if="$loop" of=/tmp/back bs=1M count=16 iflag=direct 2>/dev/null || fail "dd read through $loop rc=$?"
say "sanity: 16 MiB O_DIRECT read through $loop (FUSE) $(($(cs) - t0))0 ms, through ublk $((t3 - t2))0 ms (TCG guest)"
$T disconnect-all || fail "disconnect-all (loop) rc=$?"
say "loop: --blkdev loop gave $loop (no ublk device), the same data as through ublk"

# A host process killed: the kernel aborts its device, and disconnect-all deletes what is left.
# Without --blkdev (auto), this kernel gets ublk again.
$T connect -t tcp -a "$TRADDR" -s "$TRSVCID" -n "$NQN" -c 1 || fail "second connect rc=$?"
dev=$($T list | grep -o '/dev/ublkb[0-9]*' | head -n 1)
[ -n "$dev" ] || fail "auto did not choose ublk: $($T list)"
pid=$(grep -o '"pid": *[0-9]*' /var/lib/tightrope/ctrl/tr0.json | grep -o '[0-9]*$')
kill -9 "$pid"
i=0
while [ -d "/proc/$pid" ] && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null && [ $i -lt 150 ]; do
	sleep 0.1
	i=$((i + 1))
done
left=$(ublk_devs)
$T disconnect-all || fail "disconnect-all after kill -9 rc=$?"
[ -z "$(ublk_devs)" ] || fail "left after kill -9 and disconnect-all: $(ublk_devs)"
say "kill -9: $dev (auto) left ${left:-nothing}; disconnect-all deleted it"
