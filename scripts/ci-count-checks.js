'use strict'
// Turns a check script's log ("ok  …" / "FAIL …" lines) and exit status into a *.checks.json for
// ci-summary.js. A failing script that printed no FAIL line still counts as one failure, a passing one
// that printed no "ok" line as one check passed.
// Usage: node scripts/ci-count-checks.js NAME LOG STATUS OUT.json
const { readFileSync, writeFileSync } = require('node:fs')
const [name, log, status, out] = process.argv.slice(2)
let text = ''
try {
  text = readFileSync(log, 'utf8')
} catch {
  text = ''
}
const passed = (text.match(/^ok {2}/gm) || []).length
let failed = (text.match(/^FAIL /gm) || []).length
if (Number(status) !== 0 && failed === 0) failed = 1
const ok = Number(status) === 0 && failed === 0
const counted = ok && passed === 0 ? 1 : passed // a passing script without per-check lines is one check
writeFileSync(out, JSON.stringify({ name, passed: counted, failed, skipped: 0 }))
