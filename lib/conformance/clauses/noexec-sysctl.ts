/**
 * vm.memfd_noexec, level by level (catalog §2; memfd_test.c test_sysctl_sysctl0/1/2 on shmem and on
 * hugetlbfs): the memfds memfd_create makes at each level, the values the sysctl takes, who may write it,
 * and which error comes first. All of it in one private pid namespace per worker (noexec-scripts.ts
 * `levels`), which starts at the level memseal runs at and goes up from there: a namespace cannot go below
 * its parent, so what needs a lower level skips with { memfdNoexecAtMost }.
 */
import { C } from '../abi'
import type { Clause, KernelFacts, KnownBehaviour, Observation, Quote } from '../types'
import { CREATE_CASES, FILESYSTEMS, caseKey, chmodTarget, type CreateCase, type Fs } from './noexec-cases'
import { EXEC_REJECTED, levelOf, MAN_SILENT, noflagRejected, MAN_TEXT, NOEXEC, PRE_66, REF_ENFORCED } from './noexec-docs'
import { sharedPart, sysctlClause } from './noexec-session'

/** Kernels where level 2 turns a call without MFD_EXEC or MFD_NOEXEC_SEAL into MFD_NOEXEC_SEAL (6.6; 6.4.16, 6.5.3). */
const LEVEL2_ACCEPTS = '>=6.4.16 <6.5 || >=6.5.3'

const octal = (mode: number): string => mode.toString(8).padStart(4, '0')

/**
 * A memfd of `mode` with `seals`, and on shmem memfd_test.c's fchmod of it: F_SEAL_EXEC refuses it and
 * keeps the mode. (On hugetlbfs the fchmod is left to the noexec.hugetlb.* clauses: hugetlbfs ignores
 * F_SEAL_EXEC there, HUGETLB_EXEC_SEAL_IGNORED, and the level clauses are about the levels.)
 */
function made(fs: Fs, mode: string, seals: number): Observation {
  if (fs === 'hugetlbfs') return { mode, seals }
  const execSealed = (seals & C.F_SEAL_EXEC) !== 0
  return { mode, seals, chmod: execSealed ? { errno: 'EPERM', mode } : { ret: 0, mode: octal(chmodTarget(mode)) } }
}
const asNoexecSeal = (fs: Fs): Observation => made(fs, '0666', C.F_SEAL_EXEC)

/** What mfd_noexec.rst (and memfd_create(2) for the classic case) predicts for one memfd at one level. */
function predicted(k: KernelFacts, fs: Fs, level: number, slug: CreateCase['slug']): Observation {
  if (slug === 'mfd-noexec-seal') return asNoexecSeal(fs)
  if (slug === 'mfd-exec') return level === 2 ? EXEC_REJECTED : made(fs, '0777', 0)
  if (level === 0) return made(fs, '0777', slug === 'allow-sealing' ? 0 : C.F_SEAL_SEAL)
  return level === 1 ? asNoexecSeal(fs) : noflagRejected(k)
}

function quotes(level: number, slug: CreateCase['slug']): Quote[] {
  const byLevel = [NOEXEC.level0, NOEXEC.level1, NOEXEC.level2][level]!
  if (slug === 'mfd-noexec-seal') return [byLevel, NOEXEC.noexecSeal, MAN_TEXT.sealExec]
  if (slug === 'mfd-exec') return level === 1 ? [NOEXEC.finer, NOEXEC.mfdExec] : [byLevel, NOEXEC.mfdExec]
  if (level === 0) return slug === 'no-flags' ? [byLevel, MAN_TEXT.allowSealing] : [byLevel]
  return slug === 'no-flags' ? [byLevel, NOEXEC.impliesSealing, MAN_TEXT.sealExec] : [byLevel, NOEXEC.noexecSeal, MAN_TEXT.sealExec]
}

const FLAGS_TEXT: Record<CreateCase['slug'], string> = {
  'allow-sealing': 'name, MFD_ALLOW_SEALING',
  'no-flags': 'name, 0',
  'mfd-exec': 'name, MFD_EXEC | MFD_ALLOW_SEALING',
  'mfd-noexec-seal': 'name, MFD_NOEXEC_SEAL | MFD_ALLOW_SEALING',
}

function levelClause(level: number, fs: Fs, c: CreateCase): Clause {
  const huge = fs === 'hugetlbfs'
  const noExecFlag = c.slug === 'allow-sealing' || c.slug === 'no-flags'
  const history: KnownBehaviour[] = []
  if (level === 2 && noExecFlag)
    history.push({
      range: LEVEL2_ACCEPTS,
      observed: asNoexecSeal(fs),
      behaviour: 'Since the 6.6 fixes, level 2 accepts a call without MFD_EXEC or MFD_NOEXEC_SEAL and treats it as MFD_NOEXEC_SEAL; only MFD_EXEC is refused.',
      ref: REF_ENFORCED,
    })
  if (level === 2 && c.slug === 'mfd-exec')
    history.push({
      range: PRE_66,
      observed: made(fs, '0777', 0),
      behaviour: 'Before the 6.6 fixes, level 2 checked only calls without a flag: MFD_EXEC still made an executable memfd.',
      ref: REF_ENFORCED,
    })
  let divergence: Clause['divergence']
  if (level === 2 && noExecFlag)
    divergence = {
      doc: `mfd_noexec.rst (Linux 6.12 and 7.2): "${NOEXEC.level2.text}"`,
      kernel:
        'Since 202e14222fad (6.6; stable 6.4.16, 6.5.3) mm/memfd.c check_sysctl_memfd_noexec() adds MFD_NOEXEC_SEAL to a call without MFD_EXEC or MFD_NOEXEC_SEAL at level ≥ 1, so at level 2 only MFD_EXEC is rejected (EACCES): the call succeeds with mode 0666 and F_SEAL_EXEC.',
    }
  if (level === 1 && c.slug === 'no-flags')
    divergence = {
      doc: `memfd_create(2) (man-pages 6.20): "${MAN_TEXT.allowSealing.text.split('… ')[1]!}" The page names neither MFD_NOEXEC_SEAL nor vm.memfd_noexec.`,
      kernel:
        'At level 1 a call without exec flags acts like MFD_NOEXEC_SEAL (mfd_noexec.rst), which implies MFD_ALLOW_SEALING: memfd_create(name, 0) starts with F_SEAL_EXEC alone, no F_SEAL_SEAL, so a caller that never asked for sealing gets a sealable memfd. The kernel does what mfd_noexec.rst says; the man page is silent.',
    }
  return sysctlClause({
    id: `noexec.sysctl.${huge ? 'hugetlb.' : ''}level${level}.${c.slug}`,
    catalog: `sysctl.level${level}.*`,
    since: '6.3',
    needs: [...(level < 2 ? [{ memfdNoexecAtMost: level as 0 | 1 }] : []), ...(huge ? (['hugetlb'] as const) : [])],
    quote: quotes(level, c.slug),
    note:
      `In a private pid namespace at vm.memfd_noexec=${level}: memfd_create(${FLAGS_TEXT[c.slug]}${huge ? ' | MFD_HUGETLB' : ''}), its mode (fstat) and seals (F_GET_SEALS)` +
      (huge
        ? ". (The fchmod memfd_test.c makes next is the noexec.hugetlb.* clauses' business: hugetlbfs ignores F_SEAL_EXEC there.)"
        : ', then fchmod as memfd_test.c does (0644 when the mode has execute bits, 0777 otherwise) and the mode after it.') +
      (level === 2 && noExecFlag
        ? ' mfd_noexec.rst gives no errno for "rejected": the expectation is the kernel\'s of the era, EINVAL before the 6.6 rework, EACCES since.'
        : '') +
      (level === 2 && c.slug === 'mfd-exec' ? ' mfd_noexec.rst gives no errno for "rejected"; the kernel\'s is EACCES.' : '') +
      (level === 0 && c.slug === 'no-flags' ? ` (${MAN_SILENT}; at level 0 its classic text holds.)` : ''),
    mirrors: [`memfd_test.c test_sysctl_sysctl${level}${huge ? ' (hugetlbfs)' : ''}`],
    expect: (k) => predicted(k, fs, level, c.slug),
    ...(history.length ? { history } : {}),
    ...(divergence ? { divergence } : {}),
    run: (ctx) => sharedPart(ctx, 'levels', caseKey(level, fs, c.slug)),
  })
}

const PID_SYSCTL = 'kernel/pid_sysctl.h'
const code = (doc: string, text: string): Quote => ({ doc, version: 'Linux 7.2', text })

const others: Clause[] = [
  sysctlClause({
    id: 'noexec.sysctl.write-3-einval',
    catalog: 'sysctl.write-3-einval',
    since: '6.3',
    basis: 'code',
    quote: [NOEXEC.values, code(PID_SYSCTL, '.proc_handler = pid_mfd_noexec_dointvec_minmax, .extra1 = SYSCTL_ZERO, .extra2 = SYSCTL_TWO,')],
    note: "mfd_noexec.rst lists three values and says nothing of others; the errno is the kernel's: proc_dointvec_minmax refuses a value above extra2 (2) with EINVAL, and the level stays where it was (the level memseal runs at).",
    expect: (k) => ({ write: 'EINVAL', level: levelOf(k) }),
    run: (ctx) => sharedPart(ctx, 'levels', 'write-3'),
  }),
  sysctlClause({
    id: 'noexec.sysctl.write-negative-einval',
    catalog: 'sysctl.write-negative-einval',
    since: '6.3',
    basis: 'code',
    quote: [NOEXEC.values, code(PID_SYSCTL, '/* You cannot set a lower enforcement value than your parent. */ … table_copy.extra1 = &parent_scope;')],
    note: "Writing -1: below every minimum the handler has had (0 in 6.3, the parent's level since 6.6), so EINVAL, and the level stays where it was.",
    expect: (k) => ({ write: 'EINVAL', level: levelOf(k) }),
    run: (ctx) => sharedPart(ctx, 'levels', 'write-negative'),
  }),
  sysctlClause({
    id: 'noexec.sysctl.write-2-ok',
    catalog: 'sysctl.write-3-einval (control)',
    since: '6.3',
    quote: [NOEXEC.values, NOEXEC.level2],
    note: 'Control for the refused writes: 2 is accepted and reads back 2 (memfd_test.c sysctl_assert_write, sysctl_assert_equal).',
    mirrors: ['memfd_test.c test_sysctl_set_sysctl2'],
    expect: { write: 'ok', level: 2 },
    run: (ctx) => sharedPart(ctx, 'levels', 'write-2'),
  }),
  sysctlClause({
    id: 'noexec.sysctl.write-needs-cap-sys-admin-eperm',
    catalog: 'sysctl.write-needs-cap-sys-admin',
    since: '6.3',
    basis: 'code',
    quote: code(PID_SYSCTL, 'if (write && !ns_capable(ns->user_ns, CAP_SYS_ADMIN)) return -EPERM;'),
    note: "No document says who may write vm.memfd_noexec; the code asks for CAP_SYS_ADMIN over the pid namespace's user namespace. The init of a private pid namespace, started by setpriv(1) without CAP_SYS_ADMIN in its bounding and inheritable sets (checked in /proc/self/status before it writes), writes 2: EPERM, and the level stays. write-2-ok is the control with the capability.",
    expect: (k) => ({ write: 'EPERM', level: levelOf(k) }),
    run: async (ctx) =>
      (await ctx.proc.run({ module: 'noexec-scripts', name: 'writeWithoutSysAdmin' }, null, { pidns: true, dropCapabilities: ['sys_admin'] })) as Observation,
  }),
  sysctlClause({
    id: 'noexec.sysctl.level2.mfd-exec-logged',
    catalog: 'sysctl.level2.mfd-exec (+sysctl.level2.mfd-exec-dmesg)',
    since: '6.6',
    needs: ['kmsg'],
    basis: 'code',
    quote: [
      NOEXEC.level2,
      code(
        'mm/memfd.c',
        'pr_err_ratelimited( "%s[%d]: memfd_create() requires MFD_NOEXEC_SEAL with vm.memfd_noexec=%d\\n", current->comm, task_pid_nr(current), sysctl); return -EACCES;',
      ),
    ],
    note: 'No document mentions a log message: the code logs one, rate-limited, when level 2 refuses MFD_EXEC. memfd_create(MFD_EXEC | MFD_ALLOW_SEALING) at level 2, then the kernel log (/dev/kmsg) is searched for the message after the last record seen before the call (or for ten such messages in the last 5 s, the rate limit).',
    expect: { errno: 'EACCES', logged: true },
    history: [
      {
        range: PRE_66,
        observed: { mode: '0777', logged: false },
        behaviour: 'Before the 6.6 fixes MFD_EXEC was allowed at level 2 and nothing was logged.',
        ref: REF_ENFORCED,
      },
    ],
    run: (ctx) => sharedPart(ctx, 'levels', 'exec-logged'),
  }),
  sysctlClause({
    id: 'noexec.sysctl.order.exec-at-2-eacces-before-name-efault',
    catalog: 'mfd.order.sysctl-eacces-before-name-efault',
    since: '6.6',
    basis: 'code',
    quote: code('mm/memfd.c', 'error = sanitize_flags(&flags); if (error < 0) return error; name = alloc_name(uname);'),
    note: 'Which error comes first is not documented: the code checks the flags against vm.memfd_noexec (sanitize_flags) before it reads the name, so at level 2 memfd_create(NULL, MFD_EXEC) fails with EACCES, not EFAULT.',
    expect: { errno: 'EACCES' },
    history: [
      {
        range: PRE_66,
        observed: { errno: 'EFAULT' },
        behaviour: 'Before the 6.6 fixes MFD_EXEC passed the level-2 check, so the bad name was what failed (EFAULT).',
        ref: REF_ENFORCED,
      },
    ],
    run: (ctx) => sharedPart(ctx, 'levels', 'order.exec-null-name'),
  }),
  sysctlClause({
    id: 'noexec.sysctl.order.no-flags-at-2-name-efault',
    catalog: 'mfd.order.noflag-at-2-then-name-efault',
    since: '6.6',
    basis: 'code',
    quote: code('mm/memfd.c', 'error = sanitize_flags(&flags); if (error < 0) return error; name = alloc_name(uname);'),
    note: 'Which error comes first is not documented: at level 2 the code accepts a call without exec flags (as MFD_NOEXEC_SEAL) and then reads the name, so memfd_create(NULL, 0) fails with EFAULT.',
    expect: { errno: 'EFAULT' },
    history: [
      {
        range: PRE_66,
        observed: { errno: 'EINVAL' },
        behaviour: 'Before 202e14222fad level 2 rejected a call without flags (EINVAL) before reading the name.',
        ref: REF_ENFORCED,
      },
    ],
    run: (ctx) => sharedPart(ctx, 'levels', 'order.noflag-null-name'),
  }),
]

export const sysctlLevelClauses: Clause[] = [
  ...[0, 1, 2].flatMap((level) => FILESYSTEMS.flatMap((fs) => CREATE_CASES.map((c) => levelClause(level, fs, c)))),
  ...others,
]
