#!/usr/bin/env python3
# DH-HMAC-CHAP from the controller's side, scripted: bad_target.py's fake NVMe/TCP controller with
# in-band authentication added. It asks tightrope's host to authenticate on every queue, holds what the
# host sends to what the Linux kernel's host sends (the Authentication Send/Receive fields, AUTH_Negotiate
# byte for byte, the Reply, Success2, Failure2), checks the host's responses and makes its own with
# Python's hmac and pow (nothing shared with src/nvme's OpenSSL code), and misbehaves on cue: a wrong
# or missing controller response, a Challenge that is malformed or for another transaction, a DH value
# of the wrong size or outside the group, AUTH_Failure1, ASCR, no ATR while the host holds its secret.
# Then `tightrope connect` with both secrets: `list` says so, no file, log or command line of the host
# process holds a secret, and a reconnect authenticates again.
# usage: auth_target.py path/to/tightrope   (root and /dev/fuse for the connect part)
import base64
import functools
import hashlib
import hmac
import os
import re
import secrets
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import zlib

sys.dont_write_bytecode = True  # no __pycache__ left in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bad_target as bt  # noqa: E402
import checks  # noqa: E402

check = functools.partial(checks.check, detail_on_pass=True)
SUBNQN, HOSTNQN = bt.SUBNQN, bt.HOSTNQN
FCTYPE_AUTH_SEND, FCTYPE_AUTH_RECV = 0x05, 0x06
ATR, ASCR = 1 << 17, 1 << 18
SC_AUTH_REQUIRED = 0x4191  # what nvmet answers a command on a queue that has not authenticated (DNR set)
HASHES = {1: ("sha256", 32), 2: ("sha384", 48), 3: ("sha512", 64)}
# RFC 7919's ffdhe2048 (generator 2), as `openssl genpkey -genparam -pkeyopt group:ffdhe2048` prints it.
FFDHE2048 = int(
    "ffffffffffffffffadf85458a2bb4a9aafdc5620273d3cf1d8b9c583ce2d3695a9e13641146433fbcc939dce249b3ef97d2fe36363"
    "0c75d8f681b202aec4617ad3df1ed5d5fd65612433f51f5f066ed0856365553ded1af3b557135e7f57c935984f0c70e0e68b77e2a6"
    "89daf3efe8721df158a136ade73530acca4f483a797abc0ab182b324fb61d108a94bb2c8e3fbb96adab760d7f4681d4f42a3de394d"
    "f4ae56ede76372bb190b07a7c8ee0a6d709e02fce1cdf7e2ecc03404cd28342f619172fe9ce98583ff8e4f1232eef28183c3fe3b1b"
    "4c6fad733bb5fcbc2ec22005c58ef1837d1683b2c6f34a26c1b2effa886b423861285c97ffffffffffffffff", 16)


# ---- DH-HMAC-CHAP, written out from the specification (and the kernel's order of bytes) ----

def secret(key, hmac_id=0):
    """The DHHC-1 form of a key: base64 of the key and its little-endian CRC-32."""
    return f"DHHC-1:{hmac_id:02x}:" + base64.b64encode(key + zlib.crc32(key).to_bytes(4, "little")).decode() + ":"


def transformed(key, hmac_id, nqn):
    """What the protocol uses: the key itself (00), or HMAC-hash(key, NQN || "NVMe-over-Fabrics")."""
    if hmac_id == 0:
        return key
    return hmac.new(key, nqn.encode() + b"NVMe-over-Fabrics", HASHES[hmac_id][0]).digest()


def response(hashid, key, challenge, seq, tid, host, session=None):
    """HMAC(key, Ca || S || T_ID || SC_C || "HostHost" || NQNh || 0 || NQNs), or the controller's with
    "Controller" and the NQNs swapped; Ca = HMAC(H(session key), C) when a DH group is in use."""
    name = HASHES[hashid][0]
    if session:
        challenge = hmac.new(hashlib.new(name, session).digest(), challenge, name).digest()
    first, second = (HOSTNQN, SUBNQN) if host else (SUBNQN, HOSTNQN)
    h = hmac.new(key, challenge + struct.pack("<IHB", seq, tid, 0), name)
    h.update((b"HostHost" if host else b"Controller") + first.encode() + b"\0" + second.encode())
    return h.digest()


def negotiate_bytes(tid):
    """AUTH_Negotiate exactly as the kernel's nvme_auth_set_dhchap_negotiate_data fills it."""
    ids = bytearray(60)
    ids[0:3] = bytes([1, 2, 3])  # SHA-256, SHA-384, SHA-512
    ids[30:36] = bytes([0, 1, 2, 3, 4, 5])  # null, ffdhe2048 .. ffdhe8192
    return struct.pack("<BBHHBB", 0, 0, 0, tid, 0, 1) + bytes([1, 0, 3, 6]) + bytes(ids)


def failure2_bytes(tid, explanation):
    return struct.pack("<BBHHBB", 0, 0xF0, 0, tid, 1, explanation)


# ---- the fake controller ----

class AuthConn(bt.Conn):
    """A controller connection that asks for authentication on Connect and runs the controller's side."""

    def __init__(self, sock, target, index):
        super().__init__(sock, target, index)
        self.authreq = 0
        self.authenticated = False
        self.step = None
        self.tid = self.hashid = self.dhgid = self.s1 = self.s2 = None
        self.c1 = self.c2 = self.session = None
        self.refusal = 0  # the explanation of the Failure1 to send instead of Success1
        target.conns.append(self)

    def command(self, cmd):
        if cmd.opcode == bt.FABRICS and cmd.fctype == bt.FCTYPE_CONNECT:
            self.qid = struct.unpack_from("<H", cmd.sqe, 42)[0]
            self.authreq = self.target.scenario.get("authreq", ATR)
            return self.resp(cmd.cid, result=1 | self.authreq)
        if cmd.opcode == bt.FABRICS and cmd.fctype in (FCTYPE_AUTH_SEND, FCTYPE_AUTH_RECV):
            sqe = cmd.sqe
            fields = {"spsp0": sqe[41], "spsp1": sqe[42], "secp": sqe[43], "len": struct.unpack_from("<I", sqe, 44)[0],
                      "sgl": cmd.length, "incapsule": len(cmd.data)}
            if cmd.fctype == FCTYPE_AUTH_SEND:
                return self.auth_send(cmd, fields)
            return self.auth_receive(cmd, fields)
        if self.authreq & ATR and not self.authenticated:
            self.target.event(self, "command before authentication", {"opcode": cmd.opcode})
            return self.resp(cmd.cid, SC_AUTH_REQUIRED)
        return super().command(cmd)

    def auth_send(self, cmd, f):
        d = cmd.data
        kind = {0x00: "negotiate", 0x02: "reply", 0x04: "success2", 0xF0: "failure2"}.get(d[1] if d else -1, "?")
        self.target.event(self, kind, dict(f, data=bytes(d)))
        if kind == "negotiate":
            self.tid, self.step = struct.unpack_from("<H", d, 4)[0], "challenge"
        elif kind == "reply":
            self.take_reply(d)
        elif kind == "success2":
            self.authenticated = True
        return self.resp(cmd.cid)

    def auth_receive(self, cmd, f):
        sc = self.target.scenario
        self.target.event(self, "receive", f)
        if sc.get("receive_status"):
            return self.resp(cmd.cid, sc["receive_status"])
        if self.step == "challenge" and sc.get("failure1_for_challenge"):
            msg = struct.pack("<BBHHBB", sc.get("failure1_type", 0), 0xF1, 0, self.tid, 1, sc["failure1_for_challenge"])
        elif self.step == "challenge":
            msg = self.challenge()
        elif self.refusal:
            msg = struct.pack("<BBHHBB", 0, 0xF1, 0, self.tid, 1, self.refusal)
            end = sc.get("end_with_failure1")
            if end:
                # As Linux's target may: the association ends as the Failure1 goes out, and the end
                # overtakes its completion ("data") or the whole of it ("nothing").
                if end == "data":
                    self.send(self.c2h(cmd.cid, msg.ljust(f["len"], b"\0")))
                self.broken = True
                return self.sock.shutdown(socket.SHUT_WR)
        else:
            msg = self.success1()
        self.read_data(cmd, msg.ljust(f["len"], b"\0")[:f["len"]])

    def challenge(self):
        sc = self.target.scenario
        self.hashid, self.dhgid = sc.get("hash", 1), sc.get("dhgroup", 0)
        hl = sc.get("chal_hl", HASHES.get(self.hashid, ("", 64))[1])
        self.s1, self.c1 = secrets.randbits(31) + 1, os.urandom(hl)
        dhv = b""
        if self.dhgid == 1:
            self.x = secrets.randbits(256)
            dhv = pow(2, self.x, FFDHE2048).to_bytes(256, "big")
        dhv = sc.get("chal_dhv", dhv)
        self.step = "reply"
        return struct.pack("<BBHHBBBBHI", 1, 1, 0, sc.get("chal_tid", self.tid), hl, 0, self.hashid, self.dhgid,
                           len(dhv), self.s1) + self.c1 + dhv

    def take_reply(self, d):
        hl, cvalid, dhvlen, seq = d[6], d[8], struct.unpack_from("<H", d, 10)[0], struct.unpack_from("<I", d, 12)[0]
        rval, c2, dhv = d[16:16 + hl], d[16 + hl:16 + 2 * hl], d[16 + 2 * hl:16 + 2 * hl + dhvlen]
        if self.dhgid == 1:
            self.session = pow(int.from_bytes(dhv, "big"), self.x, FFDHE2048).to_bytes(256, "big")
        sc = self.target.scenario
        key = sc.get("io_host_key", sc["host_key"]) if self.qid else sc["host_key"]
        want = response(self.hashid, key, self.c1, self.s1, self.tid, True, self.session)
        ok = hl == len(want) and hmac.compare_digest(rval, want)
        self.target.event(self, "reply checked", {"ok": ok, "hl": hl, "cvalid": cvalid, "seq": seq, "dhvlen": dhvlen})
        self.refusal = 0 if ok else 1
        if ok and cvalid & 1:
            self.c2, self.s2 = c2, seq
        elif ok:
            self.authenticated = True  # as nvmet: no controller challenge, done at the Reply
        self.step = "success1"

    def success1(self):
        sc = self.target.scenario
        hl = HASHES[self.hashid][1]
        rval, rvalid = b"", 0
        if self.c2 is not None and sc.get("r2") != "none":
            rval = response(self.hashid, sc["ctrl_key"], self.c2, self.s2, self.tid, False, self.session)
            if sc.get("r2") == "wrong":
                rval = bytes([rval[0] ^ 1]) + rval[1:]
            rvalid = 1
        return struct.pack("<BBHHBBB7x", 1, 3, 0, self.tid, sc.get("success1_hl", hl), 0, rvalid) + rval


class AuthTarget(bt.FakeTarget):
    def __init__(self, scenario):
        self.conns = []
        self.auth_events = []  # (qid, kind, fields)
        super().__init__(scenario, AuthConn)

    def event(self, conn, kind, fields):
        with self.lock:
            self.auth_events.append((conn.qid, kind, fields))

    def of(self, kind, qid=None):
        with self.lock:
            return [f for q, k, f in self.auth_events if k == kind and (qid is None or q == qid)]

    def drop_all(self):
        """Every connection reset at once, as a path that fails."""
        for c in list(self.conns):
            try:
                c.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


# ---- the runs ----

K_HOST, K_CTRL, K_OTHER = os.urandom(32), os.urandom(48), os.urandom(32)
S_HOST, S_CTRL, S_OTHER = secret(K_HOST), secret(K_CTRL), secret(K_OTHER)
# The same keys, labelled to be transformed first (SHA-256 with the host NQN, SHA-384 with the subsystem's).
S_HOST_T, S_CTRL_T = secret(K_HOST, 1), secret(K_CTRL, 2)
KEYS = {"host_key": K_HOST, "ctrl_key": K_CTRL}
BENCH = ["bench", "-n", SUBNQN, "--size", "64k", "--iodepth", "1", "--rw", "read", "--bs", "4k"]
ID_CTRL = ["id-ctrl", "-n", SUBNQN]


def run(binary, name, scenario, args):
    target = AuthTarget(scenario)
    rc, out, err, secs = bt.run_host(binary, args, target.port)
    target.stop()
    check(f"{name}: no sanitizer report", not bt.SANITIZER.search(err), err[-2000:] if bt.SANITIZER.search(err) else "")
    return target, rc, err, secs


def wire_checks(name, t, queues, bidi):
    """What the host sent is what the kernel's host sends, and every queue authenticated on its own."""
    negs = {q: [f for f in t.of("negotiate", q)] for q in range(queues)}
    tids = [struct.unpack_from("<H", n[0]["data"], 4)[0] for n in negs.values() if n]
    check(f"{name}: one AUTH_Negotiate on each of the {queues} queues, each its own transaction",
          all(len(n) == 1 for n in negs.values()) and len(set(tids)) == queues, f"transaction IDs {tids}")
    exact = all(n[0]["data"] == negotiate_bytes(struct.unpack_from("<H", n[0]["data"], 4)[0])
                for n in negs.values() if n)
    check(f"{name}: AUTH_Negotiate byte for byte the kernel's (SHA-256/384/512; null, ffdhe2048..8192)", exact,
          "" if exact else next(iter(negs.values()))[0]["data"].hex())
    cmds = [f for q, k, f in t.auth_events if "spsp0" in f]
    check(f"{name}: every Authentication Send/Receive has SECP E9h, SPSP0 01h, SPSP1 01h",
          cmds and all((f["secp"], f["spsp0"], f["spsp1"]) == (0xE9, 1, 1) for f in cmds), f"{len(cmds)} commands")
    sends = [f for q, k, f in t.auth_events if "data" in f]
    check(f"{name}: every Authentication Send carries its message in the capsule, TL its length",
          sends and all(f["len"] == f["sgl"] == f["incapsule"] == len(f["data"]) for f in sends),
          "; ".join(f"TL {f['len']} SGL {f['sgl']} in capsule {f['incapsule']}" for f in sends[:3]))
    recvs = t.of("receive")
    check(f"{name}: every Authentication Receive asks for AL 4096",
          recvs and all(f["len"] == f["sgl"] == 4096 for f in recvs))
    replies = t.of("reply checked")
    check(f"{name}: the controller checked {queues} Replies, each response right",
          len(replies) == queues and all(r["ok"] for r in replies), str(replies))
    check(f"{name}: " + ("CVALID 1 with a non-zero S2 (bidirectional)" if bidi else "CVALID 0, S2 0 (host only)"),
          replies and all(r["cvalid"] == bidi and (r["seq"] != 0) == bidi for r in replies))
    s2 = t.of("success2")
    want = [struct.pack("<BBHH10x", 1, 4, 0, tid) for tid in tids] if bidi else []
    check(f"{name}: {'a Success2 on every queue' if bidi else 'no Success2'}",
          sorted(f["data"] for f in s2) == sorted(want), f"{len(s2)} Success2")
    check(f"{name}: no AUTH_Failure2, no command before authentication",
          not t.of("failure2") and not t.of("command before authentication"))


def good_runs(binary):
    name = "host only, SHA-256, null group (id-ctrl)"
    t, rc, err, _ = run(binary, name, dict(KEYS, hash=1), ID_CTRL + ["-S", S_HOST])
    check(f"{name}: id-ctrl succeeds", rc == 0, bt.tail(err) if rc else "")
    wire_checks(name, t, 2, False)  # id-ctrl opens one I/O queue too
    check(f"{name}: the kernel's line: authenticated with hash hmac(sha256) dhgroup null",
          re.search(r"authenticated with hash hmac\(sha256\) dhgroup null", err) and
          "controller authenticated" not in err,
          bt.tail(err, 3))

    name = "bidirectional, SHA-384, ffdhe2048, transformed secrets, 2 I/O queues (bench)"
    keys = {"host_key": transformed(K_HOST, 1, HOSTNQN), "ctrl_key": transformed(K_CTRL, 2, SUBNQN)}
    t, rc, err, _ = run(binary, name, dict(keys, hash=2, dhgroup=1), BENCH + ["--numjobs", "2", "-S", S_HOST_T,
                                                                              "-C", S_CTRL_T])
    check(f"{name}: bench succeeds", rc == 0, bt.tail(err) if rc else "")
    wire_checks(name, t, 3, True)
    dh = [r["dhvlen"] for r in t.of("reply checked")]
    check(f"{name}: every Reply carries a 256-byte DH value, and the session keys agreed", dh == [256] * 3, str(dh))
    check(f"{name}: the kernel's lines: hmac(sha384) dhgroup ffdhe2048, controller authenticated",
          re.search(r"authenticated with hash hmac\(sha384\) dhgroup ffdhe2048", err) and
          "controller authenticated" in err, bt.tail(err, 3))

    name = "no ATR, host secret only"
    t, rc, err, _ = run(binary, name, dict(KEYS, authreq=0), ID_CTRL + ["-S", S_HOST])
    check(f"{name}: connects without authenticating, as the kernel's host does", rc == 0 and not t.auth_events,
          bt.tail(err) if rc else "")
    name = "discovery controller without ATR, both secrets"
    t, rc, err, _ = run(binary, name, dict(KEYS, authreq=0), ["discover", "-S", S_HOST, "-C", S_CTRL])
    check(f"{name}: discover works (Linux never authenticates a discovery controller)", rc == 0, bt.tail(err))


# name, scenario, host arguments, the line the host must print, the Failure2 explanation it must send (or None)
REFUSALS = [
    ("wrong host secret", dict(KEYS), ID_CTRL + ["-S", S_OTHER],
     r"queue 0: authentication failed: refused by the controller \(AUTH_Failure1: authentication failed\)", None),
    ("wrong controller response", dict(KEYS, r2="wrong"), ID_CTRL + ["-S", S_HOST, "-C", S_CTRL],
     r"queue 0: controller authentication failed: its response does not prove the controller secret", 1),
    ("Success1 without the controller's response", dict(KEYS, r2="none"), ID_CTRL + ["-S", S_HOST, "-C", S_CTRL],
     r"queue 0: controller authentication failed: DH-HMAC-CHAP_Success1 carries no response", 1),
    ("wrong host secret; the Failure1's completion lost to the connection's end", dict(KEYS, end_with_failure1="data"),
     ID_CTRL + ["-S", S_OTHER], r"queue 0: authentication failed: refused by the controller \(AUTH_Failure1: "
     r"authentication failed\), which then ended the connection", None),
    ("wrong host secret; the connection ends instead of a Failure1", dict(KEYS, end_with_failure1="nothing"),
     ID_CTRL + ["-S", S_OTHER], r"queue 0: authentication failed: the controller ended the connection instead of "
     r"sending DH-HMAC-CHAP_Success1 \(connection closed by the controller\)", None),
    ("Success1 with another hash length", dict(KEYS, success1_hl=48), ID_CTRL + ["-S", S_HOST],
     r"DH-HMAC-CHAP_Success1 has hash length 48, not 32", 4),
    ("Challenge for another transaction", dict(KEYS, chal_tid=5), ID_CTRL + ["-S", S_HOST],
     r"authentication failed: DH-HMAC-CHAP_Challenge for transaction 5, ours is 0", None),
    ("Challenge with a hash never offered", dict(KEYS, hash=4), ID_CTRL + ["-S", S_HOST],
     r"authentication failed: malformed DH-HMAC-CHAP_Challenge \(hash function not usable\)", 4),
    ("Challenge whose length is not its hash's", dict(KEYS, chal_hl=48), ID_CTRL + ["-S", S_HOST],
     r"authentication failed: malformed DH-HMAC-CHAP_Challenge \(incorrect payload\)", 6),
    ("ffdhe2048 Challenge with a 128-byte DH value", dict(KEYS, dhgroup=1, chal_dhv=bytes(range(128))),
     ID_CTRL + ["-S", S_HOST], r"the Challenge's DH value is 128 bytes, ffdhe2048's are 256", 6),
    ("ffdhe2048 Challenge with a DH value outside the group (0)", dict(KEYS, dhgroup=1, chal_dhv=bytes(256)),
     ID_CTRL + ["-S", S_HOST], r"the controller's ffdhe2048 public value is not a member of the group", 6),
    ("AUTH_Failure1 instead of a Challenge", dict(KEYS, failure1_for_challenge=4), ID_CTRL + ["-S", S_HOST],
     r"authentication failed: refused by the controller \(AUTH_Failure1: hash function not usable\)", None),
    ("AUTH_Failure1 as kernels before 6.4 sent it (type 01h)", dict(KEYS, failure1_for_challenge=5, failure1_type=1),
     ID_CTRL + ["-S", S_HOST], r"refused by the controller \(AUTH_Failure1: DH group not usable\)", None),
    ("Authentication Receive refused", dict(KEYS, receive_status=0x4002), ID_CTRL + ["-S", S_HOST],
     r"Authentication Receive \(DH-HMAC-CHAP_Challenge\): status 0x4002 \(Invalid Field in Command\)", None),
    ("ATR, no secret given", dict(KEYS), ID_CTRL,
     r"queue 0: controller requires authentication; no --dhchap-secret given", None),
    ("no ATR while the host holds the controller's secret", dict(KEYS, authreq=0),
     ID_CTRL + ["-S", S_HOST, "-C", S_CTRL], r"queue 0: controller did not authenticate itself", None),
    ("secure channel concatenation asked (ASCR)", dict(KEYS, authreq=ATR | ASCR), ID_CTRL + ["-S", S_HOST],
     r"queue 0: the controller asks for secure channel concatenation \(AUTHREQ.ASCR\)", None),
    ("--dhchap-ctrl-secret without --dhchap-secret", dict(KEYS), ID_CTRL + ["-C", S_CTRL],
     r"--dhchap-ctrl-secret needs --dhchap-secret", None),
    ("a damaged secret", dict(KEYS), ID_CTRL + ["-S", S_HOST[:12] + ("A" if S_HOST[12] != "A" else "B") + S_HOST[13:]],
     r"--dhchap-secret: CRC mismatch", None),
]


def refusals(binary):
    for name, scenario, args, expect, explanation in REFUSALS:
        t, rc, err, secs = run(binary, name, scenario, args)
        bt.judge(name, rc, err, secs, expect)
        f2 = t.of("failure2")
        if explanation is None:
            check(f"{name}: no AUTH_Failure2 (the kernel's host sends none here either)", not f2,
                  f2[0]["data"].hex() if f2 else "")
        else:
            tid = struct.unpack_from("<H", t.of("negotiate")[0]["data"], 4)[0] if t.of("negotiate") else -1
            check(f"{name}: AUTH_Failure2 (common message, reason 01h, explanation {explanation:02x}h) sent",
                  len(f2) == 1 and f2[0]["data"] == failure2_bytes(tid, explanation),
                  f2[0]["data"].hex() if f2 else "none sent")
        secrets_seen = [s for s in (S_HOST, S_CTRL, S_OTHER, S_HOST_T, S_CTRL_T) if s in err or s[10:30] in err]
        check(f"{name}: no secret in what the host printed", not secrets_seen)
    # An I/O queue that fails: the connection as a whole fails, naming the queue.
    name = "I/O queue refused (wrong key for queue 1 only)"
    t, rc, err, secs = run(binary, name, dict(KEYS, io_host_key=K_OTHER), BENCH + ["-S", S_HOST])
    bt.judge(name, rc, err, secs, r"queue 1: authentication failed: refused by the controller")


def host_env(state):
    return dict(os.environ, TIGHTROPE_STATE_DIR=state)


def connect_and_reconnect(binary):
    """tightrope connect with both secrets: list shows the authentication and nothing shows a secret;
    a lost path reconnects and authenticates again."""
    name = "connect -S -C"
    check(f"{name}: runs as root with /dev/fuse", os.geteuid() == 0 and os.path.exists("/dev/fuse"))
    state = tempfile.mkdtemp(prefix="tightrope-auth.")
    target = AuthTarget(dict(KEYS, hash=3))
    try:
        rc, out, err, _ = bt.run_host(binary, ["connect", "-n", SUBNQN, "--no-loop", "-c", "1", "-i", "1",
                                               "-S", S_HOST, "-C", S_CTRL], target.port, {"TIGHTROPE_STATE_DIR": state})
        check(f"{name}: connects", rc == 0, out.strip() if rc == 0 else bt.tail(err))
        if rc != 0:
            return
        ctrl = out.split()[-1]
        listing = subprocess.run([binary, "list"], capture_output=True, text=True, env=host_env(state)).stdout
        check(f"{name}: list says auth: dhchap-bidirectional", "auth: dhchap-bidirectional" in listing, listing.strip())
        js = subprocess.run([binary, "list-subsys", "-o", "json"], capture_output=True, text=True,
                            env=host_env(state)).stdout
        check(f"{name}: list-subsys -o json has \"auth\": \"dhchap-bidirectional\"",
              re.search(r'"auth": *"dhchap-bidirectional"', js), js[:300])
        pid = int(re.search(r'"pid": *(\d+)', js).group(1))
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read().replace(b"\0", b" ").decode()
        check(f"{name}: the host process's command line shows no secret",
              S_HOST not in cmdline and S_CTRL not in cmdline and "DHHC-1" not in cmdline, cmdline)

        # A lost path: every connection reset; the host process reconnects and authenticates again.
        before = len(target.of("reply checked", 0))
        target.drop_all()
        log = os.path.join(state, "ctrl", f"{ctrl}.log")
        waited = checks.wait_for(lambda: "Successfully reconnected" in open(log).read(), 15)
        check(f"{name}: reconnects after the path was lost", waited is not None,
              f"{waited:.1f} s" if waited is not None else bt.tail(open(log).read()))
        after = target.of("reply checked", 0)
        check(f"{name}: the reconnect authenticated the admin queue again, both ways",
              len(after) == before + 1 and after[-1]["ok"] and after[-1]["cvalid"] == 1 and
              len(target.of("success2", 0)) == before + 1, f"{len(after)} admin queue transactions")
        p = subprocess.run([binary, "disconnect", "-n", SUBNQN], capture_output=True, text=True, timeout=30,
                           env=host_env(state))
        check(f"{name}: disconnect", p.returncode == 0, p.stderr.strip())
        text = open(log).read()
        check(f"{name}: the host log has the kernel's lines (hmac(sha512) dhgroup null, controller authenticated)",
              re.search(r"authenticated with hash hmac\(sha512\) dhgroup null", text) and
              "controller authenticated" in text, bt.tail(text, 4))
        leaks = []
        for root, _, files in os.walk(state):
            for fn in files:
                path = os.path.join(root, fn)
                try:
                    with open(path, "rb") as f:
                        blob = f.read()
                except OSError:
                    continue
                if any(s.encode() in blob or s[10:40].encode() in blob for s in (S_HOST, S_CTRL)):
                    leaks.append(path)
        check(f"{name}: no file in the state directory (records, log) holds a secret", not leaks, " ".join(leaks))
        check(f"{name}: no sanitizer report in the host log", not bt.SANITIZER.search(text))
    finally:
        subprocess.run([binary, "disconnect-all"], capture_output=True, timeout=30, env=host_env(state))
        target.stop()
        shutil.rmtree(state, ignore_errors=True)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: auth_target.py path/to/tightrope")
    binary = sys.argv[1]
    t0 = time.time()
    good_runs(binary)
    refusals(binary)
    connect_and_reconnect(binary)
    print(f"({time.time() - t0:.1f} s)")
    sys.exit(checks.summary())


if __name__ == "__main__":
    main()
