/**
 * KTAP output (`check --ktap`, `matrix --ktap`, `report merge --ktap`) held to the format by a strict
 * parser (helpers/ktap.ts), which is itself checked against the examples of ktap.rst and against
 * malformed input; then the suite's real report on this machine, and every status, in KTAP.
 */
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { formatKtap, formatMatrixKtap } from '../lib/conformance/reporters/ktap'
import { type GuestReport, type GuestResult, type KernelRun, type MatrixReport } from '../lib/matrix/types'
import { ROOT } from './helpers'
import { KtapError, leaves, parseKtap } from './helpers/ktap'

const CLI = join(ROOT, 'dist', 'cli.js')

/** Results as KTAP lists them: area by area in the catalogue's order, each area in report order. */
function byAreas<T extends { area: string }>(results: readonly T[]): T[] {
  const order = ['memfd', 'seal', 'mmap', 'noexec', 'mseal']
  const rank = (a: string): number => (order.includes(a) ? order.indexOf(a) : order.length)
  return [...results].sort((a, b) => rank(a.area) - rank(b.area) || (rank(a.area) === order.length ? a.area.localeCompare(b.area) : 0))
}

function memseal(args: string[]): { status: number | null; stdout: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 })
  return { status: r.status, stdout: r.stdout }
}

describe('the strict KTAP parser', () => {
  // The nested example of Documentation/dev-tools/ktap.rst, as printed there.
  test('accepts the specification’s example', () => {
    const example = [
      'KTAP version 1',
      '1..1',
      '  KTAP version 1',
      '  1..3',
      '    KTAP version 1',
      '    1..1',
      '    # test_1: initializing test_1',
      '    ok 1 test_1',
      '  ok 1 example_test_1',
      '    KTAP version 1',
      '    1..2',
      '    ok 1 test_1 # SKIP test_1 skipped',
      '    ok 2 test_2',
      '  ok 2 example_test_2',
      '    KTAP version 1',
      '    1..3',
      '    ok 1 test_1',
      '    # test_2: FAIL',
      '    not ok 2 test_2',
      '    ok 3 test_3 # SKIP test_3 skipped',
      '  not ok 3 example_test_3',
      'not ok 1 main_test',
      '',
    ].join('\n')
    const doc = parseKtap(example)
    expect(doc.tests[0]!.description).toBe('main_test')
    expect(doc.tests[0]!.ok).toBe(false)
    const all = leaves(doc)
    expect(all.map((l) => l.path.join('/'))).toEqual([
      'main_test/example_test_1/test_1',
      'main_test/example_test_2/test_1',
      'main_test/example_test_2/test_2',
      'main_test/example_test_3/test_1',
      'main_test/example_test_3/test_2',
      'main_test/example_test_3/test_3',
    ])
    expect(all[1]!.test).toMatchObject({ directive: 'SKIP', diagnostic: 'test_1 skipped' })
    expect(all[4]!.test.diagnostics).toEqual(['test_2: FAIL'])
  })

  // Each of these breaks one rule; the parser names the line.
  test.each`
    what                              | text
    ${'no version line'}              | ${'1..1\nok 1 a\n'}
    ${'TAP instead of KTAP'}          | ${'TAP version 14\n1..1\nok 1 a\n'}
    ${'no plan'}                      | ${'KTAP version 1\nok 1 a\n'}
    ${'fewer results than planned'}   | ${'KTAP version 1\n1..2\nok 1 a\n'}
    ${'a gap in the numbers'}         | ${'KTAP version 1\n1..2\nok 1 a\nok 3 b\n'}
    ${'# in a description'}           | ${'KTAP version 1\n1..1\nok 1 a#b\n'}
    ${'ERROR on an ok line'}          | ${'KTAP version 1\n1..1\nok 1 a # ERROR oops\n'}
    ${'parent ok, a subtest failed'}  | ${'KTAP version 1\n1..1\n  KTAP version 1\n  1..1\n  not ok 1 a\nok 1 p\n'}
    ${'a subtest without its parent'} | ${'KTAP version 1\n1..1\nok 1 p\n  KTAP version 1\n  1..1\n  ok 1 a\n'}
    ${'odd indentation'}              | ${'KTAP version 1\n1..1\n   ok 1 a\n'}
    ${'a tab'}                        | ${'KTAP version 1\n1..1\n\tok 1 a\n'}
    ${'an unknown line'}              | ${'KTAP version 1\n1..1\nok 1 a\nsomething else\n'}
    ${'no final newline'}             | ${'KTAP version 1\n1..1\nok 1 a'}
  `('rejects $what', ({ text }) => {
    expect(() => parseKtap(text)).toThrow(KtapError)
  })
})

const result = (id: string, status: GuestResult['status'], extra: Partial<GuestResult> = {}): GuestResult => ({
  id,
  area: id.split('.')[0]!,
  status,
  statement: `${id} statement`,
  expected: 'errno=EPERM',
  observed: status === 'pass' ? 'errno=EPERM' : 'ret=0',
  reason: null,
  ...extra,
})

function fixture(): GuestReport {
  return {
    tool: { name: 'memseal', version: '9.9.9' },
    kernel: { release: '6.1.0-56-amd64', machine: 'x86_64' },
    results: [
      result('memfd.a', 'pass'),
      result('memfd.b', 'skip', { reason: 'needs root # really' }),
      result('seal.c', 'known', { known: { behaviour: 'older kernels say EINVAL', ref: 'commit 1234' } }),
      result('seal.d', 'diverges'),
      result('mmap.e', 'broken', { reason: 'the clause timed out after 10 s' }),
      result('mseal.f', 'skip', { reason: 'mseal: not supported\nby this kernel' }),
      result('mseal.g', 'broken', { reason: 'setup failed: EMFILE' }),
    ],
  }
}

describe('memseal’s KTAP', () => {
  // One subtest per area; each status has its KTAP form; the totals are kselftest's.
  test('every status', () => {
    const doc = parseKtap(formatKtap(fixture()))
    expect(doc.header[0]).toContain('memseal 9.9.9: conformance of Linux 6.1.0-56-amd64 (x86_64)')
    expect(doc.tests.map((t) => [t.description, t.ok])).toEqual([
      ['memfd', true],
      ['seal', false],
      ['mmap', false],
      ['mseal', false],
    ])
    expect(doc.tests[1]!.subtests!.header).toEqual(['Subtest: seal'])
    const byId = new Map(leaves(doc).map((l) => [l.test.description, l.test]))
    expect(byId.get('memfd.a')).toMatchObject({ ok: true, directive: null })
    expect(byId.get('memfd.b')).toMatchObject({ ok: true, directive: 'SKIP', diagnostic: 'needs root # really' })
    expect(byId.get('seal.c')).toMatchObject({ ok: true, directive: 'XFAIL', diagnostic: 'known: older kernels say EINVAL (commit 1234)' })
    expect(byId.get('seal.d')).toMatchObject({ ok: false, directive: null })
    expect(byId.get('seal.d')!.diagnostics).toEqual(['seal.d: expected: errno=EPERM', 'seal.d: observed: ret=0'])
    expect(byId.get('mmap.e')).toMatchObject({ ok: false, directive: 'TIMEOUT', diagnostic: 'the clause timed out after 10 s' })
    expect(byId.get('mseal.f')).toMatchObject({ ok: true, directive: 'SKIP', diagnostic: 'mseal: not supported by this kernel' })
    expect(byId.get('mseal.g')).toMatchObject({ ok: false, directive: 'ERROR', diagnostic: 'setup failed: EMFILE' })
    expect(doc.trailer).toEqual(['Totals: pass:1 fail:1 xfail:1 xpass:0 skip:2 error:2'])
  })

  // --strict: a known result is a plain failure, not an expected one.
  test('strict', () => {
    const byId = new Map(leaves(parseKtap(formatKtap(fixture(), { strict: true }))).map((l) => [l.test.description, l.test]))
    expect(byId.get('seal.c')).toMatchObject({ ok: false, directive: null })
    expect(byId.get('seal.c')!.diagnostics).toContain('seal.c: known: older kernels say EINVAL (commit 1234)')
  })

  // An area whose clauses all skipped is itself a skip.
  test('an area of skips', () => {
    const r = fixture()
    r.results = [result('mseal.x', 'skip', { reason: 'absent' }), result('mseal.y', 'skip', { reason: 'absent' })]
    expect(parseKtap(formatKtap(r)).tests[0]).toMatchObject({ ok: true, directive: 'SKIP', diagnostic: 'all 2 clauses skipped' })
  })

  // The matrix: a test per kernel, areas below it; a kernel without a report is an ERROR with its console.
  test('matrix', () => {
    const ok: KernelRun = {
      spec: '6.1',
      label: '6.1',
      status: 'ok',
      release: '6.1.0-56-amd64',
      version: [6, 1, 0],
      accel: 'tcg',
      packages: [],
      timing: { fetchMs: 0, prepareMs: 0, bootMs: 1, runMs: 1, totalMs: 2 },
      error: null,
      consoleTail: null,
      environment: null,
      report: { ...fixture(), results: fixture().results.filter((r) => r.status === 'pass' || r.status === 'skip') },
    }
    const failed: KernelRun = {
      ...ok,
      spec: '5.10',
      label: 'vmlinuz#2',
      status: 'boot-failed',
      release: null,
      error: 'the guest never reached /init',
      consoleTail: 'line one\nKernel panic',
      report: null,
    }
    const m: MatrixReport = {
      tool: { name: 'memseal', command: 'matrix' },
      createdAt: '',
      host: { release: 'h', machine: 'x86_64' },
      accel: { requested: 'tcg', used: 'tcg', reason: '' },
      durationMs: 0,
      kernels: [ok, failed],
      clauses: [],
    }
    const doc = parseKtap(formatMatrixKtap(m))
    expect(doc.tests.map((t) => [t.description, t.ok, t.directive])).toEqual([
      ['6.1 (6.1.0-56-amd64)', true, null],
      ['vmlinuzno.2', false, 'ERROR'],
    ])
    expect(doc.tests[0]!.subtests!.header).toEqual(['Subtest: 6.1 (6.1.0-56-amd64)'])
    expect(doc.tests[0]!.subtests!.tests.map((t) => t.description)).toEqual(['memfd', 'mseal'])
    expect(doc.tests[1]!.diagnostic).toBe('boot-failed: the guest never reached /init')
    expect(doc.tests[1]!.diagnostics).toEqual(['vmlinuzno.2: line one', 'vmlinuzno.2: Kernel panic'])
  })

  // The real suite on this machine: `check --ktap` parses strictly and says what `check --json` says.
  test('check --ktap on this machine agrees with check --json', () => {
    const json = memseal(['check', '--json', '--only', 'seal.*,mseal.*'])
    const ktap = memseal(['check', '--ktap', '--only', 'seal.*,mseal.*'])
    expect(ktap.status).toBe(json.status)
    const report = JSON.parse(json.stdout) as GuestReport
    const doc = parseKtap(ktap.stdout)
    const got = leaves(doc).map((l) => [l.path[0], l.test.description, l.test.ok, l.test.directive])
    const want = byAreas(report.results).map((r) => [
      r.area,
      r.id,
      r.status !== 'diverges' && r.status !== 'broken',
      { pass: null, skip: 'SKIP', known: 'XFAIL', diverges: null, broken: /timed? ?out|time limit/i.test(r.reason ?? '') ? 'TIMEOUT' : 'ERROR' }[r.status],
    ])
    expect(got).toEqual(want)
    expect(doc.tests.map((t) => t.description)).toEqual([...new Set(byAreas(report.results).map((r) => r.area))])
  }, 120_000)
})

// A real matrix report when one is named (scripts/matrix-ci.sh): its KTAP parses strictly, with one
// test per kernel and, below each, the kernel's results in the JSON's order.
const realMatrix = process.env.MEMSEAL_REAL_MATRIX
;(realMatrix ? test : test.skip)(`a real matrix report's KTAP${realMatrix ? '' : ' (skipped: MEMSEAL_REAL_MATRIX names none)'}`, () => {
  const json = memseal(['report', 'merge', realMatrix!, '--json', '-'])
  const ktap = memseal(['report', 'merge', realMatrix!, '--ktap', '-'])
  const m = JSON.parse(json.stdout) as MatrixReport
  const doc = parseKtap(ktap.stdout)
  expect(doc.tests.length).toBe(m.kernels.length)
  m.kernels.forEach((k, i) => {
    const t = doc.tests[i]!
    expect(t.ok).toBe(k.status === 'ok' && !k.report!.results.some((r) => r.status === 'diverges' || r.status === 'broken'))
    if (!k.report) return
    expect(leaves(t.subtests!).map((l) => l.test.description)).toEqual(byAreas(k.report.results).map((r) => r.id))
  })
})
