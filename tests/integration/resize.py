#!/usr/bin/env python3
# Live resize (issue 16): `ctl resize-ns` grows and shrinks a file namespace while a host is
# connected (the namespace notice, the changed list, Identify's new NSZE, I/O past the old end); a
# shrink past written data is refused unless forced; RAM, read-only, odd sizes and unknown NSIDs are
# refused with a reason; a file grown from outside is noticed by itself; and `tightrope connect`'s loop
# device follows, connected.
# usage: resize.py path/to/tightrope
import glob
import json
import os
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nvmf_client as nv  # noqa: E402
from checks import check, stopped_clean, summary, wait_for  # noqa: E402

SUBNQN = "nqn.2026-12.io.tightrope:resize"
# Below the ephemeral range (32768-60999): no client socket of this or another test can hold it.
PORT = int(os.environ.get("RESIZE_PORT", "24252"))
MiB = 1 << 20
NS_CHANGED = 0x040002  # notice, namespace attribute changed, log 04h


def ctl(t, *args):
    return subprocess.run([t.binary, "ctl", "-S", t.sock_path, *args], capture_output=True, text=True, timeout=30)


def nsze(admin, nsid):
    return struct.unpack_from("<Q", admin.identify(0, nsid=nsid).data, 0)[0]


def armed(admin):
    cid = admin.alloc_cid()
    admin.send_cmd(nv.sqe(0x0C, cid))
    return cid


def notice_for(admin, cid, nsid):
    c = admin.wait_completion(cid)
    changed = struct.unpack_from("<I", admin.get_log(0x04, 4096).data, 0)[0]
    return c.status == 0 and c.result == NS_CHANGED and changed == nsid, f"{c} changed {changed}"


def grow_and_shrink(t, admin, io, disk):
    cid = armed(admin)
    r = ctl(t, "resize-ns", SUBNQN, "1", "32M")
    check("resize-ns 16M -> 32M accepted", r.returncode == 0, r.stderr)
    ok, why = notice_for(admin, cid, 1)
    check("the host gets a namespace notice naming nsid 1", ok, why)
    check("Identify Namespace: NSZE 32 MiB", nsze(admin, 1) == 32 * MiB // 512)
    check("the backing file is 32 MiB", os.path.getsize(disk) == 32 * MiB)
    data = os.urandom(4096)
    w = io.write(1, 20 * MiB // 512, data)
    rd = io.read(1, 20 * MiB // 512, 8)
    check("I/O past the old end, connected: written and read back", w.status == 0 and rd.data == data)
    r = ctl(t, "resize-ns", SUBNQN, "1", "16M")
    check("shrinking past written data is refused, saying why",
          r.returncode != 0 and "data past the new end" in r.stderr, r.stderr)
    check("... and the size stays", nsze(admin, 1) == 32 * MiB // 512)
    cid = armed(admin)
    r = ctl(t, "resize-ns", "--force", SUBNQN, "1", "16M")
    check("with --force it shrinks", r.returncode == 0, r.stderr)
    ok, why = notice_for(admin, cid, 1)
    check("the host gets the notice of the shrink too", ok, why)
    check("Identify Namespace: NSZE 16 MiB again", nsze(admin, 1) == 16 * MiB // 512)
    check("I/O past the new end: LBA Out of Range", io.read(1, 20 * MiB // 512, 8).status == 0x4080)


def refusals(t):
    cases = [(["2", "64M"], "RAM namespace's size is fixed", "a RAM namespace"),
             (["3", "64M"], "read-only", "a read-only namespace"),
             (["1", "1000"], "whole number of blocks", "a size that is not whole blocks"),
             (["9", "64M"], "no namespace with that nsid", "an unknown NSID")]
    for args, why, what in cases:
        r = ctl(t, "resize-ns", SUBNQN, *args)
        check(f"resize-ns of {what}: refused, saying so", r.returncode == 1 and why in r.stderr, r.stderr)
    r = ctl(t, "resize-ns", SUBNQN, "1", "lots")
    check("resize-ns with a size that is not one: usage (rc 2)", r.returncode == 2, r.stderr)


def grown_from_outside(admin, disk):
    cid = armed(admin)
    start = time.monotonic()
    os.truncate(disk, 48 * MiB)
    ok, why = notice_for(admin, cid, 1)
    took = time.monotonic() - start
    check(f"a file grown from outside is noticed by itself ({took:.1f} s)", ok and took < 5, why)
    check("Identify Namespace: NSZE 48 MiB", nsze(admin, 1) == 48 * MiB // 512)


def connected_device_follows(t, work):
    """tightrope connect's loop device takes the new size while connected."""
    env = dict(os.environ, TIGHTROPE_STATE_DIR=os.path.join(work, "host-state"))
    r = subprocess.run([t.binary, "connect", "-t", "tcp", "-a", "127.0.0.1", "-s", str(PORT), "-n", SUBNQN],
                       capture_output=True, text=True, timeout=60, env=env)
    check("tightrope connect", r.returncode == 0, r.stderr)
    if r.returncode:
        return
    recs = [json.load(open(p)) for p in glob.glob(os.path.join(env["TIGHTROPE_STATE_DIR"], "ctrl", "*.json"))]
    nss = [n for rec in recs for n in rec.get("namespaces", []) if n.get("nsid") == 1]
    loop = nss[0].get("loop") if nss else None
    check("the namespace is attached as a loop device", bool(loop), f"{recs}")

    def size():
        out = subprocess.run(["blockdev", "--getsize64", loop], capture_output=True, text=True, timeout=10)
        return int(out.stdout) if out.returncode == 0 else -1

    if loop:
        r = ctl(t, "resize-ns", SUBNQN, "1", "64M")
        took = wait_for(lambda: size() == 64 * MiB, 30)
        check(f"resize to 64 MiB: {loop} follows, connected", r.returncode == 0 and took is not None,
              f"{size()} bytes; {r.stderr}")
    subprocess.run([t.binary, "disconnect", "-n", SUBNQN], capture_output=True, timeout=60, env=env)


def main():
    binary = os.path.abspath(sys.argv[1])
    work = tempfile.mkdtemp(prefix="tightrope-resize.")
    disk, ro, odd = (os.path.join(work, n) for n in ("disk.img", "ro.img", "odd.img"))
    for path in (disk, ro):
        with open(path, "wb") as f:
            f.truncate(16 * MiB)
    with open(odd, "wb") as f:
        f.truncate(16 * MiB + 100)  # not a whole number of blocks: its size is 16 MiB, and stays so
    t = nv.Target(binary, ["-l", f"127.0.0.1:{PORT}", "-n", SUBNQN, "-N", f"{disk},nsid=1", "-N", "mem:16M,nsid=2",
                           "-N", f"{ro},ro,nsid=3", "-N", f"{odd},nsid=4"], os.path.join(work, "target.log"), os.path.join(work, "ctl.sock"))
    try:
        admin = nv.admin_connect(SUBNQN, port=PORT)
        check("namespace notices enabled", admin.set_features(0x0B, 1 << 8).status == 0)
        io = nv.io_connect(admin, SUBNQN, port=PORT)
        grow_and_shrink(t, admin, io, disk)
        refusals(t)
        grown_from_outside(admin, disk)
        check("a file of an odd size that did not change is never announced",
              "namespace 4 is now" not in t.log_text())
        io.close(), admin.close()
        connected_device_follows(t, work)
    finally:
        log = stopped_clean(t)
    return summary(log)


if __name__ == "__main__":
    sys.exit(main())
