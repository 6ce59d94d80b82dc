# Runs inside the kernel-host VM (busybox sh) after the harness's own data test on $NVME_DEV, the RBD
# namespace: prints the checksum of what it wrote there for the test to compare with the image, writes a second
# pattern at 512 MiB and reads it back, Flush, Write Zeroes (read back as zeros), then waits for the
# test to grow the image and for the kernel to see the new size (namespace-change AEN).
set -u
fail() { echo "GUEST-FAIL: $*"; exit 1; }
dev=$NVME_DEV
blk=${dev#/dev/}

# What the harness's data test left on the device (it compared it with its pattern already).
echo "GUEST: pattern sha256 $(dd if="$dev" bs=1M count="$DATA_MB" iflag=direct 2>/dev/null | sha256sum | cut -d' ' -f1)"
[ "$(cat /sys/block/$blk/size)" = 2097152 ] || fail "size $(cat /sys/block/$blk/size) sectors, expected 1 GiB"
awk 'BEGIN { for (i = 0; i < 4*2048; i++) printf "%-511s\n", "rbd-kernel lba " i }' >/tmp/p2
dd if=/tmp/p2 of="$dev" bs=1M seek=512 count=4 oflag=direct conv=fsync 2>/dev/null || fail "dd write at 512 MiB"
echo 3 >/proc/sys/vm/drop_caches
dd if="$dev" of=/tmp/r2 bs=1M skip=512 count=4 iflag=direct 2>/dev/null || fail "dd read at 512 MiB"
cmp /tmp/p2 /tmp/r2 || fail "readback at 512 MiB differs"
nvme flush "$dev" -n 1 >/dev/null 2>&1 || nvme flush "/dev/$NVME_CTRL" -n 1 || fail "flush"
# Write Zeroes over 8 blocks in the middle of that pattern: they read back as zeros, the rest stays.
nvme write-zeroes "$dev" -n 1 -s $((512 * 2048 + 8)) -c 7 >/dev/null || fail "write-zeroes"
dd if="$dev" of=/tmp/r3 bs=512 skip=$((512 * 2048)) count=24 iflag=direct 2>/dev/null || fail "dd read zeros"
head -c 4096 /tmp/p2 >/tmp/w3
head -c 4096 /dev/zero >>/tmp/w3
head -c 12288 /tmp/p2 | tail -c 4096 >>/tmp/w3
cmp /tmp/w3 /tmp/r3 || fail "write-zeroes did not read back as zeros (or touched its neighbours)"
echo "GUEST: RBD data, flush and write-zeroes OK"

echo "GUEST: resize now"
i=0
while [ "$(cat /sys/block/$blk/size)" = 2097152 ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
[ "$(cat /sys/block/$blk/size)" = 3145728 ] || fail "size after the resize: $(cat /sys/block/$blk/size) sectors"
echo "GUEST: namespace grew to 1.5 GiB after $((i / 10)) s"
echo "GUEST-OK"
