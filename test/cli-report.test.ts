// The human report of memseal check: skips that share a reason are one group (the reason once, then its
// clauses), "Documentation vs kernel" says why a clause that passes is listed, and colours follow the
// terminal, FORCE_COLOR and NO_COLOR as Node and chalk read them.
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { useColor } from '../lib/cli/color'
import type { Report } from '../lib/conformance/report'
import { formatMarkdown } from '../lib/conformance/reporters/markdown'
import { formatText, PASS_LISTED } from '../lib/conformance/reporters/text'
import { ROOT } from './helpers'
import { buildFixture, type BuiltFixture } from './helpers/c-fixture'

const CLI = join(ROOT, 'dist', 'cli.js')
/** An SGR sequence (colour, bold): what colouring adds; the progress line's erase (ESC [K) is not one. */
const ESC = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`)

/** The environment without any colour setting of the test runner's own. */
function plainEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env }
  delete env.FORCE_COLOR
  delete env.NO_COLOR
  delete env.NODE_DISABLE_COLORS
  return { ...env, TERM: 'xterm', ...extra }
}

function memseal(args: string[], env: NodeJS.ProcessEnv, prefix: string[] = []): { status: number | null; stdout: string; stderr: string } {
  const [cmd, ...rest] = [...prefix, process.execPath, CLI, ...args]
  const r = spawnSync(cmd!, rest, { cwd: ROOT, encoding: 'utf8', env, maxBuffer: 64 << 20 })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

const FEW = ['check', '--only', 'memfd.hugetlb.*']

describe('colours', () => {
  test.each`
    env                                    | colour
    ${{}}                                  | ${false}
    ${{ FORCE_COLOR: '1' }}                | ${true}
    ${{ FORCE_COLOR: '' }}                 | ${true}
    ${{ FORCE_COLOR: '2' }}                | ${true}
    ${{ FORCE_COLOR: '3' }}                | ${true}
    ${{ FORCE_COLOR: 'true' }}             | ${true}
    ${{ FORCE_COLOR: '0' }}                | ${false}
    ${{ FORCE_COLOR: 'false' }}            | ${false}
    ${{ FORCE_COLOR: '1', NO_COLOR: '1' }} | ${false}
    ${{ FORCE_COLOR: '1', NO_COLOR: '' }}  | ${true}
  `('into a pipe with $env: colour $colour', ({ env, colour }: { env: Record<string, string>; colour: boolean }) => {
    const r = memseal(FEW, plainEnv(env))
    expect(r.stdout).toMatch(/# Totals:/)
    expect(ESC.test(r.stdout)).toBe(colour)
  })

  // A real terminal: script(1) runs the command on a pseudo-terminal and copies what it printed.
  test.each`
    env                                   | colour
    ${{}}                                 | ${true}
    ${{ NO_COLOR: '1' }}                  | ${false}
    ${{ NO_COLOR: '' }}                   | ${true}
    ${{ FORCE_COLOR: '0' }}               | ${false}
    ${{ TERM: 'dumb' }}                   | ${false}
    ${{ TERM: 'dumb', FORCE_COLOR: '1' }} | ${true}
  `('on a terminal with $env: colour $colour', ({ env, colour }: { env: Record<string, string>; colour: boolean }) => {
    const command = [process.execPath, CLI, ...FEW].map((w) => `'${w}'`).join(' ')
    const r = spawnSync('script', ['-qec', `${command} 2>/dev/null`, '/dev/null'], { cwd: ROOT, encoding: 'utf8', env: plainEnv(env) })
    expect(r.stdout).toMatch(/# Totals:/)
    expect(ESC.test(r.stdout)).toBe(colour)
  })

  test('useColor reads the environment as Node does', () => {
    const tty = { isTTY: true }
    const pipe = { isTTY: false }
    expect(useColor(pipe, {})).toBe(false)
    expect(useColor(tty, {})).toBe(true)
    expect(useColor(tty, { TERM: 'dumb' })).toBe(false)
    for (const on of ['', '1', '2', '3', 'true']) expect([on, useColor(pipe, { FORCE_COLOR: on })]).toEqual([on, true])
    for (const off of ['0', 'false']) expect([off, useColor(tty, { FORCE_COLOR: off })]).toEqual([off, false])
    expect(useColor(tty, { NO_COLOR: '1' })).toBe(false)
    expect(useColor(pipe, { NO_COLOR: 'yes', FORCE_COLOR: '3' })).toBe(false)
    expect(useColor(tty, { NO_COLOR: '' })).toBe(true) // an empty NO_COLOR does not count
  })
})

describe('skips that share a reason', () => {
  let base: Report
  beforeAll(() => {
    const r = memseal(['check', '--json', '--only', 'memfd.flags.*'], plainEnv())
    base = JSON.parse(r.stdout) as Report
  })

  /** The same report with some clauses skipped for the reasons given. */
  function withSkips(reasons: string[]): Report {
    const results = base.results.map((r, i) =>
      i < reasons.length ? { ...r, status: 'skip' as const, reason: reasons[i]!, expected: null, observed: null } : r,
    )
    return { ...base, results }
  }

  test('print the reason once, then the clauses it covers; a reason of its own stays on its line', () => {
    const long = `needs something this machine lacks: ${'a long explanation of how to get it. '.repeat(12)}`
    const report = withSkips([long, long, long, 'only mine'])
    const text = formatText(report)
    expect(text.split(long)).toHaveLength(2) // once
    const ids = report.results.slice(0, 4).map((r) => r.id)
    expect(text).toContain(
      `  SKIP     3 clauses — ${long}\n${ids
        .slice(0, 3)
        .map((id) => `            ${id}\n`)
        .join('')}`,
    )
    expect(text).toContain(`  SKIP     ${ids[3]} — only mine\n`)
    for (const r of report.results.slice(4)) expect(text).toContain(` ${r.id}`) // every other clause is still listed
  })

  test('with --verbose each clause of a group keeps its statement', () => {
    const report = withSkips(['same', 'same'])
    const text = formatText(report, { verbose: true })
    expect(text.split('— same')).toHaveLength(2)
    for (const r of report.results.slice(0, 2)) expect(text).toContain(`            ${r.id}\n              ${r.statement}\n`)
  })

  describe('under a seccomp filter that blocks mseal (the container case)', () => {
    let deny: BuiltFixture
    beforeAll(() => {
      deny = buildFixture('seccomp-fault')
    })
    afterAll(() => deny.remove())

    test('each reason appears once per area, followed by every clause it covers', () => {
      if (!deny.path) throw new Error(`cannot build the seccomp launcher: ${deny.reason}`)
      const json = JSON.parse(memseal(['check', '--json', '--only', 'mseal.*'], plainEnv(), [deny.path, 'mseal/ENOSYS', '--']).stdout) as Report
      const text = memseal(['check', '--only', 'mseal.*'], plainEnv(), [deny.path, 'mseal/ENOSYS', '--']).stdout
      const skipped = json.results.filter((r) => r.status === 'skip')
      expect(skipped.length).toBeGreaterThan(10)
      const byReason = new Map<string, string[]>()
      for (const r of skipped) byReason.set(r.reason!, [...(byReason.get(r.reason!) ?? []), r.id])
      expect(Math.max(...[...byReason.values()].map((ids) => ids.length))).toBeGreaterThan(10)
      for (const [reason, ids] of byReason) {
        expect(text.split(reason).length - 1).toBe(1)
        if (ids.length > 1) expect(text).toContain(`SKIP     ${ids.length} clauses — ${reason}\n`)
        for (const id of ids) expect(text).toMatch(new RegExp(`^ {12}${id.replace(/\./g, '\\.')}$|^ {2}SKIP {5}${id.replace(/\./g, '\\.')} — `, 'm'))
      }
      expect(text.length).toBeLessThan(JSON.stringify(skipped.map((r) => r.reason)).length) // far shorter than the reasons repeated
    })
  })
})

describe('"Documentation vs kernel" says why a clause that passes is listed', () => {
  let report: Report
  beforeAll(() => {
    report = JSON.parse(memseal(['check', '--json', '--only', 'memfd.*'], plainEnv()).stdout) as Report
  })

  test('in the text report, for passing entries only', () => {
    const passing = report.divergences.filter((d) => d.status === 'pass')
    expect(passing.length).toBeGreaterThan(0) // memfd.hugetlb.allow-sealing-ok: a stale ERRORS entry
    const text = formatText(report)
    const section = text.slice(text.indexOf('Documentation vs kernel'))
    const entries = section.split(/\n {2}(?=\S)/).slice(1)
    expect(entries).toHaveLength(report.divergences.length)
    for (const [i, d] of report.divergences.entries()) {
      expect(entries[i]).toMatch(new RegExp(`^${d.id.replace(/\./g, '\\.')} \\[`))
      expect([d.id, entries[i]!.includes(`why listed:    ${PASS_LISTED}`)]).toEqual([d.id, d.status === 'pass'])
    }
  })

  test('in the Markdown report too', () => {
    const md = formatMarkdown(report)
    expect(md.split('**Why listed:**').length - 1).toBe(report.divergences.filter((d) => d.status === 'pass').length)
  })
})
