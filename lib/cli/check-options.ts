/**
 * The options of `memseal check` (and the `list` subset). Output formats are tables, so that a new one
 * is one entry: a format printed on standard output instead of the text report (`--json`), or a report
 * written to a file besides it (`--junit FILE`).
 */
import type { Report } from '../conformance/report'
import { formatHtml } from '../conformance/reporters/html'
import { formatJson } from '../conformance/reporters/json'
import { formatJunit } from '../conformance/reporters/junit'
import { formatKtap } from '../conformance/reporters/ktap'
import { formatMarkdown } from '../conformance/reporters/markdown'
import { formatTap } from '../conformance/reporters/tap'
import { parseOptions, type OptionSpecs } from './args'
import { UsageError } from './usage'

export interface RenderOptions {
  strict: boolean
  verbose: boolean
}

type Render = (report: Report, options: RenderOptions) => string

/** Formats for standard output, in place of the text report; at most one per run. */
export const STDOUT_FORMATS: Readonly<Record<string, Render>> = {
  '--json': (report) => formatJson(report),
  '--tap': (report, o) => formatTap(report, { strict: o.strict }),
  '--ktap': (report, o) => formatKtap(report, { strict: o.strict }),
  '--markdown': (report) => formatMarkdown(report),
}

/** Reports written to the file the option names, checked before the run, written after it. */
export const FILE_OUTPUTS: Readonly<Record<string, Render>> = {
  '--junit': (report, o) => formatJunit(report, { strict: o.strict }),
  '--html': (report) => formatHtml(report),
}

export const CHECK_OPTIONS: OptionSpecs = {
  ...Object.fromEntries(Object.keys(STDOUT_FORMATS).map((name) => [name, { kind: 'flag' as const }])),
  ...Object.fromEntries(Object.keys(FILE_OUTPUTS).map((name) => [name, { kind: 'value' as const }])),
  '--only': { kind: 'list' },
  '--list': { kind: 'flag' },
  '--strict': { kind: 'flag' },
  '--verbose': { kind: 'flag', alias: '-v' },
  '--workers': { kind: 'value' },
}

export const LIST_OPTIONS: OptionSpecs = {
  '--json': { kind: 'flag' },
  '--only': { kind: 'list' },
}

export interface CheckArgs {
  help: boolean
  /** The STDOUT_FORMATS option chosen, or null for the text report. */
  format: string | null
  /** FILE_OUTPUTS option → path. */
  files: Array<{ option: string; path: string }>
  only: string[]
  list: boolean
  strict: boolean
  verbose: boolean
  workers: number | undefined
}

export function parseCheckArgs(argv: readonly string[], command = 'check'): CheckArgs {
  const o = parseOptions(argv, CHECK_OPTIONS, command)
  const formats = Object.keys(STDOUT_FORMATS).filter((name) => o.flag(name))
  if (formats.length > 1) throw new UsageError(`choose one of ${Object.keys(STDOUT_FORMATS).join(', ')} (got ${formats.join(', ')})`, command)
  let workers: number | undefined
  const w = o.value('--workers')
  if (w !== undefined) {
    workers = Number(w)
    if (!/^\d+$/.test(w) || workers < 1 || workers > 64) throw new UsageError(`--workers needs a whole number from 1 to 64, not '${w}'`, command)
  }
  const files = Object.keys(FILE_OUTPUTS).flatMap((option) => {
    const path = o.value(option)
    return path === undefined ? [] : [{ option, path }]
  })
  const args: CheckArgs = {
    help: o.help,
    format: formats[0] ?? null,
    files,
    only: [...o.list('--only')],
    list: o.flag('--list'),
    strict: o.flag('--strict'),
    verbose: o.flag('--verbose'),
    workers,
  }
  if (args.list) {
    const ignored = [...(args.format && args.format !== '--json' ? [args.format] : []), ...files.map((f) => f.option)]
    for (const flag of ['--strict', '--verbose', '--workers']) if (o.flag(flag) || o.value(flag) !== undefined) ignored.push(flag)
    if (ignored.length > 0) throw new UsageError(`--list runs nothing and takes only --only and --json (got ${ignored.join(', ')})`, command)
  }
  return args
}
