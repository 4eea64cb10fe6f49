/**
 * What the matrix says and how: the analysis (behaviour differences apart from absent features and
 * environment skips, the verdict), the terminal report, and `memseal report merge` of matrix and check
 * reports into one, through the real command line.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { earlyCrash } from '../lib/matrix/machine'
import { absenceOf, analyse, envValue } from '../lib/matrix/model'
import { splitInput } from '../lib/matrix/merge'
import { renderTerminal } from '../lib/matrix/terminal'
import { type GuestReport, type GuestResult, type KernelRun, type MatrixReport } from '../lib/matrix/types'
import { ROOT } from './helpers'

const CLI = join(ROOT, 'dist', 'cli.js')
let work: string
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'memseal-matrix-report-'))
})
afterAll(() => rmSync(work, { recursive: true, force: true }))

function memseal(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: work, encoding: 'utf8', maxBuffer: 64 << 20 })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

const r = (id: string, status: GuestResult['status'], observed: string | null = 'ret=0', reason: string | null = null): GuestResult => ({
  id,
  area: id.split('.')[0]!,
  status,
  statement: id,
  expected: 'ret=0',
  observed,
  reason,
})

function column(label: string, version: number[], results: GuestResult[] | null, extra: Partial<KernelRun> = {}): KernelRun {
  const report: GuestReport | null = results
    ? { tool: { name: 'memseal', version: '0' }, kernel: { release: `${version.join('.')}-amd64` }, environment: { seccomp: 0 }, results }
    : null
  return {
    spec: label,
    label,
    status: results ? 'ok' : 'boot-failed',
    release: results ? `${version.join('.')}-amd64` : null,
    version,
    accel: label === 'host' ? 'host' : 'tcg',
    packages: [],
    timing: { fetchMs: 0, prepareMs: 0, bootMs: 2000, runMs: 9000, totalMs: 11_000 },
    error: results ? null : 'the guest never reached /init',
    consoleTail: results ? null : 'Run /init as init process\nKernel panic - not syncing: Attempted to kill init!',
    environment: report?.environment ?? null,
    report,
    ...extra,
  }
}

const MSEAL_ABSENT = 'mseal: not supported by this kernel (probe: ENOSYS); it arrived in Linux 6.10; this kernel is 6.1.0-57-amd64'

function fixture(): MatrixReport {
  const kernels = [
    column('host', [6, 18, 44], [r('seal.a', 'pass'), r('seal.b', 'known', 'ret=4096'), r('mseal.c', 'pass'), r('mseal.d', 'pass'), r('memfd.h', 'pass')]),
    column(
      '6.1',
      [6, 1, 0],
      [
        r('seal.a', 'known', 'errno=EINVAL'),
        r('seal.b', 'known', 'ret=4096'),
        r('mseal.c', 'skip', null, MSEAL_ABSENT),
        r('mseal.d', 'skip', null, MSEAL_ABSENT.replace('6.1.0-57', '6.1.0-58')),
        r('memfd.h', 'skip', null, 'needs free huge pages in the default pool'),
      ],
    ),
    column('6.12', [6, 12, 0], [r('seal.a', 'pass'), r('seal.b', 'pass', 'errno=EPERM'), r('mseal.c', 'pass'), r('mseal.d', 'pass'), r('memfd.h', 'pass')]),
  ]
  return {
    tool: { name: 'memseal', command: 'matrix' },
    createdAt: '2026-01-01T00:00:00.000Z',
    host: { release: '6.18.44', machine: 'x86_64' },
    accel: { requested: 'auto', used: 'tcg', reason: 'KVM did not work (qemu: failed to set MSR 0x10a); TCG did' },
    durationMs: 30_000,
    kernels,
    clauses: ['seal.a', 'seal.b', 'mseal.c', 'mseal.d', 'memfd.h'],
  }
}

describe('analysis', () => {
  // Outcomes that differ between kernels that ran the clause are differences; skips are not.
  test('behaviour differences, absent features and environment skips are told apart', () => {
    const a = analyse(fixture())
    expect(a.behaviour.map((d) => [d.id, d.outcomes.map((o) => [o.status, o.kernels, o.observed])])).toEqual([
      [
        'seal.a',
        [
          ['pass', ['host', '6.12'], ['ret=0']],
          ['known', ['6.1'], ['errno=EINVAL']],
        ],
      ],
      [
        'seal.b',
        [
          ['known', ['host', '6.1'], ['ret=4096']],
          ['pass', ['6.12'], ['errno=EPERM']],
        ],
      ],
    ])
    // Two clauses, one feature: one group, whatever release each reason names.
    expect(a.absence).toEqual([{ feature: 'mseal', since: '6.10', kernels: ['6.1'], clauses: ['mseal.c', 'mseal.d'] }])
    expect(a.environment).toEqual([{ reason: 'needs free huge pages in the default pool', kernels: ['6.1'], clauses: ['memfd.h'] }])
    expect(a.verdict).toEqual({ passed: true, text: 'PASS: 3 kernels reported; nothing diverges or is broken' })
  })

  // A seccomp block is never an absence; `since` on the result counts when the reason names no version.
  test('absence needs a version or a probe, never seccomp', () => {
    const k = column('6.1', [6, 1, 0], [])
    expect(absenceOf(r('mseal.x', 'skip', null, 'mseal: blocked by seccomp: …'), k)).toBeNull()
    expect(absenceOf({ ...r('noexec.y', 'skip', null, 'needs something'), since: '6.3' }, k)).toEqual({ feature: 'noexec', since: '6.3' })
    expect(absenceOf({ ...r('noexec.y', 'skip', null, 'needs something'), since: '5.4' }, k)).toBeNull()
    expect(absenceOf(r('seal.z', 'pass'), k)).toBeNull()
  })

  // A kernel without a report, a divergence, a broken clause, and known under --strict fail the verdict.
  test('verdict', () => {
    const m = fixture()
    m.kernels.push(column('5.10', [5, 10, 0], null))
    expect(analyse(m).verdict).toEqual({ passed: false, text: 'FAIL: 1 of 4 kernels without a report (5.10: boot-failed)' })
    m.kernels.pop()
    expect(analyse(m, { strict: true }).verdict.text).toBe('FAIL: 3 known (--strict)')
    m.kernels[1]!.report!.results[0]!.status = 'diverges'
    m.kernels[2]!.report!.results[0]!.status = 'broken'
    expect(analyse(m).verdict.text).toBe('FAIL: 1 clause results diverge; 1 broken')
  })

  test('environment values read as words, not JSON', () => {
    expect(envValue({ inode: 'pid:[1]', depth: 0, initial: true })).toBe('inode pid:[1], depth 0, initial yes')
    expect(envValue([{ pageSize: 2097152, total: 64, free: 60 }])).toBe('2 MiB pages 60/64 free')
    expect(envValue(null)).toBe('–')
    expect(envValue([])).toBe('none')
  })
})

describe('terminal report', () => {
  test('totals, differences apart from absence, the failed kernel, the files, and the verdict last', () => {
    const m = fixture()
    m.kernels.push(column('5.10', [5, 10, 0], null))
    const out = renderTerminal(m, { wrote: [['m.json', 'JSON']] })
    const lines = out.trimEnd().split('\n')
    expect(lines[0]).toBe('memseal kernel matrix: 4 kernels, guests under TCG (KVM did not work (qemu: failed to set MSR 0x10a); TCG did), 30 s')
    expect(out).toMatch(/ {2}kernel +release +status +pass +diverges +known +skip +broken +boot +run +accel\n/)
    expect(out).toMatch(/ {2}6\.1 +6\.1\.0-amd64 +ok +0 +0 +2 +3 +0 +2\.0 s +9\.0 s +tcg\n/)
    expect(out).toMatch(/ {2}5\.10 +– +boot-failed +– +– +– +– +– +2\.0 s +9\.0 s +tcg\n/)
    expect(out).toContain(
      'Behaviour differences (2): clauses whose outcome differs between kernels that ran them\n  seal.a\n    pass   host and 6.12  observed ret=0\n',
    )
    expect(out).toContain('  mseal: 2 clauses skipped on 6.1, arrived in 6.10\n')
    expect(out).toContain('  1 clause on 6.1: needs free huge pages in the default pool\n')
    expect(out).toContain(
      '  5.10: boot-failed: the guest never reached /init\n    | Run /init as init process\n    | Kernel panic - not syncing: Attempted to kill init!\n',
    )
    expect(lines.slice(-2)).toEqual(['wrote m.json (JSON)', 'verdict: FAIL: 1 of 4 kernels without a report (5.10: boot-failed)'])
    // Nothing of the Markdown or the grid reaches the terminal.
    expect(out).not.toMatch(/^\|.*\|$|<details>|```/m)
  })
})

describe('memseal report merge', () => {
  test('LABEL=FILE, and a file whose name has = in it', () => {
    expect(splitInput('host=a.json', () => false)).toEqual({ label: 'host', file: 'a.json' })
    expect(splitInput('x=y.json', (p) => p === 'x=y.json')).toEqual({ label: null, file: 'x=y.json' })
    expect(splitInput('a.json', () => false)).toEqual({ label: null, file: 'a.json' })
  })

  // Per-kernel matrix files (one per CI job) and a check report from a real machine make one matrix.
  test('merges per-kernel matrix reports and a real check report', () => {
    const m = fixture()
    const one = (k: KernelRun): MatrixReport => ({ ...m, kernels: [k], clauses: k.report!.results.map((x) => x.id) })
    writeFileSync(join(work, 'kernel-6.1.json'), JSON.stringify(one(m.kernels[1]!)))
    writeFileSync(join(work, 'kernel-6.12.json'), JSON.stringify(one(m.kernels[2]!)))
    const check = memseal(['check', '--json', '--only', 'seal.*'])
    writeFileSync(join(work, 'runner.json'), check.stdout)
    const merged = memseal([
      'report',
      'merge',
      'kernel-6.1.json',
      'kernel-6.12.json',
      'runner.json',
      'ci=runner.json',
      '--json',
      'merged.json',
      '--markdown',
      'merged.md',
    ])
    expect(merged.stderr).toBe('')
    expect(merged.status).toBe(check.status === 0 ? 0 : 1)
    const json = JSON.parse(readFileSync(join(work, 'merged.json'), 'utf8')) as MatrixReport & { analysis: { verdict: { text: string } } }
    expect(json.tool.command).toBe('merge')
    expect(json.sources).toEqual(['kernel-6.1.json', 'kernel-6.12.json', 'runner.json', 'runner.json'])
    expect(json.kernels.map((k) => [k.label, k.source])).toEqual([
      ['6.1', 'kernel-6.1.json'],
      ['6.12', 'kernel-6.12.json'],
      ['runner', 'runner.json'],
      ['ci', 'runner.json'],
    ])
    const runnerReport = JSON.parse(check.stdout) as GuestReport
    expect(json.kernels[2]!.report!.results.length).toBe(runnerReport.results.length)
    expect(json.kernels[2]!.release).toBe(runnerReport.kernel.release)
    // The clause order is the union, in first-seen order.
    expect(json.clauses.slice(0, 5)).toEqual(['seal.a', 'seal.b', 'mseal.c', 'mseal.d', 'memfd.h'])
    expect(merged.stdout).toContain('memseal kernel matrix: 4 kernels, merged from 4 reports')
    expect(merged.stdout).toContain('wrote merged.json (JSON)\nwrote merged.md (Markdown)\nverdict: ')
    expect(merged.stdout.trimEnd().split('\n').pop()).toBe(`verdict: ${json.analysis.verdict.text}`)
  }, 60_000)

  // Two files with the same column name: each keeps the file's name beside it.
  test('the same label from two files', () => {
    const m = fixture()
    writeFileSync(join(work, 'a.json'), JSON.stringify({ ...m, kernels: [m.kernels[0]] }))
    writeFileSync(join(work, 'b.json'), JSON.stringify({ ...m, kernels: [m.kernels[0]] }))
    const merged = memseal(['report', 'merge', 'a.json', 'b.json', '--json', '-'])
    const json = JSON.parse(merged.stdout) as MatrixReport
    expect(json.kernels.map((k) => k.label)).toEqual(['host (a)', 'host (b)'])
    // With the JSON on stdout, the terminal report goes to stderr.
    expect(merged.stderr).toContain('verdict: PASS')
  })

  test.each`
    what                   | args                                       | message
    ${'no input'}          | ${['report', 'merge']}                     | ${/name at least one report/}
    ${'a missing file'}    | ${['report', 'merge', 'nope.json']}        | ${/cannot read nope\.json: ENOENT/}
    ${'not JSON'}          | ${['report', 'merge', 'bad.txt']}          | ${/bad\.txt is not JSON/}
    ${'not a report'}      | ${['report', 'merge', 'other.json']}       | ${/neither a matrix report nor a check report: the report has no kernel.release/}
    ${'an unknown option'} | ${['report', 'merge', '--frob', 'a.json']} | ${/unknown option "--frob"/}
    ${'no subcommand'}     | ${['report', 'split']}                     | ${/unknown subcommand "split"/}
  `('$what is a usage error (exit 2)', ({ args, message }) => {
    writeFileSync(join(work, 'bad.txt'), 'hello')
    writeFileSync(join(work, 'other.json'), '{"name":"x"}')
    const res = memseal(args)
    expect(res.status).toBe(2)
    expect(res.stderr).toMatch(message)
  })

  test('a kernel that booted on a second attempt says so, with the first crash; the verdict is still the run', () => {
    const m = fixture()
    m.kernels[1] = { ...m.kernels[1]!, bootRetry: 'Oops: int3: 0000 [#2] PREEMPT SMP NOPTI' }
    const out = renderTerminal(m, {})
    expect(out).toContain('Booted on a second attempt (the first crashed before /init, under emulation):\n  6.1: Oops: int3: 0000 [#2] PREEMPT SMP NOPTI\n')
    expect(renderTerminal(fixture(), {})).not.toContain('second attempt') // control: no retry, no line
  })
})

describe('an early crash on a guest console', () => {
  // The end of a real console of Debian's 6.12 under qemu TCG that died before /init.
  const console =
    '[    1.523654] Modules linked in:\n[    1.524020] RIP: 0010:sched_clock_cpu+0x9/0x1d0\n' +
    '[    1.524064] Oops: int3: 0000 [#2] PREEMPT SMP NOPTI\n[    1.524210] Kernel panic - not syncing: Fatal exception in interrupt\n'
  test('is the first crash line, without its timestamp', () => {
    expect(earlyCrash(console)).toBe('Oops: int3: 0000 [#2] PREEMPT SMP NOPTI')
    expect(earlyCrash('[    0.1] BUG: kernel NULL pointer dereference, address: 0000000000000000\n')).toBe(
      'BUG: kernel NULL pointer dereference, address: 0000000000000000',
    )
  })
  test('control: a console without a crash (a slow boot, a KVM error) is not one', () => {
    expect(earlyCrash('[    0.000000] Linux version 6.12.118\n[    2.1] Run /init as init process\n')).toBeNull()
    expect(earlyCrash('')).toBeNull()
    expect(earlyCrash('[    0.3] x86/cpu: CONFIG_DEBUG_BUGVERBOSE is set\n')).toBeNull()
  })
})
