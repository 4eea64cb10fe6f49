#!/usr/bin/env node
/**
 * The `memseal` command.
 *   memseal [check] [--json | --tap | --markdown] [--junit FILE] [--only GLOB]… [--strict] [--verbose] [--list]
 *   memseal list [--only GLOB]… [--json]          same as check --list
 *   memseal info [--json]                         kernel, probed features and environment
 *   memseal matrix …                              the kernel matrix (lib/matrix)
 * Exit status: 0 when nothing diverges or is broken (or known, with --strict); 1 otherwise; 2 for usage errors.
 */
import { writeFileSync } from 'node:fs'
import { kernel } from './kernel'
import { check, kernelFacts, loadClauses, selectClauses, splitPatterns } from './conformance/runner'
import { featureReason } from './conformance/skip'
import { environmentText, exitStatus, reportEnvironment, toolVersion, type Report } from './conformance/report'
import { formatJson } from './conformance/reporters/json'
import { formatJunit } from './conformance/reporters/junit'
import { formatMarkdown } from './conformance/reporters/markdown'
import { formatTap } from './conformance/reporters/tap'
import { formatText } from './conformance/reporters/text'
import type { FeatureName } from './kernel'

const USAGE = `Usage: memseal [command] [options]

Commands:
  check            run the conformance suite on this kernel (the default)
  list             list the clauses without running them (same as check --list)
  info             print the kernel, its probed features and the environment
  matrix           run the suite across kernels booted under qemu (memseal matrix --help)

Options of check and list:
  --json           print the JSON report (the stable contract)
  --tap            print TAP version 14
  --markdown       print Markdown tables
  --junit FILE     also write JUnit XML to FILE
  --only GLOB      run only matching clause ids ('seal.*'; 'seal' matches seal.*); repeatable, comma lists ok
  --list           list clause ids and statements, run nothing
  --strict         also fail on known divergences
  --verbose        print statements, sources and durations
  --workers N      worker processes (default 2)
Options of info:
  --json           print kernel, features and environment as JSON

  -h, --help       this text
  -V, --version    the version

Exit status: 0 when nothing diverges or is broken; 1 otherwise (--strict: also known); 2 for usage errors.
`

class UsageError extends Error {}

interface CheckArgs {
  format: 'text' | 'json' | 'tap' | 'markdown'
  junit: string | null
  only: string[]
  list: boolean
  strict: boolean
  verbose: boolean
  workers: number | undefined
}

/** Parses check/list options; `--name=value` and `--name value` both work. */
function parseCheckArgs(argv: string[]): CheckArgs {
  const args: CheckArgs = { format: 'text', junit: null, only: [], list: false, strict: false, verbose: false, workers: undefined }
  const formats = new Set<string>()
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] =
      argv[i]!.startsWith('--') && argv[i]!.includes('=')
        ? [argv[i]!.slice(0, argv[i]!.indexOf('=')), argv[i]!.slice(argv[i]!.indexOf('=') + 1)]
        : [argv[i]!, undefined]
    const value = (): string => {
      if (inline !== undefined) return inline
      const next = argv[++i]
      if (next === undefined || next.startsWith('--')) throw new UsageError(`${flag} needs a value`)
      return next
    }
    const noValue = (): void => {
      if (inline !== undefined) throw new UsageError(`${flag} takes no value`)
    }
    switch (flag) {
      case '--json':
      case '--tap':
      case '--markdown':
        noValue()
        formats.add(flag.slice(2))
        break
      case '--junit':
        args.junit = value()
        break
      case '--only':
        args.only.push(value())
        break
      case '--list':
        noValue()
        args.list = true
        break
      case '--strict':
        noValue()
        args.strict = true
        break
      case '--verbose':
      case '-v':
        noValue()
        args.verbose = true
        break
      case '--workers': {
        const n = Number(value())
        if (!Number.isInteger(n) || n < 1 || n > 64) throw new UsageError('--workers needs a whole number from 1 to 64')
        args.workers = n
        break
      }
      default:
        throw new UsageError(flag.startsWith('-') ? `unknown option ${flag}` : `unexpected argument '${flag}'`)
    }
  }
  if (formats.size > 1) throw new UsageError(`choose one of --json, --tap, --markdown (got ${[...formats].map((f) => `--${f}`).join(', ')})`)
  args.format = ([...formats][0] as CheckArgs['format'] | undefined) ?? 'text'
  return args
}

function useColor(): boolean {
  return process.stdout.isTTY === true && !('NO_COLOR' in process.env && process.env.NO_COLOR !== '')
}

function runList(args: CheckArgs): number {
  const clauses = selectClauses(loadClauses(), args.only)
  if (args.only.length > 0 && clauses.length === 0) throw new UsageError(`no clause matches --only ${splitPatterns(args.only).join(',')}`)
  if (args.format === 'json') {
    const rows = clauses.map((c) => ({
      id: c.id,
      area: c.area,
      statement: c.statement,
      source: c.source,
      since: c.since,
      needs: c.needs ?? [],
      isolation: c.isolation ?? 'worker',
    }))
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`)
    return 0
  }
  const width = Math.max(0, ...clauses.map((c) => c.id.length))
  for (const c of clauses) process.stdout.write(`${c.id.padEnd(width)}  ${c.statement}\n`)
  process.stdout.write(`# ${clauses.length} clauses\n`)
  return 0
}

/** A single updating line on stderr, only when stderr is a terminal. */
function progress(): { update: (done: number, total: number, id: string) => void; clear: () => void } {
  if (!process.stderr.isTTY) return { update: () => undefined, clear: () => undefined }
  let last = 0
  return {
    update(done, total, id) {
      const now = Date.now()
      if (now - last < 50 && done < total) return
      last = now
      const line = `[${String(done).padStart(String(total).length)}/${total}] ${id}`
      process.stderr.write(`\r\x1b[K${line.slice(0, (process.stderr.columns ?? 80) - 1)}`)
    },
    clear() {
      process.stderr.write('\r\x1b[K')
    },
  }
}

async function runCheck(args: CheckArgs): Promise<number> {
  if (args.list) return runList(args)
  if (args.only.length > 0 && selectClauses(loadClauses(), args.only).length === 0) {
    throw new UsageError(`no clause matches --only ${splitPatterns(args.only).join(',')}`)
  }
  const bar = progress()
  let report: Report
  try {
    report = await check({ only: args.only, strict: args.strict, workers: args.workers, onResult: (r, done, total) => bar.update(done, total, r.id) })
  } finally {
    bar.clear()
  }
  if (args.junit) writeFileSync(args.junit, formatJunit(report, { strict: args.strict }))
  const out = {
    json: () => formatJson(report),
    tap: () => formatTap(report, { strict: args.strict }),
    markdown: () => formatMarkdown(report),
    text: () => formatText(report, { verbose: args.verbose, color: useColor(), strict: args.strict }),
  }[args.format]()
  process.stdout.write(out)
  return exitStatus(report, args.strict)
}

function runInfo(argv: string[]): number {
  const json = argv.includes('--json')
  const unknown = argv.find((a) => a !== '--json')
  if (unknown) throw new UsageError(unknown.startsWith('-') ? `unknown option ${unknown}` : `unexpected argument '${unknown}'`)
  const facts = kernelFacts()
  const info = {
    tool: { name: 'memseal', version: toolVersion() },
    kernel: { release: facts.release, version: facts.version, machine: facts.machine },
    environment: reportEnvironment(facts.environment),
    features: facts.features.probes,
    hugetlbSizes: facts.features.hugetlbSizes,
  }
  if (json) {
    process.stdout.write(`${JSON.stringify(info, null, 2)}\n`)
    return 0
  }
  const lines = [
    `memseal ${info.tool.version}`,
    `Kernel: ${kernel.release} (${kernel.machine}), version ${kernel.version.join('.')}`,
    `Environment: ${environmentText(info.environment)}`,
    '',
    'Features:',
  ]
  const names = Object.keys(facts.features.probes) as FeatureName[]
  const width = Math.max(...names.map((n) => n.length))
  for (const name of names) {
    const p = facts.features.probes[name]
    lines.push(`  ${name.padEnd(width)}  ${p.ok ? 'yes' : 'no '}  since ${p.since}${p.ok ? '' : `  ${featureReason(name, p, facts)}`}`)
  }
  process.stdout.write(`${lines.join('\n')}\n`)
  return 0
}

async function runMatrix(argv: string[]): Promise<number> {
  let mod: { matrixMain?: (argv: string[]) => unknown }
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on demand, see above
    mod = require('./matrix') as typeof mod
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    if (e.code === 'MODULE_NOT_FOUND' && /['"]\.\/matrix['"]/.test(e.message)) {
      process.stderr.write('memseal: the kernel matrix is not part of this build (no matrix module)\n')
      return 2
    }
    throw err
  }
  if (typeof mod.matrixMain !== 'function') {
    process.stderr.write('memseal: the matrix module has no matrixMain()\n')
    return 2
  }
  const status = await mod.matrixMain(argv)
  return typeof status === 'number' ? status : 0
}

export async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv
  if (first === '-h' || first === '--help' || first === 'help') {
    process.stdout.write(USAGE)
    return 0
  }
  if (first === '-V' || first === '--version') {
    process.stdout.write(`${toolVersion()}\n`)
    return 0
  }
  try {
    if (rest.includes('--help') || rest.includes('-h')) {
      if (first !== 'matrix') {
        process.stdout.write(USAGE)
        return 0
      }
    }
    switch (first) {
      case undefined:
        return await runCheck(parseCheckArgs([]))
      case 'check':
        return await runCheck(parseCheckArgs(rest))
      case 'list':
        return runList({ ...parseCheckArgs(rest), list: true })
      case 'info':
        return runInfo(rest)
      case 'matrix':
        return await runMatrix(rest)
      default:
        if (first.startsWith('-')) return await runCheck(parseCheckArgs(argv))
        throw new UsageError(`unknown command '${first}'`)
    }
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`memseal: ${err.message}\n\n${USAGE}`)
      return 2
    }
    throw err
  }
}

if (require.main === module) {
  // Never silent: a run that ends before main() settled (an event loop left with nothing to wait for,
  // a promise that can no longer settle) must not exit 0 with nothing printed.
  let settled = false
  process.on('exit', (code) => {
    if (settled || code !== 0) return
    process.stderr.write('memseal: the run stopped before it finished, without a report (an internal error: please report it)\n')
    process.exitCode = 70
  })
  main(process.argv.slice(2))
    .finally(() => (settled = true))
    .then(
      (status) => {
        process.exitCode = status
      },
      (err: unknown) => {
        process.stderr.write(`memseal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
        process.exitCode = 1
      },
    )
}
