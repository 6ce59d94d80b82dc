# shellcheck shell=bash disable=SC2034 # constants are read by the scripts that source this file
# tests/vm/common.sh: helpers shared by tightrope's QEMU guest scripts (cache, apt, QEMU launch,
# console capture). Sourced by build.sh, kernel-host.sh, kernel-target.sh, selftest.sh; not run.

VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${TIGHTROPE_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tightrope-vm}
# Guest: Debian 12 "bookworm" (kernel 6.1, nvme-cli 2.3) or Debian 13 "trixie" (kernel 6.12,
# nvme-cli 2.13). Each suite has its own apt state, .debs and built images under $CACHE/$SUITE.
SUITE=${TIGHTROPE_VM_SUITE:-bookworm}
case $SUITE in
  bookworm | trixie) ;;
  *) echo "[${0##*/}] ERROR: TIGHTROPE_VM_SUITE=$SUITE: bookworm or trixie" >&2 && exit 2 ;;
esac
OUT=$CACHE/$SUITE/out     # vmlinuz, base.cpio.gz, manifest.txt, stamp
GUEST_PEER=10.0.2.100     # address the host-role guest dials; guestfwd maps it to 127.0.0.1:PORT
GUEST_PORT=4420           # NVMe/TCP port inside the guests
GUEST_PORT2=4421          # a host-role guest's second target (TIGHTROPE_VM_PORT2), for multipath
HOST_VM_HOSTID=5e0c6a2e-7d1b-4c39-8f3a-2b7a1c9d0e01  # kernel-host.sh's default host identity
TARGET_VM_NQN=nqn.2014-08.org.nvmexpress:interop-kernel-target

log() { printf '[%s] %s\n' "${0##*/}" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# The cache path goes into QEMU option strings (no commas, spaces, quotes) and must not be inside
# a git work tree (images and .debs are not project files).
check_cache() {
  [[ $CACHE =~ ^/[A-Za-z0-9._/+-]+$ ]] || die "cache '$CACHE': absolute, no spaces or commas (set TIGHTROPE_VM_CACHE)"
  local d=$CACHE
  while [[ ! -d $d ]]; do d=$(dirname "$d"); done
  if git -C "$d" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    die "cache $CACHE is inside a git work tree; set TIGHTROPE_VM_CACHE elsewhere"
  fi
  mkdir -p "$CACHE/logs"
  # shellcheck disable=SC2012 # our own file names
  ls -1t "$CACHE/logs" | tail -n +101 | sed "s|^|$CACHE/logs/|" | xargs -r rm -f # keep the newest 100
}

# apt_install PKG...: apt-get install on this machine (its own apt configuration; `apt-get update` first
# only if the install fails). For the host tools (QEMU, socat, tshark, kmod...), never the guest's.
apt_install() {
  [[ $(id -u) == 0 ]] || die "missing packages $*: apt-get install them"
  log "apt-get install $*"
  local apt=(apt-get -o DPkg::Lock::Timeout=600 -y -q --no-install-recommends)
  DEBIAN_FRONTEND=noninteractive "${apt[@]}" install "$@" >&2 ||
    { apt-get -o DPkg::Lock::Timeout=600 -q update >&2 && DEBIAN_FRONTEND=noninteractive "${apt[@]}" install "$@" >&2; }
}

# need CMD PKG [CMD PKG...]: install the package of every command that is missing.
need() {
  local missing=()
  while (($#)); do
    command -v "$1" >/dev/null || missing+=("$2")
    shift 2
  done
  ((${#missing[@]} == 0)) || apt_install "${missing[@]}"
}

# port_listening PORT: true if a TCP socket listens on PORT.
port_listening() {
  awk -v p="$(printf ':%04X' "$1")" '$4 == "0A" && substr($2, length($2) - 4) == p { f = 1 } END { exit !f }' \
    /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# port_in_use PORT: true if any TCP socket (listening, connected or closing) has PORT as its own.
port_in_use() {
  awk -v p="$(printf ':%04X' "$1")" 'FNR > 1 && substr($2, length($2) - 4) == p { f = 1 } END { exit !f }' \
    /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# free_port: a TCP port on 127.0.0.1 no socket uses, below the kernel's ephemeral range (where an
# outgoing connection could take it between this check and QEMU's bind).
free_port() {
  local p lo
  read -r lo _ </proc/sys/net/ipv4/ip_local_port_range
  ((lo > 21000)) || lo=32768
  for _ in $(seq 50); do
    p=$((20000 + (RANDOM * 32768 + RANDOM) % (lo - 20000)))
    port_in_use "$p" || { echo "$p"; return 0; }
  done
  die "no free port"
}

valid_port() { [[ $1 =~ ^[1-9][0-9]{0,4}$ ]] && (($1 < 65536)); }
valid_nqn() { [[ $1 =~ ^[A-Za-z0-9.:_-]{1,223}$ ]]; } # it is written into a guest shell file

# make_initrd RUNDIR KEY=VALUE...: RUNDIR/initrd.img = base image + an overlay with /init
# (guest-init.sh), /vm/config (the settings, sh-quoted) and /vm/user.sh when $USER_SCRIPT is set.
# The kernel unpacks concatenated cpio archives in order.
make_initrd() {
  local run=$1 kv v
  shift
  mkdir -p "$run/ov/vm"
  install -m 0755 "$VM_DIR/guest-init.sh" "$run/ov/init"
  for kv in "$@"; do
    v=${kv#*=}
    printf "%s='%s'\n" "${kv%%=*}" "${v//\'/\'\\\'\'}"
  done >"$run/ov/vm/config"
  [[ -z ${USER_SCRIPT:-} ]] || install -m 0755 "$USER_SCRIPT" "$run/ov/vm/user.sh"
  (cd "$run/ov" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | gzip -1) >"$run/overlay.cpio.gz"
  local fio=() extra=()
  if [[ ${TIGHTROPE_VM_FIO:-0} == 1 ]]; then
    [[ -f $OUT/fio.cpio.gz ]] || die "no fio archive for $SUITE (tests/vm/build.sh makes one for bookworm)"
    fio=("$OUT/fio.cpio.gz")
  fi
  # A test's own archives (e.g. tightrope and its libraries, made from the current build), space-separated.
  [[ -z ${TIGHTROPE_VM_EXTRA_CPIO:-} ]] || read -r -a extra <<<"$TIGHTROPE_VM_EXTRA_CPIO"
  cat "$OUT/base.cpio.gz" "${fio[@]}" "${extra[@]}" "$run/overlay.cpio.gz" >"$run/initrd.img"
}

# vm_prepare ROLE PORT: for one guest, the console log ($logf: $TIGHTROPE_VM_LOG, else a dated file
# under $CACHE/logs) and a scratch directory ($run), with traps that stop QEMU and remove $run
# however the script ends.
vm_prepare() {
  logf=${TIGHTROPE_VM_LOG:-$CACHE/logs/kernel-$1-$2-$(date +%Y%m%d-%H%M%S).log}
  mkdir -p "$(dirname "$logf")"
  run=$(mktemp -d "$CACHE/run.XXXXXX")
  VM_PID=
  trap 'vm_stop; rm -rf "$run"' EXIT
  trap 'exit 143' TERM
  trap 'exit 130' INT
}

# vm_start RUNDIR LOG SECONDS NETDEV: boot the guest in the background under `timeout`; its serial
# console (CRs and terminal escapes removed) goes to LOG and to stdout. Sets VM_PID (TERM to it
# stops QEMU) and TEE_PID.
vm_start() {
  local run=$1 logf=$2 secs=$3 netdev=$4
  : >"$logf"
  rm -f "$run/console"
  mkfifo "$run/console"
  sed -u 's/\r//g; s/\x1b\[[0-9;?]*[A-Za-z]//g; s/\x1bc//g' <"$run/console" | tee -a "$logf" &
  TEE_PID=$!
  timeout -k 10 "$secs" qemu-system-x86_64 -nodefaults -no-user-config -nographic -no-reboot \
    -machine pc -accel "${TIGHTROPE_VM_ACCEL:-tcg}" -cpu max \
    -smp "${TIGHTROPE_VM_SMP:-2}" -m "${TIGHTROPE_VM_MEM:-1024}" \
    -kernel "$OUT/vmlinuz" -initrd "$run/initrd.img" \
    -append "console=ttyS0 quiet panic=-1 mitigations=off ${TIGHTROPE_VM_CMDLINE:-}" \
    -netdev "$netdev" -device virtio-net-pci,netdev=n0,romfile= \
    -serial stdio -monitor none </dev/null >"$run/console" 2>&1 &
  VM_PID=$!
}

# vm_wait: wait for QEMU to end and the console to drain; returns QEMU's status (124: timed out).
vm_wait() {
  local rc=0
  wait "$VM_PID" || rc=$?
  VM_PID=
  wait "$TEE_PID" 2>/dev/null || true
  TEE_PID=
  return "$rc"
}

# vm_stop: stop QEMU if it still runs (EXIT traps).
vm_stop() {
  [[ -n ${VM_PID:-} ]] || return 0
  kill -TERM "$VM_PID" 2>/dev/null || true
  vm_wait || true
}

# early_panic LOG: the guest kernel panicked before /init said anything. A 6.12 guest under TCG
# does so now and then (an oops while it patches its own code at boot): boot it again.
early_panic() { grep -q 'Kernel panic' "$1" && ! grep -q '^\[guest\]' "$1"; }

# marker LOG TEXT: the guest printed "@@TIGHTROPE-VM TEXT" on its console.
marker() { grep -q "@@TIGHTROPE-VM $2" "$1"; }
result_line() { grep -o '@@TIGHTROPE-VM RESULT=.*@@' "$1" | head -n 1; }
