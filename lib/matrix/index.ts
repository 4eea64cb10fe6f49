/**
 * `memseal matrix`: runs the conformance suite on the host and on other kernels booted under
 * qemu, and reports one table of clauses × kernels. `runMatrix` is the library call;
 * `matrixMain` is what the CLI dispatches `memseal matrix …` to.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { machine, release } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { AccelChooser, type AccelRequest } from './accel'
import { parseArgs, UsageError, USAGE } from './args'
import { defaultCacheDir, cacheSubdir } from './cache'
import { runFromBoot, runFromSetupError } from './collect'
import { haveCommand, lastLines } from './exec'
import { runOnHost } from './host'
import { findBusybox } from './initramfs'
import { type Prepared, prepareKernel } from './prepare'
import { type ProgressSink, silentProgress, stderrProgress } from './progress'
import { archProfile, isNativeArch } from './guest-arch'
import { boot, type BootResult } from './qemu'
import { debianArch, type GuestArch, parseSpec, specArch, specLabel } from './specs'
import { buildCells, clauseOrder, renderJson, renderMarkdown, summaryLine } from './table'
import { type Accel, type KernelRun, type MatrixReport } from './types'

export { parseSpec } from './specs'
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

export async function runMatrix(options: MatrixOptions): Promise<MatrixReport> {
  const progress = options.onProgress ?? silentProgress
  const cacheDir = options.cacheDir ?? defaultCacheDir()
  const projectDir = resolve(options.projectDir ?? projectRoot())
  const command = options.command ?? defaultCommand()
  const timeoutMs = options.timeoutMs ?? 300_000
  const initTimeoutMs = Math.min(options.initTimeoutMs ?? 120_000, timeoutMs)
  const specs = options.kernels.map(parseSpec)
  // x86-64 guests share the host's root, so they need an x86-64 host; arm64 guests bring their own
  // root and run under emulation anywhere.
  const arches = specs.map((spec) => specArch(spec))
  const badArch = arches.find((a) => a === 'amd64' && !isNativeArch(a))
  if (badArch) throw new Error(`memseal matrix boots x86-64 kernels on an x86-64 host only; this host is ${process.arch}`)
  const chooser = new AccelChooser(options.accel ?? 'auto')
  const kernels: KernelRun[] = []
  const started = Date.now()
  const labels = uniqueLabels(specs.map(specLabel))
  const say =
    (i: number) =>
    (m: string): void =>
      progress(labels[i]!, m)

  // Downloads are network-bound and boots CPU-bound, so kernel i+1 is fetched and unpacked while
  // kernel i boots; the kernels themselves boot one after another.
  const prepared: Promise<Prepared | Error>[] = []
  specs.forEach((spec, i) => {
    const previous = prepared[i - 1] ?? Promise.resolve(null)
    const { arch, flavour } = debianArch(archProfile(arches[i]!).nodeArch)
    prepared.push(
      previous
        .then(() =>
          prepareKernel(spec, {
            cacheDir,
            arch,
            flavour,
            refresh: options.refresh,
            projectDir,
            command,
            onProgress: say(i),
            mirror: process.env.MEMSEAL_DEBIAN_MIRROR,
            securityMirror: process.env.MEMSEAL_DEBIAN_SECURITY_MIRROR,
          }),
        )
        .catch((e: unknown) => (e instanceof Error ? e : new Error(String(e)))),
    )
  })

  if (options.host ?? true) {
    const shown = command.join(' ')
    progress('host', `running ${shown.length > 80 ? `${shown.slice(0, 77)}...` : shown}`)
    const host = await runOnHost(projectDir, command, timeoutMs)
    progress('host', summaryLine(host))
    kernels.push(host)
  }

  const workDir = cacheSubdir(cacheDir, 'runs')
  for (const [i, spec] of specs.entries()) {
    const t0 = Date.now()
    const kernel = await prepared[i]!
    if (kernel instanceof Error) {
      const run = runFromSetupError(spec.spec, labels[i]!, kernel, Date.now() - t0)
      say(i)(summaryLine(run))
      kernels.push(run)
      continue
    }
    const { result, accel } = await bootWithChooser(kernel, chooser, {
      workDir,
      timeoutMs,
      initTimeoutMs,
      say: say(i),
    })
    const run = runFromBoot(
      {
        spec: spec.spec,
        label: labels[i]!,
        imageNote: kernel.imageNote,
        release: kernel.release,
        packages: kernel.packages,
        accel,
        fetchMs: kernel.fetchMs,
        prepareMs: kernel.prepareMs,
        timeoutMs,
      },
      result,
    )
    say(i)(summaryLine(run))
    kernels.push(run)
  }

  return {
    tool: { name: 'memseal', command: 'matrix' },
    createdAt: new Date().toISOString(),
    host: { release: release(), machine: machine() },
    accel: { requested: chooser.requested, used: chooser.used(), reason: chooser.reason },
    durationMs: Date.now() - started,
    kernels,
    clauses: clauseOrder(kernels),
  }
}

/** Boots a kernel with the acceleration the chooser plans, retrying under TCG if KVM fails. */
async function bootWithChooser(
  kernel: Prepared,
  chooser: AccelChooser,
  o: { workDir: string; timeoutMs: number; initTimeoutMs: number; say: (m: string) => void },
): Promise<{ result: BootResult; accel: Accel }> {
  // A foreign-architecture guest is emulated whatever the host's KVM can do, and says nothing about it.
  const native = isNativeArch(kernel.arch)
  const plan: Accel[] = native ? chooser.plan() : ['tcg']
  for (const [n, accel] of plan.entries()) {
    o.say(`booting ${kernel.release ?? kernel.image} under ${accel.toUpperCase()}${native ? '' : ` (${kernel.arch} emulated)`}`)
    const result = await boot({
      image: kernel.image,
      initrd: kernel.initrd,
      accel,
      projectDir: kernel.projectDir,
      workDir: o.workDir,
      arch: kernel.arch,
      rootDir: kernel.rootDir ?? undefined,
      initTimeoutMs: native ? chooser.initTimeoutFor(accel, o.initTimeoutMs) : o.initTimeoutMs,
      timeoutMs: o.timeoutMs,
      onEvent: (event, at) => o.say(event === 'init' ? `reached /init after ${(at / 1000).toFixed(1)} s` : 'running the suite'),
    })
    const reached = result.initMs !== null
    const last =
      lastLines(result.console, 1)
        .replace(/^\[qemu\] /, '')
        .trim() || `ended: ${result.end}`
    if (native) chooser.observe(accel, reached, last)
    if (reached || n === plan.length - 1) return { result, accel }
    o.say(`${accel.toUpperCase()} did not reach /init (${last}); trying ${plan[n + 1]!.toUpperCase()}`)
  }
  throw new Error('no acceleration planned')
}

/** Column names must differ; a repeated one gets its position appended. */
export function uniqueLabels(labels: string[]): string[] {
  return labels.map((l, i) => (labels.indexOf(l) === i && l !== 'host' ? l : `${l}#${i + 1}`))
}

/** Whether the matrix is clean: every kernel reported and nothing diverges or is broken. */
export function matrixPassed(m: MatrixReport): boolean {
  return m.kernels.every((k) => k.status === 'ok' && !k.report!.results.some((r) => r.status === 'diverges' || r.status === 'broken'))
}

function write(target: string, text: string): void {
  if (target === '-') process.stdout.write(text)
  else writeFileSync(target, text)
}

/** `memseal matrix …`; returns the exit status. */
export async function matrixMain(argv: string[]): Promise<number> {
  let args
  let arches: GuestArch[]
  try {
    args = parseArgs(argv)
    arches = [...new Set(args.kernels.map((k) => specArch(parseSpec(k))))]
  } catch (e) {
    process.stderr.write(`memseal matrix: ${(e as Error).message}\n\n${USAGE}\n`)
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
  const cells = buildCells(matrix.kernels, matrix.clauses)
  if (args.json) write(args.json, renderJson(matrix, cells))
  if (args.markdown || !args.json) write(args.markdown ?? '-', `${renderMarkdown(matrix, cells)}\n`)
  return matrixPassed(matrix) ? 0 : 1
}

export { UsageError }
