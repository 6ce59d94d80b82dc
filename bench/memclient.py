#!/usr/bin/env python3
# Memory benchmark client for bench/run.sh: opens C controllers x Q I/O queues of depth D on a
# tightrope target (raw NVMe/TCP, no I/O), says "connected" and holds them until told to go on.
"""usage: memclient.py PORT SUBNQN [--ctrls 16] [--queues 8] [--depth 128] [--write-all]

Protocol on stdout/stdin: prints "connected N" once every queue is live, then waits for a line on
stdin. With --write-all it then sends D in-capsule 4 KiB writes (all to LBA 0, so the namespace
itself stays idle) pipelined on every I/O queue, waits for their completions, prints "written N"
and waits for one more line before closing everything.
"""
import argparse
import socket
import struct
import sys

ICREQ, ICRESP, C2H_TERM, CAPSULE_CMD, CAPSULE_RESP = 0, 1, 3, 4, 5
SGL_INCAPSULE, SGL_TRANSPORT = 0x01, 0x5A
HOSTNQN_FMT = "nqn.2014-08.org.nvmexpress:uuid:6d656d63-6c69-656e-7400-0000000000%02x"


def sqe(opcode, cid, nsid=0, cdw10=0, cdw11=0, cdw12=0, sgl_len=0, sgl_type=SGL_TRANSPORT, fctype=None):
    b = bytearray(64)
    struct.pack_into("<BBHI", b, 0, opcode, 0x40, cid, nsid)
    if fctype is not None:
        b[4], b[5:8] = fctype, b"\0\0\0"
    struct.pack_into("<QIxxxB", b, 24, 0, sgl_len, sgl_type)
    struct.pack_into("<3I", b, 40, cdw10, cdw11, cdw12)
    return b


def capsule(cmd, data=b""):
    hlen = 72
    pdo = hlen if data else 0
    return struct.pack("<BBBBI", CAPSULE_CMD, 0, hlen, pdo, hlen + len(data)) + bytes(cmd) + data


class Queue:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        psh = struct.pack("<HBBI", 0, 0, 0, 0) + bytes(112)
        self.sock.sendall(struct.pack("<BBBBI", ICREQ, 0, 128, 0, 128) + psh)
        ptype, _ = self.recv_pdu()
        if ptype != ICRESP:
            raise SystemExit(f"memclient: expected ICResp, got PDU type {ptype}")
        self.cid = 0

    def recv_exact(self, n):
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise SystemExit("memclient: the target closed a connection")
            buf += chunk
        return bytes(buf)

    def recv_pdu(self):
        ch = self.recv_exact(8)
        ptype, _, _, _, plen = struct.unpack("<BBBBI", ch)
        rest = self.recv_exact(plen - 8)
        if ptype == C2H_TERM:
            raise SystemExit("memclient: the target sent C2HTermReq")
        return ptype, ch + rest

    def exec(self, cmd, data=b""):
        self.sock.sendall(capsule(cmd, data))
        ptype, pdu = self.recv_pdu()
        if ptype != CAPSULE_RESP:
            raise SystemExit(f"memclient: expected a completion, got PDU type {ptype}")
        result, _, _, _, status = struct.unpack_from("<QHHHH", pdu, 8)
        if status >> 1:
            raise SystemExit(f"memclient: command {cmd[0]:#x} failed with status {status >> 1:#x}")
        return result

    def next_cid(self):
        self.cid = (self.cid + 1) & 0xFFFF
        return self.cid

    def connect(self, subnqn, hostnqn, qid, sqsize, kato_ms, cntlid=0xFFFF):
        cmd = sqe(0x7F, self.next_cid(), fctype=0x01, sgl_len=1024, sgl_type=SGL_INCAPSULE)
        struct.pack_into("<HHHBxI", cmd, 40, 0, qid, sqsize - 1, 0, kato_ms)
        data = bytearray(1024)
        data[0:16] = bytes([qid + 1]) * 16
        struct.pack_into("<H", data, 16, cntlid)
        data[256:256 + len(subnqn)] = subnqn.encode()
        data[512:512 + len(hostnqn)] = hostnqn.encode()
        return self.exec(cmd, bytes(data)) & 0xFFFF

    def prop_set(self, offset, value):
        cmd = sqe(0x7F, self.next_cid(), fctype=0x00)
        struct.pack_into("<BxxxIQ", cmd, 40, 0, offset, value)
        self.exec(cmd)

    def prop_get(self, offset):
        cmd = sqe(0x7F, self.next_cid(), fctype=0x04)
        struct.pack_into("<BxxxI", cmd, 40, 0, offset)
        return self.exec(cmd)

    def write_all(self, depth):
        """depth pipelined 4 KiB in-capsule writes to LBA 0 (512-byte blocks), then their completions."""
        data = bytes(4096)
        burst = b"".join(capsule(sqe(0x01, cid, nsid=1, cdw12=7, sgl_len=4096, sgl_type=SGL_INCAPSULE), data)
                         for cid in range(depth))
        self.sock.sendall(burst)
        for _ in range(depth):
            ptype, pdu = self.recv_pdu()
            status = struct.unpack_from("<H", pdu, 22)[0] >> 1
            if ptype != CAPSULE_RESP or status:
                raise SystemExit(f"memclient: write failed (PDU type {ptype}, status {status:#x})")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("subnqn")
    ap.add_argument("--ctrls", type=int, default=16)
    ap.add_argument("--queues", type=int, default=8)
    ap.add_argument("--depth", type=int, default=128)
    ap.add_argument("--write-all", action="store_true")
    a = ap.parse_args()

    held = []
    for c in range(a.ctrls):
        hostnqn = HOSTNQN_FMT % c
        admin = Queue(a.port)
        cntlid = admin.connect(a.subnqn, hostnqn, 0, 32, 60000)
        admin.prop_set(0x14, 1 | (6 << 16) | (4 << 20))  # CC.EN, IOSQES 64, IOCQES 16
        for _ in range(200):
            if admin.prop_get(0x1C) & 1:
                break
        else:
            raise SystemExit("memclient: CSTS.RDY never set")
        n = a.queues - 1
        admin.exec(sqe(0x09, admin.next_cid(), cdw10=0x07, cdw11=(n << 16) | n))
        held.append(admin)
        for qid in range(1, a.queues + 1):
            q = Queue(a.port)
            q.connect(a.subnqn, hostnqn, qid, a.depth, 0, cntlid)
            held.append(q)
    print(f"connected {a.ctrls * a.queues}", flush=True)
    sys.stdin.readline()
    if a.write_all:
        ioqs = [q for i, q in enumerate(held) if i % (a.queues + 1)]
        for q in ioqs:
            q.write_all(a.depth)
        print(f"written {len(ioqs) * a.depth}", flush=True)
        sys.stdin.readline()
    for q in held:
        q.sock.close()


if __name__ == "__main__":
    main()
