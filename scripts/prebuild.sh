#!/usr/bin/env bash
# Makes the prebuilds shipped in the npm package: prebuilds/linux-x64 and prebuilds/linux-arm64, both
# Node-API (one binary serves every Node version with N-API 8) and stripped. The other architecture is
# cross-compiled with Debian's toolchain (g++-aarch64-linux-gnu on x86-64, g++-x86-64-linux-gnu on arm64),
# installed here when missing and running as root.
# `npm pack` runs it first (package.json "prepack", with --available), so that a tarball always carries
# them and an install from it needs no compiler; `npm publish` runs it strictly first ("prepublishOnly"),
# so that a release carries both. `npm run prebuilds` runs it by hand.
# The builds happen in a scratch copy of the sources, so the working tree's build/ stays as it is. A
# prebuild newer than binding.gyp and every file in native/ is kept as it is (--force rebuilds it).
# Usage: scripts/prebuild.sh [--host-only] [--available] [--force]
#   --host-only              just this machine's architecture
#   --available              this machine's architecture, and the others where their cross toolchain is
#                            installed or can be (as root); a warning names each one left out (an
#                            install from git packs the package on whatever machine installs it)
#   MEMSEAL_PREBUILD_ARCHS   the architectures to make, e.g. "x64" (default: "x64 arm64"); the package
#                            test sets it, as it installs the tarball on this machine only
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
host_arch=$(node -p process.arch)
archs=${MEMSEAL_PREBUILD_ARCHS:-x64 arm64}
force=0
available=0
for arg in "$@"; do
  case $arg in
    --host-only) archs=$host_arch ;;
    --available) available=1 ;;
    --force) force=1 ;;
    *) echo "prebuild: unknown argument $arg (usage: scripts/prebuild.sh [--host-only] [--available] [--force])" >&2; exit 2 ;;
  esac
done
export DEBIAN_FRONTEND=noninteractive

# The cross toolchain's prefix for each architecture that is not this machine's.
prefix_of() {
  case $1 in
    "$host_arch") echo "" ;;
    arm64) echo aarch64-linux-gnu- ;;
    x64) echo x86_64-linux-gnu- ;;
    *) echo "prebuild: no toolchain known for linux-$1" >&2; exit 2 ;;
  esac
}

fresh() { # arch: the prebuild exists and is newer than every source it is made from
  local made=prebuilds/linux-$1/memseal.node
  [ "$force" = 0 ] && [ -f "$made" ] && [ -z "$(find binding.gyp native -newer "$made" -print -quit)" ]
}

todo=()
need=()
for arch in $archs; do
  if fresh "$arch"; then
    echo "prebuild: linux-$arch is up to date" >&2
    continue
  fi
  prefix=$(prefix_of "$arch")
  missing=()
  if [ -n "$prefix" ]; then
    pkg=${prefix%-linux-gnu-}
    pkg=${pkg//_/-}
    command -v "${prefix}g++" >/dev/null || missing+=("g++-$pkg-linux-gnu")
    command -v "${prefix}strip" >/dev/null || missing+=("binutils-$pkg-linux-gnu")
  fi
  if [ "${#missing[@]}" -gt 0 ] && [ "$(id -u)" -ne 0 ]; then
    if [ "$available" = 1 ]; then
      echo "prebuild: WARNING: linux-$arch left out: no cross compiler (Debian: ${missing[*]}); installs on $arch will build from source" >&2
      continue
    fi
    echo "prebuild: install ${missing[*]} first (Debian packages), or set MEMSEAL_PREBUILD_ARCHS=$host_arch" >&2
    exit 1
  fi
  todo+=("$arch")
  need+=("${missing[@]}")
done
if [ "${#need[@]}" -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
[ "${#todo[@]}" -gt 0 ] || exit 0

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cp -r binding.gyp package.json native "$scratch/"
ln -s "$root/node_modules" "$scratch/node_modules"

for arch in "${todo[@]}"; do
  prefix=$(prefix_of "$arch")
  echo "prebuild: linux-$arch" >&2
  (cd "$scratch" && rm -rf build prebuilds &&
    CC="${prefix}gcc" CXX="${prefix}g++" LINK="${prefix}g++" AR="${prefix}ar" \
    PREBUILD_STRIP_BIN="${prefix}strip" \
    npx --no -- prebuildify --napi --strip --arch "$arch" >&2)
  mkdir -p "prebuilds/linux-$arch"
  cp "$scratch/prebuilds/linux-$arch/"*.node "prebuilds/linux-$arch/"
  f=prebuilds/linux-$arch/memseal.node
  printf 'prebuild: %s: %s\n' "$f" "$(file -b "$f" 2>/dev/null | cut -d, -f1-2 || echo '?')" >&2
done
