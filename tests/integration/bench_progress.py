#!/usr/bin/env python3
# `tightrope bench`'s live status line (issue 14): on a terminal it is redrawn in place each second with
# sane figures and erased before the report; piped output and JSON get nothing extra; --eta always and
# never override, as fio's --eta does.
# usage: bench_progress.py path/to/tightrope
import json
import os
import pty
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nvmf_client as nv  # noqa: E402
from checks import check, stopped_clean, summary  # noqa: E402

SUBNQN = "nqn.2026-12.io.tightrope:progress"
# Below the ephemeral range (32768-60999): no client socket of this or another test can hold it.
PORT = int(os.environ.get("BENCH_PROGRESS_PORT", "24250"))
LINE = re.compile(r"Jobs: (\d+) \(f=\d+\): \[(\w)\(\d+\)\]\[([\d.]+)%\]\[r=(\d+)MiB/s,w=(\d+)MiB/s\]"
                  r"\[r=([\d.]+[kM]?),w=([\d.]+[kM]?) IOPS\]\[eta (\d\d)m:(\d\d)s\]")


def bench_args(binary, *extra):
    return [binary, "bench", "-t", "tcp", "-a", "127.0.0.1", "-s", str(PORT), "-n", SUBNQN,
            "--iodepth", "8", *extra]


def run_on_tty(args):
    """Run with standard output on a pseudo-terminal; (rc, what the terminal got, stderr)."""
    master, slave = pty.openpty()
    p = subprocess.Popen(args, stdout=slave, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    os.close(slave)
    got = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the last writer is gone
            break
        if not chunk:
            break
        got += chunk
    os.close(master)
    err = p.stderr.read()
    return p.wait(timeout=30), got.decode(errors="replace").replace("\r\n", "\n"), err.decode(errors="replace")


def count(v):
    scale = {"k": 1e3, "M": 1e6}.get(v[-1], 1)
    return float(v.rstrip("kM")) * scale


def report_iops(text):
    m = re.search(r"read: IOPS=([\d.]+[kM]?)", text)
    return count(m.group(1)) if m else None


def on_a_terminal(binary):
    rc, out, err = run_on_tty(bench_args(binary, "--runtime", "3.5", "--time_based"))
    check("terminal: bench exits 0", rc == 0, f"rc {rc} {err}")
    lines = [ln for ln in out.split("\r") if ln.startswith("Jobs:")]
    parsed = [LINE.match(ln) for ln in lines]
    check("terminal: the status line is redrawn about once a second (2 to 4 times in 3.5 s)",
          2 <= len(lines) <= 4, f"{len(lines)} lines: {out[:600]!r}")
    check("terminal: every status line has fio's layout", lines and all(parsed), f"{lines}")
    if lines and all(parsed):
        shares = [float(m.group(3)) for m in parsed]
        check("terminal: the done share grows and stays within 0..100 %",
              shares == sorted(shares) and 0 < shares[0] and shares[-1] <= 100, f"{shares}")
        check("terminal: the mode letter is fio's r for randread", all(m.group(2) == "r" for m in parsed))
        check("terminal: one job running", all(m.group(1) == "1" for m in parsed))
        etas = [int(m.group(8)) * 60 + int(m.group(9)) for m in parsed]
        check("terminal: the time left shrinks, never past the run's 3.5 s", etas == sorted(etas, reverse=True)
              and etas[0] <= 4, f"{etas}")
        live = [count(m.group(6)) for m in parsed]
        total = report_iops(out)
        # The line counts completions of the last second, the report its average: the same order.
        check("terminal: the line's read IOPS agree with the report's (within 0.2x..5x)",
              total and all(0.2 * total <= v <= 5 * total for v in live), f"line {live}, report {total}")
        check("terminal: no writes in a read job", all(m.group(7) == "0" and m.group(5) == "0" for m in parsed))
    tail = out.split("\r")[-1]
    check("terminal: the line is erased and the report starts on a clean line",
          tail.startswith("nvme-tcp 127.0.0.1") and "IOPS=" in tail, f"{tail[:200]!r}")


def quiet_when_nobody_watches(binary):
    p = subprocess.run(bench_args(binary, "--runtime", "1.5", "--time_based"), capture_output=True, text=True,
                       timeout=30)
    check("piped: bench exits 0", p.returncode == 0, p.stderr)
    check("piped: no status line, no carriage return", "Jobs:" not in p.stdout + p.stderr and "\r" not in p.stdout,
          p.stdout[:300])
    rc, out, err = run_on_tty(bench_args(binary, "--runtime", "1.5", "--time_based", "--output-format", "json"))
    check("terminal, JSON: bench exits 0", rc == 0, err)
    try:
        doc = json.loads(out)
        check("terminal, JSON: standard output is exactly one JSON document", "runs" in doc)
    except ValueError as e:
        check("terminal, JSON: standard output is exactly one JSON document", False, f"{e}: {out[:300]!r}")
    check("terminal, JSON: no status line anywhere", "Jobs:" not in out + err)
    rc, out, err = run_on_tty(bench_args(binary, "--runtime", "1.5", "--time_based", "--eta", "never"))
    check("terminal, --eta never: no status line", rc == 0 and "Jobs:" not in out + err, out[:300])


def forced(binary):
    p = subprocess.run(bench_args(binary, "--runtime", "1.5", "--time_based", "--eta", "always"),
                       capture_output=True, text=True, timeout=30)
    check("piped, --eta always: the status line is there", p.returncode == 0 and LINE.search(p.stdout),
          p.stdout[:300])
    p = subprocess.run(bench_args(binary, "--runtime", "1.5", "--time_based", "--eta", "always",
                                  "--output-format", "json"), capture_output=True, text=True, timeout=30)
    try:
        ok = "runs" in json.loads(p.stdout)
    except ValueError:
        ok = False
    check("JSON, --eta always: the JSON stays clean on stdout and the line goes to stderr",
          p.returncode == 0 and ok and LINE.search(p.stderr), p.stderr[:300])
    p = subprocess.run(bench_args(binary, "--eta", "sometimes"), capture_output=True, text=True, timeout=30)
    check("--eta sometimes: refused as usage (rc 2), naming the choices",
          p.returncode == 2 and "auto, always or never" in p.stderr, p.stderr)


def main():
    binary = os.path.abspath(sys.argv[1])
    work = tempfile.mkdtemp(prefix="tightrope-bench-progress.")
    t = nv.Target(binary, ["-l", f"127.0.0.1:{PORT}", "-n", SUBNQN, "-N", "mem:64M"],
                  os.path.join(work, "target.log"), os.path.join(work, "ctl.sock"))
    try:
        on_a_terminal(binary)
        quiet_when_nobody_watches(binary)
        forced(binary)
    finally:
        log = stopped_clean(t)
    return summary(log)


if __name__ == "__main__":
    sys.exit(main())
