/**
 * Boots one kernel under qemu and runs one job in it: the root, a writable control share (the job
 * script, the command's output and exit status) and the job's extra shares go over virtio-9p; the
 * console (ttyS0) is read from qemu's stdout through a pipe (never a file qemu would open and
 * clobber). Deadlines apply to the first console output (a KVM that cannot run the guest shows
 * nothing), to reaching /init, and to the whole run; qemu's own stderr is kept apart, and a KVM
 * internal error in it ends the boot at once.
 */
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { archProfile } from './guest-arch'
import { type GuestJob, JOB_FILE, jobScript, MARK_EXIT, MARK_FAIL, MARK_INIT, MARK_RUN, TAG_OUT, TAG_ROOT, TAG_SHARE } from './guest-init'
import { type GuestArch } from './specs'
import { type Accel } from './types'

export interface BootOptions {
  image: string
  initrd: string
  accel: Accel
  job: GuestJob
  /** The guest's architecture; default amd64 (x86-64). */
  arch?: GuestArch
  /** The root shared as the guest's `/`: the host's own by default, or a foreign userland root. */
  rootDir?: string
  /** Directory under which a fresh out share is made (and removed afterwards). */
  workDir: string
  /** Milliseconds to reach the guest's /init. */
  initTimeoutMs: number
  /** Milliseconds until the guest prints anything at all; default: the init deadline. */
  firstOutputTimeoutMs?: number
  /** Keep the control share (the caller reads and removes it); default: removed after reading. */
  keepOutDir?: boolean
  /** Milliseconds for the whole boot and run. */
  timeoutMs: number
  smp?: number
  memory?: string
  qemu?: string
  /** Hears each console line as it arrives. */
  onConsole?: (line: string) => void
  onEvent?: (event: 'init' | 'run', atMs: number) => void
}

/**
 * How qemu ended: `accel-failed` when qemu reported that the accelerator cannot run the guest (a KVM
 * internal error), `silent` when the guest printed nothing before the first-output deadline.
 */
export type BootEnd = 'exited' | 'init-timeout' | 'timeout' | 'spawn-failed' | 'accel-failed' | 'silent'

export interface BootResult {
  end: BootEnd
  qemuStatus: number | null
  /** Milliseconds from spawn to the guest's init marker, null if it never came. */
  initMs: number | null
  /** Milliseconds from the run marker to the exit marker (the guest command's own duration). */
  runMs: number | null
  totalMs: number
  /** Exit status of the guest command, if it finished. */
  guestStatus: number | null
  guestFailure: string | null
  stdout: string
  stderr: string
  console: string
  /** What qemu itself wrote on its stderr. */
  qemuStderr: string
  /** The control share, when kept (keepOutDir). */
  outDir: string | null
}

/** qemu's words when KVM cannot run the guest; the VM is stopped, but qemu would wait forever. */
export const KVM_FAILURE_RE =
  /KVM internal error|failed to set MSR|failed to initialize kvm|Could not access KVM kernel module|kvm run failed|KVM_RUN|emulation failure/i

/** The qemu binary for this host's architecture. */
export function qemuBinary(arch: string = process.arch): string {
  return arch === 'arm64' ? 'qemu-system-aarch64' : 'qemu-system-x86_64'
}

const CONSOLE_KEEP = 256 * 1024

export function qemuArgs(o: BootOptions, outDir: string): string[] {
  const fsdev = (id: string, path: string, readonly: boolean): string[] => [
    '-fsdev',
    `local,id=${id},path=${path},security_model=none,multidevs=remap${readonly ? ',readonly=on' : ''}`,
    '-device',
    `virtio-9p-pci,fsdev=${id},mount_tag=${id}`,
  ]
  const profile = archProfile(o.arch ?? 'amd64')
  return [
    ...profile.machineArgs(o.accel),
    '-smp',
    String(o.smp ?? 2),
    '-m',
    o.memory ?? '2G',
    '-nodefaults',
    '-no-user-config',
    '-display',
    'none',
    '-monitor',
    'none',
    '-serial',
    'stdio',
    '-no-reboot',
    '-kernel',
    o.image,
    '-initrd',
    o.initrd,
    '-append',
    profile.append.join(' '),
    ...fsdev(TAG_ROOT, o.rootDir ?? '/', true),
    ...fsdev(TAG_OUT, outDir, false),
    ...o.job.shares.flatMap((share, i) => fsdev(`${TAG_SHARE}${i}`, share.hostPath, share.readonly)),
  ]
}

export function boot(o: BootOptions): Promise<BootResult> {
  const outDir = mkdtempSync(join(o.workDir, 'out-'))
  writeFileSync(join(outDir, JOB_FILE), jobScript(o.job))
  const started = Date.now()
  let consoleText = ''
  let qemuStderr = ''
  let sawOutput = false
  let initMs: number | null = null
  let runAt: number | null = null
  let runMs: number | null = null
  let guestFailure: string | null = null
  let end: BootEnd = 'exited'
  let pending = ''

  return new Promise((resolve) => {
    const child = spawn(o.qemu ?? archProfile(o.arch ?? 'amd64').qemu, qemuArgs(o, outDir), { stdio: ['pipe', 'pipe', 'pipe'] })
    let killed = false
    let accelTimer: NodeJS.Timeout | null = null
    const kill = (why: BootEnd): void => {
      if (killed) return
      killed = true
      end = why
      child.kill('SIGKILL')
    }
    const initTimer = setTimeout(() => {
      if (initMs === null) kill('init-timeout')
    }, o.initTimeoutMs)
    const firstTimer = setTimeout(() => {
      if (!sawOutput) kill('silent')
    }, o.firstOutputTimeoutMs ?? o.initTimeoutMs)
    const timer = setTimeout(() => kill('timeout'), o.timeoutMs)
    const onLine = (raw: string): void => {
      const line = raw.replace(/\r$/, '')
      const now = Date.now() - started
      if (initMs === null && line.includes(MARK_INIT)) {
        initMs = now
        o.onEvent?.('init', now)
      } else if (runAt === null && line.includes(MARK_RUN)) {
        runAt = now
        o.onEvent?.('run', now)
      } else if (line.includes(MARK_EXIT) && runAt !== null) {
        runMs = now - runAt
      } else if (line.includes(MARK_FAIL)) {
        guestFailure = line.slice(line.indexOf(MARK_FAIL) + MARK_FAIL.length).replace(/^:\s*/, '')
      }
      o.onConsole?.(line)
    }
    const collect = (chunk: Buffer): void => {
      sawOutput = true
      const text = chunk.toString('utf8')
      consoleText = (consoleText + text).slice(-CONSOLE_KEEP)
      pending += text
      const lines = pending.split('\n')
      pending = lines.pop() ?? ''
      lines.forEach(onLine)
    }
    child.stdout.on('data', collect)
    child.stderr.on('data', (chunk: Buffer) => {
      const text = chunk.toString('utf8')
      qemuStderr = (qemuStderr + text).slice(-CONSOLE_KEEP)
      consoleText = (consoleText + `[qemu] ${text}`).slice(-CONSOLE_KEEP)
      // A KVM internal error stops the VM but leaves qemu waiting on its monitor: end it, once the
      // lines that say what failed ("emulation failure") have had a moment to arrive.
      if (o.accel === 'kvm' && !killed && !accelTimer && KVM_FAILURE_RE.test(qemuStderr)) accelTimer = setTimeout(() => kill('accel-failed'), 200)
    })
    child.on('error', (e) => {
      consoleText += `[qemu] ${e.message}\n`
      qemuStderr += `${e.message}\n`
      end = 'spawn-failed'
    })
    child.on('close', (status) => {
      clearTimeout(initTimer)
      clearTimeout(firstTimer)
      clearTimeout(timer)
      if (accelTimer) clearTimeout(accelTimer)
      if (pending) onLine(pending)
      const read = (f: string): string => (existsSync(join(outDir, f)) ? readFileSync(join(outDir, f), 'utf8') : '')
      const statusText = read('status').trim()
      const result: BootResult = {
        end,
        qemuStatus: status,
        initMs,
        runMs,
        totalMs: Date.now() - started,
        guestStatus: statusText === '' ? null : Number(statusText),
        guestFailure,
        stdout: read('stdout'),
        stderr: read('stderr'),
        console: consoleText,
        qemuStderr,
        outDir: o.keepOutDir ? outDir : null,
      }
      if (!o.keepOutDir) rmSync(outDir, { recursive: true, force: true })
      resolve(result)
    })
  })
}
