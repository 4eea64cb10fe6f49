/**
 * Renders the matrix as files: Markdown (for a CI step summary or a pull request: totals, behaviour
 * differences, absent features grouped per feature, the verdict, and the whole grid folded away) and
 * JSON for CI. Each cell is the clause's outcome on that kernel, with the observed errno where it
 * differs from the host's.
 */
import { type ClauseStatus, type KernelRun, type MatrixReport } from './types'
import { errnoOf } from './collect'
import { absenceLine, type Analysis, analyse, andList, envValue, totals } from './model'

export { totals } from './model'

export interface Cell {
  /** `absent` when the kernel's report has no such clause (or the kernel produced no report). */
  status: ClauseStatus | 'absent'
  /** The errno observed here when it differs from the reference column (`no error` if none was). */
  errno: string | null
  reason: string | null
}

/** cells[clauseId][kernel label] */
export type Cells = Record<string, Record<string, Cell>>

/** Clause ids in the order they first appear, host first. */
export function clauseOrder(kernels: KernelRun[]): string[] {
  const ids = new Set<string>()
  for (const k of kernels) for (const r of k.report?.results ?? []) ids.add(r.id)
  return [...ids]
}

/**
 * Every cell of the matrix. The reference for errnos is the host column when it has a report;
 * without one, a cell shows its errno whenever it is not a pass.
 */
export function buildCells(kernels: KernelRun[], clauses: string[] = clauseOrder(kernels)): Cells {
  const reference = kernels.find((k) => k.accel === 'host' && k.report)
  const refErrno = new Map((reference?.report?.results ?? []).map((r) => [r.id, errnoOf(r.observed)]))
  const cells: Cells = {}
  for (const id of clauses) {
    cells[id] = {}
    for (const k of kernels) {
      const r = k.report?.results.find((x) => x.id === id)
      if (!r) {
        cells[id][k.label] = { status: 'absent', errno: null, reason: null }
        continue
      }
      const mine = errnoOf(r.observed)
      let errno: string | null = null
      // A clause that observed nothing (broken, skipped before running) has no errno to compare.
      if (k !== reference && r.observed !== null && r.observed !== undefined) {
        if (reference && refErrno.has(id)) {
          const theirs = refErrno.get(id) ?? null
          if (mine !== theirs && r.status !== 'skip') errno = mine ?? 'no error'
        } else if (r.status !== 'pass' && r.status !== 'skip') {
          errno = mine
        }
      }
      cells[id][k.label] = { status: r.status, errno, reason: r.reason ?? null }
    }
  }
  return cells
}

export function cellText(cell: Cell): string {
  if (cell.status === 'absent') return '–'
  return cell.errno ? `${cell.status} (${cell.errno})` : cell.status
}

function seconds(ms: number | null): string {
  if (ms === null) return '–'
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`
}

function esc(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ')
}

function row(cells: string[]): string {
  return `| ${cells.map(esc).join(' | ')} |`
}

function table(head: string[], rows: string[][]): string[] {
  return [row(head), row(head.map(() => '---')), ...rows.map(row)]
}

export function renderMarkdown(m: MatrixReport, cells: Cells = buildCells(m.kernels, m.clauses), analysis: Analysis = analyse(m)): string {
  const name = (k: KernelRun): string => (k.release && k.label !== k.release ? `${k.label} (${k.release})` : k.label)
  const out: string[] = ['# memseal kernel matrix', '']
  const how =
    m.tool.command === 'merge'
      ? `Merged from ${m.sources?.length ?? 0} reports`
      : `Host ${m.host.release} (${m.host.machine}); guests under **${m.accel.used.toUpperCase()}** (${m.accel.reason}); ${seconds(m.durationMs)} in all`
  out.push(`${how}; ${m.createdAt}.`, '', `**Verdict: ${analysis.verdict.text}**`, '')

  out.push('## Kernels', '')
  out.push(
    ...table(
      ['kernel', 'release', 'status', 'pass', 'diverges', 'known', 'skip', 'broken', 'accel', 'boot', 'run', 'total'],
      m.kernels.map((k) => {
        const t = totals(k)
        const n = (v: number): string => (k.report ? String(v) : '–')
        return [
          k.label,
          k.release ?? '–',
          k.status,
          n(t.pass),
          n(t.diverges),
          n(t.known),
          n(t.skip),
          n(t.broken),
          k.accel ?? '–',
          seconds(k.timing.bootMs),
          seconds(k.timing.runMs),
          seconds(k.timing.totalMs),
        ]
      }),
    ),
    '',
  )

  out.push('## Behaviour differences', '')
  if (analysis.behaviour.length === 0) out.push('None: every clause that two kernels both ran has the same outcome on both.', '')
  else {
    out.push('Clauses whose outcome differs between kernels that both ran them.', '')
    out.push(
      ...table(
        ['clause', 'outcomes'],
        analysis.behaviour.map((d) => [
          `\`${d.id}\``,
          d.outcomes.map((o) => `**${o.status}** on ${andList(o.kernels)}${o.observed.length ? ` (${o.observed.slice(0, 2).join(' / ')})` : ''}`).join('; '),
        ]),
      ),
      '',
    )
  }
  if (analysis.absence.length > 0) {
    out.push('## Features absent from older kernels', '')
    for (const g of analysis.absence) out.push(`- ${absenceLine(g)}`)
    out.push('')
  }
  if (analysis.environment.length > 0) {
    out.push('## Skipped for the environment', '')
    for (const g of analysis.environment) out.push(`- ${g.clauses.length} on ${andList(g.kernels)}: ${g.reason}`)
    out.push('')
  }

  const failed = m.kernels.filter((k) => k.status !== 'ok')
  if (failed.length > 0) {
    out.push('## Kernels without a report', '')
    for (const k of failed) {
      out.push(`### ${k.label}: ${k.status}`, '', k.error ?? '', '')
      if (k.consoleTail) out.push('```text', k.consoleTail, '```', '')
    }
  }

  const reported = m.kernels.filter((k) => k.report)
  const keys = [...new Set(reported.flatMap((k) => Object.keys(k.environment ?? {})))]
  if (keys.length > 0) {
    out.push('<details><summary>Environments</summary>', '')
    out.push(
      ...table(
        ['kernel', ...keys],
        reported.map((k) => [name(k), ...keys.map((key) => envValue(k.environment?.[key]))]),
      ),
      '',
      '</details>',
      '',
    )
  }
  if (m.clauses.length > 0) {
    const head = ['clause', ...m.kernels.map((k) => k.label)]
    out.push(`<details><summary>All ${m.clauses.length} clauses × ${m.kernels.length} kernels</summary>`, '')
    out.push(
      ...table(
        head,
        m.clauses.map((id) => [`\`${id}\``, ...m.kernels.map((k) => cellText(cells[id]![k.label]!))]),
      ),
      '',
      '</details>',
      '',
    )
  }
  return out.join('\n')
}

/**
 * The JSON written for CI: the report, the cells (so a check needs no knowledge of errnos) and the
 * analysis (differences, absent features, verdict).
 */
export function renderJson(m: MatrixReport, cells: Cells = buildCells(m.kernels, m.clauses), analysis: Analysis = analyse(m)): string {
  return `${JSON.stringify({ ...m, cells, analysis }, null, 2)}\n`
}

/** One line per kernel for the terminal (the kernel's name is the caller's prefix). */
export function summaryLine(k: KernelRun): string {
  if (k.status !== 'ok') return `${k.status}: ${k.error ?? ''}`
  const t = totals(k)
  return `${k.release}: ${t.pass} pass, ${t.diverges} diverges, ${t.known} known, ${t.skip} skip, ${t.broken} broken in ${seconds(k.timing.totalMs)}`
}
