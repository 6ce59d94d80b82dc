#!/usr/bin/env bash
# tests/vm/build.sh: build the guest kernel + initramfs that tightrope's QEMU tests boot, from
# Debian packages only: the kernel behind linux-image-amd64, busybox-static, nvme-cli and the shared
# libraries it needs. Debian 12 (bookworm, kernel 6.1) by default; TIGHTROPE_VM_SUITE=trixie for
# Debian 13 (kernel 6.12, nvme-cli 2.13).
#
# Packages come from a private apt state in $CACHE/$SUITE/apt (own sources.list for that suite,
# lists, archives, dpkg status /dev/null): this machine's apt configuration only lends the archive's
# address and is never changed; no guest package is installed here (`apt-get download`, `dpkg -x`).
# Output in $CACHE/$SUITE/out: vmlinuz, base.cpio.gz, manifest.txt, and for bookworm fio.cpio.gz: fio
# and the libraries it needs beyond the base (Ceph's, Gluster's, RDMA's: ~80 MB unpacked), an
# archive a test appends to the initramfs only when it runs fio (TIGHTROPE_VM_FIO=1). A complete cache returns at
# once; TIGHTROPE_VM_REBUILD=1 forces a rebuild. It also installs the tools that boot the guests
# (QEMU, socat, cpio), so a test can call it up front and time only its own steps.
# Env: TIGHTROPE_VM_CACHE (default ${XDG_CACHE_HOME:-~/.cache}/tightrope-vm), TIGHTROPE_VM_SUITE,
#   TIGHTROPE_VM_MIRROR (default: this machine's Debian archive URI, else http://deb.debian.org/debian),
#   TIGHTROPE_VM_KERNEL_PKG (default: what linux-image-amd64 depends on), TIGHTROPE_VM_REBUILD.
set -euo pipefail
shopt -s inherit_errexit
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"

# Modules the guests load (modules.dep adds what they depend on). The digest and PI checksums are
# requested by algorithm name at run time, so they are listed.
MODULES=(virtio_pci virtio_net configfs crc32c_generic crc32c-intel crct10dif_generic crc64_rocksoft_generic
  nvme-core nvme-fabrics nvme-tcp nvmet nvmet-tcp brd)
# trixie's 6.12 has NVMe in-band authentication and TLS: their hashes, DH groups and kernel TLS are
# also requested by name at run time.
[[ $SUITE == bookworm ]] || MODULES+=(nvme-auth nvme-keyring hmac sha256_generic sha512_generic dh_generic
  tls gcm ghash_generic aesni_intel)
# ... and ublk (bookworm's 6.1 is built without it), with FUSE, loop and ext4, for tightrope's own host
# in the guest (tests/integration/ublk_host.sh).
[[ $SUITE == bookworm ]] || MODULES+=(ublk_drv fuse loop ext4)

check_cache
need qemu-system-x86_64 qemu-system-x86 socat socat cpio cpio
S_DIR=$CACHE/$SUITE
mkdir -p "$S_DIR" "$OUT"
exec 9>"$S_DIR/.lock" # one build per suite at a time; a second caller waits, then finds it cached
flock 9

stamp=$({ grep -v '^ *#' "$0"; echo "suite=$SUITE kpkg=${TIGHTROPE_VM_KERNEL_PKG:-}"; } | sha256sum | cut -c1-16)
if [[ ${TIGHTROPE_VM_REBUILD:-0} != 1 && -f $OUT/stamp && $(cat "$OUT/stamp") == "$stamp" &&
  -f $OUT/vmlinuz && -f $OUT/base.cpio.gz ]]; then
  log "cached ($OUT): $(head -n 1 "$OUT/manifest.txt")"
  exit 0
fi
rm -f "$OUT/stamp"
t0=$SECONDS
need depmod kmod cpio cpio readelf binutils xz xz-utils

# --- a private apt configuration for $SUITE ---------------------------------------------------
mirror=${TIGHTROPE_VM_MIRROR:-$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
  grep -oE '(https?|file)://[^ ]*/debian/?( |$)' | head -n 1 | tr -d ' ' || true)}
mirror=${mirror:-http://deb.debian.org/debian}
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[[ -f $keyring ]] || apt_install debian-archive-keyring
A=$S_DIR/apt
mkdir -p "$A/lists/partial" "$A/cache/archives/partial"
suites="$SUITE"
[[ $SUITE == bookworm ]] && suites="bookworm bookworm-updates"
for s in $suites; do echo "deb [signed-by=$keyring] ${mirror%/} $s main"; done >"$A/sources.list.new"
cmp -s "$A/sources.list.new" "$A/sources.list" || rm -f "$A"/lists/*_Packages* # other mirror: refresh
mv -f "$A/sources.list.new" "$A/sources.list"
APT=(-o Dir::Etc::SourceList="$A/sources.list" -o Dir::Etc::SourceParts=/dev/null
  -o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts=/dev/null
  -o Dir::State::Lists="$A/lists" -o Dir::Cache="$A/cache" -o Dir::State::status=/dev/null
  -o APT::Sandbox::User=root)
# The archive drops superseded versions: lists older than a day are refreshed.
if ! find "$A/lists" -maxdepth 1 -name '*_Packages*' -mmin -1440 | grep -q .; then
  log "apt-get update ($SUITE from $mirror, private lists in $A)"
  apt-get "${APT[@]}" -q update >&2
fi

# deps_closure PKG...: PKG and every library package (lib*, zlib1g) reachable through Depends.
deps_closure() {
  local -A seen=()
  local level=("$@") next p
  while ((${#level[@]})); do
    next=()
    for p in "${level[@]}"; do [[ -n ${seen[$p]:-} ]] || { seen[$p]=1; echo "$p"; }; done
    while read -r p; do [[ -n ${seen[$p]:-} ]] || next+=("$p"); done < <(
      apt-cache "${APT[@]}" depends --no-recommends --no-suggests --no-conflicts --no-breaks \
        --no-replaces --no-enhances "${level[@]}" 2>/dev/null |
        awk '($1 == "Depends:" || $1 == "PreDepends:" || $1 == "|Depends:") && $2 !~ /^</ { sub(/:any$/, "", $2); print $2 }' |
        grep -E '^(lib|zlib1g$)' | sort -u)
    level=("${next[@]}")
  done
}

# fetch PKG...: download what $DEBS lacks (checked by name and SHA256); prints the .deb names.
DEBS=$S_DIR/debs
fetch() {
  local file hash want=() n=0
  mkdir -p "$DEBS"
  while read -r _ file _ hash; do
    n=$((n + 1))
    echo "${hash#SHA256:}  $DEBS/$file" | sha256sum -c --status 2>/dev/null || want+=("${file%%_*}")
    echo "$file"
  done < <(cd / && apt-get "${APT[@]}" download --print-uris "$@" | tr -d "'")
  ((n == $#)) || die "apt could not resolve all of: $*"
  ((${#want[@]} == 0)) || { log "apt-get download ${want[*]}"; (cd "$DEBS" && apt-get "${APT[@]}" -q download "${want[@]}" >&2); }
}

kpkg=${TIGHTROPE_VM_KERNEL_PKG:-$(apt-cache "${APT[@]}" depends linux-image-amd64 |
  awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9.]+.*-amd64$/ { print $2; exit }')}
[[ -n $kpkg ]] || die "no kernel package behind linux-image-amd64 in $SUITE"
# trixie's guests also get tlshd (ktls-utils), the TLS handshake daemon the kernel asks for NVMe/TCP TLS.
extra=()
[[ $SUITE == bookworm ]] || extra=(ktls-utils)
[[ $SUITE != bookworm ]] || extra=(fio)
mapfile -t pkgs < <({ echo busybox-static; deps_closure nvme-cli "${extra[@]}"; } | sort -u)
log "kernel package $kpkg; userland: ${pkgs[*]}"
kdeb=$(fetch "$kpkg")
udebs=$(fetch "${pkgs[@]}") # not < <(...): a failed fetch must stop the build
mapfile -t udebs <<<"$udebs"
# Superseded versions are of no further use: keep only what this build uses.
for f in "$DEBS"/*.deb; do
  printf '%s\n' "$kdeb" "${udebs[@]}" | grep -qxF "${f##*/}" || rm -f "$f"
done

W=$S_DIR/work
rm -rf "$W"
mkdir -p "$W/kernel" "$W/user" "$W/stage"
dpkg -x "$DEBS/$kdeb" "$W/kernel"
for d in "${udebs[@]}"; do dpkg -x "$DEBS/$d" "$W/user"; done
# Debian 13 packages install into /usr only (merged /usr); bookworm's into /lib, /bin too. Make
# both trees look merged, so /lib/modules, /bin/busybox and the ELF interpreter resolve alike.
merge_usr() {
  local d
  for d in bin sbin lib lib64; do
    [[ -L $1/$d ]] && continue
    if [[ -d $1/$d ]]; then mkdir -p "$1/usr/$d" && cp -a "$1/$d/." "$1/usr/$d/" && rm -rf "${1:?}/$d"; fi
    [[ -d $1/usr/$d ]] && ln -s "usr/$d" "$1/$d"
  done
  return 0
}
merge_usr "$W/kernel"
merge_usr "$W/user"

# --- kernel and the module closure ----------------------------------------------------------------
K=$W/kernel S=$W/stage
# The guest's tree is merged /usr too: /bin, /sbin, /lib, /lib64 are links into /usr.
mkdir -p "$S"/{proc,sys,dev,tmp,run,root,etc/nvme,usr/bin,usr/sbin,usr/lib,usr/lib64}
ln -s usr/bin "$S/bin" && ln -s usr/sbin "$S/sbin" && ln -s usr/lib "$S/lib" && ln -s usr/lib64 "$S/lib64"
[[ $(id -u) != 0 ]] || mknod -m 600 "$S/dev/console" c 5 1 # the kernel opens it before /init runs
kver=$(ls "$K/usr/lib/modules")
M=lib/modules/$kver
[[ -f $K/boot/vmlinuz-$kver ]] || die "no /boot/vmlinuz-$kver in $kdeb"
depmod -b "$K" "$kver" # the package ships no modules.dep (its postinst makes one)
mapfile -t modpaths < <(awk -v want="${MODULES[*]}" '
  function norm(s) { gsub(/-/, "_", s); return s }
  BEGIN { n = split(want, w, " "); for (i = 1; i <= n; i++) wanted[norm(w[i])] = 1 }
  { path = substr($1, 1, length($1) - 1); name = path; sub(/.*\//, "", name); sub(/\.ko(\.(xz|zst|gz))?$/, "", name)
    if (norm(name) in wanted) { found[norm(name)] = 1; print path; for (i = 2; i <= NF; i++) print $i } }
  END { for (m in wanted) if (!(m in found)) print "MISSING:" m }' "$K/$M/modules.dep" | sort -u)
for p in "${modpaths[@]}"; do
  if [[ $p == MISSING:* ]]; then # built into the kernel is fine; absent is not
    m=${p#MISSING:}
    grep -Eq "/${m//_/[-_]}\.ko" "$K/$M/modules.builtin" || die "module $m is not in kernel $kver"
    continue
  fi
  mkdir -p "$S/$M/$(dirname "$p")"
  case $p in # busybox modprobe reads plain .ko files only
    *.ko.xz) xz -dc "$K/$M/$p" >"$S/$M/${p%.xz}" ;;
    *.ko.zst) need zstd zstd && zstd -qdc "$K/$M/$p" >"$S/$M/${p%.zst}" ;;
    *.ko.gz) gzip -dc "$K/$M/$p" >"$S/$M/${p%.gz}" ;;
    *) cp "$K/$M/$p" "$S/$M/$p" ;;
  esac
done
cp "$K/$M/modules.builtin" "$K/$M/modules.order" "$S/$M/"
cp "$K/$M/modules.builtin.modinfo" "$S/$M/" 2>/dev/null || true
depmod -b "$S" "$kver"

# --- userland: busybox, nvme-cli and exactly its ELF library closure -------------------------------
U=$W/user
# inside ROOT PATH: PATH with symlinks resolved within ROOT (absolute targets relative to ROOT).
inside() {
  local root=$1 p=${2#/} t n=0
  while [[ -L $root/$p ]]; do
    t=$(readlink "$root/$p")
    if [[ $t == /* ]]; then p=${t#/}; else p=$(dirname "$p")/$t; fi
    p=$(realpath -m -s --relative-to=/ "/$p")
    ((++n < 20)) || die "symlink loop at $2"
  done
  [[ -e $root/$p ]] && echo "$p"
}
# elf_closure FILE...: interpreter + NEEDED libraries (recursively) of FILE..., paths in $U.
elf_closure() {
  local f so d interp found
  local -A done_=()
  local queue=("$@")
  while ((${#queue[@]})); do
    f=${queue[0]} queue=("${queue[@]:1}")
    interp=$(readelf -l "$U/$f" | sed -n 's/.*program interpreter: \(.*\)]/\1/p')
    [[ -z $interp || -n ${done_[$interp]:-} ]] || { done_[$interp]=1; echo "${interp#/}"; }
    for so in $(readelf -d "$U/$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
      [[ -z ${done_[$so]:-} ]] || continue
      done_[$so]=1 found=
      for d in usr/lib/x86_64-linux-gnu usr/lib usr/lib/x86_64-linux-gnu/ceph; do [[ -e $U/$d/$so ]] && { found=$d/$so; break; }; done
      [[ -n $found ]] || die "$so (needed by $f) is in none of the unpacked packages"
      echo "$found"
      queue+=("$found")
    done
  done
}
cp "$U/$(inside "$U" usr/bin/busybox)" "$S/usr/bin/busybox"
for a in $("$S/usr/bin/busybox" --list-full); do
  a=${a#/} a=${a#usr/} # every applet under /usr (the top-level dirs are links)
  [[ -e $S/usr/$a ]] || { mkdir -p "$S/usr/$(dirname "$a")" && ln -s /usr/bin/busybox "$S/usr/$a"; }
done
progs=(usr/sbin/nvme)
[[ $SUITE == bookworm ]] || progs+=(usr/sbin/tlshd)
for f in "${progs[@]}" $(elf_closure "${progs[@]}"); do
  real=$(inside "$U" "$f") || die "$f missing"
  mkdir -p "$S/$(dirname "$f")"
  cp -f "$U/$real" "$S/$f"
done
[[ -e $S/usr/lib64/ld-linux-x86-64.so.2 ]] || die "no ELF interpreter staged"
(cd "$S" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | gzip -9) >"$OUT/base.cpio.gz.tmp"
# fio's archive: what it needs that the base lacks, at the same paths (librados finds Ceph's own
# libraries through its RUNPATH, /usr/lib/x86_64-linux-gnu/ceph).
rm -f "$OUT/fio.cpio.gz"
if [[ $SUITE == bookworm ]]; then
  F=$W/fio
  for f in usr/bin/fio $(elf_closure usr/bin/fio); do
    [[ -e $S/$f ]] && continue
    real=$(inside "$U" "$f") || die "$f missing"
    mkdir -p "$F/$(dirname "$f")"
    cp -f "$U/$real" "$F/$f"
  done
  (cd "$F" && find usr | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | gzip -6) >"$OUT/fio.cpio.gz"
fi
cp "$K/boot/vmlinuz-$kver" "$OUT/vmlinuz.tmp"
mv -f "$OUT/base.cpio.gz.tmp" "$OUT/base.cpio.gz"
mv -f "$OUT/vmlinuz.tmp" "$OUT/vmlinuz"

version() { dpkg-deb -f "$DEBS/$(printf '%s\n' "${udebs[@]}" | grep "^$1_")" Version; }
{
  echo "$SUITE: kernel $kver, nvme-cli $(version nvme-cli), busybox $(version busybox-static)"
  echo "built $(date -u +%FT%TZ) in $((SECONDS - t0)) s from $mirror"
  echo "modules: ${#modpaths[@]}"
  printf 'deb %s\n' "$kdeb" "${udebs[@]}"
  (cd "$OUT" && ls -l vmlinuz base.cpio.gz && if [[ -f fio.cpio.gz ]]; then ls -l fio.cpio.gz; fi)
} >"$OUT/manifest.txt"
[[ ${TIGHTROPE_VM_KEEP_WORK:-0} == 1 ]] || rm -rf "$W"
echo "$stamp" >"$OUT/stamp"
log "built in $((SECONDS - t0)) s: $(head -n 1 "$OUT/manifest.txt")"
