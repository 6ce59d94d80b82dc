#!/usr/bin/env bash
# The host library as someone outside the tree uses it: `meson install` into a scratch root, every
# installed header compiles on its own (C99 and C++), examples/read_block.c builds through pkg-config
# against that copy (shared and static) and reads back the known first block of a file namespace
# served by our target, and the shared library exports the public API and nothing else.
# usage: example_lib.sh TIGHTROPE_BINARY   (the library is installed from the binary's build directory)
set -uo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
bin=$(realpath "$1")
src=$(cd "$(dirname "$0")/../.." && pwd)
builddir=$(dirname "$(dirname "$bin")")
with_scratch lib

# (a) Install, as a packager would, into a root of our own.
root=$work/root
if meson install -C "$builddir" --destdir "$root" --no-rebuild --quiet >"$work/install.log" 2>&1; then
  ok "meson install --destdir"
else
  bad "meson install: $(tail -5 "$work/install.log")"; give_up
fi
pc=$(find "$root" -name tightrope.pc | head -1)
lib=$(find "$root" -name 'libtightrope-host.so.*.*' | head -1)
inc=$(find "$root" -type d -path '*/include/tightrope' | head -1)
[[ -n $pc && -n $lib && -n $inc ]] && ok "installed tightrope.pc, ${lib##*/} and include/tightrope/" ||
  { bad "install is missing pieces: pc=$pc lib=$lib include=$inc"; give_up; }
libdir=$(dirname "$lib")
ls "$inc" | tr '\n' ' ' | grep -qx 'host.h nvme.h version.h ' && ok "public headers: host.h nvme.h version.h" ||
  bad "installed headers: $(ls "$inc" | tr '\n' ' ')"

# (b) pkg-config on the installed copy: the sysroot maps its /usr/local/... into the scratch root.
export PKG_CONFIG_PATH=$(dirname "$pc") PKG_CONFIG_SYSROOT_DIR=$root
cflags=$(pkg-config --cflags tightrope) libs=$(pkg-config --libs tightrope) || { bad "pkg-config"; give_up; }
[[ $cflags == "-I$root/"* && $libs == *"-ltightrope-host"* ]] && ok "pkg-config: $cflags $libs" ||
  bad "pkg-config points elsewhere: '$cflags' '$libs'"
[[ $(sed -n 's/^#define TR_VERSION "\(.*\)"$/\1/p' "$inc/version.h") == "$("$bin" --version | cut -d' ' -f2)" ]] &&
  ok "version.h and tightrope --version agree ($("$bin" --version))" || bad "version.h differs from tightrope --version"

# Each header on its own, nothing but its own includes and the installed directory.
for h in host.h nvme.h version.h; do
  printf '#include <tightrope/%s>\ntypedef int not_empty;\n' "$h" >"$work/h.c"
  cc -std=c99 -pedantic -Wall -Wextra -Werror -fsyntax-only $cflags "$work/h.c" 2>"$work/h.err" &&
    ok "<tightrope/$h> is self-contained (C99)" || bad "<tightrope/$h>: $(head -3 "$work/h.err")"
done
printf '#include <tightrope/host.h>\nint main() { return tr_version() == nullptr; }\n' >"$work/h.cc"
c++ -std=c++11 -Wall -Wextra -Werror -fsyntax-only $cflags "$work/h.cc" 2>"$work/h.err" &&
  ok "<tightrope/host.h> compiles as C++" || bad "host.h in C++: $(head -3 "$work/h.err")"

# An ASan-built library needs the program built the same way (the runtime must load first).
san=()
readelf -d "$lib" | grep -q 'libasan' && san=(-fsanitize=address,undefined)
example=$src/examples/read_block.c
if cc -std=c11 -Wall -Wextra -Werror "${san[@]}" "$example" $cflags $libs -o "$work/read_block" 2>"$work/cc.err"; then
  ok "read_block.c builds with cc \$(pkg-config --cflags --libs tightrope)${san:+ ${san[*]}}"
else
  bad "read_block.c against the installed library: $(head -5 "$work/cc.err")"; give_up
fi
static_libs=$(pkg-config --static --libs tightrope | sed 's/-ltightrope-host//')
if cc -std=c11 -Wall -Wextra -Werror "${san[@]}" "$example" $cflags "$libdir/libtightrope-host.a" $static_libs \
  -o "$work/read_block_static" 2>"$work/cc.err"; then
  ok "read_block.c links libtightrope-host.a with pkg-config --static"
else
  bad "static link: $(head -5 "$work/cc.err")"
fi

# (d) Exports: exactly the TR_API functions of host.h.
nm -D --defined-only "$lib" | awk '{print $3}' | sort >"$work/exported"
sed -n 's/^TR_API .*[ *]\(tr_[a-z0-9_]*\)(.*/\1/p' "$inc/host.h" | sort >"$work/declared"
if [[ -s $work/declared ]] && diff "$work/declared" "$work/exported" >"$work/exports.diff"; then
  ok "the shared library exports the $(wc -l <"$work/declared") TR_API functions and nothing else"
else
  bad "exports differ from host.h's TR_API list (< header only, > library only): $(head -10 "$work/exports.diff" | tr '\n' ' ')"
fi

# (c) A target whose file namespace begins with a pattern a broken read could not produce.
nqn=nqn.2026-11.io.tightrope:example-lib
python3 - "$work/disk.img" >"$work/expected" <<'PY'
import sys
block = (b"tightrope example_lib: block 0 of a 4 KiB-block file\n" + bytes(range(256)) * 16)[:4096]
with open(sys.argv[1], "wb") as f:
    f.write(block + bytes(1024 * 1024 - len(block)))
for off in range(0, 64, 16):
    c = block[off:off + 16]
    print("%04x:" % off + "".join(" %02x" % b for b in c) + "  |" +
          "".join(chr(b) if 32 <= b < 127 else "." for b in c) + "|")
PY
port=$(free_port)
"$bin" target -S none -w 1 -l 127.0.0.1:"$port" -n "$nqn" -N "$work/disk.img,lbs=4096" >"$work/target.log" 2>&1 &
pids+=($!)
wait_ready "$work/target.log" || { bad "target did not start: $(tail -3 "$work/target.log")"; give_up; }

# run_example NAME BINARY: the size line and the hexdump of block 0, as the pattern says.
run_example() {
  LD_LIBRARY_PATH=$libdir timeout 30 "$2" 127.0.0.1 "$port" "$nqn" >"$work/out" 2>"$work/err"
  local rc=$?
  if [[ $rc == 0 ]] && grep -qx 'namespace 1: 256 blocks of 4096 bytes (1048576 bytes)' "$work/out" &&
    diff <(grep '^00[0-3]0:' "$work/out") "$work/expected" >/dev/null; then
    ok "$1 reads namespace 1 (256 blocks of 4096 bytes) and the first 64 bytes of block 0 match"
  else
    bad "$1: rc=$rc, out: $(head -c 400 "$work/out"), err: $(head -c 300 "$work/err")"
  fi
}
run_example "read_block (shared)" "$work/read_block"
[[ -x $work/read_block_static ]] && run_example "read_block (static)" "$work/read_block_static"
LD_LIBRARY_PATH=$libdir timeout 30 "$work/read_block_static" 2>/dev/null # usage
[[ $? == 2 ]] && ok "read_block without arguments prints usage, exit 2" || bad "read_block without arguments"
LD_LIBRARY_PATH=$libdir timeout 30 "$work/read_block" 127.0.0.1 "$port" "$nqn-nope" >/dev/null 2>"$work/err"
rc=$?
[[ $rc == 1 ]] && grep -q "no such subsystem" "$work/err" && ok "an unknown subsystem: $(head -1 "$work/err")" ||
  bad "unknown subsystem: rc=$rc, $(head -c 300 "$work/err")"
LD_LIBRARY_PATH=$libdir timeout 30 "$work/read_block" 127.0.0.1 "$port" "$nqn" 7 >/dev/null 2>"$work/err"
rc=$?
[[ $rc == 1 ]] && grep -q "^namespace 7: " "$work/err" && ok "an inactive namespace: $(head -1 "$work/err")" ||
  bad "inactive namespace: rc=$rc, $(head -c 300 "$work/err")"
finish
