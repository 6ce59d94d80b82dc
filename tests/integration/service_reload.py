#!/usr/bin/env python3
# The target the way tightrope-target.service runs it: ExecStart and ExecReload taken out of the unit
# file and run as a script would, with NOTIFY_SOCKET on a datagram socket read here (READY=1 once
# serving, RELOADING=1 then READY=1 around a reload, STOPPING=1 at the end). A reload adds a
# namespace (a Namespace Attribute Changed notice), removes another subsystem, forbids another host
# and adds a port, while a connection the new config still allows keeps doing I/O on the same queue;
# a config with an error changes nothing and says why; SIGHUP reloads too.
# usage: service_reload.py path/to/tightrope path/to/tightrope-target.service(.in)
import copy
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nvmf_client as nv  # noqa: E402
from checks import check, sanitizer_clean, summary, wait_for  # noqa: E402

KEPT = "nqn.2026-12.io.tightrope:svc-kept"
GONE = "nqn.2026-12.io.tightrope:svc-gone"
HOST_A = "nqn.2026-12.io.tightrope:svc-host-a"  # stays connected throughout
HOST_B = "nqn.2026-12.io.tightrope:svc-host-b"  # forbidden by the reload
HOST_C = "nqn.2026-12.io.tightrope:svc-host-c"  # given a DH-HMAC-CHAP secret by the reload, then none
KEY_C = "DHHC-1:00:IDCDoHepKYvLlP2pKFQs6744w2XFnUwrKXv95l06EbMybDsC:"
PORT = int(os.environ.get("SERVICE_RELOAD_PORT", "24206"))
PORT2 = PORT + 1  # added by the reload
AEN_NS_CHANGED = 0x040002


def unit_commands(unit, binary, conf, sock):
    """ExecStart and ExecReload of the unit, pointed at this build, this config and this socket."""
    cmds = {}
    for line in open(unit):
        key, _, value = line.strip().partition("=")
        if key in ("ExecStart", "ExecReload"):
            argv = shlex.split(value.replace("@BINDIR@", "BINDIR"))
            argv[0] = binary
            argv = [conf if a == "/etc/tightrope/config.json" else a for a in argv]
            # The default control socket (/run/tightrope/target.sock) is the unit's; the test's own.
            argv[2:2] = ["-S", sock]
            cmds[key] = argv
    return cmds


def config(tmp):
    ns = lambda nsid, path: {"nsid": nsid, "enable": 1, "device": {"path": path}}  # noqa: E731
    return {
        "hosts": [{"nqn": HOST_A}, {"nqn": HOST_B}],
        "ports": [{"portid": 1, "addr": {"trtype": "tcp", "traddr": "127.0.0.1", "trsvcid": str(PORT)},
                   "subsystems": [KEPT, GONE]}],
        "subsystems": [
            {"nqn": KEPT, "attr": {"allow_any_host": "0"}, "allowed_hosts": [HOST_A, HOST_B],
             "namespaces": [ns(1, "mem:16M")]},
            {"nqn": GONE, "attr": {"allow_any_host": "1"}, "namespaces": [ns(1, "mem:8M")]},
        ],
    }


class Notify:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.2)
        self.seen = []

    def wait(self, word, limit=20):
        deadline = time.time() + limit
        while time.time() < deadline:
            for i, m in enumerate(self.seen):
                if word in m.split("\n"):
                    del self.seen[:i + 1]
                    return m
            try:
                self.seen.append(self.sock.recv(4096).decode())
            except socket.timeout:
                pass
        return None


def write_conf(path, cfg):
    with open(path, "w") as f:
        json.dump(cfg, f)


def io_ok(q, tag):
    data = bytes([tag]) * 4096
    w = q.write(1, 8, data)
    r = q.read(1, 8, 8)
    return w.status == 0 and r.status == 0 and r.data == data


def main():
    binary, unit = sys.argv[1], sys.argv[2]
    tmp = tempfile.mkdtemp(prefix="svc-reload-")
    conf, sock, log_path = f"{tmp}/config.json", f"{tmp}/target.sock", f"{tmp}/target.log"
    cfg = config(tmp)
    write_conf(conf, cfg)
    cmds = unit_commands(unit, binary, conf, sock)
    check("unit has ExecStart and ExecReload", set(cmds) == {"ExecStart", "ExecReload"}, str(cmds))
    notify = Notify(f"{tmp}/notify")
    env = dict(os.environ, NOTIFY_SOCKET=f"{tmp}/notify")
    log = open(log_path, "w")
    proc = subprocess.Popen(cmds["ExecStart"], stdout=log, stderr=subprocess.STDOUT, env=env)
    ready = notify.wait("READY=1")
    check("READY=1 once serving", ready is not None and "STATUS=serving 2 subsystems on 1 port" in ready, str(ready))
    try:
        run(binary, cmds, conf, cfg, sock, notify, proc)
    finally:
        proc.terminate()
        rc = proc.wait(timeout=20)
        check("target exits 0 on SIGTERM", rc == 0, f"rc {rc}")
        check("STOPPING=1 on shutdown", notify.wait("STOPPING=1", 5) is not None)
        log.close()
    text = open(log_path).read()
    sanitizer_clean("target", text)
    return summary(text)


def ctl_list(binary, sock):
    out = subprocess.run([binary, "ctl", "-S", sock, "-o", "json", "list"], capture_output=True, text=True,
                         timeout=10)
    return json.loads(out.stdout)


def subsys(binary, sock, nqn):
    return next((s for s in ctl_list(binary, sock)["subsystems"] if s["nqn"] == nqn), None)


def run(binary, cmds, conf, cfg, sock, notify, proc):
    # Host A: admin queue with an AER outstanding, one I/O queue; host B: an admin queue.
    a = nv.admin_connect(KEPT, port=PORT, hostnqn=HOST_A)
    check("namespace attribute notices on", a.set_features(0x0B, 0x100).status == 0)
    aer_cid = a.alloc_cid()
    a.send_cmd(nv.sqe(0x0C, aer_cid))
    qa = nv.io_connect(a, KEPT, port=PORT, hostnqn=HOST_A)
    check("I/O before the reload", io_ok(qa, 1))
    b = nv.admin_connect(KEPT, port=PORT, hostnqn=HOST_B)
    g = nv.admin_connect(GONE, port=PORT, hostnqn=HOST_A)

    # A config with an error changes nothing, and the reply says why.
    bad = copy.deepcopy(cfg)
    bad["subsystems"][0]["namespaces"].append({"nsid": 2, "device": {"path": "mem:4M"}})
    bad["subsystems"][0]["namespaces"].append({"nsid": 3, "device": {"path": "/nonexistent/disk"}})
    write_conf(conf, bad)
    out = subprocess.run(cmds["ExecReload"], capture_output=True, text=True, timeout=30)
    check("a refused reload still says RELOADING=1 then READY=1", notify.wait("RELOADING=1", 5) is not None and
          notify.wait("READY=1", 5) is not None)
    check("a config naming missing storage is refused", out.returncode != 0 and "nonexistent" in out.stderr,
          out.stderr)
    check("... and changes nothing", [n["nsid"] for n in subsys(binary, sock, KEPT)["namespaces"]] == [1])
    bad = copy.deepcopy(cfg)
    bad["subsystems"][0]["attr"]["serial"] = "changed"
    write_conf(conf, bad)
    out = subprocess.run(cmds["ExecReload"], capture_output=True, text=True, timeout=30)
    check("a serial change is refused with a reason", out.returncode != 0 and "serial" in out.stderr, out.stderr)
    with open(conf, "w") as f:
        f.write("{ not json")
    out = subprocess.run(cmds["ExecReload"], capture_output=True, text=True, timeout=30)
    check("unparsable JSON is refused", out.returncode != 0 and "JSON" in out.stderr, out.stderr)
    check("... GONE still there", subsys(binary, sock, GONE) is not None)

    # The real change (the refused reloads' notifications read and dropped first).
    while notify.wait("READY=1", 1):
        pass
    new = copy.deepcopy(cfg)
    new["subsystems"][0]["namespaces"].append({"nsid": 2, "enable": 1, "device": {"path": "mem:4M"}})
    new["subsystems"][0]["allowed_hosts"] = [HOST_A]
    del new["subsystems"][1]
    new["ports"][0]["subsystems"] = [KEPT]
    new["hosts"].append({"nqn": HOST_C, "dhchap": {"key": KEY_C, "hash": "hmac(sha256)", "dhgroup": "null"}})
    new["ports"].append({"portid": 2, "addr": {"trtype": "tcp", "traddr": "127.0.0.1", "trsvcid": str(PORT2)},
                         "subsystems": [KEPT]})
    write_conf(conf, new)
    out = subprocess.run(cmds["ExecReload"], capture_output=True, text=True, timeout=30)
    check("ExecReload succeeds", out.returncode == 0, out.stderr)
    check("RELOADING=1 then READY=1", notify.wait("RELOADING=1", 5) is not None and
          (notify.wait("READY=1", 5) or "").find("serving 1 subsystem on 2 ports") >= 0)
    c = a.wait_completion(aer_cid)
    check("AER: Namespace Attribute Changed", c.status == 0 and (c.result & 0xFFFFFF) == AEN_NS_CHANGED, repr(c))
    check("I/O after the reload on the same queue", io_ok(qa, 2))
    s = subsys(binary, sock, KEPT)
    check("the new namespace is there", sorted(n["nsid"] for n in s["namespaces"]) == [1, 2], str(s["namespaces"]))
    check("GONE is removed", subsys(binary, sock, GONE) is None)
    check("GONE's controller is dropped", g.closed_by_peer())
    check("host B's controller is dropped", b.closed_by_peer())
    check("host B is refused now", nv.Queue(port=PORT).fabrics_connect(KEPT, HOST_B).status != 0)
    auth = {h["host"]: h for h in ctl_list(binary, sock)["host_auth"]}
    check("host C must authenticate now", auth.get(HOST_C, {}).get("dhchap") is True, str(auth))
    a2 = nv.admin_connect(KEPT, port=PORT2, hostnqn=HOST_A)
    check("the added port serves KEPT", a2.identify(0x01).status == 0)
    a2.close()

    # SIGHUP does the same: namespace 2 on other storage (removed and added again), host C's secret
    # gone, port 2 closed.
    nss = new["subsystems"][0]["namespaces"][:1] + [{"nsid": 2, "device": {"path": "mem:8M"}}]
    write_conf(conf, cfg | {"subsystems": [new["subsystems"][0] | {"namespaces": nss}], "ports": new["ports"][:1]})
    proc.send_signal(signal.SIGHUP)
    check("SIGHUP reloads", wait_for(lambda: [n["size"] for n in subsys(binary, sock, KEPT)["namespaces"]] ==
                                     [16 << 20, 8 << 20], 10) is not None, str(subsys(binary, sock, KEPT)["namespaces"]))
    check("... and drops the secret the file no longer gives",
          HOST_C not in {h["host"] for h in ctl_list(binary, sock)["host_auth"]})
    check("... and closes the port the file dropped",
          [p["portid"] for p in ctl_list(binary, sock)["ports"]] == [1])
    check("I/O after SIGHUP on the same queue", io_ok(qa, 3))
    for q in (qa, a):
        q.close()


if __name__ == "__main__":
    sys.exit(main())
