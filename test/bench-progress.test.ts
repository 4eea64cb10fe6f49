// bench/handoff.js reports progress as plain lines when standard error is not a terminal (a CI log, a
// file): no carriage returns that would run every update together into one line.
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { ROOT } from './helpers'

test('bench/handoff.js into a pipe: one plain progress line per size, no carriage return', () => {
  const r = spawnSync(process.execPath, [join(ROOT, 'bench', 'handoff.js'), '--quick', '--only', 'pipe', '--rounds', '1'], {
    cwd: ROOT,
    encoding: 'utf8',
    maxBuffer: 16 << 20,
  })
  expect({ status: r.status, stderr: r.status === 0 ? '' : r.stderr }).toEqual({ status: 0, stderr: '' })
  expect(r.stderr).not.toContain('\r')
  expect(r.stderr.trimEnd().split('\n')).toEqual([
    'handoff: 1 MiB: 2 warm-up + 1 timed rounds of pipe',
    'handoff: 64 MiB: 2 warm-up + 1 timed rounds of pipe',
    'handoff: 256 MiB: 2 warm-up + 1 timed rounds of pipe',
  ])
  expect(r.stdout).toMatch(/^\| 256 MiB \| pipe \| /m)
}, 60_000)
