/**
 * What the garbage collector gives back, and when. Node runs finalizers on the event loop after the
 * collection (ArrayBuffer finalizers always; others in every Node-API version memseal builds for), so
 * memseal also reclaims, before each new mapping or memfd, what a collection has taken: a loop that never
 * yields stays bounded. All in child processes run with --expose-gc (mseal included).
 */
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { kernel } from '../lib'
import { FIXTURES, fixtureJson, ROOT, SLOW } from './helpers'

const { mseal: msealOk, probes } = kernel.features()

interface Kind {
  error: string | null
  peakMappings: number
  peakFds: number
  ms: number
}

// 70,000 of each (more than vm.max_map_count's default 65,530) dropped in one synchronous loop: every one
// succeeds, and what is live at once stays below memseal's budget (half of vm.max_map_count) and far below
// the count made. An old build ran out of mappings (ENOMEM, or V8 dying for want of its own) or of
// descriptors (EMFILE).
test(
  'a loop that drops 70,000 mappings or memfds and never yields: no error, the peaks bounded',
  () => {
    const run = spawnSync(process.execPath, [join(FIXTURES, 'drop-loop.js'), '70000'], {
      encoding: 'utf8',
      env: { ...process.env, MEMSEAL_ROOT: ROOT },
      timeout: 300_000 * SLOW,
    })
    expect({ status: run.status, signal: run.signal, stderr: run.stderr }).toEqual({ status: 0, signal: null, stderr: '' })
    const r = JSON.parse(run.stdout) as { n: number; budget: number } & Record<'anon' | 'anon-buffer' | 'memfd' | 'memfd-buffer' | 'memfd-only', Kind>
    for (const kind of ['anon', 'anon-buffer', 'memfd', 'memfd-buffer', 'memfd-only'] as const) {
      expect({ kind, error: r[kind].error }).toEqual({ kind, error: null })
      expect(r[kind].peakMappings).toBeLessThan(r.budget)
      expect(r[kind].peakFds).toBeLessThan(r.n / 4)
    }
  },
  300_000 * SLOW,
)

// A Memfd dropped without close() is closed by the garbage collector, as fs.FileHandle is; a number closed
// behind its back and reused by another file is left to that file.
test('dropped Memfds: their descriptors are closed after collection, a reused number is left alone', () => {
  const r = fixtureJson<Record<string, unknown>>('gc-memfds', ['1000'], ['--expose-gc'])
  expect(r).toEqual({
    n: 1000,
    before: { memfds: 0, owned: 0 },
    peak: { memfds: 1000, owned: 1000 },
    after: { memfds: 0, owned: 0 },
    otherOpen: true,
  })
})

// A mapping sealed in part, dropped: the pages that are not sealed are unmapped at collection; the sealed
// one stays until exit, as mseal(2) says. The control, the same mapping not sealed, goes whole.
;(msealOk ? test : test.skip)(
  `a part-sealed mapping dropped: its unsealed pages are unmapped, the sealed one stays${msealOk ? '' : ` (skipped: ${probes.mseal.reason})`}`,
  () => {
    const r = fixtureJson('part-sealed', [], ['--expose-gc'])
    // VMA sizes in pages: seal(PAGE, PAGE) splits the 4-page mapping into 1 + 1 (sealed) + 2.
    expect(r).toEqual({ sealed: { mapped: [1, 1, 2], collected: [1] }, control: { mapped: [4], collected: [] } })
  },
)
