#!/usr/bin/env python3
# The control socket from the outside: it is born 0600 (never chmod-ed after it appears), a second
# target does not steal a live one, a stale one does not stop a new target, a path that is no longer
# ours is not unlinked at exit, and silent, dripping or too many control clients neither delay NVMe
# connections nor lock out other control clients.
# usage: control_socket.py path/to/tightrope
import ctypes
import ctypes.util
import os
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nvmf_client as nv  # noqa: E402
from checks import check, sanitizer_clean, summary  # noqa: E402

SUBNQN = "nqn.2026-11.io.tightrope:default"
# Below the ephemeral range (32768-60999): no client socket of this or another test can hold it.
PORT = int(os.environ.get("CONTROL_SOCKET_PORT", "24203"))
MAX_CLIENTS, DEADLINE_S = 16, 5.0  # what the target promises



class Inotify:
    """Which events a directory saw for one name: tells "created 0600" from "created, then chmod"."""

    IN_ATTRIB, IN_CREATE, IN_NONBLOCK = 0x4, 0x100, 0o4000

    def __init__(self, directory):
        self.libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        self.fd = self.libc.inotify_init1(self.IN_NONBLOCK)
        assert self.fd >= 0, os.strerror(ctypes.get_errno())
        wd = self.libc.inotify_add_watch(self.fd, directory.encode(), self.IN_CREATE | self.IN_ATTRIB)
        assert wd >= 0, os.strerror(ctypes.get_errno())

    def events(self, name):
        seen = []
        while True:
            try:
                buf = os.read(self.fd, 65536)
            except BlockingIOError:
                return seen
            off = 0
            while off < len(buf):
                _, mask, _, length = struct.unpack_from("iIII", buf, off)
                who = buf[off + 16:off + 16 + length].rstrip(b"\0").decode()
                if who == name:
                    seen.append(mask)
                off += 16 + length


def ctl_cmd(binary, sock, *args, timeout=10):
    start = time.monotonic()
    try:
        out = subprocess.run([binary, "ctl", "-S", sock] + list(args), capture_output=True, text=True,
                             timeout=timeout)
        return out.returncode, out.stdout + out.stderr, time.monotonic() - start
    except subprocess.TimeoutExpired:
        return None, "timed out", time.monotonic() - start


def start_raw(binary, sock, port, log_path):
    """A target we do not wait for: it may refuse to start. Returns (rc or None if it kept running, output)."""
    with open(log_path, "w") as log:
        p = subprocess.Popen([binary, "target", "-S", sock, "-l", f"127.0.0.1:{port}", "-w", "1", "-N", "mem:1M"],
                             stdout=log, stderr=subprocess.STDOUT)
        try:
            rc = p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            rc = None
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    with open(log_path) as f:
        return rc, f.read()


def inode(path):
    try:
        return os.lstat(path).st_ino
    except FileNotFoundError:
        return None


def nvme_connect_time():
    """Seconds for a fresh TCP connection's ICReq/ICResp and an admin Connect; None if it failed."""
    start = time.monotonic()
    try:
        q = nv.Queue(port=PORT, timeout=10)
        c = q.fabrics_connect(SUBNQN)
        q.close()
        return time.monotonic() - start if c.status == 0 else None
    except (OSError, nv.Closed, AssertionError):
        return None


class Dripper(threading.Thread):
    """A control client that sends one byte per second and never finishes its request."""

    def __init__(self, sock):
        super().__init__(daemon=True)
        self.s = socket.socket(socket.AF_UNIX)
        self.s.settimeout(2)
        self.s.connect(sock)
        self.opened = time.monotonic()
        self.closed_after = None
        self.stop = threading.Event()

    def run(self):
        payload = b'{"cmd": "list"' + b" " * 1000
        for i in range(len(payload)):
            if i and self.stop.wait(1.0):
                return
            try:
                self.s.send(payload[i:i + 1])
            except OSError:
                self.closed_after = time.monotonic() - self.opened
                return


def stuck_clients(t, binary, sock):
    silent = socket.socket(socket.AF_UNIX)
    silent.settimeout(2)
    silent.connect(sock)
    silent_opened = time.monotonic()
    drip = Dripper(sock)
    drip.start()
    time.sleep(0.3)  # both accepted, one byte already in
    times = [nvme_connect_time() for _ in range(3)]
    check(f"NVMe ICReq + Connect with a silent and a dripping control client: {times} s, each < 1 s",
          all(x is not None and x < 1.0 for x in times))
    rc, out, dt = ctl_cmd(binary, sock, "list")
    check(f"ctl list beside the stuck control clients answers in {dt:.2f} s (< 1 s)",
          rc == 0 and SUBNQN in out and dt < 1.0, out[:300])

    # More clients than the bound: the excess is turned away at once, with a reason.
    extra, unreachable = [], 0
    for _ in range(MAX_CLIENTS + 4):
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(2)
        for _ in range(20):
            try:
                s.connect(sock)
                extra.append(s)
                break
            except BlockingIOError:  # the backlog is full for now: a real client would retry
                time.sleep(0.1)
            except OSError:
                pass
        else:
            unreachable += 1
            s.close()
    check(f"{MAX_CLIENTS + 4} more control clients can connect", unreachable == 0, f"{unreachable} could not")
    deadline = time.monotonic() + 1.0
    refused, held = [], 0
    for s in extra:
        s.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            refused.append(s.recv(4096))
        except socket.timeout:
            held += 1
        except OSError as e:
            refused.append(repr(e).encode())
    want = MAX_CLIENTS + 4 + 2 - MAX_CLIENTS
    check(f"{MAX_CLIENTS + 4} more control clients: {len(refused)} turned away within 1 s (want {want}), "
          f"{held} held", len(refused) == want and held == len(extra) - want, f"{refused}")
    check("the turned-away clients are told why", refused and all(b"too many" in r for r in refused), f"{refused[:2]}")
    dt = nvme_connect_time()
    check(f"NVMe Connect with the control socket full: {dt} s (< 1 s)", dt is not None and dt < 1.0)

    # The target ends each stuck client at its deadline, which frees the slots.
    silent.settimeout(DEADLINE_S + 3)
    try:
        silent.recv(4096)
    except OSError:
        pass
    gone = time.monotonic() - silent_opened
    check(f"a silent control client is closed after {gone:.2f} s (deadline {DEADLINE_S} s, +-1 s)",
          DEADLINE_S - 1 <= gone <= DEADLINE_S + 1.5)
    drip.join(DEADLINE_S + 3)
    drip.stop.set()
    check(f"a dripping control client is closed at its deadline too ({drip.closed_after} s)",
          drip.closed_after is not None and drip.closed_after <= DEADLINE_S + 2.5)
    for s in extra:
        s.settimeout(3)
        try:
            s.recv(4096)
        except OSError:
            pass
        s.close()
    silent.close()
    rc, out, dt = ctl_cmd(binary, sock, "list")
    check(f"ctl list works again once they are gone ({dt:.2f} s)", rc == 0 and SUBNQN in out, out[:300])
    check("one warning per client that missed its deadline",
          t.log_text().count("no complete request within") >= MAX_CLIENTS, t.log_text()[-2000:])


def main():
    binary = os.path.abspath(sys.argv[1])
    work = tempfile.mkdtemp(prefix="tightrope-ctlsock.")
    rundir = os.path.join(work, "run")
    os.mkdir(rundir, 0o755)
    sock = os.path.join(rundir, "ctl.sock")
    watch = Inotify(rundir)
    os.umask(0o022)  # what a daemon usually inherits: a socket bound under it would be 0755

    t = nv.Target(binary, ["-l", f"127.0.0.1:{PORT}", "-w", "1", "-N", "mem:16M"], os.path.join(work, "t1.log"),
                  sock)
    try:
        st = os.lstat(sock)
        check(f"socket mode right after start is {stat.S_IMODE(st.st_mode):04o} (0600 or stricter)",
              stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) & 0o177 == 0)
        ev = watch.events("ctl.sock")
        check("the socket was created with its final mode (no chmod after it appeared)",
              any(m & Inotify.IN_CREATE for m in ev) and not any(m & Inotify.IN_ATTRIB for m in ev),
              f"inotify masks {[hex(m) for m in ev]}")

        stuck_clients(t, binary, sock)

        # A second target on the same path must leave the live one alone.
        rc, out = start_raw(binary, sock, PORT + 1, os.path.join(work, "t2.log"))
        check(f"a second target on the same socket refuses to start (rc {rc})", rc not in (0, None), out[-500:])
        check("... and says the socket is in use by another target",
              f"control socket {sock} is in use by another target" in out, out[-500:])
        check("... without touching the socket file", inode(sock) == st.st_ino)
        rc, out, _ = ctl_cmd(binary, sock, "list")
        check("the first target's socket still answers", rc == 0 and SUBNQN in out, out[:300])

        # SIGTERM with control clients mid-request: a prompt, clean exit.
        a = socket.socket(socket.AF_UNIX)
        b = socket.socket(socket.AF_UNIX)
        try:
            a.settimeout(2)
            a.connect(sock)
            b.settimeout(2)
            b.connect(sock)
            b.send(b'{"cmd": ')
        except OSError as e:
            check("two control clients connect before SIGTERM", False, repr(e))
        time.sleep(0.2)
        start = time.monotonic()
        rc = t.stop()
        dt = time.monotonic() - start
        check(f"SIGTERM with two control clients mid-request: exit {rc} in {dt:.2f} s", rc == 0 and dt < 1.5)
        a.close(), b.close()
    finally:
        if t.proc.poll() is None:
            t.stop()
    sanitizer_clean("first target", t.log_text())
    check("its own socket is removed at exit", not os.path.lexists(sock))

    # Stale: a target killed with SIGKILL leaves its socket behind; the next one takes it over.
    t = nv.Target(binary, ["-l", f"127.0.0.1:{PORT}", "-w", "1", "-N", "mem:1M"], os.path.join(work, "t3.log"), sock)
    t.proc.send_signal(signal.SIGKILL)
    t.proc.wait()
    t.log.close()
    check("a SIGKILLed target leaves a stale socket", os.path.lexists(sock) and stat.S_ISSOCK(os.lstat(sock).st_mode))
    t = nv.Target(binary, ["-l", f"127.0.0.1:{PORT}", "-w", "1", "-N", "mem:1M"], os.path.join(work, "t4.log"), sock)
    rc, out, _ = ctl_cmd(binary, sock, "list")
    check("a new target starts over a stale socket and answers on it", rc == 0 and SUBNQN in out, out[:300])

    # Replaced while running: the file now at the path is someone else's, and stays.
    if os.path.lexists(sock):
        os.unlink(sock)
    with open(sock, "w") as f:
        f.write("not the target's\n")
    rc = t.stop()
    check(f"target exits {rc} after its socket path was replaced", rc == 0)
    check("a file that replaced the socket is not unlinked at exit",
          os.path.exists(sock) and open(sock).read() == "not the target's\n")
    sanitizer_clean("target over a stale socket", t.log_text())

    # A path that is not a socket at all is not ours to remove.
    rc, out = start_raw(binary, sock, PORT, os.path.join(work, "t5.log"))
    check(f"a target whose socket path is a regular file refuses to start (rc {rc})", rc not in (0, None), out[-500:])
    check("... and leaves that file alone", os.path.exists(sock) and open(sock).read() == "not the target's\n")
    sanitizer_clean("refused targets", out)

    return summary()


if __name__ == "__main__":
    sys.exit(main())
