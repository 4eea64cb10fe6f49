'use strict'
// Prints the CI totals as one plain line "N passed, N failed, N skipped", from jest's JSON report and
// any other check reports (*.checks.json: { name, passed, failed, skipped }) in the given directory.
const { existsSync, readdirSync, readFileSync } = require('node:fs')
const { join } = require('node:path')

const dir = process.argv[2] || '.ci-out'
let passed = 0
let failed = 0
let skipped = 0
// jest.json is the README's test command; NAME.jest.json are other jest runs (e.g. under ASan).
const jestReports = [
  'jest.json',
  ...readdirSync(dir)
    .filter((f) => f.endsWith('.jest.json'))
    .sort(),
]
for (const file of jestReports) {
  const name = file === 'jest.json' ? 'jest' : `jest (${file.replace(/\.jest\.json$/, '')})`
  if (!existsSync(join(dir, file))) {
    console.log(`${name}: no report (the test command did not get to run jest)`)
    failed += 1
    continue
  }
  const r = JSON.parse(readFileSync(join(dir, file), 'utf8'))
  console.log(
    `${name}: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests} skipped (${r.numTotalTestSuites} files, ${r.numFailedTestSuites} failed)`,
  )
  passed += r.numPassedTests
  failed += r.numFailedTests + (r.numRuntimeErrorTestSuites || 0)
  skipped += r.numPendingTests
  if (r.numTotalTests === 0) failed += 1 // a run that ran nothing is a failure
}
for (const name of readdirSync(dir)
  .filter((f) => f.endsWith('.checks.json'))
  .sort()) {
  const r = JSON.parse(readFileSync(join(dir, name), 'utf8'))
  console.log(`${r.name}: ${r.passed} passed, ${r.failed} failed, ${r.skipped || 0} skipped`)
  passed += r.passed
  failed += r.failed
  skipped += r.skipped || 0
}
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`)
process.exit(failed > 0 ? 1 : 0)
