#!/usr/bin/env bash
# Native multipath on tightrope's host: one `tightrope target` in a network namespace with two portals
# (two veth links), `tightrope connect` to both: one host process, one device per namespace, two paths
# (list, list-subsys); numa uses one path, round-robin and queue-depth both; a write stream goes on
# with no error and no acknowledged write lost while one link is cut, and fails back when it returns;
# ANA: the optimized path is preferred, `ctl set-ana` moves the I/O while it runs, an inaccessible
# path is never used. Then two target processes exporting one file (same --target-id), one killed and
# restarted under I/O; and a portal whose namespace IDs disagree is refused.
# usage: tests/integration/multipath.sh path/to/tightrope
set -uo pipefail
bin=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
work=$(mktemp -d /tmp/tightrope-mpath.XXXXXX)
ns=trmp$$
nqn=nqn.2026-12.io.tightrope:mpath
export TIGHTROPE_STATE_DIR=$work/state
tgt="" fence="" t2a="" t2b="" t3=""
cleanup() {
  "$bin" disconnect-all >/dev/null 2>&1
  for p in $tgt $t2a $t2b $t3; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  ip link del "va$ns" 2>/dev/null
  ip link del "vb$ns" 2>/dev/null
  ip netns del "$ns" 2>/dev/null
  [[ -n $fence ]] && ip route del unreachable 10.251.0.0/23 metric 4000 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

ip netns add "$ns" || { echo "cannot create a network namespace"; exit 1; }
ip route add unreachable 10.251.0.0/23 metric 4000 && fence=1 || { echo "cannot add the fence route"; exit 1; }
ip link add "va$ns" type veth peer name etha netns "$ns"
ip link add "vb$ns" type veth peer name ethb netns "$ns"
ip addr add 10.251.0.1/24 dev "va$ns" && ip link set "va$ns" up
ip addr add 10.251.1.1/24 dev "vb$ns" && ip link set "vb$ns" up
ip -n "$ns" addr add 10.251.0.2/24 dev etha && ip -n "$ns" link set etha up
ip -n "$ns" addr add 10.251.1.2/24 dev ethb && ip -n "$ns" link set ethb up
ip -n "$ns" link set lo up
truncate -s 64M "$work/ns1.img"
ip netns exec "$ns" "$bin" target -l 10.251.0.2:4420 -l 10.251.1.2:4420 -n "$nqn" -N "$work/ns1.img,nsid=1" \
  -S "$work/ctl.sock" 2>"$work/target.log" &
tgt=$!
wait_ready "$work/target.log" || { bad "target not ready: $(tail -5 "$work/target.log")"; give_up; }

conn() { "$bin" connect -t tcp -a "$1" -s "${2:-4420}" -n "$nqn" -k 2 -c 1 -l 60 -i 1 "${@:3}"; }
# field NAME KEY: a path record's value.
field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$TIGHTROPE_STATE_DIR/ctrl/$1.json" "$2"; }
# io_cmds SOCK CNTLID: commands the target's controller CNTLID took on its I/O queues.
io_cmds() {
  "$bin" ctl -S "$1" -o json list | python3 -c "
import json,sys
d=json.load(sys.stdin)
print(sum(q['cmds'] for s in d['subsystems'] for c in s['controllers'] if c['cntlid']==int(sys.argv[1])
          for q in c['queues'] if q['qid']>0))" "$2"
}
# rw FILE MIB: write MIB of random data through FILE and read it back (O_DIRECT both ways).
rw() {
  dd if=/dev/urandom of="$work/data" bs=1M count="$2" status=none
  dd if="$work/data" of="$1" bs=64k oflag=direct conv=notrunc status=none &&
    cmp <(dd if="$1" bs=64k count=$(($2 * 16)) iflag=direct status=none) "$work/data"
}
paths_line() { "$bin" list-subsys | grep -c "^ +- "; }

out_a=$(conn 10.251.0.2) && out_b=$(conn 10.251.1.2) || { bad "connect: $out_a ${out_b:-}"; give_up; }
[[ $out_a == "connecting to device: tr0" && $out_b == "connecting to device: tr1" ]] &&
  ok "connect to both portals: $out_a, then $out_b" || bad "connect said: $out_a / $out_b"
file=$TIGHTROPE_STATE_DIR/mnt/tr0/n1
log=$TIGHTROPE_STATE_DIR/ctrl/tr0.log
[[ $(field tr0 pid) == $(field tr1 pid) ]] && ok "one host process holds both paths (pid $(field tr0 pid))" ||
  bad "two host processes: $(field tr0 pid) $(field tr1 pid)"
ca=$(field tr0 cntlid) cb=$(field tr1 cntlid)
[[ $ca != "$cb" ]] && ok "two controllers: cntlid $ca and $cb" || bad "same cntlid $ca"
[[ $("$bin" list -o json | python3 -c "import json,sys; print(len(json.load(sys.stdin)['Devices']))") == 1 ]] &&
  ok "list shows one device for the namespace" || bad "list: $("$bin" list)"
"$bin" list-subsys >"$work/ls"
grep -q "^tr0 - NQN=$nqn" "$work/ls" && grep -q "^ +- tr0 tcp traddr=10.251.0.2,trsvcid=4420 live optimized" "$work/ls" &&
  grep -q "^ +- tr1 tcp traddr=10.251.1.2,trsvcid=4420 live optimized" "$work/ls" &&
  ok "list-subsys: one subsystem, two live optimized paths" || bad "list-subsys: $(cat "$work/ls")"
"$bin" list-subsys -o json | python3 -c "
import json,sys
d=json.load(sys.stdin)
s=d[0]['Subsystems']
assert len(s)==1 and s[0]['NQN']=='$nqn' and s[0]['IOPolicy']=='numa', s
p=s[0]['Paths']
assert [x['Name'] for x in p]==['tr0','tr1'] and all(x['State']=='live' and x['ANAState']=='optimized' for x in p), p
" 2>"$work/err" && ok "list-subsys -o json: nvme-cli's layout, both paths" || bad "list-subsys -o json: $(cat "$work/err")"

# numa: one path only.
a0=$(io_cmds "$work/ctl.sock" "$ca") b0=$(io_cmds "$work/ctl.sock" "$cb")
rw "$file" 4 && ok "numa: data verified" || bad "numa: data mismatch"
a1=$(io_cmds "$work/ctl.sock" "$ca") b1=$(io_cmds "$work/ctl.sock" "$cb")
((a1 - a0 >= 128 && b1 == b0)) && ok "numa: only tr0's controller took the I/O ($((a1 - a0)) commands, tr1 $((b1 - b0)))" ||
  bad "numa: tr0 +$((a1 - a0)), tr1 +$((b1 - b0))"

# A link cut under a write stream: failover, no error, nothing acknowledged lost; failback.
python3 "$here/link_loss_writer.py" write "$file" "$work/acked" "$work/failed" "$work/stop" &
writer=$!
sleep 1.5
ip link set "va$ns" down
sleep 6
"$bin" list-subsys >"$work/ls"
grep -q "^ +- tr0 .* connecting" "$work/ls" && grep -q "^ +- tr1 .* live optimized" "$work/ls" &&
  ok "list-subsys during the cut: tr0 connecting, tr1 live" || bad "list-subsys during the cut: $(cat "$work/ls")"
n_cut=$(wc -l <"$work/acked")
sleep 2
(($(wc -l <"$work/acked") > n_cut + 50)) && ok "writes go on through tr1 while tr0 is cut" ||
  bad "writes stalled during the cut ($(wc -l <"$work/acked") acked)"
ip link set "va$ns" up
wait_log "$log" "tr0: Successfully reconnected" 15 || bad "tr0 did not reconnect: $(tail -3 "$log")"
sleep 2
touch "$work/stop"
wait "$writer"
[[ ! -s $work/failed ]] && ok "no write failed across the cut ($(wc -l <"$work/acked") acknowledged)" ||
  bad "$(wc -l <"$work/failed") writes failed: $(head -2 "$work/failed")"
python3 "$here/link_loss_writer.py" check "$work/ns1.img" "$work/acked" "$work/failed" >"$work/check" &&
  ok "every acknowledged write is on the target" || bad "acknowledged writes lost: $(cat "$work/check")"
grep -q "I/O goes through tr1" "$log" && ok "host logged the failover: $(grep -o 'namespace 1: I/O goes through tr1.*' "$log" | head -1)" ||
  bad "no failover logged"
sed -n '/tr0: Successfully reconnected/,$p' "$log" | grep -q "I/O goes through tr0" &&
  ok "failback: I/O goes through tr0 again after its reconnect" || bad "no failback to tr0: $(tail -5 "$log")"
ca=$(field tr0 cntlid)
a0=$(io_cmds "$work/ctl.sock" "$ca")
rw "$file" 2 && (($(io_cmds "$work/ctl.sock" "$ca") > a0)) && ok "the reconnected path (cntlid $ca) carries I/O" ||
  bad "the reconnected path carries nothing"

# ANA: port 1 (tr0) non-optimized: I/O moves to tr1; with I/O running, tr1 inaccessible and tr0
# optimized: it moves back, with no error, and the inaccessible path takes nothing.
"$bin" ctl -S "$work/ctl.sock" set-ana 1 1 non-optimized >/dev/null
wait_until 5 sh -c "'$bin' list-subsys | grep -q '^ +- tr0 .* live non-optimized'" &&
  ok "ANA change event: list-subsys shows tr0 non-optimized" || bad "tr0 not non-optimized: $("$bin" list-subsys)"
b0=$(io_cmds "$work/ctl.sock" "$cb")
rw "$file" 2 && (($(io_cmds "$work/ctl.sock" "$cb") >= b0 + 64)) && ok "the optimized path tr1 is preferred over non-optimized tr0" ||
  bad "I/O did not move to the optimized path"
rm -f "$work/stop" "$work/acked" "$work/failed"
python3 "$here/link_loss_writer.py" write "$file" "$work/acked" "$work/failed" "$work/stop" &
writer=$!
sleep 1
"$bin" ctl -S "$work/ctl.sock" set-ana 2 1 inaccessible >/dev/null
"$bin" ctl -S "$work/ctl.sock" set-ana 1 1 optimized >/dev/null
sleep 1.5
b0=$(io_cmds "$work/ctl.sock" "$cb") a0=$(io_cmds "$work/ctl.sock" "$ca")
sleep 1.5
b1=$(io_cmds "$work/ctl.sock" "$cb") a1=$(io_cmds "$work/ctl.sock" "$ca")
touch "$work/stop"
wait "$writer"
((b1 == b0 && a1 > a0 + 50)) && ok "after set-ana, I/O runs on tr0 and never on inaccessible tr1 (+$((a1 - a0)) / +$((b1 - b0)))" ||
  bad "after set-ana: tr0 +$((a1 - a0)), tr1 +$((b1 - b0))"
[[ ! -s $work/failed ]] && ok "no write failed across the ANA switch ($(wc -l <"$work/acked") acknowledged)" ||
  bad "$(wc -l <"$work/failed") writes failed across the ANA switch"
python3 "$here/link_loss_writer.py" check "$work/ns1.img" "$work/acked" "$work/failed" >"$work/check" &&
  ok "ANA switch: every acknowledged write is on the target" || bad "ANA switch: $(cat "$work/check")"
"$bin" ctl -S "$work/ctl.sock" set-ana 2 1 optimized >/dev/null

# round-robin and queue-depth spread over both paths.
for pol in round-robin queue-depth; do
  "$bin" disconnect-all >/dev/null
  conn 10.251.0.2 4420 --iopolicy "$pol" >/dev/null && conn 10.251.1.2 >/dev/null || bad "$pol: connect"
  ca=$(field tr0 cntlid) cb=$(field tr1 cntlid)
  a0=$(io_cmds "$work/ctl.sock" "$ca") b0=$(io_cmds "$work/ctl.sock" "$cb")
  # Four readers at once, so queue-depth sees commands in flight (FUSE runs direct writes to one file
  # one at a time; a bare `wait` would wait for the target too).
  dds=()
  for k in 0 1 2 3; do
    dd if="$file" of=/dev/null bs=64k count=64 skip=$((k * 64)) iflag=direct status=none &
    dds+=($!)
  done
  wait "${dds[@]}"
  rw "$file" 2 || bad "$pol: data mismatch"
  a1=$(io_cmds "$work/ctl.sock" "$ca") b1=$(io_cmds "$work/ctl.sock" "$cb")
  "$bin" list-subsys | grep -q "iopolicy=$pol" && ((a1 - a0 >= 20 && b1 - b0 >= 20)) &&
    ok "$pol: both controllers took I/O (+$((a1 - a0)), +$((b1 - b0)))" || bad "$pol: tr0 +$((a1 - a0)), tr1 +$((b1 - b0))"
done

# One path removed: the process and the device stay; then the whole subsystem goes.
"$bin" disconnect -d tr1 >/dev/null && [[ $(paths_line) == 1 ]] && rw "$file" 1 &&
  ok "disconnect -d tr1: one path left, the device works" || bad "disconnect -d tr1: $("$bin" list-subsys)"
"$bin" disconnect -n "$nqn" >"$work/out" && [[ -z $(ls "$TIGHTROPE_STATE_DIR"/ctrl/*.json 2>/dev/null) ]] &&
  ! grep -q "$TIGHTROPE_STATE_DIR/mnt" /proc/mounts && ok "disconnect -n: $(cat "$work/out"), nothing left" ||
  bad "disconnect -n left: $(ls "$TIGHTROPE_STATE_DIR"/ctrl)"
kill -TERM "$tgt"; wait "$tgt"; tgt=""

# Two target processes exporting one file with one identity: one killed and restarted under I/O.
tid=6f1d2a52-5a0e-4d1c-9b61-3c2f4e8d7a10
pa=$(free_port) pb=$(free_port)
start_t2() { # PORT CNTLID_MIN LOG
  "$bin" target -l "127.0.0.1:$1" -n "$nqn" --cntlid-min "$2" --cntlid-max $(($2 + 99)) -N "$work/ns1.img,nsid=1" \
    --target-id "$tid" -S none 2>>"$3" &
}
start_t2 "$pa" 1 "$work/t2a.log"; t2a=$!
start_t2 "$pb" 101 "$work/t2b.log"; t2b=$!
wait_ready "$work/t2a.log" && wait_ready "$work/t2b.log" || bad "two targets not ready"
conn 127.0.0.1 "$pa" >/dev/null && conn 127.0.0.1 "$pb" >/dev/null && [[ $(paths_line) == 2 ]] &&
  ok "two target processes, one namespace: two paths ($(field tr0 cntlid), $(field tr1 cntlid))" ||
  bad "two targets: $("$bin" list-subsys)"
rm -f "$work/stop" "$work/acked" "$work/failed"
python3 "$here/link_loss_writer.py" write "$file" "$work/acked" "$work/failed" "$work/stop" &
writer=$!
sleep 1
kill -9 "$t2a"; wait "$t2a" 2>/dev/null; t2a=""
sleep 3
"$bin" list-subsys | grep -q "^ +- tr0 .* connecting" && ok "target A killed: tr0 reconnecting" || bad "after the kill: $("$bin" list-subsys)"
start_t2 "$pa" 1 "$work/t2a.log"; t2a=$!
wait_log "$log" "tr0: Successfully reconnected" 15 && ok "target A restarted: tr0 is back" || bad "tr0 not back: $(tail -3 "$log")"
sleep 1
touch "$work/stop"
wait "$writer"
[[ ! -s $work/failed ]] && ok "no write failed while target A was down ($(wc -l <"$work/acked") acknowledged)" ||
  bad "$(wc -l <"$work/failed") writes failed with target A down"
python3 "$here/link_loss_writer.py" check "$work/ns1.img" "$work/acked" "$work/failed" >"$work/check" &&
  ok "two targets: every acknowledged write is on the shared file" || bad "two targets: $(cat "$work/check")"

# A portal of the same NQN whose namespace has other IDs (another target identity) is refused.
pc=$(free_port)
"$bin" target -l "127.0.0.1:$pc" -n "$nqn" --cntlid-min 201 -N "mem:64M,nsid=1" -S none 2>"$work/t3.log" &
t3=$!
wait_ready "$work/t3.log"
conn 127.0.0.1 "$pc" >"$work/out" 2>&1 && bad "a path with other namespace IDs was taken" ||
  { grep -q "IDs don't match for shared namespace 1" "$work/out" && grep -q "refused: IDs don't match" "$log" &&
    ok "a path with other namespace IDs is refused: $(cat "$work/out")" || bad "refusal: $(cat "$work/out")"; }
[[ $(paths_line) == 2 ]] && ok "the refused portal left the two paths as they were" || bad "paths after the refusal: $("$bin" list-subsys)"
"$bin" disconnect-all >/dev/null
for p in $t2a $t2b $t3; do kill -TERM "$p"; wait "$p"; done
t2a="" t2b="" t3=""
no_sanitizer_report "the targets or the host processes" "$work"/*.log "$TIGHTROPE_STATE_DIR"/ctrl/*.log
finish
