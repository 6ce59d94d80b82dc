#!/usr/bin/env bash
# tightrope's data-path benchmark (issues 4 and 13): loopback limits measured in the same rounds (iperf3, a raw
# TCP stream each way, TCP ping-pongs sleeping and spinning) vs tightrope target and bench on one core each,
# with/without digests, in poll mode where the binary has it, CPU per I/O, cold RAM reads, target memory;
# a Markdown report on stdout.
#
# usage: bench/run.sh > report.md          (progress on stderr; about 5 minutes)
# env:   ROUNDS=3 RUNTIME=3 RAMP=1  every figure is the median of ROUNDS interleaved rounds of
#                                   RUNTIME measured seconds after RAMP seconds of warm-up
#        PORT_BASE=45000            uses PORT_BASE..PORT_BASE+6 on 127.0.0.1
#        STREAM_CHUNKS="131072 4194304"  bytes per send()/recv() of the raw TCP stream: each is run, the
#                                   best of them in each round is the ceiling
#        POLL_US=50                 --poll-us of the poll-mode QD1 point (run when target and bench have it)
#        COLD_BASELINE=path         also measure cold RAM reads with this binary's target (e.g. one built
#                                   before the change that serves unwritten RAM from a zero buffer)
#        PROFILE=auto|1|0           perf profiles of the QD128 run and of each missed target's run:
#                                   when a target is missed | always | never (installs linux-perf)
#        QUIET_WAIT=120             wait up to this many seconds for other processes to go quiet
#        OTHER_MAX=20               rerun (twice at most) a point in which other processes used more
#                                   than this % of a core
#        KEEP=DIR                   keep the raw outputs (bench JSON, perf data and reports) there
#        BUILD_JOBS=N               ninja -j for building build/src/tightrope if it is out of date
#        TIGHTROPE=path             use this binary instead of building one
#        SPDK_QD128_IOPS=N          SPDK nvmf_tgt's 4 KiB randread QD128 IOPS, measured on this machine
#                                   beside this run (bench/RESULTS.md says how); the SPDK target is n/a without
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
SPDK_QD128_IOPS=${SPDK_QD128_IOPS:-}
STREAM_CHUNKS=${STREAM_CHUNKS:-131072 4194304}
POLL_US=${POLL_US:-50}
COLD_BASELINE=${COLD_BASELINE:-}
NQN=nqn.2026-11.io.tightrope:default
NS_SIZE_KB=$((1024 * 1024)) # the RAM namespace: mem:1G
TCPU=1                      # the target and every server side
BCPU=0                      # tightrope bench and every client side
P_IPERF=$PORT_BASE P_PING=$((PORT_BASE + 1)) P_TGT=$((PORT_BASE + 2)) P_MEM=$((PORT_BASE + 3))
P_STREAM=$((PORT_BASE + 4)) P_POLL=$((PORT_BASE + 5)) P_COLD=$((PORT_BASE + 6))

for v in ROUNDS RUNTIME RAMP QUIET_WAIT OTHER_MAX POLL_US; do
  [[ ${!v} =~ ^[0-9]+$ ]] || { echo "run.sh: $v must be whole seconds (or a count)" >&2; exit 2; }
done
[[ -z $SPDK_QD128_IOPS || $SPDK_QD128_IOPS =~ ^[0-9]+$ ]] || { echo "run.sh: SPDK_QD128_IOPS must be a whole number" >&2; exit 2; }
((RUNTIME >= 2 && ROUNDS >= 1)) || { echo "run.sh: RUNTIME must be >= 2 and ROUNDS >= 1" >&2; exit 2; }
read -r -a stream_chunks <<<"$STREAM_CHUNKS"
((${#stream_chunks[@]})) || { echo "run.sh: STREAM_CHUNKS is empty" >&2; exit 2; }
for v in "${stream_chunks[@]}"; do
  [[ $v =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: STREAM_CHUNKS must be byte counts" >&2; exit 2; }
done

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
[[ -z $COLD_BASELINE || -x $COLD_BASELINE ]] || { log "COLD_BASELINE: no binary at $COLD_BASELINE"; exit 1; }
# Poll mode (issue 13) where this binary has it on both sides.
poll=0
if "$tr" target --help 2>&1 | grep -q -- --poll-us && "$tr" bench --help 2>&1 | grep -q -- --poll-us; then
  poll=1
fi
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
  # cat fails when a process ends between the glob and its open: not an error here (pipefail is on)
  { cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v ex=" $$ $* " '{ pid = $1; sub(/^.*\) /, "") }
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
fact stream_chunks "$STREAM_CHUNKS"
fact poll_us "$((poll ? POLL_US : 0))"
fact cold_baseline "$COLD_BASELINE"

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
fill() { # fill PORT: write the whole namespace once, so reads touch real pages, not a shared zero page
  log "filling the 1 GiB RAM namespace on port $1"
  (pin "$BCPU" "$tr" bench -t tcp -a 127.0.0.1 -s "$1" -n "$NQN" --rw write --bs 1m --iodepth 4) \
    >"$work/fill-$1.out" 2>&1 || { log "fill failed: $(tail -3 "$work/fill-$1.out")"; exit 1; }
}
fill "$P_TGT"
# The poll-mode target, the same but for --poll-us; it sleeps like the other one while nothing connects.
ptgt=
if ((poll)); then
  (pin "$TCPU" "$tr" target -l "127.0.0.1:$P_POLL" -N mem:1G -w 1 --poll-us "$POLL_US" -S "$work/ctl-poll.sock") \
    >"$work/target-poll.log" 2>&1 &
  ptgt=$!
  pids+=("$ptgt")
  wait_listen "$P_POLL" "$work/target-poll.log"
  fill "$P_POLL"
else
  log "no --poll-us in this build's target and bench: no poll-mode point"
fi
cc -O2 -Wall -Wextra -Werror -o "$work/pingpong" "$here/pingpong.c"

limits=$work/limits.tsv
{
  printf 'round\tiperf3_mibs\tping_avg_us\tping_p50_us\tping_p99_us'
  printf '\t%s_avg_us\t%s_p50_us\t%s_p99_us' spin spin spin mixed mixed mixed
  for dir in read write; do # the best chunk size of the round, then each one's MiB/s
    printf '\tstream_%s_mibs\tstream_%s_srv_cpu\tstream_%s_cli_cpu\tstream_%s_chunk' $dir $dir $dir $dir
    printf "\tstream_${dir}_%s_mibs" "${stream_chunks[@]}"
  done
  printf '\tother_pct'
  printf '\n'
} >"$limits"
kv() { # kv KEY WORD...: the word after KEY (pingpong prints "key value" pairs)
  local k=$1
  shift
  while (($# > 1)); do
    [[ $1 == "$k" ]] && { echo "$2"; return 0; }
    shift
  done
  log "pingpong printed no $k"
  exit 1
}
# pingpong_run NAME SERVER_MODE CLIENT_MODE REQ REPLY: one ping-pong, server on CPU 1, client on CPU 0
pingpong_run() {
  local pp
  (pin "$TCPU" "$work/pingpong" server "$P_PING" "$5" "$2") >"$work/pingpong-server.log" 2>&1 &
  pp=$!
  pids+=("$pp")
  wait_listen "$P_PING" "$work/pingpong-server.log"
  (pin "$BCPU" "$work/pingpong" client 127.0.0.1 "$P_PING" 20000 "$4" "$5" "$3") >"$work/$1.out"
  wait "$pp" || true
  forget "$pp"
}
# stream_run ROUND DIR CHUNK: one connection, CHUNK per send()/recv(); read: the server (CPU 1) sends.
# Sets stream_mibs, stream_srv_cpu, stream_cli_cpu.
stream_run() {
  local sp out=$work/stream-$2-$3-$1 s c
  (pin "$TCPU" "$work/pingpong" stream-server "$P_STREAM") >"$out-server.out" 2>&1 &
  sp=$!
  pids+=("$sp")
  wait_listen "$P_STREAM" "$out-server.out"
  (pin "$BCPU" "$work/pingpong" stream-client 127.0.0.1 "$P_STREAM" "$2" "$3" "$((RAMP * 1000))" \
    "$((RUNTIME * 1000))") >"$out-client.out"
  wait "$sp" || true
  forget "$sp"
  # "listening", then: stream DIR chunk N side S [mibs X bytes N seconds X] cpu_pct X
  read -r -a s < <(tail -1 "$out-server.out")
  read -r -a c <"$out-client.out"
  if [[ $2 == read ]]; then stream_mibs=$(kv mibs "${c[@]}"); else stream_mibs=$(kv mibs "${s[@]}"); fi
  stream_srv_cpu=$(kv cpu_pct "${s[@]}") stream_cli_cpu=$(kv cpu_pct "${c[@]}")
}
iperf3_run() { # iperf3_run ROUND: sets iperf3_mibs
  local ip
  (pin "$TCPU" iperf3 -s -1 -B 127.0.0.1 -p "$P_IPERF") >"$work/iperf3-server.log" 2>&1 &
  ip=$!
  pids+=("$ip")
  wait_listen "$P_IPERF" "$work/iperf3-server.log"
  (pin "$BCPU" iperf3 -c 127.0.0.1 -p "$P_IPERF" -t "$RUNTIME" -O "$RAMP" -J) >"$work/iperf3-$1.json"
  wait "$ip" || true
  forget "$ip"
  iperf3_mibs=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
print("%.1f" % (d["end"]["sum_received"]["bits_per_second"] / 8 / 1048576))' "$work/iperf3-$1.json")
}
# quietly WHAT COMMAND...: runs COMMAND (one limit: its server and client start and end inside it) and again,
# twice at most, while other processes used OTHER_MAX % of a core or more meanwhile; limits_other keeps the
# most they used in the runs kept. All of COMMAND's processes have been reaped by the time the second sample
# is taken, so other_ticks counts only other processes.
limits_other=0
quietly() {
  local try t0 mb0 other
  for try in 1 2 3; do
    t0=$EPOCHREALTIME mb0=$(other_ticks)
    "${@:2}"
    other=$(awk -v d="$(($(other_ticks) - mb0))" -v t0="$t0" -v t1="$EPOCHREALTIME" -v hz="$clk_tck" \
      'BEGIN { printf "%d", d * 100 / hz / (t1 - t0) }')
    ((other < OTHER_MAX || try == 3)) && break
    log "$1: other processes used $other% of a core; running it again"
    wait_quiet 20
  done
  ((other > limits_other)) && limits_other=$other
  return 0
}
# limits ROUND: iperf3 single stream, the raw stream both ways and the ping-pongs; servers on CPU 1, clients on CPU 0
limits() {
  local out row m dir chunk best each
  limits_other=0
  quietly iperf3 iperf3_run "$1"
  # The sleeping ping-pong as it always was (64 B, 4 KiB); the spinning ones with a 72-byte request and a
  # 4 KiB C2HData's 4,120 bytes: both ends spin, and the server sleeps while the client spins.
  quietly ping-pong pingpong_run "pingpong-$1" block block 64 4096
  quietly "spinning ping-pong" pingpong_run "pingpong-spin-$1" spin spin 72 4120
  quietly "mixed ping-pong" pingpong_run "pingpong-mixed-$1" block spin 72 4120
  row="$1\t$iperf3_mibs"
  for m in pingpong pingpong-spin pingpong-mixed; do
    read -r -a out <"$work/$m-$1.out" # rounds N request N reply N avg_us X p50_us X p99_us X ...
    row+="\t$(kv avg_us "${out[@]}")\t$(kv p50_us "${out[@]}")\t$(kv p99_us "${out[@]}")"
  done
  for dir in read write; do
    best='' each=
    for chunk in "${stream_chunks[@]}"; do
      quietly "stream $dir $chunk" stream_run "$1" "$dir" "$chunk"
      each+="\t$stream_mibs"
      if [[ -z $best ]] || awk -v a="$stream_mibs" -v b="${best%%\\t*}" 'BEGIN { exit !(a > b) }'; then
        best="$stream_mibs\t$stream_srv_cpu\t$stream_cli_cpu\t$chunk"
      fi
    done
    row+="\t$best$each"
  done
  row+="\t$limits_other"
  printf '%b\n' "$row" >>"$limits"
  log "round $1: $(tail -1 "$limits")"
}

results=$work/results.tsv
printf 'round\tname\tdigest\tiops\tmibs\tavg_us\tp99_us\ttgt_ticks\tbench_ticks\tother_ticks\twindow_s\n' >"$results"
# point ROUND NAME RW BS QD DIGEST: one bench run; the CPU of both sides and of every other process is
# sampled inside its measured window. A run that other processes disturbed (more than OTHER_MAX % of a
# core in the window) is run again, twice at most.
# A NAME ending in -poll runs against the poll-mode target with bench --poll-us too.
side_of() { # side_of NAME: sets side_tgt (the target's PID) and side_args (bench's remote and mode)
  if [[ $1 == *-poll ]]; then
    side_tgt=$ptgt side_args=(-t tcp -a 127.0.0.1 -s "$P_POLL" -n "$NQN" --poll-us "$POLL_US")
  else
    side_tgt=$tgt side_args=("${remote[@]}")
  fi
}
point() {
  side_of "$2" # before the local tgt below hides the global one
  local round=$1 name=$2 rw=$3 bs=$4 qd=$5 dig=$6 bp t0 t1 tt0 tt1 bt0 bt1 mb0 mb1 out other try tgt=$side_tgt
  local args=(bench "${side_args[@]}" --rw "$rw" --bs "$bs" --iodepth "$qd" --numjobs 1 --runtime "$RUNTIME"
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
# ---- cold reads (issue 13, item 5): one pass of 128 KiB reads at QD16 over a fresh RAM namespace, then
# another after the namespace was written; with COLD_BASELINE, the same against that binary's target ----
cold_tsv=$work/cold.tsv cold_try=$work/cold-try.tsv
printf 'round\tbinary\tpass\tmibs\ttgt_cpu\n' >"$cold_tsv"
cold_pass() { # cold_pass ROUND BINARY PASS PID: one sequential pass over the whole namespace
  local t0 t1 tt0 tt1 out=$work/cold-$2-$3-$1 mibs
  t0=$EPOCHREALTIME tt0=$(ticks "$4")
  (pin "$BCPU" "$tr" bench -t tcp -a 127.0.0.1 -s "$P_COLD" -n "$NQN" --rw read --bs 128k --iodepth 16 -o json) \
    >"$out.json" 2>"$out.err" || { log "cold read failed: $(tail -3 "$out.err")"; exit 1; }
  t1=$EPOCHREALTIME tt1=$(ticks "$4")
  mibs=$(python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["runs"][-1]["total"]["read"]
print("%.1f" % (t["bw_bytes"] / 1048576))' "$out.json")
  printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$mibs" \
    "$(python3 -c "print('%.2f' % (($tt1 - $tt0) / $clk_tck / ($t1 - $t0)))")" >>"$cold_try"
}
cold_one() { # cold_one ROUND WHICH BINARY: a fresh target, a pass, a fill, a pass; the rows go to cold_try
  local ct
  : >"$cold_try"
  (pin "$TCPU" "$3" target -l "127.0.0.1:$P_COLD" -N mem:1G -w 1 -S "$work/ctl-cold.sock") \
    >"$work/target-cold-$2.log" 2>&1 &
  ct=$!
  pids+=("$ct")
  wait_listen "$P_COLD" "$work/target-cold-$2.log"
  cold_pass "$1" "$2" first "$ct"
  fill "$P_COLD"
  cold_pass "$1" "$2" written "$ct"
  stop "$ct"
}
cold() { # cold ROUND: measured again, as the limits are, when other processes disturbed it
  local which b
  for which in current baseline; do
    b=$tr
    if [[ $which == baseline ]]; then
      [[ -n $COLD_BASELINE ]] || continue
      b=$COLD_BASELINE
    fi
    quietly "cold reads ($which)" cold_one "$1" "$which" "$b"
    cat "$cold_try" >>"$cold_tsv"
  done
  log "round $1: cold reads $(awk -F'\t' -v r="$1" '$1 == r { printf "%s %s %s MiB/s; ", $2, $3, $4 }' "$cold_tsv")"
}

workloads=("randread-4k-qd1 randread 4k 1" "randread-4k-qd32 randread 4k 32" "randread-4k-qd128 randread 4k 128"
  "randwrite-4k-qd32 randwrite 4k 32" "read-128k-qd16 read 128k 16" "write-128k-qd16 write 128k 16")
# Poll mode right after the default mode's QD1, so that their ratio sees the same conditions too.
((poll)) && workloads=("${workloads[0]}" "randread-4k-qd1-poll randread 4k 1" "${workloads[@]:1}")
for ((round = 1; round <= ROUNDS; round++)); do
  log "round $round of $ROUNDS"
  wait_quiet 20
  limits "$round"
  for wl in "${workloads[@]}"; do
    read -r -a w <<<"$wl"
    point "$round" "${w[@]}" 0 # without and with digests back to back, so their ratio sees the same conditions
    [[ ${w[0]} == *-poll ]] || point "$round" "${w[@]}" 1
  done
  cold "$round"
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
python3 - "$facts" "$limits" "$results" "$SPDK_QD128_IOPS" "$work/missed" "$cold_tsv" >"$work/report.md" \
  <<'EOF'
import csv, statistics, sys
facts = dict(l.rstrip("\n").split("=", 1) for l in open(sys.argv[1]) if "=" in l)
limits = list(csv.DictReader(open(sys.argv[2]), delimiter="\t"))
samples = list(csv.DictReader(open(sys.argv[3]), delimiter="\t"))
clk = float(facts["clk_tck"])
f = lambda k: float(facts[k])
med = lambda xs: statistics.median(xs)
rounds_txt = lambda vals, fmt: " (per round: " + ", ".join(fmt % x for x in vals) + ")"
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
      f"{', '.join('%.1f' % float(x['ping_avg_us']) for x in limits)}) |")
per_round = lambda k, fmt: ", ".join(fmt % float(x[k]) for x in limits)
size_txt = lambda n: f"{n >> 20} MiB" if n % (1 << 20) == 0 else f"{n >> 10} KiB" if n % 1024 == 0 else f"{n} B"
chunks = [int(c) for c in facts["stream_chunks"].split()]
for key, what in (("stream_read", "server → client, as reads go"),
                  ("stream_write", "client → server, as writes go")):
    each = ", ".join(f"{size_txt(c)} {lim[f'{key}_{c}_mibs']:,.0f}" for c in chunks)
    print(f"| raw TCP stream, {what}: one connection, blocking send()/recv() of {' or '.join(map(size_txt, chunks))}, "
          f"the best in each round | {lim[key + '_mibs']:,.0f} MiB/s (rounds: {per_round(key + '_mibs', '%.0f')}; "
          f"best chunk: {', '.join(size_txt(int(x[key + '_chunk'])) for x in limits)}); medians by chunk: {each}; "
          f"CPU of the best: server {lim[key + '_srv_cpu']:.0f}%, client {lim[key + '_cli_cpu']:.0f}% |")
for key, what in (("spin", "both ends spin on non-blocking recv()"),
                  ("mixed", "server sleeps in recv(), client spins")):
    print(f"| TCP ping-pong, {what}, 72 B request, 4,120 B reply (a 4 KiB C2HData), TCP_NODELAY, 20k round trips "
          f"| avg {lim[key + '_avg_us']:.1f} µs, p50 {lim[key + '_p50_us']:.1f} µs, "
          f"p99 {lim[key + '_p99_us']:.1f} µs "
          f"(avg per round: {per_round(key + '_avg_us', '%.1f')}) |")
print("\nServers on CPU 1, clients on CPU 0. The stream's CPU is each side's share of one core in its window "
      f"(getrusage). Other processes used at most {max(float(x['other_pct']) for x in limits):.0f}% of a core while "
      f"a limit kept here was measured (per round: {per_round('other_pct', '%.0f%%')}; a limit measured while they "
      f"used {facts['other_max']}% or more is measured again, twice at most).\n")
print("## tightrope target vs tightrope bench\n")
print("| workload | digests | IOPS | MiB/s | avg lat (µs) | p99 lat (µs) | target CPU | bench CPU "
      "| target CPU/IO (µs) | bench CPU/IO (µs) | spread | other load |")
print("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
names = [("randread-4k-qd1", "4 KiB randread QD1"), ("randread-4k-qd32", "4 KiB randread QD32"),
         ("randread-4k-qd128", "4 KiB randread QD128"), ("randwrite-4k-qd32", "4 KiB randwrite QD32"),
         ("read-128k-qd16", "128 KiB seq read QD16"), ("write-128k-qd16", "128 KiB seq write QD16")]
poll_us = int(facts["poll_us"])
if poll_us:
    names.insert(1, ("randread-4k-qd1-poll", f"4 KiB randread QD1, poll mode (`--poll-us {poll_us}` on both sides)"))
for key, label in names:
    for dig in ("0", "1"):
        if (key, dig) not in r:
            continue
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

cold = list(csv.DictReader(open(sys.argv[6]), delimiter="\t"))
print("## Cold reads: one pass of 128 KiB reads at QD16 over a fresh 1 GiB RAM namespace, then after it was written\n")
print("| target | first pass MiB/s | after written MiB/s | first / written | target CPU first / written "
      "| first pass / this build's |\n|---|--:|--:|--:|--:|--:|")
passes = {}  # binary -> round -> pass -> MiB/s
for x in cold:
    passes.setdefault(x["binary"], {}).setdefault(x["round"], {})[x["pass"]] = float(x["mibs"])
for b, rounds in passes.items():
    c = lambda p, k: med([float(x[k]) for x in cold if x["binary"] == b and x["pass"] == p])
    ratios = [v["first"] / v["written"] for v in rounds.values() if v.get("written")]
    label = "this build" if b == "current" else f"COLD_BASELINE `{facts['cold_baseline']}`"
    vs = [v["first"] / passes["current"][rd]["first"] for rd, v in rounds.items() if rd in passes.get("current", {})]
    print(f"| {label} | {c('first', 'mibs'):,.0f} | {c('written', 'mibs'):,.0f} | {med(ratios):.2f}"
          f"{rounds_txt(ratios, '%.2f')} | {c('first', 'tgt_cpu') * 100:.0f}% / {c('written', 'tgt_cpu') * 100:.0f}% "
          f"| {'—' if b == 'current' or not vs else f'{med(vs):.2f}' + rounds_txt(vs, '%.2f')} |")
print("\nA fresh target per round; medians over the rounds. Target CPU: its share of one core over the pass.\n")

spdk = float(sys.argv[4]) if sys.argv[4] else None  # SPDK_QD128_IOPS: measured beside us, on this machine
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
    target("4 KiB QD128 randread >= SPDK (SPDK_QD128_IOPS)", f"{q128['iops']:,.0f} vs {spdk:,.0f} IOPS",
           f"{q128['iops'] / spdk:.2f}x", q128["iops"] >= spdk, "randread-4k-qd128 randread 4k 128 0")
else:
    target("4 KiB QD128 randread >= SPDK, with less CPU/IO",
           f"{q128['iops']:,.0f} IOPS at {q128['tgt_io']:.2f} µs target CPU/IO; no SPDK figure given (SPDK_QD128_IOPS)",
           "—", None)
for key, label, rw in (("read-128k-qd16", "read", "read"), ("write-128k-qd16", "write", "write")):
    cost, vals = paired(lambda l, x0, x1: 1 - x1["mibs"] / x0["mibs"], (key, "0"), (key, "1"))
    target(f"digests cost < 10% at 128 KiB ({label})", f"{v(key, '1', 'mibs'):,.0f} vs {v(key, '0', 'mibs'):,.0f} MiB/s",
           f"{cost * 100:.1f}%" + rounds_txt([x * 100 for x in vals], "%.1f%%"), cost < 0.10, f"{key} {rw} 128k 16 1")
rss = ki("rss_idle_kb") - ki("rss_idle_ns_kb")
target("RSS < 64 MiB beyond the namespace (16x8x128, idle)", f"{rss:.1f} MiB", f"{rss / 64 * 100:.0f}% of 64 MiB",
       rss < 64)

print("\n## Targets (issue 13)\n")
print("| target | measured (medians) | ratio: median of the per-round ratios | verdict |\n|---|---|--:|---|")
lat, vals = paired(lambda l, x: x["avg_us"] / l["ping_avg_us"], ("randread-4k-qd1", "0"))
q1 = r[("randread-4k-qd1", "0")]
target("4 KiB QD1 avg latency <= 1.1x the sleeping ping-pong (default mode)",
       f"{q1['avg_us']:.1f} vs {lim['ping_avg_us']:.1f} µs; CPU: target {q1['tgt'] * 100:.0f}%, "
       f"bench {q1['bench'] * 100:.0f}%", f"{lat:.2f}x" + rounds_txt(vals, "%.2fx"), lat <= 1.1,
       "randread-4k-qd1 randread 4k 1 0")
if ("randread-4k-qd1-poll", "0") in r:
    qp = r[("randread-4k-qd1-poll", "0")]
    lat, vals = paired(lambda l, x: x["avg_us"] / l["spin_avg_us"], ("randread-4k-qd1-poll", "0"))
    target("4 KiB QD1 avg latency in poll mode <= 1.2x the spinning ping-pong",
           f"{qp['avg_us']:.1f} vs {lim['spin_avg_us']:.1f} µs; CPU: target {qp['tgt'] * 100:.0f}%, "
           f"bench {qp['bench'] * 100:.0f}% (default mode: {q1['tgt'] * 100:.0f}%, {q1['bench'] * 100:.0f}%)",
           f"{lat:.2f}x" + rounds_txt(vals, "%.2fx"), lat <= 1.2, "randread-4k-qd1-poll randread 4k 1 0")
else:
    target("4 KiB QD1 avg latency in poll mode <= 1.2x the spinning ping-pong",
           f"this build's target or bench has no `--poll-us`; spinning ping-pong {lim['spin_avg_us']:.1f} µs",
           "—", None)
for key, label, rw, sk in (("read-128k-qd16", "read", "read", "stream_read"),
                           ("write-128k-qd16", "write", "write", "stream_write")):
    ratio, vals = paired(lambda l, x: x["mibs"] / l[sk + "_mibs"], (key, "0"))
    x = r[(key, "0")]
    target(f"128 KiB seq {label} {'>= 90% of' if rw == 'read' else 'vs'} the raw TCP stream "
           f"({'server → client' if rw == 'read' else 'client → server'})",
           f"{x['mibs']:,.0f} vs {lim[sk + '_mibs']:,.0f} MiB/s; CPU: target {x['tgt'] * 100:.0f}%, "
           f"bench {x['bench'] * 100:.0f}%", f"{ratio * 100:.0f}%" + rounds_txt([y * 100 for y in vals], "%.0f%%"),
           ratio >= 0.9 if rw == "read" else None, f"{key} {rw} 128k 16 0")
for key, label, rw in (("read-128k-qd16", "read", "read"), ("write-128k-qd16", "write", "write")):
    cost, vals = paired(lambda l, x0, x1: 1 - x1["mibs"] / x0["mibs"], (key, "0"), (key, "1"))
    target(f"digests cost < 10% at 128 KiB ({label})",
           f"{v(key, '1', 'mibs'):,.0f} vs {v(key, '0', 'mibs'):,.0f} MiB/s",
           f"{cost * 100:.1f}%" + rounds_txt([x * 100 for x in vals], "%.1f%%"), cost < 0.10, f"{key} {rw} 128k 16 1")
print("\nThe write row has no target in issue 13; it says how far writes are from the same connection's ceiling.")
open(sys.argv[5], "w").write("".join(m + "\n" for m in dict.fromkeys(missed)))
EOF
cat "$work/report.md"

# ---- profiles: the QD128 run, and the run behind each missed target ----
# profile NAME RW BS QD DIGEST: perf record -e cpu-clock -g of the target and of bench, 5 s of both at once
profile() {
  side_of "$1"
  local name=$1 rw=$2 bs=$3 qd=$4 dig=$5 bp pt side tag tgt=$side_tgt
  local args=(bench "${side_args[@]}" --rw "$rw" --bs "$bs" --iodepth "$qd" --runtime $((RAMP + 7)) --time_based)
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
