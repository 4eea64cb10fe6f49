/**
 * The seal refusals and their controls again on hugetlbfs memfds (catalog §6): memfd_test.c runs every
 * test a second time on MFD_HUGETLB memfds (its `hugetlbfs` argument), because hugetlbfs has its own code
 * for each sealed call (hugetlbfs_setattr for ftruncate and open(O_TRUNC), hugetlbfs_fallocate and
 * hugetlbfs_punch_hole, its own mmap), and no write(2) at all. Sizes are whole huge pages: hugetlbfs_setattr
 * refuses any other size with EINVAL before it looks at the seals. Clauses that allocate or map huge pages
 * need free pages in the default pool ('hugetlbPool'); the others need none.
 *
 * How the seals meet mmap on hugetlbfs is the `mmap.` area (mmap.hugetlb.*); the SHARE tests on hugetlbfs
 * are in seal-share.ts.
 */
import { C } from '../abi'
import type { Ctx } from '../ctx'
import type { Clause, Observation, Quote } from '../types'
import { byLevel, level2History, MEMFD, memfdCreate } from './memfd-docs'
import { base, clause, FUTURE_WRITE, GROW, PUNCH, RW, SEAL, sealedHuge, SHRINK, WRITE } from './seal-common'
import { EPERM_SEAL, FALLOCATE, man, OPEN_TRUNC, seals, SEALS, TRUNCATE, WRITE as WRITE_DOC } from './seal-docs'

const HUGE = [memfdCreate('DESCRIPTION', MEMFD.hugetlb)]
const mirror = (test: string): string[] => [`memfd_test.c ${test} [hugetlbfs]`]
const NEEDS: Clause['needs'] = ['hugetlb']
const NEEDS_POOL: Clause['needs'] = ['hugetlb', 'hugetlbPool']

/**
 * A sealable hugetlbfs memfd of two huge pages whose first page holds the byte 'A' throughout (written
 * through a shared mapping, which is then unmapped), with `bits` added: a hole punch there shows.
 */
function filledHuge(ctx: Ctx, bits: number): { fd: number; hps: number } {
  const { fd, hps } = sealedHuge(ctx, 0, 2)
  const r = ctx.mem.map(hps, RW, C.MAP_SHARED, fd)
  ctx.mem.poke(r, 0, Buffer.alloc(hps, 0x41))
  ctx.forget(r)
  ctx.mem.unmap(r, 0, hps)
  if (bits !== 0) ctx.file.addSeals(fd, bits)
  return { fd, hps }
}

/** fallocate that allocates: its answer, the size, and whether the file now holds the huge page (st_blocks). */
function allocating(ctx: Ctx, fd: number, mode: number, offset: number, length: number): Observation {
  return { ...ctx.try.fallocate(fd, mode, offset, length), allocated: ctx.file.allocated(fd) >= length }
}

interface Row {
  id: string
  catalog?: string
  seal: number
  /** The call, on a memfd of two huge pages of size hps. */
  what: string
  call: (ctx: Ctx, fd: number, hps: number) => Observation
  /** What the documentation says it gives, the size in huge pages. */
  want: Observation
  quote: Quote[]
  note: string
  mirrors: string[]
  pool?: boolean
  filled?: boolean
  control?: { id: string; want: Observation; quote: Quote[]; pool?: boolean }
  divergence?: Clause['divergence']
  history?: Clause['history']
  basis?: Clause['basis']
}

const refused = (pages: number, extra: Observation = {}): Observation => ({ errno: 'EPERM', hugePages: pages, ...extra })
const done = (pages: number, extra: Observation = {}): Observation => ({ ret: 0, hugePages: pages, ...extra })

/** The call's observation with its size in huge pages (`hugePages`), so that expectations hold for every huge page size. */
function inHugePages(o: Observation, hps: number): Observation {
  const { size, ...rest } = o
  return typeof size === 'number' ? { ...rest, hugePages: size / hps } : o
}

const ROWS: Row[] = [
  {
    id: 'seal.hugetlb.shrink.ftruncate-smaller-eperm',
    seal: SHRINK,
    what: 'ftruncate(1 huge page)',
    call: (ctx, fd, hps) => ctx.try.ftruncate(fd, hps),
    want: refused(2),
    quote: [seals('DESCRIPTION', SEALS.shrink), man('truncate', 'ERRORS', EPERM_SEAL)],
    note: 'mfd_fail_shrink on hugetlbfs (hugetlbfs_setattr).',
    mirrors: mirror('test_seal_shrink'),
    control: { id: 'seal.hugetlb.unsealed.ftruncate-smaller-ok', want: done(1), quote: [man('truncate', 'DESCRIPTION', TRUNCATE.truncates)] },
  },
  {
    id: 'seal.hugetlb.shrink.open-otrunc-eperm',
    seal: SHRINK,
    what: 'open(/proc/self/fd/N, O_RDWR | O_TRUNC)',
    call: (ctx, fd) => ctx.try.openTrunc(fd, C.O_RDWR),
    want: refused(2),
    quote: [seals('DESCRIPTION', SEALS.shrink), man('open', 'ERRORS', EPERM_SEAL)],
    note: 'mfd_fail_shrink on hugetlbfs: open(O_TRUNC) goes through hugetlbfs_setattr too.',
    mirrors: mirror('test_seal_shrink'),
    control: { id: 'seal.hugetlb.unsealed.open-otrunc-ok', want: done(0), quote: [man('open', 'DESCRIPTION', OPEN_TRUNC)] },
  },
  {
    id: 'seal.hugetlb.shrink.grow-ok',
    seal: SHRINK,
    what: 'ftruncate(3 huge pages)',
    call: (ctx, fd, hps) => ctx.try.ftruncate(fd, 3 * hps),
    want: done(3),
    quote: [seals('DESCRIPTION', SEALS.shrink)],
    note: 'mfd_assert_grow on hugetlbfs: "Increasing the file size is still possible" (setting a size takes no huge page).',
    mirrors: mirror('test_seal_shrink'),
  },
  {
    id: 'seal.hugetlb.shrink.fallocate-grow-ok',
    seal: SHRINK,
    what: 'fallocate(0, 2 huge pages, 1 huge page)',
    call: (ctx, fd, hps) => allocating(ctx, fd, 0, 2 * hps, hps),
    want: done(3, { allocated: true }),
    quote: [seals('DESCRIPTION', SEALS.shrink), man('fallocate', 'DESCRIPTION', FALLOCATE.allocates)],
    note: 'mfd_assert_grow on hugetlbfs: fallocate past the end grows the file by the huge page it allocates.',
    mirrors: mirror('test_seal_shrink'),
    pool: true,
  },
  {
    id: 'seal.hugetlb.grow.ftruncate-bigger-eperm',
    catalog: 'mfd.hugetlb.seal-grow-ftruncate-eperm',
    seal: GROW,
    what: 'ftruncate(3 huge pages)',
    call: (ctx, fd, hps) => ctx.try.ftruncate(fd, 3 * hps),
    want: refused(2),
    quote: [seals('DESCRIPTION', SEALS.grow), man('truncate', 'ERRORS', EPERM_SEAL)],
    note: 'mfd_fail_grow on hugetlbfs (hugetlbfs_setattr).',
    mirrors: mirror('test_seal_grow'),
    control: {
      id: 'seal.hugetlb.unsealed.ftruncate-bigger-ok',
      want: done(3),
      quote: [man('truncate', 'DESCRIPTION', `${TRUNCATE.truncates} … ${TRUNCATE.extends}`)],
    },
  },
  {
    id: 'seal.hugetlb.grow.ftruncate-unaligned-einval-first',
    seal: GROW,
    basis: 'code',
    what: 'ftruncate(3 huge pages + 4096 bytes)',
    call: (ctx, fd, hps) => ctx.try.ftruncate(fd, 3 * hps + 4096),
    want: { errno: 'EINVAL', hugePages: 2 },
    quote: [
      {
        doc: 'fs/hugetlbfs/inode.c',
        version: 'Linux 7.2',
        section: 'hugetlbfs_setattr()',
        text: 'if (newsize & ~huge_page_mask(h)) return -EINVAL; /* protected by i_rwsem */ if ((newsize < oldsize && (info->seals & F_SEAL_SHRINK)) || (newsize > oldsize && (info->seals & F_SEAL_GROW))) return -EPERM;',
      },
    ],
    note: 'No document says which error wins: hugetlbfs_setattr() refuses a size that is not a whole number of huge pages (EINVAL) before it looks at the seals (EPERM). The size stays.',
    mirrors: [],
  },
  {
    id: 'seal.hugetlb.grow.fallocate-beyond-eof-eperm',
    seal: GROW,
    what: 'fallocate(0, 2 huge pages, 1 huge page)',
    call: (ctx, fd, hps) => allocating(ctx, fd, 0, 2 * hps, hps),
    want: refused(2, { allocated: false }),
    quote: [seals('DESCRIPTION', SEALS.grow), man('fallocate', 'ERRORS', EPERM_SEAL)],
    note: 'mfd_fail_grow on hugetlbfs (hugetlbfs_fallocate): refused before any huge page is taken.',
    mirrors: mirror('test_seal_grow'),
    control: {
      id: 'seal.hugetlb.unsealed.fallocate-beyond-eof-ok',
      want: done(3, { allocated: true }),
      quote: [man('fallocate', 'DESCRIPTION', FALLOCATE.allocates)],
      pool: true,
    },
  },
  {
    id: 'seal.hugetlb.grow.fallocate-keepsize-beyond-eof-ok',
    seal: GROW,
    what: 'fallocate(FALLOC_FL_KEEP_SIZE, 2 huge pages, 1 huge page)',
    call: (ctx, fd, hps) => allocating(ctx, fd, C.FALLOC_FL_KEEP_SIZE, 2 * hps, hps),
    want: done(2, { allocated: true }),
    quote: [seals('DESCRIPTION', SEALS.grow), man('fallocate', 'DESCRIPTION', FALLOCATE.keepSize)],
    note: 'FALLOC_FL_KEEP_SIZE past the end keeps the size: "If you keep the size …, those calls still work as expected." (It would take one huge page.)',
    mirrors: [],
    pool: true,
    control: {
      id: 'seal.hugetlb.unsealed.fallocate-keepsize-beyond-eof-ok',
      want: done(2, { allocated: true }),
      quote: [man('fallocate', 'DESCRIPTION', FALLOCATE.keepSize)],
      pool: true,
    },
    divergence: {
      doc: 'F_ADD_SEALS(2const), F_SEAL_GROW: "These calls fail with EPERM if you use them to increase the file size. If you keep the size or shrink it, those calls still work as expected."',
      kernel:
        'fs/hugetlbfs/inode.c hugetlbfs_fallocate() refuses with EPERM whenever F_SEAL_GROW is set and offset + len > i_size, FALLOC_FL_KEEP_SIZE or not (as shmem_fallocate() does on tmpfs).',
    },
    history: [
      {
        range: '*',
        observed: { errno: 'EPERM', hugePages: 2, allocated: false },
        behaviour: 'F_SEAL_GROW refuses any fallocate that reaches past the end of a hugetlbfs file, FALLOC_FL_KEEP_SIZE included.',
        ref: 'fs/hugetlbfs/inode.c hugetlbfs_fallocate() (F_SEAL_GROW and offset + len > inode->i_size), since hugetlbfs memfds could be sealed (4.16)',
      },
    ],
  },
  {
    id: 'seal.hugetlb.grow.shrink-ok',
    seal: GROW,
    what: 'ftruncate(1 huge page)',
    call: (ctx, fd, hps) => ctx.try.ftruncate(fd, hps),
    want: done(1),
    quote: [seals('DESCRIPTION', SEALS.grow)],
    note: 'mfd_assert_shrink on hugetlbfs: "If you keep the size or shrink it, those calls still work as expected."',
    mirrors: mirror('test_seal_grow'),
  },
  {
    id: 'seal.hugetlb.grow.punch-hole-ok',
    seal: GROW,
    what: 'fallocate(PUNCH_HOLE | KEEP_SIZE, 0, 1 huge page)',
    call: (ctx, fd, hps) => ctx.try.fallocate(fd, PUNCH, 0, hps),
    want: done(2, { data: 'zero' }),
    quote: [seals('DESCRIPTION', SEALS.grow), man('fallocate', 'DESCRIPTION', FALLOCATE.punch)],
    note: 'mfd_assert_write on hugetlbfs: a hole punch keeps the size, which F_SEAL_GROW allows; the huge page that held data reads back as zeros.',
    mirrors: mirror('test_seal_grow'),
    pool: true,
    filled: true,
  },
  {
    id: 'seal.hugetlb.resize.ftruncate-bigger-eperm',
    seal: SHRINK | GROW,
    what: 'ftruncate(3 huge pages)',
    call: (ctx, fd, hps) => ctx.try.ftruncate(fd, 3 * hps),
    want: refused(2),
    quote: [seals('DESCRIPTION', SEALS.grow), man('truncate', 'ERRORS', EPERM_SEAL)],
    note: 'mfd_fail_grow on hugetlbfs under F_SEAL_SHRINK | F_SEAL_GROW.',
    mirrors: mirror('test_seal_resize'),
  },
  {
    id: 'seal.hugetlb.resize.ftruncate-smaller-eperm',
    seal: SHRINK | GROW,
    what: 'ftruncate(1 huge page)',
    call: (ctx, fd, hps) => ctx.try.ftruncate(fd, hps),
    want: refused(2),
    quote: [seals('DESCRIPTION', SEALS.shrink), man('truncate', 'ERRORS', EPERM_SEAL)],
    note: 'mfd_fail_shrink on hugetlbfs under F_SEAL_SHRINK | F_SEAL_GROW.',
    mirrors: mirror('test_seal_resize'),
  },
  {
    id: 'seal.hugetlb.write.punch-hole-eperm',
    seal: WRITE,
    what: 'fallocate(PUNCH_HOLE | KEEP_SIZE, 0, 1 huge page)',
    call: (ctx, fd, hps) => ctx.try.fallocate(fd, PUNCH, 0, hps),
    want: refused(2, { data: 'kept' }),
    quote: [seals('DESCRIPTION', SEALS.write), man('fallocate', 'ERRORS', EPERM_SEAL)],
    note: 'mfd_fail_write on hugetlbfs (hugetlbfs_punch_hole): the first huge page holds data; refused, the data is kept.',
    mirrors: mirror('test_seal_write'),
    pool: true,
    filled: true,
    control: {
      id: 'seal.hugetlb.unsealed.punch-hole-ok',
      want: done(2, { data: 'zero' }),
      quote: [man('fallocate', 'DESCRIPTION', FALLOCATE.punch)],
      pool: true,
    },
  },
  {
    id: 'seal.hugetlb.future-write.punch-hole-eperm',
    seal: FUTURE_WRITE,
    what: 'fallocate(PUNCH_HOLE | KEEP_SIZE, 0, 1 huge page)',
    call: (ctx, fd, hps) => ctx.try.fallocate(fd, PUNCH, 0, hps),
    want: refused(2, { data: 'kept' }),
    quote: [seals('DESCRIPTION', SEALS.futureWrite), seals('DESCRIPTION', SEALS.write)],
    note: 'mfd_fail_write on hugetlbfs under F_SEAL_FUTURE_WRITE, whose effect "is similar to F_SEAL_WRITE": refused, the data is kept.',
    mirrors: mirror('test_seal_future_write'),
    pool: true,
    filled: true,
  },
  {
    id: 'seal.hugetlb.write.ftruncate-grow-ok',
    seal: WRITE,
    what: 'ftruncate(3 huge pages)',
    call: (ctx, fd, hps) => ctx.try.ftruncate(fd, 3 * hps),
    want: done(3),
    quote: [seals('DESCRIPTION', SEALS.write)],
    note: 'mfd_assert_grow on hugetlbfs under F_SEAL_WRITE: "growing the size of the file is still possible and allowed".',
    mirrors: mirror('test_seal_write'),
  },
  {
    id: 'seal.hugetlb.write.ftruncate-shrink-ok',
    seal: WRITE,
    what: 'ftruncate(1 huge page)',
    call: (ctx, fd, hps) => ctx.try.ftruncate(fd, hps),
    want: done(1),
    quote: [seals('DESCRIPTION', SEALS.write)],
    note: 'mfd_assert_shrink on hugetlbfs under F_SEAL_WRITE: "shrinking … the size of the file is still possible and allowed".',
    mirrors: mirror('test_seal_write'),
  },
  {
    id: 'seal.hugetlb.write.write-einval',
    seal: WRITE,
    what: 'write(4 bytes)',
    call: (ctx, fd) => ctx.try.write(fd, 4, 0),
    want: { errno: 'EINVAL', hugePages: 2, changed: 0 },
    quote: [man('write', 'ERRORS', WRITE_DOC.unsuitable)],
    note: 'mfd_fail_write on hugetlbfs: hugetlbfs has no write(2) at all (memfd_test.c: "hugetlbfs does not support write"), so a write is refused for that reason, sealed or not (memfd.hugetlb.write-einval). The selftest accepts any failure here; the errno is EINVAL, not the seal\'s EPERM.',
    mirrors: mirror('test_seal_write'),
  },
]

function rowClauses(row: Row): Clause[] {
  const subject = (ctx: Ctx, bits: number): { fd: number; hps: number } => (row.filled ? filledHuge(ctx, bits) : sealedHuge(ctx, bits, 2))
  const name =
    row.seal === SHRINK
      ? 'F_SEAL_SHRINK'
      : row.seal === GROW
        ? 'F_SEAL_GROW'
        : row.seal === WRITE
          ? 'F_SEAL_WRITE'
          : row.seal === FUTURE_WRITE
            ? 'F_SEAL_FUTURE_WRITE'
            : 'F_SEAL_SHRINK | F_SEAL_GROW'
  const sealedClause = clause({
    id: row.id,
    ...(row.catalog ? { catalog: row.catalog } : {}),
    ...(row.basis ? { basis: row.basis } : {}),
    quote: [...row.quote, ...HUGE],
    note: `${row.what} on a hugetlbfs memfd of two huge pages sealed with ${name}. ${row.note}`,
    ...(row.mirrors.length ? { mirrors: row.mirrors } : {}),
    since: '4.16',
    needs: row.pool ? NEEDS_POOL : NEEDS,
    expect: row.want,
    ...(row.divergence ? { divergence: row.divergence } : {}),
    ...(row.history ? { history: row.history } : {}),
    run: (ctx) => {
      const { fd, hps } = subject(ctx, row.seal)
      return inHugePages(row.call(ctx, fd, hps), hps)
    },
  })
  if (!row.control) return [sealedClause]
  const control = row.control
  return [
    sealedClause,
    clause({
      id: control.id,
      catalog: `${row.id} (control)`,
      quote: [...control.quote, ...HUGE],
      note: `Control for ${row.id}: ${row.what} on the same kind of hugetlbfs memfd, never sealed.`,
      ...(row.mirrors.length ? { mirrors: row.mirrors } : {}),
      since: '4.16',
      needs: control.pool ? NEEDS_POOL : NEEDS,
      expect: control.want,
      run: (ctx) => {
        const { fd, hps } = subject(ctx, 0)
        return inHugePages(row.call(ctx, fd, hps), hps)
      },
    }),
  ]
}

/** Seals on hugetlbfs memfds themselves (test_basic on hugetlbfs). */
const basics: Clause[] = [
  clause({
    id: 'seal.hugetlb.initial-seals-empty',
    quote: [...HUGE, memfdCreate('DESCRIPTION', MEMFD.allowSealing)],
    note: 'test_basic on hugetlbfs: F_GET_SEALS of a memfd_create(MFD_HUGETLB | MFD_ALLOW_SEALING) memfd (F_SEAL_EXEC where vm.memfd_noexec ≥ 1 makes it MFD_NOEXEC_SEAL).',
    mirrors: mirror('test_basic'),
    since: '4.16',
    needs: NEEDS,
    expect: (k) => ({ seals: base(k) }),
    run: (ctx) => ctx.try.getSeals(sealedHuge(ctx, 0, 0).fd),
  }),
  clause({
    id: 'seal.hugetlb.add-seals-ok',
    catalog: 'mfd.hugetlb.add-seal-grow',
    quote: [...HUGE, seals('DESCRIPTION', SEALS.add)],
    note: 'test_basic on hugetlbfs: F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE in one call on a hugetlbfs memfd of one huge page.',
    mirrors: mirror('test_basic'),
    since: '4.16',
    needs: NEEDS,
    expect: (k) => ({ ret: 0, seals: base(k, SHRINK | GROW | WRITE) }),
    run: (ctx) => ctx.try.addSeals(sealedHuge(ctx, 0, 1).fd, SHRINK | GROW | WRITE),
  }),
  clause({
    id: 'seal.hugetlb.seal-seal.blocks-add-eperm',
    quote: [...HUGE, seals('DESCRIPTION', SEALS.sealSeal), seals('ERRORS', SEALS.ePerm)],
    note: 'test_basic on hugetlbfs: F_SEAL_GROW after F_SEAL_SEAL is refused, nothing added.',
    mirrors: mirror('test_basic'),
    since: '4.16',
    needs: NEEDS,
    expect: (k) => ({ errno: 'EPERM', seals: base(k, SEAL) }),
    run: (ctx) => ctx.try.addSeals(sealedHuge(ctx, SEAL, 1).fd, GROW),
  }),
  clause({
    id: 'seal.hugetlb.add-without-allow-sealing',
    quote: [...HUGE, memfdCreate('DESCRIPTION', MEMFD.allowSealing)],
    note: 'test_basic on hugetlbfs: memfd_create(MFD_HUGETLB) without MFD_ALLOW_SEALING starts with F_SEAL_SEAL and refuses F_SEAL_WRITE (`initial` is F_GET_SEALS before the call). The level of vm.memfd_noexec decides what a call without exec flags makes (mfd_noexec.rst): at 1 it "acts like MFD_NOEXEC_SEAL was set", which implies MFD_ALLOW_SEALING and sets F_SEAL_EXEC; at 2 it "will be rejected".',
    mirrors: mirror('test_basic'),
    since: '4.14',
    needs: NEEDS,
    expect: byLevel({ initial: SEAL, errno: 'EPERM', seals: SEAL }, { initial: C.F_SEAL_EXEC, ret: 0, seals: C.F_SEAL_EXEC | WRITE }),
    history: level2History({ initial: C.F_SEAL_EXEC, ret: 0, seals: C.F_SEAL_EXEC | WRITE }),
    run: (ctx) => {
      const level = ctx.facts.environment.memfdNoexec
      const { obs, fd } = ctx.try.memfdCreate('memseal-huge', C.MFD_HUGETLB | C.MFD_CLOEXEC)
      if (fd === null) return { level, ...obs }
      return { level, initial: ctx.file.seals(fd), ...ctx.try.addSeals(fd, WRITE) }
    },
  }),
]

/** F_SEAL_WRITE and shared writable mappings of a hugetlbfs memfd (test_share_mmap on hugetlbfs). */
const busy: Clause[] = [
  clause({
    id: 'seal.hugetlb.write.ebusy-with-rw-shared-mapping',
    quote: [...HUGE, seals('DESCRIPTION', SEALS.ebusy), seals('ERRORS', SEALS.eBusy)],
    note: 'test_share_mmap on hugetlbfs: a PROT_READ|PROT_WRITE MAP_SHARED mapping of one huge page exists: refused, nothing added.',
    mirrors: mirror('test_share_mmap'),
    since: '4.16',
    needs: NEEDS_POOL,
    expect: (k) => ({ errno: 'EBUSY', seals: base(k) }),
    run: (ctx) => {
      const { fd, hps } = sealedHuge(ctx, 0, 1)
      ctx.mem.map(hps, RW, C.MAP_SHARED, fd)
      return ctx.try.addSeals(fd, WRITE)
    },
  }),
  clause({
    id: 'seal.hugetlb.write.ok-after-munmap',
    catalog: 'seal.hugetlb.write.ebusy-with-rw-shared-mapping (control)',
    quote: [...HUGE, seals('DESCRIPTION', SEALS.ebusy)],
    note: 'Control for seal.hugetlb.write.ebusy-with-rw-shared-mapping: the same mapping, unmapped first.',
    mirrors: mirror('test_share_mmap'),
    since: '4.16',
    needs: NEEDS_POOL,
    expect: (k) => ({ ret: 0, seals: base(k, WRITE) }),
    run: (ctx) => {
      const { fd, hps } = sealedHuge(ctx, 0, 1)
      const r = ctx.mem.map(hps, RW, C.MAP_SHARED, fd)
      ctx.forget(r)
      ctx.mem.unmap(r, 0, hps)
      return ctx.try.addSeals(fd, WRITE)
    },
  }),
  clause({
    id: 'seal.hugetlb.future-write.add-with-rw-mapping-ok',
    quote: [...HUGE, seals('DESCRIPTION', SEALS.futureWrite)],
    note: 'test_seal_future_write on hugetlbfs: F_SEAL_FUTURE_WRITE is added while a PROT_READ|PROT_WRITE MAP_SHARED mapping of one huge page exists.',
    mirrors: mirror('test_seal_future_write'),
    since: '5.1',
    needs: ['hugetlb', 'hugetlbPool', 'futureWrite'],
    expect: (k) => ({ ret: 0, seals: base(k, FUTURE_WRITE) }),
    run: (ctx) => {
      const { fd, hps } = sealedHuge(ctx, 0, 1)
      ctx.mem.map(hps, RW, C.MAP_SHARED, fd)
      return ctx.try.addSeals(fd, FUTURE_WRITE)
    },
  }),
]

export const hugetlbClauses: Clause[] = [...basics, ...ROWS.flatMap(rowClauses), ...busy]
