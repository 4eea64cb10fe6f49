/**
 * The machinery shared by `memseal matrix` and `memseal run`: prepare each kernel (kernel i+1 is
 * fetched and unpacked while kernel i boots), choose the accelerator, boot each kernel one after
 * another with the job the caller builds for it, and hand back what each boot produced.
 */
import { rmSync } from 'node:fs'
import { AccelChooser, type AccelRequest, kvmAdvice } from './accel'
import { cacheSubdir } from './cache'
import { type GuestJob } from './guest-init'
import { archProfile, isNativeArch } from './guest-arch'
import { type Prepared, prepareKernel } from './prepare'
import { boot, type BootResult, KVM_FAILURE_RE } from './qemu'
import { debianArch, type GuestArch, type KernelSpec, parseSpec, specArch, specLabel } from './specs'
import { type Accel } from './types'

export interface MachineOptions {
  /** Kernel specs (specs.ts). */
  kernels: string[]
  accel?: AccelRequest
  cacheDir: string
  /** Per kernel, boot and run together. */
  timeoutMs: number
  /** Per kernel, to reach the guest's /init. */
  initTimeoutMs: number
  refresh?: boolean
  /** The job to run on a prepared kernel. */
  job: (kernel: Prepared, index: number) => GuestJob
  /** Keep each boot's control share (stdout, stderr, status); the caller removes it. */
  keepOutDir?: boolean
  /** Progress for the kernel at `index` (its label is `labels[index]`). */
  say?: (index: number, message: string) => void
  /** Hears each kernel's outcome as soon as it is known, in order. */
  onOutcome?: (outcome: KernelOutcome) => void | Promise<void>
}

/** What happened to one kernel. */
export interface KernelOutcome {
  index: number
  spec: string
  label: string
  arch: GuestArch
  /** Null when fetching or preparing failed (`setupError` says why). */
  kernel: Prepared | null
  setupError: Error | null
  boot: BootResult | null
  accel: Accel | null
  /** Why the accelerator failed, when it did (qemu's own words and the advice). */
  accelError: string | null
  /** When the kernel crashed before /init and was booted once more: the first attempt's crash, in one line. */
  bootRetry?: string | null
}

/** Column names must differ; a repeated one gets its position appended. */
export function uniqueLabels(labels: string[]): string[] {
  return labels.map((l, i) => (labels.indexOf(l) === i && l !== 'host' ? l : `${l}#${i + 1}`))
}

/** The first lines of qemu's stderr that say what went wrong with KVM, else its first line. */
export function qemuComplaint(stderr: string): string | null {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
  const at = lines.findIndex((l) => KVM_FAILURE_RE.test(l))
  if (at < 0) return lines[0] ?? null
  // "KVM internal error. Suberror: 1" is followed by what it was ("emulation failure"), then registers.
  const next = lines[at + 1]
  return next !== undefined && /emulation failure|suberror|extra data/i.test(next) ? `${lines[at]!} ${next}` : lines[at]!
}

/** Why a boot under `accel` did not reach /init, in one line. */
function bootDetail(result: BootResult, accel: Accel, firstOutputMs: number): string {
  const qemu = qemuComplaint(result.qemuStderr)
  if (result.end === 'accel-failed' && qemu) return qemu
  if (result.end === 'silent') return `the guest printed nothing within ${(firstOutputMs / 1000).toFixed(0)} s under ${accel.toUpperCase()}`
  if (qemu) return qemu
  return result.end === 'exited' ? `qemu exited with status ${result.qemuStatus}` : result.end
}

export async function runOnKernels(o: MachineOptions): Promise<{ outcomes: KernelOutcome[]; chooser: AccelChooser; labels: string[] }> {
  const specs: KernelSpec[] = o.kernels.map(parseSpec)
  const arches = specs.map((spec) => specArch(spec))
  const labels = uniqueLabels(specs.map(specLabel))
  const chooser = new AccelChooser(o.accel ?? 'auto')
  const say = (i: number, m: string): void => o.say?.(i, m)

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
            cacheDir: o.cacheDir,
            arch,
            flavour,
            refresh: o.refresh,
            onProgress: (m) => say(i, m),
            mirror: process.env.MEMSEAL_DEBIAN_MIRROR,
            securityMirror: process.env.MEMSEAL_DEBIAN_SECURITY_MIRROR,
          }),
        )
        .catch((e: unknown) => (e instanceof Error ? e : new Error(String(e)))),
    )
  })

  const workDir = cacheSubdir(o.cacheDir, 'runs')
  const outcomes: KernelOutcome[] = []
  for (const [i, spec] of specs.entries()) {
    const kernel = await prepared[i]!
    const base = { index: i, spec: spec.spec, label: labels[i]!, arch: arches[i]! }
    let outcome: KernelOutcome
    if (kernel instanceof Error) {
      outcome = { ...base, kernel: null, setupError: kernel, boot: null, accel: null, accelError: null }
    } else {
      let job: GuestJob | Error
      try {
        job = o.job(kernel, i)
      } catch (e) {
        job = e instanceof Error ? e : new Error(String(e))
      }
      outcome =
        job instanceof Error
          ? { ...base, kernel, setupError: job, boot: null, accel: null, accelError: null }
          : { ...base, kernel, setupError: null, ...(await bootOne(kernel, job, chooser, o, workDir, (m) => say(i, m))) }
    }
    outcomes.push(outcome)
    await o.onOutcome?.(outcome)
  }
  return { outcomes, chooser, labels }
}

/** Boots a kernel with the acceleration the chooser plans (KVM falling back to TCG), once more if it crashed early. */
async function bootOne(
  kernel: Prepared,
  job: GuestJob,
  chooser: AccelChooser,
  o: MachineOptions,
  workDir: string,
  say: (m: string) => void,
): Promise<{ boot: BootResult; accel: Accel; accelError: string | null; bootRetry: string | null }> {
  const first = await bootWithPlan(kernel, job, chooser, o, workDir, say)
  const crash = first.boot.initMs === null ? earlyCrash(first.boot.console) : null
  if (crash === null) return { ...first, bootRetry: null }
  // Under emulation an early boot can die of the emulator rather than the kernel (qemu's multi-threaded TCG
  // and the kernel patching its own text while another vCPU runs it: an "Oops: int3" in a static key, seen
  // here about once in fifty boots). A kernel that crashes before /init is booted once more, under the same
  // acceleration; a kernel that really cannot boot crashes again and is reported so. A retry that boots is
  // recorded in the report, never hidden.
  if (first.boot.outDir) rmSync(first.boot.outDir, { recursive: true, force: true })
  say(`crashed before /init (${crash}); booting once more under ${first.accel.toUpperCase()}`)
  const second = await bootWithPlan(kernel, job, chooser, o, workDir, say, [first.accel])
  return { ...second, bootRetry: second.boot.initMs !== null ? crash : null }
}

/** The first line of a kernel crash on a console (an oops, a BUG, a panic), or null when there is none. */
export function earlyCrash(console: string): string | null {
  const line = console.split('\n').find((l) => /\b(Oops:|BUG:|Kernel panic|general protection fault)/.test(l))
  return line === undefined
    ? null
    : line
        .replace(/^\[\s*[\d.]+\]\s*/, '')
        .replace(/\r/g, '')
        .trim()
}

async function bootWithPlan(
  kernel: Prepared,
  job: GuestJob,
  chooser: AccelChooser,
  o: MachineOptions,
  workDir: string,
  say: (m: string) => void,
  only?: Accel[],
): Promise<{ boot: BootResult; accel: Accel; accelError: string | null }> {
  // A foreign-architecture guest is emulated whatever the host's KVM can do, and says nothing about it.
  const native = isNativeArch(kernel.arch)
  const plan: Accel[] = only ?? (native ? chooser.plan() : ['tcg'])
  let accelError: string | null = null
  for (const [n, accel] of plan.entries()) {
    say(`booting ${kernel.release ?? kernel.image} under ${accel.toUpperCase()}${native ? '' : ` (${kernel.arch} emulated)`}`)
    const firstOutputMs = native ? chooser.firstOutputTimeoutFor(accel, o.initTimeoutMs) : o.initTimeoutMs
    const result = await boot({
      image: kernel.image,
      initrd: kernel.initrd,
      accel,
      job,
      workDir,
      arch: kernel.arch,
      rootDir: kernel.rootDir ?? undefined,
      initTimeoutMs: native ? chooser.initTimeoutFor(accel, o.initTimeoutMs) : o.initTimeoutMs,
      firstOutputTimeoutMs: firstOutputMs,
      timeoutMs: o.timeoutMs,
      keepOutDir: o.keepOutDir,
      onEvent: (event, at) => say(event === 'init' ? `reached /init after ${(at / 1000).toFixed(1)} s` : 'running the command'),
    })
    const reached = result.initMs !== null
    const detail = bootDetail(result, accel, firstOutputMs)
    if (native) chooser.observe(accel, { reachedInit: reached, detail })
    if (accel === 'kvm' && !reached) accelError = kvmAdvice(detail)
    if (reached || n === plan.length - 1) return { boot: result, accel, accelError: reached ? null : accelError }
    if (result.outDir) rmSync(result.outDir, { recursive: true, force: true })
    say(`KVM failed after ${(result.totalMs / 1000).toFixed(1)} s (qemu: ${detail}); booting again under ${plan[n + 1]!.toUpperCase()}`)
  }
  throw new Error('no acceleration planned')
}
