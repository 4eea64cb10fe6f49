#!/bin/sh
# Installs what `memseal matrix` needs on a Debian or Ubuntu host: qemu to boot the kernels,
# busybox-static for the initramfs, and the decompressors for kernel images and modules.
# Idempotent: packages already present are not fetched again. Kernels are never installed here;
# the matrix downloads and unpacks them into its own cache directory.
# Usage: matrix-deps.sh [arm64]   (arm64: also qemu-system-arm, to boot arm64 kernels under emulation;
# their busybox and userland come from Debian's arm64 packages into the matrix's cache)
set -eu

export DEBIAN_FRONTEND=noninteractive

packages="qemu-system-x86 busybox-static xz-utils zstd lz4 gzip debian-archive-keyring"
for arch in "$@"; do
  case "$arch" in
    arm64|aarch64) packages="$packages qemu-system-arm" ;;
    amd64|x64|x86_64|x86-64) ;;
    *) echo "matrix-deps: unknown architecture $arch (known: arm64)" >&2; exit 2 ;;
  esac
done

missing=""
for p in $packages; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing="$missing $p"
  fi
done

if [ -z "$missing" ]; then
  echo "matrix-deps: all present ($packages)"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  sudo=sudo
else
  sudo=
fi

echo "matrix-deps: installing$missing"
# Update the package lists only when they are missing or older than a day.
if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mtime -1 2>/dev/null | head -n 1)" ]; then
  $sudo apt-get update -qq
fi
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "matrix-deps: done"
