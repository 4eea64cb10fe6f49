/**
 * Keeps one clause's sealed memory away from the next clause, inside a worker process.
 *
 * A sealed range outlives its clause: munmap fails with EPERM, and because munmap is atomic the unsealed
 * rest of that region stays mapped too. The kernel would then place the next clause's mappings in the
 * free space right next to those remains, where they can merge with them and change what the clause
 * observes (VMA spans, merges, splits). Starting a new worker after every sealing clause would cost a
 * node start-up each time, so instead the free space in and around every region a sealing clause mapped
 * is filled with fences: PROT_NONE shared mappings of a private memfd, which nothing else can merge with.
 * New mappings then land only where no clause has been.
 *
 * Successful seals and new mappings are noticed by wrapping the addon's entry points in this process.
 * A seal that cannot be fenced (mseal at an absolute address that succeeded) asks for the worker to be
 * retired instead.
 */
import type { Len, Native, RawRegion, Target } from '../native'

/** Above this many pages a region is fenced only at its edges (a hole finder would cost too many calls). */
const MAX_FENCED_PAGES = 1 << 16

export interface Quarantine {
  /** Call before a clause runs. */
  begin(): void
  /** Call after the clause's Ctx is released: fences what it left; true when the worker must be retired. */
  end(): boolean
}

export function quarantine(native: Native): Quarantine {
  const C = native.constants
  const raw = native.raw
  const ps = C.PAGE_SIZE
  let mapped: Array<[Target, number]> = []
  let sealed = false
  let unfenceable = false
  let fenceFd = -1

  const noteSeal = (ret: number, length: Len): number => {
    if (ret === 0 && BigInt(length) !== 0n) sealed = true
    return ret
  }
  const noteMap = <T extends Target | number>(result: T, length: Len): T => {
    if (typeof result !== 'number' && BigInt(length) > 0n && BigInt(length) <= BigInt(Number.MAX_SAFE_INTEGER)) mapped.push([result, Number(length)])
    return result
  }

  const rawMmap = raw.mmap.bind(raw)
  const rawMremap = raw.mremap.bind(raw)
  const rawMseal = raw.mseal.bind(raw)
  const rawMsealAt = raw.msealAt.bind(raw)
  const mmap = native.mmap.bind(native)
  const mremap = native.mremap.bind(native)
  const mseal = native.mseal.bind(native)
  raw.mmap = (length, ...rest) => noteMap(rawMmap(length, ...rest), length)
  raw.mremap = (region, offset, oldLength, newLength, ...rest) => noteMap(rawMremap(region, offset, oldLength, newLength, ...rest), newLength)
  raw.mseal = (region, offset, length, flags) => noteSeal(rawMseal(region, offset, length, flags), length)
  raw.msealAt = (address, length, flags) => {
    const ret = rawMsealAt(address, length, flags)
    if (ret === 0 && BigInt(length) !== 0n) unfenceable = true
    return ret
  }
  native.mmap = (length, ...rest) => noteMap(mmap(length, ...rest), length)
  native.mremap = (buffer, newLength, mayMove) => noteMap(mremap(buffer, newLength, mayMove), newLength)
  native.mseal = (buffer, offset, length, flags) => noteSeal(mseal(buffer, offset, length, flags), length)

  /** Fills the free pages of [lo, hi) (page offsets from `base`) with fences; occupied pages are left alone. */
  const fence = (base: Target, lo: number, hi: number): void => {
    if (hi <= lo) return
    const r: RawRegion | number = rawMmap((hi - lo) * ps, C.PROT_NONE, C.MAP_SHARED | C.MAP_FIXED_NOREPLACE | C.MAP_NORESERVE, fenceFd, 0, base, lo * ps)
    if (typeof r !== 'number') return
    if (hi - lo === 1 || r !== -17 /* EEXIST: part of it is in use */) return
    const mid = lo + Math.floor((hi - lo) / 2)
    fence(base, lo, mid)
    fence(base, mid, hi)
  }

  return {
    begin() {
      mapped = []
      sealed = false
    },
    end() {
      const regions = mapped
      mapped = []
      if (unfenceable) return true
      if (!sealed) return false
      sealed = false
      if (fenceFd < 0) {
        fenceFd = native.memfdCreate('memseal-fence', C.MFD_CLOEXEC)
        if (fenceFd < 0) return true
      }
      try {
        for (const [region, length] of regions) {
          const pages = Math.ceil(length / ps)
          fence(region, -1, 0)
          fence(region, pages, pages + 1)
          if (pages <= MAX_FENCED_PAGES) fence(region, 0, pages)
        }
      } catch {
        return true // a region the addon no longer accepts as a target: start afresh rather than guess
      }
      return false
    },
  }
}
