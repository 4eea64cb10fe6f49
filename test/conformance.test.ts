// The conformance catalog as tests: one test per clause, run through the real runner (worker processes,
// never this jest worker). A clause fails its test when the kernel diverges from the documentation or the
// clause is broken; a skip is a visible test.skip whose title carries the reason. Below it, the runner's
// own behaviour on clauses made to fail in each way it must handle.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'
import { join } from 'node:path'
import type { FeatureProbe } from '../lib/kernel'
import type { Report } from '../lib/conformance/report'
import { check, kernelFacts, loadClauses, matchesPattern, selectClauses } from '../lib/conformance/runner'
import { skipReason } from '../lib/conformance/skip'
import { AREAS, type Clause, type ClauseResult, type KernelFacts } from '../lib/conformance/types'
import { validateRange } from '../lib/conformance/versions'

const FIXTURE_CLAUSES = join(__dirname, 'fixtures', 'runner-clauses.js')
const facts = kernelFacts()
const catalog = loadClauses()

/** Children of this process right now (from /proc: every thread's children list). */
function childPids(): number[] {
  return readdirSync('/proc/self/task').flatMap((tid) => {
    try {
      return readFileSync(`/proc/self/task/${tid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)
    } catch {
      return []
    }
  })
}

function openFds(): string[] {
  return readdirSync('/proc/self/fd').map((fd) => {
    try {
      return `${fd}:${readlinkSync(`/proc/self/fd/${fd}`)}`
    } catch {
      return `${fd}:gone`
    }
  })
}

function failure(r: ClauseResult): string {
  return [
    `${r.id}: ${r.status}`,
    `  statement: ${r.statement}`,
    `  expected:  ${r.expected ?? '—'}`,
    `  observed:  ${r.observed ?? '—'}`,
    ...(r.reason ? [`  reason:    ${r.reason}`] : []),
  ].join('\n')
}

describe('catalog', () => {
  test('has at least 150 clauses with unique ids that start with their area', () => {
    expect(catalog.length).toBeGreaterThanOrEqual(150)
    expect(new Set(catalog.map((c) => c.id)).size).toBe(catalog.length)
    for (const c of catalog) {
      expect(AREAS).toContain(c.area)
      expect(c.id.startsWith(`${c.area}.`)).toBe(true)
    }
  })

  test('every history range parses', () => {
    for (const c of catalog) for (const h of c.history ?? []) expect(() => validateRange(h.range)).not.toThrow()
  })
})

describe('conformance of this kernel', () => {
  let report: Report
  let fds: { before: string[]; after: string[] }
  beforeAll(async () => {
    const before = openFds()
    report = await check()
    fds = { before, after: openFds() }
  }, 120_000)

  for (const area of AREAS) {
    describe(area, () => {
      for (const clause of catalog.filter((c) => c.area === area)) {
        const reason = skipReason(clause, facts)
        if (reason !== null) {
          test.skip(`${clause.id} — skip: ${reason}`, () => undefined)
          continue
        }
        test(clause.id, () => {
          const r = report.results.find((x) => x.id === clause.id)!
          if (r.status === 'diverges' || r.status === 'broken') throw new Error(failure(r))
          expect(['pass', 'known']).toContain(r.status)
        })
      }
    })
  }

  test('every skip has a reason, and the run leaves no fd or process behind', () => {
    for (const r of report.results.filter((x) => x.status === 'skip')) expect(r.reason).toMatch(/\S/)
    expect(report.summary.total).toBe(catalog.length)
    expect(childPids()).toEqual([])
    expect(fds.after).toEqual(fds.before)
  })
})

describe('runner', () => {
  let report: Report
  const byId = (id: string): ClauseResult => report.results.find((r) => r.id === id)!
  beforeAll(async () => {
    report = await check({ clauseModule: FIXTURE_CLAUSES, timeoutMs: 1500 })
  }, 60_000)

  // A deliberately wrong expectation is a divergence, with expected and observed side by side.
  test('wrong expectation → diverges with expected and observed', () => {
    expect(byId('memfd.fixture.pass')).toMatchObject({ status: 'pass', expected: 'errno=EINVAL', observed: 'errno=EINVAL' })
    expect(byId('memfd.fixture.wrong-expectation')).toMatchObject({ status: 'diverges', expected: 'ret=0', observed: 'errno=EINVAL' })
  })

  // A recorded behaviour explains the same mismatch: known, with its reference, and in the divergences.
  test('recorded history → known, listed with both texts', () => {
    expect(byId('memfd.fixture.known')).toMatchObject({ status: 'known', known: { behaviour: 'fixture: recorded behaviour', ref: 'fixture ref' } })
    expect(report.divergences).toEqual([
      expect.objectContaining({
        id: 'memfd.fixture.known',
        doc: 'fixture: what the documentation says',
        kernel: 'fixture: what the kernel does',
        observed: 'errno=EINVAL',
      }),
    ])
  })

  // A worker killed by a fault has shown the clause's observation; the run continues with a new worker.
  test('a segfault in the worker is the observation, and the run goes on', () => {
    expect(byId('mmap.fixture.segfault')).toMatchObject({ status: 'pass', observed: 'signal=SIGSEGV' })
    expect(byId('mmap.fixture.after-segfault').status).toBe('pass')
    expect(byId('mmap.fixture.exit')).toMatchObject({ status: 'pass', observed: 'exit=7' })
  })

  // Setup failures and other exceptions are broken, with the message; a hung clause times out.
  test('SetupError, exceptions and time-outs → broken with the reason', () => {
    expect(byId('seal.fixture.setup-error')).toMatchObject({ status: 'broken', reason: 'setup failed: fixture setup failed: EBADF' })
    expect(byId('seal.fixture.throws')).toMatchObject({ status: 'broken', reason: 'RangeError: fixture exception' })
    expect(byId('seal.fixture.hangs')).toMatchObject({ status: 'broken', reason: expect.stringContaining('timed out after 1.5 s') })
    expect(byId('seal.fixture.async').status).toBe('pass')
  })

  // Unmet needs are skips with a reason and are never run.
  test('an unmet need → skip with a reason', () => {
    const [skipped, ran] = facts.environment.root
      ? ['noexec.fixture.needs-non-root', 'noexec.fixture.needs-root']
      : ['noexec.fixture.needs-root', 'noexec.fixture.needs-non-root']
    expect(byId(skipped)).toMatchObject({ status: 'skip', reason: expect.stringMatching(/root/), observed: null, durationMs: 0 })
    expect(byId(ran).status).toBe('pass')
  })

  // One clause's sealed memory does not reach the next clause's fresh region (no merge across clauses).
  test('sealed remains of one clause do not touch the next', async () => {
    if (!facts.features.mseal) return expect(byId('mseal.fixture.fresh-region-alone').reason).toMatch(/mseal/)
    const serial = await check({ clauseModule: FIXTURE_CLAUSES, only: ['mseal.fixture.*'], workers: 1 })
    expect(serial.results.map((r) => [r.id, r.status, r.observed])).toEqual([
      ['mseal.fixture.seal-and-leave', 'pass', 'ret=0'],
      ['mseal.fixture.fresh-region-alone', 'pass', 'ret=0 span=[0,2]'],
    ])
  })

  test('summary counts every status', () => {
    const s = report.summary
    expect(s.total).toBe(report.results.length)
    expect(s.pass + s.diverges + s.known + s.skip + s.broken).toBe(s.total)
    expect(s.diverges).toBe(1)
    expect(s.broken).toBe(3)
  })
})

describe('skip reasons', () => {
  const clause = (needs: Clause['needs']): Clause => ({
    id: 'mseal.x',
    area: 'mseal',
    quote: { doc: 'd', version: 'v', text: 's' },
    since: '6.10',
    needs,
    expect: {},
    run: () => ({}),
  })
  const withProbe = (probe: FeatureProbe, env: Partial<KernelFacts['environment']> = {}): KernelFacts => ({
    ...facts,
    features: { ...facts.features, mseal: probe.ok, probes: { ...facts.features.probes, mseal: probe } },
    environment: { ...facts.environment, ...env },
  })

  test('a feature the kernel lacks names the version that brought it', () => {
    const f = withProbe({
      ok: false,
      state: 'absent',
      since: '6.10',
      errno: 'ENOSYS',
      reason: 'not supported by this kernel (probe: ENOSYS); it arrived in Linux 6.10; this kernel is 6.1.0',
    })
    expect(skipReason(clause(['mseal']), f)).toMatch(/6\.10/)
  })

  test('a seccomp block says so and how to lift it', () => {
    const probe: FeatureProbe = {
      ok: false,
      state: 'blocked',
      since: '6.10',
      errno: 'ENOSYS',
      blockedBy: 'seccomp',
      reason: 'blocked by a seccomp filter: the probe got ENOSYS',
    }
    expect(skipReason(clause(['mseal']), withProbe(probe, { seccomp: 2, container: 'docker' }))).toMatch(/seccomp.*--security-opt seccomp=unconfined/)
    expect(skipReason(clause(['mseal']), withProbe(probe, { seccomp: 2, container: null }))).toMatch(/seccomp filter/)
  })

  test('feature needs come first, so a seccomp block is the reason whatever else is missing', () => {
    const probe: FeatureProbe = { ok: false, state: 'blocked', since: '6.10', errno: 'ENOSYS', blockedBy: 'seccomp', reason: 'blocked by a seccomp filter' }
    expect(skipReason(clause(['hugetlbPool', 'mseal']), withProbe(probe, { hugetlbPools: [] }))).toMatch(/seccomp/)
  })

  test('an empty hugetlb pool names nr_hugepages and how to reserve pages', () => {
    const f = withProbe(facts.features.probes.mseal, { hugetlbPools: [{ pageSize: 2 << 20, total: 0, free: 0 }] })
    expect(skipReason(clause(['hugetlbPool']), f)).toMatch(/nr_hugepages=0 .*2 MiB.*vm\.nr_hugepages/)
  })

  test('root, non-root and x86-64', () => {
    expect(skipReason(clause(['root']), { ...facts, environment: { ...facts.environment, root: false } })).toMatch(/needs root/)
    expect(skipReason(clause(['nonRoot']), { ...facts, environment: { ...facts.environment, root: true } })).toMatch(/non-root/)
    expect(skipReason(clause(['x86_64']), { ...facts, machine: 'aarch64' })).toMatch(/aarch64/)
    expect(skipReason(clause([]), facts)).toBeNull()
  })
})

describe('--only patterns', () => {
  test.each`
    id                     | pattern         | match
    ${'seal.write.pwrite'} | ${'seal.*'}     | ${true}
    ${'seal.write.pwrite'} | ${'seal'}       | ${true}
    ${'seal.write.pwrite'} | ${'seal.write'} | ${true}
    ${'seal.write.pwrite'} | ${'*.pwrite'}   | ${true}
    ${'seal.write.pwrite'} | ${'seal.wr'}    | ${false}
    ${'sealx.a'}           | ${'seal'}       | ${false}
    ${'mseal.a'}           | ${'seal.*'}     | ${false}
  `('$pattern matches $id: $match', ({ id, pattern, match }: { id: string; pattern: string; match: boolean }) => {
    expect(matchesPattern(id, pattern)).toBe(match)
  })

  test('comma lists and repeats select the union', () => {
    const ids = selectClauses(catalog, ['memfd.*,seal.*', 'mmap.*']).map((c) => c.area)
    expect(new Set(ids)).toEqual(new Set(['memfd', 'seal', 'mmap'].filter((a) => catalog.some((c) => c.area === a))))
  })
})
