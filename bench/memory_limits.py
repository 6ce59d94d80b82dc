#!/usr/bin/env python3
# What hostile hosts can make the target hold, measured: RSS of a target under connections that
# pin all they can (full-depth queues, a write whose data never comes, Reads never read), next to
# the worst case the target computes for itself (README, "Limits and hardening").
"""usage: bench/memory_limits.py path/to/tightrope [--conns 32] [--budget 64M] [--port 44290]

Prints a Markdown table for bench/RESULTS.md. Use an optimized build without sanitizers: ASan's
allocator keeps freed memory resident and pads every allocation.
"""
import argparse
import os
import re
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
import nvmf_client as nv  # noqa: E402

NQN = "nqn.2026-11.io.tightrope:memlimits"


def rss_mib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def settle(pid, seconds=1.5):
    time.sleep(seconds)
    return rss_mib(pid)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--conns", type=int, default=32)
    ap.add_argument("--budget", default="64M")
    ap.add_argument("--port", type=int, default=44290)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="tightrope-memlimits.")
    backing = os.path.join(work, "ns.img")
    with open(backing, "wb") as f:
        f.truncate(256 << 20)
    t = nv.Target(os.path.abspath(a.binary), ["-l", f"127.0.0.1:{a.port}", "-n", NQN, "-N", f"{backing},buffered",
                                               "-w", "2", "--buffer-budget", a.budget],
                  os.path.join(work, "target.log"), os.path.join(work, "ctl.sock"))
    rows = []
    try:
        limits = re.search(r"worst case (\d+) KiB per connection", t.log_text())
        worst_kib = int(limits.group(1))
        budget_mib = int(re.search(r"buffer budget (\d+) MiB", t.log_text()).group(1))
        pid = t.proc.pid
        start = settle(pid, 0.5)
        rows.append(("target started, nothing connected", start, None))

        # C controllers, each an admin queue and one I/O queue of the greatest depth (1024).
        ctrls = []
        for i in range(a.conns):
            host = f"nqn.2026-11.io.tightrope:greedy-{i}"
            adm = nv.admin_connect(NQN, port=a.port, hostnqn=host, kato_ms=120000)
            q = nv.io_connect(adm, NQN, port=a.port, hostnqn=host, sqsize=1024)
            ctrls.append((adm, q))
        idle = settle(pid)
        rows.append((f"{a.conns} controllers, each with a 1024-deep I/O queue, idle", idle, None))

        # Each I/O queue: one 1 MiB write whose data never comes (R2T unanswered), then 1023 Reads of
        # 1 MiB never read: 1 GiB of replies per connection asked for.
        for _, q in ctrls:
            q.send_cmd(nv.sqe(0x01, 1, nsid=1, cdw12=2047, sgl_len=1 << 20))
            for cid in range(2, 1025):
                q.send_cmd(nv.sqe(0x02, cid, nsid=1, cdw10=(cid % 255) * 2048, cdw12=2047, sgl_len=1 << 20))
        pinned = settle(pid, 3)
        bound = start + budget_mib + a.conns * 2 * worst_kib / 1024
        rows.append((f"then on each: a 1 MiB write never sent and 1023 x 1 MiB Reads never read "
                     f"({a.conns} GiB asked for)", pinned, bound))
        for adm, q in ctrls:
            q.close(), adm.close()
        after = settle(pid)
        rows.append(("all connections closed again", after, None))
    finally:
        rc = t.stop()
    print(f"target: {a.binary}, --buffer-budget {a.budget} ({budget_mib} MiB), 2 workers; "
          f"the target's own worst case per connection: {worst_kib} KiB; exit {rc}\n")
    print("| state | target VmRSS | bound: start + budget + connections x worst case |\n|---|--:|--:|")
    for what, rss, bnd in rows:
        print(f"| {what} | {rss:.1f} MiB | {'' if bnd is None else f'{bnd:.1f} MiB'} |")
    per_conn = (idle - start) / (2 * a.conns) * 1024
    print(f"\nper connection, idle at depth 1024 (admin queues are 32 deep): {per_conn:.0f} KiB")
    ok = pinned <= bound
    print(f"\n{'1 passed, 0 failed' if ok else '0 passed, 1 failed'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
