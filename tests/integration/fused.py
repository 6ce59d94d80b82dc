#!/usr/bin/env python3
# Compare and fused Compare-and-Write from raw hosts (issue 16): the Identify fields, Compare alone, the
# FUSE bits, every pair and every broken half of one (statuses and the data read back), in-capsule and
# R2T data in any mix (also with digests), split pairs across queues, a FIRST waiting for its SECOND, not
# aborted by Abort, or left pending when its queue closes, a pair under another host's reservation; two
# hosts racing compare-and-write as a counter on one range (no lost update, never torn) and a third
# host's plain writes and reads racing pairs (never a torn read), on a RAM and on a file namespace; a host
# that does not read its socket holding up nobody, and its unsent replies never torn by a pair.
# usage: fused.py path/to/tightrope
import os
import socket
import struct
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nvmf_client as nv  # noqa: E402
from checks import check, stopped_clean, summary  # noqa: E402

SUBNQN = "nqn.2026-12.io.tightrope:fused"
# Below the ephemeral range (32768-60999): no client socket of this or another test can hold it.
PORT = int(os.environ.get("FUSED_PORT", "24253"))
HOSTS = {name: (f"nqn.2026-12.io.tightrope:fused-{name}", bytes([0xA0 + i]) * 16) for i, name in enumerate("abcdrx")}
RAM, FILE, RO, RESV, FRESH = 1, 2, 3, 4, 5  # the namespaces, as main() starts the target
NSZE = {RAM: 64 << 11, FILE: 64 << 11, RO: 16 << 11, RESV: 16 << 11}  # in 512-byte blocks
COMPARE, WRITE, READ = 0x05, 0x01, 0x02
FIRST, SECOND = 1, 2
DNR = 0x4000
OK, INVALID_FIELD, FAILED_FUSED, MISSING_FUSED = 0, DNR | 0x002, DNR | 0x009, DNR | 0x00A
LBA_RANGE, CONFLICT, WRITE_PROTECTED, MISCOMPARE = DNR | 0x080, DNR | 0x083, DNR | 0x020, DNR | 0x285
RACE_SECONDS = float(os.environ.get("FUSED_RACE_SECONDS", "4"))


def pattern(value, nbytes):
    """A range's content: one 64-bit value repeated, so that a torn range shows as two values."""
    return struct.pack("<Q", value) * (nbytes // 8)


def uniform(data):
    """The value repeated over data, or None if it holds more than one (torn)."""
    if len(data) < 8 or data != data[:8] * (len(data) // 8):
        return None
    return struct.unpack_from("<Q", data)[0]


class Host:
    """One host (its own host NQN and Host Identifier): an admin queue and `queues` I/O queues."""

    def __init__(self, name, queues=1):
        nqn, hostid = HOSTS[name]
        self.admin = nv.admin_connect(SUBNQN, port=PORT, hostnqn=nqn, hostid=hostid)
        self.io = [nv.io_connect(self.admin, SUBNQN, qid=i + 1, port=PORT, hostnqn=nqn, hostid=hostid)
                   for i in range(queues)]

    def close(self):
        for q in self.io + [self.admin]:
            if q:
                q.close()


def rw(q, opcode, nsid, slba, nlb, data=b"", fuse=0, incapsule=None):
    """Start one Read/Write/Compare (data in the capsule when it fits the 8 KiB the other tests use)."""
    if incapsule is None:
        incapsule = opcode != READ and len(data) <= 8192
    return q.start(q.rw_sqe(opcode, nsid, slba, nlb, fuse=fuse, incapsule=incapsule), data)


def one(q, opcode, nsid, slba, nlb, data=b"", fuse=0, incapsule=None):
    cid = rw(q, opcode, nsid, slba, nlb, data, fuse, incapsule)
    return q.collect([cid])[cid]


def pair(q, nsid, slba, nlb, old, new, cmp_inc=None, wr_inc=None, ops=(COMPARE, WRITE), second=None):
    """A fused pair on one queue, both capsules sent back to back; (FIRST's, SECOND's) completions.
    second: (nsid, slba, nlb) of the SECOND when it must differ from the FIRST's."""
    c1 = rw(q, ops[0], nsid, slba, nlb, old, FIRST, cmp_inc)
    n2, s2, l2 = second or (nsid, slba, nlb)
    c2 = rw(q, ops[1], n2, s2, l2, new, SECOND, wr_inc)
    got = q.collect([c1, c2])
    return got[c1].status, got[c2].status


def read(q, nsid, slba, nlb):
    c = one(q, READ, nsid, slba, nlb)
    assert c.status == 0, f"read of nsid {nsid} LBA {slba}+{nlb}: {c}"
    return c.data


def put(q, nsid, slba, data):
    c = one(q, WRITE, nsid, slba, len(data) // 512, data)
    assert c.status == 0, f"write of nsid {nsid} LBA {slba}: {c}"


def st(a, b=None):
    return f"{a:#x}" if b is None else f"FIRST {a:#x} SECOND {b:#x}"


def identify(a):
    d = a.admin.identify(1).data
    oncs, fuses = struct.unpack_from("<HH", d, 520)
    acwu = struct.unpack_from("<H", d, 532)[0]  # bytes 533:532 (535:534 are OCFS)
    ioccsz = struct.unpack_from("<I", d, 1792)[0]
    check("Identify Controller: ONCS says Compare (bit 0)", oncs & 1, f"oncs {oncs:#x}")
    check("Identify Controller: FUSES says Compare and Write (bit 0)", fuses & 1, f"fuses {fuses:#x}")
    check("Identify Controller: ACWU 2047 (2048 blocks, 0's based)", acwu == 2047, f"acwu {acwu}")
    return ioccsz * 16 - 64  # in-capsule data the I/O queues take


def compare_alone(q):
    old = pattern(0x1111, 4096)
    put(q, RAM, 0, old)
    c = one(q, COMPARE, RAM, 0, 8, old)
    check("Compare of equal data: success", c.status == OK, st(c.status))
    c = one(q, COMPARE, RAM, 0, 8, old[:-1] + b"\x01")
    check("Compare differing in the last byte: Compare Failure with DNR (0x285)", c.status == MISCOMPARE,
          st(c.status))
    c = one(q, COMPARE, RAM, 0, 64, old + bytes(28671) + b"\x01", incapsule=False)
    check("Compare of 32 KiB by R2T, the end differing: Compare Failure", c.status == MISCOMPARE, st(c.status))
    c = one(q, COMPARE, RAM, NSZE[RAM] - 4, 8, bytes(4096))
    check("Compare past the end: LBA Out of Range", c.status == LBA_RANGE, st(c.status))
    check("Compare changed nothing", read(q, RAM, 0, 8) == old)


def fuse_bits(h):
    q = h.io[0]
    old = pattern(0x2222, 4096)
    put(q, RAM, 16, old)
    c = one(q, COMPARE, RAM, 16, 8, old, fuse=3)
    check("Compare with FUSE 11b (reserved): Invalid Field", c.status == INVALID_FIELD, st(c.status))
    c = one(q, WRITE, RAM, 16, 8, pattern(0x2223, 4096), fuse=3)
    check("Write with FUSE 11b: Invalid Field, and nothing written",
          c.status == INVALID_FIELD and read(q, RAM, 16, 8) == old, st(c.status))
    for fuse in (FIRST, SECOND):
        b = nv.sqe(0x06, h.admin.alloc_cid(), cdw10=1, sgl_len=4096)
        b[1] |= fuse
        c = h.admin.submit(b)
        check(f"Identify on the admin queue with FUSE {fuse:02b}b: Invalid Field", c.status == INVALID_FIELD,
              st(c.status))
    check("the admin queue still answers", h.admin.identify(1).status == OK)


def good_and_miscompare(q, inline):
    old, new = pattern(0x3300, 8192), pattern(0x3301, 8192)
    put(q, RAM, 64, old)
    s = pair(q, RAM, 64, 16, old, new)
    check("pair, compare matches: both succeed", s == (OK, OK), st(*s))
    check("... and the write landed", read(q, RAM, 64, 16) == new)
    s = pair(q, RAM, 64, 16, old, pattern(0x3302, 8192))
    check("pair, miscompare: Compare Failure and Aborted due to Failed Fused Command, both DNR",
          s == (MISCOMPARE, FAILED_FUSED), st(*s))
    check("... and the data are unchanged", read(q, RAM, 64, 16) == new)
    # Both halves in the capsule, both by R2T, and each mix; then a pair too big for the capsule.
    n = inline // 512
    for ci, wi in ((True, True), (False, False), (True, False), (False, True)):
        cur = read(q, RAM, 128, n)
        nxt = pattern(uniform(cur) + 1 if uniform(cur) is not None else 1, n * 512)
        how = f"Compare {'in-capsule' if ci else 'by R2T'}, Write {'in-capsule' if wi else 'by R2T'}"
        s = pair(q, RAM, 128, n, cur, nxt, cmp_inc=ci, wr_inc=wi)
        check(f"pair of {n * 512 // 1024} KiB, {how}: both succeed, written", s == (OK, OK)
              and read(q, RAM, 128, n) == nxt, st(*s))
        s = pair(q, RAM, 128, n, cur, pattern(7, n * 512), cmp_inc=ci, wr_inc=wi)
        check(f"... {how}, miscompare: 0x285 / 0x009, unchanged", s == (MISCOMPARE, FAILED_FUSED)
              and read(q, RAM, 128, n) == nxt, st(*s))
    big = 2048  # ACWU + 1 blocks: 1 MiB, the most a pair may cover
    old, new = pattern(0x3400, big * 512), pattern(0x3401, big * 512)
    put(q, RAM, 4096, old)
    s = pair(q, RAM, 4096, big, old, new)
    check("pair of 2048 blocks (ACWU) by R2T: both succeed, written", s == (OK, OK)
          and read(q, RAM, 4096, big) == new, st(*s))


def broken_pairs(h, ro_q):
    q = h.io[0]
    old, new = pattern(0x4400, 4096), pattern(0x4401, 4096)
    put(q, RAM, 256, old)
    c1 = rw(q, COMPARE, RAM, 256, 8, old, FIRST)
    c2 = rw(q, READ, RAM, 256, 8)
    got = q.collect([c1, c2])
    check("FIRST then a Read without FUSE: FIRST Aborted due to Missing Fused Command (DNR)",
          got[c1].status == MISSING_FUSED, st(got[c1].status))
    check("... the Read runs normally", got[c2].status == OK and got[c2].data == old, st(got[c2].status))
    c1 = rw(q, COMPARE, RAM, 256, 8, old, FIRST)
    c2 = rw(q, WRITE, RAM, 256, 8, new)
    got = q.collect([c1, c2])
    check("FIRST then a Write without FUSE: FIRST 0x00A, the Write runs and lands",
          got[c1].status == MISSING_FUSED and got[c2].status == OK and read(q, RAM, 256, 8) == new,
          st(got[c1].status, got[c2].status))
    c1 = rw(q, COMPARE, RAM, 256, 8, new, FIRST)
    prop = nv.sqe(0x7F, q.alloc_cid(), fctype=0x04)  # Property Get (CSTS) on an I/O queue: refused
    struct.pack_into("<BxxxI", prop, 40, 0, 0x1C)
    c2 = q.start(prop)
    c3 = rw(q, WRITE, RAM, 256, 8, old, SECOND)
    got = q.collect([c1, c2, c3])
    check("FIRST, a fabrics command, SECOND: not adjacent, so both halves Missing Fused Command, nothing written",
          (got[c1].status, got[c3].status) == (MISSING_FUSED, MISSING_FUSED) and read(q, RAM, 256, 8) == new,
          st(got[c1].status, got[c3].status))
    c = one(q, WRITE, RAM, 256, 8, old, fuse=SECOND)
    check("a SECOND with no FIRST before it: Missing Fused Command, nothing written",
          c.status == MISSING_FUSED and read(q, RAM, 256, 8) == new, st(c.status))
    s = pair(q, RAM, 256, 8, new, old, ops=(WRITE, WRITE))
    check("a FIRST that is a Write: Invalid Field; its SECOND: Failed Fused Command; nothing written",
          s == (INVALID_FIELD, FAILED_FUSED) and read(q, RAM, 256, 8) == new, st(*s))
    s = pair(q, RAM, 256, 8, new, old, ops=(READ, WRITE))
    check("a FIRST that is a Read: Invalid Field / Failed Fused Command, nothing written",
          s == (INVALID_FIELD, FAILED_FUSED) and read(q, RAM, 256, 8) == new, st(*s))
    s = pair(q, RAM, NSZE[RAM] - 4, 8, new, old)
    check("a pair past the namespace's end: FIRST LBA Out of Range, SECOND Failed Fused Command",
          s == (LBA_RANGE, FAILED_FUSED), st(*s))
    s = pair(q, 9, 256, 8, new, old)
    check("a pair on an inactive NSID: FIRST Invalid Namespace, SECOND Failed Fused Command",
          s == (DNR | 0x00B, FAILED_FUSED), st(*s))
    s = pair(q, RAM, 256, 8, new, new, ops=(COMPARE, COMPARE))
    check("a SECOND that is a Compare: Invalid Field; its FIRST: Missing Fused Command",
          s == (MISSING_FUSED, INVALID_FIELD), st(*s))
    s = pair(q, RAM, 256, 8, new, b"", ops=(COMPARE, READ))
    check("a SECOND that is a Read: Invalid Field / FIRST Missing Fused Command",
          s == (MISSING_FUSED, INVALID_FIELD) and read(q, RAM, 256, 8) == new, st(*s))
    for what, second in (("NSID", (FILE, 256, 8)), ("SLBA", (RAM, 264, 8)), ("NLB", (RAM, 256, 4))):
        data2 = old[:second[2] * 512]
        s = pair(q, RAM, 256, 8, new, data2, second=second)
        check(f"halves whose {what} differ: both Invalid Field, nothing written",
              s == (INVALID_FIELD, INVALID_FIELD) and read(q, RAM, 256, 8) == new
              and read(q, second[0], second[1], second[2]) != data2, st(*s))
    ro = read(ro_q, RO, 0, 8)
    s = pair(ro_q, RO, 0, 8, ro, pattern(0x4402, 4096))
    check("a pair on a read-only namespace: SECOND Namespace Write Protected, FIRST Failed Fused Command",
          s == (FAILED_FUSED, WRITE_PROTECTED) and read(ro_q, RO, 0, 8) == ro, st(*s))
    s = pair(q, RAM, 256, 8, new, old)
    check("after all that, a good pair on the same queue still works", s == (OK, OK)
          and read(q, RAM, 256, 8) == old, st(*s))


def split_across_queues(h):
    q1, q2 = h.io[0], h.io[1]
    old = pattern(0x5500, 4096)
    put(q1, RAM, 512, old)
    c1 = rw(q1, COMPARE, RAM, 512, 8, old, FIRST)
    c2 = rw(q2, WRITE, RAM, 512, 8, pattern(0x5501, 4096), SECOND)
    got = q2.collect([c2])
    check("split pair: FIRST on I/O queue 1, SECOND on queue 2: the SECOND gets Missing Fused Command at once",
          got[c2].status == MISSING_FUSED, st(got[c2].status))
    c3 = rw(q1, READ, RAM, 512, 8)
    got = q1.collect([c1, c3])
    check("... then a Read on queue 1: the FIRST gets Missing Fused Command", got[c1].status == MISSING_FUSED,
          st(got[c1].status))
    check("... and the Read succeeds with the data unchanged", got[c3].status == OK and got[c3].data == old,
          st(got[c3].status))


def late_second(q):
    """A FIRST has no timeout: its SECOND may come a second later, and the pair still runs."""
    old, new = pattern(0x6500, 4096), pattern(0x6501, 4096)
    put(q, RAM, 768, old)
    c1 = rw(q, COMPARE, RAM, 768, 8, old, FIRST)
    q.sock.settimeout(1.0)
    try:
        early = q.recv_pdu()
    except socket.timeout:
        early = None
    q.sock.settimeout(10)
    check("a FIRST alone on its queue: no answer within a second", early is None, f"{early}")
    c2 = rw(q, WRITE, RAM, 768, 8, new, SECOND)
    got = q.collect([c1, c2])
    check("... its SECOND a second later: both succeed, written", (got[c1].status, got[c2].status) == (OK, OK)
          and read(q, RAM, 768, 8) == new, st(got[c1].status, got[c2].status))


def abort_and_digests(h):
    """An Abort of a pending FIRST leaves it be (it says "not aborted"), and its pair still runs; pairs on
    a queue with header and data digests, their data in the capsule and by R2T."""
    q = h.io[1]
    old, new = pattern(0x6900, 4096), pattern(0x6901, 4096)
    put(q, RAM, 800, old)
    c1 = rw(q, COMPARE, RAM, 800, 8, old, FIRST)
    ab = h.admin.submit(nv.sqe(0x08, h.admin.alloc_cid(), cdw10=2 | c1 << 16))
    check("Abort of a pending FIRST: success, not aborted (result bit 0)", ab.status == OK and ab.result & 1,
          f"{ab}")
    c2 = rw(q, WRITE, RAM, 800, 8, new, SECOND)
    got = q.collect([c1, c2])
    check("... and its pair then runs", (got[c1].status, got[c2].status) == (OK, OK)
          and read(q, RAM, 800, 8) == new, st(got[c1].status, got[c2].status))
    nqn, hostid = HOSTS["a"]
    dq = nv.io_connect(h.admin, SUBNQN, qid=3, port=PORT, hostnqn=nqn, hostid=hostid, hdgst=True, ddgst=True)
    for inc, n, lba in ((True, 16, 832), (False, 16, 832), (False, 64, 896)):
        cur = read(dq, RAM, lba, n)
        nxt = pattern(uniform(cur) + 1, n * 512)
        s = pair(dq, RAM, lba, n, cur, nxt, cmp_inc=inc, wr_inc=inc)
        check(f"digests on: a {n // 2} KiB pair {'in the capsule' if inc else 'by R2T'}: both succeed, written",
              s == (OK, OK) and read(dq, RAM, lba, n) == nxt, st(*s))
    dq.close()


def lone_first(h, other):
    """A FIRST waits for its queue's next command; another host is not held up by it, and closing the
    queue with it pending leaves the target serving (the ASan build checks that nothing leaks)."""
    q = h.io[0]
    old = pattern(0x6600, 65536)
    put(q, RAM, 1024, old)
    rw(q, COMPARE, RAM, 1024, 8, old[:4096], FIRST)
    rw(q, COMPARE, RAM, 1024, 128, old, FIRST)  # ends the first (0x00A), then waits itself, by R2T
    o = other.io[0]
    o.sock.settimeout(5)
    try:
        c = one(o, WRITE, RAM, 1024, 8, pattern(0x6601, 4096))
        ok, why = c.status == OK, st(c.status)
    except (socket.timeout, nv.Closed) as e:
        ok, why = False, f"no answer: {e!r}"
    o.sock.settimeout(10)
    check("another host writes the range of a pending lone FIRST: served at once", ok, why)
    h.io[0].close()
    h.io[0] = None
    time.sleep(0.2)
    c = one(o, READ, RAM, 1024, 8)
    check("a queue closed with a FIRST pending: the target still serves the others", c.status == OK
          and c.data == pattern(0x6601, 4096), st(c.status))


def stuck_reader(a, x):
    """Host X pipelines 30 MiB of reads of the RAM namespace and does not read its socket, so their replies
    (sent from namespace memory) stay unsent. A pair of host A's on other blocks must not wait for them:
    only commands on overlapping blocks may hold a pair back."""
    for _ in range(30):
        rw(x.io[0], READ, RAM, 0, 2048)
    time.sleep(0.3)
    q = a.io[1]
    old = pattern(0x6700, 4096)
    put(q, RAM, 100000, old)
    c1 = rw(q, COMPARE, RAM, 100000, 8, old, FIRST)
    c2 = rw(q, WRITE, RAM, 100000, 8, pattern(0x6701, 4096), SECOND)
    q.sock.settimeout(3)
    try:
        got = q.collect([c1, c2])
        ok, why = (got[c1].status, got[c2].status) == (OK, OK), st(got[c1].status, got[c2].status)
    except socket.timeout:
        ok, why = False, "no answer within 3 s"
    check("a host that does not read its socket (30 MiB of RAM reads unsent) does not hold up another host's "
          "pair on other blocks", ok, why)
    x.close()
    q.sock.settimeout(10)
    if not ok:
        got = q.collect([c1, c2])
        check("... once that host's queue closes, the pair runs", (got[c1].status, got[c2].status) == (OK, OK),
              st(got[c1].status, got[c2].status))


def stale_reply(a, d):
    """A RAM namespace that has never seen a pair sends reads from its memory. Host D reads 30 MiB of it and
    does not read its socket, so most replies wait unsent; host A's 1 MiB pair over the same blocks must not
    tear any of them, however long it waits: each reply holds all old or all new data."""
    old, new = pattern(0x6800, 1 << 20), pattern(0x6801, 1 << 20)
    put(a.io[1], FRESH, 0, old)
    cids = [rw(d.io[0], READ, FRESH, 0, 2048) for _ in range(30)]
    time.sleep(0.3)
    result = []
    racer = threading.Thread(target=lambda: result.append(pair(a.io[1], FRESH, 0, 2048, old, new)))
    racer.start()  # the pair's data go by R2T: served by its own thread while D does not read
    time.sleep(1)
    got = d.io[0].collect(cids)
    racer.join()
    seen = [{old: "old", new: "new"}.get(got[c].data, "TORN") for c in cids]
    check("unsent read replies of 1 MiB overlapping a 1 MiB pair: none torn by it", "TORN" not in seen,
          f"{seen}", detail_on_pass=True)
    check("... and the pair succeeds", result == [(OK, OK)], f"{result}")
    d.close()


def under_reservation(a, r):
    q, rq = a.io[0], r.io[0]

    def resv(opcode, cdw10, data):
        return rq.submit(nv.sqe(opcode, rq.alloc_cid(), nsid=RESV, cdw10=cdw10, sgl_len=len(data),
                                sgl_type=nv.SGL_INCAPSULE), data).status

    old = pattern(0x7700, 4096)
    put(q, RESV, 8, old)
    check("host R registers and holds Write Exclusive on nsid 4",
          resv(0x0D, 0, struct.pack("<QQ", 0, 9)) == 0 and resv(0x11, 1 << 8, struct.pack("<QQ", 9, 0)) == 0)
    c = one(q, COMPARE, RESV, 8, 8, old)
    check("host A's plain Compare under R's Write Exclusive: served (a read)", c.status == OK, st(c.status))
    s = pair(q, RESV, 8, 8, old, pattern(0x7701, 4096))
    check("host A's pair under R's Write Exclusive: SECOND Reservation Conflict, FIRST Failed Fused Command",
          s == (FAILED_FUSED, CONFLICT), st(*s))
    check("... and the data are unchanged", read(q, RESV, 8, 8) == old)
    s = pair(rq, RESV, 8, 8, old, pattern(0x7702, 4096))
    check("the holder's own pair: both succeed", s == (OK, OK) and read(q, RESV, 8, 8) == pattern(0x7702, 4096),
          st(*s))


class Racer(threading.Thread):
    """Compare-and-write old -> old + step on each of ranges [(nsid, slba, nlb)] until the deadline, the
    ranges' pairs pipelined on one queue: a read of every range, then every pair at once. With shared (a
    list, one value per range) it reads nothing: it compares with the value last written as far as the
    racers and the writer know, and writes tag << 32 | n there after a success."""

    def __init__(self, q, ranges, deadline, step=1, shared=None, tag=0):
        super().__init__()
        self.q, self.ranges, self.deadline, self.step = q, ranges, deadline, step
        self.shared, self.tag = shared, tag
        self.wins = [0] * len(ranges)
        self.misses = 0
        self.error = None

    def run(self):
        try:
            while time.monotonic() < self.deadline:
                self.round()
        except Exception as e:  # reported by the main thread
            self.error = repr(e)

    def values(self):
        """(old, new) for each range."""
        if self.shared is not None:
            return [(v, self.tag << 32 | (sum(self.wins) + self.misses)) for v in self.shared]
        q = self.q
        cids = [rw(q, READ, n, s, l) for n, s, l in self.ranges]
        got = q.collect(cids)
        out = []
        for cid, (n, s, l) in zip(cids, self.ranges):
            c = got[cid]
            assert c.status == 0, f"read {c}"
            v = uniform(c.data)
            assert v is not None, f"torn read of nsid {n} LBA {s}+{l}: {c.data[:8].hex()} ... {c.data[-8:].hex()}"
            out.append((v, v + self.step))
        return out

    def round(self):
        q = self.q
        pairs = []
        for i, ((n, s, l), (old, new)) in enumerate(zip(self.ranges, self.values())):
            pairs.append((i, new, rw(q, COMPARE, n, s, l, pattern(old, l * 512), FIRST),
                          rw(q, WRITE, n, s, l, pattern(new, l * 512), SECOND)))
        got = q.collect([c for _, _, c1, c2 in pairs for c in (c1, c2)])
        for i, new, c1, c2 in pairs:
            s = (got[c1].status, got[c2].status)
            if s == (OK, OK):
                self.wins[i] += 1
                if self.shared is not None:
                    self.shared[i] = new
            elif s == (MISCOMPARE, FAILED_FUSED):
                self.misses += 1
            else:
                raise AssertionError(f"pair on {self.ranges[i]}: {st(*s)}")


def counter(a, b, nsid, name):
    """Two hosts (two controllers) use one 8 KiB range (in-capsule) and one 64 KiB range (R2T) as counters."""
    ranges = [(nsid, 2048, 16), (nsid, 3072, 128)]
    for n, s, l in ranges:
        put(a.io[0], n, s, pattern(0, l * 512))
    deadline = time.monotonic() + RACE_SECONDS / 2
    racers = [Racer(a.io[0], ranges, deadline), Racer(b.io[0], ranges, deadline)]
    for r in racers:
        r.start()
    for r in racers:
        r.join()
    errors = [r.error for r in racers if r.error]
    check(f"{name}: two hosts racing compare-and-write: every read whole, every pair 0/0 or 0x285/0x009",
          not errors, f"{errors}")
    misses = sum(r.misses for r in racers)
    check(f"{name}: the racers did collide (miscompares seen)", misses > 0,
          f"wins {[r.wins for r in racers]} misses {misses}", detail_on_pass=True)
    for i, (n, s, l) in enumerate(ranges):
        wins = sum(r.wins[i] for r in racers)
        v = uniform(read(a.io[0], n, s, l))
        check(f"{name}: the {l * 512 // 1024} KiB counter equals the successful pairs ({wins}), no lost update, "
              "every block the same", v == wins and wins > 0, f"stored {v}")


def torn(a, b, c, nsid, name):
    """Host C writes whole-range patterns and reads the range back, one command at a time, while A and B
    compare-and-write it: C's reads overlap only pairs, which must not tear them; nor may a pair and one
    of C's writes interleave (checked on the range at the end). A and B read nothing (they take the value
    to compare from what C and they wrote last): a plain read of theirs could overlap C's plain writes,
    which may tear it (no order between plain commands), and would race in memory as ThreadSanitizer sees.
    Connections go round-robin over the target's two workers, so A's queue and C's are served by
    different threads (main() makes them in that order): without the range lock 2 to 19 % of C's reads
    of the RAM namespace come back torn (a plain writer in A's place), on the file namespace none."""
    nlb, slba = 512, 8192  # 256 KiB
    shared = [1 << 40]
    put(c.io[0], nsid, slba, pattern(shared[0], nlb * 512))
    deadline = time.monotonic() + RACE_SECONDS / 2
    racers = [Racer(a.io[0], [(nsid, slba, nlb)], deadline, shared=shared, tag=1),
              Racer(b.io[0], [(nsid, slba, nlb)], deadline, shared=shared, tag=2)]
    for r in racers:
        r.start()
    writes, bad, k = 0, [], 1
    q = c.io[0]
    try:
        while time.monotonic() < deadline:
            k += 1
            put(q, nsid, slba, pattern(k << 40, nlb * 512))
            shared[0] = k << 40
            writes += 1
            for _ in range(3):
                d = read(q, nsid, slba, nlb)
                if uniform(d) is None:
                    vals = sorted({struct.unpack_from("<Q", d, i)[0] for i in range(0, len(d), 8)})
                    bad.append([hex(v) for v in vals[:4]])
    finally:
        for r in racers:
            r.join()
    errors = [r.error for r in racers if r.error]
    check(f"{name}: pairs racing plain 256 KiB writes: every pair 0/0 or 0x285/0x009", not errors, f"{errors}")
    wins = sum(r.wins[0] for r in racers)
    check(f"{name}: host C's reads of the range racing the pairs are never torn ({writes} writes, 3 reads after each,"
          f" {wins} pairs won)", not bad and writes > 0 and wins > 0, f"torn: {bad[:3]}")
    check(f"{name}: the range is whole at the end", uniform(read(q, nsid, slba, nlb)) is not None)


def main():
    binary = os.path.abspath(sys.argv[1])
    work = tempfile.mkdtemp(prefix="tightrope-fused.")
    disk = os.path.join(work, "disk.img")
    with open(disk, "wb") as f:
        f.truncate(64 << 20)
    env = dict(os.environ, TIGHTROPE_STATE_DIR=os.path.join(work, "state"))
    t = nv.Target(binary, ["-w", "2", "-l", f"127.0.0.1:{PORT}", "-n", SUBNQN, "-N", "mem:64M", "-N", disk,
                           "-N", "mem:16M,ro", "-N", "mem:16M", "-N", "mem:16M"],
                  os.path.join(work, "target.log"), os.path.join(work, "ctl.sock"), env=env)
    started = time.monotonic()
    try:
        # In this order: A's first I/O queue on worker 1, B's and C's on worker 0 (see torn()).
        a, b, c, r = Host("a", 2), Host("b"), Host("c"), Host("r")
        stale_reply(a, Host("d"))  # first: on a namespace that has seen no pair yet
        inline = identify(a)
        check("the I/O queues take 16 KiB in the capsule (IOCCSZ)", inline == 16384, f"{inline}")
        compare_alone(a.io[0])
        fuse_bits(a)
        good_and_miscompare(a.io[0], inline)
        broken_pairs(a, b.io[0])
        split_across_queues(a)
        late_second(a.io[1])
        abort_and_digests(a)
        under_reservation(a, r)
        counter(a, b, RAM, "RAM")
        counter(a, b, FILE, "file")
        torn(a, b, c, RAM, "RAM")
        torn(a, b, c, FILE, "file")
        lone_first(a, b)
        stuck_reader(a, Host("x"))
        for h in (a, b, c, r):
            h.close()
    finally:
        log = stopped_clean(t)
    print(f"took {time.monotonic() - started:.1f} s")
    return summary(log)


if __name__ == "__main__":
    sys.exit(main())
