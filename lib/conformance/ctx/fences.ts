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
 * The clause's Ctx tells the fences what it mapped and whether a seal succeeded: every mapping and every
 * seal goes through it. A seal that cannot be fenced (mseal at an absolute address that succeeded) asks
 * for the worker to be retired instead.
 */
import { constants as C, native, type RawRegion, type Target } from '../../native'

/** Above this many pages a region is fenced only at its edges (a hole finder would cost too many calls). */
const MAX_FENCED_PAGES = 1 << 16
const EEXIST = -17

export class Fences {
  #fenceFd = -1

  /**
   * Fills the free space in and around the regions a clause mapped, after it sealed something. Returns
   * true when the worker must be retired instead (no fence could be made, or a seal landed somewhere no
   * region of the clause covers).
   */
  after(regions: ReadonlyArray<readonly [Target, number]>, sealed: boolean, unfenceable: boolean): boolean {
    if (unfenceable) return true
    if (!sealed) return false
    if (this.#fenceFd < 0) {
      this.#fenceFd = native.memfdCreate('memseal-fence', C.MFD_CLOEXEC)
      if (this.#fenceFd < 0) return true
    }
    try {
      for (const [region, length] of regions) {
        const pages = Math.ceil(length / C.PAGE_SIZE)
        this.#fence(region, -1, 0)
        this.#fence(region, pages, pages + 1)
        if (pages <= MAX_FENCED_PAGES) this.#fence(region, 0, pages)
      }
    } catch {
      return true // a region the addon no longer accepts as a target: start afresh rather than guess
    }
    return false
  }

  /** Fills the free pages of [lo, hi) (page offsets from `base`) with fences; occupied pages are left alone. */
  #fence(base: Target, lo: number, hi: number): void {
    if (hi <= lo) return
    const flags = C.MAP_SHARED | C.MAP_FIXED_NOREPLACE | C.MAP_NORESERVE
    const r: RawRegion | number = native.raw.mmap((hi - lo) * C.PAGE_SIZE, C.PROT_NONE, flags, this.#fenceFd, 0, base, lo * C.PAGE_SIZE)
    if (typeof r !== 'number') return
    if (hi - lo === 1 || r !== EEXIST) return
    const mid = lo + Math.floor((hi - lo) / 2)
    this.#fence(base, lo, mid)
    this.#fence(base, mid, hi)
  }
}
