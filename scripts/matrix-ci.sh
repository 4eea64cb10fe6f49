#!/bin/sh
# CI for the kernel matrix: install qemu and friends, boot Debian's 6.1 and 6.12 kernels beside the
# host, run the conformance suite in each and check the result (scripts/matrix-check.js).
# Writes $MATRIX_OUT/matrix.json and matrix.md (default: matrix-out/), and with $MATRIX_CHECKS a
# { name, passed, failed } file for scripts/ci-summary.js. Exits non-zero on failure.
set -eu

cd "$(dirname "$0")/.."
out="${MATRIX_OUT:-matrix-out}"
mkdir -p "$out"

give_up() {
  echo "matrix: $1" >&2
  if [ -n "${MATRIX_CHECKS:-}" ]; then
    echo '{ "name": "kernel matrix", "passed": 0, "failed": 1, "skipped": 0 }' >"$MATRIX_CHECKS"
  fi
  exit 1
}

echo "== matrix: dependencies"
sh scripts/matrix-deps.sh || give_up "scripts/matrix-deps.sh failed"

if [ ! -f dist/cli.js ]; then
  echo "== matrix: compiling the TypeScript"
  npm run compile || give_up "npm run compile failed"
fi

echo "== matrix: running (kernels 6.1 and 6.12 plus the host)"
status=0
# MATRIX_ARGS is a list of extra options, split into words on purpose.
# shellcheck disable=SC2086
node dist/cli.js matrix --kernel 6.1 --kernel 6.12 --json "$out/matrix.json" --markdown "$out/matrix.md" ${MATRIX_ARGS:-} || status=$?
if [ "$status" -ge 2 ] || [ ! -s "$out/matrix.json" ]; then
  give_up "memseal matrix failed to run (exit $status)"
fi

sed -n '/^## Kernels$/,/^## Environments/p' "$out/matrix.md" | sed '$d'

echo "== matrix: checking $out/matrix.json"
node scripts/matrix-check.js "$out/matrix.json" ${MATRIX_CHECKS:+"$MATRIX_CHECKS"}
