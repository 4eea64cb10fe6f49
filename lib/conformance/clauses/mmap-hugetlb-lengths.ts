/**
 * Lengths and offsets of mappings of hugetlbfs memfds (mmap(2) "Huge page (Huge TLB) mappings"). No free
 * huge pages are needed: the mappings are MAP_NORESERVE and never touched, and munmap allocates nothing.
 */
import { C } from '../abi'
import type { Ctx } from '../ctx'
import type { Clause, Quote } from '../types'

const HUGE_TLB: Quote = {
  doc: 'mmap(2)',
  version: 'man-pages 6.20',
  section: 'Huge page (Huge TLB) mappings',
  url: 'https://man7.org/linux/man-pages/man2/mmap.2.html',
  text: 'For mmap(), offset must be a multiple of the underlying huge page size. The system automatically aligns length to be a multiple of the underlying huge page size. For munmap(), addr, and length must both be a multiple of the underlying huge page size.',
}
/** The sentence as it entered the kernel's documentation (80d6b94bd69a, Linux 4.1); its later .rst copy is not at hand. */
const HUGETLBPAGE: Quote = {
  doc: 'Documentation/vm/hugetlbpage.txt',
  version: 'Linux 4.1',
  text: 'Syscalls that operate on memory backed by hugetlb pages only have their lengths aligned to the native page size of the processor; they will normally fail with errno set to EINVAL or exclude hugetlb pages that extend beyond the length if not hugepage aligned. For example, munmap(2) will fail if memory is backed by a hugetlb page and the length is smaller than the hugepage size.',
}
const FLAGS = C.MAP_SHARED | C.MAP_NORESERVE

const clause = (c: Omit<Clause, 'area' | 'since' | 'needs'>): Clause => ({ area: 'mmap', since: '4.14', needs: ['hugetlb'], ...c })

/** A hugetlbfs memfd `pages` huge pages long, and its huge page size. */
function hugeFile(ctx: Ctx, pages: number): { fd: number; huge: number } {
  const fd = ctx.file.memfd(C.MFD_HUGETLB, 'memseal-huge-len')
  const huge = ctx.file.blksize(fd)
  ctx.file.resize(fd, pages * huge)
  return { fd, huge }
}

/**
 * One native page of a one-huge-page memfd, mapped (setup): the kernel maps the whole huge page, so the
 * region is owned as one huge page (else the release would unmap a native page, which fails).
 */
function shortMapping(ctx: Ctx): { r: ReturnType<Ctx['mem']['map']>; huge: number } {
  const { fd, huge } = hugeFile(ctx, 1)
  const r = ctx.mem.map(ctx.ps, C.PROT_READ, FLAGS, fd, 0)
  ctx.forget(r)
  ctx.own(r, huge)
  return { r, huge }
}

export const hugeLengthClauses: Clause[] = [
  clause({
    id: 'mmap.hugetlb.mmap-length-rounded-up',
    quote: HUGE_TLB,
    note: 'One native page of a one-huge-page hugetlbfs memfd is asked for (PROT_READ, MAP_SHARED | MAP_NORESERVE); the VMA in /proc/self/smaps covers one whole huge page.',
    expect: { ret: 0, vmaHugePages: 1 },
    run: (ctx) => {
      const { fd, huge } = hugeFile(ctx, 1)
      const { obs, region } = ctx.try.mmap(ctx.ps, C.PROT_READ, FLAGS, fd, 0)
      if (region === null) return obs
      ctx.forget(region)
      ctx.own(region, huge)
      const vma = ctx.mem.vma(region, 0)
      return { ret: 0, vmaHugePages: vma ? (vma.end - vma.start) / huge : 0 }
    },
  }),
  clause({
    id: 'mmap.hugetlb.munmap-short-einval',
    quote: [HUGE_TLB, HUGETLBPAGE],
    note: 'munmap of one native page of that mapping fails with EINVAL, and the mapping is still there.',
    mirrors: ['LTP memfd_create03 test_def_pagesize'],
    expect: { errno: 'EINVAL', mapped: true },
    run: (ctx) => {
      const { r } = shortMapping(ctx)
      return ctx.try.munmap(r, 0, ctx.ps)
    },
  }),
  clause({
    id: 'mmap.hugetlb.munmap-whole-ok',
    catalog: 'mmap.hugetlb.munmap-short-einval (control)',
    quote: HUGE_TLB,
    note: "Control: the same mapping unmapped with the huge page's length is gone.",
    expect: { ret: 0, mapped: false },
    run: (ctx) => {
      const { r, huge } = shortMapping(ctx)
      const result = ctx.try.munmap(r, 0, huge)
      if (result.mapped === false) ctx.forget(r)
      return result
    },
  }),
  clause({
    id: 'mmap.hugetlb.mmap-offset-unaligned-einval',
    quote: HUGE_TLB,
    note: 'mmap of one huge page of a two-huge-page hugetlbfs memfd at an offset of one native page fails with EINVAL.',
    expect: { errno: 'EINVAL' },
    run: (ctx) => {
      const { fd, huge } = hugeFile(ctx, 2)
      return ctx.try.mmap(huge, C.PROT_READ, FLAGS, fd, ctx.ps).obs
    },
  }),
  clause({
    id: 'mmap.hugetlb.mmap-offset-aligned-ok',
    catalog: 'mmap.hugetlb.mmap-offset-unaligned-einval (control)',
    quote: HUGE_TLB,
    note: 'Control: the same at an offset of one huge page is mapped (r--s).',
    expect: { ret: 0, perms: 'r--s' },
    run: (ctx) => {
      const { fd, huge } = hugeFile(ctx, 2)
      return ctx.try.mmap(huge, C.PROT_READ, FLAGS, fd, huge).obs
    },
  }),
]
