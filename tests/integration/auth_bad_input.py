#!/usr/bin/env python3
# DH-HMAC-CHAP on the target against a raw host written here from the specification (SHA-256, the
# null DH group, responses computed with Python's hmac): the exchange that works, host-only and
# bidirectional, and everything a host must not get away with: commands and I/O queues before the
# admin queue authenticated, a wrong secret, a replayed or truncated message, messages out of turn,
# a bad command, a host that never authenticates, a flood of failures; each gets the status or
# Failure message the specification names, one log line, and no access.
# usage: auth_bad_input.py path/to/tightrope
import hashlib
import hmac
import os
import struct
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nvmf_client as nv  # noqa: E402
from checks import check, stopped_clean, summary, wait_for  # noqa: E402

SUBNQN = "nqn.2026-12.io.tightrope:auth-bad"
HOST = "nqn.2026-12.io.tightrope:auth-host"
HOST2 = "nqn.2026-12.io.tightrope:auth-host2"  # bidirectional
FLOOD = "nqn.2026-12.io.tightrope:auth-flood"
OPEN_HOST = "nqn.2026-12.io.tightrope:no-secret"
# The malformed-message battery fails 8 times: its own host, so no lock-out (10 failures) mixes in.
BATTERY = "nqn.2026-12.io.tightrope:auth-battery"
# Below the ephemeral range (32768-60999): no client socket of this or another test can hold it.
PORT = int(os.environ.get("AUTH_BAD_INPUT_PORT", "24206"))

# DHHC-1:00 secrets (used as they are): the base64 of 32 bytes and their CRC-32 (zlib's, LE).
KEY = bytes(range(32))
CTRL_KEY = bytes(range(100, 132))
WRONG = bytes(range(1, 33))

AUTH_REQUIRED = 0x191
SUCCESS1, CHALLENGE, FAILURE1 = 0x03, 0x01, 0xF1
FAIL_FAILED, FAIL_INCORRECT_PAYLOAD, FAIL_INCORRECT_MESSAGE = 0x01, 0x06, 0x07


def secret(key):
    import base64
    import zlib
    return "DHHC-1:00:" + base64.b64encode(key + struct.pack("<I", zlib.crc32(key))).decode() + ":"


def auth_cmd(q, fctype, length, data=b"", secp=0xE9, spsp=(1, 1)):
    cid = q.alloc_cid()
    b = nv.sqe(0x7F, cid, fctype=fctype, sgl_len=length,
               sgl_type=nv.SGL_INCAPSULE if fctype == 0x05 else nv.SGL_TRANSPORT)
    struct.pack_into("<xBBBI", b, 40, spsp[0], spsp[1], secp, length)
    return q.submit(b, data, incapsule=fctype == 0x05)


def send(q, msg, **kw):
    return auth_cmd(q, 0x05, len(msg), msg, **kw)


def receive(q, al=4096):
    return auth_cmd(q, 0x06, al)


def negotiate(tid, hashes=(1, 2, 3), groups=(0,), sc_c=0):
    desc = bytearray(64)
    desc[0], desc[2], desc[3] = 1, len(hashes), len(groups)
    desc[4:4 + len(hashes)] = bytes(hashes)
    desc[34:34 + len(groups)] = bytes(groups)
    return struct.pack("<BBHHBB", 0, 0, 0, tid, sc_c, 1) + bytes(desc)


def response(key, challenge, seq, tid, role, hostnqn, subnqn=SUBNQN):
    first, second, label = (hostnqn, subnqn, b"HostHost") if role == "host" else (subnqn, hostnqn, b"Controller")
    msg = challenge + struct.pack("<IHB", seq, tid, 0) + label + first.encode() + b"\0" + second.encode()
    return hmac.new(key, msg, hashlib.sha256).digest()


def reply(tid, rval, c2=None, seq2=0):
    hl = len(rval)
    return (struct.pack("<BBHHBxBxHI", 1, 2, 0, tid, hl, 1 if c2 else 0, 0, seq2) + rval
            + (c2 if c2 else bytes(hl)))


def parse(msg):
    """(auth_id, t_id, fields) of a controller message."""
    auth_id, tid = msg[1], struct.unpack_from("<H", msg, 4)[0]
    if auth_id == CHALLENGE:
        hl, hashid, dhgid, dhvlen, seq = struct.unpack_from("<BxBBHI", msg, 6)
        return auth_id, tid, {"hl": hl, "hashid": hashid, "dhgid": dhgid, "seq": seq, "c1": msg[16:16 + hl]}
    if auth_id == SUCCESS1:
        hl, rvalid = msg[6], msg[8]
        return auth_id, tid, {"rvalid": rvalid, "rval": msg[16:16 + hl]}
    if auth_id == FAILURE1:
        return auth_id, tid, {"rescode": msg[6], "exp": msg[7]}
    return auth_id, tid, {}


def authenticate(q, hostnqn, key, tid=1, ctrl_key=None):
    """The whole exchange; returns (last controller message, its fields, the Reply sent)."""
    c = send(q, negotiate(tid))
    assert c.status == 0, c
    aid, _, ch = parse(receive(q).data)
    if aid != CHALLENGE:
        return aid, ch, None
    c2 = os.urandom(32) if ctrl_key else None
    r = reply(tid, response(key, ch["c1"], ch["seq"], tid, "host", hostnqn), c2, 0x1234 if c2 else 0)
    assert send(q, r).status == 0
    aid, _, f = parse(receive(q).data)
    if aid == SUCCESS1 and ctrl_key:
        f["ctrl_ok"] = f["rvalid"] == 1 and hmac.compare_digest(
            f["rval"], response(ctrl_key, c2, 0x1234, tid, "ctrl", hostnqn))
        if f["ctrl_ok"]:
            assert send(q, struct.pack("<BBHH10x", 1, 4, 0, tid)).status == 0  # Success2
    return aid, f, r


def connect(hostnqn, qid=0, cntlid=0xFFFF):
    q = nv.Queue(port=PORT)
    c = q.fabrics_connect(SUBNQN, hostnqn, qid=qid, cntlid=cntlid)
    return q, c


def good_exchanges(t):
    q, c = connect(HOST)
    check("Connect answers with AUTHREQ.ATR (bit 17) for a host with a secret", c.status == 0 and c.result & (1 << 17))
    check("Property Get before authentication: Authentication Required", q.prop_get(0x1C).status & 0x7FF == AUTH_REQUIRED)
    check("Identify before authentication: Authentication Required", q.identify(1).status & 0x7FF == AUTH_REQUIRED)
    io, ioc = connect(HOST, qid=1, cntlid=q.cntlid)
    check("an I/O queue Connect before the admin queue authenticated is refused (Authentication Required)",
          ioc.status & 0x7FF == AUTH_REQUIRED, f"{ioc}")
    io.close()
    aid, f, _ = authenticate(q, HOST, KEY)
    check("host-only exchange ends in Success1 without a controller response", aid == SUCCESS1 and f["rvalid"] == 0, f"{aid} {f}")
    q.enable()
    check("Identify after authentication works", q.identify(1).status == 0)
    io, ioc = connect(HOST, qid=1, cntlid=q.cntlid)
    check("the I/O queue Connect now asks for authentication too", ioc.status == 0 and ioc.result & (1 << 17))
    check("a write before the I/O queue authenticated: Authentication Required",
          io.write(1, 0, b"x" * 512).status & 0x7FF == AUTH_REQUIRED)
    r = io.read(1, 0, 8)
    check("a read before the I/O queue authenticated: Authentication Required and not a byte of data",
          r.status & 0x7FF == AUTH_REQUIRED and r.data == b"", f"{r} {len(r.data)} bytes")
    aid, f, _ = authenticate(io, HOST, KEY, tid=2)
    check("the I/O queue authenticates on its own", aid == SUCCESS1)
    check("and then writes", io.write(1, 0, b"y" * 512).status == 0)
    aid, f, _ = authenticate(q, HOST, KEY, tid=3)
    check("a re-authentication on the live admin queue succeeds", aid == SUCCESS1 and q.identify(1).status == 0)
    q.close(), io.close()

    q, c = connect(HOST2)
    aid, f, _ = authenticate(q, HOST2, KEY, tid=9, ctrl_key=CTRL_KEY)
    check("bidirectional: the controller's response proves the controller secret", aid == SUCCESS1 and f.get("ctrl_ok"), f"{f}")
    q.enable()
    check("bidirectional: Identify after Success2", q.identify(1).status == 0)
    q.close()

    q, c = connect(OPEN_HOST)
    check("a host without a secret is not asked to authenticate", c.status == 0 and not c.result & (1 << 17))
    check("and its Authentication Send is a sequence error", send(q, negotiate(1)).status & 0x7FF == 0x00C)
    q.close()


def bad_exchanges(t):
    q, _ = connect(HOST)
    aid, f, _ = authenticate(q, HOST, WRONG)
    check("a wrong secret gets Failure1 'authentication failed'", aid == FAILURE1 and f["exp"] == FAIL_FAILED, f"{aid} {f}")
    check("after it: Identify is still refused", q.identify(1).status & 0x7FF == AUTH_REQUIRED)
    check("a wrong secret is logged with the host's name",
          f'host "{HOST}" failed authentication' in t.log_text() and "wrong response" in t.log_text())
    check("the failed queue is closed by the target", q.closed_by_peer(5))

    # A Reply that worked once, replayed on a new connection: its challenge is gone.
    q, _ = connect(HOST)
    aid, f, good_reply = authenticate(q, HOST, KEY, tid=5)
    q.close()
    q, _ = connect(HOST)
    send(q, negotiate(5))
    receive(q)
    send(q, good_reply)
    aid, _, f = parse(receive(q).data)
    check("a replayed Reply (another connection's challenge) gets Failure1", aid == FAILURE1 and f["exp"] == FAIL_FAILED)
    q.close()
    # Replayed on the same queue after it succeeded: out of turn.
    q, _ = connect(HOST)
    aid, f, r = authenticate(q, HOST, KEY, tid=6)
    send(q, r)
    aid, _, f = parse(receive(q).data)
    check("the same Reply sent again after Success1 gets Failure1 (incorrect protocol message)",
          aid == FAILURE1 and f["exp"] == FAIL_INCORRECT_MESSAGE, f"{aid} {f}")
    check("and the queue has lost its access", q.identify(1).status & 0x7FF == AUTH_REQUIRED)
    q.close()

    for name, msg, exp in [("a truncated Negotiate (5 bytes)", negotiate(1)[:5], FAIL_INCORRECT_PAYLOAD),
                           ("a Negotiate cut inside its descriptor", negotiate(1)[:40], FAIL_INCORRECT_PAYLOAD),
                           ("a Reply before any Negotiate", reply(1, bytes(32)), FAIL_INCORRECT_MESSAGE),
                           ("an unknown message", struct.pack("<BBHHBB", 1, 0x77, 0, 1, 0, 0), FAIL_INCORRECT_MESSAGE)]:
        q, _ = connect(BATTERY)
        c = send(q, msg)
        aid, _, f = parse(receive(q).data)
        check(f"{name}: Send completes, Receive gives Failure1 (explanation {exp})",
              c.status == 0 and aid == FAILURE1 and f["exp"] == exp, f"{c} {aid} {f}")
        q.close()

    q, _ = connect(BATTERY)
    send(q, negotiate(7))
    aid, _, ch = parse(receive(q).data)
    r = reply(7, response(KEY, ch["c1"], ch["seq"], 7, "host", BATTERY))
    send(q, r[:20])
    aid, _, f = parse(receive(q).data)
    check("a truncated Reply gets Failure1 (incorrect payload)", aid == FAILURE1 and f["exp"] == FAIL_INCORRECT_PAYLOAD, f"{f}")
    q.close()
    q, _ = connect(BATTERY)
    send(q, negotiate(8))
    aid, _, ch = parse(receive(q).data)
    send(q, reply(99, response(KEY, ch["c1"], ch["seq"], 99, "host", BATTERY)))
    aid, _, f = parse(receive(q).data)
    check("a Reply from another transaction (T_ID) gets Failure1", aid == FAILURE1 and f["exp"] == FAIL_INCORRECT_PAYLOAD)
    q.close()
    q, _ = connect(BATTERY)
    check("a DH group the host is not configured for: Failure1 (DH group unusable)",
          send(q, negotiate(1, groups=(1,))).status == 0 and parse(receive(q).data)[2].get("exp") == 0x05)
    q.close()
    q, _ = connect(BATTERY)
    check("secure channel concatenation asked for: Failure1 (SC_C mismatch)",
          send(q, negotiate(1, sc_c=1)).status == 0 and parse(receive(q).data)[2].get("exp") == 0x03)
    q.close()

    q, _ = connect(BATTERY)
    check("Authentication Send with another security protocol: Invalid Field",
          send(q, negotiate(1), secp=0xEA).status & 0x7FF == 0x002)
    check("Authentication Send with SPSP 0: Invalid Field", send(q, negotiate(1), spsp=(0, 1)).status & 0x7FF == 0x002)
    check("Authentication Receive of 1 MiB: Invalid Field", receive(q, 1 << 20).status & 0x7FF == 0x002)
    send(q, negotiate(1))
    check("Authentication Receive too small for the Challenge: Invalid Field", receive(q, 8).status & 0x7FF == 0x002)
    q.close()


def silent_and_flood(t):
    # A host that connects and never authenticates is closed at the handshake timeout (2 s here).
    q, c = connect(HOST)
    start = time.monotonic()
    closed = q.closed_by_peer(6)
    check(f"a queue that never authenticates is closed ({time.monotonic() - start:.1f} s; timeout 2 s)", closed)
    check("with a log line saying so", "did not authenticate queue 0 within 2000 ms" in t.log_text())

    # A flood of wrong secrets: after 10 failures in 10 s, the host's attempts are refused at once.
    for i in range(10):
        q, _ = connect(FLOOD)
        authenticate(q, FLOOD, WRONG, tid=i)
        q.close()
    q, _ = connect(FLOOD)
    aid, f, r = authenticate(q, FLOOD, KEY, tid=11)
    check("after 10 failures, even the right secret is refused for a while (Failure1 at Negotiate)",
          aid == FAILURE1 and r is None, f"{aid} {f}")
    # This test has caused 23 failures within seconds by now: the log must not have a line for each.
    lines = [ln for ln in t.log_text().splitlines() if "failed authentication" in ln]
    check(f"failures are logged rate-limited ({len(lines)} lines for 23 failures)", 0 < len(lines) < 23)
    q.close()
    q, _ = connect(HOST2)
    aid, f, _ = authenticate(q, HOST2, KEY, tid=12, ctrl_key=CTRL_KEY)
    check("another host is not affected by the flood", aid == SUCCESS1 and f.get("ctrl_ok"))
    q.close()


def main():
    binary = os.path.abspath(sys.argv[1])
    with tempfile.TemporaryDirectory() as d:
        args = ["-l", f"127.0.0.1:{PORT}", "-n", SUBNQN, "-N", "mem:16M", "--handshake-timeout", "2",
                "-H", HOST, "--dhchap-secret", secret(KEY),
                "-H", HOST2, "--dhchap-secret", secret(KEY), "--dhchap-ctrl-secret", secret(CTRL_KEY),
                "-H", FLOOD, "--dhchap-secret", secret(KEY), "-H", BATTERY, "--dhchap-secret", secret(KEY),
                "-H", OPEN_HOST]
        t = nv.Target(binary, args, os.path.join(d, "target.log"), os.path.join(d, "ctl.sock"))
        try:
            good_exchanges(t)
            bad_exchanges(t)
            silent_and_flood(t)
            check("no secret in the target's log", "DHHC-1" not in t.log_text())
            left = wait_for(lambda: not t.controllers(SUBNQN), 5)
            check("no controller left once the hosts are gone", left is not None, f"{t.controllers(SUBNQN)}")
        finally:
            log = stopped_clean(t)
    return summary(log)


if __name__ == "__main__":
    sys.exit(main())
