#!/usr/bin/env python3
# `tightrope bench --rw caw` (fused compare-and-write, issue 16) against our target: a short run exits
# 0 with pairs per second and no miscompare, on a region that held other data before (the bench
# zeroes it); read back, every block holds the bench's pattern and the generations add up to the pairs
# it wrote; two benches as two hosts on disjoint regions at once both pass, two on the same region
# do not (miscompares, exit 1); a local file and --verify are refused.
# usage: caw_bench.py path/to/tightrope
import json
import os
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nvmf_client as nv  # noqa: E402
from checks import check, stopped_clean, summary  # noqa: E402

SUBNQN = "nqn.2026-12.io.tightrope:caw"
# Below the ephemeral range (32768-60999): no client socket of this or another test can hold it.
PORT = int(os.environ.get("CAW_BENCH_PORT", "24254"))
MiB = 1 << 20
BS = 4096
MAGIC = b"trcawgen"
M64 = (1 << 64) - 1


def bench_cmd(binary, *args, host=1):
    hostnqn = f"nqn.2014-08.org.nvmexpress:uuid:00000000-0000-0000-0000-00000000000{host}"
    hostid = f"00000000-0000-0000-0000-00000000000{host}"
    return [binary, "bench", "-t", "tcp", "-a", "127.0.0.1", "-s", str(PORT), "-n", SUBNQN, "-q", hostnqn,
            "-I", hostid, "--rw", "caw", "--bs", "4k", "--iodepth", "16", "--runtime", "2", "--time_based",
            "--output-format", "json", "--eta", "never", *args]


def finished(p):
    out, err = p.communicate(timeout=120)
    try:
        run = json.loads(out)["runs"][0]
    except (ValueError, KeyError, IndexError):
        run = None
    return p.returncode, run, err


def run_bench(binary, *args, host=1):
    return finished(subprocess.Popen(bench_cmd(binary, *args, host=host), stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True))


def mix(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def block_generation(data, off):
    """The generation a block read back holds (0: all zeros), or None if it is neither zeros nor
    one generation of the bench's pattern (src/bench/caw.c) for this offset."""
    if data == bytes(len(data)):
        return 0
    gens = set()
    for p in range(0, len(data), 512):
        magic, where, gen, w3 = struct.unpack_from("<8sQQQ", data, p)
        if magic != MAGIC or where != off + p or gen == 0:
            return None
        if w3 != (mix((off + p) ^ (gen << 44)) + 0x9E3779B97F4A7C15) & M64:
            return None
        gens.add(gen)
    return gens.pop() if len(gens) == 1 else None


def region_generations(io, offset, size):
    """Every block's generation in the region (None for one that holds anything else)."""
    gens = []
    for off in range(offset, offset + size, BS):
        r = io.read(1, off // 512, BS // 512)
        gens.append(block_generation(r.data, off) if r.status == 0 else None)
    return gens


def check_run(name, rc, run, err, io, offset, size):
    """A run that must pass: exit 0, IOPS, no miscompare; its region read back adds up."""
    check(f"{name}: exit 0", rc == 0, err[-2000:])
    if not run:
        check(f"{name}: JSON output", False, err[-2000:])
        return
    caw, write = run.get("caw", {}), run["total"]["write"]
    check(f"{name}: IOPS > 0", write["iops"] > 0, f"{write['iops']}", detail_on_pass=True)
    check(f"{name}: 0 miscompares", caw.get("miscompares") == 0, f"{caw}")
    check(f"{name}: the pairs are the writes counted", caw.get("pairs") == write["total_ios"] > 0, f"{caw}")
    check(f"{name}: bytes are bs per pair", write["io_bytes"] == BS * write["total_ios"])
    gens = region_generations(io, offset, size)
    bad = [i for i, g in enumerate(gens) if g is None]
    check(f"{name}: every block read back is zeros or one generation of the pattern", not bad,
          f"bad blocks {bad[:10]}")
    written = [g for g in gens if g]
    check(f"{name}: blocks hold non-zero generations", len(written) > len(gens) // 2,
          f"{len(written)} of {len(gens)}", detail_on_pass=True)
    check(f"{name}: the generations add up to the pairs written", sum(g or 0 for g in gens) == caw.get("pairs"),
          f"sum {sum(g or 0 for g in gens)} pairs {caw.get('pairs')}")


def refusals(binary, work):
    local = os.path.join(work, "local.img")
    with open(local, "wb") as f:
        f.truncate(MiB)
    r = subprocess.run([binary, "bench", "--filename", local, "--rw", "caw"], capture_output=True, text=True,
                       timeout=30)
    check("--rw caw on a local file: refused, saying it needs a remote namespace",
          r.returncode == 2 and "remote namespace" in r.stderr, r.stderr)
    r = subprocess.run(bench_cmd(binary, "--verify"), capture_output=True, text=True, timeout=30)
    check("--rw caw with --verify: refused", r.returncode == 2 and "--verify" in r.stderr, r.stderr)
    r = subprocess.run(bench_cmd(binary, "--rw", "compare-and-write", "--runtime", "1", "--size", "256k"),
                       capture_output=True, text=True, timeout=60)
    check("--rw compare-and-write is the same mode", r.returncode == 0 and '"caw"' in r.stdout, r.stderr[-2000:])


def main():
    binary = os.path.abspath(sys.argv[1])
    work = tempfile.mkdtemp(prefix="tightrope-caw.")
    t = nv.Target(binary, ["-l", f"127.0.0.1:{PORT}", "-n", SUBNQN, "-N", "mem:16M,nsid=1"],
                  os.path.join(work, "target.log"), os.path.join(work, "ctl.sock"))
    try:
        admin = nv.admin_connect(SUBNQN, port=PORT)
        io = nv.io_connect(admin, SUBNQN, port=PORT)
        # Old data where the bench will run: it must zero its region before comparing against zeros.
        old = [io.write(1, off // 512, os.urandom(8192)).status for off in range(0, 4 * MiB, 64 * 1024)]
        check("old data written over the first 4 MiB", old == [0] * len(old), f"{old}")
        rc, run, err = run_bench(binary, "--size", "1M")
        check_run("one bench on 1 MiB", rc, run, err, io, 0, MiB)

        rc, run, err = run_bench(binary, "--offset", "2M", "--size", "1M", "--numjobs", "2")
        check_run("one bench, two jobs on 1 MiB", rc, run, err, io, 2 * MiB, MiB)

        regions = [(4 * MiB, MiB), (5 * MiB, MiB)]
        procs = [subprocess.Popen(bench_cmd(binary, "--offset", str(o), "--size", str(s), host=h + 1),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for h, (o, s) in enumerate(regions)]
        for h, p in enumerate(procs):
            rc, run, err = finished(p)
            check_run(f"two hosts at once, disjoint regions: host {h + 1}", rc, run, err, io, *regions[h])

        procs = [subprocess.Popen(bench_cmd(binary, "--offset", "8M", "--size", "256k", host=h + 1),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for h in range(2)]
        res = [finished(p) for p in procs]
        miscompares = sum(r[1]["caw"]["miscompares"] for r in res if r[1])
        each = [r[1]["caw"]["miscompares"] if r[1] else None for r in res]
        check("two hosts on the same region: miscompares reported, and exit 1 from each that saw one",
              miscompares > 0 and all(r[0] == (1 if m else 0) for r, m in zip(res, each)),
              f"miscompares {each}, rc {[r[0] for r in res]}")
        refusals(binary, work)
        io.close(), admin.close()
    finally:
        log = stopped_clean(t)
    return summary(log)


if __name__ == "__main__":
    sys.exit(main())
