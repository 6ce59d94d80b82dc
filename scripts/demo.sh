#!/usr/bin/env bash
# The main job on its built-in default: `tightrope target` with a 1 GiB RAM namespace on loopback,
# measured against the same data in a local RAM-backed file (`tightrope bench --compare`, with a plot),
# attached as a local block device by `tightrope connect` (write with dsync, read back, compare,
# disconnect-all), then attached by the Linux kernel's own host in QEMU (tests/vm).
# usage: scripts/demo.sh            env: PORT=4420  RUNTIME=5 (s per bench run)  KERNEL=0 skips QEMU
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build
[[ -f build/build.ninja ]] || meson setup build >build.setup.log 2>&1 || { cat build.setup.log; rm -rf build; exit 1; }
ninja -C build >/dev/null
tr=$PWD/build/src/tightrope
nqn=nqn.2026-11.io.tightrope:default
port=${PORT:-4420}
runtime=${RUNTIME:-5}
work=$(mktemp -d /tmp/tightrope-demo.XXXXXX)
sock=$work/target.sock
export TIGHTROPE_STATE_DIR=$work/state # this run's host processes and devices, apart from any others
tgt=""
cleanup() {
  "$tr" disconnect-all >/dev/null 2>&1 || true
  [[ -n $tgt ]] && kill -TERM "$tgt" 2>/dev/null && wait "$tgt" 2>/dev/null
  rm -rf "$work" /dev/shm/tightrope-demo.$$.img
}
trap cleanup EXIT

# Two cores: the target's one worker on CPU 1, the host side on CPU 0, as in bench/.
pin_target=() pin_host=()
if (($(nproc) >= 2)); then pin_target=(taskset -c 1) pin_host=(taskset -c 0); fi
"${pin_target[@]}" "$tr" target -l "127.0.0.1:$port" -n "$nqn" -N mem:1G -w 1 -S "$sock" 2>"$work/target.log" &
tgt=$!
for _ in $(seq 100); do grep -q "target ready" "$work/target.log" && break; sleep 0.1; done
remote=(-t tcp -a 127.0.0.1 -s "$port" -n "$nqn")

echo "=== tightrope bench --compare: 4 KiB random read, QD32, a local 1 GiB RAM-backed file vs the"
echo "=== target's 1 GiB RAM namespace over loopback (${runtime} s each)"
local_img=/dev/shm/tightrope-demo.$$.img
dd if=/dev/urandom of="$local_img" bs=1M count=1024 status=none
"${pin_host[@]}" "$tr" bench "${remote[@]}" --rw write --bs 1m --iodepth 4 >/dev/null # so reads touch real pages
"${pin_host[@]}" "$tr" bench "${remote[@]}" --compare "$local_img" --buffered --rw randread --bs 4k --iodepth 32 \
  --runtime "$runtime" --time_based --plot "$PWD/build/demo-compare.svg" | sed -n '/remote\/local/,$p'
echo "(plot: build/demo-compare.svg)"
rm -f "$local_img"

echo
echo "=== tightrope bench --latency (ioping-style, QD1)"
"${pin_host[@]}" "$tr" bench "${remote[@]}" --latency --runtime 3 | tail -2

echo
echo "=== tightrope connect: the namespace as a local block device"
"${pin_host[@]}" "$tr" connect "${remote[@]}"
"$tr" list
dev=$("$tr" list -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["Devices"][0]["DevicePath"])')
head -c 64M /dev/urandom >"$work/data"
dd if="$work/data" of="$dev" bs=1M oflag=dsync status=none
dd if="$dev" of="$work/back" bs=1M count=64 iflag=direct status=none
if cmp -s "$work/data" "$work/back"; then echo "64 MiB written to $dev with oflag=dsync and read back: identical"
else echo "FAIL: data read back from $dev differs"; exit 1; fi
"$tr" disconnect-all
echo "after disconnect-all: $("$tr" list -o json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["Devices"]))') devices;" \
  "loop devices on our files: $(losetup -a | grep -c "$work" || true)"

if [[ ${KERNEL:-1} != 0 ]]; then
  echo
  echo "=== the Linux kernel's own host (QEMU) attaches the same target"
  tests/vm/build.sh 2>&1 | tail -n 1 # its guest: built from Debian's packages on the first run (1-2 min)
  TIGHTROPE_VM_DATA_MB=${DATA_MB:-64} tests/vm/kernel-host.sh "$port" "$nqn" 2>&1 |
    grep -E '^\[guest\]|^Node|^---|/dev/nvme|Discovery Log|subnqn|PASS|FAIL|records'
fi
echo
echo "=== the target's view at the end (tightrope ctl list)"
"$tr" ctl -S "$sock" list
