#!/usr/bin/env bash
# Interop: the real Linux kernel NVMe/TCP host (QEMU guest from tests/vm) against
# `tightrope target` with a RAM and a file namespace: discover, connect with several I/O queues,
# nvme list, data written by the kernel read back (and checked in our backing file), namespace
# add/remove seen through AENs, disconnect-all leaves no controller; the capture must decode cleanly.
# Mode "service": the target is started as tightrope-target.service starts it (the unit's ExecStart
# on a config file, READY=1 read from NOTIFY_SOCKET), and namespace 3 comes and goes by editing the
# config and running the unit's ExecReload while the guest is connected: the guest must see both
# and stay connected on the same controller.
# usage: kernel_host.sh TIGHTROPE_BINARY [plain|digest|service]
set -euo pipefail
bin=$(realpath "$1")
mode=${2:-plain}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
vm=$(cd "$here/../vm" && pwd)
work=$(mktemp -d /tmp/tightrope-kh.XXXXXX)
# The guest image first (from Debian's archive on the first run, 1-2 min; cached after), so that
# none of the waits below includes it.
"$vm/build.sh" >"$work/vm-build.log" 2>&1 || { cat "$work/vm-build.log"; echo "FAIL building the VM guest"; rm -rf "$work"; exit 1; }
nqn=nqn.2026-11.io.tightrope:interop
sock=$work/ctl.sock
port=$(free_port)
ctl() { "$bin" ctl -S "$sock" "$@"; }
tgt_pid= cap_pid= watch_pid= notify_pid=
cleanup() {
  [[ -n $watch_pid ]] && kill "$watch_pid" 2>/dev/null || true
  [[ -n $notify_pid ]] && kill "$notify_pid" 2>/dev/null || true
  [[ -n $cap_pid ]] && kill -INT "$cap_pid" 2>/dev/null && wait "$cap_pid" 2>/dev/null || true
  [[ -n $tgt_pid ]] && kill -TERM "$tgt_pid" 2>/dev/null && wait "$tgt_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

truncate -s 64M "$work/ns2.img"
unit=$here/../../dist/systemd/tightrope-target.service.in
# write_config [NS3]: the target's config in nvmetcli's format, with namespace 3 if NS3 is given.
write_config() {
  python3 - "$work/config.json" "$nqn" "$port" "$work/ns2.img" "${1:-}" <<'PY'
import json, sys
path, nqn, port, ns2, ns3 = sys.argv[1:]
nss = [{"nsid": 1, "device": {"path": "mem:128M"}}, {"nsid": 2, "device": {"path": ns2}}]
if ns3:
    nss.append({"nsid": 3, "device": {"path": ns3}})
json.dump({"ports": [{"portid": 1, "addr": {"trtype": "tcp", "traddr": "127.0.0.1", "trsvcid": port},
                      "subsystems": [nqn]}],
           "subsystems": [{"nqn": nqn, "attr": {"allow_any_host": "1", "serial": "TRINTEROP0001"},
                           "namespaces": nss}]}, open(path, "w"))
PY
}
# unit_cmd KEY: the unit's ExecStart or ExecReload as words for this run (our binary, config, socket).
unit_cmd() {
  sed -n "s/^$1=//p" "$unit" | sed "s|@BINDIR@/tightrope|$bin|; s|/etc/tightrope/config.json|$work/config.json|;
    s| target | target -S $sock -w 2 |; s| ctl | ctl -S $sock |"
}
reload() { $(unit_cmd ExecReload) >>"$work/reload.log" 2>&1; }
if [[ $mode == service ]]; then
  write_config
  python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
while True:
    print(s.recv(4096).decode().replace("\n", " "), flush=True)' "$work/notify.sock" >"$work/notify.log" 2>&1 &
  notify_pid=$!
  wait_until 5 test -S "$work/notify.sock"
  # shellcheck disable=SC2046 # the unit's command line, split into words as systemd does
  NOTIFY_SOCKET=$work/notify.sock $(unit_cmd ExecStart) >"$work/target.log" 2>&1 &
else
  "$bin" target -l "127.0.0.1:$port" -n "$nqn" --serial TRINTEROP0001 -N mem:128M -N "$work/ns2.img" \
    -S "$sock" -w 2 >"$work/target.log" 2>&1 &
fi
tgt_pid=$!
wait_sock "$sock" || { cat "$work/target.log"; bad "target did not start"; finish; exit 1; }
if [[ $mode == service ]]; then
  wait_log "$work/notify.log" "READY=1" && ok "the unit's ExecStart: READY=1 ($(grep -m1 -o 'STATUS=.*' "$work/notify.log"))" ||
    bad "no READY=1 from the unit's ExecStart"
fi

command -v tshark >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends tshark >/dev/null
tshark -i lo -f "tcp port $port" -F pcap -w "$work/cap.pcap" -q -a duration:600 2>"$work/tshark.log" &
cap_pid=$!
sleep 2

# Watch from our side: once the kernel's I/O controller is up, record its queues, then add and
# later remove namespace 3 so the guest can check that AENs reach it.
(
  set +e
  for _ in $(seq 600); do
    n=$(ctl -o json list | python3 -c '
import json,sys
d=json.load(sys.stdin)
print(max([len(c["queues"]) for s in d["subsystems"] if s["nqn"]==sys.argv[1] for c in s["controllers"]] or [0]))' "$nqn")
    if [[ ${n:-0} -ge 3 ]]; then
      echo "$n" >"$work/queues"
      sleep 1
      # A file namespace, so we can see when the guest has found it (it writes a marker): a fixed
      # delay raced with a slow guest still busy with its data tests.
      truncate -s 32M "$work/ns3.img"
      cntlids() { ctl -o json list | python3 -c 'import json,sys; print(sorted(c["cntlid"] for s in json.load(sys.stdin)["subsystems"] for c in s["controllers"]))'; }
      if [[ $mode == service ]]; then
        cntlids >"$work/cntlids.before"
        write_config "$work/ns3.img" && reload
      else
        ctl add-ns "$nqn" "$work/ns3.img" --nsid 3 >"$work/addns.log" 2>&1
      fi
      for _ in $(seq 600); do head -c 8 "$work/ns3.img" | grep -q NS3-SEEN && break; sleep 0.1; done
      if [[ $mode == service ]]; then
        write_config && reload
        cntlids >"$work/cntlids.after"
      else
        ctl remove-ns "$nqn" 3 >>"$work/addns.log" 2>&1
      fi
      exit 0
    fi
    sleep 0.1
  done
) &
watch_pid=$!

opts=""
[[ $mode == digest ]] && opts="--hdr-digest --data-digest"
guest="$work/guest.sh"
{ echo "EXPECT_SERIAL=TRINTEROP0001"; cat "$here/kernel_host_guest.sh"; } >"$guest"
vmlog=$work/vm.log
if TIGHTROPE_VM_CONNECT_OPTS="$opts" TIGHTROPE_VM_TIMEOUT=240 TIGHTROPE_VM_LOG="$work/console.log" \
  "$vm/kernel-host.sh" "$port" "$nqn" "$guest" >"$vmlog" 2>&1; then
  ok "kernel host ($mode, $(grep -m1 -o 'boot: kernel [^,]*, nvme version [0-9.]*' "$vmlog" | sed 's/^boot: //')): discover, connect, list, 8 MiB O_DIRECT data test, disconnect-all"
else
  bad "kernel host ($mode): $(grep -E 'RESULT=|GUEST-FAIL' "$vmlog" | tail -2 | tr '\n' ' ')"
  tail -40 "$vmlog"
fi
grep -q 'subnqn: *'"$nqn" "$vmlog" && ok "nvme discover lists $nqn" || bad "discover output lacks $nqn"
grep -q "GUEST: queue_count=" "$vmlog" && ok "$(grep -o 'queue_count=[0-9]*' "$vmlog") (admin + I/O queues)" || bad "no queue count"
grep -q "GUEST: file namespace data OK" "$vmlog" && ok "file namespace data test in the guest" || bad "file namespace data test"
grep -q "GUEST: namespace 3 appeared" "$vmlog" && ok "namespace added on the target appeared on the kernel host (AEN)" || bad "namespace add not seen by the kernel host"
grep -q "GUEST: namespace 3 disappeared" "$vmlog" && ok "namespace removed on the target disappeared from the kernel host" || bad "namespace removal not seen"
if [[ $mode == service ]]; then
  [[ -s $work/cntlids.before && $(cat "$work/cntlids.before") == "$(cat "$work/cntlids.after" 2>/dev/null)" ]] &&
    ok "two reloads kept the kernel's controller ($(cat "$work/cntlids.before"))" ||
    bad "controllers before/after the reloads: $(cat "$work/cntlids.before" 2>/dev/null) / $(cat "$work/cntlids.after" 2>/dev/null); $(cat "$work/reload.log" 2>/dev/null)"
  [[ $(grep -c "RELOADING=1" "$work/notify.log") -ge 2 ]] && ok "RELOADING=1 sent for each reload" || bad "RELOADING=1: $(cat "$work/notify.log")"
fi
[[ -s $work/queues && $(cat "$work/queues") -ge 3 ]] && ok "control socket saw $(cat "$work/queues") queues on the kernel's controller" || bad "control socket never saw >= 3 queues"

# What the kernel wrote through the file namespace must be in our backing file, byte for byte.
want=824ee81bde5a619227123b16ac64ecb5443753ea48c2f04054506b9bcaf1d14b
got=$(head -c $((8 << 20)) "$work/ns2.img" | sha256sum | cut -d' ' -f1)
[[ $got == "$want" ]] && ok "backing file holds the kernel's 8 MiB pattern" || bad "backing file sha256 $got != $want"

# disconnect-all must leave no controller on the target.
left=1
for _ in $(seq 30); do
  left=$(ctl -o json list | python3 -c 'import json,sys; print(sum(len(s["controllers"]) for s in json.load(sys.stdin)["subsystems"]))')
  [[ $left == 0 ]] && break
  sleep 0.1
done
[[ $left == 0 ]] && ok "no controller left on the target after disconnect-all" || bad "$left controller(s) left after disconnect-all"

sleep 1
kill -INT "$cap_pid"; wait "$cap_pid" 2>/dev/null || true; cap_pid=
if "$vm/pcap-check.sh" "$work/cap.pcap" "$port" >"$work/pcap.log" 2>&1; then
  ok "pcap-check ($mode): $(tail -3 "$work/pcap.log" | tr "\n" " " | head -c 300)"
else
  bad "pcap-check ($mode)"; cat "$work/pcap.log"
fi
if [[ $mode == digest ]]; then
  grep -qiE 'digests? .*good' "$work/pcap.log" && ! grep -qiE '[1-9][0-9]* bad' "$work/pcap.log" &&
    ok "Wireshark verified header and data digests" || { bad "digest check in capture"; cat "$work/pcap.log"; }
fi

kill -TERM "$tgt_pid"; rc=0; wait "$tgt_pid" || rc=$?; tgt_pid=
[[ $rc == 0 ]] && ok "target exits 0 on SIGTERM" || bad "target exit status $rc on SIGTERM"
grep -q "GUEST-OK\|RESULT=PASS" "$vmlog" || { echo "--- target log"; tail -30 "$work/target.log"; }
finish
