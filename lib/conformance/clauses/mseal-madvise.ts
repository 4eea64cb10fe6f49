/**
 * madvise() on sealed VMAs (catalog §7.3; mseal_test.c test_seal_discard_*, test_seal_madvise_nodiscard;
 * LTP mseal01): discarding advice is refused on read-only private anonymous memory; other advice, and other
 * kinds of memory, are allowed. Every advice is checked by its effect, never by its answer alone: the
 * contents for a discard (pages written with 'A' read back 0 once discarded), the VmFlag for DONTFORK,
 * WIPEONFORK, RANDOM and DONTDUMP, a fault probe for GUARD_INSTALL, the resident size for a shared or file
 * mapping (whose contents come back from the file), and for MADV_FREE, which frees lazily, the contents
 * after MADV_PAGEOUT has reclaimed what it freed.
 */
import type { Ctx } from '../ctx'
import { C } from '../abi'
import type { Clause, KernelFacts, KnownBehaviour, Observation, Quote } from '../types'
import { DOC, DOC610, DONTNEED_LOCKED, FILL, MANUAL, RO, RW, clause, era610, filled, pair, pg, seal, type Region } from './mseal-common'
import { partial } from './mseal-protect'

/** The code that decides it (mm/madvise.c, Linux 7.2): only discards on read-only anonymous sealed VMAs are refused. */
const CAN_MADVISE_MODIFY: Quote = {
  doc: 'mm/madvise.c',
  version: 'Linux 7.2',
  section: 'can_madvise_modify()',
  text:
    "We are restricted from madvise()'ing mseal()'d VMAs only in very particular circumstances - discarding of data from read-only " +
    'anonymous SEALED mappings. … We explicitly permit all file-backed mappings, whether MAP_SHARED or MAP_PRIVATE. … if (!vma_is_anonymous(vma)) return true;',
}

interface Advice {
  slug: string
  name: 'MADV_DONTNEED' | 'MADV_FREE' | 'MADV_DONTNEED_LOCKED' | 'MADV_DONTFORK' | 'MADV_WIPEONFORK' | 'MADV_REMOVE' | 'MADV_GUARD_INSTALL'
  /** Whether mseal.rst (6.12) lists it among the blocked "destructive madvise behaviors". */
  listed: boolean
  /** Its own documentation: what the unsealed control expects. */
  doc: Quote
  /** What it does to four read-only private anonymous pages written with 'A', never sealed. */
  unsealed: Observation
  /** The same facts when nothing happened. */
  untouched: Observation
  since?: string
  mirrors?: string[]
}

const DISCARDED = { ret: 0, byte: 0 }
const KEPT = { byte: FILL }

const DISCARDS: Advice[] = [
  {
    slug: 'dontneed',
    name: 'MADV_DONTNEED',
    listed: true,
    doc: MANUAL.dontneed,
    unsealed: DISCARDED,
    untouched: KEPT,
    mirrors: ['mseal_test.c test_seal_discard_ro_anon', 'LTP mseal01'],
  },
  { slug: 'free', name: 'MADV_FREE', listed: true, doc: MANUAL.free, unsealed: DISCARDED, untouched: KEPT },
  { slug: 'dontneed-locked', name: 'MADV_DONTNEED_LOCKED', listed: true, doc: DONTNEED_LOCKED, unsealed: DISCARDED, untouched: KEPT },
  { slug: 'dontfork', name: 'MADV_DONTFORK', listed: true, doc: MANUAL.dontfork, unsealed: { ret: 0, dc: true }, untouched: { dc: false } },
  { slug: 'wipeonfork', name: 'MADV_WIPEONFORK', listed: true, doc: MANUAL.wipeonfork, unsealed: { ret: 0, wf: true }, untouched: { wf: false } },
  // MADV_REMOVE needs shared, writable memory: on private anonymous memory it is EINVAL.
  { slug: 'remove', name: 'MADV_REMOVE', listed: false, doc: MANUAL.remove, unsealed: { errno: 'EINVAL', byte: FILL }, untouched: KEPT },
  {
    slug: 'guard-install',
    name: 'MADV_GUARD_INSTALL',
    listed: false,
    doc: MANUAL.guardInstall,
    unsealed: { ret: 0, access: 'SIGSEGV' },
    untouched: { access: 'ok' },
    since: '6.13',
  },
]

/** The advice under test on r (all four pages), with its effect; MADV_FREE's through MADV_PAGEOUT (see the header). */
function advise(ctx: Ctx, r: Region, a: Advice): Observation {
  const obs = ctx.try.madvise(r, 0, pg(ctx, 4), C[a.name])
  if (a.name !== 'MADV_FREE') return obs
  ctx.mem.pageOut(r, 0, pg(ctx, 4))
  return { ...obs, byte: ctx.mem.byteAt(r, 0) }
}

/**
 * What the documentation expects of a sealed read-only anonymous mapping. 6.12 on: the listed advice is
 * refused, any other does what it does unsealed. 6.10/6.11: the list was "Some destructive madvice()
 * behaviors (e.g. MADV_DONTNEED)", so MADV_DONTNEED is refused and, for the other discards, refusing and
 * allowing both fit the text.
 */
function sealedExpectation(a: Advice): (k: KernelFacts) => Observation | Observation[] {
  const refused = { errno: 'EPERM', ...a.untouched }
  return (k) => {
    if (era610(k)) return a.name === 'MADV_DONTNEED' ? refused : [refused, a.unsealed]
    return a.listed ? refused : a.unsealed
  }
}

function discardClauses(a: Advice): Clause[] {
  const needs: Clause['needs'] = a.since ? ['mseal', 'guardInstall'] : ['mseal']
  const history: KnownBehaviour[] = a.listed
    ? []
    : [
        {
          range: a.since ? `>=${a.since}` : '>=6.12',
          observed: { errno: 'EPERM', ...a.untouched },
          behaviour: `${a.name} is in the code's discard list and is refused on sealed read-only anonymous memory; the seal check precedes the advice's own checks.`,
          ref: a.since
            ? 'guard regions (6.13) put MADV_GUARD_INSTALL in the discard list; mm/madvise.c is_discard() (6.17 on)'
            : '8be7258aad44 is_madv_discard() (6.10); mm/madvise.c is_discard() (6.17 on)',
        },
      ]
  return pair(
    {
      ids: [
        `mseal.madv-${a.slug}-ro-anon-${a.listed ? 'eperm' : 'unlisted'}`,
        `mseal.madv-${a.slug}-unsealed-ro-anon-${'errno' in a.unsealed ? 'einval' : 'ok'}`,
      ],
      catalog: a.slug === 'remove' ? 'mseal.madv-remove-ro-anon-eperm; madv-remove-unsealed-ro-anon' : 'mseal.madv-*-ro-anon-eperm',
      ...(a.mirrors ? { mirrors: a.mirrors } : {}),
      quote: [DOC.blocked, DOC.discard, DOC.eperm, DOC610.madvise],
      note: a.listed
        ? `${a.name} on four sealed read-only private anonymous pages (written with 'A' before they were made read-only): refused with EPERM, and nothing is discarded.`
        : `${a.name} is not in the 6.12 document's list of blocked advice, so on four sealed read-only private anonymous pages the document expects what it does unsealed.`,
      control: a.doc,
      controlNote: `Control for the sealed ${a.name} clause: the same advice on the same kind of mapping, never sealed, has its effect.`,
      since: a.since ?? '6.10',
      needs,
      refused: sealedExpectation(a),
      allowed: a.unsealed,
      ...(history.length ? { history } : {}),
      ...(a.listed
        ? {}
        : {
            divergence: {
              doc: 'mseal.rst (6.12 on) blocks "some destructive madvise behaviors: MADV_DONTNEED, MADV_FREE, MADV_DONTNEED_LOCKED, MADV_FREE, MADV_DONTFORK, MADV_WIPEONFORK" (MADV_FREE twice; MADV_REMOVE and MADV_GUARD_INSTALL absent).',
              kernel: `The code's discard list (is_madv_discard() up to 6.16, is_discard() in mm/madvise.c since 6.17) also holds ${a.name}: on a sealed read-only private anonymous VMA it fails with EPERM.`,
            },
          }),
    },
    (ctx, sealed) => {
      const r = filled(ctx, 4)
      if (sealed) seal(ctx, r, 0, 4)
      return advise(ctx, r, a)
    },
  )
}

/**
 * mseal_test.c's discard cases on memory that is not read-only private anonymous memory: the discard is
 * allowed, and the base seal still refuses munmap.
 */
function allowedDiscard(spec: {
  ids: [string, string]
  catalog?: string
  mirror: string
  basis?: Clause['basis']
  quote: Quote[]
  note: string
  divergence?: Clause['divergence']
  map: (ctx: Ctx) => Region
  /** The effect of MADV_DONTNEED there: its contents afterwards (and the resident memory, read first). */
  discarded: Observation
}): Clause[] {
  return pair(
    {
      ids: spec.ids,
      ...(spec.catalog ? { catalog: spec.catalog } : {}),
      mirrors: [`mseal_test.c ${spec.mirror}`],
      ...(spec.basis ? { basis: spec.basis } : {}),
      quote: spec.quote,
      note: spec.note,
      control: [MANUAL.dontneed, MANUAL.munmap],
      refused: { ...spec.discarded, munmap: { errno: 'EPERM', mapped: true } },
      allowed: { ...spec.discarded, munmap: { ret: 0, mapped: false } },
      ...(spec.divergence ? { divergence: spec.divergence } : {}),
    },
    (ctx, sealed) => {
      const r = spec.map(ctx)
      if (sealed) seal(ctx, r, 0, 4)
      const resident = ctx.mem.vma(r, 0)?.rssKb ?? 0
      ctx.verify(resident > 0, () => 'the pages are not resident before MADV_DONTNEED: its effect on the resident memory would not show')
      const answer = ctx.try.madviseResident(r, 0, pg(ctx, 4), C.MADV_DONTNEED)
      return { ...answer, byte: ctx.mem.byteAt(r, 0), munmap: ctx.try.munmap(r, 0, pg(ctx, 4)) }
    },
  )
}

/** A memfd of `pages` pages, each starting with `byte`. */
function memfdWith(ctx: Ctx, pages: number, byte: number): number {
  const fd = ctx.file.memfd()
  ctx.file.resize(fd, pg(ctx, pages))
  for (let p = 0; p < pages; p++) ctx.file.fill(fd, Buffer.from([byte]), pg(ctx, p))
  return fd
}

const F = 0x46 // 'F': the file's bytes
const Z = 0x5a // 'Z': the private copy's

export const madviseClauses: Clause[] = [
  ...DISCARDS.flatMap(discardClauses),
  clause({
    id: 'mseal.madv-guard-install-rw-sealed-ok',
    since: '6.13',
    needs: ['mseal', 'guardInstall'],
    quote: [DOC.blocked, DOC.discard, MANUAL.guardInstall],
    note: 'MADV_GUARD_INSTALL on sealed read-write anonymous pages: not a listed advice, and the pages are writable anyway; the guard is installed (a read faults).',
    expect: { ret: 0, access: 'SIGSEGV' },
    run: (ctx) => ctx.try.madvise(ctx.mem.sealedAnon(4, RW), 0, pg(ctx, 4), C.MADV_GUARD_INSTALL),
  }),
  clause({
    id: 'mseal.madv-random-ok',
    catalog: 'mseal.madv-random-ok',
    mirrors: ['mseal_test.c test_seal_madvise_nodiscard'],
    quote: [DOC.blocked, MANUAL.random],
    note: "MADV_RANDOM is not destructive and not listed: allowed on a sealed read-only anonymous mapping, and the VMA takes the advice ('rr' in its VmFlags).",
    expect: { ret: 0, rr: true },
    history: [
      {
        range: '=6.10.0',
        observed: { errno: 'EPERM', rr: false },
        behaviour:
          "is_madv_discard() tested advice bits (behavior & (MADV_FREE|…)), so MADV_RANDOM, which shares bits with MADV_REMOVE, was refused. Fixed in 6.11 by 'mseal: fix is_madv_discard()' and taken into 6.10.y; which 6.10.y release took it is not known here, so only 6.10.0 is recorded.",
        ref: 'Pedro Falcato, "mseal: fix is_madv_discard()" (Aug 2024, 6.11)',
      },
    ],
    run: (ctx) => ctx.try.madvise(ctx.mem.sealedAnon(4), 0, pg(ctx, 4), C.MADV_RANDOM),
  }),
  clause({
    id: 'mseal.madv-willneed-ok',
    quote: DOC.blocked,
    note:
      'MADV_WILLNEED is not listed: allowed on a sealed mapping. It promises nothing observable on resident anonymous pages (it starts ' +
      'readahead of swapped or file pages), so its answer is all there is to see.',
    expect: { ret: 0 },
    run: (ctx) => ctx.try.madvise(ctx.mem.sealedAnon(4), 0, pg(ctx, 4), C.MADV_WILLNEED),
  }),
  clause({
    id: 'mseal.madv-dofork-ok',
    quote: [DOC.blocked, MANUAL.dofork],
    note: "MADV_DOFORK is not listed: on a sealed mapping that had MADV_DONTFORK before it was sealed, it is allowed and clears 'dc' from the VmFlags.",
    expect: { ret: 0, dc: false },
    run(ctx) {
      const r = ctx.mem.guarded(4)
      ctx.mem.advise(r, 0, pg(ctx, 4), C.MADV_DONTFORK)
      seal(ctx, r, 0, 4)
      return ctx.try.madvise(r, 0, pg(ctx, 4), C.MADV_DOFORK)
    },
  }),
  clause({
    id: 'mseal.madv-dontdump-ok-and-splits',
    basis: 'code',
    quote: [DOC.blocked, MANUAL.dontdump],
    note:
      "MADV_DONTDUMP is not listed: allowed on one page of a sealed four-page VMA, which takes the advice ('dd') and is split off as a sealed " +
      "VMA of its own ([first page, end page, sealed]). That madvise may split a sealed VMA, as it changes no sealed attribute, is the kernel's code.",
    expect: { ret: 0, dd: true, vma: [1, 2, true] },
    run(ctx) {
      const r = ctx.mem.sealedAnon(4)
      return { ...ctx.try.madvise(r, ctx.ps, ctx.ps, C.MADV_DONTDUMP), vma: ctx.mem.span(r, 1) }
    },
  }),
  ...pair(
    {
      ids: ['mseal.madv-dontneed-rw-anon-ok', 'mseal.madv-dontneed-rw-anon-unsealed-ok'],
      catalog: 'mseal.madv-dontneed-rw-anon-ok',
      mirrors: ['mseal_test.c test_seal_discard_ro_anon_on_rw'],
      quote: [DOC.discard, DOC610.madvise],
      note: 'The discard is prohibited only "by threads lacking write permissions": on sealed read-write anonymous pages MADV_DONTNEED is allowed and the pages read back 0; the base seal still refuses munmap.',
      control: [MANUAL.dontneed, MANUAL.munmap],
      refused: { ret: 0, byte: 0, munmap: { errno: 'EPERM', mapped: true } },
      allowed: { ret: 0, byte: 0, munmap: { ret: 0, mapped: false } },
    },
    (ctx, sealed) => {
      const r = filled(ctx, 4, RW)
      if (sealed) seal(ctx, r, 0, 4)
      return { ...ctx.try.madvise(r, 0, pg(ctx, 4), C.MADV_DONTNEED), munmap: ctx.try.munmap(r, 0, pg(ctx, 4)) }
    },
  ),
  ...allowedDiscard({
    ids: ['mseal.madv-dontneed-shared-anon-ro-ok', 'mseal.madv-dontneed-shared-anon-ro-unsealed-ok'],
    catalog: 'mseal.madv-dontneed-shared-anon-ro-ok',
    mirror: 'test_seal_discard_ro_anon_on_shared',
    basis: 'code',
    quote: [DOC.discard, CAN_MADVISE_MODIFY, MANUAL.dontneed],
    note:
      'MADV_DONTNEED on sealed read-only MAP_SHARED|MAP_ANONYMOUS pages is allowed: the page tables are dropped (resident memory 0 kB) and the ' +
      'contents come back from the shared object (\'A\'). mseal.rst speaks of "anonymous memory", which a shared anonymous mapping is (mmap(2) ' +
      'MAP_ANONYMOUS); the kernel counts only private anonymous VMAs (vma_is_anonymous()), and this expectation follows the code. (madvise(2) ' +
      'supports the reading: a discard "repopulates" shared anonymous mappings, so nothing is set to zero.)',
    divergence: {
      doc: 'mseal.rst: destructive madvise is prohibited "when applied to anonymous memory by threads lacking write permissions"; a MAP_SHARED|MAP_ANONYMOUS mapping is anonymous memory by mmap(2)\'s definition.',
      kernel:
        'can_madvise_modify() (mm/madvise.c) allows every VMA that is not vma_is_anonymous(): shared anonymous memory is shmem-backed, so the discard is allowed and the data is repopulated from shmem.',
    },
    map(ctx) {
      const r = ctx.mem.map(pg(ctx, 4), RW, C.MAP_SHARED | C.MAP_ANONYMOUS)
      ctx.mem.fillPages(r, [0, 1, 2, 3], FILL)
      ctx.mem.protect(r, 0, pg(ctx, 4), RO)
      return r
    },
    discarded: { ret: 0, rssKb: 0, byte: FILL },
  }),
  ...allowedDiscard({
    ids: ['mseal.madv-dontneed-file-private-ro-ok', 'mseal.madv-dontneed-file-private-ro-unsealed-ok'],
    catalog: 'mseal.madv-dontneed-file-private-ro-ok',
    mirror: 'test_seal_discard_ro_anon_on_filebacked',
    quote: [DOC.discard, DOC610.madvise],
    note:
      'A read-only MAP_PRIVATE mapping of a memfd is file-backed, not anonymous memory: MADV_DONTNEED is allowed on it sealed, the page tables ' +
      "are dropped (resident memory 0 kB) and the file's contents ('F') come back; the base seal still refuses munmap.",
    map(ctx) {
      const r = ctx.mem.map(pg(ctx, 4), RO, C.MAP_PRIVATE, memfdWith(ctx, 4, F))
      for (let p = 0; p < 4; p++) ctx.mem.byteAt(r, pg(ctx, p)) // fault the file's pages in
      return r
    },
    discarded: { ret: 0, rssKb: 0, byte: F },
  }),
  clause({
    id: 'mseal.madv-dontneed-file-private-cowed-ro-allowed',
    basis: 'code',
    quote: [DOC.discard, CAN_MADVISE_MODIFY],
    note:
      "A MAP_PRIVATE mapping of a memfd ('F') is written ('Z': a private anonymous copy of the page), made read-only and sealed; MADV_DONTNEED " +
      "drops the private copy and the file's 'F' shows again. mseal.rst blocks discards of \"anonymous memory\" lacking write permission, and " +
      'the private copy is anonymous memory in all but name, but the mapping is file-backed: the kernel exempts every file-backed VMA (its ' +
      'comment says so, "for the time being", for sealed .text), and this expectation follows the code.',
    expect: { ret: 0, byte: F },
    divergence: {
      doc: 'mseal.rst: destructive madvise behaviors "have the potential to modify region contents by discarding pages" and are prohibited on anonymous memory by threads lacking write permissions.',
      kernel:
        'can_madvise_modify() (mm/madvise.c) permits every file-backed mapping, MAP_PRIVATE included: the private (anonymous) copy of a read-only sealed page is discarded and the file data shows through.',
    },
    run(ctx) {
      const r = ctx.mem.map(ctx.ps, RW, C.MAP_PRIVATE, memfdWith(ctx, 1, F))
      ctx.mem.poke(r, 0, Buffer.from([Z]))
      ctx.mem.protect(r, 0, ctx.ps, RO)
      seal(ctx, r, 0, 1)
      const answer = ctx.try.madvise(r, 0, ctx.ps, C.MADV_DONTNEED)
      return { ...answer, byte: ctx.mem.byteAt(r, 0) }
    },
  }),
  ...pair(
    {
      ids: ['mseal.madvise-partial', 'mseal.madvise-partial-unsealed-ok'],
      catalog: 'mseal.madvise-partial.*',
      mirrors: ['mseal_test.c test_seal_discard_across_vmas', 'LTP mseal01'],
      quote: [DOC.partial, DOC610.noPartial, DOC610.eperm],
      note:
        "MADV_DONTNEED over three read-only anonymous pages written with 'A' whose last page alone is sealed: EPERM. The first page keeps its " +
        "'A' under the 6.10 document; from 6.12 on the document allows it to be discarded already (it reads 0). The expectation follows the " +
        "kernel's era.",
      control: MANUAL.dontneed,
      refused: (k) => partial(k, { errno: 'EPERM', byte: FILL }, { errno: 'EPERM', byte: 0 }),
      allowed: { ret: 0, byte: 0 },
    },
    (ctx, sealed) => {
      const r = filled(ctx, 3)
      if (sealed) seal(ctx, r, 2, 1)
      return ctx.try.madvise(r, 0, pg(ctx, 3), C.MADV_DONTNEED)
    },
  ),
]
