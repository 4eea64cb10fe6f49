// A short property-based fuzzing run of the whole public API (npm run fuzz runs 100,000 calls). It runs
// in a child process because the call sequences include mseal.
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { ROOT } from './helpers'

test('5,000 random calls: every outcome a success or a typed error, nothing leaked, no signal', () => {
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'fuzz.js'), '--calls', '5000'], { encoding: 'utf8', timeout: 120_000 })
  expect({ status: r.status, signal: r.signal, stderr: r.stderr }).toEqual({ status: 0, signal: null, stderr: '' })
  const summary = JSON.parse(r.stdout.trim().split('\n').pop()!) as {
    calls: number
    unexpected: number
    fdLeak: number
    liveMappings: number
    sealedLeft: number
  }
  expect(summary.calls).toBeGreaterThanOrEqual(5000)
  expect(summary.unexpected).toBe(0)
  expect(summary.fdLeak).toBe(0)
  expect(summary.liveMappings).toBe(summary.sealedLeft)
})
