/**
 * The report for people: a header naming the kernel and the environment, one block per area, the places
 * where the documentation and the kernel disagree, and kselftest-style totals. Skips that share a reason
 * (a seccomp profile, a missing privilege) are printed as that reason once, then the clauses it covers.
 */
import { byArea, environmentText, isFailure, totalsLine, type Report } from '../report'
import type { ClauseResult, Status } from '../types'

export interface TextOptions {
  /** Also print each clause's statement, source and duration. */
  verbose?: boolean
  /** ANSI colours (the CLI's lib/cli/color.ts decides: a terminal, FORCE_COLOR, NO_COLOR). */
  color?: boolean
  /** Mark `known` as failing, as --strict does. */
  strict?: boolean
}

const LABEL: Record<Status, string> = { pass: 'PASS', diverges: 'DIVERGES', known: 'KNOWN', skip: 'SKIP', broken: 'BROKEN' }
const COLOUR: Record<Status, string> = { pass: '32', diverges: '31;1', known: '33', skip: '36', broken: '35;1' }
const WIDTH = Math.max(...Object.values(LABEL).map((l) => l.length))

type Paint = (code: string, text: string) => string

function painter(color: boolean): Paint {
  return color ? (code, text) => `\x1b[${code}m${text}\x1b[0m` : (_code, text) => text
}

/** Expected and observed, one above the other so that they line up. */
function sideBySide(r: ClauseResult, indent: string): string[] {
  const lines: string[] = []
  if (r.expected !== null || r.observed !== null) {
    lines.push(`${indent}expected: ${r.expected ?? '—'}`)
    lines.push(`${indent}observed: ${r.observed ?? '—'}`)
  }
  return lines
}

function resultLines(r: ClauseResult, paint: Paint, options: TextOptions): string[] {
  const label = paint(COLOUR[r.status], LABEL[r.status].padEnd(WIDTH))
  const note = r.status === 'known' && r.known ? `${r.known.behaviour} (${r.known.ref})` : r.reason
  const lines = [`  ${label} ${r.id}${note && r.status !== 'diverges' ? ` — ${note}` : ''}`]
  const indent = ' '.repeat(WIDTH + 4)
  if (r.status !== 'pass' && r.status !== 'skip') lines.push(...sideBySide(r, indent))
  if (options.strict && r.status === 'known') lines.push(`${indent}(fails under --strict)`)
  if (options.verbose) {
    lines.push(`${indent}${paint('2', r.statement)}`)
    lines.push(`${indent}${paint('2', `source: ${r.source} · ${r.durationMs.toFixed(2)} ms`)}`)
  }
  return lines
}

/** Why a clause that passes is listed among the places where the documentation and the kernel disagree. */
export const PASS_LISTED =
  'it passes: the clause expects what the kernel does; the documentation says otherwise or leaves it unsaid, so code written from the documentation alone would get this wrong'

function divergenceLines(report: Report, paint: Paint): string[] {
  if (report.divergences.length === 0) return []
  const lines = ['', paint('1', `Documentation vs kernel (${report.divergences.length})`)]
  for (const d of report.divergences) {
    lines.push(`  ${d.id} [${paint(COLOUR[d.status], LABEL[d.status])}]`)
    lines.push(`      statement:     ${d.statement}`)
    lines.push(`      documentation: ${d.doc}`)
    lines.push(`      kernel:        ${d.kernel}`)
    // A skip's reason is printed with its area above, once for every clause that shares it.
    lines.push(
      `      observed here: ${d.observed ?? (d.status === 'skip' ? `(not run: skipped, the reason is under ${d.area} above)` : d.reason ? `(not run: ${d.reason})` : '—')}`,
    )
    if (d.status === 'pass') lines.push(`      why listed:    ${PASS_LISTED}`)
  }
  return lines
}

/** Skips sharing a reason, as one group: the reason once, then the clauses (ids, statements if verbose). */
function skipGroupLines(reason: string, group: readonly ClauseResult[], paint: Paint, options: TextOptions): string[] {
  const indent = ' '.repeat(WIDTH + 4)
  const lines = [`  ${paint(COLOUR.skip, LABEL.skip.padEnd(WIDTH))} ${group.length} clauses — ${reason}`]
  for (const r of group) {
    lines.push(`${indent}${r.id}`)
    if (options.verbose) {
      lines.push(`${indent}  ${paint('2', r.statement)}`)
      lines.push(`${indent}  ${paint('2', `source: ${r.source} · ${r.durationMs.toFixed(2)} ms`)}`)
    }
  }
  return lines
}

/** An area's results in catalog order; each group of skips that share a reason stands where its first clause is. */
function areaLines(results: readonly ClauseResult[], paint: Paint, options: TextOptions): string[] {
  const groups = new Map<string, ClauseResult[]>()
  for (const r of results) if (r.status === 'skip') groups.set(r.reason ?? '', [...(groups.get(r.reason ?? '') ?? []), r])
  const lines: string[] = []
  for (const r of results) {
    const group = r.status === 'skip' ? groups.get(r.reason ?? '')! : null
    if (group === null || group.length === 1) lines.push(...resultLines(r, paint, options))
    else if (group[0] === r) lines.push(...skipGroupLines(r.reason ?? '', group, paint, options))
  }
  return lines
}

export function formatText(report: Report, options: TextOptions = {}): string {
  const paint = painter(options.color ?? false)
  const lines = [
    `memseal ${report.tool.version}: conformance of Linux sealed memory with its documentation`,
    `Tested kernel: ${report.kernel.release} (${report.kernel.machine})`,
    `Environment: ${environmentText(report.environment)}`,
  ]
  for (const [area, results] of byArea(report.results)) {
    lines.push('', paint('1', `${area} (${results.length})`), ...areaLines(results, paint, options))
  }
  lines.push(...divergenceLines(report, paint))
  const s = report.summary
  const failed = report.results.filter((r) => isFailure(r.status, options.strict)).length
  lines.push(
    '',
    totalsLine(s),
    `# ${s.total} ${s.total === 1 ? 'clause' : 'clauses'} in ${(s.durationMs / 1000).toFixed(2)} s${failed ? `; ${failed} failed` : ''}`,
  )
  return `${lines.join('\n')}\n`
}
