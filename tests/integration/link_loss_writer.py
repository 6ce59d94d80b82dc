#!/usr/bin/env python3
# The application in the link-loss test: writes numbered 4 KiB blocks, one after another with
# O_DSYNC, and records each as acknowledged (the write returned) or failed (it raised).
# usage: link_loss_writer.py DEVICE_FILE ACKED_LOG FAILED_LOG STOP_FILE
import os
import struct
import sys

dev, acked_path, failed_path, stop = sys.argv[1:5]
MAGIC = 0x6c696e6b6c6f7373  # "linkloss"
fd = os.open(dev, os.O_WRONLY | os.O_DSYNC)
with open(acked_path, "w") as acked, open(failed_path, "w") as failed:
    seq = 0
    while not os.path.exists(stop) and seq < 8192:
        block = struct.pack("<QQ", MAGIC, seq) + bytes([seq & 0xFF]) * (4096 - 16)
        try:
            os.pwrite(fd, block, seq * 4096)
            acked.write(f"{seq}\n")
            acked.flush()
        except OSError as e:
            failed.write(f"{seq} {e}\n")
            failed.flush()
        seq += 1
os.close(fd)
