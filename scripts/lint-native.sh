#!/usr/bin/env bash
# The non-JavaScript half of `npm run lint`: clang-format and cpplint over native/, shellcheck over the
# shell scripts. The tools come from Debian (scripts/ci-deps.sh installs them); their versions matter for
# clang-format's output, so CI runs this on Debian 12 (clang-format 14).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
status=0
missing=()
for tool in clang-format cpplint shellcheck; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "lint: ${missing[*]} not installed (Debian: apt-get install ${missing[*]}; or bash scripts/ci-deps.sh)" >&2
  exit 2
fi
native=(native/*.cc native/*.h)
clang-format --dry-run --Werror "${native[@]}" || { echo "lint: clang-format would change native/ (npm run format)" >&2; status=1; }
cpplint --quiet --recursive native || status=1
shellcheck .ci/run scripts/*.sh || status=1
[ "$status" -eq 0 ] && echo "lint: native/ and shell scripts clean ($(clang-format --version | grep -o 'version [0-9.]*'))"
exit "$status"
