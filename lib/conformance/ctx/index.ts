/**
 * The one door between a clause and the kernel. A clause reaches the kernel only through its Ctx, which
 *   - records every system call it makes (name, the arguments a seccomp filter matches on, the result),
 *     so that an answer a filter gave instead of the kernel is told apart for every clause alike
 *     (lib/kernel/seccomp.ts, applied by the worker);
 *   - verifies the effect of every setup step (the size after a resize, the mode after a chmod, the seals
 *     after adding them, the permissions after a protection change …): a step whose effect is missing
 *     throws SetupError, naming what was seen, and the clause is `broken`, never a test of something else;
 *   - returns, for every call under test (`ctx.try.*`), what the kernel answered together with the effect
 *     the call promises (the size, the mode, the seals, the permissions, the seal on the VMA …), so that a
 *     call that "succeeds" and does nothing cannot pass;
 *   - owns every fd and mapping the clause makes, releases them when the clause ends, and fences what a
 *     sealing clause leaves behind (./fences.ts);
 *   - carries the facts of the run (kernel version, features, environment, kernel config): clauses take
 *     nothing from anywhere else.
 * The operations live in ./files.ts (memfds, seals, file calls), ./memory.ts (mappings) and
 * ./process.ts (children, exec, limits, namespaces); this file holds the record-keeping they share.
 */
import { errnoName } from '../../errors'
import { constants, type RawRegion, type Target } from '../../native'
import type { KernelFacts, Observation } from '../types'
import { type Fences } from './fences'
import { AddressLedger } from './ledger'
import { FileOps, type FileAttempts } from './files'
import { MemoryOps, type MemoryAttempts } from './memory'
import { ProcessOps, type ProcessAttempts } from './process'

/** Setup that failed, or whose effect was not there: the clause is `broken` (or a seccomp skip, see the worker). */
export class SetupError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'SetupError'
  }
}

/** One system call a clause made through its Ctx. */
export interface CallRecord {
  syscall: string
  /** The arguments a seccomp filter matches on (command, flags, protection, advice …), for the canary. */
  args: number[]
  /** The result, or -errno. */
  ret: number
}

/** { ret } for a non-negative result, { errno: 'EPERM' } for -errno. */
export function outcome(ret: number): Observation {
  return ret >= 0 ? { ret } : { errno: errnoName(ret) }
}

/** Runs a node:fs call and turns what it throws into -errno (Node's `err.errno` is already negative). */
export function errnoOf<T>(fn: () => T): T | number {
  try {
    return fn()
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    if (typeof e.errno === 'number' && e.errno < 0 && typeof e.code === 'string' && /^E[A-Z0-9]+$/.test(e.code)) return e.errno
    throw err
  }
}

export class Ctx {
  /** The ABI's constants (numbers from the C headers). */
  readonly C = constants
  /** Page size. */
  readonly ps = constants.PAGE_SIZE
  /** The kernel, its features, the environment and the kernel config this run judges by. */
  readonly facts: KernelFacts
  /** The calls under test: each returns the kernel's answer and the effect the call promises. */
  readonly try: FileAttempts & MemoryAttempts & ProcessAttempts

  readonly #log: CallRecord[] = []
  #fds: number[] = []
  /** What the fences look at after a sealing clause: every region the clause mapped. */
  #regions: Array<[Target, number]> = []
  /** What the clause still holds of them, page by page (see ledger.ts): what the release unmaps. */
  readonly #ledger = new AddressLedger()
  #deferred: Array<() => void> = []
  #sealed = false
  #unfenceable = false
  readonly #fences: Fences | null

  readonly file: FileOps
  readonly mem: MemoryOps
  readonly proc: ProcessOps

  constructor(facts: KernelFacts, fences: Fences | null = null) {
    this.facts = facts
    this.#fences = fences
    this.file = new FileOps(this)
    this.mem = new MemoryOps(this)
    this.proc = new ProcessOps(this)
    this.try = { ...this.file.attempts(), ...this.mem.attempts(), ...this.proc.attempts() }
  }

  // ── the record of system calls ──────────────────────────────────────────────────────────────────

  /** Records a system call the clause made and returns its result (or -errno). */
  sys(syscall: string, args: readonly number[], ret: number): number {
    this.#log.push({ syscall, args: [...args], ret })
    return ret
  }

  /** Every system call recorded so far. */
  get calls(): readonly CallRecord[] {
    return this.#log
  }

  // ── setup steps ─────────────────────────────────────────────────────────────────────────────────

  /** Throws SetupError with `what` if `ret` is -errno; returns it otherwise. */
  setup(ret: number, what: string): number {
    if (ret < 0) throw new SetupError(`${what} failed: ${errnoName(ret)}`)
    return ret
  }

  /** Throws SetupError when a setup step's effect is not what it should be. */
  verify(ok: boolean, what: () => string): void {
    if (!ok) throw new SetupError(what())
  }

  // ── what the clause owns ────────────────────────────────────────────────────────────────────────

  /** Records an fd to be closed when the clause ends. */
  track(fd: number): number {
    if (fd >= 0) this.#fds.push(fd)
    return fd
  }

  /** Stops tracking an fd the clause closed itself (ctx.file.close). */
  untrack(fd: number): void {
    this.#fds = this.#fds.filter((f) => f !== fd)
  }

  /** Records a mapping to be unmapped when the clause ends (and fenced if the clause sealed something). */
  own(r: RawRegion, length: number): RawRegion {
    this.#regions.push([r, length])
    this.#ledger.add(r, 0, length)
    return r
  }

  /**
   * Stops fencing a region whose pages the clause moved or unmapped itself. What is unmapped at the end
   * follows the calls themselves (unmapped, moved), whatever is forgotten here.
   */
  forget(r: Target): void {
    this.#regions = this.#regions.filter(([region]) => region !== r)
  }

  /** munmap(2) of [offset, offset + length) of r succeeded: those pages are no longer the clause's. */
  unmapped(r: Target, offset: number, length: number): void {
    this.#ledger.remove(r, offset, length)
  }

  /** mremap(2) succeeded: its source range went away, unless MREMAP_DONTUNMAP kept it (the new range is owned apart). */
  remapped(r: Target, offset: number, oldLength: number, keptSource: boolean): void {
    if (!keptSource) this.#ledger.remove(r, offset, oldLength)
  }

  /** A seal succeeded (the fences go up around the clause's regions when it ends). */
  noteSealed(absolute = false): void {
    this.#sealed = true
    if (absolute) this.#unfenceable = true
  }

  /** Runs fn when the clause ends (restoring a limit, say), before fds and mappings are released. */
  defer(fn: () => void): void {
    this.#deferred.push(fn)
  }

  /**
   * Releases everything the clause made. Sealed mappings stay (they cannot be unmapped), fenced off from
   * the next clause. Returns true when the worker must be retired (what the clause left cannot be fenced).
   */
  release(): boolean {
    for (const fn of this.#deferred.splice(0).reverse()) {
      try {
        fn()
      } catch {
        // a failed restore must not hide the clause's result
      }
    }
    const regions = this.#regions.splice(0)
    this.#ledger.release()
    for (const fd of this.#fds.splice(0)) this.file.closeQuietly(fd)
    return this.#fences ? this.#fences.after(regions, this.#sealed, this.#unfenceable) : this.#sealed
  }
}

export type { FileOps, MemoryOps, ProcessOps }
export type { FileStep, FileStepsResult, StepFd } from './process'
