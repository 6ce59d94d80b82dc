#!/usr/bin/env python3
# Bad input from raw clients: each malformed PDU or bad command must get the C2HTermReq or NVMe
# status the spec names, one warning naming the peer, and no harm to a well-behaved connection.
# usage: bad_input.py path/to/tightrope
import os
import struct
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nvmf_client as nv  # noqa: E402
from checks import check, stopped_clean, summary  # noqa: E402

SUBNQN = "nqn.2026-11.io.tightrope:badinput"
LOCKED = "nqn.2026-11.io.tightrope:locked"
ALLOWED_HOST = "nqn.2026-11.io.tightrope:allowed-host"
# Below the ephemeral range (32768-60999): no client socket of this or another test can hold it.
PORT = int(os.environ.get("BAD_INPUT_PORT", "24201"))

# Fatal error status values (NVMe/TCP transport spec, C2HTermReq)
FES_INVALID_HDR, FES_SEQUENCE, FES_HDGST, FES_OUT_OF_RANGE, FES_LIMIT, FES_UNSUPPORTED = 1, 2, 3, 4, 5, 6
# NVMe status (DNR | SCT << 8 | SC), as the completion queue entry carries it without the phase bit
SC_INVALID_OPCODE, SC_INVALID_FIELD, SC_LBA_RANGE, SC_INVALID_NS = 0x4001, 0x4002, 0x4080, 0x400B
SC_WRITE_PROTECTED, SC_TRANSIENT_TR = 0x4020, 0x0022
SC_CONNECT_INVALID_PARAM, SC_CONNECT_INVALID_HOST = 0x4182, 0x4184



class Bystander:
    """A well-behaved host on its own controller, doing verified I/O between the bad cases."""

    def __init__(self):
        self.admin = nv.admin_connect(SUBNQN, port=PORT, hostnqn=nv.DEFAULT_HOSTNQN, hdgst=True, ddgst=True)
        self.io = nv.io_connect(self.admin, SUBNQN, port=PORT, hdgst=True, ddgst=True)
        self.round = 0

    def still_works(self):
        self.round += 1
        small = bytes([self.round & 0xFF]) * 4096
        big = os.urandom(64 * 1024)  # big enough for R2T + H2CData
        try:
            ok = self.io.write(1, 8, small).status == 0 and self.io.read(1, 8, 8).data == small
            ok = ok and self.io.write(1, 1024, big).status == 0 and self.io.read(1, 1024, 128).data == big
            ok = ok and self.admin.keep_alive().status == 0
            return ok
        except Exception as e:  # noqa: BLE001 - any failure of the bystander is the finding
            print(f"  bystander: {e!r}")
            return False


def warnings_naming(target, peer):
    return [line for line in target.log_text().splitlines()
            if peer in line and (" warn: " in line or " error: " in line)]


def expect_term(target, bystander, name, fes, fei, send, q=None, hdgst=False, ddgst=False, icreq=True):
    """Open a connection, run send(q), and expect a C2HTermReq with (fes, fei) and a close."""
    q = q or nv.Queue(port=PORT, hdgst=hdgst, ddgst=ddgst, do_icreq=icreq)
    try:
        send(q)
        while True:
            q.recv_pdu()
    except nv.TermReq as t:
        ok = (t.fes, t.fei) == (fes, fei)
        check(f"{name}: C2HTermReq fes {fes} fei {fei}", ok, f"got fes {t.fes} fei {t.fei}")
        check(f"{name}: connection closed after the TermReq", q.closed_by_peer())
    except (nv.Closed, ConnectionResetError, OSError) as e:
        check(f"{name}: C2HTermReq fes {fes} fei {fei}", False, f"closed without TermReq: {e!r}")
    finally:
        q.close()
    time.sleep(0.1)
    lines = warnings_naming(target, q.local)
    check(f"{name}: one warning naming the peer", len(lines) == 1, f"{lines}")
    check(f"{name}: another connection unharmed", bystander.still_works())


def expect_status(target, bystander, name, status, c, q, result=None):
    ok = c.status == status and (result is None or c.result & 0xFFFFFFFF == result)
    detail = f"got status {c.status:#x} result {c.result:#x}"
    check(f"{name}: status {status:#x}" + (f" result {result:#x}" if result is not None else ""), ok, detail)
    lines = warnings_naming(target, q.local)
    check(f"{name}: one warning naming the peer", len(lines) == 1, f"{lines}")
    check(f"{name}: another connection unharmed", bystander.still_works())


opened = []


def fresh_io_queue(**kw):
    """A new controller with one I/O queue; closed at the end of the run."""
    admin = nv.admin_connect(SUBNQN, port=PORT, **kw)
    q = nv.io_connect(admin, SUBNQN, port=PORT, **kw)
    opened.extend((admin, q))
    return admin, q


def main():
    binary = os.path.abspath(sys.argv[1])
    work = tempfile.mkdtemp(prefix="tightrope-bad-input.")
    backing = os.path.join(work, "ns2.img")
    ro_backing = os.path.join(work, "ns3.img")
    pattern = os.urandom(1 << 20)
    with open(backing, "wb") as f:
        f.write(pattern * 8)  # 8 MiB
    with open(ro_backing, "wb") as f:
        f.write(pattern)
    args = ["-l", f"127.0.0.1:{PORT}", "-w", "2",
            "-n", SUBNQN, "-N", "mem:64M", "-N", f"{backing},nsid=2", "-N", f"{ro_backing},ro,nsid=3",
            "-n", LOCKED, "-N", "mem:16M", "-H", ALLOWED_HOST]
    target = nv.Target(binary, args, os.path.join(work, "target.log"), os.path.join(work, "ctl.sock"))
    try:
        run_cases(target, backing, pattern)
    finally:
        log = stopped_clean(target)
    return summary(log, tail=40)


def run_cases(t, backing, pattern):
    by = Bystander()
    check("bystander works before the bad input", by.still_works())
    nsze = 64 * 1024 * 1024 // 512

    # ---- malformed PDUs: C2HTermReq with the fatal status and the offending field's offset ----
    ident = nv.sqe(0x06, 1, cdw10=1, sgl_len=4096)
    expect_term(t, by, "capsule before ICReq", FES_SEQUENCE, 0,
                lambda q: q.send(q.pdu(nv.CAPSULE_CMD, ident)), icreq=False)
    expect_term(t, by, "ICReq with PFV 1", FES_UNSUPPORTED, 8, lambda q: q.icreq(pfv=1), icreq=False)
    expect_term(t, by, "ICReq with HPDA 32", FES_INVALID_HDR, 10, lambda q: q.icreq(hpda=32), icreq=False)
    expect_term(t, by, "second ICReq", FES_SEQUENCE, 0, lambda q: q.icreq())
    expect_term(t, by, "capsule with hlen 70", FES_INVALID_HDR, 2,
                lambda q: q.send(q.pdu(nv.CAPSULE_CMD, ident, hlen=70)))
    named = [ln for ln in t.log_text().splitlines() if "malformed PDU header: bad hlen" in ln]
    check("the TermReq's log line names the field (hlen), not only its offset", len(named) == 1, f"{named}")
    expect_term(t, by, "plen shorter than the header", FES_INVALID_HDR, 4,
                lambda q: q.send(q.pdu(nv.CAPSULE_CMD, ident, plen=16)[:16]))
    expect_term(t, by, "unknown PDU type 0x0b", FES_INVALID_HDR, 0,
                lambda q: q.send(q.pdu(0x0B, bytes(16), hlen=24)))
    q = nv.Queue(port=PORT)
    q.send(q.pdu(nv.H2C_TERM, struct.pack("<HI", 1, 0) + bytes(10), plen=16)[:16])
    try:
        q.recv_pdu()
        check("malformed H2CTermReq: closed without a reply", False, "got a PDU back")
    except nv.TermReq:
        check("malformed H2CTermReq: closed without a reply", False, "got a C2HTermReq back")
    except (nv.Closed, OSError):
        check("malformed H2CTermReq: closed without a reply", True)
    q.close()
    time.sleep(0.1)
    check("malformed H2CTermReq: one warning naming the peer", len(warnings_naming(t, q.local)) == 1)
    expect_term(t, by, "C2HData sent by a host", FES_INVALID_HDR, 0,
                lambda q: q.send(q.pdu(nv.C2H_DATA, bytes(16))))
    write_cmd = nv.sqe(0x01, 1, nsid=1, cdw12=7, sgl_len=4096, sgl_type=nv.SGL_INCAPSULE)
    expect_term(t, by, "pdo not where the data starts", FES_INVALID_HDR, 3,
                lambda q: q.send(q.pdu(nv.CAPSULE_CMD, write_cmd, bytes(4096), pdo=250)))
    short_write = nv.sqe(0x01, 1, nsid=1, cdw12=0, sgl_len=8, sgl_type=nv.SGL_INCAPSULE)
    expect_term(t, by, "pdo beyond plen", FES_INVALID_HDR, 3,
                lambda q: q.send(q.pdu(nv.CAPSULE_CMD, short_write, bytes(8), pdo=200)))
    expect_term(t, by, "pdo inside the header", FES_INVALID_HDR, 3,
                lambda q: q.send(q.pdu(nv.CAPSULE_CMD, write_cmd, bytes(4096), pdo=16)))
    expect_term(t, by, "header digest flag not negotiated", FES_INVALID_HDR, 1,
                lambda q: q.send(q.pdu(nv.CAPSULE_CMD, ident, hdgst=True)))
    expect_term(t, by, "wrong header digest", FES_HDGST, 0,
                lambda q: q.send(q.pdu(nv.CAPSULE_CMD, ident, bad_hdgst=True)), hdgst=True)

    # A fabrics command with a zero-length in-capsule SGL: its parsing waited for data that never
    # comes, and it then ran with no handler (found by fuzz_target_queue; a NULL call killed the target).
    for fctype, name, want in ((0x00, "Property Set before Connect", 0x400C), (0x01, "Connect", 0x4000 | 0x0F)):
        q = nv.Queue(port=PORT)
        c = q.submit(nv.sqe(0x7F, 3, fctype=fctype, sgl_len=0, sgl_type=nv.SGL_INCAPSULE))
        check(f"{name} with a zero-length in-capsule SGL: status {want:#x}", c.status == want, f"{c}")
        check(f"{name} with a zero-length in-capsule SGL: another connection unharmed", by.still_works())
        q.close()

    def big_incapsule(q):
        q.fabrics_connect(nv.DISCOVERY_NQN)
        cmd = nv.sqe(0x01, 9, nsid=1, cdw12=39, sgl_len=20480, sgl_type=nv.SGL_INCAPSULE)
        q.send(q.pdu(nv.CAPSULE_CMD, cmd, bytes(20480)))
    expect_term(t, by, "in-capsule data beyond the advertised 16 KiB", FES_LIMIT, 0, big_incapsule)

    # H2CData cases need a live I/O queue with an R2T outstanding.
    def h2c_case(name, fes, fei, misbehave):
        admin, q = fresh_io_queue()
        cid = q.alloc_cid()
        q.send_cmd(nv.sqe(0x01, cid, nsid=1, cdw12=127, sgl_len=65536))
        ptype, _, hdr, _ = q.recv_pdu()
        assert ptype == nv.R2T, f"expected R2T, got {ptype}"
        _, ttag, r2to, r2tl = struct.unpack_from("<HHII", hdr, 8)
        expect_term(t, by, name, fes, fei, lambda q: misbehave(q, cid, ttag, r2tl), q=q)
        admin.close()
    h2c_case("H2CData for an unknown transfer tag", FES_INVALID_HDR, 10,
             lambda q, cid, ttag, n: q.send_h2c(cid, ttag ^ 0x5A5A, 0, bytes(4096)))
    # FEI is reserved (0) for every status but 01h and 06h.
    h2c_case("H2CData beyond the R2T window", FES_OUT_OF_RANGE, 0,
             lambda q, cid, ttag, n: q.send_h2c(cid, ttag, n - 512, bytes(4096)))
    h2c_case("H2CData with a gap in the data offsets", FES_OUT_OF_RANGE, 0,
             lambda q, cid, ttag, n: q.send_h2c(cid, ttag, 4096, bytes(4096)))

    def finished_transfer(q):
        data = os.urandom(65536)
        seen = {}
        def on_r2t(cccid, ttag, off, length):
            seen["r2t"] = (cccid, ttag)
            q.send_h2c(cccid, ttag, off, data[off:off + length])
        cid = q.alloc_cid()
        q.send_cmd(nv.sqe(0x01, cid, nsid=1, cdw12=127, sgl_len=65536))
        c = q.wait_completion(cid, on_r2t=on_r2t)
        assert c.status == 0, c
        q.send_h2c(seen["r2t"][0], seen["r2t"][1], 0, data[:4096])
    admin, q = fresh_io_queue()
    expect_term(t, by, "H2CData for a finished transfer", FES_INVALID_HDR, 10, finished_transfer, q=q)
    admin.close()

    # ---- data digest: the command fails, the connection lives on ----
    admin, q = fresh_io_queue(hdgst=True, ddgst=True)
    c = q.write(1, 0, bytes(4096), bad_ddgst=True)
    expect_status(t, by, "wrong data digest on a write", SC_TRANSIENT_TR, c, q)
    c = q.write(1, 0, b"\x5a" * 4096)
    check("queue still works after the data digest error", c.status == 0 and q.read(1, 0, 8).data == b"\x5a" * 4096)
    admin.close(), q.close()

    # ---- bad commands: an NVMe status, the connection lives on ----
    admin, q = fresh_io_queue()
    expect_status(t, by, "unsupported admin opcode 0xc5",
                  SC_INVALID_OPCODE, admin.submit(nv.sqe(0xC5, admin.alloc_cid())), admin)
    expect_status(t, by, "unsupported I/O opcode 0x82",
                  SC_INVALID_OPCODE, q.submit(nv.sqe(0x82, q.alloc_cid(), nsid=1)), q)
    q.close()
    admin, q = fresh_io_queue()
    expect_status(t, by, "read beyond MDTS (2 MiB)", SC_INVALID_FIELD, q.read(1, 0, 4096), q)
    q.close()
    admin, q = fresh_io_queue()
    expect_status(t, by, "read past the last LBA", SC_LBA_RANGE, q.read(1, nsze - 4, 8), q)
    q.close()
    admin, q = fresh_io_queue()
    expect_status(t, by, "I/O to an inactive namespace", SC_INVALID_NS, q.read(7, 0, 8), q)
    q.close()
    admin, q = fresh_io_queue()
    expect_status(t, by, "write to a read-only namespace", SC_WRITE_PROTECTED, q.write(3, 0, bytes(4096)), q)
    q.close()

    # Nothing is written outside a namespace: a write straddling the end of a file namespace.
    admin, q = fresh_io_queue()
    last = 8 * 2048 - 4
    expect_status(t, by, "write straddling the end of a file namespace", SC_LBA_RANGE,
                  q.write(2, last, os.urandom(4096)), q)
    q.close()
    admin, q = fresh_io_queue()
    dsm = struct.pack("<IIQ", 0, 16, 8 * 2048 - 8)  # range of 16 blocks, 8 of them past the end
    dsm_cmd = nv.sqe(0x09, q.alloc_cid(), nsid=2, cdw10=0, cdw11=4, sgl_len=16, sgl_type=nv.SGL_INCAPSULE)
    expect_status(t, by, "deallocate straddling the end of a file namespace", SC_LBA_RANGE,
                  q.submit(dsm_cmd, dsm, incapsule=True), q)
    q.close()
    admin, q = fresh_io_queue()
    wz = nv.sqe(0x08, q.alloc_cid(), nsid=2, cdw10=8 * 2048 - 1, cdw12=1)
    expect_status(t, by, "write zeroes straddling the end of a file namespace", SC_LBA_RANGE, q.submit(wz), q)
    q.close()
    with open(backing, "rb") as f:
        check("file namespace unchanged in size and content", f.read() == pattern * 8)

    # ---- Connect refusals with the offending field's offset in the result ----
    q = nv.Queue(port=PORT)
    c = q.fabrics_connect("nqn.2026-11.io.tightrope:no-such-subsystem")
    expect_status(t, by, "Connect to an unknown NQN", SC_CONNECT_INVALID_PARAM, c, q, result=(1 << 16) | 256)
    q.close()
    q = nv.Queue(port=PORT)
    c = q.fabrics_connect(LOCKED, hostnqn="nqn.2026-11.io.tightrope:stranger")
    expect_status(t, by, "Connect by a host not allowed", SC_CONNECT_INVALID_HOST, c, q, result=(1 << 16) | 512)
    q.close()
    q = nv.Queue(port=PORT)
    c = q.fabrics_connect(SUBNQN, qid=1, cntlid=0x7777)
    expect_status(t, by, "I/O queue Connect to an unknown controller", SC_CONNECT_INVALID_PARAM, c, q,
                  result=(1 << 16) | 16)
    q.close()
    # QIDs out of range: the target once indexed its queue array with the QID before checking it,
    # so one Connect with QID 0xFFFF crashed it for every host.
    admin = nv.admin_connect(SUBNQN, port=PORT)
    opened.append(admin)
    for qid in (0xFFFF, 129, 5):  # far out, one past the array, one past the 4 granted
        q = nv.Queue(port=PORT)
        c = q.fabrics_connect(SUBNQN, qid=qid, cntlid=admin.cntlid)
        expect_status(t, by, f"I/O queue Connect with QID {qid}", SC_CONNECT_INVALID_PARAM, c, q, result=42)
        q.close()
    taken = nv.io_connect(admin, SUBNQN, qid=2, port=PORT)
    opened.append(taken)
    q = nv.Queue(port=PORT)
    c = q.fabrics_connect(SUBNQN, qid=2, cntlid=admin.cntlid)
    expect_status(t, by, "I/O queue Connect of a QID already connected", SC_CONNECT_INVALID_PARAM, c, q, result=42)
    q.close()
    q = nv.Queue(port=PORT)
    c = q.fabrics_connect(LOCKED, hostnqn=ALLOWED_HOST)
    check("the allowed host may connect to the locked subsystem", c.status == 0, f"{c}")
    q.close()

    # Liberal where peers are. SPDK's tools send an empty host NQN unless told one, and the Linux
    # and SPDK targets accept it: it is one more host name, which an allow list may refuse.
    q = nv.Queue(port=PORT)
    c = q.fabrics_connect(SUBNQN, hostnqn="")
    check("an empty host NQN may connect to an allow-any-host subsystem", c.status == 0, f"{c}")
    q.enable()
    check("the empty host NQN's controller answers Identify", q.identify(1).status == 0)
    io = nv.Queue(port=PORT)
    check("the empty host NQN's I/O queue connects", io.fabrics_connect(SUBNQN, "", qid=1, cntlid=q.cntlid).status == 0)
    io.close(), q.close()
    q = nv.Queue(port=PORT)
    c = q.fabrics_connect(LOCKED, hostnqn="")
    expect_status(t, by, "Connect with an empty host NQN to an allow-list subsystem", SC_CONNECT_INVALID_HOST, c, q,
                  result=(1 << 16) | 512)
    q.close()
    q = nv.Queue(port=PORT)
    c = q.fabrics_connect(SUBNQN, hostnqn="x" * 256)
    expect_status(t, by, "Connect with a host NQN that fills its field unterminated", SC_CONNECT_INVALID_PARAM, c, q,
                  result=(1 << 16) | 512)
    q.close()
    q = nv.Queue(port=PORT)
    c = q.fabrics_connect(SUBNQN, sqsize=1)
    expect_status(t, by, "Connect with SQSIZE 0", SC_CONNECT_INVALID_PARAM, c, q, result=44)
    q.close()
    # A host that skips Set Features Number of Queues may connect as many I/O queues as Get Features
    # reports (the Linux and SPDK targets accept it), and not one more.
    admin = nv.admin_connect(SUBNQN, port=PORT, set_queues=False)
    opened.append(admin)
    nq = admin.get_features(0x07)
    nsq, ncq = (nq.result & 0xFFFF) + 1, ((nq.result >> 16) & 0xFFFF) + 1
    check("Get Features Number of Queues without a Set Features first", nq.status == 0 and nsq == ncq >= 1, f"{nq}")
    for qid in (1, nsq):
        io = nv.Queue(port=PORT)
        c = io.fabrics_connect(SUBNQN, qid=qid, cntlid=admin.cntlid)
        check(f"I/O queue {qid} of {nsq} connects without Set Features Number of Queues", c.status == 0, f"{c}")
        opened.append(io)
    io = nv.Queue(port=PORT)
    c = io.fabrics_connect(SUBNQN, qid=nsq + 1, cntlid=admin.cntlid)
    expect_status(t, by, f"I/O queue {nsq + 1}, one past what Get Features reports", SC_CONNECT_INVALID_PARAM, c, io,
                  result=42)
    io.close()
    q.close()

    # The discovery log shows each host only what it may reach.
    def discovery_subnqns(hostnqn):
        return nv.discovery_subnqns(hostnqn, port=PORT)
    check("discovery log hides the locked subsystem from a stranger",
          discovery_subnqns(nv.DEFAULT_HOSTNQN) == {SUBNQN})
    check("discovery log shows it to the allowed host", discovery_subnqns(ALLOWED_HOST) == {SUBNQN, LOCKED})

    check("bystander works after all the bad input", by.still_works())
    for q in opened:
        q.close()
    time.sleep(0.5)
    ctrls = t.controllers(SUBNQN)
    check("only the bystander's controller is left", [c["cntlid"] for c in ctrls] == [by.admin.cntlid],
          f"{ctrls}")


if __name__ == "__main__":
    sys.exit(main())
