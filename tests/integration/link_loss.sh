#!/usr/bin/env bash
# Link loss: tightrope target in a network namespace behind a veth pair, tightrope connect on the
# host side with writes in flight; the link goes down for longer than KATO and comes back. Every
# acknowledged write must be on the target, none lost silently (held for the reconnect, or failed
# with EIO once fast_io_fail_tmo passes); beyond ctrl-loss-tmo the device goes, leaving nothing behind.
# usage: tests/integration/link_loss.sh path/to/tightrope
set -uo pipefail
bin=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
work=$(mktemp -d /tmp/tightrope-linkloss.XXXXXX)
ns=trll$$
nqn=nqn.2026-11.io.tightrope:linkloss
export TIGHTROPE_STATE_DIR=$work/state
tgt="" fence=""
cleanup() {
  "$bin" disconnect-all >/dev/null 2>&1
  [[ -n $tgt ]] && kill "$tgt" 2>/dev/null && wait "$tgt" 2>/dev/null
  ip link del "v$ns" 2>/dev/null
  ip netns del "$ns" 2>/dev/null
  [[ -n $fence ]] && ip route del unreachable 10.250.0.0/24 metric 4000 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

ip netns add "$ns" || { echo "cannot create a network namespace"; exit 1; }
# While the veth is down its route goes, and packets for the target would take the default route off
# this machine: a fence route keeps them here (they fail with "No route to host") for the whole test.
ip route add unreachable 10.250.0.0/24 metric 4000 && fence=1 ||
  { echo "cannot add the fence route for 10.250.0.0/24"; exit 1; }
ip link add "v$ns" type veth peer name eth0 netns "$ns"
ip addr add 10.250.0.1/24 dev "v$ns" && ip link set "v$ns" up
ip -n "$ns" addr add 10.250.0.2/24 dev eth0 && ip -n "$ns" link set eth0 up && ip -n "$ns" link set lo up
truncate -s 64M "$work/ns1.img"
ip netns exec "$ns" "$bin" target -l 10.250.0.2:4420 -n "$nqn" -N "$work/ns1.img,nsid=1" -S "$work/ctl.sock" \
  2>"$work/target.log" &
tgt=$!
wait_ready "$work/target.log" || bad "target not ready: $(tail -5 "$work/target.log")"

# KATO 2 s so the loss is noticed quickly; reconnect every second; give up after 60 s.
"$bin" connect -t tcp -a 10.250.0.2 -s 4420 -n "$nqn" -k 2 -c 1 -l 60 >"$work/connect.out" 2>&1 ||
  { bad "connect: $(cat "$work/connect.out")"; finish; exit 1; }
name=$(awk '{print $NF}' "$work/connect.out")
log=$TIGHTROPE_STATE_DIR/ctrl/$name.log
file=$TIGHTROPE_STATE_DIR/mnt/$name/n1

# The writer: numbered 4 KiB blocks, each write acknowledged (pwrite returned) or failed, recorded.
python3 "$here/link_loss_writer.py" write "$file" "$work/acked" "$work/failed" "$work/stop" &
writer=$!
sleep 1.5
ip link set "v$ns" down
echo "link down at $(date +%T.%N)"
ip route get 10.250.0.2 >/dev/null 2>&1 && bad "with the link down, 10.250.0.2 is routed: $(ip route get 10.250.0.2)" ||
  ok "with the link down, nothing for the target leaves this machine (unreachable)"
sleep 6 # three times KATO
"$bin" list >"$work/list.down"
grep -q "connecting (attempt" "$work/list.down" && ok "list shows the controller reconnecting: $(grep -o 'connecting ([^)]*)' "$work/list.down" | head -1)" ||
  bad "list during the outage: $(cat "$work/list.down")"
ip link set "v$ns" up
echo "link up at $(date +%T.%N)"
wait_log "$log" "Successfully reconnected" 10
sleep 1.5
touch "$work/stop"
wait "$writer"

grep -q "starting error recovery" "$log" && ok "host logged: starting error recovery" || bad "no error recovery in the log"
# The loss is noticed by the Keep Alive that goes unanswered for KATO (-k 2), and said so.
grep -q "keep alive command timed out after 2000 ms (KATO 2 s)" "$log" &&
  ok "host logged: $(grep -o 'keep alive command timed out.*' "$log" | head -1)" ||
  bad "no keep-alive timeout with KATO in the log: $(grep -m3 -e 'timed out' -e 'keep' "$log")"
grep -q "Failed reconnect attempt" "$log" && ok "host logged: $(grep -o 'Failed reconnect attempt [0-9]*' "$log" | head -1)" ||
  bad "no failed reconnect attempt logged"
grep -q "Successfully reconnected" "$log" && ok "host logged: $(grep -o 'Successfully reconnected.*' "$log" | tail -1)" ||
  bad "no successful reconnect: $(tail -5 "$log")"
acked=$(wc -l <"$work/acked") failed=$(wc -l <"$work/failed")
((acked > 100)) && ok "$acked writes acknowledged across the outage ($failed reported as errors)" || bad "only $acked writes acknowledged"
held=$(awk '$2 > 3 {n++} END {print n+0}' "$work/acked")
((held > 0)) && ok "a write was in flight through the outage and acknowledged after it ($(awk '$2 > 3 {print $2 " s"; exit}' "$work/acked"))" ||
  bad "no write was held across the outage (the writer was idle?)"
python3 "$here/link_loss_writer.py" check "$work/ns1.img" "$work/acked" "$work/failed" &&
  ok "every acknowledged write is on the target" || bad "acknowledged writes missing on the target"
# A write that failed must have been reported (here: with fast_io_fail off, nothing should fail).
[[ $failed == 0 ]] && ok "no write failed while I/O was held for the reconnect" || bad "$failed writes failed: $(head -3 "$work/failed")"
dd if=/dev/urandom of="$work/after" bs=4k count=64 status=none
dd if="$work/after" of="$file" bs=4k seek=10000 oflag=direct,dsync conv=notrunc status=none &&
  cmp <(dd if="$file" bs=4k skip=10000 count=64 iflag=direct status=none) "$work/after" &&
  ok "the device works again after the reconnect" || bad "I/O after the reconnect failed"

# Disconnecting the reconnected controller is a normal shutdown: the target sees CC.SHN on the
# fresh admin queue (and answers at once, so no shutdown timeout is waited out).
shut=$(grep -c "shutdown by host" "$work/target.log")
t0=$(date +%s%N)
"$bin" disconnect-all >/dev/null
ms=$((($(date +%s%N) - t0) / 1000000))
(($(grep -c "shutdown by host" "$work/target.log") == shut + 1)) &&
  ok "disconnect after the reconnect: the target logged $(grep -o 'ctrl [0-9]* ([^)]*): shutdown by host' "$work/target.log" | tail -1)" ||
  bad "disconnect after the reconnect: no shutdown on the target: $(tail -3 "$work/target.log")"
((ms < 3000)) && ok "disconnect took $ms ms" || bad "disconnect took $ms ms"

# With fast_io_fail_tmo 1 s, writes during the outage must fail with an error (not hang, not
# vanish) and writes after the reconnect succeed; what was acknowledged is still on the target.
"$bin" connect -t tcp -a 10.250.0.2 -s 4420 -n "$nqn" -k 2 -c 1 -l 60 --fast_io_fail_tmo 1 >"$work/connect.out" 2>&1 ||
  bad "connect with fast_io_fail_tmo: $(cat "$work/connect.out")"
name=$(awk '{print $NF}' "$work/connect.out")
log=$TIGHTROPE_STATE_DIR/ctrl/$name.log
rm -f "$work/stop"
python3 "$here/link_loss_writer.py" write "$TIGHTROPE_STATE_DIR/mnt/$name/n1" "$work/acked2" "$work/failed2" "$work/stop" &
writer=$!
sleep 1
ip link set "v$ns" down
sleep 6
ip link set "v$ns" up
wait_log "$log" "Successfully reconnected" 10
sleep 1.5
touch "$work/stop"
wait "$writer"
failed=$(wc -l <"$work/failed2")
grep -q "fast_io_fail_tmo (1 s) passed" "$log" && ok "host logged: $(grep -o 'fast_io_fail_tmo.*' "$log" | head -1)" ||
  bad "no fast_io_fail_tmo line: $(tail -5 "$log")"
((failed > 0)) && ok "$failed writes during the outage failed with an error ($(head -1 "$work/failed2" | cut -d' ' -f2-))" ||
  bad "no write failed during the outage with fast_io_fail_tmo 1"
last_failed=$(tail -1 "$work/failed2" | cut -d' ' -f1)
[[ -n $last_failed ]] && awk -v f="$last_failed" '$1 > f {n++} END {exit !(n > 10)}' "$work/acked2" &&
  ok "writes succeed again after the reconnect" || bad "no write acknowledged after the failures"
python3 "$here/link_loss_writer.py" check "$work/ns1.img" "$work/acked2" "$work/failed2" &&
  ok "with fast_io_fail: every acknowledged write is on the target" || bad "fast_io_fail: acknowledged writes missing"

# Beyond ctrl-loss-tmo: the device is removed and nothing is left behind.
"$bin" disconnect-all >/dev/null
"$bin" connect -t tcp -a 10.250.0.2 -s 4420 -n "$nqn" -k 2 -c 1 -l 4 >"$work/connect.out" 2>&1 || bad "second connect"
name=$(awk '{print $NF}' "$work/connect.out")
pid=$(python3 -c "import json; print(json.load(open('$TIGHTROPE_STATE_DIR/ctrl/$name.json'))['pid'])")
loops=$(python3 -c "import json; print(' '.join(n['loop'] for n in json.load(open('$TIGHTROPE_STATE_DIR/ctrl/$name.json'))['namespaces'] if n['loop']))")
ip link set "v$ns" down
wait_gone "$pid" 15
# Ended: gone, or a zombie its reaper has not collected yet (wait_gone returns on either).
gone "$pid" && ok "host process ended after ctrl-loss-tmo" || bad "host process still running after ctrl-loss-tmo"
# The admin queue died with the link: no shutdown handshake for nobody to answer.
grep -q "shutdown" "$TIGHTROPE_STATE_DIR/ctrl/$name.log" && bad "a shutdown was tried on the lost path: $(grep shutdown "$TIGHTROPE_STATE_DIR/ctrl/$name.log")" ||
  ok "ctrl-loss-tmo: no shutdown tried on the lost path"
grep -q "Removing controller\.\.\." "$TIGHTROPE_STATE_DIR/ctrl/$name.log" && grep -q "Removing ctrl: NQN" "$TIGHTROPE_STATE_DIR/ctrl/$name.log" &&
  ok "host logged: $(grep -o 'Removing .*' "$TIGHTROPE_STATE_DIR/ctrl/$name.log" | tr '\n' ' ')" ||
  bad "no removal logged: $(tail -3 "$TIGHTROPE_STATE_DIR/ctrl/$name.log")"
[[ $("$bin" list | wc -l) == 2 ]] && ok "list shows nothing after the removal" || bad "list after removal: $("$bin" list)"
grep -q "$TIGHTROPE_STATE_DIR/mnt" /proc/mounts && bad "a FUSE mount is left" || ok "no FUSE mount left"
left=""
for l in $loops; do losetup "$l" >/dev/null 2>&1 && left+=" $l"; done
[[ -z $left ]] && ok "no loop device left ($loops detached)" || bad "loop devices left:$left"
ip link set "v$ns" up
kill -TERM "$tgt"; wait "$tgt"; rc=$?; tgt=""
[[ $rc == 0 ]] && ok "target exits 0" || bad "target exit code $rc"
no_sanitizer_report "the target or the host processes" "$work/target.log" "$TIGHTROPE_STATE_DIR"/ctrl/*.log
finish
