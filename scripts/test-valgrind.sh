#!/usr/bin/env bash
# valgrind memcheck over test/fixtures/api-exercise.js: the whole public API and every native entry
# point, error paths included, in one process (jest under valgrind would take hours).
#
# Uses the project's existing build (build/Release/memseal.node and dist/, from npm install or npm ci)
# and only reads it. Fails when the exercise fails or when memcheck reports any error whose stack holds a
# memseal.node frame. Errors in Node or V8 alone are listed but do not fail the run; the known ones are
# suppressed in scripts/valgrind/node.supp, which names Node and V8 frames only.
#
# Usage: npm run test:valgrind
# Environment: MEMSEAL_VALGRIND_DIR (where the logs go, default a fresh temporary directory).
# See docs/sanitizers.md.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
command -v valgrind >/dev/null || { echo "test:valgrind: valgrind is not installed (Debian: apt-get install valgrind)" >&2; exit 2; }
if [ ! -f "$root/build/Release/memseal.node" ] || [ ! -f "$root/dist/index.js" ]; then
  echo "test:valgrind: build the project first (npm install, or npm run build:native && npm run compile)" >&2
  exit 2
fi
out=${MEMSEAL_VALGRIND_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/memseal-valgrind.XXXXXX")}
mkdir -p "$out"
started=$(date +%s)

echo "=== test:valgrind: $(valgrind --version), node $(node --version), logs in $out"
# --child-silent-after-fork: the fault probe forks children that fault on purpose; their (JavaScript-free)
#   code is a few lines, and their deliberate faults are not errors.
# --trace-children=no: programs exec'd by the exercise (execveat of /bin/true) are not Node or memseal.
# --leak-check=no: Node does not free its heap, isolates or handles at exit, and objects still alive then
#   (a sealed mapping, raw regions) never reach their finalizers; leaks of fds, mappings and finalizer
#   bookkeeping are tested directly by the reliability tests and scripts/soak.js.
# No --error-exitcode: the exit status is the exercise's own, and errors are classified below.
set +e
MEMSEAL_ROOT="$root" valgrind --tool=memcheck --trace-children=no --child-silent-after-fork=yes \
  --leak-check=no --num-callers=40 --track-origins=yes \
  --suppressions="$root/scripts/valgrind/node.supp" \
  --xml=yes --xml-file="$out/memcheck.xml" --log-file="$out/valgrind.log" \
  node --expose-gc "$root/test/fixtures/api-exercise.js" | tee "$out/exercise.json"
status=${PIPESTATUS[0]}
set -e

# Classify the errors: an error is the addon's when any frame of any of its stacks is in memseal.node.
node - "$out/memcheck.xml" <<'JS'
const xml = require('node:fs').readFileSync(process.argv[2], 'utf8')
const counts = new Map([...xml.matchAll(/<pair>\s*<count>(\d+)<\/count>\s*<unique>(0x[0-9a-f]+)<\/unique>/g)].map((m) => [m[2], Number(m[1])]))
let total = 0, addon = 0
const decode = (s) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&')
for (const [error] of xml.matchAll(/<error>[\s\S]*?<\/error>/g)) {
  const kind = /<kind>(.*?)<\/kind>/.exec(error)[1]
  if (kind.startsWith('Leak_')) continue // --leak-check=no; listed only if XML mode forces a leak check
  const n = counts.get(/<unique>(.*?)<\/unique>/.exec(error)[1]) ?? 1
  const ours = /<obj>[^<]*memseal\.node<\/obj>/.test(error)
  total += n
  if (ours) addon += n
  const what = decode((/<(?:what|text)>([\s\S]*?)<\/(?:what|text)>/.exec(error) ?? [, kind])[1])
  const frames = [...error.matchAll(/<frame>([\s\S]*?)<\/frame>/g)].slice(0, 12).map(([, f]) =>
    `    ${decode((/<fn>(.*?)<\/fn>/.exec(f) ?? [, '???'])[1])} (${(/<obj>(.*?)<\/obj>/.exec(f) ?? [, '?'])[1].split('/').pop()})`)
  console.log(`${ours ? 'ADDON' : 'node/V8 (not the addon)'}: ${kind} x${n}: ${what}\n${frames.join('\n')}`)
}
const suppressed = [...xml.matchAll(/<pair>\s*<count>(\d+)<\/count>\s*<name>(.*?)<\/name>/g)].map((m) => `${m[2]} x${m[1]}`)
console.log(`ERROR SUMMARY: ${total} errors (${addon} from memseal.node); suppressed: ${suppressed.join(', ') || 'none'}`)
require('node:fs').writeFileSync(process.argv[2] + '.addon', String(addon))
JS
addon=$(cat "$out/memcheck.xml.addon")
grep -h 'unhandled .* syscall' "$out/valgrind.log" | sort | uniq -c | sed 's/^/note: /' || true
echo "test:valgrind: exercise exit status $status, $addon memcheck error(s) from the addon ($(( $(date +%s) - started ))s)"
[ "$status" -eq 0 ] && [ "$addon" -eq 0 ]
