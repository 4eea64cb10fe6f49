// A short property-based fuzzing run of the whole public API (npm run fuzz runs 100,000 calls). It runs
// in a child process because the call sequences include mseal.
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { ROOT, SLOW } from './helpers'

// The calls include windows of mappings over 4 GiB, ranges past the end of a file, resizes under live views,
// descriptors closed behind memseal's back and reused, reads through every readable view (a SIGBUS or
// SIGSEGV would end the run with that signal), and 10 worker threads running the same sequences,
// terminated at random moments.
test(
  '5,000 random calls and 10 terminated workers: every outcome a success or a typed error, nothing leaked, no signal',
  () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'fuzz.js'), '--calls', '5000', '--workers', '10'], {
      encoding: 'utf8',
      timeout: 180_000 * SLOW,
    })
    expect({ status: r.status, signal: r.signal, stderr: r.stderr }).toEqual({ status: 0, signal: null, stderr: '' })
    const summary = JSON.parse(r.stdout.trim().split('\n').pop()!) as {
      calls: number
      unexpected: number
      fdLeak: number
      liveMappings: number
      sealedLeft: number
      workersTerminated: number
    }
    expect(summary.calls).toBeGreaterThanOrEqual(5000)
    expect(summary.unexpected).toBe(0)
    expect(summary.fdLeak).toBe(0)
    expect(summary.liveMappings).toBe(summary.sealedLeft)
    expect(summary.workersTerminated).toBe(10)
  },
  180_000 * SLOW,
)
