#!/usr/bin/env bash
# Install the Debian packages tightrope needs to build and test, if any are missing.
# usage: scripts/deps.sh [build|test]   (test adds clang's fuzzer runtime, tshark, python3, the openssl tool and
# the Ceph daemons tests/ceph/cluster.sh runs, dpkg-dev, debhelper and lintian for tests/integration/deb.sh,
# and promtool from prometheus for the metrics test)
set -euo pipefail
want=(gcc meson ninja-build pkg-config liburing-dev libisal-dev libjson-c-dev libcmocka-dev libssl-dev libfuse3-dev fuse3 librbd-dev libsystemd-dev scdoc libmicrohttpd-dev)
[[ ${1:-build} == test ]] && want+=(clang libclang-rt-14-dev python3 tshark openssl ceph-mon ceph-mgr ceph-osd ceph-common dpkg-dev debhelper lintian prometheus)
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
((${#missing[@]} == 0)) && exit 0
echo "deps: installing ${missing[*]}" >&2
[[ $(id -u) == 0 ]] || { echo "deps: need root to apt-get install ${missing[*]}" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1 ||
  { apt-get update -qq >/dev/null && apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; }
