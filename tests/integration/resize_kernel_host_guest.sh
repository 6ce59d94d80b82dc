# Runs inside the kernel-host VM (busybox sh) after the harness's own data test on $NVME_DEV: the test
# grows the namespace twice while we stay connected (ctl resize-ns, then the file grown from outside);
# the kernel must take each new size without a reconnect: /sys and blockdev --getsize64 follow, on the
# same controller.
set -u
fail() { echo "GUEST-FAIL: $*"; exit 1; }
blk=$(basename "$NVME_DEV")
cntlid=$(cat "/sys/class/nvme/$NVME_CTRL/cntlid")
wait_bytes() { # BYTES: until the block device says so
  i=0
  until [ "$(blockdev --getsize64 "$NVME_DEV")" = "$1" ]; do
    i=$((i + 1)); [ $i -lt 300 ] || fail "the size never became $1 (still $(blockdev --getsize64 "$NVME_DEV"))"; sleep 0.2
  done
}
echo "GUEST: size before $(blockdev --getsize64 "$NVME_DEV") bytes"
echo "GUEST: ready for resize"
wait_bytes $((128 << 20))
echo "GUEST: ctl resize-ns seen: $(blockdev --getsize64 "$NVME_DEV") bytes, /sys says $(cat /sys/block/$blk/size) sectors"
dd if=/dev/zero of="$NVME_DEV" bs=1M seek=120 count=1 oflag=direct 2>/dev/null || fail "a write past the old end"
echo "GUEST: wrote past the old end"
wait_bytes $((192 << 20))
echo "GUEST: growth from outside seen: $(blockdev --getsize64 "$NVME_DEV") bytes"
[ "$(cat "/sys/class/nvme/$NVME_CTRL/cntlid")" = "$cntlid" ] || fail "the controller changed: a reconnect"
echo "GUEST: same controller $cntlid throughout"
echo "GUEST-OK"
