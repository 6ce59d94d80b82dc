# A raw NVMe/TCP host written from the spec, for tests that must send what no real host would:
# every PDU is built byte by byte here, so a test can break any field it likes.
import json
import socket
import struct
import subprocess
import time

# PDU types (NVMe/TCP transport spec, section 3.6)
ICREQ, ICRESP, H2C_TERM, C2H_TERM, CAPSULE_CMD, CAPSULE_RESP, H2C_DATA, C2H_DATA, R2T = 0, 1, 2, 3, 4, 5, 6, 7, 9
HDR_LEN = {ICREQ: 128, ICRESP: 128, H2C_TERM: 24, C2H_TERM: 24, CAPSULE_CMD: 72, CAPSULE_RESP: 24,
           H2C_DATA: 24, C2H_DATA: 24, R2T: 24}
F_HDGST, F_DDGST, F_LAST, F_SUCCESS = 0x01, 0x02, 0x04, 0x08

DISCOVERY_NQN = "nqn.2014-08.org.nvmexpress.discovery"
DEFAULT_HOSTNQN = "nqn.2014-08.org.nvmexpress:uuid:6e6f7420-7468-6520-6b65-726e656c2121"

# SGL descriptor types the kernel host uses: in-capsule data (offset) and transport data block.
SGL_INCAPSULE, SGL_TRANSPORT = 0x01, 0x5A


def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    c = 0xFFFFFFFF
    for b in data:
        c = _CRC_TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


class TermReq(Exception):
    """The target ended the connection with a C2HTermReq."""

    def __init__(self, fes, fei, raw):
        super().__init__(f"C2HTermReq fes={fes} fei={fei}")
        self.fes, self.fei, self.raw = fes, fei, raw


class Closed(Exception):
    """The target closed the connection without a TermReq."""


class Completion:
    def __init__(self, raw):
        self.result, self.sq_head, self.sq_id, self.cid, status = struct.unpack_from("<QHHHH", raw)
        self.status = status >> 1  # DNR | MORE | SCT | SC, without the phase tag
        self.data = b""

    def __repr__(self):
        return f"Completion(cid={self.cid}, status={self.status:#x}, result={self.result:#x})"


def sqe(opcode, cid, nsid=0, cdw10=0, cdw11=0, cdw12=0, cdw13=0, cdw14=0, cdw15=0,
        sgl_len=0, sgl_type=SGL_TRANSPORT, fctype=None):
    """A 64-byte submission queue entry with an SGL data pointer (PSDT=01, as fabrics requires)."""
    b = bytearray(64)
    struct.pack_into("<BBHI", b, 0, opcode, 0x40, cid, nsid)
    if fctype is not None:
        b[4] = fctype  # fabrics commands carry fctype where nsid would be
        b[5:8] = b"\0\0\0"
    struct.pack_into("<QIxxxB", b, 24, 0, sgl_len, sgl_type)
    struct.pack_into("<6I", b, 40, cdw10, cdw11, cdw12, cdw13, cdw14, cdw15)
    return b


def connect_sqe(cid, qid, sqsize, kato_ms):
    b = sqe(0x7F, cid, fctype=0x01, sgl_len=1024, sgl_type=SGL_INCAPSULE)
    struct.pack_into("<HHHBxI", b, 40, 0, qid, sqsize - 1, 0, kato_ms)
    return b


def connect_data(subnqn, hostnqn, cntlid=0xFFFF, hostid=b"\x11" * 16):
    d = bytearray(1024)
    d[0:16] = hostid
    struct.pack_into("<H", d, 16, cntlid)
    d[256:256 + len(subnqn)] = subnqn.encode()
    d[512:512 + len(hostnqn)] = hostnqn.encode()
    return bytes(d)


class Queue:
    """One NVMe/TCP connection (one queue)."""

    def __init__(self, host="127.0.0.1", port=4420, hdgst=False, ddgst=False, timeout=10.0, do_icreq=True):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.hdgst, self.ddgst = hdgst, ddgst
        self.next_cid = 1
        self.cntlid = None
        self.maxdata = 0
        self.inflight, self.early = {}, {}  # start()/collect(): cid -> (data to send, data received)
        self.local = "%s:%d" % self.sock.getsockname()[:2]
        if do_icreq:
            self.icreq()

    # ---- raw bytes ----
    def send(self, data):
        self.sock.sendall(data)

    def recv_exact(self, n):
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise Closed(f"connection closed after {len(buf)} of {n} bytes")
            buf += chunk
        return bytes(buf)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def closed_by_peer(self, wait=5.0):
        """True once the target has closed the connection (reads EOF or a reset)."""
        self.sock.settimeout(wait)
        try:
            while self.sock.recv(65536):
                pass
            return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    # ---- PDUs ----
    def pdu(self, ptype, psh, data=b"", flags=0, hlen=None, pdo=None, plen=None, hdgst=None, ddgst=None,
            bad_hdgst=False, bad_ddgst=False):
        """Build one PDU; every field can be overridden to make it malformed."""
        hdgst = self.hdgst if hdgst is None else hdgst
        ddgst = self.ddgst if ddgst is None else ddgst
        hl = HDR_LEN.get(ptype, 8 + len(psh)) if hlen is None else hlen
        if hdgst and ptype not in (ICREQ, ICRESP, H2C_TERM, C2H_TERM):
            flags |= F_HDGST
        if ddgst and data and ptype not in (ICREQ, ICRESP, H2C_TERM, C2H_TERM):
            flags |= F_DDGST
        hd = 4 if flags & F_HDGST else 0
        dd = 4 if flags & F_DDGST and data else 0
        off = (8 + len(psh) + hd) if data else 0
        if pdo is None:
            pdo = off
        total = 8 + len(psh) + hd + len(data) + dd
        if plen is None:
            plen = total
        hdr = struct.pack("<BBBBI", ptype, flags, hl, pdo, plen) + psh
        out = hdr
        if hd:
            c = crc32c(hdr) ^ (0xFFFFFFFF if bad_hdgst else 0)
            out += struct.pack("<I", c)
        out += data
        if dd:
            c = crc32c(data) ^ (0xFFFFFFFF if bad_ddgst else 0)
            out += struct.pack("<I", c)
        return out

    def icreq(self, pfv=0, hpda=0, maxr2t=0, raw=None):
        dgst = (1 if self.hdgst else 0) | (2 if self.ddgst else 0)
        psh = struct.pack("<HBBI", pfv, hpda, dgst, maxr2t) + bytes(112)
        self.send(raw if raw is not None else self.pdu(ICREQ, psh, hdgst=False, ddgst=False))
        ptype, flags, hdr, _ = self.recv_pdu(expect_digest=False)
        if ptype != ICRESP:
            raise AssertionError(f"expected ICResp, got PDU type {ptype}")
        pfv, cpda, dgst, self.maxdata = struct.unpack_from("<HBBI", hdr, 8)
        self.cpda = cpda
        return hdr

    def recv_pdu(self, expect_digest=True):
        """Read one PDU: returns (type, flags, header bytes, data). Raises TermReq on C2HTermReq."""
        ch = self.recv_exact(8)
        ptype, flags, hlen, pdo, plen = struct.unpack("<BBBBI", ch)
        if ptype == C2H_TERM:
            rest = self.recv_exact(plen - 8)
            fes, fei = struct.unpack_from("<HI", rest, 0)
            raise TermReq(fes, fei, ch + rest)
        rest = self.recv_exact(plen - 8)
        hdr = ch + rest[:hlen - 8]
        if expect_digest and flags & F_HDGST:
            got = struct.unpack_from("<I", rest, hlen - 8)[0]
            assert got == crc32c(hdr), "target sent a bad header digest"
        data = b""
        if pdo:
            dlen = plen - pdo - (4 if flags & F_DDGST else 0)
            data = rest[pdo - 8:pdo - 8 + dlen]
            if flags & F_DDGST:
                got = struct.unpack_from("<I", rest, pdo - 8 + dlen)[0]
                assert got == crc32c(data), "target sent a bad data digest"
        return ptype, flags, hdr, data

    # ---- commands ----
    def alloc_cid(self):
        cid = self.next_cid
        self.next_cid = (self.next_cid % 0xFFFE) + 1
        return cid

    def send_cmd(self, cmd, data=b"", **pdu_overrides):
        self.send(self.pdu(CAPSULE_CMD, bytes(cmd), data, **pdu_overrides))

    def wait_completion(self, cid, write_data=None, on_r2t=None):
        """Read PDUs until the completion of cid; serves R2Ts from write_data, gathers C2HData."""
        got = bytearray()
        while True:
            ptype, flags, hdr, data = self.recv_pdu()
            if ptype == C2H_DATA:
                cccid, _, datao, datal = struct.unpack_from("<HHII", hdr, 8)
                assert cccid == cid, f"C2HData for cid {cccid}, expected {cid}"
                assert datao == len(got) and datal == len(data), "C2HData out of order"
                got += data
                if flags & F_SUCCESS:
                    c = Completion(bytes(16))
                    c.cid, c.data = cid, bytes(got)
                    return c
            elif ptype == R2T:
                cccid, ttag, r2to, r2tl = struct.unpack_from("<HHII", hdr, 8)
                if on_r2t:
                    on_r2t(cccid, ttag, r2to, r2tl)
                else:
                    self.send_h2c(cccid, ttag, r2to, write_data[r2to:r2to + r2tl])
            elif ptype == CAPSULE_RESP:
                c = Completion(hdr[8:24])
                assert c.cid == cid, f"completion for cid {c.cid}, expected {cid}"
                c.data = bytes(got)
                return c
            else:
                raise AssertionError(f"unexpected PDU type {ptype}")

    def send_h2c(self, cccid, ttag, datao, data, last=True, **over):
        psh = struct.pack("<HHII4x", cccid, ttag, datao, len(data))
        self.send(self.pdu(H2C_DATA, psh, data, flags=F_LAST if last else 0, **over))

    def submit(self, cmd, data=b"", incapsule=None, **over):
        cid = struct.unpack_from("<H", cmd, 2)[0]
        if incapsule is None:
            incapsule = len(data) <= 8192 and cmd[0] & 1  # host-to-controller data
        self.send_cmd(cmd, data if incapsule else b"", **over)
        return self.wait_completion(cid, write_data=data)

    # ---- several commands in flight ----
    def start(self, cmd, data=b"", incapsule=None):
        """Send a command without waiting: returns its cid. collect() serves its R2Ts from data."""
        cid = struct.unpack_from("<H", cmd, 2)[0]
        if incapsule is None:
            incapsule = cmd[39] == SGL_INCAPSULE
        self.inflight[cid] = (data, bytearray())
        self.send_cmd(cmd, data if incapsule else b"")
        return cid

    def collect(self, cids):
        """Read PDUs until every cid in cids (sent by start()) has completed, in whatever order the
        completions come; returns {cid: Completion}. Completions of other started cids are kept for later."""
        out = {cid: self.early.pop(cid) for cid in list(cids) if cid in self.early}
        while len(out) < len(cids):
            ptype, flags, hdr, data = self.recv_pdu()
            if ptype == C2H_DATA:
                cid, _, datao, datal = struct.unpack_from("<HHII", hdr, 8)
                got = self.inflight[cid][1]
                assert datao == len(got) and datal == len(data), "C2HData out of order"
                got += data
                if not flags & F_SUCCESS:
                    continue
                c = Completion(bytes(16))
                c.cid = cid
            elif ptype == R2T:
                cid, ttag, r2to, r2tl = struct.unpack_from("<HHII", hdr, 8)
                self.send_h2c(cid, ttag, r2to, self.inflight[cid][0][r2to:r2to + r2tl])
                continue
            elif ptype == CAPSULE_RESP:
                c = Completion(hdr[8:24])
                assert c.cid in self.inflight, f"completion for cid {c.cid}, never sent"
            else:
                raise AssertionError(f"unexpected PDU type {ptype}")
            c.data = bytes(self.inflight.pop(c.cid)[1])
            if c.cid in cids:
                out[c.cid] = c
            else:
                self.early[c.cid] = c
        return out

    # ---- fabrics ----
    def fabrics_connect(self, subnqn, hostnqn=DEFAULT_HOSTNQN, qid=0, sqsize=32, kato_ms=0, cntlid=0xFFFF,
                        hostid=b"\x11" * 16):
        cid = self.alloc_cid()
        c = self.submit(connect_sqe(cid, qid, sqsize, kato_ms), connect_data(subnqn, hostnqn, cntlid, hostid),
                        incapsule=True)
        if c.status == 0:
            self.cntlid = c.result & 0xFFFF
        return c

    def prop_get(self, offset, size8=False):
        b = sqe(0x7F, self.alloc_cid(), fctype=0x04)
        struct.pack_into("<BxxxI", b, 40, 1 if size8 else 0, offset)
        return self.submit(b)

    def prop_set(self, offset, value):
        b = sqe(0x7F, self.alloc_cid(), fctype=0x00)
        struct.pack_into("<BxxxIQ", b, 40, 0, offset, value)
        return self.submit(b)

    def enable(self):
        c = self.prop_set(0x14, 1 | (6 << 16) | (4 << 20))
        assert c.status == 0, c
        for _ in range(100):
            if self.prop_get(0x1C).result & 1:
                return
            time.sleep(0.01)
        raise AssertionError("CSTS.RDY never set")

    def identify(self, cns, nsid=0):
        return self.submit(sqe(0x06, self.alloc_cid(), nsid=nsid, cdw10=cns, sgl_len=4096))

    def set_features(self, fid, value):
        return self.submit(sqe(0x09, self.alloc_cid(), cdw10=fid, cdw11=value))

    def get_features(self, fid, cdw11=0):
        return self.submit(sqe(0x0A, self.alloc_cid(), cdw10=fid, cdw11=cdw11))

    def keep_alive(self):
        return self.submit(sqe(0x18, self.alloc_cid()))

    def get_log(self, lid, length):
        numd = length // 4 - 1
        return self.submit(sqe(0x02, self.alloc_cid(), cdw10=lid | ((numd & 0xFFFF) << 16),
                               cdw11=numd >> 16, sgl_len=length))

    # ---- I/O ----
    def write(self, nsid, slba, data, lba_size=512, **over):
        nlb = len(data) // lba_size
        b = sqe(0x01, self.alloc_cid(), nsid=nsid, cdw10=slba & 0xFFFFFFFF, cdw11=slba >> 32,
                cdw12=nlb - 1, sgl_len=len(data),
                sgl_type=SGL_INCAPSULE if len(data) <= 8192 else SGL_TRANSPORT)
        return self.submit(b, data, **over)

    def rw_sqe(self, opcode, nsid, slba, nlb, lba_size=512, fuse=0, incapsule=False):
        """Read (02h), Write (01h) or Compare (05h) of nlb blocks; fuse goes into CDW0 bits 9:8."""
        b = sqe(opcode, self.alloc_cid(), nsid=nsid, cdw10=slba & 0xFFFFFFFF, cdw11=slba >> 32,
                cdw12=(nlb - 1) & 0xFFFF, sgl_len=nlb * lba_size,
                sgl_type=SGL_INCAPSULE if incapsule else SGL_TRANSPORT)
        b[1] |= fuse
        return b

    def read(self, nsid, slba, nlb, lba_size=512):
        b = sqe(0x02, self.alloc_cid(), nsid=nsid, cdw10=slba & 0xFFFFFFFF, cdw11=slba >> 32,
                cdw12=nlb - 1, sgl_len=nlb * lba_size)
        return self.submit(b)


def admin_connect(subnqn, port=4420, hostnqn=DEFAULT_HOSTNQN, kato_ms=0, set_queues=True, hostid=b"\x11" * 16,
                  **kw):
    q = Queue(port=port, **kw)
    c = q.fabrics_connect(subnqn, hostnqn, qid=0, kato_ms=kato_ms, hostid=hostid)
    assert c.status == 0, f"admin Connect failed: {c}"
    q.enable()
    if subnqn != DISCOVERY_NQN and set_queues:
        assert q.set_features(0x07, (3 << 16) | 3).status == 0  # number of queues: 4 + 4
    return q


def discovery_subnqns(hostnqn, port=4420):
    """The subsystem NQNs the discovery log lists for this host (the discovery NQN left out)."""
    d = admin_connect(DISCOVERY_NQN, port=port, hostnqn=hostnqn)
    hdr = d.get_log(0x70, 1024).data
    numrec = struct.unpack_from("<Q", hdr, 8)[0]
    log = d.get_log(0x70, 1024 * (numrec + 1)).data
    d.close()
    nqns = {log[1024 * (i + 1) + 256:1024 * (i + 1) + 512].rstrip(b"\0").decode() for i in range(numrec)}
    return nqns - {DISCOVERY_NQN}


def io_connect(admin, subnqn, qid=1, port=4420, hostnqn=DEFAULT_HOSTNQN, sqsize=32, hostid=b"\x11" * 16, **kw):
    q = Queue(port=port, **kw)
    c = q.fabrics_connect(subnqn, hostnqn, qid=qid, sqsize=sqsize, cntlid=admin.cntlid, hostid=hostid)
    assert c.status == 0, f"I/O queue Connect failed: {c}"
    return q


class Target:
    """A tightrope target process started for one test, with its log captured."""

    def __init__(self, binary, args, log_path, sock_path, env=None, preexec_fn=None):
        self.sock_path = sock_path
        self.binary = binary
        self.log_path = log_path
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen([binary, "target", "-S", sock_path] + args, stdout=self.log,
                                     stderr=subprocess.STDOUT, env=env, preexec_fn=preexec_fn)
        deadline = time.time() + 20
        while time.time() < deadline:
            if "target ready" in self.log_text():
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"target exited with {self.proc.returncode}:\n{self.log_text()}")
            time.sleep(0.05)
        raise RuntimeError("target did not become ready:\n" + self.log_text())

    def log_text(self):
        with open(self.log_path) as f:
            return f.read()

    def ctl(self, *args):
        out = subprocess.run([self.binary, "ctl", "-S", self.sock_path, "-o", "json"] + list(args),
                             capture_output=True, text=True, timeout=10)
        if out.returncode:
            raise RuntimeError(f"ctl {args}: {out.stderr}")
        return json.loads(out.stdout)

    def controllers(self, subnqn):
        for s in self.ctl("list")["subsystems"]:
            if s["nqn"] == subnqn:
                return s["controllers"]
        raise KeyError(subnqn)

    def stop(self):
        """SIGTERM; returns the exit code (the target must exit 0)."""
        self.proc.terminate()
        try:
            rc = self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.log.close()
        return rc
