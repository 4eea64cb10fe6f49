/**
 * `mmap.`: how file seals meet mmap(2) and mprotect(2): F_SEAL_WRITE and F_SEAL_FUTURE_WRITE against new
 * shared and private mappings, later mprotect calls, and hugetlbfs memfds (catalog §5.3, §5.4, §6).
 */
import { errnoName } from '../../errors'
import { constants as C, native, ProbeAccess, type RawRegion } from '../../native'
import type { Ctx } from '../ctx'
import { outcome, SetupError } from '../ctx'
import type { Clause, Observation } from '../types'
import { addSeals, byteAt, hugePageSize, man, ps, resize, seals, sealed } from './seal-helpers'

const { F_SEAL_WRITE: WRITE, F_SEAL_FUTURE_WRITE: FUTURE_WRITE, PROT_READ: R, PROT_WRITE: W, PROT_EXEC: X, MAP_SHARED: SHARED, MAP_PRIVATE: PRIVATE } = C

const clause = (c: Omit<Clause, 'area'>): Clause => ({ area: 'mmap', ...c })

const Q = {
  writeMmap:
    'F_SEAL_WRITE: If this seal is set, you cannot modify the contents of the file. … Furthermore, trying to create new shared, writable memory-mappings via mmap(2) will also fail with EPERM.',
  futureWrite:
    'F_SEAL_FUTURE_WRITE (since Linux 5.1): The effect of this seal is similar to F_SEAL_WRITE, but the contents of the file can still be modified via shared writable mappings that were created prior to the seal being set. Any attempt to create a new writable mapping on the file via mmap(2) will fail with EPERM.',
  futureUse:
    'Using this seal, one process can create a memory buffer that it can continue to modify while sharing that buffer on a "read-only" basis with other processes.',
  mmapEperm: 'mmap(2) ERRORS: EPERM The operation was prevented by a file seal; see fcntl(2).',
  mprotectEacces:
    'mprotect(2) ERRORS: EACCES The memory cannot be given the specified access. This can happen, for example, if you mmap(2) a file to which you have read-only access, then ask mprotect() to mark it PROT_WRITE.',
  private:
    'mmap(2): MAP_PRIVATE Create a private copy-on-write mapping. Updates to the mapping are not visible to other processes mapping the same file, and are not carried through to the underlying file.',
  shared:
    'mmap(2): MAP_SHARED Share this mapping. Updates to the mapping are visible to other processes mapping the same region, and (in the case of file-backed mappings) are carried through to the underlying file.',
}

/** mmap of one page of `fd` as the clause's subject: { ret: 0 } or { errno }. */
function mapOutcome(ctx: Ctx, prot: number, flags: number, fd: number, length = ps): Observation {
  return ctx.mapOutcome(ctx.mmapCall(length, prot, flags, fd, 0))
}
const mprotect = (r: RawRegion, prot: number, length = ps): Observation => outcome(native.raw.mprotect(r, 0, length, prot))

/** Stores `value` at offset 0 in a forked child; the signal it raised, or null when the store landed. */
function storeInChild(r: RawRegion, value: number): string | null {
  const sig = native.probe(r, 0, ProbeAccess.Store, value)
  if (sig < 0) throw new SetupError(`fork for the probe failed: ${errnoName(sig)}`)
  if (sig === 0) return null
  return sig === C.SIGSEGV ? 'SIGSEGV' : sig === C.SIGBUS ? 'SIGBUS' : `signal ${sig}`
}

const peek = (r: RawRegion): number => native.raw.peek(r, 0, 1)[0]!

/** A hugetlbfs memfd (`flags` | MFD_HUGETLB) `pages` huge pages long. */
function hugeFile(ctx: Ctx, flags: number, name: string, pages = 1): { fd: number; huge: number } {
  const fd = ctx.memfd(flags | C.MFD_HUGETLB, name)
  const huge = hugePageSize(fd)
  resize(fd, pages * huge)
  return { fd, huge }
}

/** A hugetlbfs memfd one huge page long, with `bits` added. */
function hugeSealed(ctx: Ctx, bits: number): { fd: number; huge: number } {
  const file = hugeFile(ctx, C.MFD_ALLOW_SEALING, 'memseal-huge')
  if (bits !== 0) addSeals(ctx, file.fd, bits)
  return file
}

// §5.3 F_SEAL_WRITE and mappings
const sealWrite: Clause[] = [
  clause({
    id: 'mmap.seal-write.mmap-shared-rw-eperm',
    catalog: 'seal.write.mmap-shared-rw-eperm',
    statement: `${Q.writeMmap} ${Q.mmapEperm}`,
    source: seals('DESCRIPTION'),
    since: '3.17',
    expect: { errno: 'EPERM' },
    run: (ctx) => mapOutcome(ctx, R | W, SHARED, sealed(ctx, WRITE)),
  }),
  clause({
    id: 'mmap.seal-write.mmap-shared-wo-eperm',
    catalog: 'seal.write.mmap-shared-wo-eperm',
    statement: `${Q.writeMmap} (PROT_WRITE alone.)`,
    source: seals('DESCRIPTION'),
    since: '3.17',
    expect: { errno: 'EPERM' },
    run: (ctx) => mapOutcome(ctx, W, SHARED, sealed(ctx, WRITE)),
  }),
  clause({
    id: 'mmap.unsealed.mmap-shared-rw-ok',
    catalog: 'seal.write.mmap-shared-rw-eperm (control)',
    statement: `${Q.shared} (Control: no seal.)`,
    source: man('mmap', 'DESCRIPTION'),
    since: '3.17',
    expect: { ret: 0 },
    run: (ctx) => mapOutcome(ctx, R | W, SHARED, sealed(ctx, 0)),
  }),
  clause({
    id: 'mmap.seal-write.mmap-shared-ro-ok',
    catalog: 'seal.write.mmap-shared-ro-ok',
    statement: `${Q.writeMmap} (Only writable shared mappings are refused: a PROT_READ, MAP_SHARED mapping through the O_RDWR memfd is allowed.)`,
    source: seals('DESCRIPTION'),
    since: '6.7',
    // No `needs: roSharedAfterWriteSeal`: that feature is this very behaviour; older kernels are history.
    expect: { ret: 0 },
    history: [
      {
        range: '<6.7',
        observed: { errno: 'EPERM' },
        behaviour:
          'Before 6.7 every MAP_SHARED mapping of an fd open for writing counted as writable, so even PROT_READ failed with EPERM. The 6.7 series was backported to 5.4.y, 5.10.y, 5.15.y, 6.1.y and 6.6.y in mid-2025 (Isaac J. Manjarres); recent point releases of those trees succeed (pass). The exact point releases are not recorded here.',
        ref: '"mm: drop the assumption that VM_SHARED always implies writable", "mm: update memfd seal write check to include F_SEAL_WRITE", 158978945f31 (6.7); stable backports by Isaac J. Manjarres (2025)',
      },
      {
        range: '>=6.12 <6.12.9',
        observed: { errno: 'EPERM' },
        behaviour:
          'Regression: 5de195060b2e moved the check so that read-only shared mappings of F_SEAL_WRITE memfds failed with EPERM again in 6.12.0–6.12.8 and 6.13-rc1…rc5 (release candidates are not told apart from 6.13 here); fixed by 8ec396d05d1b in 6.13-rc6 and 6.12.9. Stable trees that took 5de195060b2e with the 6.7 series may show it too.',
        ref: 'regression 5de195060b2e "mm: resolve faulty mmap_region() error path behaviour"; fix 8ec396d05d1b; selftest ea0916e01d0b',
      },
    ],
    run: (ctx) => mapOutcome(ctx, R, SHARED, sealed(ctx, WRITE)),
  }),
  clause({
    id: 'mmap.seal-write.mprotect-ro-shared-to-rw-eacces',
    catalog: 'seal.write.mprotect-ro-shared-to-rw-eacces',
    statement: `${Q.writeMmap} ${Q.mprotectEacces} (Not documented for seals; the code (mm/memfd.c check_write_seal) clears VM_MAYWRITE on the read-only shared mapping, so it can never become writable.)`,
    source: man('mprotect', 'ERRORS'),
    since: '6.7',
    needs: ['roSharedAfterWriteSeal'],
    expect: { errno: 'EACCES' },
    run: (ctx) => mprotect(ctx.mmap(ps, R, SHARED, sealed(ctx, WRITE)), R | W),
  }),
  clause({
    id: 'mmap.unsealed.mprotect-ro-shared-to-rw-ok',
    catalog: 'seal.write.mprotect-ro-shared-to-rw-eacces (control)',
    statement:
      'mprotect(2): "mprotect() changes the access protections for the calling process\'s memory pages containing any part of the address range in the interval [addr, addr+len-1]." (Control: no seal; the fd is open for writing.)',
    source: man('mprotect', 'DESCRIPTION'),
    since: '3.17',
    expect: { ret: 0 },
    run: (ctx) => mprotect(ctx.mmap(ps, R, SHARED, sealed(ctx, 0)), R | W),
  }),
  clause({
    id: 'mmap.seal-write.ro-shared-mapping-lacks-mw',
    catalog: 'seal.write.ro-shared-mapping-lacks-mw',
    statement: `${Q.writeMmap} (Not documented; the code (mm/memfd.c check_write_seal) clears VM_MAYWRITE, visible in /proc/self/smaps VmFlags: "mr" may read and "ms" may share stay, "mw" may write is gone.)`,
    source: { doc: 'proc_pid_smaps(5)', section: 'VmFlags', url: 'https://man7.org/linux/man-pages/man5/proc_pid_smaps.5.html' },
    since: '6.7',
    needs: ['roSharedAfterWriteSeal'],
    expect: { mr: true, ms: true, mw: false },
    run: (ctx) => {
      const vma = native.raw.vma(ctx.mmap(ps, R, SHARED, sealed(ctx, WRITE)), 0)
      if (!vma) throw new SetupError('the mapping is missing from /proc/self/smaps')
      return { mr: vma.flags.includes('mr'), ms: vma.flags.includes('ms'), mw: vma.flags.includes('mw') }
    },
  }),
  clause({
    id: 'mmap.seal-write.mprotect-ro-shared-to-rx-ok',
    catalog: 'seal.write.mprotect-ro-shared-to-rx-ok',
    statement: `${Q.writeMmap} (F_SEAL_WRITE says nothing about execution: mprotect(PROT_READ | PROT_EXEC) on the read-only shared mapping is allowed.)`,
    source: seals('DESCRIPTION'),
    since: '6.7',
    needs: ['roSharedAfterWriteSeal'],
    expect: { ret: 0 },
    run: (ctx) => mprotect(ctx.mmap(ps, R, SHARED, sealed(ctx, WRITE)), R | X),
  }),
  clause({
    id: 'mmap.seal-write.mmap-shared-ro-via-rdonly-fd-ok',
    catalog: 'seal.write.mmap-shared-ro-via-rdonly-fd-ok',
    statement: `${Q.writeMmap} (A PROT_READ, MAP_SHARED mapping through an O_RDONLY fd is not writable and cannot become so.)`,
    source: seals('DESCRIPTION'),
    since: '3.17',
    expect: { ret: 0 },
    run: (ctx) => mapOutcome(ctx, R, SHARED, ctx.reopen(sealed(ctx, WRITE), 'r')),
  }),
  clause({
    id: 'mmap.seal-write.mmap-private-rw-ok',
    catalog: 'seal.write.mmap-private-rw-ok',
    statement: `${Q.writeMmap} (Only shared mappings are named: a PROT_READ | PROT_WRITE, MAP_PRIVATE mapping is allowed.)`,
    source: seals('DESCRIPTION'),
    since: '3.17',
    expect: { ret: 0 },
    run: (ctx) => mapOutcome(ctx, R | W, PRIVATE, sealed(ctx, WRITE)),
  }),
  clause({
    id: 'mmap.seal-write.private-cow-not-visible',
    catalog: 'seal.write.private-cow-not-visible',
    statement: `${Q.private} (A store into a private mapping of a F_SEAL_WRITE memfd: the mapping sees it, the file does not.)`,
    source: man('mmap', 'DESCRIPTION'),
    since: '3.17',
    expect: { mapping: 0x41, file: 0 },
    run: (ctx) => {
      const fd = sealed(ctx, WRITE)
      const r = ctx.mmap(ps, R | W, PRIVATE, fd)
      native.raw.poke(r, 0, Buffer.from([0x41]))
      return { mapping: peek(r), file: byteAt(fd, 0) }
    },
  }),
]

// §5.4 F_SEAL_FUTURE_WRITE and mappings
const futureWrite: Clause[] = [
  clause({
    id: 'mmap.future-write.existing-mapping-still-writes',
    catalog: 'seal.future-write.existing-mapping-still-writes',
    statement: `${Q.futureWrite} (A store through the shared writable mapping made before the seal, from a forked child, then pread.)`,
    source: seals('DESCRIPTION'),
    since: '5.1',
    needs: ['futureWrite'],
    expect: { file: 0x5a },
    run: (ctx): Observation => {
      const fd = sealed(ctx, 0)
      const r = ctx.mmap(ps, R | W, SHARED, fd)
      addSeals(ctx, fd, FUTURE_WRITE)
      const signal = storeInChild(r, 0x5a)
      return signal ? { signal } : { file: byteAt(fd, 0) }
    },
  }),
  clause({
    id: 'mmap.future-write.new-rw-shared-eperm',
    catalog: 'seal.future-write.new-rw-shared-eperm',
    statement: `${Q.futureWrite} ${Q.mmapEperm}`,
    source: seals('DESCRIPTION'),
    since: '5.1',
    needs: ['futureWrite'],
    expect: { errno: 'EPERM' },
    run: (ctx) => mapOutcome(ctx, R | W, SHARED, sealed(ctx, FUTURE_WRITE)),
  }),
  clause({
    id: 'mmap.future-write.reopened-fd-rw-shared-eperm',
    catalog: 'seal.future-write.reopened-fd-rw-shared-eperm',
    statement: `${Q.futureWrite} (Through a new O_RDWR open of /proc/self/fd: seals belong to the inode.)`,
    source: seals('DESCRIPTION'),
    since: '5.1',
    needs: ['futureWrite'],
    expect: { errno: 'EPERM' },
    run: (ctx) => mapOutcome(ctx, R | W, SHARED, ctx.reopen(sealed(ctx, FUTURE_WRITE), 'r+')),
  }),
  clause({
    id: 'mmap.future-write.new-wo-shared-eperm',
    catalog: 'seal.future-write.new-rw-shared-eperm (T-MEMFD PROT_WRITE-only variant)',
    statement: `${Q.futureWrite} (PROT_WRITE alone.)`,
    source: seals('DESCRIPTION'),
    since: '5.1',
    needs: ['futureWrite'],
    expect: { errno: 'EPERM' },
    run: (ctx) => mapOutcome(ctx, W, SHARED, sealed(ctx, FUTURE_WRITE)),
  }),
  clause({
    id: 'mmap.future-write.new-ro-shared-ok',
    catalog: 'seal.future-write.new-ro-shared-ok',
    statement: `${Q.futureWrite} ${Q.futureUse}`,
    source: seals('DESCRIPTION'),
    since: '5.1',
    needs: ['futureWrite'],
    expect: { ret: 0 },
    run: (ctx) => mapOutcome(ctx, R, SHARED, sealed(ctx, FUTURE_WRITE)),
  }),
  clause({
    id: 'mmap.future-write.mprotect-to-rw-eacces',
    catalog: 'seal.future-write.mprotect-to-rw-eacces',
    statement: `${Q.futureWrite} ${Q.mprotectEacces} (Not documented for seals; the code clears VM_MAYWRITE on new shared mappings, so mprotect(PROT_READ | PROT_WRITE) fails with EACCES.)`,
    source: man('mprotect', 'ERRORS'),
    since: '5.1',
    needs: ['futureWrite'],
    expect: { errno: 'EACCES' },
    run: (ctx) => mprotect(ctx.mmap(ps, R, SHARED, sealed(ctx, FUTURE_WRITE)), R | W),
  }),
  clause({
    id: 'mmap.future-write.private-rw-ok',
    catalog: 'seal.future-write.private-rw-ok',
    statement: Q.futureWrite,
    source: seals('DESCRIPTION'),
    since: '5.1',
    needs: ['futureWrite'],
    expect: { errno: 'EPERM' },
    divergence: {
      doc: 'Any attempt to create a new writable mapping on the file via mmap(2) will fail with EPERM.',
      kernel:
        'Only new shared writable mappings are refused (mm/memfd.c seal_check_write(), memfd_check_seals_mmap() since 6.14: VM_SHARED and VM_WRITE); a PROT_READ | PROT_WRITE, MAP_PRIVATE mapping is created, as for F_SEAL_WRITE.',
    },
    history: [
      {
        range: '*',
        observed: { ret: 0 },
        behaviour: 'A new private writable mapping of a F_SEAL_FUTURE_WRITE memfd succeeds: the seal refuses only shared writable ones.',
        ref: 'mm/memfd.c seal_check_write() / memfd_check_seals_mmap(); tools/testing/selftests/memfd/memfd_test.c test_seal_future_write',
      },
    ],
    run: (ctx) => mapOutcome(ctx, R | W, PRIVATE, sealed(ctx, FUTURE_WRITE)),
  }),
  clause({
    id: 'mmap.future-write.private-cow',
    catalog: 'seal.future-write.private-cow',
    statement: `${Q.private} (A store into a private mapping of a F_SEAL_FUTURE_WRITE memfd: the mapping sees it, the file does not.)`,
    source: man('mmap', 'DESCRIPTION'),
    since: '5.1',
    needs: ['futureWrite'],
    expect: { mapping: 0x42, file: 0 },
    run: (ctx) => {
      const fd = sealed(ctx, FUTURE_WRITE)
      const r = ctx.mmap(ps, R | W, PRIVATE, fd)
      native.raw.poke(r, 0, Buffer.from([0x42]))
      return { mapping: peek(r), file: byteAt(fd, 0) }
    },
  }),
  clause({
    id: 'mmap.future-write.private-mprotect-ok',
    catalog: 'seal.future-write.private-mprotect-ok',
    statement:
      'mprotect(2): "mprotect() changes the access protections for the calling process\'s memory pages containing any part of the address range in the interval [addr, addr+len-1]." F_ADD_SEALS(2const) restricts only new writable mappings and write(2): a private mapping of a F_SEAL_FUTURE_WRITE memfd made PROT_READ and then PROT_READ | PROT_WRITE again.',
    source: man('mprotect', 'DESCRIPTION'),
    since: '5.5',
    needs: ['futureWrite'],
    expect: { ret: 0 },
    history: [
      {
        range: '>=5.1 <5.5',
        observed: { errno: 'EACCES' },
        behaviour:
          'Until 05d351102dbe, shmem_mmap() cleared VM_MAYWRITE on private mappings of F_SEAL_FUTURE_WRITE memfds too, so mprotect back to PROT_WRITE failed with EACCES. Patched 5.3.y/5.4.y stable releases (Dec 2019) pass.',
        ref: '05d351102dbe "mm, memfd: fix COW issue on MAP_PRIVATE and F_SEAL_FUTURE_WRITE mappings" (5.5; 5.3.y, 5.4.y stable)',
      },
    ],
    run: (ctx) => {
      const r = ctx.mmap(ps, R | W, PRIVATE, sealed(ctx, FUTURE_WRITE))
      ctx.setup(native.raw.mprotect(r, 0, ps, R), 'mprotect(PROT_READ)')
      return mprotect(r, R | W)
    },
  }),
  clause({
    id: 'mmap.future-write.private-cow-across-fork',
    catalog: 'seal.future-write.private-cow',
    statement:
      'fork(2): "The child process and the parent process run in separate memory spaces. At the time of fork() both memory spaces have the same content. Memory writes, file mappings (mmap(2)), and unmappings (munmap(2)) performed by one of the processes do not affect the other." (A private mapping of a F_SEAL_FUTURE_WRITE memfd: the parent stores 0x16, a forked child stores 0x21.)',
    source: { doc: 'fork(2)', section: 'DESCRIPTION', url: 'https://man7.org/linux/man-pages/man2/fork.2.html' },
    since: '5.5',
    needs: ['futureWrite'],
    expect: { parent: 0x16, file: 0 },
    history: [
      {
        range: '>=5.1 <5.5',
        observed: { parent: 0x21, file: 0 },
        behaviour:
          "Until 05d351102dbe, a private mapping of a F_SEAL_FUTURE_WRITE memfd lost VM_MAYWRITE and with it copy-on-write at fork: parent and child shared the page, so the child's store showed in the parent. Patched 5.3.y/5.4.y stable releases (Dec 2019) pass.",
        ref: '05d351102dbe "mm, memfd: fix COW issue on MAP_PRIVATE and F_SEAL_FUTURE_WRITE mappings"; memfd_test.c mfd_assert_fork_private_write',
      },
    ],
    run: (ctx) => {
      const fd = sealed(ctx, FUTURE_WRITE)
      const r = ctx.mmap(ps, R | W, PRIVATE, fd)
      native.raw.poke(r, 0, Buffer.from([0x16]))
      const signal = storeInChild(r, 0x21)
      if (signal) throw new SetupError(`the child's store into its own private copy raised ${signal}`)
      return { parent: peek(r), file: byteAt(fd, 0) }
    },
  }),
]

// §6 hugetlbfs memfds and F_SEAL_FUTURE_WRITE
const HUGE_FIX = '"mm/hugetlb: fix F_SEAL_FUTURE_WRITE" (Peter Xu, late 2022, Cc stable; the release is inferred, not verified)'
const hugetlb: Clause[] = [
  clause({
    id: 'mmap.hugetlb.future-write-mmap-rw-shared-eperm',
    catalog: 'mfd.hugetlb.future-write-mmap-rw-shared-eperm',
    statement: `${Q.futureWrite} (A hugetlbfs memfd, one huge page, PROT_READ | PROT_WRITE, MAP_SHARED without MAP_NORESERVE: the seal check comes before the huge page reservation, so no pool is needed.)`,
    source: seals('DESCRIPTION'),
    since: '6.1',
    needs: ['hugetlb', 'allowSealing', 'futureWrite'],
    expect: { errno: 'EPERM' },
    history: [
      {
        range: '<6.1',
        observed: { errno: 'ENOMEM' },
        behaviour: 'Before the fix hugetlbfs_file_mmap() ignored F_SEAL_FUTURE_WRITE; with no free huge pages the reservation fails with ENOMEM.',
        ref: HUGE_FIX,
      },
      {
        range: '<6.1',
        observed: { ret: 0 },
        behaviour: 'Before the fix hugetlbfs_file_mmap() ignored F_SEAL_FUTURE_WRITE; with a huge page pool the writable shared mapping is created.',
        ref: HUGE_FIX,
      },
    ],
    run: (ctx) => {
      const { fd, huge } = hugeSealed(ctx, FUTURE_WRITE)
      return mapOutcome(ctx, R | W, SHARED, fd, huge)
    },
  }),
  clause({
    id: 'mmap.hugetlb.unsealed-mmap-rw-shared-ok',
    catalog: 'mfd.hugetlb.future-write-mmap-rw-shared-eperm (control)',
    statement: `${Q.shared} (Control: a hugetlbfs memfd without seals, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, which needs no free huge pages.)`,
    source: man('mmap', 'DESCRIPTION'),
    since: '4.16',
    needs: ['hugetlb', 'allowSealing'],
    expect: { ret: 0 },
    run: (ctx) => {
      const { fd, huge } = hugeSealed(ctx, 0)
      return mapOutcome(ctx, R | W, SHARED | C.MAP_NORESERVE, fd, huge)
    },
  }),
  clause({
    id: 'mmap.hugetlb.future-write-mmap-ro-shared-ok',
    catalog: 'mfd.hugetlb.future-write-mmap-ro-shared-ok',
    statement: `${Q.futureWrite} ${Q.futureUse} (A hugetlbfs memfd, PROT_READ, MAP_SHARED | MAP_NORESERVE.)`,
    source: seals('DESCRIPTION'),
    since: '5.1',
    needs: ['hugetlb', 'allowSealing', 'futureWrite'],
    expect: { ret: 0 },
    run: (ctx) => {
      const { fd, huge } = hugeSealed(ctx, FUTURE_WRITE)
      return mapOutcome(ctx, R, SHARED | C.MAP_NORESERVE, fd, huge)
    },
  }),
  clause({
    id: 'mmap.hugetlb.future-write-mprotect-eacces',
    catalog: 'mfd.hugetlb.future-write-mprotect-eacces',
    statement: `${Q.futureWrite} ${Q.mprotectEacces} (Not documented for seals; the code clears VM_MAYWRITE on the read-only shared hugetlbfs mapping.)`,
    source: man('mprotect', 'ERRORS'),
    since: '6.1',
    needs: ['hugetlb', 'allowSealing', 'futureWrite'],
    expect: { errno: 'EACCES' },
    history: [
      {
        range: '<6.1',
        observed: { ret: 0 },
        behaviour:
          'Before the fix hugetlbfs_file_mmap() did not clear VM_MAYWRITE for F_SEAL_FUTURE_WRITE, so the read-only shared mapping could be made writable.',
        ref: HUGE_FIX,
      },
    ],
    run: (ctx) => {
      const { fd, huge } = hugeSealed(ctx, FUTURE_WRITE)
      return mprotect(ctx.mmap(huge, R, SHARED | C.MAP_NORESERVE, fd), R | W, huge)
    },
  }),
]

// Huge page lengths (mmap(2) "Huge page (Huge TLB) mappings"; admin-guide/mm/hugetlbpage.rst). No pool is
// needed: the mappings are MAP_NORESERVE and never touched, and munmap does not allocate.
const HUGE_TLB =
  'mmap(2), Huge page (Huge TLB) mappings: For mmap(), offset must be a multiple of the underlying huge page size. The system automatically aligns length to be a multiple of the underlying huge page size. For munmap(), addr, and length must both be a multiple of the underlying huge page size.'
const HUGE_DOC =
  'hugetlbpage.rst: Syscalls that operate on memory backed by hugetlb pages only have their lengths aligned to the native page size of the processor; they will normally fail with errno set to EINVAL or exclude hugetlb pages that extend beyond the length if not hugepage aligned. For example, munmap(2) will fail if memory is backed by a hugetlb page and the length is smaller than the hugepage size.'
const hugeSource = man('mmap', 'Huge page (Huge TLB) mappings')

/** mmap of `length` bytes of a one-huge-page hugetlbfs memfd, read-only, shared, MAP_NORESERVE. */
function hugeMapping(ctx: Ctx, length: number): { r: RawRegion | number; huge: number } {
  const { fd, huge } = hugeFile(ctx, 0, 'memseal-huge-len')
  return { r: ctx.mmapCall(length, R, SHARED | C.MAP_NORESERVE, fd, 0), huge }
}

/** mmap of one huge page of a two-huge-page hugetlbfs memfd at `offset(huge)`: { ret: 0 } or { errno }. */
function hugeAtOffset(ctx: Ctx, offset: (huge: number) => number): Observation {
  const { fd, huge } = hugeFile(ctx, 0, 'memseal-huge-off', 2)
  return ctx.mapOutcome(ctx.mmapCall(huge, R, SHARED | C.MAP_NORESERVE, fd, offset(huge)))
}

/** The mapping as the clause's region: it must exist, and is released as a whole huge page. */
function wholePage(ctx: Ctx, r: RawRegion | number, huge: number): RawRegion {
  if (typeof r === 'number') throw new SetupError(`mmap of a hugetlbfs memfd failed: ${errnoName(r)}`)
  ctx.forget(r)
  ctx.adopt(r, huge)
  return r
}

const hugeLengths: Clause[] = [
  clause({
    id: 'mmap.hugetlb.mmap-length-rounded-up',
    statement: `${HUGE_TLB} (One page of a hugetlbfs memfd is asked for; the VMA covers one whole huge page.)`,
    source: hugeSource,
    since: '4.14',
    needs: ['hugetlb'],
    expect: { ret: 0, vmaHugePages: 1 },
    run: (ctx) => {
      const { r, huge } = hugeMapping(ctx, ps)
      const region = wholePage(ctx, r, huge)
      const vma = native.raw.vma(region, 0)
      if (!vma) throw new SetupError('the mapping is not in /proc/self/smaps')
      return { ret: 0, vmaHugePages: (vma.end - vma.start) / huge }
    },
  }),
  clause({
    id: 'mmap.hugetlb.munmap-short-einval',
    statement: `${HUGE_TLB} ${HUGE_DOC}`,
    source: hugeSource,
    since: '4.14',
    needs: ['hugetlb'],
    expect: { errno: 'EINVAL' },
    run: (ctx) => {
      const { r, huge } = hugeMapping(ctx, ps)
      return outcome(native.raw.munmap(wholePage(ctx, r, huge), 0, ps))
    },
  }),
  clause({
    id: 'mmap.hugetlb.munmap-whole-ok',
    catalog: 'mmap.hugetlb.munmap-short-einval (control)',
    statement: `${HUGE_TLB} (Control: the same one-page mapping unmapped with the huge page's length.)`,
    source: hugeSource,
    since: '4.14',
    needs: ['hugetlb'],
    expect: { ret: 0 },
    run: (ctx) => {
      const { r, huge } = hugeMapping(ctx, ps)
      const region = wholePage(ctx, r, huge)
      const result = outcome(native.raw.munmap(region, 0, huge))
      if (result.ret === 0) ctx.forget(region)
      return result
    },
  }),
  clause({
    id: 'mmap.hugetlb.mmap-offset-unaligned-einval',
    statement: `${HUGE_TLB} (Offset: one native page into a two-huge-page hugetlbfs memfd.)`,
    source: hugeSource,
    since: '4.14',
    needs: ['hugetlb'],
    expect: { errno: 'EINVAL' },
    run: (ctx) => hugeAtOffset(ctx, () => ps),
  }),
  clause({
    id: 'mmap.hugetlb.mmap-offset-aligned-ok',
    catalog: 'mmap.hugetlb.mmap-offset-unaligned-einval (control)',
    statement: `${HUGE_TLB} (Control: an offset of one huge page into the same two-huge-page memfd.)`,
    source: hugeSource,
    since: '4.14',
    needs: ['hugetlb'],
    expect: { ret: 0 },
    run: (ctx) => hugeAtOffset(ctx, (huge) => huge),
  }),
]

export const clauses: Clause[] = [...sealWrite, ...futureWrite, ...hugetlb, ...hugeLengths]
