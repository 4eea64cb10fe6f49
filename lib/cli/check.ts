/**
 * `memseal check`: runs the conformance suite on this kernel and prints the report. Output files are
 * checked before the run; one that cannot be written afterwards still leaves the report on standard
 * output, and the run ends with the I/O status.
 */
import { check, loadClauses, selectClauses, splitPatterns } from '../conformance/runner'
import { exitStatus, type Report } from '../conformance/report'
import { formatText } from '../conformance/reporters/text'
import { FILE_OUTPUTS, parseCheckArgs, STDOUT_FORMATS, type CheckArgs } from './check-options'
import { useColor } from './color'
import { runList } from './list'
import { checkOutputPath, OutputError, writeOutput } from './output'
import { progressLine } from './progress'
import { EXIT } from './status'
import { CHECK_USAGE } from './help'
import { UsageError } from './usage'

async function runCheck(args: CheckArgs, command: string): Promise<number> {
  if (args.list) return runList({ only: args.only, json: args.format === '--json' }, command)
  if (args.only.length > 0 && selectClauses(loadClauses(), args.only).length === 0) {
    throw new UsageError(`no clause matches --only ${splitPatterns(args.only).join(',')}`, command)
  }
  for (const { option, path } of args.files) checkOutputPath(path, option, command)
  const bar = progressLine()
  let report: Report
  try {
    report = await check({ only: args.only, strict: args.strict, workers: args.workers, onResult: (r, done, total) => bar.update(done, total, r.id) })
  } finally {
    bar.clear()
  }
  const render = { strict: args.strict, verbose: args.verbose }
  // Files first, then standard output: a file that cannot be written still leaves the report printed.
  const failures: OutputError[] = []
  for (const { option, path } of args.files) {
    try {
      writeOutput(path, FILE_OUTPUTS[option]!(report, render), option)
    } catch (err) {
      if (!(err instanceof OutputError)) throw err
      failures.push(err)
    }
  }
  const text = args.format
    ? STDOUT_FORMATS[args.format]!(report, render)
    : formatText(report, { verbose: args.verbose, color: useColor(process.stdout), strict: args.strict })
  process.stdout.write(text)
  for (const err of failures) process.stderr.write(`memseal ${command}: ${err.message}\n`)
  return failures.length > 0 ? EXIT.io : exitStatus(report, args.strict)
}

export async function checkMain(argv: string[]): Promise<number> {
  const args = parseCheckArgs(argv, 'check')
  if (args.help) {
    process.stdout.write(CHECK_USAGE)
    return EXIT.ok
  }
  return runCheck(args, 'check')
}
