/**
 * `memseal matrix`: runs the conformance suite on the host and on other kernels booted under
 * qemu, and reports one table of clauses × kernels. `runMatrix` is the library call;
 * `matrixMain` is what the CLI dispatches `memseal matrix …` to.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, realpathSync } from 'node:fs'
import { machine as hostMachine, release } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { type AccelRequest } from './accel'
import { parseArgs, UsageError, USAGE } from './args'
import { defaultCacheDir } from './cache'
import { runFromBoot, runFromSetupError } from './collect'
import { haveCommand } from './exec'
import { type GuestJob } from './guest-init'
import { guestCommand, stageGuestPackage } from './guest-package'
import { runOnHost } from './host'
import { findBusybox } from './initramfs'
import { type KernelOutcome, runOnKernels, uniqueLabels } from './machine'
import { type Prepared } from './prepare'
import { type ProgressSink, silentProgress, stderrProgress } from './progress'
import { archProfile, isNativeArch } from './guest-arch'
import { projectShares } from './shares'
import { type GuestArch, parseSpec, specArch, specLabel } from './specs'
import { clauseOrder, summaryLine } from './table'
import { analyse } from './model'
import { emitMatrix } from './outputs'
import { type KernelRun, type MatrixReport } from './types'
import { GUEST_PACKAGE_DIR } from './userland'
import { usageErrorText } from '../cli/usage'

export { parseSpec } from './specs'
export { uniqueLabels } from './machine'

/** The per-clause time limit asked of the suite in an emulated foreign-architecture guest (ms). */
export const FOREIGN_CLAUSE_TIMEOUT_MS = 120_000
export type { MatrixReport, KernelRun } from './types'

export interface MatrixOptions {
  /** Kernel specs, see specs.ts. */
  kernels: string[]
  /** Run the suite on the host too (first column). Default true. */
  host?: boolean
  accel?: AccelRequest
  cacheDir?: string
  /** The project whose CLI runs in the guests; default: the package this file belongs to. */
  projectDir?: string
  /** argv run in each guest and on the host, from projectDir. Default: node dist/cli.js check --json. */
  command?: string[]
  /** Per kernel, boot and run together. Default 300 s. */
  timeoutMs?: number
  /** Per kernel, to reach the guest's /init. Default 120 s. */
  initTimeoutMs?: number
  refresh?: boolean
  onProgress?: ProgressSink
}

/** The package root: the nearest directory above this file with memseal's package.json. */
export function projectRoot(from: string = __dirname): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json')
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'memseal') return dir
    if (dirname(dir) === dir) return resolve(from, '..', '..')
  }
}

export function defaultCommand(): string[] {
  return [process.execPath, 'dist/cli.js', 'check', '--json']
}

/**
 * What the matrix needs on the host to boot guests of `arches`; each missing tool is named with
 * the package that has it.
 */
export function missingTools(arches: readonly GuestArch[] = ['amd64']): string[] {
  const missing: string[] = []
  const qemus = [...new Set(arches)].map((a): [string, string] => [archProfile(a).qemu, archProfile(a).qemuPackage])
  const need: [string, string][] = [...qemus, ['apt-get', 'apt'], ['dpkg', 'dpkg'], ['xz', 'xz-utils'], ['zstd', 'zstd']]
  for (const [cmd, pkg] of need) if (!haveCommand(cmd)) missing.push(`${cmd} (${pkg})`)
  // Only an x86-64 guest's initramfs takes the host's busybox; an arm64 one takes Debian's arm64 busybox-static.
  if (arches.includes('amd64')) {
    try {
      findBusybox()
    } catch {
      missing.push('busybox (busybox-static)')
    }
  }
  return missing
}

/**
 * The job the suite is in a guest: for a guest of the host's architecture, the package where it is on
 * the host (shared where the guest's root does not show it, with its dependencies and node); for a
 * foreign one, the package staged with that architecture's prebuild, run by the userland's node.
 */
export function matrixJob(kernel: Prepared, projectDir: string, command: string[]): GuestJob {
  if (isNativeArch(kernel.arch)) {
    const cwd = realpathSync(projectDir)
    return { command, cwd, shares: projectShares(cwd, command) }
  }
  const staged = stageGuestPackage(projectDir, kernel.arch, join(kernel.dir, 'package'))
  return {
    command: guestCommand(command),
    cwd: GUEST_PACKAGE_DIR,
    env: { MEMSEAL_CLAUSE_TIMEOUT_MS: String(FOREIGN_CLAUSE_TIMEOUT_MS) },
    shares: [{ hostPath: staged, guestPath: GUEST_PACKAGE_DIR, readonly: true }],
  }
}

export async function runMatrix(options: MatrixOptions): Promise<MatrixReport> {
  const progress = options.onProgress ?? silentProgress
  const cacheDir = options.cacheDir ?? defaultCacheDir()
  const projectDir = resolve(options.projectDir ?? projectRoot())
  const command = options.command ?? defaultCommand()
  const timeoutMs = options.timeoutMs ?? 300_000
  const initTimeoutMs = Math.min(options.initTimeoutMs ?? 120_000, timeoutMs)
  // x86-64 guests share the host's root, so they need an x86-64 host; arm64 guests bring their own
  // root and run under emulation anywhere.
  const specs = options.kernels.map(parseSpec)
  if (specs.some((spec) => specArch(spec) === 'amd64' && !isNativeArch('amd64'))) {
    throw new Error(`memseal matrix boots x86-64 kernels on an x86-64 host only; this host is ${process.arch}`)
  }
  const labels = uniqueLabels(specs.map(specLabel))
  const kernels: KernelRun[] = []
  const started = Date.now()

  // The host's own run (a second or two) goes while the first kernel is being prepared.
  const host =
    (options.host ?? true)
      ? (() => {
          const shown = command.join(' ')
          progress('host', `running ${shown.length > 80 ? `${shown.slice(0, 77)}...` : shown}`)
          return runOnHost(projectDir, command, timeoutMs).then((run) => {
            progress('host', summaryLine(run))
            return run
          })
        })()
      : null
  const { chooser } = await runOnKernels({
    kernels: options.kernels,
    accel: options.accel,
    cacheDir,
    timeoutMs,
    initTimeoutMs,
    refresh: options.refresh,
    job: (kernel) => matrixJob(kernel, projectDir, command),
    say: (i, m) => progress(labels[i]!, m),
    onOutcome: async (o) => {
      // The host goes first: its run ends before the first guest, which boots after it.
      if (host && kernels.length === 0) kernels.push(await host)
      const run = outcomeRun(o, timeoutMs)
      progress(o.label, summaryLine(run))
      kernels.push(run)
    },
  })
  if (host && kernels.length === 0) kernels.push(await host)

  return {
    tool: { name: 'memseal', command: 'matrix' },
    createdAt: new Date().toISOString(),
    host: { release: release(), machine: hostMachine() },
    accel: { requested: chooser.requested, used: chooser.used(), reason: chooser.reason },
    durationMs: Date.now() - started,
    kernels,
    clauses: clauseOrder(kernels),
  }
}

/** One column from a kernel's outcome. */
function outcomeRun(o: KernelOutcome, timeoutMs: number): KernelRun {
  if (!o.kernel || !o.boot || !o.accel) return runFromSetupError(o.spec, o.label, o.setupError ?? new Error('not booted'), 0)
  const run = runFromBoot(
    {
      spec: o.spec,
      label: o.label,
      imageNote: o.kernel.imageNote,
      release: o.kernel.release,
      packages: o.kernel.packages,
      accel: o.accel,
      accelError: o.accelError,
      fetchMs: o.kernel.fetchMs,
      prepareMs: o.kernel.prepareMs,
      timeoutMs,
    },
    o.boot,
  )
  return o.bootRetry ? { ...run, bootRetry: o.bootRetry } : run
}

/** Whether the matrix is clean: every kernel reported and nothing diverges or is broken (or known, strict). */
export function matrixPassed(m: MatrixReport, strict = false): boolean {
  return analyse(m, { strict }).verdict.passed
}

/** `memseal matrix …`; returns the exit status. */
export async function matrixMain(argv: string[]): Promise<number> {
  let args
  let arches: GuestArch[]
  try {
    args = parseArgs(argv)
    arches = [...new Set(args.kernels.map((k) => specArch(parseSpec(k))))]
  } catch (e) {
    process.stderr.write(usageErrorText(new UsageError((e as Error).message, 'matrix')))
    return 2
  }
  if (args.help) {
    process.stdout.write(`${USAGE}\n`)
    return 0
  }
  if (args.installDeps) {
    // The compiled package carries the script next to this file (dist/matrix); a source tree has it in scripts/.
    const shipped = join(__dirname, 'matrix-deps.sh')
    const script = existsSync(shipped) ? shipped : join(projectRoot(), 'scripts', 'matrix-deps.sh')
    // The script installs qemu for each guest architecture named (x86-64 always).
    if (spawnSync('sh', [script, ...arches.filter((a) => a !== 'amd64')], { stdio: ['ignore', 'inherit', 'inherit'] }).status !== 0) {
      process.stderr.write(`memseal matrix: ${script} failed\n`)
      return 1
    }
  }
  const missing = missingTools(arches)
  if (missing.length > 0) {
    process.stderr.write(`memseal matrix: missing ${missing.join(', ')}; run with --install-deps (Debian/Ubuntu) or install them\n`)
    return 1
  }
  let matrix: MatrixReport
  try {
    matrix = await runMatrix({
      kernels: args.kernels,
      host: args.host,
      accel: args.accel,
      cacheDir: args.cacheDir ?? undefined,
      command: args.command ?? undefined,
      timeoutMs: args.timeoutMs,
      refresh: args.refresh,
      onProgress: stderrProgress(),
    })
  } catch (e) {
    process.stderr.write(`memseal matrix: ${(e as Error).message}\n`)
    return 1
  }
  return emitMatrix(matrix, args) ? 0 : 1
}

export { UsageError }
export { runMain } from './run-main'
export { reportMain } from './report-main'
export { cacheMain } from './cache-main'
