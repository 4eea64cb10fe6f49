'use strict'
// Checks a `memseal matrix --json` result in CI: every kernel booted and reported, nothing diverges
// or is broken, each guest really ran the kernel it was meant to, and on 6.1 (older than memfd's
// noexec support, 6.3, and mseal, 6.10) the noexec and mseal clauses are skips naming the version
// that brought them (or pass, for the few that hold on older kernels too) while the memfd and seal
// clauses pass or are known. On 6.12 mseal and noexec must work.
// Usage: node scripts/matrix-check.js MATRIX.json [CHECKS.json]
// CHECKS.json, when named, receives { name, passed, failed, skipped } for scripts/ci-summary.js.
const { readFileSync, writeFileSync } = require('node:fs')

const [file, checksOut] = process.argv.slice(2)
if (!file) {
  console.error('usage: node scripts/matrix-check.js MATRIX.json [CHECKS.json]')
  process.exit(2)
}
const problems = []
const notes = []
let passed = 0
const fail = (msg) => problems.push(msg)
/** Counts a check: a failure is recorded with its message, a success only counted. */
const check = (ok, msg) => (ok ? passed++ : fail(msg))
const finish = () => {
  if (checksOut) writeFileSync(checksOut, JSON.stringify({ name: 'kernel matrix', passed, failed: problems.length, skipped: 0 }) + '\n')
  if (problems.length > 0) {
    console.error(`\nmatrix check FAILED (${problems.length} of ${passed + problems.length} checks):`)
    for (const p of problems) console.error(`  - ${p}`)
    process.exit(1)
  }
  console.log(`matrix check passed (${passed} checks)`)
}

let matrix
try {
  matrix = JSON.parse(readFileSync(file, 'utf8'))
} catch (e) {
  fail(`cannot read ${file}: ${e.message}`)
  finish()
}

/** Versions named in a skip reason ("arrived in 6.3", "needs Linux ≥ 6.10"), as [major, minor]. */
const versionsIn = (text) => [...String(text ?? '').matchAll(/\b(\d+)\.(\d+)\b/g)].map((m) => [Number(m[1]), Number(m[2])])
const newerThan = ([a, b], [c, d]) => a > c || (a === c && b > d)
const byArea = (k, area) => (k.report?.results ?? []).filter((r) => r.area === area || r.id.startsWith(`${area}.`))

for (const k of matrix.kernels) {
  const tail = k.consoleTail ? `\n    ${k.consoleTail.split('\n').slice(-10).join('\n    ')}` : ''
  check(k.status === 'ok', `${k.label}: ${k.status}: ${k.error}${tail}`)
  if (k.status !== 'ok') continue
  for (const r of k.report.results) {
    const bad = r.status === 'diverges' || r.status === 'broken'
    check(
      !bad,
      `${k.label}: ${r.id} ${r.status} (expected ${JSON.stringify(r.expected)}, observed ${JSON.stringify(r.observed)}${r.reason ? `, ${r.reason}` : ''})`,
    )
    if (r.status === 'skip') check(Boolean(r.reason), `${k.label}: ${r.id} is a skip without a reason`)
  }
  if (k.spec !== 'host' && /^\d+\.\d+$/.test(k.spec)) {
    check(String(k.release).startsWith(`${k.spec}.`), `${k.label}: the guest reported kernel ${k.release}, not a ${k.spec} kernel`)
  }
}

function kernelFor(spec) {
  const k = matrix.kernels.find((x) => x.spec === spec)
  check(Boolean(k), `kernel ${spec} is missing from the matrix`)
  return k && k.status === 'ok' ? k : null
}

function checkOld(spec, floor) {
  const k = kernelFor(spec)
  if (!k) return
  for (const [area, since] of [
    ['noexec', [6, 3]],
    ['mseal', [6, 10]],
  ]) {
    const results = byArea(k, area)
    check(results.length > 0, `${spec}: no ${area} clauses in the report`)
    let named = false
    for (const r of results) {
      if (r.status === 'skip') {
        const versions = versionsIn(r.reason)
        check(
          versions.some((v) => newerThan(v, floor)),
          `${spec}: ${r.id} skips without naming the version that brought it: ${JSON.stringify(r.reason)}`,
        )
        if (versions.some((v) => v[0] === since[0] && v[1] === since[1])) named = true
      } else {
        // A clause about what older kernels do too (e.g. that the vDSO can still be unmapped).
        check(r.status === 'pass' || r.status === 'known', `${spec}: ${r.id} is ${r.status}`)
        notes.push(`${spec}: ${r.id} ${r.status} (holds before ${area} arrived in ${since.join('.')})`)
      }
    }
    if (results.length > 0) check(named, `${spec}: no ${area} skip names ${since.join('.')}`)
  }
  for (const area of ['memfd', 'seal']) {
    const results = byArea(k, area)
    check(results.length > 0, `${spec}: no ${area} clauses in the report`)
    const counts = {}
    for (const r of results) counts[r.status] = (counts[r.status] ?? 0) + 1
    notes.push(
      `${spec}: ${area}: ${Object.entries(counts)
        .map(([s, n]) => `${n} ${s}`)
        .join(', ')}`,
    )
  }
}

function checkNew(spec) {
  const k = kernelFor(spec)
  if (!k) return
  for (const area of ['mseal', 'noexec']) {
    check(
      byArea(k, area).some((r) => r.status === 'pass'),
      `${spec}: no ${area} clause passes, though ${spec} has ${area}`,
    )
  }
}

checkOld('6.1', [6, 1])
checkNew('6.12')

console.log(`matrix: ${matrix.kernels.map((k) => `${k.label}=${k.status}${k.release ? ` (${k.release}, ${k.accel})` : ''}`).join(', ')}`)
console.log(`acceleration: ${matrix.accel.used} (${matrix.accel.reason})`)
for (const n of notes) console.log(`  ${n}`)
finish()
