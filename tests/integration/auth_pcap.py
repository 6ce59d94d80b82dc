#!/usr/bin/env python3
"""The in-band authentication in an NVMe/TCP capture: what Wireshark decodes of it (Connect
responses asking for authentication, Authentication Send/Receive with security protocol E9h), and,
from the TCP payload tshark hands over, the AUTH messages those commands carried, in order per
connection (Wireshark 4.0 names the commands but not the DH-HMAC-CHAP payload).
usage: auth_pcap.py PCAP PORT   -- exit 0 if every authenticated connection shows a whole exchange
"""
import struct
import subprocess
import sys
from collections import defaultdict

AUTH_NAMES = {0x00: "Negotiate", 0x01: "Challenge", 0x02: "Reply", 0x03: "Success1", 0x04: "Success2",
              0xf0: "Failure2", 0xf1: "Failure1"}
CAPSULE_CMD, CAPSULE_RESP, H2C_DATA, C2H_DATA = 4, 5, 6, 7
FABRICS, AUTH_SEND, AUTH_RECV = 0x7f, 0x05, 0x06


def tshark(pcap, port, *args):
    cmd = ["tshark", "-r", pcap, "-d", f"tcp.port=={port},nvme-tcp"] + list(args)
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def wireshark_view(pcap, port):
    """What Wireshark's own dissector says: auth commands by type and protocol, AUTHREQ seen."""
    out = tshark(pcap, port, "-Y", "nvme.fabrics.cmd.fctype == 5 || nvme.fabrics.cmd.fctype == 6",
                 "-T", "fields", "-e", "nvme.fabrics.cmd.fctype", "-e", "nvme.fabrics.cmd.auth.secp")
    cmds = defaultdict(int)
    for line in out.split("\n"):
        for fct, secp in zip(*(f.split(",") for f in line.split("\t"))) if line.strip() else []:
            cmds[(int(fct, 0), int(secp, 0))] += 1
    authreq = tshark(pcap, port, "-Y", "nvme.fabrics.cqe.connect.authreq != 0", "-T", "fields",
                     "-e", "frame.number").split()
    return cmds, len(authreq)


def streams(pcap, port):
    """TCP payload per (stream, direction), in order; direction 0 = to the target."""
    out = tshark(pcap, port, "-Y", "tcp.len > 0", "-T", "fields", "-e", "tcp.stream", "-e", "tcp.dstport",
                 "-e", "tcp.seq_raw", "-e", "tcp.payload", "-o", "tcp.desegment_tcp_streams:FALSE")
    data = defaultdict(dict)
    for line in out.split("\n"):
        if not line.strip():
            continue
        stream, dport, seq, payload = line.split("\t")
        key = (int(stream), 0 if int(dport) == port else 1)
        data[key][int(seq)] = bytes.fromhex(payload.replace(":", ""))
    return {k: b"".join(v[s] for s in sorted(v)) for k, v in data.items()}


def pdus(buf):
    off = 0
    while off + 8 <= len(buf):
        ptype, flags, hlen, pdo, plen = struct.unpack_from("<BBBBI", buf, off)
        if plen < 8 or off + plen > len(buf):
            break
        yield ptype, flags, hlen, pdo, buf[off:off + plen]
        off += plen


def auth_messages(to_target, to_host):
    """AUTH messages of one connection: Send data (in-capsule) and Receive data (C2HData)."""
    fctype_of = {}
    msgs = []
    for ptype, flags, hlen, pdo, pdu in pdus(to_target):
        if ptype == CAPSULE_CMD and len(pdu) >= 8 + 64:
            sqe = pdu[8:72]
            cid = struct.unpack_from("<H", sqe, 2)[0]
            if sqe[0] == FABRICS and sqe[4] in (AUTH_SEND, AUTH_RECV):
                fctype_of[cid] = sqe[4]
                data = pdu[pdo:] if pdo else b""
                if sqe[4] == AUTH_SEND and len(data) >= 2:
                    msgs.append((cid, "host", data))
    for ptype, flags, hlen, pdo, pdu in pdus(to_host):
        if ptype == C2H_DATA and len(pdu) >= 24:
            cid = struct.unpack_from("<H", pdu, 8)[0]
            if fctype_of.get(cid) == AUTH_RECV:
                msgs.append((cid, "ctrl", pdu[pdo:]))
    # The exchange alternates: each Send is answered by the next Receive, so the host's and the
    # controller's messages interleave, host first.
    host = [d for _, who, d in msgs if who == "host"]
    ctrl = [d for _, who, d in msgs if who == "ctrl"]
    order = []
    for i in range(max(len(host), len(ctrl))):
        order += [("host", m) for m in host[i:i + 1]] + [("ctrl", m) for m in ctrl[i:i + 1]]
    return [(who, AUTH_NAMES.get(d[1], f"id {d[1]:#x}")) for who, d in order]


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    pcap, port = sys.argv[1], int(sys.argv[2])
    cmds, authreq = wireshark_view(pcap, port)
    print("Wireshark: Connect responses with AUTHREQ set: %d" % authreq)
    for (fct, secp), n in sorted(cmds.items()):
        print("Wireshark: %s, security protocol %#x: %d" % ("Authentication Send" if fct == 5 else
                                                            "Authentication Receive", secp, n))
    s = streams(pcap, port)
    whole = failed = 0
    for stream in sorted({k[0] for k in s}):
        names = [n for _, n in auth_messages(s.get((stream, 0), b""), s.get((stream, 1), b""))]
        if not names:
            continue
        print("connection %d: %s" % (stream, " ".join(names)))
        if names[:4] == ["Negotiate", "Challenge", "Reply", "Success1"]:
            whole += 1
        if "Failure1" in names or "Failure2" in names:
            failed += 1
    ok = authreq > 0 and whole > 0 and all(secp == 0xe9 for _, secp in cmds) and cmds
    print("%d connections authenticated with a whole exchange, %d with a Failure message, %d Connect "
          "responses asking for it" % (whole, failed, authreq))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
