/**
 * KTAP version 1, the kernel's own test format (Documentation/dev-tools/ktap.rst), so the suite runs
 * under kernel CI harnesses that parse KTAP (kselftest runners, LAVA, KernelCI):
 *
 *   KTAP version 1
 *   1..5                                 one test per area
 *     KTAP version 1
 *     # Subtest: seal
 *     1..N                               one subtest per clause
 *     ok 1 seal.write.blocks-pwrite
 *     ok 2 seal.x # SKIP reason          skip, with its reason
 *     ok 3 seal.y # XFAIL known: …       a recorded (known) divergence: expected to differ (kselftest's XFAIL)
 *     # expected: … / # observed: …      diagnostic lines before a failing result
 *     not ok 4 seal.z                    diverges
 *     not ok 5 seal.w # ERROR reason     broken (# TIMEOUT when it ran out of time)
 *   not ok 2 seal                        a test fails when one of its subtests fails
 *   # Totals: pass:… fail:… xfail:… xpass:0 skip:… error:…   (kselftest's closing line)
 *
 * Under --strict a known result is a plain failure. The matrix nests one level more: one test per
 * kernel, its areas as subtests; a kernel without a report is `not ok … # ERROR` with its console.
 */
import { type CheckLikeReport, type GuestResult, type KernelRun, type MatrixReport } from '../../matrix/types'

const AREA_ORDER = ['memfd', 'seal', 'mmap', 'noexec', 'mseal']

export interface KtapOptions {
  strict?: boolean
}

interface Counts {
  pass: number
  fail: number
  xfail: number
  skip: number
  error: number
}

/** A description or diagnostic: no `#` (it would start a directive) and no line breaks. */
function clean(text: string): string {
  return text
    .replace(/[\r\n]+/g, ' ')
    .replace(/#/g, 'no.')
    .trim()
}

/** Diagnostic data after a directive: one line. */
function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, ' ').trim()
}

function show(v: unknown): string {
  if (v === null || v === undefined) return '—'
  return typeof v === 'string' ? v : JSON.stringify(v)
}

/** The result line (and diagnostics before it) of one clause at `indent`. */
function clauseLines(r: GuestResult, n: number, indent: string, strict: boolean, counts: Counts): { lines: string[]; failed: boolean } {
  const id = clean(r.id)
  const diag = (): string[] => {
    const lines = [`${indent}# ${id}: expected: ${oneLine(show(r.expected))}`, `${indent}# ${id}: observed: ${oneLine(show(r.observed))}`]
    if (r.reason) lines.push(`${indent}# ${id}: reason: ${oneLine(r.reason)}`)
    if (r.known) lines.push(`${indent}# ${id}: known: ${oneLine(`${r.known.behaviour} (${r.known.ref})`)}`)
    return lines
  }
  switch (r.status) {
    case 'pass':
      counts.pass++
      return { lines: [`${indent}ok ${n} ${id}`], failed: false }
    case 'skip':
      counts.skip++
      return { lines: [`${indent}ok ${n} ${id} # SKIP ${oneLine(r.reason ?? 'no reason given')}`], failed: false }
    case 'known':
      if (strict) {
        counts.fail++
        return { lines: [...diag(), `${indent}not ok ${n} ${id}`], failed: true }
      }
      counts.xfail++
      return {
        lines: [`${indent}ok ${n} ${id} # XFAIL known: ${oneLine(r.known ? `${r.known.behaviour} (${r.known.ref})` : (r.reason ?? 'a recorded divergence'))}`],
        failed: false,
      }
    case 'diverges':
      counts.fail++
      return { lines: [...diag(), `${indent}not ok ${n} ${id}`], failed: true }
    case 'broken': {
      counts.error++
      const reason = oneLine(r.reason ?? 'broken')
      const directive = /timed? ?out|time limit/i.test(reason) ? 'TIMEOUT' : 'ERROR'
      return { lines: [...diag(), `${indent}not ok ${n} ${id} # ${directive} ${reason}`], failed: true }
    }
  }
}

function areasOf(results: readonly GuestResult[]): Array<[string, GuestResult[]]> {
  const areas = [...new Set(results.map((r) => r.area))].sort((a, b) => {
    const ia = AREA_ORDER.indexOf(a)
    const ib = AREA_ORDER.indexOf(b)
    return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || a.localeCompare(b)
  })
  return areas.map((a) => [a, results.filter((r) => r.area === a)])
}

/**
 * The areas of one report as KTAP at nesting `level` (0 = the top): the version and plan lines and
 * one test per area. Returns whether any area failed.
 */
function reportLines(results: readonly GuestResult[], level: number, strict: boolean, counts: Counts, header: string[]): { lines: string[]; failed: boolean } {
  const indent = '  '.repeat(level)
  const sub = '  '.repeat(level + 1)
  const areas = areasOf(results)
  const lines = [`${indent}KTAP version 1`, ...header.map((h) => `${indent}# ${oneLine(h)}`), `${indent}1..${areas.length}`]
  let anyFailed = false
  areas.forEach(([area, rs], i) => {
    lines.push(`${sub}KTAP version 1`, `${sub}# Subtest: ${clean(area)}`, `${sub}1..${rs.length}`)
    let failed = false
    rs.forEach((r, j) => {
      const c = clauseLines(r, j + 1, sub, strict, counts)
      lines.push(...c.lines)
      failed ||= c.failed
    })
    const skipped = rs.every((r) => r.status === 'skip')
    const result = failed ? 'not ok' : 'ok'
    lines.push(`${indent}${result} ${i + 1} ${clean(area)}${skipped && !failed ? ` # SKIP all ${rs.length} clauses skipped` : ''}`)
    anyFailed ||= failed
  })
  return { lines, failed: anyFailed }
}

function totalsLine(c: Counts): string {
  return `# Totals: pass:${c.pass} fail:${c.fail} xfail:${c.xfail} xpass:0 skip:${c.skip} error:${c.error}`
}

/** `memseal check --ktap`: one report, one test per area. */
export function formatKtap(report: CheckLikeReport, options: KtapOptions = {}): string {
  const counts: Counts = { pass: 0, fail: 0, xfail: 0, skip: 0, error: 0 }
  const header = [
    `memseal ${report.tool?.version ?? ''}: conformance of Linux ${report.kernel.release}${report.kernel.machine ? ` (${report.kernel.machine})` : ''} with its documentation`.replace(
      '  ',
      ' ',
    ),
  ]
  const { lines } = reportLines(report.results, 0, options.strict ?? false, counts, header)
  lines.push(totalsLine(counts))
  return `${lines.join('\n')}\n`
}

function kernelName(k: KernelRun): string {
  return clean(k.release && k.release !== k.label ? `${k.label} (${k.release})` : k.label)
}

/** `memseal matrix --ktap`: one test per kernel, its areas as subtests, its clauses below those. */
export function formatMatrixKtap(m: MatrixReport, options: KtapOptions = {}): string {
  const strict = options.strict ?? false
  const counts: Counts = { pass: 0, fail: 0, xfail: 0, skip: 0, error: 0 }
  const lines = ['KTAP version 1', `# memseal kernel matrix: ${m.kernels.length} kernels`, `1..${m.kernels.length}`]
  m.kernels.forEach((k, i) => {
    const name = kernelName(k)
    if (!k.report) {
      counts.error++
      const tail = (k.consoleTail ?? '').split('\n').filter((l) => l.trim() !== '')
      lines.push(...tail.slice(-10).map((l) => `# ${name}: ${oneLine(l)}`))
      lines.push(`not ok ${i + 1} ${name} # ERROR ${oneLine(`${k.status}: ${k.error ?? ''}`)}`)
      return
    }
    const r = reportLines(k.report.results, 1, strict, counts, [`Subtest: ${name}`])
    lines.push(...r.lines, `${r.failed ? 'not ok' : 'ok'} ${i + 1} ${name}`)
  })
  lines.push(totalsLine(counts))
  return `${lines.join('\n')}\n`
}
