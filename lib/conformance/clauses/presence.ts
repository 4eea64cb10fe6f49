/**
 * One presence clause per kernel feature memseal checks: the call that shows the feature, with its
 * effect, expected by version (like LTP's `.min_kver`, kept apart from the clauses that check the
 * feature's behaviour). On a kernel older than the feature the documented old answer is expected (an
 * unknown flag bit is EINVAL, an unknown system call ENOSYS); on a kernel that must have it, the feature.
 * These clauses need nothing, so a feature that is missing where its version promises it diverges here
 * even while its other clauses skip or fail. (A seccomp filter in front of the call makes them skips that
 * say so, by the one rule of lib/kernel/seccomp.ts.)
 *
 * Not here: pkeys (a CPU capability, not a kernel promise), io_uring (a tool of one clause), and the 6.7
 * read-only shared mapping of a F_SEAL_WRITE memfd, whose own clause (mmap.seal-write.mmap-shared-ro-ok)
 * is its presence check with the kernels' recorded history.
 */
import { compareVersions, parseVersion } from '../../kernel/version'
import type { Ctx } from '../ctx'
import { C } from '../abi'
import type { Area, Clause, KernelFacts, Observation, Quote } from '../types'

const MAN = 'https://man7.org/linux/man-pages'
const MAN_VERSION = 'man-pages 6.20'
const memfdCreate = (section: string, text: string): Quote => ({
  doc: 'memfd_create(2)',
  version: MAN_VERSION,
  section,
  url: `${MAN}/man2/memfd_create.2.html`,
  text,
})
const addSeals = (section: string, text: string): Quote => ({
  doc: 'F_ADD_SEALS(2const)',
  version: MAN_VERSION,
  section,
  url: `${MAN}/man2/F_ADD_SEALS.2const.html`,
  text,
})
const noexecDoc = (section: string, text: string): Quote => ({
  doc: 'mfd_noexec.rst',
  version: 'Linux 7.2',
  section,
  url: 'https://docs.kernel.org/userspace-api/mfd_noexec.html',
  text,
})

interface Presence {
  id: string
  needs?: Clause['needs']
  area: Area
  since: string
  quote: Quote | Quote[]
  note: string
  /** What shows the feature, from the kernel that has it. */
  present: Observation | ((k: KernelFacts) => Observation)
  /** What a kernel older than `since` answers the same call. */
  before: Observation
  run: (ctx: Ctx) => Observation
}

function presence(p: Presence): Clause {
  const { present, before, ...rest } = p
  return {
    ...rest,
    basis: 'doc',
    expect: (k) => (compareVersions(k.version, parseVersion(p.since)) >= 0 ? (typeof present === 'function' ? present(k) : present) : before),
  }
}

/** A memfd made with `flags` (its fd is the clause's), and what it is: { ret: 0 } or { errno }. */
function created(ctx: Ctx, flags: number): { obs: Observation; fd: number | null } {
  return ctx.try.memfdCreate('memseal-presence', flags | C.MFD_CLOEXEC)
}

/** The seals a memfd made without MFD_EXEC or MFD_NOEXEC_SEAL starts with here: F_SEAL_EXEC at vm.memfd_noexec ≥ 1. */
function impliedSeals(k: KernelFacts): number {
  return (k.environment.memfdNoexec ?? 0) >= 1 ? C.F_SEAL_EXEC : 0
}

export const clauses: Clause[] = [
  presence({
    id: 'memfd.presence',
    area: 'memfd',
    since: '3.17',
    needs: [{ builtWith: 'memfd' }],
    quote: memfdCreate('HISTORY', 'Linux 3.17, glibc 2.27.'),
    note: 'memfd_create(0) gives an fd whose /proc/self/fd link names a memfd; before 3.17 the system call does not exist (ENOSYS).',
    present: { ret: 0 },
    before: { errno: 'ENOSYS' },
    run: (ctx) => created(ctx, 0).obs,
  }),
  presence({
    id: 'memfd.presence.allow-sealing',
    area: 'memfd',
    since: '3.17',
    needs: [{ builtWith: 'memfd' }],
    quote: memfdCreate(
      'DESCRIPTION',
      'MFD_ALLOW_SEALING Allow sealing operations on this file. See the discussion of the F_ADD_SEALS and F_GET_SEALS operations in fcntl(2), and also NOTES, below. The initial set of seals is empty.',
    ),
    note: 'F_GET_SEALS on a memfd_create(MFD_ALLOW_SEALING) memfd: no seal (F_SEAL_EXEC where vm.memfd_noexec ≥ 1 makes the memfd MFD_NOEXEC_SEAL).',
    present: (k) => ({ ret: 0, seals: impliedSeals(k) }),
    before: { errno: 'ENOSYS' },
    run: (ctx) => {
      const { obs, fd } = created(ctx, C.MFD_ALLOW_SEALING)
      return fd === null ? obs : { ...obs, ...ctx.try.getSeals(fd) }
    },
  }),
  presence({
    id: 'memfd.presence.hugetlb',
    area: 'memfd',
    since: '4.14',
    quote: memfdCreate('DESCRIPTION', 'MFD_HUGETLB (since Linux 4.14) The anonymous file will be created in the hugetlbfs filesystem using huge pages.'),
    note: 'memfd_create(MFD_HUGETLB) gives a file on hugetlbfs (statfs of its /proc/self/fd link); before 4.14 the flag is an unknown bit (EINVAL). A kernel built without CONFIG_HUGETLBFS skips, saying so.',
    needs: [{ builtWith: 'hugetlb' }],
    present: { ret: 0, hugetlbfs: true },
    before: { errno: 'EINVAL' },
    run: (ctx) => {
      const { obs, fd } = created(ctx, C.MFD_HUGETLB)
      return fd === null ? obs : { ...obs, hugetlbfs: ctx.file.onHugetlbfs(fd) }
    },
  }),
  presence({
    id: 'seal.presence.future-write',
    area: 'seal',
    since: '5.1',
    quote: addSeals(
      'DESCRIPTION',
      'F_SEAL_FUTURE_WRITE (since Linux 5.1) The effect of this seal is similar to F_SEAL_WRITE, but the contents of the file can still be modified via shared writable mappings that were created prior to the seal being set.',
    ),
    note: 'F_ADD_SEALS(F_SEAL_FUTURE_WRITE) on a sealable memfd, then F_GET_SEALS shows the bit; before 5.1 it is an unknown seal bit (EINVAL).',
    present: (k) => ({ ret: 0, seals: impliedSeals(k) | C.F_SEAL_FUTURE_WRITE }),
    before: { errno: 'EINVAL', seals: 0 },
    run: (ctx) => ctx.try.addSeals(ctx.file.memfd(), C.F_SEAL_FUTURE_WRITE),
  }),
  presence({
    id: 'noexec.presence.noexec-seal',
    area: 'noexec',
    since: '6.3',
    quote: noexecDoc(
      'User API',
      "MFD_NOEXEC_SEAL When MFD_NOEXEC_SEAL bit is set in the flags, memfd is created with NX. F_SEAL_EXEC is set and the memfd can't be modified to add X later. MFD_ALLOW_SEALING is also implied.",
    ),
    note: 'memfd_create(MFD_NOEXEC_SEAL): mode 0666 and F_SEAL_EXEC; before 6.3 the flag is an unknown bit (EINVAL).',
    present: { ret: 0, mode: '0666', seals: C.F_SEAL_EXEC },
    before: { errno: 'EINVAL' },
    run: (ctx) => {
      const { obs, fd } = created(ctx, C.MFD_NOEXEC_SEAL)
      return fd === null ? obs : { ...obs, mode: ctx.file.mode(fd), seals: ctx.file.seals(fd) }
    },
  }),
  presence({
    id: 'noexec.presence.mfd-exec',
    area: 'noexec',
    since: '6.3',
    quote: [
      noexecDoc('User API', 'MFD_EXEC When MFD_EXEC bit is set in the flags, memfd is created with X.'),
      noexecDoc('Sysctl', '2: MEMFD_NOEXEC_SCOPE_NOEXEC_ENFORCED memfd_create() without MFD_NOEXEC_SEAL will be rejected.'),
    ],
    note: 'memfd_create(MFD_EXEC): mode 0777; at vm.memfd_noexec=2 refused with EACCES (which still shows the flag is known); before 6.3 an unknown bit (EINVAL).',
    present: (k): Observation => (k.environment.memfdNoexec === 2 ? { errno: 'EACCES' } : { ret: 0, mode: '0777' }),
    before: { errno: 'EINVAL' },
    run: (ctx) => {
      const { obs, fd } = created(ctx, C.MFD_EXEC)
      return fd === null ? obs : { ...obs, mode: ctx.file.mode(fd) }
    },
  }),
  presence({
    id: 'noexec.presence.seal-exec',
    area: 'noexec',
    since: '6.3',
    quote: addSeals('DESCRIPTION', 'F_SEAL_EXEC (since Linux 6.3) If this seal is set, the execute mode bits of the file cannot be modified.'),
    note: "F_ADD_SEALS(F_SEAL_EXEC) on a sealable memfd, then F_GET_SEALS shows the bit (`exec`); before 6.3 it is an unknown seal bit (EINVAL). The seals it implies are the seal clauses' business.",
    present: { ret: 0, exec: true },
    before: { errno: 'EINVAL', exec: false },
    run: (ctx) => {
      const added = ctx.try.addSeals(ctx.file.memfd(), C.F_SEAL_EXEC)
      const { seals, ...answer } = added
      return { ...answer, exec: typeof seals === 'number' && (seals & C.F_SEAL_EXEC) !== 0 }
    },
  }),
  presence({
    id: 'noexec.presence.sysctl',
    area: 'noexec',
    since: '6.3',
    quote: noexecDoc('Sysctl', 'The new pid namespaced sysctl vm.memfd_noexec has 3 values:'),
    note: '/proc/sys/vm/memfd_noexec exists and reads 0, 1 or 2.',
    present: { exists: true, valid: true },
    before: { exists: false, valid: false },
    run: (ctx) => {
      const level = ctx.proc.level()
      return { exists: level !== null, valid: level !== null && [0, 1, 2].includes(level) }
    },
  }),
  presence({
    id: 'mseal.presence',
    area: 'mseal',
    since: '6.10',
    quote: {
      doc: 'mseal.rst',
      version: 'Linux 7.2',
      section: 'SYSCALL',
      url: 'https://docs.kernel.org/userspace-api/mseal.html',
      text: 'int mseal(void *addr, size_t len, unsigned long flags) … Return values: - 0: Success.',
    },
    note: 'mseal of a fresh anonymous page succeeds and leaves VM_SEALED on its VMA (\'sl\' in VmFlags); the system call arrived in 6.10 (8be7258aad44 "mseal: add mseal syscall"), and older kernels answer ENOSYS.',
    present: { ret: 0, sealed: true },
    before: { errno: 'ENOSYS', sealed: false },
    run: (ctx) => ctx.try.mseal(ctx.mem.guarded(1), 0, ctx.ps),
  }),
  presence({
    id: 'mseal.presence.guard-install',
    area: 'mseal',
    since: '6.13',
    quote: {
      doc: 'madvise(2)',
      version: MAN_VERSION,
      section: 'DESCRIPTION',
      url: `${MAN}/man2/madvise.2.html`,
      text: 'MADV_GUARD_INSTALL (since Linux 6.13) Install a lightweight guard region into the range specified by addr and size, causing any read or write in the range to result in a SIGSEGV signal being raised.',
    },
    note: 'MADV_GUARD_INSTALL on a fresh read-write anonymous page, then a read of it in a forked child faults; before 6.13 the advice is unknown (EINVAL) and the read succeeds.',
    present: { ret: 0, access: 'SIGSEGV' },
    before: { errno: 'EINVAL', access: 'ok' },
    run: (ctx) => ctx.try.madvise(ctx.mem.guarded(1, C.PROT_READ | C.PROT_WRITE), 0, ctx.ps, C.MADV_GUARD_INSTALL),
  }),
]
