/**
 * Sealed VMAs refuse being replaced by mmap(MAP_FIXED) and being shrunk, grown or moved by mremap, and a
 * sealed VMA cannot be the target of a move (catalog §7.2; mseal_test.c test_seal_mmap_*, test_seal_mremap_*).
 */
import type { RawRegion } from '../../native'
import type { Clause, Observation } from '../types'
import type { Ctx } from '../ctx'
import { outcome } from '../ctx'
import { errnoName } from '../../errors'
import { BLOCKED, DOC, anon, clause, perms, rst, seal, pair, unmap } from './mseal-common'

const MREMAP_STATEMENT =
  `${DOC.blocked} The first set of syscalls to block is munmap, mremap, mmap. They can either leave an empty space ` +
  'in the address space, therefore allowing replacement with a new mapping with new set of attributes, or can ' +
  'overwrite the existing mapping with another mapping.'

const ANON = (ctx: Ctx): number => ctx.C.MAP_PRIVATE | ctx.C.MAP_ANONYMOUS

/** mmap over region r (page 0) with `flags`: { errno } or { ret: 0, atHint }. */
function mapOver(ctx: Ctx, r: RawRegion, pages: number, prot: number, flags: number): Observation {
  const m = ctx.mmapCall(pages * ctx.ps, prot, flags, -1, 0, r, 0)
  return typeof m === 'number' ? { errno: errnoName(m) } : { ret: 0, atHint: ctx.raw.distance(r, m) === 0 }
}

/** mremap of r: { errno } or { ret: 0 } plus, when a target was given, whether it landed there. */
function remap(ctx: Ctx, r: RawRegion, oldPages: number, newPages: number, flags: number, target?: RawRegion): Observation {
  const m = ctx.raw.mremap(r, 0, oldPages * ctx.ps, newPages * ctx.ps, flags, target, target ? 0 : undefined)
  if (typeof m === 'number') return { errno: errnoName(m) }
  ctx.adopt(m, newPages * ctx.ps)
  // A move to a fixed target unmaps the source (unless MREMAP_DONTUNMAP): it is no longer the clause's.
  if (flags & ctx.C.MREMAP_FIXED && !(flags & ctx.C.MREMAP_DONTUNMAP)) ctx.forget(r)
  return target ? { ret: 0, atTarget: ctx.raw.distance(target, m) === 0 } : { ret: 0 }
}

/** An address range that is free right now: mapped, then unmapped (the selftest's clean_single_address). */
function hole(ctx: Ctx, pages: number): RawRegion {
  const r = anon(ctx, pages)
  unmap(ctx, r, 0, pages)
  ctx.forget(r)
  return r
}

const mmapClauses: Clause[] = [
  ...pair(
    ['mseal.mmap-fixed-over-eperm', 'mseal.mmap-fixed-over-unsealed-ok'],
    {
      catalog: 'mseal.mmap-fixed-over-eperm; §9.3 test_seal_mmap_overwrite_prot',
      statement: `${DOC.blocked} (mseal.c: "Modifying a VMA via mmap(MAP_FIXED)".)`,
      refused: { errno: 'EPERM' },
      allowed: { ret: 0, atHint: true },
    },
    (ctx, sealed) => {
      const r = anon(ctx, 1)
      if (sealed) seal(ctx, r, 0, 1)
      return mapOver(ctx, r, 1, ctx.C.PROT_NONE, ANON(ctx) | ctx.C.MAP_FIXED)
    },
  ),
  ...pair(
    ['mseal.mmap-fixed-expand-eperm', 'mseal.mmap-fixed-expand-unsealed-ok'],
    {
      catalog: '§9.3 test_seal_mmap_expand',
      statement: DOC.blocked,
      refused: { errno: 'EPERM' },
      allowed: { ret: 0, atHint: true },
    },
    (ctx, sealed) => {
      const r = anon(ctx, 12)
      unmap(ctx, r, 8, 4)
      if (sealed) seal(ctx, r, 0, 8)
      return mapOver(ctx, r, 12, ctx.C.PROT_READ, ANON(ctx) | ctx.C.MAP_FIXED)
    },
  ),
  ...pair(
    ['mseal.mmap-fixed-shrink-eperm', 'mseal.mmap-fixed-shrink-unsealed-ok'],
    {
      catalog: '§9.3 test_seal_mmap_shrink',
      statement: DOC.blocked,
      refused: { errno: 'EPERM' },
      allowed: { ret: 0, atHint: true },
    },
    (ctx, sealed) => {
      const r = anon(ctx, 12)
      if (sealed) seal(ctx, r, 0, 12)
      return mapOver(ctx, r, 8, ctx.C.PROT_READ, ANON(ctx) | ctx.C.MAP_FIXED)
    },
  ),
  clause({
    id: 'mseal.mmap-fixed-partial-overlap-eperm',
    statement: `${DOC.blocked} ${DOC.mmapUndefined}`,
    source: rst(BLOCKED),
    expect: { errno: 'EPERM' },
    run(ctx) {
      const r = anon(ctx, 3)
      seal(ctx, r, 2, 1)
      const m = ctx.mmapCall(3 * ctx.ps, ctx.C.PROT_NONE, ANON(ctx) | ctx.C.MAP_FIXED, -1, 0, r, 0)
      return ctx.mapOutcome(m)
    },
  }),
  clause({
    id: 'mseal.mmap-fixed-partial-overlap-atomic',
    statement: `Not documented ("${DOC.mmapUndefined}"); the code checks every VMA in the range for the seal before it unmaps anything, so the unsealed pages keep their mapping.`,
    source: rst(BLOCKED),
    expect: { page0: 'r--p' },
    run(ctx) {
      const r = anon(ctx, 3)
      seal(ctx, r, 2, 1)
      ctx.mmapCall(3 * ctx.ps, ctx.C.PROT_NONE, ANON(ctx) | ctx.C.MAP_FIXED, -1, 0, r, 0) // EPERM, see above
      return { page0: perms(ctx, r, 0) }
    },
  }),
  clause({
    id: 'mseal.mmap-fixed-noreplace-eexist',
    statement:
      'mmap(2): "If the requested range would collide with an existing mapping, then this call fails with the error EEXIST." Not a seal error: MAP_FIXED_NOREPLACE never replaces, sealed or not.',
    source: { doc: 'mmap(2)', section: 'MAP_FIXED_NOREPLACE', url: 'https://man7.org/linux/man-pages/man2/mmap.2.html' },
    expect: { errno: 'EEXIST' },
    run(ctx) {
      const r = anon(ctx, 1)
      seal(ctx, r, 0, 1)
      return ctx.mapOutcome(ctx.mmapCall(ctx.ps, ctx.C.PROT_READ, ANON(ctx) | ctx.C.MAP_FIXED_NOREPLACE, -1, 0, r, 0))
    },
  }),
  clause({
    id: 'mseal.mmap-hint-relocates',
    statement:
      'Not documented for sealed mappings; without MAP_FIXED the address is only a hint (mmap(2)), so the kernel places the new mapping elsewhere and the sealed one is untouched.',
    source: { doc: 'mmap(2)', section: 'DESCRIPTION', url: 'https://man7.org/linux/man-pages/man2/mmap.2.html' },
    expect: { ret: 0, atHint: false, page0: 'r--p' },
    run(ctx) {
      const r = anon(ctx, 1)
      seal(ctx, r, 0, 1)
      return { ...mapOver(ctx, r, 1, ctx.C.PROT_READ | ctx.C.PROT_WRITE, ANON(ctx)), page0: perms(ctx, r, 0) }
    },
  }),
]

const mremapClauses: Clause[] = [
  ...pair(
    ['mseal.mremap-shrink-eperm', 'mseal.mremap-shrink-unsealed-ok'],
    {
      catalog: 'mseal.mremap-shrink-eperm; §9.3 test_seal_mremap_shrink',
      statement: MREMAP_STATEMENT,
      refused: { errno: 'EPERM' },
      allowed: { ret: 0 },
    },
    (ctx, sealed) => {
      const r = anon(ctx, 4)
      if (sealed) seal(ctx, r, 0, 4)
      return remap(ctx, r, 4, 2, 0)
    },
  ),
  ...pair(
    ['mseal.mremap-expand-eperm', 'mseal.mremap-expand-unsealed-ok'],
    {
      catalog: 'mseal.mremap-expand-eperm; §9.3 test_seal_mremap_expand',
      statement: `${MREMAP_STATEMENT} (mseal.c: "Size expansion, via mremap()".)`,
      refused: { errno: 'EPERM' },
      allowed: { ret: 0, atTarget: true },
    },
    (ctx, sealed) => {
      const r = anon(ctx, 4)
      unmap(ctx, r, 2, 2)
      if (sealed) seal(ctx, r, 0, 2)
      const out = remap(ctx, r, 2, 4, 0)
      // in-place growth: the selftest checks that the result is ptr itself
      return 'ret' in out ? { ret: 0, atTarget: ctx.raw.vma(r, 3 * ctx.ps) !== null } : out
    },
  ),
  ...pair(
    ['mseal.mremap-move-out-eperm', 'mseal.mremap-move-out-unsealed-ok'],
    {
      catalog: 'mseal.mremap-move-out-eperm; §9.3 test_seal_mremap_move',
      statement: MREMAP_STATEMENT,
      refused: { errno: 'EPERM' },
      allowed: { ret: 0, atTarget: true },
    },
    (ctx, sealed) => {
      const r = anon(ctx, 1)
      const target = hole(ctx, 1)
      if (sealed) seal(ctx, r, 0, 1)
      return remap(ctx, r, 1, 1, ctx.C.MREMAP_MAYMOVE | ctx.C.MREMAP_FIXED, target)
    },
  ),
  ...pair(
    ['mseal.mremap-shrink-fixed-eperm', 'mseal.mremap-shrink-fixed-unsealed-ok'],
    {
      catalog: '§9.3 test_seal_mremap_shrink_fixed',
      statement: MREMAP_STATEMENT,
      refused: { errno: 'EPERM' },
      allowed: { ret: 0, atTarget: true },
    },
    (ctx, sealed) => {
      const r = anon(ctx, 4)
      const target = anon(ctx, 4)
      if (sealed) seal(ctx, r, 0, 4)
      return remap(ctx, r, 4, 2, ctx.C.MREMAP_MAYMOVE | ctx.C.MREMAP_FIXED, target)
    },
  ),
  ...pair(
    ['mseal.mremap-expand-into-sealed-eperm', 'mseal.mremap-expand-fixed-unsealed-ok'],
    {
      catalog: 'mseal.mremap-move-into-sealed-eperm; §9.3 test_seal_mremap_expand_fixed',
      statement: `${MREMAP_STATEMENT} (mseal.c: "Moving or expanding a different vma into the current location, via mremap()".)`,
      refused: { errno: 'EPERM' },
      allowed: { ret: 0, atTarget: true },
    },
    (ctx, sealed) => {
      const r = anon(ctx, 1)
      const target = anon(ctx, 4)
      if (sealed) seal(ctx, target, 0, 4)
      return remap(ctx, r, 1, 4, ctx.C.MREMAP_MAYMOVE | ctx.C.MREMAP_FIXED, target)
    },
  ),
  ...pair(
    ['mseal.mremap-move-into-sealed-eperm', 'mseal.mremap-move-fixed-unsealed-ok'],
    {
      catalog: 'mseal.mremap-move-into-sealed-eperm; §9.3 test_seal_mremap_move_fixed',
      statement: `${MREMAP_STATEMENT} (mseal.c: "Moving or expanding a different vma into the current location, via mremap()".)`,
      refused: { errno: 'EPERM' },
      allowed: { ret: 0, atTarget: true },
    },
    (ctx, sealed) => {
      const r = anon(ctx, 4)
      const target = anon(ctx, 4)
      if (sealed) seal(ctx, target, 0, 4)
      return remap(ctx, r, 4, 4, ctx.C.MREMAP_MAYMOVE | ctx.C.MREMAP_FIXED, target)
    },
  ),
  ...pair(
    ['mseal.mremap-dontunmap-eperm', 'mseal.mremap-dontunmap-unsealed-ok'],
    {
      catalog: 'mseal.mremap-dontunmap-eperm; §9.3 test_seal_mremap_move_dontunmap',
      statement: MREMAP_STATEMENT,
      refused: { errno: 'EPERM' },
      allowed: { ret: 0 },
    },
    (ctx, sealed) => {
      const r = anon(ctx, 4)
      if (sealed) seal(ctx, r, 0, 4)
      return remap(ctx, r, 4, 4, ctx.C.MREMAP_MAYMOVE | ctx.C.MREMAP_DONTUNMAP)
    },
  ),
  ...pair(
    ['mseal.mremap-dontunmap-anyaddr-eperm', 'mseal.mremap-dontunmap-anyaddr-unsealed-ok'],
    {
      catalog: '§9.3 test_seal_mremap_move_dontunmap_anyaddr',
      statement: MREMAP_STATEMENT,
      refused: { errno: 'EPERM' },
      allowed: { ret: 0, atTarget: true },
    },
    (ctx, sealed): Observation => {
      const r = anon(ctx, 4)
      if (sealed) seal(ctx, r, 0, 4)
      const free = hole(ctx, 4)
      // Without MREMAP_FIXED the new address is a hint; a free hint is taken as it is.
      const m = ctx.raw.mremap(r, 0, 4 * ctx.ps, 4 * ctx.ps, ctx.C.MREMAP_MAYMOVE | ctx.C.MREMAP_DONTUNMAP, free, 0)
      if (typeof m === 'number') return { errno: errnoName(m) }
      ctx.adopt(m, 4 * ctx.ps)
      return { ret: 0, atTarget: ctx.raw.distance(free, m) === 0 }
    },
  ),
  clause({
    id: 'mseal.mremap-same-size-nomove',
    statement: `${DOC.blocked} Not documented for a same-size mremap without MREMAP_MAYMOVE (a no-op); the code refuses it too (check_prep_vma → -EPERM on 6.18).`,
    source: rst(BLOCKED),
    expect: { errno: 'EPERM' },
    run(ctx) {
      const r = anon(ctx, 4)
      seal(ctx, r, 0, 4)
      return remap(ctx, r, 4, 4, 0)
    },
  }),
  clause({
    id: 'mseal.mlock-allowed',
    statement:
      'Not documented; mlock(2) is not in the blocked list ("Blocked mm syscall: munmap, mmap, mremap, mprotect and pkey_mprotect, some destructive madvise behaviors"), and the code does not check the seal.',
    source: rst(BLOCKED),
    expect: { ret: 0 },
    run(ctx) {
      const r = anon(ctx, 1)
      seal(ctx, r, 0, 1)
      return outcome(ctx.raw.mlock(r, 0, ctx.ps))
    },
  }),
]

export const mapRemapClauses: Clause[] = [...mmapClauses, ...mremapClauses]
