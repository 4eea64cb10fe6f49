/**
 * `memseal run --kernel SPEC... -- CMD ARGS`: boots each kernel the way the matrix does and runs any
 * command in it (a kselftest binary, a reproducer, a script), from the current directory, with a
 * writable scratch directory shared with the host, and hands back its stdout, stderr and exit status
 * per kernel. virtme-ng's `vng --run` is the model for the convenience; the machinery is the matrix's.
 */
import { mkdirSync, mkdtempSync, realpathSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { isAbsolute, join, resolve } from 'node:path'
import { type AccelRequest } from './accel'
import { defaultCacheDir } from './cache'
import { bootFailure, failureTail } from './collect'
import { type GuestJob, type Share } from './guest-init'
import { isNativeArch } from './guest-arch'
import { type KernelOutcome, runOnKernels, uniqueLabels } from './machine'
import { stderrProgress } from './progress'
import { sharesFor } from './shares'
import { parseSpec, specArch, SpecError, specLabel } from './specs'
import { type Accel, type RunStatus } from './types'
import { splitOption } from '../cli/args'
import { UsageError, usageErrorText } from '../cli/usage'

export const RUN_USAGE = `Usage: memseal run --kernel SPEC [--kernel SPEC]... [options] -- CMD [ARG]...

Boots each kernel under qemu (one after another) with this machine's root shared read-only, runs CMD
in it as root from the current directory, and prints its stdout, stderr and exit status per kernel.

  --kernel SPEC     a kernel, as for memseal matrix (5.10, 6.1, 6.12, newest, X.Y, ./IMAGE[:MODULES]);
                    repeatable
  --scratch DIR     a writable directory shared with the guests: each kernel gets DIR/<kernel>,
                    mounted at the same path and named by $MEMSEAL_SCRATCH (default: a new directory
                    under the system's temporary directory, kept after the run)
  --share DIR       also show DIR read-only (needed only below /tmp, /run or /var/tmp, which the guest
                    has its own of); repeatable
  --env NAME=VALUE  set a variable for the command; repeatable
  --json FILE       write the results as JSON ('-' for stdout)
  --accel MODE      auto, kvm or tcg (default auto: KVM when a guest really runs with it)
  --timeout SEC     per kernel, boot and command together (default 300)
  --cache DIR       the kernel cache (as for memseal matrix)
  --refresh         refresh the Debian package lists even if they are recent

With one kernel, the command's stdout and stderr are passed through and memseal exits with the
command's own status. With several, each kernel's output follows a header line. Exit status: 0 when
the command exited 0 on every kernel, 1 when it exited otherwise on any; 125 when a kernel could not
boot or the command did not finish; 2 for usage errors.`

export interface RunArgs {
  kernels: string[]
  command: string[]
  scratch: string | null
  shares: string[]
  env: Record<string, string>
  json: string | null
  accel: AccelRequest
  timeoutMs: number
  cacheDir: string | null
  refresh: boolean
  help: boolean
}

export function parseRunArgs(argv: string[]): RunArgs {
  const a: RunArgs = {
    kernels: [],
    command: [],
    scratch: null,
    shares: [],
    env: {},
    json: null,
    accel: 'auto',
    timeoutMs: 300_000,
    cacheDir: null,
    refresh: false,
    help: false,
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === '--') {
      a.command = argv.slice(i + 1)
      break
    }
    const { name: flag, inline } = splitOption(arg)
    const value = (): string => {
      if (inline !== undefined) return inline
      const v = argv[++i]
      if (v === undefined) throw new UsageError(`${flag} needs a value`)
      return v
    }
    switch (flag) {
      case '--kernel':
      case '-k':
        a.kernels.push(value())
        break
      case '--scratch':
        a.scratch = value()
        break
      case '--share':
        a.shares.push(value())
        break
      case '--env': {
        const v = value()
        const at = v.indexOf('=')
        if (at <= 0) throw new UsageError(`--env needs NAME=VALUE, not "${v}"`)
        a.env[v.slice(0, at)] = v.slice(at + 1)
        break
      }
      case '--json':
        a.json = value()
        break
      case '--accel': {
        const v = value()
        if (v !== 'auto' && v !== 'kvm' && v !== 'tcg') throw new UsageError(`--accel must be auto, kvm or tcg, not "${v}"`)
        a.accel = v
        break
      }
      case '--timeout': {
        const v = Number(value())
        if (!Number.isFinite(v) || v <= 0) throw new UsageError('--timeout needs a positive number of seconds')
        a.timeoutMs = v * 1000
        break
      }
      case '--cache':
        a.cacheDir = value()
        break
      case '--refresh':
        a.refresh = true
        break
      case '--help':
      case '-h':
        a.help = true
        return a
      default:
        // vng-style: the command may follow the options without `--` when it does not start with `-`.
        if (!arg.startsWith('-')) {
          a.command = argv.slice(i)
          i = argv.length
          break
        }
        throw new UsageError(`unknown option "${arg}"`)
    }
  }
  if (a.kernels.length === 0) throw new UsageError('name at least one --kernel')
  if (a.command.length === 0) throw new UsageError('name the command to run after --')
  for (const k of a.kernels) {
    const spec = parseSpec(k)
    if (!isNativeArch(specArch(spec))) throw new UsageError(`memseal run boots kernels of this machine's architecture only, not ${k}`)
  }
  return a
}

/** What the command did on one kernel. */
export interface RunResult {
  spec: string
  label: string
  release: string | null
  accel: Accel | null
  /** `ok` when the command ran and exited (whatever its status). */
  status: RunStatus
  exitStatus: number | null
  stdout: string
  stderr: string
  /** This kernel's scratch directory on the host. */
  scratch: string
  bootMs: number | null
  runMs: number | null
  totalMs: number
  error: string | null
  consoleTail: string | null
}

/** A directory name for a kernel's label (`6.1`, `vmlinuz-6.9`, `6.1 arm64`). */
function dirName(label: string): string {
  return label.replace(/[^A-Za-z0-9._+-]+/g, '_')
}

/** The job: the command from the current directory, the shares it needs, the kernel's scratch. */
export function runJob(args: RunArgs, cwd: string, scratch: string): GuestJob {
  const readOnly = sharesFor([cwd, ...args.shares.map((s) => resolve(cwd, s))])
  const writable: Share = { hostPath: scratch, guestPath: scratch, readonly: false }
  return { command: args.command, cwd, env: { ...args.env, MEMSEAL_SCRATCH: scratch }, shares: [...readOnly, writable] }
}

export function resultOf(o: KernelOutcome, scratch: string, timeoutMs: number): RunResult {
  const base = { spec: o.spec, label: o.label, release: o.kernel?.release ?? null, accel: o.accel, scratch }
  if (!o.boot || !o.accel) {
    const error = o.setupError?.message ?? 'not booted'
    return { ...base, status: 'fetch-failed', exitStatus: null, stdout: '', stderr: '', bootMs: null, runMs: null, totalMs: 0, error, consoleTail: null }
  }
  const b = o.boot
  const failure = bootFailure({ accel: o.accel, accelError: o.accelError, timeoutMs }, b)
  const release = /memseal-init: start (\S+)/.exec(b.console)?.[1] ?? base.release
  return {
    ...base,
    release,
    status: failure?.status ?? 'ok',
    exitStatus: failure ? null : b.guestStatus,
    stdout: b.stdout,
    stderr: b.stderr,
    bootMs: b.initMs,
    runMs: b.runMs,
    totalMs: b.totalMs,
    error: failure?.error ?? null,
    consoleTail: failure ? failureTail(b) : null,
  }
}

/** memseal's own exit status for a run (see RUN_USAGE). */
export function runExitStatus(results: RunResult[]): number {
  if (results.some((r) => r.status !== 'ok')) return 125
  if (results.length === 1) return results[0]!.exitStatus ?? 125
  return results.every((r) => r.exitStatus === 0) ? 0 : 1
}

function header(r: RunResult): string {
  const name = r.release && r.release !== r.label ? `${r.label} (${r.release})` : r.label
  const secs = (ms: number | null): string => (ms === null ? '–' : `${(ms / 1000).toFixed(1)} s`)
  if (r.status !== 'ok') return `=== ${name}: ${r.status}: ${r.error ?? ''}`
  return `=== ${name}: exit status ${r.exitStatus} (boot ${secs(r.bootMs)}, command ${secs(r.runMs)}, ${r.accel?.toUpperCase() ?? ''})`
}

export async function runMain(argv: string[]): Promise<number> {
  let args: RunArgs
  try {
    args = parseRunArgs(argv)
  } catch (e) {
    if (e instanceof UsageError || e instanceof SpecError) {
      process.stderr.write(usageErrorText(new UsageError(e.message, 'run')))
      return 2
    }
    throw e
  }
  if (args.help) {
    process.stdout.write(`${RUN_USAGE}\n`)
    return 0
  }
  const cwd = realpathSync(process.cwd())
  const scratchRoot = args.scratch ? resolve(args.scratch) : mkdtempSync(join(tmpdir(), 'memseal-run-'))
  mkdirSync(scratchRoot, { recursive: true })
  const progress = stderrProgress(Date.now(), (s) => process.stderr.write(s.replace(/^memseal matrix/, 'memseal run')))
  const single = args.kernels.length === 1
  const results: RunResult[] = []
  const scratchOf = (label: string): string => {
    const dir = join(realpathSync(scratchRoot), dirName(label))
    mkdirSync(dir, { recursive: true })
    return dir
  }
  const labels = uniqueLabels(args.kernels.map((k) => specLabel(parseSpec(k))))
  try {
    await runOnKernels({
      kernels: args.kernels,
      accel: args.accel,
      cacheDir: args.cacheDir ?? defaultCacheDir(),
      timeoutMs: args.timeoutMs,
      initTimeoutMs: Math.min(120_000, args.timeoutMs),
      refresh: args.refresh,
      job: (_kernel, i) => runJob(args, cwd, scratchOf(labels[i] ?? String(i))),
      say: (i, m) => progress(labels[i] ?? args.kernels[i] ?? '', m),
      onOutcome: (o) => {
        const r = resultOf(o, scratchOf(o.label), args.timeoutMs)
        results.push(r)
        if (args.json === '-') return
        if (single && r.status === 'ok') {
          process.stdout.write(r.stdout)
          process.stderr.write(r.stderr)
          return
        }
        process.stdout.write(`${header(r)}\n`)
        if (r.status !== 'ok') {
          if (r.consoleTail) process.stdout.write(`${r.consoleTail}\n`)
          return
        }
        process.stdout.write(r.stdout.endsWith('\n') || r.stdout === '' ? r.stdout : `${r.stdout}\n`)
        if (r.stderr !== '') process.stdout.write(`--- stderr ---\n${r.stderr.endsWith('\n') ? r.stderr : `${r.stderr}\n`}`)
      },
    })
  } catch (e) {
    process.stderr.write(`memseal run: ${(e as Error).message}\n`)
    return 125
  }
  if (args.json) {
    const text = `${JSON.stringify({ tool: { name: 'memseal', command: 'run' }, command: args.command, cwd, scratch: scratchRoot, results }, null, 2)}\n`
    if (args.json === '-') process.stdout.write(text)
    else writeFileSync(isAbsolute(args.json) ? args.json : resolve(args.json), text)
  }
  const status = runExitStatus(results)
  process.stderr.write(`memseal run: scratch directories under ${scratchRoot}\n`)
  if (!single || status === 125) {
    process.stderr.write(`memseal run: ${results.map((r) => `${r.label}: ${r.status === 'ok' ? `exit ${r.exitStatus}` : r.status}`).join(', ')}\n`)
  }
  return status
}
