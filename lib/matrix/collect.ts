/**
 * Reads what a guest (or the host) produced: the JSON report of `memseal check --json`, and turns a
 * boot's outcome into one column of the matrix with a status, a one-line error and the console tail.
 */
import { lastLines } from './exec'
import { type BootResult } from './qemu'
import { type Accel, type ClauseStatus, type GuestReport, type GuestResult, type KernelRun, type KernelTiming, type RunStatus } from './types'

export const CLAUSE_STATUSES: readonly ClauseStatus[] = ['pass', 'diverges', 'known', 'skip', 'broken']

const CONSOLE_TAIL_LINES = 40
const STDERR_TAIL_LINES = 20

export class ReportError extends Error {}

/** Parses and checks the report a `check --json` run printed. */
export function parseReport(stdout: string): GuestReport {
  const text = stdout.trim()
  if (text === '') throw new ReportError('the command printed nothing on stdout')
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (e) {
    throw new ReportError(`stdout is not JSON (${(e as Error).message}): ${JSON.stringify(text.slice(0, 120))}`)
  }
  const report = value as Partial<GuestReport>
  if (typeof report !== 'object' || report === null) throw new ReportError('the report is not a JSON object')
  if (typeof report.kernel?.release !== 'string') throw new ReportError('the report has no kernel.release')
  const results = report.results ?? []
  if (!Array.isArray(results)) throw new ReportError("the report's results is not an array")
  results.forEach((r: GuestResult, i: number) => {
    if (typeof r?.id !== 'string' || !CLAUSE_STATUSES.includes(r.status)) {
      throw new ReportError(`results[${i}] has no id or an unknown status ${JSON.stringify(r?.status)}`)
    }
  })
  return { ...report, kernel: report.kernel, results }
}

/** The errno name an observation mentions (`-1/EPERM`, `EPERM`, `{ code: 'EPERM' }`), if any. */
export function errnoOf(observed: unknown): string | null {
  if (observed === null || observed === undefined) return null
  if (typeof observed === 'object') {
    const code = (observed as { code?: unknown; errno?: unknown }).code ?? (observed as { errno?: unknown }).errno
    if (typeof code === 'string' && /^E[A-Z0-9]+$/.test(code)) return code
  }
  const text = typeof observed === 'string' ? observed : JSON.stringify(observed)
  return /\b(E[A-Z][A-Z0-9]+)\b/.exec(text)?.[1] ?? null
}

/** `6.1.0-44-amd64` → [6, 1, 0]. */
export function versionOfRelease(release: string): number[] | null {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(release)
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : null
}

function tail(text: string, n: number): string {
  // Serial consoles carry \r and the odd escape sequence; the report wants plain lines.
  // eslint-disable-next-line no-control-regex -- ESC starts the sequences removed here
  return lastLines(text.replace(/\r/g, '').replace(/\x1b\[[0-9;?]*[A-Za-z]/g, ''), n)
}

export interface RunContext {
  spec: string
  label: string
  imageNote: string | null
  release: string | null
  packages: string[]
  accel: Accel
  /** Why the accelerator could not run the guest (qemu's words and the advice), when it could not. */
  accelError?: string | null
  fetchMs: number
  prepareMs: number
  timeoutMs: number
}

function timing(c: RunContext, boot: BootResult | null): KernelTiming {
  const runMs = boot?.runMs ?? null
  return {
    fetchMs: c.fetchMs,
    prepareMs: c.prepareMs,
    bootMs: boot?.initMs ?? null,
    runMs,
    totalMs: c.fetchMs + c.prepareMs + (boot?.totalMs ?? 0),
  }
}

/**
 * Why a boot did not run its command to the end, or null when the command ran and exited (whatever
 * its status): the one classification `memseal matrix` and `memseal run` share.
 */
export function bootFailure(c: Pick<RunContext, 'accel' | 'accelError' | 'timeoutMs'>, boot: BootResult): { status: RunStatus; error: string } | null {
  const qemuEnd = boot.qemuStatus === null ? 'qemu ended by a signal' : `qemu exited with status ${boot.qemuStatus}`
  const qemuSaid = boot.qemuStderr.trim().split('\n')[0] ?? ''
  if (boot.end === 'spawn-failed') return { status: 'boot-failed', error: `qemu could not be started: ${qemuSaid}` }
  if (boot.end === 'accel-failed' || boot.end === 'silent') {
    return { status: 'boot-failed', error: c.accelError ?? `${c.accel.toUpperCase()} could not run the guest: ${qemuSaid || 'no output'}` }
  }
  if (boot.end === 'init-timeout') return { status: 'timeout', error: `the guest did not reach /init within ${Math.round(boot.totalMs / 1000)} s` }
  if (boot.end === 'timeout') {
    const stage = boot.initMs === null ? 'reach /init' : 'finish'
    return { status: 'timeout', error: `the guest did not ${stage} within ${Math.round(c.timeoutMs / 1000)} s` }
  }
  // Under KVM, qemu may abort by itself (an assertion) before it is stopped: the same failure.
  if (boot.initMs === null && c.accel === 'kvm' && c.accelError) return { status: 'boot-failed', error: c.accelError }
  if (boot.initMs === null) return { status: 'boot-failed', error: `the guest never reached /init (${qemuEnd}${qemuSaid ? `: ${qemuSaid}` : ''})` }
  if (boot.guestFailure !== null) return { status: 'boot-failed', error: `the guest init failed: ${boot.guestFailure}` }
  if (boot.guestStatus === null) return { status: 'no-report', error: `the guest command did not finish (${qemuEnd})` }
  return null
}

/** The last lines of a console (escape sequences and carriage returns removed) and of a command's stderr. */
export function failureTail(boot: BootResult): string {
  return [
    tail(boot.console, CONSOLE_TAIL_LINES) || '(no console output)',
    boot.stderr.trim() ? `--- guest command stderr ---\n${tail(boot.stderr, STDERR_TAIL_LINES)}` : '',
  ]
    .filter((s) => s !== '')
    .join('\n')
}

/** One column from a finished boot. */
export function runFromBoot(c: RunContext, boot: BootResult): KernelRun {
  const fail = (status: RunStatus, error: string): KernelRun => ({
    spec: c.spec,
    label: c.label,
    status,
    release: c.release,
    version: c.release ? versionOfRelease(c.release) : null,
    accel: c.accel,
    packages: c.packages,
    timing: timing(c, boot),
    error: c.imageNote ? `${error}; ${c.imageNote}` : error,
    consoleTail: failureTail(boot),
    environment: null,
    report: null,
  })
  const failure = bootFailure(c, boot)
  if (failure) return fail(failure.status, failure.error)
  if (boot.guestStatus === null) return fail('no-report', 'the guest command did not finish')
  if (boot.guestStatus !== 0 && boot.guestStatus !== 1) {
    return fail('no-report', `the guest command exited with status ${boot.guestStatus}`)
  }
  let report: GuestReport
  try {
    report = parseReport(boot.stdout)
  } catch (e) {
    return fail('no-report', (e as Error).message)
  }
  return {
    spec: c.spec,
    label: c.label,
    status: 'ok',
    release: report.kernel.release,
    version: report.kernel.version ?? versionOfRelease(report.kernel.release),
    accel: c.accel,
    packages: c.packages,
    timing: timing(c, boot),
    error: null,
    consoleTail: null,
    environment: report.environment ?? null,
    report,
  }
}

/** A column for a kernel that could not even be fetched or prepared. */
export function runFromSetupError(spec: string, label: string, error: Error, fetchMs: number): KernelRun {
  return {
    spec,
    label,
    status: 'fetch-failed',
    release: null,
    version: null,
    accel: null,
    packages: [],
    timing: { fetchMs, prepareMs: 0, bootMs: null, runMs: null, totalMs: fetchMs },
    error: error.message.split('\n')[0] ?? '',
    consoleTail: error.message.includes('\n') ? error.message : null,
    environment: null,
    report: null,
  }
}
