/**
 * Sealed VMAs refuse mprotect and pkey_mprotect (catalog §7.2; mseal_test.c test_seal_mprotect*,
 * test_seal_start/end_mprotect; LTP mseal01). Each refusal has its unsealed control. ctx.try.mprotect
 * reports the permissions the first page of the range has afterwards, so a refusal that changed the
 * protection anyway, or a "success" that changed nothing, shows.
 *
 * Over a range whose unsealed VMAs come before the sealed one, the 6.10 document promised that nothing
 * changes ("no partial update"); the 6.12 document says the first VMAs may be updated. The expectation
 * follows the document of the kernel's era.
 */
import type { Ctx } from '../ctx'
import { C } from '../abi'
import type { Clause, KernelFacts, Observation, Quote } from '../types'
import { DOC, DOC610, MANUAL, RO, RW, clause, era610, pair, pg, seal, type Region } from './mseal-common'

const BLOCKED_MPROTECT: Quote[] = [DOC.blocked, DOC.protection, DOC.eperm, DOC610.protection, DOC610.eperm]

/** mprotect over page ranges [first, count] of r, each with the permissions of its first page afterwards. */
function mprotects(ctx: Ctx, r: Region, ranges: ReadonlyArray<[number, number]>, prot: number = RW): Observation {
  return { mprotect: ranges.map(([first, count]) => ctx.try.mprotect(r, pg(ctx, first), pg(ctx, count), prot)) }
}

const no = (perms: string): Observation => ({ errno: 'EPERM', perms })
const ok = (perms: string): Observation => ({ ret: 0, perms })

/**
 * mseal_test.c's mprotect cases: a four-page read-only mapping, an optional split into a read-write and a
 * read-only VMA, a seal, then mprotect over page ranges. In every case the first VMA of each refused range
 * is sealed, so nothing of that range changes in either era of the document.
 */
interface Table {
  id: string
  mirror: string
  split?: [first: number, count: number]
  sealed: [first: number, count: number, len?: number]
  ranges: Array<[number, number]>
  prot?: number
  what: string
  refused: Observation[]
  allowed: Observation[]
}

const TABLE: Table[] = [
  {
    id: 'sealed-start',
    mirror: 'test_seal_start_mprotect',
    sealed: [0, 1],
    ranges: [
      [0, 1],
      [1, 3],
    ],
    what: 'the first page sealed: mprotect of it is refused, of the three others allowed',
    refused: [no('r--p'), ok('rw-p')],
    allowed: [ok('rw-p'), ok('rw-p')],
  },
  {
    id: 'sealed-end',
    mirror: 'test_seal_end_mprotect',
    sealed: [1, 3],
    ranges: [
      [0, 1],
      [1, 3],
    ],
    what: 'the last three pages sealed: mprotect of the first page is allowed, of the sealed ones refused',
    refused: [ok('rw-p'), no('r--p')],
    allowed: [ok('rw-p'), ok('rw-p')],
  },
  {
    id: 'unalign-len',
    mirror: 'test_seal_mprotect_unalign_len',
    sealed: [0, 2, -1],
    ranges: [
      [0, 2],
      [2, 1],
    ],
    what: 'sealed with len = two pages - 1, which seals two whole pages: mprotect of them is refused, of the third allowed',
    refused: [no('r--p'), ok('rw-p')],
    allowed: [ok('rw-p'), ok('rw-p')],
  },
  {
    id: 'unalign-len-variant-2',
    mirror: 'test_seal_mprotect_unalign_len_variant_2',
    sealed: [0, 2, 1],
    ranges: [
      [0, 3],
      [3, 1],
    ],
    what: 'sealed with len = two pages + 1, which seals three whole pages: mprotect of them is refused, of the fourth allowed',
    refused: [no('r--p'), ok('rw-p')],
    allowed: [ok('rw-p'), ok('rw-p')],
  },
  {
    id: 'two-vma',
    mirror: 'test_seal_mprotect_two_vma',
    split: [0, 2],
    sealed: [0, 4],
    ranges: [
      [0, 2],
      [2, 2],
    ],
    what: 'two VMAs (read-write, read-only), both sealed: mprotect of each is refused',
    refused: [no('rw-p'), no('r--p')],
    allowed: [ok('rw-p'), ok('rw-p')],
  },
  {
    id: 'two-vma-with-split',
    mirror: 'test_seal_mprotect_two_vma_with_split',
    split: [0, 2],
    sealed: [1, 2],
    ranges: [
      [0, 1],
      [1, 1],
      [2, 1],
      [3, 1],
    ],
    what: 'two VMAs (read-write, read-only), the seal across both splitting each: mprotect of the two sealed pages is refused, of the others allowed',
    refused: [ok('rw-p'), no('rw-p'), no('r--p'), ok('rw-p')],
    allowed: [ok('rw-p'), ok('rw-p'), ok('rw-p'), ok('rw-p')],
  },
  {
    id: 'partial-mprotect',
    mirror: 'test_seal_mprotect_partial_mprotect',
    sealed: [0, 1],
    ranges: [[0, 2]],
    what: 'the first page sealed: mprotect of the first two pages is refused at the first, sealed, VMA',
    refused: [no('r--p')],
    allowed: [ok('rw-p')],
  },
  {
    id: 'split',
    mirror: 'test_seal_mprotect_split',
    split: [0, 1],
    sealed: [0, 4],
    ranges: [
      [0, 2],
      [2, 2],
    ],
    prot: RO,
    what: 'a read-write first page and a read-only rest, all sealed: mprotect(PROT_READ) of either half is refused',
    refused: [no('rw-p'), no('r--p')],
    allowed: [ok('r--p'), ok('r--p')],
  },
  {
    id: 'merge',
    mirror: 'test_seal_mprotect_merge',
    split: [0, 1],
    sealed: [0, 2],
    ranges: [
      [0, 2],
      [2, 2],
    ],
    prot: RO,
    what: 'a read-write first page, the first two pages sealed: mprotect(PROT_READ) of them is refused, of the last two allowed',
    refused: [no('rw-p'), ok('r--p')],
    allowed: [ok('r--p'), ok('r--p')],
  },
]

/**
 * A blocked call over [unsealed …, sealed]: nothing changed (the 6.10 document's "no partial update"), or,
 * from 6.12 on, either that or the unsealed VMAs before the sealed one updated ("partial update might happen").
 */
export function partial(k: KernelFacts, untouched: Observation, updated: Observation): Observation | Observation[] {
  return era610(k) ? untouched : [updated, untouched]
}

export const protectClauses: Clause[] = [
  ...pair(
    {
      ids: ['mseal.mprotect-eperm', 'mseal.mprotect-unsealed-ok'],
      catalog: 'mseal.mprotect-eperm',
      mirrors: ['mseal_test.c test_seal_mprotect'],
      quote: BLOCKED_MPROTECT,
      note: 'mprotect(PROT_READ|PROT_WRITE) of a sealed read-only mapping: EPERM, and it stays read-only.',
      control: MANUAL.mprotect,
      refused: no('r--p'),
      allowed: ok('rw-p'),
    },
    (ctx, sealed) => {
      const r = sealed ? ctx.mem.sealedAnon(4) : ctx.mem.guarded(4)
      return ctx.try.mprotect(r, 0, pg(ctx, 4), RW)
    },
  ),
  clause({
    id: 'mseal.mprotect-manpage-always-permissible',
    quote: {
      doc: 'mprotect(2)',
      version: 'man-pages 6.20',
      section: 'VERSIONS',
      url: 'https://man7.org/linux/man-pages/man2/mprotect.2.html',
      text: "On Linux, it is always permissible to call mprotect() on any address in a process's address space (except for the kernel vsyscall area).",
    },
    note: 'mprotect(2) makes no exception for sealed memory and lists no EPERM for it; mseal.rst (6.10 on) blocks mprotect of a sealed VMA.',
    expect: ok('rw-p'),
    divergence: {
      doc: 'mprotect(2) (man-pages 6.20): "it is always permissible to call mprotect() on any address in a process\'s address space"; its ERRORS list has no EPERM for sealed memory and the page never mentions mseal(2).',
      kernel: 'Since 6.10 mprotect() on a sealed VMA fails with EPERM (mprotect_fixup(): "if (!can_modify_vma(vma)) return -EPERM"), as mseal.rst documents.',
    },
    history: [
      {
        range: '>=6.10',
        observed: no('r--p'),
        behaviour: 'mprotect on a sealed VMA fails with EPERM and the protection stays; the man page does not know mseal(2).',
        ref: '8be7258aad44 (mseal: add mseal syscall, 6.10); mm/mprotect.c mprotect_fixup()',
      },
    ],
    run(ctx) {
      return ctx.try.mprotect(ctx.mem.sealedAnon(1), 0, ctx.ps, RW)
    },
  }),
  ...pair(
    {
      ids: ['mseal.pkey_mprotect-eperm', 'mseal.pkey_mprotect-unsealed-ok'],
      catalog: 'mseal.pkey_mprotect-eperm',
      quote: BLOCKED_MPROTECT,
      note: 'pkey_mprotect(PROT_READ|PROT_WRITE, pkey -1) of a sealed page: EPERM, and it stays read-only (pkey -1 is mprotect without a key: no PKU needed).',
      control: MANUAL.pkeyMprotect,
      refused: no('r--p'),
      allowed: ok('rw-p'),
    },
    (ctx, sealed) => {
      const r = sealed ? ctx.mem.sealedAnon(1) : ctx.mem.guarded(1)
      return ctx.try.pkeyMprotect(r, 0, ctx.ps, RW, -1)
    },
  ),
  ...pair(
    {
      ids: ['mseal.mprotect-same-prot-eperm', 'mseal.mprotect-same-prot-unsealed-ok'],
      catalog: 'mseal.mprotect-same-prot-eperm',
      quote: BLOCKED_MPROTECT,
      note: 'mprotect(PROT_READ) of a sealed read-only page, a change to nothing: still EPERM (the document makes no exception; the code checks the seal before its "flags unchanged" shortcut).',
      control: MANUAL.mprotect,
      refused: no('r--p'),
      allowed: ok('r--p'),
    },
    (ctx, sealed) => {
      const r = sealed ? ctx.mem.sealedAnon(1) : ctx.mem.guarded(1)
      return ctx.try.mprotect(r, 0, ctx.ps, RO)
    },
  ),
  ...TABLE.flatMap((t) =>
    pair(
      {
        ids: [`mseal.mprotect-${t.id}-eperm`, `mseal.mprotect-${t.id}-unsealed-ok`],
        mirrors: [`mseal_test.c ${t.mirror}`],
        quote: BLOCKED_MPROTECT,
        note: `Four read-only pages, ${t.what}; each mprotect's answer with the permissions of its first page afterwards.`,
        control: MANUAL.mprotect,
        refused: { mprotect: t.refused },
        allowed: { mprotect: t.allowed },
      },
      (ctx, sealed) => {
        const r = ctx.mem.guarded(4)
        if (t.split) ctx.mem.protect(r, pg(ctx, t.split[0]), pg(ctx, t.split[1]), RW)
        if (sealed) ctx.mem.seal(r, pg(ctx, t.sealed[0]), pg(ctx, t.sealed[1]) + (t.sealed[2] ?? 0))
        return mprotects(ctx, r, t.ranges, t.prot)
      },
    ),
  ),
  clause({
    id: 'mseal.mprotect-two-vma-with-gap-enomem',
    mirrors: ['mseal_test.c test_seal_mprotect_two_vma_with_gap'],
    quote: [DOC.enomem, DOC.noPartial, MANUAL.mprotect],
    note:
      'Two read-write pages around a two-page hole: mprotect of the four pages fails with ENOMEM (the first page may already have changed: ' +
      '"internally mprotect still updated the first page", the selftest says), mseal of them fails with ENOMEM and seals nothing, so both ' +
      'pages can then be made read-only.',
    expect: { mprotect: { errno: 'ENOMEM' }, mseal: { errno: 'ENOMEM', sealed: false }, pieces: [ok('r--p'), ok('r--p')] },
    run(ctx) {
      const r = ctx.mem.guarded(4)
      ctx.mem.protect(r, 0, ctx.ps, RW)
      ctx.mem.protect(r, pg(ctx, 3), ctx.ps, RW)
      ctx.mem.unmap(r, ctx.ps, pg(ctx, 2))
      const { perms: _first, ...mprotect } = ctx.try.mprotect(r, 0, pg(ctx, 4), RO)
      const mseal = ctx.try.mseal(r, 0, pg(ctx, 4))
      const pieces = [ctx.try.mprotect(r, 0, ctx.ps, RO), ctx.try.mprotect(r, pg(ctx, 3), ctx.ps, RO)]
      return { mprotect, mseal, pieces }
    },
  }),
  ...pair(
    {
      ids: ['mseal.mprotect-partial', 'mseal.mprotect-partial-unsealed-ok'],
      catalog: 'mseal.mprotect-partial.*',
      mirrors: ['LTP mseal01'],
      quote: [DOC.partial, DOC610.noPartial, DOC610.eperm],
      note:
        'mprotect(PROT_READ|PROT_WRITE) over three read-only pages whose last page alone is sealed: EPERM. The unsealed first page stays ' +
        "read-only under the 6.10 document; from 6.12 on the document allows it to be updated already. The expectation follows the kernel's era.",
      control: MANUAL.mprotect,
      refused: (k) => partial(k, no('r--p'), no('rw-p')),
      allowed: ok('rw-p'),
    },
    (ctx, sealed) => {
      const r = ctx.mem.guarded(3)
      if (sealed) seal(ctx, r, 2, 1)
      return ctx.try.mprotect(r, 0, pg(ctx, 3), RW)
    },
  ),
  ...pair(
    {
      ids: ['mseal.mprotect-partial-tail-keeps-sealed-prot', 'mseal.mprotect-partial-tail-unsealed-ok'],
      mirrors: ['mseal_test.c test_seal_mprotect_partial_mprotect_tail'],
      quote: [DOC.partial, DOC610.noPartial, DOC610.eperm],
      note:
        'mprotect(PROT_EXEC) over two read-only pages whose second page is sealed: EPERM; the sealed page keeps PROT_READ, and the first page ' +
        'changes only where the era of the document allows a partial update.',
      control: MANUAL.mprotect,
      refused: (k) => partial(k, { errno: 'EPERM', pages: ['r--p', 'r--p'] }, { errno: 'EPERM', pages: ['--xp', 'r--p'] }),
      allowed: { ret: 0, pages: ['--xp', '--xp'] },
    },
    (ctx, sealed) => {
      const r = ctx.mem.guarded(2)
      if (sealed) seal(ctx, r, 1, 1)
      const { perms: _first, ...answer } = ctx.try.mprotect(r, 0, pg(ctx, 2), C.PROT_EXEC)
      return { ...answer, pages: [ctx.mem.perms(r, 0), ctx.mem.perms(r, ctx.ps)] }
    },
  ),
]
