/**
 * Mappings through the Ctx: mmap, munmap, mprotect, pkey_mprotect, madvise, mseal, mremap, mlock, and
 * what a mapping looks like from /proc/self/smaps (its span, permissions, VmFlags, resident memory).
 *
 * Setup steps (`ctx.mem.*`) must succeed and have their effect, or throw SetupError: a protection change
 * is read back from the VMA, a seal from its VmFlags ('sl'), an unmap from its absence, a madvise from the
 * effect the advice promises. Calls under test (`ctx.try.*`) return the kernel's answer and that same
 * effect. Offsets and lengths are in bytes; `pages(n)` turns pages into bytes.
 *
 * Reading or writing the pages themselves (peek, poke, access) happens in the worker, which is a child
 * process of the runner: a fault there is an observation (the runner reports the signal), never a crash.
 */
import { constants as osConstants } from 'node:os'
import { errnoName } from '../../errors'
import { constants as C, native, ProbeAccess, type Len, type MsealScenarioName, type RawRegion, type Target, type VmaInfo } from '../../native'
import type { Json, Observation } from '../types'
import { type Ctx, outcome, SetupError } from './index'

export type Access = 'read' | 'write' | 'exec'
/** What an access in a forked child did: 'ok', or the signal it raised ('SIGSEGV', 'SIGBUS', 'signal N'). */
export type AccessResult = string

/** The VmFlags mnemonic each madvise advice sets (set) or clears (clear), from fs/proc/task_mmu.c. */
const ADVICE_FLAG: Record<number, { flag: string; set: boolean }> = {
  [C.MADV_DONTFORK]: { flag: 'dc', set: true },
  [C.MADV_DOFORK]: { flag: 'dc', set: false },
  [C.MADV_WIPEONFORK]: { flag: 'wf', set: true },
  [C.MADV_KEEPONFORK]: { flag: 'wf', set: false },
  [C.MADV_RANDOM]: { flag: 'rr', set: true },
  [C.MADV_SEQUENTIAL]: { flag: 'sr', set: true },
  [C.MADV_HUGEPAGE]: { flag: 'hg', set: true },
  [C.MADV_NOHUGEPAGE]: { flag: 'nh', set: true },
  [C.MADV_MERGEABLE]: { flag: 'mg', set: true },
  [C.MADV_DONTDUMP]: { flag: 'dd', set: true },
  [C.MADV_DODUMP]: { flag: 'dd', set: false },
}

/** Advice whose promise is that the range's contents are discarded: the first byte afterwards shows it. */
const DISCARDS = new Set([C.MADV_DONTNEED, C.MADV_DONTNEED_LOCKED, C.MADV_REMOVE])

export interface MemoryAttempts {
  /** mmap(2): the region (owned) and { ret: 0, perms } or { errno }. */
  mmap(
    length: Len,
    prot: number,
    flags: number,
    fd?: number,
    offset?: number,
    hint?: Target,
    hintOffset?: number,
  ): { obs: Observation; region: RawRegion | null }
  /** munmap(2): { ret | errno, mapped } (whether a VMA is still at offset). */
  munmap(r: Target, offset: number, length: Len): Observation
  /** mprotect(2): { ret | errno, perms } (the permissions at offset afterwards). */
  mprotect(r: Target, offset: number, length: Len, prot: number): Observation
  /** pkey_mprotect(2): { ret | errno, perms }. */
  pkeyMprotect(r: Target, offset: number, length: Len, prot: number, pkey: number): Observation
  /**
   * madvise(2): { ret | errno } plus the effect the advice promises at offset: the VmFlag it sets or
   * clears (`dc`, `wf`, `rr` …: true/false), `byte` (the first byte, for the discarding advice),
   * `access` (for MADV_GUARD_INSTALL/REMOVE: what a read in a forked child does), `rssKb` (for
   * MADV_POPULATE_*). MADV_FREE, MADV_WILLNEED, MADV_COLD and MADV_PAGEOUT promise nothing observable
   * at once (the kernel frees lazily, or not at all without memory pressure or swap): their answer alone.
   */
  madvise(r: Target, offset: number, length: Len, advice: number): Observation
  /**
   * madvise(2) of a discarding advice on memory whose contents come back from a file or shmem (a shared or
   * file-backed mapping), where the contents cannot show the discard: { ret | errno, rssKb }, the resident
   * memory of the VMA at offset read right after the call, before anything touches its pages again.
   */
  madviseResident(r: Target, offset: number, length: Len, advice: number): Observation
  /** mseal(2): { ret | errno, sealed } (VM_SEALED, 'sl' in VmFlags, at offset; 'unmapped' if nothing is there). */
  mseal(r: Target, offset: number, length: Len, flags?: Len): Observation
  /** mseal(2) at an absolute address (the documented cases at unmapped or special addresses): { ret | errno }. */
  msealAt(address: Len, length: Len, flags?: Len): Observation
  /** mremap(2): the new region (owned; the old one is forgotten when it moved) and { ret: 0, perms } or { errno }. */
  mremap(
    r: Target,
    offset: number,
    oldLength: Len,
    newLength: Len,
    flags: number,
    target?: Target,
    targetOffset?: number,
  ): { obs: Observation; region: RawRegion | null }
  /** mlock(2): { ret | errno }. */
  mlock(r: Target, offset: number, length: Len): Observation
  /** A write through /proc/self/mem (FOLL_FORCE): { ret | errno, byte } (the first byte afterwards). */
  procMemWrite(r: Target, offset: number, bytes: Buffer): Observation
}

export class MemoryOps {
  readonly #unpin = new Map<number, () => number>()

  constructor(private readonly ctx: Ctx) {}

  /** Pages → bytes. */
  pages(n: number): number {
    return n * this.ctx.ps
  }

  // ── setup steps ─────────────────────────────────────────────────────────────────────────────────

  /** mmap that must succeed; owned by the clause. The new VMA is read back (it exists, with `prot`). */
  map(length: number, prot: number, flags: number, fd = -1, offset = 0, hint?: Target, hintOffset?: number): RawRegion {
    const r = this.#mmap(length, prot, flags, fd, offset, hint, hintOffset)
    if (typeof r === 'number') throw new SetupError(`mmap(${length}, prot ${prot}, flags 0x${flags.toString(16)}) failed: ${errnoName(r)}`)
    this.ctx.own(r, length)
    const want = permsText(prot, flags)
    const seen = this.perms(r, 0)
    this.ctx.verify(seen === want, () => `mmap returned a region, but /proc/self/smaps shows ${seen} there, not ${want}`)
    return r
  }

  /** Anonymous private mapping of `pages` pages (default PROT_READ: the catalog's "RO anon"). */
  anon(pages: number, prot: number = C.PROT_READ): RawRegion {
    return this.map(this.pages(pages), prot, C.MAP_PRIVATE | C.MAP_ANONYMOUS)
  }

  /**
   * Anonymous private mapping of `pages` pages between two PROT_NONE guard pages, which keep it from
   * merging with a neighbour (a sealed read-only page of an earlier clause would otherwise join it and
   * change every VMA-size check). The guards are unmapped first when the clause ends.
   */
  guarded(pages: number, prot: number = C.PROT_READ): RawRegion {
    const ps = this.ctx.ps
    const outer = this.map((pages + 2) * ps, C.PROT_NONE, C.MAP_PRIVATE | C.MAP_ANONYMOUS)
    const inner = this.map(pages * ps, prot, C.MAP_PRIVATE | C.MAP_ANONYMOUS | C.MAP_FIXED, -1, 0, outer, ps)
    this.ctx.forget(inner) // released with `outer`, which covers it
    this.ctx.defer(() => {
      this.#munmap(outer, 0, ps)
      this.#munmap(outer, (pages + 1) * ps, ps)
    })
    return inner
  }

  /** mprotect that must succeed and leave those permissions at offset. */
  protect(r: Target, offset: number, length: number, prot: number): void {
    this.ctx.setup(this.#mprotect(r, offset, length, prot), `mprotect(+${offset}, ${length}, prot ${prot})`)
    const seen = this.perms(r, offset)
    this.ctx.verify(
      seen.slice(0, 3) === permsText(prot, C.MAP_PRIVATE).slice(0, 3),
      () => `mprotect(prot ${prot}) returned 0 but the VMA at +${offset} is ${seen}`,
    )
  }

  /** mseal that must succeed and leave VM_SEALED on the range's first page. */
  seal(r: Target, offset: number, length: number): void {
    this.ctx.setup(this.#mseal(r, offset, length, 0), `mseal(+${offset}, ${length})`)
    this.ctx.verify(this.isSealed(r, offset), () => `mseal(+${offset}, ${length}) returned 0 but the VMA there has no 'sl' in its VmFlags`)
  }

  /** A fresh guarded anonymous mapping, sealed whole. */
  sealedAnon(pages: number, prot?: number): RawRegion {
    const r = this.guarded(pages, prot)
    this.seal(r, 0, this.pages(pages))
    return r
  }

  /** munmap that must succeed and leave nothing at offset. */
  unmap(r: Target, offset: number, length: number): void {
    this.ctx.setup(this.#munmap(r, offset, length), `munmap(+${offset}, ${length})`)
    this.ctx.verify(this.#mapsVma(r, offset) === null, () => `munmap(+${offset}, ${length}) returned 0 but the VMA is still there`)
  }

  /** madvise that must succeed and have the effect the advice promises (see MemoryAttempts.madvise). */
  advise(r: Target, offset: number, length: number, advice: number, expectByte?: number): void {
    this.ctx.setup(this.#madvise(r, offset, length, advice), `madvise(+${offset}, ${length}, ${advice})`)
    const effect = this.#adviceEffect(r, offset, advice)
    const flag = ADVICE_FLAG[advice]
    if (flag) this.ctx.verify(effect[flag.flag] === flag.set, () => `madvise(${advice}) returned 0 but VmFlags '${flag.flag}' is ${flag.set ? 'not ' : ''}set`)
    if (advice === C.MADV_GUARD_INSTALL)
      this.ctx.verify(effect.access === 'SIGSEGV', () => `MADV_GUARD_INSTALL returned 0 but a read there gives ${JSON.stringify(effect.access)}`)
    if (DISCARDS.has(advice) && expectByte !== undefined)
      this.ctx.verify(effect.byte === expectByte, () => `madvise(${advice}) returned 0 but the first byte is ${JSON.stringify(effect.byte)}, not ${expectByte}`)
  }

  /**
   * MADV_PAGEOUT that must succeed, repeated (a bounded number of times, 2 ms apart) until the range holds
   * no resident page. It is best effort: pages MADV_FREE has just marked lazily freeable wait in a per-CPU
   * batch until that CPU drains it, and a page not yet on its LRU list is skipped, so a worker that moved
   * to another CPU between the two calls finds its pages not reclaimed (seen under load, one run in
   * dozens). Pages that cannot be reclaimed (dirty anonymous memory without swap, never lazily freed)
   * stay resident through every attempt, so what the caller reads afterwards is still the kernel's answer.
   */
  pageOut(r: Target, offset: number, length: number): void {
    for (let attempt = 0; attempt < PAGEOUT_ATTEMPTS; attempt++) {
      if (attempt > 0) Atomics.wait(PAUSE, 0, 0, 2)
      this.advise(r, offset, length, C.MADV_PAGEOUT)
      if (this.vma(r, offset)?.rssKb === 0) return
    }
  }

  /**
   * Pins the pages of a range with a long-term GUP pin (an io_uring fixed buffer) that must succeed; the
   * pin is dropped when the clause ends, or earlier with unpin(). Returns the ring that holds it.
   */
  pin(r: Target, offset: number, length: number): number {
    const ring = this.ctx.setup(this.ctx.sys('io_uring_register', [0], native.raw.pinPages(r, offset, length)), 'io_uring_register(IORING_REGISTER_BUFFERS)')
    let pinned = true
    this.ctx.defer(() => {
      if (pinned) native.raw.unpinPages(ring)
    })
    this.#unpin.set(ring, () => {
      pinned = false
      return native.raw.unpinPages(ring)
    })
    return ring
  }

  /** Drops a pin made by pin() (IORING_UNREGISTER_BUFFERS), which must succeed. */
  unpin(ring: number): void {
    const drop = this.#unpin.get(ring)
    if (!drop) throw new SetupError(`no pin held by ring ${ring}`)
    this.#unpin.delete(ring)
    this.ctx.setup(this.ctx.sys('io_uring_register', [1], drop()), 'io_uring_register(IORING_UNREGISTER_BUFFERS)')
  }

  /** Stores bytes into a writable mapping (a fault here kills the worker: the runner reports it). */
  poke(r: Target, offset: number, bytes: Buffer): void {
    this.ctx.setup(native.raw.poke(r, offset, bytes), `store of ${bytes.length} bytes at +${offset}`)
    this.ctx.verify(native.raw.peek(r, offset, bytes.length).equals(bytes), () => `a store at +${offset} did not land`)
  }

  /** Writes one byte into each listed page (makes the pages present). */
  fillPages(r: Target, pages: readonly number[], byte = 0x41): void {
    for (const p of pages) this.poke(r, this.pages(p), Buffer.from([byte]))
  }

  // ── facts ────────────────────────────────────────────────────────────────────────────────────────

  /** The VMA holding offset (from /proc/self/smaps), or null when nothing is mapped there. */
  vma(r: Target, offset: number): VmaInfo | null {
    const v = native.raw.vma(r, offset)
    if (typeof v === 'number') throw new SetupError(`reading /proc/self/smaps failed: ${errnoName(v)}`)
    return v
  }

  /** The permission column of the VMA at offset ('r--p'), or 'unmapped'. */
  perms(r: Target, offset: number): string {
    return this.#mapsVma(r, offset)?.perms ?? 'unmapped'
  }

  /**
   * The VMA at offset as /proc/self/maps shows it (span, permissions, name), or null: for what needs no
   * VmFlags or memory counters. /proc/self/smaps walks the page tables of every VMA before the one asked
   * for (milliseconds in a Node process); /proc/self/maps does not.
   */
  #mapsVma(r: Target, offset: number): Pick<VmaInfo, 'start' | 'end' | 'perms' | 'name'> | null {
    const v = native.raw.mapsVma(r, offset)
    if (typeof v === 'number') throw new SetupError(`reading /proc/self/maps failed: ${errnoName(v)}`)
    return v
  }

  /** Whether the VMA at offset has VM_SEALED ('sl' in VmFlags, shown since 6.10). The page must be mapped. */
  isSealed(r: Target, offset: number): boolean {
    const v = this.vma(r, offset)
    if (!v) throw new SetupError(`no VMA at +${offset} to read VmFlags from`)
    return v.flags.includes('sl')
  }

  /** [first page, end page, sealed] of the VMA at `page`, relative to the region, as the selftests report it. */
  span(r: Target, page: number): Json {
    const v = this.vma(r, this.pages(page))
    if (!v) throw new SetupError(`no VMA at page ${page}`)
    return [v.start / this.ctx.ps, v.end / this.ctx.ps, v.flags.includes('sl')]
  }

  /** Size in pages of the VMA at `page` (0 when unmapped), as mseal_test.c's get_vma_size() reports it. */
  vmaPages(r: Target, page: number): number {
    const v = this.#mapsVma(r, this.pages(page))
    return v ? (v.end - v.start) / this.ctx.ps : 0
  }

  /** Bytes of a readable range (a fault kills the worker: an observation for the runner). */
  peek(r: Target, offset: number, length: number): Buffer {
    return native.raw.peek(r, offset, length)
  }

  byteAt(r: Target, offset: number): number {
    return this.peek(r, offset, 1)[0]!
  }

  /** One access made in a forked child: 'ok', or the signal it raised. Stores `value` for 'write'. */
  access(r: Target, offset: number, kind: Access, value?: number): AccessResult {
    const code = kind === 'read' ? ProbeAccess.Read : kind === 'exec' ? ProbeAccess.Exec : value === undefined ? ProbeAccess.Write : ProbeAccess.Store
    const sig = this.ctx.sys('clone', [], native.probe(r, offset, code, value))
    if (sig < 0) throw new SetupError(`fork for the access probe failed: ${errnoName(sig)}`)
    return sig === 0 ? 'ok' : sig === C.SIGSEGV ? 'SIGSEGV' : sig === C.SIGBUS ? 'SIGBUS' : `signal ${sig}`
  }

  /** What a forked process may do to an inherited mapping: its munmap's result (mseal is inherited). */
  munmapInChild(r: Target, offset: number, length: Len): Observation {
    const ret = native.forkMunmap(r, offset, length)
    return outcome(this.ctx.sys('munmap', [], ret))
  }

  /**
   * One of the mseal scenarios of native/mseal_scenarios.cc, run in a forked child: what must never happen
   * in the worker (a mapping at address 0, the program break, a System V segment, the ia32 entry, this
   * thread's protection-key rights, the vDSO). The child's system calls join the clause's record, so the
   * seccomp attribution covers them; returns each call's answer ({ ret } or { errno }, in order), the facts
   * the child reported, and the signal that ended it (null when it exited). `target` is for 'child-munmap':
   * the inherited range it unmaps.
   */
  scenario(
    name: MsealScenarioName,
    sealed: boolean,
    target?: { r: Target; offset: number; length: Len },
  ): { calls: Array<{ syscall: string; answer: Observation }>; facts: Record<string, number>; signal: string | null } {
    const out = target ? native.msealScenario(name, sealed, target.r, target.offset, target.length) : native.msealScenario(name, sealed)
    this.ctx.sys('clone', [], typeof out === 'number' ? out : 0)
    if (typeof out === 'number') throw new SetupError(`fork for the ${name} scenario failed: ${errnoName(out)}`)
    const calls = out.calls.map((c) => ({ syscall: c.syscall, answer: outcome(this.ctx.sys(c.syscall, c.args, c.ret)) }))
    const signal = Object.entries(osConstants.signals).find(([, n]) => n === out.signal)?.[0]
    return { calls, facts: out.facts, signal: out.signal === 0 ? null : (signal ?? `signal ${out.signal}`) }
  }

  /** b's base minus a's: whether a mapping landed where it was asked to, without an address. */
  distance(a: Target, b: Target): number {
    return native.raw.distance(a, b)
  }

  /** A region over a mapping the kernel made ('[vdso]', '[vvar]' …), or null when there is none. */
  systemMapping(name: string): RawRegion | null {
    return native.raw.systemMapping(name)
  }

  // ── the calls under test ─────────────────────────────────────────────────────────────────────────

  attempts(): MemoryAttempts {
    return {
      mmap: (length, prot, flags, fd = -1, offset = 0, hint, hintOffset) => {
        const r = this.#mmap(length, prot, flags, fd, offset, hint, hintOffset)
        if (typeof r === 'number') return { obs: outcome(r), region: null }
        this.ctx.own(r, Number(length))
        return { obs: { ret: 0, perms: this.perms(r, 0) }, region: r }
      },
      munmap: (r, offset, length) => ({ ...outcome(this.#munmap(r, offset, length)), mapped: this.#mapsVma(r, offset) !== null }),
      mprotect: (r, offset, length, prot) => ({ ...outcome(this.#mprotect(r, offset, length, prot)), perms: this.perms(r, offset) }),
      pkeyMprotect: (r, offset, length, prot, pkey) => {
        const ret = this.ctx.sys('pkey_mprotect', [prot, pkey], native.raw.pkeyMprotect(r, offset, length, prot, pkey))
        return { ...outcome(ret), perms: this.perms(r, offset) }
      },
      madvise: (r, offset, length, advice) => ({ ...outcome(this.#madvise(r, offset, length, advice)), ...this.#adviceEffect(r, offset, advice) }),
      madviseResident: (r, offset, length, advice) => ({
        ...outcome(this.#madvise(r, offset, length, advice)),
        rssKb: this.vma(r, offset)?.rssKb ?? 'unmapped',
      }),
      mseal: (r, offset, length, flags = 0) => {
        const ret = this.#mseal(r, offset, length, flags)
        const v = this.vma(r, offset)
        return { ...outcome(ret), sealed: v ? v.flags.includes('sl') : 'unmapped' }
      },
      msealAt: (address, length, flags = 0) => {
        const ret = this.ctx.sys('mseal', [Number(flags)], native.raw.msealAt(address, length, flags))
        if (ret === 0 && BigInt(length) !== 0n) this.ctx.noteSealed(true)
        return outcome(ret)
      },
      mremap: (r, offset, oldLength, newLength, flags, target, targetOffset) => {
        const moved = native.raw.mremap(r, offset, oldLength, newLength, flags, target, targetOffset)
        this.ctx.sys('mremap', [flags], typeof moved === 'number' ? moved : 0)
        if (typeof moved === 'number') return { obs: outcome(moved), region: null }
        if (flags & C.MREMAP_MAYMOVE || flags & C.MREMAP_FIXED) this.ctx.forget(r)
        this.ctx.remapped(r, offset, Number(oldLength), (flags & C.MREMAP_DONTUNMAP) !== 0)
        this.ctx.own(moved, Number(newLength))
        return { obs: { ret: 0, perms: this.perms(moved, 0) }, region: moved }
      },
      mlock: (r, offset, length) => outcome(this.ctx.sys('mlock', [], native.raw.mlock(r, offset, length))),
      procMemWrite: (r, offset, bytes) => {
        const ret = this.ctx.sys('pwrite64', [], native.raw.procMemWrite(r, offset, bytes))
        return { ...outcome(ret), byte: this.byteAt(r, offset) }
      },
    }
  }

  // ── the recorded system calls ────────────────────────────────────────────────────────────────────

  #mmap(length: Len, prot: number, flags: number, fd: number, offset: number, hint?: Target, hintOffset?: number): RawRegion | number {
    const r = native.raw.mmap(length, prot, flags, fd, offset, hint, hintOffset)
    this.ctx.sys('mmap', [prot, flags], typeof r === 'number' ? r : 0)
    return r
  }

  #munmap(r: Target, offset: number, length: Len): number {
    const ret = this.ctx.sys('munmap', [], native.raw.munmap(r, offset, length))
    if (ret === 0) this.ctx.unmapped(r, offset, Number(length))
    return ret
  }

  #mprotect(r: Target, offset: number, length: Len, prot: number): number {
    return this.ctx.sys('mprotect', [prot], native.raw.mprotect(r, offset, length, prot))
  }

  #madvise(r: Target, offset: number, length: Len, advice: number): number {
    return this.ctx.sys('madvise', [advice], native.raw.madvise(r, offset, length, advice))
  }

  #mseal(r: Target, offset: number, length: Len, flags: Len): number {
    const ret = this.ctx.sys('mseal', [Number(flags)], native.raw.mseal(r, offset, length, flags))
    if (ret === 0 && BigInt(length) !== 0n) this.ctx.noteSealed()
    return ret
  }

  /** The effect an advice promises, read at offset (see MemoryAttempts.madvise). */
  #adviceEffect(r: Target, offset: number, advice: number): Observation {
    const v = this.vma(r, offset)
    if (!v) return { vma: 'unmapped' }
    const flag = ADVICE_FLAG[advice]
    if (flag) return { [flag.flag]: v.flags.includes(flag.flag) }
    if (DISCARDS.has(advice)) return { byte: v.perms[0] === 'r' ? this.byteAt(r, offset) : 'unreadable' }
    if (advice === C.MADV_GUARD_INSTALL || advice === C.MADV_GUARD_REMOVE) return { access: this.access(r, offset, 'read') }
    if (advice === C.MADV_POPULATE_READ || advice === C.MADV_POPULATE_WRITE) return { rssKb: v.rssKb }
    return {}
  }
}

const PAGEOUT_ATTEMPTS = 10
/** Something to wait on: Atomics.wait is the one synchronous sleep JavaScript has. */
const PAUSE = new Int32Array(new SharedArrayBuffer(4))

/** The /proc/self/maps permission text a mapping with `prot` and `flags` shows: 'rw-s', 'r--p' … */
export function permsText(prot: number, flags: number): string {
  return `${prot & C.PROT_READ ? 'r' : '-'}${prot & C.PROT_WRITE ? 'w' : '-'}${prot & C.PROT_EXEC ? 'x' : '-'}${flags & C.MAP_SHARED ? 's' : 'p'}`
}
