/**
 * The address ranges one clause holds, so that the end of the clause unmaps exactly those and nothing
 * else.
 *
 * Unmapping a region whole when the clause ends is not safe once the clause has unmapped or moved part of
 * it: the hole it left is free address space, and any thread of the worker (V8's heap, the allocator,
 * a sanitizer runtime) may have mapped something there since. A second munmap of the region would take
 * that away from under its owner, and the worker would die later of a SIGSEGV in an unrelated clause (seen
 * under AddressSanitizer, whose allocator maps and unmaps often). So every mapping the clause makes adds
 * its range here, every munmap and mremap that succeeded takes its range out, in the order they happened,
 * and the release unmaps what is left, each page once.
 *
 * Addresses stay in the addon: ranges are kept as byte offsets from the first region the clause mapped
 * (native.raw.distance), and unmapped through that region with an offset, which may be negative.
 */
import { constants as C, native, type Target } from '../../native'

type Range = readonly [start: number, end: number]

function pageUp(n: number): number {
  return Math.ceil(n / C.PAGE_SIZE) * C.PAGE_SIZE
}

export class AddressLedger {
  #anchor: Target | null = null
  /** Disjoint, sorted [start, end) ranges, relative to the anchor's base. */
  #ranges: Range[] = []

  /** The clause now holds [offset, offset + length) of r (a new mapping, or one that moved there). */
  add(r: Target, offset: number, length: number): void {
    if (length <= 0) return
    if (this.#anchor === null) this.#anchor = r
    const start = this.#base(r) + offset
    this.#ranges = this.#minus(start, start + pageUp(length))
    this.#ranges.push([start, start + pageUp(length)])
    this.#ranges.sort((a, b) => a[0] - b[0])
    this.#ranges = this.#merged()
  }

  /** [offset, offset + length) of r is no longer mapped by the clause (munmap, or mremap moved it away). */
  remove(r: Target, offset: number, length: number): void {
    if (length <= 0 || this.#anchor === null) return
    const start = this.#base(r) + offset
    this.#ranges = this.#minus(start, start + pageUp(length))
  }

  /** Unmaps what the clause still holds, each range once, and forgets everything. */
  release(): void {
    const anchor = this.#anchor
    const ranges = this.#ranges
    this.#anchor = null
    this.#ranges = []
    // A range holding a sealed page stays whole (munmap is atomic and fails with EPERM): as documented.
    if (anchor !== null) for (const [start, end] of ranges) native.raw.munmap(anchor, start, end - start)
  }

  #base(r: Target): number {
    return this.#anchor === null || r === this.#anchor ? 0 : native.raw.distance(this.#anchor, r)
  }

  #minus(lo: number, hi: number): Range[] {
    const out: Range[] = []
    for (const [s, e] of this.#ranges) {
      if (e <= lo || s >= hi) out.push([s, e])
      else {
        if (s < lo) out.push([s, lo])
        if (e > hi) out.push([hi, e])
      }
    }
    return out
  }

  #merged(): Range[] {
    const out: Array<[number, number]> = []
    for (const [s, e] of this.#ranges) {
      const last = out[out.length - 1]
      // Overlapping ranges (a MAP_FIXED mapping inside another) become one; touching ones stay apart, so
      // that a sealed mapping keeps only its own range mapped, not a neighbour's.
      if (last && s < last[1]) last[1] = Math.max(last[1], e)
      else out.push([s, e])
    }
    return out
  }
}
