#!/usr/bin/env bash
# What `meson install --destdir` puts where, from the binary's build directory: the program, the host
# library (and its links, the .a, the .pc naming the build's prefix), the headers, every man page of
# docs/man in mandir/manSECTION, and the systemd units and example config of dist/ when the tree has
# them; nothing outside the prefix but the units (whose directory comes from systemd's pkg-config).
# usage: install_layout.sh TIGHTROPE_BINARY
set -uo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
bin=$(realpath "$1")
src=$(cd "$(dirname "$0")/../.." && pwd)
builddir=$(dirname "$(dirname "$bin")")
with_scratch install

root=$work/root
if meson install -C "$builddir" --destdir "$root" --no-rebuild --quiet >"$work/install.log" 2>&1; then
  ok "meson install -C ${builddir##*/} --destdir"
else
  bad "meson install: $(tail -5 "$work/install.log")"; give_up
fi
# opt NAME: a build option's value (prefix, bindir, libdir, ...).
opt() {
  meson introspect "$builddir" --buildoptions |
    python3 -c 'import json, sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == sys.argv[1]))' "$1"
}
prefix=$(opt prefix) libdir=$(opt libdir) mandir=$(opt mandir) datadir=$(opt datadir)
P=$root$prefix
has() { [[ -e $1 || -L $1 ]] && ok "$2: ${1#"$root"}" || bad "$2 missing: ${1#"$root"}"; }

has "$P/$(opt bindir)/tightrope" "the program"
for f in libtightrope-host.so libtightrope-host.so.0 libtightrope-host.so.0.1.0 libtightrope-host.a; do
  has "$P/$libdir/$f" "the host library"
done
for h in host.h nvme.h version.h; do has "$P/$(opt includedir)/tightrope/$h" "header"; done
pc=$P/$libdir/pkgconfig/tightrope.pc
grep -qx "prefix=$prefix" "$pc" 2>/dev/null && ok "tightrope.pc says prefix=$prefix" || bad "tightrope.pc: $(head -2 "$pc" 2>/dev/null | tr '\n' ' ')"

pages=0
for s in "$src"/docs/man/*.scd; do
  page=${s##*/}
  page=${page%.scd}
  has "$P/$mandir/man${page##*.}/$page" "man page"
  pages=$((pages + 1))
done
((pages > 0)) || bad "no man page sources in docs/man"

# Units: wherever systemd's pkg-config says (Debian 12: /lib/systemd/system), named as in dist/systemd.
units=0
for u in "$src"/dist/systemd/*.service* "$src"/dist/systemd/*.socket* "$src"/dist/systemd/*.timer*; do
  [[ -e $u ]] || continue
  name=${u##*/}
  name=${name%.in}
  found=$(find "$root" -name "$name" -path '*/systemd/system/*' | head -1)
  [[ -n $found ]] && ok "unit ${found#"$root"}" || bad "unit $name was not installed"
  units=$((units + 1))
done
[[ -e $src/dist/tightrope-config.example.json ]] &&
  has "$P/$datadir/doc/tightrope/config.json.example" "example config"
echo "# $pages man pages and $units units in the tree"

# Nothing else outside the prefix.
find "$root" \( -type f -o -type l \) ! -path "$P/*" ! -path '*/systemd/system/*' >"$work/outside"
[[ ! -s $work/outside ]] && ok "everything but the units is under $prefix" ||
  bad "installed outside $prefix: $(sed "s|^$root||" "$work/outside" | head -5 | tr '\n' ' ')"
finish
