#!/usr/bin/env python3
"""NVMe/TCP over TLS in a capture, as Wireshark decodes it (the port decoded as TLS): per TCP
connection, whether it opened with a TLS 1.3 handshake that used a pre-shared key, and that every
record after the handshake is encrypted application data (an NVMe/TCP PDU in the clear would not
parse as a TLS record: Wireshark flags it malformed). Connections that did not start with a TLS
record are counted apart (a plain connection a TLS-only port refused).
usage: tls_pcap.py PCAP PORT   -- exit 0 if at least one connection carried data over TLS 1.3 with
a PSK and no connection shows plaintext after its handshake
"""
import subprocess
import sys
from collections import defaultdict

HANDSHAKE, APPDATA, ALERT, CCS = 22, 23, 21, 20


def tshark(pcap, port, *args):
    cmd = ["tshark", "-r", pcap, "-d", f"tcp.port=={port},tls"] + list(args)
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    pcap, port = sys.argv[1], int(sys.argv[2])
    # TLS 1.3 names an encrypted record's outer type "opaque type" (always 23, application data).
    fields = ["tcp.stream", "tcp.dstport", "tls.record.content_type", "tls.record.opaque_type", "tls.handshake.type",
              "tls.handshake.extensions.supported_version", "tls.handshake.extension.type",
              "tls.handshake.ciphersuite", "_ws.malformed", "tcp.payload"]
    out = tshark(pcap, port, "-Y", "tcp.len > 0", "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,",
                 *sum((["-e", f] for f in fields), []))
    conns = defaultdict(lambda: {"first": None, "records": [], "hs": set(), "v13": False, "psk": False,
                                 "suite": None, "malformed": 0})
    for line in out.split("\n"):
        if not line.strip():
            continue
        stream, dport, ctype, otype, htype, versions, exts, suites, malformed, payload = (line.split("\t") + [""] * 10)[:10]
        c = conns[int(stream)]
        if c["first"] is None and payload:
            c["first"] = int(payload.replace(":", "")[:2], 16)
        c["records"] += [int(t) for t in (ctype + "," + otype).split(",") if t]
        c["hs"] |= {int(t) for t in htype.split(",") if t}
        from_server = int(dport) != port
        if from_server and "0x0304" in versions:
            c["v13"] = True  # the ServerHello chose TLS 1.3
        if from_server and 2 in c["hs"] and "41" in exts.split(","):
            c["psk"] = True  # the ServerHello's pre_shared_key extension (41): the PSK was taken
        if from_server and suites:
            c["suite"] = suites.split(",")[0]
        c["malformed"] += 1 if malformed else 0
    tls_ok = plain = bad = 0
    for n, c in sorted(conns.items()):
        if c["first"] != HANDSHAKE:
            plain += 1
            print(f"connection {n}: plain (first byte {c['first']:#x})" if c["first"] is not None else
                  f"connection {n}: no payload")
            continue
        after = c["records"][c["records"].index(APPDATA):] if APPDATA in c["records"] else []
        # ChangeCipherSpec may come late: TLS 1.3's middlebox compatibility sends a dummy one.
        clean = not c["malformed"] and all(r in (APPDATA, ALERT, CCS) for r in after)
        status = ("TLS 1.3" if c["v13"] else "not TLS 1.3") + (", PSK" if c["psk"] else ", no PSK")
        print(f"connection {n}: {status}, suite {c['suite']}, {len(after)} encrypted records after the "
              f"handshake{'' if clean else ', SOMETHING ELSE AFTER IT'}")
        if c["v13"] and c["psk"] and after and clean:
            tls_ok += 1
        elif not clean or (after and not c["v13"]):
            bad += 1
    print(f"{tls_ok} connections carried NVMe/TCP over TLS 1.3 with a PSK, {bad} showed anything else after a "
          f"handshake, {plain} did not start with TLS")
    return 0 if tls_ok and not bad else 1


if __name__ == "__main__":
    sys.exit(main())
