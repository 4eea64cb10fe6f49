#!/bin/sh
# CI for the kernel matrix: install qemu and friends, boot Debian's 5.10, 6.1 and 6.12 kernels beside
# the host, run the conformance suite in each, check the result (scripts/matrix-check.js), load its
# HTML page in headless Chromium against its JSON and parse its KTAP strictly, then boot real kernels
# for `memseal run`, --accel kvm and the packed tarball installed in an application under /tmp
# (test/matrix-run.test.ts with MEMSEAL_MATRIX_TEST=1).
# Writes $MATRIX_OUT/matrix.{json,md,html,ktap,txt} (default: matrix-out/), jest reports as
# $MATRIX_JEST_DIR/matrix-*.jest.json (default: $MATRIX_OUT) and, with $MATRIX_CHECKS, a
# { name, passed, failed } file for scripts/ci-summary.js. Exits non-zero on failure.
set -eu

cd "$(dirname "$0")/.."
out="${MATRIX_OUT:-matrix-out}"
jest_dir="${MATRIX_JEST_DIR:-$out}"
mkdir -p "$out" "$jest_dir"

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

echo "== matrix: running (kernels 5.10, 6.1 and 6.12 plus the host)"
status=0
started=$(date +%s)
# MATRIX_ARGS is a list of extra options, split into words on purpose.
# shellcheck disable=SC2086
node dist/cli.js matrix --kernel 5.10 --kernel 6.1 --kernel 6.12 \
  --json "$out/matrix.json" --markdown "$out/matrix.md" --html "$out/matrix.html" --ktap "$out/matrix.ktap" \
  ${MATRIX_ARGS:-} >"$out/matrix.txt" || status=$?
cat "$out/matrix.txt"
echo "matrix: $(( $(date +%s) - started )) s for three kernels and the host"
if [ "$status" -ge 2 ] || [ ! -s "$out/matrix.json" ]; then
  give_up "memseal matrix failed to run (exit $status)"
fi
node dist/cli.js cache

echo "== matrix: checking $out/matrix.json"
failed=0
node scripts/matrix-check.js "$out/matrix.json" ${MATRIX_CHECKS:+"$MATRIX_CHECKS"} || failed=1

echo "== matrix: the HTML page in headless Chromium and the KTAP through the strict parser"
MEMSEAL_REAL_MATRIX="$out/matrix.json" npx jest --ci test/html.test.ts test/ktap.test.ts \
  --json --outputFile="$jest_dir/matrix-reports.jest.json" </dev/null || failed=1

echo "== matrix: real boots (memseal run, --accel kvm, the packed tarball under /tmp)"
MEMSEAL_MATRIX_TEST=1 npx jest --ci test/matrix-run.test.ts test/matrix.test.ts \
  --json --outputFile="$jest_dir/matrix-boots.jest.json" </dev/null || failed=1

exit "$failed"
