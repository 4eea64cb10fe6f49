/**
 * The `noexec.` scripts that run as pid 1 of private pid namespaces (../child/: the namespace is verified
 * before a script runs, and vm.memfd_noexec is written only through ns.setLevel()). A namespace costs a
 * node start, so one script serves every clause of a scenario (the levels, the nested namespaces): it
 * does each clause's part with ns.step(), which keeps the part's own system calls, and the clauses take
 * their parts (ctx.proc.shared).
 */
import { C } from '../abi'
import type { ChildApi, Scripts, StepResult } from '../child/api'
import type { Json, Observation } from '../types'
import { CREATE_CASES, FILESYSTEMS, TEXT_LEVEL2_EXEC, caseKey, chmodTarget } from './noexec-cases'

const MODULE = 'noexec-scripts'

/**
 * memfd_create(flags), its mode and seals, and on shmem the fchmod memfd_test.c makes next (on hugetlbfs
 * that is the noexec.hugetlb.* clauses' business: see noexec-sysctl.ts); the fd is closed.
 */
function createAndChmod(ns: ChildApi, flags: number, withChmod: boolean): Observation {
  const fd = ns.memfd(flags)
  if (fd < 0) return ns.outcome(fd)
  const { mode, seals } = ns.describe(fd)
  const made: Observation = { mode, seals }
  if (withChmod) made.chmod = ns.chmod(fd, chmodTarget(mode))
  ns.close(fd)
  return made
}

/** Writes `level` and reads it back: a refusal is the setup failure of every part at that level. */
function raiseTo(ns: ChildApi, level: number): string | null {
  const write = ns.setLevel(level)
  const now = ns.level()
  return write === 'ok' && now === level ? null : `writing ${level} to vm.memfd_noexec gave ${write}, and it reads ${now}`
}

/** printk_ratelimited lets 10 messages from one call site through per 5 s: beyond that, silence is the limit. */
function rateLimited(records: ReturnType<ChildApi['kmsg']>, text: string, uptimeUsec: number): boolean {
  return records.filter((r) => r.text.includes(text) && uptimeUsec - r.usec < 5.5e6).length >= 10
}

/** Refused MFD_EXEC at level 2 and whether the kernel logged it (6.6 on, rate-limited). */
function execLogged(ns: ChildApi): Json {
  let before: number
  try {
    before = Math.max(0, ...ns.kmsg().map((r) => r.seq))
  } catch (err) {
    ns.setupFail(`the kernel log is not readable: ${(err as NodeJS.ErrnoException).code ?? String(err)}`)
  }
  const made = ns.create(C.MFD_EXEC | C.MFD_ALLOW_SEALING, ['mode'])
  const records = ns.kmsg()
  const uptime = Number(ns.read('/proc/uptime').split(' ')[0]) * 1e6
  const logged = records.some((r) => r.seq > before && r.text.includes(TEXT_LEVEL2_EXEC)) || rateLimited(records, TEXT_LEVEL2_EXEC, uptime)
  return { ...made, logged }
}

/** memfd_create(NULL, flags): which error comes first, the level's or the name's. */
function nullName(ns: ChildApi, flags: number): Json {
  const fd = ns.memfd(flags, null)
  if (fd < 0) return ns.outcome(fd)
  ns.close(fd)
  return { ret: 0 }
}

export const scripts: Scripts = {
  /**
   * The level clauses: from the level this namespace starts at up to 2, each level written in turn (upward
   * writes are allowed on every kernel) and, at each, the memfds of noexec-cases.ts on shmem and hugetlbfs;
   * the refused writes 3 and -1 first, and at level 2 the error-order calls and the kernel log.
   */
  levels: async (ns): Promise<Json> => {
    const start = ns.level()
    const out: Record<string, Json> = { start }
    out['write-3'] = await ns.step(() => ({ write: ns.setLevel(3), level: ns.level() }))
    out['write-negative'] = await ns.step(() => ({ write: ns.setLevel(-1), level: ns.level() }))
    for (const level of [0, 1, 2]) {
      if (level < start) continue
      const refused = raiseTo(ns, level)
      out[`write-${level}`] = { obs: { write: refused === null ? 'ok' : refused, level: ns.level() }, calls: [] }
      const at = async (work: () => Json): Promise<StepResult> => (refused === null ? ns.step(work) : { setup: refused, calls: [] })
      for (const fs of FILESYSTEMS)
        for (const c of CREATE_CASES) {
          const huge = fs === 'hugetlbfs'
          out[caseKey(level, fs, c.slug)] = await at(() => createAndChmod(ns, c.flags | (huge ? C.MFD_HUGETLB : 0), !huge))
        }
      if (level !== 2) continue
      out['order.exec-null-name'] = await at(() => nullName(ns, C.MFD_EXEC))
      out['order.noflag-null-name'] = await at(() => nullName(ns, 0))
      out['exec-logged'] = await at(() => execLogged(ns))
    }
    return out
  },

  /** A write of 2 by pid 1 of the namespace, started without CAP_SYS_ADMIN (RunOptions.dropCapabilities). */
  writeWithoutSysAdmin: (ns): Json => {
    if (ns.hasSysAdmin()) ns.setupFail('the namespace init still holds CAP_SYS_ADMIN after setpriv dropped it')
    return { write: ns.setLevel(2), level: ns.level() }
  },

  /**
   * The nested-namespace clauses, in one namespace that starts at the level memseal runs at (L) and makes
   * a child namespace for each step. From L ≤ 1: a child raises itself to 2 (`raise`), this namespace goes
   * up one and back (`own`), and it raises itself to 2 while a child made at L waits (`raised`). Then at 2:
   * a child inherits 2 and tries to write 1, 0 and 2 (`below`), and from L ≤ 1 a child made at 2 waits while
   * this namespace lowers itself back to L (`lowered`). The steps that need L ≤ 1 are absent from L = 2.
   */
  nested: async (ns): Promise<Json> => {
    const start = ns.level()
    const out: Record<string, Json> = { start }
    const waiting = { module: MODULE, name: 'childAsksThenReports' }
    if (start < 2) {
      out.raise = await ns.step(async () => ({
        child: await ns.run({ module: MODULE, name: 'childWrites' }, { writes: [2] }, { pidns: true }),
        parent: ns.level(),
      }))
      out.own = await ns.step(() => {
        const raise = ns.setLevel(start + 1)
        const lower = ns.setLevel(start)
        return { raise, lower, restored: ns.level() === start }
      })
      out.raised = await ns.step(() => ns.run(waiting, null, { pidns: true, onMessage: () => ns.setLevel(2) }))
    }
    const refused = raiseTo(ns, 2)
    if (refused !== null) ns.setupFail(refused)
    out.below = await ns.step(() => ns.run({ module: MODULE, name: 'childWrites' }, { writes: [1, 0, 2] }, { pidns: true }))
    if (start < 2) out.lowered = await ns.step(() => ns.run(waiting, null, { pidns: true, onMessage: () => ns.setLevel(start) }))
    return out
  },

  /** In a child namespace: the level it inherited, then each write of `writes` with the level after it. */
  childWrites: (ns, args): Json => {
    const writes = (args as { writes: number[] }).writes
    const out: Record<string, Json> = { inherited: ns.level() }
    for (const w of writes) out[`write${w}`] = { write: ns.setLevel(w), level: ns.level() }
    return out
  },

  /** In a child namespace: its level, a change its parent makes meanwhile, then its level and a MFD_EXEC memfd. */
  childAsksThenReports: (ns): Json => {
    const before = ns.level()
    const parentWrite = ns.ask('change your level now')
    return { before, parentWrite, after: ns.level(), exec: ns.create(C.MFD_EXEC | C.MFD_ALLOW_SEALING, ['mode']) }
  },

  /** The namespace init sends itself SIGSTOP between two messages to its parent, which watches its state. */
  stopSelf: (ns): Json => {
    ns.ask({ nspid: ns.nspid() })
    const kill = ns.stopSelf()
    ns.ask('running after kill')
    return { kill }
  },
}
