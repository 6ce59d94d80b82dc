#!/usr/bin/env python3
# Host autoconnect as tightrope-autoconnect.service and tightrope-connect@.service run it, against our
# own target (two subsystems found through its discovery port, a third named directly): connect-all
# without -a reads discovery.conf (comments, --key=value and --key value) and libnvme's config.json
# from TIGHTROPE_NVME_CONF_DIR, connects what they list, and a second run changes nothing;
# --config none leaves config.json out; --units starts a tightrope-connect@ unit per controller
# (systemctl faked on PATH: its instance must unescape to options that connect there); and the
# template's ExecStart (`connect --foreground`) says READY=1 to NOTIFY_SOCKET once live and
# disconnects in order on SIGTERM.
# usage: autoconnect.py path/to/tightrope path/to/tightrope-connect@.service(.in)
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
from checks import check, sanitizer_clean, summary, wait_for  # noqa: E402

SUB_A = "nqn.2026-12.io.tightrope:auto-a"
SUB_B = "nqn.2026-12.io.tightrope:auto-b"
SUB_C = "nqn.2026-12.io.tightrope:auto-c"
HOST = "nqn.2014-08.org.nvmexpress:uuid:6c6f6e67-6865-4c6c-8f2d-6175746f6361"
PORT = int(os.environ.get("AUTOCONNECT_PORT", "24210"))
DISC = PORT + 1


def run(binary, env, *args):
    return subprocess.run([binary] + list(args), capture_output=True, text=True, timeout=60, env=env)


def attached(binary, env):
    """The subsystem NQNs of the live controllers `tightrope list-subsys` shows."""
    out = run(binary, env, "list", "-o", "json")
    try:
        devs = json.loads(out.stdout or "{}").get("Devices", [])
    except json.JSONDecodeError:
        return {"unparsable: " + out.stdout}
    names = {d["Controller"] for d in devs}
    recs = [json.load(open(f"{env['TIGHTROPE_STATE_DIR']}/ctrl/{n}.json")) for n in names]
    return sorted(r.get("subnqn", "?") for r in recs)


def main():
    binary, unit = os.path.abspath(sys.argv[1]), sys.argv[2]
    tmp = tempfile.mkdtemp(prefix="autoconnect-")
    conf = f"{tmp}/etc-nvme"
    os.makedirs(conf)
    env = dict(os.environ, TIGHTROPE_STATE_DIR=f"{tmp}/state", TIGHTROPE_NVME_CONF_DIR=conf)
    log = open(f"{tmp}/target.log", "w")
    tgt = subprocess.Popen([binary, "target", "-S", f"{tmp}/ctl.sock", "-l", f"127.0.0.1:{PORT}", "-D", str(DISC),
                            "-n", SUB_A, "-N", "mem:16M", "-n", SUB_B, "-N", "mem:16M", "-n", SUB_C, "-N",
                            "mem:16M"], stdout=log, stderr=subprocess.STDOUT)
    ready = wait_for(lambda: "target ready" in open(f"{tmp}/target.log").read(), 20)
    check("target ready", ready is not None, open(f"{tmp}/target.log").read()[-2000:])
    try:
        autoconnect(binary, env, conf, tmp)
        foreground(binary, env, unit, tmp)
    finally:
        run(binary, env, "disconnect-all")
        tgt.terminate()
        check("target exits 0", tgt.wait(timeout=20) == 0)
        log.close()
    sanitizer_clean("target", open(f"{tmp}/target.log").read())
    ctrl_dir = f"{tmp}/state/ctrl"
    host_logs = "".join(open(f"{ctrl_dir}/{n}").read() for n in os.listdir(ctrl_dir) if n.endswith(".log")) \
        if os.path.isdir(ctrl_dir) else ""
    sanitizer_clean("host processes", host_logs)
    return summary(open(f"{tmp}/target.log").read())


def autoconnect(binary, env, conf, tmp):
    with open(f"{conf}/discovery.conf", "w") as f:
        f.write("# nvme-cli's discovery.conf: one discovery controller a line\n\n")
        f.write(f"--transport=tcp --traddr=127.0.0.1 --trsvcid={DISC} --hostnqn {HOST}\n")
    with open(f"{conf}/config.json", "w") as f:
        json.dump([{"hostnqn": HOST, "subsystems": [
            {"nqn": SUB_C, "ports": [{"transport": "tcp", "traddr": "127.0.0.1", "trsvcid": str(PORT)}]},
            {"nqn": "nqn.2026-12.io.tightrope:rdma-only", "ports": [{"transport": "rdma", "traddr": "10.9.9.9"}]},
        ]}], f)

    # --config none: discovery.conf alone (both subsystems the discovery log lists... and C is listed too).
    out = run(binary, env, "connect-all", "--config", "none", "-k", "0")
    check("connect-all from discovery.conf succeeds", out.returncode == 0, out.stdout + out.stderr)
    check("... attached what discovery lists", attached(binary, env) == sorted([SUB_A, SUB_B, SUB_C]),
          str(attached(binary, env)))
    run(binary, env, "disconnect-all")
    check("disconnect-all leaves nothing", attached(binary, env) == [])

    # config.json alone (discovery.conf moved away): only C, named directly; rdma left to the kernel.
    os.rename(f"{conf}/discovery.conf", f"{tmp}/discovery.conf")
    out = run(binary, env, "connect-all", "-k", "0")
    check("connect-all from config.json succeeds", out.returncode == 0, out.stdout + out.stderr)
    check("... attached the subsystem it names", attached(binary, env) == [SUB_C], str(attached(binary, env)))
    rec = json.load(open(f"{env['TIGHTROPE_STATE_DIR']}/ctrl/tr0.json")) if os.path.exists(
        f"{env['TIGHTROPE_STATE_DIR']}/ctrl/tr0.json") else {}
    check("... as config.json's host NQN", rec.get("hostnqn") == HOST, str(rec)[:300])

    # Both files; a second run is a no-op.
    os.rename(f"{tmp}/discovery.conf", f"{conf}/discovery.conf")
    out = run(binary, env, "connect-all", "-k", "0")
    check("connect-all from both files succeeds", out.returncode == 0, out.stdout + out.stderr)
    check("... attached A, B and C once each", attached(binary, env) == sorted([SUB_A, SUB_B, SUB_C]),
          str(attached(binary, env)))
    out = run(binary, env, "connect-all", "-k", "0")
    check("a second run changes nothing", out.returncode == 0 and attached(binary, env) ==
          sorted([SUB_A, SUB_B, SUB_C]), out.stdout + out.stderr)
    run(binary, env, "disconnect-all")

    # --units: a tightrope-connect@ unit per controller, through systemctl (faked, recording).
    bindir = f"{tmp}/bin"
    os.makedirs(bindir)
    with open(f"{bindir}/systemctl", "w") as f:
        f.write(f"#!/bin/sh\necho \"$@\" >> {tmp}/systemctl.log\n")
    os.chmod(f"{bindir}/systemctl", 0o755)
    uenv = dict(env, PATH=f"{bindir}:{os.environ['PATH']}")
    out = run(binary, uenv, "connect-all", "--units", "--config", "none")
    calls = open(f"{tmp}/systemctl.log").read().split("\n") if os.path.exists(f"{tmp}/systemctl.log") else []
    units = [c.split()[-1] for c in calls if c.startswith("--no-block start tightrope-connect@")]
    check("--units starts one unit per controller", out.returncode == 0 and len(units) == 3, out.stderr + str(calls))
    check("... and connects nothing itself", attached(binary, env) == [])
    nqns = []
    for u in units:
        inst = subprocess.run(["systemd-escape", "--unescape", "--instance", u], capture_output=True,
                              text=True).stdout.strip()
        words = shlex.split(inst)
        nqns.append(words[words.index("-n") + 1] if "-n" in words else "?")
        check(f"unit instance is connect's options: {inst}", words[:2] == ["-t", "tcp"] and "-a" in words and
              "-q" in words and HOST in words)
    check("... for A, B and C", sorted(nqns) == sorted([SUB_A, SUB_B, SUB_C]), str(nqns))


def foreground(binary, env, unit, tmp):
    """The template's ExecStart, with an instance as connect-all --units would name it."""
    exec_start = next(line.split("=", 1)[1].strip() for line in open(unit) if line.startswith("ExecStart="))
    argv = shlex.split(exec_start.replace("$$", "$").replace("@BINDIR@/tightrope", binary))
    inst = f"-t tcp -a 127.0.0.1 -s {PORT} -n {SUB_A} -q {HOST} -k 0"
    argv = [inst if a == "%I" else a for a in argv]
    ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    ns.bind(f"{tmp}/notify")
    ns.settimeout(20)
    proc = subprocess.Popen(argv, env=dict(env, NOTIFY_SOCKET=f"{tmp}/notify"), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        msg = ns.recv(4096).decode()
    except socket.timeout:
        msg = ""
    check("--foreground: READY=1 once live", "READY=1" in msg and SUB_A in msg, msg)
    check("... the process stays (it is the host process)", proc.poll() is None)
    check("... and its controller is listed", attached(binary, env) == [SUB_A], str(attached(binary, env)))
    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = proc.wait()
    out = proc.stdout.read()
    check("SIGTERM: exits 0 after an orderly disconnect", rc == 0 and "SIGTERM" in out, f"rc {rc}: {out[-1500:]}")
    sanitizer_clean("foreground host process", out)
    check("... and nothing is left attached", wait_for(lambda: attached(binary, env) == [], 5) is not None)


if __name__ == "__main__":
    sys.exit(main())
