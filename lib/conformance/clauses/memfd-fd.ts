/**
 * The file descriptor memfd_create(2) returns (catalog §1): its flags, its access mode, its size, the mode
 * and seals it starts with (which the level of vm.memfd_noexec decides for a call without exec flags,
 * mfd_noexec.rst), and the per-process descriptor limit.
 */
import { C } from '../abi'
import type { Ctx } from '../ctx'
import type { Clause, Observation } from '../types'
import { quiet } from './memfd-create'
import { byLevel, level2History, MEMFD, memfdCreate, NOEXEC, noexecDoc } from './memfd-docs'
import { seals, SEALS } from './seal-docs'

const clause = (c: Omit<Clause, 'area'>): Clause => ({ area: 'memfd', ...c })

/** The result of memfd_create without MFD_EXEC or MFD_NOEXEC_SEAL, tagged with the level it ran at. */
function atLevel(ctx: Ctx, flags: number, observe: (fd: number) => Observation): Observation {
  const level = ctx.facts.environment.memfdNoexec
  const { obs, fd } = ctx.try.memfdCreate('memseal-clause', flags | C.MFD_CLOEXEC)
  return fd === null ? { level, ...obs } : { level, ...obs, ...observe(fd) }
}

const LEVELS = [noexecDoc('Sysctl', NOEXEC.level0), noexecDoc('Sysctl', NOEXEC.level1), noexecDoc('Sysctl', NOEXEC.level2)]
const LEVEL_NOTE =
  'No exec flag is given, so the level of vm.memfd_noexec in this pid namespace decides (mfd_noexec.rst): at 0 (or before the sysctl, 6.3) the classic memfd, at 1 the call "acts like MFD_NOEXEC_SEAL was set" (mode 0666, F_SEAL_EXEC, and sealable since "MFD_NOEXEC_SEAL implies MFD_ALLOW_SEALING"), at 2 it "will be rejected" (no errno is given: the errno the kernel of the era uses is expected, EINVAL before the 6.6 rework, EACCES since). The observation carries the level.'

const fd: Clause[] = [
  clause({
    id: 'memfd.cloexec-set',
    quote: memfdCreate('DESCRIPTION', MEMFD.cloexec),
    note: 'fcntl(F_GETFD) of a memfd made with MFD_CLOEXEC.',
    mirrors: ['memfd_test.c test_create'],
    since: '3.17',
    expect: { cloexec: true },
    run: (ctx) => ({ cloexec: (ctx.file.fdFlags(ctx.file.memfd(quiet(ctx))) & C.FD_CLOEXEC) !== 0 }),
  }),
  clause({
    id: 'memfd.no-cloexec',
    quote: [memfdCreate('DESCRIPTION', MEMFD.cloexec), memfdCreate('DESCRIPTION', MEMFD.execve)],
    note: 'fcntl(F_GETFD) of a memfd made without MFD_CLOEXEC: the flag is clear, so the fd would be preserved across execve(2).',
    since: '3.17',
    expect: { ret: 0, cloexec: false },
    run: (ctx) => {
      const { obs, fd: f } = ctx.try.memfdCreate('memseal-clause', quiet(ctx))
      return f === null ? obs : { ...obs, cloexec: (ctx.file.fdFlags(f) & C.FD_CLOEXEC) !== 0 }
    },
  }),
  clause({
    id: 'memfd.fd-rdwr-largefile',
    quote: memfdCreate('DESCRIPTION', MEMFD.rdwr),
    note: 'fcntl(F_GETFL) of a new memfd: the access mode and O_LARGEFILE.',
    since: '3.17',
    expect: { accmode: 'O_RDWR', largefile: true },
    run: (ctx) => {
      const fl = ctx.file.statusFlags(ctx.file.memfd(quiet(ctx)))
      const acc = fl & C.O_ACCMODE
      return { accmode: acc === C.O_RDWR ? 'O_RDWR' : acc === C.O_WRONLY ? 'O_WRONLY' : 'O_RDONLY', largefile: (fl & C.KERNEL_O_LARGEFILE) !== 0 }
    },
  }),
  clause({
    id: 'memfd.initial-size-zero',
    quote: memfdCreate('DESCRIPTION', MEMFD.size),
    note: 'fstat(2) of a new memfd: st_size.',
    since: '3.17',
    expect: { size: 0 },
    run: (ctx) => ({ size: ctx.file.size(ctx.file.memfd(quiet(ctx))) }),
  }),
  clause({
    id: 'memfd.mode.no-exec-flag-by-level',
    catalog: 'mfd.mode.noflag-sysctl0-0777',
    quote: [noexecDoc('Introduction', NOEXEC.always), ...LEVELS],
    note: `The mode of memfd_create(name, 0). ${LEVEL_NOTE}`,
    since: '3.17',
    expect: byLevel({ ret: 0, mode: '0777' }, { ret: 0, mode: '0666' }),
    history: level2History({ ret: 0, mode: '0666' }),
    run: (ctx) => atLevel(ctx, 0, (f) => ({ mode: ctx.file.mode(f) })),
  }),
  clause({
    id: 'memfd.seals.initial-allow-sealing',
    catalog: 'mfd.seals.initial-allow-sealing-0',
    quote: [memfdCreate('DESCRIPTION', MEMFD.allowSealing), noexecDoc('User API', NOEXEC.noexecSeal), ...LEVELS],
    note: `F_GET_SEALS of memfd_create(name, MFD_ALLOW_SEALING): "The initial set of seals is empty". ${LEVEL_NOTE}`,
    mirrors: ['memfd_test.c test_basic', 'LTP memfd_create01 test_basic'],
    since: '3.17',
    expect: byLevel({ ret: 0, seals: 0 }, { ret: 0, seals: C.F_SEAL_EXEC }),
    history: level2History({ ret: 0, seals: C.F_SEAL_EXEC }),
    run: (ctx) => atLevel(ctx, C.MFD_ALLOW_SEALING, (f) => ({ seals: ctx.file.seals(f) })),
  }),
  clause({
    id: 'memfd.seals.initial-no-allow-sealing',
    quote: [memfdCreate('DESCRIPTION', MEMFD.allowSealing), noexecDoc('User API', NOEXEC.noexecSeal), ...LEVELS],
    note: `F_GET_SEALS of memfd_create(name, 0): "the initial set of seals will be F_SEAL_SEAL". ${LEVEL_NOTE}`,
    mirrors: ['memfd_test.c test_basic', 'LTP memfd_create01 test_no_sealing_without_flag'],
    since: '3.17',
    expect: byLevel({ ret: 0, seals: C.F_SEAL_SEAL }, { ret: 0, seals: C.F_SEAL_EXEC }),
    history: level2History({ ret: 0, seals: C.F_SEAL_EXEC }),
    run: (ctx) => atLevel(ctx, 0, (f) => ({ seals: ctx.file.seals(f) })),
  }),
  clause({
    id: 'memfd.seals.add-without-allow-sealing',
    catalog: 'mfd.seals.initial-no-allow-sealing',
    quote: [memfdCreate('DESCRIPTION', MEMFD.allowSealing), seals('ERRORS', SEALS.ePerm), noexecDoc('User API', NOEXEC.noexecSeal), ...LEVELS],
    note: `F_ADD_SEALS(F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) on memfd_create(name, 0), and the seals afterwards: refused with EPERM where the set is F_SEAL_SEAL. ${LEVEL_NOTE}`,
    mirrors: ['memfd_test.c test_basic', 'LTP memfd_create01 test_no_sealing_without_flag'],
    since: '3.17',
    expect: byLevel(
      { ret: 0, add: 'EPERM', seals: C.F_SEAL_SEAL },
      { ret: 0, add: 'ok', seals: C.F_SEAL_EXEC | C.F_SEAL_SHRINK | C.F_SEAL_GROW | C.F_SEAL_WRITE },
    ),
    history: level2History({ ret: 0, add: 'ok', seals: C.F_SEAL_EXEC | C.F_SEAL_SHRINK | C.F_SEAL_GROW | C.F_SEAL_WRITE }),
    run: (ctx) =>
      atLevel(ctx, 0, (f) => {
        const r = ctx.try.addSeals(f, C.F_SEAL_SHRINK | C.F_SEAL_GROW | C.F_SEAL_WRITE)
        return { add: typeof r.errno === 'string' ? r.errno : 'ok', seals: r.seals! }
      }),
  }),
]

/**
 * Lowers RLIMIT_NOFILE so that `room` more descriptors can be opened (0: the next open fails with
 * EMFILE): the lowest free descriptor is found by opening /dev/null and closing it again. The limit comes
 * back when the clause ends.
 */
function limitFds(ctx: Ctx, room: number): void {
  const lowest = ctx.file.open('/dev/null', C.O_RDONLY)
  ctx.file.close(lowest)
  const [, hard] = ctx.proc.getrlimit(C.RLIMIT_NOFILE)
  ctx.proc.setrlimit(C.RLIMIT_NOFILE, lowest + room, hard)
}

const limits: Clause[] = [
  clause({
    id: 'memfd.emfile',
    quote: memfdCreate('ERRORS', MEMFD.eMfile),
    note: 'With RLIMIT_NOFILE lowered to the lowest free descriptor, memfd_create has no descriptor to return.',
    since: '3.17',
    expect: { errno: 'EMFILE' },
    run: (ctx) => {
      limitFds(ctx, 0)
      return ctx.try.memfdCreate('memseal-clause', quiet(ctx) | C.MFD_CLOEXEC).obs
    },
  }),
  clause({
    id: 'memfd.emfile-control-ok',
    catalog: 'mfd.emfile (control)',
    quote: memfdCreate('ERRORS', MEMFD.eMfile),
    note: 'Control for memfd.emfile: with room for exactly one more descriptor the call succeeds.',
    since: '3.17',
    expect: { ret: 0 },
    run: (ctx) => {
      limitFds(ctx, 1)
      return ctx.try.memfdCreate('memseal-clause', quiet(ctx) | C.MFD_CLOEXEC).obs
    },
  }),
]

export const fdClauses: Clause[] = [...fd, ...limits]
