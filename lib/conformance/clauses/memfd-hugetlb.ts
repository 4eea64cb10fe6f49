/**
 * hugetlbfs memfds (catalog §1, §6; LTP memfd_create03 and memfd_create04; memfd_test.c run with its
 * `hugetlbfs` argument): who may make one, the huge page sizes, what write(2), ftruncate(2) and mmap(2)
 * do on one. Sizes are whole huge pages; observations give them in huge pages (`hugePages`), so that an
 * expectation holds for every huge page size. The seal refusals on hugetlbfs are in seal-hugetlb.ts.
 */
import { C } from '../abi'
import type { Ctx } from '../ctx'
import type { Clause, KernelFacts, Observation, Quote } from '../types'
import { quiet } from './memfd-create'
import { credentials } from './memfd-scripts'
import { MEMFD, memfdCreate } from './memfd-docs'
import { man, WRITE } from './seal-docs'

const clause = (c: Omit<Clause, 'area'>): Clause => ({ area: 'memfd', ...c })
const HUGE = memfdCreate('DESCRIPTION', MEMFD.hugetlb)
const NOBODY = 65534

/** A hugetlbfs memfd (verified to be on hugetlbfs) and its huge page size. */
function hugeMemfd(ctx: Ctx, extra = 0): { fd: number; hps: number } {
  const fd = ctx.file.memfd(C.MFD_HUGETLB | C.MFD_ALLOW_SEALING | quiet(ctx) | extra, 'huge')
  ctx.verify(ctx.file.onHugetlbfs(fd), () => 'memfd_create(MFD_HUGETLB) gave a file that is not on hugetlbfs')
  return { fd, hps: ctx.file.blksize(fd) }
}

/** An observation with its size in huge pages. */
function inHugePages(o: Observation, hps: number): Observation {
  const { size, ...rest } = o
  return typeof size === 'number' ? { ...rest, hugePages: size / hps } : o
}

const HUGETLB_CODE: Quote = {
  doc: 'fs/hugetlbfs/inode.c',
  version: 'Linux 7.2',
  section: 'hugetlb_file_setup()',
  text: 'hstate_idx = get_hstate_idx(page_size_log); if (hstate_idx < 0) return ERR_PTR(-ENODEV); … if (creat_flags == HUGETLB_SHMFS_INODE && !can_do_hugetlb_shm()) {',
}

/** Who may make one: the documented EPERM, as the unprivileged user 65534, against root. */
function unprivileged(id: string, groups: number[], how: string): Clause {
  return clause({
    id,
    catalog: 'mfd.hugetlb.unprivileged-succeeds',
    quote: memfdCreate('ERRORS', MEMFD.ePermHugetlb),
    note: `memfd_create(MFD_HUGETLB) in a child process running as uid and gid ${NOBODY} ${how}, without CAP_IPC_LOCK (uid and capability are part of the observation). /proc/sys/vm/hugetlb_shm_group is 0 by default, which the child is not a member of.`,
    since: '4.14',
    needs: ['hugetlb', 'root'],
    expect: { errno: 'EPERM', uid: NOBODY, capIpcLock: false },
    divergence: {
      doc: `memfd_create(2) ERRORS: "${MEMFD.ePermHugetlb}"`,
      kernel:
        'hugetlb_file_setup() checks CAP_IPC_LOCK and hugetlb_shm_group only for HUGETLB_SHMFS_INODE (SysV shm); memfd_create() passes HUGETLB_ANONHUGE_INODE, so an unprivileged caller gets an fd (mm/memfd.c, fs/hugetlbfs/inode.c).',
    },
    history: [
      {
        range: '*',
        observed: { ret: 0, uid: NOBODY, capIpcLock: false },
        behaviour: 'An unprivileged memfd_create(MFD_HUGETLB) succeeds: the group and CAP_IPC_LOCK check applies only to SysV shm.',
        ref: 'mm/memfd.c memfd_create() → hugetlb_file_setup(…, HUGETLB_ANONHUGE_INODE, …), since MFD_HUGETLB arrived (4.14)',
      },
    ],
    run: async (ctx) =>
      (await ctx.proc.run(
        { module: 'memfd-scripts', name: 'createAs' },
        { flags: C.MFD_HUGETLB | quiet(ctx) },
        { user: { uid: NOBODY, gid: NOBODY, groups } },
      )) as Observation,
  })
}

const privileges: Clause[] = [
  clause({
    id: 'memfd.hugetlb.create-no-reserved-pages',
    quote: HUGE,
    note: 'memfd_create(MFD_HUGETLB) makes a file on hugetlbfs (statfs of its /proc/self/fd link); making it reserves no huge page, so it works with an empty pool.',
    mirrors: ['LTP memfd_create03'],
    since: '4.14',
    needs: ['hugetlb'],
    expect: { ret: 0, hugetlbfs: true },
    run: (ctx) => {
      const { obs, fd } = ctx.try.memfdCreate('huge', C.MFD_HUGETLB | quiet(ctx) | C.MFD_CLOEXEC)
      return fd === null ? obs : { ...obs, hugetlbfs: ctx.file.onHugetlbfs(fd) }
    },
  }),
  clause({
    id: 'memfd.hugetlb.privileged-ok',
    catalog: 'mfd.hugetlb.unprivileged-succeeds (control)',
    quote: memfdCreate('ERRORS', MEMFD.ePermHugetlb),
    note: 'Control for memfd.hugetlb.unprivileged-eperm: the same call in the worker, which runs as root with CAP_IPC_LOCK, gets an fd.',
    since: '4.14',
    needs: ['hugetlb', 'root'],
    expect: { ret: 0, uid: 0, capIpcLock: true },
    run: (ctx) => {
      const { uid, capIpcLock } = credentials(ctx.proc.read('/proc/self/status'))
      return { ...ctx.try.memfdCreate('h', C.MFD_HUGETLB | quiet(ctx) | C.MFD_CLOEXEC).obs, uid, capIpcLock }
    },
  }),
  unprivileged('memfd.hugetlb.unprivileged-eperm', [NOBODY], `with supplementary group ${NOBODY} only`),
  unprivileged('memfd.hugetlb.unprivileged-no-groups-eperm', [], 'with no supplementary groups'),
]

/** LTP memfd_create04: every MFD_HUGE_* size of <linux/memfd.h>. */
const SIZES: Array<[string, number]> = [
  ['64kb', 16],
  ['512kb', 19],
  ['2mb', 21],
  ['8mb', 23],
  ['16mb', 24],
  ['256mb', 28],
  ['1gb', 30],
  ['2gb', 31],
  ['16gb', 34],
]

const sizeClauses: Clause[] = [
  ...SIZES.map(([slug, log]) =>
    clause({
      id: `memfd.hugetlb.size-${slug}`,
      catalog: slug === '2mb' ? 'mfd.hugetlb.size-2mb-ok' : slug === '1gb' ? 'mfd.hugetlb.size-1gb' : 'mfd.hugetlb.size-unsupported-enodev',
      basis: 'code',
      quote: [memfdCreate('DESCRIPTION', MEMFD.hugeSizes), HUGETLB_CODE],
      note:
        `memfd_create(MFD_HUGETLB | ${log} << MFD_HUGE_SHIFT), a ${slug.toUpperCase().replace('KB', ' KiB').replace('MB', ' MiB').replace('GB', ' GiB')} page: a memfd of that page size (st_blksize) where /sys/kernel/mm/hugepages lists the size. ` +
        'The page says the flags select a size "on systems that support multiple hugetlb page sizes" but gives no error for a size the system lacks: the code answers ENODEV (no hstate for it), as LTP memfd_create04 expects. Both outcomes are the code\'s, and every size clause agrees on them.',
      mirrors: ['LTP memfd_create04'],
      since: '4.14',
      needs: ['hugetlb'],
      expect: (k: KernelFacts): Observation => (k.features.hugetlbSizes.includes(2 ** log) ? { ret: 0, pageSize: 2 ** log } : { errno: 'ENODEV' }),
      run: (ctx) => {
        const { obs, fd } = ctx.try.memfdCreate('huge', C.MFD_HUGETLB | (log * 2 ** 26) | quiet(ctx) | C.MFD_CLOEXEC)
        return fd === null ? obs : { ...obs, pageSize: ctx.file.blksize(fd) }
      },
    }),
  ),
  clause({
    id: 'memfd.hugetlb.size-garbage-log-enodev',
    catalog: 'mfd.hugetlb.size-unsupported-enodev',
    basis: 'code',
    quote: [memfdCreate('DESCRIPTION', MEMFD.hugeSizes), HUGETLB_CODE],
    note: 'MFD_HUGETLB | 63 << MFD_HUGE_SHIFT, a 2^63-byte page no system has: ENODEV, as for every size without an hstate (the memfd.hugetlb.size-* clauses).',
    since: '4.14',
    needs: ['hugetlb'],
    expect: { errno: 'ENODEV' },
    run: (ctx) => ctx.try.memfdCreate('huge', C.MFD_HUGETLB | (63 * 2 ** 26) | quiet(ctx) | C.MFD_CLOEXEC).obs,
  }),
]

const files: Clause[] = [
  clause({
    id: 'memfd.hugetlb.allow-sealing-ok',
    quote: [HUGE, memfdCreate('ERRORS', MEMFD.eHugetlbSealing)],
    note: 'MFD_HUGETLB | MFD_ALLOW_SEALING: a hugetlbfs memfd that can take seals (its F_GET_SEALS has no F_SEAL_SEAL). The DESCRIPTION and the ERRORS of the same page disagree; the later text (DESCRIPTION, "supported since Linux 4.16") is the one judged.',
    since: '4.16',
    needs: ['hugetlb'],
    expect: { ret: 0, sealable: true },
    divergence: {
      doc: 'memfd_create(2) DESCRIPTION: "Specifying both MFD_HUGETLB and MFD_ALLOW_SEALING in flags is supported since Linux 4.16." ERRORS (same page): "EINVAL Both MFD_HUGETLB and MFD_ALLOW_SEALING were specified in flags."',
      kernel: 'Since 4.16 (47b9012ecdc7 "shmem: add sealing support to hugetlb-backed memfd") the combination gives an fd; the ERRORS entry is stale.',
    },
    history: [
      {
        range: '<4.16',
        observed: { errno: 'EINVAL' },
        behaviour: 'Before 4.16 hugetlbfs memfds could not be sealed: MFD_HUGETLB | MFD_ALLOW_SEALING gave EINVAL.',
        ref: '47b9012ecdc7 (4.16)',
      },
    ],
    run: (ctx) => {
      const { obs, fd } = ctx.try.memfdCreate('huge', C.MFD_HUGETLB | C.MFD_ALLOW_SEALING | quiet(ctx) | C.MFD_CLOEXEC)
      return fd === null ? obs : { ...obs, sealable: (ctx.file.seals(fd) & C.F_SEAL_SEAL) === 0 }
    },
  }),
  clause({
    id: 'memfd.hugetlb.proc-link',
    quote: [HUGE, memfdCreate('DESCRIPTION', MEMFD.link)],
    note: 'The /proc/self/fd link of a hugetlbfs memfd named "huge".',
    since: '4.14',
    needs: ['hugetlb'],
    expect: { link: '/memfd:huge (deleted)' },
    run: (ctx) => ({ link: ctx.file.link(hugeMemfd(ctx).fd) }),
  }),
  clause({
    id: 'memfd.hugetlb.write-einval',
    quote: [HUGE, man('write', 'ERRORS', WRITE.unsuitable)],
    note: 'write(2) of one byte to a hugetlbfs memfd of one huge page: hugetlbfs has no write operation, so the file is "unsuitable for writing" (memfd_test.c skips writes on hugetlbfs; LTP memfd_create03 expects EINVAL). Nothing is written.',
    mirrors: ['LTP memfd_create03 test_write_protect'],
    since: '4.14',
    needs: ['hugetlb'],
    expect: { errno: 'EINVAL', hugePages: 1, changed: 0 },
    run: (ctx) => {
      const { fd, hps } = hugeMemfd(ctx)
      ctx.file.resize(fd, hps)
      return inHugePages(ctx.try.write(fd, 1, 0), hps)
    },
  }),
  clause({
    id: 'memfd.hugetlb.ftruncate-unaligned-einval',
    basis: 'code',
    quote: {
      doc: 'fs/hugetlbfs/inode.c',
      version: 'Linux 7.2',
      section: 'hugetlbfs_setattr()',
      text: 'if (newsize & ~huge_page_mask(h)) return -EINVAL;',
    },
    note: 'ftruncate(4096) of an empty hugetlbfs memfd. No document gives the rule (mmap(2) "Huge page mappings" covers mmap and munmap only); hugetlbfs_setattr() refuses a size that is not a whole number of huge pages, and the size stays 0.',
    since: '4.14',
    needs: ['hugetlb'],
    expect: { errno: 'EINVAL', hugePages: 0 },
    run: (ctx) => {
      const { fd, hps } = hugeMemfd(ctx)
      return inHugePages(ctx.try.ftruncate(fd, 4096), hps)
    },
  }),
  clause({
    id: 'memfd.hugetlb.ftruncate-aligned-ok',
    catalog: 'memfd.hugetlb.ftruncate-unaligned-einval (control)',
    basis: 'code',
    quote: {
      doc: 'fs/hugetlbfs/inode.c',
      version: 'Linux 7.2',
      section: 'hugetlbfs_setattr()',
      text: 'if (newsize & ~huge_page_mask(h)) return -EINVAL;',
    },
    note: 'Control for memfd.hugetlb.ftruncate-unaligned-einval: ftruncate to one huge page is accepted (setting a size takes no huge page).',
    since: '4.14',
    needs: ['hugetlb'],
    expect: { ret: 0, hugePages: 1 },
    run: (ctx) => {
      const { fd, hps } = hugeMemfd(ctx)
      return inHugePages(ctx.try.ftruncate(fd, hps), hps)
    },
  }),
]

/** The huge pages the default pool can ever give: nr_hugepages plus nr_overcommit_hugepages. */
function poolCeiling(ctx: Ctx, hps: number): number {
  const dir = `/sys/kernel/mm/hugepages/hugepages-${hps / 1024}kB`
  return Number(ctx.proc.read(`${dir}/nr_hugepages`).trim()) + Number(ctx.proc.read(`${dir}/nr_overcommit_hugepages`).trim())
}

const RESERV: Quote = {
  doc: 'hugetlbfs_reserv.rst',
  version: 'Linux 6.8',
  section: 'Overview',
  url: 'https://docs.kernel.org/6.8/mm/hugetlbfs_reserv.html',
  text: "Shortly after huge page support was added, it was determined that it would be better to detect a shortage of huge pages at mmap() time. The idea is that if there were not enough huge pages to cover the mapping, the mmap() would fail. … However, the basic idea was to 'reserve' huge pages at mmap() time to ensure that huge pages would be available for page faults in that mapping.",
}
const ENOMEM: Quote = man('mmap', 'ERRORS', 'ENOMEM No memory is available.')

const mappings: Clause[] = [
  clause({
    id: 'memfd.hugetlb.mmap-beyond-pool-enomem',
    catalog: 'mfd.hugetlb.mmap-ro-shared-no-reserve-pool',
    quote: [RESERV, ENOMEM],
    note: 'mmap(PROT_READ, MAP_SHARED) of a hugetlbfs memfd over one huge page more than the default pool can ever hold (nr_hugepages + nr_overcommit_hugepages + 1): the reservation cannot be made, so mmap fails. Nothing of the pool is taken, whatever other processes use of it (LTP memfd_create03 maps every free page first instead).',
    mirrors: ['LTP memfd_create03 test_max_hugepages'],
    since: '4.14',
    needs: ['hugetlb'],
    expect: { errno: 'ENOMEM' },
    run: (ctx) => {
      const { fd, hps } = hugeMemfd(ctx)
      return ctx.try.mmap((poolCeiling(ctx, hps) + 1) * hps, C.PROT_READ, C.MAP_SHARED, fd, 0).obs
    },
  }),
  clause({
    id: 'memfd.hugetlb.mmap-beyond-pool-noreserve-ok',
    catalog: 'mfd.hugetlb.mmap-ro-shared-no-reserve-pool (control)',
    basis: 'code',
    quote: [
      RESERV,
      {
        doc: 'fs/hugetlbfs/inode.c',
        version: 'Linux 7.2',
        section: 'hugetlbfs_file_mmap()',
        text: 'if (hugetlb_reserve_pages(inode, vma->vm_pgoff >> huge_page_order(h), len >> huge_page_shift(h), vma, vma_flags) < 0)',
      },
    ],
    note: "The same mapping with MAP_NORESERVE: no reservation is made (hugetlb_reserve_pages() returns early for VM_NORESERVE), so it maps although the pool could never fill it. mmap(2) describes MAP_NORESERVE for swap only; for huge pages this is the code's rule.",
    since: '4.14',
    needs: ['hugetlb'],
    expect: { ret: 0, perms: 'r--s' },
    run: (ctx) => {
      const { fd, hps } = hugeMemfd(ctx)
      return ctx.try.mmap((poolCeiling(ctx, hps) + 1) * hps, C.PROT_READ, C.MAP_SHARED | C.MAP_NORESERVE, fd, 0).obs
    },
  }),
  clause({
    id: 'memfd.hugetlb.mmap-one-page-ok',
    catalog: 'mfd.hugetlb.mmap-ro-shared-no-reserve-pool (control)',
    quote: [RESERV],
    note: 'Control for memfd.hugetlb.mmap-beyond-pool-enomem: one huge page, MAP_SHARED, where the pool has a free page: the reservation is made and the mapping is there.',
    mirrors: ['LTP memfd_create03 test_max_hugepages'],
    since: '4.14',
    needs: ['hugetlb', 'hugetlbPool'],
    expect: { ret: 0, perms: 'r--s' },
    run: (ctx) => {
      const { fd, hps } = hugeMemfd(ctx)
      return ctx.try.mmap(hps, C.PROT_READ, C.MAP_SHARED, fd, 0).obs
    },
  }),
]

export const hugetlbClauses: Clause[] = [...privileges, ...sizeClauses, ...files, ...mappings]
