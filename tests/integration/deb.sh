#!/usr/bin/env bash
# The Debian package: a copy of the working tree built with `dpkg-buildpackage -us -uc -b` (tests and
# debug-symbol packages off), lintian on the .changes with no E: tag, the three .debs unpacked into
# one empty root, and what landed where: the program in /usr/bin, the library and its symlinks in
# /usr/lib/MULTIARCH, the headers and a .pc with prefix /usr, the man pages (checked by man_pages.sh
# against the installed program), the systemd units and the example config when the tree has them,
# maintainer scripts that never start or enable the target, and an installed program and library
# that run. Nothing is written beside the clone: the copy is built in a scratch directory.
# usage: deb.sh   (needs dpkg-dev, debhelper, lintian and debian/control's Build-Depends installed)
set -uo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
src=$(cd "$(dirname "$0")/../.." && pwd)
with_scratch deb

# (1) The working files (tracked and new, not ignored, so build directories stay behind) into a copy.
tree=$work/src/tightrope
mkdir -p "$tree"
(cd "$src" && git ls-files -co --exclude-standard -z | xargs -0 cp --parents -t "$tree") ||
  { bad "copying the working tree"; give_up; }
# beside: the build products a dpkg-buildpackage in the clone itself would leave next to it.
beside() { ls -d "$(dirname "$src")"/*.deb "$(dirname "$src")"/*.changes "$(dirname "$src")"/*.buildinfo 2>/dev/null; }
before=$(beside)
start=$SECONDS
if (cd "$tree" && DEB_BUILD_OPTIONS="nocheck noddebs parallel=$(nproc)" dpkg-buildpackage -us -uc -b \
  >"$work/build.log" 2>&1); then
  ok "dpkg-buildpackage -us -uc -b in $((SECONDS - start)) s"
else
  bad "dpkg-buildpackage: $(tail -15 "$work/build.log")"; give_up
fi
[[ $(beside) == "$before" ]] && ok "nothing written beside the source tree" ||
  bad "the build wrote beside $src"
version=$(cd "$tree" && dpkg-parsechangelog -S Version)
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
debs=()
for p in tightrope libtightrope-host0 libtightrope-dev; do
  d=$work/src/${p}_${version}_$arch.deb
  [[ -f $d ]] && debs+=("$d") || bad "no package $p (${d##*/})"
done
((${#debs[@]} == 3)) && ok "packages: $(cd "$work/src" && ls ./*.deb | tr '\n' ' ')" || give_up

# (2) lintian: no errors; warnings are listed.
changes=$work/src/tightrope_${version}_${arch}.changes
lintian "$changes" >"$work/lintian.log" 2>&1
if grep -q '^E:' "$work/lintian.log"; then
  bad "lintian errors: $(grep '^E:' "$work/lintian.log" | tr '\n' ' ')"
else
  ok "lintian: no errors ($(grep -c '^W:' "$work/lintian.log") warnings$(grep '^W:' "$work/lintian.log" |
    sed 's/^W: [^:]*: \([^ ]*\).*/\1/' | sort | uniq -c | awk '{printf ", %s x%s", $2, $1}'))"
fi

# (3) Unpacked into one empty root, as the package manager would put them.
root=$work/root
for d in "${debs[@]}"; do dpkg-deb -x "$d" "$root" || bad "dpkg-deb -x ${d##*/}"; done
# has PATH WHAT: a file (or symlink) at ROOT/PATH.
has() { [[ -e $root/$1 || -L $root/$1 ]] && ok "$2: /$1" || bad "$2 missing: /$1"; }
has usr/bin/tightrope "the program"
lib=usr/lib/$ma/libtightrope-host.so
has "$lib.0.1.0" "the shared library"
[[ $(readlink "$root/$lib.0") == libtightrope-host.so.0.1.0 ]] && ok "/$lib.0 -> libtightrope-host.so.0.1.0" ||
  bad "/$lib.0 is '$(readlink "$root/$lib.0")'"
[[ $(readlink "$root/$lib") == libtightrope-host.so.0 ]] && ok "/$lib -> libtightrope-host.so.0 (in -dev)" ||
  bad "/$lib is '$(readlink "$root/$lib")'"
soname=$(readelf -d "$root/$lib.0.1.0" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
[[ $soname == libtightrope-host.so.0 ]] && ok "SONAME $soname" || bad "SONAME '$soname'"
has "usr/lib/$ma/libtightrope-host.a" "the static library"
for h in host.h nvme.h version.h; do has "usr/include/tightrope/$h" "header"; done
pc=$root/usr/lib/$ma/pkgconfig/tightrope.pc
if [[ -f $pc ]] && grep -qx 'prefix=/usr' "$pc" && grep -qx "libdir=\${prefix}/lib/$ma" "$pc"; then
  ok "tightrope.pc: prefix=/usr, libdir=\${prefix}/lib/$ma"
else
  bad "tightrope.pc: $(head -5 "$pc" 2>/dev/null | tr '\n' ' ')"
fi
# Which package holds what: the library alone in libtightrope-host0, the program not in the -dev.
dpkg-deb -c "$work/src/libtightrope-host0_${version}_$arch.deb" | grep -q "usr/lib/$ma/libtightrope-host.so$" &&
  bad "the unversioned .so link is in libtightrope-host0 (belongs in -dev)" || ok "libtightrope-host0 has no .so link"
dpkg-deb -f "$work/src/tightrope_${version}_$arch.deb" Depends | grep -q 'libc6' &&
  ok "tightrope Depends: $(dpkg-deb -f "$work/src/tightrope_${version}_$arch.deb" Depends)" || bad "tightrope has no shlibs Depends"

# (4) The man pages as installed (gzipped), against the installed program.
has usr/share/man/man1/tightrope.1.gz "the man page tightrope(1)"
if "$src/tests/integration/man_pages.sh" "$root/usr/bin/tightrope" "$root/usr/share/man" >"$work/man.log" 2>&1; then
  ok "man_pages.sh on the installed pages and program: $(tail -1 "$work/man.log")"
else
  bad "man_pages.sh on the installed pages: $(grep '^FAIL' "$work/man.log" | head -5 | tr '\n' ' ')"
fi

# (5) The systemd units of dist/systemd/ (and the example config) in Debian 12's unit directory, and
# maintainer scripts that neither start nor enable anything: the target needs a config first.
units=0
for u in "$src"/dist/systemd/*.service* "$src"/dist/systemd/*.socket* "$src"/dist/systemd/*.timer*; do
  [[ -e $u ]] || continue
  name=${u##*/}
  has "lib/systemd/system/${name%.in}" "unit"
  units=$((units + 1))
done
[[ -e $src/dist/tightrope-config.example.json ]] && has usr/share/doc/tightrope/config.json.example "example config"
echo "# $units unit files in dist/systemd/"
dpkg-deb -e "$work/src/tightrope_${version}_$arch.deb" "$work/control"
# A first installation on a machine booted with systemd: tightrope's postinst run with stand-ins for
# deb-systemd-helper (the unit was never installed; a new install counts as was-enabled, as the real
# one says), deb-systemd-invoke and systemctl that log their calls, and its /run/systemd/system test
# pointed at a directory that exists. It must neither enable nor start a unit.
stub=$work/stub
mkdir -p "$stub" "$work/run-systemd"
for c in deb-systemd-helper deb-systemd-invoke systemctl; do
  printf '#!/bin/sh\necho "%s $*" >>"%s"\n[ "$1" = debian-installed ] && exit 1\nexit 0\n' "$c" "$work/calls" >"$stub/$c"
  chmod +x "$stub/$c"
done
: >"$work/calls"
if [[ -f $work/control/postinst ]]; then
  sed "s|/run/systemd/system|$work/run-systemd|g" "$work/control/postinst" >"$work/postinst"
  PATH=$stub:$PATH sh -e "$work/postinst" configure "" >"$work/postinst.out" 2>&1 || bad "postinst configure failed: $(tail -3 "$work/postinst.out")"
fi
if grep -E '^deb-systemd-helper (--quiet )?enable|^deb-systemd-invoke (start|restart|try-restart)|^systemctl .*(start|enable)' "$work/calls" >"$work/starts"; then
  bad "installing the package would enable or start a unit: $(head -3 "$work/starts" | tr '\n' ' ')"
else
  ok "a first installation enables and starts nothing ($units units; postinst called: $(sort -u "$work/calls" | tr '\n' ';'))"
fi

# (6) What was installed runs: the program, and a program built against the -dev package.
out=$("$root/usr/bin/tightrope" version 2>&1)
[[ $out == "tightrope ${version%-*}" ]] && ok "installed tightrope version: $out" || bad "tightrope version: '$out'"
printf '#include <stdio.h>\n#include <tightrope/host.h>\nint main(void) { puts(tr_version()); return 0; }\n' >"$work/v.c"
export PKG_CONFIG_PATH=$root/usr/lib/$ma/pkgconfig PKG_CONFIG_SYSROOT_DIR=$root
if cc -Wall -Werror "$work/v.c" $(pkg-config --cflags --libs tightrope) -o "$work/v" 2>"$work/cc.err"; then
  out=$(LD_LIBRARY_PATH=$root/usr/lib/$ma "$work/v")
  [[ $out == "${version%-*}" ]] && ok "a program built with pkg-config against libtightrope-dev runs: tr_version() = $out" ||
    bad "tr_version() from the installed library: '$out'"
else
  bad "building against the installed -dev: $(head -3 "$work/cc.err")"
fi
finish
