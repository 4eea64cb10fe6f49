/**
 * Renders the matrix: clauses × kernels, where each cell is the clause's outcome on that kernel,
 * with the observed errno when it differs from the host's. Markdown for people, JSON for CI.
 */
import { type ClauseStatus, type KernelRun, type MatrixReport } from './types'
import { errnoOf } from './collect'

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

function formatValue(v: unknown): string {
  if (v === null || v === undefined) return '–'
  return typeof v === 'string' ? v : JSON.stringify(v)
}

export function totals(k: KernelRun): Record<ClauseStatus, number> {
  const t: Record<ClauseStatus, number> = { pass: 0, diverges: 0, known: 0, skip: 0, broken: 0 }
  for (const r of k.report?.results ?? []) t[r.status]++
  return t
}

export function renderMarkdown(m: MatrixReport, cells: Cells = buildCells(m.kernels, m.clauses)): string {
  const name = (k: KernelRun): string => (k.release && k.label !== k.release ? `${k.label} (${k.release})` : k.label)
  const out: string[] = ['# memseal kernel matrix', '']
  out.push(
    `Host ${m.host.release} (${m.host.machine}); guests under **${m.accel.used.toUpperCase()}** (${m.accel.reason}); ${seconds(m.durationMs)} in all; ${m.createdAt}.`,
    '',
  )

  out.push('## Kernels', '')
  out.push(
    ...table(
      ['kernel', 'release', 'status', 'accel', 'fetch', 'prepare', 'boot', 'run', 'total', 'packages'],
      m.kernels.map((k) => [
        k.label,
        k.release ?? '–',
        k.status,
        k.accel ?? '–',
        seconds(k.accel === 'host' ? null : k.timing.fetchMs),
        seconds(k.accel === 'host' ? null : k.timing.prepareMs),
        seconds(k.timing.bootMs),
        seconds(k.timing.runMs),
        seconds(k.timing.totalMs),
        k.packages.join(', ') || '–',
      ]),
    ),
    '',
  )

  const reported = m.kernels.filter((k) => k.report)
  if (reported.length > 0) {
    out.push('## Totals', '')
    out.push(
      ...table(
        ['kernel', 'pass', 'diverges', 'known', 'skip', 'broken'],
        reported.map((k) => {
          const t = totals(k)
          return [name(k), ...[t.pass, t.diverges, t.known, t.skip, t.broken].map(String)]
        }),
      ),
      '',
    )

    const keys = [...new Set(reported.flatMap((k) => Object.keys(k.environment ?? {})))]
    if (keys.length > 0) {
      out.push('## Environments', '')
      out.push(
        ...table(
          ['kernel', ...keys],
          reported.map((k) => [name(k), ...keys.map((key) => formatValue(k.environment?.[key]))]),
        ),
        '',
      )
    }
  }

  if (m.clauses.length > 0) {
    const head = ['clause', ...m.kernels.map((k) => k.label)]
    const rowOf = (id: string): string[] => [`\`${id}\``, ...m.kernels.map((k) => cellText(cells[id]![k.label]!))]
    // Kernels without a report are left out of the comparison: they would make every row differ.
    const differing = m.clauses.filter((id) => new Set(reported.map((k) => cellText(cells[id]![k.label]!))).size > 1)
    out.push('## Where kernels differ', '')
    out.push('Each cell is the outcome on that kernel; an errno in parentheses is what that kernel returned where the host returned something else.', '')
    if (differing.length > 0) out.push(...table(head, differing.map(rowOf)), '')
    else out.push(`Every kernel gives the same outcome for all ${m.clauses.length} clauses.`, '')
    out.push('## Clauses × kernels', '', `<details><summary>All ${m.clauses.length} clauses</summary>`, '')
    out.push(...table(head, m.clauses.map(rowOf)), '', '</details>', '')

    const skips = new Map<string, string[]>()
    for (const id of m.clauses) {
      for (const k of m.kernels) {
        const c = cells[id]![k.label]!
        if (c.status === 'skip' && c.reason) skips.set(`${id}: ${c.reason}`, [...(skips.get(`${id}: ${c.reason}`) ?? []), k.label])
      }
    }
    if (skips.size > 0) {
      out.push('<details><summary>Skip reasons</summary>', '')
      for (const [what, where] of skips) out.push(`- ${what} (${where.join(', ')})`)
      out.push('', '</details>', '')
    }
  }

  const failed = m.kernels.filter((k) => k.status !== 'ok')
  if (failed.length > 0) {
    out.push('## Kernels without a report', '')
    for (const k of failed) {
      out.push(`### ${k.label}: ${k.status}`, '', k.error ?? '', '')
      if (k.consoleTail) out.push('```text', k.consoleTail, '```', '')
    }
  }
  return out.join('\n')
}

/** The JSON written for CI: the report plus the cells, so a check needs no knowledge of errnos. */
export function renderJson(m: MatrixReport, cells: Cells = buildCells(m.kernels, m.clauses)): string {
  return `${JSON.stringify({ ...m, cells }, null, 2)}\n`
}

/** One line per kernel for the terminal (the kernel's name is the caller's prefix). */
export function summaryLine(k: KernelRun): string {
  if (k.status !== 'ok') return `${k.status}: ${k.error ?? ''}`
  const t = totals(k)
  return `${k.release}: ${t.pass} pass, ${t.diverges} diverges, ${t.known} known, ${t.skip} skip, ${t.broken} broken in ${seconds(k.timing.totalMs)}`
}
