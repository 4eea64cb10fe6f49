/**
 * Shared pieces of the mseal(2) clauses: the documentation they quote, a clause factory with the area's
 * defaults, and page-granular helpers over raw regions. Offsets and lengths are in pages here; the
 * helpers turn them into bytes. Every helper that prepares state throws SetupError when it fails.
 */
import { errnoName } from '../../errors'
import type { RawRegion, Target } from '../../native'
import type { Ctx } from '../ctx'
import { SetupError } from '../ctx'
import type { Clause, Json, Observation, Source } from '../types'

export const MSEAL_URL = 'https://docs.kernel.org/userspace-api/mseal.html'

export function rst(section: string): Source {
  return { doc: 'mseal.rst', section, url: MSEAL_URL }
}

/** Quotes from Documentation/userspace-api/mseal.rst (the ≥6.12 text), reused by several clauses. */
export const DOC = {
  blocked:
    'Blocked mm syscall: munmap, mmap, mremap, mprotect and pkey_mprotect, some destructive madvise behaviors: ' +
    'MADV_DONTNEED, MADV_FREE, MADV_DONTNEED_LOCKED, MADV_FREE, MADV_DONTFORK, MADV_WIPEONFORK … ' +
    'Kernel will return -EPERM for blocked syscalls.',
  munmapAtomic: 'munmap: munmap is atomic. If one of VMAs in the given range is sealed, none of VMAs are updated.',
  partial:
    'mprotect, pkey_mprotect, madvise: partial update might happen, e.g. when mprotect over multiple VMAs, ' +
    'mprotect might update the beginning VMAs before reaching the sealed VMA and return -EPERM.',
  mmapUndefined: 'When blocked syscall return -EPERM due to sealing, the memory regions may or may not be changed … mmap and mremap: undefined behavior.',
  range:
    'The address range set by addr/len must meet: The start address must be in an allocated VMA. The start address ' +
    'must be page aligned. The end address (addr + len) must be in an allocated VMA. no gap (unallocated memory) ' +
    'between start and end address.',
  lenAligned: 'The len will be paged aligned implicitly by the kernel.',
  einval: '-EINVAL: Invalid input flags. The start address (addr) is not page aligned. Address range (addr + len) overflow.',
  enomem:
    '-ENOMEM: The start address (addr) is not allocated. The end address (addr + len) is not allocated. ' +
    'A gap (unallocated memory) between start and end address.',
  noPartial: 'For above error cases, users can expect the given memory range is unmodified, i.e. no partial update.',
  flags: 'flags: reserved for future use. … -EINVAL: Invalid input flags.',
  idempotent: 'users can call mseal multiple times. mseal on an already sealed memory is a no-action (not error).',
  lifetime: "once the mapping is sealed, it will stay in the process's memory until the process terminates",
  discard:
    'Certain destructive madvise behaviors, specifically MADV_DONTNEED, MADV_FREE, MADV_DONTNEED_LOCKED, and ' +
    'MADV_WIPEONFORK, can introduce risks when applied to anonymous memory by threads lacking write permissions. ' +
    'Consequently, these operations are prohibited under such conditions.',
}

type Spec = Omit<Clause, 'area' | 'since'> & { since?: string }

/** An mseal clause with the area's defaults: since 6.10, needs the mseal feature. */
export function clause(spec: Spec): Clause {
  return { area: 'mseal', since: '6.10', ...spec, needs: spec.needs ?? ['mseal'] }
}

/** The result of one call as a compact fact: 0 for success, the errno name otherwise. */
/** mseal.rst's section on the calls a seal blocks. */
export const BLOCKED = 'Blocked mm syscall for sealed mapping'

/**
 * A refused clause (seal=true) and its control (seal=false) from one scenario, as mseal_test.c runs each
 * test with seal=false and seal=true.
 */
export function pair(
  ids: [string, string],
  spec: { catalog?: string; statement: string; section?: string; refused: Observation; allowed: Observation },
  scenario: (ctx: Ctx, sealed: boolean) => Observation,
): Clause[] {
  return [true, false].map((sealed, i) =>
    clause({
      id: ids[i]!,
      ...(spec.catalog ? { catalog: spec.catalog } : {}),
      statement: sealed ? spec.statement : `Control for ${ids[0]}: the same calls on mappings that were never sealed succeed.`,
      source: rst(spec.section ?? BLOCKED),
      expect: sealed ? spec.refused : spec.allowed,
      run: (ctx) => scenario(ctx, sealed),
    }),
  )
}

export function res(ret: number): Json {
  return ret >= 0 ? 0 : errnoName(ret)
}

/**
 * Anonymous private mapping of `pages` pages (PROT_READ by default: the catalog's "RO anon"), between two
 * PROT_NONE guard pages. The guards keep it from merging with a neighbour left by an earlier clause (a
 * sealed read-only page of a previous clause would otherwise join it and change every VMA-size check).
 */
export function anon(ctx: Ctx, pages: number, prot?: number): RawRegion {
  const { ps } = ctx
  const outer = ctx.mmap((pages + 2) * ps, ctx.C.PROT_NONE, ctx.C.MAP_PRIVATE | ctx.C.MAP_ANONYMOUS)
  const flags = ctx.C.MAP_PRIVATE | ctx.C.MAP_ANONYMOUS | ctx.C.MAP_FIXED
  const inner = ctx.mmapCall(pages * ps, prot ?? ctx.C.PROT_READ, flags, -1, 0, outer, ps)
  if (typeof inner === 'number') throw new SetupError(`mmap(MAP_FIXED) inside the guard pages failed: ${errnoName(inner)}`)
  // The guards go first at release: the whole-range munmap fails once the inner pages are sealed.
  ctx.defer(() => {
    ctx.raw.munmap(outer, 0, ps)
    ctx.raw.munmap(outer, (pages + 1) * ps, ps)
  })
  return inner
}

/** mseal over whole pages that must succeed. */
export function seal(ctx: Ctx, r: Target, first: number, count: number): void {
  ctx.setup(ctx.raw.mseal(r, first * ctx.ps, count * ctx.ps, 0), `mseal(page ${first}, ${count} pages)`)
}

/** A fresh anonymous mapping, sealed whole. */
export function sealedAnon(ctx: Ctx, pages: number, prot?: number): RawRegion {
  const r = anon(ctx, pages, prot)
  seal(ctx, r, 0, pages)
  return r
}

export function unmap(ctx: Ctx, r: Target, first: number, count: number): void {
  ctx.setup(ctx.raw.munmap(r, first * ctx.ps, count * ctx.ps), `munmap(page ${first}, ${count} pages)`)
}

export function protect(ctx: Ctx, r: Target, first: number, count: number, prot: number): void {
  ctx.setup(ctx.raw.mprotect(r, first * ctx.ps, count * ctx.ps, prot), `mprotect(page ${first}, ${count} pages, ${prot})`)
}

/** The /proc/self/maps permissions of the VMA holding `page`, or 'unmapped'. */
export function perms(ctx: Ctx, r: Target, page: number): string {
  return ctx.raw.vma(r, page * ctx.ps)?.perms ?? 'unmapped'
}

/** Whether the VMA holding `page` has VM_SEALED ('sl' in VmFlags). The page must be mapped. */
export function isSealed(ctx: Ctx, r: Target, page: number): boolean {
  const v = ctx.raw.vma(r, page * ctx.ps)
  if (!v) throw new SetupError(`no VMA at page ${page} to read VmFlags from`)
  return v.flags.includes('sl')
}

/** Size in pages of the VMA holding `page` (0 when unmapped), as the selftest's get_vma_size() reports it. */
export function vmaPages(ctx: Ctx, r: Target, page: number): number {
  const v = ctx.raw.vma(r, page * ctx.ps)
  return v ? (v.end - v.start) / ctx.ps : 0
}

/** [first page, end page, sealed] of the VMA holding `page`, relative to the region. */
export function span(ctx: Ctx, r: Target, page: number): Json {
  const v = ctx.raw.vma(r, page * ctx.ps)
  if (!v) throw new SetupError(`no VMA at page ${page}`)
  return [v.start / ctx.ps, v.end / ctx.ps, v.flags.includes('sl')]
}

/** Writes one byte into each listed page of a writable mapping (makes the pages present). */
export function fill(ctx: Ctx, r: Target, pages: number[], byte = 0x41): void {
  for (const p of pages) ctx.setup(ctx.raw.poke(r, p * ctx.ps, Buffer.from([byte])), `store into page ${p}`)
}

/** First byte of a page that is known to be readable. */
export function byteAt(ctx: Ctx, r: Target, page: number): number {
  return ctx.raw.peek(r, page * ctx.ps, 1)[0]!
}
