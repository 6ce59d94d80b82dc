#!/usr/bin/env bash
# tightrope's host side (discover, id-ctrl, bench) against the Linux kernel's nvmet-tcp target in
# QEMU and against tightrope's own target: data integrity, planted corruption found, clear errors,
# and a Wireshark-clean capture of the kernel session.
# usage: tests/integration/host_bench.sh path/to/tightrope
set -uo pipefail
bin=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
with_scratch host
kport=${KERNEL_TARGET_PORT:-14431}
tport=${TIGHTROPE_PORT:-44311}
knqn=$kernel_target_nqn
tnqn=nqn.2026-11.io.tightrope:hosttest
export TIGHTROPE_STATE_DIR=$work/state
check() { # check NAME COMMAND...
  local name=$1; shift
  if "$@" >"$work/out" 2>&1; then ok "$name"; else bad "$name"; tail -20 "$work/out"; fi
}
# The kernel target guest's image first (built on the first run, cached after): the READY wait below
# then only covers the boot.
build_vm_guest "$work"

# ---- tightrope target: a RAM namespace and a file namespace ----
truncate -s 64M "$work/ns2.img"
"$bin" target -l "127.0.0.1:$tport" -n "$tnqn" -N mem:128M -N "$work/ns2.img,nsid=2" -S "$work/ctl.sock" \
  2>"$work/target.log" &
tgt=$!; pids+=("$tgt")
wait_ready "$work/target.log" || bad "target not ready: $(tail -5 "$work/target.log")"

check "discover lists the tightrope subsystem" \
  sh -c "'$bin' discover -t tcp -a 127.0.0.1 -s $tport | grep -q 'subnqn:  $tnqn'"
check "discover -o json parses and names the subsystem" \
  sh -c "'$bin' discover -a 127.0.0.1 -s $tport -o json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert \"$tnqn\" in [r[\"subnqn\"] for r in d[\"records\"]]'"
check "id-ctrl shows model tightrope" \
  sh -c "'$bin' id-ctrl -a 127.0.0.1 -s $tport -n $tnqn | grep -q '^mn        : tightrope'"
# The host NQN: nvme-cli's /etc/nvme/hostnqn where the machine has one (nvme-cli's package makes it),
# else one generated once and kept in STATE.
if [[ -s /etc/nvme/hostnqn ]]; then
  hostnqn_file=/etc/nvme/hostnqn
  check "the host NQN is /etc/nvme/hostnqn's, as with nvme-cli" \
    sh -c "test ! -e '$TIGHTROPE_STATE_DIR/hostnqn' && grep -q \"\$(cat /etc/nvme/hostnqn)\" '$work/target.log'"
else
  hostnqn_file=$TIGHTROPE_STATE_DIR/hostnqn
  check "the host NQN is generated once and kept" \
    sh -c "test -s '$TIGHTROPE_STATE_DIR/hostnqn' && grep -q \"\$(cat '$TIGHTROPE_STATE_DIR/hostnqn')\" '$work/target.log'"
fi

# Failures name their cause.
expect_error() { # NAME PATTERN COMMAND...
  local name=$1 pat=$2; shift 2
  if "$@" >"$work/out" 2>&1; then bad "$name: succeeded"; elif grep -q "$pat" "$work/out"; then ok "$name"; else
    bad "$name: no '$pat' in: $(cat "$work/out")"; fi
}
expect_error "unknown NQN says no such subsystem" "no such subsystem" \
  "$bin" id-ctrl -a 127.0.0.1 -s "$tport" -n nqn.2026-11.io.tightrope:nothing-here
expect_error "closed port says connection refused" "connection refused" \
  "$bin" discover -a 127.0.0.1 -s 1
"$bin" ctl -S "$work/ctl.sock" allow-host "$tnqn" nqn.2026-11.io.tightrope:only-this-one >/dev/null
expect_error "a host not on the list says host not allowed" "host not allowed" \
  "$bin" id-ctrl -a 127.0.0.1 -s "$tport" -n "$tnqn"
"$bin" ctl -S "$work/ctl.sock" allow-host "$tnqn" "$(cat "$hostnqn_file")" >/dev/null
check "once allowed, the host connects" "$bin" id-ctrl -a 127.0.0.1 -s "$tport" -n "$tnqn"

# Data integrity through bench's verify mode, with and without digests.
check "bench --verify on the file namespace (128 KiB, QD8, 2 jobs)" \
  sh -c "'$bin' bench -a 127.0.0.1 -s $tport -n $tnqn --nsid 2 --verify --bs 128k --iodepth 8 --numjobs 2 | grep -q 'verify: OK'"
check "bench --verify with --disable-sqflow and digests" \
  sh -c "'$bin' bench -a 127.0.0.1 -s $tport -n $tnqn --nsid 2 --verify --bs 4k --size 16M --iodepth 32 --disable-sqflow -g -G | grep -q 'verify: OK'"
check "bench --verify with header and data digests (4 KiB, QD32)" \
  sh -c "'$bin' bench -a 127.0.0.1 -s $tport -n $tnqn --nsid 2 --verify --bs 4k --size 16M --iodepth 32 -g -G | grep -q 'verify: OK'"
# Reads and writes racing over 256 KiB of the RAM namespace: a read served from namespace memory
# must carry the digest of the bytes that leave, even when a write lands before the socket takes them.
check "randrw QD32 on 256 KiB of the RAM namespace with data digests: no digest mismatch" \
  sh -c "'$bin' bench -a 127.0.0.1 -s $tport -n $tnqn --nsid 1 --rw randrw --size 256k --iodepth 32 --numjobs 2 --runtime 2 --time_based -G 2>&1 | grep -q 'write: IOPS='"
# Plant a corruption in the backing file: verify must find it at its offset.
python3 - "$work/ns2.img" <<'EOF'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(5 * 1048576 + 777)
    b = f.read(1)
    f.seek(5 * 1048576 + 777)
    f.write(bytes([b[0] ^ 0x40]))
EOF
"$bin" bench -a 127.0.0.1 -s "$tport" -n "$tnqn" --nsid 2 --verify_only --bs 128k --iodepth 4 >"$work/out" 2>&1
rc=$?
if [[ $rc != 0 ]] && grep -q "bad data at byte offset $((5 * 1048576 + 777))" "$work/out"; then
  ok "verify finds the planted corruption at its offset"
else bad "verify missed the planted corruption (rc $rc): $(tail -3 "$work/out")"; fi

truncate -s 128M "$work/local.img"
check "bench --compare prints the local/remote table and a plot" \
  sh -c "'$bin' bench -a 127.0.0.1 -s $tport -n $tnqn --compare '$work/local.img' --buffered --rw randread --iodepth 4 --runtime 1 --time_based --plot '$work/cmp.svg' | grep -q 'remote/local' && grep -q '<svg' '$work/cmp.svg'"
check "bench -o json has fio's jobs[].read.iops and lat_ns percentiles" \
  sh -c "'$bin' bench -a 127.0.0.1 -s $tport -n $tnqn --rw randrw --runtime 1 --time_based -o json | python3 -c 'import json,sys; d=json.load(sys.stdin); j=d[\"runs\"][0][\"jobs\"][0]; assert j[\"read\"][\"iops\"] > 0 and j[\"write\"][\"iops\"] > 0; assert \"99.000000\" in j[\"read\"][\"lat_ns\"][\"percentile\"]'"
check "bench --latency prints ioping's min/avg/max/mdev" \
  sh -c "'$bin' bench -a 127.0.0.1 -s $tport -n $tnqn --latency --runtime 1 | grep -q '^min/avg/max/mdev = '"
check "every host controller is gone from the target afterwards" \
  sh -c "'$bin' ctl -S '$work/ctl.sock' -o json list | python3 -c 'import json,sys; d=json.load(sys.stdin); assert all(not s[\"controllers\"] for s in d[\"subsystems\"])'"
kill -TERM "$tgt"; wait "$tgt"; rc=$?
[[ $rc == 0 ]] && ok "tightrope target exits 0" || bad "tightrope target exit code $rc"
no_sanitizer_report "the target" "$work/target.log"

# ---- the Linux kernel's nvmet-tcp target in QEMU ----
kernel_target_start "$kport" "$work"
pids+=("$kernel_target_pid")
if ! kernel_target_ready "$work"; then
  bad "kernel target VM did not come up"; tail -20 "$work/ktarget.log"
  finish; exit 1
fi
tshark -i lo -f "tcp port $kport" -F pcap -w "$work/kernel.pcap" -q >/dev/null 2>&1 &
cap=$!; pids+=("$cap")
sleep 2
check "discover lists the kernel target's subsystem" \
  sh -c "'$bin' discover -t tcp -a 127.0.0.1 -s $kport | grep -q 'subnqn:  $knqn'"
check "id-ctrl reads the kernel's Identify (model Linux)" \
  sh -c "'$bin' id-ctrl -a 127.0.0.1 -s $kport -n $knqn | grep -q '^mn        : Linux'"
check "bench --verify against the kernel target with digests" \
  sh -c "'$bin' bench -a 127.0.0.1 -s $kport -n $knqn --verify --bs 64k --size 8M --iodepth 8 -g -G | grep -q 'verify: OK'"
check "the data is still there after disconnect and reconnect" \
  sh -c "'$bin' bench -a 127.0.0.1 -s $kport -n $knqn --verify_only --bs 64k --size 8M --iodepth 4 | grep -q 'verify: OK'"
check "a write+flush (dsync) run completes against the kernel target" \
  sh -c "'$bin' bench -a 127.0.0.1 -s $kport -n $knqn --rw write --dsync --bs 4k --size 256k --offset 32M | grep -q 'write: IOPS='"
check "bench --verify with --disable-sqflow against the kernel target" \
  sh -c "'$bin' bench -a 127.0.0.1 -s $kport -n $knqn --disable-sqflow --verify --bs 16k --size 4M --offset 40M --iodepth 8 | grep -q 'verify: OK'"
sleep 1
kill -INT "$cap"; wait "$cap" 2>/dev/null
# Only a queue connected with SQ flow control disabled may end a read with C2HData SUCCESS (and no
# CapsuleResp): seeing the kernel do so shows the Connect attribute went out and took effect.
n=$(tshark -r "$work/kernel.pcap" -d "tcp.port==$kport,nvme-tcp" -Y "nvme-tcp.flags.pdu.data_success == 1" 2>/dev/null | wc -l)
((n > 0)) && ok "the kernel target answered --disable-sqflow reads with C2HData SUCCESS ($n PDUs)" ||
  bad "no C2HData with SUCCESS in the capture: --disable-sqflow did not take effect"
out=$("$vm_dir/pcap-check.sh" "$work/kernel.pcap" 4420 2>&1)
if [[ $? == 0 ]]; then ok "pcap-check of the kernel session: $(grep -o 'digests verified.*' <<<"$out" | head -1)"; else
  # the capture is on the forwarded host port, so decode that port too
  out=$("$vm_dir/pcap-check.sh" "$work/kernel.pcap" "$kport" 2>&1) && ok "pcap-check of the kernel session: $(grep -o 'digests verified.*' <<<"$out" | head -1)" ||
    bad "pcap-check: $out"
fi
finish
