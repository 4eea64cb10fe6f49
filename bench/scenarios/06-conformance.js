'use strict'
// Scenario 6: the conformance suite (`memseal check --json`): wall time of the whole run and the time of
// each clause (durationMs in the report). It has no C counterpart; the runner reports it on its own.
const { existsSync } = require('node:fs')
const { join } = require('node:path')
const { spawnSync } = require('node:child_process')

const CLI = join(__dirname, '..', '..', 'dist', 'cli.js')

module.exports = {
  id: 'conformance',
  title: 'conformance suite (memseal check --json)',
  suite: true,
  runs: 3,
  /** null when the CLI has not been built yet (the runner prints "not available yet"). */
  available() {
    return existsSync(CLI) ? null : 'dist/cli.js is not built (npm run build)'
  },
  /** One run: wall time in ms and the parsed JSON report (or the reason it could not be read). */
  run() {
    const t0 = process.hrtime.bigint()
    const r = spawnSync(process.execPath, [CLI, 'check', '--json'], { encoding: 'utf8', maxBuffer: 64 << 20, timeout: 60000 })
    const wallMs = Number(process.hrtime.bigint() - t0) / 1e6
    if (r.error) return { wallMs, error: r.error.message }
    try {
      return { wallMs, report: JSON.parse(r.stdout) }
    } catch {
      const said = (r.stderr || r.stdout || '').trim().split('\n').slice(-3).join(' | ')
      return { wallMs, error: `exit ${r.status}${r.signal ? ` (${r.signal})` : ''}, no JSON report: ${said}` }
    }
  },
}
