#!/usr/bin/env python3
# TLS ports on the target, from raw clients and the config file: plain NVMe/TCP on a TLS-required
# port gets a C2HTermReq and a log line; a port that only allows TLS still serves plain hosts; a
# client that starts a handshake and stalls, or sends a ClientHello with no PSK we know, is closed;
# the discovery log says what each port requires and hides a TLS-required port from a host with no
# PSK; the config keeps tsas/treq and the hosts' keys across a save and a restart.
# usage: tls_target.py path/to/tightrope
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nvmf_client as nv  # noqa: E402
from checks import check, stopped_clean, summary  # noqa: E402

SUBNQN = "nqn.2026-12.io.tightrope:tls-target"
WITH_PSK = "nqn.2026-12.io.tightrope:has-psk"
NO_PSK = "nqn.2026-12.io.tightrope:no-psk"
# Below the ephemeral range (32768-60999): no client socket of this or another test can hold it.
BASE = int(os.environ.get("TLS_TARGET_PORT", "24207"))
TLS_PORT, OPEN_PORT, DISC_PORT = BASE, BASE + 10, BASE + 20


def config(path, key):
    port = lambda pid, port, tsas, treq, subs: {  # noqa: E731
        "addr": {"adrfam": "ipv4", "traddr": "127.0.0.1", "trsvcid": str(port), "trtype": "tcp",
                 "tsas": tsas, "treq": treq}, "portid": pid, "referrals": [], "subsystems": subs}
    with open(path, "w") as f:
        json.dump({"hosts": [{"nqn": WITH_PSK, "tls_key": key}, {"nqn": NO_PSK}],
                   "ports": [port(1, TLS_PORT, "tls1.3", "required", [SUBNQN]),
                             port(2, OPEN_PORT, "tls1.3", "not required", [SUBNQN]),
                             port(3, DISC_PORT, "none", "not specified", [])],
                   "subsystems": [{"nqn": SUBNQN, "attr": {"allow_any_host": "1"},
                                   "namespaces": [{"nsid": 1, "enable": 1, "device": {"path": "mem:16M"}}]}]}, f)


def disc_entries(port, hostnqn):
    d = nv.admin_connect(nv.DISCOVERY_NQN, port=port, hostnqn=hostnqn)
    hdr = d.get_log(0x70, 1024).data
    numrec = struct.unpack_from("<Q", hdr, 8)[0]
    log = d.get_log(0x70, 1024 * (numrec + 1)).data
    d.close()
    out = []
    for i in range(numrec):
        e = log[1024 * (i + 1):1024 * (i + 2)]
        out.append({"treq": e[3], "port": e[32:64].rstrip(b"\0 ").decode(), "sectype": e[768],
                    "subnqn": e[256:512].rstrip(b"\0").decode()})
    return out


def plain_on_tls_port(t):
    q = nv.Queue(port=TLS_PORT, do_icreq=False)
    q.send(q.pdu(nv.ICREQ, struct.pack("<HBBI", 0, 0, 0, 0) + bytes(112)))
    try:
        q.recv_pdu(expect_digest=False)
        term = None
    except nv.TermReq as e:
        term = e
    check("plain ICReq on a TLS-required port: C2HTermReq (invalid PDU header field)",
          term is not None and term.fes == 1, f"{term}")
    check("and the connection is closed", q.closed_by_peer(3))
    check("with a log line saying why", f"on port {TLS_PORT}, which requires TLS: refused" in t.log_text())
    q = nv.Queue(port=OPEN_PORT)
    c = q.fabrics_connect(SUBNQN, NO_PSK)
    check("a port that allows TLS still serves a plain host", c.status == 0, f"{c}")
    q.close()


def bad_handshakes(t):
    s = socket.create_connection(("127.0.0.1", TLS_PORT))
    s.sendall(b"\x16\x03\x01")  # the start of a TLS record, then nothing
    start = time.monotonic()
    s.settimeout(8)
    try:
        closed = s.recv(100) == b""
    except (ConnectionResetError, socket.timeout) as e:
        closed = not isinstance(e, socket.timeout)
    check(f"a stalled handshake is closed at the handshake timeout ({time.monotonic() - start:.1f} s; 2 s)", closed)
    s.close()
    # A real ClientHello with a PSK identity the target has no key for (openssl s_client).
    r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{TLS_PORT}", "-tls1_3", "-ciphersuites",
                        "TLS_AES_128_GCM_SHA256", "-psk_identity", f"NVMe0R01 {NO_PSK} {SUBNQN}", "-psk", "00" * 32],
                       input=b"", capture_output=True, timeout=20)
    check("a ClientHello for a host with no PSK fails the handshake", b"handshake failure" in r.stdout + r.stderr
          or r.returncode != 0, (r.stdout + r.stderr)[-300:].decode(errors="replace"))
    time.sleep(0.2)
    check("logged: unknown PSK identity", "TLS handshake failed" in t.log_text() and "unknown PSK identity" in t.log_text())


def discovery(t):
    seen = disc_entries(DISC_PORT, NO_PSK)
    ports = {e["port"] for e in seen if e["subnqn"] == SUBNQN}
    check("discovery: a host without a PSK does not see the TLS-required port",
          str(TLS_PORT) not in ports and str(OPEN_PORT) in ports, f"{seen}")
    seen = disc_entries(DISC_PORT, WITH_PSK)
    by_port = {e["port"]: e for e in seen if e["subnqn"] == SUBNQN}
    req, opt = by_port.get(str(TLS_PORT)), by_port.get(str(OPEN_PORT))
    check("discovery: a host with a PSK sees it, TREQ required, TSAS TLS 1.3",
          req and req["treq"] & 3 == 1 and req["sectype"] == 2, f"{seen}")
    check("discovery: the allowing port says TREQ not required, TSAS TLS 1.3",
          opt and opt["treq"] & 3 == 2 and opt["sectype"] == 2, f"{opt}")


def main():
    binary = os.path.abspath(sys.argv[1])
    key = subprocess.run([binary, "gen-tls-key"], capture_output=True, text=True, check=True).stdout.strip()
    with tempfile.TemporaryDirectory() as d:
        cfg = os.path.join(d, "config.json")
        config(cfg, key)
        t = nv.Target(binary, ["-c", cfg, "--handshake-timeout", "2"], os.path.join(d, "t.log"), os.path.join(d, "s"))
        try:
            plain_on_tls_port(t)
            bad_handshakes(t)
            discovery(t)
            t.ctl("save")
            saved = json.load(open(cfg))
            addrs = {p["portid"]: p["addr"] for p in saved["ports"]}
            check("ctl save keeps each port's tsas and treq",
                  (addrs[1]["tsas"], addrs[1]["treq"], addrs[2]["treq"], addrs[3]["tsas"]) ==
                  ("tls1.3", "required", "not required", "none"), f"{addrs}")
            check("ctl save keeps the host's TLS key", any(h.get("tls_key") == key for h in saved["hosts"]))
            check("the saved config is readable by its owner only", os.stat(cfg).st_mode & 0o077 == 0)
            check("no key in the log", "NVMeTLSkey" not in t.log_text())
        finally:
            log = stopped_clean(t)
        t = nv.Target(binary, ["-c", cfg], os.path.join(d, "t2.log"), os.path.join(d, "s"))
        try:
            ports = {p["portid"]: p["tls"] for p in t.ctl("list")["ports"]}
            check("after a restart from the saved config: the same TLS policies",
                  ports == {1: "required", 2: "allowed", 3: "none"}, f"{ports}")
        finally:
            stopped_clean(t, "restarted target")
    return summary(log)


if __name__ == "__main__":
    sys.exit(main())
