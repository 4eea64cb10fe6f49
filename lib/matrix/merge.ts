/**
 * Fan-out: CI runs `memseal matrix --kernel X --json FILE` in one job per kernel (and `memseal check
 * --json` on real machines and in containers), and `memseal report merge` makes one matrix report
 * from all of them. A matrix report contributes its columns, a check report one column named after
 * its file (or `LABEL=FILE`). Columns keep the file they came from.
 */
import { readFileSync } from 'node:fs'
import { basename } from 'node:path'
import { parseReport, ReportError } from './collect'
import { uniqueLabels } from './machine'
import { columnFromCheck } from './model'
import { clauseOrder } from './table'
import { type KernelRun, type MatrixReport } from './types'

export class MergeInputError extends Error {}

export interface MergeInput {
  /** The column name given as `LABEL=FILE`, if any. */
  label: string | null
  file: string
  text: string
}

/** `LABEL=FILE` or `FILE`. A path that exists as written wins over a split at `=`. */
export function splitInput(arg: string, exists: (p: string) => boolean): { label: string | null; file: string } {
  const eq = arg.indexOf('=')
  if (eq > 0 && !exists(arg)) return { label: arg.slice(0, eq), file: arg.slice(eq + 1) }
  return { label: null, file: arg }
}

function stem(file: string): string {
  return basename(file).replace(/\.json$/i, '') || file
}

/** The columns one input file holds. */
export function columnsOf(input: MergeInput): { columns: KernelRun[]; matrix: MatrixReport | null } {
  let value: unknown
  try {
    value = JSON.parse(input.text)
  } catch (e) {
    throw new MergeInputError(`${input.file} is not JSON (${(e as Error).message})`)
  }
  const v = value as Partial<MatrixReport>
  if (typeof v !== 'object' || v === null) throw new MergeInputError(`${input.file} is not a memseal report`)
  if (Array.isArray(v.kernels)) {
    const m = v as MatrixReport
    const columns = m.kernels.map((k) => {
      if (typeof k?.label !== 'string' || typeof k.status !== 'string') throw new MergeInputError(`${input.file}: a kernel without label or status`)
      const report = k.report ? parseReport(JSON.stringify(k.report)) : null
      const label = input.label && m.kernels.length === 1 ? input.label : input.label ? `${input.label} ${k.label}` : k.label
      return { ...k, label, report, source: input.file }
    })
    return { columns, matrix: m }
  }
  if ((v.tool as { command?: string } | undefined)?.command === 'run')
    throw new MergeInputError(`${input.file} is the output of memseal run, not a conformance report`)
  try {
    const report = parseReport(input.text)
    return { columns: [columnFromCheck(report, input.label ?? stem(input.file), input.file)], matrix: null }
  } catch (e) {
    if (e instanceof ReportError) throw new MergeInputError(`${input.file} is neither a matrix report nor a check report: ${e.message}`)
    throw e
  }
}

/** Reads and merges the given files (`LABEL=FILE` or `FILE`). */
export function mergeReports(inputs: MergeInput[]): MatrixReport {
  if (inputs.length === 0) throw new MergeInputError('name at least one report to merge')
  const kernels: KernelRun[] = []
  const matrices: MatrixReport[] = []
  for (const input of inputs) {
    const { columns, matrix } = columnsOf(input)
    kernels.push(...columns)
    if (matrix) matrices.push(matrix)
  }
  // The same column name from two files (two jobs' `host`) gets the file's name beside it.
  const seen = new Map<string, number>()
  for (const k of kernels) seen.set(k.label, (seen.get(k.label) ?? 0) + 1)
  for (const k of kernels) if ((seen.get(k.label) ?? 0) > 1 && k.source) k.label = `${k.label} (${stem(k.source)})`
  const unique = uniqueLabels(kernels.map((k) => k.label)).map((l, i) => (kernels[i]!.label === 'host' && l === 'host#1' ? 'host' : l))
  kernels.forEach((k, i) => (k.label = unique[i]!))
  const accels = [...new Set(kernels.map((k) => k.accel).filter((a): a is 'kvm' | 'tcg' => a === 'kvm' || a === 'tcg'))]
  const used = accels.length === 0 ? 'none' : accels.length === 1 ? accels[0]! : 'mixed'
  return {
    tool: { name: 'memseal', command: 'merge' },
    createdAt: new Date().toISOString(),
    host: matrices[0]?.host ?? { release: kernels[0]?.release ?? '', machine: '' },
    accel: { requested: used, used, reason: `as the merged reports say (${matrices.map((m) => m.accel.reason).join('; ') || 'check reports only'})` },
    sources: inputs.map((i) => i.file),
    durationMs: Math.max(0, ...matrices.map((m) => m.durationMs), ...kernels.map((k) => k.timing.totalMs)),
    kernels,
    clauses: clauseOrder(kernels),
  }
}

export function readInputs(args: string[], exists: (p: string) => boolean): MergeInput[] {
  return args.map((arg) => {
    const { label, file } = splitInput(arg, exists)
    let text: string
    try {
      text = readFileSync(file, 'utf8')
    } catch (e) {
      throw new MergeInputError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`)
    }
    return { label, file, text }
  })
}
