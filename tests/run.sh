#!/usr/bin/env bash
# The whole test suite: unit tests (plain and ASan+UBSan builds), bounded fuzzing of every
# network parser, raw-socket integration tests, the threaded ones again under ThreadSanitizer, and
# the Linux kernel interop tests.
# usage: tests/run.sh [--quick]   (--quick skips fuzzing and the kernel VM tests)
set -uo pipefail
cd "$(dirname "$0")/.."
quick=0
[[ ${1:-} == --quick ]] && quick=1
FUZZ_SECONDS=${FUZZ_SECONDS:-30}
scripts/deps.sh test || exit 1

pass=0 fail=0 failed=()
step() { echo; echo "=== $*"; }
record() { # record NAME RC
  if [[ $2 == 0 ]]; then pass=$((pass + 1)); echo "--- ok: $1"; else fail=$((fail + 1)); failed+=("$1"); echo "--- FAILED: $1"; fi
}
build() { # build DIR [meson options...]
  local dir=$1; shift
  if [[ ! -f $dir/build.ninja ]]; then
    meson setup "$dir" "$@" >"$dir.setup.log" 2>&1 || { tail -20 "$dir.setup.log"; rm -rf "$dir"; return 1; }
  fi
  ninja -C "$dir" >/dev/null || ninja -C "$dir"
}

step "build (debugoptimized)"
build build; record "build" $?
step "build (AddressSanitizer + UndefinedBehaviorSanitizer)"
build build-asan -Db_sanitize=address,undefined -Db_lundef=false; record "build-asan" $?
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

step "unit tests"
meson test -C build --suite unit --print-errorlogs; record "unit" $?
step "unit tests under ASan+UBSan"
meson test -C build-asan --suite unit --print-errorlogs; record "unit-asan" $?

if ((!quick)); then
  step "fuzzing (${FUZZ_SECONDS}s per harness)"
  CC=clang build build-fuzz -Dfuzz=true -Dtests=false -Db_sanitize=address,undefined -Db_lundef=false; record "build-fuzz" $?
  for f in build-fuzz/tests/fuzz/fuzz_*; do
    [[ -x $f && ! -d $f ]] || continue
    name=${f##*/}
    mkdir -p build-fuzz/corpus/"$name"
    # A committed corpus (the minimized result of a long run) is where the bounded run starts.
    [[ -d tests/fuzz/corpus/$name ]] && cp -n tests/fuzz/corpus/"$name"/* build-fuzz/corpus/"$name"/ 2>/dev/null
    "$f" -max_total_time="$FUZZ_SECONDS" -print_final_stats=0 build-fuzz/corpus/"$name" >build-fuzz/"$name".log 2>&1
    rc=$?; tail -2 build-fuzz/"$name".log; record "$name" $rc
  done
fi

bin=build-asan/src/tightrope
step "command line, config file and control socket (ASan target)"
tests/integration/target_cli.sh "$bin"; record "target_cli" $?
step "bad input from raw clients (ASan target)"
python3 tests/integration/bad_input.py "$bin"; record "bad_input" $?
step "DH-HMAC-CHAP on the target: the exchange, and what a host must not get away with (ASan target)"
python3 tests/integration/auth_bad_input.py "$bin"; record "auth_bad_input" $?
step "TLS ports on the target: policies, refusals, stalled handshakes, discovery, config (ASan target)"
python3 tests/integration/tls_target.py "$bin"; record "tls_target" $?
step "ANA on the target: groups per port, log page, change events, statuses on I/O, CNTLID ranges (ASan target)"
python3 tests/integration/ana_target.py "$bin"; record "ana_target" $?
step "hardening: what a hostile peer or careless operator cannot do (ASan target)"
python3 tests/integration/hardening.py "$bin"; record "hardening" $?
step "control socket: ownership of its path, mode, stuck and surplus clients (ASan target)"
python3 tests/integration/control_socket.py "$bin"; record "control_socket" $?
step "host access control and namespace notices at scale through the control socket (ASan target)"
python3 tests/integration/control_acl.py "$bin"; record "control_acl" $?
step "keep-alive expiry (ASan target)"
python3 tests/integration/keep_alive.py "$bin"; record "keep_alive" $?
step "Prometheus metrics: scraped during bench runs, promtool, errors, HTTP bounds (ASan target)"
python3 tests/integration/metrics.py "$bin"; record "metrics" $?
step "bad input from a scripted fake target to tightrope's host (ASan host)"
python3 tests/integration/bad_target.py "$bin"; record "bad_target" $?
step "DH-HMAC-CHAP against a scripted fake controller: the kernel host's bytes, every refusal, connect and reconnect (ASan host)"
python3 tests/integration/auth_target.py "$bin"; record "auth_target" $?
step "tightrope's host against tightrope's target with DH-HMAC-CHAP (and with TLS): connect, reconnect, refusals (ASan)"
tests/integration/auth_host.sh "$bin"; record "auth_host" $?
step "tightrope's host over TLS 1.3 against tightrope's target: both suites, connect, reconnect, refusals (ASan)"
tests/integration/tls_host.sh "$bin"; record "tls_host" $?
step "live resize: ctl resize-ns, refusals, a file grown from outside, tightrope connect's device follows (ASan)"
python3 tests/integration/resize.py "$bin"; record "resize" $?
step "persistent reservations from raw hosts: nvme/054's sequence, two hosts, preempt and abort, notices (ASan target)"
python3 tests/integration/reservations.py "$bin"; record "reservations" $?
step "fused compare-and-write from raw hosts: every pair and broken half, split pairs, counters and torn-read races (ASan target)"
python3 tests/integration/fused.py "$bin"; record "fused" $?
step "fused compare-and-write through the host library: tightrope bench --rw caw, one and two hosts, read back (ASan)"
python3 tests/integration/caw_bench.py "$bin"; record "caw_bench" $?
step "bench's live status line: on a terminal, piped, JSON, --eta (ASan)"
python3 tests/integration/bench_progress.py "$bin"; record "bench_progress" $?
step "the host library installed and used from outside: examples/read_block.c through pkg-config (ASan)"
tests/integration/example_lib.sh "$bin"; record "example_lib" $?
step "man pages: each renders without warnings, every verb has one, every --help flag is in its verb's page"
tests/integration/man_pages.sh "$bin"; record "man_pages" $?
step "meson install --destdir: program, library, headers, .pc, man pages, units where they belong"
tests/integration/install_layout.sh "$bin"; record "install_layout" $?

step "link loss: tightrope connect across a veth pair that goes down (ASan)"
tests/integration/link_loss.sh "$bin"; record "link_loss" $?
step "RBD namespaces on a one-node Ceph cluster: data, config round trip, resize, bad pool/image, cluster down and back (ASan, ~1.5 min)"
tests/integration/rbd.sh "$bin"; record "rbd" $?

step "native multipath: tightrope connect to two portals, a link cut and ANA switches under I/O, iopolicies, two targets (ASan)"
tests/integration/multipath.sh "$bin"; record "multipath" $?

step "systemd units: installed and verified, tightrope-target.service's ExecStart/ExecReload (sd_notify, reload), autoconnect (ASan)"
tests/integration/service_units.sh "$bin"; record "service_units" $?
python3 tests/integration/service_reload.py "$bin" dist/systemd/tightrope-target.service.in; record "service_reload" $?
python3 tests/integration/autoconnect.py "$bin" dist/systemd/tightrope-connect@.service.in; record "autoconnect" $?

if ((!quick)); then
  step "the QEMU guests themselves: Linux kernel target + kernel host, plain and digests, pcap-checked (tests/vm)"
  tests/vm/selftest.sh; record "vm_selftest" $?
  step "DH-HMAC-CHAP secrets: gen-dhchap-key and check-dhchap-key against Debian's nvme-cli (from the guests' packages)"
  tests/integration/dhchap_keys.sh "$bin"; record "dhchap_keys" $?
  step "TLS PSKs: gen-tls-key and check-tls-key against nvme-cli 2.13 and the .nvme keyring (trixie guest)"
  tests/integration/tls_keys.sh "$bin"; record "tls_keys" $?
  step "tightrope host (discover, id-ctrl, bench) against the kernel target (QEMU) and our own (ASan)"
  tests/integration/host_bench.sh "$bin"; record "host_bench" $?
  step "tightrope connect: local devices from our own target (mkfs, mount, checksums) and the kernel's (QEMU)"
  tests/integration/host_connect.sh "$bin"; record "host_connect" $?
  step "DH-HMAC-CHAP: tightrope connect against the Linux 6.12 kernel target (Debian 13 QEMU guest), every refusal (ASan)"
  tests/integration/auth_kernel_target.sh "$bin"; record "auth_kernel_target" $?
  step "the Debian package: dpkg-buildpackage of a copy of the tree, lintian without errors, files where they belong (~1 min)"
  tests/integration/deb.sh; record "deb" $?
  step "build (ThreadSanitizer)"
  build build-tsan -Db_sanitize=thread -Db_lundef=false; record "build-tsan" $?
  # The threaded parts under TSan: target workers and control thread (also against the kernel host's
  # parallel queues), the host library's keep-alive thread, the host process's FUSE, loop-attach and
  # teardown threads; librbd's threads handing RBD completions to workers (Ceph's uninstrumented
  # libraries suppressed: tests/ceph/tsan.supp). Any report fails the test.
  for t in "host_bench.sh" "host_connect.sh" "link_loss.sh" "bad_target.py" "control_socket.py" "hardening.py" \
    "auth_bad_input.py" "tls_host.sh" "multipath.sh" "rbd.sh" "metrics.py" "bench_progress.py" "reservations.py" "resize.py" \
    "fused.py"; do
    step "$t under ThreadSanitizer"
    runner=(); [[ $t == *.py ]] && runner=(python3)
    TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 "${runner[@]}" tests/integration/$t build-tsan/src/tightrope
    record "tsan-${t%.*}" $?
  done
  step "Linux kernel host (QEMU, digests) against tightrope target under ThreadSanitizer"
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 tests/integration/kernel_host.sh build-tsan/src/tightrope digest
  record "tsan-kernel_host" $?
  step "Linux kernel host (QEMU) against tightrope target started and reloaded as tightrope-target.service does (ASan)"
  # "service" is "plain" with the target run from a config by the unit's ExecStart, and two reloads.
  tests/integration/kernel_host.sh "$bin" service; record "kernel_host_service" $?
  step "Linux kernel host with header and data digests"
  tests/integration/kernel_host.sh "$bin" digest; record "kernel_host_digest" $?
  step "ANA multipath: the Linux host over two tightrope targets sharing a namespace, one killed and restarted, set-ana (ASan)"
  tests/integration/mpath_kernel_host.sh "$bin"; record "mpath_kernel_host" $?
  step "Linux kernel host (QEMU) on an RBD namespace of a one-node Ceph cluster (ASan, ~2 min)"
  tests/integration/rbd_kernel_host.sh "$bin"; record "rbd_kernel_host" $?
  step "DH-HMAC-CHAP: the Linux 6.12 host (trixie guest) against tightrope target, Wireshark-decoded (ASan)"
  tests/integration/auth_kernel_host.sh "$bin"; record "auth_kernel_host" $?
  step "TLS: the Linux 6.12 host with tlshd (trixie guest) against tightrope target, Wireshark-decoded (ASan)"
  tests/integration/tls_kernel_host.sh "$bin"; record "tls_kernel_host" $?
  step "TLS: tightrope's host against the Linux 6.12 target with tlshd (trixie guest), Wireshark-decoded (ASan)"
  tests/integration/tls_kernel_target.sh "$bin"; record "tls_kernel_target" $?
  step "ublk: tightrope connect as /dev/ublkbN in a Linux 6.12 guest (trixie), ext4, I/O held across a target restart (ASan)"
  tests/integration/ublk_host.sh "$bin"; record "ublk_host" $?
  step "persistent reservations: nvme/054 with nvme-cli; two kernel hosts (Host IDs), preempt and abort, a PTPL restart; Linux 6.1 and 6.12 (ASan)"
  tests/integration/resv_kernel_host.sh "$bin" bookworm; record "resv_kernel_host_bookworm" $?
  tests/integration/resv_kernel_host.sh "$bin" trixie; record "resv_kernel_host_trixie" $?
  step "live resize seen by the Linux host without reconnecting, Linux 6.1 and 6.12 guests (ASan)"
  tests/integration/resize_kernel_host.sh "$bin" bookworm; record "resize_kernel_host_bookworm" $?
  tests/integration/resize_kernel_host.sh "$bin" trixie; record "resize_kernel_host_trixie" $?
fi

echo
((fail)) && echo "failed: ${failed[*]}"
echo "$pass passed, $fail failed"
((fail == 0))
