#!/usr/bin/env python3
# The application in the link-loss test, and its checker. `write` writes numbered 4 KiB blocks
# with O_DSYNC round and round over the first 32 MiB, logging each as acknowledged (the write
# returned, with how long it took) or failed (it raised). `check` then proves nothing was lost
# silently: each block on the target holds its last acknowledged write, or a later one that failed.
# usage: link_loss_writer.py write DEVICE_FILE ACKED_LOG FAILED_LOG STOP_FILE
#        link_loss_writer.py check BACKING_FILE ACKED_LOG FAILED_LOG
import os
import struct
import sys
import time

BLOCKS = 8192
MAGIC = 0x6c696e6b6c6f7373  # "linkloss"


def write(dev, acked_path, failed_path, stop):
    fd = os.open(dev, os.O_WRONLY | os.O_DSYNC)
    with open(acked_path, "w") as acked, open(failed_path, "w") as failed:
        seq = 0
        while not os.path.exists(stop):
            block = struct.pack("<QQ", MAGIC, seq) + bytes([seq & 0xFF]) * (4096 - 16)
            start = time.monotonic()
            try:
                os.pwrite(fd, block, (seq % BLOCKS) * 4096)
                acked.write(f"{seq} {time.monotonic() - start:.3f}\n")
                acked.flush()
            except OSError as e:
                failed.write(f"{seq} {e.strerror}\n")
                failed.flush()
            seq += 1
    os.close(fd)


def check(image, acked_path, failed_path):
    last_acked, failed_after = {}, {}
    for line in open(acked_path):
        seq = int(line.split()[0])
        last_acked[seq % BLOCKS] = seq
    for line in open(failed_path):
        seq = int(line.split()[0])
        failed_after.setdefault(seq % BLOCKS, set()).add(seq)
    missing = 0
    with open(image, "rb") as img:
        for block, seq in last_acked.items():
            img.seek(block * 4096)
            got_magic, got_seq = struct.unpack("<QQ", img.read(16))
            # A failed write may or may not have reached the medium before the path broke.
            if got_magic != MAGIC or (got_seq != seq and got_seq not in failed_after.get(block, ())):
                missing += 1
    print(f"{missing} of {len(last_acked)} blocks lack their last acknowledged write")
    return 1 if missing else 0


if __name__ == "__main__":
    if sys.argv[1] == "write":
        write(*sys.argv[2:6])
    else:
        sys.exit(check(*sys.argv[2:5]))
