// Reliability: leak soak, worker threads, fault-probe hygiene and fd ownership. The heavy parts run in
// child processes (they need --expose-gc, threads, or strace), with their figures checked here.
import { execFileSync, spawnSync } from 'node:child_process'
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Memfd } from '../lib'
import { native } from '../lib/native'
import { fixtureJson, FIXTURES, ROOT, SLOW } from './helpers'

interface Snapshot {
  fds: number
  maps: number
  small: number
  onePage: number
  memfdMaps: number
  live: number
  liveAll: number
  pending: number
  rss: number
}

// 100,000 create → write → map → seal → unmap → close cycles, 100,000 mappings dropped to the garbage
// collector, then the library's limits over and over (windows of mappings over 4 GiB, ranges past EOF and
// resizes under views refused, reused descriptors refused, 100,000 mappings dropped in a loop that never
// yields, twice, worker threads terminated mid-work): after every phase fds, mappings and finalizer
// bookkeeping are back to their start, and RSS grows by less than 10 MB.
test(
  'leak soak: 100,000 cycles, 100,000 dropped mappings, the library limits',
  () => {
    const r = spawnSync(process.execPath, ['--expose-gc', join(ROOT, 'scripts', 'soak.js'), '100000'], { encoding: 'utf8', timeout: 300_000 * SLOW })
    expect({ status: r.status, signal: r.signal }).toEqual({ status: 0, signal: null })
    const out = JSON.parse(r.stdout) as {
      checksumOk: boolean
      start: Snapshot
      after: Record<string, Snapshot>
      counts: Record<string, number>
      rssGrowthBytes: number
      rssDropSyncRepeatGrowth: number
    }
    expect(out.checksumOk).toBe(true)
    expect(Object.keys(out.after)).toEqual(['cycles', 'drop', 'large', 'pastEof', 'reuse', 'dropSync', 'workers'])
    for (const [phase, s] of Object.entries(out.after)) {
      // `onePage` counts accessible one-page VMAs (every mapping of the soak is one); the total also moves
      // with V8's own heap regions and threads
      expect({ phase, fds: s.fds, onePage: s.onePage, live: s.live, liveAll: s.liveAll, pending: s.pending, memfdMaps: s.memfdMaps }).toEqual({
        phase,
        fds: out.start.fds,
        onePage: out.start.onePage,
        live: out.start.live,
        liveAll: out.start.liveAll,
        pending: out.start.pending,
        memfdMaps: 0,
      })
    }
    expect(out.counts).toMatchObject({ large: 50, pastEofRefused: 3000, reuseRefused: 1000, workers: 20 })
    // AddressSanitizer keeps freed memory in a 256 MiB quarantine on purpose: RSS says nothing there. A loop
    // that never yields raises malloc's high-water mark once (the bookkeeping of 100,000 objects whose
    // finalizers wait for the event loop); a second such loop must not raise it again.
    if (!process.env.MEMSEAL_SANITIZER) {
      expect(out.rssGrowthBytes).toBeLessThan(10 * 1024 * 1024)
      expect(out.rssDropSyncRepeatGrowth).toBeLessThan(10 * 1024 * 1024)
    }
  },
  300_000 * SLOW,
)

// The addon is context-aware: 100 worker threads create and map memfds at once; the main thread's data
// is untouched; mappings a worker leaves are released by the environment cleanup hook when it exits.
test(
  '100 worker threads: no corruption, worker mappings released at exit',
  () => {
    const r = fixtureJson<{
      workers: number
      allOk: boolean
      mainIntact: boolean
      workerLiveAtReport: number
      peakWorkerMaps: number
      workerMapsAfterExit: number
      mainLive: number
    }>('workers', ['100'])
    expect(r.workers).toBe(100)
    expect(r.allOk).toBe(true)
    expect(r.mainIntact).toBe(true)
    expect(r.workerLiveAtReport).toBeGreaterThan(0) // workers did leave mappings for teardown
    expect(r.peakWorkerMaps).toBeGreaterThan(0)
    expect(r.workerMapsAfterExit).toBe(0)
    expect(r.mainLive).toBe(1)
  },
  120_000 * SLOW,
)

// 10,000 probes leave no zombie, no fd, and the outcomes are what the pages say.
test(
  '10,000 fault probes: no zombies, no fds',
  () => {
    const r = fixtureJson<{ n: number; before: { fds: number; children: number }; after: { fds: number; children: number }; tally: Record<string, number> }>(
      'probes',
      ['10000'],
    )
    expect(r.after).toEqual(r.before)
    expect(r.after.children).toBe(0)
    expect(r.tally).toEqual({ SIGSEGV: 3334, SIGBUS: 3333, ok: 3333 })
  },
  120_000 * SLOW,
)

// The forked probe child never runs JavaScript: under strace, the forked processes make only the calls of
// fork's own bookkeeping (glibc, libuv's atfork signal pipe), the probe's setup, the fault and _exit —
// no futex, epoll, mmap or read, which any JavaScript or event-loop activity would need.
const hasStrace = spawnSync('strace', ['-V']).status === 0
;(hasStrace ? test : test.skip)(
  `probe children make no call that running JavaScript would need${hasStrace ? '' : ' (skipped: strace is not installed; scripts/ci-deps.sh installs it)'}`,
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'memseal-strace-'))
    try {
      const log = join(dir, 'trace')
      execFileSync('strace', ['-f', '-qq', '-o', log, process.execPath, join(FIXTURES, 'probes.js'), '9'], { env: { ...process.env, MEMSEAL_ROOT: ROOT } })
      const byPid = new Map<string, string[]>()
      for (const line of readFileSync(log, 'utf8').split('\n').filter(Boolean)) {
        const m = /^(\d+)\s+(?:<\.\.\. )?([a-z_0-9]+|---|\+\+\+)/.exec(line)
        if (!m) continue
        byPid.set(m[1]!, [...(byPid.get(m[1]!) ?? []), m[2]!])
      }
      const main = [...byPid.keys()][0]
      const children = [...byPid.entries()].filter(([pid, calls]) => pid !== main && calls.includes('exit_group'))
      expect(children.length).toBe(9)
      const allowed = new Set([
        'set_robust_list',
        'rseq',
        'rt_sigprocmask',
        'pipe2',
        'write',
        'close',
        'prctl',
        'prlimit64',
        'setrlimit',
        'alarm',
        'rt_sigaction',
        'exit_group',
        '---',
        '+++',
      ])
      if (process.env.MEMSEAL_SANITIZER) allowed.add('sigaltstack') // the sanitizer runtime's own, at fork
      for (const [, calls] of children) expect(calls.filter((c) => !allowed.has(c))).toEqual([])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  },
  120_000 * SLOW,
)

describe('fd ownership', () => {
  // close() twice is a no-op the second time.
  test('close twice', () => {
    const m = Memfd.create('twice')
    const fd = m.fd
    m.close()
    m.close()
    expect(m.closed).toBe(true)
    expect(native.fcntl(fd, native.constants.F_GETFD)).toBe(-9) // EBADF: closed once, nothing else
  })

  // If the fd was closed behind memseal's back and the number reused by someone else, close() leaves
  // that other file alone.
  test('close after the fd number was reused never closes the new owner', () => {
    const m = Memfd.create('reused')
    const fd = m.fd
    closeSync(fd) // someone else closes it …
    const other = openSync('/dev/null', 'r') // … and the number is reused
    try {
      expect(other).toBe(fd)
      m.close()
      expect(native.fcntl(other, native.constants.F_GETFD)).toBeGreaterThanOrEqual(0) // still open
    } finally {
      closeSync(other)
    }
  })

  // Every method of a closed Memfd throws ERR_MEMSEAL_CLOSED (the full table is in validation.test.ts).
  test('methods after close throw ERR_MEMSEAL_CLOSED', () => {
    const m = Memfd.create('closed')
    m.close()
    expect(() => m.sealBits).toThrow(expect.objectContaining({ code: 'ERR_MEMSEAL_CLOSED' }))
  })
})
