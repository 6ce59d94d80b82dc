#!/usr/bin/env bash
# The main job on its built-in default: build tightrope, run `tightrope target` with a 1 GiB RAM
# namespace on loopback, attach it with the Linux kernel's own NVMe/TCP host (a QEMU VM from
# ../shared/interop, so nothing is loaded into this machine's kernel), write and verify data
# through /dev/nvme0n1, and show what the target saw (controllers, queues, bytes moved).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build
[[ -f build/build.ninja ]] || meson setup build >build.setup.log 2>&1 || { cat build.setup.log; rm -rf build; exit 1; }
ninja -C build >/dev/null
interop=$(cd .. && pwd)/shared/interop
nqn=nqn.2026-11.io.tightrope:default
port=${PORT:-4420}
sock=$(mktemp -u /tmp/tightrope-demo.XXXXXX.sock)

build/src/tightrope target -l "127.0.0.1:$port" -S "$sock" &
tgt=$!
trap 'kill -TERM $tgt 2>/dev/null; wait $tgt 2>/dev/null' EXIT
for _ in $(seq 50); do [[ -S $sock ]] && break; sleep 0.1; done

# While the kernel host is attached, snapshot the target's view of it.
( for _ in $(seq 300); do
    out=$(build/src/tightrope ctl -S "$sock" -o json list 2>/dev/null) || true
    if grep -q '"write_bytes":[1-9]' <<<"$out"; then
      echo; echo "=== target's view while attached (tightrope ctl list):"
      build/src/tightrope ctl -S "$sock" list; exit 0
    fi
    sleep 0.2
  done ) &
watch=$!
echo "=== attaching 127.0.0.1:$port $nqn with the Linux kernel host (QEMU)"
NVME_INTEROP_DATA_MB=${DATA_MB:-64} "$interop/vm-kernel-host.sh" "$port" "$nqn" 2>&1 |
  grep -E '^\[guest\]|^Node|^---|/dev/nvme|Discovery Log|subnqn|PASS|FAIL|records'
wait $watch || true
echo "=== after disconnect-all:"
build/src/tightrope ctl -S "$sock" list
