/**
 * fcntl(F_ADD_SEALS / F_GET_SEALS) themselves (catalog §4): which files support seals, which bits are
 * seals, who may add them, and F_SEAL_SEAL. Every F_ADD_SEALS is judged with the seals it leaves
 * (F_GET_SEALS afterwards), so a call that "succeeds" and adds nothing cannot pass, and a refused call
 * must leave the set as it was. memfd_test.c test_basic and LTP memfd_create01 "Basic tests" are the
 * sequence at the end.
 */
import type { Ctx } from '../ctx'
import { compareVersions, parseVersion } from '../../kernel/version'
import type { Clause, KernelFacts, Observation } from '../types'
import { memfdCreate, MEMFD } from './memfd-docs'
import { atEveryLevel, base, clause, EXEC, FUTURE_WRITE, GROW, SEAL, sealed, sealNames, SHRINK, WRITE } from './seal-common'
import { OLD_FCNTL, oldFcntl, seals, SEALS } from './seal-docs'

/** Other kinds of file: a regular file outside tmpfs, a FIFO, and a file open(2)ed on a tmpfs mount. */
const otherFiles: Clause[] = [
  clause({
    id: 'seal.get.non-shmem-file-einval',
    quote: [seals('DESCRIPTION', SEALS.otherFs), seals('DESCRIPTION', SEALS.get)],
    note: 'F_GET_SEALS on a regular file created in a directory that is not on tmpfs (the temporary directory, the home or the working directory).',
    since: '3.17',
    expect: { errno: 'EINVAL' },
    run: (ctx) => ctx.try.getSeals(ctx.file.regularFile()),
  }),
  clause({
    id: 'seal.add.non-shmem-file-einval',
    catalog: 'seal.get.non-shmem-file-einval',
    quote: [seals('DESCRIPTION', SEALS.otherFs), seals('ERRORS', SEALS.eNoSealing)],
    note: 'F_ADD_SEALS(F_SEAL_WRITE) on the same kind of regular file; F_GET_SEALS afterwards still answers EINVAL.',
    since: '3.17',
    expect: { errno: 'EINVAL', seals: 'EINVAL' },
    run: (ctx) => ctx.try.addSeals(ctx.file.regularFile(), WRITE),
  }),
  clause({
    id: 'seal.get.pipe-einval',
    quote: [seals('DESCRIPTION', SEALS.otherFs), seals('DESCRIPTION', SEALS.get)],
    note: 'F_GET_SEALS on a FIFO (a pipe in the kernel) opened O_RDWR.',
    since: '3.17',
    expect: { errno: 'EINVAL' },
    run: (ctx) => ctx.try.getSeals(ctx.file.fifo()),
  }),
  clause({
    id: 'seal.add.pipe-einval',
    catalog: 'seal.get.pipe-einval',
    quote: [seals('DESCRIPTION', SEALS.otherFs), seals('ERRORS', SEALS.eNoSealing)],
    note: 'F_ADD_SEALS(F_SEAL_WRITE) on the same kind of FIFO.',
    since: '3.17',
    expect: { errno: 'EINVAL', seals: 'EINVAL' },
    run: (ctx) => ctx.try.addSeals(ctx.file.fifo(), WRITE),
  }),
  clause({
    id: 'seal.get.tmpfs-file-returns-seal-seal',
    quote: [
      seals('DESCRIPTION', SEALS.sealed),
      seals('DESCRIPTION', SEALS.otherFs),
      seals('DESCRIPTION', SEALS.sealSeal),
      memfdCreate('DESCRIPTION', MEMFD.allowSealing),
      memfdCreate('NOTES', MEMFD.tmpfs),
    ],
    note: 'F_GET_SEALS on a file created with open(2) on a tmpfs mount (/dev/shm or another). The EINVAL of the page is for "other filesystems"; tmpfs is the filesystem memfd_create(2) itself makes its files on (NOTES: "creates a tmpfs(5) file"), and "the default set of seals depends on the type of the underlying file and filesystem". Such a file cannot take seals, since only memfds made with MFD_ALLOW_SEALING can, and the documents name one way for a file of a sealing filesystem to refuse every seal: an initial set holding F_SEAL_SEAL, which memfd_create(2) gives every memfd made without MFD_ALLOW_SEALING. So the documented answer is that set, F_SEAL_SEAL. (mm/shmem.c gives every shmem inode F_SEAL_SEAL, and mm/memfd.c treats any shmem file as sealable.)',
    since: '3.17',
    expect: { seals: SEAL },
    run: (ctx) => ctx.try.getSeals(ctx.file.tmpfsFile()),
  }),
  clause({
    id: 'seal.add.tmpfs-file-eperm',
    catalog: 'seal.get.tmpfs-file-returns-seal-seal',
    quote: [seals('DESCRIPTION', SEALS.otherFs), seals('DESCRIPTION', SEALS.sealSeal), seals('ERRORS', SEALS.ePerm)],
    note: 'F_ADD_SEALS(F_SEAL_WRITE) on the same kind of tmpfs file: its set holds F_SEAL_SEAL (seal.get.tmpfs-file-returns-seal-seal), so the documented answer is EPERM, and the set stays F_SEAL_SEAL.',
    since: '3.17',
    expect: { errno: 'EPERM', seals: SEAL },
    run: (ctx) => ctx.try.addSeals(ctx.file.tmpfsFile(), WRITE),
  }),
]

/** Which bits are seals, by the document of the kernel's era. */
const bits: Clause[] = [
  clause({
    id: 'seal.add.unknown-bit-0x40-einval',
    catalog: 'seal.add.unknown-bit-0x40-einval; seal.future-exec.not-merged',
    quote: seals('ERRORS', SEALS.eUnknownBit),
    note: '0x40 is the first bit above F_SEAL_EXEC. It was proposed as F_SEAL_FUTURE_EXEC (Isaac J. Manjarres, RFC 2024-12 and 2025-01) and not merged. The seals stay as they were.',
    since: '3.17',
    expect: (k) => ({ errno: 'EINVAL', seals: base(k) }),
    run: (ctx) => ctx.try.addSeals(sealed(ctx, 0, 0), 0x40),
  }),
  clause({
    id: 'seal.add.bit31-einval',
    quote: seals('ERRORS', SEALS.eUnknownBit),
    note: 'Bit 31 is not a seal ("(1U << 31) is reserved for signed error codes", include/uapi/linux/fcntl.h). The seals stay as they were.',
    since: '3.17',
    expect: (k) => ({ errno: 'EINVAL', seals: base(k) }),
    run: (ctx) => ctx.try.addSeals(sealed(ctx, 0, 0), 0x80000000),
  }),
  clause({
    id: 'seal.add.bits-above-exec-einval',
    catalog: 'seal.inaccessible.not-merged',
    quote: [seals('ERRORS', SEALS.eUnknownBit), seals('DESCRIPTION', SEALS.exec)],
    note: 'Every bit from 0x40 to 0x40000000, one F_ADD_SEALS each: all unrecognized (F_SEAL_INACCESSIBLE / F_SEAL_GUEST of the 2021–2022 KVM private-memory RFCs became guest_memfd instead). The observation lists the distinct answers (a bit that was added shows as "added 0x…"), and the seals afterwards.',
    since: '3.17',
    expect: (k) => ({ answers: ['EINVAL'], seals: base(k) }),
    run: (ctx) => {
      const fd = sealed(ctx, 0, 0)
      const answers = new Set<string>()
      for (let bit = 6; bit <= 30; bit++) {
        const r = ctx.try.addSeals(fd, 1 << bit)
        answers.add(typeof r.errno === 'string' ? r.errno : `added 0x${(1 << bit).toString(16)}`)
      }
      return { answers: [...answers].sort(), ...ctx.try.getSeals(fd) }
    },
  }),
  clause({
    id: 'seal.add.exec-bit-by-era',
    quote: [oldFcntl('File Sealing', OLD_FCNTL.seals), oldFcntl('ERRORS', OLD_FCNTL.eUnknownBit), seals('DESCRIPTION', SEALS.exec)],
    note:
      'F_ADD_SEALS(0x20) on a sealable memfd of mode 0777, judged by the document of the kernel\'s era: before Linux 6.3 the seals end at F_SEAL_FUTURE_WRITE (fcntl(2), man-pages 6.03), so 0x20 is "an unrecognized sealing bit" (EINVAL, nothing added); from 6.3 it is F_SEAL_EXEC, which "implicitly adds F_SEAL_GROW, F_SEAL_SHRINK, F_SEAL_WRITE, and F_SEAL_FUTURE_WRITE" (F_ADD_SEALS(2const), man-pages 6.20). ' +
      'Runs at vm.memfd_noexec 0, where such a memfd is 0777 and has no F_SEAL_EXEC yet.',
    mirrors: ['memfd_test.c test_exec_seal (Apply ALL_SEALS)'],
    since: '3.17',
    needs: [{ memfdNoexecAtMost: 0 }],
    expect: (k: KernelFacts): Observation =>
      compareVersions(k.version, parseVersion('6.3')) < 0 ? { errno: 'EINVAL', seals: 0 } : { ret: 0, seals: EXEC | SHRINK | GROW | WRITE | FUTURE_WRITE },
    run: (ctx) => ctx.try.addSeals(sealed(ctx, 0, 0), EXEC),
  }),
  clause({
    id: 'seal.add.upper32-ignored',
    quote: seals('SYNOPSIS', SEALS.synopsis),
    note: 'arg is an int, so only its low 32 bits are the seal mask: 0x1_0000_0002 is F_SEAL_SHRINK as an int.',
    since: '6.5',
    expect: (k) => ({ ret: 0, seals: base(k, SHRINK) }),
    history: atEveryLevel({
      range: '<6.5',
      observed: { errno: 'EINVAL', seals: 0 },
      behaviour:
        'Before 6.5 memfd_fcntl() took an unsigned long and refused any arg above UINT_MAX with EINVAL instead of truncating it to the documented int.',
      ref: '"fcntl: Cast commands with int args explicitly" (Luca Vizzarro, 6.5 merge window)',
    }),
    run: (ctx) => ctx.try.addSeals(sealed(ctx, 0, 0), (1n << 32n) | BigInt(SHRINK)),
  }),
]

/** F_ADD_SEALS on a sealable memfd: what it adds, who may add, and F_SEAL_SEAL. */
const adding: Clause[] = [
  clause({
    id: 'seal.add.zero-noop',
    quote: [seals('DESCRIPTION', SEALS.add), seals('RETURN VALUE', SEALS.returnAdd)],
    note: 'An empty mask adds nothing and returns zero.',
    since: '3.17',
    expect: (k) => ({ ret: 0, seals: base(k) }),
    run: (ctx) => ctx.try.addSeals(sealed(ctx, 0, 0), 0),
  }),
  clause({
    id: 'seal.add.several-at-once-ok',
    quote: [seals('DESCRIPTION', SEALS.add), seals('RETURN VALUE', SEALS.returnAdd)],
    note: 'F_SEAL_SHRINK | F_SEAL_WRITE in one call: both are set.',
    mirrors: ['memfd_test.c test_basic', 'LTP memfd_create01 test_basic'],
    since: '3.17',
    expect: (k) => ({ ret: 0, seals: base(k, SHRINK | WRITE) }),
    run: (ctx) => ctx.try.addSeals(sealed(ctx, 0), SHRINK | WRITE),
  }),
  clause({
    id: 'seal.add.idempotent',
    quote: seals('DESCRIPTION', SEALS.noop),
    note: 'F_SEAL_SHRINK added a second time: zero, and the set is unchanged.',
    mirrors: ['memfd_test.c test_basic', 'LTP memfd_create01 test_basic'],
    since: '3.17',
    expect: (k) => ({ ret: 0, seals: base(k, SHRINK) }),
    run: (ctx) => ctx.try.addSeals(sealed(ctx, SHRINK, 0), SHRINK),
  }),
  clause({
    id: 'seal.add.rdonly-fd-eperm',
    quote: [seals('DESCRIPTION', SEALS.writable), seals('ERRORS', SEALS.ePerm)],
    note: 'F_ADD_SEALS(F_SEAL_GROW) through the same memfd reopened O_RDONLY (/proc/self/fd/N): refused, nothing added.',
    mirrors: ['memfd_test.c test_share_open'],
    since: '3.17',
    expect: (k) => ({ errno: 'EPERM', seals: base(k) }),
    run: (ctx) => ctx.try.addSeals(ctx.file.reopen(sealed(ctx, 0, 0), 'r'), GROW),
  }),
  clause({
    id: 'seal.add.rdwr-reopened-fd-ok',
    catalog: 'seal.add.rdonly-fd-eperm (control)',
    quote: seals('DESCRIPTION', SEALS.writable),
    note: 'Control for seal.add.rdonly-fd-eperm: the same memfd reopened O_RDWR adds F_SEAL_GROW.',
    mirrors: ['memfd_test.c test_share_open'],
    since: '3.17',
    expect: (k) => ({ ret: 0, seals: base(k, GROW) }),
    run: (ctx) => ctx.try.addSeals(ctx.file.reopen(sealed(ctx, 0, 0), 'r+'), GROW),
  }),
  clause({
    id: 'seal.add.rdonly-fd-unknown-bit-eperm-first',
    basis: 'code',
    quote: {
      doc: 'mm/memfd.c',
      version: 'Linux 7.2',
      section: 'memfd_add_seals()',
      text: 'if (!(file->f_mode & FMODE_WRITE)) return -EPERM; if (seals & ~(unsigned int)F_ALL_SEALS) return -EINVAL;',
    },
    note: 'No document says which error wins when both apply; the code checks that the fd is open for writing (EPERM) before it checks the bits (EINVAL). An O_RDONLY reopen with the bit 0x40.',
    since: '3.17',
    expect: (k) => ({ errno: 'EPERM', seals: base(k) }),
    run: (ctx) => ctx.try.addSeals(ctx.file.reopen(sealed(ctx, 0, 0), 'r'), 0x40),
  }),
  clause({
    id: 'seal.seal-seal.unknown-bit-einval-first',
    basis: 'code',
    quote: {
      doc: 'mm/memfd.c',
      version: 'Linux 7.2',
      section: 'memfd_add_seals()',
      text: 'if (seals & ~(unsigned int)F_ALL_SEALS) return -EINVAL; … if (*file_seals & F_SEAL_SEAL) { error = -EPERM;',
    },
    note: 'No document says which error wins when both apply; the code checks the bits (EINVAL) before F_SEAL_SEAL (EPERM). The bit 0x40 on a memfd sealed with F_SEAL_SEAL.',
    since: '3.17',
    expect: (k) => ({ errno: 'EINVAL', seals: base(k, SEAL) }),
    run: (ctx) => ctx.try.addSeals(sealed(ctx, SEAL, 0), 0x40),
  }),
  clause({
    id: 'seal.get.rdonly-fd-ok',
    quote: seals('DESCRIPTION', SEALS.get),
    note: 'Only F_ADD_SEALS needs a writable fd: F_GET_SEALS through an O_RDONLY reopen shows F_SEAL_GROW.',
    since: '3.17',
    expect: (k) => ({ seals: base(k, GROW) }),
    run: (ctx) => ctx.try.getSeals(ctx.file.reopen(sealed(ctx, GROW, 0), 'r')),
  }),
  clause({
    id: 'seal.seal-seal.add-with-others-ok',
    quote: [seals('DESCRIPTION', SEALS.add), seals('DESCRIPTION', SEALS.sealSeal)],
    note: 'F_SEAL_GROW | F_SEAL_SEAL in one call: both are set (the seal on sealing applies to later calls).',
    mirrors: ['memfd_test.c test_basic', 'LTP memfd_create01 test_basic'],
    since: '3.17',
    expect: (k) => ({ ret: 0, seals: base(k, GROW | SEAL) }),
    run: (ctx) => ctx.try.addSeals(sealed(ctx, 0, 0), GROW | SEAL),
  }),
  clause({
    id: 'seal.seal-seal.blocks-add-eperm',
    catalog: 'seal.seal-seal.blocks-add',
    quote: [seals('DESCRIPTION', SEALS.sealSeal), seals('ERRORS', SEALS.ePerm)],
    note: 'F_SEAL_WRITE after F_SEAL_SEAL: refused, nothing added.',
    mirrors: ['memfd_test.c test_basic', 'LTP memfd_create01 test_basic'],
    since: '3.17',
    expect: (k) => ({ errno: 'EPERM', seals: base(k, SEAL) }),
    run: (ctx) => ctx.try.addSeals(sealed(ctx, SEAL, 0), WRITE),
  }),
  clause({
    id: 'seal.seal-seal.blocks-add-zero-eperm',
    catalog: 'seal.seal-seal.blocks-add-zero',
    quote: [seals('DESCRIPTION', SEALS.sealSeal), seals('ERRORS', SEALS.ePerm)],
    note: 'Even an empty mask after F_SEAL_SEAL is refused ("any further call").',
    mirrors: ['memfd_test.c test_basic', 'LTP memfd_create01 test_basic'],
    since: '3.17',
    expect: (k) => ({ errno: 'EPERM', seals: base(k, SEAL) }),
    run: (ctx) => ctx.try.addSeals(sealed(ctx, SEAL, 0), 0),
  }),
  clause({
    id: 'seal.seal-seal.blocks-seal-seal-eperm',
    quote: [seals('DESCRIPTION', SEALS.add), seals('ERRORS', SEALS.ePerm)],
    note: 'F_SEAL_SEAL added again after F_SEAL_SEAL: refused, although adding a seal that is already set is otherwise a no-op ("in case F_SEAL_SEAL is not set already").',
    mirrors: ['memfd_test.c test_share_dup'],
    since: '3.17',
    expect: (k) => ({ errno: 'EPERM', seals: base(k, SEAL) }),
    run: (ctx) => ctx.try.addSeals(sealed(ctx, SEAL, 0), SEAL),
  }),
  basicSequence(),
]

/**
 * memfd_test.c test_basic as one sequence on one memfd (LTP memfd_create01 "Basic tests + set/get
 * seals"): each call's answer and the seals after it.
 */
function basicSequence(): Clause {
  const plan = (b: number): Array<{ add: number; want: Observation }> => [
    { add: SHRINK | WRITE, want: { ret: 0, seals: b | SHRINK | WRITE } },
    { add: SHRINK | WRITE, want: { ret: 0, seals: b | SHRINK | WRITE } },
    { add: GROW | SEAL, want: { ret: 0, seals: b | SHRINK | WRITE | GROW | SEAL } },
    { add: GROW, want: { errno: 'EPERM', seals: b | SHRINK | WRITE | GROW | SEAL } },
    { add: 0, want: { errno: 'EPERM', seals: b | SHRINK | WRITE | GROW | SEAL } },
  ]
  const line = (add: number, o: Observation): string =>
    `F_ADD_SEALS(${sealNames(add)}) = ${typeof o.errno === 'string' ? o.errno : 'ok'}, seals ${typeof o.seals === 'number' ? sealNames(o.seals) : JSON.stringify(o.seals)}`
  return clause({
    id: 'seal.basic.selftest-sequence',
    quote: [seals('DESCRIPTION', SEALS.add), seals('DESCRIPTION', SEALS.sealSeal)],
    note: 'memfd_test.c test_basic on one memfd: SHRINK|WRITE, the same again (a no-op), GROW|SEAL, then GROW and an empty mask, both refused. Each line is the answer and F_GET_SEALS after it.',
    mirrors: ['memfd_test.c test_basic', 'LTP memfd_create01 test_basic'],
    since: '3.17',
    expect: (k) => ({ steps: plan(base(k)).map((p) => line(p.add, p.want)) }),
    run: (ctx: Ctx) => {
      const fd = sealed(ctx, 0, 2)
      return { steps: plan(base(ctx.facts)).map((p) => line(p.add, ctx.try.addSeals(fd, p.add))) }
    },
  })
}

export const addClauses: Clause[] = [...otherFiles, ...bits, ...adding]
