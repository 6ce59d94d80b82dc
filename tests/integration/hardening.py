#!/usr/bin/env python3
# Hardening: what a hostile or broken peer (or a careless operator) must not be able to do to the
# target. One section per class of the hardening issue, each against a target of its own.
# usage: hardening.py path/to/tightrope [section ...]
import os
import re
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nvmf_client as nv  # noqa: E402

SUBNQN = "nqn.2026-11.io.tightrope:hardening"
PORT = int(os.environ.get("HARDENING_PORT", "44203"))

passed, failed = 0, []


def check(name, ok, detail=""):
    global passed
    if ok:
        passed += 1
        print(f"PASS {name}")
    else:
        failed.append(name)
        print(f"FAIL {name} {detail}")


def open_fds(pid):
    """Where each of the process's descriptors points."""
    out = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            out.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:
            pass
    return out


def wait_for(pred, limit, step=0.02):
    """Seconds until pred() holds, or None after limit seconds."""
    start = time.monotonic()
    while time.monotonic() - start < limit:
        if pred():
            return time.monotonic() - start
        time.sleep(step)
    return None


class Section:
    """A target for one section; stopped (and checked for a clean exit) at the end."""

    def __init__(self, binary, work, name, args, env=None):
        self.name = name
        self.t = nv.Target(binary, ["-l", f"127.0.0.1:{PORT}"] + args, os.path.join(work, f"{name}.log"),
                           os.path.join(work, f"{name}.sock"), env=env)

    def __enter__(self):
        return self.t

    def __exit__(self, *exc):
        rc = self.t.stop()
        check(f"{self.name}: target exits 0 on SIGTERM", rc == 0, f"rc {rc}")
        log = self.t.log_text()
        check(f"{self.name}: no sanitizer report", "Sanitizer" not in log and "runtime error" not in log,
              log[-3000:])
        return False


# ---- 6. Removing a namespace releases its backend at once ----

def remove_ns(binary, work):
    backing = os.path.join(work, "removable.img")
    with open(backing, "wb") as f:
        f.truncate(16 << 20)
    with Section(binary, work, "remove-ns", ["-n", SUBNQN, "-N", "mem:16M", "-N", f"{backing},nsid=2", "-w", "2"]) as t:
        # Queues on both workers have used namespace 2, so each caches a reference to it.
        admin = nv.admin_connect(SUBNQN, port=PORT)
        ios = [nv.io_connect(admin, SUBNQN, qid=i, port=PORT) for i in (1, 2)]
        for io in ios:
            check("remove-ns: I/O to the file namespace before removal", io.write(2, 0, b"\x5a" * 4096).status == 0)
        check("remove-ns: the backing file is open", backing in open_fds(t.proc.pid))
        t.ctl("remove-ns", SUBNQN, "2")
        # No I/O follows: the queues must let go without being asked again.
        took = wait_for(lambda: backing not in open_fds(t.proc.pid), 2.0)
        check("remove-ns: the backing file is closed within 1 s, with the queues idle",
              took is not None and took < 1.0, f"took {took}")
        check("remove-ns: the log says the namespace closed", "namespace 2 (" + backing + ") closed" in t.log_text())
        # The file can be deleted and the space is really given back (no descriptor pins it).
        os.unlink(backing)
        check("remove-ns: I/O to the removed namespace gets Invalid Namespace",
              ios[0].read(2, 0, 8).status == 0x400B)
        check("remove-ns: the other namespace still works",
              ios[1].write(1, 0, b"\x33" * 4096).status == 0 and ios[1].read(1, 0, 8).data == b"\x33" * 4096)
        for q in ios + [admin]:
            q.close()


SECTIONS = {
    "remove-ns": remove_ns,
}


def main():
    binary = os.path.abspath(sys.argv[1])
    want = sys.argv[2:] or list(SECTIONS)
    work = tempfile.mkdtemp(prefix="tightrope-hardening.")
    for name in want:
        print(f"--- {name}")
        try:
            SECTIONS[name](binary, work)
        except Exception as e:  # noqa: BLE001 - a section that throws has failed, the others still run
            check(f"{name}: ran to the end", False, repr(e))
    print(f"{passed} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
