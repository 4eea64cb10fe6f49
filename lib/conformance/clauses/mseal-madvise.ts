/**
 * madvise() on sealed VMAs (catalog §7.3; mseal_test.c test_seal_discard_*, test_seal_madvise_nodiscard):
 * discarding advice is refused on read-only private anonymous memory, every other advice and every other
 * kind of memory is allowed.
 */
import { writeSync } from 'node:fs'
import type { Clause, Observation } from '../types'
import type { Ctx } from '../ctx'
import { SetupError, outcome } from '../ctx'
import type { ConstantName } from '../../native'
import { DOC, anon, byteAt, clause, fill, protect, res, rst, seal, sealedAnon, span } from './mseal-common'

const SECTION = 'Blocked mm syscall for sealed mapping'

interface Advice {
  slug: string
  name: ConstantName
  /** Whether mseal.rst lists it among the blocked "destructive madvise behaviors". */
  listed: boolean
  /** What madvise returns on an unsealed read-only private anonymous mapping. */
  unsealed: Observation
  since?: string
}

const DISCARDS: Advice[] = [
  { slug: 'dontneed', name: 'MADV_DONTNEED', listed: true, unsealed: { ret: 0 } },
  { slug: 'free', name: 'MADV_FREE', listed: true, unsealed: { ret: 0 } },
  { slug: 'dontneed-locked', name: 'MADV_DONTNEED_LOCKED', listed: true, unsealed: { ret: 0 } },
  { slug: 'dontfork', name: 'MADV_DONTFORK', listed: true, unsealed: { ret: 0 } },
  { slug: 'wipeonfork', name: 'MADV_WIPEONFORK', listed: true, unsealed: { ret: 0 } },
  // MADV_REMOVE needs shared, writable memory: on private anon it is EINVAL, but the seal check comes first.
  { slug: 'remove', name: 'MADV_REMOVE', listed: false, unsealed: { errno: 'EINVAL' } },
  { slug: 'guard-install', name: 'MADV_GUARD_INSTALL', listed: false, unsealed: { ret: 0 }, since: '6.13' },
]

function discardClauses(a: Advice): Clause[] {
  const needs: Clause['needs'] = a.since ? ['mseal', 'guardInstall'] : ['mseal']
  const since = a.since ?? '6.10'
  const refused = clause({
    id: `mseal.madv-${a.slug}-ro-anon-eperm`,
    catalog: `mseal.madv-*-ro-anon-eperm${a.slug === 'dontneed' ? '; §9.3 test_seal_discard_ro_anon' : ''}`,
    statement: a.listed ? `${DOC.blocked} ${DOC.discard}` : `${DOC.blocked} (${a.name} is not in the list, so the documentation does not block it.)`,
    source: rst(SECTION),
    since,
    needs,
    // Where the list omits the advice, the documented outcome is the unsealed one.
    expect: a.listed ? { errno: 'EPERM' } : a.unsealed,
    ...(a.listed
      ? {}
      : {
          divergence: {
            doc: 'mseal.rst blocks "some destructive madvise behaviors: MADV_DONTNEED, MADV_FREE, MADV_DONTNEED_LOCKED, MADV_FREE, MADV_DONTFORK, MADV_WIPEONFORK" (MADV_FREE twice; MADV_REMOVE and MADV_GUARD_INSTALL absent).',
            kernel: `The code's discard list (is_madv_discard() ≤6.16, is_discard() in mm/madvise.c since 6.17) also holds ${a.name}: on a sealed read-only private anonymous VMA it fails with EPERM.`,
          },
          history: [
            {
              range: a.since ? `>=${a.since}` : '>=6.10',
              observed: { errno: 'EPERM' },
              behaviour: `${a.name} is a discard in the code's list and is refused on sealed read-only anonymous memory; the seal check precedes advice validation.`,
              ref: a.since
                ? 'guard regions (6.13) add MADV_GUARD_INSTALL to the discard list; mm/madvise.c is_discard()'
                : '8be7258aad44 is_madv_discard(); mm/madvise.c is_discard()',
            },
          ],
        }),
    run(ctx) {
      return outcome(ctx.raw.madvise(sealedAnon(ctx, 4), 0, 4 * ctx.ps, ctx.C[a.name]))
    },
  })
  const allowed = clause({
    id: `mseal.madv-${a.slug}-unsealed-ro-anon-${typeof a.unsealed.errno === 'string' ? a.unsealed.errno.toLowerCase() : 'ok'}`,
    catalog: a.slug === 'remove' ? 'madv-remove-unsealed-ro-anon' : undefined,
    statement: `Control for mseal.madv-${a.slug}-ro-anon-eperm: ${a.name} on the same mapping, never sealed.${a.slug === 'remove' ? ' madvise(2): MADV_REMOVE is EINVAL where the mapping is not shared and writable.' : ''}`,
    source: rst(SECTION),
    since,
    needs,
    expect: a.unsealed,
    run(ctx) {
      return outcome(ctx.raw.madvise(anon(ctx, 4), 0, 4 * ctx.ps, ctx.C[a.name]))
    },
  })
  return [refused, allowed]
}

/** A memfd of `pages` pages whose first byte is `byte`. */
function memfdWith(ctx: Ctx, pages: number, byte: string): number {
  const fd = ctx.memfd()
  ctx.size(fd, pages * ctx.ps)
  if (writeSync(fd, Buffer.from(byte), 0, 1, 0) !== 1) throw new SetupError('short write into the memfd')
  return fd
}

/** DONTNEED allowed on memory that is writable, shared or file-backed; munmap stays refused when sealed. */
function allowedDiscard(id: string, catalog: string, statement: string, map: (ctx: Ctx) => ReturnType<Ctx['anon']>): Clause[] {
  return [true, false].map((sealed) =>
    clause({
      id: sealed ? id : `${id.replace(/-ok$/, '')}-unsealed-ok`,
      catalog,
      statement: sealed ? statement : `Control for ${id}: the same mapping, never sealed: madvise and munmap succeed.`,
      source: rst(SECTION),
      expect: { ret: 0, munmap: sealed ? 'EPERM' : 0 },
      run(ctx) {
        const r = map(ctx)
        if (sealed) seal(ctx, r, 0, 4)
        const ret = ctx.raw.madvise(r, 0, 4 * ctx.ps, ctx.C.MADV_DONTNEED)
        return { ...outcome(ret), munmap: res(ctx.raw.munmap(r, 0, 4 * ctx.ps)) }
      },
    }),
  )
}

export const madviseClauses: Clause[] = [
  ...DISCARDS.flatMap(discardClauses),
  clause({
    id: 'mseal.madv-guard-install-rw-sealed-ok',
    statement: `${DOC.discard} (A writable mapping is not "lacking write permissions".)`,
    source: rst(SECTION),
    since: '6.13',
    needs: ['mseal', 'guardInstall'],
    expect: { ret: 0 },
    run(ctx) {
      return outcome(ctx.raw.madvise(sealedAnon(ctx, 4, ctx.C.PROT_READ | ctx.C.PROT_WRITE), 0, 4 * ctx.ps, ctx.C.MADV_GUARD_INSTALL))
    },
  }),
  clause({
    id: 'mseal.madv-random-ok',
    catalog: 'mseal.madv-random-ok; §9.3 test_seal_madvise_nodiscard',
    statement: `${DOC.blocked} (MADV_RANDOM is not destructive and not in the list.)`,
    source: rst(SECTION),
    expect: { ret: 0 },
    history: [
      {
        range: '>=6.10 <6.10.5',
        observed: { errno: 'EPERM' },
        behaviour:
          'is_madv_discard() tested advice bits (behavior & (MADV_FREE|…)), so MADV_RANDOM, which shares bits with MADV_REMOVE, was refused. Fixed in 6.11 and backported to 6.10.y; the exact 6.10.y release that took the fix is not known here, so this range is an estimate.',
        ref: 'Pedro Falcato, "mseal: fix is_madv_discard()" (Aug 2024)',
      },
    ],
    run(ctx) {
      return outcome(ctx.raw.madvise(sealedAnon(ctx, 4), 0, 4 * ctx.ps, ctx.C.MADV_RANDOM))
    },
  }),
  ...(['MADV_WILLNEED', 'MADV_DOFORK'] as const).map((name) =>
    clause({
      id: `mseal.madv-${name.slice(5).toLowerCase()}-ok`,
      statement: `${DOC.blocked} (${name} is not destructive and not in the list.)`,
      source: rst(SECTION),
      expect: { ret: 0 },
      run(ctx) {
        return outcome(ctx.raw.madvise(sealedAnon(ctx, 4), 0, 4 * ctx.ps, ctx.C[name]))
      },
    }),
  ),
  clause({
    id: 'mseal.madv-dontdump-ok-and-splits',
    statement: `${DOC.blocked} (MADV_DONTDUMP is not in the list. Not documented: madvise may split a sealed VMA, since it changes no sealed attribute.)`,
    source: rst(SECTION),
    expect: { ret: 0, vma: [1, 2, true] },
    run(ctx) {
      const r = sealedAnon(ctx, 4)
      const ret = ctx.raw.madvise(r, ctx.ps, ctx.ps, ctx.C.MADV_DONTDUMP)
      return { ...outcome(ret), vma: span(ctx, r, 1) }
    },
  }),
  ...[true, false].map((sealed) =>
    clause({
      id: sealed ? 'mseal.madv-dontneed-rw-anon-ok' : 'mseal.madv-dontneed-rw-anon-unsealed-ok',
      catalog: '§9.3 test_seal_discard_ro_anon_on_rw',
      statement: sealed
        ? `${DOC.discard} (Writable memory may be discarded; the page reads back as zero. The base seal still refuses munmap.)`
        : 'Control for mseal.madv-dontneed-rw-anon-ok: the same mapping, never sealed.',
      source: rst(SECTION),
      expect: { ret: 0, data: 0, munmap: sealed ? 'EPERM' : 0 },
      run(ctx) {
        const r = anon(ctx, 4, ctx.C.PROT_READ | ctx.C.PROT_WRITE)
        fill(ctx, r, [0, 1, 2, 3])
        if (sealed) seal(ctx, r, 0, 4)
        const ret = ctx.raw.madvise(r, 0, 4 * ctx.ps, ctx.C.MADV_DONTNEED)
        const data = byteAt(ctx, r, 0)
        return { ...outcome(ret), data, munmap: res(ctx.raw.munmap(r, 0, 4 * ctx.ps)) }
      },
    }),
  ),
  ...allowedDiscard(
    'mseal.madv-dontneed-shared-anon-ro-ok',
    'mseal.madv-dontneed-shared-anon-ro-ok; §9.3 test_seal_discard_ro_anon_on_shared',
    `${DOC.discard} (Shared anonymous memory is not private anonymous memory: the discard is allowed. The base seal still refuses munmap.)`,
    (ctx) => ctx.mmap(4 * ctx.ps, ctx.C.PROT_READ, ctx.C.MAP_SHARED | ctx.C.MAP_ANONYMOUS),
  ),
  ...allowedDiscard(
    'mseal.madv-dontneed-file-private-ro-ok',
    'mseal.madv-dontneed-file-private-ro-ok; §9.3 test_seal_discard_ro_anon_on_filebacked',
    `${DOC.discard} (A file-backed mapping is not anonymous memory: the discard is allowed. The base seal still refuses munmap.)`,
    (ctx) => ctx.mmap(4 * ctx.ps, ctx.C.PROT_READ, ctx.C.MAP_PRIVATE, memfdWith(ctx, 4, 'F')),
  ),
  clause({
    id: 'mseal.madv-dontneed-file-private-cowed-ro-allowed',
    statement: `${DOC.discard} The aforementioned behaviors have the potential to modify region contents by discarding pages, effectively performing a memset(0) operation on the anonymous memory.`,
    source: rst(SECTION),
    // What the documentation's intent says: the private (anonymous) copy of a read-only sealed page survives.
    expect: { errno: 'EPERM', data: 'Z' },
    divergence: {
      doc: 'mseal.rst: destructive madvise is prohibited on anonymous memory "by threads lacking write permissions" because it "can alter region contents by discarding pages".',
      kernel:
        'File-backed VMAs are always exempt (mm/madvise.c can_madvise_modify(): "to avoid issues with … mseal()\'d .text"), so the anonymous COW copy in a sealed read-only MAP_PRIVATE file mapping is discarded and the file data shows through.',
    },
    history: [
      {
        range: '>=6.10',
        observed: { ret: 0, data: 'F' },
        behaviour: 'MADV_DONTNEED on a sealed read-only MAP_PRIVATE file mapping succeeds and drops the private copy: the page reads the file content again.',
        ref: 'mm/madvise.c can_madvise_modify() comment (6.17); C-MSEAL-6.12 is_ro_anon()',
      },
    ],
    run(ctx) {
      const fd = memfdWith(ctx, 1, 'F')
      const r = ctx.mmap(ctx.ps, ctx.C.PROT_READ | ctx.C.PROT_WRITE, ctx.C.MAP_PRIVATE, fd)
      ctx.setup(ctx.raw.poke(r, 0, Buffer.from('Z')), 'store into the private copy')
      protect(ctx, r, 0, 1, ctx.C.PROT_READ)
      seal(ctx, r, 0, 1)
      const ret = ctx.raw.madvise(r, 0, ctx.ps, ctx.C.MADV_DONTNEED)
      return { ...outcome(ret), data: ctx.raw.peek(r, 0, 1).toString('latin1') }
    },
  }),
  clause({
    id: 'mseal.madvise-partial',
    divergence: {
      doc: 'mseal.rst as published for 6.10 and 6.11 (docs.kernel.org/6.11): blocked calls fail with EPERM and "the given memory range is unmodified, i.e. no partial update"; it lists mprotect, pkey_mprotect and the destructive madvise calls as blocked without mentioning partial updates.',
      kernel:
        'Since 6.12 the seal checks run per VMA inside mprotect and madvise, so the VMAs before the sealed one are already changed when EPERM returns; the current mseal.rst says "partial update might happen" (Pedro Falcato, "mm: Optimize mseal checks").',
    },
    catalog: 'mseal.madvise-partial.*; §9.3 test_seal_discard_across_vmas',
    statement: DOC.partial,
    source: rst(SECTION),
    expect: { errno: 'EPERM', page0: 0 },
    history: [
      {
        range: '>=6.10 <6.12',
        observed: { errno: 'EPERM', page0: 0x41 },
        behaviour: 'Before 6.12 can_modify_mm_madv() checked the whole range first, so no page was discarded.',
        ref: 'Pedro Falcato, "mseal: Replace can_modify_mm_madv with a vma variant" (6.12)',
      },
    ],
    run(ctx) {
      const r = anon(ctx, 3, ctx.C.PROT_READ | ctx.C.PROT_WRITE)
      fill(ctx, r, [0, 1, 2])
      protect(ctx, r, 0, 3, ctx.C.PROT_READ)
      seal(ctx, r, 2, 1)
      const ret = ctx.raw.madvise(r, 0, 3 * ctx.ps, ctx.C.MADV_DONTNEED)
      return { ...outcome(ret), page0: byteAt(ctx, r, 0) }
    },
  }),
]
