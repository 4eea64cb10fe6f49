/** `memseal report merge [options] [LABEL=]FILE...`: one matrix report from many JSON reports. */
import { existsSync } from 'node:fs'
import { mergeReports, MergeInputError, readInputs } from './merge'
import { emitMatrix } from './outputs'
import { UsageError, usageErrorText } from '../cli/usage'

export const REPORT_USAGE = `Usage: memseal report merge [--json FILE] [--markdown FILE] [--html FILE] [--ktap FILE] [--strict]
                           [LABEL=]REPORT.json...

Makes one matrix report from reports made elsewhere: \`memseal matrix --json\` files (one per CI job
and kernel, or per host) and \`memseal check --json\` files from real machines and containers. A check
report becomes one column named after its file, or LABEL. Prints the terminal report (per-kernel
totals, behaviour differences, absent features, verdict) and writes the formats asked for.

Exit status: 0 when every kernel reported and nothing diverges or is broken (--strict: or is known);
1 otherwise; 2 for usage errors and unreadable inputs.`

/** `memseal report …`; returns the exit status (a promise, like the other command modules' entries). */
export function reportMain(argv: string[]): Promise<number> {
  return Promise.resolve(reportCommand(argv))
}

function reportCommand(argv: string[]): number {
  const [sub, ...rest] = argv
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    process.stdout.write(`${REPORT_USAGE}\n`)
    return sub === undefined ? 2 : 0
  }
  if (sub !== 'merge') {
    process.stderr.write(usageErrorText(new UsageError(`unknown subcommand "${sub}" (there is: merge)`, 'report')))
    return 2
  }
  const out = { json: null as string | null, markdown: null as string | null, html: null as string | null, ktap: null as string | null, strict: false }
  const files: string[] = []
  try {
    for (let i = 0; i < rest.length; i++) {
      const arg = rest[i]!
      const eq = arg.indexOf('=')
      const flag = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg
      const value = (): string => {
        if (arg.startsWith('--') && eq > 0) return arg.slice(eq + 1)
        const v = rest[++i]
        if (v === undefined) throw new MergeInputError(`${flag} needs a value`)
        return v
      }
      if (flag === '--json' || flag === '--markdown' || flag === '--html' || flag === '--ktap') out[flag.slice(2) as 'json'] = value()
      else if (flag === '--strict') out.strict = true
      else if (flag === '--help' || flag === '-h') {
        process.stdout.write(`${REPORT_USAGE}\n`)
        return 0
      } else if (arg.startsWith('-') && arg !== '-') throw new MergeInputError(`unknown option "${arg}"`)
      else files.push(arg)
    }
    const merged = mergeReports(readInputs(files, existsSync))
    return emitMatrix(merged, out) ? 0 : 1
  } catch (e) {
    if (e instanceof MergeInputError) {
      process.stderr.write(usageErrorText(new UsageError(e.message, 'report merge')))
      return 2
    }
    throw e
  }
}
