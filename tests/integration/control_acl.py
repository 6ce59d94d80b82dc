#!/usr/bin/env python3
# Host access control through the control socket, at scale: forbid-host drops every controller of
# the host (70 here, more than any fixed array held), changes nothing for other hosts, refuses and
# hides the host afterwards, says what it did, survives `ctl save` and a restart; allow-host undoes
# it. A namespace added while 300 controllers wait with an AER reaches every one of them.
# usage: control_acl.py path/to/tightrope
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
from checks import check, stopped_clean, summary, wait_for  # noqa: E402

OPEN = "nqn.2026-11.io.tightrope:acl-open"  # allows any host
LISTED = "nqn.2026-11.io.tightrope:acl-listed"  # allows the hosts it lists
HOST_A = "nqn.2026-11.io.tightrope:host-a"
HOST_B = "nqn.2026-11.io.tightrope:host-b"
HOST_C = "nqn.2026-11.io.tightrope:host-c"
HOST_D = "nqn.2026-11.io.tightrope:host-d"
# Below the ephemeral range (32768-60999): no client socket of this or another test can hold it.
PORT = int(os.environ.get("CONTROL_ACL_PORT", "24204"))
NR_A = 70  # more than the 64 controllers forbid-host once collected
NR_AEN = 300  # more than the 256 controllers a namespace change once reached
SC_CONNECT_INVALID_HOST = 0x4184
AEN_NS_CHANGED = 0x040002  # notice, namespace attribute changed, log page 04h



def raw_ctl(sock, req):
    """One request on the control socket; the reply as a dict."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(sock)
    s.sendall(json.dumps(req).encode() + b"\n")
    buf = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    s.close()
    return json.loads(buf)


def subsys(t, nqn):
    return next(s for s in t.ctl("list")["subsystems"] if s["nqn"] == nqn)


def host_ctrls(t, nqn, host):
    return [c for c in subsys(t, nqn)["controllers"] if c["hostnqn"] == host]


def wait_no_ctrls(t, nqn, host, limit=5.0):
    return wait_for(lambda: not host_ctrls(t, nqn, host), limit) is not None


def connect_status(nqn, host):
    q = nv.Queue(port=PORT)
    c = q.fabrics_connect(nqn, hostnqn=host)
    q.close()
    return c


def discovery_subnqns(hostnqn):
    return nv.discovery_subnqns(hostnqn, port=PORT)


def forbid_on_open_subsystem(t, sock):
    a = [nv.admin_connect(OPEN, port=PORT, hostnqn=HOST_A) for _ in range(NR_A)]
    b = nv.admin_connect(OPEN, port=PORT, hostnqn=HOST_B)
    check(f"host A holds {NR_A} controllers", len(host_ctrls(t, OPEN, HOST_A)) == NR_A)
    r = raw_ctl(sock, {"cmd": "forbid-host", "subsys": OPEN, "host": HOST_A})
    check(f"forbid-host replies ok with dropped {NR_A}", r.get("ok") is True and r.get("dropped") == NR_A, f"{r}")
    check("ctl list shows no controller of A left", wait_no_ctrls(t, OPEN, HOST_A), f"{host_ctrls(t, OPEN, HOST_A)}")
    closed = sum(q.closed_by_peer(wait=2) for q in a)
    check(f"all {NR_A} of A's connections closed by the target ({closed})", closed == NR_A)
    for q in a:
        q.close()
    s = subsys(t, OPEN)
    check("the subsystem still allows any host", s["allow_any_host"] is True, f"{s}")
    check("A is on the subsystem's deny list", s.get("denied_hosts") == [HOST_A], f"{s}")
    check("B's controller is untouched", b.keep_alive().status == 0 and len(host_ctrls(t, OPEN, HOST_B)) == 1)
    c = connect_status(OPEN, HOST_B)
    check("B can still connect", c.status == 0, f"{c}")
    c = connect_status(OPEN, HOST_A)
    check("A's Connect is refused with Connect Invalid Host (0x4184)",
          c.status == SC_CONNECT_INVALID_HOST and c.result & 0xFFFFFFFF == (1 << 16) | 512, f"{c}")
    check("discovery hides the subsystem from A", OPEN not in discovery_subnqns(HOST_A))
    check("discovery still shows it to B", OPEN in discovery_subnqns(HOST_B))
    r = raw_ctl(sock, {"cmd": "forbid-host", "subsys": OPEN, "host": HOST_A})
    check("forbidding A again: ok, 0 dropped", r.get("ok") is True and r.get("dropped") == 0, f"{r}")
    r = raw_ctl(sock, {"cmd": "forbid-host", "subsys": OPEN, "host": "badhost"})
    check("forbidding a malformed host NQN is an error", r.get("ok") is False, f"{r}")
    b.close()

    # The command's own words, with a host that has three controllers.
    cs = [nv.admin_connect(OPEN, port=PORT, hostnqn=HOST_C) for _ in range(3)]
    out = subprocess.run([t.binary, "ctl", "-S", sock, "forbid-host", OPEN, HOST_C], capture_output=True,
                         text=True, timeout=10)
    check("tightrope ctl forbid-host prints what it did",
          out.returncode == 0 and out.stdout.strip() == f"forbade {HOST_C} on {OPEN}: 3 controllers dropped",
          f"rc {out.returncode}: {out.stdout!r} {out.stderr!r}")
    check("C's controllers are gone", wait_no_ctrls(t, OPEN, HOST_C))
    for q in cs:
        q.close()


def forbid_on_listed_subsystem(t, sock):
    a = [nv.admin_connect(LISTED, port=PORT, hostnqn=HOST_A) for _ in range(2)]
    b = nv.admin_connect(LISTED, port=PORT, hostnqn=HOST_B)
    r = raw_ctl(sock, {"cmd": "forbid-host", "subsys": LISTED, "host": HOST_A})
    check("forbid-host on an allow-list subsystem: ok, dropped 2",
          r.get("ok") is True and r.get("dropped") == 2, f"{r}")
    check("... A's controllers are gone", wait_no_ctrls(t, LISTED, HOST_A))
    s = subsys(t, LISTED)
    check("... A leaves the allowed hosts, B stays, nothing is denied",
          s["hosts"] == [HOST_B] and s["allow_any_host"] is False and s.get("denied_hosts") == [], f"{s}")
    c = connect_status(LISTED, HOST_A)
    check("... A's Connect is refused (0x4184)", c.status == SC_CONNECT_INVALID_HOST, f"{c}")
    check("... B's controller is untouched and B can connect",
          b.keep_alive().status == 0 and connect_status(LISTED, HOST_B).status == 0)
    r = raw_ctl(sock, {"cmd": "forbid-host", "subsys": LISTED, "host": HOST_D})
    check("forbidding a host neither allowed nor connected there is an error", r.get("ok") is False, f"{r}")
    r = raw_ctl(sock, {"cmd": "allow-host", "subsys": LISTED, "host": HOST_A})
    check("allow-host puts A back on the list",
          r.get("ok") is True and sorted(subsys(t, LISTED)["hosts"]) == sorted([HOST_A, HOST_B]), f"{r}")
    check("... and A can connect again", connect_status(LISTED, HOST_A).status == 0)
    for q in a + [b]:
        q.close()


def save_and_allow(t, sock, saved):
    r = raw_ctl(sock, {"cmd": "save", "path": saved})
    with open(saved) as f:
        cfg = json.load(f)
    s = next(x for x in cfg["subsystems"] if x["nqn"] == OPEN)
    check("ctl save writes the deny list (denied_hosts) of the open subsystem",
          r.get("ok") is True and sorted(s.get("denied_hosts", [])) == sorted([HOST_A, HOST_C])
          and s["attr"]["allow_any_host"] == "1", f"{s}")
    r = raw_ctl(sock, {"cmd": "allow-host", "subsys": OPEN, "host": HOST_A})
    s = subsys(t, OPEN)
    check("allow-host takes A off the deny list, and the subsystem stays open to any host",
          r.get("ok") is True and s["denied_hosts"] == [HOST_C] and s["allow_any_host"] is True, f"{r} {s}")
    check("... A can connect again", connect_status(OPEN, HOST_A).status == 0)
    check("... B still can", connect_status(OPEN, HOST_B).status == 0)
    check("... and discovery shows the subsystem to A again", OPEN in discovery_subnqns(HOST_A))


def aen_to_every_controller(t, sock):
    ctrls = []
    for i in range(NR_AEN):
        q = nv.admin_connect(OPEN, port=PORT, hostnqn=HOST_D)
        ok = q.set_features(0x0B, 0x100).status == 0  # namespace attribute notices on
        cid = q.alloc_cid()
        q.send_cmd(nv.sqe(0x0C, cid))  # Asynchronous Event Request, left outstanding
        ctrls.append((q, cid, ok))
    check(f"{NR_AEN} controllers with notices enabled and an AER outstanding",
          all(ok for _, _, ok in ctrls) and len(host_ctrls(t, OPEN, HOST_D)) == NR_AEN)
    time.sleep(0.3)
    r = t.ctl("add-ns", OPEN, "mem:1M", "--nsid", "9")
    check("ctl add-ns adds namespace 9", r.get("ok") is True and r.get("nsid") == 9, f"{r}")
    deadline = time.monotonic() + 15
    got, wrong = 0, []
    for q, cid, _ in ctrls:
        q.sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            c = q.wait_completion(cid)
            if c.status == 0 and c.result & 0xFFFFFF == AEN_NS_CHANGED:
                got += 1
            else:
                wrong.append(c)
        except (OSError, nv.Closed) as e:
            wrong.append(repr(e))
    check(f"every one of the {NR_AEN} controllers got the namespace-change notice ({got})", got == NR_AEN,
          f"{len(wrong)} did not: {wrong[:3]}")
    # The notice is real: the changed-namespace log names namespace 9.
    q = ctrls[0][0]
    log = q.get_log(0x04, 4096).data
    check("the changed-namespace log names namespace 9", struct.unpack_from("<I", log, 0)[0] == 9)
    for q, _, _ in ctrls:
        q.close()


def section(fn, *args):
    """Run one group of checks; an exception is one more failure, and the next group still runs."""
    try:
        fn(*args)
    except Exception as e:  # noqa: BLE001 - whatever broke is the finding
        check(f"{fn.__name__} ran to the end", False, repr(e))


def restarted(t, sock):
    s = subsys(t, OPEN)
    check("after a restart from the saved config the deny list is back",
          sorted(s["denied_hosts"]) == sorted([HOST_A, HOST_C]) and s["allow_any_host"] is True, f"{s}")
    c = connect_status(OPEN, HOST_A)
    check("... and keeps A out (0x4184)", c.status == SC_CONNECT_INVALID_HOST, f"{c}")
    check("... while B connects", connect_status(OPEN, HOST_B).status == 0)
    check("... and the listed subsystem keeps its hosts",
          sorted(subsys(t, LISTED)["hosts"]) == sorted([HOST_A, HOST_B]))


def main():
    binary = os.path.abspath(sys.argv[1])
    work = tempfile.mkdtemp(prefix="tightrope-acl.")
    sock = os.path.join(work, "ctl.sock")
    saved = os.path.join(work, "saved.json")
    args = ["-l", f"127.0.0.1:{PORT}", "-w", "2", "-n", OPEN, "-N", "mem:16M",
            "-n", LISTED, "-N", "mem:16M", "-H", HOST_A, "-H", HOST_B]
    t = nv.Target(binary, args, os.path.join(work, "t1.log"), sock)
    try:
        section(forbid_on_open_subsystem, t, sock)
        section(forbid_on_listed_subsystem, t, sock)
        section(save_and_allow, t, sock, saved)
    finally:
        stopped_clean(t, "first target")

    # Restart from the saved file: the deny list holds, the allow list too.
    t = nv.Target(binary, ["-c", saved, "-w", "2"] if os.path.exists(saved) else args, os.path.join(work, "t2.log"),
                  sock)
    try:
        section(restarted, t, sock)
        section(aen_to_every_controller, t, sock)
    finally:
        log = stopped_clean(t, "restarted target")
    return summary(log)


if __name__ == "__main__":
    sys.exit(main())
