#!/usr/bin/env bash
# tests/vm/selftest.sh: proves the QEMU guests with no tightrope code involved: the kernel target
# guest listens on 127.0.0.1:PORT (hostfwd), the kernel host guest reaches it through its guestfwd,
# plain and then with header + data digests, while tshark captures the port; pcap-check.sh must
# find the capture clean and the digests good. Each guest must run the suite's kernel and nvme-cli.
#
# usage: tests/vm/selftest.sh [--trixie]
#   default  Debian 12 guests: kernel 6.1, nvme-cli 2.3
#   --trixie Debian 13 guests (same as TIGHTROPE_VM_SUITE=trixie): kernel 6.12, nvme-cli 2.13
# Output under $CACHE/selftest-SUITE-TIME/ (console logs, capture, summary.txt; 5 kept).
# Last line: "N passed, N failed"; exit 0 only if nothing failed.
# Env: TIGHTROPE_VM_PORT (default a free port), everything kernel-host.sh / kernel-target.sh read.
set -euo pipefail
case ${1:-} in
  "") ;;
  --trixie) export TIGHTROPE_VM_SUITE=trixie ;;
  *) echo "usage: ${0##*/} [--trixie]" >&2 && exit 2 ;;
esac
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"
case $SUITE in
  bookworm) want_kernel=6.1 want_nvme=2.3 ;;
  trixie) want_kernel=6.12 want_nvme=2.13 ;;
esac

check_cache
need tshark tshark qemu-system-x86_64 qemu-system-x86 socat socat cpio cpio
t0=$SECONDS
"$VM_DIR/build.sh" >&2
build_s=$((SECONDS - t0))
port=${TIGHTROPE_VM_PORT:-$(free_port)}
nqn=$TARGET_VM_NQN
dir=$CACHE/selftest-$SUITE-$(date +%Y%m%d-%H%M%S)
mkdir -p "$dir"
# shellcheck disable=SC2012 # our own names
ls -1d "$CACHE/selftest-$SUITE-"* | sort | head -n -5 | xargs -r rm -rf
passed=0 failed=0 results=()
result() { # result NAME OK(1|0) DETAIL
  if (($2)); then passed=$((passed + 1)) results+=("PASS  $1: $3"); else failed=$((failed + 1)) results+=("FAIL  $1: $3"); fi
}
TS_PID='' T_PID=''
cleanup() {
  [[ -z $T_PID ]] || { kill "$T_PID" 2>/dev/null; wait "$T_PID" 2>/dev/null; } || true
  [[ -z $TS_PID ]] || { kill -INT "$TS_PID" 2>/dev/null; wait "$TS_PID" 2>/dev/null; } || true
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
log "$SUITE guests, port 127.0.0.1:$port, output in $dir"

# versions LOG: "kernel K, nvme-cli V" from the guest's boot line; passes if they are the suite's.
versions() {
  local line
  line=$(grep -m1 -o '\[guest\] ===== boot: kernel.*' "$1" || true)
  result "$2: $SUITE guest runs kernel $want_kernel and nvme-cli $want_nvme" \
    "$(grep -Eq "kernel ${want_kernel//./\\.}\\..*nvme version ${want_nvme//./\\.}( |,)" <<<"$line" && echo 1 || echo 0)" "${line#*boot: }"
}

tshark -i lo -f "tcp port $port" -F pcap -w "$dir/selftest.pcap" -q -a duration:1800 >"$dir/tshark.log" 2>&1 &
TS_PID=$!
for _ in $(seq 60); do grep -q 'Capturing on' "$dir/tshark.log" && break; sleep 0.5; done
grep -q 'Capturing on' "$dir/tshark.log" || die "tshark did not start: $(cat "$dir/tshark.log")"

t=$SECONDS
TIGHTROPE_VM_LOG=$dir/target-console.log "$VM_DIR/kernel-target.sh" "$port" "$nqn" >"$dir/target.out" 2>&1 &
T_PID=$!
until grep -q '^READY ' "$dir/target.out"; do kill -0 "$T_PID" 2>/dev/null || break; sleep 0.5; done
if grep -q '^READY ' "$dir/target.out"; then
  result "kernel target READY (discovery self-checked in the guest)" 1 "$((SECONDS - t)) s"
else
  result "kernel target READY" 0 "$(grep -o 'FAIL.*' "$dir/target.out" | tail -n 1)"
  tail -n 30 "$dir/target.out" >&2
fi
versions "$dir/target-console.log" target

host() { # host NAME LOG [CONNECT_OPTS]
  local t=$SECONDS rc=0 steps
  TIGHTROPE_VM_LOG=$dir/$2 TIGHTROPE_VM_CONNECT_OPTS=${3:-} "$VM_DIR/kernel-host.sh" "$port" "$nqn" >"$dir/$2.out" 2>&1 || rc=$?
  steps=$(grep -c -e '^\[guest\] ===== nvme discover' -e '^\[guest\] ===== nvme connect' -e '^\[guest\] ===== nvme list' \
    -e '^\[guest\] data test OK' -e '^\[guest\] ===== nvme disconnect-all' "$dir/$2" || true)
  result "$1" $((rc == 0 && steps == 5)) "rc=$rc, $steps/5 steps (discover connect list data disconnect), $((SECONDS - t)) s"
}
if ((failed == 0)); then
  host "kernel host: discover, connect, list, 8 MiB data, disconnect-all" host-console.log
  versions "$dir/host-console.log" host
  host "kernel host with --hdr-digest --data-digest" host-digest-console.log "--hdr-digest --data-digest"
fi
if [[ -n $T_PID ]]; then kill "$T_PID" 2>/dev/null || true; wait "$T_PID" 2>/dev/null || true; T_PID=; fi
sleep 1
kill -INT "$TS_PID" 2>/dev/null || true
wait "$TS_PID" 2>/dev/null || true
TS_PID=

rc=0
"$VM_DIR/pcap-check.sh" "$dir/selftest.pcap" "$port" >"$dir/pcap-check.txt" 2>&1 || rc=$?
cat "$dir/pcap-check.txt"
result "pcap-check (tshark nvme-tcp decode, digests verified)" $((rc == 0)) \
  "$(awk '$1 == "total" { t = $2 } /^digests verified/ { d = $3 " good, " $5 " bad" } /^malformed/ { m = $0 }
    END { printf "%s PDUs; digests %s; %s", t, d, m }' "$dir/pcap-check.txt")"
good=$(sed -n 's/^digests verified: \([0-9]*\) good.*/\1/p' "$dir/pcap-check.txt")
result "the digest run's digests were verified by Wireshark" $((${good:-0} > 0)) "${good:-0} good"

{
  echo "selftest ($SUITE) $(date -u +%FT%TZ), port $port, build/cache check ${build_s} s, total $((SECONDS - t0)) s"
  printf '%s\n' "${results[@]}"
  echo "$passed passed, $failed failed"
} | tee "$dir/summary.txt"
((failed == 0))
