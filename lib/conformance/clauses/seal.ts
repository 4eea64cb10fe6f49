/**
 * `seal.`: fcntl(F_ADD_SEALS / F_GET_SEALS) and the effect of F_SEAL_SEAL, SHRINK, GROW, WRITE and
 * FUTURE_WRITE on write, truncate, open(O_TRUNC) and fallocate (catalog §4, §5.1–5.4, §6, §8).
 * How seals meet mmap and mprotect is in mmap.ts.
 */
import { errnoName } from '../../errors'
import { ftruncateSync, truncateSync, writeSync } from 'node:fs'
import { constants as C, native } from '../../native'
import { attempt, outcome } from '../ctx'
import type { Clause, Observation } from '../types'
import {
  addInChild,
  addOutcome,
  addSeals,
  dup,
  fifo,
  getOutcome,
  hugePageSize,
  man,
  nonShmemFile,
  openOutcome,
  ps,
  resize,
  seals,
  sealed,
  sealsOf,
  tmpfsFile,
} from './seal-helpers'

const { F_SEAL_SEAL: SEAL, F_SEAL_SHRINK: SHRINK, F_SEAL_GROW: GROW, F_SEAL_WRITE: WRITE, F_SEAL_FUTURE_WRITE: FUTURE_WRITE } = C
const RW_SHARED = [C.PROT_READ | C.PROT_WRITE, C.MAP_SHARED] as const
const PUNCH = C.FALLOC_FL_PUNCH_HOLE | C.FALLOC_FL_KEEP_SIZE

const clause = (c: Omit<Clause, 'area'>): Clause => ({ area: 'seal', ...c })

// The documentation's own words (F_ADD_SEALS(2const); fcntl(2) "File seals" in man-pages before 6.10).
const Q = {
  otherFs:
    'Currently, file seals can be applied only to a file descriptor returned by memfd_create(2) (if the MFD_ALLOW_SEALING was employed). On other filesystems, all fcntl() operations that operate on seals will return EINVAL.',
  getEinval: 'F_GET_SEALS: If the file does not support sealing, -1 is returned and errno is set to EINVAL.',
  unknownBit: 'EINVAL: op is F_ADD_SEALS and arg includes an unrecognized sealing bit.',
  writable:
    'In order to place a seal, the file descriptor fd must be writable. EPERM: op was F_ADD_SEALS, but fd was not open for writing or the current set of seals on the file already includes F_SEAL_SEAL.',
  inode: 'Seals are a property of an inode. Thus, all open file descriptors referring to the same inode share the same set of seals.',
  sealSeal:
    'F_SEAL_SEAL: If this seal is set, any further call to fcntl() with F_ADD_SEALS fails with the error EPERM. Therefore, this seal prevents any modifications to the set of seals itself.',
  shrink:
    'F_SEAL_SHRINK: If this seal is set, the file in question cannot be reduced in size. This affects open(2) with the O_TRUNC flag as well as truncate(2) and ftruncate(2). Those calls fail with EPERM if you try to shrink the file in question. Increasing the file size is still possible.',
  grow: 'F_SEAL_GROW: If this seal is set, the size of the file in question cannot be increased. This affects write(2) beyond the end of the file, truncate(2), ftruncate(2), and fallocate(2). These calls fail with EPERM if you use them to increase the file size. If you keep the size or shrink it, those calls still work as expected.',
  write:
    'F_SEAL_WRITE: If this seal is set, you cannot modify the contents of the file. Note that shrinking or growing the size of the file is still possible and allowed. … This seal affects write(2) and fallocate(2) (only in combination with the FALLOC_FL_PUNCH_HOLE flag). Those calls fail with EPERM if this seal is set.',
  ebusy:
    'Using the F_ADD_SEALS operation to set the F_SEAL_WRITE seal fails with EBUSY if any writable, shared mapping exists. Such mappings must be unmapped before you can add this seal.',
  aio: 'Furthermore, if there are any asynchronous I/O operations (io_submit(2)) pending on the file, all outstanding writes will be discarded.',
  futureWrite:
    'F_SEAL_FUTURE_WRITE (since Linux 5.1): The effect of this seal is similar to F_SEAL_WRITE, but the contents of the file can still be modified via shared writable mappings that were created prior to the seal being set. … Likewise, an attempt to write to the file via write(2) will fail with EPERM.',
}
const EPERM_SEAL = 'EPERM: The operation was prevented by a file seal; see fcntl(2).'

/** write(2)/pwrite(2) of `n` bytes through node:fs: { ret: bytes written } or { errno }. */
function write(fd: number, n: number, position?: number): Observation {
  const buf = Buffer.alloc(n, 0x77)
  return attempt(() => (position === undefined ? writeSync(fd, buf) : writeSync(fd, buf, 0, n, position)))
}
const ftruncate = (fd: number, len: number): Observation => attempt(() => ftruncateSync(fd, len))
const fallocate = (fd: number, mode: number, offset: number, len: number): Observation => outcome(native.fallocate(fd, mode, offset, len))

// §4 fcntl(F_ADD_SEALS / F_GET_SEALS): generic rules
const generic: Clause[] = [
  clause({
    id: 'seal.get.non-shmem-file-einval',
    statement: `${Q.otherFs} ${Q.getEinval}`,
    source: seals('DESCRIPTION'),
    since: '3.17',
    expect: { errno: 'EINVAL' },
    run: (ctx) => getOutcome(nonShmemFile(ctx)),
  }),
  clause({
    id: 'seal.add.non-shmem-file-einval',
    catalog: 'seal.get.non-shmem-file-einval',
    statement: `${Q.otherFs} EINVAL: The filesystem containing the inode referred to by fd does not support sealing.`,
    source: seals('DESCRIPTION'),
    since: '3.17',
    expect: { errno: 'EINVAL' },
    run: (ctx) => addOutcome(nonShmemFile(ctx), WRITE),
  }),
  clause({
    id: 'seal.get.pipe-einval',
    statement: `${Q.otherFs} (The pipe here is a FIFO opened O_RDWR.)`,
    source: seals('DESCRIPTION'),
    since: '3.17',
    expect: { errno: 'EINVAL' },
    run: (ctx) => getOutcome(fifo(ctx)),
  }),
  clause({
    id: 'seal.get.tmpfs-file-returns-seal-seal',
    statement: `${Q.otherFs} (The file here is created with open(2) on a tmpfs mount such as /dev/shm, not by memfd_create(2).)`,
    source: seals('DESCRIPTION'),
    since: '3.17',
    expect: { errno: 'EINVAL' },
    divergence: {
      doc: Q.otherFs,
      kernel:
        'Every shmem inode starts with F_SEAL_SEAL (mm/shmem.c sets info->seals = F_SEAL_SEAL; memfd_create clears it for MFD_ALLOW_SEALING), and mm/memfd.c accepts any shmem file, so F_GET_SEALS on a tmpfs file returns 1 (F_SEAL_SEAL), not EINVAL.',
    },
    history: [
      {
        range: '*',
        observed: { seals: 1 },
        behaviour: 'tmpfs files support the seal fcntls: F_GET_SEALS returns F_SEAL_SEAL, the seal every shmem inode starts with.',
        ref: 'mm/shmem.c (info->seals = F_SEAL_SEAL); mm/memfd.c memfd_file_seals_ptr() (shmem_file())',
      },
    ],
    run: (ctx) => getOutcome(tmpfsFile(ctx)),
  }),
  clause({
    id: 'seal.add.tmpfs-file-eperm',
    catalog: 'seal.get.tmpfs-file-returns-seal-seal',
    statement: `${Q.otherFs} (The file here is created with open(2) on a tmpfs mount such as /dev/shm, not by memfd_create(2).)`,
    source: seals('DESCRIPTION'),
    since: '3.17',
    expect: { errno: 'EINVAL' },
    divergence: {
      doc: Q.otherFs,
      kernel:
        'A tmpfs file is a shmem inode born with F_SEAL_SEAL, so mm/memfd.c memfd_add_seals() finds its seals and refuses the change with EPERM (F_SEAL_SEAL is set), not EINVAL.',
    },
    history: [
      {
        range: '*',
        observed: { errno: 'EPERM' },
        behaviour: 'F_ADD_SEALS on a tmpfs file fails with EPERM because the inode already carries F_SEAL_SEAL.',
        ref: 'mm/shmem.c (info->seals = F_SEAL_SEAL); mm/memfd.c memfd_add_seals()',
      },
    ],
    run: (ctx) => addOutcome(tmpfsFile(ctx), WRITE),
  }),
  clause({
    id: 'seal.add.unknown-bit-0x40-einval',
    statement: Q.unknownBit,
    source: seals('ERRORS'),
    since: '3.17',
    expect: { errno: 'EINVAL' },
    run: (ctx) => addOutcome(sealed(ctx, 0, 0), 0x40),
  }),
  clause({
    id: 'seal.add.bit31-einval',
    statement: `${Q.unknownBit} (Bit 31 is not a seal: "(1U << 31) is reserved for signed error codes", include/uapi/linux/fcntl.h.)`,
    source: seals('ERRORS'),
    since: '3.17',
    expect: { errno: 'EINVAL' },
    run: (ctx) => addOutcome(sealed(ctx, 0, 0), 0x80000000),
  }),
  clause({
    id: 'seal.add.upper32-ignored',
    statement:
      'SYNOPSIS: int fcntl(int fd, F_ADD_SEALS, int arg); — arg is an int, so only its low 32 bits are the seal mask (here 0x1_0000_0002, which is F_SEAL_SHRINK as an int).',
    source: seals('SYNOPSIS'),
    since: '6.5',
    expect: { ret: 0, seals: SHRINK },
    history: [
      {
        range: '<6.5',
        observed: { errno: 'EINVAL' },
        behaviour:
          'Before 6.5 memfd_fcntl() took an unsigned long and refused any arg above UINT_MAX with EINVAL instead of truncating it to the documented int.',
        ref: '"memfd: pass argument of memfd_fcntl as int" (Luca Vizzarro, 6.5 merge window)',
      },
    ],
    run: (ctx) => {
      const fd = sealed(ctx, 0, 0)
      const r = native.fcntl(fd, C.F_ADD_SEALS, (1n << 32n) | BigInt(SHRINK))
      return r < 0 ? outcome(r) : { ret: r, seals: sealsOf(ctx, fd) }
    },
  }),
  clause({
    id: 'seal.add.zero-noop',
    statement:
      'F_ADD_SEALS: Add the seals given in the bit-mask argument arg to the set of seals of the inode referred to by the file descriptor fd. (An empty mask adds nothing; RETURN VALUE: F_ADD_SEALS: Zero.)',
    source: seals('DESCRIPTION'),
    since: '3.17',
    expect: { ret: 0, seals: 0 },
    run: (ctx) => {
      const fd = sealed(ctx, 0, 0)
      const r = native.fcntl(fd, C.F_ADD_SEALS, 0)
      return r < 0 ? outcome(r) : { ret: r, seals: sealsOf(ctx, fd) }
    },
  }),
  clause({
    id: 'seal.add.idempotent',
    statement: 'Adding a seal that is already set is a no-op, in case F_SEAL_SEAL is not set already.',
    source: seals('DESCRIPTION'),
    since: '3.17',
    expect: { ret: 0, seals: SHRINK },
    run: (ctx) => {
      const fd = sealed(ctx, SHRINK, 0)
      const r = native.fcntl(fd, C.F_ADD_SEALS, SHRINK)
      return r < 0 ? outcome(r) : { ret: r, seals: sealsOf(ctx, fd) }
    },
  }),
  clause({
    id: 'seal.add.rdonly-fd-eperm',
    statement: Q.writable,
    source: seals('ERRORS'),
    since: '3.17',
    expect: { errno: 'EPERM' },
    run: (ctx) => addOutcome(ctx.reopen(sealed(ctx, 0, 0), 'r'), GROW),
  }),
  clause({
    id: 'seal.add.rdwr-reopened-fd-ok',
    catalog: 'seal.add.rdonly-fd-eperm (control)',
    statement: `${Q.writable} (Control: the same file reopened O_RDWR can add the seal.)`,
    source: seals('ERRORS'),
    since: '3.17',
    expect: { ret: 0 },
    run: (ctx) => addOutcome(ctx.reopen(sealed(ctx, 0, 0), 'r+'), GROW),
  }),
  clause({
    id: 'seal.add.rdonly-fd-unknown-bit-eperm-first',
    statement:
      'Not documented which error wins when several apply; the code (mm/memfd.c memfd_add_seals) checks that fd is open for writing (EPERM) before it checks the bits (EINVAL).',
    source: seals('ERRORS'),
    since: '3.17',
    expect: { errno: 'EPERM' },
    run: (ctx) => addOutcome(ctx.reopen(sealed(ctx, 0, 0), 'r'), 0x40),
  }),
  clause({
    id: 'seal.seal-seal.unknown-bit-einval-first',
    statement: 'Not documented which error wins when several apply; the code (mm/memfd.c memfd_add_seals) checks the bits (EINVAL) before F_SEAL_SEAL (EPERM).',
    source: seals('ERRORS'),
    since: '3.17',
    expect: { errno: 'EINVAL' },
    run: (ctx) => addOutcome(sealed(ctx, SEAL, 0), 0x40),
  }),
  clause({
    id: 'seal.get.rdonly-fd-ok',
    statement:
      'F_GET_SEALS: Return (as the function result) the current set of seals of the inode referred to by fd. (Only F_ADD_SEALS requires a writable fd.)',
    source: seals('DESCRIPTION'),
    since: '3.17',
    expect: { seals: GROW },
    run: (ctx) => getOutcome(ctx.reopen(sealed(ctx, GROW, 0), 'r')),
  }),
  clause({
    id: 'seal.shared-by-inode-dup',
    statement: Q.inode,
    source: seals('DESCRIPTION'),
    since: '3.17',
    expect: { seals: SHRINK },
    run: (ctx) => {
      const fd = sealed(ctx, 0, 0)
      addSeals(ctx, dup(ctx, fd), SHRINK)
      return getOutcome(fd)
    },
  }),
  clause({
    id: 'seal.shared-by-inode-reopen',
    statement: `${Q.inode} (The second fd is a new open file description from /proc/self/fd.)`,
    source: seals('DESCRIPTION'),
    since: '3.17',
    expect: { seals: GROW },
    run: (ctx) => {
      const fd = sealed(ctx, 0, 0)
      addSeals(ctx, ctx.reopen(fd, 'r+'), GROW)
      return getOutcome(fd)
    },
  }),
  clause({
    id: 'seal.shared-by-inode-fork',
    catalog: 'seal.shared-by-inode-dup (T-MEMFD test_share_fork)',
    statement: `${Q.inode} memfd_create(2): "A copy of the file descriptor is inherited by the child produced by fork(2) and refers to the same file."`,
    source: seals('DESCRIPTION'),
    since: '3.17',
    expect: { seals: WRITE },
    run: (ctx) => {
      const fd = sealed(ctx, 0, 0)
      ctx.setup(addInChild(fd, WRITE), 'F_ADD_SEALS(F_SEAL_WRITE) in the child')
      return getOutcome(fd)
    },
  }),
  clause({
    id: 'seal.seal-seal.blocks-add',
    statement: Q.sealSeal,
    source: seals('DESCRIPTION'),
    since: '3.17',
    expect: { errno: 'EPERM' },
    run: (ctx) => addOutcome(sealed(ctx, SEAL, 0), WRITE),
  }),
  clause({
    id: 'seal.seal-seal.blocks-add-zero',
    statement: `${Q.sealSeal} (Even an empty mask.)`,
    source: seals('DESCRIPTION'),
    since: '3.17',
    expect: { errno: 'EPERM' },
    run: (ctx) => addOutcome(sealed(ctx, SEAL, 0), 0),
  }),
  clause({
    id: 'seal.write.ebusy-is-all-or-nothing',
    statement: `${Q.ebusy} (Here arg is F_SEAL_WRITE | F_SEAL_SHRINK.)`,
    source: seals('ERRORS'),
    since: '3.17',
    expect: { errno: 'EBUSY' },
    run: (ctx) => {
      const fd = sealed(ctx, 0)
      ctx.mmap(ps, ...RW_SHARED, fd)
      return addOutcome(fd, WRITE | SHRINK)
    },
  }),
  clause({
    id: 'seal.write.ebusy-leaves-seals-unchanged',
    catalog: 'seal.write.ebusy-is-all-or-nothing',
    statement:
      'Not documented whether a refused F_ADD_SEALS adds any of the other seals in arg; the code (mm/memfd.c memfd_add_seals) applies the mask only after the F_SEAL_WRITE check passed, so nothing is added.',
    source: seals('ERRORS'),
    since: '3.17',
    expect: { seals: 0 },
    run: (ctx) => {
      const fd = sealed(ctx, 0)
      ctx.mmap(ps, ...RW_SHARED, fd)
      native.fcntl(fd, C.F_ADD_SEALS, WRITE | SHRINK)
      return getOutcome(fd)
    },
  }),
]

// §5.1 F_SEAL_SHRINK
const shrink: Clause[] = [
  clause({
    id: 'seal.shrink.ftruncate-smaller-eperm',
    statement: Q.shrink,
    source: seals('DESCRIPTION'),
    since: '3.17',
    expect: { errno: 'EPERM' },
    run: (ctx) => ftruncate(sealed(ctx, SHRINK, 2), ps),
  }),
  clause({
    id: 'seal.unsealed.ftruncate-smaller-ok',
    catalog: 'seal.shrink.ftruncate-smaller-eperm (control)',
    statement:
      'truncate(2): "The truncate() and ftruncate() functions cause the regular file named by path or referenced by fd to be truncated to a size of precisely length bytes." (Control: no seal.)',
    source: man('truncate', 'DESCRIPTION'),
    since: '3.17',
    expect: { ret: 0 },
    run: (ctx) => ftruncate(sealed(ctx, 0, 2), ps),
  }),
  clause({
    id: 'seal.shrink.truncate-path-eperm',
    catalog: 'seal.shrink.ftruncate-smaller-eperm',
    statement: `${Q.shrink} truncate(2): "${EPERM_SEAL}" (truncate(2) by the /proc/self/fd path.)`,
    source: seals('DESCRIPTION'),
    since: '3.17',
    expect: { errno: 'EPERM' },
    run: (ctx) => {
      const fd = sealed(ctx, SHRINK, 2)
      return attempt(() => truncateSync(`/proc/self/fd/${fd}`, ps))
    },
  }),
  clause({
    id: 'seal.shrink.ftruncate-same-ok',
    statement: `${Q.shrink} (Setting the size it already has shrinks nothing.)`,
    source: seals('DESCRIPTION'),
    since: '3.17',
    expect: { ret: 0 },
    run: (ctx) => ftruncate(sealed(ctx, SHRINK, 2), 2 * ps),
  }),
  clause({
    id: 'seal.shrink.open-otrunc-eperm',
    statement: `${Q.shrink} open(2): "${EPERM_SEAL}"`,
    source: seals('DESCRIPTION'),
    since: '3.17',
    expect: { errno: 'EPERM' },
    run: (ctx) => openOutcome(ctx, `/proc/self/fd/${sealed(ctx, SHRINK, 2)}`, C.O_RDWR | 0o1000 /* O_TRUNC */),
  }),
  clause({
    id: 'seal.unsealed.open-otrunc-ok',
    catalog: 'seal.shrink.open-otrunc-eperm (control)',
    statement:
      'open(2): "O_TRUNC: If the file already exists and is a regular file and the access mode allows writing (i.e., is O_RDWR or O_WRONLY) it will be truncated to length 0." (Control: no seal.)',
    source: man('open', 'DESCRIPTION'),
    since: '3.17',
    expect: { ret: 0 },
    run: (ctx) => openOutcome(ctx, `/proc/self/fd/${sealed(ctx, 0, 2)}`, C.O_RDWR | 0o1000 /* O_TRUNC */),
  }),
  clause({
    id: 'seal.shrink.grow-ok',
    statement: Q.shrink,
    source: seals('DESCRIPTION'),
    since: '3.17',
    expect: { ret: 0 },
    run: (ctx) => ftruncate(sealed(ctx, SHRINK, 2), 4 * ps),
  }),
  clause({
    id: 'seal.shrink.punch-hole-ok',
    statement: `${Q.shrink} (Not documented for fallocate(2); the code (mm/shmem.c shmem_fallocate) refuses a hole punch only for F_SEAL_WRITE/F_SEAL_FUTURE_WRITE, since FALLOC_FL_KEEP_SIZE keeps the size.)`,
    source: seals('DESCRIPTION'),
    since: '3.17',
    expect: { ret: 0 },
    run: (ctx) => fallocate(sealed(ctx, SHRINK, 2), PUNCH, 0, ps),
  }),
]

// §5.2 F_SEAL_GROW
const grow: Clause[] = [
  clause({
    id: 'seal.grow.ftruncate-bigger-eperm',
    statement: Q.grow,
    source: seals('DESCRIPTION'),
    since: '3.17',
    expect: { errno: 'EPERM' },
    run: (ctx) => ftruncate(sealed(ctx, GROW, 2), 3 * ps),
  }),
  clause({
    id: 'seal.unsealed.ftruncate-bigger-ok',
    catalog: 'seal.grow.ftruncate-bigger-eperm (control)',
    statement: 'truncate(2): "If the file previously was shorter, it is extended, and the extended part reads as null bytes (\'\\0\')." (Control: no seal.)',
    source: man('truncate', 'DESCRIPTION'),
    since: '3.17',
    expect: { ret: 0 },
    run: (ctx) => ftruncate(sealed(ctx, 0, 2), 3 * ps),
  }),
  clause({
    id: 'seal.grow.fallocate-beyond-eof-eperm',
    statement: `${Q.grow} fallocate(2): "${EPERM_SEAL}"`,
    source: seals('DESCRIPTION'),
    since: '3.17',
    expect: { errno: 'EPERM' },
    run: (ctx) => fallocate(sealed(ctx, GROW, 2), 0, 0, 4 * ps),
  }),
  clause({
    id: 'seal.grow.fallocate-keepsize-beyond-eof-eperm',
    statement: `${Q.grow} (FALLOC_FL_KEEP_SIZE beyond EOF allocates blocks but keeps the size.)`,
    source: seals('DESCRIPTION'),
    since: '3.17',
    expect: { ret: 0 },
    divergence: {
      doc: 'These calls fail with EPERM if you use them to increase the file size. If you keep the size or shrink it, those calls still work as expected.',
      kernel:
        'mm/shmem.c shmem_fallocate() refuses with EPERM whenever F_SEAL_GROW is set and offset + len > i_size, whatever the mode, so fallocate(FALLOC_FL_KEEP_SIZE) beyond EOF fails although the size would not change.',
    },
    history: [
      {
        range: '*',
        observed: { errno: 'EPERM' },
        behaviour: 'F_SEAL_GROW refuses any fallocate that reaches past EOF, FALLOC_FL_KEEP_SIZE included.',
        ref: 'mm/shmem.c shmem_fallocate() (F_SEAL_GROW and offset + len > inode->i_size)',
      },
    ],
    run: (ctx) => fallocate(sealed(ctx, GROW, 2), C.FALLOC_FL_KEEP_SIZE, 0, 4 * ps),
  }),
  clause({
    id: 'seal.unsealed.fallocate-keepsize-beyond-eof-ok',
    catalog: 'seal.grow.fallocate-keepsize-beyond-eof-eperm (control)',
    statement:
      'fallocate(2): "If the FALLOC_FL_KEEP_SIZE flag is specified in mode, the behavior of the call is similar, but the file size will not be changed even if offset+len is greater than the file size." (Control: no seal.)',
    source: man('fallocate', 'DESCRIPTION'),
    since: '3.17',
    expect: { ret: 0 },
    run: (ctx) => fallocate(sealed(ctx, 0, 2), C.FALLOC_FL_KEEP_SIZE, 0, 4 * ps),
  }),
  clause({
    id: 'seal.grow.fallocate-within-ok',
    statement: Q.grow,
    source: seals('DESCRIPTION'),
    since: '3.17',
    expect: { ret: 0 },
    run: (ctx) => fallocate(sealed(ctx, GROW, 2), 0, 0, 2 * ps),
  }),
  clause({
    id: 'seal.grow.pwrite-at-eof-eperm',
    statement: `${Q.grow} write(2): "${EPERM_SEAL}"`,
    source: seals('DESCRIPTION'),
    since: '3.17',
    expect: { errno: 'EPERM' },
    run: (ctx) => write(sealed(ctx, GROW, 2), 1, 2 * ps),
  }),
  clause({
    id: 'seal.unsealed.pwrite-at-eof-ok',
    catalog: 'seal.grow.pwrite-at-eof-eperm (control)',
    statement: 'write(2): "On success, the number of bytes written is returned." (Control: no seal; a write at EOF extends the file.)',
    source: man('write', 'RETURN VALUE'),
    since: '3.17',
    expect: { ret: 1 },
    run: (ctx) => write(sealed(ctx, 0, 2), 1, 2 * ps),
  }),
  clause({
    id: 'seal.grow.pwrite-straddling-eof-short',
    statement: `${Q.grow} (A pwrite of two pages starting one page before EOF.)`,
    source: seals('DESCRIPTION'),
    since: '3.17',
    expect: { errno: 'EPERM' },
    divergence: {
      doc: 'F_SEAL_GROW affects write(2) beyond the end of the file … These calls fail with EPERM if you use them to increase the file size.',
      kernel:
        'mm/shmem.c shmem_write_begin() checks F_SEAL_GROW per page (pos + len > i_size), so a write that starts before EOF and runs past it is short: it writes up to EOF and returns that count. Only a write that starts at or after EOF fails with EPERM.',
    },
    history: [
      {
        range: '*',
        observed: { ret: ps },
        behaviour: 'A write crossing EOF under F_SEAL_GROW writes the bytes up to EOF and returns a short count instead of failing.',
        ref: 'mm/shmem.c shmem_write_begin() (per-page F_SEAL_GROW check)',
      },
    ],
    run: (ctx) => write(sealed(ctx, GROW, 2), 2 * ps, ps),
  }),
  clause({
    id: 'seal.grow.write-within-ok',
    statement: Q.grow,
    source: seals('DESCRIPTION'),
    since: '3.17',
    expect: { ret: 1 },
    run: (ctx) => write(sealed(ctx, GROW, 2), 1, 0),
  }),
  clause({
    id: 'seal.grow.shrink-ok',
    statement: Q.grow,
    source: seals('DESCRIPTION'),
    since: '3.17',
    expect: { ret: 0 },
    run: (ctx) => ftruncate(sealed(ctx, GROW, 2), ps),
  }),
]

// §5.3 F_SEAL_WRITE: writes, sizes and the EBUSY rules
const writeSeal: Clause[] = [
  clause({
    id: 'seal.write.add-no-mappings',
    statement: `${Q.ebusy} (No mapping exists: the seal is added.)`,
    source: seals('DESCRIPTION'),
    since: '3.17',
    expect: { ret: 0 },
    run: (ctx) => addOutcome(sealed(ctx, 0), WRITE),
  }),
  clause({
    id: 'seal.write.write-eperm',
    statement: `${Q.write} write(2): "${EPERM_SEAL}"`,
    source: seals('DESCRIPTION'),
    since: '3.17',
    expect: { errno: 'EPERM' },
    run: (ctx) => write(sealed(ctx, WRITE), 1),
  }),
  clause({
    id: 'seal.unsealed.write-ok',
    catalog: 'seal.write.write-eperm (control)',
    statement: 'write(2): "On success, the number of bytes written is returned." (Control: no seal.)',
    source: man('write', 'RETURN VALUE'),
    since: '3.17',
    expect: { ret: 1 },
    run: (ctx) => write(sealed(ctx, 0), 1),
  }),
  clause({
    id: 'seal.write.pwrite-eperm',
    statement: `${Q.write} pwrite(2): "${EPERM_SEAL}"`,
    source: seals('DESCRIPTION'),
    since: '3.17',
    expect: { errno: 'EPERM' },
    run: (ctx) => write(sealed(ctx, WRITE), 1, 0),
  }),
  clause({
    id: 'seal.write.pwrite-beyond-eof-eperm',
    statement: `${Q.write} (A pwrite past EOF would also grow the file; it is still a write.)`,
    source: seals('DESCRIPTION'),
    since: '3.17',
    expect: { errno: 'EPERM' },
    run: (ctx) => write(sealed(ctx, WRITE), 1, 4 * ps),
  }),
  clause({
    id: 'seal.write.punch-hole-eperm',
    statement: `${Q.write} fallocate(2): "${EPERM_SEAL}"`,
    source: seals('DESCRIPTION'),
    since: '3.17',
    expect: { errno: 'EPERM' },
    run: (ctx) => fallocate(sealed(ctx, WRITE, 2), PUNCH, 0, ps),
  }),
  clause({
    id: 'seal.unsealed.punch-hole-ok',
    catalog: 'seal.write.punch-hole-eperm (control)',
    statement:
      'fallocate(2): "Specifying the FALLOC_FL_PUNCH_HOLE flag (available since Linux 2.6.38) in mode deallocates space (i.e., creates a hole) in the byte range starting at offset and continuing for len bytes." (Control: no seal.)',
    source: man('fallocate', 'DESCRIPTION'),
    since: '3.17',
    expect: { ret: 0 },
    run: (ctx) => fallocate(sealed(ctx, 0, 2), PUNCH, 0, ps),
  }),
  clause({
    id: 'seal.write.fallocate-grow-ok',
    statement: Q.write,
    source: seals('DESCRIPTION'),
    since: '3.17',
    expect: { ret: 0 },
    run: (ctx) => fallocate(sealed(ctx, WRITE), 0, 0, 4 * ps),
  }),
  clause({
    id: 'seal.write.ftruncate-shrink-ok',
    statement: Q.write,
    source: seals('DESCRIPTION'),
    since: '3.17',
    expect: { ret: 0 },
    run: (ctx) => ftruncate(sealed(ctx, WRITE, 2), ps),
  }),
  clause({
    id: 'seal.write.ftruncate-grow-ok',
    statement: Q.write,
    source: seals('DESCRIPTION'),
    since: '3.17',
    expect: { ret: 0 },
    run: (ctx) => ftruncate(sealed(ctx, WRITE, 2), 8 * ps),
  }),
  clause({
    id: 'seal.write.ebusy-with-rw-shared-mapping',
    statement: `${Q.ebusy} EBUSY: op is F_ADD_SEALS, arg includes F_SEAL_WRITE, and there exists a writable, shared mapping on the file referred to by fd.`,
    source: seals('ERRORS'),
    since: '3.17',
    expect: { errno: 'EBUSY' },
    run: (ctx) => {
      const fd = sealed(ctx, 0)
      ctx.mmap(ps, ...RW_SHARED, fd)
      return addOutcome(fd, WRITE)
    },
  }),
  clause({
    id: 'seal.write.ok-after-munmap',
    statement: Q.ebusy,
    source: seals('DESCRIPTION'),
    since: '3.17',
    expect: { ret: 0 },
    run: (ctx) => {
      const fd = sealed(ctx, 0)
      const r = ctx.mmap(ps, ...RW_SHARED, fd)
      ctx.forget(r)
      ctx.setup(native.raw.munmap(r, 0, ps), 'munmap')
      return addOutcome(fd, WRITE)
    },
  }),
  clause({
    id: 'seal.write.ebusy-with-ro-shared-mapping-of-rdwr-fd',
    statement: `${Q.ebusy} (The only mapping is PROT_READ, MAP_SHARED, made through the O_RDWR memfd.)`,
    source: seals('ERRORS'),
    since: '3.17',
    expect: { ret: 0 },
    divergence: {
      doc: 'EBUSY: … arg includes F_SEAL_WRITE, and there exists a writable, shared mapping on the file referred to by fd.',
      kernel:
        "A PROT_READ MAP_SHARED mapping of an fd open for writing keeps VM_MAYWRITE (it could be mprotect'ed writable), and mm/memfd.c counts every such mapping (mapping_deny_writable(); is_shared_maywrite() since 6.7), so F_SEAL_WRITE fails with EBUSY.",
    },
    history: [
      {
        range: '*',
        observed: { errno: 'EBUSY' },
        behaviour: 'A read-only shared mapping made through a writable fd counts as writable and blocks F_SEAL_WRITE.',
        ref: 'mm/memfd.c memfd_add_seals() → mapping_deny_writable(); include/linux/mm.h is_shared_maywrite()',
      },
    ],
    run: (ctx) => {
      const fd = sealed(ctx, 0)
      ctx.mmap(ps, C.PROT_READ, C.MAP_SHARED, fd)
      return addOutcome(fd, WRITE)
    },
  }),
  clause({
    id: 'seal.write.ok-with-ro-shared-mapping-of-rdonly-fd',
    statement: `${Q.ebusy} (The only mapping is PROT_READ, MAP_SHARED, made through an O_RDONLY fd: it can never become writable.)`,
    source: seals('ERRORS'),
    since: '3.17',
    expect: { ret: 0 },
    run: (ctx) => {
      const fd = sealed(ctx, 0)
      ctx.mmap(ps, C.PROT_READ, C.MAP_SHARED, ctx.reopen(fd, 'r'))
      return addOutcome(fd, WRITE)
    },
  }),
  clause({
    id: 'seal.write.ok-with-private-mapping',
    statement: `${Q.ebusy} (The only mapping is PROT_READ|PROT_WRITE, MAP_PRIVATE, and has been written: it is not shared.)`,
    source: seals('ERRORS'),
    since: '3.17',
    expect: { ret: 0 },
    run: (ctx) => {
      const fd = sealed(ctx, 0)
      const r = ctx.mmap(ps, C.PROT_READ | C.PROT_WRITE, C.MAP_PRIVATE, fd)
      native.raw.poke(r, 0, Buffer.from([0x41]))
      return addOutcome(fd, WRITE)
    },
  }),
  clause({
    id: 'seal.write.ebusy-gup-longterm-pin',
    statement: `${Q.ebusy} ${Q.aio} (Here the pages of an unmapped shared mapping are still pinned as an io_uring fixed buffer.)`,
    source: seals('DESCRIPTION'),
    since: '3.17',
    needs: ['ioUring'],
    expect: { ret: 0 },
    divergence: {
      doc: Q.aio,
      kernel:
        'mm/memfd.c memfd_wait_for_pins() waits about 150 ms for extra page references (GUP pins such as io_uring registered buffers, or I/O in flight) to go away and then fails F_ADD_SEALS(F_SEAL_WRITE) with EBUSY; nothing is discarded and the seal is not added.',
    },
    history: [
      {
        range: '*',
        observed: { errno: 'EBUSY' },
        behaviour: 'F_SEAL_WRITE fails with EBUSY while any page of the file is pinned, after a wait of about 150 ms.',
        ref: 'mm/memfd.c memfd_wait_for_pins(); tools/testing/selftests/memfd/fuse_test.c',
      },
    ],
    run: (ctx) => {
      const fd = sealed(ctx, 0)
      const r = ctx.mmap(ps, ...RW_SHARED, fd)
      const ring = ctx.setup(native.raw.pinPages(r, 0, ps), 'io_uring_register(IORING_REGISTER_BUFFERS)')
      ctx.defer(() => native.raw.unpinPages(ring))
      ctx.forget(r)
      ctx.setup(native.raw.munmap(r, 0, ps), 'munmap')
      return addOutcome(fd, WRITE)
    },
  }),
  clause({
    id: 'seal.write.ok-after-unpin',
    catalog: 'seal.write.ebusy-gup-longterm-pin (control)',
    statement: `${Q.ebusy} (The io_uring fixed buffer was unregistered after the munmap: no mapping and no pin remain.)`,
    source: seals('DESCRIPTION'),
    since: '3.17',
    needs: ['ioUring'],
    expect: { ret: 0 },
    run: (ctx) => {
      const fd = sealed(ctx, 0)
      const r = ctx.mmap(ps, ...RW_SHARED, fd)
      const ring = ctx.setup(native.raw.pinPages(r, 0, ps), 'io_uring_register(IORING_REGISTER_BUFFERS)')
      ctx.forget(r)
      ctx.setup(native.raw.munmap(r, 0, ps), 'munmap')
      ctx.setup(native.raw.unpinPages(ring), 'io_uring_register(IORING_UNREGISTER_BUFFERS)')
      return addOutcome(fd, WRITE)
    },
  }),
]

// §5.4 F_SEAL_FUTURE_WRITE: writes and the seal rules (mappings: mmap.future-write.*)
const futureWrite: Clause[] = [
  clause({
    id: 'seal.future-write.add-with-rw-mapping-ok',
    statement: `${Q.futureWrite} (Adding it while a shared writable mapping exists.)`,
    source: seals('DESCRIPTION'),
    since: '5.1',
    needs: ['futureWrite'],
    expect: { ret: 0 },
    run: (ctx) => {
      const fd = sealed(ctx, 0)
      ctx.mmap(ps, ...RW_SHARED, fd)
      return addOutcome(fd, FUTURE_WRITE)
    },
  }),
  clause({
    id: 'seal.future-write.write-eperm',
    statement: Q.futureWrite,
    source: seals('DESCRIPTION'),
    since: '5.1',
    needs: ['futureWrite'],
    expect: { errno: 'EPERM' },
    run: (ctx) => write(sealed(ctx, FUTURE_WRITE), 1),
  }),
  clause({
    id: 'seal.future-write.pwrite-eperm',
    catalog: 'seal.future-write.write-eperm',
    statement: `${Q.futureWrite} pwrite(2): "${EPERM_SEAL}"`,
    source: seals('DESCRIPTION'),
    since: '5.1',
    needs: ['futureWrite'],
    expect: { errno: 'EPERM' },
    run: (ctx) => write(sealed(ctx, FUTURE_WRITE), 1, 0),
  }),
  clause({
    id: 'seal.future-write.punch-hole-eperm',
    statement: `${Q.futureWrite} F_SEAL_WRITE "affects write(2) and fallocate(2) (only in combination with the FALLOC_FL_PUNCH_HOLE flag)". (F_SEAL_FUTURE_WRITE names only write(2) and mmap(2); the code (mm/shmem.c shmem_fallocate) treats a hole punch like F_SEAL_WRITE does.)`,
    source: seals('DESCRIPTION'),
    since: '5.1',
    needs: ['futureWrite'],
    expect: { errno: 'EPERM' },
    run: (ctx) => fallocate(sealed(ctx, FUTURE_WRITE, 2), PUNCH, 0, ps),
  }),
  clause({
    id: 'seal.future-write.then-write-ebusy',
    statement: `${Q.ebusy} (F_SEAL_FUTURE_WRITE was added while a shared writable mapping existed; that mapping still blocks F_SEAL_WRITE.)`,
    source: seals('ERRORS'),
    since: '5.1',
    needs: ['futureWrite'],
    expect: { errno: 'EBUSY' },
    run: (ctx) => {
      const fd = sealed(ctx, 0)
      ctx.mmap(ps, ...RW_SHARED, fd)
      addSeals(ctx, fd, FUTURE_WRITE)
      return addOutcome(fd, WRITE)
    },
  }),
]

// §6 hugetlbfs memfds
const hugetlb: Clause[] = [
  clause({
    id: 'seal.hugetlb.add-seal-grow',
    catalog: 'mfd.hugetlb.add-seal-grow',
    statement:
      'memfd_create(2): "Specifying both MFD_HUGETLB and MFD_ALLOW_SEALING in flags is supported since Linux 4.16." F_ADD_SEALS(2const): "Currently, file seals can be applied only to a file descriptor returned by memfd_create(2) (if the MFD_ALLOW_SEALING was employed)."',
    source: { doc: 'memfd_create(2)', section: 'DESCRIPTION', url: 'https://man7.org/linux/man-pages/man2/memfd_create.2.html' },
    since: '4.16',
    needs: ['hugetlb', 'allowSealing'],
    expect: { ret: 0 },
    run: (ctx) => {
      const fd = ctx.memfd(C.MFD_ALLOW_SEALING | C.MFD_HUGETLB, 'memseal-huge')
      return addOutcome(fd, GROW)
    },
  }),
  clause({
    id: 'seal.hugetlb.seal-grow-ftruncate-eperm',
    catalog: 'mfd.hugetlb.seal-grow-ftruncate-eperm',
    statement: `${Q.grow} (A hugetlbfs memfd sized to one huge page, then F_SEAL_GROW, then ftruncate to two.)`,
    source: seals('DESCRIPTION'),
    since: '4.16',
    needs: ['hugetlb', 'allowSealing'],
    expect: { errno: 'EPERM' },
    run: (ctx) => {
      const fd = ctx.memfd(C.MFD_ALLOW_SEALING | C.MFD_HUGETLB, 'memseal-huge')
      const huge = hugePageSize(fd)
      resize(fd, huge)
      addSeals(ctx, fd, GROW)
      return ftruncate(fd, 2 * huge)
    },
  }),
]

// §8 never-merged seal bits (negative conformance)
const notMerged: Clause[] = [
  clause({
    id: 'seal.future-exec.not-merged',
    statement: `${Q.unknownBit} (0x40 was proposed as F_SEAL_FUTURE_EXEC, Isaac J. Manjarres, RFC 2024-12 and 2025-01; it was not merged.)`,
    source: seals('ERRORS'),
    since: '3.17',
    expect: { errno: 'EINVAL', seals: 0 },
    run: (ctx) => {
      const fd = sealed(ctx, 0)
      const r = native.fcntl(fd, C.F_ADD_SEALS, 0x40)
      return { ...outcome(r), seals: sealsOf(ctx, fd) }
    },
  }),
  clause({
    id: 'seal.inaccessible.not-merged',
    statement: `${Q.unknownBit} (F_SEAL_INACCESSIBLE / F_SEAL_GUEST from the 2021–2022 KVM private-memory RFCs became guest_memfd instead; every bit above F_SEAL_EXEC, 0x40 … 0x40000000, is still unrecognized.)`,
    source: seals('ERRORS'),
    since: '3.17',
    expect: { accepted: [] },
    run: (ctx) => {
      const fd = sealed(ctx, 0)
      const accepted: string[] = []
      for (let bit = 6; bit <= 30; bit++) {
        const r = native.fcntl(fd, C.F_ADD_SEALS, 1 << bit)
        if (r >= 0 || outcome(r).errno !== 'EINVAL') accepted.push(`0x${(1 << bit).toString(16)}: ${r < 0 ? errnoName(r) : 'added'}`)
      }
      return { accepted }
    },
  }),
]

export const clauses: Clause[] = [...generic, ...shrink, ...grow, ...writeSeal, ...futureWrite, ...hugetlb, ...notMerged]
