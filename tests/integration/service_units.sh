#!/usr/bin/env bash
# The systemd units as `meson install` installs them: into the unit directory, beside the example
# config, with the installed binary's path in ExecStart; each passes `systemd-analyze verify` (run on
# the installed copies with their binary path moved into the DESTDIR, since verify wants it to
# exist; man pages not checked here: packaging installs them); the example config starts a target.
# usage: tests/integration/service_units.sh path/to/tightrope   (BUILD/src/tightrope of a configured build)
set -uo pipefail
bin=$(realpath "$1")
build=$(dirname "$(dirname "$bin")")
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
work=$(mktemp -d /tmp/tightrope-units.XXXXXX)
tgt=""
cleanup() {
  [[ -n $tgt ]] && kill "$tgt" 2>/dev/null && wait "$tgt" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

dest=$work/dest
meson install -C "$build" --no-rebuild --destdir "$dest" --quiet >"$work/install.log" 2>&1 ||
  { bad "meson install: $(tail -5 "$work/install.log")"; give_up; }
unitdir=$(find "$dest" -type d -path '*/systemd/system' | head -1)
installed_bin=$(find "$dest" -type f -name tightrope -path '*/bin/*' | head -1)
[[ -n $unitdir && -n $installed_bin ]] && ok "units and binary installed (${unitdir#"$dest"})" ||
  { bad "no unit directory or binary under $dest"; give_up; }
for u in tightrope-target.service tightrope-autoconnect.service tightrope-connect@.service; do
  [[ -f $unitdir/$u ]] || { bad "$u not installed"; continue; }
  exec_bin=$(sed -n 's/^ExecStart=\(\/bin\/sh -c .exec \)\{0,1\}\([^ ]*tightrope\) .*/\2/p' "$unitdir/$u")
  [[ $dest$exec_bin == "$installed_bin" ]] && ok "$u: ExecStart runs the installed binary ($exec_bin)" ||
    bad "$u: ExecStart runs '$exec_bin', installed at ${installed_bin#"$dest"}"
  mkdir -p "$work/verify"
  sed "s|$exec_bin|$installed_bin|g" "$unitdir/$u" >"$work/verify/$u"
  if out=$(systemd-analyze verify --man=no "$work/verify/$u" 2>&1) && [[ -z $out ]]; then
    ok "$u: systemd-analyze verify is silent"
  else
    bad "$u: systemd-analyze verify: $out"
  fi
done
grep -q '^Type=notify' "$unitdir/tightrope-target.service" && grep -q '^ExecReload=.* ctl reload' "$unitdir/tightrope-target.service" &&
  ok "target unit: Type=notify, ExecReload is ctl reload" || bad "target unit: Type or ExecReload"
# The check is not blind: a broken copy fails it.
sed 's/^Type=notify/Type=bogus/' "$work/verify/tightrope-target.service" >"$work/verify/broken.service"
out=$(systemd-analyze verify --man=no "$work/verify/broken.service" 2>&1)
[[ $out == *bogus* ]] && ok "verify catches a bad Type=" || bad "verify said nothing of Type=bogus: $out"

example=$(find "$dest" -name config.json.example | head -1)
[[ -n $example ]] && ok "example config installed (${example#"$dest"})" || { bad "no config.json.example"; give_up; }
# On a port of ours rather than 4420/8009, so nothing else here is in the way.
sed 's/"4420"/"24212"/; s/"8009"/"24213"/' "$example" >"$work/config.json"
"$bin" target --config "$work/config.json" -S "$work/ctl.sock" >"$work/target.log" 2>&1 &
tgt=$!
wait_ready "$work/target.log" && ok "the example config starts a target" || bad "example: $(tail -3 "$work/target.log")"
"$bin" ctl -S "$work/ctl.sock" reload >"$work/reload.out" 2>&1 && ok "ctl reload of the unchanged example" ||
  bad "reload: $(cat "$work/reload.out")"
kill "$tgt" && wait "$tgt"
rc=$?
tgt=""
((rc == 0)) && ok "target exits 0" || bad "target exit $rc"
no_sanitizer_report target "$work/target.log"
finish
