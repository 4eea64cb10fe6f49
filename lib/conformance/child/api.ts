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
import { closeSync, constants as fsc, openSync, readFileSync, readlinkSync, writeSync } from 'node:fs'
import { errnoName } from '../../errors'
import { constants as C, native } from '../../native'
import type { CallRecord } from '../ctx'
import { readKmsg, type KmsgRecord } from '../kmsg'
import type { Json, Observation } from '../types'
import type { RunOptions, ScriptRef } from './protocol'

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
  run: (ref: ScriptRef, args: Json, options: RunOptions) => Promise<Json>
}

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

  /** memfd_create(name, flags | MFD_CLOEXEC): the fd or -errno. */
  memfd(flags: number, name = 'memseal-child'): number {
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

  /** Runs another script in its own process (a deeper pid namespace with { pidns: true }). */
  run(ref: ScriptRef, args: Json = null, options: RunOptions = {}): Promise<Json> {
    return this.#options.run(ref, args, options)
  }

  /** Fails the clause's setup unless `result` is 'ok'. */
  need(result: string, what: string): void {
    if (result !== 'ok') throw new ChildSetupError(`${what} failed: ${result}`)
  }

  setupFail(text: string): never {
    throw new ChildSetupError(text)
  }
}
