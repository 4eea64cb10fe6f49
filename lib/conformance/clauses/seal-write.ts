/**
 * F_SEAL_WRITE and F_SEAL_FUTURE_WRITE (catalog §5.3–5.4; memfd_test.c test_seal_write,
 * test_seal_future_write; LTP memfd_create01 "Write seal"): writes and hole punches are refused and
 * change nothing, sizes still change, and F_SEAL_WRITE cannot be added while a writable shared mapping
 * exists. How the seals meet mmap and mprotect is the `mmap.` area.
 */
import { C } from '../abi'
import type { Ctx } from '../ctx'
import type { Clause } from '../types'
import { atEveryLevel, base, clause, filled, FUTURE_WRITE, ps, PUNCH, RW, sealed, SHRINK, WRITE } from './seal-common'
import { EPERM_SEAL, FALLOCATE, man, OPEN_TRUNC, seals, SEALS, TRUNCATE, WRITE as WRITE_DOC } from './seal-docs'

const T_WRITE = ['memfd_test.c test_seal_write', 'LTP memfd_create01 test_seal_write']
const T_FUTURE = ['memfd_test.c test_seal_future_write']

/** Writes and hole punches under F_SEAL_WRITE, sizes that still change, and their unsealed controls. */
const writes: Clause[] = [
  clause({
    id: 'seal.write.write-eperm',
    quote: [seals('DESCRIPTION', SEALS.write), man('write', 'ERRORS', EPERM_SEAL)],
    note: 'mfd_fail_write: write(2) of one byte at the file offset (0) of a one-page memfd sealed with F_SEAL_WRITE: refused, nothing written.',
    mirrors: T_WRITE,
    since: '3.17',
    expect: { errno: 'EPERM', size: ps, changed: 0 },
    run: (ctx) => ctx.try.write(sealed(ctx, WRITE), 1),
  }),
  clause({
    id: 'seal.unsealed.write-ok',
    catalog: 'seal.write.write-eperm (control)',
    quote: man('write', 'RETURN VALUE', WRITE_DOC.returned),
    note: 'Control for seal.write.write-eperm: the same write on a memfd never sealed.',
    mirrors: T_WRITE,
    since: '3.17',
    expect: { ret: 1, size: ps, changed: 1 },
    run: (ctx) => ctx.try.write(sealed(ctx, 0), 1),
  }),
  clause({
    id: 'seal.write.pwrite-eperm',
    quote: [seals('DESCRIPTION', SEALS.write), man('write', 'ERRORS', EPERM_SEAL)],
    note: 'pwrite(2) of one byte at 0 under F_SEAL_WRITE: refused, nothing written.',
    mirrors: T_WRITE,
    since: '3.17',
    expect: { errno: 'EPERM', size: ps, changed: 0 },
    run: (ctx) => ctx.try.write(sealed(ctx, WRITE), 1, 0),
  }),
  clause({
    id: 'seal.write.pwrite-beyond-eof-eperm',
    quote: [seals('DESCRIPTION', SEALS.write), man('write', 'ERRORS', EPERM_SEAL)],
    note: 'mfd_fail_grow_write under F_SEAL_WRITE: a pwrite past the end would grow the file, but it is still a write: refused, the size stays.',
    mirrors: T_WRITE,
    since: '3.17',
    expect: { errno: 'EPERM', size: ps, changed: 0 },
    run: (ctx) => ctx.try.write(sealed(ctx, WRITE), 1, 4 * ps),
  }),
  clause({
    id: 'seal.write.punch-hole-eperm',
    quote: [seals('DESCRIPTION', SEALS.write), man('fallocate', 'ERRORS', EPERM_SEAL)],
    note: 'mfd_fail_write: fallocate(PUNCH_HOLE | KEEP_SIZE) of the first page of a two-page memfd whose pages hold data, sealed with F_SEAL_WRITE: refused, the data is kept.',
    mirrors: T_WRITE,
    since: '3.17',
    expect: { errno: 'EPERM', size: 2 * ps, data: 'kept' },
    run: (ctx) => ctx.try.fallocate(filled(ctx, WRITE, 2), PUNCH, 0, ps),
  }),
  clause({
    id: 'seal.unsealed.punch-hole-ok',
    catalog: 'seal.write.punch-hole-eperm (control)',
    quote: man('fallocate', 'DESCRIPTION', FALLOCATE.punch),
    note: 'Control for seal.write.punch-hole-eperm: the same hole punch on a memfd never sealed; the page reads back as zeros.',
    mirrors: T_WRITE,
    since: '3.17',
    expect: { ret: 0, size: 2 * ps, data: 'zero' },
    run: (ctx) => ctx.try.fallocate(filled(ctx, 0, 2), PUNCH, 0, ps),
  }),
  clause({
    id: 'seal.write.fallocate-grow-ok',
    quote: seals('DESCRIPTION', SEALS.write),
    note: 'mfd_assert_grow under F_SEAL_WRITE: "growing the size of the file is still possible and allowed"; fallocate (mode 0) of four pages grows it and allocates them (st_blocks).',
    mirrors: T_WRITE,
    since: '3.17',
    expect: { ret: 0, size: 4 * ps, allocated: true },
    run: (ctx) => {
      const fd = sealed(ctx, WRITE)
      return { ...ctx.try.fallocate(fd, 0, 0, 4 * ps), allocated: ctx.file.allocated(fd) >= 4 * ps }
    },
  }),
  clause({
    id: 'seal.write.ftruncate-shrink-ok',
    quote: [seals('DESCRIPTION', SEALS.write), man('truncate', 'DESCRIPTION', TRUNCATE.truncates)],
    note: 'mfd_assert_shrink under F_SEAL_WRITE: ftruncate from two pages to one.',
    mirrors: T_WRITE,
    since: '3.17',
    expect: { ret: 0, size: ps },
    run: (ctx) => ctx.try.ftruncate(sealed(ctx, WRITE, 2), ps),
  }),
  clause({
    id: 'seal.write.open-otrunc-ok',
    quote: [seals('DESCRIPTION', SEALS.write), man('open', 'DESCRIPTION', OPEN_TRUNC)],
    note: 'mfd_assert_shrink under F_SEAL_WRITE: open(O_TRUNC) of /proc/self/fd/N truncates to 0.',
    mirrors: T_WRITE,
    since: '3.17',
    expect: { ret: 0, size: 0 },
    run: (ctx) => ctx.try.openTrunc(sealed(ctx, WRITE, 2), C.O_RDWR),
  }),
  clause({
    id: 'seal.write.ftruncate-grow-ok',
    quote: [seals('DESCRIPTION', SEALS.write), man('truncate', 'DESCRIPTION', `${TRUNCATE.truncates} … ${TRUNCATE.extends}`)],
    note: 'mfd_assert_grow under F_SEAL_WRITE: ftruncate from two pages to eight.',
    mirrors: T_WRITE,
    since: '3.17',
    expect: { ret: 0, size: 8 * ps },
    run: (ctx) => ctx.try.ftruncate(sealed(ctx, WRITE, 2), 8 * ps),
  }),
]

/** A memfd of one page with a PROT_READ|PROT_WRITE MAP_SHARED mapping of it (verified). */
function mappedShared(ctx: Ctx): { fd: number; region: ReturnType<Ctx['mem']['map']> } {
  const fd = sealed(ctx, 0)
  return { fd, region: ctx.mem.map(ps, RW, C.MAP_SHARED, fd) }
}

/** F_ADD_SEALS(F_SEAL_WRITE) and the mappings or pins that block it. */
const busy: Clause[] = [
  clause({
    id: 'seal.write.add-no-mappings-ok',
    catalog: 'seal.write.add-no-mappings',
    quote: seals('DESCRIPTION', SEALS.ebusy),
    note: 'No mapping exists: the seal is added.',
    mirrors: T_WRITE,
    since: '3.17',
    expect: (k) => ({ ret: 0, seals: base(k, WRITE) }),
    run: (ctx) => ctx.try.addSeals(sealed(ctx, 0), WRITE),
  }),
  clause({
    id: 'seal.write.ebusy-with-rw-shared-mapping',
    quote: [seals('DESCRIPTION', SEALS.ebusy), seals('ERRORS', SEALS.eBusy)],
    note: 'test_share_mmap: a PROT_READ|PROT_WRITE MAP_SHARED mapping exists: refused, nothing added.',
    mirrors: ['memfd_test.c test_share_mmap', 'LTP memfd_create01 test_share_mmap'],
    since: '3.17',
    expect: (k) => ({ errno: 'EBUSY', seals: base(k) }),
    run: (ctx) => ctx.try.addSeals(mappedShared(ctx).fd, WRITE),
  }),
  clause({
    id: 'seal.write.ok-after-munmap',
    catalog: 'seal.write.ebusy-with-rw-shared-mapping (control)',
    quote: seals('DESCRIPTION', SEALS.ebusy),
    note: 'Control for seal.write.ebusy-with-rw-shared-mapping: the same mapping, unmapped first ("Such mappings must be unmapped before you can add this seal").',
    since: '3.17',
    expect: (k) => ({ ret: 0, seals: base(k, WRITE) }),
    run: (ctx) => {
      const { fd, region } = mappedShared(ctx)
      ctx.forget(region)
      ctx.mem.unmap(region, 0, ps)
      return ctx.try.addSeals(fd, WRITE)
    },
  }),
  clause({
    id: 'seal.write.ebusy-is-all-or-nothing',
    catalog: 'seal.write.ebusy-is-all-or-nothing; seal.write.ebusy-leaves-seals-unchanged',
    quote: [seals('ERRORS', SEALS.eBusy), seals('DESCRIPTION', SEALS.add)],
    note: 'F_SEAL_WRITE | F_SEAL_SHRINK while a writable shared mapping exists: the call fails with EBUSY, and a failed call adds nothing ("Once this call succeeds, the seals are enforced"), so F_SEAL_SHRINK is not added either.',
    since: '3.17',
    expect: (k) => ({ errno: 'EBUSY', seals: base(k) }),
    run: (ctx) => ctx.try.addSeals(mappedShared(ctx).fd, WRITE | SHRINK),
  }),
  clause({
    id: 'seal.write.other-seals-with-rw-shared-mapping-ok',
    quote: seals('DESCRIPTION', SEALS.ebusy),
    note: 'test_share_mmap: "shared/writable ref prevents sealing WRITE, but allows others": F_SEAL_SHRINK alone is added while the writable shared mapping exists.',
    mirrors: ['memfd_test.c test_share_mmap', 'LTP memfd_create01 test_share_mmap'],
    since: '3.17',
    expect: (k) => ({ ret: 0, seals: base(k, SHRINK) }),
    run: (ctx) => ctx.try.addSeals(mappedShared(ctx).fd, SHRINK),
  }),
  clause({
    id: 'seal.write.ro-shared-mapping-of-rdwr-fd-ok',
    catalog: 'seal.write.ebusy-with-ro-shared-mapping-of-rdwr-fd',
    quote: [seals('DESCRIPTION', SEALS.ebusy), seals('ERRORS', SEALS.eBusy)],
    note: 'The only mapping is PROT_READ, MAP_SHARED, made through the O_RDWR memfd: it is not a writable mapping, so the documents allow the seal.',
    since: '3.17',
    expect: (k) => ({ ret: 0, seals: base(k, WRITE) }),
    divergence: {
      doc: 'F_ADD_SEALS(2const) ERRORS: "EBUSY op is F_ADD_SEALS, arg includes F_SEAL_WRITE, and there exists a writable, shared mapping on the file referred to by fd."',
      kernel:
        "A PROT_READ MAP_SHARED mapping of an fd open for writing keeps VM_SHARED and VM_MAYWRITE (it could be mprotect'ed writable), and mm/memfd.c memfd_add_seals() → mapping_deny_writable() counts every such mapping (VM_SHARED before 6.7, is_shared_maywrite() since), so F_SEAL_WRITE fails with EBUSY.",
    },
    history: atEveryLevel({
      range: '*',
      observed: { errno: 'EBUSY', seals: 0 },
      behaviour: 'A read-only shared mapping made through a writable fd counts as writable and blocks F_SEAL_WRITE.',
      ref: 'mm/memfd.c memfd_add_seals() → mapping_deny_writable(); mm/mmap.c counts VM_SHARED mappings in i_mmap_writable (is_shared_maywrite() since 6.7)',
    }),
    run: (ctx) => {
      const fd = sealed(ctx, 0)
      ctx.mem.map(ps, C.PROT_READ, C.MAP_SHARED, fd)
      return ctx.try.addSeals(fd, WRITE)
    },
  }),
  clause({
    id: 'seal.write.ok-with-ro-shared-mapping-of-rdonly-fd',
    quote: seals('DESCRIPTION', SEALS.ebusy),
    note: 'The only mapping is PROT_READ, MAP_SHARED, made through an O_RDONLY reopen of the memfd: it can never become writable, and the seal is added.',
    since: '3.17',
    expect: (k) => ({ ret: 0, seals: base(k, WRITE) }),
    run: (ctx) => {
      const fd = sealed(ctx, 0)
      ctx.mem.map(ps, C.PROT_READ, C.MAP_SHARED, ctx.file.reopen(fd, 'r'))
      return ctx.try.addSeals(fd, WRITE)
    },
  }),
  clause({
    id: 'seal.write.ok-with-private-mapping',
    quote: seals('DESCRIPTION', SEALS.ebusy),
    note: 'test_share_mmap ("readable ref allows sealing"): the only mapping is PROT_READ|PROT_WRITE, MAP_PRIVATE, and has been written (a private copy): it is not shared, and the seal is added.',
    mirrors: ['memfd_test.c test_share_mmap', 'LTP memfd_create01 test_share_mmap'],
    since: '3.17',
    expect: (k) => ({ ret: 0, seals: base(k, WRITE) }),
    run: (ctx) => {
      const fd = sealed(ctx, 0)
      ctx.mem.poke(ctx.mem.map(ps, RW, C.MAP_PRIVATE, fd), 0, Buffer.from([0x41]))
      return ctx.try.addSeals(fd, WRITE)
    },
  }),
  clause({
    id: 'seal.write.with-pinned-pages-ok',
    catalog: 'seal.write.ebusy-gup-longterm-pin',
    quote: [seals('DESCRIPTION', SEALS.ebusy), seals('DESCRIPTION', SEALS.aio)],
    note: 'No mapping is left, but the pages of an unmapped shared mapping are still pinned as an io_uring fixed buffer (pending I/O on the file). The documents ask no more than "no writable, shared mapping", and say outstanding writes "will be discarded": the seal is added.',
    since: '3.17',
    needs: ['ioUring'],
    expect: (k) => ({ ret: 0, seals: base(k, WRITE) }),
    divergence: {
      doc: 'F_ADD_SEALS(2const): "Furthermore, if there are any asynchronous I/O operations (io_submit(2)) pending on the file, all outstanding writes will be discarded."',
      kernel:
        'mm/memfd.c memfd_wait_for_pins() waits about 150 ms for extra page references (GUP pins such as io_uring registered buffers, or I/O in flight) to go away and then fails F_ADD_SEALS(F_SEAL_WRITE) with EBUSY; nothing is discarded and the seal is not added.',
    },
    history: atEveryLevel({
      range: '*',
      observed: { errno: 'EBUSY', seals: 0 },
      behaviour: 'F_SEAL_WRITE fails with EBUSY while any page of the file is pinned, after a wait of about 150 ms.',
      ref: 'mm/memfd.c memfd_wait_for_pins() (shmem_wait_for_pins in mm/shmem.c before 5.1); tools/testing/selftests/memfd/fuse_test.c',
    }),
    run: (ctx) => {
      const { fd, region } = mappedShared(ctx)
      ctx.mem.pin(region, 0, ps)
      ctx.forget(region)
      ctx.mem.unmap(region, 0, ps)
      return ctx.try.addSeals(fd, WRITE)
    },
  }),
  clause({
    id: 'seal.write.ok-after-unpin',
    catalog: 'seal.write.ebusy-gup-longterm-pin (control)',
    quote: seals('DESCRIPTION', SEALS.ebusy),
    note: 'Control for seal.write.with-pinned-pages-ok: the io_uring fixed buffer is unregistered after the munmap; no mapping and no pin remain.',
    since: '3.17',
    needs: ['ioUring'],
    expect: (k) => ({ ret: 0, seals: base(k, WRITE) }),
    run: (ctx) => {
      const { fd, region } = mappedShared(ctx)
      const ring = ctx.mem.pin(region, 0, ps)
      ctx.forget(region)
      ctx.mem.unmap(region, 0, ps)
      ctx.mem.unpin(ring)
      return ctx.try.addSeals(fd, WRITE)
    },
  }),
]

/** F_SEAL_FUTURE_WRITE: writes refused, existing writable shared mappings allowed (mappings: mmap.future-write.*). */
const futureWrite: Clause[] = [
  clause({
    id: 'seal.future-write.add-with-rw-mapping-ok',
    quote: seals('DESCRIPTION', SEALS.futureWrite),
    note: 'test_seal_future_write: F_SEAL_FUTURE_WRITE is added while a PROT_READ|PROT_WRITE MAP_SHARED mapping exists.',
    mirrors: T_FUTURE,
    since: '5.1',
    needs: ['futureWrite'],
    expect: (k) => ({ ret: 0, seals: base(k, FUTURE_WRITE) }),
    run: (ctx) => ctx.try.addSeals(mappedShared(ctx).fd, FUTURE_WRITE),
  }),
  clause({
    id: 'seal.future-write.write-eperm',
    quote: [seals('DESCRIPTION', SEALS.futureWrite), man('write', 'ERRORS', EPERM_SEAL)],
    note: 'mfd_fail_write: write(2) of one byte under F_SEAL_FUTURE_WRITE: refused, nothing written.',
    mirrors: T_FUTURE,
    since: '5.1',
    needs: ['futureWrite'],
    expect: { errno: 'EPERM', size: ps, changed: 0 },
    run: (ctx) => ctx.try.write(sealed(ctx, FUTURE_WRITE), 1),
  }),
  clause({
    id: 'seal.future-write.pwrite-eperm',
    catalog: 'seal.future-write.write-eperm',
    quote: [seals('DESCRIPTION', SEALS.futureWrite), man('write', 'ERRORS', EPERM_SEAL)],
    note: 'pwrite(2) of one byte at 0 under F_SEAL_FUTURE_WRITE: refused, nothing written.',
    mirrors: T_FUTURE,
    since: '5.1',
    needs: ['futureWrite'],
    expect: { errno: 'EPERM', size: ps, changed: 0 },
    run: (ctx) => ctx.try.write(sealed(ctx, FUTURE_WRITE), 1, 0),
  }),
  clause({
    id: 'seal.future-write.reopened-fd-write-eperm',
    quote: [seals('DESCRIPTION', SEALS.futureWrite), seals('DESCRIPTION', SEALS.inode)],
    note: 'test_seal_future_write: writes through a new O_RDWR open of /proc/self/fd/N are refused as well.',
    mirrors: T_FUTURE,
    since: '5.1',
    needs: ['futureWrite'],
    expect: { errno: 'EPERM', size: ps, changed: 0 },
    run: (ctx) => ctx.try.write(ctx.file.reopen(sealed(ctx, FUTURE_WRITE), 'r+'), 1, 0),
  }),
  clause({
    id: 'seal.future-write.punch-hole-eperm',
    quote: [seals('DESCRIPTION', SEALS.futureWrite), seals('DESCRIPTION', SEALS.write)],
    note: 'mfd_fail_write under F_SEAL_FUTURE_WRITE: a hole punch in data pages. The seal\'s effect "is similar to F_SEAL_WRITE", which "affects write(2) and fallocate(2) (only in combination with the FALLOC_FL_PUNCH_HOLE flag)": refused, the data is kept.',
    mirrors: T_FUTURE,
    since: '5.1',
    needs: ['futureWrite'],
    expect: { errno: 'EPERM', size: 2 * ps, data: 'kept' },
    run: (ctx) => ctx.try.fallocate(filled(ctx, FUTURE_WRITE, 2), PUNCH, 0, ps),
  }),
  clause({
    id: 'seal.future-write.then-write-ebusy',
    quote: [seals('DESCRIPTION', SEALS.ebusy), seals('ERRORS', SEALS.eBusy)],
    note: 'F_SEAL_FUTURE_WRITE was added while a writable shared mapping existed; that mapping still blocks F_SEAL_WRITE, which is not added.',
    since: '5.1',
    needs: ['futureWrite'],
    expect: (k) => ({ errno: 'EBUSY', seals: base(k, FUTURE_WRITE) }),
    run: (ctx) => {
      const { fd } = mappedShared(ctx)
      ctx.file.addSeals(fd, FUTURE_WRITE)
      return ctx.try.addSeals(fd, WRITE)
    },
  }),
]

export const writeClauses: Clause[] = [...writes, ...busy, ...futureWrite]
