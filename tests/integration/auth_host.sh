#!/usr/bin/env bash
# DH-HMAC-CHAP between tightrope's host and tightrope's target (the third corner of the interop
# matrix): host-only SHA-256 over the null group, bidirectional SHA-512 over ffdhe3072, and a host
# that must both authenticate and speak TLS on a TLS-required port; bench --verify for each; connect
# with the secrets, the target restarted under the host (the reconnect authenticates again), data
# read back; a wrong secret, a wrong controller secret and no secret refused with their reasons; no
# secret in any log, record or command line.
# usage: tests/integration/auth_host.sh path/to/tightrope     (root; /dev/fuse)
set -uo pipefail
bin=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
work=$(mktemp -d /tmp/tightrope-authhost.XXXXXX)
port=${AUTH_HOST_PORT:-24231} tport=${AUTH_HOST_TLS_PORT:-24232}
nqn=nqn.2026-12.io.tightrope:auth-host
ha=nqn.2026-12.io.tightrope:auth-a hb=nqn.2026-12.io.tightrope:auth-b hc=nqn.2026-12.io.tightrope:auth-c
export TIGHTROPE_STATE_DIR=$work/state
tgt_pid= name=
cleanup() {
  [[ -n $name ]] && timeout 30 "$bin" disconnect -d "$name" >/dev/null 2>&1
  [[ -n $tgt_pid ]] && kill -TERM "$tgt_pid" 2>/dev/null && wait "$tgt_pid" 2>/dev/null
  grep -qs " $work/" /proc/mounts && { echo "cleanup: mounts left, keeping $work"; return; }
  rm -rf "$work"
}
trap cleanup EXIT

ka=$("$bin" gen-dhchap-key -m 1 -n "$ha")
kb=$("$bin" gen-dhchap-key -m 3 -l 64 -n "$hb") ckb=$("$bin" gen-dhchap-key -l 48)
kc=$("$bin" gen-dhchap-key) tlsc=$("$bin" gen-tls-key)
wrong=$("$bin" gen-dhchap-key)
truncate -s 64M "$work/ns.img"
cat >"$work/config.json" <<EOF
{"hosts": [{"nqn": "$ha", "dhchap": {"key": "$ka", "hash": "hmac(sha256)", "dhgroup": "null"}},
           {"nqn": "$hb", "dhchap": {"key": "$kb", "ctrl_key": "$ckb", "hash": "hmac(sha512)", "dhgroup": "ffdhe3072"}},
           {"nqn": "$hc", "dhchap": {"key": "$kc", "hash": "hmac(sha384)", "dhgroup": "ffdhe2048"}, "tls_key": "$tlsc"}],
 "ports": [{"portid": 1, "addr": {"trtype": "tcp", "adrfam": "ipv4", "traddr": "127.0.0.1", "trsvcid": "$port"}, "subsystems": ["$nqn"]},
           {"portid": 2, "addr": {"trtype": "tcp", "adrfam": "ipv4", "traddr": "127.0.0.1", "trsvcid": "$tport",
                                  "tsas": "tls1.3", "treq": "required"}, "subsystems": ["$nqn"]}],
 "subsystems": [{"nqn": "$nqn", "attr": {"allow_any_host": "0"}, "allowed_hosts": ["$ha", "$hb", "$hc"],
                 "namespaces": [{"nsid": 1, "enable": 1, "device": {"path": "$work/ns.img"}}]}]}
EOF
chmod 600 "$work/config.json"
start_target() {
  "$bin" target -c "$work/config.json" -S "$work/ctl" >>"$work/target.log" 2>&1 &
  tgt_pid=$!
  wait_ready "$work/target.log" 10
}
start_target || { cat "$work/target.log"; bad "target did not start"; finish; exit 1; }

bench_ok() { # bench_ok WHAT OPTIONS...: bench --verify through those options
  local what=$1 out
  shift
  if out=$(timeout 90 "$bin" bench -n "$nqn" "$@" --rw randrw --bs 4k --iodepth 8 --runtime 2 --verify 2>&1) &&
    grep -q "verify: OK" <<<"$out"; then
    ok "$what: bench --verify OK"
  else
    bad "$what"; tail -5 <<<"$out"
  fi
}
bench_ok "host-only, sha256, null" -a 127.0.0.1 -s "$port" -q "$ha" -S "$ka"
bench_ok "bidirectional, sha512, ffdhe3072" -a 127.0.0.1 -s "$port" -q "$hb" -S "$kb" -C "$ckb"
bench_ok "DH-HMAC-CHAP (sha384, ffdhe2048) over TLS 1.3" -a 127.0.0.1 -s "$tport" -q "$hc" -S "$kc" --tls-key "$tlsc"
for h in "$ha|sha256), DH group null" "$hb|sha512), DH group ffdhe3072; controller authenticated" "$hc|sha384), DH group ffdhe2048"; do
  grep -qF "host \"${h%%|*}\" authenticated with hmac(${h#*|}" "$work/target.log" &&
    ok "target: ${h%%|*} authenticated with hmac(${h#*|}" || bad "target never authenticated ${h%%|*} as hmac(${h#*|}"
done

refused() { # refused WHAT EXPECT OPTIONS...: id-ctrl fails, saying EXPECT
  local what=$1 want=$2 out
  shift 2
  out=$(timeout 30 "$bin" id-ctrl -n "$nqn" "$@" 2>&1) && { bad "$what: connected"; return; }
  grep -q -- "$want" <<<"$out" && ok "$what: $(grep -o -- "$want.*" <<<"$out" | head -c 120)" || { bad "$what"; echo "$out"; }
}
refused "a wrong host secret" "authentication failed" -a 127.0.0.1 -s "$port" -q "$ha" -S "$wrong"
refused "a wrong controller secret" "controller authentication failed" -a 127.0.0.1 -s "$port" -q "$hb" -S "$kb" -C "$wrong"
refused "no secret" "controller requires authentication" -a 127.0.0.1 -s "$port" -q "$ha"
refused "the right secret without TLS on the TLS port" "if the port requires TLS" -a 127.0.0.1 -s "$tport" -q "$hc" -S "$kc"

# connect, then the target restarts under the host: the reconnect must authenticate again.
before=$(grep -c "host \"$hb\" authenticated" "$work/target.log")
if out=$(timeout 60 "$bin" connect -a 127.0.0.1 -s "$port" -n "$nqn" -q "$hb" -S "$kb" -C "$ckb" --no-loop -c 1 -l 60 2>&1); then
  read -r name _ _ file < <(ctrl_of "$nqn")
  ok "connect with both secrets: $name"
  "$bin" list 2>&1 | grep -q "dhchap-bidirectional" && ok "list says dhchap-bidirectional" || bad "list does not show the authentication"
  head -c $((2 << 20)) /dev/urandom >"$work/pattern"
  timeout 60 dd if="$work/pattern" of="$file" bs=1M oflag=direct conv=notrunc,fsync status=none && ok "2 MiB written" || bad "write"
  kill -TERM "$tgt_pid"; wait "$tgt_pid"; tgt_pid=
  start_target || bad "target restart"
  got=0
  for _ in $(seq 60); do
    timeout 20 dd if="$file" of="$work/back" bs=1M count=2 iflag=direct status=none 2>/dev/null &&
      cmp -s "$work/pattern" "$work/back" && { got=1; break; }
    sleep 0.5
  done
  ((got)) && ok "after the target restarted, the data reads back" || bad "no data after the reconnect"
  after=$(grep -c "host \"$hb\" authenticated" "$work/target.log")
  ((after > before)) && ok "the reconnect authenticated again ($before -> $after admin authentications of $hb)" ||
    bad "the reconnect did not authenticate ($before -> $after)"
  pid=$(python3 -c 'import glob,json,sys; print([json.load(open(p))["pid"] for p in glob.glob(sys.argv[1]+"/*.json")][0])' "$TIGHTROPE_STATE_DIR/ctrl")
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "DHHC-1" && bad "a secret in the host process's command line" ||
    ok "no secret in the host process's command line"
  timeout 30 "$bin" disconnect -d "$name" >/dev/null 2>&1 && name= && ok "disconnect" || bad "disconnect"
else
  bad "connect with both secrets"; echo "$out"
fi
grep -qE "DHHC-1|NVMeTLSkey" "$work/target.log" && bad "a secret in the target's log" || ok "no secret in the target's log"
grep -rqsE "DHHC-1|NVMeTLSkey" "$TIGHTROPE_STATE_DIR" && bad "a secret in the host's state" || ok "no secret in the host's state"
kill -TERM "$tgt_pid"; rc=0; wait "$tgt_pid" || rc=$?; tgt_pid=
[[ $rc == 0 ]] && ok "target exits 0" || bad "target exit status $rc"
no_sanitizer_report "$work/target.log" target
finish
