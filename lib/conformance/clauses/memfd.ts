/**
 * memfd_create(2): flags, names, the properties of the new fd, initial seals, and hugetlbfs memfds
 * (catalog §1 and §6, `mfd.*`). MFD_EXEC / MFD_NOEXEC_SEAL behaviour lives in noexec.ts.
 */
import { closeSync, fstatSync, ftruncateSync, openSync, readFileSync, readlinkSync, writeSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { kernel } from '../../kernel'
import { constants as C, native } from '../../native'
import { attempt, type Ctx, outcome, SetupError } from '../ctx'
import type { Clause, KernelFacts, KnownBehaviour, Observation, Source } from '../types'

export const MAN_MEMFD: Source = { doc: 'memfd_create(2)', url: 'https://man7.org/linux/man-pages/man2/memfd_create.2.html' }
export const MAN_SEALS: Source = { doc: 'F_ADD_SEALS(2const)', url: 'https://man7.org/linux/man-pages/man2/F_ADD_SEALS.2const.html' }
export const NOEXEC_DOC: Source = { doc: 'mfd_noexec.rst', url: 'https://docs.kernel.org/userspace-api/mfd_noexec.html' }

/** The file mode's permission bits as a 4-digit octal string: '0666'. */
export function modeOf(fd: number): string {
  return (fstatSync(fd).mode & 0o7777).toString(8).padStart(4, '0')
}

/** F_GET_SEALS; a failure here is a setup failure, not an observation. */
export function sealsOf(ctx: Ctx, fd: number): number {
  return ctx.setup(native.fcntl(fd, C.F_GET_SEALS), 'fcntl(F_GET_SEALS)')
}

/** The /proc/self/fd link target: '/memfd:name (deleted)'. */
export function linkOf(fd: number): string {
  return readlinkSync(`/proc/self/fd/${fd}`)
}

/** memfd_create's result as an observation: { ret: 0 } when it made an fd (fd numbers vary), else { errno }. */
export function created(fd: number): Observation {
  return fd >= 0 ? { ret: 0 } : outcome(fd)
}

/** vm.memfd_noexec as this process's pid namespace sees it (the effective value); null before 6.3. */
export function noexecLevel(): number | null {
  try {
    return Number(readFileSync('/proc/sys/vm/memfd_noexec', 'utf8').trim())
  } catch {
    return null
  }
}

/**
 * Creation flags whose outcome does not depend on vm.memfd_noexec: MFD_NOEXEC_SEAL where the kernel has
 * it (no flag is rejected at level 2 on 6.3–6.5), nothing before 6.3.
 */
export function quietFlags(): number {
  return kernel.features().noexecSeal ? C.MFD_NOEXEC_SEAL : 0
}

/** Writes /bin/true into fd (for the exec clauses). */
export function copyTrue(fd: number): void {
  const bytes = readFileSync('/bin/true')
  if (writeSync(fd, bytes, 0, bytes.length, 0) !== bytes.length) throw new SetupError('short write of /bin/true into the memfd')
}

/** memfd_create as the clause's subject (with MFD_CLOEXEC): the fd, tracked for release, or -errno. */
function subject(ctx: Ctx, name: string | Buffer | null | number, flags: number): number {
  return ctx.memfdCall(name, flags | C.MFD_CLOEXEC)
}

// Kernels where vm.memfd_noexec=2 turns a call without MFD_EXEC or MFD_NOEXEC_SEAL into MFD_NOEXEC_SEAL
// instead of rejecting it: 202e14222fad (6.6-rc1, stable 6.4.16 and 6.5.3).
export const LEVEL2_NOFLAG_ACCEPTED = '>=6.4.16 <6.5 || >=6.5.3'
export const LEVEL2_REF = '202e14222fad "memfd: do not -EACCES old memfd_create() users with vm.memfd_noexec=2" (6.6; 6.4.16, 6.5.3)'

/**
 * For calls with neither MFD_EXEC nor MFD_NOEXEC_SEAL, what the documentation predicts depends on the
 * level of vm.memfd_noexec here (mfd_noexec.rst): 0 (or no sysctl) the classic behaviour, 1 "acts like
 * MFD_NOEXEC_SEAL was set", 2 "will be rejected". The observation carries the level it was made at.
 */
function byLevel(atZero: Observation, asNoexecSeal: Observation): (k: KernelFacts) => Observation {
  return (k): Observation => {
    const level = k.environment.memfdNoexec
    if (level === null || level === 0) return { level, ...atZero }
    if (level === 1) return { level, ...asNoexecSeal }
    return { level, errno: 'EINVAL' }
  }
}

function level2History(asNoexecSeal: Observation): KnownBehaviour[] {
  return [
    {
      range: LEVEL2_NOFLAG_ACCEPTED,
      observed: { level: 2, ...asNoexecSeal },
      behaviour:
        'At vm.memfd_noexec=2 a call without MFD_EXEC or MFD_NOEXEC_SEAL is no longer rejected: it is treated as MFD_NOEXEC_SEAL (mode 0666, F_SEAL_EXEC).',
      ref: LEVEL2_REF,
    },
  ]
}

/** The result of a call made without any exec flag, tagged with the level it ran at. */
function atLevel(ctx: Ctx, flags: number, observe: (fd: number) => Observation): Observation {
  const level = noexecLevel()
  const fd = subject(ctx, 'memseal-clause', flags)
  return fd < 0 ? { level, ...outcome(fd) } : { level, ...observe(fd) }
}

const UNKNOWN_BITS = 'Unused bits in flags must be 0. … EINVAL flags included unknown bits.'
const NAME_TOO_LONG = 'EINVAL name was too long. (The limit is 249 bytes, excluding the terminating null byte.)'
const EFAULT_TEXT = 'EFAULT The address in name points to invalid memory.'
const LINK_TEXT =
  'The name supplied in name is used as a filename and will be displayed as the target of the corresponding symbolic link in the directory /proc/self/fd/. The displayed name is always prefixed with memfd: and serves only for debugging purposes.'
const HUGETLB_TEXT = 'MFD_HUGETLB (since Linux 4.14): The anonymous file will be created in the hugetlbfs filesystem using huge pages.'
const HUGE_SIZES_TEXT =
  'MFD_HUGE_2MB, MFD_HUGE_1GB, …: Used in conjunction with MFD_HUGETLB to select alternative hugetlb page sizes (respectively, 2 MB, 1 GB, ...) on systems that support multiple hugetlb page sizes.'

const MFD_HUGE_2MB = 21 * 2 ** 26
const MFD_HUGE_1GB = 30 * 2 ** 26
const MFD_HUGE_16GB = 34 * 2 ** 26
const GIB = 1 << 30
const MIB2 = 2 << 20

/** Default huge page size (the size MFD_HUGETLB without a size selects), from /proc/meminfo. */
function defaultHugePageSize(): number {
  const m = /^Hugepagesize:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'))
  if (!m) throw new SetupError('no Hugepagesize in /proc/meminfo')
  return Number(m[1]) * 1024
}

function hugeMemfd(ctx: Ctx, extra = 0, name = 'huge'): number {
  return ctx.memfd(C.MFD_HUGETLB | C.MFD_ALLOW_SEALING | quietFlags() | extra, name)
}

function unknownBit(id: string, flags: number, catalog = 'mfd.flags.unknown-bit'): Clause {
  return {
    id,
    area: 'memfd',
    catalog,
    since: '3.17',
    statement: UNKNOWN_BITS,
    source: { ...MAN_MEMFD, section: 'DESCRIPTION; ERRORS' },
    expect: { errno: 'EINVAL' },
    run: (ctx) => created(subject(ctx, 'memseal-clause', flags)),
  }
}

/**
 * Runs memfd_create(MFD_HUGETLB) as uid/gid 65534 in a child process (setuid cannot be undone) and
 * returns its observation.
 */
function createAsNobody(groups: number[]): Observation {
  const script = `
    process.setgroups(${JSON.stringify(groups)}); process.setgid(65534); process.setuid(65534)
    const { native, constants: C } = require(process.env.MEMSEAL_NATIVE)
    const flags = C.MFD_HUGETLB | C.MFD_CLOEXEC | Number(process.env.MEMSEAL_FLAGS)
    process.stdout.write(JSON.stringify({ ret: native.memfdCreate('h', flags) }))`
  const r = spawnSync(process.execPath, ['-e', script], {
    encoding: 'utf8',
    env: { ...process.env, MEMSEAL_NATIVE: join(__dirname, '..', '..', 'native.js'), MEMSEAL_FLAGS: String(quietFlags()) },
    timeout: 20_000,
  })
  if (r.status !== 0) throw new SetupError(`unprivileged child failed (status ${r.status}, signal ${r.signal}): ${r.stderr.trim()}`)
  return created((JSON.parse(r.stdout) as { ret: number }).ret)
}

const HUGETLB_EPERM =
  'EPERM The MFD_HUGETLB flag was specified, but the caller was not privileged (did not have the CAP_IPC_LOCK capability) and is not a member of the hugetlb_shm_group group; see the description of /proc/sys/vm/hugetlb_shm_group in proc_sys_vm(5).'
const HUGETLB_EPERM_KERNEL =
  'hugetlb_file_setup() checks CAP_IPC_LOCK and hugetlb_shm_group only for HUGETLB_SHMFS_INODE (SysV shm); memfd_create() passes HUGETLB_ANONHUGE_INODE, so an unprivileged caller gets an fd (mm/memfd.c, fs/hugetlbfs/inode.c).'

function unprivilegedHugetlb(id: string, groups: number[], how: string): Clause {
  return {
    id,
    area: 'memfd',
    catalog: 'mfd.hugetlb.unprivileged-succeeds',
    since: '4.14',
    needs: ['hugetlb', 'root'],
    statement: `${HUGETLB_EPERM} (Checked as uid/gid 65534 ${how}.)`,
    source: { ...MAN_MEMFD, section: 'ERRORS' },
    expect: { errno: 'EPERM' },
    divergence: { doc: HUGETLB_EPERM, kernel: HUGETLB_EPERM_KERNEL },
    history: [
      {
        range: '*',
        observed: { ret: 0 },
        behaviour: 'An unprivileged memfd_create(MFD_HUGETLB) succeeds: the group and CAP_IPC_LOCK check applies only to SysV shm.',
        ref: 'mm/memfd.c memfd_create() → hugetlb_file_setup(…, HUGETLB_ANONHUGE_INODE, …)',
      },
    ],
    run: () => createAsNobody(groups),
  }
}

const ENODEV_DOC =
  'MFD_HUGE_2MB, MFD_HUGE_1GB, … select alternative hugetlb page sizes … on systems that support multiple hugetlb page sizes. (The ERRORS section lists no error for an unsupported size; the nearest is "EINVAL flags included unknown bits".)'
const ENODEV_KERNEL =
  'hugetlb_file_setup() finds no hstate for the requested size (hstate_sizelog() returns NULL) and returns -ENODEV, an errno the man page does not list.'

function unsupportedSize(id: string, flags: number, what: string, needs: Clause['needs']): Clause {
  return {
    id,
    area: 'memfd',
    catalog: 'mfd.hugetlb.size-unsupported-enodev',
    since: '4.14',
    needs,
    statement: `${HUGE_SIZES_TEXT} (Probe: ${what}; the man page lists no errno for an unsupported size.)`,
    source: { ...MAN_MEMFD, section: 'DESCRIPTION; ERRORS' },
    expect: { errno: 'EINVAL' },
    divergence: { doc: ENODEV_DOC, kernel: ENODEV_KERNEL },
    history: [
      {
        range: '*',
        observed: { errno: 'ENODEV' },
        behaviour: 'An unsupported huge page size gives ENODEV (no hstate for that size), not EINVAL.',
        ref: 'fs/hugetlbfs/inode.c hugetlb_file_setup(): hstate_sizelog() == NULL → -ENODEV',
      },
    ],
    run: (ctx) => created(subject(ctx, 'h', C.MFD_HUGETLB | quietFlags() | flags)),
  }
}

export const clauses: Clause[] = [
  // ── flags ──────────────────────────────────────────────────────────────────────────────────────
  unknownBit('memfd.flags.unknown-bit-0x100', 0x100),
  unknownBit('memfd.flags.unknown-bit-0x80000000', 0x80000000),
  unknownBit('memfd.flags.next-free-bit-0x20', 0x20),
  unknownBit('memfd.flags.all-ones', 0xffffffff),
  {
    id: 'memfd.flags.known-bits-ok',
    area: 'memfd',
    catalog: 'mfd.flags.unknown-bit (control)',
    since: '3.17',
    statement: 'The following values may be bitwise ORed in flags to change the behavior of memfd_create(): MFD_CLOEXEC … MFD_ALLOW_SEALING …',
    source: { ...MAN_MEMFD, section: 'DESCRIPTION' },
    expect: { ret: 0 },
    run: (ctx) => created(subject(ctx, 'memseal-clause', C.MFD_ALLOW_SEALING | quietFlags())),
  },
  {
    id: 'memfd.flags.huge-size-without-hugetlb',
    area: 'memfd',
    catalog: 'mfd.flags.huge-size-without-hugetlb',
    since: '4.14',
    statement: `${HUGE_SIZES_TEXT} Not documented what happens without MFD_HUGETLB; the code rejects size bits unless MFD_HUGETLB is set (EINVAL, as for unknown bits).`,
    source: { ...MAN_MEMFD, section: 'DESCRIPTION' },
    expect: { errno: 'EINVAL' },
    run: (ctx) => created(subject(ctx, 'memseal-clause', MFD_HUGE_2MB | quietFlags())),
  },
  {
    id: 'memfd.order.flags-einval-before-name-efault',
    area: 'memfd',
    catalog: 'mfd.order.flags-einval-before-name-efault',
    since: '3.17',
    statement:
      'Not documented which error wins when both the flags and the name are bad; the code checks the flags first (EINVAL), then reads the name (EFAULT).',
    source: { ...MAN_MEMFD, section: 'ERRORS' },
    expect: { errno: 'EINVAL' },
    run: (ctx) => created(subject(ctx, null, 0x100)),
  },
  // ── name ───────────────────────────────────────────────────────────────────────────────────────
  {
    id: 'memfd.name.null',
    area: 'memfd',
    catalog: 'mfd.name.null',
    since: '3.17',
    statement: EFAULT_TEXT,
    source: { ...MAN_MEMFD, section: 'ERRORS' },
    expect: { errno: 'EFAULT' },
    run: (ctx) => created(subject(ctx, null, quietFlags())),
  },
  {
    id: 'memfd.name.bad-pointer',
    area: 'memfd',
    catalog: 'mfd.name.bad-pointer',
    since: '3.17',
    statement: EFAULT_TEXT,
    source: { ...MAN_MEMFD, section: 'ERRORS' },
    expect: { errno: 'EFAULT' },
    run: (ctx) => created(subject(ctx, 1, quietFlags())),
  },
  {
    id: 'memfd.name.len-249-ok',
    area: 'memfd',
    catalog: 'mfd.name.len-249-ok',
    since: '3.17',
    statement: NAME_TOO_LONG,
    source: { ...MAN_MEMFD, section: 'ERRORS' },
    expect: { ret: 0 },
    run: (ctx) => created(subject(ctx, Buffer.concat([Buffer.alloc(249, 'a'), Buffer.alloc(1)]), quietFlags())),
  },
  {
    id: 'memfd.name.len-250-einval',
    area: 'memfd',
    catalog: 'mfd.name.len-250-einval',
    since: '3.17',
    statement: NAME_TOO_LONG,
    source: { ...MAN_MEMFD, section: 'ERRORS' },
    expect: { errno: 'EINVAL' },
    run: (ctx) => created(subject(ctx, Buffer.concat([Buffer.alloc(250, 'a'), Buffer.alloc(1)]), quietFlags())),
  },
  {
    id: 'memfd.name.len-2047-einval',
    area: 'memfd',
    catalog: 'mfd.name.len-250-einval (T-MEMFD 2047-byte name)',
    since: '3.17',
    statement: NAME_TOO_LONG,
    source: { ...MAN_MEMFD, section: 'ERRORS' },
    expect: { errno: 'EINVAL' },
    run: (ctx) => created(subject(ctx, Buffer.concat([Buffer.alloc(2047, 'a'), Buffer.alloc(1)]), quietFlags())),
  },
  {
    id: 'memfd.name.unterminated-long',
    area: 'memfd',
    catalog: 'mfd.name.unterminated-long',
    since: '3.17',
    statement: `${NAME_TOO_LONG} (A 4096-byte readable name with no terminating null byte: the code's strnlen_user() stops after 250 bytes.)`,
    source: { ...MAN_MEMFD, section: 'ERRORS' },
    expect: { errno: 'EINVAL' },
    run: (ctx) => created(subject(ctx, Buffer.alloc(4096, 0xff), quietFlags())),
  },
  {
    id: 'memfd.name.empty-ok',
    area: 'memfd',
    catalog: 'mfd.name.empty-ok',
    since: '3.17',
    statement:
      'Not documented as an error: an empty name is valid (the kernel selftest memfd_test.c creates one); only a name longer than 249 bytes gives EINVAL.',
    source: { ...MAN_MEMFD, section: 'ERRORS' },
    expect: { ret: 0 },
    run: (ctx) => created(subject(ctx, '', quietFlags())),
  },
  {
    id: 'memfd.name.empty-link',
    area: 'memfd',
    catalog: 'mfd.name.empty-ok',
    since: '3.17',
    statement: LINK_TEXT,
    source: { ...MAN_MEMFD, section: 'DESCRIPTION' },
    expect: { link: '/memfd: (deleted)' },
    run: (ctx) => ({ link: linkOf(ctx.memfd(quietFlags(), '')) }),
  },
  {
    id: 'memfd.proc-link-format',
    area: 'memfd',
    catalog: 'mfd.proc-link-format',
    since: '3.17',
    statement: `${LINK_TEXT} (EXAMPLES: "/memfd:my_memfd_file (deleted)".)`,
    source: { ...MAN_MEMFD, section: 'DESCRIPTION; EXAMPLES' },
    expect: { link: '/memfd:hello world/with/slash (deleted)' },
    run: (ctx) => ({ link: linkOf(ctx.memfd(quietFlags(), 'hello world/with/slash')) }),
  },
  // ── the new fd ─────────────────────────────────────────────────────────────────────────────────
  {
    id: 'memfd.cloexec-set',
    area: 'memfd',
    catalog: 'mfd.cloexec-set',
    since: '3.17',
    statement: 'MFD_CLOEXEC: Set the close-on-exec (FD_CLOEXEC) flag on the new file descriptor.',
    source: { ...MAN_MEMFD, section: 'DESCRIPTION' },
    expect: { cloexec: true },
    run: (ctx) => {
      const fd = ctx.memfd(quietFlags())
      return { cloexec: (ctx.setup(native.fcntl(fd, C.F_GETFD), 'fcntl(F_GETFD)') & C.FD_CLOEXEC) !== 0 }
    },
  },
  {
    id: 'memfd.no-cloexec',
    area: 'memfd',
    catalog: 'mfd.no-cloexec',
    since: '3.17',
    statement:
      'MFD_CLOEXEC: Set the close-on-exec (FD_CLOEXEC) flag on the new file descriptor. … The file descriptor is preserved across execve(2), unless the close-on-exec flag has been set.',
    source: { ...MAN_MEMFD, section: 'DESCRIPTION' },
    expect: { cloexec: false },
    run: (ctx) => {
      const fd = ctx.track(ctx.setup(native.memfdCreate('memseal-clause', quietFlags()), 'memfd_create'))
      return { cloexec: (ctx.setup(native.fcntl(fd, C.F_GETFD), 'fcntl(F_GETFD)') & C.FD_CLOEXEC) !== 0 }
    },
  },
  {
    id: 'memfd.fd-rdwr-largefile',
    area: 'memfd',
    catalog: 'mfd.fd-rdwr-largefile',
    since: '3.17',
    statement: 'This file descriptor is opened for both reading and writing (O_RDWR) and O_LARGEFILE is set for the file descriptor.',
    source: { ...MAN_MEMFD, section: 'DESCRIPTION' },
    expect: { accmode: 'O_RDWR', largefile: true },
    run: (ctx) => {
      const fl = ctx.setup(native.fcntl(ctx.memfd(quietFlags()), C.F_GETFL), 'fcntl(F_GETFL)')
      const acc = fl & C.O_ACCMODE
      return { accmode: acc === C.O_RDWR ? 'O_RDWR' : acc === C.O_WRONLY ? 'O_WRONLY' : 'O_RDONLY', largefile: (fl & C.KERNEL_O_LARGEFILE) !== 0 }
    },
  },
  {
    id: 'memfd.initial-size-zero',
    area: 'memfd',
    catalog: 'mfd.initial-size-zero',
    since: '3.17',
    statement: 'The initial size of the file is set to 0.',
    source: { ...MAN_MEMFD, section: 'DESCRIPTION' },
    expect: { size: 0 },
    run: (ctx) => ({ size: fstatSync(ctx.memfd(quietFlags())).size }),
  },
  {
    id: 'memfd.mode.noflag-sysctl0-0777',
    area: 'memfd',
    catalog: 'mfd.mode.noflag-sysctl0-0777',
    since: '3.17',
    statement:
      'Since Linux introduced the memfd feature, memfds have always had their execute bit set … 0: MEMFD_NOEXEC_SCOPE_EXEC memfd_create() without MFD_EXEC nor MFD_NOEXEC_SEAL acts like MFD_EXEC was set. (At level 1 it "acts like MFD_NOEXEC_SEAL was set"; at 2 it "will be rejected".)',
    source: { ...NOEXEC_DOC, section: 'Sysctl' },
    expect: byLevel({ mode: '0777' }, { mode: '0666' }),
    history: level2History({ mode: '0666' }),
    run: (ctx) => atLevel(ctx, 0, (fd) => ({ mode: modeOf(fd) })),
  },
  // ── initial seals ──────────────────────────────────────────────────────────────────────────────
  {
    id: 'memfd.seals.initial-allow-sealing-0',
    area: 'memfd',
    catalog: 'mfd.seals.initial-allow-sealing-0',
    since: '3.17',
    statement:
      'MFD_ALLOW_SEALING: Allow sealing operations on this file. … The initial set of seals is empty. (At vm.memfd_noexec=1 a call without MFD_EXEC "acts like MFD_NOEXEC_SEAL was set", which sets F_SEAL_EXEC; at 2 it "will be rejected".)',
    source: { ...MAN_MEMFD, section: 'DESCRIPTION' },
    expect: byLevel({ seals: 0 }, { seals: 0x20 }),
    history: level2History({ seals: 0x20 }),
    run: (ctx) => atLevel(ctx, C.MFD_ALLOW_SEALING, (fd) => ({ seals: sealsOf(ctx, fd) })),
  },
  {
    id: 'memfd.seals.initial-no-allow-sealing',
    area: 'memfd',
    catalog: 'mfd.seals.initial-no-allow-sealing',
    since: '3.17',
    statement:
      'If this flag [MFD_ALLOW_SEALING] is not set, the initial set of seals will be F_SEAL_SEAL, meaning that no other seals can be set on the file. (At vm.memfd_noexec=1, mfd_noexec.rst: the call "acts like MFD_NOEXEC_SEAL was set", and "MFD_NOEXEC_SEAL implies MFD_ALLOW_SEALING".)',
    source: { ...MAN_MEMFD, section: 'DESCRIPTION' },
    expect: byLevel({ seals: C.F_SEAL_SEAL }, { seals: 0x20 }),
    history: level2History({ seals: 0x20 }),
    run: (ctx) => atLevel(ctx, 0, (fd) => ({ seals: sealsOf(ctx, fd) })),
  },
  {
    id: 'memfd.seals.add-without-allow-sealing',
    area: 'memfd',
    catalog: 'mfd.seals.initial-no-allow-sealing',
    since: '3.17',
    statement:
      'If this flag is not set, the initial set of seals will be F_SEAL_SEAL, meaning that no other seals can be set on the file. (F_ADD_SEALS(2const): "If the current set of seals includes F_SEAL_SEAL …, then this call will be rejected with EPERM.")',
    source: { ...MAN_MEMFD, section: 'DESCRIPTION' },
    expect: byLevel({ errno: 'EPERM' }, { ret: 0 }),
    history: level2History({ ret: 0 }),
    run: (ctx) => atLevel(ctx, 0, (fd) => outcome(native.fcntl(fd, C.F_ADD_SEALS, C.F_SEAL_WRITE))),
  },
  // ── fd limits ──────────────────────────────────────────────────────────────────────────────────
  {
    id: 'memfd.emfile',
    area: 'memfd',
    catalog: 'mfd.emfile',
    since: '3.17',
    statement: 'EMFILE The per-process limit on the number of open file descriptors has been reached.',
    source: { ...MAN_MEMFD, section: 'ERRORS' },
    expect: { errno: 'EMFILE' },
    run: (ctx) => {
      limitFds(ctx, 0)
      return created(subject(ctx, 'memseal-clause', quietFlags()))
    },
  },
  {
    id: 'memfd.emfile-control',
    area: 'memfd',
    catalog: 'mfd.emfile (control)',
    since: '3.17',
    statement:
      'EMFILE The per-process limit on the number of open file descriptors has been reached. (Control: with room for exactly one more descriptor the call succeeds.)',
    source: { ...MAN_MEMFD, section: 'ERRORS' },
    expect: { ret: 0 },
    run: (ctx) => {
      limitFds(ctx, 1)
      return created(subject(ctx, 'memseal-clause', quietFlags()))
    },
  },
  // ── hugetlbfs memfds (§1) ──────────────────────────────────────────────────────────────────────
  {
    id: 'memfd.hugetlb.create-no-reserved-pages',
    area: 'memfd',
    catalog: 'mfd.hugetlb.create-no-reserved-pages',
    since: '4.14',
    needs: ['hugetlb'],
    statement: `${HUGETLB_TEXT} (Creating the file reserves no huge pages, so it works with an empty pool.)`,
    source: { ...MAN_MEMFD, section: 'DESCRIPTION' },
    expect: { ret: 0 },
    run: (ctx) => created(subject(ctx, 'huge', C.MFD_HUGETLB | quietFlags())),
  },
  {
    id: 'memfd.hugetlb.privileged-ok',
    area: 'memfd',
    catalog: 'mfd.hugetlb.unprivileged-succeeds (control)',
    since: '4.14',
    needs: ['hugetlb', 'root'],
    statement:
      'EPERM The MFD_HUGETLB flag was specified, but the caller was not privileged (did not have the CAP_IPC_LOCK capability) … (Control: a caller with CAP_IPC_LOCK gets an fd.)',
    source: { ...MAN_MEMFD, section: 'ERRORS' },
    expect: { ret: 0 },
    run: (ctx) => created(subject(ctx, 'h', C.MFD_HUGETLB | quietFlags())),
  },
  unprivilegedHugetlb('memfd.hugetlb.unprivileged-succeeds', [65534], 'with supplementary group 65534 only'),
  unprivilegedHugetlb('memfd.hugetlb.unprivileged-no-groups-succeeds', [], 'with no supplementary groups'),
  unsupportedSize('memfd.hugetlb.size-unsupported-16gb-enodev', MFD_HUGE_16GB, 'MFD_HUGETLB | 34 << MFD_HUGE_SHIFT, 16 GiB, which x86-64 does not have', [
    'hugetlb',
    'x86_64',
  ]),
  unsupportedSize('memfd.hugetlb.size-garbage-log-enodev', 63 * 2 ** 26, 'MFD_HUGETLB | 63 << MFD_HUGE_SHIFT, a 2^63-byte page', ['hugetlb']),
  {
    id: 'memfd.hugetlb.size-2mb-ok',
    area: 'memfd',
    catalog: 'mfd.hugetlb.size-2mb-ok',
    since: '4.14',
    needs: ['hugetlb'],
    statement: HUGE_SIZES_TEXT,
    source: { ...MAN_MEMFD, section: 'DESCRIPTION' },
    expect: (k): Observation => (k.features.hugetlbSizes.includes(MIB2) ? { ret: 0 } : { errno: 'ENODEV' }),
    run: (ctx) => created(subject(ctx, 'h', C.MFD_HUGETLB | MFD_HUGE_2MB | quietFlags())),
  },
  {
    id: 'memfd.hugetlb.size-1gb',
    area: 'memfd',
    catalog: 'mfd.hugetlb.size-1gb',
    since: '4.14',
    needs: ['hugetlb'],
    statement: `${HUGE_SIZES_TEXT} (1 GiB pages depend on the CPU and boot configuration: expected to work where /sys/kernel/mm/hugepages lists them, else ENODEV as for other unsupported sizes.)`,
    source: { ...MAN_MEMFD, section: 'DESCRIPTION' },
    expect: (k): Observation => (k.features.hugetlbSizes.includes(GIB) ? { ret: 0 } : { errno: 'ENODEV' }),
    run: (ctx) => created(subject(ctx, 'h', C.MFD_HUGETLB | MFD_HUGE_1GB | quietFlags())),
  },
  {
    id: 'memfd.hugetlb.allow-sealing-ok',
    area: 'memfd',
    catalog: 'mfd.hugetlb.allow-sealing-ok',
    since: '4.16',
    needs: ['hugetlb'],
    statement: 'Specifying both MFD_HUGETLB and MFD_ALLOW_SEALING in flags is supported since Linux 4.16.',
    source: { ...MAN_MEMFD, section: 'DESCRIPTION' },
    expect: { ret: 0 },
    divergence: {
      doc: 'DESCRIPTION: "Specifying both MFD_HUGETLB and MFD_ALLOW_SEALING in flags is supported since Linux 4.16." ERRORS (same page): "EINVAL Both MFD_HUGETLB and MFD_ALLOW_SEALING were specified in flags."',
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
    run: (ctx) => created(subject(ctx, 'h', C.MFD_HUGETLB | C.MFD_ALLOW_SEALING | quietFlags())),
  },
  {
    id: 'memfd.hugetlb.proc-link',
    area: 'memfd',
    catalog: 'mfd.hugetlb.proc-link',
    since: '4.14',
    needs: ['hugetlb'],
    statement: LINK_TEXT,
    source: { ...MAN_MEMFD, section: 'DESCRIPTION' },
    expect: { link: '/memfd:huge (deleted)' },
    run: (ctx) => ({ link: linkOf(hugeMemfd(ctx)) }),
  },
  {
    id: 'memfd.hugetlb.write-einval',
    area: 'memfd',
    catalog: 'mfd.hugetlb.write-einval',
    since: '4.14',
    needs: ['hugetlb'],
    statement:
      'Not documented in memfd_create(2); hugetlbfs has no write operation, so write(2) on a hugetlbfs memfd fails with EINVAL (memfd_test.c skips writes for hugetlbfs: "hugetlbfs does not support write").',
    source: { ...MAN_MEMFD, section: 'DESCRIPTION' },
    expect: { errno: 'EINVAL' },
    run: (ctx) => {
      const fd = hugeMemfd(ctx)
      return attempt(() => writeSync(fd, Buffer.from('x')))
    },
  },
  {
    id: 'memfd.hugetlb.ftruncate-unaligned-einval',
    area: 'memfd',
    catalog: 'mfd.hugetlb.ftruncate-unaligned-einval',
    since: '4.14',
    needs: ['hugetlb'],
    statement: 'Not documented in memfd_create(2); hugetlbfs_setattr() requires the size to be a multiple of the huge page size, else EINVAL.',
    source: { ...MAN_MEMFD, section: 'DESCRIPTION' },
    expect: { errno: 'EINVAL' },
    run: (ctx) => truncated(hugeMemfd(ctx), 4096),
  },
  {
    id: 'memfd.hugetlb.ftruncate-aligned-ok',
    area: 'memfd',
    catalog: 'mfd.hugetlb.ftruncate-aligned-ok',
    since: '4.14',
    needs: ['hugetlb'],
    statement:
      'Not documented in memfd_create(2); hugetlbfs_setattr() accepts a size that is a multiple of the huge page size (no pages are needed to set it).',
    source: { ...MAN_MEMFD, section: 'DESCRIPTION' },
    expect: { ret: 0 },
    run: (ctx) => truncated(hugeMemfd(ctx), defaultHugePageSize()),
  },
  {
    id: 'memfd.hugetlb.mmap-ro-shared-no-reserve-pool',
    area: 'memfd',
    catalog: 'mfd.hugetlb.mmap-ro-shared-no-reserve-pool',
    since: '4.14',
    needs: ['hugetlb'],
    statement:
      'Not documented in memfd_create(2); a MAP_SHARED mapping of a hugetlbfs file reserves its huge pages at mmap time, so with no free page in the pool mmap fails with ENOMEM (it works when the pool has free pages).',
    source: { ...MAN_MEMFD, section: 'DESCRIPTION' },
    expect: (k): Observation => {
      const pool = k.environment.hugetlbPools.find((p) => p.pageSize === defaultHugePageSize())
      return pool && pool.free > 0 ? { ret: 0 } : { errno: 'ENOMEM' }
    },
    run: (ctx) => {
      const hps = defaultHugePageSize()
      const fd = hugeMemfd(ctx)
      mustTruncate(fd, hps)
      return ctx.mapOutcome(ctx.mmapCall(hps, C.PROT_READ, C.MAP_SHARED, fd, 0))
    },
  },
  {
    id: 'memfd.hugetlb.mmap-ro-shared-noreserve-ok',
    area: 'memfd',
    catalog: 'mfd.hugetlb.mmap-ro-shared-no-reserve-pool (control)',
    since: '4.14',
    needs: ['hugetlb'],
    statement:
      'Not documented in memfd_create(2); with MAP_NORESERVE a MAP_SHARED mapping of a hugetlbfs file reserves nothing, so it maps even with an empty pool.',
    source: { ...MAN_MEMFD, section: 'DESCRIPTION' },
    expect: { ret: 0 },
    run: (ctx) => {
      const hps = defaultHugePageSize()
      const fd = hugeMemfd(ctx)
      mustTruncate(fd, hps)
      return ctx.mapOutcome(ctx.mmapCall(hps, C.PROT_READ, C.MAP_SHARED | C.MAP_NORESERVE, fd, 0))
    },
  },
  // §6 (hugetlbfs memfds and seals) lives in seal.ts (seal.hugetlb.*) and mmap.ts (mmap.hugetlb.*).
]

/** ftruncate(2) as the clause's subject: { ret: 0 } or { errno }. */
function truncated(fd: number, length: number): Observation {
  return attempt(() => ftruncateSync(fd, length))
}

/** ftruncate(2) as setup: must succeed. */
function mustTruncate(fd: number, length: number): void {
  try {
    ftruncateSync(fd, length)
  } catch (err) {
    throw new SetupError(`ftruncate(${length}) failed: ${(err as NodeJS.ErrnoException).code}`)
  }
}

/**
 * Lowers RLIMIT_NOFILE so that `room` more descriptors can be opened (0: the next open fails with
 * EMFILE); the old limit comes back when the clause ends.
 */
function limitFds(ctx: Ctx, room: number): void {
  const lowestFree = openSync('/dev/null', 'r')
  closeSync(lowestFree)
  const old = native.raw.getrlimit(C.RLIMIT_NOFILE)
  if (typeof old === 'number') throw new SetupError(`getrlimit(RLIMIT_NOFILE) failed: ${old}`)
  ctx.setup(native.raw.setrlimit(C.RLIMIT_NOFILE, lowestFree + room, old[1]), 'setrlimit(RLIMIT_NOFILE)')
  ctx.defer(() => native.raw.setrlimit(C.RLIMIT_NOFILE, old[0], old[1]))
}
