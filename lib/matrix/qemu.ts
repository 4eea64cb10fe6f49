/**
 * Boots one kernel under qemu and runs the guest command: the host's root, the project and a
 * writable out directory are shared over virtio-9p, the console (ttyS0) is read from qemu's stdout
 * through a pipe (never a file qemu would open and clobber), and the guest's exit status and output
 * come back through the out share. Two deadlines apply: reaching /init, and finishing the run.
 */
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { archProfile } from './guest-arch'
import { MARK_EXIT, MARK_FAIL, MARK_INIT, MARK_RUN, TAG_HOST_ROOT, TAG_OUT, TAG_PROJECT } from './guest-init'
import { type GuestArch } from './specs'
import { type Accel } from './types'

export interface BootOptions {
  image: string
  initrd: string
  accel: Accel
  projectDir: string
  /** The guest's architecture; default amd64 (x86-64). */
  arch?: GuestArch
  /** The root shared as the guest's `/`: the host's own by default, or a foreign userland root. */
  rootDir?: string
  /** Directory under which a fresh out share is made (and removed afterwards). */
  workDir: string
  /** Milliseconds to reach the guest's /init. */
  initTimeoutMs: number
  /** Milliseconds for the whole boot and run. */
  timeoutMs: number
  smp?: number
  memory?: string
  qemu?: string
  /** Hears each console line as it arrives. */
  onConsole?: (line: string) => void
  onEvent?: (event: 'init' | 'run', atMs: number) => void
}

export type BootEnd = 'exited' | 'init-timeout' | 'timeout' | 'spawn-failed'

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
}

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
    ...fsdev(TAG_HOST_ROOT, o.rootDir ?? '/', true),
    ...fsdev(TAG_PROJECT, o.projectDir, true),
    ...fsdev(TAG_OUT, outDir, false),
  ]
}

export function boot(o: BootOptions): Promise<BootResult> {
  const outDir = mkdtempSync(join(o.workDir, 'out-'))
  const started = Date.now()
  let consoleText = ''
  let initMs: number | null = null
  let runAt: number | null = null
  let runMs: number | null = null
  let guestFailure: string | null = null
  let end: BootEnd = 'exited'
  let pending = ''

  return new Promise((resolve) => {
    const child = spawn(o.qemu ?? archProfile(o.arch ?? 'amd64').qemu, qemuArgs(o, outDir), { stdio: ['pipe', 'pipe', 'pipe'] })
    const kill = (why: BootEnd): void => {
      end = why
      child.kill('SIGKILL')
    }
    const initTimer = setTimeout(() => {
      if (initMs === null) kill('init-timeout')
    }, o.initTimeoutMs)
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
      const text = chunk.toString('utf8')
      consoleText = (consoleText + text).slice(-CONSOLE_KEEP)
      pending += text
      const lines = pending.split('\n')
      pending = lines.pop() ?? ''
      lines.forEach(onLine)
    }
    child.stdout.on('data', collect)
    child.stderr.on('data', (chunk: Buffer) => {
      consoleText = (consoleText + `[qemu] ${chunk.toString('utf8')}`).slice(-CONSOLE_KEEP)
    })
    child.on('error', (e) => {
      consoleText += `[qemu] ${e.message}\n`
      end = 'spawn-failed'
    })
    child.on('close', (status) => {
      clearTimeout(initTimer)
      clearTimeout(timer)
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
      }
      rmSync(outDir, { recursive: true, force: true })
      resolve(result)
    })
  })
}
