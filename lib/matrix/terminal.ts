/**
 * The matrix for a person at a terminal: one line per kernel with its totals, the clauses whose
 * outcome differs between kernels that ran them, the features some kernels lack (one line per
 * feature, not one per clause), skips for the environment, the kernels without a report with the end
 * of their console, and a final verdict line. Files written are named just before the verdict.
 */
import { absenceLine, type Analysis, analyse, andList, totals } from './model'
import { type KernelRun, type MatrixReport } from './types'

export interface TerminalOptions {
  color?: boolean
  /** Files written, as `[path, format]`, named before the verdict. */
  wrote?: Array<[string, string]>
  strict?: boolean
  /** Console lines shown for a kernel without a report. */
  consoleLines?: number
}

function seconds(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '–'
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`
}

/** Left-aligned text columns, numbers right-aligned. */
function columns(rows: string[][], numeric: (col: number) => boolean): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => [...(r[c] ?? '')].length)))
  return rows.map((r) =>
    r
      .map((cell, c) => (numeric(c) ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
      .join('  ')
      .trimEnd(),
  )
}

function accelText(m: MatrixReport): string {
  if (m.accel.used === 'none') return 'no guests booted'
  return `guests under ${m.accel.used.toUpperCase()} (${m.accel.reason})`
}

export function kernelTable(kernels: KernelRun[]): string[] {
  const head = ['kernel', 'release', 'status', 'pass', 'diverges', 'known', 'skip', 'broken', 'boot', 'run', 'accel']
  const rows = kernels.map((k) => {
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
      seconds(k.timing.bootMs),
      seconds(k.timing.runMs),
      k.accel ?? '–',
    ]
  })
  return columns([head, ...rows], (c) => c >= 3 && c <= 9).map((l) => `  ${l}`)
}

export function renderTerminal(m: MatrixReport, options: TerminalOptions = {}, analysis: Analysis = analyse(m, options)): string {
  const paint = (code: string, s: string): string => (options.color ? `\x1b[${code}m${s}\x1b[0m` : s)
  const what = m.tool.command === 'merge' ? `merged from ${m.sources?.length ?? 0} report${m.sources?.length === 1 ? '' : 's'}` : accelText(m)
  const out: string[] = [
    paint('1', `memseal kernel matrix: ${m.kernels.length} kernel${m.kernels.length === 1 ? '' : 's'}, ${what}, ${seconds(m.durationMs)}`),
    '',
  ]
  out.push(...kernelTable(m.kernels), '')

  const b = analysis.behaviour
  if (b.length === 0) {
    out.push(paint('1', 'Behaviour differences: none'), '  every clause that two kernels both ran has the same outcome on both', '')
  } else {
    out.push(paint('1', `Behaviour differences (${b.length}): clauses whose outcome differs between kernels that ran them`))
    for (const d of b) {
      out.push(`  ${d.id}`)
      const width = Math.max(...d.outcomes.map((o) => o.status.length))
      for (const o of d.outcomes) {
        const observed = o.observed.length > 0 ? `  observed ${o.observed.slice(0, 2).join(' / ')}` : ''
        out.push(`    ${o.status.padEnd(width)}  ${andList(o.kernels)}${observed}`)
      }
    }
    out.push('')
  }

  if (analysis.absence.length > 0) {
    out.push(paint('1', 'Features absent from older kernels (skipped, not differences):'))
    for (const g of analysis.absence) out.push(`  ${absenceLine(g)}`)
    out.push('')
  }
  if (analysis.environment.length > 0) {
    out.push(paint('1', 'Skipped for the environment:'))
    for (const g of analysis.environment) {
      const n = g.clauses.length
      const reason = g.reason.length > 140 ? `${g.reason.slice(0, 137)}...` : g.reason
      out.push(`  ${n} clause${n === 1 ? '' : 's'} on ${andList(g.kernels)}: ${reason}`)
    }
    out.push('')
  }

  const failed = m.kernels.filter((k) => k.status !== 'ok')
  if (failed.length > 0) {
    out.push(paint('1', 'Kernels without a report:'))
    for (const k of failed) {
      out.push(`  ${k.label}: ${k.status}: ${k.error ?? ''}`)
      const tail = (k.consoleTail ?? '').split('\n').filter((l) => l.trim() !== '')
      for (const line of tail.slice(-(options.consoleLines ?? 8))) out.push(`    | ${line}`)
    }
    out.push('')
  }

  const retried = m.kernels.filter((k) => k.bootRetry)
  if (retried.length > 0) {
    out.push(paint('1', 'Booted on a second attempt (the first crashed before /init, under emulation):'))
    for (const k of retried) out.push(`  ${k.label}: ${k.bootRetry}`)
    out.push('')
  }

  for (const [path, format] of options.wrote ?? []) out.push(`wrote ${path} (${format})`)
  const v = analysis.verdict
  out.push(paint(v.passed ? '32;1' : '31;1', `verdict: ${v.text}`))
  return `${out.join('\n')}\n`
}
