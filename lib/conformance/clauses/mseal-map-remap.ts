/**
 * Sealed VMAs refuse being replaced by mmap(MAP_FIXED) and being shrunk, grown or moved by mremap, and a
 * sealed VMA cannot be the target of a move (catalog §7.2; mseal_test.c test_seal_mmap_*,
 * test_seal_mremap_*; LTP mseal01). Each refusal has its unsealed control.
 *
 * What a refused mmap or mremap leaves: the 6.10 document promised "no partial update"; the 6.12 document
 * calls it "undefined behavior". A sealed VMA itself is never changed (that is what sealing is for), so the
 * clauses check it exactly; the unsealed pages a refused call also covered are checked against the set the
 * document of the kernel's era allows.
 */
import type { Ctx } from '../ctx'
import { C } from '../abi'
import type { Clause, Json, KernelFacts, Observation, Quote } from '../types'
import { ANON, DOC, DOC610, MANUAL, RO, RW, clause, era610, pair, pg, seal, type Region } from './mseal-common'

const BLOCKED_MMAP: Quote[] = [DOC.blocked, DOC.firstSet, DOC.eperm, DOC610.mapFixed, DOC610.eperm]
const BLOCKED_MREMAP: Quote[] = [DOC.blocked, DOC.firstSet, DOC.eperm, DOC610.unmapMove, DOC610.eperm]
const BLOCKED_MREMAP_INTO: Quote[] = [DOC.blocked, DOC.firstSet, DOC.undefined, DOC610.moveInto, DOC610.noPartial]

/** The page `page` of r: its permissions and whether it is sealed, from one read of /proc/self/smaps; 'unmapped'. */
function state(ctx: Ctx, r: Region, page: number): Json {
  const v = ctx.mem.vma(r, pg(ctx, page))
  return v ? { perms: v.perms, sealed: v.flags.includes('sl') } : 'unmapped'
}

const SEALED_RO = { perms: 'r--p', sealed: true }
const PLAIN_RO = { perms: 'r--p', sealed: false }

/**
 * The unsealed pages of a refused mmap/mremap: unchanged under the 6.10 document ("no partial update"); from
 * 6.12 on ("undefined behavior") also replaced or unmapped.
 */
function undefinedAfter(k: KernelFacts, unchanged: Observation, ...others: Observation[]): Observation | Observation[] {
  return era610(k) ? unchanged : [unchanged, ...others]
}

/** mmap(MAP_FIXED) of `pages` pages over r: the answer, whether it landed there, and page 0 afterwards. */
function mapOver(ctx: Ctx, r: Region, pages: number, prot: number, flags: number): Observation {
  const { obs, region } = ctx.try.mmap(pg(ctx, pages), prot, flags, -1, 0, r, 0)
  const { perms: _new, ...answer } = obs
  return { ...answer, ...(region ? { atHint: ctx.mem.distance(r, region) === 0 } : {}), page0: state(ctx, r, 0) }
}

/** A free address range: mapped, then unmapped (the selftest's clean_single_address). */
function hole(ctx: Ctx, pages: number): Region {
  const r = ctx.mem.guarded(pages)
  ctx.mem.unmap(r, 0, pg(ctx, pages))
  return r
}

/** mremap of r's first `oldPages` pages: the answer, whether the result is at `target` (or at r), and r's first page afterwards. */
function remap(ctx: Ctx, r: Region, oldPages: number, newPages: number, flags: number, target?: Region): Observation {
  const { obs, region } = ctx.try.mremap(r, 0, pg(ctx, oldPages), pg(ctx, newPages), flags, target, target ? 0 : undefined)
  const { perms: _new, ...answer } = obs
  const at: Observation = region ? { atTarget: ctx.mem.distance(target ?? r, region) === 0 } : {}
  return { ...answer, ...at, source: state(ctx, r, 0) }
}

const mmapClauses: Clause[] = [
  ...pair(
    {
      ids: ['mseal.mmap-fixed-over-eperm', 'mseal.mmap-fixed-over-unsealed-ok'],
      catalog: 'mseal.mmap-fixed-over-eperm',
      mirrors: ['mseal_test.c test_seal_mmap_overwrite_prot', 'LTP mseal01'],
      quote: BLOCKED_MMAP,
      note: 'mmap(PROT_NONE, MAP_FIXED) over a sealed read-only page: EPERM, and the sealed page is still there, read-only and sealed.',
      control: MANUAL.mapFixed,
      refused: { errno: 'EPERM', page0: SEALED_RO },
      allowed: { ret: 0, atHint: true, page0: { perms: '---p', sealed: false } },
    },
    (ctx, sealed) => {
      const r = sealed ? ctx.mem.sealedAnon(1) : ctx.mem.guarded(1)
      return mapOver(ctx, r, 1, C.PROT_NONE, ANON | C.MAP_FIXED)
    },
  ),
  ...pair(
    {
      ids: ['mseal.mmap-fixed-expand-eperm', 'mseal.mmap-fixed-expand-unsealed-ok'],
      mirrors: ['mseal_test.c test_seal_mmap_expand'],
      quote: BLOCKED_MMAP,
      note: 'Eight sealed pages with four free pages after them: mmap(MAP_FIXED) of twelve pages over them is refused, and the sealed VMA keeps its eight pages.',
      control: MANUAL.mapFixed,
      refused: { errno: 'EPERM', page0: SEALED_RO, vmaPages: 8 },
      allowed: { ret: 0, atHint: true, page0: PLAIN_RO, vmaPages: 12 },
    },
    (ctx, sealed) => {
      const r = ctx.mem.guarded(12)
      ctx.mem.unmap(r, pg(ctx, 8), pg(ctx, 4))
      if (sealed) seal(ctx, r, 0, 8)
      return { ...mapOver(ctx, r, 12, RO, ANON | C.MAP_FIXED), vmaPages: ctx.mem.vmaPages(r, 0) }
    },
  ),
  ...pair(
    {
      ids: ['mseal.mmap-fixed-shrink-eperm', 'mseal.mmap-fixed-shrink-unsealed-ok'],
      mirrors: ['mseal_test.c test_seal_mmap_shrink'],
      quote: BLOCKED_MMAP,
      note: 'Twelve sealed pages: mmap(MAP_FIXED) of eight pages over their start is refused, and the sealed pages stay sealed.',
      control: MANUAL.mapFixed,
      refused: { errno: 'EPERM', page0: SEALED_RO },
      allowed: { ret: 0, atHint: true, page0: PLAIN_RO },
    },
    (ctx, sealed) => {
      const r = sealed ? ctx.mem.sealedAnon(12) : ctx.mem.guarded(12)
      return mapOver(ctx, r, 8, RO, ANON | C.MAP_FIXED)
    },
  ),
  clause({
    id: 'mseal.mmap-fixed-partial-overlap-eperm',
    catalog: 'mseal.mmap-fixed-partial-overlap-eperm',
    mirrors: ['LTP mseal01'],
    quote: [DOC.blocked, DOC.eperm, DOC.undefined, DOC610.mapFixed, DOC610.noPartial],
    note:
      'mmap(PROT_NONE, MAP_FIXED) over three read-only pages whose last page alone is sealed: EPERM, and the sealed page is unchanged. The ' +
      'unsealed first page stays as it was under the 6.10 document ("no partial update"); from 6.12 on the document calls the outcome ' +
      '"undefined behavior", so it may also have been replaced or unmapped.',
    expect: (k) =>
      undefinedAfter(
        k,
        { errno: 'EPERM', pages: [PLAIN_RO, SEALED_RO] },
        { errno: 'EPERM', pages: [{ perms: '---p', sealed: false }, SEALED_RO] },
        { errno: 'EPERM', pages: ['unmapped', SEALED_RO] },
      ),
    run(ctx) {
      const r = ctx.mem.guarded(3)
      seal(ctx, r, 2, 1)
      const { page0: _page0, ...answer } = mapOver(ctx, r, 3, C.PROT_NONE, ANON | C.MAP_FIXED)
      return { ...answer, pages: [state(ctx, r, 0), state(ctx, r, 2)] }
    },
  }),
  clause({
    id: 'mseal.mmap-fixed-noreplace-eexist',
    quote: {
      doc: 'mmap(2)',
      version: 'man-pages 6.20',
      section: 'MAP_FIXED_NOREPLACE',
      url: 'https://man7.org/linux/man-pages/man2/mmap.2.html',
      text:
        'MAP_FIXED_NOREPLACE never clobbers a preexisting mapped range. If the requested range would collide with an existing mapping, then this ' +
        'call fails with the error EEXIST.',
    },
    note: 'Not a seal error: MAP_FIXED_NOREPLACE over a sealed page fails with EEXIST, as it would over any mapping, and the page is unchanged.',
    expect: { errno: 'EEXIST', page0: SEALED_RO },
    run: (ctx) => mapOver(ctx, ctx.mem.sealedAnon(1), 1, RO, ANON | C.MAP_FIXED_NOREPLACE),
  }),
  clause({
    id: 'mseal.mmap-hint-relocates',
    quote: {
      doc: 'mmap(2)',
      version: 'man-pages 6.20',
      section: 'DESCRIPTION',
      url: 'https://man7.org/linux/man-pages/man2/mmap.2.html',
      text:
        'If addr is not NULL, then the kernel takes it as a hint about where to place the mapping; … If another mapping already exists there, ' +
        'the kernel picks a new address that may or may not depend on the hint.',
    },
    note: 'Without MAP_FIXED the address of a sealed page is only a hint: the new mapping lands elsewhere and the sealed page is unchanged.',
    expect: { ret: 0, atHint: false, page0: SEALED_RO },
    run: (ctx) => mapOver(ctx, ctx.mem.sealedAnon(1), 1, RW, ANON),
  }),
]

const mremapClauses: Clause[] = [
  ...pair(
    {
      ids: ['mseal.mremap-shrink-eperm', 'mseal.mremap-shrink-unsealed-ok'],
      catalog: 'mseal.mremap-shrink-eperm',
      mirrors: ['mseal_test.c test_seal_mremap_shrink'],
      quote: BLOCKED_MREMAP,
      note: 'mremap shrinking a sealed four-page mapping to two pages in place: EPERM, and the VMA keeps its four pages.',
      control: MANUAL.mremap,
      refused: { errno: 'EPERM', source: SEALED_RO, vmaPages: 4 },
      allowed: { ret: 0, atTarget: true, source: PLAIN_RO, vmaPages: 2 },
    },
    (ctx, sealed) => {
      const r = sealed ? ctx.mem.sealedAnon(4) : ctx.mem.guarded(4)
      return { ...remap(ctx, r, 4, 2, 0), vmaPages: ctx.mem.vmaPages(r, 0) }
    },
  ),
  ...pair(
    {
      ids: ['mseal.mremap-expand-eperm', 'mseal.mremap-expand-unsealed-ok'],
      catalog: 'mseal.mremap-expand-eperm',
      mirrors: ['mseal_test.c test_seal_mremap_expand'],
      quote: [...BLOCKED_MREMAP, DOC610.expand],
      note: 'mremap growing two sealed pages in place to four (the two pages after them are free): EPERM, and the VMA keeps its two pages.',
      control: MANUAL.mremap,
      refused: { errno: 'EPERM', source: SEALED_RO, vmaPages: 2 },
      allowed: { ret: 0, atTarget: true, source: PLAIN_RO, vmaPages: 4 },
    },
    (ctx, sealed) => {
      const r = ctx.mem.guarded(4)
      ctx.mem.unmap(r, pg(ctx, 2), pg(ctx, 2))
      if (sealed) seal(ctx, r, 0, 2)
      return { ...remap(ctx, r, 2, 4, 0), vmaPages: ctx.mem.vmaPages(r, 0) }
    },
  ),
  ...pair(
    {
      ids: ['mseal.mremap-move-out-eperm', 'mseal.mremap-move-out-unsealed-ok'],
      catalog: 'mseal.mremap-move-out-eperm',
      mirrors: ['mseal_test.c test_seal_mremap_move'],
      quote: [...BLOCKED_MREMAP, MANUAL.mremapFixed],
      note: 'mremap(MREMAP_MAYMOVE|MREMAP_FIXED) moving a sealed page to a free address: EPERM, and the page stays where it was, sealed.',
      control: MANUAL.mremapFixed,
      refused: { errno: 'EPERM', source: SEALED_RO },
      allowed: { ret: 0, atTarget: true, source: 'unmapped' },
    },
    (ctx, sealed) => {
      const r = sealed ? ctx.mem.sealedAnon(1) : ctx.mem.guarded(1)
      return remap(ctx, r, 1, 1, C.MREMAP_MAYMOVE | C.MREMAP_FIXED, hole(ctx, 1))
    },
  ),
  ...pair(
    {
      ids: ['mseal.mremap-shrink-fixed-eperm', 'mseal.mremap-shrink-fixed-unsealed-ok'],
      mirrors: ['mseal_test.c test_seal_mremap_shrink_fixed'],
      quote: [...BLOCKED_MREMAP, MANUAL.mremapFixed],
      note: 'mremap moving four sealed pages, shrunk to two, onto another mapping: EPERM, and the sealed pages stay.',
      control: MANUAL.mremapFixed,
      refused: { errno: 'EPERM', source: SEALED_RO },
      allowed: { ret: 0, atTarget: true, source: 'unmapped' },
    },
    (ctx, sealed) => {
      const r = sealed ? ctx.mem.sealedAnon(4) : ctx.mem.guarded(4)
      return remap(ctx, r, 4, 2, C.MREMAP_MAYMOVE | C.MREMAP_FIXED, ctx.mem.guarded(4))
    },
  ),
  ...(
    [
      ['expand', 'mseal.mremap-expand-into-sealed-eperm', 'mseal.mremap-expand-fixed-unsealed-ok', 'test_seal_mremap_expand_fixed', 1],
      ['move', 'mseal.mremap-move-into-sealed-eperm', 'mseal.mremap-move-fixed-unsealed-ok', 'test_seal_mremap_move_fixed', 4],
    ] as const
  ).flatMap(([how, id, control, mirror, oldPages]) =>
    pair(
      {
        ids: [id, control],
        catalog: 'mseal.mremap-move-into-sealed-eperm',
        mirrors: [`mseal_test.c ${mirror}`],
        quote: BLOCKED_MREMAP_INTO,
        note:
          `mremap(MREMAP_MAYMOVE|MREMAP_FIXED) ${how === 'expand' ? 'growing one page to four' : 'moving four pages'} onto four sealed pages: ` +
          'EPERM, and the sealed target is unchanged. The unsealed source stays where it was under the 6.10 document; from 6.12 on ("undefined ' +
          'behavior") it may also be gone.',
        control: MANUAL.mremapFixed,
        refused: (k) => undefinedAfter(k, { errno: 'EPERM', source: PLAIN_RO, target: SEALED_RO }, { errno: 'EPERM', source: 'unmapped', target: SEALED_RO }),
        allowed: { ret: 0, atTarget: true, source: 'unmapped', target: PLAIN_RO },
      },
      (ctx, sealed) => {
        const r = ctx.mem.guarded(oldPages)
        const target = sealed ? ctx.mem.sealedAnon(4) : ctx.mem.guarded(4)
        return { ...remap(ctx, r, oldPages, 4, C.MREMAP_MAYMOVE | C.MREMAP_FIXED, target), target: state(ctx, target, 0) }
      },
    ),
  ),
  ...pair(
    {
      ids: ['mseal.mremap-dontunmap-eperm', 'mseal.mremap-dontunmap-unsealed-ok'],
      catalog: 'mseal.mremap-dontunmap-eperm',
      mirrors: ['mseal_test.c test_seal_mremap_move_dontunmap'],
      quote: [...BLOCKED_MREMAP, MANUAL.dontunmap],
      note: "mremap(MREMAP_MAYMOVE|MREMAP_DONTUNMAP) of four sealed pages to an address of the kernel's choice: EPERM; nothing moves.",
      control: MANUAL.dontunmap,
      refused: { errno: 'EPERM', moved: false, source: SEALED_RO },
      allowed: { ret: 0, moved: true, source: PLAIN_RO },
    },
    (ctx, sealed) => {
      const r = sealed ? ctx.mem.sealedAnon(4) : ctx.mem.guarded(4)
      const { obs, region } = ctx.try.mremap(r, 0, pg(ctx, 4), pg(ctx, 4), C.MREMAP_MAYMOVE | C.MREMAP_DONTUNMAP)
      const { perms: _new, ...answer } = obs
      return { ...answer, moved: region !== null && ctx.mem.distance(r, region) !== 0, source: state(ctx, r, 0) }
    },
  ),
  ...pair(
    {
      ids: ['mseal.mremap-dontunmap-anyaddr-eperm', 'mseal.mremap-dontunmap-anyaddr-unsealed-ok'],
      mirrors: ['mseal_test.c test_seal_mremap_move_dontunmap_anyaddr'],
      quote: [...BLOCKED_MREMAP, MANUAL.dontunmap],
      note: 'mremap(MREMAP_MAYMOVE|MREMAP_DONTUNMAP) of four sealed pages with a free address as the hint: EPERM; the pages stay, sealed.',
      control: MANUAL.dontunmap,
      refused: { errno: 'EPERM', source: SEALED_RO },
      allowed: { ret: 0, atTarget: true, source: PLAIN_RO },
    },
    (ctx, sealed) => {
      const r = sealed ? ctx.mem.sealedAnon(4) : ctx.mem.guarded(4)
      // Without MREMAP_FIXED the new address is a hint; a free hint is taken as it is.
      return remap(ctx, r, 4, 4, C.MREMAP_MAYMOVE | C.MREMAP_DONTUNMAP, hole(ctx, 4))
    },
  ),
  ...pair(
    {
      ids: ['mseal.mremap-shrink-over-sealed-page-eperm', 'mseal.mremap-shrink-over-unsealed-page-ok'],
      mirrors: ['LTP mseal01'],
      quote: [...BLOCKED_MREMAP, DOC.undefined, DOC610.noPartial],
      note:
        "LTP mseal01's mremap case: eight pages with the third one sealed, moved and shrunk to two pages onto another mapping " +
        '(MREMAP_MAYMOVE|MREMAP_FIXED): the pages dropped by the shrink include the sealed one, so EPERM, and the sealed page stays. The ' +
        'unsealed first page stays too under the 6.10 document; from 6.12 on ("undefined behavior") it may also have moved.',
      control: MANUAL.mremapFixed,
      refused: (k) =>
        undefinedAfter(
          k,
          { errno: 'EPERM', source: { perms: 'rw-p', sealed: false }, sealedPage: { perms: 'rw-p', sealed: true } },
          { errno: 'EPERM', source: 'unmapped', sealedPage: { perms: 'rw-p', sealed: true } },
        ),
      allowed: { ret: 0, atTarget: true, source: 'unmapped', sealedPage: 'unmapped' },
    },
    (ctx, sealed) => {
      const r = ctx.mem.guarded(8, RW)
      if (sealed) seal(ctx, r, 2, 1)
      return { ...remap(ctx, r, 8, 2, C.MREMAP_MAYMOVE | C.MREMAP_FIXED, ctx.mem.guarded(8, RW)), sealedPage: state(ctx, r, 2) }
    },
  ),
  clause({
    id: 'mseal.mremap-same-size-nomove-eperm',
    catalog: 'mseal.mremap-same-size-nomove',
    quote: [DOC.blocked, DOC.eperm, DOC610.unmapMove, DOC610.eperm],
    note: 'mremap of four sealed pages to the same size, without MREMAP_MAYMOVE (a no-op): the documents block mremap of a sealed VMA without exception, so EPERM.',
    expect: { errno: 'EPERM', source: SEALED_RO },
    run: (ctx) => remap(ctx, ctx.mem.sealedAnon(4), 4, 4, 0),
  }),
  clause({
    id: 'mseal.mlock-allowed',
    quote: [DOC.blocked, MANUAL.mlock],
    note: "mlock(2) is not among the blocked calls: it succeeds on a sealed page, which is then locked ('lo' in its VmFlags).",
    expect: { ret: 0, locked: true },
    run(ctx) {
      const r = ctx.mem.sealedAnon(1)
      const answer = ctx.try.mlock(r, 0, ctx.ps)
      return { ...answer, locked: ctx.mem.vma(r, 0)?.flags.includes('lo') ?? 'unmapped' }
    },
  }),
]

export const mapRemapClauses: Clause[] = [...mmapClauses, ...mremapClauses]
