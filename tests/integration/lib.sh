# shellcheck shell=bash
# tests/integration/lib.sh: what the shell integration tests share: PASS/FAIL bookkeeping and the
# closing line CI reads, waiting for a target (or a socket, a VM, any log line) to be ready, a free
# port, and the sanitizer check of logs. Sourced by each test right after its `set`; not run.

pass=0 fail=0
ok() { echo "PASS $*"; pass=$((pass + 1)); }
bad() { echo "FAIL $*"; fail=$((fail + 1)); }
# finish: the closing "N passed, N failed" line; true when nothing failed.
finish() {
  echo "$pass passed, $fail failed"
  ((fail == 0))
}
# give_up: when what is left cannot run: the closing line now, and exit with its status.
give_up() {
  finish
  exit
}

# wait_until SECONDS COMMAND...: run COMMAND every 0.1 s until it succeeds; false if it never did.
wait_until() {
  local tries=$(($1 * 10))
  shift
  until "$@"; do
    ((--tries > 0)) || return 1
    sleep 0.1
  done
}
# wait_log FILE PATTERN [SECONDS]: until a line of FILE matches PATTERN (grep's); default 10 s.
wait_log() { wait_until "${3:-10}" grep -q -- "$2" "$1"; }
# wait_ready LOG [SECONDS]: until the target logging to LOG says "target ready", which it does once
# every listener is up.
wait_ready() { wait_log "$1" "target ready" "${2:-10}"; }
# wait_sock PATH [SECONDS]: until a control socket is at PATH; default 5 s.
wait_sock() { wait_until "${2:-5}" test -S "$1"; }
# gone PID: the process exited, or is a zombie nobody reaped yet.
gone() {
  [[ ! -e /proc/$1 ]] || [[ $(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1) =~ ^[ZX]?$ ]]
}
# wait_gone PID [SECONDS]: until process PID is gone; default 10 s.
wait_gone() { wait_until "${2:-10}" gone "$1"; }

# free_port: a TCP port nothing on 127.0.0.1 is bound to right now.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# no_sanitizer_report WHAT LOG...: one check that no AddressSanitizer, UBSan or ThreadSanitizer
# report is in the logs (missing logs count as clean); the first lines of a report if there is one.
no_sanitizer_report() {
  local what=$1
  shift
  if grep -qsE "Sanitizer|runtime error" "$@"; then
    bad "sanitizer report from $what"
    grep -hsE -A5 "Sanitizer|runtime error" "$@" | head -20
  else
    ok "no sanitizer report from $what"
  fi
}
