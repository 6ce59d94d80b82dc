#!/usr/bin/env bash
# Soak: FLAPS link flaps between `tightrope connect` and `tightrope target` with verified writes in
# flight. The target runs in a network namespace behind a veth pair (10.251.0.0/24), the host process
# of `tightrope connect -k 2 -c 1 -l 120` outside it, and link_loss_writer.py writes numbered 4 KiB
# blocks with O_DSYNC through the attached device the whole time. Each flap takes the veth down for
# 1 s (shorter than KATO: TCP retransmits, or at most a quick reconnect) or 3, 3.5 or 4 s (longer
# than KATO: keep-alive expiry on both sides, error recovery, reconnect), brings it up, waits until
# any reconnect has happened and writes flow again, then samples both processes' fd count and VmRSS
# and the target's controller count. At the end: every acknowledged write is on the target, none
# failed, disconnect-all leaves no controller, host process, loop device or mount, and fds and RSS
# were flat after warm-up. About 6.5 s per flap (100 flaps: about 11 minutes), so not in CI.
# usage: bench/soak_link_flaps.sh path/to/tightrope [FLAPS=100]
# env:   WARMUP=10 (flaps before the flatness window)  FD_SLACK=0  RSS_SLACK_KIB=4096
#        VIA=file|loop (write through the FUSE file, default, or the loop device)
#        RESUME_TMO=60 (s to wait for writes after a flap)  KEEP=1 (keep the work directory)
set -uo pipefail
[[ $# -ge 1 ]] || { echo "usage: $0 path/to/tightrope [FLAPS=100]" >&2; exit 2; }
bin=$(realpath "$1")
flaps=${2:-100}
flaps=${flaps#FLAPS=}
here=$(cd "$(dirname "$0")" && pwd)
writer_py=$here/../tests/integration/link_loss_writer.py
warmup=${WARMUP:-10}
((warmup >= flaps)) && warmup=$((flaps / 2))
fd_slack=${FD_SLACK:-0}
rss_slack=${RSS_SLACK_KIB:-4096}
via=${VIA:-file}
resume_tmo=${RESUME_TMO:-60}
work=$(mktemp -d /tmp/tightrope-soak.XXXXXX)
ns=trsk$$
veth=v$ns
nqn=nqn.2026-12.io.tightrope:soak
export TIGHTROPE_STATE_DIR=$work/state
pass=0 fail=0 tgt="" writer="" hostpid="" fence=""
ok() { echo "PASS $*"; pass=$((pass + 1)); }
bad() { echo "FAIL $*"; fail=$((fail + 1)); }
cleanup() {
  [[ -n $writer ]] && { touch "$work/stop"; kill "$writer" 2>/dev/null; wait "$writer" 2>/dev/null; }
  ip link set "$veth" up 2>/dev/null
  "$bin" disconnect-all >/dev/null 2>&1
  # A host process that did not answer the disconnect: end it, and let disconnect-all clean up after it.
  [[ -n $hostpid ]] && kill -0 "$hostpid" 2>/dev/null && kill "$hostpid" 2>/dev/null && sleep 1 &&
    "$bin" disconnect-all >/dev/null 2>&1
  [[ -n $tgt ]] && kill "$tgt" 2>/dev/null && wait "$tgt" 2>/dev/null
  ip link del "$veth" 2>/dev/null
  ip netns del "$ns" 2>/dev/null
  [[ -n $fence ]] && ip route del unreachable 10.251.0.0/24 metric 4000 2>/dev/null
  if [[ ${KEEP:-0} == 1 || $fail != 0 ]]; then
    echo "work directory kept: $work" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
# What a process's fds are, by kind (socket, pipe, a file's path, anon_inode:[...]), counted.
fdkinds() { find "/proc/$1/fd" -mindepth 1 -printf '%l\n' 2>/dev/null | sed 's/:\[[0-9]*\]$//' | sort | uniq -c | awk '{printf "%s x%s, ", $2, $1}'; }
rss() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null; }
ctrls() { # controllers the target holds, over every subsystem
  "$bin" ctl -S "$work/ctl.sock" -o json list 2>/dev/null |
    python3 -c 'import json,sys; print(sum(len(s.get("controllers", [])) for s in json.load(sys.stdin)["subsystems"]))' 2>/dev/null ||
    echo "?"
}
lines() { wc -l <"$1"; }
count() { grep -c "$1" "$log"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.1f", b - a}'; }
# Down time of flap i: one in four is 1 s (< KATO), the others 3, 4 and 3.5 s (> KATO).
down_s() { case $(($1 % 4)) in 1) echo 1 ;; 2) echo 3 ;; 3) echo 4 ;; 0) echo 3.5 ;; esac; }

start=$(now)
ip netns add "$ns" || { echo "cannot create a network namespace"; exit 1; }
ip link add "$veth" type veth peer name eth0 netns "$ns"
ip addr add 10.251.0.1/24 dev "$veth" && ip link set "$veth" up
# While the veth is down its connected route is gone, and reconnect attempts to 10.251.0.2 would go
# out through the default route to whatever answers there. This fallback keeps them here: they fail
# with "No route to host" until the link is back.
ip route add unreachable 10.251.0.0/24 metric 4000 && fence=1 ||
  { echo "cannot add the fallback route for 10.251.0.0/24 (is it in use?)"; exit 1; }
ip -n "$ns" addr add 10.251.0.2/24 dev eth0 && ip -n "$ns" link set eth0 up && ip -n "$ns" link set lo up
truncate -s 64M "$work/ns1.img"
ip netns exec "$ns" "$bin" target -l 10.251.0.2:4420 -n "$nqn" -N "$work/ns1.img,nsid=1" -S "$work/ctl.sock" \
  2>"$work/target.log" &
tgt=$! # ip netns exec execs the target, so this is its PID
for _ in $(seq 100); do grep -q "target ready" "$work/target.log" && break; sleep 0.1; done
grep -q "target ready" "$work/target.log" || { bad "target did not start: $(tail -3 "$work/target.log")"; echo "$pass passed, $fail failed"; exit 1; }
tgt_fds0=$(fds "$tgt") tgt_kinds0=$(fdkinds "$tgt")

# KATO 2 s, reconnect every second, give up only after 120 s; no fast_io_fail: I/O waits for the path.
"$bin" connect -t tcp -a 10.251.0.2 -s 4420 -n "$nqn" -k 2 -c 1 -l 120 >"$work/connect.out" 2>&1 ||
  { bad "connect: $(cat "$work/connect.out")"; echo "$pass passed, $fail failed"; exit 1; }
name=$(awk '{print $NF}' "$work/connect.out")
log=$TIGHTROPE_STATE_DIR/ctrl/$name.log
state=$TIGHTROPE_STATE_DIR/ctrl/$name.json
hostpid=$(python3 -c "import json; print(json.load(open('$state'))['pid'])")
loops=$(python3 -c "import json; print(' '.join(n['loop'] for n in json.load(open('$state'))['namespaces'] if n['loop']))")
dev=$TIGHTROPE_STATE_DIR/mnt/$name/n1
if [[ $via == loop ]]; then
  dev=${loops%% *}
  [[ -n $dev ]] || { bad "VIA=loop but connect made no loop device"; echo "$pass passed, $fail failed"; exit 1; }
fi
echo "tightrope soak: $flaps flaps; target pid $tgt in netns $ns, host process $hostpid ($name), writes via $dev"

python3 "$writer_py" write "$dev" "$work/acked" "$work/failed" "$work/stop" &
writer=$!
for _ in $(seq 100); do [[ -s $work/acked ]] && (($(lines "$work/acked") >= 50)) && break; sleep 0.1; done
sleep 1

# flap down_s recovered resume_s host_fds host_rss target_fds target_rss target_ctrls acked failed
printf "0\t0\t0\t0\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n" "$(fds "$hostpid")" "$(rss "$hostpid")" "$(fds "$tgt")" "$(rss "$tgt")" \
  "$(ctrls)" "$(lines "$work/acked")" "$(lines "$work/failed")" >"$work/flaps.tsv"
not_resumed=0 stale=0 pid_changed=0 long_without_recovery=0
for i in $(seq "$flaps"); do
  d=$(down_s "$i")
  rec0=$(count "starting error recovery")
  ip link set "$veth" down
  sleep "$d"
  ip link set "$veth" up
  up=$(now)
  mark=$(lines "$work/acked")
  # Writes flow again and every error recovery begun has reconnected; then 1 s more, in case a
  # recovery starts late (a keep-alive that expires just after the link is back), and again.
  resumed=0
  while :; do
    if (($(count "starting error recovery") == $(count "Successfully reconnected"))) &&
      (($(lines "$work/acked") >= mark + 5)); then
      resumed=1
      took=$(since "$up")
      rec=$(count "starting error recovery")
      sleep 1
      (($(count "starting error recovery") == rec)) && break
      mark=$(lines "$work/acked")
      continue
    fi
    if (($(awk -v a="$up" -v b="$(now)" 'BEGIN {print (b - a > '"$resume_tmo"')}'))); then
      resumed=0
      took=$(since "$up")
      break
    fi
    sleep 0.1
  done
  recovered=$(($(count "starting error recovery") - rec0))
  if ((resumed == 0)); then
    not_resumed=$((not_resumed + 1))
    echo "flap $i: writes did not resume within $resume_tmo s: $(tail -3 "$log" | tr '\n' '|')"
  fi
  [[ $d != 1 ]] && ((recovered == 0)) && long_without_recovery=$((long_without_recovery + 1))
  # A controller the host left behind goes once the target's keep-alive timer expires (KATO 2 s);
  # sample when the target holds only the live one.
  for _ in $(seq 60); do [[ $(ctrls) == 1 ]] && break; sleep 0.1; done
  c=$(ctrls)
  [[ $c != 1 ]] && stale=$((stale + 1))
  p=$(python3 -c "import json; print(json.load(open('$state'))['pid'])" 2>/dev/null)
  [[ $p != "$hostpid" ]] && pid_changed=$((pid_changed + 1))
  row=$(printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s" "$i" "$d" "$recovered" "$took" "$(fds "$hostpid")" "$(rss "$hostpid")" \
    "$(fds "$tgt")" "$(rss "$tgt")" "$c" "$(lines "$work/acked")" "$(lines "$work/failed")")
  echo "$row" >>"$work/flaps.tsv"
  echo "$row" | awk -F'\t' '{printf "flap %3d: down %3s s, recoveries %d, writes again after %4s s; host fds %s rss %s KiB; target fds %s rss %s KiB ctrls %s; acked %s failed %s\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11}'
done
touch "$work/stop"
wait "$writer"
writer=""
end_run=$(now)

# ---- Checks ----
reconnects=$(count "Successfully reconnected")
recoveries=$(count "starting error recovery")
acked=$(lines "$work/acked")
failed=$(lines "$work/failed")
((not_resumed == 0)) && ok "writes resumed after every one of the $flaps flaps" || bad "$not_resumed flaps after which writes did not resume"
((recoveries == reconnects)) && ok "$recoveries error recoveries, $reconnects reconnects" || bad "$recoveries error recoveries but $reconnects reconnects"
((long_without_recovery == 0)) && ok "every flap longer than KATO went through error recovery" ||
  bad "$long_without_recovery flaps longer than KATO without an error recovery"
((pid_changed == 0)) && ok "one host process (pid $hostpid) throughout" || bad "the host process changed $pid_changed times"
((stale == 0)) && ok "the target held exactly one controller after every flap" || bad "$stale flaps left the target with other than one controller"
((failed == 0)) && ok "no write failed (I/O held through every outage)" || bad "$failed writes failed: $(head -3 "$work/failed" | tr '\n' '|')"
((acked > flaps * 10)) && ok "$acked writes acknowledged" || bad "only $acked writes acknowledged"
check_out=$(python3 "$writer_py" check "$work/ns1.img" "$work/acked" "$work/failed")
check_rc=$?
[[ $check_rc == 0 ]] && ok "every acknowledged write is on the target ($check_out)" || bad "acknowledged writes lost: $check_out"
maxlat=$(sort -k2 -g "$work/acked" | tail -1 | awk '{print $2}')

# Flatness after warm-up: fds equal (within FD_SLACK), RSS within RSS_SLACK_KIB.
read -r hf_min hf_max hr_min hr_max tf_min tf_max tr_min tr_max < <(awk -F'\t' -v w="$warmup" '
  $1 > w { n++
    if (n == 1 || $5 < a) a = $5; if (n == 1 || $5 > b) b = $5
    if (n == 1 || $6 < c) c = $6; if (n == 1 || $6 > d) d = $6
    if (n == 1 || $7 < e) e = $7; if (n == 1 || $7 > f) f = $7
    if (n == 1 || $8 < g) g = $8; if (n == 1 || $8 > h) h = $8 }
  END { print a, b, c, d, e, f, g, h }' "$work/flaps.tsv")
((hf_max - hf_min <= fd_slack)) && ok "host process fds flat after flap $warmup: $hf_min..$hf_max" ||
  bad "host process fds not flat after flap $warmup: $hf_min..$hf_max"
((tf_max - tf_min <= fd_slack)) && ok "target fds flat after flap $warmup: $tf_min..$tf_max" ||
  bad "target fds not flat after flap $warmup: $tf_min..$tf_max"
((hr_max - hr_min <= rss_slack)) && ok "host process RSS flat after flap $warmup: $hr_min..$hr_max KiB" ||
  bad "host process RSS grew after flap $warmup: $hr_min..$hr_max KiB (bound $rss_slack KiB)"
((tr_max - tr_min <= rss_slack)) && ok "target RSS flat after flap $warmup: $tr_min..$tr_max KiB" ||
  bad "target RSS grew after flap $warmup: $tr_min..$tr_max KiB (bound $rss_slack KiB)"

# Nothing left behind by disconnect-all.
t0=$(now)
"$bin" disconnect-all >"$work/disconnect.out" 2>&1 && ok "disconnect-all ($(since "$t0") s)" ||
  bad "disconnect-all: $(cat "$work/disconnect.out")"
for _ in $(seq 50); do kill -0 "$hostpid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$hostpid" 2>/dev/null && bad "host process $hostpid still running" || { ok "host process $hostpid gone"; hostpid=""; }
for _ in $(seq 50); do [[ $(ctrls) == 0 ]] && break; sleep 0.1; done
c=$(ctrls)
[[ $c == 0 ]] && ok "no controller left on the target" || bad "$c controllers left on the target: $("$bin" ctl -S "$work/ctl.sock" list)"
# The target's workers make their io_uring and its eventfd on first I/O and keep them; apart from
# those it must be back to what it held before the connect: no socket or file of the connection left.
lazy='anon_inode:\[(io_uring|eventfd)\]'
for _ in $(seq 50); do
  [[ $(fdkinds "$tgt" | tr , '\n' | grep -Ev "$lazy") == "$(echo "$tgt_kinds0" | tr , '\n' | grep -Ev "$lazy")" ]] && break
  sleep 0.1
done
[[ $(fdkinds "$tgt" | tr , '\n' | grep -Ev "$lazy") == "$(echo "$tgt_kinds0" | tr , '\n' | grep -Ev "$lazy")" ]] &&
  ok "target fds as before the connect but for the workers' io_uring: $(fds "$tgt") ($tgt_fds0 before)" ||
  bad "target fds after the disconnect: $(fdkinds "$tgt"); before the connect: $tgt_kinds0"
devs=$("$bin" list -o json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["Devices"]))')
[[ $devs == 0 ]] && ok "tightrope list shows no device" || bad "tightrope list shows $devs devices"
ls "$TIGHTROPE_STATE_DIR"/ctrl/*.json >/dev/null 2>&1 && bad "state records left: $(ls "$TIGHTROPE_STATE_DIR"/ctrl/)" || ok "no state record left"
mounts=$(findmnt -rn -o TARGET | grep -F "$work" || true)
[[ -z $mounts ]] && ok "no FUSE mount left" || bad "mounts left: $mounts"
left=$(losetup -l -n -O NAME,BACK-FILE 2>/dev/null | grep -F "$work" || true)
for l in $loops; do losetup "$l" >/dev/null 2>&1 && left+=" $l"; done
[[ -z $left ]] && ok "no loop device left (${loops:-none} detached)" || bad "loop devices left: $left"
kill -TERM "$tgt"
wait "$tgt"
rc=$?
tgt=""
[[ $rc == 0 ]] && ok "target exits 0" || bad "target exit code $rc"
grep -qE "Sanitizer|runtime error" "$work/target.log" "$log" && bad "sanitizer report" || ok "no sanitizer report"

# ---- Summary ----
short=$(awk -F'\t' '$1 > 0 && $2 == 1 {n++} END {print n+0}' "$work/flaps.tsv")
short_rec=$(awk -F'\t' '$1 > 0 && $2 == 1 && $3 > 0 {n++} END {print n+0}' "$work/flaps.tsv")
long=$((flaps - short))
dur=$(awk -v a="$start" -v b="$(now)" 'BEGIN {printf "%d", b - a}')
dur_run=$(awk -v a="$start" -v b="$end_run" 'BEGIN {printf "%d", b - a}')
resume_stats() { # median and max of "writes again after" for flaps with ($1 == 1) or without a recovery
  awk -F'\t' -v r="$1" '$1 > 0 && (($3 > 0) == r) {print $4}' "$work/flaps.tsv" | sort -g |
    awk '{v[NR] = $1} END {if (NR) printf "median %.1f s, max %.1f s", v[int((NR + 1) / 2)], v[NR]; else printf "none"}'
}
echo
echo "## Summary"
echo
echo "- flaps: $flaps ($short of 1 s, $long of 3-4 s; KATO 2 s, reconnect delay 1 s), duration ${dur} s (${dur_run} s to the end of the last flap)"
echo "- error recoveries: $recoveries, reconnects seen (\"Successfully reconnected\"): $reconnects; 1-s flaps that went through recovery: $short_rec of $short"
echo "- writes again after the link came back: with a reconnect $(resume_stats 1); without $(resume_stats 0)"
echo "- failed reconnect attempts: $(grep -c "Failed reconnect attempt" "$log")$(grep -o "Failed reconnect attempt [0-9]*: .*" "$log" |
  sed 's/^Failed reconnect attempt [0-9]*: //' | sort | uniq -c | sort -rn | awk '{n = $1; $1 = ""; printf "%s %s x%d", (NR == 1 ? ":" : ";"), substr($0, 2), n}')"
echo "- writes (4 KiB, O_DSYNC, via $via): $acked acknowledged, $failed failed; longest acknowledged write ${maxlat} s; checker: $check_out"
echo
echo "| flap | down (s) | host fds | host VmRSS (KiB) | target fds | target VmRSS (KiB) | target controllers |"
echo "|---|--:|--:|--:|--:|--:|--:|"
for f in 0 1 10 50 100 "$flaps"; do
  awk -F'\t' -v f="$f" '$1 == f && !seen[f]++ {printf "| %s | %s | %s | %s | %s | %s | %s |\n", (f == 0 ? "before the first" : f), $2, $5, $6, $7, $8, $9}' "$work/flaps.tsv"
done | awk '!seen[$0]++'
echo "| min after flap $warmup | | $hf_min | $hr_min | $tf_min | $tr_min | |"
echo "| max after flap $warmup | | $hf_max | $hr_max | $tf_max | $tr_max | |"
echo "| max - min | | $((hf_max - hf_min)) | $((hr_max - hr_min)) | $((tf_max - tf_min)) | $((tr_max - tr_min)) | |"
echo
[[ ${KEEP:-0} == 1 ]] && echo "per-flap figures: $work/flaps.tsv, logs: $work/target.log $log"
echo "$pass passed, $fail failed"
((fail == 0))
