// The end of a clause unmaps what the clause still holds and nothing else. A hole the clause made (munmap,
// an mremap that moved or shrank its pages, the guard pages of a guarded region) is free address space that
// another thread of the worker may map at once; unmapping the clause's regions whole would take that
// mapping away from its owner, and the worker would die later in an unrelated clause. Each case maps a
// stranger into the hole outside the Ctx (MAP_FIXED_NOREPLACE, so it lands exactly there or fails), ends
// the clause, and checks that the stranger survived while the clause's own pages are gone (the control).
import { Ctx } from '../lib/conformance/ctx'
import { kernelFacts } from '../lib/conformance/facts'
import { constants as C, native, type RawRegion, type Target } from '../lib/native'

const facts = kernelFacts()
const ps = C.PAGE_SIZE
const RW = C.PROT_READ | C.PROT_WRITE
const ANON = C.MAP_PRIVATE | C.MAP_ANONYMOUS

/** A mapping made outside the clause, exactly at r + offset. */
function stranger(r: Target, offset: number, pages: number): RawRegion {
  const s = native.raw.mmap(pages * ps, RW, ANON | C.MAP_FIXED_NOREPLACE, -1, 0, r, offset)
  if (typeof s === 'number') throw new Error(`the stranger could not be mapped into the hole: errno ${-s}`)
  native.raw.poke(s, 0, Buffer.from([0x5a]))
  return s
}

function mapped(r: Target, offset: number): boolean {
  const v = native.raw.mapsVma(r, offset)
  if (typeof v === 'number') throw new Error(`reading /proc/self/maps failed: errno ${-v}`)
  return v !== null
}

function expectStrangerIntact(s: RawRegion, pages: number): void {
  expect(mapped(s, 0)).toBe(true)
  expect(mapped(s, (pages - 1) * ps)).toBe(true)
  expect(native.raw.peek(s, 0, 1)[0]).toBe(0x5a)
  expect(native.raw.munmap(s, 0, pages * ps)).toBe(0)
}

test('control: the release unmaps every page the clause mapped, a MAP_FIXED mapping inside another included', () => {
  const ctx = new Ctx(facts)
  const r = ctx.mem.anon(4, RW)
  const inner = ctx.mem.map(2 * ps, C.PROT_READ, ANON | C.MAP_FIXED, -1, 0, r, ps)
  expect(mapped(r, 0) && mapped(inner, 0) && mapped(r, 3 * ps)).toBe(true)
  ctx.release()
  for (const page of [0, 1, 2, 3]) expect(mapped(r, page * ps)).toBe(false)
})

test('a hole the clause unmapped is not unmapped again', () => {
  const ctx = new Ctx(facts)
  const r = ctx.mem.anon(4, RW)
  ctx.mem.unmap(r, ps, 2 * ps)
  const s = stranger(r, ps, 2)
  ctx.release()
  expect(mapped(r, 0)).toBe(false)
  expect(mapped(r, 3 * ps)).toBe(false)
  expectStrangerIntact(s, 2)
})

test('a munmap attempt that succeeded leaves its hole alone too; one that failed changes nothing', () => {
  const ctx = new Ctx(facts)
  const r = ctx.mem.anon(4, RW)
  expect(ctx.try.munmap(r, ps + 1, ps)).toMatchObject({ errno: 'EINVAL', mapped: true }) // unaligned: nothing unmapped
  expect(ctx.try.munmap(r, 2 * ps, ps)).toMatchObject({ ret: 0, mapped: false })
  const s = stranger(r, 2 * ps, 1)
  ctx.release()
  for (const page of [0, 1, 3]) expect(mapped(r, page * ps)).toBe(false)
  expectStrangerIntact(s, 1)
})

test('control: a guarded region, its guard pages included, is gone after the release', () => {
  const ctx = new Ctx(facts)
  const inner = ctx.mem.guarded(2, RW)
  expect(mapped(inner, -ps)).toBe(true) // the guards are there while the clause runs
  expect(mapped(inner, 2 * ps)).toBe(true)
  ctx.release()
  expect(mapped(inner, -ps)).toBe(false)
  expect(mapped(inner, 0)).toBe(false)
  expect(mapped(inner, 2 * ps)).toBe(false)
})

test('the source of an mremap that moved is not unmapped again; the pages where they moved to are', () => {
  const ctx = new Ctx(facts)
  const r = ctx.mem.anon(2, RW)
  const target = ctx.mem.anon(4, RW) // somewhere to move to, far from r's neighbourhood
  const { obs, region } = ctx.try.mremap(r, 0, 2 * ps, 2 * ps, C.MREMAP_MAYMOVE | C.MREMAP_FIXED, target, ps)
  expect(obs).toMatchObject({ ret: 0 })
  expect(region).not.toBeNull()
  const s = stranger(r, 0, 2)
  ctx.release()
  for (const page of [0, 1, 2, 3]) expect(mapped(target, page * ps)).toBe(false)
  expectStrangerIntact(s, 2)
})

test('the tail an mremap shrank away is not unmapped again; the part it kept is', () => {
  const ctx = new Ctx(facts)
  const r = ctx.mem.anon(4, RW)
  const { obs } = ctx.try.mremap(r, 0, 4 * ps, 2 * ps, 0)
  expect(obs).toMatchObject({ ret: 0 })
  const s = stranger(r, 2 * ps, 2)
  ctx.release()
  expect(mapped(r, 0)).toBe(false)
  expect(mapped(r, ps)).toBe(false)
  expectStrangerIntact(s, 2)
})
