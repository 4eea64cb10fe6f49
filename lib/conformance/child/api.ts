/**
 * What a clause's script can do inside its own child process (a private pid namespace, or a process
 * running as another user): the same door as Ctx, for code that must not run in the worker. Scripts are
 * compiled TypeScript functions, registered by name in a `*-scripts.ts` module beside the clauses:
 *
 *   export const scripts: Scripts = {
 *     lowerToZero: (ns) => ({ write: ns.setLevel(0), level: ns.level() }),
 *   }
 *
 * and run with `ctx.proc.run({ module: 'noexec-scripts', name: 'lowerToZero' }, args, { pidns: true })`.
 * vm.memfd_noexec is written only through setLevel(), which refuses unless this process is pid 1 of a
 * pid namespace it verified to be new and below its parent's (./main.ts): the host's value is never touched.
 */
import { closeSync, constants as fsc, fchmodSync, openSync, readFileSync, readlinkSync, writeSync } from 'node:fs'
import { constants as osc } from 'node:os'
import { errnoName } from '../../errors'
import { constants as C, native } from '../../native'
import type { CallRecord } from '../ctx'
import { readKmsg, type KmsgRecord } from '../kmsg'
import type { Json, Observation } from '../types'
import type { RunOptions, ScriptRef, ScriptResult } from './protocol'

const SYSCTL = '/proc/sys/vm/memfd_noexec'

export class ChildSetupError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'SetupError'
  }
}

/** A function a clause runs in its own process; its return value (JSON) is the clause's observation or part of it. */
export type ChildScript = (ns: ChildApi, args: Json) => Json | Promise<Json>
export type Scripts = Record<string, ChildScript>

export interface ChildApiOptions {
  /** The pid namespace this process verified to be new (null outside a namespace): setLevel needs it. */
  verifiedNamespace: string | null
  args: Json
  /** Sends a message to the parent and waits for its answer. */
  ask: (message: Json) => Json
  /** Runs a nested script (in a deeper namespace, for example) from this process. */
  run: (ref: ScriptRef, args: Json, options: RunOptions) => Promise<ScriptResult>
}

/** A part of a script's work, with the system calls that part made (for the seccomp attribution of one clause). */
export type StepResult = { obs: Json; calls: Json[] } | { setup: string; calls: Json[] }

/** CAP_SYS_ADMIN, bit 21 of the capability sets in /proc/self/status. */
const CAP_SYS_ADMIN = 21n

export class ChildApi {
  readonly C = C
  readonly ps = C.PAGE_SIZE
  readonly args: Json
  /** The system calls the script made, returned to the worker for the seccomp attribution. */
  readonly calls: CallRecord[] = []
  readonly #options: ChildApiOptions

  constructor(options: ChildApiOptions) {
    this.#options = options
    this.args = options.args
  }

  #sys(syscall: string, args: number[], ret: number): number {
    this.calls.push({ syscall, args, ret })
    return ret
  }

  /** Writes vm.memfd_noexec of this (verified, new) namespace: 'ok' or the errno code the write got. */
  setLevel(n: number): string {
    if (this.#options.verifiedNamespace === null || process.pid !== 1) throw new ChildSetupError('setLevel outside a verified private pid namespace')
    if (readlinkSync('/proc/self/ns/pid') !== this.#options.verifiedNamespace) throw new ChildSetupError('setLevel: not in the verified pid namespace')
    let fd: number | undefined
    try {
      fd = openSync(SYSCTL, fsc.O_WRONLY)
      writeSync(fd, String(n))
      return 'ok'
    } catch (err) {
      return (err as NodeJS.ErrnoException).code ?? 'EIO'
    } finally {
      if (fd !== undefined) closeSync(fd)
    }
  }

  /** vm.memfd_noexec as this namespace reads it. */
  level(): number {
    return Number(readFileSync(SYSCTL, 'utf8').trim())
  }

  /** memfd_create(name, flags | MFD_CLOEXEC): the fd or -errno (a null name is the bad pointer of the error-order cases). */
  memfd(flags: number, name: string | null = 'memseal-child'): number {
    return this.#sys('memfd_create', [flags | C.MFD_CLOEXEC], native.memfdCreate(name, flags | C.MFD_CLOEXEC))
  }

  /** The mode (octal text) and seals of an fd. */
  describe(fd: number): { mode: string; seals: number } {
    const stat = new Float64Array(4)
    this.need(this.#sys('fstat', [], native.fstat(fd, stat)) >= 0 ? 'ok' : 'EBADF', 'fstat')
    return { mode: (stat[3]! & 0o7777).toString(8).padStart(4, '0'), seals: this.fcntl(fd, C.F_GET_SEALS) }
  }

  /** memfd_create(flags) and the listed facts of what it made ({ errno } when it failed); the fd is closed. */
  create(flags: number, pick: ReadonlyArray<'mode' | 'seals'> = ['mode', 'seals'], name?: string): Observation {
    const fd = this.memfd(flags, name)
    if (fd < 0) return { errno: errnoName(fd) }
    const d = this.describe(fd)
    this.close(fd)
    return Object.fromEntries(pick.map((k) => [k, d[k]]))
  }

  /** fchmod(2) and the mode afterwards: { ret: 0 | errno, mode } (octal text). */
  chmod(fd: number, mode: number): Observation {
    let ret = 0
    try {
      fchmodSync(fd, mode)
    } catch (err) {
      const e = err as NodeJS.ErrnoException
      if (typeof e.errno !== 'number') throw err
      ret = e.errno
    }
    this.#sys('fchmod', [mode], ret)
    return { ...(ret === 0 ? { ret } : { errno: errnoName(ret) }), mode: this.describe(fd).mode }
  }

  /** Whether this process holds CAP_SYS_ADMIN in its effective set. */
  hasSysAdmin(): boolean {
    const hex = /^CapEff:\s*([0-9a-f]+)/m.exec(this.read('/proc/self/status'))?.[1]
    if (hex === undefined) throw new ChildSetupError('no CapEff line in /proc/self/status')
    return ((BigInt(`0x${hex}`) >> CAP_SYS_ADMIN) & 1n) === 1n
  }

  /** This process's pid in each pid namespace from /proc's down to its own (the NSpid line of /proc/self/status). */
  nspid(): number[] {
    const line = /^NSpid:\s*(.*)$/m.exec(this.read('/proc/self/status'))?.[1]
    if (line === undefined) throw new ChildSetupError('no NSpid line in /proc/self/status')
    return line.trim().split(/\s+/).map(Number)
  }

  /** A result as an observation: { ret } for a non-negative one, { errno: 'EPERM' } for -errno. */
  outcome(ret: number): Observation {
    return ret >= 0 ? { ret } : { errno: errnoName(ret) }
  }

  /** kill(getpid(), SIGSTOP): 0 or -errno. Whether the process stopped is for its parent to see. */
  stopSelf(): number {
    try {
      process.kill(process.pid, 'SIGSTOP')
      return this.#sys('kill', [osc.signals.SIGSTOP], 0)
    } catch (err) {
      const e = err as NodeJS.ErrnoException
      return this.#sys('kill', [osc.signals.SIGSTOP], typeof e.errno === 'number' ? e.errno : -1)
    }
  }

  /**
   * Runs one part of the script's work and returns what it observed with the system calls it made, or the
   * setup failure that stopped it: a script that serves several clauses gives each its own part.
   */
  async step(work: () => Json | Promise<Json>): Promise<StepResult> {
    const mark = this.calls.length
    const calls = (): Json[] => this.calls.slice(mark).map((c) => ({ syscall: c.syscall, args: c.args, ret: c.ret }))
    try {
      const obs = await work()
      return { obs, calls: calls() }
    } catch (err) {
      if (err instanceof ChildSetupError) return { setup: err.message, calls: calls() }
      throw err
    }
  }

  fcntl(fd: number, cmd: number, arg: number = 0): number {
    return this.#sys('fcntl', [cmd, arg], native.fcntl(fd, cmd, arg))
  }

  close(fd: number): void {
    native.close(fd)
  }

  /** Runs argv[0] from fd with execveat(2) in a forked child: its exit status, or -errno. */
  exec(fd: number, argv: string[]): number {
    return this.#sys('execveat', [], native.execveat(fd, argv))
  }

  /** Text of a file (for /proc). */
  read(path: string): string {
    return readFileSync(path, 'utf8')
  }

  /** The kernel log as records read from /dev/kmsg without blocking. */
  kmsg(): KmsgRecord[] {
    return readKmsg()
  }

  /** Sends a message to the parent and waits for its answer (a pipe handshake). */
  ask(message: Json): Json {
    return this.#options.ask(message)
  }

  /** Runs another script in its own process (a deeper pid namespace with { pidns: true }); its calls join this one's. */
  async run(ref: ScriptRef, args: Json = null, options: RunOptions = {}): Promise<Json> {
    try {
      const r = await this.#options.run(ref, args, options)
      this.calls.push(...r.calls)
      return r.result
    } catch (err) {
      this.calls.push(...((err as { calls?: CallRecord[] }).calls ?? []))
      throw err
    }
  }

  /** Fails the clause's setup unless `result` is 'ok'. */
  need(result: string, what: string): void {
    if (result !== 'ok') throw new ChildSetupError(`${what} failed: ${result}`)
  }

  setupFail(text: string): never {
    throw new ChildSetupError(text)
  }
}
