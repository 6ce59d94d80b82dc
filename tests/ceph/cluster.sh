#!/usr/bin/env bash
# A one-node Ceph cluster from Debian's packages (ceph-mon, ceph-mgr, ceph-osd, ceph-common) for the RBD
# tests and bench: one mon, one mgr, one bluestore OSD on an 8 GiB sparse file, cephx on, everything
# (conf, keyrings, data, logs, PID files, admin sockets) under one directory, on 127.0.0.1 only.
#
# usage: tests/ceph/cluster.sh start DIR [IMAGE...]  new cluster; pool "rbd" and 1 GiB images (default "img")
#        tests/ceph/cluster.sh down DIR             stop the daemons, keep the data (a cluster gone away)
#        tests/ceph/cluster.sh up DIR               start them again and wait until the PGs are active
#        tests/ceph/cluster.sh stop DIR             stop the daemons it started (by PID) and remove DIR
# Then: ceph.conf is DIR/ceph.conf, the client is client.admin (keyring DIR/ceph.client.admin.keyring),
# so tightrope's namespace is rbd:rbd/img,conf=DIR/ceph.conf. CEPH_MON_PORT (default 24210) is the mon's.
set -euo pipefail
# Ceph reads these from the environment, daemons included: nothing of the caller's may leak in.
unset CEPH_ARGS CEPH_KEYRING CEPH_CONF
cmd=${1:-} dir=${2:-}
[[ -n $cmd && -n $dir ]] || { sed -n '5,11p' "$0" >&2; exit 2; }
port=${CEPH_MON_PORT:-24210}
wait_s=${CEPH_WAIT_S:-120}
log() { echo "ceph-cluster: $*" >&2; }
die() { log "$*"; exit 1; }

conf() { echo "$dir/ceph.conf"; }
ceph_() { timeout 30 ceph -c "$(conf)" "$@"; }

write_conf() {
  local fsid=$1
  cat >"$(conf)" <<EOF
[global]
fsid = $fsid
mon_host = [v2:127.0.0.1:$port]
ms_bind_msgr1 = false
public_network = 127.0.0.1/32
auth_cluster_required = cephx
auth_service_required = cephx
auth_client_required = cephx
run_dir = $dir/run
admin_socket = $dir/run/\$cluster-\$name.asok
log_file = $dir/log/\$cluster-\$name.log
pid_file = $dir/run/\$cluster-\$name.pid
# One OSD: pools of one copy, placed on that one host, and no health warning for it.
osd_pool_default_size = 1
osd_pool_default_min_size = 1
mon_allow_pool_size_one = true
osd_crush_chooseleaf_type = 0
mon_warn_on_pool_no_redundancy = false
mon_allow_pool_delete = true
# Every client here is a current one: no warning for the old global_id reclaim.
auth_allow_insecure_global_id_reclaim = false
# A shared disk with under 30 % free would trip MON_DISK_LOW (and stop the mon at 5 %).
mon_data_avail_warn = 2
mon_data_avail_crit = 1
# Two cores and 24 GiB shared with the target: the OSD near Ceph's minimum cache target, the mgr
# with only its always-on modules.
osd_memory_target = 1073741824
mgr_initial_modules =
# The VM's disk claims to be rotational; it is not.
bluestore_debug_enforce_settings = ssd

[mon]
mon_data = $dir/mon/\$cluster-\$id
keyring = $dir/mon/\$cluster-\$id/keyring
[mgr]
mgr_data = $dir/mgr/\$cluster-\$id
keyring = $dir/mgr/\$cluster-\$id/keyring
[osd]
osd_data = $dir/osd/\$cluster-\$id
keyring = $dir/osd/\$cluster-\$id/keyring
osd_objectstore = bluestore
bluestore_block_create = true
bluestore_block_size = 8589934592
osd_crush_update_on_start = true
[client]
keyring = $dir/\$cluster.\$name.keyring
# Clients (rbd, ceph, a tightrope target) run side by side under one name: one socket each.
admin_socket = $dir/run/\$cluster-\$name.\$pid.asok
# Clients (rbd, ceph, a tightrope target) run side by side under one name: one socket each.
admin_socket = $dir/run/\$cluster-\$name.\$pid.asok
EOF
}

start_daemons() {
  ceph-mon -c "$(conf)" -i a || die "ceph-mon did not start (see $dir/log)"
  ceph-mgr -c "$(conf)" -i x || die "ceph-mgr did not start"
  ceph-osd -c "$(conf)" -i 0 2>>"$dir/log/daemons.log" || die "ceph-osd did not start"
}

# Until every PG is active+clean (the OSD up and peered), or CEPH_WAIT_S seconds.
wait_active() {
  local t0=$SECONDS st
  while ((SECONDS - t0 < wait_s)); do
    st=$(ceph_ pg stat 2>/dev/null || true)
    if [[ $st =~ ([0-9]+)\ pgs:\ ([0-9]+)\ active\+clean ]] && [[ ${BASH_REMATCH[1]} == "${BASH_REMATCH[2]}" ]] &&
      ((BASH_REMATCH[1] > 0)); then
      return 0
    fi
    sleep 1
  done
  die "PGs not active+clean within ${wait_s}s: ${st:-no answer}"
}

do_start() {
  [[ ! -e $dir/ceph.conf ]] || die "$dir already holds a cluster (stop it first)"
  local t0=$SECONDS fsid osd_uuid id
  mkdir -p "$dir"/{mon/ceph-a,mgr/ceph-x,osd/ceph-0,log,run}
  dir=$(realpath "$dir")
  fsid=$(uuidgen)
  write_conf "$fsid"
  {
    ceph-authtool --create-keyring "$dir/mon.keyring" --gen-key -n mon. --cap mon 'allow *'
    ceph-authtool --create-keyring "$dir/ceph.client.admin.keyring" --gen-key -n client.admin \
      --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' --cap mds 'allow *'
    ceph-authtool "$dir/mon.keyring" --import-keyring "$dir/ceph.client.admin.keyring"
  } >/dev/null
  monmaptool --create --addv a "[v2:127.0.0.1:$port]" --fsid "$fsid" "$dir/monmap" >/dev/null
  ceph-mon -c "$(conf)" --mkfs -i a --monmap "$dir/monmap" --keyring "$dir/mon.keyring" 2>>"$dir/log/mkfs.log"
  ceph-mon -c "$(conf)" -i a || die "ceph-mon did not start (see $dir/log)"
  ceph_ auth get-or-create mgr.x mon 'allow profile mgr' osd 'allow *' mds 'allow *' \
    -o "$dir/mgr/ceph-x/keyring" || die "no answer from the mon on 127.0.0.1:$port"
  ceph-mgr -c "$(conf)" -i x || die "ceph-mgr did not start"
  osd_uuid=$(uuidgen)
  id=$(ceph_ osd new "$osd_uuid")
  [[ $id == 0 ]] || die "unexpected OSD id $id"
  ceph-osd -c "$(conf)" -i 0 --no-mon-config --mkfs --mkkey --osd-uuid "$osd_uuid" 2>>"$dir/log/mkfs.log" ||
    die "ceph-osd --mkfs failed (see $dir/log)"
  ceph_ auth add osd.0 osd 'allow *' mon 'allow profile osd' mgr 'allow profile osd' \
    -i "$dir/osd/ceph-0/keyring" 2>/dev/null
  ceph-osd -c "$(conf)" -i 0 2>>"$dir/log/daemons.log" || die "ceph-osd did not start"
  ceph_ osd pool create rbd 16 16 >/dev/null 2>&1
  timeout 60 rbd -c "$(conf)" pool init rbd
  # exclusive-lock off (pacific turns it on by default): two targets exporting one image would pass
  # the lock back and forth on every write, and a dead holder's successor waits ~19 s to break it.
  for img in "${@:-img}"; do
    timeout 60 rbd -c "$(conf)" create --size 1G --image-feature layering "rbd/$img"
  done
  wait_active
  log "up in $((SECONDS - t0)) s: conf $dir/ceph.conf, pool rbd, images ${*:-img}"
}

# Stop the daemons whose PID files are under DIR, by PID, and wait for them (bounded).
stop_daemons() {
  local pids=() f pid
  for f in "$dir"/run/ceph-*.pid; do
    [[ -e $f ]] || continue
    pid=$(<"$f")
    # Only a Ceph daemon of this directory's: a stale PID file must not name somebody else.
    if [[ $pid =~ ^[0-9]+$ ]] && grep -qs "$dir/ceph.conf" "/proc/$pid/cmdline"; then
      kill "$pid" && pids+=("$pid")
    fi
    rm -f "$f"
  done
  for pid in "${pids[@]}"; do
    for _ in $(seq 100); do [[ -d /proc/$pid ]] || break; sleep 0.1; done
    [[ -d /proc/$pid ]] && { log "PID $pid still running after 10 s: SIGKILL"; kill -9 "$pid" 2>/dev/null || true; }
  done
  return 0
}

case $cmd in
  start) shift 2; do_start "$@" ;;
  down) dir=$(realpath "$dir"); stop_daemons; log "daemons stopped, data kept" ;;
  up) dir=$(realpath "$dir"); start_daemons; wait_active; log "daemons up again" ;;
  stop) [[ -d $dir ]] || exit 0; dir=$(realpath "$dir"); stop_daemons; rm -rf "$dir"; log "stopped, $dir removed" ;;
  *) die "unknown command $cmd (start, down, up, stop)" ;;
esac
