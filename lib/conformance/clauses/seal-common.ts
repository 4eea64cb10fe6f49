/**
 * What the `seal.` clauses share: the seal bits, the memfds they seal (made the way this pid namespace's
 * vm.memfd_noexec level allows), the seals such a memfd starts with here, and the names of seal sets as
 * the reports print them.
 */
import { C } from '../abi'
import type { Ctx } from '../ctx'
import type { Clause, KernelFacts, KnownBehaviour } from '../types'
import { levelSeals } from './memfd-docs'

export const ps = C.PAGE_SIZE
export const SEAL = C.F_SEAL_SEAL
export const SHRINK = C.F_SEAL_SHRINK
export const GROW = C.F_SEAL_GROW
export const WRITE = C.F_SEAL_WRITE
export const FUTURE_WRITE = C.F_SEAL_FUTURE_WRITE
export const EXEC = C.F_SEAL_EXEC
export const PUNCH = C.FALLOC_FL_PUNCH_HOLE | C.FALLOC_FL_KEEP_SIZE
export const RW = C.PROT_READ | C.PROT_WRITE

export const clause = (c: Omit<Clause, 'area'>): Clause => ({ area: 'seal', ...c })

/** The seals a sealable memfd starts with here (F_SEAL_EXEC at vm.memfd_noexec ≥ 1), plus `bits`. */
export function base(k: KernelFacts, bits = 0): number {
  return levelSeals(k) | bits
}

/**
 * The flags of a sealable memfd at this level: MFD_ALLOW_SEALING, and MFD_NOEXEC_SEAL at vm.memfd_noexec 2,
 * where a call without it "will be rejected" (mfd_noexec.rst); at 1 the level adds it by itself.
 */
export function sealableFlags(ctx: Ctx, extra = 0): number {
  const level = ctx.facts.environment.memfdNoexec ?? 0
  return C.MFD_ALLOW_SEALING | (level >= 2 ? C.MFD_NOEXEC_SEAL : 0) | extra
}

/** A sealable memfd of `pages` pages with `bits` added: each step verified (size, seals). */
export function sealed(ctx: Ctx, bits: number, pages = 1): number {
  const fd = ctx.file.memfd(sealableFlags(ctx), 'memseal-seal')
  if (pages > 0) ctx.file.resize(fd, pages * ps)
  if (bits !== 0) ctx.file.addSeals(fd, bits)
  return fd
}

/** sealed(), with every page holding the byte 'A' first (so that a discard or a write shows). */
export function filled(ctx: Ctx, bits: number, pages = 1): number {
  const fd = sealed(ctx, 0, pages)
  ctx.file.fill(fd, Buffer.alloc(pages * ps, 0x41))
  if (bits !== 0) ctx.file.addSeals(fd, bits)
  return fd
}

/** A sealable hugetlbfs memfd of `pages` huge pages with `bits` added, and its huge page size. */
export function sealedHuge(ctx: Ctx, bits: number, pages = 1): { fd: number; hps: number } {
  const fd = ctx.file.memfd(sealableFlags(ctx, C.MFD_HUGETLB), 'memseal-huge')
  ctx.verify(ctx.file.onHugetlbfs(fd), () => 'memfd_create(MFD_HUGETLB) gave a file that is not on hugetlbfs')
  const hps = ctx.file.blksize(fd)
  if (pages > 0) ctx.file.resize(fd, pages * hps)
  if (bits !== 0) ctx.file.addSeals(fd, bits)
  return { fd, hps }
}

/**
 * A recorded behaviour whose observation holds the seals of a memfd that started with none: the same
 * entry again for a memfd that started with F_SEAL_EXEC (vm.memfd_noexec ≥ 1, which exists from 6.3).
 */
export function atEveryLevel(h: KnownBehaviour): KnownBehaviour[] {
  const seals = h.observed.seals
  if (typeof seals !== 'number') return [h]
  const from63 =
    h.range === '*'
      ? '>=6.3'
      : h.range
          .split('||')
          .map((alt) => `${alt.trim()} >=6.3`)
          .join(' || ')
  return [h, { ...h, range: from63, observed: { ...h.observed, seals: seals | EXEC } }]
}

const NAMES: Array<[number, string]> = [
  [SEAL, 'SEAL'],
  [SHRINK, 'SHRINK'],
  [GROW, 'GROW'],
  [WRITE, 'WRITE'],
  [FUTURE_WRITE, 'FUTURE_WRITE'],
  [EXEC, 'EXEC'],
]

/** 'WRITE|SHRINK' for a seal set, '0' for none (hex for bits that have no name). */
export function sealNames(bits: number): string {
  if (bits === 0) return '0'
  const names = NAMES.filter(([bit]) => (bits & bit) !== 0).map(([, name]) => name)
  const rest = bits & ~NAMES.reduce((all, [bit]) => all | bit, 0)
  return [...names, ...(rest ? [`0x${rest.toString(16)}`] : [])].join('|')
}
