#!/usr/bin/env bash
# `tightrope target` and `tightrope ctl` from the outside: command-line and config-file errors are
# clear, an nvmetcli-format config loads and saves back identically, the control socket adds and
# removes namespaces and hosts, and IPv6 listeners answer.
# usage: target_cli.sh TIGHTROPE_BINARY
set -uo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
bin=$(realpath "$1")
with_scratch cli

# expect_error NAME PATTERN ARGS...: the target must refuse to start, saying PATTERN on stderr.
expect_error() {
  local name=$1 pat=$2; shift 2
  timeout 10 "$bin" target -S none "$@" >"$work/out" 2>&1
  local rc=$?
  if [[ $rc != 0 && $rc != 124 ]] && grep -qi -- "$pat" "$work/out"; then
    ok "refuses $name: $(grep -i -m1 -- "$pat" "$work/out" | sed 's/^.*tightrope [a-z]*: //' | head -c 120)"
  else
    bad "$name: rc=$rc, output: $(head -c 300 "$work/out")"
  fi
}
p=$(free_port)
expect_error "a bad RAM size" "--ns mem:12XB" -l 127.0.0.1:$p -N mem:12XB
expect_error "an unknown namespace option" "--ns mem:1M,fast" -l 127.0.0.1:$p -N mem:1M,fast
expect_error "a missing backing file" "cannot open /nonexistent" -l 127.0.0.1:$p -N /nonexistent/disk.img
expect_error "a bad subsystem NQN" "not a valid NQN" -l 127.0.0.1:$p -n box1 -N mem:1M
expect_error "the discovery NQN as a subsystem" "not a valid NQN" -l 127.0.0.1:$p -n nqn.2014-08.org.nvmexpress.discovery
expect_error "a bad host NQN" "allow-host" -l 127.0.0.1:$p -n nqn.2026-11.io.t:a -N mem:1M -H host1
expect_error "a bad port" "expected ADDR:PORT" -l 127.0.0.1:99999
expect_error "an address not on this machine" "listen" -l 192.0.2.1:$p
expect_error "a duplicate subsystem" "given twice" -l 127.0.0.1:$p -n nqn.2026-11.io.t:a -n nqn.2026-11.io.t:a
expect_error "a bad worker count" "workers" --workers 0
expect_error "a negative poll time" "poll-us" --poll-us -1
expect_error "a poll time over a second" "poll-us" --poll-us 1000001
expect_error "an unreadable config" "not readable JSON" -c /nonexistent.json
echo '{"subsystems": [{"nqn": "nqn.2026-11.io.t:a", "namespaces": [{"nsid": 1, "device": {"path": "mem:1M", "uuid": "zz"}}]}]}' >"$work/c1.json"
expect_error "a config with a bad uuid" "bad uuid" -c "$work/c1.json"
echo '{"subsystems": [{"nqn": "nqn.2026-11.io.t:a", "namespaces": [{"device": {"path": "mem:1M"}}]}]}' >"$work/c2.json"
expect_error "a config namespace without nsid" "needs \"nsid\"" -c "$work/c2.json"
echo '{"ports": [{"portid": 1, "addr": {"trtype": "tcp", "traddr": "127.0.0.1", "trsvcid": "'$p'"}, "subsystems": ["nqn.2026-11.io.t:nope"]}]}' >"$work/c3.json"
expect_error "a port listing an unknown subsystem" "unknown subsystem" -c "$work/c3.json"

# An nvmetcli-style config: two subsystems on two ports, one with an allowed host list.
pa=$(free_port); pb=$(free_port)
truncate -s 8M "$work/disk.img"
cat >"$work/nvmet.json" <<JSON
{
  "hosts": [{"nqn": "nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-555555555555"}],
  "ports": [
    {"addr": {"adrfam": "ipv4", "traddr": "127.0.0.1", "treq": "not specified", "trsvcid": "$pa", "trtype": "tcp"},
     "portid": 1, "referrals": [], "subsystems": ["nqn.2026-11.io.tightrope:cfg-a"]},
    {"addr": {"adrfam": "ipv6", "traddr": "::1", "treq": "not specified", "trsvcid": "$pb", "trtype": "tcp"},
     "portid": 2, "referrals": [], "subsystems": ["nqn.2026-11.io.tightrope:cfg-b"]},
    {"addr": {"adrfam": "ipv4", "traddr": "127.0.0.1", "trsvcid": "1", "trtype": "rdma"}, "portid": 3, "subsystems": []}
  ],
  "subsystems": [
    {"allowed_hosts": [], "attr": {"allow_any_host": "1", "serial": "CFGA0001", "model": "Config A"},
     "namespaces": [{"device": {"nguid": "", "path": "mem:16M", "uuid": "5b0b0d5e-1c84-4b2e-9d3f-2a6b7c8d9e0f"}, "enable": 1, "nsid": 1},
                    {"device": {"path": "$work/disk.img"}, "enable": 1, "nsid": 4, "readonly": true},
                    {"device": {"path": "mem:1M"}, "enable": 0, "nsid": 5}],
     "nqn": "nqn.2026-11.io.tightrope:cfg-a"},
    {"allowed_hosts": ["nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-555555555555"],
     "attr": {"allow_any_host": "0"}, "namespaces": [{"device": {"path": "mem:8M"}, "enable": 1, "nsid": 1}],
     "nqn": "nqn.2026-11.io.tightrope:cfg-b"}
  ]
}
JSON
sock=$work/ctl.sock
"$bin" target -c "$work/nvmet.json" -S "$sock" -w 1 >"$work/t1.log" 2>&1 &
pids+=($!)
wait_sock "$sock" || bad "the target with the config did not start: $(tail -5 "$work/t1.log")"
list() { "$bin" ctl -S "$sock" -o json list; }
summary() { # subsystems, namespaces with uuid-independent facts, hosts, ports
  python3 -c '
import json,sys
d=json.load(sys.stdin)
for p in d["ports"]: print("port", p["portid"], p["traddr"], p["trsvcid"])
for s in d["subsystems"]:
  print("subsys", s["nqn"], s["serial"], s["model"], s["allow_any_host"], sorted(s["hosts"]))
  for n in s["namespaces"]: print("  ns", n["nsid"], n["path"], n["size"], n["lba_size"], n["readonly"])'
}
list | summary >"$work/s1" 2>&1
if grep -q "subsys nqn.2026-11.io.tightrope:cfg-a CFGA0001 Config A True" "$work/s1" &&
   grep -q "ns 4 $work/disk.img 8388608 512 True" "$work/s1" && ! grep -q "ns 5" "$work/s1" &&
   grep -q "cfg-b .* False \['nqn.2014-08.org.nvmexpress:uuid:11111111" "$work/s1" &&
   grep -q "port 2 ::1 $pb" "$work/s1" && ! grep -q "port 3" "$work/s1"; then
  ok "nvmetcli-format config loaded (serial, model, read-only, disabled ns, allowed hosts, IPv6 port, rdma port skipped)"
else
  bad "config load: $(cat "$work/s1" "$work/t1.log" | head -40)"
fi
grep -q "only trtype \"tcp\"" "$work/t1.log" && ok "rdma port skipped with a log line" || bad "no log line for the rdma port"

# IPv6: an ICReq to [::1] gets an ICResp.
python3 - "$pb" <<'PY' && ok "IPv6 listener answers ICReq with ICResp" || bad "IPv6 listener"
import socket, struct, sys
s = socket.create_connection(("::1", int(sys.argv[1])), timeout=5)
s.sendall(struct.pack("<BBBBIHBBI", 0, 0, 128, 0, 128, 0, 0, 0, 0) + bytes(112))
r = b""
while len(r) < 128:
    c = s.recv(128 - len(r))
    if not c: break
    r += c
sys.exit(0 if len(r) == 128 and r[0] == 1 and struct.unpack_from("<I", r, 4)[0] == 128 else 1)
PY

# Control socket: add, remove, allow, forbid, and their errors.
ctl() { "$bin" ctl -S "$sock" "$@"; }
ctl add-ns nqn.2026-11.io.tightrope:cfg-a mem:4M --nsid 7 >/dev/null && list | grep -q '"nsid":7' &&
  ok "ctl add-ns" || bad "ctl add-ns"
out=$(ctl add-ns nqn.2026-11.io.tightrope:cfg-a mem:4M --nsid 7 2>&1) && bad "duplicate nsid accepted" || ok "ctl add-ns refuses a taken nsid: $out"
out=$(ctl add-ns nqn.2026-11.io.tightrope:nope mem:4M 2>&1) && bad "unknown subsystem accepted" || ok "ctl add-ns to an unknown subsystem: $out"
out=$(ctl add-ns nqn.2026-11.io.tightrope:cfg-a mem:lots 2>&1) && bad "bad size accepted" || ok "ctl add-ns with a bad size: $out"
ctl remove-ns nqn.2026-11.io.tightrope:cfg-a 7 >/dev/null && ! list | grep -q '"nsid":7' && ok "ctl remove-ns" || bad "ctl remove-ns"
out=$(ctl remove-ns nqn.2026-11.io.tightrope:cfg-a 7 2>&1) && bad "removing a missing ns succeeded" || ok "ctl remove-ns of a missing nsid: $out"
ctl allow-host nqn.2026-11.io.tightrope:cfg-a nqn.2014-08.org.nvmexpress:uuid:aaaaaaaa-0000-0000-0000-000000000001 >/dev/null &&
  list | grep -q 'aaaaaaaa-0000' && ok "ctl allow-host" || bad "ctl allow-host"
out=$(ctl allow-host nqn.2026-11.io.tightrope:cfg-a badhost 2>&1) && bad "bad host NQN accepted" || ok "ctl allow-host with a bad NQN: $out"
ctl forbid-host nqn.2026-11.io.tightrope:cfg-a nqn.2014-08.org.nvmexpress:uuid:aaaaaaaa-0000-0000-0000-000000000001 >/dev/null &&
  ! list | grep -q 'aaaaaaaa-0000' && ok "ctl forbid-host" || bad "ctl forbid-host"
out=$(ctl frobnicate 2>&1) && bad "unknown ctl verb accepted" || ok "ctl with an unknown verb: $(echo "$out" | head -1)"
out=$(echo 'not json' | python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b"not json\n"); print(s.recv(4096).decode())' "$sock")
grep -q '"ok":false' <<<"$out" && ok "control socket answers junk with an error: $out" || bad "control socket junk: $out"

# Save, restart from the saved file: same subsystems, namespaces and namespace UUIDs.
list | summary >"$work/s1" 2>&1
ctl save "$work/saved.json" >/dev/null && ok "ctl save" || bad "ctl save"
list | python3 -c 'import json,sys; print(sorted((s["nqn"], n["nsid"]) for s in json.load(sys.stdin)["subsystems"] for n in s["namespaces"]))' >"$work/ns1"
grep -q '5b0b0d5e-1c84-4b2e-9d3f-2a6b7c8d9e0f' "$work/saved.json" && ok "saved config keeps the configured UUID" || bad "UUID not saved"
kill -TERM "${pids[0]}"; wait "${pids[0]}"; rc=$?; pids=()
[[ $rc == 0 ]] && ok "target exits 0 on SIGTERM" || bad "exit status $rc"
"$bin" target -c "$work/saved.json" -S "$sock" -w 1 >"$work/t2.log" 2>&1 &
pids+=($!)
wait_ready "$work/t2.log" || bad "the target with the saved config did not start: $(tail -5 "$work/t2.log")"
list | summary >"$work/s2" 2>&1
list | python3 -c 'import json,sys; print(sorted((s["nqn"], n["nsid"]) for s in json.load(sys.stdin)["subsystems"] for n in s["namespaces"]))' >"$work/ns2"
diff <(grep -v '^port 3' "$work/s1") "$work/s2" >/dev/null && cmp -s "$work/ns1" "$work/ns2" &&
  ok "restart from the saved config gives the same target" || bad "saved config differs: $(diff "$work/s1" "$work/s2")"
ctl save "$work/saved2.json" >/dev/null
python3 - "$work/saved.json" "$work/saved2.json" <<'PY' && ok "namespace UUIDs/NGUIDs stable across restarts" || bad "identifiers changed across restart"
import json, sys
ids = lambda f: sorted((s["nqn"], n["nsid"], n["device"]["uuid"], n["device"]["nguid"]) for s in json.load(open(f))["subsystems"] for n in s["namespaces"])
sys.exit(0 if ids(sys.argv[1]) == ids(sys.argv[2]) else 1)
PY

# Poll mode: target and bench spin instead of sleeping between QD1 commands. The evidence is the
# voluntary context switches (sleeps): one for every one or two commands on each side in the default
# mode (the next command is sometimes there already), few with --poll-us, however loaded the machine
# is (a spinning thread is preempted, which is involuntary). Each side has a CPU of its own, as poll
# mode assumes: two spinners sharing one CPU wait out each other's time slices.
pp=$(free_port)
taskset -c 1 "$bin" target -l 127.0.0.1:$pp -N mem:16M -S none -w 1 --poll-us 20000 >"$work/poll.log" 2>&1 &
pids+=($!)
wait_ready "$work/poll.log" || bad "the target in poll mode did not start: $(tail -5 "$work/poll.log")"
grep -q "poll mode: workers spin for up to 20000 us" "$work/poll.log" && ok "target --poll-us says so at start" ||
  bad "no poll mode line: $(head -5 "$work/poll.log")"
sleeps() { # sleeps PID: voluntary context switches of all its threads so far
  cat /proc/"$1"/task/*/status | awk '/^voluntary_ctxt_switches/ { n += $2 } END { print n }'
}
# qd1 LABEL BENCH_OPTIONS...: bench at QD1 with --verify; prints "IOS TARGET_SLEEPS BENCH_SLEEPS".
qd1() {
  local before; before=$(sleeps "${pids[-1]}")
  python3 - "$bin" "$pp" "$@" >"$work/qd1.out" <<'PY2' || { bad "bench $*: $(cat "$work/qd1.out")"; return 1; }
import json, os, subprocess, sys
bin, port, extra = sys.argv[1], sys.argv[2], sys.argv[3:]
p = subprocess.Popen(["taskset", "-c", "0", bin, "bench", "-a", "127.0.0.1", "-s", port, "-n", "nqn.2026-11.io.tightrope:default",
                      "--rw", "randread", "--bs", "4k", "--size", "8M", "--iodepth", "1", "--runtime", "1",
                      "--time_based", "--output-format", "json"] + extra, stdout=subprocess.PIPE)
out = p.stdout.read()
_, status, ru = os.wait4(p.pid, 0)
job = json.loads(out)["runs"][0]["jobs"][0]
ios = job["read"]["total_ios"] + job["write"]["total_ios"]
sys.exit(1 if status or job["error"] else print(ios, ru.ru_nvcsw))
PY2
  read -r ios bsleeps <"$work/qd1.out"
  echo "$ios $(($(sleeps "${pids[-1]}") - before)) $bsleeps"
}
if r=$(qd1 --poll-us 20000); then
  read -r ios ts bs <<<"$r"
  (( ios > 50 && ts * 8 < ios && bs * 8 < ios )) &&
    ok "poll mode, QD1: $ios commands, target slept $ts times, bench $bs" ||
    bad "poll mode still sleeps: $ios commands, target slept $ts times, bench $bs"
fi
timeout 60 "$bin" bench -a 127.0.0.1 -s "$pp" -n nqn.2026-11.io.tightrope:default --poll --rw randrw --bs 4k \
  --size 8M --iodepth 4 --verify 2>&1 | grep -q 'verify: OK' && ok "poll mode: bench --poll --verify OK" ||
  bad "poll mode: bench --poll --verify failed"
kill -TERM "${pids[-1]}"; wait "${pids[-1]}"; unset 'pids[-1]'
taskset -c 1 "$bin" target -l 127.0.0.1:$pp -N mem:16M -S none -w 1 >"$work/nopoll.log" 2>&1 &
pids+=($!)
wait_ready "$work/nopoll.log" || bad "the target did not start: $(tail -5 "$work/nopoll.log")"
if r=$(qd1); then
  read -r ios ts bs <<<"$r"
  (( ios > 50 && ts * 4 > ios && bs * 4 > ios )) &&
    ok "default mode, QD1: $ios commands, target slept $ts times, bench $bs" ||
    bad "default mode: $ios commands, target slept $ts times, bench $bs"
fi

finish
