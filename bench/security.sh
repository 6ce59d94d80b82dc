#!/usr/bin/env bash
# What security costs (issue 11): one tightrope target (CPU 1) with a port that allows TLS beside
# plain connections and hosts that must authenticate, and tightrope's host (CPU 0): connect time
# without and with DH-HMAC-CHAP in every DH group and with TLS; 4 KiB randread QD32 and 128 KiB
# sequential read and write QD16 over TLS and plain, with the CPU per I/O of both sides. Every data
# figure is the median of ROUNDS rounds that alternate plain and TLS; ratios are taken per round.
# A Markdown report on stdout.
#
# usage: bench/security.sh > report.md      (progress on stderr; about 3 minutes)
# env:   ROUNDS=3 RUNTIME=4 CONNECTS=20 PORT=45100 TIGHTROPE=path (default: build/src/tightrope, built)
set -euo pipefail
export LC_ALL=C
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
ROUNDS=${ROUNDS:-3} RUNTIME=${RUNTIME:-4} CONNECTS=${CONNECTS:-20} PORT=${PORT:-45100}
NQN=nqn.2026-12.io.tightrope:security
TCPU=1 BCPU=0
log() { echo "security.sh: $*" >&2; }
tr=${TIGHTROPE:-$root/build/src/tightrope}
if [[ -z ${TIGHTROPE:-} ]]; then
  [[ -d $root/build ]] || meson setup "$root/build" >&2
  ninja -C "$root/build" >&2
fi
work=$(mktemp -d /tmp/tightrope-security.XXXXXX)
tgt=
cleanup() { [[ -n $tgt ]] && kill "$tgt" 2>/dev/null && wait "$tgt" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
pin() { local c=$1; shift; taskset -c "$c" "$@"; }

# Hosts: one plain, one with a TLS PSK, one per DH group with a DH-HMAC-CHAP secret (SHA-256).
tls_key=$("$tr" gen-tls-key)
secret=$("$tr" gen-dhchap-key)
groups=(null ffdhe2048 ffdhe3072 ffdhe4096 ffdhe6144 ffdhe8192)
hosts=(-H nqn.2026-12.io.tightrope:plain -H nqn.2026-12.io.tightrope:tls --tls-key "$tls_key")
for g in "${groups[@]}"; do hosts+=(-H "nqn.2026-12.io.tightrope:auth-$g" --dhchap-secret "$secret" --dhchap-dhgroup "$g"); done
taskset -c "$TCPU" "$tr" target -w 1 -S none -l "127.0.0.1:$PORT" --tls allowed -n "$NQN" -N mem:1G "${hosts[@]}" \
  >"$work/target.log" 2>&1 &
tgt=$!
for _ in $(seq 100); do grep -q "target ready" "$work/target.log" && break; sleep 0.05; done
remote=(-a 127.0.0.1 -s "$PORT" -n "$NQN")
log "filling the namespace"
pin "$BCPU" "$tr" bench "${remote[@]}" -q nqn.2026-12.io.tightrope:plain --rw write --bs 1m --iodepth 4 >/dev/null

ms_now() { date +%s%N; }
# connect_ms HOST [options]: median wall time of CONNECTS `id-ctrl` runs (exec, connect, Identify,
# disconnect), in ms.
connect_ms() {
  local h=$1 t0 i
  shift
  for ((i = 0; i < CONNECTS; i++)); do
    t0=$(ms_now)
    pin "$BCPU" "$tr" id-ctrl "${remote[@]}" -q "$h" "$@" >/dev/null || { log "id-ctrl $h failed"; echo nan; return; }
    echo $((($(ms_now) - t0) / 1000))
  done | sort -n | awk '{ v[NR] = $1 } END { printf "%.2f\n", v[int((NR + 1) / 2)] / 1000 }'
}
target_ticks() { awk '{ print $14 + $15 }' "/proc/$tgt/stat"; }

# run_point NAME ARGS...: one bench run; prints "iops mibs bench_cpu_pct target_cpu_pct".
run_point() {
  local t0 t1 out
  t0=$(target_ticks)
  out=$(pin "$BCPU" "$tr" bench "${remote[@]}" "$@" --numjobs 1 --runtime "$RUNTIME" --time_based -o json)
  t1=$(target_ticks)
  python3 -c '
import json, sys
d = json.loads(sys.argv[1]); j = d["runs"][0]["jobs"][0]
io = j["read"]["iops"] + j["write"]["iops"]; bw = (j["read"]["bw_bytes"] + j["write"]["bw_bytes"]) / 2**20
cpu = j.get("usr_cpu", 0) + j.get("sys_cpu", 0)
tcpu = (int(sys.argv[3]) - int(sys.argv[2])) / 100 / float(sys.argv[4]) * 100
print(f"{io:.0f} {bw:.1f} {cpu:.1f} {tcpu:.1f}")' "$out" "$t0" "$t1" "$RUNTIME"
}

res=$work/points # "workload|mode|round iops mibs bench_cpu target_cpu" per line
workloads=("4 KiB randread QD32|--rw randread --bs 4k --iodepth 32" "128 KiB seq read QD16|--rw read --bs 128k --iodepth 16"
  "128 KiB seq write QD16|--rw write --bs 128k --iodepth 16")
for ((r = 1; r <= ROUNDS; r++)); do
  for w in "${workloads[@]}"; do
    name=${w%%|*} args=${w#*|}
    for mode in plain tls; do
      log "round $r: $name, $mode"
      if [[ $mode == tls ]]; then
        # shellcheck disable=SC2086 # args is a list of options
        echo "$name|$mode|$r $(run_point $args -q nqn.2026-12.io.tightrope:tls --tls-key "$tls_key")" >>"$res"
      else
        # shellcheck disable=SC2086
        echo "$name|$mode|$r $(run_point $args -q nqn.2026-12.io.tightrope:plain)" >>"$res"
      fi
    done
  done
done
log "connect times"
declare -A conn
conn[none]=$(connect_ms nqn.2026-12.io.tightrope:plain)
conn[tls]=$(connect_ms nqn.2026-12.io.tightrope:tls --tls-key "$tls_key")
for g in "${groups[@]}"; do conn[$g]=$(connect_ms "nqn.2026-12.io.tightrope:auth-$g" -S "$secret"); done

cpu_model=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)
ktls=no
modprobe -n tls >/dev/null 2>&1 && ktls=yes
echo "# What security costs: DH-HMAC-CHAP and TLS (bench/security.sh)"
echo
echo "- **Machine**: $(nproc) vCPU $cpu_model, $(uname -sr); loopback. **Date**: $(date -u '+%F %H:%M') UTC."
echo "  **Commit**: \`$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')\`. Target \`-w 1\` on CPU $TCPU, \`bench --numjobs 1\` on CPU $BCPU;"
echo "  $ROUNDS rounds of ${RUNTIME} s per point, plain and TLS alternating; the median round is shown."
echo "- TLS is OpenSSL $(openssl version | awk '{print $2}') in user space on both sides (TLS_AES_128_GCM_SHA256, a :01: PSK)."
echo "  Kernel TLS (\`tls\` ULP) on this kernel: $ktls$([[ $ktls == no ]] && echo ' (so no kTLS figure here)')."
echo
echo "## Data path: TLS vs plain"
echo
echo "| workload | mode | IOPS | MiB/s | TLS/plain | target CPU | bench CPU | target CPU/IO (µs) | bench CPU/IO (µs) |"
echo "|---|---|--:|--:|--:|--:|--:|--:|--:|"
for w in "${workloads[@]}"; do
  name=${w%%|*}
  for mode in plain tls; do
    python3 - "$name" "$mode" "$ROUNDS" "$res" <<'EOF'
import sys, statistics
name, mode, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
d = {}
for line in open(sys.argv[4]):  # "workload|mode|round iops mibs bench_cpu target_cpu"
    w, m, rest = line.split("|", 2)
    r, vals = rest.split(" ", 1)
    d[f"{w}|{m}|{r}"] = vals.strip()
pts = [list(map(float, d[f"{name}|{mode}|{r}"].split())) for r in range(1, rounds + 1)]
ratios = [float(d[f"{name}|tls|{r}"].split()[0]) / float(d[f"{name}|plain|{r}"].split()[0]) for r in range(1, rounds + 1)]
med = sorted(pts, key=lambda p: p[0])[len(pts) // 2]
io, mibs, bcpu, tcpu = med
ratio = f"{statistics.median(ratios) * 100:.0f} %" if mode == "tls" else ""
print(f"| {name} | {mode} | {io:,.0f} | {mibs:,.1f} | {ratio} | {tcpu:.0f}% | {bcpu:.0f}% | "
      f"{tcpu / 100 * 1e6 / io:.2f} | {bcpu / 100 * 1e6 / io:.2f} |")
EOF
  done
done
echo
echo "## Connect time (\`tightrope id-ctrl\`: exec, connect, Identify, disconnect; median of $CONNECTS)"
echo
echo "| security | ms | vs none |"
echo "|---|--:|--:|"
for k in none tls "${groups[@]}"; do
  label=$k
  [[ $k == tls ]] && label="TLS 1.3 (PSK, psk_dhe_ke)"
  [[ $k != none && $k != tls ]] && label="DH-HMAC-CHAP sha256, $k"
  awk -v l="$label" -v v="${conn[$k]}" -v b="${conn[none]}" 'BEGIN { printf "| %s | %.2f | %.2fx |\n", l, v, v / b }'
done
