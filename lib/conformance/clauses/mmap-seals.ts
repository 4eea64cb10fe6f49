/**
 * How the write seals meet mmap(2) and mprotect(2), on shmem and on hugetlbfs memfds (catalog §5.3, §5.4,
 * §6; memfd_test.c test_seal_write, test_seal_future_write, test_seal_write_map_read_shared and their
 * hugetlbfs runs): new shared and private mappings of a sealed memfd, later protection changes, and what
 * stores through existing mappings do. One table row per case, run on both filesystems; every mapping is
 * observed with the permissions /proc/self/smaps shows, every protection change by its effect, and every
 * "refused" row has its unsealed control beside it.
 */
import { C } from '../abi'
import type { Ctx } from '../ctx'
import type { Clause, KnownBehaviour, Need, Observation, Quote } from '../types'
import { CLEARS_MAYWRITE, MEMFD_C, Q } from './mmap-docs'
import { hugeCowHistory, hugeFutureWriteHistory, roSharedHistory, shmemPrivateHistory } from './mmap-history'

type Fs = 'shmem' | 'hugetlbfs'
type Seal = 'seal-write' | 'future-write' | 'unsealed'

const { PROT_READ: R, PROT_WRITE: W, PROT_EXEC: X, MAP_SHARED: SHARED, MAP_PRIVATE: PRIVATE } = C
// ── the memfd and the cases ───────────────────────────────────────────────────────────────────────

interface File {
  fd: number
  fs: Fs
  /** One page, or one huge page on hugetlbfs. */
  length: number
}

/** A sealable memfd one (huge) page long, holding zeros; `seal` added (verified) unless the row does it itself. */
function file(ctx: Ctx, fs: Fs, bits: number): File {
  const huge = fs === 'hugetlbfs'
  const fd = ctx.file.memfd(C.MFD_ALLOW_SEALING | (huge ? C.MFD_HUGETLB : 0), 'memseal-map')
  const length = huge ? ctx.file.blksize(fd) : ctx.ps
  ctx.file.resize(fd, length)
  if (bits !== 0) ctx.file.addSeals(fd, bits)
  return { fd, fs, length }
}

/** Mapping flags: on hugetlbfs a mapping that is never touched is MAP_NORESERVE (no free huge pages needed). */
function flags(f: File, shared: boolean, touched = false): number {
  return (shared ? SHARED : PRIVATE) | (f.fs === 'hugetlbfs' && !touched ? C.MAP_NORESERVE : 0)
}

const mapShared =
  (prot: number) =>
  (ctx: Ctx, f: File): Observation =>
    ctx.try.mmap(f.length, prot, flags(f, true), f.fd, 0).obs

/** A read-only shared mapping (verified r--s), then mprotect to `prot`: { ret | errno, perms }. */
const protectShared =
  (prot: number) =>
  (ctx: Ctx, f: File): Observation =>
    ctx.try.mprotect(ctx.mem.map(f.length, R, flags(f, true), f.fd, 0), 0, f.length, prot)

/** The may-read, may-share and may-write VmFlags of a read-only shared mapping (/proc/self/smaps). */
function mayFlags(ctx: Ctx, f: File): Observation {
  const vma = ctx.mem.vma(ctx.mem.map(f.length, R, flags(f, true), f.fd, 0), 0)
  ctx.verify(vma !== null, () => 'the read-only shared mapping is missing from /proc/self/smaps')
  return { mr: vma!.flags.includes('mr'), ms: vma!.flags.includes('ms'), mw: vma!.flags.includes('mw') }
}

/** A store into a private writable mapping (verified), then what the mapping and the file hold. */
const privateStore =
  (value: number) =>
  (ctx: Ctx, f: File): Observation => {
    const r = ctx.mem.map(f.length, R | W, flags(f, false, true), f.fd, 0)
    ctx.mem.poke(r, 0, Buffer.from([value]))
    return { mapping: ctx.mem.byteAt(r, 0), file: ctx.file.byteAt(f.fd, 0) }
  }

interface Row {
  seal: Seal
  slug: string
  catalog?: string
  quote: Quote[]
  note: string
  basis?: 'code'
  /** The release that brought the behaviour on shmem (hugetlbfs: never before 4.16, its sealing). */
  since: string
  needs?: Need[]
  /** Stores into the mapping: on hugetlbfs it needs free huge pages. */
  touches?: boolean
  mirrors: string[]
  expect: Observation
  history?: (fs: Fs) => KnownBehaviour[]
  divergence?: Clause['divergence']
  run: (ctx: Ctx, f: File) => Observation
}

const WRITE_NOTE = 'A one-page F_SEAL_WRITE memfd (one huge page on hugetlbfs), sealed and verified; '
const FUTURE_NOTE = 'A one-page F_SEAL_FUTURE_WRITE memfd (one huge page on hugetlbfs), sealed and verified; '
const CONTROL_NOTE = 'Control: the same memfd, never sealed; '

const ROWS: Row[] = [
  // ── F_SEAL_WRITE (§5.3) ─────────────────────────────────────────────────────────────────────────
  {
    seal: 'seal-write',
    slug: 'mmap-shared-rw-eperm',
    catalog: 'seal.write.mmap-shared-rw-eperm',
    quote: [Q.writeMmap, Q.mmapEperm],
    note: `${WRITE_NOTE}a new PROT_READ | PROT_WRITE, MAP_SHARED mapping fails with EPERM.`,
    since: '3.17',
    mirrors: ['memfd_test.c test_seal_write (mfd_fail_write)', 'LTP memfd_create01 "Write seal" (CHECK_MFD_NON_WRITEABLE)'],
    expect: { errno: 'EPERM' },
    run: mapShared(R | W),
  },
  {
    seal: 'unsealed',
    slug: 'mmap-shared-rw-ok',
    catalog: 'seal.write.mmap-shared-rw-eperm (control)',
    quote: [Q.shared],
    note: `${CONTROL_NOTE}the PROT_READ | PROT_WRITE, MAP_SHARED mapping is made (rw-s).`,
    since: '3.17',
    mirrors: ['memfd_test.c mfd_assert_write', 'LTP memfd_create01 "Shrink seal" (CHECK_MFD_WRITEABLE)'],
    expect: { ret: 0, perms: 'rw-s' },
    run: mapShared(R | W),
  },
  {
    seal: 'seal-write',
    slug: 'mmap-shared-wo-eperm',
    catalog: 'seal.write.mmap-shared-wo-eperm',
    quote: [Q.writeMmap, Q.mmapEperm],
    note: `${WRITE_NOTE}a new PROT_WRITE, MAP_SHARED mapping fails with EPERM.`,
    since: '3.17',
    mirrors: ['memfd_test.c test_seal_write (mfd_fail_write)', 'LTP memfd_create01 "Write seal" (CHECK_MFD_NON_WRITEABLE)'],
    expect: { errno: 'EPERM' },
    run: mapShared(W),
  },
  {
    seal: 'unsealed',
    slug: 'mmap-shared-wo-ok',
    quote: [Q.shared],
    note: `${CONTROL_NOTE}the PROT_WRITE, MAP_SHARED mapping is made (-w-s).`,
    since: '3.17',
    mirrors: ['memfd_test.c mfd_assert_write'],
    expect: { ret: 0, perms: '-w-s' },
    run: mapShared(W),
  },
  {
    seal: 'seal-write',
    slug: 'mmap-shared-ro-ok',
    catalog: 'seal.write.mmap-shared-ro-ok',
    quote: [Q.writeMmap],
    note: `${WRITE_NOTE}only shared writable mappings are refused, so a PROT_READ, MAP_SHARED mapping through the O_RDWR memfd is made (r--s). This row is the presence check of that 6.7 behaviour, with its history.`,
    since: '6.7',
    mirrors: ['memfd_test.c test_seal_write_map_read_shared'],
    expect: { ret: 0, perms: 'r--s' },
    history: (fs) => roSharedHistory(fs === 'hugetlbfs' ? '4.16' : '3.17'),
    run: mapShared(R),
  },
  {
    seal: 'seal-write',
    slug: 'mprotect-ro-shared-to-rw-eacces',
    catalog: 'seal.write.mprotect-ro-shared-to-rw-eacces',
    quote: [Q.writeMmap, Q.mprotectEacces],
    note: `${WRITE_NOTE}a read-only shared mapping of it (verified r--s) cannot become writable, or the contents could be modified: mprotect(PROT_READ | PROT_WRITE) fails with EACCES, mprotect(2)'s errno for access a mapping cannot be given, and the mapping stays r--s.`,
    since: '6.7',
    needs: ['roSharedAfterWriteSeal'],
    mirrors: [
      'memfd_test.c test_seal_write (mfd_fail_write)',
      'memfd_test.c test_seal_write_map_read_shared',
      'LTP memfd_create01 "Write seal" (CHECK_MFD_NON_WRITEABLE)',
    ],
    expect: { errno: 'EACCES', perms: 'r--s' },
    run: protectShared(R | W),
  },
  {
    seal: 'unsealed',
    slug: 'mprotect-ro-shared-to-rw-ok',
    catalog: 'seal.write.mprotect-ro-shared-to-rw-eacces (control)',
    quote: [Q.mprotect],
    note: `${CONTROL_NOTE}its read-only shared mapping (fd open for writing) becomes PROT_READ | PROT_WRITE (rw-s).`,
    since: '3.17',
    mirrors: ['memfd_test.c mfd_assert_write'],
    expect: { ret: 0, perms: 'rw-s' },
    run: protectShared(R | W),
  },
  {
    seal: 'seal-write',
    slug: 'mprotect-ro-shared-to-rx-ok',
    catalog: 'seal.write.mprotect-ro-shared-to-rx-ok',
    quote: [Q.writeMmap, Q.mprotect],
    note: `${WRITE_NOTE}F_SEAL_WRITE says nothing of execution: its read-only shared mapping becomes PROT_READ | PROT_EXEC (r-xs).`,
    since: '6.7',
    needs: ['roSharedAfterWriteSeal'],
    mirrors: [],
    expect: { ret: 0, perms: 'r-xs' },
    run: protectShared(R | X),
  },
  {
    seal: 'seal-write',
    slug: 'ro-shared-mapping-lacks-mw',
    catalog: 'seal.write.ro-shared-mapping-lacks-mw',
    basis: 'code',
    quote: [CLEARS_MAYWRITE],
    note: `No document says how the refusal of mprotect-ro-shared-to-rw-eacces is kept; the code clears VM_MAYWRITE on the read-only shared mapping, which /proc/self/smaps VmFlags shows: mr (may read) and ms (may share) stay, mw (may write) is gone. ${WRITE_NOTE}`,
    since: '6.7',
    needs: ['roSharedAfterWriteSeal'],
    mirrors: [],
    expect: { mr: true, ms: true, mw: false },
    run: mayFlags,
  },
  {
    seal: 'unsealed',
    slug: 'ro-shared-mapping-has-mw',
    basis: 'code',
    quote: [CLEARS_MAYWRITE],
    note: `${CONTROL_NOTE}its read-only shared mapping through the O_RDWR fd keeps mw (it may become writable).`,
    since: '3.17',
    mirrors: [],
    expect: { mr: true, ms: true, mw: true },
    run: mayFlags,
  },
  {
    seal: 'seal-write',
    slug: 'mmap-shared-ro-via-rdonly-fd-ok',
    catalog: 'seal.write.mmap-shared-ro-via-rdonly-fd-ok',
    quote: [Q.writeMmap],
    note: `${WRITE_NOTE}opened again O_RDONLY through /proc/self/fd, it maps PROT_READ, MAP_SHARED (r--s): through that fd the mapping can never become writable, on every version.`,
    since: '3.17',
    mirrors: [],
    expect: { ret: 0, perms: 'r--s' },
    run: (ctx, f) => ctx.try.mmap(f.length, R, flags(f, true), ctx.file.reopen(f.fd, 'r'), 0).obs,
  },
  {
    seal: 'seal-write',
    slug: 'mmap-private-rw-ok',
    catalog: 'seal.write.mmap-private-rw-ok',
    quote: [Q.writeMmap, Q.private],
    note: `${WRITE_NOTE}only shared mappings are named: a PROT_READ | PROT_WRITE, MAP_PRIVATE mapping is made (rw-p; memfd_test.c: "MAP_PRIVATE is *always* allowed (even writable)").`,
    since: '3.17',
    mirrors: ['memfd_test.c test_seal_write (mfd_assert_read)'],
    expect: { ret: 0, perms: 'rw-p' },
    run: (ctx, f) => ctx.try.mmap(f.length, R | W, flags(f, false), f.fd, 0).obs,
  },
  {
    seal: 'seal-write',
    slug: 'private-cow-not-visible',
    catalog: 'seal.write.private-cow-not-visible',
    quote: [Q.private],
    note: `${WRITE_NOTE}a store of 0x41 into a private writable mapping of it lands in the mapping (verified) and not in the file (pread).`,
    since: '3.17',
    touches: true,
    mirrors: [],
    expect: { mapping: 0x41, file: 0 },
    run: privateStore(0x41),
  },
  // ── F_SEAL_FUTURE_WRITE (§5.4) ──────────────────────────────────────────────────────────────────
  {
    seal: 'future-write',
    slug: 'existing-mapping-still-writes',
    catalog: 'seal.future-write.existing-mapping-still-writes',
    quote: [Q.futureWrite, Q.futureUse],
    note: 'A PROT_READ | PROT_WRITE, MAP_SHARED mapping of a one-page memfd (one huge page on hugetlbfs) is made, then F_SEAL_FUTURE_WRITE added (verified); a forked child stores 0x5a through the old mapping, and pread sees it in the file.',
    since: '5.1',
    needs: ['futureWrite'],
    touches: true,
    mirrors: ['memfd_test.c test_seal_future_write (mfd_assert_mmap_shared before the seal)'],
    expect: { store: 'ok', file: 0x5a },
    run: (ctx, f) => {
      const r = ctx.mem.map(f.length, R | W, flags(f, true, true), f.fd, 0)
      ctx.file.addSeals(f.fd, C.F_SEAL_FUTURE_WRITE)
      return { store: ctx.mem.access(r, 0, 'write', 0x5a), file: ctx.file.byteAt(f.fd, 0) }
    },
  },
  {
    seal: 'future-write',
    slug: 'new-rw-shared-eperm',
    catalog: 'seal.future-write.new-rw-shared-eperm',
    quote: [Q.futureWrite, Q.mmapEperm],
    note: `${FUTURE_NOTE}a new PROT_READ | PROT_WRITE, MAP_SHARED mapping fails with EPERM.`,
    since: '5.1',
    needs: ['futureWrite'],
    mirrors: ['memfd_test.c test_seal_future_write (mfd_fail_write)'],
    expect: { errno: 'EPERM' },
    history: (fs) => (fs === 'hugetlbfs' ? hugeFutureWriteHistory({ ret: 0, perms: 'rw-s' }) : []),
    run: mapShared(R | W),
  },
  {
    seal: 'future-write',
    slug: 'new-wo-shared-eperm',
    catalog: 'seal.future-write.new-rw-shared-eperm (PROT_WRITE only)',
    quote: [Q.futureWrite, Q.mmapEperm],
    note: `${FUTURE_NOTE}a new PROT_WRITE, MAP_SHARED mapping fails with EPERM.`,
    since: '5.1',
    needs: ['futureWrite'],
    mirrors: ['memfd_test.c test_seal_future_write (mfd_fail_write)'],
    expect: { errno: 'EPERM' },
    history: (fs) => (fs === 'hugetlbfs' ? hugeFutureWriteHistory({ ret: 0, perms: '-w-s' }) : []),
    run: mapShared(W),
  },
  {
    seal: 'future-write',
    slug: 'reopened-fd-rw-shared-eperm',
    catalog: 'seal.future-write.reopened-fd-rw-shared-eperm',
    quote: [Q.futureWrite, Q.mmapEperm],
    note: `${FUTURE_NOTE}opened again O_RDWR through /proc/self/fd (seals belong to the inode), a new PROT_READ | PROT_WRITE, MAP_SHARED mapping through the new fd fails with EPERM.`,
    since: '5.1',
    needs: ['futureWrite'],
    mirrors: ['memfd_test.c test_seal_future_write (mfd_assert_reopen_fd, mfd_fail_write)'],
    expect: { errno: 'EPERM' },
    history: (fs) => (fs === 'hugetlbfs' ? hugeFutureWriteHistory({ ret: 0, perms: 'rw-s' }) : []),
    run: (ctx, f) => ctx.try.mmap(f.length, R | W, flags(f, true), ctx.file.reopen(f.fd, 'r+'), 0).obs,
  },
  {
    seal: 'future-write',
    slug: 'new-ro-shared-ok',
    catalog: 'seal.future-write.new-ro-shared-ok',
    quote: [Q.futureWrite, Q.futureUse],
    note: `${FUTURE_NOTE}the "read-only" sharing the page describes: a PROT_READ, MAP_SHARED mapping is made (r--s).`,
    since: '5.1',
    needs: ['futureWrite'],
    mirrors: ['memfd_test.c test_seal_future_write (mfd_assert_read_shared)'],
    expect: { ret: 0, perms: 'r--s' },
    run: mapShared(R),
  },
  {
    seal: 'future-write',
    slug: 'mprotect-to-rw-eacces',
    catalog: 'seal.future-write.mprotect-to-rw-eacces',
    quote: [Q.futureWrite, Q.mprotectEacces],
    note: `${FUTURE_NOTE}a new read-only shared mapping (verified r--s) becoming writable would be a new writable mapping: mprotect(PROT_READ | PROT_WRITE) fails with EACCES and the mapping stays r--s.`,
    since: '5.1',
    needs: ['futureWrite'],
    mirrors: ['memfd_test.c test_seal_future_write (mfd_fail_write)'],
    expect: { errno: 'EACCES', perms: 'r--s' },
    history: (fs) => (fs === 'hugetlbfs' ? hugeFutureWriteHistory({ ret: 0, perms: 'rw-s' }) : []),
    run: protectShared(R | W),
  },
  {
    seal: 'future-write',
    slug: 'ro-shared-mapping-lacks-mw',
    basis: 'code',
    quote: [MEMFD_C('static int check_write_seal(vm_flags_t *vm_flags_ptr) … *vm_flags_ptr &= ~VM_MAYWRITE;')],
    note: `No document says how mprotect-to-rw-eacces is kept; the code clears VM_MAYWRITE on new read-only shared mappings of write-sealed memfds (F_SEAL_FUTURE_WRITE since 5.1): VmFlags keeps mr and ms, loses mw. ${FUTURE_NOTE}`,
    since: '5.1',
    needs: ['futureWrite'],
    mirrors: [],
    expect: { mr: true, ms: true, mw: false },
    history: (fs) => (fs === 'hugetlbfs' ? hugeFutureWriteHistory({ mr: true, ms: true, mw: true }) : []),
    run: mayFlags,
  },
  {
    seal: 'future-write',
    slug: 'mmap-private-rw-eperm',
    catalog: 'seal.future-write.private-rw-ok',
    quote: [Q.futureWrite],
    note: `${FUTURE_NOTE}the page's "Any attempt to create a new writable mapping" names no kind of mapping, so a PROT_READ | PROT_WRITE, MAP_PRIVATE one is refused too (EPERM). The kernel refuses only shared ones, as for F_SEAL_WRITE, whose text names them ("new shared, writable memory-mappings").`,
    since: '5.1',
    needs: ['futureWrite'],
    mirrors: ['memfd_test.c test_seal_future_write (mfd_assert_read: "MAP_PRIVATE is *always* allowed (even writable)")'],
    expect: { errno: 'EPERM' },
    history: () => [
      {
        range: '>=5.1',
        observed: { ret: 0, perms: 'rw-p' },
        behaviour:
          'A new private writable mapping of a F_SEAL_FUTURE_WRITE memfd is made: the seal refuses only shared writable ones (the private mapping never writes the file).',
        ref: 'mm/memfd.c check_write_seal() "If a private mapping then writability is irrelevant." (5.1 shmem_mmap(); memfd_check_seals_mmap() since 6.14); memfd_test.c mfd_assert_read',
      },
    ],
    divergence: {
      doc: `F_ADD_SEALS(2const) (man-pages 6.20), F_SEAL_FUTURE_WRITE: "Any attempt to create a new writable mapping on the file via mmap(2) will fail with EPERM."`,
      kernel:
        'Only new shared writable mappings are refused (mm/memfd.c check_write_seal(): "If a private mapping then writability is irrelevant."): a PROT_READ | PROT_WRITE, MAP_PRIVATE mapping is made, as for F_SEAL_WRITE; its stores never reach the file (private-cow).',
    },
    run: (ctx, f) => ctx.try.mmap(f.length, R | W, flags(f, false), f.fd, 0).obs,
  },
  {
    seal: 'future-write',
    slug: 'private-cow',
    catalog: 'seal.future-write.private-cow',
    quote: [Q.private],
    note: `${FUTURE_NOTE}a store of 0x42 into a private writable mapping of it lands in the mapping (verified) and not in the file (pread).`,
    since: '5.1',
    needs: ['futureWrite'],
    touches: true,
    mirrors: [],
    expect: { mapping: 0x42, file: 0 },
    run: privateStore(0x42),
  },
  {
    seal: 'future-write',
    slug: 'private-mprotect-ok',
    catalog: 'seal.future-write.private-mprotect-ok',
    quote: [Q.mprotect, Q.futureWrite],
    note: `${FUTURE_NOTE}a private writable mapping of it, made read-only (verified r--p), becomes PROT_READ | PROT_WRITE again (rw-p): F_SEAL_FUTURE_WRITE governs new mappings and write(2), not a private mapping's protection.`,
    since: '5.5',
    needs: ['futureWrite'],
    mirrors: [],
    expect: { ret: 0, perms: 'rw-p' },
    history: (fs) => (fs === 'shmem' ? shmemPrivateHistory({ errno: 'EACCES', perms: 'r--p' }) : []),
    run: (ctx, f) => {
      const r = ctx.mem.map(f.length, R | W, flags(f, false), f.fd, 0)
      ctx.mem.protect(r, 0, f.length, R)
      return ctx.try.mprotect(r, 0, f.length, R | W)
    },
  },
  {
    seal: 'future-write',
    slug: 'private-cow-across-fork',
    catalog: 'seal.future-write.private-cow',
    quote: [Q.fork, Q.private],
    note: `${FUTURE_NOTE}the parent stores 0x16 into a private writable mapping of it (verified), a forked child stores 0x21 into the same address: the parent still reads 0x16, and the file holds 0.`,
    since: '5.5',
    needs: ['futureWrite'],
    touches: true,
    mirrors: ['memfd_test.c test_seal_future_write (mfd_assert_fork_private_write)'],
    expect: { store: 'ok', parent: 0x16, file: 0 },
    history: (fs) => (fs === 'shmem' ? shmemPrivateHistory({ store: 'ok', parent: 0x21, file: 0 }) : hugeCowHistory),
    run: (ctx, f) => {
      const r = ctx.mem.map(f.length, R | W, flags(f, false, true), f.fd, 0)
      ctx.mem.poke(r, 0, Buffer.from([0x16]))
      const store = ctx.mem.access(r, 0, 'write', 0x21)
      return { store, parent: ctx.mem.byteAt(r, 0), file: ctx.file.byteAt(f.fd, 0) }
    },
  },
]

const SEAL_BITS: Record<Seal, number> = { 'seal-write': C.F_SEAL_WRITE, 'future-write': C.F_SEAL_FUTURE_WRITE, unsealed: 0 }

function rowClause(row: Row, fs: Fs): Clause {
  const huge = fs === 'hugetlbfs'
  const needs: Need[] = [...(row.needs ?? []), ...(row.seal === 'seal-write' ? (['allowSealing'] as const) : [])]
  if (huge) needs.push('hugetlb', ...(row.touches ? (['hugetlbPool'] as const) : []))
  const history = row.history?.(fs) ?? []
  // existing-mapping-still-writes seals after mapping: its memfd starts unsealed
  const bits = row.slug === 'existing-mapping-still-writes' ? 0 : SEAL_BITS[row.seal]
  return {
    id: `mmap.${huge ? 'hugetlb.' : ''}${row.seal}.${row.slug}`,
    area: 'mmap',
    ...(row.catalog ? { catalog: row.catalog } : {}),
    since: huge && row.since === '3.17' ? '4.16' : row.since,
    ...(needs.length ? { needs } : {}),
    ...(row.basis ? { basis: row.basis } : {}),
    quote: row.quote,
    note: `${row.note}${huge ? ' On hugetlbfs (MFD_HUGETLB), whose mmap path is its own; mappings that are never touched are MAP_NORESERVE.' : ''}`,
    // memfd_test.c runs every case on hugetlbfs too (its `hugetlbfs` argument); LTP memfd_create01 does not
    mirrors: huge ? row.mirrors.filter((m) => m.startsWith('memfd_test.c')).map((m) => `${m} (hugetlbfs)`) : row.mirrors,
    expect: row.expect,
    ...(history.length ? { history } : {}),
    ...(row.divergence ? { divergence: row.divergence } : {}),
    run: (ctx) => row.run(ctx, file(ctx, fs, bits)),
  }
}

export const sealMappingClauses: Clause[] = (['shmem', 'hugetlbfs'] as const).flatMap((fs) => ROWS.map((row) => rowClause(row, fs)))
