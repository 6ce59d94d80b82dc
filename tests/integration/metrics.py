#!/usr/bin/env python3
# The target's Prometheus endpoint (--metrics): scraped during `tightrope bench` runs, its counters
# match the bench's own totals and survive the bench's disconnects; histograms are cumulative with
# +Inf == _count; `promtool check metrics` accepts the text; errors, keep-alive expiries and digest
# errors show up; the HTTP side is bounded (404/405, idle timeout, connection limit) while I/O goes on.
# usage: metrics.py path/to/tightrope
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nvmf_client as nv  # noqa: E402
from checks import check, stopped_clean, summary, wait_for  # noqa: E402

SUBNQN = "nqn.2026-12.io.tightrope:metrics"
# Below the ephemeral range (32768-60999): no client socket of this or another test can hold them.
PORT = int(os.environ.get("METRICS_NVME_PORT", "24240"))
MPORT = int(os.environ.get("METRICS_HTTP_PORT", "24241"))
HPORT = int(os.environ.get("METRICS_HOST_PORT", str(MPORT + 1)))  # the host process's endpoint
URL = f"http://127.0.0.1:{MPORT}/metrics"
MAX_CONNS = 16  # metrics_http.c's connection limit
PER_IP = 8  # and its share for one address
IDLE_TIMEOUT_S = 5  # and its per-connection timeout
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def scrape(url=URL):
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.status, r.headers.get("Content-Type", ""), r.read().decode()


def parse(text):
    """{(name, frozenset(labels)): value} of every sample."""
    out = {}
    for ln in text.splitlines():
        if not ln or ln.startswith("#"):
            continue
        m = SAMPLE.match(ln)
        if not m:
            raise ValueError(f"unparsable sample line: {ln!r}")
        labels = frozenset(LABEL.findall(m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), None)


def ns_value(samples, name, op, nsid="1"):
    return value(samples, "tightrope_target_" + name, subsys=SUBNQN, nsid=nsid, op=op)


def promtool_ok(name, text):
    exe = shutil.which("promtool")
    if not check(f"{name}: promtool is installed (Debian's prometheus package)", exe is not None):
        return
    r = subprocess.run([exe, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
    check(f"{name}: promtool check metrics reports no problems", r.returncode == 0 and not r.stdout.strip()
          and not r.stderr.strip(), f"rc {r.returncode}: {r.stdout}{r.stderr}")


def run_bench(binary, rw, seconds):
    cmd = [binary, "bench", "-t", "tcp", "-a", "127.0.0.1", "-s", str(PORT), "-n", SUBNQN, "--rw", rw,
           "--bs", "4k", "--iodepth", "16", "--runtime", str(seconds), "--time_based", "--ramp_time", "0",
           "--size", "32M", "--output-format", "json"]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def bench_totals(out):
    """(read ios, write ios, read bytes, write bytes) summed over the JSON's jobs."""
    tot = [0, 0, 0, 0]
    for run in json.loads(out)["runs"]:
        for job in run["jobs"]:
            tot[0] += job["read"]["total_ios"]
            tot[1] += job["write"]["total_ios"]
            tot[2] += job["read"]["io_bytes"]
            tot[3] += job["write"]["io_bytes"]
    return tot


def within(a, b, pct=1.0):
    return b > 0 and abs(a - b) <= b * pct / 100


def bench_phase(binary):
    """A bench run scraped as it goes, then a second one: counters match both runs' totals together."""
    p = run_bench(binary, "randrw", 3)
    scrapes, last_reads, monotonic = [], -1, True
    while p.poll() is None:
        try:
            status, ctype, text = scrape()
            scrapes.append(text)
            reads = ns_value(parse(text), "commands_total", "read")
            monotonic &= reads is not None and reads >= last_reads
            last_reads = reads if reads is not None else last_reads
        except (urllib.error.URLError, OSError) as e:
            check("scrape during a bench run", False, repr(e))
        time.sleep(0.25)
    out, err = p.communicate()
    check("bench run 1 exits 0", p.returncode == 0, err[-2000:])
    check(f"{len(scrapes)} scrapes during the run, the read counter never going back", len(scrapes) >= 5
          and monotonic)
    check("some scrape saw the run in progress (reads between 0 and the end)",
          any(0 < (ns_value(parse(s), "commands_total", "read") or 0) for s in scrapes[:-1]))
    if scrapes:
        promtool_ok("scrape during the run", scrapes[len(scrapes) // 2])
    first = bench_totals(out)
    # A second run on fresh connections: the counters go on from the first (they are not per queue).
    p = run_bench(binary, "randrw", 1)
    out, err = p.communicate()
    check("bench run 2 exits 0", p.returncode == 0, err[-2000:])
    second = bench_totals(out)
    want = [a + b for a, b in zip(first, second)]
    status, ctype, text = scrape()
    check("scrape: 200 with the 0.0.4 text content type", status == 200 and "version=0.0.4" in ctype, ctype)
    s = parse(text)
    got = [ns_value(s, "commands_total", "read"), ns_value(s, "commands_total", "write"),
           ns_value(s, "bytes_total", "read"), ns_value(s, "bytes_total", "write")]
    for name, g, w in zip(["read commands", "write commands", "read bytes", "write bytes"], got, want):
        check(f"{name}: {g} counted, the bench's two runs say {w} (within 1 %)", g is not None and within(g, w))
    check("the first run alone is below the counters (they survived its disconnect)",
          got[0] is not None and got[0] > first[0] * 1.01)
    promtool_ok("scrape after the runs", text)
    return text


def histogram_checks(text):
    s = parse(text)
    for op in ("read", "write"):
        buckets = sorted(((float(dict(k[1])["le"]), v) for k, v in s.items()
                          if k[0] == "tightrope_target_command_duration_seconds_bucket"
                          and dict(k[1]).get("op") == op and dict(k[1]).get("subsys") == SUBNQN),
                         key=lambda b: b[0])
        counts = [v for _, v in buckets]
        count = ns_value(s, "command_duration_seconds_count", op)
        total = ns_value(s, "command_duration_seconds_sum", op)
        check(f"{op} latency: 18 buckets, 5 us to 1 s and +Inf", len(buckets) == 18 and buckets[0][0] == 5e-6
              and buckets[-2][0] == 1.0 and buckets[-1][0] == float("inf"), f"{buckets}")
        check(f"{op} latency: buckets cumulative (never decreasing)",
              all(a <= b for a, b in zip(counts, counts[1:])), f"{counts}")
        check(f"{op} latency: +Inf bucket == _count == commands", counts and counts[-1] == count
              == ns_value(s, "commands_total", op), f"{counts[-1:]} {count}")
        check(f"{op} latency: _sum > 0", total is not None and total > 0, f"{total}")


def error_checks(t):
    admin = nv.admin_connect(SUBNQN, port=PORT, hostnqn="nqn.2026-12.io.tightrope:bad-lba")
    io = nv.io_connect(admin, SUBNQN, port=PORT, hostnqn="nqn.2026-12.io.tightrope:bad-lba")
    before = value(parse(scrape()[2]), "tightrope_target_command_errors_total", subsys=SUBNQN, op="read",
                   status="0x080") or 0
    c = io.read(1, 1 << 40, 1)
    check("a read past the end fails with LBA Out of Range", c.status & 0x7FF == 0x080, f"{c}")
    after = value(parse(scrape()[2]), "tightrope_target_command_errors_total", subsys=SUBNQN, op="read",
                  status="0x080")
    check("errors_total{op=read,status=0x080} went up by one", after == before + 1, f"{before} -> {after}")
    admin.close(), io.close()


def keep_alive_checks(t):
    name = "tightrope_target_keep_alive_expiries_total"
    before = value(parse(scrape()[2]), name, subsys=SUBNQN)
    admin = nv.admin_connect(SUBNQN, port=PORT, hostnqn="nqn.2026-12.io.tightrope:silent", kato_ms=1000)
    took = wait_for(lambda: value(parse(scrape()[2]), name, subsys=SUBNQN) == before + 1, 6, step=0.2)
    check("a silent host's keep-alive expiry is counted", took is not None, f"before {before}")
    admin.close()


def digest_checks(t):
    name = "tightrope_target_header_digest_errors_total"
    before = value(parse(scrape()[2]), name)
    q = nv.Queue(port=PORT, hdgst=True)
    q.send(q.pdu(nv.CAPSULE_CMD, nv.sqe(0x06, 1, cdw10=1, sgl_len=4096), bad_hdgst=True))
    check("a bad header digest: the target closes the connection", q.closed_by_peer())
    q.close()
    check("a bad header digest is counted", value(parse(scrape()[2]), name) == before + 1)


def http_status(method, path):
    return http_status_at(MPORT, method, path)


def http_status_at(port, method, path):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def closed_within(sock, limit):
    """Seconds until the peer closes sock (EOF or reset) without an answer, or None after limit."""
    sock.settimeout(limit)
    start = time.monotonic()
    try:
        data = sock.recv(4096)
    except (ConnectionResetError, BrokenPipeError):
        data = b""
    except socket.timeout:
        return None
    return time.monotonic() - start if data == b"" else None


def idle_conns(src, n):
    return [socket.create_connection(("127.0.0.1", MPORT), timeout=5, source_address=(src, 0)) for _ in range(n)]


def nvme_io_works(tag):
    hostnqn = f"nqn.2026-12.io.tightrope:{tag}"
    admin = nv.admin_connect(SUBNQN, port=PORT, hostnqn=hostnqn)
    io = nv.io_connect(admin, SUBNQN, port=PORT, hostnqn=hostnqn)
    ok = all(io.write(1, i * 8, bytes([i]) * 4096).status == 0 and io.read(1, i * 8, 8).data == bytes([i]) * 4096
             for i in range(32))
    admin.close(), io.close()
    return ok


def bounds_checks(t):
    check("GET /other: 404", http_status("GET", "/other") == 404)
    check("GET /: 404", http_status("GET", "/") == 404)
    check("POST /metrics: 405", http_status("POST", "/metrics") == 405)
    check("PUT /metrics: 405", http_status("PUT", "/metrics") == 405)
    opened = time.monotonic()
    idle = idle_conns("127.0.0.1", PER_IP)
    time.sleep(0.3)
    extra = idle_conns("127.0.0.1", 1)[0]
    extra.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    check(f"one address's connection {PER_IP + 1} is refused (closed unanswered)", closed_within(extra, 3) is not None)
    extra.close()
    # Fill the rest from another loopback address: one more waits in the backlog, unanswered.
    idle += idle_conns("127.0.0.2", MAX_CONNS - PER_IP)
    time.sleep(0.3)
    waiting = idle_conns("127.0.0.3", 1)[0]
    waiting.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    waiting.settimeout(1.5)
    try:
        early = waiting.recv(4096)
    except socket.timeout:
        early = None
    check(f"connection {MAX_CONNS + 1} gets no answer while {MAX_CONNS} are open", early is None, f"{early!r}")
    check("NVMe I/O goes on while the HTTP connections are all taken", nvme_io_works("during-http-flood"))
    closed = [closed_within(s, IDLE_TIMEOUT_S + 4) for s in idle]
    waited = time.monotonic() - opened
    check(f"idle connections closed by the {IDLE_TIMEOUT_S} s timeout (all gone {waited:.1f} s after opening)",
          all(c is not None for c in closed) and IDLE_TIMEOUT_S - 0.5 <= waited <= IDLE_TIMEOUT_S + 4, f"{closed}")
    for s in idle:
        s.close()
    waiting.settimeout(5)
    try:
        answer = waiting.recv(64)
    except OSError as e:
        answer = repr(e).encode()
    check("the waiting connection is served once slots free up", answer.startswith(b"HTTP/1.1 200"), f"{answer!r}")
    waiting.close()
    check("a scrape works again", scrape()[0] == 200)


def bad_specs(binary):
    for spec in ("127.0.0.1", "127.0.0.1:", ":9100", "[::1]", "::1:9100", "127.0.0.1:http"):
        r = subprocess.run([binary, "target", "-S", "none", "-l", f"127.0.0.1:{PORT}", "--metrics", spec],
                           capture_output=True, text=True, timeout=20)
        check(f"--metrics {spec}: refused at start", r.returncode != 0 and "expected ADDR:PORT" in r.stderr,
              f"rc {r.returncode}: {r.stderr[-300:]}")


def target_args():
    return ["-l", f"127.0.0.1:{PORT}", "-n", SUBNQN, "-N", "mem:64M", "-w", "2", "--metrics", f"127.0.0.1:{MPORT}"]


def start_target(binary, work, name):
    return nv.Target(binary, target_args(), os.path.join(work, f"{name}.log"), os.path.join(work, f"{name}.sock"))


def host_outage(binary, work, targets, url):
    """The target goes away and comes back: the host counts one recovery and one reconnect."""
    hv = lambda name: value(parse(scrape(url)[2]), "tightrope_host_" + name, subsys=SUBNQN, path="tr0")  # noqa: E731
    stopped_clean(targets[0], "target (stopped for the host's outage)")
    took = wait_for(lambda: hv("recoveries_total") == 1, 10, step=0.2)
    check("host: the lost connection counts one recovery, the path not live", took is not None
          and hv("path_live") == 0 and hv("reconnects_total") == 0)
    targets[0] = start_target(binary, work, "target-restarted")
    took = wait_for(lambda: hv("reconnects_total") == 1, 15, step=0.2)
    check("host: the reconnect is counted, the path live again", took is not None and hv("path_live") == 1,
          f"reconnects {hv('reconnects_total')}")


def host_checks(binary, work, targets):
    """`connect --metrics`: the host process's counters agree with what went through its file and
    with what the target counted; an outage counts a recovery and a reconnect."""
    env = dict(os.environ, TIGHTROPE_STATE_DIR=os.path.join(work, "state"))
    conn = [binary, "connect", "-t", "tcp", "-a", "127.0.0.1", "-s", str(PORT), "-n", SUBNQN, "--no-loop", "-k", "5",
            "-c", "1"]
    r = subprocess.run(conn + ["--metrics", "127.0.0.1"], capture_output=True, text=True, timeout=60, env=env)
    check("connect --metrics without a port: refused", r.returncode != 0 and "expected ADDR:PORT" in r.stderr + r.stdout,
          f"rc {r.returncode}: {r.stdout}{r.stderr}")
    r = subprocess.run([binary, "connect-all", "-t", "tcp", "-a", "127.0.0.1", "-s", str(PORT), "--metrics",
                        f"127.0.0.1:{HPORT}"], capture_output=True, text=True, timeout=60, env=env)
    check("connect-all --metrics: refused (a process per subsystem, one port)", r.returncode == 2
          and "--metrics" in r.stderr, f"rc {r.returncode}: {r.stderr}")
    url = f"http://127.0.0.1:{HPORT}/metrics"
    try:
        r = subprocess.run(conn + ["--metrics", f"127.0.0.1:{HPORT}"], capture_output=True, text=True, timeout=60,
                           env=env)
        if not check("connect --metrics 127.0.0.1:PORT", r.returncode == 0, f"{r.stdout}{r.stderr}"):
            return
        before = value(parse(scrape()[2]), "tightrope_target_bytes_total", subsys=SUBNQN, nsid="1", op="write")
        fd = os.open(os.path.join(work, "state", "mnt", "tr0", "n1"), os.O_RDWR)
        data = os.urandom(1 << 20)
        os.pwrite(fd, data, 0)
        os.fsync(fd)
        back = os.pread(fd, len(data), 0)
        os.close(fd)
        check("host: 1 MiB written and read back through the FUSE file", back == data)
        status, ctype, text = scrape(url)
        check("host: 200 with the 0.0.4 text content type", status == 200 and "version=0.0.4" in ctype, ctype)
        hs = parse(text)
        hv = lambda name, **kw: value(hs, "tightrope_host_" + name, subsys=SUBNQN, path="tr0", **kw)  # noqa: E731
        after = value(parse(scrape()[2]), "tightrope_target_bytes_total", subsys=SUBNQN, nsid="1", op="write")
        check("host: write bytes sent == the target's count of them",
              hv("bytes_total", op="write") == after - before and after - before >= len(data),
              f"host {hv('bytes_total', op='write')}, target +{after - before}")
        check("host: write commands counted", (hv("commands_total", op="write") or 0) >= 1)
        check("host: the path is live, no errors, recoveries or reconnects", hv("path_live") == 1
              and hv("command_errors_total") == 0 and hv("recoveries_total") == 0 and hv("reconnects_total") == 0)
        check("host: path_info names its address and state", any(
            k[0] == "tightrope_host_path_info" and dict(k[1]).get("traddr") == "127.0.0.1"
            and dict(k[1]).get("trsvcid") == str(PORT) and dict(k[1]).get("state") == "live" for k in hs))
        check("host: 404 elsewhere", http_status_at(HPORT, "GET", "/other") == 404)
        promtool_ok("host scrape", text)
        host_outage(binary, work, targets, url)
    finally:
        r = subprocess.run([binary, "disconnect-all"], capture_output=True, text=True, timeout=60, env=env)
        check("host: disconnect-all", r.returncode == 0, r.stderr)
        check("host: nothing left mounted", os.path.join(work, "state") not in open("/proc/mounts").read())
    log = open(os.path.join(work, "state", "ctrl", "tr0.log")).read()
    check("host process: no sanitizer report", "Sanitizer" not in log and "runtime error" not in log, log[-2000:])


def main():
    binary = os.path.abspath(sys.argv[1])
    work = tempfile.mkdtemp(prefix="tightrope-metrics.")
    bad_specs(binary)
    t = start_target(binary, work, "target")
    targets = [t]  # the host's outage replaces it
    try:
        text = bench_phase(binary)
        histogram_checks(text)
        error_checks(t)
        digest_checks(t)
        keep_alive_checks(t)
        bounds_checks(t)
        host_checks(binary, work, targets)
        promtool_ok("scrape at the end", scrape()[2])
    finally:
        log = stopped_clean(targets[-1])
    return summary(log)


if __name__ == "__main__":
    sys.exit(main())
