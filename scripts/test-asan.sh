#!/usr/bin/env bash
# The test suite against an AddressSanitizer + UndefinedBehaviorSanitizer build of the addon.
#
# The instrumented addon is built in a private copy of the tree, so the project's own build/ (which other
# runs may be using) is never touched. Any sanitizer report from any process fails the run: the jest
# workers, and also the child processes the tests start, whose stderr a test may capture and never print.
#
# Usage: npm run test:asan [-- jest arguments]        e.g. npm run test:asan -- test/mmap.test.ts
# Environment: CXX (default g++; the runtimes are found with $CXX -print-file-name),
#              MEMSEAL_ASAN_DIR (work directory, default a fresh temporary one),
#              MEMSEAL_ASAN_KEEP=1 (keep the work directory even when the run passes).
# See docs/sanitizers.md.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cxx=${CXX:-g++}
work=${MEMSEAL_ASAN_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/memseal-asan.XXXXXX")}
# Readable by everyone: some clauses run node as an unprivileged user (uid 65534) from this tree.
chmod 755 "$work"
tree=$work/tree
logs=$work/reports
started=$(date +%s)
elapsed() { echo "$(( $(date +%s) - started ))s"; }
say() { printf '\n=== test:asan: %s (%s)\n' "$1" "$(elapsed)"; }

passed=0
cleanup() {
  if [ "$passed" = 1 ] && [ "${MEMSEAL_ASAN_KEEP:-0}" != 1 ]; then rm -rf "$work"; else echo "test:asan: work directory kept: $work"; fi
}
trap cleanup EXIT

[ -d "$root/node_modules" ] || { echo "test:asan: run npm install first (node_modules is missing)" >&2; exit 2; }
libasan=$("$cxx" -print-file-name=libasan.so)
libubsan=$("$cxx" -print-file-name=libubsan.so)
for lib in "$libasan" "$libubsan"; do
  # Without the library the compiler prints the bare name back.
  [ -f "$lib" ] || { echo "test:asan: $cxx has no $(basename "$lib") (Debian: apt-get install g++, which brings libasan and libubsan)" >&2; exit 2; }
done

say "copy the tree to $tree"
rm -rf "$tree" "$logs"
mkdir -p "$tree" "$logs"
if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  # Tracked and untracked-but-not-ignored files: the tree as it is now, without build/, dist/, node_modules/.
  (cd "$root" && git ls-files -z --cached --others --exclude-standard \
    | while IFS= read -r -d '' f; do [ -f "$f" ] && printf '%s\0' "$f"; done \
    | tar --null -T - -cf -) | tar -C "$tree" -xf -
else
  (cd "$root" && tar -cf - --exclude=./node_modules --exclude=./build --exclude=./dist --exclude=./prebuilds .) | tar -C "$tree" -xf -
fi
ln -s "$root/node_modules" "$tree/node_modules"
# A repository of its own, holding the copied files: tests that list the project's files ask git for them.
# The node_modules link is not one of them (.gitignore's node_modules/ matches a directory, not a link).
(cd "$tree" && git init -q && echo node_modules >.git/info/exclude && git add -A \
  && git -c user.name=memseal -c user.email=memseal@localhost commit -qm "test:asan copy" >/dev/null) \
  || { echo "test:asan: could not make the copy a git repository" >&2; exit 1; }

say "build the addon with -fsanitize=address,undefined"
# node-gyp's Makefile appends CXXFLAGS and LDFLAGS from the environment to its own flags.
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g"
(cd "$tree" && CXXFLAGS="$san" LDFLAGS="-fsanitize=address,undefined" npx --no node-gyp rebuild --jobs max >"$work/node-gyp.log" 2>&1) \
  || { tail -40 "$work/node-gyp.log"; echo "test:asan: the instrumented build failed" >&2; exit 1; }
addon=$tree/build/Release/memseal.node
symbols=$(nm -D "$addon")
grep -q '__asan_report' <<<"$symbols" || { echo "test:asan: $addon is not instrumented by AddressSanitizer" >&2; exit 1; }
grep -q '__ubsan_handle.*_abort' <<<"$symbols" || { echo "test:asan: $addon is not instrumented by UBSan (abort mode)" >&2; exit 1; }

# Node is not instrumented, so the runtimes must be loaded before anything else: LD_PRELOAD, inherited by
# every child process the tests start (fixtures, conformance workers, probe children).
export LD_PRELOAD="$libasan $libubsan${LD_PRELOAD:+ $LD_PRELOAD}"
# detect_leaks=0: Node and V8 keep allocations alive until exit on purpose (isolate, code space, handles),
#   so LeakSanitizer would report Node itself at every exit; leaks of the addon's mappings and fds are
#   tested directly by the reliability tests and scripts/soak.js.
# log_path: each process writes its report to reports/asan.<pid>, so a report from a child whose output
#   a test swallows still fails the run.
# handle_segv and handle_sigbus stay on (ASan's default). The fault probe's child installs its own
#   handlers with sigaction(2) after fork, which ASan lets through (allow_user_segv_handler=1, its default
#   on Linux, stated here because the probe depends on it); the probe tests check that each deliberate
#   fault is still reported as SIGSEGV or SIGBUS. A fault anywhere else still reaches ASan and is reported.
# No strict_string_checks: the preload reaches every program the tests start (make, via node-gyp), and
#   that option reports legal strndup(3) calls on unterminated input in them.
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1:allow_user_segv_handler=1:check_initialization_order=1:log_path=$logs/asan"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$logs/ubsan"
# Tells tests what they run under: timing and RSS bounds measure the sanitizer (fork of a larger process,
# ASan's 256 MB quarantine of freed memory), not the addon. See docs/sanitizers.md.
export MEMSEAL_SANITIZER=asan
# Workers and namespace children of the conformance suite are several times slower under ASan too.
export MEMSEAL_CLAUSE_TIMEOUT_MS=${MEMSEAL_CLAUSE_TIMEOUT_MS:-60000}

say "compile the TypeScript (scripts/esm-wrapper.js loads the addon, so after LD_PRELOAD)"
(cd "$tree" && npm run --silent compile)

say "check that Node runs with the sanitizer runtimes"
(cd "$tree" && node -e "
  const maps = require('fs').readFileSync('/proc/self/maps', 'utf8')
  if (!maps.includes('libasan') || !maps.includes('libubsan')) { console.error('runtimes not loaded'); process.exit(1) }
  const { native } = require('./dist/native')
  const m = require('./dist').Mapping.anonymous(native.constants.PAGE_SIZE, { protection: 'r' })
  if (m.probe(0, 'write') !== 'SIGSEGV' || m.probe(0, 'read') !== 'ok') { console.error('fault probe broken under ASan'); process.exit(1) }
  console.log('node ' + process.version + ' with libasan and libubsan; addon ' + require.resolve('./build/Release/memseal.node'))
")

say "jest $*"
set +e
# jest itself, not through npx: npx would take options such as --outputFile as its own.
(cd "$tree" && ./node_modules/.bin/jest --ci "$@" 2>&1) | tee "$work/jest.log"
jest_status=${PIPESTATUS[0]}
set -e

say "sanitizer reports"
reports=$(find "$logs" -type f | sort)
# Belt and braces: a process that closed or redirected its log descriptor still writes to stderr.
printed=$(grep -cE 'ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:' "$work/jest.log" || true)
if [ -n "$reports" ] || [ "$printed" != 0 ]; then
  for f in $reports; do echo "--- $f"; cat "$f"; done
  [ "$printed" != 0 ] && grep -nE -A30 'ERROR: AddressSanitizer|runtime error:' "$work/jest.log"
  echo "test:asan: FAILED: $(echo "$reports" | grep -c . || true) report file(s), $printed report(s) in the output ($(elapsed))"
  exit 1
fi
echo "none (jest exit status $jest_status)"
if [ "$jest_status" -ne 0 ]; then
  echo "test:asan: FAILED: jest failed under the sanitizers ($(elapsed))"
  exit "$jest_status"
fi
passed=1
echo "test:asan: passed with no sanitizer report ($(elapsed))"
