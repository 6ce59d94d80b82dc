#!/usr/bin/env python3
# Asymmetric Namespace Access on the target, from a raw host: Identify's CMIC/ANACAP/ANAGRPMAX and
# each namespace's ANAGRPID, the ANA log page (0Ch) per port with its groups, states, NSID lists,
# RGO and change count, the ANA change event after `ctl set-ana`, ANA statuses on I/O per path,
# controller ID ranges, the config's ana_groups/ana_grpid/cntlid_min/cntlid_max round trip, and
# refusals of bad ANA input (CLI, config, control socket).
# usage: ana_target.py path/to/tightrope
import json
import os
import select
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nvmf_client as nv  # noqa: E402
from checks import check, stopped_clean, summary, wait_for  # noqa: E402

SUBNQN = "nqn.2026-11.io.tightrope:ana"
PORT_A = int(os.environ.get("ANA_PORT_A", "24210"))
PORT_B = int(os.environ.get("ANA_PORT_B", "24211"))
HOST = "nqn.2026-11.io.tightrope:ana-host"
OPT, NONOPT, INACC, PLOSS, CHANGE = 1, 2, 3, 4, 0x0F
SC_ANA_PLOSS, SC_ANA_INACC, SC_ANA_TRANS = 0x301, 0x302, 0x303
LOG_ANA = 0x0C


def ana_log(q, rgo=False, length=4096):
    numd = length // 4 - 1
    c = q.submit(nv.sqe(0x02, q.alloc_cid(), cdw10=LOG_ANA | ((1 if rgo else 0) << 8) | ((numd & 0xFFFF) << 16),
                        cdw11=numd >> 16, sgl_len=length))
    assert c.status == 0, f"ANA log: {c}"
    chg, ngrps = struct.unpack_from("<QH", c.data, 0)
    groups, off = {}, 16
    for _ in range(ngrps):
        grpid, nnsids, gchg, state = struct.unpack_from("<IIQB", c.data, off)
        nsids = list(struct.unpack_from(f"<{nnsids}I", c.data, off + 32))
        groups[grpid] = (state, nsids, gchg)
        off += 32 + 4 * nnsids
    return chg, groups


def status(c):
    return c.status & 0x7FF


def paths():
    """An admin and an I/O queue through each port."""
    out = []
    for port in (PORT_A, PORT_B):
        a = nv.admin_connect(SUBNQN, port=port, hostnqn=HOST)
        out.append((a, nv.io_connect(a, SUBNQN, port=port, hostnqn=HOST)))
    return out


def identify_checks(a):
    idc = a.identify(1).data
    cmic, = struct.unpack_from("<B", idc, 76)
    oaes, = struct.unpack_from("<I", idc, 92)
    anatt, anacap, anagrpmax, nanagrpid = struct.unpack_from("<BBII", idc, 342)
    check("Identify: CMIC says multi-port, multi-controller and ANA reporting", cmic == 0x0B, f"{cmic:#x}")
    check("Identify: OAES advertises the ANA change event", oaes & (1 << 11), f"{oaes:#x}")
    check("Identify: ANATT, ANACAP (all five states, fixed group), ANAGRPMAX = NANAGRPID = 128",
          (anatt, anacap, anagrpmax, nanagrpid) == (10, 0x5F, 128, 128), f"{(anatt, anacap, anagrpmax, nanagrpid)}")
    grp = [struct.unpack_from("<I", a.identify(0, nsid=n).data, 92)[0] for n in (1, 2)]
    check("Identify Namespace: ANAGRPID 1 and 2", grp == [1, 2], f"{grp}")


def log_checks(pa, pb):
    chg_a, ga = ana_log(pa)
    chg_b, gb = ana_log(pb)
    check("ANA log port 1: group 1 optimized with nsid 1, group 2 non-optimized with nsid 2",
          ga.get(1, (0,))[:2] == (OPT, [1]) and ga.get(2, (0,))[:2] == (NONOPT, [2]) and len(ga) == 2, f"{ga}")
    check("ANA log port 2: group 1 non-optimized, group 2 optimized",
          gb.get(1, (0,))[0] == NONOPT and gb.get(2, (0,))[0] == OPT, f"{gb}")
    check("ANA log: the header's change count is each group's", chg_a == chg_b and ga[1][2] == chg_a, f"{chg_a} {ga}")
    _, rgo = ana_log(pa, rgo=True)
    check("ANA log with RGO: groups without NSID lists", rgo.get(1, (0, [1]))[1] == [] and len(rgo) == 2, f"{rgo}")
    return chg_a


def aen_checks(t, pa, pb, chg0):
    aer_a, aer_b = pa.alloc_cid(), pb.alloc_cid()
    check("Set Features Async Event Config: ANA change enabled", pa.set_features(0x0B, 1 << 11).status == 0
          and pb.set_features(0x0B, 1 << 11).status == 0)
    pa.send_cmd(nv.sqe(0x0C, aer_a))
    pb.send_cmd(nv.sqe(0x0C, aer_b))
    t.ctl("set-ana", "1", "1", "inaccessible")
    c = pa.wait_completion(aer_a)
    check("set-ana on port 1: its controller gets the ANA change notice (type 2, info 3, log 0Ch)",
          c.status == 0 and c.result == 0x0C0302, f"{c}")
    chg1, ga = ana_log(pa)
    check("ANA log after set-ana: group 1 inaccessible, change count grew", ga[1][0] == INACC and chg1 > chg0,
          f"{chg1} {ga}")
    # Port 2's controller saw nothing: its AER is still parked. A change on port 2 completes it.
    quiet = not select.select([pb.sock], [], [], 0.5)[0]
    check("set-ana on port 1: port 2's controller gets no notice", quiet)
    t.ctl("set-ana", "2", "2", "change")
    c = pb.wait_completion(aer_b)
    check("set-ana on port 2: only then does port 2's controller get its notice", c.status == 0 and c.result == 0x0C0302,
          f"{c}")
    # Masked until the log is read without RAE: a second change sends nothing until then.
    aer_a2 = pa.alloc_cid()
    pa.send_cmd(nv.sqe(0x0C, aer_a2))
    t.ctl("set-ana", "1", "2", "persistent-loss")
    t.ctl("set-ana", "1", "2", "non-optimized")
    c = pa.wait_completion(aer_a2)
    check("read log re-armed the event: the next change is reported", c.status == 0 and c.result == 0x0C0302, f"{c}")


def io_checks(t, ia, ib):
    block = b"\x5a" * 4096
    # Port 1: group 1 inaccessible, group 2 non-optimized; port 2: group 1 non-optimized, group 2 change.
    check("write to nsid 1 through port 1 (inaccessible): ANA Inaccessible, no DNR",
          ia.write(1, 0, block).status == SC_ANA_INACC)
    check("read of nsid 2 through port 2 (change): ANA Transition, no DNR", ib.read(2, 0, 8).status == SC_ANA_TRANS)
    check("write to nsid 1 through port 2 (non-optimized) works", ib.write(1, 0, block).status == 0)
    r = ia.read(2, 0, 8)
    check("read of nsid 2 through port 1 (non-optimized) works", r.status == 0)
    t.ctl("set-ana", "1", "1", "persistent-loss")
    check("persistent loss: ANA Persistent Loss", status(ia.read(1, 0, 8)) == SC_ANA_PLOSS)
    t.ctl("set-ana", "1", "1", "optimized")
    r = ia.read(1, 0, 8)
    check("back to optimized: the write made through the other path reads back", r.status == 0 and r.data == block)


def cntlid_checks(binary, tmp):
    with open(os.path.join(tmp, "ctl-range.log"), "w") as log:
        p = subprocess.run([binary, "target", "-S", "none", "-l", f"127.0.0.1:{PORT_A}", "-n", SUBNQN,
                            "--ns", "mem:1M", "--cntlid-min", "9", "--cntlid-max", "5"],
                           stdout=log, stderr=subprocess.STDOUT, timeout=20)
    check("--cntlid-min above --cntlid-max is refused", p.returncode != 0)
    for bad in (["--ana-state", "1:sleepy"], ["--ana-state", "0:optimized"], ["--ana-state", "129:optimized"],
                ["--ns", "mem:1M,anagrpid=0"], ["--ns", "mem:1M,anagrpid=129"], ["--cntlid-min", "65520"]):
        p = subprocess.run([binary, "target", "-S", "none", "-l", f"127.0.0.1:{PORT_A}", "-n", SUBNQN] +
                           (bad if bad[0] == "--ns" else ["--ns", "mem:1M"] + bad),
                           capture_output=True, text=True, timeout=20)
        check(f"refused: {' '.join(bad)}", p.returncode == 2 or p.returncode == 1, p.stderr.strip()[-200:])


def config_checks(binary, tmp):
    cfg = {"ports": [{"portid": 3, "addr": {"trtype": "tcp", "adrfam": "ipv4", "traddr": "127.0.0.1",
                                            "trsvcid": str(PORT_A)},
                      "ana_groups": [{"grpid": 1, "ana": {"state": "non-optimized"}},
                                     {"grpid": 7, "ana": {"state": "optimized"}}],
                      "subsystems": [SUBNQN]}],
           "subsystems": [{"nqn": SUBNQN, "attr": {"allow_any_host": "1", "cntlid_min": "100", "cntlid_max": "199"},
                           "namespaces": [{"nsid": 1, "ana_grpid": 7, "device": {"path": "mem:1M"}}]}]}
    path = os.path.join(tmp, "ana.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    sock = os.path.join(tmp, "cfg.sock")
    t = nv.Target(binary, ["-c", path], os.path.join(tmp, "cfg.log"), sock)
    try:
        a = nv.admin_connect(SUBNQN, port=PORT_A, hostnqn=HOST)
        check("config: cntlid_min/cntlid_max give the first controller ID 100", a.cntlid == 100, f"{a.cntlid}")
        _, g = ana_log(a)
        check("config: port 3's ana_groups and the namespace's ana_grpid in the log",
              g.get(1, (0,))[0] == NONOPT and g.get(7, (0, []))[:2] == (OPT, [1]), f"{g}")
        a.close()
        t.ctl("set-ana", "3", "7", "inaccessible")
        t.ctl("save", path)
        with open(path) as f:
            saved = json.load(f)
        port = saved["ports"][0]
        ns = saved["subsystems"][0]["namespaces"][0]
        attr = saved["subsystems"][0]["attr"]
        check("ctl save: the port's ana_groups as nvmetcli writes them",
              {(x["grpid"], x["ana"]["state"]) for x in port["ana_groups"]} == {(1, "non-optimized"),
                                                                               (7, "inaccessible")}, f"{port}")
        check("ctl save: the namespace's ana_grpid and the cntlid range",
              ns.get("ana_grpid") == 7 and attr.get("cntlid_min") == "100" and attr.get("cntlid_max") == "199",
              f"{ns} {attr}")
        for req, why in ((["set-ana", "9", "1", "optimized"], "unknown port"),
                         (["set-ana", "3", "0", "optimized"], "group 0"),
                         (["set-ana", "3", "200", "optimized"], "group 200"),
                         (["set-ana", "3", "1", "fast"], "unknown state")):
            p = subprocess.run([binary, "ctl", "-S", sock] + req, capture_output=True, text=True, timeout=10)
            check(f"ctl set-ana refuses {why}", p.returncode != 0, p.stderr.strip())
    finally:
        stopped_clean(t, "config target")
    bad = dict(cfg)
    bad["ports"] = [dict(cfg["ports"][0], ana_groups=[{"grpid": 1, "ana": {"state": "sideways"}}])]
    with open(path, "w") as f:
        json.dump(bad, f)
    p = subprocess.run([binary, "target", "-S", "none", "-c", path], capture_output=True, text=True, timeout=20)
    check("config: an unknown ANA state is refused", p.returncode != 0 and "ana_groups" in p.stderr, p.stderr[-300:])


def main():
    binary = sys.argv[1]
    tmp = tempfile.mkdtemp(prefix="tr-ana-")
    args = ["-l", f"127.0.0.1:{PORT_A}", "--ana-state", "2:non-optimized",
            "-l", f"127.0.0.1:{PORT_B}", "--ana-state", "1:non-optimized", "--ana-state", "2:optimized",
            "-n", SUBNQN, "--ns", "mem:8M", "--ns", "mem:8M,anagrpid=2", "--cntlid-min", "10", "--cntlid-max", "11"]
    t = nv.Target(binary, args, os.path.join(tmp, "target.log"), os.path.join(tmp, "ctl.sock"))
    try:
        (pa, ia), (pb, ib) = paths()
        check("controller IDs come from --cntlid-min..--cntlid-max", {pa.cntlid, pb.cntlid} == {10, 11},
              f"{pa.cntlid} {pb.cntlid}")
        try:
            nv.admin_connect(SUBNQN, port=PORT_A, hostnqn=HOST)
            check("a third controller beyond a range of two is refused", False)
        except AssertionError as e:
            check("a third controller beyond a range of two is refused", "Connect failed" in str(e))
        identify_checks(pa)
        chg0 = log_checks(pa, pb)
        aen_checks(t, pa, pb, chg0)
        io_checks(t, ia, ib)
        listed = t.ctl("list")
        ports = {p["portid"]: {g["grpid"]: g["state"] for g in p["ana_groups"]} for p in listed["ports"]}
        check("ctl list: each port's ANA groups", ports.get(1) == {1: "optimized", 2: "non-optimized"}
              and ports.get(2) == {1: "non-optimized", 2: "change"}, f"{ports}")
        for q in (pa, ia, pb, ib):
            q.close()
    finally:
        log = stopped_clean(t)
    cntlid_checks(binary, tmp)
    config_checks(binary, tmp)
    return summary(log)


if __name__ == "__main__":
    sys.exit(main())
