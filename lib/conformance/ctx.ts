/**
 * The per-clause context: fresh objects for one clause, with every fd, mapping and limit it creates
 * recorded and released when the clause ends, plus helpers that turn syscall results into observations.
 */
import { closeSync, openSync } from 'node:fs'
import { errnoName } from '../errors'
import { constants, native, type RawRegion, type Target } from '../native'
import type { Observation } from './types'

/** Setup that failed for a reason other than the behaviour under test: the clause is `broken`. */
export class SetupError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'SetupError'
  }
}

/** { ret } for a non-negative result, { errno: 'EPERM' } for -errno. */
export function outcome(ret: number): Observation {
  return ret >= 0 ? { ret } : { errno: errnoName(ret) }
}

/** Runs a node:fs call: { ret: value } (numbers only, else 0), or { errno: err.code } when it throws. */
export function attempt(fn: () => unknown): Observation {
  try {
    const v = fn()
    return { ret: typeof v === 'number' ? v : 0 }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (typeof code === 'string' && /^E[A-Z0-9]+$/.test(code)) return { errno: code }
    throw err
  }
}

export class Ctx {
  readonly C = constants
  readonly native = native
  readonly raw = native.raw
  /** Page size. */
  readonly ps = constants.PAGE_SIZE
  #fds: number[] = []
  #regions: Array<[RawRegion, number]> = []
  #deferred: Array<() => void> = []

  /** Throws SetupError with `what` if `ret` is -errno; returns it otherwise. */
  setup(ret: number, what: string): number {
    if (ret < 0) throw new SetupError(`${what} failed: ${errnoName(ret)}`)
    return ret
  }

  /** Records an fd to be closed when the clause ends. */
  track(fd: number): number {
    if (fd >= 0) this.#fds.push(fd)
    return fd
  }

  /** memfd_create that must succeed (default flags: MFD_ALLOW_SEALING | MFD_CLOEXEC). */
  memfd(flags = constants.MFD_ALLOW_SEALING, name = 'memseal-clause'): number {
    return this.track(this.setup(native.memfdCreate(name, flags | constants.MFD_CLOEXEC), `memfd_create(${name}, 0x${flags.toString(16)})`))
  }

  /** memfd_create as the clause's subject: fd (tracked) or -errno. */
  memfdCall(name: string | Buffer | null | number, flags: number): number {
    return this.track(native.memfdCreate(name, flags))
  }

  /** open(2) through node:fs that must succeed; tracked. */
  open(path: string, flags: number | string, mode?: number): number {
    try {
      return this.track(openSync(path, flags, mode))
    } catch (err) {
      throw new SetupError(`open(${path}) failed: ${(err as NodeJS.ErrnoException).code}`)
    }
  }

  /** The same file opened again through /proc/self/fd (a new open file description). */
  reopen(fd: number, flags: number | string): number {
    return this.open(`/proc/self/fd/${fd}`, flags)
  }

  /** Resizes with fallocate(2) mode 0 (must succeed). */
  size(fd: number, bytes: number): void {
    this.setup(native.fallocate(fd, 0, 0, bytes), `fallocate(0, ${bytes})`)
  }

  /** mmap that must succeed; the region is munmapped when the clause ends. */
  mmap(length: number, prot: number, flags: number, fd = -1, offset = 0): RawRegion {
    const r = native.raw.mmap(length, prot, flags, fd, offset)
    if (typeof r === 'number') throw new SetupError(`mmap(${length}, prot ${prot}, flags 0x${flags.toString(16)}) failed: ${errnoName(r)}`)
    this.#regions.push([r, length])
    return r
  }

  /** Anonymous private mapping of `pages` pages (default PROT_READ): the catalog's "RO anon". */
  anon(pages: number, prot: number = constants.PROT_READ): RawRegion {
    return this.mmap(pages * this.ps, prot, constants.MAP_PRIVATE | constants.MAP_ANONYMOUS)
  }

  /** mmap as the clause's subject: the region (tracked) or -errno. */
  mmapCall(length: number, prot: number, flags: number, fd = -1, offset = 0, hint?: Target, hintOffset?: number): RawRegion | number {
    const r = native.raw.mmap(length, prot, flags, fd, offset, hint, hintOffset)
    if (typeof r !== 'number') this.#regions.push([r, length])
    return r
  }

  /** Records a region returned by another call (mremap) for release at the end. */
  adopt(r: RawRegion | number, length: number): RawRegion | number {
    if (typeof r !== 'number') this.#regions.push([r, length])
    return r
  }

  /** Stops tracking a region whose pages the clause moved or unmapped itself (mremap, munmap). */
  forget(r: RawRegion): void {
    this.#regions = this.#regions.filter(([region]) => region !== r)
  }

  /** mmap outcome as an observation: { ret: 0 } when it mapped, { errno } otherwise. */
  mapOutcome(r: RawRegion | number): Observation {
    return typeof r === 'number' ? { errno: errnoName(r) } : { ret: 0 }
  }

  /** Runs fn when the clause ends (restoring a limit, say), before fds and mappings are released. */
  defer(fn: () => void): void {
    this.#deferred.push(fn)
  }

  /** Releases everything the clause made. Sealed mappings stay (they cannot be unmapped), as documented. */
  release(): void {
    for (const fn of this.#deferred.splice(0).reverse()) {
      try {
        fn()
      } catch {
        // a failed restore must not hide the clause's result
      }
    }
    for (const [r, length] of this.#regions.splice(0)) native.raw.munmap(r, 0, length)
    for (const fd of this.#fds.splice(0)) {
      try {
        closeSync(fd)
      } catch {
        // already closed by the clause itself
      }
    }
  }
}
