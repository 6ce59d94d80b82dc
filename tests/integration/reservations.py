#!/usr/bin/env python3
# Persistent reservations from raw hosts (issue 16): the Identify bits, blktests nvme/054's sequence
# with the kernel target's reports, two hosts (one holding Write Exclusive, the other's writes in
# conflict and its reads served), a host with two controllers as one registrant, Preempt and Abort
# with its notices (event, log page 80h, the mask feature), Clear, and every malformed command.
# usage: reservations.py path/to/tightrope
import os
import struct
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nvmf_client as nv  # noqa: E402
from checks import check, stopped_clean, summary  # noqa: E402

SUBNQN = "nqn.2026-12.io.tightrope:resv"
# Below the ephemeral range (32768-60999): no client socket of this or another test can hold it.
PORT = int(os.environ.get("RESERVATIONS_PORT", "24251"))
HOST_A, ID_A = "nqn.2026-12.io.tightrope:host-a", b"\xaa" * 16
HOST_B, ID_B = "nqn.2026-12.io.tightrope:host-b", b"\xbb" * 16
CONFLICT = 0x4083  # Reservation Conflict, DNR
WE, EA = 1, 2
LOG_RESV = 0x80


class Host:
    """One host: an admin queue and an I/O queue on one controller."""

    def __init__(self, hostnqn, hostid):
        self.admin = nv.admin_connect(SUBNQN, port=PORT, hostnqn=hostnqn, hostid=hostid)
        self.io = nv.io_connect(self.admin, SUBNQN, port=PORT, hostnqn=hostnqn, hostid=hostid)

    def resv(self, opcode, cdw10, data):
        q = self.io
        return q.submit(nv.sqe(opcode, q.alloc_cid(), nsid=1, cdw10=cdw10, sgl_len=len(data),
                               sgl_type=nv.SGL_INCAPSULE), data)

    def register(self, action, crkey=0, nrkey=0, flags=0):
        return self.resv(0x0D, action | flags, struct.pack("<QQ", crkey, nrkey)).status

    def acquire(self, action, rtype, crkey, prkey=0):
        return self.resv(0x11, action | rtype << 8, struct.pack("<QQ", crkey, prkey)).status

    def release(self, action, rtype, crkey):
        return self.resv(0x15, action | rtype << 8, struct.pack("<Q", crkey)).status

    def report(self, eds=True, length=4096):
        q = self.io
        c = q.submit(nv.sqe(0x0E, q.alloc_cid(), nsid=1, cdw10=length // 4 - 1, cdw11=1 if eds else 0,
                            sgl_len=length))
        if c.status:
            return c.status, None
        gen, rtype, regctl = struct.unpack_from("<IBH", c.data, 0)
        regs = []
        for i in range(regctl):
            cntlid, rcsts, rkey = struct.unpack_from("<HB5xQ", c.data, 64 + 64 * i)
            regs.append((cntlid, rcsts, rkey, c.data[64 + 64 * i + 16:64 + 64 * i + 32]))
        return 0, (gen, rtype, regctl, regs, c.data[9])

    def write(self):
        return self.io.write(1, 8, b"\x5a" * 512).status

    def read(self):
        return self.io.read(1, 8, 1).status

    def close(self):
        self.io.close()
        self.admin.close()


def identify(h):
    c = h.admin.identify(1)
    oncs = struct.unpack_from("<H", c.data, 520)[0]
    check("Identify Controller: ONCS says reservations (bit 5)", oncs & 0x20, f"oncs {oncs:#x}")
    c = h.admin.identify(0, nsid=1)
    check("Identify Namespace: RESCAP has every type, IEKEY and PTPL (FFh)", c.data[31] == 0xFF,
          f"rescap {c.data[31]:#x}")


def blktests_054(h):
    """nvme/054's commands, and the kernel target's reports after each (tests/nvme/054.out)."""
    want = []

    def rep():
        _, r = h.report()
        want.append((r[0], r[1], r[2], [(x[0], x[1], x[2]) for x in r[3]]))

    rep()
    h.register(0, nrkey=4)
    rep()
    h.register(2, crkey=4, nrkey=5)
    rep()
    h.register(1, crkey=5)
    rep()
    h.register(0, nrkey=4)
    h.acquire(0, WE, crkey=4)
    rep()
    h.acquire(1, EA, crkey=4, prkey=4)
    rep()
    h.release(0, EA, crkey=4)
    rep()
    h.acquire(0, WE, crkey=4)
    rep()
    kernel = [(0, 0, 0, []), (1, 0, 1, [(0xFFFF, 0, 4)]), (2, 0, 1, [(0xFFFF, 0, 5)]), (3, 0, 0, []),
              (4, 1, 1, [(0xFFFF, 1, 4)]), (5, 2, 1, [(0xFFFF, 1, 4)]), (5, 0, 1, [(0xFFFF, 0, 4)]),
              (5, 1, 1, [(0xFFFF, 1, 4)])]
    check("blktests nvme/054: every report as the kernel target gives it", want == kernel, f"{want}")
    check("nvme/054: Clear", h.release(1, 0, crkey=4) == 0 and h.report()[1][2] == 0)


def aer(h):
    cid = h.admin.alloc_cid()
    h.admin.send_cmd(nv.sqe(0x0C, cid))
    return cid


def two_hosts(a, a2, b):
    check("A registers key 1", a.register(0, nrkey=1) == 0)
    check("A acquires Write Exclusive", a.acquire(0, WE, crkey=1) == 0)
    check("B, not registered: reads are served under Write Exclusive", b.read() == 0)
    check("B, not registered: writes get Reservation Conflict", b.write() == CONFLICT, f"{b.write():#x}")
    check("B registers key 2", b.register(0, nrkey=2) == 0)
    check("B, registered: its writes still conflict (Write Exclusive is the holder's)", b.write() == CONFLICT)
    check("B cannot acquire what A holds", b.acquire(0, WE, crkey=2) == CONFLICT)
    check("A writes", a.write() == 0)
    check("A's second controller (same Host Identifier) writes as the holder", a2.write() == 0)
    check("A's second controller is the same registrant: registering it with another key conflicts",
          a2.register(0, nrkey=7) == CONFLICT)
    _, r = b.report()
    check("Report: two registrants, A holding, keys and Host Identifiers",
          r[2] == 2 and r[3][0][1:] == (1, 1, ID_A) and r[3][1][1:] == (0, 2, ID_B), f"{r}")
    check("Report without the extended structure: Host Identifier Inconsistent Format",
          b.report(eds=False)[0] == 0x4018)


def preempt_abort(a, a2, b):
    aer_a, aer_a2 = aer(a), aer(a2)
    check("B preempts A (A's key) with abort", b.acquire(2, WE, crkey=2, prkey=1) == 0)
    check("A's writes now conflict", a.write() == CONFLICT and a2.write() == CONFLICT)
    check("A's reads are still served (Write Exclusive)", a.read() == 0)
    check("B writes as the new holder", b.write() == 0)
    for name, h, cid in (("A", a, aer_a), ("A's second controller", a2, aer_a2)):
        c = h.admin.wait_completion(cid)
        check(f"{name}: Reservation Log Page Available event (type 6, log 80h)",
              c.status == 0 and c.result == 0x800006, f"{c}")
        log = h.admin.get_log(LOG_RESV, 64).data
        count, typ, avail, nsid = struct.unpack_from("<QBBxxI", log, 0)
        check(f"{name}: log 80h says registration preempted on nsid 1", (typ, nsid, avail) == (1, 1, 0) and count >= 1,
              f"{(count, typ, avail, nsid)}")
        log = h.admin.get_log(LOG_RESV, 64).data
        check(f"{name}: read again, the log is empty", struct.unpack_from("<QB", log, 0) == (0, 0))
    _, r = b.report()
    check("Report: A is gone, B holds Write Exclusive", r[1] == WE and r[2] == 1 and r[3][0][3] == ID_B, f"{r}")


def mask_and_features(a, b):
    g = a.admin.get_features(0x82)
    check("Get Features 82h needs a namespace", g.status == 0x400B, f"{g.status:#x}")
    s = a.admin.submit(nv.sqe(0x09, a.admin.alloc_cid(), nsid=1, cdw10=0x82, cdw11=1 << 3))
    check("Set Features 82h: mask reservation-preempted notices on nsid 1", s.status == 0)
    g = a.admin.submit(nv.sqe(0x0A, a.admin.alloc_cid(), nsid=1, cdw10=0x82))
    check("Get Features 82h reads the mask back", g.status == 0 and g.result == 1 << 3, f"{g}")
    bad = a.admin.submit(nv.sqe(0x09, a.admin.alloc_cid(), nsid=1, cdw10=0x82, cdw11=1 << 5))
    check("Set Features 82h with a reserved bit: Invalid Field", bad.status == 0x4002)
    p = a.admin.submit(nv.sqe(0x0A, a.admin.alloc_cid(), nsid=1, cdw10=0x83))
    check("Get Features 83h: PTPL off", p.status == 0 and p.result == 0)
    p = a.admin.submit(nv.sqe(0x09, a.admin.alloc_cid(), nsid=1, cdw10=0x83, cdw11=2))
    check("Set Features 83h with a reserved bit: Invalid Field", p.status == 0x4002)
    p = a.admin.submit(nv.sqe(0x09, a.admin.alloc_cid(), nsid=1, cdw10=0x83, cdw11=1))
    g = a.admin.submit(nv.sqe(0x0A, a.admin.alloc_cid(), nsid=1, cdw10=0x83))
    check("Set Features 83h PTPL on, and Get reads it back", p.status == 0 and g.result == 1, f"{p} {g}")
    a.admin.submit(nv.sqe(0x09, a.admin.alloc_cid(), nsid=1, cdw10=0x83, cdw11=0))
    # A registers again; B clears: A would hear "reservation preempted", but the mask says no.
    aer_a = aer(a)
    a.register(0, nrkey=1)
    check("B clears every registration", b.release(1, 0, crkey=2) == 0)
    _, r = a.report()
    check("Report after Clear: nobody registered, no reservation", r[1] == 0 and r[2] == 0, f"{r}")
    check("A writes again", a.write() == 0)
    log = a.admin.get_log(LOG_RESV, 64).data
    check("the masked notice was not logged", struct.unpack_from("<QB", log, 0)[1] == 0)
    a.admin.submit(nv.sqe(0x09, a.admin.alloc_cid(), nsid=1, cdw10=0x82, cdw11=0))
    b.register(0, nrkey=2)
    a.register(0, nrkey=1)
    b.release(1, 0, crkey=2)
    c = a.admin.wait_completion(aer_a)
    check("unmasked, the next Clear's notice comes", c.status == 0 and c.result == 0x800006, f"{c}")
    log = a.admin.get_log(LOG_RESV, 64).data
    check("log 80h: reservation preempted (type 3)", struct.unpack_from("<QB", log, 0)[1] == 3)


def held_write_fenced(a, b):
    """A write of A's waits for its data (R2T) when B preempts with abort: once its data comes it fails,
    and nothing of it lands. On nsid 2, fresh."""
    def on(h, opcode, cdw10, data):
        q = h.io
        return q.submit(nv.sqe(opcode, q.alloc_cid(), nsid=2, cdw10=cdw10, sgl_len=len(data),
                               sgl_type=nv.SGL_INCAPSULE), data).status

    check("nsid 2: A registers and holds Write Exclusive, B registers",
          on(a, 0x0D, 0, struct.pack("<QQ", 0, 1)) == 0 and on(a, 0x11, WE << 8, struct.pack("<QQ", 1, 0)) == 0
          and on(b, 0x0D, 0, struct.pack("<QQ", 0, 2)) == 0)
    q, data = a.io, b"\xc3" * 16384
    cid = q.alloc_cid()
    q.send_cmd(nv.sqe(0x01, cid, nsid=2, cdw10=64, cdw12=31, sgl_len=len(data), sgl_type=nv.SGL_TRANSPORT))
    ptype, _, hdr, _ = q.recv_pdu()
    check("A's 16 KiB write: the target asks for its data (R2T)", ptype == nv.R2T, f"PDU type {ptype}")
    if ptype != nv.R2T:
        return
    cccid, ttag, r2to, r2tl = struct.unpack_from("<HHII", hdr, 8)
    check("B preempts A with abort while A's write waits for its data",
          on(b, 0x11, 2 | WE << 8, struct.pack("<QQ", 2, 1)) == 0)
    q.send_h2c(cccid, ttag, r2to, data[r2to:r2to + r2tl])
    c = q.wait_completion(cid, write_data=data)
    check("A's write, its data sent after the preemption: Reservation Conflict", c.status == CONFLICT,
          f"{c.status:#x}")
    r = b.io.read(2, 64, 32)
    check("nothing of A's write landed", r.status == 0 and r.data == bytes(16384), f"{r.data[:8]!r}")


def malformed(a):
    q = a.io
    c = q.submit(nv.sqe(0x0D, q.alloc_cid(), nsid=1, cdw10=0, sgl_len=4, sgl_type=nv.SGL_INCAPSULE), b"\0" * 4)
    check("Register with 4 bytes of data: Data SGL Length Invalid", c.status == 0x400F, f"{c.status:#x}")
    c = q.submit(nv.sqe(0x0E, q.alloc_cid(), nsid=1, cdw10=0xFFFFFFFF, cdw11=1, sgl_len=4096))
    check("Report of 16 GiB: Invalid Field", c.status == 0x4002, f"{c.status:#x}")
    c = q.submit(nv.sqe(0x0E, q.alloc_cid(), nsid=1, cdw10=1023, cdw11=1, sgl_len=64))
    check("Report longer than the host's buffer: Data SGL Length Invalid", c.status == 0x400F, f"{c.status:#x}")
    c = q.submit(nv.sqe(0x0E, q.alloc_cid(), nsid=1, cdw10=3, cdw11=1, sgl_len=16))
    check("Report shorter than its 64-byte header: Invalid Field", c.status == 0x4002, f"{c.status:#x}")
    c = q.submit(nv.sqe(0x0D, q.alloc_cid(), nsid=9, cdw10=0, sgl_len=16, sgl_type=nv.SGL_INCAPSULE), b"\0" * 16)
    check("Register on an inactive namespace: Invalid Namespace", c.status == 0x400B, f"{c.status:#x}")
    check("Register with a reserved action: Invalid Field", a.register(5) == 0x4002)
    check("Acquire with IEKEY: Invalid Field", a.resv(0x11, 1 << 3 | WE << 8, b"\0" * 16).status == 0x4002)
    check("Acquire of type 7: Invalid Field", a.acquire(0, 7, crkey=0) == 0x4002)


def start(binary, work, name, args):
    env = dict(os.environ, TIGHTROPE_STATE_DIR=os.path.join(work, "state"))
    return nv.Target(binary, ["-l", f"127.0.0.1:{PORT}", "-n", SUBNQN] + args, os.path.join(work, f"{name}.log"),
                     os.path.join(work, "ctl.sock"), env=env)


def ptpl_restart(binary, work):
    """With PTPL on, registrations and the reservation outlive the target; off, they do not; a state file
    that is not ours is refused without harm."""
    disk = os.path.join(work, "disk.img")
    with open(disk, "wb") as f:
        f.truncate(16 << 20)
    store = os.path.join(work, "state", "reservations")
    t = start(binary, work, "ptpl1", ["-N", disk])
    try:
        a, b = Host(HOST_A, ID_A), Host(HOST_B, ID_B)
        check("PTPL: A registers with CPTPL 11b and acquires Write Exclusive, B registers",
              a.register(0, nrkey=0x1122334455667788, flags=3 << 30) == 0
              and a.acquire(0, WE, crkey=0x1122334455667788) == 0 and b.register(0, nrkey=2) == 0)
        _, before = a.report()
        files = os.listdir(store) if os.path.isdir(store) else []
        check("PTPL: one state file, no temporary left", len(files) == 1 and files[0].endswith(".json"), f"{files}")
        a.close(), b.close()
    finally:
        stopped_clean(t, "PTPL target before the restart")
    t = start(binary, work, "ptpl2", ["-N", disk])
    try:
        a, b = Host(HOST_A, ID_A), Host(HOST_B, ID_B)
        _, after = a.report()
        check("PTPL: after a restart, the same report (generation, type, registrants, keys, PTPLS)",
              after == before and after[4] == 1, f"{before} / {after}")
        check("PTPL: after a restart, B's writes still conflict and A's are served",
              b.write() == CONFLICT and a.write() == 0)
        check("PTPL: A turns it off (Register again, same key, CPTPL 10b)",
              a.register(0, nrkey=0x1122334455667788, flags=2 << 30) == 0 and os.listdir(store) == [])
        a.close(), b.close()
    finally:
        stopped_clean(t, "PTPL target after the restart")
    t = start(binary, work, "ptpl3", ["-N", disk])
    try:
        a = Host(HOST_A, ID_A)
        _, r = a.report()
        check("PTPL off: a restart starts clean", r[2] == 0 and r[1] == 0, f"{r}")
        a.register(0, nrkey=1, flags=3 << 30)
        path = os.path.join(store, os.listdir(store)[0])
        a.close()
    finally:
        stopped_clean(t, "PTPL target, third start")
    with open(path, "w") as f:
        f.write('{"registrants": [{"hostid": "not-a-uuid", "rkey": "1"}], "rtype": 9}')
    t = start(binary, work, "ptpl4", ["-N", disk])
    try:
        a = Host(HOST_A, ID_A)
        _, r = a.report()
        check("a state file that is not ours: the namespace starts without reservations", r[2] == 0, f"{r}")
        check("... and the log says why", "is not a reservation state this target wrote" in t.log_text())
        a.close()
    finally:
        stopped_clean(t, "PTPL target with a bad state file")


def main():
    binary = os.path.abspath(sys.argv[1])
    work = tempfile.mkdtemp(prefix="tightrope-resv.")
    t = start(binary, work, "target", ["-N", "mem:16M", "-N", "mem:16M"])
    try:
        a = Host(HOST_A, ID_A)
        identify(a)
        blktests_054(a)
        a2, b = Host(HOST_A, ID_A), Host(HOST_B, ID_B)
        two_hosts(a, a2, b)
        preempt_abort(a, a2, b)
        mask_and_features(a, b)
        held_write_fenced(a, b)
        malformed(a)
        for h in (a, a2, b):
            h.close()
    finally:
        log = stopped_clean(t)
    ptpl_restart(binary, work)
    return summary(log)


if __name__ == "__main__":
    sys.exit(main())
