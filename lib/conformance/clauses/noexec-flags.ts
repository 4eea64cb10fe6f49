/**
 * MFD_EXEC and MFD_NOEXEC_SEAL at creation, on shmem and on hugetlbfs (catalog §1 noexec rows; memfd_test.c
 * test_noexec_seal, test_exec_no_seal and their hugetlbfs runs), executing memfds (§3), and the removed
 * creation warning. These run in the worker, at the level of vm.memfd_noexec memseal runs at: expectations
 * follow that level, and what needs an executable memfd skips at level 2, where none can be made.
 */
import { C } from '../abi'
import type { Ctx } from '../ctx'
import type { Clause, KernelFacts, Need, Observation, Quote } from '../types'
import { compareVersions, parseVersion } from '../../kernel/version'
import type { Fs } from './noexec-cases'
import {
  EXEC_REJECTED,
  HUGETLB_EXEC_SEAL_DIVERGENCE,
  HUGETLB_EXEC_SEAL_IGNORED,
  levelOf,
  MAN_SILENT,
  MAN_TEXT,
  manDoc,
  NOEXEC,
  PRE_66,
  REF_ENFORCED,
  sealableSeals,
} from './noexec-docs'
import { unfixed } from './unfixed'

const clause = (c: Omit<Clause, 'area'>): Clause => ({ area: 'noexec', ...c })

const MEMFD_C = (text: string): Quote => ({ doc: 'mm/memfd.c', version: 'Linux 7.2', text })
const EXEC_EACCES = manDoc('execve(2)', 'ERRORS', 'EACCES Execute permission is denied for the file or a script or ELF interpreter.')
const EXECVEAT = manDoc(
  'execveat(2)',
  'DESCRIPTION',
  'If path is an empty string and the AT_EMPTY_PATH flag is specified, then the file descriptor dirfd specifies the file to be executed (i.e., dirfd refers to an executable file, rather than a directory).',
)

/** MFD_EXEC where the kernel's version has it; before 6.3 every memfd was executable. */
function execFlag(ctx: Ctx): number {
  return compareVersions(ctx.facts.version, parseVersion('6.3')) >= 0 ? C.MFD_EXEC : 0
}

const hugeFlag = (fs: Fs): number => (fs === 'hugetlbfs' ? C.MFD_HUGETLB : 0)

/** memfd_create as the call under test, and the facts `pick` of what it made. */
function created(ctx: Ctx, flags: number, pick: (fd: number) => Observation): Observation {
  const { obs, fd } = ctx.try.memfdCreate('memseal-noexec', flags | C.MFD_CLOEXEC)
  return fd === null || obs.notMemfd !== undefined ? obs : { ...obs, ...pick(fd) }
}

/** The creation clauses, for shmem and for hugetlbfs (where the id gains `hugetlb.`). */
function creationClauses(fs: Fs): Clause[] {
  const huge = fs === 'hugetlbfs'
  const id = (rest: string): string => `noexec.${huge ? 'hugetlb.' : ''}${rest}`
  const needs = (...more: Need[]): Need[] => [...more, ...(huge ? (['hugetlb'] as const) : [])]
  const on = huge ? " A hugetlbfs memfd (MFD_HUGETLB): the kernel keeps its seals apart from shmem's." : ''
  const mirror = (test: string): string[] => [`memfd_test.c ${test}${huge ? ' (hugetlbfs)' : ''}`]
  const noexec = (ctx: Ctx): number => ctx.file.memfd(C.MFD_NOEXEC_SEAL | hugeFlag(fs), 'memseal-noexec')
  return [
    clause({
      id: id('mode.exec-0777'),
      catalog: 'mfd.mode.exec-0777',
      since: '6.3',
      needs: needs('mfdExec'),
      quote: [NOEXEC.mfdExec, NOEXEC.finer, NOEXEC.level2],
      note: `memfd_create(MFD_EXEC): mode 0777 (fstat) at levels 0 and 1; at level 2 it is rejected (mfd_noexec.rst gives no errno; the kernel's is EACCES).${on}`,
      mirrors: mirror('test_exec_no_seal'),
      expect: (k): Observation | Observation[] => (levelOf(k) === 2 ? EXEC_REJECTED : { ret: 0, mode: '0777' }),
      history: [
        {
          range: PRE_66,
          observed: { ret: 0, mode: '0777' },
          behaviour: 'Before the 6.6 fixes vm.memfd_noexec=2 checked only calls without a flag: MFD_EXEC still made an executable memfd.',
          ref: REF_ENFORCED,
        },
      ],
      run: (ctx) => created(ctx, C.MFD_EXEC | hugeFlag(fs), (fd) => ({ mode: ctx.file.mode(fd) })),
    }),
    clause({
      id: id('seals.exec-no-allow-sealing'),
      catalog: 'mfd.seals.exec-no-allow-sealing',
      since: '6.3',
      needs: needs('mfdExec'),
      quote: [MAN_TEXT.allowSealing, NOEXEC.mfdExec],
      note: `memfd_create(MFD_EXEC) without MFD_ALLOW_SEALING starts with F_SEAL_SEAL (F_GET_SEALS): only MFD_NOEXEC_SEAL implies MFD_ALLOW_SEALING (mfd_noexec.rst). At level 2 MFD_EXEC is rejected.${on}`,
      mirrors: mirror('test_exec_no_seal'),
      expect: (k): Observation | Observation[] => (levelOf(k) === 2 ? EXEC_REJECTED : { ret: 0, seals: C.F_SEAL_SEAL }),
      history: [
        {
          range: PRE_66,
          observed: { ret: 0, seals: C.F_SEAL_SEAL },
          behaviour: 'Before the 6.6 fixes MFD_EXEC was allowed at vm.memfd_noexec=2.',
          ref: REF_ENFORCED,
        },
      ],
      run: (ctx) => created(ctx, C.MFD_EXEC | hugeFlag(fs), (fd) => ({ seals: ctx.file.seals(fd) })),
    }),
    clause({
      id: id('mode.noexec-0666'),
      catalog: 'mfd.mode.noexec-0666',
      since: '6.3',
      needs: needs('noexecSeal'),
      quote: NOEXEC.noexecSeal,
      note: `memfd_create(MFD_NOEXEC_SEAL): "created with NX", mode 0666 (fstat), at every level.${on}`,
      mirrors: mirror('test_noexec_seal'),
      expect: { ret: 0, mode: '0666' },
      run: (ctx) => created(ctx, C.MFD_NOEXEC_SEAL | hugeFlag(fs), (fd) => ({ mode: ctx.file.mode(fd) })),
    }),
    clause({
      id: id('seals.noexec-implies-allow-sealing'),
      catalog: 'mfd.seals.noexec-implies-allow-sealing; mfd.noexec-not-implying-sealing.rejected',
      since: '6.3',
      needs: needs('noexecSeal'),
      quote: [NOEXEC.noexecSeal, NOEXEC.impliesSealing],
      note:
        `memfd_create(MFD_NOEXEC_SEAL) without MFD_ALLOW_SEALING: mfd_noexec.rst says twice that sealing is implied and F_SEAL_EXEC set, so F_GET_SEALS gives F_SEAL_EXEC alone (0x20): no F_SEAL_SEAL, further seals can be added. ${MAN_SILENT}; its MFD_ALLOW_SEALING text ("If this flag is not set, the initial set of seals will be F_SEAL_SEAL") was written before these flags and does not govern them. ` +
        'The 2024 patches to drop the implication ("memfd: MFD_NOEXEC_SEAL should not imply MFD_ALLOW_SEALING") were not merged; the Note was added instead.' +
        on,
      mirrors: mirror('test_noexec_seal'),
      expect: { ret: 0, seals: C.F_SEAL_EXEC },
      divergence: {
        doc: `memfd_create(2) (man-pages 6.03, 6.9.1 and 6.20): "${MAN_TEXT.allowSealing.text.split('… ')[1]!}" The page never mentions MFD_NOEXEC_SEAL.`,
        kernel:
          'mm/memfd.c memfd_alloc_file() clears F_SEAL_SEAL and sets F_SEAL_EXEC for MFD_NOEXEC_SEAL, as mfd_noexec.rst says: the memfd starts with F_SEAL_EXEC alone (0x20) although MFD_ALLOW_SEALING was not given. A documentation gap of the man page, not a kernel bug.',
      },
      run: (ctx) => created(ctx, C.MFD_NOEXEC_SEAL | hugeFlag(fs), (fd) => ({ seals: ctx.file.seals(fd) })),
    }),
    clause({
      id: id('seals.noexec-plus-allow-sealing'),
      catalog: 'mfd.seals.noexec+allow',
      since: '6.3',
      needs: needs('noexecSeal'),
      quote: NOEXEC.noexecSeal,
      note: `memfd_create(MFD_NOEXEC_SEAL | MFD_ALLOW_SEALING): F_SEAL_EXEC alone (F_GET_SEALS).${on}`,
      mirrors: mirror('test_noexec_seal'),
      expect: { ret: 0, seals: C.F_SEAL_EXEC },
      run: (ctx) => created(ctx, C.MFD_NOEXEC_SEAL | C.MFD_ALLOW_SEALING | hugeFlag(fs), (fd) => ({ seals: ctx.file.seals(fd) })),
    }),
    clause({
      id: id('noexec.can-add-seal-seal'),
      catalog: 'mfd.noexec.can-add-seal-seal',
      since: '6.3',
      needs: needs('noexecSeal'),
      quote: NOEXEC.impliesSealing,
      note: `F_ADD_SEALS(F_SEAL_SEAL) on a MFD_NOEXEC_SEAL memfd succeeds, and F_GET_SEALS then shows F_SEAL_EXEC | F_SEAL_SEAL (0x21).${on}`,
      expect: { ret: 0, seals: C.F_SEAL_EXEC | C.F_SEAL_SEAL },
      run: (ctx) => ctx.try.addSeals(noexec(ctx), C.F_SEAL_SEAL),
    }),
    clause({
      id: id('noexec.chmod-x-eperm'),
      catalog: 'mfd.noexec.chmod-x-eperm',
      since: '6.3',
      needs: needs('noexecSeal'),
      quote: [NOEXEC.noexecSeal, MAN_TEXT.sealExec],
      note: `fchmod(0777) of a MFD_NOEXEC_SEAL memfd fails with EPERM and the mode stays 0666.${on}`,
      mirrors: mirror('test_noexec_seal'),
      expect: { errno: 'EPERM', mode: '0666' },
      ...(huge
        ? { history: [{ range: '>=6.3', observed: { ret: 0, mode: '0777' }, ...HUGETLB_EXEC_SEAL_IGNORED }], divergence: HUGETLB_EXEC_SEAL_DIVERGENCE }
        : {}),
      run: (ctx) => ctx.try.chmod(noexec(ctx), 0o777),
    }),
    clause({
      id: id('noexec.chmod-non-x-ok'),
      catalog: 'mfd.noexec.chmod-non-x-ok',
      since: '6.3',
      needs: needs('noexecSeal'),
      quote: MAN_TEXT.sealExec,
      note: `Control for chmod-x-eperm: only the execute bits are sealed, so fchmod(0600) of the same kind of memfd succeeds and the mode is 0600.${on}`,
      expect: { ret: 0, mode: '0600' },
      run: (ctx) => ctx.try.chmod(noexec(ctx), 0o600),
    }),
  ]
}

const EXEC_NEEDS: Clause['needs'] = [{ memfdNoexecAtMost: 1 }]

/** A sealable executable memfd holding /bin/true (MFD_EXEC where the kernel has it). */
function trueMemfd(ctx: Ctx, flags = C.MFD_ALLOW_SEALING): number {
  const fd = ctx.file.memfd(flags | execFlag(ctx), 'memseal-true')
  ctx.file.fillFrom(fd, '/bin/true')
  return fd
}

const execClauses: Clause[] = [
  clause({
    id: 'noexec.exec.noexec-memfd-execveat-eacces',
    catalog: 'mfd.exec.noexec-memfd-execveat-eacces',
    since: '6.3',
    needs: ['noexecSeal'],
    quote: [NOEXEC.noexecSeal, EXEC_EACCES],
    note: 'A MFD_NOEXEC_SEAL memfd holding /bin/true, executed with execveat(fd, "", argv, AT_EMPTY_PATH) in a forked child: EACCES, as for any file without execute permission.',
    expect: { errno: 'EACCES' },
    run: (ctx) => {
      const fd = ctx.file.memfd(C.MFD_NOEXEC_SEAL, 'memseal-noexec-true')
      ctx.file.fillFrom(fd, '/bin/true')
      return ctx.try.exec(fd, ['true'])
    },
  }),
  clause({
    id: 'noexec.exec.exec-memfd-execveat-ok',
    catalog: 'mfd.exec.exec-memfd-execveat-ok',
    since: '3.19',
    needs: EXEC_NEEDS,
    quote: [NOEXEC.runc, NOEXEC.mfdExec, EXECVEAT],
    note: 'Control for noexec-memfd-execveat-eacces: an executable memfd (MFD_EXEC from 6.3) holding /bin/true runs through execveat(AT_EMPTY_PATH); the exit status is 0. At level 2 no executable memfd can be made.',
    expect: { ret: 0 },
    run: (ctx) => ctx.try.exec(trueMemfd(ctx), ['true']),
  }),
  clause({
    id: 'noexec.exec.exec-memfd-after-seal-exec-ok',
    catalog: 'mfd.exec.exec-memfd-after-seal-exec-ok',
    since: '6.3',
    needs: ['mfdExec', 'sealExec', ...EXEC_NEEDS],
    quote: [NOEXEC.runc, MAN_TEXT.sealExec],
    note: 'runc\'s case: /bin/true copied into a MFD_EXEC memfd, F_SEAL_EXEC added (verified), then executed with execveat(AT_EMPTY_PATH): "permanently executable", exit status 0.',
    expect: { ret: 0 },
    run: (ctx) => {
      const fd = trueMemfd(ctx)
      ctx.file.addSeals(fd, C.F_SEAL_EXEC)
      return ctx.try.exec(fd, ['true'])
    },
  }),
  clause({
    id: 'noexec.exec.exec-memfd-chmod-noexec-eacces',
    catalog: 'mfd.exec.exec-memfd-chmod-noexec-eacces',
    since: '3.19',
    needs: EXEC_NEEDS,
    quote: EXEC_EACCES,
    note: 'An executable memfd holding /bin/true whose execute bits fchmod(0644) removed (mode verified): execveat(AT_EMPTY_PATH) fails with EACCES.',
    expect: { errno: 'EACCES' },
    run: (ctx) => {
      const fd = trueMemfd(ctx)
      ctx.file.chmod(fd, 0o644)
      return ctx.try.exec(fd, ['true'])
    },
  }),
]

const NOEXEC_USE = `${NOEXEC.noexecSeal.text} ${NOEXEC.common.text}`

const otherClauses: Clause[] = [
  clause({
    id: 'noexec.flags.exec-and-noexec-seal-einval',
    catalog: 'mfd.flags.exec-and-noexec-seal',
    since: '6.3',
    needs: ['noexecSeal', 'mfdExec'],
    basis: 'code',
    quote: MEMFD_C('/* Invalid if both EXEC and NOEXEC_SEAL are set.*/ if ((flags & MFD_EXEC) && (flags & MFD_NOEXEC_SEAL)) return -EINVAL;'),
    note: 'No document says what MFD_EXEC | MFD_NOEXEC_SEAL does; the code refuses the pair with EINVAL before it looks at vm.memfd_noexec, so at every level. Each flag alone is accepted (mode.noexec-0666, mode.exec-0777).',
    expect: { errno: 'EINVAL' },
    run: (ctx) => ctx.try.memfdCreate('memseal-both', C.MFD_EXEC | C.MFD_NOEXEC_SEAL | C.MFD_CLOEXEC).obs,
  }),
  clause({
    id: 'noexec.noexec.still-writable',
    catalog: 'mfd.noexec.still-writable',
    since: '6.3',
    needs: ['noexecSeal'],
    basis: 'code',
    quote: MEMFD_C(
      'if (flags & MFD_NOEXEC_SEAL) { inode->i_mode &= ~0111; file_seals = memfd_file_seals_ptr(file); if (file_seals) { *file_seals &= ~F_SEAL_SEAL; *file_seals |= F_SEAL_EXEC; } }',
    ),
    note: `mfd_noexec.rst ("${NOEXEC_USE}") does not say whether the memfd stays writable; the code sets F_SEAL_EXEC at creation directly, without the write seals F_ADD_SEALS(F_SEAL_EXEC) adds to an executable file. write(2) of 3 bytes into a one-page MFD_NOEXEC_SEAL memfd succeeds and the bytes are there.`,
    expect: { ret: 3, size: C.PAGE_SIZE, changed: 3 },
    run: (ctx) => {
      const fd = ctx.file.memfd(C.MFD_NOEXEC_SEAL, 'memseal-noexec')
      ctx.file.resize(fd, ctx.ps)
      return ctx.try.write(fd, 3, 0)
    },
  }),
  clause({
    id: 'noexec.noexec.mmap-prot-exec-allowed',
    catalog: 'mfd.noexec.mmap-prot-exec-allowed',
    since: '6.3',
    needs: ['noexecSeal'],
    basis: 'code',
    quote: MEMFD_C(
      'int memfd_check_seals_mmap(struct file *file, vm_flags_t *vm_flags_ptr) { … if (is_write_sealed(seals)) err = check_write_seal(vm_flags_ptr); return err; }',
    ),
    note: 'mfd_noexec.rst\'s "NX" is the file mode\'s execute bits; no document says whether a MFD_NOEXEC_SEAL memfd can be mapped PROT_EXEC, and the code checks only write seals at mmap time: a PROT_READ | PROT_EXEC, MAP_SHARED mapping of one is created (r-xs). The gap the unmerged F_SEAL_FUTURE_EXEC proposals were about.',
    expect: { ret: 0, perms: 'r-xs' },
    run: (ctx) => {
      const fd = ctx.file.memfd(C.MFD_NOEXEC_SEAL, 'memseal-noexec')
      ctx.file.resize(fd, ctx.ps)
      return ctx.try.mmap(ctx.ps, C.PROT_READ | C.PROT_EXEC, C.MAP_SHARED, fd, 0).obs
    },
  }),
  clause({
    id: 'noexec.future-exec-seal.not-merged-einval',
    catalog: 'seal.future-exec.not-merged',
    since: '3.17',
    needs: ['allowSealing'],
    quote: MAN_TEXT.unknownSeal,
    note: 'F_ADD_SEALS(0x40), the bit the 2024–2025 F_SEAL_FUTURE_EXEC RFCs ("prevent future executable mappings") proposed and that was not merged: an unrecognized seal, EINVAL, and the seals stay as they were (F_SEAL_EXEC alone at vm.memfd_noexec ≥ 1, none at 0).',
    expect: (k: KernelFacts) => ({ errno: 'EINVAL', seals: sealableSeals(k) }),
    run: (ctx) => ctx.try.addSeals(ctx.file.memfd(C.MFD_ALLOW_SEALING), 0x40),
  }),
  clause({
    id: 'noexec.warn.no-exec-flag-warning-absent',
    catalog: 'mfd.warn.no-exec-flag-warning-absent',
    since: '6.7',
    needs: ['root', 'kmsg'],
    basis: 'code',
    quote: {
      doc: 'mm/memfd.c',
      version: 'Linux 6.6.y',
      text: 'pr_warn_once( "%s[%d]: memfd_create() called without MFD_EXEC or MFD_NOEXEC_SEAL set\\n", current->comm, task_pid_nr(current));',
    },
    note: 'No document mentions it: 6.3–6.6 logged a warning, once per boot, when memfd_create() got neither MFD_EXEC nor MFD_NOEXEC_SEAL, and 1717449b4417 ("memfd: drop warning for missing exec-related flags", 6.7) removed it. memfd_create(name, 0), then the kernel log (/dev/kmsg) holds no such line.',
    expect: { warning: false },
    history: [
      {
        range: unfixed({ since: '6.3', mainline: '6.7' }),
        observed: { warning: true },
        behaviour:
          '6.3–6.6 print "memfd_create() without MFD_EXEC nor MFD_NOEXEC_SEAL" (6.6 and the stable trees that took the 6.6 rework: "… called without MFD_EXEC or MFD_NOEXEC_SEAL set") once per boot; 6.6.y keeps it.',
        ref: '1717449b4417 "memfd: drop warning for missing exec-related flags" (6.7; not in 6.6.y)',
      },
    ],
    run: (ctx) => {
      ctx.try.memfdCreate('memseal-noflag', C.MFD_CLOEXEC)
      return { warning: ctx.proc.kmsg().some((r) => /memfd_create\(\) (called )?without MFD_EXEC/.test(r.text)) }
    },
  }),
]

export const flagClauses: Clause[] = [...creationClauses('shmem'), ...creationClauses('hugetlbfs'), ...execClauses, ...otherClauses]
