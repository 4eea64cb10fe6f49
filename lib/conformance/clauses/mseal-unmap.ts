/**
 * Sealed VMAs refuse munmap, atomically, in this process and in a forked child (catalog §7.2; mseal_test.c
 * test_seal_munmap*, test_munmap_*_freed; LTP mseal01). Each refusal has its unsealed control, as in the
 * selftest's seal=false runs. ctx.try.munmap reports whether the page is still mapped afterwards.
 */
import type { Clause, Observation, Quote } from '../types'
import { DOC, DOC610, MANUAL, RW, callOf, clause, flag, pair, pg, seal } from './mseal-common'

const REFUSED = { errno: 'EPERM', mapped: true }
const UNMAPPED = { ret: 0, mapped: false }
/** The 6.12 text's blocked list and its example, with the 6.10 text's words for the same promise. */
const BLOCKED_MUNMAP: Quote[] = [DOC.example, DOC.blocked, DOC.eperm, DOC610.unmapMove, DOC610.eperm]

/**
 * munmap over four pages after part of them was unmapped and part sealed: the pages looked at afterwards,
 * and the size in pages of their VMA when the munmap was refused (mseal_test.c's get_vma_size()).
 */
interface Freed {
  id: string
  mirror: string
  hole: [first: number, count: number]
  sealed: [first: number, count: number]
  looks: number[]
  kept: number[]
  what: string
}

const FREED: Freed[] = [
  {
    id: 'start',
    mirror: 'test_munmap_start_freed',
    hole: [0, 1],
    sealed: [1, 3],
    looks: [1],
    kept: [3],
    what: 'the first page is unmapped, the other three sealed',
  },
  {
    id: 'middle',
    mirror: 'test_munmap_middle_freed',
    hole: [1, 2],
    sealed: [0, 1],
    looks: [0, 3],
    kept: [1, 1],
    what: 'the middle two pages are unmapped, the first sealed',
  },
  {
    id: 'end',
    mirror: 'test_munmap_end_freed',
    hole: [3, 1],
    sealed: [0, 3],
    looks: [0],
    kept: [3],
    what: 'the last page is unmapped, the first three sealed',
  },
]

export const unmapClauses: Clause[] = [
  ...pair(
    {
      ids: ['mseal.munmap-eperm', 'mseal.munmap-unsealed-ok'],
      catalog: 'mseal.munmap-eperm',
      mirrors: ['mseal_test.c test_seal_munmap'],
      quote: BLOCKED_MUNMAP,
      note: 'munmap of a whole sealed four-page mapping: EPERM, and it stays mapped.',
      control: MANUAL.munmap,
      refused: REFUSED,
      allowed: UNMAPPED,
    },
    (ctx, sealed) => {
      const r = sealed ? ctx.mem.sealedAnon(4) : ctx.mem.guarded(4)
      return ctx.try.munmap(r, 0, pg(ctx, 4))
    },
  ),
  ...pair(
    {
      ids: ['mseal.munmap-subrange-eperm', 'mseal.munmap-subrange-unsealed-ok'],
      catalog: 'mseal.munmap-subrange-eperm',
      quote: BLOCKED_MUNMAP,
      note: 'munmap of one page inside a sealed mapping: EPERM, and the page stays mapped.',
      control: MANUAL.munmap,
      refused: REFUSED,
      allowed: UNMAPPED,
    },
    (ctx, sealed) => {
      const r = sealed ? ctx.mem.sealedAnon(4) : ctx.mem.guarded(4)
      return ctx.try.munmap(r, ctx.ps, ctx.ps)
    },
  ),
  ...pair(
    {
      ids: ['mseal.munmap-two-vma-eperm', 'mseal.munmap-two-vma-unsealed-ok'],
      mirrors: ['mseal_test.c test_seal_munmap_two_vma'],
      quote: BLOCKED_MUNMAP,
      note: 'A sealed range of two VMAs (read-write, read-only): munmap of the first VMA, and of a range across both, are refused; nothing is unmapped.',
      control: MANUAL.munmap,
      refused: { munmap: [REFUSED, REFUSED] },
      allowed: { munmap: [UNMAPPED, UNMAPPED] },
    },
    (ctx, sealed) => {
      const r = ctx.mem.guarded(4)
      ctx.mem.protect(r, 0, pg(ctx, 2), RW) // two VMAs
      if (sealed) seal(ctx, r, 0, 4)
      return { munmap: [ctx.try.munmap(r, 0, pg(ctx, 2)), ctx.try.munmap(r, ctx.ps, pg(ctx, 2))] }
    },
  ),
  clause({
    id: 'mseal.munmap-vma-with-gap-ok',
    mirrors: ['mseal_test.c test_seal_munmap_vma_with_gap'],
    quote: [DOC.enomem, DOC.noPartial],
    note: 'mseal over a mapping with a hole fails with ENOMEM and seals nothing, so both pieces, and then the whole range, can be unmapped.',
    expect: { mseal: { errno: 'ENOMEM', sealed: false }, munmap: [UNMAPPED, UNMAPPED, UNMAPPED] },
    run(ctx) {
      const r = ctx.mem.guarded(4)
      ctx.mem.unmap(r, ctx.ps, pg(ctx, 2))
      const mseal = ctx.try.mseal(r, 0, pg(ctx, 4))
      return { mseal, munmap: [ctx.try.munmap(r, 0, ctx.ps), ctx.try.munmap(r, pg(ctx, 3), ctx.ps), ctx.try.munmap(r, 0, pg(ctx, 4))] }
    },
  }),
  ...FREED.flatMap(({ id, mirror, hole, sealed: part, looks, kept, what }) =>
    pair(
      {
        ids: [`mseal.munmap-${id}-freed-eperm`, `mseal.munmap-${id}-freed-unsealed-ok`],
        mirrors: [`mseal_test.c ${mirror}`],
        quote: [DOC.munmapAtomic, DOC610.noPartial],
        note: `munmap of four pages of which ${what}: EPERM, and the sealed pages keep their VMA (its size in pages, as the selftest reads it).`,
        control: MANUAL.munmap,
        refused: { errno: 'EPERM', vmaPages: kept },
        allowed: { ret: 0, vmaPages: looks.map(() => 0) },
      },
      (ctx, sealed) => {
        const r = ctx.mem.guarded(4)
        ctx.mem.unmap(r, pg(ctx, hole[0]), pg(ctx, hole[1]))
        if (sealed) seal(ctx, r, part[0], part[1])
        const { mapped: _first, ...answer } = ctx.try.munmap(r, 0, pg(ctx, 4))
        return { ...answer, vmaPages: looks.map((p) => ctx.mem.vmaPages(r, p)) }
      },
    ),
  ),
  ...pair(
    {
      ids: ['mseal.munmap-atomic', 'mseal.munmap-across-vmas-unsealed-ok'],
      catalog: 'mseal.munmap-atomic',
      mirrors: ['mseal_test.c test_seal_munmap_partial_across_vmas', 'LTP mseal01'],
      quote: [DOC.munmapAtomic, DOC610.noPartial],
      note: 'munmap over three pages whose last page alone is sealed: EPERM, and the unsealed first page is still mapped (atomic in both eras of the document).',
      control: MANUAL.munmap,
      refused: REFUSED,
      allowed: UNMAPPED,
    },
    (ctx, sealed) => {
      const r = ctx.mem.guarded(3)
      ctx.mem.protect(r, pg(ctx, 2), ctx.ps, RW) // the last page is a VMA of its own either way
      if (sealed) seal(ctx, r, 2, 1)
      return ctx.try.munmap(r, 0, pg(ctx, 3))
    },
  ),
  ...pair(
    {
      ids: ['mseal.inherited-across-fork', 'mseal.fork-unsealed-munmap-ok'],
      catalog: 'mseal.inherited-across-fork',
      basis: 'code',
      quote: DOC.lifetime,
      note:
        'A forked child tries to unmap a mapping its parent sealed: EPERM, and the mapping stays in the child. The document speaks of the ' +
        "sealing process; that fork copies VM_SEALED with the VMA is the kernel's code (dup_mmap() copies the VMA's flags).",
      control: MANUAL.munmap,
      controlNote: 'Control for mseal.inherited-across-fork: a forked child unmaps an inherited mapping that was never sealed.',
      refused: REFUSED,
      allowed: UNMAPPED,
    },
    (ctx, sealed) => {
      const r = sealed ? ctx.mem.sealedAnon(2) : ctx.mem.guarded(2)
      const run = ctx.mem.scenario('child-munmap', sealed, { r, offset: 0, length: pg(ctx, 2) })
      const seen: Observation = run.signal ? { signal: run.signal } : { ...callOf(run, 'munmap'), mapped: flag(run, 'mapped') }
      return seen
    },
  ),
]
