#!/usr/bin/env python3
# Bad input from the target side: a scripted fake NVMe/TCP target that lets the tightrope host connect,
# then misbehaves once I/O starts (malformed PDUs, stray completions, C2HData beyond the buffer, a close
# mid-transfer, TermReqs, bad R2Ts, bad ICResps, bad digests). The host must not crash or trip a
# sanitizer, must give up within a bounded time and must print a line that names the cause. The fake
# target also records the admin commands it gets, so the host's disconnect can be held to the kernel
# host's order (keep-alive stopped, then CC.SHN, then CSTS polls only), and it can leave a Keep Alive
# unanswered or never report the shutdown complete.
# usage: bad_target.py path/to/tightrope   (build with -Db_sanitize=address,undefined to mean it)
import functools
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ left in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import checks  # noqa: E402
import nvmf_client as nv  # noqa: E402

SUBNQN = "nqn.2026-11.io.tightrope:badtarget"
HOSTNQN = "nqn.2014-08.org.nvmexpress:uuid:62616420-7461-7267-6574-000000000001"
NSZE, LBA_SIZE = 2048, 512  # namespace 1: 1 MiB of 512-byte blocks
MAXDATA = 128 * 1024  # MAXH2CDATA we grant
IOCCSZ = (64 + 8192) // 16  # 8 KiB of in-capsule write data, as the Linux target offers
TRIGGER = 2  # misbehave on the third I/O command of the right kind: some I/O has worked by then
HOST_TIMEOUT = 20  # seconds the host gets to give up on a bad target
SANITIZER = re.compile(r"Sanitizer|runtime error:")

# NVMe opcodes and status codes used here
ADMIN_GET_LOG, ADMIN_IDENTIFY, ADMIN_SET_FEATURES, ADMIN_GET_FEATURES = 0x02, 0x06, 0x09, 0x0A
ADMIN_AER, ADMIN_KEEP_ALIVE, FABRICS = 0x0C, 0x18, 0x7F
FCTYPE_PROP_SET, FCTYPE_CONNECT, FCTYPE_PROP_GET = 0x00, 0x01, 0x04
IO_FLUSH, IO_WRITE, IO_READ = 0x00, 0x01, 0x02
SC_INVALID_OPCODE, SC_INVALID_FIELD, SC_CMD_SEQ_ERROR = 0x4001, 0x4002, 0x000C
REG_CAP, REG_VS, REG_CC, REG_CSTS = 0x00, 0x08, 0x14, 0x1C
NVME_CC_EN, NVME_CC_SHN_MASK, NVME_CC_SHN_NORMAL, NVME_CSTS_SHST_CMPLT = 1, 3 << 14, 1 << 14, 2 << 2

# Every line says what was seen, pass or fail: how long the host took, what it printed.
check = functools.partial(checks.check, detail_on_pass=True)


class Cmd:
    """One command capsule as the target sees it."""

    def __init__(self, hdr, data):
        self.raw = hdr  # the whole CapsuleCmd header, for quoting in a TermReq
        sqe = hdr[8:72]
        self.opcode, _, self.cid, self.nsid = struct.unpack_from("<BBHI", sqe, 0)
        self.fctype = sqe[4]
        self.length = struct.unpack_from("<I", sqe, 32)[0]  # SGL length
        self.cdw = struct.unpack_from("<6I", sqe, 40)  # cdw10..cdw15
        self.sqe = sqe
        self.data = data
        self.slba = self.cdw[0] | self.cdw[1] << 32


class Conn(nv.Queue):
    """The target's end of one connection. nvmf_client's Queue already builds and parses every PDU
    byte by byte, so the fake target borrows it rather than encoding the same layouts twice."""

    def __init__(self, sock, target, index):
        self.sock = sock
        self.target = target
        self.index = index  # 0: the admin queue's connection (the host opens it first)
        self.hdgst = self.ddgst = False
        self.qid = None
        self.broken = False
        self.writes = {}  # cid -> [byte offset, bytearray, bytes received] for writes waiting on H2CData
        self.reads = 0
        self.duplicate_cid = None  # answer this command id's next use with a bare completion

    # ---- what a well-behaved controller sends ----
    def resp(self, cid, status=0, result=0):
        self.send(self.pdu(nv.CAPSULE_RESP, struct.pack("<QHHHH", result, 0, self.qid or 0, cid, status << 1)))

    def c2h(self, cid, data, offset=0, flags=nv.F_LAST, **over):
        psh = struct.pack("<HHII4x", cid, 0, offset, len(data))
        return self.pdu(nv.C2H_DATA, psh, data, flags=flags, **over)

    def r2t(self, cid, ttag, offset, length):
        return self.pdu(nv.R2T, struct.pack("<HHII4x", cid, ttag, offset, length))

    def term(self, fes, fei=0, quoted=b""):
        psh = struct.pack("<HHH10x", fes, fei & 0xFFFF, fei >> 16)
        return self.pdu(nv.C2H_TERM, psh, quoted, pdo=0, hdgst=False, ddgst=False)

    def read_data(self, cmd, data):
        """C2HData, then either the SUCCESS flag or a CapsuleResp: a real target may do either."""
        self.reads += 1
        if self.reads % 2:
            self.send(self.c2h(cmd.cid, data, flags=nv.F_LAST | nv.F_SUCCESS))
        else:
            self.send(self.c2h(cmd.cid, data))
            self.resp(cmd.cid)

    # ---- the connection's life ----
    def serve(self):
        try:
            icreq = self.recv_exact(128)
            digest = icreq[11]
            self.hdgst, self.ddgst = bool(digest & 1), bool(digest & 2)
            hook = self.target.scenario.get("icresp")
            queue = "admin" if self.index == 0 else "io"
            if hook and self.target.scenario.get("icresp_queue", "admin") == queue:
                self.broken = True
                self.send(hook(self, digest))
            else:
                psh = struct.pack("<HBBI", 0, 0, digest, MAXDATA) + bytes(112)
                self.send(self.pdu(nv.ICRESP, psh, hdgst=False, ddgst=False))
            while True:
                ptype, _, hdr, data = self.recv_pdu()
                cmd = Cmd(hdr, data) if ptype == nv.CAPSULE_CMD else None
                if cmd and self.qid == 0:
                    self.target.record(self, admin_name(cmd), cmd)  # even unanswered: what the host sent
                if self.broken:
                    continue  # the damage is done: read until the host hangs up
                if cmd:
                    self.command(cmd)
                elif ptype == nv.H2C_DATA:
                    self.h2c_data(hdr, data)
                elif ptype == nv.H2C_TERM:
                    return  # the host gave up on us
        except (nv.Closed, ConnectionError, OSError, AssertionError, struct.error):
            pass
        finally:
            self.target.record(self, "close")
            self.close()

    def command(self, cmd):
        if cmd.opcode == FABRICS:
            return self.fabrics(cmd)
        if cmd.cid == self.duplicate_cid:
            self.broken = True
            return self.resp(cmd.cid)
        if self.qid == 0 and (not self.target.cc & NVME_CC_EN or self.target.cc & NVME_CC_SHN_MASK):
            # As SPDK answers an admin command to a controller that is disabled or shut down
            # ("Admin command sent to disabled controller"); only Property Get/Set go on.
            return self.resp(cmd.cid, SC_CMD_SEQ_ERROR)
        if self.qid == 0:
            hook = self.target.scenario.get("admin")
            if hook and hook[0](cmd):
                self.broken = True
                return hook[1](self, cmd)
            return self.admin(cmd)
        if self.target.io_due(cmd):
            self.broken = True
            return self.target.scenario["io"][1](self, cmd)
        return self.io(cmd)

    def fabrics(self, cmd):
        if cmd.fctype == FCTYPE_CONNECT:
            self.qid = struct.unpack_from("<H", cmd.sqe, 42)[0]
            return self.resp(cmd.cid, result=1)  # cntlid 1
        offset = struct.unpack_from("<I", cmd.sqe, 44)[0]
        if cmd.fctype == FCTYPE_PROP_GET:
            cc = self.target.cc
            shst = NVME_CSTS_SHST_CMPLT if cc & NVME_CC_SHN_MASK and not self.target.scenario.get("no_shst") else 0
            value = {REG_CAP: 127 | 1 << 16 | 10 << 24 | 1 << 37,  # MQES 127, CQR, TO 5 s, NVM command set
                     REG_VS: 0x00010400,
                     REG_CC: cc,
                     REG_CSTS: (cc & NVME_CC_EN) | shst}.get(offset, 0)  # RDY, SHST
            return self.resp(cmd.cid, result=value)
        if cmd.fctype == FCTYPE_PROP_SET:
            if offset == REG_CC:
                self.target.cc = struct.unpack_from("<I", cmd.sqe, 48)[0]
            return self.resp(cmd.cid)
        return self.resp(cmd.cid, SC_INVALID_FIELD)

    def admin(self, cmd):
        if cmd.opcode == ADMIN_IDENTIFY:
            cns = cmd.cdw[0] & 0xFF
            page = {1: id_ctrl(), 0: id_ns() if cmd.nsid == 1 else bytes(4096),
                    2: struct.pack("<I", 1) + bytes(4092)}.get(cns)
            if page is None:
                return self.resp(cmd.cid, SC_INVALID_FIELD)
            return self.read_data(cmd, page[:cmd.length])
        if cmd.opcode == ADMIN_SET_FEATURES:
            if cmd.cdw[0] & 0xFF == 0x07:  # number of queues: grant what was asked, up to 4 + 4
                return self.resp(cmd.cid, result=min(cmd.cdw[1] & 0xFFFF, 3) | min(cmd.cdw[1] >> 16, 3) << 16)
            return self.resp(cmd.cid)
        if cmd.opcode == ADMIN_GET_FEATURES or cmd.opcode == ADMIN_KEEP_ALIVE:
            return self.resp(cmd.cid)
        if cmd.opcode == ADMIN_GET_LOG:
            return self.read_data(cmd, bytes(cmd.length))  # an empty log (no discovery records)
        if cmd.opcode == ADMIN_AER:
            return None  # outstanding until the host goes away, as on a quiet controller
        return self.resp(cmd.cid, SC_INVALID_OPCODE)

    def io(self, cmd):
        store = self.target.store
        start = cmd.slba * LBA_SIZE
        if cmd.opcode == IO_READ:
            return self.read_data(cmd, bytes(store[start:start + cmd.length]))
        if cmd.opcode == IO_WRITE:
            if cmd.data:  # in-capsule
                store[start:start + len(cmd.data)] = cmd.data
                return self.resp(cmd.cid)
            self.writes[cmd.cid] = [start, bytearray(cmd.length), 0]
            return self.send(self.r2t(cmd.cid, cmd.cid, 0, cmd.length))
        if cmd.opcode == IO_FLUSH:
            return self.resp(cmd.cid)
        return self.resp(cmd.cid, SC_INVALID_OPCODE)

    def h2c_data(self, hdr, data):
        cid, _, offset, _ = struct.unpack_from("<HHII", hdr, 8)
        start, buf, got = self.writes[cid]
        buf[offset:offset + len(data)] = data
        got += len(data)
        self.writes[cid][2] = got
        if got == len(buf):
            del self.writes[cid]
            self.target.store[start:start + len(buf)] = buf
            self.resp(cid)


def prop_value(cmd):
    """The value a Property Set writes."""
    return struct.unpack_from("<I", cmd.sqe, 48)[0]


def admin_name(cmd):
    """An admin command in the words the shutdown checks use."""
    if cmd.opcode == FABRICS:
        reg = {REG_CAP: "CAP", REG_VS: "VS", REG_CC: "CC", REG_CSTS: "CSTS"}.get(
            struct.unpack_from("<I", cmd.sqe, 44)[0], "?")
        return {FCTYPE_PROP_SET: f"Property Set {reg}", FCTYPE_PROP_GET: f"Property Get {reg}",
                FCTYPE_CONNECT: "Connect"}.get(cmd.fctype, f"fabrics {cmd.fctype:#x}")
    return {ADMIN_KEEP_ALIVE: "Keep Alive", ADMIN_AER: "Asynchronous Event Request", ADMIN_IDENTIFY: "Identify",
            ADMIN_SET_FEATURES: "Set Features", ADMIN_GET_FEATURES: "Get Features",
            ADMIN_GET_LOG: "Get Log Page"}.get(cmd.opcode, f"opcode {cmd.opcode:#x}")


def id_ctrl():
    d = bytearray(4096)
    struct.pack_into("<HH20s40s8s", d, 0, 0x1B36, 0x1AF4, b"BADTARGET0001".ljust(20), b"bad target".ljust(40),
                     b"1.0".ljust(8))
    d[77] = 5  # MDTS: 128 KiB
    struct.pack_into("<HI", d, 78, 1, 0x00010400)  # cntlid, version 1.4
    struct.pack_into("<H", d, 320, 10)  # KAS: 100 ms units
    struct.pack_into("<BBHI", d, 512, 0x66, 0x44, 128, 1)  # SQES, CQES, MAXCMD, NN
    struct.pack_into("<I", d, 536, 1 | 1 << 20)  # SGLS: supported, offsets
    d[768:768 + len(SUBNQN)] = SUBNQN.encode()
    struct.pack_into("<IIHBB", d, 1792, IOCCSZ, 1, 0, 0, 1)  # IOCCSZ, IORCSZ, ICDOFF, FCATT, MSDBD
    return bytes(d)


def id_ns():
    d = bytearray(4096)
    struct.pack_into("<QQQ", d, 0, NSZE, NSZE, NSZE)
    struct.pack_into("<HBB", d, 128, 0, 9, 0)  # LBA format 0: 512-byte blocks
    return bytes(d)


class FakeTarget:
    """Listens on 127.0.0.1 (an ephemeral port) and serves each connection on its own thread, with
    conn_class (a Conn, or a subclass that adds to what a controller does: auth_target.py's)."""

    def __init__(self, scenario, conn_class=None):
        self.scenario = scenario
        self.conn_class = conn_class or Conn
        self.store = bytearray(os.urandom(NSZE * LBA_SIZE))
        self.cc = 0
        self.events = []  # (time, qid, what, Cmd or None): admin commands and every connection's close
        self.connections = 0
        self.io_seen = 0
        self.lock = threading.Lock()
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.stopping = False
        self.threads = []
        self.acceptor = threading.Thread(target=self.accept_loop, daemon=True)
        self.acceptor.start()

    def accept_loop(self):
        while not self.stopping:
            try:
                sock, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            sock.settimeout(HOST_TIMEOUT + 5)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self.lock:
                index = self.connections
                self.connections += 1
            t = threading.Thread(target=self.conn_class(sock, self, index).serve, daemon=True)
            t.start()
            self.threads.append(t)

    def record(self, conn, what, cmd=None):
        with self.lock:
            self.events.append((time.monotonic(), conn.qid, what, cmd))

    def io_due(self, cmd):
        """Is this the I/O command the scenario misbehaves on? Counts only the kind it names."""
        hook = self.scenario.get("io")
        if not hook or cmd.opcode != hook[0]:
            return False
        with self.lock:
            self.io_seen += 1
            return self.io_seen == TRIGGER + 1

    def stop(self):
        self.stopping = True
        self.acceptor.join()
        self.listener.close()
        for t in self.threads:  # the host has exited, so every connection has seen its EOF
            t.join(timeout=2)


# ---- the misbehaviours: each sends what no sane controller would, at one chosen point ----

def rsp_bytes(conn, cid, **over):
    return conn.pdu(nv.CAPSULE_RESP, struct.pack("<QHHHH", 0, 0, conn.qid, cid, 0), **over)


def half_payload_then_close(conn, cmd):
    conn.send(conn.c2h(cmd.cid, bytes(cmd.length))[:-(cmd.length // 2)])
    conn.sock.shutdown(socket.SHUT_RDWR)


def completion_then_duplicate(conn, cmd):
    """Serve the command properly, then complete its command id again once the host has reused the
    id for its next command (as a late duplicate would land): the stray completion must not finish
    a command whose data never moved."""
    conn.broken = False
    conn.duplicate_cid = cmd.cid
    conn.io(cmd)


def icresp(pfv=0, cpda=0, maxdata=MAXDATA, digest=None, hlen=None):
    def build(conn, asked):
        psh = struct.pack("<HBBI", pfv, cpda, asked if digest is None else digest, maxdata) + bytes(112)
        return conn.pdu(nv.ICRESP, psh, hlen=hlen, hdgst=False, ddgst=False)
    return build


def refuse_icreq(conn, _asked):
    quoted = struct.pack("<BBBBIHBBI", nv.ICREQ, 0, 128, 0, 128, 0, 0, 0, 0) + bytes(112)
    return conn.term(6, 8, quoted)  # unsupported parameter: pfv


READ_4K = ["--rw", "read", "--bs", "4k"]
WRITE_16K = ["--rw", "write", "--bs", "16k"]  # over the 8 KiB in-capsule limit: R2T and H2CData

# name, bench arguments, hooks, what the host's message must say
SCENARIOS = [
    ("malformed PDU: bad hlen", READ_4K,
     {"io": (IO_READ, lambda c, m: c.send(c.c2h(m.cid, bytes(m.length), hlen=25)))},
     r"malformed C2HData PDU \(type 7\) from the controller: bad hlen 25"),
    ("malformed PDU with 8 commands outstanding", ["--rw", "randread", "--bs", "4k", "--iodepth", "8"],
     {"io": (IO_READ, lambda c, m: c.send(c.c2h(m.cid, bytes(m.length), hlen=23)))},
     r"malformed C2HData PDU \(type 7\) from the controller: bad hlen 23"),
    ("malformed PDU: bad plen", READ_4K,
     {"io": (IO_READ, lambda c, m: c.send(rsp_bytes(c, m.cid, plen=30)))},
     r"malformed CapsuleResp PDU \(type 5\) from the controller: bad plen 30"),
    ("malformed PDU: unknown PDU type", READ_4K,
     {"io": (IO_READ, lambda c, m: c.send(c.pdu(0x0B, bytes(16))))},
     r"malformed unknown PDU \(type 11\) from the controller: bad type 11"),
    ("malformed PDU: a type only hosts send", READ_4K,
     {"io": (IO_READ, lambda c, m: c.send(c.pdu(nv.H2C_DATA, struct.pack("<HHII4x", m.cid, 0, 0, 512),
                                                  bytes(512))))},
     r"malformed H2CData PDU \(type 6\) from the controller: bad type 6"),
    ("malformed PDU: bad pdo", READ_4K,
     {"io": (IO_READ, lambda c, m: c.send(c.c2h(m.cid, bytes(m.length), pdo=32)))},
     r"malformed C2HData PDU \(type 7\) from the controller: bad pdo 32"),
    ("malformed PDU: SUCCESS without LAST", READ_4K,
     {"io": (IO_READ, lambda c, m: c.send(c.c2h(m.cid, bytes(m.length), flags=nv.F_SUCCESS)))},
     r"malformed C2HData PDU \(type 7\) from the controller: bad flags 8"),
    ("unexpected completion: unknown command id", READ_4K,
     {"io": (IO_READ, lambda c, m: c.send(rsp_bytes(c, 0x1234)))},
     r"completion for command 4660, which is not outstanding"),
    ("unexpected completion: duplicate on a reused read command id", READ_4K,
     {"io": (IO_READ, completion_then_duplicate)},
     r"successful completion for command \d+ after 0 of its 4096 bytes of C2HData"),
    ("unexpected completion: duplicate on a reused write command id", WRITE_16K,
     {"io": (IO_WRITE, completion_then_duplicate)},
     r"successful completion for command \d+ before any R2T asked for its 16384 bytes"),
    ("unexpected completion: read completed without its data", READ_4K,
     {"io": (IO_READ, lambda c, m: c.resp(m.cid))},
     r"successful completion for command \d+ after 0 of its 4096 bytes of C2HData"),
    ("C2HData: data offset + length beyond the buffer", READ_4K,
     {"io": (IO_READ, lambda c, m: c.send(c.c2h(m.cid, bytes(2048), flags=0) +
                                          c.c2h(m.cid, bytes(4096), offset=2048)))},
     r"C2HData for command \d+: data offset 2048 \+ data length 4096 runs past its 4096-byte buffer"),
    ("C2HData: data offset out of order", READ_4K,
     {"io": (IO_READ, lambda c, m: c.send(c.c2h(m.cid, bytes(1024), offset=3072)))},
     r"C2HData for command \d+: data offset 3072, expected 0"),
    ("C2HData: larger than the transfer", READ_4K,
     {"io": (IO_READ, lambda c, m: c.send(c.c2h(m.cid, bytes(2 * m.length))))},
     r"C2HData for command \d+: data offset 0 \+ data length 8192 runs past its 4096-byte buffer"),
    ("C2HData: data length disagrees with plen", READ_4K,
     {"io": (IO_READ, lambda c, m: c.send(c.c2h(m.cid, bytes(2048))[:16] + struct.pack("<I", 4096) +
                                          c.c2h(m.cid, bytes(2048))[20:]))},
     r"C2HData for command \d+: data length 4096 but plen carries 2048 data bytes"),
    ("C2HData: short read reported as a success", READ_4K,
     {"io": (IO_READ, lambda c, m: c.send(c.c2h(m.cid, bytes(2048)) + rsp_bytes(c, m.cid)))},
     r"successful completion for command \d+ after 2048 of its 4096 bytes of C2HData"),
    ("C2HData: plen beyond the largest transfer", READ_4K,
     {"io": (IO_READ, lambda c, m: c.send(struct.pack("<BBBBIHHII4x", nv.C2H_DATA, nv.F_LAST, 24, 24,
                                                      24 + (16 << 20), m.cid, 0, 0, 16 << 20)))},
     r"malformed C2HData PDU \(type 7\) from the controller: bad plen 16777240 \(data transfer limit"),
    ("C2HData: for a command that expects none (a write)", WRITE_16K,
     {"io": (IO_WRITE, lambda c, m: c.send(c.c2h(m.cid, bytes(4096))))},
     r"C2HData for command \d+, which expects no data"),
    ("connection closed mid-transfer (half a C2HData payload)", READ_4K,
     {"io": (IO_READ, half_payload_then_close)},
     r"connection closed by the controller in the middle of C2HData for command \d+ \(2048 of 4096 bytes"),
    ("connection closed mid-transfer, 64 KiB read (received straight into the buffer)",
     ["--rw", "read", "--bs", "64k", "--size", "512k"], {"io": (IO_READ, half_payload_then_close)},
     r"in the middle of C2HData for command \d+ \(32768 of 65536 bytes"),
    ("connection closed mid-PDU header", READ_4K,
     {"io": (IO_READ, lambda c, m: (c.send(rsp_bytes(c, m.cid)[:10]), c.sock.shutdown(socket.SHUT_RDWR)))},
     r"connection closed by the controller in the middle of a PDU \(10 bytes"),
    ("connection closed with a command outstanding", READ_4K,
     {"io": (IO_READ, lambda c, m: c.sock.shutdown(socket.SHUT_RDWR))},
     r"connection closed by the controller"),
    ("C2HTermReq: invalid header field, our PDU quoted", READ_4K,
     {"io": (IO_READ, lambda c, m: c.send(c.term(1, 2, m.raw)))},
     r"controller sent C2HTermReq \(invalid PDU header field\): bad hlen in our CapsuleCmd"),
    ("C2HTermReq: PDU sequence error", READ_4K,
     {"io": (IO_READ, lambda c, m: c.send(c.term(2)))},
     r"controller sent C2HTermReq \(PDU sequence error\)"),
    ("C2HTermReq: unknown fatal error status", READ_4K,
     {"io": (IO_READ, lambda c, m: c.send(c.term(0x42)))},
     r"controller sent C2HTermReq \(unknown fatal error status 66\)"),
    ("C2HTermReq: plen beyond what a TermReq may carry", READ_4K,
     {"io": (IO_READ, lambda c, m: c.send(c.term(1, 2, bytes(200))))},
     r"malformed C2HTermReq PDU \(type 3\) from the controller: bad plen 224"),
    ("CapsuleResp while a write's R2T window is outstanding", WRITE_16K,
     {"io": (IO_WRITE, lambda c, m: c.send(c.r2t(m.cid, 7, 0, m.length) + rsp_bytes(c, m.cid)))},
     r"completion for command \d+ while its data was still being sent"),
    ("R2T beyond the command's data", WRITE_16K,
     {"io": (IO_WRITE, lambda c, m: c.send(c.r2t(m.cid, 7, 8192, m.length)))},
     r"R2T asks for bytes 8192\+16384, beyond command \d+'s 16384 bytes of data"),
    ("two R2Ts at once for one command (MAXR2T is 1)", WRITE_16K,
     {"io": (IO_WRITE, lambda c, m: c.send(c.r2t(m.cid, 7, 0, 8192) + c.r2t(m.cid, 8, 8192, 8192)))},
     r"R2T for command \d+, which already has an R2T being served"),
    ("R2T of zero bytes", WRITE_16K,
     {"io": (IO_WRITE, lambda c, m: c.send(c.r2t(m.cid, 7, 0, 0)))},
     r"R2T for command \d+ asks for no data \(r2t length 0\)"),
    ("R2T for a read", READ_4K,
     {"io": (IO_READ, lambda c, m: c.send(c.r2t(m.cid, 7, 0, m.length)))},
     r"R2T for command \d+, which has no data to send"),
    ("ICResp: bad pfv", READ_4K, {"icresp": icresp(pfv=1)},
     r"bad pfv 1 in ICResp \(only 0, NVMe/TCP 1.0, is supported\)"),
    ("ICResp: bad cpda", READ_4K, {"icresp": icresp(cpda=1)},
     r"bad cpda 1 in ICResp"),
    ("ICResp: maxdata too small", READ_4K, {"icresp": icresp(maxdata=1024)},
     r"bad maxdata 1024 in ICResp \(must be at least 4096"),
    ("ICResp: digest not granted (-g)", READ_4K + ["-g"], {"icresp": icresp(digest=0)},
     r"bad digest 0 in ICResp \(the digests granted differ"),
    ("ICResp: bad hlen", READ_4K, {"icresp": icresp(hlen=100)},
     r"answered ICReq with a malformed ICResp PDU \(type 1\): bad hlen 100"),
    ("ICResp: C2HTermReq instead", READ_4K, {"icresp": refuse_icreq},
     r"refused ICReq with a C2HTermReq \(unsupported parameter\): bad pfv in our ICReq"),
    ("ICResp on the I/O queue: maxdata too small", READ_4K,
     {"icresp": icresp(maxdata=512), "icresp_queue": "io"},
     r"bad maxdata 512 in ICResp"),
    ("header digest mismatch (-g)", READ_4K + ["-g"],
     {"io": (IO_READ, lambda c, m: c.send(c.c2h(m.cid, bytes(m.length), bad_hdgst=True)))},
     r"header digest mismatch on a C2HData PDU"),
    ("header digest flag missing (-g)", READ_4K + ["-g"],
     {"io": (IO_READ, lambda c, m: c.send(c.c2h(m.cid, bytes(m.length), hdgst=False)))},
     r"malformed C2HData PDU \(type 7\) from the controller: bad flags 4"),
    ("data digest mismatch (-G)", READ_4K + ["-G"],
     {"io": (IO_READ, lambda c, m: c.send(c.c2h(m.cid, bytes(m.length), bad_ddgst=True)))},
     r"data digest mismatch on C2HData for command \d+ \(4096 bytes\)"),
]

# The admin queue too: id-ctrl and discover go through Identify and Get Log Page.
ADMIN_SCENARIOS = [
    ("id-ctrl: Identify data beyond the buffer", "id-ctrl",
     {"admin": (lambda m: m.opcode == ADMIN_IDENTIFY and m.cdw[0] & 0xFF == 1,
                lambda c, m: c.send(c.c2h(m.cid, bytes(8192))))},
     r"Identify Controller: C2HData for command \d+: data offset 0 \+ data length 8192 runs past"),
    ("id-ctrl: malformed PDU during Identify", "id-ctrl",
     {"admin": (lambda m: m.opcode == ADMIN_IDENTIFY and m.cdw[0] & 0xFF == 1,
                lambda c, m: c.send(rsp_bytes(c, m.cid, hlen=8)))},
     r"Identify Controller: malformed CapsuleResp PDU \(type 5\) from the controller: bad hlen 8"),
    ("discover: Get Log Page completed for an unknown command", "discover",
     {"admin": (lambda m: m.opcode == ADMIN_GET_LOG, lambda c, m: c.send(rsp_bytes(c, m.cid ^ 0x5A5)))},
     r"Get Log Page \(discovery\): completion for command \d+, which is not outstanding"),
]


def run_host(binary, args, port, env=None):
    cmd = [binary] + args[:1] + ["-t", "tcp", "-a", "127.0.0.1", "-s", str(port), "-q", HOSTNQN] + args[1:]
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0",
               UBSAN_OPTIONS="print_stacktrace=1", **(env or {}))
    start = time.time()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=HOST_TIMEOUT, env=env)
        return p.returncode, p.stdout, p.stderr, time.time() - start
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        err = e.stderr.decode() if isinstance(e.stderr, bytes) else (e.stderr or "")
        return None, out, err, time.time() - start


def judge(name, rc, err, secs, expect):
    """The host ended on its own, with an error exit (not a signal), no sanitizer report, and a
    line that names the cause."""
    if rc is None:
        check(f"{name}: host gives up within {HOST_TIMEOUT} s", False, "still running; killed")
    else:
        check(f"{name}: host gives up within {HOST_TIMEOUT} s", True, f"{secs:.1f} s")
        check(f"{name}: error exit, not a crash", rc > 0, f"exit code {rc}")
    bad = [line for line in err.splitlines() if SANITIZER.search(line)]
    check(f"{name}: no sanitizer report", not bad, "\n  " + "\n  ".join(err.splitlines()[:40]) if bad else "")
    lines = [line for line in err.splitlines() if re.search(expect, line)]
    check(f"{name}: a line names the cause", bool(lines),
          lines[0].strip() if lines else f"wanted /{expect}/ in:\n  " + "\n  ".join(err.splitlines()[-8:]))


def tail(err, n=8):
    return "\n  " + "\n  ".join(err.splitlines()[-n:])


KATO_ARGS = ["--size", "64k", "--iodepth", "1", "-k", "1", "--rw", "read", "--bs", "4k", "--time_based"]


def keep_alive_unanswered(binary):
    """The fake target stops answering Keep Alive. The host must say that the keep alive command timed
    out after the KATO in force (1 s here), not after the queue's 30 s default command timeout, and
    must end without a shutdown handshake on the admin queue it has given up on."""
    name, runtime = "keep-alive unanswered (-k 1)", 3
    target = FakeTarget({"admin": (lambda m: m.opcode == ADMIN_KEEP_ALIVE, lambda c, m: None)})
    rc, _, err, secs = run_host(binary, ["bench", "-n", SUBNQN, "--runtime", str(runtime)] + KATO_ARGS, target.port)
    target.stop()
    check(f"{name}: host ends within {runtime + 2} s, no wait for a shutdown on the dead admin queue",
          rc is not None and secs < runtime + 2, f"{secs:.1f} s, exit code {rc}")
    lines = [line for line in err.splitlines() if "keep alive command timed out" in line]
    check(f"{name}: one line says the keep alive command timed out after KATO, 1000 ms",
          len(lines) == 1 and re.search(r"keep alive command timed out after 1000 ms \(KATO 1 s\)", lines[0]),
          lines[0].strip() if len(lines) == 1 else f"{len(lines)} such lines in:" + tail(err))
    cmd_lines = [line for line in err.splitlines() if re.search(r"\(opcode 0x18\) timed out after", line)]
    check(f"{name}: the queue's line gives the Keep Alive's 1000 ms as well",
          cmd_lines and all("timed out after 1000 ms" in line for line in cmd_lines),
          cmd_lines[0].strip() if cmd_lines else "no such line in:" + tail(err))
    check(f"{name}: no line gives the 30000 ms default command timeout", "30000 ms" not in err,
          next((line for line in err.splitlines() if "30000 ms" in line), ""))
    ka = next((e[0] for e in target.events if e[2] == "Keep Alive"), None)
    closed = next((e[0] for e in target.events if e[1] == 0 and e[2] == "close"), None)
    check(f"{name}: the host gave the admin queue up 1 s (KATO) after the Keep Alive",
          ka and closed and 0.9 <= closed - ka <= 1.5, f"{closed - ka:.2f} s" if ka and closed else "")
    shn = [e for e in target.events if e[2] == "Property Set CC" and prop_value(e[3]) & NVME_CC_SHN_MASK]
    check(f"{name}: no CC.SHN written to the admin queue that timed out", not shn)
    check(f"{name}: no sanitizer report", not SANITIZER.search(err), err[-2000:] if SANITIZER.search(err) else "")


def judge_shutdown(name, target, log, never):
    """What the fake target saw of a normal disconnect, and what the host logged about it."""
    check(f"{name}: no sanitizer report", not SANITIZER.search(log), log[-2000:] if SANITIZER.search(log) else "")
    bad = [line for line in log.splitlines() if re.search(r"keep-alive failed|keep alive command", line)]
    check(f"{name}: no keep-alive failure logged", not bad, bad[0].strip() if bad else "")

    admin = [e for e in target.events if e[1] == 0]  # the admin queue's commands, then its close
    cc_sets = [(i, prop_value(e[3])) for i, e in enumerate(admin) if e[2] == "Property Set CC"]
    shut = [(i, v) for i, v in cc_sets if v & NVME_CC_SHN_MASK]
    enable = next((v for _, v in cc_sets if v & NVME_CC_EN and not v & NVME_CC_SHN_MASK), None)
    kas = [i for i, e in enumerate(admin) if e[2] == "Keep Alive"]
    check(f"{name}: Keep Alives were sent", len(kas) >= 2, f"{len(kas)} (KATO 1 s)")
    check(f"{name}: one Property Set CC with SHN = 01b (normal shutdown)",
          len(shut) == 1 and shut[0][1] & NVME_CC_SHN_MASK == NVME_CC_SHN_NORMAL,
          " ".join(f"CC={v:#x}" for _, v in shut) or "no CC.SHN written")
    if len(shut) != 1:
        return
    at, cc = shut[0]
    check(f"{name}: only SHN changes in CC, EN stays set (the kernel host's nvme_disable_ctrl)",
          enable is not None and cc == (enable & ~NVME_CC_SHN_MASK) | NVME_CC_SHN_NORMAL,
          f"enabled with {enable:#x}, shut down with {cc:#x}" if enable is not None else "no enable seen")
    check(f"{name}: CC.SHN is written after the last Keep Alive", kas and kas[-1] < at)
    after = [e[2] for e in admin[at + 1:] if e[2] != "close"]
    check(f"{name}: no Keep Alive after CC is written", "Keep Alive" not in after,
          f"{after.count('Keep Alive')} Keep Alive(s) after it")
    others = sorted(set(after) - {"Property Get CSTS"})
    check(f"{name}: nothing but Property Get CSTS after CC is written", after and not others,
          f"{len(after)} polls" if after and not others else f"also: {', '.join(others) or 'no poll at all'}")
    closed = next((e[0] for e in admin[at:] if e[2] == "close"), None)
    waited = closed - admin[at][0] if closed else None
    if not never:
        check(f"{name}: CSTS polled until SHST = 10b (1 poll), then the admin queue closed",
              after == ["Property Get CSTS"] and waited is not None and waited < 1,
              f"{len(after)} polls, closed {waited:.2f} s after CC" if waited is not None else "never closed")
    else:
        check(f"{name}: CSTS polled for the 5 s shutdown timeout, then the admin queue closed anyway",
              waited is not None and 4.8 <= waited <= 6.5 and len(after) > 1,
              f"{len(after)} polls, closed {waited:.2f} s after CC" if waited is not None else "never closed")
        lines = [line for line in log.splitlines() if "shutdown" in line]
        check(f"{name}: one line says the shutdown did not complete, with CSTS",
              len(lines) == 1 and re.search(r"aborting shutdown, CSTS=0x1\b", lines[0]),
              lines[0].strip() if len(lines) == 1 else f"{len(lines)} lines:" + tail(log))


def ctrl_shutdown(binary):
    """The end of a bench run, and `tightrope disconnect` of a connected controller, are normal
    disconnects and must go as the kernel host's does: keep-alive stopped first, then CC.SHN = 01b by
    Property Set (EN and the rest as enabled), CSTS polled until SHST reads 10b, then the admin queue
    closed. After the CC write the controller sees nothing but those Property Gets (SPDK answers a
    Keep Alive to a shut-down controller with Command Sequence Error, as this fake target does). A
    target that never reports SHST gets the shutdown timeout, 5 s, and one line; the host does not hang."""
    for name, scenario in [("bench: disconnect", {}), ("bench: disconnect, SHST never set", {"no_shst": True})]:
        never = scenario.get("no_shst", False)
        target = FakeTarget(scenario)
        rc, _, err, secs = run_host(binary, ["bench", "-n", SUBNQN, "--runtime", "2"] + KATO_ARGS, target.port)
        target.stop()
        check(f"{name}: bench completes", rc == 0, f"{secs:.1f} s" if rc == 0 else f"exit code {rc}:" + tail(err))
        judge_shutdown(name, target, err, never)

    # The host process behind `connect` (its AER outstanding, a Flush per namespace before it goes).
    name = "connect: disconnect"
    if os.geteuid() != 0 or not os.path.exists("/dev/fuse"):
        print(f"SKIP {name}: needs root and /dev/fuse")
        return
    state = tempfile.mkdtemp(prefix="tightrope-bad-target.")
    target = FakeTarget({})
    try:
        rc, out, err, _ = run_host(binary, ["connect", "-n", SUBNQN, "-k", "1", "--no-loop"], target.port,
                                   {"TIGHTROPE_STATE_DIR": state})
        check(f"{name}: connect succeeds", rc == 0, out.strip() if rc == 0 else f"exit code {rc}:" + tail(err))
        if rc != 0:
            return
        ctrl = out.split()[-1]
        time.sleep(2)
        start = time.time()
        p = subprocess.run([binary, "disconnect", "-n", SUBNQN], capture_output=True, text=True,
                           timeout=HOST_TIMEOUT, env=dict(os.environ, TIGHTROPE_STATE_DIR=state))
        check(f"{name}: disconnect succeeds", p.returncode == 0,
              f"{time.time() - start:.1f} s" if p.returncode == 0 else p.stderr.strip())
        with open(os.path.join(state, "ctrl", f"{ctrl}.log")) as f:
            log = f.read()
    finally:
        subprocess.run([binary, "disconnect-all"], capture_output=True, timeout=HOST_TIMEOUT,
                       env=dict(os.environ, TIGHTROPE_STATE_DIR=state))
        target.stop()
        shutil.rmtree(state, ignore_errors=True)
    judge_shutdown(name, target, log, False)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: bad_target.py path/to/tightrope")
    binary = sys.argv[1]
    t0 = time.time()

    # The fake target has to be good enough first: a clean run proves every later failure is the
    # misbehaviour's doing and not the script's.
    for name, args in [("baseline: read", READ_4K), ("baseline: write + verify", WRITE_16K + ["--verify"]),
                       ("baseline: randrw with header and data digests", ["--rw", "randrw", "--bs", "4k", "-g", "-G",
                                                                          "--iodepth", "4"])]:
        target = FakeTarget({})
        rc, _, err, secs = run_host(binary, ["bench", "-n", SUBNQN, "--size", "64k", "--iodepth", "1"] + args,
                                      target.port)
        target.stop()
        check(f"{name}: completes", rc == 0,
              "" if rc == 0 else f"exit code {rc}; stderr:\n  " + "\n  ".join(err.splitlines()[-10:]))
        check(f"{name}: no sanitizer report", not SANITIZER.search(err), err[-2000:] if SANITIZER.search(err) else "")

    for name, args, hooks, expect in SCENARIOS:
        target = FakeTarget(hooks)
        rc, _, err, secs = run_host(binary, ["bench", "-n", SUBNQN, "--size", "64k", "--iodepth", "1"] + args,
                                      target.port)
        target.stop()
        judge(name, rc, err, secs, expect)

    for name, sub, hooks, expect in ADMIN_SCENARIOS:
        target = FakeTarget(hooks)
        args = [sub] + (["-n", SUBNQN] if sub == "id-ctrl" else [])
        rc, _, err, secs = run_host(binary, args, target.port)
        target.stop()
        judge(name, rc, err, secs, expect)

    keep_alive_unanswered(binary)
    ctrl_shutdown(binary)

    print(f"({time.time() - t0:.1f} s)")
    sys.exit(checks.summary())


if __name__ == "__main__":
    main()
