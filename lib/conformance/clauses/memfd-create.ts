/**
 * memfd_create(2) arguments (catalog §1; memfd_test.c test_create; LTP memfd_create02): which flags are
 * refused, what each accepted flag does to the new fd, and the name: its length limit, bad pointers, and
 * how /proc/self/fd shows it. Every accepted call is judged by what the fd is (a memfd, its close-on-exec
 * flag, its seals, its link), never by the return value alone.
 */
import { C } from '../abi'
import type { Ctx } from '../ctx'
import type { Clause, KernelFacts, Observation } from '../types'
import { byLevel, level2History, MEMFD, memfdCreate } from './memfd-docs'

const clause = (c: Omit<Clause, 'area'>): Clause => ({ area: 'memfd', ...c })

/**
 * Flags whose outcome does not depend on vm.memfd_noexec: MFD_NOEXEC_SEAL where the kernel has it (a call
 * without exec flags "will be rejected" at level 2), none before 6.3.
 */
export function quiet(ctx: Ctx): number {
  return ctx.facts.features.noexecSeal ? C.MFD_NOEXEC_SEAL : 0
}

const MFD_HUGE_2MB = 21 * 2 ** 26
const T_CREATE = 'memfd_test.c test_create'
const LTP02 = 'LTP memfd_create02'

interface Refused {
  id: string
  flags: number
  what: string
  mirrors: string[]
}

/** Flags with a bit memfd_create(2) does not define: EINVAL, and no fd. */
const UNKNOWN: Refused[] = [
  {
    id: 'memfd.flags.unknown-bit-0x100-einval',
    flags: 0x100,
    what: '0x100, the bit above the defined flags in the first byte',
    mirrors: [T_CREATE, `${LTP02} "invalid flags fail 2"`],
  },
  { id: 'memfd.flags.unknown-bit-0x80000000-einval', flags: 0x80000000, what: 'bit 31', mirrors: [T_CREATE, `${LTP02} "invalid flags fail 6"`] },
  { id: 'memfd.flags.next-free-bit-0x20-einval', flags: 0x20, what: '0x20, the first bit above MFD_EXEC', mirrors: [] },
  { id: 'memfd.flags.all-ones-einval', flags: 0xffffffff, what: '~0', mirrors: [T_CREATE, `${LTP02} "invalid flags fail 5"`] },
  { id: 'memfd.flags.not-cloexec-einval', flags: ~C.MFD_CLOEXEC >>> 0, what: '~MFD_CLOEXEC', mirrors: [T_CREATE, `${LTP02} "invalid flags fail 3"`] },
  {
    id: 'memfd.flags.not-allow-sealing-einval',
    flags: ~C.MFD_ALLOW_SEALING >>> 0,
    what: '~MFD_ALLOW_SEALING',
    mirrors: [T_CREATE, `${LTP02} "invalid flags fail 4"`],
  },
  { id: 'memfd.flags.minus-500-einval', flags: -500 >>> 0, what: '-500 as an unsigned int', mirrors: [`${LTP02} "invalid flags fail 1"`] },
]

const unknownClauses: Clause[] = UNKNOWN.map((u) =>
  clause({
    id: u.id,
    catalog: 'mfd.flags.unknown-bit',
    quote: [memfdCreate('DESCRIPTION', MEMFD.unusedBits), memfdCreate('ERRORS', MEMFD.eUnknownBits)],
    note: `memfd_create("memseal-clause", ${u.what}): refused, no fd.`,
    ...(u.mirrors.length ? { mirrors: u.mirrors } : {}),
    since: '3.17',
    expect: { errno: 'EINVAL' },
    run: (ctx) => ctx.try.memfdCreate('memseal-clause', u.flags).obs,
  }),
)

interface Accepted {
  id: string
  flags: number
  name: string
  what: string
  mirrors: string[]
}

/** Flags memfd_create(2) defines: a memfd, with the close-on-exec flag and the seals they promise. */
const ACCEPTED: Accepted[] = [
  { id: 'memfd.flags.set.none', flags: 0, name: 'test', what: '0', mirrors: [`${LTP02} "valid flags 4 pass"`] },
  { id: 'memfd.flags.set.cloexec', flags: C.MFD_CLOEXEC, name: 'test', what: 'MFD_CLOEXEC', mirrors: [T_CREATE, `${LTP02} "valid flags 1 pass"`] },
  {
    id: 'memfd.flags.set.allow-sealing',
    flags: C.MFD_ALLOW_SEALING,
    name: 'test',
    what: 'MFD_ALLOW_SEALING',
    mirrors: [T_CREATE, `${LTP02} "valid flags 2 pass"`],
  },
  {
    id: 'memfd.flags.set.cloexec-allow-sealing',
    flags: C.MFD_CLOEXEC | C.MFD_ALLOW_SEALING,
    name: 'test',
    what: 'MFD_CLOEXEC | MFD_ALLOW_SEALING',
    mirrors: [T_CREATE, `${LTP02} "valid flags 3 pass"`],
  },
  { id: 'memfd.flags.set.none-empty-name', flags: 0, name: '', what: '0 with the name ""', mirrors: [T_CREATE, `${LTP02} "valid flags 5 pass"`] },
]

/** What a memfd made with `flags` (no exec flag) is at each level: its close-on-exec flag and its seals. */
function acceptedExpect(flags: number): (k: KernelFacts) => Observation {
  const cloexec = (flags & C.MFD_CLOEXEC) !== 0
  const atZero = { ret: 0, cloexec, seals: flags & C.MFD_ALLOW_SEALING ? 0 : C.F_SEAL_SEAL }
  return byLevel(atZero, { ret: 0, cloexec, seals: C.F_SEAL_EXEC })
}

const acceptedClauses: Clause[] = ACCEPTED.map((a) =>
  clause({
    id: a.id,
    catalog: 'mfd.flags.unknown-bit (control)',
    quote: [memfdCreate('DESCRIPTION', MEMFD.flags), memfdCreate('DESCRIPTION', MEMFD.cloexec), memfdCreate('DESCRIPTION', MEMFD.allowSealing)],
    note:
      `memfd_create(${JSON.stringify(a.name)}, ${a.what}): a memfd, with FD_CLOEXEC as MFD_CLOEXEC asks and F_SEAL_SEAL unless MFD_ALLOW_SEALING. ` +
      'No exec flag is given, so the level of vm.memfd_noexec decides the rest (mfd_noexec.rst): at 1 the call "acts like MFD_NOEXEC_SEAL was set" (F_SEAL_EXEC, sealable), at 2 it "will be rejected".',
    mirrors: a.mirrors,
    since: '3.17',
    expect: acceptedExpect(a.flags),
    history: level2History({ ret: 0, cloexec: (a.flags & C.MFD_CLOEXEC) !== 0, seals: C.F_SEAL_EXEC }),
    run: (ctx) => {
      const level = ctx.facts.environment.memfdNoexec
      const { obs, fd } = ctx.try.memfdCreate(a.name, a.flags)
      if (fd === null) return { level, ...obs }
      return { level, ...obs, cloexec: (ctx.file.fdFlags(fd) & C.FD_CLOEXEC) !== 0, seals: ctx.file.seals(fd) }
    },
  }),
)

const otherFlags: Clause[] = [
  clause({
    id: 'memfd.flags.huge-size-without-hugetlb-einval',
    catalog: 'mfd.flags.huge-size-without-hugetlb',
    basis: 'code',
    quote: [
      memfdCreate('DESCRIPTION', MEMFD.hugeSizes),
      {
        doc: 'mm/memfd.c',
        version: 'Linux 7.2',
        section: 'sanitize_flags()',
        text: 'if (!(flags & MFD_HUGETLB)) { if (flags & ~MFD_ALL_FLAGS) return -EINVAL;',
      },
    ],
    note: 'MFD_HUGE_2MB without MFD_HUGETLB. The page says the size flags are "used in conjunction with MFD_HUGETLB" but not what happens without it; the code treats them as unknown bits then (EINVAL).',
    since: '4.14',
    expect: { errno: 'EINVAL' },
    run: (ctx) => ctx.try.memfdCreate('memseal-clause', MFD_HUGE_2MB | quiet(ctx)).obs,
  }),
  clause({
    id: 'memfd.order.flags-einval-before-name-efault',
    basis: 'code',
    quote: {
      doc: 'mm/memfd.c',
      version: 'Linux 7.2',
      section: 'memfd_create()',
      text: 'error = sanitize_flags(&flags); if (error < 0) return error; name = alloc_name(uname);',
    },
    note: 'No document says which error wins when both the flags (0x100) and the name (NULL) are bad; the code checks the flags first (EINVAL), then reads the name (EFAULT).',
    since: '3.17',
    expect: { errno: 'EINVAL' },
    run: (ctx) => ctx.try.memfdCreate(null, 0x100).obs,
  }),
]

const name = (bytes: number, fill: string | number = 'a'): Buffer => Buffer.concat([Buffer.alloc(bytes, fill), Buffer.alloc(1)])

/** The name: pointers, the 249-byte limit, and the /proc/self/fd link it becomes. */
const names: Clause[] = [
  clause({
    id: 'memfd.name.null-efault',
    catalog: 'mfd.name.null',
    quote: memfdCreate('ERRORS', MEMFD.eFault),
    note: 'memfd_create(NULL, flags): refused, no fd.',
    mirrors: [T_CREATE, `${LTP02} "invalid name fail 1"`],
    since: '3.17',
    expect: { errno: 'EFAULT' },
    run: (ctx) => ctx.try.memfdCreate(null, quiet(ctx)).obs,
  }),
  clause({
    id: 'memfd.name.bad-pointer-efault',
    catalog: 'mfd.name.bad-pointer',
    quote: memfdCreate('ERRORS', MEMFD.eFault),
    note: 'memfd_create((char *) 1, flags): the name points into the unmapped first page.',
    since: '3.17',
    expect: { errno: 'EFAULT' },
    run: (ctx) => ctx.try.memfdCreate(1, quiet(ctx)).obs,
  }),
  clause({
    id: 'memfd.name.len-249-ok',
    quote: [memfdCreate('ERRORS', MEMFD.eNameTooLong), memfdCreate('DESCRIPTION', MEMFD.link)],
    note: 'A name of exactly 249 bytes: a memfd, whose /proc/self/fd link shows the whole name.',
    since: '3.17',
    expect: { ret: 0, link: `/memfd:${'a'.repeat(249)} (deleted)` },
    run: (ctx) => {
      const { obs, fd } = ctx.try.memfdCreate(name(249), quiet(ctx))
      return fd === null ? obs : { ...obs, link: ctx.file.link(fd) }
    },
  }),
  clause({
    id: 'memfd.name.len-250-einval',
    quote: memfdCreate('ERRORS', MEMFD.eNameTooLong),
    note: 'A name of 250 bytes (one too many): refused, no fd.',
    since: '3.17',
    expect: { errno: 'EINVAL' },
    run: (ctx) => ctx.try.memfdCreate(name(250), quiet(ctx)).obs,
  }),
  clause({
    id: 'memfd.name.len-2047-einval',
    catalog: 'mfd.name.len-250-einval',
    quote: memfdCreate('ERRORS', MEMFD.eNameTooLong),
    note: 'test_create\'s "over-long zero-terminated name": 2047 bytes of 0xff and a null byte.',
    mirrors: [T_CREATE, `${LTP02} "invalid name fail 3"`],
    since: '3.17',
    expect: { errno: 'EINVAL' },
    run: (ctx) => ctx.try.memfdCreate(name(2047, 0xff), quiet(ctx)).obs,
  }),
  clause({
    id: 'memfd.name.unterminated-long-einval',
    catalog: 'mfd.name.unterminated-long',
    quote: memfdCreate('ERRORS', MEMFD.eNameTooLong),
    note: 'test_create\'s "over-long name (not zero-terminated)": 2048 readable bytes of 0xff with no null byte; the kernel reads no more than 250 of them.',
    mirrors: [T_CREATE, `${LTP02} "invalid name fail 2"`],
    since: '3.17',
    expect: { errno: 'EINVAL' },
    run: (ctx) => ctx.try.memfdCreate(Buffer.alloc(2048, 0xff), quiet(ctx)).obs,
  }),
  clause({
    id: 'memfd.name.empty-ok',
    catalog: 'mfd.name.empty-ok',
    quote: [memfdCreate('ERRORS', MEMFD.eNameTooLong), memfdCreate('DESCRIPTION', MEMFD.link)],
    note: 'The page lists no error for an empty name (test_create: "verify \\"\\" is a valid name"): a memfd whose link is the bare prefix.',
    mirrors: [T_CREATE],
    since: '3.17',
    expect: { ret: 0, link: '/memfd: (deleted)' },
    run: (ctx) => {
      const { obs, fd } = ctx.try.memfdCreate('', quiet(ctx))
      return fd === null ? obs : { ...obs, link: ctx.file.link(fd) }
    },
  }),
  clause({
    id: 'memfd.name.same-name-twice-ok',
    quote: memfdCreate('DESCRIPTION', MEMFD.sameName),
    note: 'Two memfds with the same name: both are made, and they are two files (different inodes).',
    since: '3.17',
    expect: { ret: 0, second: { ret: 0 }, sameFile: false },
    run: (ctx) => {
      const first = ctx.try.memfdCreate('twin', quiet(ctx))
      const second = ctx.try.memfdCreate('twin', quiet(ctx))
      if (first.fd === null || second.fd === null) return { ...first.obs, second: second.obs }
      return { ...first.obs, second: second.obs, sameFile: ctx.file.sameFile(first.fd, second.fd) }
    },
  }),
  clause({
    id: 'memfd.proc-link-format',
    quote: [memfdCreate('DESCRIPTION', MEMFD.link), memfdCreate('EXAMPLES', MEMFD.example)],
    note: 'The name "hello world/with/slash" (a space and slashes are allowed) shows after memfd: in the link.',
    since: '3.17',
    expect: { link: '/memfd:hello world/with/slash (deleted)' },
    run: (ctx) => ({ link: ctx.file.link(ctx.file.memfd(quiet(ctx), 'hello world/with/slash')) }),
  }),
]

export const createClauses: Clause[] = [...unknownClauses, ...acceptedClauses, ...otherFlags, ...names]
