/**
 * Sealed VMAs refuse munmap, mprotect and pkey_mprotect (catalog §7.2; mseal_test.c test_seal_munmap*,
 * test_munmap_*_freed, test_seal_mprotect*). Each refusal has its unsealed control, as in the selftest's
 * seal=false runs.
 */
import type { Target } from '../../native'
import type { Clause, Observation } from '../types'
import type { Ctx } from '../ctx'
import { outcome } from '../ctx'
import { BLOCKED, DOC, anon, clause, perms, protect, res, rst, seal, unmap, pair, vmaPages } from './mseal-common'

const RW = (ctx: Ctx): number => ctx.C.PROT_READ | ctx.C.PROT_WRITE

const munmapClauses: Clause[] = [
  ...pair(
    ['mseal.munmap-eperm', 'mseal.munmap-unsealed-ok'],
    {
      catalog: 'mseal.munmap-eperm; §9.3 test_seal_munmap',
      statement: `${DOC.blocked} Example: rc = mseal(ptr, 4096, 0); /* munmap will fail */ rc = munmap(ptr, 4096);`,
      section: BLOCKED,
      refused: { errno: 'EPERM', page0: 'r--p' },
      allowed: { ret: 0, page0: 'unmapped' },
    },
    (ctx, sealed) => {
      const r = anon(ctx, 4)
      if (sealed) seal(ctx, r, 0, 4)
      const ret = ctx.raw.munmap(r, 0, 4 * ctx.ps)
      return { ...outcome(ret), page0: perms(ctx, r, 0) }
    },
  ),
  ...pair(
    ['mseal.munmap-subrange-eperm', 'mseal.munmap-subrange-unsealed-ok'],
    {
      statement: DOC.blocked,
      section: BLOCKED,
      refused: { errno: 'EPERM', page1: 'r--p' },
      allowed: { ret: 0, page1: 'unmapped' },
    },
    (ctx, sealed) => {
      const r = anon(ctx, 4)
      if (sealed) seal(ctx, r, 0, 4)
      const ret = ctx.raw.munmap(r, ctx.ps, ctx.ps)
      return { ...outcome(ret), page1: perms(ctx, r, 1) }
    },
  ),
  ...pair(
    ['mseal.munmap-two-vma-eperm', 'mseal.munmap-two-vma-unsealed-ok'],
    {
      catalog: '§9.3 test_seal_munmap_two_vma',
      statement: DOC.blocked,
      section: BLOCKED,
      refused: { munmap: ['EPERM', 'EPERM'] },
      allowed: { munmap: [0, 0] },
    },
    (ctx, sealed) => {
      const r = anon(ctx, 4)
      protect(ctx, r, 0, 2, RW(ctx)) // two VMAs
      if (sealed) seal(ctx, r, 0, 4)
      return { munmap: [res(ctx.raw.munmap(r, 0, 2 * ctx.ps)), res(ctx.raw.munmap(r, ctx.ps, 2 * ctx.ps))] }
    },
  ),
  clause({
    id: 'mseal.munmap-vma-with-gap-ok',
    catalog: '§9.3 test_seal_munmap_vma_with_gap',
    statement: `${DOC.enomem} ${DOC.noPartial} (So the pieces stay unsealed and can be unmapped.)`,
    source: rst('mseal syscall signature'),
    expect: { mseal: 'ENOMEM', munmap: [0, 0, 0] },
    run(ctx) {
      const r = anon(ctx, 4)
      unmap(ctx, r, 1, 2)
      const mseal = res(ctx.raw.mseal(r, 0, 4 * ctx.ps, 0))
      const munmap = [ctx.raw.munmap(r, 0, ctx.ps), ctx.raw.munmap(r, 2 * ctx.ps, ctx.ps), ctx.raw.munmap(r, 0, 4 * ctx.ps)].map(res)
      return { mseal, munmap }
    },
  }),
  ...pair(
    ['mseal.munmap-start-freed-eperm', 'mseal.munmap-start-freed-unsealed-ok'],
    {
      catalog: '§9.3 test_munmap_start_freed',
      statement: `${DOC.blocked} ${DOC.munmapAtomic}`,
      section: BLOCKED,
      refused: { errno: 'EPERM', vmaPages: 3 },
      allowed: { ret: 0, vmaPages: 0 },
    },
    (ctx, sealed) => {
      const r = anon(ctx, 4)
      unmap(ctx, r, 0, 1)
      if (sealed) seal(ctx, r, 1, 3)
      const ret = ctx.raw.munmap(r, 0, 4 * ctx.ps)
      return { ...outcome(ret), vmaPages: vmaPages(ctx, r, 1) }
    },
  ),
  ...pair(
    ['mseal.munmap-middle-freed-eperm', 'mseal.munmap-middle-freed-unsealed-ok'],
    {
      catalog: '§9.3 test_munmap_middle_freed',
      statement: `${DOC.blocked} ${DOC.munmapAtomic}`,
      section: BLOCKED,
      refused: { errno: 'EPERM', vmaPages: [1, 1] },
      allowed: { ret: 0, vmaPages: [0, 0] },
    },
    (ctx, sealed) => {
      const r = anon(ctx, 4)
      unmap(ctx, r, 1, 2)
      if (sealed) seal(ctx, r, 0, 1)
      const ret = ctx.raw.munmap(r, 0, 4 * ctx.ps)
      return { ...outcome(ret), vmaPages: [vmaPages(ctx, r, 0), vmaPages(ctx, r, 3)] }
    },
  ),
  ...pair(
    ['mseal.munmap-end-freed-eperm', 'mseal.munmap-end-freed-unsealed-ok'],
    {
      catalog: '§9.3 test_munmap_end_freed',
      statement: `${DOC.blocked} ${DOC.munmapAtomic}`,
      section: BLOCKED,
      refused: { errno: 'EPERM', vmaPages: 3 },
      allowed: { ret: 0, vmaPages: 0 },
    },
    (ctx, sealed) => {
      const r = anon(ctx, 4)
      unmap(ctx, r, 3, 1)
      if (sealed) seal(ctx, r, 0, 3)
      const ret = ctx.raw.munmap(r, 0, 4 * ctx.ps)
      return { ...outcome(ret), vmaPages: vmaPages(ctx, r, 0) }
    },
  ),
  ...pair(
    ['mseal.munmap-atomic', 'mseal.munmap-across-vmas-unsealed-ok'],
    {
      catalog: 'mseal.munmap-atomic; §9.3 test_seal_munmap_partial_across_vmas',
      statement: DOC.munmapAtomic,
      section: BLOCKED,
      refused: { errno: 'EPERM', page0: 'r--p' },
      allowed: { ret: 0, page0: 'unmapped' },
    },
    (ctx, sealed) => {
      const r = anon(ctx, 3)
      protect(ctx, r, 2, 1, ctx.C.PROT_READ | ctx.C.PROT_EXEC) // the last page is a VMA of its own either way
      if (sealed) seal(ctx, r, 2, 1)
      const ret = ctx.raw.munmap(r, 0, 3 * ctx.ps)
      return { ...outcome(ret), page0: perms(ctx, r, 0) }
    },
  ),
  ...pair(
    ['mseal.inherited-across-fork', 'mseal.fork-unsealed-munmap-ok'],
    {
      statement: `${DOC.lifetime}. (fork copies VM_SEALED: a child cannot unmap what its parent sealed.)`,
      section: BLOCKED,
      refused: { errno: 'EPERM' },
      allowed: { ret: 0 },
    },
    (ctx, sealed) => {
      const r = anon(ctx, 2)
      if (sealed) seal(ctx, r, 0, 2)
      return outcome(ctx.native.forkMunmap(r, 0, 2 * ctx.ps))
    },
  ),
]

/** mprotect(RW) results over page ranges [first, count], as in the selftest. */
function mprotects(ctx: Ctx, r: Target, ranges: Array<[number, number]>, prot?: number): Observation {
  return { mprotect: ranges.map(([first, count]) => res(ctx.raw.mprotect(r, first * ctx.ps, count * ctx.ps, prot ?? RW(ctx)))) }
}

const mprotectClauses: Clause[] = [
  ...pair(
    ['mseal.mprotect-eperm', 'mseal.mprotect-unsealed-ok'],
    {
      catalog: 'mseal.mprotect-eperm; §9.3 test_seal_mprotect',
      statement: `${DOC.blocked} mprotect and pkey_mprotect are blocked because they changes the protection bits (RWX) of the mapping.`,
      section: BLOCKED,
      refused: { errno: 'EPERM' },
      allowed: { ret: 0 },
    },
    (ctx, sealed) => {
      const r = anon(ctx, 4)
      if (sealed) seal(ctx, r, 0, 4)
      return outcome(ctx.raw.mprotect(r, 0, 4 * ctx.ps, RW(ctx)))
    },
  ),
  clause({
    id: 'mseal.mprotect-manpage-always-permissible',
    statement: "On Linux, it is always permissible to call mprotect() on any address in a process's address space (except for the kernel vsyscall area).",
    source: { doc: 'mprotect(2)', section: 'VERSIONS', url: 'https://man7.org/linux/man-pages/man2/mprotect.2.html' },
    expect: { ret: 0 },
    divergence: {
      doc: 'mprotect(2): "it is always permissible to call mprotect() on any address in a process\'s address space"; its ERRORS list has no EPERM and it never mentions mseal(2).',
      kernel: 'Since 6.10 mprotect() on a sealed VMA fails with EPERM (mprotect_fixup(): "if (!can_modify_vma(vma)) return -EPERM"), as mseal.rst documents.',
    },
    history: [
      {
        range: '>=6.10',
        observed: { errno: 'EPERM' },
        behaviour: 'mprotect on a sealed VMA fails with EPERM; the man page predates mseal(2).',
        ref: '8be7258aad44 (mseal: add mseal syscall); mm/mprotect.c mprotect_fixup()',
      },
    ],
    run(ctx) {
      const r = anon(ctx, 1)
      seal(ctx, r, 0, 1)
      return outcome(ctx.raw.mprotect(r, 0, ctx.ps, RW(ctx)))
    },
  }),
  ...pair(
    ['mseal.pkey_mprotect-eperm', 'mseal.pkey_mprotect-unsealed-ok'],
    {
      statement: DOC.blocked,
      section: BLOCKED,
      refused: { errno: 'EPERM' },
      allowed: { ret: 0 },
    },
    (ctx, sealed) => {
      const r = anon(ctx, 1)
      if (sealed) seal(ctx, r, 0, 1)
      return outcome(ctx.raw.pkeyMprotect(r, 0, ctx.ps, RW(ctx), -1)) // pkey -1: mprotect semantics, no PKU needed
    },
  ),
  ...pair(
    ['mseal.mprotect-same-prot-eperm', 'mseal.mprotect-same-prot-unsealed-ok'],
    {
      statement: `${DOC.blocked} (Not documented for a no-op: the code checks the seal before the "flags unchanged" shortcut.)`,
      section: BLOCKED,
      refused: { errno: 'EPERM' },
      allowed: { ret: 0 },
    },
    (ctx, sealed) => {
      const r = anon(ctx, 1)
      if (sealed) seal(ctx, r, 0, 1)
      return outcome(ctx.raw.mprotect(r, 0, ctx.ps, ctx.C.PROT_READ))
    },
  ),
  ...pair(
    ['mseal.mprotect-sealed-start-eperm', 'mseal.mprotect-sealed-start-unsealed-ok'],
    {
      catalog: '§9.3 test_seal_start_mprotect',
      statement: DOC.blocked,
      section: BLOCKED,
      refused: { mprotect: ['EPERM', 0] },
      allowed: { mprotect: [0, 0] },
    },
    (ctx, sealed) => {
      const r = anon(ctx, 4)
      if (sealed) seal(ctx, r, 0, 1)
      return mprotects(ctx, r, [
        [0, 1],
        [1, 3],
      ])
    },
  ),
  ...pair(
    ['mseal.mprotect-sealed-end-eperm', 'mseal.mprotect-sealed-end-unsealed-ok'],
    {
      catalog: '§9.3 test_seal_end_mprotect',
      statement: DOC.blocked,
      section: BLOCKED,
      refused: { mprotect: [0, 'EPERM'] },
      allowed: { mprotect: [0, 0] },
    },
    (ctx, sealed) => {
      const r = anon(ctx, 4)
      if (sealed) seal(ctx, r, 1, 3)
      return mprotects(ctx, r, [
        [0, 1],
        [1, 3],
      ])
    },
  ),
  ...pair(
    ['mseal.mprotect-unalign-len-eperm', 'mseal.mprotect-unalign-len-unsealed-ok'],
    {
      catalog: '§9.3 test_seal_mprotect_unalign_len',
      statement: `${DOC.lenAligned} ${DOC.blocked}`,
      section: 'mseal syscall signature',
      refused: { mprotect: ['EPERM', 0] },
      allowed: { mprotect: [0, 0] },
    },
    (ctx, sealed) => {
      const r = anon(ctx, 4)
      if (sealed) ctx.setup(ctx.raw.mseal(r, 0, 2 * ctx.ps - 1, 0), 'mseal(2 pages - 1)')
      return mprotects(ctx, r, [
        [0, 2],
        [2, 1],
      ])
    },
  ),
  ...pair(
    ['mseal.mprotect-unalign-len-variant-2-eperm', 'mseal.mprotect-unalign-len-variant-2-unsealed-ok'],
    {
      catalog: '§9.3 test_seal_mprotect_unalign_len_variant_2',
      statement: `${DOC.lenAligned} ${DOC.blocked}`,
      section: 'mseal syscall signature',
      refused: { mprotect: ['EPERM', 0] },
      allowed: { mprotect: [0, 0] },
    },
    (ctx, sealed) => {
      const r = anon(ctx, 4)
      if (sealed) ctx.setup(ctx.raw.mseal(r, 0, 2 * ctx.ps + 1, 0), 'mseal(2 pages + 1)')
      return mprotects(ctx, r, [
        [0, 3],
        [3, 1],
      ])
    },
  ),
  ...pair(
    ['mseal.mprotect-two-vma-eperm', 'mseal.mprotect-two-vma-unsealed-ok'],
    {
      catalog: '§9.3 test_seal_mprotect_two_vma',
      statement: DOC.blocked,
      section: BLOCKED,
      refused: { mprotect: ['EPERM', 'EPERM'] },
      allowed: { mprotect: [0, 0] },
    },
    (ctx, sealed) => {
      const r = anon(ctx, 4)
      protect(ctx, r, 0, 2, RW(ctx))
      if (sealed) seal(ctx, r, 0, 4)
      return mprotects(ctx, r, [
        [0, 2],
        [2, 2],
      ])
    },
  ),
  ...pair(
    ['mseal.mprotect-two-vma-with-split-eperm', 'mseal.mprotect-two-vma-with-split-unsealed-ok'],
    {
      catalog: '§9.3 test_seal_mprotect_two_vma_with_split',
      statement: DOC.blocked,
      section: BLOCKED,
      refused: { mprotect: [0, 'EPERM', 'EPERM', 0] },
      allowed: { mprotect: [0, 0, 0, 0] },
    },
    (ctx, sealed) => {
      const r = anon(ctx, 4)
      protect(ctx, r, 0, 2, RW(ctx))
      if (sealed) seal(ctx, r, 1, 2) // across both VMAs, splitting each
      return mprotects(ctx, r, [
        [0, 1],
        [1, 1],
        [2, 1],
        [3, 1],
      ])
    },
  ),
  ...pair(
    ['mseal.mprotect-partial-mprotect-eperm', 'mseal.mprotect-partial-mprotect-unsealed-ok'],
    {
      catalog: '§9.3 test_seal_mprotect_partial_mprotect',
      statement: DOC.blocked,
      section: BLOCKED,
      refused: { mprotect: ['EPERM'] },
      allowed: { mprotect: [0] },
    },
    (ctx, sealed) => {
      const r = anon(ctx, 4)
      if (sealed) seal(ctx, r, 0, 1)
      return mprotects(ctx, r, [[0, 2]])
    },
  ),
  clause({
    id: 'mseal.mprotect-two-vma-with-gap-enomem',
    catalog: '§9.3 test_seal_mprotect_two_vma_with_gap',
    statement: `${DOC.enomem} ${DOC.noPartial} (mprotect(2): ENOMEM when the range "specify one or more pages that are not mapped".)`,
    source: rst('mseal syscall signature'),
    expect: { mprotect: 'ENOMEM', mseal: 'ENOMEM', pieces: [0, 0] },
    run(ctx) {
      const r = anon(ctx, 4)
      protect(ctx, r, 0, 1, RW(ctx))
      protect(ctx, r, 3, 1, RW(ctx))
      unmap(ctx, r, 1, 2)
      const mprotect = res(ctx.raw.mprotect(r, 0, 4 * ctx.ps, ctx.C.PROT_READ))
      const mseal = res(ctx.raw.mseal(r, 0, 4 * ctx.ps, 0))
      const pieces = [ctx.raw.mprotect(r, 0, ctx.ps, ctx.C.PROT_READ), ctx.raw.mprotect(r, 3 * ctx.ps, ctx.ps, ctx.C.PROT_READ)].map(res)
      return { mprotect, mseal, pieces }
    },
  }),
  ...pair(
    ['mseal.mprotect-split-eperm', 'mseal.mprotect-split-unsealed-ok'],
    {
      catalog: '§9.3 test_seal_mprotect_split',
      statement: DOC.blocked,
      section: BLOCKED,
      refused: { mprotect: ['EPERM', 'EPERM'] },
      allowed: { mprotect: [0, 0] },
    },
    (ctx, sealed) => {
      const r = anon(ctx, 4)
      protect(ctx, r, 0, 1, RW(ctx))
      if (sealed) seal(ctx, r, 0, 4)
      return mprotects(
        ctx,
        r,
        [
          [0, 2],
          [2, 2],
        ],
        ctx.C.PROT_READ,
      )
    },
  ),
  ...pair(
    ['mseal.mprotect-merge-eperm', 'mseal.mprotect-merge-unsealed-ok'],
    {
      catalog: '§9.3 test_seal_mprotect_merge',
      statement: DOC.blocked,
      section: BLOCKED,
      refused: { mprotect: ['EPERM', 0] },
      allowed: { mprotect: [0, 0] },
    },
    (ctx, sealed) => {
      const r = anon(ctx, 4)
      protect(ctx, r, 0, 1, RW(ctx))
      if (sealed) seal(ctx, r, 0, 2)
      return mprotects(
        ctx,
        r,
        [
          [0, 2],
          [2, 2],
        ],
        ctx.C.PROT_READ,
      )
    },
  ),
  clause({
    id: 'mseal.mprotect-partial',
    divergence: {
      doc: 'mseal.rst as published for 6.10 and 6.11 (docs.kernel.org/6.11): blocked calls fail with EPERM and "the given memory range is unmodified, i.e. no partial update"; it lists mprotect, pkey_mprotect and the destructive madvise calls as blocked without mentioning partial updates.',
      kernel:
        'Since 6.12 the seal checks run per VMA inside mprotect and madvise, so the VMAs before the sealed one are already changed when EPERM returns; the current mseal.rst says "partial update might happen" (Pedro Falcato, "mm: Optimize mseal checks").',
    },
    catalog: 'mseal.mprotect-partial.*',
    statement: DOC.partial,
    source: rst('Blocked mm syscall for sealed mapping'),
    expect: { errno: 'EPERM', page0: 'rw-p' },
    history: [
      {
        range: '>=6.10 <6.12',
        observed: { errno: 'EPERM', page0: 'r--p' },
        behaviour:
          'Before 6.12 can_modify_mm() checked the whole range before any change, so nothing was updated (the 6.10/6.11 mseal.rst did not mention partial updates).',
        ref: 'Pedro Falcato, "mm: Optimize mseal checks" (6.12): "mm/mprotect: Replace can_modify_mm with can_modify_vma"',
      },
    ],
    run(ctx) {
      const r = anon(ctx, 3)
      seal(ctx, r, 2, 1)
      const ret = ctx.raw.mprotect(r, 0, 3 * ctx.ps, RW(ctx))
      return { ...outcome(ret), page0: perms(ctx, r, 0) }
    },
  }),
  clause({
    id: 'mseal.mprotect-partial-tail-keeps-sealed-prot',
    catalog: '§9.3 test_seal_mprotect_partial_mprotect_tail',
    statement: `${DOC.partial} (The sealed VMA itself keeps its protection.)`,
    source: rst('Blocked mm syscall for sealed mapping'),
    expect: { errno: 'EPERM', sealedPage: 'r--p' },
    run(ctx) {
      const r = anon(ctx, 2)
      seal(ctx, r, 1, 1)
      const ret = ctx.raw.mprotect(r, 0, 2 * ctx.ps, ctx.C.PROT_EXEC)
      return { ...outcome(ret), sealedPage: perms(ctx, r, 1) }
    },
  }),
]

export const unmapProtectClauses: Clause[] = [...munmapClauses, ...mprotectClauses]
