#!/usr/bin/env bash
# Makes the prebuilds shipped in the npm package: prebuilds/linux-x64 and prebuilds/linux-arm64, both
# Node-API (one binary serves every Node version with N-API 8) and stripped. The arm64 one is
# cross-compiled with Debian's aarch64 toolchain (g++-aarch64-linux-gnu), installed here if missing.
# The builds happen in a scratch copy of the sources, so the working tree's build/ stays as it is.
# Usage: scripts/prebuild.sh [--host-only]   (--host-only: just this machine's architecture)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
host_only=0
[ "${1:-}" = --host-only ] && host_only=1
export DEBIAN_FRONTEND=noninteractive

host_arch=$(node -p process.arch)
need=()
[ "$host_only" = 1 ] || {
command -v aarch64-linux-gnu-g++ >/dev/null || need+=(g++-aarch64-linux-gnu)
command -v aarch64-linux-gnu-strip >/dev/null || need+=(binutils-aarch64-linux-gnu)
command -v x86_64-linux-gnu-g++ >/dev/null || [ "$host_arch" = x64 ] || need+=(g++-x86-64-linux-gnu)
}
if [ "${#need[@]}" -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || { echo "prebuild: install ${need[*]} first (Debian packages)" >&2; exit 1; }
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cp -r binding.gyp package.json native "$scratch/"
ln -s "$root/node_modules" "$scratch/node_modules"

build() { # arch, compiler prefix ('' for the host's own)
  local arch=$1 prefix=$2
  echo "prebuild: linux-$arch" >&2
  (cd "$scratch" && rm -rf build prebuilds &&
    CC="${prefix}gcc" CXX="${prefix}g++" LINK="${prefix}g++" AR="${prefix}ar" \
    PREBUILD_STRIP_BIN="${prefix}strip" \
    npx prebuildify --napi --strip --arch "$arch" >&2)
  mkdir -p "prebuilds/linux-$arch"
  cp "$scratch/prebuilds/linux-$arch/"*.node "prebuilds/linux-$arch/"
}

if [ "$host_only" = 1 ]; then
  build "$host_arch" ""
elif [ "$host_arch" = x64 ]; then
  build x64 ""
  build arm64 aarch64-linux-gnu-
else
  build arm64 ""
  build x64 x86_64-linux-gnu-
fi
for f in prebuilds/*/*.node; do
  printf '%s: %s\n' "$f" "$(file -b "$f" 2>/dev/null | cut -d, -f1-2 || echo '?')"
done
