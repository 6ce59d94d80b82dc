#!/usr/bin/env bash
# tightrope's data-path benchmark (issue 4): loopback limits (iperf3, TCP ping-pong) vs tightrope target
# and bench on one core each, with/without digests, CPU per I/O, target memory; a Markdown report on stdout.
#
# usage: bench/run.sh > report.md          (progress on stderr; about 3.5 minutes)
# env:   ROUNDS=3 RUNTIME=3 RAMP=1  every figure is the median of ROUNDS interleaved rounds of
#                                   RUNTIME measured seconds after RAMP seconds of warm-up
#        PORT_BASE=45000            uses PORT_BASE..PORT_BASE+3 on 127.0.0.1
#        PROFILE=auto|1|0           perf profiles of the QD128 run and of each missed target's run:
#                                   when a target is missed | always | never (installs linux-perf)
#        QUIET_WAIT=120             wait up to this many seconds for other processes to go quiet
#        OTHER_MAX=20               rerun (twice at most) a point in which other processes used more
#                                   than this % of a core
#        KEEP=DIR                   keep the raw outputs (bench JSON, perf data and reports) there
#        BUILD_JOBS=N               ninja -j for building build/src/tightrope if it is out of date
#        TIGHTROPE=path             use this binary instead of building one
set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
ROUNDS=${ROUNDS:-3}
RUNTIME=${RUNTIME:-3}
RAMP=${RAMP:-1}
PORT_BASE=${PORT_BASE:-45000}
PROFILE=${PROFILE:-auto}
QUIET_WAIT=${QUIET_WAIT:-120}
OTHER_MAX=${OTHER_MAX:-20}
KEEP=${KEEP:-}
NQN=nqn.2026-11.io.tightrope:default
NS_SIZE_KB=$((1024 * 1024)) # the RAM namespace: mem:1G
TCPU=1                      # the target and every server side
BCPU=0                      # tightrope bench and every client side
P_IPERF=$PORT_BASE P_PING=$((PORT_BASE + 1)) P_TGT=$((PORT_BASE + 2)) P_MEM=$((PORT_BASE + 3))

for v in ROUNDS RUNTIME RAMP QUIET_WAIT OTHER_MAX; do
  [[ ${!v} =~ ^[0-9]+$ ]] || { echo "run.sh: $v must be whole seconds (or a count)" >&2; exit 2; }
done
((RUNTIME >= 2 && ROUNDS >= 1)) || { echo "run.sh: RUNTIME must be >= 2 and ROUNDS >= 1" >&2; exit 2; }

log() { echo "run.sh: $*" >&2; }

work=$(mktemp -d /tmp/tightrope-bench.XXXXXX)
pids=()
forget() { # forget PID: it has been waited for
  local i
  for i in "${!pids[@]}"; do [[ ${pids[i]} == "$1" ]] && unset 'pids[i]'; done
  return 0
}
stop() { # stop PID: end one process this script started
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  forget "$1"
}
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [[ -n $KEEP ]]; then
    mkdir -p "$KEEP" && cp -r "$work"/. "$KEEP"/ && log "raw outputs kept in $KEEP"
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- what it needs ----
apt_install() { # apt_install PACKAGE...
  [[ $(id -u) == 0 ]] || { log "need root to apt-get install $*"; exit 1; }
  log "installing $*"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends "$@" >"$work/apt.log" 2>&1 ||
    { apt-get update -qq >>"$work/apt.log" 2>&1 &&
      apt-get install -y -q --no-install-recommends "$@" >>"$work/apt.log" 2>&1; } ||
    { tail -5 "$work/apt.log" >&2; exit 1; }
}
need() { # need COMMAND PACKAGE
  command -v "$1" >/dev/null 2>&1 || apt_install "$2"
}
need iperf3 iperf3
need cc gcc
need python3 python3
need taskset util-linux

ncpu=$(nproc)
pin() { # pin CPU COMMAND...: becomes COMMAND on that core (call it in a subshell)
  local cpu=$1
  shift
  if ((ncpu >= 2)); then exec taskset -c "$cpu" "$@"; else exec "$@"; fi
}
((ncpu >= 2)) || log "only $ncpu CPU: nothing is pinned, figures are not comparable with bench/RESULTS.md"

if [[ -n ${TIGHTROPE:-} ]]; then
  tr=$TIGHTROPE
else
  "$root/scripts/deps.sh" build
  if [[ ! -f $root/build/build.ninja ]]; then
    meson setup "$root/build" "$root" >"$work/meson.log" 2>&1 || { tail -20 "$work/meson.log" >&2; exit 1; }
  fi
  ninja -C "$root/build" -j "${BUILD_JOBS:-$ncpu}" >"$work/ninja.log" 2>&1 ||
    { tail -30 "$work/ninja.log" >&2; exit 1; }
  tr=$root/build/src/tightrope
fi
[[ -x $tr ]] || { log "no tightrope binary at $tr"; exit 1; }
export TIGHTROPE_STATE_DIR=$work/state # bench's generated host NQN lives and dies with this run

wait_listen() { # wait_listen PORT LOG: until a socket listens on PORT (reads /proc/net/tcp, connects nothing)
  local hex i
  hex=$(printf ':%04X' "$1")
  for i in $(seq 200); do
    awk -v p="$hex" '$4 == "0A" && substr($2, length($2) - 4) == p { f = 1 } END { exit !f }' /proc/net/tcp &&
      return 0
    sleep 0.05
  done
  log "nothing listens on port $1 (log: $(tail -3 "$2" 2>/dev/null))"
  exit 1
}
ticks() { # ticks PID: user + system CPU of the whole process so far, in clock ticks
  local f
  read -r -a f <"/proc/$1/stat" 2>/dev/null || { echo 0; return 0; }
  echo $((f[13] + f[14]))
}
busy_ticks() { # user + nice + system ticks of the whole machine (what processes ran, ours and others')
  local f
  read -r -a f </proc/stat
  echo $((f[1] + f[2] + f[3]))
}
other_ticks() { # other_ticks PID...: CPU ticks of every process but these (and this script), reaped children included
  cat /proc/[0-9]*/stat 2>/dev/null | awk -v ex=" $$ $* " '{ pid = $1; sub(/^.*\) /, "") }
    index(ex, " " pid " ") == 0 { s += $12 + $13 + $14 + $15 } END { print s + 0 }'
}
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
ns_rss_kb() { # the namespace mapping's resident size (the anonymous mapping of exactly mem:1G)
  awk -v sz="$NS_SIZE_KB" '/^[0-9a-f]+-[0-9a-f]+ / { m = 0 } /^Size:/ { m = ($2 == sz) } /^Rss:/ && m { r += $2 }
    END { print r + 0 }' "/proc/$1/smaps"
}
clk_tck=$(getconf CLK_TCK)

facts=$work/facts # key=value lines for the report
fact() { echo "$1=$2" >>"$facts"; }
fact date "$(date -u '+%Y-%m-%d %H:%M UTC')"
fact cpu "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
fact ncpu "$ncpu"
fact os "$(sed -n 's/^PRETTY_NAME="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' /etc/os-release)"
fact kernel "$(uname -r)"
fact commit "$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
fact dirty "$(git -C "$root" status --porcelain --untracked-files=no 2>/dev/null | awk '{ print $2 }' | paste -sd' ' -)"
fact rounds "$ROUNDS"
fact runtime "$RUNTIME"
fact ramp "$RAMP"
fact clk_tck "$clk_tck"
fact other_max "$OTHER_MAX"

# ---- 0. a quiet machine: these figures are ratios taken in one run, other load skews them ----
load=0
wait_quiet() { # wait_quiet SECONDS: until other processes use < 15% of a core over one second
  local b0 waited=0
  while :; do
    b0=$(busy_ticks)
    sleep 1
    load=$((($(busy_ticks) - b0) * 100 / clk_tck)) # % of one core
    ((load < 15)) && return 0
    if ((waited >= $1)); then
      log "other processes still use $load% of a core; measuring anyway"
      return 0
    fi
    ((waited % 10 == 0)) && log "waiting for the machine to go quiet (other processes use $load% of a core)"
    waited=$((waited + 1))
  done
}
wait_quiet "$QUIET_WAIT"
fact load_before "$load"

# ---- the tightrope target: one worker, a 1 GiB RAM namespace, on CPU 1 ----
(pin "$TCPU" "$tr" target -l "127.0.0.1:$P_TGT" -N mem:1G -w 1 -S "$work/ctl.sock") >"$work/target.log" 2>&1 &
tgt=$!
pids+=("$tgt")
wait_listen "$P_TGT" "$work/target.log"
remote=(-t tcp -a 127.0.0.1 -s "$P_TGT" -n "$NQN")
# Fill the namespace first: reads then touch real pages, not the kernel's shared zero page.
log "filling the 1 GiB RAM namespace"
(pin "$BCPU" "$tr" bench "${remote[@]}" --rw write --bs 1m --iodepth 4) >"$work/fill.out" 2>&1 ||
  { log "fill failed: $(tail -3 "$work/fill.out")"; exit 1; }
cc -O2 -Wall -Wextra -Werror -o "$work/pingpong" "$here/pingpong.c"

limits=$work/limits.tsv
printf 'round\tiperf3_mibs\tping_avg_us\tping_p50_us\tping_p99_us\n' >"$limits"
# limits ROUND: iperf3 single stream and the TCP ping-pong, server on CPU 1, client on CPU 0
limits() {
  local ip pp mibs out
  (pin "$TCPU" iperf3 -s -1 -B 127.0.0.1 -p "$P_IPERF") >"$work/iperf3-server.log" 2>&1 &
  ip=$!
  pids+=("$ip")
  wait_listen "$P_IPERF" "$work/iperf3-server.log"
  (pin "$BCPU" iperf3 -c 127.0.0.1 -p "$P_IPERF" -t "$RUNTIME" -O "$RAMP" -J) >"$work/iperf3-$1.json"
  wait "$ip" || true
  forget "$ip"
  mibs=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
print("%.1f" % (d["end"]["sum_received"]["bits_per_second"] / 8 / 1048576))' "$work/iperf3-$1.json")
  (pin "$TCPU" "$work/pingpong" server "$P_PING" 4096) >"$work/pingpong-server.log" 2>&1 &
  pp=$!
  pids+=("$pp")
  wait_listen "$P_PING" "$work/pingpong-server.log"
  (pin "$BCPU" "$work/pingpong" client 127.0.0.1 "$P_PING" 20000 64 4096) >"$work/pingpong-$1.out"
  wait "$pp" || true
  forget "$pp"
  read -r -a out <"$work/pingpong-$1.out" # rounds N request N reply N avg_us X p50_us X p99_us X ...
  printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$mibs" "${out[7]}" "${out[9]}" "${out[11]}" >>"$limits"
  log "round $1: iperf3 $mibs MiB/s, ping-pong avg ${out[7]} us"
}

results=$work/results.tsv
printf 'round\tname\tdigest\tiops\tmibs\tavg_us\tp99_us\ttgt_ticks\tbench_ticks\tother_ticks\twindow_s\n' >"$results"
# point ROUND NAME RW BS QD DIGEST: one bench run; the CPU of both sides and of every other process is
# sampled inside its measured window. A run that other processes disturbed (more than OTHER_MAX % of a
# core in the window) is run again, twice at most.
point() {
  local round=$1 name=$2 rw=$3 bs=$4 qd=$5 dig=$6 bp t0 t1 tt0 tt1 bt0 bt1 mb0 mb1 out other try
  local args=(bench "${remote[@]}" --rw "$rw" --bs "$bs" --iodepth "$qd" --numjobs 1 --runtime "$RUNTIME"
    --ramp_time "$RAMP" --time_based -o json)
  ((dig)) && args+=(-g -G)
  out=$work/$name-$dig-$round
  for try in 1 2 3; do
    (pin "$BCPU" "$tr" "${args[@]}") >"$out.json" 2>"$out.err" &
    bp=$!
    pids+=("$bp")
    sleep "$RAMP.5"
    t0=$EPOCHREALTIME tt0=$(ticks "$tgt") bt0=$(ticks "$bp") mb0=$(other_ticks "$tgt" "$bp")
    sleep "$((RUNTIME - 1))"
    t1=$EPOCHREALTIME tt1=$(ticks "$tgt") bt1=$(ticks "$bp") mb1=$(other_ticks "$tgt" "$bp")
    if ! wait "$bp"; then
      forget "$bp"
      log "$name (digests $dig) failed: $(tail -3 "$out.err")"
      exit 1
    fi
    forget "$bp"
    other=$(((mb1 - mb0) * 100 / ((RUNTIME - 1) * clk_tck)))
    ((other < OTHER_MAX || try == 3)) && break
    log "$name (digests $dig): other processes used $other% of a core; running it again"
    wait_quiet 20
  done
  python3 - "$out.json" "$round" "$name" "$dig" "$((tt1 - tt0))" "$((bt1 - bt0))" "$((mb1 - mb0))" "$t0" "$t1" \
    >>"$results" <<'EOF'
import json, sys
path, rnd, name, dig, tt, bt, mb, t0, t1 = sys.argv[1:]
tot = json.load(open(path))["runs"][-1]["total"]
rd, wr = tot["read"], tot["write"]
main = rd if rd["total_ios"] >= wr["total_ios"] else wr
print("\t".join([rnd, name, dig, "%.0f" % (rd["iops"] + wr["iops"]),
                 "%.1f" % ((rd["bw_bytes"] + wr["bw_bytes"]) / 1048576),
                 "%.1f" % (main["lat_ns"]["mean"] / 1e3), "%.1f" % (main["lat_ns"]["percentile"]["99.000000"] / 1e3),
                 tt, bt, mb, "%.3f" % (float(t1) - float(t0))]))
EOF
}
workloads=("randread-4k-qd1 randread 4k 1" "randread-4k-qd32 randread 4k 32" "randread-4k-qd128 randread 4k 128"
  "randwrite-4k-qd32 randwrite 4k 32" "read-128k-qd16 read 128k 16" "write-128k-qd16 write 128k 16")
for ((round = 1; round <= ROUNDS; round++)); do
  log "round $round of $ROUNDS"
  wait_quiet 20
  limits "$round"
  for wl in "${workloads[@]}"; do
    read -r -a w <<<"$wl"
    point "$round" "${w[@]}" 0 # without and with digests back to back, so their ratio sees the same conditions
    point "$round" "${w[@]}" 1
  done
done

# ---- memory: 16 controllers x 8 I/O queues x depth 128 on a fresh target, idle namespace ----
log "memory: 16 controllers x 8 queues x depth 128"
(pin "$TCPU" "$tr" target -l "127.0.0.1:$P_MEM" -N mem:1G -w 1 -S "$work/ctl-mem.sock") >"$work/target-mem.log" 2>&1 &
mt=$!
pids+=("$mt")
wait_listen "$P_MEM" "$work/target-mem.log"
fact rss_start_kb "$(rss_kb "$mt")"
coproc MC { pin "$BCPU" python3 "$here/memclient.py" "$P_MEM" "$NQN" --ctrls 16 --queues 8 --depth 128 --write-all 2>"$work/memclient.err"; }
# shellcheck disable=SC2153 # MC_PID is set by coproc
mc_in=${MC[1]} mc_out=${MC[0]} mc_pid=$MC_PID
pids+=("$mc_pid")
read -r -t 120 line <&"$mc_out" || { log "memclient: $(tail -3 "$work/memclient.err")"; exit 1; }
[[ $line == "connected 128" ]] || { log "memclient said '$line'"; exit 1; }
sleep 0.5
fact rss_idle_kb "$(rss_kb "$mt")"
fact rss_idle_ns_kb "$(ns_rss_kb "$mt")"
echo go >&"$mc_in"
read -r -t 120 line <&"$mc_out" || { log "memclient: $(tail -3 "$work/memclient.err")"; exit 1; }
[[ $line == "written 16384" ]] || { log "memclient said '$line'"; exit 1; }
fact rss_written_kb "$(rss_kb "$mt")"
fact rss_written_ns_kb "$(ns_rss_kb "$mt")"
echo close >&"$mc_in"
wait "$mc_pid" || true
forget "$mc_pid"
sleep 0.5
fact rss_after_kb "$(rss_kb "$mt")"
stop "$mt"

# ---- the report ----
python3 - "$facts" "$limits" "$results" "$root/../shared/ANCHORS.md" "$work/missed" >"$work/report.md" <<'EOF'
import csv, os, re, statistics, sys
facts = dict(l.rstrip("\n").split("=", 1) for l in open(sys.argv[1]) if "=" in l)
limits = list(csv.DictReader(open(sys.argv[2]), delimiter="\t"))
samples = list(csv.DictReader(open(sys.argv[3]), delimiter="\t"))
clk = float(facts["clk_tck"])
f = lambda k: float(facts[k])
med = lambda xs: statistics.median(xs)
lim = {k: med([float(x[k]) for x in limits]) for k in limits[0] if k != "round"}

def derive(x):  # per sample: shares of a core over the window, CPU µs per I/O
    w, iops = float(x["window_s"]), float(x["iops"])
    d = {k: float(x[k]) for k in ("iops", "mibs", "avg_us", "p99_us")}
    for side in ("tgt", "bench"):
        d[side] = float(x[side + "_ticks"]) / clk / w
        d[side + "_io"] = d[side] / iops * 1e6 if iops else 0
    d["other"] = float(x["other_ticks"]) / clk / w
    return d

points = {}
for x in samples:
    points.setdefault((x["name"], x["digest"]), []).append(derive(x))
# Medians over the undisturbed samples (other processes under OTHER_MAX % of a core) where there are any.
other_max = float(facts["other_max"]) / 100
points = {k: [s for s in v if s["other"] < other_max] or v for k, v in points.items()}
r = {k: {m: med([s[m] for s in v]) for m in v[0]} for k, v in points.items()}
for k, v in points.items():
    head = "avg_us" if k[0].endswith("qd1") else "mibs" if k[0].startswith(("read-", "write-")) else "iops"
    vals = [s[head] for s in v]
    r[k]["spread"] = (max(vals) - min(vals)) / med(vals) if med(vals) else 0
    r[k]["other_max"] = max(s["other"] for s in v)

print("# tightrope data-path benchmark\n")
print(f"- machine: {facts['ncpu']} x {facts['cpu']}, {facts['os']}, Linux {facts['kernel']}")
print(f"- date: {facts['date']}; commit {facts['commit']}" +
      (f" (working tree modified: {facts['dirty']})" if facts.get("dirty") else ""))
print(f"- loopback; `tightrope target -w 1 -N mem:1G` on CPU 1, `tightrope bench --numjobs 1` on CPU 0 "
      f"(servers on CPU 1, clients on CPU 0 for iperf3 and the ping-pong too); the namespace is filled first")
print(f"- every figure is the median of {facts['rounds']} interleaved rounds of {facts['runtime']} s "
      f"after {facts['ramp']} s of warm-up; other processes used {facts['load_before']}% of a core before the start\n")
print("## Limits of this machine (same run)\n")
print("| what | figure |\n|---|---|")
print(f"| iperf3 single stream | {lim['iperf3_mibs']:,.0f} MiB/s (rounds: "
      f"{', '.join('%.0f' % float(x['iperf3_mibs']) for x in limits)}) |")
print(f"| TCP ping-pong, 64 B request, 4 KiB reply, TCP_NODELAY, 20k round trips | avg {lim['ping_avg_us']:.1f} µs, "
      f"p50 {lim['ping_p50_us']:.1f} µs, p99 {lim['ping_p99_us']:.1f} µs (avg per round: "
      f"{', '.join('%.1f' % float(x['ping_avg_us']) for x in limits)}) |\n")
print("## tightrope target vs tightrope bench\n")
print("| workload | digests | IOPS | MiB/s | avg lat (µs) | p99 lat (µs) | target CPU | bench CPU "
      "| target CPU/IO (µs) | bench CPU/IO (µs) | spread | other load |")
print("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
names = [("randread-4k-qd1", "4 KiB randread QD1"), ("randread-4k-qd32", "4 KiB randread QD32"),
         ("randread-4k-qd128", "4 KiB randread QD128"), ("randwrite-4k-qd32", "4 KiB randwrite QD32"),
         ("read-128k-qd16", "128 KiB seq read QD16"), ("write-128k-qd16", "128 KiB seq write QD16")]
for key, label in names:
    for dig in ("0", "1"):
        x = r[(key, dig)]
        print(f"| {label} | {'hdr+data' if dig == '1' else 'none'} | {x['iops']:,.0f} | {x['mibs']:,.1f} "
              f"| {x['avg_us']:.1f} | {x['p99_us']:.1f} | {x['tgt'] * 100:.0f}% | {x['bench'] * 100:.0f}% "
              f"| {x['tgt_io']:.2f} | {x['bench_io']:.2f} | {x['spread'] * 100:.0f}% | {x['other_max'] * 100:.0f}% |")
print("\nCPU: share of one core used by the whole process in the measured window (/proc/PID/stat); CPU/IO: that CPU "
      "time per completed I/O. Spread: (max - min) / median of the row's headline figure (latency at QD1, MiB/s at "
      "128 KiB, IOPS otherwise) over the rounds. Other load: the most CPU that other processes used in the row's "
      f"windows, in % of a core; samples with {facts['other_max']}% or more are left out of the medians when the "
      "row has undisturbed ones.\n")

ki = lambda kb: float(facts[kb]) / 1024
print("## Target memory: 16 controllers x 8 I/O queues x depth 128 (+16 admin queues), RAM namespace\n")
print("| state | VmRSS | namespace pages | RSS beyond the namespace |\n|---|--:|--:|--:|")
print(f"| target started, nothing connected | {ki('rss_start_kb'):.1f} MiB | — | {ki('rss_start_kb'):.1f} MiB |")
print(f"| 144 connections live, namespace idle | {ki('rss_idle_kb'):.1f} MiB | {ki('rss_idle_ns_kb'):.1f} MiB "
      f"| **{ki('rss_idle_kb') - ki('rss_idle_ns_kb'):.1f} MiB** |")
print(f"| then 128 pipelined 4 KiB writes on every I/O queue (all to LBA 0) | {ki('rss_written_kb'):.1f} MiB "
      f"| {ki('rss_written_ns_kb'):.1f} MiB | {ki('rss_written_kb') - ki('rss_written_ns_kb'):.1f} MiB |")
print(f"| all connections closed again | {ki('rss_after_kb'):.1f} MiB | | |\n")

spdk = None
for line in open(sys.argv[4], encoding="utf-8") if os.path.exists(sys.argv[4]) else []:
    if line.startswith("| SPDK"):
        m = re.search(r"([0-9][0-9,.]*)\s*(k?)\s*IOPS", line.split("|")[2])
        if m:
            spdk = float(m.group(1).replace(",", "")) * (1000 if m.group(2) else 1)
missed = []  # the workloads behind missed targets, to profile: "name rw bs qd digest"
def target(what, measured, ratio_txt, ok, workload=None):
    if ok is False:
        missed.append(workload or "-")
    verdict = "n/a" if ok is None else ("**met**" if ok else "**missed**")
    print(f"| {what} | {measured} | {ratio_txt} | {verdict} |")
print("## Targets (issue 4)\n")
print("| target | measured (medians) | ratio: median of the per-round ratios | verdict |\n|---|---|--:|---|")
# Ratios are taken per round, between runs made minutes apart at most, then their median is used.
by_round = {(x["name"], x["digest"], x["round"]): derive(x) for x in samples}
lim_round = {x["round"]: {k: float(v) for k, v in x.items()} for x in limits}
def paired(fn, *keys):  # median over the rounds of fn(limits, samples...), undisturbed rounds preferred
    clean, every = [], []
    for rd in sorted(lim_round, key=int):
        ss = [by_round.get((k, d, rd)) for k, d in keys]
        if None in ss:
            continue
        every.append(fn(lim_round[rd], *ss))
        if all(x["other"] < other_max for x in ss):
            clean.append(every[-1])
    vals = clean or every
    return med(vals), vals
rounds_txt = lambda vals, fmt: " (per round: " + ", ".join(fmt % x for x in vals) + ")"
v = lambda k, d, m: r[(k, d)][m]
seq, vals = paired(lambda l, x: x["mibs"] / l["iperf3_mibs"], ("read-128k-qd16", "0"))
target("128 KiB seq read >= 90% of iperf3", f"{v('read-128k-qd16', '0', 'mibs'):,.0f} vs {lim['iperf3_mibs']:,.0f} MiB/s",
       f"{seq * 100:.0f}%" + rounds_txt([x * 100 for x in vals], "%.0f%%"), seq >= 0.9, "read-128k-qd16 read 128k 16 0")
lat, vals = paired(lambda l, x: x["avg_us"] / l["ping_avg_us"], ("randread-4k-qd1", "0"))
target("4 KiB QD1 avg latency <= 1.3x ping-pong RTT",
       f"{v('randread-4k-qd1', '0', 'avg_us'):.1f} vs {lim['ping_avg_us']:.1f} µs",
       f"{lat:.2f}x" + rounds_txt(vals, "%.2fx"), lat <= 1.3, "randread-4k-qd1 randread 4k 1 0")
q128 = r[("randread-4k-qd128", "0")]
if spdk:
    target("4 KiB QD128 randread >= SPDK (ANCHORS.md)", f"{q128['iops']:,.0f} vs {spdk:,.0f} IOPS",
           f"{q128['iops'] / spdk:.2f}x", q128["iops"] >= spdk, "randread-4k-qd128 randread 4k 128 0")
else:
    target("4 KiB QD128 randread >= SPDK (ANCHORS.md), with less CPU/IO",
           f"{q128['iops']:,.0f} IOPS at {q128['tgt_io']:.2f} µs target CPU/IO; ANCHORS.md has no SPDK figure yet",
           "—", None)
for key, label, rw in (("read-128k-qd16", "read", "read"), ("write-128k-qd16", "write", "write")):
    cost, vals = paired(lambda l, x0, x1: 1 - x1["mibs"] / x0["mibs"], (key, "0"), (key, "1"))
    target(f"digests cost < 10% at 128 KiB ({label})", f"{v(key, '1', 'mibs'):,.0f} vs {v(key, '0', 'mibs'):,.0f} MiB/s",
           f"{cost * 100:.1f}%" + rounds_txt([x * 100 for x in vals], "%.1f%%"), cost < 0.10, f"{key} {rw} 128k 16 1")
rss = ki("rss_idle_kb") - ki("rss_idle_ns_kb")
target("RSS < 64 MiB beyond the namespace (16x8x128, idle)", f"{rss:.1f} MiB", f"{rss / 64 * 100:.0f}% of 64 MiB",
       rss < 64)
open(sys.argv[5], "w").write("".join(m + "\n" for m in dict.fromkeys(missed)))
EOF
cat "$work/report.md"

# ---- profiles: the QD128 run, and the run behind each missed target ----
# profile NAME RW BS QD DIGEST: perf record -e cpu-clock -g of the target and of bench, 5 s of both at once
profile() {
  local name=$1 rw=$2 bs=$3 qd=$4 dig=$5 bp pt side tag
  local args=(bench "${remote[@]}" --rw "$rw" --bs "$bs" --iodepth "$qd" --runtime $((RAMP + 7)) --time_based)
  ((dig)) && args+=(-g -G)
  tag=$name-$dig
  wait_quiet 20
  log "profiling $name $( ((dig)) && echo 'with digests' || echo 'without digests')"
  (pin "$BCPU" "$tr" "${args[@]}") >"$work/profile-$tag.out" 2>&1 &
  bp=$!
  pids+=("$bp")
  sleep "$RAMP.5"
  perf record -q -e cpu-clock -g -p "$tgt" -o "$work/perf-$tag-target.data" -- sleep 5 >"$work/perf-$tag-target.log" 2>&1 &
  pt=$!
  pids+=("$pt")
  perf record -q -e cpu-clock -g -p "$bp" -o "$work/perf-$tag-bench.data" -- sleep 5 >"$work/perf-$tag-bench.log" 2>&1 ||
    true
  wait "$pt" || true
  forget "$pt"
  wait "$bp" || true
  forget "$bp"
  echo
  echo "## Profile: $name, $( ((dig)) && echo 'header and data digests' || echo 'no digests') (perf record -e cpu-clock -g, 5 s)"
  for side in target bench; do
    perf report -i "$work/perf-$tag-$side.data" --stdio --no-children >"$work/perf-$tag-$side.txt" 2>/dev/null || true
    echo
    echo "### $side: top symbols by self time"
    echo
    echo '```'
    perf report -i "$work/perf-$tag-$side.data" --stdio --no-children -g none --percent-limit 1 2>/dev/null |
      grep -v -e '^#' -e '^$' | head -30 || true
    echo '```'
  done
}
mapfile -t missed <"$work/missed"
if [[ $PROFILE == 1 || ($PROFILE == auto && ${#missed[@]} -gt 0) ]]; then
  need perf linux-perf
  todo=("randread-4k-qd128 randread 4k 128 0")
  for m in "${missed[@]}"; do
    [[ $m == - || $m == "${todo[0]}" ]] || todo+=("$m")
  done
  for m in "${todo[@]}"; do
    read -r -a w <<<"$m"
    profile "${w[@]}"
  done
fi
