#!/bin/sh
# tests/vm/guest-init.sh: PID 1 of tightrope's QEMU guests (busybox sh, not bash). kernel-host.sh
# and kernel-target.sh put it at /init of a per-run overlay with /vm/config (sh variables) and,
# optionally, /vm/user.sh.
# ROLE=host:   the kernel's NVMe/TCP host: discover + connect $TRADDR:$TRSVCID (a guestfwd to a
#              target on the machine), nvme list, O_DIRECT data test, user.sh, disconnect-all, off.
# ROLE=target: the kernel's NVMe/TCP target (nvmet-tcp via configfs): subsystem $NQN with a brd
#              RAM namespace on port $TRSVCID, discovery self-check, READY, then stays up. With
#              DHCHAP_HOSTNQN set, only that host may connect, authenticated by DH-HMAC-CHAP with
#              DHCHAP_KEY (and DHCHAP_CTRL_KEY: bidirectional), DHCHAP_HASH (sha256|sha384|sha512)
#              and DHCHAP_DHGROUP (null|ffdhe2048..ffdhe8192); the same names ending in _2 .. _4
#              allow more hosts, each with settings of its own (a host without a key connects
#              unauthenticated).
# Results are console lines "@@TIGHTROPE-VM ...@@" (RESULT=PASS, RESULT=FAIL reason, READY ...).
export PATH=/usr/sbin:/usr/bin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
exec </dev/console >/dev/console 2>&1
# shellcheck disable=SC1091 # written per run by make_initrd (common.sh)
. /vm/config
set -u

say() { echo "[guest] $*"; }
step() { echo "[guest] ===== $* ($(cut -d' ' -f1 /proc/uptime)s)"; }
finish() { # finish PASS | finish FAIL reason...
  r=$1
  shift
  if [ "$r" != PASS ]; then
    say "kernel log since /init (last 40 lines):"
    dmesg | sed -n '/Run \/init/,$p' | tail -n 40
  fi
  dmesg -n 1 # no kernel message in the middle of the marker line
  echo "@@TIGHTROPE-VM RESULT=$r${*:+ $*}@@"
  sync
  poweroff -f
  sleep 10
}
fail() { finish FAIL "$*"; }
# load MODULE [ARG...]: modprobe, accepting a module built into the kernel.
load() {
  modprobe "$@" 2>/dev/null && return 0
  grep -Eq "/$(echo "$1" | sed 's/[-_]/[-_]/g')\.ko" "/lib/modules/$(uname -r)/modules.builtin"
}
# pattern TAG MIB: 512-byte records "TAG lba N" padded to 511 bytes + newline, N = 0, 1, ...
pattern() {
  awk -v tag="$1" -v n=$(($2 * 2048)) 'BEGIN { for (i = 0; i < n; i++) printf "%-511s\n", tag " lba " i }'
}
# discover ADDR PORT [OPTION...]: nvme discover; the log page must list $NQN.
discover() {
  a=$1 p=$2
  shift 2
  nvme discover -t tcp -a "$a" -s "$p" "$@" >/tmp/disc 2>&1
  rc=$?
  cat /tmp/disc
  [ $rc = 0 ] || fail "nvme discover rc=$rc"
  grep -Eq "subnqn: *$NQN\$" /tmp/disc || fail "the discovery log page does not list $NQN"
}

echo # the firmware leaves its last console line open: ours start on a line of their own
step "boot: kernel $(uname -r), $(nvme version 2>&1 | head -n 1), role $ROLE, $(grep -c ^processor /proc/cpuinfo) cpus"
for m in virtio_pci virtio_net crc32c_generic crct10dif_generic crc64_rocksoft_generic; do
  load "$m" || fail "modprobe $m"
done
load crc32c-intel || say "no crc32c-intel (CPU without SSE4.2): crc32c_generic computes the digests"
ip link set lo up
ip link set eth0 up || fail "no eth0"
ip addr add 10.0.2.15/24 dev eth0
ip route add default via 10.0.2.2
echo "$HOSTNQN" >/etc/nvme/hostnqn
echo "$HOSTID" >/etc/nvme/hostid
[ "$KMSG" = 1 ] && dmesg -n 7 # nvme/nvmet kernel messages live on the console

run_host() {
  load nvme-tcp || fail "modprobe nvme-tcp"
  if [ "$DEFAULT_TEST" = 1 ]; then
    if [ "$DISCOVER" = 1 ]; then
      step "nvme discover -t tcp -a $TRADDR -s $TRSVCID"
      discover "$TRADDR" "$TRSVCID"
    fi
    step "nvme connect -t tcp -a $TRADDR -s $TRSVCID -n $NQN $CONNECT_OPTS"
    # shellcheck disable=SC2086 # a list of options
    nvme connect -t tcp -a "$TRADDR" -s "$TRSVCID" -n "$NQN" $CONNECT_OPTS || fail "nvme connect rc=$?"
    dev=
    i=0
    while [ $i -lt 300 ]; do # the namespace scan is asynchronous: wait up to 30 s
      for b in /sys/block/nvme*n*; do
        case ${b##*/} in nvme*c*) continue ;; esac # a hidden per-path device of native multipath
        [ -e "$b" ] && dev=${b##*/} && break 2
      done
      sleep 0.1
      i=$((i + 1))
    done
    [ -n "$dev" ] || fail "no namespace block device after connect"
    for c in /sys/class/nvme/nvme*; do NVME_CTRL=${c##*/} && break; done
    export NVME_DEV="/dev/$dev" NVME_CTRL
    step "nvme list (namespace $NVME_DEV, controller $NVME_CTRL)"
    nvme list || fail "nvme list rc=$?"
    grep -qx tcp "/sys/class/nvme/$NVME_CTRL/transport" || fail "$NVME_CTRL is not an nvme-tcp controller"
    mib=$(($(cat "/sys/block/$dev/size") / 2048))
    [ "$mib" -ge "$DATA_MB" ] || fail "namespace has $mib MiB < DATA_MB=$DATA_MB"
    step "data test: $DATA_MB MiB LBA-tagged pattern, O_DIRECT write, read back, compare"
    pattern tightrope-vm "$DATA_MB" >/tmp/pattern
    want=$(sha256sum </tmp/pattern | cut -d' ' -f1)
    dd if=/tmp/pattern of="$NVME_DEV" bs=1M count="$DATA_MB" oflag=direct conv=fsync || fail "dd write rc=$?"
    echo 3 >/proc/sys/vm/drop_caches
    dd if="$NVME_DEV" of=/tmp/readback bs=1M count="$DATA_MB" iflag=direct || fail "dd read rc=$?"
    got=$(sha256sum </tmp/readback | cut -d' ' -f1)
    say "written sha256 $want, read back $got"
    [ "$got" = "$want" ] || { cmp /tmp/pattern /tmp/readback | head -n 5; fail "data read back differs"; }
    say "data test OK"
    rm -f /tmp/pattern /tmp/readback
  fi
  if [ -f /vm/user.sh ]; then
    step "user script"
    export NQN TRADDR TRSVCID DATA_MB NVME_CONNECT_OPTS="$CONNECT_OPTS"
    sh /vm/user.sh || fail "user script rc=$?"
  fi
  if [ "$DEFAULT_TEST" = 1 ]; then
    step "nvme disconnect-all"
    nvme disconnect-all || fail "nvme disconnect-all rc=$?"
    i=0
    while [ -n "$(ls /sys/class/nvme)" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    [ -z "$(ls /sys/class/nvme)" ] || fail "controllers left after disconnect-all: $(ls /sys/class/nvme)"
  fi
  finish PASS
}

# auth_host SUFFIX: the host DHCHAP_HOSTNQN<SUFFIX> in nvmet's configfs with its DH-HMAC-CHAP
# settings (DHCHAP_KEY<SUFFIX> ...), allowed into subsystem $NQN ($sub).
# shellcheck disable=SC2154 # hash and group are set by the second eval
auth_host() {
  eval "h=\${DHCHAP_HOSTNQN$1:-} key=\${DHCHAP_KEY$1:-} ckey=\${DHCHAP_CTRL_KEY$1:-}"
  eval "hash=\${DHCHAP_HASH$1:-sha256} group=\${DHCHAP_DHGROUP$1:-null}"
  [ -n "$h" ] || return 0
  hd=$cfg/hosts/$h
  mkdir "$hd" || fail "mkdir hosts/$h"
  if [ -n "$key" ]; then
    printf %s "$key" >"$hd/dhchap_key" || fail "$h: dhchap_key refused"
    printf %s "hmac($hash)" >"$hd/dhchap_hash" || fail "$h: dhchap_hash hmac($hash) refused"
    printf %s "$group" >"$hd/dhchap_dhgroup" || fail "$h: dhchap_dhgroup $group refused"
  fi
  if [ -n "$ckey" ]; then
    printf %s "$ckey" >"$hd/dhchap_ctrl_key" || fail "$h: dhchap_ctrl_key refused"
  fi
  ln -s "$hd" "$sub/allowed_hosts/$h" || fail "allow host $h"
  how="no authentication"
  [ -z "$key" ] || how="DH-HMAC-CHAP hmac($hash) $group${ckey:+, bidirectional}"
  say "host $h allowed: $how"
}

# tls_target: TLS 1.3 required on the port (nvmet's addr_tsas/addr_treq), the handshakes done by
# tlshd with the PSKs nvme-cli derives from TLS_KEY for TLS_HOSTNQN into the .nvme keyring, for the
# subsystem and for discovery.
tls_target() {
  load tls || fail "modprobe tls"
  grep -q ' \.nvme: ' /proc/keys || fail "no .nvme keyring"
  printf '[debug]\nloglevel=0\ntls=0\nnl=0\n\n[authenticate]\nkeyrings=.nvme\n\n[authenticate.client]\n\n[authenticate.server]\n' \
    >/etc/tlshd.conf
  echo "127.0.0.1 localhost" >>/etc/hosts # tlshd names its peers; there is no DNS here
  tlshd -c /etc/tlshd.conf &
  for s in "$NQN" nqn.2014-08.org.nvmexpress.discovery; do
    nvme check-tls-key --hostnqn="$TLS_HOSTNQN" --subsysnqn="$s" --keydata="$TLS_KEY" --insert >/tmp/ins 2>&1 ||
      { cat /tmp/ins; fail "check-tls-key --insert for $TLS_HOSTNQN / $s"; }
  done
  printf tls1.3 >"$port/addr_tsas" || fail "addr_tsas tls1.3 refused"
  printf required >"$port/addr_treq" || fail "addr_treq required refused"
  say "TLS 1.3 required on port $TRSVCID; PSKs for $TLS_HOSTNQN inserted, tlshd started"
}

run_target() {
  step "target: nvmet-tcp, $NS_MB MiB brd namespace, port $TRSVCID"
  load nvmet || fail "modprobe nvmet"
  load nvmet-tcp || fail "modprobe nvmet-tcp"
  load nvme-tcp || fail "modprobe nvme-tcp" # for the discovery self-check
  grep -q configfs /proc/mounts || mount -t configfs configfs /sys/kernel/config || fail "mount configfs"
  load brd rd_nr=1 rd_size=$((NS_MB * 1024)) max_part=0 || fail "modprobe brd"
  cfg=/sys/kernel/config/nvmet
  sub=$cfg/subsystems/$NQN
  mkdir "$sub" || fail "mkdir subsystem $NQN"
  if [ -n "${DHCHAP_HOSTNQN:-}" ]; then
    echo 0 >"$sub/attr_allow_any_host"
    for n in "" _2 _3 _4; do auth_host "$n"; done
  else
    echo 1 >"$sub/attr_allow_any_host"
  fi
  mkdir "$sub/namespaces/1"
  printf /dev/ram0 >"$sub/namespaces/1/device_path"
  echo 1 >"$sub/namespaces/1/enable" || fail "enable namespace 1"
  port=$cfg/ports/1
  mkdir "$port"
  echo tcp >"$port/addr_trtype"
  echo ipv4 >"$port/addr_adrfam"
  echo 0.0.0.0 >"$port/addr_traddr"
  echo "$TRSVCID" >"$port/addr_trsvcid"
  [ -z "${TLS_KEY:-}" ] || tls_target
  ln -s "$sub" "$port/subsystems/$NQN" || fail "enable port"
  step "discovery self-check: nvme discover -t tcp -a 127.0.0.1 -s $TRSVCID"
  # The log lists a subsystem only to a host allowed into it (discovery itself needs no authentication).
  if [ -n "${TLS_KEY:-}" ]; then
    discover 127.0.0.1 "$TRSVCID" -q "$TLS_HOSTNQN" --tls
  else
    discover 127.0.0.1 "$TRSVCID" ${DHCHAP_HOSTNQN:+-q "$DHCHAP_HOSTNQN"}
  fi
  dmesg -n 1
  echo "@@TIGHTROPE-VM READY nqn=$NQN port=$TRSVCID ns=/dev/ram0 size_mib=$NS_MB@@"
  [ "$KMSG" = 1 ] && dmesg -n 7
  while :; do sleep 3600; done
}

case $ROLE in
  host) run_host ;;
  target) run_target ;;
  *) fail "unknown ROLE=$ROLE" ;;
esac
