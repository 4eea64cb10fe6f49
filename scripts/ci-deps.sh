#!/usr/bin/env bash
# System packages the build and the test suite need, from Debian's archive. Idempotent and quiet:
# only what is missing is installed.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
need=()
command -v g++ >/dev/null || need+=(g++)
command -v make >/dev/null || need+=(make)
command -v python3 >/dev/null || need+=(python3)
command -v cc >/dev/null || need+=(gcc)
command -v unshare >/dev/null || need+=(util-linux)
command -v getconf >/dev/null || need+=(libc-bin)
command -v strace >/dev/null || need+=(strace)
command -v valgrind >/dev/null || need+=(valgrind)
command -v clang-format >/dev/null || need+=(clang-format)
command -v cpplint >/dev/null || need+=(cpplint)
command -v shellcheck >/dev/null || need+=(shellcheck)
# The HTML report's test (test/html.test.ts) loads the page in headless Chromium; a font to draw it with.
command -v chromium >/dev/null || need+=(chromium)
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
if [ "${#need[@]}" -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || { echo "missing ${need[*]} and not root: install them first" >&2; exit 1; }
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
echo "build tools: $(g++ --version | head -1); node $(node --version)"
