/**
 * MFD_NOEXEC_SEAL, MFD_EXEC, F_SEAL_EXEC, exec of memfds, and the pid-namespaced vm.memfd_noexec
 * sysctl (catalog §1 noexec rows, §2, §3, §5.5 and the §8 rows about them). The sysctl clauses write
 * the sysctl only as pid 1 of private pid namespaces (../pidns.ts), never in this process's own.
 */
import { closeSync, constants as fsConstants, fchmodSync, openSync, readFileSync, readSync, writeSync } from 'node:fs'
import { compareVersions, kernel, parseVersion } from '../../kernel'
import { constants as C, native } from '../../native'
import { attempt, type Ctx, outcome, SetupError } from '../ctx'
import { runInPidns, type PidnsOptions } from '../pidns'
import type { Clause, KernelFacts, KnownBehaviour, Need, Observation } from '../types'
import { copyTrue, created, LEVEL2_NOFLAG_ACCEPTED, LEVEL2_REF, MAN_MEMFD, MAN_SEALS, modeOf, NOEXEC_DOC, noexecLevel, sealsOf } from './memfd'

const F_SEAL_EXEC_TEXT =
  'F_SEAL_EXEC (since Linux 6.3): If this seal is set, the execute mode bits of the file cannot be modified. Attempting to change the execute mode bits via fchmod(2) or similar will fail with EPERM. This results in a memfd that is either permanently executable or permanently not executable.'
const IMPLIED_TEXT =
  'Adding this seal implicitly adds F_SEAL_GROW, F_SEAL_SHRINK, F_SEAL_WRITE, and F_SEAL_FUTURE_WRITE. This ensures that the executable code is not writeable. All the pre-requisites to add the implied seals must be met to successfully add F_SEAL_EXEC.'
const NOEXEC_SEAL_TEXT =
  "MFD_NOEXEC_SEAL: When MFD_NOEXEC_SEAL bit is set in the flags, memfd is created with NX. F_SEAL_EXEC is set and the memfd can't be modified to add X later. MFD_ALLOW_SEALING is also implied."
const MFD_EXEC_TEXT = 'MFD_EXEC: When MFD_EXEC bit is set in the flags, memfd is created with X.'
const LEVEL0_TEXT = '0: MEMFD_NOEXEC_SCOPE_EXEC memfd_create() without MFD_EXEC nor MFD_NOEXEC_SEAL acts like MFD_EXEC was set.'
const LEVEL1_TEXT = '1: MEMFD_NOEXEC_SCOPE_NOEXEC_SEAL memfd_create() without MFD_EXEC nor MFD_NOEXEC_SEAL acts like MFD_NOEXEC_SEAL was set.'
const LEVEL2_TEXT = '2: MEMFD_NOEXEC_SCOPE_NOEXEC_ENFORCED memfd_create() without MFD_NOEXEC_SEAL will be rejected.'
const HIERARCHY_TEXT =
  'The value of vm.memfd_noexec is passed to child namespace at creation time. In addition, the setting is hierarchical, i.e. during memfd_create, we will search from current ns to root ns and use the most restrictive setting.'

const SEALS_WX = C.F_SEAL_SHRINK | C.F_SEAL_GROW | C.F_SEAL_WRITE | C.F_SEAL_FUTURE_WRITE | C.F_SEAL_EXEC // 0x3e

// Kernels before the vm.memfd_noexec fixes of 6.6 (stable 6.4.16, 6.5.3): level 2 checked only callers
// without a flag, and each namespace kept a copy of its parent's value with a ratchet.
const PRE_66_SYSCTL = '<6.4.16 || >=6.5 <6.5.3'
const HIERARCHY_REF = '9876cfe8ec1c "memfd: replace ratcheting feature from vm.memfd_noexec with hierarchy" (6.6; 6.4.16, 6.5.3)'
const EXEC_ENFORCED_REF = 'Jeff Xu "mm/memfd: sysctl: fix MEMFD_NOEXEC_SCOPE_NOEXEC_ENFORCED" + 202e14222fad (6.6; 6.4.16, 6.5.3)'

const SYSCTL_NEEDS: Need[] = ['root', 'pidns', 'memfdNoexecSysctl', 'sysctlWritable']

/** memfd_create(MFD_ALLOW_SEALING | MFD_EXEC): the catalog's "memfd(ASX)", mode 0777. */
function asx(ctx: Ctx): number {
  return ctx.memfd(C.MFD_ALLOW_SEALING | C.MFD_EXEC, 'memseal-asx')
}

/** MFD_EXEC where the kernel has it; before 6.3 every memfd was executable. */
function execFlag(): number {
  return kernel.features().mfdExec ? C.MFD_EXEC : 0
}

function chmod(fd: number, mode: number): Observation {
  return attempt(() => fchmodSync(fd, mode))
}

function addSeals(ctx: Ctx, fd: number, seals: number): void {
  ctx.setup(native.fcntl(fd, C.F_ADD_SEALS, seals), `F_ADD_SEALS(0x${seals.toString(16)})`)
}

function mustChmod(fd: number, mode: number): void {
  try {
    fchmodSync(fd, mode)
  } catch (err) {
    throw new SetupError(`fchmod(0${mode.toString(8)}) failed: ${(err as NodeJS.ErrnoException).code}`)
  }
}

/** write(2) of 3 bytes at offset 0: { ret: 3 } or { errno }. */
function write3(fd: number): Observation {
  return attempt(() => writeSync(fd, Buffer.from('abc'), 0, 3, 0))
}

/**
 * MFD_EXEC at the level of vm.memfd_noexec here: 0 and 1 allow it ("new software can create executable
 * memfd by setting MFD_EXEC"), 2 rejects every call "without MFD_NOEXEC_SEAL" (EACCES since 6.6).
 */
function execByLevel(allowed: Observation): (k: KernelFacts) => Observation {
  return (k): Observation => {
    const level = k.environment.memfdNoexec
    return level === 2 ? { level, errno: 'EACCES' } : { level, ...allowed }
  }
}

function execLevel2History(allowed: Observation): KnownBehaviour[] {
  return [
    {
      range: PRE_66_SYSCTL,
      observed: { level: 2, ...allowed },
      behaviour: 'Before the 6.6 fixes, vm.memfd_noexec=2 checked only calls without a flag: MFD_EXEC still made an executable memfd.',
      ref: EXEC_ENFORCED_REF,
    },
  ]
}

/** The subject call with MFD_EXEC, tagged with the level of vm.memfd_noexec it ran at. */
function execAtLevel(ctx: Ctx, flags: number, observe: (fd: number) => Observation): Observation {
  const level = noexecLevel()
  const fd = ctx.memfdCall('memseal-clause', flags | C.MFD_EXEC | C.MFD_CLOEXEC)
  return fd < 0 ? { level, ...outcome(fd) } : { level, ...observe(fd) }
}

/** The kernel log as (sequence number, text) records, read from /dev/kmsg without blocking. */
function kmsg(): Array<{ seq: number; text: string }> {
  let fd: number
  try {
    // O_NONBLOCK: the end of the log is EAGAIN, not a wait for new records
    fd = openSync('/dev/kmsg', fsConstants.O_RDONLY | fsConstants.O_NONBLOCK)
  } catch (err) {
    throw new SetupError(`the kernel log is not readable: ${(err as NodeJS.ErrnoException).code}`)
  }
  const records: Array<{ seq: number; text: string }> = []
  const buf = Buffer.alloc(16384)
  try {
    for (;;) {
      let n: number
      try {
        n = readSync(fd, buf, 0, buf.length, null)
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code
        if (code === 'EPIPE') continue // records were overwritten while reading: go on with the next
        if (code === 'EAGAIN') break
        throw err
      }
      const line = buf.toString('utf8', 0, n)
      records.push({ seq: Number(line.split(',')[1]), text: line.slice(line.indexOf(';') + 1).split('\n')[0] ?? '' })
    }
  } finally {
    closeSync(fd)
  }
  return records
}

/** Runs a script as pid 1 of a fresh pid namespace (see ../pidns.ts) and returns its observation. */
async function inPidns(script: string, options?: PidnsOptions): Promise<Observation> {
  return (await runInPidns(script, null, options)) as Observation
}

function sysctlClause(c: Omit<Clause, 'area' | 'isolation' | 'run' | 'source'> & { section?: string; script: string }): Clause {
  const { script, section, needs, ...rest } = c
  return {
    ...rest,
    area: 'noexec',
    needs: [...SYSCTL_NEEDS, ...(needs ?? [])],
    isolation: 'pidns',
    source: { ...NOEXEC_DOC, section: section ?? 'Sysctl' },
    run: () => inPidns(script),
  }
}

/** Sets the new namespace's level; a refusal is a setup failure (e.g. the host's level is higher). */
const AT = (n: number): string => `need(setLevel(${n}), 'writing ${n} to vm.memfd_noexec in the new pid namespace');`

// Text the kernel logs when vm.memfd_noexec=2 refuses MFD_EXEC (6.6+), and the 6.3–6.6 warning for calls
// without an exec flag.
const KMSG_SCRIPT = `
const kmsg = () => {
  const fd = fs.openSync('/dev/kmsg', fs.constants.O_RDONLY | fs.constants.O_NONBLOCK)
  const out = []; const buf = Buffer.alloc(16384)
  try { for (;;) { let n; try { n = fs.readSync(fd, buf, 0, buf.length, null) } catch (e) { if (e.code === 'EPIPE') continue; if (e.code === 'EAGAIN') break; throw e }
    const line = buf.toString('utf8', 0, n); const head = line.split(';')[0].split(',')
    out.push({ seq: Number(head[1]), usec: Number(head[2]), text: line.slice(line.indexOf(';') + 1).split('\\n')[0] }) } }
  finally { fs.closeSync(fd) }
  return out
}
// printk_ratelimited allows a burst of 10 messages per 5 s from one call site: when that many were
// printed in the last 5 s, a missing message means "rate-limited", not "never logged".
const ratelimited = (records, text) => {
  const nowUsec = Number(fs.readFileSync('/proc/uptime', 'utf8').split(' ')[0]) * 1e6
  return records.filter((r) => r.text.includes(text) && nowUsec - r.usec < 5.5e6).length >= 10
}`

export const clauses: Clause[] = [
  // ── flags and modes (§1) ───────────────────────────────────────────────────────────────────────
  {
    id: 'noexec.flags.noexec-bits-probe',
    area: 'noexec',
    catalog: 'mfd.flags.noexec-bits-probe',
    since: '6.3',
    statement:
      'MFD_NOEXEC_SEAL: When MFD_NOEXEC_SEAL bit is set in the flags, memfd is created with NX. (Added in Linux 6.3 by 105ff5339f49 "mm/memfd: add MFD_NOEXEC_SEAL and MFD_EXEC"; older kernels reject it as an unknown bit, "EINVAL flags included unknown bits", which is how userspace probes for it.)',
    source: { ...NOEXEC_DOC, section: 'User API' },
    expect: (k): Observation => (compareVersions(k.version, parseVersion('6.3')) >= 0 ? { ret: 0 } : { errno: 'EINVAL' }),
    run: (ctx) => created(ctx.memfdCall('memseal-clause', C.MFD_NOEXEC_SEAL | C.MFD_CLOEXEC)),
  },
  {
    id: 'noexec.flags.exec-and-noexec-seal',
    area: 'noexec',
    catalog: 'mfd.flags.exec-and-noexec-seal',
    since: '6.3',
    needs: ['noexecSeal', 'mfdExec'],
    statement: 'Not documented in mfd_noexec.rst or memfd_create(2); the code rejects the pair ("Invalid if both EXEC and NOEXEC_SEAL are set.") with EINVAL.',
    source: { ...NOEXEC_DOC, section: 'User API' },
    expect: { errno: 'EINVAL' },
    run: (ctx) => created(ctx.memfdCall('memseal-clause', C.MFD_EXEC | C.MFD_NOEXEC_SEAL | C.MFD_CLOEXEC)),
  },
  {
    id: 'noexec.mode.exec-0777',
    area: 'noexec',
    catalog: 'mfd.mode.exec-0777',
    since: '6.3',
    needs: ['mfdExec'],
    statement: `${MFD_EXEC_TEXT} (At vm.memfd_noexec=2, "${LEVEL2_TEXT}")`,
    source: { ...NOEXEC_DOC, section: 'User API' },
    expect: execByLevel({ mode: '0777' }),
    history: execLevel2History({ mode: '0777' }),
    run: (ctx) => execAtLevel(ctx, 0, (fd) => ({ mode: modeOf(fd) })),
  },
  {
    id: 'noexec.mode.noexec-0666',
    area: 'noexec',
    catalog: 'mfd.mode.noexec-0666',
    since: '6.3',
    needs: ['noexecSeal'],
    statement: `${NOEXEC_SEAL_TEXT} (105ff5339f49: "memfd is created without executable bit (mode:0666)".)`,
    source: { ...NOEXEC_DOC, section: 'User API' },
    expect: { mode: '0666' },
    run: (ctx) => ({ mode: modeOf(ctx.memfd(C.MFD_NOEXEC_SEAL)) }),
  },
  {
    id: 'noexec.seals.exec-no-allow-sealing',
    area: 'noexec',
    catalog: 'mfd.seals.exec-no-allow-sealing',
    since: '6.3',
    needs: ['mfdExec'],
    statement:
      'MFD_ALLOW_SEALING: … If this flag is not set, the initial set of seals will be F_SEAL_SEAL, meaning that no other seals can be set on the file. (mfd_noexec.rst: MFD_EXEC implies no sealing; only MFD_NOEXEC_SEAL implies MFD_ALLOW_SEALING.)',
    source: { ...MAN_MEMFD, section: 'DESCRIPTION' },
    expect: execByLevel({ seals: C.F_SEAL_SEAL }),
    history: execLevel2History({ seals: C.F_SEAL_SEAL }),
    run: (ctx) => execAtLevel(ctx, 0, (fd) => ({ seals: sealsOf(ctx, fd) })),
  },
  {
    id: 'noexec.seals.noexec-implies-allow-sealing',
    area: 'noexec',
    catalog: 'mfd.seals.noexec-implies-allow-sealing',
    since: '6.3',
    needs: ['noexecSeal'],
    statement:
      'MFD_ALLOW_SEALING: … If this flag is not set, the initial set of seals will be F_SEAL_SEAL, meaning that no other seals can be set on the file.',
    source: { ...MAN_MEMFD, section: 'DESCRIPTION' },
    expect: { seals: C.F_SEAL_SEAL },
    divergence: {
      doc: 'memfd_create(2): "If this flag [MFD_ALLOW_SEALING] is not set, the initial set of seals will be F_SEAL_SEAL" (the page never mentions MFD_NOEXEC_SEAL).',
      kernel:
        'mfd_noexec.rst and mm/memfd.c: "MFD_NOEXEC_SEAL implies MFD_ALLOW_SEALING": memfd_create(MFD_NOEXEC_SEAL) starts with F_SEAL_EXEC only (0x20), no F_SEAL_SEAL, so further seals can be added.',
    },
    history: [
      {
        range: '*',
        observed: { seals: 0x20 },
        behaviour:
          'MFD_NOEXEC_SEAL implies MFD_ALLOW_SEALING: the initial seals are F_SEAL_EXEC alone. A 2024 proposal to drop the implication was rejected and the implication documented in mfd_noexec.rst.',
        ref: 'mfd_noexec.rst "Note: MFD_NOEXEC_SEAL implies MFD_ALLOW_SEALING"; mm/memfd.c memfd_create()',
      },
    ],
    run: (ctx) => ({ seals: sealsOf(ctx, ctx.memfd(C.MFD_NOEXEC_SEAL)) }),
  },
  {
    id: 'noexec.noexec-implies-sealing.proposal-rejected',
    area: 'noexec',
    catalog: 'mfd.noexec-not-implying-sealing.rejected',
    since: '6.3',
    needs: ['noexecSeal'],
    statement:
      'Note: MFD_NOEXEC_SEAL implies MFD_ALLOW_SEALING. In case that an app doesn\'t want sealing, it can add F_SEAL_SEAL after creation. (The 2024 patches "memfd: MFD_NOEXEC_SEAL should not imply MFD_ALLOW_SEALING" and "memfd: fix MFD_NOEXEC_SEAL to be non-sealable by default" were not merged.)',
    source: { ...NOEXEC_DOC, section: 'User API' },
    expect: { seals: 0x20 },
    run: (ctx) => ({ seals: sealsOf(ctx, ctx.memfd(C.MFD_NOEXEC_SEAL)) }),
  },
  {
    id: 'noexec.seals.noexec-plus-allow-sealing',
    area: 'noexec',
    catalog: 'mfd.seals.noexec+allow',
    since: '6.3',
    needs: ['noexecSeal'],
    statement: NOEXEC_SEAL_TEXT,
    source: { ...NOEXEC_DOC, section: 'User API' },
    expect: { seals: 0x20 },
    run: (ctx) => ({ seals: sealsOf(ctx, ctx.memfd(C.MFD_NOEXEC_SEAL | C.MFD_ALLOW_SEALING)) }),
  },
  {
    id: 'noexec.noexec.can-add-seal-seal',
    area: 'noexec',
    catalog: 'mfd.noexec.can-add-seal-seal',
    since: '6.3',
    needs: ['noexecSeal'],
    statement: "Note: MFD_NOEXEC_SEAL implies MFD_ALLOW_SEALING. In case that an app doesn't want sealing, it can add F_SEAL_SEAL after creation.",
    source: { ...NOEXEC_DOC, section: 'User API' },
    expect: { ret: 0, seals: 0x21 },
    run: (ctx) => {
      const fd = ctx.memfd(C.MFD_NOEXEC_SEAL)
      const r = outcome(native.fcntl(fd, C.F_ADD_SEALS, C.F_SEAL_SEAL))
      return { ...r, seals: sealsOf(ctx, fd) }
    },
  },
  {
    id: 'noexec.noexec.chmod-x-eperm',
    area: 'noexec',
    catalog: 'mfd.noexec.chmod-x-eperm',
    since: '6.3',
    needs: ['noexecSeal'],
    statement: NOEXEC_SEAL_TEXT,
    source: { ...NOEXEC_DOC, section: 'User API' },
    expect: { errno: 'EPERM', mode: '0666' },
    run: (ctx) => {
      const fd = ctx.memfd(C.MFD_NOEXEC_SEAL)
      return { ...chmod(fd, 0o777), mode: modeOf(fd) }
    },
  },
  {
    id: 'noexec.noexec.chmod-non-x-ok',
    area: 'noexec',
    catalog: 'mfd.noexec.chmod-non-x-ok',
    since: '6.3',
    needs: ['noexecSeal'],
    statement: `${F_SEAL_EXEC_TEXT} (Only the execute bits are frozen: other mode changes work.)`,
    source: { ...MAN_SEALS, section: 'DESCRIPTION' },
    expect: { ret: 0, mode: '0600' },
    run: (ctx) => {
      const fd = ctx.memfd(C.MFD_NOEXEC_SEAL)
      return { ...chmod(fd, 0o600), mode: modeOf(fd) }
    },
  },
  {
    id: 'noexec.noexec.still-writable',
    area: 'noexec',
    catalog: 'mfd.noexec.still-writable',
    since: '6.3',
    needs: ['noexecSeal'],
    statement:
      'Not documented; the code sets F_SEAL_EXEC at creation directly, without the write seals that F_ADD_SEALS(F_SEAL_EXEC) implies on a file with execute bits, so a MFD_NOEXEC_SEAL memfd stays writable.',
    source: { ...NOEXEC_DOC, section: 'User API' },
    expect: { ret: 3 },
    run: (ctx) => write3(ctx.memfd(C.MFD_NOEXEC_SEAL)),
  },
  {
    id: 'noexec.noexec.mmap-prot-exec-allowed',
    area: 'noexec',
    catalog: 'mfd.noexec.mmap-prot-exec-allowed',
    since: '6.3',
    needs: ['noexecSeal'],
    statement:
      'Not documented; "NX" in mfd_noexec.rst covers only the file-mode execute bits: the code has no exec-seal check in mmap, so a PROT_EXEC shared mapping of a MFD_NOEXEC_SEAL memfd succeeds (the gap F_SEAL_FUTURE_EXEC was proposed for).',
    source: { ...NOEXEC_DOC, section: 'User API' },
    expect: { ret: 0 },
    run: (ctx) => {
      const fd = ctx.memfd(C.MFD_NOEXEC_SEAL)
      ctx.size(fd, ctx.ps)
      return ctx.mapOutcome(ctx.mmapCall(ctx.ps, C.PROT_READ | C.PROT_EXEC, C.MAP_SHARED, fd, 0))
    },
  },
  {
    id: 'noexec.hugetlb.noexec-mode',
    area: 'noexec',
    catalog: 'mfd.hugetlb.noexec-mode',
    since: '6.3',
    needs: ['noexecSeal', 'hugetlb'],
    statement: `${NOEXEC_SEAL_TEXT} (Checked on a hugetlbfs memfd, MFD_HUGETLB.)`,
    source: { ...NOEXEC_DOC, section: 'User API' },
    expect: { mode: '0666' },
    run: (ctx) => ({ mode: modeOf(ctx.memfd(C.MFD_HUGETLB | C.MFD_NOEXEC_SEAL, 'huge')) }),
  },
  {
    id: 'noexec.hugetlb.noexec-seals',
    area: 'noexec',
    catalog: 'mfd.hugetlb.noexec-seals',
    since: '6.3',
    needs: ['noexecSeal', 'hugetlb'],
    statement: `${NOEXEC_SEAL_TEXT} (Checked on a hugetlbfs memfd, MFD_HUGETLB.)`,
    source: { ...NOEXEC_DOC, section: 'User API' },
    expect: { seals: 0x20 },
    run: (ctx) => ({ seals: sealsOf(ctx, ctx.memfd(C.MFD_HUGETLB | C.MFD_NOEXEC_SEAL, 'huge')) }),
  },
  {
    id: 'noexec.warn.no-exec-flag-warning-absent',
    area: 'noexec',
    catalog: 'mfd.warn.no-exec-flag-warning-absent',
    since: '6.7',
    needs: ['root', 'kmsg'],
    statement:
      'Not documented; 6.3–6.6 logged a once-per-boot warning when memfd_create() was called without MFD_EXEC or MFD_NOEXEC_SEAL, and 6.7 removed it (1717449b4417 "memfd: drop warning for missing exec-related flags"): the kernel log has no such line.',
    source: { ...NOEXEC_DOC, section: 'User API' },
    expect: { warning: false },
    history: [
      {
        range: '>=6.3 <6.7',
        observed: { warning: true },
        behaviour:
          '6.3–6.6 print "memfd_create() without MFD_EXEC nor MFD_NOEXEC_SEAL" (6.6: "… called without MFD_EXEC or MFD_NOEXEC_SEAL set") once per boot.',
        ref: 'C-MEMFD-6.3/6.6 pr_warn_once; removed by 1717449b4417 (6.7)',
      },
    ],
    run: (ctx) => {
      ctx.memfdCall('memseal-noflag', C.MFD_CLOEXEC)
      return { warning: kmsg().some((r) => /memfd_create\(\) (called )?without MFD_EXEC/.test(r.text)) }
    },
  },
  // ── exec of memfds (§3) ────────────────────────────────────────────────────────────────────────
  {
    id: 'noexec.exec.noexec-memfd-execveat-eacces',
    area: 'noexec',
    catalog: 'mfd.exec.noexec-memfd-execveat-eacces',
    since: '6.3',
    needs: ['noexecSeal'],
    statement: `${NOEXEC_SEAL_TEXT} (execveat(fd, "", …, AT_EMPTY_PATH) of /bin/true copied into it.)`,
    source: { ...NOEXEC_DOC, section: 'User API' },
    expect: { errno: 'EACCES' },
    run: (ctx) => {
      const fd = ctx.memfd(C.MFD_NOEXEC_SEAL)
      copyTrue(fd)
      return outcome(native.execveat(fd, ['true']))
    },
  },
  {
    id: 'noexec.exec.exec-memfd-execveat-ok',
    area: 'noexec',
    catalog: 'mfd.exec.exec-memfd-execveat-ok',
    since: '3.17',
    statement: `${MFD_EXEC_TEXT} (runc "uses memfd's seal and executable feature to copy the contents of the binary then execute them": execveat(AT_EMPTY_PATH) runs /bin/true, exit status 0.)`,
    source: { ...NOEXEC_DOC, section: 'User API' },
    expect: { ret: 0 },
    run: (ctx) => {
      const fd = ctx.memfd(C.MFD_ALLOW_SEALING | execFlag())
      copyTrue(fd)
      return outcome(native.execveat(fd, ['true']))
    },
  },
  {
    id: 'noexec.exec.exec-memfd-after-seal-exec-ok',
    area: 'noexec',
    catalog: 'mfd.exec.exec-memfd-after-seal-exec-ok',
    since: '6.3',
    needs: ['mfdExec', 'sealExec'],
    statement: `${F_SEAL_EXEC_TEXT} ${IMPLIED_TEXT}`,
    source: { ...MAN_SEALS, section: 'DESCRIPTION' },
    expect: { ret: 0, seals: SEALS_WX },
    run: (ctx) => {
      const fd = asx(ctx)
      copyTrue(fd)
      addSeals(ctx, fd, C.F_SEAL_EXEC)
      return { ...outcome(native.execveat(fd, ['true'])), seals: sealsOf(ctx, fd) }
    },
  },
  {
    id: 'noexec.exec.exec-memfd-chmod-noexec-eacces',
    area: 'noexec',
    catalog: 'mfd.exec.exec-memfd-chmod-noexec-eacces',
    since: '3.17',
    statement:
      'Not documented for memfds in particular; execve(2): "EACCES Execute permission is denied for the file" — an executable memfd whose execute bits were removed with fchmod(2) cannot be executed.',
    source: { doc: 'execve(2)', section: 'ERRORS', url: 'https://man7.org/linux/man-pages/man2/execve.2.html' },
    expect: { errno: 'EACCES' },
    run: (ctx) => {
      const fd = ctx.memfd(C.MFD_ALLOW_SEALING | execFlag())
      copyTrue(fd)
      mustChmod(fd, 0o644)
      return outcome(native.execveat(fd, ['true']))
    },
  },
  // ── F_SEAL_EXEC (§5.5) ─────────────────────────────────────────────────────────────────────────
  {
    id: 'noexec.seal-exec.on-0777-implies-write-seals',
    area: 'noexec',
    catalog: 'seal.exec.on-0777-implies-write-seals',
    since: '6.3',
    needs: ['mfdExec', 'sealExec'],
    statement: IMPLIED_TEXT,
    source: { ...MAN_SEALS, section: 'DESCRIPTION' },
    expect: { ret: 0, seals: SEALS_WX },
    run: (ctx) => {
      const fd = asx(ctx)
      return { ...outcome(native.fcntl(fd, C.F_ADD_SEALS, C.F_SEAL_EXEC)), seals: sealsOf(ctx, fd) }
    },
  },
  {
    id: 'noexec.seal-exec.implied-write-seal-blocks-write',
    area: 'noexec',
    catalog: 'seal.exec.implied-write-seal-blocks-write',
    since: '6.3',
    needs: ['mfdExec', 'sealExec'],
    statement: `${IMPLIED_TEXT} (F_SEAL_WRITE: write(2) fails with EPERM.)`,
    source: { ...MAN_SEALS, section: 'DESCRIPTION' },
    expect: { errno: 'EPERM' },
    run: (ctx) => {
      const fd = asx(ctx)
      addSeals(ctx, fd, C.F_SEAL_EXEC)
      return write3(fd)
    },
  },
  {
    id: 'noexec.seal-exec.unsealed-write-ok',
    area: 'noexec',
    catalog: 'seal.exec.implied-write-seal-blocks-write (control)',
    since: '6.3',
    needs: ['mfdExec'],
    statement: `${IMPLIED_TEXT} (Control: without F_SEAL_EXEC the executable memfd is writable.)`,
    source: { ...MAN_SEALS, section: 'DESCRIPTION' },
    expect: { ret: 3 },
    run: (ctx) => write3(asx(ctx)),
  },
  {
    id: 'noexec.seal-exec.on-partial-x-mode-implies',
    area: 'noexec',
    catalog: 'seal.exec.on-0777-implies-write-seals (0700)',
    since: '6.3',
    needs: ['mfdExec', 'sealExec'],
    statement: `${IMPLIED_TEXT} (On a file of mode 0700.)`,
    source: { ...MAN_SEALS, section: 'DESCRIPTION' },
    expect: { ret: 0, seals: SEALS_WX },
    run: (ctx) => {
      const fd = asx(ctx)
      mustChmod(fd, 0o700)
      return { ...outcome(native.fcntl(fd, C.F_ADD_SEALS, C.F_SEAL_EXEC)), seals: sealsOf(ctx, fd) }
    },
  },
  {
    id: 'noexec.seal-exec.on-non-x-mode-no-implied-seals',
    area: 'noexec',
    catalog: 'seal.exec.on-non-x-mode-no-implied-seals',
    since: '6.3',
    needs: ['mfdExec', 'sealExec'],
    statement: IMPLIED_TEXT,
    source: { ...MAN_SEALS, section: 'DESCRIPTION' },
    expect: { ret: 0, seals: SEALS_WX },
    divergence: {
      doc: 'F_ADD_SEALS(2const): "Adding this seal implicitly adds F_SEAL_GROW, F_SEAL_SHRINK, F_SEAL_WRITE, and F_SEAL_FUTURE_WRITE."',
      kernel:
        'mm/memfd.c memfd_add_seals() adds the write seals only "if (inode->i_mode & 0111)": on a file without execute bits (0644) F_SEAL_EXEC is added alone (0x20). memfd_test.c test_exec_seal encodes this.',
    },
    history: [
      {
        range: '*',
        observed: { ret: 0, seals: 0x20 },
        behaviour: 'The implied write seals are added only when the file has an execute bit; on mode 0644 the seals are F_SEAL_EXEC alone.',
        ref: 'c4f75bc8bd6b "mm/memfd: add write seals when apply SEAL_EXEC to executable memfd"',
      },
    ],
    run: (ctx) => {
      const fd = asx(ctx)
      mustChmod(fd, 0o644)
      return { ...outcome(native.fcntl(fd, C.F_ADD_SEALS, C.F_SEAL_EXEC)), seals: sealsOf(ctx, fd) }
    },
  },
  {
    id: 'noexec.seal-exec.on-non-x-mode-still-writable',
    area: 'noexec',
    catalog: 'seal.exec.on-non-x-mode-no-implied-seals',
    since: '6.3',
    needs: ['mfdExec', 'sealExec'],
    statement: `${IMPLIED_TEXT} (F_SEAL_WRITE: write(2) fails with EPERM.)`,
    source: { ...MAN_SEALS, section: 'DESCRIPTION' },
    expect: { errno: 'EPERM' },
    divergence: {
      doc: 'F_ADD_SEALS(2const): "Adding this seal implicitly adds … F_SEAL_WRITE … This ensures that the executable code is not writeable."',
      kernel: 'On a file without execute bits memfd_add_seals() adds no write seal, so write(2) still succeeds after F_SEAL_EXEC.',
    },
    history: [
      {
        range: '*',
        observed: { ret: 3 },
        behaviour: 'No implied F_SEAL_WRITE on a mode-0644 file: writes still work after F_SEAL_EXEC.',
        ref: 'c4f75bc8bd6b; mm/memfd.c memfd_add_seals() "if (inode->i_mode & 0111)"',
      },
    ],
    run: (ctx) => {
      const fd = asx(ctx)
      mustChmod(fd, 0o644)
      addSeals(ctx, fd, C.F_SEAL_EXEC)
      return write3(fd)
    },
  },
  {
    id: 'noexec.seal-exec.chmod-clear-x-eperm',
    area: 'noexec',
    catalog: 'seal.exec.chmod-clear-x-eperm',
    since: '6.3',
    needs: ['mfdExec', 'sealExec'],
    statement: F_SEAL_EXEC_TEXT,
    source: { ...MAN_SEALS, section: 'DESCRIPTION' },
    expect: { errno: 'EPERM', mode: '0777' },
    run: (ctx) => {
      const fd = asx(ctx)
      addSeals(ctx, fd, C.F_SEAL_EXEC)
      return { ...chmod(fd, 0o666), mode: modeOf(fd) }
    },
  },
  {
    id: 'noexec.seal-exec.chmod-clear-x-unsealed-ok',
    area: 'noexec',
    catalog: 'seal.exec.chmod-clear-x-eperm (control)',
    since: '6.3',
    needs: ['mfdExec'],
    statement: `${F_SEAL_EXEC_TEXT} (Control: without the seal the execute bits can be cleared.)`,
    source: { ...MAN_SEALS, section: 'DESCRIPTION' },
    expect: { ret: 0, mode: '0666' },
    run: (ctx) => {
      const fd = asx(ctx)
      return { ...chmod(fd, 0o666), mode: modeOf(fd) }
    },
  },
  {
    id: 'noexec.seal-exec.chmod-clear-one-x-bit-eperm',
    area: 'noexec',
    catalog: 'seal.exec.chmod-clear-one-x-bit-eperm',
    since: '6.3',
    needs: ['mfdExec', 'sealExec'],
    statement: F_SEAL_EXEC_TEXT,
    source: { ...MAN_SEALS, section: 'DESCRIPTION' },
    expect: { errno: 'EPERM', mode: '0777' },
    run: (ctx) => {
      const fd = asx(ctx)
      addSeals(ctx, fd, C.F_SEAL_EXEC)
      return { ...chmod(fd, 0o754), mode: modeOf(fd) }
    },
  },
  {
    id: 'noexec.seal-exec.on-non-x-mode-chmod-add-x-eperm',
    area: 'noexec',
    catalog: 'seal.exec.on-non-x-mode-chmod-add-x-eperm',
    since: '6.3',
    needs: ['mfdExec', 'sealExec'],
    statement: F_SEAL_EXEC_TEXT,
    source: { ...MAN_SEALS, section: 'DESCRIPTION' },
    expect: { errno: 'EPERM', mode: '0644' },
    run: (ctx) => {
      const fd = asx(ctx)
      mustChmod(fd, 0o644)
      addSeals(ctx, fd, C.F_SEAL_EXEC)
      return { ...chmod(fd, 0o744), mode: modeOf(fd) }
    },
  },
  {
    id: 'noexec.seal-exec.chmod-non-x-bits-ok',
    area: 'noexec',
    catalog: 'seal.exec.chmod-non-x-bits-ok',
    since: '6.3',
    needs: ['mfdExec', 'sealExec'],
    statement: `${F_SEAL_EXEC_TEXT} (Only the execute bits are frozen: 0777 → 0755 keeps them.)`,
    source: { ...MAN_SEALS, section: 'DESCRIPTION' },
    expect: { ret: 0, mode: '0755' },
    run: (ctx) => {
      const fd = asx(ctx)
      addSeals(ctx, fd, C.F_SEAL_EXEC)
      return { ...chmod(fd, 0o755), mode: modeOf(fd) }
    },
  },
  {
    id: 'noexec.seal-exec.chmod-sticky-only-ok',
    area: 'noexec',
    catalog: 'seal.exec.chmod-sticky-only-ok',
    since: '6.3',
    needs: ['mfdExec', 'sealExec'],
    statement: `${F_SEAL_EXEC_TEXT} (Only the execute bits are frozen: 0777 → 01777 keeps them.)`,
    source: { ...MAN_SEALS, section: 'DESCRIPTION' },
    expect: { ret: 0, mode: '1777' },
    run: (ctx) => {
      const fd = asx(ctx)
      addSeals(ctx, fd, C.F_SEAL_EXEC)
      return { ...chmod(fd, 0o1777), mode: modeOf(fd) }
    },
  },
  {
    id: 'noexec.seal-exec.implied-write-with-rw-mapping',
    area: 'noexec',
    catalog: 'seal.exec.implied-write-with-rw-mapping',
    since: '6.3',
    needs: ['mfdExec', 'sealExec'],
    statement: `${IMPLIED_TEXT} (F_SEAL_WRITE: "Using the F_ADD_SEALS operation to set the F_SEAL_WRITE seal fails with EBUSY if any writable, shared mapping exists.")`,
    source: { ...MAN_SEALS, section: 'DESCRIPTION' },
    expect: { errno: 'EBUSY', seals: 0 },
    divergence: {
      doc: 'F_ADD_SEALS(2const): "All the pre-requisites to add the implied seals must be met to successfully add F_SEAL_EXEC."',
      kernel:
        'From 6.3 until 3b041514cb6e the implied seals were OR-ed in after the writable-mapping check: F_SEAL_EXEC succeeded with a writable shared mapping present, setting F_SEAL_WRITE while the mapping kept writing.',
    },
    history: [
      {
        range: '>=6.3 <7.1',
        observed: { ret: 0, seals: SEALS_WX },
        behaviour:
          'Kernels without 3b041514cb6e add F_SEAL_EXEC and the implied F_SEAL_WRITE although a writable shared mapping exists (the mapping stays writable). The fix went to stable trees (6.6.y and later; 6.18.44 has it); the exact point releases are not verified.',
        ref: '3b041514cb6e "memfd: deny writeable mappings when implying SEAL_WRITE" (Fixes c4f75bc8bd6b, Cc stable)',
      },
    ],
    run: (ctx) => {
      const fd = asx(ctx)
      ctx.size(fd, ctx.ps)
      ctx.mmap(ctx.ps, C.PROT_READ | C.PROT_WRITE, C.MAP_SHARED, fd, 0)
      return { ...outcome(native.fcntl(fd, C.F_ADD_SEALS, C.F_SEAL_EXEC)), seals: sealsOf(ctx, fd) }
    },
  },
  {
    id: 'noexec.seal-exec.with-seal-seal-same-call',
    area: 'noexec',
    catalog: 'seal.exec.with-seal-seal-same-call',
    since: '6.3',
    needs: ['mfdExec', 'sealExec'],
    statement: `${IMPLIED_TEXT} (F_SEAL_EXEC and F_SEAL_SEAL in one call.)`,
    source: { ...MAN_SEALS, section: 'DESCRIPTION' },
    expect: { ret: 0, seals: SEALS_WX | C.F_SEAL_SEAL },
    run: (ctx) => {
      const fd = asx(ctx)
      return { ...outcome(native.fcntl(fd, C.F_ADD_SEALS, C.F_SEAL_EXEC | C.F_SEAL_SEAL)), seals: sealsOf(ctx, fd) }
    },
  },
  {
    id: 'noexec.future-exec-seal.not-merged',
    area: 'noexec',
    catalog: 'seal.future-exec.not-merged',
    since: '3.17',
    needs: ['allowSealing'],
    statement:
      'EINVAL op is F_ADD_SEALS and arg includes an unrecognized sealing bit. (0x40 was proposed as F_SEAL_FUTURE_EXEC, "prevent future executable mappings", in 2024–2025 RFCs that were not merged.)',
    source: { ...MAN_SEALS, section: 'ERRORS' },
    expect: { errno: 'EINVAL' },
    run: (ctx) => outcome(native.fcntl(ctx.memfd(C.MFD_ALLOW_SEALING), C.F_ADD_SEALS, 0x40)),
  },
  // ── vm.memfd_noexec, each in its own private pid namespace (§2) ────────────────────────────────
  sysctlClause({
    id: 'noexec.sysctl.level0.allow-sealing',
    catalog: 'sysctl.level0.*',
    since: '6.3',
    statement: `${LEVEL0_TEXT} (memfd_create(MFD_ALLOW_SEALING): mode 0777, no seals.)`,
    expect: { mode: '0777', seals: 0 },
    script: `${AT(0)} return create(C.MFD_ALLOW_SEALING)`,
  }),
  sysctlClause({
    id: 'noexec.sysctl.level0.noflag',
    catalog: 'sysctl.level0.*',
    since: '6.3',
    statement: `${LEVEL0_TEXT} (memfd_create(0): mode 0777, and without MFD_ALLOW_SEALING the seals are F_SEAL_SEAL.)`,
    expect: { mode: '0777', seals: 1 },
    script: `${AT(0)} return create(0)`,
  }),
  sysctlClause({
    id: 'noexec.sysctl.level0.mfd-exec',
    catalog: 'sysctl.level0.*',
    since: '6.3',
    statement: `${LEVEL0_TEXT} ${MFD_EXEC_TEXT}`,
    expect: { mode: '0777' },
    script: `${AT(0)} return create(C.MFD_EXEC, ['mode'])`,
  }),
  sysctlClause({
    id: 'noexec.sysctl.level0.mfd-noexec-seal',
    catalog: 'sysctl.level0.*',
    since: '6.3',
    statement: `${LEVEL0_TEXT} ${NOEXEC_SEAL_TEXT}`,
    expect: { mode: '0666' },
    script: `${AT(0)} return create(C.MFD_NOEXEC_SEAL, ['mode'])`,
  }),
  sysctlClause({
    id: 'noexec.sysctl.level1.noflag',
    catalog: 'sysctl.level1.noflag',
    since: '6.3',
    statement: `${LEVEL1_TEXT} (memfd_create(MFD_ALLOW_SEALING): mode 0666, F_SEAL_EXEC.)`,
    expect: { mode: '0666', seals: 0x20 },
    script: `${AT(1)} return create(C.MFD_ALLOW_SEALING)`,
  }),
  sysctlClause({
    id: 'noexec.sysctl.level1.noflag-no-allow-sealing',
    catalog: 'sysctl.level1.noflag-no-allow-sealing',
    since: '6.3',
    divergence: {
      doc: 'memfd_create(2): "If the MFD_ALLOW_SEALING flag is not set, the initial set of seals will be F_SEAL_SEAL, meaning that no other seals can be set on the file." (The man page does not mention vm.memfd_noexec or MFD_NOEXEC_SEAL.)',
      kernel:
        'At vm.memfd_noexec >= 1 a call without exec flags is treated as MFD_NOEXEC_SEAL, which implies MFD_ALLOW_SEALING (mfd_noexec.rst): the memfd starts with F_SEAL_EXEC only, and a legacy caller that never asked for sealing gets a sealable memfd (mm/memfd.c).',
    },
    statement: `${LEVEL1_TEXT} Note: MFD_NOEXEC_SEAL implies MFD_ALLOW_SEALING. (So memfd_create(0) gets F_SEAL_EXEC and no F_SEAL_SEAL: a caller that did not ask for sealing gets a sealable memfd.)`,
    expect: { seals: 0x20 },
    script: `${AT(1)} return create(0, ['seals'])`,
  }),
  sysctlClause({
    id: 'noexec.sysctl.level1.mfd-exec',
    catalog: 'sysctl.level1.mfd-exec',
    since: '6.3',
    statement:
      "The sysctl allows finer control of memfd_create for old software that doesn't set the executable bit; for example, a container with vm.memfd_noexec=1 means the old software will create non-executable memfd by default while new software can create executable memfd by setting MFD_EXEC.",
    expect: { mode: '0777' },
    script: `${AT(1)} return create(C.MFD_EXEC, ['mode'])`,
  }),
  sysctlClause({
    id: 'noexec.sysctl.level2.noflag',
    catalog: 'sysctl.level2.noflag',
    since: '6.3',
    statement: `${LEVEL2_TEXT} (memfd_create(MFD_ALLOW_SEALING); the document gives no errno, the 6.3 code used EINVAL.)`,
    expect: { errno: 'EINVAL' },
    divergence: {
      doc: `mfd_noexec.rst: "${LEVEL2_TEXT}"`,
      kernel:
        'Since 202e14222fad (6.6; stable 6.4.16, 6.5.3) a call without MFD_EXEC or MFD_NOEXEC_SEAL succeeds at level 2 and is treated as MFD_NOEXEC_SEAL (mode 0666, F_SEAL_EXEC); only an explicit MFD_EXEC is rejected (EACCES).',
    },
    history: [
      {
        range: LEVEL2_NOFLAG_ACCEPTED,
        observed: { mode: '0666', seals: 0x20 },
        behaviour: 'Level 2 turns a call without exec flags into MFD_NOEXEC_SEAL instead of rejecting it.',
        ref: LEVEL2_REF,
      },
    ],
    script: `${AT(2)} return create(C.MFD_ALLOW_SEALING)`,
  }),
  sysctlClause({
    id: 'noexec.sysctl.level2.noflag-no-allow-sealing',
    catalog: 'sysctl.level1.noflag-no-allow-sealing (level 2)',
    since: '6.3',
    statement: `${LEVEL2_TEXT} (memfd_create(0); the document gives no errno, the 6.3 code used EINVAL.)`,
    expect: { errno: 'EINVAL' },
    divergence: {
      doc: `mfd_noexec.rst: "${LEVEL2_TEXT}"`,
      kernel:
        'Since 202e14222fad (6.6; stable 6.4.16, 6.5.3) memfd_create(name, 0) succeeds at level 2 as MFD_NOEXEC_SEAL, which implies MFD_ALLOW_SEALING: seals are F_SEAL_EXEC only, no F_SEAL_SEAL.',
    },
    history: [
      {
        range: LEVEL2_NOFLAG_ACCEPTED,
        observed: { mode: '0666', seals: 0x20 },
        behaviour: 'Level 2 turns memfd_create(name, 0) into MFD_NOEXEC_SEAL: a sealable, non-executable memfd.',
        ref: LEVEL2_REF,
      },
    ],
    script: `${AT(2)} return create(0)`,
  }),
  sysctlClause({
    id: 'noexec.sysctl.level2.mfd-exec',
    catalog: 'sysctl.level2.mfd-exec',
    since: '6.6',
    statement: `${LEVEL2_TEXT} (memfd_create(MFD_EXEC); the document gives no errno, the code uses EACCES.)`,
    expect: { errno: 'EACCES' },
    history: [
      {
        range: PRE_66_SYSCTL,
        observed: { mode: '0777' },
        behaviour: 'Before the 6.6 fixes level 2 was checked only for calls without a flag: MFD_EXEC still made an executable memfd.',
        ref: EXEC_ENFORCED_REF,
      },
    ],
    script: `${AT(2)} return create(C.MFD_EXEC, ['mode'])`,
  }),
  sysctlClause({
    id: 'noexec.sysctl.level2.mfd-exec-dmesg',
    catalog: 'sysctl.level2.mfd-exec (+sysctl.level2.mfd-exec-dmesg)',
    since: '6.6',
    needs: ['kmsg'],
    statement: `${LEVEL2_TEXT} (Not documented: the code logs "memfd_create() requires MFD_NOEXEC_SEAL with vm.memfd_noexec=2", rate-limited, when it refuses MFD_EXEC.)`,
    expect: { errno: 'EACCES', logged: true },
    history: [
      {
        range: PRE_66_SYSCTL,
        observed: { mode: '0777', logged: false },
        behaviour: 'Before the 6.6 fixes MFD_EXEC was allowed at level 2 and nothing was logged.',
        ref: EXEC_ENFORCED_REF,
      },
    ],
    script: `${KMSG_SCRIPT}
      ${AT(2)}
      let before
      try { before = Math.max(0, ...kmsg().map((r) => r.seq)) } catch (e) { setupFail('the kernel log is not readable: ' + e.code) }
      const r = create(C.MFD_EXEC, ['mode'])
      const text = 'memfd_create() requires MFD_NOEXEC_SEAL with vm.memfd_noexec=2'
      const records = kmsg()
      const logged = records.some((x) => x.seq > before && x.text.includes(text)) || ratelimited(records, text)
      return { ...r, logged }`,
  }),
  sysctlClause({
    id: 'noexec.sysctl.level2.mfd-noexec-seal',
    catalog: 'sysctl.level2.mfd-noexec-seal',
    since: '6.3',
    statement: `${LEVEL2_TEXT} (MFD_NOEXEC_SEAL itself is allowed: mode 0666.)`,
    expect: { mode: '0666' },
    script: `${AT(2)} return create(C.MFD_NOEXEC_SEAL, ['mode'])`,
  }),
  sysctlClause({
    id: 'noexec.sysctl.order.sysctl-eacces-before-name-efault',
    catalog: 'mfd.order.sysctl-eacces-before-name-efault',
    since: '6.6',
    statement:
      'Not documented which error wins; the code checks the flags against vm.memfd_noexec before it reads the name: at level 2, memfd_create(NULL, MFD_EXEC) fails with EACCES, not EFAULT.',
    expect: { errno: 'EACCES' },
    history: [
      {
        range: PRE_66_SYSCTL,
        observed: { errno: 'EFAULT' },
        behaviour: 'Before the 6.6 fixes MFD_EXEC passed the level-2 check, so the bad name was reported (EFAULT).',
        ref: EXEC_ENFORCED_REF,
      },
    ],
    script: `${AT(2)} return { errno: errnoName(native.memfdCreate(null, C.MFD_EXEC | C.MFD_CLOEXEC)) }`,
  }),
  sysctlClause({
    id: 'noexec.sysctl.order.noflag-at-2-then-name-efault',
    catalog: 'mfd.order.noflag-at-2-then-name-efault',
    since: '6.6',
    statement:
      'Not documented which error wins; the code accepts a call without exec flags at level 2 (as MFD_NOEXEC_SEAL) and then reads the name: memfd_create(NULL, 0) fails with EFAULT.',
    expect: { errno: 'EFAULT' },
    history: [
      {
        range: '<6.4.16 || >=6.5 <6.5.3',
        observed: { errno: 'EINVAL' },
        behaviour: 'Before 202e14222fad level 2 rejected a call without flags (EINVAL) before reading the name.',
        ref: LEVEL2_REF,
      },
    ],
    script: `${AT(2)} const r = native.memfdCreate(null, C.MFD_CLOEXEC); return r < 0 ? { errno: errnoName(r) } : { ret: 0 }`,
  }),
  sysctlClause({
    id: 'noexec.sysctl.write-3-einval',
    catalog: 'sysctl.write-3-einval',
    since: '6.3',
    statement: "The new pid namespaced sysctl vm.memfd_noexec has 3 values: 0 … 1 … 2 … (Writing 3 fails with EINVAL: the handler's range is 0..2.)",
    expect: { write: 'EINVAL' },
    script: `return { write: setLevel(3) }`,
  }),
  sysctlClause({
    id: 'noexec.sysctl.write-negative-einval',
    catalog: 'sysctl.write-negative-einval',
    since: '6.3',
    statement: "The new pid namespaced sysctl vm.memfd_noexec has 3 values: 0 … 1 … 2 … (Writing -1 fails with EINVAL: the handler's range is 0..2.)",
    expect: { write: 'EINVAL' },
    script: `return { write: setLevel(-1) }`,
  }),
  sysctlClause({
    id: 'noexec.sysctl.write-2-ok',
    catalog: 'sysctl.write-3-einval (control)',
    since: '6.3',
    statement: 'The new pid namespaced sysctl vm.memfd_noexec has 3 values: 0 … 1 … 2 … (Control: 2 is accepted and read back.)',
    expect: { write: 'ok', level: 2 },
    script: `const write = setLevel(2); return { write, level: level() }`,
  }),
  sysctlClause({
    id: 'noexec.sysctl.write-needs-cap-sys-admin',
    catalog: 'sysctl.write-needs-cap-sys-admin',
    since: '6.3',
    statement:
      "Not documented; the code lets only a task with CAP_SYS_ADMIN over the pid namespace's user namespace write vm.memfd_noexec, else EPERM. (Checked with root in the new namespace, after dropping CAP_SYS_ADMIN from its bounding set with setpriv(1); write-2-ok is the control with the capability.)",
    expect: { write: 'EPERM' },
    script: `
      const { spawnSync } = require('node:child_process')
      // The writer is a child of this verified init: it re-checks that it is in the same new namespace.
      const writer = "const fs = require('fs'); if (fs.readlinkSync('/proc/self/ns/pid') !== process.env.MEMSEAL_PIDNS_VERIFIED) { process.stdout.write('WRONG-NS'); process.exit(3) }" +
        "let fd; try { fd = fs.openSync('/proc/sys/vm/memfd_noexec', fs.constants.O_WRONLY); fs.writeSync(fd, '2'); process.stdout.write('ok') } catch (e) { process.stdout.write(e.code) }"
      const r = spawnSync('setpriv', ['--bounding-set', '-sys_admin', '--inh-caps', '-sys_admin', process.execPath, '-e', writer], { encoding: 'utf8' })
      if (r.error) setupFail('setpriv(1) could not run: ' + r.error.code)
      if (r.status !== 0) setupFail('setpriv writer failed (status ' + r.status + '): ' + r.stdout + r.stderr)
      return { write: r.stdout }`,
  }),
  sysctlClause({
    id: 'noexec.sysctl.pidns.initial-inherited',
    catalog: 'sysctl.pidns.initial-inherited',
    since: '6.3',
    statement: HIERARCHY_TEXT,
    expect: { child: 1 },
    script: `${AT(1)} return { child: await runInPidns('return level()') }`,
  }),
  sysctlClause({
    id: 'noexec.sysctl.nested.lower-than-parent-einval',
    catalog: 'sysctl.nested.lower-than-parent-einval',
    since: '6.3',
    divergence: {
      doc: 'mfd_noexec.rst: "The sysctl setting is hierarchical, i.e. during memfd_create, we will search from current ns to root ns and use the most restrictive setting." It gives no errno and does not say that writing a lower value than the parent\'s is refused.',
      kernel:
        "Since 6.6 the handler's minimum is the parent's value (extra1 = &parent_scope), so a child writing a lower value gets EINVAL (kernel/pid_sysctl.h, 9876cfe8ec1c).",
    },
    statement: `${HIERARCHY_TEXT} (The document gives no errno for a child writing a lower value than its parent's; the code refuses it with EINVAL.)`,
    expect: { write1: 'EINVAL', write0: 'EINVAL' },
    script: `${AT(2)} return await runInPidns('return { write1: setLevel(1), write0: setLevel(0) }')`,
  }),
  sysctlClause({
    id: 'noexec.sysctl.nested.same-as-parent-ok',
    catalog: 'sysctl.nested.lower-than-parent-einval (control)',
    since: '6.3',
    statement: `${HIERARCHY_TEXT} (Control: a child may write its parent's value.)`,
    expect: { write2: 'ok' },
    script: `${AT(2)} return await runInPidns('return { write2: setLevel(2) }')`,
  }),
  sysctlClause({
    id: 'noexec.sysctl.nested.child-can-raise',
    catalog: 'sysctl.nested.child-can-raise',
    since: '6.3',
    statement: `${HIERARCHY_TEXT} (A child namespace may be more restrictive than its parent.)`,
    expect: { write: 'ok', child: 2 },
    script: `${AT(0)} return await runInPidns('const write = setLevel(2); return { write, child: level() }')`,
  }),
  sysctlClause({
    id: 'noexec.sysctl.child-raise-does-not-affect-parent',
    catalog: 'sysctl.child-raise-does-not-affect-parent',
    since: '6.3',
    statement: `${HIERARCHY_TEXT} (A child's value does not change its parent's.)`,
    expect: { child: 2, parent: 0 },
    script: `${AT(0)} const child = await runInPidns("need(setLevel(2), 'child write'); return level()"); return { child, parent: level() }`,
  }),
  sysctlClause({
    id: 'noexec.sysctl.nested.effective-is-max-of-ancestors',
    catalog: 'sysctl.nested.effective-is-max-of-ancestors',
    since: '6.6',
    divergence: {
      doc: 'mfd_noexec.rst: the setting is "passed to child namespace at creation time" and "hierarchical … use the most restrictive setting". It does not say that reading vm.memfd_noexec returns the effective value, nor that a parent\'s later change reaches an existing child.',
      kernel:
        'Since 6.6 reads return pidns_memfd_noexec_scope(), the maximum over the namespace and its ancestors, so a parent raising its value after the child was made changes what the child reads and what its memfd_create() does (kernel/pid_sysctl.h).',
    },
    statement: `${HIERARCHY_TEXT} (The child is made at level 0; then its parent writes 2, and the child's memfd_create() follows the parent.)`,
    expect: { before: 0, after: 2, noflag: { mode: '0666', seals: 0x20 }, exec: { errno: 'EACCES' } },
    history: [
      {
        range: PRE_66_SYSCTL,
        observed: { before: 0, after: 0, noflag: { mode: '0777', seals: 0 }, exec: { mode: '0777' } },
        behaviour: "Before the hierarchy (6.6), a namespace kept the copy of its parent's value made at creation; later parent changes did not reach it.",
        ref: HIERARCHY_REF,
      },
    ],
    script: `${AT(0)}
      return await runInPidns(\`
        const before = level()
        ask('parent, raise to 2')
        return { before, after: level(), noflag: create(C.MFD_ALLOW_SEALING), exec: create(C.MFD_EXEC, ['mode']) }\`,
        null, { onMessage: () => setLevel(2) })`,
  }),
  sysctlClause({
    id: 'noexec.sysctl.own-ns-can-lower-to-parent-level',
    catalog: 'sysctl.own-ns-can-lower-to-parent-level',
    since: '6.6',
    divergence: {
      doc: 'mfd_noexec.rst describes the values and the hierarchy only; it does not say whether a namespace may lower its own value again.',
      kernel:
        "Since 6.6 a namespace may lower its own value down to its parent's (the 6.3 ratchet refused any lowering, even in the initial namespace, so a root-set 1 could never be undone).",
    },
    statement:
      "Not documented in mfd_noexec.rst; since 6.6 the code lets a namespace lower its own value again, down to its parent's (only lower than the parent is refused).",
    expect: { raise: 'ok', lower: 'ok', restored: true },
    history: [
      {
        range: PRE_66_SYSCTL,
        observed: { raise: 'ok', lower: 'EINVAL', restored: false },
        behaviour: 'The 6.3 ratchet ("set minimum to current value") refused any lower value in every namespace, including the initial one.',
        ref: HIERARCHY_REF,
      },
    ],
    script: `
      const start = level()
      if (start >= 2) setupFail('the new namespace starts at level 2 (inherited), so it cannot be raised and lowered')
      const raise = setLevel(start + 1)
      const lower = setLevel(start)
      return { raise, lower, restored: level() === start }`,
  }),
  {
    id: 'noexec.sysctl.selftest-race.sigstop-to-pidns-init',
    area: 'noexec',
    catalog: 'sysctl.selftest-race.sigstop-to-pidns-init',
    since: '6.3',
    needs: SYSCTL_NEEDS,
    isolation: 'pidns',
    statement:
      'Not documented; a caveat for test suites (memfd_test.c sysctl_nested_wait): the init of a pid namespace ignores signals with the default action sent from inside its namespace, so kill(getpid(), SIGSTOP) in it returns 0 and the task keeps running. Observed with a pipe handshake.',
    source: { doc: 'pid_namespaces(7)', section: 'The namespace init process', url: 'https://man7.org/linux/man-pages/man7/pid_namespaces.7.html' },
    expect: { kill: 0, stopped: false },
    run: async () => {
      let stopped = false
      let hostPid = 0
      let watch: NodeJS.Timeout | undefined
      const r = await runInPidns(
        `
        const hostPid = Number(/^Pid:\\s*(\\d+)/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1])
        ask({ hostPid })
        process.kill(process.pid, 'SIGSTOP')
        ask('running after kill')
        return { kill: 0 }`,
        null,
        {
          onMessage: (m) => {
            if (m !== null && typeof m === 'object' && !Array.isArray(m) && typeof m.hostPid === 'number') {
              hostPid = m.hostPid
              // Had the init stopped, no second message would come: look at its state, and let it go on.
              watch = setTimeout(() => {
                try {
                  const state = /^State:\s*(\S)/m.exec(readFileSync(`/proc/${hostPid}/status`, 'utf8'))?.[1]
                  if (state === 'T') {
                    stopped = true
                    process.kill(hostPid, 'SIGCONT')
                  }
                } catch {
                  // it already exited
                }
              }, 1000)
            } else if (watch) clearTimeout(watch)
            return null
          },
        },
      )
      if (watch) clearTimeout(watch)
      return { ...(r as Observation), stopped }
    },
  },
]
